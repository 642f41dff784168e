"""Sorting: sort and argsort (stable, NaNs last), on lax.sort."""

import builtins

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import asarray, astype, check_arraylike
from funcnet.numpy._shape import flip, ravel


def _check_sort_args(name, kind, order):
    if order is not None:
        raise ValueError(f"'order' argument to {name} is not supported.")
    del kind  # every sort here is stable; the algorithm is XLA's


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """a sorted along `axis` (the flattened array when None), as jnp.sort (stable; NaNs
    last; descending=True reverses the order, keeping equal elements stable)."""
    check_arraylike("sort", a)
    _check_sort_args("sort", kind, order)
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = axis % builtins.max(x.ndim, 1)
    if descending:
        return flip(lax.sort(flip(x, axis), dimension=axis), axis)
    return lax.sort(x, dimension=axis)


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False, dtype=None):
    """The indices that sort a along `axis`, as jnp.argsort (stable: equal elements keep
    their order, also with descending=True); `dtype` is the indices' (default int32)."""
    check_arraylike("argsort", a)
    _check_sort_args("argsort", kind, order)
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = axis % builtins.max(x.ndim, 1)
    if descending:
        n = x.shape[axis] if x.ndim else 1
        flipped = argsort(flip(x, axis), axis)
        out = flip(lax.sub(lax.broadcast_in_dim(np.int32(n - 1), flipped.shape, ()), flipped), axis)
    else:
        idx = lax.broadcasted_iota(dtypes.int32, x.shape, axis)
        out = lax.sort((x, idx), dimension=axis, num_keys=1)[1]
    return out if dtype is None else astype(out, dtype)
