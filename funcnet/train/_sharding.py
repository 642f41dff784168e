"""`state_sharding`: the layout of a whole `TrainState` from the layout of its parameters.

Sharded training lays the state out once (`fn.device_put(state, shardings)`) and gives
the same shardings to the step (`make_step(..., state_sharding=shardings)`), as a flax
user passes `state_sharding` to `jax.jit`'s in/out_shardings. The optimizer's moments
(Adam's `mu` and `nu`, momentum traces) are trees shaped like the parameters: they take
the parameters' shardings, so that fully sharded data parallelism splits them too.
"""

import numpy as np

from funcnet import tree as tree_lib
from funcnet.lax.sharding import broadcast_prefix, is_sharding_leaf
from funcnet.sharding import NamedSharding, PartitionSpec

__all__ = ["state_sharding"]


def _shape(x) -> tuple:
    shape = getattr(x, "shape", None)  # arrays and ShapeDtypeStructs; np.shape for scalars
    return tuple(np.shape(x) if shape is None else shape)


def _mesh_of(shardings):
    for s in shardings:
        if isinstance(s, NamedSharding):
            return s.mesh
    raise ValueError(
        "state_sharding: params_sharding holds no NamedSharding, so there is no mesh to "
        "replicate the rest of the state over; give NamedSharding(mesh, spec) leaves"
    )


def state_sharding(state, params_sharding):
    """The shardings of a `TrainState`, for `fn.device_put` and `make_step`.

    The parameters take `params_sharding`; every subtree of the optimizer state that is
    shaped like the parameters (same tree structure, same leaf shapes: Adam's `mu` and
    `nu`, momentum) takes the same shardings; everything else (the step count, the
    optimizer's counters, `model_state`, the PRNG key) is replicated over the mesh.

    Args:
      state: a `TrainState` (or a tree of `ShapeDtypeStruct`s shaped like one).
      params_sharding: a `NamedSharding` for every parameter, or a pytree prefix of
        `state.params` with a `NamedSharding` (or None: unspecified) at each leaf, e.g.
        `P("data", None)` for each matrix of fully sharded data parallelism.

    Returns:
      A `TrainState` with the same `tx` whose leaves are shardings (None where
      `params_sharding` has None).

    Raises:
      ValueError: `params_sharding` does not match the parameters' structure (naming the
        path) or holds no `NamedSharding`.

    Example:
      >>> from funcnet import train
      >>> from funcnet.sharding import Mesh, NamedSharding, PartitionSpec as P
      >>> mesh = Mesh(fn.devices()[:1], ("data",))
      >>> state = train.TrainState.create(params={"w": fnp.ones((4, 2))}, tx=optim.adam(0.1))
      >>> shardings = train.state_sharding(state, NamedSharding(mesh, P("data", None)))
      >>> shardings.opt_state[0].mu["w"].spec, shardings.step.spec
      (PartitionSpec('data', None), PartitionSpec())
      >>> state = fn.device_put(state, shardings)
    """
    params = state.params
    flat = broadcast_prefix(params_sharding, params, "params_sharding", "state.params")
    replicated = NamedSharding(_mesh_of(flat), PartitionSpec())
    treedef = tree_lib.tree_structure(params)
    param_shardings = tree_lib.tree_unflatten(treedef, flat)
    shapes = [_shape(p) for p in tree_lib.tree_leaves(params)]

    def like_params(x):
        if is_sharding_leaf(x) or tree_lib.tree_structure(x) != treedef:
            return False
        return [_shape(leaf) for leaf in tree_lib.tree_leaves(x)] == shapes

    def opt_leaf(x):
        return param_shardings if like_params(x) else replicated

    def everywhere(tree):
        return tree_lib.tree_map(lambda _: replicated, tree)

    return state.replace(
        step=replicated,
        params=param_shardings,
        opt_state=tree_lib.tree_map(opt_leaf, state.opt_state, is_leaf=like_params),
        model_state=everywhere(state.model_state),
        key=None if state.key is None else everywhere(state.key),
    )
