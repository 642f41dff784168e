"""ONNX translations of indexing: dynamic slices and updates, gather (GatherND) and the
scatter family (ScatterND), in the forms funcnet's indexing produces."""

import numpy as np

from funcnet.lax import indexing as ix
from funcnet.lax import structural as st
from funcnet.onnx._graph import onnx_rules
from funcnet.onnx._structural import slice_static

# --- dynamic slices ------------------------------------------------------------------------


@onnx_rules.register(st.dynamic_slice_p)
def _dynamic_slice(ctx, x, *indices, slice_sizes):
    shape = ctx.in_avals[0].shape
    starts = _clamped_starts(ctx, indices, ctx.in_avals[1:], shape, slice_sizes)
    ends = ctx.op("Add", [starts, ctx.ints(slice_sizes)])
    return [ctx.op("Slice", [x, starts, ends, ctx.ints(range(len(shape)))])]


def _clamped_starts(ctx, indices, index_avals, shape, sizes):
    """The start indices as one int64 vector, clamped so that a window of `sizes` fits
    (XLA's rule for dynamic slices and updates)."""
    starts = [
        ctx.reshape(ctx.cast(i, a.dtype, np.int64), [1]) for i, a in zip(indices, index_avals)
    ]
    starts = ctx.op("Concat", starts, axis=0)
    starts = ctx.op("Max", [starts, ctx.ints([0] * len(shape))])
    return ctx.op("Min", [starts, ctx.ints([n - k for n, k in zip(shape, sizes)])])


@onnx_rules.register(st.dynamic_update_slice_p)
def _dynamic_update_slice(ctx, x, update, *indices):
    shape, sizes = ctx.in_avals[0].shape, ctx.in_avals[1].shape
    if not shape:
        return [update]
    starts = _clamped_starts(ctx, indices, ctx.in_avals[2:], shape, sizes)
    # Pad the update (and a mask of where it lands) to x's shape with pads computed at run
    # time, then pick: Where(mask, padded update, x).
    after = ctx.op("Sub", [ctx.ints([n - k for n, k in zip(shape, sizes)]), starts])
    pads = ctx.op("Concat", [starts, after], axis=0)
    placed = ctx.op("Pad", [update, pads])
    ones = ctx.const(np.ones(sizes, np.uint8))
    mask = ctx.cast(ctx.op("Pad", [ones, pads]), np.uint8, np.bool_)
    return [ctx.op("Where", [mask, placed, x])]


# --- gather ----------------------------------------------------------------------------


def _batching_as_indexed(ctx, idx, batch, index_map, operand_dims, index_dims):
    """Batching axes become indexed axes, indexed by the position along their batch axis
    (appended to the index vectors and to `index_map`)."""
    for ob, ib in zip(operand_dims, index_dims):
        along = [1] * (len(batch) + 1)
        along[ib] = batch[ib]
        pos = np.broadcast_to(np.arange(batch[ib]).reshape(along), batch + (1,))
        idx = ctx.op("Concat", [idx, ctx.const(pos, np.int64)], axis=-1)
        index_map.append(ob)
    return idx


def _window_indices(ctx, idx, index_map, windowed, sizes_of, batch):
    """Windows longer than 1 along indexed axes: one more batch axis each, holding
    start + 0, 1, ... (so that each index vector names one element)."""
    if not windowed:
        return idx
    k = len(index_map)
    sizes = tuple(sizes_of[d] for d in windowed)
    steps = np.zeros(sizes + (k,), np.int64)
    for i, d in enumerate(windowed):
        along = [1] * len(sizes)
        along[i] = sizes[i]
        steps[..., index_map.index(d)] += np.arange(sizes[i]).reshape(along)
    idx = ctx.reshape(idx, batch + (1,) * len(sizes) + (k,))
    return ctx.op("Add", [idx, ctx.const(steps.reshape((1,) * len(batch) + steps.shape))])


@onnx_rules.register(ix.gather_p)
def _gather(ctx, operand, indices, *, dimension_numbers, slice_sizes, **_):
    """XLA's gather as ONNX GatherND: each index vector picks one element along the
    indexed axes (x[i], x[:, idx], x[idx1, idx2], take_along_axis); a window longer than
    1 along an indexed axis (x[idx, 1:3], a dynamic slice) becomes one index per element
    of the window; the axes not indexed are sliced from their start."""
    dn = dimension_numbers
    shape = tuple(ctx.in_avals[0].shape)
    idx_aval = ctx.in_avals[1]
    batch = tuple(idx_aval.shape[:-1])
    index_map = list(dn.start_index_map)
    collapsed = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    # The axes not indexed start at 0: a slice shorter than the axis is a plain Slice.
    indexed = set(index_map) | set(dn.operand_batching_dims)
    sliced = tuple(shape[d] if d in indexed else slice_sizes[d] for d in range(len(shape)))
    if sliced != shape:
        operand, shape = slice_static(ctx, operand, [0] * len(shape), sliced), sliced
    idx = ctx.cast(indices, idx_aval.dtype, np.int64)
    idx = _batching_as_indexed(
        ctx, idx, batch, index_map, dn.operand_batching_dims, dn.start_indices_batching_dims
    )
    # Start indices clamp so that the window fits, as in XLA.
    k = len(index_map)
    idx = ctx.op("Max", [idx, ctx.ints([0] * k)])
    idx = ctx.op("Min", [idx, ctx.ints([shape[d] - slice_sizes[d] for d in index_map])])
    windowed = [d for d in index_map if slice_sizes[d] > 1]
    idx = _window_indices(ctx, idx, index_map, windowed, slice_sizes, batch)
    rest = [d for d in range(len(shape)) if d not in index_map]
    perm = index_map + rest
    if perm != list(range(len(shape))):
        operand = ctx.op("Transpose", [operand], perm=perm)
    y = ctx.op("GatherND", [operand, idx], batch_dims=0)
    # y is (batch, windows, rest); the indexed axes of size 1 that the output keeps
    # become trailing size-1 axes, then one Transpose puts every slice axis at its
    # offset_dims position and the batch axes in the others.
    kept = [d for d in range(len(shape)) if d not in collapsed]
    ones = [d for d in kept if d in index_map and slice_sizes[d] == 1]
    if ones:
        y_shape = batch + tuple(slice_sizes[d] for d in windowed) + tuple(shape[d] for d in rest)
        y = ctx.reshape(y, y_shape + (1,) * len(ones))
    source = {d: len(batch) + i for i, d in enumerate(windowed + rest + ones)}
    offsets = list(dn.offset_dims)
    out_rank = len(batch) + len(kept)
    perm, b = [], 0
    for p in range(out_rank):
        if p in offsets:
            perm.append(source[kept[offsets.index(p)]])
        else:
            perm.append(b)
            b += 1
    if perm != list(range(out_rank)):
        y = ctx.op("Transpose", [y], perm=perm)
    return [y]


def _scatter(reduction):
    def rule(ctx, operand, indices, updates, *, dimension_numbers, **_):
        """XLA's scatter as ONNX ScatterND, in the forms of gather above (`x.at[i]`,
        `x.at[:, idx]`, `x.at[idx, 1:3]`): the operand transposed so that the indexed
        axes come first, one index vector per updated element. An update whose window
        does not fit is dropped, as in XLA: its index vectors are sent to a spare row
        added to the operand and cut off after."""
        dn = dimension_numbers
        shape = tuple(ctx.in_avals[0].shape)
        idx_aval, upd_aval = ctx.in_avals[1], ctx.in_avals[2]
        batch = tuple(idx_aval.shape[:-1])
        index_map = list(dn.scatter_dims_to_operand_dims)
        inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
        kept = [d for d in range(len(shape)) if d not in inserted]
        window = dict(zip(kept, (upd_aval.shape[a] for a in dn.update_window_dims)))
        partial = [d for d in kept if d not in index_map and window[d] != shape[d]]
        if partial or not index_map:
            ctx.fail(
                "updates windows that do not span the axes it does not index; funcnet.onnx "
                "translates the scatters of indexing (x.at[...])"
            )
        sizes = {d: window.get(d, 1) for d in range(len(shape))}
        idx = ctx.cast(indices, idx_aval.dtype, np.int64)
        idx = _batching_as_indexed(
            ctx, idx, batch, index_map, dn.operand_batching_dims, dn.scatter_indices_batching_dims
        )
        k = len(index_map)
        # Which updates fit: 0 <= start <= size - window along every indexed axis.
        fits = ctx.op(
            "And",
            [
                ctx.op("GreaterOrEqual", [idx, ctx.ints([0] * k)]),
                ctx.op("LessOrEqual", [idx, ctx.ints([shape[d] - sizes[d] for d in index_map])]),
            ],
        )
        fits = ctx.op("ReduceMin", [ctx.cast(fits, np.bool_, np.int32), ctx.ints([-1])], keepdims=1)
        windowed = [d for d in index_map if sizes[d] > 1]
        idx = _window_indices(ctx, idx, index_map, windowed, sizes, batch)
        fits = ctx.cast(ctx.reshape(fits, batch + (1,) * (len(windowed) + 1)), np.int32, np.bool_)
        spare = ctx.ints([shape[index_map[0]]] + [0] * (k - 1))
        idx = ctx.op("Where", [fits, idx, spare])
        # The operand as (indexed axes..., other axes...), with the spare row.
        rest = [d for d in range(len(shape)) if d not in index_map]
        perm = index_map + rest
        data = (
            operand
            if perm == list(range(len(shape)))
            else ctx.op("Transpose", [operand], perm=perm)
        )
        pads = [0] * (2 * len(shape))
        pads[len(shape)] = 1
        data = ctx.op("Pad", [data, ctx.ints(pads)])
        # The updates as (scatter axes..., windows along indexed axes..., other axes...).
        scatter_axes = [a for a in range(upd_aval.ndim) if a not in dn.update_window_dims]
        axis_of = dict(zip(kept, dn.update_window_dims))
        ones = [d for d in kept if d in index_map and sizes[d] == 1]
        order = scatter_axes + [axis_of[d] for d in windowed + rest + ones]
        upd = (
            updates
            if order == list(range(upd_aval.ndim))
            else ctx.op("Transpose", [updates], perm=order)
        )
        if ones:
            upd = ctx.reshape(
                upd, batch + tuple(sizes[d] for d in windowed) + tuple(shape[d] for d in rest)
            )
        y = ctx.op("ScatterND", [data, idx, upd], reduction=reduction)
        y = slice_static(ctx, y, [0] * len(shape), [shape[d] for d in perm])
        if perm != list(range(len(shape))):
            y = ctx.op("Transpose", [y], perm=[int(p) for p in np.argsort(perm)])
        return [y]

    return rule


for _p, _reduction in (
    (ix.scatter_p, "none"),
    (ix.scatter_add_p, "add"),
    (ix.scatter_mul_p, "mul"),
    (ix.scatter_min_p, "min"),
    (ix.scatter_max_p, "max"),
):
    onnx_rules.register(_p)(_scatter(_reduction))
