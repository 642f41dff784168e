"""The logistic distribution (as jax.scipy.stats.logistic)."""

import funcnet.numpy as fnp
from funcnet.scipy import special
from funcnet.scipy._util import promote_args_inexact

__all__ = ["cdf", "isf", "logpdf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
    """The log of the logistic density, ``-2 logaddexp(z / 2, -z / 2) - log(scale)``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The log-density, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("logistic.logpdf", x, loc, scale)
    half = fnp.abs((x - loc) / scale) / 2
    # logaddexp(h, -h) = |h| + log1p(exp(-2|h|)): no overflow for large |h|.
    return -2 * (half + fnp.log1p(fnp.exp(-2 * half))) - fnp.log(scale)


def pdf(x, loc=0, scale=1):
    """The logistic density.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The density, broadcast over the arguments.
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The logistic CDF, ``expit((x - loc) / scale)``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X <= x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("logistic.cdf", x, loc, scale)
    return special.expit((x - loc) / scale)


def sf(x, loc=0, scale=1):
    """The logistic survival function, ``expit(-(x - loc) / scale)``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X > x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("logistic.sf", x, loc, scale)
    return special.expit(-(x - loc) / scale)


def ppf(x, loc=0, scale=1):
    """The logistic quantile function, ``logit(x) * scale + loc``.

    Args:
      x: probabilities in [0, 1].
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The quantiles.
    """
    x, loc, scale = promote_args_inexact("logistic.ppf", x, loc, scale)
    return special.logit(x) * scale + loc


def isf(x, loc=0, scale=1):
    """The logistic inverse survival function, ``-logit(x) * scale + loc``.

    Args:
      x: probabilities in [0, 1].
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The quantiles of the upper tail.
    """
    x, loc, scale = promote_args_inexact("logistic.isf", x, loc, scale)
    return -special.logit(x) * scale + loc
