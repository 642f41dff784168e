"""Continuous distributions by transforming uniform or normal draws, as jax.random does
(same algorithms, so the same values for a key): exponential, laplace, logistic, cauchy,
pareto, lognormal, rayleigh, wald, weibull_min, maxwell, double_sided_maxwell,
triangular.
"""

import ml_dtypes
import numpy as np

from funcnet import lax
from funcnet.random._checks import as_dtype, float_param, sample_shape
from funcnet.random._prng import canonical_shape, check_key, split_keys
from funcnet.random._samplers import _float_dtype, normal_body, uniform_body
from funcnet.transforms.jit import jit


def _full(shape, value, dtype):
    return lax.broadcast_in_dim(np.asarray(value, dtype), shape, ())


def _uniform(key, shape, dtype, lo=0.0, hi=1.0):
    return uniform_body(key, np.asarray(lo, dtype), np.asarray(hi, dtype), shape, dtype)


def exponential_body(key, shape, dtype):
    # -log(1 - u): 1 - u lies in (0, 1], so the log is finite
    return lax.neg(lax.log1p(lax.neg(_uniform(key, shape, dtype))))


def _laplace_body(key, shape, dtype):
    u = _uniform(key, shape, dtype, -1.0 + float(ml_dtypes.finfo(dtype).epsneg), 1.0)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def _logistic_body(key, shape, dtype):
    x = _uniform(key, shape, dtype, float(ml_dtypes.finfo(dtype).tiny), 1.0)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def _cauchy_body(key, shape, dtype):
    u = _uniform(key, shape, dtype, float(ml_dtypes.finfo(dtype).eps), 1.0)
    return lax.tan(lax.mul(_full(shape, np.pi, dtype), lax.sub(u, _full(shape, 0.5, dtype))))


def _maxwell_body(key, shape, dtype):
    x = normal_body(key, shape + (3,), dtype)
    return lax.sqrt(lax.reduce_sum(lax.mul(x, x), (len(shape),)))


_PLAIN = {
    "exponential": exponential_body,
    "laplace": _laplace_body,
    "logistic": _logistic_body,
    "cauchy": _cauchy_body,
    "maxwell": _maxwell_body,
}
_plain_jit = jit(
    lambda key, shape, dtype, name: _PLAIN[name](key, shape, dtype), static_argnums=(1, 2, 3)
)


def _plain(name, key, shape, dtype):
    key = check_key(name, key)
    return _plain_jit(key, canonical_shape(name, shape), _float_dtype(name, dtype), name)


_PLAIN_DOC = """{title} samples (as jax.random.{name}: {how}).

    Args:
      key: a PRNG key, a uint32 array of shape (2,); map over a batch of keys with
        ``fn.vmap``.
      shape: the output shape, a tuple of ints or an int (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``, equal to jax's for the same key.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
    """


def exponential(key, shape=(), dtype=None):
    return _plain("exponential", key, shape, dtype)


def laplace(key, shape=(), dtype=None):
    return _plain("laplace", key, shape, dtype)


def logistic(key, shape=(), dtype=None):
    return _plain("logistic", key, shape, dtype)


def cauchy(key, shape=(), dtype=None):
    return _plain("cauchy", key, shape, dtype)


def maxwell(key, shape=(), dtype=None):
    return _plain("maxwell", key, shape, dtype)


for _f, _title, _how in (
    (exponential, "Standard exponential", "-log1p(-u) of a uniform u"),
    (laplace, "Standard Laplace", "the inverse CDF of a uniform in (-1, 1)"),
    (logistic, "Standard logistic", "log(u) - log1p(-u) of a uniform u"),
    (cauchy, "Standard Cauchy", "tan(pi (u - 1/2)) of a uniform u"),
    (maxwell, "Standard Maxwell", "the norm of three standard normals"),
):
    _f.__doc__ = _PLAIN_DOC.format(title=_title, name=_f.__name__, how=_how)


# --- one parameter --------------------------------------------------------------------------


def _pareto_body(key, b, shape, dtype):
    return lax.exp(lax.div(exponential_body(key, shape, dtype), as_dtype(b, dtype, shape)))


def _lognormal_body(key, sigma, shape, dtype):
    return lax.exp(lax.mul(normal_body(key, shape, dtype), as_dtype(sigma, dtype, shape)))


def _rayleigh_body(key, scale, shape, dtype):
    log_u = lax.log(_uniform(key, shape, dtype))
    return lax.mul(
        as_dtype(scale, dtype, shape), lax.sqrt(lax.mul(log_u, _full(shape, -2.0, dtype)))
    )


def _wald_body(key, mean, shape, dtype):
    k1, k2 = split_keys(key, 2)
    mean = as_dtype(mean, dtype, shape)
    v = normal_body(k1, shape, dtype)
    z = _uniform(k2, shape, dtype)
    y = lax.integer_pow(v, 2)
    mean_sq = lax.integer_pow(mean, 2)
    root = lax.sqrt(
        lax.add(
            lax.mul(lax.mul(_full(shape, 4.0, dtype), mean), y),
            lax.mul(mean_sq, lax.integer_pow(y, 2)),
        )
    )
    half = _full(shape, 0.5, dtype)
    x = lax.sub(
        lax.add(mean, lax.mul(lax.mul(mean_sq, y), half)), lax.mul(lax.mul(mean, half), root)
    )
    return lax.select(lax.le(z, lax.div(mean, lax.add(mean, x))), x, lax.div(mean_sq, x))


_ONE_PARAM = {
    "pareto": (_pareto_body, "b"),
    "lognormal": (_lognormal_body, "sigma"),
    "rayleigh": (_rayleigh_body, "scale"),
    "wald": (_wald_body, "mean"),
}
_one_param_jit = jit(
    lambda key, p, shape, dtype, name: _ONE_PARAM[name][0](key, p, shape, dtype),
    static_argnums=(2, 3, 4),
)


def _one_param(name, key, param, shape, dtype):
    key = check_key(name, key)
    dtype = _float_dtype(name, dtype)
    param = float_param(name, _ONE_PARAM[name][1], param)
    return _one_param_jit(key, param, sample_shape(name, shape, param), dtype, name)


_ONE_PARAM_DOC = """{title} samples (as jax.random.{name}: {how}).

    Args:
      key: a PRNG key, a uint32 array of shape (2,); map over a batch of keys with
        ``fn.vmap``.
      {param}: {param_doc}, a scalar or an array broadcastable to ``shape``.
      shape: the output shape (default: ``{param}``'s shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``, equal to jax's for the same key.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``{param}`` does not broadcast to ``shape``.
    """


def pareto(key, b, shape=None, dtype=None):
    return _one_param("pareto", key, b, shape, dtype)


_ONE = np.float32(1.0)


def lognormal(key, sigma=_ONE, shape=None, dtype=None):
    return _one_param("lognormal", key, sigma, shape, dtype)


def rayleigh(key, scale, shape=None, dtype=None):
    return _one_param("rayleigh", key, scale, shape, dtype)


def wald(key, mean, shape=None, dtype=None):
    return _one_param("wald", key, mean, shape, dtype)


for _f, _title, _param, _param_doc, _how in (
    (pareto, "Pareto(b)", "b", "the shape (b > 0)", "exp(Exponential / b)"),
    (lognormal, "Log-normal", "sigma", "the log's standard deviation", "exp(sigma * N)"),
    (rayleigh, "Rayleigh", "scale", "the scale (> 0)", "scale * sqrt(-2 log u)"),
    (wald, "Wald (inverse Gaussian, unit shape)", "mean", "the mean (> 0)", "Michael et al."),
):
    _f.__doc__ = _ONE_PARAM_DOC.format(
        title=_title, name=_f.__name__, param=_param, param_doc=_param_doc, how=_how
    )


# --- several parameters -----------------------------------------------------------------------


def _weibull_min_body(key, scale, concentration, shape, dtype):
    u = _uniform(key, shape, dtype)
    inv_c = lax.div(_full(shape, 1.0, dtype), as_dtype(concentration, dtype, shape))
    return lax.mul(lax.pow(lax.neg(lax.log1p(lax.neg(u))), inv_c), as_dtype(scale, dtype, shape))


_weibull_min_jit = jit(_weibull_min_body, static_argnums=(3, 4))


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull samples (as jax.random.weibull_min: the inverse CDF of a uniform).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      scale: the scale (> 0), a scalar or an array broadcastable to ``shape``.
      concentration: the shape parameter (> 0), likewise.
      shape: the output shape (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: a parameter does not broadcast to ``shape``.
    """
    key = check_key("weibull_min", key)
    dtype = _float_dtype("weibull_min", dtype)
    scale = float_param("weibull_min", "scale", scale)
    concentration = float_param("weibull_min", "concentration", concentration)
    shape = sample_shape("weibull_min", shape, scale, concentration)
    return _weibull_min_jit(key, scale, concentration, shape, dtype)


def _double_sided_maxwell_body(key, loc, scale, shape, dtype):
    k_maxwell, k_sign = split_keys(key, 2)
    m = _maxwell_body(k_maxwell, shape, dtype)
    # jax's rademacher: bernoulli(0.5) in the default float dtype
    u = _uniform(k_sign, shape, _float_dtype("double_sided_maxwell", None))
    sign = lax.select(
        lax.lt(u, lax.full_like(u, 0.5)), _full(shape, 1.0, dtype), _full(shape, -1.0, dtype)
    )
    return lax.add(
        lax.mul(lax.mul(sign, m), as_dtype(scale, dtype, shape)), as_dtype(loc, dtype, shape)
    )


_double_sided_maxwell_jit = jit(_double_sided_maxwell_body, static_argnums=(3, 4))


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Double-sided Maxwell samples: a random sign times a Maxwell draw, scaled and
    shifted (as jax.random.double_sided_maxwell).

    As jax, the output shape is ``shape + broadcast(loc.shape, scale.shape)`` (just the
    parameters' shape when ``shape`` is empty).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      loc: the location, a scalar or an array.
      scale: the scale (> 0), a scalar or an array.
      shape: the leading sample shape (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape + params_shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``loc`` and ``scale`` do not broadcast together.
    """
    key = check_key("double_sided_maxwell", key)
    dtype = _float_dtype("double_sided_maxwell", dtype)
    loc = float_param("double_sided_maxwell", "loc", loc)
    scale = float_param("double_sided_maxwell", "scale", scale)
    params_shape = sample_shape("double_sided_maxwell", None, loc, scale)
    shape = canonical_shape("double_sided_maxwell", shape) + params_shape
    return _double_sided_maxwell_jit(key, loc, scale, shape, dtype)


def _triangular_body(key, left, mode, right, shape, dtype):
    left, mode, right = (as_dtype(v, dtype, shape) for v in (left, mode, right))
    width = lax.sub(right, left)
    fc = lax.div(lax.sub(mode, left), width)
    u = _uniform(key, shape, dtype)
    out1 = lax.add(left, lax.sqrt(lax.mul(lax.mul(u, width), lax.sub(mode, left))))
    one_minus_u = lax.sub(_full(shape, 1.0, dtype), u)
    out2 = lax.sub(right, lax.sqrt(lax.mul(lax.mul(one_minus_u, width), lax.sub(right, mode))))
    return lax.select(lax.lt(u, fc), out1, out2)


_triangular_jit = jit(_triangular_body, static_argnums=(4, 5))


def triangular(key, left, mode, right, shape=None, dtype=None):
    """Triangular samples on [left, right] with peak at ``mode`` (as jax.random.triangular:
    the inverse CDF of a uniform).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      left: the lower limit, a scalar or an array broadcastable to ``shape``.
      mode: the peak (left <= mode <= right), likewise.
      right: the upper limit, likewise.
      shape: the output shape (default: the parameters' broadcast shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: a parameter does not broadcast to ``shape``.
    """
    key = check_key("triangular", key)
    dtype = _float_dtype("triangular", dtype)
    left, mode, right = (
        float_param("triangular", n, v)
        for n, v in (("left", left), ("mode", mode), ("right", right))
    )
    shape = sample_shape("triangular", shape, left, mode, right)
    return _triangular_jit(key, left, mode, right, shape, dtype)
