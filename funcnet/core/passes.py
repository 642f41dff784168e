"""Simple program passes run before lowering: dead-code and common-subexpression
elimination. Both are purely structural. Every funcnet primitive is pure except the
`effectful` ones (host callbacks such as `funcnet.debug.print`): their equations, and
equations whose sub-programs hold one, are kept even when no output is read, and are
never merged with a twin."""

import weakref

from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Literal, Var

_effects_cache = weakref.WeakKeyDictionary()  # Jaxpr -> has_effects, as passes revisit bodies


def _sub_programs(params):
    for value in params.values():
        for sub in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(sub, ClosedJaxpr):
                yield sub.jaxpr
            elif isinstance(sub, Jaxpr):
                yield sub


def has_effects(jaxpr) -> bool:
    """Whether running `jaxpr` (a Jaxpr or ClosedJaxpr) has a side effect: an effectful
    primitive anywhere in it, sub-programs (jit, scan, cond, ... bodies) included."""
    if isinstance(jaxpr, ClosedJaxpr):
        jaxpr = jaxpr.jaxpr
    known = _effects_cache.get(jaxpr)
    if known is None:
        known = _effects_cache[jaxpr] = any(is_effectful(eqn) for eqn in jaxpr.eqns)
    return known


def is_effectful(eqn) -> bool:
    """Whether one equation has a side effect, directly or through a sub-program."""
    if getattr(eqn.primitive, "effectful", False):
        return True
    return any(has_effects(sub) for sub in _sub_programs(eqn.params))


def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Drop equations whose outputs nobody reads (unless they have side effects), and
    constants nobody uses."""
    jaxpr = closed.jaxpr
    live = {v for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outputs) or is_effectful(eqn):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    kept.reverse()
    pairs = [(v, c) for v, c in zip(jaxpr.constvars, closed.consts) if v in live]
    constvars = [v for v, _ in pairs]
    return ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, kept, jaxpr.outvars), [c for _, c in pairs])


def _atom_key(x):
    if isinstance(x, Literal):
        return ("lit", type(x.val), repr(x.val), x.aval)
    return x


def _param_key(v):
    """A hashable key that tells apart values Python calls equal (1, 1.0, True)."""
    if isinstance(v, (tuple, list)):
        return (type(v), tuple(_param_key(x) for x in v))
    return (type(v), v)


def cse(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Merge equations that apply the same primitive, params and inputs (two prints of
    the same value are two prints: effectful equations are never merged)."""
    jaxpr = closed.jaxpr
    rename: dict = {}
    seen: dict = {}
    eqns = []

    def sub(x):
        return rename.get(x, x) if isinstance(x, Var) else x

    for eqn in jaxpr.eqns:
        inputs = [sub(x) for x in eqn.inputs]
        eqn = eqn._replace(inputs=inputs)
        try:
            key = (
                eqn.primitive,
                tuple(map(_atom_key, inputs)),
                tuple((k, _param_key(v)) for k, v in sorted(eqn.params.items())),
            )
            hash(key)
        except TypeError:
            key = None
        if key is not None and is_effectful(eqn):
            key = None
        prev = seen.get(key) if key is not None else None
        if prev is not None:
            rename.update(zip(eqn.outputs, prev.outputs))
            continue
        if key is not None:
            seen[key] = eqn
        eqns.append(eqn)
    outvars = [sub(x) for x in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars), closed.consts)


def optimize(closed: ClosedJaxpr) -> ClosedJaxpr:
    return dce(cse(closed))
