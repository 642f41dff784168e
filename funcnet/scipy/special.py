"""funcnet.scipy.special: special functions, as jax.scipy.special.

Each function follows jax.scipy.special's formula (and its custom derivatives where jax
defines them for numerical stability), written with funcnet.numpy and funcnet.lax.
Inputs are promoted as in jax: integers and bools become the default float dtype, and
Python scalars give weakly typed results.
"""

import math

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.lax import special as lax_special
from funcnet.nn import activations as _activations
from funcnet.scipy._util import const, polyval, promote_args_inexact, refuse_complex, strong
from funcnet.transforms.custom import custom_jvp

__all__ = [
    "beta",
    "betainc",
    "betaln",
    "boxcox",
    "boxcox1p",
    "comb",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "expit",
    "factorial",
    "gamma",
    "gammainc",
    "gammaincc",
    "gammaln",
    "gammasgn",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "kl_div",
    "log_ndtr",
    "log_softmax",
    "loggamma",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "rel_entr",
    "softmax",
    "xlog1py",
    "xlogy",
    "zeta",
]


# --- gamma family --------------------------------------------------------------------------
def gammaln(x):
    """The natural log of the absolute value of the gamma function (scipy's ``gammaln``).

    Args:
      x: a real array (integers are converted to float).

    Returns:
      ``log|Gamma(x)|`` elementwise; ``inf`` at the poles (0, -1, -2, ...).

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.gammaln(5.0)), 4)  # log(4!)
      3.1781
    """
    (x,) = promote_args_inexact("gammaln", x)
    return lax.lgamma(x)


def gammasgn(x):
    """The sign of the gamma function (scipy's ``gammasgn``).

    Args:
      x: a real array.

    Returns:
      1 or -1 elementwise; nan at the negative integers and at nan; ``-1`` at ``-0.0``.
    """
    (x,) = promote_args_inexact("gammasgn", x)
    refuse_complex("gammasgn", x)
    floor_x = fnp.floor(x)
    negative = x < 0
    nan_mask = (negative & (x == floor_x)) | fnp.isnan(x)
    # -0.0 is told from 0.0 by the sign of 1/x.
    minus_mask = (negative & (fnp.remainder(floor_x, 2) != 0)) | ((x == 0) & (const(x, 1) / x < 0))
    # Strongly typed, as jax's (built from NumPy scalars of x's dtype).
    return strong(fnp.where(nan_mask, np.nan, fnp.where(minus_mask, -1.0, 1.0)))


def gamma(x):
    """The gamma function for real x (scipy's ``gamma``), ``gammasgn(x) * exp(gammaln(x))``.

    Args:
      x: a real array.

    Returns:
      ``Gamma(x)`` elementwise: ``+-inf`` at ``+-0``, nan at the negative integers.

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.gamma(5.0)), 3)  # 4!, to float32's precision
      24.0
    """
    (x,) = promote_args_inexact("gamma", x)
    refuse_complex("gamma", x)
    return gammasgn(x) * fnp.exp(lax.lgamma(x))


def loggamma(x):
    """The principal branch of the log-gamma function, for real x (scipy's ``loggamma``).

    Args:
      x: a real array.

    Returns:
      ``log Gamma(x)`` for x > 0; nan elsewhere (the branch cut), as jax for real input.

    Raises:
      ValueError: complex input (not supported yet).
    """
    (x,) = promote_args_inexact("loggamma", x)
    refuse_complex("loggamma", x)
    return fnp.where(x > 0, lax.lgamma(x), np.nan)


def factorial(n, exact=False):
    """``n!`` as ``exp(gammaln(n + 1))`` (scipy's ``factorial``); 0 for negative n.

    Args:
      n: a real array.
      exact: must be False (exact integer factorials are not supported, as in jax).

    Returns:
      ``Gamma(n + 1)`` elementwise.

    Raises:
      NotImplementedError: exact=True.
    """
    if exact:
        raise NotImplementedError("factorial with exact=True")
    (n,) = promote_args_inexact("factorial", n)
    return fnp.where(n < 0, 0.0, fnp.exp(lax.lgamma(n + 1)))


def comb(N, k, *, repetition=False):
    """The number of combinations ``N choose k`` through gammaln (scipy's ``comb``).

    Args:
      N: the number of things, a real array.
      k: the number taken, a real array broadcastable with N.
      repetition: count combinations with repetition, ``comb(N + k - 1, k)``.

    Returns:
      The (real-valued) counts; 0 where ``k > N``, ``N < 0`` or ``k < 0``.
    """
    N, k = promote_args_inexact("comb", N, k)
    if repetition:
        result = comb(N + k - 1, k, repetition=False)
        return fnp.where((k == 0) & (N >= 0), 1.0, result)
    cond = (k <= N) & (N >= 0) & (k >= 0)
    safe_n = fnp.where(cond, N, 0.0)
    safe_k = fnp.where(cond, k, 0.0)
    result = fnp.exp(
        lax.lgamma(safe_n + 1) - lax.lgamma(safe_k + 1) - lax.lgamma(safe_n + 1 - safe_k)
    )
    return fnp.where(cond, result, 0.0)


def boxcox(x, lmbda):
    """The Box-Cox transformation ``(x^lmbda - 1) / lmbda`` (``log x`` at 0) (scipy's).

    Args:
      x: a positive real array (nan for x <= 0).
      lmbda: a real array broadcastable with x.

    Returns:
      The transformed values.
    """
    x, lmbda = promote_args_inexact("boxcox", x, lmbda)
    is_zero = lmbda == 0
    safe = fnp.where(is_zero, 1.0, lmbda)
    log_x = fnp.log(x)
    return fnp.where(is_zero, log_x, fnp.expm1(safe * log_x) / safe)


def boxcox1p(x, lmbda):
    """The Box-Cox transformation of ``1 + x`` (scipy's ``boxcox1p``).

    Args:
      x: a real array greater than -1 (nan for x <= -1).
      lmbda: a real array broadcastable with x.

    Returns:
      The transformed values.
    """
    x, lmbda = promote_args_inexact("boxcox1p", x, lmbda)
    is_zero = lmbda == 0
    safe = fnp.where(is_zero, 1.0, lmbda)
    log1p_x = fnp.log1p(x)
    return fnp.where(is_zero, log1p_x, fnp.expm1(safe * log1p_x) / safe)


def _algdiv(a, b):
    """``log(gamma(b)) - log(gamma(a + b))`` for ``a <= b``, b >= 8 (scipy cdflib's
    algdiv, as jax's betaln uses it)."""
    c0, c1, c2 = 0.833333333333333e-01, -0.277777777760991e-02, 0.793650666825390e-03
    c3, c4, c5 = -0.595202931351870e-03, 0.837308034031215e-03, -0.165322962780713e-02
    h = a / b
    c = h / (1 + h)
    x = h / (1 + h)
    d = b + (a - 0.5)
    x2 = x * x
    s3 = 1.0 + (x + x2)
    s5 = 1.0 + (x + x2 * s3)
    s7 = 1.0 + (x + x2 * s5)
    s9 = 1.0 + (x + x2 * s7)
    s11 = 1.0 + (x + x2 * s9)
    t = (1.0 / b) ** 2
    w = ((((c5 * s11 * t + c4 * s9) * t + c3 * s7) * t + c2 * s5) * t + c1 * s3) * t + c0
    w = w * (c / b)
    u = d * fnp.log1p(a / b)
    v = a * (fnp.log(b) - 1.0)
    return fnp.where(u <= v, (w - v) - u, (w - u) - v)


def betaln(a, b):
    """The natural log of the absolute value of the beta function (scipy's ``betaln``).

    As jax: ``lgamma(a) + lgamma(b) - lgamma(a + b)`` for ``max(a, b) < 8``, and scipy's
    asymptotic ``algdiv`` above, which stays accurate for large arguments.

    Args:
      a: a real array.
      b: a real array broadcastable with ``a``.

    Returns:
      ``log|B(a, b)|`` elementwise.

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.betaln(2.0, 3.0)), 4)  # log(1/12)
      -2.4849
    """
    a, b = promote_args_inexact("betaln", a, b)
    a, b = fnp.minimum(a, b), fnp.maximum(a, b)
    small_b = lax.lgamma(a) + (lax.lgamma(b) - lax.lgamma(a + b))
    large_b = lax.lgamma(a) + _algdiv(a, b)
    return fnp.where(b < 8, small_b, large_b)


def beta(a, b):
    """The beta function ``Gamma(a) Gamma(b) / Gamma(a + b)`` (scipy's ``beta``).

    Args:
      a: a real array.
      b: a real array broadcastable with ``a``.

    Returns:
      ``B(a, b)`` elementwise, with the sign from the three gamma functions.
    """
    a, b = promote_args_inexact("beta", a, b)
    refuse_complex("beta", a)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * fnp.exp(betaln(a, b))


def digamma(x):
    """The digamma function, the derivative of ``gammaln`` (scipy's ``digamma``).

    Args:
      x: a real array.

    Returns:
      ``psi(x)`` elementwise.
    """
    (x,) = promote_args_inexact("digamma", x)
    return lax.digamma(x)


def multigammaln(a, d):
    """The log of the multivariate gamma function (scipy's ``multigammaln``).

    ``log Gamma_d(a) = d (d - 1) / 4 log(pi) + sum_{i<d} gammaln(a - i / 2)``.

    Args:
      a: a real array.
      d: the dimension, a Python int (it sets a shape).

    Returns:
      An array of a's shape.

    Raises:
      TypeError: ``d`` is not a concrete integer.
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"multigammaln: d must be a Python integer, got {d!r}.")
    d = int(d)
    (a,) = promote_args_inexact("multigammaln", a)
    constant = const(a, 0.25 * d * (d - 1) * math.log(math.pi))
    halves = fnp.asarray(np.arange(d) / 2, dtype=a.dtype)
    res = fnp.sum(lax.lgamma(fnp.expand_dims(a, -1) - halves), axis=-1)
    return res + constant


# --- error function family -----------------------------------------------------------------
def erf(x):
    """The error function (scipy's ``erf``).

    Args:
      x: a real array.

    Returns:
      ``erf(x)`` elementwise, in [-1, 1].
    """
    (x,) = promote_args_inexact("erf", x)
    return lax.erf(x)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate for large x.

    Args:
      x: a real array.

    Returns:
      ``erfc(x)`` elementwise, in [0, 2].
    """
    (x,) = promote_args_inexact("erfc", x)
    return lax.erfc(x)


def erfinv(x):
    """The inverse of the error function (scipy's ``erfinv``).

    Args:
      x: a real array with values in [-1, 1].

    Returns:
      ``y`` with ``erf(y) = x``: ``+-inf`` at ``+-1``, nan outside [-1, 1].
    """
    (x,) = promote_args_inexact("erfinv", x)
    return lax.erf_inv(x)


def _check_normal_dtype(name, x):
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: x.dtype={x.dtype} is not supported (float32 or float64).")


def _ndtr(x):
    half_sqrt_2 = const(x, 0.5 * np.sqrt(2.0))
    w = x * half_sqrt_2
    z = fnp.abs(w)
    y = fnp.where(
        z < half_sqrt_2,
        1 + lax.erf(w),
        fnp.where(w > 0, 2 - lax.erfc(z), lax.erfc(z)),
    )
    return 0.5 * y


def ndtr(x):
    """The standard normal CDF, ``0.5 erfc(-x / sqrt 2)`` (scipy's ``ndtr``).

    Uses erf near 0 and erfc in the tails, as jax, so neither end loses precision.

    Args:
      x: an array of float32 or float64 (integers become the default float).

    Returns:
      ``Phi(x)`` elementwise.

    Raises:
      TypeError: another dtype (float16, bfloat16).

    Example:
      >>> from funcnet.scipy import special
      >>> float(special.ndtr(0.0))
      0.5
    """
    x = fnp.asarray(x)
    if x.dtype.kind != "f":
        (x,) = promote_args_inexact("ndtr", x)
    _check_normal_dtype("ndtr", x)
    return _ndtr(strong(x))


# Rational approximations of ndtri from cephes, as jax.
_NDTRI_P0 = [
    -5.99633501014107895267e1,
    9.80010754185999661536e1,
    -5.66762857469070293439e1,
    1.39312609387279679503e1,
    -1.23916583867381258016e0,
]
_NDTRI_Q0 = [
    1.0,
    1.95448858338141759834e0,
    4.67627912898881538453e0,
    8.63602421390890590575e1,
    -2.25462687854119370527e2,
    2.00260212380060660359e2,
    -8.20372256168333339912e1,
    1.59056225126211695515e1,
    -1.18331621121330003142e0,
]
_NDTRI_P1 = [
    4.05544892305962419923e0,
    3.15251094599893866154e1,
    5.71628192246421288162e1,
    4.40805073893200834700e1,
    1.46849561928858024014e1,
    2.18663306850790267539e0,
    -1.40256079171354495875e-1,
    -3.50424626827848203418e-2,
    -8.57456785154685413611e-4,
]
_NDTRI_Q1 = [
    1.0,
    1.57799883256466749731e1,
    4.53907635128879210584e1,
    4.13172038254672030440e1,
    1.50425385692907503408e1,
    2.50464946208309415979e0,
    -1.42182922854787788574e-1,
    -3.80806407691578277194e-2,
    -9.33259480895457427372e-4,
]
_NDTRI_P2 = [
    3.23774891776946035970e0,
    6.91522889068984211695e0,
    3.93881025292474443415e0,
    1.33303460815807542389e0,
    2.01485389549179081538e-1,
    1.23716634817820021358e-2,
    3.01581553508235416007e-4,
    2.65806974686737550832e-6,
    6.23974539184983293730e-9,
]
_NDTRI_Q2 = [
    1.0,
    6.02427039364742014255e0,
    3.67983563856160859403e0,
    1.37702099489081330271e0,
    2.16236993594496635890e-1,
    1.34204006088543189037e-2,
    3.28014464682127739104e-4,
    2.89247864745380683936e-6,
    6.79019408009981274425e-9,
]


def ndtri(p):
    """The inverse of the standard normal CDF (scipy's ``ndtri``), cephes' algorithm.

    Args:
      p: an array of float32 or float64 probabilities.

    Returns:
      ``x`` with ``ndtr(x) = p``: ``-inf`` at 0, ``inf`` at 1, nan outside [0, 1].

    Raises:
      TypeError: another dtype.

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.ndtri(0.975)), 4)
      1.96
    """
    p = fnp.asarray(p)
    if p.dtype.kind != "f":
        (p,) = promote_args_inexact("ndtri", p)
    _check_normal_dtype("ndtri", p)
    p = strong(p)
    big = const(p, -np.expm1(-2.0))
    maybe_complement = fnp.where(p > big, 1 - p, p)
    # 0 would give nan below in branches that are not chosen (and nan gradients).
    safe = fnp.where(maybe_complement == 0, const(p, 0.5), maybe_complement)

    w = safe - 0.5
    ww = w * w
    x_big = w + w * ww * (polyval(_NDTRI_P0, ww) / polyval(_NDTRI_Q0, ww))
    x_big = x_big * const(p, -np.sqrt(2.0 * np.pi))

    z = fnp.sqrt(-2.0 * fnp.log(safe))
    first = z - fnp.log(z) / z
    inv_z = 1 / z
    x_small = first - polyval(_NDTRI_P2, inv_z) / polyval(_NDTRI_Q2, inv_z) / z
    x_other = first - polyval(_NDTRI_P1, inv_z) / polyval(_NDTRI_Q1, inv_z) / z

    x = fnp.where(safe > const(p, np.exp(-2.0)), x_big, fnp.where(z >= 8.0, x_small, x_other))
    x = fnp.where(p > const(p, 1.0 - np.exp(-2.0)), x, -x)
    inf = const(p, np.inf)
    return fnp.where(p == 0, -inf, fnp.where(p == 1, inf, x))


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _norm_logpdf(x):
    return -0.5 * x * x - const(x, _LOG_SQRT_2PI)


def _log_ndtr_lower(x, series_order):
    """The asymptotic series of ``log(ndtr(x))`` for ``x << -1``."""
    x_2 = x * x
    log_scale = -0.5 * x_2 - fnp.log(-x) - const(x, _LOG_SQRT_2PI)
    series = fnp.ones_like(x)
    x_2n = x_2
    for n in range(1, series_order + 1):
        term = const(x, float(np.prod(np.arange(2 * n - 1, 1, -2)))) / x_2n
        series = series - term if n % 2 else series + term
        x_2n = x_2n * x_2
    return log_scale + fnp.log(series)


def _log_ndtr_impl(x, series_order):
    x = fnp.asarray(x)  # a derivative rule may pass a Python float
    if x.dtype == np.float64:
        lower, upper = -20.0, 8.0
    else:
        lower, upper = -10.0, 5.0
    above = x > upper
    # The min/max keep the branches not chosen finite (and their derivatives too).
    ndtr_res = _ndtr(fnp.where(above, -x, fnp.maximum(x, const(x, lower))))
    return fnp.where(
        above,
        -ndtr_res,  # log(1 - e) ~ -e for the tiny upper tail
        fnp.where(
            x > lower,
            fnp.log(ndtr_res),
            _log_ndtr_lower(fnp.minimum(x, const(x, lower)), series_order),
        ),
    )


def _log_ndtr_jvp(series_order, primals, tangents):
    (x,), (t,) = primals, tangents
    x = fnp.asarray(x)
    ans = _log_ndtr(x, series_order)
    return ans, t * fnp.exp(_norm_logpdf(x) - ans)


_log_ndtr = custom_jvp(_log_ndtr_impl, nondiff_argnums=(1,))
_log_ndtr.defjvp(_log_ndtr_jvp)


def log_ndtr(x, series_order=3):
    """The log of the standard normal CDF, accurate far into both tails (as jax).

    ``-ndtr(-x)`` above 8 (float64; 5 in float32), ``log(ndtr(x))`` in the middle and an
    asymptotic series below -20 (-10 in float32). Its derivative is
    ``exp(norm.logpdf(x) - log_ndtr(x))``, finite everywhere.

    Args:
      x: an array of float32 or float64.
      series_order: the number of terms of the asymptotic series, a Python int in [0, 30].

    Returns:
      ``log(Phi(x))`` elementwise.

    Raises:
      TypeError: another dtype, or series_order not an int.
      ValueError: series_order outside [0, 30].

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.log_ndtr(-30.0)), 2)
      -454.32
    """
    if isinstance(series_order, bool) or not isinstance(series_order, int):
        raise TypeError("log_ndtr: series_order must be a Python integer.")
    if series_order < 0:
        raise ValueError("log_ndtr: series_order must be non-negative.")
    if series_order > 30:
        raise ValueError("log_ndtr: series_order must be <= 30.")
    x = fnp.asarray(x)
    if x.dtype.kind != "f":
        (x,) = promote_args_inexact("log_ndtr", x)
    _check_normal_dtype("log_ndtr", x)
    return _log_ndtr(strong(x), series_order)


# --- logistic ------------------------------------------------------------------------------
def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))`` (scipy's ``expit``).

    Args:
      x: a real array.

    Returns:
      Values in (0, 1), of x's shape.
    """
    (x,) = promote_args_inexact("expit", x)
    return lax.logistic(x)


@custom_jvp
def logit(x):
    """The logit ``log(p / (1 - p))``, the inverse of expit (scipy's ``logit``).

    Its derivative is ``1 / (p (1 - p))``, as jax defines it.

    Args:
      x: a real array of probabilities.

    Returns:
      The log-odds, elementwise: ``-inf`` at 0, ``inf`` at 1.
    """
    (x,) = promote_args_inexact("logit", x)
    return fnp.log(x / (1 - x))


logit.defjvps(lambda g, ans, x: g / (x * (1 - x)))


# --- x log y and entropies ------------------------------------------------------------------
@custom_jvp
def xlogy(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (scipy's ``xlogy``).

    The derivative is jax's rule ``(dx log y + dy x / y)``, so it is defined at
    ``(0, 0)``'s neighbourhood as jax defines it.

    Args:
      x: a real array.
      y: a real array broadcastable with x.

    Returns:
      ``x log y`` elementwise; 0 where x is 0 unless y is nan.

    Example:
      >>> from funcnet.scipy import special
      >>> float(special.xlogy(0.0, 0.0))
      0.0
    """
    x, y = promote_args_inexact("xlogy", x, y)
    # nan in y propagates even where x == 0, as scipy.
    return fnp.where((x != 0) | fnp.isnan(y), x * fnp.log(y), 0.0)


def _xlogy_jvp(primals, tangents):
    x, y = primals
    x_dot, y_dot = tangents
    result = xlogy(x, y)
    return result, (x_dot * fnp.log(y) + y_dot * x / y).astype(result.dtype)


xlogy.defjvp(_xlogy_jvp)


@custom_jvp
def xlog1py(x, y):
    """``x * log1p(y)``, 0 where ``x == 0`` (scipy's ``xlog1py``).

    Args:
      x: a real array.
      y: a real array broadcastable with x.

    Returns:
      ``x log(1 + y)`` elementwise; 0 where x is 0 unless y is nan.
    """
    x, y = promote_args_inexact("xlog1py", x, y)
    return fnp.where((x != 0) | fnp.isnan(y), x * fnp.log1p(y), 0.0)


def _xlog1py_jvp(primals, tangents):
    x, y = primals
    x_dot, y_dot = tangents
    result = xlog1py(x, y)
    return result, (x_dot * fnp.log1p(y) + y_dot * x / (1 + y)).astype(result.dtype)


xlog1py.defjvp(_xlog1py_jvp)


def _xlogx_impl(x):
    return xlogy(x, x)


def _xlogx_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return _xlogx(x), x_dot * (fnp.log(x) + 1)


_xlogx = custom_jvp(_xlogx_impl)
_xlogx.defjvp(_xlogx_jvp)


def entr(x):
    """The elementwise entropy ``-x log x`` (scipy's ``entr``).

    Args:
      x: a real array.

    Returns:
      ``-x log x`` for x > 0, 0 at 0, ``-inf`` for x < 0.

    Raises:
      ValueError: complex input.
    """
    (x,) = promote_args_inexact("entr", x)
    refuse_complex("entr", x)
    return fnp.where(x < 0, const(x, -np.inf), -_xlogx(x))


def rel_entr(p, q):
    """The elementwise relative entropy (scipy's ``rel_entr``).

    Args:
      p: a real array.
      q: a real array broadcastable with p.

    Returns:
      ``p log(p / q)`` where both are positive, 0 where ``p == 0 and q >= 0``, ``inf``
      elsewhere.

    Raises:
      ValueError: complex input.
    """
    p, q = promote_args_inexact("rel_entr", p, q)
    refuse_complex("rel_entr", p)
    both_positive = (p > 0) & (q > 0)
    p_zero = (p == 0) & (q >= 0)
    safe_p = fnp.where(both_positive, p, const(p, 1))
    safe_q = fnp.where(both_positive, q, const(q, 1))
    log_val = _xlogx(safe_p) - xlogy(safe_p, safe_q)
    return fnp.where(both_positive, log_val, fnp.where(p_zero, 0.0, np.inf))


def kl_div(p, q):
    """The elementwise Kullback-Leibler divergence term (scipy's ``kl_div``).

    Args:
      p: a real array.
      q: a real array broadcastable with p.

    Returns:
      ``p log(p / q) - p + q`` where both are positive, ``q`` where ``p == 0 and
      q >= 0``, ``inf`` elsewhere.

    Raises:
      ValueError: complex input.
    """
    p, q = promote_args_inexact("kl_div", p, q)
    refuse_complex("kl_div", p)
    return rel_entr(p, q) - p + q


# --- reductions ----------------------------------------------------------------------------
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a)))`` over ``axis``, stable for large inputs (scipy's logsumexp).

    Args:
      a: the array.
      axis: the axis or axes to reduce (None: all).
      b: optional weights broadcastable to ``a`` (may be negative: see return_sign).
      keepdims: keep the reduced axes with size 1.
      return_sign: also return the sign of the sum; the result is then ``log|sum|``.
      where: a bool mask of the elements that take part.

    Returns:
      The reduced array, or ``(result, sign)`` with return_sign.

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.logsumexp(fnp.array([1000.0, 1000.0]))), 2)
      1000.69
    """
    if where is not None:
        # As jax: masked entries are set to 0 first, so that their exp cannot overflow
        # and put nan into the gradient.
        a = fnp.where(where, a, 0)
    return fnp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign, where=where)


def softmax(x, /, *, axis=None):
    """``exp(x) / sum(exp(x))`` over ``axis`` (scipy's ``softmax``; all axes by default).

    Args:
      x: an array.
      axis: the axis or axes to normalize over (None: all).

    Returns:
      An array of x's shape summing to 1 over ``axis``.
    """
    return _activations.softmax(strong(fnp.asarray(x)), axis=axis)


def log_softmax(x, /, *, axis=None):
    """``x - logsumexp(x)`` over ``axis`` (scipy's ``log_softmax``; all axes by default).

    Args:
      x: an array.
      axis: the axis or axes to normalize over (None: all).

    Returns:
      An array of x's shape.
    """
    return _activations.log_softmax(strong(fnp.asarray(x)), axis=axis)


# --- built on funcnet.lax.special's primitives -----------------------------------------------
def gammainc(a, x):
    """The regularized lower incomplete gamma function ``P(a, x)`` (scipy's ``gammainc``).

    Args:
      a: the shape, a positive real array.
      x: a non-negative real array broadcastable with a.

    Returns:
      ``P(a, x)`` in [0, 1], elementwise (the ``lax.igamma`` primitive).

    Example:
      >>> from funcnet.scipy import special
      >>> round(float(special.gammainc(1.0, 1.0)), 4)  # 1 - exp(-1)
      0.6321
    """
    a, x = promote_args_inexact("gammainc", a, x)
    return lax_special.igamma(a, x)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    Args:
      a: the shape, a positive real array.
      x: a non-negative real array broadcastable with a.

    Returns:
      ``Q(a, x)`` in [0, 1], elementwise (the ``lax.igammac`` primitive).
    """
    a, x = promote_args_inexact("gammaincc", a, x)
    return lax_special.igammac(a, x)


def betainc(a, b, x):
    """The regularized incomplete beta function ``I_x(a, b)`` (scipy's ``betainc``).

    Args:
      a: a positive real array.
      b: a positive real array.
      x: a real array in [0, 1]; the three broadcast together.

    Returns:
      ``I_x(a, b)`` in [0, 1], elementwise.

    Raises:
      ValueError: complex input.
    """
    a, b, x = promote_args_inexact("betainc", a, b, x)
    refuse_complex("betainc", x)
    return lax_special.betainc(a, b, x)


def polygamma(n, x):
    """The polygamma function ``psi^(n)(x)``, the n-th derivative of digamma.

    Args:
      n: the order, a non-negative integer array (an integer dtype, as jax asks).
      x: a real array broadcastable with n.

    Returns:
      ``psi^(n)(x)`` elementwise.

    Raises:
      ValueError: n has a non-integer dtype, or x is complex.
    """
    n_dtype = fnp.asarray(n).dtype
    if not np.issubdtype(n_dtype, np.integer):
        raise ValueError(f"polygamma: argument n must be an integer type, got {n_dtype}.")
    n, x = promote_args_inexact("polygamma", n, x)
    refuse_complex("polygamma", x)
    return lax_special.polygamma(n, x)


def zeta(x, q=None):
    """The Hurwitz zeta function ``sum_k (k + q)^-x`` (scipy's ``zeta`` with q).

    Args:
      x: the exponent, a real array (> 1 for convergence).
      q: the shift, a real array broadcastable with x. Required, as in jax.

    Returns:
      ``zeta(x, q)`` elementwise.

    Raises:
      NotImplementedError: q is None (the Riemann zeta function; jax neither).
    """
    if q is None:
        raise NotImplementedError(
            "Riemann zeta function not implemented; pass q != None to compute the "
            "Hurwitz Zeta function."
        )
    x, q = promote_args_inexact("zeta", x, q)
    return lax_special.zeta(x, q)


def i0e(x):
    """The exponentially scaled modified Bessel function of order 0, ``exp(-|x|) I0(x)``.

    Args:
      x: a real array.

    Returns:
      ``i0e(x)`` elementwise.
    """
    (x,) = promote_args_inexact("i0e", x)
    return lax_special.bessel_i0e(x)


def i0(x):
    """The modified Bessel function of order 0, ``exp(|x|) i0e(x)``.

    Args:
      x: a real array.

    Returns:
      ``I0(x)`` elementwise.
    """
    (x,) = promote_args_inexact("i0", x)
    return fnp.exp(fnp.abs(x)) * lax_special.bessel_i0e(x)


def i1e(x):
    """The exponentially scaled modified Bessel function of order 1, ``exp(-|x|) I1(x)``.

    Args:
      x: a real array.

    Returns:
      ``i1e(x)`` elementwise.
    """
    (x,) = promote_args_inexact("i1e", x)
    return lax_special.bessel_i1e(x)


def i1(x):
    """The modified Bessel function of order 1, ``exp(|x|) i1e(x)``.

    Args:
      x: a real array.

    Returns:
      ``I1(x)`` elementwise.
    """
    (x,) = promote_args_inexact("i1", x)
    return fnp.exp(fnp.abs(x)) * lax_special.bessel_i1e(x)
