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

import numpy as np

from funcnet import tree

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
    """'/'-joined path of a jax-style key path (from tree_flatten_with_path)."""
    return "/".join(_key_name(k) for k in key_path)


def flatten_params(params) -> dict:
    """``{path: array}`` in flattening order."""
    leaves, _ = tree.tree_flatten_with_path(params)
    return {path_of(p): v for p, v in leaves}


def unflatten_params(flat) -> dict:
    """Nested dicts from ``{path: array}`` (the inverse of flatten_params for dicts)."""
    out = {}
    for path, v in flat.items():
        d = out
        parts = path.split("/")
        for k in parts[:-1]:
            d = d.setdefault(k, {})
        d[parts[-1]] = v
    return out


def paths(params) -> list:
    """Every parameter's path."""
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
    """The array (or subtree) at ``path`` ("dense_1/w")."""
    return _node(params, path)


def set_param(params, path, value, *, check_shape=True):
    """A copy of ``params`` with the entry at ``path`` replaced by ``value`` (the
    original is not modified). Refuses a value of another shape unless
    ``check_shape=False``."""
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
    """``{path: array}`` of the parameters ``where`` selects."""
    match = _matcher(where)
    return {p: v for p, v in flatten_params(params).items() if match(p, v)}


def filter_params(params, where) -> dict:
    """The nested dict of only the parameters ``where`` selects."""
    return unflatten_params(select(params, where))


def map_params(f, params, where=None):
    """``params`` with ``f(value)`` in place of each selected parameter (all by
    default); the structure is kept."""
    match = _matcher(where) if where is not None else (lambda p, v: True)
    return tree.tree_map_with_path(lambda kp, v: f(v) if match(path_of(kp), v) else v, params)


def mask(params, where):
    """A tree of the params' structure holding True where ``where`` selects (e.g. to
    apply weight decay only to kernels: ``mask(params, "*/w")``)."""
    match = _matcher(where)
    return tree.tree_map_with_path(lambda kp, v: bool(match(path_of(kp), v)), params)


def count_params(params) -> int:
    """Total number of scalar entries."""
    return sum(int(math.prod(np.shape(v))) for v in tree.tree_leaves(params))


def summary(params) -> str:
    """A table of every parameter (path, shape, dtype, count) and the total::

    print(nn.summary(params))
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


def reinit(model, params, key, input_shape, where, **shape_kw):
    """Redraw the parameters ``where`` selects (with the model's initializers and
    ``key``), keeping the others: e.g. a new classifier head on a trained body,
    ``reinit(model, params, key, (-1, 28, 28, 1), "dense_1")``. Fresh values come from
    ``model.init(key, input_shape)``, so they are the values a fresh init with that key
    would give."""
    fresh, _ = model.init(key, input_shape, **shape_kw)
    fresh_flat = flatten_params(fresh)
    chosen = select(params, where)
    if not chosen:
        raise ValueError(
            f"reinit: {where!r} selects no parameter (paths: {', '.join(paths(params)[:12])})"
        )
    missing = [p for p in chosen if p not in fresh_flat]
    if missing:
        raise ValueError(
            f"reinit: {missing[0]!r} is not a parameter of this model for input shape {input_shape}"
        )
    return tree.tree_map_with_path(
        lambda kp, v: fresh_flat[path_of(kp)] if path_of(kp) in chosen else v, params
    )
