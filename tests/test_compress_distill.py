"""compress.distillation_loss against NumPy and PyTorch (value, gradient, the T^2
scaling), its bad inputs, and the recipe: a small student MLP distilled from a digits
teacher."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import compress, demo, nn, optim, random

_rng = np.random.default_rng(0)
S = (2.0 * _rng.normal(size=(6, 5))).astype(np.float32)
T = (2.0 * _rng.normal(size=(6, 5))).astype(np.float32)
Y = np.array([0, 4, 2, 2, 1, 3], np.int32)


def _np_log_softmax(z):
    z = z.astype(np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _np_distill(s, t, labels, temperature, alpha):
    """The formula of Hinton et al. 2015, written out in float64."""
    k = s.shape[-1]
    onehot = labels if labels.dtype.kind == "f" else np.eye(k)[labels]
    ce = -(onehot * _np_log_softmax(s)).sum(-1).mean()
    log_q, log_p = _np_log_softmax(s / temperature), _np_log_softmax(t / temperature)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(-1).mean()
    return alpha * ce + (1 - alpha) * temperature**2 * kl


@pytest.mark.parametrize("temperature,alpha", [(1.0, 0.5), (4.0, 0.5), (2.5, 0.0), (4.0, 1.0)])
def test_value_matches_numpy(temperature, alpha):
    got = compress.distillation_loss(S, T, Y, temperature=temperature, alpha=alpha)
    assert got.dtype == np.float32 and got.shape == ()
    want = _np_distill(S, T, Y, temperature, alpha)
    np.testing.assert_allclose(float(got), want, rtol=1e-5, atol=1e-6)


def test_soft_labels_and_sequence_axes():
    soft = np.exp(_np_log_softmax(_rng.normal(size=S.shape))).astype(np.float32)
    got = compress.distillation_loss(S, T, soft, temperature=3.0, alpha=0.3)
    np.testing.assert_allclose(float(got), _np_distill(S, T, soft, 3.0, 0.3), rtol=1e-5)
    # one-hot float labels give the integer labels' loss
    onehot = np.eye(5, dtype=np.float32)[Y]
    np.testing.assert_allclose(
        float(compress.distillation_loss(S, T, onehot)),
        float(compress.distillation_loss(S, T, Y)),
        rtol=1e-6,
    )
    # (batch, length, classes): the mean runs over every axis but the last
    s3, t3 = S.reshape(2, 3, 5), T.reshape(2, 3, 5)
    got = compress.distillation_loss(s3, t3, Y.reshape(2, 3), temperature=2.0)
    np.testing.assert_allclose(float(got), _np_distill(S, T, Y, 2.0, 0.5), rtol=1e-5)


def test_value_and_grad_match_torch():
    temperature, alpha = 4.0, 0.3
    s = torch.tensor(S, requires_grad=True)
    t = torch.tensor(T)
    kl = F.kl_div(
        F.log_softmax(s / temperature, -1),
        F.log_softmax(t / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )
    ref = (
        alpha * F.cross_entropy(s, torch.tensor(Y, dtype=torch.long))
        + (1 - alpha) * temperature**2 * kl
    )
    ref.backward()

    def loss(s, t):
        return compress.distillation_loss(s, t, Y, temperature=temperature, alpha=alpha)

    value, (g_s, g_t) = fn.value_and_grad(loss, argnums=(0, 1))(fnp.asarray(S), fnp.asarray(T))
    np.testing.assert_allclose(float(value), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g_s), s.grad.numpy(), rtol=1e-4, atol=1e-6)
    # the teacher is under stop_gradient
    assert not np.asarray(g_t).any()
    # and jit computes the same
    jv, jg = fn.jit(fn.value_and_grad(loss))(fnp.asarray(S), fnp.asarray(T))
    np.testing.assert_allclose(float(jv), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(jg), s.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 3.0, 10.0])
def test_t_squared_scaling_of_the_soft_gradient(temperature):
    # d/ds [T^2 KL(p_t || p_s)] = T (softmax(s/T) - softmax(t/T)) / batch: with the T^2
    # factor the soft gradient shrinks like 1/T, not 1/T^2.
    g = fn.grad(lambda s: compress.distillation_loss(s, T, Y, temperature=temperature, alpha=0.0))(
        fnp.asarray(S)
    )
    p_s = np.exp(_np_log_softmax(S / temperature))
    p_t = np.exp(_np_log_softmax(T / temperature))
    want = temperature * (p_s - p_t) / S.shape[0]
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-4, atol=1e-7)


def test_low_precision_logits_are_upcast():
    s16 = fnp.asarray(S).astype(fnp.bfloat16)
    value = compress.distillation_loss(s16, T, Y)
    assert value.dtype == np.float32
    ref = _np_distill(np.asarray(s16.astype(fnp.float32)), T, Y, 4.0, 0.5)
    np.testing.assert_allclose(float(value), ref, rtol=1e-5)
    g = fn.grad(lambda s: compress.distillation_loss(s, T, Y))(s16)
    assert g.dtype == fnp.bfloat16


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"temperature": 0.0}, r"temperature must be a finite positive number, got 0\.0"),
        ({"temperature": -2.0}, r"temperature .* got -2\.0"),
        ({"temperature": float("nan")}, r"temperature .* got nan"),
        ({"alpha": -0.1}, r"alpha must be in \[0, 1\], got -0\.1"),
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1\.5"),
    ],
)
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compress.distillation_loss(S, T, Y, **kwargs)


def test_bad_shapes_name_them():
    with pytest.raises(
        ValueError, match=r"student logits of shape \(6, 5\) and teacher .*\(6, 4\)"
    ):
        compress.distillation_loss(S, T[:, :4], Y)
    with pytest.raises(ValueError, match=r"integer labels .*\(6,\); got labels of shape \(5,\)"):
        compress.distillation_loss(S, T, Y[:5])
    with pytest.raises(
        ValueError, match=r"float .* labels .*\(6, 5\); got labels of shape \(6, 4\)"
    ):
        compress.distillation_loss(S, T, np.zeros((6, 4), np.float32))
    with pytest.raises(TypeError, match="logits must be floating, got dtype int32"):
        compress.distillation_loss(S.astype(np.int32), T, Y)


# ----------------------------------------------------------------------------
# The recipe: a teacher (the demo MLP) and a 32-unit student distilled from it
# ----------------------------------------------------------------------------


def _np_mlp(params, x):
    """The forward pass of a Flatten/Dense/relu Sequential, in NumPy."""
    h = np.asarray(x, np.float32).reshape(len(x), -1)
    dense = [params[k] for k in sorted(params, key=lambda k: int(k.split("_")[-1]))]
    for i, layer in enumerate(dense):
        h = h @ np.asarray(layer["w"]) + np.asarray(layer["b"])
        if i < len(dense) - 1:
            h = np.maximum(h, 0)
    return h


def _fit(model, loss_of_logits, x, steps, lr, seed):
    """Full-batch Adam steps in one jitted step function."""
    params, _ = model.init(random.key(seed), (-1, 8, 8, 1))
    opt = optim.adam(lr)
    state = opt.init(params)

    @fn.jit
    def step(params, state):
        grads = fn.grad(lambda p: loss_of_logits(model.apply(p, x)))(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    for _ in range(steps):
        params, state = step(params, state)
    return params


def test_student_learns_from_the_teacher_on_digits():
    (xtr, ytr), (xte, yte) = demo.digits_split()
    x, y = fnp.asarray(xtr), fnp.asarray(ytr)
    teacher = demo.mlp()
    tp = _fit(teacher, lambda logits: nn.losses.softmax_cross_entropy(logits, y), x, 100, 3e-3, 0)
    teacher_logits = fnp.asarray(_np_mlp(tp, xtr))
    # our NumPy forward pass is the model's
    np.testing.assert_allclose(
        np.asarray(teacher_logits[:4]), np.asarray(teacher.apply(tp, x[:4])), rtol=1e-4, atol=1e-4
    )
    teacher_acc = np.mean(_np_mlp(tp, xte).argmax(-1) == yte)

    student = nn.Sequential([nn.Flatten(), nn.Dense(32), nn.relu, nn.Dense(10)])
    sp = _fit(
        student,
        lambda logits: compress.distillation_loss(
            logits, teacher_logits, y, temperature=4.0, alpha=0.5
        ),
        x,
        150,
        1e-2,
        1,
    )
    student_acc = np.mean(_np_mlp(sp, xte).argmax(-1) == yte)
    assert teacher_acc > 0.95, teacher_acc
    assert student_acc > 0.9, student_acc  # chance is 0.1
    assert student_acc >= teacher_acc - 0.04, (student_acc, teacher_acc)
    # the student's soft outputs moved toward the teacher's
    student_logits = _np_mlp(sp, xtr)
    agree = np.mean(student_logits.argmax(-1) == np.asarray(teacher_logits).argmax(-1))
    assert agree > 0.95, agree
