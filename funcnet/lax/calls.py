"""Call primitives: a whole closed program applied to arguments.

`jit` is the equation a jitted function leaves in the program of an outer
transformation (grad, vmap, another jit): it keeps the inner program whole, so each
transformation's rule handles it as a unit, and the lowering emits it as one function.
Its rules live in each transformation's table like any primitive's; its eager
implementation (compile the program, cached) is registered by funcnet/transforms/jit.py.
"""

from funcnet.core.jaxpr import ClosedJaxpr
from funcnet.core.trace import Primitive

jit_p = Primitive("jit", multiple_results=True)


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals, jaxpr: ClosedJaxpr, name: str):
    expected = jaxpr.in_avals
    if len(avals) != len(expected) or any(
        a.strip_weak_type() != b.strip_weak_type() for a, b in zip(avals, expected)
    ):
        raise TypeError(
            f"jit({name}) was traced for arguments "
            f"({', '.join(a.str_short() for a in expected)}) but is applied to "
            f"({', '.join(a.str_short() for a in avals)})"
        )
    return jaxpr.out_avals
