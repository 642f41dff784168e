"""with_sharding_constraint: an identity that tells XLA's SPMD partitioner how an
intermediate value must be laid out over a mesh.

`sharding_constraint_p` is the identity on values; it lowers to Shardy's
`sdy.sharding_constraint` (backend/lowering_sharding.py). Its derivative rules keep
the constraint on tangents and cotangents (as jax), vmap inserts an unsplit dimension
for the batch, and eagerly it moves the array to the sharding (`fn.device_put`).

`broadcast_prefix` spreads a pytree prefix of shardings over a pytree (shared with
jit's in_shardings/out_shardings).
"""

from funcnet import tree
from funcnet.core.trace import Primitive, get_aval
from funcnet.sharding import NamedSharding, PartitionSpec

sharding_constraint_p = Primitive("sharding_constraint")


@sharding_constraint_p.def_abstract_eval
def _abstract_eval(x, *, sharding):
    sharding.check(x.shape)
    return x


def is_sharding_leaf(x) -> bool:
    """Whether `x` is a leaf of a tree of shardings (a sharding, a spec, or None)."""
    return x is None or isinstance(x, (NamedSharding, PartitionSpec)) or hasattr(x, "_layout")


def _describe(node) -> str:
    if isinstance(node, dict):
        return f"a dict with keys {sorted(map(str, node))}"
    if isinstance(node, (tuple, list)):
        return f"a {type(node).__name__} of length {len(node)}"
    return "a leaf (an array)"


def _mismatch(prefix, full, path):
    """(path, what the prefix has, what the tree has) where they first differ, or None."""
    if is_sharding_leaf(prefix):
        return None
    if type(prefix) is not type(full) and not (
        isinstance(prefix, (tuple, list)) and isinstance(full, (tuple, list))
    ):
        return path, _describe(prefix), _describe(full)
    if isinstance(prefix, dict):
        if set(prefix) != set(full):
            return path, _describe(prefix), _describe(full)
        items = [(f"[{k!r}]", prefix[k], full[k]) for k in prefix]
    elif isinstance(prefix, (tuple, list)):
        if len(prefix) != len(full):
            return path, _describe(prefix), _describe(full)
        items = [(f"[{i}]", p, f) for i, (p, f) in enumerate(zip(prefix, full))]
    else:
        return None
    for key, p, f in items:
        found = _mismatch(p, f, path + key)
        if found:
            return found
    return None


def broadcast_prefix(prefix, full, what: str, root: str) -> list:
    """One entry of `prefix` per leaf of `full`: `prefix` is a sharding (or None), or a
    pytree prefix of `full` with shardings/None at its leaves.

    Args:
      prefix: the shardings.
      full: the pytree they describe.
      what: the option's name for messages ("in_shardings").
      root: the tree's name for messages ("the positional arguments").

    Returns:
      A list with one sharding or None per leaf of `full`.

    Raises:
      ValueError: `prefix` is not a prefix of `full` (naming the path where they
        differ).
    """
    if is_sharding_leaf(prefix):
        return [prefix] * len(tree.tree_leaves(full))
    pdef = tree.tree_structure(prefix, is_leaf=is_sharding_leaf)
    try:
        subtrees = pdef.flatten_up_to(full)
    except (ValueError, TypeError) as e:
        found = _mismatch(prefix, full, "")
        if found is None:
            raise ValueError(f"{what} does not match the structure of {root}: {e}") from None
        path, p, f = found
        raise ValueError(
            f"{what} does not match the structure of {root}: at {root}{path}, "
            f"{what} has {p} but {root} has {f}. {what} must be a sharding, None, or a "
            f"pytree prefix of {root} with shardings or None at its leaves."
        ) from None
    out = []
    for s, sub in zip(tree.tree_leaves(prefix, is_leaf=is_sharding_leaf), subtrees):
        out += [s] * len(tree.tree_leaves(sub))
    return out


def check_sharding(sharding, shape, what: str):
    """Raise a clear error unless `sharding` is a NamedSharding that fits `shape` (not
    checked when `shape` is None)."""
    if isinstance(sharding, PartitionSpec):
        raise TypeError(
            f"{what}: got the PartitionSpec {sharding}, which needs a mesh; funcnet has "
            "no ambient mesh (jax's `with mesh:`), so pass NamedSharding(mesh, spec)"
        )
    if not isinstance(sharding, NamedSharding):
        raise TypeError(
            f"{what}: expected a NamedSharding, got {type(sharding).__name__}: {sharding!r:.80}"
        )
    if shape is None:
        return
    try:
        sharding.check(shape)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def with_sharding_constraint(x, shardings):
    """Constrains how `x` is laid out over the devices inside a jitted function, as
    `jax.lax.with_sharding_constraint`: XLA's SPMD partitioner keeps the value in that
    layout (moving data between devices if needed). Outside jit it moves the array to
    the sharding, as `fn.device_put`.

    Args:
      x: an array or a pytree of arrays.
      shardings: a `NamedSharding`, or a pytree prefix of `x` with a NamedSharding (or
        None: no constraint) per leaf. (A bare `PartitionSpec` needs jax's ambient mesh,
        which funcnet does not have: pass `NamedSharding(mesh, spec)`.)

    Returns:
      `x`, with the same values, constrained to the shardings.

    Raises:
      ValueError: the shardings do not match `x`'s structure (naming the path), or a
        sharding does not fit its array (an axis the mesh lacks, a dimension its mesh
        axes do not divide: funcnet refuses uneven blocks, as jax).
      TypeError: a leaf of `shardings` is not a NamedSharding.

    Example:
      >>> from funcnet.sharding import Mesh, NamedSharding, PartitionSpec as P
      >>> s = NamedSharding(Mesh(fn.devices()[:1], ("data",)), P("data"))
      >>> f = fn.jit(lambda x: lax.with_sharding_constraint(x * 2, s) + 1)
      >>> f(fnp.ones(4)).tolist()
      [3.0, 3.0, 3.0, 3.0]
    """
    leaves, treedef = tree.tree_flatten(x)
    per_leaf = broadcast_prefix(shardings, x, "with_sharding_constraint's shardings", "x")
    paths = tree.leaf_paths(x)
    outs = []
    for leaf, s, path in zip(leaves, per_leaf, paths):
        if s is None:
            outs.append(leaf)
            continue
        aval = get_aval(leaf)
        check_sharding(s, aval.shape, f"with_sharding_constraint (x{path})")
        outs.append(sharding_constraint_p.bind(leaf, sharding=s))
    return tree.tree_unflatten(treedef, outs)


def batch_sharding(sharding, ndim: int, dim: int):
    """The sharding of a batched value: `sharding` with an unsplit dimension inserted at
    the batch dimension `dim` (of a rank `ndim + 1` result)."""
    spec = list(sharding.spec) + [None] * (ndim - len(sharding.spec))
    spec.insert(dim, None)
    return NamedSharding(sharding.mesh, PartitionSpec(*spec), memory_kind=sharding._memory_kind)
