"""Devices and placement."""

from funcnet.backend import xla
from funcnet.core.array import Array, asarray_from_value


def devices(backend: str | None = None):
    """The devices XLA offers (default backend, or 'cpu' / 'gpu')."""
    return xla.devices(backend)


def device_put(x, device=None):
    """Place a pytree of arrays on `device` (default: the first device)."""
    from funcnet import tree
    return tree.tree_map(lambda v: asarray_from_value(v, device=device or xla.default_device()), x)


def asarray(x, dtype=None) -> Array:
    """A concrete funcnet Array from a NumPy array, scalar, list, or Array."""
    from funcnet import numpy as fnp
    return fnp.asarray(x, dtype=dtype)
