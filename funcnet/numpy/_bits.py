"""packbits and unpackbits: booleans to the bits of uint8 bytes and back, as jax.numpy's
(eight elements per byte along one axis, zero-padded at the end)."""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import asarray, bitwise_and, check_arraylike
from funcnet.numpy._math import left_shift, right_shift
from funcnet.numpy._reductions import sum as _sum
from funcnet.numpy._shape import moveaxis, normalize_axis, ravel, reshape

_SHIFTS = {"big": np.arange(7, -1, -1, dtype=np.uint8), "little": np.arange(8, dtype=np.uint8)}


def _bit_order(name, bitorder):
    if bitorder not in _SHIFTS:
        raise ValueError(f"{name}: bitorder must be 'big' or 'little', got {bitorder!r}")
    return _SHIFTS[bitorder]


def packbits(a, axis=None, bitorder="big"):
    """Packs the truthiness of `a`'s elements into the bits of uint8 bytes, as
    jnp.packbits: eight elements per byte along `axis`, the last byte zero-padded.

    Args:
      a: an array of integers or booleans (non-zero counts as a set bit).
      axis: the axis to pack along; None packs the flattened array.
      bitorder: "big" (the first element is the most significant bit) or "little".

    Returns:
      A uint8 array of `a`'s shape with `axis` of size ceil(n / 8).

    Raises:
      TypeError: `a` is not of an integer or boolean dtype.
      ValueError: an unknown `bitorder`.

    Example:
      >>> fnp.packbits(fnp.array([1, 0, 1, 1, 0, 0, 0, 0, 1])).tolist()
      [176, 128]
    """
    check_arraylike("packbits", a)
    a = asarray(a)
    if not (dtypes.is_int(a.dtype) or dtypes.is_bool(a.dtype)):
        raise TypeError(f"packbits: expected an integer or boolean array, got {a.dtype}")
    shifts = _bit_order("packbits", bitorder)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim)
    bits = moveaxis(a != 0, axis, -1).astype(np.uint8)
    n = bits.shape[-1]
    pad = -n % 8
    bits = lax.pad(bits, np.uint8(0), [(0, 0, 0)] * (bits.ndim - 1) + [(0, pad, 0)])
    grouped = reshape(bits, bits.shape[:-1] + ((n + pad) // 8, 8))
    packed = _sum(left_shift(grouped, asarray(shifts)), axis=-1, dtype=np.uint8)
    return moveaxis(packed, -1, axis)


def unpackbits(a, axis=None, count=None, bitorder="big"):
    """Unpacks the bits of uint8 bytes into 0/1 uint8 elements, as jnp.unpackbits.

    Args:
      a: a uint8 array.
      axis: the axis to unpack along (each byte becomes eight elements); None unpacks
        the flattened array.
      count: keep this many elements along `axis` (a negative count drops that many
        from the end; more than `8 * n` pads with zeros); None keeps all `8 * n`.
      bitorder: "big" (the most significant bit first) or "little".

    Returns:
      A uint8 array of 0s and 1s.

    Raises:
      TypeError: `a` is not uint8.
      ValueError: an unknown `bitorder`.

    Example:
      >>> fnp.unpackbits(fnp.array([176], fnp.uint8)).tolist()
      [1, 0, 1, 1, 0, 0, 0, 0]
    """
    check_arraylike("unpackbits", a)
    a = asarray(a)
    if a.dtype != np.uint8:
        raise TypeError(f"unpackbits: expected a uint8 array, got {a.dtype}")
    shifts = _bit_order("unpackbits", bitorder)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, a.ndim)
    moved = moveaxis(a, axis, -1)
    bits = bitwise_and(right_shift(moved[..., None], asarray(shifts)), np.uint8(1))
    bits = reshape(bits, moved.shape[:-1] + (8 * moved.shape[-1],))
    if count is not None:
        n = bits.shape[-1]
        if count > n:  # as NumPy: zeros past the unpacked bits
            pad = [(0, 0, 0)] * (bits.ndim - 1) + [(0, count - n, 0)]
            bits = lax.pad(bits, np.uint8(0), pad)
        bits = bits[..., :count]
    return moveaxis(bits, -1, axis)
