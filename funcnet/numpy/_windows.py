"""Window functions with jax.numpy's names: bartlett, blackman, hamming, hanning,
kaiser (NumPy's formulas, in the default float dtype)."""

import operator

import numpy as np

from funcnet.core import dtypes
from funcnet.numpy._core import _float_args, abs, check_arraylike, cos, sqrt
from funcnet.numpy._creation import arange, ones
from funcnet.numpy._math import i0


def _length(M, name):
    try:
        return operator.index(M)
    except TypeError:
        raise TypeError(f"{name}: M must be a concrete int, got {M!r}") from None


def _window(name, M, body):
    M = _length(M, name)
    dtype = dtypes.default_float()
    if M <= 1:
        return ones(max(M, 0), dtype)
    n = arange(M, dtype=dtype)
    return body(n, M)


_DOC = """The {what} window of M points, as jnp.{name}.

Args:
  M: the number of points (a concrete int; 0 or less gives an empty array).

Returns:
  A 1-d array of the default float dtype, symmetric, peaking at 1 in the middle.
"""


def bartlett(M):
    return _window("bartlett", M, lambda n, M: 1 - abs(2 * n - M + 1) / (M - 1))


def blackman(M):
    return _window(
        "blackman",
        M,
        lambda n, M: (
            0.42 - 0.5 * cos(2 * np.pi * n / (M - 1)) + 0.08 * cos(4 * np.pi * n / (M - 1))
        ),
    )


def hamming(M):
    return _window("hamming", M, lambda n, M: 0.54 - 0.46 * cos(2 * np.pi * n / (M - 1)))


def hanning(M):
    return _window("hanning", M, lambda n, M: 0.5 - 0.5 * cos(2 * np.pi * n / (M - 1)))


for _fn, _what in ((bartlett, "Bartlett (triangular)"), (blackman, "Blackman"),
                   (hamming, "Hamming"), (hanning, "Hann")):  # fmt: skip
    _fn.__doc__ = _DOC.format(what=_what, name=_fn.__name__)


def kaiser(M, beta):
    """The Kaiser window of M points with shape parameter beta, as jnp.kaiser.

    Args:
      M: the number of points (a concrete int; 0 or less gives an empty array).
      beta: the shape parameter (0: rectangular; larger: narrower).

    Returns:
      A 1-d array of the default float dtype (or beta's float dtype).
    """
    check_arraylike("kaiser", beta)
    M = _length(M, "kaiser")
    (beta,) = _float_args(beta)
    if M <= 1:
        return ones(max(M, 0), beta.dtype)
    n = arange(M, dtype=beta.dtype)
    alpha = 0.5 * (M - 1)
    return i0(beta * sqrt(1 - ((n - alpha) / alpha) ** 2)) / i0(beta)
