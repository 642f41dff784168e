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
    """a sorted along `axis`, as jnp.sort (NaNs last, first when descending).

    Args:
      a: an array or a scalar.
      axis: the axis to sort along; None sorts the flattened array.
      kind: accepted for NumPy compatibility (every sort is stable; XLA's algorithm).
      order: only None (structured dtypes do not exist); others raise ValueError.
      stable: accepted for compatibility (every sort is stable).
      descending: sort from largest to smallest.

    Returns:
      An array of a's shape (1-d when axis is None) and dtype.

    Example:
      >>> fnp.sort(fnp.array([3.0, float("nan"), 1.0, 2.0])).tolist()
      [1.0, 2.0, 3.0, nan]
      >>> fnp.sort(fnp.array([3, 1, 2]), descending=True).tolist()
      [3, 2, 1]
    """
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
    """The indices that sort a along `axis`, as jnp.argsort.

    The sort is stable: equal elements keep their order, also with descending=True.

    Args:
      a: an array or a scalar.
      axis: the axis to sort along; None sorts the flattened array.
      kind: accepted for NumPy compatibility (every sort is stable).
      order: only None; others raise ValueError.
      stable: accepted for compatibility (every sort is stable).
      descending: sort from largest to smallest.
      dtype: the indices' dtype (default: the default int, int64 with x64, as jax).

    Returns:
      An integer array of a's shape (1-d when axis is None): fnp.take_along_axis(a,
      result, axis) is fnp.sort(a, axis).

    Example:
      >>> fnp.argsort(fnp.array([3, 1, 2])).tolist()
      [1, 2, 0]
      >>> fnp.argsort(fnp.array([1, 3, 1]), descending=True).tolist()
      [1, 0, 2]
    """
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
    # jax returns its default int (int64 with x64) unless told otherwise.
    dtype = dtypes.default_int() if dtype is None else dtype
    return out if out.dtype == dtype else astype(out, dtype)
