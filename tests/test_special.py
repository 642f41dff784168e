"""funcnet.lax's special-function primitives (funcnet/lax/special.py) against SciPy and
jax.lax: values in float32 and float64, eagerly and under jit, dtypes and weak types,
derivatives (check_grads and jax.grad), vmap, and errors."""

import jax
import numpy as np
import pytest
import scipy.special as sps

import funcnet as fn
from funcnet import lax
from funcnet.core.trace import get_aval
from funcnet.test_util import check_grads

R = np.random.default_rng(0)
A = np.array([0.3, 0.5, 1.0, 2.0, 4.5, 10.0, 30.0, 0.05])
X = np.array([0.2, 1.5, 0.7, 3.0, 4.0, 12.0, 25.0, 2.0])
BX = np.array([0.1, 0.3, 0.5, 0.9, 0.05, 0.6, 0.45, 0.99])

# name -> (funcnet, jax, scipy reference, operands as float64 numpy arrays)
CASES = {
    "igamma": (lax.igamma, jax.lax.igamma, sps.gammainc, (A, X)),
    "igammac": (lax.igammac, jax.lax.igammac, sps.gammaincc, (A, X)),
    "igamma_grad_a": (lax.igamma_grad_a, jax.lax.igamma_grad_a, None, (A, X)),
    "random_gamma_grad": (lax.random_gamma_grad, jax.lax.random_gamma_grad, None, (A, X)),
    "polygamma": (
        lax.polygamma,
        jax.lax.polygamma,
        sps.polygamma,
        (np.array([0.0, 1, 2, 3, 1, 2, 0, 4]), X),
    ),
    "zeta": (lax.zeta, jax.lax.zeta, sps.zeta, (np.array([2.0, 3, 1.5, 4, 2.5, 6, 2, 1.1]), X)),
    "bessel_i0e": (lax.bessel_i0e, jax.lax.bessel_i0e, sps.i0e, (np.linspace(-20, 20, 8),)),
    "bessel_i1e": (lax.bessel_i1e, jax.lax.bessel_i1e, sps.i1e, (np.linspace(-20, 20, 8),)),
    "betainc": (lax.betainc, jax.lax.betainc, sps.betainc, (A, X / 5, BX)),
}
RTOL = {np.float32: 2e-5, np.float64: 1e-10}
SCIPY_RTOL = {np.float32: 2e-4, np.float64: 1e-9}


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    """Each test in float32 and in float64 (funcnet's and jax's x64 mode on)."""
    if request.param is np.float32:
        yield np.float32
        return
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        with fn.enable_x64():
            yield np.float64
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_against_scipy_and_jax(name, dtype):
    ours, theirs, ref, args = CASES[name]
    args = tuple(a.astype(dtype) for a in args)
    eager = ours(*args)
    assert eager.dtype == dtype and eager.shape == args[0].shape
    expected = np.asarray(theirs(*args))
    np.testing.assert_allclose(np.asarray(eager), expected, rtol=RTOL[dtype], atol=1e-30)
    if ref is not None:
        np.testing.assert_allclose(
            np.asarray(eager), ref(*args).astype(dtype), rtol=SCIPY_RTOL[dtype], atol=1e-30
        )


def test_values_under_jit(dtype):
    # One member of each family (their lowering is shared with eager mode, which checks
    # every member above): several primitives traced and lowered into one program.
    names = ["betainc", "bessel_i1e", "igammac", "zeta"]

    def run(impl):
        return lambda *arg_lists: [CASES[n][impl](*a) for n, a in zip(names, arg_lists)]

    args = [tuple(a.astype(dtype) for a in CASES[n][3]) for n in names]
    ours = fn.jit(run(0))(*args)
    theirs = run(1)(*args)  # jax eagerly: the programs the test above compiled already
    for n, o, t in zip(names, ours, theirs):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=RTOL[dtype], err_msg=n)


def test_domain_edges_match_jax():
    a = np.array([-1.0, 0.0, 0.0, 2.0, 2.0, np.nan, 1.0], np.float32)
    x = np.array([1.0, 0.0, 1.0, 0.0, np.inf, 1.0, -1.0], np.float32)
    for ours, theirs in ((lax.igamma, jax.lax.igamma), (lax.igammac, jax.lax.igammac)):
        np.testing.assert_array_equal(np.asarray(ours(a, x)), np.asarray(theirs(a, x)))
    b = np.array([1.0, 0.0, 2.0, -1.0, 1.0], np.float32)
    bx = np.array([0.0, 0.5, 1.0, 0.5, 1.5], np.float32)
    ab = np.array([2.0, 2.0, 3.0, 1.0, 1.0], np.float32)
    np.testing.assert_array_equal(
        np.asarray(lax.betainc(ab, b, bx)), np.asarray(jax.lax.betainc(ab, b, bx))
    )


def test_weak_types_and_scalar_broadcasting_match_jax():
    vec = np.array([0.5, 1.0], np.float32)
    for args in ((2.0, vec), (2.0, 3.0), (vec, vec)):
        out, ref = lax.igamma(*args), jax.lax.igamma(*args)
        assert out.dtype == ref.dtype and out.shape == ref.shape
        assert get_aval(out).weak_type == ref.weak_type, args
        np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)
    assert get_aval(lax.bessel_i0e(1.0)).weak_type == jax.lax.bessel_i0e(1.0).weak_type


def test_float16_is_computed_in_float32():
    x = np.array([0.5, 2.0], np.float16)
    out = lax.igamma(x, x)
    assert out.dtype == np.float16
    np.testing.assert_allclose(np.asarray(out, np.float32), sps.gammainc(x, x), rtol=2e-3)


# --- derivatives ------------------------------------------------------------------------------

GRAD_CASES = {
    # name -> (funcnet f, jax f, args, argnums jax differentiates, order check_grads can reach)
    "igamma": (lax.igamma, jax.lax.igamma, (A[:4], X[:4]), (0, 1)),
    "igammac": (lax.igammac, jax.lax.igammac, (A[:4], X[:4]), (0, 1)),
    "polygamma": (lax.polygamma, jax.lax.polygamma, (np.array([1.0, 2.0, 0.0]), X[:3]), (1,)),
    "bessel_i0e": (lax.bessel_i0e, jax.lax.bessel_i0e, (np.array([-3.0, 0.5, 7.0]),), (0,)),
    "bessel_i1e": (lax.bessel_i1e, jax.lax.bessel_i1e, (np.array([-3.0, 0.5, 7.0]),), (0,)),
    "betainc": (lax.betainc, jax.lax.betainc, (A[:4], X[:4], BX[:4]), (2,)),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_jax(name, dtype):
    ours, theirs, args, argnums = GRAD_CASES[name]
    args = tuple(a.astype(dtype) for a in args)
    g = fn.grad(lambda *xs: ours(*xs).sum(), argnums=argnums)(*args)
    gj = jax.jit(jax.grad(lambda *xs: theirs(*xs).sum(), argnums=argnums))(*args)
    for o, t in zip(g, gj):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=100 * RTOL[dtype])


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_check_grads_in_the_differentiable_arguments(name):
    ours, _, args, argnums = GRAD_CASES[name]
    with fn.enable_x64():
        args = [a.astype(np.float64) for a in args]

        def of_diff(*diff):
            full = list(args)
            for i, v in zip(argnums, diff):
                full[i] = v
            return ours(*full)

        # Order 2 where the second derivative exists in jax too: in x only (the
        # derivative in a is igamma_grad_a, which has none).
        order = 2 if name not in ("igamma", "igammac") else 1
        check_grads(of_diff, [args[i] for i in argnums], order=order, modes=("fwd", "rev"))
        if name in ("igamma", "igammac"):
            check_grads(lambda x: ours(args[0], x), [args[1]], order=2)


def test_derivatives_jax_does_not_define_raise():
    x = np.array([1.5, 2.0], np.float32)
    with pytest.raises(NotImplementedError, match=r"polygamma.*order m"):
        fn.grad(lambda m: lax.polygamma(m, x).sum())(np.array([1.0, 2.0], np.float32))
    with pytest.raises(NotImplementedError, match="regularized_incomplete_beta"):
        fn.grad(lambda a: lax.betainc(a, x, x / 4).sum())(x)
    with pytest.raises(NotImplementedError, match="zeta"):
        fn.grad(lambda s: lax.zeta(s, x).sum())(x + 1)
    with pytest.raises(NotImplementedError, match="igamma_grad_a"):
        fn.grad(lambda a: lax.igamma_grad_a(a, x).sum())(x)


def test_random_gamma_grad_is_the_implicit_derivative():
    # d x/d a at fixed P(a, x) = -(dP/da) / (dP/dx)
    a, x = A[:5].astype(np.float32), X[:5].astype(np.float32)
    dp_dx = np.exp(-x + (a - 1) * np.log(x) - sps.gammaln(a))
    expected = -np.asarray(lax.igamma_grad_a(a, x)) / dp_dx
    np.testing.assert_allclose(np.asarray(lax.random_gamma_grad(a, x)), expected, rtol=1e-4)


def test_vmap_matches_a_loop():
    a, x = A[:6].astype(np.float32), X[:6].reshape(2, 3).astype(np.float32)
    a = a.reshape(2, 3)
    out = fn.vmap(lax.igamma)(a, x)
    loop = np.stack([np.asarray(lax.igamma(a[i], x[i])) for i in range(2)])
    np.testing.assert_allclose(np.asarray(out), loop, rtol=1e-6)
    out = fn.vmap(lax.betainc, in_axes=(0, None, 0))(a, np.float32(2.0), x / 30)
    loop = np.stack([np.asarray(lax.betainc(a[i], np.float32(2.0), x[i] / 30)) for i in range(2)])
    np.testing.assert_allclose(np.asarray(out), loop, rtol=1e-6)
    out = fn.vmap(lax.bessel_i1e, in_axes=1)(x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(lax.bessel_i1e(x)).T, rtol=1e-6)


def test_bad_operands_are_refused():
    f32 = np.ones(3, np.float32)
    with pytest.raises(TypeError, match=r"igamma.*float32.*float16"):
        lax.igamma(f32, np.ones(3, np.float16))
    with pytest.raises(TypeError, match="igamma"):
        lax.igamma(f32, np.ones(4, np.float32))
    with pytest.raises(TypeError, match=r"zeta.*int32"):
        lax.zeta(np.ones(3, np.int32), np.ones(3, np.int32))
    with pytest.raises(TypeError, match=r"bessel_i0e.*int32"):
        lax.bessel_i0e(np.ones(3, np.int32))
    with pytest.raises(TypeError, match="random_gamma_grad takes two operands"):
        lax.random_gamma_grad(f32)
