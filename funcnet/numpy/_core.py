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
      A funcnet Array (or the tracer, under a transformation).
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
    """An array from a value, as jnp.array (ndmin prepends size-1 axes)."""
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
    """x converted to `dtype` (None keeps x's), as jnp.astype."""
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
    """The dtype NumPy-style promotion gives these values or dtypes (weak Python scalars
    included), as jnp.result_type."""
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
    """array broadcast to `shape` (NumPy's rules), as jnp.broadcast_to."""
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
    """The arguments broadcast to their common shape, as jnp.broadcast_arrays."""
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
    if not dtypes.is_float(dtype):
        args = [lax.convert_element_type(a, dtypes.default_float(), weak_type=weak) for a in args]
    return args


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


def _unary_float(prim_fn, name):
    @_weak_result
    def fn(x, /):
        check_arraylike(name, x)
        (x,) = _float_args(x)
        return prim_fn(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (integers are converted to float first)."
    return fn


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
    """Elementwise base-2 logarithm."""
    check_arraylike("log2", x)
    (x,) = _float_args(x)
    return lax.div(lax.log(x), _like(x, np.log(2.0)))


@_weak_result
def log10(x, /):
    """Elementwise base-10 logarithm."""
    check_arraylike("log10", x)
    (x,) = _float_args(x)
    return lax.div(lax.log(x), _like(x, np.log(10.0)))


def _like(x, value):
    """A scalar constant of x's dtype, broadcast to x's shape."""
    c = _scalar_or_array(value, x.dtype)
    return _broadcast_to(c, x.shape) if x.shape else c


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
    fn.__doc__ = f"Elementwise {name}, keeping integer dtypes."
    return fn


negative = _keep_ints(
    lambda x: lax.neg(x) if x.dtype != dtypes.bool_ else x, "negative", ufunc=True
)
absolute = _keep_ints(
    lambda x: lax.abs(x) if x.dtype != dtypes.bool_ and not dtypes.is_unsigned(x.dtype) else x,
    "absolute",
)
abs = absolute
sign = _keep_ints(
    lambda x: lax.sign(x) if not dtypes.is_unsigned(x.dtype) else astype(x > 0, x.dtype), "sign"
)
square = _keep_ints(lax.square, "square")


def _float_or_identity(prim_fn, name):
    def fn(x, /):
        check_arraylike(name, x)
        x = asarray(x)
        return prim_fn(x) if dtypes.is_float(x.dtype) else x

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (integers are returned as they are)."
    return fn


floor = _float_or_identity(lax.floor, "floor")
ceil = _float_or_identity(lax.ceil, "ceil")
_trunc = _float_or_identity(lambda x: lax.select(x < 0, lax.ceil(x), lax.floor(x)), "trunc")


def trunc(x):
    """Round towards zero."""
    return _trunc(x)


def round(a, decimals=0, out=None):
    """Round half to even, as NumPy (to `decimals` places; negative: tens, hundreds)."""
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
    check_arraylike("isfinite", x)
    x = asarray(x)
    return lax.is_finite(x) if dtypes.is_float(x.dtype) else full_like_bool(x, True)


def isnan(x, /):
    check_arraylike("isnan", x)
    x = asarray(x)
    return lax.ne(x, x) if dtypes.is_float(x.dtype) else full_like_bool(x, False)


def isinf(x, /):
    check_arraylike("isinf", x)
    x = asarray(x)
    if not dtypes.is_float(x.dtype):
        return full_like_bool(x, False)
    return lax.eq(lax.abs(x), _like(x, np.inf))


def full_like_bool(x, value):
    return lax.broadcast_in_dim(np.bool_(value), x.shape, ())


@_weak_result
def add(x, y, /, *, out=None, where=None):
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("add", out, where)
    check_arraylike("add", x, y)
    return _elementwise(lax.add if result_type(x, y) != dtypes.bool_ else lax.bitwise_or, x, y)


@_weak_result
def subtract(x, y, /, *, out=None, where=None):
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("subtract", out, where)
    check_arraylike("subtract", x, y)
    return _elementwise(lax.sub, x, y)


@_weak_result
def multiply(x, y, /, *, out=None, where=None):
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("multiply", out, where)
    check_arraylike("multiply", x, y)
    return _elementwise(lax.mul, x, y)


@_weak_result
def true_divide(x, y, /):
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
    """Python/NumPy modulo: the result has the divisor's sign."""
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
    check_arraylike("fmod", x, y)
    return _elementwise(lax.rem, x, y)


def power(x, y, /):
    """x ** y. An integer Python exponent becomes repeated multiplication; integer arrays
    raised to integer arrays stay integers (binary exponentiation), as in NumPy and jax."""
    check_arraylike("power", x, y)
    if isinstance(y, int) and is_array(x):  # a Python bool too, as in jax
        return _power_by_python_int(x, y)
    if is_array(y) and dtypes.is_int(y.dtype) and dtypes.is_float(_dtype_of(x)[0]):
        return _float_power_by_int_array(x, y)
    dtype, weak = dtypes.result_type(*map(_dtype_of, (x, y)))
    x, y = _broadcast_arrays(*promote(x, y))
    if dtypes.is_float(dtype):
        out = lax.pow(x, y)
        return _as_weak(out) if weak and not out.aval.weak_type else out
    if dtype == dtypes.bool_:
        x, y = (lax.convert_element_type(a, dtypes.default_int()) for a in (x, y))
    return _integer_power(x, y)  # strongly typed in jax, whatever the operands


def _power_by_python_int(x, y):
    if x.dtype == dtypes.bool_:  # as jax: bools are raised as default ints
        x = lax.convert_element_type(x, dtypes.default_int())
    if y < 0 and not dtypes.is_float(x.dtype):
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


@_weak_result
def maximum(x, y, /, *, out=None, where=None):
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("maximum", out, where)
    check_arraylike("maximum", x, y)
    return _elementwise(lax.max, x, y)


@_weak_result
def minimum(x, y, /, *, out=None, where=None):
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("minimum", out, where)
    check_arraylike("minimum", x, y)
    return _elementwise(lax.min, x, y)


@_weak_result
def arctan2(x, y, /):
    check_arraylike("arctan2", x, y)
    x, y = _float_args(x, y)
    return _elementwise(lax.atan2, x, y)


def clip(arr=None, /, min=None, max=None, *, a_min=None, a_max=None):
    """arr limited to [min, max] (either may be None), as jnp.clip; NumPy's a_min/a_max
    keywords are accepted too."""
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


def _compare(prim_fn, name):
    def fn(x, y, /):
        check_arraylike(name, x, y)
        return _elementwise(prim_fn, x, y)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (a bool array)."
    return fn


equal = _compare(lax.eq, "equal")
not_equal = _compare(lax.ne, "not_equal")
less = _compare(lax.lt, "less")
less_equal = _compare(lax.le, "less_equal")
greater = _compare(lax.gt, "greater")
greater_equal = _compare(lax.ge, "greater_equal")


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
    fn.__doc__ = f"Elementwise {name} of integers or bools."
    return fn


bitwise_and = _bitwise(lax.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(lax.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(lax.bitwise_xor, "bitwise_xor")


def _to_bool(x):
    x = asarray(x)
    return x if x.dtype == dtypes.bool_ else lax.ne(x, _like(x, 0))


def _logical(prim_fn, name):
    def fn(x, y, /, *, out=None, where=None):
        if out is not None or where is not None:  # rare: refuse with a clear message
            _ufunc_kwargs(name, out, where)
        check_arraylike(name, x, y)
        return _elementwise(prim_fn, _to_bool(x), _to_bool(y), promote_args=False)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} of the operands' truth values."
    return fn


logical_and = _logical(lax.bitwise_and, "logical_and")
logical_or = _logical(lax.bitwise_or, "logical_or")
logical_xor = _logical(lax.bitwise_xor, "logical_xor")


def logical_not(x, /, *, out=None, where=None):
    """Elementwise not of x's truth values."""
    if out is not None or where is not None:  # rare: refuse with a clear message
        _ufunc_kwargs("logical_not", out, where)
    check_arraylike("logical_not", x)
    return lax.bitwise_not(_to_bool(x))


def invert(x, /):
    """Elementwise bitwise not (~x) of integers or bools."""
    check_arraylike("invert", x)
    x = asarray(x)
    if dtypes.is_float(x.dtype):
        raise TypeError(f"~ is not defined for floats ({x.dtype}){_at()}")
    return lax.bitwise_not(x)


bitwise_not = invert


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b| elementwise (infinities equal when they match), as
    jnp.isclose."""
    check_arraylike("isclose", a, b)
    a, b = promote(a, b)
    if not dtypes.is_float(a.dtype):
        return equal(a, b)
    a, b = _broadcast_arrays(a, b)
    rtol, atol = _like(a, rtol), _like(a, atol)
    close = lax.le(lax.abs(lax.sub(a, b)), lax.add(atol, lax.mul(rtol, lax.abs(b))))
    both_inf = lax.bitwise_and(isinf(a), lax.eq(a, b))
    finite = lax.bitwise_and(isfinite(a), isfinite(b))
    out = lax.bitwise_or(lax.bitwise_and(close, finite), both_inf)
    if equal_nan:
        out = lax.bitwise_or(out, lax.bitwise_and(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of a and b is close (see isclose): a bool Array, as
    jnp.allclose (traceable; bool() of it gives a Python bool)."""
    check_arraylike("allclose", a, b)
    close = isclose(a, b, rtol, atol, equal_nan)
    return lax.reduce_and(close, tuple(range(close.ndim))) if close.ndim else close
