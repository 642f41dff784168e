"""NumPy indexing (ints, slices, None, Ellipsis, integer and boolean arrays) and the
functional updates `x.at[idx].set/add/multiply/min/max/get`, with jax's out-of-bounds
rules.

Static basic indexing becomes `slice` (+ `rev`, `reshape`); anything with traced
or array indices becomes one `gather` (or `scatter` for updates). Integer
scalars count as advanced indices, which gives NumPy's placement rules for the
broadcast index dimensions. Updates through strided slices scatter into the
flattened array.

Out-of-bounds indices (after negative ones wrap once) follow jax:
- reads (`x[i]`, `x.at[i].get()`) clamp into range. An index made only of integers
  (Python ints or 0-d arrays) is clamped here explicitly, so its gradient lands on the
  element that was read (jax's static and dynamic slices); with index arrays the clamp
  is the gather's own, and, as in jax, an out-of-bounds entry gets no gradient.
  `mode="clip"` clamps explicitly everywhere; `mode="fill"` (or "drop") reads
  `fill_value` (NaN, the int's minimum, ...) there instead; "promise_in_bounds" is the
  gather's own clamp.
- updates (`x.at[i].add(v)`, ...) drop out-of-bounds entries (and their gradients),
  unless `mode="clip"` (clamped) or "promise_in_bounds" (the scatter's own drop).
"""

import operator
from typing import NamedTuple

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import (
    _select,
    asarray,
    astype,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    check_arraylike,
    check_no_out,
    floor_divide,
    is_array,
    not_equal,
    power,
    remainder,
    true_divide,
)
from funcnet.numpy._creation import full, ones_like
from funcnet.numpy._reductions import cumsum
from funcnet.numpy._shape import _reshape, expand_dims, normalize_axis, ravel, reshape, stack


class IndexTypeError(TypeError, IndexError):
    """An index of the wrong type (a float, say): a TypeError as in jax, and an
    IndexError as in NumPy, so code written for either catches it."""


def _is_int_scalar(x):
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, np.integer)):
        return True
    return is_array(x) and x.shape == () and dtypes.is_int(x.dtype)


def _is_bool_scalar(i):
    if isinstance(i, (bool, np.bool_)):
        return True
    return isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.ndim == 0


def _check_index_type(idx):
    """jax refuses a list as the whole index (NumPy's old meaning was ambiguous)."""
    if isinstance(idx, list):
        raise TypeError(
            "Using a non-tuple sequence for multidimensional indexing is not "
            "allowed; use `arr[array(seq)]` instead of `arr[seq]` (as in jax)"
            f"{_at()}"
        )


def _expand_index(idx, ndim):
    """The index as a tuple with one entry per axis (Ellipsis and missing axes filled in
    with full slices); None entries stay; a scalar bool becomes a new axis (None, or
    False for an empty one)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    idx = tuple(np.asarray(i) if isinstance(i, list) else i for i in idx)
    idx = tuple(
        None if _is_bool_scalar(i) and bool(i) else False if _is_bool_scalar(i) else i for i in idx
    )
    n_ell = sum(1 for i in idx if i is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 if not _is_new_axis(i) and i is not Ellipsis else 0 for i in idx)
    # A boolean array consumes as many axes as it has.
    consumed += sum(np.ndim(i) - 1 for i in idx if _is_bool_array(i))
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but "
            f"{consumed} were indexed{_at()}"
        )
    fill = (slice(None),) * (ndim - consumed)
    if n_ell:
        k = next(n for n, i in enumerate(idx) if i is Ellipsis)  # not .index: arrays compare
        return idx[:k] + fill + idx[k + 1 :]
    return idx + fill


def _is_new_axis(i):
    return i is None or i is False


def _is_bool_array(i):
    if is_array(i):
        return i.dtype == dtypes.bool_ and i.ndim > 0
    return isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.ndim > 0


def _expand_bool(idx, shape):
    """Boolean masks become integer index arrays (one per masked axis); they must be
    concrete, since the result's shape depends on their values."""
    out, dim = [], 0
    for i in idx:
        if not _is_bool_array(i):
            out.append(i)
            dim += not _is_new_axis(i)
            continue
        try:
            mask = np.asarray(i)
        except TypeError as e:
            raise IndexError(
                "boolean mask indexing needs a concrete mask: its result's shape depends "
                f"on the values{_at()}. Under jit use fnp.where(mask, x, other) "
                "instead."
            ) from e
        if mask.shape != shape[dim : dim + mask.ndim]:
            raise IndexError(
                f"boolean index of shape {mask.shape} does not match the indexed "
                f"axes {shape[dim : dim + mask.ndim]} of an array of shape "
                f"{shape}{_at()}"
            )
        out.extend(np.nonzero(mask))
        dim += mask.ndim
    return tuple(out)


class _Plan(NamedTuple):
    """How x[idx] reads x: advanced (integer) indices gather along `adv_dims`, every
    other operand dim is a window (start, size) of a slice."""

    operand: object  # x, after strided slices were applied (getitem only)
    adv_dims: tuple  # operand dims indexed by arrays/ints
    adv_indices: list  # one int32 index per adv dim, negatives wrapped (static: NumPy)
    adv_sizes: tuple  # the size of each adv dim
    windows: dict  # operand dim -> (start, size), for every other dim
    batch_shape: tuple  # the broadcast shape of the advanced indices
    batch_pos: int  # how many window dims come before the batch dims
    final_tokens: list  # output layout: 'b' (batch block), 'w' (window dim), None, False
    strided: bool  # some slice had a step other than 1

    @property
    def scalar_only(self):
        """Only integer scalars (static or 0-d arrays): one element per window, so the
        index is unique and sorted by construction."""
        return all(isinstance(a, np.generic) or a.shape == () for a in self.adv_indices)

    @property
    def static(self):
        return all(isinstance(a, (np.generic, np.ndarray)) for a in self.adv_indices)


def _plan(x, idx):
    idx = _expand_bool(_expand_index(idx, x.ndim), x.shape)
    adv_dims, adv_indices, windows, tokens, adv_entries = [], [], {}, [], []
    operand, strided, dim = x, False, 0
    for pos, i in enumerate(idx):
        if _is_new_axis(i):
            tokens.append(i)
            continue
        size = x.shape[dim]
        if isinstance(i, slice):
            start, stop, step = (
                None if v is None else operator.index(v) for v in (i.start, i.stop, i.step)
            )
            start, stop, step = slice(start, stop, step).indices(size)
            if step != 1:
                operand, strided = _strided(operand, dim, start, stop, step), True
                start, stop = 0, operand.shape[dim]
            windows[dim] = (start, max(stop - start, 0))
            tokens.append("w")
        else:
            adv_dims.append(dim)
            adv_indices.append(_int_index(i, size))
            adv_entries.append(pos)
            tokens.append("b")
        dim += 1
    batch_shape = broadcast_shapes(*(np.shape(a) for a in adv_indices))
    # NumPy's rule: advanced indices next to each other keep their place in the result;
    # separated (by a slice or None), their broadcast dims go first.
    if adv_entries and adv_entries != list(range(adv_entries[0], adv_entries[-1] + 1)):
        final = ["b"] + [t for t in tokens if t != "b"]
    else:
        first = tokens.index("b") if "b" in tokens else 0
        final = [t for k, t in enumerate(tokens) if t != "b" or k == first]
    batch_pos = final[: final.index("b")].count("w") if "b" in final else 0
    return _Plan(
        operand,
        tuple(adv_dims),
        adv_indices,
        tuple(x.shape[d] for d in adv_dims),
        windows,
        batch_shape,
        batch_pos,
        final,
        strided,
    )


def _int_index(i, size):
    """An integer index (scalar or array) for an axis of `size`, as int32 with negative
    indices wrapped once. Static values stay NumPy values (clipped to [-1, size]: still
    out of bounds where they were, and within int32)."""
    if _is_int_scalar(i) and not is_array(i):
        i = operator.index(i)
        i = i + size if i < 0 else i
        return np.int32(min(max(i, -1), size))
    arr = i if isinstance(i, np.ndarray) else asarray(i)
    if not dtypes.is_int(arr.dtype):
        raise IndexTypeError(
            f"indices must be integers, slices, None, Ellipsis or "
            f"integer/boolean arrays; got an index of dtype {arr.dtype}"
            f"{_at()}"
        )
    if isinstance(arr, np.ndarray):
        arr = arr.astype(np.int64)  # int8 indices into an axis of 200: arr + size fits
        arr = np.where(arr < 0, arr + size, arr)
        return np.clip(arr, -1, size).astype(np.int32)
    arr = astype(arr, dtypes.int32)
    return _select(arr < 0, arr + np.int32(size), arr)


def _strided(x, dim, start, stop, step):
    if step > 0:
        lo = [0] * x.ndim
        hi = list(x.shape)
        st = [1] * x.ndim
        lo[dim], hi[dim], st[dim] = start, max(stop, start), step
        return lax.slice(x, lo, hi, st)
    # Negative step: reverse, then slice forwards.
    n = x.shape[dim]
    x = lax.rev(x, (dim,))
    rstart, rstop = n - 1 - start, n - 1 - stop
    return _strided(x, dim, rstart, max(rstop, rstart), -step)


# --- out-of-bounds handling -----------------------------------------------------------

_GATHER_MODES = {
    None: "default",
    "promise_in_bounds": "default",
    "clip": "clip",
    "fill": "fill",
    "drop": "fill",
}
_SCATTER_MODES = {
    None: "drop",
    "fill": "drop",
    "drop": "drop",
    "clip": "clip",
    "promise_in_bounds": "promise",
}


def _mode_name(mode):
    """A GatherScatterMode-like value (enum or string) as its lower-case name."""
    if mode is None:
        return None
    name = getattr(mode, "name", mode)
    if not isinstance(name, str):
        raise TypeError(f"Unknown gather/scatter mode {mode!r}: use a string such as 'clip'")
    return {"fill_or_drop": "fill"}.get(name.lower(), name.lower())


def _gather_mode(mode):
    name = _mode_name(mode)
    if name not in _GATHER_MODES:
        raise ValueError(
            f'Unknown gather mode "{mode}": use None, "promise_in_bounds", "clip", "fill" or "drop"'
        )
    return _GATHER_MODES[name]


def _scatter_mode(mode):
    name = _mode_name(mode)
    if name not in _SCATTER_MODES:
        raise ValueError(
            f'Unknown scatter mode "{mode}": use None, "promise_in_bounds", '
            f'"clip", "fill" or "drop"'
        )
    return _SCATTER_MODES[name]


def _clamped(plan):
    """The plan with every advanced index clamped into [0, size - 1]."""
    out = []
    for a, size in zip(plan.adv_indices, plan.adv_sizes):
        if isinstance(a, np.generic):  # the common x[i]: plain Python, no NumPy call
            out.append(np.int32(min(max(int(a), 0), size - 1)))
        elif isinstance(a, np.ndarray):
            out.append(np.clip(a, 0, size - 1).astype(np.int32))
        else:
            out.append(lax.clamp(np.int32(0), a, np.int32(size - 1)))
    return _Plan(plan[0], plan[1], out, *plan[3:])  # (faster than _replace, on every x[i])


def _in_bounds(plan):
    """Whether each index tuple (over the batch shape) is in bounds: a NumPy bool array
    when every index is static, else a traced/concrete funcnet bool array."""
    if all(isinstance(a, np.generic) for a in plan.adv_indices):  # x.at[i, j]: plain Python
        return np.asarray(
            all(0 <= int(a) < size for a, size in zip(plan.adv_indices, plan.adv_sizes))
        )
    static_mask = np.ones(plan.batch_shape, bool)
    traced = []
    for a, size in zip(plan.adv_indices, plan.adv_sizes):
        if isinstance(a, (np.generic, np.ndarray)):
            static_mask = static_mask & (a >= 0) & (a < size)
        else:
            traced.append(
                lax.bitwise_and(lax.ge(a, _full_like(a, 0)), lax.lt(a, _full_like(a, size)))
            )
    static_mask = np.asarray(static_mask)  # a NumPy bool, not np.bool_, for isinstance
    if not traced:
        return static_mask
    mask = traced[0]
    for m in traced[1:]:
        mask = lax.bitwise_and(*broadcast_arrays(mask, m))
    mask = broadcast_to(mask, plan.batch_shape)
    return mask if static_mask.all() else lax.bitwise_and(mask, asarray(static_mask))


def _full_like(a, value):
    return broadcast_to(np.asarray(value, a.dtype)[()], a.shape)


def _mask_to_layout(mask, plan, shape):
    """A batch-shaped mask placed where the batch dims are in an (un-None'd) result of
    `shape`, and broadcast to it."""
    n_window = len(shape) - len(plan.batch_shape)
    layout = (1,) * plan.batch_pos + tuple(plan.batch_shape) + (1,) * (n_window - plan.batch_pos)
    if isinstance(mask, np.ndarray):
        return np.broadcast_to(mask.reshape(layout), shape)
    return broadcast_to(reshape(mask, layout), shape)


# --- reads --------------------------------------------------------------------------------


def _result_shape(plan, keep_none=True):
    """The shape of x[idx]: the window sizes in order, the batch block where NumPy puts
    it, and (with keep_none) a 1 for each None (0 for a False)."""
    sizes = iter(plan.windows[d][1] for d in sorted(plan.windows))
    shape = []
    for t in plan.final_tokens:
        if t == "w":
            shape.append(next(sizes))
        elif t == "b":
            shape.extend(plan.batch_shape)
        elif keep_none:
            shape.append(0 if t is False else 1)
    return tuple(shape)


def getitem(x, idx, *, mode=None, fill_value=None, indices_are_sorted=False, unique_indices=False):
    """x[idx] with NumPy's indexing rules and jax's out-of-bounds modes (see the module
    docstring). `x.at[idx].get(mode=..., fill_value=...)` calls this.

    Args:
      x: the array.
      idx: ints, slices, None, Ellipsis, integer arrays and (concrete) boolean masks,
        or a tuple of them; a list as the whole index raises TypeError, as in jax.
      mode: out-of-bounds reads: None / "promise_in_bounds" clamp, "clip" clamps
        explicitly, "fill" / "drop" read `fill_value`.
      fill_value: the value "fill" reads (default: nan, the integer minimum, ...).
      indices_are_sorted: a promise passed to the gather.
      unique_indices: a promise passed to the gather.

    Returns:
      An array of x's dtype in the shape NumPy gives x[idx].

    Raises:
      IndexError: for too many indices, or a traced or mismatched boolean mask.
      TypeError: for an index of the wrong type (float indices raise IndexTypeError,
        both a TypeError and an IndexError).

    Example:
      >>> x = fnp.arange(6).reshape(2, 3)
      >>> x[1, ::2].tolist(), x[:, fnp.array([2, 0])].tolist(), x[x > 3].tolist()
      ([3, 5], [[2, 0], [5, 3]], [4, 5])
    """
    _check_index_type(idx)
    x = asarray(x)
    mode = _gather_mode(mode)
    plan = _plan(x, idx)
    shape = _result_shape(plan)
    if fill_value is not None and np.ndim(fill_value) != 0:
        raise ValueError("fill_value argument to indexed get() must be a scalar")
    if plan.adv_dims and 0 in plan.adv_sizes and 0 not in plan.batch_shape:
        raise IndexError(
            f"index is out of bounds for an axis of size 0 (array of shape {x.shape}){_at()}"
        )
    if 0 in shape:  # nothing to read (and a gather of a size-0 operand is not allowed)
        return full(shape, 0, x.dtype)
    mask = _in_bounds(plan) if mode == "fill" else None
    if mode in ("clip", "fill") or (mode == "default" and plan.scalar_only):
        plan = _clamped(plan)
    out = _static_take(plan, shape) if plan.static else _gather(plan, shape)
    if mask is not None and not (isinstance(mask, np.ndarray) and mask.all()):
        out = _fill_out_of_bounds(out, mask, plan, fill_value)
    return out


def _fill_out_of_bounds(out, mask, plan, fill_value):
    fill = lax.indexing.default_fill_value(out.dtype) if fill_value is None else fill_value
    fill = np.asarray(fill).astype(out.dtype)[()]
    flat_shape = _result_shape(plan, keep_none=False)
    mask = _mask_to_layout(mask, plan, flat_shape)
    mask = reshape(asarray(mask), out.shape)
    return _select(mask, out, broadcast_to(fill, out.shape))


def _static_take(plan, shape):
    x = plan.operand
    start, limit = [0] * x.ndim, list(x.shape)
    for d, (s, n) in plan.windows.items():
        start[d], limit[d] = s, s + n
    for d, i in zip(plan.adv_dims, plan.adv_indices):
        if np.ndim(i):  # a static index array: gather it
            return _gather(plan, shape)
        start[d], limit[d] = int(i), int(i) + 1
    if start != [0] * x.ndim or limit != list(x.shape):
        x = lax.slice(x, start, limit)
    return _reshape(x, shape)


def _gather_spec(plan):
    """Indices (batch shape + (k,)), dimension numbers and slice sizes for the plan."""
    ndim = plan.operand.ndim
    window_dims = [d for d in range(ndim) if d not in plan.adv_dims]
    # Windows that do not start at 0 get their start as one more (constant) index column.
    starts = [d for d in window_dims if plan.windows[d][0] != 0]
    start_index_map = tuple(plan.adv_dims) + tuple(starts)
    if plan.static:  # known indices: build them on the host, one transfer, no programs
        cols = [np.broadcast_to(a, plan.batch_shape) for a in plan.adv_indices]
        cols += [np.full(plan.batch_shape, plan.windows[d][0], np.int32) for d in starts]
        index_arrays = [asarray(np.stack(cols, axis=-1).astype(np.int32))] if cols else []
        stacked = True
    else:
        index_arrays = [broadcast_to(asarray(a), plan.batch_shape) for a in plan.adv_indices]
        index_arrays += [full(plan.batch_shape, plan.windows[d][0], dtypes.int32) for d in starts]
        stacked = False
    slice_sizes = [1 if d in plan.adv_dims else plan.windows[d][1] for d in range(ndim)]
    nb = len(plan.batch_shape)
    offset_dims = tuple(i if i < plan.batch_pos else i + nb for i in range(len(window_dims)))
    if stacked and index_arrays:
        indices = index_arrays[0]
    elif index_arrays:
        indices = stack(index_arrays, axis=-1)
    else:  # no index at all: `x.at[:].set(v)`
        indices = full(plan.batch_shape + (0,), 0, dtypes.int32)
    return indices, start_index_map, tuple(plan.adv_dims), offset_dims, slice_sizes


def _gather(plan, shape):
    indices, start_index_map, collapsed, offset_dims, slice_sizes = _gather_spec(plan)
    dn = lax.GatherDimensionNumbers(
        offset_dims=offset_dims, collapsed_slice_dims=collapsed, start_index_map=start_index_map
    )
    out = lax.gather(plan.operand, indices, dn, slice_sizes)
    return _reshape(out, shape)


# --- updates ------------------------------------------------------------------------------

_SCATTERS = {
    "set": lax.scatter,
    "add": lax.scatter_add,
    "mul": lax.scatter_mul,
    "min": lax.scatter_min,
    "max": lax.scatter_max,
}


def _scatter(x, idx, values, kind, *, mode=None, indices_are_sorted=False, unique_indices=False):
    """x.at[idx].<kind>(values): indices_are_sorted / unique_indices are the user's
    promises, passed to the scatter (as jax's); a basic index makes them true."""
    _check_index_type(idx)
    check_arraylike(f"x.at[...].{kind}", values)
    x = asarray(x)
    mode = _scatter_mode(mode)
    plan = _plan(x, idx)
    if plan.scalar_only:  # one element per window: unique and sorted by construction
        indices_are_sorted = unique_indices = True
    promises = {"indices_are_sorted": indices_are_sorted, "unique_indices": unique_indices}
    if plan.strided:
        return _scatter_strided(x, idx, values, kind, mode, promises)
    # The updates come in x[idx]'s shape: broadcast to it, then drop the None axes.
    values = asarray(values)
    if values.dtype != x.dtype:
        values = astype(values, x.dtype)
    target = _result_shape(plan)
    try:
        values = broadcast_to(values, target)
    except ValueError:
        raise ValueError(
            f"x.at[...].{kind}: values of shape {values.shape} do not broadcast "
            f"to the indexed shape {target}{_at()}"
        ) from None
    if 0 in target or 0 in plan.adv_sizes:
        return x  # no element to update (every index would be out of bounds)
    values = reshape(values, _result_shape(plan, keep_none=False))
    if mode == "clip":
        plan = _clamped(plan)
    elif mode == "drop":
        mask = _in_bounds(plan)
        if isinstance(mask, np.ndarray) and not mask.any():
            return x  # every update falls outside
        if not (isinstance(mask, np.ndarray) and mask.all()):
            # The scatter drops them itself; zeroing them keeps gradients out of them.
            mask = _mask_to_layout(mask, plan, values.shape)
            values = _select(
                mask, values, broadcast_to(np.zeros((), values.dtype)[()], values.shape)
            )
    indices, start_index_map, collapsed, offset_dims, _ = _gather_spec(plan)
    dn = lax.ScatterDimensionNumbers(
        update_window_dims=offset_dims,
        inserted_window_dims=collapsed,
        scatter_dims_to_operand_dims=start_index_map,
    )
    return _SCATTERS[kind](x, indices, values, dn, **promises)


def _scatter_strided(x, idx, values, kind, mode, promises):
    """Updates through strided slices, which a scatter window cannot express: scatter
    into the flattened array at the positions x[idx] reads (an iota indexed alike;
    out-of-bounds entries read the position x.size, which the flat scatter drops)."""
    iota = reshape(lax.iota(dtypes.int32, x.size), x.shape)
    positions = getitem(iota, idx, mode="clip" if mode == "clip" else "fill", fill_value=x.size)
    flat_mode = {"clip": "clip", "drop": "drop", "promise": "promise_in_bounds"}[mode]
    out = _scatter(reshape(x, (-1,)), positions, values, kind, mode=flat_mode, **promises)
    return reshape(out, x.shape)


class _IndexUpdateRef:
    """`x.at[idx]`: the functional update methods, as jax's (each returns a new array
    and leaves x unchanged). `idx` is any NumPy index (ints, slices, None, Ellipsis,
    integer or boolean arrays).

    Example:
      >>> x = fnp.zeros(3)
      >>> x.at[1].set(5.0).tolist()
      [0.0, 5.0, 0.0]
      >>> x.at[fnp.array([0, 0])].add(1.0).tolist()
      [2.0, 0.0, 0.0]
      >>> x.tolist()
      [0.0, 0.0, 0.0]
    """

    def __init__(self, x, idx):
        self._x, self._idx = x, idx

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
        """x[idx], with a choice of what out-of-bounds indices read, as jax's
        `x.at[idx].get`.

        Args:
          indices_are_sorted: a promise that the indices are sorted (passed to the
            gather).
          unique_indices: a promise that no index repeats (passed to the gather).
          mode: None or "promise_in_bounds": indices are clamped into range (as x[idx]);
            "clip": clamped explicitly; "fill" (or "drop"): out-of-bounds entries read
            `fill_value`.
          fill_value: the value "fill" reads (default: nan for floats, the minimum of
            signed integers, the maximum of unsigned ones, True for bools).

        Returns:
          An array of x[idx]'s shape and x's dtype.

        Raises:
          ValueError: for an unknown mode or a fill_value that is not a scalar.

        Example:
          >>> x = fnp.arange(3.0)
          >>> x.at[7].get()
          Array(2., dtype=float32)
          >>> x.at[7].get(mode="fill", fill_value=-1.0)
          Array(-1., dtype=float32)
        """
        return getitem(
            self._x,
            self._idx,
            mode=mode,
            fill_value=fill_value,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
        )

    def _update(self, kind, values, indices_are_sorted, unique_indices, mode):
        return _scatter(
            self._x,
            self._idx,
            values,
            kind,
            mode=mode,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
        )

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with x[idx] replaced by values, as jax's `x.at[idx].set` (with repeated
        indices, one of the values wins, unspecified which).

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape (converted to
            x's dtype).
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape and dtype.

        Raises:
          ValueError: when values do not broadcast to x[idx]'s shape.

        Example:
          >>> fnp.zeros(3).at[1:].set(fnp.array([1.0, 2.0])).tolist()
          [0.0, 1.0, 2.0]
          >>> fnp.zeros(3).at[5].set(1.0).tolist()
          [0.0, 0.0, 0.0]
          >>> fnp.zeros(3).at[5].set(1.0, mode="clip").tolist()
          [0.0, 0.0, 1.0]
        """
        return self._update("set", values, indices_are_sorted, unique_indices, mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with values added at x[idx], as jax's `x.at[idx].add` (repeated indices
        accumulate).

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape (converted to
            x's dtype).
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape and dtype.

        Raises:
          ValueError: when values do not broadcast to x[idx]'s shape.

        Example:
          >>> fnp.zeros(3).at[fnp.array([0, 2, 0])].add(1.0).tolist()
          [2.0, 0.0, 1.0]
        """
        return self._update("add", values, indices_are_sorted, unique_indices, mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with x[idx] multiplied by values, as jax's `x.at[idx].multiply` (repeated
        indices multiply repeatedly; `mul` is the same method).

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape (converted to
            x's dtype).
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape and dtype.

        Example:
          >>> fnp.ones(3).at[1:].multiply(3.0).tolist()
          [1.0, 3.0, 3.0]
        """
        return self._update("mul", values, indices_are_sorted, unique_indices, mode)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with x[idx] divided by values, as jax's `x.at[idx].divide`: computed as
        x / ones_like(x).at[idx].multiply(values).

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape.
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape; a floating dtype (integers are divided as floats).

        Example:
          >>> fnp.ones(3).at[0].divide(4.0).tolist()
          [0.25, 1.0, 1.0]
        """
        return true_divide(
            self._x, self._ones_times(values, indices_are_sorted, unique_indices, mode)
        )

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with x[idx] raised to the power values, as jax's `x.at[idx].power`: computed
        as x ** ones_like(x).at[idx].multiply(values).

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape.
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape and dtype.

        Example:
          >>> fnp.full(3, 2.0).at[2].power(3.0).tolist()
          [2.0, 2.0, 8.0]
        """
        return power(self._x, self._ones_times(values, indices_are_sorted, unique_indices, mode))

    def _ones_times(self, values, indices_are_sorted, unique_indices, mode):
        return _scatter(
            ones_like(self._x),
            self._idx,
            values,
            "mul",
            mode=mode,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
        )

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with x[idx] replaced by minimum(x[idx], values), as jax's `x.at[idx].min`.

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape (converted to
            x's dtype).
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape and dtype.

        Example:
          >>> fnp.arange(3.0).at[:].min(1.0).tolist()
          [0.0, 1.0, 1.0]
        """
        return self._update("min", values, indices_are_sorted, unique_indices, mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x with x[idx] replaced by maximum(x[idx], values), as jax's `x.at[idx].max`.

        Args:
          values: an array or a scalar broadcastable to x[idx]'s shape (converted to
            x's dtype).
          indices_are_sorted: a promise that the indices are sorted (passed to the
            scatter; a wrong promise gives unspecified results).
          unique_indices: a promise that no index repeats (passed to the scatter).
          mode: what out-of-bounds indices do: None, "drop" or "fill" drop their
            updates; "clip" clamps them into range; "promise_in_bounds" leaves them to
            the scatter.

        Returns:
          A new array of x's shape and dtype.

        Example:
          >>> fnp.arange(3.0).at[0].max(1.5).tolist()
          [1.5, 1.0, 2.0]
        """
        return self._update("max", values, indices_are_sorted, unique_indices, mode)

    def __repr__(self):
        return f"_IndexUpdateRef({self._x!r}, {self._idx!r})"


class _IndexUpdateHelper:
    """`x.at`, as jax's: `x.at[idx]` gives the functional updates of the elements x[idx]
    (get, set, add, multiply, divide, power, min, max), each returning a new array.

    Args:
      x: the array to update.

    Returns:
      On indexing, `x.at[idx]`: an object whose methods take the values (and the
      out-of-bounds mode) and return the updated copy of x.
    """

    def __init__(self, x):
        self._x = x

    def __getitem__(self, idx):
        return _IndexUpdateRef(self._x, idx)


# --- take, take_along_axis, nonzero ------------------------------------------------------


def _take_mode(fun_name, mode, allowed):
    """take's modes: jax's default is "fill"; "raise" cannot be traced (as in jax)."""
    if mode == "raise" and fun_name == "take":
        raise NotImplementedError(f"The 'raise' mode to {fun_name} is not supported.")
    if mode is not None and _mode_name(mode) not in allowed:
        raise ValueError(
            f"Invalid mode {mode!r} for {fun_name}: use one of {', '.join(map(repr, allowed))}"
        )
    return "fill" if mode is None else _mode_name(mode)


def take(
    a,
    indices,
    axis=None,
    out=None,
    mode=None,
    unique_indices=False,
    indices_are_sorted=False,
    fill_value=None,
):
    """The elements of `a` at `indices` along `axis`, as jnp.take.

    Args:
      a: the array.
      indices: an integer array or scalar (negative indices count from the end).
      axis: the axis to take along; None takes from the flattened array.
      out: only None (funcnet arrays are immutable).
      mode: what out-of-bounds indices do: None or "fill" (jax's default) read
        `fill_value`; "clip" clamps them into range; "wrap" wraps them around.
        "raise" raises NotImplementedError (it cannot be traced).
      unique_indices: a promise that no index repeats (passed to the gather).
      indices_are_sorted: a promise that the indices are sorted (passed to the gather).
      fill_value: what "fill" reads (default: nan for floats, the minimum of signed
        integers, the maximum of unsigned ones, True for bools).

    Returns:
      An array of a's dtype whose shape is a's with `axis` replaced by indices' shape.

    Raises:
      ValueError: for an unknown mode.

    Example:
      >>> x = fnp.arange(5.0)
      >>> fnp.take(x, fnp.array([0, 4, 7])).tolist()
      [0.0, 4.0, nan]
      >>> fnp.take(x, fnp.array([0, 7]), mode="clip").tolist()
      [0.0, 4.0]
      >>> fnp.take(fnp.array([[1, 2], [3, 4]]), fnp.array([1]), axis=1).tolist()
      [[2], [4]]
    """
    check_arraylike("take", a, indices)
    check_no_out("take", out)
    x = asarray(a)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis(axis, x.ndim)
    mode = _take_mode("take", mode, ("fill", "clip", "wrap"))
    indices = _wrap(indices, x.shape[axis]) if mode == "wrap" else indices
    return getitem(
        x,
        (slice(None),) * axis
        + (asarray(indices) if not isinstance(indices, np.ndarray) else indices,),
        mode=None if mode == "wrap" else mode,
        fill_value=fill_value,
        unique_indices=unique_indices,
        indices_are_sorted=indices_are_sorted,
    )


def _axis(axis, ndim):
    return normalize_axis(axis, ndim)


def _wrap(indices, size):
    if isinstance(indices, np.ndarray) or np.isscalar(indices):
        return np.asarray(indices) % size
    return remainder(astype(indices, dtypes.int32), np.int32(size))


def take_along_axis(
    arr, indices, axis=-1, mode=None, fill_value=None, *, wrap_negative_indices=None
):
    """The elements of arr at `indices` along `axis`, each index paired with its own
    position on the other axes, as jnp.take_along_axis (the inverse of argsort's
    indices).

    Args:
      arr: the array.
      indices: an integer array of arr's rank; on the other axes it broadcasts with arr
        (size-1 axes stretch).
      axis: the axis to take along; None uses the flattened arr and indices.
      mode: what out-of-bounds indices do: None or "fill" read `fill_value`, "drop"
        the same, "clip" clamps them, "promise_in_bounds" leaves them to the gather.
      fill_value: what "fill" reads (default: nan for floats, the integer minimum, ...).
      wrap_negative_indices: whether negative indices count from the end (default:
        yes, except with mode="promise_in_bounds", as jax); False makes them out of
        bounds.

    Returns:
      An array of arr's dtype and the broadcast shape, indices' size along `axis`.

    Raises:
      TypeError: for non-integer indices.
      ValueError: for indices of another rank, or an unknown mode.

    Example:
      >>> a = fnp.array([[10, 30, 20], [60, 40, 50]])
      >>> fnp.take_along_axis(a, fnp.argsort(a, axis=1), axis=1).tolist()
      [[10, 20, 30], [40, 50, 60]]
    """
    check_arraylike("take_along_axis", arr, indices)
    x, indices = asarray(arr), asarray(indices)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
        indices = reshape(indices, (-1,))
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"take_along_axis: indices must be integers, got {indices.dtype}")
    axis = _axis(axis, x.ndim)
    if indices.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: indices of rank {indices.ndim} for an array of rank {x.ndim}{_at()}"
        )
    mode = _take_mode("take_along_axis", mode, ("fill", "drop", "clip", "promise_in_bounds"))
    if wrap_negative_indices is None:
        wrap_negative_indices = mode != "promise_in_bounds"
    if not wrap_negative_indices:  # a negative index must stay negative once wrapped
        indices = _select(indices < 0, _full_like(indices, -x.shape[axis] - 1), indices)
    # Indices broadcast against x on every other axis, as NumPy (size-1 axes stretch).
    shape = list(
        broadcast_shapes(
            x.shape[:axis] + (1,) + x.shape[axis + 1 :],
            indices.shape[:axis] + (1,) + indices.shape[axis + 1 :],
        )
    )
    shape[axis] = indices.shape[axis]
    indices = broadcast_to(indices, shape)
    idx = []
    for d in range(x.ndim):
        if d == axis:
            idx.append(indices)
        else:
            iota_shape = [1] * x.ndim
            iota_shape[d] = shape[d]
            idx.append(reshape(lax.iota(dtypes.int32, shape[d]), iota_shape))
    x = broadcast_to(x, [s if d != axis else x.shape[axis] for d, s in enumerate(shape)])
    return getitem(x, tuple(broadcast_arrays(*idx)), mode=mode, fill_value=fill_value)


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """x where condition is true, else y, elementwise, as jnp.where.

    With only a condition, it is fnp.nonzero(condition, size=size,
    fill_value=fill_value).

    Args:
      condition: an array or a scalar; nonzero counts as true.
      x: the values where condition is true (an array or a scalar).
      y: the values elsewhere; condition, x and y broadcast together.
      size: for the one-argument form only (see fnp.nonzero).
      fill_value: for the one-argument form only (see fnp.nonzero).

    Returns:
      An array of the broadcast shape and x's and y's promoted dtype (the one-argument
      form: a tuple of index arrays).

    Raises:
      ValueError: when only one of x and y is given, or size / fill_value with x and y.

    Example:
      >>> fnp.where(fnp.array([True, False]), 1.0, fnp.array([5.0, 6.0])).tolist()
      [1.0, 6.0]
      >>> fnp.where(fnp.array([0, 3, 0, 4]))
      (Array([1, 3], dtype=int32),)
    """
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError(
            "Either both or neither of the x and y arguments should be provided "
            f"to fnp.where, got {x} and {y}."
        )
    if size is not None or fill_value is not None:
        raise ValueError(
            "size and fill_value arguments cannot be used in three-term where function."
        )
    check_arraylike("where", condition, x, y)
    return _select(condition, x, y)


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Each element of a repeated, consecutively, along `axis`, as jnp.repeat.

    Args:
      a: the array.
      repeats: an int, or one count per element along `axis` (then concrete: the
        result's length depends on them).
      axis: the axis to repeat along; None repeats the flattened array.
      total_repeat_length: the result's length along `axis`, if given (a check here).

    Returns:
      An array of a's dtype, longer along `axis` (1-d when axis is None).

    Raises:
      ValueError: when total_repeat_length differs from the result's length.

    Example:
      >>> fnp.repeat(fnp.array([1, 2]), 2).tolist()
      [1, 1, 2, 2]
    """
    check_arraylike("repeat", a, repeats)
    x = asarray(a)
    out = _repeat(x, repeats, axis)
    if total_repeat_length is not None:
        n = out.shape[0 if axis is None else normalize_axis(axis, out.ndim)]
        if n != total_repeat_length:
            raise ValueError(
                f"repeat: total_repeat_length={total_repeat_length} but the "
                f"repeats give {n} elements{_at()}"
            )
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
            idx = np.repeat(np.arange(x.shape[axis]), reps)
            return take(x, asarray(idx.astype(np.int32)), axis=axis)
    shape = list(x.shape)
    y = expand_dims(x, axis + 1)
    target = list(y.shape)
    target[axis + 1] = repeats
    y = broadcast_to(y, target)
    shape[axis] *= repeats
    return reshape(y, shape)


def nonzero(a, *, size=None, fill_value=None):
    """The indices of a's nonzero elements, as jnp.nonzero.

    Without `size` the count depends on the values, so `a` must be concrete (not under
    jit). With `size`, the first `size` indices are kept and the rest padded with
    fill_value, which works under jit.

    Args:
      a: an array of at least one dimension.
      size: the fixed number of indices to return (default: as many as there are).
      fill_value: the padding index (default 0); a tuple gives one per axis.

    Returns:
      A tuple of a.ndim int arrays (int32; int64 with x64), one per axis, in C order.

    Raises:
      ValueError: for a 0-d array, or a fill_value tuple of the wrong length.
      TypeError: for a traced array without `size`.

    Example:
      >>> fnp.nonzero(fnp.array([[0, 1], [2, 0]]))
      (Array([0, 1], dtype=int32), Array([1, 0], dtype=int32))
      >>> fnp.nonzero(fnp.array([0, 3, 0, 4]), size=3, fill_value=-1)[0].tolist()
      [1, 3, -1]
    """
    check_arraylike("nonzero", a)
    x = asarray(a)
    if x.ndim == 0:
        raise ValueError(
            "Calling nonzero on 0d arrays is not allowed. Use fnp.atleast_1d(scalar) instead."
        )
    if size is None:
        try:
            host = np.asarray(x)
        except Exception as e:
            raise TypeError(
                f"nonzero needs a concrete array (the result's size depends on "
                f"its values); under jit pass size=...{_at()}"
            ) from e
        return tuple(asarray(i.astype(dtypes.default_int())) for i in np.nonzero(host))
    return _nonzero_sized(x, operator.index(size), fill_value)


def _nonzero_sized(x, size, fill_value):
    flat = not_equal(reshape(x, (-1,)), 0)
    slot = cumsum(flat, dtype=dtypes.int32) - np.int32(1)  # where each hit goes
    slot = _select(flat, slot, broadcast_to(np.int32(size), slot.shape))  # misses: dropped
    found = full((size,), -1, dtypes.int32)
    found = _scatter(found, slot, lax.iota(dtypes.int32, x.size), "set")
    missing = found < 0
    fills = fill_value if isinstance(fill_value, tuple) else (fill_value,) * x.ndim
    if len(fills) != x.ndim:
        raise ValueError(
            f"nonzero: fill_value must be a scalar or a tuple of length "
            f"{x.ndim}, got {fill_value!r}"
        )
    out, stride = [], 1
    for d in reversed(range(x.ndim)):
        coord = remainder(floor_divide(found, np.int32(stride)), np.int32(x.shape[d]))
        fill = np.asarray(0 if fills[d] is None else fills[d], np.int32)[()]
        # jax's default int: int64 with x64.
        coord = astype(coord, dtypes.default_int())
        out.append(_select(missing, broadcast_to(fill.astype(coord.dtype), (size,)), coord))
        stride *= x.shape[d]
    return tuple(reversed(out))


def flatnonzero(a, *, size=None, fill_value=None):
    """The indices of the nonzero elements of the flattened array, as jnp.flatnonzero.

    Args:
      a: an array.
      size: the fixed number of indices to return (see fnp.nonzero).
      fill_value: the padding index with `size` (see fnp.nonzero).

    Returns:
      A 1-d int32 array.
    """
    check_arraylike("flatnonzero", a)
    return nonzero(reshape(asarray(a), (-1,)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """The indices of a's nonzero elements, one row each, as jnp.argwhere.

    Args:
      a: an array of at least one dimension.
      size: the fixed number of rows to return (see fnp.nonzero).
      fill_value: the padding index with `size` (see fnp.nonzero).

    Returns:
      An int32 array of shape (n, a.ndim), n the number of nonzero elements (or size).

    Raises:
      ValueError: for a 0-d array.

    Example:
      >>> fnp.argwhere(fnp.array([[0, 1], [2, 0]])).tolist()
      [[0, 1], [1, 0]]
    """
    check_arraylike("argwhere", a)
    x = asarray(a)
    if x.ndim == 0:
        raise ValueError("argwhere of a 0-d array: use fnp.atleast_1d first")
    return stack(nonzero(x, size=size, fill_value=fill_value), axis=1)
