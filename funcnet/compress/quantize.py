"""Symmetric integer quantization of arrays: per channel (weights), per tensor
(activations), the way back to float32, int4 packing, and parameter byte counts.

A value ``x`` is stored as ``q = clip(round(x / scale), -qmax, qmax)`` with
``qmax = 2**(bits - 1) - 1`` (127 for int8, 7 for int4) and rounding half to even, and
read back as ``q * scale``. Symmetric ranges keep zero exact and leave the -128 (or -8)
code unused, so a product of two quantized values never overflows its sign.

These are ``funcnet.numpy`` functions: they work eagerly, under ``jit`` and ``vmap``
(``round`` has a zero gradient; use ``compress.fake_quant`` to train through them).
"""

import functools

import numpy as np

import funcnet.numpy as fnp
from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.trace import Tracer
from funcnet.transforms.jit import jit

__all__ = [
    "dequantize",
    "pack_int4",
    "param_bytes",
    "quantize_per_channel",
    "quantize_per_tensor",
    "unpack_int4",
]


def _qmax(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an int in [2, 8] (int8 storage), got {bits!r}")
    return 2 ** (int(bits) - 1) - 1


def check_bits(bits, where):
    """``bits`` as an int in [2, 8] (the code widths int8 storage holds), or a TypeError
    (not an int) / ValueError (out of range) naming ``where``."""
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool):
        raise TypeError(f"{where}: bits must be an int in [2, 8], got {bits!r}")
    if not 2 <= bits <= 8:
        raise ValueError(f"{where}: bits must be in [2, 8] (int8 storage), got {bits}")
    return int(bits)


def _check_float(x, what):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        x = np.asarray(x)
        dtype = x.dtype
    if not dtypes.is_float(dtype):
        raise TypeError(
            f"{what} must be a floating-point array to quantize, got dtype {np.dtype(dtype)} "
            "(integer and bool arrays are already exact, or already quantized)"
        )
    return x


def _axis(axis, ndim, what):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for an array of rank {ndim}")
    return int(axis) % ndim


def _clip_cast(x, qmax):
    # Clip before the cast, so that the cast never wraps around.
    return fnp.clip(x, -qmax, qmax).astype(np.int8)


def quantize_per_channel(w, axis=-1, *, bits=8):
    """Symmetric per-channel quantization: one scale per index along ``axis``.

    ``scale[c] = max|w[..., c, ...]| / qmax`` with ``qmax = 2**(bits-1) - 1`` (127 for
    8 bits); ``q = clip(round(w / scale), -qmax, qmax)``, rounding half to even. A
    channel of zeros gets scale 1 (its codes are 0). So ``|w - q * scale| <= scale / 2``.

    Args:
      w: a floating-point array of rank >= 1 (a Dense kernel ``(in, out)``, a Conv kernel
        HWIO); computed in float32.
      axis: the channel axis (default -1: the output features of Dense and Conv kernels).
      bits: the code width, 2 to 8 (default 8); codes are stored as int8 also for fewer
        bits (``pack_int4`` packs 4-bit codes two per byte).

    Returns:
      ``(q, scale)``: ``q`` int8 of ``w``'s shape, in ``[-qmax, qmax]``; ``scale``
      float32 of shape ``(w.shape[axis],)``, with ``w ~= dequantize(q, scale, axis)``.

    Raises:
      TypeError: ``w`` has an integer or bool dtype (already quantized, or exact).
      ValueError: a scalar ``w``, an ``axis`` out of range, or ``bits`` outside [2, 8].

    Example:
      >>> from funcnet import compress
      >>> w = np.array([[0.5, -2.0], [-1.0, 1.0]], np.float32)
      >>> q, scale = compress.quantize_per_channel(w, axis=-1)
      >>> q.tolist(), scale.tolist()
      ([[64, -127], [-127, 64]], [0.007874015718698502, 0.015748031437397003])
    """
    qmax = _qmax(bits)
    w = _check_float(w, "quantize_per_channel: w")
    ndim = len(w.shape)
    if ndim == 0:
        raise ValueError("quantize_per_channel needs an array of rank >= 1, got a scalar")
    axis = _axis(axis, ndim, "quantize_per_channel")
    return _per_channel(w, np.float32(qmax), axis)


# One compiled program per signature, eagerly (instead of one per primitive); inside an
# outer transformation it is staged as one equation. qmax is an argument, not a
# constant: XLA turns a division by a constant into a multiplication by its inverse,
# which is 1 ulp off the exact amax / qmax.
@functools.partial(jit, static_argnums=(2,))
def _per_channel(w, qmax, axis):
    w = w.astype(np.float32)
    ndim = w.ndim
    others = tuple(i for i in range(ndim) if i != axis)
    amax = fnp.max(fnp.abs(w), axis=others, initial=0) if others else fnp.abs(w)  # 0 if empty
    scale = fnp.where(amax > 0, amax / qmax, np.float32(1.0)).astype(np.float32)
    return _clip_cast(fnp.round(w / _along(scale, axis, ndim)), qmax), scale


def host_quantize_per_channel(w, bits=8, reduce_axes=None):
    """``quantize_per_channel(w, axis=-1, bits=bits)`` in NumPy on a concrete array: the
    same float32 formula, without compiling a program per weight shape (for
    ``quantize_model``, which converts many weights once, and ``quantize_program``,
    which quantizes constant weights while it builds a program).

    ``reduce_axes``: the axes one scale covers (default: all but the last); the scales
    have the shape of the other axes, in ``w``'s axis order."""
    qmax = _qmax(bits)
    w = np.asarray(_check_float(w, "quantize_per_channel: w"), np.float32)
    if reduce_axes is None:
        if w.ndim == 0:
            raise ValueError("quantize_per_channel needs an array of rank >= 1, got a scalar")
        reduce_axes = tuple(range(w.ndim - 1))
    reduce_axes = tuple(reduce_axes)
    amax = np.max(np.abs(w), axis=reduce_axes, keepdims=True, initial=0)  # 0 if empty
    scale = np.where(amax > 0, amax / np.float32(qmax), np.float32(1)).astype(np.float32)
    q = np.clip(np.round(w / scale), -qmax, qmax).astype(np.int8)  # half to even
    return q, np.squeeze(scale, axis=reduce_axes)


def host_pack_int4(q):
    """``pack_int4`` in NumPy on a concrete array (same layout)."""
    nibbles = np.asarray(q, np.int64).ravel() & 15
    if nibbles.size % 2:
        nibbles = np.concatenate([nibbles, [0]])
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)


def quantize_per_tensor(x, scale, *, bits=8):
    """Symmetric per-tensor quantization with a given scale (activations).

    ``q = clip(round(x / scale), -qmax, qmax)``, rounding half to even, with ``qmax =
    2**(bits-1) - 1``. ``scale`` must be positive (``calibrate`` gives one per layer).

    Args:
      x: a floating-point array (computed in float32).
      scale: a positive float32 scalar (or an array broadcasting against ``x``).
      bits: the code width, 2 to 8 (default 8).

    Returns:
      int8 codes of ``x``'s shape, in ``[-qmax, qmax]``.

    Raises:
      TypeError: ``x`` has an integer or bool dtype.
      ValueError: ``bits`` outside [2, 8]; a Python or NumPy ``scale`` that is not
        positive (a funcnet array's value is not read back from the device to check).

    Example:
      >>> from funcnet import compress
      >>> compress.quantize_per_tensor(np.array([0.25, -1.0, 9.0], np.float32), 0.05).tolist()
      [5, -20, 127]
    """
    qmax = _qmax(bits)
    x = _check_float(x, "quantize_per_tensor: x")
    if isinstance(scale, (int, float, np.ndarray, np.number)) and not np.all(np.asarray(scale) > 0):
        raise ValueError(f"quantize_per_tensor: scale must be positive, got {scale!r}")
    return _per_tensor(x, fnp.asarray(scale, np.float32), qmax)


@functools.partial(jit, static_argnums=(2,))
def _per_tensor(x, scale, qmax):
    # fnp.round rounds half to even, as NumPy.
    return _clip_cast(fnp.round(x.astype(np.float32) / scale), qmax)


def _along(scale, axis, ndim):
    """``scale`` of shape (C,) reshaped to broadcast along ``axis`` of a rank-``ndim``
    array."""
    shape = [1] * ndim
    shape[axis] = -1
    return fnp.reshape(scale, tuple(shape))


def dequantize(q, scale, axis=-1):
    """Integer codes back to float32: ``q * scale``, the scale broadcast along ``axis``.

    Args:
      q: integer codes (int8 from ``quantize_per_channel`` / ``quantize_per_tensor``, or
        int32 accumulators).
      scale: a scalar (per tensor) or a 1-D array of length ``q.shape[axis]`` (per
        channel).
      axis: the channel axis of a 1-D ``scale`` (default -1); ignored for a scalar one.

    Returns:
      A float32 array of ``q``'s shape.

    Raises:
      ValueError: a 1-D ``scale`` whose length differs from ``q.shape[axis]``, or a
        ``scale`` of rank > 1.

    Example:
      >>> from funcnet import compress
      >>> q = np.array([[64, -127], [-127, 64]], np.int8)
      >>> compress.dequantize(q, np.array([0.5, 0.25], np.float32)).tolist()
      [[32.0, -31.75], [-63.5, 16.0]]
    """
    q, scale = fnp.asarray(q), fnp.asarray(scale, np.float32)
    if scale.ndim == 0:
        return _dequantize(q, scale, 0)
    if scale.ndim != 1:
        raise ValueError(
            f"dequantize: scale must be a scalar or 1-D (one per channel), got shape "
            f"{tuple(scale.shape)}"
        )
    axis = _axis(axis, q.ndim, "dequantize")
    if scale.shape[0] != q.shape[axis]:
        raise ValueError(
            f"dequantize: scale has {scale.shape[0]} entries but q has {q.shape[axis]} "
            f"channels on axis {axis} (q shape {tuple(q.shape)})"
        )
    return _dequantize(q, scale, axis)


@functools.partial(jit, static_argnums=(2,))
def _dequantize(q, scale, axis):
    q = q.astype(np.float32)
    return q * (scale if scale.ndim == 0 else _along(scale, axis, q.ndim))


def pack_int4(q):
    """Packs 4-bit codes two per byte: the flattened ``q`` (C order), element ``2i`` in
    the low nibble of byte ``i`` and ``2i + 1`` in the high nibble (two's complement).

    An odd count is padded with a zero code. ``unpack_int4`` is the inverse.

    Args:
      q: integer codes in [-8, 7] (``quantize_per_channel(w, bits=4)`` gives [-7, 7]).

    Returns:
      A uint8 array of shape ``(ceil(q.size / 2),)``: 1/8 of the bytes of a float32
      array of ``q``'s shape.

    Raises:
      TypeError: ``q`` is not an integer array.
      ValueError: a concrete ``q`` with codes outside [-8, 7].

    Example:
      >>> from funcnet import compress
      >>> compress.pack_int4(np.array([1, -1, 7], np.int8)).tolist()
      [241, 7]
    """
    if not hasattr(q, "dtype"):  # a list; np.asarray(q) is not right for a traced q
        q = np.asarray(q)
    if not dtypes.is_int(q.dtype):
        raise TypeError(f"pack_int4 takes integer codes, got dtype {np.dtype(q.dtype)}")
    if not isinstance(q, Tracer):  # a concrete NumPy or funcnet array: check its codes
        codes = np.asarray(q)
        if codes.size and (codes.min() < -8 or codes.max() > 7):
            raise ValueError(
                f"pack_int4: codes must lie in [-8, 7], got [{int(codes.min())}, "
                f"{int(codes.max())}]"
            )
    return _pack_int4(q)


@jit
def _pack_int4(q):
    flat = fnp.reshape(q.astype(np.int32), (-1,))
    if flat.shape[0] % 2:
        flat = fnp.concatenate([flat, fnp.zeros((1,), np.int32)])
    pairs = fnp.bitwise_and(fnp.reshape(flat, (-1, 2)), 15)  # two's complement nibbles
    return fnp.bitwise_or(pairs[:, 0], fnp.left_shift(pairs[:, 1], 4)).astype(np.uint8)


def unpack_int4(packed, shape):
    """Unpacks ``pack_int4``'s bytes into int8 codes of ``shape`` (shifts and masks).

    Args:
      packed: the uint8 (or int8) bytes from ``pack_int4``.
      shape: the shape of the codes that were packed.

    Returns:
      An int8 array of ``shape`` with codes in [-8, 7].

    Raises:
      ValueError: ``packed`` does not hold ``ceil(prod(shape) / 2)`` bytes.

    Example:
      >>> from funcnet import compress
      >>> compress.unpack_int4(np.array([241, 7], np.uint8), (3,)).tolist()
      [1, -1, 7]
    """
    if not hasattr(packed, "shape"):
        packed = np.asarray(packed, np.uint8)
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape, dtype=np.int64))
    if tuple(packed.shape) != ((n + 1) // 2,):
        raise ValueError(
            f"unpack_int4: {n} codes of shape {shape} need {(n + 1) // 2} bytes, got an "
            f"array of shape {tuple(packed.shape)}"
        )
    return _unpack_int4(packed, shape, n)


@functools.partial(jit, static_argnums=(1, 2))
def _unpack_int4(packed, shape, n):
    b = fnp.bitwise_and(packed.astype(np.int32), 255)
    # A nibble v in [0, 16) is the two's complement code (v ^ 8) - 8.
    lo = fnp.bitwise_xor(fnp.bitwise_and(b, 15), 8) - 8
    hi = fnp.bitwise_xor(fnp.right_shift(b, 4), 8) - 8
    flat = fnp.reshape(fnp.stack([lo, hi], axis=-1), (-1,))[:n]
    return fnp.reshape(flat, shape).astype(np.int8)


def param_bytes(params):
    """The bytes a parameter tree holds: the sum of its leaves' ``nbytes``.

    Args:
      params: a pytree of arrays (funcnet, NumPy, or anything with ``size`` and
        ``dtype``).

    Returns:
      An int: ``sum(leaf.size * leaf.dtype.itemsize)``.

    Example:
      >>> from funcnet import compress
      >>> compress.param_bytes({"w": np.zeros((3, 4), np.float32), "q": np.zeros(8, np.int8)})
      56
    """
    total = 0
    for leaf in tree.tree_leaves(params):
        arr = leaf if hasattr(leaf, "dtype") and hasattr(leaf, "size") else np.asarray(leaf)
        total += int(arr.size) * np.dtype(arr.dtype).itemsize
    return total
