"""The LAPACK custom-call targets of jaxlib's CPU runtime (``lapack_?potrf_ffi``, ...).

Importing jax registers them with XLA (jax._src.lax.linalg does it at import, and
funcnet.runtime imports jax); what is left to do is jaxlib's one-time initialization,
which binds the targets to SciPy's LAPACK. `target` does it before it names a target, so
a program that calls one is never compiled before the targets can run.
"""

import functools

import numpy as np
from jaxlib import lapack as _jaxlib_lapack

_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}
_PREFIX.update({np.dtype(np.complex64): "c", np.dtype(np.complex128): "z"})


@functools.cache
def _initialize():
    _jaxlib_lapack._lapack.initialize()
    return True


def target(name: str, dtype) -> str:
    """The custom-call target of LAPACK routine `name` ("potrf", "getrf", ...) for
    `dtype`, e.g. ``lapack_spotrf_ffi``.

    Args:
      name: the routine's name without its type letter.
      dtype: float32, float64, complex64 or complex128.

    Returns:
      The target's name, ready to be called from a compiled program.
    """
    _initialize()
    try:
        prefix = _PREFIX[np.dtype(dtype)]
    except KeyError:
        raise NotImplementedError(f"LAPACK {name}: unsupported dtype {np.dtype(dtype)}") from None
    return f"lapack_{prefix}{name}_ffi"
