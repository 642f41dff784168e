"""Batching rules: primitives that hold a program or a user rule (jit, remat,
custom_jvp, custom_vjp and its linear stand-in), and the identities of autodiff
(stop_gradient, optimization_barrier).

A program is batched whole (`batch_jaxpr`) and bound again as one equation. A
user's jvp / fwd / bwd rule is wrapped so that, when differentiation later runs
it, it runs under a batch trace with the arguments' batch axes, and its results
are put where the batched program put its outputs.
"""

from funcnet import lax
from funcnet.core.trace import get_aval, new_main
from funcnet.lax import windowed as wd
from funcnet.lax.calls import jit_p
from funcnet.transforms.ad_util import Zero, instantiate, tangent_aval
from funcnet.transforms.batching import (
    BatchInfo,
    BatchTrace,
    BatchTracer,
    batch_jaxpr,
    batching_rules,
    bdim_to,
    unbatch,
)
from funcnet.transforms.custom import custom_jvp_call_p, custom_lin_p, custom_vjp_call_p
from funcnet.transforms.remat import remat_p


@batching_rules.register(jit_p)
def _jit(size, vals, dims, *, jaxpr, name):
    call, consts, out_dims = batch_jaxpr(jaxpr, size, dims, [get_aval(v) for v in vals])
    return jit_p.bind(*consts, *vals, jaxpr=call, name=name), out_dims


@batching_rules.register(remat_p)
def _remat(size, vals, dims, *, jaxpr, prevent_cse):
    call, consts, out_dims = batch_jaxpr(jaxpr, size, dims, [get_aval(v) for v in vals])
    return remat_p.bind(*consts, *vals, jaxpr=call, prevent_cse=prevent_cse), out_dims


batching_rules.register(wd.stop_gradient_p)(
    lambda size, vals, dims: (wd.stop_gradient_p.bind(*vals), dims[0])
)
batching_rules.register(wd.opaque_true_p)(
    lambda size, vals, dims: (wd.opaque_true(), None)
)  # no operands
batching_rules.register(wd.optimization_barrier_p)(
    lambda size, vals, dims: (wd.optimization_barrier_p.bind(*vals), list(dims))
)


# --- running a user's rule on batched values ----------------------------------------------


def _per_example_zero(z: Zero, d) -> Zero:
    if d is None:
        return z
    s = z.aval.shape
    return Zero(z.aval.update(shape=s[:d] + s[d + 1 :]))


def _wrap(trace, x, d):
    if isinstance(x, Zero):
        return _per_example_zero(x, d)
    return x if d is None else BatchTracer(trace, x, d)


def _run_batched(size, rule, in_groups, out_groups):
    """Call rule(*groups) under a batch trace; in_groups: [(values, dims)], rule returns
    one list per out group. Returns those lists as (value, dim) pairs."""
    with new_main(BatchTrace, BatchInfo(size)) as main:
        trace = BatchTrace(main)
        args = [[_wrap(trace, x, d) for x, d in zip(xs, ds)] for xs, ds in in_groups]
        outs = rule(*args)
        return [
            [(o, None) if isinstance(o, Zero) else unbatch(main, o) for o in group]
            for group in outs[:out_groups]
        ], outs[out_groups:]


def _place(pairs, dims, size):
    return [instantiate_to(v, d, size, od) for (v, d), od in zip(pairs, dims)]


def instantiate_to(v, d, size, od):
    if isinstance(v, Zero):
        v = instantiate(v)
    return bdim_to(v, d, size, od)


def _batched_bwd(bwd, size, res, res_dims, cts, ct_dims, in_dims, in_avals):
    """The user's bwd on batched residuals and cotangents. An argument that was not
    batched gets the sum of its per-example cotangents (vmap broadcast it)."""
    (cts_in,), _ = _run_batched(
        size, lambda r, c: (bwd(r, c),), [(res, res_dims), (cts, ct_dims)], 1
    )
    out = []
    for (v, d), d_in, aval in zip(cts_in, in_dims, in_avals):
        if isinstance(v, Zero):
            out.append(Zero(tangent_aval(aval)))
        elif d_in is None:
            out.append(v if d is None else lax.reduce_sum(v, (d,)))
        else:
            out.append(bdim_to(v, d, size, d_in))
    return out


# --- custom_jvp ------------------------------------------------------------------------------


@batching_rules.register(custom_jvp_call_p)
def _custom_jvp_call(size, vals, dims, *, call_jaxpr, jvp, num_consts):
    call, consts, out_dims = batch_jaxpr(
        call_jaxpr, size, dims, [get_aval(v) for v in vals], [0] * len(call_jaxpr.out_avals)
    )
    n_new = len(consts)

    def batched_jvp(primals, tangents):
        primals, tangents = primals[n_new:], tangents[n_new:]
        (outs, t_outs), _ = _run_batched(
            size, lambda p, t: jvp(p, t), [(primals, dims), (tangents, dims)], 2
        )
        return _place(outs, out_dims, size), _place(t_outs, out_dims, size)

    outs = custom_jvp_call_p.bind(
        *consts, *vals, call_jaxpr=call, jvp=batched_jvp, num_consts=num_consts + n_new
    )
    return outs, out_dims


# --- custom_vjp ------------------------------------------------------------------------------


@batching_rules.register(custom_vjp_call_p)
def _custom_vjp_call(size, vals, dims, *, call_jaxpr, fwd, num_consts):
    in_avals = [get_aval(v) for v in vals]
    call, consts, out_dims = batch_jaxpr(
        call_jaxpr, size, dims, in_avals, [0] * len(call_jaxpr.out_avals)
    )
    n_new = len(consts)

    def batched_fwd(primals):
        primals = primals[n_new:]

        def rule(p):
            out_flat, res_flat, bwd = fwd(p)
            return out_flat, res_flat, bwd

        (outs, res), (bwd,) = _run_batched(size, rule, [(primals, dims)], 2)
        res_vals, res_dims = [v for v, _ in res], [d for _, d in res]

        def bwd_batched(res_in, cts):
            return _batched_bwd(
                bwd, size, res_in, res_dims, cts, out_dims, dims[num_consts:], in_avals[num_consts:]
            )

        return _place(outs, out_dims, size), res_vals, bwd_batched

    outs = custom_vjp_call_p.bind(
        *consts, *vals, call_jaxpr=call, fwd=batched_fwd, num_consts=num_consts + n_new
    )
    return outs, out_dims


@batching_rules.register(custom_lin_p)
def _custom_lin(size, vals, dims, *, num_res, bwd, out_avals):
    res_dims, lin_dims = dims[:num_res], dims[num_res:]
    lin_avals = [get_aval(v) for v in vals[num_res:]]
    out_dims = [0] * len(out_avals)

    def bwd_batched(res_in, cts):
        return _batched_bwd(bwd, size, res_in, res_dims, cts, out_dims, lin_dims, lin_avals)

    new_avals = tuple(a.update(shape=(size,) + a.shape) for a in out_avals)
    outs = custom_lin_p.bind(*vals, num_res=num_res, bwd=bwd_batched, out_avals=new_avals)
    return outs, out_dims
