"""Scenario worker for tests/test_sharding.py: runs in its own process with 8 forced host
devices (the runtime reads XLA_FLAGS only at start). Builds funcnet's meshes, shardings
and sharded arrays beside jax's (the reference) and prints one JSON object of facts on
stdout's last line."""

import itertools
import json
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
from jax._src.lib import xla_client as xc
from jax._src.sharding_impls import GSPMDSharding, device_replica_id_map
from jax.sharding import Mesh as JMesh
from jax.sharding import NamedSharding as JNamed
from jax.sharding import PartitionSpec as JP

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.runtime.layout import TileLayout
from funcnet.sharding import Mesh, NamedSharding, TiledSharding
from funcnet.sharding import PartitionSpec as P
from funcnet.sharding.named import sharding_for_layout

facts = {}
devs = fn.devices()
jdevs = jax.devices()


def indices(sharding, shape):
    """{device id: [[start, stop] per dim]} for funcnet's or jax's sharding."""
    return {
        str(d.id): [list(s.indices(n)[:2]) for s, n in zip(idx, shape)]
        for d, idx in sharding.devices_indices_map(shape).items()
    }


def raw_indices(sharding, shape):
    """{device id: repr of the index tuple} (slice(None) vs slice(0, n) matters)."""
    return {str(d.id): repr(idx) for d, idx in sharding.devices_indices_map(shape).items()}


def shards(x):
    return [(s.device.id, repr(s.index), s.replica_id) for s in x.addressable_shards]


def error(f):
    try:
        f()
    except (ValueError, TypeError, RuntimeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


# --- 1. layouts of every spec on several meshes equal jax's --------------------------------
MESHES = {
    "1d": ((8,), ("a",), list(range(8))),
    "2d": ((4, 2), ("a", "b"), list(range(8))),
    "3d": ((2, 2, 2), ("a", "b", "c"), list(range(8))),
    "2d_permuted": ((4, 2), ("a", "b"), [1, 0, 3, 2, 5, 4, 7, 6]),
    "2d_reversed": ((2, 4), ("a", "b"), [7, 6, 5, 4, 3, 2, 1, 0]),
    "size_one_axis": ((1, 8), ("a", "b"), list(range(8))),
}
layout_mismatches = []
n_layouts = 0
for label, (shape, names, order) in MESHES.items():
    fmesh = Mesh(np.array([devs[i] for i in order], dtype=object).reshape(shape), names)
    jmesh = JMesh(np.array([jdevs[i] for i in order], dtype=object).reshape(shape), names)
    entries = [None, *names] + [p for r in (2, 3) for p in itertools.permutations(names, r)]
    for spec in itertools.product(entries, repeat=2):
        used = [a for e in spec if e for a in ((e,) if isinstance(e, str) else e)]
        if len(set(used)) != len(used):
            continue
        n_layouts += 1
        fs, js = NamedSharding(fmesh, P(*spec)), JNamed(jmesh, JP(*spec))
        gshape = (16, 8)
        checks = {
            "hlo": xc.HloSharding.from_string(fs._to_hlo_sharding_text(2))
            == js._to_xla_hlo_sharding(2),
            "indices": raw_indices(fs, gshape) == raw_indices(js, gshape),
            "shard_shape": fs.shard_shape(gshape) == js.shard_shape(gshape),
            "replicated": fs.is_fully_replicated == js.is_fully_replicated,
            "replica_ids": dict(zip([d.id for d in fs._device_list], fs._replica_ids(2)))
            == {d.id: r for d, r in device_replica_id_map(js, gshape).items()},
            "device_set": {d.id for d in fs.device_set} == {d.id for d in js.device_set},
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            layout_mismatches.append([label, repr(spec), bad])
facts["n_layouts"] = n_layouts
facts["layout_mismatches"] = layout_mismatches

# --- 2. device_put from the host: shards and values as jax's --------------------------------
ORDER = [1, 0, 3, 2, 5, 4, 7, 6]
mesh = Mesh(np.array([devs[i] for i in ORDER], dtype=object).reshape(4, 2), ("data", "model"))
jmesh = JMesh(np.array([jdevs[i] for i in ORDER], dtype=object).reshape(4, 2), ("data", "model"))


def fs(*spec):
    return NamedSharding(mesh, P(*spec))


def js(*spec):
    return JNamed(jmesh, JP(*spec))


rng = np.random.default_rng(0)
VALUES = {
    "float32": rng.standard_normal((8, 6)).astype(np.float32),
    "int32": rng.integers(-1000, 1000, (8, 6)).astype(np.int32),
    "bool": rng.integers(0, 2, (8, 6)).astype(bool),
    "float16": rng.standard_normal((8, 6)).astype(np.float16),
    "bfloat16": rng.standard_normal((8, 6)).astype(ml_dtypes.bfloat16),
}
put_facts = {}
for dtype, value in VALUES.items():
    for spec in [("data",), (None, "model"), ("data", "model"), (("data", "model"),), ()]:
        value_ = value
        x = fn.device_put(value_, fs(*spec))
        j = jax.device_put(value_, js(*spec))
        key = f"{dtype}:{spec!r}"
        put_facts[key] = {
            "shards": shards(x) == shards(j),
            "shard_data": all(
                np.asarray(a.data).tobytes() == np.asarray(b.data).tobytes()
                and type(a.data).__name__ == "Array"
                and a.data.device == a.device
                for a, b in zip(x.addressable_shards, j.addressable_shards)
            ),
            "roundtrip": np.asarray(x).tobytes() == value_.tobytes()
            and np.asarray(x).dtype == value_.dtype,
            "sharding_kept": x.sharding == fs(*spec) and x.sharding.spec == P(*spec),
            "replicated": x.is_fully_replicated == j.is_fully_replicated,
        }
facts["put"] = put_facts

xv = VALUES["float32"]
x = fn.device_put(xv, fs("data"))
facts["array_attrs"] = {
    "devices": {d.id for d in x.devices()} == set(range(8)),
    "fully_addressable": x.is_fully_addressable,
    "not_replicated": not x.is_fully_replicated,
    "addressable_data": np.asarray(x.addressable_data(0)).tobytes()
    == xv[0:2].tobytes(),  # position 0 of the mesh holds the first row block
    "addressable_data_device": x.addressable_data(0).device.id == ORDER[0],
    "repr": repr(x).startswith("Array([[") and "dtype=float32" in repr(x),
    "np_asarray": np.asarray(x).tobytes() == xv.tobytes(),
    "tolist": x.tolist() == xv.tolist(),
    "shape_dtype": (x.shape, str(x.dtype)) == ((8, 6), "float32"),
}
facts["device_error"] = error(lambda: x.device)
facts["addressable_data_error"] = "no error"
try:
    x.addressable_data(8)
except IndexError as e:
    facts["addressable_data_error"] = f"IndexError: {e}"

# a scalar and a Python float keep their weak type
w = fn.device_put(2.5, fs())
i = fn.device_put(fnp.asarray(3, fnp.int32), fs())
facts["weak_scalar"] = [w.weak_type, float(w) == 2.5, w.is_fully_replicated]
facts["zero_d"] = [
    w.shape == () and np.asarray(w).shape == (),
    all(s.data.shape == () for s in w.addressable_shards),
    np.asarray(i).shape == () and int(i) == 3 and str(i.dtype) == "int32",
    all(s.data.shape == () for s in i.addressable_shards),
    fnp.sin(w).shape == () and np.asarray(fnp.sin(w)).shape == (),
]

# --- 3. from a single-device Array, resharding, back to one device ---------------------------
single = fnp.asarray(xv)
a = fn.device_put(single, fs("data", "model"))
facts["from_single_device"] = np.asarray(a).tobytes() == xv.tobytes() and shards(a) == shards(
    jax.device_put(xv, js("data", "model"))
)
resharded = {}
for spec in [(None, "model"), (), ("model",), ("data",)]:
    r = fn.device_put(x, fs(*spec))
    jr = jax.device_put(jax.device_put(xv, js("data")), js(*spec))
    resharded[repr(spec)] = [
        np.asarray(r).tobytes() == xv.tobytes(),
        shards(r) == shards(jr),
        r.sharding == fs(*spec),
    ]
facts["reshard"] = resharded
facts["reshard_same_is_identity"] = fn.device_put(x, fs("data")) is x
other_mesh = Mesh(np.array(devs[:4], dtype=object), ("x",))
r = fn.device_put(x, NamedSharding(other_mesh, P("x")))
facts["reshard_other_devices"] = [
    np.asarray(r).tobytes() == xv.tobytes(),
    sorted(d.id for d in r.devices()) == [0, 1, 2, 3],
    shards(r) == shards(jax.device_put(xv, JNamed(JMesh(np.array(jdevs[:4]), ("x",)), JP("x")))),
]
one = fn.device_put(x, devs[5])
facts["to_one_device"] = [
    type(one).__name__ == "Array",
    one.device.id == 5,
    np.asarray(one).tobytes() == xv.tobytes(),
]
rep = fn.device_put(xv, fs())
facts["replicated_to_one_device_no_copy"] = (
    fn.device_put(rep, devs[3]).buffer.unsafe_buffer_pointer()
    == rep.addressable_shards[
        [s.device.id for s in rep.addressable_shards].index(3)
    ].data.buffer.unsafe_buffer_pointer()
)
facts["device_put_none_keeps"] = fn.device_put(x) is x
quarter = fn.device_put(xv, NamedSharding(Mesh(np.array(devs[:4]), ("q",)), P()))
elsewhere = fn.device_put(quarter, devs[6])  # a whole block copied device to device
replicated_from_single = fn.device_put(fnp.asarray(xv), fs())
facts["device_to_device_copies"] = [
    elsewhere.device.id == 6,
    np.asarray(elsewhere).tobytes() == xv.tobytes(),
    replicated_from_single.is_fully_replicated,
    all(
        np.asarray(s.data).tobytes() == xv.tobytes()
        for s in replicated_from_single.addressable_shards
    ),
    shards(replicated_from_single) == shards(jax.device_put(xv, js())),
]

# a pytree of shardings, a prefix of the values' pytree
tree_in = {"w": xv, "b": [np.ones(8, np.float32), np.zeros(8, np.float32)], "step": 3}
tree_out = fn.device_put(tree_in, {"w": fs(None, "model"), "b": fs("data"), "step": None})
facts["tree_of_shardings"] = [
    tree_out["w"].sharding == fs(None, "model"),
    all(b.sharding == fs("data") for b in tree_out["b"]),
    type(tree_out["step"]).__name__ == "Array",
    np.asarray(tree_out["b"][0]).tolist() == [1.0] * 8,
]
facts["tree_prefix_error"] = error(lambda: fn.device_put({"w": xv}, {"v": fs()}))

# --- 4. eager operations on sharded arrays --------------------------------------------------
wv = rng.standard_normal((6, 4)).astype(np.float32)
yv = rng.standard_normal((8, 6)).astype(np.float32)
jx = jax.device_put(xv, js("data"))
wf = fn.device_put(wv, fs(None, "model"))
jw = jax.device_put(wv, js(None, "model"))
yf = fn.device_put(yv, fs("data"))
jy = jax.device_put(yv, js("data"))


def same_layout(f_out, j_out):
    return indices(f_out.sharding, f_out.shape) == indices(j_out.sharding, j_out.shape)


ops = {
    "sin": (lambda: fnp.sin(x), lambda: jnp.sin(jx), np.sin(xv)),
    "add": (lambda: x + yf, lambda: jx + jy, xv + yv),
    "add_scalar": (lambda: x * 2.0 + 1.0, lambda: jx * 2.0 + 1.0, xv * 2.0 + 1.0),
    "add_single_device": (lambda: x + fnp.asarray(yv), lambda: jx + jnp.asarray(yv), xv + yv),
    "add_numpy": (lambda: x + yv, lambda: jx + yv, xv + yv),
    "matmul": (lambda: x @ wf, lambda: jx @ jw, xv @ wv),
    "sum_all": (lambda: x.sum(), lambda: jx.sum(), xv.sum()),
    "sum_axis0": (lambda: x.sum(0), lambda: jx.sum(0), xv.sum(0)),
    "max_axis1": (lambda: x.max(1), lambda: jx.max(1), xv.max(1)),
    # jax's eager indexing replicates here; its jitted slice (what funcnet runs) splits
    "slice": (lambda: x[2:6], lambda: jax.jit(lambda a: a[2:6])(jx), xv[2:6]),
    "column": (lambda: x[:, 1], lambda: jx[:, 1], xv[:, 1]),
    "gather": (lambda: x[np.array([5, 0, 3])], lambda: jx[np.array([5, 0, 3])], xv[[5, 0, 3]]),
    "transpose": (lambda: x.T, lambda: jx.T, xv.T),
    "exp_mean": (lambda: fnp.exp(x).mean(), lambda: jnp.exp(jx).mean(), np.exp(xv).mean()),
}
eager = {}
for name, (f, j, expected) in ops.items():
    out, jout = f(), j()
    eager[name] = {
        "values": bool(np.allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-5)),
        "sharded_result": type(out).__name__ == "ShardedArray",
        "layout_as_jax": same_layout(out, jout),
        "sharding_type": type(out.sharding).__name__,
    }
facts["eager"] = eager
facts["eager_sin_keeps_spec"] = fnp.sin(x).sharding == fs("data")
facts["eager_matmul_spec"] = repr((x @ wf).sharding.spec)
# a second call with the same signature reuses the compiled program
from funcnet.backend import sharded as sharded_backend  # noqa: E402

n_programs = len(sharded_backend._programs)
fnp.sin(x)
facts["eager_cached"] = len(sharded_backend._programs) == n_programs

# the single-device fast path is untouched, and never answers for a sharded array of the
# same shape whose first device is the plain array's
from funcnet.backend import eager as eager_backend  # noqa: E402

plain = fnp.arange(8.0)
fnp.cos(plain)
n_fast = eager_backend.fast_path_size()
plain_out = fnp.cos(plain)
lookalike = fn.device_put(np.arange(8.0), NamedSharding(Mesh(np.array(devs[:4]), ("a",)), P("a")))
lookalike_out = fnp.cos(lookalike)
facts["fast_path"] = [
    type(plain_out) is fn.Array,
    eager_backend.fast_path_size() == n_fast > 0,
    plain.device == devs[0] == lookalike.sharding._device_list[0],
    type(lookalike_out).__name__ == "ShardedArray",
    bool(np.allclose(np.asarray(lookalike_out), np.cos(np.arange(8.0)))),
]

# mismatched device sets between arguments
left = fn.device_put(
    np.ones(8, np.float32), NamedSharding(Mesh(np.array(devs[:4]), ("a",)), P("a"))
)
right = fn.device_put(
    np.ones(8, np.float32), NamedSharding(Mesh(np.array(devs[4:]), ("a",)), P("a"))
)
facts["mismatch_error"] = error(lambda: left + right)
permuted = fn.device_put(
    np.ones(8, np.float32), NamedSharding(Mesh(np.array(devs[:4][::-1]), ("a",)), P("a"))
)
facts["mismatch_order_error"] = error(lambda: fnp.multiply(left, permuted))

# --- 5. bad input --------------------------------------------------------------------------
facts["axis_missing_error"] = error(lambda: NamedSharding(mesh, P("data", "expert")))
facts["duplicate_axis_error"] = error(lambda: NamedSharding(mesh, P("data", "data")))
facts["not_divisible_error"] = error(lambda: fn.device_put(np.ones((6, 4)), fs("data")))
facts["not_divisible_product_error"] = error(
    lambda: fn.device_put(np.ones((4, 4)), fs(("data", "model")))
)
facts["jax_refuses_too"] = error(lambda: jax.device_put(np.ones((6, 4)), js("data"))) is not None
facts["rank_error"] = error(lambda: fn.device_put(np.ones(8), fs("data", "model")))
facts["scalar_rank_error"] = error(lambda: fn.device_put(1.0, fs("data")))

facts["memory_kind_error"] = None
try:
    fn.device_put(np.ones((8, 6)), fs("data").with_memory_kind("pinned_host"))
except NotImplementedError as e:
    facts["memory_kind_error"] = str(e)
from funcnet.runtime import spmd  # noqa: E402

facts["block_shape_error"] = error(
    lambda: spmd.put_blocks([np.ones((4, 6), np.float32)] * 8, devs, (8, 6), np.float32, fs("data"))
)
facts["mesh_local"] = [mesh.local_devices == list(mesh.devices.flat), not mesh.is_multi_process]

# --- 5b. the put copies the host data: writing into it afterwards changes nothing ----------
host_writes = []
for spec in (P("data"), P(None, "model"), P()):
    for rows in (8, 16, 40, 128):
        h = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
        put = fn.device_put(h, NamedSharding(mesh, spec))
        h[:] = -1
        host_writes.append(np.array_equal(np.asarray(put), np.arange(rows * 4).reshape(rows, 4)))
facts["host_writes_do_not_reach_sharded"] = host_writes

# --- 6. a layout no PartitionSpec expresses: TiledSharding -------------------------------------
flat_mesh = Mesh(np.array(devs, dtype=object), ("a",))
reversed_layout = TileLayout(tuple(devs), (8,), 1, tuple(range(7, -1, -1)))
tiled = sharding_for_layout(reversed_layout, meshes=(flat_mesh,))
t = fn.device_put(np.arange(16, dtype=np.float32), tiled)
jt = jax.device_put(
    np.arange(16, dtype=np.float32),
    GSPMDSharding(
        xc.DeviceList(tuple(jdevs)), xc.HloSharding.from_string(tiled._to_hlo_sharding_text(1))
    ),
)
facts["tiled"] = [
    isinstance(tiled, TiledSharding),
    shards(t) == shards(jt),
    np.asarray(t).tolist() == list(range(16)),
    np.allclose(np.asarray(fnp.sin(t)), np.sin(np.arange(16))),
]
matched = sharding_for_layout(
    TileLayout(tuple(devs), (4, 1, 2), 1, NamedSharding(flat_mesh, P())._layout(3).assignment),
    meshes=(flat_mesh,),
)
facts["unmatched_is_tiled"] = type(matched).__name__
two_d = Mesh(np.array(devs, dtype=object).reshape(4, 2), ("data", "model"))
facts["matched_spec"] = repr(
    sharding_for_layout(NamedSharding(two_d, P("model", "data"))._layout(2), meshes=(two_d,)).spec
)

print(json.dumps(facts))
