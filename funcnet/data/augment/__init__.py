"""Data augmentation on device: pure functions of ``(key, images)`` built from funcnet
ops, so they run inside a jitted training step, under ``vmap`` and ``grad``.

Conventions
-----------
- Images are NHWC: one image is ``(H, W, C)``, a batch ``(N, H, W, C)``.
- Every per-image augmentation (``random_crop``, ``random_flip_left_right``,
  ``random_flip_up_down``, ``random_rot90``, ``random_brightness``, ``random_contrast``,
  ``gaussian_noise``, ``cutout``, and what ``compose``/``random_apply`` build) takes ONE
  key and either one image or a batch. On a batch it splits the key into one key per
  example, ``keys = random.split(key, N)``, and treats example ``i`` with ``keys[i]``
  exactly as it treats a single image. So every example draws its own randomness, and::

      f(key, batch) == fn.vmap(f)(random.split(key, N), batch)

  Each function's docstring names the draws it makes from its key, so a result can be
  reproduced (the tests do, with NumPy).
- ``mixup`` and ``cutmix`` mix examples with each other: they take a whole batch and its
  labels and return ``(images, soft_labels)``.
- Photometric changes (brightness, contrast, noise) need float images and do not clip
  unless asked (``clip=(0.0, 1.0)``): a normalized image has no fixed range.
- Parameters such as ``p``, ``stddev`` or ``alpha`` may be traced values (a schedule
  inside jit); sizes and paddings are Python ints (they fix shapes).

``funcnet.data.augment.host`` has NumPy twins of the geometric ones (crop, flips,
rot90, cutout) taking a ``np.random.Generator``, for a loader's per-example maps.

Example:
  >>> from funcnet.data import augment
  >>> aug = augment.compose(
  ...     lambda k, x: augment.random_crop(k, x, (8, 8), padding=1),
  ...     augment.random_flip_left_right,
  ... )
  >>> x = fnp.ones((4, 8, 8, 1))
  >>> fn.jit(aug)(random.key(0), x).shape
  (4, 8, 8, 1)
"""

from funcnet.data.augment import host
from funcnet.data.augment._combinators import compose, random_apply
from funcnet.data.augment._geometric import (
    cutout,
    random_crop,
    random_flip_left_right,
    random_flip_up_down,
    random_rot90,
)
from funcnet.data.augment._mixing import cutmix, mixup
from funcnet.data.augment._photometric import gaussian_noise, random_brightness, random_contrast

__all__ = [
    "compose",
    "cutmix",
    "cutout",
    "gaussian_noise",
    "host",
    "mixup",
    "random_apply",
    "random_brightness",
    "random_contrast",
    "random_crop",
    "random_flip_left_right",
    "random_flip_up_down",
    "random_rot90",
]
