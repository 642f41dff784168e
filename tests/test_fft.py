"""FFT: lax.fft (the primitive and its rules) and funcnet.numpy.fft against numpy.fft and
jax, in float32/complex64 and float64/complex128 (x64), eager and under jit; gradients
against jax; vmap against a loop; a spectral heat-equation step end to end; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.config import enable_x64
from funcnet.test_util import check_grads

R = np.random.default_rng(0)
X = R.standard_normal((3, 4, 6))
C = X + 1j * R.standard_normal((3, 4, 6))


@pytest.fixture(params=["32", "64"])
def prec(request):
    """(real dtype, complex dtype); x64 on (funcnet's and jax's) for the 64-bit case."""
    if request.param == "32":
        yield np.float32, np.complex64
    else:
        with enable_x64():
            yield np.float64, np.complex128


def _close(got, want, scale=1.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    tol = 2e-4 if want.dtype in (np.float32, np.complex64) else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


CASES = [
    ("fft", "c", {}),
    ("fft", "r", {"n": 9, "axis": 1}),
    ("fft", "c", {"n": 4, "norm": "ortho"}),
    ("ifft", "c", {"axis": 0}),
    ("ifft", "c", {"n": 8, "norm": "forward"}),
    ("rfft", "r", {}),
    ("rfft", "r", {"n": 5, "axis": 0, "norm": "ortho"}),
    ("irfft", "c", {}),
    ("irfft", "c", {"n": 7, "axis": 1, "norm": "forward"}),
    ("hfft", "c", {}),
    ("hfft", "c", {"n": 5}),
    ("ihfft", "r", {}),
    ("fft2", "c", {}),
    ("fft2", "r", {"s": (3, 5), "axes": (0, 2)}),
    ("ifft2", "c", {"norm": "ortho"}),
    ("rfft2", "r", {}),
    ("irfft2", "c", {"s": (4, 9)}),
    ("fftn", "c", {}),
    ("fftn", "c", {"axes": (2, 0)}),
    ("ifftn", "c", {"s": (2, 3, 8), "axes": (0, 1, 2)}),
    ("rfftn", "r", {}),
    ("rfftn", "r", {"axes": (0, 1)}),
    ("irfftn", "c", {}),
    ("irfftn", "c", {"s": (2, 3, 8), "axes": (0, 1, 2), "norm": "forward"}),
]


@pytest.mark.parametrize("name, kind, kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_numpy_fft_matches_numpy_and_jax(name, kind, kw, prec):
    real, cplx = prec
    x = X.astype(real) if kind == "r" else C.astype(cplx)
    ours = getattr(fnp.fft, name)(x, **kw)
    theirs = getattr(jnp.fft, name)(x, **kw)
    _close(ours, theirs, scale=10)
    want = getattr(np.fft, name)(x, **kw)
    np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name, kind, kw", CASES[::4])
def test_numpy_fft_under_jit(name, kind, kw):
    x = X.astype(np.float32) if kind == "r" else C.astype(np.complex64)
    f = fn.jit(lambda x: getattr(fnp.fft, name)(x, **kw))
    _close(f(x), getattr(jnp.fft, name)(x, **kw), scale=10)


def test_more_than_three_axes_matches_numpy():
    x = R.standard_normal((2, 3, 2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fnp.fft.fftn(x)), np.fft.fftn(x), atol=1e-3)
    back = fnp.fft.irfftn(fnp.fft.rfftn(x), s=x.shape)
    np.testing.assert_allclose(np.asarray(back), x, atol=1e-5)
    _close(fnp.fft.ifftn(x), jnp.fft.ifftn(x))


def test_frequencies_and_shifts(prec):
    real, _ = prec
    for n, d in ((5, 0.1), (8, 1.0), (1, 2.0)):
        _close(fnp.fft.fftfreq(n, d), jnp.fft.fftfreq(n, d))
        _close(fnp.fft.rfftfreq(n, d), jnp.fft.rfftfreq(n, d))
        np.testing.assert_allclose(np.asarray(fnp.fft.fftfreq(n, d)), np.fft.fftfreq(n, d), 1e-6)
    _close(fnp.fft.fftfreq(6, dtype=np.float32), jnp.fft.fftfreq(6, dtype=np.float32))
    x = X.astype(real)
    for axes in (None, 1, (0, 2)):
        _close(fnp.fft.fftshift(x, axes), jnp.fft.fftshift(x, axes))
        _close(fnp.fft.ifftshift(x, axes), jnp.fft.ifftshift(x, axes))
        np.testing.assert_array_equal(
            np.asarray(fnp.fft.fftshift(x, axes)), np.fft.fftshift(x, axes)
        )


# --- the primitive and its rules -------------------------------------------------------

LAX = [
    ("fft", (6,), "c"),
    ("ifft", (4, 6), "c"),
    ("rfft", (6,), "r"),
    ("rfft", (4, 6), "r"),
    ("irfft", (6,), "h"),
    ("irfft", (7,), "h7"),
    ("irfft", (4, 6), "h2"),
]


def _lax_input(kind, real, cplx):
    if kind == "c":
        return C.astype(cplx)
    if kind == "r":
        return X.astype(real)
    if kind == "h":
        return np.fft.rfft(X).astype(cplx)
    if kind == "h7":
        return np.fft.rfft(R.standard_normal((3, 4, 7))).astype(cplx)
    return np.fft.rfft2(X).astype(cplx)


@pytest.mark.parametrize("typ, lengths, kind", LAX)
def test_lax_fft_values_grads_and_vmap_match_jax(typ, lengths, kind, prec):
    real, cplx = prec
    x = _lax_input(kind, real, cplx)
    _close(lax.fft(x, typ, lengths), jax.lax.fft(x, typ, lengths), scale=10)
    _close(fn.jit(lambda x: lax.fft(x, typ, lengths))(x), jax.lax.fft(x, typ, lengths), 10)

    out_shape = jax.lax.fft(x, typ, lengths).shape
    w = np.arange(1.0, 1.0 + np.prod(out_shape)).reshape(out_shape) / np.prod(out_shape)

    def loss(m, lx):  # a real scalar of the transform (weights break the symmetries)
        return lambda x: m.sum(m.abs(lx.fft(x * 1.5, typ, lengths)) ** 2 * w)

    # the references under jax.jit: one program, where jax's eager mode compiles every op
    _close(fn.grad(loss(fnp, lax))(x), jax.jit(jax.grad(loss(jnp, jax.lax)))(x), scale=100)
    # jvp and vjp with a complex output, against jax
    t = (x * 0.5)[::-1].copy()
    ours, theirs = (
        fn.jvp(lambda x: lax.fft(x, typ, lengths), (x,), (t,)),
        jax.jvp(lambda x: jax.lax.fft(x, typ, lengths), (x,), (t,)),
    )
    _close(ours[1], theirs[1], scale=10)
    ct = jax.lax.fft(x, typ, lengths)
    ours = fn.vjp(lambda x: lax.fft(x, typ, lengths), x)[1](ct)[0]
    theirs = jax.vjp(lambda x: jax.lax.fft(x, typ, lengths), x)[1](ct)[0]
    _close(ours, theirs, scale=100)
    # vmap over the leading axis, and over a trailing (non-transformed) one
    loop = np.stack([np.asarray(lax.fft(xi, typ, lengths)) for xi in x])
    _close(fn.vmap(lambda v: lax.fft(v, typ, lengths))(x), loop)


def test_check_grads_through_rfft_irfft():
    x = X[0].astype(np.float32)
    w = np.linspace(0.5, 2.0, 4)[:, None]

    def f(x):
        spec = fnp.fft.rfft(x, axis=-1)
        return fnp.fft.irfft(spec * (1 + 0.5j), n=6) * w + fnp.abs(fnp.fft.fft(x)) ** 2

    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.real(fnp.fft.ifft2(fnp.fft.fft2(x) * x)), (x,), order=1)


def test_grad_of_numpy_fft_matches_jax(prec):
    real, cplx = prec
    x, z = X.astype(real), C.astype(cplx)
    for name, arg in (("rfft2", x), ("fftn", z), ("irfftn", z), ("hfft", z), ("ihfft", x)):

        def loss(m, name=name):
            return lambda v: m.sum(m.abs(getattr(m.fft, name)(v, norm="ortho")) ** 2 * 0.5)

        _close(fn.grad(loss(fnp))(arg), jax.jit(jax.grad(loss(jnp)))(arg), scale=100)


def test_spectral_heat_equation_step_matches_jax(prec):
    """One (and ten) steps of u_t = nu u_xx on a periodic grid, solved exactly in Fourier
    space with rfft/irfft, against jax and against the analytic decay of sin(kx)."""
    real, _ = prec
    n, nu, dt = 64, 0.1, 0.05
    xs = np.linspace(0, 2 * np.pi, n, endpoint=False).astype(real)
    u0 = (np.sin(xs) + 0.5 * np.sin(3 * xs)).astype(real)

    def step(m):
        def f(u):
            k = 2 * np.pi * m.fft.rfftfreq(n, d=2 * np.pi / n).astype(u.dtype)
            return m.fft.irfft(m.fft.rfft(u) * m.exp(-nu * k**2 * dt), n=n)

        return f

    ours = fn.jit(step(fnp))(u0)
    theirs = jax.jit(step(jnp))(u0)
    _close(ours, theirs, scale=10)
    exact = np.exp(-nu * dt) * np.sin(xs) + 0.5 * np.exp(-9 * nu * dt) * np.sin(3 * xs)
    np.testing.assert_allclose(np.asarray(ours), exact, atol=1e-5)

    # ten steps in a loop under jit, and the gradient of the final energy
    def energy(m, run):
        return lambda u: m.sum(run(u) ** 2)

    run_ours = fn.jit(lambda u: fn.lax.fori_loop(0, 10, lambda i, u: step(fnp)(u), u))
    run_jax = jax.jit(lambda u: jax.lax.fori_loop(0, 10, lambda i, u: step(jnp)(u), u))
    _close(run_ours(u0), run_jax(u0), scale=10)
    _close(fn.grad(energy(fnp, run_ours))(u0), jax.grad(energy(jnp, run_jax))(u0), scale=10)


# --- bad input -----------------------------------------------------------------------


def test_bad_input_has_clear_errors():
    z = fnp.asarray(C.astype(np.complex64))
    with pytest.raises(TypeError, match=r"rfft takes real input.*\(3, 4, 6\).*complex64"):
        fnp.fft.rfft(z)
    with pytest.raises(TypeError, match=r"RFFT takes real input, got complex64"):
        lax.fft(z, "rfft", (6,))
    with pytest.raises(ValueError, match=r"fft: FFT lengths must be positive, got \(0,\)"):
        fnp.fft.fft(z, n=0)
    with pytest.raises(ValueError, match=r"irfft: the output length 0"):
        fnp.fft.irfft(fnp.ones((3, 1), np.complex64))
    with pytest.raises(ValueError, match="invalid norm value 'bad'"):
        fnp.fft.fft(z, norm="bad")
    with pytest.raises(ValueError, match=r"axes \(5,\) out of range"):
        fnp.fft.fft(z, axis=5)
    with pytest.raises(ValueError, match="repeated axes"):
        fnp.fft.fftn(z, axes=(0, 0))
    with pytest.raises(ValueError, match="does not support multiple axes"):
        fnp.fft.fft(z, axis=(0, 1))
    with pytest.raises(ValueError, match="only supports 2 axes"):
        fnp.fft.fft2(z, axes=(0, 1, 2))
    with pytest.raises(TypeError, match=r"trailing axes of the input of shape \(3, 4, 6\)"):
        lax.fft(z, "fft", (5,))
    with pytest.raises(TypeError, match=r"does not fit fft_lengths \(8,\)"):
        lax.fft(z, "irfft", (8,))
    with pytest.raises(TypeError, match=r"1 to 3 trailing axes"):
        lax.fft(fnp.ones((2, 2, 2, 2), np.complex64), "fft", (2, 2, 2, 2))
    with pytest.raises(ValueError, match="unknown FFT type"):
        lax.fft(z, "dct", (6,))
