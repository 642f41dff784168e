"""The base of funcnet.numpy: conversion, promotion, broadcasting, elementwise ufuncs."""

import builtins
import functools
import math
import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.array import Array, asarray_from_value
from funcnet.core.source_info import where as _at
from funcnet.core.trace import Tracer, get_aval, is_tracing
from funcnet.numpy import _fast

ArrayLike = (Array, Tracer)
# What jax.numpy's functions take as an array argument: arrays and scalars. Python lists
# and tuples are refused on purpose (an implicit, per-element conversion; jax's choice).
_ARRAYLIKE_TYPES = (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)


def is_array(x) -> bool:
    return isinstance(x, ArrayLike)


def _is_arraylike(x) -> bool:
    if isinstance(x, _ARRAYLIKE_TYPES):
        return True
    return hasattr(x, "__jax_array__") or (
        hasattr(x, "__array__") and not isinstance(x, (list, tuple, str))
    )


def check_arraylike(fun_name, *args):
    """Refuse lists, tuples and other non-arrays as jax.numpy does, with jax's message."""
    for arg in args:  # every eager op passes here: one isinstance per argument
        if not isinstance(arg, _ARRAYLIKE_TYPES) and not _is_arraylike(arg):
            for pos, bad in enumerate(args):
                if not _is_arraylike(bad):
                    raise TypeError(
                        f"{fun_name} requires ndarray or scalar arguments, got "
                        f"{type(bad)} at position {pos}."
                    )


def check_arraylike_or_none(fun_name, *args):
    check_arraylike(fun_name, *(a for a in args if a is not None))


def check_no_out(fun_name, out):
    """jax.numpy (and funcnet) arrays are immutable: `out=` can only be None. NumPy's own
    functions (np.sum(x)) pass out=None to the methods, which is fine."""
    if out is not None:
        raise NotImplementedError(
            f"The 'out' argument to {fun_name} is not supported: "
            f"funcnet arrays are immutable; use the return value"
            f"{_at()}"
        )


def _ufunc_kwargs(fun_name, out, where):
    check_no_out(fun_name, out)
    if where is not None:
        raise NotImplementedError(
            f"The 'where' argument to {fun_name} is not supported; "
            f"use fnp.where(mask, {fun_name}(...), other){_at()}"
        )


def place(x, device):
    """x on `device` (a funcnet/XLA device), as jnp's device= argument. Traced values
    stay as they are (placement belongs to the runtime, not to a traced program)."""
    if device is None or not isinstance(x, Array):
        return x
    if x.device == device:
        return x
    return asarray_from_value(x, device=device)


def asarray(a, dtype=None, order=None, *, copy=None, device=None):
    """An array from an Array, a tracer, a NumPy array, a scalar or a (nested) list, as
    jnp.asarray.

    Args:
      a: the value.
      dtype: the result's dtype (default: the value's own, Python scalars weakly typed).
      order: only 'C' (or None/'K'/'A') layouts exist.
      copy: accepted for NumPy compatibility (funcnet arrays are immutable: a copy is
        never observable).
      device: the device to place the result on (default: where it is, or the default
        device for host values).

    Returns:
      A funcnet Array (or the tracer, under a transformation). 64-bit host values
      narrow to 32 bits unless x64 is enabled.

    Raises:
      TypeError: for a dtype given as the value.
      ValueError: for a list of arrays of different shapes.

    Example:
      >>> fnp.asarray([1, 2, 3])
      Array([1, 2, 3], dtype=int32)
      >>> fnp.asarray(np.ones(2), dtype=fnp.bfloat16).dtype
      dtype(bfloat16)
    """
    _check_order(order)
    if is_array(a):
        out = a if dtype is None else astype(a, dtype)
        return place(out, device)
    if isinstance(a, (list, tuple)) and any(is_array(v) or isinstance(v, (list, tuple)) for v in a):
        return place(_stack_elements([asarray(v, dtype) for v in a]), device)
    if isinstance(a, (type, np.dtype)):
        raise TypeError(f"{a!r} is a dtype, not a value to build an array from{_at()}")
    return asarray_from_value(a, dtype, device=device)


def _check_order(order):
    if order not in (None, "C", "K", "A"):
        raise NotImplementedError(f"order={order!r}: funcnet arrays are always C-ordered")


def array(object, dtype=None, copy=True, order="K", ndmin=0, *, device=None):
    """An array from a value, as jnp.array (funcnet arrays are immutable, so the
    "copy" is never observable).

    Args:
      object: an Array, a tracer, a NumPy array, a scalar or a (nested) list or tuple of
        those.
      dtype: the result's dtype (default: the value's own, Python scalars weakly typed).
      copy: accepted for NumPy compatibility.
      order: only C layouts exist ('C', 'K', 'A' or None; others raise
        NotImplementedError).
      ndmin: the least number of dimensions; size-1 axes are prepended to reach it.
      device: the device to place the result on (default: where it is, or the default
        device for host values).

    Returns:
      A funcnet Array (or the tracer, under a transformation) of at least `ndmin`
      dimensions.

    Raises:
      TypeError: for a dtype given as the value.
      ValueError: for a list of arrays of different shapes.

    Example:
      >>> fnp.array([[1.0, 2.0]]).shape
      (1, 2)
      >>> fnp.array(3, ndmin=2)
      Array([[3]], dtype=int32, weak_type=True)
    """
    out = asarray(object, dtype, order, device=device)
    if out.ndim < ndmin:
        out = lax.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def _stack_elements(elements):
    """One array from a list of arrays of one shape (asarray of a nested list holding
    arrays): promoted together, stacked along a new first axis."""
    elements = promote(*elements)
    shapes = {e.shape for e in elements}
    if len(shapes) != 1:
        raise ValueError(
            "setting an array element with a sequence: the elements have "
            f"different shapes {sorted(shapes)}{_at()}"
        )
    shape = (1,) + elements[0].shape
    dims = tuple(range(1, len(shape)))
    return lax.concatenate([lax.broadcast_in_dim(e, shape, dims) for e in elements], 0)


def astype(x, dtype, /, *, copy=False, device=None):
    """x converted to `dtype`, as jnp.astype (floats to integers truncate towards zero).

    Args:
      x: an array or a scalar (lists raise TypeError).
      dtype: the target dtype; None keeps x's.
      copy: accepted for NumPy compatibility (arrays are immutable).
      device: the device to place the result on (default: where x is).

    Returns:
      An array of x's shape and dtype `dtype` (64-bit dtypes narrow to 32 bits unless
      x64 is enabled), strongly typed; x itself when nothing changes.

    Example:
      >>> fnp.astype(fnp.array([1.7, -1.7]), fnp.int32).tolist()
      [1, -1]
    """
    check_arraylike("astype", x)
    if dtype is None:
        return place(asarray(x), device)
    dtype = dtypes.canonicalize(dtype)
    if not is_array(x):
        return asarray(x, dtype, device=device)
    if x.dtype == dtype and not x.aval.weak_type:
        return place(x, device)
    return place(lax.convert_element_type(x, dtype), device)


def _dtype_of(x):
    """(dtype, weak_type) of a value; a dtype or scalar type stands for itself, strongly."""
    if is_array(x):
        return x.dtype, x.aval.weak_type
    if dtypes.is_python_scalar(x):
        return dtypes.scalar_dtype(x), dtypes.is_weak_scalar(x)
    if isinstance(x, (np.dtype, type, str)):
        return dtypes.canonicalize(x), False
    if isinstance(x, (list, tuple)):
        raise TypeError(
            f"Cannot determine dtype of {x!r:.80} (a Python sequence: make it an array first)"
        )
    aval = get_aval(x)
    return aval.dtype, aval.weak_type


def result_type(*args):
    """The dtype jax's type promotion gives these values or dtypes, as jnp.result_type.

    Args:
      *args: arrays, scalars, dtypes or scalar types. A Python scalar is weakly typed:
        it takes the other operands' dtype when that is of its kind or a higher one.

    Returns:
      A NumPy dtype (64-bit ones narrow to 32 bits unless x64 is enabled).

    Raises:
      TypeError: for a Python list or tuple among the arguments.

    Example:
      >>> fnp.result_type(fnp.float16, 2.0)
      dtype('float16')
      >>> fnp.result_type(fnp.int8, fnp.uint8)
      dtype('int16')
    """
    return dtypes.result_type(*map(_dtype_of, args))[0]


def promote(*args):
    """Convert every argument to one dtype (an Array or tracer each)."""
    first = args[0]
    if (
        is_array(first)
        and not first.aval.weak_type
        and builtins.all(
            is_array(a) and a.dtype == first.dtype and not a.aval.weak_type for a in args
        )
    ):
        return list(args)  # the common case: nothing to promote
    dtype, weak = dtypes.result_type(*map(_dtype_of, args))
    out = []
    for x in args:
        if not is_array(x):
            x = _scalar_or_array(x, dtype, weak)
        elif x.dtype != dtype:
            x = lax.convert_element_type(x, dtype, weak_type=weak)
        out.append(x)
    return out


def _scalar_or_array(x, dtype, weak=False):
    """A concrete value of `dtype`: a NumPy scalar (a literal once traced) or an Array."""
    arr = np.asarray(x, dtype)
    return arr[()] if arr.ndim == 0 else asarray_from_value(arr)


def broadcast_shapes(*shapes):
    """The shape NumPy's broadcasting gives arrays of these shapes, as
    jnp.broadcast_shapes.

    Args:
      *shapes: tuples of ints.

    Returns:
      A tuple of ints (`()` for no shapes).

    Raises:
      ValueError: when the shapes do not broadcast (two sizes other than 1 on one axis).

    Example:
      >>> fnp.broadcast_shapes((2, 1), (3,))
      (2, 3)
    """
    ndim = builtins.max((len(s) for s in shapes), default=0)
    out = []
    for dims in zip(*((1,) * (ndim - len(s)) + tuple(s) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ValueError(
                f"incompatible shapes for broadcasting: "
                f"{', '.join(str(tuple(s)) for s in shapes)}{_at()}"
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# Eagerly, a constant this small is broadcast on the host and copied over: one transfer
# instead of a device program of its own (x * 2.0 is then one dispatch, not two).
_HOST_BROADCAST_MAX = 1 << 16


def broadcast_to(array, shape):
    """array broadcast to `shape` by NumPy's rules, as jnp.broadcast_to.

    Args:
      array: an array or a scalar.
      shape: an int or a sequence of ints; array's shape must broadcast to it.

    Returns:
      An array of `shape` with array's dtype.

    Raises:
      ValueError: when array's shape does not broadcast to `shape`.

    Example:
      >>> fnp.broadcast_to(fnp.array([1, 2]), (2, 2)).tolist()
      [[1, 2], [1, 2]]
    """
    check_arraylike("broadcast_to", array)
    if not isinstance(shape, (tuple, list)):
        shape = (operator.index(shape),)
    return _broadcast_to(array, shape)


def _broadcast_to(x, shape):
    shape = tuple(int(d) for d in shape)
    if not is_array(x):
        x = np.asarray(x)
        if (
            not is_tracing()
            and x.dtype.kind in "biuf"
            and x.shape != shape
            and math.prod(shape) <= _HOST_BROADCAST_MAX
        ):
            try:
                return asarray(np.ascontiguousarray(np.broadcast_to(x, shape)))
            except ValueError:
                pass  # the error below names the shapes
        x = x[()] if x.ndim == 0 and x.dtype.kind in "biuf" else asarray(x)
    if x.shape == shape:
        return x if is_array(x) else asarray(x)
    lead = len(shape) - x.ndim
    if lead < 0 or any(d not in (1, s) for d, s in zip(x.shape, shape[lead:])):
        raise ValueError(f"cannot broadcast an array of shape {x.shape} to shape {shape}{_at()}")
    # Squeeze size-1 axes that grow, so broadcast_in_dim sees only exact matches.
    keep = [i for i, d in enumerate(x.shape) if d == shape[lead + i]]
    if len(keep) != x.ndim:
        x = lax.reshape(x, [x.shape[i] for i in keep])
    return lax.broadcast_in_dim(x, shape, [lead + i for i in keep])


def broadcast_arrays(*args):
    """The arguments broadcast to their common shape, as jnp.broadcast_arrays.

    Args:
      *args: arrays or scalars.

    Returns:
      A list of arrays, one per argument, each of the broadcast shape and its own dtype.

    Raises:
      ValueError: when the shapes do not broadcast.
    """
    check_arraylike("broadcast_arrays", *args)
    return _broadcast_arrays(*args)


def _broadcast_arrays(*args):
    shape = broadcast_shapes(*(np.shape(a) for a in args))
    return [_broadcast_to(a, shape) for a in args]


def _elementwise(prim_fn, *args, promote_args=True):
    args = promote(*args) if promote_args else [asarray(a) for a in args]
    if len(args) > 1 and builtins.any(a.shape != args[0].shape for a in args):
        args = _broadcast_arrays(*args)
    return prim_fn(*args)


def _float_args(*args):
    """Promote, then make integer/bool arguments floating point (as NumPy's true ufuncs)."""
    dtype, weak = dtypes.result_type(*map(_dtype_of, args))
    args = promote(*args)
    if not dtypes.is_inexact(dtype):
        target = dtypes.default_float() if weak else _inexact_of(dtype)
        args = [lax.convert_element_type(a, target, weak_type=weak) for a in args]
    return args


def _inexact_of(dtype):
    """The float type jax computes an integer or bool type's true ufuncs in: float64 for
    64-bit integers (with x64), float32 for narrower ones (not the default float)."""
    return dtypes.canonicalize(np.float64 if np.dtype(dtype).itemsize == 8 else np.float32)


def _weak_result(fn):
    """Make fn's result weakly typed when all its array arguments are, as in jax.

    promote writes Python scalars as NumPy scalars (literals once traced), which are
    strongly typed; without this `s * 2.0` with a weak `s` would lose its weakness and
    then promote differently (with a bfloat16 array, say). fn's array arguments are its
    positional-only parameters (as in jax.numpy), so they are always in `args`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        if out.aval.weak_type or out.dtype == dtypes.bool_ or not _all_weak(args):
            return out
        return _as_weak(out)

    return wrapper


def _all_weak(args):
    if not args:
        return False
    # The common, cheap case: a strongly typed float array makes any result strong (not
    # so an int or bool one: with a Python float, say, the result is a weak float).
    if any(is_array(a) and not a.aval.weak_type and dtypes.is_float(a.dtype) for a in args):
        return False
    return dtypes.result_type(*map(_dtype_of, args))[1]


def _as_weak(x):
    return lax.convert_element_type(x, x.dtype, weak_type=True)


# The summary line of each function _unary_float makes (and the jax function it mirrors).
_UNARY_FLOAT_SUMMARIES = {
    "exp": "e ** x",
    "exp2": "2 ** x",
    "log": "The natural logarithm (nan for x < 0, -inf at 0)",
    "log1p": "log(1 + x), accurate for small x",
    "expm1": "exp(x) - 1, accurate for small x",
    "sqrt": "The non-negative square root (nan for x < 0)",
    "rsqrt": "1 / sqrt(x) (nan for x < 0)",
    "cbrt": "The cube root",
    "tanh": "The hyperbolic tangent",
    "sin": "The sine of x in radians",
    "cos": "The cosine of x in radians",
    "tan": "The tangent of x in radians",
    "arcsin": "The inverse sine, in [-pi/2, pi/2] (nan outside [-1, 1])",
    "arccos": "The inverse cosine, in [0, pi] (nan outside [-1, 1])",
    "arctan": "The inverse tangent, in [-pi/2, pi/2]",
    "sinh": "The hyperbolic sine",
    "cosh": "The hyperbolic cosine",
    "arcsinh": "The inverse hyperbolic sine",
    "arccosh": "The inverse hyperbolic cosine (nan for x < 1)",
    "arctanh": "The inverse hyperbolic tangent (nan outside [-1, 1], +-inf at +-1)",
}

_UNARY_FLOAT_DOC = """{summary}, elementwise, as {mirror}.

Args:
  x: an array or a scalar; integers and bools are converted to the default float dtype
    first (float32, or float64 with x64 enabled).

Returns:
  An array of x's shape and floating dtype (x's own when it is floating), weakly typed
  when x is a Python scalar.
"""


def _unary_float(prim_fn, name):
    @_weak_result
    def fn(x, /):
        check_arraylike(name, x)
        (x,) = _float_args(x)
        return prim_fn(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _UNARY_FLOAT_DOC.format(
        summary=_UNARY_FLOAT_SUMMARIES[name],
        mirror="jax.lax.rsqrt" if name == "rsqrt" else f"jnp.{name}",
    )
    return _fast.unary(fn)


exp = _unary_float(lax.exp, "exp")
exp2 = _unary_float(lax.exp2, "exp2")
log = _unary_float(lax.log, "log")
log1p = _unary_float(lax.log1p, "log1p")
expm1 = _unary_float(lax.expm1, "expm1")
sqrt = _unary_float(lax.sqrt, "sqrt")
rsqrt = _unary_float(lax.rsqrt, "rsqrt")
cbrt = _unary_float(lax.cbrt, "cbrt")
tanh = _unary_float(lax.tanh, "tanh")
sin = _unary_float(lax.sin, "sin")
cos = _unary_float(lax.cos, "cos")
tan = _unary_float(lax.tan, "tan")
arcsin = _unary_float(lax.asin, "arcsin")
arccos = _unary_float(lax.acos, "arccos")
arctan = _unary_float(lax.atan, "arctan")
sinh = _unary_float(lax.sinh, "sinh")
cosh = _unary_float(lax.cosh, "cosh")
arcsinh = _unary_float(lax.asinh, "arcsinh")
arccosh = _unary_float(lax.acosh, "arccosh")
arctanh = _unary_float(lax.atanh, "arctanh")


@_weak_result
def log2(x, /):
    """The base-2 logarithm, elementwise, as jnp.log2 (nan for x < 0, -inf at 0).

    Args:
      x: an array or a scalar; integers and bools are converted to the default float
        dtype first.

    Returns:
      An array of x's shape and floating dtype, weakly typed when x is a Python scalar.
    """
    check_arraylike("log2", x)
    (x,) = _float_args(x)
    return lax.div(lax.log(x), _like(x, np.log(2.0)))


@_weak_result
def log10(x, /):
    """The base-10 logarithm, elementwise, as jnp.log10 (nan for x < 0, -inf at 0).

    Args:
      x: an array or a scalar; integers and bools are converted to the default float
        dtype first.

    Returns:
      An array of x's shape and floating dtype, weakly typed when x is a Python scalar.
    """
    check_arraylike("log10", x)
    (x,) = _float_args(x)
    return lax.div(lax.log(x), _like(x, np.log(10.0)))


def _like(x, value):
    """A scalar constant of x's dtype, broadcast to x's shape."""
    c = _scalar_or_array(value, x.dtype)
    return _broadcast_to(c, x.shape) if x.shape else c


# (summary, how bools and unsigned integers are treated) of each function _keep_ints makes.
_KEEP_INTS_DOCS = {
    "negative": ("-x", "Bools raise TypeError (as jax); unsigned integers wrap around."),
    "absolute": ("|x|", "Bools and unsigned integers are returned unchanged."),
    "sign": (
        "-1, 0 or 1 by the sign of x (nan for nan)",
        "Unsigned integers give 0 or 1; bools raise TypeError.",
    ),
    "square": ("x * x", "Bools raise TypeError."),
}
_ALIASES = {"absolute": "abs"}


def _keep_ints_doc(name, ufunc):
    summary, detail = _KEEP_INTS_DOCS[name]
    alias = f" (fnp.{_ALIASES[name]} is the same function)" if name in _ALIASES else ""
    ufunc_args = (
        "\n  out: only None (arrays are immutable); others raise NotImplementedError."
        "\n  where: only None (use fnp.where for a mask); others raise NotImplementedError."
        if ufunc
        else ""
    )
    return (
        f"{summary}, elementwise, keeping x's dtype, as jnp.{name}{alias}.\n\n{detail}\n\n"
        f"Args:\n  x: an array or a scalar.{ufunc_args}\n\n"
        "Returns:\n  An array of x's shape and dtype (weakly typed when x is).\n"
    )


def _keep_ints(prim_fn, name, ufunc=False):
    if ufunc:

        def fn(x, /, *, out=None, where=None):
            if out is not None or where is not None:  # rare: refuse with a clear message
                _ufunc_kwargs(name, out, where)
            check_arraylike(name, x)
            return prim_fn(asarray(x))
    else:

        def fn(x, /):
            check_arraylike(name, x)
            return prim_fn(asarray(x))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _keep_ints_doc(name, ufunc)
    return fn


negative = _keep_ints(lax.neg, "negative", ufunc=True)  # bools raise, as jax
absolute = _keep_ints(
    lambda x: lax.abs(x) if x.dtype != dtypes.bool_ and not dtypes.is_unsigned(x.dtype) else x,
    "absolute",
)
abs = absolute
sign = _keep_ints(
    lambda x: lax.sign(x) if not dtypes.is_unsigned(x.dtype) else astype(x > 0, x.dtype), "sign"
)
square = _keep_ints(lax.square, "square")


_ROUNDING_SUMMARIES = {
    "floor": "x rounded down (towards -inf)",
    "ceil": "x rounded up (towards +inf)",
    "trunc": "x rounded towards zero",
}

_ROUNDING_DOC = """{summary}, elementwise, as jnp.{name}.

Args:
  x: an array or a scalar.

Returns:
  An array of x's shape and dtype: floats rounded (still floats), integer and bool
  arrays returned as they are.
"""


def _float_or_identity(prim_fn, name):
    def fn(x, /):
        check_arraylike(name, x)
        x = asarray(x)
        return prim_fn(x) if dtypes.is_float(x.dtype) else x

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _ROUNDING_DOC.format(summary=_ROUNDING_SUMMARIES[name], name=name)
    return fn


floor = _float_or_identity(lax.floor, "floor")
ceil = _float_or_identity(lax.ceil, "ceil")
_trunc = _float_or_identity(lambda x: lax.select(x < 0, lax.ceil(x), lax.floor(x)), "trunc")


def trunc(x):
    """x rounded towards zero, elementwise, as jnp.trunc.

    Args:
      x: an array or a scalar.

    Returns:
      An array of x's shape and dtype: floats rounded (still floats), integer and bool
      arrays returned as they are.

    Example:
      >>> fnp.trunc(fnp.array([-1.5, 1.5])).tolist()
      [-1.0, 1.0]
    """
    return _trunc(x)


def round(a, decimals=0, out=None):
    """a rounded to `decimals` places, half to even, as jnp.round (fnp.around is the same
    function).

    Args:
      a: an array or a scalar.
      decimals: an int: the number of decimal places; negative rounds to tens,
        hundreds, ...
      out: only None (arrays are immutable); others raise NotImplementedError.

    Returns:
      An array of a's shape and dtype. Integers are returned as they are unless
      decimals < 0; then they are rounded, half to even, to a multiple of
      10 ** -decimals, as NumPy does.

    Example:
      >>> fnp.round(fnp.array([0.5, 1.5, 2.5])).tolist()
      [0.0, 2.0, 2.0]
      >>> fnp.round(fnp.array([1234, 1250]), -2).tolist()
      [1200, 1200]
    """
    check_arraylike("round", a)
    check_no_out("round", out)
    x = asarray(a)
    decimals = operator.index(decimals)
    if not dtypes.is_float(x.dtype):
        return _round_int(x, decimals) if decimals < 0 and x.dtype != dtypes.bool_ else x
    if decimals == 0:
        return lax.round(x, rounding_method=1)
    factor = _like(x, 10.0**decimals)
    return lax.div(lax.round(lax.mul(x, factor), rounding_method=1), factor)


around = round


def _round_int(x, decimals):
    """Integers to a multiple of 10**-decimals, half to even (as NumPy; jax refuses)."""
    factor = _like(x, 10**-decimals)
    q, r = floor_divide(x, factor), remainder(x, factor)
    twice = lax.add(r, r)
    odd = lax.ne(remainder(q, 2), _like(q, 0))
    up = lax.bitwise_or(lax.gt(twice, factor), lax.bitwise_and(lax.eq(twice, factor), odd))
    return lax.mul(lax.select(up, lax.add(q, _like(q, 1)), q), factor)


def isfinite(x, /):
    """Whether x is neither infinite nor nan, elementwise, as jnp.isfinite.

    Args:
      x: an array or a scalar.

    Returns:
      A bool array of x's shape (all True for integers and bools).
    """
    check_arraylike("isfinite", x)
    x = asarray(x)
    if dtypes.is_complex(x.dtype):  # both parts finite, as jax
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    return lax.is_finite(x) if dtypes.is_float(x.dtype) else full_like_bool(x, True)


def isnan(x, /):
    """Whether x is nan, elementwise, as jnp.isnan.

    Args:
      x: an array or a scalar.

    Returns:
      A bool array of x's shape (all False for integers and bools).
    """
    check_arraylike("isnan", x)
    x = asarray(x)
    return lax.ne(x, x) if dtypes.is_inexact(x.dtype) else full_like_bool(x, False)


def isinf(x, /):
    """Whether x is +inf or -inf, elementwise, as jnp.isinf.

    Args:
      x: an array or a scalar.

    Returns:
      A bool array of x's shape (all False for integers and bools).
    """
    check_arraylike("isinf", x)
    x = asarray(x)
    if dtypes.is_complex(x.dtype):  # either part infinite, as jax
        return lax.bitwise_or(isinf(lax.real(x)), isinf(lax.imag(x)))
    if not dtypes.is_float(x.dtype):
        return full_like_bool(x, False)
    return lax.eq(lax.abs(x), _like(x, np.inf))


def _fast_binary_with_scalars(fn):
    # Their general path depends on the operands' types and shapes, never on a Python
    # scalar's value: a scalar may be replayed as a constant (funcnet/numpy/_fast.py).
    return _fast.binary(fn, scalars=True)


def full_like_bool(x, value):
    return lax.broadcast_in_dim(np.bool_(value), x.shape, ())


@_fast_binary_with_scalars
@_weak_result
def add(x, y, /, *, out=None, where=None):
    """x + y, elementwise, as jnp.add (for bools: logical or).

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.
      out: only None (arrays are immutable); others raise NotImplementedError.
      where: only None (use fnp.where for a mask); others raise NotImplementedError.

    Returns:
      An array of the broadcast shape and the promoted dtype.

    Raises:
      ValueError: when the shapes do not broadcast.

    Example:
      >>> fnp.add(fnp.array([1, 2]), 1)
      Array([2, 3], dtype=int32)
    """
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("add", out, where)
    check_arraylike("add", x, y)
    return _elementwise(lax.add if result_type(x, y) != dtypes.bool_ else lax.bitwise_or, x, y)


@_fast_binary_with_scalars
@_weak_result
def subtract(x, y, /, *, out=None, where=None):
    """x - y, elementwise, as jnp.subtract.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.
      out: only None (arrays are immutable); others raise NotImplementedError.
      where: only None (use fnp.where for a mask); others raise NotImplementedError.

    Returns:
      An array of the broadcast shape and the promoted dtype.

    Raises:
      ValueError: when the shapes do not broadcast.
    """
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("subtract", out, where)
    check_arraylike("subtract", x, y)
    return _elementwise(lax.sub, x, y)


@_fast_binary_with_scalars
@_weak_result
def multiply(x, y, /, *, out=None, where=None):
    """x * y, elementwise, as jnp.multiply.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.
      out: only None (arrays are immutable); others raise NotImplementedError.
      where: only None (use fnp.where for a mask); others raise NotImplementedError.

    Returns:
      An array of the broadcast shape and the promoted dtype.

    Raises:
      ValueError: when the shapes do not broadcast.
    """
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("multiply", out, where)
    check_arraylike("multiply", x, y)
    return _elementwise(lax.mul, x, y)


@_fast_binary_with_scalars
@_weak_result
def true_divide(x, y, /):
    """x / y, elementwise, in floating point, as jnp.true_divide (fnp.divide is the same
    function).

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.

    Returns:
      An array of the broadcast shape and the promoted dtype; integers and bools are
      divided in the default float dtype.

    Raises:
      ValueError: when the shapes do not broadcast.

    Example:
      >>> fnp.true_divide(fnp.array([1, 3]), 2).tolist()
      [0.5, 1.5]
    """
    check_arraylike("true_divide", x, y)
    x, y = _float_args(x, y)
    return _elementwise(lax.div, x, y)


divide = true_divide


def _integer_operands(x, y):
    """Promoted and broadcast operands for integer division; bools divide as ints (jax)."""
    x, y = promote(x, y)
    if x.dtype == dtypes.bool_:
        x, y = (lax.convert_element_type(a, dtypes.default_int()) for a in (x, y))
    return _broadcast_arrays(x, y)


@_weak_result
def floor_divide(x, y, /):
    """x // y, elementwise, rounded towards -inf as Python's and NumPy's //, as
    jnp.floor_divide.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.

    Returns:
      An array of the broadcast shape and the promoted dtype (bools divide as the
      default int); for floats x / y where y == 0.

    Raises:
      ValueError: when the shapes do not broadcast.

    Example:
      >>> fnp.floor_divide(fnp.array([7, -7]), 2).tolist()
      [3, -4]
    """
    check_arraylike("floor_divide", x, y)
    x, y = _integer_operands(x, y)
    if dtypes.is_float(x.dtype):
        return _float_floor_divide(x, y)
    if dtypes.is_unsigned(x.dtype):
        return lax.div(x, y)
    # C division truncates; NumPy floors: step down where signs differ and it was inexact.
    q = lax.div(x, y)
    r = lax.rem(x, y)
    zero = _like(x, 0)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(x, zero), lax.lt(y, zero)))
    return lax.select(fix, lax.sub(q, _like(x, 1)), q)


def _float_floor_divide(x, y):
    """NumPy's float //: (x - fmod(x, y)) / y, rounded, so that x == y * (x // y) + x % y
    holds (floor(x / y) gives 10 for 1 // 0.1; NumPy and jax give 9); x / 0 for y == 0."""
    r = lax.rem(x, y)
    q = lax.div(lax.sub(x, r), y)
    zero = _like(x, 0)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)))
    q = lax.round(lax.select(fix, lax.sub(q, _like(x, 1)), q), rounding_method=1)
    return lax.select(lax.eq(y, zero), lax.div(x, y), q)


@_weak_result
def remainder(x, y, /):
    """x % y, elementwise, with the divisor's sign as Python's and NumPy's %, as
    jnp.remainder (fnp.mod is the same function).

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.

    Returns:
      An array of the broadcast shape and the promoted dtype (bools as the default
      int).

    Raises:
      ValueError: when the shapes do not broadcast.

    Example:
      >>> fnp.remainder(fnp.array([7, -7]), 3).tolist()
      [1, 2]
    """
    check_arraylike("remainder", x, y)
    x, y = _integer_operands(x, y)
    r = lax.rem(x, y)
    if dtypes.is_unsigned(x.dtype):
        return r
    zero = _like(x, 0)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)))
    return lax.select(fix, lax.add(r, y), r)


mod = remainder


@_weak_result
def fmod(x, y, /):
    """The C remainder of x / y, elementwise, with the dividend's sign, as jnp.fmod.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.

    Returns:
      An array of the broadcast shape and the promoted dtype.

    Raises:
      TypeError: for bools.
      ValueError: when the shapes do not broadcast.

    Example:
      >>> fnp.fmod(fnp.array([7, -7]), 3).tolist()
      [1, -1]
    """
    check_arraylike("fmod", x, y)
    return _elementwise(lax.rem, x, y)


def power(x, y, /):
    """x ** y, elementwise, as jnp.power.

    An integer Python exponent becomes repeated multiplication (lax.integer_pow);
    integer arrays raised to integer arrays stay integers (binary exponentiation), as in
    NumPy and jax, a negative exponent giving the truncated reciprocal (0, or +-1 for a
    base of +-1). A float base with an integer exponent array keeps the base's dtype.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.

    Returns:
      An array of the broadcast shape and the promoted dtype (bools as the default int).

    Raises:
      ValueError: for an integer array raised to a negative Python int, or shapes that
        do not broadcast.

    Example:
      >>> fnp.power(fnp.array([2, 3]), 2).tolist()
      [4, 9]
    """
    check_arraylike("power", x, y)
    if isinstance(y, int) and is_array(x):  # a Python bool too, as in jax
        return _power_by_python_int(x, y)
    if is_array(y) and dtypes.is_int(y.dtype) and dtypes.is_float(_dtype_of(x)[0]):
        return _float_power_by_int_array(x, y)
    dtype, weak = dtypes.result_type(*map(_dtype_of, (x, y)))
    x, y = _broadcast_arrays(*promote(x, y))
    if dtypes.is_inexact(dtype):
        out = lax.pow(x, y)
        return _as_weak(out) if weak and not out.aval.weak_type else out
    if dtype == dtypes.bool_:
        x, y = (lax.convert_element_type(a, dtypes.default_int()) for a in (x, y))
    return _integer_power(x, y)  # strongly typed in jax, whatever the operands


def _power_by_python_int(x, y):
    if x.dtype == dtypes.bool_:  # as jax: bools are raised as default ints
        x = lax.convert_element_type(x, dtypes.default_int())
    if y < 0 and not dtypes.is_inexact(x.dtype):
        raise ValueError("integers to negative integer powers are not allowed")
    return lax.integer_pow(x, y)


def _float_power_by_int_array(x, y):
    """As jax: an integer exponent array takes the float base's dtype instead of promoting
    with it, so a Python float base with a strongly typed exponent gives a strong result."""
    weak = _dtype_of(x)[1] and y.aval.weak_type
    (x,) = promote(x)
    y = lax.convert_element_type(y, x.dtype, weak_type=weak)
    out = lax.pow(*_broadcast_arrays(x, y))
    return _as_weak(out) if weak and not out.aval.weak_type else out


def _integer_power(x, y):
    """x ** y on integer arrays, one squaring per bit of the exponent's dtype.

    A negative exponent gives the truncated reciprocal: 0, or ±1 for a base of ±1
    (NumPy raises there, which traced code cannot do)."""
    one, zero = _like(y, 1), _like(y, 0)
    e = y if dtypes.is_unsigned(y.dtype) else lax.abs(y)
    acc, base = _like(x, 1), x
    for _ in range(8 * x.dtype.itemsize):
        acc = lax.select(lax.ne(lax.bitwise_and(e, one), zero), lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        e = lax.shift_right_logical(e, one)
    if dtypes.is_unsigned(y.dtype):
        return acc
    unit_base = lax.eq(lax.abs(x), _like(x, 1))
    return lax.select(lax.lt(y, zero), lax.select(unit_base, acc, _like(x, 0)), acc)


@_fast_binary_with_scalars
@_weak_result
def maximum(x, y, /, *, out=None, where=None):
    """The larger of x and y, elementwise (nan if either is nan), as jnp.maximum.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.
      out: only None (arrays are immutable); others raise NotImplementedError.
      where: only None (use fnp.where for a mask); others raise NotImplementedError.

    Returns:
      An array of the broadcast shape and the promoted dtype.

    Raises:
      ValueError: when the shapes do not broadcast.

    Example:
      >>> fnp.maximum(fnp.array([1.0, -2.0]), 0.0).tolist()
      [1.0, 0.0]
    """
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("maximum", out, where)
    check_arraylike("maximum", x, y)
    return _elementwise(lax.max, x, y)


@_fast_binary_with_scalars
@_weak_result
def minimum(x, y, /, *, out=None, where=None):
    """The smaller of x and y, elementwise (nan if either is nan), as jnp.minimum.

    Args:
      x: an array or a scalar.
      y: an array or a scalar; x and y broadcast together and promote to one dtype
        (a Python scalar takes the array's dtype). Lists raise TypeError.
      out: only None (arrays are immutable); others raise NotImplementedError.
      where: only None (use fnp.where for a mask); others raise NotImplementedError.

    Returns:
      An array of the broadcast shape and the promoted dtype.

    Raises:
      ValueError: when the shapes do not broadcast.
    """
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("minimum", out, where)
    check_arraylike("minimum", x, y)
    return _elementwise(lax.min, x, y)


@_weak_result
def arctan2(x, y, /):
    """The angle of the point (y, x): arctan(x / y) in [-pi, pi], the quadrant taken
    from the signs of both, elementwise, as jnp.arctan2.

    Args:
      x: the numerator (the point's vertical coordinate): an array or a scalar.
      y: the denominator (the horizontal coordinate); x and y broadcast together and
        are converted to a common floating dtype.

    Returns:
      A floating array of the broadcast shape.

    Raises:
      ValueError: when the shapes do not broadcast.
    """
    check_arraylike("arctan2", x, y)
    x, y = _float_args(x, y)
    return _elementwise(lax.atan2, x, y)


def clip(arr=None, /, min=None, max=None, *, a_min=None, a_max=None):
    """arr limited to [min, max], elementwise, as jnp.clip.

    Args:
      arr: an array or a scalar.
      min: the lower bound (an array or a scalar broadcastable with arr), or None for
        none.
      max: the upper bound, or None for none.
      a_min: NumPy's older name for min, used when min is None.
      a_max: NumPy's older name for max, used when max is None.

    Returns:
      maximum(arr, min) then minimum(.., max): an array of the broadcast shape, arr's
      dtype promoted with the bounds'.

    Example:
      >>> fnp.clip(fnp.arange(5), 1, 3).tolist()
      [1, 1, 2, 3, 3]
    """
    check_arraylike("clip", arr)
    check_arraylike_or_none("clip", min, max, a_min, a_max)
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    x = asarray(arr)
    if lo is not None:
        x = maximum(x, lo)
    if hi is not None:
        x = minimum(x, hi)
    return x


@_weak_result
def _select(condition, x, y, /):
    condition = asarray(condition)
    if condition.dtype != dtypes.bool_:
        condition = lax.ne(condition, _like(condition, 0))
    x, y = promote(x, y)
    condition, x, y = _broadcast_arrays(condition, x, y)
    return lax.select(condition, x, y)


_COMPARE_OPERATORS = {
    "equal": "==",
    "not_equal": "!=",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
}

_COMPARE_DOC = """x {op} y, elementwise, as jnp.{name}.

Args:
  x: an array or a scalar.
  y: an array or a scalar; x and y broadcast together and promote to one dtype before
    comparing. Lists raise TypeError.

Returns:
  A bool array of the broadcast shape.

Raises:
  ValueError: when the shapes do not broadcast.
"""


def _compare(prim_fn, name):
    def fn(x, y, /):
        check_arraylike(name, x, y)
        return _elementwise(prim_fn, x, y)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _COMPARE_DOC.format(op=_COMPARE_OPERATORS[name], name=name)
    return fn


equal = _compare(lax.eq, "equal")
not_equal = _compare(lax.ne, "not_equal")
less = _compare(lax.lt, "less")
less_equal = _compare(lax.le, "less_equal")
greater = _compare(lax.gt, "greater")
greater_equal = _compare(lax.ge, "greater_equal")


_BITWISE_DOC = """x {op} y, bit by bit, of integers or bools, as jnp.{name}.

Args:
  x: an integer or bool array, or a scalar.
  y: an integer or bool array, or a scalar; x and y broadcast together and promote to
    one dtype.
  out: only None (arrays are immutable); others raise NotImplementedError.
  where: only None (use fnp.where for a mask); others raise NotImplementedError.

Returns:
  An array of the broadcast shape and the promoted dtype.

Raises:
  TypeError: when the promoted dtype is a float.
"""


def _bitwise(prim_fn, name):
    @_weak_result
    def fn(x, y, /, *, out=None, where=None):
        if out is not None or where is not None:  # rare: refuse with a clear message
            _ufunc_kwargs(name, out, where)
        check_arraylike(name, x, y)
        x, y = promote(x, y)
        if dtypes.is_float(x.dtype):
            raise TypeError(f"{name} is not defined for floats ({x.dtype}){_at()}")
        return _elementwise(prim_fn, x, y, promote_args=False)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _BITWISE_DOC.format(op={"and": "&", "or": "|", "xor": "^"}[name[8:]], name=name)
    return fn


bitwise_and = _bitwise(lax.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(lax.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(lax.bitwise_xor, "bitwise_xor")


def _to_bool(x):
    x = asarray(x)
    return x if x.dtype == dtypes.bool_ else lax.ne(x, _like(x, 0))


_LOGICAL_DOC = """x {op} y on the operands' truth values (nonzero is true), elementwise,
as jnp.{name}.

Args:
  x: an array or a scalar.
  y: an array or a scalar; x and y broadcast together.
  out: only None (arrays are immutable); others raise NotImplementedError.
  where: only None (use fnp.where for a mask); others raise NotImplementedError.

Returns:
  A bool array of the broadcast shape.
"""


def _logical(prim_fn, name):
    def fn(x, y, /, *, out=None, where=None):
        if out is not None or where is not None:  # rare: refuse with a clear message
            _ufunc_kwargs(name, out, where)
        check_arraylike(name, x, y)
        return _elementwise(prim_fn, _to_bool(x), _to_bool(y), promote_args=False)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _LOGICAL_DOC.format(op=name[8:], name=name)
    return fn


logical_and = _logical(lax.bitwise_and, "logical_and")
logical_or = _logical(lax.bitwise_or, "logical_or")
logical_xor = _logical(lax.bitwise_xor, "logical_xor")


def logical_not(x, /, *, out=None, where=None):
    """not x on x's truth values (nonzero is true), elementwise, as jnp.logical_not.

    Args:
      x: an array or a scalar.
      out: only None (arrays are immutable); others raise NotImplementedError.
      where: only None (use fnp.where for a mask); others raise NotImplementedError.

    Returns:
      A bool array of x's shape.
    """
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("logical_not", out, where)
    check_arraylike("logical_not", x)
    return lax.bitwise_not(_to_bool(x))


def invert(x, /):
    """~x, bit by bit, of integers or bools (for bools: logical not), as jnp.invert
    (fnp.bitwise_not is the same function).

    Args:
      x: an integer or bool array, or a scalar.

    Returns:
      An array of x's shape and dtype.

    Raises:
      TypeError: for floats.
    """
    check_arraylike("invert", x)
    x = asarray(x)
    if dtypes.is_float(x.dtype):
        raise TypeError(f"~ is not defined for floats ({x.dtype}){_at()}")
    return lax.bitwise_not(x)


bitwise_not = invert


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether |a - b| <= atol + rtol * |b|, elementwise, as jnp.isclose (infinities of
    one sign are close to each other; nan is close to nothing unless equal_nan).

    Args:
      a: an array or a scalar.
      b: the reference, broadcastable with a; both promote to one dtype.
      rtol: the relative tolerance (times |b|).
      atol: the absolute tolerance.
      equal_nan: whether two nans count as close.

    Returns:
      A bool array of the broadcast shape (for integers and bools: a == b).

    Example:
      >>> fnp.isclose(fnp.array([1.0, 1.1]), 1.0).tolist()
      [True, False]
    """
    check_arraylike("isclose", a, b)
    a, b = promote(a, b)
    if not dtypes.is_inexact(a.dtype):
        return equal(a, b)
    a, b = _broadcast_arrays(a, b)
    part = dtypes.real_dtype(a.dtype)  # |a - b| of complex numbers is real
    rtol, atol = (lax.broadcast_in_dim(np.asarray(v, part)[()], a.shape, ()) for v in (rtol, atol))
    close = lax.le(lax.abs(lax.sub(a, b)), lax.add(atol, lax.mul(rtol, lax.abs(b))))
    both_inf = lax.bitwise_and(isinf(a), lax.eq(a, b))
    finite = lax.bitwise_and(isfinite(a), isfinite(b))
    out = lax.bitwise_or(lax.bitwise_and(close, finite), both_inf)
    if equal_nan:
        out = lax.bitwise_or(out, lax.bitwise_and(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of a is close to b's, as jnp.allclose (traceable: a bool
    array, not a Python bool).

    Args:
      a: an array or a scalar.
      b: the reference, broadcastable with a.
      rtol: the relative tolerance (times |b|).
      atol: the absolute tolerance.
      equal_nan: whether two nans count as close.

    Returns:
      A 0-d bool array (bool() of it gives a Python bool, outside jit).

    Example:
      >>> bool(fnp.allclose(fnp.ones(3), 1.0 + 1e-9))
      True
    """
    check_arraylike("allclose", a, b)
    close = isclose(a, b, rtol, atol, equal_nan)
    return lax.reduce_and(close, tuple(range(close.ndim))) if close.ndim else close
