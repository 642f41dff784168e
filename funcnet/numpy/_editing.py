"""Building and editing arrays with jax.numpy's names: append, insert, delete, resize,
block, select, choose, piecewise, compress, extract, place, put, put_along_axis, the
named splits (hsplit, vsplit, dsplit, unstack), trim_zeros, rollaxis, copy, concat,
permute_dims, array_equal and array_equiv. Index sets are computed on the host when
they are static, then applied with one gather or scatter (so every rule applies)."""

import builtins
import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import (
    ArrayLike,
    _like,
    asarray,
    astype,
    broadcast_shapes,
    broadcast_to,
    check_arraylike,
    isnan,
    promote,
)
from funcnet.numpy._core import array as _array
from funcnet.numpy._creation import zeros
from funcnet.numpy._indexing import nonzero, take, take_along_axis, where
from funcnet.numpy._reductions import all as _all
from funcnet.numpy._shape import (
    concatenate,
    moveaxis,
    normalize_axis,
    ravel,
    reshape,
    split,
    transpose,
)


def _static_ints(obj, name):
    try:
        return np.asarray(obj)
    except Exception:
        raise TypeError(
            f"{name}: the index argument must have concrete values (not traced) here{_at()}"
        ) from None


def append(arr, values, axis=None):
    """values appended to arr (both flattened when axis is None), as jnp.append.

    Args:
      arr: an array.
      values: the values to append; with an axis, of arr's shape off that axis.
      axis: the axis to append along, or None to flatten both.

    Returns:
      An array one block longer along axis (1-d when axis is None).

    Example:
      >>> fnp.append(fnp.array([1, 2]), fnp.array([3])).tolist()
      [1, 2, 3]
    """
    check_arraylike("append", arr, values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([asarray(arr), asarray(values)], axis=axis)


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """arr without the entries obj along axis, as jnp.delete.

    Args:
      arr: an array (flattened when axis is None).
      obj: an int, a slice, a sequence or array of ints, or a bool mask along axis;
        its values must be concrete (they decide the result's shape).
      axis: the axis to delete along.
      assume_unique_indices: accepted for compatibility.

    Returns:
      A shorter array.

    Example:
      >>> fnp.delete(fnp.arange(5), fnp.array([0, 2])).tolist()
      [1, 3, 4]
    """
    del assume_unique_indices
    check_arraylike("delete", arr)
    a = asarray(arr)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim)
    n = a.shape[axis]
    if isinstance(obj, slice):
        drop = np.arange(n)[obj]
    else:
        o = _static_ints(obj, "delete")
        if o.dtype == bool:
            if o.shape != (n,):
                raise ValueError(f"delete: boolean mask of shape {o.shape} for axis of length {n}")
            drop = np.flatnonzero(o)
        else:
            if not np.issubdtype(o.dtype, np.integer) and o.size:
                raise ValueError(f"delete: index arrays must be integers, got {o.dtype}")
            o = o.astype(np.int64).ravel()
            if np.any((o < -n) | (o >= n)):
                raise IndexError(f"delete: index out of bounds for axis {axis} with size {n}")
            drop = np.where(o < 0, o + n, o)
    keep = np.setdiff1d(np.arange(n), drop)
    return take(a, asarray(keep.astype(np.int32)), axis=axis)


def insert(arr, obj, values, axis=None):
    """values inserted into arr before the indices obj along axis, as jnp.insert.

    Args:
      arr: an array (flattened when axis is None).
      obj: an int, a slice or a sequence/array of ints (concrete values).
      values: the values to insert, broadcast to the inserted block.
      axis: the axis to insert along.

    Returns:
      A longer array of arr's dtype.

    Example:
      >>> fnp.insert(fnp.array([1, 2, 3]), 1, 9).tolist()
      [1, 9, 2, 3]
    """
    check_arraylike("insert", arr, values)
    a = asarray(arr)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim)
    n = a.shape[axis]
    if isinstance(obj, slice):
        indices = np.arange(*obj.indices(n))
    else:
        indices = _static_ints(obj, "insert")
        if indices.ndim > 1:
            raise ValueError(
                "jnp.insert(): obj must be a slice, a one-dimensional array, or a scalar"
            )
        if not np.issubdtype(indices.dtype, np.integer):
            if indices.size == 0 and not isinstance(obj, (np.ndarray, *ArrayLike)):
                indices = indices.astype(np.int64)
            else:
                raise ValueError("jnp.insert(): index array must be integer typed")
    vals = _array(values, ndmin=a.ndim, dtype=a.dtype)
    if indices.size == 1:
        index = int(indices.ravel()[0])
        if indices.ndim == 0:
            vals = moveaxis(vals, 0, axis)
        indices = np.full(vals.shape[axis], index)
    n_insert = broadcast_shapes(indices.shape, (vals.shape[axis],))[0]
    indices = np.broadcast_to(indices, (n_insert,))
    out_shape = list(a.shape)
    out_shape[axis] = n_insert
    vals = broadcast_to(vals, tuple(out_shape))
    indices = np.where(indices < 0, indices + n, indices)
    indices = np.clip(indices, 0, n)
    values_ind = indices.copy()
    values_ind[np.argsort(indices, kind="stable")] += np.arange(n_insert)
    arr_mask = np.ones(n + n_insert, bool)
    arr_mask[values_ind] = False
    perm = np.empty(n + n_insert, np.int64)
    perm[values_ind] = n + np.arange(n_insert)
    perm[np.flatnonzero(arr_mask)] = np.arange(n)
    joined = concatenate([a, vals], axis=axis)
    return take(joined, asarray(perm.astype(np.int32)), axis=axis)


def resize(a, new_shape):
    """a flattened and repeated (or cut) to fill new_shape, as jnp.resize.

    Args:
      a: an array.
      new_shape: an int or a tuple of non-negative ints.

    Returns:
      An array of new_shape and a's dtype.

    Raises:
      ValueError: for a negative dimension.
    """
    check_arraylike("resize", a)
    a = asarray(a)
    if isinstance(new_shape, int):
        new_shape = (new_shape,)
    new_shape = tuple(operator.index(d) for d in new_shape)
    if builtins.any(d < 0 for d in new_shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    size = int(np.prod(new_shape, dtype=np.int64))
    flat = ravel(a)
    if size == 0 or flat.shape[0] == 0:
        return zeros(new_shape, a.dtype)
    reps = -(-size // flat.shape[0])
    return reshape(reshape(broadcast_to(flat, (reps, flat.shape[0])), (-1,))[:size], new_shape)


def _block_depth(x, depth=0):
    if isinstance(x, tuple):
        raise TypeError("jnp.block does not allow tuples: use lists")
    if isinstance(x, list):
        if not x:
            raise ValueError("jnp.block does not allow empty list arguments")
        depths = {_block_depth(v, depth + 1) for v in x}
        if len(depths) > 1:
            raise ValueError("List depths are mismatched")
        return depths.pop()
    return depth


def block(arrays):
    """An array assembled from nested lists of blocks, as jnp.block.

    Args:
      arrays: a nested list of arrays (the innermost lists joined along the last axis,
        the next along the one before, ...).

    Returns:
      The assembled array.

    Raises:
      ValueError: for mismatched list depths or empty lists.

    Example:
      >>> fnp.block([[fnp.eye(1), fnp.zeros((1, 1))], [fnp.ones((1, 2))]]).tolist()
      [[1.0, 0.0], [1.0, 1.0]]
    """
    depth = _block_depth(arrays)

    def rank(x):
        if isinstance(x, list):
            return builtins.max(rank(v) for v in x)
        return asarray(x).ndim

    ndim = builtins.max(depth, rank(arrays))

    def assemble(x, level):
        if not isinstance(x, list):
            x = asarray(x)
            return reshape(x, (1,) * (ndim - x.ndim) + x.shape)
        parts = [assemble(v, level + 1) for v in x]
        return concatenate(parts, axis=level - depth) if len(parts) > 1 else parts[0]

    return assemble(arrays, 0)


def select(condlist, choicelist, default=0):
    """Per element, the entry of the first choice whose condition holds (default where
    none does), as jnp.select.

    Args:
      condlist: a sequence of bool arrays.
      choicelist: a sequence of arrays, as long as condlist.
      default: the value where no condition holds.

    Returns:
      An array of the broadcast shape and promoted dtype.

    Raises:
      ValueError: for lists of different lengths or empty lists.

    Example:
      >>> x = fnp.arange(5)
      >>> fnp.select([x < 2, x > 3], [x, x * 10], -1).tolist()
      [0, 1, -1, -1, 40]
    """
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"condlist must have length equal to choicelist ({len(condlist)} vs {len(choicelist)})"
        )
    if len(condlist) == 0:
        raise ValueError("condlist must be non-empty")
    check_arraylike("select", *condlist, *choicelist, default)
    conds = [asarray(c) for c in condlist]
    for c in conds:
        if c.dtype != dtypes.bool_:
            raise ValueError(f"condlist arrays must be boolean, got dtype {c.dtype}")
    *choices, default = promote(*choicelist, default)
    out = default
    for c, v in zip(reversed(conds), reversed(choices)):
        out = where(c, v, out)
    return out


def choose(a, choices, out=None, mode="raise"):
    """Per element, the entry of choices[a], as jnp.choose.

    Args:
      a: an integer array of choice indices.
      choices: a sequence of arrays (or an array whose first axis lists them); all
        broadcast with a.
      out: only None.
      mode: 'raise' (needs concrete a to check), 'wrap' or 'clip'.

    Returns:
      An array of the broadcast shape and the choices' dtype.

    Raises:
      ValueError: for an index out of range in 'raise' mode or an unknown mode.
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.choose is not supported.")
    check_arraylike("choose", a, *choices)
    a = asarray(a)
    if not dtypes.is_int(a.dtype):
        raise ValueError("`a` array must be integer typed")
    n = len(choices)
    if mode == "raise":
        idx = _static_ints(a, "choose (mode='raise'; use 'wrap' or 'clip' under jit)")
        if np.any((idx < 0) | (idx >= n)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        a = a % n
    elif mode == "clip":
        a = lax.clamp(_like(a, 0), a, _like(a, n - 1))
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    chosen = promote(*choices)
    shape = broadcast_shapes(a.shape, *(c.shape for c in chosen))
    stacked = lax.concatenate([reshape(broadcast_to(c, shape), (1, *shape)) for c in chosen], 0)
    idx = reshape(broadcast_to(a, shape), (1, *shape))
    return take_along_axis(stacked, idx, axis=0)[0]


def piecewise(x, condlist, funclist, *args, **kw):
    """A function defined piece by piece: funclist[i] where condlist[i] holds (the
    last listed wins), as jnp.piecewise.

    Args:
      x: an array.
      condlist: a bool array or a sequence of bool arrays of x's shape.
      funclist: functions of x (or constants), one per condition, plus an optional
        default for where none holds.
      *args: passed on to each function.
      **kw: passed on to each function.

    Returns:
      An array of x's shape and dtype.

    Raises:
      ValueError: for a wrong number of functions.

    Example:
      >>> x = fnp.array([-1.0, 2.0])
      >>> fnp.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v * 2]).tolist()
      [1.0, 4.0]
    """
    check_arraylike("piecewise", x)
    x = asarray(x)
    if isinstance(condlist, (list, tuple)):
        conds = [asarray(c) for c in condlist]
    else:
        c = asarray(condlist)
        conds = [c] if c.ndim == x.ndim else [c[i] for i in range(c.shape[0])]
    nc, nf = len(conds), len(funclist)
    if nf == nc + 1:
        default = funclist[-1]
        funclist = funclist[:-1]
    elif nf == nc:
        default = 0
    else:
        raise ValueError(f"with {nc} condition(s), either {nc} or {nc + 1} functions are expected")

    def value(f):
        if callable(f):
            return astype(asarray(f(x, *args, **kw)), x.dtype)
        return _like(x, f) if x.shape else astype(asarray(f), x.dtype)

    out = value(default)
    for c, f in zip(conds, funclist):
        out = where(c, value(f), out)
    return broadcast_to(out, x.shape)


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
    """The slices of a along axis where condition is True, as jnp.compress.

    Args:
      condition: a 1-d bool array (shorter than the axis: the rest is dropped).
      a: an array (flattened when axis is None).
      axis: the axis to select along.
      size: a static number of results (needed under jit); missing ones are fill_value.
      fill_value: the padding when size is given.
      out: only None.

    Returns:
      An array shorter along axis.

    Raises:
      ValueError: for a condition that is not 1-d or longer than the axis.
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.compress is not supported.")
    check_arraylike("compress", condition, a, fill_value)
    cond = asarray(condition)
    a = asarray(a)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1D array")
    if cond.dtype != dtypes.bool_:
        cond = cond != _like(cond, 0)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim)
    if cond.shape[0] > a.shape[axis]:
        raise ValueError(
            f"condition of length {cond.shape[0]} too long for axis of length {a.shape[axis]}"
        )
    a = lax.slice_in_dim(a, 0, cond.shape[0], axis=axis)
    if size is None:
        (idx,) = nonzero(cond)
        return take(a, idx, axis=axis)
    (idx,) = nonzero(cond, size=size, fill_value=cond.shape[0])
    a = concatenate([a, zeros(_with_len(a.shape, axis, 1), a.dtype)], axis=axis)
    got = take(a, idx, axis=axis)
    valid = reshape(idx < cond.shape[0], _with_len((1,) * a.ndim, axis, size))
    return where(valid, got, astype(asarray(fill_value), a.dtype))


def _with_len(shape, axis, n):
    s = list(shape)
    s[axis] = n
    return tuple(s)


def extract(condition, arr, *, size=None, fill_value=0):
    """The elements of the flattened arr where the flattened condition is nonzero, as
    jnp.extract.

    Args:
      condition: an array of arr's size.
      arr: an array.
      size: a static number of results (needed under jit).
      fill_value: the padding when size is given.

    Returns:
      A 1-d array.
    """
    check_arraylike("extract", condition, arr, fill_value)
    return compress(ravel(condition), ravel(arr), size=size, fill_value=fill_value)


def place(arr, mask, vals, *, inplace=True):
    """arr with the elements where mask holds replaced, in order, by vals (repeated as
    needed), as jnp.place (inplace=False is required: arrays are immutable).

    Args:
      arr: an array.
      mask: a bool array of arr's shape (concrete values).
      vals: the values, repeated cyclically.
      inplace: must be False.

    Returns:
      An array of arr's shape and dtype.

    Raises:
      ValueError: for inplace=True.
    """
    check_arraylike("place", arr, mask, vals)
    if inplace:
        raise ValueError(
            "jax.numpy.place cannot modify arrays in-place, because JAX arrays are "
            "immutable. Pass inplace=False to instead return an updated array."
        )
    arr = asarray(arr)
    m = _static_ints(mask, "place").astype(bool).ravel()
    idx = np.flatnonzero(m)
    vals = ravel(astype(asarray(vals), arr.dtype))
    if idx.size == 0 or vals.shape[0] == 0:
        return arr
    reps = -(-idx.size // vals.shape[0])
    v = reshape(broadcast_to(vals, (reps, vals.shape[0])), (-1,))[: idx.size]
    return reshape(ravel(arr).at[asarray(idx.astype(np.int32))].set(v), arr.shape)


def put(a, ind, v, mode=None, *, inplace=True):
    """a with the flat positions ind set to v, as jnp.put (inplace=False required).

    Args:
      a: an array.
      ind: flat indices.
      v: values, broadcast to ind's shape (repeated cyclically, as NumPy).
      mode: None/'fill' (out-of-range dropped), 'clip' or 'wrap'; 'raise' is refused.
      inplace: must be False.

    Returns:
      An array of a's shape and dtype.

    Raises:
      ValueError: for inplace=True.
      NotImplementedError: for mode='raise'.
    """
    check_arraylike("put", a, ind, v)
    if inplace:
        raise ValueError(
            "jax.numpy.put cannot modify arrays in-place, because JAX arrays are "
            "immutable. Pass inplace=False to instead return an updated array."
        )
    a = asarray(a)
    ind = ravel(asarray(ind))
    v = ravel(astype(asarray(v), a.dtype))
    if ind.shape[0] == 0 or v.shape[0] == 0:
        return a
    if v.shape[0] != ind.shape[0]:
        reps = -(-ind.shape[0] // v.shape[0])
        v = reshape(broadcast_to(v, (reps, v.shape[0])), (-1,))[: ind.shape[0]]
    n = a.size
    if mode in (None, "fill"):
        scatter_mode = "drop"
    elif mode == "clip":
        ind, scatter_mode = lax.clamp(_like(ind, 0), ind, _like(ind, n - 1)), "promise_in_bounds"
    elif mode == "wrap":
        ind, scatter_mode = ind % n, "promise_in_bounds"
    elif mode == "raise":
        raise NotImplementedError("The 'raise' mode to jnp.put is not supported.")
    else:
        raise ValueError(f"mode should be one of 'wrap', 'clip' or 'fill'; got {mode!r}")
    return reshape(ravel(a).at[ind].set(v, mode=scatter_mode), a.shape)


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """arr with values written at indices along axis (the inverse of
    take_along_axis), as jnp.put_along_axis (inplace=False required).

    Args:
      arr: an array.
      indices: an integer array of arr's rank (broadcasting against arr off axis).
      values: values broadcast to indices' shape.
      axis: the axis, or None for the flattened arr.
      inplace: must be False.
      mode: as for take_along_axis.

    Returns:
      An array of arr's shape and dtype.

    Raises:
      ValueError: for inplace=True or indices of another rank.
    """
    check_arraylike("put_along_axis", arr, indices, values)
    if inplace:
        raise ValueError(
            "jax.numpy.put_along_axis cannot modify arrays in-place, because JAX arrays "
            "are immutable. Pass inplace=False to instead return an updated array."
        )
    a = asarray(arr)
    idx = asarray(indices)
    original_shape = a.shape
    if axis is None:
        a, idx, axis = ravel(a), ravel(idx), 0
    axis = normalize_axis(axis, a.ndim)
    if idx.ndim != a.ndim:
        raise ValueError(
            f"put_along_axis: indices and arr must have the same rank, got {idx.shape} "
            f"and {a.shape}"
        )
    off_axis_a = tuple(1 if i == axis else d for i, d in enumerate(a.shape))
    off_axis_idx = tuple(1 if i == axis else d for i, d in enumerate(idx.shape))
    shape = list(broadcast_shapes(off_axis_a, off_axis_idx))
    shape[axis] = idx.shape[axis]
    idx = broadcast_to(idx, tuple(shape))
    idx = where(idx < 0, idx + a.shape[axis], idx)
    vals = broadcast_to(astype(asarray(values), a.dtype), tuple(shape))
    grids = [
        lax.broadcasted_iota(np.int32, tuple(shape), d) if d != axis else astype(idx, np.int32)
        for d in range(a.ndim)
    ]
    out = a.at[tuple(grids)].set(vals, mode=mode or "drop")
    return reshape(out, original_shape)


def _named_split(name, min_ndim, axis_for):
    def fn(ary, indices_or_sections):
        check_arraylike(name, ary)
        a = asarray(ary)
        if a.ndim < min_ndim:
            raise ValueError(
                f"{name} only works on arrays of {min_ndim} or more dimensions, got shape {a.shape}"
            )
        return split(a, indices_or_sections, axis=axis_for(a))

    fn.__name__ = fn.__qualname__ = name
    axis_text = {"hsplit": "1 (0 for 1-d)", "vsplit": "0", "dsplit": "2"}[name]
    fn.__doc__ = f"""ary split along axis {axis_text}, as jnp.{name}.

    Args:
      ary: an array of at least {min_ndim} dimension(s).
      indices_or_sections: a number of equal sections, or the split indices.

    Returns:
      A list of arrays.

    Raises:
      ValueError: for too few dimensions or sections that do not divide the axis.
    """
    return fn


hsplit = _named_split("hsplit", 1, lambda a: 0 if a.ndim == 1 else 1)
vsplit = _named_split("vsplit", 2, lambda a: 0)
dsplit = _named_split("dsplit", 3, lambda a: 2)


def unstack(x, /, *, axis=0):
    """The slices of x along axis, as a tuple, as jnp.unstack.

    Args:
      x: an array of at least 1 dimension.
      axis: the axis to unstack along.

    Returns:
      A tuple of x.shape[axis] arrays, each without axis.

    Raises:
      ValueError: for a 0-d x.
    """
    check_arraylike("unstack", x)
    x = asarray(x)
    if x.ndim == 0:
        raise ValueError(
            "Unstack requires arrays with rank > 0, however a scalar array was passed."
        )
    axis = normalize_axis(axis, x.ndim)
    return tuple(lax.index_in_dim(x, i, axis, keepdims=False) for i in range(x.shape[axis]))


def trim_zeros(filt, trim="fb", axis=None):
    """filt without its leading ('f') and/or trailing ('b') zeros, as jnp.trim_zeros
    (the values must be concrete: they decide the size).

    Args:
      filt: a 1-d array (or n-d with axis).
      trim: 'f', 'b' or 'fb'.
      axis: the axis or axes to trim along (default: all).

    Returns:
      The trimmed array.

    Raises:
      ValueError: for a 0-d filt.
    """
    check_arraylike("trim_zeros", filt)
    a = asarray(filt)
    if a.ndim == 0:
        raise ValueError("trim_zeros requires at least 1D input")
    host = _static_ints(a, "trim_zeros") != 0
    axes = (
        range(a.ndim)
        if axis is None
        else [normalize_axis(ax, a.ndim) for ax in np.atleast_1d(axis)]
    )
    trim = trim.lower()
    for ax in axes:
        other = tuple(i for i in range(a.ndim) if i != ax)
        nz = np.flatnonzero(host.any(axis=other) if other else host)
        n = a.shape[ax]
        start = (
            int(nz[0]) if ("f" in trim and nz.size) else (n if nz.size == 0 and "f" in trim else 0)
        )
        stop = (
            int(nz[-1]) + 1
            if ("b" in trim and nz.size)
            else (0 if nz.size == 0 and "b" in trim else n)
        )
        stop = builtins.max(stop, start)
        a = lax.slice_in_dim(a, start, stop, axis=ax)
        host = np.take(host, np.arange(start, stop), axis=ax)
    return a


def rollaxis(a, axis, start=0):
    """a with axis moved to before position start, as jnp.rollaxis.

    Args:
      a: an array.
      axis: the axis to move.
      start: the position it is moved before.

    Returns:
      A transposed array.
    """
    check_arraylike("rollaxis", a)
    a = asarray(a)
    axis = normalize_axis(axis, a.ndim)
    start = operator.index(start)
    if not -a.ndim <= start <= a.ndim:
        raise ValueError(f"rollaxis: start={start} out of range for {a.ndim} dimensions")
    if start < 0:
        start += a.ndim
    if axis < start:
        start -= 1
    if axis == start:
        return a
    return moveaxis(a, axis, start)


def copy(a, order=None):
    """A copy of a (arrays are immutable: the copy is never observable), as jnp.copy.

    Args:
      a: an array or a scalar.
      order: only 'C', 'K', 'A' or None.

    Returns:
      An array equal to a.
    """
    check_arraylike("copy", a)
    return _array(a, copy=True, order=order)


def concat(arrays, /, *, axis=0):
    """The arrays joined along axis (the array-API name), as jnp.concat.

    Args:
      arrays: a sequence of arrays.
      axis: the axis to join along, or None to flatten first.

    Returns:
      The joined array.
    """
    return concatenate(arrays, axis=axis)


def permute_dims(a, /, axes):
    """a with its axes permuted (the array-API name of transpose), as jnp.permute_dims.

    Args:
      a: an array.
      axes: a permutation of range(a.ndim).

    Returns:
      The transposed array.
    """
    check_arraylike("permute_dims", a)
    return transpose(a, axes)


def array_equal(a1, a2, equal_nan=False):
    """Whether two arrays have the same shape and elements, as jnp.array_equal.

    Args:
      a1: an array.
      a2: an array.
      equal_nan: count NaNs in the same places as equal.

    Returns:
      A 0-d bool array (False for different shapes).

    Example:
      >>> bool(fnp.array_equal(fnp.array([1, 2]), fnp.array([1, 2])))
      True
    """
    try:
        a1, a2 = asarray(a1), asarray(a2)
    except Exception:
        return asarray(False)
    if a1.shape != a2.shape:
        return asarray(False)
    eq = a1 == a2
    if equal_nan and (dtypes.is_inexact(a1.dtype) or dtypes.is_inexact(a2.dtype)):
        eq = eq | (isnan(a1) & isnan(a2))
    return _all(eq)


def array_equiv(a1, a2):
    """Whether two arrays are equal after broadcasting, as jnp.array_equiv.

    Args:
      a1: an array.
      a2: an array.

    Returns:
      A 0-d bool array (False when the shapes do not broadcast).
    """
    try:
        a1, a2 = asarray(a1), asarray(a2)
        broadcast_shapes(a1.shape, a2.shape)
    except Exception:
        return asarray(False)
    return _all(a1 == a2)
