"""with_sharding_constraint in programs and eagerly.

In a program it lowers to Shardy's `sdy.sharding_constraint`; the constraint names its
mesh by symbol (`em.module.mesh_name` declares it in the module's header), which makes
the module a partitioned (SPMD) program. Eagerly (outside jit) it moves the array to
the sharding, as `fn.device_put`."""

from funcnet.backend import sharded
from funcnet.backend.lowering import lowering_rules
from funcnet.core.trace import impl_rules
from funcnet.lax.sharding import sharding_constraint_p
from funcnet.sharding._sdy import sharding_attr


@lowering_rules.register(sharding_constraint_p)
def _lower_sharding_constraint(em, x, *, sharding):
    aval = em.in_avals[0]
    attr = sharding_attr(sharding.spec, len(aval.shape), em.module.mesh_name(sharding.mesh))
    return [em.op1("sdy.sharding_constraint", [x], [aval], aval, sharding=attr)]


@impl_rules.register(sharding_constraint_p)
def _sharding_constraint_impl(prim, x, *, sharding):
    return sharded.put(x, sharding)
