"""ONNX translations of the primitives that hold programs: calls (`jit`, `remat`,
custom derivative rules) inlined, `cond` as ONNX If, and the loops (`scan`, `while`) as
ONNX Loop."""

import numpy as np

from funcnet.lax import control_flow as cf
from funcnet.lax.calls import jit_p
from funcnet.onnx._graph import onnx_rules, translate
from funcnet.onnx._structural import reversed_along
from funcnet.transforms.custom import custom_jvp_call_p, custom_vjp_call_p
from funcnet.transforms.remat import remat_p


def _typed(avals):
    return [(a.dtype, tuple(a.shape)) for a in avals]


# --- calls: the sub-program inlined ------------------------------------------------------


def _inline(ctx, closed, args):
    consts = [ctx.const(np.asarray(c)) for c in closed.consts]
    return translate(ctx, closed.jaxpr, consts + list(args))


@onnx_rules.register(jit_p)
def _jit(ctx, *args, jaxpr, **_):
    return _inline(ctx, jaxpr, args)


@onnx_rules.register(remat_p)
def _remat(ctx, *args, jaxpr, **_):
    return _inline(ctx, jaxpr, args)


@onnx_rules.register(custom_jvp_call_p, custom_vjp_call_p)
def _custom_call(ctx, *args, call_jaxpr, **_):
    # Inference needs only the primal program; the derivative rules are dropped.
    return _inline(ctx, call_jaxpr, args)


@onnx_rules.register(cf.cond_p)
def _cond(ctx, index, *operands, branches):
    # ONNX If nodes, one per branch but the last: `index == i` runs branch i, else the
    # next test; an index out of range runs the last branch, as stablehlo.case.
    out_types = _typed(ctx.out_avals)

    def from_branch(i):
        if i == len(branches) - 1:
            return _inline(ctx, branches[i], operands)
        is_i = ctx.op("Equal", [index, ctx.const(np.asarray(i, np.int32))])
        run_i = ctx.subgraph([], out_types, lambda: _inline(ctx, branches[i], operands))
        later = ctx.subgraph([], out_types, lambda: from_branch(i + 1))
        return ctx.ops("If", [is_i], len(out_types), then_branch=run_i, else_branch=later)

    return from_branch(0)


# --- loops: ONNX Loop ---------------------------------------------------------------------

_STEP = ("i", np.int64, ())  # a Loop body's first two inputs: the step and the condition
_GO_ON = ("go_on", np.bool_, ())


@onnx_rules.register(cf.scan_p)
def _scan(ctx, *args, jaxpr, num_consts, num_carry, length, reverse, **_):
    consts = args[:num_consts]
    init = args[num_consts : num_consts + num_carry]
    xs = args[num_consts + num_carry :]
    carry_avals = ctx.in_avals[num_consts : num_consts + num_carry]
    if length == 0:
        ctx.fail("has length 0 (an ONNX Loop cannot give empty stacked outputs a shape)")

    def body(i, go_on, *carry):
        if reverse:
            i = ctx.op("Sub", [ctx.const(np.asarray(length - 1, np.int64)), i])
        x_i = [ctx.op("Gather", [x, i], axis=0) for x in xs]
        return [go_on, *_inline(ctx, jaxpr, [*consts, *carry, *x_i])]

    inputs = [_STEP, _GO_ON] + [("carry", d, s) for d, s in _typed(carry_avals)]
    sub = ctx.subgraph(inputs, [_GO_ON[1:]] + _typed(jaxpr.out_avals), body)
    trips = ctx.const(np.asarray(length, np.int64))
    outs = ctx.ops(
        "Loop", [trips, ctx.const(np.asarray(True)), *init], len(jaxpr.out_avals), body=sub
    )
    carry, ys = outs[:num_carry], outs[num_carry:]
    if reverse:  # Loop stacks the outputs in step order; a reverse scan's ys run backwards
        ys = [reversed_along(ctx, y, (0,)) for y in ys]
    return carry + ys


@onnx_rules.register(cf.while_p)
def _while(ctx, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cond_consts = args[:cond_nconsts]
    body_consts = args[cond_nconsts : cond_nconsts + body_nconsts]
    init = args[cond_nconsts + body_nconsts :]
    carry_avals = ctx.in_avals[cond_nconsts + body_nconsts :]

    def body(i, go_on, *carry):
        new = _inline(ctx, body_jaxpr, [*body_consts, *carry])
        return [_inline(ctx, cond_jaxpr, [*cond_consts, *new])[0], *new]

    inputs = [_STEP, _GO_ON] + [("carry", d, s) for d, s in _typed(carry_avals)]
    sub = ctx.subgraph(inputs, [_GO_ON[1:]] + _typed(carry_avals), body)
    first = _inline(ctx, cond_jaxpr, [*cond_consts, *init])[0]
    return ctx.ops("Loop", ["", first, *init], len(init), body=sub)  # no trip count
