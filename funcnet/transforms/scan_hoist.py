"""Hoist per-step matmul accumulations out of a transposed scan.

Reverse mode through `scan` accumulates the cotangent of each loop constant (an RNN's
weight matrix) inside the backward loop: every step adds `dot_general(h_t, g_t)` to a
carried accumulator. Since the sum over steps of `h_t^T g_t` is `H^T G` with `H`, `G`
the stacked per-step values, the loop can instead stack `h_t` and `g_t` (a residual is
usually stacked already) and one dot_general after the loop, contracting the step axis
too, gives the whole sum: one large GEMM instead of `length` small ones plus `length`
adds into the accumulator (~10% of a CPU char-LSTM training step).

`hoist_accumulations` finds, in the transposed body, carries of the form
`acc_out = acc_in + sum_k post_k(dot_general(a_k, b_k))` where `acc_in` has no other use,
`post_k` is a chain of transposes/reshapes and every `a_k`, `b_k` is a per-step value
(it depends on the carry or the scanned inputs, not only on the loop's constants). Any
other accumulator keeps the loop form. Summation order changes (rounding differs at
the dtype's precision).

Memory rule: the operands that are not stacked already (neither scanned inputs nor per-step
outputs, such as the cotangent of an LSTM's projected input, which is its gates'
cotangent) become extra scan outputs of `length` times their size; a scan hoists only
while the extra bytes stay within `MAX_EXTRA_STACKED_BYTES` (64 MiB), accumulators in
order. 64 MiB bounds the worst case (about the size of a few large activations) while
covering the usual RNN shapes (T=100, B=32, 4H=1024 float32: 13 MiB).
"""

from typing import NamedTuple

import numpy as np

from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Var
from funcnet.core.passes import dce, is_effectful
from funcnet.lax.contractions import dot_general_p
from funcnet.lax.elementwise import add_p
from funcnet.lax.structural import reshape_p, transpose_p

MAX_EXTRA_STACKED_BYTES = 64 << 20
_POST_OPS = (transpose_p, reshape_p)  # per-step shape ops that commute with summation


class _Term(NamedTuple):
    """One `post(dot_general(a, b))` addend of an accumulator."""

    lhs: Var
    rhs: Var
    params: dict
    post: list  # (primitive, params), applied in order to the dot's result


class Hoisted(NamedTuple):
    """A scan body without some accumulators, and how to compute them after the loop."""

    body: ClosedJaxpr  # the accumulators in `terms` are no longer carries
    terms: dict  # accumulator index -> list of _Term
    stacked: list  # extra per-step outputs appended to the body's outputs
    from_ys: dict  # term operand -> index of the body's per-step output that stacks it


def _uses(jaxpr: Jaxpr):
    count = {}
    for eqn in jaxpr.eqns:
        for x in eqn.inputs:
            if isinstance(x, Var):
                count[x] = count.get(x, 0) + 1
    for x in jaxpr.outvars:
        if isinstance(x, Var):
            count[x] = count.get(x, 0) + 1
    return count


def invariant_vars(jaxpr: Jaxpr, const_invars):
    """The variables of a loop body computed from its constants only (the same at every
    step; side-effecting equations excluded).

    Args:
      jaxpr: the body.
      const_invars: its arguments that are the loop's constants.

    Returns:
      A set of Vars, `const_invars` included.
    """
    invariant = set(const_invars)
    for eqn in jaxpr.eqns:
        if is_effectful(eqn):
            continue
        if all(not isinstance(x, Var) or x in invariant for x in eqn.inputs):
            invariant.update(eqn.outputs)
    return invariant


def _addends(var, producer, depth=0):
    """The leaves of the tree of same-typed `add`s that computes `var`."""
    eqn = producer.get(var)
    if (
        depth < 32
        and eqn is not None
        and eqn.primitive is add_p
        and all(isinstance(x, Var) and x.aval == var.aval for x in eqn.inputs)
    ):
        return [t for x in eqn.inputs for t in _addends(x, producer, depth + 1)]
    return [var]


def _as_term(var, producer, per_step):
    """`var` as post(dot_general(a, b)) with per-step a and b, or None."""
    post = []
    eqn = producer.get(var)
    while eqn is not None and eqn.primitive in _POST_OPS:
        post.append((eqn.primitive, dict(eqn.params)))
        var = eqn.inputs[0]
        eqn = producer.get(var) if isinstance(var, Var) else None
    if eqn is None or eqn.primitive is not dot_general_p:
        return None
    lhs, rhs = eqn.inputs
    if not all(isinstance(x, Var) and x in per_step for x in (lhs, rhs)):
        return None
    return _Term(lhs, rhs, dict(eqn.params), post[::-1])


def hoist_accumulations(body: ClosedJaxpr, num_consts, num_carry, num_acc, length):
    """Split the hoistable accumulators out of a transposed scan body.

    Args:
      body: the body without constvars: `num_consts` constants, `num_carry` carries (the
        first `num_acc` of them accumulators, whose outputs are the first `num_acc`
        results), then the scanned inputs.
      num_consts: how many leading arguments are the loop's constants.
      num_carry: how many arguments after them are carries.
      num_acc: how many leading carries are accumulators.
      length: the scan's length (for the memory rule).

    Returns:
      A `Hoisted` whose body drops the hoisted accumulators from its carries and appends
      the `stacked` variables to its results, or None when no accumulator qualifies.
    """
    j = body.jaxpr
    consts = j.invars[:num_consts]
    acc_in = j.invars[num_consts : num_consts + num_acc]
    scanned = set(j.invars[num_consts + num_carry :])  # their stacks exist already
    ys = j.outvars[num_carry:]  # so do the stacks of the per-step outputs
    from_ys = {v: k for k, v in reversed(list(enumerate(ys))) if isinstance(v, Var)}
    producer = {v: eqn for eqn in j.eqns for v in eqn.outputs}
    uses = _uses(j)
    invariant = invariant_vars(j, consts)
    per_step = {v for v in j.invars[num_consts:] if v not in acc_in}
    per_step.update(v for eqn in j.eqns for v in eqn.outputs if v not in invariant)
    budget = MAX_EXTRA_STACKED_BYTES
    terms, stacked = {}, []
    for i, (a_in, a_out) in enumerate(zip(acc_in, j.outvars[:num_acc])):
        found = _accumulation(a_in, a_out, producer, uses, per_step)
        if found is None:
            continue
        operands = (v for t in found for v in (t.lhs, t.rhs))
        new = [
            v
            for v in dict.fromkeys(operands)
            if v not in scanned and v not in from_ys and v not in stacked
        ]
        extra = sum(length * v.aval.size * np.dtype(v.aval.dtype).itemsize for v in new)
        if extra > budget:
            continue
        budget -= extra
        terms[i] = found
        stacked += new
    if not terms:
        return None
    keep_in = [v for k, v in enumerate(acc_in) if k not in terms]
    keep_out = [v for k, v in enumerate(j.outvars[:num_acc]) if k not in terms]
    new = Jaxpr(
        [],
        consts + keep_in + j.invars[num_consts + num_acc :],
        j.eqns,
        keep_out + j.outvars[num_acc:] + stacked,
    )
    used = {v for found in terms.values() for t in found for v in (t.lhs, t.rhs)}
    from_ys = {v: k for v, k in from_ys.items() if v in used and v not in scanned}
    return Hoisted(dce(ClosedJaxpr(new, [])), terms, stacked, from_ys)


def _accumulation(a_in, a_out, producer, uses, per_step):
    """The terms of `a_out = a_in + sum(terms)`, or None when it is not of that form."""
    if not isinstance(a_out, Var) or uses.get(a_in, 0) != 1 or uses.get(a_out, 0) != 1:
        return None
    eqn = producer.get(a_out)
    if eqn is None or eqn.primitive is not add_p or a_in not in eqn.inputs:
        return None
    (other,) = [x for x in eqn.inputs if x is not a_in] or [None]
    if not isinstance(other, Var) or other.aval != a_out.aval or a_in.aval != a_out.aval:
        return None
    found = []
    for leaf in _addends(other, producer):
        term = _as_term(leaf, producer, per_step)
        if term is None:
            return None
        found.append(term)
    return found


def _shift(dims):
    return tuple(d + 1 for d in dims)


def sum_after_loop(terms, stack_of):
    """An accumulator's total: each term's dot_general on the stacked operands, with the
    step axis (axis 0 of both) contracted too, then the term's per-step shape ops.

    Args:
      terms: the accumulator's `_Term`s.
      stack_of: maps each term operand to its stacked value (`length` leading axis).

    Returns:
      The sum over steps and terms, shaped and typed as the accumulator.
    """
    total = None
    for t in terms:
        (lc, rc), (lb, rb) = t.params["dimension_numbers"]
        dims = (((0, *_shift(lc)), (0, *_shift(rc))), (_shift(lb), _shift(rb)))
        out = dot_general_p.bind(
            stack_of[t.lhs], stack_of[t.rhs], **{**t.params, "dimension_numbers": dims}
        )
        for prim, params in t.post:
            out = prim.bind(out, **params)
        total = out if total is None else add_p.bind(total, out)
    return total
