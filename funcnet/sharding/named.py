"""NamedSharding (an array split over a mesh's named axes) and TiledSharding (a layout
no PartitionSpec on a mesh expresses, as XLA may choose for a program's output)."""

import functools
import itertools
import math

from funcnet.runtime import xla
from funcnet.runtime.layout import TileLayout, named_layout
from funcnet.sharding.mesh import Mesh
from funcnet.sharding.partition_spec import PartitionSpec


def default_memory_kind(device):
    """A device's default memory kind ('device'), or None on a runtime without memory
    spaces."""
    try:
        return device.default_memory().kind
    except (AttributeError, RuntimeError):  # a runtime without memory spaces
        return None


class _LayoutSharding:
    """What every sharding given by a tile layout shares: index maps, shard shapes,
    addressability. Subclasses define `_device_list` and `_layout(ndim)`."""

    _device_list: tuple

    @property
    def device_set(self) -> set:
        """The set of every device holding data (other processes' included)."""
        return set(self._device_list)

    @property
    def num_devices(self) -> int:
        """How many devices hold data."""
        return len(self._device_list)

    @functools.cached_property
    def addressable_devices(self) -> set:
        """The devices among `device_set` this process addresses."""
        me = xla.client(self._device_list[0].platform).process_index()
        return {d for d in self._device_list if d.process_index == me}

    @property
    def is_fully_addressable(self) -> bool:
        """Whether this process addresses every device of the sharding."""
        return len(self.addressable_devices) == len(self._device_list)

    def shard_shape(self, global_shape) -> tuple:
        """The shape of the block each device holds.

        Args:
          global_shape: the array's shape.

        Returns:
          A tuple of ints.

        Raises:
          ValueError: the sharding does not fit the shape (see `check`).
        """
        self.check(global_shape)
        return self._layout(len(global_shape)).shard_shape(global_shape)

    def devices_indices_map(self, global_shape) -> dict:
        """Which block of an array of `global_shape` each device holds, as jax's.

        Args:
          global_shape: the array's shape.

        Returns:
          A dict from device (every device, in partition order) to a tuple of slices,
          one per dimension (`slice(None)` where the dimension is not split).

        Raises:
          ValueError: the sharding does not fit the shape (see `check`).
        """
        self.check(global_shape)
        indices = self._layout(len(global_shape)).indices(tuple(global_shape))
        return dict(zip(self._device_list, indices))

    def addressable_devices_indices_map(self, global_shape) -> dict:
        """`devices_indices_map` restricted to the devices this process addresses.

        Args:
          global_shape: the array's shape.

        Returns:
          A dict from device to a tuple of slices.
        """
        mine = self.addressable_devices
        return {d: i for d, i in self.devices_indices_map(global_shape).items() if d in mine}

    def _to_hlo_sharding_text(self, ndim: int) -> str:
        """The XLA HloSharding text of the layout for a rank-`ndim` array."""
        return self._layout(ndim).hlo_text()

    def _replica_ids(self, ndim: int) -> list:
        return self._layout(ndim).replica_ids()

    def is_equivalent_to(self, other, ndim: int) -> bool:
        """Whether two shardings place the same blocks on the same devices.

        Args:
          other: another sharding.
          ndim: the rank of the arrays compared.

        Returns:
          A bool.
        """
        layout = getattr(other, "_layout", None)
        if layout is None:
            return False
        return self._layout(ndim) == layout(ndim) and self.memory_kind == other.memory_kind


class NamedSharding(_LayoutSharding):
    """An array split over a mesh's named axes, as `jax.sharding.NamedSharding`.

    Dimension `d` is split into equal blocks over the mesh axes `spec[d]` names; the
    array is replicated along the mesh axes the spec does not name. funcnet refuses a
    dimension the axes' sizes do not divide (as `jax.device_put` does; jax's jit pads
    internally, funcnet does not).

    Args:
      mesh: a `Mesh`.
      spec: a `PartitionSpec` (a tuple or None is converted; None means `PartitionSpec()`,
        fully replicated).
      memory_kind: keyword only; the device memory ('device' by default).

    Attributes:
      mesh, spec, memory_kind: as given.
      device_set, addressable_devices: the mesh's devices / those this process
        addresses.
      num_devices: the mesh's size.
      is_fully_replicated: whether every device holds the whole array.
      is_fully_addressable: whether this process addresses every device.

    Raises:
      TypeError: `mesh` is not a `Mesh`, or an entry of `spec` is not None/str/tuple.
      ValueError: `spec` names an axis the mesh lacks, or names an axis twice.

    Methods (shared with `TiledSharding`): `check(shape)`, `shard_shape(shape)`,
    `devices_indices_map(shape)` (device -> tuple of slices, as jax's),
    `addressable_devices_indices_map(shape)`, `is_equivalent_to(other, ndim)`.

    Two named shardings are equal when their meshes, memory kinds and specs (trailing
    None entries aside) are.

    Example:
      >>> from funcnet.sharding import Mesh, NamedSharding, PartitionSpec as P
      >>> mesh = Mesh(fn.devices()[:1], ("data",))
      >>> s = NamedSharding(mesh, P("data"))
      >>> s.shard_shape((4, 3)), s.is_fully_replicated
      ((4, 3), True)
      >>> x = fn.device_put(np.ones((4, 3)), s)
      >>> x.sharding == s
      True
    """

    def __init__(self, mesh, spec=None, *, memory_kind=None):
        if not isinstance(mesh, Mesh):
            raise TypeError(
                f"NamedSharding: expected a funcnet.sharding.Mesh, got "
                f"{type(mesh).__name__}: {mesh!r:.80}"
            )
        if spec is None:
            spec = PartitionSpec()
        elif not isinstance(spec, PartitionSpec):
            if not isinstance(spec, (tuple, list)):
                raise TypeError(
                    f"NamedSharding: expected a PartitionSpec, got {type(spec).__name__}: "
                    f"{spec!r:.80}"
                )
            spec = PartitionSpec(*spec)
        self._mesh = mesh
        self._spec = spec
        self._memory_kind = memory_kind
        self._device_list = mesh.device_list
        self._check_axes()
        self._normal_spec = _trim(spec)

    mesh = property(lambda self: self._mesh, doc="The mesh.")
    spec = property(lambda self: self._spec, doc="The PartitionSpec.")

    @property
    def memory_kind(self):
        """The device memory kind ('device' for a device's default memory)."""
        if self._memory_kind is not None:
            return self._memory_kind
        return default_memory_kind(self._device_list[0])

    @property
    def is_fully_replicated(self) -> bool:
        """Whether every device holds the whole array (the spec splits over no axis of
        size > 1)."""
        sizes = self._mesh.shape
        return all(sizes[a] == 1 for a in self._spec.mesh_axes())

    def with_memory_kind(self, kind) -> "NamedSharding":
        """The same layout in another memory kind.

        Args:
          kind: the memory kind.

        Returns:
          A new `NamedSharding`.
        """
        return NamedSharding(self._mesh, self._spec, memory_kind=kind)

    def _check_axes(self):
        names = self._mesh.axis_names
        seen = set()
        for dim in range(len(self._spec)):
            for axis in self._spec.axes_of(dim):
                if axis not in names:
                    raise ValueError(
                        f"{self._spec} names mesh axis {axis!r} (dimension {dim}), which "
                        f"the mesh lacks: {self._mesh} has axes {names}"
                    )
                if axis in seen:
                    raise ValueError(
                        f"{self._spec} uses mesh axis {axis!r} twice: an axis can split "
                        "one dimension only, once"
                    )
                seen.add(axis)

    def check(self, shape) -> None:
        """Checks that the sharding fits an array of `shape`.

        Args:
          shape: the array's shape.

        Returns:
          None.

        Raises:
          ValueError: the spec has more entries than the array has dimensions, or a
            split dimension's size is not a multiple of its axes' total size (funcnet
            refuses uneven blocks, as `jax.device_put` does).
        """
        shape = tuple(shape)
        if len(self._spec) > len(shape):
            hint = " (for a scalar use PartitionSpec())" if not shape else ""
            raise ValueError(
                f"{self._spec} has {len(self._spec)} entries but the array has rank "
                f"{len(shape)} (shape {shape}): it can split at most {len(shape)} "
                f"dimensions{hint}"
            )
        sizes = self._mesh.shape
        for dim, size in enumerate(shape):
            axes = self._spec.axes_of(dim)
            ways = math.prod(sizes[a] for a in axes)
            if size % ways:
                axes_text = " x ".join(f"{a!r} of size {sizes[a]}" for a in axes)
                raise ValueError(
                    f"{self._spec} splits dimension {dim} of shape {shape} (size {size}) "
                    f"into {ways} blocks over mesh axis {axes_text}, but {size} is not "
                    f"divisible by {ways}: funcnet refuses uneven blocks, as jax.device_put "
                    "does; pad the array or choose another PartitionSpec"
                )

    def _layout(self, ndim: int) -> TileLayout:
        return _named_layout(self._mesh, self._normal_spec, ndim)

    def _dim_axes(self, ndim):
        return [self._spec.axes_of(d) for d in range(ndim)]

    def __eq__(self, other):
        if self is other:
            return True
        return (
            isinstance(other, NamedSharding)
            and self._mesh == other._mesh
            and self._normal_spec == other._normal_spec
            # None is the default kind: ask the runtime only when one was given
            and (self._memory_kind == other._memory_kind or self.memory_kind == other.memory_kind)
        )

    def __hash__(self):
        return hash((NamedSharding, self._mesh, self._normal_spec))

    def __repr__(self):
        return f"NamedSharding(mesh={self._mesh!r}, spec={self._spec!r})"


def _trim(spec) -> tuple:
    entries = list(spec)
    while entries and entries[-1] is None:
        entries.pop()
    return tuple(entries)


@functools.lru_cache(maxsize=4096)
def _named_layout(mesh, normal_spec, ndim):
    spec = PartitionSpec(*normal_spec)
    dim_axes = [spec.axes_of(d) for d in range(ndim)]
    return named_layout(mesh.axis_names, mesh.axis_sizes, mesh.device_list, dim_axes)


class TiledSharding(_LayoutSharding):
    """A tile layout over a device list that no PartitionSpec on a mesh expresses (as
    jax's GSPMDSharding): what a compiled program's output may carry.

    Args:
      device_list: the devices, in partition order.
      layout: the blocks per dimension and which device positions hold each.

    Attributes:
      device_set, num_devices, is_fully_replicated, is_fully_addressable: as
        `NamedSharding`'s.
    """

    def __init__(self, device_list, layout: TileLayout):
        self._device_list = tuple(device_list)
        self._tile_layout = layout
        self._ndim = len(layout.tile_dims)

    memory_kind = property(lambda self: default_memory_kind(self._device_list[0]))

    @property
    def is_fully_replicated(self) -> bool:
        """Whether every device holds the whole array."""
        return self._tile_layout.is_replicated

    def check(self, shape) -> None:
        """Checks that the layout fits an array of `shape`.

        Args:
          shape: the array's shape.

        Returns:
          None.

        Raises:
          ValueError: the rank differs from the layout's, or a dimension is not a
            multiple of its number of blocks.
        """
        shape = tuple(shape)
        if len(shape) != self._ndim:
            raise ValueError(f"{self} is a layout for rank {self._ndim}, got shape {shape}")
        for dim, (size, tiles) in enumerate(zip(shape, self._tile_layout.tile_dims)):
            if size % tiles:
                raise ValueError(
                    f"{self} splits dimension {dim} of shape {shape} into {tiles} blocks, "
                    f"but {size} is not divisible by {tiles}"
                )

    def _layout(self, ndim: int) -> TileLayout:
        return self._tile_layout

    def __eq__(self, other):
        return isinstance(other, TiledSharding) and self._tile_layout == other._tile_layout

    def __hash__(self):
        return hash((TiledSharding, self._tile_layout))

    def __repr__(self):
        ids = [d.id for d in self._device_list]
        return f"TiledSharding({self._tile_layout.hlo_text()}, device_ids={ids})"


def sharding_for_layout(layout: TileLayout, meshes=(), candidates=()):
    """The sharding a tile layout is: one of `candidates` (shardings, e.g. the program's
    arguments', preferred so that a result keeps its input's spec), else a NamedSharding
    on one of `meshes` whose spec gives the layout, else a TiledSharding.

    Args:
      layout: the layout (e.g. a compiled program's output layout).
      meshes: meshes over the layout's device list to search for a PartitionSpec.
      candidates: shardings to try first.

    Returns:
      A NamedSharding or a TiledSharding.
    """
    ndim = len(layout.tile_dims)
    for s in candidates:
        fits = (
            len(getattr(s, "_normal_spec", ())) <= ndim and len(s._layout(ndim).tile_dims) == ndim
        )
        if fits and s._device_list == layout.device_list and s._layout(ndim) == layout:
            return s
    for mesh in meshes:
        if mesh.device_list == layout.device_list:
            spec = _spec_for_layout(mesh, layout)
            if spec is not None:
                return NamedSharding(mesh, spec)
    return TiledSharding(layout.device_list, layout)


@functools.lru_cache(maxsize=1024)
def _spec_for_layout(mesh, layout):
    """A PartitionSpec on `mesh` with this layout, or None: tries each way of giving the
    mesh's axes (of size > 1) to dimensions whose block counts they multiply to."""
    ndim = len(layout.tile_dims)
    if layout.is_replicated:
        return PartitionSpec()
    big = [n for n, s in mesh.shape.items() if s > 1]
    sizes = mesh.shape
    for order in itertools.permutations(big):
        for bins in itertools.product(range(ndim + 1), repeat=len(order)):
            dims = [[] for _ in range(ndim)]
            for axis, b in zip(order, bins):
                if b < ndim:
                    dims[b].append(axis)
            if any(
                math.prod(sizes[a] for a in dims[d]) != t for d, t in enumerate(layout.tile_dims)
            ):
                continue
            spec = PartitionSpec(*(tuple(a) if a else None for a in dims))
            if _named_layout(mesh, _trim(spec), ndim) == layout:
                return spec
    return None


__all__ = ["NamedSharding", "TiledSharding", "sharding_for_layout"]
