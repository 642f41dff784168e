"""Combinators: Sequential, Parallel, Residual, and the fan-in layers Concatenate, Add.

A container's params (and state) are a dict keyed by its children's names
(``dense_0``, ``conv_1``, or ``name=``); children without parameters have no entry.
The key given to ``apply`` is split, one per child; other keywords go to the children
that take them (``mask=`` reaches MultiHeadAttention and nothing else).
"""

from collections.abc import Mapping

import funcnet.numpy as fnp
from funcnet import random, tree
from funcnet.nn.core import (
    Layer,
    LayerError,
    as_layer,
    assign_names,
    describe,
    is_empty,
    join,
    located_error,
    shapes_match,
)

__all__ = ["Add", "Concatenate", "Parallel", "Residual", "Sequential"]


def _split(key, n):
    if key is None:
        return [None] * n
    # fold_in(key, i) == split(key, n)[i], and it compiles once for every i.
    return [key] if n == 1 else [random.fold_in(key, i) for i in range(n)]


def _same_shapes(a, b) -> bool:
    sa = tree.tree_map(lambda v: tuple(v.shape), a)
    sb = tree.tree_map(lambda v: tuple(v.shape), b)
    return tree.tree_structure(a) == tree.tree_structure(b) and sa == sb


class _Container(Layer):
    def __init__(self, layers, *, name=None):
        super().__init__(name=name)
        if isinstance(layers, (Layer, Mapping)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"{type(self).__name__} takes a list of layers, got {layers!r}")
        self.layers = [as_layer(lyr) for lyr in layers]
        self.names = assign_names(self.layers)

    @property
    def stateful(self):
        return any(lyr.stateful for lyr in self.layers)

    def accepts(self, name):
        return any(lyr.accepts(name) for lyr in self.layers)

    def _check_keys(self, path, what, tree_, allow_none):
        if tree_ is None and allow_none:
            return {}
        if not isinstance(tree_, Mapping):
            raise located_error(
                self,
                path,
                f"{what} must be a dict keyed by the children's "
                f"names {self.names}, got {type(tree_).__name__}",
            )
        extra = set(tree_) - set(self.names)
        if extra:
            raise located_error(
                self,
                path,
                f"{what} have keys {sorted(map(str, tree_))}; "
                f"unexpected {sorted(map(str, extra))} (the children are "
                f"named {self.names})",
            )
        return tree_

    def _init_children(self, keys, shapes, path, chain=False):
        """Initialise the children; with ``chain`` (Sequential) ``shapes`` is the first
        input shape and each child's output shape is the next one's input shape."""
        params, state, outs, first = {}, {}, [], {}
        shape = shapes
        for i, (name, lyr, k) in enumerate(zip(self.names, self.layers, keys)):
            if not chain:
                shape = shapes[i]
            p, s, out = lyr._init(k, shape, join(path, name))
            if name in first:  # the same layer again: shared parameters
                if not _same_shapes(p, first[name]):
                    raise located_error(
                        self,
                        path,
                        f"layer {name!r} is used twice (shared "
                        f"parameters) with inputs that need different "
                        f"parameter shapes (second input shape {shape})",
                    )
            else:
                first[name] = p
                if not is_empty(p):
                    params[name] = p
                if not is_empty(s):
                    state[name] = s
            outs.append(out)
            shape = out
        return (params, state, outs[-1] if outs else shapes) if chain else (params, state, outs)

    def _apply_child(self, i, params, state, new_state, x, key, train, path, kw):
        name, lyr = self.names[i], self.layers[i]
        p = params.get(name, {})
        s = None
        if state is not None:
            s = new_state.get(name, state.get(name, {}))
        ckw = {a: v for a, v in kw.items() if lyr.accepts(a)}
        y, ns = lyr._apply(p, s, x, key=key, train=train, path=join(path, name), **ckw)
        if state is not None and not is_empty(ns):
            new_state[name] = ns
        return y

    def _check_kw(self, path, kw):
        unused = [a for a in kw if not self.accepts(a)]
        if unused:
            raise TypeError(
                f"{describe(self, path)}: no layer in it takes the keyword argument {unused[0]!r}"
            )


class Sequential(_Container):
    """Layers applied one after the other; shapes are inferred along the chain.

    Example::

        model = nn.Sequential([nn.Conv(8, (3, 3)), nn.relu, nn.MaxPool((2, 2)),
                               nn.Flatten(), nn.Dense(10)])
        params, out_shape = model.init(random.key(0), (-1, 8, 8, 1))  # out_shape (-1, 10)
        logits = model.apply(params, x)
        params["conv_0"]["w"].shape                                  # (3, 3, 1, 8)
    """

    def _init(self, key, input_shape, path, **shape_kw):
        if shape_kw:
            raise TypeError(
                f"{describe(self, path)}.init got unexpected keywords {sorted(shape_kw)}"
            )
        return self._init_children(_split(key, len(self.layers)), input_shape, path, chain=True)

    def _apply(self, params, state, x, *, key, train, path, **kw):
        self._check_kw(path, kw)
        params = self._check_keys(path, "params", params, allow_none=True)
        if state is not None:
            state = self._check_keys(path, "state", state, allow_none=False)
        keys = _split(key, len(self.layers))
        new_state = {}
        for i in range(len(self.layers)):
            x = self._apply_child(i, params, state, new_state, x, keys[i], train, path, kw)
        if state is not None:  # keep entries of shared / untouched children
            new_state = {**state, **new_state}
        return x, new_state


class Parallel(_Container):
    """Branches side by side. Given a tuple of inputs, branch i gets input i; given one
    input, every branch gets it. Returns the tuple of outputs (merge them with
    ``Concatenate`` or ``Add``)."""

    def _inputs(self, path, x, is_multi):
        n = len(self.layers)
        if not is_multi:
            return [x] * n
        if len(x) != n:
            raise located_error(self, path, f"got {len(x)} inputs for {n} branches")
        return list(x)

    def _init(self, key, input_shape, path, **shape_kw):
        multi = bool(input_shape) and isinstance(input_shape[0], tuple)
        shapes = self._inputs(path, input_shape, multi)
        params, state, outs = self._init_children(_split(key, len(self.layers)), shapes, path)
        return params, state, tuple(outs)

    def _apply(self, params, state, x, *, key, train, path, **kw):
        self._check_kw(path, kw)
        params = self._check_keys(path, "params", params, allow_none=True)
        if state is not None:
            state = self._check_keys(path, "state", state, allow_none=False)
        xs = self._inputs(path, x, isinstance(x, (tuple, list)))
        keys = _split(key, len(self.layers))
        new_state = {}
        ys = tuple(
            self._apply_child(i, params, state, new_state, xs[i], keys[i], train, path, kw)
            for i in range(len(self.layers))
        )
        if state is not None:
            new_state = {**state, **new_state}
        return ys, new_state


class Residual(Layer):
    """``x + f(x)``. ``f`` is a layer (or a list of layers, made a Sequential); its
    params are Residual's params (no extra nesting). Its output must have x's shape."""

    def __init__(self, layer, *, name=None):
        super().__init__(name=name)
        self.layer = Sequential(layer) if isinstance(layer, (list, tuple)) else as_layer(layer)

    @property
    def stateful(self):
        return self.layer.stateful

    def accepts(self, name):
        return self.layer.accepts(name)

    def _init(self, key, input_shape, path, **shape_kw):
        params, state, out = self.layer._init(key, input_shape, path, **shape_kw)
        if not shapes_match(out, input_shape):
            raise located_error(
                self,
                path,
                f"the inner layer maps an input of shape "
                f"{input_shape} to {out}; a residual connection needs the "
                "same shape",
            )
        return params, state, input_shape

    def _apply(self, params, state, x, *, key, train, path, **kw):
        y, new_state = self.layer._apply(params, state, x, key=key, train=train, path=path, **kw)
        if tuple(y.shape) != tuple(x.shape):
            raise located_error(
                self,
                path,
                f"the inner layer maps an input of shape "
                f"{tuple(x.shape)} to {tuple(y.shape)}; a residual "
                "connection needs the same shape",
            )
        return x + y, new_state


def _normalize_axis(axis, rank, layer, what):
    if not -rank <= axis < rank:
        raise LayerError(f"axis {axis} is out of range for {what} of rank {rank}")
    return axis % rank


class Concatenate(Layer):
    """Concatenate a tuple of inputs along ``axis`` (a fan-in after Parallel)."""

    def __init__(self, axis=-1, *, name=None):
        super().__init__(name=name)
        self.axis = int(axis)

    def output_shape(self, input_shape):
        if not (input_shape and isinstance(input_shape[0], tuple)):
            raise LayerError(f"expects a tuple of inputs, got one of shape {input_shape}")
        rank = len(input_shape[0])
        ax = _normalize_axis(self.axis, rank, self, "inputs")
        for s in input_shape:
            if len(s) != rank or not shapes_match(
                s[:ax] + s[ax + 1 :], input_shape[0][:ax] + input_shape[0][ax + 1 :]
            ):
                raise LayerError(
                    f"inputs of shapes {list(input_shape)} differ outside axis {self.axis}"
                )
        sizes = [s[ax] for s in input_shape]
        total = -1 if -1 in sizes else sum(sizes)
        return input_shape[0][:ax] + (total,) + input_shape[0][ax + 1 :]

    def forward(self, params, x):
        self.output_shape(tuple(tuple(e.shape) for e in x))
        return fnp.concatenate(list(x), axis=self.axis)


class Add(Layer):
    """Sum a tuple of inputs of one shape (a fan-in after Parallel)."""

    def output_shape(self, input_shape):
        if not (input_shape and isinstance(input_shape[0], tuple)):
            raise LayerError(f"expects a tuple of inputs, got one of shape {input_shape}")
        for s in input_shape[1:]:
            if not shapes_match(s, input_shape[0]):
                raise LayerError(f"inputs have different shapes {list(input_shape)}")
        return input_shape[0]

    def forward(self, params, x):
        self.output_shape(tuple(tuple(e.shape) for e in x))
        out = x[0]
        for e in x[1:]:
            out = out + e
        return out
