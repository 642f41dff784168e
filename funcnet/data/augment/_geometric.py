"""Geometric augmentations: random crop with padding, flips, rotations by 90 degrees,
cutout. Each is written for one image (H, W, C); `per_example` maps it over a batch."""

import numpy as np

from funcnet import lax, random
from funcnet import numpy as fnp
from funcnet.core.trace import Tracer
from funcnet.data.augment._common import (
    check_images,
    check_key,
    number,
    pair,
    per_example,
    prefix,
    shape_of,
)

__all__ = [
    "cutout",
    "random_crop",
    "random_flip_left_right",
    "random_flip_up_down",
    "random_rot90",
]

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _crop_body(key, image, dynamic, static):
    height, width, pad_h, pad_w, mode, fill = static
    if pad_h or pad_w:
        options = {"constant_values": fill} if mode == "constant" else {}
        image = fnp.pad(image, ((pad_h, pad_h), (pad_w, pad_w), (0, 0)), mode=mode, **options)
    rows, cols, channels = shape_of(image)
    offsets = random.randint(key, (2,), 0, np.array([rows - height + 1, cols - width + 1]))
    return lax.dynamic_slice(image, (offsets[0], offsets[1], 0), (height, width, channels))


def random_crop(key, x, size, padding=0, *, pad_mode="constant", fill=0.0):
    """Pads the image on every side, then cuts a window of ``size`` at a random place
    (as torchvision's ``RandomCrop(size, padding)``, the CIFAR recipe).

    Each image draws its window's top-left corner ``(top, left) = random.randint(k, (2,),
    0, (H + 2*pad_h - height + 1, W + 2*pad_w - width + 1))`` with its own key ``k``
    (``random.split(key, N)`` on a batch), and the result is
    ``padded[top:top + height, left:left + width]``.

    Args:
      key: one PRNG key (``funcnet.random.key``); a batch uses ``random.split(key, N)``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
      size: the output's ``(height, width)``, or an int for a square.
      padding: rows and columns added on each side before cropping: an int or a pair
        ``(pad_h, pad_w)`` (default 0).
      pad_mode: how padding is filled, NumPy's ``np.pad`` mode names: ``"constant"``
        (the default, ``fill``), ``"edge"``, ``"reflect"``, ``"symmetric"``, ``"wrap"``.
      fill: the value of constant padding (default 0), a concrete number.

    Returns:
      ``x``'s dtype, shape ``(height, width, C)`` or ``(N, height, width, C)``.

    Raises:
      ValueError: ``x`` of another rank, a crop larger than the padded image, negative
        padding, or an unknown ``pad_mode``.
      TypeError: a key that is not one uint32[2] key, or a malformed ``size``.

    Example:
      >>> from funcnet.data import augment
      >>> x = fnp.ones((4, 8, 8, 1))
      >>> augment.random_crop(random.key(0), x, 8, padding=2).shape
      (4, 8, 8, 1)
    """
    name = "random_crop"
    key = check_key(name, key)
    x = check_images(name, x)
    height, width = pair(name, "size", size, minimum=1)
    pad_h, pad_w = pair(name, "padding", padding, minimum=0)
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"{prefix(name)}: pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}")
    if isinstance(fill, Tracer):  # it shapes the compiled program: one per value
        raise TypeError(f"{prefix(name)}: fill must be a concrete number, got a traced value")
    fill = number(name, "fill", fill)
    rows, cols = shape_of(x)[-3:-1]
    if height > rows + 2 * pad_h or width > cols + 2 * pad_w:
        raise ValueError(
            f"{prefix(name)}: size (height, width) = {(height, width)} is larger than the "
            f"padded image {(rows + 2 * pad_h, cols + 2 * pad_w)} (x has shape "
            f"{shape_of(x)}, padding {(pad_h, pad_w)})"
        )
    if pad_mode in ("reflect", "symmetric", "wrap") and (pad_h or pad_w) and min(rows, cols) == 0:
        raise ValueError(f"{prefix(name)}: pad_mode {pad_mode!r} needs a non-empty image")
    static = (height, width, pad_h, pad_w, pad_mode, fill)
    return per_example(_crop_body, key, x, (), static)


def _flip_body(key, image, dynamic, static):
    (p,) = dynamic
    (axis,) = static
    return fnp.where(random.bernoulli(key, p), fnp.flip(image, axis=axis), image)


def _flip(name, axis, key, x, p):
    key = check_key(name, key)
    x = check_images(name, x)
    p = number(name, "p", p, low=0.0, high=1.0)
    return per_example(_flip_body, key, x, (p,), (axis,))


def random_flip_left_right(key, x, p=0.5):
    """Mirrors each image horizontally (reverses its columns) with probability ``p``.

    Each image flips where ``random.bernoulli(k, p)`` is true, with its own key ``k``
    (``random.split(key, N)`` on a batch).

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
      p: the probability to flip, in [0, 1] (default 0.5); may be traced.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, or ``p`` outside [0, 1].

    Example:
      >>> from funcnet.data import augment
      >>> x = fnp.arange(3.0).reshape(1, 3, 1)
      >>> augment.random_flip_left_right(random.key(0), x, p=1.0)[0, :, 0].tolist()
      [2.0, 1.0, 0.0]
    """
    return _flip("random_flip_left_right", 1, key, x, p)


def random_flip_up_down(key, x, p=0.5):
    """Mirrors each image vertically (reverses its rows) with probability ``p``.

    Each image flips where ``random.bernoulli(k, p)`` is true, with its own key ``k``
    (``random.split(key, N)`` on a batch).

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
      p: the probability to flip, in [0, 1] (default 0.5); may be traced.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, or ``p`` outside [0, 1].

    Example:
      >>> from funcnet.data import augment
      >>> x = fnp.arange(3.0).reshape(3, 1, 1)
      >>> augment.random_flip_up_down(random.key(0), x, p=0.0)[:, 0, 0].tolist()
      [0.0, 1.0, 2.0]
    """
    return _flip("random_flip_up_down", 0, key, x, p)


def _rot90_body(key, image, dynamic, static):
    turns = random.randint(key, (), 0, 4)
    out = image
    for k in (1, 2, 3):
        out = fnp.where(turns == k, fnp.rot90(image, k, axes=(0, 1)), out)
    return out


def random_rot90(key, x):
    """Rotates each image by a random multiple of 90 degrees (0, 90, 180 or 270,
    counterclockwise as ``np.rot90``), each with probability 1/4.

    Each image turns ``random.randint(k, (), 0, 4)`` times with its own key ``k``
    (``random.split(key, N)`` on a batch). Images must be square so that every example
    keeps one shape.

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: a square image ``(H, H, C)`` or a batch ``(N, H, H, C)``, any real dtype.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, or not square.

    Example:
      >>> from funcnet.data import augment
      >>> augment.random_rot90(random.key(0), fnp.ones((2, 4, 4, 3))).shape
      (2, 4, 4, 3)
    """
    name = "random_rot90"
    key = check_key(name, key)
    x = check_images(name, x)
    rows, cols = shape_of(x)[-3:-1]
    if rows != cols:
        raise ValueError(
            f"{prefix(name)}: images must be square (H == W) to keep one shape, "
            f"got x of shape {shape_of(x)}"
        )
    return per_example(_rot90_body, key, x)


def _cutout_body(key, image, dynamic, static):
    (fill,) = dynamic
    height, width = static
    rows, cols, _ = shape_of(image)
    centre = random.randint(key, (2,), 0, np.array([rows, cols]))
    top = centre[0] - height // 2
    left = centre[1] - width // 2
    r = lax.broadcasted_iota(np.int32, (rows, cols, 1), 0)
    c = lax.broadcasted_iota(np.int32, (rows, cols, 1), 1)
    inside = (r >= top) & (r < top + height) & (c >= left) & (c < left + width)
    return fnp.where(inside, fnp.asarray(fill, dtype=image.dtype), image)


def cutout(key, x, size, fill=0.0):
    """Erases a ``size`` rectangle at a random place in each image (DeVries & Taylor 2017,
    "Improved Regularization of Convolutional Neural Networks with Cutout").

    Each image draws the rectangle's centre ``(cy, cx) = random.randint(k, (2,), 0, (H,
    W))`` with its own key ``k`` (``random.split(key, N)`` on a batch) and sets rows
    ``cy - height//2 <= r < cy - height//2 + height`` and columns likewise, in every
    channel, to ``fill``. The centre may lie near a border: the part of the rectangle
    outside the image is dropped, so less than ``height * width`` may be erased (as in
    the paper).

    Args:
      key: one PRNG key; a batch uses ``random.split(key, N)``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
      size: the rectangle's ``(height, width)``, or an int for a square.
      fill: the value written (default 0); may be traced.

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, or a negative size.

    Example:
      >>> from funcnet.data import augment
      >>> out = augment.cutout(random.key(0), fnp.ones((8, 8, 1)), 4)
      >>> int((out == 0).sum()) <= 16
      True
    """
    name = "cutout"
    key = check_key(name, key)
    x = check_images(name, x)
    height, width = pair(name, "size", size, minimum=0)
    fill = number(name, "fill", fill)
    return per_example(_cutout_body, key, x, (fill,), (height, width))
