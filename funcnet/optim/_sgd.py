"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from funcnet.optim._base import GradientTransformation, identity
from funcnet.optim._combine import chain
from funcnet.optim._transforms import scale_by_learning_rate, trace


def sgd(
    learning_rate, momentum=None, nesterov=False, accumulator_dtype=None
) -> GradientTransformation:
    """SGD: `chain(trace(momentum, nesterov), scale_by_learning_rate(lr))`, without the
    trace when `momentum` is None.

    Args:
      learning_rate: a float or a schedule.
      momentum: optional momentum coefficient (e.g. 0.9).
      nesterov: Nesterov momentum.
      accumulator_dtype: optional dtype of the momentum buffer.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.sgd(0.1, momentum=0.9)
      >>> params = fnp.array([1.0])
      >>> updates, state = opt.update(fnp.array([2.0]), opt.init(params))
      >>> round(float(optim.apply_updates(params, updates)[0]), 4)
      0.8
    """
    return chain(
        trace(momentum, nesterov, accumulator_dtype) if momentum is not None else identity(),
        scale_by_learning_rate(learning_rate),
    )
