"""End to end: Gaussian-process regression with an RBF kernel, its negative log marginal
likelihood computed with cholesky and solve_triangular and minimized by gradient
descent over the (log) hyperparameters, with funcnet and with jax: the same losses,
gradients, hyperparameters and predictions."""

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.config import enable_x64
from funcnet.scipy import linalg as fsl
from funcnet.test_util import check_grads

STEPS = 20
LEARNING_RATE = 0.01


def _data():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 3, 24))[:, None]
    y = np.sin(2 * x[:, 0]) + 0.1 * rng.standard_normal(24)
    x_test = np.linspace(-3, 3, 7)[:, None]
    return x, y, x_test


def _gp(np_, sla):
    """The model written once for both libraries (`np_`: numpy module, `sla`: scipy.linalg)."""

    def kernel(params, a, b):
        log_len, log_amp, _ = params
        d2 = np_.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)
        return np_.exp(2 * log_amp) * np_.exp(-0.5 * d2 / np_.exp(2 * log_len))

    def nll(params, x, y):
        n = x.shape[0]
        k = kernel(params, x, x) + (np_.exp(2 * params[2]) + 1e-6) * np_.eye(n, dtype=x.dtype)
        L = sla.cholesky(k, lower=True)
        alpha = sla.solve_triangular(L, y, lower=True)
        return (
            0.5 * np_.sum(alpha**2)
            + np_.sum(np_.log(np_.linalg.diagonal(L)))
            + 0.5 * n * np_.log(2 * np_.pi)
        )

    def predict(params, x, y, x_test):
        n = x.shape[0]
        k = kernel(params, x, x) + (np_.exp(2 * params[2]) + 1e-6) * np_.eye(n, dtype=x.dtype)
        L = sla.cholesky(k, lower=True)
        weights = sla.cho_solve((L, True), y)
        k_star = kernel(params, x_test, x)
        mean = k_star @ weights
        v = sla.solve_triangular(L, k_star.T, lower=True)
        var = np_.exp(2 * params[1]) - np_.sum(v**2, axis=0)
        return mean, var

    return nll, predict


def _train(np_, sla, grad, jit, dtype):
    x, y, x_test = (a.astype(dtype) for a in _data())
    nll, predict = _gp(np_, sla)
    step_grad = jit(grad(nll))
    loss = jit(nll)
    params = np_.asarray(np.array([0.0, 0.0, -1.0], dtype))
    losses = []
    for _ in range(STEPS):
        losses.append(float(loss(params, x, y)))
        params = params - LEARNING_RATE * step_grad(params, x, y)
    losses.append(float(loss(params, x, y)))
    mean, var = jit(predict)(params, x, y, x_test)
    return np.asarray(losses), np.asarray(params), np.asarray(mean), np.asarray(var)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_gp_regression_matches_jax(dtype):
    def run():
        ours = _train(fnp, fsl, fn.grad, fn.jit, dtype)
        theirs = _train(jnp, jsl, jax.grad, jax.jit, dtype)
        return ours, theirs

    if dtype == np.float64:
        with enable_x64():
            ours, theirs = run()
    else:
        ours, theirs = run()
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)
    for got, want, what in zip(ours, theirs, ["losses", "params", "mean", "var"]):
        if what != "losses":  # (Python floats)
            assert got.dtype == want.dtype == dtype, what
        np.testing.assert_allclose(got, want, err_msg=what, **tol)
    losses = ours[0]
    assert losses[-1] < losses[0] - 10.0, "optimization made no progress"
    assert np.all(np.diff(losses) < 0), "the loss should fall at every step"
    # and the fit is good: the posterior mean follows sin(2x) at the test points
    x_test = _data()[2]
    np.testing.assert_allclose(ours[2], np.sin(2 * x_test[:, 0]), atol=0.3)


def test_gp_loss_gradient_checks_against_finite_differences():
    x, y, _ = _data()
    nll, _ = _gp(fnp, fsl)
    with enable_x64():
        check_grads(
            lambda p: nll(p, x, y), (np.array([0.1, -0.2, -1.0]),), order=2, modes=("fwd", "rev")
        )
