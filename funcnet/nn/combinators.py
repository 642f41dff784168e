"""Combinators: Sequential, Parallel, Residual, and the fan-in layers Concatenate, Add.

A container's params (and state) are a dict keyed by its children's names
(``dense_0``, ``conv_1``, or ``name=``); children without parameters have no entry.
The key given to ``apply`` is split, one per child; other keywords go to the children
that take them (``mask=`` reaches MultiHeadAttention and nothing else).
"""

from collections.abc import Mapping

import numpy as np

import funcnet.numpy as fnp
from funcnet import random, tree
from funcnet.nn.core import (
    Fn,
    Layer,
    LayerError,
    _fun_name,
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


def _child_repr(lyr):
    if isinstance(lyr, Fn):  # a plain function, as the user wrote it: relu
        return _fun_name(lyr.fun) if lyr.name is None else repr(lyr)
    return repr(lyr)


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

    def __repr__(self):
        children = [_child_repr(lyr) for lyr in self.layers]
        extra = f", name={self.name!r}" if self.name else ""
        if not any(
            "\n" in c or isinstance(lyr, _Container) for c, lyr in zip(children, self.layers)
        ):
            return f"{type(self).__name__}([{', '.join(children)}]{extra})"
        body = "".join(f"    {c.replace(chr(10), chr(10) + '    ')},\n" for c in children)
        return f"{type(self).__name__}([\n{body}]{extra})"

    # Declarations, so that a container nests inside a custom Layer's param_specs: the
    # children's specs keyed by their names, and the output shape along the chain.
    def _child_shapes(self, input_shape):
        raise NotImplementedError

    def _specs(self, input_shape, which):
        specs = {}
        for name, lyr, shape in zip(self.names, self.layers, self._child_shapes(input_shape)):
            child = getattr(lyr, which)(shape)
            if child and name not in specs:
                specs[name] = child
        return specs

    def param_specs(self, input_shape):
        return self._specs(input_shape, "param_specs")

    def state_specs(self, input_shape):
        return self._specs(input_shape, "state_specs")

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
    """Layers applied one after the other (as stax.serial); shapes inferred along the chain.

    x: (batch, ...), whatever the first layer takes.

    The input is whatever the first layer takes (most layers want a leading batch axis;
    for one example use ``x[None]``, or ``fn.vmap(lambda x: model.apply(params,
    x[None])[0])``). Each child's output shape is the next one's input shape at init.
    ``apply``'s key is split, one per child (``fold_in(key, i)``); ``train`` reaches
    every child, and other keywords (``mask=``...) reach only the children that take
    them. The model is stateful if a child is (BatchNorm): then use
    ``init_with_state`` and ``apply(..., state=state)``.

    Recurrent children (RNN, GRU, LSTM): ``apply(params, x, initial_carry=carry,
    return_carry=True)`` returns ``(y, carry)``; the carry goes to and comes from the
    recurrent child, the others see only ``y``. With one recurrent child the carry is
    its own (``(c, h)`` for an LSTM); with several it is a dict keyed by the children's
    names (``{"gru_0": h, "lstm_0": (c, h)}``), in and out. ``initial_carry(batch)``
    gives the zero carry in that form.

    An ``Embedding`` followed by a ``Dense`` or a recurrent layer hands it the rows as
    an ``nn.Lookup`` when the table has fewer rows than there are ids: the layer maps
    the table once and picks rows of the result (a recurrent layer, step by step:
    ``funcnet.nn.lookup``; the same results up to rounding).

    Inside a custom ``Layer``: keep the Sequential as an attribute, declare its
    parameters as ``{"body": self.body.param_specs(input_shape)}`` (a container's
    ``param_specs`` nests its children's), return ``self.body.output_shape(input_shape)``
    and call ``self.body.apply(params["body"], x)`` in ``forward``.

    Args:
      layers: a list of layers and/or plain functions ``f(x)`` (wrapped in ``Fn``). The
        same layer object twice shares its parameters.
      name: the layer's key in an outer container (default ``sequential_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, output_shape)`` with
      params a dict keyed by the children's names (``conv_0``, ``dense_0``,
      ``dense_1``, or their ``name=``); children without parameters have no entry.
      ``apply(params, x, *, key=None, train=False, state=None, **kw)`` returns the last
      child's output (and the new state when ``state`` is given).

    Raises:
      TypeError: ``layers`` is not a list of layers or functions; a keyword no child
        takes.
      ValueError: two different layers with one ``name``.
      LayerError: a child that does not fit its input, or params with unknown keys.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Conv(8, (3, 3)), nn.relu, nn.MaxPool((2, 2)),
      ...                        nn.Flatten(), nn.Dense(10)])
      >>> params, out_shape = model.init(random.key(0), (-1, 8, 8, 1))
      >>> out_shape, sorted(params), params["conv_0"]["w"].shape
      ((-1, 10), ['conv_0', 'dense_0'], (3, 3, 1, 8))
      >>> model.apply(params, fnp.ones((2, 8, 8, 1))).shape
      (2, 10)

      With state and randomness:

      >>> model = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.Dropout(0.1), nn.Dense(2)])
      >>> params, state, out_shape = model.init_with_state(random.key(0), (-1, 3))
      >>> sorted(state)
      ['batch_norm_0']
      >>> x = fnp.ones((5, 3))
      >>> y, state = model.apply(params, x, state=state, train=True, key=random.key(1))
      >>> y.shape
      (5, 2)

      Carrying an LSTM's state from one call to the next:

      >>> model = nn.Sequential([nn.Dense(4), nn.LSTM(8), nn.Dense(3)])
      >>> params, _ = model.init(random.key(0), fnp.ones((2, 5, 3)))
      >>> carry = model.initial_carry(2)
      >>> logits, carry = model.apply(params, fnp.ones((2, 5, 3)), initial_carry=carry,
      ...                             return_carry=True)
      >>> logits.shape, carry[1].shape
      ((2, 5, 3), (2, 8))
      >>> model
      Sequential([Dense(4), LSTM(8), Dense(3)])
    """

    def _child_shapes(self, input_shape):
        shapes = []
        for lyr in self.layers:
            shapes.append(input_shape)
            input_shape = lyr.output_shape(input_shape)
        return shapes

    def output_shape(self, input_shape):
        for lyr in self.layers:
            input_shape = lyr.output_shape(input_shape)
        return input_shape

    def _recurrent(self):
        """The children that carry a state from call to call (RNN/GRU/LSTM, or a nested
        Sequential holding one): (index, name), each name once."""
        seen, out = set(), []
        for i, (name, lyr) in enumerate(zip(self.names, self.layers)):
            if name not in seen and lyr.accepts("return_carry"):
                seen.add(name)
                out.append((i, name))
        return out

    def initial_carry(self, batch, dtype=np.float32):
        """The zero carry of the recurrent layers in the chain, for ``batch`` examples.

        Args:
          batch: the batch size, an int.
          dtype: the carry's dtype (default float32).

        Returns:
          The carry of the one recurrent layer (``(c, h)`` for an LSTM); with several,
          a dict ``{child name: carry}``.

        Raises:
          LayerError: no recurrent layer in the chain.
        """
        rec = self._recurrent()
        if not rec:
            raise located_error(self, "", "has no recurrent layer (RNN, GRU, LSTM)")
        carries = {n: self.layers[i].initial_carry(batch, dtype) for i, n in rec}
        return carries[rec[0][1]] if len(rec) == 1 else carries

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
        return_carry = bool(kw.pop("return_carry", False))
        rec = self._recurrent()
        carries_in = self._split_carries(path, rec, kw.pop("initial_carry", None))
        keys = _split(key, len(self.layers))
        new_state, carries_out = {}, {}
        for i in range(len(self.layers)):
            ckw = dict(kw)
            name = self.names[i]
            if (i, name) in rec:
                if carries_in.get(name) is not None:
                    ckw["initial_carry"] = carries_in[name]
                if return_carry:
                    ckw["return_carry"] = True
            if self._folds_lookup(i):
                ckw["as_lookup"] = True
            x = self._apply_child(i, params, state, new_state, x, keys[i], train, path, ckw)
            if return_carry and (i, name) in rec:
                # RNN/GRU/LSTM return (carry, ys); a nested Sequential returns (y, carry).
                carry, x = (x[1], x[0]) if isinstance(self.layers[i], Sequential) else x
                carries_out[name] = carry
        if state is not None:  # keep entries of shared / untouched children
            new_state = {**state, **new_state}
        if return_carry:
            out = carries_out[rec[0][1]] if len(rec) == 1 else carries_out
            return (x, out), new_state
        return x, new_state

    def _folds_lookup(self, i):
        """Whether child ``i`` is an Embedding whose rows the next child takes as a
        Lookup (folded into its input projection: funcnet.nn.lookup)."""
        return (
            i + 1 < len(self.layers)
            and getattr(self.layers[i], "gives_lookup", False)
            and getattr(self.layers[i + 1], "takes_lookup", False)
        )

    def _split_carries(self, path, rec, carry):
        """``initial_carry`` for each recurrent child: the carry itself when there is
        one recurrent layer, else a dict keyed by the children's names."""
        if carry is None:
            return {}
        if not rec:
            raise located_error(self, path, "got initial_carry but has no recurrent layer")
        if len(rec) == 1:
            return {rec[0][1]: carry}
        names = [n for _, n in rec]
        if not isinstance(carry, Mapping) or set(carry) - set(names):
            got = sorted(carry) if isinstance(carry, Mapping) else type(carry).__name__
            raise located_error(
                self,
                path,
                f"has {len(names)} recurrent layers, so initial_carry must be a dict "
                f"keyed by their names {names}, got {got}",
            )
        return dict(carry)


class Parallel(_Container):
    """Branches side by side (as stax.parallel, and stax.FanOut when given one input).

    x: (batch, ...), or a tuple of such inputs, one per branch.

    Given a tuple of inputs, branch i gets input i; given one input, every branch gets
    it. The key is split one per branch; other keywords reach the branches that take
    them.

    Args:
      layers: a list of layers and/or plain functions, one per branch.
      name: the layer's key in an outer container (default ``parallel_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` (one shape, or a tuple of shapes) returns
      ``(params, tuple_of_output_shapes)`` with params keyed by the branches' names.
      ``apply(params, x)`` returns the tuple of the branches' outputs (merge them with
      ``Concatenate`` or ``Add``).

    Raises:
      TypeError: ``layers`` is not a list.
      LayerError: a tuple of inputs whose length differs from the number of branches.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> branches = nn.Parallel([nn.Dense(3), nn.Dense(5)])
      >>> params, out_shapes = branches.init(random.key(0), (-1, 4))
      >>> out_shapes
      ((-1, 3), (-1, 5))
      >>> [y.shape for y in branches.apply(params, fnp.ones((2, 4)))]
      [(2, 3), (2, 5)]
    """

    def _inputs(self, path, x, is_multi):
        n = len(self.layers)
        if not is_multi:
            return [x] * n
        if len(x) != n:
            raise located_error(self, path, f"got {len(x)} inputs for {n} branches")
        return list(x)

    def _child_shapes(self, input_shape):
        multi = bool(input_shape) and isinstance(input_shape[0], tuple)
        return self._inputs("", input_shape, multi)

    def output_shape(self, input_shape):
        shapes = self._child_shapes(input_shape)
        return tuple(lyr.output_shape(s) for lyr, s in zip(self.layers, shapes))

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
    """A residual connection, ``x + f(x)``.

    x: (batch, ...), whatever ``f`` takes.

    The input is whatever ``f`` takes; ``f``'s output must have ``x``'s shape. Keys,
    ``train``, state and keywords go to ``f`` unchanged.

    Args:
      layer: ``f``, a layer or function, or a list of them (made a ``Sequential``).
      name: the layer's key in an outer container (default ``residual_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(f's params, input_shape)``: the
      params are ``f``'s, with no extra nesting. ``apply(params, x)`` returns ``x +
      f(x)`` (and the new state when given ``state=``).

    Raises:
      LayerError: ``f`` changes the shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> block = nn.Residual([nn.Dense(4), nn.relu])
      >>> params, out_shape = block.init(random.key(0), (-1, 4))
      >>> out_shape, sorted(params)
      ((-1, 4), ['dense_0'])
      >>> block.apply(params, fnp.ones((2, 4))).shape
      (2, 4)
    """

    def __init__(self, layer, *, name=None):
        super().__init__(name=name)
        self.layer = Sequential(layer) if isinstance(layer, (list, tuple)) else as_layer(layer)

    @property
    def stateful(self):
        return self.layer.stateful

    def accepts(self, name):
        return self.layer.accepts(name)

    def __repr__(self):
        return f"Residual({_child_repr(self.layer)})"

    def param_specs(self, input_shape):
        return self.layer.param_specs(input_shape)

    def state_specs(self, input_shape):
        return self.layer.state_specs(input_shape)

    def output_shape(self, input_shape):
        return input_shape

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
    """Concatenates a tuple of inputs along ``axis`` (stax.FanInConcat; after Parallel).

    x: a tuple of (batch, ...) arrays.

    Args:
      axis: the axis to join along (default -1, the features).
      name: the layer's key in a container (default ``concatenate_<i>``).

    Returns:
      A layer without parameters. ``init(key, (shape_1, shape_2, ...))`` returns
      ``({}, joined_shape)``; ``apply(params, (x1, x2, ...))`` returns
      ``fnp.concatenate`` of them; it uses no key, train or state.

    Raises:
      LayerError: a single input, ``axis`` out of range, or shapes that differ off
        ``axis``.

    Example:
      >>> from funcnet import nn, random
      >>> nn.Concatenate().init(random.key(0), ((-1, 3), (-1, 5)))
      ({}, (-1, 8))
    """

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
    """Sums a tuple of inputs of one shape (stax.FanInSum; a fan-in after Parallel).

    x: a tuple of (batch, ...) arrays of one shape.

    Args:
      name: the layer's key in a container (default ``add_<i>``).

    Returns:
      A layer without parameters. ``init(key, (shape, shape, ...))`` returns ``({},
      shape)``; ``apply(params, (x1, x2, ...))`` returns ``x1 + x2 + ...``; it uses no
      key, train or state.

    Raises:
      LayerError: a single input, or inputs of different shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.Add().apply({}, (fnp.ones(2), fnp.ones(2))).tolist()
      [2.0, 2.0]
    """

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
