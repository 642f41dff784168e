"""Scan residuals recomputed in the backward body (transforms/scan_remat.py), or read
from the scanned input they are: fewer stacks in the forward loop, the same gradients as
jax (first and second order, under vmap), and the derivative of a cell equal to finite
differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.test_util import check_grads

RNG = np.random.default_rng(0)
XS = RNG.normal(size=(7, 3, 4)).astype(np.float32)
W = (RNG.normal(size=(4, 16)) * 0.5).astype(np.float32)
H0 = RNG.normal(size=(3, 4)).astype(np.float32)


def _lstm(np_mod, lax_mod, sigmoid):
    def loss(w, h0, xs):
        def cell(carry, x):
            h, c = carry
            z = (x + h) @ w
            i, f, g, o = np_mod.split(z, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np_mod.tanh(g)
            h = sigmoid(o) * np_mod.tanh(c)
            return (h, c), h * 2.0 - 1.0

        (h, c), ys = lax_mod.scan(cell, (h0, h0 * 0.5), xs)
        return np_mod.sum(ys**2) + np_mod.sum(h * c)

    return loss


fn_loss = _lstm(fnp, lax, fn.nn.sigmoid)
jax_loss = _lstm(jnp, jax.lax, jax.nn.sigmoid)


def _stacked_residuals(fun, *args):
    """The number of stacked outputs of the forward (first) scan in fun's grad."""
    jaxpr = fn.make_jaxpr(fn.grad(fun))(*args).jaxpr
    scans = [e for e in jaxpr.eqns if e.primitive.name == "scan"]
    return len(scans[0].outputs) - scans[0].params["num_carry"]


def test_an_lstm_cell_stacks_gates_not_their_derivatives():
    # Per step the backward pass needs h, c, the four activations and tanh(c) (+ the
    # output ys); the derivatives s * (1 - s) and 1 - t * t are recomputed from them.
    assert _stacked_residuals(fn_loss, W, H0, XS) <= 8


def test_gradients_equal_jax():
    got = fn.grad(fn_loss, argnums=(0, 1, 2))(W, H0, XS)
    want = jax.grad(jax_loss, argnums=(0, 1, 2))(W, H0, XS)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5)


def test_second_order_equals_jax():
    v = RNG.normal(size=W.shape).astype(np.float32)

    def hvp(loss, grad, jvp):
        return lambda w: jvp(grad(loss), (w,), (v,))[1]

    got = hvp(lambda w: fn_loss(w, H0, XS), fn.grad, fn.jvp)(W)
    want = hvp(lambda w: jax_loss(w, H0, XS), jax.grad, jax.jvp)(W)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_vmap_of_grad_and_jit_equal_jax():
    hs = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    got = fn.jit(fn.vmap(fn.grad(fn_loss), in_axes=(None, 0, None)))(W, hs, XS)
    want = jax.vmap(jax.grad(jax_loss), in_axes=(None, 0, None))(W, hs, XS)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=2e-5)


def test_finite_differences_in_float64():
    with fn.enable_x64():
        w, h0, xs = (np.asarray(a, np.float64) for a in (W, H0, XS[:3]))
        check_grads(lambda w: fn_loss(w, h0, xs), (w,), order=2, modes=("rev",))


@pytest.mark.parametrize("reverse", [False, True])
def test_residuals_of_loop_constants_and_literals(reverse):
    # s * (1 - s) with s = logistic(x * w): w is a loop constant, 1 a literal.
    def f(w, xs):
        def body(c, x):
            s = fn.nn.sigmoid(x * w)
            return c + s * (1 - s) * c, s * w

        c, ys = lax.scan(body, fnp.ones_like(w), xs, reverse=reverse)
        return fnp.sum(c) + fnp.sum(ys**2)

    def g(w, xs):
        def body(c, x):
            s = jax.nn.sigmoid(x * w)
            return c + s * (1 - s) * c, s * w

        c, ys = jax.lax.scan(body, jnp.ones_like(w), xs, reverse=reverse)
        return jnp.sum(c) + jnp.sum(ys**2)

    w, xs = W[:, 0], XS[:, 0]
    got = fn.grad(f, argnums=(0, 1))(w, xs)
    want = jax.grad(g, argnums=(0, 1))(w, xs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5)


def _sin_scan(np_mod, lax_mod):
    def loss(w, xs):
        def body(c, x):
            c = np_mod.sin(c * x)  # the backward needs x_t itself: a scanned input
            return c, c

        c, ys = lax_mod.scan(body, w, xs)
        return np_mod.sum(ys**2) + np_mod.sum(c)

    return loss


def test_a_residual_that_is_a_scanned_input_reads_its_stack():
    w, xs = H0[0], XS[:, 0]
    # ys and one stack of the step's own values; x_t is read from xs, not stacked again
    assert _stacked_residuals(_sin_scan(fnp, lax), w, xs) == 2
    got = fn.grad(_sin_scan(fnp, lax), argnums=(0, 1))(w, xs)
    want = jax.grad(_sin_scan(jnp, jax.lax), argnums=(0, 1))(w, xs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5)
    check_grads(_sin_scan(fnp, lax), (w, xs), order=2, modes=["rev"])
