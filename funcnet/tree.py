"""Pytrees, from jax.tree_util (a well-kept C++ pytree library; not rewritten here)."""

from jax import tree_util as _tu

tree_flatten = _tu.tree_flatten
tree_unflatten = _tu.tree_unflatten
tree_leaves = _tu.tree_leaves
tree_structure = _tu.tree_structure
tree_map = _tu.tree_map
tree_flatten_with_path = _tu.tree_flatten_with_path
tree_map_with_path = _tu.tree_map_with_path
keystr = _tu.keystr
register_pytree_node = _tu.register_pytree_node
register_pytree_node_class = _tu.register_pytree_node_class
PyTreeDef = _tu.PyTreeDef
Partial = _tu.Partial


def tree_all(tree) -> bool:
    return all(tree_leaves(tree))


def leaf_paths(tree) -> list[str]:
    """Readable paths ("[0]['w']") of the leaves, in flattening order."""
    return [keystr(path) for path, _ in tree_flatten_with_path(tree)[0]]
