"""Scenarios for tests/test_distributed.py, each run in fresh processes (a multi-process
run must start before the runtime does). Each prints one JSON line of facts on stdout.

  python tests/distributed_scenarios.py pair PROCESS_ID PORT   # one of 2 processes
  python tests/distributed_scenarios.py errors   # bad input, then the training in 1 process

The training problem (`problem`, `train`) is shared with the test, which runs it on one
device and with jax as the references.
"""

import json
import socket
import sys
import time

import numpy as np

BATCH, FEATURES, HIDDEN, OUT = 32, 6, 16, 2
STEPS, LEARNING_RATE = 3, 0.05


def problem():
    """The MLP's initial parameters and the global batch, as NumPy (every process makes
    the same ones from the same seed)."""
    rng = np.random.default_rng(0)
    params = {
        "w1": (rng.normal(size=(FEATURES, HIDDEN)) * 0.5).astype(np.float32),
        "b1": (rng.normal(size=HIDDEN) * 0.1).astype(np.float32),
        "w2": (rng.normal(size=(HIDDEN, OUT)) * 0.5).astype(np.float32),
        "b2": np.zeros(OUT, np.float32),
    }
    x = rng.normal(size=(BATCH, FEATURES)).astype(np.float32)
    y = rng.normal(size=(BATCH, OUT)).astype(np.float32)
    return params, x, y


def loss(np_mod, params, x, y):
    """Mean squared error of a tanh MLP, written once for funcnet.numpy and jax.numpy."""
    h = np_mod.tanh(x @ params["w1"] + params["b1"])
    return np_mod.mean((h @ params["w2"] + params["b2"] - y) ** 2)


def train(params, x, y, *, replicated=None, data=None):
    """STEPS Adam steps of the jitted data-parallel step; with shardings, the params and
    optimizer state are replicated and the batch split over "data" (the partitioner
    averages the gradients across devices, and processes). Returns the losses and the
    final parameters (Arrays)."""
    import funcnet as fn
    from funcnet import numpy as fnp

    opt = fn.optim.adam(LEARNING_RATE)

    def step(params, state, x, y):
        value, grads = fn.value_and_grad(lambda p: loss(fnp, p, x, y))(params)
        updates, state = opt.update(grads, state, params)
        return fn.optim.apply_updates(params, updates), state, value

    if replicated is None:  # one device
        init, step = fn.jit(opt.init), fn.jit(step)
    else:
        init = fn.jit(opt.init, in_shardings=replicated, out_shardings=replicated)
        step = fn.jit(
            step,
            in_shardings=(replicated, replicated, data, data),
            out_shardings=replicated,
        )
    state = init(params)
    losses = []
    for _ in range(STEPS):
        params, state, value = step(params, state, x, y)
        losses.append(float(np.asarray(value)))  # replicated: readable on every process
    return losses, params


def sharded_training(process_rows=None):
    """The data-parallel run over a 1-D "data" mesh of every device of the run. Rows of
    the batch that belong to other processes' devices are nan here: the result shows
    that each process puts (and uses) only its addressable part."""
    import funcnet as fn
    from funcnet.sharding import Mesh, NamedSharding
    from funcnet.sharding import PartitionSpec as P

    mesh = Mesh(np.array(fn.devices()), ("data",))
    replicated, data = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    params, x, y = problem()
    if process_rows is not None:
        keep = np.zeros(BATCH, bool)
        keep[process_rows] = True
        x = np.where(keep[:, None], x, np.nan)
        y = y[process_rows]  # this process's rows only
    x = fn.device_put(x, data)
    y = fn.make_array_from_process_local_data(data, y)
    params = fn.device_put(params, replicated)
    facts = {
        "x_shard_devices": [s.device.id for s in x.addressable_shards],
        "y_shape": list(y.shape),
    }
    facts["losses"], params = train(params, x, y, replicated=replicated, data=data)
    facts["params"] = {k: np.asarray(v).tolist() for k, v in params.items()}
    facts["params_replicated"] = [params[k].sharding.is_fully_replicated for k in sorted(params)]
    return facts


def local_part(process_id: int, shape) -> np.ndarray:
    """Process `process_id`'s part of a global array in the process-local data checks."""
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1000 * process_id


# (mesh shape, spec, local shape) for make_array_from_process_local_data over 2 processes
# of 4 devices: split across the processes, along columns, within a process, replicated.
PROCESS_LOCAL_CASES = [
    ((8,), ("data",), (8, 3)),
    ((4, 2), (None, "data"), (3, 4)),
    ((4, 2), ("data", "model"), (8, 4)),
    ((4, 2), (None, None), (2, 2)),
]


def process_local_arrays(process_id: int):
    """Global arrays from each process's part: their shapes, their sums computed across
    the processes, and this process's blocks (device id, block)."""
    import funcnet as fn
    from funcnet.sharding import Mesh, NamedSharding
    from funcnet.sharding import PartitionSpec as P

    out = []
    for mesh_shape, spec, local_shape in PROCESS_LOCAL_CASES:
        names = ("data", "model")[: len(mesh_shape)]
        mesh = Mesh(np.array(fn.devices()).reshape(mesh_shape), names)
        sharding = NamedSharding(mesh, P(*spec))
        local = local_part(0 if spec == (None, None) else process_id, local_shape)
        x = fn.make_array_from_process_local_data(sharding, local)
        total = fn.jit(lambda a: a.sum(), out_shardings=NamedSharding(mesh, P()))(x)
        out.append(
            {
                "shape": list(x.shape),
                "sum": float(np.asarray(total)),
                "blocks": [
                    [s.device.id, np.asarray(s.data).tolist()] for s in x.addressable_shards
                ],
            }
        )
    data = NamedSharding(Mesh(np.array(fn.devices()), ("data",)), P("data"))
    errors = {
        "indivisible": _error(lambda: fn.make_array_from_process_local_data(data, np.ones(5))),
        "bad_global_shape": _error(
            lambda: fn.make_array_from_process_local_data(data, np.ones(8), (24,))
        ),
    }
    return out, errors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _error(call):
    try:
        call()
    except Exception as e:
        return {"type": type(e).__name__, "message": str(e)}
    return None


def pair(process_id: int, port: int):
    import funcnet as fn

    # Short heartbeat and shutdown timeouts: if one process fails, the other ends soon.
    fn.distributed.initialize(
        f"127.0.0.1:{port}",
        2,
        process_id,
        initialization_timeout=30,
        heartbeat_timeout_seconds=10,
        shutdown_timeout_seconds=10,
    )
    facts = {
        "initialized": fn.distributed.is_initialized(),
        "twice": _error(lambda: fn.distributed.initialize(f"127.0.0.1:{port}", 2, process_id)),
        "devices": [d.id for d in fn.devices()],
        "device_processes": [d.process_index for d in fn.devices()],
        "local_devices": [d.id for d in fn.local_devices()],
        "device_count": fn.device_count(),
        "local_device_count": fn.local_device_count(),
        "process_index": fn.process_index(),
        "process_count": fn.process_count(),
    }
    rows = BATCH // 2  # the first half of the batch lies on process 0's 4 devices
    facts.update(sharded_training(slice(rows * process_id, rows * (process_id + 1))))
    facts["process_local"], facts["process_local_errors"] = process_local_arrays(process_id)
    fn.distributed.shutdown()
    facts["after_shutdown"] = fn.distributed.is_initialized()
    print(json.dumps(facts), flush=True)


def errors():
    import funcnet as fn

    facts = {}
    # Nothing listens on a port the OS just handed out and took back.
    address = f"127.0.0.1:{_free_port()}"
    start = time.monotonic()
    facts["unreachable"] = _error(
        lambda: fn.distributed.initialize(address, 2, 1, initialization_timeout=3)
    )
    facts["unreachable_seconds"] = time.monotonic() - start
    facts["unreachable_address"] = address
    facts["initialized_after_failure"] = fn.distributed.is_initialized()
    with socket.socket() as taken:  # process 0 cannot serve on a port in use
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        facts["port_in_use"] = _error(lambda: fn.distributed.initialize(busy, 1, 0))
        facts["busy_address"] = busy
    # The failed initialize started nothing: this process now runs as a plain single
    # process, the reference for the two-process training.
    facts["single"] = sharded_training()
    print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "pair":
        pair(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "errors":
        errors()
    else:
        raise SystemExit(f"unknown scenario {sys.argv[1]!r}")
