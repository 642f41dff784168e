"""Array creation: zeros, ones, full, arange, linspace, eye, *_like.

Constant-shaped arrays are built from primitives (a broadcast scalar, iota), so
under jit they are part of the program rather than large captured constants.
"""

import math
import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import asarray, astype, broadcast_to, promote


def _shape(shape):
    if isinstance(shape, int) or hasattr(shape, "__index__") and not isinstance(shape, tuple):
        return (operator.index(shape),)
    shape = tuple(operator.index(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimensions are not allowed: {shape}")
    return shape


def full(shape, fill_value, dtype=None):
    shape = _shape(shape)
    if dtype is None:
        if hasattr(fill_value, "dtype"):
            dtype = fill_value.dtype
        else:
            dtype = dtypes.scalar_dtype(fill_value) if dtypes.is_python_scalar(
                fill_value) else np.asarray(fill_value).dtype
    dtype = dtypes.canonicalize(dtype)
    if hasattr(fill_value, "shape") and fill_value.shape != () and not isinstance(
            fill_value, np.generic):
        return broadcast_to(astype(fill_value, dtype), shape)
    if isinstance(fill_value, (int, float, bool, np.generic)):
        value = np.asarray(fill_value, dtype)[()]
    else:
        value = astype(fill_value, dtype)
    return lax.broadcast_in_dim(value, shape, ())


def zeros(shape, dtype=None):
    return full(shape, 0, dtype or dtypes.default_float())


def ones(shape, dtype=None):
    return full(shape, 1, dtype or dtypes.default_float())


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def full_like(x, fill_value, dtype=None, shape=None):
    x = asarray(x)
    return full(x.shape if shape is None else shape, fill_value, dtype or x.dtype)


def zeros_like(x, dtype=None, shape=None):
    return full_like(x, 0, dtype, shape)


def ones_like(x, dtype=None, shape=None):
    return full_like(x, 1, dtype, shape)


def empty_like(x, dtype=None, shape=None):
    return zeros_like(x, dtype, shape)


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop). Bounds must be concrete."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    for v in (start, stop, step):
        if not isinstance(v, (int, float, np.generic, np.ndarray)) and not hasattr(v, "__float__"):
            raise TypeError("arange bounds must be concrete numbers")
    if dtype is None:
        kinds = [start, stop, step]
        dtype = dtypes.default_float() if any(
            isinstance(v, float) or (hasattr(v, "dtype") and dtypes.is_float(v.dtype))
            for v in kinds) else dtypes.default_int()
    dtype = dtypes.canonicalize(dtype)
    start, stop, step = (v.item() if hasattr(v, "item") else v for v in (start, stop, step))
    if step == 0:
        raise ValueError("arange step must not be zero")
    n = max(0, math.ceil((stop - start) / step))
    if dtypes.is_int(dtype) and all(isinstance(v, int) for v in (start, step)):
        out = lax.iota(dtype, n)
        if step != 1:
            out = lax.mul(out, lax.broadcast_in_dim(np.asarray(step, dtype)[()], (n,), ()))
        if start != 0:
            out = lax.add(out, lax.broadcast_in_dim(np.asarray(start, dtype)[()], (n,), ()))
        return out
    # Floats: computed in float64 on the host like NumPy, so the values match exactly.
    return asarray(np.arange(start, stop, step).astype(dtype))


def linspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    if axis != 0:
        raise NotImplementedError("linspace(axis != 0) is not supported yet")
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    if not all(isinstance(v, (int, float, np.generic)) for v in (start, stop)):
        # Traced bounds: start + (stop - start) * i / div.
        start, stop = promote(start, stop)
        div = (num - 1) if endpoint else num
        i = astype(lax.iota(dtypes.default_float(), num), start.dtype if hasattr(
            start, "dtype") else dtype)
        step = (stop - start) / max(div, 1)
        return astype(start + i * step, dtype)
    return asarray(np.linspace(start, stop, num, endpoint=endpoint).astype(dtype))


def eye(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    if k:
        rows = lax.add(rows, lax.broadcast_in_dim(np.int32(k), (N, M), ()))
    return lax.convert_element_type(lax.eq(rows, cols), dtype)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    rows = lax.add(rows, lax.broadcast_in_dim(np.int32(k), (N, M), ()))
    return lax.convert_element_type(lax.ge(rows, cols), dtype)


def tril(x, k=0):
    from funcnet.numpy._core import where
    x = asarray(x)
    mask = tri(x.shape[-2], x.shape[-1], k, dtype=dtypes.bool_)
    return where(mask, x, zeros_like(x))


def triu(x, k=0):
    from funcnet.numpy._core import where
    x = asarray(x)
    mask = tri(x.shape[-2], x.shape[-1], k - 1, dtype=dtypes.bool_)
    return where(mask, zeros_like(x), x)
