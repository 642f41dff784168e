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
    """The devices of a backend, as `jax.devices`.

    Args:
      backend: a platform name ('cpu', 'gpu', 'cuda', 'rocm', 'tpu'), or None for the
        default backend (a GPU when one is available, else the CPU).

    Returns:
      A list of the backend's runtime devices (e.g. `[CpuDevice(id=0)]`); pass one to
      `fn.device_put`.

    Example:
      >>> d = fn.devices()[0]
      >>> fn.device_put(fnp.ones(2), d).device == d
      True
    """
    return xla.devices(backend)


def local_devices(process_index: int | None = None, backend: str | None = None):
    """The devices this process can address, as `jax.local_devices` (all of them:
    funcnet runs in a single process).

    Args:
      process_index: must be None or this process's index (0).
      backend: a platform name, or None for the default backend.

    Returns:
      A list of runtime devices.

    Raises:
      ValueError: `process_index` names another process.
    """
    _check_process_index(process_index)
    return list(xla.client(backend).local_devices())


def device_count(backend: str | None = None) -> int:
    """How many devices a backend has, as `jax.device_count`.

    Args:
      backend: a platform name, or None for the default backend.

    Returns:
      The number of devices, an int.
    """
    return xla.client(backend).device_count()


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process addresses, as `jax.local_device_count` (all of
    the backend's: funcnet runs in a single process).

    Args:
      backend: a platform name, or None for the default backend.

    Returns:
      The number of devices, an int.
    """
    return xla.client(backend).local_device_count()


def default_backend() -> str:
    """The platform arrays go to by default, as `jax.default_backend`.

    Returns:
      'cpu', 'gpu' (the name jax uses for CUDA and ROCm) or 'tpu'.

    Example:
      >>> fn.default_backend() in ("cpu", "gpu", "tpu")
      True
    """
    platform = xla.client().platform
    return "gpu" if platform in ("cuda", "rocm") else platform


def process_index(backend: str | None = None) -> int:
    """This process's index among the processes of a run, as `jax.process_index`.

    Args:
      backend: a platform name, or None for the default backend.

    Returns:
      0: funcnet runs in a single process.
    """
    return xla.client(backend).process_index()


def process_count(backend: str | None = None) -> int:
    """How many processes the run has, as `jax.process_count`.

    Args:
      backend: accepted for compatibility; ignored.

    Returns:
      1: funcnet does not run multi-process yet.
    """
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
    """Places every array of a pytree on a device, as `jax.device_put`.

    NumPy arrays and Python scalars are copied to the device (64-bit dtypes narrowed to
    32 bits unless x64 is on; Python scalars become weakly typed); a funcnet Array
    already on the device is returned as it is, without a copy.

    Args:
      x: a pytree of funcnet Arrays, NumPy arrays or Python scalars.
      device: a device from `fn.devices()`, a `SingleDeviceSharding` (e.g. another
        array's `.sharding`), or None for the default device.

    Returns:
      The same pytree with funcnet Arrays at its leaves. Inside a traced function (jit,
      grad, vmap) traced values pass through unchanged: placement is decided when the
      program runs.

    Raises:
      TypeError: `device` is neither a device, a `SingleDeviceSharding` nor None.

    Example:
      >>> params = fn.device_put({"w": np.ones((2, 2)), "b": 0.5})
      >>> params["w"].dtype, type(params["b"]).__name__
      (dtype('float32'), 'Array')
      >>> y = fn.device_put(fnp.arange(3), params["w"].sharding)   # next to params["w"]
      >>> y.device == params["w"].device
      True
    """
    target = _target_device(device)

    def put(v):
        if isinstance(v, Tracer):
            return v
        return asarray_from_value(v, device=target)

    return tree.tree_map(put, x)


def device_get(x):
    """Copies every funcnet Array of a pytree to the host, as `jax.device_get`; all the
    copies start before the first is waited for.

    Args:
      x: a pytree of funcnet Arrays and other values.

    Returns:
      The same pytree with NumPy arrays in place of the Arrays (and of tracers, which
      must then be concrete); other leaves (Python scalars, NumPy arrays) are returned as
      they are.

    Example:
      >>> fn.device_get({"step": 3, "w": fnp.ones(2)})
      {'step': 3, 'w': array([1., 1.], dtype=float32)}
    """
    leaves = tree.tree_leaves(x)
    for v in leaves:  # start every copy before waiting on the first
        if isinstance(v, Array):
            v.copy_to_host_async()
    return tree.tree_map(lambda v: np.asarray(v) if isinstance(v, (Array, Tracer)) else v, x)


def block_until_ready(x):
    """Waits until every array of a pytree is computed, as `jax.block_until_ready`
    (funcnet dispatches asynchronously: a call returns before its result is ready).

    Args:
      x: a pytree of arrays; leaves that are not funcnet Arrays are skipped.

    Returns:
      `x` itself.

    Raises:
      RuntimeError: an Array was donated or deleted.
    """
    for v in tree.tree_leaves(x):
        if isinstance(v, Array):
            v.block_until_ready()
    return x


def typeof(x):
    """The abstract value of an array, tracer or scalar, as `jax.typeof`.

    Args:
      x: a funcnet Array, a tracer (inside jit, grad, vmap), a NumPy array or a Python
        scalar.

    Returns:
      A `ShapedArray` (shape, dtype, weak type).

    Raises:
      TypeError: `x` is not an array or scalar.

    Example:
      >>> fn.typeof(fnp.ones((2, 3)))
      ShapedArray(f32[2,3])
      >>> fn.typeof(1.0)
      ShapedArray(f32[], weak_type=True)
    """
    return get_aval(x)


def asarray(x, dtype=None, *, device=None) -> Array:
    """A concrete funcnet Array from a NumPy array, scalar, list, or Array, as
    `jax.numpy.asarray` with a `device` argument.

    Args:
      x: a NumPy array, Python scalar, (nested) list or tuple of numbers, or funcnet
        Array.
      dtype: the dtype to convert to; None keeps `x`'s (64-bit narrowed to 32 bits
        unless x64 is on).
      device: a device or a `SingleDeviceSharding` to place the array on; None leaves
        it on the default device (or where `x` already is).

    Returns:
      A funcnet Array.

    Example:
      >>> fn.asarray([1, 2], dtype=fnp.float32)
      Array([1., 2.], dtype=float32)
    """
    out = fnp.asarray(x, dtype=dtype)
    return out if device is None else device_put(out, device)
