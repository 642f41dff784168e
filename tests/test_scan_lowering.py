"""How a scan is lowered and differentiated for XLA:CPU's sake (backend/
lowering_control_flow.py, transforms/control_flow_ad.py), with values and gradients
equal to jax's:

- a per-step input used only through static slices or a split is read as dynamic
  slices of the stacked input (one per piece), not one row sliced again;
- a loop-constant weight contracted on its last axis (the backward loop's `g @ w.T`)
  is transposed once, before the loop;
- the backward loop stacks an LSTM's gate cotangent once, and the forward loop stacks
  an output that is also a residual once."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax, nn, random

RNG = np.random.default_rng(0)
T, B, H = 6, 3, 4
XS = RNG.normal(size=(T, B, 4 * H)).astype(np.float32)
W = (RNG.normal(size=(H, 4 * H)) * 0.5).astype(np.float32)


def _cell(np_mod, sigmoid, split_sum=False):
    """An LSTM cell that splits its per-step input and its recurrent product apart
    (funcnet.nn.LSTMCell's form), or (`split_sum`) splits their sum, as usually written."""

    def cell(w, carry, x):
        c, h = carry
        if split_sum:
            i, f, g, o = np_mod.split(x + h @ w, 4, axis=-1)
        else:
            rec = np_mod.split(h @ w, 4, axis=-1)
            i, f, g, o = (a + b for a, b in zip(np_mod.split(x, 4, axis=-1), rec))
        c = sigmoid(f) * c + sigmoid(i) * np_mod.tanh(g)
        h = sigmoid(o) * np_mod.tanh(c)
        return (c, h), h

    return cell


def _loss(np_mod, lax_mod, sigmoid, split_sum=False, **scan_kw):
    cell = _cell(np_mod, sigmoid, split_sum)

    def loss(w, xs):
        z = np_mod.zeros((B, H), np.float32)
        (c, h), ys = lax_mod.scan(lambda carry, x: cell(w, carry, x), (z, z), xs, **scan_kw)
        return np_mod.sum(ys**2) + np_mod.sum(c * h)

    return loss


def _body(text, n=0):
    """The text of the n-th stablehlo.while's body region (its second region)."""
    start = [m.start() for m in re.finditer(r"stablehlo\.while", text)][n]
    return text[start:]


@pytest.mark.parametrize(
    "scan_kw", [{}, {"reverse": True}, {"unroll": 2}, {"split_sum": True}], ids=str
)
def test_split_per_step_input_is_read_as_dynamic_slices(scan_kw):
    f = _loss(fnp, lax, fn.nn.sigmoid, **scan_kw)
    g = _loss(jnp, jax.lax, jax.nn.sigmoid, **scan_kw)
    text = fn.jit(f).lower(W, XS).as_text()
    loop = _body(text)
    # four gate pieces of the (T, B, 4H) input: each its own (1, B, H) dynamic slice
    pieces = re.findall(r"stablehlo\.dynamic_slice.*tensor<1x3x4xf32>", loop)
    assert len(pieces) >= 4 * scan_kw.get("unroll", 1)
    assert "tensor<1x3x16xf32>" not in loop  # the whole row is never read
    np.testing.assert_allclose(float(fn.jit(f)(W, XS)), float(g(W, XS)), rtol=1e-5)
    got = fn.jit(fn.grad(f, argnums=(0, 1)))(W, XS)
    want = jax.grad(g, argnums=(0, 1))(W, XS)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_input_with_other_uses_is_read_whole():
    def f(xs):
        def body(c, x):
            a, b = fnp.split(x, 2, axis=-1)
            return c + a * b + x[:, :1], x.sum()

        return lax.scan(body, fnp.zeros((B, 2 * H)), xs)

    def g(xs):
        def body(c, x):
            a, b = jnp.split(x, 2, axis=-1)
            return c + a * b + x[:, :1], x.sum()

        return jax.lax.scan(body, jnp.zeros((B, 2 * H)), xs)

    (c, ys), (jc, jys) = fn.jit(f)(XS), g(XS)
    np.testing.assert_allclose(np.asarray(c), jc, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ys), jys, rtol=1e-5, atol=1e-5)


def test_constant_weight_of_the_backward_loop_is_transposed_once():
    f = _loss(fnp, lax, fn.nn.sigmoid)
    text = fn.jit(fn.grad(f)).lower(W, XS).as_text()
    backward = _body(text, 1)
    # g @ w.T inside the loop reads w.T (16, 4) contracted on its first axis
    assert re.search(
        r"stablehlo\.dot_general.*lhs_contracting_dimensions = \[1\], "
        r"rhs_contracting_dimensions = \[0\].*tensor<3x16xf32>, tensor<16x4xf32>",
        backward,
    )
    second_loop = text.index("stablehlo.while", text.index("stablehlo.while") + 1)
    assert re.search(
        r"stablehlo\.transpose.*tensor<4x16xf32>\) -> tensor<16x4xf32>", text[:second_loop]
    )
    want = jax.grad(_loss(jnp, jax.lax, jax.nn.sigmoid))(W, XS)
    np.testing.assert_allclose(np.asarray(fn.jit(fn.grad(f))(W, XS)), want, rtol=1e-4, atol=1e-5)


def test_second_order_through_the_rewritten_loops_equals_jax():
    f = _loss(fnp, lax, fn.nn.sigmoid)
    g = _loss(jnp, jax.lax, jax.nn.sigmoid)
    v = RNG.normal(size=W.shape).astype(np.float32)
    hvp = lambda grad, loss: lambda w: (grad(loss)(w, XS) * v).sum()  # noqa: E731
    got = fn.jit(fn.grad(hvp(fn.grad, f)))(W)
    want = jax.grad(hvp(jax.grad, g))(W)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-4)


def _lstm_step_text():
    model = nn.Sequential([nn.LSTM(8), nn.Dense(5)])
    params, _ = model.init(random.key(0), (-1, 7, 3))
    x = RNG.normal(size=(2, 7, 3)).astype(np.float32)
    loss = lambda p: (model.apply(p, x) ** 2).sum()  # noqa: E731
    return fn.jit(fn.grad(loss)).lower(params).as_text()


def test_lstm_backward_stacks_its_gate_cotangent_once():
    # the cotangents of the split input and of the split recurrent product are one value
    text = _lstm_step_text()
    assert len(re.findall(r"stablehlo\.dynamic_update_slice.*-> tensor<7x2x32xf32>", text)) == 1


def test_output_that_is_also_a_residual_is_stacked_once():
    # forward loop: h' is the layer's output and a residual. Stacked: the output h',
    # the carries h and c, the four gate activations and tanh(c'): 8 (9 when h' was
    # stacked once as output and once as residual)
    text = _lstm_step_text()
    forward = text[: text.index("stablehlo.while", text.index("stablehlo.while") + 1)]
    stacks = re.findall(r"stablehlo\.dynamic_update_slice.*-> tensor<7x2x8xf32>", forward)
    assert len(stacks) == 8
