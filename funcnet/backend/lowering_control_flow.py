"""Lowering rules (rows of `lowering_rules`) for cond, while and scan: StableHLO's
`case` and `while`, with each sub-program lowered inline into its region."""

from typing import NamedTuple

import numpy as np

from funcnet.backend.lowering import (
    TOKEN_TYPE,
    compare,
    i64_array,
    lower_jaxpr,
    lowering_rules,
    tensor_type,
)
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.jaxpr import Jaxpr, Var
from funcnet.core.passes import has_effects
from funcnet.lax import contractions as la
from funcnet.lax import control_flow as cf
from funcnet.lax import elementwise as ew
from funcnet.lax import structural as st

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
    body, transposed = _transposed_weights(jaxpr.jaxpr, nk) if length > 1 else (jaxpr.jaxpr, [])
    body, pieces = _xs_slices_as_inputs(body, nk + len(transposed) + nc)
    t_consts = [_transpose2(em, args[k], in_avals[k]) for k in transposed]
    args = list(args[:nk]) + t_consts + list(args[nk:])
    in_avals = in_avals[:nk] + [_t_aval(in_avals[k]) for k in transposed] + in_avals[nk:]
    nk += len(transposed)
    state = [zero, *args, *ys_init]
    state_avals = [_I32, *in_avals, *ys_avals]
    x_avals = in_avals[nk + nc :]

    def cond_body(sub, i, *rest):
        return [compare(sub, i, sub.constant(length, _I32), "LT", _I32)]

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
            x_t = [
                _index_slice(sub, x, a, idx)
                for j, (x, a) in enumerate(zip(xs, x_avals))
                if j not in pieces.sliced
            ]
            x_pieces = [
                _index_piece(sub, xs[j], x_avals[j], idx, start, limit)
                for j, start, limit in pieces.reads
            ]
            outs = lower_jaxpr(sub, body, [], consts + carry + x_t + x_pieces)
            carry, y_t = outs[:nc], outs[nc:]
            ys = [_index_update(sub, y, a, yt, idx) for y, a, yt in zip(ys, ys_avals, y_t)]
            i = sub.op1("stablehlo.add", [i, one], [_I32, _I32], _I32)
        return [i, *consts, *carry, *xs, *ys]

    outs = _while(em, state, state_avals, cond_body, loop_body, has_effects(jaxpr))
    final = outs[1:]
    return final[nk : nk + nc] + final[nk + nc + n_xs :]


_MAX_TRANSPOSED_BYTES = 64 << 20


def _t_aval(a):
    return ShapedArray(a.shape[::-1], a.dtype)


def _transpose2(em, x, aval):
    return em.op1("stablehlo.transpose", [x], [aval], _t_aval(aval), permutation=i64_array([1, 0]))


def _transposed_weights(jaxpr, nk):
    """The scan body with each matrix product `a @ w.T` of a loop-constant 2-D `w` (the
    transpose rule's form of an RNN's recurrent product in the backward loop) rewritten
    as `a @ wt` of a new loop constant `wt = w.T`, transposed once before the loop.
    XLA:CPU's GEMM transposes a right operand contracted on its last axis on every call
    (56 vs 68 us per step for a 256x1024 weight). The copy costs the weight's size again
    while the loop runs: weights over `_MAX_TRANSPOSED_BYTES` are left alone. Returns
    (body, positions among the constants of the transposed ones); the new constants
    follow the old ones."""
    consts = jaxpr.invars[:nk]
    picked, new_var = [], {}
    eqns = []
    for eqn in jaxpr.eqns:
        if eqn.primitive is la.dot_general_p:
            (lc, rc), (lb, _) = eqn.params["dimension_numbers"]
            w = eqn.inputs[1]
            if (
                w in consts
                and w.aval.ndim == 2
                and tuple(rc) == (1,)
                and not lb
                and w.aval.size * np.dtype(w.aval.dtype).itemsize <= _MAX_TRANSPOSED_BYTES
            ):
                if w not in new_var:
                    new_var[w] = Var(_t_aval(w.aval))
                    picked.append(consts.index(w))
                params = dict(eqn.params, dimension_numbers=((tuple(lc), (0,)), ((), ())))
                eqn = eqn._replace(inputs=[eqn.inputs[0], new_var[w]], params=params)
        eqns.append(eqn)
    if not picked:
        return jaxpr, []
    new = [new_var[consts[k]] for k in picked]
    invars = consts + new + jaxpr.invars[nk:]
    return Jaxpr(jaxpr.constvars, invars, eqns, jaxpr.outvars), picked


class _Pieces(NamedTuple):
    sliced: frozenset  # positions (among the xs) read only through static slices
    reads: list  # (xs position, start, limit) of each slice, in the new invars' order


def _static_pieces(eqn, shape):
    """[(output, start, limit)] of a unit-stride `slice` or a `split` equation, else None."""
    if eqn is None:
        return None
    if eqn.primitive is st.slice_p:
        if any(s != 1 for s in (eqn.params["strides"] or ())):
            return None
        p = eqn.params
        return [(eqn.outputs[0], tuple(p["start_indices"]), tuple(p["limit_indices"]))]
    if eqn.primitive is st.split_p:
        axis, start, out = eqn.params["axis"], 0, []
        for v, size in zip(eqn.outputs, eqn.params["sizes"]):
            lo, hi = [0] * len(shape), list(shape)
            lo[axis], hi[axis] = start, start + size
            out.append((v, tuple(lo), tuple(hi)))
            start += size
        return out
    return None


def _xs_slices_as_inputs(jaxpr, first_x):
    """The scan body with each per-step input that is used only through unit-stride
    static slices or splits (an LSTM's gates split from one projected input) replaced by
    those pieces as inputs of their own, which the loop reads as dynamic slices of the
    stacked input. XLA:CPU vectorizes a fusion that reads several static slices of one
    dynamic slice poorly (scalar code, ~7x slower); dynamic slices with offsets it does
    not.

    A per-step input whose only use is `x + y` whose only uses are slices or splits
    (`split(x + h @ w)`, the usual way to write the cell) is read the same way: each
    piece becomes `x_piece + y[piece]` (the same sums, elementwise)."""
    xs = jaxpr.invars[first_x:]
    uses = _uses(jaxpr)
    replace = {}  # id(eqn) -> the equations that take its place ([] drops it)
    new_invars, reads, sliced = [], [], set()
    for j, v in enumerate(xs):
        users = uses.get(v, [])
        pieces = _pieces_of(users, v.aval.shape)
        if pieces is not None:
            sliced.add(j)
            replace.update((id(e), []) for e in users)
            for out, start, limit in (q for p in pieces for q in p):
                new_invars.append(out)
                reads.append((j, start, limit))
            continue
        summed = _sum_split_apart(v, users, uses)
        if summed is None:
            continue
        add, other, cut, pieces = summed
        sliced.add(j)
        replace[id(add)] = []
        for e, cut_pieces in zip(cut, pieces):
            replace[id(e)] = []
            for out, start, limit in cut_pieces:
                piece_x = Var(out.aval)
                piece_y = Var(out.aval)
                new_invars.append(piece_x)
                reads.append((j, start, limit))
                params = dict(start_indices=start, limit_indices=limit, strides=(1,) * len(start))
                terms = [piece_x, piece_y] if add.inputs[0] is v else [piece_y, piece_x]
                replace[id(e)] += [
                    e._replace(
                        primitive=st.slice_p, inputs=[other], params=params, outputs=[piece_y]
                    ),
                    add._replace(inputs=terms, outputs=[out]),
                ]
    if not sliced:
        return jaxpr, _Pieces(frozenset(), [])
    invars = jaxpr.invars[:first_x] + [v for j, v in enumerate(xs) if j not in sliced] + new_invars
    eqns = [q for e in jaxpr.eqns for q in replace.get(id(e), [e])]
    return Jaxpr(jaxpr.constvars, invars, eqns, jaxpr.outvars), _Pieces(frozenset(sliced), reads)


def _uses(jaxpr):
    """var -> the equations that read it (None for each time it is an output)."""
    uses = {}
    for eqn in jaxpr.eqns:
        for x in eqn.inputs:
            if isinstance(x, Var):
                uses.setdefault(x, []).append(eqn)
    for v in jaxpr.outvars:
        if isinstance(v, Var):
            uses.setdefault(v, []).append(None)
    return uses


def _pieces_of(users, shape):
    """The static pieces (`_static_pieces`) each of `users` takes of a value of `shape`,
    when every use is a slice or split and there are 2+ pieces in all; else None."""
    pieces = [_static_pieces(e, shape) for e in users]
    if not users or None in pieces or sum(map(len, pieces)) < 2:
        return None
    return pieces


def _sum_split_apart(v, users, uses):
    """(the add, its other operand, the slicing equations, their pieces) when `v`'s
    only use is `v + y` (same shapes and dtypes) whose only uses are 2+ static pieces;
    else None."""
    if len(users) != 1 or users[0] is None or users[0].primitive is not ew.add_p:
        return None
    add = users[0]
    a, b = add.inputs
    other = b if a is v else a
    if other is v or not isinstance(other, Var) or other.aval != v.aval:
        return None
    cut = uses.get(add.outputs[0], [])
    pieces = _pieces_of(cut, v.aval.shape)
    if pieces is None:
        return None
    return add, other, cut, pieces


def _index_piece(sub, x, aval, idx, start, limit):
    """x[idx][start:limit] (unit strides) as one dynamic slice of x."""
    starts = [idx] + [sub.constant(s, _I32) for s in start]
    shape = tuple(hi - lo for lo, hi in zip(start, limit))
    piece = ShapedArray((1,) + shape, aval.dtype)
    sl = sub.op1(
        "stablehlo.dynamic_slice",
        [x, *starts],
        [aval] + [_I32] * aval.ndim,
        piece,
        slice_sizes=i64_array(piece.shape),
    )
    return sub.op1("stablehlo.reshape", [sl], [piece], ShapedArray(shape, aval.dtype))


def _index_slice(sub, x, aval, idx):
    """x[idx] along axis 0."""
    return _index_piece(sub, x, aval, idx, (0,) * (aval.ndim - 1), aval.shape[1:])


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
