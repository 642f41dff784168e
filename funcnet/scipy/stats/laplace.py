"""The Laplace distribution (as jax.scipy.stats.laplace)."""

import funcnet.numpy as fnp
from funcnet.scipy._util import promote_args_inexact

__all__ = ["cdf", "logpdf", "pdf"]


def logpdf(x, loc=0, scale=1):
    """The log of the Laplace density ``exp(-|x - loc| / scale) / (2 scale)``.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The log-density, broadcast over the arguments.
    """
    x, loc, scale = promote_args_inexact("laplace.logpdf", x, loc, scale)
    return -(fnp.abs(x - loc) / scale + fnp.log(2 * scale))


def pdf(x, loc=0, scale=1):
    """The Laplace density.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The density, broadcast over the arguments.
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The Laplace CDF.

    Args:
      x: the points, a real array.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      ``exp(z) / 2`` for ``z = (x - loc) / scale <= 0``, ``1 - exp(-z) / 2`` above.
    """
    x, loc, scale = promote_args_inexact("laplace.cdf", x, loc, scale)
    diff = (x - loc) / scale
    return fnp.where(diff <= 0, 0.5 * fnp.exp(diff), 1 - 0.5 * fnp.exp(-diff))
