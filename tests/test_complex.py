"""Complex numbers: dtypes and promotion, lax.real/imag/conj/complex, complex arithmetic
and transcendental functions, funcnet.numpy's complex API, and autodiff with jax's
convention (compared with jax), in complex64 and complex128 (x64)."""

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.config import enable_x64
from funcnet.test_util import check_grads

Z = np.array([1 + 2j, -0.5 + 0.3j, 2 - 1j, 0.7 - 1.4j])
X = np.array([0.3, -1.2, 2.0, 0.5])


def _tol(dtype):
    return 2e-5 if np.dtype(dtype) in (np.complex64, np.float32) else 1e-12


def _close(got, want, dtype=None):
    want = np.asarray(want)
    assert np.asarray(got).dtype == want.dtype, (np.asarray(got).dtype, want.dtype)
    tol = _tol(dtype or want.dtype)
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)


@pytest.fixture(params=["c64", "c128"])
def cdtype(request):
    """complex64, or complex128 with x64 on (funcnet's and jax's) for the test's body."""
    if request.param == "c64":
        yield np.complex64
    else:
        with enable_x64():
            yield np.complex128


# --- dtypes, promotion, transfer ----------------------------------------------------


def test_complex128_narrows_without_x64_as_jax():
    a = fnp.asarray(Z)
    assert a.dtype == jnp.asarray(Z).dtype == np.complex64
    assert fnp.asarray(1 + 2j).dtype == np.complex64
    with enable_x64():
        assert fnp.asarray(Z).dtype == np.complex128
        assert fnp.asarray(1 + 2j).dtype == jnp.asarray(1 + 2j).dtype == np.complex128


@pytest.mark.parametrize(
    "a, b",
    [
        (np.float32, np.complex64),
        (np.float64, np.complex64),
        (np.int32, np.complex64),
        (ml_dtypes.bfloat16, np.complex64),
        (np.complex64, np.complex128),
        (np.float64, np.complex128),
    ],
)
def test_promotion_matches_jax(a, b):
    for x64 in (False, True):
        with enable_x64(x64):
            got = fnp.promote_types(a, b)
            # funcnet's promote_types canonicalizes (narrows without x64); jax's does not.
            assert got == jax.dtypes.canonicalize_dtype(jnp.promote_types(a, b)), (a, b, x64)


def test_python_complex_is_weak_as_jax():
    for arr in (np.ones(2, np.float32), np.ones(2, np.int32), np.ones(2, np.complex64)):
        ours, theirs = fnp.asarray(arr) * (1 + 1j), jnp.asarray(arr) * (1 + 1j)
        assert ours.dtype == theirs.dtype
        assert ours.weak_type == theirs.weak_type
    s = fnp.asarray(2.0) + 1j  # two weak scalars: a weak complex
    assert s.dtype == np.complex64 and s.weak_type
    # A weak complex gives way to a strong complex64 but not to a float16 array's kind.
    assert (fnp.ones(2, np.float16) * 1j).dtype == (jnp.ones(2, np.float16) * 1j).dtype


def test_array_conversions():
    a = fnp.asarray(Z.astype(np.complex64))
    assert a.tolist() == Z.astype(np.complex64).tolist()
    assert complex(a[0]) == 1 + 2j and a[2].item() == 2 - 1j
    assert "0.7-1.4j" in repr(a) and "complex64" in repr(a)
    assert fn.ShapedArray((2,), np.complex64).str_short() == "c64[2]"
    np.testing.assert_array_equal(np.asarray(fnp.complex64([1, 2])), [1 + 0j, 2 + 0j])
    assert fnp.complex64(3).dtype == np.complex64 and fnp.complex_ == np.complex128
    assert fnp.csingle == np.complex64 and fnp.cdouble == np.complex128
    assert fnp.issubdtype(fnp.complex64, fnp.complexfloating)
    assert fnp.isdtype(fnp.complex64, "complex floating")
    assert not fnp.isdtype(fnp.float32, "complex floating")
    assert fnp.finfo(fnp.complex64).eps == np.finfo(np.complex64).eps


def test_complex_constants_in_jit(cdtype):
    # Splat and non-splat complex constants go into the StableHLO text.
    c = np.array([1 + 2j, -3.5j, 0.25], cdtype)

    def f(z):
        return z * (2 - 1j) + c[None, :3] * lax.convert_element_type(1, cdtype)

    z = Z[:3].astype(cdtype)
    text = fn.jit(f).lower(z).as_text()
    assert "complex<f" in text
    _close(fn.jit(f)(z), z * (2 - 1j) + c[None])


# --- lax: the complex primitives and elementwise ops -----------------------------------


def test_real_imag_conj_complex(cdtype):
    z = Z.astype(cdtype)
    part = np.finfo(cdtype).dtype
    for f, g in (
        (lax.real, jax.lax.real),
        (lax.imag, jax.lax.imag),
        (lax.conj, jax.lax.conj),
    ):
        _close(f(z), g(z))
        _close(fn.jit(f)(z), g(z))
    x, y = X.astype(part), X[::-1].astype(part)
    _close(lax.complex(x, y), jax.lax.complex(x, y))
    _close(fn.jit(lax.complex)(x, y), jax.lax.complex(x, y))
    _close(lax.complex(x, part.type(2)), x + 2j * np.ones_like(x))
    # conj of a real array is complex, as jax.lax.conj
    _close(lax.conj(x), jax.lax.conj(x))


UNARY = [
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sinh",
    "cosh",
    "expm1",
    "log1p",
    "sign",
    "neg",
    "abs",
    "square",
    "asin",
    "atanh",
    "logistic",
    "exp2",
]


@pytest.mark.parametrize("name", UNARY)
def test_unary_eager_matches_jax(name, cdtype):
    z = Z.astype(cdtype)
    _close(getattr(lax, name)(z), getattr(jax.lax, name)(z))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "sin", "tanh"])
def test_unary_jit_matches_numpy(name, cdtype):
    z = Z.astype(cdtype)
    want = getattr(np, name)(z)
    _close(fn.jit(getattr(lax, name))(z), want.astype(want.dtype))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "eq", "ne"])
def test_binary_matches_jax(name, cdtype):
    z, w = Z.astype(cdtype), (Z[::-1] * 0.7).astype(cdtype)
    _close(getattr(lax, name)(z, w), getattr(jax.lax, name)(z, w))
    _close(fn.jit(getattr(lax, name))(z, w), getattr(jax.lax, name)(z, w))


def test_integer_pow(cdtype):
    z = Z.astype(cdtype)
    for y in (0, 1, 3, -2):
        _close(lax.integer_pow(z, y), jax.lax.integer_pow(z, y))


@pytest.mark.parametrize(
    "name", ["lt", "ge", "max", "min", "floor", "round", "erf", "atan2", "rem", "is_finite"]
)
def test_refused_where_jax_refuses(name):
    z = fnp.asarray(Z.astype(np.complex64))
    f = getattr(lax, name)
    args = (z,) if name in ("floor", "round", "erf", "is_finite") else (z, z)
    with pytest.raises(TypeError, match=rf"{name}.*complex64"):
        f(*args)


def test_complex_of_bad_parts_is_refused():
    with pytest.raises(TypeError, match=r"complex.*int32"):
        lax.complex(fnp.ones(2, np.int32), fnp.ones(2, np.int32))
    with pytest.raises(TypeError, match=r"complex.*float32 and float16|different dtypes"):
        lax.complex(fnp.ones(2), fnp.ones(2, np.float16))
    with pytest.raises(TypeError, match=r"real.*float32"):
        lax.real(fnp.ones(2))


@pytest.mark.filterwarnings("ignore:Casting:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_convert_complex_to_real_keeps_real_part(cdtype):
    z = Z.astype(cdtype)
    part = np.finfo(cdtype).dtype
    _close(lax.convert_element_type(z, part), jax.lax.convert_element_type(z, part))
    _close(fnp.asarray(z).astype(np.int32), jnp.asarray(z).astype(np.int32))
    _close(fnp.asarray(z).astype(bool), np.array([True] * 4))


# --- funcnet.numpy -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["real", "imag", "conj", "conjugate", "angle", "iscomplex", "isreal", "abs"]
)
def test_numpy_functions_match_jax(name, cdtype):
    for v in (Z.astype(cdtype), X.astype(np.finfo(cdtype).dtype), np.arange(3)):
        ours, theirs = getattr(fnp, name)(v), getattr(jnp, name)(v)
        _close(ours, theirs)
    _close(fnp.angle(Z.astype(cdtype), deg=True), jnp.angle(Z.astype(cdtype), deg=True))


def test_numpy_scalars_and_weak_types():
    for name in ("real", "imag", "conj", "abs"):
        ours, theirs = getattr(fnp, name)(2 + 3j), getattr(jnp, name)(2 + 3j)
        assert ours.dtype == theirs.dtype and ours.weak_type == theirs.weak_type, name
        assert complex(ours) == complex(theirs)


def test_iscomplexobj_isrealobj():
    assert fnp.iscomplexobj(fnp.ones(2, np.complex64)) and fnp.iscomplexobj(1j)
    assert fnp.iscomplexobj(np.ones(2, np.complex128))
    assert not fnp.iscomplexobj(fnp.ones(2)) and not fnp.iscomplexobj(None)
    assert fnp.isrealobj(3.0) and not fnp.isrealobj(fnp.asarray(1j))


def test_array_methods_and_numpy_math(cdtype):
    z = fnp.asarray(Z.astype(cdtype))
    jz = jnp.asarray(Z.astype(cdtype))
    _close(z.real, jz.real)
    _close(z.imag, jz.imag)
    _close(z.conj(), jz.conj())
    _close(z.conjugate(), jz.conjugate())
    _close(fnp.exp(z) * fnp.log(z) / (z + 1), jnp.exp(jz) * jnp.log(jz) / (jz + 1))
    _close(z**2.5, jz**2.5)
    _close(fnp.sum(z * z), jnp.sum(jz * jz))
    _close(fnp.isclose(z, z + 1e-9), jnp.isclose(jz, jz + 1e-9))
    _close(fnp.isfinite(z), jnp.isfinite(jz))
    _close(fnp.isnan(z), jnp.isnan(jz))
    _close(fnp.isinf(z / 0), jnp.isinf(jz / 0))
    _close(z @ z, jz @ jz)


# --- autodiff ------------------------------------------------------------------------

REAL_OF_COMPLEX = {
    "abs2": lambda m: lambda z: (m.abs(z) ** 2).sum(),
    "real_exp": lambda m: lambda z: m.real(m.exp(z)).sum(),
    "imag_log": lambda m: lambda z: m.imag(m.log(z) * z).sum(),
    "conj_mul": lambda m: lambda z: m.real(m.conj(z) * z * (1 + 2j)).sum(),
    "abs_sqrt_sin": lambda m: lambda z: m.abs(m.sqrt(z) * m.sin(z)).sum(),
    "angle": lambda m: lambda z: m.angle(z * z).sum(),
}


@pytest.mark.parametrize("name", sorted(REAL_OF_COMPLEX))
def test_grad_of_real_function_of_complex_matches_jax(name, cdtype):
    z = Z.astype(cdtype)
    ours = fn.grad(REAL_OF_COMPLEX[name](fnp))(z)
    theirs = jax.grad(REAL_OF_COMPLEX[name](jnp))(jnp.asarray(z))
    _close(ours, theirs)


def test_grad_under_jit_and_vjp_jvp_match_jax(cdtype):
    z = Z.astype(cdtype)
    f, g = REAL_OF_COMPLEX["abs_sqrt_sin"](fnp), REAL_OF_COMPLEX["abs_sqrt_sin"](jnp)
    _close(fn.jit(fn.grad(f))(z), jax.grad(g)(z))
    w = (Z[::-1] * 0.3).astype(cdtype)
    _, vjp = fn.vjp(lambda z: fnp.sin(z) * fnp.conj(z), z)
    _, jvjp = jax.vjp(lambda z: jnp.sin(z) * jnp.conj(z), z)
    _close(vjp(w)[0], jvjp(w)[0])
    ours = fn.jvp(lambda z: fnp.exp(z) * fnp.conj(z), (z,), (w,))
    theirs = jax.jvp(lambda z: jnp.exp(z) * jnp.conj(z), (z,), (w,))
    _close(ours[0], theirs[0])
    _close(ours[1], theirs[1])


def test_real_input_through_complex_intermediates(cdtype):
    # Real in, real out, complex inside: check_grads (order 2, both modes) and jax.
    part = np.finfo(cdtype).dtype
    x = X.astype(part)

    def f(m, lx):
        return lambda x: m.sum(m.abs(m.exp(lx.complex(x, 2 * x)) * (1 - 0.5j)) ** 2)

    _close(fn.grad(f(fnp, lax))(x), jax.grad(f(jnp, jax.lax))(x))
    check_grads(f(fnp, lax), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.real(fnp.exp(1j * x) * fnp.conj(x + 1j)), (x,), order=2)


def test_holomorphic(cdtype):
    z = Z.astype(cdtype)
    for f, g in (
        (lambda z: fnp.exp(z) * z, lambda z: jnp.exp(z) * z),
        (lambda z: fnp.sin(z) / (z + 2), lambda z: jnp.sin(z) / (z + 2)),
        (lambda z: fnp.log(z) ** 2, lambda z: jnp.log(z) ** 2),
    ):
        # the references under jax.jit: one program each, where jax's eager mode compiles
        # every op
        want = jax.jit(jax.grad(g, holomorphic=True))(z[0])
        _close(fn.grad(f, holomorphic=True)(z[0]), want)
        _close(fn.jacfwd(f, holomorphic=True)(z), jax.jit(jax.jacfwd(g, holomorphic=True))(z))
        _close(fn.jacrev(f, holomorphic=True)(z), jax.jit(jax.jacrev(g, holomorphic=True))(z))
    _close(
        fn.hessian(lambda z: fnp.sum(z**3), holomorphic=True)(z[:2]),
        jax.jit(jax.hessian(lambda z: jnp.sum(z**3), holomorphic=True))(z[:2]),
    )


def test_grad_errors_as_jax():
    z = fnp.asarray(np.complex64(1 + 1j))
    with pytest.raises(TypeError, match=r"grad requires real-valued outputs.*holomorphic=True"):
        fn.grad(fnp.exp)(z)
    with pytest.raises(TypeError, match="holomorphic=True requires inputs with complex dtype"):
        fn.grad(fnp.exp, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="holomorphic=True requires outputs with complex"):
        fn.grad(fnp.abs, holomorphic=True)(z)
    with pytest.raises(TypeError, match="jacrev requires real-valued outputs"):
        fn.jacrev(fnp.exp)(fnp.ones(2, np.complex64))
    with pytest.raises(TypeError, match="jacfwd requires real-valued inputs"):
        fn.jacfwd(fnp.exp)(fnp.ones(2, np.complex64))


def test_transpose_of_mul_does_not_conjugate():
    # vjp of z -> c * z is ct -> c * ct (no conjugate), jax's convention.
    c = np.complex64(2 - 3j)
    ct = np.complex64(1 + 1j)
    ours = fn.vjp(lambda z: z * c, np.complex64(0.5j))[1](ct)[0]
    theirs = jax.vjp(lambda z: z * c, np.complex64(0.5j))[1](ct)[0]
    _close(ours, theirs)
    _close(ours, np.complex64(c * ct))


def test_vmap_matches_loop(cdtype):
    zs = np.stack([Z, Z * 1j, Z.conj()]).astype(cdtype)

    def f(z):
        return fnp.abs(fnp.exp(z) * fnp.conj(z)).sum() + fnp.real(lax.complex(fnp.imag(z), 1.0))

    loop = np.stack([np.asarray(f(z)) for z in zs])
    _close(fn.vmap(f)(zs), loop)
    grads = fn.vmap(fn.grad(lambda z: fnp.abs(fnp.sin(z)).sum()))(zs)
    _close(
        grads, np.stack([np.asarray(jax.grad(lambda z: jnp.abs(jnp.sin(z)).sum())(z)) for z in zs])
    )


def test_sort_is_lexicographic_as_jax(cdtype):
    z = np.array([3 + 1j, 1 + 2j, 1 - 1j, 3 - 2j, np.nan + 0j, 1 - 1j, -0.0 + 0j], cdtype)
    _close(fnp.sort(z), jnp.sort(z))
    _close(fnp.argsort(z), jnp.argsort(z))
    _close(fn.jit(fnp.sort)(z[:4]), np.sort(z[:4]))
    _close(fnp.sort_complex(z[:4]), jnp.sort_complex(z[:4]))


def test_check_grads_with_complex_inputs(cdtype):
    # check_grads draws complex directions and cotangents for complex arguments (as jax's).
    z = Z[:3].astype(cdtype)
    check_grads(lambda z: fnp.sin(z) * fnp.conj(z), (z,), order=2, modes=("fwd", "rev"))
    check_grads(lambda z: fnp.abs(fnp.exp(z)) + fnp.angle(z), (z,), order=2)
    check_grads(lambda z: fnp.fft.fft(z * fnp.conj(z[::-1])), (z,), order=1)

    @fn.custom_jvp
    def wrong(z):  # |z|^2 with the holomorphic-looking (wrong) derivative 2 z dz
        return fnp.real(fnp.conj(z) * z)

    @wrong.defjvp
    def _wrong_jvp(primals, tangents):
        (z,), (dz,) = primals, tangents
        return wrong(z), fnp.real(2 * z * dz)

    with pytest.raises(AssertionError):
        check_grads(wrong, (z,), order=1, modes=("fwd",))


@pytest.mark.parametrize("name", [n for n in UNARY if n not in ("neg", "abs")] + ["acos", "atan"])
def test_unary_grads_match_jax(name):
    # The holomorphic jvp rules through a non-holomorphic real loss, as jax.grad sees them.
    z = np.array([1 + 2j, -0.5 + 0.3j, 0.4 - 0.2j], np.complex64)
    ours = fn.grad(lambda z: fnp.abs(getattr(lax, name)(z) * (1 + 0.5j)).sum())(z)
    theirs = jax.grad(lambda z: jnp.abs(getattr(jax.lax, name)(z) * (1 + 0.5j)).sum())(z)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_grads_match_jax(name):
    z = np.array([1 + 2j, -0.5 + 0.3j, 0.4 - 0.2j], np.complex64)
    w = z[::-1] * 0.7
    ours = fn.grad(lambda z, w: fnp.abs(getattr(lax, name)(z, w)).sum(), (0, 1))(z, w)
    theirs = jax.grad(lambda z, w: jnp.abs(getattr(jax.lax, name)(z, w)).sum(), (0, 1))(z, w)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_custom_vjp_with_complex_inputs_matches_jax():
    def make(m, custom_vjp):
        @custom_vjp
        def f(z):
            return m.sin(z)

        f.defvjp(lambda z: (m.sin(z), z), lambda z, g: (g * m.cos(z),))
        return lambda z: m.abs(f(z) * (2 - 1j)).sum()

    z = np.array([1 + 1j, -0.3 + 0.2j], np.complex64)
    ours = fn.grad(make(fnp, fn.custom_vjp))(z)
    theirs = jax.grad(make(jnp, jax.custom_vjp))(z)
    _close(ours, theirs)
    assert np.abs(np.asarray(ours)).min() > 0.1  # not the zero a real-only check would give
