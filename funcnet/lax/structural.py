"""Primitives that move data without arithmetic: broadcast, reshape, transpose,
slices, concatenate, pad, reverse, iota, and bitcast_convert_type (the same bits read
as another dtype)."""

import math

import numpy as np

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax import elementwise as ew
from funcnet.lax.broadcast import broadcast_in_dim, broadcast_in_dim_p  # noqa: F401 (re-exported)


def _ints(xs):
    return tuple(int(x) for x in xs)


reshape_p = Primitive("reshape")


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x, *, new_sizes):
    if math.prod(new_sizes) != x.size:
        raise TypeError(
            f"cannot reshape array of shape {x.shape} (size {x.size}) into "
            f"shape {new_sizes} (size {math.prod(new_sizes)}){where()}"
        )
    return x.update(shape=new_sizes)


transpose_p = Primitive("transpose")


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(
            f"transpose: permutation {permutation} is not a permutation of "
            f"the axes of an array of shape {x.shape}{where()}"
        )
    return x.update(shape=tuple(x.shape[p] for p in permutation))


squeeze_p = Primitive("squeeze")


@squeeze_p.def_abstract_eval
def _squeeze_abstract_eval(x, *, dimensions):
    for d in dimensions:
        if not 0 <= d < x.ndim or x.shape[d] != 1:
            raise TypeError(f"cannot squeeze axis {d} of an array of shape {x.shape}{where()}")
    return x.update(shape=tuple(s for i, s in enumerate(x.shape) if i not in dimensions))


rev_p = Primitive("rev")


@rev_p.def_abstract_eval
def _rev_abstract_eval(x, *, dimensions):
    if any(not 0 <= d < x.ndim for d in dimensions):
        raise TypeError(f"rev: axes {dimensions} out of range for shape {x.shape}{where()}")
    return x


slice_p = Primitive("slice")


@slice_p.def_abstract_eval
def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise TypeError(
            f"slice of an array of shape {x.shape} needs {x.ndim} starts, "
            f"limits and strides{where()}"
        )
    shape = []
    for s, lo, hi, st in zip(x.shape, start_indices, limit_indices, strides):
        if not 0 <= lo <= hi <= s or st < 1:
            raise TypeError(
                f"slice [{start_indices}:{limit_indices}:{strides}] is out of "
                f"bounds for shape {x.shape}{where()}"
            )
        shape.append(-(-(hi - lo) // st))
    return x.update(shape=tuple(shape))


def _check_index_scalars(name, x, indices):
    if len(indices) != x.ndim:
        raise TypeError(
            f"{name} of an array of shape {x.shape} needs {x.ndim} start "
            f"indices, got {len(indices)}{where()}"
        )
    for i in indices:
        if i.shape != () or not dtypes.is_int(i.dtype):
            raise TypeError(
                f"{name} start indices must be integer scalars, got {i.str_short()}{where()}"
            )


dynamic_slice_p = Primitive("dynamic_slice")


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract_eval(x, *indices, slice_sizes):
    _check_index_scalars("dynamic_slice", x, indices)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= d for s, d in zip(slice_sizes, x.shape)):
        raise TypeError(f"dynamic_slice sizes {slice_sizes} do not fit shape {x.shape}{where()}")
    return x.update(shape=slice_sizes)


dynamic_update_slice_p = Primitive("dynamic_update_slice")


@dynamic_update_slice_p.def_abstract_eval
def _dynamic_update_slice_abstract_eval(x, update, *indices):
    _check_index_scalars("dynamic_update_slice", x, indices)
    if update.ndim != x.ndim or any(u > d for u, d in zip(update.shape, x.shape)):
        raise TypeError(
            f"dynamic_update_slice: update of shape {update.shape} does not fit "
            f"in operand of shape {x.shape}{where()}"
        )
    if update.dtype != x.dtype:
        raise TypeError(
            f"dynamic_update_slice: update dtype {update.dtype} differs from "
            f"operand dtype {x.dtype}"
        )
    return x.update(weak_type=x.weak_type and update.weak_type)


concatenate_p = Primitive("concatenate")


@concatenate_p.def_abstract_eval
def _concatenate_abstract_eval(*xs, dimension):
    first = xs[0]
    if not 0 <= dimension < max(first.ndim, 1) or first.ndim == 0:
        raise TypeError(
            f"concatenate: axis {dimension} is out of range for shape {first.shape}{where()}"
        )
    for x in xs[1:]:
        if (
            x.ndim != first.ndim
            or x.dtype != first.dtype
            or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != dimension)
        ):
            shapes = ", ".join(str(y.shape) for y in xs)
            raise TypeError(
                f"concatenate along axis {dimension} needs equal shapes and "
                f"dtypes elsewhere; got shapes {shapes} and dtypes "
                f"{', '.join(str(y.dtype) for y in xs)}{where()}"
            )
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return first.update(shape=tuple(shape), weak_type=all(x.weak_type for x in xs))


split_p = Primitive("split", multiple_results=True)


@split_p.def_abstract_eval
def _split_abstract_eval(x, *, sizes, axis):
    # One primitive rather than a slice per piece: its transpose is one concatenate,
    # where slices would transpose to a pad of every piece and a sum.
    if not 0 <= axis < x.ndim:
        raise TypeError(f"split: axis {axis} is out of range for shape {x.shape}{where()}")
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise TypeError(
            f"split: sizes {sizes} must be non-negative and sum to "
            f"{x.shape[axis]}, the size of axis {axis} of shape {x.shape}{where()}"
        )
    return [x.update(shape=x.shape[:axis] + (s,) + x.shape[axis + 1 :]) for s in sizes]


pad_p = Primitive("pad")


@pad_p.def_abstract_eval
def _pad_abstract_eval(x, padding_value, *, padding_config):
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise TypeError(
            f"pad: padding value must be a scalar of dtype {x.dtype}, got "
            f"{padding_value.str_short()}{where()}"
        )
    if len(padding_config) != x.ndim:
        raise TypeError(
            f"pad: padding_config needs {x.ndim} (lo, hi, interior) "
            f"triples for shape {x.shape}{where()}"
        )
    shape = []
    for d, (lo, hi, interior) in zip(x.shape, padding_config):
        if interior < 0:
            raise TypeError("pad: interior padding must be non-negative")
        n = lo + hi + d + max(d - 1, 0) * interior
        if n < 0:
            raise TypeError(
                f"pad: negative padding {padding_config} removes more than "
                f"shape {x.shape} has{where()}"
            )
        shape.append(n)
    return x.update(shape=tuple(shape))


iota_p = Primitive("iota")


@iota_p.def_abstract_eval
def _iota_abstract_eval(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise TypeError(f"iota: dimension {dimension} out of range for shape {shape}")
    return ShapedArray(shape, dtype)


bitcast_convert_type_p = Primitive("bitcast_convert_type")


@bitcast_convert_type_p.def_abstract_eval
def _bitcast_abstract_eval(x, *, new_dtype):
    old, new = np.dtype(x.dtype), np.dtype(new_dtype)
    if old != new and any(dtypes.is_bool(d) or dtypes.is_complex(d) for d in (old, new)):
        raise TypeError(
            f"bitcast_convert_type does not read {old} bits as {new}: bool and complex "
            f"values are bitcast only to their own dtype (as jax){where()}"
        )
    if old.itemsize == new.itemsize:
        return ShapedArray(x.shape, new)
    if old.itemsize > new.itemsize:  # each element becomes a trailing axis of pieces
        return ShapedArray(x.shape + (old.itemsize // new.itemsize,), new)
    ratio = new.itemsize // old.itemsize
    if not x.shape or x.shape[-1] != ratio:
        raise ValueError(
            f"bitcast_convert_type from {old} to {new} reads {ratio} elements as one: the "
            f"operand's last axis must have size {ratio}, got shape {x.shape}{where()}"
        )
    return ShapedArray(x.shape[:-1], new)


# --- binders (jax.lax's names and argument order) ------------------------------------


def reshape(operand, new_sizes, dimensions=None):
    """`operand`'s elements, read in row-major order, in the shape `new_sizes`, as
    jax.lax.reshape.

    Args:
      operand: an array.
      new_sizes: the new shape, a sequence of ints whose product is `operand`'s size (no -1
        placeholder, unlike jnp.reshape).
      dimensions: None (the default) reads the elements in `operand`'s own axis order; a
        permutation of its axes reads them in that order (a transpose first).

    Returns:
      An array of shape `new_sizes` and `operand`'s dtype.

    Raises:
      TypeError: when the sizes do not hold `operand`'s number of elements.

    Example:
      >>> x = fnp.arange(6).reshape(2, 3)
      >>> lax.reshape(x, (3, 2)).tolist()
      [[0, 1], [2, 3], [4, 5]]
      >>> lax.reshape(x, (6,), dimensions=(1, 0)).tolist()
      [0, 3, 1, 4, 2, 5]
    """
    if dimensions is not None and tuple(dimensions) != tuple(range(get_aval(operand).ndim)):
        operand = transpose(operand, dimensions)
    return reshape_p.bind(operand, new_sizes=_ints(new_sizes))


def transpose(operand, permutation):
    """`operand` with its axes permuted, as jax.lax.transpose.

    Args:
      operand: an array.
      permutation: a permutation of `range(operand.ndim)`: output axis i is `operand`'s axis
        `permutation[i]`.

    Returns:
      An array of shape `tuple(operand.shape[p] for p in permutation)` and `operand`'s dtype.

    Raises:
      TypeError: when `permutation` is not a permutation of the axes.
    """
    return transpose_p.bind(operand, permutation=_ints(permutation))


def squeeze(array, dimensions):
    """`array` without its size-1 axes `dimensions`, as jax.lax.squeeze.

    Args:
      array: an array.
      dimensions: the axes to remove, each of size 1; negative ones count from the end.

    Returns:
      An array with the same elements and dtype, of rank `array.ndim - len(dimensions)`.

    Raises:
      TypeError: when an axis is out of range or its size is not 1.
    """
    ndim = get_aval(array).ndim
    dims = (int(d) + ndim if int(d) < 0 else int(d) for d in dimensions)
    return squeeze_p.bind(array, dimensions=tuple(sorted(dims)))


def rev(operand, dimensions):
    """`operand` with the order of its elements reversed along `dimensions`, as
    jax.lax.rev.

    Args:
      operand: an array.
      dimensions: the axes to reverse (non-negative).

    Returns:
      An array of `operand`'s shape and dtype.

    Raises:
      TypeError: when an axis is out of range.
    """
    return rev_p.bind(operand, dimensions=_ints(dimensions))


def slice(operand, start_indices, limit_indices, strides=None):
    """The static slice `operand[start:limit:stride]` along every axis, as jax.lax.slice.

    Args:
      operand: an array.
      start_indices: the first index along each axis.
      limit_indices: the end (exclusive) along each axis; `0 <= start <= limit <= size`.
      strides: the step along each axis (at least 1); None means 1 everywhere.

    Returns:
      An array of `operand`'s dtype, of size `ceil((limit - start) / stride)` per axis.

    Raises:
      TypeError: when the bounds do not fit `operand`'s shape or there is not one per axis.
    """
    strides = (1,) * len(start_indices) if strides is None else strides
    return slice_p.bind(
        operand,
        start_indices=_ints(start_indices),
        limit_indices=_ints(limit_indices),
        strides=_ints(strides),
    )


def _wrap_negative(x, indices, allow_negative_indices):
    """As jax.lax: a negative start counts from the end (the primitive then clamps, as XLA).

    `allow_negative_indices` is one bool, or one per axis."""
    shape = get_aval(x).shape
    allow = allow_negative_indices
    allow = [allow] * len(indices) if isinstance(allow, (bool, np.bool_)) else list(allow)
    for i, d, a in zip(indices, shape, allow):
        # jax refuses a negative Python or NumPy integer (not a 0-d array)
        if not a and isinstance(i, (int, np.integer)) and i < 0:
            raise ValueError(
                f"index {int(i)} is out of bounds for dimension {d} with "
                f"allow_negative_indices=False{where()}"
            )
    return [_wrap_index(i, d) if a else i for i, d, a in zip(indices, shape, allow)]


def _is_static(i) -> bool:
    return isinstance(i, (int, np.integer, np.ndarray)) and np.ndim(i) == 0


def _wrap_index(i, dim):
    if _is_static(i):  # no ops
        return int(i) + dim if i < 0 else i
    aval = get_aval(i)
    if dtypes.is_unsigned(aval.dtype):
        return i
    if np.iinfo(aval.dtype).max < dim:  # i + dim would overflow a narrow index type
        i = ew.convert_element_type(i, dtypes.int32)
        aval = get_aval(i)
    negative = ew.lt(i, np.zeros((), aval.dtype))
    return ew.select(negative, ew.add(i, np.array(dim, aval.dtype)), i)


def _start_scalars(start_indices):
    """Start indices as a list of scalars: jax.lax also takes them as one 1-d array."""
    if isinstance(start_indices, (list, tuple)):
        return list(start_indices)
    aval = get_aval(start_indices)
    if aval.ndim != 1:
        raise TypeError(
            f"start indices must be a sequence of scalars or a 1-d array, got "
            f"{aval.str_short()}{where()}"
        )
    if isinstance(start_indices, np.ndarray):
        return list(start_indices)
    return [
        reshape_p.bind(slice(start_indices, (k,), (k + 1,)), new_sizes=())
        for k in range(aval.shape[0])
    ]


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    """The block of `operand` of size `slice_sizes` that starts at `start_indices`, which
    may be traced values, as jax.lax.dynamic_slice. As in XLA, a start is clamped so that
    the block lies inside `operand`: an out-of-range start never reads outside nor raises.

    Args:
      operand: an array.
      start_indices: one integer scalar per axis (Python ints or traced scalars), or one 1-d
        integer array holding them.
      slice_sizes: the static size of the block along each axis, each at most that axis'.
      allow_negative_indices: True (the default) counts a negative start from the end of its
        axis, as Python indexing; one bool per axis is accepted too. With False a negative
        start is clamped to 0 like any out-of-range one (jax raises ValueError for a static
        negative start there).

    Returns:
      An array of shape `slice_sizes` and `operand`'s dtype.

    Raises:
      TypeError: for the wrong number of starts, starts that are not integer scalars, or
        sizes that do not fit `operand`.

    Example:
      >>> x = fnp.arange(10)
      >>> lax.dynamic_slice(x, (fnp.array(2),), (3,)).tolist()
      [2, 3, 4]
      >>> lax.dynamic_slice(x, (8,), (3,)).tolist()  # the start is clamped to 7
      [7, 8, 9]
      >>> lax.dynamic_slice(x, (-3,), (2,)).tolist()
      [7, 8]
    """
    start_indices = _wrap_negative(operand, _start_scalars(start_indices), allow_negative_indices)
    return dynamic_slice_p.bind(operand, *start_indices, slice_sizes=_ints(slice_sizes))


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    """`operand` with the block starting at `start_indices` (possibly traced) replaced by
    `update`, as jax.lax.dynamic_update_slice. As in XLA, a start is clamped so that the
    block lies inside `operand`.

    Args:
      operand: an array.
      update: an array of `operand`'s rank and dtype, no larger than `operand` along any axis.
      start_indices: one integer scalar per axis (Python ints or traced scalars), or one 1-d
        integer array holding them.
      allow_negative_indices: True (the default) counts a negative start from the end of its
        axis; one bool per axis is accepted too. With False a negative start is clamped to 0
        (jax raises ValueError for a static negative start there).

    Returns:
      A new array of `operand`'s shape and dtype (`operand` itself is not modified).

    Raises:
      TypeError: for the wrong number of starts, starts that are not integer scalars, or an
        `update` whose rank, sizes or dtype do not fit `operand`.

    Example:
      >>> lax.dynamic_update_slice(fnp.zeros(5), fnp.ones(2), (1,)).tolist()
      [0.0, 1.0, 1.0, 0.0, 0.0]
      >>> lax.dynamic_update_slice(fnp.zeros(5), fnp.ones(2), (4,)).tolist()  # clamped to 3
      [0.0, 0.0, 0.0, 1.0, 1.0]
    """
    start_indices = _wrap_negative(operand, _start_scalars(start_indices), allow_negative_indices)
    return dynamic_update_slice_p.bind(operand, update, *start_indices)


def concatenate(operands, dimension):
    """The arrays of `operands` joined along the axis `dimension`, as jax.lax.concatenate.

    Args:
      operands: a non-empty sequence of arrays of one rank (at least 1) and one dtype, whose
        sizes agree on every axis but `dimension`.
      dimension: the axis to join along (non-negative).

    Returns:
      An array whose size along `dimension` is the sum of the operands' sizes there.

    Raises:
      TypeError: for no operands, an axis out of range, or shapes or dtypes that disagree.
    """
    if not len(operands):
        raise TypeError(f"concatenate needs at least one array{where()}")
    return concatenate_p.bind(*operands, dimension=int(dimension))


def split(operand, sizes, axis=0):
    """Pieces of `operand` along `axis` of the given sizes, as jax.lax.split.

    Args:
      operand: an array.
      sizes: the size of each piece: non-negative ints that sum to `operand.shape[axis]`.
      axis: the axis to split (non-negative); 0 by default.

    Returns:
      A list of `len(sizes)` arrays of `operand`'s dtype, in order along `axis`.

    Raises:
      TypeError: when `axis` is out of range or the sizes do not add up.
    """
    return split_p.bind(operand, sizes=_ints(sizes), axis=int(axis))


def pad(operand, padding_value, padding_config):
    """`operand` padded with `padding_value`, as jax.lax.pad: along each axis, a
    `(lo, hi, interior)` triple adds `lo` elements before, `hi` after and `interior` between
    every two neighbours; a negative `lo` or `hi` removes elements from that end instead.

    Args:
      operand: an array.
      padding_value: a scalar of `operand`'s dtype (a Python scalar only if it is of the same
        kind: `0` does not pad a float array, as in jax).
      padding_config: one `(lo, hi, interior)` triple of ints per axis, `interior >= 0`.

    Returns:
      An array of `operand`'s dtype, of size `lo + hi + d + (d - 1) * interior` along an axis
      of size `d`.

    Raises:
      TypeError: for a padding value of another dtype or shape, a wrong number of triples, a
        negative interior, or negative padding that removes more than the axis holds.

    Example:
      >>> lax.pad(fnp.array([1, 2, 3]), 0, [(1, 2, 1)]).tolist()
      [0, 1, 0, 2, 0, 3, 0, 0]
      >>> lax.pad(fnp.array([1.0, 2.0, 3.0]), 0.0, [(-1, 0, 0)]).tolist()
      [2.0, 3.0]
    """
    return pad_p.bind(
        operand, padding_value, padding_config=tuple(_ints(c) for c in padding_config)
    )


def iota(dtype, size):
    """The 1-d array `[0, 1, ..., size - 1]`, as jax.lax.iota.

    Args:
      dtype: the result's dtype (an integer or floating-point type; canonicalized as
        funcnet does, so 64-bit types become 32-bit unless x64 is enabled).
      size: the length, a static int.

    Returns:
      An array of shape `(size,)` and dtype `dtype`.

    Example:
      >>> lax.iota(np.int32, 4).tolist()
      [0, 1, 2, 3]
    """
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape, dimension):
    """An array of `shape` whose every element is its own index along `dimension`, as
    jax.lax.broadcasted_iota.

    Args:
      dtype: the result's dtype (canonicalized as in `iota`).
      shape: the result's shape.
      dimension: the axis that counts up (non-negative).

    Returns:
      An array of shape `shape` and dtype `dtype`.

    Raises:
      TypeError: when `dimension` is out of range.

    Example:
      >>> lax.broadcasted_iota(np.int32, (2, 3), 1).tolist()
      [[0, 1, 2], [0, 1, 2]]
      >>> lax.broadcasted_iota(np.int32, (2, 3), 0).tolist()
      [[0, 0, 0], [1, 1, 1]]
    """
    return iota_p.bind(
        dtype=dtypes.canonicalize(dtype), shape=_ints(shape), dimension=int(dimension)
    )


def bitcast_convert_type(operand, new_dtype):
    """The bits of `operand` read as `new_dtype`, as jax.lax.bitcast_convert_type.

    For a narrower `new_dtype` each element becomes a new trailing axis of
    `old_bits // new_bits` elements; for a wider one the last axis, of that many elements,
    becomes one. Its derivative is zero (as jax).

    Args:
      operand: an array, or a Python or NumPy scalar.
      new_dtype: the dtype to read the bits as (canonicalized as funcnet does: 64-bit
        types become 32-bit unless x64 is enabled).

    Returns:
      An array of `new_dtype`.

    Raises:
      TypeError: bool or complex values and another dtype.
      ValueError: a wider `new_dtype` and a last axis of the wrong size.

    Example:
      >>> lax.bitcast_convert_type(np.float32(1.0), np.int32).item()
      1065353216
      >>> lax.bitcast_convert_type(np.float32(-0.0), np.uint8).tolist()
      [0, 0, 0, 128]
    """
    return bitcast_convert_type_p.bind(operand, new_dtype=dtypes.canonicalize(new_dtype))
