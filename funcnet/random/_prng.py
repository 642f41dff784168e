"""The generator: threefry2x32 keys built from funcnet primitives.

A key is raw key data: a uint32 array of shape (2,), the same bits that
`jax.random.PRNGKey(seed)` / `jax.random.key_data(jax.random.key(seed))` hold.
Everything here is bit-identical to jax.random's default threefry2x32
implementation in its "partitionable" mode (`jax_threefry_partitionable=True`,
the default of current jax):

  hash(k, (hi, lo))   threefry2x32 of the 64-bit counter (hi, lo) under key k
  split(k, shape)[i]  = hash(k, (0, i)) for the row-major flat index i
  fold_in(k, d)       = hash(k, (0, uint32(d)))      (so fold_in(k, i) == split(k, n)[i])
  bits(k, shape)[i]   = h0 ^ h1 where (h0, h1) = hash(k, (0, i))   (32 bits)
                        truncated to 8/16 bits, or (h0 << 32) | h1 for 64 bits

Only funcnet primitives are used (uint32 add, xor, or, shifts; iota, reshape,
broadcast, select, reduce_max, concatenate), so keys work eagerly and under
jit, vmap and grad (uint32 values carry no tangent). Public functions run a
jitted body per static signature, so an eager call compiles once per shape.
"""

import math
import operator

import numpy as np

from funcnet import lax
from funcnet.config import config
from funcnet.core import dtypes
from funcnet.core.array import Array
from funcnet.core.trace import Tracer, get_aval
from funcnet.numpy import asarray
from funcnet.transforms.jit import jit

_U32 = dtypes.uint32
_UINT = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}

# --- argument checking ---------------------------------------------------------

_KEY_HINT = "make one with funcnet.random.key(seed), split or fold_in"


def check_key(name, key):
    """Return `key` as an array (Array or tracer) after checking it is one key."""
    if isinstance(key, (Array, Tracer)):
        aval = get_aval(key)
    elif str(getattr(key, "dtype", "")).startswith("key<"):
        raise TypeError(
            f"funcnet.random.{name}: got a jax typed key array ({key.dtype}); "
            "funcnet keys are raw uint32 key data: pass "
            "jax.random.key_data(k), or make one with funcnet.random.key(seed)"
        )
    elif isinstance(key, np.ndarray) or (hasattr(key, "__array__") and hasattr(key, "dtype")):
        key = np.asarray(key)
        aval = None
    else:
        raise TypeError(
            f"funcnet.random.{name}: key must be a uint32 array of shape (2,) "
            f"({_KEY_HINT}), got {type(key).__name__} {key!r}"
        )
    shape, dtype = (aval.shape, aval.dtype) if aval is not None else (key.shape, key.dtype)
    if shape != (2,) or dtype != _U32:
        got = aval.str_short() if aval is not None else _str_short(dtype, shape)
        hint = _KEY_HINT
        if dtype == _U32 and len(shape) > 1 and shape[-1] == 2:
            hint = (
                "this looks like a batch of keys: pass one key, or map over the batch "
                "with funcnet.vmap"
            )
        raise TypeError(
            f"funcnet.random.{name}: key must be a uint32 array of shape (2,), got {got} ({hint})"
        )
    if aval is None:
        key = to_array(key)
    return key


def _str_short(dtype, shape):
    return f"{dtypes.short_name(dtype)}[{','.join(map(str, shape))}]"


def to_array(x):
    """An Array or tracer stays; anything else becomes an Array (funcnet.numpy.asarray)."""
    if isinstance(x, (Array, Tracer)):
        return x
    return asarray(x)


def canonical_shape(name, shape):
    """A tuple of non-negative Python ints (an int n means (n,))."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            f"funcnet.random.{name}: shape must be a tuple of ints, got {shape!r}"
        ) from None
    if any(d < 0 for d in out):
        raise ValueError(f"funcnet.random.{name}: shape {out} has a negative dimension")
    return out


# --- threefry2x32 ----------------------------------------------------------------

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _const(value, shape, dtype=_U32):
    return lax.broadcast_in_dim(np.asarray(value, dtype), shape, ())


def _rotate_left(x, d, shape):
    return lax.bitwise_or(
        lax.shift_left(x, _const(d, shape)), lax.shift_right_logical(x, _const(32 - d, shape))
    )


def threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 block cipher (20 rounds) of the counters (x1, x2) under the
    key (k1, k2). k1, k2 are uint32 scalars; x1, x2 uint32 arrays of one shape."""
    shape = get_aval(x1).shape
    k3 = lax.bitwise_xor(lax.bitwise_xor(k1, k2), np.uint32(_PARITY))
    ks = [lax.broadcast_in_dim(k, shape, ()) for k in (k1, k2, k3)]
    x1, x2 = lax.add(x1, ks[0]), lax.add(x2, ks[1])
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = lax.add(x1, x2)
            x2 = lax.bitwise_xor(x1, _rotate_left(x2, r, shape))
        x1 = lax.add(x1, ks[(i + 1) % 3])
        x2 = lax.add(lax.add(x2, ks[(i + 2) % 3]), _const(i + 1, shape))
    return x1, x2


def _key_halves(key):
    """The two uint32 words of a key, as scalars.

    Each word is taken with a masked 2-element max-reduction rather than a slice.
    Same value, but XLA (CPU) does not fuse a reduction into its consumers, so a key
    that is itself a hash (split, then bits) is computed once, not re-emitted inside
    the next hash's elementwise loop, where LLVM takes seconds to compile a chain of
    them (a randint: 1.3 s -> 0.5 s; `[normal(k) for k in split(key, 3)]` under jit:
    2.1 s -> 0.7 s of compile CPU time). A plain slice is fused, and XLA drops an
    optimization_barrier before fusion."""
    idx = lax.iota(_U32, 2)
    zero = _const(0, (2,))
    first = lax.eq(idx, zero)
    k1 = lax.reduce_max(lax.select(first, key, zero), (0,))
    k2 = lax.reduce_max(lax.select(first, zero, key), (0,))
    return k1, k2


def _counters(shape):
    """The 64-bit row-major counter of every element, as (hi, lo) uint32 arrays."""
    size = math.prod(shape)
    if size > 2**32:
        raise NotImplementedError(
            f"funcnet.random: {size} values (shape {shape}) exceed "
            "the 2**32 counters this implementation supports"
        )
    lo = lax.reshape(lax.iota(_U32, size), shape)
    return _const(0, shape), lo


def _hash_shape(key, shape):
    k1, k2 = _key_halves(key)
    hi, lo = _counters(shape)
    return threefry2x32(k1, k2, hi, lo)


# --- seeds -----------------------------------------------------------------------


def _seed_from_int(seed: int):
    if not -(2**63) <= seed < 2**63:
        raise OverflowError(
            f"funcnet.random.key: seed {seed} does not fit in a 64-bit signed integer"
        )
    seed &= 2**64 - 1
    hi = (seed >> 32) if config.enable_x64 else 0  # as jax: without x64 seeds are 32-bit
    return np.array([hi, seed & 0xFFFFFFFF], _U32)


@jit
def _seed_from_array(seed):
    aval = get_aval(seed)
    lo = lax.reshape(lax.convert_element_type(seed, _U32), (1,))
    if aval.dtype.itemsize == 8:
        shifted = lax.shift_right_logical(seed, np.asarray(32, aval.dtype))
        hi = lax.reshape(lax.convert_element_type(shifted, _U32), (1,))
    else:
        hi = _const(0, (1,))
    return lax.concatenate([hi, lo], 0)


def key(seed, *, impl=None, dtype=None):
    """Makes a PRNG key from an integer seed (as jax.random.PRNGKey; ``PRNGKey`` is it).

    The key holds the seed's bits as jax.random.PRNGKey does: (high, low) 32-bit
    words of the 64-bit seed. Without `funcnet.config.enable_x64` seeds are 32-bit
    integers, so the high word is 0 and a Python int seed is taken modulo 2**32
    (negative seeds wrap, e.g. -1 -> [0, 4294967295]), exactly as jax does. Unlike
    ``jax.random.key`` it returns raw key data, not a typed key array.

    Args:
      seed: an integer: a Python int in [-2**63, 2**63), or an integer scalar array,
        which may be traced (e.g. ``fn.vmap(random.key)(seeds)``).
      impl: the generator: None or "threefry2x32" (the only one funcnet has).
      dtype: the key type, as jax: None, "threefry2x32" or ``key_dtype()``.

    Returns:
      The key, a uint32 array of shape (2,), bit-identical to
      ``jax.random.PRNGKey(seed)``.

    Raises:
      TypeError: a seed that is not an integer scalar.
      OverflowError: a Python int outside the 64-bit signed range.
      ValueError: another generator than threefry2x32.

    Example:
      >>> from funcnet import random
      >>> random.key(0).tolist(), random.key(-1).tolist()
      ([0, 0], [0, 4294967295])
    """
    if dtype is not None and not (isinstance(dtype, str) or np.dtype(dtype) == _U32):
        raise ValueError(f"funcnet.random.key: dtype must be a key type, got {dtype!r}")
    if impl is None and isinstance(dtype, str):
        impl = dtype
    if impl not in (None, "threefry2x32"):
        raise ValueError(
            f"funcnet.random.key: impl must be None or 'threefry2x32' (the only "
            f"generator funcnet has), got {impl!r}"
        )
    if isinstance(seed, (bool, np.bool_)):
        seed = int(seed)
    if isinstance(seed, int):
        return to_array(_seed_from_int(seed))
    if not isinstance(seed, (Array, Tracer)):
        if isinstance(seed, (float, complex, str, bytes)) or not hasattr(seed, "dtype"):
            raise TypeError(
                f"funcnet.random.key: seed must be an integer, got {type(seed).__name__} {seed!r}"
            )
        seed = to_array(np.asarray(seed))
    aval = get_aval(seed)
    if aval.shape != ():
        raise TypeError(
            f"funcnet.random.key: seed must be a scalar, got {aval.str_short()}; "
            "map over an array of seeds with funcnet.vmap"
        )
    if not dtypes.is_int(aval.dtype):
        raise TypeError(f"funcnet.random.key: seed must be an integer, got {aval.str_short()}")
    return _seed_from_array(seed)


PRNGKey = key


# --- split, fold_in, bits -----------------------------------------------------------


def _split_body(key, shape):
    b1, b2 = _hash_shape(key, shape)
    col = tuple(shape) + (1,)
    return lax.concatenate([lax.reshape(b1, col), lax.reshape(b2, col)], len(shape))


_split_jit = jit(_split_body, static_argnums=1)


def split(key, num=2):
    """Splits a key into ``num`` new, independent keys (as jax.random.split).

    Use each key once: split it to get fresh keys for the next draws.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      num: the number of keys (default 2), or a tuple of ints for a shaped batch.

    Returns:
      A uint32 array of shape ``(num, 2)`` (or ``(*num, 2)``), bit-identical to
      ``jax.random.split``; ``split(k, n)[i]`` equals ``fold_in(k, i)``.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``num`` is not an int or tuple of ints.
      ValueError: a negative ``num``.

    Example:
      >>> from funcnet import random
      >>> key, subkey = random.split(random.key(0))
      >>> subkey.tolist()
      [928981903, 3453687069]
      >>> random.split(key, 8).shape
      (8, 2)
    """
    key = check_key("split", key)
    shape = canonical_shape("split", num)
    return _split_jit(key, shape)


@jit
def _fold_in_impl(key, data):
    k1, k2 = _key_halves(key)
    b1, b2 = threefry2x32(k1, k2, _const(0, (1,)), lax.reshape(data, (1,)))
    return lax.concatenate([b1, b2], 0)


def fold_in(key, data):
    """Derives a new key from ``key`` and an integer (as jax.random.fold_in).

    Handy to get a key per step or per layer without carrying split keys around.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      data: an integer scalar (e.g. a step or layer index), taken as a uint32: a
        Python int must lie in [0, 2**32); integer arrays (which may be traced) are
        converted with wrap-around, as jax.

    Returns:
      A new key, a uint32 array of shape (2,), bit-identical to
      ``jax.random.fold_in``; ``fold_in(k, i)`` equals ``split(k, n)[i]`` for i < n.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``data`` is not an integer scalar.
      OverflowError: a Python int outside [0, 2**32).

    Example:
      >>> from funcnet import random
      >>> random.fold_in(random.key(0), 1).tolist()
      [928981903, 3453687069]
    """
    key = check_key("fold_in", key)
    if isinstance(data, (bool, np.bool_)):
        data = int(data)
    if isinstance(data, int):
        if not 0 <= data < 2**32:
            raise OverflowError(f"funcnet.random.fold_in: data {data} is out of bounds for uint32")
        data = np.uint32(data)
    if not isinstance(data, (Array, Tracer)):
        if not hasattr(data, "dtype"):
            raise TypeError(
                f"funcnet.random.fold_in: data must be an integer, got "
                f"{type(data).__name__} {data!r}"
            )
        data = np.asarray(data)
        if data.shape != () or not dtypes.is_int(data.dtype):
            raise TypeError(
                f"funcnet.random.fold_in: data must be an integer scalar, got "
                f"{_str_short(data.dtype, data.shape)}"
            )
        data = to_array(data.astype(_U32))
    aval = get_aval(data)
    if aval.shape != () or not dtypes.is_int(aval.dtype):
        raise TypeError(
            f"funcnet.random.fold_in: data must be an integer scalar, got {aval.str_short()}"
        )
    if aval.dtype != _U32:
        data = lax.convert_element_type(data, _U32)
    return _fold_in_impl(key, data)


def random_bits(key, bit_width, shape):
    """Uniform random bits as an unsigned array of `bit_width` bits (traceable core)."""
    b1, b2 = _hash_shape(key, shape)
    if bit_width == 64:
        hi = lax.convert_element_type(b1, _UINT[64])
        lo = lax.convert_element_type(b2, _UINT[64])
        return lax.bitwise_or(lax.shift_left(hi, _const(32, shape, _UINT[64])), lo)
    bits = lax.bitwise_xor(b1, b2)
    if bit_width == 32:
        return bits
    return lax.convert_element_type(bits, _UINT[bit_width])


_bits_jit = jit(random_bits, static_argnums=(1, 2))


def split_keys(key, num):
    """split() for traced code inside this package (no checks): a list of `num` keys."""
    keys = _split_body(key, (num,))
    return [lax.reshape(lax.slice(keys, (i, 0), (i + 1, 2)), (2,)) for i in range(num)]


def bits(key, shape=(), dtype=None):
    """Uniformly random bits as unsigned integers (as jax.random.bits).

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      shape: the output shape, a tuple of ints or an int (default ``()``).
      dtype: an unsigned integer dtype (default uint32; uint64 when
        ``funcnet.config.enable_x64`` is on, as jax).

    Returns:
      An array of ``shape`` and ``dtype`` with every bit uniformly random,
      bit-identical to ``jax.random.bits``.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``dtype`` is not unsigned.

    Example:
      >>> from funcnet import random
      >>> random.bits(random.key(0), (2,)).tolist()
      [4070199207, 4202968722]
    """
    key = check_key("bits", key)
    shape = canonical_shape("bits", shape)
    dtype = dtypes.canonicalize(dtypes.uint64 if dtype is None else dtype)
    if not dtypes.is_unsigned(dtype):
        raise TypeError(
            f"funcnet.random.bits: dtype must be an unsigned integer dtype, got {dtype}"
        )
    return _bits_jit(key, dtype.itemsize * 8, shape)


# --- key data: funcnet keys are their own data -----------------------------------------


def _check_key_batch(name, keys):
    """An Array/tracer of uint32 with a trailing axis of 2 (one key or a batch)."""
    keys = to_array(keys) if not isinstance(keys, (Array, Tracer)) else keys
    aval = get_aval(keys)
    if aval.dtype != _U32 or not aval.shape or aval.shape[-1] != 2:
        raise TypeError(
            f"funcnet.random.{name}: keys must be a uint32 array of shape (..., 2), got "
            f"{aval.str_short()} ({_KEY_HINT})"
        )
    return keys


def key_data(keys):
    """The raw uint32 data of keys (as jax.random.key_data).

    funcnet keys are raw key data already, so this returns them unchanged.

    Args:
      keys: one key (uint32, shape (2,)) or a batch of keys (shape (..., 2)).

    Returns:
      ``keys``, a uint32 array of shape (..., 2).

    Raises:
      TypeError: not uint32 key data.
    """
    if str(getattr(keys, "dtype", "")).startswith("key<"):
        raise TypeError(
            "funcnet.random.key_data: got a jax typed key array; use jax.random.key_data"
        )
    return _check_key_batch("key_data", keys)


def wrap_key_data(key_bits_array, *, impl=None, dtype=None):
    """Keys from raw uint32 key data (as jax.random.wrap_key_data).

    funcnet keys are raw key data, so the data is returned as is; the only generator
    is threefry2x32.

    Args:
      key_bits_array: a uint32 array of shape (..., 2).
      impl: None or "threefry2x32".
      dtype: None (funcnet has no typed key dtypes).

    Returns:
      ``key_bits_array`` as keys, a uint32 array of shape (..., 2).

    Raises:
      TypeError: data that is not uint32 of shape (..., 2).
      ValueError: another ``impl`` or a ``dtype``.
    """
    if impl not in (None, "threefry2x32") or dtype is not None:
        raise ValueError(
            "funcnet.random.wrap_key_data: only the threefry2x32 generator and raw "
            f"uint32 key data exist in funcnet, got impl={impl!r}, dtype={dtype!r}"
        )
    return _check_key_batch("wrap_key_data", key_bits_array)


def key_impl(keys):
    """The name of the generator of keys (as jax.random.key_impl): "threefry2x32".

    Args:
      keys: one key or a batch of keys (uint32, shape (..., 2)).

    Returns:
      The string "threefry2x32".

    Raises:
      TypeError: not uint32 key data.
    """
    _check_key_batch("key_impl", keys)
    return "threefry2x32"


def key_dtype(impl_spec=None):
    """The dtype of funcnet keys: uint32 (jax.random.key_dtype gives a typed key dtype;
    funcnet keys are raw uint32 data).

    Args:
      impl_spec: None or "threefry2x32".

    Returns:
      ``numpy.dtype('uint32')``.

    Raises:
      ValueError: another generator.
    """
    if impl_spec not in (None, "threefry2x32"):
        raise ValueError(
            f"funcnet.random.key_dtype: only threefry2x32 exists in funcnet, got {impl_spec!r}"
        )
    return np.dtype(_U32)


def clone(key):
    """The key itself (as jax.random.clone, which only matters to jax's key-reuse
    checker; funcnet has none).

    Args:
      key: a key or a batch of keys.

    Returns:
      ``key``.
    """
    return key
