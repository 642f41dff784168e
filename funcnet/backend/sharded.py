"""Arrays laid out over several devices: placing them (`put`, `reshard`, `to_device`)
and running eager operations on them as partitioned one-primitive programs.

An eager op with a sharded argument compiles the one-primitive program for the
arguments' device list with their shardings as `sdy.sharding` argument attributes, and
lets XLA's SPMD partitioner choose the results' layouts (read back from the compiled
executable and matched to a `NamedSharding` on the arguments' mesh). Arguments on one
device (funcnet Arrays, NumPy values, Python scalars) are replicated over the device
list first, as jax treats uncommitted arrays; two sharded arguments on different device
lists are refused.
"""

import numpy as np

from funcnet.backend.lowering import lower_module
from funcnet.config import config
from funcnet.core import dtypes
from funcnet.core.array import Array, ShardedArray, wrap_sharded
from funcnet.core.aval import ShapedArray
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Var
from funcnet.runtime import spmd, xla
from funcnet.runtime.cache import LRUCache
from funcnet.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding
from funcnet.sharding.named import default_memory_kind, sharding_for_layout


def is_multi_device(sharding) -> bool:
    """Whether `sharding` lays data out over a device list (a NamedSharding or
    TiledSharding, even of one device) rather than being one device."""
    return hasattr(sharding, "_device_list") and not isinstance(sharding, SingleDeviceSharding)


def host_value(x):
    """`(NumPy array, weak_type)` of a concrete value, dtype as funcnet makes it."""
    if isinstance(x, Array):
        return np.asarray(x), x.weak_type
    if dtypes.is_python_scalar(x):
        return np.asarray(x, dtypes.scalar_dtype(x)), dtypes.is_weak_scalar(x)
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"cannot build an array from a ragged or mixed sequence: {x!r:.80}")
    return arr.astype(dtypes.canonicalize(arr.dtype), copy=False), False


def put(value, sharding) -> ShardedArray:
    """`value` laid out by `sharding` (what `fn.device_put(x, NamedSharding)` does).

    Args:
      value: a host value (NumPy array, scalar, list), a single-device Array or a
        sharded Array.
      sharding: a NamedSharding (or TiledSharding).

    Returns:
      A `ShardedArray`; `value` itself when it is already laid out so.

    Raises:
      ValueError: the sharding does not fit the value's shape.
    """
    kind = getattr(sharding, "_memory_kind", None)
    if kind is not None and kind != default_memory_kind(sharding._device_list[0]):
        raise NotImplementedError(
            f"{sharding!r} asks for memory kind {kind!r}: funcnet places arrays laid out over "
            "several devices in the devices' default memory only"
        )
    if type(value) is ShardedArray:
        return reshard(value, sharding)
    if type(value) is Array and sharding.is_fully_replicated:
        # every device gets the whole array: device-to-device copies, no host trip
        sharding.check(value.shape)
        value._check_alive()
        mine = spmd.addressable(sharding._device_list)
        buf = spmd.put_blocks([value._buf] * len(mine), mine, value.shape, value.dtype, sharding)
        return wrap_sharded(buf, value.aval, sharding)
    arr, weak = host_value(value)
    sharding.check(arr.shape)
    buf = spmd.put_sharded(arr, sharding)
    return wrap_sharded(buf, ShapedArray(arr.shape, arr.dtype, weak), sharding)


def reshard(x: ShardedArray, sharding) -> ShardedArray:
    """A sharded array laid out anew.

    Same layout: the same buffer, relabelled. Every new block already held by some
    device (another device list with the same blocks, a permutation): those blocks,
    copied device to device. Same device list and named shardings: a compiled identity
    program whose argument and result carry the two shardings (XLA moves the blocks
    between devices; works when other processes hold some blocks). Otherwise through
    the host (the array must be fully addressable).

    Args:
      x: a sharded Array.
      sharding: the new layout.

    Returns:
      A `ShardedArray`.

    Raises:
      ValueError: the sharding does not fit, or the array spans other processes' devices
        and cannot be moved to a different device list.
    """
    sharding.check(x.shape)
    src = x._sharding
    if src is sharding or src == sharding:
        return x
    if src._device_list == sharding._device_list and src._layout(x.ndim) == sharding._layout(
        x.ndim
    ):
        return wrap_sharded(x._sbuf, x.aval, sharding)  # same blocks on the same devices
    if x.is_fully_addressable:
        buf = _from_existing_blocks(x, sharding)
        if buf is not None:
            return wrap_sharded(buf, x.aval, sharding)
    if (
        src._device_list == sharding._device_list
        and isinstance(src, NamedSharding)
        and isinstance(sharding, NamedSharding)
    ):
        return _identity(x, src, sharding)
    if not x.is_fully_addressable:
        raise ValueError(
            f"cannot move an array laid out by {src!r} to {sharding!r}: it spans devices of "
            "other processes, and only a layout over the same devices can be reached "
            "without them"
        )
    buf = spmd.put_sharded(np.asarray(x), sharding)
    return wrap_sharded(buf, x.aval, sharding)


def _block_key(index, shape):
    return tuple(s.indices(n)[:2] for s, n in zip(index, shape))  # slices hash from 3.12 on


def _from_existing_blocks(x, sharding):
    """A buffer laid out by `sharding` built from `x`'s blocks (reused on their device,
    else copied device to device), or None when some new block is no block of `x`."""
    held = {}
    indices = x._sharding.devices_indices_map(x.shape)
    for device, buf in spmd.shard_buffers(x._sbuf):
        held.setdefault(_block_key(indices[device], x.shape), {})[device] = buf
    wanted = sharding.devices_indices_map(x.shape)
    mine = spmd.addressable(sharding._device_list)
    blocks = []
    for device in mine:
        holders = held.get(_block_key(wanted[device], x.shape))
        if not holders:
            return None
        blocks.append(holders.get(device, next(iter(holders.values()))))
    return spmd.put_blocks(blocks, mine, x.shape, x.dtype, sharding)


def to_device(x: ShardedArray, device) -> Array:
    """A sharded array on one device: a block that is the whole array (reused on its
    device, else copied device to device), else the gathered values copied there."""
    whole = _block_key((slice(None),) * x.ndim, x.shape)
    indices = x._sharding.devices_indices_map(x.shape)
    full = [
        (d, buf)
        for d, buf in spmd.shard_buffers(x._sbuf)
        if _block_key(indices[d], x.shape) == whole
    ]
    for d, buf in full:
        if d == device:
            return Array(buf, x.weak_type)
    if full:
        return Array(xla.device_put(full[0][1], device), x.weak_type)
    return Array(xla.device_put(np.asarray(x), device), x.weak_type)


# --- eager operations ------------------------------------------------------------------------


class _Program:
    __slots__ = ("executable", "out_avals", "out_shardings")

    def __init__(self, executable, out_avals, out_shardings):
        self.executable = executable
        self.out_avals = out_avals
        self.out_shardings = out_shardings


_programs = LRUCache("eager_cache_size")


def _device_ids(sharding) -> list:
    return [d.id for d in sharding._device_list]


def _check_device_lists(prim, args):
    """The device list of the sharded arguments; a ValueError when two differ."""
    first = None
    for i, a in enumerate(args):
        if type(a) is not ShardedArray:
            continue
        if first is None:
            first = i
            continue
        s0, s = args[first]._sharding, a._sharding
        if s._device_list != s0._device_list:
            how = (
                "the same devices in another order"
                if set(s._device_list) == set(s0._device_list)
                else "different devices"
            )
            raise ValueError(
                f"{prim.name}: arguments {first} and {i} are laid out over {how}: argument "
                f"{first} on device ids {_device_ids(s0)} ({s0!r}), argument {i} on device "
                f"ids {_device_ids(s)} ({s!r}); put them on one mesh with fn.device_put"
            )
    return args[first]._sharding._device_list


def _mesh_of(args, devices):
    for a in args:
        if type(a) is ShardedArray and isinstance(a._sharding, NamedSharding):
            return a._sharding.mesh
    return Mesh(np.array(devices, dtype=object), ("devices",))


def _as_named(a, mesh):
    """`(buffer, aval, NamedSharding)` of an argument on `mesh`: a sharded argument as it
    is (a TiledSharding one replicated), any other value replicated."""
    if type(a) is ShardedArray:
        if isinstance(a._sharding, NamedSharding):
            return a._sbuf, a.aval, a._sharding
        a = reshard(a, NamedSharding(mesh, PartitionSpec()))
        return a._sbuf, a.aval, a._sharding
    a = put(a, NamedSharding(mesh, PartitionSpec()))  # one-device Arrays: device to device
    return a._sbuf, a.aval, a._sharding


def apply(prim, args, params, mesh=None):
    """Run one primitive eagerly on arguments of which at least one is sharded, or, given
    `mesh` (a primitive whose sub-programs name one), over that mesh's devices."""
    if mesh is None:
        devices = _check_device_lists(prim, args)
        mesh = _mesh_of(args, devices)
    else:
        devices = mesh.device_list
    bufs, avals, shardings = zip(*(_as_named(a, mesh) for a in args))
    try:
        key = (prim, tuple(params.items()), avals, shardings, config.enable_x64)
        hash(key)
    except TypeError:
        key = None  # unhashable params: compile without caching
    program = _programs.get(key) if key is not None else None
    if program is None:
        program = _compile(prim, params, list(avals), list(shardings), devices, mesh)
        if key is not None:
            _programs.put(key, program)
    outs = program.executable.execute(list(bufs))
    results = [wrap_sharded(*t) for t in zip(outs, program.out_avals, program.out_shardings)]
    return results if prim.multiple_results else results[0]


def _compile(prim, params, avals, shardings, devices, mesh):
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in prim.abstract_eval(*avals, **params)]
    jaxpr = Jaxpr([], invars, [JaxprEqn(prim, invars, params, outvars)], outvars)
    text = lower_module(
        ClosedJaxpr(jaxpr, []),
        name=prim.name,
        platform=devices[0].platform,
        arg_shardings=shardings,
        devices=devices,
    ).text
    out_avals = tuple(v.aval for v in outvars)
    exe = spmd.SpmdExecutable(text, devices, out_avals)
    out_shardings = tuple(
        sharding_for_layout(layout, meshes=(mesh,), candidates=shardings)
        for layout in exe.output_layouts()
    )
    return _Program(exe, out_avals, out_shardings)


def _identity(x, src, dst) -> ShardedArray:
    """`x` moved from layout `src` to `dst` (same device list) by a compiled identity
    program: argument sharded as `src`, result as `dst`."""
    key = ("reshard", x.aval, src, dst)
    program = _programs.get(key)
    if program is None:
        v = Var(x.aval)
        text = lower_module(
            ClosedJaxpr(Jaxpr([], [v], [], [v]), []),
            name="reshard",
            platform=src._device_list[0].platform,
            arg_shardings=[src],
            out_shardings=[dst],
            devices=src._device_list,
        ).text
        exe = spmd.SpmdExecutable(text, src._device_list, [x.aval])
        program = _Program(exe, (x.aval,), (dst,))
        _programs.put(key, program)
    (buf,) = program.executable.execute([x._sbuf])
    return wrap_sharded(buf, x.aval, dst)


def clear_cache():
    """Drop every compiled partitioned one-primitive program."""
    _programs.clear()


__all__ = ["apply", "put", "reshard", "to_device"]
