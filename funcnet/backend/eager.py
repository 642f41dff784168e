"""Eager mode: each primitive runs as a one-primitive program, compiled once per
(primitive, params, avals, device) and cached. jit and eager share lowering and
compiler, so their numerics agree.

Two caches: `_cache`, a bounded LRU (`funcnet.config.eager_cache_size`) of compiled
programs, and `_fast`, a plain dict of the dispatch fast path derived from it (an entry
leaves `_fast` when its program leaves `_cache`). Importing this module installs
`apply_primitive` as core's default eager implementation.
"""

from funcnet.backend.lowering import lower_to_module
from funcnet.config import config
from funcnet.core.array import Array, to_buffer, wrap_buffer
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Var
from funcnet.core.trace import set_default_impl
from funcnet.runtime import xla
from funcnet.runtime.cache import LRUCache, register_clearer

_single_device = xla.single_device
_new_object = object.__new__


def _fast_key(key):
    """The fast-path key of a `_cache` key (prim, params, avals, device, x64)."""
    prim, params, avals, device, _x64 = key
    return (prim, params, avals, None if _single_device() else device)


def _drop_fast(key, _entry):
    _fast.pop(_fast_key(key), None)


def _used(entry) -> bool:
    """Was the entry's program run by the fast path since the last look? (clears it)"""
    mark = entry[2]
    used, mark[0] = mark[0], False
    return used


# key -> (Executable, out avals, [used by the fast path])
_cache = LRUCache("eager_cache_size", on_evict=_drop_fast, in_use=_used)
_fast: dict = {}  # (prim, params, avals, device or None) -> (run, handlers, out avals, mark)


@register_clearer
def _clear_fast(_value=None):
    _fast.clear()


# A switch that changes what a signature means (x64) empties the fast path.
config.on_change("enable_x64", _clear_fast)


def _first_device(bufs):
    return xla.device_of(bufs[0]) if bufs else xla.default_device()


def _device_of(args):
    for a in args:
        if isinstance(a, Array):
            return a.device
    return xla.default_device()


def _compile_primitive(prim, params, avals, device):
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in prim.abstract_eval(*avals, **params)]
    jaxpr = Jaxpr([], invars, [JaxprEqn(prim, invars, params, outvars)], outvars)
    text = lower_to_module(ClosedJaxpr(jaxpr, []), name=prim.name, platform=device.platform)
    return xla.Executable(text, device, len(outvars)), [v.aval for v in outvars]


def apply_primitive(prim, *args, **params):
    # Fast path: every argument a funcnet Array (the common case in eager code), one
    # cache probe keyed by (primitive, params, avals[, device]), the runtime call and
    # result handlers inlined, outputs wrapped with the cached out avals. Anything else
    # (NumPy values, Python scalars, unhashable params, a first call) takes the general
    # path below, which fills the cache.
    try:
        bufs = [a._buf for a in args]
        key = (prim, tuple(params.items()) if params else (), tuple([a.aval for a in args]),
               None if _single_device() else _first_device(bufs))
        entry = _fast.get(key)
    except (AttributeError, TypeError):
        entry = None
    if entry is None:
        return apply_general(prim, args, params)
    run, handlers, out_avals, mark = entry
    mark[0] = True  # seen by the LRU's second chance
    try:
        outs = run(bufs).consume_with_handlers(handlers)
    except Exception:
        for a in args:
            a._check_alive()  # a clear error for a donated/deleted argument
        raise
    if prim.multiple_results:
        return list(map(wrap_buffer, outs, out_avals))
    out = _new_object(Array)
    out._buf = outs[0]
    out.aval = out_avals[0]
    return out


def apply_general(prim, args, params):
    """Run one primitive eagerly through the bounded program cache (and record the
    signature for `apply_primitive`'s fast path)."""
    device = _device_of(args)
    bufs, avals = zip(*(to_buffer(a, device) for a in args)) if args else ((), ())
    try:
        key = (prim, tuple(params.items()), avals, device, config.enable_x64)
        hash(key)
    except TypeError:
        key = None  # unhashable params: compile without caching
    entry = _cache.get(key) if key is not None else None
    if entry is None:
        entry = (*_compile_primitive(prim, params, list(avals), device), [False])
        if key is not None:
            _cache.put(key, entry)
    exe, out_avals, mark = entry
    outs = list(map(wrap_buffer, exe.execute(list(bufs)), out_avals))
    parts = exe.dispatch_parts()
    if (key is not None and parts is not None
            and all(type(a) is Array for a in args) and key in _cache):
        _fast[_fast_key(key)] = (*parts, tuple(out_avals), mark)
    return outs if prim.multiple_results else outs[0]


def cache_size() -> int:
    return len(_cache)


def cache_info():
    """Statistics of the eager program cache (hits and misses of the general dispatch
    path; calls answered by the fast path are not counted)."""
    return _cache.info()


def clear_cache():
    """Drop every compiled one-primitive program."""
    _cache.clear()
    _fast.clear()


set_default_impl(apply_primitive)
