"""Transposition: run a linear program backwards (reverse mode's second half).

`transpose_rules[prim](cts, *args, **params)` gets the output cotangent(s)
(possibly Zero) and the inputs, where the linear inputs are `UndefinedPrimal`s;
it returns one cotangent per input (None for non-linear inputs).
"""

import sys

from funcnet.core.jaxpr import Jaxpr, Literal, Var
from funcnet.core.rules import RuleTable
from funcnet.core.source_info import done_replaying, replaying, where
from funcnet.transforms.ad_util import UndefinedPrimal, Zero, add_tangents

transpose_rules = RuleTable("transpose")


def backward_pass(jaxpr: Jaxpr, consts, args, cts_out):
    """Cotangents of the linear inputs (those given as UndefinedPrimal in `args`).

    Equations that read no linear value are evaluated forwards first (this is how
    `checkpoint` recomputes its forward pass during the backward pass)."""
    primal_env = dict(zip(jaxpr.constvars, consts))
    linear = set()
    for v, a in zip(jaxpr.invars, args):
        if isinstance(a, UndefinedPrimal):
            linear.add(v)
        else:
            primal_env[v] = a

    def read_primal(x):
        if isinstance(x, Literal):
            return x.val
        if x in linear:
            return UndefinedPrimal(x.aval)
        return primal_env[x]

    linear_eqns = []
    for eqn in jaxpr.eqns:
        if any(isinstance(x, Var) and x in linear for x in eqn.inputs):
            linear.update(eqn.outputs)
            linear_eqns.append(eqn)
        else:
            outs = eqn.primitive.bind(*map(read_primal, eqn.inputs), **eqn.params)
            primal_env.update(zip(eqn.outputs, outs if eqn.primitive.multiple_results else [outs]))

    ct_env = {}

    def write_ct(v, ct):
        if ct is None or isinstance(ct, Zero) or not (isinstance(v, Var) and v in linear):
            return
        ct_env[v] = add_tangents(ct_env[v], ct) if v in ct_env else ct

    for v, ct in zip(jaxpr.outvars, cts_out):
        write_ct(v, ct)

    frame = sys._getframe()  # operations the rules stage come from eqn's line
    try:
        for eqn in reversed(linear_eqns):
            cts = [ct_env.pop(v, Zero(v.aval)) for v in eqn.outputs]
            if all(isinstance(c, Zero) for c in cts):
                continue
            rule = transpose_rules.get(eqn.primitive)
            if rule is None:
                loc = f" (from {eqn.source_info})" if eqn.source_info else ""
                raise NotImplementedError(
                    f"reverse-mode differentiation reached primitive '{eqn.primitive}'{loc}, "
                    "which has no transpose rule: it is not linear in its differentiated "
                    f"inputs or reverse mode is not implemented for it{where()}"
                )
            replaying(frame, eqn, "backward_pass")
            cts_in = rule(
                cts if eqn.primitive.multiple_results else cts[0],
                *map(read_primal, eqn.inputs),
                **eqn.params,
            )
            for x, ct in zip(eqn.inputs, cts_in):
                write_ct(x, ct)
    finally:
        done_replaying(frame)

    return [
        ct_env.get(v, Zero(v.aval)) if isinstance(a, UndefinedPrimal) else None
        for v, a in zip(jaxpr.invars, args)
    ]
