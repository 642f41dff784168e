"""Partial evaluation: run what is known now, record what is not.

Reverse mode is jvp + partial evaluation + transposition. Under `linearize`,
primal values are known (computed at once, by whatever trace is below) and
tangents are unknown; every operation touching a tangent is recorded into a
linear program whose constants are the residuals the backward pass needs.
Known values never stay wrapped: a known tracer lowers to its value, so Python
control flow on primal values keeps working under `grad`.

`partial_eval_rules` holds the rules of primitives that contain programs (jit, remat,
custom rules, control flow): they split their program into a known part that
runs now and an unknown part that is recorded.
"""

from funcnet import lax
from funcnet.core.jaxpr import (
    ClosedJaxpr,
    Jaxpr,
    JaxprEqn,
    Literal,
    Var,
    closed_without_consts,
    eval_jaxpr,
)
from funcnet.core.rules import RuleTable
from funcnet.core.source_info import user_frame, where
from funcnet.core.staging import _literal_value, trace_to_jaxpr
from funcnet.core.trace import Trace, Tracer, _state, full_raise, get_aval, new_main
from funcnet.lax.calls import jit_p

partial_eval_rules = RuleTable("partial_eval")

_UNKNOWN = object()


class PETracer(Tracer):
    __slots__ = ("_aval", "val")

    def __init__(self, trace, aval, val=_UNKNOWN):
        self._trace = trace
        self._aval = aval
        self.val = val

    @property
    def aval(self):
        return self._aval

    @property
    def is_known(self):
        return self.val is not _UNKNOWN

    def full_lower(self):
        return self.val if self.is_known else self

    def _concretization_message(self, what):
        return (
            f"{what} needs a concrete value, but got a value that depends on the "
            f"tangents being linearized ({self.aval.str_short()}){where()}."
        )


class PEBuilder:
    """Records the unknown equations; known values they read become constvars."""

    def __init__(self):
        self.eqns = []
        self.vars = {}  # id(unknown tracer) -> Var
        self.keep = []  # keeps tracers and values alive while their ids are keys
        self.const_vars = {}  # id(known value) -> Var
        self.const_vals = {}  # Var -> known value

    def atom(self, tracer: PETracer):
        if not tracer.is_known:
            return self.vars[id(tracer)]
        lit = _literal_value(tracer.val)
        if lit is not None:
            return Literal(*lit)
        var = self.const_vars.get(id(tracer.val))
        if var is None:
            var = Var(get_aval(tracer.val))
            self.const_vars[id(tracer.val)] = var
            self.const_vals[var] = tracer.val
            self.keep.append(tracer.val)
        return var

    def new_unknown(self, trace, aval):
        tracer = PETracer(trace, aval)
        self.vars[id(tracer)] = Var(aval)
        self.keep.append(tracer)
        return tracer

    def build(self, in_tracers, out_tracers) -> ClosedJaxpr:
        invars = [self.vars[id(t)] for t in in_tracers]
        outvars = [self.atom(t) for t in out_tracers]
        constvars = list(self.const_vals)
        closed = ClosedJaxpr(
            Jaxpr(constvars, invars, self.eqns, outvars), [self.const_vals[v] for v in constvars]
        )
        # The tracers point back at this builder through their trace: dropping them here
        # lets the residuals go when the caller drops the program, not at the next
        # cycle collection.
        self.eqns, self.vars, self.keep, self.const_vars, self.const_vals = [], {}, [], {}, {}
        return closed


class PETrace(Trace):
    @property
    def builder(self) -> PEBuilder:
        return self.main.global_data

    def pure(self, val):
        return PETracer(self, get_aval(val), val)

    lift = pure

    def new_unknown(self, aval):
        return self.builder.new_unknown(self, aval)

    def process_primitive(self, primitive, tracers, params):
        if all(t.is_known for t in tracers):
            outs = primitive.bind(*(t.val for t in tracers), **params)
            outs = outs if primitive.multiple_results else [outs]
            return [self.pure(o) for o in outs]
        rule = partial_eval_rules.get(primitive)
        if rule is not None:
            return rule(self, tracers, **params)
        return self.record(primitive, tracers, params)

    def record(self, primitive, tracers, params, out_avals=None):
        """Stage one equation whose outputs are unknown."""
        if out_avals is None:
            out_avals = primitive.abstract_eval(*(t.aval for t in tracers), **params)
        builder = self.builder
        outs = [builder.new_unknown(self, a) for a in out_avals]
        builder.eqns.append(
            JaxprEqn(
                primitive,
                [builder.atom(t) for t in tracers],
                params,
                [builder.vars[id(o)] for o in outs],
                user_frame(),
            )
        )
        return outs


def is_unknown(x, main) -> bool:
    return isinstance(x, PETracer) and x._trace.main is main and not x.is_known


def partial_eval_flat(fun, known_vals, unknown_avals_mask_and_vals):
    """Run `fun(*args)`; `unknown_avals_mask_and_vals` lists per argument either
    ('known', value) or ('unknown', aval). Returns (outs, out_unknown, linear
    ClosedJaxpr of unknown inputs -> unknown outputs, with residuals as consts)."""
    builder = PEBuilder()
    with new_main(PETrace, builder) as main:
        trace = PETrace(main)
        args, unknown_in = [], []
        for kind, v in unknown_avals_mask_and_vals:
            if kind == "known":
                args.append(v)
            else:
                t = trace.new_unknown(v)
                unknown_in.append(t)
                args.append(t)
        outs = fun(*args)
        out_unknown = [is_unknown(o, main) for o in outs]
        unknown_outs = [full_raise(trace, o) for o, u in zip(outs, out_unknown) if u]
        closed = builder.build(unknown_in, unknown_outs)
    known_outs = [None if u else o for o, u in zip(outs, out_unknown)]
    return known_outs, out_unknown, closed


def partial_eval_jaxpr(closed: ClosedJaxpr, unknowns, instantiate=False):
    """Split a program by which inputs are unknown.

    Returns (known, unknown, out_unknown, num_res):
      known:   known inputs -> known outputs + residuals
      unknown: residuals + unknown inputs -> unknown outputs
    With instantiate=True (or a per-output list), those outputs count as unknown
    even if computable now (their value then travels as a residual)."""
    in_avals = closed.in_avals
    n_out = len(closed.out_avals)
    inst = [instantiate] * n_out if isinstance(instantiate, bool) else list(instantiate)
    known_avals = [a for a, u in zip(in_avals, unknowns) if not u]
    box = {}

    def fun_known(*known_vals):
        it = iter(known_vals)
        spec = [("unknown", a) if u else ("known", next(it)) for a, u in zip(in_avals, unknowns)]

        def run(*args):
            outs = eval_jaxpr(closed.jaxpr, closed.consts, *args)
            return [_force_unknown(o) if i else o for o, i in zip(outs, inst)]

        known_outs, out_unknown, unknown_closed = partial_eval_flat(run, None, spec)
        box["out_unknown"] = out_unknown
        box["unknown"] = unknown_closed
        return [o for o, u in zip(known_outs, out_unknown) if not u] + unknown_closed.consts

    known = trace_to_jaxpr(fun_known, known_avals)
    unknown_closed = box["unknown"]
    j = unknown_closed.jaxpr
    unknown = ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), [])
    return known, unknown, box["out_unknown"], len(j.constvars)


def _force_unknown(x):
    """Inside a PE trace, make a known value unknown by staging a copy of it."""
    tracers = [t for t in [x] if isinstance(t, PETracer)]
    if tracers and not tracers[0].is_known:
        return x
    trace = _innermost_pe_trace()
    return trace.record(lax.copy_p, [trace.pure(x)], {})[0]


def _innermost_pe_trace():
    for main in reversed(_state.stack):
        if main.trace_type is PETrace:
            return PETrace(main)
    raise RuntimeError("no partial-evaluation trace is active")


def _jit_partial_eval(trace, tracers, *, jaxpr, name):
    """Run the known part of a jitted program as one compiled call; record the rest."""
    unknowns = [not t.is_known for t in tracers]
    known, unknown, out_unknown, num_res = partial_eval_jaxpr(jaxpr, unknowns)
    known_vals = [t.val for t in tracers if t.is_known]
    outs = jit_p.bind(*known.consts, *known_vals, jaxpr=closed_without_consts(known), name=name)
    n_known_out = len(outs) - num_res
    known_outs, residuals = outs[:n_known_out], outs[n_known_out:]
    res_tracers = [trace.pure(r) for r in residuals]
    unknown_in = [t for t in tracers if not t.is_known]
    unknown_outs = iter(
        trace.record(
            jit_p, res_tracers + unknown_in, dict(jaxpr=unknown, name=name), unknown.out_avals
        )
    )
    known_iter = iter(known_outs)
    return [next(unknown_outs) if u else trace.pure(next(known_iter)) for u in out_unknown]


def _register_jit_rule():
    partial_eval_rules.register(jit_p)(_jit_partial_eval)


_register_jit_rule()
