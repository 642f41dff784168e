"""compress's mixed precision: the dtype Policy and mixed_precision (dtypes, values and
gradients against jax doing the same casts, the bfloat16 dot_general in the StableHLO),
dynamic loss scaling (step by step against torch.amp.GradScaler and a NumPy version of
jmp's DynamicLossScale; the min_scale floor; float16 range errors), float16 gradient
underflow with and without scaling, and digits trained in float16 and bfloat16."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import compress, demo, nn, optim, random

BF16_POLICY = compress.Policy(fnp.float32, fnp.bfloat16, fnp.float32)
F16_POLICY = compress.Policy(fnp.float32, fnp.float16, fnp.float32)

_rng = np.random.default_rng(0)
X = _rng.normal(size=(4, 6)).astype(np.float32)
W = (0.3 * _rng.normal(size=(6, 3))).astype(np.float32)
B = _rng.normal(size=(3,)).astype(np.float32)

# ----------------------------------------------------------------------------
# Policy
# ----------------------------------------------------------------------------


def test_policy_dtypes_and_from_string():
    p = compress.Policy()
    assert (p.param_dtype, p.compute_dtype, p.output_dtype) == (
        np.dtype("float32"),
        np.dtype("float32"),
        None,
    )
    assert BF16_POLICY.compute_dtype == np.dtype(fnp.bfloat16)
    assert compress.Policy.from_string("params=float32,compute=bfloat16,output=float32") == (
        BF16_POLICY
    )
    assert compress.Policy.from_string("p=f32, c=f16, o=f32") == F16_POLICY
    assert compress.Policy.from_string("compute=half") == compress.Policy(compute_dtype=np.float16)
    assert compress.Policy.from_string("bf16") == compress.Policy("bf16", "bf16", "bf16")
    assert hash(BF16_POLICY) == hash(compress.Policy.from_string("c=bf16,o=f32"))
    with pytest.raises(ValueError, match=r"cannot read 'weights=f32'"):
        compress.Policy.from_string("weights=f32")
    with pytest.raises(ValueError, match=r"'compute' is given twice"):
        compress.Policy.from_string("compute=f32,compute=bf16")
    with pytest.raises(TypeError, match="compute_dtype must be a floating dtype, got int32"):
        compress.Policy(compute_dtype=np.int32)
    with pytest.raises(TypeError, match="must be a floating dtype, got 'floaty'"):
        compress.Policy.from_string("compute=floaty")


def test_casts_touch_only_floating_leaves():
    tree = {
        "w": fnp.asarray(W),
        "np": np.ones(2, np.float64),
        "n": fnp.arange(3),
        "mask": fnp.asarray([True, False]),
        "key": random.key(0),
        "py": 0.5,
    }
    out = BF16_POLICY.cast_to_compute(tree)
    assert out["w"].dtype == fnp.bfloat16 and out["np"].dtype == fnp.bfloat16
    assert out["n"].dtype == np.int32 and out["mask"].dtype == np.bool_
    assert out["key"].dtype == np.uint32 and out["py"] == 0.5
    np.testing.assert_array_equal(np.asarray(out["key"]), np.asarray(tree["key"]))
    back = BF16_POLICY.cast_to_param(out)
    assert back["w"].dtype == np.float32
    # bf16 rounding: the relative error of one rounding is at most 2^-8
    np.testing.assert_allclose(np.asarray(back["w"]), W, rtol=2**-8)
    assert compress.Policy().cast_to_output(out) is out  # output_dtype None: unchanged


# ----------------------------------------------------------------------------
# mixed_precision on a model's apply
# ----------------------------------------------------------------------------


def _dense_loss_jax(params, x):
    """The same casts and computation, done by hand in jax."""
    w, b = (params[k].astype(jnp.bfloat16) for k in ("w", "b"))
    y = (x.astype(jnp.bfloat16) @ w + b).astype(jnp.float32)
    return jnp.sum(jnp.tanh(y) ** 2)


def test_mixed_precision_dense_values_and_float32_gradients():
    model = nn.Dense(3)
    params = {"w": fnp.asarray(W), "b": fnp.asarray(B)}
    apply = compress.mixed_precision(model.apply, BF16_POLICY)

    def loss(params, x):
        return fnp.sum(fnp.tanh(apply(params, x)) ** 2)

    y = apply(params, X)
    assert y.dtype == np.float32
    jax_params = {"w": jnp.asarray(W), "b": jnp.asarray(B)}
    jax_y = (
        jnp.asarray(X).astype(jnp.bfloat16) @ jax_params["w"].astype(jnp.bfloat16)
        + jax_params["b"].astype(jnp.bfloat16)
    ).astype(jnp.float32)
    np.testing.assert_allclose(np.asarray(y), np.asarray(jax_y), rtol=2e-2, atol=2e-2)
    # not float32 arithmetic: bf16 rounding shows
    assert not np.allclose(np.asarray(y), X @ W + B, rtol=1e-5, atol=1e-5)

    value, grads = fn.jit(fn.value_and_grad(loss))(params, X)
    jvalue, jgrads = jax.value_and_grad(_dense_loss_jax)(jax_params, jnp.asarray(X))
    assert grads["w"].dtype == np.float32 and grads["b"].dtype == np.float32
    np.testing.assert_allclose(float(value), float(jvalue), rtol=2e-2)
    for k in ("w", "b"):
        np.testing.assert_allclose(
            np.asarray(grads[k]), np.asarray(jgrads[k]), rtol=3e-2, atol=3e-2
        )

    # by hand: the same casts written in funcnet give the same gradients
    def by_hand(params, x):
        p = {k: v.astype(fnp.bfloat16) for k, v in params.items()}
        return fnp.sum(
            fnp.tanh(model.apply(p, fnp.asarray(x).astype(fnp.bfloat16)).astype(fnp.float32)) ** 2
        )

    hand = fn.grad(by_hand)(params, X)
    for k in ("w", "b"):
        np.testing.assert_allclose(np.asarray(grads[k]), np.asarray(hand[k]), rtol=1e-2, atol=1e-2)


def test_stablehlo_dot_general_runs_on_bfloat16():
    model = nn.Dense(3)
    params = {"w": fnp.asarray(W), "b": fnp.asarray(B)}
    apply = compress.mixed_precision(model.apply, BF16_POLICY)
    text = fn.jit(apply).lower(params, X).as_text()
    dots = [line for line in text.splitlines() if "stablehlo.dot_general" in line]
    assert len(dots) == 1
    assert re.search(r"\(tensor<4x6xbf16>, tensor<6x3xbf16>\) -> tensor<4x3xbf16>", dots[0])
    # inputs arrive float32 and the result leaves float32
    assert re.search(r"func\.func public @main\(.*tensor<4x6xf32>.*\) -> \(?tensor<4x3xf32>", text)


def test_stateful_model_state_comes_back_in_the_output_dtype():
    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(momentum=0.5), nn.relu, nn.Dense(2)])
    params, state, _ = model.init_with_state(random.key(0), (-1, 6))
    apply = fn.jit(compress.mixed_precision(model.apply, BF16_POLICY), static_argnames=("train",))
    y, new_state = apply(params, X, state=state, train=True)
    assert y.dtype == np.float32
    for leaf in fn.tree.tree_leaves(new_state):
        assert leaf.dtype == np.float32
    # the running statistics moved halfway to the batch's, within bfloat16's precision
    h = X @ np.asarray(params["dense_0"]["w"]) + np.asarray(params["dense_0"]["b"])
    bn = new_state["batch_norm_0"]
    np.testing.assert_allclose(np.asarray(bn["mean"]), 0.5 * h.mean(0), rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(np.asarray(bn["var"]), 0.5 + 0.5 * h.var(0), rtol=2e-2, atol=2e-2)
    # output_dtype None: everything stays in the compute dtype
    y16, s16 = fn.jit(
        compress.mixed_precision(model.apply, compress.Policy(compute_dtype="bf16")),
        static_argnames=("train",),
    )(params, X, state=state, train=True)
    assert y16.dtype == fnp.bfloat16 and all(
        leaf.dtype == fnp.bfloat16 for leaf in fn.tree.tree_leaves(s16)
    )


def test_mixed_precision_bad_arguments():
    with pytest.raises(TypeError, match=r"policy must be a compress\.Policy, got str"):
        compress.mixed_precision(lambda p, x: x, "bf16")
    with pytest.raises(TypeError, match="apply must be callable"):
        compress.mixed_precision(None, BF16_POLICY)


# ----------------------------------------------------------------------------
# all_finite
# ----------------------------------------------------------------------------


def test_all_finite():
    assert bool(compress.all_finite({}))
    assert bool(compress.all_finite({"a": fnp.ones(3), "i": fnp.arange(3)}))
    assert not bool(compress.all_finite([fnp.ones(2), fnp.array([1.0, np.nan])]))
    assert not bool(compress.all_finite({"h": fnp.array([70000.0]).astype(fnp.float16)}))
    jitted = fn.jit(compress.all_finite)
    assert bool(jitted({"a": fnp.ones(2)})) and not bool(jitted({"a": fnp.array([-np.inf, 0])}))


# ----------------------------------------------------------------------------
# dynamic_loss_scale against torch.amp.GradScaler
# ----------------------------------------------------------------------------

_XR = _rng.normal(size=(8, 3)).astype(np.float32)
_YR = _rng.normal(size=(8,)).astype(np.float32)
_W0 = np.array([0.5, -0.3, 0.8], np.float32)


def test_scale_sequence_and_skipped_steps_match_torch_grad_scaler():
    bad_steps = {2, 3, 9, 10, 11, 17}
    n_steps, interval, lr, init_scale = 22, 3, 0.1, 2.0**10

    # torch: a scaled backward, an injected overflow, GradScaler's step and update
    w_t = torch.tensor(_W0, requires_grad=True)
    opt_t = torch.optim.SGD([w_t], lr=lr)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=interval)
    torch_scales, torch_params = [], []
    for i in range(n_steps):
        opt_t.zero_grad()
        loss = torch.mean((torch.tensor(_XR) @ w_t - torch.tensor(_YR)) ** 2)
        scaler.scale(loss).backward()
        if i in bad_steps:
            with torch.no_grad():
                w_t.grad[0] = float("inf")
        scaler.step(opt_t)
        scaler.update()
        torch_scales.append(scaler.get_scale())
        torch_params.append(w_t.detach().numpy().copy())

    tx = compress.dynamic_loss_scale(
        optim.sgd(lr), initial_scale=init_scale, growth_interval=interval
    )

    @fn.jit
    def step(w, state, inject):
        def scaled_loss(w):
            loss = fnp.mean((fnp.asarray(_XR) @ w - _YR) ** 2)
            return loss * compress.loss_scale(state)

        g = fn.grad(scaled_loss)(w)
        g = g.at[0].set(fnp.where(inject, fnp.inf, g[0]))
        updates, state = tx.update(g, state, w)
        return optim.apply_updates(w, updates), state

    w, state = fnp.asarray(_W0), tx.init(fnp.asarray(_W0))
    for i in range(n_steps):
        w, state = step(w, state, i in bad_steps)
        assert float(state.scale) == torch_scales[i], (i, float(state.scale), torch_scales[i])
        np.testing.assert_allclose(np.asarray(w), torch_params[i], rtol=1e-5, atol=1e-6)
    assert int(state.skipped_steps) == len(bad_steps)


def _np_dynamic_loss_scale(flags, scale, interval, growth, backoff, min_scale):
    """jmp.DynamicLossScale.adjust (with torch's finite-growth guard), in NumPy."""
    counter, skipped, out = 0, 0, []
    for finite in flags:
        if finite:
            if counter == interval - 1:
                grown = np.float32(scale * growth)
                scale = grown if np.isfinite(grown) else scale
            counter = (counter + 1) % interval
        else:
            scale = max(np.float32(scale * backoff), np.float32(min_scale))
            counter, skipped = 0, skipped + 1
        out.append((float(scale), counter, skipped))
    return out


def test_scale_rules_match_numpy_jmp_and_keep_inner_state_on_skips():
    flags = _rng.random(60) > 0.3
    flags[20:32] = False  # a long overflow run: the scale bottoms out at min_scale
    tx = compress.dynamic_loss_scale(
        optim.adam(0.01),
        initial_scale=64.0,
        growth_interval=4,
        growth_factor=4.0,
        backoff_factor=0.25,
        min_scale=0.5,
    )
    update = fn.jit(tx.update)
    params = {"w": fnp.asarray(_W0)}
    state = tx.init(params)
    want = _np_dynamic_loss_scale(flags, np.float32(64.0), 4, 4.0, 0.25, 0.5)
    for i, finite in enumerate(flags):
        g = {"w": fnp.asarray(_W0 * state.scale if finite else [np.nan, 1.0, 2.0])}
        before = state.inner_state
        updates, state = update(g, state, params)
        assert (float(state.scale), int(state.good_steps), int(state.skipped_steps)) == want[i]
        if finite:
            np.testing.assert_allclose(np.asarray(before[0].count) + 1, state.inner_state[0].count)
        else:
            assert not np.asarray(updates["w"]).any()
            for a, b in zip(fn.tree.tree_leaves(before), fn.tree.tree_leaves(state.inner_state)):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert min(s for s, _, _ in want) == 0.5


def test_scale_never_underflows_and_keeps_skipping_at_min_scale():
    tx = compress.dynamic_loss_scale(optim.sgd(1.0), initial_scale=4.0, min_scale=1.0)
    params = {"w": fnp.ones(2)}
    state = tx.init(params)
    update = fn.jit(tx.update)
    for _ in range(40):  # 0.5**40 * 4 would underflow float16; the floor holds
        updates, state = update({"w": fnp.array([np.inf, 0.0])}, state, params)
        assert not np.asarray(updates["w"]).any()
    assert float(state.scale) == 1.0 and int(state.skipped_steps) == 40
    # finite gradients again: the step is applied, unscaled by the floor scale
    updates, state = update({"w": fnp.array([3.0, -1.0])}, state, params)
    np.testing.assert_allclose(np.asarray(updates["w"]), [-3.0, 1.0])
    assert int(state.good_steps) == 1 and int(state.skipped_steps) == 40


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (
            {"initial_scale": 0.0},
            ValueError,
            r"initial_scale must be finite and positive, got 0\.0",
        ),
        ({"initial_scale": -8.0}, ValueError, r"initial_scale .* got -8\.0"),
        ({"initial_scale": float("nan")}, ValueError, r"initial_scale .* got nan"),
        ({"initial_scale": float("inf")}, ValueError, r"initial_scale .* got inf"),
        ({"initial_scale": 1e39}, ValueError, r"initial_scale=1e\+39 is outside float32's range"),
        ({"initial_scale": "big"}, TypeError, r"initial_scale must be a number, got 'big'"),
        ({"min_scale": 0.0}, ValueError, r"min_scale must be finite and positive"),
        ({"initial_scale": 2.0, "min_scale": 4.0}, ValueError, r"min_scale=4\.0 is above"),
        ({"growth_factor": 1.0}, ValueError, r"growth_factor must be > 1, got 1\.0"),
        ({"backoff_factor": 1.0}, ValueError, r"backoff_factor must be in \(0, 1\), got 1\.0"),
        ({"backoff_factor": 0.0}, ValueError, r"backoff_factor must be finite and positive"),
        ({"growth_interval": 0}, ValueError, r"growth_interval must be positive, got 0"),
    ],
)
def test_bad_loss_scale_settings(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        compress.dynamic_loss_scale(optim.sgd(0.1), **kwargs)


def test_loss_scale_accessor_and_float16_range():
    tx = optim.chain(optim.clip_by_global_norm(1.0), compress.dynamic_loss_scale(optim.sgd(0.1)))
    state = tx.init({"w": fnp.ones(2)})
    assert float(compress.loss_scale(state)) == 2.0**15  # found inside the chain
    assert compress.loss_scale(state, fnp.float16).dtype == np.float16
    loss16 = fnp.asarray(0.5, fnp.float16)
    scaled = compress.scale_loss(loss16, state)
    assert scaled.dtype == np.float16 and float(scaled) == 2.0**14
    with pytest.raises(ValueError, match="holds no dynamic_loss_scale states"):
        compress.loss_scale(optim.sgd(0.1).init({"w": fnp.ones(2)}))
    with pytest.raises(TypeError, match="loss must be floating, got dtype int32"):
        compress.scale_loss(fnp.asarray(1), state)

    # a scale that overflows float16 (2**16 > 65504) is refused for a float16 loss...
    big = compress.dynamic_loss_scale(optim.sgd(0.1), initial_scale=2.0**16)
    big_state = big.init({"w": fnp.ones(2)})
    with pytest.raises(ValueError, match=r"loss scale 65536\.0 does not fit float16 .* 65504"):
        compress.scale_loss(loss16, big_state)
    # ... and one below float16's range would become 0
    tiny = compress.dynamic_loss_scale(optim.sgd(0.1), initial_scale=1e-6, min_scale=1e-6)
    with pytest.raises(ValueError, match=r"loss scale 9\.99.*e-07 does not fit float16.*become 0"):
        compress.loss_scale(tiny.init({}), fnp.float16)

    # inside jit it cannot be checked: the float16 loss becomes inf, the step is skipped,
    # the scale backs off to 2**15 and the next step goes through (recovery)
    @fn.jit
    def step(w, state):
        g = fn.grad(lambda w: compress.scale_loss(fnp.sum(w * w).astype(fnp.float16), state))(w)
        updates, state = big.update(g, state, w)
        return optim.apply_updates(w, updates), state

    w = fnp.array([1.0, 2.0])
    w1, s1 = step(w, big_state)
    np.testing.assert_array_equal(np.asarray(w1), [1.0, 2.0])
    assert float(s1.scale) == 2.0**15 and int(s1.skipped_steps) == 1
    w2, s2 = step(w1, s1)
    np.testing.assert_allclose(np.asarray(w2), [0.8, 1.6], rtol=1e-3)
    assert int(s2.skipped_steps) == 1


def test_float16_gradients_underflow_without_loss_scaling():
    # A float16 model whose loss is tiny: the cotangent 1e-8 reaching the float16 output
    # is below float16's smallest subnormal (6e-8) and flushes to zero.
    apply = compress.mixed_precision(lambda p, x: x @ p["w"], F16_POLICY)
    params = {"w": fnp.asarray(W)}

    def loss(params):
        return 1e-8 * fnp.sum(apply(params, X))

    want = 1e-8 * np.broadcast_to(X.sum(0)[:, None], W.shape)  # the exact gradient
    plain = fn.grad(loss)(params)["w"]
    assert plain.dtype == np.float32 and not np.asarray(plain).any()  # all underflowed

    tx = compress.dynamic_loss_scale(optim.sgd(1.0))
    state = tx.init(params)
    scaled = fn.grad(lambda p: loss(p) * compress.loss_scale(state))(params)
    updates, state = tx.update(scaled, state, params)
    np.testing.assert_allclose(-np.asarray(updates["w"]), want, rtol=2e-3)
    assert int(state.skipped_steps) == 0


# ----------------------------------------------------------------------------
# End to end: the demo MLP on digits in float32, float16 (+ loss scaling), bfloat16
# ----------------------------------------------------------------------------


def _train_digits(policy, loss_scaled, steps=60):
    (xtr, ytr), (xte, yte) = demo.digits_split()
    model = demo.mlp()
    params, _ = model.init(random.key(0), (-1, 8, 8, 1))
    apply = compress.mixed_precision(model.apply, policy)
    tx = optim.adam(5e-3)
    if loss_scaled:
        tx = compress.dynamic_loss_scale(tx, growth_interval=25)
    state = tx.init(params)
    x, y = fnp.asarray(xtr), fnp.asarray(ytr)

    @fn.jit
    def step(params, state):
        def loss_fn(params):
            loss = nn.losses.softmax_cross_entropy(apply(params, x), y)
            return loss * compress.loss_scale(state) if loss_scaled else loss

        grads = fn.grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params)
        return optim.apply_updates(params, updates), state, apply(params, fnp.asarray(xte))

    for _ in range(steps):
        params, state, test_logits = step(params, state)
    for leaf in fn.tree.tree_leaves(params):
        assert leaf.dtype == np.float32  # the parameters stay float32
    assert test_logits.dtype == np.float32
    return float(np.mean(np.asarray(test_logits).argmax(-1) == yte)), state


def test_digits_in_float16_and_bfloat16_match_float32():
    acc32, _ = _train_digits(compress.Policy(), loss_scaled=False)
    acc16, state16 = _train_digits(F16_POLICY, loss_scaled=True)
    acc_bf16, _ = _train_digits(BF16_POLICY, loss_scaled=False)
    assert acc32 > 0.95, acc32
    assert abs(acc16 - acc32) <= 0.02, (acc16, acc32)
    assert abs(acc_bf16 - acc32) <= 0.02, (acc_bf16, acc32)
    # the loss is float32 (output_dtype), so the scaled float16 cotangents stayed finite:
    # no step was skipped and the scale grew every 25 good steps
    assert int(state16.skipped_steps) == 0
    assert float(state16.scale) == 2.0**15 * 2**2


def test_cast_floating_refuses_a_non_float_dtype_and_takes_short_names():
    tree = {"w": np.ones(3, np.float32), "step": np.int32(4)}
    with pytest.raises(TypeError, match="int32"):
        compress.cast_floating(tree, np.int32)
    out = compress.cast_floating(tree, "bf16")
    assert out["w"].dtype == fnp.bfloat16 and np.asarray(out["step"]).dtype == np.int32
