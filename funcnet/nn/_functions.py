"""jax.nn's array functions that are not activations: one_hot, standardize, logmeanexp."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.core import dtypes

__all__ = ["logmeanexp", "one_hot", "standardize"]


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """The one-hot encoding of integer labels (as jax.nn.one_hot).

    An entry out of ``[0, num_classes)`` (a negative one included) encodes as all zeros.

    Args:
      x: an array of integer labels, any shape.
      num_classes: the number of classes, a Python int (it sets the output's shape).
      dtype: the output's dtype (default: the default float dtype).
      axis: where the new class axis goes in the output (default -1, last).

    Returns:
      An array of x's shape with a new axis of size ``num_classes`` at ``axis``.

    Raises:
      TypeError: num_classes is not a concrete integer, or axis is not an int.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.one_hot(fnp.array([0, 2]), 3).tolist()
      [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(
            f"one_hot: num_classes must be a concrete Python integer, got {num_classes!r}."
        )
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"one_hot: axis must be an int, got {axis!r} (named axes: not yet).")
    x = fnp.asarray(x)
    out_axis = int(axis) + x.ndim + 1 if axis < 0 else int(axis)
    if not 0 <= out_axis <= x.ndim:
        raise ValueError(f"one_hot: axis {axis} is out of range for output rank {x.ndim + 1}.")
    dtype = dtypes.default_float() if dtype is None else np.dtype(dtype)
    lhs = fnp.expand_dims(x, out_axis)
    rhs_shape = [1] * x.ndim
    rhs_shape.insert(out_axis, int(num_classes))
    rhs = lax.broadcasted_iota(x.dtype, tuple(rhs_shape), out_axis)
    return (lhs == rhs).astype(dtype)


def standardize(
    x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *, algorithm="fast"
):
    """``(x - mean) / sqrt(variance + epsilon)`` along ``axis`` (as jax.nn.standardize).

    Args:
      x: an array.
      axis: the axis or axes of the statistics (default -1).
      mean: the mean to use (default: computed along ``axis``, keeping dims).
      variance: the variance to use (default: computed along ``axis``).
      epsilon: added to the variance (default 1e-5).
      where: a bool mask of the elements the statistics use.
      algorithm: ``"fast"`` (``E[x^2] - E[x]^2`` clipped at 0, jax's default) or
        ``"stable"`` (``E[(x - mean)^2]``).

    Returns:
      An array of x's shape.

    Raises:
      ValueError: an unknown algorithm.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 3) for v in nn.standardize(fnp.array([1.0, 3.0])).tolist()]
      [-1.0, 1.0]
    """
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or 'stable'.")
    x = fnp.asarray(x)
    if mean is None:
        mean = fnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = fnp.mean(fnp.square(x - mean), axis, keepdims=True, where=where)
        else:
            # Less accurate than the two-pass form and possibly negative: clipped at 0.
            variance = fnp.mean(fnp.square(x), axis, keepdims=True, where=where) - fnp.square(mean)
            variance = fnp.clip(variance, 0)
    return (x - mean) * lax.rsqrt(variance + epsilon)


def logmeanexp(x, axis=None, where=None, keepdims=False):
    """``log(mean(exp(x)))`` over ``axis``, stable for large x (as jax.nn.logmeanexp).

    Args:
      x: an array.
      axis: the axis or axes to reduce (default None: all).
      where: a bool mask of the elements that take part.
      keepdims: keep the reduced axes with size 1.

    Returns:
      The reduced array.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> round(float(nn.logmeanexp(fnp.array([1000.0, 1000.0]))), 3)
      1000.0
    """
    x = fnp.asarray(x)
    if where is not None:
        # As jax: the masked entries are set to 0 first, so that their exp cannot
        # overflow and put nan into the gradient.
        x = fnp.where(where, x, 0)
    lse = fnp.logsumexp(x, axis=axis, keepdims=keepdims, where=where)
    ones = fnp.ones(x.shape, lse.dtype)
    count = fnp.sum(ones, axis=axis, keepdims=keepdims, where=where)
    return lse - fnp.log(count)
