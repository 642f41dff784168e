"""The host values jit's fast path takes: Python scalars and NumPy arrays among a call's
arguments (a learning rate, a step count, a host batch).

The fast path keys them by their avals, as the general path types them (a Python
scalar weakly, a NumPy dtype canonicalized), and puts them on the device itself on each
call, as jax's C++ path does; a Python scalar's buffer is reused when the same value
comes again. `multi_device` (passed by the caller): whether the process sees several
devices, when host values go to the first Array's device.
"""

import contextlib
import math

import numpy as np

from funcnet.core import dtypes
from funcnet.core.array import Array, to_buffer, wrap_buffer
from funcnet.core.aval import shaped_abstractify
from funcnet.runtime import xla
from funcnet.runtime.cache import register_program_cache

__all__ = [
    "as_arrays",
    "first_device",
    "host_avals",
    "host_bufs",
    "host_key_and_bufs",
    "is_host_leaf",
]


def first_device(leaves):
    """The device of the first funcnet Array among `leaves` (the default device when
    there is none): where host values are put in a process with several devices."""
    for x in leaves:
        if type(x) is Array:
            return xla.device_of(x._buf)
    return xla.default_device()


_HOST_SCALARS = frozenset({bool, int, float, complex})


def is_host_leaf(x):
    """Whether `x` is a Python scalar, a NumPy array or a NumPy scalar."""
    return type(x) in _HOST_SCALARS or isinstance(x, (np.ndarray, np.generic))


def host_avals(leaves):
    """The avals of leaves that are funcnet Arrays or host values; None otherwise (or
    when a value has no aval: an int too large, say: the general path says why)."""
    try:
        return tuple([x.aval if type(x) is Array else _host_aval(x) for x in leaves])
    except (TypeError, ValueError, OverflowError):
        return None


def _host_aval(x):
    t = type(x)
    if t in _HOST_SCALARS:  # the same aval object each time (shaped_abstractify's)
        dt = dtypes.scalar_dtype(x)
        aval = _scalar_avals.get((t, dt))
        if aval is None:
            aval = _scalar_avals[(t, dt)] = shaped_abstractify(x)
        return aval
    if not is_host_leaf(x):
        raise TypeError
    return shaped_abstractify(x)


_scalar_avals = {}


def host_bufs(leaves, reuse, multi_device):
    """Device buffers of leaves that are funcnet Arrays or host values, on the first
    Array's device (the general path's placement); None when a leaf is neither or does
    not convert. `reuse`: a Python scalar's buffer may come from `_scalar_bufs` (not
    when the function donates arguments: a donated buffer is gone after the call)."""
    device = None if not multi_device else first_device(leaves)
    try:
        return [x._buf if type(x) is Array else _host_buf(x, device, reuse) for x in leaves]
    except (TypeError, ValueError, OverflowError):
        return None


# The last Python scalars put on the device, by (type, value, sign, dtype, device): a
# learning rate or a flag passed on every call is transferred once (~3 us a call). The
# sign tells 0.0 from -0.0 (equal as keys); NaN never matches itself (not reused);
# complex numbers are not kept (their signed zeros would need two signs).
_scalar_bufs = register_program_cache({})
_MAX_SCALAR_BUFS = 256


def _host_buf(x, device, reuse):
    t = type(x)
    if t in _HOST_SCALARS and t is not complex:
        dt = dtypes.scalar_dtype(x)
        key = (t, x, math.copysign(1.0, x) if t is float else 0, dt, device)
        buf = _scalar_bufs.get(key) if reuse else None
        if buf is None:
            buf = xla.device_put(np.asarray(x, dt), device)
            if reuse:
                if len(_scalar_bufs) >= _MAX_SCALAR_BUFS:
                    _scalar_bufs.clear()
                _scalar_bufs[key] = buf
        return buf
    if not is_host_leaf(x):
        raise TypeError
    return to_buffer(x, device)[0]


def host_key_and_bufs(args, reuse, multi_device):
    """`__call__`'s positional key and buffers when every argument is a funcnet Array or
    a host value; (None, None) otherwise."""
    for a in args:  # a container (f(x, params)) leaves at once, without an exception
        if type(a) is not Array and not is_host_leaf(a):
            return None, None
    avals = host_avals(args)
    if avals is None:
        return None, None
    bufs = host_bufs(args, reuse, multi_device)
    if bufs is None:
        return None, None
    return (avals, first_device(args)) if multi_device else avals, bufs


def as_arrays(leaves, multi_device):
    """`leaves` with host values (`is_host_leaf`) as funcnet Arrays, for
    DispatchCache.call; other leaves as they are."""
    if all(type(x) is Array for x in leaves):
        return leaves
    device = None if not multi_device else first_device(leaves)
    out = []
    for x in leaves:
        if is_host_leaf(x):
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                x = wrap_buffer(*to_buffer(x, device))  # else the general path reports it
        out.append(x)
    return out
