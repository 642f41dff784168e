"""Gradient accumulation: `MultiSteps` runs the inner optimizer once every k calls,
on the mean (or sum) of the k gradients; in between it returns zero updates."""

from typing import Any, NamedTuple

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import GradientTransformation, check_tree_match, safe_increment, zero_count


class MultiStepsState(NamedTuple):
    mini_step: Any  # int32: calls since the last inner update
    gradient_step: Any  # int32: inner updates made so far
    inner_opt_state: Any
    acc_grads: Any  # the running mean (or sum) of the gradients


class MultiSteps:
    """Accumulates gradients over k calls of `update` and applies the inner optimizer
    on the k-th; the other calls return zero updates.

    Args:
      opt: the inner `GradientTransformation`.
      every_k_schedule: k, an int, or a function `gradient_step -> k`.
      use_grad_mean: average the k gradients (True, the default) or sum them.
      accumulator_dtype: the dtype of the accumulator (float32).

    `MultiSteps(...)` has `init` and `update` like any optimizer, so it can stand
    where one does; `.gradient_transformation()` gives the plain pair.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.MultiSteps(optim.sgd(1.0), every_k_schedule=2)
      >>> state = opt.init(fnp.zeros(1))
      >>> u, state = opt.update(fnp.array([1.0]), state)
      >>> u.tolist()
      [0.0]
      >>> u, state = opt.update(fnp.array([3.0]), state)
      >>> u.tolist()
      [-2.0]
    """

    def __init__(self, opt, every_k_schedule, use_grad_mean=True, accumulator_dtype=fnp.float32):
        if isinstance(every_k_schedule, int):
            if isinstance(every_k_schedule, bool) or every_k_schedule < 1:
                raise ValueError(
                    f"MultiSteps: every_k_schedule must be a positive int or a "
                    f"function, got {every_k_schedule!r}."
                )
            k = every_k_schedule

            def every_k_schedule(step):
                return k

        self.inner_opt = opt
        self._every_k = every_k_schedule
        self._use_grad_mean = use_grad_mean
        self._acc_dtype = accumulator_dtype

    def init(self, params) -> MultiStepsState:
        """The inner optimizer's state, a zero accumulator and two int32 counters."""
        return MultiStepsState(
            mini_step=zero_count(),
            gradient_step=zero_count(),
            inner_opt_state=self.inner_opt.init(params),
            acc_grads=_tree.tree_map(lambda p: fnp.zeros_like(p, dtype=self._acc_dtype), params),
        )

    def update(self, grads, state, params=None):
        """Adds `grads` to the accumulator; on every k-th call runs the inner optimizer
        on it and returns its updates, otherwise zeros."""
        check_tree_match(grads, state.acc_grads, owner="MultiSteps")
        k = self._every_k(state.gradient_step)
        n = state.mini_step
        if self._use_grad_mean:  # Welford's running mean: stable, no final division
            acc = _tree.tree_map(
                lambda g, a: a + (g - a) / (n + 1).astype(a.dtype), grads, state.acc_grads
            )
        else:
            acc = _tree.tree_map(lambda g, a: g + a, grads, state.acc_grads)
        updates, inner_state = self.inner_opt.update(
            _tree.tree_map(lambda a, g: a.astype(g.dtype), acc, grads),
            state.inner_opt_state,
            params,
        )
        emit = n == (k - 1)
        new_state = MultiStepsState(
            mini_step=fnp.remainder(safe_increment(n), k).astype(fnp.int32),
            gradient_step=fnp.where(emit, safe_increment(state.gradient_step), state.gradient_step),
            inner_opt_state=_tree.tree_map(
                lambda old, new: fnp.where(emit, new, old).astype(fnp.asarray(old).dtype),
                state.inner_opt_state,
                inner_state,
            ),
            acc_grads=_tree.tree_map(
                lambda a: fnp.where(emit, fnp.zeros_like(a), a).astype(self._acc_dtype), acc
            ),
        )
        updates = _tree.tree_map(lambda u: fnp.where(emit, u, fnp.zeros_like(u)), updates)
        return updates, new_state

    def has_updated(self, state):
        """True right after a call that applied the inner optimizer."""
        return fnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformation:
        return GradientTransformation(self.init, self.update)
