"""Losses: pure functions ``loss(predictions, targets, ...) -> array``.

Every loss takes ``reduction=``: ``"mean"`` (default) averages the per-example
losses, ``"sum"`` adds them, ``"none"`` returns them (shape: the batch axes, or the
elementwise shape for mse/huber). Logit-based losses use log-sum-exp / softplus forms,
so they stay finite for logits of any size.

Example::

    from funcnet.nn import losses
    loss = losses.softmax_cross_entropy(logits, labels)            # int labels
    loss = losses.softmax_cross_entropy(logits, one_hot, label_smoothing=0.1)
    loss = losses.softmax_cross_entropy(logits, tokens, ignore_index=PAD)
"""

import numpy as np

import funcnet.numpy as fnp
from funcnet.core import dtypes
from funcnet.nn.activations import _softplus, log_softmax

__all__ = [
    "binary_cross_entropy_with_logits",
    "huber",
    "kl_divergence",
    "mse",
    "softmax_cross_entropy",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction, count=None):
    if reduction == "none":
        return loss
    total = fnp.sum(loss)
    if reduction == "sum":
        return total
    if count is None:
        return total / max(int(np.prod(loss.shape)), 1)
    return total / fnp.maximum(count, 1).astype(total.dtype)


def _same_shape(name, a, b, what_a="predictions", what_b="targets"):
    sa, sb = tuple(np.shape(a)), tuple(np.shape(b))
    if sa != sb:
        raise ValueError(
            f"{name}: {what_a} of shape {sa} and {what_b} of shape {sb} must have the same shape"
        )


def mse(predictions, targets, *, reduction="mean"):
    """The squared error ``(predictions - targets)^2`` (optax.squared_error, averaged).

    Args:
      predictions: an array of any shape.
      targets: an array of the same shape.
      reduction: ``"mean"`` (default: over every element), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or with ``"none"`` the elementwise errors (``predictions``' shape).

    Raises:
      ValueError: different shapes, or an unknown ``reduction``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.losses.mse(fnp.array([1.0, 2.0]), fnp.array([0.0, 0.0])).tolist()
      2.5
    """
    _check_reduction("mse", reduction)
    _same_shape("mse", predictions, targets)
    return _reduce(fnp.square(fnp.asarray(predictions) - targets), reduction)


def softmax_cross_entropy(
    logits, labels, *, label_smoothing=0.0, ignore_index=None, reduction="mean"
):
    """Cross-entropy of ``softmax(logits)`` against the labels, classes on the last axis.

    Integer labels as optax.softmax_cross_entropy_with_integer_labels, one-hot or soft
    labels as optax.softmax_cross_entropy; computed with ``log_softmax``, so it is
    finite for logits of any size. Integer labels are not range-checked: a label
    ``>= classes`` gives NaN and a negative one counts from the end (``fnp.take``'s rules).

    Args:
      logits: an array ``(..., classes)``, e.g. ``(batch, classes)`` or ``(batch,
        length, classes)``.
      labels: integer class ids of shape ``(...)``, or a float distribution (one-hot or
        soft) of shape ``(..., classes)``.
      label_smoothing: eps in [0, 1) (default 0): the target becomes ``(1 - eps) *
        target + eps / classes``.
      ignore_index: with integer labels, positions whose label equals it (padding)
        count zero and are left out of the mean (default None).
      reduction: ``"mean"`` (default: over the counted positions), ``"sum"`` or
        ``"none"``.

    Returns:
      A scalar, or with ``"none"`` the per-position losses of shape ``(...)``.

    Raises:
      ValueError: labels of the wrong shape, ``label_smoothing`` out of range,
        ``ignore_index`` with one-hot labels, or an unknown ``reduction``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> logits = fnp.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
      >>> round(float(nn.losses.softmax_cross_entropy(logits, fnp.array([0, 2]))), 4)
      0.6691
      >>> per_example = nn.losses.softmax_cross_entropy(
      ...     logits, fnp.array([0, -1]), ignore_index=-1, reduction="none")
      >>> [round(v, 4) for v in per_example.tolist()]
      [0.2395, 0.0]
    """
    name = "softmax_cross_entropy"
    _check_reduction(name, reduction)
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1), got {label_smoothing!r}")
    logits = fnp.asarray(logits)
    labels = fnp.asarray(labels)
    if logits.ndim < 1:
        raise ValueError(f"{name}: logits need a class axis, got shape {tuple(logits.shape)}")
    k = logits.shape[-1]
    logp = log_softmax(logits, axis=-1)
    if dtypes.is_int(labels.dtype):
        if tuple(labels.shape) != tuple(logits.shape[:-1]):
            raise ValueError(
                f"{name}: integer labels must have the logits' shape without the "
                f"class axis, {tuple(logits.shape[:-1])}; got labels of shape "
                f"{tuple(labels.shape)} for logits of shape {tuple(logits.shape)}"
            )
        valid = None
        if ignore_index is not None:
            valid = labels != ignore_index
            labels = fnp.where(valid, labels, 0)
        picked = fnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
        loss = -picked
        if label_smoothing:
            loss = (1 - label_smoothing) * loss - label_smoothing * fnp.mean(logp, axis=-1)
        if valid is None:
            return _reduce(loss, reduction)
        loss = fnp.where(valid, loss, fnp.zeros((), loss.dtype))
        return _reduce(loss, reduction, fnp.sum(valid.astype(np.int32)))
    if ignore_index is not None:
        raise ValueError(
            f"{name}: ignore_index needs integer labels; with one-hot labels give "
            "padding positions an all-zero row instead"
        )
    _same_shape(name, logits, labels, "logits", "one-hot/probability labels")
    if label_smoothing:
        labels = (1 - label_smoothing) * labels + label_smoothing / k
    return _reduce(-fnp.sum(labels * logp, axis=-1), reduction)


def binary_cross_entropy_with_logits(logits, labels, *, reduction="mean"):
    """Binary cross-entropy on logits (as optax.sigmoid_binary_cross_entropy, averaged).

    ``-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]`` elementwise, computed as
    ``softplus(x) - x y`` with a stable softplus: finite for any logit, with the exact
    gradient ``sigmoid(x) - y``.

    Args:
      logits: an array of any shape.
      labels: targets in [0, 1] (hard or soft), of the logits' shape.
      reduction: ``"mean"`` (default: over every element), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or with ``"none"`` the elementwise losses (the logits' shape).

    Raises:
      ValueError: different shapes, or an unknown ``reduction``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> loss = nn.losses.binary_cross_entropy_with_logits(
      ...     fnp.array([0.0, 100.0]), fnp.array([1.0, 1.0]), reduction="none")
      >>> [round(v, 4) for v in loss.tolist()]
      [0.6931, 0.0]
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    _same_shape(name, logits, labels, "logits", "labels")
    x = fnp.asarray(logits)
    loss = _softplus(x) - x * labels
    return _reduce(loss, reduction)


def huber(predictions, targets, *, delta=1.0, reduction="mean"):
    """The Huber loss, elementwise (as optax.huber_loss, averaged).

    ``0.5 e^2`` where ``|e| <= delta``, ``delta * (|e| - 0.5 delta)`` beyond, with ``e
    = predictions - targets``.

    Args:
      predictions: an array of any shape.
      targets: an array of the same shape.
      delta: where the loss turns from quadratic to linear, positive (default 1.0).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or with ``"none"`` the elementwise losses (``predictions``' shape).

    Raises:
      ValueError: different shapes, ``delta <= 0``, or an unknown ``reduction``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.losses.huber(fnp.array([0.5, 3.0]), fnp.zeros(2), reduction="none").tolist()
      [0.125, 2.5]
    """
    _check_reduction("huber", reduction)
    _same_shape("huber", predictions, targets)
    if not delta > 0:
        raise ValueError(f"huber: delta must be positive, got {delta!r}")
    e = fnp.abs(fnp.asarray(predictions) - targets)
    quadratic = fnp.minimum(e, delta)
    return _reduce(0.5 * quadratic * quadratic + delta * (e - quadratic), reduction)


def kl_divergence(log_predictions, targets, *, reduction="mean"):
    """The Kullback-Leibler divergence ``KL(targets || predictions)`` (as optax's).

    ``sum t (log t - log p)`` over the last axis, with ``0 log 0 = 0``. Takes the
    predictions as log-probabilities (e.g. ``log_softmax``) and the targets as
    probabilities (the argument order of optax and PyTorch).

    Args:
      log_predictions: log-probabilities ``(..., classes)``.
      targets: probabilities of the same shape.
      reduction: ``"mean"`` (default: over the positions ``(...)``), ``"sum"`` or
        ``"none"``.

    Returns:
      A scalar, or with ``"none"`` the per-position divergences of shape ``(...)``.

    Raises:
      ValueError: different shapes, or an unknown ``reduction``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> log_p = nn.log_softmax(fnp.zeros((1, 2)))
      >>> round(float(nn.losses.kl_divergence(log_p, fnp.array([[1.0, 0.0]]))), 4)
      0.6931
    """
    name = "kl_divergence"
    _check_reduction(name, reduction)
    _same_shape(name, log_predictions, targets, "log_predictions", "targets")
    t = fnp.asarray(targets)
    positive = t > 0
    log_t = fnp.log(fnp.where(positive, t, 1))
    per_class = fnp.where(positive, t * (log_t - log_predictions), 0)
    return _reduce(fnp.sum(per_class, axis=-1), reduction)
