"""Eager mode: each primitive runs as a one-primitive program, compiled once per
(primitive, params, avals, device) and cached. jit and eager share lowering and
compiler, so their numerics agree.

The programs and the fast path live in one `DispatchCache` (backend/dispatch.py, the one
jitted functions use too), bounded by `funcnet.config.eager_cache_size`. Importing this
module installs `apply_primitive` as core's default eager implementation.
"""

from typing import Any, NamedTuple

from funcnet.backend import dispatch, sharded
from funcnet.backend.lowering import lower_module
from funcnet.config import config
from funcnet.core import trace as core_trace
from funcnet.core.array import Array, ShardedArray, to_buffer, wrap_buffer
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Var
from funcnet.core.trace import set_default_impl
from funcnet.runtime import xla
from funcnet.runtime.cache import register_clearer

_single_device = xla.single_device


class _PrimitiveProgram(dispatch.Program):
    """The executable of one primitive at one signature, and its output types."""

    __slots__ = ("executable", "out_avals")

    def __init__(self, executable, out_avals):
        super().__init__()
        self.executable = executable
        self.out_avals = tuple(out_avals)


# programs: (prim, params, avals, device, x64) -> _PrimitiveProgram
# fast:     (prim, params, avals, device or None on a one-device process) -> FastCall
_cache = dispatch.DispatchCache("eager_cache_size")
_fast_call = _cache.call  # bound once: one attribute lookup less per op
_MISS = dispatch.MISS


@register_clearer
def _clear_fast(_value=None):
    _cache.clear_fast()


# A switch that changes what a signature means (x64) empties the fast path.
config.on_change("enable_x64", _clear_fast)


def _block_fast_paths(_value=None):
    # nan/inf checks hook in as core's default implementation (nan_check.checked_apply),
    # which only `bind` reaches: funcnet.numpy's fast paths must step aside meanwhile.
    core_trace.block_eager_fast_paths(config.debug_nans or config.debug_infs)


config.on_change(("debug_nans", "debug_infs"), _block_fast_paths)
_block_fast_paths()  # the flags may be on already (FUNCNET_DEBUG_NANS=1)


def _first_device(args):
    return xla.device_of(args[0]._buf) if args else xla.default_device()


def _device_of(args):
    for a in args:
        if isinstance(a, Array):
            return a.device
    return xla.default_device()


class _OnMesh:
    """What the cache holds for a primitive whose sub-programs name a mesh (an eager
    cond or scan around a shard_map): it runs partitioned over that mesh."""

    __slots__ = ("mesh",)

    def __init__(self, mesh):
        self.mesh = mesh


def _compile_primitive(prim, params, avals, device):
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in prim.abstract_eval(*avals, **params)]
    jaxpr = Jaxpr([], invars, [JaxprEqn(prim, invars, params, outvars)], outvars)
    lowered = lower_module(ClosedJaxpr(jaxpr, []), name=prim.name, platform=device.platform)
    if lowered.meshes:
        return _OnMesh(lowered.meshes[0])
    text = lowered.text
    return _PrimitiveProgram(xla.Executable(text, device, len(outvars)), [v.aval for v in outvars])


def apply_primitive(prim, *args, **params):
    # Fast path: every argument a funcnet Array (the common case in eager code), one
    # cache probe keyed by (primitive, params, avals[, device]). Anything else (NumPy
    # values, Python scalars, unhashable params, a first call) takes the general path,
    # which fills the cache.
    try:
        out = _fast_call(
            (
                prim,
                tuple(params.items()) if params else (),
                tuple([a.aval for a in args]),
                None if _single_device() else _first_device(args),
            ),
            args,
        )
    except (AttributeError, TypeError):
        out = _MISS
    if out is _MISS:
        return apply_general(prim, args, params)
    return out


def apply_general(prim, args, params):
    """Run one primitive eagerly through the bounded program cache (and record the
    signature for `apply_primitive`'s fast path). An op on a sharded array runs as a
    partitioned program (backend/sharded.py)."""
    for a in args:
        if type(a) is ShardedArray:
            if _recording is not None:
                _recording.append(None)  # not one plain program: nothing to replay
            return sharded.apply(prim, args, params)
    device = _device_of(args)
    bufs, avals = zip(*(to_buffer(a, device) for a in args)) if args else ((), ())
    try:
        key = (prim, tuple(params.items()), avals, device, config.enable_x64)
        hash(key)
    except TypeError:
        key = None  # unhashable params: compile without caching
    program = _cache.programs.get(key) if key is not None else None
    if program is None:
        program = _compile_primitive(prim, params, list(avals), device)
        if key is not None:
            _cache.programs.put(key, program)
    if type(program) is _OnMesh:
        if _recording is not None:
            _recording.append(None)
        return sharded.apply(prim, args, params, mesh=program.mesh)
    exe = program.executable
    outs = list(map(wrap_buffer, exe.execute(list(bufs)), program.out_avals))
    if _recording is not None:
        _recording.append(Record(prim, args, params, program, outs))
    parts = exe.dispatch_parts()
    if key is not None and parts is not None and all(type(a) is Array for a in args):
        fast_key = (prim, key[1] or (), avals, None if _single_device() else device)
        out_tree = dispatch.LIST if prim.multiple_results else None
        _cache.add_fast(
            fast_key, dispatch.FastCall(*parts, [], program.out_avals, out_tree, program)
        )
    return outs if prim.multiple_results else outs[0]


# --- recording, for funcnet.numpy's per-signature fast paths ---------------------------


class Record(NamedTuple):
    """One primitive run by `apply_general` while recording."""

    prim: Any
    args: tuple  # as given (Arrays, NumPy values)
    params: dict
    program: _PrimitiveProgram
    outs: list  # the output Arrays


_recording = None  # a list of Records while `record` runs a function


def _recording_impl(prim, *args, **params):
    return apply_general(prim, args, params)


def record(fn, args):
    """Run `fn(*args)` eagerly with every primitive through `apply_general`, recording.

    funcnet.numpy's fast paths call it on a signature's first call: when `fn` ran one
    primitive on its own arguments and returned that output, the next calls of the
    signature replay that program directly. Primitives with their own eager rule
    (`impl_rules`) are not seen: the caller checks that the output is the recorded one.
    Another thread's eager ops meanwhile are recorded too (so the caller sees too many
    records and replays nothing).

    Args:
      fn: the function.
      args: its positional arguments.

    Returns:
      `(result, records)`: the `Record` of each one-primitive program run (None for
      anything else: a partitioned op), or records None where nothing can be recorded
      (a recording already running, or nan checks installed).
    """
    global _recording
    if _recording is not None or core_trace.default_impl() is not apply_primitive:
        return fn(*args), None
    records = _recording = []
    set_default_impl(_recording_impl)
    try:
        out = fn(*args)
    finally:
        _recording = None
        if core_trace.default_impl() is _recording_impl:
            set_default_impl(apply_primitive)
    return out, records


def cache_size() -> int:
    return len(_cache.programs)


def fast_path_size() -> int:
    """How many signatures the fast path answers (for tests and diagnostics)."""
    return len(_cache.fast)


def cache_info():
    """Statistics of the eager program cache (hits and misses of the general dispatch
    path; calls answered by the fast path are not counted)."""
    return _cache.programs.info()


def clear_cache():
    """Drop every compiled one-primitive program."""
    _cache.clear()


set_default_impl(apply_primitive)
