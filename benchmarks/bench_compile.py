"""Trace + lower + compile time of a 50-layer MLP forward pass (width 256, batch 32).

  funcnet: trace    = fn.make_jaxpr(f)(params, x)          (trace to the IR + jaxpr passes)
           lower    = lower_to_module(closed_jaxpr)          (IR -> StableHLO text)
           compile  = xla.Executable(text, device)           (text -> XLA executable)
           total    = fn.jit(f).lower(params, x).compile()   (the public path, end to end)
  jax:     trace    = jax.jit(f).trace(params, x)
           lower    = traced.lower()
           compile  = lowered.compile()
           total    = jax.jit(f).lower(params, x).compile()

Every repetition uses a fresh Python function, so neither library's caches answer.
Target: funcnet's total at most jax's.

Run: python benchmarks/bench_compile.py
"""

import _timing

_timing.in_repo_path()

import jax
import jax.numpy as jnp
import numpy as np

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.backend.lowering import lower_to_module
from funcnet.runtime import xla

DEPTH, WIDTH, BATCH = 50, 256, 32


def make_mlp(np_mod):
    """A fresh function object each call (defeats per-function trace caches)."""

    def mlp(params, x):
        for layer in params:
            x = np_mod.maximum(x @ layer["w"] + layer["b"], 0.0)
        return x

    return mlp


def _params(np_mod):
    rng = np.random.RandomState(0)
    return [
        {
            "w": np_mod.asarray((rng.randn(WIDTH, WIDTH) / 16).astype(np.float32)),
            "b": np_mod.asarray(np.zeros((WIDTH,), np.float32)),
        }
        for _ in range(DEPTH)
    ]


def main(repeat=7):
    _timing.print_header(f"trace / lower / compile: {DEPTH}-layer MLP forward, width {WIDTH}")
    p_fn, p_jx = _params(fnp), _params(jnp)
    x_np = np.random.RandomState(1).randn(BATCH, WIDTH).astype(np.float32)
    x_fn, x_jx = fnp.asarray(x_np), jnp.asarray(x_np)
    device = xla.default_device()

    # correctness once (and warm both libraries' one-time imports / backends)
    np.testing.assert_allclose(
        np.asarray(fn.jit(make_mlp(fnp))(p_fn, x_fn)),
        np.asarray(jax.jit(make_mlp(jnp))(p_jx, x_jx)),
        rtol=1e-4,
        atol=1e-4,
    )

    stages = {
        "funcnet": {"trace": [], "lower": [], "compile": [], "total": []},
        "jax": {"trace": [], "lower": [], "compile": [], "total": []},
    }
    clock = _timing._clock
    for _ in range(repeat):  # interleaved, fresh functions every time
        # funcnet, stage by stage
        f = make_mlp(fnp)
        t0 = clock()
        closed = fn.make_jaxpr(f)(p_fn, x_fn)
        t1 = clock()
        text = lower_to_module(closed, name="mlp")
        t2 = clock()
        xla.Executable(text, device, len(closed.out_avals))
        t3 = clock()
        stages["funcnet"]["trace"].append(t1 - t0)
        stages["funcnet"]["lower"].append(t2 - t1)
        stages["funcnet"]["compile"].append(t3 - t2)
        # jax, stage by stage
        g = jax.jit(make_mlp(jnp))
        t0 = clock()
        traced = g.trace(p_jx, x_jx)
        t1 = clock()
        lowered = traced.lower()
        t2 = clock()
        lowered.compile()
        t3 = clock()
        stages["jax"]["trace"].append(t1 - t0)
        stages["jax"]["lower"].append(t2 - t1)
        stages["jax"]["compile"].append(t3 - t2)
        # end to end through the public API
        f = make_mlp(fnp)
        t0 = clock()
        fn.jit(f).lower(p_fn, x_fn).compile()
        t1 = clock()
        jax.jit(make_mlp(jnp)).lower(p_jx, x_jx).compile()
        t2 = clock()
        stages["funcnet"]["total"].append(t1 - t0)
        stages["jax"]["total"].append(t2 - t1)

    results = {
        stage: {impl: _timing.summary(stages[impl][stage]) for impl in stages}
        for stage in ("trace", "lower", "compile", "total")
    }
    _timing.print_rows([(stage, res) for stage, res in results.items()])
    r = _timing.ratio(results["total"])
    rmin = _timing.ratio(results["total"], stat="min")
    rp = _timing.ratio(results["total"], stat="paired")
    hit = rmin <= 1.0
    n_eqns = len(fn.make_jaxpr(make_mlp(fnp))(p_fn, x_fn).jaxpr.eqns)
    print(f"\n  ({n_eqns} equations in funcnet's jaxpr)")
    print(
        f"  total funcnet/jax {r:5.2f}x median, {rmin:5.2f}x min, {rp:5.2f}x paired   "
        f"target (min) <= 1.0x: {'met' if hit else 'MISSED'}"
    )
    _timing.maybe_dump("compile", results)
    return hit


if __name__ == "__main__":
    main()
