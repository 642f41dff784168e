"""Reductions with `axis`/`keepdims`: sum, mean, max, var, argmax, cumsum, ..."""

import builtins
import math

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import _to_bool, asarray, astype, true_divide
from funcnet.numpy._shape import expand_dims, normalize_axes, normalize_axis, ravel, reshape


def _keep(x, out, axes, keepdims):
    if not keepdims:
        return out
    shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
    return reshape(out, shape)


def _sum_dtype(x):
    """NumPy sums bool and small ints in the default int type."""
    if dtypes.is_bool(x.dtype) or (dtypes.is_int(x.dtype) and x.dtype.itemsize < 4):
        return dtypes.default_int() if not dtypes.is_unsigned(x.dtype) else dtypes.canonicalize(
            np.uint64)
    return None


def _reduction(prim_fn, name, upcast=False, empty_ok=True):
    def fn(x, axis=None, dtype=None, keepdims=False, initial=None, where=None):
        x = asarray(x)
        if where is not None:
            raise NotImplementedError(f"{name}(where=...) is not supported yet")
        axes = normalize_axes(axis, x.ndim)
        target = dtype or (_sum_dtype(x) if upcast else None)
        if target is not None:
            x = astype(x, target)
        if not empty_ok and builtins.any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"zero-size array to reduction operation {name} which has no "
                             f"identity (shape {x.shape}){_at()}")
        out = prim_fn(x, axes) if axes else x
        if initial is not None:
            from funcnet.numpy import _core
            combine = {"sum": _core.add, "prod": _core.multiply, "max": _core.maximum,
                       "min": _core.minimum}[name]
            out = combine(out, initial)
        return _keep(x, out, axes, keepdims)
    fn.__name__ = name
    fn.__doc__ = f"{name} over `axis` (all axes when None), as numpy.{name}."
    return fn


sum = _reduction(lax.reduce_sum, "sum", upcast=True)
prod = _reduction(lax.reduce_prod, "prod", upcast=True)
max = _reduction(lax.reduce_max, "max", empty_ok=False)
min = _reduction(lax.reduce_min, "min", empty_ok=False)
amax, amin = max, min


def all(x, axis=None, keepdims=False):
    x = _to_bool(x)
    axes = normalize_axes(axis, x.ndim)
    return _keep(x, lax.reduce_and(x, axes) if axes else x, axes, keepdims)


def any(x, axis=None, keepdims=False):
    x = _to_bool(x)
    axes = normalize_axes(axis, x.ndim)
    return _keep(x, lax.reduce_or(x, axes) if axes else x, axes, keepdims)


def mean(x, axis=None, dtype=None, keepdims=False):
    x = asarray(x)
    axes = normalize_axes(axis, x.ndim)
    n = math.prod(x.shape[a] for a in axes)
    if dtype is None and not dtypes.is_float(x.dtype):
        dtype = dtypes.default_float()
    total = sum(x, axis=axes, dtype=dtype, keepdims=keepdims)
    return true_divide(total, n)


def var(x, axis=None, dtype=None, ddof=0, keepdims=False):
    x = asarray(x)
    if not dtypes.is_float(x.dtype):
        x = astype(x, dtype or dtypes.default_float())
    axes = normalize_axes(axis, x.ndim)
    n = math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, axis=axes, keepdims=True)
    sq = sum(centered * centered, axis=axes, keepdims=keepdims)
    return true_divide(sq, n - ddof)


def std(x, axis=None, dtype=None, ddof=0, keepdims=False):
    from funcnet.numpy._core import sqrt
    return sqrt(var(x, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _arg(prim_fn, name):
    def fn(x, axis=None, keepdims=False):
        x = asarray(x)
        if axis is None:
            out = prim_fn(ravel(x), 0)
            return reshape(out, (1,) * x.ndim) if keepdims else out
        axis = normalize_axis(axis, x.ndim)
        out = prim_fn(x, axis)
        return expand_dims(out, axis) if keepdims else out
    fn.__name__ = name
    return fn


argmax = _arg(lax.argmax, "argmax")
argmin = _arg(lax.argmin, "argmin")


def _cumulative(prim_fn, name):
    def fn(x, axis=None, dtype=None):
        x = asarray(x)
        if axis is None:
            x, axis = ravel(x), 0
        axis = normalize_axis(axis, x.ndim)
        # Unlike sum, jax keeps small integer types here; only bools become integers.
        if dtype is None and dtypes.is_bool(x.dtype):
            dtype = dtypes.default_int()
        if dtype is not None:
            x = astype(x, dtype)
        return prim_fn(x, axis)
    fn.__name__ = name
    fn.__doc__ = f"{name} along `axis` (the flattened array when None), as jax.numpy.{name}."
    return fn


cumsum = _cumulative(lax.cumsum, "cumsum")
cumprod = _cumulative(lax.cumprod, "cumprod")


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed stably."""
    from funcnet.numpy._core import exp, isfinite, log, where
    x = asarray(x)
    axes = normalize_axes(axis, x.ndim)
    m = max(x, axis=axes, keepdims=True)
    m = where(isfinite(m), m, 0.0)  # the max cancels out of the value and the gradient
    out = log(sum(exp(x - m), axis=axes, keepdims=True)) + m
    return out if keepdims else reshape(out, [d for i, d in enumerate(x.shape) if i not in axes])
