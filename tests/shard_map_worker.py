"""Multi-device checks of fn.shard_map and the collectives, against jax's shard_map.

Run by tests/test_shard_map.py in its own process with 8 forced host devices (the flag
must be set before the runtime starts); prints one JSON object {check name: bool or
message}.
"""

import json
import os
import sys
import time
import traceback

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh as JMesh
from jax.sharding import PartitionSpec as JP

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.sharding import Mesh, PartitionSpec

results = {}
timings = {}  # CPU seconds per check, printed on stderr
ORDER = [1, 0, 2, 3, 4, 5, 6, 7]  # a permuted mesh: positions are not device ids
mesh = Mesh(np.array(fn.devices())[ORDER].reshape(4, 2), ("data", "model"))
jmesh = JMesh(np.array(jax.devices())[ORDER].reshape(4, 2), ("data", "model"))
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 4)).astype(np.float32)


def check(name):
    def deco(f):
        start = time.process_time()
        try:
            results[name] = bool(f())
        except Exception:  # reported to the test, which shows it
            results[name] = traceback.format_exc(limit=6)
        timings[name] = round(time.process_time() - start, 2)
        return f

    return deco


def both(body, in_specs, out_specs, **kw):
    """(funcnet's shard_map, jax's) of body(lax_module)."""
    f = fn.shard_map(
        body(fn.lax),
        mesh=mesh,
        in_specs=_spec(in_specs, PartitionSpec),
        out_specs=_spec(out_specs, PartitionSpec),
        **kw,
    )
    j = jax.shard_map(
        body(jax.lax),
        mesh=jmesh,
        in_specs=_spec(in_specs, JP),
        out_specs=_spec(out_specs, JP),
        **kw,
    )
    return f, j


def _spec(s, cls):
    if isinstance(s, list):
        return tuple(_spec(e, cls) for e in s)
    return cls(*s)


def close(a, b, tol=1e-4):
    return np.allclose(np.asarray(a), np.asarray(b), atol=tol, rtol=tol)


SPLIT = ("data", "model")


def all_body(lax):
    def b(a):
        s = lax.psum(a, "data")
        c = lax.all_gather(a, "model", axis=1, tiled=True)
        d = lax.ppermute(a, "data", [(0, 1), (1, 2), (2, 3), (3, 0)])
        e = lax.psum_scatter(c, "model", scatter_dimension=1, tiled=True)
        i = lax.axis_index("data")
        f = lax.all_to_all(a, "model", 0, 0, tiled=True)
        return s + d + e + i + f + lax.pmean(a, ("data", "model"))

    return b


@check("values_eager")
def _():
    f, j = both(all_body, SPLIT, SPLIT)
    return close(f(X), j(X))


@check("values_jit")
def _():
    f, j = both(all_body, SPLIT, SPLIT)
    return close(fn.jit(f)(X), j(X))


@check("grad_all_collectives")
def _():
    f, j = both(all_body, SPLIT, SPLIT)
    return close(fn.grad(lambda x: (f(x) ** 2).sum())(X), jax.grad(lambda x: (j(x) ** 2).sum())(X))


@check("pmax_pmin_values")
def _():
    f, j = both(lambda lax: lambda a: lax.pmax(a, "data") - lax.pmin(a, "model"), SPLIT, SPLIT)
    return close(f(X), j(X))


# Each collective alone: values, jvp and vjp against jax.
CASES = {
    "psum": (lambda lax: lambda a: lax.psum(a, "data"), SPLIT, (None, "model")),
    "psum2": (lambda lax: lambda a: lax.psum(a, ("data", "model")), SPLIT, ()),
    "pmean": (lambda lax: lambda a: lax.pmean(a, "model"), SPLIT, ("data",)),
    "all_gather": (lambda lax: lambda a: lax.all_gather(a, "data"), SPLIT, ("data", None, "model")),
    "all_gather_tiled": (
        lambda lax: lambda a: lax.all_gather(a, "model", axis=1, tiled=True),
        SPLIT,
        SPLIT,
    ),
    "psum_scatter": (
        lambda lax: lambda a: lax.psum_scatter(a, "data", scatter_dimension=1, tiled=True),
        ("model",),
        ("model", "data"),
    ),
    "ppermute": (
        lambda lax: lambda a: lax.ppermute(a, "data", [(0, 2), (2, 1), (1, 3), (3, 0)]),
        SPLIT,
        SPLIT,
    ),
    "all_to_all": (
        lambda lax: lambda a: lax.all_to_all(a, "model", 1, 0, tiled=True),
        SPLIT,
        SPLIT,
    ),
    "axis_index": (
        lambda lax: lambda a: a * lax.axis_index(("data", "model")).astype(a.dtype),
        SPLIT,
        SPLIT,
    ),
}
T = rng.standard_normal((8, 4)).astype(np.float32)
for _name, (_body, _ins, _outs) in CASES.items():

    def _run(body=_body, ins=_ins, outs=_outs):
        f, j = both(body, ins, outs)

        def derivatives(lib, g):
            # value, jvp and vjp in one jitted program per library (one compile each)
            def all_three(x, t, ct):
                y, yt = lib.jvp(g, (x,), (t,))
                _, pullback = lib.vjp(lambda x: g(x) * 1.5, x)
                return y, yt, pullback(ct)[0]

            return lib.jit(all_three)

        ct = rng.standard_normal(jax.eval_shape(j, X).shape).astype(np.float32)
        got = derivatives(fn, f)(X, T, ct)
        want = derivatives(jax, j)(X, T, ct)
        return all(close(a, b) for a, b in zip(got, want))

    check(f"collective_{_name}")(_run)


@check("data_parallel_grad_equals_unsharded")
def _():
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float32)
    xs = rng.standard_normal((16, 4)).astype(np.float32)
    ys = rng.standard_normal((16, 3)).astype(np.float32)
    dmesh = Mesh(np.array(fn.devices()), ("data",))

    def local_loss(params, x, y):
        w, b = params
        return fn.lax.pmean(fnp.mean((fnp.tanh(x @ w + b) - y) ** 2), "data")

    sharded = fn.shard_map(
        local_loss,
        mesh=dmesh,
        in_specs=(PartitionSpec(), PartitionSpec("data"), PartitionSpec("data")),
        out_specs=PartitionSpec(),
    )
    g = fn.jit(fn.grad(sharded))((w, b), xs, ys)

    def ref(params):
        w, b = params
        return jnp.mean((jnp.tanh(xs @ w + b) - ys) ** 2)

    r = jax.grad(ref)((w, b))
    return close(g[0], r[0], 1e-5) and close(g[1], r[1], 1e-5)


@check("replicated_param_grad_sums_over_devices")
def _():
    # w is invariant (P()), used with varying x: its cotangent is summed (pvary's transpose)
    f, j = both(
        lambda lax: lambda w, a: lax.psum((a * w).sum(), ("data", "model")), [(), SPLIT], ()
    )
    w = np.float32(1.7)
    gf = fn.grad(lambda w, x: f(w, x), argnums=(0, 1))(w, X)
    gj = jax.grad(lambda w, x: j(w, x), argnums=(0, 1))(w, X)
    return close(gf[0], gj[0]) and close(gf[1], gj[1]) and close(gf[0], X.sum())


@check("vmap_of_shard_map")
def _():
    f, j = both(lambda lax: lambda a: lax.psum(a, "data") * a, SPLIT, SPLIT)
    xs = rng.standard_normal((3, 8, 4)).astype(np.float32)
    return close(fn.vmap(f)(xs), jax.vmap(j)(xs)) and close(
        fn.vmap(f, in_axes=1, out_axes=2)(xs.transpose(1, 0, 2)),
        jax.vmap(j, in_axes=1, out_axes=2)(xs.transpose(1, 0, 2)),
    )


@check("shard_map_of_vmap")
def _():
    def body(lax):
        return lambda a: (
            jax.vmap(lambda r: lax.psum(r, "model"))(a)
            if lax is jax.lax
            else (fn.vmap(lambda r: lax.psum(r, "model"))(a))
        )

    f, j = both(body, SPLIT, ("data",))
    return close(f(X), j(X))


@check("scan_and_checkpoint_in_body_grad")
def _():
    def body(lax):
        ckpt = jax.checkpoint if lax is jax.lax else fn.checkpoint

        def b(w, a):
            def step(c, r):
                c = c + ckpt(lambda v: (v * w).sum())(r)
                return c, lax.psum(c, ("data", "model"))

            axes = ("data", "model")
            init = lax.pcast(0.0 * w, axes, to="varying")
            c, ys = lax.scan(step, init, a)
            return lax.psum(c, ("data", "model")) + ys.sum()

        return b

    f, j = both(body, [(), SPLIT], ())
    w = np.float32(0.3)
    gf = fn.grad(lambda w, x: f(w, x), argnums=(0, 1))(w, X)
    gj = jax.grad(lambda w, x: j(w, x), argnums=(0, 1))(w, X)
    return close(f(w, X), j(w, X)) and close(gf[0], gj[0]) and close(gf[1], gj[1])


@check("check_vma_false_values_and_grad")
def _():
    f, j = both(lambda lax: lambda a: lax.psum(a, "data") * a, SPLIT, SPLIT, check_vma=False)
    gf = fn.grad(lambda x: (f(x) ** 2).sum())(X)
    gj = jax.grad(lambda x: (j(x) ** 2).sum())(X)
    return close(f(X), j(X)) and close(gf, gj)


@check("out_spec_replication_error")
def _():
    f = fn.shard_map(
        lambda a: a * 2, mesh=mesh, in_specs=PartitionSpec("data"), out_specs=PartitionSpec()
    )
    try:
        f(X)
    except ValueError as e:
        return "replicated" in str(e) and "data" in str(e)
    return False


@check("unbound_axis_error")
def _():
    f = fn.shard_map(
        lambda a: fn.lax.psum(a, "batch"),
        mesh=mesh,
        in_specs=PartitionSpec("data"),
        out_specs=PartitionSpec("data"),
    )
    try:
        f(X)
    except NameError as e:
        msg = str(e)
        return "'batch'" in msg and "data" in msg and "shard_map_worker.py" in msg
    return False


@check("lowering_ops")
def _():
    f, _ = both(all_body, SPLIT, SPLIT)
    text = fn.jit(f).lower(X).as_text()
    want = [
        "sdy.manual_computation",
        "stablehlo.all_reduce",
        "stablehlo.all_gather",
        "stablehlo.reduce_scatter",
        "stablehlo.collective_permute",
        "stablehlo.all_to_all",
        "stablehlo.partition_id",
        "mhlo.num_partitions = 8",
    ]
    return all(w in text for w in want)


@check("cond_and_fori_in_body_grad")
def _():
    def body(lax):
        def b(w, a):
            # a varying predicate: devices take different branches / trip counts
            y = lax.cond(a.sum() > 0, lambda v: v * w, lambda v: v - w, a)
            z = lax.fori_loop(0, 3, lambda i, c: c * 0.9 + lax.psum(c, "model") * 0.1 + w, y)
            return lax.psum((z**2).sum(), ("data", "model"))

        return b

    f, j = both(body, [(), SPLIT], ())
    w = np.float32(0.7)
    gf = fn.grad(f, argnums=(0, 1))(w, X)
    gj = jax.grad(j, argnums=(0, 1))(w, X)
    return close(f(w, X), j(w, X)) and close(gf[0], gj[0]) and close(gf[1], gj[1])


@check("vmap_axis_name_around_shard_map")
def _():
    # jax refuses a vmap axis collective inside its shard_map; the reference is the same
    # computation written with the batch as an unsplit leading block dimension.
    f = fn.vmap(
        fn.shard_map(
            lambda a: fn.lax.psum(a, "v") * fn.lax.psum(a, "data"),
            mesh=mesh,
            in_specs=PartitionSpec(*SPLIT),
            out_specs=PartitionSpec(*SPLIT),
        ),
        axis_name="v",
    )
    ref = fn.shard_map(
        lambda a: a.sum(0, keepdims=True) * fn.lax.psum(a, "data"),
        mesh=mesh,
        in_specs=PartitionSpec(None, *SPLIT),
        out_specs=PartitionSpec(None, *SPLIT),
    )
    xs = np.stack([X, 2 * X, -X])
    jpsum = jax.shard_map(
        lambda a: jax.lax.psum(a, "data"), mesh=jmesh, in_specs=JP(*SPLIT), out_specs=JP(*SPLIT)
    )
    want = xs.sum(0) * np.asarray(jax.vmap(jpsum)(xs))
    return close(f(xs), ref(xs)) and close(f(xs), want)


@check("jit_vmap_grad_of_shard_map")
def _():
    def make(lib, lax, m, spec):
        return lib.shard_map(
            lambda a: lax.pmean((a**3).sum(), SPLIT),
            mesh=m,
            in_specs=spec(*SPLIT),
            out_specs=spec(),
        )

    xs = np.stack([X, 2 * X, -X])
    got = fn.jit(fn.vmap(fn.grad(make(fn, fn.lax, mesh, PartitionSpec))))(xs)
    return close(got, jax.jit(jax.vmap(jax.grad(make(jax, jax.lax, jmesh, JP))))(xs))


@check("indivisible_dimension_error")
def _():
    f = fn.shard_map(
        lambda a: a, mesh=mesh, in_specs=PartitionSpec("data"), out_specs=PartitionSpec("data")
    )
    try:
        f(np.ones((6, 4), np.float32))
    except ValueError as e:
        return "not divisible" in str(e) and "('data',)" in str(e)
    return False


@check("pytree_arguments_and_outputs")
def _():
    def body(lax):
        return lambda p: {"s": lax.psum(p["a"], "data"), "b": p["b"] * 2}

    specs = {"a": ("data",), "b": ()}
    f = fn.shard_map(
        body(fn.lax),
        mesh=mesh,
        in_specs=({k: PartitionSpec(*v) for k, v in specs.items()},),
        out_specs={"s": PartitionSpec(), "b": PartitionSpec()},
    )
    j = jax.shard_map(
        body(jax.lax),
        mesh=jmesh,
        in_specs=({k: JP(*v) for k, v in specs.items()},),
        out_specs={"s": JP(), "b": JP()},
    )
    p = {"a": X, "b": X[:2]}
    got, want = f(p), j(p)
    return close(got["s"], want["s"]) and close(got["b"], want["b"])


@check("checkpoint_around_shard_map_jit")
def _():
    def make(lib, lax, m, spec):
        return lib.shard_map(
            lambda w, a: lax.psum((a * w).sum() ** 2, SPLIT),
            mesh=m,
            in_specs=(spec(), spec(*SPLIT)),
            out_specs=spec(),
        )

    w = np.float32(0.3)
    got = fn.jit(fn.grad(fn.checkpoint(make(fn, fn.lax, mesh, PartitionSpec))))(w, X)
    return close(got, jax.grad(jax.checkpoint(make(jax, jax.lax, jmesh, JP)))(w, X))


@check("grad_inside_body_with_explicit_pvary")
def _():
    # Inside the body, a replicated argument marked varying first: the per-device
    # gradient, then pmean (funcnet and jax agree; see docs/sharding.md).
    def body(lax):
        sq = jnp.tanh if lax is jax.lax else fnp.tanh
        grad = jax.grad if lax is jax.lax else fn.grad

        def b(w, a):
            w = lax.pcast(w, "data", to="varying")
            g = grad(lambda w: sq(a * w).sum())(w)
            return lax.pmean(g, "data")

        return b

    dmesh = Mesh(np.array(fn.devices()), ("data",))
    jdmesh = JMesh(np.array(jax.devices()), ("data",))
    w = np.float32(0.4)
    f = fn.shard_map(
        body(fn.lax),
        mesh=dmesh,
        in_specs=(PartitionSpec(), PartitionSpec("data")),
        out_specs=PartitionSpec(),
    )
    j = jax.shard_map(body(jax.lax), mesh=jdmesh, in_specs=(JP(), JP("data")), out_specs=JP())
    return close(f(w, X), j(w, X))


@check("grad_inside_body_of_replicated_param_matches_jax")
def _():
    # A gradient taken inside the body w.r.t. a replicated argument: replication is
    # tracked as each operation is traced, so it is the sum over devices (as jax's).
    def body(lax):
        lib, np_ = (jax, jnp) if lax is jax.lax else (fn, fnp)

        def b(w, a):
            v, g = lib.value_and_grad(lambda w: np_.tanh(a @ w).sum())(w)
            return lax.pmean(g, "data"), lax.pmean(v, "data")

        return b

    dmesh = Mesh(np.array(fn.devices()), ("data",))
    jdmesh = JMesh(np.array(jax.devices()), ("data",))
    w = rng.standard_normal((4, 3)).astype(np.float32)
    f = fn.shard_map(
        body(fn.lax),
        mesh=dmesh,
        in_specs=(PartitionSpec(), PartitionSpec("data")),
        out_specs=(PartitionSpec(), PartitionSpec()),
    )
    j = jax.shard_map(
        body(jax.lax), mesh=jdmesh, in_specs=(JP(), JP("data")), out_specs=(JP(), JP())
    )
    got, want = f(w, X), j(w, X)
    return close(got[0], want[0], 1e-5) and close(got[1], want[1], 1e-5)


@check("eager_control_flow_around_shard_map")
def _():
    # An eager cond/scan whose body holds a shard_map runs partitioned over its mesh.
    def body(lax):
        return lambda w, a: lax.psum((a * w).sum(), ("data", "model"))

    f, j = both(body, [(), ("data", "model")], ())
    w = np.float32(0.3)
    got_cond = fn.lax.cond(fnp.asarray(True), f, lambda w, a: w * 0, w, X)
    got_scan, _ = fn.lax.scan(lambda c, _: (c + f(w, X), None), 0.0, None, length=2)
    want = j(w, X)
    return close(got_cond, want) and close(got_scan, 2 * want)


print(json.dumps(timings), file=sys.stderr)
print(json.dumps(results))
