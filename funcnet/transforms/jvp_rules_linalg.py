"""JVP rules (rows of `jvp_rules`) for the decompositions of funcnet.lax.linalg, as jax
defines them (jax/_src/lax/linalg.py). Every tangent expression is linear in the
tangents, so reverse mode transposes it (triangular_solve is linear in `b`).

eigh: the eigenvector tangent divides by eigenvalue differences, so it is undefined
(inf/nan) at repeated eigenvalues, as in jax. qr: only m >= n with reduced matrices (or
square) is differentiable, as in jax. svd: not with full_matrices=True and
compute_uv=True, as in jax.
"""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.trace import get_aval
from funcnet.lax import linalg as lg
from funcnet.transforms.ad_util import Zero, instantiate
from funcnet.transforms.jvp import jvp_rules

_mm = lg.matmul
_T = lg.swap_last


def _c(value, like):
    aval = get_aval(like)
    return lax.broadcast_in_dim(np.asarray(value, aval.dtype)[()], aval.shape, ())


def _eye(n, like, batch_rank):
    aval = get_aval(like)
    e = lg.eye_like((n, n), aval.dtype)
    return lax.broadcast_in_dim(e, aval.shape[:batch_rank] + (n, n), (batch_rank, batch_rank + 1))


@jvp_rules.register(lg.cholesky_p)
def _cholesky_jvp(primals, tangents):
    (x,) = primals
    L = lg.cholesky_p.bind(x)
    (t,) = tangents
    if isinstance(t, Zero):
        return L, Zero(get_aval(L))
    n = get_aval(x).shape[-1]
    nb = len(get_aval(x).shape) - 2
    sigma_dot = t  # symmetrized by lax.linalg.cholesky's symmetrize_input, as in jax
    # Murray, arXiv:1602.07527: L_dot = L phi(L^{-1} sigma_dot L^{-T})
    tmp = lg.triangular_solve(L, sigma_dot, left_side=False, transpose_a=True, lower=True)
    inner = lg.triangular_solve(L, tmp, left_side=True, transpose_a=False, lower=True)
    phi = lax.div(lg.tril(inner), lax.add(_c(1, inner), _eye(n, inner, nb)))
    return L, _mm(L, phi)


@jvp_rules.register(lg.triangular_solve_p)
def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    g_a, g_b = tangents
    ans = lg.triangular_solve_p.bind(a, b, **params)
    left_side, lower = params["left_side"], params["lower"]
    m, n = get_aval(b).shape[-2:]
    out = None
    if not isinstance(g_b, Zero):
        out = lg.triangular_solve_p.bind(a, g_b, **params)
    if not isinstance(g_a, Zero):
        k = 1 if params["unit_diagonal"] else 0
        g = lg.tril(g_a, -k) if lower else lg.triu(g_a, k)
        g = lax.neg(g)
        g = _T(g) if params["transpose_a"] else g
        if params["conjugate_a"] and dtypes.is_complex(get_aval(g).dtype):
            g = lax.conj(g)

        def a_inverse(rhs):
            return lg.triangular_solve_p.bind(a, rhs, **params)

        if left_side:
            t_a = a_inverse(_mm(g, ans)) if m > n else _mm(a_inverse(g), ans)
        else:
            t_a = a_inverse(_mm(ans, g)) if m < n else _mm(ans, a_inverse(g))
        out = t_a if out is None else lax.add(out, t_a)
    return ans, (Zero(get_aval(ans)) if out is None else out)


def _permutation_matrix(perm, dtype):
    """P with `P @ a == a[..., perm, :]`."""
    shape = get_aval(perm).shape
    m = shape[-1]
    full = (*shape, m)
    rows = lax.broadcast_in_dim(perm, full, tuple(range(len(shape))))
    cols = lax.broadcasted_iota(dtypes.int32, full, len(shape))
    return lax.convert_element_type(lax.eq(rows, cols), dtype)


@jvp_rules.register(lg.lu_p)
def _lu_jvp(primals, tangents):
    (a,) = primals
    (a_dot,) = tangents
    lu, pivots, perm = lg.lu_p.bind(a)
    zeros = [Zero(get_aval(pivots)), Zero(get_aval(perm))]
    if isinstance(a_dot, Zero):
        return [lu, pivots, perm], [Zero(get_aval(lu)), *zeros]
    aval = get_aval(a)
    *batch, m, n = aval.shape
    nb = len(batch)
    k = min(m, n)
    dtype = aval.dtype
    zero = np.zeros((), dtype)
    # De Hoog, Anderssen and Lukas: L' = L tril(L^-1 A' U^-1, -1), U' = triu(...) U
    lu_k_cols = lax.slice(lu, [0] * (nb + 2), [*batch, m, k])
    l_pad = [(0, 0, 0)] * (nb + 1) + [(0, m - k, 0)]
    l_mat = lax.add(lax.pad(lg.tril(lu_k_cols, -1), zero, l_pad), _eye(m, lu, nb))
    lu_k_rows = lax.slice(lu, [0] * (nb + 2), [*batch, k, n])
    u_pad = [(0, 0, 0)] * nb + [(0, n - k, 0), (0, 0, 0)]
    u_mat = lax.pad(lg.triu(lu_k_rows), zero, u_pad)
    if n > k:
        e = lg.eye_like((n - k, n - k), dtype)
        e = lax.pad(e, zero, [(k, 0, 0), (k, 0, 0)])
        u_mat = lax.add(u_mat, lax.broadcast_in_dim(e, (*batch, n, n), (nb, nb + 1)))
    pa_dot = _mm(_permutation_matrix(perm, dtype), a_dot)
    la = lg.triangular_solve(l_mat, pa_dot, left_side=True, lower=True, unit_diagonal=True)
    lau = lg.triangular_solve(u_mat, la, left_side=False, lower=False)
    l_dot = _mm(l_mat, lg.tril(lau, -1))
    u_dot = _mm(lg.triu(lau), u_mat)
    return [lu, pivots, perm], [lax.add(l_dot, u_dot), *zeros]


@jvp_rules.register(lg.qr_p)
def _qr_jvp(primals, tangents, *, full_matrices):
    (x,) = primals
    (dx,) = tangents
    *_, m, n = get_aval(x).shape
    if m < n or (full_matrices and m != n):
        raise NotImplementedError(
            "qr: the derivative is defined only for m >= n with full_matrices=False "
            f"(or square matrices), as in jax; got shape {get_aval(x).shape}"
        )
    q, r = lg.qr_p.bind(x, full_matrices=False)
    if isinstance(dx, Zero):
        return [q, r], [Zero(get_aval(q)), Zero(get_aval(r))]
    dx_rinv = lg.triangular_solve(r, dx)
    qt_dx_rinv = _mm(_T(q), dx_rinv)
    low = lg.tril(qt_dx_rinv, -1)
    do = lax.sub(low, _T(low))
    dq = lax.add(_mm(q, lax.sub(do, qt_dx_rinv)), dx_rinv)
    dr = _mm(lax.sub(qt_dx_rinv, do), r)
    return [q, r], [dq, dr]


def _diagonal(x):
    """The diagonal of the last two axes, shape (..., n)."""
    aval = get_aval(x)
    mask = lg.eye_like(aval.shape, aval.dtype)
    return lax.reduce_sum(lax.mul(x, mask), [len(aval.shape) - 1])


@jvp_rules.register(lg.eigh_p)
def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues):
    (a,) = primals
    (a_dot,) = tangents
    v, w = lg.eigh_p.bind(a, lower=lower, sort_eigenvalues=sort_eigenvalues)
    if isinstance(a_dot, Zero):
        return [v, w], [Zero(get_aval(v)), Zero(get_aval(w))]
    aval = get_aval(a)
    n = aval.shape[-1]
    nb = len(aval.shape) - 2
    full = aval.shape
    eye = _eye(n, a, nb)
    w_row = lax.broadcast_in_dim(w, full, tuple(range(nb)) + (nb + 1,))
    w_col = lax.broadcast_in_dim(w, full, tuple(range(nb)) + (nb,))
    # 1 / (w_j - w_i) off the diagonal, 0 on it (built without dividing by zero there)
    f_mat = lax.sub(lax.integer_pow(lax.add(eye, lax.sub(w_row, w_col)), -1), eye)
    vt_adot_v = _mm(_mm(_T(v), a_dot), v)
    dv = _mm(v, lax.mul(f_mat, vt_adot_v))
    dw = _diagonal(vt_adot_v)
    return [v, w], [dv, dw]


@jvp_rules.register(lg.svd_p)
def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (a,) = primals
    (da,) = tangents
    if compute_uv and full_matrices:
        raise NotImplementedError(
            "svd: the derivative is not defined for full_matrices=True with "
            "compute_uv=True (as in jax); use full_matrices=False"
        )
    s, u, vt = lg.svd_p.bind(a, full_matrices=False, compute_uv=True)
    if isinstance(da, Zero):
        zs = [Zero(get_aval(s))]
        outs = [s]
        if compute_uv:
            zs += [Zero(get_aval(u)), Zero(get_aval(vt))]
            outs += [u, vt]
        return outs, zs
    da = instantiate(da)
    aval = get_aval(a)
    *batch, m, n = aval.shape
    nb = len(batch)
    k = min(m, n)
    ut, v = _T(u), _T(vt)
    ds_mat = _mm(_mm(ut, da), v)
    ds = _diagonal(ds_mat)
    if not compute_uv:
        return [s], [ds]
    kk = (*batch, k, k)
    s_row = lax.broadcast_in_dim(s, kk, tuple(range(nb)) + (nb + 1,))  # s_j
    s_col = lax.broadcast_in_dim(s, kk, tuple(range(nb)) + (nb,))  # s_i
    s_diffs = lax.mul(lax.add(s_row, s_col), lax.sub(s_row, s_col))
    eye = _eye(k, s_diffs, nb)
    f = lax.sub(lax.div(_c(1, eye), lax.add(s_diffs, eye)), eye)
    dss = lax.mul(s_row, ds_mat)
    sds = lax.mul(s_col, ds_mat)
    s_zero = lax.convert_element_type(lax.eq(s, _c(0, s)), aval.dtype)
    s_inv = lax.sub(lax.div(_c(1, s), lax.add(s, s_zero)), s_zero)
    s_inv_mat = lax.mul(lax.broadcast_in_dim(s_inv, kk, tuple(range(nb)) + (nb,)), eye)
    dudv_diag = lax.mul(lax.mul(_c(0.5, ds_mat), lax.sub(ds_mat, _T(ds_mat))), s_inv_mat)
    du = _mm(u, lax.add(lax.mul(f, lax.add(dss, _T(dss))), dudv_diag))
    dv = _mm(v, lax.mul(f, lax.add(sds, _T(sds))))
    if m > n:
        dav = _mm(da, v)
        s_b = lax.broadcast_in_dim(s, (*batch, m, k), tuple(range(nb)) + (nb + 1,))
        du = lax.add(du, lax.div(lax.sub(dav, _mm(u, _mm(ut, dav))), s_b))
    if n > m:
        dahu = _mm(_T(da), u)
        s_b = lax.broadcast_in_dim(s, (*batch, n, k), tuple(range(nb)) + (nb + 1,))
        dv = lax.add(dv, lax.div(lax.sub(dahu, _mm(v, _mm(vt, dahu))), s_b))
    return [s, u, vt], [ds, du, _T(dv)]


@jvp_rules.register(lg.eig_p)
def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors):
    (a,) = primals
    (da,) = tangents
    if compute_left_eigenvectors or compute_right_eigenvectors:
        raise NotImplementedError(
            "eig: only the eigenvalues are differentiable (as in jax); call eig with "
            "compute_left_eigenvectors=False, compute_right_eigenvectors=False"
        )
    w, vl, vr = lg.eig_p.bind(a, compute_left_eigenvectors=True, compute_right_eigenvectors=True)
    if isinstance(da, Zero):
        return [w], [Zero(get_aval(w))]
    # dw_j = u_j^H da v_j / (u_j^H v_j), u_j and v_j the left and right eigenvectors
    cda = lax.convert_element_type(da, get_aval(w).dtype)
    vl_h = _T(lax.conj(vl))
    num = _diagonal(_mm(_mm(vl_h, cda), vr))
    den = _diagonal(_mm(vl_h, vr))
    return [w], [lax.div(num, den)]
