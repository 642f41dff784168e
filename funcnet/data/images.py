"""Images from a folder tree, one subfolder per class (PNG and JPEG, read with Pillow)."""

import operator
import os
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder", "read_image"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _image_files(folder: Path) -> list[Path]:
    """The image files under `folder` (any depth), sorted by path; hidden files and
    folders are skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            Path(dirpath, name)
            for name in sorted(filenames)
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)
        )
    return found


class ImageFolder:
    """A source of labelled images from ``root/<class>/<...>/<file>``.

    The classes are the names of ``root``'s subfolders, sorted (label ``i`` is
    ``classes[i]``); each class's PNG and JPEG files (``IMAGE_EXTENSIONS``, any case, at
    any depth below its folder) are its examples, in sorted order. An image is read when
    its example is, and converted to RGB (alpha dropped, palettes expanded) or, with
    ``grayscale=True``, to one luminance channel.

    Without ``size``, every image must have the same size (a batch stacks them): the
    constructor reads each file's header to check that, and to find unreadable files
    early. With ``size``, every image is resized (bilinear) when it is read.

    Args:
      root: the folder holding one subfolder per class.
      size: ``(height, width)`` (or one int for a square) to resize every image to; None
        keeps the images' own, common size.
      grayscale: one channel instead of three.

    Raises:
      FileNotFoundError: ``root`` is not a folder.
      ValueError: no class subfolders, a class without images, images of different
        sizes without ``size`` (the message names two files and their sizes), or a file
        Pillow cannot read (named).

    Attributes:
      classes: the class names, sorted; label ``i`` is ``classes[i]``.
      files: the image paths, in example order.
      labels: int32 array of the examples' labels.

    Example:
      >>> import tempfile, pathlib
      >>> from PIL import Image
      >>> from funcnet import data
      >>> root = pathlib.Path(tempfile.mkdtemp())
      >>> for cls in ("cat", "dog"):
      ...     (root / cls).mkdir()
      ...     Image.new("RGB", (6, 4), "white").save(root / cls / "a.png")
      >>> src = data.ImageFolder(root)
      >>> src.classes, len(src), src[1]["image"].shape, int(src[1]["label"])
      (['cat', 'dog'], 2, (4, 6, 3), 1)
    """

    def __init__(self, root, size=None, grayscale: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {str(self.root)!r} is not a folder")
        self.classes = sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        if not self.classes:
            raise ValueError(
                f"ImageFolder: {str(self.root)!r} has no class subfolders (expected "
                "root/<class>/<image> with PNG or JPEG images)"
            )
        self.files, labels = [], []
        for label, name in enumerate(self.classes):
            found = _image_files(self.root / name)
            if not found:
                raise ValueError(
                    f"ImageFolder: class folder {str(self.root / name)!r} holds no image "
                    f"(looked for {', '.join(IMAGE_EXTENSIONS)})"
                )
            self.files.extend(found)
            labels.extend([label] * len(found))
        self.labels = np.asarray(labels, dtype=np.int32)
        self.grayscale = bool(grayscale)
        if size is None:
            self.size = self._common_size()
            self._resize = None
        else:
            self.size = (size, size) if isinstance(size, int) else tuple(size)
            if len(self.size) != 2 or min(self.size) < 1:
                raise ValueError(f"size must be (height, width) or one int, got {size!r}")
            self._resize = self.size

    def _common_size(self) -> tuple[int, int]:
        """The images' common (height, width), from their headers (Pillow reads no
        pixels here)."""
        first = None
        for path in self.files:
            width, height = _open(path, header_only=True)
            if first is None:
                first = (path, (height, width))
            elif (height, width) != first[1]:
                raise ValueError(
                    f"ImageFolder: images of different sizes cannot be batched: "
                    f"{str(first[0])!r} is {first[1][0]}x{first[1][1]} (height x width), "
                    f"{str(path)!r} is {height}x{width}; pass size=(height, width) to "
                    "resize them all"
                )
        return first[1]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index) -> dict:
        i = operator.index(index)
        if not -len(self.files) <= i < len(self.files):
            raise IndexError(f"index {i} is out of range for {len(self.files)} images")
        image = read_image(self.files[i], size=self._resize, grayscale=self.grayscale)
        return {"image": image, "label": self.labels[i]}

    def __repr__(self):
        channels = 1 if self.grayscale else 3
        return (
            f"ImageFolder({str(self.root)!r}: {len(self)} images of {self.size[0]}x"
            f"{self.size[1]}x{channels}, {len(self.classes)} classes)"
        )


def read_image(path, size=None, grayscale: bool = False) -> np.ndarray:
    """One image file (PNG, JPEG or anything else Pillow reads) as float32 pixels.

    A list of paths is a source; ``read_image`` makes its examples, e.g. as the loader's
    ``map``: ``lambda path: {"image": data.read_image(path, size=(32, 32))}``.

    Args:
      path: the file.
      size: ``(height, width)`` (or one int for a square) to resize to, bilinear; None
        keeps the image's size.
      grayscale: one luminance channel instead of RGB (alpha dropped, palettes
        expanded).

    Returns:
      A float32 array ``(height, width, 3)`` (or ``(..., 1)`` with ``grayscale``) in
      ``[0, 1]``.

    Raises:
      ValueError: a file Pillow cannot read (the message names it).

    Example:
      >>> import tempfile, os
      >>> from PIL import Image
      >>> from funcnet import data
      >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
      >>> Image.new("RGB", (3, 2), (255, 0, 0)).save(path)
      >>> data.read_image(path)[0, 0], data.read_image(path, size=4, grayscale=True).shape
      (array([1., 0., 0.], dtype=float32), (4, 4, 1))
    """
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
    image = _open(Path(path), mode="L" if grayscale else "RGB", size=size)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _open(path: Path, *, header_only=False, mode="RGB", size=None):
    """The image at `path` converted to `mode` (and resized to (height, width) `size`),
    or only its (width, height) with `header_only`; any failure names the file."""
    try:
        with Image.open(path) as image:
            if header_only:
                return image.size
            image = image.convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return image
    except (OSError, ValueError, SyntaxError) as error:  # what Pillow raises on bad files
        raise ValueError(f"cannot read image {str(path)!r}: {error}") from error
