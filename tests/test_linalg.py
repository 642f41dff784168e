"""Linear algebra: funcnet.lax.linalg's decompositions (primitives), funcnet.numpy.linalg
and funcnet.scipy.linalg against jax, NumPy and SciPy, in float32 and float64, eagerly
and under jit; derivatives against jax.grad and finite differences (check_grads); vmap
against a Python loop; bad input and singular matrices."""

import functools

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
import scipy.linalg as sl

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.config import enable_x64
from funcnet.scipy import linalg as fsl
from funcnet.test_util import check_grads

R = np.random.default_rng(0)


def _reseed(seed):
    """Each case table draws the same data whenever it is built."""
    global R
    R = np.random.default_rng(seed)


TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    """Each test in float32, and in float64 with x64 on for funcnet and jax."""
    if request.param == np.float64:
        with enable_x64():
            yield np.float64
    else:
        yield np.float32


def _close(got, want, dtype, what="", scale=1.0):
    tol = TOL[dtype]
    got_l, want_l = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(got_l) == len(want_l), what
    for g, w in zip(got_l, want_l):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != {w.dtype}"
        np.testing.assert_allclose(
            g, w, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale, err_msg=what
        )


def _like(ref, got):
    """NumPy/SciPy results cast to funcnet's dtypes (NumPy computes in float64/int64)."""
    return jax.tree_util.tree_map(
        lambda r, g: np.asarray(r, np.asarray(g).dtype),
        tuple(ref) if isinstance(ref, tuple) else ref,
        tuple(got) if isinstance(got, tuple) else got,
    )


def rand(*shape, dtype=np.float32):
    return R.standard_normal(shape).astype(dtype)


def spd(*shape, dtype=np.float32):
    a = R.standard_normal(shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def distinct_sym(n, dtype=np.float32):
    """Symmetric, well-separated eigenvalues 1..n."""
    q, _ = np.linalg.qr(R.standard_normal((n, n)))
    return (q @ np.diag(np.arange(1.0, n + 1)) @ q.T).astype(dtype)


def well_conditioned(*shape, dtype=np.float32):
    return (R.standard_normal(shape) + 3 * np.eye(*shape[-2:])).astype(dtype)


# --- the primitives against jax.lax.linalg (same LAPACK routines: tight agreement) ---------


def _lax_cases(dtype):
    _reseed(1)
    a = well_conditioned(2, 4, 4, dtype=dtype)
    s = spd(2, 4, 4, dtype=dtype)
    tall, wide = rand(5, 3, dtype=dtype), rand(2, 3, 5, dtype=dtype)
    b = rand(2, 4, 3, dtype=dtype)
    cases = {
        "cholesky": (lambda L, x: L.linalg.cholesky(x), (s,)),
        "lu": (lambda L, x: L.linalg.lu(x), (a,)),
        "lu_tall": (lambda L, x: L.linalg.lu(x), (tall,)),
        "lu_wide": (lambda L, x: L.linalg.lu(x), (wide,)),
        "eigh": (lambda L, x: L.linalg.eigh(x), (s,)),
        "eigh_upper": (lambda L, x: L.linalg.eigh(x, lower=False, symmetrize_input=False), (s,)),
    }
    for full in (True, False):
        for name, x in (("tall", tall), ("wide", wide)):
            cases[f"qr_{name}_{full}"] = (
                lambda L, x, full=full: L.linalg.qr(x, full_matrices=full),
                (x,),
            )
            cases[f"svd_{name}_{full}"] = (
                lambda L, x, full=full: L.linalg.svd(x, full_matrices=full),
                (x,),
            )
    cases["svd_values"] = (lambda L, x: L.linalg.svd(x, compute_uv=False), (tall,))
    for left in (True, False):
        for lower in (True, False):
            for trans in (True, False):
                rhs = b if left else np.swapaxes(b, -1, -2)
                cases[f"trsolve_{left}_{lower}_{trans}"] = (
                    lambda L, a, b, left=left, lower=lower, trans=trans: L.linalg.triangular_solve(
                        a, b, left_side=left, lower=lower, transpose_a=trans
                    ),
                    (a, rhs),
                )
    cases["trsolve_unit"] = (
        lambda L, a, b: L.linalg.triangular_solve(
            a, b, left_side=True, lower=True, unit_diagonal=True
        ),
        (a, b),
    )
    return cases


def test_decompositions_match_jax_eagerly(dtype):
    for name, (f, args) in _lax_cases(dtype).items():
        # the reference under jax.jit: one program, where jax's eager mode compiles every op
        _close(f(lax, *args), jax.jit(functools.partial(f, jax.lax))(*args), dtype, name)


def test_decompositions_match_jax_under_jit(dtype):
    cases = _lax_cases(dtype)
    names = ["cholesky", "lu", "eigh", "qr_tall_False", "svd_wide_True", "trsolve_True_True_False"]
    got = fn.jit(lambda xs: [cases[n][0](lax, *a) for n, a in zip(names, xs)])(
        [cases[n][1] for n in names]
    )
    for n, g in zip(names, got):
        want = jax.jit(functools.partial(cases[n][0], jax.lax))(*cases[n][1])
        _close(g, want, dtype, n + " [jit]")


def test_decompositions_reconstruct_their_input(dtype):
    tol = TOL[dtype]
    a, s, tall = (
        well_conditioned(4, 4, dtype=dtype),
        spd(4, 4, dtype=dtype),
        rand(5, 3, dtype=dtype),
    )
    L = np.asarray(lax.linalg.cholesky(s))
    np.testing.assert_allclose(L @ L.T, s, **tol)
    assert np.all(np.triu(L, 1) == 0)
    lu, piv, perm = (np.asarray(x) for x in lax.linalg.lu(a))
    l_mat, u = np.tril(lu, -1) + np.eye(4), np.triu(lu)
    np.testing.assert_allclose(l_mat @ u, a[perm], **tol)
    np.testing.assert_array_equal(piv, sl.lu_factor(a)[1])
    q, r = (np.asarray(x) for x in lax.linalg.qr(tall, full_matrices=False))
    np.testing.assert_allclose(q @ r, tall, **tol)
    v, w = (np.asarray(x) for x in lax.linalg.eigh(s))
    np.testing.assert_allclose(w, np.linalg.eigvalsh(s), **tol)
    np.testing.assert_allclose(v @ np.diag(w) @ v.T, s, rtol=tol["rtol"], atol=10 * tol["atol"])
    u, sv, vh = (np.asarray(x) for x in lax.linalg.svd(tall, full_matrices=False))
    np.testing.assert_allclose(sv, np.linalg.svd(tall, compute_uv=False), **tol)
    np.testing.assert_allclose((u * sv) @ vh, tall, **tol)


def test_output_dtypes_and_no_weak_type():
    x = lax.linalg.cholesky(fnp.eye(3) * 2.0)
    y = jax.lax.linalg.cholesky(jnp.eye(3) * 2.0)
    assert x.dtype == y.dtype == np.float32
    assert not x.aval.weak_type and not y.weak_type
    _, piv, perm = lax.linalg.lu(fnp.eye(3))
    assert piv.dtype == perm.dtype == np.int32


# --- derivatives ----------------------------------------------------------------------


def _grad_cases():
    """name -> (f(L, x), x): a scalar of every output, so that each is differentiated."""
    _reseed(2)
    w5, w4 = np.arange(1.0, 6.0), np.arange(1.0, 5.0)
    return {
        "cholesky": (lambda L, x: (L.lax.linalg.cholesky(x) ** 2).sum(), spd(4, 4)),
        "triangular_solve_a": (
            lambda L, x: (
                L.lax.linalg.triangular_solve(x, x[:, :2] + 1.0, left_side=True, lower=True) ** 2
            ).sum(),
            well_conditioned(4, 4),
        ),
        "triangular_solve_right_transposed": (
            lambda L, x: (
                L.lax.linalg.triangular_solve(
                    x, x[:3] * 2.0, left_side=False, lower=False, transpose_a=True
                )
                ** 2
            ).sum(),
            well_conditioned(4, 4),
        ),
        "lu": (lambda L, x: (L.lax.linalg.lu(x)[0] ** 2).sum(), well_conditioned(4, 4)),
        "lu_wide": (lambda L, x: (L.lax.linalg.lu(x)[0] ** 2).sum(), well_conditioned(3, 5)),
        "qr": (
            lambda L, x: (
                ((L.lax.linalg.qr(x, full_matrices=False)[0][:, 0] * w5).sum() ** 2)
                + (L.lax.linalg.qr(x, full_matrices=False)[1] ** 2).sum()
            ),
            rand(5, 3),
        ),
        "eigh": (
            lambda L, x: (
                ((L.lax.linalg.eigh(x)[0][:, 0] * w4).sum() ** 2)
                + (L.lax.linalg.eigh(x)[1] ** 2).sum()
            ),
            distinct_sym(4),
        ),
        "svd": (
            lambda L, x: (
                ((L.lax.linalg.svd(x, full_matrices=False)[0][:, 0] * w5).sum() ** 2)
                + (L.lax.linalg.svd(x, full_matrices=False)[2][0] ** 2 * w5[:3]).sum()
                + L.lax.linalg.svd(x, compute_uv=False).sum()
            ),
            rand(5, 3),
        ),
        "svd_wide": (
            lambda L, x: (
                (L.lax.linalg.svd(x, full_matrices=False)[2][0] * w5).sum() ** 2
                + L.lax.linalg.svd(x, compute_uv=False).sum()
            ),
            rand(3, 5),
        ),
        "det": (lambda L, x: L.np.linalg.det(x), well_conditioned(5, 5)),
        "slogdet": (lambda L, x: L.np.linalg.slogdet(x)[1], well_conditioned(4, 4)),
        "solve": (
            lambda L, x: (L.np.linalg.solve(x, x[:, :2] ** 2) ** 2).sum(),
            well_conditioned(4, 4),
        ),
        "inv": (lambda L, x: (L.np.linalg.inv(x) ** 2).sum(), well_conditioned(3, 3)),
        "pinv": (lambda L, x: (L.np.linalg.pinv(x) ** 2).sum(), rand(4, 3)),
        "norm_nuc": (lambda L, x: L.np.linalg.norm(x, "nuc"), rand(4, 3)),
        "expm": (lambda L, x: (L.scipy.linalg.expm(x) ** 2).sum(), 0.3 * rand(3, 3)),
        "cho_solve": (
            # symmetrized first: cho_factor reads one triangle (as jax, and SciPy)
            lambda L, x: (
                L.scipy.linalg.cho_solve(L.scipy.linalg.cho_factor((x + x.T) / 2), x[:, 0]) ** 2
            ).sum(),
            spd(4, 4),
        ),
    }


class _FN:
    lax, np = lax, fnp
    scipy = type("scipy", (), {"linalg": fsl})


class _JX:
    lax, np = jax.lax, jnp
    scipy = type("scipy", (), {"linalg": jsl})


@pytest.mark.parametrize("name", list(_grad_cases()))
def test_grad_matches_jax(name):
    f, x = _grad_cases()[name]
    got = fn.grad(lambda v: f(_FN, v))(x)
    want = jax.jit(jax.grad(lambda v: f(_JX, v)))(x)
    _close(got, want, np.float32, name, scale=10)


@pytest.mark.parametrize("name", list(_grad_cases()))
def test_check_grads_order_two(name):
    f, x = _grad_cases()[name]
    g = lambda v: f(_FN, v)  # noqa: E731
    modes = ("fwd", "rev")
    if name == "expm":  # many small ops: one compiled program per derivative is faster
        g = fn.jit(g)
        # expm is a composition (Pade, solve, squarings) whose primitives each have their
        # own order-2 checks in both modes; its reverse-over-reverse program alone took
        # more than half of this test's time: order 2 forward, order 1 reverse.
        modes = ("fwd",)
        with enable_x64():
            check_grads(g, (x.astype(np.float64),), order=1, modes=("rev",))
    with enable_x64():
        check_grads(g, (x.astype(np.float64),), order=2, modes=modes)


def test_grad_under_jit_matches_eager():
    f, x = _grad_cases()["svd"]
    g = fn.grad(lambda v: f(_FN, v))
    _close(fn.jit(g)(x), g(x), np.float32, "svd grad jit", scale=10)


def test_det_derivative_is_finite_at_a_singular_matrix_like_jax():
    a = np.array([[1.0, 2, 3, 4], [2, 4, 6, 8], [0, 1, 0, 1], [1, 0, 1, 0]], np.float32)
    got = fn.grad(fnp.linalg.det)(a)
    want = jax.grad(jnp.linalg.det)(a)
    assert np.all(np.isfinite(np.asarray(got)))
    _close(got, want, np.float32, "det grad at singular", scale=10)


def test_qr_and_svd_derivatives_refuse_what_jax_refuses():
    with pytest.raises(NotImplementedError, match="qr"):
        fn.grad(lambda x: lax.linalg.qr(x)[1].sum())(rand(5, 3))
    with pytest.raises(NotImplementedError, match="svd"):
        fn.grad(lambda x: lax.linalg.svd(x)[0].sum())(rand(5, 3))


def test_eigh_derivative_at_repeated_eigenvalues_is_not_finite_like_jax():
    # The documented caveat: eigenvectors of a repeated eigenvalue have no derivative.
    x = np.eye(3, dtype=np.float32)
    got = fn.grad(lambda a: lax.linalg.eigh(a)[0].sum())(x)
    want = jax.grad(lambda a: jax.lax.linalg.eigh(a)[0].sum())(x)
    assert not np.all(np.isfinite(np.asarray(got)))
    assert not np.all(np.isfinite(np.asarray(want)))
    # ...while the eigenvalues' derivative is fine
    gw = fn.grad(lambda a: lax.linalg.eigh(a)[1].sum())(x)
    np.testing.assert_allclose(np.asarray(gw), np.eye(3), atol=1e-6)


# --- vmap against a loop ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["cholesky", "lu", "eigh", "qr_wide_False", "svd_wide_True", "trsolve_False_True_True"],
)
def test_vmap_matches_a_loop(name):
    f, args = _lax_cases(np.float32)[name]
    # batch axis 1 for the first operand, 0 for the second (vmap moves them)
    moved = (np.moveaxis(args[0], 0, 1),) + args[1:]
    in_axes = (1,) + (0,) * (len(args) - 1)
    got = fn.vmap(lambda *a: f(lax, *a), in_axes=in_axes)(*moved)
    want = [f(lax, *(a[i] for a in args)) for i in range(args[0].shape[0])]
    want = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *want)
    _close(got, want, np.float32, name + " vmap")


def test_vmap_of_triangular_solve_with_an_unbatched_matrix():
    a, b = well_conditioned(4, 4), rand(3, 4, 2)
    got = fn.vmap(lambda b: lax.linalg.triangular_solve(a, b, left_side=True, lower=True))(b)
    want = np.stack([sl.solve_triangular(a, bi, lower=True) for bi in b])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_vmap_of_numpy_linalg_solve_and_det_grad():
    a, b = well_conditioned(3, 4, 4), rand(3, 4)
    got = fn.vmap(fnp.linalg.solve)(a, b)
    np.testing.assert_allclose(np.asarray(got), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-4)
    g = fn.vmap(fn.grad(fnp.linalg.det))(well_conditioned(2, 5, 5))
    assert g.shape == (2, 5, 5)


# --- funcnet.numpy.linalg ----------------------------------------------------------------


def _np_cases(dtype):
    _reseed(3)
    a = well_conditioned(2, 4, 4, dtype=dtype)
    s = spd(2, 4, 4, dtype=dtype)
    r = rand(5, 3, dtype=dtype)
    v = rand(4, dtype=dtype)
    return {
        "cholesky": (lambda L: L.cholesky(s), lambda: np.linalg.cholesky(s)),
        "cholesky_upper": (lambda L: L.cholesky(s, upper=True), None),
        "det": (lambda L: L.det(a), lambda: np.linalg.det(a)),
        "det3": (lambda L: L.det(a[:, :3, :3]), lambda: np.linalg.det(a[:, :3, :3])),
        "slogdet": (lambda L: tuple(L.slogdet(a)), lambda: tuple(np.linalg.slogdet(a))),
        "solve": (lambda L: L.solve(a, a[..., :2]), lambda: np.linalg.solve(a, a[..., :2])),
        "solve_vector": (lambda L: L.solve(a[0], v), lambda: np.linalg.solve(a[0], v)),
        "inv": (lambda L: L.inv(a), lambda: np.linalg.inv(a)),
        "pinv": (lambda L: L.pinv(r), lambda: np.linalg.pinv(r)),
        "lstsq": (lambda L: L.lstsq(r, r[:, 0] + 1)[:2], None),
        "matrix_rank": (lambda L: L.matrix_rank(a), lambda: np.linalg.matrix_rank(a)),
        "matrix_power3": (lambda L: L.matrix_power(a, 3), lambda: np.linalg.matrix_power(a, 3)),
        "matrix_power-2": (
            lambda L: L.matrix_power(a, -2),
            lambda: np.linalg.matrix_power(a, -2),
        ),
        "cond": (lambda L: L.cond(a), lambda: np.linalg.cond(a)),
        "cond_fro": (lambda L: L.cond(a, "fro"), lambda: np.linalg.cond(a, "fro")),
        "eigvalsh": (lambda L: L.eigvalsh(s), lambda: np.linalg.eigvalsh(s)),
        "svdvals": (lambda L: L.svdvals(r), lambda: np.linalg.svd(r, compute_uv=False)),
        "svd_hermitian": (lambda L: L.svd(s[0], hermitian=True, compute_uv=False), None),
        "qr_r": (lambda L: L.qr(r, mode="r"), None),
        "qr_complete": (lambda L: tuple(L.qr(r, mode="complete")), None),
        "trace": (lambda L: L.trace(a, offset=1), None),
        "diagonal": (lambda L: L.diagonal(a, offset=-1), None),
        "cross": (lambda L: L.cross(r[:2], r[2:4]), lambda: np.cross(r[:2], r[2:4])),
        "outer": (lambda L: L.outer(v, r[0]), lambda: np.outer(v, r[0])),
        "vecdot": (lambda L: L.vecdot(a, a[:, :1]), None),
        "matrix_transpose": (lambda L: L.matrix_transpose(a), None),
        "multi_dot": (lambda L: L.multi_dot([v, a[0], a[1], v]), None),
        "tensordot": (lambda L: L.tensordot(a, a[0], axes=2), None),
        "matmul": (lambda L: L.matmul(a, a), None),
        "tensorinv": (lambda L: L.tensorinv(a[0].reshape(2, 2, 2, 2)), None),
        "tensorsolve": (lambda L: L.tensorsolve(a[0].reshape(2, 2, 4), v.reshape(2, 2)), None),
        "vector_norm": (lambda L: L.vector_norm(a, axis=(1, 2), ord=3), None),
        "matrix_norm": (lambda L: L.matrix_norm(a, ord="nuc", keepdims=True), None),
        **{
            f"norm_matrix_{o}": (
                lambda L, o=o: L.norm(a, ord=o, axis=(1, 2)),
                lambda o=o: np.linalg.norm(a, ord=o, axis=(1, 2)),
            )
            for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)
        },
        **{
            f"norm_vector_{o}": (
                lambda L, o=o: L.norm(v, ord=o),
                lambda o=o: np.linalg.norm(v, ord=o),
            )
            for o in (None, 0, 1, 2, 3, 0.5, np.inf, -np.inf)
        },
        "norm_all": (lambda L: L.norm(a), lambda: np.linalg.norm(a)),
        "norm_keepdims": (lambda L: L.norm(a, axis=-1, keepdims=True), None),
    }


def test_numpy_linalg_matches_jax_and_numpy(dtype):
    for name, (f, np_f) in _np_cases(dtype).items():
        got = f(fnp.linalg)
        want = jax.jit(lambda f=f: f(jnp.linalg))()
        _close(got, want, dtype, name, scale=10)
        if np_f is not None:
            _close(got, _like(np_f(), got), dtype, name + " vs numpy", scale=10)


def test_numpy_linalg_under_jit(dtype):
    names = ["det", "slogdet", "solve", "inv", "pinv", "norm_matrix_2", "cond", "matrix_rank"]
    cases = _np_cases(dtype)
    got = fn.jit(lambda: [cases[n][0](fnp.linalg) for n in names])()
    for n, g in zip(names, got):
        _close(g, jax.jit(lambda n=n: cases[n][0](jnp.linalg))(), dtype, n + " [jit]", scale=10)


def test_integer_input_is_promoted_like_jax():
    a = np.array([[2, 1], [1, 3]])
    for f in ("det", "inv", "cholesky"):
        got, want = getattr(fnp.linalg, f)(a), getattr(jnp.linalg, f)(a)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


# --- funcnet.scipy.linalg -----------------------------------------------------------------


def _scipy_cases(dtype):
    _reseed(4)
    a = well_conditioned(4, 4, dtype=dtype)
    s = spd(4, 4, dtype=dtype)
    b = rand(4, 2, dtype=dtype)
    r = rand(5, 3, dtype=dtype)
    cases = {
        "cholesky": lambda L: L.cholesky(s),
        "cholesky_lower": lambda L: L.cholesky(s, lower=True),
        "lu_factor": lambda L: L.lu_factor(a),
        "lu": lambda L: L.lu(r),
        "lu_permute_l": lambda L: L.lu(r.T, permute_l=True),
        "lu_solve": lambda L: L.lu_solve(L.lu_factor(a), b),
        "lu_solve_trans": lambda L: L.lu_solve(L.lu_factor(a), b[:, 0], trans=1),
        "qr": lambda L: L.qr(r),
        "qr_economic": lambda L: L.qr(r, mode="economic"),
        "svd": lambda L: L.svd(r, full_matrices=False),
        "eigh": lambda L: L.eigh(s),
        "eigvals_only": lambda L: L.eigh(s, eigvals_only=True),
        "inv": lambda L: L.inv(a),
        "det": lambda L: L.det(a),
        "solve": lambda L: L.solve(a, b),
        "solve_pos": lambda L: L.solve(s, b, assume_a="pos"),
        "block_diag": lambda L: L.block_diag(a, r, np.asarray(3.0, dtype), b[:, 0]),
        "expm_small": lambda L: L.expm(0.05 * a),
        "expm": lambda L: L.expm(0.5 * a),
        "expm_large": lambda L: L.expm(2.0 * a),
        "expm_batched": lambda L: L.expm(np.stack([0.1 * a, 0.3 * a])),
        "expm_upper": lambda L: L.expm(np.triu(a) * 0.3, upper_triangular=True),
    }
    for lower in (True, False):
        cases[f"cho_solve_{lower}"] = lambda L, lower=lower: L.cho_solve(
            L.cho_factor(s, lower=lower), b
        )
        for trans in (0, 1):
            cases[f"solve_triangular_{lower}_{trans}"] = lambda L, lower=lower, trans=trans: (
                L.solve_triangular(a, b, trans=trans, lower=lower)
            )
    cases["solve_triangular_vector_unit"] = lambda L: L.solve_triangular(
        a, b[:, 0], lower=True, unit_diagonal=True
    )
    return cases


SCIPY_REF = {  # names whose values SciPy itself gives (with funcnet's output layout)
    "cholesky",
    "cholesky_lower",
    "lu",
    "lu_permute_l",
    "lu_solve",
    "lu_solve_trans",
    "inv",
    "det",
    "solve",
    "solve_pos",
    "block_diag",
    "expm",
    "expm_small",
    "cho_solve_True",
    "cho_solve_False",
    "solve_triangular_True_0",
    "solve_triangular_False_1",
}


def test_scipy_linalg_matches_jax_and_scipy(dtype):
    for name, f in _scipy_cases(dtype).items():
        got = f(fsl)
        want = jax.jit(lambda f=f: f(jsl))()
        _close(got, want, dtype, name, scale=100 if "expm" in name else 10)
        if name in SCIPY_REF:
            ref = _like(f(sl), got)
            _close(got, ref, dtype, name + " vs scipy", scale=100 if "expm" in name else 10)


def test_scipy_linalg_under_jit():
    cases = _scipy_cases(np.float32)
    names = ["cho_solve_True", "solve_triangular_False_1", "lu_solve", "expm"]
    got = fn.jit(lambda: [cases[n](fsl) for n in names])()
    for n, g in zip(names, got):
        _close(g, jax.jit(lambda n=n: cases[n](jsl))(), np.float32, n + " [jit]", scale=100)


# --- bad input and singular matrices -----------------------------------------------------


@pytest.mark.parametrize(
    "f,name",
    [
        (fnp.linalg.inv, "inv"),
        (fnp.linalg.cholesky, "cholesky"),
        (fnp.linalg.det, "det"),
        (fnp.linalg.slogdet, "slogdet"),
        (fsl.cholesky, "cholesky"),
    ],
)
def test_non_square_input_names_the_function_shape_and_dtype(f, name):
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*float32"):
        f(np.ones((2, 3), np.float32))


def test_lax_decompositions_refuse_bad_input_with_a_type_error():
    with pytest.raises(TypeError, match=r"cholesky.*\(2, 3\).*float32"):
        lax.linalg.cholesky(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"lu.*\(3,\).*float32"):
        lax.linalg.lu(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"eigh.*int32"):
        lax.linalg.eigh(np.ones((2, 2), np.int32))
    with pytest.raises(TypeError, match=r"triangular_solve.*\(3, 3\).*\(2, 1\)"):
        lax.linalg.triangular_solve(
            np.eye(3, dtype=np.float32), np.ones((2, 1), np.float32), left_side=True
        )


def test_singular_matrices_give_what_jax_gives():
    sing = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], np.float32)
    sing4 = np.array([[1.0, 2, 3, 4], [2, 4, 6, 8], [0, 1, 0, 1], [1, 0, 1, 0]], np.float32)
    pairs = [
        (fnp.linalg.inv, jnp.linalg.inv),
        (
            lambda a: fnp.linalg.solve(a, fnp.ones(a.shape[0])),
            lambda a: jnp.linalg.solve(a, jnp.ones(a.shape[0])),
        ),
    ]
    for ours, theirs in pairs:
        for m in (sing, sing4):
            got, want = np.asarray(ours(m)), np.asarray(theirs(m))
            assert not np.all(np.isfinite(got))
            np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    assert float(fnp.linalg.det(sing4)) == float(jnp.linalg.det(sing4)) == 0.0
    sign, logdet = fnp.linalg.slogdet(sing4)
    assert float(sign) == 0.0 and float(logdet) == -np.inf
    not_pd = -spd(3, 3)
    assert np.all(np.isnan(np.asarray(fnp.linalg.cholesky(not_pd))[np.tril_indices(3)]))
    assert np.all(np.isnan(np.asarray(jnp.linalg.cholesky(not_pd))[np.tril_indices(3)]))


def test_unsupported_options_raise():
    with pytest.raises(NotImplementedError):
        lax.linalg.qr(np.eye(2, dtype=np.float32), pivoting=True)
    with pytest.raises(NotImplementedError, match="eig"):
        fn.grad(lambda x: lax.linalg.eig(x)[1].real.sum())(rand(3, 3))


def test_eig_matches_jax_and_numpy(dtype):
    a = rand(2, 4, 4, dtype=dtype)
    got, want = lax.linalg.eig(a), jax.lax.linalg.eig(a)
    _close(got, want, dtype, "lax eig", scale=10)
    w, v = fnp.linalg.eig(a)
    assert w.dtype == np.result_type(dtype, np.complex64)
    # A v = v diag(w), and the eigenvalues are NumPy's (up to order)
    av = np.einsum("bij,bjk->bik", a, np.asarray(v))
    np.testing.assert_allclose(av, np.asarray(v) * np.asarray(w)[:, None, :], atol=1e-4)
    for got_w, want_w in zip(np.asarray(fnp.linalg.eigvals(a)), np.linalg.eigvals(a)):
        np.testing.assert_allclose(np.sort_complex(got_w), np.sort_complex(want_w), atol=1e-4)
    jitted = fn.jit(fnp.linalg.eigvals)(a)
    _close(jitted, jnp.linalg.eigvals(a), dtype, "eigvals jit", scale=10)
    batched = fn.vmap(fnp.linalg.eigvals)(a)
    _close(batched, fnp.linalg.eigvals(a), dtype, "eigvals vmap")


def test_eigenvalue_derivative_matches_jax():
    a = rand(4, 4)

    def f(L, x):
        w = L.linalg.eigvals(x)
        return (w.real**2).sum() + (w.imag**2).sum()

    _close(
        fn.grad(lambda x: f(fnp, x))(a),
        jax.jit(jax.grad(lambda x: f(jnp, x)))(a),
        np.float32,
        "eigvals grad",
        scale=10,
    )
    with enable_x64():
        check_grads(lambda x: f(fnp, x), (a.astype(np.float64),), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("dtype_c", [np.complex64, np.complex128], ids=["c64", "c128"])
def test_complex_lu_triangular_solve_solve_and_inv_match_jax(dtype_c):
    def run():
        a = (rand(2, 4, 4) + 1j * rand(2, 4, 4) + 3 * np.eye(4)).astype(dtype_c)
        b = (rand(2, 4, 2) + 1j * rand(2, 4, 2)).astype(dtype_c)
        real = np.float32 if dtype_c == np.complex64 else np.float64
        _close(lax.linalg.lu(a), jax.lax.linalg.lu(a), real, "lu")
        for t in (False, True):
            for c in (False, True):
                kw = dict(left_side=True, lower=True, transpose_a=t, conjugate_a=c)
                _close(
                    lax.linalg.triangular_solve(a, b, **kw),
                    jax.lax.linalg.triangular_solve(a, b, **kw),
                    real,
                    f"triangular_solve {kw}",
                    scale=10,
                )

                def loss(L, lin, m, x, kw=kw):
                    return (L.abs(lin.triangular_solve(m, x, **kw)) ** 2).sum()

                got = fn.grad(lambda m, x: loss(fnp, lax.linalg, m, x), argnums=(0, 1))(a[0], b[0])
                want = jax.jit(
                    jax.grad(lambda m, x: loss(jnp, jax.lax.linalg, m, x), argnums=(0, 1))
                )(a[0], b[0])
                _close(got, want, real, f"triangular_solve grad {kw}", scale=100)
        _close(fnp.linalg.solve(a, b), jnp.linalg.solve(a, b), real, "solve", scale=10)
        _close(fn.jit(fnp.linalg.inv)(a), jnp.linalg.inv(a), real, "inv jit", scale=10)
        _close(fn.vmap(fnp.linalg.solve)(a, b), jnp.linalg.solve(a, b), real, "solve vmap", 10)

        def solve_loss(L, m):
            return (L.abs(L.linalg.solve(m, b[0])) ** 2).sum()

        _close(
            fn.grad(lambda m: solve_loss(fnp, m))(a[0]),
            jax.jit(jax.grad(lambda m: solve_loss(jnp, m)))(a[0]),
            real,
            "solve grad",
            scale=100,
        )

    if dtype_c == np.complex128:
        with enable_x64():
            run()
    else:
        run()
