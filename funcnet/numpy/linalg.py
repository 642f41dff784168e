"""funcnet.numpy.linalg: jax.numpy.linalg's functions, batched over leading axes.

Built on the decompositions of funcnet.lax.linalg (cholesky, triangular_solve, lu, qr,
eigh, svd): `solve` and `inv` go through `lu`; `det` and `slogdet` through `lu` with
jax's derivative rules (`det`'s uses a cofactor solve, so it stays finite at singular
matrices; `slogdet`'s is `trace(solve(a, da))`). A singular matrix gives what jax gives:
inf/nan from `solve`/`inv`, 0 from `det`, `(0, -inf)` from `slogdet`; no error.
Complex matrices are supported by `solve` and `inv` (and lax.linalg's `lu` and
`triangular_solve`); the other functions take real matrices (`eig`/`eigvals` return
complex results, LAPACK geev, for real input).
"""

from typing import NamedTuple

import numpy as np

from funcnet.core import dtypes
from funcnet.lax import linalg as lg
from funcnet.numpy import _core, _creation, _indexing, _products, _reductions, _shape, _sorting
from funcnet.transforms.custom import custom_jvp


class EighResult(NamedTuple):
    """What `eigh` returns.

    Args:
      eigenvalues: ascending, shape (..., n).
      eigenvectors: in the columns, shape (..., n, n).
    """

    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    """What `qr` returns.

    Args:
      Q: orthonormal columns.
      R: upper triangular.
    """

    Q: object
    R: object


class SlogdetResult(NamedTuple):
    """What `slogdet` returns.

    Args:
      sign: the determinant's sign (0 if singular).
      logabsdet: log of its absolute value.
    """

    sign: object
    logabsdet: object


class SVDResult(NamedTuple):
    """What `svd` returns.

    Args:
      U: left singular vectors.
      S: singular values, descending.
      Vh: right singular vectors, transposed.
    """

    U: object
    S: object
    Vh: object


def _inexact(name, *xs, complex_ok=False):
    """`xs` as arrays of one floating dtype (integers become the default float)."""
    arrs = [_core.asarray(x) for x in xs]
    dtype = _core.result_type(*arrs)
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float()
    if dtypes.is_complex(dtype) and not complex_ok:
        raise TypeError(
            f"{name}: complex matrices are not supported yet; got shapes "
            f"{[a.shape for a in arrs]} and dtype {dtype}"
        )
    return [a.astype(dtype) for a in arrs]


def _square(name, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"{name}: expected square matrices (..., n, n), got shape {a.shape} and dtype {a.dtype}"
        )


def _at_least_2d(name, a):
    if a.ndim < 2:
        raise ValueError(
            f"{name}: expected an array of rank >= 2, got shape {a.shape} and dtype {a.dtype}"
        )


def _mT(x):
    return _shape.swapaxes(x, -1, -2)


def _broadcast_batch(a, b):
    """`a` (..., m, n) and `b` (..., m, k) with their batch axes broadcast together."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return (
        _core.broadcast_to(a, batch + a.shape[-2:]),
        _core.broadcast_to(b, batch + b.shape[-2:]),
    )


def _permute_rows(perm, x):
    """`x[..., perm, :]` (perm batched like x) as a one-hot product (differentiable)."""
    m = perm.shape[-1]
    onehot = (perm[..., :, None] == _creation.arange(m, dtype=perm.dtype)).astype(x.dtype)
    return lg.matmul(onehot, x)


def _lu_solve(lu, perm, b, trans=0):
    lu, b = _broadcast_batch(lu, b)
    perm = _core.broadcast_to(perm, lu.shape[:-1])
    if trans == 0:
        x = _permute_rows(perm, b)
        x = lg.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
        return lg.triangular_solve(lu, x, left_side=True, lower=False)
    x = lg.triangular_solve(lu, b, left_side=True, lower=False, transpose_a=True)
    x = lg.triangular_solve(lu, x, left_side=True, lower=True, transpose_a=True, unit_diagonal=True)
    m = perm.shape[-1]
    onehot = (perm[..., :, None] == _creation.arange(m, dtype=perm.dtype)).astype(x.dtype)
    return lg.matmul(_mT(onehot), x)


# --- decompositions --------------------------------------------------------------------


def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
    """The Cholesky factor of symmetric positive definite matrices, as
    jax.numpy.linalg.cholesky.

    Args:
      a: array of shape (..., n, n).
      upper: return the upper factor `U` (`a = U.T @ U`) instead of the lower one.
      symmetrize_input: use `(a + a.T) / 2`.

    Returns:
      The triangular factor, shape (..., n, n). A matrix that is not positive definite
      gives nan (as in jax).

    Raises:
      ValueError: `a` is not a batch of square matrices.

    Example:
      >>> fnp.linalg.cholesky(fnp.array([[4.0, 2.0], [2.0, 5.0]])).tolist()
      [[2.0, 0.0], [1.0, 2.0]]
    """
    (a,) = _inexact("cholesky", a)
    _square("cholesky", a)
    L = lg.cholesky(a, symmetrize_input=symmetrize_input)
    return _mT(L) if upper else L


def qr(a, mode: str = "reduced"):
    """QR decomposition, as jax.numpy.linalg.qr.

    Args:
      a: array of shape (..., m, n).
      mode: "reduced" (q: (..., m, k), r: (..., k, n), k = min(m, n)), "complete"
        (q: (..., m, m)), or "r" (only r).

    Returns:
      `QRResult(Q, R)`, or R alone for mode "r".

    Example:
      >>> q, r = fnp.linalg.qr(fnp.array([[3.0, 1.0], [4.0, 2.0]]))
      >>> [round(v, 4) for v in (q @ r)[1].tolist()]
      [4.0, 2.0]
    """
    (a,) = _inexact("qr", a)
    _at_least_2d("qr", a)
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"qr: unsupported mode {mode!r}")
    if mode == "raw":
        raise NotImplementedError("qr: mode='raw' is not supported by funcnet")
    q, r = lg.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True):
    """Eigenvalues and eigenvectors of symmetric matrices, as jax.numpy.linalg.eigh.

    Args:
      a: array of shape (..., n, n).
      UPLO: "L" (default) or "U": the triangle read when not symmetrizing.
      symmetrize_input: use `(a + a.T) / 2`.

    Returns:
      `EighResult(eigenvalues, eigenvectors)`: ascending eigenvalues (..., n) and the
      eigenvectors in the columns of (..., n, n). The eigenvector derivative is
      undefined (inf/nan) at repeated eigenvalues, as in jax.

    Example:
      >>> w, v = fnp.linalg.eigh(fnp.array([[2.0, 1.0], [1.0, 2.0]]))
      >>> [round(e, 4) for e in w.tolist()]
      [1.0, 3.0]
    """
    (a,) = _inexact("eigh", a)
    _square("eigh", a)
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = lg.eigh(a, lower=UPLO != "U", symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):
    """Eigenvalues of symmetric matrices, as jax.numpy.linalg.eigvalsh.

    Args:
      a: array of shape (..., n, n).
      UPLO: "L" or "U".
      symmetrize_input: use `(a + a.T) / 2`.

    Returns:
      Ascending eigenvalues, shape (..., n).
    """
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def svd(
    a,
    full_matrices: bool = True,
    compute_uv: bool = True,
    hermitian: bool = False,
    subset_by_index=None,
):
    """Singular value decomposition, as jax.numpy.linalg.svd.

    Args:
      a: array of shape (..., m, n).
      full_matrices: U (..., m, m) and Vh (..., n, n) rather than (..., m, k), (..., k, n).
      compute_uv: also return U and Vh.
      hermitian: `a` is symmetric (computed with eigh, as in jax).
      subset_by_index: not supported (must be None).

    Returns:
      `SVDResult(U, S, Vh)`, or the singular values S (..., k), descending, alone.

    Example:
      >>> fnp.linalg.svd(fnp.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False).tolist()
      [4.0, 3.0]
    """
    (a,) = _inexact("svd", a)
    _at_least_2d("svd", a)
    if hermitian:
        w, v = eigh(a)
        s = _core.abs(w)
        order = _sorting_desc(s)
        s = _indexing.take_along_axis(s, order, axis=-1)
        if not compute_uv:
            return s
        sign = _core.sign(_indexing.take_along_axis(w, order, axis=-1))
        u = _indexing.take_along_axis(v, order[..., None, :], axis=-1)
        vh = _mT(u * sign[..., None, :])
        return SVDResult(u, s, vh)
    out = lg.svd(
        a, full_matrices=full_matrices, compute_uv=compute_uv, subset_by_index=subset_by_index
    )
    return SVDResult(*out) if compute_uv else out


def _sorting_desc(s):
    return _sorting.argsort(-s, axis=-1)


def svdvals(x, /):
    """Singular values, descending, as jax.numpy.linalg.svdvals.

    Args:
      x: array of shape (..., m, n).

    Returns:
      Array of shape (..., min(m, n)).
    """
    return svd(x, compute_uv=False)


class EigResult(NamedTuple):
    """What `eig` returns.

    Args:
      eigenvalues: complex, shape (..., n).
      eigenvectors: complex, in the columns, shape (..., n, n).
    """

    eigenvalues: object
    eigenvectors: object


def eig(a):
    """Eigenvalues and right eigenvectors of general real square matrices (LAPACK geev),
    as jax.numpy.linalg.eig.

    Args:
      a: array of shape (..., n, n).

    Returns:
      `EigResult(eigenvalues, eigenvectors)`, complex. Only the eigenvalues are
      differentiable (as in jax).

    Example:
      >>> w, v = fnp.linalg.eig(fnp.array([[2.0, 0.0], [0.0, 3.0]]))
      >>> w.real.tolist()
      [2.0, 3.0]
    """
    (a,) = _inexact("eig", a)
    _square("eig", a)
    w, v = lg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    """Eigenvalues of general real square matrices, as jax.numpy.linalg.eigvals.

    Args:
      a: array of shape (..., n, n).

    Returns:
      Complex eigenvalues, shape (..., n) (differentiable).
    """
    (a,) = _inexact("eigvals", a)
    _square("eigvals", a)
    return lg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]


# --- solving -------------------------------------------------------------------------


def solve(a, b):
    """Solve `a @ x = b`, via LU with partial pivoting, as jax.numpy.linalg.solve.

    Args:
      a: array of shape (..., n, n).
      b: array of shape (n,) or (..., n, k); batch axes broadcast with a's.

    Returns:
      `x`, b's shape (broadcast). A singular `a` gives inf/nan, as in jax (no error).

    Raises:
      ValueError: `a` is not square or the shapes do not fit.

    Example:
      >>> fnp.linalg.solve(fnp.array([[2.0, 0.0], [0.0, 4.0]]), fnp.array([2.0, 2.0])).tolist()
      [1.0, 0.5]
    """
    a, b = _inexact("solve", a, b, complex_ok=True)
    _square("solve", a)
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    if b.shape[-2] != a.shape[-1]:
        raise ValueError(
            f"solve: b's rows must match a's size; got a: {a.shape}, b: "
            f"{b.shape[:-1] if vector else b.shape}, dtype {a.dtype}"
        )
    lu, _, perm = lg.lu(a)
    x = _lu_solve(lu, perm, b)
    return x[..., 0] if vector else x


def inv(a):
    """The inverse of square matrices, as jax.numpy.linalg.inv (solve against I).

    Args:
      a: array of shape (..., n, n).

    Returns:
      Array of shape (..., n, n). A singular matrix gives inf/nan, as in jax.

    Raises:
      ValueError: `a` is not a batch of square matrices.

    Example:
      >>> fnp.linalg.inv(fnp.array([[2.0, 0.0], [0.0, 4.0]])).tolist()
      [[0.5, 0.0], [0.0, 0.25]]
    """
    (a,) = _inexact("inv", a, complex_ok=True)
    _square("inv", a)
    eye = _core.broadcast_to(_creation.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return solve(a, eye)


def _diag(x):
    return diagonal(x)


def _slogdet_lu(a):
    lu, pivots, _ = lg.lu(a)
    d = _diag(lu)
    is_zero = _reductions.any(d == 0, axis=-1)
    iota = _creation.arange(a.shape[-1], dtype=pivots.dtype)
    parity = _reductions.sum((pivots != iota).astype(np.int32), axis=-1)
    parity = parity + _reductions.sum((d < 0).astype(np.int32), axis=-1)
    sign = (-2 * (parity % 2) + 1).astype(a.dtype)
    sign = _indexing.where(is_zero, _creation.zeros_like(sign), sign)
    logdet = _reductions.sum(_core.log(_core.abs(d)), axis=-1)
    logdet = _indexing.where(is_zero, _creation.full_like(logdet, -np.inf), logdet)
    return sign, logdet


@custom_jvp
def _slogdet(a):
    n = a.shape[-1]
    if n == 1:
        det = a[..., 0, 0]
        return _core.sign(det), _core.log(_core.abs(det))
    if n == 2:
        det = a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
        return _core.sign(det), _core.log(_core.abs(det))
    return _slogdet_lu(a)


@_slogdet.defjvp
def _slogdet_jvp(primals, tangents):
    (x,), (g,) = primals, tangents
    sign, ans = _slogdet(x)
    return (sign, ans), (_creation.zeros_like(sign), _trace(solve(x, g)))


def _trace(x):
    return _reductions.sum(_diag(x), axis=-1)


def slogdet(a, *, method: str | None = None):
    """Sign and natural log of the absolute determinant, via LU, as
    jax.numpy.linalg.slogdet.

    Args:
      a: array of shape (..., n, n).
      method: "lu" (or None); "qr" is not supported.

    Returns:
      `SlogdetResult(sign, logabsdet)`, each of shape (...). A singular matrix gives
      `(0, -inf)`. The derivative of logabsdet is `trace(solve(a, da))` (as jax).

    Raises:
      ValueError: `a` is not a batch of square matrices.

    Example:
      >>> s, l = fnp.linalg.slogdet(fnp.array([[1.0, 2.0], [3.0, 4.0]]))
      >>> s.tolist(), round(float(fnp.exp(l)), 4)
      (-1.0, 2.0)
    """
    (a,) = _inexact("slogdet", a)
    _square("slogdet", a)
    if method not in (None, "lu"):
        raise ValueError(f"slogdet: unsupported method {method!r} (funcnet has 'lu')")
    if a.shape[-1] == 0:
        return SlogdetResult(
            _creation.ones(a.shape[:-2], a.dtype), _creation.zeros(a.shape[:-2], a.dtype)
        )
    return SlogdetResult(*_slogdet(a))


def _cofactor_solve(a, b):
    """`(det(a), det(a) * solve(a, b))`, finite where a is singular (jax's algorithm)."""
    n = a.shape[-1]
    if n == 1:
        return a[..., 0, 0], b
    lu, pivots, perm = lg.lu(a)
    batch = np.broadcast_shapes(lu.shape[:-2], b.shape[:-2])
    x = _core.broadcast_to(b, batch + b.shape[-2:])
    lu = _core.broadcast_to(lu, batch + lu.shape[-2:])
    d = _diag(lu)
    iota = _creation.arange(n, dtype=pivots.dtype)
    parity = _reductions.sum((pivots != iota).astype(np.int32), axis=-1)
    sign = (-2 * (parity % 2) + 1).astype(a.dtype)
    partial_det = _reductions.cumprod(d, axis=-1) * sign[..., None]
    corner = (_creation.arange(n) == n - 1)[:, None] & (_creation.arange(n) == n - 1)[None, :]
    lu = _indexing.where(corner, (1.0 / partial_det[..., -2])[..., None, None], lu)
    perm = _core.broadcast_to(perm, (*batch, n))
    ones = _creation.ones((*batch, n, 1), x.dtype)
    dd = lg.triangular_solve(lu, ones, left_side=True, lower=False)[..., 0]
    bad = _reductions.any(_core.isnan(dd) | _core.isinf(dd), axis=-1)[..., None, None]
    x = _indexing.where(bad, _creation.zeros_like(x), x)
    x = _permute_rows(perm, x)
    x = lg.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    last_row = (_creation.arange(n) == n - 1)[:, None]
    x = _indexing.where(last_row, x, x * partial_det[..., -1, None, None])
    x = lg.triangular_solve(lu, x, left_side=True, lower=False)
    x = _indexing.where(bad, _creation.zeros_like(x), x)
    return partial_det[..., -1], x


@custom_jvp
def _det(a):
    sign, logdet = _slogdet(a)
    return sign * _core.exp(logdet)


@_det.defjvp
def _det_jvp(primals, tangents):
    (x,), (g,) = primals, tangents
    y, z = _cofactor_solve(x, g)
    return y, _trace(z)


def det(a):
    """The determinant, as jax.numpy.linalg.det (closed forms for 2x2 and 3x3, else LU).

    Args:
      a: array of shape (..., n, n).

    Returns:
      Array of shape (...). A singular matrix gives 0; the derivative (a cofactor solve,
      as in jax) stays finite there.

    Raises:
      ValueError: `a` is not a batch of square matrices.

    Example:
      >>> float(fnp.linalg.det(fnp.array([[1.0, 2.0], [3.0, 4.0]])))
      -2.0
    """
    (a,) = _inexact("det", a)
    _square("det", a)
    n = a.shape[-1]
    if n == 0:
        return _creation.ones(a.shape[:-2], a.dtype)
    if n == 1:
        return a[..., 0, 0]
    if n == 2:
        return a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
    if n == 3:
        return (
            a[..., 0, 0] * a[..., 1, 1] * a[..., 2, 2]
            + a[..., 0, 1] * a[..., 1, 2] * a[..., 2, 0]
            + a[..., 0, 2] * a[..., 1, 0] * a[..., 2, 1]
            - a[..., 0, 2] * a[..., 1, 1] * a[..., 2, 0]
            - a[..., 0, 0] * a[..., 1, 2] * a[..., 2, 1]
            - a[..., 0, 1] * a[..., 1, 0] * a[..., 2, 2]
        )
    return _det(a)


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """Least-squares solution of `a @ x = b` via SVD, as jax.numpy.linalg.lstsq.

    Args:
      a: array of shape (m, n).
      b: array of shape (m,) or (m, k).
      rcond: relative cutoff for small singular values (default eps * max(m, n)).
      numpy_resid: return NumPy's empty residuals when rank < n or m <= n.

    Returns:
      `(x, residuals, rank, s)`.
    """
    a, b = _inexact("lstsq", a, b)
    if a.ndim != 2:
        raise TypeError(f"lstsq: a must be two-dimensional, got shape {a.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"lstsq: leading dimensions must match, got {a.shape} and {b.shape}")
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    m, n = a.shape
    eps = float(np.finfo(a.dtype).eps)
    rcond = eps * max(n, m) if rcond is None else (eps if rcond < 0 else rcond)
    u, s, vt = lg.svd(a, full_matrices=False)
    mask = (s > 0) & (s >= np.asarray(rcond, s.dtype) * s[0])
    rank = _reductions.sum(mask.astype(np.int32))
    safe = _indexing.where(mask, s, _creation.ones_like(s))
    s_inv = _indexing.where(mask, 1 / safe, _creation.zeros_like(s))[:, None]
    x = vt.T @ (s_inv * (u.T @ b))
    if numpy_resid and (int(rank) < n or m <= n):
        resid = _creation.zeros((0,), a.dtype)
    else:
        resid = vector_norm(b - a @ x, axis=0) ** 2
    if vector:
        x = x[:, 0]
        if resid.shape[0] > 0:
            resid = resid
    return x, resid, rank, s


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """The Moore-Penrose pseudo-inverse via SVD, as jax.numpy.linalg.pinv.

    Args:
      a: array of shape (..., m, n).
      rtol: relative cutoff for small singular values (default 10 * max(m, n) * eps).
      hermitian: `a` is symmetric.
      rcond: an older name for rtol.

    Returns:
      Array of shape (..., n, m).
    """
    (a,) = _inexact("pinv", a)
    _at_least_2d("pinv", a)
    if rcond is not None:
        rtol = rcond
    m, n = a.shape[-2:]
    if rtol is None:
        rtol = 10 * max(m, n) * float(np.finfo(a.dtype).eps)
    return _pinv(a, float(rtol) if np.ndim(rtol) == 0 else rtol, hermitian)


def _pinv_impl(a, rtol, hermitian):
    if a.shape[-1] == 0 or a.shape[-2] == 0:
        return _creation.zeros(a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype)
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    cutoff = _core.asarray(rtol, s.dtype)[..., None] * _reductions.max(s, axis=-1, keepdims=True)
    s_inv = _indexing.where(s > cutoff, 1 / _indexing.where(s > cutoff, s, 1), 0).astype(a.dtype)
    return _mT(vh) @ (s_inv[..., :, None] * _mT(u))


_pinv = custom_jvp(_pinv_impl, nondiff_argnums=(1, 2))


@_pinv.defjvp
def _pinv_jvp(rtol, hermitian, primals, tangents):
    # jax's rule (Golub and Pereyra 1973): well defined where the rank does not change.
    (a,), (a_dot,) = primals, tangents
    p = _pinv(a, rtol, hermitian)
    m, n = a.shape[-2:]
    p_dot = -(p @ a_dot @ p)
    p_dot = p_dot + p @ _mT(p) @ _mT(a_dot) @ (_creation.eye(m, dtype=a.dtype) - a @ p)
    p_dot = p_dot + (_creation.eye(n, dtype=a.dtype) - p @ a) @ _mT(a_dot) @ _mT(p) @ p
    return p, p_dot


def matrix_rank(M, rtol=None, *, hermitian: bool = False, tol=None):
    """The rank (number of singular values above a cutoff), as
    jax.numpy.linalg.matrix_rank.

    Args:
      M: array of shape (..., m, n) (or a vector/scalar: 1 if nonzero).
      rtol: cutoff relative to the largest singular value (default max(m, n) * eps).
      hermitian: `M` is symmetric.
      tol: an older name for rtol.

    Returns:
      int32 array of shape (...).
    """
    if tol is not None:
        if rtol is not None:
            raise ValueError("matrix_rank: only one of tol or rtol may be specified.")
        rtol = tol
    (M,) = _inexact("matrix_rank", M)
    if M.ndim < 2:
        return _reductions.any(M != 0).astype(np.int32)
    s = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
    if rtol is None:
        rtol = _reductions.max(s, axis=-1) * max(M.shape[-2:]) * float(np.finfo(s.dtype).eps)
    rtol = _shape.expand_dims(_core.asarray(rtol), np.ndim(rtol))
    return _reductions.sum((s > rtol).astype(np.int32), axis=-1)


def matrix_power(a, n: int):
    """`a` raised to the integer power `n` by repeated squaring (`inv` for n < 0), as
    jax.numpy.linalg.matrix_power.

    Args:
      a: array of shape (..., m, m).
      n: an integer.

    Returns:
      Array of shape (..., m, m).
    """
    a = _core.asarray(a)
    _square("matrix_power", a)
    n = int(n)
    if n == 0:
        return _core.broadcast_to(_creation.eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a, n = inv(a), -n
    result = None
    z = a
    while n > 0:
        if n & 1:
            result = z if result is None else result @ z
        n >>= 1
        if n:
            z = z @ z
    return result


def cond(x, p=None):
    """The condition number in norm `p`, as jax.numpy.linalg.cond.

    Args:
      x: array of shape (..., m, n).
      p: None or 2 (ratio of extreme singular values), -2, or a norm order of `norm`.

    Returns:
      Array of shape (...); inf for a singular matrix.
    """
    (x,) = _inexact("cond", x)
    if x.ndim < 2:
        raise ValueError(f"cond: input array must be at least 2D; got {x.shape=}")
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"cond: input array must not be empty; got {x.shape=}")
    if p is None or p == 2:
        s = svdvals(x)
        return s[..., 0] / s[..., -1]
    if p == -2:
        s = svdvals(x)
        r = s[..., -1] / s[..., 0]
    else:
        _square("cond", x)
        r = norm(x, ord=p, axis=(-2, -1)) * norm(inv(x), ord=p, axis=(-2, -1))
    nan_free = ~_reductions.any(_core.isnan(x), axis=(-2, -1))
    return _indexing.where(_core.isnan(r) & nan_free, _creation.full_like(r, np.inf), r)


# --- norms -----------------------------------------------------------------------------


def _vector_norm(x, ord, axis, keepdims):
    ax = _core.abs(x)
    if ord is None or ord == 2:
        return _core.sqrt(_reductions.sum(x * x, axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return _reductions.max(ax, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _reductions.min(ax, axis=axis, keepdims=keepdims)
    if ord == 0:
        return _reductions.sum((x != 0).astype(x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return _reductions.sum(ax, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid order {ord!r} for vectors")
    p = np.asarray(ord, x.dtype)
    return _reductions.sum(ax**p, axis=axis, keepdims=keepdims) ** (1 / p)


def _matrix_norm(x, ord, axis, keepdims):
    r, c = (a % x.ndim for a in axis)
    if ord in ("fro", "f", None):
        return _core.sqrt(_reductions.sum(x * x, axis=axis, keepdims=keepdims))
    ax = _core.abs(x)
    if ord in (1, -1, np.inf, -np.inf):
        sum_axis, red_axis = (r, c) if ord in (1, -1) else (c, r)
        red = _reductions.max if ord in (1, np.inf) else _reductions.min
        sums = _reductions.sum(ax, axis=sum_axis, keepdims=True)
        out = red(sums, axis=red_axis, keepdims=True)
        return out if keepdims else _shape.squeeze(out, axis=(r, c))
    if ord in (2, -2, "nuc"):
        y = _shape.moveaxis(x, (r, c), (-2, -1))
        s = svd(y, compute_uv=False)
        out = s[..., 0] if ord == 2 else s[..., -1] if ord == -2 else _reductions.sum(s, axis=-1)
        if keepdims:
            out = _shape.expand_dims(out, (r, c) if r < c else (c, r))
        return out
    raise ValueError(f"norm: invalid order {ord!r} for matrices")


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """Vector or matrix norm, as jax.numpy.linalg.norm.

    Args:
      x: an array.
      ord: the order: for vectors None/2, inf, -inf, 0, 1 or any p (sum |x|^p)^(1/p);
        for matrices None/"fro", "nuc", 1, -1, 2, -2, inf, -inf.
      axis: None (the whole array as a vector, or as a matrix with ord given and x 2-D),
        an int (vector norms) or a pair (matrix norms).
      keepdims: keep the reduced axes with size one.

    Returns:
      The norm(s).

    Example:
      >>> float(fnp.linalg.norm(fnp.array([3.0, 4.0])))
      5.0
    """
    (x,) = _inexact("norm", x)
    if axis is None:
        if ord is None:
            out = _core.sqrt(_reductions.sum(x * x))
            return _shape.reshape(out, (1,) * x.ndim) if keepdims else out
        axis = tuple(range(x.ndim))
    if isinstance(axis, int):
        axis = (axis,)
    axis = tuple(axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis, keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"norm: improper number of axes {axis} for shape {x.shape}")


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """Vector norm over `axis` (all axes if None), as jax.numpy.linalg.vector_norm.

    Args:
      x: an array.
      axis: None, an int or a tuple of ints (flattened together).
      keepdims: keep reduced axes with size one.
      ord: as for vectors in `norm`.

    Returns:
      The norm(s).
    """
    (x,) = _inexact("vector_norm", x)
    if axis is None:
        out = _vector_norm(_shape.reshape(x, (-1,)), ord, (0,), False)
        return _shape.reshape(out, (1,) * x.ndim) if keepdims else out
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return _vector_norm(x, ord, axis, keepdims)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """Matrix norm over the last two axes, as jax.numpy.linalg.matrix_norm.

    Args:
      x: array of shape (..., m, n).
      keepdims: keep the reduced axes with size one.
      ord: as for matrices in `norm`.

    Returns:
      Array of shape (...).
    """
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


# --- products and structure -----------------------------------------------------------


def matmul(x1, x2, /, *, precision=None, preferred_element_type=None):
    """Matrix product, as jax.numpy.linalg.matmul (same as funcnet.numpy.matmul).

    Args:
      x1: array of rank >= 1.
      x2: array of rank >= 1.
      precision: passed on.
      preferred_element_type: passed on.

    Returns:
      The product.
    """
    return _products.matmul(
        x1, x2, precision=precision, preferred_element_type=preferred_element_type
    )


def tensordot(x1, x2, /, *, axes=2, precision=None, preferred_element_type=None):
    """Tensor contraction, as jax.numpy.linalg.tensordot.

    Args:
      x1: an array.
      x2: an array.
      axes: an int (last `axes` of x1 with the first of x2) or a pair of axis lists.
      precision: passed on.
      preferred_element_type: passed on.

    Returns:
      The contraction.
    """
    return _products.tensordot(
        x1, x2, axes=axes, precision=precision, preferred_element_type=preferred_element_type
    )


def outer(x1, x2, /):
    """Outer product of two vectors, as jax.numpy.linalg.outer.

    Args:
      x1: a 1-D array.
      x2: a 1-D array.

    Returns:
      Array of shape (len(x1), len(x2)).
    """
    x1, x2 = _core.asarray(x1), _core.asarray(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"outer: inputs must be 1-D, got shapes {x1.shape} and {x2.shape}")
    return _products.outer(x1, x2)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """Vector dot product along `axis`, broadcasting the rest, as
    jax.numpy.linalg.vecdot.

    Args:
      x1: an array.
      x2: an array.
      axis: the axis to contract.
      precision: passed on.
      preferred_element_type: passed on.

    Returns:
      The products, with `axis` removed.
    """
    x1, x2 = _core.asarray(x1), _core.asarray(x2)
    x1 = _shape.moveaxis(x1, axis, -1)
    x2 = _shape.moveaxis(x2, axis, -1)
    return _products.matmul(
        x1[..., None, :],
        x2[..., :, None],
        precision=precision,
        preferred_element_type=preferred_element_type,
    )[..., 0, 0]


def matrix_transpose(x, /):
    """Swap the last two axes, as jax.numpy.linalg.matrix_transpose.

    Args:
      x: array of rank >= 2.

    Returns:
      The transposed array.
    """
    x = _core.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: x must be at least 2D; got shape {x.shape}")
    return _mT(x)


def diagonal(x, /, *, offset: int = 0):
    """The diagonals of the last two axes, as jax.numpy.linalg.diagonal.

    Args:
      x: array of shape (..., m, n).
      offset: above (> 0) or below (< 0) the main diagonal.

    Returns:
      Array of shape (..., k).
    """
    x = _core.asarray(x)
    _at_least_2d("diagonal", x)
    m, n = x.shape[-2:]
    if offset >= 0:
        k = max(0, min(m, n - offset))
        rows, cols = np.arange(k), np.arange(k) + offset
    else:
        k = max(0, min(m + offset, n))
        rows, cols = np.arange(k) - offset, np.arange(k)
    flat = _shape.reshape(x, x.shape[:-2] + (m * n,))
    idx = _core.asarray((rows * n + cols).astype(np.int32))
    idx = _core.broadcast_to(idx, x.shape[:-2] + (k,))
    return _indexing.take_along_axis(flat, idx, axis=-1)


def trace(x, /, *, offset: int = 0, dtype=None):
    """Sum of the diagonals of the last two axes, as jax.numpy.linalg.trace.

    Args:
      x: array of shape (..., m, n).
      offset: which diagonal.
      dtype: the result's dtype.

    Returns:
      Array of shape (...).
    """
    return _reductions.sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def cross(x1, x2, /, *, axis=-1):
    """Cross product of 3-vectors along `axis`, as jax.numpy.linalg.cross.

    Args:
      x1: array with size 3 along `axis`.
      x2: array with size 3 along `axis`.
      axis: the vector axis.

    Returns:
      The cross products.
    """
    x1, x2 = _core.asarray(x1), _core.asarray(x2)
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError(
            f"cross: both inputs must have size 3 along axis {axis}; got {x1.shape}, {x2.shape}"
        )
    a = _shape.moveaxis(x1, axis, -1)
    b = _shape.moveaxis(x2, axis, -1)
    c = _shape.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        axis=-1,
    )
    return _shape.moveaxis(c, -1, axis)


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices (first and last may be vectors), as
    jax.numpy.linalg.multi_dot.

    Args:
      arrays: a sequence of at least two arrays.
      precision: passed on.

    Returns:
      The chained product.
    """
    arrays = [_core.asarray(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError(f"multi_dot: expected at least two arrays, got {len(arrays)}")
    out = arrays[0]
    for a in arrays[1:]:
        out = _products.matmul(out, a, precision=precision)
    return out


def tensorinv(a, ind: int = 2):
    """The inverse of `a` for tensordot over `ind` axes, as jax.numpy.linalg.tensorinv.

    Args:
      a: array whose first `ind` axes and the rest have equal total sizes.
      ind: the number of leading axes.

    Returns:
      Array of shape a.shape[ind:] + a.shape[:ind].
    """
    a = _core.asarray(a)
    head, tail = a.shape[:ind], a.shape[ind:]
    rows, cols = int(np.prod(head)), int(np.prod(tail))
    if ind <= 0 or rows != cols:
        raise ValueError(f"tensorinv: cannot invert a tensor of shape {a.shape} with ind={ind}")
    return _shape.reshape(inv(_shape.reshape(a, (rows, cols))), tail + head)


def tensorsolve(a, b, axes=None):
    """Solve `tensordot(a, x, x.ndim) = b` for x, as jax.numpy.linalg.tensorsolve.

    Args:
      a: array whose leading axes match b's shape.
      b: an array.
      axes: axes of `a` to move to the end first.

    Returns:
      `x`, of shape a.shape[b.ndim:].
    """
    a, b = _core.asarray(a), _core.asarray(b)
    if axes is not None:
        a = _shape.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
    out_shape = a.shape[b.ndim :]
    n = int(np.prod(out_shape))
    if int(np.prod(a.shape[: b.ndim])) != n or a.shape[: b.ndim] != b.shape:
        raise ValueError(f"tensorsolve: shapes {a.shape} and {b.shape} do not fit")
    x = solve(_shape.reshape(a, (n, n)), _shape.reshape(b, (n,)))
    return _shape.reshape(x, out_shape)


__all__ = [
    "EigResult",
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
    "trace",
    "vecdot",
    "vector_norm",
]
