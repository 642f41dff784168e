"""Combining per-image augmentations: `compose` chains them, `random_apply` applies one
to a random subset of the examples."""

from funcnet import numpy as fnp
from funcnet import random
from funcnet.data.augment._common import (
    check_images,
    check_key,
    number,
    per_example,
    prefix,
    shape_of,
)

__all__ = ["compose", "random_apply"]


def _check_functions(name, fns):
    for i, f in enumerate(fns):
        if not callable(f):
            raise TypeError(
                f"{prefix(name)}: argument {i} must be a function (key, x) -> x, "
                f"got {type(f).__name__}"
            )


def _compose_body(key, image, dynamic, static):
    (fns,) = static
    keys = random.split(key, len(fns))
    for i, f in enumerate(fns):
        image = f(keys[i], image)
    return image


def compose(*fns):
    """Chains per-image augmentations into one: ``compose(f, g)(key, x)`` is ``g(k1,
    f(k0, x))`` with ``k0, k1 = random.split(key)``.

    The result follows the module's rule: on a batch it maps the chain over the examples
    with one key each (``random.split(key, N)``), so every function in it must accept
    one image ``(H, W, C)``: all of this module's per-image augmentations do (mixup and
    cutmix, which need a batch and labels, do not belong in it).

    Args:
      *fns: functions ``(key, image) -> image``, applied left to right.

    Returns:
      A function ``(key, x) -> x`` of an image or a batch, jit- and vmap-able.

    Raises:
      TypeError: an argument that is not callable.

    Example:
      >>> from funcnet.data import augment
      >>> aug = augment.compose(
      ...     lambda k, x: augment.random_crop(k, x, 8, padding=1),
      ...     augment.random_flip_left_right,
      ... )
      >>> aug(random.key(0), fnp.ones((4, 8, 8, 1))).shape
      (4, 8, 8, 1)
    """
    name = "compose"
    _check_functions(name, fns)
    fns = tuple(fns)

    def composed(key, x):
        key = check_key(name, key)
        x = check_images(name, x)
        if not fns:
            return x
        return per_example(_compose_body, key, x, (), (fns,))

    return composed


def _random_apply_body(key, image, dynamic, static):
    (p,) = dynamic
    (f,) = static
    key_apply, key_f = random.split(key)
    out = f(key_f, image)
    if shape_of(out) != shape_of(image):
        raise ValueError(
            f"{prefix('random_apply')}: the function must keep the image's shape to be "
            f"applied at random, but it maps {shape_of(image)} to {shape_of(out)}"
        )
    return fnp.where(random.bernoulli(key_apply, p), out, image)


def random_apply(fn, p):
    """Applies a per-image augmentation to each example with probability ``p`` (as
    torchvision's ``RandomApply``), keeping the others unchanged.

    Each image uses its own key ``k`` (``random.split(key, N)`` on a batch): with
    ``k_apply, k_fn = random.split(k)``, the image becomes ``fn(k_fn, image)`` where
    ``random.bernoulli(k_apply, p)`` is true. ``fn`` is evaluated for every example and
    the result selected, as any branch on device data.

    Args:
      fn: a function ``(key, image) -> image`` of one image ``(H, W, C)`` keeping its
        shape.
      p: the probability to apply ``fn``, in [0, 1]; may be traced.

    Returns:
      A function ``(key, x) -> x`` of an image or a batch, jit- and vmap-able.

    Raises:
      TypeError: ``fn`` not callable.
      ValueError: ``p`` outside [0, 1]; when called, an ``fn`` that changes the shape.

    Example:
      >>> from funcnet.data import augment
      >>> noisy = augment.random_apply(lambda k, x: augment.gaussian_noise(k, x, 0.1), 0.5)
      >>> noisy(random.key(0), fnp.zeros((4, 8, 8, 1))).shape
      (4, 8, 8, 1)
    """
    name = "random_apply"
    _check_functions(name, (fn,))
    p = number(name, "p", p, low=0.0, high=1.0)

    def applied(key, x):
        key = check_key(name, key)
        x = check_images(name, x)
        return per_example(_random_apply_body, key, x, (p,), (fn,))

    return applied
