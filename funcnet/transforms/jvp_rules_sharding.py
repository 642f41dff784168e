"""jvp of with_sharding_constraint: the tangent gets the primal's constraint (as jax)."""

from funcnet.lax.sharding import sharding_constraint_p
from funcnet.transforms.ad_util import Zero
from funcnet.transforms.jvp import jvp_rules


@jvp_rules.register(sharding_constraint_p)
def _sharding_constraint_jvp(primals, tangents, *, sharding):
    (x,), (t,) = primals, tangents
    out = sharding_constraint_p.bind(x, sharding=sharding)
    if isinstance(t, Zero):
        return out, t
    return out, sharding_constraint_p.bind(t, sharding=sharding)
