"""Fused eager mode (issue 19 part 5): the digits MLP and CNN training step written
without `jit`, run plain eager, inside `fn.fused_eager()`, and jitted.

The step is the demo's (`demo.mlp()` / `demo.cnn()`, softmax cross-entropy,
`value_and_grad`, `optim.adam(2e-3)`, `apply_updates`), batch 64 of the 8x8 digits.
Each step reads its loss (`float(loss)`), the sync point a training loop has anyway.
The three variants are timed interleaved in one process (`_cpu_timing.compare`:
wall and CPU time per step, minima and medians over blocks); the ratios fused/jit and
eager/jit are the result (target: fused within 2x of jit).

    python benchmarks/bench_fused_eager.py [--repeat 15] [--only mlp,cnn]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import _cpu_timing
import numpy as np

import funcnet as fn
from funcnet import demo, nn, optim, random
from funcnet.transforms import fused_eager as fe


def setup(name, batch=64):
    model = demo.mlp() if name == "mlp" else demo.cnn()
    (x_train, y_train), _ = demo.digits_split()
    x, y = fn.device_put(np.asarray(x_train[:batch])), fn.device_put(np.asarray(y_train[:batch]))
    params, _ = model.init(random.key(0), (-1,) + tuple(x.shape[1:]))
    opt = optim.adam(2e-3)

    def loss_fn(p, xb, yb):
        return nn.losses.softmax_cross_entropy(model.apply(p, xb), yb).mean()

    def step(p, s, xb, yb):
        loss, grads = fn.value_and_grad(loss_fn)(p, xb, yb)
        updates, s = opt.update(grads, s, p)
        return optim.apply_updates(p, updates), s, loss

    return step, fn.jit(step), params, opt.init(params), x, y


def runner(step, params, state, x, y, fused):
    box = [params, state]

    def run_one():
        if fused:
            with fe.fused_eager():
                box[0], box[1], loss = step(box[0], box[1], x, y)
                float(loss)
        else:
            box[0], box[1], loss = step(box[0], box[1], x, y)
            float(loss)
        return loss

    return run_one


def check_same(step, jstep, params, state, x, y, n=3):
    """The three variants follow one trajectory for n steps (loss to float32 rounding)."""
    outs = {}
    for mode in ("eager", "fused", "jit"):
        p, s = params, state
        losses = []
        for _ in range(n):
            if mode == "fused":
                with fe.fused_eager():
                    p, s, loss = step(p, s, x, y)
            else:
                p, s, loss = (jstep if mode == "jit" else step)(p, s, x, y)
            losses.append(float(loss))
        outs[mode] = losses
    np.testing.assert_allclose(outs["fused"], outs["eager"], rtol=2e-5)
    np.testing.assert_allclose(outs["fused"], outs["jit"], rtol=2e-5)
    return outs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--only", default="mlp,cnn")
    args = ap.parse_args(argv)
    print(f"load: {os.getloadavg()}")
    rows = {}
    for name in args.only.split(","):
        step, jstep, params, state, x, y = setup(name)
        check_same(step, jstep, params, state, x, y)
        before = fe.cache_info()["compiles"]
        cases = {
            "jit": runner(jstep, params, state, x, y, False),
            "fused": runner(step, params, state, x, y, True),
            "eager": runner(step, params, state, x, y, False),
        }
        r = _cpu_timing.compare(cases, repeat=args.repeat)
        compiled = fe.cache_info()["compiles"] - before
        rows[name] = r
        j = r["jit"]
        print(
            f"{name}: jit {j['min'] * 1e3:.3f} ms, fused {r['fused']['min'] * 1e3:.3f} ms, "
            f"eager {r['eager']['min'] * 1e3:.3f} ms per step (min wall); "
            f"fused/jit {r['fused']['min'] / j['min']:.2f}x "
            f"(cpu {r['fused']['cpu_min'] / j['cpu_min']:.2f}x, "
            f"median {r['fused']['median'] / j['median']:.2f}x), "
            f"eager/jit {r['eager']['min'] / j['min']:.2f}x "
            f"(cpu {r['eager']['cpu_min'] / j['cpu_min']:.2f}x); "
            f"chains compiled while timing: {compiled}"
        )
    print(f"load: {os.getloadavg()}")
    return rows


if __name__ == "__main__":
    main()
