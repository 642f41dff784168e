"""The IR: typed variables, literals, equations and programs, with a printer.

A `Jaxpr` is a first-order program in A-normal form:

    { lambda c:f32[4]; a:f32[3,4] b:f32[4]. let
        d:f32[3,4] = mul a 2.0:f32[]
        e:f32[3,4] = add d c
      in (e,) }

constvars (before the ';') are bound to `ClosedJaxpr.consts`; invars are the
arguments. Every equation can carry the user's source line.
"""

import itertools
import sys
from typing import NamedTuple

import numpy as np

from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import SourceInfo, done_replaying, replaying


class Var:
    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(Var._counter)  # stable ordering for hashing/CSE

    def __repr__(self):
        return f"Var({self.aval.str_short()}#{self.count})"


class Literal:
    """A scalar constant written into the program."""

    __slots__ = ("aval", "val")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self):
        return f"Literal({self.val})"


Atom = Var | Literal


class JaxprEqn(NamedTuple):
    primitive: object
    inputs: list
    params: dict
    outputs: list
    source_info: SourceInfo | None = None


class Jaxpr:
    def __init__(self, constvars, invars, eqns, outvars):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.eqns = list(eqns)
        self.outvars = list(outvars)

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def __repr__(self):
        return pp_jaxpr(self)


class ClosedJaxpr:
    """A Jaxpr with values for its constvars. Hashed by identity (programs are params)."""

    def __init__(self, jaxpr: Jaxpr, consts):
        if len(consts) != len(jaxpr.constvars):
            raise ValueError("one constant is needed per constvar")
        self.jaxpr = jaxpr
        self.consts = list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __repr__(self):
        return pp_jaxpr(self.jaxpr)

    __str__ = __repr__


# --- evaluation ---------------------------------------------------------------


def eval_jaxpr(jaxpr: Jaxpr, consts, *args):
    """Interpret a program by binding each primitive, so it works under any trace."""
    env = {}

    def read(x):
        return x.val if isinstance(x, Literal) else env[x]

    for v, val in zip(jaxpr.constvars, consts):
        env[v] = val
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"program takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, val in zip(jaxpr.invars, args):
        env[v] = val
    frame = sys._getframe()  # an eager op's line is that of the equation it replays
    try:
        for eqn in jaxpr.eqns:
            replaying(frame, eqn, "eval_jaxpr")
            outs = eqn.primitive.bind(*map(read, eqn.inputs), **eqn.params)
            if not eqn.primitive.multiple_results:
                outs = [outs]
            for v, val in zip(eqn.outputs, outs):
                env[v] = val
    finally:
        done_replaying(frame)
    return [read(x) for x in jaxpr.outvars]


def closed_without_consts(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Turn constvars into leading invars, so that consts travel as arguments (a call
    primitive's program, a control-flow body)."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), [])


# --- type checking ------------------------------------------------------------


def typecheck(jaxpr: Jaxpr) -> None:
    """Re-infer every equation's output types; raise TypeError on the first disagreement.

    Also checks that each variable is bound once before it is read, and recurses into
    sub-programs held in params (the body of a nested `jit`, ...)."""
    if isinstance(jaxpr, ClosedJaxpr):
        jaxpr = jaxpr.jaxpr
    defined = set()

    def bind(v, what):
        if v in defined:
            raise TypeError(f"{what} binds variable {v} a second time")
        defined.add(v)

    for v in jaxpr.constvars:
        bind(v, "a constvar")
    for v in jaxpr.invars:
        bind(v, "an invar")
    for i, eqn in enumerate(jaxpr.eqns):
        where = f"equation {i} ({eqn.primitive})"
        for x in eqn.inputs:
            if isinstance(x, Var) and x not in defined:
                raise TypeError(f"{where} reads an undefined variable {x}")
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, (Jaxpr, ClosedJaxpr)):
                    typecheck(sub)
        avals = eqn.primitive.abstract_eval(*(x.aval for x in eqn.inputs), **eqn.params)
        if len(avals) != len(eqn.outputs):
            raise TypeError(
                f"{where}: {len(eqn.outputs)} output variables, but the "
                f"primitive gives {len(avals)} results"
            )
        for v, aval in zip(eqn.outputs, avals):
            if v.aval.strip_weak_type() != aval.strip_weak_type():
                raise TypeError(
                    f"{where}: declared {v.aval.str_short()}, inferred {aval.str_short()}"
                )
            bind(v, where)
    for x in jaxpr.outvars:
        if isinstance(x, Var) and x not in defined:
            raise TypeError(f"an output reads an undefined variable {x}")


# --- printing -----------------------------------------------------------------


def _var_names():
    for n in itertools.count():
        name, k = "", n
        while True:
            name = chr(ord("a") + k % 26) + name
            k = k // 26 - 1
            if k < 0:
                break
        yield name


def _is_program(value) -> bool:
    return isinstance(value, (Jaxpr, ClosedJaxpr)) or (
        isinstance(value, (tuple, list)) and any(isinstance(v, (Jaxpr, ClosedJaxpr)) for v in value)
    )


def _fmt_param(value, names, indent):
    if isinstance(value, ClosedJaxpr):
        return "\n" + pp_jaxpr(value.jaxpr, indent + 4, names)
    if isinstance(value, Jaxpr):
        return "\n" + pp_jaxpr(value, indent + 4, names)
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)) and any(isinstance(v, (Jaxpr, ClosedJaxpr)) for v in value):
        return "(" + ",".join(_fmt_param(v, names, indent) for v in value) + ")"
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def _fmt_params(params, names, indent) -> str:
    """`[k=v, ...]`: None-valued params left out (they mean "the default"), plain
    values sorted by name, sub-programs last so that the short ones stay on one line."""
    items = sorted((k, v) for k, v in params.items() if v is not None)
    items.sort(key=lambda kv: _is_program(kv[1]))
    if not items:
        return ""
    return "[" + ", ".join(f"{k}={_fmt_param(v, names, indent)}" for k, v in items) + "]"


def pp_jaxpr(jaxpr: Jaxpr, indent: int = 0, names=None) -> str:
    names = {} if names is None else names
    used = set(names.values())  # names taken by an enclosing program
    gen = _var_names()

    def name(v):
        if isinstance(v, Literal):
            val = v.val
            text = repr(val.item() if isinstance(val, np.generic) else val)
            return f"{text}:{v.aval.str_short()}"
        if v not in names:
            n = next(gen)
            while n in used:
                n = next(gen)
            names[v] = n
            used.add(n)
        return names[v]

    def binder(v):
        return f"{name(v)}:{v.aval.str_short()}"

    pad = " " * indent
    consts = " ".join(binder(v) for v in jaxpr.constvars)
    ins = " ".join(binder(v) for v in jaxpr.invars)
    lines = [f"{pad}{{ lambda {consts}; {ins}. let"]
    for eqn in jaxpr.eqns:
        outs = " ".join(binder(v) for v in eqn.outputs)
        params = _fmt_params(eqn.params, names, indent + 4)
        if any(_is_program(v) for v in eqn.params.values()):
            used.update(names.values())  # names the sub-program took
        args = " ".join(name(x) for x in eqn.inputs)
        bind = f"{outs} = " if outs else ""  # an effect (a debug print) has no outputs
        lines.append(f"{pad}    {bind}{eqn.primitive.name}{params} {args}".rstrip())
    outs = ", ".join(name(x) for x in jaxpr.outvars)
    lines.append(f"{pad}  in ({outs}{',' if len(jaxpr.outvars) == 1 else ''}) }}")
    return "\n".join(lines)
