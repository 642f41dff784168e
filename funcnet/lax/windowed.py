"""Primitives for the derivatives of max/min pooling; two that keep XLA from merging
rematerialized values with the originals (optimization_barrier, opaque_true); and
stop_gradient, the identity that derivatives do not flow through.

select_and_gather_add(tangents, operand): for each window, the tangent at the
position the window's max (select_prim 'ge') or min ('le') came from.
select_and_scatter_add(source, operand): the transpose: scatter each window's
source value onto that position, summing overlaps (XLA's select_and_scatter).
"""

from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax.reductions import window_output_shape

select_and_gather_add_p = Primitive("select_and_gather_add")


@select_and_gather_add_p.def_abstract_eval
def _sgadd_abstract_eval(
    tangents,
    operand,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    if tangents.shape != operand.shape or tangents.dtype != operand.dtype:
        raise TypeError("select_and_gather_add: tangents and operand must match")
    return operand.update(
        shape=window_output_shape(
            operand.shape,
            window_dimensions,
            window_strides,
            padding,
            base_dilation,
            window_dilation,
        ),
        weak_type=False,
    )


select_and_scatter_add_p = Primitive("select_and_scatter_add")


@select_and_scatter_add_p.def_abstract_eval
def _ssadd_abstract_eval(
    source, operand, *, select_prim, window_dimensions, window_strides, padding
):
    return operand.update(weak_type=False)


# An identity XLA may not look through: keeps rematerialized values from being CSE'd
# with the originals.
optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)
optimization_barrier_p.def_abstract_eval(lambda *avals: list(avals))


def optimization_barrier(operand):
    """`operand` unchanged, as jax.lax.optimization_barrier: XLA may not move computation
    across the barrier nor merge the values through it with others (common-subexpression
    elimination), which keeps rematerialized values from being folded into the originals.

    Args:
      operand: an array or a pytree of arrays (Python scalars become arrays).

    Returns:
      The same values, in `operand`'s pytree structure.

    Example:
      >>> fn.jit(lambda x: lax.optimization_barrier(x * 2) + 1)(fnp.ones(2)).tolist()
      [3.0, 3.0]
      >>> a, b = lax.optimization_barrier((fnp.ones(2), fnp.arange(3)))
      >>> b.tolist()
      [0, 1, 2]
    """
    leaves, treedef = tree.tree_flatten(operand)
    return tree.tree_unflatten(treedef, optimization_barrier_p.bind(*leaves))


# A scalar True that XLA cannot prove: the predicate of the conditional that checkpoint's
# backward pass recomputes in. XLA:CPU deletes optimization barriers early and then CSE
# folds a recomputation back into the forward pass; CSE does not reach into the branch
# of a conditional it cannot resolve. (Lowered as rng_uniform(0, 1) < 2 on CPU, as jax
# once did; as a constant elsewhere, where barriers survive and XLA inlines the branch.)
opaque_true_p = Primitive("opaque_true")
opaque_true_p.def_abstract_eval(lambda: ShapedArray((), dtypes.bool_))


def opaque_true():
    return opaque_true_p.bind()


stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_abstract_eval(lambda x: x)


def stop_gradient(x):
    """The identity, but derivatives do not flow through it, as jax.lax.stop_gradient.

    Args:
      x: an array or a pytree of arrays; integer and boolean leaves pass unchanged.

    Returns:
      `x`, whose floating-point leaves count as constants under every derivative.

    Example:
      >>> fn.grad(lambda x: x * lax.stop_gradient(x))(3.0).tolist()  # 3.0, not 6.0
      3.0
    """

    def leaf(v):
        return stop_gradient_p.bind(v) if dtypes.is_float(get_aval(v).dtype) else v

    return tree.tree_map(leaf, x)
