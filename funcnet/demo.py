"""The demo: train an MLP and a small CNN on the 8x8 handwritten digits funcnet ships.

Run it with ``python -m funcnet.demo`` (``--quick`` for a short run). Everything is
funcnet: the digits come from ``funcnet.data`` (a source and a shuffling ``Loader``
that prefetches batches onto the device), the layers from ``funcnet.nn``, Adam from
``funcnet.optim``, and ``funcnet.train`` makes one jit-compiled, donating training step
per model and runs it (``fit``: epochs, evaluation on the test split, a progress bar,
early stopping, a stop on a NaN loss).
"""

import argparse
import sys
import time

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import data, nn, optim, random, train

SPLITS = ("train", "test")


class NaNLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the model and the step."""


def digits_split(test_fraction=0.2, seed=0):
    """Images scaled to [0, 1] with a channel axis, and a fixed train/test split.

    The arrays of ``data.digits("train")`` and ``data.digits("test")`` (read-only).
    """
    splits = [data.digits(s, test_fraction=test_fraction, seed=seed).arrays for s in SPLITS]
    return tuple((a["image"], a["label"]) for a in splits)


def mlp():
    return nn.Sequential(
        [nn.Flatten(), nn.Dense(256), nn.relu, nn.Dense(128), nn.relu, nn.Dense(10)]
    )


def cnn():
    return nn.Sequential(
        [
            nn.Conv(32, (3, 3)),
            nn.relu,
            nn.Conv(64, (3, 3)),
            nn.relu,
            nn.MaxPool((2, 2), strides=(2, 2)),
            nn.Flatten(),
            nn.Dense(128),
            nn.relu,
            nn.Dense(10),
        ]
    )


def make_train_step(model, opt):
    """A hand-written jitted step ``(params, opt_state, x, y) -> (params, opt_state, loss)``
    (what ``train.make_step`` builds for a TrainState; notebooks/03 uses this one)."""

    def loss_fn(params, x, y):
        return nn.losses.softmax_cross_entropy(model.apply(params, x), y).mean()

    @fn.jit
    def train_step(params, opt_state, x, y):
        loss, grads = fn.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    return train_step


def classifier_metrics(model):
    """``metrics(params, batch) -> {"loss", "accuracy"}`` for a batch of digits."""

    def metrics(params, batch):
        logits = model.apply(params, batch["image"])
        loss = nn.losses.softmax_cross_entropy(logits, batch["label"]).mean()
        accuracy = fnp.mean(fnp.argmax(logits, axis=-1) == batch["label"])
        return {"loss": loss, "accuracy": accuracy}

    return metrics


def accuracy(model, params, loader):
    """The fraction of the loader's images that ``model`` classifies right."""
    predict = fn.jit(lambda p, xb: fnp.argmax(model.apply(p, xb), axis=-1))
    hits = total = 0
    for batch in loader:
        hits += int(fnp.sum(predict(params, batch["image"]) == batch["label"]))
        total += batch["label"].shape[0]
    return hits / total


class _TrainingTime(train.Callback):
    """Seconds spent in the epochs' steps: from an epoch's start to its last metrics pull
    (which waits for its last step), so the evaluations after each epoch are left out.
    The first epoch also compiles fit's small metric programs and starts the loader's
    pipeline; `steps_per_s` leaves it out when there are later epochs."""

    def __init__(self):
        self.epochs = []  # (seconds, steps) per epoch

    def on_epoch_start(self, ctx):
        self._start = self._last = time.perf_counter()
        self._first_step = int(ctx.state.step)

    def on_log(self, ctx):
        self._last = time.perf_counter()

    def on_epoch_end(self, ctx):
        self.epochs.append((self._last - self._start, int(ctx.state.step) - self._first_step))

    @property
    def seconds(self):
        return sum(s for s, _ in self.epochs)

    @property
    def steps_per_s(self):
        steady = self.epochs[1:] or self.epochs
        return sum(n for _, n in steady) / sum(s for s, _ in steady)


def _sources(splits):
    if splits is None:
        return data.digits("train"), data.digits("test")
    (x_train, y_train), (x_test, y_test) = splits
    return (
        data.from_arrays(image=x_train, label=y_train),
        data.from_arrays(image=x_test, label=y_test),
    )


def train_model(
    name, model, splits=None, epochs=10, batch_size=64, lr=2e-3, seed=0, progress=True, patience=4
):
    """Train one model with ``funcnet.train.fit``; returns a dict of results.

    Args:
      name: a label for the progress bar and the results.
      model: an ``nn`` layer mapping ``(batch, 8, 8, 1)`` images to 10 logits.
      splits: ``((x_train, y_train), (x_test, y_test))`` arrays, or None for
        ``data.digits("train")`` and ``data.digits("test")``.
      epochs: passes over the training split (fewer if early stopping ends the run).
      batch_size: images per step.
      lr: Adam's peak learning rate (warm-up, then cosine decay).
      seed: the seed of the parameters and of the loader's shuffle.
      progress: show a tqdm bar.
      patience: epochs without a better ``val_loss`` before stopping early.

    Returns:
      ``{"model", "test_accuracy", "steps_per_s", "compile_s", "train_s", "fit_s",
      "epochs", "history", "params"}``: ``train_s`` is the time spent in training steps
      (the loader's batches included, evaluations not), ``steps_per_s`` the steady rate
      (the epochs after the first, which also compiles), ``fit_s`` the whole ``fit``.

    Raises:
      NaNLossError: the loss became NaN or infinite (the message names the step).
    """
    train_src, test_src = _sources(splits)
    loader = data.Loader(train_src, batch_size, shuffle=True, seed=seed, drop_last=True)
    test_loader = data.Loader(test_src, 512)
    params, _ = model.init(random.key(seed), (-1,) + train_src[0]["image"].shape)
    total = epochs * len(loader)
    tx = optim.adam(optim.warmup_cosine(lr, warmup=max(total // 20, 1), total=total))
    state = train.TrainState.create(params=params, tx=tx)
    metrics = classifier_metrics(model)

    def loss_fn(params, batch):
        m = metrics(params, batch)
        return m["loss"], {"accuracy": m["accuracy"]}

    step = train.make_step(loss_fn, has_aux=True)
    t0 = time.perf_counter()
    # Compiled apart, to report its time (make_step's step wraps the jitted function);
    # a host batch of the same shapes, so that the loader's first epoch stays untouched.
    step.jitted.lower(state, train_src.batch(range(batch_size))).compile()
    compile_time = time.perf_counter() - t0

    timer = _TrainingTime()
    callbacks = [timer, train.early_stopping("val_loss", patience=patience, restore_best=True)]
    if progress:
        callbacks.append(train.progress(file=sys.stdout, leave=False, mininterval=0.5))
    t_start = time.perf_counter()
    try:
        state, history = train.fit(
            state,
            step,
            loader,
            epochs=epochs,
            eval=(metrics, test_loader),
            callbacks=callbacks,
            log_every=10,
        )
    except FloatingPointError as e:  # fit names the metric and the step that made it
        raise NaNLossError(
            f"{name}: the {e.metric} became {e.value} at step {e.step}; stopping. "
            "Try a smaller learning rate."
        ) from e
    total_time = time.perf_counter() - t_start
    return {
        "model": name,
        "test_accuracy": accuracy(model, state.params, test_loader),
        "steps_per_s": timer.steps_per_s,
        "compile_s": compile_time,
        "train_s": timer.seconds,
        "fit_s": total_time,
        "epochs": len(history.rows),
        "history": history,
        "params": state.params,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-mlp", type=int, default=15)
    parser.add_argument("--epochs-cnn", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="one epoch each (a smoke test)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs_mlp = args.epochs_cnn = 1
    n_train, n_test = (len(data.digits(s)) for s in SPLITS)
    print(
        f"funcnet {fn.__version__} on {fn.devices()[0]}; digits: {n_train} train, "
        f"{n_test} test images (8x8)"
    )
    results = []
    for name, model, epochs in (("mlp", mlp(), args.epochs_mlp), ("cnn", cnn(), args.epochs_cnn)):
        res = train_model(name, model, epochs=epochs, progress=not args.no_progress)
        results.append(res)
        stopped = f" (early stop after {res['epochs']})" if res["epochs"] < epochs else ""
        print(
            f"{name}: test accuracy {res['test_accuracy']:.2%}, "
            f"{res['steps_per_s']:.0f} steps/s, compile {res['compile_s']:.2f} s, "
            f"training {res['train_s']:.1f} s, {res['epochs']} epochs{stopped}"
        )
    return results


if __name__ == "__main__":
    main()
