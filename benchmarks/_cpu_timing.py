"""Interleaved timing that records, per block, both the wall time and this process's
CPU time (time.process_time: every thread of the process, XLA's thread pool included).

Why both: on a shared, loaded machine the wall time of a block is mostly the other
tenants (a 20 ms step reads 20 to 50 ms from one block to the next), while the CPU
time the process spent is the work itself and moves by a few percent. funcnet and jax
run on one XLA client with one thread pool, so their CPU times compare like for
like. (For PyTorch, OpenMP threads spin-wait, which inflates both its wall and its
CPU time on an oversubscribed machine; see the README.)

Built on _timing (calibrate, block); results have _timing.compare's keys ("median",
"min", "samples", "number", wall seconds per call) plus "cpu_median", "cpu_min", and
"faults_median": the process's minor page faults per call (fresh pages the C library
mapped for the call's buffers; 0 where freed memory is reused).
"""

import gc
import resource
import statistics
import time

import _timing


def compare(cases, *, repeat=15, warmup=2, target_s=0.02):
    for fn in cases.values():
        for _ in range(warmup):
            _timing.block(fn())
    numbers = {k: _timing.calibrate(fn, target_s) for k, fn in cases.items()}
    wall = {k: [] for k in cases}
    cpu = {k: [] for k in cases}
    faults = {k: [] for k in cases}
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for k, fn in cases.items():
                n = numbers[k]
                f0 = _minor_faults()
                c0, w0 = time.process_time(), time.perf_counter()
                r = None
                for _ in range(n):
                    r = fn()
                _timing.block(r)
                wall[k].append((time.perf_counter() - w0) / n)
                cpu[k].append((time.process_time() - c0) / n)
                faults[k].append((_minor_faults() - f0) / n)
    finally:
        if was:
            gc.enable()
    return {
        k: {
            "median": statistics.median(wall[k]),
            "min": min(wall[k]),
            "samples": wall[k],
            "number": numbers[k],
            "cpu_median": statistics.median(cpu[k]),
            "cpu_min": min(cpu[k]),
            "faults_median": statistics.median(faults[k]),
        }
        for k in cases
    }


def _minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def fmt(s):
    return _timing.fmt_time(s).strip()


def print_rows(rows):
    """rows: [(label, {impl: result})]; wall median/min and CPU median per impl, then
    ratios funcnet / each other impl for the three statistics."""
    for label, res in rows:
        parts = [f"  {label:<26}"]
        for impl, r in res.items():
            parts.append(
                f"{impl} {fmt(r['median'])} (min {fmt(r['min'])}, cpu {fmt(r['cpu_median'])})"
            )
        print("  ".join(parts))
        if "funcnet" in res:
            f = res["funcnet"]
            rs = [
                f"funcnet/{impl}: wall {f['median'] / r['median']:.2f}x median, "
                f"{f['min'] / r['min']:.2f}x min; cpu {f['cpu_median'] / r['cpu_median']:.2f}x"
                for impl, r in res.items()
                if impl != "funcnet"
            ]
            print(" " * 30 + "; ".join(rs))


def ratios(res, other="jax"):
    f, o = res["funcnet"], res[other]
    return {
        "wall_median": f["median"] / o["median"],
        "wall_min": f["min"] / o["min"],
        "cpu_median": f["cpu_median"] / o["cpu_median"],
    }


def timed(fn):
    """(wall seconds, CPU seconds) of one call of fn (blocked on its result)."""
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    _timing.block(fn())
    return time.perf_counter() - w0, time.process_time() - c0


def one_shot(samples):
    """{impl: [(wall, cpu), ...]} -> {impl: result} with compare()'s keys."""
    out = {}
    for impl, pairs in samples.items():
        wall, cpu = [w for w, _ in pairs], [c for _, c in pairs]
        out[impl] = {
            "median": statistics.median(wall),
            "min": min(wall),
            "samples": wall,
            "cpu_median": statistics.median(cpu),
            "cpu_min": min(cpu),
        }
    return out


def compile_stages(lowerers, reps):
    """Trace+lower, then XLA-compile, fresh functions, interleaved across `lowerers`.

    lowerers: {impl: () -> a Lowered object (funcnet's or jax's)}, each call on a fresh
    function so that no cache answers. Returns {"trace+lower" | "compile" | "total":
    {impl: result}} with compare()'s keys."""
    stages = {st: {impl: [] for impl in lowerers} for st in ("trace+lower", "compile", "total")}
    for _ in range(reps):
        for impl, lower in lowerers.items():
            box = {}
            t1 = timed(lambda lower=lower, box=box: box.setdefault("lowered", lower()))
            t2 = timed(lambda box=box: box["lowered"].compile())
            stages["trace+lower"][impl].append(t1)
            stages["compile"][impl].append(t2)
            stages["total"][impl].append((t1[0] + t2[0], t1[1] + t2[1]))
    return {st: one_shot(d) for st, d in stages.items()}
