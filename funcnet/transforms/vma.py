"""Replication inside a shard_map body (jax's check_vma), as one pass over the program.

Every value of the body is *varying* over some manual mesh axes (its "vma"), invariant
over the rest: an argument varies over the axes its in_spec splits it over; a constant is
invariant. The pass walks the equations and rewrites the program so that:

- an operation whose float operands disagree gets `pvary` on the invariant ones (the
  identity on values; its transpose sums the cotangent over those axes: an invariant
  value used by every device receives the sum of their cotangents);
- a collective reads a value varying over its axes (pvary inserted where not), and
  `psum` becomes `psum_invariant` (the output is invariant over the axes; its transpose
  is pvary, not another psum);
- sub-programs (jit, checkpoint, cond branches, scan and while bodies) are rewritten the
  same way; loop carries take the union of what enters and what comes back, found by
  iterating to a fixed point;
- an output whose out_spec does not name an axis it varies over is an error (as jax's);
  an output invariant over an axis its out_spec names gets pvary.

With these rewrites every linear transformation of the body (jvp, transpose) is exact
per device, so differentiating through shard_map gives the unsharded gradient.

`BindTracker` does the same while the user's body is traced (as jax does at bind time),
so that a derivative taken inside the body sees the pvary of replicated values.
"""

import contextlib
import threading

from funcnet.core import dtypes, trace
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from funcnet.core.trace import Tracer, get_aval
from funcnet.lax import control_flow as cf
from funcnet.lax import parallel as par
from funcnet.lax.calls import jit_p

_EMPTY = frozenset()
_REDUCTIONS = frozenset(par.REDUCTIONS)


def rewrite(program: ClosedJaxpr, in_vmas, out_axes, manual, name, mesh_shape) -> ClosedJaxpr:
    """The body `program` with pvary inserted and psum made invariant; checks outputs.

    Args:
      program: the body (no constants).
      in_vmas: per argument, the axes it varies over.
      out_axes: per output, the axes its out_spec names.
      manual: the mesh axis names, in mesh order.
      name: the user's function name, for errors.
      mesh_shape: dict axis -> size, for errors.

    Returns:
      The rewritten ClosedJaxpr.

    Raises:
      ValueError: an output varies over an axis its out_spec does not name.
    """
    pass_ = _Pass(tuple(manual))
    jaxpr, out_vmas = pass_.run(program.jaxpr, list(in_vmas), None)
    for i, (v, axes) in enumerate(zip(out_vmas, out_axes)):
        extra = v - axes
        if extra:
            raise ValueError(
                f"shard_map applied to {name!r} was given an out_spec for output {i} that "
                f"claims the value is replicated over mesh axes {_ordered(extra, manual)}, but "
                f"it varies over them (the mesh has shape {mesh_shape}). Name those axes in "
                "the out_spec, reduce over them with fn.lax.psum/pmean, or pass "
                "check_vma=False to skip this check."
            )
    jaxpr = pass_.fix_outputs(jaxpr, out_vmas, list(out_axes))
    return ClosedJaxpr(jaxpr, program.consts)


def _ordered(axes, manual):
    return tuple(a for a in manual if a in axes)


class _Pass:
    def __init__(self, manual):
        self.manual = manual

    def run(self, jaxpr: Jaxpr, in_vmas, out_targets):
        """(rewritten jaxpr, vma of each output); `out_targets` (or None) makes outputs
        vary over at least those axes."""
        env = {v: _EMPTY for v in jaxpr.constvars}
        env.update(zip(jaxpr.invars, in_vmas))
        eqns = []

        def vma(x):
            return _EMPTY if isinstance(x, Literal) else env.get(x, _EMPTY)

        def pvary(x, axes, info):
            axes = axes - vma(x)
            if isinstance(x, Literal) or not axes:
                return x
            out = Var(x.aval)
            eqns.append(
                JaxprEqn(par.pvary_p, [x], {"axis_name": _ordered(axes, self.manual)}, [out], info)
            )
            env[out] = vma(x) | axes
            return out

        for eqn in jaxpr.eqns:
            prim, ins, params, info = eqn.primitive, list(eqn.inputs), eqn.params, eqn.source_info
            vm = [vma(x) for x in ins]
            if prim in par.COLLECTIVES and set(params["axis_name"]) <= set(self.manual):
                axes = frozenset(params["axis_name"])
                if prim is par.axis_index_p:
                    outs = [axes]
                elif prim is par.pvary_p:
                    outs = [vm[0] | axes]
                else:
                    ins = [pvary(ins[0], axes, info)]
                    if prim in _REDUCTIONS:
                        outs = [vma(ins[0]) - axes]
                        prim = par.psum_invariant_p if prim is par.psum_p else prim
                    else:
                        outs = [vma(ins[0])]
            elif prim is jit_p or (prim.name == "remat" and "jaxpr" in params):
                sub, outs = self.run(params["jaxpr"].jaxpr, vm, None)
                params = {**params, "jaxpr": ClosedJaxpr(sub, params["jaxpr"].consts)}
            elif prim is cf.cond_p:
                ins, params, outs = self._cond(ins, vm, params, pvary, info)
            elif prim is cf.scan_p:
                ins, params, outs = self._scan(ins, vm, params, pvary, info)
            elif prim is cf.while_p:
                ins, params, outs = self._while(ins, vm, params, pvary, info)
            else:
                union = frozenset().union(*vm)
                ins = [pvary(x, union, info) if _is_float(x) else x for x in ins]
                outs = [union] * len(eqn.outputs)
            eqns.append(JaxprEqn(prim, ins, params, list(eqn.outputs), info))
            env.update(zip(eqn.outputs, outs))
        outvars = list(jaxpr.outvars)
        if out_targets is not None:
            outvars = [pvary(x, t, None) for x, t in zip(outvars, out_targets)]
        return Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars), [vma(x) for x in outvars]

    def fix_outputs(self, jaxpr, out_vmas, targets):
        eqns = list(jaxpr.eqns)
        outvars = []
        for x, v, t in zip(jaxpr.outvars, out_vmas, targets):
            missing = t - v
            if missing and not isinstance(x, Literal):
                out = Var(x.aval)
                eqns.append(
                    JaxprEqn(par.pvary_p, [x], {"axis_name": _ordered(missing, self.manual)}, [out])
                )
                x = out
            outvars.append(x)
        return Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars)

    def _closed(self, closed, in_vmas, targets):
        sub, outs = self.run(closed.jaxpr, in_vmas, targets)
        return ClosedJaxpr(sub, closed.consts), outs

    def _cond(self, ins, vm, params, pvary, info):
        branches = params["branches"]
        # Devices may take different branches along the axes the index varies over:
        # operands vary over those axes before the cond, so that no pvary (whose
        # transpose is a psum) sits inside a branch over them.
        ins = [ins[0]] + [pvary(x, vm[0], info) if _is_float(x) else x for x in ins[1:]]
        vm = [vm[0]] + [v | vm[0] if _is_float(x) else v for x, v in zip(ins[1:], vm[1:])]
        union = [frozenset(vm[0])] * len(branches[0].out_avals)  # a varying index varies all
        for br in branches:
            _, outs = self._closed(br, vm[1:], None)
            union = [u | o for u, o in zip(union, outs)]
        new = tuple(self._closed(br, vm[1:], union)[0] for br in branches)
        return ins, {**params, "branches": new}, union

    def _loop_fixpoint(self, step, carry):
        while True:
            new = step(carry)
            if new == carry:
                return carry
            carry = new

    def _scan(self, ins, vm, params, pvary, info):
        body, nc, nk = params["jaxpr"], params["num_consts"], params["num_carry"]
        consts, carry, xs = vm[:nc], vm[nc : nc + nk], vm[nc + nk :]

        def step(c):
            _, outs = self._closed(body, consts + c + xs, None)
            return [a | b for a, b in zip(c, outs[:nk])]

        carry = self._loop_fixpoint(step, carry)
        ins = (
            ins[:nc]
            + [pvary(x, c, info) for x, c in zip(ins[nc : nc + nk], carry)]
            + ins[nc + nk :]
        )
        n_y = len(body.out_avals) - nk
        new, outs = self._closed(body, consts + carry + xs, carry + [_EMPTY] * n_y)
        return ins, {**params, "jaxpr": new}, outs

    def _while(self, ins, vm, params, pvary, info):
        cj, bj = params["cond_jaxpr"], params["body_jaxpr"]
        ncc, nbc = params["cond_nconsts"], params["body_nconsts"]
        cconsts, bconsts, carry = vm[:ncc], vm[ncc : ncc + nbc], vm[ncc + nbc :]

        def step(c):
            _, (pred,) = self._closed(cj, cconsts + c, None)
            _, outs = self._closed(bj, bconsts + c, None)
            return [a | b | pred for a, b in zip(c, outs)]

        carry = self._loop_fixpoint(step, carry)
        _, (pred,) = self._closed(cj, cconsts + carry, None)
        # Devices may run different numbers of iterations along the axes the predicate
        # varies over: the body's constants vary over them before the loop (see _cond).
        start = ncc + nbc
        body_consts = [pvary(x, pred, info) if _is_float(x) else x for x in ins[ncc:start]]
        bconsts = [v | pred if _is_float(x) else v for x, v in zip(ins[ncc:start], bconsts)]
        ins = ins[:ncc] + body_consts + [pvary(x, c, info) for x, c in zip(ins[start:], carry)]
        new_c, _ = self._closed(cj, cconsts + carry, None)
        new_b, _ = self._closed(bj, bconsts + carry, carry)
        return ins, {**params, "cond_jaxpr": new_c, "body_jaxpr": new_b}, carry


def _is_float(x) -> bool:
    return dtypes.is_inexact(x.aval.dtype)


# --- at bind time, while the user's body is traced ---------------------------------------------
# The pass above sees the finished body; a derivative taken *inside* the body (fn.grad in
# the per-device function) is computed while tracing, before the pass. So, as jax does,
# each operation is checked when it is bound: replicated float operands meeting varying
# ones are marked varying (pvary) first, and the outputs' vma is recorded. A value whose
# vma cannot be found (a tangent of a derivative in progress) matches anything.


class BindTracker:
    """The bind hook (core.trace.bind_hook) of one shard_map body being traced."""

    def __init__(self, manual):
        self.manual = tuple(manual)
        self.thread = threading.get_ident()  # the hook is global; other threads pass through
        self.table = {}  # id(value) -> vma
        self.keep = []  # keeps recorded values alive while their ids are keys

    def record(self, x, vma):
        self.table[id(x)] = vma
        self.keep.append(x)

    def vma_of(self, x):
        """x's vma, or None when unknown."""
        while True:
            hit = self.table.get(id(x))
            if hit is not None:
                return hit
            if not isinstance(x, Tracer):
                return _EMPTY if hasattr(x, "dtype") or isinstance(x, (int, float)) else None
            inner = getattr(x, "primal", None)
            if inner is None:
                inner = getattr(x, "val", None)
            if inner is None:
                return None
            x = inner

    def pvary(self, x, axes):
        return par.pvary_p.bind(x, axis_name=_ordered(axes, self.manual))

    def __call__(self, prim, args, params):
        if threading.get_ident() != self.thread:
            return prim.bind_traced(args, params)
        manual = set(self.manual)
        vms = [self.vma_of(x) for x in args]
        if prim in par.COLLECTIVES and set(params["axis_name"]) <= manual:
            axes = frozenset(params["axis_name"])
            v = vms[0] if vms else _EMPTY
            if prim is par.axis_index_p:
                out_v = axes
            elif prim is par.pvary_p:
                out_v = None if v is None else v | axes
            else:
                if v is not None and axes - v:
                    args = (self.pvary(args[0], axes - v),)
                    v = v | axes
                if v is None:
                    out_v = None
                elif prim in _REDUCTIONS:
                    out_v = v - axes
                else:
                    out_v = v
        elif _holds_program(params):
            # jit, checkpoint, control flow, custom rules: their outputs' vma comes from
            # the sub-program, which the pass over the finished body works out.
            return prim.bind_traced(args, params)
        else:
            known = [v for v in vms if v is not None]
            union = frozenset().union(*known)
            args = tuple(
                self.pvary(x, union - v)
                if v is not None and union - v and _is_float_value(x)
                else x
                for x, v in zip(args, vms)
            )
            out_v = union if len(known) == len(vms) or known else None
        outs = prim.bind_traced(args, params)
        if out_v is not None:
            for o in outs if prim.multiple_results else [outs]:
                self.record(o, out_v)
        return outs


def _holds_program(params) -> bool:
    def is_program(v):
        return isinstance(v, (Jaxpr, ClosedJaxpr)) or (callable(v) and not isinstance(v, type))

    return any(
        is_program(v) or (isinstance(v, (tuple, list)) and any(map(is_program, v)))
        for v in params.values()
    )


def _is_float_value(x) -> bool:
    try:
        return dtypes.is_inexact(get_aval(x).dtype)
    except TypeError:
        return False


@contextlib.contextmanager
def tracking(tracker):
    """Install `tracker` as the bind hook while the block runs."""
    previous = trace.set_bind_hook(tracker)
    try:
        yield tracker
    finally:
        trace.set_bind_hook(previous)
