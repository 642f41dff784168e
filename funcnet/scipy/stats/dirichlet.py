"""The Dirichlet distribution (as jax.scipy.stats.dirichlet)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.scipy._util import const, promote_args_inexact
from funcnet.scipy.special import xlogy

__all__ = ["logpdf", "pdf"]


def logpdf(x, alpha):
    """The log of the Dirichlet density; the components lie along x's first axis.

    Args:
      x: points of the simplex, shape ``(K, ...)`` or ``(K - 1, ...)`` (the last
        component is then ``1 - sum``).
      alpha: the concentrations, shape ``(K,)``, positive.

    Returns:
      The log-density, of shape ``x.shape[1:]``; ``-inf`` off the simplex.

    Raises:
      ValueError: alpha is not one-dimensional, or x's first axis does not fit it.
    """
    x, alpha = promote_args_inexact("dirichlet.logpdf", x, alpha)
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    if x.ndim == 0 or x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError(
            "`x` must have either the same number of entries as `alpha` "
            f"or one entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}"
        )
    if x.shape[0] != alpha.shape[0]:
        x = fnp.concatenate([x, 1 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    normalize = fnp.sum(lax.lgamma(alpha)) - lax.lgamma(fnp.sum(alpha))
    if x.ndim > 1:
        alpha = fnp.reshape(alpha, alpha.shape + (1,) * (x.ndim - 1))
    log_probs = fnp.sum(xlogy(alpha - 1, x), axis=0) - normalize
    simplex = fnp.all(x > 0, axis=0) & (fnp.abs(fnp.sum(x, axis=0) - 1) < 1e-6)
    return fnp.where(simplex, log_probs, const(log_probs, -np.inf))


def pdf(x, alpha):
    """The Dirichlet density.

    Args:
      x: points of the simplex (see logpdf).
      alpha: the concentrations, shape ``(K,)``.

    Returns:
      The density, of shape ``x.shape[1:]``.
    """
    return fnp.exp(logpdf(x, alpha))
