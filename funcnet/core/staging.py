"""Staging: trace a Python function into a Jaxpr (used by jit and make_jaxpr).

The staging trace is *dynamic*: while it is active every primitive is recorded,
even one whose arguments are all concrete, so a jitted function sees its whole
program. Concrete arrays the function closes over become constvars; Python
scalars become literals.
"""

import sys

import numpy as np

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray, shaped_abstractify
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from funcnet.core.source_info import SourceInfo, op_origin
from funcnet.core.trace import Trace, Tracer, full_raise, new_main


def op_source_info() -> SourceInfo | None:
    """The user's line for an operation staged now (see `source_info.op_origin`: in a
    backward pass, the line of the forward operation being differentiated). Called for
    every staged equation, so the walk does little per frame."""
    return op_origin(sys._getframe(1))[0]


class JaxprTracer(Tracer):
    __slots__ = ("_aval", "_made_at")

    def __init__(self, trace, aval):
        self._trace = trace
        self._aval = aval
        self._made_at = None

    @property
    def aval(self):
        return self._aval


class JaxprBuilder:
    def __init__(self):
        self.eqns = []
        self.atoms = {}  # id(tracer) -> Var | Literal
        self.tracers = []  # keeps tracers alive so that ids stay unique
        self.consts = {}  # id(value) -> tracer, so one value becomes one constvar
        self.const_vals = {}  # constvar -> value

    def new_tracer(self, trace, aval, atom=None):
        tracer = JaxprTracer(trace, aval)
        self.tracers.append(tracer)
        self.atoms[id(tracer)] = Var(aval) if atom is None else atom
        return tracer

    def atom(self, tracer):
        return self.atoms[id(tracer)]

    def add_const(self, trace, val):
        tracer = self.consts.get(id(val))
        if tracer is None:
            aval = val.aval if isinstance(val, Tracer) else shaped_abstractify(val)
            tracer = self.new_tracer(trace, aval)
            self.consts[id(val)] = tracer
            self.const_vals[self.atom(tracer)] = val
            self.tracers.append(val)  # keep the value alive while its id is a key
        return tracer

    def build(self, in_tracers, out_tracers) -> ClosedJaxpr:
        invars = [self.atom(t) for t in in_tracers]
        outvars = [self.atom(t) for t in out_tracers]
        constvars = list(self.const_vals)
        jaxpr = Jaxpr(constvars, invars, self.eqns, outvars)
        return ClosedJaxpr(jaxpr, [self.const_vals[v] for v in constvars])


def _literal_value(val):
    """Python scalars and 0-d NumPy values are written into the program."""
    if dtypes.is_python_scalar(val):
        return val, ShapedArray((), dtypes.scalar_dtype(val), weak_type=dtypes.is_weak_scalar(val))
    if isinstance(val, np.generic) or (isinstance(val, np.ndarray) and val.shape == ()):
        dt = dtypes.canonicalize(val.dtype)
        return np.asarray(val, dt)[()], ShapedArray((), dt)
    return None


class JaxprTrace(Trace):
    @property
    def builder(self) -> JaxprBuilder:
        return self.main.global_data

    def new_arg(self, aval):
        tracer = self.builder.new_tracer(self, aval)
        tracer._made_at = op_source_info()  # where the traced call was made, for leak errors
        return tracer

    def pure(self, val):
        lit = _literal_value(val)
        if lit is not None:
            value, aval = lit
            return self.builder.new_tracer(self, aval, Literal(value, aval))
        return self.builder.add_const(self, val)

    lift = pure  # a tracer of an outer transformation is a constant of this program

    def process_primitive(self, primitive, tracers, params):
        builder = self.builder
        avals_out = primitive.abstract_eval(*(t.aval for t in tracers), **params)
        outs = [builder.new_tracer(self, a) for a in avals_out]
        info = op_source_info()
        for t in outs:
            t._made_at = info
        builder.eqns.append(
            JaxprEqn(
                primitive,
                [builder.atom(t) for t in tracers],
                params,
                [builder.atom(t) for t in outs],
                info,
            )
        )
        return outs


def trace_to_jaxpr(fun, in_avals) -> ClosedJaxpr:
    """Trace `fun(*flat_args) -> flat list of outputs` at the given avals."""
    builder = JaxprBuilder()
    with new_main(JaxprTrace, builder, dynamic=True) as main:
        trace = JaxprTrace(main)
        in_tracers = [trace.new_arg(a) for a in in_avals]
        outs = fun(*in_tracers)
        out_tracers = [full_raise(trace, o) for o in outs]
        return builder.build(in_tracers, out_tracers)
