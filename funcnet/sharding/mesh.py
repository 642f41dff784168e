"""Mesh: devices laid out in an n-dimensional grid whose axes have names."""

import numpy as np

from funcnet.runtime import xla


def _is_device(d) -> bool:
    return hasattr(d, "id") and hasattr(d, "platform")


class Mesh:
    """Devices in an n-d grid with a name per axis, as `jax.sharding.Mesh`.

    A `NamedSharding` splits array dimensions over the mesh's axes by name. The order of
    `devices.flat` is the order of the devices in every program compiled for the mesh
    (partition ids are positions in it), so a permuted device grid is honoured.

    Args:
      devices: an array-like (nested lists, NumPy array of objects) of distinct runtime
        devices (from `fn.devices()`), of any shape; a flat list of devices with one axis
        name makes a 1-d mesh.
      axis_names: a str or a tuple of str, one distinct name per dimension of `devices`.

    Attributes:
      devices: the device grid, a NumPy array of dtype object.
      axis_names: the names, a tuple of str.
      shape: a dict from axis name to size, in axis order.
      axis_sizes: the sizes, a tuple of ints.
      size: the number of devices.
      device_ids: the devices' ids in the grid's shape, a NumPy int array.

    Raises:
      ValueError: the number of names differs from the grid's rank, a name repeats, a
        device repeats, or the grid is empty.
      TypeError: an element of `devices` is not a runtime device, or a name is not a str.

    Meshes with the same devices (by id, in the same grid) and names are equal.

    Example:
      >>> from funcnet.sharding import Mesh
      >>> mesh = Mesh(fn.devices()[:1], ("data",))
      >>> mesh.shape, mesh.size
      ({'data': 1}, 1)
    """

    def __init__(self, devices, axis_names):
        if isinstance(axis_names, str):
            axis_names = (axis_names,)
        axis_names = tuple(axis_names)
        for name in axis_names:
            if not isinstance(name, str):
                raise TypeError(
                    f"Mesh: axis names must be str, got {type(name).__name__}: {name!r:.60}"
                )
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"Mesh: axis names must be distinct, got {axis_names}")
        grid = np.empty(np.shape(np.asarray(devices, dtype=object)), dtype=object)
        grid[...] = np.asarray(devices, dtype=object)
        if grid.ndim != len(axis_names):
            raise ValueError(
                f"Mesh: {len(axis_names)} axis names {axis_names} for a device grid of "
                f"rank {grid.ndim} (shape {grid.shape}): give one name per grid dimension"
            )
        if grid.size == 0:
            raise ValueError(f"Mesh: the device grid (shape {grid.shape}) is empty")
        for d in grid.flat:
            if not _is_device(d):
                raise TypeError(
                    f"Mesh: expected runtime devices (from fn.devices()), got "
                    f"{type(d).__name__}: {d!r:.60}"
                )
        ids = np.array([d.id for d in grid.flat], dtype=np.int64)
        if len(set(ids.tolist())) != ids.size:
            raise ValueError(f"Mesh: a device appears twice in the grid (ids {ids.tolist()})")
        grid.flags.writeable = False
        self._devices = grid
        self._axis_names = axis_names
        self._ids = ids.reshape(grid.shape)
        self._ids.flags.writeable = False
        self._key = (grid.flat[0].platform, self._ids.shape, tuple(ids.tolist()), axis_names)

    devices = property(lambda self: self._devices, doc="The device grid (object array).")
    axis_names = property(lambda self: self._axis_names, doc="The axis names, in order.")
    device_ids = property(lambda self: self._ids, doc="The devices' ids, in the grid's shape.")

    @property
    def shape(self) -> dict:
        """A dict from axis name to axis size, in axis order."""
        return dict(zip(self._axis_names, self._devices.shape))

    @property
    def axis_sizes(self) -> tuple:
        """The axis sizes, in axis order."""
        return tuple(self._devices.shape)

    @property
    def size(self) -> int:
        """The number of devices."""
        return int(self._devices.size)

    @property
    def empty(self) -> bool:
        """False: a mesh always has devices (for jax compatibility)."""
        return False

    @property
    def device_list(self) -> tuple:
        """The devices in `devices.flat` order: the programs' partition order."""
        return tuple(self._devices.flat)

    @property
    def local_devices(self) -> list:
        """The mesh's devices this process addresses, in `devices.flat` order."""
        me = xla.client(self._devices.flat[0].platform).process_index()
        return [d for d in self._devices.flat if d.process_index == me]

    @property
    def is_multi_process(self) -> bool:
        """Whether devices of other processes belong to the mesh."""
        return len(self.local_devices) != self.size

    def __eq__(self, other):
        return isinstance(other, Mesh) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        sizes = ", ".join(f"{n!r}: {s}" for n, s in zip(self._axis_names, self.axis_sizes))
        ids = self._ids.ravel().tolist()
        if ids != list(range(len(ids))):  # say where the order is not the devices' own
            return f"Mesh({sizes}, device_ids={self._ids.tolist()})"
        return f"Mesh({sizes})"

    def __reduce__(self):
        raise TypeError("a Mesh holds runtime devices and cannot be pickled")


__all__ = ["Mesh"]
