"""Host-side per-example transforms, for ``Loader(..., map=...)``.

Each is a small picklable callable (so grain's worker processes can run it) taking one
example (a dict of NumPy arrays, or an array) and returning the new example.
"""

import numpy as np

__all__ = ["normalize"]


class _Normalize:
    def __init__(self, mean, std, key):
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        if np.any(self.std == 0):
            raise ValueError(f"normalize: std has a zero entry: {self.std}")
        self.key = key

    def _apply(self, x):
        # float32 arithmetic throughout: a float64 mean would promote the image.
        return (np.asarray(x, np.float32) - self.mean) / self.std

    def __call__(self, example):
        if self.key is None:
            return self._apply(example)
        if not isinstance(example, dict) or self.key not in example:
            have = sorted(example) if isinstance(example, dict) else type(example).__name__
            raise KeyError(f"normalize(key={self.key!r}): the example has no such field: {have}")
        out = dict(example)
        out[self.key] = self._apply(example[self.key])
        return out

    def __repr__(self):
        return f"normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, key={self.key!r})"


def normalize(mean, std, key: str | None = "image"):
    """A map function that standardizes one field: ``(x - mean) / std`` in float32.

    ``mean`` and ``std`` broadcast against one example's field, so per-channel
    statistics of NHWC images have shape ``(C,)``.

    Args:
      mean: a scalar or array, the value subtracted.
      std: a scalar or array, the divisor (no zero entries).
      key: the field of a dict example to normalize; None when examples are arrays.

    Returns:
      A picklable function ``example -> example`` with that field replaced by its
      float32 standardized values (other fields unchanged, the input not modified).

    Raises:
      ValueError: a zero in ``std``.

    Example:
      >>> from funcnet import data
      >>> f = data.normalize(mean=[0.5], std=[0.25])
      >>> out = f({"image": np.ones((2, 2, 1), np.uint8), "label": 3})
      >>> out["image"][0, 0].tolist(), out["image"].dtype, out["label"]
      ([2.0], dtype('float32'), 3)
    """
    return _Normalize(mean, std, key)
