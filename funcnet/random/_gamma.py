"""The gamma distribution and those built on it: gamma, loggamma, beta, dirichlet,
chisquare, f, t, generalized_normal, ball.

Gamma samples follow jax.random: Marsaglia and Tsang's rejection method, one sample per
key of ``split(key, size)`` (a rejection loop per element, vectorized with funcnet.vmap),
with alpha < 1 boosted to alpha + 1 (in log space for ``loggamma``). Their derivative
with respect to ``a`` is jax's implicit reparameterization: holding the sample's uniform
quantile P(a, x) fixed, dx/da = -(dP/da) / (dP/dx) = ``lax.random_gamma_grad(a, x)``.
funcnet has no ``random_gamma_p`` primitive: the sampler is a ``custom_jvp`` function.
"""

import math

import ml_dtypes
import numpy as np

from funcnet import lax
from funcnet.core.trace import get_aval
from funcnet.random._checks import as_dtype, const, float_param, sample_shape, shape_for
from funcnet.random._prng import _split_body, canonical_shape, check_key, split_keys
from funcnet.random._samplers import _float_dtype, normal_body, uniform_body
from funcnet.transforms.custom import custom_jvp
from funcnet.transforms.jit import jit
from funcnet.transforms.vmap import vmap


def _scalar(value, dtype):
    return np.asarray(value, dtype)


def _uniform01(key, shape, dtype):
    return uniform_body(key, _scalar(0.0, dtype), _scalar(1.0, dtype), shape, dtype)


def _gamma_one(key, alpha, log_space):
    """One Gamma(alpha, 1) sample (or its log) from one key: Marsaglia-Tsang, as jax."""
    dtype = get_aval(alpha).dtype
    zero, one = _scalar(0.0, dtype), _scalar(1.0, dtype)
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, _scalar(1 / 3, dtype))
    c = lax.div(_scalar(1 / 3, dtype), lax.sqrt(d))

    def reject(state):
        _, x2, v, u = state
        squeeze = lax.ge(u, lax.sub(one, lax.mul(_scalar(0.0331, dtype), lax.mul(x2, x2))))
        log_test = lax.ge(
            lax.log(u),
            lax.add(
                lax.mul(x2, _scalar(0.5, dtype)), lax.mul(d, lax.add(lax.sub(one, v), lax.log(v)))
            ),
        )
        return lax.bitwise_and(squeeze, log_test)

    def next_normal(state):
        key, _, _ = state
        key, sub = split_keys(key, 2)
        x = normal_body(sub, (), dtype)
        return key, x, lax.add(one, lax.mul(x, c))

    def propose(state):
        key, x_key, u_key = split_keys(state[0], 3)
        _, x, v = lax.while_loop(
            lambda s: lax.le(s[2], zero), next_normal, (x_key, zero, _scalar(-1.0, dtype))
        )
        return key, lax.mul(x, x), lax.mul(lax.mul(v, v), v), _uniform01(u_key, (), dtype)

    key, sub = split_keys(key, 2)
    _, _, v, _ = lax.while_loop(reject, propose, (key, zero, one, _scalar(2.0, dtype)))
    if log_space:
        log_u = lax.log1p(lax.neg(_uniform01(sub, (), dtype)))  # -Exponential
        no_boost = lax.bitwise_or(boost_mask, lax.eq(log_u, zero))
        log_boost = lax.select(no_boost, zero, lax.mul(log_u, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    u = lax.sub(one, _uniform01(sub, (), dtype))
    boost = lax.select(boost_mask, one, lax.pow(u, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v), boost)


def _gamma_samples(key, a, log_space):
    """Samples of Gamma(a) (or their logs) for every element of `a`, one key each."""
    shape = get_aval(a).shape
    size = math.prod(shape)
    if size == 0:
        return a
    keys = _split_body(key, (size,))
    flat = lax.reshape(a, (size,))
    samples = vmap(lambda k, al: _gamma_one(k, al, log_space))(keys, flat)
    return lax.reshape(samples, shape)


# The key is an ordinary (integer) argument: it carries no tangent.
_gamma_sample = custom_jvp(_gamma_samples, nondiff_argnums=(2,))


@_gamma_sample.defjvp
def _gamma_sample_jvp(log_space, primals, tangents):
    (key, a), (_, a_dot) = primals, tangents
    out = _gamma_sample(key, a, log_space)
    if log_space:
        # d log x = dx / x; exp(log x) may round to 0: use the smallest normal instead.
        x = lax.exp(out)
        tiny = const(x, ml_dtypes.finfo(get_aval(x).dtype).tiny)
        x = lax.select(lax.eq(x, const(x, 0)), tiny, x)
        grad = lax.div(lax.random_gamma_grad(a, x), x)
    else:
        grad = lax.random_gamma_grad(a, out)
    return out, lax.mul(a_dot, grad)


def _gamma_body(key, a, shape, dtype, log_space):
    return _gamma_sample(key, as_dtype(a, dtype, shape), log_space)


_gamma_jit = jit(_gamma_body, static_argnums=(2, 3, 4))


def _gamma_args(name, key, a, shape, dtype):
    key = check_key(name, key)
    dtype = _float_dtype(name, dtype)
    a = float_param(name, "a", a)
    return key, a, sample_shape(name, shape, a), dtype


def gamma(key, a, shape=None, dtype=None):
    """Gamma(a, 1) samples (as jax.random.gamma: Marsaglia and Tsang's method).

    Differentiable in ``a`` by implicit reparameterization (as jax): the derivative of
    a sample ``x`` is ``lax.random_gamma_grad(a, x)``.

    Args:
      key: a PRNG key, a uint32 array of shape (2,); map over a batch of keys with
        ``fn.vmap``.
      a: the shape parameter (a > 0), a scalar or an array broadcastable to ``shape``.
      shape: the sample shape (default: ``a``'s shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype`` with positive values (nan for a <= 0).

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``a`` does not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> x = random.gamma(random.key(0), 2.0, (1000,))
      >>> x.shape, bool(abs(float(x.mean()) - 2.0) < 0.2)
      ((1000,), True)
    """
    key, a, shape, dtype = _gamma_args("gamma", key, a, shape, dtype)
    return _gamma_jit(key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None):
    """Logarithms of Gamma(a, 1) samples, computed in log space so that small ``a``
    does not underflow to log(0) (as jax.random.loggamma).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      a: the shape parameter (a > 0), a scalar or an array broadcastable to ``shape``.
      shape: the sample shape (default: ``a``'s shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``; differentiable in ``a`` as ``gamma``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``a`` does not broadcast to ``shape``.
    """
    key, a, shape, dtype = _gamma_args("loggamma", key, a, shape, dtype)
    return _gamma_jit(key, a, shape, dtype, True)


# --- built on gamma -----------------------------------------------------------------------


def _beta_body(key, a, b, shape, dtype):
    key_a, key_b = split_keys(key, 2)
    log_a = _gamma_sample(key_a, as_dtype(a, dtype, shape), True)
    log_b = _gamma_sample(key_b, as_dtype(b, dtype, shape), True)
    # gamma_a / (gamma_a + gamma_b) without overflow or underflow
    log_max = lax.max(log_a, log_b)
    ga, gb = lax.exp(lax.sub(log_a, log_max)), lax.exp(lax.sub(log_b, log_max))
    return lax.div(ga, lax.add(ga, gb))


_beta_jit = jit(_beta_body, static_argnums=(3, 4))


def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) samples, as jax.random.beta: Gamma(a) / (Gamma(a) + Gamma(b)) from two
    log-space gamma draws; differentiable in ``a`` and ``b``.

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      a: the first parameter (a > 0), a scalar or an array broadcastable to ``shape``.
      b: the second parameter (b > 0), likewise.
      shape: the sample shape (default: the broadcast shape of ``a`` and ``b``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype`` with values in [0, 1].

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``a`` or ``b`` does not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> x = random.beta(random.key(0), 2.0, 3.0, (1000,))
      >>> bool(abs(float(x.mean()) - 0.4) < 0.05)
      True
    """
    key = check_key("beta", key)
    dtype = _float_dtype("beta", dtype)
    a, b = float_param("beta", "a", a), float_param("beta", "b", b)
    shape = sample_shape("beta", shape, a, b)
    return _beta_jit(key, a, b, shape, dtype)


def _dirichlet_body(key, alpha, shape, dtype):
    full = shape + get_aval(alpha).shape[-1:]
    log_g = _gamma_sample(key, as_dtype(alpha, dtype, full), True)
    # softmax over the last axis
    axis = len(full) - 1
    m = lax.stop_gradient(lax.reduce_max(log_g, (axis,)))
    e = lax.exp(lax.sub(log_g, lax.broadcast_in_dim(m, full, tuple(range(axis)))))
    total = lax.reduce_sum(e, (axis,))
    return lax.div(e, lax.broadcast_in_dim(total, full, tuple(range(axis))))


_dirichlet_jit = jit(_dirichlet_body, static_argnums=(2, 3))


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) samples, as jax.random.dirichlet: the softmax of log-space gamma
    draws over the last axis; differentiable in ``alpha``.

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      alpha: the concentrations (> 0), an array with at least one axis; the last axis
        is the simplex's.
      shape: the batch shape (default ``alpha.shape[:-1]``); must broadcast with it.
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of shape ``shape + alpha.shape[-1:]`` and ``dtype`` whose last axis sums
      to one.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: a scalar ``alpha``, or a batch shape that does not broadcast.
    """
    key = check_key("dirichlet", key)
    dtype = _float_dtype("dirichlet", dtype)
    alpha = float_param("dirichlet", "alpha", alpha)
    if alpha.ndim < 1:
        raise ValueError(
            f"funcnet.random.dirichlet: alpha must have at least one axis, got "
            f"{get_aval(alpha).str_short()}"
        )
    shape = shape_for("dirichlet", shape, tuple(alpha.shape[:-1]))
    return _dirichlet_jit(key, alpha, shape, dtype)


def _chisquare_body(key, df, shape, dtype):
    half = lax.div(as_dtype(df, dtype, shape), _scalar_like(shape, 2.0, dtype))
    return lax.mul(lax.exp(_gamma_sample(key, half, True)), _scalar_like(shape, 2.0, dtype))


def _scalar_like(shape, value, dtype):
    return lax.broadcast_in_dim(np.asarray(value, dtype), shape, ())


_chisquare_jit = jit(_chisquare_body, static_argnums=(2, 3))


def chisquare(key, df, shape=None, dtype=None):
    """Chi-square(df) samples, as jax.random.chisquare: 2 * Gamma(df / 2).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      df: the degrees of freedom (> 0), a scalar or an array broadcastable to ``shape``.
      shape: the sample shape (default: ``df``'s shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``df`` does not broadcast to ``shape``.
    """
    key = check_key("chisquare", key)
    dtype = _float_dtype("chisquare", dtype)
    df = float_param("chisquare", "df", df)
    return _chisquare_jit(key, df, sample_shape("chisquare", shape, df), dtype)


def _f_body(key, dfnum, dfden, shape, dtype):
    key_den, key_num = split_keys(key, 2)
    num = lax.div(_chisquare_body(key_num, dfnum, shape, dtype), as_dtype(dfnum, dtype, shape))
    den = lax.div(_chisquare_body(key_den, dfden, shape, dtype), as_dtype(dfden, dtype, shape))
    return lax.div(num, den)


_f_jit = jit(_f_body, static_argnums=(3, 4))


def f(key, dfnum, dfden, shape=None, dtype=None):
    """F(dfnum, dfden) samples, as jax.random.f: a ratio of scaled chi-square draws.

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      dfnum: the numerator's degrees of freedom (> 0), broadcastable to ``shape``.
      dfden: the denominator's degrees of freedom (> 0), likewise.
      shape: the sample shape (default: the parameters' broadcast shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: a parameter does not broadcast to ``shape``.
    """
    key = check_key("f", key)
    dtype = _float_dtype("f", dtype)
    dfnum, dfden = float_param("f", "dfnum", dfnum), float_param("f", "dfden", dfden)
    return _f_jit(key, dfnum, dfden, sample_shape("f", shape, dfnum, dfden), dtype)


def _t_body(key, df, shape, dtype):
    key_n, key_g = split_keys(key, 2)
    n = normal_body(key_n, shape, dtype)
    half_df = lax.div(as_dtype(df, dtype, shape), _scalar_like(shape, 2.0, dtype))
    g = _gamma_sample(key_g, half_df, False)
    return lax.mul(n, lax.sqrt(lax.div(half_df, g)))


_t_jit = jit(_t_body, static_argnums=(2, 3))


def t(key, df, shape=None, dtype=None):
    """Student's t(df) samples, as jax.random.t: normal * sqrt((df / 2) / Gamma(df / 2)).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      df: the degrees of freedom (> 0), a scalar or an array broadcastable to ``shape``.
      shape: the sample shape (default: ``df``'s shape).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``df`` does not broadcast to ``shape``.
    """
    key = check_key("t", key)
    dtype = _float_dtype("t", dtype)
    df = float_param("t", "df", df)
    return _t_jit(key, df, sample_shape("t", shape, df), dtype)


def _rademacher_float(key, shape, dtype):
    u = _uniform01(key, shape, dtype)
    positive = lax.lt(u, _scalar_like(shape, 0.5, dtype))
    return lax.select(positive, _scalar_like(shape, 1.0, dtype), _scalar_like(shape, -1.0, dtype))


def _generalized_normal_body(key, p, shape, dtype):
    k1, k2 = split_keys(key, 2)
    inv_p = lax.div(_scalar_like(shape, 1.0, dtype), as_dtype(p, dtype, shape))
    g = _gamma_sample(k1, inv_p, False)
    return lax.mul(_rademacher_float(k2, shape, dtype), lax.pow(g, inv_p))


_generalized_normal_jit = jit(_generalized_normal_body, static_argnums=(2, 3))


def generalized_normal(key, p, shape=(), dtype=None):
    """Generalized normal samples with density proportional to exp(-|x|^p), as
    jax.random.generalized_normal: a random sign times Gamma(1/p)^(1/p).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      p: the exponent (> 0), a float scalar.
      shape: the sample shape (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: ``p`` does not broadcast to ``shape``.
    """
    key = check_key("generalized_normal", key)
    dtype = _float_dtype("generalized_normal", dtype)
    p = float_param("generalized_normal", "p", p)
    return _generalized_normal_jit(key, p, sample_shape("generalized_normal", shape, p), dtype)


def _ball_body(key, p, d, shape, dtype):
    k1, k2 = split_keys(key, 2)
    full = shape + (d,)
    g = _generalized_normal_body(k1, p, full, dtype)
    u = _uniform01(k2, shape, dtype)
    e = lax.neg(lax.log1p(lax.neg(u)))
    pp = as_dtype(p, dtype)
    norm_p = lax.reduce_sum(lax.pow(lax.abs(g), lax.broadcast_in_dim(pp, full, ())), (len(shape),))
    radius = lax.pow(
        lax.add(norm_p, e),
        lax.div(_scalar_like(shape, 1.0, dtype), lax.broadcast_in_dim(pp, shape, ())),
    )
    return lax.div(g, lax.broadcast_in_dim(radius, full, tuple(range(len(shape)))))


_ball_jit = jit(_ball_body, static_argnums=(2, 3, 4))


def ball(key, d, p=2, shape=(), dtype=None):
    """Points uniform in the unit p-norm ball of dimension ``d``, as jax.random.ball.

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      d: the dimension, a positive int.
      p: the norm's exponent (default 2), a positive float.
      shape: the batch shape (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of shape ``shape + (d,)`` and ``dtype`` whose rows have p-norm < 1.

    Raises:
      TypeError: ``key`` is not one key, ``d`` is not an int, or ``dtype`` is not a
        float dtype.
      ValueError: ``d`` < 1.
    """
    key = check_key("ball", key)
    dtype = _float_dtype("ball", dtype)
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
        raise TypeError(f"funcnet.random.ball: d must be an int, got {d!r}")
    if d < 1:
        raise ValueError(f"funcnet.random.ball: d must be positive, got {d}")
    p = float_param("ball", "p", p)
    if p.ndim:
        raise ValueError(f"funcnet.random.ball: p must be a scalar, got {get_aval(p).str_short()}")
    return _ball_jit(key, p, int(d), canonical_shape("ball", shape), dtype)
