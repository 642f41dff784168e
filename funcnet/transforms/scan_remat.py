"""Residuals of a scan that the backward scan recomputes instead of reading a stack.

Reverse mode through `scan` stacks every per-step value the backward pass needs. The jvp
rules of `logistic`, `tanh` and friends name their derivative as its own residual (`s *
(1 - s)` next to `s`), so an LSTM cell stacked 13 values per step where 8 do (the
carries, the four activations, tanh of the cell state and the output). Writing a
`(length, batch, hidden)` stack in the forward loop and reading it in the backward one
costs memory traffic on every step (and a fresh buffer's page faults); recomputing `s *
(1 - s)` from the stacked `s` costs two fused elementwise operations. XLA cannot make
that trade across the two loops, so the scan's partial evaluation makes it: a residual
defined by a few cheap elementwise equations of other residuals (which stay stacked or
are loop constants) and literals is recomputed at the top of the backward body.
"""

from funcnet.core.jaxpr import JaxprEqn, Literal, Var
from funcnet.lax.broadcast import broadcast_in_dim_p
from funcnet.lax.elementwise import add_p, convert_element_type_p, mul_p, neg_p, sub_p

# Elementwise and cheaper than a load of their result from a stack.
_CHEAP = frozenset({add_p, sub_p, mul_p, neg_p, convert_element_type_p, broadcast_in_dim_p})
_MAX_EQNS = 6  # per residual: beyond that, reading the stack is the cheaper side


def plan(jaxpr, res_vars, invariant):
    """Which residuals to recompute, and how.

    Args:
      jaxpr: the known (forward) body, whose outputs include `res_vars`.
      res_vars: the residuals, in the order the backward body reads them.
      invariant: per residual, whether it is a loop constant (passed, not stacked).

    Returns:
      (recomputed, eqns): the set of residual indices not to stack, and the equations
      of the forward body (in dependency order) that compute them from literals and
      the residuals that remain.
    """
    defs = {o: eqn for eqn in jaxpr.eqns for o in eqn.outputs}
    first, repeated = {}, set()
    for k, v in enumerate(res_vars):
        if isinstance(v, Var):
            if v in first:
                repeated.add(v)
            first.setdefault(v, k)

    def cheap(v):
        eqn = defs.get(v)
        return eqn is not None and eqn.primitive in _CHEAP and len(eqn.outputs) == 1

    def available(v):  # a residual the backward body still receives
        k = first.get(v)
        return k is not None and (invariant[k] or not cheap(v))

    recomputed, eqns, emitted = set(), [], set()
    for k, (v, inv) in enumerate(zip(res_vars, invariant)):
        if inv or not isinstance(v, Var) or v in repeated or not cheap(v):
            continue
        needed = []
        if _collect(v, v, defs, available, emitted, needed) and len(needed) <= _MAX_EQNS:
            recomputed.add(k)
            for eqn in needed:
                emitted.add(id(eqn))
                eqns.append(eqn)
    return recomputed, eqns


def _collect(v, top, defs, available, emitted, needed) -> bool:
    """Appends to `needed` (post-order) the equations computing `v`; False if some
    input is neither a literal nor an available residual (or the chain is too long)."""
    if isinstance(v, Literal) or (v is not top and available(v)):
        return True
    eqn = defs.get(v)
    if eqn is None or eqn.primitive not in _CHEAP or len(needed) > _MAX_EQNS:
        return False
    if id(eqn) in emitted or any(e is eqn for e in needed):
        return True
    if not all(_collect(x, top, defs, available, emitted, needed) for x in eqn.inputs):
        return False
    needed.append(eqn)
    return True


def rename(eqns, var_of):
    """The equations over the backward body's variables: `var_of` maps a forward
    variable to its backward one (the residual inputs and recomputed residuals); the
    other intermediate variables get fresh ones. `var_of` is extended in place."""
    out = []
    for eqn in eqns:
        inputs = [x if isinstance(x, Literal) else var_of[x] for x in eqn.inputs]
        outputs = []
        for o in eqn.outputs:
            if o not in var_of:
                var_of[o] = Var(o.aval)
            outputs.append(var_of[o])
        out.append(JaxprEqn(eqn.primitive, inputs, eqn.params, outputs, eqn.source_info))
    return out
