"""funcnet.random: splittable, counter-based pseudo-random numbers (threefry2x32).

Keys are plain arrays
---------------------
A key is a ``uint32`` array of shape ``(2,)``: raw key data, the same bits as
``jax.random.PRNGKey(seed)`` (or ``jax.random.key_data(jax.random.key(seed))``).
Keys are therefore ordinary arrays: they go through pytrees, ``jit``, ``vmap``
(a batch of keys has shape ``(n, 2)``; map over it with ``funcnet.vmap``) and
``grad`` (integers carry no tangent). There is no hidden state: the same key
always gives the same numbers, and a key should be used once and then split::

    from funcnet import random
    key = random.key(0)
    key, sub = random.split(key)
    x = random.normal(sub, (3, 4))
    keys = random.split(key, 8)                       # shape (8, 2)
    xs = fn.vmap(lambda k: random.uniform(k, (4,)))(keys)

Compatibility with jax.random
-----------------------------
The generator is jax's default threefry2x32 in its partitionable mode
(``jax_threefry_partitionable=True``, jax's default), built only from funcnet
primitives. ``key``, ``split``, ``fold_in``, ``bits`` and ``uniform`` return
bit-identical values to jax.random for the same seed, shapes and dtypes;
``normal``, ``truncated_normal``, ``gumbel``, ``bernoulli``, ``categorical``,
``randint``, ``permutation`` and ``choice`` use jax's algorithms on those bits
(equal to jax up to the last ulp of erf_inv/log as XLA evaluates them).
Without ``funcnet.config.enable_x64`` a seed is a 32-bit integer: a Python int
seed is taken modulo 2**32 (``key(-1)`` is ``[0, 4294967295]``), as in jax.
"""

from funcnet.random._prng import PRNGKey, bits, fold_in, key, split
from funcnet.random._samplers import (
    bernoulli,
    categorical,
    choice,
    gumbel,
    normal,
    permutation,
    randint,
    truncated_normal,
    uniform,
)

__all__ = [
    "PRNGKey",
    "bernoulli",
    "bits",
    "categorical",
    "choice",
    "fold_in",
    "gumbel",
    "key",
    "normal",
    "permutation",
    "randint",
    "split",
    "truncated_normal",
    "uniform",
]
