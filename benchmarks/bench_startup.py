"""Demo start-up with a cold vs a warm persistent compilation cache.

Each run is a fresh process (`python -c ...`) that imports funcnet and runs the demo
(`funcnet.demo.main`: the MLP and the CNN, one epoch each by default, so compiling is
most of the run): its jitted train steps, the predict function and the eager ops around
them. Three kinds of run, round by round:

  off   no cache (FUNCNET_COMPILATION_CACHE_DIR unset): the baseline
  cold  an empty cache directory: compiles everything and writes the entries
  warm  the directory the cold run of the same round filled: loads instead of compiling

Reported per kind (median and minimum over rounds): the process's wall time (interpreter
start to exit, measured by this script), and inside the process the time funcnet spent
getting executables (XLA compile seconds + cache load seconds, from
`funcnet.runtime.compilation_cache.stats()`), with the number of compiles and hits.
Target: the warm run's compile time (load time) at most 10% of the cold run's.

Run: python benchmarks/bench_startup.py [--rounds 5] [--epochs 1] [--quick]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _timing

_timing.in_repo_path()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import funcnet
from funcnet.runtime import compilation_cache as cc
import funcnet.demo
t_import = time.perf_counter() - t0
funcnet.demo.main(["--epochs-mlp", sys.argv[1], "--epochs-cnn", sys.argv[1], "--no-progress"])
s = cc.stats()
print(json.dumps({"import_s": t_import, "run_s": time.perf_counter() - t0,
                  "compile_s": s.compile_seconds, "load_s": s.load_seconds,
                  "compiles": s.compiles, "hits": s.hits, "writes": s.writes}))
"""


def run_child(cache_dir, epochs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("FUNCNET_COMPILATION_CACHE_DIR", None)
    if cache_dir is not None:
        env["FUNCNET_COMPILATION_CACHE_DIR"] = cache_dir
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(epochs)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"the demo process failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    result["executables_s"] = result["compile_s"] + result["load_s"]
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=1, help="demo epochs per model")
    ap.add_argument("--quick", action="store_true", help="one round (a smoke run)")
    args = ap.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    _timing.print_header(
        f"demo start-up, persistent compilation cache cold vs warm ({rounds} rounds, "
        f"{args.epochs} epoch(s) per model)"
    )
    runs = {"off": [], "cold": [], "warm": []}
    for _ in range(rounds):
        runs["off"].append(run_child(None, args.epochs))
        with tempfile.TemporaryDirectory(prefix="funcnet_bench_cache_") as d:
            runs["cold"].append(run_child(d, args.epochs))
            runs["warm"].append(run_child(d, args.epochs))

    def stat(kind, field, how):
        return how(r[field] for r in runs[kind])

    print(
        f"  {'run':<6} {'wall (median/min)':>22} {'in-process':>12} "
        f"{'executables (median/min)':>28} {'compiles':>9} {'hits':>6}"
    )
    for kind in runs:
        print(
            f"  {kind:<6} {stat(kind, 'wall_s', statistics.median):9.3f} s /"
            f"{stat(kind, 'wall_s', min):7.3f} s "
            f"{stat(kind, 'run_s', statistics.median):10.3f} s "
            f"{stat(kind, 'executables_s', statistics.median):12.3f} s /"
            f"{stat(kind, 'executables_s', min):8.3f} s "
            f"{runs[kind][0]['compiles']:9d} {runs[kind][0]['hits']:6d}"
        )
    paired = statistics.median(
        w["executables_s"] / c["executables_s"] for w, c in zip(runs["warm"], runs["cold"])
    )
    ratios = {
        "warm/cold executables (paired median)": paired,
        "warm/cold executables (min)": stat("warm", "executables_s", min)
        / stat("cold", "executables_s", min),
        "warm/cold wall (min)": stat("warm", "wall_s", min) / stat("cold", "wall_s", min),
        "cold/off wall (min)": stat("cold", "wall_s", min) / stat("off", "wall_s", min),
    }
    for name, value in ratios.items():
        print(f"  {name:<40} {value:6.3f}x")
    verdict = "met" if paired <= 0.10 else "NOT met"
    print(f"  target: warm compile time <= 10% of cold: {verdict} ({paired:.1%})")
    _timing.maybe_dump("startup", {"runs": runs, "ratios": ratios})
    return runs, ratios


if __name__ == "__main__":
    main()
