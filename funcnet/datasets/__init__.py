"""Small datasets shipped with funcnet (nothing is downloaded at run time)."""

import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits():
    """The UCI 8x8 handwritten digits (1,797 images, CC BY 4.0; see DIGITS_LICENSE.md).

    Returns:
      (images, labels): uint8 arrays of shape (1797, 8, 8) with values 0..16, and (1797,).
    """
    with np.load(os.path.join(_HERE, "digits.npz")) as data:
        return data["images"], data["labels"]
