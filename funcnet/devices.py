"""Devices and placement: which devices there are, putting data on them and getting it
back (as jax's top-level device functions). funcnet runs in a single process."""

import numpy as np

from funcnet import numpy as fnp
from funcnet import tree
from funcnet.core.array import Array, asarray_from_value
from funcnet.core.trace import Tracer, get_aval
from funcnet.runtime import xla
from funcnet.sharding import SingleDeviceSharding


def devices(backend: str | None = None):
    """The devices XLA offers (default backend, or 'cpu' / 'gpu')."""
    return xla.devices(backend)


def local_devices(process_index: int | None = None, backend: str | None = None):
    """The devices this process can address (all of them: funcnet is single-process)."""
    _check_process_index(process_index)
    return list(xla.client(backend).local_devices())


def device_count(backend: str | None = None) -> int:
    """How many devices the backend has."""
    return xla.client(backend).device_count()


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process addresses."""
    return xla.client(backend).local_device_count()


def default_backend() -> str:
    """The platform arrays go to by default: 'cpu', 'gpu' (the name jax uses for CUDA and
    ROCm) or 'tpu'."""
    platform = xla.client().platform
    return "gpu" if platform in ("cuda", "rocm") else platform


def process_index(backend: str | None = None) -> int:
    """This process's index among the processes of a run: 0 (single process)."""
    return xla.client(backend).process_index()


def process_count(backend: str | None = None) -> int:
    """How many processes the run has: 1 (funcnet does not run multi-process yet)."""
    return 1


def _check_process_index(index):
    if index is not None and index != process_index():
        raise ValueError(
            f"process_index {index}: funcnet runs in a single process (index {process_index()})"
        )


def _target_device(device):
    """A runtime device from a device, a SingleDeviceSharding, or None (the default)."""
    if device is None:
        return xla.default_device()
    if isinstance(device, SingleDeviceSharding):
        return device.device
    if hasattr(device, "platform") and hasattr(device, "id"):
        return device
    raise TypeError(
        f"device_put: expected a device (from fn.devices()) or a "
        f"SingleDeviceSharding, got {type(device).__name__}: {device!r:.80}"
    )


def device_put(x, device=None):
    """Place every array of a pytree on a device.

    Args:
      x: a pytree of arrays, NumPy arrays or Python scalars.
      device: a device from `fn.devices()`, a `SingleDeviceSharding` (e.g. another
        array's `.sharding`), or None for the default device.

    Returns:
      The same pytree of funcnet Arrays. Inside a traced function (jit, grad, vmap) values
      pass through unchanged: placement is decided when the program runs.
    """
    target = _target_device(device)

    def put(v):
        if isinstance(v, Tracer):
            return v
        return asarray_from_value(v, device=target)

    return tree.tree_map(put, x)


def device_get(x):
    """Copy every funcnet Array of a pytree to the host, as NumPy arrays (other leaves,
    e.g. Python scalars or NumPy arrays, are returned as they are), as `jax.device_get`."""
    leaves = tree.tree_leaves(x)
    for v in leaves:  # start every copy before waiting on the first
        if isinstance(v, Array):
            v.copy_to_host_async()
    return tree.tree_map(lambda v: np.asarray(v) if isinstance(v, (Array, Tracer)) else v, x)


def block_until_ready(x):
    """Wait until every array of a pytree is computed; returns `x` (as jax). Leaves that
    are not arrays are skipped."""
    for v in tree.tree_leaves(x):
        if isinstance(v, Array):
            v.block_until_ready()
    return x


def typeof(x):
    """The abstract value (shape, dtype, weak type) of an array, tracer or scalar, as
    `jax.typeof`."""
    return get_aval(x)


def asarray(x, dtype=None, *, device=None) -> Array:
    """A concrete funcnet Array from a NumPy array, scalar, list, or Array; `device` (a
    device or a SingleDeviceSharding) places it."""
    out = fnp.asarray(x, dtype=dtype)
    return out if device is None else device_put(out, device)
