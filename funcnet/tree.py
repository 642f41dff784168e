"""Pytrees, from jax.tree_util (a well-kept C++ pytree library; not rewritten here).

`funcnet.tree` reads as `jax.tree` (`fn.tree.map`, `fn.tree.leaves`, ...), and keeps the
`tree_*` names funcnet's own modules use. `funcnet.tree_util` has jax.tree_util's names.
This module and the runtime (funcnet/runtime/*.py) are the only places funcnet imports jax.

Example:
  >>> params = {"w": fnp.ones(2), "b": 1.0}
  >>> fn.tree.map(lambda x: x * 2, params)
  {'b': 2.0, 'w': Array([2., 2.], dtype=float32)}
  >>> leaves, treedef = fn.tree.flatten(params)
  >>> treedef
  PyTreeDef({'b': *, 'w': *})
"""

from jax import tree as _tree
from jax import tree_util as _tu

# --- jax.tree's names -------------------------------------------------------------------------
# Bound as module attributes rather than defined, so that a reader sees they are jax's own
# (same signatures, is_leaf included). `map` and `all` shadow the builtins in this module
# only: nothing below calls the builtins.
map = _tree.map
leaves = _tree.leaves
structure = _tree.structure
flatten = _tree.flatten
unflatten = _tree.unflatten
transpose = _tree.transpose
reduce = _tree.reduce
all = _tree.all
leaves_with_path = _tree.leaves_with_path
map_with_path = _tree.map_with_path
flatten_with_path = _tree.flatten_with_path
broadcast = _tree.broadcast
reduce_associative = _tree.reduce_associative

# --- jax.tree_util's names (funcnet.tree_util re-exports these) --------------------------------
tree_flatten = _tu.tree_flatten
tree_unflatten = _tu.tree_unflatten
tree_leaves = _tu.tree_leaves
tree_structure = _tu.tree_structure
tree_map = _tu.tree_map
tree_transpose = _tu.tree_transpose
tree_reduce = _tu.tree_reduce
tree_reduce_associative = _tu.tree_reduce_associative
tree_all = _tu.tree_all
tree_broadcast = _tu.tree_broadcast
tree_flatten_with_path = _tu.tree_flatten_with_path
tree_leaves_with_path = _tu.tree_leaves_with_path
tree_map_with_path = _tu.tree_map_with_path
keystr = _tu.keystr
register_pytree_node = _tu.register_pytree_node
register_pytree_node_class = _tu.register_pytree_node_class
register_pytree_with_keys = _tu.register_pytree_with_keys
register_pytree_with_keys_class = _tu.register_pytree_with_keys_class
register_dataclass = _tu.register_dataclass
register_static = _tu.register_static
PyTreeDef = _tu.PyTreeDef
Partial = _tu.Partial
DictKey = _tu.DictKey
SequenceKey = _tu.SequenceKey
GetAttrKey = _tu.GetAttrKey
FlattenedIndexKey = _tu.FlattenedIndexKey
KeyEntry = _tu.KeyEntry
KeyPath = _tu.KeyPath
all_leaves = _tu.all_leaves
treedef_is_leaf = _tu.treedef_is_leaf
treedef_children = _tu.treedef_children
treedef_tuple = _tu.treedef_tuple
is_tree_node = _tu.is_tree_node
flatten_one_level = _tu.flatten_one_level
flatten_one_level_with_keys = _tu.flatten_one_level_with_keys
default_registry = _tu.default_registry


def leaf_paths(tree) -> list[str]:
    """Readable paths of a pytree's leaves, in flattening order (funcnet's own helper,
    used in error messages).

    Args:
      tree: any pytree.

    Returns:
      A list of strs, one per leaf, as `keystr` writes key paths (`"[0]['w']"`); the
      path of a tree that is a single leaf is `""`.

    Example:
      >>> fn.tree.leaf_paths({"w": fnp.ones(2), "b": [1.0, 2.0]})
      ["['b'][0]", "['b'][1]", "['w']"]
    """
    return [keystr(path) for path, _ in tree_flatten_with_path(tree)[0]]
