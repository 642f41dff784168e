"""What every augmentation shares: argument checks and the per-example rule.

The rule: an image is ``(H, W, C)``, a batch ``(N, H, W, C)``. A per-image augmentation is
written once for one image (its *body*); on a batch it splits the key into ``N`` keys with
``random.split(key, N)`` and maps the body over (keys, images) with ``vmap``. So
``f(key, batch)`` equals ``vmap(f)(random.split(key, N), batch)`` exactly, and every
example draws its own randomness.
"""

import operator

import numpy as np

from funcnet import random
from funcnet.core import dtypes
from funcnet.core.array import Array
from funcnet.core.trace import Tracer, get_aval
from funcnet.numpy import asarray
from funcnet.transforms.jit import jit
from funcnet.transforms.vmap import vmap

_U32 = np.dtype(np.uint32)


def prefix(name):
    return f"funcnet.data.augment.{name}"


def shape_of(x):
    return tuple(get_aval(x).shape)


def dtype_of(x):
    return np.dtype(get_aval(x).dtype)


def as_array(name, what, x):
    """An Array or tracer stays; NumPy arrays and lists become Arrays."""
    if isinstance(x, (Array, Tracer)):
        return x
    try:
        return asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{prefix(name)}: {what} must be an array, got {type(x).__name__}") from err


def check_key(name, key):
    """One PRNG key (uint32[2]); a batch of keys is a mistake worth naming."""
    key = as_array(name, "key", key)
    shape, dtype = shape_of(key), dtype_of(key)
    if shape != (2,) or dtype != _U32:
        hint = "make one with funcnet.random.key(seed)"
        if dtype == _U32 and len(shape) == 2 and shape[-1] == 2:
            hint = "pass ONE key: the function splits it into one key per example itself"
        raise TypeError(
            f"{prefix(name)}: key must be a uint32 array of shape (2,), got "
            f"{dtypes.short_name(dtype)}{list(shape)} ({hint})"
        )
    return key


def check_images(name, x, *, batch_only=False, floating=False):
    """`x` as an array of rank 3 (one image HWC) or 4 (a batch NHWC)."""
    x = as_array(name, "x", x)
    shape = shape_of(x)
    ranks = (4,) if batch_only else (3, 4)
    if len(shape) not in ranks:
        want = "a batch of images (N, H, W, C)"
        if not batch_only:
            want = "an image (H, W, C) or " + want
        raise ValueError(f"{prefix(name)}: x must be {want}, got shape {shape}")
    if floating:
        check_floating(name, x)
    elif dtypes.is_complex(dtype_of(x)) or not (
        dtypes.is_float(dtype_of(x)) or dtypes.is_int(dtype_of(x)) or dtypes.is_bool(dtype_of(x))
    ):
        raise TypeError(
            f"{prefix(name)}: x must be a real (float, integer or bool) array, "
            f"got dtype {dtype_of(x)}"
        )
    return x


def check_floating(name, x, what="x"):
    if not dtypes.is_float(dtype_of(x)):
        raise TypeError(
            f"{prefix(name)}: {what} must have a floating dtype (convert images with "
            f"x.astype('float32') / 255), got {dtype_of(x)}"
        )


def pair(name, what, value, *, minimum=0):
    """An int or a pair of ints (height, width), each at least `minimum`."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, (int, np.integer)):
            out = (operator.index(value),) * 2
        else:
            out = tuple(operator.index(v) for v in value)
            if isinstance(value, str) or len(out) != 2:
                raise TypeError
    except TypeError:
        raise TypeError(
            f"{prefix(name)}: {what} must be an int or a pair of ints (height, width), "
            f"got {value!r}"
        ) from None
    if min(out) < minimum:
        raise ValueError(f"{prefix(name)}: {what} must be at least {minimum}, got {value!r}")
    return out


def number(name, what, value, *, low=None, high=None, low_open=False):
    """A real scalar parameter. A Python or concrete number is range-checked; a traced one
    (a schedule inside jit) is passed through unchecked."""
    if isinstance(value, Tracer):
        if shape_of(value) != ():
            raise ValueError(
                f"{prefix(name)}: {what} must be a scalar, got shape {shape_of(value)}"
            )
        return value
    if isinstance(value, bool) or (
        not isinstance(value, (int, float, np.integer, np.floating, np.ndarray, Array))
    ):
        raise TypeError(f"{prefix(name)}: {what} must be a real number, got {value!r}")
    v = np.asarray(value)
    if v.shape != () or not (dtypes.is_float(v.dtype) or dtypes.is_int(v.dtype)):
        raise ValueError(f"{prefix(name)}: {what} must be a real scalar, got {value!r}")
    v = float(v)
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and v > high
    if too_low or too_high or np.isnan(v):
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        interval = ("(" if low_open else "[") + f"{lo}, {hi}]"
        raise ValueError(f"{prefix(name)}: {what} must be in {interval}, got {value!r}")
    return v


def clip_range(name, clip):
    """None or a (low, high) pair of floats with low <= high."""
    if clip is None:
        return None
    try:
        low, high = (float(c) for c in clip)
    except (TypeError, ValueError):
        raise TypeError(
            f"{prefix(name)}: clip must be None or a pair (low, high), got {clip!r}"
        ) from None
    if not low <= high:
        raise ValueError(f"{prefix(name)}: clip must have low <= high, got {clip!r}")
    return (low, high)


def _run(body, key, x, dynamic, static):
    if len(shape_of(x)) == 3:
        return body(key, x, dynamic, static)
    keys = random.split(key, shape_of(x)[0])
    return vmap(lambda k, image: body(k, image, dynamic, static))(keys, x)


# One compiled program per (augmentation, static options, shapes): eager calls cost one
# dispatch, not one per operation. Inside the user's jit this is a nested jit equation.
_run_jit = jit(_run, static_argnums=(0, 4))


def per_example(body, key, x, dynamic=(), static=()):
    """`body(key, image, dynamic, static)` on one image, or mapped over a batch with one
    key per example (``random.split(key, N)``)."""
    return _run_jit(body, key, x, tuple(dynamic), tuple(static))
