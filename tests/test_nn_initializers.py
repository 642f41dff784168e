"""funcnet.nn.initializers against jax.nn.initializers with the same key (funcnet.random
is bit-compatible with jax.random, and the initializers use jax's algorithms), and
their statistics. One shape is used throughout so each sampler compiles once."""

import jax
import numpy as np
import pytest

import funcnet.numpy as fnp
from funcnet import nn, random
from funcnet.nn import initializers as init

SHAPE = (48, 32)
CONV = (4, 4, 12, 8)  # as many entries as SHAPE
KEY, JKEY = random.key(3), jax.random.key(3)
J = jax.nn.initializers

PAIRS = [
    ("zeros", init.zeros, J.zeros),
    ("ones", init.ones, J.ones),
    ("constant", init.constant(0.3), J.constant(0.3)),
    ("normal", init.normal(0.02), J.normal(0.02)),
    ("uniform", init.uniform(0.5), J.uniform(0.5)),
    ("truncated_normal", init.truncated_normal(0.1), J.truncated_normal(0.1)),
    ("glorot_uniform", init.glorot_uniform(), J.glorot_uniform()),
    ("glorot_normal", init.glorot_normal(), J.glorot_normal()),
    ("he_uniform", init.he_uniform(), J.he_uniform()),
    ("he_normal", init.he_normal(), J.he_normal()),
    ("lecun_uniform", init.lecun_uniform(), J.lecun_uniform()),
    ("lecun_normal", init.lecun_normal(), J.lecun_normal()),
    (
        "variance_scaling_fan_out_normal",
        init.variance_scaling(0.5, "fan_out", "normal"),
        J.variance_scaling(0.5, "fan_out", "normal"),
    ),
    ("orthogonal", init.orthogonal(1.5), J.orthogonal(1.5)),
]


@pytest.mark.parametrize("name,ours,theirs", PAIRS, ids=[p[0] for p in PAIRS])
def test_matches_jax_with_the_same_key(name, ours, theirs):
    got = np.asarray(ours(KEY, SHAPE, np.float32))
    want = np.asarray(theirs(JKEY, SHAPE, np.float32))
    assert got.shape == SHAPE and got.dtype == np.float32
    # uniform-based ones are bit-identical; normal-based within the ulps of erf_inv;
    # orthogonal uses another QR algorithm (Gram-Schmidt) for the same factor.
    tol = 2e-4 if name == "orthogonal" else 1e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_conv_kernel_fans():
    # Receptive field * in / out channels, as jax: he_uniform's limit is
    # sqrt(6 / (4 * 4 * 12)). The bits of a shape are those of its flattening, so jax's
    # draw for SHAPE (same size, already compiled) reshaped is the reference.
    u = np.asarray(jax.random.uniform(JKEY, SHAPE, minval=-1.0)).reshape(CONV)
    np.testing.assert_allclose(
        np.asarray(init.he_uniform()(KEY, CONV)),
        u * np.sqrt(6 / (4 * 4 * 12)),
        rtol=1e-6,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        np.asarray(init.glorot_uniform()(KEY, CONV)),
        u * np.sqrt(6 / (4 * 4 * (12 + 8))),
        rtol=1e-6,
        atol=1e-7,
    )


def test_aliases_and_statistics():
    assert init.xavier_uniform is init.glorot_uniform
    assert init.kaiming_normal is init.he_normal
    w = np.asarray(init.he_normal()(KEY, SHAPE))
    assert abs(w.std() - np.sqrt(2 / SHAPE[0])) < 0.1 * np.sqrt(2 / SHAPE[0])
    u = np.asarray(init.glorot_uniform()(KEY, SHAPE))
    limit = np.sqrt(6 / sum(SHAPE))
    assert u.min() >= -limit and u.max() <= limit and u.max() > 0.9 * limit


def test_orthogonal_is_orthogonal_both_ways():
    wide = np.asarray(init.orthogonal()(KEY, (32, 48)))
    np.testing.assert_allclose(wide @ wide.T, np.eye(32), atol=2e-5)
    tall = np.asarray(init.orthogonal()(KEY, SHAPE))
    np.testing.assert_allclose(tall.T @ tall, np.eye(32), atol=2e-5)
    k = np.asarray(init.orthogonal()(KEY, (2, 2, 4, 8))).reshape(16, 8)
    np.testing.assert_allclose(k.T @ k, np.eye(8), atol=2e-5)


def test_get_by_name_factory_or_callable_and_errors():
    assert init.get("zeros") is init.zeros
    w = init.get("lecun_normal")(KEY, SHAPE)
    np.testing.assert_array_equal(np.asarray(w), np.asarray(init.lecun_normal()(KEY, SHAPE)))
    np.testing.assert_array_equal(
        np.asarray(init.get(init.lecun_normal)(KEY, SHAPE)), np.asarray(w)
    )

    def user(key, shape, dtype):
        return fnp.full(shape, 2.0, dtype)

    assert init.get(user) is user
    with pytest.raises(
        ValueError,
        match=r"unknown initializer 'he_normall' \(did you mean "
        r"'he_normal'\?\); known names: .*glorot_uniform",
    ):
        init.get("he_normall")
    with pytest.raises(
        TypeError,
        match=r"must be an initializer name or a callable "
        r"init\(key, shape, dtype\), got 0.1 of type float",
    ):
        init.get(0.1)
    with pytest.raises(ValueError, match="rank >= 2"):
        init.glorot_uniform()(KEY, (5,))
    with pytest.raises(ValueError, match="mode must be one of"):
        init.variance_scaling(1.0, "fan_sideways", "normal")
    assert "orthogonal" in init.names()


def test_layers_use_their_initializers():
    p, _ = nn.Dense(32, kernel_init="orthogonal").init(KEY, (-1, 48))
    np.testing.assert_allclose(np.asarray(p["w"]).T @ np.asarray(p["w"]), np.eye(32), atol=2e-5)
    # a Dense's kernel is drawn with the layer's key folded with the parameter's index
    p, _ = nn.Dense(32, kernel_init="glorot_uniform").init(KEY, (-1, 48))
    want = J.glorot_uniform()(jax.random.fold_in(JKEY, 0), SHAPE)
    # a few ulps: jax draws it in one fused program, funcnet op by op
    np.testing.assert_allclose(np.asarray(p["w"]), np.asarray(want), rtol=1e-6, atol=1e-7)
