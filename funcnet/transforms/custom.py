"""User-defined derivatives: stop_gradient, custom_jvp, custom_vjp.

Each is a primitive holding the traced function, so that it survives staging
(jit) and is differentiated later with the user's rule. Their rules for every
transformation are registered here, next to the primitives, because they are
about the user's rule rather than about arithmetic.
"""

import functools

from funcnet import tree
from funcnet.backend.lowering import lower_jaxpr, register as register_lowering
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Primitive, get_aval, impl_rules, is_tracing
from funcnet.ir.jaxpr import eval_jaxpr
from funcnet.transforms.ad_util import Zero, instantiate, tangent_aval, zero_like
from funcnet.transforms.jit import closed_without_consts
from funcnet.transforms.jvp import jvp_rules
from funcnet.transforms.transpose import transpose_rules

# --- stop_gradient -----------------------------------------------------------------------

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_abstract_eval(lambda x: x)
register_lowering(stop_gradient_p)(lambda em, x: [x])
jvp_rules[stop_gradient_p] = lambda primals, tangents: (
    stop_gradient_p.bind(primals[0]), zero_like(primals[0]))


def stop_gradient(x):
    """The identity, but derivatives do not flow through it (on every leaf of a pytree)."""
    def leaf(v):
        from funcnet.core import dtypes
        return stop_gradient_p.bind(v) if dtypes.is_float(get_aval(v).dtype) else v
    return tree.tree_map(leaf, x)


# --- helpers shared by custom_jvp and custom_vjp -------------------------------------------

def _trace_flat(fun, args):
    """Trace fun(*args) (pytrees) into a program of the flat leaves."""
    flat, in_tree = tree.tree_flatten(tuple(args))
    box = {}

    def flat_fun(*leaves):
        out = fun(*tree.tree_unflatten(in_tree, list(leaves)))
        out_flat, box["out_tree"] = tree.tree_flatten(out)
        return out_flat

    closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in flat])
    return flat, in_tree, closed, box["out_tree"]


def _call_impl(prim, *args, call_jaxpr, num_consts, **_):
    return eval_jaxpr(call_jaxpr.jaxpr, [], *args)


def _call_lowering(em, *args, call_jaxpr, num_consts, **_):
    return lower_jaxpr(em, call_jaxpr.jaxpr, [], list(args))


def _split_static(args, nondiff_argnums):
    static = tuple((i, args[i]) for i in nondiff_argnums)
    dyn = tuple(a for i, a in enumerate(args) if i not in nondiff_argnums)
    return static, dyn


def _merge_static(static, dyn):
    args = list(dyn)
    for i, v in static:
        args.insert(i, v)
    return args


# --- custom_jvp -------------------------------------------------------------------------------

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.def_abstract_eval(lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals)
impl_rules[custom_jvp_call_p] = _call_impl
register_lowering(custom_jvp_call_p)(_call_lowering)


class custom_jvp:
    """A function with a user-defined JVP rule, as `jax.custom_jvp`.

    Example:
      >>> @custom_jvp
      ... def softplus(x):
      ...     return fnp.log1p(fnp.exp(x))
      >>> @softplus.defjvp
      ... def softplus_jvp(primals, tangents):
      ...     (x,), (t,) = primals, tangents
      ...     return softplus(x), t * fn.nn.sigmoid(x)
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp):
        """jvp(primals, tangents) -> (primal_out, tangent_out); with nondiff_argnums the
        static arguments come first: jvp(*static, primals, tangents)."""
        self.jvp = jvp
        return jvp

    def __call__(self, *args):
        if self.jvp is None:
            raise AttributeError(f"custom_jvp function {self.__name__} has no JVP rule: "
                                 "define one with @{name}.defjvp")
        static, dyn = _split_static(args, self.nondiff_argnums)
        fun = lambda *d: self.fun(*_merge_static(static, d))  # noqa: E731
        if not is_tracing():
            return fun(*dyn)
        flat, in_tree, closed, out_tree = _trace_flat(fun, dyn)
        rule = functools.partial(_flat_jvp_rule, self.jvp, static, in_tree, out_tree,
                                 len(closed.consts))
        outs = custom_jvp_call_p.bind(*closed.consts, *flat,
                                      call_jaxpr=closed_without_consts(closed),
                                      jvp=rule, num_consts=len(closed.consts))
        return tree.tree_unflatten(out_tree, outs)


def _flat_jvp_rule(user_jvp, static, in_tree, out_tree, num_consts, primals, tangents):
    """The user's pytree rule, on flat lists (constants take no part)."""
    primals, tangents = primals[num_consts:], tangents[num_consts:]
    p_args = tree.tree_unflatten(in_tree, list(primals))
    t_args = tree.tree_unflatten(in_tree, [instantiate(t) for t in tangents])
    out, t_out = user_jvp(*(v for _, v in static), p_args, t_args)
    out_flat, o_tree = tree.tree_flatten(out)
    t_flat, t_tree = tree.tree_flatten(t_out)
    if o_tree != out_tree or t_tree != out_tree:
        raise TypeError(f"custom_jvp rule must return (primal_out, tangent_out) with the "
                        f"function's output structure {out_tree}; got {o_tree} and {t_tree}")
    for p, t in zip(out_flat, t_flat):
        if get_aval(p).shape != get_aval(t).shape:
            raise TypeError(f"custom_jvp rule: tangent shape {get_aval(t).shape} differs from "
                            f"primal shape {get_aval(p).shape}")
    return out_flat, t_flat


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts):
    return jvp(primals, tangents)


jvp_rules[custom_jvp_call_p] = _custom_jvp_call_jvp


# --- custom_vjp -------------------------------------------------------------------------------

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.def_abstract_eval(lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals)
impl_rules[custom_vjp_call_p] = _call_impl
register_lowering(custom_vjp_call_p)(_call_lowering)

# The linear stand-in for a custom_vjp function's tangent map; only its transpose (the
# user's bwd) is ever evaluated.
custom_lin_p = Primitive("custom_lin", multiple_results=True)
custom_lin_p.def_abstract_eval(lambda *avals, out_avals, **_: list(out_avals))


def _custom_lin_impl(prim, *args, **params):
    raise TypeError("forward-mode differentiation (jvp, jacfwd) of a custom_vjp function is "
                    "not supported: it only has a reverse-mode rule. Use grad/vjp/jacrev, or "
                    "custom_jvp.")


impl_rules[custom_lin_p] = _custom_lin_impl


class custom_vjp:
    """A function with a user-defined VJP, as `jax.custom_vjp`.

    `defvjp(fwd, bwd)`: fwd(*args) -> (out, residuals); bwd(residuals, out_cotangent) ->
    a tuple with one cotangent per argument (None for a zero cotangent).

    Example:
      >>> @custom_vjp
      ... def clip_grad(x):
      ...     return x
      >>> clip_grad.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1, 1),))
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args):
        if self.fwd is None:
            raise AttributeError(f"custom_vjp function {self.__name__} has no rule: define "
                                 "one with .defvjp(fwd, bwd)")
        static, dyn = _split_static(args, self.nondiff_argnums)
        fun = lambda *d: self.fun(*_merge_static(static, d))  # noqa: E731
        if not is_tracing():
            return fun(*dyn)
        flat, in_tree, closed, out_tree = _trace_flat(fun, dyn)
        fwd = functools.partial(_flat_fwd, self.fwd, self.bwd, static, in_tree, out_tree,
                                len(closed.consts))
        outs = custom_vjp_call_p.bind(*closed.consts, *flat,
                                      call_jaxpr=closed_without_consts(closed), fwd=fwd,
                                      num_consts=len(closed.consts))
        return tree.tree_unflatten(out_tree, outs)


def _flat_fwd(user_fwd, user_bwd, static, in_tree, out_tree, num_consts, primals):
    """Run the user's fwd; return flat outputs, flat residuals, and a flat bwd."""
    args = tree.tree_unflatten(in_tree, list(primals[num_consts:]))
    res_out = user_fwd(*(v for _, v in static), *args)
    if not (isinstance(res_out, (tuple, list)) and len(res_out) == 2):
        raise TypeError("custom_vjp fwd must return a pair (output, residuals)")
    out, res = res_out
    out_flat, o_tree = tree.tree_flatten(out)
    if o_tree != out_tree:
        raise TypeError(f"custom_vjp fwd returned output structure {o_tree}, but the "
                        f"function returns {out_tree}")
    res_flat, res_tree = tree.tree_flatten(res)
    in_avals = [get_aval(p) for p in primals]

    def bwd(res_vals, cts):
        res_args = tree.tree_unflatten(res_tree, list(res_vals))
        ct_args = tree.tree_unflatten(out_tree, [_as_array(instantiate(c)) for c in cts])
        cts_in = user_bwd(*(v for _, v in static), res_args, ct_args)
        if not isinstance(cts_in, (tuple, list)):
            raise TypeError("custom_vjp bwd must return a tuple with one cotangent per "
                            "argument")
        # Leaf positions of each argument, to flatten the per-argument cotangents.
        arg_leaves = [tree.tree_leaves(a) for a in
                      tree.tree_unflatten(in_tree, list(range(in_tree.num_leaves)))]
        if len(cts_in) != len(arg_leaves):
            raise TypeError(f"custom_vjp bwd returned {len(cts_in)} cotangents for "
                            f"{len(arg_leaves)} arguments")
        flat_cts = []
        for i, (ct, leaves) in enumerate(zip(cts_in, arg_leaves)):
            ct_leaves = [None] * len(leaves) if ct is None else tree.tree_leaves(ct)
            if len(ct_leaves) != len(leaves):
                raise TypeError(f"custom_vjp bwd: the cotangent for argument {i} has "
                                f"{len(ct_leaves)} leaves, the argument has {len(leaves)}")
            flat_cts += ct_leaves
        avals = in_avals[num_consts:]
        return [Zero(tangent_aval(a)) if c is None else c for c, a in zip(flat_cts, avals)]

    return out_flat, res_flat, bwd


def _as_array(x):
    from funcnet.numpy import asarray
    return asarray(x)


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, num_consts):
    out_flat, res_flat, bwd = fwd(primals)
    if all(isinstance(t, Zero) for t in tangents[num_consts:]):
        return out_flat, [zero_like(o) for o in out_flat]
    out_avals = [tangent_aval(get_aval(o)) for o in out_flat]
    lin_in = [instantiate(t) for t in tangents[num_consts:]]
    t_out = custom_lin_p.bind(*res_flat, *lin_in, num_res=len(res_flat), bwd=bwd,
                              out_avals=tuple(out_avals))
    return out_flat, t_out


jvp_rules[custom_vjp_call_p] = _custom_vjp_call_jvp


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    res = args[:num_res]
    cts_in = bwd(res, list(cts))
    return [None] * num_res + list(cts_in)


transpose_rules[custom_lin_p] = _custom_lin_transpose
