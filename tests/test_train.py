"""funcnet.train: TrainState, make_step, fit, callbacks, History.

References: a hand-written loop with funcnet.optim, jax + optax, NumPy gradients, and
jax.random for the keys a step draws. Models are tiny (a 2-layer MLP, linear
regression), so each test compiles a handful of small programs.
"""

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import optim, random, train
from funcnet.io import CheckpointManager
from funcnet.runtime import xla

RNG = np.random.default_rng(0)


# --- fixtures: a tiny MLP and linear regression ------------------------------------------


def mlp_params(seed=0, sizes=(3, 5, 2)):
    rng = np.random.default_rng(seed)
    return {
        f"dense_{i}": {
            "w": rng.normal(size=(a, b)).astype(np.float32) * 0.5,
            "b": rng.normal(size=(b,)).astype(np.float32) * 0.1,
        }
        for i, (a, b) in enumerate(itertools.pairwise(sizes))
    }


def to_device(tree):
    return fn.tree.map(fnp.asarray, tree)


def mlp_apply(params, x, np_=fnp):
    h = np_.tanh(x @ params["dense_0"]["w"] + params["dense_0"]["b"])
    return h @ params["dense_1"]["w"] + params["dense_1"]["b"]


def mlp_loss(params, batch, np_=fnp):
    return np_.mean((mlp_apply(params, batch["x"], np_) - batch["y"]) ** 2)


def mlp_batches(n, size=4, seed=1):
    rng = np.random.default_rng(seed)
    return [
        {
            "x": rng.normal(size=(size, 3)).astype(np.float32),
            "y": rng.normal(size=(size, 2)).astype(np.float32),
        }
        for _ in range(n)
    ]


def linreg_loss(params, batch):
    return fnp.mean((batch["x"] @ params["w"] - batch["y"]) ** 2)


def host(tree):
    return fn.tree.map(np.asarray, fn.device_get(tree))


def assert_trees_equal(a, b):
    la, lb = fn.tree.leaves(host(a)), fn.tree.leaves(host(b))
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(x, y)


# --- TrainState ------------------------------------------------------------------------------


def test_train_state_is_a_pytree_with_named_leaves_and_a_static_optimizer(tmp_path):
    tx = optim.adam(1e-2)
    state = train.TrainState.create(params=to_device(mlp_params()), tx=tx, key=3)
    paths = fn.tree.leaf_paths(state)
    assert paths[0] == ".step" and ".key" in paths and ".params['dense_0']['w']" in paths
    assert all(not callable(leaf) for leaf in fn.tree.leaves(state))  # tx is not a leaf
    np.testing.assert_array_equal(np.asarray(state.key), np.asarray(jax.random.PRNGKey(3)))
    assert state.step.dtype == np.int32 and int(state.step) == 0
    assert state.model_state == {}

    path = tmp_path / "state.safetensors"
    fn.save(path, state)
    loaded = fn.load(path, like=state)
    assert isinstance(loaded, train.TrainState) and loaded.tx is tx
    assert_trees_equal(loaded, state)
    with pytest.raises(TypeError, match="no field 'parms'"):
        state.replace(parms={})
    with pytest.raises(TypeError, match="tx must be an optimizer"):
        train.TrainState.create(params={}, tx=lambda g: g)


# --- make_step against references ------------------------------------------------------------


def test_make_step_matches_a_hand_written_loop_and_jax_optax():
    params0, batches = mlp_params(), mlp_batches(4)
    tx = optim.adam(0.05)
    state = train.TrainState.create(params=to_device(params0), tx=tx)
    step = train.make_step(mlp_loss)
    losses = []
    for b in batches:
        state, metrics = step(state, b)
        losses.append(float(metrics["loss"]))

    # The same update written by hand with funcnet.optim (no TrainState, no donation).
    @fn.jit
    def manual(params, opt_state, batch):
        loss, grads = fn.value_and_grad(mlp_loss)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    params, opt_state = to_device(params0), tx.init(to_device(params0))
    for b in batches:
        params, opt_state, _ = manual(params, opt_state, b)
    for a, b in zip(fn.tree.leaves(host(state.params)), fn.tree.leaves(host(params))):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    # And jax + optax, an independent implementation (imported here: the subprocess of
    # test_resuming_in_a_new_process imports this module and needs neither).
    import jax.numpy as jnp
    import optax

    jparams, jtx = jax.tree.map(jnp.asarray, params0), optax.adam(0.05)
    jopt, jlosses = jtx.init(jparams), []

    @jax.jit
    def jax_step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(lambda p: mlp_loss(p, batch, jnp))(params)
        updates, opt_state = jtx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    for b in batches:
        jparams, jopt, loss = jax_step(jparams, jopt, b)
        jlosses.append(float(loss))
    np.testing.assert_allclose(losses, jlosses, rtol=1e-5)
    for a, b in zip(fn.tree.leaves(host(state.params)), jax.tree.leaves(jparams)):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    assert int(state.step) == 4


@pytest.mark.parametrize("accumulate", [2, 4])
def test_accumulation_equals_the_big_batch_gradient(accumulate):
    x = RNG.normal(size=(8, 3)).astype(np.float32)
    y = RNG.normal(size=(8,)).astype(np.float32)
    w0 = RNG.normal(size=(3,)).astype(np.float32)
    lr = 0.1
    state = train.TrainState.create(params={"w": fnp.asarray(w0)}, tx=optim.sgd(lr))
    state, metrics = train.make_step(linreg_loss, accumulate=accumulate)(state, {"x": x, "y": y})
    # NumPy: the gradient of the mean squared error over the whole batch.
    x64, y64, w64 = x.astype(np.float64), y.astype(np.float64), w0.astype(np.float64)
    residual = x64 @ w64 - y64
    grad = 2 * x64.T @ residual / len(y)
    np.testing.assert_allclose(np.asarray(state.params["w"]), w64 - lr * grad, rtol=1e-5)
    np.testing.assert_allclose(float(metrics["loss"]), np.mean(residual**2), rtol=1e-5)


def test_accumulation_threads_the_model_state_and_gives_each_micro_batch_a_key():
    def loss_fn(params, batch, model_state, key):
        noise = random.uniform(key, ())
        loss = fnp.mean(batch["x"] * params["w"])
        return loss, {"model_state": {"seen": model_state["seen"] + 1.0}, "noise": noise}

    state = train.TrainState.create(
        params={"w": fnp.ones(())},
        tx=optim.sgd(0.1),
        key=random.key(7),
        model_state={"seen": fnp.zeros(())},
    )
    state, metrics = train.make_step(loss_fn, has_aux=True, accumulate=3)(
        state, {"x": np.ones((6,), np.float32)}
    )
    assert float(state.model_state["seen"]) == 3.0
    # Micro-batch i draws from fold_in(loss_key, i); the metric is their mean.
    loss_key = jax.random.split(jax.random.PRNGKey(7), 3)[2]
    expected = np.mean(
        [float(jax.random.uniform(jax.random.fold_in(loss_key, i), ())) for i in range(3)]
    )
    np.testing.assert_allclose(float(metrics["noise"]), expected, rtol=1e-6)


def test_the_step_splits_the_key_for_augment_and_the_loss():
    def augment(key, images):
        return images + random.normal(key, images.shape)

    def loss_fn(params, batch, key):
        return fnp.mean(batch["image"] * params["w"]), {"u": random.uniform(key, ())}

    images = RNG.normal(size=(4, 2, 2, 1)).astype(np.float32)
    state = train.TrainState.create(params={"w": fnp.ones(())}, tx=optim.sgd(0.0), key=5)
    step = train.make_step(loss_fn, has_aux=True, augment=augment)
    state, metrics = step(state, {"image": images, "label": np.zeros(4, np.int32)})
    new_key, aug_key, loss_key = jax.random.split(jax.random.PRNGKey(5), 3)
    augmented = images + np.asarray(jax.random.normal(aug_key, images.shape))
    np.testing.assert_allclose(float(metrics["loss"]), augmented.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(metrics["u"]), float(jax.random.uniform(loss_key, ())))
    np.testing.assert_array_equal(np.asarray(state.key), np.asarray(new_key))


def test_the_state_is_donated_and_shared_buffers_are_copied_first():
    z = fnp.zeros(3)

    def loss_fn(params, batch, model_state):
        c, h = model_state
        return fnp.sum(params["w"] * batch["x"]), {"model_state": (c + 1.0, h + 2.0)}

    params = {"w": fnp.ones(3)}
    state = train.TrainState.create(params=params, tx=optim.sgd(0.1), model_state=(z, z))
    step = train.make_step(loss_fn, has_aux=True)
    new, _ = step(state, {"x": np.ones(3, np.float32)})
    assert params["w"].is_deleted()  # donated: updated in place
    assert [v.tolist() for v in new.model_state] == [[1.0] * 3, [2.0] * 3]


# --- bad input ------------------------------------------------------------------------------


def _state(**kw):
    return train.TrainState.create(params={"w": fnp.zeros(2)}, tx=optim.sgd(0.1), **kw)


BATCH = {"x": np.ones((4, 2), np.float32), "y": np.ones((4,), np.float32)}


def test_a_non_scalar_loss_names_its_shape():
    step = train.make_step(lambda p, b: (b["x"] @ p["w"] - b["y"]) ** 2)
    with pytest.raises(ValueError, match=r"loss must be a scalar.*shape \(4,\).*fnp.mean"):
        step(_state(), BATCH)


def test_has_aux_mismatches_say_what_to_pass():
    pair = train.make_step(lambda p, b: (linreg_loss(p, b), {"m": 1.0}))
    with pytest.raises(TypeError, match=r"tuple of length 2.*pass has_aux=True"):
        pair(_state(), BATCH)
    single = train.make_step(linreg_loss, has_aux=True)
    with pytest.raises(TypeError, match=r"must return a pair \(loss, aux\).*has_aux=False"):
        single(_state(), BATCH)
    with pytest.raises(TypeError, match=r"takes `model_state`.*pass has_aux=True"):
        train.make_step(lambda p, b, model_state: linreg_loss(p, b))
    logits = train.make_step(lambda p, b: (linreg_loss(p, b), {"out": b["x"]}), has_aux=True)
    with pytest.raises(ValueError, match=r"aux\['out'\] is an array of shape \(4, 2\)"):
        logits(_state(), BATCH)


def test_augment_needs_the_input_key_and_a_prng_key():
    step = train.make_step(linreg_loss, augment=lambda k, x: x)
    with pytest.raises(ValueError, match=r"batch\['image'\].*keys: \['x', 'y'\].*input_key="):
        step(_state(key=0), BATCH)
    with pytest.raises(ValueError, match=r"no PRNG key.*key=random.key"):
        step(_state(), BATCH)


def test_accumulate_needs_a_divisible_batch():
    step = train.make_step(linreg_loss, accumulate=3)
    with pytest.raises(ValueError, match=r"accumulate=3.*batch\['x'\] has shape \(4, 2\)"):
        step(_state(), BATCH)
    with pytest.raises(ValueError, match="positive int"):
        train.make_step(linreg_loss, accumulate=0)


# --- fit ------------------------------------------------------------------------------------


def test_fit_runs_the_same_compiled_step_as_a_manual_loop_bit_for_bit():
    batches = mlp_batches(3)
    step = train.make_step(mlp_loss)
    tx = optim.adam(0.02)
    manual = train.TrainState.create(params=to_device(mlp_params()), tx=tx)
    for _ in range(2):
        for b in batches:
            manual, _ = step(manual, b)
    state = train.TrainState.create(params=to_device(mlp_params()), tx=tx)
    state, history = train.fit(state, step, batches, epochs=2, log_every=2)
    assert_trees_equal(state, manual)
    assert len(history["loss"]) == 2 and history.rows[-1]["step"] == 6


class _CountTransfers:
    """Counts device-to-host copies (every one goes through xla.to_numpy)."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = xla.to_numpy

        def counting(buf):
            self.count += 1
            return original(buf)

        monkeypatch.setattr(xla, "to_numpy", counting)


def test_fit_pulls_metrics_only_every_log_every_steps(monkeypatch):
    batches = [to_device(b) for b in mlp_batches(12)]
    step = train.make_step(mlp_loss)
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1))
    step(train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1)), batches[0])
    counter = _CountTransfers(monkeypatch)
    at_step = []

    class Record(train.Callback):
        def on_step_end(self, ctx):
            assert all(isinstance(m, fn.Array) for m in ctx.metrics.values())
            at_step.append(counter.count)

    train.fit(state, step, batches, epochs=1, log_every=4, callbacks=[Record()])
    # One read of state.step at the start, then one copy per pull (steps 4, 8, 12).
    assert at_step == [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4]
    assert counter.count == 4


def test_epoch_metrics_are_batch_size_weighted_means_and_eval_is_averaged():
    sizes = [4, 4, 2]
    batches = [
        b
        for s, b in zip(sizes, (mlp_batches(1, size=s, seed=s + i)[0] for i, s in enumerate(sizes)))
    ]
    per_step = []

    class Record(train.Callback):
        def on_step_end(self, ctx):
            per_step.append(float(ctx.metrics["loss"]))  # a test may sync

    eval_batches = [{"v": np.full((3,), 1.0, np.float32)}, {"v": np.full((1,), 5.0, np.float32)}]
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.05))
    state, history = train.fit(
        state,
        train.make_step(mlp_loss),
        batches,
        epochs=2,
        eval=(lambda p, b: {"v": fnp.mean(b["v"])}, eval_batches),
        callbacks=[Record()],
    )
    for epoch in range(2):
        expected = np.average(per_step[3 * epoch : 3 * epoch + 3], weights=sizes)
        np.testing.assert_allclose(history["loss"][epoch], expected, rtol=1e-6)
    assert history["val_v"] == [2.0, 2.0]  # (3 * 1 + 1 * 5) / 4
    assert [e["step"] for e in history.evals] == [3, 6]


def test_a_nan_stops_training_naming_the_step_and_the_metric():
    batches = mlp_batches(8)
    batches[6]["x"][0, 0] = np.nan  # the 7th step's loss
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.01))
    with pytest.raises(FloatingPointError, match=r"'loss' was nan at step 7 .*from 6 to 7") as e:
        train.fit(state, train.make_step(mlp_loss), batches, epochs=1, log_every=5)
    assert e.value.step == 7 and e.value.metric == "loss"
    assert e.value.history is not None


class _EvalScript:
    """An evaluation step (is_eval_step) returning scripted values, one per evaluation."""

    is_eval_step = True

    def __init__(self, values):
        self.values = iter(values)

    def __call__(self, state, batch):
        return {"loss": fnp.asarray(next(self.values), fnp.float32)}


def test_early_stopping_stops_and_restores_the_best_state():
    batches = mlp_batches(2)
    evaluate = _EvalScript([1.0, 0.5, 0.75, 0.625, 0.875, 0.25, 0.25])
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1))
    stopper = train.early_stopping("val_loss", patience=2, restore_best=True)
    state, history = train.fit(
        state,
        train.make_step(mlp_loss),
        batches,
        epochs=10,
        eval=(evaluate, [{"x": np.zeros((1, 3), np.float32)}]),
        callbacks=[stopper],
    )
    assert history["val_loss"] == [1.0, 0.5, 0.75, 0.625, 0.875]  # 3 without improvement
    assert "val_loss did not improve for 3 evaluations (best 0.5 at step 4)" in (
        history.stop_reason
    )
    assert int(state.step) == 4  # the best evaluation's state
    with pytest.raises(ValueError, match=r"no metric 'val_acc'.*val_loss"):
        train.fit(
            state,
            train.make_step(mlp_loss),
            batches,
            epochs=1,
            eval=(_EvalScript([1.0]), batches[:1]),
            callbacks=[train.early_stopping("val_acc")],
        )


def test_a_custom_callback_sees_the_hooks_in_order_and_can_stop():
    events = []

    class Recorder:  # no base class needed: any object with some of the hooks
        def on_fit_start(self, ctx):
            events.append("fit_start")

        def on_epoch_start(self, ctx):
            events.append(f"epoch_start {ctx.epoch}")

        def on_step_end(self, ctx):
            events.append(f"step {ctx.step}")
            if ctx.step == 3:
                raise train.StopTraining("enough")

        def on_epoch_end(self, ctx):
            events.append(f"epoch_end {ctx.epoch}")

        def on_fit_end(self, ctx):
            events.append(f"fit_end {ctx.error}")

    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1))
    state, history = train.fit(
        state, train.make_step(mlp_loss), mlp_batches(2), epochs=5, callbacks=[Recorder()]
    )
    assert events == [
        "fit_start",
        "epoch_start 0",
        "step 1",
        "step 2",
        "epoch_end 0",
        "epoch_start 1",
        "step 3",
        "fit_end None",
    ]
    assert history.stop_reason == "enough" and int(state.step) == 3
    assert len(history) == 2  # the second epoch's row holds its one step


def test_csv_and_jsonl_logs_hold_the_history_and_the_learning_rate(tmp_path):
    schedule = optim.linear_schedule(0.1, 0.0, transition_steps=6)
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(schedule))
    csv_path, jsonl_path = tmp_path / "log.csv", tmp_path / "log.jsonl"
    state, history = train.fit(
        state,
        train.make_step(mlp_loss),
        mlp_batches(3),
        epochs=2,
        log_every=2,
        eval=(lambda p, b: {"loss": mlp_loss(p, b)}, mlp_batches(1, seed=9)),
        # the loggers come first: lr_logger still reaches them (add_logs runs before hooks)
        callbacks=[
            train.csv_logger(csv_path),
            train.jsonl_logger(jsonl_path),
            train.lr_logger(schedule),
        ],
    )
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "step", "loss", "val_loss", "lr"]
    assert [int(r["step"]) for r in rows] == [3, 6]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history["loss"], rtol=1e-7)
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history["val_loss"])
    np.testing.assert_allclose([float(r["lr"]) for r in rows], [0.05, 0.0], atol=1e-7)

    records = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    assert [(r["event"], r["step"]) for r in records] == [
        ("log", 2),
        ("log", 3),
        ("eval", 3),
        ("epoch", 3),
        ("log", 4),
        ("log", 6),
        ("eval", 6),
        ("epoch", 6),
    ]
    np.testing.assert_allclose(records[0]["lr"], 0.1 * (1 - 2 / 6), rtol=1e-6)
    assert records[3]["loss"] == history["loss"][0]


def test_history_plot_draws_one_axis_per_metric():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = train.History(
        [
            {
                "epoch": e,
                "step": 10 * e,
                "loss": 1.0 / (e + 1),
                "acc": 0.5,
                "val_loss": 1.2,
                "val_acc": 0.4,
            }
            for e in range(3)
        ]
    )
    fig = history.plot()
    try:
        axes = fig.get_axes()
        assert [ax.get_title() for ax in axes] == ["loss", "acc"]
        assert [len(ax.get_lines()) for ax in axes] == [2, 2]
        np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), history["loss"])
    finally:
        plt.close(fig)
    with pytest.raises(KeyError, match="no metric 'accuracy'"):
        history["accuracy"]


def test_progress_bar_shows_the_loss_and_the_throughput():
    out = io.StringIO()
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1))
    train.fit(
        state,
        train.make_step(mlp_loss),
        mlp_batches(4),
        epochs=1,
        log_every=2,
        callbacks=[train.progress(file=out, mininterval=0)],
    )
    text = out.getvalue()
    assert "4/4" in text and "loss=" in text and "ex/s=" in text


def test_fit_refuses_bad_arguments_and_empty_loaders():
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1))
    step = train.make_step(mlp_loss)
    with pytest.raises(ValueError, match="give epochs=, steps="):
        train.fit(state, step, mlp_batches(1))
    with pytest.raises(ValueError, match="no batches in epoch 0"):
        train.fit(state, step, [], epochs=1)
    with pytest.raises(ValueError, match="eval_every"):
        train.fit(state, step, [], epochs=1, eval_every="step")


# --- checkpoints and exact resumption -------------------------------------------------------


class ShuffledLoader:
    """A loader with grain-like state: a new seeded order each epoch, and get_state /
    set_state (the next batch to yield), as funcnet.data.Loader."""

    def __init__(self, data, batch_size=2, seed=0):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.epoch, self.position = 0, 0

    def __len__(self):
        return len(self.data["x"]) // self.batch_size

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.data["x"]))
        while self.position < len(self):
            idx = order[self.position * self.batch_size : (self.position + 1) * self.batch_size]
            self.position += 1
            if self.position == len(self):
                self.epoch, self.position = self.epoch + 1, 0
            yield {k: v[idx] for k, v in self.data.items()}
            if self.position == 0:
                return

    def get_state(self):
        return {"epoch": self.epoch, "position": self.position}

    def set_state(self, state):
        self.epoch, self.position = state["epoch"], state["position"]


def _data(n=10):
    rng = np.random.default_rng(3)
    return {
        "x": rng.normal(size=(n, 3)).astype(np.float32),
        "y": rng.normal(size=(n, 2)).astype(np.float32),
    }


def _dropout_loss(params, batch, key):  # uses the key: resumption must restore it too
    keep = random.bernoulli(key, 0.8, batch["x"].shape)
    return mlp_loss(params, {**batch, "x": fnp.where(keep, batch["x"] / 0.8, 0.0)})


@pytest.mark.parametrize("stateful", [True, False], ids=["loader_state", "replayed_list"])
def test_a_resumed_fit_is_bit_identical_to_an_uninterrupted_one(tmp_path, stateful):
    def new_loader():
        if stateful:
            return ShuffledLoader(_data())
        return mlp_batches(5, size=2)

    def new_state(fresh=False):
        tx = optim.adam(0.05) if fresh else _ADAM
        return train.TrainState.create(params=to_device(mlp_params()), tx=tx, key=random.key(1))

    shared_step = _new_run(fresh=False)[1]
    full, full_history = train.fit(new_state(), shared_step, new_loader(), steps=14, log_every=3)
    # First half: 7 steps (mid-epoch: 5 batches an epoch), checkpointed every 7.
    mgr = CheckpointManager(tmp_path / "ckpt")
    train.fit(
        new_state(),
        shared_step,
        new_loader(),
        steps=7,
        log_every=3,
        callbacks=[train.checkpoint(mgr, every=7)],
        resume=mgr,
    )
    mgr.close()
    assert CheckpointManager(tmp_path / "ckpt").all_steps() == [7]
    # Second half with fresh objects (a new step too), the same call: it continues the run
    # to step 14.
    mgr = CheckpointManager(tmp_path / "ckpt")
    resumed, history = train.fit(
        new_state(fresh=True),
        train.make_step(_dropout_loss),
        new_loader(),
        steps=14,
        log_every=3,
        callbacks=[train.checkpoint(mgr, every=7)],
        resume=mgr,
    )
    mgr.close()
    assert_trees_equal(resumed, full)
    # The epoch means survive the restart (summed in other groups: float32 rounding).
    np.testing.assert_allclose(history["loss"], full_history["loss"], rtol=1e-6)
    assert len(history) == 3 and history.rows[-1]["step"] == 14


_SHARED_STEP = []  # one compiled step for the uninterrupted and first-half runs (fast tests)
# One optimizer object: the optimizer is static in the TrainState's tree structure, so a
# new one (even an equal one) would make the shared step compile again.
_ADAM = optim.adam(0.05)


def _new_run(fresh=True):
    """A state, step and loader for the resumption tests: new objects throughout (a new
    step function is compiled anew) unless `fresh=False` reuses the shared step."""
    tx = optim.adam(0.05) if fresh else _ADAM
    state = train.TrainState.create(params=to_device(mlp_params()), tx=tx, key=random.key(1))
    if fresh:
        step = train.make_step(_dropout_loss)
    else:
        if not _SHARED_STEP:
            _SHARED_STEP.append(train.make_step(_dropout_loss))
        step = _SHARED_STEP[0]
    return state, step, ShuffledLoader(_data())


def test_resuming_in_a_new_process_continues_exactly(tmp_path):
    # This process runs 6 steps (mid-epoch) with a checkpoint; a new one resumes to 11.
    with CheckpointManager(tmp_path / "ckpt") as mgr:
        train.fit(*_new_run(False), steps=6, callbacks=[train.checkpoint(mgr)], resume=mgr)
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import test_train as t
        from funcnet import train
        from funcnet.io import CheckpointManager
        with CheckpointManager({str(tmp_path / "ckpt")!r}) as mgr:
            state, _ = train.fit(*t._new_run(), steps=11, callbacks=[train.checkpoint(mgr)],
                                 resume=mgr)
        np.save({str(tmp_path / "w.npy")!r}, np.asarray(state.params["dense_0"]["w"]))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    state, _ = train.fit(*_new_run(False), steps=11)
    np.testing.assert_array_equal(
        np.load(tmp_path / "w.npy"), np.asarray(state.params["dense_0"]["w"])
    )
    assert CheckpointManager(tmp_path / "ckpt").all_steps() == [6, 11]


def test_checkpoints_store_state_loader_and_metrics_for_custom_loops(tmp_path):
    loader = ShuffledLoader(_data())
    state = train.TrainState.create(params=to_device(mlp_params()), tx=optim.sgd(0.1))
    with CheckpointManager(tmp_path) as mgr:
        state, _ = train.fit(
            state,
            train.make_step(mlp_loss),
            loader,
            steps=4,
            log_every=2,
            callbacks=[train.checkpoint(mgr, every=2)],
        )
        assert mgr.all_steps() == [2, 4]
        assert set(mgr.metrics(4)) == {"loss"}
        fresh = ShuffledLoader(_data())
        restored = train.restore(mgr, state, loader=fresh)
    assert_trees_equal(restored, state)
    assert fresh.get_state() == {"epoch": 0, "position": 4}


def test_a_batchnorm_model_keeps_its_statistics_in_the_state():
    from funcnet import nn

    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.relu, nn.Dense(3)])
    params, model_state, _ = model.init_with_state(random.key(0), (-1, 5))

    def loss_fn(params, batch, model_state):
        logits, new = model.apply(params, batch["x"], state=model_state, train=True)
        return nn.losses.softmax_cross_entropy(logits, batch["label"]), {"model_state": new}

    x = RNG.normal(size=(8, 5)).astype(np.float32)
    _, expected = model.apply(params, x, state=model_state, train=True)
    expected = host(expected)
    state = train.TrainState.create(params=params, tx=optim.sgd(0.1), model_state=model_state)
    state, _ = train.make_step(loss_fn, has_aux=True)(state, {"x": x, "label": np.arange(8) % 3})
    for got, want in zip(fn.tree.leaves(host(state.model_state)), fn.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The running statistics moved from their initial values (mean 0, variance 1).
    assert not np.allclose(host(state.model_state)["batch_norm_0"]["mean"], 0.0)

    # Evaluation reads the statistics (inference mode) and leaves them alone.
    def metric_fn(params, batch, model_state):
        logits, _ = model.apply(params, batch["x"], state=model_state)
        return {"mean_logit": fnp.mean(logits)}

    got = train.make_eval_step(metric_fn)(state, {"x": x})["mean_logit"]
    logits, _ = model.apply(state.params, x, state=state.model_state)
    np.testing.assert_allclose(float(got), float(np.mean(np.asarray(logits))), rtol=1e-6)


def test_fit_takes_any_step_function_and_names_a_non_scalar_metric():
    def my_step(state, batch):  # a hand-written step: fit needs only the signature
        state = state.apply_gradients(fn.grad(linreg_loss)(state.params, batch))
        return state, {"loss": linreg_loss(state.params, batch), "per_example": batch["y"]}

    with pytest.raises(ValueError, match=r"metric 'per_example' has shape \(4,\)"):
        train.fit(_state(), my_step, [BATCH], epochs=1)


@pytest.mark.parametrize("every", ["epoch", 5], ids=["on_epoch_end", "at_the_last_step"])
def test_a_run_checkpointed_at_an_epoch_end_resumes_with_more_epochs(tmp_path, every):
    full, full_history = train.fit(*_new_run(False), epochs=3)
    with CheckpointManager(tmp_path) as mgr:
        train.fit(*_new_run(False), epochs=2, callbacks=[train.checkpoint(mgr, every=every)])
        assert mgr.latest_step() == 10
        resumed, history = train.fit(
            *_new_run(), epochs=3, callbacks=[train.checkpoint(mgr, every=every)], resume=mgr
        )
    assert_trees_equal(resumed, full)
    assert [r["step"] for r in history.rows] == [5, 10, 15]
    np.testing.assert_allclose(history["loss"], full_history["loss"], rtol=1e-6)


def test_early_stopping_keeps_its_patience_across_a_resume(tmp_path):
    values = [1.0, 0.5, 0.75, 0.625, 0.875, 0.25, 0.25]
    one_batch = [{"x": np.zeros((1, 3), np.float32)}]
    with CheckpointManager(tmp_path) as mgr:
        for epochs, script in ((3, values[:3]), (10, values[3:])):
            _, history = train.fit(
                *_new_run(False), epochs=epochs, eval=(_EvalScript(script), one_batch),
                callbacks=[train.early_stopping(patience=2), train.checkpoint(mgr, "epoch")],
                resume=mgr,
            )  # fmt: skip
    # 0.5 stays the best after the restart: the 5th evaluation is the 3rd without gain.
    assert history["val_loss"] == values[:5]
    assert "best 0.5 at step 10" in history.stop_reason


def test_a_resumed_fit_with_a_data_loader_sees_the_same_batches(tmp_path):
    from funcnet import data

    def new_loader():
        return data.Loader(data.from_arrays(**_data()), batch_size=2, shuffle=True, seed=4)

    state, shared_step, _ = _new_run(fresh=False)
    full, _ = train.fit(state, shared_step, new_loader(), steps=13)
    with CheckpointManager(tmp_path) as mgr:
        state, shared_step, _ = _new_run(fresh=False)
        train.fit(state, shared_step, new_loader(), steps=8, callbacks=[train.checkpoint(mgr)])
        state, fresh_step, _ = _new_run()
        resumed, _ = train.fit(state, fresh_step, new_loader(), steps=13, resume=mgr)
    assert_trees_equal(resumed, full)


def test_augment_with_input_key_none_rewrites_the_whole_batch():
    def swap(key, batch):  # a stand-in for mixup: it changes the targets too
        return {"x": batch["x"] * 2.0, "y": batch["y"] + 1.0}

    state = _state(key=0)
    step = train.make_step(linreg_loss, augment=swap, input_key=None)
    w0 = np.zeros(2, np.float32)
    state, metrics = step(state, BATCH)
    expected = np.mean((BATCH["x"] * 2.0 @ w0 - (BATCH["y"] + 1.0)) ** 2)
    np.testing.assert_allclose(float(metrics["loss"]), expected)
    bad = train.make_step(linreg_loss, augment=lambda k, b: b["x"], input_key=None)
    with pytest.raises(TypeError, match=r"input_key=None.*must return the batch \(a dict\)"):
        bad(_state(key=0), BATCH)
