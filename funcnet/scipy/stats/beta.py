"""The beta distribution (as jax.scipy.stats.beta)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet.scipy._util import const, promote_args_inexact
from funcnet.scipy.special import betainc, betaln, xlog1py, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, a, b, loc=0, scale=1):
    """The log of the beta density on ``[loc, loc + scale]``.

    Args:
      x: the points, a real array.
      a: the first shape parameter, positive.
      b: the second shape parameter, positive.
      loc: the lower end of the support (default 0).
      scale: the width of the support (default 1).

    Returns:
      The log-density; ``-inf`` outside the support, nan for non-positive a, b, scale.
    """
    x, a, b, loc, scale = promote_args_inexact("beta.logpdf", x, a, b, loc, scale)
    y = (x - loc) / scale
    log_linear = xlogy(a - 1, y) + xlog1py(b - 1, -y)
    log_probs = -betaln(a, b) + log_linear - fnp.log(scale)
    result = fnp.where((x > loc + scale) | (x < loc), const(x, -np.inf), log_probs)
    invalid = (a <= 0) | (b <= 0) | (scale <= 0)
    return fnp.where(invalid, const(x, np.nan), result)


def pdf(x, a, b, loc=0, scale=1):
    """The beta density.

    Args:
      x: the points, a real array.
      a: the first shape parameter, positive.
      b: the second shape parameter, positive.
      loc: the lower end of the support (default 0).
      scale: the width of the support (default 1).

    Returns:
      The density.
    """
    return fnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0, scale=1):
    """The beta CDF, ``betainc(a, b, (x - loc) / scale)`` with the argument clipped to
    [0, 1].

    Args:
      x: the points, a real array.
      a: the first shape parameter, positive.
      b: the second shape parameter, positive.
      loc: the lower end of the support (default 0).
      scale: the width of the support (default 1).

    Returns:
      ``P(X <= x)``.
    """
    x, a, b, loc, scale = promote_args_inexact("beta.cdf", x, a, b, loc, scale)
    return betainc(a, b, fnp.clip((x - loc) / scale, 0, 1))


def logcdf(x, a, b, loc=0, scale=1):
    """The log of the beta CDF.

    Args:
      x: the points, a real array.
      a: the first shape parameter, positive.
      b: the second shape parameter, positive.
      loc: the lower end of the support (default 0).
      scale: the width of the support (default 1).

    Returns:
      ``log P(X <= x)``.
    """
    return fnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    """The beta survival function, ``betainc(b, a, 1 - y)`` for the clipped ``y``.

    Args:
      x: the points, a real array.
      a: the first shape parameter, positive.
      b: the second shape parameter, positive.
      loc: the lower end of the support (default 0).
      scale: the width of the support (default 1).

    Returns:
      ``P(X > x)``.
    """
    x, a, b, loc, scale = promote_args_inexact("beta.sf", x, a, b, loc, scale)
    return betainc(b, a, 1 - fnp.clip((x - loc) / scale, 0, 1))


def logsf(x, a, b, loc=0, scale=1):
    """The log of the beta survival function.

    Args:
      x: the points, a real array.
      a: the first shape parameter, positive.
      b: the second shape parameter, positive.
      loc: the lower end of the support (default 0).
      scale: the width of the support (default 1).

    Returns:
      ``log P(X > x)``.
    """
    return fnp.log(sf(x, a, b, loc, scale))
