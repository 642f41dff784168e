"""Lion (Chen et al. 2023): the sign of an interpolation of the gradient and its
momentum, with decoupled weight decay."""

from typing import Any, NamedTuple

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import (
    GradientTransformation,
    cast_tree,
    check_tree_match,
    safe_increment,
    update_moment,
    zero_count,
    zeros_like_tree,
)
from funcnet.optim._combine import chain
from funcnet.optim._transforms import add_decayed_weights, scale_by_learning_rate


class ScaleByLionState(NamedTuple):
    count: Any  # int32
    mu: Any  # the momentum, a tree like params


def scale_by_lion(b1=0.9, b2=0.99, mu_dtype=None) -> GradientTransformation:
    """The update is `sign((1 - b1) * g + b1 * m)`; then `m = (1 - b2) * g + b2 * m`.

    Args:
      b1: interpolation factor of the update.
      b2: decay of the momentum.
      mu_dtype: optional dtype of the momentum.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByLionState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_lion()
      >>> opt.update(fnp.array([0.3, -2.0]), opt.init(fnp.zeros(2)))[0].tolist()
      [1.0, -1.0]
    """

    def init(params):
        return ScaleByLionState(count=zero_count(), mu=zeros_like_tree(params, mu_dtype))

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.mu, owner="scale_by_lion")
        updates = _tree.tree_map(lambda g, m: fnp.sign((1.0 - b1) * g + b1 * m), grads, state.mu)
        mu = cast_tree(update_moment(grads, state.mu, b2, 1), mu_dtype)
        return updates, ScaleByLionState(count=safe_increment(state.count), mu=mu)

    return GradientTransformation(init, update)


def lion(
    learning_rate, b1=0.9, b2=0.99, mu_dtype=None, weight_decay=1e-3, mask=None
) -> GradientTransformation:
    """Lion: `chain(scale_by_lion(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(lr))`. Use a learning rate 3-10x smaller than Adam's.

    Args:
      learning_rate: a float or a schedule.
      b1, b2, mu_dtype: see `scale_by_lion`.
      weight_decay: a float or a schedule.
      mask: which leaves to decay (see `add_decayed_weights`).

    Returns:
      A `GradientTransformation`; it needs `params` in `update`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.lion(1e-4)
    """
    return chain(
        scale_by_lion(b1, b2, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
