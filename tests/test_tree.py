"""fn.tree (as jax.tree) and funcnet.tree_util (as jax.tree_util), against jax."""

import dataclasses
import functools
import operator

import jax
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import tree_util

_TREE = {"w": [1.0, 2.0], "b": (3.0, None), "n": {"k": 4.0}}
_IS_LEAF = lambda x: isinstance(x, list)  # noqa: E731


def _same(a, b):
    """Equal pytrees: same structure, equal leaves."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb, (ta, tb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize(
    "name, call",
    [
        ("map", lambda t: t.map(lambda x, y: x * 2 + y, _TREE, _TREE)),
        (
            "map is_leaf",
            lambda t: t.map(lambda v: len(v) if _IS_LEAF(v) else v, _TREE, is_leaf=_IS_LEAF),
        ),
        ("leaves", lambda t: t.leaves(_TREE)),
        ("leaves is_leaf", lambda t: t.leaves(_TREE, is_leaf=_IS_LEAF)),
        ("structure", lambda t: str(t.structure(_TREE))),
        ("flatten", lambda t: (t.flatten(_TREE)[0], str(t.flatten(_TREE)[1]))),
        ("unflatten", lambda t: t.unflatten(t.structure(_TREE), [10, 20, 30, 40])),
        ("reduce", lambda t: t.reduce(operator.add, _TREE)),
        ("reduce init", lambda t: t.reduce(operator.add, _TREE, 100.0)),
        ("all", lambda t: (t.all(_TREE), t.all({"a": 1, "b": 0}))),
        (
            "leaves_with_path",
            lambda t: [(jax.tree_util.keystr(p), v) for p, v in t.leaves_with_path(_TREE)],
        ),
        ("map_with_path", lambda t: t.map_with_path(lambda p, v: len(p) * v, _TREE)),
        (
            "flatten_with_path",
            lambda t: [jax.tree_util.keystr(p) for p, _ in t.flatten_with_path(_TREE)[0]],
        ),
        (
            "transpose",
            lambda t: t.transpose(
                t.structure([0, 0]), t.structure((0, 0, 0)), [(1, 2, 3), (4, 5, 6)]
            ),
        ),
    ],
)
def test_fn_tree_matches_jax_tree(name, call):
    assert call(fn.tree) == call(jax.tree)


def test_fn_tree_functions_have_jax_signatures():
    import inspect

    for name in (
        "map",
        "leaves",
        "structure",
        "flatten",
        "unflatten",
        "transpose",
        "reduce",
        "all",
        "leaves_with_path",
        "map_with_path",
        "flatten_with_path",
    ):
        assert inspect.signature(getattr(fn.tree, name)) == inspect.signature(
            getattr(jax.tree, name)
        ), name


def test_funcnet_internal_names_still_work():
    leaves, treedef = fn.tree.tree_flatten(_TREE)
    assert fn.tree.tree_unflatten(treedef, leaves) == _TREE
    assert fn.tree.tree_leaves(_TREE) == jax.tree_util.tree_leaves(_TREE)
    assert fn.tree.leaf_paths({"a": [1, 2]}) == ["['a'][0]", "['a'][1]"]
    assert fn.tree.tree_all([1, 1]) and not fn.tree.tree_all([1, 0])


# Names of jax.tree_util that funcnet.tree_util leaves out on purpose, with the reason.
_OMITTED_FROM_TREE_UTIL: dict[str, str] = {
    # (none today: every public name is re-exported, since funcnet's pytrees are
    # jax.tree_util's. Add a name here with its reason if one must be left out.)
}


def test_tree_util_has_jax_tree_util_public_names():
    theirs = {n for n in dir(jax.tree_util) if not n.startswith("_")}
    ours = {n for n in dir(tree_util) if not n.startswith("_")}
    missing = theirs - ours - set(_OMITTED_FROM_TREE_UTIL)
    assert not missing, f"funcnet.tree_util lacks {sorted(missing)}"
    assert set(tree_util.__all__) <= ours


@tree_util.register_pytree_node_class
class _Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def tree_flatten(self):
        return (self.x, self.y), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


@functools.partial(tree_util.register_dataclass, data_fields=["w"], meta_fields=["name"])
@dataclasses.dataclass
class _Layer:
    w: object
    name: str


def test_registered_classes_go_through_funcnet_transforms():
    p = _Point(fnp.asarray(2.0), fnp.asarray(3.0))
    g = fn.grad(lambda p: p.x**2 * p.y)(p)
    assert isinstance(g, _Point)
    np.testing.assert_allclose([float(g.x), float(g.y)], [12.0, 4.0])
    layer = _Layer(fnp.ones(3), "dense")
    out = fn.jit(lambda lay: lay.w.sum() * (2.0 if lay.name == "dense" else 1.0))(layer)
    np.testing.assert_allclose(float(out), 6.0)
    gl = fn.grad(lambda lay: (lay.w**2).sum())(layer)
    assert isinstance(gl, _Layer) and gl.name == "dense"
    np.testing.assert_allclose(np.asarray(gl.w), [2.0, 2.0, 2.0])


def test_register_pytree_node_and_keys_match_jax():
    class Box:
        def __init__(self, a, b):
            self.a, self.b = a, b

    tree_util.register_pytree_with_keys(
        Box,
        lambda b: (((tree_util.GetAttrKey("a"), b.a), (tree_util.GetAttrKey("b"), b.b)), None),
        lambda aux, ch: Box(*ch),
    )
    paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(Box(1, [2, 3]))[0]]
    assert paths == [".a", ".b[0]", ".b[1]"]
    assert tree_util.tree_leaves(Box(1, {"z": 2})) == jax.tree_util.tree_leaves(Box(1, {"z": 2}))


def test_partial_is_a_pytree_through_jit():
    scale = tree_util.Partial(lambda s, x: s * x, fnp.asarray(3.0))
    out = fn.jit(lambda f, x: f(x))(scale, fnp.asarray(2.0))
    np.testing.assert_allclose(float(out), 6.0)


def test_key_types_and_helpers_match_jax():
    ((path, _),) = tree_util.tree_flatten_with_path({"a": [None, 5]})[0]
    assert path == (tree_util.DictKey("a"), tree_util.SequenceKey(1))
    assert tree_util.all_leaves([1, 2.0]) and not tree_util.all_leaves([[1]])
    assert tree_util.treedef_is_leaf(tree_util.tree_structure(1.0))
    _same(
        tree_util.tree_map_with_path(lambda p, v: v + len(p), _TREE),
        jax.tree_util.tree_map_with_path(lambda p, v: v + len(p), _TREE),
    )
