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
    """max(x, 0). Its derivative is a select, 0 at x = 0 (as jax.nn.relu), not
    maximum's tie-splitting 1/2: one compare per layer instead of two, and a smaller
    program for XLA to compile."""
    return fnp.maximum(x, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    x = fnp.asarray(x)
    return fnp.maximum(x, 0), lax.select(x > 0, t, fnp.zeros_like(t))


@_elementwise
def relu6(x):
    """min(max(x, 0), 6)."""
    return fnp.minimum(fnp.maximum(x, 0), 6)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@_elementwise
def gelu(x, approximate=True):
    """Gaussian error linear unit. ``approximate=True`` (jax's default) is the tanh
    form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``; ``False`` is the exact
    ``x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))`` (PyTorch's default)."""
    x = fnp.asarray(x)
    if approximate:
        return 0.5 * x * (1 + fnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + lax.erf(x * (1 / math.sqrt(2))))


@_elementwise
def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return lax.logistic(fnp.asarray(x))


@_elementwise
def silu(x):
    """x * sigmoid(x) (also called swish)."""
    x = fnp.asarray(x)
    return x * sigmoid(x)


swish = silu


@_elementwise
def tanh(x):
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def _softplus(x):
    # max(x, 0) + log1p(exp(-|x|)) never overflows. -|x| is written min(x, 0) - max(x, 0)
    # so that at x = 0 (where max and min split the derivative in halves) the derivative
    # is exactly sigmoid(0) = 1/2; abs's derivative at 0 would be 1 and give 0.
    hi = fnp.maximum(x, 0)
    return hi + fnp.log1p(fnp.exp(fnp.minimum(x, 0) - hi))


@_elementwise
def softplus(x):
    """log(1 + exp(x)), stable for any x (no overflow), exact derivative sigmoid(x)."""
    return _softplus(fnp.asarray(x))


@_elementwise
def leaky_relu(x, negative_slope=0.01):
    """x for x >= 0, negative_slope * x below."""
    x = fnp.asarray(x)
    return fnp.where(x >= 0, x, negative_slope * x)


@_elementwise
def elu(x, alpha=1.0):
    """x for x > 0, alpha (exp(x) - 1) below."""
    x = fnp.asarray(x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(fnp.minimum(x, 0)))


@_elementwise
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, with the max subtracted first (stable)."""
    x = fnp.asarray(x)
    e = fnp.exp(x - stop_gradient(fnp.max(x, axis=axis, keepdims=True)))
    return e / fnp.sum(e, axis=axis, keepdims=True)


@_elementwise
def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``, stable for large logits."""
    x = fnp.asarray(x)
    shifted = x - stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True))


def logsumexp(x, axis=-1, keepdims=False):
    """log(sum(exp(x))) along ``axis`` (default the last, so as a layer it reduces the
    features), stable for large inputs."""
    return fnp.logsumexp(x, axis=axis, keepdims=keepdims)
