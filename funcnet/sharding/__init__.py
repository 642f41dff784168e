"""Shardings: where an array's data lives, as `jax.sharding`.

A `Mesh` lays devices out in a grid with named axes; a `PartitionSpec` says which mesh
axes split each dimension of an array; a `NamedSharding` pairs them (what
`fn.device_put`, `fn.jit(in_shardings=, out_shardings=)` and
`fn.lax.with_sharding_constraint` take). `SingleDeviceSharding` is all of the data on one
device. funcnet computes the layouts (which block each device holds) itself; the runtime
receives them as XLA buffer layouts and XLA's SPMD partitioner splits the programs.
"""

from funcnet.sharding.mesh import Mesh
from funcnet.sharding.named import NamedSharding, TiledSharding
from funcnet.sharding.partition_spec import PartitionSpec
from funcnet.sharding.single_device import SingleDeviceSharding

__all__ = ["Mesh", "NamedSharding", "PartitionSpec", "SingleDeviceSharding", "TiledSharding"]
