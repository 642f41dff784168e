"""Shape manipulation: reshape, transpose, concatenate, stack, split, tile, pad, ..."""

import builtins
import itertools
import math
import operator

import numpy as np

from funcnet import lax
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import (
    asarray,
    astype,
    broadcast_to,
    check_arraylike,
    check_no_out,
    promote,
)


def normalize_axis(axis, ndim, what="axis"):
    axis = operator.index(axis)
    if not -ndim <= axis < builtins.max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{what} {axis} is out of bounds for an array of dimension {ndim}{_at()}")
    return axis % ndim if ndim else 0


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"repeated axis in {axis}")
        return axes
    return (normalize_axis(axis, ndim),)


def reshape(a, shape, order="C", *, copy=None):
    """a's elements, in C order, in a new shape of the same size, as jnp.reshape.

    Args:
      a: an array or a scalar.
      shape: an int or a sequence of ints; one entry may be -1, inferred from the size.
      order: only "C" (others raise NotImplementedError).
      copy: accepted for NumPy compatibility (arrays are immutable).

    Returns:
      An array of `shape` and a's dtype (a itself when the shape is unchanged).

    Raises:
      TypeError: when the sizes differ.
      ValueError: for more than one -1.

    Example:
      >>> fnp.reshape(fnp.arange(6), (2, -1)).tolist()
      [[0, 1, 2], [3, 4, 5]]
    """
    check_arraylike("reshape", a)
    return _reshape(asarray(a), shape, order)


def _reshape(x, shape, order="C"):
    if order != "C":
        raise NotImplementedError("only C order reshapes are supported")
    shape = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else shape
    shape = tuple(operator.index(d) for d in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"can only specify one unknown dimension in reshape {shape}")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or x.size % known:
            raise TypeError(
                f"cannot reshape array of shape {x.shape} (size {x.size}) into shape {shape}{_at()}"
            )
        shape = tuple(x.size // known if d == -1 else d for d in shape)
    if shape == x.shape:
        return x
    return lax.reshape(x, shape)


def ravel(a, order="C"):
    """a flattened to one dimension, in C order, as jnp.ravel.

    Args:
      a: an array or a scalar.
      order: only "C" (others raise NotImplementedError).

    Returns:
      A 1-d array of a.size elements with a's dtype.
    """
    check_arraylike("ravel", a)
    return _reshape(asarray(a), (-1,), order)


def transpose(a, axes=None):
    """a with its axes permuted, as jnp.transpose.

    Args:
      a: an array or a scalar.
      axes: a permutation of the axes (negative ones count from the end): axis i of the
        result is axis axes[i] of a. None reverses them.

    Returns:
      An array of a's dtype whose shape is a's permuted.

    Example:
      >>> fnp.transpose(fnp.ones((2, 3, 4))).shape
      (4, 3, 2)
    """
    check_arraylike("transpose", a)
    x = asarray(a)
    axes = (
        tuple(reversed(range(x.ndim)))
        if axes is None
        else tuple(normalize_axis(a, x.ndim) for a in axes)
    )
    if axes == tuple(range(x.ndim)):
        return x
    return lax.transpose(x, axes)


def swapaxes(a, axis1, axis2):
    """a with two axes exchanged, as jnp.swapaxes.

    Args:
      a: an array.
      axis1: an axis (negative counts from the end).
      axis2: the other axis.

    Returns:
      An array of a's dtype with the two axes' sizes exchanged in its shape.
    """
    check_arraylike("swapaxes", a)
    x = asarray(a)
    perm = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(a, source, destination):
    """a with the `source` axes moved to `destination`, the others keeping their order,
    as jnp.moveaxis.

    Args:
      a: an array.
      source: an axis or a sequence of axes to move.
      destination: their new positions (as many as in source).

    Returns:
      An array of a's dtype with the axes moved.

    Raises:
      ValueError: when source and destination differ in length, or repeat an axis.

    Example:
      >>> fnp.moveaxis(fnp.ones((2, 3, 4)), 0, -1).shape
      (3, 4, 2)
    """
    check_arraylike("moveaxis", a)
    x = asarray(a)
    src = normalize_axes(source, x.ndim)
    dst = normalize_axes(destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same length")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(a, axis):
    """a with size-1 axes inserted, as jnp.expand_dims.

    Args:
      a: an array or a scalar.
      axis: an int or a tuple of ints: the new axes' positions in the result.

    Returns:
      An array of a's dtype with len(axis) more dimensions.

    Example:
      >>> fnp.expand_dims(fnp.arange(6), (0, 2)).shape
      (1, 6, 1)
    """
    check_arraylike("expand_dims", a)
    x = asarray(a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out_ndim = x.ndim + len(axes)
    axes = sorted(normalize_axis(ax, out_ndim) for ax in axes)
    shape = list(x.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return lax.reshape(x, shape)


def squeeze(a, axis=None):
    """a without size-1 axes, as jnp.squeeze.

    Args:
      a: an array or a scalar.
      axis: an int or a tuple of ints (each of size 1), or None for every size-1 axis.

    Returns:
      An array of a's dtype and size without those axes.

    Raises:
      ValueError: for an axis in `axis` whose size is not 1.

    Example:
      >>> fnp.squeeze(fnp.ones((1, 3, 1))).shape
      (3,)
    """
    check_arraylike("squeeze", a)
    x = asarray(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim)
        for ax in axes:
            if x.shape[ax] != 1:
                raise ValueError(
                    f"cannot squeeze axis {ax} of size {x.shape[ax]} (shape {x.shape}){_at()}"
                )
    return lax.squeeze(x, axes) if axes else x


def _atleast_shape(shape, ndim):
    """NumPy's placement of the new axes: in front for 1-d/2-d; (1, n, 1) for atleast_3d."""
    if len(shape) >= ndim:
        return shape
    if ndim < 3:
        return (1,) * (ndim - len(shape)) + shape
    return {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]


def _atleast(name, ndim, arys):
    check_arraylike(name, *arys)
    out = []
    for x in map(asarray, arys):
        shape = _atleast_shape(x.shape, ndim)
        out.append(_reshape(x, shape) if shape != x.shape else x)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys):
    """Each argument as an array of at least one dimension, as jnp.atleast_1d.

    Args:
      *arys: arrays or scalars; a 0-d one becomes shape (1,).

    Returns:
      One array for one argument, else a list of them.
    """
    return _atleast("atleast_1d", 1, arys)


def atleast_2d(*arys):
    """Each argument as an array of at least two dimensions, as jnp.atleast_2d.

    Args:
      *arys: arrays or scalars; new axes go in front: shape (n,) becomes (1, n).

    Returns:
      One array for one argument, else a list of them.
    """
    return _atleast("atleast_2d", 2, arys)


def atleast_3d(*arys):
    """Each argument as an array of at least three dimensions, as jnp.atleast_3d.

    Args:
      *arys: arrays or scalars; new axes go where NumPy puts them: () becomes (1, 1, 1),
        (n,) becomes (1, n, 1) and (m, n) becomes (m, n, 1).

    Returns:
      One array for one argument, else a list of them.

    Example:
      >>> fnp.atleast_3d(fnp.arange(6)).shape
      (1, 6, 1)
    """
    return _atleast("atleast_3d", 3, arys)


def _sequence(name, arrays):
    """The arrays of a sequence argument (an array counts as the sequence of its rows)."""
    if hasattr(arrays, "shape") and hasattr(arrays, "ndim"):
        if arrays.ndim == 0:
            raise ValueError(f"{name}: zero-dimensional arrays cannot be concatenated")
        return [arrays[i] for i in range(arrays.shape[0])]
    arrays = list(arrays)
    check_arraylike(name, *arrays)
    return arrays


def concatenate(arrays, axis=0, dtype=None):
    """The arrays joined along an existing axis, as jnp.concatenate.

    Args:
      arrays: a sequence of arrays of one rank, equal in shape except along `axis` (an
        array stands for the sequence of its rows).
      axis: the axis to join along (negative counts from the end); None flattens every
        array first.
      dtype: the result's dtype (default: the arrays' promoted dtype).

    Returns:
      An array whose size along `axis` is the sum of the arrays'.

    Raises:
      ValueError: for no arrays, 0-d arrays or arrays of different ranks.
      TypeError: for shapes that differ off `axis`.

    Example:
      >>> a, b = fnp.array([[1, 2]]), fnp.array([[3, 4]])
      >>> fnp.concatenate([a, b]).tolist()
      [[1, 2], [3, 4]]
      >>> fnp.concatenate([a, b], axis=1).tolist()
      [[1, 2, 3, 4]]
    """
    arrays = _sequence("concatenate", arrays)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    arrays = promote(*[asarray(a) for a in arrays])
    if dtype is not None:
        arrays = [astype(a, dtype) for a in arrays]
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    for a in arrays[1:]:
        if a.ndim != ndim:
            raise ValueError(
                f"concatenate: all arrays need the same rank, got shapes "
                f"{', '.join(str(b.shape) for b in arrays)}{_at()}"
            )
    axis = normalize_axis(axis, ndim)
    return lax.concatenate(arrays, axis) if len(arrays) > 1 else arrays[0]


def stack(arrays, axis=0, out=None, dtype=None):
    """The arrays joined along a new axis, as jnp.stack.

    Args:
      arrays: a sequence of arrays of one shape (an array stands for the sequence of its
        rows).
      axis: the new axis' position in the result.
      out: only None (arrays are immutable); others raise NotImplementedError.
      dtype: the result's dtype (default: the arrays' promoted dtype).

    Returns:
      An array with one more dimension, of size len(arrays), at `axis`.

    Raises:
      ValueError: for no arrays or arrays of different shapes.

    Example:
      >>> fnp.stack([fnp.array([1, 2]), fnp.array([3, 4])], axis=1).tolist()
      [[1, 3], [2, 4]]
    """
    check_no_out("stack", out)
    arrays = _sequence("stack", arrays)
    if not len(arrays):
        raise ValueError("need at least one array to stack")
    arrays = [asarray(a, dtype) for a in arrays]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"stack: all arrays need the same shape, got "
            f"{', '.join(str(a.shape) for a in arrays)}{_at()}"
        )
    axis = normalize_axis(axis, arrays[0].ndim + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis)


def hstack(tup, dtype=None):
    """The arrays joined horizontally, as jnp.hstack: along axis 1, or axis 0 for 1-d
    ones.

    Args:
      tup: a sequence of arrays or scalars (scalars count as 1-d).
      dtype: the result's dtype (default: the arrays' promoted dtype).

    Returns:
      The joined array.
    """
    arrays = [atleast_1d(a) for a in _sequence("hstack", tup)]
    return concatenate(arrays, 0 if arrays[0].ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    """The arrays joined vertically (along axis 0), 1-d ones as rows, as jnp.vstack.

    Args:
      tup: a sequence of arrays or scalars.
      dtype: the result's dtype (default: the arrays' promoted dtype).

    Returns:
      An array of at least two dimensions.

    Example:
      >>> fnp.vstack([fnp.array([1, 2]), fnp.array([3, 4])]).tolist()
      [[1, 2], [3, 4]]
    """
    return concatenate([atleast_2d(a) for a in _sequence("vstack", tup)], 0, dtype=dtype)


def dstack(tup, dtype=None):
    """The arrays joined along the third axis, as jnp.dstack (each first made at least
    3-d as fnp.atleast_3d does).

    Args:
      tup: a sequence of arrays or scalars.
      dtype: the result's dtype (default: the arrays' promoted dtype).

    Returns:
      An array of at least three dimensions.
    """
    return concatenate([atleast_3d(a) for a in _sequence("dstack", tup)], 2, dtype=dtype)


def column_stack(tup):
    """1-d arrays as the columns of a 2-d array, as jnp.column_stack (2-d ones are
    joined as they are).

    Args:
      tup: a sequence of arrays or scalars of one length.

    Returns:
      A 2-d array with one column per 1-d argument.
    """
    arrays = [asarray(a) for a in _sequence("column_stack", tup)]
    arrays = [_reshape(a, (-1, 1)) if a.ndim < 2 else a for a in arrays]
    return concatenate(arrays, 1)


def _split_points(name, indices_or_sections):
    """The split points as a list of Python ints (None for a number of sections)."""
    if isinstance(indices_or_sections, (int, np.integer)) or np.ndim(indices_or_sections) == 0:
        return None
    try:
        points = np.asarray(indices_or_sections)
    except TypeError as e:  # a traced array
        raise TypeError(
            f"{name}: the split points must be concrete (they set the pieces' shapes){_at()}"
        ) from e
    if points.ndim != 1 or (points.size and points.dtype.kind not in "iu"):
        raise TypeError(
            f"{name}: indices_or_sections must be an int or a 1-d sequence of "
            f"ints, got {indices_or_sections!r:.80}"
        )
    return [int(i) for i in points]


def split(ary, indices_or_sections, axis=0):
    """ary cut into pieces along `axis`, as jnp.split.

    Args:
      ary: an array.
      indices_or_sections: an int n: n equal pieces; or a 1-d sequence of concrete
        ints: the cut points (negative ones count from the end; points past the end or
        out of order give empty pieces, as NumPy).
      axis: the axis to cut.

    Returns:
      A list of arrays of ary's dtype.

    Raises:
      ValueError: when n pieces do not divide the axis equally, or n <= 0.
      TypeError: for traced or non-integer cut points.

    Example:
      >>> [p.tolist() for p in fnp.split(fnp.arange(6), 3)]
      [[0, 1], [2, 3], [4, 5]]
      >>> [p.tolist() for p in fnp.split(fnp.arange(6), [1, 4])]
      [[0], [1, 2, 3], [4, 5]]
    """
    check_arraylike("split", ary)
    x = asarray(ary)
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    points = _split_points("split", indices_or_sections)
    if points is None:
        sections = operator.index(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"number sections must be larger than 0, got {sections}{_at()}")
        if n % sections:
            raise ValueError(
                f"array split does not result in an equal division: axis of "
                f"size {n} into {sections} sections{_at()}"
            )
        step = n // sections
        bounds = [i * step for i in range(sections + 1)]
    else:
        bounds = [0, *(_clip_index(i, n) for i in points), n]
    if all(lo <= hi for lo, hi in itertools.pairwise(bounds)):
        return lax.split(x, [hi - lo for lo, hi in itertools.pairwise(bounds)], axis)
    out = []  # decreasing split points (NumPy gives empty pieces): one slice each
    for lo, hi in itertools.pairwise(bounds):
        start = [0] * x.ndim
        limit = list(x.shape)
        start[axis], limit[axis] = lo, builtins.max(hi, lo)
        out.append(lax.slice(x, start, limit))
    return out


def _clip_index(i, n):
    """A split point as a slice bound: negative counts from the end, then clipped to [0, n]."""
    return builtins.min(builtins.max(i + n if i < 0 else i, 0), n)


def array_split(ary, indices_or_sections, axis=0):
    """ary cut into pieces along `axis` as fnp.split, but n pieces need not divide the
    axis: the first `size % n` get one element more, as jnp.array_split.

    Args:
      ary: an array.
      indices_or_sections: an int n > 0 (the number of pieces) or the cut points, as
        in fnp.split.
      axis: the axis to cut.

    Returns:
      A list of arrays of ary's dtype.

    Example:
      >>> [p.tolist() for p in fnp.array_split(fnp.arange(5), 3)]
      [[0, 1], [2, 3], [4]]
    """
    check_arraylike("array_split", ary)
    x = asarray(ary)
    if _split_points("array_split", indices_or_sections) is not None:
        return split(x, indices_or_sections, axis)
    sections = operator.index(indices_or_sections)
    if sections <= 0:
        raise ValueError(f"number sections must be larger than 0, got {sections}{_at()}")
    n = x.shape[normalize_axis(axis, x.ndim)]
    size, extra = divmod(n, sections)
    bounds, acc = [], 0
    for i in range(sections - 1):
        acc += size + (1 if i < extra else 0)
        bounds.append(acc)
    return split(x, bounds, axis)


def tile(A, reps):
    """A repeated `reps` times along each axis, as jnp.tile.

    Args:
      A: an array or a scalar.
      reps: an int or a sequence of ints, aligned with A's trailing axes (A gains
        leading size-1 axes when reps is longer).

    Returns:
      An array of A's dtype with max(A.ndim, len(reps)) dimensions, each axis' size
      multiplied by its count.

    Example:
      >>> fnp.tile(fnp.array([1, 2]), 2).tolist()
      [1, 2, 1, 2]
      >>> fnp.tile(fnp.array([1, 2]), (2, 1)).tolist()
      [[1, 2], [1, 2]]
    """
    check_arraylike("tile", A)
    x = asarray(A)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    ndim = builtins.max(x.ndim, len(reps))
    reps = (1,) * (ndim - len(reps)) + reps
    x = reshape(x, (1,) * (ndim - x.ndim) + x.shape)
    # Broadcast a new axis before each, then merge the pairs.
    expanded = []
    for r, d in zip(reps, x.shape):
        expanded += [r, d]
    y = broadcast_to(reshape(x, [s for d in x.shape for s in (1, d)]), expanded)
    return reshape(y, [r * d for r, d in zip(reps, x.shape)])


def flip(m, axis=None):
    """m with the order of its elements reversed along `axis`, as jnp.flip.

    Args:
      m: an array or a scalar.
      axis: an int, a tuple of ints, or None for all axes.

    Returns:
      An array of m's shape and dtype.

    Example:
      >>> fnp.flip(fnp.array([[1, 2], [3, 4]])).tolist()
      [[4, 3], [2, 1]]
    """
    check_arraylike("flip", m)
    x = asarray(m)
    axes = normalize_axes(axis, x.ndim)
    return lax.rev(x, axes) if axes else x


def fliplr(m):
    """m reversed along axis 1 (left-right), as jnp.fliplr.

    Args:
      m: an array of at least two dimensions.

    Returns:
      An array of m's shape and dtype.
    """
    return flip(m, 1)


def flipud(m):
    """m reversed along axis 0 (up-down), as jnp.flipud.

    Args:
      m: an array of at least one dimension.

    Returns:
      An array of m's shape and dtype.
    """
    return flip(m, 0)


def roll(a, shift, axis=None):
    """a's elements shifted cyclically along `axis`, as jnp.roll.

    Args:
      a: an array.
      shift: the number of places (negative shifts towards the start): an int, or a
        sequence of them with a sequence of axes (they broadcast together).
      axis: an int, a sequence of ints, or None: the flattened array is shifted, then
        given a's shape back.

    Returns:
      An array of a's shape and dtype.

    Example:
      >>> fnp.roll(fnp.arange(6), 2).tolist()
      [4, 5, 0, 1, 2, 3]
    """
    check_arraylike("roll", a)
    x = asarray(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    if isinstance(shift, (tuple, list)) or isinstance(axis, (tuple, list)):
        # Several axes (shift and axis broadcast against each other, as in NumPy).
        for s, ax in np.broadcast(np.asarray(shift), np.asarray(axis)):
            x = roll(x, int(s), int(ax))
        return x
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if n == 0:
        return x
    shift = int(shift) % n
    if shift == 0:
        return x
    a, b = split(x, [n - shift], axis)
    return concatenate([b, a], axis)
