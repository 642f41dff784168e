"""Scenario worker for tests/test_sharding_recipes.py: run in its own process with 8
forced host devices (the runtime reads XLA_FLAGS only at start).

Runs the training recipes of docs/sharding.md (data parallel by the partitioner and by
shard_map's pmean, fully sharded data parallel, 2-D data x tensor parallel for an MLP
and an attention block), `funcnet.train` with a sharded state and batches, and sharded
checkpoints restored onto smaller meshes; each against the same computation on one
device, and (values, collectives) against jax + optax with the same shardings. The
model shapes and spec choices are those of benchmarks/bench_sharding.py, smaller.

Prints one JSON object of facts on stdout's last line; a scenario that raises records
`<name>_error` (the traceback) instead of its facts.
"""

import json
import os
import re
import sys
import tempfile
import traceback

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh as JMesh
from jax.sharding import NamedSharding as JNamed
from jax.sharding import PartitionSpec as JP

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import optim, train
from funcnet.io import CheckpointManager
from funcnet.sharding import Mesh, NamedSharding
from funcnet.sharding import PartitionSpec as P

facts = {}
D, DEPTH, HEADS, BATCH, SEQ = 16, 2, 2, 16, 4
LR = 1e-2
STEPS = 3
RTOL, ATOL = 2e-4, 2e-5  # sharded sums add in another order; Adam divides by sqrt(nu)
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")

devs = fn.devices()
jdevs = jax.devices()
mesh8 = Mesh(np.array(devs), ("data",))
jmesh8 = JMesh(np.array(jdevs), ("data",))
mesh42 = Mesh(np.array(devs).reshape(4, 2), ("data", "model"))
jmesh42 = JMesh(np.array(jdevs).reshape(4, 2), ("data", "model"))


def scenario(fun):
    """Runs a scenario now; an exception becomes the fact `<name>_error`."""
    try:
        fun()
    except Exception:
        facts[f"{fun.__name__}_error"] = traceback.format_exc()[-4000:]
    return fun


def close(a, b, rtol=RTOL, atol=ATOL):
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))


def trees_close(a, b, **kw):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(close(x, y, **kw) for x, y in zip(la, lb))


def indices(sharding, shape):
    """{device id: [[start, stop] per dim]} of funcnet's or jax's sharding."""
    return {
        d.id: [list(s.indices(n)[:2]) for s, n in zip(idx, shape)]
        for d, idx in sharding.devices_indices_map(tuple(shape)).items()
    }


def collectives(hlo):
    """{kind: count} of the collectives in an optimized HLO module (start/done as one)."""
    out = {}
    for kind in COLLECTIVES:
        n = len(re.findall(rf"\b{kind}(?:-start)?\(", hlo))
        if n:
            out[kind] = n
    return out


def replica_groups(hlo):
    """The replica groups of the all-reduces, in order, as printed."""
    return re.findall(r"all-reduce(?:-start)?\(.*?replica_groups=(\S+?),? ", hlo)


# --- the models (benchmarks/bench_sharding.py's, smaller) ---------------------------------


def mlp_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        f"l{i}": {
            "w": (rng.normal(size=(D, D)) / np.sqrt(D)).astype(np.float32),
            "b": (0.1 * rng.normal(size=D)).astype(np.float32),
        }
        for i in range(DEPTH)
    }


def attn_params(seed=0):
    rng = np.random.default_rng(seed)

    def w(*shape):
        return (rng.normal(size=shape) / np.sqrt(shape[0])).astype(np.float32)

    return {"wq": w(D, D), "wk": w(D, D), "wv": w(D, D), "wo": w(D, D), "w1": w(D, 2 * D),
            "w2": w(2 * D, D)}  # fmt: skip


def make_models(np_mod):
    def mlp(p, x):
        for i in range(len(p)):
            x = np_mod.tanh(x @ p[f"l{i}"]["w"] + p[f"l{i}"]["b"])
        return x

    def attn(p, x):  # x: (batch, time, d); heads along the last axis of wq/wk/wv
        b, t, d = x.shape
        hd = d // HEADS

        def split(y):
            return y.reshape(b, t, HEADS, hd)

        q, k, v = split(x @ p["wq"]), split(x @ p["wk"]), split(x @ p["wv"])
        s = np_mod.einsum("bthd,bshd->bhts", q, k) / np.sqrt(hd)
        s = s - s.max(axis=-1, keepdims=True)
        a = np_mod.exp(s)
        a = a / a.sum(axis=-1, keepdims=True)
        o = np_mod.einsum("bhts,bshd->bthd", a, v).reshape(b, t, d)
        h = x + o @ p["wo"]
        return h + np_mod.tanh(h @ p["w1"]) @ p["w2"]

    return {"mlp": mlp, "attn": attn}


F_MODELS, J_MODELS = make_models(fnp), make_models(jnp)


def data(kind, seed=1):
    rng = np.random.default_rng(seed)
    shape = (BATCH, SEQ, D) if kind == "attn" else (BATCH, D)
    return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


def adam_step(model, lib, tx, apply_updates):
    """One Adam step of the mean squared error; `lib` is funcnet or jax."""

    def step(p, opt, x, y):
        def loss(p):
            return ((model(p, x) - y) ** 2).mean()

        value, g = lib.value_and_grad(loss)(p)
        updates, opt = tx.update(g, opt, p)
        return apply_updates(p, updates), opt, value

    return step


F_TX, J_TX = optim.adam(LR), optax.adam(LR)


def f_step(kind):
    return adam_step(F_MODELS[kind], fn, F_TX, optim.apply_updates)


def j_step(kind):
    return adam_step(J_MODELS[kind], jax, J_TX, optax.apply_updates)


def run(step, p, opt, x, y, n=STEPS):
    losses = []
    for _ in range(n):
        p, opt, value = step(p, opt, x, y)
        losses.append(float(value))
    return p, opt, losses


def reference(kind):
    """The recipe on one device: funcnet jit without shardings (the values every sharded
    run is compared with)."""
    host_p = attn_params() if kind == "attn" else mlp_params()
    x, y = data(kind)
    p = fn.tree.map(fnp.asarray, host_p)
    p, opt, losses = run(fn.jit(f_step(kind)), p, F_TX.init(p), x, y)
    return fn.device_get(p), fn.device_get(opt), losses


def spec_tree(name, params):
    """benchmarks/bench_sharding.py's recipe_specs, as PartitionSpec entries."""
    if name == "dp":
        return {k: {"w": (), "b": ()} for k in params}
    if name == "fsdp":
        return {k: {"w": ("data", None), "b": ("data",)} for k in params}
    if name == "tp_mlp":  # even layers column-split, odd layers row-split (Megatron)
        col, row = {"w": (None, "model"), "b": ("model",)}, {"w": ("model", None), "b": ()}
        return {k: col if i % 2 == 0 else row for i, k in enumerate(sorted(params))}
    if name == "tp_attn":
        col, row = (None, "model"), ("model", None)
        return {"wq": col, "wk": col, "wv": col, "wo": row, "w1": col, "w2": row}
    raise ValueError(name)


def is_spec(x):
    return isinstance(x, tuple) and all(e is None or isinstance(e, str) for e in x)


def shardings(specs, mesh, named, spec_cls):
    return jax.tree_util.tree_map(lambda s: named(mesh, spec_cls(*s)), specs, is_leaf=is_spec)


def opt_shardings(opt_state, param_shardings, replicated, treedef_of):
    """Adam's state: its moments take the parameters' shardings, its counter replicated."""
    target = treedef_of(param_shardings)

    def is_moment(x):
        return treedef_of(x) == target

    return jax.tree_util.tree_map(
        lambda x: param_shardings if is_moment(x) else replicated, opt_state, is_leaf=is_moment
    )


def f_treedef(x):
    return fn.tree.structure(x, is_leaf=lambda s: isinstance(s, NamedSharding))


def j_treedef(x):
    return jax.tree_util.tree_structure(x, is_leaf=lambda s: isinstance(s, JNamed))


REFS = {}


def shard_recipe(name, kind, mesh, jmesh):
    """Runs recipe `name` with jit(in_shardings=, out_shardings=) in funcnet and jax;
    returns (funcnet params, opt state, losses, jitted step, args) after STEPS steps."""
    host_p = attn_params() if kind == "attn" else mlp_params()
    x, y = data(kind)
    specs = spec_tree(name, host_p)
    fps, jps = shardings(specs, mesh, NamedSharding, P), shardings(specs, jmesh, JNamed, JP)
    frep, jrep = NamedSharding(mesh, P()), JNamed(jmesh, JP())
    fxs, jxs = NamedSharding(mesh, P("data")), JNamed(jmesh, JP("data"))
    fos = opt_shardings(F_TX.init(host_p), fps, frep, f_treedef)
    jos = opt_shardings(J_TX.init(host_p), jps, jrep, j_treedef)
    f8 = fn.jit(f_step(kind), in_shardings=(fps, fos, fxs, fxs), out_shardings=(fps, fos, frep))
    j8 = jax.jit(j_step(kind), in_shardings=(jps, jos, jxs, jxs), out_shardings=(jps, jos, jrep))
    p = fn.device_put(host_p, fps)
    opt = fn.device_put(F_TX.init(host_p), fos)
    args = (p, opt, fn.device_put(x, fxs), fn.device_put(y, fxs))
    fp, fopt, flosses = run(f8, *args)
    jp = jax.device_put(host_p, jps)
    jp, jopt, jlosses = run(j8, jp, jax.device_put(J_TX.init(host_p), jos), x, y)
    ref_p, ref_opt, ref_losses = REFS[kind]
    facts[f"{name}_losses"] = [flosses, ref_losses, jlosses]
    facts[f"{name}_losses_match"] = close(flosses, ref_losses) and close(flosses, jlosses)
    facts[f"{name}_params_match_1dev"] = trees_close(fp, ref_p)
    facts[f"{name}_params_match_jax"] = trees_close(fp, jp)
    facts[f"{name}_opt_match_1dev"] = trees_close(fopt, ref_opt)
    # the results are laid out as out_shardings says, block for block as jax's
    f_out, j_out = fn.tree.leaves((fp, fopt)), jax.tree_util.tree_leaves((jp, jopt))
    expected = fn.tree.leaves((fps, fos), is_leaf=lambda x: isinstance(x, NamedSharding))
    facts[f"{name}_out_shardings"] = [
        a.sharding == e and indices(a.sharding, a.shape) == indices(b.sharding, b.shape)
        for a, b, e in zip(f_out, j_out, expected)
    ]
    facts[f"{name}_n_out"] = [len(f_out), len(j_out), len(expected)]
    return fp, fopt, f8, j8, args, (jp, jax.device_put(J_TX.init(host_p), jos), x, y)


def shard_blocks(arr, ref):
    """[(device id, block shape, block == ref[index])] of a sharded array's shards."""
    ref = np.asarray(ref)
    return [
        (s.device.id, list(s.data.shape), bool(np.allclose(np.asarray(s.data), ref[s.index],
                                                           rtol=RTOL, atol=ATOL)))
        for s in arr.addressable_shards
    ]  # fmt: skip


# --- 1. recipes ---------------------------------------------------------------------------


@scenario
def references():
    REFS["mlp"] = reference("mlp")
    REFS["attn"] = reference("attn")
    facts["ref_losses_fall"] = [REFS[k][2][-1] < REFS[k][2][0] for k in ("mlp", "attn")]


@scenario
def dp():
    fp, _, f8, j8, args, jargs = shard_recipe("dp", "mlp", mesh8, jmesh8)
    hlo = f8.lower(*args).compile().as_text()
    facts["dp_collectives"] = [collectives(hlo), collectives(j8.lower(*jargs).compile().as_text())]
    facts["dp_replicated"] = all(a.sharding.is_fully_replicated for a in fn.tree.leaves(fp))


@scenario
def dp_shard_map():
    """Data parallel written per device: the gradient averaged by an explicit pmean."""
    host_p = mlp_params()
    x, y = data("mlp")
    model = F_MODELS["mlp"]

    def per_device(p, opt, x, y):
        def loss(p):
            return ((model(p, x) - y) ** 2).mean()

        # p is replicated (P()): marked varying, its gradient is this device's, which
        # the pmean averages (jax's convention; without pvary it would be the sum)
        value, g = fn.value_and_grad(loss)(fn.lax.pvary(p, "data"))
        g = fn.lax.pmean(g, "data")
        updates, opt = F_TX.update(g, opt, p)
        return optim.apply_updates(p, updates), opt, fn.lax.pmean(value, "data")

    step = fn.jit(
        fn.shard_map(
            per_device,
            mesh=mesh8,
            in_specs=(P(), P(), P("data"), P("data")),
            out_specs=(P(), P(), P()),
        )
    )
    p = fn.tree.map(fnp.asarray, host_p)
    xs = NamedSharding(mesh8, P("data"))
    fp, fopt, losses = run(step, p, F_TX.init(p), fn.device_put(x, xs), fn.device_put(y, xs))
    ref_p, ref_opt, ref_losses = REFS["mlp"]
    facts["dp_shard_map_losses_match"] = close(losses, ref_losses)
    facts["dp_shard_map_params_match_1dev"] = trees_close(fp, ref_p)
    facts["dp_shard_map_opt_match_1dev"] = trees_close(fopt, ref_opt)
    hlo = step.lower(p, F_TX.init(p), fn.device_put(x, xs), fn.device_put(y, xs))
    facts["dp_shard_map_all_reduce"] = collectives(hlo.compile().as_text()).get("all-reduce", 0)


@scenario
def fsdp():
    fp, fopt, f8, j8, args, jargs = shard_recipe("fsdp", "mlp", mesh8, jmesh8)
    ref_p, ref_opt, _ = REFS["mlp"]
    w, mu = fp["l0"]["w"], fopt[0].mu["l0"]["w"]
    facts["fsdp_w_spec"] = [
        str(w.sharding.spec),
        str(mu.sharding.spec),
        str(fopt[0].count.sharding.spec),
    ]
    # every parameter and both of Adam's moments: each device holds 1/8 of the rows
    facts["fsdp_blocks"] = {
        f"{what}{fn.tree.keystr(path)}": [list(np.shape(ref)), shard_blocks(arr, ref)]
        for what, tree, ref_tree in (
            ("params", fp, ref_p),
            ("mu", fopt[0].mu, ref_opt[0].mu),
            ("nu", fopt[0].nu, ref_opt[0].nu),
        )
        for (path, arr), ref in zip(fn.tree.flatten_with_path(tree)[0], fn.tree.leaves(ref_tree))
    }
    hlo = f8.lower(*args).compile().as_text()
    facts["fsdp_collectives"] = [
        collectives(hlo),
        collectives(j8.lower(*jargs).compile().as_text()),
    ]


@scenario
def tp_mlp():
    _, _, f8, j8, args, jargs = shard_recipe("tp_mlp", "mlp", mesh42, jmesh42)
    hlo = f8.lower(*args).compile().as_text()
    facts["tp_mlp_step_collectives"] = [
        collectives(hlo),
        collectives(j8.lower(*jargs).compile().as_text()),
    ]


@scenario
def tp_attn():
    _, _, f8, j8, args, jargs = shard_recipe("tp_attn", "attn", mesh42, jmesh42)
    hlo = f8.lower(*args).compile().as_text()
    facts["tp_attn_step_collectives"] = [
        collectives(hlo),
        collectives(j8.lower(*jargs).compile().as_text()),
    ]


@scenario
def megatron_forward():
    """The forward pass alone: a Megatron split has one all-reduce (over "model") per
    row-split matrix: one for the 2-layer MLP, two for the attention block (wo, w2)."""
    for name, kind in (("tp_mlp", "mlp"), ("tp_attn", "attn")):
        host_p = attn_params() if kind == "attn" else mlp_params()
        x, _ = data(kind)
        specs = spec_tree(name, host_p)
        fps, jps = shardings(specs, mesh42, NamedSharding, P), shardings(specs, jmesh42, JNamed, JP)
        fxs, jxs = NamedSharding(mesh42, P("data")), JNamed(jmesh42, JP("data"))
        f = fn.jit(F_MODELS[kind], in_shardings=(fps, fxs), out_shardings=fxs)
        j = jax.jit(J_MODELS[kind], in_shardings=(jps, jxs), out_shardings=jxs)
        fhlo = f.lower(host_p, x).compile().as_text()
        jhlo = j.lower(host_p, x).compile().as_text()
        facts[f"{name}_fwd_collectives"] = [collectives(fhlo), collectives(jhlo)]
        facts[f"{name}_fwd_groups"] = [replica_groups(fhlo), replica_groups(jhlo)]
        facts[f"{name}_fwd_values"] = close(f(host_p, x), j(host_p, x))


# --- 2. funcnet.train ----------------------------------------------------------------------


def loss_fn(params, batch):
    err = F_MODELS["mlp"](params, batch["x"]) - batch["y"]
    return fnp.mean(err**2), {"mae": fnp.mean(fnp.abs(err))}


def metric_fn(params, batch):
    return {"mse": fnp.mean((F_MODELS["mlp"](params, batch["x"]) - batch["y"]) ** 2)}


def fit_setup(sharded, **step_options):
    """(state, step): FSDP over 8 devices (state laid out, step with shardings) or plain."""
    state = train.TrainState.create(params=fn.tree.map(fnp.asarray, mlp_params()), tx=F_TX)
    kwargs = {}
    if sharded:
        param_specs = shardings(spec_tree("fsdp", mlp_params()), mesh8, NamedSharding, P)
        kwargs["state_sharding"] = train.state_sharding(state, param_specs)
        kwargs["batch_sharding"] = NamedSharding(mesh8, P("data"))
        state = fn.device_put(state, kwargs["state_sharding"])
    return state, train.make_step(loss_fn, has_aux=True, **kwargs, **step_options)


def fit_run(sharded, loader_batches, eval_batches, step=None, **kwargs):
    state, new_step = fit_setup(sharded)
    return train.fit(
        state,
        step or new_step,
        loader_batches,
        epochs=2,
        log_every=2,
        eval=(metric_fn, eval_batches),
        **kwargs,
    )


class StopAfter(train.Callback):
    """Stops the run (as a crash would) after `n` steps."""

    def __init__(self, n):
        self.n = n

    def on_step_end(self, ctx):
        if ctx.step >= self.n:
            ctx.stop("cut")


@scenario
def fit_sharded():
    rng = np.random.default_rng(3)
    src = {
        "x": rng.normal(size=(4 * BATCH, D)).astype(np.float32),
        "y": rng.normal(size=(4 * BATCH, D)).astype(np.float32),
    }
    batch_sharding = NamedSharding(mesh8, P("data"))
    loader8 = fn.data.Loader(src, BATCH, shuffle=True, seed=0, device=batch_sharding)
    loader1 = fn.data.Loader(src, BATCH, shuffle=True, seed=0)
    first = next(iter(fn.data.Loader(src, BATCH, device=batch_sharding)))
    facts["loader_batch_spec"] = [str(first["x"].sharding.spec), len(first["x"].addressable_shards)]
    evals = [{k: v[i : i + BATCH] for k, v in src.items()} for i in (0, BATCH)]
    s8, h8 = fit_run(True, loader8, evals)
    s1, h1 = fit_run(False, loader1, evals)
    facts["fit_history"] = [h8[k] for k in ("loss", "mae", "val_mse")] + [
        h1[k] for k in ("loss", "mae", "val_mse")
    ]
    facts["fit_history_match"] = all(close(h8[k], h1[k]) for k in ("loss", "mae", "val_mse"))
    facts["fit_params_match"] = trees_close(s8.params, s1.params)
    facts["fit_opt_match"] = trees_close(s8.opt_state, s1.opt_state)
    facts["fit_steps"] = [int(s8.step), int(s1.step)]
    facts["fit_state_specs"] = [
        str(s8.params["l0"]["w"].sharding.spec),
        str(s8.opt_state[0].nu["l0"]["w"].sharding.spec),
        str(s8.step.sharding.spec),
    ]
    # the state carries on: a checkpoint of it restores onto other meshes (below)
    REFS["fit_state"] = s8

    # gradient accumulation (a scan over micro-batches) on the sharded batch
    batch = {k: v[:BATCH] for k, v in src.items()}
    after = []
    for sharded in (True, False):
        state, step = fit_setup(sharded, accumulate=2)
        state, metrics = step(state, batch)
        after.append((fn.device_get(state.params), float(metrics["loss"])))
    facts["accumulate_match"] = trees_close(after[0][0], after[1][0]) and close(
        after[0][1], after[1][1]
    )

    # a run cut after one epoch (checkpointed by the callback), resumed by a new fit
    _, step = fit_setup(True)
    with tempfile.TemporaryDirectory() as tmp, CheckpointManager(tmp) as mgr:
        save = [train.checkpoint(mgr, every="epoch")]
        loader = fn.data.Loader(src, BATCH, shuffle=True, seed=0, device=batch_sharding)
        fit_run(True, loader, evals, step=step, callbacks=[*save, StopAfter(4)])
        again = fn.data.Loader(src, BATCH, shuffle=True, seed=0, device=batch_sharding)
        s_res, h_res = fit_run(True, again, evals, step=step, callbacks=save, resume=mgr)
        facts["resume_steps"] = [mgr.all_steps(), int(s_res.step)]
    facts["resume_exact"] = all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(fn.tree.leaves(s_res), fn.tree.leaves(s8))
    )
    facts["resume_history"] = [h_res["loss"], h8["loss"]]
    facts["resume_sharding"] = s_res.params["l0"]["w"].sharding == s8.params["l0"]["w"].sharding


# --- 3. checkpoints ------------------------------------------------------------------------


def sub_mesh(k):
    return Mesh(np.array(devs[:k]), ("data",))


def fsdp_like(state, mesh, as_struct):
    """A template of `state` laid out FSDP-style on `mesh` (structs or sharded zeros)."""
    params_sh = shardings(spec_tree("fsdp", mlp_params()), mesh, NamedSharding, P)
    shard_tree = train.state_sharding(state, params_sh)

    def leaf(x, s):
        if as_struct:
            return fn.ShapeDtypeStruct(x.shape, x.dtype, sharding=s)
        return fn.device_put(np.zeros(x.shape, x.dtype), s)

    return fn.tree.map(leaf, state, shard_tree)


@scenario
def checkpoint_reshard():
    state = REFS["fit_state"]  # FSDP over 8 devices
    host = fn.device_get(state)
    saved = {"state": state, "epoch": 2}
    with tempfile.TemporaryDirectory() as tmp:
        with CheckpointManager(os.path.join(tmp, "ckpt")) as mgr:
            mgr.save(int(state.step), saved)
            for k in (1, 2, 4):
                mesh = sub_mesh(k)
                like = {"state": fsdp_like(state, mesh, as_struct=(k != 2)), "epoch": 0}
                out = mgr.restore(int(state.step), like=like)
                got = out["state"]
                w = got.params["l0"]["w"]
                facts[f"restore_{k}"] = {
                    "bit_exact": all(
                        np.array_equal(np.asarray(a), b)
                        for a, b in zip(fn.tree.leaves(got), fn.tree.leaves(host))
                    ),
                    "spec": str(w.sharding.spec),
                    "mesh_ids": [int(i) for i in w.sharding.mesh.device_ids.flat],
                    "blocks": [list(s.data.shape) for s in w.addressable_shards],
                    "mu_spec": str(got.opt_state[0].mu["l0"]["w"].sharding.spec),
                    "step_replicated": bool(got.step.sharding.is_fully_replicated),
                    "epoch": out["epoch"],
                }
        # fn.save / fn.load with like= (sharded Arrays as the template), and onto one device
        path = os.path.join(tmp, "params.safetensors")
        fn.save(path, state.params)
        like4 = fsdp_like(state, sub_mesh(4), as_struct=False).params
        loaded = fn.load(path, like=like4)
        plain = fn.load(path)
        one = fn.load(path, like=fn.device_get(state.params))
        facts["load_like"] = [
            all(
                np.array_equal(np.asarray(a), np.asarray(b))
                for a, b in zip(fn.tree.leaves(loaded), fn.tree.leaves(host.params))
            ),
            str(loaded["l1"]["w"].sharding.spec),
            len(loaded["l1"]["w"].addressable_shards),
            type(plain["l0"]["w"]).__name__,
            all(
                np.array_equal(np.asarray(a), np.asarray(b))
                for a, b in zip(fn.tree.leaves(plain), fn.tree.leaves(host.params))
            ),
            type(one["l0"]["w"]).__name__,
        ]
        # safetensors itself reads the gathered tensors
        from safetensors.numpy import load_file

        stored = load_file(path)
        facts["safetensors_whole"] = bool(
            np.array_equal(stored["l0.w"], host.params["l0"]["w"])
        ) and list(stored["l0.w"].shape) == [D, D]
        # device= overrides like=; a sharding that does not fit a leaf is named
        over = fn.load(path, like=like4, device=NamedSharding(sub_mesh(2), P()))
        facts["device_override"] = [
            bool(over["l0"]["w"].sharding.is_fully_replicated),
            len(over["l0"]["w"].addressable_shards),
        ]
        odd = Mesh(np.array(devs[:3]), ("data",))  # 16 rows do not split 3 ways
        bad_like = fn.device_get(state.params)
        bad_like["l0"]["w"] = fn.ShapeDtypeStruct(
            (D, D), np.float32, sharding=NamedSharding(odd, P("data", None))
        )
        try:
            fn.load(path, like=bad_like)
            facts["odd_sharding_error"] = None
        except ValueError as e:
            facts["odd_sharding_error"] = ["ValueError", str(e)]


print(json.dumps(facts, default=str))
sys.stdout.flush()
