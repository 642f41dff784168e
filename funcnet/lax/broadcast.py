"""broadcast_in_dim: the primitive that lines operands up. The lowest lax module, because
elementwise ops need it (a scalar operand broadcasts against an array) and every other
lax module builds on elementwise ops."""

from funcnet.core.source_info import where
from funcnet.core.trace import Primitive

broadcast_in_dim_p = Primitive("broadcast_in_dim")


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(
            f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} "
            f"must name one output axis per operand axis of {x.shape}{where()}"
        )
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise TypeError(
                f"broadcast_in_dim: cannot broadcast shape {x.shape} to {shape} "
                f"with broadcast_dimensions={broadcast_dimensions}{where()}"
            )
    if list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError("broadcast_in_dim: broadcast_dimensions must be strictly increasing")
    return x.update(shape=shape)


def broadcast_in_dim(operand, shape, broadcast_dimensions):
    """`operand` broadcast to `shape`: its axis i becomes output axis
    `broadcast_dimensions[i]` (of the same size, or of size 1 to stretch), as
    jax.lax.broadcast_in_dim.

    Args:
      operand: an array.
      shape: the output shape.
      broadcast_dimensions: one output axis per operand axis, strictly increasing.

    Returns:
      An array of `shape` and `operand`'s dtype.

    Raises:
      TypeError: when the dimensions do not map every operand axis onto an output axis of
        its size (or it has size 1), or are not increasing.

    Example:
      >>> lax.broadcast_in_dim(fnp.array([1, 2, 3]), (2, 3), (1,)).tolist()
      [[1, 2, 3], [1, 2, 3]]
      >>> lax.broadcast_in_dim(fnp.array([[1], [2]]), (2, 3), (0, 1)).tolist()
      [[1, 1, 1], [2, 2, 2]]
    """
    return broadcast_in_dim_p.bind(
        operand,
        shape=tuple(int(d) for d in shape),
        broadcast_dimensions=tuple(int(d) for d in broadcast_dimensions),
    )
