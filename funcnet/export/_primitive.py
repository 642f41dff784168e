"""The `exported_call` primitive: an exported program called inside a transformation.

`Exported.call` outside any transformation runs the artifact's executable directly.
Under a transformation it binds this primitive, whose rules are:

- eager: run the executable (compiled once per device, kept on the `Exported`);
- jit: the artifact's `@main` body is pasted into the enclosing program, its SSA
  names renamed (`funcnet.runtime.portable.InlinableBody`), so XLA optimizes across it;
- vmap: `lax.map` over the batch (one call per example, in a loop, not unrolled): the
  artifact holds the program for one shape only;
- jvp / grad: not supported (the artifact holds no derivative); with only symbolic
  zero tangents it is the plain call with zero tangents.
"""

from funcnet import lax
from funcnet.backend.lowering import lowering_rules
from funcnet.core.trace import Primitive, impl_rules
from funcnet.transforms.ad_util import Zero, tangent_aval
from funcnet.transforms.batching import batching_rules, moveaxis
from funcnet.transforms.jvp import jvp_rules

exported_call_p = Primitive("exported_call", multiple_results=True)


@exported_call_p.def_abstract_eval
def _abstract_eval(*avals, exported):
    exported._check_avals(avals)
    return list(exported.out_avals)


@impl_rules.register(exported_call_p)
def _impl(prim, *args, exported):
    return exported._run(args)


@lowering_rules.register(exported_call_p)
def _lower(em, *operands, exported):
    body = exported._inlinable(em.module.platform)
    lines, results = body.instantiate(list(operands), em.module.fresh, em.indent)
    em.lines.extend(lines)
    return results


@jvp_rules.register(exported_call_p)
def _jvp(primals, tangents, *, exported):
    if any(not isinstance(t, Zero) for t in tangents):
        raise NotImplementedError(
            f"cannot differentiate the exported function {exported.fun_name!r}: an "
            "exported artifact holds the forward program only. Export the derivative "
            "itself instead, e.g. funcnet.export.export(fn.jit(fn.grad(f)))(*args)."
        )
    outs = exported_call_p.bind(*primals, exported=exported)
    return outs, [Zero(tangent_aval(a)) for a in exported.out_avals]


@batching_rules.register(exported_call_p)
def _batch(size, vals, dims, *, exported):
    batched = tuple(moveaxis(x, d, 0) for x, d in zip(vals, dims) if d is not None)

    def one_example(xs):
        slices = iter(xs)
        args = [x if d is None else next(slices) for x, d in zip(vals, dims)]
        return tuple(exported_call_p.bind(*args, exported=exported))

    outs = lax.map(one_example, batched)
    return list(outs), [0] * len(outs)
