"""Differentiation rules of cond, while and scan: rows of `jvp_rules`, `partial_eval_rules` and
`transpose_rules`, kept together because they share the sub-program plumbing.

Reverse mode through `scan` splits the body into a known scan (the forward
pass, which also stacks the per-step residuals) and a linear scan that the
transpose rule runs backwards. Residuals that are just the loop's constants
(weights, typically) are passed as constants, not stacked `length` times.
"""

from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Var, closed_without_consts, eval_jaxpr
from funcnet.core.passes import cse, dce
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import get_aval
from funcnet.lax.control_flow import cond_p, join_consts, scan_p, while_p
from funcnet.transforms import scan_remat
from funcnet.transforms.ad_util import (
    UndefinedPrimal,
    Zero,
    instantiate,
    is_undefined,
    zero_like,
    zeros,
)
from funcnet.transforms.jvp import jvp_jaxpr, jvp_rules
from funcnet.transforms.partial_eval import partial_eval_jaxpr, partial_eval_rules
from funcnet.transforms.scan_hoist import hoist_accumulations, invariant_vars, sum_after_loop
from funcnet.transforms.transpose import backward_pass, transpose_rules


def _reorder(closed: ClosedJaxpr, in_order, out_order) -> ClosedJaxpr:
    """The same program with its arguments and results permuted."""
    j = closed.jaxpr
    return ClosedJaxpr(
        Jaxpr(
            j.constvars, [j.invars[i] for i in in_order], j.eqns, [j.outvars[i] for i in out_order]
        ),
        closed.consts,
    )


def _split(xs, *sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start : start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def _any(*masks):
    return [any(bits) for bits in zip(*masks)]


# --- cond ------------------------------------------------------------------------------------


@jvp_rules.register(cond_p)
def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    t_ops = tangents[1:]
    nz = [not isinstance(t, Zero) for t in t_ops]
    out_nz = _any(*(jvp_jaxpr(b, nz)[1] for b in branches))
    new = [jvp_jaxpr(b, nz, instantiate=out_nz)[0] for b in branches]
    jaxprs, consts = join_consts(new)
    n_out = len(branches[0].out_avals)
    outs = cond_p.bind(
        index, *consts, *ops, *(t for t in t_ops if not isinstance(t, Zero)), branches=tuple(jaxprs)
    )
    t_iter = iter(outs[n_out:])
    return outs[:n_out], [next(t_iter) if z else zero_like(p) for p, z in zip(outs[:n_out], out_nz)]


@partial_eval_rules.register(cond_p)
def _cond_partial_eval(trace, tracers, *, branches):
    index, *ops = tracers
    if not index.is_known:
        return trace.record(cond_p, tracers, dict(branches=branches), branches[0].out_avals)
    unknowns = [not t.is_known for t in ops]
    out_uk = _any(*(partial_eval_jaxpr(b, unknowns)[2] for b in branches))
    splits = [partial_eval_jaxpr(b, unknowns, instantiate=out_uk) for b in branches]
    res_avals = [list(k.out_avals[len(k.out_avals) - n :]) for k, _, _, n in splits]
    n_known_out = sum(1 for u in out_uk if not u)
    # Every known branch returns every branch's residuals (zeros for the others').
    known_branches = [
        _with_all_residuals(k, i, res_avals, n_known_out) for i, (k, _, _, _) in enumerate(splits)
    ]
    known_jaxprs, known_consts = join_consts(known_branches)
    known_vals = [t.val for t in ops if t.is_known]
    outs = cond_p.bind(index.val, *known_consts, *known_vals, branches=tuple(known_jaxprs))
    known_outs, residuals = outs[:n_known_out], outs[n_known_out:]
    # Every unknown branch reads only its own residuals.
    unknown_branches = [
        _reading_own_residuals(u, i, res_avals) for i, (_, u, _, _) in enumerate(splits)
    ]
    uk_in = [t for t in ops if not t.is_known]
    rec = trace.record(
        cond_p,
        [index] + [trace.pure(r) for r in residuals] + uk_in,
        dict(branches=tuple(unknown_branches)),
        unknown_branches[0].out_avals,
    )
    rec, known_iter = iter(rec), iter(known_outs)
    return [next(rec) if u else trace.pure(next(known_iter)) for u in out_uk]


def _with_all_residuals(known: ClosedJaxpr, i, res_avals, n_known_out):
    def fun(*args):
        outs = eval_jaxpr(known.jaxpr, known.consts, *args)
        mine = outs[n_known_out:]
        res = []
        for k, avals in enumerate(res_avals):
            res += mine if k == i else [zeros(a) for a in avals]
        return outs[:n_known_out] + res

    return trace_to_jaxpr(fun, known.in_avals)


def _reading_own_residuals(unknown: ClosedJaxpr, i, res_avals):
    j = unknown.jaxpr
    n_own = len(res_avals[i])
    own, rest = j.invars[:n_own], j.invars[n_own:]
    pads = [[Var(a) for a in avals] if k != i else own for k, avals in enumerate(res_avals)]
    return ClosedJaxpr(Jaxpr([], [v for p in pads for v in p] + rest, j.eqns, j.outvars), [])


@transpose_rules.register(cond_p)
def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise NotImplementedError("cond is not linear in its branch index")
    linear = [is_undefined(o) for o in ops]
    nonlin = [o for o in ops if not is_undefined(o)]
    ct_avals = [a.strip_weak_type() for a in branches[0].out_avals]
    cts = [instantiate(c) if isinstance(c, Zero) else c for c in cts]
    in_avals = [get_aval(o) for o in nonlin] + ct_avals

    def transposed(branch):
        def fun(*vals):
            nl, ct = iter(vals[: len(nonlin)]), vals[len(nonlin) :]
            args = [UndefinedPrimal(o.aval) if lin else next(nl) for o, lin in zip(ops, linear)]
            res = backward_pass(branch.jaxpr, branch.consts, args, list(ct))
            return [instantiate(r) for r, lin in zip(res, linear) if lin]

        return trace_to_jaxpr(fun, in_avals)

    jaxprs, consts = join_consts([transposed(b) for b in branches])
    outs = iter(cond_p.bind(index, *consts, *nonlin, *cts, branches=tuple(jaxprs)))
    return [None] + [next(outs) if lin else None for lin in linear]


# --- while -----------------------------------------------------------------------------------


@jvp_rules.register(while_p)
def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    bconsts, init = primals[nc : nc + nb], primals[nc + nb :]
    t_bconsts, t_init = tangents[nc : nc + nb], tangents[nc + nb :]
    const_nz = [not isinstance(t, Zero) for t in t_bconsts]
    carry_nz = [not isinstance(t, Zero) for t in t_init]
    while True:  # which carries end up with a tangent
        out_nz = jvp_jaxpr(body_jaxpr, const_nz + carry_nz)[1]
        new = _any(carry_nz, out_nz)
        if new == carry_nz:
            break
        carry_nz = new
    body_jvp, _ = jvp_jaxpr(body_jaxpr, const_nz + carry_nz, instantiate=carry_nz)
    n_carry, n_const_t, n_carry_t = len(init), sum(const_nz), sum(carry_nz)
    # body_jvp args: [bconsts, carry, t_bconsts, t_carry]; as a while body it takes
    # [consts: bconsts, t_bconsts] [carry: carry, t_carry].
    order = (
        list(range(nb))
        + list(range(nb + n_carry, nb + n_carry + n_const_t))
        + list(range(nb, nb + n_carry))
        + list(range(nb + n_carry + n_const_t, nb + n_carry + n_const_t + n_carry_t))
    )
    body = _reorder(
        closed_without_consts(body_jvp),
        list(range(len(body_jvp.consts))) + [len(body_jvp.consts) + i for i in order],
        list(range(n_carry + n_carry_t)),
    )
    carry_avals = [get_aval(x) for x in init]
    t_carry_avals = [a.strip_weak_type() for a, z in zip(carry_avals, carry_nz) if z]

    def cond_fun(*args):
        cconsts, carry = args[:nc], args[nc : nc + n_carry]
        return eval_jaxpr(cond_jaxpr.jaxpr, [], *cconsts, *carry)

    cond = trace_to_jaxpr(cond_fun, list(cond_jaxpr.in_avals[:nc]) + carry_avals + t_carry_avals)
    t_init_full = [instantiate(t) for t, z in zip(t_init, carry_nz) if z]
    outs = while_p.bind(
        *cond.consts,
        *primals[:nc],
        *body_jvp.consts,
        *bconsts,
        *(t for t in t_bconsts if not isinstance(t, Zero)),
        *init,
        *t_init_full,
        cond_jaxpr=closed_without_consts(cond),
        body_jaxpr=body,
        cond_nconsts=len(cond.consts) + nc,
        body_nconsts=len(body_jvp.consts) + nb + n_const_t,
    )
    t_iter = iter(outs[n_carry:])
    return outs[:n_carry], [
        next(t_iter) if z else zero_like(p) for p, z in zip(outs[:n_carry], carry_nz)
    ]


@partial_eval_rules.register(while_p)
def _while_partial_eval(trace, tracers, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """The carries that do not depend on the unknown inputs (under linearize: the primal
    ones) are computed now, by a while loop of the known part of the body; the unknown
    ones come from the whole loop, recorded (it recomputes the known part, as jax's
    rule does). So vjp returns the primal value, and only transposing the recorded loop
    (asking for the backward pass) fails."""
    nc, nb = cond_nconsts, body_nconsts
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=nc, body_nconsts=nb)
    uk = [not t.is_known for t in tracers]
    cc_uk, bc_uk, carry_uk = uk[:nc], uk[nc : nc + nb], uk[nc + nb :]
    while True:  # which carries end up unknown
        out_uk = partial_eval_jaxpr(body_jaxpr, bc_uk + carry_uk)[2]
        new = _any(carry_uk, out_uk)
        if new == carry_uk:
            break
        carry_uk = new
    pred_uk = partial_eval_jaxpr(cond_jaxpr, cc_uk + carry_uk)[2][0]
    if pred_uk or all(carry_uk):
        return trace.record(while_p, tracers, params, body_jaxpr.out_avals)
    known_cond = _known_outputs(cond_jaxpr, cc_uk + carry_uk, 1)
    n_known = sum(1 for u in carry_uk if not u)
    known_body = _known_outputs(body_jaxpr, bc_uk + carry_uk, n_known, instantiate=carry_uk)
    cconsts, bconsts, carry = _split(tracers, nc, nb)
    k_cconsts = [t.val for t, u in zip(cconsts, cc_uk) if not u]
    k_bconsts = [t.val for t, u in zip(bconsts, bc_uk) if not u]
    k_carry = [t.val for t, u in zip(carry, carry_uk) if not u]
    known_outs = while_p.bind(
        *known_cond.consts,
        *k_cconsts,
        *known_body.consts,
        *k_bconsts,
        *k_carry,
        cond_jaxpr=closed_without_consts(known_cond),
        body_jaxpr=closed_without_consts(known_body),
        cond_nconsts=len(known_cond.consts) + len(k_cconsts),
        body_nconsts=len(known_body.consts) + len(k_bconsts),
    )
    known_iter = iter(known_outs)
    if not any(carry_uk):  # the unknown inputs reach no carry
        return [trace.pure(next(known_iter)) for _ in carry_uk]
    recorded = trace.record(while_p, tracers, params, body_jaxpr.out_avals)
    return [r if u else trace.pure(next(known_iter)) for r, u in zip(recorded, carry_uk)]


def _known_outputs(closed: ClosedJaxpr, unknowns, n_out, instantiate=False) -> ClosedJaxpr:
    """The part of `closed` computing its first `n_out` known outputs from its known
    inputs (residuals dropped)."""
    known = partial_eval_jaxpr(closed, unknowns, instantiate=instantiate)[0]
    j = known.jaxpr
    return dce(ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.eqns, j.outvars[:n_out]), known.consts))


@transpose_rules.register(while_p)
def _while_transpose(cts, *args, **params):
    # jax's error, word for word: a user searching for it finds jax's explanation.
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop "
        "with dynamic start/stop values. Try using lax.scan, or using fori_loop with "
        "static start/stop."
    )


# --- scan ---------------------------------------------------------------------------------------


@jvp_rules.register(scan_p)
def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nk, nc = num_consts, num_carry
    nz = [not isinstance(t, Zero) for t in tangents]
    const_nz, carry_nz, xs_nz = _split(nz, nk, nc)
    while True:
        out_nz = jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz)[1]
        new = _any(carry_nz, out_nz[:nc])
        if new == carry_nz:
            break
        carry_nz = new
    n_ys = len(jaxpr.out_avals) - nc
    jvp_j, out_nz = jvp_jaxpr(
        jaxpr, const_nz + carry_nz + xs_nz, instantiate=carry_nz + [False] * n_ys
    )
    ys_nz = out_nz[nc:]
    n_in = len(primals)
    n_tk, n_tc, n_tx = sum(const_nz), sum(carry_nz), sum(xs_nz)
    nx = n_in - nk - nc
    # jvp_j args: [consts, carry, xs, t_consts, t_carry, t_xs]
    # scan layout: [consts, t_consts] [carry, t_carry] [xs, t_xs]
    P = list(range(n_in))
    T = list(range(n_in, n_in + n_tk + n_tc + n_tx))
    t_k, t_c, t_x = _split(T, n_tk, n_tc)
    in_order = P[:nk] + t_k + P[nk : nk + nc] + t_c + P[nk + nc :] + t_x
    # jvp_j results: [carry_out, ys, t_carry_out, t_ys] -> [carry_out, t_carry_out, ys, t_ys]
    n_tys = sum(ys_nz)
    R = list(range(nc + n_ys))
    TR = list(range(nc + n_ys, nc + n_ys + n_tc + n_tys))
    out_order = R[:nc] + TR[:n_tc] + R[nc:] + TR[n_tc:]
    n_jc = len(jvp_j.consts)
    body = _reorder(
        closed_without_consts(jvp_j), list(range(n_jc)) + [n_jc + i for i in in_order], out_order
    )
    consts, carry, xs = _split(primals, nk, nc)
    tk, tc, tx = _split(tangents, nk, nc)
    outs = scan_p.bind(
        *jvp_j.consts,
        *consts,
        *(t for t in tk if not isinstance(t, Zero)),
        *carry,
        *(instantiate(t) for t, z in zip(tc, carry_nz) if z),
        *xs,
        *(t for t in tx if not isinstance(t, Zero)),
        jaxpr=body,
        num_consts=n_jc + nk + n_tk,
        num_carry=nc + n_tc,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    carry_out, t_carry_out, ys, t_ys = _split(outs, nc, n_tc, n_ys)
    tc_iter, ty_iter = iter(t_carry_out), iter(t_ys)
    t_carry = [next(tc_iter) if z else zero_like(p) for p, z in zip(carry_out, carry_nz)]
    t_y = [next(ty_iter) if z else zero_like(p) for p, z in zip(ys, ys_nz)]
    del nx
    return carry_out + ys, t_carry + t_y


@partial_eval_rules.register(scan_p)
def _scan_partial_eval(trace, tracers, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nk, nc = num_consts, num_carry
    uk = [not t.is_known for t in tracers]
    const_uk, carry_uk, xs_uk = _split(uk, nk, nc)
    while True:
        out_uk = partial_eval_jaxpr(jaxpr, const_uk + carry_uk + xs_uk)[2]
        new = _any(carry_uk, out_uk[:nc])
        if new == carry_uk:
            break
        carry_uk = new
    n_ys = len(jaxpr.out_avals) - nc
    unknowns = const_uk + carry_uk + xs_uk
    known, unknown, out_uk, num_res = partial_eval_jaxpr(
        jaxpr, unknowns, instantiate=carry_uk + [False] * n_ys
    )
    consts, carry, xs = _split(tracers, nk, nc)
    k_consts = [t.val for t, u in zip(consts, const_uk) if not u]
    k_carry = [t.val for t, u in zip(carry, carry_uk) if not u]
    k_xs = [t.val for t, u in zip(xs, xs_uk) if not u]
    n_kc = len(known.consts)
    kj = closed_without_consts(known).jaxpr
    n_known_out = len(kj.outvars) - num_res
    # A residual computed from the loop's known constants only (a weight, or the zeros
    # a jvp rule instantiated) is computed once, outside, and passed as a constant
    # instead of being stacked `length` times.
    const_invars = kj.invars[: n_kc + len(k_consts)]
    const_vals = list(known.consts) + k_consts
    res_vars = kj.outvars[n_known_out:]
    loop_invariant = invariant_vars(kj, const_invars)
    invariant = [isinstance(v, Var) and v in loop_invariant for v in res_vars]
    invariant_vals = _eval_invariant(
        kj, const_invars, const_vals, [v for v, inv in zip(res_vars, invariant) if inv]
    )
    # Residuals cheaply computed from other residuals are recomputed in the unknown body.
    recomputed, remat_eqns = scan_remat.plan(kj, res_vars, invariant)
    stacked = [not inv and k not in recomputed for k, inv in enumerate(invariant)]
    # A residual that is also one of the loop's known outputs (an RNN's output h',
    # which the backward pass needs too) reads that output's stack: one stack, not two.
    n_k_carry = len(k_carry)
    ys_index = {}
    for i, v in enumerate(kj.outvars[n_k_carry:n_known_out]):
        if isinstance(v, Var):
            ys_index.setdefault(v, i)
    from_ys = {
        k: ys_index[v]
        for k, (v, st) in enumerate(zip(res_vars, stacked))
        if st and isinstance(v, Var) and v in ys_index
    }
    # Likewise a residual that is a scanned input (an id a step gathers with) reads the
    # input's own stack.
    xs_index = {
        v: i for i, v in reversed(list(enumerate(kj.invars[n_kc + len(k_consts) + n_k_carry :])))
    }
    from_xs = {
        k: xs_index[v]
        for k, (v, st) in enumerate(zip(res_vars, stacked))
        if st and k not in from_ys and isinstance(v, Var) and v in xs_index
    }
    keep = list(range(n_known_out)) + [
        n_known_out + k
        for k, st in enumerate(stacked)
        if st and k not in from_ys and k not in from_xs
    ]
    known_body = dce(ClosedJaxpr(Jaxpr([], kj.invars, kj.eqns, [kj.outvars[i] for i in keep]), []))
    outs = scan_p.bind(
        *known.consts,
        *k_consts,
        *k_carry,
        *k_xs,
        jaxpr=known_body,
        num_consts=n_kc + len(k_consts),
        num_carry=n_k_carry,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    known_carry_out = outs[:n_k_carry]
    known_ys = outs[n_k_carry:n_known_out]
    new_stacks = iter(outs[n_known_out:])
    variant_res = [
        known_ys[from_ys[k]]
        if k in from_ys
        else k_xs[from_xs[k]]
        if k in from_xs
        else next(new_stacks)
        for k, st in enumerate(stacked)
        if st
    ]
    # The unknown scan: [invariant res, unknown consts] [unknown carry] [variant res, unknown xs]
    uj = unknown.jaxpr
    res_in, rest = uj.invars[:num_res], uj.invars[num_res:]
    inv_res = [v for v, inv in zip(res_in, invariant) if inv]
    var_res = [v for v, st in zip(res_in, stacked) if st]
    n_uk_c, n_uk_carry = sum(const_uk), sum(carry_uk)
    u_consts, u_carry, u_xs = _split(rest, n_uk_c, n_uk_carry)
    remat = scan_remat.rename(
        remat_eqns, {v: r for v, r in zip(res_vars, res_in) if isinstance(v, Var)}
    )
    body = ClosedJaxpr(
        Jaxpr([], inv_res + u_consts + u_carry + var_res + u_xs, remat + uj.eqns, uj.outvars),
        [],
    )
    # A carry that turned unknown inside the loop starts from its known value.
    uk_carry_tracers = [t for t, u in zip(carry, carry_uk) if u]
    uk_inputs = (
        [trace.pure(v) for v in invariant_vals]
        + [t for t, u in zip(consts, const_uk) if u]
        + uk_carry_tracers
        + [trace.pure(r) for r in variant_res]
        + [t for t, u in zip(xs, xs_uk) if u]
    )
    params = dict(
        jaxpr=body,
        num_consts=len(inv_res) + n_uk_c,
        num_carry=n_uk_carry,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    out_avals = scan_p.abstract_eval(*(t.aval for t in uk_inputs), **params)
    rec = iter(trace.record(scan_p, uk_inputs, params, out_avals))
    known_iter = iter(list(known_carry_out) + list(known_ys))
    return [next(rec) if u else trace.pure(next(known_iter)) for u in out_uk]


def _eval_invariant(jaxpr: Jaxpr, const_invars, const_vals, outs):
    """The values of `outs` (computed from `const_invars` only), evaluated outside the
    loop; a constant itself is passed through."""
    if not outs:
        return []
    live, needed = set(outs), []
    for eqn in reversed(jaxpr.eqns):  # not dce: it would keep the body's side effects
        if any(v in live for v in eqn.outputs):
            needed.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    return eval_jaxpr(Jaxpr([], const_invars, needed[::-1], outs), [], *const_vals)


@transpose_rules.register(scan_p)
def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nk, nc = num_consts, num_carry
    consts, carry, xs = _split(args, nk, nc)
    const_lin = [is_undefined(c) for c in consts]
    xs_lin = [is_undefined(x) for x in xs]
    res_consts = [c for c in consts if not is_undefined(c)]
    res_xs = [x for x in xs if not is_undefined(x)]
    lin_const_avals = [c.aval.strip_weak_type() for c in consts if is_undefined(c)]
    carry_avals = [jaxpr.in_avals[nk + i].strip_weak_type() for i in range(nc)]
    out_avals = jaxpr.out_avals
    ct_carry = [instantiate(c) if isinstance(c, Zero) else c for c in cts[:nc]]
    ct_ys = [
        zeros(a.update(shape=(length,) + a.shape).strip_weak_type()) if isinstance(c, Zero) else c
        for c, a in zip(cts[nc:], out_avals[nc:])
    ]
    n_rc, n_lc = len(res_consts), len(lin_const_avals)
    y_avals = [a.strip_weak_type() for a in out_avals[nc:]]
    rx_avals = [get_aval(x).update(shape=get_aval(x).shape[1:]) for x in res_xs]

    def body_t(*vals):
        res_c, acc, ctc, cty, rx = _split(vals, n_rc, n_lc, nc, len(y_avals))
        rc_iter, rx_iter = iter(res_c), iter(rx)
        body_args = (
            [UndefinedPrimal(c.aval) if lin else next(rc_iter) for c, lin in zip(consts, const_lin)]
            + [UndefinedPrimal(a) for a in carry_avals]
            + [
                UndefinedPrimal(jaxpr.in_avals[nk + nc + i]) if lin else next(rx_iter)
                for i, lin in enumerate(xs_lin)
            ]
        )
        res = backward_pass(jaxpr.jaxpr, jaxpr.consts, body_args, list(ctc) + list(cty))
        r_consts, r_carry, r_xs = _split(res, nk, nc)
        lin_ct = [instantiate(r) for r, lin in zip(r_consts, const_lin) if lin]
        new_acc = [a + c for a, c in zip(acc, lin_ct)]
        return (
            new_acc
            + [instantiate(r) for r in r_carry]
            + [instantiate(r) for r, lin in zip(r_xs, xs_lin) if lin]
        )

    in_avals = (
        [get_aval(c) for c in res_consts] + lin_const_avals + carry_avals + y_avals + rx_avals
    )
    t = trace_to_jaxpr(body_t, in_avals)
    # Merged duplicates matter to the hoisting below: an LSTM cell that splits its
    # projected input and its recurrent product apart gets one concatenated gate
    # cotangent per split, and one stack (not two) should serve both.
    body = cse(closed_without_consts(t))
    n_k = len(t.consts) + n_rc
    hoisted = hoist_accumulations(body, n_k, n_lc + nc, n_lc, length)
    if hoisted is not None:
        body = hoisted.body
    kept = [k for k in range(n_lc) if hoisted is None or k not in hoisted.terms]
    scanned = [*ct_ys, *res_xs]
    outs = scan_p.bind(
        *t.consts,
        *res_consts,
        *(zeros(lin_const_avals[k]) for k in kept),
        *ct_carry,
        *scanned,
        jaxpr=body,
        num_consts=n_k,
        num_carry=len(kept) + nc,
        length=length,
        reverse=not reverse,
        unroll=unroll,
    )
    kept_cts, ct_init, ct_xs, extra = _split(outs, len(kept), nc, sum(xs_lin))
    ct_consts = [None] * n_lc
    for k, ct in zip(kept, kept_cts):
        ct_consts[k] = ct
    if hoisted is not None:  # the accumulations now done by one dot_general each
        stack_of = dict(zip(body.jaxpr.invars[n_k + len(kept) + nc :], scanned))
        stack_of.update(zip(hoisted.stacked, extra))
        stack_of.update((v, ct_xs[k]) for v, k in hoisted.from_ys.items())
        for k, terms in hoisted.terms.items():
            ct_consts[k] = sum_after_loop(terms, stack_of)
    kc, kx = iter(ct_consts), iter(ct_xs)
    return (
        [next(kc) if lin else None for lin in const_lin]
        + [ct if is_undefined(c) else None for ct, c in zip(ct_init, carry)]
        + [next(kx) if lin else None for lin in xs_lin]
    )
