"""Compiled compute: funcnet.jit vs jax.jit on the same program, and the optimized HLO.

Program: 8 layers of  x = tanh(x @ w_i) * 0.5 + x  on 1024x1024 float32 (the weights
are arguments). With dispatch costs negligible (~16 GFLOP per call) the times should
match: the target is within 3% of jax.jit. The script also compares the HLO XLA
produced for each (`.lower(...).compile().as_text()`): counts of fusions, dots,
copies, transposes and other top-level instructions, and whether the fused
computations contain the same ops.

Run: python benchmarks/bench_compute.py
"""

import collections
import re

import _timing

_timing.in_repo_path()

import jax
import jax.numpy as jnp
import numpy as np

import funcnet as fn
import funcnet.numpy as fnp

N, LAYERS = 1024, 8
TARGET = 1.03


def make_fn(np_mod):
    def f(x, ws):
        for w in ws:
            x = np_mod.tanh(x @ w) * 0.5 + x
        return x

    return f


# --- HLO structure ------------------------------------------------------------------

_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.+?)\s+([\w\-]+)\(", re.MULTILINE)


def hlo_structure(text):
    """Counts of ops in the ENTRY computation and in all computations, plus the fusion
    kinds, from optimized HLO text."""
    comps, cur, name = {}, None, None
    for line in text.splitlines():
        m = re.match(r"^(ENTRY\s+)?%?([\w.\-]+)\s*(\(.*\))?\s*->.*\{\s*$", line)
        if m and not line.startswith(" "):
            name = "ENTRY" if m.group(1) else m.group(2)
            cur = comps.setdefault(name, [])
            continue
        if line.strip() == "}":
            cur = None
            continue
        if cur is not None:
            mi = _INSTR.match(line)
            if mi:
                op = mi.group(2)
                kind = re.search(r"kind=(\w+)", line)
                fk = re.search(r'"kind":"(\w+)"', line)
                if op == "fusion":
                    op = (
                        f"fusion[{kind.group(1) if kind else '?'}"
                        + (f":{fk.group(1)}" if fk else "")
                        + "]"
                    )
                cur.append(op)
    entry = collections.Counter(comps.get("ENTRY", []))
    every = collections.Counter(op for ops in comps.values() for op in ops)
    for k in list(entry):
        if k in ("parameter", "get-tuple-element", "tuple"):
            del entry[k]
    return {
        "entry": dict(sorted(entry.items())),
        "all": {
            k: every[k]
            for k in ("dot", "tanh", "multiply", "add", "copy", "transpose", "broadcast", "convert")
            if every[k]
        },
        "n_computations": len(comps),
    }


def normalize_hlo(text):
    """Optimized HLO with names, metadata, source tables and JSON key order removed, so
    two programs compare by their instructions, shapes, layouts and fusion configs."""
    lines = []
    names = {}

    def canon(m):
        return names.setdefault(m.group(0), f"%v{len(names)}")

    skip = False
    for line in text.splitlines():
        if line.startswith(
            ("HloModule", "FileNames", "FunctionNames", "FileLocations", "StackFrames")
        ):
            skip = not line.startswith("HloModule")
            continue
        if skip:
            if not line.strip() or line.startswith(("%", "ENTRY")):
                skip = False
            else:
                continue
        if not line.strip():
            continue
        line = re.sub(r",?\s*metadata=\{[^}]*\}", "", line)
        line = re.sub(
            r"backend_config=(\{.*\})", lambda m: "backend_config=" + _sorted_json(m.group(1)), line
        )
        if line.rstrip().endswith("{"):  # a computation header: drop parameter names
            line = re.sub(r"([(,]\s*)[\w.\-]+:\s", r"\1", line)
        line = re.sub(r"%[\w.\-]+", canon, line)
        line = re.sub(r"^ENTRY %v\d+", "ENTRY", line)
        lines.append(line.strip())
    return lines


def _sorted_json(s):
    import json

    try:
        return json.dumps(json.loads(s), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return s


def main(repeat=7):
    _timing.print_header(
        f"compiled compute: {LAYERS} x tanh(x @ w) * 0.5 + x, "
        f"{N}x{N} float32 (funcnet.jit vs jax.jit)"
    )
    rng = np.random.RandomState(0)
    x_np = rng.randn(N, N).astype(np.float32)
    ws_np = [(rng.randn(N, N) / np.sqrt(N)).astype(np.float32) for _ in range(LAYERS)]
    x_fn, ws_fn = fnp.asarray(x_np), [fnp.asarray(w) for w in ws_np]
    x_jx, ws_jx = jnp.asarray(x_np), [jnp.asarray(w) for w in ws_np]

    f_fn, f_jx = fn.jit(make_fn(fnp)), jax.jit(make_fn(jnp))
    np.testing.assert_allclose(
        np.asarray(f_fn(x_fn, ws_fn)), np.asarray(f_jx(x_jx, ws_jx)), rtol=2e-4, atol=2e-4
    )

    res = _timing.compare(
        {"funcnet": lambda: f_fn(x_fn, ws_fn), "jax": lambda: f_jx(x_jx, ws_jx)},
        repeat=repeat,
        number=1,
        warmup=2,
    )
    _timing.print_rows([("8-layer matmul chain", res)])
    r = _timing.ratio(res)
    rmin = _timing.ratio(res, stat="min")
    flops = 2 * N**3 * LAYERS
    print(
        f"  {flops / res['jax']['min'] / 1e9:.1f} GFLOP/s (jax, best)   "
        f"{flops / res['funcnet']['min'] / 1e9:.1f} GFLOP/s (funcnet, best)"
    )

    # --- optimized HLO comparison ---
    hlo_fn = f_fn.lower(x_fn, ws_fn).compile().as_text()
    hlo_jx = f_jx.lower(x_jx, ws_jx).compile().as_text()
    s_fn, s_jx = hlo_structure(hlo_fn), hlo_structure(hlo_jx)
    print("\n  optimized HLO, ENTRY computation ops:")
    print(f"    funcnet: {s_fn['entry']}")
    print(f"    jax:     {s_jx['entry']}")
    print("  ops inside all computations (fused bodies included):")
    print(f"    funcnet: {s_fn['all']}  ({s_fn['n_computations']} computations)")
    print(f"    jax:     {s_jx['all']}  ({s_jx['n_computations']} computations)")
    same = s_fn["entry"] == s_jx["entry"] and s_fn["all"] == s_jx["all"]
    print(f"  HLO op structure equivalent: {'yes' if same else 'NO'}")
    n_fn, n_jx = normalize_hlo(hlo_fn), normalize_hlo(hlo_jx)
    diff = (
        [(a, b) for a, b in zip(n_fn, n_jx) if a != b]
        + [(a, "") for a in n_fn[len(n_jx) :]]
        + [("", b) for b in n_jx[len(n_fn) :]]
    )
    identical = not diff
    print(
        f"  HLO text identical up to names/metadata: {'yes' if identical else 'no'} "
        f"({len(n_fn)} vs {len(n_jx)} lines, {len(diff)} differ)"
    )
    for a, b in diff[:6]:
        print(f"    funcnet: {a[:150]}\n    jax:     {b[:150]}")

    rp = _timing.ratio(res, stat="paired")
    hit = rmin <= TARGET
    print(
        f"\n  funcnet/jax {r:5.3f}x median, {rmin:5.3f}x min, {rp:5.3f}x paired   "
        f"target (min) <= {TARGET}x: {'met' if hit else 'MISSED'}"
    )
    _timing.maybe_dump(
        "compute",
        {
            "timing": res,
            "hlo_funcnet": s_fn,
            "hlo_jax": s_jx,
            "hlo_equivalent": same,
            "hlo_identical_normalized": identical,
        },
    )
    return hit and same


if __name__ == "__main__":
    main()
