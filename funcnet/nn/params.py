"""Working with parameter trees: paths, summary, get / set / map / filter, reinit.

A parameter's path is its keys joined by '/': ``"dense_1/w"``, ``"block_0/conv_0/b"``
(list/tuple positions are numbers). ``where`` arguments select parameters by

- a glob pattern on the path (``"*/w"``, ``"dense_*/b"``, ``"conv_?/*"``); a pattern
  that names a subtree (``"dense_1"``) selects every parameter under it;
- a list of patterns (any of them);
- a predicate ``where(path, value) -> bool`` (``lambda p, v: v.ndim > 1``).
"""

import difflib
import fnmatch
import math
import zlib

import numpy as np

from funcnet import random, tree

__all__ = [
    "count_params",
    "filter_params",
    "flatten_params",
    "get_param",
    "map_params",
    "mask",
    "path_of",
    "paths",
    "reinit",
    "select",
    "set_param",
    "summary",
    "unflatten_params",
]


def _key_name(k):
    for attr in ("key", "idx", "name"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def path_of(key_path) -> str:
    """The '/'-joined path of a jax-style key path (from ``tree_flatten_with_path``).

    Args:
      key_path: a tuple of key entries (dict keys, sequence indices, attribute names).

    Returns:
      A string such as ``"dense_1/w"`` (sequence positions as numbers).
    """
    return "/".join(_key_name(k) for k in key_path)


def flatten_params(params) -> dict:
    """Flattens a parameter tree to ``{path: array}``.

    Args:
      params: a pytree of arrays (nested dicts from ``init``).

    Returns:
      A dict from '/'-joined paths to leaves, in pytree flattening order (dict keys
      sorted).

    Example:
      >>> from funcnet import nn, random
      >>> params, _ = nn.Dense(2).init(random.key(0), (-1, 3))
      >>> {path: v.shape for path, v in nn.flatten_params(params).items()}
      {'b': (2,), 'w': (3, 2)}
    """
    leaves, _ = tree.tree_flatten_with_path(params)
    return {path_of(p): v for p, v in leaves}


def unflatten_params(flat) -> dict:
    """Nested dicts from ``{path: array}``: the inverse of ``flatten_params`` for dicts.

    Args:
      flat: a dict from '/'-joined paths to values.

    Returns:
      Nested dicts (list positions in the paths become string keys).

    Example:
      >>> from funcnet import nn
      >>> nn.unflatten_params({"dense_0/w": 1, "dense_0/b": 2})
      {'dense_0': {'w': 1, 'b': 2}}
    """
    out = {}
    for path, v in flat.items():
        d = out
        parts = path.split("/")
        for k in parts[:-1]:
            d = d.setdefault(k, {})
        d[parts[-1]] = v
    return out


def paths(params) -> list:
    """Every parameter's '/'-joined path.

    Args:
      params: a parameter tree.

    Returns:
      A list of paths in flattening order.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> nn.paths(params)
      ['dense_0/b', 'dense_0/w', 'dense_1/b', 'dense_1/w']
    """
    return list(flatten_params(params))


def _matcher(where):
    if callable(where):
        return where
    patterns = [where] if isinstance(where, str) else where
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
        raise TypeError(
            f"where must be a glob pattern, a list of them or a predicate "
            f"(path, value) -> bool, got {where!r}"
        )

    def match(path, value):
        prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
        return any(fnmatch.fnmatchcase(p, pat) for pat in patterns for p in prefixes)

    return match


def _not_found(params, path):
    known = paths(params)
    close = difflib.get_close_matches(path, known, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return KeyError(
        f"no parameter at path {path!r}{hint} (paths: "
        f"{', '.join(known[:12])}{' ...' if len(known) > 12 else ''})"
    )


def _node(params, path):
    node = params
    for part in path.split("/"):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _not_found(params, path)
    return node


def get_param(params, path):
    """The array (or subtree) at ``path``.

    Args:
      params: a parameter tree.
      path: a '/'-joined path such as ``"dense_1/w"`` (or ``"dense_1"`` for a subtree).

    Returns:
      The leaf or subtree there.

    Raises:
      KeyError: no such path (the message suggests close ones).

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> nn.get_param(params, "dense_1/w").shape
      (4, 2)
    """
    return _node(params, path)


def set_param(params, path, value, *, check_shape=True):
    """A copy of ``params`` with the entry at ``path`` replaced by ``value``.

    The original is not modified (containers on the path are copied, other leaves
    shared).

    Args:
      params: a parameter tree.
      path: a '/'-joined path such as ``"dense_1/b"``.
      value: the new array (or subtree).
      check_shape: refuse a value of another shape than the old array (default True).

    Returns:
      The new tree.

    Raises:
      KeyError: no such path.
      ValueError: a value of another shape while ``check_shape``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> new = nn.set_param(params, "dense_1/b", fnp.ones(2))
      >>> new["dense_1"]["b"].tolist(), params["dense_1"]["b"].tolist()
      ([1.0, 1.0], [0.0, 0.0])
    """
    old = _node(params, path)
    if check_shape and hasattr(old, "shape"):
        new_shape = tuple(np.shape(value))
        if new_shape != tuple(old.shape):
            raise ValueError(
                f"set_param: {path!r} has shape {tuple(old.shape)}, the new value "
                f"{new_shape} (pass check_shape=False to change it)"
            )

    def replace(node, parts):
        if not parts:
            return value
        k = parts[0]
        if isinstance(node, dict):
            return {**node, k: replace(node[k], parts[1:])}
        items = list(node)
        items[int(k)] = replace(items[int(k)], parts[1:])
        return type(node)(items) if isinstance(node, tuple) else items

    return replace(params, path.split("/"))


def select(params, where) -> dict:
    """The parameters ``where`` selects, flat.

    Args:
      params: a parameter tree.
      where: a glob pattern on the '/'-joined path (``"*/w"``; ``*`` also matches
        ``/``, and a pattern naming a subtree such as ``"dense_1"`` selects all of it),
        a list of patterns, or a predicate ``where(path, value) -> bool``.

    Returns:
      ``{path: array}`` of the selected parameters, in flattening order.

    Raises:
      TypeError: ``where`` is not a pattern, a list of them or a predicate.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> list(nn.select(params, "*/w"))
      ['dense_0/w', 'dense_1/w']
    """
    match = _matcher(where)
    return {p: v for p, v in flatten_params(params).items() if match(p, v)}


def filter_params(params, where) -> dict:
    """The nested dict of only the parameters ``where`` selects.

    Args:
      params: a parameter tree.
      where: a glob pattern on the '/'-joined path (``"*/w"``; ``*`` also matches
        ``/``, and a pattern naming a subtree such as ``"dense_1"`` selects all of it),
        a list of patterns, or a predicate ``where(path, value) -> bool``.

    Returns:
      Nested dicts holding the selected parameters (``unflatten_params`` of
      ``select``).

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> nn.paths(nn.filter_params(params, "dense_1"))
      ['dense_1/b', 'dense_1/w']
    """
    return unflatten_params(select(params, where))


def map_params(f, params, where=None):
    """Applies ``f`` to the selected parameters, keeping the others and the structure.

    Args:
      f: a function of one array.
      params: a parameter tree.
      where: a glob pattern on the '/'-joined path (``"*/w"``; ``*`` also matches
        ``/``, and a pattern naming a subtree such as ``"dense_1"`` selects all of it),
        a list of patterns, or a predicate ``where(path, value) -> bool``.
        None (the default) selects every parameter.

    Returns:
      A tree of ``params``' structure with ``f(value)`` at each selected leaf.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> frozen = nn.map_params(lambda v: v * 0, params, "*/w")
      >>> float(abs(frozen["dense_0"]["w"]).sum())
      0.0
    """
    match = _matcher(where) if where is not None else (lambda p, v: True)
    return tree.tree_map_with_path(lambda kp, v: f(v) if match(path_of(kp), v) else v, params)


def mask(params, where):
    """A boolean tree marking the selected parameters (for masked optimizers).

    E.g. weight decay on kernels only: ``optim.adamw(1e-3, mask=nn.mask(params,
    "*/w"))``.

    Args:
      params: a parameter tree.
      where: a glob pattern on the '/'-joined path (``"*/w"``; ``*`` also matches
        ``/``, and a pattern naming a subtree such as ``"dense_1"`` selects all of it),
        a list of patterns, or a predicate ``where(path, value) -> bool``.

    Returns:
      A tree of ``params``' structure holding Python bools, True where selected.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> nn.mask(params, "*/w")
      {'dense_0': {'b': False, 'w': True}, 'dense_1': {'b': False, 'w': True}}
    """
    match = _matcher(where)
    return tree.tree_map_with_path(lambda kp, v: bool(match(path_of(kp), v)), params)


def count_params(params) -> int:
    """The total number of scalar entries in a parameter tree.

    Args:
      params: a pytree of arrays.

    Returns:
      An int, the sum of the leaves' sizes.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> nn.count_params(params)
      26
    """
    return sum(int(math.prod(np.shape(v))) for v in tree.tree_leaves(params))


def summary(params) -> str:
    """A table of every parameter (path, shape, dtype, count) and the total.

    Args:
      params: a pytree of arrays.

    Returns:
      The table as a string (print it); the last line gives the total count, the
      number of arrays and their size in bytes.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> print(nn.summary(params))
      path       shape   dtype    count
      ---------------------------------
      dense_0/b  (4,)    float32      4
      dense_0/w  (3, 4)  float32     12
      dense_1/b  (2,)    float32      2
      dense_1/w  (4, 2)  float32      8
      ---------------------------------
      total: 26 parameters in 4 arrays (104 B)
    """
    rows = []
    for p, v in flatten_params(params).items():
        dtype, count = np.dtype(getattr(v, "dtype", np.float32)), int(math.prod(np.shape(v)))
        rows.append((p, str(tuple(np.shape(v))), str(dtype), count, count * dtype.itemsize))
    head = ("path", "shape", "dtype", "count")
    widths = [
        max([len(head[i])] + [len(str(r[i]) if i < 3 else f"{r[i]:,}") for r in rows])
        for i in range(4)
    ]
    w0, w1, w2, w3 = widths
    lines = [f"{head[0]:<{w0}}  {head[1]:<{w1}}  {head[2]:<{w2}}  {head[3]:>{w3}}"]
    lines.append("-" * len(lines[0]))
    for p, s, d, c, _ in rows:
        lines.append(f"{p:<{w0}}  {s:<{w1}}  {d:<{w2}}  {c:>{w3},}")
    total, nbytes = sum(r[3] for r in rows), sum(r[4] for r in rows)
    lines.append("-" * len(lines[0]))
    lines.append(f"total: {total:,} parameters in {len(rows)} arrays ({_bytes(nbytes)})")
    return "\n".join(lines)


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def reinit(params, model, key, input_shape=None, where=None, *, init=None, **shape_kw):
    """Redraws the parameters ``where`` selects, keeping the others.

    E.g. a new classifier head on a trained body, or every kernel from a chosen
    initializer. Two ways to get the fresh values:

    - ``init=`` an initializer ``init(key, shape, dtype)`` (``nn.initializers.normal(
      0.01)``): each selected parameter gets its own key, ``random.fold_in(key,
      zlib.crc32(path))`` with ``path`` its '/'-joined path (``"dense_1/w"``), so a
      parameter's new value depends only on ``key`` and its path: reproducible, and the
      same whatever else ``where`` selects. ``input_shape`` is not needed.
    - no ``init``: the values ``model.init(key, input_shape)`` would give (the model's
      own initializers); ``input_shape`` (a shape or a sample input) is required.

    The older order ``reinit(model, params, key, input_shape, where)`` still works.

    Args:
      params: the parameter tree.
      model: the layer that made ``params`` (may be None when ``init`` is given).
      key: a ``funcnet.random`` key for the fresh values.
      input_shape: the input shape (or a sample input) ``params`` were made for; only
        without ``init``.
      where: a glob pattern on the '/'-joined path (``"*/w"``; ``*`` also matches
        ``/``, and a pattern naming a subtree such as ``"dense_1"`` selects all of it),
        a list of patterns, or a predicate ``where(path, value) -> bool``.
      init: an initializer ``init(key, shape, dtype) -> array`` for every selected
        parameter (default: the model's own).
      **shape_kw: extra keywords of ``model.init`` (e.g. ``context_shape=``).

    Returns:
      A tree of ``params``' structure with the selected leaves redrawn.

    Raises:
      ValueError: ``where`` selects nothing (the message names the pattern and lists
        every path), a parameter ``model.init`` does not make for this input shape, or
        an initializer returning another shape.
      TypeError: no ``where``, or neither ``init`` nor ``input_shape``.

    Example:
      >>> from funcnet import nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> new = nn.reinit(params, model, random.key(1), where="*/w",
      ...                 init=nn.initializers.normal(0.01))
      >>> bool((new["dense_0"]["b"] == params["dense_0"]["b"]).all())
      True
      >>> float(abs(new["dense_1"]["w"]).max()) < 0.1
      True
    """
    from funcnet.nn.core import Layer  # core imports nothing from here; no cycle

    if isinstance(params, Layer):  # the older order: reinit(model, params, ...)
        params, model = model, params
    if where is None:
        raise TypeError("reinit needs where= (a glob pattern such as '*/w', or a predicate)")
    chosen = select(params, where)
    if not chosen:
        raise ValueError(
            f"reinit: the pattern {where!r} selects no parameter; the paths are: "
            f"{', '.join(paths(params))}"
        )
    if init is not None:
        fresh_flat = {p: _draw(init, key, p, v) for p, v in chosen.items()}
    else:
        if input_shape is None:
            raise TypeError(
                "reinit: give init= (an initializer) or the input_shape the params were made "
                "for (the values then come from model.init)"
            )
        fresh, _ = model.init(key, input_shape, **shape_kw)
        fresh_flat = flatten_params(fresh)
        missing = [p for p in chosen if p not in fresh_flat]
        if missing:
            raise ValueError(
                f"reinit: {missing[0]!r} is not a parameter of this model for input shape "
                f"{input_shape}"
            )
    return tree.tree_map_with_path(
        lambda kp, v: fresh_flat[path_of(kp)] if path_of(kp) in chosen else v, params
    )


def _draw(init, key, path, old):
    """A fresh value for the parameter at ``path``: its key is the path folded in."""
    shape, dtype = tuple(np.shape(old)), np.dtype(getattr(old, "dtype", np.float32))
    value = init(random.fold_in(key, zlib.crc32(path.encode())), shape, dtype)
    if tuple(np.shape(value)) != shape:
        raise ValueError(
            f"reinit: the initializer returned shape {tuple(np.shape(value))} for "
            f"{path!r}, expected {shape}"
        )
    return value
