"""Photometric augmentations: brightness and contrast jitter, Gaussian noise. Each is
written for one image (H, W, C); `per_example` maps it over a batch."""

from funcnet import numpy as fnp
from funcnet import random
from funcnet.data.augment._common import (
    check_images,
    check_key,
    clip_range,
    number,
    per_example,
    prefix,
)

__all__ = ["gaussian_noise", "random_brightness", "random_contrast"]


def _clip(x, clip):
    return x if clip is None else fnp.clip(x, clip[0], clip[1])


def _brightness_body(key, image, dynamic, static):
    (max_delta,) = dynamic
    (clip,) = static
    delta = random.uniform(key, (), image.dtype, -max_delta, max_delta)
    return _clip(image + delta, clip)


def random_brightness(key, x, max_delta, *, clip=None):
    """Adds one random offset to every pixel of each image (additive brightness, as
    ``tf.image.random_brightness``).

    Each image adds ``delta = random.uniform(k, (), x.dtype, -max_delta, max_delta)``
    with its own key ``k`` (``random.split(key, N)`` on a batch). The result is NOT
    clipped unless ``clip`` is given: normalized images have no fixed range.

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: a float image ``(H, W, C)`` or batch ``(N, H, W, C)``.
      max_delta: the largest offset, at least 0; may be traced.
      clip: None (the default) or ``(low, high)``: clip the result to that range (e.g.
        ``(0.0, 1.0)`` for images in [0, 1]).

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, a negative ``max_delta``, or ``clip`` with
        low > high.
      TypeError: an integer ``x``.

    Example:
      >>> from funcnet.data import augment
      >>> out = augment.random_brightness(random.key(0), fnp.zeros((2, 4, 4, 1)), 0.1)
      >>> bool(abs(out).max() <= 0.1), out.shape
      (True, (2, 4, 4, 1))
    """
    name = "random_brightness"
    key = check_key(name, key)
    x = check_images(name, x, floating=True)
    max_delta = number(name, "max_delta", max_delta, low=0.0)
    return per_example(_brightness_body, key, x, (max_delta,), (clip_range(name, clip),))


def _contrast_body(key, image, dynamic, static):
    lower, upper = dynamic
    (clip,) = static
    factor = random.uniform(key, (), image.dtype, lower, upper)
    mean = fnp.mean(image, axis=(0, 1), keepdims=True)
    return _clip((image - mean) * factor + mean, clip)


def random_contrast(key, x, lower, upper, *, clip=None):
    """Scales each image's deviation from its per-channel mean by a random factor (as
    ``tf.image.random_contrast``).

    Each image draws ``factor = random.uniform(k, (), x.dtype, lower, upper)`` with its
    own key ``k`` (``random.split(key, N)`` on a batch) and becomes ``(image - mean) *
    factor + mean``, ``mean`` taken over H and W per channel. The result is not clipped
    unless ``clip`` is given.

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: a float image ``(H, W, C)`` or batch ``(N, H, W, C)``.
      lower: the smallest factor, at least 0 (e.g. 0.8); may be traced.
      upper: the largest factor, at least ``lower`` (e.g. 1.2); may be traced.
      clip: None (the default) or ``(low, high)``: clip the result to that range.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, ``lower`` < 0 or ``upper`` < ``lower``.
      TypeError: an integer ``x``.

    Example:
      >>> from funcnet.data import augment
      >>> flat = fnp.full((4, 4, 1), 0.5)    # no contrast to scale
      >>> augment.random_contrast(random.key(0), flat, 0.5, 1.5).max().item()
      0.5
    """
    name = "random_contrast"
    key = check_key(name, key)
    x = check_images(name, x, floating=True)
    lower = number(name, "lower", lower, low=0.0)
    upper = number(name, "upper", upper, low=0.0)
    if isinstance(lower, float) and isinstance(upper, float) and upper < lower:
        raise ValueError(f"{prefix(name)}: upper ({upper}) must be at least lower ({lower})")
    return per_example(_contrast_body, key, x, (lower, upper), (clip_range(name, clip),))


def _noise_body(key, image, dynamic, static):
    (stddev,) = dynamic
    (clip,) = static
    noise = random.normal(key, image.shape, image.dtype)
    return _clip(image + fnp.asarray(stddev, dtype=image.dtype) * noise, clip)


def gaussian_noise(key, x, stddev, *, clip=None):
    """Adds independent Gaussian noise to every pixel.

    Each image adds ``stddev * random.normal(k, image.shape, x.dtype)`` with its own key
    ``k`` (``random.split(key, N)`` on a batch). Differentiable in ``x`` (the gradient
    is the identity, or the clip mask) and in ``stddev``.

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: a float image ``(H, W, C)`` or batch ``(N, H, W, C)``.
      stddev: the noise's standard deviation, at least 0; may be traced.
      clip: None (the default) or ``(low, high)``: clip the result to that range.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank or a negative ``stddev``.
      TypeError: an integer ``x``.

    Example:
      >>> from funcnet.data import augment
      >>> out = augment.gaussian_noise(random.key(0), fnp.zeros((4, 8, 8, 1)), 0.1)
      >>> out.shape, out.dtype
      ((4, 8, 8, 1), dtype('float32'))
    """
    name = "gaussian_noise"
    key = check_key(name, key)
    x = check_images(name, x, floating=True)
    stddev = number(name, "stddev", stddev, low=0.0)
    return per_example(_noise_body, key, x, (stddev,), (clip_range(name, clip),))
