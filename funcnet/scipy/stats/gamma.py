"""The gamma distribution (as jax.scipy.stats.gamma)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.scipy._util import const, promote_args_inexact
from funcnet.scipy.special import gammainc, gammaincc, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, a, loc=0, scale=1):
    """The log of the gamma density with shape ``a``.

    Args:
      x: the points, a real array.
      a: the shape parameter, positive.
      loc: the start of the support (default 0).
      scale: the scale, ``1 / rate`` (default 1).

    Returns:
      The log-density; ``-inf`` below loc.
    """
    x, a, loc, scale = promote_args_inexact("gamma.logpdf", x, a, loc, scale)
    ok = x >= loc
    y = fnp.where(ok, (x - loc) / scale, 1.0)
    log_linear = xlogy(a - 1, y) - y
    log_probs = log_linear - (lax.lgamma(a) + fnp.log(scale))
    return fnp.where(ok, log_probs, const(log_probs, -np.inf))


def pdf(x, a, loc=0, scale=1):
    """The gamma density.

    Args:
      x: the points, a real array.
      a: the shape parameter, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      The density.
    """
    return fnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    """The gamma CDF, ``gammainc(a, (x - loc) / scale)``.

    Args:
      x: the points, a real array.
      a: the shape parameter, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X <= x)``; 0 below loc.
    """
    x, a, loc, scale = promote_args_inexact("gamma.cdf", x, a, loc, scale)
    return gammainc(a, fnp.clip((x - loc) / scale, 0, np.inf))


def logcdf(x, a, loc=0, scale=1):
    """The log of the gamma CDF.

    Args:
      x: the points, a real array.
      a: the shape parameter, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``log P(X <= x)``.
    """
    return fnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    """The gamma survival function, ``gammaincc(a, (x - loc) / scale)``.

    Args:
      x: the points, a real array.
      a: the shape parameter, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``P(X > x)``; 1 below loc.
    """
    x, a, loc, scale = promote_args_inexact("gamma.sf", x, a, loc, scale)
    y = (x - loc) / scale
    return fnp.where(y < 0, 1.0, gammaincc(a, y))


def logsf(x, a, loc=0, scale=1):
    """The log of the gamma survival function.

    Args:
      x: the points, a real array.
      a: the shape parameter, positive.
      loc: the start of the support (default 0).
      scale: the scale (default 1).

    Returns:
      ``log P(X > x)``.
    """
    return fnp.log(sf(x, a, loc, scale))
