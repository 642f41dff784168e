"""Matrix decompositions as primitives, as jax.lax.linalg defines them.

Every primitive works on the last two axes and maps over any leading (batch) axes. What
each lowers to on CPU (funcnet/backend/lowering_linalg.py):

- cholesky_p: the LAPACK custom call ``lapack_?potrf_ffi`` (lower triangle; a matrix
  that is not positive definite gives nan, as in jax);
- triangular_solve_p: StableHLO ``triangular_solve`` (XLA:CPU compiles it itself);
- lu_p: ``lapack_?getrf_ffi``; the permutation is computed from the pivots by a
  StableHLO ``while`` loop;
- qr_p: ``lapack_?geqrf_ffi`` then ``lapack_?orgqr_ffi`` (the Householder product);
- eigh_p: ``lapack_?syevd_ffi`` (failures give nan);
- svd_p: ``lapack_?gesdd_ffi`` (failures give nan);
- eig_p: ``lapack_?geev_ffi`` (failures give nan).

Dtypes: float32 and float64; lu and triangular_solve also complex64/complex128; eig
takes real input and returns complex results.

Derivatives follow jax's rules. eigh's derivative divides by differences of
eigenvalues: at (near-)degenerate eigenvalues the eigenvector derivative is undefined
and comes out inf/nan (or huge), as in jax; the eigenvalue derivative stays correct.
"""

import numpy as np

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax import contractions as la
from funcnet.lax import control_flow as cf
from funcnet.lax import elementwise as ew
from funcnet.lax import reductions as rd
from funcnet.lax import structural as st

# --- small matrix helpers (shared with the rules and funcnet.numpy.linalg) ------------


def _ndim(x):
    return len(np.shape(x))


def swap_last(x):
    """`x` with its last two axes swapped."""
    n = _ndim(x)
    perm = list(range(n - 2)) + [n - 1, n - 2]
    return st.transpose(x, perm)


def matmul(a, b):
    """`(..., m, k) @ (..., k, n)` with equal batch axes."""
    nb = _ndim(a) - 2
    batch = tuple(range(nb))
    return la.dot_general(a, b, (((nb + 1,), (nb,)), (batch, batch)))


def tri_mask(shape, k, lower, like_dtype=None):
    """A boolean mask of the lower (`j <= i + k`) or upper (`j >= i + k`) triangle."""
    n = len(shape)
    rows = st.broadcasted_iota(dtypes.int32, shape, n - 2)
    cols = st.broadcasted_iota(dtypes.int32, shape, n - 1)
    rows_k = ew.add(rows, st.broadcast_in_dim(np.int32(k), shape, ()))
    return ew.ge(rows_k, cols) if lower else ew.le(rows_k, cols)


def tril(x, k=0):
    shape = np.shape(x)
    zero = st.broadcast_in_dim(np.zeros((), x.dtype), shape, ())
    return ew.select(tri_mask(shape, k, True), x, zero)


def triu(x, k=0):
    shape = np.shape(x)
    zero = st.broadcast_in_dim(np.zeros((), x.dtype), shape, ())
    return ew.select(tri_mask(shape, k, False), x, zero)


def eye_like(shape, dtype):
    """An identity matrix broadcast to `shape` (..., m, n)."""
    n = len(shape)
    rows = st.broadcasted_iota(dtypes.int32, shape, n - 2)
    cols = st.broadcasted_iota(dtypes.int32, shape, n - 1)
    return ew.convert_element_type(ew.eq(rows, cols), dtype)


def _const(value, aval_like):
    return st.broadcast_in_dim(np.asarray(value, aval_like.dtype)[()], np.shape(aval_like), ())


def _symmetrize(x):
    return ew.div(ew.add(x, swap_last(x)), _const(2, x))


# --- abstract evaluation ----------------------------------------------------------------


def _check_matrix(name, aval, square, complex_ok=False):
    if len(aval.shape) < 2:
        raise TypeError(
            f"{name}: expected an array of rank >= 2 (a matrix or a batch of matrices), "
            f"got shape {aval.shape} and dtype {aval.dtype}"
        )
    if square and aval.shape[-1] != aval.shape[-2]:
        raise TypeError(
            f"{name}: expected square matrices in the last two axes, got shape "
            f"{aval.shape} and dtype {aval.dtype}"
        )
    if not dtypes.is_inexact(aval.dtype):
        raise TypeError(
            f"{name}: expected a floating-point or complex array, got shape {aval.shape} "
            f"and dtype {aval.dtype}"
        )
    supported = (dtypes.float32, dtypes.float64)
    if complex_ok:
        supported += (np.dtype(np.complex64), np.dtype(np.complex128))
    if aval.dtype not in supported:
        kinds = (
            "float32, float64, complex64 and complex128" if complex_ok else "float32 and float64"
        )
        raise TypeError(
            f"{name}: only {kinds} are supported, got shape {aval.shape} and dtype {aval.dtype}"
        )


def _real_dtype(dtype):
    return dtype


cholesky_p = Primitive("cholesky")


@cholesky_p.def_abstract_eval
def _cholesky_abstract_eval(x):
    _check_matrix("cholesky", x, square=True)
    return ShapedArray(x.shape, x.dtype)


def cholesky(x, *, symmetrize_input: bool = True):
    """The Cholesky factor `L` (lower triangular, `L @ L.T == x`) of symmetric positive
    definite matrices, as jax.lax.linalg.cholesky.

    Args:
      x: an array of shape (..., n, n), float32 or float64.
      symmetrize_input: use `(x + x.T) / 2` (so only the symmetric part counts, and the
        derivative is symmetric).

    Returns:
      The lower-triangular factors, shape (..., n, n). A matrix that is not positive
      definite gives nan (as in jax), not an error.

    Raises:
      TypeError: `x` is not a batch of square floating-point matrices.

    Example:
      >>> lax.linalg.cholesky(fnp.array([[4.0, 2.0], [2.0, 5.0]])).tolist()
      [[2.0, 0.0], [1.0, 2.0]]
    """
    if symmetrize_input:
        _check_matrix("cholesky", _aval(x), square=True)
        x = _symmetrize(x)
    return cholesky_p.bind(x)


def _aval(x):
    return get_aval(x)


triangular_solve_p = Primitive("triangular_solve")


@triangular_solve_p.def_abstract_eval
def _triangular_solve_abstract_eval(
    a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal
):
    _check_matrix("triangular_solve", a, square=True, complex_ok=True)
    _check_matrix("triangular_solve", b, square=False, complex_ok=True)
    need = b.shape[-2] if left_side else b.shape[-1]
    if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != need or a.dtype != b.dtype:
        raise TypeError(
            "triangular_solve: `a` must be (..., k, k) with k = b's "
            f"{'rows' if left_side else 'columns'} and the same batch axes and dtype as b; "
            f"got a: {a.shape} {a.dtype}, b: {b.shape} {b.dtype}"
        )
    return ShapedArray(b.shape, b.dtype)


def triangular_solve(
    a,
    b,
    *,
    left_side: bool = False,
    lower: bool = False,
    transpose_a: bool = False,
    conjugate_a: bool = False,
    unit_diagonal: bool = False,
):
    """Solve `op(a) @ x = b` (left_side) or `x @ op(a) = b` for triangular `a`, as
    jax.lax.linalg.triangular_solve.

    Args:
      a: triangular matrices, shape (..., k, k), real or complex; only the triangle
        named by `lower` is read.
      b: right-hand sides, shape (..., k, n) if left_side else (..., m, k).
      left_side: solve `op(a) @ x = b` rather than `x @ op(a) = b`.
      lower: `a` is lower (else upper) triangular.
      transpose_a: `op(a)` is `a.T`.
      conjugate_a: conjugate `a` (no effect on real matrices).
      unit_diagonal: assume ones on the diagonal of `a` (its diagonal is not read).

    Returns:
      `x`, with b's shape. A zero on the diagonal gives inf/nan, as in jax.

    Example:
      >>> a = fnp.array([[2.0, 0.0], [1.0, 1.0]])
      >>> lax.linalg.triangular_solve(a, fnp.array([[2.0], [3.0]]), left_side=True,
      ...                             lower=True).tolist()
      [[1.0], [2.0]]
    """
    if conjugate_a and not transpose_a:
        # conj(a) itself: StableHLO's triangular_solve conjugates only with a transpose
        if dtypes.is_complex(get_aval(a).dtype):
            a = ew.conj(a)
        conjugate_a = False
    return triangular_solve_p.bind(
        a,
        b,
        left_side=bool(left_side),
        lower=bool(lower),
        transpose_a=bool(transpose_a),
        conjugate_a=bool(conjugate_a),
        unit_diagonal=bool(unit_diagonal),
    )


lu_p = Primitive("lu", multiple_results=True)


@lu_p.def_abstract_eval
def _lu_abstract_eval(x):
    _check_matrix("lu", x, square=False, complex_ok=True)
    *batch, m, n = x.shape
    return [
        ShapedArray(x.shape, x.dtype),
        ShapedArray((*batch, min(m, n)), dtypes.int32),
        ShapedArray((*batch, m), dtypes.int32),
    ]


def lu(x):
    """LU decomposition with partial pivoting, as jax.lax.linalg.lu: `x[..., perm, :]
    == L @ U` with L unit lower triangular (stored below the diagonal of `lu`) and U
    upper triangular.

    Args:
      x: an array of shape (..., m, n): float32, float64, complex64 or complex128.

    Returns:
      `(lu, pivots, permutation)`: the packed factors (..., m, n); LAPACK's row swaps
      (..., min(m, n)) int32, 0-based; and the row permutation (..., m) int32. A
      singular matrix is factored anyway (a zero on U's diagonal), as in jax.

    Example:
      >>> lu, piv, perm = lax.linalg.lu(fnp.array([[1.0, 2.0], [3.0, 4.0]]))
      >>> perm.tolist()
      [1, 0]
    """
    return tuple(lu_p.bind(x))


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The row permutation that LAPACK's row swaps `pivots` (0-based) apply, as
    jax.lax.linalg.lu_pivots_to_permutation.

    Args:
      pivots: int32 array (..., k): row i was swapped with row pivots[i], in order.
      permutation_size: the number of rows m >= k.

    Returns:
      An int32 array (..., m).
    """
    pivots = ew.convert_element_type(pivots, dtypes.int32)
    *batch, k = np.shape(pivots)
    shape = (*batch, permutation_size)
    perm = st.broadcasted_iota(dtypes.int32, shape, len(batch))
    if k == 0 or permutation_size == 0:
        return perm
    rows = st.broadcasted_iota(dtypes.int32, shape, len(batch))

    def body(i, perm):
        i = ew.convert_element_type(i, dtypes.int32)  # the loop index is int64 under x64
        # swap perm[..., i] and perm[..., pivots[..., i]] with one-hot masks
        p_i = st.dynamic_slice(pivots, [0] * len(batch) + [i], (*batch, 1))
        p_i = st.broadcast_in_dim(st.reshape(p_i, tuple(batch)), shape, tuple(range(len(batch))))
        i_b = st.broadcast_in_dim(i, shape, ())
        at_i = ew.eq(rows, i_b)
        at_p = ew.eq(rows, p_i)
        v_i = rd.reduce_sum(ew.select(at_i, perm, ew.sub(perm, perm)), [len(batch)])
        v_p = rd.reduce_sum(ew.select(at_p, perm, ew.sub(perm, perm)), [len(batch)])
        bd = tuple(range(len(batch)))
        perm = ew.select(at_p, st.broadcast_in_dim(v_i, shape, bd), perm)
        return ew.select(at_i, st.broadcast_in_dim(v_p, shape, bd), perm)

    return cf.fori_loop(0, k, body, perm)


qr_p = Primitive("qr", multiple_results=True)


@qr_p.def_abstract_eval
def _qr_abstract_eval(x, *, full_matrices):
    _check_matrix("qr", x, square=False)
    *batch, m, n = x.shape
    k = m if full_matrices else min(m, n)
    return [ShapedArray((*batch, m, k), x.dtype), ShapedArray((*batch, k, n), x.dtype)]


def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
    """QR decomposition `x = q @ r`, as jax.lax.linalg.qr.

    Args:
      x: an array of shape (..., m, n), float32 or float64.
      pivoting: column pivoting (not supported: must be False).
      full_matrices: q is (..., m, m) and r (..., m, n); otherwise q is (..., m, k) and
        r (..., k, n) with k = min(m, n).
      use_magma: ignored (GPU only in jax).

    Returns:
      `(q, r)`, q with orthonormal columns and r upper triangular.

    Raises:
      NotImplementedError: `pivoting=True`.

    Example:
      >>> q, r = lax.linalg.qr(fnp.array([[3.0, 1.0], [4.0, 2.0]]))
      >>> [round(v, 4) for v in r[0].tolist()]
      [-5.0, -2.2]
    """
    if pivoting:
        raise NotImplementedError("qr: pivoting=True is not supported by funcnet")
    return tuple(qr_p.bind(x, full_matrices=bool(full_matrices)))


eigh_p = Primitive("eigh", multiple_results=True)


@eigh_p.def_abstract_eval
def _eigh_abstract_eval(x, *, lower, sort_eigenvalues):
    _check_matrix("eigh", x, square=True)
    return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape[:-1], _real_dtype(x.dtype))]


def eigh(
    x,
    *,
    lower: bool = True,
    symmetrize_input: bool = True,
    sort_eigenvalues: bool = True,
    subset_by_index=None,
):
    """Eigendecomposition of symmetric matrices, as jax.lax.linalg.eigh.

    Args:
      x: an array of shape (..., n, n), float32 or float64.
      lower: read the lower (else upper) triangle (when not symmetrizing).
      symmetrize_input: use `(x + x.T) / 2`.
      sort_eigenvalues: eigenvalues in ascending order (LAPACK's order in any case).
      subset_by_index: not supported (must be None or the full range).

    Returns:
      `(v, w)`: eigenvectors in the columns of v (..., n, n) and eigenvalues w (..., n),
      ascending. The derivative of v is undefined at repeated eigenvalues (it divides by
      their differences: inf/nan), as in jax.

    Example:
      >>> v, w = lax.linalg.eigh(fnp.array([[2.0, 1.0], [1.0, 2.0]]))
      >>> [round(e, 4) for e in w.tolist()]
      [1.0, 3.0]
    """
    if subset_by_index is not None and tuple(subset_by_index) != (0, np.shape(x)[-1]):
        raise NotImplementedError("eigh: subset_by_index is not supported by funcnet")
    if symmetrize_input:
        _check_matrix("eigh", _aval(x), square=True)
        x = _symmetrize(x)
    return tuple(eigh_p.bind(x, lower=bool(lower), sort_eigenvalues=bool(sort_eigenvalues)))


svd_p = Primitive("svd", multiple_results=True)


@svd_p.def_abstract_eval
def _svd_abstract_eval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x, square=False)
    *batch, m, n = x.shape
    k = min(m, n)
    s = ShapedArray((*batch, k), _real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    um, vn = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray((*batch, m, um), x.dtype), ShapedArray((*batch, vn, n), x.dtype)]


def svd(
    x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None, algorithm=None
):
    """Singular value decomposition `x = u @ diag(s) @ vh`, as jax.lax.linalg.svd.

    Args:
      x: an array of shape (..., m, n), float32 or float64.
      full_matrices: u is (..., m, m) and vh (..., n, n); otherwise (..., m, k) and
        (..., k, n), k = min(m, n).
      compute_uv: also compute u and vh.
      subset_by_index: not supported (must be None).
      algorithm: ignored (LAPACK's gesdd is used).

    Returns:
      `(u, s, vh)` if compute_uv else `s`; s (..., k) descending.

    Example:
      >>> lax.linalg.svd(fnp.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False).tolist()
      [4.0, 3.0]
    """
    if subset_by_index is not None:
        raise NotImplementedError("svd: subset_by_index is not supported by funcnet")
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return outs[0]
    s, u, vh = outs
    return u, s, vh


eig_p = Primitive("eig", multiple_results=True)


@eig_p.def_abstract_eval
def _eig_abstract_eval(x, *, compute_left_eigenvectors, compute_right_eigenvectors):
    _check_matrix("eig", x, square=True)
    c = dtypes.complex_dtype(x.dtype)
    count = int(compute_left_eigenvectors) + int(compute_right_eigenvectors)
    return [ShapedArray(x.shape[:-1], c)] + [ShapedArray(x.shape, c)] * count


def eig(
    x,
    *,
    compute_left_eigenvectors: bool = True,
    compute_right_eigenvectors: bool = True,
    enable_eigvec_derivs: bool = False,
    implementation=None,
    use_magma=None,
):
    """Eigendecomposition of a general (real) square matrix, as jax.lax.linalg.eig
    (LAPACK geev; CPU only in jax too).

    Args:
      x: an array of shape (..., n, n), float32 or float64.
      compute_left_eigenvectors: also return the left eigenvectors.
      compute_right_eigenvectors: also return the right eigenvectors.
      enable_eigvec_derivs: not supported (eigenvector derivatives are not defined).
      implementation: ignored (LAPACK).
      use_magma: ignored.

    Returns:
      `[w, vl, vr]` (vl/vr only when asked): complex eigenvalues (..., n) and
      eigenvectors (..., n, n) in the columns. Only the eigenvalues are differentiable.

    Example:
      >>> w = lax.linalg.eig(fnp.array([[0.0, 1.0], [-1.0, 0.0]]),
      ...                    compute_left_eigenvectors=False,
      ...                    compute_right_eigenvectors=False)[0]
      >>> sorted(w.imag.tolist())
      [-1.0, 1.0]
    """
    return eig_p.bind(
        x,
        compute_left_eigenvectors=bool(compute_left_eigenvectors),
        compute_right_eigenvectors=bool(compute_right_eigenvectors),
    )


__all__ = [
    "cholesky",
    "cholesky_p",
    "eig",
    "eig_p",
    "eigh",
    "eigh_p",
    "lu",
    "lu_p",
    "lu_pivots_to_permutation",
    "qr",
    "qr_p",
    "svd",
    "svd_p",
    "triangular_solve",
    "triangular_solve_p",
]
