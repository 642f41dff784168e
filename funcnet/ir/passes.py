"""Simple program passes run before lowering: dead-code and common-subexpression
elimination. Both are purely structural; every funcnet primitive is pure."""

from funcnet.ir.jaxpr import ClosedJaxpr, Jaxpr, Literal, Var


def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Drop equations whose outputs nobody reads, and constants nobody uses."""
    jaxpr = closed.jaxpr
    live = {v for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    kept.reverse()
    pairs = [(v, c) for v, c in zip(jaxpr.constvars, closed.consts) if v in live]
    constvars = [v for v, _ in pairs]
    return ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, kept, jaxpr.outvars),
                       [c for _, c in pairs])


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
    """Merge equations that apply the same primitive, params and inputs."""
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
            key = (eqn.primitive, tuple(map(_atom_key, inputs)),
                   tuple((k, _param_key(v)) for k, v in sorted(eqn.params.items())))
            hash(key)
        except TypeError:
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
