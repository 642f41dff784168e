"""Eager per-op overhead on small arrays: funcnet eager vs jax eager vs NumPy.

Each op runs on (8, 8) and (100,) float32 arrays, so the time is per-op overhead
(Python dispatch + one cached XLA executable launch), not compute. funcnet's eager mode
runs every primitive as a compiled one-op program (cached per primitive, params,
shapes), which is what jax's eager mode does too; NumPy runs in-process C loops and
sets the floor of what an op can cost. funcnet, jax and NumPy blocks alternate round by
round; the ratios use the minima.

Run: python benchmarks/bench_eager.py [--quick]
"""

import sys

import _timing

_timing.in_repo_path()

import jax.numpy as jnp
import numpy as np

import funcnet.numpy as fnp

SHAPES = ((8, 8), (100,))

# label -> op(module, a, b); the op of the list, written as users write it.
OPS = {
    "add      add(a, b)": lambda m, a, b: m.add(a, b),
    "mul      a * 2.0": lambda m, a, b: a * 2.0,
    "tanh     tanh(a)": lambda m, a, b: m.tanh(a),
    "matmul   a @ b": lambda m, a, b: a @ b,
    "sum      a.sum()": lambda m, a, b: a.sum(),
    "index    a[1]": lambda m, a, b: a[1],
    "slice    a[2:5]": lambda m, a, b: a[2:5],
    "at.set   a.at[1].set(3.0)": lambda m, a, b: a.at[1].set(3.0) if m is not np else _np_set(a),
    "concat   concatenate([a, b])": lambda m, a, b: m.concatenate([a, b]),
    "operator a * b + a": lambda m, a, b: a * b + a,
}


def _np_set(a):
    out = a.copy()
    out[1] = 3.0
    return out


def main(repeat=61):
    if "--quick" in sys.argv:
        repeat = 15
    _timing.print_header("eager per-op overhead, float32 (funcnet eager vs jax eager vs NumPy)")
    rng = np.random.RandomState(0)
    results = {}
    summary = []
    for shape in SHAPES:
        a_np, b_np = rng.randn(*shape).astype(np.float32), rng.randn(*shape).astype(np.float32)
        a_fn, b_fn = fnp.asarray(a_np), fnp.asarray(b_np)
        a_jx, b_jx = jnp.asarray(a_np), jnp.asarray(b_np)
        rows = []
        for label, op in OPS.items():
            np.testing.assert_allclose(
                np.asarray(op(fnp, a_fn, b_fn)), op(np, a_np, b_np), rtol=1e-5, atol=1e-5
            )
            res = _timing.compare(
                {
                    "funcnet": lambda op=op, a=a_fn, b=b_fn: op(fnp, a, b),
                    "jax": lambda op=op, a=a_jx, b=b_jx: op(jnp, a, b),
                    "numpy": lambda op=op, a=a_np, b=b_np: op(np, a, b),
                },
                repeat=repeat,
                target_s=0.002,
            )
            results[f"{label} {shape}"] = res
            rows.append((f"{label} {shape}", res))
            summary.append((label, shape, res["funcnet"]["min"] / res["jax"]["min"]))
        print(f"\n  shape {shape}:")
        _timing.print_rows(rows)

    print("\n  funcnet/jax (ratio of minima; <= 1.0 is the target):")
    for label, shape, r in summary:
        print(f"    {label:<32}{shape!s:<10}{r:6.2f}x")

    results["layers(add)"] = _layers(repeat)
    _timing.maybe_dump("eager", results)
    return True


def _layers(repeat):
    """Where funcnet's eager time goes, layer by layer, for add on (8, 8) (each row
    includes the rows below it): the runtime call alone, funcnet's eager executor
    (backend/eager.apply_primitive: cache probe + call + wrap), Primitive.bind (trace
    dispatch), lax.add, funcnet.numpy.add (its fast path first: one probe by avals) and
    the `+` operator."""
    from funcnet import lax
    from funcnet.backend import eager
    from funcnet.lax.elementwise import add_p

    rng = np.random.RandomState(1)
    a_np, b_np = rng.randn(8, 8).astype(np.float32), rng.randn(8, 8).astype(np.float32)
    a_fn, b_fn = fnp.asarray(a_np), fnp.asarray(b_np)
    a_jx, b_jx = jnp.asarray(a_np), jnp.asarray(b_np)
    fnp.add(a_fn, b_fn)
    # The eager programs cache, keyed by (primitive, params, avals, device, x64).
    (program,) = [
        v
        for k, v in eager._cache.programs.items()
        if k[0] is add_p and k[2] == (a_fn.aval, b_fn.aval)
    ]
    exe = program.executable
    bufs = [a_fn._buf, b_fn._buf]
    layers = _timing.compare(
        {
            "runtime execute": lambda: exe.execute(bufs),
            "eager.apply_primitive": lambda: eager.apply_primitive(add_p, a_fn, b_fn),
            "add_p.bind": lambda: add_p.bind(a_fn, b_fn),
            "lax.add": lambda: lax.add(a_fn, b_fn),
            "funcnet.numpy.add": lambda: fnp.add(a_fn, b_fn),
            "a + b (operator)": lambda: a_fn + b_fn,
            "jax.numpy.add": lambda: jnp.add(a_jx, b_jx),
        },
        repeat=repeat,
        target_s=0.002,
    )
    print("\n  funcnet eager add on (8, 8), layer by layer (cumulative):")
    prev = None
    for k, v in layers.items():
        extra = (
            ""
            if prev is None or k.startswith("jax")
            else f"   (+{(v['min'] - prev) * 1e6:6.2f} us)"
        )
        print(
            f"    {k:<24}{_timing.fmt_time(v['median'])} (min "
            f"{_timing.fmt_time(v['min']).strip()}){extra}"
        )
        prev = v["min"]
    return layers


if __name__ == "__main__":
    main()
