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
from funcnet.lax.linalg import ConvDimensionNumbers
from funcnet.lax.linalg import conv_dimension_numbers as _conv_dimension_numbers


def _axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for an array of rank {ndim}{where()}")
    return axis % ndim if ndim else 0


def dtype(x):
    """The dtype funcnet gives `x` (a Python scalar: the default float or int)."""
    return get_aval(x).dtype


# --- creation ---------------------------------------------------------------------------


def full(shape, fill_value, dtype=None):
    """An array of `shape` filled with `fill_value` (of `dtype`, else of the value's)."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    # (without a dtype, a Python scalar gives a weakly typed array, as in jax)
    value = fill_value if dtype is None else ew.convert_element_type(fill_value, dtype)
    if get_aval(value).shape != ():
        raise TypeError(
            f"full: fill_value must be a scalar, got shape {get_aval(value).shape}{where()}"
        )
    return st.broadcast_in_dim(value, shape, ())


def full_like(x, fill_value, dtype=None, shape=None):
    """An array like `x` (its shape and dtype, unless given) filled with `fill_value`."""
    aval = get_aval(x)
    return full(
        aval.shape if shape is None else shape, fill_value, aval.dtype if dtype is None else dtype
    )


# --- shapes -------------------------------------------------------------------------------


def expand_dims(array, dimensions):
    """`array` with size-1 axes inserted at `dimensions` (positions in the result)."""
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
    """`operand` with new leading axes of `sizes`."""
    shape = tuple(int(s) for s in sizes) + get_aval(operand).shape
    n = len(sizes)
    return st.broadcast_in_dim(operand, shape, range(n, len(shape)))


def broadcast_to_rank(x, rank):
    """`x` with leading size-1 axes up to rank `rank` (unchanged if it has that many)."""
    ndim = get_aval(x).ndim
    if ndim >= rank:
        return x
    return broadcast(x, (1,) * (rank - ndim))


def broadcast_shapes(*shapes):
    """The NumPy broadcast of `shapes` (tuples of ints)."""
    return tuple(int(d) for d in np.broadcast_shapes(*(tuple(s) for s in shapes)))


def collapse(operand, start_dimension, stop_dimension=None):
    """`operand` with axes [start_dimension, stop_dimension) merged into one."""
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
    """The arrays of `operands` (one shape) stacked along a new axis `axis`."""
    operands = list(operands)
    if not operands:
        raise ValueError(f"stack needs at least one array{where()}")
    ndim = get_aval(operands[0]).ndim
    axis = _axis(axis, ndim + 1)
    return st.concatenate([expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x, axis=0):
    """The slices of `x` along `axis`, as a tuple."""
    shape = get_aval(x).shape
    axis = _axis(axis, len(shape))
    return tuple(st.squeeze(p, (axis,)) for p in st.split(x, (1,) * shape[axis], axis))


def tile(operand, reps):
    """`operand` repeated `reps[i]` times along axis i (len(reps) == rank)."""
    shape = get_aval(operand).shape
    reps = tuple(int(r) for r in reps)
    if len(reps) != len(shape):
        raise ValueError(f"tile: reps {reps} needs one entry per axis of shape {shape}{where()}")
    wide = [s for pair in zip(reps, shape) for s in pair]  # (r0, d0, r1, d1, ...)
    tiled = st.broadcast_in_dim(operand, wide, range(1, 2 * len(shape), 2))
    return st.reshape(tiled, tuple(r * d for r, d in zip(reps, shape)))


# --- slicing along one axis -------------------------------------------------------------


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """`operand[..., start_index:limit_index:stride, ...]` along `axis`. A None
    start (limit) is 0 (the size); a negative bound counts from the end; out of range is
    an error, as in jax."""
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
    """Entry `index` (a static int, negative from the end) along `axis`."""
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
    """`slice_size` entries from a (possibly traced) `start_index` along `axis`."""
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    starts = [np.int32(0)] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = int(slice_size)
    return st.dynamic_slice(operand, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    """Entry `index` (possibly traced) along `axis`."""
    axis = _axis(axis, get_aval(operand).ndim)
    out = dynamic_slice_in_dim(
        operand, index, 1, axis, allow_negative_indices=allow_negative_indices
    )
    return out if keepdims else st.squeeze(out, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *, allow_negative_indices=True):
    """`operand` with `update` written from `start_index` along `axis`."""
    ndim = get_aval(operand).ndim
    axis = _axis(axis, ndim)
    starts = [np.int32(0)] * ndim
    starts[axis] = start_index
    return st.dynamic_update_slice(
        operand, update, starts, allow_negative_indices=allow_negative_indices
    )


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    """`operand` with entry `index` along `axis` replaced by `update` (which may lack
    that axis)."""
    ndim = get_aval(operand).ndim
    axis = _axis(axis, ndim)
    if get_aval(update).ndim == ndim - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(
        operand, update, index, axis, allow_negative_indices=allow_negative_indices
    )


# --- convolution layouts ------------------------------------------------------------------


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """ConvDimensionNumbers from None (NCHW, OIHW, NCHW), layout strings ('NHWC', 'HWIO',
    'NHWC') or axis specs, as jax.lax.conv_dimension_numbers."""
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(
            f"conv_dimension_numbers: input and kernel ranks differ: "
            f"{tuple(lhs_shape)} and {tuple(rhs_shape)}"
        )
    return _conv_dimension_numbers(len(lhs_shape), dimension_numbers)


# --- associative_scan ---------------------------------------------------------------------


def associative_scan(fn, elems, reverse=False, axis=0):
    """All prefix combinations of `elems` (a pytree of arrays sharing the length of
    `axis`) under the associative `fn`, in O(log n) steps, as jax.lax.associative_scan:
    `associative_scan(lax.add, x)` is a cumulative sum. `fn(a, b)` takes and returns
    pytrees like `elems`, and must work on stacks of elements (vectorized)."""
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
