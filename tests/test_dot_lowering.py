"""dot_general contracting both operands' leading axes (a weight gradient over batch and
time) lowers with those axes merged into one: a 2-D product XLA:CPU runs without copying
the larger operand into a transposed layout. Values equal jax's."""

import jax
import numpy as np
import pytest

import funcnet as fn
from funcnet import lax

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("k", [2, 3])
def test_leading_contractions_merge_and_equal_jax(k):
    lead = (3, 4, 2)[:k]
    x = RNG.normal(size=(*lead, 5)).astype(np.float32)
    y = RNG.normal(size=(*lead, 6, 2)).astype(np.float32)
    dims = ((tuple(range(k)), tuple(range(k))), ((), ()))
    f = lambda x, y: lax.dot_general(x, y, dims)  # noqa: E731
    text = fn.jit(f).lower(x, y).as_text()
    assert "lhs_contracting_dimensions = [0], rhs_contracting_dimensions = [0]" in text
    assert text.count("stablehlo.reshape") == 2
    want = jax.lax.dot_general(x, y, dims)
    np.testing.assert_allclose(np.asarray(fn.jit(f)(x, y)), want, rtol=1e-5, atol=1e-5)
    gx, gy = fn.grad(lambda x, y: (f(x, y) ** 2).sum(), argnums=(0, 1))(x, y)
    jx, jy = jax.grad(lambda x, y: (jax.lax.dot_general(x, y, dims) ** 2).sum(), (0, 1))(x, y)
    np.testing.assert_allclose(np.asarray(gx), jx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gy), jy, rtol=1e-4, atol=1e-4)


def test_other_contractions_are_left_alone():
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    y = RNG.normal(size=(4, 3, 6)).astype(np.float32)
    dims = (((0, 1), (1, 0)), ((), ()))  # not the same leading order on both sides
    text = fn.jit(lambda x, y: lax.dot_general(x, y, dims)).lower(x, y).as_text()
    assert "stablehlo.reshape" not in text
    want = jax.lax.dot_general(x, y, dims)
    got = fn.jit(lambda x, y: lax.dot_general(x, y, dims))(x, y)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
