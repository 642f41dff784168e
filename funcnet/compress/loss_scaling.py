"""Dynamic loss scaling for float16 training, as an optimizer transformation.

float16 keeps 5 exponent bits: gradients below ~6e-8 flush to zero and values above
65504 overflow. Scaling the loss by S scales every gradient of the backward pass by S,
lifting the small ones out of the underflow range; the optimizer divides by S again
(in float32) before using them. The scale adapts, with the rules of
``torch.amp.GradScaler`` and jmp's ``DynamicLossScale``: a step whose gradients are not
all finite is skipped (zero updates, the inner optimizer's state kept) and the scale is
multiplied by ``backoff_factor``; after ``growth_interval`` finite steps in a row it is
multiplied by ``growth_factor``.

Use::

    tx = compress.dynamic_loss_scale(optim.adam(1e-3))
    opt_state = tx.init(params)

    def scaled_loss(params, x, y):
        return loss_fn(params, x, y) * compress.loss_scale(opt_state)
    grads = fn.grad(scaled_loss)(params, x, y)            # scaled gradients
    updates, opt_state = tx.update(grads, opt_state, params)  # unscaled, checked
"""

from typing import Any, NamedTuple

import numpy as np

import funcnet.numpy as fnp
from funcnet import tree as _tree
from funcnet.optim import GradientTransformation, safe_increment
from funcnet.optim._base import check_steps  # optim's own argument check, shared

__all__ = [
    "DynamicLossScaleState",
    "all_finite",
    "dynamic_loss_scale",
    "loss_scale",
    "scale_loss",
]


class DynamicLossScaleState(NamedTuple):
    """The state of ``dynamic_loss_scale``.

    Attributes:
      inner_state: the wrapped optimizer's state (unchanged by a skipped step).
      scale: the current loss scale, a float32 scalar.
      good_steps: int32, finite steps since the scale last changed (reset on growth and
        on a skipped step).
      skipped_steps: int32, the steps skipped so far because their gradients were not all
        finite (saturates at the int32 maximum). A count that keeps rising while
        ``scale`` sits at ``min_scale`` means the gradients are non-finite whatever the
        scale: a diverged model rather than a float16 overflow.
    """

    inner_state: Any
    scale: Any
    good_steps: Any
    skipped_steps: Any


def _is_inexact(dtype):
    return fnp.issubdtype(dtype, fnp.inexact)


def all_finite(tree):
    """Whether every floating (or complex) value in ``tree`` is finite.

    Integer and boolean leaves count as finite. Works under ``jit`` (the result is a
    traced boolean there).

    Args:
      tree: a pytree of arrays (e.g. gradients).

    Returns:
      A boolean scalar array; True for a tree without floating leaves.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import compress
      >>> bool(compress.all_finite({'a': fnp.ones(2), 'b': fnp.array([1.0, fnp.inf])}))
      False
    """
    ok = fnp.asarray(True)
    for leaf in _tree.tree_leaves(tree):
        leaf = fnp.asarray(leaf)
        if _is_inexact(leaf.dtype):
            ok = fnp.logical_and(ok, fnp.all(fnp.isfinite(leaf)))
    return ok


def _check_positive_finite(value, name):
    """`value` as a float in float32's positive normal range, or a clear error."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"dynamic_loss_scale: {name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"dynamic_loss_scale: {name} must be finite and positive, got {value!r}")
    f32 = np.finfo(np.float32)
    if not float(f32.tiny) <= v <= float(f32.max):
        raise ValueError(
            f"dynamic_loss_scale: {name}={value!r} is outside float32's range (the scale is "
            f"kept in float32: from {f32.tiny:.3g} to {f32.max:.3g})"
        )
    return v


def dynamic_loss_scale(
    inner,
    *,
    initial_scale=2.0**15,
    growth_interval=2000,
    growth_factor=2.0,
    backoff_factor=0.5,
    min_scale=1.0,
):
    """Wraps ``inner`` to unscale loss-scaled gradients and adapt the scale (float16 AMP).

    Multiply the loss by ``loss_scale(opt_state)`` before taking its gradient; ``update``
    then divides the gradients by the scale in float32 (giving ``inner`` the gradients in
    their own dtype) and checks them:

    - all finite: ``inner``'s update is applied and ``good_steps`` counts the step; after
      ``growth_interval`` finite steps in a row the scale is multiplied by
      ``growth_factor`` (unless that overflows float32) and the count restarts;
    - any NaN or infinity: the updates are zeros, ``inner``'s state is kept as it was,
      the scale becomes ``max(scale * backoff_factor, min_scale)``, ``good_steps`` restarts
      and ``skipped_steps`` counts the step.

    These are ``torch.amp.GradScaler``'s rules (and jmp's ``DynamicLossScale``), plus the
    floor ``min_scale``: the scale can never underflow to zero, so a run whose gradients
    stay non-finite keeps skipping at ``min_scale`` (``skipped_steps`` rises) instead of
    dividing by zero. Everything is computed with ``where`` on traced flags, so it runs
    under ``jit``.

    Make it the outermost transformation, ``dynamic_loss_scale(optim.chain(clip, adam))``:
    a transformation before it in a chain would see the scaled gradients (a clip by norm
    would clip ``scale`` times too hard).

    Args:
      inner: the optimizer to wrap (a ``GradientTransformation``).
      initial_scale: the first scale (default ``2**15``, which fits float16's range).
      growth_interval: finite steps in a row before the scale grows (default 2000).
      growth_factor: the growth multiplier, > 1 (default 2).
      backoff_factor: the multiplier after a non-finite step, in (0, 1) (default 0.5).
      min_scale: the floor of the scale, > 0 and <= ``initial_scale`` (default 1).

    Returns:
      A ``GradientTransformation`` whose state is a ``DynamicLossScaleState``.

    Raises:
      ValueError: an ``initial_scale`` or ``min_scale`` that is not finite and positive
        or is outside float32's range, ``min_scale > initial_scale``, a ``growth_factor``
        <= 1, a ``backoff_factor`` outside (0, 1), a ``growth_interval`` that is not
        positive (each message names the value).
      TypeError: ``inner`` is not a ``GradientTransformation``.

    Example:
      >>> import funcnet as fn, funcnet.numpy as fnp
      >>> from funcnet import compress, optim
      >>> tx = compress.dynamic_loss_scale(optim.sgd(0.5), initial_scale=8.0)
      >>> params = {'w': fnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> loss = lambda p: fnp.sum(p['w'] ** 2) * compress.loss_scale(state)
      >>> updates, state = tx.update(fn.grad(loss)(params), state, params)
      >>> updates['w'].tolist(), float(state.scale)
      ([-1.0, -2.0], 8.0)
      >>> bad = {'w': fnp.array([fnp.inf, 1.0])}          # an overflowed step: skipped
      >>> updates, state = tx.update(bad, state, params)
      >>> updates['w'].tolist(), float(state.scale), int(state.skipped_steps)
      ([0.0, 0.0], 4.0, 1)
    """
    if not isinstance(inner, GradientTransformation):
        raise TypeError(
            "dynamic_loss_scale: inner must be a GradientTransformation (an optimizer such "
            f"as optim.adam(1e-3)), got {type(inner).__name__}"
        )
    initial = _check_positive_finite(initial_scale, "initial_scale")
    floor = _check_positive_finite(min_scale, "min_scale")
    if floor > initial:
        raise ValueError(
            f"dynamic_loss_scale: min_scale={min_scale!r} is above initial_scale={initial_scale!r}"
        )
    check_steps(growth_interval, "growth_interval", "dynamic_loss_scale")
    growth = _check_positive_finite(growth_factor, "growth_factor")
    if growth <= 1:
        raise ValueError(f"dynamic_loss_scale: growth_factor must be > 1, got {growth_factor!r}")
    backoff = _check_positive_finite(backoff_factor, "backoff_factor")
    if backoff >= 1:
        raise ValueError(
            f"dynamic_loss_scale: backoff_factor must be in (0, 1), got {backoff_factor!r}"
        )
    interval = int(growth_interval)

    def init(params):
        return DynamicLossScaleState(
            inner_state=inner.init(params),
            scale=fnp.asarray(initial, fnp.float32),
            good_steps=fnp.zeros([], fnp.int32),
            skipped_steps=fnp.zeros([], fnp.int32),
        )

    def update(grads, state, params=None):
        if not isinstance(state, DynamicLossScaleState):
            raise TypeError(
                "dynamic_loss_scale: the state must be the DynamicLossScaleState its init "
                f"made, got {type(state).__name__}"
            )
        scale = fnp.asarray(state.scale, fnp.float32)

        def unscale(g):
            g = fnp.asarray(g)
            if not _is_inexact(g.dtype):
                return g
            wide = fnp.promote_types(g.dtype, fnp.float32)  # float16/bfloat16 -> float32
            return (g.astype(wide) / scale.astype(wide)).astype(g.dtype)

        grads = _tree.tree_map(unscale, grads)
        finite = all_finite(grads)
        # Zeros instead of NaN/inf into inner: its result is dropped anyway, but NaNs
        # would trip debug_nans and could poison a where's gradient.
        safe = _tree.tree_map(lambda g: fnp.where(finite, g, fnp.zeros_like(g)), grads)
        updates, new_inner = inner.update(safe, state.inner_state, params)
        updates = _tree.tree_map(lambda u: fnp.where(finite, u, fnp.zeros_like(u)), updates)
        inner_state = _tree.tree_map(
            lambda new, old: fnp.where(finite, new, old).astype(fnp.asarray(old).dtype),
            new_inner,
            state.inner_state,
        )

        good = safe_increment(state.good_steps)
        grow = fnp.logical_and(finite, good >= interval)
        grown = scale * growth
        grown = fnp.where(fnp.isfinite(grown), grown, scale)  # never overflow float32
        backed_off = fnp.maximum(scale * backoff, fnp.asarray(floor, fnp.float32))
        new_scale = fnp.where(finite, fnp.where(grow, grown, scale), backed_off)
        zero = fnp.zeros([], fnp.int32)
        good_steps = fnp.where(fnp.logical_and(finite, fnp.logical_not(grow)), good, zero)
        skipped = fnp.where(finite, state.skipped_steps, safe_increment(state.skipped_steps))
        return updates, DynamicLossScaleState(
            inner_state=inner_state,
            scale=new_scale.astype(fnp.float32),
            good_steps=good_steps.astype(fnp.int32),
            skipped_steps=skipped.astype(fnp.int32),
        )

    return GradientTransformation(init, update)


def _find_state(opt_state):
    if isinstance(opt_state, DynamicLossScaleState):
        return opt_state
    found = [
        leaf
        for leaf in _tree.tree_leaves(
            opt_state, is_leaf=lambda x: isinstance(x, DynamicLossScaleState)
        )
        if isinstance(leaf, DynamicLossScaleState)
    ]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ValueError(
            f"loss_scale: the optimizer state holds {what} dynamic_loss_scale states; "
            "expected exactly one (make the optimizer with compress.dynamic_loss_scale)"
        )
    return found[0]


def _concrete(value):
    try:
        return float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):  # traced inside jit: nothing to check now
        return None


def loss_scale(opt_state, dtype=None):
    """The current loss scale held in an optimizer state made by ``dynamic_loss_scale``.

    Args:
      opt_state: the ``DynamicLossScaleState``, or an optimizer state containing exactly
        one (e.g. from ``optim.chain(..., dynamic_loss_scale(...))``).
      dtype: the dtype to return the scale in (default: float32, the state's). For
        ``float16``, a scale above float16's largest value (65504) or below its
        smallest (which would become inf or 0) is refused when the state is concrete;
        inside ``jit`` it cannot be checked: it becomes inf, the gradients become
        non-finite, the step is skipped and the scale backs off, so training recovers.

    Returns:
      A scalar array.

    Raises:
      ValueError: no (or more than one) loss-scale state in ``opt_state``, or a scale that
        does not fit ``dtype`` (the message names the value and the dtype's range).

    Example:
      >>> from funcnet import compress, optim
      >>> state = compress.dynamic_loss_scale(optim.sgd(0.1)).init({})
      >>> float(compress.loss_scale(state))
      32768.0
    """
    scale = _find_state(opt_state).scale
    if dtype is None:
        return scale
    dtype = np.dtype(dtype)
    if not fnp.issubdtype(dtype, fnp.floating):
        raise TypeError(f"loss_scale: dtype must be floating, got {dtype}")
    value = _concrete(scale)
    if value is not None:
        info = fnp.finfo(dtype)
        if not float(info.tiny) <= value <= float(info.max):
            raise ValueError(
                f"loss_scale: the loss scale {value!r} does not fit {dtype} (from "
                f"{float(info.tiny):.3g} to {float(info.max):.6g}): it would become "
                f"{'inf' if value > float(info.max) else '0'}. Choose initial_scale <= "
                f"{float(info.max):.6g} (e.g. 2**15) and min_scale >= {float(info.tiny):.3g} "
                "for a float16 loss, or compute the loss in float32"
            )
    return fnp.asarray(scale).astype(dtype)


def scale_loss(loss, opt_state):
    """``loss * loss_scale(opt_state)``, the scale taken in the loss's own dtype.

    For a float16 loss the scale is checked against float16's range (see
    ``loss_scale``); a float32 loss is multiplied by the float32 scale.

    Args:
      loss: the floating scalar loss.
      opt_state: the optimizer state (see ``loss_scale``).

    Returns:
      The scaled loss, in the loss's dtype.

    Raises:
      ValueError: as ``loss_scale``.
      TypeError: a loss that is not floating.
    """
    loss = fnp.asarray(loss)
    if not fnp.issubdtype(loss.dtype, fnp.floating):
        raise TypeError(f"scale_loss: the loss must be floating, got dtype {loss.dtype}")
    return loss * loss_scale(opt_state, dtype=loss.dtype)
