"""Transpose of with_sharding_constraint (linear: the identity): the cotangent gets the
same constraint (as jax)."""

from funcnet.lax.sharding import sharding_constraint_p
from funcnet.transforms.ad_util import Zero
from funcnet.transforms.transpose import transpose_rules


@transpose_rules.register(sharding_constraint_p)
def _sharding_constraint_t(ct, x, *, sharding):
    if isinstance(ct, Zero):
        return [ct]
    return [sharding_constraint_p.bind(ct, sharding=sharding)]
