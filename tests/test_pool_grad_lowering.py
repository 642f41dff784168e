"""Max/min pooling's gradient (select_and_scatter_add) on CPU: windows that tile the
operand lower to elementwise selects instead of stablehlo.select_and_scatter (which
XLA:CPU expands into index arrays and a serial scatter); the gradient must equal jax's
exactly: ties go to the first position of a window, NaN and infinities move the choice
as XLA's select_and_scatter does, rows a VALID window leaves out get zero."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
from funcnet import lax

# (operand shape, window = strides, padding): all tile the operand
TILED = {
    "nhwc_2x2": ((2, 8, 8, 3), (1, 2, 2, 1), "VALID"),
    "remainder": ((2, 9, 7, 3), (1, 2, 2, 1), "VALID"),
    "3x3": ((1, 9, 6, 2), (1, 3, 3, 1), "VALID"),
    "1d": ((12,), (3,), "VALID"),
    "3d": ((1, 4, 6, 4, 2), (1, 2, 2, 2, 1), "VALID"),
    "global": ((2, 4, 4, 3), (1, 4, 4, 1), "SAME"),
}


def _values(r, shape, mode):
    x = r.standard_normal(shape).astype(np.float32)
    if mode == "ties":  # relu'd, rounded: whole windows of equal values
        x = np.maximum(np.round(x * 2) / 2, 0).astype(np.float32)
    elif mode == "nonfinite":
        x[r.random(shape) < 0.2] = np.nan
        x[r.random(shape) < 0.2] = -np.inf
        x[r.random(shape) < 0.1] = np.inf
    return x


def _grads(x, g, kind, window, padding):
    init = -np.inf if kind == "max" else np.inf

    def f(x):
        return lax.reduce_window(x, np.float32(init), kind, window, window, padding)

    def jf(x):
        return jax.lax.reduce_window(
            x, np.float32(init), getattr(jax.lax, kind), window, window, padding
        )

    want = jax.vjp(jf, jnp.asarray(x))[1](jnp.asarray(g))[0]
    eager = fn.vjp(f, x)[1](g)[0]
    return np.asarray(want), np.asarray(eager), f


@pytest.mark.parametrize("name", list(TILED))
@pytest.mark.parametrize("kind", ["max", "min"])
def test_tiled_pool_gradient_equals_jax(name, kind):
    shape, window, padding = TILED[name]
    r = np.random.default_rng(len(name))
    # random, tied and non-finite values side by side along the first axis: one program
    x = np.concatenate([_values(r, shape, m) for m in ("random", "ties", "nonfinite")])
    out_shape = jax.eval_shape(
        lambda x: jax.lax.reduce_window(x, -np.inf, jax.lax.max, window, window, padding),
        jax.ShapeDtypeStruct(x.shape, np.float32),
    ).shape
    g = r.standard_normal(out_shape).astype(np.float32)
    want, eager, _ = _grads(x, g, kind, window, padding)
    np.testing.assert_array_equal(eager, want, err_msg=f"{name} {kind}")


def test_tiled_pool_gradient_jit_and_lowering():
    window = (1, 2, 2, 1)
    x = _values(np.random.default_rng(3), (2, 9, 8, 3), "ties")
    g = np.random.default_rng(4).standard_normal((2, 4, 4, 3)).astype(np.float32)
    want, _, f = _grads(x, g, "max", window, "VALID")

    def vjp_of(x, g):
        return fn.vjp(f, x)[1](g)[0]

    np.testing.assert_array_equal(np.asarray(fn.jit(vjp_of)(x, g)), want)
    text = fn.jit(vjp_of).lower(x, g).as_text()
    assert '"stablehlo.select_and_scatter"' not in text
    assert '"stablehlo.compare"' in text


@pytest.mark.parametrize("bits", ["bfloat16", "float16"])
def test_tiled_pool_gradient_low_precision(bits):
    dt = jnp.dtype(bits)
    x = _values(np.random.default_rng(5), (2, 4, 4, 2), "ties").astype(dt)
    g = np.random.default_rng(6).standard_normal((2, 2, 2, 2)).astype(dt)
    want, eager, _ = _grads(x, g, "max", (1, 2, 2, 1), "VALID")
    np.testing.assert_array_equal(eager.astype(np.float32), want.astype(np.float32))


def test_overlapping_windows_keep_select_and_scatter():
    # Overlapping windows sum several sources into one element: not tiled.
    x = _values(np.random.default_rng(7), (1, 5, 5, 2), "ties")

    def f(x):
        return lax.reduce_window(x, np.float32(-np.inf), "max", (1, 3, 3, 1), (1, 2, 2, 1), "SAME")

    def vjp_of(x, g):
        return fn.vjp(f, x)[1](g)[0]

    g = np.random.default_rng(8).standard_normal((1, 3, 3, 2)).astype(np.float32)

    def jf(x):
        return jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")

    want = jax.vjp(jf, jnp.asarray(x))[1](jnp.asarray(g))[0]
    np.testing.assert_array_equal(np.asarray(fn.jit(vjp_of)(x, g)), np.asarray(want))
    assert '"stablehlo.select_and_scatter"' in fn.jit(vjp_of).lower(x, g).as_text()
