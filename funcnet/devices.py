"""Devices and placement: which devices there are, putting data on them (on one device,
or laid out over several by a sharding) and getting it back (as jax's top-level device
functions). In a multi-process run (`fn.distributed.initialize`) `devices()` lists every
process's devices and `local_devices()` this process's."""

import numpy as np

from funcnet import numpy as fnp
from funcnet import tree
from funcnet.backend import sharded
from funcnet.core.array import Array, ShardedArray, asarray_from_value
from funcnet.core.trace import Tracer, get_aval
from funcnet.lax.sharding import with_sharding_constraint
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
    """The devices a process addresses, as `jax.local_devices`.

    Args:
      process_index: a process's index (0 to `process_count() - 1`), or None for this
        process.
      backend: a platform name, or None for the default backend.

    Returns:
      A list of runtime devices.

    Raises:
      ValueError: `process_index` names no process of the run.
    """
    _check_process_index(process_index, backend)
    if process_index is None or process_index == xla.client(backend).process_index():
        return list(xla.client(backend).local_devices())
    return [d for d in xla.devices(backend) if d.process_index == process_index]


def device_count(backend: str | None = None) -> int:
    """How many devices a backend has, as `jax.device_count`.

    Args:
      backend: a platform name, or None for the default backend.

    Returns:
      The number of devices, an int.
    """
    return xla.client(backend).device_count()


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process addresses, as `jax.local_device_count`.

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
      An int, 0 in a single-process run.
    """
    return xla.client(backend).process_index()


def process_count(backend: str | None = None) -> int:
    """How many processes the run has, as `jax.process_count`.

    Args:
      backend: a platform name, or None for the default backend.

    Returns:
      An int, 1 in a single-process run.
    """
    c = xla.client(backend)
    count = getattr(c, "process_count", None)
    if count is not None:
        return count()
    return len({d.process_index for d in c.devices()})


def _check_process_index(index, backend=None):
    count = process_count(backend)
    if index is not None and not 0 <= index < count:
        if count == 1:
            raise ValueError(f"process_index {index}: this run is a single process (index 0)")
        raise ValueError(
            f"process_index {index}: the run has {count} processes, indices 0 to {count - 1}"
        )


def _is_device(d) -> bool:
    return hasattr(d, "platform") and hasattr(d, "id")


def _is_placement(d) -> bool:
    """A device, a SingleDeviceSharding or a multi-device sharding (not a pytree of them)."""
    return isinstance(d, SingleDeviceSharding) or _is_device(d) or sharded.is_multi_device(d)


def _target_device(device):
    """A runtime device from a device, a SingleDeviceSharding, or None (the default)."""
    if device is None:
        return xla.default_device()
    if isinstance(device, SingleDeviceSharding):
        return device.device
    if _is_device(device):
        return device
    raise TypeError(
        f"device_put: expected a device (from fn.devices()), a SingleDeviceSharding, a "
        f"NamedSharding or a pytree of them, got {type(device).__name__}: {device!r:.80}"
    )


def _put_on_device(device):
    target = _target_device(device)

    def put(v):
        if isinstance(v, Tracer):
            return v
        if type(v) is ShardedArray:
            return v if device is None else sharded.to_device(v, target)
        return asarray_from_value(v, device=target)

    return put


def _put_sharded(sharding):
    def put(v):
        if isinstance(v, Tracer):  # inside jit: a constraint on the value's layout
            return with_sharding_constraint(v, sharding)
        return sharded.put(v, sharding)

    return put


def device_put(x, device=None):
    """Places every array of a pytree on a device, or lays it out over several, as
    `jax.device_put`.

    NumPy arrays and Python scalars are copied to the device (64-bit dtypes narrowed to
    32 bits unless x64 is on; Python scalars become weakly typed); a funcnet Array
    already on the device is returned as it is, without a copy. With a `NamedSharding`
    each device receives its block (only this process's devices in a multi-process
    run); a sharded array is laid out anew (a compiled program moving the blocks when the
    device list stays, else through the host), or gathered onto one device.

    Args:
      x: a pytree of funcnet Arrays, NumPy arrays or Python scalars.
      device: a device from `fn.devices()`, a `SingleDeviceSharding` (e.g. another
        array's `.sharding`), a `NamedSharding`, None (the default device; a sharded
        array stays as it is), or a pytree prefix of `x` with those at its leaves.

    Returns:
      The same pytree with funcnet Arrays at its leaves. Inside a traced function (jit,
      grad, vmap) traced values pass through unchanged (with a `NamedSharding`: as
      `fn.lax.with_sharding_constraint`): placement is decided when the program runs.

    Raises:
      TypeError: `device` is neither a device, a sharding, None nor a pytree of them.
      ValueError: a `NamedSharding` does not fit an array (an axis splitting a dimension
        its size does not divide, more spec entries than dimensions), or `device` is a
        pytree that is no prefix of `x`.

    Example:
      >>> params = fn.device_put({"w": np.ones((2, 2)), "b": 0.5})
      >>> params["w"].dtype, type(params["b"]).__name__
      (dtype('float32'), 'Array')
      >>> y = fn.device_put(fnp.arange(3), params["w"].sharding)   # next to params["w"]
      >>> y.device == params["w"].device
      True
    """
    if device is None or _is_placement(device):
        put = _put_sharded(device) if sharded.is_multi_device(device) else _put_on_device(device)
        return tree.tree_map(put, x)
    # a pytree of placements, a prefix of x's structure
    placements, treedef = tree.tree_flatten(device, is_leaf=lambda d: d is None or _is_placement(d))
    for d in placements:
        if d is not None and not _is_placement(d):
            _target_device(d)  # raises the TypeError naming what was given
    try:
        subtrees = treedef.flatten_up_to(x)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"device_put: the pytree of devices/shardings ({treedef}) must be a prefix of the "
            f"pytree of values: {e}"
        ) from None
    return treedef.unflatten([device_put(sub, d) for d, sub in zip(placements, subtrees)])


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
