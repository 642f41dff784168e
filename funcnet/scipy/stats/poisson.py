"""The Poisson distribution (as jax.scipy.stats.poisson)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.scipy._util import const, promote_args_inexact
from funcnet.scipy.special import gammaincc, xlogy

__all__ = ["cdf", "logpmf", "pmf"]


def logpmf(k, mu, loc=0):
    """The log of the Poisson probability mass ``mu^k exp(-mu) / k!``.

    Args:
      k: the counts (non-negative integers after subtracting loc).
      mu: the rate, positive.
      loc: a shift of the support (default 0).

    Returns:
      The log-probabilities; ``-inf`` for negative or non-integer ``k``.

    Example:
      >>> from funcnet.scipy.stats import poisson
      >>> round(float(poisson.logpmf(2, 3.0)), 4)
      -1.4959
    """
    k, mu, loc = promote_args_inexact("poisson.logpmf", k, mu, loc)
    x = k - loc
    log_probs = xlogy(x, mu) - lax.lgamma(x + 1) - mu
    bad = (x < 0) | (fnp.round(k) != k)
    return fnp.where(bad, const(log_probs, -np.inf), log_probs)


def pmf(k, mu, loc=0):
    """The Poisson probability mass.

    Args:
      k: the counts.
      mu: the rate, positive.
      loc: a shift of the support (default 0).

    Returns:
      The probabilities.
    """
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    """The Poisson CDF, ``gammaincc(floor(k - loc + 1), mu)``.

    Args:
      k: the points.
      mu: the rate, positive.
      loc: a shift of the support (default 0).

    Returns:
      ``P(X <= k)``; 0 below loc.
    """
    k, mu, loc = promote_args_inexact("poisson.cdf", k, mu, loc)
    x = k - loc
    p = gammaincc(fnp.floor(1 + x), mu)
    return fnp.where(x < 0, 0.0, p)
