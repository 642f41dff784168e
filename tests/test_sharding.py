"""funcnet.sharding: Mesh, PartitionSpec, NamedSharding, sharded Arrays, fn.device_put with
shardings, eager operations on sharded arrays.

The classes are checked in this process (a one-device mesh, and layouts over stand-in
devices against hand-derived block maps); everything that needs several devices runs in
ONE subprocess with 8 forced host devices (tests/sharding_worker.py), which compares with
jax's NamedSharding / device_put / addressable_shards in the same process."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.runtime.layout import TileLayout
from funcnet.sharding import Mesh, NamedSharding, SingleDeviceSharding, TiledSharding
from funcnet.sharding import PartitionSpec as P
from funcnet.sharding.named import sharding_for_layout

WORKER = os.path.join(os.path.dirname(__file__), "sharding_worker.py")


class FakeDevice:
    """A stand-in device: the layout code reads only id, platform and process_index."""

    platform = "cpu"
    process_index = 0

    def __init__(self, i):
        self.id = i

    def __repr__(self):
        return f"FakeDevice({self.id})"


FAKE = [FakeDevice(i) for i in range(8)]


# --- PartitionSpec ----------------------------------------------------------------------------


def test_partition_spec_is_a_tuple_with_canonical_entries():
    spec = P("data", None, ("a", "b"), ("c",), ())
    assert isinstance(spec, tuple)
    assert tuple(spec) == ("data", None, ("a", "b"), "c", None)
    assert spec.axes_of(0) == ("data",) and spec.axes_of(1) == () and spec.axes_of(2) == ("a", "b")
    assert spec.axes_of(9) == ()  # past the last entry: not split
    assert spec.mesh_axes() == ("data", "a", "b", "c")
    assert repr(P("x", None)) == "PartitionSpec('x', None)"
    assert P("x") == P("x") and hash(P("x")) == hash(P("x")) and P("x") != P("y")
    assert P("x") + (None,) == P("x", None)
    assert pickle.loads(pickle.dumps(P("x", ("a", "b")))) == P("x", ("a", "b"))


@pytest.mark.parametrize("bad", [3, 1.5, ("a", 2), object()])
def test_partition_spec_rejects_bad_entries(bad):
    with pytest.raises(TypeError, match="PartitionSpec entry 1"):
        P("x", bad)


# --- Mesh -------------------------------------------------------------------------------------


def test_mesh_of_one_real_device():
    d = fn.devices()[0]
    mesh = Mesh([d], "data")
    assert mesh.axis_names == ("data",) and mesh.shape == {"data": 1} and mesh.size == 1
    assert mesh.devices.dtype == object and mesh.devices.shape == (1,)
    assert mesh.device_ids.tolist() == [d.id] and mesh.device_list == (d,)
    assert mesh.local_devices == [d] and not mesh.is_multi_process
    assert mesh == Mesh(np.array([d]), ("data",)) and hash(mesh) == hash(Mesh([d], ("data",)))
    assert mesh != Mesh([d], ("batch",))
    assert repr(mesh) == "Mesh('data': 1)"


def test_mesh_grid_shape_order_and_equality():
    grid = np.array(FAKE, dtype=object).reshape(4, 2)
    mesh = Mesh(grid, ("data", "model"))
    assert mesh.shape == {"data": 4, "model": 2} and mesh.axis_sizes == (4, 2)
    assert list(mesh.shape) == ["data", "model"]
    assert mesh.device_ids.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    permuted = Mesh(grid[::-1], ("data", "model"))
    assert permuted != mesh
    assert "device_ids=[[6, 7], [4, 5], [2, 3], [0, 1]]" in repr(permuted)
    assert Mesh(grid, ("data", "model")) == mesh


@pytest.mark.parametrize(
    "devices, names, error, match",
    [
        (FAKE, ("a", "b"), ValueError, r"2 axis names \('a', 'b'\) for a device grid of rank 1"),
        (np.array(FAKE).reshape(2, 4), ("a", "a"), ValueError, "axis names must be distinct"),
        ([FAKE[0], FAKE[0]], ("a",), ValueError, "a device appears twice"),
        ([FAKE[0], "cpu:1"], ("a",), TypeError, "expected runtime devices"),
        (FAKE, (3,), TypeError, "axis names must be str"),
        ([], ("a",), ValueError, "empty"),
    ],
)
def test_mesh_rejects_bad_input(devices, names, error, match):
    with pytest.raises(error, match=match):
        Mesh(devices, names)


# --- NamedSharding: layouts (against block maps derived by hand) -----------------------------

MESH_42 = Mesh(np.array(FAKE, dtype=object).reshape(4, 2), ("data", "model"))


def _blocks(sharding, shape):
    """{device id: (start, stop) per dimension} from a sharding's index map."""
    return {
        d.id: tuple(s.indices(n)[:2] for s, n in zip(idx, shape))
        for d, idx in sharding.devices_indices_map(shape).items()
    }


def test_named_sharding_rows_over_data():
    s = NamedSharding(MESH_42, P("data"))
    # mesh position (i, j) = device 2 i + j holds row block i, all columns
    expected = {2 * i + j: ((2 * i, 2 * i + 2), (0, 6)) for i in range(4) for j in range(2)}
    assert _blocks(s, (8, 6)) == expected
    assert s.shard_shape((8, 6)) == (2, 6)
    assert s._to_hlo_sharding_text(2) == "{devices=[4,1,2]<=[8] last_tile_dim_replicate}"
    assert s._replica_ids(2) == [0, 1] * 4
    idx = s.devices_indices_map((8, 6))[FAKE[3]]
    assert idx == (slice(2, 4), slice(None))  # slice(None) where not split, as jax


def test_named_sharding_columns_over_model_and_2d():
    s = NamedSharding(MESH_42, P(None, "model"))
    expected = {2 * i + j: ((0, 8), (3 * j, 3 * j + 3)) for i in range(4) for j in range(2)}
    assert _blocks(s, (8, 6)) == expected
    assert s._to_hlo_sharding_text(2) == ("{devices=[1,2,4]<=[4,2]T(1,0) last_tile_dim_replicate}")
    assert s._replica_ids(2) == [0, 0, 1, 1, 2, 2, 3, 3]
    both = NamedSharding(MESH_42, P("model", "data"))
    expected = {
        2 * i + j: ((4 * j, 4 * j + 4), (2 * i, 2 * i + 2)) for i in range(4) for j in range(2)
    }
    assert _blocks(both, (8, 8)) == expected
    assert both._to_hlo_sharding_text(2) == "{devices=[2,4]<=[4,2]T(1,0)}"


def test_named_sharding_several_axes_on_one_dimension_major_first():
    s = NamedSharding(MESH_42, P(("model", "data")))
    # block index = model position * 4 + data position
    expected = {2 * i + j: ((j * 4 + i, j * 4 + i + 1),) for i in range(4) for j in range(2)}
    assert _blocks(s, (8,)) == expected
    assert s.shard_shape((8,)) == (1,)


def test_named_sharding_replicated_and_size_one_axes():
    rep = NamedSharding(MESH_42, P())
    assert rep.is_fully_replicated and rep._to_hlo_sharding_text(2) == "{replicated}"
    assert all(b == ((0, 8), (0, 6)) for b in _blocks(rep, (8, 6)).values())
    assert rep._replica_ids(2) == list(range(8))
    mesh_18 = Mesh(np.array(FAKE, dtype=object).reshape(1, 8), ("one", "eight"))
    assert NamedSharding(mesh_18, P("one")).is_fully_replicated  # a size-1 axis splits nothing
    assert not NamedSharding(mesh_18, P("eight")).is_fully_replicated


def test_named_sharding_properties_eq_hash_repr():
    s = NamedSharding(MESH_42, P("data", None))
    assert s == NamedSharding(MESH_42, P("data"))  # trailing None entries aside
    assert hash(s) == hash(NamedSharding(MESH_42, P("data")))
    assert s != NamedSharding(MESH_42, P("model"))
    assert s.device_set == set(FAKE) and s.num_devices == 8
    assert s._device_list == tuple(FAKE)
    assert s.mesh is MESH_42 and s.spec == P("data", None)
    assert NamedSharding(MESH_42, ("data",)).spec == P("data")  # a tuple is converted
    assert NamedSharding(MESH_42, None).spec == P()
    assert repr(s) == (
        "NamedSharding(mesh=Mesh('data': 4, 'model': 2), spec=PartitionSpec('data', None))"
    )
    assert s.is_equivalent_to(NamedSharding(MESH_42, P("data")), 2)


@pytest.mark.parametrize(
    "spec, match",
    [
        (P("data", "expert"), r"names mesh axis 'expert' \(dimension 1\), which the mesh lacks"),
        (P("batch"), r"has axes \('data', 'model'\)"),
        (P("data", "data"), "uses mesh axis 'data' twice"),
        (P(("model", "data"), "model"), "uses mesh axis 'model' twice"),
    ],
)
def test_named_sharding_rejects_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        NamedSharding(MESH_42, spec)


def test_named_sharding_rejects_non_mesh_and_bad_spec_types():
    with pytest.raises(TypeError, match=r"expected a funcnet\.sharding\.Mesh"):
        NamedSharding("mesh", P())
    with pytest.raises(TypeError, match="expected a PartitionSpec"):
        NamedSharding(MESH_42, "data")


@pytest.mark.parametrize(
    "spec, shape, match",
    [
        (
            P("data"),
            (6, 4),
            r"dimension 0 of shape \(6, 4\) \(size 6\) into 4 blocks over mesh "
            r"axis 'data' of size 4, but 6 is not divisible by 4: funcnet refuses uneven blocks, "
            r"as jax.device_put does",
        ),
        (
            P(None, ("data", "model")),
            (3, 12),
            r"dimension 1 .* 'data' of size 4 x 'model' of "
            "size 2, but 12 is not divisible by 8",
        ),
        (P("data", "model"), (8,), r"has 2 entries but the array has rank 1 \(shape \(8,\)\)"),
        (P("data"), (), r"for a scalar use PartitionSpec\(\)"),
    ],
)
def test_named_sharding_check_refuses_shapes(spec, shape, match):
    s = NamedSharding(MESH_42, spec)
    with pytest.raises(ValueError, match=match):
        s.check(shape)
    with pytest.raises(ValueError, match=match):
        s.shard_shape(shape)


def test_layout_matching_finds_specs_and_falls_back_to_tiled():
    for spec in [P("data"), P(None, "model"), P("model", "data"), P(("data", "model")), P()]:
        layout = NamedSharding(MESH_42, spec)._layout(2)
        found = sharding_for_layout(layout, meshes=(MESH_42,))
        assert isinstance(found, NamedSharding)
        assert found._layout(2) == layout
    candidate = NamedSharding(MESH_42, P("data", None))
    assert sharding_for_layout(candidate._layout(2), candidates=(candidate,)) is candidate
    reversed_rows = TileLayout(tuple(FAKE), (8,), 1, tuple(range(7, -1, -1)))
    tiled = sharding_for_layout(reversed_rows, meshes=(Mesh(FAKE, "a"),))
    assert isinstance(tiled, TiledSharding)
    assert _blocks(tiled, (16,))[7] == ((0, 2),) and _blocks(tiled, (16,))[0] == ((14, 16),)
    assert tiled._to_hlo_sharding_text(1) == "{devices=[8]7,6,5,4,3,2,1,0}"
    with pytest.raises(ValueError, match="not divisible by 8"):
        tiled.check((12,))


# --- on this process's one device ------------------------------------------------------------


def test_device_put_with_a_one_device_named_sharding():
    mesh = Mesh(fn.devices()[:1], ("data",))
    s = NamedSharding(mesh, P("data"))
    value = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = fn.device_put(value, s)
    assert x.sharding == s and x.is_fully_replicated and x.is_fully_addressable
    assert x.device == fn.devices()[0] and x.devices() == {fn.devices()[0]}
    assert np.asarray(x).tobytes() == value.tobytes()
    (shard,) = x.addressable_shards
    assert shard.index == (slice(None), slice(None)) and shard.replica_id == 0
    assert np.asarray(shard.data).tobytes() == value.tobytes()
    y = fnp.sin(x) + 1.0
    np.testing.assert_allclose(np.asarray(y), np.sin(value) + 1, rtol=1e-6)
    assert y.sharding == s
    back = fn.device_put(y, fn.devices()[0])
    assert type(back) is fn.Array and back.sharding == SingleDeviceSharding(fn.devices()[0])


def test_single_device_array_shards():
    x = fnp.arange(6.0).reshape(2, 3)
    (shard,) = x.addressable_shards
    assert shard.device == x.device and shard.index == (slice(None), slice(None))
    assert shard.replica_id == 0 and shard.data is x
    assert x.sharding.devices_indices_map((2, 3)) == {x.device: (slice(None), slice(None))}


# --- eight devices, one subprocess, jax as the reference -------------------------------------


@pytest.fixture(scope="module")
def facts():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env.pop("FUNCNET_ENABLE_X64", None)
    proc = subprocess.run(
        [sys.executable, WORKER], capture_output=True, text=True, env=env, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_layouts_equal_jax_on_every_mesh_and_spec(facts):
    # HloSharding, per-device index map, shard shape, replication, replica ids, device set
    assert facts["n_layouts"] > 80
    assert facts["layout_mismatches"] == []


def test_device_put_shards_and_values_equal_jax(facts):
    assert len(facts["put"]) == 25
    bad = {k: v for k, v in facts["put"].items() if not all(v.values())}
    assert bad == {}


def test_sharded_array_attributes(facts):
    assert facts["array_attrs"] == {k: True for k in facts["array_attrs"]}
    assert facts["weak_scalar"] == [True, True, True]
    assert facts["zero_d"] == [True] * 5  # 0-d arrays keep their shape in every block


def test_multi_device_array_has_no_single_device(facts):
    message = facts["device_error"]
    assert message.startswith("ValueError: this Array (f32[8,6]) is laid out over 8 devices")
    assert "use .sharding or .devices()" in message
    assert facts["addressable_data_error"].startswith("IndexError: addressable_data(8)")


def test_sharded_put_copies_the_host_data(facts):
    # contiguous blocks are views of the user's array: the runtime would alias them
    assert facts["host_writes_do_not_reach_sharded"] == [True] * 12


def test_device_put_from_a_single_device_array(facts):
    assert facts["from_single_device"] is True


def test_resharding_matches_jax(facts):
    assert facts["reshard"] == {k: [True, True, True] for k in facts["reshard"]}
    assert len(facts["reshard"]) == 4
    assert facts["reshard_same_is_identity"] is True
    assert facts["reshard_other_devices"] == [True, True, True]


def test_sharded_to_one_device(facts):
    assert facts["to_one_device"] == [True, True, True]
    assert facts["replicated_to_one_device_no_copy"] is True
    assert facts["device_put_none_keeps"] is True
    assert facts["device_to_device_copies"] == [True] * 5


def test_device_put_with_a_tree_of_shardings(facts):
    assert facts["tree_of_shardings"] == [True, True, True, True]
    assert "must be a prefix of the pytree of values" in facts["tree_prefix_error"]


EAGER_OPS = [
    "sin", "add", "add_scalar", "add_single_device", "add_numpy", "matmul", "sum_all",
    "sum_axis0", "max_axis1", "slice", "column", "gather", "transpose", "exp_mean",
]  # fmt: skip


@pytest.mark.parametrize("op", EAGER_OPS)
def test_eager_op_on_sharded_arrays(facts, op):
    result = facts["eager"][op]
    assert result["values"], "values differ from NumPy"
    assert result["sharded_result"]
    assert result["layout_as_jax"], "the compiled result layout differs from jax's"
    assert result["sharding_type"] == "NamedSharding"


def test_eager_results_carry_the_compiled_sharding(facts):
    assert facts["eager_sin_keeps_spec"] is True
    assert facts["eager_matmul_spec"] == "PartitionSpec('data', 'model')"
    assert facts["eager_cached"] is True


def test_single_device_fast_path_is_untouched(facts):
    assert facts["fast_path"] == [True, True, True, True, True]


def test_mismatched_device_sets_are_refused(facts):
    message = facts["mismatch_error"]
    assert message.startswith("ValueError: add: arguments 0 and 1 are laid out over different")
    assert "device ids [0, 1, 2, 3]" in message and "device ids [4, 5, 6, 7]" in message
    message = facts["mismatch_order_error"]
    assert "the same devices in another order" in message and "[3, 2, 1, 0]" in message


def test_bad_input_errors_in_the_multi_device_process(facts):
    assert "names mesh axis 'expert'" in facts["axis_missing_error"]
    assert "has axes ('data', 'model')" in facts["axis_missing_error"]
    assert "uses mesh axis 'data' twice" in facts["duplicate_axis_error"]
    assert "(size 6) into 4 blocks over mesh axis 'data' of size 4" in facts["not_divisible_error"]
    assert "refuses uneven blocks, as jax.device_put does" in facts["not_divisible_error"]
    assert facts["jax_refuses_too"] is True
    assert "4 is not divisible by 8" in facts["not_divisible_product_error"]
    assert "has 2 entries but the array has rank 1" in facts["rank_error"]
    assert "for a scalar use PartitionSpec()" in facts["scalar_rank_error"]


def test_unsupported_memory_kind_and_wrong_blocks_are_refused(facts):
    assert "asks for memory kind 'pinned_host'" in facts["memory_kind_error"]
    assert "each block must have shape (2, 6)" in facts["block_shape_error"]
    assert facts["mesh_local"] == [True, True]


def test_layouts_no_spec_expresses(facts):
    assert facts["tiled"] == [True, True, True, True]
    assert facts["unmatched_is_tiled"] == "TiledSharding"
    assert facts["matched_spec"] == "PartitionSpec('model', 'data')"


def test_device_put_rejects_bad_placements():
    mesh = Mesh(fn.devices()[:1], ("a",))
    with pytest.raises(TypeError, match="got Mesh: Mesh"):
        fn.device_put(np.ones(2), mesh)  # a mesh is no placement (jax needs a sharding too)
    with pytest.raises(TypeError, match="got str: 'cpu'"):
        fn.device_put({"w": np.ones(2)}, {"w": "cpu"})
    with pytest.raises(ValueError, match="must be a prefix of the pytree of values"):
        fn.device_put({"w": np.ones(2)}, {"w": None, "b": None})
    s = NamedSharding(mesh, P("a"))
    out = fn.device_put({"w": np.ones(2), "b": [0.5, 1]}, {"w": s, "b": None})
    assert out["w"].sharding == s and float(out["b"][0]) == 0.5
