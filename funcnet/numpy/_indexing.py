"""NumPy indexing (ints, slices, None, Ellipsis, integer and boolean arrays) and the
functional updates `x.at[idx].set/add/mul/min/max/get`.

Static basic indexing becomes `slice` (+ `rev`, `reshape`); anything with traced
or array indices becomes one `gather` (or `scatter` for updates). Integer
scalars count as advanced indices, which gives NumPy's placement rules for the
broadcast index dimensions.
"""

import operator
from typing import NamedTuple

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import asarray, astype, broadcast_arrays, broadcast_to, is_array, where
from funcnet.numpy._creation import full
from funcnet.numpy._shape import expand_dims, reshape, stack


def _is_int_scalar(x):
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, np.integer)):
        return True
    return is_array(x) and x.shape == () and dtypes.is_int(x.dtype)


def _expand_index(idx, ndim):
    if not isinstance(idx, tuple):
        idx = (idx,)
    idx = tuple(np.asarray(i) if isinstance(i, list) else i for i in idx)
    n_ell = sum(1 for i in idx if i is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 if i is not None and i is not Ellipsis else 0 for i in idx)
    # A boolean array consumes as many axes as it has.
    consumed += sum(np.ndim(i) - 1 for i in idx if _is_bool_array(i))
    if consumed > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but "
                         f"{consumed} were indexed{_at()}")
    if n_ell:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (ndim - consumed) + idx[k + 1:]
    else:
        idx = idx + (slice(None),) * (ndim - consumed)
    return idx


def _is_bool_array(i):
    if is_array(i):
        return i.dtype == dtypes.bool_ and i.ndim > 0
    return isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.ndim > 0


def _expand_bool(idx):
    """Boolean masks become integer index arrays; they must be concrete."""
    out = []
    for i in idx:
        if _is_bool_array(i):
            try:
                mask = np.asarray(i)
            except TypeError as e:
                raise IndexError(
                    "boolean mask indexing needs a concrete mask: its result's shape depends "
                    f"on the values{_at()}. Under jit use fnp.where(mask, x, other) "
                    "instead.") from e
            out.extend(np.nonzero(mask))
        else:
            out.append(i)
    return tuple(out)


class _Plan(NamedTuple):
    operand: object        # after strided slicing (gather only)
    adv_dims: tuple        # operand dims indexed by arrays/ints
    adv_indices: list      # one int32 index array per adv dim, broadcast together
    windows: dict          # operand dim -> (start, size) for step-1 slices
    batch_shape: tuple     # the broadcast shape of the advanced indices
    batch_pos: int         # where the batch dims go among the output dims
    final_tokens: list     # output layout: 'b' (batch block), 'w' (window dim), None


def _plan(x, idx, for_update=False):
    idx = _expand_bool(_expand_index(idx, x.ndim))
    idx = _expand_index(idx, x.ndim)
    adv_dims, adv_raw, windows, tokens, adv_entries = [], [], {}, [], []
    dim = 0
    operand = x
    for pos, i in enumerate(idx):
        if i is None:
            tokens.append(None)
            continue
        size = x.shape[dim]
        if isinstance(i, slice):
            start, stop, step = i.indices(size)
            if step != 1:
                if for_update:
                    raise NotImplementedError("x.at[...] with a strided slice is not supported "
                                              "yet; use an index array")
                operand = _strided(operand, dim, start, stop, step)
                start, stop = 0, operand.shape[dim]
            windows[dim] = (start, max(stop - start, 0))
            tokens.append("w")
        elif _is_int_scalar(i) and not is_array(i):
            i = operator.index(i)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for axis {dim} with size {size}"
                                 f"{_at()}")
            adv_dims.append(dim)
            adv_raw.append(np.int32(i % size))
            adv_entries.append(pos)
            tokens.append("b")
        else:
            arr = asarray(i) if not isinstance(i, np.ndarray) else i
            if not dtypes.is_int(arr.dtype):
                raise IndexError(f"indices must be integers, slices, None, Ellipsis or "
                                 f"integer/boolean arrays; got {arr.dtype} array{_at()}")
            adv_dims.append(dim)
            adv_raw.append(_normalize(arr, size))
            adv_entries.append(pos)
            tokens.append("b")
        dim += 1
    batch_shape = ()
    if adv_raw:
        shapes = [np.shape(a) for a in adv_raw]
        from funcnet.numpy._core import broadcast_shapes
        batch_shape = broadcast_shapes(*shapes)
    adjacent = not adv_entries or adv_entries == list(range(adv_entries[0], adv_entries[-1] + 1))
    if adjacent:
        # The batch block stands where the first advanced index was.
        first = tokens.index("b") if "b" in tokens else 0
        final = [t for k, t in enumerate(tokens) if t != "b" or k == first]
    else:
        final = ["b"] + [t for t in tokens if t != "b"]
    batch_pos = sum(1 for t in final[:final.index("b")] if t == "w") if "b" in final else 0
    return _Plan(operand, tuple(adv_dims), adv_raw, windows, batch_shape, batch_pos, final)


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


def _normalize(arr, size):
    """Negative indices count from the end; indices become int32."""
    if isinstance(arr, np.ndarray):
        return np.where(arr < 0, arr + size, arr).astype(np.int32)
    arr = astype(arr, dtypes.int32)
    return where(arr < 0, arr + np.int32(size), arr)


def _is_static_basic(plan):
    return all(isinstance(a, np.generic) for a in plan.adv_indices)


def getitem(x, idx):
    x = asarray(x)
    plan = _plan(x, idx)
    operand = plan.operand
    if _is_static_basic(plan):
        return _static_take(operand, plan)
    return _gather(operand, plan)


def _static_take(x, plan):
    start, limit = [0] * x.ndim, list(x.shape)
    for d, (s, n) in plan.windows.items():
        start[d], limit[d] = s, s + n
    for d, i in zip(plan.adv_dims, plan.adv_indices):
        start[d], limit[d] = int(i), int(i) + 1
    if start != [0] * x.ndim or limit != list(x.shape):
        x = lax.slice(x, start, limit)
    return reshape(x, _final_shape(x, plan))


def _final_shape(x, plan):
    window_sizes = iter(x.shape[d] for d in range(x.ndim) if d not in plan.adv_dims)
    shape = []
    for t in plan.final_tokens:
        if t is None:
            shape.append(1)
        elif t == "w":
            shape.append(next(window_sizes))
        else:
            shape.extend(plan.batch_shape)
    return tuple(shape)


def _gather_spec(x, plan):
    """Indices (batch + (k,)) and dimension numbers for the plan."""
    window_dims = [d for d in range(x.ndim) if d not in plan.adv_dims]
    starts = [d for d in window_dims if plan.windows.get(d, (0, 0))[0] != 0]
    index_arrays = [broadcast_to(asarray(a), plan.batch_shape) for a in plan.adv_indices]
    index_arrays += [full(plan.batch_shape, plan.windows[d][0], dtypes.int32) for d in starts]
    start_index_map = tuple(plan.adv_dims) + tuple(starts)
    if index_arrays:
        indices = stack(index_arrays, axis=-1)
    else:
        indices = full(plan.batch_shape + (0,), 0, dtypes.int32)
    slice_sizes = [1 if d in plan.adv_dims else plan.windows.get(d, (0, x.shape[d]))[1]
                   for d in range(x.ndim)]
    nb = len(plan.batch_shape)
    offset_dims = tuple(i if i < plan.batch_pos else i + nb for i in range(len(window_dims)))
    return indices, start_index_map, tuple(plan.adv_dims), offset_dims, slice_sizes


def _gather(x, plan):
    indices, start_index_map, collapsed, offset_dims, slice_sizes = _gather_spec(x, plan)
    dn = lax.GatherDimensionNumbers(offset_dims=offset_dims, collapsed_slice_dims=collapsed,
                                    start_index_map=start_index_map)
    out = lax.gather(x, indices, dn, slice_sizes)
    return reshape(out, _final_shape_gathered(out, plan))


def _final_shape_gathered(out, plan):
    shape, k = [], 0
    nb = len(plan.batch_shape)
    for t in plan.final_tokens:
        if t is None:
            shape.append(1)
        elif t == "w":
            shape.append(out.shape[k])
            k += 1
        else:
            shape.extend(out.shape[k:k + nb])
            k += nb
    return tuple(shape)


def _scatter(x, idx, values, kind):
    x = asarray(x)
    plan = _plan(x, idx, for_update=True)
    indices, start_index_map, collapsed, offset_dims, slice_sizes = _gather_spec(x, plan)
    # The updates come in x[idx]'s shape; drop the None axes, broadcast to the window shape.
    values = asarray(values)
    if values.dtype != x.dtype:
        values = astype(values, x.dtype)
    target = _final_shape_from_sizes(plan, slice_sizes, x)
    no_none = [d for d, t in zip(target, _expanded_tokens(plan)) if t is not None]
    try:
        values = broadcast_to(values, target)
    except ValueError:
        raise ValueError(f"x.at[...].{kind}: values of shape {values.shape} do not broadcast "
                         f"to the indexed shape {tuple(target)}{_at()}") from None
    values = reshape(values, _gather_order(plan, slice_sizes, x, no_none))
    dn = lax.ScatterDimensionNumbers(update_window_dims=offset_dims,
                                     inserted_window_dims=collapsed,
                                     scatter_dims_to_operand_dims=start_index_map)
    fn = {"set": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
          "min": lax.scatter_min, "max": lax.scatter_max}[kind]
    return fn(x, indices, values, dn)


def _expanded_tokens(plan):
    out = []
    for t in plan.final_tokens:
        out.extend(["b"] * len(plan.batch_shape) if t == "b" else [t])
    return out


def _final_shape_from_sizes(plan, slice_sizes, x):
    window_sizes = iter(slice_sizes[d] for d in range(x.ndim) if d not in plan.adv_dims)
    shape = []
    for t in plan.final_tokens:
        if t is None:
            shape.append(1)
        elif t == "w":
            shape.append(next(window_sizes))
        else:
            shape.extend(plan.batch_shape)
    return tuple(shape)


def _gather_order(plan, slice_sizes, x, no_none_shape):
    """The gather/scatter layout (batch block at batch_pos) — already the no-None order."""
    return tuple(no_none_shape)


class _IndexUpdateRef:
    def __init__(self, x, idx):
        self._x, self._idx = x, idx

    def get(self):
        return getitem(self._x, self._idx)

    def set(self, values):
        return _scatter(self._x, self._idx, values, "set")

    def add(self, values):
        return _scatter(self._x, self._idx, values, "add")

    def multiply(self, values):
        return _scatter(self._x, self._idx, values, "mul")

    mul = multiply

    def min(self, values):
        return _scatter(self._x, self._idx, values, "min")

    def max(self, values):
        return _scatter(self._x, self._idx, values, "max")


class _IndexUpdateHelper:
    """`x.at[idx]`: functional updates, as jax's."""

    def __init__(self, x):
        self._x = x

    def __getitem__(self, idx):
        return _IndexUpdateRef(self._x, idx)


def take(x, indices, axis=None):
    x = asarray(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = axis % x.ndim
    return getitem(x, (slice(None),) * axis + (indices,))


def take_along_axis(x, indices, axis):
    """x[..., indices, ...] pairing each index with its own row, as NumPy."""
    x, indices = asarray(x), asarray(indices)
    axis = axis % x.ndim
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices of rank {indices.ndim} for an array of "
                         f"rank {x.ndim}{_at()}")
    idx = []
    for d in range(x.ndim):
        if d == axis:
            idx.append(indices)
        else:
            shape = [1] * x.ndim
            shape[d] = x.shape[d]
            idx.append(reshape(lax.iota(dtypes.int32, x.shape[d]), shape))
    idx = broadcast_arrays(*idx)
    return getitem(x, tuple(idx))


del expand_dims
