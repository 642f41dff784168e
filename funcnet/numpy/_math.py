"""More elementwise math with jax.numpy's names: the array-API aliases, float helpers
(hypot, logaddexp, sinc, copysign, frexp, ...), integer helpers (gcd, lcm, shifts) and
nan_to_num, all built from lax primitives that already have every rule."""

import builtins
import math

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._calculus import diff
from funcnet.numpy._core import (
    _broadcast_arrays,
    _float_args,
    _like,
    _ufunc_kwargs,
    _weak_result,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asarray,
    astype,
    check_arraylike,
    floor_divide,
    invert,
    isinf,
    isnan,
    maximum,
    minimum,
    power,
    promote,
    remainder,
    trunc,
)
from funcnet.numpy._indexing import where
from funcnet.numpy._indexing import where as _where
from funcnet.numpy._reductions import cumsum
from funcnet.numpy._shape import concatenate, normalize_axis
from funcnet.transforms.custom import custom_jvp

euler_gamma = 0.5772156649015329

# The array-API names jax.numpy also exports: the same functions under a second name.
acos = arccos
acosh = arccosh
asin = arcsin
asinh = arcsinh
atan = arctan
atan2 = arctan2
atanh = arctanh
pow = power
bitwise_invert = invert


def _floats(name, *args):
    check_arraylike(name, *args)
    args = _float_args(*args)
    if len(args) > 1 and builtins.any(a.shape != args[0].shape for a in args):
        args = _broadcast_arrays(*args)
    return args


@_weak_result
def fabs(x, /):
    """|x| as a float, elementwise, as jnp.fabs (integers become the default float).

    Args:
      x: an array or a scalar.

    Returns:
      A floating array of x's shape.
    """
    (x,) = _floats("fabs", x)
    return lax.abs(x)


def positive(x, /):
    """+x: x itself, as jnp.positive.

    Args:
      x: an array or a scalar.

    Returns:
      An array equal to x, of its dtype (weakly typed when x is).
    """
    check_arraylike("positive", x)
    return asarray(x)


@_weak_result
def reciprocal(x, /):
    """1 / x, elementwise, as jnp.reciprocal (integers become the default float).

    Args:
      x: an array or a scalar.

    Returns:
      A floating array of x's shape.
    """
    (x,) = _floats("reciprocal", x)
    return lax.div(_like(x, 1), x)


def rint(x, /):
    """x rounded to the nearest integer (halves to even), as jnp.rint.

    Args:
      x: an array or a scalar; integers become the default float.

    Returns:
      A floating array of x's shape (weakly typed only for a Python float).
    """
    check_arraylike("rint", x)
    weak = isinstance(x, float) or (hasattr(x, "aval") and x.aval.weak_type)
    x = asarray(x)
    if not dtypes.is_inexact(x.dtype):  # as jax: integers become the default float
        return lax.convert_element_type(x, dtypes.default_float())
    (y,) = _float_args(x)
    out = lax.round(y, lax.RoundingMethod.TO_NEAREST_EVEN)
    if not weak and out.aval.weak_type:
        out = lax.convert_element_type(out, out.dtype, weak_type=False)
    return out


def signbit(x, /):
    """Whether the sign bit of x is set (True for -0.0 and for a NaN with its sign bit
    set), as jnp.signbit.

    Args:
      x: an array or a scalar.

    Returns:
      A bool array of x's shape.
    """
    check_arraylike("signbit", x)
    x = asarray(x)
    if dtypes.is_bool(x.dtype) or dtypes.is_unsigned(x.dtype):
        return lax.full_like(x, False, dtypes.bool_)
    if not dtypes.is_float(x.dtype):
        return x < 0
    # The sign bit is the top bit: the float's bits read as a signed integer are < 0.
    bits = np.dtype(f"int{np.dtype(x.dtype).itemsize * 8}")
    return lax.bitcast_convert_type(x, bits) < 0


@_weak_result
def copysign(x1, x2, /):
    """|x1| with the sign of x2, elementwise, as jnp.copysign.

    Args:
      x1: an array or a scalar (the magnitude).
      x2: an array or a scalar (the sign); the two broadcast together.

    Returns:
      A floating array of the broadcast shape.
    """
    x1, x2 = _floats("copysign", x1, x2)
    return where(signbit(x2), -lax.abs(x1), lax.abs(x1))


@_weak_result
def hypot(x1, x2, /):
    """sqrt(x1**2 + x2**2) without overflow or underflow, as jnp.hypot.

    Args:
      x1: an array or a scalar.
      x2: an array or a scalar; the two broadcast together.

    Returns:
      A floating array of the broadcast shape (inf where either is infinite).

    Example:
      >>> float(fnp.hypot(3.0, 4.0))
      5.0
    """
    x1, x2 = _floats("hypot", x1, x2)
    x1, x2 = lax.abs(x1), lax.abs(x2)
    any_inf = lax.bitwise_or(isinf(x1), isinf(x2))
    big, small = lax.max(x1, x2), lax.min(x1, x2)
    safe_big = where(big == 0, _like(big, 1), big)
    ratio = lax.div(small, safe_big)
    out = where(big == 0, big, big * lax.sqrt(_like(big, 1) + ratio * ratio))
    return where(any_inf, _like(out, np.inf), out)


@_weak_result
def logaddexp(x1, x2, /, *, out=None, where=None):
    """log(exp(x1) + exp(x2)) without overflow, as jnp.logaddexp.

    Args:
      x1: an array or a scalar.
      x2: an array or a scalar; the two broadcast together.
      out: only None (arrays are immutable).
      where: only None (use fnp.where for a mask).

    Returns:
      A floating array of the broadcast shape.

    Example:
      >>> round(float(fnp.logaddexp(1000.0, 1000.0)), 2)
      1000.69
    """
    if out is not None or where is not None:
        _ufunc_kwargs("logaddexp", out, where)
    x1, x2 = _floats("logaddexp", x1, x2)
    amax = lax.max(x1, x2)
    delta = lax.sub(x1, x2)
    # Equal infinities give a nan delta: the answer is then that infinity (x1 + x2).
    return _where(isnan(delta), x1 + x2, amax + lax.log1p(lax.exp(-lax.abs(delta))))


@_weak_result
def logaddexp2(x1, x2, /, *, out=None, where=None):
    """log2(2**x1 + 2**x2) without overflow, as jnp.logaddexp2.

    Args:
      x1: an array or a scalar.
      x2: an array or a scalar; the two broadcast together.
      out: only None (arrays are immutable).
      where: only None (use fnp.where for a mask).

    Returns:
      A floating array of the broadcast shape.
    """
    if out is not None or where is not None:
        _ufunc_kwargs("logaddexp2", out, where)
    x1, x2 = _floats("logaddexp2", x1, x2)
    amax = lax.max(x1, x2)
    delta = lax.sub(x1, x2)
    tail = lax.log1p(lax.exp2(-lax.abs(delta))) * _like(x1, 1 / math.log(2))
    return _where(isnan(delta), x1 + x2, amax + tail)


def _scale(name, factor, mirror):
    @_weak_result
    def fn(x, /):
        (x,) = _floats(name, x)
        return lax.mul(x, _like(x, factor))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (
        f"x * {mirror}, elementwise, as jnp.{name}.\n\nArgs:\n  x: an array or a scalar "
        "(integers become the default float).\n\nReturns:\n  A floating array of x's shape.\n"
    )
    return fn


deg2rad = _scale("deg2rad", np.pi / 180, "pi / 180 (degrees to radians)")
radians = _scale("radians", np.pi / 180, "pi / 180 (degrees to radians)")
rad2deg = _scale("rad2deg", 180 / np.pi, "180 / pi (radians to degrees)")
degrees = _scale("degrees", 180 / np.pi, "180 / pi (radians to degrees)")


@_weak_result
def sinc(x, /):
    """sin(pi x) / (pi x), 1 at 0, as jnp.sinc; derivatives are right at 0 too.

    Args:
      x: an array or a scalar.

    Returns:
      A floating array of x's shape.

    Example:
      >>> fnp.sinc(fnp.array([0.0, 0.5])).tolist()
      [1.0, 0.6366197466850281]
    """
    (x,) = _floats("sinc", x)
    is_zero = x == 0
    safe = where(is_zero, _like(x, 1), x)
    pi_x = lax.mul(safe, _like(x, np.pi))
    # At 0 the value comes from the Maclaurin series, evaluated at x so that its
    # derivatives (0, -pi^2/3, ...) flow where sin(pi x)/(pi x) would give 0/0.
    z2 = lax.square(lax.mul(x, _like(x, np.pi)))
    series = _like(x, 1) - z2 * _like(x, 1 / 6) + z2 * z2 * _like(x, 1 / 120)
    return where(is_zero, series, lax.div(lax.sin(pi_x), pi_x))


@_weak_result
def heaviside(x1, x2, /):
    """The Heaviside step: 0 for x1 < 0, x2 at 0, 1 for x1 > 0, as jnp.heaviside.

    Args:
      x1: an array or a scalar.
      x2: the value at x1 == 0 (broadcasts with x1).

    Returns:
      A floating array of the broadcast shape.
    """
    x1, x2 = _floats("heaviside", x1, x2)
    return where(x1 < 0, _like(x1, 0), where(x1 > 0, _like(x1, 1), x2))


def _nan_aware(name, pick, doc):
    def fn(x1, x2):
        check_arraylike(name, x1, x2)
        x1, x2 = promote(x1, x2)
        x1, x2 = _broadcast_arrays(x1, x2)
        if not dtypes.is_inexact(x1.dtype):
            return pick(x1, x2)
        return where(isnan(x2), x1, where(isnan(x1), x2, pick(x1, x2)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


_FMAX_DOC = """The elementwise {what}, ignoring NaNs (nan only where both are), as jnp.{name}.

Args:
  x1: an array or a scalar.
  x2: an array or a scalar; the two broadcast and promote together.

Returns:
  An array of the broadcast shape and promoted dtype.
"""
fmax = _nan_aware("fmax", maximum, _FMAX_DOC.format(what="maximum", name="fmax"))
fmin = _nan_aware("fmin", minimum, _FMAX_DOC.format(what="minimum", name="fmin"))


@_weak_result
def float_power(x, y, /):
    """x ** y computed in floating point, as jnp.float_power.

    Args:
      x: an array or a scalar (the base).
      y: an array or a scalar (the exponent); the two broadcast together.

    Returns:
      A floating array of the broadcast shape (x64 is not forced: float32 stays float32).
    """
    x, y = _floats("float_power", x, y)
    return lax.pow(x, y)


def divmod(x1, x2, /):
    """(x1 // x2, x1 % x2), as jnp.divmod.

    Args:
      x1: an array or a scalar (the dividend).
      x2: an array or a scalar (the divisor).

    Returns:
      A pair of arrays (floor quotient, remainder with x2's sign).
    """
    check_arraylike("divmod", x1, x2)
    return floor_divide(x1, x2), remainder(x1, x2)


def modf(x, /, out=None):
    """The fractional and integral parts of x (both with x's sign), as jnp.modf.

    Args:
      x: an array or a scalar.
      out: only None.

    Returns:
      A pair (fractional part, integral part) of floating arrays.
    """
    check_arraylike("modf", x)
    if out is not None:
        raise NotImplementedError("The 'out' argument to modf is not supported.")
    (x,) = _float_args(x)
    whole = trunc(x)
    return x - whole, whole


def frexp(x, /):
    """Mantissa and exponent: x == m * 2**e with 0.5 <= |m| < 1, as jnp.frexp.

    Args:
      x: a float array or scalar (integers become the default float).

    Returns:
      A pair (m of x's float dtype, e as int32); (0, 0) at 0, (x, 0) for inf and nan.
    """
    check_arraylike("frexp", x)
    (x,) = _float_args(x)
    x = lax.convert_element_type(x, x.dtype, weak_type=False)
    ax = lax.abs(x)
    special = (ax == 0) | isinf(x) | isnan(x)
    safe = where(special, _like(x, 1), ax)
    e = lax.floor(lax.div(lax.log(safe), _like(x, math.log(2)))) + _like(x, 1)
    # log2 may be off by one ulp near powers of two: fix e so that 0.5 <= |m| < 1.
    m = lax.div(safe, _ldexp_float(_like(x, 1), e))
    e = where(m >= 1, e + 1, where(m < 0.5, e - 1, e))
    m = lax.div(x, _ldexp_float(_like(x, 1), e))
    e = astype(where(special, _like(e, 0), e), np.int32)
    return where(special, x, m), e


def _ldexp_float(x, e):
    # Two halves so that 2**e never overflows while x * 2**e still fits.
    half = lax.floor(lax.div(e, _like(e, 2)))
    return x * lax.exp2(half) * lax.exp2(e - half)


def ldexp(x1, x2, /):
    """x1 * 2**x2, as jnp.ldexp.

    Args:
      x1: an array or a scalar (integers become the default float).
      x2: an integer array or scalar (the exponent).

    Returns:
      A floating array of the broadcast shape and x1's float dtype.

    Raises:
      ValueError: for a non-integer exponent.
    """
    check_arraylike("ldexp", x1, x2)
    x2 = asarray(x2)
    if not (dtypes.is_int(x2.dtype) or dtypes.is_bool(x2.dtype)):
        raise ValueError(f"ldexp: x2 must be an integer array, got dtype {x2.dtype}{_at()}")
    (x1,) = _float_args(x1)
    x1, e = _broadcast_arrays(x1, lax.convert_element_type(x2, x1.dtype))
    return _ldexp_float(x1, e)


def _integers(name, x1, x2):
    check_arraylike(name, x1, x2)
    x1, x2 = promote(x1, x2)
    if not (dtypes.is_int(x1.dtype) or dtypes.is_bool(x1.dtype)):
        raise ValueError(f"{name} requires integer arguments, got dtype {x1.dtype}{_at()}")
    return _broadcast_arrays(x1, x2)


def _gcd(x1, x2):
    def cond(carry):
        _, b = carry
        return lax.reduce_or(b != 0, tuple(range(b.ndim)))

    def body(carry):
        a, b = carry
        nonzero = b != 0
        safe_b = where(nonzero, b, _like(b, 1))
        return where(nonzero, b, a), where(nonzero, lax.rem(a, safe_b), _like(b, 0))

    a, b = lax.abs(x1), lax.abs(x2)
    a, b = lax.while_loop(cond, body, (lax.max(a, b), lax.min(a, b)))
    return a


def gcd(x1, x2):
    """The greatest common divisor of |x1| and |x2|, elementwise, as jnp.gcd.

    Args:
      x1: an integer array or scalar.
      x2: an integer array or scalar; the two broadcast together.

    Returns:
      An integer array of the broadcast shape (gcd(0, 0) is 0).

    Raises:
      ValueError: for non-integer input.

    Example:
      >>> fnp.gcd(fnp.array([12, 18]), 8).tolist()
      [4, 2]
    """
    x1, x2 = _integers("gcd", x1, x2)
    if dtypes.is_bool(x1.dtype):
        return x1 | x2
    return _gcd(x1, x2)


def lcm(x1, x2):
    """The least common multiple of |x1| and |x2|, elementwise, as jnp.lcm.

    Args:
      x1: an integer array or scalar.
      x2: an integer array or scalar; the two broadcast together.

    Returns:
      An integer array of the broadcast shape (0 when either is 0).

    Raises:
      ValueError: for non-integer input.
    """
    x1, x2 = _integers("lcm", x1, x2)
    if dtypes.is_bool(x1.dtype):
        return x1 & x2
    d = _gcd(x1, x2)
    safe = where(d == 0, _like(d, 1), d)
    return where(d == 0, _like(d, 0), lax.abs(lax.mul(lax.div(x1, safe), x2)))


def _shift(name, x1, x2, left):
    x1, x2 = _integers(name, x1, x2)
    if dtypes.is_bool(x1.dtype):
        raise ValueError(f"{name} requires integer arguments, got dtype bool{_at()}")
    if left:
        return lax.shift_left(x1, x2)
    if dtypes.is_unsigned(x1.dtype):
        return lax.shift_right_logical(x1, x2)
    return lax.shift_right_arithmetic(x1, x2)


def left_shift(x, y, /):
    """x << y, elementwise, as jnp.left_shift.

    Args:
      x: an integer array or scalar.
      y: an integer array or scalar (the shift).

    Returns:
      An integer array of the broadcast shape.

    Raises:
      ValueError: for non-integer input.
    """
    return _shift("left_shift", x, y, True)


def right_shift(x1, x2, /):
    """x1 >> x2 (arithmetic for signed, logical for unsigned), as jnp.right_shift.

    Args:
      x1: an integer array or scalar.
      x2: an integer array or scalar (the shift).

    Returns:
      An integer array of the broadcast shape.

    Raises:
      ValueError: for non-integer input.
    """
    return _shift("right_shift", x1, x2, False)


bitwise_left_shift = left_shift
bitwise_right_shift = right_shift


def bitwise_count(x, /):
    """The number of 1 bits in |x|, elementwise, as jnp.bitwise_count.

    Args:
      x: an integer or bool array or scalar.

    Returns:
      A uint8 array of x's shape.

    Raises:
      TypeError: for floating input.
    """
    check_arraylike("bitwise_count", x)
    x = asarray(x)
    if not (dtypes.is_int(x.dtype) or dtypes.is_bool(x.dtype)):
        raise TypeError(f"bitwise_count requires an integer array, got dtype {x.dtype}{_at()}")
    if dtypes.is_bool(x.dtype):
        return astype(x, np.uint8)
    if not dtypes.is_unsigned(x.dtype):
        x = lax.abs(x)
    x = lax.convert_element_type(x, x.dtype, weak_type=False)
    return astype(lax.population_count(x), np.uint8)


def nextafter(x, y, /):
    """The next representable float after x in the direction of y, as jnp.nextafter.

    Args:
      x: an array or a scalar.
      y: an array or a scalar (the direction).

    Returns:
      A floating array of the broadcast shape.
    """
    x, y = _floats("nextafter", x, y)
    return lax.nextafter(x, y)


def spacing(x, /):
    """The distance from x to the next float away from zero, as jnp.spacing.

    Args:
      x: an array or a scalar (integers become the default float).

    Returns:
      A floating array of x's shape (negative for negative x).
    """
    check_arraylike("spacing", x)
    (x,) = _float_args(x)
    x = lax.convert_element_type(x, x.dtype, weak_type=False)
    toward = where(signbit(x), _like(x, -np.inf), _like(x, np.inf))
    return lax.nextafter(x, toward) - x


def isposinf(x, /, out=None):
    """Whether x is +inf, elementwise, as jnp.isposinf.

    Args:
      x: an array or a scalar.
      out: only None.

    Returns:
      A bool array of x's shape.
    """
    check_arraylike("isposinf", x)
    if out is not None:
        raise NotImplementedError("The 'out' argument to isposinf is not supported.")
    x = asarray(x)
    return x == _like(x, np.inf) if dtypes.is_float(x.dtype) else lax.full_like(x, False, bool)


def isneginf(x, /, out=None):
    """Whether x is -inf, elementwise, as jnp.isneginf.

    Args:
      x: an array or a scalar.
      out: only None.

    Returns:
      A bool array of x's shape.
    """
    check_arraylike("isneginf", x)
    if out is not None:
        raise NotImplementedError("The 'out' argument to isneginf is not supported.")
    x = asarray(x)
    return x == _like(x, -np.inf) if dtypes.is_float(x.dtype) else lax.full_like(x, False, bool)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """x with nan, +inf and -inf replaced by finite numbers, as jnp.nan_to_num.

    Args:
      x: an array or a scalar; integer and bool arrays come back unchanged.
      copy: accepted for NumPy compatibility (arrays are immutable).
      nan: the value for nan.
      posinf: the value for +inf (default: the dtype's largest finite value).
      neginf: the value for -inf (default: the dtype's most negative finite value).

    Returns:
      An array of x's shape and dtype.

    Example:
      >>> fnp.nan_to_num(fnp.array([float("nan"), 1.0]), nan=-1.0).tolist()
      [-1.0, 1.0]
    """
    del copy
    check_arraylike("nan_to_num", x)
    x = asarray(x)
    if not dtypes.is_float(x.dtype):
        return x
    info = np.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = where(isnan(x), _like(x, nan), x)
    out = where(out == _like(x, np.inf), _like(x, posinf), out)
    out = where(out == _like(x, -np.inf), _like(x, neginf), out)
    return lax.convert_element_type(out, x.dtype, weak_type=x.aval.weak_type)


@_weak_result
def i0(x):
    """The modified Bessel function of the first kind, order 0, as jnp.i0.

    Args:
      x: an array or a scalar (integers become the default float).

    Returns:
      A floating array of x's shape.

    Example:
      >>> round(float(fnp.i0(1.0)), 6)
      1.266066
    """
    (x,) = _floats("i0", x)
    return _i0(x)


@custom_jvp
def _i0(x):
    return lax.exp(lax.abs(x)) * lax.bessel_i0e(x)  # as jax: on the scaled primitive


@_i0.defjvp
def _i0_jvp(primals, tangents):
    # I0' = I1 (jax's rule; differentiating |x| would give a kink at 0 that I0 lacks)
    (x,), (t,) = primals, tangents
    return _i0(x), lax.exp(lax.abs(x)) * lax.bessel_i1e(x) * t


def isscalar(element):
    """Whether element is a scalar (a Python number or a 0-d array), as jnp.isscalar.

    Args:
      element: anything.

    Returns:
      A Python bool: True for Python and NumPy scalars and for 0-d funcnet arrays.
    """
    if hasattr(element, "__jax_array__"):
        element = element.__jax_array__()
    if isinstance(element, (bool, int, float, complex, np.generic)):
        return True
    shape = getattr(element, "shape", None)
    return shape == () and hasattr(element, "aval")


def iterable(y):
    """Whether iter(y) works, as jnp.iterable.

    Args:
      y: anything.

    Returns:
      A Python bool.
    """
    try:
        iter(y)
    except TypeError:
        return False
    return True


def unwrap(p, discont=None, axis=-1, period=2 * np.pi):
    """p with jumps larger than discont (default period / 2) along axis undone by adding
    multiples of period, as jnp.unwrap.

    Args:
      p: an array.
      discont: the largest jump left alone (default period / 2).
      axis: the axis to unwrap along.
      period: the period of the values (default 2 pi).

    Returns:
      A floating array of p's shape.
    """
    check_arraylike("unwrap", p)
    (p,) = _float_args(p)
    p = lax.convert_element_type(p, p.dtype, weak_type=False)
    axis = normalize_axis(axis, p.ndim)
    if p.shape[axis] == 0:
        return p
    half = period / 2
    discont = half if discont is None else discont
    dd = diff(p, axis=axis)
    ddmod = remainder(dd + half, period) - half
    ddmod = where((ddmod == -half) & (dd > 0), _like(ddmod, half), ddmod)
    correction = where(lax.abs(dd) < discont, _like(dd, 0), ddmod - dd)
    first = lax.slice_in_dim(p, 0, 1, axis=axis)
    return concatenate(
        [first, lax.slice_in_dim(p, 1, None, axis=axis) + cumsum(correction, axis=axis)], axis=axis
    )
