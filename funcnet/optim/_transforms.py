"""Basic gradient transformations: scaling (by a constant, a schedule, a learning
rate), clipping, weight decay and momentum (`trace`)."""

from typing import Any, NamedTuple

from funcnet import lax
from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import (
    EmptyState,
    GradientTransformation,
    check_learning_rate,
    check_non_negative,
    check_tree_match,
    global_norm,
    identity,
    init_empty_state,
    safe_increment,
    zero_count,
)
from funcnet.optim._combine import masked


def scale(step_size) -> GradientTransformation:
    """Multiplies every update by `step_size`.

    Args:
      step_size: a number (may be negative: `scale(-0.1)` is plain gradient descent).

    Returns:
      A `GradientTransformation` with an `EmptyState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale(-0.5)
      >>> opt.update(fnp.ones(2), opt.init(fnp.ones(2)))[0].tolist()
      [-0.5, -0.5]
    """

    def update(grads, state, params=None):
        del params
        return _tree.tree_map(lambda g: step_size * g, grads), state

    return GradientTransformation(init_empty_state, update)


class ScaleByScheduleState(NamedTuple):
    count: Any  # int32: the number of updates so far


def scale_by_schedule(step_size_fn) -> GradientTransformation:
    """Multiplies the updates by `step_size_fn(count)`, `count` being the number of
    updates made so far (kept in the state as an int32).

    Args:
      step_size_fn: a schedule `step -> value`.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByScheduleState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_schedule(lambda step: 1.0 / (step + 1))
      >>> state = opt.init(fnp.ones(1))
      >>> u, state = opt.update(fnp.ones(1), state)
      >>> u, state = opt.update(fnp.ones(1), state)
      >>> u.tolist()
      [0.5]
    """

    def init(params):
        del params
        return ScaleByScheduleState(count=zero_count())

    def update(grads, state, params=None):
        del params
        step_size = step_size_fn(state.count)
        grads = _tree.tree_map(lambda g: fnp.asarray(step_size, dtype=g.dtype) * g, grads)
        return grads, ScaleByScheduleState(count=safe_increment(state.count))

    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate, *, flip_sign=True) -> GradientTransformation:
    """Multiplies the updates by `-learning_rate` (a float or a schedule).

    Args:
      learning_rate: a finite non-negative float, or a schedule.
      flip_sign: if True (the default) the updates are negated, so that adding them
        to the parameters descends the gradient.

    Returns:
      A `GradientTransformation`.

    Raises:
      ValueError: if `learning_rate` is negative, NaN or infinite.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_learning_rate(0.1)
      >>> round(float(opt.update(fnp.ones(1), opt.init(fnp.ones(1)))[0][0]), 4)
      -0.1
    """
    check_learning_rate(learning_rate, "scale_by_learning_rate")
    m = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: m * learning_rate(count))
    return scale(m * learning_rate)


def clip(max_delta) -> GradientTransformation:
    """Clips every element of the updates to `[-max_delta, max_delta]`.

    Args:
      max_delta: a non-negative number.

    Returns:
      A `GradientTransformation` with an `EmptyState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.clip(1.0)
      >>> opt.update(fnp.array([-3.0, 0.5]), opt.init(None))[0].tolist()
      [-1.0, 0.5]
    """
    check_non_negative(max_delta, "max_delta", "clip")

    def update(grads, state, params=None):
        del params
        return _tree.tree_map(lambda g: fnp.clip(g, -max_delta, max_delta), grads), state

    return GradientTransformation(init_empty_state, update)


def clip_by_global_norm(max_norm) -> GradientTransformation:
    """Rescales the updates so that their global norm (all leaves as one vector) is at
    most `max_norm`; updates already within it pass unchanged.

    Args:
      max_norm: a non-negative number.

    Returns:
      A `GradientTransformation` with an `EmptyState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.clip_by_global_norm(1.0)
      >>> u, _ = opt.update({'a': fnp.array([3.0]), 'b': fnp.array([4.0])}, opt.init(None))
      >>> round(float(u['a'][0]), 4), round(float(u['b'][0]), 4)
      (0.6, 0.8)
    """
    check_non_negative(max_norm, "max_norm", "clip_by_global_norm")

    def update(grads, state, params=None):
        del params
        g_norm = global_norm(grads)
        trigger = g_norm < max_norm

        def clip_leaf(t):
            return lax.select(trigger, t, (t / g_norm.astype(t.dtype)) * max_norm)

        return _tree.tree_map(clip_leaf, grads), state

    return GradientTransformation(init_empty_state, update)


class WeightDecayScheduleState(NamedTuple):
    count: Any  # int32


def add_decayed_weights(weight_decay=0.0, mask=None) -> GradientTransformation:
    """Adds `weight_decay * params` to the updates (decoupled weight decay when it
    comes after the adaptive scaling, as in adamw).

    Args:
      weight_decay: a non-negative float, or a schedule.
      mask: optional; a pytree of bools (or a prefix of the params tree), or a
        callable `params -> pytree of bools` (see `by_path`); only the leaves where
        it is True are decayed.

    Returns:
      A `GradientTransformation`; it needs `params` in `update`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> params = {'w': fnp.ones(1), 'b': fnp.ones(1)}
      >>> opt = optim.add_decayed_weights(0.1, mask={'w': True, 'b': False})
      >>> u, _ = opt.update({'w': fnp.zeros(1), 'b': fnp.zeros(1)}, opt.init(params), params)
      >>> round(float(u['w'][0]), 4), float(u['b'][0])
      (0.1, 0.0)
    """
    check_non_negative(weight_decay, "weight_decay", "add_decayed_weights")

    def init(params):
        del params
        return WeightDecayScheduleState(zero_count()) if callable(weight_decay) else EmptyState()

    def update(grads, state, params=None):
        if params is None:
            raise ValueError(
                "add_decayed_weights: update needs params (call update(grads, state, params))."
            )
        check_tree_match(grads, params, against="params", owner="add_decayed_weights")
        if callable(weight_decay):
            s = weight_decay(state.count)
            state = WeightDecayScheduleState(safe_increment(state.count))
        elif isinstance(weight_decay, (int, float)) and weight_decay == 0.0:
            return grads, state
        else:
            s = weight_decay
        return _tree.tree_map(lambda g, p: g + s * p, grads, params), state

    if mask is not None:
        return masked(GradientTransformation(init, update), mask)
    return GradientTransformation(init, update)


class TraceState(NamedTuple):
    trace: Any  # the momentum buffer, a tree like params


def trace(decay, nesterov=False, accumulator_dtype=None) -> GradientTransformation:
    """Momentum: `t = g + decay * t`; the update is `t`, or `g + decay * t` (Nesterov).

    Args:
      decay: the momentum coefficient.
      nesterov: use Nesterov momentum.
      accumulator_dtype: optional dtype of the buffer (default: that of the params).

    Returns:
      A `GradientTransformation` whose state is a `TraceState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.trace(0.9)
      >>> state = opt.init(fnp.zeros(1))
      >>> _, state = opt.update(fnp.ones(1), state)
      >>> round(float(opt.update(fnp.ones(1), state)[0][0]), 4)
      1.9
    """
    check_non_negative(decay, "decay", "trace")

    def init(params):
        return TraceState(
            trace=_tree.tree_map(lambda p: fnp.zeros_like(p, dtype=accumulator_dtype), params)
        )

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.trace, owner="trace")

        def f(g, t):
            return g + decay * t

        new_trace = _tree.tree_map(f, grads, state.trace)
        updates = _tree.tree_map(f, grads, new_trace) if nesterov else new_trace
        if accumulator_dtype is not None:
            new_trace = _tree.tree_map(lambda t: t.astype(accumulator_dtype), new_trace)
        return updates, TraceState(trace=new_trace)

    return GradientTransformation(init, update)


__all__ = [
    "ScaleByScheduleState",
    "TraceState",
    "WeightDecayScheduleState",
    "add_decayed_weights",
    "clip",
    "clip_by_global_norm",
    "identity",
    "scale",
    "scale_by_learning_rate",
    "scale_by_schedule",
    "trace",
]
