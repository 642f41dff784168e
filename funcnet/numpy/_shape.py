"""Shape manipulation: reshape, transpose, concatenate, stack, split, tile, pad, ..."""

import builtins
import itertools
import math
import operator

import numpy as np

from funcnet import lax
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import asarray, broadcast_to, promote


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


def reshape(x, *shape, order="C"):
    if order != "C":
        raise NotImplementedError("only C order reshapes are supported")
    x = asarray(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
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


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = asarray(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        normalize_axis(a, x.ndim) for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return lax.transpose(x, axes)


def swapaxes(x, axis1, axis2):
    x = asarray(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    x = asarray(x)
    src = normalize_axes(source, x.ndim)
    dst = normalize_axes(destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same length")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(x, axis):
    x = asarray(x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out_ndim = x.ndim + len(axes)
    axes = sorted(normalize_axis(a, out_ndim) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return lax.reshape(x, shape)


def squeeze(x, axis=None):
    x = asarray(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim)
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"cannot squeeze axis {a} of size {x.shape[a]} "
                                 f"(shape {x.shape}){_at()}")
    return lax.squeeze(x, axes) if axes else x


def atleast_1d(x):
    x = asarray(x)
    return reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(x):
    x = asarray(x)
    return reshape(x, (1,) * (2 - x.ndim) + x.shape) if x.ndim < 2 else x


def concatenate(arrays, axis=0):
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    arrays = promote(*[asarray(a) for a in arrays])
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


def stack(arrays, axis=0):
    if not len(arrays):
        raise ValueError("need at least one array to stack")
    arrays = [asarray(a) for a in arrays]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all arrays need the same shape, got "
                         f"{', '.join(str(a.shape) for a in arrays)}{_at()}")
    axis = normalize_axis(axis, arrays[0].ndim + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis)


def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, 0 if arrays[0].ndim == 1 else 1)


def vstack(arrays):
    return concatenate([atleast_2d(a) for a in arrays], 0)


def split(x, indices_or_sections, axis=0):
    x = asarray(x)
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"array split does not result in an equal division: axis of "
                             f"size {n} into {indices_or_sections} sections{_at()}")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step)) if step else [0] * (indices_or_sections + 1)
    else:
        bounds = [0, *(_clip_index(int(i), n) for i in indices_or_sections), n]
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


def array_split(x, sections, axis=0):
    x = asarray(x)
    n = x.shape[normalize_axis(axis, x.ndim)]
    size, extra = divmod(n, sections)
    bounds, acc = [], 0
    for i in range(sections - 1):
        acc += size + (1 if i < extra else 0)
        bounds.append(acc)
    return split(x, bounds, axis)


def tile(x, reps):
    x = asarray(x)
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


def repeat(x, repeats, axis=None):
    x = asarray(x)
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


def flip(x, axis=None):
    x = asarray(x)
    axes = normalize_axes(axis, x.ndim)
    return lax.rev(x, axes) if axes else x


def fliplr(x):
    return flip(x, 1)


def flipud(x):
    return flip(x, 0)


def roll(x, shift, axis=None):
    x = asarray(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    if isinstance(shift, (tuple, list)) or isinstance(axis, (tuple, list)):
        # Several axes (shift and axis broadcast against each other, as in NumPy).
        for s, a in np.broadcast(np.asarray(shift), np.asarray(axis)):
            x = roll(x, int(s), int(a))
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


def pad(x, pad_width, mode="constant", constant_values=0):
    x = asarray(x)
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad mode {mode!r} is not supported")
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2)
                         if np.ndim(pad_width) else np.full((1, 2), pad_width),
                         (x.ndim, 2)) if x.ndim else np.zeros((0, 2), np.int64)
    if mode == "constant":
        value = np.asarray(constant_values, x.dtype)[()]
        return lax.pad(x, value, [(int(lo), int(hi), 0) for lo, hi in pw])
    for axis, (lo, hi) in enumerate(pw):
        lo, hi = int(lo), int(hi)
        n = x.shape[axis]
        parts = []
        if lo:
            parts.append(_pad_part(x, axis, n, lo, mode, before=True))
        parts.append(x)
        if hi:
            parts.append(_pad_part(x, axis, n, hi, mode, before=False))
        if len(parts) > 1:
            x = concatenate(parts, axis)
    return x


def _pad_part(x, axis, n, count, mode, before):
    from funcnet.numpy._indexing import take
    if mode == "edge":
        idx = [0] * count if before else [n - 1] * count
    elif mode == "wrap":
        idx = [(i - count) % n for i in range(count)] if before else [i % n for i in range(count)]
    elif mode == "reflect":
        period = 2 * n - 2 if n > 1 else 1
        idx = [abs(((-count + i) + period) % period) for i in range(count)] if before else [
            (n - 1 + 1 + i) % period for i in range(count)]
        idx = [i if i < n else period - i for i in idx]
    else:  # symmetric
        period = 2 * n
        idx = [(-count + i) % period for i in range(count)] if before else [
            (n + i) % period for i in range(count)]
        idx = [i if i < n else period - 1 - i for i in idx]
    return take(x, asarray(np.asarray(idx, np.int32)), axis=axis)
