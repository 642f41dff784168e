"""Array creation: zeros, ones, full, arange, linspace, eye, *_like.

Constant-shaped arrays are built from primitives (a broadcast scalar, iota), so
under jit they are part of the program rather than large captured constants.
"""

import math
import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import (
    _float_args,
    _select,
    asarray,
    astype,
    broadcast_to,
    check_arraylike,
    log10,
    place,
    power,
    promote,
    sign,
)
from funcnet.numpy._shape import concatenate, moveaxis


def _shape(shape):
    if isinstance(shape, int) or (hasattr(shape, "__index__") and not isinstance(shape, tuple)):
        return (operator.index(shape),)
    shape = tuple(operator.index(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimensions are not allowed: {shape}")
    return shape


def full(shape, fill_value, dtype=None, *, device=None):
    """An array of `shape` filled with fill_value (broadcast), as jnp.full.

    Args:
      shape: an int or a sequence of ints.
      fill_value: a scalar or an array broadcastable to `shape`.
      dtype: the result's dtype (default: fill_value's; the default int or float dtype
        for a Python scalar).
      device: where to place the result (default: the default device).

    Returns:
      An array of `shape` and dtype `dtype`, every element fill_value (converted).

    Raises:
      ValueError: for a negative dimension, or a fill_value that does not broadcast.

    Example:
      >>> fnp.full((2,), 7)
      Array([7, 7], dtype=int32)
    """
    check_arraylike("full", fill_value)
    return place(_full(shape, fill_value, dtype), device)


def _full(shape, fill_value, dtype=None):
    shape = _shape(shape)
    if dtype is None:
        if hasattr(fill_value, "dtype"):
            dtype = fill_value.dtype
        else:
            dtype = (
                dtypes.scalar_dtype(fill_value)
                if dtypes.is_python_scalar(fill_value)
                else np.asarray(fill_value).dtype
            )
    dtype = dtypes.canonicalize(dtype)
    if (
        hasattr(fill_value, "shape")
        and fill_value.shape != ()
        and not isinstance(fill_value, np.generic)
    ):
        return broadcast_to(astype(fill_value, dtype), shape)
    if isinstance(fill_value, (int, float, bool, np.generic)):
        value = np.asarray(fill_value, dtype)[()]
    else:
        value = astype(fill_value, dtype)
    return lax.broadcast_in_dim(value, shape, ())


def zeros(shape, dtype=None, *, device=None):
    """An array of zeros, as jnp.zeros.

    Args:
      shape: an int or a sequence of ints.
      dtype: the result's dtype (default: the default float dtype, float32; float64
        with x64 enabled).
      device: where to place the result (default: the default device).

    Returns:
      An array of `shape` and dtype `dtype`, all zeros.

    Raises:
      ValueError: for a negative dimension.

    Example:
      >>> fnp.zeros((2, 3)).shape
      (2, 3)
      >>> fnp.zeros(2, fnp.int32)
      Array([0, 0], dtype=int32)
    """
    return place(_full(shape, 0, dtype or dtypes.default_float()), device)


def ones(shape, dtype=None, *, device=None):
    """An array of ones, as jnp.ones.

    Args:
      shape: an int or a sequence of ints.
      dtype: the result's dtype (default: the default float dtype, float32; float64
        with x64 enabled).
      device: where to place the result (default: the default device).

    Returns:
      An array of `shape` and dtype `dtype`, all ones.

    Raises:
      ValueError: for a negative dimension.

    Example:
      >>> fnp.ones(3)
      Array([1., 1., 1.], dtype=float32)
    """
    return place(_full(shape, 1, dtype or dtypes.default_float()), device)


def empty(shape, dtype=None, *, device=None):
    """An array of zeros, as jnp.empty: funcnet has no uninitialized memory (jax
    neither).

    Args:
      shape: an int or a sequence of ints.
      dtype: the result's dtype (default: the default float dtype).
      device: where to place the result (default: the default device).

    Returns:
      fnp.zeros(shape, dtype).
    """
    return zeros(shape, dtype, device=device)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    """An array with a's shape and dtype (unless given) filled with fill_value, as
    jnp.full_like.

    Args:
      a: the array (or scalar) whose shape and dtype are taken.
      fill_value: a scalar or an array broadcastable to the shape.
      dtype: the result's dtype (default: a's).
      shape: the result's shape (default: a's).
      device: where to place the result (default: the default device).

    Returns:
      An array of that shape and dtype, every element fill_value (converted); weakly
      typed when `a` is and no dtype is given, as jax.

    Example:
      >>> fnp.full_like(fnp.arange(3), 2.7)
      Array([2, 2, 2], dtype=int32)
    """
    check_arraylike("full_like", a, fill_value)
    a = asarray(a)
    out = full(a.shape if shape is None else shape, fill_value, dtype or a.dtype, device=device)
    if dtype is None and a.aval.weak_type:
        out = lax.convert_element_type(out, out.dtype, weak_type=True)
    return out


def zeros_like(a, dtype=None, shape=None, *, device=None):
    """Zeros with a's shape and dtype (unless given), as jnp.zeros_like.

    Args:
      a: the array (or scalar) whose shape and dtype are taken.
      dtype: the result's dtype (default: a's).
      shape: the result's shape (default: a's).
      device: where to place the result (default: the default device).

    Returns:
      An array of that shape and dtype, all zeros.
    """
    check_arraylike("zeros_like", a)
    return full_like(a, 0, dtype, shape, device=device)


def ones_like(a, dtype=None, shape=None, *, device=None):
    """Ones with a's shape and dtype (unless given), as jnp.ones_like.

    Args:
      a: the array (or scalar) whose shape and dtype are taken.
      dtype: the result's dtype (default: a's).
      shape: the result's shape (default: a's).
      device: where to place the result (default: the default device).

    Returns:
      An array of that shape and dtype, all ones.
    """
    check_arraylike("ones_like", a)
    return full_like(a, 1, dtype, shape, device=device)


def empty_like(prototype, dtype=None, shape=None, *, device=None):
    """Zeros with prototype's shape and dtype (unless given), as jnp.empty_like (no
    uninitialized memory here).

    Args:
      prototype: the array (or scalar) whose shape and dtype are taken.
      dtype: the result's dtype (default: prototype's).
      shape: the result's shape (default: prototype's).
      device: where to place the result (default: the default device).

    Returns:
      fnp.zeros_like(prototype, dtype, shape).
    """
    check_arraylike("empty_like", prototype)
    return zeros_like(prototype, dtype, shape, device=device)


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values in [start, stop), as jnp.arange.

    The bounds set the result's length, so they must be concrete (Python or NumPy
    numbers, or concrete arrays; not traced values under jit).

    Args:
      start: the first value; with `stop` None, the stop (and the start is 0).
      stop: the end, excluded (default: see start).
      step: the spacing (default 1; not 0).
      dtype: the result's dtype (default: the default float dtype if any bound is a
        float, else the default int dtype).
      device: where to place the result (default: the default device).

    Returns:
      A 1-d array of ceil((stop - start) / step) values (none if that is negative).
      Float values are computed on the host in float64, like NumPy's, then converted.

    Raises:
      TypeError: for a bound that is not a concrete number.
      ValueError: for step 0.

    Example:
      >>> fnp.arange(5)
      Array([0, 1, 2, 3, 4], dtype=int32)
      >>> fnp.arange(1, 10, 3).tolist()
      [1, 4, 7]
      >>> fnp.arange(0.0, 1.0, 0.25).tolist()
      [0.0, 0.25, 0.5, 0.75]
    """
    return place(_arange(start, stop, step, dtype), device)


def _arange(start, stop, step, dtype):
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    for v in (start, stop, step):
        if not isinstance(v, (int, float, np.generic, np.ndarray)) and not hasattr(v, "__float__"):
            raise TypeError("arange bounds must be concrete numbers")
    if dtype is None:
        kinds = [start, stop, step]
        dtype = (
            dtypes.default_float()
            if any(
                isinstance(v, float) or (hasattr(v, "dtype") and dtypes.is_float(v.dtype))
                for v in kinds
            )
            else dtypes.default_int()
        )
    dtype = dtypes.canonicalize(dtype)
    start, stop, step = (v.item() if hasattr(v, "item") else v for v in (start, stop, step))
    if step == 0:
        raise ValueError("arange step must not be zero")
    n = max(0, math.ceil((stop - start) / step))
    if dtypes.is_int(dtype) and all(isinstance(v, int) for v in (start, step)):
        out = lax.iota(dtype, n)
        if step != 1:
            out = lax.mul(out, lax.broadcast_in_dim(np.asarray(step, dtype)[()], (n,), ()))
        if start != 0:
            out = lax.add(out, lax.broadcast_in_dim(np.asarray(start, dtype)[()], (n,), ()))
        return out
    # Floats: computed in float64 on the host like NumPy, so the values match exactly.
    return asarray(np.arange(start, stop, step).astype(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """num evenly spaced values from start to stop, as jnp.linspace.

    Args:
      start: the first value: a scalar or an array.
      stop: the last value (or the end, excluded, when endpoint is False); array bounds
        broadcast together and give one line per element.
      num: the number of values (not negative).
      endpoint: whether stop is the last value.
      retstep: also return the spacing.
      dtype: the result's dtype (default: the bounds' promoted float dtype; float32 for
        integer bounds).
      axis: where the new axis of the values goes in the result (array bounds only).
      device: where to place the result (default: the default device).

    Returns:
      An array of shape (num,) for scalar bounds; for array bounds, the bounds'
      broadcast shape with a new axis of length num at `axis`. With retstep, the tuple
      (values, step), step an array.

    Raises:
      ValueError: for a negative num.

    Example:
      >>> fnp.linspace(0.0, 1.0, 5).tolist()
      [0.0, 0.25, 0.5, 0.75, 1.0]
      >>> fnp.linspace(fnp.array([0.0, 10.0]), fnp.array([1.0, 20.0]), 3).tolist()
      [[0.0, 10.0], [0.5, 15.0], [1.0, 20.0]]
    """
    check_arraylike("linspace", start, stop)
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    out, step = _linspace(start, stop, num, endpoint, dtype)
    if axis != 0 and out.ndim > 1:
        out = moveaxis(out, 0, axis)
    out = place(out, device)
    return (out, step) if retstep else out


def _linspace(start, stop, num, endpoint, dtype):
    if dtype is None:  # floats keep their dtype (bfloat16 stays); anything else: float32
        dtype = promote(start, stop)[0].dtype
        dtype = dtype if dtypes.is_float(dtype) else dtypes.default_float()
    dtype = dtypes.canonicalize(dtype)
    if (
        np.ndim(start)
        or np.ndim(stop)
        or not all(isinstance(v, (int, float, np.generic)) for v in (start, stop))
    ):
        return _linspace_traced(start, stop, num, endpoint, dtype)
    div = (num - 1) if endpoint else num
    step = np.asarray((stop - start) / div if div > 0 else np.nan, dtype)
    out = asarray(np.linspace(start, stop, num, endpoint=endpoint).astype(dtype))
    return out, asarray(step)


def _linspace_traced(start, stop, num, endpoint, dtype):
    """start + (stop - start) * i / div, on arrays: one line per element of the broadcast
    bounds, stacked along a new leading axis."""
    start, stop = promote(start, stop)
    start, stop = astype(start, dtype), astype(stop, dtype)
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    start, stop = broadcast_to(start, shape), broadcast_to(stop, shape)
    div = (num - 1) if endpoint else num
    i = lax.broadcasted_iota(dtype, (num,) + shape, 0)
    step = (stop - start) / div if div > 0 else stop - start
    out = start + i * step
    if endpoint and num > 1:
        last = lax.broadcast_in_dim(stop, (1,) + shape, tuple(range(1, len(shape) + 1)))
        out = concatenate([lax.slice(out, (0,) * out.ndim, (num - 1,) + shape), last], 0)
    return out, step


def eye(N, M=None, k=0, dtype=None, *, device=None):
    """An N x M array with ones on the k-th diagonal and zeros elsewhere, as jnp.eye.

    Args:
      N: the number of rows.
      M: the number of columns (default: N).
      k: the diagonal: 0 the main one, positive above it, negative below.
      dtype: the result's dtype (default: the default float dtype).
      device: where to place the result (default: the default device).

    Returns:
      An array of shape (N, M) and dtype `dtype`.

    Example:
      >>> fnp.eye(2, 3, k=1).tolist()
      [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    N = operator.index(N)
    M = N if M is None else operator.index(M)
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    if k:
        rows = lax.add(rows, lax.broadcast_in_dim(np.int32(k), (N, M), ()))
    return place(lax.convert_element_type(lax.eq(rows, cols), dtype), device)


def identity(n, dtype=None, *, device=None):
    """The n x n identity matrix, as jnp.identity.

    Args:
      n: the number of rows and columns.
      dtype: the result's dtype (default: the default float dtype).
      device: where to place the result (default: the default device).

    Returns:
      An array of shape (n, n) and dtype `dtype`: fnp.eye(n).
    """
    return eye(n, dtype=dtype, device=device)


def tri(N, M=None, k=0, dtype=None):
    """An N x M array with ones at and below the k-th diagonal, zeros above, as jnp.tri.

    Args:
      N: the number of rows.
      M: the number of columns (default: N).
      k: the diagonal: 0 the main one, positive above it, negative below.
      dtype: the result's dtype (default: the default float dtype).

    Returns:
      An array of shape (N, M) and dtype `dtype`.

    Example:
      >>> fnp.tri(3, dtype=fnp.int32).tolist()
      [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    N = operator.index(N)
    M = N if M is None else operator.index(M)
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    rows = lax.add(rows, lax.broadcast_in_dim(np.int32(k), (N, M), ()))
    return lax.convert_element_type(lax.ge(rows, cols), dtype)


def _check_matrix(name, m):
    if m.ndim < 2:
        raise ValueError(
            f"{name} requires an array of at least two dimensions, got shape {m.shape}"
        )


def tril(m, k=0):
    """m with the entries above the k-th diagonal of its last two axes zeroed, as
    jnp.tril.

    Args:
      m: an array of at least two dimensions.
      k: the diagonal: 0 the main one, positive above it, negative below.

    Returns:
      An array of m's shape and dtype.

    Raises:
      ValueError: for an array of fewer than two dimensions.
    """
    check_arraylike("tril", m)
    m = asarray(m)
    _check_matrix("tril", m)
    mask = tri(m.shape[-2], m.shape[-1], k, dtype=dtypes.bool_)
    return _select(mask, m, zeros_like(m))


def triu(m, k=0):
    """m with the entries below the k-th diagonal of its last two axes zeroed, as
    jnp.triu.

    Args:
      m: an array of at least two dimensions.
      k: the diagonal: 0 the main one, positive above it, negative below.

    Returns:
      An array of m's shape and dtype.

    Raises:
      ValueError: for an array of fewer than two dimensions.
    """
    check_arraylike("triu", m)
    m = asarray(m)
    _check_matrix("triu", m)
    mask = tri(m.shape[-2], m.shape[-1], k - 1, dtype=dtypes.bool_)
    return _select(mask, zeros_like(m), m)


def _inexact_bounds(name, start, stop, dtype):
    check_arraylike(name, start, stop)
    start, stop = _float_args(start, stop)
    if dtype is not None:
        dtype = dtypes.canonicalize(np.dtype(dtype))
        compute = dtype if dtypes.is_inexact(dtype) else dtypes.default_float()
        start, stop = astype(start, compute), astype(stop, compute)
    return start, stop, dtype


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop, num): values evenly spaced on a log scale, as
    jnp.logspace.

    Args:
      start: base ** start is the first value (a scalar or an array).
      stop: base ** stop is the last value (or the end, excluded, when endpoint is
        False).
      num: the number of values.
      endpoint: whether base ** stop is the last value.
      base: the base of the log scale.
      dtype: the result's dtype (default: the bounds' float dtype).
      axis: where the new axis goes (array bounds only).

    Returns:
      An array of num values along axis.

    Example:
      >>> fnp.logspace(0.0, 2.0, 3).tolist()
      [1.0, 10.0, 100.0]
    """
    num, axis = operator.index(num), operator.index(axis)
    start, stop, dtype = _inexact_bounds("logspace", start, stop, dtype)
    lin = linspace(start, stop, num, endpoint=endpoint, axis=axis)
    out = power(astype(asarray(base), lin.dtype) if hasattr(base, "shape") else base, lin)
    return astype(out, dtype) if dtype is not None else out


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Values evenly spaced on a log scale from start to stop (a geometric
    progression), as jnp.geomspace.

    Args:
      start: the first value (nonzero; a scalar or an array).
      stop: the last value (same sign as start).
      num: the number of values.
      endpoint: whether stop is the last value.
      dtype: the result's dtype (default: the bounds' float dtype).
      axis: where the new axis goes (array bounds only).

    Returns:
      An array of num values along axis.

    Example:
      >>> [round(v, 4) for v in fnp.geomspace(1.0, 8.0, 4).tolist()]
      [1.0, 2.0, 4.0, 8.0]
    """
    num, axis = operator.index(num), operator.index(axis)
    start, stop, dtype = _inexact_bounds("geomspace", start, stop, dtype)
    s = sign(start)
    res = s * logspace(log10(start / s), log10(stop / s), num, endpoint=endpoint, base=10.0, axis=0)
    axis = axis % res.ndim if res.ndim else 0
    if axis:
        res = moveaxis(res, 0, axis)
    return astype(res, dtype) if dtype is not None else res
