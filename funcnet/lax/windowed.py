"""Primitives for the derivatives of max/min pooling, and an optimization barrier.

select_and_gather_add(tangents, operand): for each window, the tangent at the
position the window's max (select_prim 'ge') or min ('le') came from.
select_and_scatter_add(source, operand): the transpose: scatter each window's
source value onto that position, summing overlaps (XLA's select_and_scatter).
"""

from funcnet.core.trace import Primitive
from funcnet.lax.reductions import window_output_shape

select_and_gather_add_p = Primitive("select_and_gather_add")


@select_and_gather_add_p.def_abstract_eval
def _sgadd_abstract_eval(tangents, operand, *, select_prim, window_dimensions, window_strides,
                         padding, base_dilation, window_dilation):
    if tangents.shape != operand.shape or tangents.dtype != operand.dtype:
        raise TypeError("select_and_gather_add: tangents and operand must match")
    return operand.update(shape=window_output_shape(
        operand.shape, window_dimensions, window_strides, padding, base_dilation,
        window_dilation), weak_type=False)


select_and_scatter_add_p = Primitive("select_and_scatter_add")


@select_and_scatter_add_p.def_abstract_eval
def _ssadd_abstract_eval(source, operand, *, select_prim, window_dimensions, window_strides,
                         padding):
    return operand.update(weak_type=False)


# An identity XLA may not look through: keeps rematerialized values from being CSE'd
# with the originals.
optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)
optimization_barrier_p.def_abstract_eval(lambda *avals: list(avals))


def optimization_barrier(*xs):
    return optimization_barrier_p.bind(*xs)
