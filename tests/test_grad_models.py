"""Whole models, written twice (funcnet.numpy and jax.numpy) with the same weights:
losses and gradients agree to 1e-5 relative in float32. Each model's
value_and_grad is compiled once on each side (jit); the MLP also runs eagerly, and the
LSTM only eagerly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grad_testing import randn, rng

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax

RTOL = 1e-5


def assert_model_close(got, want, what):
    """Elementwise to 1e-5 relative; entries far below a leaf's scale are compared at
    1e-5 of that scale (a float32 sum of mixed-sign terms has no better relative
    accuracy near zero)."""
    got_l, got_t = jax.tree_util.tree_flatten(got)
    want_l, want_t = jax.tree_util.tree_flatten(want)
    assert got_t == want_t, f"{what}: {got_t} != {want_t}"
    for path, g, w in zip(jax.tree_util.tree_flatten_with_path(want)[0], got_l, want_l):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        scale = np.max(np.abs(w)) if w.size else 0.0
        np.testing.assert_allclose(
            g, w, rtol=RTOL, atol=RTOL * scale, err_msg=f"{what} {jax.tree_util.keystr(path[0])}"
        )


def compare(fn_loss, jax_loss, params, *data, jit=True, eager=False):
    if jit:
        want_v, want_g = jax.jit(jax.value_and_grad(jax_loss))(params, *data)
        got_v, got_g = fn.jit(fn.value_and_grad(fn_loss))(params, *data)
        assert_model_close(got_v, want_v, "loss")
        assert_model_close(got_g, want_g, "grad")
    if eager:
        if not jit:
            want_v, want_g = jax.value_and_grad(jax_loss)(params, *data)
        got_v, got_g = fn.value_and_grad(fn_loss)(params, *data)
        assert_model_close(got_v, want_v, "eager loss")
        assert_model_close(got_g, want_g, "eager grad")


def cross_entropy(np_, logits, onehot):
    # log-softmax through logsumexp (numerically stable)
    lse = (fnp.logsumexp if np_ is fnp else jax.nn.logsumexp)(logits, axis=-1, keepdims=True)
    return -np_.mean(np_.sum(onehot * (logits - lse), axis=-1))


def _dense(r, n_in, n_out):
    return {"w": randn(r, n_in, n_out, scale=1 / np.sqrt(n_in)), "b": randn(r, n_out, scale=0.1)}


def _onehot(r, n, k):
    return np.eye(k, dtype=np.float32)[r.integers(0, k, n)]


# --- MLP ------------------------------------------------------------------------------------


def mlp_loss(np_, params, x, onehot):
    h = x
    for layer in params[:-1]:
        h = np_.maximum(h @ layer["w"] + layer["b"], 0.0)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    return cross_entropy(np_, logits, onehot)


def test_mlp_softmax_cross_entropy():
    r = rng(0)
    params = [_dense(r, 12, 32), _dense(r, 32, 32), _dense(r, 32, 5)]
    x, y = randn(r, 16, 12), _onehot(r, 16, 5)
    compare(
        lambda p, x, y: mlp_loss(fnp, p, x, y),
        lambda p, x, y: mlp_loss(jnp, p, x, y),
        params,
        x,
        y,
        eager=True,
    )


# --- CNN ------------------------------------------------------------------------------------


def cnn_loss(np_, params, x, onehot):
    lax_ = lax if np_ is fnp else jax.lax

    def pool(h):
        if np_ is fnp:
            return lax.reduce_window(h, -np.inf, "max", (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return jax.lax.reduce_window(h, -np.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    h = lax_.conv_general_dilated(x, params["c1"], (1, 1), "SAME")
    h = pool(np_.maximum(h + params["b1"][None, :, None, None], 0.0))
    h = lax_.conv_general_dilated(h, params["c2"], (1, 1), ((1, 1), (1, 1)))
    h = pool(np_.maximum(h + params["b2"][None, :, None, None], 0.0))
    h = h.reshape((h.shape[0], -1))
    logits = h @ params["fc"]["w"] + params["fc"]["b"]
    return cross_entropy(np_, logits, onehot)


def test_small_cnn():
    r = rng(1)
    params = {
        "c1": randn(r, 4, 1, 3, 3, scale=0.5),
        "b1": randn(r, 4, scale=0.1),
        "c2": randn(r, 6, 4, 3, 3, scale=0.3),
        "b2": randn(r, 6, scale=0.1),
        "fc": _dense(r, 6 * 2 * 2, 10),
    }
    x, y = randn(r, 4, 1, 8, 8), _onehot(r, 4, 10)
    compare(
        lambda p, x, y: cnn_loss(fnp, p, x, y), lambda p, x, y: cnn_loss(jnp, p, x, y), params, x, y
    )


# --- LSTM -----------------------------------------------------------------------------------

STEPS = 20


def lstm_loss(np_, params, xs, target):
    sigmoid = lax.logistic if np_ is fnp else jax.lax.logistic
    n_hidden = params["wh"].shape[0]
    h = np_.zeros((xs.shape[1], n_hidden), np.float32)
    c = np_.zeros((xs.shape[1], n_hidden), np.float32)
    outs = []
    for t in range(STEPS):  # unrolled in Python
        z = xs[t] @ params["wx"] + h @ params["wh"] + params["b"]
        i, f, g, o = (z[:, k * n_hidden : (k + 1) * n_hidden] for k in range(4))
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np_.tanh(g)
        h = sigmoid(o) * np_.tanh(c)
        outs.append(h @ params["out"])
    pred = np_.stack(outs)
    return np_.mean((pred - target) ** 2)


def test_lstm_unrolled_20_steps():
    r = rng(2)
    n_in, n_hidden, batch = 3, 8, 2
    params = {
        "wx": randn(r, n_in, 4 * n_hidden, scale=0.5),
        "wh": randn(r, n_hidden, 4 * n_hidden, scale=0.3),
        "b": randn(r, 4 * n_hidden, scale=0.1),
        "out": randn(r, n_hidden, 1),
    }
    xs, target = randn(r, STEPS, batch, n_in), randn(r, STEPS, batch, 1)
    # Eager on both sides: the 20 steps repeat the same few shapes, so eager mode compiles
    # a handful of small programs where jit would compile one long unrolled one.
    compare(
        lambda p, x, y: lstm_loss(fnp, p, x, y),
        lambda p, x, y: lstm_loss(jnp, p, x, y),
        params,
        xs,
        target,
        jit=False,
        eager=True,
    )


# --- attention ------------------------------------------------------------------------------


def layer_norm(np_, x, gamma, beta, eps=1e-5):
    mean = np_.mean(x, axis=-1, keepdims=True)
    var = np_.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return (x - mean) / np_.sqrt(var + eps) * gamma + beta


def attention_loss(np_, params, x, target):
    d = params["wq"].shape[1]
    h = layer_norm(np_, x, params["g"], params["b"])
    q, k, v = h @ params["wq"], h @ params["wk"], h @ params["wv"]
    scores = q @ np_.swapaxes(k, -1, -2) / np.sqrt(d).astype(np.float32)
    scores = scores - np_.max(scores, axis=-1, keepdims=True)
    weights = np_.exp(scores) / np_.sum(np_.exp(scores), axis=-1, keepdims=True)
    out = x + (weights @ v) @ params["wo"]
    out = layer_norm(np_, out, params["g2"], params["b2"])
    return np_.mean((out - target) ** 2)


@pytest.mark.parametrize("seq", [6])
def test_attention_block(seq):
    r = rng(3)
    dim, batch = 8, 2
    params = {
        "wq": randn(r, dim, dim, scale=0.4),
        "wk": randn(r, dim, dim, scale=0.4),
        "wv": randn(r, dim, dim, scale=0.4),
        "wo": randn(r, dim, dim, scale=0.4),
        "g": 1.0 + randn(r, dim, scale=0.1),
        "b": randn(r, dim, scale=0.1),
        "g2": 1.0 + randn(r, dim, scale=0.1),
        "b2": randn(r, dim, scale=0.1),
    }
    x, target = randn(r, batch, seq, dim), randn(r, batch, seq, dim)
    compare(
        lambda p, x, y: attention_loss(fnp, p, x, y),
        lambda p, x, y: attention_loss(jnp, p, x, y),
        params,
        x,
        target,
    )


def test_training_steps_track_jax():
    # A few SGD steps on the MLP: the parameters stay together step after step.
    r = rng(4)
    params = [_dense(r, 12, 16), _dense(r, 16, 5)]
    x, y = randn(r, 16, 12), _onehot(r, 16, 5)

    @fn.jit
    def step(p):
        g = fn.grad(lambda p: mlp_loss(fnp, p, x, y))(p)
        return fn.tree.tree_map(lambda a, b: a - 0.5 * b, p, g)

    @jax.jit
    def jstep(p):
        g = jax.grad(lambda p: mlp_loss(jnp, p, x, y))(p)
        return jax.tree_util.tree_map(lambda a, b: a - 0.5 * b, p, g)

    p, jp = params, params
    for _ in range(5):
        p, jp = step(p), jstep(jp)
    assert_model_close(p, jp, "params after 5 steps")
