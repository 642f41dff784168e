"""Student's t distribution (as jax.scipy.stats.t): logpdf and pdf."""

import math

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.scipy._util import const, promote_args_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x, df, loc=0, scale=1):
    """The log of Student's t density with ``df`` degrees of freedom.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The log-density, broadcast over the arguments.
    """
    x, df, loc, scale = promote_args_inexact("t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    half_df = df / 2
    half_df_plus_half = half_df + 0.5
    normalize = (
        lax.lgamma(half_df)
        + fnp.log(scale * scale * const(x, math.pi) * df) / 2
        - lax.lgamma(half_df_plus_half)
    )
    return -(normalize + half_df_plus_half * fnp.log1p(z * z / df))


def pdf(x, df, loc=0, scale=1):
    """Student's t density.

    Args:
      x: the points, a real array.
      df: the degrees of freedom, positive.
      loc: the location (default 0).
      scale: the scale (default 1).

    Returns:
      The density.
    """
    return fnp.exp(logpdf(x, df, loc, scale))
