"""jvp rules of the collectives (funcnet.lax.parallel).

Every collective but pmax/pmin is linear: its tangent is the same collective of the
tangent. pmax/pmin pass on the tangent of the positions holding the extreme value,
averaged over ties (as reduce_max's rule), so their jvp is a masked psum.
"""

from funcnet import lax
from funcnet.lax import parallel as par
from funcnet.transforms.ad_util import Zero
from funcnet.transforms.jvp import jvp_rules
from funcnet.transforms.jvp_rules import deflinear

deflinear(
    par.psum_p,
    par.psum_invariant_p,
    par.pvary_p,
    par.all_gather_p,
    par.reduce_scatter_p,
    par.ppermute_p,
    par.all_to_all_p,
)


def _extreme_jvp(prim):
    def rule(primals, tangents, *, axis_name):
        (x,), (t,) = primals, tangents
        y = prim.bind(x, axis_name=axis_name)
        if isinstance(t, Zero):
            return y, t
        mask = lax.convert_element_type(lax.eq(x, y), t.dtype)
        ties = par.psum_p.bind(mask, axis_name=axis_name)
        return y, lax.div(par.psum_p.bind(lax.mul(t, mask), axis_name=axis_name), ties)

    return rule


jvp_rules.register(par.pmax_p)(_extreme_jvp(par.pmax_p))
jvp_rules.register(par.pmin_p)(_extreme_jvp(par.pmin_p))
# axis_index has no operand: its rule only completes the table (it is never called).
jvp_rules.register(par.axis_index_p)(
    lambda primals, tangents, *, axis_name: (par.axis_index_p.bind(axis_name=axis_name), None)
)
