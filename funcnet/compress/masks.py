"""Magnitude pruning: masks as pytrees, and applying them.

A mask tree has the structure of the parameters, one bool array per leaf (True: the
weight is kept). `magnitude_prune` computes one from the weights' magnitudes, either
over all the prunable weights at once (``scope="global"``) or layer by layer
(``scope="layer"``), removing single weights (``"unstructured"``), whole output
channels (``"channel"``) or all but ``n`` of every ``m`` consecutive weights (``(n, m)``,
the N:M pattern of sparse tensor cores). The gradual, scheduled form used while training
is `funcnet.compress.pruning` (in `funcnet.compress.schedules`); `sparsity` and
`sparsity_report` (in `funcnet.compress.sparsity_stats`) measure the result.

**Exact counts, deterministic ties.** The number of units (weights, or channels) removed
is exactly ``floor(sparsity * n)``, ``n`` being the number of units in the scope. The
candidates are ordered by ``(magnitude, position)``: among equal magnitudes the unit
that comes first (in the leaves' flattening order, then row-major inside a leaf) is
removed first. This is computed with one sort and a dynamically indexed threshold, so a
traced ``sparsity`` (inside ``jit``, from a schedule) works.
"""

import math

import numpy as np

from funcnet import lax
from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import tree_mismatch
from funcnet.transforms.jit import jit

SCOPES = ("global", "layer")
_DEAD = -1.0  # the score of a unit pruned earlier: below every magnitude (>= 0)


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------


def _concrete(value):
    """`value` as a float64 NumPy array, or None when it is traced (not checkable)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):  # a tracer inside jit
        return None


def check_sparsity(sparsity, owner, name="sparsity"):
    """Refuses a concrete sparsity outside [0, 1) (a traced one cannot be checked)."""
    v = _concrete(sparsity)
    if v is None:
        return
    if v.shape != ():
        raise ValueError(f"{owner}: {name} must be a scalar, got shape {v.shape}.")
    if not (0.0 <= float(v) < 1.0):  # also refuses NaN
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {sparsity!r}.")


def check_scope(scope, owner):
    if scope not in SCOPES:
        raise ValueError(f"{owner}: unknown scope {scope!r}; expected 'global' or 'layer'.")


def parse_structure(structure, owner):
    """("unstructured",), ("channel",) or ("nm", n, m); a clear ValueError otherwise."""
    if isinstance(structure, str):
        if structure in ("unstructured", "channel"):
            return (structure,)
    elif isinstance(structure, (tuple, list)) and len(structure) == 2:
        n, m = structure
        if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (n, m)):
            if 1 <= n <= m:
                return ("nm", int(n), int(m))
            raise ValueError(
                f"{owner}: an N:M structure needs 1 <= n <= m, got {tuple(structure)!r}."
            )
    raise ValueError(
        f"{owner}: unknown structure {structure!r}; expected 'unstructured', 'channel' or "
        "a pair of ints (n, m) such as (2, 4)."
    )


def _check_nm_sparsity(sparsity, n, m, owner):
    if sparsity is None:
        return
    v = _concrete(sparsity)
    if v is None:  # traced: the pattern fixes the sparsity, the value is ignored
        return
    if v.shape != () or not math.isclose(float(v), 1 - n / m, abs_tol=1e-6):
        raise ValueError(
            f"{owner}: with structure ({n}, {m}) the sparsity is fixed at 1 - n/m = "
            f"{1 - n / m:g}; pass sparsity=None or {1 - n / m:g}, got {sparsity!r}."
        )


# ----------------------------------------------------------------------------
# Which leaves are pruned
# ----------------------------------------------------------------------------


def _key_of(entry):
    for attr in ("key", "idx", "name"):
        if hasattr(entry, attr):
            return getattr(entry, attr)
    return entry


def _default_prunable(leaf) -> bool:
    return leaf.ndim >= 2 and fnp.issubdtype(leaf.dtype, fnp.floating)


def prunable_flags(params, prunable, owner):
    """One bool per leaf of `params` (flattening order): may the leaf be pruned?"""
    path_leaves = _tree.tree_leaves_with_path(params)
    if prunable is None:
        return [_default_prunable(fnp.asarray(leaf)) for _, leaf in path_leaves]
    if callable(prunable):
        return [bool(prunable(tuple(_key_of(e) for e in path), leaf)) for path, leaf in path_leaves]
    try:  # a tree of bools with params' structure, or a prefix of it
        full = _tree.tree_broadcast(prunable, params)
    except ValueError:
        why = tree_mismatch(prunable, params, "the params") or "different containers"
        raise ValueError(f"{owner}: the prunable tree does not fit the params: {why}.") from None
    return [bool(f) for f in _tree.tree_leaves(full)]


# ----------------------------------------------------------------------------
# Scores and thresholds
# ----------------------------------------------------------------------------


def _unit_scores(value, alive, kind):
    """Per-unit scores (float32, 1-d) of one leaf: |w| per weight, or the L2 norm of each
    output channel (the last axis); units no longer alive score below everything."""
    v = fnp.asarray(value).astype(fnp.float32)
    if kind == "channel":
        flat = fnp.reshape(v, (-1, v.shape[-1]))
        scores = fnp.sqrt(fnp.sum(flat * flat, axis=0))
        if alive is not None:
            alive = fnp.any(fnp.reshape(alive, (-1, v.shape[-1])), axis=0)
    else:
        scores = fnp.ravel(fnp.abs(v))
        if alive is not None:
            alive = fnp.ravel(alive)
    scores = fnp.where(fnp.isnan(scores), fnp.inf, scores)  # a NaN weight is never chosen
    if alive is not None:
        scores = fnp.where(alive, scores, _DEAD)
    return scores


def prune_count(sparsity, n):
    """floor(sparsity * n): in float64 with a 1e-6 guard for a concrete sparsity (so that
    0.29 * 100 counts 29), in float32 for a traced one; an int or an int32 array."""
    v = _concrete(sparsity)
    if v is not None:
        return min(max(math.floor(float(v) * n + 1e-6), 0), n)
    product = fnp.asarray(sparsity).astype(fnp.float32) * n
    k = fnp.floor(product + fnp.abs(product) * 2.0**-22)  # two ulps: 0.29f * 100 -> 29
    return fnp.clip(k, 0, n).astype(fnp.int32)


def _keep_top(scores, k):
    """A bool vector: False for the `k` smallest (score, index) pairs, True elsewhere."""
    n = scores.shape[0]
    if n == 0:
        return fnp.ones((0,), dtype=bool)
    index = lax.iota(fnp.int32, n)
    sorted_scores, sorted_index = lax.sort_key_val(scores, index)
    at = fnp.clip(fnp.asarray(k, fnp.int32), 0, n - 1)
    t_score = lax.dynamic_index_in_dim(sorted_scores, at, keepdims=False)
    t_index = lax.dynamic_index_in_dim(sorted_index, at, keepdims=False)
    keep = (scores > t_score) | ((scores == t_score) & (index >= t_index))
    return keep & (fnp.asarray(k) < n)  # k == n (sparsity ~ 1 - 1e-7): all removed


def _expand(keep_units, leaf_shape, kind):
    if kind == "channel":
        return fnp.broadcast_to(keep_units, leaf_shape)
    return fnp.reshape(keep_units, leaf_shape)


def _nm_mask(value, alive, n, m):
    """Keeps the n largest of every m consecutive weights along axis -2 (the input or
    reduction axis of a Dense (in, out) or HWIO Conv kernel)."""
    v = fnp.abs(fnp.asarray(value).astype(fnp.float32))
    v = fnp.where(fnp.isnan(v), fnp.inf, v)
    if alive is not None:
        v = fnp.where(alive, v, _DEAD)
    length = v.shape[-2]
    if n == m:
        return fnp.ones(v.shape, dtype=bool)
    moved = fnp.moveaxis(v, -2, -1)  # (..., out, in): groups of m along `in`
    grouped = fnp.reshape(moved, (*moved.shape[:-1], length // m, m))
    index = lax.broadcasted_iota(fnp.int32, grouped.shape, grouped.ndim - 1)
    sorted_scores, sorted_index = lax.sort_key_val(grouped, index)
    t_score = sorted_scores[..., m - n : m - n + 1]
    t_index = sorted_index[..., m - n : m - n + 1]
    keep = (grouped > t_score) | ((grouped == t_score) & (index >= t_index))
    return fnp.moveaxis(fnp.reshape(keep, moved.shape), -1, -2)


def _fresh_masks(values, alives, counts, flags, kind, scope):
    masks = [fnp.ones(v.shape, dtype=bool) for v in values]
    alives = [None] * len(values) if alives is None else alives
    chosen = [i for i, f in enumerate(flags) if f]
    if kind[0] == "nm":
        for i in chosen:
            masks[i] = _nm_mask(values[i], alives[i], kind[1], kind[2])
        return masks
    scores = {i: _unit_scores(values[i], alives[i], kind[0]) for i in chosen}
    if scope == "layer":
        for j, i in enumerate(chosen):
            masks[i] = _expand(_keep_top(scores[i], counts[j]), values[i].shape, kind[0])
    elif chosen:
        sizes = [scores[i].shape[0] for i in chosen]
        keep = _keep_top(fnp.concatenate([scores[i] for i in chosen]), counts[0])
        offsets = np.cumsum([0, *sizes])
        for j, i in enumerate(chosen):
            part = keep[int(offsets[j]) : int(offsets[j + 1])]
            masks[i] = _expand(part, values[i].shape, kind[0])
    return masks


def _needs_more(alives, counts, flags, kind, scope):
    """Whether some scope has fewer dead units than it must prune now. When not, the fresh
    masks would only remove dead units again (they score lowest), so the old masks stand
    and the sorts can be skipped: a pruning step whose target did not grow is cheap."""
    chosen = [i for i, f in enumerate(flags) if f]
    if not chosen:
        return fnp.asarray(False)
    if kind[0] == "nm":
        m, short = kind[2], fnp.asarray(False)
        for i in chosen:
            dead = ~fnp.moveaxis(alives[i], -2, -1)
            dead = fnp.reshape(dead, (*dead.shape[:-1], dead.shape[-1] // m, m))
            short = short | fnp.any(fnp.sum(dead.astype(fnp.int32), axis=-1) < m - kind[1])
        return short
    dead = []
    for i in chosen:
        a = alives[i]
        if kind[0] == "channel":
            a = fnp.any(fnp.reshape(a, (-1, a.shape[-1])), axis=0)
        dead.append(fnp.sum((~a).astype(fnp.int32)))
    if scope == "global":
        dead = [sum(dead[1:], dead[0])]
    return fnp.any(fnp.stack([c > d for c, d in zip(counts, dead)]))


def _masks_program(values, alives, counts, *, flags, kind, scope):
    """The masks of all leaves, as one program (`counts`: int32, one per chosen leaf for
    scope "layer", one in all for "global"; unused for N:M)."""
    if alives is None:
        return _fresh_masks(values, None, counts, flags, kind, scope)
    return lax.cond(
        _needs_more(alives, counts, flags, kind, scope),
        lambda v, a, c: _fresh_masks(v, a, c, flags, kind, scope),
        lambda v, a, c: [x if f else fnp.ones(x.shape, dtype=bool) for x, f in zip(a, flags)],
        values,
        alives,
        counts,
    )


# One compiled program per tree signature (instead of a dozen eager ops per leaf); called
# inside a trace, it is staged as one jit equation.
_masks_jit = jit(_masks_program, static_argnames=("flags", "kind", "scope"))


def compute_masks(params, sparsity, *, scope, structure, prunable, alive=None, owner):
    """The mask tree (the shared core of `magnitude_prune` and `pruning`).

    `alive`: an optional mask tree of units still in place; units it marks False score
    below every magnitude, so they are the first counted among the pruned ones."""
    check_scope(scope, owner)
    kind = parse_structure(structure, owner)
    path_leaves, treedef = _tree.tree_flatten_with_path(params)
    flags = tuple(prunable_flags(params, prunable, owner))
    values = [fnp.asarray(leaf) for _, leaf in path_leaves]
    paths = [_tree.keystr(p) for p, _ in path_leaves]
    chosen = [i for i, f in enumerate(flags) if f]
    for i in chosen:
        shape = tuple(values[i].shape)
        if kind[0] != "unstructured" and len(shape) < 2:
            raise ValueError(
                f"{owner}: structure {structure!r} needs kernels of 2 or more axes, but "
                f"the leaf at path {paths[i]} has shape {shape}; leave it out with `prunable`."
            )
        if kind[0] == "nm" and shape[-2] % kind[2]:
            raise ValueError(
                f"{owner}: N:M pruning ({kind[1]}:{kind[2]}) groups weights along axis -2, "
                f"whose length {shape[-2]} at path {paths[i]} (shape {shape}) is not a "
                f"multiple of {kind[2]}."
            )
    if kind[0] == "nm":
        _check_nm_sparsity(sparsity, kind[1], kind[2], owner)
        counts = None
    else:
        check_sparsity(sparsity, owner)
        units = [values[i].shape[-1] if kind[0] == "channel" else values[i].size for i in chosen]
        sizes = units if scope == "layer" else [sum(units)]
        counts = [fnp.asarray(prune_count(sparsity, n), fnp.int32) for n in sizes]
    alives = None if alive is None else _tree.tree_leaves(alive)
    masks = _masks_jit(values, alives, counts, flags=flags, kind=kind, scope=scope)
    return _tree.tree_unflatten(treedef, masks)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def magnitude_prune(params, sparsity, *, scope="global", structure="unstructured", prunable=None):
    """Masks that remove the smallest-magnitude weights (or channels, or N:M groups).

    **Scope.** ``"global"``: one ranking over all the prunable leaves together, so the
    ``sparsity`` fraction of all prunable weights is removed (layers with many small
    weights lose more). ``"layer"``: each prunable leaf loses the fraction on its own.

    **Structure.** ``"unstructured"``: single weights, ranked by ``|w|``.
    ``"channel"``: whole output channels (the last axis of a Dense ``(in, out)`` or Conv
    HWIO kernel), ranked by their L2 norm; ``sparsity`` is then the fraction of channels
    (per leaf, or of all the prunable leaves' channels together with ``"global"``).
    ``(n, m)``, e.g. ``(2, 4)``: in every group of ``m`` consecutive weights along axis
    -2, the n largest are kept. Axis -2 is the reduction axis: the input features of a
    Dense ``(in, out)`` kernel and the input channels ``I`` of an HWIO kernel, the
    dimension NVIDIA's 2:4 sparse tensor cores group along. ``sparsity`` must then be None
    or ``1 - n/m``, and ``scope`` does not matter.

    **Counts and ties.** Exactly ``floor(sparsity * n)`` units of the ``n`` in the scope
    are removed (for a Python or NumPy sparsity the product is taken in float64 with a
    1e-6 guard, so ``0.29 * 100`` removes 29; for a traced sparsity it is float32, which
    for very large ``n`` can differ by one). Equal magnitudes are broken by position: the
    unit that comes first (leaf flattening order, then row-major) is removed first.
    A NaN weight is treated as the largest (never removed).

    Args:
      params: a pytree of arrays.
      sparsity: the fraction to remove, in [0, 1) (checked when concrete; a traced value,
        inside ``jit``, is not checked). Ignored (may be None) for an N:M structure.
      scope: ``"global"`` or ``"layer"``.
      structure: ``"unstructured"``, ``"channel"`` or a pair ``(n, m)``.
      prunable: which leaves may be pruned: None (the default: floating leaves with 2 or
        more axes, i.e. kernels, not biases), a pytree of bools with ``params``' structure
        (or a prefix of it), or a function ``(path, leaf) -> bool`` where ``path`` is the
        tuple of keys, e.g. ``("dense_0", "w")``.

    Returns:
      A pytree of bool arrays with ``params``' structure and shapes (True: kept); the
      leaves that are not prunable get all-True masks.

    Raises:
      ValueError: a sparsity outside [0, 1), an unknown scope or structure, an N:M group
        size that does not divide axis -2 of a kernel, a structured mode on a leaf of
        fewer than 2 axes, or a ``prunable`` tree that does not fit ``params``.

    Example:
      >>> from funcnet import compress
      >>> params = {'w': fnp.array([[0.1, -2.0], [3.0, -0.4]]), 'b': fnp.ones(2)}
      >>> masks = compress.magnitude_prune(params, 0.5)
      >>> masks['w'].tolist(), masks['b'].tolist()
      ([[False, True], [True, False]], [True, True])
      >>> compress.apply_masks(params, masks)['w'].tolist()
      [[0.0, -2.0], [3.0, 0.0]]
      >>> w = fnp.array([[1.0], [-4.0], [3.0], [0.5]])         # (in=4, out=1)
      >>> compress.magnitude_prune({'w': w}, None, structure=(2, 4))['w'][:, 0].tolist()
      [False, True, True, False]
    """
    return compute_masks(
        params,
        sparsity,
        scope=scope,
        structure=structure,
        prunable=prunable,
        owner="magnitude_prune",
    )


def check_masks(params, masks, owner, what="mask tree"):
    """Raises ValueError naming the first path where `masks` does not fit `params`."""
    same = _tree.tree_structure(masks) == _tree.tree_structure(params) and all(
        tuple(np.shape(m)) == tuple(np.shape(p))
        for m, p in zip(_tree.tree_leaves(masks), _tree.tree_leaves(params))
    )
    if not same:
        why = tree_mismatch(masks, params, "the params") or "different containers"
        raise ValueError(f"{owner}: the {what} does not match the params: {why}.")


def apply_masks(params, masks):
    """Zeroes the weights where the mask is False (each leaf keeps its dtype).

    Args:
      params: a pytree of arrays.
      masks: a pytree of bool arrays with ``params``' structure and shapes (as made by
        `magnitude_prune`).

    Returns:
      The params with the masked-out entries set to zero.

    Raises:
      ValueError: ``masks`` does not match ``params``; the message names the first
        differing path (and both shapes when a shape differs).

    Example:
      >>> from funcnet import compress
      >>> p = {'w': fnp.array([1.0, 2.0, 3.0])}
      >>> compress.apply_masks(p, {'w': fnp.array([True, False, True])})['w'].tolist()
      [1.0, 0.0, 3.0]
    """
    check_masks(params, masks, "apply_masks")
    return _apply_jit(params, masks)


def _apply_program(params, masks):
    def apply(p, m):
        p = fnp.asarray(p)
        return fnp.where(fnp.asarray(m, dtype=bool), p, fnp.zeros_like(p))

    return _tree.tree_map(apply, params, masks)


_apply_jit = jit(_apply_program)  # one program per tree, not one eager op per leaf


__all__ = [
    "apply_masks",
    "magnitude_prune",
]
