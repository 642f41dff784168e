"""Samplers that need linear algebra: multivariate_normal (a factor of the covariance
times standard normals) and orthogonal (Haar-distributed matrices from a QR
decomposition), as jax.random computes them (funcnet.numpy.linalg's decompositions).
"""

import funcnet.numpy as fnp
from funcnet.core import dtypes
from funcnet.random._checks import shape_for
from funcnet.random._prng import canonical_shape, check_key, to_array
from funcnet.random._samplers import _broadcast_shapes, _float_dtype, normal_body
from funcnet.transforms.jit import jit

_METHODS = ("cholesky", "eigh", "svd")


def _multivariate_normal_body(key, mean, cov, shape, dtype, method):
    if method == "svd":
        u, s, _ = fnp.linalg.svd(cov)
        factor = u * fnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = fnp.linalg.eigh(cov)
        factor = v * fnp.sqrt(w[..., None, :])
    else:
        factor = fnp.linalg.cholesky(cov)
    z = normal_body(key, shape + mean.shape[-1:], dtype)
    return mean + fnp.einsum("...ij,...j->...i", factor, z)


_multivariate_normal_jit = jit(_multivariate_normal_body, static_argnums=(3, 4, 5))


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """Multivariate normal samples ``mean + factor @ z`` (as jax.random.multivariate_normal),
    with ``factor`` from a Cholesky ("cholesky"), eigen ("eigh") or singular value
    ("svd") decomposition of ``cov``.

    A covariance that is not positive definite gives nan with "cholesky" (as jax); use
    "eigh" or "svd" for singular ones.

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      mean: the mean, shape ``(..., n)``.
      cov: the covariance, shape ``(..., n, n)``; its batch shape broadcasts with
        ``mean``'s.
      shape: the batch shape of the result (default: the broadcast batch shape of
        ``mean`` and ``cov``).
      dtype: a float dtype (default: ``mean``'s float dtype).
      method: "cholesky" (default), "eigh" or "svd".

    Returns:
      An array of shape ``shape + (n,)`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: an unknown ``method``, ``mean`` without an axis, ``cov`` not of shape
        ``(..., n, n)``, or shapes that do not broadcast.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import random
      >>> x = random.multivariate_normal(random.key(0), fnp.zeros(2), fnp.eye(2), (5,))
      >>> x.shape
      (5, 2)
    """
    key = check_key("multivariate_normal", key)
    if method not in _METHODS:
        raise ValueError(
            f"funcnet.random.multivariate_normal: method must be one of {_METHODS}, got {method!r}"
        )
    mean, cov = to_array(mean), to_array(cov)
    common = fnp.result_type(mean, cov)  # as jax: promote to an inexact dtype
    if not dtypes.is_float(common):
        common = dtypes.default_float()
    dtype = common if dtype is None else _float_dtype("multivariate_normal", dtype)
    mean, cov = fnp.astype(mean, dtype), fnp.astype(cov, dtype)
    if mean.ndim < 1:
        raise ValueError("funcnet.random.multivariate_normal: mean must have at least one axis")
    n = mean.shape[-1]
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError(
            f"funcnet.random.multivariate_normal: cov must have shape (..., {n}, {n}) for "
            f"mean of shape {mean.shape}, got {cov.shape}"
        )
    batch = _broadcast_shapes("multivariate_normal", mean.shape[:-1], cov.shape[:-2])
    if shape is None:
        shape = batch
    else:
        shape = canonical_shape("multivariate_normal", shape)
        shape_for("multivariate_normal", shape, tuple(mean.shape[:-1]), tuple(cov.shape[:-2]))
    return _multivariate_normal_jit(key, mean, cov, shape, dtype, method)


def _orthogonal_body(key, n, m, shape, dtype):
    z = normal_body(key, (*shape, max(n, m), min(n, m)), dtype)
    q, r = fnp.linalg.qr(z)
    d = fnp.linalg.diagonal(r)
    x = q * fnp.expand_dims(fnp.sign(d), -2)
    return fnp.swapaxes(x, -1, -2) if n < m else x


_orthogonal_jit = jit(_orthogonal_body, static_argnums=(1, 2, 3, 4))


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """Haar-distributed matrices with orthonormal columns (or rows), as
    jax.random.orthogonal: the QR decomposition of a normal matrix, with the signs of
    R's diagonal moved into Q.

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      n: the number of rows, an int.
      shape: the batch shape (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).
      m: the number of columns (default ``n``).

    Returns:
      An array of shape ``shape + (n, m)`` and ``dtype``: orthonormal columns when
      n >= m, orthonormal rows otherwise.

    Raises:
      TypeError: ``key`` is not one key, ``n``/``m`` are not ints, or ``dtype`` is not
        a float dtype.
      ValueError: a negative ``n`` or ``m``.
    """
    key = check_key("orthogonal", key)
    dtype = _float_dtype("orthogonal", dtype)
    m = n if m is None else m
    for what, v in (("n", n), ("m", m)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"funcnet.random.orthogonal: {what} must be an int, got {v!r}")
        if v < 0:
            raise ValueError(f"funcnet.random.orthogonal: {what} must be >= 0, got {v}")
    return _orthogonal_jit(key, n, m, canonical_shape("orthogonal", shape), dtype)
