"""checkpoint (rematerialization): the backward pass recomputes the function's forward
instead of storing its intermediates; only the inputs are kept as residuals.

`remat` is a primitive holding the traced function. Under reverse mode its
partial-evaluation rule computes the primal outputs now and records one `remat`
equation over the whole jvp program; its transpose rule replays that program's
forward part and then transposes the linear part, both inside a `cond` on a
predicate XLA cannot resolve on CPU (`opaque_true`), so that XLA cannot merge the
replay with the original forward pass; elsewhere the predicate is a constant, the
branch is inlined, and an optimization barrier on its inputs does that work.
"""

import functools

from funcnet import tree
from funcnet.backend.lowering import lower_jaxpr, lowering_rules
from funcnet.core import passes
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, closed_without_consts, eval_jaxpr
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Primitive, get_aval, impl_rules
from funcnet.core.traceback_util import api_boundary
from funcnet.lax.control_flow import cond
from funcnet.lax.windowed import opaque_true, optimization_barrier
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
from funcnet.transforms.transpose import backward_pass, transpose_rules

remat_p = Primitive("remat", multiple_results=True)
remat_p.def_abstract_eval(lambda *avals, jaxpr, prevent_cse: jaxpr.out_avals)
impl_rules.register(remat_p)(
    lambda prim, *args, jaxpr, prevent_cse: eval_jaxpr(jaxpr.jaxpr, [], *args)
)
lowering_rules.register(remat_p)(
    lambda em, *args, jaxpr, prevent_cse: lower_jaxpr(em, jaxpr.jaxpr, [], list(args))
)


def checkpoint(fun, *, prevent_cse=True, policy=None, static_argnums=()):
    """Makes `fun`'s derivatives recompute its forward pass rather than store its
    intermediates, as `jax.checkpoint` (`fn.remat` is the same function).

    The function's values are unchanged. Under reverse mode (grad, vjp) only its inputs
    are kept for the backward pass, which replays the forward computation before
    differentiating it: less memory for more compute. Nothing inside is saved: a
    `policy` choosing residuals to keep is not supported yet.

    Args:
      fun: a function of pytrees of arrays returning a pytree of arrays.
      prevent_cse: keep XLA from merging the replayed forward pass with the original
        one (which would undo the memory saving). Default True; False drops that
        protection (jax suggests it inside `scan`, whose loop keeps the two apart).
      policy: only None (save nothing); jax's residual-saving policies raise
        NotImplementedError.
      static_argnums: an int or tuple of ints: positions of arguments passed to `fun`
        as Python values (shapes, flags) rather than traced; negative numbers count
        from the end.

    Returns:
      A function with `fun`'s signature (keyword arguments are traced like positional
      ones) returning what `fun` returns.

    Raises:
      TypeError: `static_argnums` holds something other than ints.
      NotImplementedError: a `policy` is given.

    Example:
      >>> layer = fn.checkpoint(lambda w, x: fnp.tanh(x @ w))
      >>> w, x = fnp.ones((3, 2)), fnp.full((4, 3), 0.1)
      >>> g = fn.grad(lambda w: layer(w, x).sum())(w)    # same value, less memory
      >>> g.shape
      (3, 2)
    """
    if policy is not None:
        raise NotImplementedError(
            "checkpoint(policy=...) is not supported: funcnet's checkpoint saves nothing "
            "inside the function (policy=None)"
        )
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else static_argnums
    static_argnums = tuple(static_argnums)
    if not all(isinstance(i, int) for i in static_argnums):
        raise TypeError(f"checkpoint: static_argnums must be ints, got {static_argnums!r}")

    @api_boundary
    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        n = len(args)
        positions = {i % n for i in static_argnums if -n <= i < n}
        static = tuple((i, args[i]) for i in sorted(positions))
        dyn = tuple(a for i, a in enumerate(args) if i not in positions)
        flat, in_tree = tree.tree_flatten((dyn, kwargs))
        box = {}

        def flat_fun(*leaves):
            d, kw = tree.tree_unflatten(in_tree, list(leaves))
            d = list(d)
            for i, v in static:
                d.insert(i, v)
            out_flat, box["out_tree"] = tree.tree_flatten(fun(*d, **kw))
            return out_flat

        closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in flat])
        outs = remat_p.bind(
            *closed.consts,
            *flat,
            jaxpr=closed_without_consts(closed),
            prevent_cse=bool(prevent_cse),
        )
        return tree.tree_unflatten(box["out_tree"], outs)

    return wrapped


remat = checkpoint


@jvp_rules.register(remat_p)
def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse):
    nonzeros = [not isinstance(t, Zero) for t in tangents]
    new, out_nz = jvp_jaxpr(jaxpr, nonzeros)
    n = len(jaxpr.out_avals)
    outs = remat_p.bind(
        *new.consts,
        *primals,
        *(t for t in tangents if not isinstance(t, Zero)),
        jaxpr=closed_without_consts(new),
        prevent_cse=prevent_cse,
    )
    t_iter = iter(outs[n:])
    return outs[:n], [next(t_iter) if nz else zero_like(p) for p, nz in zip(outs[:n], out_nz)]


def _keep_outputs(closed: ClosedJaxpr, keep) -> ClosedJaxpr:
    j = closed.jaxpr
    pruned = Jaxpr(j.constvars, j.invars, j.eqns, [v for v, k in zip(j.outvars, keep) if k])
    return passes.dce(ClosedJaxpr(pruned, closed.consts))


@partial_eval_rules.register(remat_p)
def _remat_partial_eval(trace, tracers, *, jaxpr, prevent_cse):
    unknowns = [not t.is_known for t in tracers]
    known, _, out_unknown, num_res = partial_eval_jaxpr(jaxpr, unknowns)
    # The known outputs only: no residuals are computed or kept.
    n_known_out = len(known.out_avals) - num_res
    known_only = _keep_outputs(known, [True] * n_known_out + [False] * num_res)
    known_vals = [t.val for t in tracers if t.is_known]
    known_outs = remat_p.bind(
        *known_only.consts,
        *known_vals,
        jaxpr=closed_without_consts(known_only),
        prevent_cse=prevent_cse,
    )
    # The unknown outputs: the whole program again, recorded, reading the known inputs.
    rec = _keep_outputs(jaxpr, out_unknown)
    unknown_outs = iter(
        trace.record(remat_p, tracers, dict(jaxpr=rec, prevent_cse=prevent_cse), rec.out_avals)
    )
    known_iter = iter(known_outs)
    return [next(unknown_outs) if u else trace.pure(next(known_iter)) for u in out_unknown]


def _recompute_and_backward(jaxpr, args, cts):
    """Cotangents of the linear args of the jvp program `jaxpr`: replay its forward part
    on the known args, then transpose its linear part.

    The program is split by partial evaluation first rather than handed to
    backward_pass whole: an equation that mixes primal and tangent values (the jvp of a
    cond, scan or nested remat has primal and tangent outputs) reads a linear input, so
    backward_pass would count all its outputs as linear and never compute the primal
    ones that later tangent equations multiply by."""
    linear = [is_undefined(a) for a in args]
    known, lin, out_unknown, num_res = partial_eval_jaxpr(jaxpr, linear)
    known_outs = eval_jaxpr(known.jaxpr, known.consts, *(a for a in args if not is_undefined(a)))
    res = list(known_outs[len(known_outs) - num_res :]) if num_res else []
    # Known outputs do not depend on the linear args: their cotangents contribute nothing.
    lin_cts = [c for c, u in zip(cts, out_unknown) if u]
    cts_in = backward_pass(
        lin.jaxpr, lin.consts, res + [a for a in args if is_undefined(a)], lin_cts
    )
    return iter(cts_in[num_res:])


@transpose_rules.register(remat_p)
def _remat_transpose(cts, *args, jaxpr, prevent_cse):
    known = [a for a in args if not is_undefined(a)]
    if not (prevent_cse and known):
        cts_in = _recompute_and_backward(jaxpr, list(args), list(cts))
        return [instantiate(next(cts_in)) if is_undefined(a) else None for a in args]
    # Recompute and transpose inside a conditional on a predicate XLA cannot resolve,
    # so that no compiler pass can merge the recomputation with the forward pass (an
    # optimization barrier alone does not survive XLA:CPU's pipeline).
    linear = [is_undefined(a) for a in args]
    ct_nz = [not isinstance(c, Zero) for c in cts]
    lin_avals = [a.aval for a in args if is_undefined(a)]

    def recompute_and_transpose(*vals):
        # The barrier is what keeps the recomputation apart where the conditional is
        # inlined (backends other than CPU: see opaque_true).
        known_vals = iter(optimization_barrier(list(vals[: len(known)])))
        ct_vals = iter(vals[len(known) :])
        lin = iter(lin_avals)
        full_args = [
            UndefinedPrimal(next(lin)) if is_lin else next(known_vals) for is_lin in linear
        ]
        full_cts = [next(ct_vals) if nz else c for c, nz in zip(cts, ct_nz)]
        res = _recompute_and_backward(jaxpr, full_args, full_cts)
        return [
            instantiate(r) if r is not None else zeros(a.strip_weak_type())
            for r, a in zip(res, lin_avals)
        ]

    def skip(*vals):
        return [zeros(a.strip_weak_type()) for a in lin_avals]

    outs = iter(
        cond(
            opaque_true(),
            recompute_and_transpose,
            skip,
            *known,
            *(c for c, nz in zip(cts, ct_nz) if nz),
        )
    )
    return [next(outs) if is_lin else None for is_lin in linear]
