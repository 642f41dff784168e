"""The uniform distribution on [loc, loc + scale] (as jax.scipy.stats.uniform)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet.scipy._util import const, promote_args_inexact, strong

__all__ = ["cdf", "logpdf", "pdf", "ppf"]


def logpdf(x, loc=0, scale=1):
    """The log of the uniform density.

    Args:
      x: the points, a real array.
      loc: the lower end (default 0).
      scale: the width (default 1).

    Returns:
      ``-log(scale)`` inside ``[loc, loc + scale]``, ``-inf`` outside.
    """
    x, loc, scale = promote_args_inexact("uniform.logpdf", x, loc, scale)
    log_probs = -fnp.log(scale)
    outside = (x > loc + scale) | (x < loc)
    return fnp.where(outside, const(x, -np.inf), log_probs)


def pdf(x, loc=0, scale=1):
    """The uniform density.

    Args:
      x: the points, a real array.
      loc: the lower end (default 0).
      scale: the width (default 1).

    Returns:
      ``1 / scale`` inside ``[loc, loc + scale]``, 0 outside.
    """
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The uniform CDF.

    Args:
      x: the points, a real array.
      loc: the lower end (default 0).
      scale: the width (default 1).

    Returns:
      0 below loc, 1 above ``loc + scale``, linear between.
    """
    x, loc, scale = promote_args_inexact("uniform.cdf", x, loc, scale)
    inside = (x - loc) / scale
    # Strongly typed, as jax's (its 0 and 1 are arrays of x's dtype).
    return strong(fnp.where(x < loc, 0.0, fnp.where(x > loc + scale, 1.0, inside)))


def ppf(q, loc=0, scale=1):
    """The uniform quantile function ``loc + scale q``.

    Args:
      q: probabilities in [0, 1].
      loc: the lower end (default 0).
      scale: the width (default 1).

    Returns:
      ``loc + scale * q``; nan for q outside [0, 1].
    """
    q, loc, scale = promote_args_inexact("uniform.ppf", q, loc, scale)
    bad = fnp.isnan(q) | (q < 0) | (q > 1)
    return fnp.where(bad, const(q, np.nan), loc + scale * q)
