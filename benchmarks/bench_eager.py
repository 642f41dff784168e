"""Eager per-op overhead on small arrays: funcnet eager vs jax eager vs NumPy.

Each op runs on (8, 8) float32 arrays, so the time is per-op overhead (Python
dispatch + one cached XLA executable launch), not compute. funcnet's eager mode runs
every primitive as a compiled one-op program (cached per primitive, params, shapes),
which is what jax's eager mode does too; NumPy runs in-process C loops and sets the
floor of what an op can cost.

Run: python benchmarks/bench_eager.py
"""

import _timing

_timing.in_repo_path()

import jax.numpy as jnp
import numpy as np

import funcnet.numpy as fnp

SHAPE = (8, 8)


def main(repeat=61):
    _timing.print_header(
        f"eager per-op overhead on {SHAPE} float32 (funcnet eager vs jax eager vs NumPy)"
    )
    rng = np.random.RandomState(0)
    a_np, b_np = rng.randn(*SHAPE).astype(np.float32), rng.randn(*SHAPE).astype(np.float32)
    a_fn, b_fn = fnp.asarray(a_np), fnp.asarray(b_np)
    a_jx, b_jx = jnp.asarray(a_np), jnp.asarray(b_np)

    ops = {
        "add      a + b": (lambda m, a, b: m.add(a, b)),
        "tanh     tanh(a)": (lambda m, a, b: m.tanh(a)),
        "matmul   a @ b": (lambda m, a, b: m.matmul(a, b)),
        "operator a * b + a": (lambda m, a, b: a * b + a),
        "sum      a.sum()": (lambda m, a, b: m.sum(a)),
    }
    results = {}
    rows = []
    for label, op in ops.items():
        np.testing.assert_allclose(
            np.asarray(op(fnp, a_fn, b_fn)), op(np, a_np, b_np), rtol=1e-5, atol=1e-5
        )
        res = _timing.compare(
            {
                "funcnet": lambda op=op: op(fnp, a_fn, b_fn),
                "jax": lambda op=op: op(jnp, a_jx, b_jx),
                "numpy": lambda op=op: op(np, a_np, b_np),
            },
            repeat=repeat,
            target_s=0.002,
        )
        results[label] = res
        rows.append((label, res))
    _timing.print_rows(rows)

    # Where funcnet's eager time goes, layer by layer, for a + b (each row includes the
    # rows below it): the runtime call alone, funcnet's eager executor
    # (backend/eager.apply_primitive: cache probe + call + wrap), Primitive.bind (trace
    # dispatch), lax.add, and funcnet.numpy.add (dtype promotion, broadcasting).
    from funcnet import lax
    from funcnet.backend import eager
    from funcnet.lax.elementwise import add_p

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
            "jax.numpy.add": lambda: jnp.add(a_jx, b_jx),
        },
        repeat=repeat,
        target_s=0.002,
    )
    print("\n  funcnet eager a + b, layer by layer (cumulative):")
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
    results["layers(add)"] = layers
    _timing.maybe_dump("eager", results)
    return True


if __name__ == "__main__":
    main()
