"""The exponential distribution (as jax.scipy.stats.expon)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet.scipy._util import const, promote_args_inexact

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
    """The log of the exponential density ``exp(-(x - loc) / scale) / scale``.

    Args:
      x: the points, a real array.
      loc: the start of the support (default 0).
      scale: the mean above loc, ``1 / rate`` (default 1).

    Returns:
      The log-density; ``-inf`` below loc.
    """
    x, loc, scale = promote_args_inexact("expon.logpdf", x, loc, scale)
    log_probs = -((x - loc) / scale + fnp.log(scale))
    return fnp.where(x < loc, const(x, -np.inf), log_probs)


def pdf(x, loc=0, scale=1):
    """The exponential density.

    Args:
      x: the points, a real array.
      loc: the start of the support (default 0).
      scale: the mean above loc (default 1).

    Returns:
      The density; 0 below loc.
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The exponential CDF ``-expm1(-(x - loc) / scale)``.

    Args:
      x: the points, a real array.
      loc: the start of the support (default 0).
      scale: the mean above loc (default 1).

    Returns:
      ``P(X <= x)``; 0 below loc.
    """
    x, loc, scale = promote_args_inexact("expon.cdf", x, loc, scale)
    neg_scaled = (loc - x) / scale
    return fnp.where(x < loc, 0.0, -fnp.expm1(neg_scaled))


def logsf(x, loc=0, scale=1):
    """The log of the exponential survival function, ``-(x - loc) / scale``.

    Args:
      x: the points, a real array.
      loc: the start of the support (default 0).
      scale: the mean above loc (default 1).

    Returns:
      ``log P(X > x)``; 0 below loc.
    """
    x, loc, scale = promote_args_inexact("expon.sf", x, loc, scale)
    neg_scaled = (loc - x) / scale
    return fnp.where(x < loc, 0.0, neg_scaled)


def sf(x, loc=0, scale=1):
    """The exponential survival function.

    Args:
      x: the points, a real array.
      loc: the start of the support (default 0).
      scale: the mean above loc (default 1).

    Returns:
      ``P(X > x)``.
    """
    return fnp.exp(logsf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    """The log of the exponential CDF, ``log1p(-sf)``.

    Args:
      x: the points, a real array.
      loc: the start of the support (default 0).
      scale: the mean above loc (default 1).

    Returns:
      ``log P(X <= x)``.
    """
    return fnp.log1p(-sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    """The exponential quantile function ``loc - scale log1p(-q)``.

    Args:
      q: probabilities in [0, 1].
      loc: the start of the support (default 0).
      scale: the mean above loc (default 1).

    Returns:
      The quantiles; nan for q outside [0, 1].
    """
    q, loc, scale = promote_args_inexact("expon.ppf", q, loc, scale)
    bad = fnp.isnan(q) | (q < 0) | (q > 1)
    return fnp.where(bad, const(q, np.nan), loc - scale * fnp.log1p(-q))
