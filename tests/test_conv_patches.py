"""nn.Conv's CPU patches form (funcnet/nn/conv_patches.py): the same values and
derivatives as the convolution primitive (and jax) for every padding, stride and
dilation in 1-3 spatial dimensions; taken only where it should be (on CPU, small
patches, and only under differentiation: a forward pass alone keeps the convolution);
exporters get the convolution itself."""

import jax
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn, random
from funcnet.nn import conv_patches
from funcnet.test_util import check_grads

RNG = np.random.default_rng(0)


def _prims(f, *args):
    return {e.primitive.name for e in fn.make_jaxpr(f)(*args).jaxpr.eqns}


def _grad_prims(f, *args):
    """The primitives of f's gradient program (f differentiated: the patches form)."""
    return _prims(fn.grad(lambda *a: fnp.sum(f(*a))), *args)


def _differentiated(f, *args):
    """f's value computed under differentiation (a JVP trace), i.e. in the form grad's
    forward pass uses."""
    return fn.jvp(f, args, fn.tree.tree_map(fnp.zeros_like, args))[0]


def _case(n_sp, kernel, strides, padding, dilation, features=5, channels=3):
    layer = nn.Conv(features, kernel, strides=strides, padding=padding, kernel_dilation=dilation)
    shape = (2,) + (9, 8, 7)[:n_sp] + (channels,)
    params, _ = layer.init(random.key(1), shape)
    x = RNG.normal(size=shape).astype(np.float32)
    return layer, params, x


CASES = [
    (1, (3,), (1,), "SAME", (1,)),
    (1, (4,), (2,), "CAUSAL", (1,)),
    (2, (3, 3), (1, 1), "SAME", (1, 1)),
    (2, (3, 2), (2, 1), "VALID", (1, 1)),
    (2, (3, 3), (2, 2), ((2, 1), (0, 2)), (1, 1)),
    (2, (2, 3), (1, 2), "SAME", (2, 1)),
    (2, (1, 1), (1, 1), "VALID", (1, 1)),
    (3, (2, 3, 2), (1, 2, 1), "SAME", (1, 1, 2)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}d-k{c[1]}-s{c[2]}-{c[3]}-d{c[4]}")
def test_values_and_gradients_equal_the_convolution(case):
    layer, params, x = _case(*case)
    patches = lambda p, x: fnp.sum(fnp.tanh(layer.apply(p, x)))  # noqa: E731
    assert "conv_general_dilated" not in _grad_prims(patches, params, x)
    assert "conv_general_dilated" in _prims(patches, params, x)  # a forward pass alone
    with conv_patches.convolution_primitives():
        assert "conv_general_dilated" in _grad_prims(patches, params, x)
        want_y = layer.apply(params, x)
        want_g = fn.grad(patches, argnums=(0, 1))(params, x)
    got_y = _differentiated(layer.apply, params, x)
    got_g = fn.jit(fn.grad(patches, argnums=(0, 1)))(params, x)
    np.testing.assert_allclose(np.asarray(got_y), np.asarray(want_y), rtol=2e-5, atol=2e-5)
    for a, b in zip(fn.tree.tree_leaves(got_g), fn.tree.tree_leaves(want_g)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5)


def test_equals_jax_conv():
    layer, params, x = _case(2, (3, 3), (2, 1), "SAME", (1, 1))
    pads = ((1, 1), (1, 1))
    want = jax.lax.conv_general_dilated(
        x, np.asarray(params["w"]), (2, 1), pads, dimension_numbers=("NHWC", "HWIO", "NHWC")
    ) + np.asarray(params["b"])
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)), want, rtol=2e-5, atol=2e-5)


def test_second_order_and_finite_differences():
    layer, params, x = _case(2, (2, 2), (1, 1), "SAME", (1, 1), features=2, channels=2)
    with fn.enable_x64():
        p64 = fn.tree.tree_map(lambda a: np.asarray(a, np.float64), params)
        x64 = np.asarray(x[:1, :4, :4], np.float64)
        f = lambda w, x: fnp.sum(fnp.sin(layer.apply({"w": w, "b": p64["b"]}, x)))  # noqa: E731
        assert "conv_general_dilated" not in _grad_prims(f, p64["w"], x64)
        check_grads(f, (p64["w"], x64), order=2, modes=("rev",))


def test_taken_only_where_it_pays():
    small = nn.Conv(8, (3, 3))
    params, _ = small.init(random.key(0), (4, 8, 8, 3))
    x = fnp.ones((4, 8, 8, 3))
    assert "conv_general_dilated" not in _grad_prims(small.apply, params, x)
    assert "conv_general_dilated" in _prims(small.apply, params, x)  # not differentiated
    # patches over the budget: 64 * 64 * 64 * 9 * 16 * 4 bytes = 144 MiB
    big = nn.Conv(4, (3, 3))
    bp, _ = big.init(random.key(0), (64, 64, 64, 16))
    assert "conv_general_dilated" in _grad_prims(big.apply, bp, fnp.ones((64, 64, 64, 16)))
    grouped = nn.Conv(8, (3, 3), feature_group_count=2)
    gp, _ = grouped.init(random.key(0), (4, 8, 8, 4))
    assert "conv_general_dilated" in _grad_prims(grouped.apply, gp, fnp.ones((4, 8, 8, 4)))
    # integer inputs keep the primitive
    pads = ((0, 0), (0, 0))
    assert not conv_patches.takes_patches((1, 4, 4, 1), np.int32, (2, 2), (1, 1), pads, (1, 1), 1)


def test_exporters_get_the_convolution():
    from funcnet.demo import cnn

    model = cnn()
    params, _ = model.init(random.key(0), (2, 8, 8, 1))
    x = np.ones((2, 8, 8, 1), np.float32)
    # a differentiated program, which would otherwise take the patches form
    grad = fn.jit(fn.grad(lambda p, x: fnp.sum(model.apply(p, x))))
    assert "conv_general_dilated" not in _prims(grad, params, x)
    exported = fn.export.export(grad)(params, x)
    assert "stablehlo.convolution" in exported.mlir_module()
    assert "stablehlo.convolution" in fn.export.export(fn.jit(model.apply))(params, x).mlir_module()


def test_bfloat16_and_float16():
    for dt in (fnp.bfloat16, fnp.float16):
        layer = nn.Conv(4, (3, 3), dtype=dt)
        params, _ = layer.init(random.key(0), (2, 6, 6, 3))
        x = fnp.asarray(RNG.normal(size=(2, 6, 6, 3))).astype(dt)
        got = _differentiated(layer.apply, params, x)
        with conv_patches.convolution_primitives():
            want = layer.apply(params, x)
        assert got.dtype == want.dtype == dt
        np.testing.assert_allclose(
            np.asarray(got, np.float32), np.asarray(want, np.float32), rtol=3e-2, atol=3e-2
        )
