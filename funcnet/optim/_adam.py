"""The Adam family: adam, nadam, adamw, adamax and lamb, and the pieces they are
made of (`scale_by_adam`, `scale_by_adamax`, `scale_by_trust_ratio`)."""

from typing import Any, NamedTuple

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.optim._base import (
    GradientTransformation,
    bias_correction,
    cast_tree,
    check_tree_match,
    init_empty_state,
    safe_increment,
    update_moment,
    zero_count,
    zeros_like_tree,
)
from funcnet.optim._combine import chain
from funcnet.optim._transforms import add_decayed_weights, scale_by_learning_rate


class ScaleByAdamState(NamedTuple):
    count: Any  # int32
    mu: Any  # first moment, a tree like params
    nu: Any  # second moment (adam) or infinity norm (adamax)


def scale_by_adam(
    b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *, nesterov=False
) -> GradientTransformation:
    """Scales by Adam's bias-corrected moments: `m_hat / (sqrt(v_hat + eps_root) + eps)`.

    Args:
      b1: decay of the first moment.
      b2: decay of the second moment.
      eps: added to the denominator outside the square root.
      eps_root: added inside the square root.
      mu_dtype: optional dtype of the first moment.
      nesterov: use Nesterov's look-ahead on the first moment (NAdam).

    Returns:
      A `GradientTransformation` whose state is a `ScaleByAdamState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_adam()
      >>> round(opt.update(fnp.array([2.0]), opt.init(fnp.zeros(1)))[0].tolist()[0], 4)
      1.0
    """

    def init(params):
        return ScaleByAdamState(
            count=zero_count(), mu=zeros_like_tree(params, mu_dtype), nu=zeros_like_tree(params)
        )

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.mu, owner="scale_by_adam")
        mu = update_moment(grads, state.mu, b1, 1)
        nu = update_moment(grads, state.nu, b2, 2)
        count = safe_increment(state.count)
        if nesterov:
            mu_hat = _tree.tree_map(
                lambda m, g: b1 * m + (1 - b1) * g,
                bias_correction(mu, b1, safe_increment(count)),
                bias_correction(grads, b1, count),
            )
        else:
            mu_hat = bias_correction(mu, b1, count)
        nu_hat = bias_correction(nu, b2, count)
        updates = _tree.tree_map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return updates, ScaleByAdamState(count=count, mu=cast_tree(mu, mu_dtype), nu=nu)

    return GradientTransformation(init, update)


def scale_by_adamax(b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """Scales by `m_hat / u`, `u = max(|g| + eps, b2 * u)` (Adam's infinity-norm variant).

    Args:
      b1: decay of the first moment.
      b2: decay of the infinity norm.
      eps: added to `|g|`.

    Returns:
      A `GradientTransformation` whose state is a `ScaleByAdamState`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_adamax()
      >>> round(opt.update(fnp.array([2.0]), opt.init(fnp.zeros(1)))[0].tolist()[0], 4)
      1.0
    """

    def init(params):
        return ScaleByAdamState(
            count=zero_count(), mu=zeros_like_tree(params), nu=zeros_like_tree(params)
        )

    def update(grads, state, params=None):
        del params
        check_tree_match(grads, state.mu, owner="scale_by_adamax")
        count = safe_increment(state.count)
        mu = update_moment(grads, state.mu, b1, 1)
        nu = _tree.tree_map(lambda g, u: fnp.maximum(fnp.abs(g) + eps, b2 * u), grads, state.nu)
        updates = _tree.tree_map(lambda m, u: m / u, bias_correction(mu, b1, count), nu)
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def _safe_norm(x, min_norm):
    """`max(||x||, min_norm)` whose gradient is finite at 0."""
    norm = fnp.sqrt(fnp.sum(x * x))
    x = fnp.where(norm <= min_norm, fnp.ones_like(x), x)
    return fnp.where(norm <= min_norm, min_norm, fnp.sqrt(fnp.sum(x * x)))


def scale_by_trust_ratio(min_norm=0.0, trust_coefficient=1.0, eps=0.0) -> GradientTransformation:
    """Scales each leaf's update by `||param|| / ||update||` (LARS/LAMB trust ratio);
    1 where either norm is zero.

    Args:
      min_norm: norms are clipped below at this value.
      trust_coefficient: multiplies the ratio.
      eps: added to the update norm.

    Returns:
      A `GradientTransformation`; it needs `params` in `update`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.scale_by_trust_ratio()
      >>> p = fnp.array([3.0, 4.0])
      >>> opt.update(fnp.array([0.0, 1.0]), opt.init(p), p)[0].tolist()
      [0.0, 5.0]
    """

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("scale_by_trust_ratio: update needs params.")
        check_tree_match(grads, params, against="params", owner="scale_by_trust_ratio")

        def scale_leaf(u, p):
            param_norm = _safe_norm(p, min_norm)
            update_norm = _safe_norm(u, min_norm)
            ratio = trust_coefficient * param_norm / (update_norm + eps)
            zero = fnp.logical_or(param_norm == 0.0, update_norm == 0.0)
            return u * fnp.where(zero, fnp.asarray(1.0, dtype=p.dtype), ratio)

        return _tree.tree_map(scale_leaf, grads, params), state

    return GradientTransformation(init_empty_state, update)


def adam(
    learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *, nesterov=False
) -> GradientTransformation:
    """Adam (Kingma & Ba 2014): `chain(scale_by_adam(...), scale_by_learning_rate(lr))`.

    Args:
      learning_rate: a float or a schedule.
      b1, b2, eps, eps_root, mu_dtype, nesterov: see `scale_by_adam`.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import optim
      >>> opt = optim.adam(0.1)
      >>> params = {'w': fnp.array([1.0])}
      >>> updates, state = opt.update({'w': fnp.array([2.0])}, opt.init(params), params)
      >>> round(updates['w'].tolist()[0], 4)
      -0.1
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None
) -> GradientTransformation:
    """NAdam (Dozat 2016): Adam with Nesterov momentum, `adam(..., nesterov=True)`.

    Args:
      learning_rate: a float or a schedule.
      b1, b2, eps, eps_root, mu_dtype: see `scale_by_adam`.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.nadam(1e-3)
    """
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=True)


def adamw(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype=None,
    weight_decay=1e-4,
    mask=None,
    *,
    nesterov=False,
) -> GradientTransformation:
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay,
    `chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(lr))`.

    Args:
      learning_rate: a float or a schedule.
      b1, b2, eps, eps_root, mu_dtype, nesterov: see `scale_by_adam`.
      weight_decay: a float or a schedule, multiplied by the learning rate too.
      mask: which leaves to decay (see `add_decayed_weights`); e.g.
        `by_path(lambda path: path[-1] != 'b')` to spare the biases.

    Returns:
      A `GradientTransformation`; it needs `params` in `update`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.adamw(optim.warmup_cosine(1e-3, warmup=100, total=10_000),
      ...                   weight_decay=1e-4)
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def adamax(learning_rate, b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """AdaMax (Kingma & Ba 2014): `chain(scale_by_adamax(...), scale_by_learning_rate(lr))`.

    Args:
      learning_rate: a float or a schedule.
      b1, b2, eps: see `scale_by_adamax`.

    Returns:
      A `GradientTransformation`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.adamax(2e-3)
    """
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


def lamb(
    learning_rate, b1=0.9, b2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0, mask=None
) -> GradientTransformation:
    """LAMB (You et al. 2019): Adam's direction plus weight decay, rescaled per leaf by the
    trust ratio `||param|| / ||update||`.

    Args:
      learning_rate: a float or a schedule.
      b1, b2, eps, eps_root: see `scale_by_adam`.
      weight_decay: a float or a schedule.
      mask: which leaves to decay (see `add_decayed_weights`).

    Returns:
      A `GradientTransformation`; it needs `params` in `update`.

    Example:
      >>> from funcnet import optim
      >>> opt = optim.lamb(1e-3)
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )
