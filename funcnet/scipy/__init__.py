"""funcnet.scipy: SciPy-style functions, as jax.scipy: ``special`` (special functions),
``stats`` (distributions, one module per family) and ``linalg`` (decompositions and
solves)."""

from funcnet.scipy import linalg, special, stats

__all__ = ["linalg", "special", "stats"]
