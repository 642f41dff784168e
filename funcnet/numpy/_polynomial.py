"""Polynomials as coefficient arrays, highest power first, with jax.numpy's names:
polyval, polyadd, polysub, polymul, polydiv, polyder, polyint, poly, polyfit, roots.
polyfit and roots need funcnet.numpy.linalg (lstsq; eigvals of the companion matrix)."""

import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import (
    _float_args,
    _like,
    asarray,
    astype,
    broadcast_shapes,
    broadcast_to,
    check_arraylike,
    promote,
    sqrt,
)
from funcnet.numpy._creation import arange, full, ones, zeros
from funcnet.numpy._editing import trim_zeros
from funcnet.numpy._indexing import where
from funcnet.numpy._matrix import diag, vander
from funcnet.numpy._products import convolve, dot, outer
from funcnet.numpy._reductions import prod
from funcnet.numpy._reductions import sum as _sum
from funcnet.numpy._shape import atleast_1d, concatenate


def polyval(p, x, *, unroll=16):
    """The polynomial with coefficients p evaluated at x (Horner's rule), as
    jnp.polyval.

    Args:
      p: coefficients, highest power first (a 1-d array; extra axes broadcast with x).
      x: the points.
      unroll: accepted for compatibility (the loop is always unrolled here).

    Returns:
      An array of the broadcast shape and promoted dtype.

    Example:
      >>> fnp.polyval(fnp.array([1.0, 0.0, -1.0]), fnp.array([2.0, 3.0])).tolist()
      [3.0, 8.0]
    """
    del unroll
    check_arraylike("polyval", p, x)
    p, x = promote(p, x)
    shape = broadcast_shapes(p.shape[1:], x.shape)
    y = lax.full_like(x, 0, shape=shape) if x.shape != shape else lax.full_like(x, 0)
    for i in range(p.shape[0]):
        y = y * x + p[i]
    return broadcast_to(y, shape)


def _pad_front(a, n):
    if a.shape[0] >= n:
        return a
    return concatenate([zeros((n - a.shape[0],), a.dtype), a])


def polyadd(a1, a2):
    """The sum of two polynomials, as jnp.polyadd.

    Args:
      a1: coefficients, highest power first.
      a2: coefficients, highest power first.

    Returns:
      The coefficients of the sum (as long as the longer input).
    """
    check_arraylike("polyadd", a1, a2)
    a1, a2 = promote(a1, a2)
    n = max(a1.shape[0], a2.shape[0])
    return _pad_front(a1, n) + _pad_front(a2, n)


def polysub(a1, a2):
    """The difference of two polynomials, as jnp.polysub.

    Args:
      a1: coefficients, highest power first.
      a2: coefficients, highest power first (subtracted).

    Returns:
      The coefficients of a1 - a2 (as long as the longer input).
    """
    check_arraylike("polysub", a1, a2)
    a1, a2 = promote(a1, a2)
    n = max(a1.shape[0], a2.shape[0])
    return _pad_front(a1, n) - _pad_front(a2, n)


def polymul(a1, a2, *, trim_leading_zeros=False):
    """The product of two polynomials, as jnp.polymul.

    Args:
      a1: coefficients, highest power first.
      a2: coefficients, highest power first.
      trim_leading_zeros: drop leading zeros first (needs concrete values).

    Returns:
      The (floating) coefficients of the product.

    Example:
      >>> fnp.polymul(fnp.array([1.0, 1.0]), fnp.array([1.0, -1.0])).tolist()
      [1.0, 0.0, -1.0]
    """
    check_arraylike("polymul", a1, a2)
    a1, a2 = _float_args(a1, a2)
    if trim_leading_zeros and (a1.shape[0] > 1 or a2.shape[0] > 1):
        a1, a2 = trim_zeros(a1, trim="f"), trim_zeros(a2, trim="f")
    if a1.shape[0] == 0:
        a1 = zeros(1, a2.dtype)
    if a2.shape[0] == 0:
        a2 = zeros(1, a1.dtype)
    return convolve(a1, a2, mode="full")


def polydiv(u, v, *, trim_leading_zeros=False):
    """The quotient and remainder of polynomial division, as jnp.polydiv.

    Args:
      u: the dividend's coefficients, highest power first.
      v: the divisor's coefficients (v[0] must be nonzero).
      trim_leading_zeros: drop the remainder's leading (near-)zeros (needs concrete
        values).

    Returns:
      A pair (quotient, remainder) of floating coefficient arrays (the remainder as
      long as u unless trimmed).
    """
    check_arraylike("polydiv", u, v)
    u, v = _float_args(u, v)
    m, n = u.shape[0] - 1, v.shape[0] - 1
    scale = 1.0 / v[0]
    q = zeros(max(m - n + 1, 1), u.dtype)
    for k in range(0, m - n + 1):
        d = scale * u[k]
        q = q.at[k].set(d)
        u = u.at[k : k + n + 1].add(-d * v)
    if trim_leading_zeros:
        tol = float(np.sqrt(np.finfo(u.dtype).eps))
        host = np.asarray(u)
        nz = np.flatnonzero(np.abs(host) > tol)
        u = u[int(nz[0]) :] if nz.size else u[:0]
    return q, u


def polyder(p, m=1):
    """The m-th derivative of a polynomial, as jnp.polyder.

    Args:
      p: coefficients, highest power first.
      m: the order of the derivative (a non-negative int).

    Returns:
      The coefficients of the derivative (m shorter), of p's dtype.

    Raises:
      ValueError: for a negative m.
    """
    check_arraylike("polyder", p)
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive")
    p = asarray(p)
    if m == 0:
        return p
    grid = arange(m, p.shape[0], dtype=p.dtype)[None] - arange(m, dtype=p.dtype)[:, None]
    coeff = prod(grid, axis=0)
    return p[:-m] * coeff[::-1]


def polyint(p, m=1, k=None):
    """The m-th antiderivative of a polynomial, as jnp.polyint.

    Args:
      p: coefficients, highest power first.
      m: the order of integration (a non-negative int).
      k: the integration constants: a scalar or m values (default 0).

    Returns:
      The (floating) coefficients of the antiderivative (m longer).

    Raises:
      ValueError: for a negative m or k of the wrong length.
    """
    check_arraylike("polyint", p)
    m = operator.index(m)
    k = 0 if k is None else k
    p, k = _float_args(p, k)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    k = atleast_1d(k)
    if k.shape[0] == 1:
        k = full((m,), k[0], k.dtype)
    if k.shape != (m,):
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or m.")
    if m == 0:
        return p
    grid = arange(p.shape[0] + m, dtype=p.dtype)[None] - arange(m, dtype=p.dtype)[:, None]
    coeff = prod(lax.max(grid, _like(grid, 1)), axis=0)[::-1]
    return concatenate([p, k]) / coeff


def poly(seq_of_zeros):
    """The coefficients of the monic polynomial with the given roots (or the
    characteristic polynomial of a square matrix), as jnp.poly.

    Args:
      seq_of_zeros: a 1-d array of roots, or a square 2-d array.

    Returns:
      A floating 1-d array of len(roots) + 1 coefficients.

    Raises:
      ValueError: for other shapes.

    Example:
      >>> fnp.poly(fnp.array([1.0, 2.0])).tolist()
      [1.0, -3.0, 2.0]
    """
    check_arraylike("poly", seq_of_zeros)
    (z,) = _float_args(seq_of_zeros)
    z = atleast_1d(z)
    if z.ndim == 2 and z.shape[0] == z.shape[1] and z.shape[0] != 0:
        from funcnet.numpy import linalg  # imports funcnet.numpy itself: import late

        z = linalg.eigvals(z)
    if z.ndim != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if z.shape[0] == 0:
        return ones((), z.dtype)
    a = ones((1,), z.dtype)
    for i in range(z.shape[0]):
        a = convolve(a, concatenate([ones((1,), z.dtype), -z[i : i + 1]]), mode="full")
    return a


def roots(p, *, strip_zeros=True):
    """The roots of a polynomial (eigenvalues of its companion matrix), as jnp.roots.

    Args:
      p: a 1-d array of coefficients, highest power first.
      strip_zeros: drop leading zeros first (needs concrete values); with False,
        one root per leading zero is nan (usable under jit).

    Returns:
      A complex 1-d array of roots.

    Raises:
      ValueError: for p not 1-d.
    """
    from funcnet.numpy import linalg  # imports funcnet.numpy itself: import late

    check_arraylike("roots", p)
    (p,) = _float_args(p)
    p = atleast_1d(p)
    if p.ndim != 1:
        raise ValueError("Input must be a rank-1 array.")
    complex_dtype = dtypes.complex_dtype(p.dtype)
    if p.shape[0] < 2:
        return zeros((0,), complex_dtype)
    if strip_zeros:
        host = np.asarray(p)
        nz = np.flatnonzero(host != 0)
        lead = int(nz[0]) if nz.size else p.shape[0]
        p = p[lead:]
        if p.shape[0] < 2:
            return zeros((0,), complex_dtype)
        return _companion_roots(p, linalg)
    is_zero = p == 0
    lead = where(
        _sum(is_zero) == p.shape[0],
        p.shape[0],
        lax.argmin(astype(is_zero, np.int32), 0),
    )
    p_safe = where(lead == p.shape[0], _like(p, 1), p)
    idx = (arange(p.shape[0]) + lead) % p.shape[0]
    r = _companion_roots(p_safe[idx], linalg)
    r = lax.sort_key_val(astype(r == 0, np.int32), r)[1]
    keep = arange(r.shape[0]) < r.shape[0] - lead
    return where(keep, r, astype(asarray(complex(np.nan, np.nan)), r.dtype))


def _companion_roots(p, linalg):
    n = p.shape[0]
    a = diag(ones((n - 2,), p.dtype), -1)
    a = a.at[0, :].set(-p[1:] / p[0])
    return linalg.eigvals(a)


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """The least-squares polynomial fit of degree deg to (x, y), as jnp.polyfit.

    Args:
      x: a 1-d array of sample points.
      y: the values, 1-d or 2-d (one fit per column).
      deg: the degree.
      rcond: the relative cutoff for small singular values (default len(x) * eps).
      full: also return (residuals, rank, singular values, rcond).
      w: weights for the samples.
      cov: also return the covariance of the coefficients (or 'unscaled').

    Returns:
      The coefficients, highest power first, or a tuple as selected by full/cov.

    Raises:
      ValueError: for a negative deg.
      TypeError: for arrays of the wrong shapes.
    """
    from funcnet.numpy import linalg  # imports funcnet.numpy itself: import late

    check_arraylike("polyfit", x, y)
    x, y = asarray(x), asarray(y)
    deg = operator.index(deg)
    order = deg + 1
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if x.ndim != 1:
        raise TypeError("expected 1D vector for x")
    if x.size == 0:
        raise TypeError("expected non-empty vector for x")
    if y.ndim < 1 or y.ndim > 2:
        raise TypeError("expected 1D or 2D array for y")
    if x.shape[0] != y.shape[0]:
        raise TypeError("expected x and y to have same length")
    x, y = _float_args(x, y)
    if rcond is None:
        rcond = x.shape[0] * float(np.finfo(x.dtype).eps)
    lhs = vander(x, order)
    rhs = y
    if w is not None:
        check_arraylike("polyfit", w)
        (w,) = _float_args(w)
        if w.ndim != 1:
            raise TypeError("expected a 1-d array for weights")
        if w.shape[0] != y.shape[0]:
            raise TypeError("expected w and y to have the same length")
        lhs = lhs * w[:, None]
        rhs = rhs * (w[:, None] if rhs.ndim == 2 else w)
    scale = sqrt(_sum(lhs * lhs, axis=0))
    lhs = lhs / scale[None, :]
    c, resids, rank, s = linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale[None, :]).T if c.ndim > 1 else c / scale
    if full:
        return c, resids, rank, s, asarray(rcond)
    if cov:
        vbase = linalg.inv(dot(lhs.T, lhs)) / outer(scale, scale)
        if cov == "unscaled":
            fac = asarray(1.0)
        else:
            if x.shape[0] <= order:
                raise ValueError(
                    "the number of data points must exceed order to scale the covariance matrix"
                )
            fac = resids / (x.shape[0] - order)
        if y.ndim == 1:
            return c, vbase * atleast_1d(fac)[None]
        return c, vbase[:, :, None] * atleast_1d(fac)[None, None, :]
    return c
