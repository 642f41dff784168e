"""funcnet.nn's jax.nn functions (celu, selu, glu, hard_*, log_sigmoid, log1mexp, mish,
soft_sign, sparse_*, squareplus, identity, one_hot, standardize, logmeanexp) against
jax.nn: values, dtype, weak type, float32 and float64, eager and jit, derivatives, vmap."""

import jax
import jax.nn as jnn
import numpy as np
import pytest
from scipy_testing import RTOL, assert_like_jax, dtype_fixture, weak  # noqa: F401

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn
from funcnet.test_util import check_grads

rng = np.random.default_rng(2)
X = np.array([-5.0, -1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.5, 7.0])

ELEMENTWISE = [
    "celu",
    "selu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "identity",
    "log_sigmoid",
    "mish",
    "soft_sign",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
]


def test_every_jax_nn_function_exists_with_jax_signature():
    import inspect

    omitted = {"get_scaled_dot_general_config", "scaled_dot_general", "scaled_matmul"}
    names = {n for n in dir(jnn) if not n.startswith("_")} - omitted
    assert not sorted(names - set(dir(nn)))
    for name in ELEMENTWISE + ["glu", "log1mexp", "one_hot", "standardize", "logmeanexp"]:
        ours = list(inspect.signature(getattr(nn, name)).parameters.values())
        theirs = list(inspect.signature(getattr(jnn, name)).parameters.values())
        assert [(p.name, p.kind, p.default) for p in ours] == [
            (p.name, p.kind, p.default) for p in theirs
        ], name


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_match_jax(name, dtype):
    x = X.astype(dtype)
    assert_like_jax(getattr(nn, name)(x), getattr(jnn, name)(x), rtol=4 * RTOL[dtype])
    # Python scalars: weakly typed as jax's.
    got, want = getattr(nn, name)(0.5), getattr(jnn, name)(0.5)
    assert weak(got) == jax.typeof(want).weak_type


def test_options_match_jax(dtype):
    x = X.astype(dtype)
    assert_like_jax(nn.celu(x, alpha=0.5), jnn.celu(x, alpha=0.5))
    assert_like_jax(nn.squareplus(x, b=0.5), jnn.squareplus(x, b=0.5))
    y = rng.standard_normal((3, 4, 6)).astype(dtype)
    for axis in (-1, 1):
        assert_like_jax(nn.glu(y, axis=axis), jnn.glu(y, axis=axis), rtol=4 * RTOL[dtype])


def test_log1mexp(dtype):
    x = np.array([1e-6, 0.01, 0.5, np.log(2.0), 1.0, 5.0, 40.0], dtype)
    # At 40 the value is -4e-18: jax's compiled log1p may round it to 0.
    assert_like_jax(nn.log1mexp(x), jnn.log1mexp(x), rtol=4 * RTOL[dtype], atol=1e-16)
    x64 = x.astype(np.float64)
    want = np.where(x64 < np.log(2), np.log(-np.expm1(-x64)), np.log1p(-np.exp(-x64)))
    np.testing.assert_allclose(nn.log1mexp(x), want, rtol=10 * RTOL[dtype], atol=1e-16)


@pytest.mark.parametrize("name", ["log_sigmoid", "mish", "selu", "hard_silu", "log1mexp"])
def test_jit_matches_eager(name, dtype):
    x = (np.abs(X) + 0.1 if name == "log1mexp" else X).astype(dtype)
    f = getattr(nn, name)
    np.testing.assert_allclose(fn.jit(f)(x), f(x), rtol=10 * RTOL[dtype])


# Points away from the kinks (where the one-sided derivatives differ).
SMOOTH = ["celu", "selu", "log_sigmoid", "mish", "soft_sign", "squareplus", "log1mexp"]
PIECEWISE = ["hard_sigmoid", "hard_silu", "hard_tanh", "sparse_plus", "sparse_sigmoid"]


@pytest.mark.parametrize("name", SMOOTH + PIECEWISE)
def test_grads_match_jax(name, dtype):
    x = np.array([-2.2, -0.6, 0.35, 1.7, 4.1], dtype)
    if name == "log1mexp":
        x = np.abs(x)
    f = getattr(nn, name)
    if dtype == np.float64:
        check_grads(f, (x,), order=2 if name in SMOOTH else 1, modes=("fwd", "rev"))
    got = fn.vmap(fn.grad(f))(x)
    # the reference under jax.jit: one program, where jax's eager mode compiles every op
    want = jax.jit(jax.vmap(jax.grad(getattr(jnn, name))))(x)
    np.testing.assert_allclose(got, want, rtol=10 * RTOL[dtype], atol=1e-7)


def test_grads_at_the_kinks_as_jax():
    # The value jax picks at each kink (its where/clip/max rules), not an average.
    for name, points in [
        ("hard_tanh", [-1.0, 1.0]),
        ("sparse_plus", [-1.0, 1.0]),
        ("sparse_sigmoid", [-1.0, 1.0]),
        ("celu", [0.0]),
        ("selu", [0.0]),
        ("hard_sigmoid", [-3.0, 3.0]),
    ]:
        x = np.array(points, np.float32)
        got = fn.vmap(fn.grad(getattr(nn, name)))(x)
        want = jax.vmap(jax.grad(getattr(jnn, name)))(x)
        np.testing.assert_allclose(got, want, err_msg=name)


def test_log1mexp_custom_derivative():
    # jax's rule 1 / expm1(x): finite and accurate for tiny x.
    x = np.array([1e-6, 0.1, 30.0], np.float32)
    got = fn.vmap(fn.grad(nn.log1mexp))(x)
    np.testing.assert_allclose(got, 1 / np.expm1(x.astype(np.float64)), rtol=1e-5)
    np.testing.assert_allclose(got, jax.jit(jax.vmap(jax.grad(jnn.log1mexp)))(x), rtol=1e-6)


def test_glu_grad_and_vmap():
    y = rng.standard_normal((3, 4)).astype(np.float32)
    got = fn.grad(lambda y: nn.glu(y).sum())(y)
    want = jax.grad(lambda y: jnn.glu(y).sum())(y)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    per_row = fn.vmap(nn.glu)(y)
    np.testing.assert_allclose(per_row, np.stack([np.asarray(nn.glu(r)) for r in y]), rtol=1e-6)


# ---- one_hot, standardize, logmeanexp -----------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_matches_jax(axis, dtype):
    labels = np.array([[0, 3, 1], [2, -1, 5]])
    got = nn.one_hot(labels, 4, axis=axis)
    assert_like_jax(got, jnn.one_hot(labels, 4, axis=axis))
    got = nn.one_hot(labels, 4, dtype=np.int8)
    assert_like_jax(got, jnn.one_hot(labels, 4, dtype=np.int8))


def test_one_hot_under_jit_and_vmap():
    labels = np.array([0, 2, 1], np.int32)
    f = fn.jit(lambda x: nn.one_hot(x, 3))
    np.testing.assert_array_equal(f(labels), np.eye(3, dtype=np.float32)[labels])
    got = fn.vmap(lambda x: nn.one_hot(x, 3))(labels)
    np.testing.assert_array_equal(got, np.eye(3, dtype=np.float32)[labels])


@pytest.mark.parametrize(
    "kw",
    [{}, {"axis": 0}, {"axis": (0, 1)}, {"algorithm": "stable"}, {"epsilon": 0.1}],
    ids=["default", "axis0", "axis01", "stable", "eps"],
)
def test_standardize_matches_jax(kw, dtype):
    x = (rng.standard_normal((3, 5)) * 3 + 1).astype(dtype)
    assert_like_jax(nn.standardize(x, **kw), jnn.standardize(x, **kw), rtol=50 * RTOL[dtype])


def test_standardize_given_stats_where_grad(dtype):
    x = rng.standard_normal((2, 6)).astype(dtype)
    mean, var = np.float32(0.3).astype(dtype), np.float32(2.0).astype(dtype)
    kw = {"mean": mean, "variance": var}
    assert_like_jax(nn.standardize(x, **kw), jnn.standardize(x, **kw), rtol=4 * RTOL[dtype])
    where = np.arange(6) % 2 == 0
    got, want = nn.standardize(x, where=where), jnn.standardize(x, where=where)
    assert_like_jax(got, want, rtol=50 * RTOL[dtype])
    f = lambda x: (nn.standardize(x) * np.arange(6)).sum()  # noqa: E731
    g = lambda x: (jnn.standardize(x) * np.arange(6)).sum()  # noqa: E731
    np.testing.assert_allclose(fn.grad(f)(x), jax.grad(g)(x), rtol=1e-3, atol=1e-5)
    if dtype == np.float64:
        check_grads(lambda x: nn.standardize(x, algorithm="stable"), (x,), order=2)


@pytest.mark.parametrize(
    "kw",
    [{}, {"axis": 1}, {"axis": 0, "keepdims": True}, {"axis": 1, "where": "mask"}],
    ids=["all", "axis1", "keepdims", "where"],
)
def test_logmeanexp_matches_jax(kw, dtype):
    x = (rng.standard_normal((3, 4)) * 100).astype(dtype)
    if kw.get("where") == "mask":
        kw = dict(kw, where=np.array([True, False, True, True]))
    assert_like_jax(nn.logmeanexp(x, **kw), jnn.logmeanexp(x, **kw))
    got = fn.grad(lambda x: nn.logmeanexp(x, **kw).sum())(x)
    want = jax.jit(jax.grad(lambda x: jnn.logmeanexp(x, **kw).sum()))(x)
    np.testing.assert_allclose(got, want, rtol=10 * RTOL[dtype], atol=1e-30)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_where_matches_jax(name, dtype):
    x = (rng.standard_normal((3, 4)) * 10).astype(dtype)
    where = np.array([True, False, True, True])
    f, g = getattr(nn, name), getattr(jnn, name)
    assert_like_jax(f(x, where=where), g(x, where=where), rtol=10 * RTOL[dtype])
    assert_like_jax(f(x, axis=None), g(x, axis=None), rtol=10 * RTOL[dtype], atol=1e-30)
    weights = np.where(where, np.arange(4.0), 0.0).astype(dtype)
    got = fn.grad(lambda x: (f(x, where=where) * weights).sum())(x)
    want = jax.jit(jax.grad(lambda x: (g(x, where=where) * weights).sum()))(x)
    np.testing.assert_allclose(got, want, rtol=50 * RTOL[dtype], atol=1e-6)


def test_nn_logsumexp_takes_jax_parameters():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    got, sign = nn.logsumexp(x, -1, b, return_sign=True)
    want, want_sign = jnn.logsumexp(x, -1, b, return_sign=True)
    assert_like_jax(got, want)
    np.testing.assert_array_equal(np.asarray(sign), np.asarray(want_sign))
    # The default axis is jax's None: every axis.
    assert nn.logsumexp(x).shape == ()
    assert_like_jax(nn.logsumexp(x), jnn.logsumexp(x))
    where = np.array([True, False, True])
    big = x * 1e3  # the masked entry must not put nan into the gradient
    got = fn.grad(lambda x: nn.logsumexp(x, axis=-1, where=where).sum())(big)
    want = jax.grad(lambda x: jnn.logsumexp(x, axis=-1, where=where).sum())(big)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_as_layers_in_sequential():
    model = nn.Sequential([nn.Dense(4), nn.selu, nn.mish, nn.hard_tanh])
    params, out_shape = model.init(fn.random.key(0), (-1, 3))
    assert out_shape == (-1, 4)
    y = model.apply(params, fnp.ones((2, 3)))
    assert y.shape == (2, 4)


def test_errors():
    with pytest.raises(ValueError, match=r"glu: the size of axis -1 must be even.*\(2, 3\)"):
        nn.glu(fnp.ones((2, 3)))
    with pytest.raises(TypeError, match="one_hot: num_classes must be a concrete"):
        nn.one_hot(fnp.array([0, 1]), 2.5)
    with pytest.raises(ValueError, match="one_hot: axis 3 is out of range"):
        nn.one_hot(fnp.array([0, 1]), 2, axis=3)
    with pytest.raises(ValueError, match="Unknown algorithm 'slow'"):
        nn.standardize(fnp.ones(3), algorithm="slow")
