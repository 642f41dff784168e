"""In-memory sources: a dict of equal-length arrays, and the digits funcnet ships.

A *source* is any object with ``__len__`` and ``__getitem__(i)`` returning one example.
A bare NumPy array (example ``i`` is ``x[i]``) and a list of file paths are sources as
they are; ``ArraySource`` turns named arrays into examples that are dicts, the form a
batch has (``{"image": ..., "label": ...}``).
"""

import functools
import operator
from collections.abc import Mapping

import numpy as np

from funcnet.datasets import load_digits

__all__ = ["ArraySource", "digits", "from_arrays"]


class ArraySource:
    """Examples from equal-length arrays: example ``i`` is ``{name: array[i]}``.

    The arrays are kept as they are (NumPy arrays, not copied; anything else goes through
    ``np.asarray``), so an example holds NumPy arrays, or NumPy scalars for fields with
    one axis. ``batch(indices)`` gathers many examples at once, field by field.

    Args:
      arrays: a mapping from field names (str) to arrays with a leading example axis, all
        of the same length.

    Raises:
      ValueError: no fields, a field without an example axis, or fields of different
        lengths (the message lists every field with its length).
      TypeError: a field name that is not a string.

    Example:
      >>> from funcnet import data
      >>> src = data.ArraySource({"x": np.zeros((3, 2), np.float32), "y": np.arange(3)})
      >>> len(src), src[1]["x"].shape, int(src[-1]["y"])
      (3, (2,), 2)
    """

    def __init__(self, arrays: Mapping):
        if not isinstance(arrays, Mapping):
            raise TypeError(
                f"ArraySource takes a mapping of field names to arrays, got "
                f"{type(arrays).__name__} (a single array is already a source)"
            )
        if not arrays:
            raise ValueError("ArraySource needs at least one field, got an empty mapping")
        fields = {}
        for name, value in arrays.items():
            if not isinstance(name, str):
                raise TypeError(f"field names must be strings, got {name!r}")
            value = value if isinstance(value, np.ndarray) else np.asarray(value)
            if value.ndim == 0:
                raise ValueError(
                    f"field {name!r} is a scalar: each field needs a leading example axis"
                )
            fields[name] = value
        lengths = {name: len(value) for name, value in fields.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name!r}: {n}" for name, n in lengths.items())
            raise ValueError(f"fields of an ArraySource must have equal lengths, got {listed}")
        self._arrays = fields
        self._length = next(iter(lengths.values()))

    @property
    def arrays(self) -> dict:
        """The fields as whole arrays (a new dict of the same arrays, not copies)."""
        return dict(self._arrays)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index) -> dict:
        i = operator.index(index)  # an int or a NumPy integer, not a slice
        if not -self._length <= i < self._length:
            raise IndexError(f"index {i} is out of range for a source of {self._length}")
        return {name: value[i] for name, value in self._arrays.items()}

    def batch(self, indices) -> dict:
        """Many examples at once, stacked: ``{name: array[indices]}``.

        Args:
          indices: a sequence or 1-D array of integer indices.

        Returns:
          A dict with one array per field, of leading dimension ``len(indices)``.
        """
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)  # np.asarray([]) is float64
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"indices must be a 1-D sequence of integers, got {idx.dtype} of shape {idx.shape}"
            )
        if idx.size and not (-self._length <= idx.min() and idx.max() < self._length):
            raise IndexError(f"indices out of range for a source of {self._length}")
        return {name: value[idx] for name, value in self._arrays.items()}

    def __repr__(self):
        fields = ", ".join(
            f"{name}: {value.dtype}{list(value.shape[1:])}" for name, value in self._arrays.items()
        )
        return f"ArraySource({self._length} examples; {fields})"


def from_arrays(mapping: Mapping | None = None, /, **arrays) -> ArraySource:
    """An ``ArraySource`` from a mapping or from keyword arguments.

    Args:
      mapping: a mapping from field names to equal-length arrays (or nothing, and the
        fields as keyword arguments).
      **arrays: the fields, by name.

    Returns:
      An ``ArraySource`` whose example ``i`` is ``{name: array[i]}``.

    Raises:
      TypeError: both a mapping and keyword arguments.
      ValueError: fields of different lengths (each named with its length).

    Example:
      >>> from funcnet import data
      >>> src = data.from_arrays(x=np.ones((4, 8, 8, 1), np.float32), y=np.arange(4))
      >>> len(src), sorted(src[0])
      (4, ['x', 'y'])
    """
    if mapping is not None and arrays:
        raise TypeError("from_arrays takes a mapping or keyword arguments, not both")
    return ArraySource(mapping if mapping is not None else arrays)


@functools.cache
def _digits_arrays(test_fraction: float, seed: int):
    """All images (float32 NHWC in [0, 1]) and labels, and the train/test index split:
    the same permutation as funcnet.demo.digits_split, so the demo's numbers stay put."""
    images, labels = load_digits()
    x = images.astype(np.float32)[..., None] / 16.0
    y = labels.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    splits = {"train": (x[train], y[train]), "test": (x[test], y[test]), "all": (x, y)}
    for arrays in splits.values():
        for a in arrays:
            a.setflags(write=False)  # cached: shared by every source made from it
    # Normalisation statistics come from the training images only, per channel.
    mean = splits["train"][0].mean(axis=(0, 1, 2), dtype=np.float64).astype(np.float32)
    std = splits["train"][0].std(axis=(0, 1, 2), dtype=np.float64).astype(np.float32)
    return splits, mean, std


def digits(split: str = "train", *, test_fraction: float = 0.2, seed: int = 0) -> ArraySource:
    """The 8x8 handwritten digits funcnet ships, as a source of images and labels.

    The split is the demo's (``funcnet.demo.digits_split``): a fixed permutation
    (``seed``) puts ``test_fraction`` of the 1,797 images in the test split.

    Args:
      split: ``"train"`` (1,438 images by default), ``"test"`` (359) or ``"all"`` (the
        1,797 images in the order of ``funcnet.datasets.load_digits``).
      test_fraction: the share of the images in the test split.
      seed: the seed of the permutation that splits them.

    Returns:
      An ``ArraySource`` of ``{"image": float32 (8, 8, 1) in [0, 1], "label": int32}``,
      with three more attributes: ``classes`` (``("0", ..., "9")``), and ``mean`` and
      ``std``, float32 arrays of shape ``(1,)``, the per-channel pixel statistics of the
      training split (whatever ``split`` is), for ``data.normalize(src.mean, src.std)``.

    Raises:
      ValueError: an unknown split.

    Example:
      >>> from funcnet import data
      >>> train = data.digits("train")
      >>> len(train), train[0]["image"].shape, train[0]["label"].dtype
      (1438, (8, 8, 1), dtype('int32'))
      >>> train.mean.shape, train.std.shape
      ((1,), (1,))
    """
    splits, mean, std = _digits_arrays(float(test_fraction), int(seed))
    if split not in splits:
        raise ValueError(f"unknown digits split {split!r}: expected 'train', 'test' or 'all'")
    images, labels = splits[split]
    source = ArraySource({"image": images, "label": labels})
    source.classes = tuple(str(d) for d in range(10))
    source.mean, source.std = mean.copy(), std.copy()
    return source
