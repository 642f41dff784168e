"""funcnet.distributed: multi-process runs on the runtime's coordination service.

The multi-process facts come from fresh processes (tests/distributed_scenarios.py),
started together once for the module: two processes of one run with 4 CPU devices each,
and one process trying the bad-input cases that need a fresh runtime. The checks that
fail before anything starts (bad arguments, a runtime already started, the environment
variables) run here.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from distributed_scenarios import (
    LEARNING_RATE,
    PROCESS_LOCAL_CASES,
    STEPS,
    local_part,
    loss,
    problem,
    train,
)

import funcnet as fn
from funcnet import distributed
from funcnet import numpy as fnp
from funcnet.runtime import distributed as runtime
from funcnet.sharding import Mesh, NamedSharding
from funcnet.sharding import PartitionSpec as P

SCENARIOS = pathlib.Path(__file__).with_name("distributed_scenarios.py")
TIMEOUT = 60  # seconds for every scenario process together
ADDRESS = "127.0.0.1:1"  # for the checks that fail before connecting


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNCNET_", "SLURM_"))}
    env.pop("JOB_COMPLETION_INDEX", None)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    return env


@pytest.fixture(scope="module")
def runs():
    """Start every scenario process at once; return each one's JSON facts by name."""
    port = _free_port()
    commands = {  # name: (arguments, CPU devices per process)
        "pair0": (["pair", "0", str(port)], 4),
        "pair1": (["pair", "1", str(port)], 4),
        "errors": (["errors"], 8),  # then the single-process training on 8 devices
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(SCENARIOS), *args],
            env=_env(devices),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, devices) in commands.items()
    }
    outputs = {}
    deadline = time.monotonic() + TIMEOUT
    try:
        for name, proc in procs.items():
            outputs[name] = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs.values():  # a hung run must not outlive the test
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    facts = {}
    for name, (out, err) in outputs.items():
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert procs[name].returncode == 0 and lines, (
            f"scenario {name} exited {procs[name].returncode}:\n{out[-2000:]}\n{err[-4000:]}"
        )
        facts[name] = json.loads(lines[-1])
    return facts


# --- two processes, one run ------------------------------------------------------------


@pytest.mark.parametrize("pid", [0, 1])
def test_each_process_sees_all_devices_and_addresses_its_own(runs, pid):
    facts = runs[f"pair{pid}"]
    assert facts["initialized"] is True
    assert facts["process_index"] == pid and facts["process_count"] == 2
    assert facts["device_count"] == 8 and len(facts["devices"]) == 8
    assert facts["local_device_count"] == 4 and len(facts["local_devices"]) == 4
    # Global devices in process order; the local ones are this process's four.
    assert facts["device_processes"] == [0] * 4 + [1] * 4
    assert facts["local_devices"] == facts["devices"][4 * pid : 4 * pid + 4]
    assert facts["devices"] == runs[f"pair{1 - pid}"]["devices"]  # one global view


@pytest.mark.parametrize("pid", [0, 1])
def test_initialize_twice_is_refused(runs, pid):
    error = runs[f"pair{pid}"]["twice"]
    assert error["type"] == "RuntimeError"
    assert "already called" in error["message"] and f"process {pid} of 2" in error["message"]


def test_shutdown_leaves_the_run(runs):
    assert runs["pair0"]["after_shutdown"] is False and runs["pair1"]["after_shutdown"] is False


# --- data-parallel training over the 8 devices of the two processes ---------------------


def _assert_same_training(got, want, what):
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=2e-5, err_msg=what)
    for name in want["params"]:
        np.testing.assert_allclose(
            np.asarray(got["params"][name]),
            np.asarray(want["params"][name]),
            rtol=2e-5,
            atol=2e-6,
            err_msg=f"{what}: params[{name!r}]",
        )


@pytest.fixture(scope="module")
def one_device():
    """The same training on one CPU device (as the scenarios: no TF32 on a GPU), not
    sharded."""
    cpu = fn.devices("cpu")[0]
    losses, params = train(*fn.device_put(problem(), cpu))
    return {"losses": losses, "params": {k: np.asarray(v) for k, v in params.items()}}


@pytest.fixture(scope="module")
def jax_reference():
    """The same training in jax (value_and_grad and Adam's update written out)."""
    b1, b2, eps = 0.9, 0.999, 1e-8

    @jax.jit  # the whole run, one compile
    def run(params, x, y):
        m = jax.tree.map(jnp.zeros_like, params)
        v = jax.tree.map(jnp.zeros_like, params)
        losses = []
        for t in range(1, STEPS + 1):
            value, g = jax.value_and_grad(lambda p: loss(jnp, p, x, y))(params)
            losses.append(value)
            m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            c1, c2 = 1 - b1**t, 1 - b2**t  # Adam's bias corrections
            params = jax.tree.map(
                lambda p, m, v, c1=c1, c2=c2: (
                    p - LEARNING_RATE * (m / c1) / (jnp.sqrt(v / c2) + eps)
                ),
                params,
                m,
                v,
            )
        return losses, params

    losses, params = run(*jax.device_put(problem(), jax.devices("cpu")[0]))
    return {"losses": np.asarray(losses), "params": {k: np.asarray(v) for k, v in params.items()}}


@pytest.mark.parametrize("pid", [0, 1])
def test_two_process_training_equals_the_single_process_8_device_run(runs, pid):
    _assert_same_training(
        runs[f"pair{pid}"], runs["errors"]["single"], f"process {pid} vs 1 process"
    )


@pytest.mark.parametrize("pid", [0, 1])
def test_two_process_training_equals_one_device_and_jax(runs, one_device, jax_reference, pid):
    _assert_same_training(runs[f"pair{pid}"], one_device, f"process {pid} vs one device")
    _assert_same_training(runs[f"pair{pid}"], jax_reference, f"process {pid} vs jax")
    assert runs[f"pair{pid}"]["losses"][-1] < runs[f"pair{pid}"]["losses"][0]  # it trains


@pytest.mark.parametrize("pid", [0, 1])
def test_each_process_puts_only_its_part_of_the_batch(runs, pid):
    # The other process's rows were nan in this process's copy of the batch: the equal,
    # finite results above show they were never read.
    facts = runs[f"pair{pid}"]
    assert facts["x_shard_devices"] == facts["local_devices"]
    assert np.isfinite(facts["losses"]).all()
    assert facts["params_replicated"] == [True] * 4


# --- global arrays from each process's part --------------------------------------------

# Per case: how the two processes' parts join (the axis, or None: replicated), and the
# block of device position k as (row block, row size, column block, column size) of the
# global array (size None: the whole dimension).
_JOIN = [0, 1, 0, None]


def _block(case, k):
    r, c = divmod(k, 2)  # the position on the (4, 2) mesh
    return [
        (slice(2 * k, 2 * k + 2), slice(None)),  # P("data") on 8 devices
        (slice(None), slice(2 * r, 2 * r + 2)),  # P(None, "data")
        (slice(4 * r, 4 * r + 4), slice(2 * c, 2 * c + 2)),  # P("data", "model")
        (slice(None), slice(None)),  # P()
    ][case]


@pytest.mark.parametrize("case", range(len(PROCESS_LOCAL_CASES)))
@pytest.mark.parametrize("pid", [0, 1])
def test_make_array_from_process_local_data_joins_the_processes_parts(runs, pid, case):
    _, _, local_shape = PROCESS_LOCAL_CASES[case]
    if _JOIN[case] is None:
        expected = local_part(0, local_shape)
    else:
        parts = [local_part(p, local_shape) for p in (0, 1)]
        expected = np.concatenate(parts, axis=_JOIN[case])
    facts = runs[f"pair{pid}"]
    got = facts["process_local"][case]
    assert tuple(got["shape"]) == expected.shape
    np.testing.assert_allclose(got["sum"], expected.sum(), rtol=1e-6)  # across processes
    assert [d for d, _ in got["blocks"]] == facts["local_devices"]
    for device, block in got["blocks"]:
        k = facts["devices"].index(device)
        np.testing.assert_array_equal(block, expected[_block(case, k)], err_msg=f"device {k}")


@pytest.mark.parametrize("pid", [0, 1])
def test_make_array_from_process_local_data_refuses_a_bad_local_shape(runs, pid):
    errors = runs[f"pair{pid}"]["process_local_errors"]
    assert errors["indivisible"]["type"] == "ValueError"
    assert "dimension 0 of the local data has 5 elements" in errors["indivisible"]["message"]
    assert "not divisible by the 4 blocks" in errors["indivisible"]["message"]
    assert errors["bad_global_shape"]["type"] == "ValueError"
    assert (
        "has 8 elements; it must be the global size 24 or this process's share 12"
        in errors["bad_global_shape"]["message"]
    )


def test_make_array_from_process_local_data_in_one_process_is_device_put(clean_env):
    sharding = NamedSharding(Mesh(np.array(fn.devices()), ("data",)), P("data"))
    data = np.arange(6.0 * fn.device_count(), dtype=np.float32).reshape(-1, 3)
    x = fn.make_array_from_process_local_data(sharding, data)
    np.testing.assert_array_equal(np.asarray(x), data)
    with pytest.raises(ValueError, match=r"global_shape \(99, 3\) differs"):
        fn.make_array_from_process_local_data(sharding, data, (99, 3))


# --- bad input in a fresh process ------------------------------------------------------


def test_unreachable_coordinator_times_out_with_a_clear_message(runs):
    facts = runs["errors"]
    error = facts["unreachable"]
    assert error["type"] == "TimeoutError"
    assert facts["unreachable_address"] in error["message"]
    assert "initialization_timeout=3" in error["message"]
    assert "nothing accepts connections there" in error["message"]
    assert 2.5 < facts["unreachable_seconds"] < 6  # the timeout, not a hang
    assert facts["initialized_after_failure"] is False


def test_a_coordinator_port_in_use_is_named(runs):
    facts = runs["errors"]
    error = facts["port_in_use"]
    assert error["type"] == "OSError"
    port = facts["busy_address"].rsplit(":", 1)[1]
    assert f"could not start the coordination service on [::]:{port}" in error["message"]
    assert "the port is in use" in error["message"]


# --- bad input caught before anything starts --------------------------------------------


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("FUNCNET_", "SLURM_")) or name == "JOB_COMPLETION_INDEX":
            monkeypatch.delenv(name)
    return monkeypatch


def test_initialize_after_the_runtime_started_is_refused(clean_env):
    fnp.ones(2).block_until_ready()  # the runtime is running in this process
    with pytest.raises(RuntimeError, match="before anything starts the runtime"):
        distributed.initialize("127.0.0.1:1", 2, 1, initialization_timeout=1)
    assert not distributed.is_initialized()


def test_accelerator_runs_are_refused_clearly(clean_env):
    clean_env.setattr(runtime, "_accelerator_plugins", lambda: ["xla_cuda12"])
    with pytest.raises(NotImplementedError, match=r"plugins \(xla_cuda12\).*JAX_PLATFORMS=cpu"):
        distributed.initialize(ADDRESS, 2, 1, initialization_timeout=1)


def test_a_cpu_only_run_ignores_accelerator_plugins(clean_env):
    clean_env.setenv("JAX_PLATFORMS", "cpu")
    assert runtime._accelerator_plugins() == []


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((ADDRESS, 2, 2), ValueError, r"process_id must be in 0\.\.1 \(num_processes=2\), got 2"),
        ((ADDRESS, 2, -1), ValueError, "got -1"),
        ((ADDRESS, 0, 0), ValueError, "num_processes must be >= 1, got 0"),
        ((ADDRESS, 2.0, 0), TypeError, "num_processes must be an int, got float"),
        ((ADDRESS, 2, "1"), TypeError, "process_id must be an int, got str"),
        ((ADDRESS, 2, True), TypeError, "process_id must be an int, got bool"),
        ((ADDRESS, 2, None), ValueError, "process_id is not set.*FUNCNET_PROCESS_ID"),
        ((ADDRESS, None, 0), ValueError, "num_processes is not set"),
        ((None, 2, 0), ValueError, "no coordinator_address"),
        (("host", 2, 0), ValueError, "must be 'host:port', got 'host'"),
        (("host:http", 2, 0), ValueError, "no valid port"),
        ((ADDRESS, 2, 0, [0, -1]), ValueError, r"local_device_ids .*\[0, -1\]"),
    ],
)
def test_bad_arguments_are_refused_before_connecting(clean_env, args, error, match):
    with pytest.raises(error, match=match):
        distributed.initialize(*args, initialization_timeout=1)
    assert not distributed.is_initialized()


def test_a_bad_timeout_is_refused(clean_env):
    with pytest.raises(ValueError, match="initialization_timeout must be > 0 seconds, got 0"):
        distributed.initialize(ADDRESS, 2, 0, initialization_timeout=0)


# --- the environment ------------------------------------------------------------------


def test_arguments_come_from_funcnet_variables(clean_env):
    clean_env.setenv("FUNCNET_COORDINATOR_ADDRESS", "10.1.2.3:4567")
    clean_env.setenv("FUNCNET_NUM_PROCESSES", "4")
    clean_env.setenv("FUNCNET_PROCESS_ID", "3")
    clean_env.setenv("FUNCNET_LOCAL_DEVICE_IDS", "0,1")
    got = distributed._from_environment(None, None, None, None)
    assert got == ("10.1.2.3:4567", 4, 3, [0, 1])
    # Explicit arguments win over the environment.
    assert distributed._from_environment("h:1", 2, 0, [5]) == ("h:1", 2, 0, [5])


def test_arguments_come_from_a_slurm_step(clean_env):
    clean_env.setenv("SLURM_JOB_ID", "123456")
    clean_env.setenv("SLURM_STEP_NODELIST", "gpu[007-010,012],cpu1")
    clean_env.setenv("SLURM_NTASKS", "5")
    clean_env.setenv("SLURM_PROCID", "2")
    port = 123456 % 4096 + 61440  # jax's rule: every task derives the same port
    assert distributed._from_environment(None, None, None, None) == (
        f"gpu007:{port}",
        5,
        2,
        None,
    )


@pytest.mark.parametrize(
    "node_list, first",
    [
        ("node001", "node001"),
        ("node001,node002", "node001"),
        ("node[001-004]", "node001"),
        ("node[003,007-009],x", "node003"),
        ("n[5]", "n5"),
    ],
)
def test_the_slurm_coordinator_is_the_first_host(node_list, first):
    assert distributed._slurm_first_host(node_list) == first


def test_the_process_id_comes_from_a_kubernetes_indexed_job(clean_env):
    clean_env.setenv("JOB_COMPLETION_INDEX", "7")
    assert distributed._from_environment("svc:1", 8, None, None) == ("svc:1", 8, 7, None)


def test_a_bad_environment_value_is_named(clean_env):
    clean_env.setenv("FUNCNET_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="FUNCNET_NUM_PROCESSES='two' is not an integer"):
        distributed.initialize(ADDRESS, process_id=0)
    clean_env.setenv("FUNCNET_LOCAL_DEVICE_IDS", "0,gpu1")
    with pytest.raises(ValueError, match="FUNCNET_LOCAL_DEVICE_IDS='0,gpu1' is not a comma"):
        distributed.initialize(ADDRESS, 2, 0)


def test_the_public_names(clean_env):
    assert fn.distributed is distributed
    assert not distributed.is_initialized()
    distributed.shutdown()  # not in a run: nothing to do
