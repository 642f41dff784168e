"""Walking a model's layers, shared by ``calibrate``, ``quantize_model`` and the QAT
functions.

A model is a tree of layers: the containers ``Sequential`` and ``Parallel`` (each child
under its name), ``Residual`` (its one child under the Residual's own path: it has the
same params), and leaves: every other layer, custom ``Layer`` subclasses included (they
are not looked into). A layer's *path* is the ``'/'``-joined keys of its params in the
model's params tree (``"dense_0"``, ``"sequential_0/conv_1"``; ``""`` for the model
itself), as ``nn.core.join`` builds them.
"""

import copy
from collections.abc import Mapping

from funcnet.nn.combinators import Parallel, Residual, Sequential
from funcnet.nn.conv import Conv, ConvTranspose
from funcnet.nn.core import join
from funcnet.nn.linear import Dense


def quantizable(layer) -> bool:
    """A float Dense or Conv (a ConvTranspose computes something else)."""
    return isinstance(layer, Dense) or (
        isinstance(layer, Conv) and not isinstance(layer, ConvTranspose)
    )


def children(layer):
    """``[(path suffix, child)]`` of a container (``None``: the child shares the
    container's path, as Residual's), ``[]`` for a leaf layer."""
    if isinstance(layer, (Sequential, Parallel)):
        return list(zip(layer.names, layer.layers))
    if isinstance(layer, Residual):
        return [(None, layer.layer)]
    return []


def child_path(path, name):
    return path if name is None else join(path, name)


def child_tree(tree, name):
    """The params (or state) of a container's child: ``tree[name]``, ``{}`` when the
    child has none; ``tree`` itself for a child under the same path (``name`` None)."""
    if name is None:
        return tree
    return tree.get(name, {}) if isinstance(tree, Mapping) else {}


def leaves(model, path=""):
    """``[(path, layer)]`` of every leaf layer of ``model``, in order; a layer used
    again under the same path (shared params) is listed once."""
    out = {}

    def visit(layer, path):
        kids = children(layer)
        if not kids:
            out.setdefault(path, layer)
        for name, child in kids:
            visit(child, child_path(path, name))

    visit(model, path)
    return list(out.items())


def map_leaves(model, fun):
    """A copy of ``model`` with every leaf layer replaced by ``fun(layer, path)``; the
    containers are shallow copies with the same children's names (so the params keep
    their keys), ``model`` is not changed, and a layer object used in several places is
    mapped once (at its first path) and stays shared."""
    memo = {}

    def walk(layer, path):
        if id(layer) in memo:
            return memo[id(layer)]
        if isinstance(layer, (Sequential, Parallel)):
            new = copy.copy(layer)
            new.layers = [walk(child, join(path, name)) for name, child in children(layer)]
            new.names = list(layer.names)
        elif isinstance(layer, Residual):
            new = copy.copy(layer)
            new.layer = walk(layer.layer, path)
        else:
            new = fun(layer, path)
        memo[id(layer)] = new
        return new

    return walk(model, "")


def _keys(path):
    return path.split("/") if path else []


def subtree(tree, path):
    """The params (or state) at ``path`` in ``tree``; ``{}`` where a key is missing (a
    layer without params)."""
    for k in _keys(path):
        tree = child_tree(tree, k)
    return tree


def set_at(tree, path, value):
    """Puts ``value`` at ``path`` in the nested dict ``tree`` (changed in place; dicts
    made on the way) and returns ``tree``, or ``value`` itself for the path ``""``."""
    keys = _keys(path)
    if not keys:
        return value
    node = tree
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return tree


def copy_dicts(tree):
    """A copy of the nested dicts of ``tree`` (the leaves are shared)."""
    return {k: copy_dicts(v) for k, v in tree.items()} if isinstance(tree, dict) else tree
