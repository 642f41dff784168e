"""Multi-process runs on the runtime's own distributed client and coordination service
(the ones jax's multi-host runs use). The only module that touches jaxlib's distributed
runtime: process 0 starts the coordination service, every process connects a client to
it, and the runtime's CPU client is rebuilt multi-process over that client, with gloo
(TCP) collectives between the processes. funcnet adds no protocol of its own: the
runtime's client exchanges the device topology and keeps the processes' heartbeats."""

import atexit
import errno
import importlib.metadata
import importlib.util
import os
import pkgutil
import socket
import time

from jax._src.lib import xla_client as _xc

from funcnet.runtime import xla

_jaxlib = _xc._xla  # jaxlib's C++ extension: the distributed runtime's entry points


class _State:
    """What `start` made, kept for `stop` (one run per process, as in jax)."""

    service = None  # the coordination service (process 0 only)
    client = None  # this process's distributed runtime client
    process_id = 0
    num_processes = 1
    coordinator_address = None
    atexit_registered = False


state = _State()


def is_started() -> bool:
    return state.client is not None


def _wait_for_port(address: str, deadline: float) -> bool:
    """Whether `address` ("host:port") accepts TCP connections before `deadline`.

    A failed connect to the runtime's client would only be seen when its own timeout has
    run out (plus ~5 s of its retries), so the coordinator's port is probed first:
    an unreachable coordinator then fails at `initialization_timeout`, not later."""
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")  # an IPv6 literal "[::1]:1234"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            with socket.create_connection((host, int(port)), timeout=min(remaining, 1.0)):
                return True
        except OSError:
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))


def _check_bindable(bind: str):
    """Raise OSError if the service could not listen on `bind` ("host:port"): the port is
    in use, or the host is not an address of this machine.

    Checked before the runtime starts its service: jaxlib's service can crash the process
    (a segmentation fault, seen with jaxlib 0.10.2) instead of raising when it cannot
    bind. SO_REUSEADDR as gRPC sets it: a closed connection in TIME_WAIT does not count."""
    host, port = bind.rsplit(":", 1)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError:  # an address the resolver does not know: the runtime reports it
        return
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            why = (
                "the port is in use (another run, or another program, listens there): "
                "choose another port"
                if e.errno == errno.EADDRINUSE
                else e.strerror
            )
            raise OSError(
                e.errno,
                f"funcnet.distributed.initialize: process 0 could not start the "
                f"coordination service on {bind}: {why}",
            ) from None


def _raise_on_error(*_):
    # The runtime's client calls this when it fails (a connect that timed out, a peer
    # that stopped sending heartbeats). Without a callback it terminates the process,
    # even on a failed connect; with one, jaxlib cannot convert the error status to a
    # Python value and raises instead: a failed `connect` becomes a Python exception,
    # while a failure later, on the client's own thread, still ends the process as in jax.
    pass


def _accelerator_plugins() -> list[str]:
    """The accelerator (PJRT) plugins installed for the runtime, found as jax finds them
    (modules of the `jax_plugins` namespace package and its entry points), unless the
    run is restricted to the CPU (`JAX_PLATFORMS=cpu`)."""
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms and set(platforms.split(",")) <= {"cpu"}:
        return []
    found = {e.name for e in importlib.metadata.entry_points(group="jax_plugins")}
    if importlib.util.find_spec("jax_plugins") is not None:
        import jax_plugins  # a namespace package: listing it imports no plugin

        found |= {m.name for m in pkgutil.iter_modules(jax_plugins.__path__)}
    return sorted(found)


def _cpu_client(client, process_id: int, num_processes: int):
    """The runtime's CPU client spanning every process: its devices are all processes'
    devices (each process addresses its own), and its collectives run over gloo."""
    collectives = _jaxlib.make_gloo_tcp_collectives(distributed_client=client)
    return _xc.make_cpu_client(
        asynchronous=True,
        distributed_client=client,
        node_id=process_id,
        num_nodes=num_processes,
        collectives=collectives,
    )


def start(
    coordinator_address: str,
    num_processes: int,
    process_id: int,
    *,
    initialization_timeout: float,
    heartbeat_timeout_seconds: int,
    shutdown_timeout_seconds: int,
    coordinator_bind_address: str | None = None,
):
    """Connect this process to the run's coordinator and make the runtime multi-process.

    Arguments are checked by the caller (funcnet.distributed.initialize).

    Raises:
      RuntimeError: already started, or the runtime client already exists.
      NotImplementedError: accelerator plugins are installed (the client is CPU-only).
      TimeoutError: the coordinator could not be reached in `initialization_timeout`.
      OSError: process 0 could not start the coordination service (port in use).
    """
    if is_started():
        raise RuntimeError(
            "funcnet.distributed.initialize was already called in this process "
            f"(process {state.process_id} of {state.num_processes}, coordinator "
            f"{state.coordinator_address}); call it once"
        )
    plugins = _accelerator_plugins()
    if plugins:  # the CPU client would silently replace the accelerator as the default
        raise NotImplementedError(
            "funcnet.distributed.initialize builds the runtime's multi-process CPU client; "
            f"this machine has accelerator plugins ({', '.join(plugins)}), and multi-process "
            "accelerator runs are not supported yet: set JAX_PLATFORMS=cpu to run on the CPUs"
        )
    if xla.client_started():
        raise RuntimeError(
            "funcnet.distributed.initialize must be called before anything starts the "
            "runtime: before the first array, computation or device query (fn.devices(), "
            "fn.device_put, fnp.ones, ...); call it right after `import funcnet`"
        )
    deadline = time.monotonic() + initialization_timeout
    service = None
    if process_id == 0:
        bind = coordinator_bind_address or "[::]:" + coordinator_address.rsplit(":", 1)[1]
        _check_bindable(bind)
        try:
            service = _jaxlib.get_distributed_runtime_service(
                bind,
                num_processes,
                heartbeat_timeout=heartbeat_timeout_seconds,
                shutdown_timeout=shutdown_timeout_seconds,
            )
        except Exception as e:  # jaxlib raises its own runtime error type
            raise OSError(
                f"funcnet.distributed.initialize: process 0 could not start the "
                f"coordination service on {bind} (is the port in use?): {e}"
            ) from e
    try:
        client = _connect(
            coordinator_address, process_id, num_processes, deadline, initialization_timeout,
            heartbeat_timeout_seconds, shutdown_timeout_seconds,
        )  # fmt: skip
    except BaseException:
        if service is not None:
            service.shutdown()
        raise
    try:
        cpu_client = _cpu_client(client, process_id, num_processes)
    except Exception as e:  # e.g. the device topology exchange timed out
        client.shutdown()
        if service is not None:
            service.shutdown()
        raise RuntimeError(
            f"funcnet.distributed.initialize: process {process_id} connected to "
            f"{coordinator_address} but could not build the multi-process runtime client: {e}"
        ) from e
    xla.install_client(cpu_client)
    state.service, state.client = service, client
    state.process_id, state.num_processes = process_id, num_processes
    state.coordinator_address = coordinator_address
    if not state.atexit_registered:  # leave the run cleanly if the user did not
        atexit.register(stop)
        state.atexit_registered = True


def _connect(address, process_id, num_processes, deadline, timeout, heartbeat, shutdown):
    what = (
        f"funcnet.distributed.initialize: process {process_id} of {num_processes} could not "
        f"connect to the coordinator at {address} within initialization_timeout={timeout} s"
    )
    if not _wait_for_port(address, deadline):
        raise TimeoutError(
            f"{what}: nothing accepts connections there (is process 0 running, with "
            f"this address and port, and is the port open between the hosts?)"
        )
    client = _jaxlib.get_distributed_runtime_client(
        address,
        process_id,
        init_timeout=max(1, int(deadline - time.monotonic() + 0.999)),
        heartbeat_timeout=heartbeat,
        shutdown_timeout=shutdown,
        missed_heartbeat_callback=_raise_on_error,
        use_compression=True,
    )
    try:
        client.connect()
    except Exception as e:  # the runtime's error has no useful text (see _raise_on_error)
        raise TimeoutError(
            f"{what}: the coordinator did not register every process (do all "
            f"{num_processes} processes run, with distinct process ids 0..{num_processes - 1} "
            f"and the same num_processes?)"
        ) from e
    return client


def stop():
    """Leave the run: disconnect this process's client (a barrier with the other
    processes, up to shutdown_timeout) and, on process 0, stop the service. The
    multi-process runtime client stays (its arrays stay valid) but collectives
    across processes no longer work; as in jax, a process runs at most one run."""
    client, service = state.client, state.service
    state.client = state.service = None
    if client is not None:
        client.shutdown()
    if service is not None:
        service.shutdown()
