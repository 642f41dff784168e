"""The runtime's multi-device side: programs partitioned by XLA's SPMD partitioner
(Shardy) over an ordered device list, and sharded buffers.

funcnet computes every layout itself (funcnet.sharding: which block each device holds,
the HloSharding text); this module only hands the runtime what it needs: the text as
the runtime's buffer-layout descriptor (`HloSharding`, `GSPMDSharding`), per-device
blocks to place, compiled layouts read back as plain data. A sharding is passed in
duck-typed (`_device_list`, `_to_hlo_sharding_text(ndim)`, `devices_indices_map(shape)`)
because the runtime sits below funcnet.sharding's classes.

In a multi-process run each process holds only its own (addressable) devices' blocks:
`put_sharded` places only those, and `shard_buffers` returns only those.
"""

import functools

import numpy as np
from jax._src import core as _jax_core
from jax._src.sharding_impls import GSPMDSharding

from funcnet.runtime import compilation_cache, cpu_codegen
from funcnet.runtime.layout import TileLayout
from funcnet.runtime.xla import (
    CompiledProgram,
    _compile,
    _has_host_callbacks,
    _xc,
    client,
    to_numpy,
)


@functools.lru_cache(maxsize=1024)
def device_list(devices: tuple):
    """The runtime's `DeviceList` of an ordered device tuple."""
    return _xc.DeviceList(tuple(devices))


@functools.lru_cache(maxsize=4096)
def hlo_sharding(text: str):
    """The runtime's `HloSharding` parsed from funcnet's text."""
    return _xc.HloSharding.from_string(text)


@functools.lru_cache(maxsize=4096)
def buffer_layout(devices: tuple, text: str):
    """The runtime buffer-layout descriptor (a `GSPMDSharding`) of a layout text."""
    return GSPMDSharding(device_list(devices), hlo_sharding(text))


def runtime_aval(shape, dtype):
    """The runtime's abstract value of a buffer (shape and dtype)."""
    return _jax_core.ShapedArray(tuple(shape), np.dtype(dtype))


def process_index(devices) -> int:
    return client(devices[0].platform).process_index()


def addressable(devices) -> list:
    """The devices of `devices` this process addresses, in order."""
    me = process_index(devices)
    return [d for d in devices if d.process_index == me]


def put_sharded(value, sharding):
    """A sharded runtime buffer holding `value` (the whole array, on the host) laid out by
    `sharding`: each addressable device receives its block.

    Args:
      value: a NumPy array (the global array; dtype already funcnet's).
      sharding: a funcnet sharding (NamedSharding/TiledSharding) that fits its shape.

    Returns:
      The runtime buffer.
    """
    value = np.asarray(value)
    devices = sharding._device_list
    indices = sharding.devices_indices_map(value.shape)
    mine = addressable(devices)
    # asarray(order="C") keeps a 0-d block 0-d (ascontiguousarray makes it 1-d)
    blocks = [np.asarray(value[indices[d]], order="C") for d in mine]
    return put_blocks(blocks, mine, value.shape, value.dtype, sharding)


def put_blocks(blocks, devices, shape, dtype, sharding):
    """A sharded runtime buffer from per-device blocks (NumPy arrays or single-device
    buffers), one per addressable device of `sharding` in `devices`' order."""
    block_shape = sharding.shard_shape(shape)
    for block in blocks:  # the runtime does not check: a wrong block would read back wrong
        if tuple(block.shape) != block_shape:
            raise ValueError(
                f"a block of shape {tuple(block.shape)} for an array of shape {tuple(shape)} "
                f"laid out by {sharding!r}: each block must have shape {block_shape}"
            )
    layout = buffer_layout(sharding._device_list, sharding._to_hlo_sharding_text(len(shape)))
    # NumPy blocks are copied: a contiguous block is often a view of the user's array,
    # which the CPU runtime would alias (zero copy), so a later in-place write to it
    # would change the device array. (The sharded put takes no copy semantics.)
    blocks = [np.array(b, copy=True) if isinstance(b, np.ndarray) else b for b in blocks]
    return _xc.batched_device_put(runtime_aval(shape, dtype), layout, blocks, list(devices), True)


def shard_buffers(buf) -> list:
    """The single-device buffers of a (sharded) runtime buffer's addressable shards,
    as `(device, buffer)` pairs in the buffer's device order."""
    return [(next(iter(a.devices())), a) for a in buf._arrays]


def gather(buf, indices: dict, shape, dtype) -> np.ndarray:
    """The whole array of a sharded buffer on the host, assembled from its addressable
    shards by funcnet's index map (`indices`: device -> tuple of slices). The caller
    checks that the shards cover the array."""
    out = np.empty(tuple(shape), dtype=dtype)
    for device, shard in shard_buffers(buf):
        out[indices[device]] = to_numpy(shard)
    return out


def layout_of_hlo(hlo, ndim: int, devices: tuple) -> TileLayout:
    """A runtime HloSharding over `devices` as funcnet's `TileLayout`."""
    tile_dims, replication, assignment = _layout_data(hlo, ndim, len(devices))
    return TileLayout(devices, tile_dims, replication, assignment)


def layout_of(buf, ndim: int):
    """The `TileLayout` of a runtime buffer laid out over several devices (by
    `put_sharded` or a partitioned program), or None for a single-device buffer."""
    sharding = buf.sharding
    hlo = getattr(sharding, "_hlo_sharding", None)
    if hlo is None:
        return None
    return layout_of_hlo(hlo, ndim, tuple(sharding._device_assignment))


def _layout_data(hlo, ndim: int, n_devices: int):
    if hlo.is_replicated():
        return (1,) * ndim, n_devices, tuple(range(n_devices))
    subgroups = list(hlo.subgroup_types())
    replicated_last = hlo.replicate_on_last_tile_dim() or subgroups == [_REPLICATED]
    if hlo.is_maximal() or hlo.is_manual() or (subgroups and not replicated_last):
        raise NotImplementedError(f"funcnet cannot describe the compiled layout {hlo}")
    dims = list(hlo.tile_assignment_dimensions())
    replication = dims.pop() if replicated_last else 1
    if len(dims) != ndim:
        raise NotImplementedError(f"the compiled layout {hlo} is not one of a rank-{ndim} value")
    return tuple(dims), replication, tuple(hlo.tile_assignment_devices())


_REPLICATED = _xc.OpSharding.Type.REPLICATED


def compile_options(devices) -> "_xc.CompileOptions":
    """Options compiling one program partitioned over `devices` (SPMD, Shardy), one
    partition per device in order; the assignment names device ids (global ids in a
    multi-process run)."""
    opts = _xc.CompileOptions()
    opts.env_option_overrides = cpu_codegen.overrides(devices[0].platform)
    build = opts.executable_build_options
    build.num_replicas = 1
    build.num_partitions = len(devices)
    build.use_spmd_partitioning = True
    build.use_shardy_partitioner = True
    build.device_assignment = _xc.DeviceAssignment.create(
        np.array([d.id for d in devices]).reshape(1, len(devices))
    )
    return opts


def _hlo_shardings(protos, n):
    """Runtime HloShardings from an executable's OpSharding protos (None, from a
    one-device program: every value replicated)."""
    if protos is None:
        if n is None:
            raise ValueError("the executable does not report its layouts")
        return [_REPLICATED_HLO] * n
    return [_xc.HloSharding.from_proto(p) for p in protos]


_REPLICATED_HLO = _xc.HloSharding.replicate()


class SpmdExecutable(CompiledProgram):
    """A program compiled once for all of an ordered device list, partitioned by XLA.

    Args:
      mlir_text: StableHLO text (or bytecode) with `mhlo.num_partitions` and sharding
        annotations.
      devices: the ordered device tuple (partition i runs on devices[i]).
      out_avals: one per result, with `.shape` and `.dtype`.
      in_avals: optional, one per argument (constants first), for `input_layouts`.

    `execute(buffers)` takes buffers laid out as `input_layouts()` says and returns
    buffers laid out as `output_layouts()` says."""

    def __init__(self, mlir_text, devices, out_avals, in_avals=None):
        self.devices = tuple(devices)
        dl = device_list(self.devices)
        self._exe = compilation_cache.compile_or_load(
            client(self.devices[0].platform),
            mlir_text,
            dl,
            compile_options(self.devices),
            _compile,
            cacheable=not _has_host_callbacks(mlir_text),
        )
        self._out_types = [(tuple(a.shape), np.dtype(a.dtype)) for a in out_avals]
        self.n_outputs = len(self._out_types)
        self._in_ndims = None if in_avals is None else [len(a.shape) for a in in_avals]
        self._out_hlo = _hlo_shardings(self._exe.get_output_shardings(), self.n_outputs)
        self._handlers = [
            _xc.array_result_handler(
                runtime_aval(shape, dtype),
                GSPMDSharding(dl, hlo),
                committed=True,
                _skip_checks=True,
            )
            for (shape, dtype), hlo in zip(self._out_types, self._out_hlo)
        ]

    def param_hlo_shardings(self) -> list:
        """The compiled arguments' layouts (runtime HloShardings)."""
        n = None if self._in_ndims is None else len(self._in_ndims)
        return _hlo_shardings(self._exe.get_parameter_shardings(), n)

    def output_hlo_shardings(self) -> list:
        """The compiled results' layouts (runtime HloShardings)."""
        return list(self._out_hlo)

    def input_layouts(self) -> list:
        """The compiled arguments' layouts (constants first), as `TileLayout`s (needs
        `in_avals` at construction: a replicated layout does not say its rank)."""
        if self._in_ndims is None:
            raise ValueError("input_layouts() needs the executable built with in_avals")
        return [
            layout_of_hlo(h, ndim, self.devices)
            for h, ndim in zip(self.param_hlo_shardings(), self._in_ndims)
        ]

    def output_layouts(self) -> list:
        """The compiled results' layouts, as `TileLayout`s."""
        return [
            layout_of_hlo(h, len(shape), self.devices)
            for h, (shape, _) in zip(self._out_hlo, self._out_types)
        ]

    def execute(self, buffers) -> list:
        return self._exe.execute_sharded(buffers).consume_with_handlers(self._handlers)

    def dispatch_parts(self):
        """`(execute_sharded, handlers)`, as `xla.Executable.dispatch_parts`."""
        return self._exe.execute_sharded, self._handlers
