"""Optimizers that divide by a running size of the gradient: rmsprop, adagrad and
adadelta, and their pieces (`scale_by_rms`, `scale_by_stddev`, `scale_by_rss`,
`scale_by_adadelta`)."""

from typing import Any, NamedTuple

from funcnet import lax
from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import (
    GradientTransformation,
    check_tree_match,
    identity,
    safe_increment,
    update_moment,
    zero_count,
    zeros_like_tree,
)
from funcnet.optim._base import bias_correction as _correct
from funcnet.optim._combine import chain
from funcnet.optim._transforms import add_decayed_weights, scale_by_learning_rate, trace


class ScaleByRmsState(NamedTuple):
    count: Any  # int32 (used for the optional bias correction)
    nu: Any  # running mean of g**2


class ScaleByRStdDevState(NamedTuple):
    count: Any
    mu: Any  # running mean of g
    nu: Any  # running mean of g**2


def _full_like_tree(params, value):
    return _tree.tree_map(lambda p: fnp.full_like(p, value), params)


def _rms_scaling(n, eps, eps_in_sqrt):
    return lax.rsqrt(n + eps) if eps_in_sqrt else 1 / (fnp.sqrt(n) + eps)


def scale_by_rms(
    decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False
) -> GradientTransformation:
    """Scales by `1 / sqrt(nu + eps)`, `nu` the running mean of `g**2` (RMSProp).

    Args:
      decay: decay of the running mean.
      eps: added to `nu` (inside the root, or outside with `eps_in_sqrt=False`).
      initial_scale: the start value of `nu`.
      eps_in_sqrt: where `eps` goes.
      bias_correction: divide `nu` by `1 - decay**t`.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByRmsState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_rms(bias_correction=True)
      >>> round(opt.update(fnp.array([2.0]), opt.init(fnp.zeros(1)))[0].tolist()[0], 4)
      1.0
    """

    def init(params):
        return ScaleByRmsState(count=zero_count(), nu=_full_like_tree(params, initial_scale))

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.nu, owner="scale_by_rms")
        nu = update_moment(grads, state.nu, decay, 2)
        count = safe_increment(state.count)
        nu_hat = _correct(nu, decay, count) if bias_correction else nu
        updates = _tree.tree_map(lambda n, g: _rms_scaling(n, eps, eps_in_sqrt) * g, nu_hat, grads)
        return updates, ScaleByRmsState(count=count, nu=nu)

    return GradientTransformation(init, update)


def scale_by_stddev(
    decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False
) -> GradientTransformation:
    """Scales by `1 / sqrt(nu - mu**2 + eps)`: the centred RMSProp.

    Args:
      decay, eps, initial_scale, eps_in_sqrt, bias_correction: as in `scale_by_rms`.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByRStdDevState`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.scale_by_stddev()
    """

    def init(params):
        return ScaleByRStdDevState(
            count=zero_count(),
            mu=zeros_like_tree(params),
            nu=_full_like_tree(params, initial_scale),
        )

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.nu, owner="scale_by_stddev")
        mu = update_moment(grads, state.mu, decay, 1)
        nu = update_moment(grads, state.nu, decay, 2)
        count = safe_increment(state.count)
        mu_hat = _correct(mu, decay, count) if bias_correction else mu
        nu_hat = _correct(nu, decay, count) if bias_correction else nu
        updates = _tree.tree_map(
            lambda m, n, g: _rms_scaling(n - m * m, eps, eps_in_sqrt) * g, mu_hat, nu_hat, grads
        )
        return updates, ScaleByRStdDevState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Scales by `1 / sqrt(sum of all g**2 so far + eps)` (Adagrad).

    Args:
      initial_accumulator_value: the start value of the sum.
      eps: added inside the root.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByRssState`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.scale_by_rss()
    """

    def init(params):
        return ScaleByRssState(_full_like_tree(params, initial_accumulator_value))

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.sum_of_squares, owner="scale_by_rss")
        sum_sq = _tree.tree_map(lambda g, t: g * g + t, grads, state.sum_of_squares)
        updates = _tree.tree_map(
            lambda t, g: fnp.where(t > 0, lax.rsqrt(t + eps), 0.0) * g, sum_sq, grads
        )
        return updates, ScaleByRssState(sum_sq)

    return GradientTransformation(init, update)


class ScaleByAdaDeltaState(NamedTuple):
    e_g: Any  # running mean of g**2
    e_x: Any  # running mean of update**2


def scale_by_adadelta(rho=0.9, eps=1e-6) -> GradientTransformation:
    """Scales by `sqrt(E[dx**2] + eps) / sqrt(E[g**2] + eps)` (Zeiler 2012).

    Args:
      rho: decay of both running means.
      eps: added inside both roots.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByAdaDeltaState`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.scale_by_adadelta()
    """

    def init(params):
        return ScaleByAdaDeltaState(zeros_like_tree(params), zeros_like_tree(params))

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.e_g, owner="scale_by_adadelta")
        e_g = update_moment(grads, state.e_g, rho, 2)
        updates = _tree.tree_map(
            lambda g, cur_e_g, prev_e_x: (fnp.sqrt(prev_e_x + eps) / fnp.sqrt(cur_e_g + eps)) * g,
            grads,
            e_g,
            state.e_x,
        )
        e_x = update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g, e_x)

    return GradientTransformation(init, update)


def rmsprop(
    learning_rate,
    decay=0.9,
    eps=1e-8,
    initial_scale=0.0,
    eps_in_sqrt=True,
    centered=False,
    momentum=None,
    nesterov=False,
    bias_correction=False,
) -> GradientTransformation:
    """RMSProp (Tieleman & Hinton 2012): `scale_by_rms` (or `scale_by_stddev` when
    `centered`), the learning rate, then optional momentum (`trace`).

    Args:
      learning_rate: a float or a schedule.
      decay, eps, initial_scale, eps_in_sqrt, bias_correction: see `scale_by_rms`.
      centered: divide by the standard deviation instead of the root mean square.
      momentum: optional momentum coefficient, applied after the learning rate.
      nesterov: Nesterov momentum.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.rmsprop(1e-3, momentum=0.9)
    """
    scaling = scale_by_stddev if centered else scale_by_rms
    return chain(
        scaling(decay, eps, initial_scale, eps_in_sqrt, bias_correction),
        scale_by_learning_rate(learning_rate),
        trace(momentum, nesterov) if momentum is not None else identity(),
    )


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad (Duchi et al. 2011): `chain(scale_by_rss(...), scale_by_learning_rate(lr))`.

    Args:
      learning_rate: a float or a schedule.
      initial_accumulator_value, eps: see `scale_by_rss`.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.adagrad(0.1)
    """
    return chain(
        scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate)
    )


def adadelta(
    learning_rate=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, weight_decay_mask=None
) -> GradientTransformation:
    """Adadelta (Zeiler 2012): weight decay, `scale_by_adadelta`, the learning rate.

    Unlike optax, whose `adadelta()` without a learning rate skips the final step and
    so *ascends* the gradient, the default here is `learning_rate=1.0` (the paper's
    rule, and PyTorch's default): descent. With a learning rate given, the two agree.

    Args:
      learning_rate: a float or a schedule.
      rho, eps: see `scale_by_adadelta`.
      weight_decay: a float or a schedule, added before the scaling.
      weight_decay_mask: which leaves to decay.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.adadelta(1.0)
    """
    return chain(
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps),
        scale_by_learning_rate(learning_rate),
    )
