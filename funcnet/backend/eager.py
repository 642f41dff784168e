"""Eager mode: each primitive runs as a one-primitive program, compiled once per
(primitive, params, avals, device) and cached. jit and eager share lowering and
compiler, so their numerics agree."""

from funcnet.backend import xla
from funcnet.backend.lowering import lower_to_module
from funcnet.core.array import Array, to_buffer
from funcnet.ir.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Var

_cache: dict = {}


def _device_of(args):
    for a in args:
        if isinstance(a, Array):
            return a.device
    return xla.default_device()


def _compile_primitive(prim, params, avals, device):
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in prim.abstract_eval(*avals, **params)]
    jaxpr = Jaxpr([], invars, [JaxprEqn(prim, invars, params, outvars)], outvars)
    text = lower_to_module(ClosedJaxpr(jaxpr, []), name=prim.name)
    return xla.Executable(text, device, len(outvars)), [v.aval for v in outvars]


def apply_primitive(prim, *args, **params):
    device = _device_of(args)
    bufs, avals = zip(*(to_buffer(a, device) for a in args)) if args else ((), ())
    try:
        key = (prim, tuple(params.items()), avals, device)
        hash(key)
    except TypeError:
        key = None  # unhashable params: compile without caching
    entry = _cache.get(key) if key is not None else None
    if entry is None:
        entry = _compile_primitive(prim, params, list(avals), device)
        if key is not None:
            _cache[key] = entry
    exe, out_avals = entry
    outs = [Array(b, a.weak_type) for b, a in zip(exe.execute(list(bufs)), out_avals)]
    return outs if prim.multiple_results else outs[0]


def cache_size() -> int:
    return len(_cache)
