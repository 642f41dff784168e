"""ONNX translations of the shape primitives (broadcast, reshape, transpose, slices,
concatenation, padding, iota), the reductions and sort."""

import numpy as np

from funcnet.lax import reductions as rd
from funcnet.lax import structural as st
from funcnet.lax.broadcast import broadcast_in_dim_p
from funcnet.onnx._graph import is_bool, onnx_rules

# --- shapes -------------------------------------------------------------------------


@onnx_rules.register(broadcast_in_dim_p)
def _broadcast_in_dim(ctx, x, *, shape, broadcast_dimensions, **_):
    in_shape = tuple(ctx.in_avals[0].shape)
    # Give x the result's rank (size-1 axes where it is broadcast), then Expand.
    mid = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        mid[d] = in_shape[i]
    if tuple(mid) != in_shape:
        x = ctx.reshape(x, mid)
    if tuple(mid) == tuple(shape):
        return [x]
    return [ctx.op("Expand", [x, ctx.ints(shape)])]


@onnx_rules.register(st.reshape_p, st.squeeze_p)
def _reshape(ctx, x, **_):
    return [ctx.reshape(x, ctx.out_avals[0].shape)]


@onnx_rules.register(st.transpose_p)
def _transpose(ctx, x, *, permutation):
    return [ctx.op("Transpose", [x], perm=list(permutation))]


@onnx_rules.register(st.rev_p)
def _rev(ctx, x, *, dimensions):
    return [reversed_along(ctx, x, dimensions)]


def reversed_along(ctx, x, dimensions):
    """`x` with the order of its elements reversed along `dimensions`."""
    if not dimensions:
        return x
    n = len(dimensions)
    end = np.iinfo(np.int64).min  # a step of -1 from the last element to before the first
    return ctx.op(
        "Slice",
        [x, ctx.ints([-1] * n), ctx.ints([end] * n), ctx.ints(dimensions), ctx.ints([-1] * n)],
    )


def slice_static(ctx, x, starts, ends, steps=None):
    """`x[starts:ends:steps]` along every axis, with static bounds."""
    axes = list(range(len(starts)))
    inputs = [x, ctx.ints(starts), ctx.ints(ends), ctx.ints(axes)]
    if steps is not None and any(s != 1 for s in steps):
        inputs.append(ctx.ints(steps))
    return ctx.op("Slice", inputs)


@onnx_rules.register(st.slice_p)
def _slice_rule(ctx, x, *, start_indices, limit_indices, strides=None):
    if not start_indices:
        return [x]
    return [slice_static(ctx, x, start_indices, limit_indices, strides)]


@onnx_rules.register(st.concatenate_p)
def _concatenate(ctx, *xs, dimension):
    return [ctx.op("Concat", list(xs), axis=int(dimension))]


@onnx_rules.register(st.split_p)
def _split(ctx, x, *, sizes, axis):
    return ctx.ops("Split", [x, ctx.ints(sizes)], len(sizes), axis=int(axis))


@onnx_rules.register(st.pad_p)
def _pad(ctx, x, value, *, padding_config):
    return [pad(ctx, x, ctx.in_avals[0].shape, padding_config, value)]


def pad(ctx, x, shape, padding_config, value):
    """`x` (of `shape`) padded as lax.pad: (low, high, interior) per axis, low and high
    possibly negative, with the scalar named `value`."""
    shape = list(shape)
    # Interior padding, one axis at a time: (n,) -> (n, 1) -> pad to (n, 1 + k) ->
    # (n * (1 + k),) -> drop the k trailing values.
    for axis, (_, _, interior) in enumerate(padding_config):
        if interior and shape[axis] > 0:
            n = shape[axis]
            y = ctx.op("Unsqueeze", [x, ctx.ints([axis + 1])])
            pads = [0] * (2 * (len(shape) + 1))
            pads[len(shape) + 1 + axis + 1] = interior
            y = ctx.op("Pad", [y, ctx.ints(pads), value])
            shape[axis] = n * (1 + interior)
            y = ctx.reshape(y, shape)
            shape[axis] = n + (n - 1) * interior
            x = slice_static(ctx, y, [0] * len(shape), shape)
    lo = [int(c[0]) for c in padding_config]
    hi = [int(c[1]) for c in padding_config]
    if any(lo) or any(hi):
        pos = [max(p, 0) for p in lo + hi]
        if any(pos):
            x = ctx.op("Pad", [x, ctx.ints(pos), value])
        if any(p < 0 for p in lo + hi):  # negative padding removes elements
            padded = [s + max(a, 0) + max(b, 0) for s, a, b in zip(shape, lo, hi)]
            starts = [-min(a, 0) for a in lo]
            ends = [s + min(b, 0) for s, b in zip(padded, hi)]
            x = slice_static(ctx, x, starts, ends)
    return x


@onnx_rules.register(st.iota_p)
def _iota(ctx, *, dtype, shape, dimension, **_):
    # A constant of one axis, expanded (a (T, T) attention mask's iota stores T numbers).
    axis = [1] * len(shape)
    axis[dimension] = shape[dimension]
    values = ctx.const(np.arange(shape[dimension], dtype=dtype).reshape(axis))
    return [values if tuple(axis) == tuple(shape) else ctx.op("Expand", [values, ctx.ints(shape)])]


# --- reductions ------------------------------------------------------------------------


def _reduce(op_type):
    def rule(ctx, x, *, axes):
        aval = ctx.in_avals[0]
        if not axes:
            return [x]
        if is_bool(aval):
            # Booleans reduce as 0/1 integers: sum/max is `or`, prod/min is `and`.
            x = ctx.cast(x, aval.dtype, np.int32)
        y = ctx.op(op_type, [x, ctx.ints(axes)], keepdims=0)
        return [ctx.cast(y, np.int32, aval.dtype) if is_bool(aval) else y]

    return rule


onnx_rules.register(rd.reduce_sum_p)(_reduce("ReduceSum"))
onnx_rules.register(rd.reduce_max_p)(_reduce("ReduceMax"))
onnx_rules.register(rd.reduce_min_p)(_reduce("ReduceMin"))
onnx_rules.register(rd.reduce_prod_p)(_reduce("ReduceProd"))


def _logical_reduce(op_type):
    def rule(ctx, x, *, axes):
        if not is_bool(ctx.in_avals[0]):
            ctx.fail("reduces integers bitwise, which ONNX cannot express")
        return _reduce(op_type)(ctx, x, axes=axes)

    return rule


onnx_rules.register(rd.reduce_and_p)(_logical_reduce("ReduceMin"))
onnx_rules.register(rd.reduce_or_p)(_logical_reduce("ReduceMax"))


def _argreduce(op_type):
    def rule(ctx, x, *, axes, index_dtype):
        y = ctx.op(op_type, [x], axis=int(axes[0]), keepdims=0, select_last_index=0)
        return [ctx.cast(y, np.int64, index_dtype)]

    return rule


onnx_rules.register(rd.argmax_p)(_argreduce("ArgMax"))
onnx_rules.register(rd.argmin_p)(_argreduce("ArgMin"))


@onnx_rules.register(rd.cumsum_p)
def _cumsum(ctx, x, *, axis, reverse):
    return [ctx.op("CumSum", [x, ctx.ints([axis])], reverse=int(bool(reverse)))]


@onnx_rules.register(rd.sort_p)
def _sort(ctx, *operands, dimension, is_stable, num_keys):
    """One key: TopK of all the elements, smallest first (ONNX's TopK puts equal elements
    in index order, so the sort is stable), then GatherElements for the other operands
    (argsort's iota among them)."""
    if num_keys != 1:
        ctx.fail(f"sorts by {num_keys} keys; funcnet.onnx translates sorts by one key")
    aval = ctx.in_avals[0]
    if is_bool(aval):
        ctx.fail("sorts booleans, which ONNX TopK does not take")
    n = ctx.ints([aval.shape[dimension]])
    values, order = ctx.ops("TopK", [operands[0], n], 2, axis=dimension, largest=0, sorted=1)
    rest = [ctx.op("GatherElements", [x, order], axis=dimension) for x in operands[1:]]
    return [values, *rest]
