"""The layer protocol: the ``Layer`` base class, parameter declarations, checks, names.

A layer is an object with two methods (see the package docstring for the whole story)::

    params, output_shape = layer.init(key, input_shape)
    y = layer.apply(params, x, *, key=None, train=False, **kw)

Layers written on ``Layer`` declare their parameters instead of creating them: they
implement ``param_specs(input_shape) -> {name: Param(shape, init)}`` (nested dicts
allowed), ``output_shape(input_shape)`` and ``forward(params, x, *, key, train, **kw)``.
From that one declaration the base class makes ``init`` (draw every parameter, one key
each), checks the tree handed to ``apply`` (names the layer, the parameter, the shape
it has and the shape this input needs), and lets ``nn.reinit`` redraw any subset.
"""

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from funcnet import random, tree
from funcnet.core.trace import FuncnetError
from funcnet.nn import initializers
from funcnet.transforms.jit import eval_shape

__all__ = ["Fn", "Layer", "LayerError", "Param", "as_layer", "layer"]


class LayerError(ValueError):
    """Raised when a layer gets an input, parameters or state that do not fit it.

    A ``ValueError`` whose message starts with the layer's path in the parameter tree
    and its type (``"dense_1 (Dense): ..."``), then says what the layer expected and
    what it got. ``init`` raises it for an input shape the layer cannot take, ``apply``
    for a params/state tree of the wrong structure or shapes, or an input that does
    not fit. ``str(err)`` is the whole message.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> try:
      ...     nn.Dense(4).apply({}, fnp.ones((2, 3)))
      ... except nn.LayerError as err:
      ...     print(err)
      Dense: params have keys [], expected ['b', 'w'] (missing ['b', 'w'])
    """


class Param(NamedTuple):
    """Declares one parameter (or state entry) of a ``Layer`` subclass.

    ``Layer.param_specs`` (and ``state_specs``) return dicts of these; the base class
    draws each with its own key at ``init`` and checks shapes at ``apply``.

    Args:
      shape: the parameter's shape, a tuple of ints.
      init: its initializer, a function ``init(key, shape, dtype) -> array`` (e.g.
        ``nn.initializers.zeros`` or ``nn.initializers.normal(0.02)``); state entries
        get ``key=None``.
      dtype: its dtype (default float32).

    Returns:
      The declaration, a ``NamedTuple`` ``(shape, init, dtype)``.

    Example:
      >>> from funcnet import nn
      >>> nn.Param((3,), nn.initializers.zeros).shape
      (3,)
    """

    shape: tuple
    init: Callable
    dtype: Any = np.float32


# ----------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------


def _is_int(d) -> bool:
    return isinstance(d, (int, np.integer)) and not isinstance(d, bool)


def canonical_shape(shape, what="input_shape"):
    """A tuple of ints (``None`` or -1 for an unknown size, e.g. the batch), or for
    layers with several inputs a tuple of such tuples."""
    if (
        isinstance(shape, (tuple, list))
        and shape
        and all(isinstance(s, (tuple, list)) for s in shape)
    ):
        return tuple(canonical_shape(s, what) for s in shape)
    if not isinstance(shape, (tuple, list)) or not all(d is None or _is_int(d) for d in shape):
        raise TypeError(
            f"{what} must be a tuple of ints (-1 or None for an unknown size, "
            f"such as the batch), got {shape!r}"
        )
    out = tuple(-1 if d is None else int(d) for d in shape)
    if any(d < -1 for d in out):
        raise ValueError(f"{what} {shape!r} has a negative size; use -1 for an unknown one")
    return out


def _is_sample(x) -> bool:
    """An array (funcnet, NumPy or anything with ``shape`` and ``dtype``), not a shape."""
    return hasattr(x, "shape") and hasattr(x, "dtype")


def input_shape_of(spec, what="input_shape"):
    """What ``init`` takes, as a canonical shape: a shape, a sample array, or for a
    layer with several inputs a tuple/list of them (shapes and samples mixed freely).

    A sample's shape is used as it is (its batch size included); its values are not read.
    """
    if _is_sample(spec):
        return tuple(int(d) for d in spec.shape)
    if isinstance(spec, (tuple, list)) and spec and any(_is_sample(e) for e in spec):
        return tuple(input_shape_of(e, f"{what}[{i}]") for i, e in enumerate(spec))
    try:
        return canonical_shape(spec, what)
    except TypeError:
        raise TypeError(
            f"{what} must be a tuple of ints (-1 or None for an unknown size such "
            f"as the batch) or a sample input array (for several inputs, a tuple of them), "
            f"got {spec!r} of type {type(spec).__name__}"
        ) from None


def shape_of(x):
    """The shape of an input (a tuple of shapes for a tuple of inputs)."""
    if isinstance(x, (tuple, list)):
        return tuple(shape_of(e) for e in x)
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def shapes_match(a, b) -> bool:
    """Equal shapes, where -1 (unknown) matches any size."""
    if isinstance(a, tuple) and a and isinstance(a[0], tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(shapes_match, a, b))
    if len(a) != len(b) or any(isinstance(d, tuple) for d in b):
        return False
    return all(x == y or x == -1 or y == -1 for x, y in zip(a, b))


# ----------------------------------------------------------------------------
# Errors that name the layer
# ----------------------------------------------------------------------------


def describe(layer, path) -> str:
    kind = type(layer).__name__
    return f"{path} ({kind})" if path else kind


def _located(layer, path, fun, *args, **kwargs):
    """Run ``fun``; a LayerError raised inside it without a location gets this layer's."""
    try:
        return fun(*args, **kwargs)
    except LayerError as e:
        if getattr(e, "located", False):
            raise
        err = LayerError(f"{describe(layer, path)}: {e}")
        err.located = True
        raise err from None


def located_error(layer, path, message) -> LayerError:
    err = LayerError(f"{describe(layer, path)}: {message}")
    err.located = True
    return err


def join(path, name) -> str:
    return f"{path}/{name}" if path else str(name)


def is_empty(t) -> bool:
    """No parameters: None, or an empty container (nested empty containers included)."""
    return t is None or (isinstance(t, (dict, list, tuple)) and not tree.tree_leaves(t))


def _fmt_keys(keys):
    return "[" + ", ".join(repr(k) for k in sorted(keys, key=str)) + "]"


def check_tree(layer, path, what, got, specs, input_shape):
    """``got`` must have the keys and shapes that ``specs`` declares for this input."""
    desc = describe(layer, path)
    if not specs:
        if is_empty(got):
            return
        raise located_error(
            layer,
            path,
            f"takes no {what}, got a tree with "
            f"{len(tree.tree_leaves(got))} array(s): "
            f"{_fmt_keys(got) if isinstance(got, Mapping) else type(got).__name__}",
        )

    def walk(got, specs, where):
        if not isinstance(got, Mapping):
            raise LayerError(
                f"{desc}: {what}{where} must be a dict with keys "
                f"{_fmt_keys(specs)}, got {type(got).__name__}"
            )
        missing, extra = set(specs) - set(got), set(got) - set(specs)
        if missing or extra:
            parts = [f"missing {_fmt_keys(missing)}"] if missing else []
            parts += [f"unexpected {_fmt_keys(extra)}"] if extra else []
            raise LayerError(
                f"{desc}: {what}{where} have keys {_fmt_keys(got)}, expected "
                f"{_fmt_keys(specs)} ({', '.join(parts)})"
            )
        for k, spec in specs.items():
            sub = f"{where}['{k}']"
            if isinstance(spec, Param):
                shape = getattr(got[k], "shape", None)
                if shape is None:
                    raise LayerError(
                        f"{desc}: {what}{sub} must be an array of shape "
                        f"{spec.shape}, got {type(got[k]).__name__}"
                    )
                if tuple(shape) != tuple(spec.shape):
                    msg = (
                        f"{what}{sub} has shape {tuple(shape)}, but an input of shape "
                        f"{input_shape} needs {tuple(spec.shape)}"
                    )
                    hint = _expected_input_hint(layer, got_root, input_shape)
                    raise LayerError(f"{desc}: {msg}{hint}")
            else:
                walk(got[k], spec, sub)

    got_root = got
    walk(got, specs, "")


def _expected_input_hint(layer, params, input_shape):
    try:
        expected = layer.expected_input_shape(params, input_shape)
    except (KeyError, IndexError, AttributeError, TypeError):  # a hint only
        expected = None
    if expected is None or tuple(expected) == tuple(input_shape):
        return " (the params were made for another input, or belong to another layer)"
    return (
        f"; these params fit an input of shape {tuple(expected)}, not {input_shape} "
        "(wrong input, or params of another layer)"
    )


# ----------------------------------------------------------------------------
# Drawing parameters
# ----------------------------------------------------------------------------


def _spec_leaves(specs):
    out = []

    def walk(s, prefix):
        for k, v in s.items():
            if isinstance(v, Param):
                out.append((prefix + (k,), v))
            else:
                walk(v, prefix + (k,))

    walk(specs, ())
    return out


def _set_in(d, keys, value):
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def create(layer, path, specs, key, what="params", with_key=True):
    """Draw each declared parameter with its own key (split from the layer's key)."""
    leaves = _spec_leaves(specs)
    out = {}
    if not leaves:
        return out
    if with_key:
        if key is None:
            raise located_error(
                layer,
                path,
                "init needs a PRNG key to draw its parameters "
                "(layer.init(funcnet.random.key(0), input_shape))",
            )
        # fold_in(key, i) == split(key, n)[i], and it compiles once for every i.
        keys = [random.fold_in(key, i) for i in range(len(leaves))] if len(leaves) > 1 else [key]
    else:
        keys = [None] * len(leaves)
    for k, (names, spec) in zip(keys, leaves):
        value = spec.init(k, tuple(spec.shape), spec.dtype)
        got = tuple(getattr(value, "shape", np.shape(value)))
        if got != tuple(spec.shape):
            raise located_error(
                layer,
                path,
                f"the initializer of {what} "
                f"{'/'.join(names)} returned shape {got}, expected "
                f"{tuple(spec.shape)}",
            )
        _set_in(out, names, value)
    return out


# ----------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------


def snake(name: str) -> str:
    """'ConvTranspose' -> 'conv_transpose', 'LSTM' -> 'lstm', 'RMSNorm' -> 'rms_norm'."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def check_name(name):
    if name is None:
        return None
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"a layer name must be a non-empty string without '/', got {name!r}")
    return name


def assign_names(layers):
    """Names for a container's children: the user's ``name=``, else ``<kind>_<i>``
    counted per kind (dense_0, dense_1, conv_0). The same layer object used twice
    gets one name: it shares its parameters."""
    by_id, names, counts = {}, [], {}
    user = [lyr.name for lyr in {id(lyr): lyr for lyr in layers}.values() if lyr.name]
    dup = {n for n in user if user.count(n) > 1}
    if dup:
        raise ValueError(
            f"two different layers are both named {min(dup)!r}; to share "
            "parameters use the same layer object twice"
        )
    taken = set(user)
    for lyr in layers:
        if id(lyr) in by_id:
            names.append(by_id[id(lyr)])
            continue
        name = lyr.name
        if name is None:
            base = lyr.default_name()
            while True:
                i = counts.get(base, 0)
                counts[base] = i + 1
                name = f"{base}_{i}"
                if name not in taken:
                    break
        taken.add(name)
        by_id[id(lyr)] = name
        names.append(name)
    return names


def _check_train(train):
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(
            f"train must be a Python bool (it picks the code path, so it cannot "
            f"be traced), got {train!r}"
        )
    return bool(train)


def _accepts(fun, name) -> bool:
    """Whether ``fun`` takes the keyword ``name`` (declared, or through ``**kwargs``)."""
    fun = getattr(fun, "__func__", fun)
    try:
        params = _signature(fun)
    except TypeError:  # an unhashable callable
        params = _signature.__wrapped__(fun)
    if params is None:
        return True
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


@functools.cache
def _signature(fun):
    try:
        return inspect.signature(fun).parameters
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------
# The base class
# ----------------------------------------------------------------------------


class Layer:
    """Base class of funcnet layers: ``init`` and ``apply`` from declared parameters.

    x: (batch, ...) for the built-in layers: a leading batch axis (one example: ``x[None]``
    or ``fn.vmap``); a subclass's input is whatever its ``forward`` takes.

    A layer object holds only hyper-parameters; its parameters live in the tree that
    ``init`` returns and ``apply`` takes. Subclasses implement:

    - ``param_specs(input_shape) -> dict``: ``{name: Param(shape, init, dtype)}``, nested
      dicts allowed; ``{}`` for no parameters (the default). Raise ``LayerError`` for an
      input shape that does not fit (the base adds the layer's path).
    - ``output_shape(input_shape) -> shape``.
    - ``forward(params, x) -> y``; declare ``key=None`` and/or ``train=False`` (and any
      layer-specific keywords such as ``mask=None``) to receive them.
    - stateful layers set ``stateful = True``, declare ``state_specs(input_shape)`` and
      get ``forward(params, x, *, state, ...) -> (y, new_state)``.

    Args:
      name: the layer's key in a container's params (default: the snake-case class
        name and a counter, ``dense_0``); a non-empty string without ``'/'``.

    Returns:
      A layer: ``init(key, input_shape) -> (params, output_shape)``,
      ``init_with_state(key, input_shape) -> (params, state, output_shape)`` and
      ``apply(params, x, *, key=None, train=False, state=None, **kw)``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> class Scale(nn.Layer):
      ...     def param_specs(self, input_shape):
      ...         return {"s": nn.Param(input_shape[-1:], nn.initializers.ones)}
      ...     def output_shape(self, input_shape):
      ...         return input_shape
      ...     def forward(self, params, x):
      ...         return x * params["s"]
      >>> params, out_shape = Scale().init(random.key(0), (-1, 3))
      >>> params["s"].shape, out_shape
      ((3,), (-1, 3))
      >>> Scale().apply(params, fnp.full((2, 3), 2.0)).tolist()
      [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """

    stateful = False

    def __init__(self, *, name=None):
        self.name = check_name(name)

    # -- the protocol ----------------------------------------------------------------
    def init(self, key, input_shape, **shape_kw):
        """Draws the parameters for inputs of ``input_shape``.

        Args:
          key: a ``funcnet.random`` key; the parameters get one key each, derived from
            it with ``fold_in``. May be None for a layer without parameters.
          input_shape: the input's shape, a tuple of ints with -1 (or None) for an
            unknown size such as the batch; for several inputs (``Concatenate``), a tuple
            of such tuples.
          **shape_kw: keywords that shape the parameters, e.g. MultiHeadAttention's
            ``context_shape=``.

        Returns:
          ``(params, output_shape)``: ``params`` a nested dict of arrays (``{}`` for no
          parameters), ``output_shape`` a tuple with unknown sizes kept as -1.

        Raises:
          LayerError: the layer cannot take inputs of this shape, or needs a key.
          TypeError: ``input_shape`` is not a tuple of ints.
        """
        params, _, out = self.init_with_state(key, input_shape, **shape_kw)
        return params, out

    def init_with_state(self, key, input_shape, **shape_kw):
        """Like ``init``, and also makes the initial state (BatchNorm's statistics).

        Args:
          key: a ``funcnet.random`` key (None for a layer without parameters).
          input_shape: the input's shape (-1 or None for unknown sizes).
          **shape_kw: keywords that shape the parameters (see ``init``).

        Returns:
          ``(params, state, output_shape)``; ``state`` is ``{}`` for a model without
          state. Pass it to ``apply(..., state=state)``.
        """
        return self._init(key, input_shape_of(input_shape), "", **shape_kw)

    def apply(self, params, x, *, key=None, train=False, state=None, **kw):
        """Runs the layer on ``x`` with ``params``: a pure function, fine under jit/grad.

        Args:
          params: the tree from ``init`` (or a trained one of the same shapes).
          x: the input array (a tuple of arrays for a layer with several inputs).
          key: a ``funcnet.random`` key for randomness (Dropout and attention dropout in
            training); layers without randomness ignore it.
          train: a Python bool, True for training behaviour (dropout on, BatchNorm
            batch statistics); layers that do not care ignore it.
          state: the state tree from ``init_with_state``; required by stateful layers.
          **kw: layer-specific keywords (``mask=``, ``context=``, ``seq_lengths=``...).

        Returns:
          ``y``; or ``(y, new_state)`` when ``state`` is given.

        Raises:
          LayerError: params or state of the wrong structure or shapes, an input that
            does not fit, a missing key or state.
          TypeError: ``train`` is not a Python bool, or an unknown keyword.
        """
        y, new_state = self._apply(
            params, state, x, key=key, train=_check_train(train), path="", **kw
        )
        return y if state is None else (y, new_state)

    # -- what subclasses implement ----------------------------------------------------
    def param_specs(self, input_shape):
        """Declares the parameters an input of ``input_shape`` needs (subclasses).

        Args:
          input_shape: the input's shape (-1 for unknown sizes).

        Returns:
          ``{name: Param(shape, init, dtype)}``, nested dicts allowed; ``{}`` (the
          default) for a layer without parameters.
        """
        return {}

    def state_specs(self, input_shape):
        """Declares the state entries of a stateful layer (subclasses).

        Args:
          input_shape: the input's shape.

        Returns:
          ``{name: Param(shape, init, dtype)}``; ``{}`` (the default) for no state.
        """
        return {}

    def output_shape(self, input_shape):
        """The output shape for an input of ``input_shape`` (subclasses implement it).

        Args:
          input_shape: the input's shape (-1 for unknown sizes).

        Returns:
          The output shape, a tuple of ints (-1 where unknown).
        """
        raise NotImplementedError(f"{type(self).__name__}.output_shape")

    def forward(self, params, x):
        """The computation (subclasses implement it); ``apply`` checks, then calls it.

        Args:
          params: the checked parameter tree.
          x: the input. A subclass declares the keywords it wants (``key=None``,
            ``train=False``, ``state``, ``mask=None``...) and gets only those.

        Returns:
          The output ``y``; ``(y, new_state)`` for a stateful layer.
        """
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def expected_input_shape(self, params, input_shape):
        """The input shape ``params`` were made for, if the layer can tell.

        Used only to word error messages.

        Args:
          params: a parameter tree.
          input_shape: the shape of the input ``apply`` got.

        Returns:
          A shape, or None if the layer cannot tell (the default).
        """
        return

    def shape_kwargs(self, kw):
        """The apply keywords that also shape the parameters.

        Args:
          kw: the keywords given to ``apply``.

        Returns:
          The keywords ``param_specs`` takes (MultiHeadAttention maps ``context`` to
          ``context_shape``); ``{}`` by default.
        """
        return {}

    def default_name(self) -> str:
        """The name a container gives this layer when it has no ``name=``.

        Returns:
          The snake-case class name (``ConvTranspose`` -> ``"conv_transpose"``), to
          which the container appends ``_<i>``.
        """
        return snake(type(self).__name__)

    def accepts(self, name) -> bool:
        """Whether ``apply`` takes the keyword ``name``.

        Containers pass a keyword only to the children that take it.

        Args:
          name: a keyword argument's name, e.g. ``"mask"``.

        Returns:
          True if ``forward`` declares it (or takes ``**kwargs``).
        """
        return _accepts(self.forward, name)

    # -- machinery --------------------------------------------------------------------
    def _init(self, key, input_shape, path, **shape_kw):
        specs = _located(self, path, self.param_specs, input_shape, **shape_kw)
        sspecs = (
            _located(self, path, self.state_specs, input_shape, **shape_kw) if self.stateful else {}
        )
        out = _located(self, path, self.output_shape, input_shape, **shape_kw)
        params = create(self, path, specs, key)
        state = create(self, path, sspecs, None, what="state", with_key=False)
        return params, state, out

    def _apply(self, params, state, x, *, key, train, path, **kw):
        in_shape = shape_of(x)
        shape_kw = self.shape_kwargs(kw)
        try:
            specs = _located(self, path, self.param_specs, in_shape, **shape_kw)
        except LayerError as e:
            raise _with_batch_hint(e, self, in_shape, shape_kw) from None
        check_tree(self, path, "params", params, specs, in_shape)
        kw = {**self._key_train(key, train), **kw}
        if not self.stateful:
            return _forward_located(self, path, in_shape, shape_kw, params, x, **kw), {}
        if state is None:
            raise located_error(
                self,
                path,
                "this layer keeps state (running statistics): "
                "create it with init_with_state and pass it as "
                "apply(params, x, state=state, ...), which returns "
                "(y, new_state)",
            )
        sspecs = _located(self, path, self.state_specs, in_shape, **shape_kw)
        check_tree(self, path, "state", state, sspecs, in_shape)
        return _forward_located(self, path, in_shape, shape_kw, params, x, state=state, **kw)

    def _key_train(self, key, train):
        """``key`` and ``train`` for a forward that declares them (most do not)."""
        out = {}
        if _accepts(self.forward, "key"):
            out["key"] = key
        if _accepts(self.forward, "train"):
            out["train"] = train
        return out

    def __repr__(self):
        return code_repr(self)


def code_repr(layer) -> str:
    """``Dense(10)``, ``Conv(32, (3, 3))``, ``MaxPool((2, 2), strides=(2, 2))``: the
    constructor call that builds ``layer``, from its ``__init__`` signature: required
    arguments positionally, keywords only where the stored value differs from the
    default. Arguments not stored under their own name are left out."""
    try:
        sig = inspect.signature(type(layer).__init__).parameters
    except (TypeError, ValueError):
        sig = {}
    attrs, args = vars(layer), []
    for name, p in list(sig.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name not in attrs:
            continue
        value = attrs[name]
        if p.default is p.empty and p.kind is not p.KEYWORD_ONLY:
            args.append(_arg_repr(value))
        elif not _same_default(value, p.default):
            args.append(f"{name}={_arg_repr(value)}")
    return f"{type(layer).__name__}({', '.join(args)})"


def _same_default(value, default) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if isinstance(default, str) and callable(value):  # an initializer given by name
        return _same_function(value, initializers.get(default, what="repr"))
    if isinstance(value, tuple) and value and _is_int(default):  # 1 stored as (1, 1)
        return all(v == default for v in value)
    try:
        return bool(value == default) or (value is None and default is None)
    except Exception:  # arrays and other values without a plain ==
        return False


def _same_function(a, b) -> bool:
    """The same function, or closures of one code over equal values (initializers)."""
    if a is b:
        return True
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if code_a is None or code_a is not code_b:
        return False
    cells_a, cells_b = a.__closure__ or (), b.__closure__ or ()
    try:
        return all(x.cell_contents == y.cell_contents for x, y in zip(cells_a, cells_b))
    except Exception:  # a cell without a plain ==
        return False


def _arg_repr(value) -> str:
    if isinstance(value, Layer):
        return repr(value)
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"np.{value.__name__}"
    if callable(value):
        return _fun_name(value) if not isinstance(value, type) else value.__name__
    return repr(value)


def _batch_hint(layer, in_shape, shape_kw) -> str:
    """The batch-axis advice, when the input fits once a leading batch axis is added."""
    if not in_shape or isinstance(in_shape[0], tuple):
        return ""

    def fits(shape):
        try:
            layer.param_specs(shape, **shape_kw)
            layer.output_shape(shape, **shape_kw) if shape_kw else layer.output_shape(shape)
        except Exception:  # any failure means "does not fit"; this only words advice
            return False
        return True

    # Advice only when the declarations refuse this input and accept it with a batch axis.
    if fits(tuple(in_shape)) or not fits((-1,) + tuple(in_shape)):
        return ""
    return (
        f"; layers take a leading batch axis, x: (batch, ...): the input of shape "
        f"{tuple(in_shape)} is one axis short: add a batch axis (x[None]) or use fn.vmap"
    )


def _with_batch_hint(err, layer, in_shape, shape_kw):
    hint = _batch_hint(layer, in_shape, shape_kw)
    if not hint:
        return err
    new = LayerError(f"{err}{hint}")
    new.located = True
    return new


def _forward_located(layer, path, in_shape, shape_kw, params, x, **kw):
    """Run ``forward``; a LayerError gets the layer's path, and a TypeError/ValueError
    from an input that does not fit (a matmul of mismatched shapes in a user's layer)
    becomes a located LayerError too, the original kept as ``__cause__``."""
    try:
        return layer.forward(params, x, **kw)
    except LayerError as e:
        # This layer's path first; an error from a sublayer's own ``apply`` inside
        # ``forward`` keeps its relative path after it ("outer_0 (Outer): dense_0 ...").
        err = located_error(layer, path, str(e))
        raise _with_batch_hint(err, layer, in_shape, shape_kw) from None
    except (TypeError, ValueError) as e:
        # Tracer errors (a Python `if` on a traced value) say something else: keep them.
        if isinstance(e, FuncnetError) or not _is_shape_error(e):
            raise
        hint = _batch_hint(layer, in_shape, shape_kw)
        raise located_error(
            layer,
            path,
            f"forward failed on an input of shape {in_shape}: {type(e).__name__}: {e}{hint}",
        ) from e


def _is_shape_error(e) -> bool:
    """An error that says shapes do not fit (not a wrong keyword or a bug elsewhere)."""
    text = str(e).lower()
    return any(w in text for w in ("shape", "align", "broadcast", "dimension", "rank", "size"))


def resolve_init(spec, layer_kind, what):
    return initializers.get(spec, what=f"{layer_kind}({what}=...)")


# ----------------------------------------------------------------------------
# Parameter-free functions as layers, and custom layers from two functions
# ----------------------------------------------------------------------------

ELEMENTWISE: set = set()  # functions that keep the shape (filled by activations.py)


def _fun_name(f) -> str:
    while isinstance(f, functools.partial):
        f = f.func
    name = getattr(f, "__name__", type(f).__name__)
    return "lambda" if name == "<lambda>" else snake(name)


def _zeros_like_shape(shape, dtype=np.float32):
    if isinstance(shape, tuple) and shape and isinstance(shape[0], tuple):
        return tuple(_zeros_like_shape(s, dtype) for s in shape)
    return np.broadcast_to(np.zeros((), dtype), shape)  # no memory: a view of one zero


def probe_output_shape(fun, input_shape):
    """The output shape of ``fun`` (parameter-free) by tracing it (``eval_shape``).
    Unknown (-1) sizes are probed with two sizes; output sizes that change are -1."""

    def out_shape(size):
        def fill(s):
            if isinstance(s, tuple) and s and isinstance(s[0], tuple):
                return tuple(fill(e) for e in s)
            return tuple(size if d == -1 else d for d in s)

        res = eval_shape(fun, _zeros_like_shape(fill(input_shape)))
        return tree.tree_map(lambda a: tuple(a.shape), res, is_leaf=lambda a: hasattr(a, "shape"))

    def unknown(s):
        return any(unknown(e) for e in s) if s and isinstance(s[0], tuple) else -1 in s

    first = out_shape(2)
    if not unknown(input_shape):
        return first
    second = out_shape(3)

    def merge(a, b):
        if isinstance(a, tuple) and a and isinstance(a[0], tuple):
            return tuple(map(merge, a, b))
        return tuple(x if x == y else -1 for x, y in zip(a, b))

    return merge(first, second)


class Fn(Layer):
    """A parameter-free function ``f(x)`` as a layer (as stax's ``elementwise``).

    x: whatever ``fun`` takes, with or without a batch axis.

    ``Sequential`` wraps plain functions such as ``nn.relu`` in one. Its output shape is
    the input's for the activations, else found by tracing ``f`` (``eval_shape``). Any
    input layout works, with or without a batch axis: it is whatever ``f`` takes.

    Args:
      fun: a function of one array, ``fun(x) -> y``.
      name: the layer's key in a container (default: the function's name).

    Returns:
      A layer without parameters: ``init`` returns ``({}, output_shape)``;
      ``apply(params, x)`` returns ``fun(x)`` (key and train are not passed on).

    Raises:
      TypeError: ``fun`` is not callable.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> double = nn.Fn(lambda x: 2 * x)
      >>> params, out_shape = double.init(random.key(0), (-1, 3))
      >>> params, out_shape
      ({}, (-1, 3))
      >>> double.apply(params, fnp.ones((1, 3))).tolist()
      [[2.0, 2.0, 2.0]]
    """

    def __init__(self, fun, *, name=None):
        super().__init__(name=name)
        if not callable(fun):
            raise TypeError(f"Fn needs a callable, got {fun!r}")
        self.fun = fun

    def default_name(self):
        return _fun_name(self.fun)

    def __repr__(self):
        return f"Fn({_fun_name(self.fun)})"

    def output_shape(self, input_shape):
        f = self.fun
        base = f.func if isinstance(f, functools.partial) else f
        if base in ELEMENTWISE:
            return input_shape
        return probe_output_shape(f, input_shape)

    def forward(self, params, x):
        return self.fun(x)

    def accepts(self, name):
        return False


def as_layer(obj):
    """Makes a layer of a layer or a plain function (what containers do to children).

    Args:
      obj: a ``Layer`` (returned as is) or a callable ``f(x)`` such as ``nn.relu``.

    Returns:
      ``obj`` itself if it is a Layer, else ``Fn(obj)``.

    Raises:
      TypeError: ``obj`` is neither a layer nor callable.

    Example:
      >>> from funcnet import nn
      >>> nn.as_layer(nn.relu)
      Fn(relu)
    """
    if isinstance(obj, Layer):
        return obj
    if callable(obj):
        return Fn(obj)
    raise TypeError(f"expected a layer or a function, got {obj!r} of type {type(obj).__name__}")


class FunctionLayer(Layer):
    """A layer made of two user functions; see ``nn.layer``."""

    def __init__(self, init_fn, apply_fn, *, name=None):
        super().__init__(name=name)
        if init_fn is not None and not callable(init_fn):
            raise TypeError(
                f"nn.layer: init must be a function init(key, input_shape) -> "
                f"(params, output_shape) or None, got {init_fn!r}"
            )
        if not callable(apply_fn):
            raise TypeError(
                f"nn.layer: apply must be a function apply(params, x, ...), got {apply_fn!r}"
            )
        self.init_fn, self.apply_fn = init_fn, apply_fn
        self._expected = {}

    def default_name(self):
        return (
            _fun_name(self.apply_fn if self.init_fn is None else self.init_fn).removesuffix("_init")
            or "layer"
        )

    def accepts(self, name):
        return _accepts(self.apply_fn, name)

    def _init(self, key, input_shape, path, **shape_kw):
        if self.init_fn is None:
            out = _located(
                self, path, probe_output_shape, lambda x: self.apply_fn({}, x), input_shape
            )
            return {}, {}, out
        params, out = _located(self, path, self.init_fn, key, input_shape, **shape_kw)
        return (
            params,
            {},
            canonical_shape(out, f"{describe(self, path)}: the output shape that init returned"),
        )

    def _expected_params(self, in_shape):
        """The parameter shapes init would make for this input (by tracing it; cached)."""
        if self.init_fn is None:
            return {}
        if in_shape not in self._expected:
            try:
                self._expected[in_shape] = eval_shape(
                    lambda k: self.init_fn(k, in_shape)[0], np.zeros((2,), np.uint32)
                )
            except Exception:
                self._expected[in_shape] = None
        return self._expected[in_shape]

    def _apply(self, params, state, x, *, key, train, path, **kw):
        in_shape = shape_of(x)
        expected = self._expected_params(in_shape)
        if expected is not None:
            _check_against(self, path, params, expected, in_shape)
        extra = {}
        if _accepts(self.apply_fn, "key"):
            extra["key"] = key
        if _accepts(self.apply_fn, "train"):
            extra["train"] = train
        y = _located(self, path, self.apply_fn, params, x, **extra, **kw)
        return y, {}


def _check_against(layer, path, got, expected, in_shape):
    """A custom layer's params against the shapes its init makes (any pytree)."""
    if is_empty(expected) and is_empty(got):
        return
    exp_leaves, exp_tree = tree.tree_flatten(expected)
    got_leaves, got_tree = tree.tree_flatten(got)
    if exp_tree != got_tree:
        raise located_error(
            layer,
            path,
            f"params have structure {got_tree}, but init makes "
            f"{exp_tree} for an input of shape {in_shape}",
        )
    paths = tree.leaf_paths(expected)
    for p, e, g in zip(paths, exp_leaves, got_leaves):
        gs = tuple(getattr(g, "shape", np.shape(g)))
        if gs != tuple(e.shape):
            raise located_error(
                layer,
                path,
                f"params{p} has shape {gs}, but an input of shape "
                f"{in_shape} needs {tuple(e.shape)}",
            )


def layer(init=None, apply=None, *, name=None):
    """Make a layer from two functions (the stax style).

    Args:
      init: ``init(key, input_shape) -> (params, output_shape)``; ``params`` is any
        pytree (a dict reads best). ``None`` for a layer without parameters: the
        output shape is then found by tracing ``apply``.
      apply: ``apply(params, x, **kw) -> y``. Declare ``key=None`` and/or ``train=False``
        to receive them; other keywords of ``layer.apply`` are passed through.
      name: the name in a container's parameter dict (default: from the function).

    Returns:
      a ``Layer``: it nests in ``Sequential``, and ``apply`` checks the params it gets
      against the shapes ``init`` makes (by tracing ``init``). The input layout is
      whatever ``apply`` takes.

    Raises:
      TypeError: ``apply`` is missing, or ``init``/``apply`` is not callable.

    Example:
      With parameters (``Scale``), then without (``Double``):

      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> def scale_init(key, input_shape):
      ...     return {"s": fnp.ones(input_shape[-1:])}, input_shape
      >>> def scale_apply(params, x):
      ...     return x * params["s"]
      >>> Scale = nn.layer(scale_init, scale_apply)
      >>> Double = nn.layer(apply=lambda params, x: 2 * x)
      >>> model = nn.Sequential([nn.Dense(4), Scale, Double, nn.relu])
      >>> params, out_shape = model.init(random.key(0), (-1, 3))
      >>> sorted(params), out_shape
      (['dense_0', 'scale_0'], (-1, 4))
      >>> model.apply(params, fnp.ones((2, 3))).shape
      (2, 4)
    """
    if apply is None:
        raise TypeError("nn.layer needs apply=apply(params, x, ...)")
    return FunctionLayer(init, apply, name=name)
