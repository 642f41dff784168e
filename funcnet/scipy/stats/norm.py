"""The normal distribution (as jax.scipy.stats.norm)."""

import math

import funcnet.numpy as fnp
from funcnet.scipy import special
from funcnet.scipy._util import const, promote_args_inexact

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
    """The log of the normal density.

    Args:
      x: the points, a real array.
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``log N(x; loc, scale^2)``, broadcast over the arguments.

    Example:
      >>> from funcnet.scipy.stats import norm
      >>> round(float(norm.logpdf(0.0)), 4)
      -0.9189
    """
    x, loc, scale = promote_args_inexact("norm.logpdf", x, loc, scale)
    scale_sq = scale * scale
    log_normalizer = fnp.log(const(x, 2 * math.pi) * scale_sq)
    quadratic = (x - loc) * (x - loc) / scale_sq
    return (log_normalizer + quadratic) / const(x, -2)


def pdf(x, loc=0, scale=1):
    """The normal density.

    Args:
      x: the points, a real array.
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``N(x; loc, scale^2)``, broadcast over the arguments.
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The normal CDF, ``ndtr((x - loc) / scale)``.

    Args:
      x: the points, a real array.
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``P(X <= x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("norm.cdf", x, loc, scale)
    return special.ndtr((x - loc) / scale)


def logcdf(x, loc=0, scale=1):
    """The log of the normal CDF, accurate in the tails (``log_ndtr``).

    Args:
      x: the points, a real array.
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``log P(X <= x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("norm.logcdf", x, loc, scale)
    return special.log_ndtr((x - loc) / scale)


def sf(x, loc=0, scale=1):
    """The normal survival function ``1 - cdf``, computed as ``cdf(-x, -loc, scale)``.

    Args:
      x: the points, a real array.
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``P(X > x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("norm.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def logsf(x, loc=0, scale=1):
    """The log of the normal survival function, ``logcdf(-x, -loc, scale)``.

    Args:
      x: the points, a real array.
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``log P(X > x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("norm.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def ppf(q, loc=0, scale=1):
    """The normal quantile function, ``ndtri(q) * scale + loc``.

    Args:
      q: probabilities in [0, 1].
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``x`` with ``cdf(x) = q`` (``-inf`` at 0, ``inf`` at 1, nan outside).
    """
    q, loc, scale = promote_args_inexact("norm.ppf", q, loc, scale)
    return special.ndtri(q) * scale + loc


def isf(q, loc=0, scale=1):
    """The inverse survival function, ``ppf(1 - q)``.

    Args:
      q: probabilities in [0, 1].
      loc: the mean (default 0).
      scale: the standard deviation (default 1).

    Returns:
      ``x`` with ``sf(x) = q``.
    """
    q, loc, scale = promote_args_inexact("norm.isf", q, loc, scale)
    return ppf(1 - q, loc, scale)
