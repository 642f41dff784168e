"""Activations: plain functions of arrays, usable directly (``nn.relu(x)``) and as
parameter-free layers (``nn.Sequential([nn.Dense(8), nn.relu])``: Sequential wraps a
function in ``nn.Fn``). For an activation with an option inside a Sequential use
``functools.partial(nn.gelu, approximate=False)`` or ``lambda x: nn.leaky_relu(x, 0.2)``.
"""

import math

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.lax import stop_gradient
from funcnet.nn.core import ELEMENTWISE
from funcnet.transforms.custom import custom_jvp

__all__ = [
    "elu",
    "gelu",
    "leaky_relu",
    "log_softmax",
    "logsumexp",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "swish",
    "tanh",
]


def _elementwise(f):
    ELEMENTWISE.add(f)
    return f


@_elementwise
@custom_jvp
def relu(x):
    """The rectified linear unit, ``max(x, 0)`` elementwise (as jax.nn.relu).

    Its derivative is a select, 0 at x = 0 (as jax.nn.relu), not maximum's
    tie-splitting 1/2: one compare per layer instead of two, and a smaller program for
    XLA to compile. As a layer (in ``Sequential``) it keeps the input's shape.

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      ``max(x, 0)``, of x's shape and dtype.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.relu(fnp.array([-2.0, 0.0, 3.0])).tolist()
      [0.0, 0.0, 3.0]
    """
    return fnp.maximum(x, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    x = fnp.asarray(x)
    return fnp.maximum(x, 0), lax.select(x > 0, t, fnp.zeros_like(t))


@_elementwise
def relu6(x):
    """The rectified linear unit capped at 6, ``min(max(x, 0), 6)`` (as jax.nn.relu6).

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      The clipped values, of x's shape and dtype.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.relu6(fnp.array([-1.0, 3.0, 7.0])).tolist()
      [0.0, 3.0, 6.0]
    """
    return fnp.minimum(fnp.maximum(x, 0), 6)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@_elementwise
def gelu(x, approximate=True):
    """The Gaussian error linear unit, elementwise (as jax.nn.gelu).

    In a ``Sequential``, pick the exact form with
    ``functools.partial(nn.gelu, approximate=False)``.

    Args:
      x: an array of floats, any shape.
      approximate: True (jax's default) for the tanh form ``0.5 x (1 + tanh(sqrt(2/pi)
        (x + 0.044715 x^3)))``; False for the exact ``x Phi(x) = 0.5 x (1 + erf(x /
        sqrt 2))`` (PyTorch's default).

    Returns:
      An array of x's shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.gelu(fnp.array([-2.0, 0.0, 3.0])).tolist()]
      [-0.0454, 0.0, 2.9964]
    """
    x = fnp.asarray(x)
    if approximate:
        return 0.5 * x * (1 + fnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + lax.erf(x * (1 / math.sqrt(2))))


@_elementwise
def sigmoid(x):
    """The logistic sigmoid, ``1 / (1 + exp(-x))`` elementwise (as jax.nn.sigmoid).

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      Values in (0, 1), of x's shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.sigmoid(fnp.array([-2.0, 0.0, 3.0])).tolist()]
      [0.1192, 0.5, 0.9526]
    """
    return lax.logistic(fnp.asarray(x))


@_elementwise
def silu(x):
    """The sigmoid linear unit, ``x * sigmoid(x)`` (as jax.nn.silu; ``nn.swish`` is it).

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      An array of x's shape.
    """
    x = fnp.asarray(x)
    return x * sigmoid(x)


swish = silu


@_elementwise
def tanh(x):
    """The hyperbolic tangent elementwise (as jax.nn.tanh, ``fnp.tanh``).

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      Values in [-1, 1], of x's shape.
    """
    return fnp.tanh(x)


def _softplus(x):
    # max(x, 0) + log1p(exp(-|x|)) never overflows. -|x| is written min(x, 0) - max(x, 0)
    # so that at x = 0 (where max and min split the derivative in halves) the derivative
    # is exactly sigmoid(0) = 1/2; abs's derivative at 0 would be 1 and give 0.
    hi = fnp.maximum(x, 0)
    return hi + fnp.log1p(fnp.exp(fnp.minimum(x, 0) - hi))


@_elementwise
def softplus(x):
    """``log(1 + exp(x))`` elementwise, stable for any x (as jax.nn.softplus).

    Computed as ``max(x, 0) + log1p(exp(-|x|))``: no overflow, and the derivative is
    exactly ``sigmoid(x)`` (1/2 at 0).

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      Positive values, of x's shape.
    """
    return _softplus(fnp.asarray(x))


@_elementwise
def leaky_relu(x, negative_slope=0.01):
    """``x`` where ``x >= 0``, ``negative_slope * x`` below (as jax.nn.leaky_relu).

    Args:
      x: an array of any shape.
      negative_slope: the slope below 0 (default 0.01).

    Returns:
      An array of x's shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.leaky_relu(fnp.array([-2.0, 3.0]), 0.5).tolist()
      [-1.0, 3.0]
    """
    x = fnp.asarray(x)
    return fnp.where(x >= 0, x, negative_slope * x)


@_elementwise
def elu(x, alpha=1.0):
    """The exponential linear unit (as jax.nn.elu).

    ``x`` where ``x > 0``, ``alpha * (exp(x) - 1)`` elsewhere.

    Args:
      x: an array of any shape.
      alpha: the scale of the negative part (default 1.0).

    Returns:
      An array of x's shape.
    """
    x = fnp.asarray(x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(fnp.minimum(x, 0)))


@_elementwise
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (as jax.nn.softmax, without ``where``).

    The max is subtracted first (outside the gradient), so large logits do not
    overflow.

    Args:
      x: an array of logits.
      axis: the axis (or tuple of axes) to normalize over (default -1).

    Returns:
      Probabilities of x's shape, summing to 1 along ``axis``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.softmax(fnp.array([-2.0, 0.0, 3.0])).tolist()]
      [0.0064, 0.0471, 0.9465]
    """
    x = fnp.asarray(x)
    e = fnp.exp(x - stop_gradient(fnp.max(x, axis=axis, keepdims=True)))
    return e / fnp.sum(e, axis=axis, keepdims=True)


@_elementwise
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis`` (as jax.nn.log_softmax, without ``where``).

    Stable for large logits: the max is subtracted first.

    Args:
      x: an array of logits.
      axis: the axis (or tuple of axes) to normalize over (default -1).

    Returns:
      Log-probabilities of x's shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.log_softmax(fnp.array([0.0, 0.0])).tolist()]
      [-0.6931, -0.6931]
    """
    x = fnp.asarray(x)
    shifted = x - stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True))


def logsumexp(x, axis=-1, keepdims=False):
    """``log(sum(exp(x)))`` along ``axis``, stable for large inputs (``fnp.logsumexp``).

    Unlike jax.nn.logsumexp, whose default ``axis=None`` reduces every axis, the
    default here is the last axis, so as a layer it reduces the features.

    Args:
      x: an array.
      axis: the axis (or tuple of axes) to reduce (default -1; None for all).
      keepdims: keep the reduced axes with size 1 (default False).

    Returns:
      An array of x's shape without ``axis`` (with it as size 1 if ``keepdims``).

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.logsumexp(fnp.zeros((2, 3))).shape
      (2,)
    """
    return fnp.logsumexp(x, axis=axis, keepdims=keepdims)
