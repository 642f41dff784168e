"""Host-side augmentations in NumPy, for per-example maps of a loader's worker.

On the host an augmentation costs no device time and runs in the loader's workers, in
parallel with the training step; for a cheap per-image change (crop, flip) on small
images that is often the better place. Each function takes a ``np.random.Generator``,
then an image ``(H, W, C)`` or a batch ``(N, H, W, C)`` (each example drawing its own
values, in order), and returns a NumPy array. The draws are NumPy's, not
funcnet.random's: the device and host versions of an augmentation agree in
distribution, not value by value.

In a ``Loader``, a map whose second parameter is named ``rng`` is called
``map(example, rng)`` with a generator seeded from the loader's seed and the batch's
number, so a resumed run draws the same values. ``map_field`` builds such a map::

    loader = data.Loader(src, batch_size=64, shuffle=True, map=[
        host.map_field("image", host.random_crop, (8, 8), padding=1),
        host.map_field("image", host.random_flip_left_right),
    ])
"""

import numpy as np

from funcnet.data.augment._common import pair as _pair
from funcnet.data.augment._common import prefix as _prefix

__all__ = [
    "cutout",
    "map_field",
    "random_crop",
    "random_flip_left_right",
    "random_flip_up_down",
    "random_rot90",
]

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _name(name):
    return _prefix(name)


def _images(name, rng, x):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{_name(name)}: rng must be a numpy.random.Generator (np.random.default_rng"
            f"(seed)), got {type(rng).__name__}"
        )
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{_name(name)}: x must be an image (H, W, C) or a batch of images "
            f"(N, H, W, C), got shape {x.shape}"
        )
    return x


def _each(x, one, image_shape=None):
    """`one(image)` on an image, or on each image of a batch in order (an empty batch
    gives an empty batch of `image_shape`, default the input's)."""
    if x.ndim == 3:
        return one(x)
    if not len(x):
        return np.empty((0,) + (image_shape or x.shape[1:]), x.dtype)
    return np.stack([one(image) for image in x])


def _probability(name, p):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{_name(name)}: p must be a number in [0, 1], got {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{_name(name)}: p must be in [0, 1], got {p!r}")
    return float(p)


def random_crop(rng, x, size, padding=0, *, pad_mode="constant", fill=0):
    """Pads each image on every side, then cuts a window of ``size`` at a random place
    (NumPy twin of ``augment.random_crop``).

    Each image draws ``top = rng.integers(0, H + 2*pad_h - height + 1)``, then ``left``
    likewise over the columns.

    Args:
      rng: a ``np.random.Generator``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
      size: the output's ``(height, width)``, or an int for a square.
      padding: rows and columns added on each side: an int or ``(pad_h, pad_w)``.
      pad_mode: an ``np.pad`` mode: ``"constant"`` (with ``fill``), ``"edge"``,
        ``"reflect"``, ``"symmetric"``, ``"wrap"``.
      fill: the value of constant padding (default 0).

    Returns:
      A NumPy array ``(height, width, C)`` or ``(N, height, width, C)``, ``x``'s dtype.

    Raises:
      ValueError: ``x`` of another rank, a crop larger than the padded image, an
        unknown ``pad_mode``.
      TypeError: ``rng`` not a Generator.

    Example:
      >>> from funcnet.data.augment import host
      >>> rng = np.random.default_rng(0)
      >>> host.random_crop(rng, np.ones((8, 8, 1), np.float32), 8, padding=1).shape
      (8, 8, 1)
    """
    name = "host.random_crop"
    x = _images(name, rng, x)
    height, width = _pair(name, "size", size, minimum=1)
    pad_h, pad_w = _pair(name, "padding", padding, minimum=0)
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"{_name(name)}: pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}")
    rows, cols = x.shape[-3] + 2 * pad_h, x.shape[-2] + 2 * pad_w
    if height > rows or width > cols:
        raise ValueError(
            f"{_name(name)}: size (height, width) = {(height, width)} is larger than the "
            f"padded image {(rows, cols)} (x has shape {x.shape}, padding {(pad_h, pad_w)})"
        )
    options = {"constant_values": fill} if pad_mode == "constant" else {}
    widths = ((pad_h, pad_h), (pad_w, pad_w), (0, 0))

    def one(image):
        padded = np.pad(image, widths, mode=pad_mode, **options) if pad_h or pad_w else image
        top = rng.integers(0, rows - height + 1)
        left = rng.integers(0, cols - width + 1)
        return padded[top : top + height, left : left + width]

    return _each(x, one, (height, width, x.shape[-1]))


def random_flip_left_right(rng, x, p=0.5):
    """Reverses each image's columns where ``rng.random() < p``.

    Args:
      rng: a ``np.random.Generator``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
      p: the probability to flip, in [0, 1] (default 0.5).

    Returns:
      A NumPy array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank or ``p`` outside [0, 1].
      TypeError: ``rng`` not a Generator.

    Example:
      >>> from funcnet.data.augment import host
      >>> x = np.arange(3.0).reshape(1, 3, 1)
      >>> host.random_flip_left_right(np.random.default_rng(0), x, p=1.0)[0, :, 0].tolist()
      [2.0, 1.0, 0.0]
    """
    name = "host.random_flip_left_right"
    x = _images(name, rng, x)
    p = _probability(name, p)
    return _each(x, lambda image: image[:, ::-1] if rng.random() < p else image)


def random_flip_up_down(rng, x, p=0.5):
    """Reverses each image's rows where ``rng.random() < p``.

    Args:
      rng: a ``np.random.Generator``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
      p: the probability to flip, in [0, 1] (default 0.5).

    Returns:
      A NumPy array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank or ``p`` outside [0, 1].
      TypeError: ``rng`` not a Generator.

    Example:
      >>> from funcnet.data.augment import host
      >>> x = np.arange(3.0).reshape(3, 1, 1)
      >>> host.random_flip_up_down(np.random.default_rng(0), x, p=1.0)[:, 0, 0].tolist()
      [2.0, 1.0, 0.0]
    """
    name = "host.random_flip_up_down"
    x = _images(name, rng, x)
    p = _probability(name, p)
    return _each(x, lambda image: image[::-1] if rng.random() < p else image)


def random_rot90(rng, x):
    """Rotates each square image ``rng.integers(0, 4)`` times by 90 degrees
    counterclockwise (``np.rot90``).

    Args:
      rng: a ``np.random.Generator``.
      x: a square image ``(H, H, C)`` or a batch ``(N, H, H, C)``.

    Returns:
      A NumPy array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank, or not square.
      TypeError: ``rng`` not a Generator.

    Example:
      >>> from funcnet.data.augment import host
      >>> host.random_rot90(np.random.default_rng(0), np.ones((4, 4, 3))).shape
      (4, 4, 3)
    """
    name = "host.random_rot90"
    x = _images(name, rng, x)
    if x.shape[-3] != x.shape[-2]:
        raise ValueError(
            f"{_name(name)}: images must be square (H == W) to keep one shape, "
            f"got x of shape {x.shape}"
        )
    return _each(x, lambda image: np.rot90(image, rng.integers(0, 4), axes=(0, 1)))


def cutout(rng, x, size, fill=0):
    """Erases a ``size`` rectangle centred at ``(rng.integers(0, H), rng.integers(0, W))``
    in each image, clipped at the borders (NumPy twin of ``augment.cutout``).

    Args:
      rng: a ``np.random.Generator``.
      x: an image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
      size: the rectangle's ``(height, width)``, or an int for a square.
      fill: the value written (default 0).

    Returns:
      A new NumPy array of ``x``'s shape and dtype.

    Raises:
      ValueError: ``x`` of another rank or a negative size.
      TypeError: ``rng`` not a Generator.

    Example:
      >>> from funcnet.data.augment import host
      >>> out = host.cutout(np.random.default_rng(0), np.ones((8, 8, 1)), 4)
      >>> int((out == 0).sum()) <= 16
      True
    """
    name = "host.cutout"
    x = _images(name, rng, x)
    height, width = _pair(name, "size", size, minimum=0)

    def one(image):
        image = image.copy()
        cy, cx = rng.integers(0, image.shape[0]), rng.integers(0, image.shape[1])
        top, left = max(cy - height // 2, 0), max(cx - width // 2, 0)
        image[top : max(cy - height // 2 + height, 0), left : max(cx - width // 2 + width, 0)] = (
            fill
        )
        return image

    return _each(x, one)


def map_field(field, fn, *args, **kwargs):
    """A loader map applying a host augmentation to one field of each example.

    Args:
      field: the example's key to transform (``"image"``).
      fn: a function of this module, or any ``fn(rng, x, *args, **kwargs) -> x``.
      *args: more positional arguments for ``fn`` (after ``rng`` and the field).
      **kwargs: keyword arguments for ``fn``.

    Returns:
      ``map(example, rng)``: a copy of the example dict with ``example[field]``
      replaced by ``fn(rng, example[field], *args, **kwargs)``; its parameter named
      ``rng`` makes ``Loader`` pass it the batch's generator.

    Raises:
      TypeError: ``fn`` not callable (at once), or an example that is not a dict (when
        called).
      KeyError: an example without ``field`` (when called), naming the fields it has.

    Example:
      >>> from funcnet.data.augment import host
      >>> crop = host.map_field("image", host.random_crop, 6, padding=1)
      >>> example = {"image": np.ones((8, 8, 1), np.float32), "label": 3}
      >>> out = crop(example, np.random.default_rng(0))
      >>> out["image"].shape, out["label"]
      ((6, 6, 1), 3)
    """
    if not callable(fn):
        raise TypeError(f"{_name('host.map_field')}: fn must be callable, got {fn!r}")

    def field_map(example, rng):
        if not isinstance(example, dict):
            raise TypeError(
                f"{_name('host.map_field')}: examples must be dicts to transform "
                f"{field!r}, got {type(example).__name__}"
            )
        if field not in example:
            raise KeyError(
                f"{_name('host.map_field')}: the example has no field {field!r} "
                f"(it has {sorted(example)})"
            )
        return {**example, field: fn(rng, example[field], *args, **kwargs)}

    return field_map
