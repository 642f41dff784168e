"""Fused eager mode: eager code recorded lazily and compiled, one program per chain.

Inside `with fused_eager():` every primitive is recorded instead of run: a trace
(`LazyTrace`) sits at the bottom of the trace stack, as jit's staging trace does, so
grad/vmap/jit used inside the block stage onto it exactly as jit-of-grad stages. Each
operation returns a `LazyArray` at once (its shape and dtype come from the primitive's
abstract evaluation, which runs now: a shape error raises at the user's line). At a
sync point (anything that reads the buffer: printing, `np.asarray`, `float()`/`bool()`,
`block_until_ready`, `device_get`, saving, leaving the block) the whole pending chain
is compiled as one XLA program, cached by its structure (primitives, params, input
avals, wiring; never the values), and run once.

Choices (documented in the docstring of `fused_eager`):
- A flush computes every pending value that is still referenced from Python (weak
  references tell which), in one program; values nobody holds are dead code. Which
  values are referenced at a flush can vary with Python's cycle collector (grad keeps
  residuals in reference cycles), so a cached chain outputs the union of the values
  its runs needed (a run needing one more recompiles it once with the union).
- The cache key is the tuple of the equations' ids (each distinct (primitive, params,
  input references) gets an int once), the input avals and the device: per step one
  hash of a tuple of ints, one lookup and one execute.
- A `LazyArray` is a funcnet `Array` whose buffer is not there yet. Once computed, the
  object *becomes* a plain `Array` (its class is switched), so after the flush and
  after the block it is an ordinary array on every fast path.
- Python scalars (and 0-d NumPy values) are compiled into the chain (a different
  value is a different chain, as a constant captured by jit); NumPy arrays are
  copied to the device when recorded and become inputs. Concrete Arrays are inputs,
  one per object.
- Not fused (run as plain eager code at once): operations on sharded arrays, and
  everything while debug_nans/debug_infs is on.
- Primitives with their own eager rule (custom_jvp/vjp calls, callbacks, shard_map,
  ...) run that rule here, so their sub-programs are recorded op by op and callbacks
  see values in program order; `jit` calls are recorded as one nested equation.
"""

import logging
import threading
import weakref
from contextlib import contextmanager

import numpy as np

from funcnet.backend.lowering import lower_module
from funcnet.config import config
from funcnet.core import passes
from funcnet.core import trace as core_trace
from funcnet.core.array import Array, ShardedArray, asarray_from_value, to_buffer
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from funcnet.core.staging import _literal_value
from funcnet.core.trace import Trace, impl_rules, is_tracing, new_main
from funcnet.lax.calls import jit_p
from funcnet.runtime import xla
from funcnet.runtime.cache import LRUCache
from funcnet.transforms.fused_eager_keys import Lit, eqn_id, on_reset, params_key

log = logging.getLogger("funcnet.fused_eager")

__all__ = [
    "LazyArray",
    "cache_info",
    "clear_cache",
    "enter_from_config",
    "fused_eager",
    "is_active",
]

# Array's slots, read and written under the LazyArray property that shadows `_buf`.
_BUF = Array.__dict__["_buf"]
_AVAL = Array.__dict__["aval"]
_new_array = Array.__new__
_get_buf, _set_buf, _set_aval = _BUF.__get__, _BUF.__set__, _AVAL.__set__
_weakref = weakref.ref

# Pending equations at which a chain is cut and run even without a sync point, so that
# a loop that never reads a value does not build an unbounded program.
MAX_PENDING = 2000

# Distinct chains compiled past which a warning says that the chains keep changing.
_WARN_AFTER = 64

# structural key -> _Chain (a compiled program); bounded, least recently used first.
_chains = LRUCache(256)
# Chains compiled, run and found; fused_stage's call cache counts its traces, hits and
# calls it could not stage here too.
_stats = {
    "compiles": 0,
    "runs": 0,
    "hits": 0,
    "call_traces": 0,
    "call_hits": 0,
    "call_unstageable": 0,
}
on_reset.append(_chains.clear)


class _Pending:
    """What a LazyArray's buffer slot holds until its chain runs."""

    __slots__ = ("graph", "var")

    def __init__(self, graph, var):
        self.graph = graph
        self.var = var


class LazyArray(Array):
    """An `Array` recorded in `fused_eager` whose value is not computed yet.

    It has its shape, dtype and every `Array` method; reading its data (its buffer)
    runs the pending chain, after which the object is a plain `Array`.
    """

    __slots__ = ()  # the same layout as Array: the class can be switched in place

    @property
    def _buf(self):
        pending = _BUF.__get__(self, Array)
        if type(pending) is _Pending:
            pending.graph.flush()
            if type(self) is not Array:  # the flush did not reach it: a bug, never lose it
                raise RuntimeError(f"fused_eager: a pending value {self.aval.str_short()} was lost")
        return _BUF.__get__(self, Array)

    def __repr__(self):
        return Array.__repr__(self)


class _Graph:
    """The pending equations of one `fused_eager` block (one thread records into it)."""

    def __init__(self, cache_calls=True):
        self.lock = threading.RLock()
        self.cache_calls = cache_calls  # fused_stage: trace grad/vmap/updates once
        self._reset()

    def _reset(self):
        self.eqns = []  # (primitive, params, input refs, output avals)
        self.keys = []  # per equation its id (eqn_id; None: unhashable params)
        self.outs = []  # (var, weakref to the LazyArray) per equation output
        self.n_vars = 0
        self.inputs = []  # concrete Arrays, in first-use order
        self.in_avals = []
        self.input_ref = {}  # id(Array) -> its ref (-1 - index)
        self.device = None

    # --- recording -------------------------------------------------------------

    def ref(self, x):
        """The reference of an argument: a var (>= 0), an input (< 0) or a literal."""
        if type(x) is LazyArray:
            pending = _BUF.__get__(x, Array)
            if pending.graph is self:
                return pending.var
            _materialize(x)  # pending in another block or thread: computed there first
        if isinstance(x, Array):
            r = self.input_ref.get(id(x))
            if r is None:
                r = self.input_ref[id(x)] = -1 - len(self.inputs)
                self.inputs.append(x)
                self.in_avals.append(x.aval)
                if self.device is None:
                    self.device = x.device
            return r
        lit = _literal_value(x)
        if lit is not None:
            return Lit(*lit)
        # NumPy values: copied now (the runtime may alias an aligned host array, and the
        # caller may write to it before the chain runs).
        return self.ref(asarray_from_value(np.array(x)))

    def record(self, prim, args, params, out_avals=None):
        """Records `prim(*args, **params)`; returns its outputs as LazyArrays.
        `out_avals`, when the caller knows them (fused_stage's traced calls), skips
        the abstract evaluation."""
        with self.lock:
            if len(self.eqns) >= MAX_PENDING:
                self.flush()
            refs = []
            avals = []
            for x in args:
                if type(x) is LazyArray:  # the common case, inlined: a value of this chain
                    pending = _get_buf(x, Array)
                    if pending.graph is self:
                        refs.append(pending.var)
                        avals.append(x.aval)
                        continue
                r = self.ref(x)
                refs.append(r)
                avals.append(self.in_avals[-1 - r] if type(r) is int else r.aval)
            refs = tuple(refs)
            if out_avals is None:  # errors raise at the user's line
                out_avals = prim.abstract_eval(*avals, **params)
            first = self.n_vars
            self.n_vars += len(out_avals)
            self.eqns.append((prim, params, refs, out_avals))
            self.keys.append(eqn_id((prim, params_key(params) if params else (), refs)))
            outs = []
            append = self.outs.append
            for i, aval in enumerate(out_avals):
                lazy = _new_array(LazyArray)
                _set_aval(lazy, aval)
                _set_buf(lazy, _Pending(self, first + i))
                append((first + i, _weakref(lazy)))
                outs.append(lazy)
        return outs

    # --- running ---------------------------------------------------------------

    def flush(self):
        """Compile (once per structure) and run the pending chain; every pending value
        still referenced becomes a plain Array.

        Which values are still referenced varies from step to step with Python's cycle
        collector (grad's tracers hold residuals in reference cycles until it runs), so
        the cache is keyed by the equations and inputs alone and a chain computes every
        value any run has needed: a run needing one more recompiles with the union."""
        with self.lock:
            if not self.eqns:
                return
            live = [(var, obj) for var, ref in self.outs if (obj := ref()) is not None]
            if not live:
                self._reset()
                return
            device = self.device or xla.default_device()
            key = (tuple(self.keys), tuple(self.in_avals), device, config.enable_x64)
            if None in self.keys:  # an unhashable param: compile without caching
                key, chain = None, None
            else:
                chain = _chains.get(key)
            if chain is None or not chain.covers(live):
                wanted = {var for var, _ in live}
                if chain is not None:
                    wanted.update(chain.position)
                chain = _Chain(self, sorted(wanted), device)
                if key is not None:
                    _chains.put(key, chain)
            else:
                _stats["hits"] += 1
            bufs = [x._buf if type(x) is Array else to_buffer(x, device)[0] for x in self.inputs]
            results = chain.executable.execute(bufs)
            _stats["runs"] += 1
            position = chain.position
            for var, obj in live:
                _BUF.__set__(obj, results[position[var]])
                obj.__class__ = Array
            self._reset()


class _Chain:
    """A compiled chain: the recorded equations as one program, dead code removed."""

    __slots__ = ("executable", "n_eqns", "position")

    def __init__(self, graph, out_vars, device):
        self.position = {var: i for i, var in enumerate(out_vars)}
        invars = [Var(a) for a in graph.in_avals]
        variables = {}

        def atom(r):
            if type(r) is int:
                return variables[r] if r >= 0 else invars[-1 - r]
            return Literal(r.val, r.aval)

        eqns = []
        var = 0
        for prim, params, refs, out_avals in graph.eqns:
            outs = []
            for aval in out_avals:
                variables[var] = v = Var(aval)
                outs.append(v)
                var += 1
            eqns.append(JaxprEqn(prim, [atom(r) for r in refs], params, outs, None))
        jaxpr = Jaxpr([], invars, eqns, [variables[v] for v in out_vars])
        closed = passes.optimize(ClosedJaxpr(jaxpr, []))
        self.n_eqns = len(closed.jaxpr.eqns)
        lowered = lower_module(closed, name="fused_eager", platform=device.platform)
        self.executable = xla.Executable(lowered.text, device, len(out_vars))
        _stats["compiles"] += 1
        if _stats["compiles"] == _WARN_AFTER:
            log.warning(
                "fused_eager compiled %d distinct chains: the recorded operations keep "
                "changing (a Python scalar that changes every step is compiled into the "
                "chain: pass it as an array; or read a value once per step)",
                _WARN_AFTER,
            )

    def covers(self, live) -> bool:
        position = self.position
        return all(var in position for var, _ in live)


class LazyTrace(Trace):
    """The trace of a `fused_eager` block: records each primitive (see the module)."""

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, primitive, values, params):
        if (primitive in impl_rules and primitive is not jit_p) or _run_now(values):
            # Its own eager rule (sub-programs bind back into this trace), or an input
            # this mode does not fuse: run it as plain eager code would.
            rule = impl_rules.get(primitive)
            if rule is None:
                rule = core_trace.default_impl()
                values = [_force(x) for x in values]
            out = rule(primitive, *values, **params)
            return out if primitive.multiple_results else [out]
        return self.main.global_data.record(primitive, values, params)


def _materialize(x):
    """Computes a LazyArray's value (making it a plain Array); returns its buffer."""
    return x._buf


def _force(x):
    if type(x) is LazyArray:
        _materialize(x)
    return x


def _run_now(values) -> bool:
    if config.debug_nans or config.debug_infs:
        return True
    return ShardedArray in map(type, values)


def _active_graph():
    dynamic = core_trace._state.dynamic
    if dynamic.trace_type is LazyTrace:
        return dynamic.global_data
    return None


def is_active() -> bool:
    """Whether this thread is inside a `fused_eager` block (and not inside a jit trace).

    Returns:
      A bool.
    """
    return _active_graph() is not None


@contextmanager
def fused_eager(*, cache_calls=True):
    """Records eager operations and runs each chain as one compiled program.

    Inside the block, funcnet operations return at once with arrays whose values are
    computed later, together: at a sync point (printing, `np.asarray`, `float()`,
    `int()`, `bool()` (an `if` on a value), `.item()`, `block_until_ready`,
    `fn.device_get`, saving, or leaving the block) every pending operation whose result
    is still referenced runs as one XLA program. Programs are cached by structure, so a
    training step written without `jit` compiles once and then runs one program per
    step. `grad`, `vmap` and `jit` work inside the block (a jitted call is one step of
    the chain). Shapes and dtypes are checked when an operation is called, so errors
    raise at the line that made them. Values stay valid after the block (they are
    computed when it is left). A chain is also cut after 2,000 pending operations.

    So that a step's Python does not run again every step, calls of `grad`,
    `value_and_grad`, `vmap`, an optimizer's `update` and `optim.apply_updates` made at
    the block's level are traced once per function and argument signature and recorded
    as one operation, as `jit` traces (funcnet/transforms/fused_stage.py). As with
    `jit`, the function's Python (and its side effects) then runs once per signature,
    and a global it reads is assumed not to change; a closure cell or default that is
    rebound traces again. A call that cannot be traced (Python control flow on a
    value) runs op by op. `cache_calls=False` records every operation every step.

    Python scalars are compiled into the chain, as constants captured by `jit` are: one
    that changes every step (a learning rate computed in Python) makes a new chain each
    time; pass such a value as an array. Read a value once per step (the loss) or call
    `block_until_ready` so that each step is one chain. `fn.config.fused_eager = True`
    (or `FUNCNET_FUSED_EAGER=1`) opens such a block for the thread until it is set back
    to False. While a block is open, eager code in other threads takes the general
    dispatch path (the per-op fast paths need no transformation active anywhere).

    Args:
      cache_calls: trace grad, vmap and optimizer updates once per signature (True,
        the default) or record their operations on every call (False).

    Returns:
      A context manager (entering it gives None).

    Raises:
      ValueError: entered inside `jit`, `grad` or `vmap` tracing (it must be the
        outermost transformation).

    Example:
      >>> with fn.fused_eager():
      ...     x = fnp.arange(4.0)
      ...     y = fnp.sin(x) * 2 + 1        # recorded, not run
      ...     total = float(y.sum())        # a sync point: one program runs
      >>> round(total, 4)
      7.7838
      >>> np.asarray(y).round(3)            # still valid after the block
      array([1.   , 2.683, 2.819, 1.282], dtype=float32)
    """
    if _active_graph() is not None:  # nested: the outer block records
        yield
        return
    if is_tracing():
        raise ValueError(
            "fused_eager() must be entered outside jit, grad, vmap and other "
            "transformations (it records eager code; inside a transformation the code "
            "is traced already)"
        )
    graph = _Graph(bool(cache_calls))
    ok = False
    with new_main(LazyTrace, graph, dynamic=True):
        try:
            yield
            ok = True
        finally:
            if ok:
                graph.flush()
    # After an exception, what is pending runs when it is next read (nothing is lost).


# The block opened by `funcnet.config.fused_eager = True`, per thread.
_flag_block = threading.local()


def _on_flag(value):
    block = getattr(_flag_block, "block", None)
    if value and block is None:
        block = fused_eager()
        block.__enter__()
        _flag_block.block = block
    elif not value and block is not None:
        if core_trace._state.stack[-1].trace_type is not LazyTrace:
            object.__setattr__(config, "fused_eager", True)  # the block stays open
            raise ValueError(
                "funcnet.config.fused_eager = False inside jit, grad or vmap: set it "
                "outside transformations"
            )
        _flag_block.block = None
        block.__exit__(None, None, None)


config.on_change("fused_eager", _on_flag)


def enter_from_config() -> None:
    """Opens the block of `funcnet.config.fused_eager` in this thread if the option is
    on (what `import funcnet` does for `FUNCNET_FUSED_EAGER=1`).

    Returns:
      None.
    """
    if config.fused_eager:
        _on_flag(True)


def cache_info() -> dict:
    """Counters of fused eager mode: chains compiled, runs, cache hits, cached chains,
    and the call cache's traces, hits and calls it could not stage.

    Returns:
      A dict with "compiles", "runs", "hits", "size", "call_traces", "call_hits" and
      "call_unstageable".
    """
    return {**_stats, "size": len(_chains)}


def clear_cache() -> None:
    """Drops every compiled chain (the counters stay).

    Returns:
      None.
    """
    _chains.clear()
