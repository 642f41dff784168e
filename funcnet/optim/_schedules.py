"""Schedules: plain functions `step -> value`, built from funcnet.numpy ops so that
`step` may be a Python int, an int32 array, or a traced int inside `jit`.

Every builder checks its arguments when called (a schedule that would fail at step
10,000 fails at construction instead): values must be finite and non-negative,
step counts positive integers.
"""

import numpy as np

from funcnet import numpy as fnp
from funcnet.optim._base import check_non_negative, check_steps


def _float32_count(count):
    return fnp.asarray(count).astype(fnp.float32)


def constant_schedule(value):
    """The schedule that always returns `value`.

    Args:
      value: a finite non-negative number.

    Returns:
      A schedule `step -> value`.

    Example:
      >>> from funcnet import optim
      >>> optim.constant_schedule(0.1)(1000)
      0.1
    """
    check_non_negative(value, "value", "constant_schedule")
    return lambda count: value


def piecewise_constant_schedule(init_value, boundaries_and_scales=None):
    """`init_value`, multiplied by `scale` from each `boundary` step on.

    Args:
      init_value: the value before the first boundary.
      boundaries_and_scales: a dict `{step: scale}`; at `step` and after, the
        value is multiplied by `scale` (a non-negative number).

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5})
      >>> [round(float(s(i)), 4) for i in (0, 10, 25)]
      [1.0, 0.1, 0.05]
    """
    owner = "piecewise_constant_schedule"
    check_non_negative(init_value, "init_value", owner)
    items = sorted((boundaries_and_scales or {}).items())
    for boundary, scale in items:
        check_steps(boundary, f"boundary {boundary!r}", owner, allow_zero=True)
        check_non_negative(scale, f"the scale at boundary {boundary}", owner)

    def schedule(count):
        count = fnp.asarray(count)
        value = fnp.asarray(init_value, fnp.float32)
        for boundary, scale in items:
            value = fnp.where(count < boundary, value, scale * value)
        return value

    return schedule


def polynomial_schedule(init_value, end_value, power, transition_steps, transition_begin=0):
    """From `init_value` to `end_value` along `(1 - t)**power`, `t` in [0, 1], over
    `transition_steps` steps starting at `transition_begin`; constant after.

    Args:
      init_value: the value up to `transition_begin`.
      end_value: the value from `transition_begin + transition_steps` on.
      power: the exponent of the curve (1 gives a straight line).
      transition_steps: a positive number of steps.
      transition_begin: the step the transition starts at (non-negative).

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> float(optim.polynomial_schedule(1.0, 0.0, 2, 10)(5))
      0.25
    """
    owner = "polynomial_schedule"
    check_non_negative(init_value, "init_value", owner)
    check_non_negative(end_value, "end_value", owner)
    check_steps(transition_steps, "transition_steps", owner)
    check_steps(transition_begin, "transition_begin", owner, allow_zero=True)
    if not np.isfinite(power):
        raise ValueError(f"{owner}: power must be finite, got {power!r}.")

    def schedule(count):
        count = fnp.clip(fnp.asarray(count) - transition_begin, 0, transition_steps)
        frac = 1 - count / transition_steps
        return (init_value - end_value) * (frac**power) + end_value

    return schedule


def linear_schedule(init_value, end_value, transition_steps, transition_begin=0):
    """A straight line from `init_value` to `end_value` over `transition_steps` steps.

    Args:
      init_value: the start value.
      end_value: the final value.
      transition_steps: a positive number of steps.
      transition_begin: the step the line starts at.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> float(optim.linear_schedule(0.0, 1.0, 4)(1))
      0.25
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def exponential_decay(
    init_value, transition_steps, decay_rate, transition_begin=0, staircase=False, end_value=None
):
    """`init_value * decay_rate ** ((step - transition_begin) / transition_steps)`.

    Args:
      init_value: the value up to `transition_begin`.
      transition_steps: a positive number of steps per factor of `decay_rate`.
      decay_rate: a positive factor (below 1 decays, above 1 grows).
      transition_begin: the step the decay starts at.
      staircase: if True, the exponent is rounded down (step-wise decay).
      end_value: an optional floor (or ceiling, when `decay_rate > 1`).

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> round(float(optim.exponential_decay(1.0, 10, 0.5)(20)), 6)
      0.25
    """
    owner = "exponential_decay"
    check_non_negative(init_value, "init_value", owner)
    check_steps(transition_steps, "transition_steps", owner)
    check_steps(transition_begin, "transition_begin", owner, allow_zero=True)
    check_non_negative(decay_rate, "decay_rate", owner)
    if decay_rate == 0:
        raise ValueError(f"{owner}: decay_rate must be positive, got 0.")
    if end_value is not None:
        check_non_negative(end_value, "end_value", owner)
    clip_fn = fnp.maximum if decay_rate < 1.0 else fnp.minimum

    def schedule(count):
        decreased_count = fnp.asarray(count) - transition_begin
        p = decreased_count / transition_steps
        if staircase:
            p = fnp.floor(p)
        value = fnp.where(decreased_count <= 0, init_value, init_value * fnp.power(decay_rate, p))
        if end_value is not None:
            value = clip_fn(value, end_value)
        return value

    return schedule


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0, exponent=1.0):
    """Half a cosine from `init_value` down to `alpha * init_value` over `decay_steps`.

    Args:
      init_value: the start value.
      decay_steps: a positive number of steps; the value stays at the end after.
      alpha: the final value as a fraction of `init_value`.
      exponent: the cosine factor is raised to this power.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> round(float(optim.cosine_decay_schedule(1.0, 100)(50)), 6)
      0.5
    """
    owner = "cosine_decay_schedule"
    check_non_negative(init_value, "init_value", owner)
    check_steps(decay_steps, "decay_steps", owner)
    check_non_negative(alpha, "alpha", owner)
    if not np.isfinite(exponent):
        raise ValueError(f"{owner}: exponent must be finite, got {exponent!r}.")

    def schedule(count):
        count = fnp.minimum(_float32_count(count), float(decay_steps))
        cosine_decay = 0.5 * (1 + fnp.cos(fnp.pi * count / decay_steps))
        return init_value * ((1 - alpha) * cosine_decay**exponent + alpha)

    return schedule


def join_schedules(schedules, boundaries):
    """Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` (counting its
    steps from that boundary), and so on.

    Args:
      schedules: a sequence of schedules.
      boundaries: `len(schedules) - 1` non-decreasing, non-negative steps.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.join_schedules([optim.constant_schedule(1.0),
      ...                           optim.linear_schedule(1.0, 0.0, 10)], [5])
      >>> [float(s(i)) for i in (0, 5, 10)]
      [1.0, 1.0, 0.5]
    """
    owner = "join_schedules"
    schedules, boundaries = list(schedules), list(boundaries)
    if not schedules:
        raise ValueError(f"{owner}: schedules is empty.")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"{owner}: boundaries needs len(schedules) - 1 = {len(schedules) - 1} "
            f"entries, got {len(boundaries)}."
        )
    for b in boundaries:
        check_steps(b, f"boundary {b!r}", owner, allow_zero=True)
    if boundaries != sorted(boundaries):
        raise ValueError(f"{owner}: boundaries must be non-decreasing, got {boundaries}.")

    def schedule(step):
        step = fnp.asarray(step)
        output = schedules[0](step)
        for boundary, sched in zip(boundaries, schedules[1:]):
            output = fnp.where(step < boundary, output, sched(step - boundary))
        return output

    return schedule


def warmup_cosine_decay_schedule(
    init_value, peak_value, warmup_steps, decay_steps, end_value=0.0, exponent=1.0
):
    """A linear warmup from `init_value` to `peak_value` over `warmup_steps`, then a
    cosine decay to `end_value`, reached at step `decay_steps` (counted from 0, so the
    cosine part lasts `decay_steps - warmup_steps`).

    Args:
      init_value: the value at step 0.
      peak_value: the value at the end of the warmup.
      warmup_steps: a non-negative number of steps.
      decay_steps: the total length, warmup included (greater than `warmup_steps`).
      end_value: the value from `decay_steps` on.
      exponent: the cosine factor is raised to this power.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.warmup_cosine_decay_schedule(0.0, 1.0, 10, 110)
      >>> [round(float(s(i)), 4) for i in (0, 5, 10, 60, 110)]
      [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    owner = "warmup_cosine_decay_schedule"
    check_non_negative(init_value, "init_value", owner)
    check_non_negative(peak_value, "peak_value", owner)
    check_non_negative(end_value, "end_value", owner)
    check_steps(warmup_steps, "warmup_steps", owner, allow_zero=True)
    check_steps(decay_steps, "decay_steps", owner)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"{owner}: decay_steps ({decay_steps}) is the total length and must "
            f"exceed warmup_steps ({warmup_steps})."
        )
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    warmup = (
        linear_schedule(init_value, peak_value, warmup_steps)
        if warmup_steps > 0
        else constant_schedule(peak_value)
    )
    decay = cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent)
    return join_schedules([warmup, decay], [warmup_steps])


def warmup_cosine(peak, *, warmup, total, init_value=0.0, end_value=0.0):
    """Short form: `warmup_cosine_decay_schedule(init_value, peak, warmup, total, end_value)`.

    Args:
      peak: the value at the end of the warmup.
      warmup: the number of warmup steps.
      total: the total number of steps, warmup included.
      init_value: the value at step 0.
      end_value: the value from `total` on.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.warmup_cosine(1e-3, warmup=100, total=10_000)
      >>> round(float(s(100)), 6)
      0.001
    """
    return warmup_cosine_decay_schedule(init_value, peak, warmup, total, end_value)


def _linear_interpolate(start, end, pct):
    return (end - start) * pct + start


def _cosine_interpolate(start, end, pct):
    return end + (start - end) / 2.0 * (fnp.cos(fnp.pi * pct) + 1)


def piecewise_interpolate_schedule(interpolate_type, init_value, boundaries_and_scales=None):
    """Interpolates (linearly or along a half cosine) between values that are
    multiplied by `scale` at each boundary.

    Args:
      interpolate_type: "linear" or "cosine".
      init_value: the value at step 0.
      boundaries_and_scales: `{step: scale}`; the value reached at `step` is the
        previous one times `scale`.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.piecewise_interpolate_schedule("linear", 1.0, {10: 0.5})
      >>> [float(s(i)) for i in (0, 5, 10, 20)]
      [1.0, 0.75, 0.5, 0.5]
    """
    owner = "piecewise_interpolate_schedule"
    interpolate = {"linear": _linear_interpolate, "cosine": _cosine_interpolate}.get(
        interpolate_type
    )
    if interpolate is None:
        raise ValueError(
            f"{owner}: interpolate_type must be 'linear' or 'cosine', got {interpolate_type!r}."
        )
    check_non_negative(init_value, "init_value", owner)
    items = sorted((boundaries_and_scales or {}).items())
    for boundary, scale in items:
        check_steps(boundary, f"boundary {boundary!r}", owner, allow_zero=True)
        check_non_negative(scale, f"the scale at boundary {boundary}", owner)
    bounds = [0] + [b for b, _ in items]
    # float32 cumulative product, as the values would be computed on the device
    values = np.cumprod(np.asarray([init_value] + [s for _, s in items], np.float32))

    def schedule(count):
        count = fnp.asarray(count)
        out = fnp.zeros([], fnp.float32)
        for i in range(len(bounds) - 1):
            inside = fnp.logical_and(bounds[i] <= count, count < bounds[i + 1])
            pct = (count - bounds[i]) / max(bounds[i + 1] - bounds[i], 1)
            out = fnp.where(inside, interpolate(values[i], values[i + 1], pct), out)
        return fnp.where(bounds[-1] <= count, values[-1], out)

    return schedule


def cosine_onecycle_schedule(
    transition_steps, peak_value, pct_start=0.3, div_factor=25.0, final_div_factor=1e4
):
    """One cycle (Smith & Topin 2017): a half-cosine rise from `peak_value / div_factor`
    to `peak_value` over the first `pct_start` of `transition_steps`, then a half-cosine
    fall to `peak_value / (div_factor * final_div_factor)`.

    Args:
      transition_steps: the length of the cycle (positive).
      peak_value: the highest value.
      pct_start: the fraction of the cycle spent rising.
      div_factor: the start value is `peak_value / div_factor`.
      final_div_factor: the end value is the start value divided by this.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.cosine_onecycle_schedule(100, 1.0)
      >>> [round(float(s(i)), 4) for i in (0, 30, 100)]
      [0.04, 1.0, 0.0]
    """
    owner = "cosine_onecycle_schedule"
    check_steps(transition_steps, "transition_steps", owner)
    check_non_negative(peak_value, "peak_value", owner)
    if not 0.0 <= pct_start <= 1.0:
        raise ValueError(f"{owner}: pct_start must lie in [0, 1], got {pct_start!r}.")
    for name, factor in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        check_non_negative(factor, name, owner)
        if factor == 0:
            raise ValueError(f"{owner}: {name} must be positive.")
    return piecewise_interpolate_schedule(
        "cosine",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(transition_steps): 1.0 / (div_factor * final_div_factor),
        },
    )


def linear_onecycle_schedule(
    transition_steps,
    peak_value,
    pct_start=0.3,
    pct_final=0.85,
    div_factor=25.0,
    final_div_factor=1e4,
):
    """One cycle with straight lines: up to `peak_value` at `pct_start`, back down to
    `peak_value / div_factor` at `pct_final`, then to the start value divided by
    `final_div_factor` at `transition_steps`.

    Args:
      transition_steps: the length of the cycle (positive).
      peak_value: the highest value.
      pct_start: the fraction of the cycle spent rising.
      pct_final: the fraction at which the value is back to the start value.
      div_factor: the start value is `peak_value / div_factor`.
      final_div_factor: the end value is the start value divided by this.

    Returns:
      A schedule.

    Example:
      >>> from funcnet import optim
      >>> s = optim.linear_onecycle_schedule(100, 1.0)
      >>> [round(float(s(i)), 4) for i in (0, 30, 85)]
      [0.04, 1.0, 0.04]
    """
    owner = "linear_onecycle_schedule"
    check_steps(transition_steps, "transition_steps", owner)
    check_non_negative(peak_value, "peak_value", owner)
    if not 0.0 <= pct_start <= pct_final <= 1.0:
        raise ValueError(
            f"{owner}: need 0 <= pct_start <= pct_final <= 1, got {pct_start!r}, {pct_final!r}."
        )
    for name, factor in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        check_non_negative(factor, name, owner)
        if factor == 0:
            raise ValueError(f"{owner}: {name} must be positive.")
    return piecewise_interpolate_schedule(
        "linear",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(pct_final * transition_steps): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )
