"""Samplers built on the threefry generator: uniform, normal, truncated_normal,
bernoulli, gumbel, categorical, randint, permutation, choice.

Each follows jax.random's algorithm (same bits, same float arithmetic), so
`uniform` is bit-identical and the others match jax up to the last ulp of the
special functions that XLA evaluates (erf_inv, erf, log). A public function
checks and canonicalizes its arguments; the sampling itself is a jitted body
(static shape and dtype), so an eager call compiles one program per signature.
"""

import math

import ml_dtypes
import numpy as np

from funcnet import lax
from funcnet import numpy as fnp
from funcnet.core import dtypes
from funcnet.core.trace import get_aval
from funcnet.lax import stop_gradient
from funcnet.random._prng import (
    _UINT,
    canonical_shape,
    check_key,
    random_bits,
    split_keys,
    to_array,
)
from funcnet.transforms.jit import jit


def _np_const(value, shape, dtype):
    return lax.broadcast_in_dim(np.asarray(value, dtype), shape, ())


def _float_dtype(name, dtype):
    dtype = dtypes.default_float() if dtype is None else dtypes.canonicalize(dtype)
    if not dtypes.is_float(dtype):
        raise TypeError(f"funcnet.random.{name}: dtype must be a float dtype, got {dtype}")
    return dtype


def _broadcast_to(name, what, x, shape):
    """Broadcast a parameter `x` (Array/tracer) to `shape`, NumPy-style, or say why not."""
    s = get_aval(x).shape
    if len(s) > len(shape) or any(a not in (1, b) for a, b in zip(s[::-1], shape[::-1])):
        raise ValueError(
            f"funcnet.random.{name}: {what} of shape {s} does not broadcast to "
            f"the sample shape {shape}"
        )
    if s == shape:
        return x
    return lax.broadcast_in_dim(x, shape, tuple(range(len(shape) - len(s), len(shape))))


def _param(name, what, x, dtype, shape):
    x = to_array(x)
    if get_aval(x).dtype != dtype:
        x = lax.convert_element_type(x, dtype)
    return _broadcast_to(name, what, x, shape)


def _check_mode(name, mode, allowed=(None, "low", "high")):
    """jax's precision modes: "low" (the default) and "high"; "highest" is not
    implemented (jax's float32 version builds floats from 64 random bits)."""
    if mode not in allowed:
        raise NotImplementedError(
            f"funcnet.random.{name}: mode={mode!r} is not supported "
            f"(supported: {', '.join(repr(m) for m in allowed if m)})"
        )
    return "high" if mode == "high" else "low"


def _broadcast_shapes(name, *shapes):
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for dims in zip(*((1,) * (ndim - len(s)) + tuple(s) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ValueError(f"funcnet.random.{name}: shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# --- uniform and normal ---------------------------------------------------------------


def uniform_body(key, minval, maxval, shape, dtype, name="uniform"):
    """jax's mantissa trick: random bits fill the mantissa of a float in [1, 2);
    subtracting 1 gives [0, 1). funcnet has no bitcast primitive, so the float is
    built as convert(mantissa) * 2**-nmant, which is the same value exactly."""
    finfo = ml_dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    rng_bits = 8 if nmant < 8 else nbits  # as jax: bfloat16 draws 8 random bits
    bits = random_bits(key, rng_bits, shape)
    uint = _UINT[nbits]
    if rng_bits != nbits:
        bits = lax.convert_element_type(bits, uint)
    mantissa = lax.shift_right_logical(bits, _np_const(rng_bits - nmant, shape, uint))
    floats = lax.mul(
        lax.convert_element_type(mantissa, dtype), _np_const(2.0**-nmant, shape, dtype)
    )
    minval = _param(name, "minval", minval, dtype, shape)
    maxval = _param(name, "maxval", maxval, dtype, shape)
    return lax.max(minval, lax.add(lax.mul(floats, lax.sub(maxval, minval)), minval))


_uniform_jit = jit(uniform_body, static_argnums=(3, 4))


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in ``[minval, maxval)`` (as jax.random.uniform).

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      shape: the output shape, a tuple of ints or an int (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).
      minval: the lower bound, a scalar or an array broadcastable to ``shape``
        (default 0).
      maxval: the upper bound, likewise (default 1).

    Returns:
      An array of ``shape`` and ``dtype``, bit-identical to ``jax.random.uniform``
      for float16, bfloat16, float32 (and float64 with x64).

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``dtype`` is not a float.
      ValueError: bounds that do not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> x = random.uniform(random.key(0), (3,))
      >>> x.dtype, [round(v, 4) for v in x.tolist()]
      (dtype('float32'), [0.9477, 0.9786, 0.3323])
      >>> random.uniform(random.key(0), (2, 3), minval=-1.0, maxval=1.0).shape
      (2, 3)
    """
    key = check_key("uniform", key)
    shape = canonical_shape("uniform", shape)
    dtype = _float_dtype("uniform", dtype)
    return _uniform_jit(key, minval, maxval, shape, dtype)


def _open_minus_one(dtype):
    # nextafter(-1, 0) in `dtype`: -1 + 2**-(nmant + 1)
    return np.asarray(-1.0 + 2.0 ** -(ml_dtypes.finfo(dtype).nmant + 1), dtype)


def normal_body(key, shape, dtype):
    u = uniform_body(key, _open_minus_one(dtype), np.asarray(1.0, dtype), shape, dtype, "normal")
    return lax.mul(_np_const(np.sqrt(2), shape, dtype), lax.erf_inv(u))


_normal_jit = jit(normal_body, static_argnums=(1, 2))


def normal(key, shape=(), dtype=None):
    """Standard normal floats (as jax.random.normal).

    Computed as jax does, ``sqrt(2) * erf_inv(u)`` with ``u`` uniform in (-1, 1), so
    the values equal jax's up to the last ulp of ``erf_inv``. For mean ``m`` and
    standard deviation ``s`` use ``m + s * normal(key, shape)``.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      shape: the output shape, a tuple of ints or an int (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``dtype`` is not a float.

    Example:
      >>> from funcnet import random
      >>> key, subkey = random.split(random.key(0))
      >>> x = random.normal(subkey, (2, 3))
      >>> x.shape, x.dtype
      ((2, 3), dtype('float32'))
    """
    key = check_key("normal", key)
    shape = canonical_shape("normal", shape)
    return _normal_jit(key, shape, _float_dtype("normal", dtype))


def _truncated_normal_body(key, lower, upper, shape, dtype):
    sqrt2 = np.asarray(np.sqrt(2), dtype)
    lower = _param("truncated_normal", "lower", lower, dtype, get_aval(to_array(lower)).shape)
    upper = _param("truncated_normal", "upper", upper, dtype, get_aval(to_array(upper)).shape)

    def erf_scaled(v):
        return lax.erf(lax.div(v, _np_const(sqrt2, get_aval(v).shape, dtype)))

    u = uniform_body(key, erf_scaled(lower), erf_scaled(upper), shape, dtype, "truncated_normal")
    out = lax.mul(_np_const(sqrt2, shape, dtype), lax.erf_inv(u))
    # Keep the result in the open interval (lower, upper), as jax.
    lo = _broadcast_to("truncated_normal", "lower", stop_gradient(lower), shape)
    hi = _broadcast_to("truncated_normal", "upper", stop_gradient(upper), shape)
    lo = lax.nextafter(lo, _np_const(np.inf, shape, dtype))
    hi = lax.nextafter(hi, _np_const(-np.inf, shape, dtype))
    return lax.min(hi, lax.max(lo, out))


_truncated_normal_jit = jit(_truncated_normal_body, static_argnums=(3, 4))


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal values conditioned on ``lower < x < upper`` (as jax's).

    Drawn by the inverse-CDF method as jax.random.truncated_normal, and clipped into
    the open interval.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      lower: the lower bound, a scalar or an array.
      upper: the upper bound, a scalar or an array.
      shape: the output shape (default: the broadcast shape of ``lower`` and
        ``upper``); the bounds must broadcast to it.
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      An array of ``shape`` and ``dtype`` with values in (lower, upper).

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``dtype`` is not a float.
      ValueError: bounds that do not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> x = random.truncated_normal(random.key(0), -1.0, 1.0, (100,))
      >>> bool((abs(x) < 1).all())
      True
    """
    key = check_key("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    lower, upper = to_array(lower), to_array(upper)
    bshape = _broadcast_shapes("truncated_normal", lower.shape, upper.shape)
    if shape is None:
        shape = bshape
    else:
        shape = canonical_shape("truncated_normal", shape)
        if _broadcast_shapes("truncated_normal", shape, bshape) != shape:
            raise ValueError(
                f"funcnet.random.truncated_normal: lower/upper of shape "
                f"{bshape} do not broadcast to shape {shape}"
            )
    return _truncated_normal_jit(key, lower, upper, shape, dtype)


# --- discrete --------------------------------------------------------------------------


def _bernoulli_body(key, p, shape, mode="low"):
    dtype = get_aval(p).dtype
    zero, one = np.asarray(0.0, dtype), np.asarray(1.0, dtype)
    p = _broadcast_to("bernoulli", "p", p, shape)
    if mode == "high":  # as jax: u1 + u2 * 2**-nmant, twice the resolution
        u = uniform_body(key, zero, one, (2, *shape), dtype, "bernoulli")
        u1 = lax.reshape(lax.slice_in_dim(u, 0, 1, axis=0), shape)
        u2 = lax.reshape(lax.slice_in_dim(u, 1, 2, axis=0), shape)
        u2 = lax.mul(u2, _np_const(2.0 ** -ml_dtypes.finfo(dtype).nmant, shape, dtype))
        return lax.lt(u2, lax.sub(p, u1))
    u = uniform_body(key, zero, one, shape, dtype, "bernoulli")
    return lax.lt(u, p)


_bernoulli_jit = jit(_bernoulli_body, static_argnums=(2, 3))


def bernoulli(key, p=0.5, shape=None, mode="low"):
    """Random booleans, True with probability ``p`` (as jax.random.bernoulli).

    Computed as ``uniform(key, shape, p.dtype) < p``, as jax.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      p: the probability of True, a float scalar or a float array broadcastable to
        ``shape`` (default 0.5; a Python float is float32).
      shape: the output shape (default ``p``'s shape).
      mode: "low" (default: one uniform per value) or "high" (two uniforms, for
        probabilities below the uniform's resolution), as jax.

    Returns:
      A boolean array of ``shape``.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``p`` is not a float.
      ValueError: ``p`` does not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> random.bernoulli(random.key(0), 0.5, (4,)).tolist()
      [False, False, True, True]
    """
    key = check_key("bernoulli", key)
    p = to_array(p)
    if not dtypes.is_float(p.dtype):
        raise TypeError(
            f"funcnet.random.bernoulli: p must be a float array, got {get_aval(p).str_short()}"
        )
    shape = p.shape if shape is None else canonical_shape("bernoulli", shape)
    return _bernoulli_jit(key, p, shape, _check_mode("bernoulli", mode))


def gumbel_body(key, shape, dtype, mode="low"):
    finfo = ml_dtypes.finfo(dtype)
    tiny = np.asarray(finfo.tiny, dtype)
    if mode == "high":  # as jax: a second uniform refines values below 1/2
        u = uniform_body(
            key, np.asarray(0.0, dtype), np.asarray(1.0, dtype), (2, *shape), dtype, "gumbel"
        )
        high = lax.reshape(lax.slice_in_dim(u, 0, 1, axis=0), shape)
        low = lax.reshape(lax.slice_in_dim(u, 1, 2, axis=0), shape)
        refined = lax.add(
            lax.add(high, lax.mul(_np_const(2.0**-finfo.nmant, shape, dtype), low)),
            _np_const(tiny, shape, dtype),
        )
        x = lax.select(lax.ge(high, _np_const(0.5, shape, dtype)), high, refined)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = uniform_body(key, tiny, np.asarray(1.0, dtype), shape, dtype, "gumbel")
    return lax.neg(lax.log(lax.neg(lax.log(u))))


_gumbel_jit = jit(gumbel_body, static_argnums=(1, 2, 3))


def gumbel(key, shape=(), dtype=None, mode="low"):
    """Standard Gumbel values, ``-log(-log(u))`` (as jax.random.gumbel, "low" mode).

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      shape: the output shape, a tuple of ints or an int (default ``()``).
      dtype: a float dtype (default float32; float64 with x64).
      mode: "low" (default) or "high" (a second uniform refines the values below 1/2,
        for accurate tails), as jax.

    Returns:
      An array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``dtype`` is not a float.

    Example:
      >>> from funcnet import random
      >>> random.gumbel(random.key(0), (2, 3)).shape
      (2, 3)
    """
    key = check_key("gumbel", key)
    shape = canonical_shape("gumbel", shape)
    return _gumbel_jit(key, shape, _float_dtype("gumbel", dtype), _check_mode("gumbel", mode))


def _categorical_body(key, logits, axis, shape, replace=True, mode="low"):
    batch_shape = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    prefix = shape[: len(shape) - len(batch_shape)]
    if not replace:  # Gumbel top-k, as jax: the k largest of logits + gumbel
        g = lax.add(logits, gumbel_body(key, logits.shape, logits.dtype, mode))
        k = math.prod(prefix)
        g = fnp.moveaxis(g, axis, -1)
        idx = lax.broadcasted_iota(dtypes.default_int(), g.shape, g.ndim - 1)
        _, order = lax.sort((lax.neg(g), idx), dimension=g.ndim - 1, is_stable=True, num_keys=1)
        top = lax.slice_in_dim(order, 0, k, axis=g.ndim - 1)  # batch_shape + (k,)
        top = lax.transpose(top, (top.ndim - 1, *range(top.ndim - 1)))
        return lax.reshape(top, shape)
    gshape = list(shape[len(shape) - len(batch_shape) :])
    gshape.insert(axis, logits.shape[axis])
    gshape = tuple(prefix) + tuple(gshape)
    g = gumbel_body(key, gshape, logits.dtype, mode)
    out_axis = len(prefix) + axis
    return lax.argmax(
        lax.add(g, _broadcast_to("categorical", "logits", logits, gshape)),
        out_axis,
        dtypes.default_int(),
    )


_categorical_jit = jit(_categorical_body, static_argnums=(2, 3, 4, 5))


def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Class indices drawn from ``softmax(logits)`` (as jax.random.categorical).

    Uses the Gumbel-max trick, as jax: ``argmax(logits + gumbel)`` along ``axis``.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      logits: unnormalized log-probabilities, a float array with at least one axis.
      axis: the axis of the classes (default -1).
      shape: the output shape (default: ``logits.shape`` without ``axis``); a longer
        ``shape`` draws several samples per distribution (as leading axes).
      replace: draw with replacement (default True); False draws distinct classes
        per distribution with the Gumbel top-k trick (as jax).
      mode: None/"low" (default) or "high": the precision of the Gumbel noise.

    Returns:
      An int32 array (int64 with x64) of ``shape`` holding class indices.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``logits`` are not floats.
      ValueError: scalar logits, ``axis`` out of range, or a ``shape`` that does not
        broadcast with the batch shape of ``logits``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import random
      >>> logits = fnp.log(fnp.array([0.1, 0.2, 0.7]))
      >>> random.categorical(random.key(0), logits, shape=(5,)).tolist()
      [1, 2, 2, 1, 2]
    """
    key = check_key("categorical", key)
    logits = to_array(logits)
    if not dtypes.is_float(logits.dtype):
        raise TypeError(
            f"funcnet.random.categorical: logits must be floats, got {get_aval(logits).str_short()}"
        )
    if logits.ndim == 0:
        raise ValueError("funcnet.random.categorical: logits must have at least one axis")
    if not -logits.ndim <= axis < logits.ndim:
        raise ValueError(
            f"funcnet.random.categorical: axis {axis} is out of range for "
            f"logits of shape {logits.shape}"
        )
    axis %= logits.ndim
    batch_shape = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape("categorical", shape)
        if _broadcast_shapes("categorical", shape, batch_shape) != shape:
            raise ValueError(
                f"funcnet.random.categorical: shape {shape} is not "
                f"broadcast-compatible with the batch shape {batch_shape} of "
                f"logits {logits.shape} (axis {axis})"
            )
    mode = _check_mode("categorical", mode)
    if not replace:
        k = math.prod(shape[: len(shape) - len(batch_shape)])
        if k > logits.shape[axis]:
            raise ValueError(
                f"funcnet.random.categorical: {k} samples without replacement exceed "
                f"the {logits.shape[axis]} categories"
            )
    return _categorical_jit(key, logits, axis, shape, bool(replace), mode)


def _clip_convert(x, dtype):
    """Convert integer x to integer `dtype`, clipping to its range instead of wrapping."""
    src = get_aval(x).dtype
    lo = max(np.iinfo(dtype).min, np.iinfo(src).min)
    hi = min(np.iinfo(dtype).max, np.iinfo(src).max)
    shape = get_aval(x).shape
    x = lax.min(lax.max(x, _np_const(lo, shape, src)), _np_const(hi, shape, src))
    return x if src == dtype else lax.convert_element_type(x, dtype)


def _randint_body(key, minval, maxval, shape, dtype):
    """jax's algorithm: 2 * nbits random bits per value reduced modulo the span."""
    minval, maxval = to_array(minval), to_array(maxval)
    int_dtype = dtypes.default_int()
    if not dtypes.is_int(minval.dtype):
        minval = lax.convert_element_type(minval, int_dtype)
    if not dtypes.is_int(maxval.dtype):
        maxval = lax.convert_element_type(maxval, int_dtype)
    maxval = _broadcast_to("randint", "maxval", maxval, shape)
    minval = _broadcast_to("randint", "minval", minval, shape)
    src = get_aval(maxval).dtype
    dmax = np.asarray(min(int(np.iinfo(dtype).max), int(np.iinfo(src).max)), src)
    maxval_out_of_range = lax.gt(maxval, _np_const(dmax, shape, src))
    minval = _clip_convert(minval, dtype)
    maxval = _clip_convert(maxval, dtype)
    nbits = np.iinfo(dtype).bits
    k1, k2 = split_keys(key, 2)
    higher, lower = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    udtype = _UINT[nbits]
    one = _np_const(1, shape, udtype)
    span = lax.convert_element_type(lax.sub(maxval, minval), udtype)
    span = lax.select(lax.le(maxval, minval), one, span)
    span = lax.select(
        lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)), lax.add(span, one), span
    )
    multiplier = lax.rem(_np_const(2 ** (nbits // 2), shape, udtype), span)
    multiplier = lax.rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(lax.rem(higher, span), multiplier), lax.rem(lower, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


_randint_jit = jit(_randint_body, static_argnums=(3, 4))


def randint(key, shape, minval, maxval, dtype=None):
    """Integers uniform in ``[minval, maxval)`` (as jax.random.randint).

    jax's algorithm: a modulus of 2 * nbits random bits, unbiased for power-of-two
    spans and with a bias of about ``span / 2**nbits`` otherwise. Bounds outside the
    dtype's range are clipped to it.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      shape: the output shape, a tuple of ints or an int.
      minval: the inclusive lower bound, an int or an integer array broadcastable to
        ``shape``.
      maxval: the exclusive upper bound, likewise; ``maxval <= minval`` gives
        ``minval``.
      dtype: an integer dtype (default int32; int64 with x64).

    Returns:
      An array of ``shape`` and ``dtype``, equal to jax's.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``dtype`` is not an integer dtype.
      ValueError: bounds that do not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> random.randint(random.key(0), (5,), 0, 10).tolist()
      [9, 0, 2, 3, 1]
    """
    key = check_key("randint", key)
    shape = canonical_shape("randint", shape)
    dtype = dtypes.default_int() if dtype is None else dtypes.canonicalize(dtype)
    if not dtypes.is_int(dtype):
        raise TypeError(f"funcnet.random.randint: dtype must be an integer dtype, got {dtype}")
    minval, maxval = to_array(minval), to_array(maxval)
    for what, v in (("minval", minval), ("maxval", maxval)):
        if _broadcast_shapes("randint", shape, v.shape) != shape:
            raise ValueError(
                f"funcnet.random.randint: {what} of shape {v.shape} does not "
                f"broadcast to shape {shape}"
            )
    info = np.iinfo(dtype)
    if info.bits >= 32:
        return _randint_jit(key, minval, maxval, shape, dtype)
    # As jax: narrow integers are drawn as int32 (less bias), then converted.
    i32 = dtypes.int32
    minval = fnp.clip(fnp.astype(minval, i32), int(info.min), int(info.max))
    maxval = fnp.clip(fnp.astype(maxval, i32), int(info.min), int(info.max) + 1)
    return fnp.astype(_randint_jit(key, minval, maxval, shape, i32), dtype)


# --- permutations and choice ----------------------------------------------------------


def _shuffle(key, x, axis):
    """Sort by fresh random 32-bit keys, repeated until collisions are negligible
    (as jax: ceil(3 * ln(size) / ln(2**32 - 1)) rounds)."""
    shape = get_aval(x).shape
    size = math.prod(shape)
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(2**32 - 1)))
    for _ in range(rounds):
        key, subkey = split_keys(key, 2)
        sort_keys = random_bits(subkey, 32, shape)
        _, x = lax.sort((sort_keys, x), dimension=axis, is_stable=True, num_keys=1)
    return x


def _permutation_body(key, x, axis, independent):
    if independent or len(get_aval(x).shape) == 1:
        return _shuffle(key, x, axis)
    n = get_aval(x).shape[axis]
    ind = _shuffle(key, lax.iota(dtypes.default_int(), n), 0)
    return fnp.take(x, ind, axis)


_permutation_jit = jit(_permutation_body, static_argnums=(2, 3))
_arange_shuffle_jit = jit(
    lambda key, n: _shuffle(key, lax.iota(dtypes.default_int(), n), 0), static_argnums=1
)


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``range(x)`` or of an array along an axis.

    Same algorithm and result as jax.random.permutation (sort by random bits).

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      x: an int ``n`` (permute ``arange(n)``) or an array with at least one axis.
      axis: the axis to permute (default 0).
      independent: shuffle every slice along ``axis`` independently instead of
        permuting whole slices the same way (default False).

    Returns:
      For an int, an int32 (int64 with x64) array of shape ``(n,)``; for an array, an
      array of its shape and dtype.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), or ``x`` is a scalar array.
      ValueError: a negative int or ``axis`` out of range.

    Example:
      >>> from funcnet import random
      >>> random.permutation(random.key(0), 5).tolist()
      [0, 1, 4, 3, 2]
    """
    key = check_key("permutation", key)
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        if x < 0:
            raise ValueError(f"funcnet.random.permutation: x must be a non-negative int, got {x}")
        return _arange_shuffle_jit(key, int(x))
    x = to_array(x)
    if x.ndim == 0:
        raise TypeError(
            f"funcnet.random.permutation: x must be an int or an array with at "
            f"least one axis, got {get_aval(x).str_short()}"
        )
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"funcnet.random.permutation: axis {axis} is out of range for shape {x.shape}"
        )
    return _permutation_jit(key, x, axis % x.ndim, bool(independent))


def _choice_body(key, arr, p, shape, n_inputs, replace, axis, mode="low"):
    n_draws = math.prod(shape)
    int_dtype = dtypes.default_int()
    if p is None and not replace:  # a prefix of a permutation
        source = lax.iota(int_dtype, n_inputs) if arr is None else arr
        ax = 0 if arr is None else axis
        perm = _permutation_body(key, source, ax, False)
        pshape = get_aval(perm).shape
        limit = pshape[:ax] + (n_draws,) + pshape[ax + 1 :]
        return lax.reshape(
            lax.slice(perm, (0,) * len(pshape), limit), pshape[:ax] + shape + pshape[ax + 1 :]
        )
    if p is None:
        ind = _randint_body(
            key, np.asarray(0, int_dtype), np.asarray(n_inputs, int_dtype), shape, int_dtype
        )
    elif replace:
        dtype = get_aval(p).dtype
        p_cuml = fnp.cumsum(p)
        total = lax.reshape(lax.slice(p_cuml, (n_inputs - 1,), (n_inputs,)), ())
        u = uniform_body(
            key, np.asarray(0.0, dtype), np.asarray(1.0, dtype), shape, dtype, "choice"
        )
        r = lax.mul(
            lax.broadcast_in_dim(total, shape, ()), lax.sub(_np_const(1.0, shape, dtype), u)
        )
        # searchsorted(p_cuml, r, side='left') = how many cumulative sums are < r
        full = shape + (n_inputs,)
        less = lax.lt(
            lax.broadcast_in_dim(p_cuml, full, (len(shape),)),
            lax.broadcast_in_dim(r, full, tuple(range(len(shape)))),
        )
        ind = lax.reduce_sum(lax.convert_element_type(less, int_dtype), (len(shape),))
    else:  # Gumbel top-k; a stable sort of -g keeps the lower index first on ties
        g = lax.add(gumbel_body(key, (n_inputs,), get_aval(p).dtype, mode), lax.log(p))
        _, order = lax.sort(
            (lax.neg(g), lax.iota(int_dtype, n_inputs)), dimension=0, is_stable=True, num_keys=1
        )
        ind = lax.reshape(lax.slice(order, (0,), (n_draws,)), shape)
    return ind if arr is None else fnp.take(arr, ind, axis)


_choice_jit = jit(_choice_body, static_argnums=(3, 4, 5, 6, 7))


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Random samples from ``a`` along ``axis`` (as jax.random.choice).

    Without ``p``: randint indices (``replace=True``) or a prefix of a permutation.
    With ``p``: inverse-CDF search (``replace=True``) or the Gumbel top-k trick
    (``replace=False``), as jax.

    Args:
      key: a PRNG key, a uint32 array of shape (2,) (from ``key``, ``split`` or
        ``fold_in``); map over a batch of keys with ``fn.vmap``.
      a: an int ``n`` (sample from ``arange(n)``) or an array with at least one axis.
      shape: the shape of the draws, a tuple (an int is refused; default ``()``).
      replace: draw with replacement (default True).
      p: optional probabilities of the ``a.shape[axis]`` entries, a 1-D array (not
        necessarily normalized).
      axis: the axis of ``a`` to sample along (default 0).
      mode: None/"low" (default) or "high": the precision of the Gumbel noise used
        with ``p`` and ``replace=False``.

    Returns:
      For an int ``a``, indices of ``shape`` (int32; int64 with x64); for an array,
      ``a``'s slices with ``axis`` replaced by ``shape``.

    Raises:
      TypeError: ``key`` is not one key (a jax typed key, a batch of keys, another
        dtype or shape), ``shape`` is an int or ``a`` is a scalar array.
      ValueError: an empty ``a``, more draws than entries without replacement, ``p``
        of the wrong shape, or ``axis`` out of range.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import random
      >>> random.choice(random.key(0), 5, (3,), replace=False).tolist()
      [0, 1, 4]
      >>> p = fnp.array([0.1, 0.1, 0.8])
      >>> random.choice(random.key(0), fnp.array([10, 20, 30]), (4,), p=p).tolist()
      [10, 10, 30, 30]
    """
    key = check_key("choice", key)
    if isinstance(shape, (int, np.integer)):
        raise TypeError(f"funcnet.random.choice: shape must be a tuple, got {shape!r}")
    shape = canonical_shape("choice", shape)
    if isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)):
        arr, n_inputs = None, int(a)
    else:
        arr = to_array(a)
        if arr.ndim == 0:
            raise TypeError(
                "funcnet.random.choice: a must be an int or an array with at "
                f"least one axis, got {get_aval(arr).str_short()}"
            )
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(
                f"funcnet.random.choice: axis {axis} is out of range for shape {arr.shape}"
            )
        axis %= arr.ndim
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        dtype = dtypes.default_int() if arr is None else arr.dtype
        out = shape if arr is None else arr.shape[:axis] + shape + arr.shape[axis + 1 :]
        return fnp.zeros(out, dtype)
    if n_inputs <= 0:
        raise ValueError("funcnet.random.choice: a must be non-empty unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(
            f"funcnet.random.choice: cannot take {n_draws} samples from "
            f"{n_inputs} entries without replacement"
        )
    if p is not None:
        p = to_array(p)
        if not dtypes.is_float(p.dtype):
            p = fnp.astype(p, dtypes.default_float())
        if p.shape != (n_inputs,):
            raise ValueError(
                f"funcnet.random.choice: p must be None or a 1-D array of "
                f"length {n_inputs} (a.shape[axis]), got shape {p.shape}"
            )
    mode = _check_mode("choice", mode)
    return _choice_jit(key, arr, p, shape, n_inputs, bool(replace), axis, mode)
