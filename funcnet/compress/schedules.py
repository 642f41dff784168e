"""Gradual pruning while training: a sparsity schedule and an optimizer transformation.

`polynomial_decay` is the schedule of Zhu & Gupta, "To prune or not to prune" (2017):
sparsity rises from ``s_i`` to ``s_f`` fast at first, then slowly, while the remaining
weights recover. `pruning` applies it as the last piece of an optimizer chain: at every
step it removes the smallest weights of ``params + updates`` up to the scheduled
sparsity and keeps the removed ones at exactly zero for good.
"""

from typing import Any, NamedTuple

import numpy as np

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.compress.masks import (
    check_masks,
    check_scope,
    check_sparsity,
    compute_masks,
    parse_structure,
)
from funcnet.optim import GradientTransformation, safe_increment
from funcnet.optim._base import check_steps, check_tree_match, zero_count  # optim's helpers


def polynomial_decay(
    initial_sparsity, final_sparsity, begin_step, end_step, *, power=3, frequency=1
):
    """The gradual pruning schedule of Zhu & Gupta (2017), as tfmot's PolynomialDecay.

    ``s(t) = s_f + (s_i - s_f) * (1 - (t - t0) / (t_end - t0)) ** power`` for ``t`` in
    ``[t0, t_end]``; ``s_i`` before ``t0`` and ``s_f`` from ``t_end`` on. With
    ``frequency=f`` the value changes only every ``f`` steps from ``t0`` (``t`` is
    rounded down to ``t0 + f * k``), and it reaches ``s_f`` at ``t_end`` in any case.

    Args:
      initial_sparsity: ``s_i``, in [0, 1).
      final_sparsity: ``s_f``, in [0, 1).
      begin_step: ``t0``, a non-negative int.
      end_step: ``t_end``, an int greater than ``begin_step``.
      power: the exponent (3 in the paper; 1 is a straight line); positive.
      frequency: a positive int, the number of steps between changes.

    Returns:
      A schedule ``step -> sparsity`` (a float32 scalar array); ``step`` may be a Python
      int, an int array, or traced inside ``jit``.

    Raises:
      ValueError: a sparsity outside [0, 1), ``end_step <= begin_step``, a negative
        ``begin_step``, a non-positive ``power`` or ``frequency``.

    Example:
      >>> from funcnet import compress
      >>> s = compress.polynomial_decay(0.0, 0.9, begin_step=0, end_step=100)
      >>> [round(float(s(t)), 4) for t in (0, 50, 100, 200)]
      [0.0, 0.7875, 0.9, 0.9]
    """
    owner = "polynomial_decay"
    check_sparsity(initial_sparsity, owner, "initial_sparsity")
    check_sparsity(final_sparsity, owner, "final_sparsity")
    check_steps(begin_step, "begin_step", owner, allow_zero=True)
    check_steps(end_step, "end_step", owner, allow_zero=True)
    check_steps(frequency, "frequency", owner)
    if end_step <= begin_step:
        raise ValueError(
            f"{owner}: end_step ({end_step}) must be greater than begin_step ({begin_step})."
        )
    if not (np.isfinite(power) and power > 0):
        raise ValueError(f"{owner}: power must be a positive number, got {power!r}.")
    s_i, s_f, t0, t1 = (
        float(initial_sparsity),
        float(final_sparsity),
        int(begin_step),
        int(end_step),
    )

    def schedule(step):
        t = fnp.clip(fnp.asarray(step).astype(fnp.int32), t0, t1)
        t = fnp.where(t >= t1, t1, t0 + ((t - t0) // frequency) * frequency)
        frac = (t - t0).astype(fnp.float32) / (t1 - t0)
        return (s_f + (s_i - s_f) * (1 - frac) ** power).astype(fnp.float32)

    return schedule


class PruningState(NamedTuple):
    """The state of `pruning`: the step count and the current mask tree."""

    count: Any  # int32: the number of updates so far
    masks: Any  # a tree of bool arrays like the params (True: kept)


def pruning(schedule, *, scope="global", structure="unstructured", prunable=None):
    """An optimizer transformation that prunes gradually and keeps pruned weights at zero.

    Put it last in a chain: ``optim.chain(optim.adam(1e-3), compress.pruning(sched))``.
    At the update with count ``c`` (0 for the first), it computes the masks of
    ``params + updates`` at sparsity ``schedule(c)`` (as `magnitude_prune`, with the
    weights pruned before counted first, so a mask only ever grows sparser: the new mask
    is the old one AND the fresh one, as in tfmot) and returns updates such that
    ``apply_updates`` gives ``mask * (params + updates)``: a pruned weight's update is
    ``-param``, so it becomes exactly 0 and stays there. The masks are in the state
    (``state.masks``, or `masks_of` on the whole optimizer state).

    With an N:M ``structure`` the pattern fixes the sparsity: the N:M masks are applied
    from the first step at which ``schedule(c) > 0`` (``schedule=None``: from the start).

    Args:
      schedule: a function ``step -> sparsity`` such as `polynomial_decay`, a constant
        sparsity in [0, 1), or None (only with an N:M structure).
      scope: ``"global"`` or ``"layer"`` (see `magnitude_prune`).
      structure: ``"unstructured"``, ``"channel"`` or ``(n, m)`` (see `magnitude_prune`).
      prunable: which leaves may be pruned (see `magnitude_prune`).

    Returns:
      A `GradientTransformation` whose state is a `PruningState`; its ``update`` needs
      ``params``.

    Raises:
      ValueError: an unknown scope or structure, a constant sparsity outside [0, 1), a
        missing schedule (other than for N:M); at ``update``, no ``params`` or updates
        that do not match them (names the path).

    Example:
      >>> from funcnet import compress
      >>> params = {'w': fnp.array([[1.0, -0.2], [0.3, 4.0]])}
      >>> tx = optim.chain(optim.sgd(0.1), compress.pruning(0.5))
      >>> state = tx.init(params)
      >>> updates, state = tx.update({'w': fnp.zeros((2, 2))}, state, params)
      >>> optim.apply_updates(params, updates)['w'].tolist()
      [[1.0, 0.0], [0.0, 4.0]]
      >>> compress.masks_of(state)['w'].tolist()
      [[True, False], [False, True]]
    """
    owner = "pruning"
    check_scope(scope, owner)
    kind = parse_structure(structure, owner)
    if schedule is None:
        if kind[0] != "nm":
            raise ValueError(
                f"{owner}: a schedule (step -> sparsity) or a constant sparsity is required "
                "(only an N:M structure may go without one)."
            )
    elif not callable(schedule):
        check_sparsity(schedule, owner)

    def target(count):
        if schedule is None:
            return None
        return schedule(count) if callable(schedule) else schedule

    def init(params):
        masks = _tree.tree_map(lambda p: fnp.ones(fnp.shape(p), dtype=bool), params)
        return PruningState(count=zero_count(), masks=masks)

    def update(updates, state, params=None):
        if params is None:
            raise ValueError(f"{owner}: update needs params (call update(updates, state, params)).")
        check_tree_match(updates, params, what="updates tree", against="params", owner=owner)
        check_masks(params, state.masks, owner, what="mask tree in the state")
        new_params = _tree.tree_map(
            lambda p, u: fnp.asarray(p + u).astype(fnp.asarray(p).dtype), params, updates
        )
        sparsity = target(state.count)
        fresh = compute_masks(
            new_params,
            None if kind[0] == "nm" else sparsity,
            scope=scope,
            structure=structure,
            prunable=prunable,
            alive=state.masks,
            owner=owner,
        )
        if kind[0] == "nm" and sparsity is not None:  # the pattern starts once s(t) > 0
            on = fnp.asarray(sparsity) > 0
            fresh = _tree.tree_map(lambda m: m | ~on, fresh)
        masks = _tree.tree_map(lambda old, new: old & new, state.masks, fresh)

        def masked_update(m, u, p):  # a pruned weight gets -p: p + (-p) is exactly 0
            return fnp.where(m, u, -fnp.asarray(p)).astype(fnp.asarray(u).dtype)

        updates = _tree.tree_map(masked_update, masks, updates, params)
        return updates, PruningState(count=safe_increment(state.count), masks=masks)

    return GradientTransformation(init, update)


def masks_of(opt_state):
    """The current masks of the `pruning` transformation inside an optimizer state.

    Args:
      opt_state: the state of an optimizer containing `pruning` (e.g. the tuple of a
        ``chain``); the first `PruningState` found in flattening order is used.

    Returns:
      The mask tree (bool arrays like the params; True: kept).

    Raises:
      ValueError: the state holds no `PruningState`.

    Example:
      >>> from funcnet import compress
      >>> tx = optim.chain(optim.sgd(0.1), compress.pruning(0.5))
      >>> compress.masks_of(tx.init({'w': fnp.ones((2, 2))}))['w'].tolist()
      [[True, True], [True, True]]
    """
    found = [
        x
        for x in _tree.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, PruningState))
        if isinstance(x, PruningState)
    ]
    if not found:
        raise ValueError(
            "masks_of: the optimizer state holds no PruningState (was compress.pruning "
            f"part of the optimizer?); got {type(opt_state).__name__}."
        )
    return found[0].masks


__all__ = ["PruningState", "masks_of", "polynomial_decay", "pruning"]
