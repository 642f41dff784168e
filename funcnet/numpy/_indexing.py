"""NumPy indexing (ints, slices, None, Ellipsis, integer and boolean arrays) and the
functional updates `x.at[idx].set/add/mul/min/max/get`.

Static basic indexing becomes `slice` (+ `rev`, `reshape`); anything with traced
or array indices becomes one `gather` (or `scatter` for updates). Integer
scalars count as advanced indices, which gives NumPy's placement rules for the
broadcast index dimensions. Updates through strided slices scatter into the
flattened array.
"""

import operator
from typing import NamedTuple

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import (
    asarray,
    astype,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    is_array,
    where,
)
from funcnet.numpy._creation import full
from funcnet.numpy._shape import reshape, stack


def _is_int_scalar(x):
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, np.integer)):
        return True
    return is_array(x) and x.shape == () and dtypes.is_int(x.dtype)


def _expand_index(idx, ndim):
    """The index as a tuple with one entry per axis (Ellipsis and missing axes filled in
    with full slices); None entries stay."""
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
    fill = (slice(None),) * (ndim - consumed)
    if n_ell:
        k = next(n for n, i in enumerate(idx) if i is Ellipsis)  # not .index: arrays compare
        return idx[:k] + fill + idx[k + 1:]
    return idx + fill


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
            dim += i is not None
            continue
        try:
            mask = np.asarray(i)
        except TypeError as e:
            raise IndexError(
                "boolean mask indexing needs a concrete mask: its result's shape depends "
                f"on the values{_at()}. Under jit use fnp.where(mask, x, other) "
                "instead.") from e
        if mask.shape != shape[dim:dim + mask.ndim]:
            raise IndexError(f"boolean index of shape {mask.shape} does not match the indexed "
                             f"axes {shape[dim:dim + mask.ndim]} of an array of shape "
                             f"{shape}{_at()}")
        out.extend(np.nonzero(mask))
        dim += mask.ndim
    return tuple(out)


class _Plan(NamedTuple):
    """How x[idx] reads x: advanced (integer) indices gather along `adv_dims`, every
    other operand dim is a window (start, size) of a slice."""
    operand: object        # x, after strided slices were applied (getitem only)
    adv_dims: tuple        # operand dims indexed by arrays/ints
    adv_indices: list      # one int32 index per adv dim (a NumPy scalar when static)
    windows: dict          # operand dim -> (start, size), for every other dim
    batch_shape: tuple     # the broadcast shape of the advanced indices
    batch_pos: int         # how many window dims come before the batch dims
    final_tokens: list     # output layout: 'b' (batch block), 'w' (window dim), None
    strided: bool          # some slice had a step other than 1


def _plan(x, idx):
    idx = _expand_bool(_expand_index(idx, x.ndim), x.shape)
    adv_dims, adv_indices, windows, tokens, adv_entries = [], [], {}, [], []
    operand, strided, dim = x, False, 0
    for pos, i in enumerate(idx):
        if i is None:
            tokens.append(None)
            continue
        size = x.shape[dim]
        if isinstance(i, slice):
            start, stop, step = i.indices(size)
            if step != 1:
                operand, strided = _strided(operand, dim, start, stop, step), True
                start, stop = 0, operand.shape[dim]
            windows[dim] = (start, max(stop - start, 0))
            tokens.append("w")
        else:
            adv_dims.append(dim)
            adv_indices.append(_int_index(i, size, dim))
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
    batch_pos = final[:final.index("b")].count("w") if "b" in final else 0
    return _Plan(operand, tuple(adv_dims), adv_indices, windows, batch_shape, batch_pos,
                 final, strided)


def _int_index(i, size, dim):
    """An integer index (scalar or array) for an axis of `size`, as int32, in range."""
    if _is_int_scalar(i) and not is_array(i):
        i = operator.index(i)
        if not -size <= i < size:
            raise IndexError(f"index {i} is out of bounds for axis {dim} with size {size}"
                             f"{_at()}")
        return np.int32(i % size)
    if isinstance(i, (bool, np.bool_)):
        raise IndexError(f"a boolean scalar index (x[True]) is not supported; use x[None] "
                         f"for a new axis{_at()}")
    arr = i if isinstance(i, np.ndarray) else asarray(i)
    if not dtypes.is_int(arr.dtype):
        raise IndexError(f"indices must be integers, slices, None, Ellipsis or "
                         f"integer/boolean arrays; got {arr.dtype} array{_at()}")
    return _normalize(arr, size)


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


def _result_shape(plan, keep_none=True):
    """The shape of x[idx]: the window sizes in order, the batch block where NumPy puts
    it, and (with keep_none) a 1 for each None."""
    sizes = iter(plan.windows[d][1] for d in sorted(plan.windows))
    shape = []
    for t in plan.final_tokens:
        if t == "w":
            shape.append(next(sizes))
        elif t == "b":
            shape.extend(plan.batch_shape)
        elif keep_none:
            shape.append(1)
    return tuple(shape)


def getitem(x, idx):
    x = asarray(x)
    plan = _plan(x, idx)
    if all(isinstance(a, np.generic) for a in plan.adv_indices):  # static: just slicing
        return _static_take(plan)
    return _gather(plan)


def _static_take(plan):
    x = plan.operand
    start, limit = [0] * x.ndim, list(x.shape)
    for d, (s, n) in plan.windows.items():
        start[d], limit[d] = s, s + n
    for d, i in zip(plan.adv_dims, plan.adv_indices):
        start[d], limit[d] = int(i), int(i) + 1
    if start != [0] * x.ndim or limit != list(x.shape):
        x = lax.slice(x, start, limit)
    return reshape(x, _result_shape(plan))


def _gather_spec(plan):
    """Indices (batch shape + (k,)), dimension numbers and slice sizes for the plan."""
    ndim = plan.operand.ndim
    window_dims = [d for d in range(ndim) if d not in plan.adv_dims]
    # Windows that do not start at 0 get their start as one more (constant) index column.
    starts = [d for d in window_dims if plan.windows[d][0] != 0]
    index_arrays = [broadcast_to(asarray(a), plan.batch_shape) for a in plan.adv_indices]
    index_arrays += [full(plan.batch_shape, plan.windows[d][0], dtypes.int32) for d in starts]
    start_index_map = tuple(plan.adv_dims) + tuple(starts)
    slice_sizes = [1 if d in plan.adv_dims else plan.windows[d][1] for d in range(ndim)]
    nb = len(plan.batch_shape)
    offset_dims = tuple(i if i < plan.batch_pos else i + nb for i in range(len(window_dims)))
    indices = (stack(index_arrays, axis=-1) if index_arrays  # none: `x.at[:].set(v)`
               else full(plan.batch_shape + (0,), 0, dtypes.int32))
    return indices, start_index_map, tuple(plan.adv_dims), offset_dims, slice_sizes


def _gather(plan):
    indices, start_index_map, collapsed, offset_dims, slice_sizes = _gather_spec(plan)
    dn = lax.GatherDimensionNumbers(offset_dims=offset_dims, collapsed_slice_dims=collapsed,
                                    start_index_map=start_index_map)
    out = lax.gather(plan.operand, indices, dn, slice_sizes)
    return reshape(out, _result_shape(plan))


_SCATTERS = {"set": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
             "min": lax.scatter_min, "max": lax.scatter_max}


def _scatter(x, idx, values, kind, **promises):
    """promises: indices_are_sorted / unique_indices, passed to the scatter (as jax's)."""
    x = asarray(x)
    plan = _plan(x, idx)
    if plan.strided:
        return _scatter_strided(x, idx, values, kind, **promises)
    # The updates come in x[idx]'s shape: broadcast to it, then drop the None axes.
    values = asarray(values)
    if values.dtype != x.dtype:
        values = astype(values, x.dtype)
    target = _result_shape(plan)
    try:
        values = broadcast_to(values, target)
    except ValueError:
        raise ValueError(f"x.at[...].{kind}: values of shape {values.shape} do not broadcast "
                         f"to the indexed shape {target}{_at()}") from None
    values = reshape(values, _result_shape(plan, keep_none=False))
    indices, start_index_map, collapsed, offset_dims, _ = _gather_spec(plan)
    dn = lax.ScatterDimensionNumbers(update_window_dims=offset_dims,
                                     inserted_window_dims=collapsed,
                                     scatter_dims_to_operand_dims=start_index_map)
    return _SCATTERS[kind](x, indices, values, dn, **promises)


def _scatter_strided(x, idx, values, kind, **promises):
    """Updates through strided slices, which a scatter window cannot express: scatter
    into the flattened array at the positions x[idx] reads (an iota indexed alike)."""
    positions = getitem(reshape(lax.iota(dtypes.int32, x.size), x.shape), idx)
    return reshape(_scatter(reshape(x, (-1,)), positions, values, kind, **promises), x.shape)


class _IndexUpdateRef:
    def __init__(self, x, idx):
        self._x, self._idx = x, idx

    def get(self):
        return getitem(self._x, self._idx)

    def _update(self, kind, values, indices_are_sorted, unique_indices):
        return _scatter(self._x, self._idx, values, kind, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False):
        return self._update("set", values, indices_are_sorted, unique_indices)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False):
        return self._update("add", values, indices_are_sorted, unique_indices)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False):
        return self._update("mul", values, indices_are_sorted, unique_indices)

    mul = multiply

    def min(self, values, *, indices_are_sorted=False, unique_indices=False):
        return self._update("min", values, indices_are_sorted, unique_indices)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False):
        return self._update("max", values, indices_are_sorted, unique_indices)


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

