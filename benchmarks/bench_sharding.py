"""Sharded training steps on 8 host devices: funcnet vs jax, same model, same shardings.

Recipes (plain SGD so that the two programs are the same computation; Adam adds only
elementwise work, no collectives):
  dp          MLP, mesh ("data"=8): batch P("data"), parameters replicated
  fsdp        MLP, mesh ("data"=8): batch P("data"), parameters P("data", None)
  tp_mlp      MLP, mesh ("data"=4, "model"=2): batch P("data"), Megatron column/row split
  tp_attn     attention block, mesh 4 x 2: batch P("data"), heads split over "model"
  dp_shard_map  the dp step written per device with shard_map and an explicit pmean

For each recipe: the collectives in the compiled (partitioned) HLO, count and bytes of
all-reduce, all-gather, reduce-scatter, all-to-all, collective-permute, funcnet next to
jax (target: equal); and the step time on 8 devices vs the same step jitted for 1 device.
On a CPU machine the 8 "devices" are threads sharing its cores: the 8-device time says
what partitioning costs there, not what 8 accelerators would gain (see README, section I).

Run: python benchmarks/bench_sharding.py [--quick]
"""

import os
import re
import sys

N_DEVICES = 8
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={N_DEVICES}"
)

import _timing

_timing.in_repo_path()

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh as JMesh
from jax.sharding import NamedSharding as JNamed
from jax.sharding import PartitionSpec as JP

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.sharding import Mesh, NamedSharding
from funcnet.sharding import PartitionSpec as P

LR = 0.05
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
_BYTES = {"f32": 4, "bf16": 2, "f16": 2, "f64": 8, "s32": 4, "u32": 4, "pred": 1, "s64": 8}
_SHAPE = re.compile(r"\b(f32|bf16|f16|f64|s32|u32|s64|pred)\[([0-9,]*)\]")


def collectives(hlo_text):
    """{kind: (count, bytes)} of the collectives in an optimized HLO module's text.

    Counts each collective once (its -start/-done halves as one) and the bytes of its
    result (for an all-reduce the bytes reduced, for an all-gather the gathered size)."""
    out = {k: [0, 0] for k in COLLECTIVES}
    for line in hlo_text.splitlines():
        m = re.search(r"=\s*(.*?)\s(" + "|".join(COLLECTIVES) + r")(-start)?\(", line)
        if not m or "-done" in line.split("=", 1)[1].split("(", 1)[0]:
            continue
        kind = m.group(2)
        nbytes = 0
        for dt, dims in _SHAPE.findall(m.group(1)):
            size = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
            nbytes += size * _BYTES[dt]
        out[kind][0] += 1
        out[kind][1] += nbytes
    return {k: tuple(v) for k, v in out.items() if v[0]}


# --- the models, written twice (funcnet / jax) -----------------------------------------


def mlp_params(d, depth, seed=0):
    rng = np.random.default_rng(seed)
    return {
        f"l{i}": {
            "w": (rng.normal(size=(d, d)) / np.sqrt(d)).astype(np.float32),
            "b": np.zeros(d, np.float32),
        }
        for i in range(depth)
    }


def attn_params(d, heads, seed=0):
    rng = np.random.default_rng(seed)

    def w(*shape):
        return (rng.normal(size=shape) / np.sqrt(shape[0])).astype(np.float32)

    return {"wq": w(d, d), "wk": w(d, d), "wv": w(d, d), "wo": w(d, d), "w1": w(d, 2 * d),
            "w2": w(2 * d, d)}  # fmt: skip


def make_steps(np_mod, heads):
    """(mlp_step, attn_step) over one array module (funcnet.numpy or jax.numpy)."""

    def mlp(p, x):
        for i in range(len(p)):
            x = np_mod.tanh(x @ p[f"l{i}"]["w"] + p[f"l{i}"]["b"])
        return x

    def attn(p, x):  # x: (batch, time, d); heads along the last axis of wq/wk/wv
        b, t, d = x.shape
        hd = d // heads

        def split(y):
            return y.reshape(b, t, heads, hd)

        q, k, v = split(x @ p["wq"]), split(x @ p["wk"]), split(x @ p["wv"])
        s = np_mod.einsum("bthd,bshd->bhts", q, k) / np.sqrt(hd)
        s = s - s.max(axis=-1, keepdims=True)
        a = np_mod.exp(s)
        a = a / a.sum(axis=-1, keepdims=True)
        o = np_mod.einsum("bhts,bshd->bthd", a, v).reshape(b, t, d)
        h = x + o @ p["wo"]
        return h + np_mod.tanh(h @ p["w1"]) @ p["w2"]

    return mlp, attn


def sgd_step(model, grad_fn, tree_map):
    def step(p, x, y):
        def loss(p):
            return ((model(p, x) - y) ** 2).mean()

        value, g = grad_fn(loss)(p)
        return tree_map(lambda a, b: a - LR * b, p, g), value

    return step


# --- shardings per recipe ------------------------------------------------------------------


def recipe_specs(name, params):
    """(mesh shape, axis names, params spec tree, batch spec) for a recipe."""
    if name in ("dp", "dp_shard_map"):
        return (8,), ("data",), {k: {"w": (), "b": ()} for k in params}, ("data",)
    if name == "fsdp":
        return (
            (8,),
            ("data",),
            {k: {"w": ("data", None), "b": ("data",)} for k in params},
            ("data",),
        )
    if name == "tp_mlp":  # even layers column-split, odd layers row-split (Megatron)
        specs = {
            k: {"w": (None, "model"), "b": ("model",)}
            if i % 2 == 0
            else {"w": ("model", None), "b": ()}
            for i, k in enumerate(sorted(params))
        }
        return (4, 2), ("data", "model"), specs, ("data",)
    if name == "tp_attn":
        col, row = (None, "model"), ("model", None)
        specs = {"wq": col, "wk": col, "wv": col, "wo": row, "w1": col, "w2": row}
        return (4, 2), ("data", "model"), specs, ("data",)
    raise ValueError(name)


def _is_spec(x):
    return isinstance(x, tuple) and all(e is None or isinstance(e, str) for e in x)


def build(name, d, depth, heads, batch, seq):
    is_attn = name == "tp_attn"
    host_p = attn_params(d, heads) if is_attn else mlp_params(d, depth)
    rng = np.random.default_rng(1)
    xshape = (batch, seq, d) if is_attn else (batch, d)
    host_x = rng.normal(size=xshape).astype(np.float32)
    host_y = rng.normal(size=xshape).astype(np.float32)
    shape, names, pspecs, xspec = recipe_specs(name, host_p)
    devs = fn.devices()[: int(np.prod(shape))]
    jdevs = jax.devices()[: int(np.prod(shape))]

    fmesh = Mesh(np.array(devs).reshape(shape), names)
    jmesh = JMesh(np.array(jdevs).reshape(shape), names)
    f_ps = jax.tree_util.tree_map(lambda s: NamedSharding(fmesh, P(*s)), pspecs, is_leaf=_is_spec)
    j_ps = jax.tree_util.tree_map(lambda s: JNamed(jmesh, JP(*s)), pspecs, is_leaf=_is_spec)
    f_xs, j_xs = NamedSharding(fmesh, P(*xspec)), JNamed(jmesh, JP(*xspec))
    f_rep, j_rep = NamedSharding(fmesh, P()), JNamed(jmesh, JP())

    f_mlp, f_attn = make_steps(fnp, heads)
    j_mlp, j_attn = make_steps(jnp, heads)
    f_step = sgd_step(f_attn if is_attn else f_mlp, fn.value_and_grad, fn.tree.map)
    j_step = sgd_step(j_attn if is_attn else j_mlp, jax.value_and_grad, jax.tree_util.tree_map)
    if name == "dp_shard_map":
        f_step = _shard_map_dp(f_mlp, fmesh, fn, P)
        j_step = _shard_map_dp(j_mlp, jmesh, jax, JP)
    f8 = fn.jit(f_step, in_shardings=(f_ps, f_xs, f_xs), out_shardings=(f_ps, f_rep))
    j8 = jax.jit(j_step, in_shardings=(j_ps, j_xs, j_xs), out_shardings=(j_ps, j_rep))
    f_args = (fn.device_put(host_p, f_ps), fn.device_put(host_x, f_xs), fn.device_put(host_y, f_xs))
    j_args = (
        jax.device_put(host_p, j_ps),
        jax.device_put(host_x, j_xs),
        jax.device_put(host_y, j_xs),
    )
    if name == "dp_shard_map":  # the one-device reference is the plain step
        f_step = sgd_step(f_mlp, fn.value_and_grad, fn.tree.map)
        j_step = sgd_step(j_mlp, jax.value_and_grad, jax.tree_util.tree_map)
    f1, j1 = fn.jit(f_step), jax.jit(j_step)
    f1_args = tuple(fn.tree.map(fnp.asarray, a) for a in (host_p, host_x, host_y))
    j1_args = tuple(jax.tree_util.tree_map(jnp.asarray, a) for a in (host_p, host_x, host_y))
    return {
        "f8": (f8, f_args),
        "j8": (j8, j_args),
        "f1": (f1, f1_args),
        "j1": (j1, j1_args),
    }


def _shard_map_dp(model, mesh, lib, spec):
    """The dp step per device, gradients averaged by an explicit pmean (`lib` is funcnet
    or jax: both spell it the same)."""

    def per_device(p, x, y):
        def loss(p):
            return ((model(p, x) - y) ** 2).mean()

        # p is replicated: marked varying, its gradient is this device's (jax's
        # convention; without it the gradient would come out summed over devices)
        p_local = lib.lax.pcast(p, "data", to="varying")
        value, g = lib.value_and_grad(loss)(p_local)
        g = lib.lax.pmean(g, "data")
        return lib.tree.map(lambda a, b: a - LR * b, p, g), lib.lax.pmean(value, "data")

    return lib.shard_map(
        per_device,
        mesh=mesh,
        in_specs=(spec(), spec("data"), spec("data")),
        out_specs=(spec(), spec()),
    )


def main(quick=False):
    _timing.print_header(f"Sharded training steps on {N_DEVICES} host devices vs 1")
    d, depth, heads, batch, seq = (128, 2, 4, 64, 16) if quick else (512, 4, 8, 256, 64)
    repeat = 5 if quick else 21
    results = {}
    ok = True
    for name in ("dp", "fsdp", "tp_mlp", "tp_attn", "dp_shard_map"):
        c = build(name, d, depth, heads, batch, seq)
        f8, f_args = c["f8"]
        j8, j_args = c["j8"]
        f_coll = collectives(f8.lower(*f_args).compile().as_text())
        j_coll = collectives(j8.lower(*j_args).compile().as_text())
        # same losses and parameters after one step: the programs compute the same thing
        (fp, fl), (jp, jl) = f8(*f_args), j8(*j_args)
        np.testing.assert_allclose(float(fl), float(jl), rtol=1e-4)
        for a, b in zip(jax.tree_util.tree_leaves(fp), jax.tree_util.tree_leaves(jp)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-3, atol=2e-5)
        labels = {
            "funcnet 8 dev": "f8",
            "jax 8 dev": "j8",
            "funcnet 1 dev": "f1",
            "jax 1 dev": "j1",
        }
        times = _timing.compare(
            {label: (lambda f=c[k][0], a=c[k][1]: f(*a)) for label, k in labels.items()},
            repeat=repeat,
            target_s=0.05,
        )
        same = f_coll == j_coll
        ok &= same
        results[name] = {
            "funcnet_collectives": f_coll,
            "jax_collectives": j_coll,
            "times": {k: {"min": v["min"], "median": v["median"]} for k, v in times.items()},
        }
        print(f"\n  {name}: collectives {'EQUAL' if same else 'DIFFER'} (target equal)")
        for kind in COLLECTIVES:
            fc, jc = f_coll.get(kind, (0, 0)), j_coll.get(kind, (0, 0))
            if fc != (0, 0) or jc != (0, 0):
                print(
                    f"    {kind:<19} funcnet {fc[0]:3d} x, {fc[1] / 1e3:9.1f} kB   "
                    f"jax {jc[0]:3d} x, {jc[1] / 1e3:9.1f} kB"
                )
        t = {k: v["min"] for k, v in times.items()}
        print(
            f"    step (min)  funcnet 8 dev {_timing.fmt_time(t['funcnet 8 dev'])}  "
            f"jax 8 dev {_timing.fmt_time(t['jax 8 dev'])}  "
            f"ratio {t['funcnet 8 dev'] / t['jax 8 dev']:.2f}x\n"
            f"                funcnet 1 dev {_timing.fmt_time(t['funcnet 1 dev'])}  "
            f"jax 1 dev {_timing.fmt_time(t['jax 1 dev'])}  "
            f"ratio {t['funcnet 1 dev'] / t['jax 1 dev']:.2f}x   "
            f"8 dev / 1 dev: funcnet {t['funcnet 8 dev'] / t['funcnet 1 dev']:.2f}x, "
            f"jax {t['jax 8 dev'] / t['jax 1 dev']:.2f}x"
        )
    _timing.maybe_dump("sharding", {"model": dict(d=d, depth=depth, heads=heads, batch=batch,
                                                  seq=seq), "recipes": results})  # fmt: skip
    return ok


if __name__ == "__main__":
    sys.exit(0 if main(quick="--quick" in sys.argv[1:]) else 1)
