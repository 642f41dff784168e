"""Shared timing helpers for the funcnet-vs-jax benchmarks.

Every benchmark times funcnet and its jax counterpart in ONE process, interleaved
round by round (funcnet block, jax block, funcnet block, ...), so that a change of
machine load hits both sides alike. Each block runs the callable `number` times
and blocks on the last result (async dispatch is counted, queued work is not left
behind); a block's time divided by `number` is one sample. We report the median
and the minimum of the samples; ratios are funcnet / reference (< 1: funcnet is
faster). The minimum is the better estimate of the cost itself on a shared,
noisy machine; the median shows what a typical run sees. The "paired" ratio is the
median over rounds of (funcnet block / reference block in the same round): blocks
next to each other in time share the machine's load, so it is the most stable
ratio when the load changes during a run.
"""

import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

_clock = time.perf_counter


def block(x):
    """Wait for a (pytree of) funcnet / jax array(s)."""
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    elif isinstance(x, (list, tuple)):
        for y in x:
            block(y)
    elif isinstance(x, dict):
        for y in x.values():
            block(y)
    return x


def _block_time(fn, number):
    t0 = _clock()
    r = None
    for _ in range(number):
        r = fn()
    block(r)
    return (_clock() - t0) / number


def calibrate(fn, target_s=0.02, max_number=100_000):
    """How many calls make a block of about `target_s` seconds."""
    number = 1
    while True:
        t = _block_time(fn, number) * number
        if t >= target_s or number >= max_number:
            return number
        number = min(max_number, max(number * 2, int(number * target_s / max(t, 1e-9))))


def compare(cases, *, repeat=15, number=None, target_s=0.02, warmup=2):
    """Time named zero-argument callables interleaved.

    cases: {name: callable}. Returns {name: {"median": s, "min": s, "samples": [...]}}
    (seconds per call).
    """
    for fn in cases.values():  # compile, fill caches
        for _ in range(warmup):
            block(fn())
    numbers = {k: number or calibrate(fn, target_s) for k, fn in cases.items()}
    samples = {k: [] for k in cases}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection in one block but not the other is noise
    try:
        for _ in range(repeat):
            for k, fn in cases.items():
                samples[k].append(_block_time(fn, numbers[k]))
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        k: {
            "median": statistics.median(v),
            "min": min(v),
            "p10": percentile(v, 10),
            "samples": v,
            "number": numbers[k],
        }
        for k, v in samples.items()
    }


def percentile(samples, q):
    return float(np.percentile(samples, q))


def time_once(fn, repeat=5):
    """Wall time of `repeat` independent runs of a one-shot `fn` (fresh state each run,
    e.g. trace/compile). Returns the list of seconds."""
    out = []
    for _ in range(repeat):
        gc.collect()
        t0 = _clock()
        block(fn())
        out.append(_clock() - t0)
    return out


def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples), "samples": samples}


def machine_info():
    import jax
    import jaxlib

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        ncpu = os.cpu_count()
    try:
        load = f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover
        load = "?"
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cores": ncpu,
        "load1": load,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "device": str(jax.devices()[0]),
    }


def print_header(title):
    info = machine_info()
    print(f"== {title}")
    print(
        f"   {info['date']}  {info['cpu']} x{info['cores']} (load {info['load1']})  "
        f"python {info['python']}  jax {info['jax']}  device {info['device']}"
    )


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:8.2f} us"
    if s < 1:
        return f"{s * 1e3:8.2f} ms"
    return f"{s:8.3f} s "


def print_rows(rows, ref="jax"):
    """rows: list of (label, {impl: summary}); prints medians, mins and ratios
    funcnet / each other implementation."""
    for label, res in rows:
        impls = list(res)
        parts = [f"{label:<28}"]
        for impl in impls:
            parts.append(
                f"{impl} {fmt_time(res[impl]['median'])} (min {fmt_time(res[impl]['min']).strip()})"
            )
        print("  " + "  ".join(parts))
        if "funcnet" in res:
            ratios = []
            for impl in impls:
                if impl == "funcnet":
                    continue
                rm = res["funcnet"]["median"] / res[impl]["median"]
                rn = res["funcnet"]["min"] / res[impl]["min"]
                text = f"funcnet/{impl} = {rm:5.2f}x (median), {rn:5.2f}x (min)"
                if len(res["funcnet"]["samples"]) == len(res[impl]["samples"]) > 1:
                    rp = paired_ratio(res["funcnet"]["samples"], res[impl]["samples"])
                    text += f", {rp:5.2f}x (paired)"
                ratios.append(text)
            print("  " + " " * 28 + "  " + "; ".join(ratios))


def ratio(res, other="jax", stat="median"):
    """funcnet / other, by "median", "min", or "paired" (median of per-round ratios)."""
    if stat == "paired":
        return paired_ratio(res["funcnet"]["samples"], res[other]["samples"])
    return res["funcnet"][stat] / res[other][stat]


def paired_ratio(a, b):
    return statistics.median(x / y for x, y in zip(a, b))


def maybe_dump(name, payload):
    """With FUNCNET_BENCH_JSON=dir, write the results as JSON there (run_all.py uses it)."""
    out_dir = os.environ.get("FUNCNET_BENCH_JSON")
    if not out_dir:
        return
    os.makedirs(out_dir, exist_ok=True)

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k != "samples"}
        if isinstance(o, (list, tuple)):
            return [strip(v) for v in o]
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        return o

    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump({"machine": machine_info(), "results": strip(payload)}, f, indent=1)


def in_repo_path():
    """Make `import funcnet` work when a script is run as `python benchmarks/x.py`."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
