"""Batching rules: control flow (cond/switch, while, scan).

- cond with an unbatched index stays a cond of batched branches; with a batched
  index every branch runs on the whole batch and `select_n` picks per example.
- while and scan carries reach a fixed point: a carry is batched if its initial
  value or any iteration makes it so (batched carries live at axis 0).
- while with a batched predicate runs until no example wants another step, and
  examples that are done keep their carry (a select on the predicate).
- scan keeps scanning over axis 0: a batched xs gets its batch axis at 1.
"""

from funcnet import lax
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, closed_without_consts, eval_jaxpr
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import get_aval
from funcnet.lax import control_flow as cf
from funcnet.transforms.batching import (
    batch_jaxpr,
    batched_aval,
    batching_rules,
    bdim_to,
    moveaxis,
    shape,
)


def _avals(closed, dims, size):
    return [batched_aval(a, d, size) for a, d in zip(closed.in_avals, dims)]


def _with_consts(call, consts) -> ClosedJaxpr:
    """(program taking its constants first, constants) -> a ClosedJaxpr."""
    j, n = call.jaxpr, len(consts)
    return ClosedJaxpr(Jaxpr(j.invars[:n], j.invars[n:], j.eqns, j.outvars), consts)


# --- cond ---------------------------------------------------------------------------------


@batching_rules.register(cf.cond_p)
def _cond(size, vals, dims, *, branches):
    (index, *ops), (idx_d, *op_dims) = vals, dims
    in_avals = _avals(branches[0], op_dims, size)
    n_out = len(branches[0].out_avals)
    if idx_d is not None:
        # Per-example branch choice: run every branch on the batch, select per example.
        results = []
        for br in branches:
            call, consts, _ = batch_jaxpr(br, size, op_dims, in_avals, [0] * n_out)
            results.append(eval_jaxpr(call.jaxpr, [], *consts, *ops))
        index = moveaxis(index, idx_d, 0)
        outs = []
        for cases in zip(*results):
            which = lax.broadcast_in_dim(index, shape(cases[0]), (0,))
            outs.append(lax.select_n(which, *cases))
        return outs, [0] * n_out
    # One branch for the whole batch: an output is batched if any branch batches it.
    batched = [False] * n_out
    for br in branches:
        _, _, od = batch_jaxpr(br, size, op_dims, in_avals)
        batched = [b or d is not None for b, d in zip(batched, od)]
    targets = [0 if b else None for b in batched]
    new = [batch_jaxpr(br, size, op_dims, in_avals, targets) for br in branches]
    joined, consts = cf.join_consts([_with_consts(call, c) for call, c, _ in new])
    outs = cf.cond_p.bind(index, *consts, *ops, branches=tuple(joined))
    return outs, targets


# --- while ----------------------------------------------------------------------------------


def _carry_fixed_point(body, size, const_dims, carry_dims, extra_dims, n_carry):
    """Which carries are batched once every iteration has had its say."""
    batched = [d is not None for d in carry_dims]
    for _ in range(n_carry + 1):
        in_dims = const_dims + [0 if b else None for b in batched] + extra_dims
        _, _, out = batch_jaxpr(body, size, in_dims, _avals(body, in_dims, size))
        new = [b or d is not None for b, d in zip(batched, out[:n_carry])]
        if new == batched:
            break
        batched = new
    return batched


@batching_rules.register(cf.while_p)
def _while(size, vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    cconsts, bconsts, carry = vals[:nc], vals[nc : nc + nb], vals[nc + nb :]
    ccd, bcd, cd = list(dims[:nc]), list(dims[nc : nc + nb]), list(dims[nc + nb :])
    n = len(carry)
    batched = _carry_fixed_point(body_jaxpr, size, bcd, cd, [], n)
    cond_dims = ccd + [0 if b else None for b in batched]
    _, _, (pred_d,) = batch_jaxpr(cond_jaxpr, size, cond_dims, _avals(cond_jaxpr, cond_dims, size))
    if pred_d is not None:
        batched = [True] * n  # finished examples must hold their carry: all are selected
    carry_dims = [0 if b else None for b in batched]
    carry = [bdim_to(x, d, size, 0) if b else x for x, d, b in zip(carry, cd, batched)]
    cond_dims, body_dims = ccd + carry_dims, bcd + carry_dims
    c_call, c_consts, _ = batch_jaxpr(
        cond_jaxpr,
        size,
        cond_dims,
        _avals(cond_jaxpr, cond_dims, size),
        [None] if pred_d is None else [0],
    )
    b_call, b_consts, _ = batch_jaxpr(
        body_jaxpr, size, body_dims, _avals(body_jaxpr, body_dims, size), carry_dims
    )
    c_args, b_args = [*c_consts, *cconsts], [*b_consts, *bconsts]
    if pred_d is None:
        outs = cf.while_p.bind(
            *c_args,
            *b_args,
            *carry,
            cond_jaxpr=c_call,
            body_jaxpr=b_call,
            cond_nconsts=len(c_args),
            body_nconsts=len(b_args),
        )
        return outs, carry_dims

    nca = len(c_args)
    carry_avals = _avals(body_jaxpr, body_dims, size)[len(bcd) :]

    def any_cond(*args):  # cond consts, carry
        pred = eval_jaxpr(c_call.jaxpr, [], *args)[0]
        return [lax.reduce_or(pred, (0,))]

    def masked_body(*args):  # cond consts, body consts, carry
        cargs, bargs, c = args[:nca], args[nca:-n], args[-n:]
        pred = eval_jaxpr(c_call.jaxpr, [], *cargs, *c)[0]
        new = eval_jaxpr(b_call.jaxpr, [], *bargs, *c)
        return [
            lax.select(lax.broadcast_in_dim(pred, shape(x), (0,)), x, old) for x, old in zip(new, c)
        ]

    c_avals = [get_aval(a) for a in c_args]
    b_avals = [get_aval(a) for a in b_args]
    new_cond = trace_to_jaxpr(any_cond, c_avals + carry_avals)
    new_body = trace_to_jaxpr(masked_body, c_avals + b_avals + carry_avals)
    outs = cf.while_p.bind(
        *new_cond.consts,
        *c_args,
        *new_body.consts,
        *c_args,
        *b_args,
        *carry,
        cond_jaxpr=closed_without_consts(new_cond),
        body_jaxpr=closed_without_consts(new_body),
        cond_nconsts=len(new_cond.consts) + nca,
        body_nconsts=len(new_body.consts) + nca + len(b_args),
    )
    return outs, carry_dims


# --- scan -------------------------------------------------------------------------------------


@batching_rules.register(cf.scan_p)
def _scan(size, vals, dims, *, jaxpr, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    consts, init, xs = vals[:nc], vals[nc : nc + nk], vals[nc + nk :]
    cd, id_, xd = list(dims[:nc]), list(dims[nc : nc + nk]), list(dims[nc + nk :])
    # Scan runs over axis 0, so a batched xs has its batch at 1 (0 in each slice).
    xs = [x if d is None else moveaxis(x, d, 1) for x, d in zip(xs, xd)]
    x_dims = [None if d is None else 0 for d in xd]
    batched = _carry_fixed_point(jaxpr, size, cd, id_, x_dims, nk)
    carry_dims = [0 if b else None for b in batched]
    init = [bdim_to(x, d, size, 0) if b else x for x, d, b in zip(init, id_, batched)]
    in_dims = cd + carry_dims + x_dims
    n_ys = len(jaxpr.out_avals) - nk
    call, new_consts, out_dims = batch_jaxpr(
        jaxpr, size, in_dims, _avals(jaxpr, in_dims, size), carry_dims + [None] * n_ys
    )
    outs = cf.scan_p.bind(
        *new_consts,
        *consts,
        *init,
        *xs,
        jaxpr=call,
        num_consts=len(new_consts) + nc,
        num_carry=nk,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    ys_dims = [None if d is None else d + 1 for d in out_dims[nk:]]
    return outs, carry_dims + ys_dims
