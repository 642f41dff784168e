"""pad, in every mode of NumPy's and jax.numpy's: constant, edge, wrap, reflect,
symmetric, linear_ramp, maximum/minimum/mean/median and empty."""

import builtins

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy import _reductions
from funcnet.numpy._core import asarray, astype, broadcast_to, check_arraylike, floor
from funcnet.numpy._core import round as round_
from funcnet.numpy._indexing import take
from funcnet.numpy._shape import concatenate
from funcnet.numpy._sorting import sort

_PAD_MODES = (
    "constant",
    "edge",
    "reflect",
    "symmetric",
    "wrap",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "median",
    "empty",
)
_PAD_KWARGS = {
    "constant": {"constant_values"},
    "linear_ramp": {"end_values"},
    "maximum": {"stat_length"},
    "minimum": {"stat_length"},
    "mean": {"stat_length"},
    "median": {"stat_length"},
    "reflect": {"reflect_type"},
    "symmetric": {"reflect_type"},
}


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
      An array of array's dtype, each axis longer by before + after.

    Raises:
      NotImplementedError: for an unknown or callable mode.
      ValueError: for a keyword the mode does not take, negative or non-broadcasting
        widths, or a non-constant pad of an empty axis.
      TypeError: for non-integer or traced widths.

    Example:
      >>> fnp.pad(fnp.ones(2), 1)
      Array([0., 1., 1., 0.], dtype=float32)
      >>> fnp.pad(fnp.array([[1]]), ((1, 0), (0, 2)), constant_values=9).tolist()
      [[9, 9, 9], [1, 9, 9]]
      >>> fnp.pad(fnp.array([1, 2, 3]), (2, 1), mode="reflect").tolist()
      [3, 2, 1, 2, 3, 2]
    """
    check_arraylike("pad", array)
    x = asarray(array)
    if callable(mode):
        raise NotImplementedError(
            f"pad with a callable mode is not supported; use one of {', '.join(_PAD_MODES)}"
        )
    if mode not in _PAD_MODES:
        raise NotImplementedError(
            f"Unimplemented padding mode {mode!r} for pad; funcnet supports {', '.join(_PAD_MODES)}"
        )
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
            raise ValueError(
                f"can't extend empty axis {axis} using modes other than "
                f"'constant' or 'empty'{_at()}"
            )
        if mode == "linear_ramp":
            ends = _as_pairs(kwargs.get("end_values", 0), x.ndim, "end_values")[axis]
            x = _pad_linear_ramp(x, axis, lo, hi, ends)
        elif mode in ("maximum", "minimum", "mean", "median"):
            stat = kwargs.get("stat_length")
            lengths = (
                (None, None)
                if stat is None
                else _as_pairs(stat, x.ndim, "stat_length", as_index=True)[axis]
            )
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
        raise ValueError(
            f"pad: {what} of shape {np.shape(value)} does not broadcast to "
            f"({ndim}, 2) (one (before, after) pair per axis){_at()}"
        ) from None
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
    n = x.shape[axis]
    work = x if dtypes.is_float(x.dtype) else astype(x, dtypes.default_float())
    parts = []
    if lo:
        edge = _slice_axis(work, axis, 0, 1)
        parts.append(ends[0] + (edge - ends[0]) * _along(np.arange(lo) / lo, x, axis, work.dtype))
    parts.append(work)
    if hi:
        edge = _slice_axis(work, axis, n - 1, n)
        parts.append(
            edge + (ends[1] - edge) * _along(np.arange(1, hi + 1) / hi, x, axis, work.dtype)
        )
    out = concatenate(parts, axis)
    return out if out.dtype == x.dtype else astype(floor(out), x.dtype)


def _pad_stat(x, axis, lo, hi, mode, lengths):
    """maximum/minimum/mean/median of the first (last) stat_length elements along the
    axis (all of them when None), repeated over the pad."""
    n = x.shape[axis]

    def stat(start, stop):
        if stop <= start:
            raise ValueError("stat_length of 0 yields no value for padding")
        part = _slice_axis(x, axis, start, stop)
        if mode == "median":
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
