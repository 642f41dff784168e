"""User-defined derivatives: custom_jvp, custom_vjp (stop_gradient is in lax/windowed.py).

A call to a custom_jvp / custom_vjp function runs according to the innermost
transformation among its arguments, as in jax:

- none (plain eager code): the function runs as written;
- forward mode (the JVP trace, which grad, vjp and linearize use too): the user's
  rule (jvp, or fwd) runs at once on the primal values the JVP tracers carry. Under
  eager grad/jvp those are concrete, so Python control flow on them (`if x > 0`) works
  in the function and in its rule;
- anything that stages or batches (jit, vmap, partial evaluation, checkpoint): the
  function is traced into a program and bound as a primitive holding the rule, so that
  it survives staging and is differentiated later with the user's rule.

The primitives' rules for every transformation are registered here, next to them,
because they are about the user's rule rather than about arithmetic.
"""

import contextlib
import functools
import inspect

from funcnet import lax, tree
from funcnet.backend.lowering import lower_jaxpr, lowering_rules
from funcnet.core import dtypes
from funcnet.core.jaxpr import closed_without_consts, eval_jaxpr
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import (
    EvalTrace,
    Primitive,
    Tracer,
    UnexpectedTracerError,
    find_top_trace,
    full_lower,
    full_raise,
    get_aval,
    impl_rules,
)
from funcnet.core.traceback_util import api_boundary
from funcnet.lax.windowed import stop_gradient_p
from funcnet.transforms.ad_util import Zero, instantiate, tangent_aval, to_array, zero_like
from funcnet.transforms.jvp import JVPTrace, JVPTracer, jvp_rules
from funcnet.transforms.transpose import transpose_rules

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


# The calls of a function with a user rule: the traced function (call_jaxpr) and the
# rule travel as parameters. custom_lin is the linear part of a custom_vjp call, whose
# transpose is the user's bwd.
custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.def_abstract_eval(lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals)
custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.def_abstract_eval(lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals)
custom_lin_p = Primitive("custom_lin", multiple_results=True)
custom_lin_p.def_abstract_eval(lambda *avals, out_avals, **_: list(out_avals))


@impl_rules.register(custom_jvp_call_p, custom_vjp_call_p)
def _call_impl(prim, *args, call_jaxpr, num_consts, **_):
    return eval_jaxpr(call_jaxpr.jaxpr, [], *args)


@lowering_rules.register(custom_jvp_call_p, custom_vjp_call_p)
def _call_lowering(em, *args, call_jaxpr, num_consts, **_):
    return lower_jaxpr(em, call_jaxpr.jaxpr, [], list(args))


def _split_static(args, nondiff_argnums, name):
    if nondiff_argnums and max(nondiff_argnums) >= len(args):
        raise TypeError(
            f"{name}: nondiff_argnums {nondiff_argnums} refers to an argument "
            f"that was not passed (the call has {len(args)} arguments)"
        )
    static = tuple((i, args[i]) for i in nondiff_argnums)
    dyn = tuple(a for i, a in enumerate(args) if i not in nondiff_argnums)
    return static, dyn


def _merge_static(static, dyn):
    args = list(dyn)
    for i, v in static:
        args.insert(i, v)
    return args


def _refuse_symbolic_zeros(symbolic_zeros, what):
    if symbolic_zeros:
        raise NotImplementedError(
            f"{what}(..., symbolic_zeros=True) is not supported by "
            "funcnet: rules always receive instantiated zero tangents"
        )


def _primal_tangent_pairs(trace, flat):
    tracers = [full_raise(trace, x) for x in flat]
    return [t.primal for t in tracers], [t.tangent for t in tracers]


def _jvp_outputs(trace, out_flat, t_flat, out_tree, name):
    """The rule's results as tracers of the JVP trace it answered for."""
    for v in list(out_flat) + list(t_flat):
        if isinstance(v, Tracer) and v._trace.main is trace.main:
            raise UnexpectedTracerError(
                f"the rule of {name} returned a value that depends on the very value being "
                "differentiated through something other than its arguments (a closure "
                "over a traced value). Pass such values to the custom function as "
                "arguments."
            )
    outs = [full_lower(JVPTracer(trace, p, t)) for p, t in zip(out_flat, t_flat)]
    return tree.tree_unflatten(out_tree, outs)


class _CustomFunction:
    """What custom_jvp and custom_vjp share: the wrapped function, nondiff_argnums, and
    keyword arguments resolved to positions by the function's signature (as jax)."""

    kind = ""

    def __init__(self, fun, nondiff_argnums=(), nondiff_argnames=()):
        functools.update_wrapper(self, fun)
        if not hasattr(self, "__name__"):  # e.g. a functools.partial
            self.__name__ = getattr(fun, "__name__", type(fun).__name__)
        self.fun = fun
        self._sig = None
        if not isinstance(fun, functools.partial):  # jax treats a partial's as opaque
            with contextlib.suppress(TypeError, ValueError):  # no signature: positional
                self._sig = inspect.signature(fun)
        self._n_positional = self._count_positional()
        nums = {int(i) for i in nondiff_argnums}
        if nondiff_argnames:
            names = list(self._sig.parameters) if self._sig is not None else []
            for n in nondiff_argnames:
                if n not in names:
                    raise ValueError(
                        f"{self.kind}: nondiff_argnames names {n!r}, which is "
                        f"not a parameter of {self.__name__}{tuple(names)}"
                    )
                nums.add(names.index(n))
        self.nondiff_argnums = tuple(sorted(nums))

    def _count_positional(self):
        if self._sig is None:
            return None
        kinds = [p.kind for p in self._sig.parameters.values()]
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            return None
        return sum(
            k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for k in kinds
        )

    def _positional(self, args, kwargs):
        """The call's arguments as a positional tuple, defaults filled in."""
        if not kwargs and len(args) == self._n_positional:
            return args
        if self._sig is None:
            if kwargs:
                raise TypeError(
                    f"{self.kind} function {self.__name__}: keyword arguments "
                    f"{sorted(kwargs)} cannot be resolved to positions (its "
                    "signature is unknown); pass them positionally"
                )
            return args
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(
                f"The input arguments to the {self.kind}-decorated function "
                f"{self.__name__} could not be resolved to positional "
                f"arguments. Binding failed with the error:\n{e}"
            ) from e
        bound.apply_defaults()
        passed = [k for k in bound.kwargs if k in kwargs]
        if passed:
            raise TypeError(
                f"{self.kind} function {self.__name__}: the following keyword "
                f"arguments could not be resolved to positions: "
                f"{', '.join(passed)} (keyword-only parameters are not supported)"
            )
        return bound.args

    def _bind(self, static, dyn):
        """Run according to the innermost transformation among the arguments."""
        flat, in_tree = tree.tree_flatten(dyn)
        static_tracers = [
            x for _, v in static for x in tree.tree_leaves(v) if isinstance(x, Tracer)
        ]
        top = find_top_trace(list(flat) + static_tracers)
        if isinstance(top, EvalTrace):
            return self.fun(*_merge_static(static, dyn))
        if isinstance(top, JVPTrace):
            primals, tangents = _primal_tangent_pairs(top, flat)
            if all(isinstance(t, Zero) for t in tangents):
                return self._bind(static, tree.tree_unflatten(in_tree, primals))
            return self._differentiate_now(top, static, in_tree, primals, tangents)
        return self._stage(static, dyn)

    def _staged_function(self, static, dyn):
        fun = lambda *d: self.fun(*_merge_static(static, d))  # noqa: E731
        return _trace_flat(fun, dyn)


def _stop_gradient_tracers(x):
    """jax passes nondiff arguments of a custom_jvp function through stop_gradient."""

    def leaf(v):
        if isinstance(v, Tracer) and dtypes.is_inexact(v.aval.dtype):
            return stop_gradient_p.bind(v)
        return v

    return tree.tree_map(leaf, x)


# --- custom_jvp -------------------------------------------------------------------------------


class custom_jvp(_CustomFunction):
    """A function with a user-defined JVP rule, as `jax.custom_jvp`: use it as a
    decorator, then set the rule with `defjvp` (or `defjvps`).

    Every derivative of the function (jvp, grad, vjp, jacfwd, jacrev, higher orders)
    goes through the rule instead of through `fun`'s body; reverse mode transposes the
    rule's tangent computation, so the rule must be linear in the tangents. Calling the
    object without a transformation runs `fun` as written. Under eager grad/jvp the
    rule runs on concrete primal values, so Python control flow on them works (as jax);
    under jit or vmap they are abstract.

    Args:
      fun: the function; call the object with positional or keyword arguments
        (keywords are resolved to positions by `fun`'s signature, as jax;
        keyword-only parameters are not supported).
      nondiff_argnums: a tuple of positions of arguments that are not differentiated
        (functions, flags, static values; array values pass through `stop_gradient`).
        The rule receives them first: `jvp(*nondiff_args, primals, tangents)`.
      nondiff_argnames: the same, by parameter name.

    Attributes:
      fun: the wrapped function (`__name__`, `__doc__` and `__wrapped__` are `fun`'s).
      jvp: the rule set by `defjvp`, or None.
      nondiff_argnums: the non-differentiated positions (names resolved), sorted.

    Raises:
      AttributeError: the object is called before a rule is defined.
      TypeError: (from a derivative) the rule does not return a pair, or its primal
        and tangent outputs differ in structure, shape or dtype.

    Example:
      >>> @fn.custom_jvp
      ... def softplus(x):
      ...     return fnp.log1p(fnp.exp(x))
      >>> @softplus.defjvp
      ... def softplus_jvp(primals, tangents):
      ...     (x,), (t,) = primals, tangents
      ...     return softplus(x), t * fn.nn.sigmoid(x)
      >>> float(fn.grad(softplus)(0.0))    # sigmoid(0)
      0.5
    """

    kind = "custom_jvp"

    def __init__(self, fun, nondiff_argnums=(), nondiff_argnames=()):
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.jvp = None
        self.symbolic_zeros = False

    def defjvp(self, jvp, symbolic_zeros=False):
        """Sets the JVP rule, as `jax.custom_jvp.defjvp`; usable as a decorator.

        Args:
          jvp: `jvp(primals, tangents) -> (primal_out, tangent_out)`, where `primals`
            and `tangents` are tuples with one entry per (differentiated) argument
            and `tangent_out` has `primal_out`'s structure, shapes and dtypes. Zero
            tangents arrive as zero arrays. With `nondiff_argnums` the
            non-differentiated arguments come first: `jvp(*nondiff, primals,
            tangents)`.
          symbolic_zeros: must be False: funcnet always passes instantiated zeros.

        Returns:
          `jvp` itself, so that defjvp works as a decorator (as jax).

        Raises:
          NotImplementedError: `symbolic_zeros=True`.
        """
        _refuse_symbolic_zeros(symbolic_zeros, "defjvp")
        self.jvp = jvp
        return jvp

    def defjvps(self, *tangent_fns):
        """Defines the JVP rule by one function per positional argument, as
        `jax.custom_jvp.defjvps`; the output tangent is the sum of their results.

        Args:
          *tangent_fns: one per positional argument: `tangent_fns[i](t_i, primal_out,
            *primals)` returns argument i's contribution to the output tangent (with
            the output's structure), or the entry is None when the output does not
            depend on argument i.

        Returns:
          None.

        Raises:
          TypeError: the function has `nondiff_argnums`.

        Example:
          >>> @fn.custom_jvp
          ... def f(x, y):
          ...     return fnp.sin(x) * y
          >>> f.defjvps(lambda x_dot, out, x, y: fnp.cos(x) * x_dot * y,
          ...           lambda y_dot, out, x, y: fnp.sin(x) * y_dot)
          >>> [float(g) for g in fn.grad(f, argnums=(0, 1))(0.0, 2.0)]
          [2.0, 0.0]
        """
        if self.nondiff_argnums:
            raise TypeError("Can't use defjvps with nondiff_argnums.")

        def jvp(primals, tangents):
            out = self(*primals)
            total = tree.tree_map(zero_like, out)
            for fn_i, t in zip(tangent_fns, tangents):
                if fn_i is not None:
                    total = tree.tree_map(_add_tangent, total, fn_i(t, out, *primals))
            return out, tree.tree_map(instantiate, total)

        self.defjvp(jvp)

    @api_boundary
    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(
                f"custom_jvp function {self.__name__} has no JVP rule: "
                f"define one with @{self.__name__}.defjvp"
            )
        args = self._positional(args, kwargs)
        static, dyn = _split_static(args, self.nondiff_argnums, self.__name__)
        static = tuple((i, _stop_gradient_tracers(v)) for i, v in static)
        return self._bind(static, dyn)

    def _differentiate_now(self, trace, static, in_tree, primals, tangents):
        out_flat, t_flat, out_tree = _run_user_jvp(
            self.jvp, static, in_tree, primals, tangents, self.__name__
        )
        return _jvp_outputs(trace, out_flat, t_flat, out_tree, self.__name__)

    def _stage(self, static, dyn):
        flat, in_tree, closed, out_tree = self._staged_function(static, dyn)
        rule = functools.partial(
            _flat_jvp_rule, self.jvp, static, in_tree, out_tree, len(closed.consts), self.__name__
        )
        outs = custom_jvp_call_p.bind(
            *closed.consts,
            *flat,
            call_jaxpr=closed_without_consts(closed),
            jvp=rule,
            num_consts=len(closed.consts),
        )
        return tree.tree_unflatten(out_tree, outs)


def _add_tangent(a, b):
    if isinstance(b, Zero):
        return a
    return b if isinstance(a, Zero) else a + b


def _run_user_jvp(user_jvp, static, in_tree, primals, tangents, name):
    """The user's pytree rule on flat primals and tangents (Zeros instantiated, as jax).
    Returns (flat primal outputs, flat tangent outputs, output structure)."""
    p_args = tree.tree_unflatten(in_tree, list(primals))
    t_args = tree.tree_unflatten(in_tree, [instantiate(t) for t in tangents])
    pair = user_jvp(*(v for _, v in static), p_args, t_args)
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(
            f"custom_jvp rule for {name} must return a pair (primal_out, "
            f"tangent_out); it returned {type(pair).__name__}"
        )
    out_flat, out_tree = tree.tree_flatten(pair[0])
    t_flat, t_tree = tree.tree_flatten(pair[1])
    if t_tree != out_tree:
        raise TypeError(
            f"custom_jvp rule for {name} must return (primal_out, tangent_out) "
            f"with equal container (pytree) structures, the function's output "
            f"structure; got {out_tree} and {t_tree}"
        )
    return out_flat, [_checked_tangent(p, t, name) for p, t in zip(out_flat, t_flat)], out_tree


def _checked_tangent(p, t, name):
    """The rule's tangent for primal output p, checked as jax checks it: same shape, and
    the primal's dtype (a weakly typed Python scalar is converted to it)."""
    pa, ta = get_aval(p), get_aval(t)
    if pa.shape != ta.shape or (
        dtypes.is_inexact(pa.dtype) and ta.dtype != pa.dtype and not ta.weak_type
    ):
        raise TypeError(
            f"Custom JVP rule for {name} must produce primal and tangent outputs "
            f"with corresponding shapes and dtypes. Expected "
            f"{tangent_aval(pa).str_short()} (tangent type of {pa.str_short()}) "
            f"but got {ta.str_short()}"
        )
    if not dtypes.is_inexact(pa.dtype):
        return zero_like(p)  # integer outputs have no tangent (jax: float0)
    if ta.dtype != pa.dtype:
        return lax.convert_element_type(t, pa.dtype)
    return t


def _flat_jvp_rule(user_jvp, static, in_tree, out_tree, num_consts, name, primals, tangents):
    """The user's pytree rule, on the flat lists of the staged primitive (the closure's
    constants take no part)."""
    out_flat, t_flat, o_tree = _run_user_jvp(
        user_jvp, static, in_tree, primals[num_consts:], tangents[num_consts:], name
    )
    if o_tree != out_tree:
        raise TypeError(
            f"custom_jvp rule for {name} must return a primal output with the "
            f"function's output structure {out_tree}; got {o_tree}"
        )
    return out_flat, [instantiate(t) for t in t_flat]


@jvp_rules.register(custom_jvp_call_p)
def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts):
    return jvp(primals, tangents)


# --- custom_vjp -------------------------------------------------------------------------------


# The linear stand-in for a custom_vjp function's tangent map; only its transpose (the
# user's bwd) is ever evaluated.


def _no_forward_mode(*args, **params):
    raise TypeError(
        "forward-mode differentiation (jvp, jacfwd) of a custom_vjp function is "
        "not supported: it only has a reverse-mode rule. Use grad/vjp/jacrev, or "
        "custom_jvp."
    )


# custom_lin only ever meets the backward pass, which transposes it into the user's bwd.
# Evaluated, differentiated again, or compiled, it means forward mode was asked of a
# custom_vjp function (as jax, which refuses it too): each of those rows says so.
impl_rules.register(custom_lin_p)(lambda prim, *args, **params: _no_forward_mode())
jvp_rules.register(custom_lin_p)(_no_forward_mode)
lowering_rules.register(custom_lin_p)(_no_forward_mode)


class custom_vjp(_CustomFunction):
    """A function with a user-defined VJP (reverse-mode rule), as `jax.custom_vjp`:
    use it as a decorator, then set the rules with `defvjp(fwd, bwd)`.

    Reverse-mode derivatives (grad, vjp, jacrev) run `fwd` in the forward pass and
    `bwd` in the backward pass instead of differentiating `fun`'s body. Forward mode
    (jvp, jacfwd) is not supported, as in jax. Calling the object without a
    transformation runs `fun` as written. Under eager grad, `fwd` runs on concrete
    values (Python control flow works, as jax).

    Args:
      fun: the function; call the object with positional or keyword arguments
        (keywords are resolved to positions by `fun`'s signature).
      nondiff_argnums: a tuple of positions of arguments that are not differentiated
        and are not arrays (functions, shapes, flags). `bwd` receives them first:
        `bwd(*nondiff, residuals, g)`, and returns cotangents of the others only.
      nondiff_argnames: the same, by parameter name.

    Attributes:
      fun: the wrapped function (`__name__`, `__doc__` and `__wrapped__` are `fun`'s).
      fwd, bwd: the rules set by `defvjp`, or None.
      nondiff_argnums: the non-differentiated positions (names resolved), sorted.

    Raises:
      AttributeError: the object is called before `defvjp`.
      UnexpectedTracerError: a `nondiff_argnums` argument holds a traced array.
      TypeError: (from a derivative) forward-mode differentiation was asked for, or
        `fwd`/`bwd` returned values of the wrong structure.

    Example:
      >>> @fn.custom_vjp
      ... def clip_gradient(x):
      ...     return x
      >>> def fwd(x):
      ...     return x, None                # output, residuals
      >>> def bwd(residuals, g):
      ...     return (fnp.clip(g, -1.0, 1.0),)  # one cotangent per argument
      >>> clip_gradient.defvjp(fwd, bwd)
      >>> float(fn.grad(lambda x: 3.0 * clip_gradient(x))(2.0))
      1.0
    """

    kind = "custom_vjp"

    def __init__(self, fun, nondiff_argnums=(), nondiff_argnames=()):
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.fwd = self.bwd = None
        self.symbolic_zeros = False

    def defvjp(self, fwd, bwd, symbolic_zeros=False, optimize_remat=False):
        """Sets the forward and backward rules, as `jax.custom_vjp.defvjp`.

        Args:
          fwd: takes the function's arguments (as `fun` does) and returns `(out,
            residuals)`: `out` as `fun` would return it, `residuals` any pytree of
            values `bwd` needs.
          bwd: `bwd(residuals, g)`, `g` the cotangent of `out` (its structure and
            shapes), returns a tuple with one cotangent per argument, each shaped like
            its argument; None (or a None subtree) stands for zero. With
            `nondiff_argnums`, `bwd(*nondiff, residuals, g)` returns cotangents of the
            differentiated arguments only.
          symbolic_zeros: must be False: funcnet always passes instantiated zeros.
          optimize_remat: accepted for compatibility; has no effect (it only saves
            memory in jax).

        Returns:
          None, as jax.

        Raises:
          NotImplementedError: `symbolic_zeros=True`.
        """
        _refuse_symbolic_zeros(symbolic_zeros, "defvjp")
        self.fwd, self.bwd = fwd, bwd

    @api_boundary
    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(
                f"custom_vjp function {self.__name__} has no rule: define "
                "one with .defvjp(fwd, bwd)"
            )
        args = self._positional(args, kwargs)
        static, dyn = _split_static(args, self.nondiff_argnums, self.__name__)
        for i, v in static:
            if any(isinstance(x, Tracer) for x in tree.tree_leaves(v)):
                raise UnexpectedTracerError(
                    f"custom_vjp function {self.__name__}: argument {i} is in nondiff_argnums "
                    "but holds a traced value. As in jax, nondiff_argnums of a custom_vjp "
                    "function are for values that are not arrays (functions, shapes, "
                    "flags); pass arrays as ordinary arguments (bwd may return None for "
                    "them)."
                )
        return self._bind(static, dyn)

    def _differentiate_now(self, trace, static, in_tree, primals, tangents):
        out_flat, res_flat, bwd, out_tree = _run_user_fwd(
            self.fwd, self.bwd, static, in_tree, None, 0, self.__name__, primals
        )
        t_out = _linear_tangents(out_flat, res_flat, bwd, tangents)
        return _jvp_outputs(trace, out_flat, t_out, out_tree, self.__name__)

    def _stage(self, static, dyn):
        flat, in_tree, closed, out_tree = self._staged_function(static, dyn)
        fwd = functools.partial(
            _flat_fwd,
            self.fwd,
            self.bwd,
            static,
            in_tree,
            out_tree,
            len(closed.consts),
            self.__name__,
        )
        outs = custom_vjp_call_p.bind(
            *closed.consts,
            *flat,
            call_jaxpr=closed_without_consts(closed),
            fwd=fwd,
            num_consts=len(closed.consts),
        )
        return tree.tree_unflatten(out_tree, outs)


def _flat_fwd(user_fwd, user_bwd, static, in_tree, out_tree, num_consts, name, primals):
    """The staged primitive's fwd: flat outputs, flat residuals, and a flat bwd."""
    out_flat, res_flat, bwd, _ = _run_user_fwd(
        user_fwd, user_bwd, static, in_tree, out_tree, num_consts, name, primals
    )
    return out_flat, res_flat, bwd


def _run_user_fwd(user_fwd, user_bwd, static, in_tree, out_tree, num_consts, name, primals):
    """Run the user's fwd (on the arguments in their own positions, as jax); return flat
    outputs, flat residuals, a flat bwd, and the output structure. `out_tree`, when
    known (the staged function's), is checked against fwd's output."""
    args = tree.tree_unflatten(in_tree, list(primals[num_consts:]))
    res_out = user_fwd(*_merge_static(static, args))
    if not (isinstance(res_out, (tuple, list)) and len(res_out) == 2):
        raise TypeError(f"custom_vjp fwd of {name} must return a pair (output, residuals)")
    out, res = res_out
    out_flat, o_tree = tree.tree_flatten(out)
    if out_tree is not None and o_tree != out_tree:
        raise TypeError(
            f"custom_vjp fwd of {name} returned output structure {o_tree}, but "
            f"the function returns {out_tree}"
        )
    res_flat, res_tree = tree.tree_flatten(res)
    in_avals = [get_aval(p) for p in primals[num_consts:]]

    def bwd(res_vals, cts):
        res_args = tree.tree_unflatten(res_tree, list(res_vals))
        ct_args = tree.tree_unflatten(o_tree, [to_array(instantiate(c)) for c in cts])
        cts_in = user_bwd(*(v for _, v in static), res_args, ct_args)
        return _flat_cotangents(cts_in, in_tree, in_avals, name)

    return out_flat, res_flat, bwd, o_tree


def _flat_cotangents(cts_in, in_tree, in_avals, name):
    """bwd's per-argument cotangents as one per input leaf, as jax reads them: a tuple
    (a list of the right length is accepted) with one entry per argument, where None for
    an argument or any subtree of it means zero."""
    dummy = tree.tree_unflatten(in_tree, [object() for _ in range(in_tree.num_leaves)])
    if isinstance(cts_in, list) and len(cts_in) == len(dummy):
        cts_in = tuple(cts_in)
    if not isinstance(cts_in, tuple):
        raise TypeError(
            f"custom_vjp bwd of {name} must return a tuple with one cotangent "
            f"per argument; it returned {type(cts_in).__name__}"
        )
    if len(cts_in) != len(dummy):
        raise TypeError(
            f"custom_vjp bwd of {name} returned {len(cts_in)} cotangents for {len(dummy)} arguments"
        )
    zero = object()
    flat = []

    def append(ct, d):
        flat.extend([zero if ct is None else ct] * len(tree.tree_leaves(d)))

    try:
        tree.tree_map(append, cts_in, dummy, is_leaf=lambda x: x is None)
    except ValueError:
        raise TypeError(
            f"custom_vjp bwd of {name} must return cotangents with the "
            f"structure of the arguments {in_tree}; got "
            f"{tree.tree_structure(cts_in)}"
        ) from None
    paths = [tree.keystr(p) for p, _ in tree.tree_flatten_with_path(dummy)[0]]
    return [
        _checked_cotangent(ct, aval, path, name, zero)
        for ct, aval, path in zip(flat, in_avals, paths)
    ]


def _checked_cotangent(ct, aval, path, name, zero):
    if ct is zero or not dtypes.is_inexact(aval.dtype):
        return Zero(tangent_aval(aval))
    ct = to_array(ct)
    ca = get_aval(ct)
    if ca.shape != aval.shape:
        raise ValueError(
            f"custom_vjp bwd of {name} must produce cotangents of the "
            f"arguments' shapes, but at output{path} it produced "
            f"{ca.str_short()} for an input of type {aval.str_short()}"
        )
    if ca.dtype != aval.dtype:
        ct = lax.convert_element_type(ct, aval.dtype)
    return ct


def _linear_tangents(out_flat, res_flat, bwd, tangents):
    """The output tangents of a custom_vjp call: a custom_lin equation of the input
    tangents, whose transpose is the user's bwd."""
    if all(isinstance(t, Zero) for t in tangents):
        return [zero_like(o) for o in out_flat]
    out_avals = [tangent_aval(get_aval(o)) for o in out_flat]
    lin_in = [instantiate(t) for t in tangents]
    return custom_lin_p.bind(
        *res_flat, *lin_in, num_res=len(res_flat), bwd=bwd, out_avals=tuple(out_avals)
    )


@jvp_rules.register(custom_vjp_call_p)
def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, num_consts):
    out_flat, res_flat, bwd = fwd(primals)
    return out_flat, _linear_tangents(out_flat, res_flat, bwd, tangents[num_consts:])


@transpose_rules.register(custom_lin_p)
def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    res = args[:num_res]
    cts_in = bwd(res, list(cts))
    return [None] * num_res + list(cts_in)
