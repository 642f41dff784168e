"""funcnet.nn.losses and the activations against formulas written in jax.numpy /
jax.nn (no optax), with their gradients, for ordinary and extreme inputs (logits of
1e4 must stay finite). Everything on one side is computed in one jitted function, so
each side compiles once per test."""

import functools

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn
from funcnet.nn import losses

RNG = np.random.default_rng(0)
LOGITS = (3 * RNG.standard_normal((6, 5))).astype(np.float32)
LOGITS[0] = [1e4, -1e4, 0, 5e3, 1e4]  # extreme row
LABELS = np.array([0, 3, 4, 1, 2, 2], np.int32)
PAD = -100
LABELS_PAD = np.array([0, PAD, 4, 1, PAD, 2], np.int32)
_E = np.exp(RNG.standard_normal((6, 5)))
PROBS = (_E / _E.sum(-1, keepdims=True)).astype(np.float32)
PROBS[1, 2] = 0.0  # a zero target (0 log 0 = 0)
PROBS[1] /= PROBS[1].sum()
PRED = RNG.standard_normal((6, 5)).astype(np.float32)
TARGET = (PRED + 2 * RNG.standard_normal((6, 5))).astype(np.float32)
BIN = (RNG.random((6, 5)) > 0.5).astype(np.float32)


def jax_ce_int(logits, labels, smoothing=0.0, ignore=None):
    logp = jax.nn.log_softmax(logits)
    k = logits.shape[-1]
    valid = jnp.ones(labels.shape, bool) if ignore is None else labels != ignore
    safe = jnp.where(valid, labels, 0)
    target = jax.nn.one_hot(safe, k) * (1 - smoothing) + smoothing / k
    per = -jnp.sum(target * logp, -1)
    return jnp.sum(jnp.where(valid, per, 0)) / jnp.sum(valid)


def jax_ce_probs(logits, probs):
    return jnp.mean(-jnp.sum(probs * jax.nn.log_softmax(logits), -1))


def jax_bce(logits, z):
    return jnp.mean(-(z * jax.nn.log_sigmoid(logits) + (1 - z) * jax.nn.log_sigmoid(-logits)))


def jax_huber(p, t, delta):
    e = jnp.abs(p - t)
    return jnp.mean(jnp.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)))


def jax_kl(logp, t):
    return jnp.mean(jnp.sum(jsp.xlogy(t, t) - t * logp, -1))


def all_losses(np_like, ce, bce, huber, kl, mse, logits, pred, log_softmax):
    """The same set of losses on either side (funcnet or jax)."""
    return {
        "mse": mse(pred, TARGET),
        "ce_int": ce["int"](logits, LABELS),
        "ce_int_smooth": ce["int_smooth"](logits, LABELS),
        "ce_ignore": ce["ignore"](logits, LABELS_PAD),
        "ce_ignore_smooth": ce["ignore_smooth"](logits, LABELS_PAD),
        "ce_probs": ce["probs"](logits, PROBS),
        "ce_onehot_smooth": ce["onehot_smooth"](logits, np.eye(5, dtype=np.float32)[LABELS]),
        "bce": bce(logits, BIN),
        "huber": huber(pred, TARGET),
        "kl": kl(log_softmax(logits), PROBS),
    }


def fn_losses(logits, pred):
    ce = losses.softmax_cross_entropy
    return all_losses(
        fnp,
        {
            "int": ce,
            "int_smooth": functools.partial(ce, label_smoothing=0.1),
            "ignore": functools.partial(ce, ignore_index=PAD),
            "ignore_smooth": functools.partial(ce, ignore_index=PAD, label_smoothing=0.2),
            "probs": ce,
            "onehot_smooth": functools.partial(ce, label_smoothing=0.1),
        },
        losses.binary_cross_entropy_with_logits,
        functools.partial(losses.huber, delta=1.5),
        losses.kl_divergence,
        losses.mse,
        logits,
        pred,
        nn.log_softmax,
    )


def jax_losses(logits, pred):
    return all_losses(
        jnp,
        {
            "int": jax_ce_int,
            "int_smooth": functools.partial(jax_ce_int, smoothing=0.1),
            "ignore": functools.partial(jax_ce_int, ignore=PAD),
            "ignore_smooth": functools.partial(jax_ce_int, ignore=PAD, smoothing=0.2),
            "probs": jax_ce_probs,
            "onehot_smooth": lambda lg, oh: jax_ce_probs(lg, oh * 0.9 + 0.1 / 5),
        },
        jax_bce,
        functools.partial(jax_huber, delta=1.5),
        jax_kl,
        lambda p, t: jnp.mean((p - t) ** 2),
        logits,
        pred,
        jax.nn.log_softmax,
    )


def test_losses_and_their_gradients_match_jax():
    def total(f):
        return lambda lg, pr: sum(f(lg, pr).values())

    got = fn.jit(fn_losses)(LOGITS, PRED)
    want = jax.jit(jax_losses)(LOGITS, PRED)
    for k in want:
        assert np.isfinite(np.asarray(got[k])), k
        np.testing.assert_allclose(
            np.asarray(got[k]), np.asarray(want[k]), rtol=2e-5, atol=1e-5, err_msg=k
        )
    g = fn.jit(fn.grad(total(fn_losses), argnums=(0, 1)))(LOGITS, PRED)
    jg = jax.jit(jax.grad(total(jax_losses), argnums=(0, 1)))(LOGITS, PRED)
    for a, b in zip(g, jg):
        assert np.isfinite(np.asarray(a)).all()
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6)


def test_ignored_positions_have_no_gradient_and_no_weight():
    g = fn.grad(lambda lg: losses.softmax_cross_entropy(lg, LABELS_PAD, ignore_index=PAD))(LOGITS)
    np.testing.assert_array_equal(np.asarray(g)[[1, 4]], 0)
    # all positions ignored: 0, not NaN
    all_pad = np.full((6,), PAD, np.int32)
    assert float(losses.softmax_cross_entropy(LOGITS, all_pad, ignore_index=PAD)) == 0.0


def test_reductions():
    per = losses.softmax_cross_entropy(LOGITS, LABELS, reduction="none")
    assert per.shape == (6,)
    np.testing.assert_allclose(
        float(losses.softmax_cross_entropy(LOGITS, LABELS, reduction="sum")),
        float(np.sum(np.asarray(per))),
        rtol=1e-6,
    )
    assert losses.mse(PRED, TARGET, reduction="none").shape == (6, 5)
    assert losses.kl_divergence(np.log(PROBS + 1e-9), PROBS, reduction="none").shape == (6,)
    per_pad = losses.softmax_cross_entropy(LOGITS, LABELS_PAD, ignore_index=PAD, reduction="none")
    np.testing.assert_array_equal(np.asarray(per_pad)[[1, 4]], 0)
    # batch axes: (2, 3, 5) logits with (2, 3) labels
    lg3 = LOGITS.reshape(2, 3, 5)
    np.testing.assert_allclose(
        float(losses.softmax_cross_entropy(lg3, LABELS.reshape(2, 3))),
        float(losses.softmax_cross_entropy(LOGITS, LABELS)),
        rtol=1e-6,
    )


def test_loss_errors():
    with pytest.raises(
        ValueError,
        match=r"integer labels must have the logits' shape without "
        r"the class axis, \(6,\); got labels of shape \(6, 1\)",
    ):
        losses.softmax_cross_entropy(LOGITS, LABELS[:, None])
    with pytest.raises(ValueError, match="ignore_index needs integer labels"):
        losses.softmax_cross_entropy(LOGITS, PROBS, ignore_index=0)
    with pytest.raises(
        ValueError,
        match=r"logits of shape \(6, 5\) and one-hot/probability "
        r"labels of shape \(6, 4\)",
    ):
        losses.softmax_cross_entropy(LOGITS, PROBS[:, :4])
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.mse(PRED, TARGET, reduction="avg")
    with pytest.raises(
        ValueError,
        match=r"predictions of shape \(6, 5\) and targets of shape "
        r"\(5,\)",
    ):
        losses.huber(PRED, TARGET[0])
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=1.0)


# --- activations ----------------------------------------------------------------------

X = (
    np.concatenate([np.linspace(-6, 6, 25), [-80.0, -30.0, 30.0, 80.0, 0.0]])
    .astype(np.float32)
    .reshape(5, 6)
)

ACTS = {
    "relu": (nn.relu, jax.nn.relu),
    "relu6": (nn.relu6, jax.nn.relu6),
    "gelu_tanh": (nn.gelu, functools.partial(jax.nn.gelu, approximate=True)),
    "gelu_exact": (
        functools.partial(nn.gelu, approximate=False),
        functools.partial(jax.nn.gelu, approximate=False),
    ),
    "silu": (nn.silu, jax.nn.silu),
    "sigmoid": (nn.sigmoid, jax.nn.sigmoid),
    "tanh": (nn.tanh, jnp.tanh),
    "softplus": (nn.softplus, jax.nn.softplus),
    "leaky_relu": (
        functools.partial(nn.leaky_relu, negative_slope=0.2),
        functools.partial(jax.nn.leaky_relu, negative_slope=0.2),
    ),
    "elu": (nn.elu, jax.nn.elu),
    "softmax": (nn.softmax, jax.nn.softmax),
    "log_softmax": (nn.log_softmax, jax.nn.log_softmax),
    "logsumexp": (
        functools.partial(nn.logsumexp, axis=-1),
        functools.partial(jsp.logsumexp, axis=-1),
    ),
    "logsumexp_all_axes": (nn.logsumexp, jsp.logsumexp),  # jax's default: every axis
}


def test_activations_and_gradients_match_jax():
    ours = fn.jit(lambda x: {k: f(x) for k, (f, _) in ACTS.items()})(X)
    theirs = jax.jit(lambda x: {k: f(x) for k, (_, f) in ACTS.items()})(X)
    # gradients away from the kinks (relu-like at 0 differ by convention)
    xs = X[:, :5] + 0.05
    gours = fn.jit(
        lambda x: {k: fn.grad(lambda v, f=f: fnp.sum(f(v)))(x) for k, (f, _) in ACTS.items()}
    )(xs)
    gtheirs = jax.jit(
        lambda x: {k: jax.grad(lambda v, f=f: jnp.sum(f(v)))(x) for k, (_, f) in ACTS.items()}
    )(xs)
    for k in ACTS:
        assert np.isfinite(np.asarray(ours[k])).all(), k
        np.testing.assert_allclose(
            np.asarray(ours[k]), np.asarray(theirs[k]), rtol=1e-5, atol=1e-6, err_msg=k
        )
        np.testing.assert_allclose(
            np.asarray(gours[k]), np.asarray(gtheirs[k]), rtol=1e-4, atol=1e-6, err_msg=k
        )


def test_relu_gradient_is_a_select_like_jax():
    # relu'(0) = 0 (jax.nn.relu's convention), also under jit, vmap, and to second order.
    x = np.array([-1.0, 0.0, 0.0, 2.0], np.float32)
    want = jax.grad(lambda v: jnp.sum(jax.nn.relu(v) * v))(x)
    for g in (
        fn.grad(lambda v: fnp.sum(nn.relu(v) * v)),
        fn.jit(fn.grad(lambda v: fnp.sum(nn.relu(v) * v))),
        fn.vmap(fn.grad(lambda v: nn.relu(v) * v)),
    ):
        np.testing.assert_array_equal(np.asarray(g(x)), np.asarray(want))
    hess = fn.grad(lambda v: fn.grad(lambda u: nn.relu(u) * u)(v))
    np.testing.assert_array_equal([float(hess(np.float32(v))) for v in (-1.0, 2.0)], [0.0, 2.0])
    text = str(fn.make_jaxpr(fn.grad(lambda v: fnp.sum(nn.relu(v))))(x))
    assert "select_n" in text and " eq " not in text  # no tie-splitting of maximum


def test_activations_as_layers_keep_or_infer_shapes():
    for f in (nn.relu, nn.gelu, nn.softmax, functools.partial(nn.gelu, approximate=False)):
        layer = nn.Fn(f)
        assert layer.init(None, (-1, 3, 4)) == ({}, (-1, 3, 4))
    assert nn.Fn(functools.partial(nn.logsumexp, axis=-1)).init(None, (-1, 3, 4))[1] == (-1, 3)
    assert nn.Fn(lambda x: x.reshape(x.shape[0], -1)).init(None, (-1, 3, 4))[1] == (-1, 12)
    assert nn.Sequential([nn.relu, nn.gelu]).names == ["relu_0", "gelu_0"]
    assert nn.Sequential([functools.partial(nn.gelu, approximate=False)]).names == ["gelu_0"]


def test_softplus_and_bce_gradient_at_zero():
    # abs'(0) = 1 would make these derivatives wrong by 1/2 at exactly 0.
    z = np.zeros((3,), np.float32)
    y = np.array([0.0, 1.0, 0.5], np.float32)
    g = fn.grad(lambda x: fnp.sum(nn.softplus(x)))(z)
    np.testing.assert_allclose(np.asarray(g), 0.5)
    g = fn.grad(lambda x: losses.binary_cross_entropy_with_logits(x, y, reduction="sum"))(z)
    np.testing.assert_allclose(np.asarray(g), 0.5 - y, atol=1e-7)
