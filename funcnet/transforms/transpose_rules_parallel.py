"""Transpose rules of the linear collectives (funcnet.lax.parallel).

psum transposes to psum (as jax's, for vmap and check_vma=False); with replication
tracked (check_vma) shard_map turns a psum of a varying value into psum_invariant, whose
transpose is pvary, and pvary's is psum_invariant. all_gather and reduce_scatter are
each other's transposes, ppermute transposes to the inverse permutation, all_to_all to
the one with split and concat axes swapped.
"""

from funcnet.lax import parallel as par
from funcnet.transforms.ad_util import Zero
from funcnet.transforms.transpose import transpose_rules


def _linear(make):
    def rule(ct, x, **params):
        if isinstance(ct, Zero):
            return [Zero(x.aval)]
        return [make(ct, **params)]

    return rule


transpose_rules.register(par.psum_p)(
    _linear(lambda ct, axis_name: par.psum_p.bind(ct, axis_name=axis_name))
)
transpose_rules.register(par.psum_invariant_p)(
    _linear(lambda ct, axis_name: par.pvary_p.bind(ct, axis_name=axis_name))
)
transpose_rules.register(par.pvary_p)(
    _linear(lambda ct, axis_name: par.psum_invariant_p.bind(ct, axis_name=axis_name))
)
transpose_rules.register(par.all_gather_p)(
    _linear(
        lambda ct, axis_name, all_gather_dimension, axis_size: par.reduce_scatter_p.bind(
            ct, axis_name=axis_name, scatter_dimension=all_gather_dimension, axis_size=axis_size
        )
    )
)
transpose_rules.register(par.reduce_scatter_p)(
    _linear(
        lambda ct, axis_name, scatter_dimension, axis_size: par.all_gather_p.bind(
            ct, axis_name=axis_name, all_gather_dimension=scatter_dimension, axis_size=axis_size
        )
    )
)
transpose_rules.register(par.ppermute_p)(
    _linear(
        lambda ct, axis_name, perm: par.ppermute_p.bind(
            ct, axis_name=axis_name, perm=tuple((d, s) for s, d in perm)
        )
    )
)
transpose_rules.register(par.all_to_all_p)(
    _linear(
        lambda ct, axis_name, split_axis, concat_axis, axis_size: par.all_to_all_p.bind(
            ct,
            axis_name=axis_name,
            split_axis=concat_axis,
            concat_axis=split_axis,
            axis_size=axis_size,
        )
    )
)
