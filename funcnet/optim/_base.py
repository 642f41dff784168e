"""The optimizer contract and the helpers every transformation shares.

An optimizer (more generally, a gradient transformation) is a pair of pure
functions over pytrees:

    init(params) -> state
    update(grads, state, params=None) -> (updates, state)

`state` is a small NamedTuple (a pytree of arrays), so it passes through `jit`,
checkpoints and `tree_map` like any other value.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.transforms.fused_stage import stage_in_fused_eager

_INT32_MAX = np.iinfo(np.int32).max


class _Pair(NamedTuple):
    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class GradientTransformation(_Pair):
    """A pair of pure functions: `init(params) -> state` and
    `update(grads, state, params=None) -> (updates, state)`.

    Because `update` is pure, a call of it inside `fn.fused_eager()` is traced once per
    argument signature and recorded as one operation (as `jit` would trace it)."""

    __slots__ = ()

    def __new__(cls, init, update):
        return super().__new__(cls, init, stage_in_fused_eager(update))


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


def init_empty_state(params) -> EmptyState:
    del params
    return EmptyState()


def identity() -> GradientTransformation:
    """The transformation that returns its input unchanged.

    Returns:
      A `GradientTransformation` with an `EmptyState`.
    """

    def update(grads, state, params=None):
        del params
        return grads, state

    return GradientTransformation(init_empty_state, update)


def zero_count():
    """A fresh int32 step counter."""
    return fnp.zeros([], fnp.int32)


def safe_increment(count):
    """`count + 1`, saturating at the int32 maximum instead of wrapping round."""
    return fnp.where(count < _INT32_MAX, count + 1, count)


@stage_in_fused_eager
def apply_updates(params, updates):
    """Adds `updates` to `params` leaf by leaf, keeping each parameter's dtype.

    Args:
      params: a pytree of arrays.
      updates: a pytree of the same structure (what `update` returned).

    Returns:
      The new parameters.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> optim.apply_updates({'w': fnp.ones(2)}, {'w': fnp.full((2,), -0.5)})['w'].tolist()
      [0.5, 0.5]
    """
    check_tree_match(updates, params, what="updates tree", against="params")
    return _tree.tree_map(
        lambda p, u: fnp.asarray(p + u).astype(fnp.asarray(p).dtype), params, updates
    )


def global_norm(tree):
    """The L2 norm of all the leaves of `tree` taken together, as one vector.

    Args:
      tree: a pytree of arrays.

    Returns:
      A scalar array.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> float(optim.global_norm({'a': fnp.array([3.0]), 'b': fnp.array([4.0])}))
      5.0
    """
    total = 0
    for leaf in _tree.tree_leaves(tree):  # summed in leaf order, as optax does
        total = total + fnp.sum(fnp.square(leaf))
    if isinstance(total, int):  # an empty tree
        total = fnp.zeros([], fnp.float32)
    return fnp.sqrt(total)


# ----------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------


def _shape(x):
    return tuple(getattr(x, "shape", np.shape(x)))


def tree_mismatch(tree, reference, reference_name="the reference") -> str | None:
    """Why `tree` does not match `reference`, naming the first differing path; or None."""
    leaves, treedef = _tree.tree_flatten_with_path(tree)
    ref_leaves, ref_treedef = _tree.tree_flatten_with_path(reference)
    paths = [_tree.keystr(p) for p, _ in leaves]
    ref_paths = [_tree.keystr(p) for p, _ in ref_leaves]
    if paths != ref_paths:
        path_set, ref_path_set = set(paths), set(ref_paths)
        missing = [p for p in ref_paths if p not in path_set]
        extra = [p for p in paths if p not in ref_path_set]
        parts = []
        if missing:
            parts.append(f"it lacks path {missing[0]}")
        if extra:
            parts.append(f"it has path {extra[0]}, which {reference_name} lacks")
        if not parts:
            i = next(i for i, (a, b) in enumerate(zip(paths, ref_paths)) if a != b)
            parts.append(
                f"the leaves come in another order (path {paths[i]} where "
                f"{reference_name} has {ref_paths[i]})"
            )
        return "; ".join(parts)
    if treedef != ref_treedef:
        return f"the containers differ: {treedef} vs {ref_treedef}"
    for path, (_, leaf), (_, ref_leaf) in zip(paths, leaves, ref_leaves):
        if _shape(leaf) != _shape(ref_leaf):
            return f"at path {path}: shape {_shape(leaf)} where {_shape(ref_leaf)} is expected"
    return None


def check_tree_match(
    tree, reference, *, what="gradient tree", against="optimizer state", owner=None
):
    """Raises ValueError naming the first path where `tree` and `reference` differ."""
    if _tree.tree_structure(tree) == _tree.tree_structure(reference) and all(
        _shape(a) == _shape(b)
        for a, b in zip(_tree.tree_leaves(tree), _tree.tree_leaves(reference))
    ):
        return
    why = tree_mismatch(tree, reference, f"the {against}")
    where = f"{owner}: " if owner else ""
    hint = (
        " Was the state made by `init` on parameters of the same tree?"
        if against == "optimizer state"
        else ""
    )
    raise ValueError(f"{where}the {what} does not match the {against}: {why}.{hint}")


def _concrete(value):
    """`value` as a float64 NumPy array, or None when it is traced (not checkable)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):  # a tracer inside jit: nothing to check now
        return None


def check_non_negative(value, name: str, owner: str):
    """Refuses a negative, NaN or infinite number (a learning rate, a decay, a value)."""
    if callable(value):
        return
    v = _concrete(value)
    if v is None:
        return
    if np.isnan(v).any():
        raise ValueError(f"{owner}: {name} is NaN.")
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError(f"{owner}: {name} must be a finite non-negative number, got {value!r}.")


def check_learning_rate(learning_rate, owner: str):
    """A learning rate is a schedule (checked when the schedule was built) or a
    finite non-negative number."""
    if learning_rate is None:
        raise ValueError(f"{owner}: learning_rate is required (a float or a schedule).")
    check_non_negative(learning_rate, "learning_rate", owner)


def check_steps(value, name: str, owner: str, *, allow_zero: bool = False):
    """A step count must be a positive integer (or non-negative, with allow_zero)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an integer number of steps, got {value!r}.")
    if value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{owner}: {name} must be {kind}, got {value}.")


# ----------------------------------------------------------------------------
# Moment helpers shared by the adaptive optimizers
# ----------------------------------------------------------------------------


def update_moment(grads, moments, decay, order):
    """The exponential moving average `(1 - decay) * g**order + decay * m`, per leaf."""
    return _tree.tree_map(lambda g, m: (1 - decay) * (g**order) + decay * m, grads, moments)


def bias_correction(moments, decay, count):
    """`m / (1 - decay**count)`, per leaf (`count` is the int32 step, from 1)."""
    correction = 1 - decay**count
    return _tree.tree_map(lambda m: m / correction.astype(m.dtype), moments)


def zeros_like_tree(params, dtype=None):
    return _tree.tree_map(lambda p: fnp.zeros_like(p, dtype=dtype), params)


def cast_tree(tree, dtype):
    if dtype is None:
        return tree
    return _tree.tree_map(lambda t: t.astype(dtype), tree)
