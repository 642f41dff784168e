"""The chi-squared distribution (as jax.scipy.stats.chi2)."""

import math

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.scipy._util import const, promote_args_inexact
from funcnet.scipy.special import gammainc, gammaincc

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, df, loc=0, scale=1):
    """The log of the chi-squared density with ``df`` degrees of freedom.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      The log-density; ``-inf`` below loc.
    """
    x, df, loc, scale = promote_args_inexact("chi2.logpdf", x, df, loc, scale)
    y = (x - loc) / scale
    half_df = df / 2
    kernel = (half_df - 1) * fnp.log(y) - y / 2
    normalizer = -(lax.lgamma(half_df) + const(x, math.log(2)) * df / 2)
    log_probs = normalizer - fnp.log(scale) + kernel
    return fnp.where(x < loc, const(log_probs, -np.inf), log_probs)


def pdf(x, df, loc=0, scale=1):
    """The chi-squared density.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      The density.
    """
    return fnp.exp(logpdf(x, df, loc, scale))


def cdf(x, df, loc=0, scale=1):
    """The chi-squared CDF, ``gammainc(df / 2, (x - loc) / (2 scale))``.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X <= x)``; 0 below loc.
    """
    x, df, loc, scale = promote_args_inexact("chi2.cdf", x, df, loc, scale)
    return gammainc(df / 2, fnp.clip((x - loc) / (scale * 2), 0, np.inf))


def logcdf(x, df, loc=0, scale=1):
    """The log of the chi-squared CDF.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``log P(X <= x)``.
    """
    return fnp.log(cdf(x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
    """The chi-squared survival function, ``gammaincc(df / 2, (x - loc) / (2 scale))``.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X > x)``; 1 below loc.
    """
    x, df, loc, scale = promote_args_inexact("chi2.sf", x, df, loc, scale)
    return gammaincc(df / 2, fnp.clip((x - loc) / (scale * 2), 0, np.inf))


def logsf(x, df, loc=0, scale=1):
    """The log of the chi-squared survival function.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``log P(X > x)``.
    """
    return fnp.log(sf(x, df, loc, scale))
