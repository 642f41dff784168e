"""The tracing machinery: primitives, the trace stack, tracers and `bind`.

Every transformation (eager evaluation, staging into the IR, jvp, vmap, partial
evaluation) is a `Trace` subclass. Interpreting a primitive means finding the
innermost trace among its arguments (the highest level on the stack), lifting
every argument into it, and letting that trace process the primitive.
"""

import threading
from contextlib import contextmanager

import numpy as np

from funcnet.core.aval import ShapedArray, shaped_abstractify
from funcnet.core.rules import RuleTable
from funcnet.core.source_info import where


class FuncnetError(Exception):
    """Base of funcnet's own errors."""


class ConcretizationError(FuncnetError, TypeError):
    """A traced value was used where Python needs a concrete one (if, int(), ...)."""


# The particular cases carry jax's names (jax.errors), so that code catching them by
# name keeps working after renaming its imports.
class TracerBoolConversionError(ConcretizationError):
    """bool() of a traced value: a Python `if`/`while` on it."""


class TracerIntegerConversionError(ConcretizationError):
    """int() or an index (__index__) made of a traced value."""


class TracerArrayConversionError(ConcretizationError):
    """np.asarray() / __array__ of a traced value."""


class UnexpectedTracerError(FuncnetError):
    """A tracer escaped the transformation that created it."""


# --- primitives ---------------------------------------------------------------


class Primitive:
    """A named operation. Its rules live in one table per transformation."""

    # True for a primitive whose point is a side effect (a host callback): program
    # passes keep its equations even when no output is read, and never merge two.
    effectful = False

    def __init__(self, name: str, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self._abstract_eval = None

    def __repr__(self):
        return self.name

    def def_abstract_eval(self, rule):
        self._abstract_eval = rule
        return rule

    def abstract_eval(self, *avals, **params):
        """Shape and dtype inference; always returns a list of avals."""
        out = self._abstract_eval(*avals, **params)
        return list(out) if self.multiple_results else [out]

    def bind(self, *args, **params):
        if _state.dynamic.level == 0 and not any(isinstance(a, Tracer) for a in args):
            # Eager fast path: nothing to trace, run the primitive now.
            return impl_rules.get(self, _default_impl)(self, *args, **params)
        if bind_hook is not None:
            return bind_hook(self, args, params)
        # (bind_traced inlined: this is the path of every traced operation)
        top_trace = find_top_trace(args)
        tracers = [full_raise(top_trace, a) for a in args]
        outs = [full_lower(o) for o in top_trace.process_primitive(self, tracers, params)]
        return outs if self.multiple_results else outs[0]

    def bind_traced(self, args, params):
        """Bind on the innermost trace among `args` (what `bind` does when tracing)."""
        top_trace = find_top_trace(args)
        tracers = [full_raise(top_trace, a) for a in args]
        outs = [full_lower(o) for o in top_trace.process_primitive(self, tracers, params)]
        return outs if self.multiple_results else outs[0]


# Set only while a shard_map body is traced (funcnet.transforms.vma installs it), as jax
# tracks replication at bind time: `bind_hook(prim, args, params)` may mark replicated
# operands as varying before calling `prim.bind_traced`, and records what comes out.
bind_hook = None


def set_bind_hook(hook):
    """Install `hook` (or None); returns the previous one."""
    global bind_hook
    previous, bind_hook = bind_hook, hook
    return previous


# Eager implementations that are not "compile the one-primitive program" (jit_call, ...).
impl_rules = RuleTable("impl")


def _no_backend(prim, *args, **params):
    raise RuntimeError(
        f"no eager implementation is installed to run {prim.name}: import "
        "funcnet (funcnet.backend installs XLA's)"
    )


# Every other primitive runs with the default implementation, which the backend installs
# (funcnet/backend/eager.py: compile the one-primitive program, cached). Installing it
# from above keeps core free of backend imports; nan checks swap in a checking one.
_default_impl = _no_backend


def set_default_impl(impl) -> None:
    """Install `impl(prim, *args, **params)` as the eager implementation of primitives
    without an entry in `impl_rules`."""
    global _default_impl
    _default_impl = impl


def default_impl():
    return _default_impl


# --- the trace stack ----------------------------------------------------------


class MainTrace:
    def __init__(self, level, trace_type, global_data=None):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.active = True

    def __repr__(self):
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


# Eager fast paths (funcnet.numpy's per-signature probes) skip `bind`, so they may run
# only while no transformation is active anywhere: `eager_fast` is True exactly when no
# MainTrace above the eval one is pushed in any thread (counted across threads: a thread
# tracing makes every thread take the general path, which is always right) and no switch
# such as debug_nans asks to see every primitive. One module global, read per op.
eager_fast = True
_active_mains = 0
_fast_blocked = False
_count_lock = threading.Lock()


def _count_main(delta: int) -> None:
    global _active_mains, eager_fast
    with _count_lock:
        _active_mains += delta
        eager_fast = _active_mains == 0 and not _fast_blocked


def block_eager_fast_paths(blocked: bool) -> None:
    """Turn the eager fast paths off (True) or back on (a switch such as debug_nans
    wants every primitive to go through `bind` and the installed implementation)."""
    global _fast_blocked
    _fast_blocked = bool(blocked)
    _count_main(0)


@contextmanager
def new_main(trace_type, global_data=None, dynamic=False):
    main = MainTrace(len(_state.stack), trace_type, global_data)
    _state.stack.append(main)
    _count_main(1)
    prev_dynamic = _state.dynamic
    if dynamic:
        _state.dynamic = main
    try:
        yield main
    finally:
        _state.dynamic = prev_dynamic
        _state.stack.pop()
        _count_main(-1)
        main.active = False


def is_tracing() -> bool:
    """True inside any transformation: an eager fast path must not be taken then."""
    return len(_state.stack) > 1


class Trace:
    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val):
        raise NotImplementedError

    def lift(self, tracer):
        raise NotImplementedError

    def process_primitive(self, primitive, tracers, params):
        raise NotImplementedError


class EvalTrace(Trace):
    """Level 0: run each primitive at once on XLA."""

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, primitive, values, params):
        out = impl_rules.get(primitive, _default_impl)(primitive, *values, **params)
        return out if primitive.multiple_results else [out]


class _TraceState(threading.local):
    def __init__(self):
        self.stack = [MainTrace(0, EvalTrace)]
        self.dynamic = self.stack[0]  # the staging trace that catches every op, if any


_state = _TraceState()


def find_top_trace(xs) -> Trace:
    top = _state.dynamic
    for x in xs:
        if isinstance(x, Tracer):
            main = x._trace.main
            if not main.active:
                raise_leaked_tracer(x)
            if main.level > top.level:
                top = main
    return top.trace_type(top)


_TRANSFORM_NAMES = {
    "JaxprTrace": "jit/make_jaxpr",
    "JVPTrace": "jvp/grad",
    "PETrace": "grad/linearize",
    "BatchTrace": "vmap",
}


def raise_leaked_tracer(tracer):
    made = getattr(tracer, "_made_at", None)
    kind = tracer._trace.main.trace_type.__name__
    raise UnexpectedTracerError(
        f"A traced value {tracer.aval.str_short()} escaped the transformation "
        f"({_TRANSFORM_NAMES.get(kind, kind)}) that created it"
        + (f" at {made}" if made else "")
        + f", and was used again{where()}. "
        "A function under jit/grad/vmap must return its results instead of storing "
        "them in globals, closures or lists that outlive the call."
    )


def full_raise(trace: Trace, val):
    if not isinstance(val, Tracer):
        return trace.pure(val)
    main = val._trace.main
    if main is trace.main:
        return val
    if not main.active:
        raise_leaked_tracer(val)
    if main.level < trace.main.level:
        return trace.lift(val)
    raise UnexpectedTracerError(
        f"Cannot lift a tracer of {main} into the lower-level {trace.main}; "
        f"a value leaked out of an inner transformation{where()}."
    )


def full_lower(val):
    return val.full_lower() if isinstance(val, Tracer) else val


def get_aval(x) -> ShapedArray:
    return x.aval if isinstance(x, Tracer) else shaped_abstractify(x)


# --- tracers ------------------------------------------------------------------


class Tracer:
    """An array stand-in owned by a trace. Operators are installed by funcnet.numpy."""

    __array_priority__ = 1000
    __slots__ = ("_trace",)

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def full_lower(self):
        return self

    def to_concrete_value(self):
        """The concrete value behind this tracer, or None when it has none."""
        return None

    def _concrete(self, what: str, error=ConcretizationError):
        if not self._trace.main.active:
            raise_leaked_tracer(self)
        value = self.to_concrete_value()
        if value is None:
            raise error(self._concretization_message(what))
        return value

    def _concretization_message(self, what: str) -> str:
        return (
            f"{what} needs a concrete value, but got a traced array "
            f"{self.aval.str_short()}{where()}. Inside jit (and other staged "
            "transformations) values are abstract: only shapes and dtypes are known. "
            "Use fnp.where(cond, x, y) to choose elementwise, fn.lax.cond / "
            "fn.lax.switch / fn.lax.while_loop for data-dependent control flow, or "
            "mark the argument static with jit(..., static_argnums=...)."
        )

    def __bool__(self):
        return bool(self._concrete("Python `if`/`while`/bool()", TracerBoolConversionError))

    def __int__(self):
        return int(self._concrete("int()", TracerIntegerConversionError))

    def __float__(self):
        return float(self._concrete("float()"))

    def __index__(self):
        return int(
            self._concrete(
                "Using a traced value as an index (__index__)", TracerIntegerConversionError
            )
        )

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._concrete("np.asarray()", TracerArrayConversionError), dtype=dtype)

    def __hash__(self):
        raise TypeError(f"traced arrays are unhashable ({self.aval.str_short()}){where()}")

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of an unsized (0-d) array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        return f"{type(self).__name__}<{self.aval.str_short()}>"
