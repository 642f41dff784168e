"""The Cauchy distribution (as jax.scipy.stats.cauchy)."""

import math

import funcnet.numpy as fnp
from funcnet.scipy._util import const, promote_args_inexact

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
    """The log of the Cauchy density ``1 / (pi scale (1 + z^2))``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The log-density, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("cauchy.logpdf", x, loc, scale)
    z = (x - loc) / scale
    return -(fnp.log(const(x, math.pi) * scale) + fnp.log1p(z * z))


def pdf(x, loc=0, scale=1):
    """The Cauchy density.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The density, broadcast over the arguments.
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The Cauchy CDF ``1/2 + arctan(z) / pi``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X <= x)``, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("cauchy.cdf", x, loc, scale)
    return 0.5 + const(x, 1 / math.pi) * fnp.arctan((x - loc) / scale)


def logcdf(x, loc=0, scale=1):
    """The log of the Cauchy CDF.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``log P(X <= x)``.
    """
    return fnp.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    """The Cauchy survival function, ``cdf(-x, -loc, scale)``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X > x)``.
    """
    x, loc, scale = promote_args_inexact("cauchy.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def logsf(x, loc=0, scale=1):
    """The log of the Cauchy survival function.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``log P(X > x)``.
    """
    x, loc, scale = promote_args_inexact("cauchy.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def ppf(q, loc=0, scale=1):
    """The Cauchy quantile function ``loc + scale tan(pi (q - 1/2))``.

    Args:
      q: probabilities in [0, 1].
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The quantiles.
    """
    q, loc, scale = promote_args_inexact("cauchy.ppf", q, loc, scale)
    unscaled = fnp.tan(const(q, math.pi) * q - const(q, math.pi / 2))
    return unscaled * scale + loc


def isf(q, loc=0, scale=1):
    """The Cauchy inverse survival function ``loc + scale tan(pi (1/2 - q))``.

    Args:
      q: probabilities in [0, 1].
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The quantiles of the upper tail.
    """
    q, loc, scale = promote_args_inexact("cauchy.isf", q, loc, scale)
    unscaled = fnp.tan(const(q, math.pi / 2) - const(q, math.pi) * q)
    return unscaled * scale + loc
