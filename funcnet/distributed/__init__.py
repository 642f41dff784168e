"""Multi-process runs, as `jax.distributed`: one process per host (or per group of
devices), all joined into one run by the runtime's own coordination service.

Every process calls `initialize` once, before anything else touches the runtime; from
then on `fn.devices()` lists every process's devices (the global mesh), while
`fn.local_devices()` lists the ones this process addresses, and `fn.process_index()` /
`fn.process_count()` say which process this is. A jitted program over a mesh of all the
devices then runs on every process at once (each process calls it with its own part of
the inputs), and XLA's collectives cross the processes (gloo over TCP on CPU).

The coordinator (process 0) and the other processes find each other through
`coordinator_address`; the arguments may instead come from the environment:
`FUNCNET_COORDINATOR_ADDRESS`, `FUNCNET_NUM_PROCESSES`, `FUNCNET_PROCESS_ID`,
`FUNCNET_LOCAL_DEVICE_IDS`, or from a SLURM step (`srun`: `SLURM_STEP_NODELIST`,
`SLURM_NTASKS`, `SLURM_PROCID`, `SLURM_JOB_ID`), or, for the process id only, from a
Kubernetes indexed Job (`JOB_COMPLETION_INDEX`). See docs/distributed.md.
"""

import os
from collections.abc import Sequence

from funcnet.distributed.process_local import make_array_from_process_local_data
from funcnet.runtime import distributed as _runtime

__all__ = ["initialize", "is_initialized", "make_array_from_process_local_data", "shutdown"]

# SLURM's port choice as jax's: one port per job in the top 4096 ports, so that the
# processes of a step agree on it without talking.
_SLURM_PORT_BASE = 65536 - 4096


def _slurm_first_host(node_list: str) -> str:
    """The first host of a SLURM node list: "node[001-004,007],gpu2" -> "node001"."""
    cut = next((i for i, ch in enumerate(node_list) if ch in ",["), len(node_list))
    if cut == len(node_list) or node_list[cut] == ",":  # "node001" or "node001,gpu2"
        return node_list[:cut]
    ranges = node_list[cut + 1 :]  # "001-004,007],gpu2"
    end = next(i for i, ch in enumerate(ranges) if ch in ",-]")
    return node_list[:cut] + ranges[:end]


def _from_environment(coordinator_address, num_processes, process_id, local_device_ids):
    """Fill the arguments left None from FUNCNET_* variables, then a SLURM step, then a
    Kubernetes indexed Job (process id only)."""
    env = os.environ
    coordinator_address = coordinator_address or env.get("FUNCNET_COORDINATOR_ADDRESS")
    if num_processes is None and env.get("FUNCNET_NUM_PROCESSES"):
        num_processes = _env_int("FUNCNET_NUM_PROCESSES")
    if process_id is None and env.get("FUNCNET_PROCESS_ID"):
        process_id = _env_int("FUNCNET_PROCESS_ID")
    if local_device_ids is None and env.get("FUNCNET_LOCAL_DEVICE_IDS"):
        local_device_ids = _env_ints("FUNCNET_LOCAL_DEVICE_IDS")
    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID")
    if all(v in env for v in slurm):
        if coordinator_address is None:
            port = _env_int("SLURM_JOB_ID") % 4096 + _SLURM_PORT_BASE
            coordinator_address = f"{_slurm_first_host(env['SLURM_STEP_NODELIST'])}:{port}"
        if num_processes is None:
            num_processes = _env_int("SLURM_NTASKS")
        if process_id is None:
            process_id = _env_int("SLURM_PROCID")
    if process_id is None and env.get("JOB_COMPLETION_INDEX"):
        process_id = _env_int("JOB_COMPLETION_INDEX")
    return coordinator_address, num_processes, process_id, local_device_ids


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def _env_ints(name: str) -> list[int]:
    """The comma-separated integers of an environment variable ("0,1")."""
    value = os.environ[name]
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r} is not a comma-separated list of integers"
        ) from None


def _check(coordinator_address, num_processes, process_id, local_device_ids, timeout):
    if coordinator_address is None:
        raise ValueError(
            "funcnet.distributed.initialize: no coordinator_address: pass one "
            "('host:port' of process 0) or set FUNCNET_COORDINATOR_ADDRESS"
        )
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
        raise ValueError(
            "funcnet.distributed.initialize: coordinator_address must be 'host:port', "
            f"got {coordinator_address!r}"
        )
    port = coordinator_address.rsplit(":", 1)[1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"funcnet.distributed.initialize: coordinator_address {coordinator_address!r} "
            "has no valid port (1..65535)"
        )
    for name, value in (("num_processes", num_processes), ("process_id", process_id)):
        if value is None:
            raise ValueError(
                f"funcnet.distributed.initialize: {name} is not set: pass it or set "
                f"FUNCNET_{name.upper()}"
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(
                f"funcnet.distributed.initialize: {name} must be an int, got "
                f"{type(value).__name__} {value!r}"
            )
    if num_processes < 1:
        raise ValueError(
            f"funcnet.distributed.initialize: num_processes must be >= 1, got {num_processes}"
        )
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"funcnet.distributed.initialize: process_id must be in 0..{num_processes - 1} "
            f"(num_processes={num_processes}), got {process_id}"
        )
    if local_device_ids is not None and not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in local_device_ids
    ):
        raise ValueError(
            "funcnet.distributed.initialize: local_device_ids must be non-negative ints, "
            f"got {local_device_ids!r}"
        )
    if not timeout > 0:
        raise ValueError(
            f"funcnet.distributed.initialize: initialization_timeout must be > 0 seconds, "
            f"got {timeout!r}"
        )


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    local_device_ids: int | Sequence[int] | None = None,
    *,
    initialization_timeout: float = 300,
    heartbeat_timeout_seconds: int = 100,
    shutdown_timeout_seconds: int = 300,
    coordinator_bind_address: str | None = None,
) -> None:
    """Joins this process to a multi-process run, as `jax.distributed.initialize`.

    Call it once in every process, right after `import funcnet` and before any array,
    computation or device query. Process 0 starts the runtime's coordination service
    on the coordinator's port; every process (process 0 included) connects to it and
    waits until all `num_processes` have connected. Afterwards the runtime's client
    spans the processes: `fn.devices()` lists every process's devices in process order,
    `fn.local_devices()` this process's, and programs compiled over all the devices
    run on every process together, with collectives between the processes (gloo over
    TCP on CPU). Arguments left None are read from the environment (module docstring).

    Args:
      coordinator_address: "host:port" of process 0, the same in every process; the
        port must be free on that host and reachable from the others.
      num_processes: how many processes the run has (>= 1).
      process_id: this process's index, 0..num_processes-1, distinct per process.
      local_device_ids: the accelerator ids this process uses (e.g. `[0]` for one GPU
        per process), as jax's; checked, but the CPU client (the only one built for
        now) has no use for it.
      initialization_timeout: seconds to wait for the coordinator and every process
        to connect before raising.
      heartbeat_timeout_seconds: after this long without a heartbeat from a process,
        the coordinator declares it dead and every process of the run ends.
      shutdown_timeout_seconds: how long `shutdown` (and the exit of the process) waits
        for the other processes to shut down too.
      coordinator_bind_address: the address process 0's service listens on; default
        every interface ("[::]") at the coordinator's port.

    Returns:
      None.

    Raises:
      ValueError: an argument is missing or out of range (process_id outside
        0..num_processes-1, num_processes < 1, an address without a port).
      TypeError: num_processes or process_id is not an int.
      RuntimeError: called twice, or after the runtime already started (an array or a
        device query came first).
      TimeoutError: the coordinator was not reachable, or not every process
        connected, within `initialization_timeout` (the message names the address).
      OSError: process 0 could not start the service (the port is in use).
      NotImplementedError: accelerator (GPU/TPU) plugins are installed and the run is
        not restricted to the CPU: multi-process runs build the runtime's CPU client
        only, for now (set `JAX_PLATFORMS=cpu`).

    Example:
      In each of two processes (process_id 0 and 1), before anything else:

      >>> fn.distributed.initialize("10.0.0.1:1234", 2, process_id=0)  # doctest: +SKIP
      >>> fn.process_count(), len(fn.devices()) // len(fn.local_devices())  # doctest: +SKIP
      (2, 2)
    """
    if isinstance(local_device_ids, int) and not isinstance(local_device_ids, bool):
        local_device_ids = [local_device_ids]
    args = _from_environment(coordinator_address, num_processes, process_id, local_device_ids)
    _check(*args, initialization_timeout)
    coordinator_address, num_processes, process_id, _ = args
    _runtime.start(
        coordinator_address,
        num_processes,
        process_id,
        initialization_timeout=initialization_timeout,
        heartbeat_timeout_seconds=heartbeat_timeout_seconds,
        shutdown_timeout_seconds=shutdown_timeout_seconds,
        coordinator_bind_address=coordinator_bind_address,
    )


def is_initialized() -> bool:
    """Whether this process joined a multi-process run, as
    `jax.distributed.is_initialized`.

    Returns:
      True between `initialize` and `shutdown`.

    Example:
      >>> fn.distributed.is_initialized()
      False
    """
    return _runtime.is_started()


def shutdown() -> None:
    """Leaves the multi-process run, as `jax.distributed.shutdown`: waits (up to
    `shutdown_timeout_seconds`) for the other processes to shut down too, then
    disconnects; on process 0 it also stops the coordination service. Does nothing
    when the process is not in a run. It also runs at the exit of the process.

    Arrays made during the run stay readable, but computations that span the
    processes no longer work, and a process cannot join a second run.

    Returns:
      None.
    """
    _runtime.stop()
