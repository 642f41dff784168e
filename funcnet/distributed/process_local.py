"""A global sharded array from each process's own part of it, as
`jax.make_array_from_process_local_data`: in a multi-process run every process loads
only the rows its devices hold (its share of the global batch), not the whole batch."""

import numpy as np

from funcnet import devices as _devices
from funcnet.backend.sharded import host_value
from funcnet.core.array import wrap_sharded
from funcnet.core.aval import ShapedArray
from funcnet.runtime import spmd


def _starts(sharding, shape, devices, dim) -> list[int]:
    """The distinct block starts along `dim` of `devices`' blocks, sorted."""
    index = sharding.devices_indices_map(shape)
    return sorted({index[d][dim].start or 0 for d in devices})


def _global_shape(sharding, local_shape, mine) -> tuple:
    """The global shape when each process holds only its own blocks: along a dimension
    split into n blocks of which this process holds k, global = local * n / k."""
    ndim = len(local_shape)
    spec = tuple(sharding.spec) + (None,) * (ndim - len(sharding.spec))
    mesh_shape = sharding.mesh.shape
    splits = [
        int(np.prod([mesh_shape[a] for a in (e if isinstance(e, tuple) else (e,))]))
        if e is not None
        else 1
        for e in spec[:ndim]
    ]
    probe = tuple(splits)  # one element per block: block starts are block numbers
    shape = []
    for dim, (size, n) in enumerate(zip(local_shape, splits)):
        held = len(_starts(sharding, probe, mine, dim))
        if size % held:
            raise ValueError(
                f"make_array_from_process_local_data: dimension {dim} of the local data "
                f"has {size} elements, not divisible by the {held} blocks this process's "
                "devices hold along it"
            )
        shape.append(size // held * n)
    return tuple(shape)


def make_array_from_process_local_data(sharding, local_data, global_shape=None):
    """A global array laid out by `sharding` from this process's part of it, as
    `jax.make_array_from_process_local_data`.

    Each process passes the blocks of the global array that its own devices hold,
    concatenated in order along each split dimension (for a batch sharded over
    `"data"`, the process's rows); along a dimension the sharding does not split across
    this process's devices, the local data is the whole dimension. In a single-process
    run the local data is the whole array (`fn.device_put(local_data, sharding)`).

    Args:
      sharding: a `NamedSharding` of the global array over devices of the whole run.
      local_data: a NumPy array (or array-like) with this process's part.
      global_shape: the global array's shape; None infers it, assuming every process
        holds an equal share (a dimension split into n blocks of which this process
        holds k has `local * n / k` elements).

    Returns:
      A sharded `funcnet.Array` of shape `global_shape`, its addressable blocks on this
      process's devices.

    Raises:
      ValueError: a dimension of `local_data` matches neither the global size nor this
        process's share of it, or is not divisible into this process's blocks.

    Example:
      >>> from funcnet.sharding import Mesh, NamedSharding, PartitionSpec as P
      >>> mesh = Mesh(np.array(fn.devices()), ("data",))
      >>> rows = np.arange(2.0 * len(fn.local_devices())).reshape(-1, 1)  # this process's
      >>> x = fn.make_array_from_process_local_data(NamedSharding(mesh, P("data")), rows)
      >>> x.shape == (2 * len(fn.devices()), 1)
      True
    """
    arr, _ = host_value(local_data)
    if _devices.process_count() == 1:
        if global_shape is not None and tuple(global_shape) != arr.shape:
            raise ValueError(
                "make_array_from_process_local_data: in a single-process run the local "
                f"data is the whole array: global_shape {tuple(global_shape)} differs from "
                f"the data's shape {arr.shape}"
            )
        return _devices.device_put(arr, sharding)
    me = _devices.process_index()
    mine = [d for d in sharding._device_list if d.process_index == me]
    shape = (
        _global_shape(sharding, arr.shape, mine) if global_shape is None else tuple(global_shape)
    )
    if len(shape) != arr.ndim:
        raise ValueError(
            f"make_array_from_process_local_data: global_shape {shape} and the local "
            f"data's shape {arr.shape} have different ranks"
        )
    sharding.check(shape)
    index = sharding.devices_indices_map(shape)
    starts = [_starts(sharding, shape, mine, dim) for dim in range(arr.ndim)]
    for dim, (size, full) in enumerate(zip(arr.shape, shape)):
        block = index[mine[0]][dim]
        share = len(starts[dim]) * ((block.stop or full) - (block.start or 0))
        if size not in (full, share):
            raise ValueError(
                f"make_array_from_process_local_data: dimension {dim} of the local data has "
                f"{size} elements; it must be the global size {full} or this process's "
                f"share {share} (global_shape {shape})"
            )

    def local_block(device):
        local = []
        for dim, sl in enumerate(index[device]):
            if arr.shape[dim] == shape[dim]:  # the whole dimension is here
                local.append(sl)
                continue
            start, stop = sl.start or 0, shape[dim] if sl.stop is None else sl.stop
            offset = starts[dim].index(start) * (stop - start)
            local.append(slice(offset, offset + stop - start))
        return np.ascontiguousarray(arr[tuple(local)])

    buf = spmd.put_blocks([local_block(d) for d in mine], mine, shape, arr.dtype, sharding)
    return wrap_sharded(buf, ShapedArray(shape, arr.dtype, False), sharding)
