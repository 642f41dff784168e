"""The multivariate normal distribution (as jax.scipy.stats.multivariate_normal)."""

import math

import funcnet.numpy as fnp
from funcnet.lax import linalg as lax_linalg
from funcnet.scipy._util import const, promote_args_inexact

__all__ = ["logpdf", "pdf"]


def _mahalanobis_and_logdet(diff, cov, n):
    """``|L^-1 diff|^2`` and ``log det L`` with ``L = cholesky(cov)``, batch axes
    broadcast."""
    chol = lax_linalg.cholesky(cov)
    batch = fnp.broadcast_shapes(chol.shape[:-2], diff.shape[:-1])
    chol_b = fnp.broadcast_to(chol, batch + (n, n))
    rows = fnp.broadcast_to(diff, batch + (n,))[..., None, :]
    # y @ L^T = diff^T, i.e. L y = diff, one row per batch element.
    y = lax_linalg.triangular_solve(chol_b, rows, left_side=False, lower=True, transpose_a=True)
    y = y[..., 0, :]
    diagonal = fnp.sum(chol * fnp.eye(n, dtype=chol.dtype), axis=-1)
    return fnp.sum(y * y, axis=-1), fnp.sum(fnp.log(diagonal), axis=-1)


def logpdf(x, mean, cov, allow_singular=None):
    """The log of the multivariate normal density.

    ``cov`` may be a scalar (``cov * I``) or a batch of matrices, factored with
    Cholesky; a covariance that is not positive definite gives nan (as in jax).

    Args:
      x: the points, shape ``(..., n)`` (or scalars with a scalar mean).
      mean: the mean, shape ``(..., n)`` (or a scalar).
      cov: the covariance: a scalar or shape ``(..., n, n)``.
      allow_singular: not supported (jax neither): must be None.

    Returns:
      The log-density, shape ``x.shape[:-1]`` broadcast with the batch axes.

    Raises:
      NotImplementedError: allow_singular is given.
      ValueError: cov's shape does not fit mean's.

    Example:
      >>> from funcnet.scipy.stats import multivariate_normal
      >>> cov = fnp.array([[2.0, 0.0], [0.0, 2.0]])
      >>> round(float(multivariate_normal.logpdf(fnp.zeros(2), fnp.zeros(2), cov)), 4)
      -2.531
    """
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = promote_args_inexact("multivariate_normal.logpdf", x, mean, cov)
    log_2pi = const(x, math.log(2 * math.pi))
    if not mean.shape:
        return -0.5 * fnp.square(x - mean) / cov - 0.5 * (log_2pi + fnp.log(cov))
    n = mean.shape[-1]
    diff = x - mean
    if not cov.shape:
        return -0.5 * fnp.sum(diff * diff, axis=-1) / cov - n / 2 * (log_2pi + fnp.log(cov))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError(
            "multivariate_normal.logpdf got incompatible shapes: "
            f"x {x.shape}, mean {mean.shape}, cov {cov.shape} ({cov.dtype})"
        )
    quad, logdet = _mahalanobis_and_logdet(diff, cov, n)
    return -0.5 * quad - n / 2 * log_2pi - logdet


def pdf(x, mean, cov):
    """The multivariate normal density.

    Args:
      x: the points, shape ``(..., n)``.
      mean: the mean, shape ``(..., n)``.
      cov: the covariance: a scalar or shape ``(..., n, n)``.

    Returns:
      The density, shape ``x.shape[:-1]`` broadcast with the batch axes.
    """
    return fnp.exp(logpdf(x, mean, cov))
