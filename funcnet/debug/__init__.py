"""funcnet.debug: see values inside transformed code, as jax.debug.

`print` (str.format syntax), `callback` (any Python function) and `breakpoint`
(pdb on the values) run on concrete values wherever they are called from: eagerly,
under `jit`, `vmap` (once per example), `grad` (the forward pass) and inside loops and
branches. In compiled programs they are host callbacks through the XLA runtime; a
compiled call returns once its callbacks ran, and `effects_barrier` waits for those
of other threads (jax.effects_barrier).
"""

from funcnet.debug._api import breakpoint, callback, effects_barrier, print

__all__ = ["breakpoint", "callback", "effects_barrier", "print"]
