"""The demo: train an MLP and a small CNN on the 8x8 handwritten digits funcnet ships.

Run it with ``python -m funcnet.demo`` (``--quick`` for a short run). Everything
is funcnet: layers from ``funcnet.nn``, Adam from ``funcnet.optim``, and one
jit-compiled training step per model (loss, gradient, update).
"""

import argparse
import math
import sys
import time

import numpy as np
from tqdm import tqdm

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn, optim, random
from funcnet.datasets import load_digits


class NaNLossError(RuntimeError):
    pass


def digits_split(test_fraction=0.2, seed=0):
    """Images scaled to [0, 1] with a channel axis, and a fixed train/test split."""
    images, labels = load_digits()
    x = images.astype(np.float32)[..., None] / 16.0
    y = labels.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


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
    def loss_fn(params, x, y):
        return nn.losses.softmax_cross_entropy(model.apply(params, x), y).mean()

    @fn.jit
    def train_step(params, opt_state, x, y):
        loss, grads = fn.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    return train_step


def accuracy(model, params, x, y, batch=512):
    predict = fn.jit(lambda p, xb: fnp.argmax(model.apply(p, xb), axis=-1))
    hits = 0
    for i in range(0, len(y), batch):
        hits += int((np.asarray(predict(params, x[i : i + batch])) == y[i : i + batch]).sum())
    return hits / len(y)


def train(name, model, data, epochs, batch_size=64, lr=2e-3, seed=0, progress=True):
    """Train one model; returns a dict of results (accuracy, steps/s, compile time)."""

    (x_train, y_train), (x_test, y_test) = data
    params, _ = model.init(random.key(seed), (-1,) + x_train.shape[1:])
    steps_per_epoch = len(y_train) // batch_size
    total = epochs * steps_per_epoch
    opt = optim.adam(optim.warmup_cosine(lr, warmup=max(total // 20, 1), total=total))
    opt_state = opt.init(params)
    train_step = make_train_step(model, opt)

    t0 = time.perf_counter()
    compiled = train_step.lower(
        params, opt_state, x_train[:batch_size], y_train[:batch_size]
    ).compile()
    compile_time = time.perf_counter() - t0
    del compiled

    rng = np.random.default_rng(seed)
    step, t_start = 0, time.perf_counter()
    bar = tqdm(
        total=total,
        desc=f"{name:>3}",
        unit="step",
        disable=not progress,
        file=sys.stdout,
        dynamic_ncols=True,
        mininterval=0.5,
    )
    for epoch in range(epochs):
        order = rng.permutation(len(y_train))
        for i in range(steps_per_epoch):
            idx = order[i * batch_size : (i + 1) * batch_size]
            params, opt_state, loss = train_step(params, opt_state, x_train[idx], y_train[idx])
            step += 1
            if step % 10 == 0 or step == total:
                loss_value = float(loss)
                if not math.isfinite(loss_value):
                    bar.close()
                    raise NaNLossError(
                        f"{name}: the loss became {loss_value} at step {step} "
                        f"(epoch {epoch}); stopping. Try a smaller learning "
                        "rate."
                    )
                elapsed = time.perf_counter() - t_start
                bar.set_postfix(
                    loss=f"{loss_value:.4f}", ex_per_s=f"{step * batch_size / elapsed:,.0f}"
                )
            bar.update(1)
    loss.block_until_ready()
    train_time = time.perf_counter() - t_start
    bar.close()
    acc = accuracy(model, params, x_test, y_test)
    return {
        "model": name,
        "test_accuracy": acc,
        "steps_per_s": total / train_time,
        "compile_s": compile_time,
        "train_s": train_time,
        "params": params,
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
    data = digits_split()
    print(
        f"funcnet {fn.__version__} on {fn.devices()[0]}; digits: {len(data[0][1])} train, "
        f"{len(data[1][1])} test images (8x8)"
    )
    results = []
    for name, model, epochs in (("mlp", mlp(), args.epochs_mlp), ("cnn", cnn(), args.epochs_cnn)):
        res = train(name, model, data, epochs, progress=not args.no_progress)
        results.append(res)
        print(
            f"{name}: test accuracy {res['test_accuracy']:.2%}, "
            f"{res['steps_per_s']:.0f} steps/s, compile {res['compile_s']:.2f} s, "
            f"training {res['train_s']:.1f} s"
        )
    return results


if __name__ == "__main__":
    main()
