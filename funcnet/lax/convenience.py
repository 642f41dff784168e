"""jax.lax's thin wrappers, each a line or two on funcnet's primitives, with jax.lax's
names, argument order and defaults: full, expand_dims, the *_in_dim slicers, collapse,
broadcast, stack, tile, associative_scan, and the like."""

import numpy as np

from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.source_info import where
from funcnet.core.trace import get_aval
from funcnet.lax import elementwise as ew
from funcnet.lax import structural as st
from funcnet.lax.contractions import ConvDimensionNumbers
from funcnet.lax.contractions import conv_dimension_numbers as _conv_dimension_numbers


def _axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for an array of rank {ndim}{where()}")
    return axis % ndim if ndim else 0


def dtype(x):
    """The dtype funcnet gives `x`, as jax.lax.dtype: an array's own; for a Python float
    or int, the default float32 or int32; NumPy values canonicalized (64-bit types
    become 32-bit unless x64 is enabled).

    Args:
      x: an array, a NumPy array or a Python or NumPy scalar. (jax also takes a dtype
        itself; funcnet raises TypeError for one.)

    Returns:
      A NumPy dtype.

    Example:
      >>> lax.dtype(1.0), lax.dtype(fnp.arange(3))
      (dtype('float32'), dtype('int32'))
    """
    return get_aval(x).dtype


# --- creation ---------------------------------------------------------------------------


def full(shape, fill_value, dtype=None):
    """An array of `shape` filled with `fill_value`, as jax.lax.full.

    Args:
      shape: an int, or a sequence of ints.
      fill_value: a scalar: a Python or NumPy scalar, or a rank-0 array.
      dtype: the result's dtype; None (the default) keeps the value's (a Python scalar
        then gives a weakly typed array, as in jax).

    Returns:
      An array of shape `shape`.

    Raises:
      TypeError: when `fill_value` is not a scalar.

    Example:
      >>> lax.full((2, 3), 1.5).tolist()
      [[1.5, 1.5, 1.5], [1.5, 1.5, 1.5]]
      >>> lax.full(2, 7, np.float32)
      Array([7., 7.], dtype=float32)
    """
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    # (without a dtype, a Python scalar gives a weakly typed array, as in jax)
    value = fill_value if dtype is None else ew.convert_element_type(fill_value, dtype)
    if get_aval(value).shape != ():
        raise TypeError(
            f"full: fill_value must be a scalar, got shape {get_aval(value).shape}{where()}"
        )
    return st.broadcast_in_dim(value, shape, ())


def full_like(x, fill_value, dtype=None, shape=None):
    """An array like `x` filled with `fill_value`, as jax.lax.full_like.

    Args:
      x: an array (or scalar) that gives the default shape and dtype.
      fill_value: a scalar.
      dtype: the result's dtype; None (the default) takes `x`'s.
      shape: the result's shape; None (the default) takes `x`'s.

    Returns:
      An array of `shape` (else `x`'s) and `dtype` (else `x`'s, weakly typed when `x`
      is, as jax).

    Raises:
      TypeError: when `fill_value` is not a scalar.
    """
    aval = get_aval(x)
    out = full(
        aval.shape if shape is None else shape, fill_value, aval.dtype if dtype is None else dtype
    )
    if dtype is None and aval.weak_type:
        out = ew.convert_element_type(out, aval.dtype, weak_type=True)
    return out


# --- shapes -------------------------------------------------------------------------------


def expand_dims(array, dimensions):
    """`array` with size-1 axes inserted at `dimensions`, as jax.lax.expand_dims.

    Args:
      array: an array.
      dimensions: the positions of the new axes in the result; negative ones count from
        the end of the result.

    Returns:
      An array of rank `array.ndim + len(dimensions)` with `array`'s elements and dtype.

    Raises:
      ValueError: for a position out of range or given twice.

    Example:
      >>> lax.expand_dims(fnp.ones((2, 3)), (0, -1)).shape
      (1, 2, 3, 1)
    """
    shape = list(get_aval(array).shape)
    ndim_out = len(shape) + len(dimensions)
    dims = sorted(_axis(d, ndim_out) for d in dimensions)
    if len(set(dims)) != len(dims):
        raise ValueError(f"expand_dims: repeated dimensions {tuple(dimensions)}{where()}")
    for d in dims:
        shape.insert(d, 1)
    kept = [i for i in range(ndim_out) if i not in dims]
    return st.broadcast_in_dim(array, shape, kept)


def broadcast(operand, sizes):
    """`operand` repeated along new leading axes of sizes `sizes`, as jax.lax.broadcast.

    Args:
      operand: an array.
      sizes: the sizes of the new leading axes.

    Returns:
      An array of shape `tuple(sizes) + operand.shape` and `operand`'s dtype.

    Example:
      >>> lax.broadcast(fnp.arange(3), (2,)).tolist()
      [[0, 1, 2], [0, 1, 2]]
    """
    shape = tuple(int(s) for s in sizes) + get_aval(operand).shape
    n = len(sizes)
    return st.broadcast_in_dim(operand, shape, range(n, len(shape)))


def broadcast_to_rank(x, rank):
    """`x` with leading size-1 axes added up to rank `rank`, as jax.lax.broadcast_to_rank.

    Args:
      x: an array.
      rank: the rank wanted; an `x` of that rank or more is returned unchanged.

    Returns:
      An array of rank `max(x.ndim, rank)` with `x`'s elements and dtype.
    """
    ndim = get_aval(x).ndim
    if ndim >= rank:
        return x
    return broadcast(x, (1,) * (rank - ndim))


def broadcast_shapes(*shapes):
    """The shape that NumPy broadcasting of `shapes` gives, as jax.lax.broadcast_shapes.

    Args:
      *shapes: shapes, tuples of ints (of any ranks).

    Returns:
      A tuple of ints.

    Raises:
      ValueError: when the shapes do not broadcast together (NumPy's error).

    Example:
      >>> lax.broadcast_shapes((2, 1), (3,))
      (2, 3)
    """
    return tuple(int(d) for d in np.broadcast_shapes(*(tuple(s) for s in shapes)))


def collapse(operand, start_dimension, stop_dimension=None):
    """`operand` with the axes `[start_dimension, stop_dimension)` merged into one, as
    jax.lax.collapse.

    Args:
      operand: an array.
      start_dimension: the first axis to merge; negative counts from the end.
      stop_dimension: the axis after the last one to merge; negative counts from the end,
        None (the default) means through the last axis.

    Returns:
      An array with the same elements and dtype, whose merged axis has the product of the
      merged sizes.

    Raises:
      ValueError: when the range is not one of `operand`'s axes.

    Example:
      >>> lax.collapse(fnp.ones((2, 3, 4)), 1).shape
      (2, 12)
    """
    shape = get_aval(operand).shape
    lo = _axis(start_dimension, len(shape))
    hi = (
        len(shape)
        if stop_dimension is None
        else (stop_dimension + len(shape) if stop_dimension < 0 else stop_dimension)
    )
    if not lo <= hi <= len(shape):
        raise ValueError(
            f"collapse: [{start_dimension}, {stop_dimension}) is not a range "
            f"of the axes of shape {shape}{where()}"
        )
    merged = int(np.prod(shape[lo:hi], dtype=np.int64))
    return st.reshape(operand, shape[:lo] + (merged,) + shape[hi:])


def stack(operands, axis=0):
    """The arrays of `operands` stacked along a new axis `axis`, as jax.lax.stack.

    Args:
      operands: a non-empty sequence of arrays of one shape and dtype.
      axis: the position of the new axis in the result (negative counts from the end); 0
        by default.

    Returns:
      An array with a new axis of size `len(operands)` at `axis`.

    Raises:
      ValueError: for no operands or an axis out of range.
      TypeError: when the operands' shapes or dtypes differ.

    Example:
      >>> lax.stack([fnp.arange(2), fnp.arange(2) + 5], axis=1).tolist()
      [[0, 5], [1, 6]]
    """
    operands = list(operands)
    if not operands:
        raise ValueError(f"stack needs at least one array{where()}")
    ndim = get_aval(operands[0]).ndim
    axis = _axis(axis, ndim + 1)
    return st.concatenate([expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x, axis=0):
    """The slices of `x` along `axis`, as jax.lax.unstack.

    Args:
      x: an array.
      axis: the axis to take apart (negative counts from the end); 0 by default.

    Returns:
      A tuple of `x.shape[axis]` arrays, each `x` without that axis.

    Raises:
      ValueError: for an axis out of range.

    Example:
      >>> [u.tolist() for u in lax.unstack(fnp.arange(6).reshape(2, 3), axis=1)]
      [[0, 3], [1, 4], [2, 5]]
    """
    shape = get_aval(x).shape
    axis = _axis(axis, len(shape))
    return tuple(st.squeeze(p, (axis,)) for p in st.split(x, (1,) * shape[axis], axis))


def tile(operand, reps):
    """`operand` repeated `reps[i]` times along each axis i, as jax.lax.tile.

    Args:
      operand: an array.
      reps: one repetition count per axis of `operand`.

    Returns:
      An array of shape `reps[i] * operand.shape[i]` per axis and `operand`'s dtype.

    Raises:
      ValueError: when `reps` does not have one entry per axis.

    Example:
      >>> lax.tile(fnp.array([1, 2]), (3,)).tolist()
      [1, 2, 1, 2, 1, 2]
    """
    shape = get_aval(operand).shape
    reps = tuple(int(r) for r in reps)
    if len(reps) != len(shape):
        raise ValueError(f"tile: reps {reps} needs one entry per axis of shape {shape}{where()}")
    wide = [s for pair in zip(reps, shape) for s in pair]  # (r0, d0, r1, d1, ...)
    tiled = st.broadcast_in_dim(operand, wide, range(1, 2 * len(shape), 2))
    return st.reshape(tiled, tuple(r * d for r, d in zip(reps, shape)))


# --- slicing along one axis -------------------------------------------------------------


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """`operand[start_index:limit_index:stride]` along `axis`, as jax.lax.slice_in_dim.

    Args:
      operand: an array.
      start_index: the first index; None means 0, a negative one counts from the end.
      limit_index: the end (exclusive); None means the axis' size, a negative one counts
        from the end.
      stride: the step (at least 1); 1 by default.
      axis: the axis to slice (negative counts from the end); 0 by default.

    Returns:
      An array of `operand`'s dtype, sliced along `axis`.

    Raises:
      TypeError: for bounds out of range (after counting negative ones from the end), as
        in jax.

    Example:
      >>> lax.slice_in_dim(fnp.arange(10), 2, -2, stride=3).tolist()
      [2, 5]
    """
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    n = shape[axis]
    start = 0 if start_index is None else int(start_index)
    stop = n if limit_index is None else int(limit_index)
    start, stop = (start + n if start < 0 else start), (stop + n if stop < 0 else stop)
    lo, hi, strides = [0] * len(shape), list(shape), [1] * len(shape)
    lo[axis], hi[axis], strides[axis] = start, stop, int(stride)
    return st.slice(operand, lo, hi, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """The entry `index` of `operand` along `axis`, as jax.lax.index_in_dim.

    Args:
      operand: an array.
      index: a static int; negative counts from the end.
      axis: the axis to index (negative counts from the end); 0 by default.
      keepdims: keep `axis`, with size 1 (the default), or drop it.

    Returns:
      An array of `operand`'s dtype.

    Raises:
      IndexError: for an index out of range.

    Example:
      >>> lax.index_in_dim(fnp.arange(6).reshape(2, 3), -1, axis=1, keepdims=False).tolist()
      [2, 5]
    """
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    index = int(index)
    if not -shape[axis] <= index < shape[axis]:
        raise IndexError(
            f"index {index} is out of bounds for axis {axis} with size {shape[axis]}{where()}"
        )
    index %= shape[axis]
    out = slice_in_dim(operand, index, index + 1, 1, axis)
    return out if keepdims else st.squeeze(out, (axis,))


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *, allow_negative_indices=True):
    """`slice_size` entries of `operand` along `axis` from `start_index`, which may be
    traced, as jax.lax.dynamic_slice_in_dim (a `dynamic_slice` along one axis: the start is
    clamped so the slice fits).

    Args:
      operand: an array.
      start_index: an integer scalar, Python int or traced.
      slice_size: the static number of entries.
      axis: the axis to slice (negative counts from the end); 0 by default.
      allow_negative_indices: count a negative start from the end (the default), or clamp
        it to 0, as in `dynamic_slice`.

    Returns:
      An array of `operand`'s shape, but `slice_size` along `axis`.

    Example:
      >>> lax.dynamic_slice_in_dim(fnp.arange(10), fnp.array(8), 3).tolist()  # clamped to 7
      [7, 8, 9]
    """
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    starts = [np.int32(0)] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = int(slice_size)
    return st.dynamic_slice(operand, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    """The entry `index` (which may be traced) of `operand` along `axis`, as
    jax.lax.dynamic_index_in_dim; an out-of-range index is clamped, as in `dynamic_slice`.

    Args:
      operand: an array.
      index: an integer scalar, Python int or traced.
      axis: the axis to index (negative counts from the end); 0 by default.
      keepdims: keep `axis`, with size 1 (the default), or drop it.
      allow_negative_indices: count a negative index from the end (the default), or clamp
        it to 0.

    Returns:
      An array of `operand`'s dtype.
    """
    axis = _axis(axis, get_aval(operand).ndim)
    out = dynamic_slice_in_dim(
        operand, index, 1, axis, allow_negative_indices=allow_negative_indices
    )
    return out if keepdims else st.squeeze(out, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *, allow_negative_indices=True):
    """`operand` with `update` written along `axis` from `start_index` (which may be traced),
    as jax.lax.dynamic_update_slice_in_dim; the start is clamped so that `update` fits.

    Args:
      operand: an array.
      update: an array of `operand`'s rank and dtype, no larger than `operand` on any axis
        (other axes are written from index 0).
      start_index: an integer scalar, Python int or traced.
      axis: the axis to write along (negative counts from the end).
      allow_negative_indices: count a negative start from the end (the default), or clamp
        it to 0.

    Returns:
      An array of `operand`'s shape and dtype.

    Example:
      >>> lax.dynamic_update_slice_in_dim(fnp.zeros(4), fnp.ones(2), 1, axis=0).tolist()
      [0.0, 1.0, 1.0, 0.0]
    """
    ndim = get_aval(operand).ndim
    axis = _axis(axis, ndim)
    starts = [np.int32(0)] * ndim
    starts[axis] = start_index
    return st.dynamic_update_slice(
        operand, update, starts, allow_negative_indices=allow_negative_indices
    )


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    """`operand` with the entry `index` (which may be traced) along `axis` replaced by
    `update`, as jax.lax.dynamic_update_index_in_dim; the index is clamped into range.

    Args:
      operand: an array.
      update: the new entry: an array of `operand`'s shape without `axis`, or with size 1
        there; `operand`'s dtype.
      index: an integer scalar, Python int or traced.
      axis: the axis to index (negative counts from the end).
      allow_negative_indices: count a negative index from the end (the default), or clamp
        it to 0.

    Returns:
      An array of `operand`'s shape and dtype.

    Example:
      >>> lax.dynamic_update_index_in_dim(fnp.zeros((2, 3)), fnp.ones(3), 1, axis=0).tolist()
      [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """
    ndim = get_aval(operand).ndim
    axis = _axis(axis, ndim)
    if get_aval(update).ndim == ndim - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(
        operand, update, index, axis, allow_negative_indices=allow_negative_indices
    )


# --- convolution layouts ------------------------------------------------------------------


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """The `ConvDimensionNumbers` a convolution's `dimension_numbers` argument names, as
    jax.lax.conv_dimension_numbers.

    Args:
      lhs_shape: the input's shape.
      rhs_shape: the kernel's shape (of the input's rank).
      dimension_numbers: None (NCHW, OIHW, NCHW), three layout strings such as
        `('NHWC', 'HWIO', 'NHWC')` (the spatial axes in the kernel layout's letter order),
        three axis specs, or a `ConvDimensionNumbers` (returned as is).

    Returns:
      A `ConvDimensionNumbers`.

    Raises:
      TypeError: when the two ranks differ.
      ValueError: for layouts or specs that do not fit the rank.

    Example:
      >>> lax.conv_dimension_numbers((1, 5, 5, 2), (3, 3, 2, 4), ('NHWC', 'HWIO', 'NHWC'))
      ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(
            f"conv_dimension_numbers: input and kernel ranks differ: "
            f"{tuple(lhs_shape)} and {tuple(rhs_shape)}"
        )
    return _conv_dimension_numbers(len(lhs_shape), dimension_numbers)


# --- associative_scan ---------------------------------------------------------------------


def associative_scan(fn, elems, reverse=False, axis=0):
    """All prefix combinations of `elems` under the associative `fn`, in O(log n) parallel
    steps, as jax.lax.associative_scan: `associative_scan(lax.add, x)` is a cumulative sum.

    Args:
      fn: an associative function `fn(a, b)` of two pytrees like `elems` that returns one;
        it must be vectorized: it is applied to whole stacks of elements at once.
      elems: a pytree of arrays that share their length along `axis`.
      reverse: scan from the last element to the first (the scan of the reversed elements,
        reversed); False by default.
      axis: the axis to scan along (negative counts from the end); 0 by default.

    Returns:
      A pytree like `elems`, of the same shapes: entry i is
      `fn(...fn(fn(elems[0], elems[1]), elems[2])..., elems[i])`.

    Raises:
      ValueError: when the leaves' lengths along `axis` differ.
      TypeError: when `fn` returns a pytree of another structure.

    Example:
      >>> lax.associative_scan(lax.add, fnp.arange(1, 6)).tolist()
      [1, 3, 6, 10, 15]
      >>> lax.associative_scan(lax.max, fnp.array([1, 3, 2, 5, 4])).tolist()
      [1, 3, 3, 5, 5]
      >>> lax.associative_scan(lax.add, fnp.arange(1, 6), reverse=True).tolist()
      [15, 14, 12, 9, 5]
    """
    leaves, treedef = tree.tree_flatten(elems)
    if not leaves:
        return elems
    ndim = get_aval(leaves[0]).ndim
    axis = _axis(axis, ndim)
    lengths = {get_aval(x).shape[axis] for x in leaves}
    if len(lengths) != 1:
        raise ValueError(
            f"associative_scan: the elements have different lengths along "
            f"axis {axis}: {sorted(lengths)}{where()}"
        )

    def combine(a, b):
        out = fn(tree.tree_unflatten(treedef, a), tree.tree_unflatten(treedef, b))
        out_leaves, out_tree = tree.tree_flatten(out)
        if out_tree != treedef:
            raise TypeError(
                f"associative_scan: fn returned a {out_tree}, the elements are a {treedef}{where()}"
            )
        return out_leaves

    return tree.tree_unflatten(treedef, scan_lists(combine, leaves, axis, reverse))


def _slice_along(x, start, stop, stride, axis):
    shape = get_aval(x).shape
    n = shape[axis]
    stop = n if stop is None else (stop + n if stop < 0 else stop)
    lo, hi, strides = [0] * len(shape), list(shape), [1] * len(shape)
    lo[axis], hi[axis], strides[axis] = start, max(stop, start), stride
    return st.slice(x, lo, hi, strides)


def _interleave(a, b, axis):
    """a[0], b[0], a[1], b[1], ... along axis (len(a) == len(b) or len(b) + 1)."""
    na, nb = get_aval(a).shape[axis], get_aval(b).shape[axis]
    a_pad = [(0, 0, 0)] * get_aval(a).ndim
    b_pad = [(0, 0, 0)] * get_aval(b).ndim
    a_pad[axis] = (0, 1 if na == nb else 0, 1)
    b_pad[axis] = (1, 0 if na == nb else 1, 1)
    dt = get_aval(a).dtype
    zero = np.zeros((), dt)[()]
    if dtypes.is_bool(dt):
        return ew.bitwise_or(st.pad(a, zero, a_pad), st.pad(b, zero, b_pad))
    return ew.add(st.pad(a, zero, a_pad), st.pad(b, zero, b_pad))


def scan_lists(combine, elems, axis, reverse):
    """jax.lax.associative_scan's algorithm, step for step, on a list of arrays;
    `combine(a, b)` takes and returns lists."""
    if reverse:
        elems = [st.rev(e, (axis,)) for e in elems]

    def scan(elems):
        n = get_aval(elems[0]).shape[axis]
        if n < 2:
            return elems
        reduced = combine(
            [_slice_along(e, 0, -1, 2, axis) for e in elems],
            [_slice_along(e, 1, None, 2, axis) for e in elems],
        )
        odd = scan(reduced)
        if n % 2 == 0:
            even = combine(
                [_slice_along(e, 0, -1, 1, axis) for e in odd],
                [_slice_along(e, 2, None, 2, axis) for e in elems],
            )
        else:
            even = combine(odd, [_slice_along(e, 2, None, 2, axis) for e in elems])
        even = [
            st.concatenate([_slice_along(e, 0, 1, 1, axis), r], axis)
            if get_aval(r).shape[axis]
            else _slice_along(e, 0, 1, 1, axis)
            for e, r in zip(elems, even)
        ]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = scan(elems)
    return [st.rev(o, (axis,)) for o in out] if reverse else out
