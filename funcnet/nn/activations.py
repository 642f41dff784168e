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
    "celu",
    "elu",
    "gelu",
    "glu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "log1mexp",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_sign",
    "softmax",
    "softplus",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
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
@custom_jvp
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


# As jax: the derivative is 0 at both kinks (0 and 6), not min/max's halves.
relu6.defjvps(lambda g, ans, x: fnp.where((x > 0) & (x < 6), g, 0.0))


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
    # A where (not minimum) keeps the positive side out of expm1, and gives the
    # derivative jax's elu has at 0: alpha (minimum would split it in halves).
    safe_x = fnp.where(x > 0, 0.0, x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe_x))


@_elementwise
def softmax(x, axis=-1, where=None):
    """``exp(x) / sum(exp(x))`` along ``axis`` (as jax.nn.softmax).

    The max is subtracted first (outside the gradient), so large logits do not
    overflow.

    Args:
      x: an array of logits.
      axis: the axis (or tuple of axes) to normalize over (default -1).
      where: a bool mask of the elements taking part; the others get 0.

    Returns:
      Probabilities of x's shape, summing to 1 along ``axis``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.softmax(fnp.array([-2.0, 0.0, 3.0])).tolist()]
      [0.0064, 0.0471, 0.9465]
    """
    x = fnp.asarray(x)
    x_max = fnp.max(x, axis=axis, keepdims=True, where=where, initial=-math.inf)
    x_safe = x if where is None else fnp.where(where, x, -math.inf)
    e = fnp.exp(x_safe - stop_gradient(x_max))
    result = e / fnp.sum(e, axis=axis, keepdims=True, where=where)
    return result if where is None else fnp.where(where, result, 0.0)


@_elementwise
def log_softmax(x, axis=-1, where=None):
    """``x - logsumexp(x)`` along ``axis`` (as jax.nn.log_softmax).

    Stable for large logits: the max is subtracted first.

    Args:
      x: an array of logits.
      axis: the axis (or tuple of axes) to normalize over (default -1).
      where: a bool mask of the elements taking part; the others get ``-inf``.

    Returns:
      Log-probabilities of x's shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.log_softmax(fnp.array([0.0, 0.0])).tolist()]
      [-0.6931, -0.6931]
    """
    x = fnp.asarray(x)
    x_max = fnp.max(x, axis=axis, keepdims=True, where=where, initial=-math.inf)
    x_safe = x if where is None else fnp.where(where, x, -math.inf)
    shifted = x_safe - stop_gradient(x_max)
    result = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True, where=where))
    return result if where is None else fnp.where(where, result, -math.inf)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a)))`` over ``axis``, stable for large inputs, as
    jax.nn.logsumexp (the default reduces every axis; as a layer over the features,
    use ``functools.partial(nn.logsumexp, axis=-1)``).

    Args:
      a: an array.
      axis: the axis (or tuple of axes) to reduce (default None: all of them).
      b: optional weights broadcastable to ``a`` (may be negative: see return_sign).
      keepdims: keep the reduced axes with size 1 (default False).
      return_sign: also return the sign of the sum; the result is then ``log|sum|``.
      where: a bool mask of the elements that take part.

    Returns:
      An array of a's shape without ``axis`` (with it as size 1 if ``keepdims``), or
      ``(result, sign)`` with return_sign.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.logsumexp(fnp.zeros((2, 3))).shape
      ()
      >>> nn.logsumexp(fnp.zeros((2, 3)), axis=-1).shape
      (2,)
    """
    if where is not None:
        # As jax: masked entries are set to 0 first, so that their exp cannot overflow
        # and put nan into the gradient.
        a = fnp.where(where, a, 0)
    return fnp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign, where=where)


@_elementwise
def identity(x):
    """The identity, ``x`` itself as an array (as jax.nn.identity).

    Args:
      x: an array (or array-like) of any shape.

    Returns:
      ``x`` as an array.
    """
    return fnp.asarray(x)


@_elementwise
def soft_sign(x):
    """``x / (|x| + 1)`` elementwise (as jax.nn.soft_sign).

    Args:
      x: an array of any shape.

    Returns:
      Values in (-1, 1), of x's shape.
    """
    x = fnp.asarray(x)
    return x / (fnp.abs(x) + 1)


@_elementwise
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for any x (as jax.nn.log_sigmoid).

    Args:
      x: an array of any shape.

    Returns:
      Non-positive values, of x's shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> [round(v, 4) for v in nn.log_sigmoid(fnp.array([-100.0, 0.0])).tolist()]
      [-100.0, -0.6931]
    """
    return -_softplus(-fnp.asarray(x))


@_elementwise
def hard_sigmoid(x):
    """``relu6(x + 3) / 6`` (as jax.nn.hard_sigmoid).

    Args:
      x: an array of any shape.

    Returns:
      Values in [0, 1], of x's shape.
    """
    return relu6(fnp.asarray(x) + 3.0) / 6.0


@_elementwise
def hard_silu(x):
    """``x * hard_sigmoid(x)`` (as jax.nn.hard_silu; ``nn.hard_swish`` is it).

    Args:
      x: an array of any shape.

    Returns:
      An array of x's shape.
    """
    x = fnp.asarray(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu

# SELU's constants (Klambauer et al. 2017), as jax.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@_elementwise
def selu(x):
    """The scaled exponential linear unit ``scale * elu(x, alpha)`` (as jax.nn.selu).

    Args:
      x: an array of any shape.

    Returns:
      An array of x's shape.
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


@_elementwise
def celu(x, alpha=1.0):
    """The continuously differentiable ELU, ``max(x, 0) + alpha expm1(min(x, 0) / alpha)``
    (as jax.nn.celu).

    Args:
      x: an array of any shape.
      alpha: the scale of the negative part (default 1.0).

    Returns:
      An array of x's shape.
    """
    x = fnp.asarray(x)
    return fnp.maximum(x, 0.0) + alpha * fnp.expm1(fnp.minimum(x, 0.0) / alpha)


def glu(x, axis=-1):
    """The gated linear unit: ``a * sigmoid(b)`` for the two halves of ``x`` along
    ``axis`` (as jax.nn.glu).

    Args:
      x: an array whose size along ``axis`` is even.
      axis: the axis to split in halves (default -1).

    Returns:
      An array of x's shape with half the size along ``axis``.

    Raises:
      ValueError: the size along ``axis`` is odd.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.glu(fnp.ones((2, 6))).shape
      (2, 3)
    """
    x = fnp.asarray(x)
    size = x.shape[axis]
    if size % 2:
        raise ValueError(
            f"glu: the size of axis {axis} must be even; got shape {x.shape} ({x.dtype})."
        )
    x1, x2 = fnp.split(x, 2, axis)
    return x1 * sigmoid(x2)


@_elementwise
def hard_tanh(x):
    """``x`` clipped to [-1, 1] (as jax.nn.hard_tanh).

    Args:
      x: an array of any shape.

    Returns:
      Values in [-1, 1], of x's shape.
    """
    x = fnp.asarray(x)
    return fnp.where(x > 1, 1, fnp.where(x < -1, -1, x))


@_elementwise
def mish(x):
    """``x * tanh(softplus(x))`` (as jax.nn.mish).

    Args:
      x: an array of any shape.

    Returns:
      An array of x's shape.
    """
    x = fnp.asarray(x)
    return x * fnp.tanh(_softplus(x))


@_elementwise
def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth relu (as jax.nn.squareplus).

    Args:
      x: an array of any shape.
      b: the smoothness, non-negative (default 4).

    Returns:
      Positive values, of x's shape.
    """
    x = fnp.asarray(x)
    return (x + fnp.sqrt(fnp.square(x) + b)) / 2


@_elementwise
def sparse_plus(x):
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)^2 / 4`` between (as
    jax.nn.sparse_plus).

    Args:
      x: an array of any shape.

    Returns:
      Non-negative values, of x's shape.
    """
    x = fnp.asarray(x)
    return fnp.where(x <= -1.0, 0.0, fnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


@_elementwise
def sparse_sigmoid(x):
    """``clip((x + 1) / 2, 0, 1)``, the derivative of sparse_plus (as jax.nn.sparse_sigmoid).

    Args:
      x: an array of any shape.

    Returns:
      Values in [0, 1], of x's shape.
    """
    return 0.5 * fnp.clip(fnp.asarray(x) + 1.0, 0.0, 2.0)


@_elementwise
@custom_jvp
def log1mexp(x):
    """``log(1 - exp(-x))`` for ``x >= 0``, accurate for small and large x (as
    jax.nn.log1mexp, after Maechler's note).

    The derivative is ``1 / expm1(x)``, as jax defines it.

    Args:
      x: a non-negative array of any shape (nan below 0).

    Returns:
      Non-positive values, of x's shape.
    """
    x = fnp.asarray(x)
    return fnp.where(x < math.log(2.0), fnp.log(-fnp.expm1(-x)), fnp.log1p(-fnp.exp(-x)))


log1mexp.defjvps(lambda g, ans, x: g / fnp.expm1(x))
