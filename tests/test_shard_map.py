"""fn.shard_map and the collectives on 8 devices, against jax's shard_map (in one worker
process: the device-count flag must be set before the runtime starts), and on one device
in-process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.sharding import Mesh
from funcnet.sharding import PartitionSpec as P

WORKER = os.path.join(os.path.dirname(__file__), "shard_map_worker.py")


@pytest.fixture(scope="module")
def results():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    proc = subprocess.run(
        [sys.executable, WORKER], capture_output=True, text=True, env=env, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CHECKS = [
    "values_eager",
    "values_jit",
    "grad_all_collectives",
    "pmax_pmin_values",
    "collective_psum",
    "collective_psum2",
    "collective_pmean",
    "collective_all_gather",
    "collective_all_gather_tiled",
    "collective_psum_scatter",
    "collective_ppermute",
    "collective_all_to_all",
    "collective_axis_index",
    "data_parallel_grad_equals_unsharded",
    "replicated_param_grad_sums_over_devices",
    "vmap_of_shard_map",
    "shard_map_of_vmap",
    "scan_and_checkpoint_in_body_grad",
    "check_vma_false_values_and_grad",
    "out_spec_replication_error",
    "unbound_axis_error",
    "lowering_ops",
    "cond_and_fori_in_body_grad",
    "vmap_axis_name_around_shard_map",
    "jit_vmap_grad_of_shard_map",
    "indivisible_dimension_error",
    "pytree_arguments_and_outputs",
    "checkpoint_around_shard_map_jit",
    "grad_inside_body_with_explicit_pvary",
    "grad_inside_body_of_replicated_param_matches_jax",
    "eager_control_flow_around_shard_map",
]


@pytest.mark.parametrize("name", CHECKS)
def test_eight_devices(results, name):
    assert results.get(name) is True, results.get(name, "check missing from the worker")


# --- one device, in-process ---------------------------------------------------------------


def one_device_mesh():
    return Mesh(fn.devices()[:1], ("data",))


def test_one_device_shard_map_values_and_grad():
    mesh = one_device_mesh()
    w = np.float32(0.5)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)

    def loss(w, x):
        f = fn.shard_map(
            lambda w, x: fn.lax.pmean((fnp.tanh(x * w) ** 2).sum(), "data"),
            mesh=mesh,
            in_specs=(P(), P("data")),
            out_specs=P(),
        )
        return f(w, x)

    ref = float((np.tanh(x * w) ** 2).sum())
    assert np.isclose(float(loss(w, x)), ref, rtol=1e-5)
    g = fn.grad(loss)(w, x)
    t = np.tanh(x * w)
    assert np.isclose(float(g), float((2 * t * (1 - t**2) * x).sum()), rtol=1e-4)


def test_body_program_marks_replication():
    mesh = one_device_mesh()
    f = fn.shard_map(
        lambda w, x: fn.lax.psum(x * w, "data"), mesh=mesh, in_specs=(P(), P("data")), out_specs=P()
    )
    text = str(fn.make_jaxpr(f)(1.0, fnp.ones(4)))
    assert "pvary" in text and "psum_invariant" in text
    f2 = fn.shard_map(
        lambda x: fn.lax.psum(x, "data"),
        mesh=mesh,
        in_specs=P("data"),
        out_specs=P(),
        check_vma=False,
    )
    assert "psum_invariant" not in str(fn.make_jaxpr(f2)(fnp.ones(4)))


def test_bad_specs():
    mesh = one_device_mesh()
    with pytest.raises(ValueError, match="lacks"):
        fn.shard_map(lambda x: x, mesh=mesh, in_specs=P("model"), out_specs=P())(fnp.ones(4))
    with pytest.raises(ValueError, match="replicated"):
        fn.shard_map(lambda x: x, mesh=mesh, in_specs=P("data"), out_specs=P())(fnp.ones(4))


def test_unbound_axis_names_axis_and_line():
    with pytest.raises(NameError) as info:
        fn.lax.psum(fnp.ones(2), "data")
    msg = str(info.value)
    assert "'data'" in msg and "test_shard_map.py" in msg and "none is bound" in msg
    with pytest.raises(NameError, match="bound axis names here are \\('i',\\)"):
        fn.vmap(lambda v: fn.lax.axis_index("j"), axis_name="i")(fnp.ones(3))


def test_closed_over_arrays_are_read_at_each_call():
    mesh = one_device_mesh()
    scale = {"w": fnp.ones(4)}
    f = fn.shard_map(lambda x: x * scale["w"], mesh=mesh, in_specs=P("data"), out_specs=P("data"))
    np.testing.assert_allclose(f(fnp.ones(4)), np.ones(4))
    scale["w"] = fnp.full(4, 3.0)
    np.testing.assert_allclose(f(fnp.ones(4)), np.full(4, 3.0))
