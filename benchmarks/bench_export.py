"""Dispatch of an exported artifact's call vs the jitted function it was exported from.

Cases (a small MLP, 3 layers of width 64, batch 8: the time is per-call overhead):
  mlp(x)          the parameters closed over (constants folded into the artifact);
                  `exp.call(x)` vs `f(x)`
  mlp(params, x)  the parameters as a 6-leaf dict argument; `exp.call(params, x)` vs
                  `f(params, x)`
The exported function is serialized and deserialized first, so the call measured is the
one a deployed artifact makes. Target: `Exported.call` within 1.1x of the jitted
function, judged on the ratio of the minima (see _timing.py).

Run: python benchmarks/bench_export.py [--quick]
"""

import sys

import _timing

_timing.in_repo_path()

import numpy as np

import funcnet as fn
import funcnet.numpy as fnp

TARGET = 1.1


def make_params(width=64, depth=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        f"layer{i}": {
            "w": fnp.asarray(rng.normal(size=(width, width)).astype(np.float32) / width**0.5),
            "b": fnp.zeros(width),
        }
        for i in range(depth)
    }


def mlp(params, x):
    for name in sorted(params):
        x = fnp.tanh(x @ params[name]["w"] + params[name]["b"])
    return x


def main(repeat=101):
    _timing.print_header("Exported.call vs the jitted function (dispatch per call)")
    params = make_params()
    x = fnp.asarray(np.random.default_rng(1).normal(size=(8, 64)).astype(np.float32))

    def closed(x):
        return mlp(params, x)

    cases = {
        "mlp(x), params folded in": (fn.jit(closed), (x,)),
        "mlp(params, x)": (fn.jit(mlp), (params, x)),
    }
    results = {}
    for label, (jitted, args) in cases.items():
        exp = fn.export.deserialize(fn.export.export(jitted)(*args).serialize())
        np.testing.assert_allclose(exp.call(*args), jitted(*args), rtol=1e-5, atol=1e-6)
        results[label] = _timing.compare(
            {
                "exported.call": lambda exp=exp, args=args: exp.call(*args),
                "jit": lambda jitted=jitted, args=args: jitted(*args),
            },
            repeat=repeat,
            target_s=0.002,
        )
    ok = True
    for label, res in results.items():
        e, j = res["exported.call"], res["jit"]
        rmin = e["min"] / j["min"]
        rmed = e["median"] / j["median"]
        rp = _timing.paired_ratio(e["samples"], j["samples"])
        hit = rmin <= TARGET
        ok &= hit
        print(
            f"  {label:<28} exported.call {_timing.fmt_time(e['min'])} (min)  jit "
            f"{_timing.fmt_time(j['min'])} (min)\n  {'':<28} exported/jit {rmin:5.2f}x min, "
            f"{rmed:5.2f}x median, {rp:5.2f}x paired   target (min) <= {TARGET}x: "
            f"{'met' if hit else 'MISSED'}"
        )
    _timing.maybe_dump("export", {"cases": results})
    return ok


if __name__ == "__main__":
    main(repeat=5 if "--quick" in sys.argv[1:] else 101)
