"""Index helpers with jax.numpy's names: the index-trick objects (r_, c_, mgrid, ogrid,
s_, index_exp), grids (meshgrid, indices, ix_, fromfunction) and index conversions
(triangle and diagonal indices, unravel_index, ravel_multi_index). Index sets are
computed on the host with NumPy when their sizes are static, as jax does."""

import builtins
import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import _like, asarray, astype, broadcast_to, check_arraylike, clip
from funcnet.numpy._creation import arange, linspace, ones
from funcnet.numpy._indexing import nonzero, where
from funcnet.numpy._shape import concatenate, reshape, stack


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-d coordinate vectors, as jnp.meshgrid.

    Args:
      *xi: 1-d arrays (0-d ones count as length 1).
      copy: accepted for NumPy compatibility.
      sparse: return arrays of size 1 along all but their own axis.
      indexing: 'xy' (Cartesian: the first two outputs' axes swapped) or 'ij' (matrix).

    Returns:
      A list of arrays, one per input.

    Raises:
      ValueError: for inputs that are not 1-d or an unknown indexing.

    Example:
      >>> X, Y = fnp.meshgrid(fnp.arange(3), fnp.arange(2))
      >>> X.shape, Y.tolist()
      ((2, 3), [[0, 0, 0], [1, 1, 1]])
    """
    del copy
    check_arraylike("meshgrid", *xi)
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for indexing are 'xy' and 'ij', got {indexing}")
    args = [asarray(x) for x in xi]
    if builtins.any(a.ndim > 1 for a in args):
        raise ValueError(
            f"Arguments to jax.numpy.meshgrid must be 1D, got shapes {[a.shape for a in args]}"
        )
    args = [reshape(a, (-1,)) for a in args]
    shape = [a.shape[0] for a in args]
    out = []
    for i, a in enumerate(args):
        s = [1] * len(args)
        s[i] = shape[i]
        a = reshape(a, s)
        out.append(a if sparse else broadcast_to(a, shape))
    if indexing == "xy" and len(out) >= 2:
        # Cartesian indexing: the first two axes of the matrix-indexed grids swapped.
        out = [lax.transpose(o, (1, 0, *range(2, len(out)))) for o in out]
    return out


def indices(dimensions, dtype=None, sparse=False):
    """The index grid of an array of shape `dimensions`, as jnp.indices.

    Args:
      dimensions: a sequence of ints.
      dtype: the integer dtype (default: the default int).
      sparse: return a tuple of arrays of size 1 off their own axis.

    Returns:
      An array of shape (len(dimensions), *dimensions), or a tuple when sparse.
    """
    dimensions = tuple(operator.index(d) for d in dimensions)
    dtype = dtypes.default_int() if dtype is None else dtype
    out = []
    for i, d in enumerate(dimensions):
        s = [1] * len(dimensions)
        s[i] = d
        a = reshape(arange(d, dtype=dtype), s)
        out.append(a if sparse else broadcast_to(a, dimensions))
    if sparse:
        return tuple(out)
    return stack(out) if out else asarray(np.empty((0,), dtype))


def ix_(*args):
    """An open mesh from 1-d integer or bool sequences, for cross-product indexing,
    as jnp.ix_.

    Args:
      *args: 1-d arrays (bool ones are turned into their nonzero positions; they need
        concrete values).

    Returns:
      A tuple of arrays, the i-th of shape 1 everywhere but axis i.

    Raises:
      ValueError: for arguments that are not 1-d.
    """
    check_arraylike("ix_", *args)
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = asarray(a)
        if a.ndim != 1:
            raise ValueError(
                f"Arguments to jax.numpy.ix_ must be 1-dimensional, got shape {a.shape}"
            )
        if a.dtype == dtypes.bool_:
            raise NotImplementedError("Boolean arguments to jax.numpy.ix_ are not supported.")
        shape = [1] * n
        shape[i] = a.shape[0]
        out.append(reshape(a, shape))
    return tuple(out)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """function called on the index grid of `shape`, as jnp.fromfunction.

    Args:
      function: called with one index array per dimension (of `dtype`).
      shape: a tuple of ints.
      dtype: the dtype of the index arrays.
      **kwargs: passed on to function.

    Returns:
      What function returns.

    Example:
      >>> fnp.fromfunction(lambda i, j: i + j, (2, 2), dtype=int).tolist()
      [[0, 1], [1, 2]]
    """
    shape = tuple(operator.index(d) for d in shape)
    grids = indices(shape, dtype=dtypes.canonicalize(np.dtype(dtype)))
    return function(*(grids[i] for i in range(len(shape))), **kwargs)


def _host_indices(arrays, dtype=None):
    dtype = dtypes.default_int() if dtype is None else dtype
    return tuple(asarray(a.astype(dtype)) for a in arrays)


def diag_indices(n, ndim=2):
    """The indices of the main diagonal of an n x ... x n array, as jnp.diag_indices.

    Args:
      n: the size of each dimension.
      ndim: the number of dimensions.

    Returns:
      A tuple of ndim equal 1-d int arrays arange(n).

    Raises:
      ValueError: for negative n or ndim.
    """
    n, ndim = operator.index(n), operator.index(ndim)
    if n < 0 or ndim < 0:
        raise ValueError(f"n and ndim must be non-negative, got n={n}, ndim={ndim}")
    return (arange(n),) * ndim


def diag_indices_from(arr):
    """The main-diagonal indices of arr (all of whose dimensions must be equal), as
    jnp.diag_indices_from.

    Args:
      arr: an array of at least 2 equal dimensions.

    Returns:
      A tuple of arr.ndim 1-d int arrays.

    Raises:
      ValueError: for fewer than 2 dimensions or unequal ones.
    """
    check_arraylike("diag_indices_from", arr)
    shape = np.shape(arr)
    if len(shape) < 2:
        raise ValueError("input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return diag_indices(shape[0], len(shape))


def _triangle(fn, name, n, k, m):
    try:
        n, k = operator.index(n), operator.index(k)
        m = n if m is None else operator.index(m)
    except TypeError as e:
        raise TypeError(f"{name}: n, k and m must be concrete ints ({e}){_at()}") from None
    return _host_indices(fn(n, k, m))


def tril_indices(n, k=0, m=None):
    """The indices of the lower triangle (on and below diagonal k) of an n x m array,
    as jnp.tril_indices.

    Args:
      n: the number of rows.
      k: the diagonal offset.
      m: the number of columns (default n).

    Returns:
      A pair of 1-d int arrays (rows, columns), in row-major order.

    Example:
      >>> [a.tolist() for a in fnp.tril_indices(2)]
      [[0, 1, 1], [0, 0, 1]]
    """
    return _triangle(np.tril_indices, "tril_indices", n, k, m)


def triu_indices(n, k=0, m=None):
    """The indices of the upper triangle (on and above diagonal k) of an n x m array,
    as jnp.triu_indices.

    Args:
      n: the number of rows.
      k: the diagonal offset.
      m: the number of columns (default n).

    Returns:
      A pair of 1-d int arrays (rows, columns), in row-major order.
    """
    return _triangle(np.triu_indices, "triu_indices", n, k, m)


def _from(name, arr, k, fn):
    if not hasattr(arr, "shape"):
        check_arraylike(name, arr)
    shape = np.shape(arr) if not hasattr(arr, "shape") else tuple(arr.shape)
    if len(shape) != 2:
        raise ValueError(f"{name} requires a 2-d array, got shape {shape}")
    return fn(shape[0], k, shape[1])


def tril_indices_from(arr, k=0):
    """tril_indices for arr's shape, as jnp.tril_indices_from.

    Args:
      arr: a 2-d array (or anything with a 2-d shape).
      k: the diagonal offset.

    Returns:
      A pair of 1-d int arrays (rows, columns).

    Raises:
      ValueError: for arr not 2-d.
    """
    return _from("tril_indices_from", arr, k, tril_indices)


def triu_indices_from(arr, k=0):
    """triu_indices for arr's shape, as jnp.triu_indices_from.

    Args:
      arr: a 2-d array (or anything with a 2-d shape).
      k: the diagonal offset.

    Returns:
      A pair of 1-d int arrays (rows, columns).

    Raises:
      ValueError: for arr not 2-d.
    """
    return _from("triu_indices_from", arr, k, triu_indices)


def mask_indices(n, mask_func, k=0, *, size=None):
    """The indices where mask_func(ones((n, n)), k) is nonzero, as jnp.mask_indices.

    Args:
      n: the size of the square array.
      mask_func: a function like fnp.triu or fnp.tril.
      k: passed on to mask_func.
      size: a static number of indices (needed under jit), as for nonzero.

    Returns:
      A pair of 1-d int arrays (rows, columns).
    """
    return nonzero(mask_func(ones((n, n)), k), size=size)


def unravel_index(indices, shape):
    """The multi-index of each flat index into an array of `shape`, as
    jnp.unravel_index (out-of-range indices are clipped, as in jax).

    Args:
      indices: an integer array of flat indices (negative ones count from the end).
      shape: a tuple of ints.

    Returns:
      A tuple of int arrays of indices' shape, one per dimension.

    Example:
      >>> [int(i) for i in fnp.unravel_index(5, (2, 3))]
      [1, 2]
    """
    check_arraylike("unravel_index", indices)
    indices = asarray(indices)
    if not (dtypes.is_int(indices.dtype) or dtypes.is_bool(indices.dtype)):
        raise TypeError(f"unravel_index: indices must be integers, got dtype {indices.dtype}")
    shape = tuple(operator.index(d) for d in shape)
    total = int(np.prod(shape, dtype=np.int64))
    if total == 0 and indices.size:
        raise ValueError("cannot unravel index into an empty shape")
    if dtypes.is_bool(indices.dtype):
        indices = astype(indices, dtypes.default_int())
    idx = clip(where(indices < 0, indices + total, indices), 0, max(total - 1, 0))
    out = []
    for d in reversed(shape):
        out.append(idx % d if d else idx)
        idx = idx // d if d else idx
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode="raise", order="C", *, dtype=None):
    """The flat index of each multi-index into an array of shape dims, as
    jnp.ravel_multi_index.

    Args:
      multi_index: a sequence of integer arrays, one per dimension.
      dims: the shape.
      mode: 'raise' (needs concrete indices to check), 'wrap' or 'clip'.
      order: 'C' (row-major) or 'F' (column-major).
      dtype: accepted as in jax (the result is the indices' promoted integer dtype).

    Returns:
      An integer array of the broadcast shape of the indices.

    Raises:
      ValueError: for a wrong number of indices, an out-of-range index in 'raise' mode
        or an unknown mode/order.
    """
    del dtype
    dims = tuple(operator.index(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(
            f"parameter multi_index must be a sequence of length {len(dims)}, got "
            f"{len(multi_index)}"
        )
    if order not in ("C", "F"):
        raise ValueError("only 'C' or 'F' order is permitted")
    check_arraylike("ravel_multi_index", *multi_index)
    idx = [asarray(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_int(i.dtype):
            raise TypeError(f"only int indices permitted, got dtype {i.dtype}")
    if mode == "raise":
        for i, d in zip(idx, dims):
            try:
                bad = np.any((np.asarray(i) < 0) | (np.asarray(i) >= d))
            except Exception:
                raise ValueError(
                    "The error occurred because ravel_multi_index was jit-compiled with "
                    "mode='raise'. Use mode='wrap' or mode='clip' instead."
                ) from None
            if bad:
                raise ValueError("invalid entry in coordinates array")
    elif mode == "wrap":
        idx = [i % d for i, d in zip(idx, dims)]
    elif mode == "clip":
        idx = [clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"invalid mode={mode!r}. Expected 'raise', 'wrap', or 'clip'")
    strides = np.cumprod((1,) + (dims[::-1] if order == "C" else dims)[:-1])
    if order == "C":
        strides = strides[::-1]
    out = _like(idx[0], 0) if idx else asarray(0)
    for i, s in zip(idx, strides.tolist()):
        out = out + i * s
    return out


class _IndexExpression:
    """Build index tuples with [] syntax (s_ returns a bare item, index_exp a tuple)."""

    def __init__(self, maketuple):
        self.maketuple = maketuple

    def __getitem__(self, item):
        if self.maketuple and not isinstance(item, tuple):
            return (item,)
        return item


index_exp = _IndexExpression(maketuple=True)
s_ = _IndexExpression(maketuple=False)


def _grid_axis(k, name):
    start = 0 if k.start is None else k.start
    step = 1 if k.step is None else k.step
    if isinstance(step, complex):
        return linspace(start, k.stop, int(abs(step)), endpoint=True)
    return arange(start, k.stop, step)


class _Grid:
    def __init__(self, sparse, name):
        self.sparse = sparse
        self.name = name

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _grid_axis(key, self.name)
        axes = [_grid_axis(k, self.name) for k in key]
        dtype = np.result_type(*(a.dtype for a in axes))
        axes = [astype(a, dtype) for a in axes]
        grids = meshgrid(*axes, indexing="ij", sparse=self.sparse)
        return tuple(grids) if self.sparse else stack(grids, 0)


mgrid = _Grid(sparse=False, name="mgrid")
ogrid = _Grid(sparse=True, name="ogrid")


class _AxisConcat:
    """Concatenate slices, scalars and arrays along an axis: r_ and c_."""

    def __init__(self, axis, ndmin, trans1d, name):
        self.axis, self.ndmin, self.trans1d, self.name = axis, ndmin, trans1d, name

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if key and isinstance(key[0], str):
            directive, key = key[0], key[1:]
            if directive in ("r", "c"):
                raise NotImplementedError(f"{self.name}: the matrix directives are not supported")
            parts = [int(p) for p in directive.split(",")]
            axis = parts[0]
            if len(parts) > 1:
                ndmin = parts[1]
            if len(parts) > 2:
                trans1d = parts[2]
        items = []
        for item in key:
            if isinstance(item, slice):
                arr = _grid_axis(item, self.name)
            elif isinstance(item, str):
                raise ValueError(f"{self.name}: string directive must be the first item")
            else:
                arr = asarray(item)
            arr = self._promote_ndim(arr, ndmin, trans1d)
            items.append(arr)
        if not items:
            return asarray(np.empty((0,), np.float32))
        return concatenate(items, axis=axis)

    @staticmethod
    def _promote_ndim(arr, ndmin, trans1d):
        # NumPy's AxisConcatenator: leading size-1 axes, then the original axes moved
        # to start at trans1d.
        old = arr.ndim
        if old >= ndmin:
            return arr
        arr = reshape(arr, (1,) * (ndmin - old) + arr.shape)
        if trans1d != -1:
            k2, k1 = ndmin - old, trans1d
            if k1 < 0:
                k1 += k2 + 1
            order = list(range(ndmin))
            arr = lax.transpose(arr, order[:k1] + order[k2:] + order[k1:k2])
        return arr


r_ = _AxisConcat(axis=0, ndmin=1, trans1d=-1, name="r_")
c_ = _AxisConcat(axis=-1, ndmin=2, trans1d=0, name="c_")
