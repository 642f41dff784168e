"""Training recipes on 8 devices (docs/sharding.md), `funcnet.train` with sharded state
and batches, and sharded checkpoints restored onto other meshes.

The multi-device facts come from ONE subprocess with 8 forced host devices
(tests/recipes_worker.py); each compares a sharded run with the same computation on
one device, or with jax + optax on the same shardings in that process. Argument checks
and the bad-input errors that need no second device run here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import optim, train
from funcnet.core.array import ShardedArray
from funcnet.sharding import Mesh, NamedSharding
from funcnet.sharding import PartitionSpec as P

WORKER = Path(__file__).with_name("recipes_worker.py")


@pytest.fixture(scope="module")
def facts():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    proc = subprocess.run(
        [sys.executable, str(WORKER)], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ran(facts, scenario):
    """The facts, after checking that the worker's scenario did not raise."""
    error = facts.get(f"{scenario}_error")
    if error is not None:
        pytest.fail(f"scenario {scenario} raised in the 8-device worker:\n{error}")
    return facts


# --- 1. recipes -----------------------------------------------------------------------------


def test_one_device_references_train(facts):
    assert ran(facts, "references")["ref_losses_fall"] == [True, True]


@pytest.mark.parametrize(
    "recipe, scenario",
    [("dp", "dp"), ("fsdp", "fsdp"), ("tp_mlp", "tp_mlp"), ("tp_attn", "tp_attn")],
)
def test_recipe_matches_one_device_and_jax(facts, recipe, scenario):
    f = ran(facts, scenario)
    assert f[f"{recipe}_losses_match"], f[f"{recipe}_losses"]  # vs 1 device and vs jax
    assert f[f"{recipe}_params_match_1dev"]
    assert f[f"{recipe}_opt_match_1dev"]  # Adam's moments and count
    assert f[f"{recipe}_params_match_jax"]


@pytest.mark.parametrize("recipe", ["dp", "fsdp", "tp_mlp", "tp_attn"])
def test_recipe_results_keep_the_out_shardings(facts, recipe):
    f = ran(facts, recipe)
    n_out, n_jax, n_expected = f[f"{recipe}_n_out"]
    assert n_out == n_jax == n_expected > 0
    assert all(f[f"{recipe}_out_shardings"]), f[f"{recipe}_out_shardings"]


def test_data_parallel_replicates_parameters_and_all_reduces_once(facts):
    f = ran(facts, "dp")
    assert f["dp_replicated"]
    ours, theirs = f["dp_collectives"]
    assert ours == theirs == {"all-reduce": 1}  # XLA combines the gradients' all-reduces


def test_data_parallel_with_explicit_pmean_in_shard_map(facts):
    f = ran(facts, "dp_shard_map")
    assert f["dp_shard_map_losses_match"]
    assert f["dp_shard_map_params_match_1dev"]
    assert f["dp_shard_map_opt_match_1dev"]
    assert f["dp_shard_map_all_reduce"] >= 1


def test_fsdp_each_device_holds_an_eighth(facts):
    f = ran(facts, "fsdp")
    assert f["fsdp_w_spec"] == ["PartitionSpec('data')", "PartitionSpec('data')", "PartitionSpec()"]
    assert len(f["fsdp_blocks"]) == 3 * 4  # params, mu, nu: 2 layers x (w, b)
    for path, (shape, blocks) in f["fsdp_blocks"].items():
        assert [b[0] for b in blocks] == list(range(8)), path  # device i: rows i/8 to (i+1)/8
        assert all(b[1] == [shape[0] // 8, *shape[1:]] for b in blocks), (path, blocks)
        assert all(b[2] for b in blocks), (path, blocks)  # == that slice of the 1-device result


def test_fsdp_collectives_match_jax(facts):
    ours, theirs = ran(facts, "fsdp")["fsdp_collectives"]
    assert ours == theirs
    assert ours.get("all-gather", 0) >= 1  # parameters gathered for the matmuls


@pytest.mark.parametrize("recipe, all_reduces", [("tp_mlp", 1), ("tp_attn", 2)])
def test_megatron_forward_all_reduces(facts, recipe, all_reduces):
    """One all-reduce over "model" per row-split matrix: the 2-layer MLP has one (layer
    1), the attention block two (wo and w2); groups {0,1},{2,3},... are the "model" pairs
    of the 4 x 2 mesh."""
    f = ran(facts, "megatron_forward")
    ours, theirs = f[f"{recipe}_fwd_collectives"]
    assert ours == theirs == {"all-reduce": all_reduces}
    groups, jax_groups = f[f"{recipe}_fwd_groups"]
    assert groups == jax_groups == ["{{0,1},{2,3},{4,5},{6,7}}"] * all_reduces
    assert f[f"{recipe}_fwd_values"]


@pytest.mark.parametrize("recipe", ["tp_mlp", "tp_attn"])
def test_tensor_parallel_step_collectives_match_jax(facts, recipe):
    ours, theirs = ran(facts, recipe)[f"{recipe}_step_collectives"]
    assert ours == theirs
    assert ours.get("all-reduce", 0) >= 2  # the forward's and the gradients'


# --- 2. funcnet.train ----------------------------------------------------------------------


def test_loader_lays_batches_out_over_the_mesh(facts):
    assert ran(facts, "fit_sharded")["loader_batch_spec"] == ["PartitionSpec('data')", 8]


def test_fit_on_8_devices_equals_1_device(facts):
    f = ran(facts, "fit_sharded")
    assert f["fit_history_match"], f["fit_history"]  # loss, mae and val_mse, per epoch
    assert f["fit_params_match"]
    assert f["fit_opt_match"]
    assert f["fit_steps"] == [8, 8]
    assert f["fit_state_specs"] == [
        "PartitionSpec('data')",
        "PartitionSpec('data')",
        "PartitionSpec()",
    ]


def test_make_step_accumulates_on_a_sharded_batch(facts):
    assert ran(facts, "fit_sharded")["accumulate_match"]


def test_fit_resumes_a_sharded_run_exactly(facts):
    f = ran(facts, "fit_sharded")
    assert f["resume_steps"] == [[4, 8], 8]  # saved at each epoch's end, resumed at 4
    assert f["resume_exact"]  # same bits as the uninterrupted 8-device run
    assert f["resume_history"][0] == f["resume_history"][1]
    assert f["resume_sharding"]


# --- 3. checkpoints ------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 4])
def test_checkpoint_from_8_devices_restores_onto_k(facts, k):
    r = ran(facts, "checkpoint_reshard")[f"restore_{k}"]
    assert r["bit_exact"]
    assert r["spec"] == "PartitionSpec('data', None)" == r["mu_spec"]
    assert r["mesh_ids"] == list(range(k))
    assert r["blocks"] == [[16 // k, 16]] * k
    assert r["step_replicated"]
    assert r["epoch"] == 2


def test_load_like_sharded_arrays(facts):
    exact, spec, n_shards, plain_type, plain_exact, one_type = ran(facts, "checkpoint_reshard")[
        "load_like"
    ]
    assert exact and spec == "PartitionSpec('data', None)" and n_shards == 4
    assert plain_type == "Array" and plain_exact  # without like=: one device, same values
    assert one_type == "Array"  # a NumPy template: the default device


def test_saved_file_holds_whole_tensors(facts):
    assert ran(facts, "checkpoint_reshard")["safetensors_whole"]


def test_device_overrides_like(facts):
    assert ran(facts, "checkpoint_reshard")["device_override"] == [True, 2]


def test_like_sharding_that_does_not_fit_is_named(facts):
    kind, message = ran(facts, "checkpoint_reshard")["odd_sharding_error"]
    assert kind == "ValueError"
    assert "['l0']['w']" in message and "'l0.w'" in message and "not divisible by 3" in message


# --- here, on one device: arguments and bad input -----------------------------------------


def test_save_refuses_an_array_spanning_other_processes(tmp_path, monkeypatch):
    mesh = Mesh(fn.devices()[:1], ("data",))
    x = fn.device_put(np.ones((2, 2), np.float32), NamedSharding(mesh, P("data")))
    assert type(x) is ShardedArray
    # One process cannot make such an array: pretend the mesh's device is another's.
    monkeypatch.setattr(NamedSharding, "is_fully_addressable", property(lambda self: False))
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match=r"\['w'\].*other processes.*multi-process"):
        fn.save(path, {"w": x})
    assert path.read_bytes() == b"old"  # the failed save left the file as it was


def test_load_rejects_a_bad_device_and_struct_sharding(tmp_path):
    path = tmp_path / "p.safetensors"
    fn.save(path, {"w": np.ones(2, np.float32)})
    with pytest.raises(TypeError, match="device must be a device"):
        fn.load(path, device="cpu:0")
    bad = {"w": fn.ShapeDtypeStruct((2,), np.float32, sharding="data")}
    with pytest.raises(TypeError, match=r"like= at \['w'\]: .sharding must be"):
        fn.load(path, like=bad)
    mesh = Mesh(fn.devices()[:1], ("data",))
    too_long = NamedSharding(mesh, P(None, "data"))  # two entries for a 1-d leaf
    with pytest.raises(ValueError, match=r"\['w'\] \(tensor 'w', float32\[2\]\).*device="):
        fn.load(path, device=too_long)


def test_load_places_single_device_leaves_by_like(tmp_path):
    path = tmp_path / "p.safetensors"
    values = {"w": np.arange(4, dtype=np.float32), "b": np.ones(2, np.float32)}
    fn.save(path, values)
    device = fn.devices()[-1]
    like = {
        "w": fn.ShapeDtypeStruct(
            (4,), np.float32, sharding=fn.sharding.SingleDeviceSharding(device)
        ),
        "b": fn.device_put(np.zeros(2, np.float32), device),
    }
    out = fn.load(path, like=like)
    assert out["w"].device == device and out["b"].device == device
    np.testing.assert_array_equal(np.asarray(out["w"]), values["w"])


def test_state_sharding_gives_moments_the_parameters_shardings():
    mesh = Mesh(fn.devices()[:1], ("data",))
    row = NamedSharding(mesh, P("data", None))
    params = {"w": fnp.ones((4, 2)), "b": fnp.zeros(2)}
    state = train.TrainState.create(params=params, tx=optim.adam(0.1), key=0)
    sh = train.state_sharding(state, {"w": row, "b": None})
    adam = sh.opt_state[0]
    assert adam.mu == {"w": row, "b": None} and adam.nu == {"w": row, "b": None}
    replicated = NamedSharding(mesh, P())
    assert adam.count == replicated and sh.step == replicated and sh.key == replicated
    assert sh.params == {"w": row, "b": None} and sh.tx is state.tx
    placed = fn.device_put(state, sh)
    assert placed.params["w"].sharding == row and placed.opt_state[0].mu["w"].sharding == row


def test_state_sharding_bad_input():
    mesh = Mesh(fn.devices()[:1], ("data",))
    state = train.TrainState.create(params={"w": fnp.ones(2)}, tx=optim.sgd(0.1))
    with pytest.raises(ValueError, match="params_sharding"):
        train.state_sharding(state, {"v": NamedSharding(mesh, P())})
    with pytest.raises(ValueError, match="no NamedSharding"):
        train.state_sharding(state, None)


def test_make_step_shardings_need_jit():
    mesh = Mesh(fn.devices()[:1], ("data",))
    with pytest.raises(ValueError, match="jit=True"):
        train.make_step(
            lambda p, b: fnp.sum(p["w"]), jit=False, batch_sharding=NamedSharding(mesh, P())
        )
