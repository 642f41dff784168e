"""Batching of with_sharding_constraint: the batch dimension is not split (a None
entry inserted in the spec at the batch dimension, as jax without spmd_axis_name)."""

from funcnet.core.trace import get_aval
from funcnet.lax.sharding import batch_sharding, sharding_constraint_p
from funcnet.transforms.batching import batching_rules


@batching_rules.register(sharding_constraint_p)
def _sharding_constraint_batch(size, vals, dims, *, sharding):
    (x,), (d,) = vals, dims
    if d is None:
        return sharding_constraint_p.bind(x, sharding=sharding), None
    ndim = len(get_aval(x).shape) - 1
    return sharding_constraint_p.bind(x, sharding=batch_sharding(sharding, ndim, d)), d
