"""Compressed digits models: latency, accuracy and bytes of each variant (issue 18).

Models: the demo's digits MLP (64-256-128-10) and CNN (two 3x3 convolutions of 32 and
64 channels, a 2x2 max pool, dense 128, dense 10), `funcnet.demo.mlp()` / `cnn()`,
trained here in float32 with Adam on the digits training split (fixed seeds). Variants,
each a jitted predict function `(params, x) -> logits` on the same trained weights:

  float32           model.apply
  bfloat16          compress.mixed_precision(model.apply, Policy(bf16, bf16, f32)) on the
                    parameters stored in bfloat16
  int8 PTQ          compress.quantize_model(model, params, 4 calibration batches of 256):
                    int8 x int8 dot_general / convolution with int32 accumulation
  int4 weight-only  compress.quantize_model(..., weight_bits=4): packed 4-bit weights,
                    unpacked and dequantized in the program, float matmul
  quantize_program  compress.quantize_program(lambda x: model.apply(params, x)): the IR
                    rewrite of every float32 dot_general on a weight (convolutions stay
                    float32), dynamic per-tensor activation scales
  jax float32       the same float32 computation written in jax (benchmarks/_models.py)
                    on the same weights: the reference

(int8 QAT converts to the same int8 layers as PTQ, so its latency is PTQ's; pruned
models run the float32 program. Both are in notebooks/08_compression.ipynb.)

For each model and batch size (256 and 1) all variants are timed interleaved
(_cpu_timing.compare: blocks of calls, wall and CPU time per block); the table gives the
minimum wall time per call (the stable statistic on a shared machine), the CPU-time
median, and ratios of the minima to funcnet float32 and to jax float32. Accuracy is on
the 359 test images; bytes are compress.param_bytes of the tree each variant runs with
(for quantize_program: the rewritten program's constants).

Run: python benchmarks/bench_compress.py [--repeat 15] [--quick]
"""

import argparse
import sys

import _timing

_timing.in_repo_path()

import _cpu_timing
import _models
import jax
import numpy as np

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import compress, demo, optim, random

BATCHES = (256, 1)
EPOCHS = {"mlp": 10, "cnn": 6}


def jax_mlp(p, x):
    return _models.jax_mlp(p, x.reshape(x.shape[0], -1))


JAX_APPLY = {"mlp": jax_mlp, "cnn": _models.jax_cnn}
MODELS = {"mlp": demo.mlp, "cnn": demo.cnn}


def train(model, x, y, epochs, batch_size=64, seed=0):
    params, _ = model.init(random.key(seed), (-1,) + x.shape[1:])
    opt = optim.adam(2e-3)
    step, opt_state = demo.make_train_step(model, opt), opt.init(params)
    rng, n = np.random.default_rng(seed), len(x) // batch_size
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(n):
            idx = order[i * batch_size : (i + 1) * batch_size]
            params, opt_state, _ = step(params, opt_state, x[idx], y[idx])
    return params


def variants(name, model, params, x_train, x_probe):
    """{variant: (predict(params, x), params, bytes)}; jax's predict takes jax arrays."""
    bf16 = compress.Policy(fnp.bfloat16, fnp.bfloat16, fnp.float32)
    bf16_params = bf16.cast_to_param(params)
    calibration = [x_train[i : i + 256] for i in range(0, 1024, 256)]
    int8_model, int8_params = compress.quantize_model(model, params, calibration)
    int4_model, int4_params = compress.quantize_model(model, params, weight_bits=4)
    qf = compress.quantize_program(lambda x: model.apply(params, x))
    consts, qf_jit = list(qf.inspect(x_probe).jaxpr.consts), fn.jit(qf)
    np_params = jax.tree_util.tree_map(np.asarray, params)
    out = {
        "float32": (fn.jit(model.apply), params),
        "bfloat16": (fn.jit(compress.mixed_precision(model.apply, bf16)), bf16_params),
        "int8 PTQ": (fn.jit(int8_model.apply), int8_params),
        "int4 weight-only": (fn.jit(int4_model.apply), int4_params),
        # fn.jit(qf) takes x only; its program holds the int8 weights (consts: for bytes)
        "quantize_program": (lambda consts, x: qf_jit(x), consts),
        "jax float32": (jax.jit(JAX_APPLY[name]), jax.device_put(np_params)),
    }
    return {k: (f, p, compress.param_bytes(p)) for k, (f, p) in out.items()}


def accuracy(predict, params, x, y):
    return float(np.mean(np.argmax(np.asarray(predict(params, x)), axis=-1) == y))


def bench_model(name, splits, epochs, repeat):
    (x_train, y_train), (x_test, y_test) = splits
    model = MODELS[name]()
    params = train(model, x_train, y_train, epochs)
    cases = variants(name, model, params, x_train, x_test[:256])
    ref = np.asarray(cases["float32"][0](params, x_test))
    jax_logits = np.asarray(cases["jax float32"][0](cases["jax float32"][1], x_test))
    np.testing.assert_allclose(jax_logits, ref, rtol=1e-4, atol=1e-4)  # same computation
    rows = {
        k: {"accuracy": accuracy(f, p, x_test, y_test), "bytes": b}
        for k, (f, p, b) in cases.items()
    }
    for batch in BATCHES:
        x = x_test[:batch]
        inputs = {"funcnet": fn.device_put(x), "jax": jax.device_put(x)}
        timed = {}
        for k, (f, p, _) in cases.items():
            xk = inputs["jax" if k.startswith("jax") else "funcnet"]
            timed[k] = lambda f=f, p=p, x=xk: f(p, x)
        times = _cpu_timing.compare(timed, repeat=repeat, target_s=0.02 if repeat > 3 else 0.002)
        for k, t in times.items():
            rows[k][f"b{batch}"] = {key: t[key] for key in ("min", "median", "cpu_median")}
    return rows


def print_table(name, rows):
    f32, jx = rows["float32"], rows["jax float32"]
    print(f"\n  {name}: min wall time per call (CPU-time median), ratios of minima")
    head = "| variant | accuracy | bytes |"
    rule = "|---|---:|---:|"
    for batch in BATCHES:
        head += f" batch {batch} | vs float32 | vs jax |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    for k, r in rows.items():
        line = f"| {k} | {r['accuracy']:.2%} | {r['bytes']:,} |"
        for batch in BATCHES:
            t = r[f"b{batch}"]
            line += (
                f" {_cpu_timing.fmt(t['min'])} ({_cpu_timing.fmt(t['cpu_median'])}) "
                f"| {t['min'] / f32[f'b{batch}']['min']:.2f}x "
                f"| {t['min'] / jx[f'b{batch}']['min']:.2f}x |"
            )
        print(line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15, help="interleaved rounds per batch size")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 1 epoch, 3 rounds")
    ap.add_argument("--only", choices=sorted(MODELS), nargs="*", default=sorted(MODELS))
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else args.repeat
    _timing.print_header("Compressed digits models: latency per batch, accuracy, bytes")
    splits = demo.digits_split()
    results = {}
    for name in ("mlp", "cnn"):
        if name not in args.only:
            continue
        epochs = 1 if args.quick else EPOCHS[name]
        results[name] = bench_model(name, splits, epochs, repeat)
        print_table(name, results[name])
    _timing.maybe_dump("compress", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
