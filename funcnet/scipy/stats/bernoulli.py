"""The Bernoulli distribution (as jax.scipy.stats.bernoulli)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet.scipy._util import const, promote_args_inexact
from funcnet.scipy.special import xlog1py, xlogy

__all__ = ["cdf", "logpmf", "pmf", "ppf"]


def logpmf(k, p, loc=0):
    """The log of the Bernoulli probability mass ``p^k (1 - p)^(1 - k)``.

    Args:
      k: the outcomes (0 or 1 after subtracting loc).
      p: the probability of 1.
      loc: a shift of the support (default 0).

    Returns:
      The log-probabilities; ``-inf`` for ``k - loc`` outside [0, 1].

    Example:
      >>> from funcnet.scipy.stats import bernoulli
      >>> round(float(bernoulli.logpmf(1, 0.25)), 4)
      -1.3863
    """
    k, p, loc = promote_args_inexact("bernoulli.logpmf", k, p, loc)
    x = k - loc
    log_probs = xlogy(x, p) + xlog1py(1 - x, -p)
    return fnp.where((x < 0) | (x > 1), const(x, -np.inf), log_probs)


def pmf(k, p, loc=0):
    """The Bernoulli probability mass.

    Args:
      k: the outcomes.
      p: the probability of 1.
      loc: a shift of the support (default 0).

    Returns:
      The probabilities.
    """
    return fnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    """The Bernoulli CDF.

    Args:
      k: the points.
      p: the probability of 1.

    Returns:
      0 below 0, ``1 - p`` on [0, 1), 1 from 1; nan for nan or p outside [0, 1].
    """
    k, p = promote_args_inexact("bernoulli.cdf", k, p)
    bad = fnp.isnan(k) | fnp.isnan(p) | (p < 0) | (p > 1)
    out = fnp.where(k < 0, 0.0, fnp.where(k < 1, 1 - p, 1.0))
    return fnp.where(bad, const(k, np.nan), out)


def ppf(q, p):
    """The Bernoulli quantile function.

    Args:
      q: probabilities in [0, 1].
      p: the probability of 1.

    Returns:
      0 where ``q <= 1 - p``, else 1; nan for invalid arguments.
    """
    q, p = promote_args_inexact("bernoulli.ppf", q, p)
    bad = fnp.isnan(q) | fnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    out = fnp.where(q <= 1 - p, 0.0, 1.0)
    return fnp.where(bad, const(q, np.nan), out)
