"""Run every benchmark, each in its own process (clean caches, no cross-talk).

  python benchmarks/run_all.py                 # all of them
  python benchmarks/run_all.py dispatch eager  # a selection
  python benchmarks/run_all.py --json out/     # also write results as JSON per benchmark

Each script prints funcnet and jax side by side from one run, with ratios
funcnet / jax (< 1: funcnet faster). See benchmarks/README.md for recorded numbers.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = {
    "dispatch": "bench_dispatch.py",  # jit dispatch overhead per call
    "compute": "bench_compute.py",  # compiled compute + optimized HLO comparison
    "compile": "bench_compile.py",  # trace / lower / compile time
    "eager": "bench_eager.py",  # eager per-op overhead
    "vmap": "bench_vmap.py",  # per-example gradients: jit(vmap(grad)) vs jax, loop
    "autodiff_scale": "bench_autodiff_scale.py",  # tracing/differentiating N-op chains
    "training_step": "bench_training_step.py",  # grad step, compile, memory, checkpoint, Adam
    "lstm": "bench_lstm.py",  # LSTM over 100 steps with scan
    "io": "bench_io.py",  # fn.save/fn.load vs raw safetensors (and orbax when installed)
    "export": "bench_export.py",  # exported artifact call vs the jitted function
    "startup": "bench_startup.py",  # demo start-up with a cold vs warm compilation cache
    "train_data": "bench_train_data.py",  # Loader-fed CNN step; char-LSTM vs jax + optax
    "loader": "bench_loader.py",  # data.Loader throughput vs grain and torch DataLoader
    "sharding": "bench_sharding.py",  # 8-device recipes: collectives and step time vs jax
    "compress": "bench_compress.py",  # compressed digits models: latency, accuracy, bytes
    "fused_eager": "bench_fused_eager.py",  # un-jitted training steps: eager, fused, jit
}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "names",
        nargs="*",
        choices=[[], *BENCHMARKS],
        default=[],
        help="benchmarks to run (default: all)",
    )
    ap.add_argument("--json", metavar="DIR", help="write results as JSON into DIR")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.json:
        env["FUNCNET_BENCH_JSON"] = os.path.abspath(args.json)
    failed = []
    for name in args.names or list(BENCHMARKS):
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, os.path.join(HERE, BENCHMARKS[name])], env=env)
        print(f"   [{name}: {time.perf_counter() - t0:.1f} s]\n", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
