"""Lowering rules (rows of `lowering_rules`) for the pooling-derivative primitives and
the optimization barrier. On CPU, max/min pooling's gradient with windows that tile the
operand lowers to elementwise selects rather than stablehlo.select_and_scatter."""

import numpy as np

from funcnet.backend.lowering import compare, i64_array, lowering_rules, tensor_type
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.lax import windowed as wd


def _scalar(aval):
    return ShapedArray((), aval.dtype)


def _bool():
    return ShapedArray((), dtypes.bool_)


def _pad_attr(padding):
    return (
        f"dense<{[list(p) for p in padding]}> : tensor<{len(padding)}x2xi64>"
        if padding
        else "dense<> : tensor<0x2xi64>"
    )


def _worst(select_prim, dtype):
    # The value a padded position holds, so that it is never selected.
    return -np.inf if select_prim == "ge" else np.inf


@lowering_rules.register(wd.select_and_gather_add_p)
def _lower_select_and_gather_add(
    em,
    tangents,
    operand,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    t_aval, x_aval = em.in_avals
    out = em.out_avals[0]
    s = _scalar(x_aval)
    direction = "GE" if select_prim == "ge" else "LE"
    init_x = em.constant(_worst(select_prim, x_aval.dtype), s)
    init_t = em.constant(0, s)

    def reducer(sub, ax, at, bx, bt):
        take_a = sub.op1(
            "stablehlo.compare",
            [ax, bx],
            [s, s],
            _bool(),
            comparison_direction=f"#stablehlo<comparison_direction {direction}>",
            compare_type="#stablehlo<comparison_type FLOAT>",
        )
        x = sub.op1("stablehlo.select", [take_a, ax, bx], [_bool(), s, s], s)
        t = sub.op1("stablehlo.select", [take_a, at, bt], [_bool(), s, s], s)
        return [x, t]

    region = em.region([s, s, s, s], [s, s], reducer)
    outs = em.op(
        "stablehlo.reduce_window",
        [operand, tangents, init_x, init_t],
        [tensor_type(x_aval), tensor_type(t_aval), tensor_type(s), tensor_type(s)],
        [tensor_type(out), tensor_type(out)],
        {
            "window_dimensions": i64_array(window_dimensions),
            "window_strides": i64_array(window_strides),
            "base_dilations": i64_array(base_dilation),
            "window_dilations": i64_array(window_dilation),
            "padding": _pad_attr(padding),
        },
        [region],
    )
    return [outs[1]]


# Windows up to this many positions take the tiled lowering (one select per position).
_MAX_TILED_WINDOW = 64


def _select_region(em, s, direction):
    """The select computation `a <direction> b` (keep the current `a`) as a region."""
    return em.region([s, s], [_bool()], lambda sub, a, b: [compare(sub, a, b, direction, s)])


def _tiles_operand(shape, window_dimensions, window_strides, padding):
    """Whether the windows tile the operand: unpadded, not overlapping, each window
    starting where the previous one ends (max-pooling's usual 2x2 stride 2)."""
    size = int(np.prod(window_dimensions, dtype=np.int64))
    return (
        1 < size <= _MAX_TILED_WINDOW
        and all(tuple(p) == (0, 0) for p in padding)
        and tuple(window_strides) == tuple(window_dimensions)
        and all(d >= w for d, w in zip(shape, window_dimensions))
    )


def _lower_tiled_select_and_scatter_add(em, source, operand, *, direction, window_dimensions):
    """select_and_scatter for windows that tile the operand, as elementwise ops.

    XLA:CPU expands stablehlo.select_and_scatter into a reduce_window that carries one
    s32 index array per operand dimension and a serial scatter of every window's value
    (1.2-1.3 ms for the digits CNN's 64x8x8x64 pooling, a quarter of its training step;
    the selects below fuse into the relu gradient's loop, ~0.05 ms).
    When the windows tile the operand, each operand element is in exactly one window,
    so the operand reshapes to (out_0, w_0, out_1, w_1, ...) and the selected position
    is found by a chain of selects over the window positions, in row-major order with
    select_and_scatter's own rule (keep the current candidate while `current
    <direction> next` holds, so ties keep the first and a NaN moves the choice on, as
    XLA's select_and_scatter does); the source value goes where the position matches.
    XLA fuses it into one loop over the operand."""
    src_aval, x_aval = em.in_avals
    out_aval = em.out_avals[0]
    dt = x_aval.dtype
    src_shape = tuple(src_aval.shape)
    covered = tuple(o * w for o, w in zip(src_shape, window_dimensions))
    x = operand
    if covered != tuple(x_aval.shape):  # VALID pooling that leaves a remainder
        x = em.op1(
            "stablehlo.slice",
            [x],
            [x_aval],
            ShapedArray(covered, dt),
            start_indices=i64_array([0] * len(covered)),
            limit_indices=i64_array(covered),
            strides=i64_array([1] * len(covered)),
        )
    # (out_0, w_0, out_1, w_1, ...), a window axis only where the window is wider than 1
    split, out_axes, win_axes = [], [], []
    for o, w in zip(src_shape, window_dimensions):
        out_axes.append(len(split))
        split.append(o)
        if w > 1:
            win_axes.append(len(split))
            split.append(w)
    split_aval = ShapedArray(tuple(split), dt)
    xr = em.op1("stablehlo.reshape", [x], [ShapedArray(covered, dt)], split_aval)
    src_val = ShapedArray(src_shape, dt)
    idx_aval = ShapedArray(src_shape, dtypes.int32)
    bool_src = ShapedArray(src_shape, dtypes.bool_)
    win_sizes = [split[a] for a in win_axes]
    one_pos = list(split)
    for a in win_axes:
        one_pos[a] = 1
    sel = idx = None
    for pos, at in enumerate(np.ndindex(*win_sizes)):
        start = [0] * len(split)
        for a, i in zip(win_axes, at):
            start[a] = i
        limit = [s + n for s, n in zip(start, one_pos)]
        piece = em.op1(
            "stablehlo.slice",
            [xr],
            [split_aval],
            ShapedArray(tuple(one_pos), dt),
            start_indices=i64_array(start),
            limit_indices=i64_array(limit),
            strides=i64_array([1] * len(split)),
        )
        piece = em.op1("stablehlo.reshape", [piece], [ShapedArray(tuple(one_pos), dt)], src_val)
        if sel is None:
            sel, idx = piece, em.constant(np.int32(0), idx_aval)
            continue
        keep = compare(em, sel, piece, direction, src_val)
        sel = em.op1("stablehlo.select", [keep, sel, piece], [bool_src, src_val, src_val], src_val)
        idx = em.op1(
            "stablehlo.select",
            [keep, idx, em.constant(np.int32(pos), idx_aval)],
            [bool_src, idx_aval, idx_aval],
            idx_aval,
        )
    # position of every element of the split operand in its window, row-major
    pos_aval = ShapedArray(tuple(win_sizes), dtypes.int32)
    n_pos = int(np.prod(win_sizes, dtype=np.int64))
    positions = em.constant(np.arange(n_pos, dtype=np.int32).reshape(win_sizes), pos_aval)
    split_i32 = ShapedArray(tuple(split), dtypes.int32)
    positions = em.op1(
        "stablehlo.broadcast_in_dim",
        [positions],
        [pos_aval],
        split_i32,
        broadcast_dimensions=i64_array(win_axes),
    )
    idx = em.op1(
        "stablehlo.broadcast_in_dim",
        [idx],
        [idx_aval],
        split_i32,
        broadcast_dimensions=i64_array(out_axes),
    )
    src_split_aval = ShapedArray(tuple(split), src_aval.dtype)
    src = em.op1(
        "stablehlo.broadcast_in_dim",
        [source],
        [src_aval],
        src_split_aval,
        broadcast_dimensions=i64_array(out_axes),
    )
    hit_aval = ShapedArray(tuple(split), dtypes.bool_)
    hit = compare(em, idx, positions, "EQ", split_i32)
    zeros = em.constant(np.zeros((), src_aval.dtype), src_split_aval)
    out = em.op1(
        "stablehlo.select",
        [hit, src, zeros],
        [hit_aval, src_split_aval, src_split_aval],
        src_split_aval,
    )
    covered_aval = ShapedArray(covered, src_aval.dtype)
    out = em.op1("stablehlo.reshape", [out], [src_split_aval], covered_aval)
    if covered != tuple(out_aval.shape):
        zero = em.constant(np.zeros((), src_aval.dtype), ShapedArray((), src_aval.dtype))
        hi = [d - c for d, c in zip(out_aval.shape, covered)]
        out = em.op1(
            "stablehlo.pad",
            [out, zero],
            [covered_aval, ShapedArray((), src_aval.dtype)],
            out_aval,
            edge_padding_low=i64_array([0] * len(hi)),
            edge_padding_high=i64_array(hi),
            interior_padding=i64_array([0] * len(hi)),
        )
    return [out]


@lowering_rules.register(wd.select_and_scatter_add_p)
def _lower_select_and_scatter_add(
    em, source, operand, *, select_prim, window_dimensions, window_strides, padding
):
    src_aval, x_aval = em.in_avals
    direction = "GE" if select_prim == "ge" else "LE"
    if em.module.platform == "cpu" and _tiles_operand(
        x_aval.shape, window_dimensions, window_strides, padding
    ):
        return _lower_tiled_select_and_scatter_add(
            em, source, operand, direction=direction, window_dimensions=window_dimensions
        )
    s = _scalar(x_aval)
    zero = em.constant(0, s)
    select = _select_region(em, s, direction)
    scatter = em.region(
        [s, s], [s], lambda sub, a, b: [sub.op1("stablehlo.add", [a, b], [s, s], s)]
    )
    return em.op(
        "stablehlo.select_and_scatter",
        [operand, source, zero],
        [tensor_type(x_aval), tensor_type(src_aval), tensor_type(s)],
        [tensor_type(em.out_avals[0])],
        {
            "window_dimensions": i64_array(window_dimensions),
            "window_strides": i64_array(window_strides),
            "padding": _pad_attr(padding),
        },
        [select, scatter],
    )


@lowering_rules.register(wd.optimization_barrier_p)
def _lower_optimization_barrier(em, *xs):
    return em.op(
        "stablehlo.optimization_barrier",
        list(xs),
        [tensor_type(a) for a in em.in_avals],
        [tensor_type(a) for a in em.out_avals],
    )


lowering_rules.register(wd.stop_gradient_p)(lambda em, x: [x])


@lowering_rules.register(wd.opaque_true_p)
def _lower_opaque_true(em):
    if em.module.platform != "cpu":
        # XLA's GPU pipeline keeps optimization barriers until after scheduling, so a
        # barrier suffices there, and a conditional would cost a predicate read-back:
        # a constant lets XLA inline the branch (where checkpoint also puts a barrier).
        return [em.constant(np.bool_(True), em.out_avals[0])]
    f32 = ShapedArray((), dtypes.float32)
    lo, hi, two = (em.constant(np.float32(v), f32) for v in (0, 1, 2))
    shape_aval = ShapedArray((0,), dtypes.int64)
    shape = em.constant(np.zeros(0, np.int64), shape_aval)
    draw = em.op(
        "stablehlo.rng",
        [lo, hi, shape],
        [tensor_type(f32)] * 2 + [tensor_type(shape_aval)],
        [tensor_type(f32)],
        {"rng_distribution": "#stablehlo<rng_distribution UNIFORM>"},
    )[0]
    return [
        em.op1(
            "stablehlo.compare",
            [draw, two],
            [f32, f32],
            em.out_avals[0],
            comparison_direction="#stablehlo<comparison_direction LT>",
            compare_type="#stablehlo<comparison_type FLOAT>",
        )
    ]
