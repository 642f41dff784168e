"""Tracing and differentiating a chain of N elementwise ops grows linearly (issue 3).

Program: f(x) = sum(op_N(... op_2(op_1(x)))) on a float32 vector of 16, the ops
cycling sin, * 0.9, + 0.1, tanh (N equations in the traced forward program).
For N = 1,000 and 10,000, each with a fresh Python function per repetition (no
trace cache can answer), funcnet and jax interleaved:

  trace       fn.make_jaxpr(f)(x)             vs jax.make_jaxpr(f)(x)
  grad IR     fn.make_jaxpr(fn.grad(f))(x)    vs jax.make_jaxpr(jax.grad(f))(x)
              (forward trace + linearize + transpose into one program)
  eager grad  fn.grad(f)(x), no jit            vs jax.grad(f)(x), no jit
              (every op dispatched one by one, forward and backward)

Reported: CPU seconds of this process (time.process_time; on a loaded, shared
machine that is the work itself, and wall time, shown in brackets, mostly measures
the other tenants), median of the repetitions, the ratio funcnet / jax, the time per
forward op, and the growth t(10,000) / t(1,000) of each library (10.0 is exactly
linear; much more than 10 would mean a quadratic pass somewhere). The grad IR row is
repeated with Python's cyclic garbage collector off: a full collection walks every
live object, so with the GC on both libraries pick up a superlinear part that is
Python's, not the tracer's.

Run: python benchmarks/bench_autodiff_scale.py [--reps 2] [--no-eager]
"""

import argparse
import gc
import statistics
import sys
import time

import _timing

_timing.in_repo_path()

import jax
import jax.numpy as jnp
import numpy as np

import funcnet as fn
import funcnet.numpy as fnp

SIZES = (1_000, 10_000)


def make_chain(n, m):
    """A fresh function object of n elementwise ops (m = funcnet.numpy or jax.numpy)."""

    def f(x):
        for i in range(n):
            k = i % 4
            if k == 0:
                x = m.sin(x)
            elif k == 1:
                x = x * 0.9
            elif k == 2:
                x = x + 0.1
            else:
                x = m.tanh(x)
        return m.sum(x)

    return f


def _cases(n, xf, xj, eager):
    cases = {
        "trace": (
            lambda: fn.make_jaxpr(make_chain(n, fnp))(xf),
            lambda: jax.make_jaxpr(make_chain(n, jnp))(xj),
        ),
        "grad IR": (
            lambda: fn.make_jaxpr(fn.grad(make_chain(n, fnp)))(xf),
            lambda: jax.make_jaxpr(jax.grad(make_chain(n, jnp)))(xj),
        ),
    }
    if eager:
        cases["eager grad"] = (
            lambda: fn.grad(make_chain(n, fnp))(xf),
            lambda: jax.grad(make_chain(n, jnp))(xj),
        )
    return cases


def _run(case, gc_on=True):
    """(cpu seconds, wall seconds) of one call; gc collected first, optionally off."""
    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        c0, w0 = time.process_time(), time.perf_counter()
        _timing.block(case())
        return time.process_time() - c0, time.perf_counter() - w0
    finally:
        gc.enable()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2, help="repetitions of every case")
    ap.add_argument("--no-eager", action="store_true", help="skip the eager grad rows")
    args = ap.parse_args(argv)

    _timing.print_header("autodiff scale: chain of N elementwise ops, trace / grad IR / eager")
    x = np.linspace(0.0, 1.0, 16, dtype=np.float32)
    xf, xj = fnp.asarray(x), jnp.asarray(x)

    # Same gradient from both (N=1,000), and warm both libraries' op caches.
    gf = fn.grad(make_chain(1000, fnp))(xf)
    gj = jax.grad(make_chain(1000, jnp))(xj)
    np.testing.assert_allclose(np.asarray(gf), np.asarray(gj), rtol=1e-4, atol=1e-6)
    n0 = SIZES[0]
    n_eq = (
        len(fn.make_jaxpr(make_chain(n0, fnp))(xf).jaxpr.eqns),
        len(fn.make_jaxpr(fn.grad(make_chain(n0, fnp)))(xf).jaxpr.eqns),
        len(jax.make_jaxpr(jax.grad(make_chain(n0, jnp)))(xj).jaxpr.eqns),
    )

    # rows: (stage, gc_on); every repetition runs every (row, N, library), interleaved
    cases = {n: _cases(n, xf, xj, not args.no_eager) for n in SIZES}
    rows = [(stage, True) for stage in cases[n0]] + [("grad IR", False)]
    cpu = {(r, n, lib): [] for r in rows for n in SIZES for lib in ("funcnet", "jax")}
    wall = {k: [] for k in cpu}
    for _ in range(args.reps):
        for row in rows:
            for n in SIZES:
                for i, lib in enumerate(("funcnet", "jax")):
                    c, w = _run(cases[n][row[0]][i], gc_on=row[1])
                    cpu[(row, n, lib)].append(c)
                    wall[(row, n, lib)].append(w)

    med = {k: statistics.median(v) for k, v in cpu.items()}
    wmed = {k: statistics.median(v) for k, v in wall.items()}
    small, large = SIZES
    print(
        f"\n  equations at N={small:,}: forward {n_eq[0]}, grad program funcnet {n_eq[1]} / "
        f"jax {n_eq[2]};  {args.reps} repetitions, median"
    )
    print(
        "  CPU seconds of this process (time.process_time: the work itself, what the "
        "machine's load leaves out); wall seconds in brackets"
    )
    print(
        f"\n  {'stage':<18}{'N':>7}  {'funcnet':>17} {'jax':>17} {'fn/jax':>7}  "
        f"{'fn us/op':>8}  growth 1k->10k fn, jax"
    )
    results = {}
    for row in rows:
        label = row[0] + ("" if row[1] else " (gc off)")
        for n in SIZES:
            f, j = med[(row, n, "funcnet")], med[(row, n, "jax")]
            growth = ""
            if n == large:
                growth = (
                    f"{f / med[(row, small, 'funcnet')]:5.1f}x, "
                    f"{j / med[(row, small, 'jax')]:5.1f}x"
                )
            print(
                f"  {label:<18}{n:>7,}  {f:>7.3f} [{wmed[(row, n, 'funcnet')]:>6.2f}]"
                f" {j:>7.3f} [{wmed[(row, n, 'jax')]:>6.2f}] {f / j:>6.2f}x  "
                f"{f / n * 1e6:>8.1f}  {growth}"
            )
            results[f"{label} N={n}"] = {
                lib: {
                    "cpu_median": med[(row, n, lib)],
                    "cpu_min": min(cpu[(row, n, lib)]),
                    "wall_median": wmed[(row, n, lib)],
                }
                for lib in ("funcnet", "jax")
            }
    growth = {r: med[(r, large, "funcnet")] / med[(r, small, "funcnet")] for r in rows}
    print(
        "\n  funcnet growth for 10x the ops: "
        + ", ".join(f"{r[0]}{'' if r[1] else ' (gc off)'} {g:.1f}x" for r, g in growth.items())
        + "  (10x = linear; Python's cyclic GC adds a superlinear part to both libraries)"
    )
    _timing.maybe_dump("autodiff_scale", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
