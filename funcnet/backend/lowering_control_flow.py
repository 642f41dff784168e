"""Lowering rules (rows of `lowering_rules`) for cond, while and scan: StableHLO's
`case` and `while`, with each sub-program lowered inline into its region."""

from funcnet.backend.lowering import TOKEN_TYPE, i64_array, lower_jaxpr, lowering_rules, tensor_type
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.passes import has_effects
from funcnet.lax import control_flow as cf

_I32 = ShapedArray((), dtypes.int32)
_BOOL = ShapedArray((), dtypes.bool_)


@lowering_rules.register(cf.cond_p)
def _lower_cond(em, index, *operands, branches):
    operands = list(operands)
    effects = any(map(has_effects, branches))  # then the branches return the effects' token
    regions = [
        em.region(
            [],
            br.out_avals,
            lambda sub, br=br: lower_jaxpr(sub, br.jaxpr, [], operands),
            token_result=effects,
        )
        for br in branches
    ]
    types = [tensor_type(a) for a in em.out_avals]
    outs = em.op(
        "stablehlo.case",
        [index],
        [tensor_type(em.in_avals[0])],
        [TOKEN_TYPE, *types] if effects else types,
        None,
        regions,
    )
    if effects:
        em.module.effect_token, outs = outs[0], outs[1:]
    return outs


def _while(em, state, state_avals, cond_body, loop_body, effects=False):
    """Emit a stablehlo.while over `state`; the bodies get (emitter, *state names).
    With `effects` (the bodies have side effects) the loop carries their token too."""
    types = [tensor_type(a) for a in state_avals]
    state = list(state)
    if effects:
        state, types = [em.effect_token(), *state], [TOKEN_TYPE, *types]
    cond_region = em.region(state_avals, [_BOOL], cond_body, token_arg=effects)
    body_region = em.region(
        state_avals, state_avals, loop_body, token_arg=effects, token_result=effects
    )
    outs = em.op("stablehlo.while", state, types, types, None, [cond_region, body_region])
    if effects:
        em.module.effect_token, outs = outs[0], outs[1:]
    return outs


@lowering_rules.register(cf.while_p)
def _lower_while(em, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts

    def cond_body(sub, *vals):
        return lower_jaxpr(sub, cond_jaxpr.jaxpr, [], list(vals[:nc]) + list(vals[nc + nb :]))

    def loop_body(sub, *vals):
        outs = lower_jaxpr(sub, body_jaxpr.jaxpr, [], list(vals[nc : nc + nb] + vals[nc + nb :]))
        return list(vals[: nc + nb]) + outs

    effects = has_effects(cond_jaxpr) or has_effects(body_jaxpr)
    outs = _while(em, args, list(em.in_avals), cond_body, loop_body, effects)
    return outs[nc + nb :]


def _compare(sub, a, b, direction):
    return sub.op1(
        "stablehlo.compare",
        [a, b],
        [_I32, _I32],
        _BOOL,
        comparison_direction=f"#stablehlo<comparison_direction {direction}>",
        compare_type="#stablehlo<comparison_type SIGNED>",
    )


@lowering_rules.register(cf.scan_p)
def _lower_scan(em, *args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    in_avals = list(em.in_avals)
    nk, nc = num_consts, num_carry
    n_xs = len(args) - nk - nc
    ys_avals = list(em.out_avals[nc:])
    steps = unroll if unroll > 1 and length % unroll == 0 else 1
    zero = em.constant(0, _I32)
    ys_init = [
        em.op1(
            "stablehlo.broadcast_in_dim",
            [em.constant(0, ShapedArray((), a.dtype))],
            [ShapedArray((), a.dtype)],
            a,
            broadcast_dimensions=i64_array([]),
        )
        for a in ys_avals
    ]
    if length == 0:
        # No step runs: the carry passes through and the ys are empty. (A loop would
        # still be invalid: its body slices one row out of a length-0 axis.)
        return list(args[nk : nk + nc]) + ys_init
    state = [zero, *args, *ys_init]
    state_avals = [_I32, *in_avals, *ys_avals]
    x_avals = in_avals[nk + nc :]

    def cond_body(sub, i, *rest):
        return [_compare(sub, i, sub.constant(length, _I32), "LT")]

    def loop_body(sub, i, *rest):
        consts, carry = list(rest[:nk]), list(rest[nk : nk + nc])
        xs, ys = list(rest[nk + nc : nk + nc + n_xs]), list(rest[nk + nc + n_xs :])
        one = sub.constant(1, _I32)
        for _ in range(steps):
            idx = i
            if reverse:
                idx = sub.op1(
                    "stablehlo.subtract", [sub.constant(length - 1, _I32), i], [_I32, _I32], _I32
                )
            x_t = [_index_slice(sub, x, a, idx) for x, a in zip(xs, x_avals)]
            outs = lower_jaxpr(sub, jaxpr.jaxpr, [], consts + carry + x_t)
            carry, y_t = outs[:nc], outs[nc:]
            ys = [_index_update(sub, y, a, yt, idx) for y, a, yt in zip(ys, ys_avals, y_t)]
            i = sub.op1("stablehlo.add", [i, one], [_I32, _I32], _I32)
        return [i, *consts, *carry, *xs, *ys]

    outs = _while(em, state, state_avals, cond_body, loop_body, has_effects(jaxpr))
    final = outs[1:]
    return final[nk : nk + nc] + final[nk + nc + n_xs :]


def _index_slice(sub, x, aval, idx):
    """x[idx] along axis 0."""
    zero = sub.constant(0, _I32)
    starts = [idx] + [zero] * (aval.ndim - 1)
    piece = ShapedArray((1,) + aval.shape[1:], aval.dtype)
    sl = sub.op1(
        "stablehlo.dynamic_slice",
        [x, *starts],
        [aval] + [_I32] * aval.ndim,
        piece,
        slice_sizes=i64_array(piece.shape),
    )
    return sub.op1("stablehlo.reshape", [sl], [piece], ShapedArray(aval.shape[1:], aval.dtype))


def _index_update(sub, ys, aval, y, idx):
    """ys with ys[idx] = y."""
    zero = sub.constant(0, _I32)
    item = ShapedArray(aval.shape[1:], aval.dtype)
    piece = ShapedArray((1,) + aval.shape[1:], aval.dtype)
    y1 = sub.op1("stablehlo.reshape", [y], [item], piece)
    starts = [idx] + [zero] * (aval.ndim - 1)
    return sub.op1(
        "stablehlo.dynamic_update_slice",
        [ys, y1, *starts],
        [aval, piece] + [_I32] * aval.ndim,
        aval,
    )
