"""Data pipeline: random-access sources, a device-feeding loader, host transforms.

A *source* is any object with ``__len__`` and ``__getitem__`` (a NumPy array, a dict of
equal-length arrays, a list of file paths, or one of the shipped sources). ``Loader``
shuffles, batches and prefetches it onto the device, built on ``grain``; one
``iter(loader)`` is one epoch and a batch is a dict of arrays.
"""

from funcnet.data import augment
from funcnet.data.images import ImageFolder, read_image
from funcnet.data.loader import Loader
from funcnet.data.sources import ArraySource, digits, from_arrays
from funcnet.data.text import (
    ByteVocab,
    CharVocab,
    TextStreams,
    TextWindows,
    text_corpus,
    train_val_split,
)
from funcnet.data.transforms import normalize

__all__ = [
    "ArraySource",
    "ByteVocab",
    "CharVocab",
    "ImageFolder",
    "Loader",
    "TextStreams",
    "TextWindows",
    "augment",
    "digits",
    "from_arrays",
    "normalize",
    "read_image",
    "text_corpus",
    "train_val_split",
]
