"""Shardings: where an array's data lives.

For now funcnet places every array on one device, so the only sharding is
`SingleDeviceSharding` (what `Array.sharding` returns and `fn.device_put` accepts, as
in jax). Multi-device layouts (meshes, partition specs, named shardings) will grow here.
"""


class SingleDeviceSharding:
    """All of an array's data on one device, as `jax.sharding.SingleDeviceSharding`.

    Args:
      device: a runtime device (an element of `fn.devices()`).
      memory_kind: the device memory the data lives in; None means the device's default.

    Example:
      >>> s = fn.numpy.ones(3).sharding
      >>> s.device_set        # {CpuDevice(id=0)}
      >>> fn.device_put(x, s)
    """

    def __init__(self, device, *, memory_kind=None):
        self._device = device
        self._memory_kind = memory_kind

    @property
    def device(self):
        """The one device holding the data."""
        return self._device

    @property
    def device_set(self) -> set:
        return {self._device}

    @property
    def addressable_devices(self) -> set:
        return {self._device}

    @property
    def num_devices(self) -> int:
        return 1

    @property
    def is_fully_replicated(self) -> bool:
        return True  # one copy on one device is the whole array

    @property
    def is_fully_addressable(self) -> bool:
        return True

    @property
    def memory_kind(self):
        """The kind of device memory ('device' for a device's default memory)."""
        if self._memory_kind is not None:
            return self._memory_kind
        try:
            return self._device.default_memory().kind
        except (AttributeError, RuntimeError):  # a runtime without memory spaces
            return None

    def shard_shape(self, global_shape) -> tuple:
        """The shape of the one shard: the whole array."""
        return tuple(global_shape)

    def with_memory_kind(self, kind) -> "SingleDeviceSharding":
        return SingleDeviceSharding(self._device, memory_kind=kind)

    def _key(self):
        return (self._device, self.memory_kind)

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and self._key() == other._key()

    def __hash__(self):
        return hash((SingleDeviceSharding, self._key()))

    def __repr__(self):
        return f"SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})"


__all__ = ["SingleDeviceSharding"]
