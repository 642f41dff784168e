"""Shape manipulation: reshape, transpose, concatenate, stack, split, tile, pad, ..."""

import builtins
import itertools
import math
import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import asarray, broadcast_to, check_arraylike, promote


def normalize_axis(axis, ndim, what="axis"):
    axis = operator.index(axis)
    if not -ndim <= axis < builtins.max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{what} {axis} is out of bounds for an array of dimension {ndim}"
                         f"{_at()}")
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
    """a with a new shape of the same size (one -1 entry is inferred), as jnp.reshape."""
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
            raise TypeError(f"cannot reshape array of shape {x.shape} (size {x.size}) into "
                            f"shape {shape}{_at()}")
        shape = tuple(x.size // known if d == -1 else d for d in shape)
    if shape == x.shape:
        return x
    return lax.reshape(x, shape)


def ravel(a, order="C"):
    """a flattened to one dimension."""
    check_arraylike("ravel", a)
    return _reshape(asarray(a), (-1,), order)


def transpose(a, axes=None):
    """a with its axes permuted (reversed when axes is None), as jnp.transpose."""
    check_arraylike("transpose", a)
    x = asarray(a)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        normalize_axis(a, x.ndim) for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return lax.transpose(x, axes)


def swapaxes(a, axis1, axis2):
    """a with two axes exchanged."""
    check_arraylike("swapaxes", a)
    x = asarray(a)
    perm = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(a, source, destination):
    """a with the `source` axes moved to `destination`, the others in order."""
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
    """a with size-1 axes inserted at `axis` (an int or a tuple)."""
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
    """a without its size-1 axes (or just those in `axis`, which must have size 1)."""
    check_arraylike("squeeze", a)
    x = asarray(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim)
        for ax in axes:
            if x.shape[ax] != 1:
                raise ValueError(f"cannot squeeze axis {ax} of size {x.shape[ax]} "
                                 f"(shape {x.shape}){_at()}")
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
    """Each argument as an array of at least one dimension (a list for several)."""
    return _atleast("atleast_1d", 1, arys)


def atleast_2d(*arys):
    """Each argument as an array of at least two dimensions (a list for several)."""
    return _atleast("atleast_2d", 2, arys)


def atleast_3d(*arys):
    """Each argument as an array of at least three dimensions, as NumPy places them."""
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
    """The arrays joined along an existing axis (flattened first when axis is None), as
    jnp.concatenate."""
    arrays = _sequence("concatenate", arrays)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    arrays = promote(*[asarray(a) for a in arrays])
    if dtype is not None:
        from funcnet.numpy._core import astype
        arrays = [astype(a, dtype) for a in arrays]
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    for a in arrays[1:]:
        if a.ndim != ndim:
            raise ValueError(f"concatenate: all arrays need the same rank, got shapes "
                             f"{', '.join(str(b.shape) for b in arrays)}{_at()}")
    axis = normalize_axis(axis, ndim)
    return lax.concatenate(arrays, axis) if len(arrays) > 1 else arrays[0]


def stack(arrays, axis=0, out=None, dtype=None):
    """The arrays (all of one shape) joined along a new axis, as jnp.stack."""
    from funcnet.numpy._core import check_no_out
    check_no_out("stack", out)
    arrays = _sequence("stack", arrays)
    if not len(arrays):
        raise ValueError("need at least one array to stack")
    arrays = [asarray(a, dtype) for a in arrays]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all arrays need the same shape, got "
                         f"{', '.join(str(a.shape) for a in arrays)}{_at()}")
    axis = normalize_axis(axis, arrays[0].ndim + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis)


def hstack(tup, dtype=None):
    """The arrays joined horizontally (along axis 1; axis 0 for 1-d ones)."""
    arrays = [atleast_1d(a) for a in _sequence("hstack", tup)]
    return concatenate(arrays, 0 if arrays[0].ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    """The arrays joined vertically (along axis 0, 1-d ones as rows)."""
    return concatenate([atleast_2d(a) for a in _sequence("vstack", tup)], 0, dtype=dtype)


def dstack(tup, dtype=None):
    """The arrays joined along the third axis."""
    return concatenate([atleast_3d(a) for a in _sequence("dstack", tup)], 2, dtype=dtype)


def column_stack(tup):
    """1-d arrays as the columns of a 2-d array (2-d ones are joined as they are)."""
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
        raise TypeError(f"{name}: the split points must be concrete (they set the pieces' "
                        f"shapes){_at()}") from e
    if points.ndim != 1 or (points.size and points.dtype.kind not in "iu"):
        raise TypeError(f"{name}: indices_or_sections must be an int or a 1-d sequence of "
                        f"ints, got {indices_or_sections!r:.80}")
    return [int(i) for i in points]


def split(ary, indices_or_sections, axis=0):
    """ary cut into equal pieces (an int) or at the given indices along `axis`, as
    np.split: indices past the end or out of order give empty pieces.

    Returns:
      A list of arrays.
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
            raise ValueError(f"array split does not result in an equal division: axis of "
                             f"size {n} into {sections} sections{_at()}")
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
    """As split, but a number of sections need not divide the axis: the first
    `n % sections` pieces get one element more (as np.array_split)."""
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
    """A repeated `reps` times along each axis (reps aligned to the trailing axes)."""
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


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Each element repeated `repeats` times (an int, or one count per element; counts
    must then be concrete) along `axis` (the flattened array when None), as jnp.repeat.
    total_repeat_length, if given, must equal the result's length."""
    check_arraylike("repeat", a, repeats)
    x = asarray(a)
    out = _repeat(x, repeats, axis)
    if total_repeat_length is not None:
        n = out.shape[0 if axis is None else normalize_axis(axis, out.ndim)]
        if n != total_repeat_length:
            raise ValueError(f"repeat: total_repeat_length={total_repeat_length} but the "
                             f"repeats give {n} elements{_at()}")
    return out


def _repeat(x, repeats, axis):
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axis(axis, x.ndim)
    if not isinstance(repeats, int):
        reps = np.asarray(repeats)
        if reps.ndim == 0:
            repeats = int(reps)
        else:
            from funcnet.numpy._indexing import take
            idx = np.repeat(np.arange(x.shape[axis]), reps)
            return take(x, asarray(idx.astype(np.int32)), axis=axis)
    shape = list(x.shape)
    y = expand_dims(x, axis + 1)
    target = list(y.shape)
    target[axis + 1] = repeats
    y = broadcast_to(y, target)
    shape[axis] *= repeats
    return reshape(y, shape)


def flip(m, axis=None):
    """m with the order of elements reversed along `axis` (all axes when None)."""
    check_arraylike("flip", m)
    x = asarray(m)
    axes = normalize_axes(axis, x.ndim)
    return lax.rev(x, axes) if axes else x


def fliplr(m):
    """m reversed along axis 1."""
    return flip(m, 1)


def flipud(m):
    """m reversed along axis 0."""
    return flip(m, 0)


def roll(a, shift, axis=None):
    """a's elements shifted cyclically by `shift` along `axis` (the flattened array when
    None); shift and axis may be sequences."""
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


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "maximum",
              "minimum", "mean", "median", "empty")
_PAD_KWARGS = {"constant": {"constant_values"}, "linear_ramp": {"end_values"},
               "maximum": {"stat_length"}, "minimum": {"stat_length"},
               "mean": {"stat_length"}, "median": {"stat_length"},
               "reflect": {"reflect_type"}, "symmetric": {"reflect_type"}}


def pad(array, pad_width, mode="constant", **kwargs):
    """array padded along each axis, as np.pad / jnp.pad.

    Args:
      array: the array.
      pad_width: (before, after) counts per axis, in any form NumPy broadcasts to
        (ndim, 2): an int, (n,), (before, after), ((before, after),), one pair per
        axis, ...
      mode: 'constant' (constant_values), 'edge', 'reflect' / 'symmetric'
        (reflect_type 'even' or 'odd'), 'wrap', 'linear_ramp' (end_values), 'maximum',
        'minimum', 'mean', 'median' (stat_length) or 'empty' (zeros here).
      **kwargs: the mode's options, as NumPy's, each broadcast like pad_width.

    Returns:
      The padded array.

    Example: ``fnp.pad(fnp.ones(2), 1)`` is ``[0., 1., 1., 0.]``.
    """
    check_arraylike("pad", array)
    x = asarray(array)
    if callable(mode):
        raise NotImplementedError("pad with a callable mode is not supported; use one of "
                                  f"{', '.join(_PAD_MODES)}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unimplemented padding mode {mode!r} for pad; funcnet "
                                  f"supports {', '.join(_PAD_MODES)}")
    extra = set(kwargs) - _PAD_KWARGS.get(mode, set())
    if extra:
        raise ValueError(f"unsupported keyword arguments for mode {mode!r}: {extra}")
    widths = _as_pairs(pad_width, x.ndim, "pad_width", as_index=True)
    if mode in ("constant", "empty"):
        return _pad_constant(x, widths, kwargs.get("constant_values", 0))
    for axis, (lo, hi) in enumerate(widths):
        if not lo and not hi:
            continue
        if x.shape[axis] == 0:
            raise ValueError(f"can't extend empty axis {axis} using modes other than "
                             f"'constant' or 'empty'{_at()}")
        if mode == "linear_ramp":
            ends = _as_pairs(kwargs.get("end_values", 0), x.ndim, "end_values")[axis]
            x = _pad_linear_ramp(x, axis, lo, hi, ends)
        elif mode in ("maximum", "minimum", "mean", "median"):
            stat = kwargs.get("stat_length")
            lengths = (None, None) if stat is None else _as_pairs(
                stat, x.ndim, "stat_length", as_index=True)[axis]
            x = _pad_stat(x, axis, lo, hi, mode, lengths)
        elif mode in ("reflect", "symmetric"):
            odd = kwargs.get("reflect_type", "even")
            if odd not in ("even", "odd"):
                raise ValueError(f"reflect_type must be 'even' or 'odd', got {odd!r}")
            x = _pad_reflect(x, axis, lo, hi, mode == "symmetric", odd == "odd")
        else:
            x = _pad_by_index(x, axis, lo, hi, mode)
    return x


def _as_pairs(value, ndim, what, as_index=False):
    """value broadcast to (ndim, 2) as NumPy's np.pad does, as a list of pairs."""
    try:
        arr = np.asarray(value)
    except TypeError as e:
        raise TypeError(f"pad: {what} must be concrete{_at()}") from e
    if as_index:
        if arr.size and arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise TypeError(f"pad: {what} must be integers, got {value!r:.80}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"index can't contain negative values ({what}={value!r:.80})")
    try:
        arr = np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: {what} of shape {np.shape(value)} does not broadcast to "
                         f"({ndim}, 2) (one (before, after) pair per axis){_at()}") from None
    return [(v[0].item(), v[1].item()) for v in arr]


def _pad_constant(x, widths, constant_values):
    values = _as_pairs(constant_values, x.ndim, "constant_values")
    first = values[0] if values else (0, 0)
    if all(v == first for pair in values for v in pair):  # one value: a single lax.pad
        fill = np.asarray(first[0]).astype(x.dtype)[()]
        return lax.pad(x, fill, [(int(lo), int(hi), 0) for lo, hi in widths])
    for axis, ((lo, hi), (before, after)) in enumerate(zip(widths, values)):
        config = [(0, 0, 0)] * x.ndim
        for count, value, side in ((lo, before, 0), (hi, after, 1)):
            if count:
                config[axis] = (count, 0, 0) if side == 0 else (0, count, 0)
                x = lax.pad(x, np.asarray(value).astype(x.dtype)[()], config)
    return x


def _take_axis(x, axis, idx):
    from funcnet.numpy._indexing import take
    return take(x, asarray(np.asarray(idx, np.int32)), axis=axis)


def _slice_axis(x, axis, start, stop):
    lo, hi = [0] * x.ndim, list(x.shape)
    lo[axis], hi[axis] = start, stop
    return lax.slice(x, lo, hi)


def _pad_by_index(x, axis, lo, hi, mode):
    """edge and wrap: each new position copies x at an index computed on the host."""
    n = x.shape[axis]
    positions = np.arange(-lo, n + hi)
    idx = np.clip(positions, 0, n - 1) if mode == "edge" else positions % n
    return _take_axis(x, axis, idx)


def _pad_reflect(x, axis, lo, hi, symmetric, odd):
    """reflect/symmetric, in chunks of at most the original length as NumPy does (a
    chunk mirrors the values next to the current edge; 'odd' mirrors them through the
    edge value too), so long pads and odd reflection match NumPy's."""
    n = x.shape[axis]
    if n == 1 and not symmetric:  # nothing to reflect: NumPy repeats the edge
        return _pad_by_index(x, axis, lo, hi, "edge")
    chunk_max = n if symmetric else n - 1
    while lo > 0:
        k = builtins.min(lo, chunk_max)
        idx = np.arange(k - 1, -1, -1) + (0 if symmetric else 1)
        part = _take_axis(x, axis, idx)
        if odd:
            part = 2 * _slice_axis(x, axis, 0, 1) - part
        x, lo = concatenate([part, x], axis), lo - k
    while hi > 0:
        k = builtins.min(hi, chunk_max)
        m = x.shape[axis]
        idx = np.arange(m - 1, m - 1 - k, -1) - (0 if symmetric else 1)
        part = _take_axis(x, axis, idx)
        if odd:
            part = 2 * _slice_axis(x, axis, m - 1, m) - part
        x, hi = concatenate([x, part], axis), hi - k
    return x


def _along(values, x, axis, dtype):
    """A 1-d host array shaped to broadcast along `axis` of x."""
    shape = [1] * x.ndim
    shape[axis] = len(values)
    return asarray(np.asarray(values).reshape(shape).astype(dtype))


def _pad_linear_ramp(x, axis, lo, hi, ends):
    """Ramps from end_values (before, after) to the edge values, as NumPy's linear_ramp
    (computed in floating point; integer arrays round toward -inf as np.linspace)."""
    from funcnet.numpy._core import astype, floor
    n = x.shape[axis]
    work = x if dtypes.is_float(x.dtype) else astype(x, dtypes.default_float())
    parts = []
    if lo:
        edge = _slice_axis(work, axis, 0, 1)
        parts.append(ends[0] + (edge - ends[0]) * _along(np.arange(lo) / lo, x, axis,
                                                         work.dtype))
    parts.append(work)
    if hi:
        edge = _slice_axis(work, axis, n - 1, n)
        parts.append(edge + (ends[1] - edge) * _along(np.arange(1, hi + 1) / hi, x, axis,
                                                      work.dtype))
    out = concatenate(parts, axis)
    return out if out.dtype == x.dtype else astype(floor(out), x.dtype)


def _pad_stat(x, axis, lo, hi, mode, lengths):
    """maximum/minimum/mean/median of the first (last) stat_length elements along the
    axis (all of them when None), repeated over the pad."""
    from funcnet.numpy import _reductions
    from funcnet.numpy._core import astype
    from funcnet.numpy._core import round as round_
    n = x.shape[axis]

    def stat(start, stop):
        if stop <= start:
            raise ValueError("stat_length of 0 yields no value for padding")
        part = _slice_axis(x, axis, start, stop)
        if mode == "median":
            from funcnet.numpy import sort
            s = sort(part, axis=axis)
            k = part.shape[axis]
            mid = _slice_axis(s, axis, (k - 1) // 2, k // 2 + 1)
            value = _reductions.mean(mid, axis=axis, keepdims=True)
        elif mode == "mean":
            value = _reductions.mean(part, axis=axis, keepdims=True)
        else:
            value = getattr(_reductions, mode[:3])(part, axis=axis, keepdims=True)
        if value.dtype != x.dtype:  # integer mean/median: rounded to nearest, as NumPy
            value = astype(round_(value), x.dtype)
        return value

    parts = []
    if lo:
        length = n if lengths[0] is None else builtins.min(lengths[0], n)
        parts.append(_repeat_along(stat(0, length), axis, lo))
    parts.append(x)
    if hi:
        length = n if lengths[1] is None else builtins.min(lengths[1], n)
        parts.append(_repeat_along(stat(n - length, n), axis, hi))
    return concatenate(parts, axis)


def _repeat_along(v, axis, count):
    shape = list(v.shape)
    shape[axis] = count
    return broadcast_to(v, shape)
