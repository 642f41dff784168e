"""Derivatives of dot_general (batch dimensions), the fnp contractions,
conv_general_dilated (input and kernel; strides, padding, lhs/rhs dilation,
feature and batch groups, layouts) and reduce_window pooling, against jax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grad_testing import assert_close, check_grad_of_sum, check_op, randn, rng

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax

# --- dot_general --------------------------------------------------------------------------

DOTS = {
    "matmul": ((3, 4), (4, 2), (((1,), (0,)), ((), ()))),
    "batch_leading": ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    "batch_inner": ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),
    "two_contractions": ((2, 3, 4), (4, 3, 2), (((1, 2), (1, 0)), ((), ()))),
    "outer": ((3,), (2,), (((), ()), ((), ()))),
    "vector": ((4,), (4,), (((0,), (0,)), ((), ()))),
}


@pytest.mark.parametrize("name", list(DOTS))
def test_dot_general(name):
    ls, rs, dn = DOTS[name]
    r = rng(len(name))
    check_op(
        lambda a, b: lax.dot_general(a, b, dn),
        lambda a, b: jax.lax.dot_general(a, b, dn),
        randn(r, *ls),
        randn(r, *rs),
        rtol=1e-5,
        atol=1e-5,
        order=2 if name == "batch_inner" else 1,
    )


def test_fnp_contractions():
    r = rng(1)
    a, b, v = randn(r, 3, 4), randn(r, 4, 2), randn(r, 4)
    c = randn(r, 2, 3, 4)

    def f(a, b, v, c):
        return [
            fnp.matmul(a, b),
            a @ v,
            fnp.dot(v, v),
            fnp.outer(v, v),
            fnp.einsum("bij,jk->bik", c, b),
            fnp.tensordot(c, a, ((1, 2), (0, 1))),
            fnp.vdot(a, a),
            fnp.inner(a, v),
            c @ b,
        ]

    def jf(a, b, v, c):
        return [
            jnp.matmul(a, b),
            a @ v,
            jnp.dot(v, v),
            jnp.outer(v, v),
            jnp.einsum("bij,jk->bik", c, b),
            jnp.tensordot(c, a, ((1, 2), (0, 1))),
            jnp.vdot(a, a),
            jnp.inner(a, v),
            c @ b,
        ]

    check_op(f, jf, a, b, v, c, rtol=1e-5, atol=1e-5, order=1)


# --- conv_general_dilated -------------------------------------------------------------------

# name -> lhs shape, rhs shape, keyword arguments
CONVS = {
    "strides_padding": (
        (2, 2, 6, 5),
        (3, 2, 3, 2),
        dict(window_strides=(2, 1), padding=((1, 0), (2, 1))),
    ),
    "lhs_dilation": (
        (1, 2, 4, 4),
        (2, 2, 2, 3),
        dict(window_strides=(1, 1), padding=((1, 1), (0, 2)), lhs_dilation=(2, 1)),
    ),
    "rhs_dilation": (
        (2, 2, 6, 6),
        (2, 2, 2, 2),
        dict(window_strides=(1, 2), padding=((0, 0), (1, 1)), rhs_dilation=(2, 3)),
    ),
    "both_dilations_strided": (
        (1, 2, 5, 5),
        (2, 2, 3, 2),
        dict(
            window_strides=(2, 1),
            padding=((2, 1), (1, 1)),
            lhs_dilation=(1, 2),
            rhs_dilation=(2, 1),
        ),
    ),
    "negative_padding": (
        (1, 2, 6, 6),
        (2, 2, 2, 2),
        dict(window_strides=(2, 2), padding=((-1, 0), (1, -2))),
    ),
    "feature_groups": (
        (2, 4, 5, 5),
        (6, 2, 3, 3),
        dict(window_strides=(1, 2), padding=((1, 1), (1, 1)), feature_group_count=2),
    ),
    "depthwise_same": (
        (1, 3, 5, 5),
        (3, 1, 3, 3),
        dict(window_strides=(2, 2), padding="SAME", feature_group_count=3),
    ),
    "batch_groups_strided": (
        (4, 3, 6, 5),
        (2, 3, 2, 2),
        dict(window_strides=(2, 1), padding="VALID", batch_group_count=2),
    ),
    "nhwc_groups_dilated": (
        (1, 6, 5, 4),
        (2, 2, 2, 4),
        dict(
            window_strides=(2, 1),
            padding=((1, 0), (0, 1)),
            rhs_dilation=(1, 2),
            feature_group_count=2,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ),
    ),
    "conv1d": (
        (2, 3, 7),
        (2, 3, 3),
        dict(window_strides=(2,), padding=((1, 2),), rhs_dilation=(2,)),
    ),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_conv_general_dilated(name):
    ls, rs, kw = CONVS[name]
    r = rng(len(name) + 3)
    # jvp and vjp against jax; finite differences (check_grads, to order 2) in
    # test_conv_second_order, which keeps this sweep to a few compiles per config.
    check_op(
        lambda x, k: lax.conv_general_dilated(x, k, **kw),
        lambda x, k: jax.lax.conv_general_dilated(x, k, **kw),
        randn(r, *ls),
        randn(r, *rs),
        rtol=1e-5,
        atol=1e-5,
        cg=False,
    )


@pytest.mark.parametrize("name", ["feature_groups", "batch_groups_strided"])
def test_conv_second_order(name):
    # Derivatives of the transposed convolutions themselves.
    ls, rs, kw = CONVS[name]
    r = rng(len(name) + 5)
    x, k = randn(r, *ls), randn(r, *rs)
    check_op(
        lambda x, k: lax.conv_general_dilated(x, k, **kw),
        lambda x, k: jax.lax.conv_general_dilated(x, k, **kw),
        x,
        k,
        rtol=1e-5,
        atol=1e-5,
        order=2,
    )


def test_conv_grad_of_loss_against_jax():
    ls, rs, kw = CONVS["strides_padding"]
    r = rng(9)
    x, k = randn(r, *ls), randn(r, *rs)

    def f(x, k):
        return fnp.tanh(lax.conv_general_dilated(x, k, **kw))

    def jf(x, k):
        return jnp.tanh(jax.lax.conv_general_dilated(x, k, **kw))

    check_grad_of_sum(f, jf, x, k, argnums=(0, 1), rtol=1e-5, atol=1e-5)


# --- pooling --------------------------------------------------------------------------------


def _pool(mod, kind, x, window, strides, padding):
    if kind == "avg":
        s = mod.reduce_window(
            x, 0.0, "add" if mod is lax else jax.lax.add, window, strides, padding
        )
        return s / float(np.prod(window))
    init = -np.inf if kind == "max" else np.inf
    comp = kind if mod is lax else getattr(jax.lax, kind)
    return mod.reduce_window(x, np.float32(init), comp, window, strides, padding)


POOLS = {
    "2x2_stride2": ((1, 1, 2, 2), (1, 1, 2, 2), "VALID"),
    "3x3_stride2_same": ((1, 1, 3, 3), (1, 1, 2, 2), "SAME"),
    # no window lies wholly in the padding (its -inf/inf would defeat finite differences)
    "overlap_padded": ((1, 2, 2, 2), (1, 1, 1, 2), ((0, 0), (0, 0), (1, 0), (1, 0))),
}


@pytest.mark.parametrize(
    "kind,name",
    [
        ("max", "2x2_stride2"),
        ("avg", "2x2_stride2"),
        ("max", "3x3_stride2_same"),
        ("min", "3x3_stride2_same"),
        ("avg", "3x3_stride2_same"),
        ("max", "overlap_padded"),
        ("min", "overlap_padded"),
        ("avg", "overlap_padded"),
    ],
)
def test_reduce_window(kind, name):
    window, strides, padding = POOLS[name]
    x = randn(rng(10), 2, 3, 5, 4)
    # check_grads (to order 2) on the overlapping, padded windows; jax elsewhere.
    check_op(
        lambda x: _pool(lax, kind, x, window, strides, padding),
        lambda x: _pool(jax.lax, kind, x, window, strides, padding),
        x,
        cg=name == "overlap_padded",
    )


def test_max_pool_ties_like_jax():
    # Ties inside a window: jax's select_and_scatter sends the whole gradient to one
    # position (the first maximum); so do we.
    x = np.array(
        [
            [1.0, 1.0, 0.0, 2.0],
            [1.0, 0.5, 2.0, 2.0],
            [3.0, 3.0, -1.0, -1.0],
            [3.0, 3.0, -1.0, -1.0],
        ],
        np.float32,
    )[None, None]
    for window, strides in [((1, 1, 2, 2), (1, 1, 2, 2)), ((1, 1, 2, 2), (1, 1, 1, 1))]:
        for kind in ("max", "min"):
            check_grad_of_sum(
                lambda x, kind=kind, window=window, strides=strides: _pool(
                    lax, kind, x, window, strides, "VALID"
                ),
                lambda x, kind=kind, window=window, strides=strides: _pool(
                    jax.lax, kind, x, window, strides, "VALID"
                ),
                x,
            )


@pytest.mark.parametrize("kind", ["max", "min"])
def test_pool_with_base_dilation(kind):
    x = randn(rng(14), 1, 2, 5, 4)
    kw = dict(
        window_dimensions=(1, 1, 3, 2),
        window_strides=(1, 1, 2, 1),
        padding=((0, 0), (0, 0), (1, 1), (0, 1)),
        base_dilation=(1, 1, 2, 2),
    )
    init = np.float32(-np.inf if kind == "max" else np.inf)
    check_op(
        lambda x: lax.reduce_window(x, init, kind, **kw),
        lambda x: jax.lax.reduce_window(x, init, getattr(jax.lax, kind), **kw),
        x,
        cg=False,
    )


def test_window_dilation_sum_pool():
    x = randn(rng(11), 1, 2, 7, 6)
    kw = dict(
        window_dimensions=(1, 1, 2, 2),
        window_strides=(1, 1, 1, 2),
        padding=((0, 0), (0, 0), (1, 1), (0, 1)),
        base_dilation=(1, 1, 2, 1),
        window_dilation=(1, 1, 1, 2),
    )
    check_op(
        lambda x: lax.reduce_window(x, 0.0, "add", **kw),
        lambda x: jax.lax.reduce_window(x, 0.0, jax.lax.add, **kw),
        x,
        order=1,
    )


def test_fnp_reductions_and_statistics():
    r = rng(12)
    x = randn(r, 3, 4)

    def f(x):
        return [
            fnp.mean(x, axis=0),
            fnp.var(x, axis=1),
            fnp.std(x),
            fnp.sum(x * x),
            fnp.logsumexp(x, axis=1),
            fnp.max(x, axis=0),
            fnp.min(x),
            fnp.mean(x, axis=1, keepdims=True),
        ]

    def jf(x):
        return [
            jnp.mean(x, axis=0),
            jnp.var(x, axis=1),
            jnp.std(x),
            jnp.sum(x * x),
            jax.nn.logsumexp(x, axis=1),
            jnp.max(x, axis=0),
            jnp.min(x),
            jnp.mean(x, axis=1, keepdims=True),
        ]

    check_op(f, jf, x, rtol=1e-5, atol=1e-5, order=1)


def test_fnp_elementwise_wrappers():
    # The fnp spellings that are more than one primitive (the primitives themselves are
    # covered in test_grad_elementwise).
    r = rng(13)
    x = r.uniform(0.3, 0.9, (3, 4)).astype(np.float32)
    y = r.uniform(0.5, 1.5, (3, 4)).astype(np.float32)

    def f(x, y):
        return [
            fnp.log2(x),
            fnp.log10(x),
            fnp.arccosh(y + 1),
            fnp.power(y, x),
            x**3,
            y**-1.5,
            fnp.true_divide(x, y),
            fnp.mod(x, y + 0.5),
            fnp.sqrt(x * y),
        ]

    def jf(x, y):
        return [
            jnp.log2(x),
            jnp.log10(x),
            jnp.arccosh(y + 1),
            jnp.power(y, x),
            x**3,
            y**-1.5,
            jnp.true_divide(x, y),
            jnp.mod(x, y + 0.5),
            jnp.sqrt(x * y),
        ]

    check_op(f, jf, x, y, rtol=1e-5, atol=1e-5, order=1)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_gradients(dtype):
    # Gradients keep the input dtype through dense, conv and pooling layers.
    r = rng(15)
    x, w = randn(r, 3, 4).astype(dtype), randn(r, 4, 2).astype(dtype)
    img, k = randn(r, 1, 1, 4, 4).astype(dtype), randn(r, 2, 1, 2, 2).astype(dtype)

    def f(mod, lax_, x, w, img, k):
        conv = lax_.conv_general_dilated(img, k, (1, 1), "SAME")
        pooled = lax_.reduce_window(
            conv, -np.inf, "max" if mod is fnp else jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"
        )
        return (mod.sum(mod.tanh(x @ w) ** 2) + mod.sum(pooled)).astype(np.float32)

    got = fn.grad(lambda *a: f(fnp, lax, *a), argnums=(0, 1, 2, 3))(x, w, img, k)
    want = jax.jit(jax.grad(lambda *a: f(jnp, jax.lax, *a), argnums=(0, 1, 2, 3)))(x, w, img, k)
    for g, wnt in zip(got, want):
        assert g.dtype == wnt.dtype == np.dtype(x.dtype)
    tol = 2e-2 if dtype == "float16" else 8e-2  # a few ulps (bfloat16 keeps 8 bits)
    assert_close(got, want, rtol=tol, atol=tol)


def test_preferred_element_type_gradients():
    # bfloat16 operands accumulated in float32: cotangents come back as bfloat16.
    r = rng(16)
    a, b = randn(r, 3, 4).astype("bfloat16"), randn(r, 4, 2).astype("bfloat16")
    img, k = randn(r, 1, 2, 4, 4).astype("bfloat16"), randn(r, 3, 2, 2, 2).astype("bfloat16")
    dn = (((1,), (0,)), ((), ()))

    def f(lax_, np_, a, b, img, k):
        d = lax_.dot_general(a, b, dn, preferred_element_type=np.float32)
        c = lax_.conv_general_dilated(
            img, k, (1, 1), ((1, 0), (0, 1)), preferred_element_type=np.float32
        )
        return np_.sum(d**2) + np_.sum(np_.sin(c))

    got = fn.grad(lambda *x: f(lax, fnp, *x), argnums=(0, 1, 2, 3))(a, b, img, k)
    want = jax.jit(jax.grad(lambda *x: f(jax.lax, jnp, *x), argnums=(0, 1, 2, 3)))(a, b, img, k)
    for g, wnt in zip(got, want):
        assert g.dtype == wnt.dtype
    assert_close(got, want, rtol=2e-2, atol=2e-2)


TRANSPOSABLE = {
    "max_pool": (
        lambda m: lambda x: _pool(m, "max", x, (1, 1, 2, 2), (1, 1, 1, 2), "SAME"),
        (1, 2, 4, 5),
    ),
    "avg_pool": (
        lambda m: lambda x: _pool(m, "avg", x, (1, 1, 2, 2), (1, 1, 2, 1), "VALID"),
        (1, 2, 4, 5),
    ),
    "conv": (
        lambda m: (
            lambda x: m.conv_general_dilated(
                x, np.ones((3, 2, 2, 2), np.float32), (2, 1), ((1, 0), (0, 1))
            )
        ),
        (1, 2, 4, 5),
    ),
}


@pytest.mark.parametrize("name", list(TRANSPOSABLE))
def test_transpose_of_transpose(name):
    # vjp is linear in the cotangent: its own vjp runs the transpose rules of the
    # transposed primitives (select_and_scatter_add, padded/strided convolutions) and
    # must give back the forward-mode derivative.
    make, shape = TRANSPOSABLE[name]
    f, jf = make(lax), make(jax.lax)
    r = rng(17)
    x, v = randn(r, *shape), randn(r, *shape)
    ct = randn(r, *jax.eval_shape(jf, x).shape)
    f_vjp = fn.vjp(f, x)[1]
    got = fn.vjp(lambda c: f_vjp(c)[0], fn.asarray(ct))[1](fn.asarray(v))[0]
    want = jax.jvp(jf, (x,), (v,))[1]
    assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert_close(got, fn.jvp(f, (x,), (v,))[1], rtol=1e-5, atol=1e-5)
