"""Lowering rules (rows of `lowering_rules`) for the pooling-derivative primitives and
the optimization barrier."""

import numpy as np

from funcnet.backend.lowering import i64_array, lowering_rules, tensor_type
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


@lowering_rules.register(wd.select_and_scatter_add_p)
def _lower_select_and_scatter_add(
    em, source, operand, *, select_prim, window_dimensions, window_strides, padding
):
    src_aval, x_aval = em.in_avals
    s = _scalar(x_aval)
    direction = "GE" if select_prim == "ge" else "LE"
    zero = em.constant(0, s)
    select = em.region(
        [s, s],
        [_bool()],
        lambda sub, a, b: [
            sub.op1(
                "stablehlo.compare",
                [a, b],
                [s, s],
                _bool(),
                comparison_direction=f"#stablehlo<comparison_direction {direction}>",
                compare_type="#stablehlo<comparison_type FLOAT>",
            )
        ],
    )
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
