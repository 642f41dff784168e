"""funcnet.scipy.linalg: jax.scipy.linalg's decompositions and solvers (real float32 and
float64 matrices), built on funcnet.lax.linalg and funcnet.numpy.linalg.

A singular matrix gives what jax gives (inf/nan from the solvers, 0 from `det`), not an
error; a matrix that is not positive definite gives nan from `cholesky`/`cho_factor`.
"""

import numpy as np

from funcnet import lax
from funcnet.lax import linalg as lg
from funcnet.numpy import _core, _creation, _indexing, _shape
from funcnet.numpy import linalg as _np_linalg
from funcnet.transforms.vmap import vmap


def _inexact(name, *xs):
    return _np_linalg._inexact(name, *xs)


def _square(name, a):
    _np_linalg._square(name, a)


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """Cholesky factor of symmetric positive definite matrices, as
    jax.scipy.linalg.cholesky (upper by default, as SciPy).

    Args:
      a: array of shape (..., n, n).
      lower: return the lower factor `L` (`a = L @ L.T`); else the upper `U = L.T`.
      overwrite_a: ignored (arrays are immutable).
      check_finite: ignored.

    Returns:
      The triangular factor (..., n, n); nan where `a` is not positive definite.

    Raises:
      ValueError: `a` is not a batch of square matrices.

    Example:
      >>> from funcnet.scipy import linalg as sla
      >>> sla.cholesky(fnp.array([[4.0, 2.0], [2.0, 5.0]])).tolist()
      [[2.0, 1.0], [0.0, 2.0]]
    """
    (a,) = _inexact("cholesky", a)
    _square("cholesky", a)
    # As jax: no symmetrization; the lower (or, for an upper factor, the upper) triangle
    # of `a` is read, and so is differentiated.
    L = lg.cholesky(a if lower else _shape.swapaxes(a, -1, -2), symmetrize_input=False)
    return L if lower else _shape.swapaxes(L, -1, -2)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """The Cholesky factor in the form `cho_solve` takes, as jax.scipy.linalg.cho_factor.

    Args:
      a: array of shape (..., n, n).
      lower: compute the lower factor.
      overwrite_a: ignored.
      check_finite: ignored.

    Returns:
      `(c, lower)`: the factor (the other triangle is zero here; SciPy leaves garbage
      there) and the flag.
    """
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """Solve `a @ x = b` given `cho_factor(a)`, as jax.scipy.linalg.cho_solve.

    Args:
      c_and_lower: `(c, lower)` from `cho_factor`.
      b: array of shape (n,) or (..., n, k).
      overwrite_b: ignored.
      check_finite: ignored.

    Returns:
      `x`, b's shape.
    """
    c, lower = c_and_lower
    c, b = _inexact("cho_solve", c, b)
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    if c.ndim < 2 or b.shape[-2] != c.shape[-1]:
        raise ValueError(f"cho_solve: shapes do not fit: c {c.shape}, b {b.shape}")
    c, b = _np_linalg._broadcast_batch(c, b)
    # a = L L^T: solve L y = b, then L^T x = y (with U = L^T for an upper factor)
    y = lg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower)
    x = lg.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower)
    return x[..., 0] if vector else x


def solve_triangular(
    a,
    b,
    trans=0,
    lower: bool = False,
    unit_diagonal: bool = False,
    overwrite_b: bool = False,
    debug=None,
    check_finite: bool = True,
):
    """Solve `op(a) @ x = b` for triangular `a`, as jax.scipy.linalg.solve_triangular.

    Args:
      a: triangular matrices (..., n, n).
      b: array of shape (..., n) (one vector per batch entry when a.ndim == b.ndim + 1)
        or (..., n, k).
      trans: 0/"N": `a`; 1/"T": `a.T`; 2/"C": the conjugate transpose.
      lower: `a` is lower (else upper) triangular.
      unit_diagonal: assume ones on the diagonal.
      overwrite_b: ignored.
      debug: ignored.
      check_finite: ignored.

    Returns:
      `x`, b's shape. A zero on the diagonal gives inf/nan, as in jax.

    Example:
      >>> from funcnet.scipy import linalg as sla
      >>> a = fnp.array([[2.0, 0.0], [1.0, 1.0]])
      >>> sla.solve_triangular(a, fnp.array([2.0, 3.0]), lower=True).tolist()
      [1.0, 2.0]
    """
    a, b = _inexact("solve_triangular", a, b)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"solve_triangular: a must be (..., n, n), got {a.shape} {a.dtype}")
    transpose = {0: False, "N": False, 1: True, "T": True, 2: True, "C": True}.get(trans)
    if transpose is None:
        raise ValueError(f"solve_triangular: invalid trans {trans!r}")
    vector = b.ndim == a.ndim - 1
    if vector:
        b = b[..., None]
    a, b = _np_linalg._broadcast_batch(a, b)
    x = lg.triangular_solve(
        a,
        b,
        left_side=True,
        lower=lower,
        transpose_a=transpose,
        conjugate_a=trans in (2, "C"),
        unit_diagonal=unit_diagonal,
    )
    return x[..., 0] if vector else x


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
    """LU factorization with partial pivoting, as jax.scipy.linalg.lu_factor.

    Args:
      a: array of shape (..., m, n).
      overwrite_a: ignored.
      check_finite: ignored.

    Returns:
      `(lu, piv)`: packed factors and LAPACK's 0-based row swaps (int32).
    """
    (a,) = _inexact("lu_factor", a)
    lu, piv, _ = lg.lu(a)
    return lu, piv


def lu_solve(lu_and_piv, b, trans: int = 0, overwrite_b: bool = False, check_finite: bool = True):
    """Solve `a @ x = b` (trans=0) or `a.T @ x = b` (1, 2) from `lu_factor(a)`, as
    jax.scipy.linalg.lu_solve.

    Args:
      lu_and_piv: `(lu, piv)` from `lu_factor`.
      b: array of shape (n,) or (..., n, k).
      trans: 0, 1 or 2.
      overwrite_b: ignored.
      check_finite: ignored.

    Returns:
      `x`, b's shape.
    """
    lu, piv = lu_and_piv
    lu, b = _inexact("lu_solve", lu, b)
    m = lu.shape[-1]
    perm = lg.lu_pivots_to_permutation(piv, m)
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    x = _np_linalg._lu_solve(lu, perm, b, trans=0 if trans == 0 else 1)
    return x[..., 0] if vector else x


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """LU decomposition `a = p @ l @ u`, as jax.scipy.linalg.lu.

    Args:
      a: array of shape (..., m, n).
      permute_l: return `(p @ l, u)`.
      overwrite_a: ignored.
      check_finite: ignored.

    Returns:
      `(p, l, u)`, or `(p @ l, u)` with permute_l; p (..., m, m), l (..., m, k), u
      (..., k, n), k = min(m, n).
    """
    (a,) = _inexact("lu", a)
    packed, _, perm = lg.lu(a)
    *_, m, n = a.shape
    k = min(m, n)
    l_mat = lg.tril(packed[..., :, :k], -1) + _creation.eye(m, k, dtype=a.dtype)
    u = lg.triu(packed[..., :k, :])
    onehot = (perm[..., :, None] == _creation.arange(m, dtype=perm.dtype)).astype(a.dtype)
    p = _shape.swapaxes(onehot, -1, -2)
    if permute_l:
        return p @ l_mat, u
    return p, l_mat, u


def qr(
    a,
    overwrite_a: bool = False,
    lwork=None,
    mode: str = "full",
    pivoting: bool = False,
    check_finite: bool = True,
):
    """QR decomposition, as jax.scipy.linalg.qr.

    Args:
      a: array of shape (..., m, n).
      overwrite_a: ignored.
      lwork: ignored.
      mode: "full" (q: (..., m, m)), "economic" (q: (..., m, k)) or "r" (r only).
      pivoting: not supported (must be False).
      check_finite: ignored.

    Returns:
      `(q, r)`, or `(r,)` for mode "r".
    """
    (a,) = _inexact("qr", a)
    if mode not in ("full", "economic", "r"):
        raise ValueError(f"qr: unsupported mode {mode!r}")
    q, r = lg.qr(a, pivoting=pivoting, full_matrices=mode in ("full", "r"))
    return (r,) if mode == "r" else (q, r)


def svd(
    a,
    full_matrices: bool = True,
    compute_uv: bool = True,
    overwrite_a: bool = False,
    check_finite: bool = True,
    lapack_driver: str = "gesdd",
):
    """Singular value decomposition, as jax.scipy.linalg.svd.

    Args:
      a: array of shape (..., m, n).
      full_matrices: full u (..., m, m) and vh (..., n, n).
      compute_uv: also return u and vh.
      overwrite_a: ignored.
      check_finite: ignored.
      lapack_driver: ignored ("gesdd" is used).

    Returns:
      `(u, s, vh)`, or `s` alone.
    """
    out = _np_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def eigh(
    a,
    b=None,
    lower: bool = True,
    eigvals_only: bool = False,
    overwrite_a: bool = False,
    overwrite_b: bool = False,
    turbo: bool = True,
    eigvals=None,
    type: int = 1,
    check_finite: bool = True,
):
    """Eigendecomposition of symmetric matrices, as jax.scipy.linalg.eigh.

    Args:
      a: array of shape (..., n, n).
      b: not supported (must be None: no generalized problem).
      lower: read the lower triangle.
      eigvals_only: return only the eigenvalues.
      overwrite_a: ignored.
      overwrite_b: ignored.
      turbo: ignored.
      eigvals: not supported (must be None).
      type: ignored (only meaningful with b).
      check_finite: ignored.

    Returns:
      `(w, v)` (ascending eigenvalues, eigenvectors in columns) or `w`.
    """
    if b is not None or eigvals is not None:
        raise NotImplementedError("eigh: b and eigvals are not supported by funcnet")
    w, v = _np_linalg.eigh(a, UPLO="L" if lower else "U")
    return w if eigvals_only else (w, v)


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    """Matrix inverse, as jax.scipy.linalg.inv.

    Args:
      a: array of shape (..., n, n).
      overwrite_a: ignored.
      check_finite: ignored.

    Returns:
      The inverse; inf/nan for a singular matrix, as in jax.
    """
    return _np_linalg.inv(a)


def det(a, overwrite_a: bool = False, check_finite: bool = True):
    """Determinant, as jax.scipy.linalg.det.

    Args:
      a: array of shape (..., n, n).
      overwrite_a: ignored.
      check_finite: ignored.

    Returns:
      Array of shape (...); 0 for a singular matrix.
    """
    return _np_linalg.det(a)


def solve(
    a,
    b,
    lower: bool = False,
    overwrite_a: bool = False,
    overwrite_b: bool = False,
    debug: bool = False,
    check_finite: bool = True,
    assume_a: str = "gen",
):
    """Solve `a @ x = b`, as jax.scipy.linalg.solve.

    Args:
      a: array of shape (..., n, n).
      b: array of shape (n,) or (..., n, k).
      lower: with assume_a "pos"/"sym": read the lower triangle.
      overwrite_a: ignored.
      overwrite_b: ignored.
      debug: ignored.
      check_finite: ignored.
      assume_a: "gen" (LU) or "pos"/"sym"/"her" (Cholesky for "pos", LU otherwise).

    Returns:
      `x`; inf/nan for a singular matrix, as in jax.
    """
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"solve: invalid assume_a {assume_a!r}")
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    return _np_linalg.solve(a, b)


def block_diag(*arrs):
    """A block-diagonal matrix from the given blocks, as jax.scipy.linalg.block_diag.

    Args:
      *arrs: arrays of rank <= 2 (scalars and vectors count as 1 x n blocks).

    Returns:
      Array of shape (sum of rows, sum of columns).

    Example:
      >>> from funcnet.scipy import linalg as sla
      >>> sla.block_diag(fnp.ones((1, 1)), 2 * fnp.ones((1, 2))).tolist()
      [[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]]
    """
    if not arrs:
        return _creation.zeros((1, 0))
    blocks = [_core.asarray(a) for a in arrs]
    blocks = [_shape.reshape(b, (1, -1)) if b.ndim < 2 else b for b in blocks]
    if any(b.ndim != 2 for b in blocks):
        raise ValueError("block_diag: arguments must have rank <= 2")
    dtype = _core.result_type(*blocks)
    ncols = sum(b.shape[1] for b in blocks)
    rows = []
    start = 0
    for b in blocks:
        c = b.shape[1]
        pads = [(0, 0, 0), (start, ncols - start - c, 0)]
        rows.append(lax.pad(b.astype(dtype), np.zeros((), dtype), pads))
        start += c
    return _shape.concatenate(rows, axis=0)


# --- expm (jax's scaling-and-squaring Pade algorithm) -----------------------------------

_PADE = {
    3: (120.0, 60.0, 12.0, 1.0),
    5: (30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0),
    7: (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0),
    9: (
        17643225600.0,
        8821612800.0,
        2075673600.0,
        302702400.0,
        30270240.0,
        2162160.0,
        110880.0,
        3960.0,
        90.0,
        1.0,
    ),
}
_PADE13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)


def _pade(order):
    def uv(a):
        b = _PADE[order]
        ident = _creation.eye(a.shape[-1], dtype=a.dtype)
        powers = [ident, a @ a]  # I, A^2, A^4, ...
        for _ in range(order // 2 - 1):
            powers.append(powers[-1] @ powers[1])
        u_inner = sum(b[2 * i + 1] * p for i, p in enumerate(powers))
        v = sum(b[2 * i] * p for i, p in enumerate(powers))
        return a @ u_inner, v

    return uv


def _pade13(a):
    b = _PADE13
    ident = _creation.eye(a.shape[-1], dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (
        a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
        + b[7] * a6
        + b[5] * a4
        + b[3] * a2
        + b[1] * ident
    )
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2
    return u, v + b[0] * ident


def _expm_2d(a, upper_triangular, max_squarings):
    a_l1 = _np_linalg.norm(a, 1)
    if a.dtype == np.float64:
        maxnorm = 5.371920351148152
        conds = (
            1.495585217958292e-002,
            2.539398330063230e-001,
            9.504178996162932e-001,
            2.097847961257068e000,
        )
        branches = [_pade(3), _pade(5), _pade(7), _pade(9), _pade13]
    else:
        maxnorm = 3.925724783138660
        conds = (4.258730016922831e-001, 1.880152677804762e000)
        branches = [_pade(3), _pade(5), _pade(7)]
    n_sq = _core.maximum(0, _core.floor(_core.log2(a_l1 / maxnorm)))
    a = a / (2**n_sq).astype(a.dtype)
    idx = sum((a_l1 >= c).astype(np.int32) for c in conds)
    u, v = lax.switch(idx, branches, a)
    p, q = u + v, -u + v
    if upper_triangular:
        r = lg.triangular_solve(q, p, left_side=True, lower=False)
    else:
        r = _np_linalg.solve(q, p)

    def square(i, r):
        return _indexing.where(i < n_sq, r @ r, r)

    r = lax.fori_loop(0, max_squarings, square, r)
    too_many = n_sq > max_squarings
    return _indexing.where(too_many, _creation.full_like(r, np.nan), r)


def expm(A, *, upper_triangular: bool = False, max_squarings: int = 16):
    """The matrix exponential (scaling and squaring with Pade approximants), as
    jax.scipy.linalg.expm.

    Args:
      A: array of shape (..., n, n).
      upper_triangular: A is upper triangular (solves with a triangular solve).
      max_squarings: more squarings than this needed gives nan.

    Returns:
      Array of shape (..., n, n).

    Example:
      >>> from funcnet.scipy import linalg as sla
      >>> [round(v, 4) for v in sla.expm(fnp.array([[0.0, 1.0], [0.0, 0.0]]))[0].tolist()]
      [1.0, 1.0]
    """
    (A,) = _inexact("expm", A)
    _square("expm", A)
    fun = lambda m: _expm_2d(m, upper_triangular, max_squarings)  # noqa: E731
    for _ in range(A.ndim - 2):
        fun = vmap(fun)
    return fun(A)


__all__ = [
    "block_diag",
    "cho_factor",
    "cho_solve",
    "cholesky",
    "det",
    "eigh",
    "expm",
    "inv",
    "lu",
    "lu_factor",
    "lu_solve",
    "qr",
    "solve",
    "solve_triangular",
    "svd",
]
