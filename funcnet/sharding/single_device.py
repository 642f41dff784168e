"""SingleDeviceSharding: all of an array's data on one device."""


class SingleDeviceSharding:
    """All of an array's data on one device, as `jax.sharding.SingleDeviceSharding`.

    Args:
      device: a runtime device (an element of `fn.devices()`).
      memory_kind: the device memory the data lives in (keyword only); None means the
        device's default.

    Attributes:
      device: the device.
      device_set, addressable_devices: `{device}`.
      num_devices: 1.
      memory_kind: the memory kind ('device' for a device's default memory; None on a
        runtime without memory spaces).
      is_fully_replicated, is_fully_addressable: True.

    Two shardings are equal when their device and memory kind are.

    Example:
      >>> x = fnp.ones(3)
      >>> s = x.sharding
      >>> s.device_set == {x.device}, s.num_devices
      (True, 1)
      >>> fn.device_put(fnp.zeros(2), s).sharding == s
      True
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
        """The set of devices holding data: `{device}`."""
        return {self._device}

    @property
    def addressable_devices(self) -> set:
        """The devices this process can address among them: `{device}`."""
        return {self._device}

    @property
    def num_devices(self) -> int:
        """How many devices hold data: 1."""
        return 1

    @property
    def is_fully_replicated(self) -> bool:
        """True: every device (the one) holds the whole array."""
        return True  # one copy on one device is the whole array

    @property
    def is_fully_addressable(self) -> bool:
        """True: this process addresses every device of the sharding."""
        return True

    @property
    def memory_kind(self):
        """The kind of device memory ('device' for a device's default memory), or None on
        a runtime without memory spaces."""
        if self._memory_kind is not None:
            return self._memory_kind
        try:
            return self._device.default_memory().kind
        except (AttributeError, RuntimeError):  # a runtime without memory spaces
            return None

    def shard_shape(self, global_shape) -> tuple:
        """The shape of the shard an array of `global_shape` has on each device.

        Args:
          global_shape: the array's shape.

        Returns:
          `global_shape` as a tuple: the one shard is the whole array.
        """
        return tuple(global_shape)

    @property
    def _device_list(self) -> tuple:
        return (self._device,)

    def devices_indices_map(self, global_shape) -> dict:
        """Which block each device holds, as jax's: the whole array on the device.

        Args:
          global_shape: the array's shape.

        Returns:
          `{device: (slice(None),) * len(global_shape)}`.
        """
        return {self._device: (slice(None),) * len(global_shape)}

    def with_memory_kind(self, kind) -> "SingleDeviceSharding":
        """The same device with another memory kind.

        Args:
          kind: the memory kind, e.g. 'device' or 'pinned_host' where the runtime has it.

        Returns:
          A new `SingleDeviceSharding`.
        """
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
