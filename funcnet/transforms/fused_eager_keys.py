"""The structural keys of fused eager mode's chains (see fused_eager.py).

A chain is cached by the ids of its equations: each distinct (primitive, params, input
references) gets a small int once, so that the per-step key is a tuple of ints. Params
that hold sub-programs are keyed by the program's structure, literals by type, repr and
aval.
"""

import itertools
import weakref

from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Literal

# Called when the ids are forgotten (the bound below): chains keyed by them must go too.
on_reset: list = []

# Each distinct equation (primitive, params, input references) gets a small int once, so
# that a chain's key is a tuple of ints: hashed and compared at C speed per step.
_eqn_ids: dict = {}
_next_id = itertools.count()
_MAX_EQN_IDS = 200_000


def eqn_id(key):
    """The int of an equation key (primitive, params key, input references); None when
    the params are unhashable."""
    try:
        return _eqn_ids[key]
    except KeyError:
        pass
    except TypeError:  # unhashable params
        return None
    if len(_eqn_ids) >= _MAX_EQN_IDS:  # bounded: forget the ids and the chains keyed by them
        _eqn_ids.clear()
        for forget in on_reset:
            forget()
    return _eqn_ids.setdefault(key, next(_next_id))


# Sub-programs in params (the bodies of cond, while, scan, a custom rule's function) are
# traced anew on every call of lax.cond(...) with a fresh lambda: keyed by identity they
# would make every step a new chain. A program without constants is keyed by its
# structure (memoized per program object): primitives, params (functions by identity),
# wiring, avals and literals; one with constants, or with an unhashable param, by
# identity (constants are compiled in).
_program_keys: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _program_key(program):
    if program.consts:
        return program
    key = _program_keys.get(program)
    if key is None:
        key = ("program", _structure(program.jaxpr))
        try:
            hash(key)
        except TypeError:
            return program
        _program_keys[program] = key
    return key


def _structure(jaxpr) -> tuple:
    numbers = {}

    def atom(a):
        if type(a) is Literal:
            return ("lit", type(a.val), repr(a.val), a.aval)
        n = numbers.get(a)
        if n is None:
            n = numbers[a] = len(numbers)
        return n

    parts = [
        tuple([(atom(v), v.aval) for v in jaxpr.constvars]),
        tuple([(atom(v), v.aval) for v in jaxpr.invars]),
    ]
    for eqn in jaxpr.eqns:
        parts.append(
            (
                eqn.primitive,
                tuple([atom(x) for x in eqn.inputs]),
                params_key(eqn.params),
                tuple([atom(o) for o in eqn.outputs]),
            )
        )
    parts.append(tuple([atom(o) for o in jaxpr.outvars]))
    return tuple(parts)


def _param_value_key(value):
    kind = type(value)
    if kind is ClosedJaxpr:
        return _program_key(value)
    if kind is Jaxpr:
        return ("open program", _structure(value))
    if (kind is tuple or kind is list) and any(type(v) in _PROGRAMS for v in value):
        return (kind, tuple([_param_value_key(v) for v in value]))
    return value


def params_key(params) -> tuple:
    """A hashable key of an equation's params (sub-programs by structure)."""
    items = tuple(params.items())
    for _, value in items:
        kind = type(value)
        if kind in _PROGRAMS or (kind is tuple and value and type(value[0]) in _PROGRAMS):
            return tuple([(name, _param_value_key(value)) for name, value in items])
    return items


_PROGRAMS = (ClosedJaxpr, Jaxpr)


class Lit:
    """A scalar in a chain's key: equal when type, repr (so -0.0 is not 0.0 and a nan
    equals a nan) and aval are."""

    __slots__ = ("aval", "key", "val")

    def __init__(self, val, aval):
        self.val, self.aval = val, aval
        self.key = (type(val), repr(val), aval)

    def __eq__(self, other):
        return type(other) is Lit and self.key == other.key

    def __hash__(self):
        return hash(self.key)
