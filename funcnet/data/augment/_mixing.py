"""Mixing augmentations: mixup and cutmix. They mix each example with another one of the
batch, so they take a whole batch and its labels (never one image)."""

import operator

import numpy as np

from funcnet import lax, random
from funcnet import numpy as fnp
from funcnet.core import dtypes
from funcnet.data.augment._common import (
    as_array,
    check_floating,
    check_images,
    check_key,
    dtype_of,
    number,
    prefix,
    shape_of,
)
from funcnet.transforms.jit import jit

__all__ = ["cutmix", "mixup"]


def _labels(name, labels, n, num_classes):
    """Checks the labels: soft labels (N, ...) as given, or integer labels (N,) with
    `num_classes`. Returns them and the number of classes to one-hot encode (None for
    soft labels), which the jitted body does."""
    labels = as_array(name, "labels", labels)
    shape, ldtype = shape_of(labels), dtype_of(labels)
    if not shape or shape[0] != n:
        raise ValueError(
            f"{prefix(name)}: labels must have the batch's leading size {n}, got shape {shape}"
        )
    if dtypes.is_int(ldtype) or dtypes.is_bool(ldtype):
        if num_classes is None:
            raise ValueError(
                f"{prefix(name)}: integer labels (shape {shape}) need num_classes to be "
                "turned into one-hot rows; or pass one-hot / soft float labels (N, classes)"
            )
        num_classes = operator.index(num_classes)
        if len(shape) != 1 or num_classes < 1:
            raise ValueError(
                f"{prefix(name)}: integer labels must have shape (N,) and num_classes >= 1, "
                f"got labels of shape {shape} and num_classes={num_classes}"
            )
        return labels, num_classes
    check_floating(name, labels, "labels")
    if num_classes is not None and shape[-1] != num_classes:
        raise ValueError(
            f"{prefix(name)}: labels of shape {shape} do not have num_classes={num_classes} columns"
        )
    return labels, None


def _one_hot(labels, num_classes, dtype):
    if num_classes is None:
        return labels
    classes = lax.broadcasted_iota(labels.dtype, (labels.shape[0], num_classes), 1)
    return (labels[:, None] == classes).astype(dtype)


def _mix(lam, a, b):
    """lam * a + (1 - lam) * b, with a per-example `lam` (N,) broadcast over a's other
    axes."""
    lam = lam.astype(a.dtype)
    if lam.ndim == 1:
        lam = lam.reshape(lam.shape + (1,) * (a.ndim - 1))
    return lam * a + (1 - lam) * b


def _mixup_body(key, x, labels, alpha, per_example, num_classes):
    labels = _one_hot(labels, num_classes, x.dtype)
    lam_shape = (shape_of(x)[0],) if per_example else ()
    lam = random.beta(key, alpha, alpha, lam_shape, x.dtype)
    mixed = _mix(lam, x, fnp.roll(x, 1, axis=0))
    return mixed, _mix(lam, labels, fnp.roll(labels, 1, axis=0))


_mixup_jit = jit(_mixup_body, static_argnums=(4, 5))


def _alpha(name, alpha):
    return number(name, "alpha", alpha, low=0.0, low_open=True)


def mixup(key, x, labels, alpha=0.2, *, per_example=False, num_classes=None):
    """Mixup (Zhang et al. 2018): blends each example and its label with the previous
    example of the batch.

    As torchvision's ``transforms.v2.MixUp``: ``lam = random.beta(key, alpha, alpha, (),
    x.dtype)`` for the whole batch (one per example with ``per_example=True``, shape
    ``(N,)``, as timm's ``mode="elem"``), the partner of example ``i`` is example ``i - 1``
    (``fnp.roll(x, 1, axis=0)``; the loader's shuffle makes the pairs random), and::

        x_out = lam * x + (1 - lam) * roll(x, 1)
        y_out = lam * y + (1 - lam) * roll(y, 1)

    so each label row still sums to 1. Differentiable in ``x``. Mixing needs a batch: a
    single image cannot be mixed, and mixup is not mapped with ``vmap``.

    Args:
      key: one PRNG key.
      x: a float batch ``(N, ...)`` (images ``(N, H, W, C)`` or any features).
      labels: one-hot or soft float labels ``(N, classes)``, or integer class ids
        ``(N,)`` with ``num_classes``.
      alpha: the Beta distribution's parameter, above 0 (default 0.2; small values
        keep ``lam`` near 0 or 1); may be traced.
      per_example: draw one ``lam`` per example instead of one per batch.
      num_classes: the number of classes, needed for integer labels.

    Returns:
      ``(x_out, y_out)``: ``x``'s shape and dtype, and float labels ``(N, classes)``
      (integer labels become one-hot rows of ``x``'s dtype first).

    Raises:
      ValueError: ``alpha <= 0``, ``x`` without a batch axis, labels whose leading size
        is not N, integer labels without ``num_classes``.
      TypeError: integer ``x``.

    Example:
      >>> from funcnet.data import augment
      >>> x, y = fnp.ones((4, 8, 8, 1)), fnp.asarray([0, 1, 2, 1])
      >>> xm, ym = augment.mixup(random.key(0), x, y, alpha=0.4, num_classes=3)
      >>> xm.shape, ym.shape, np.allclose(ym.sum(axis=1), 1.0)
      ((4, 8, 8, 1), (4, 3), True)
    """
    name = "mixup"
    key = check_key(name, key)
    x = as_array(name, "x", x)
    if not shape_of(x):
        raise ValueError(f"{prefix(name)}: x must have a batch axis (N, ...), got shape ()")
    check_floating(name, x)
    labels, classes = _labels(name, labels, shape_of(x)[0], num_classes)
    alpha = _alpha(name, alpha)
    return _mixup_jit(key, x, labels, alpha, bool(per_example), classes)


def _cutmix_body(key, x, labels, alpha, per_example, num_classes):
    labels = _one_hot(labels, num_classes, x.dtype)
    n, rows, cols, _ = shape_of(x)
    key_lam, key_box = random.split(key)
    lam_shape = (n,) if per_example else ()
    lam = random.beta(key_lam, alpha, alpha, lam_shape, x.dtype)
    centre = random.randint(key_box, lam_shape + (2,), 0, np.array([rows, cols]))
    cy, cx = centre[..., 0], centre[..., 1]
    half = 0.5 * fnp.sqrt(1.0 - lam)
    half_h = fnp.floor(half * rows).astype(np.int32)
    half_w = fnp.floor(half * cols).astype(np.int32)
    top, bottom = fnp.maximum(cy - half_h, 0), fnp.minimum(cy + half_h, rows)
    left, right = fnp.maximum(cx - half_w, 0), fnp.minimum(cx + half_w, cols)
    area = ((bottom - top) * (right - left)).astype(x.dtype)
    lam_box = 1.0 - area / (rows * cols)
    if per_example:
        top, bottom, left, right = (v[:, None, None, None] for v in (top, bottom, left, right))
    r = lax.broadcasted_iota(np.int32, (1, rows, cols, 1), 1)
    c = lax.broadcasted_iota(np.int32, (1, rows, cols, 1), 2)
    inside = (r >= top) & (r < bottom) & (c >= left) & (c < right)
    mixed = fnp.where(inside, fnp.roll(x, 1, axis=0), x)
    return mixed, _mix(lam_box, labels, fnp.roll(labels, 1, axis=0))


_cutmix_jit = jit(_cutmix_body, static_argnums=(4, 5))


def cutmix(key, x, labels, alpha=1.0, *, per_example=False, num_classes=None):
    """CutMix (Yun et al. 2019): pastes a random box of the previous example of the batch
    into each image and mixes the labels by the pasted area.

    As torchvision's ``transforms.v2.CutMix``: with ``key_lam, key_box =
    random.split(key)``, ``lam = random.beta(key_lam, alpha, alpha, (), x.dtype)`` and the
    box centre ``(cy, cx) = random.randint(key_box, (2,), 0, (H, W))`` for the whole
    batch (with ``per_example=True`` one of each per example: shapes ``(N,)`` and
    ``(N, 2)``). The box has half-sizes ``floor(0.5 * sqrt(1 - lam) * H)`` and ``... * W``
    around the centre, clipped to the image: rows ``[top, bottom)``, columns
    ``[left, right)``. Inside it each image takes example ``i - 1``'s pixels
    (``fnp.roll(x, 1, axis=0)``). Since clipping shrinks the box, the labels mix with the
    area actually pasted::

        lam_box = 1 - (bottom - top) * (right - left) / (H * W)
        y_out = lam_box * y + (1 - lam_box) * roll(y, 1)

    so each label row still sums to 1.

    Args:
      key: one PRNG key.
      x: a float batch of images ``(N, H, W, C)``.
      labels: one-hot or soft float labels ``(N, classes)``, or integer class ids
        ``(N,)`` with ``num_classes``.
      alpha: the Beta distribution's parameter, above 0 (default 1: ``lam`` uniform);
        may be traced.
      per_example: one ``lam`` and box per example instead of one per batch.
      num_classes: the number of classes, needed for integer labels.

    Returns:
      ``(x_out, y_out)``: ``x``'s shape and dtype, and float labels ``(N, classes)``.

    Raises:
      ValueError: ``alpha <= 0``, ``x`` not of rank 4, labels whose leading size is not
        N, integer labels without ``num_classes``.
      TypeError: integer ``x``.

    Example:
      >>> from funcnet.data import augment
      >>> x = fnp.stack([fnp.zeros((8, 8, 1)), fnp.ones((8, 8, 1))])
      >>> y = fnp.asarray([[1.0, 0.0], [0.0, 1.0]])
      >>> xm, ym = augment.cutmix(random.key(3), x, y)
      >>> # the share of pasted pixels is the share of the partner's label
      >>> bool(np.isclose(xm[0].mean(), ym[0, 1])), np.allclose(ym.sum(axis=1), 1.0)
      (True, True)
    """
    name = "cutmix"
    key = check_key(name, key)
    x = check_images(name, x, batch_only=True, floating=True)
    labels, classes = _labels(name, labels, shape_of(x)[0], num_classes)
    alpha = _alpha(name, alpha)
    return _cutmix_jit(key, x, labels, alpha, bool(per_example), classes)
