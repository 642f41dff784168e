"""Elementwise primitives: unary math, binary arithmetic, comparisons, select, convert.

Primitives require equal shapes and dtypes (weak types aside); broadcasting and
promotion happen one level up, in funcnet.numpy.
"""

import enum as _enum

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax.broadcast import broadcast_in_dim

FLOAT, INT, SIGNED, BOOL, COMPLEX = "float", "int", "signed int", "bool", "complex"
_KIND_CHECK = {
    FLOAT: dtypes.is_float,
    COMPLEX: dtypes.is_complex,
    INT: dtypes.is_int,
    SIGNED: lambda d: dtypes.is_int(d) and not dtypes.is_unsigned(d),
    BOOL: dtypes.is_bool,
}


def _check_kinds(prim, aval, kinds):
    if not any(_KIND_CHECK[k](aval.dtype) for k in kinds):
        raise TypeError(
            f"{prim} does not accept dtype {aval.dtype} "
            f"(it takes {' or '.join(kinds)} arrays){where()}"
        )


def _unary_abstract_eval(prim, kinds, out_dtype=None):
    def rule(x, **params):
        _check_kinds(prim, x, kinds)
        if out_dtype is not None:
            return ShapedArray(x.shape, out_dtype)
        return x

    return rule


def unary(name, kinds=(FLOAT,), out_dtype=None) -> Primitive:
    p = Primitive(name)
    p.def_abstract_eval(_unary_abstract_eval(p, kinds, out_dtype))
    return p


# Ops that StableHLO and jax define on complex numbers list COMPLEX among their kinds;
# the others (ordering, rounding, special functions) refuse complex arrays by name.
FC = (FLOAT, COMPLEX)
neg_p = unary("neg", (FLOAT, INT, COMPLEX))
sign_p = unary("sign", (FLOAT, INT, COMPLEX))
floor_p = unary("floor")
ceil_p = unary("ceil")
round_p = unary("round")  # params: rounding_method (0 = away from zero, 1 = to even)
is_finite_p = unary("is_finite", (FLOAT,), out_dtype=dtypes.bool_)
exp_p = unary("exp", FC)
exp2_p = unary("exp2", FC)
log_p = unary("log", FC)
log1p_p = unary("log1p", FC)
expm1_p = unary("expm1", FC)
tanh_p = unary("tanh", FC)
logistic_p = unary("logistic", FC)
sin_p = unary("sin", FC)
cos_p = unary("cos", FC)
tan_p = unary("tan", FC)
asin_p = unary("asin", FC)
acos_p = unary("acos", FC)
atan_p = unary("atan", FC)
sinh_p = unary("sinh", FC)
cosh_p = unary("cosh", FC)
asinh_p = unary("asinh", FC)
acosh_p = unary("acosh", FC)
atanh_p = unary("atanh", FC)
sqrt_p = unary("sqrt", FC)
rsqrt_p = unary("rsqrt", FC)
cbrt_p = unary("cbrt")
abs_p = Primitive("abs")  # StableHLO has no unsigned abs (nor does jax.lax)


@abs_p.def_abstract_eval
def _abs_abstract_eval(x):
    _check_kinds(abs_p, x, (FLOAT, SIGNED, COMPLEX))
    return x.update(dtype=dtypes.real_dtype(x.dtype))  # |complex| is real


not_p = unary("not", (BOOL, INT))
erf_p = unary("erf")
erfc_p = unary("erfc")  # its own op: 1 - erf(x) would lose every digit for large x
erf_inv_p = unary("erf_inv")
lgamma_p = unary("lgamma")
digamma_p = unary("digamma")
square_p = unary("square", (FLOAT, INT, COMPLEX))
population_count_p = unary("population_count", (INT,))
clz_p = unary("clz", (INT,))

integer_pow_p = Primitive("integer_pow")


@integer_pow_p.def_abstract_eval
def _integer_pow_abstract_eval(x, *, y):
    _check_kinds(integer_pow_p, x, (FLOAT, INT, COMPLEX))
    if y < 0 and not dtypes.is_inexact(x.dtype):
        # 1 / x**n would silently truncate to 0 (or divide by zero) on integers.
        raise TypeError(
            f"integer_pow: integers cannot be raised to the negative power {y} "
            f"({x.str_short()}){where()}"
        )
    return x


def _binary_abstract_eval(prim, kinds, out_dtype=None):
    def rule(x, y):
        if x.shape != y.shape:
            raise TypeError(f"{prim} got incompatible shapes {x.shape} and {y.shape}{where()}")
        if x.dtype != y.dtype:
            raise TypeError(f"{prim} got different dtypes {x.dtype} and {y.dtype}{where()}")
        _check_kinds(prim, x, kinds)
        weak = x.weak_type and y.weak_type
        return ShapedArray(
            x.shape, x.dtype if out_dtype is None else out_dtype, weak and out_dtype is None
        )

    return rule


def binary(name, kinds=(FLOAT, INT), out_dtype=None) -> Primitive:
    p = Primitive(name)
    p.def_abstract_eval(_binary_abstract_eval(p, kinds, out_dtype))
    return p


add_p = binary("add", (FLOAT, INT, COMPLEX))
sub_p = binary("sub", (FLOAT, INT, COMPLEX))
mul_p = binary("mul", (FLOAT, INT, BOOL, COMPLEX))
div_p = binary("div", (FLOAT, INT, COMPLEX))
rem_p = binary("rem")
pow_p = binary("pow", FC)
max_p = binary("max", (FLOAT, INT, BOOL))
min_p = binary("min", (FLOAT, INT, BOOL))
atan2_p = binary("atan2", (FLOAT,))
nextafter_p = binary("nextafter", (FLOAT,))
and_p = binary("and", (BOOL, INT))
or_p = binary("or", (BOOL, INT))
xor_p = binary("xor", (BOOL, INT))
shift_left_p = binary("shift_left", (INT,))
shift_right_arithmetic_p = binary("shift_right_arithmetic", (INT,))
shift_right_logical_p = binary("shift_right_logical", (INT,))

eq_p = binary("eq", (FLOAT, INT, BOOL, COMPLEX), dtypes.bool_)
ne_p = binary("ne", (FLOAT, INT, BOOL, COMPLEX), dtypes.bool_)
lt_p = binary("lt", (FLOAT, INT, BOOL), dtypes.bool_)
le_p = binary("le", (FLOAT, INT, BOOL), dtypes.bool_)
gt_p = binary("gt", (FLOAT, INT, BOOL), dtypes.bool_)
ge_p = binary("ge", (FLOAT, INT, BOOL), dtypes.bool_)

COMPARISONS = {eq_p: "EQ", ne_p: "NE", lt_p: "LT", le_p: "LE", gt_p: "GT", ge_p: "GE"}

# select_n(which, *cases): which is bool (2 cases) or int32; picks cases[which] elementwise.
select_n_p = Primitive("select_n")


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select_n needs at least one case")
    first = cases[0]
    for c in cases[1:]:
        if c.shape != first.shape or c.dtype != first.dtype:
            raise TypeError(
                f"select_n cases must agree in shape and dtype, got "
                f"{first.str_short()} and {c.str_short()}{where()}"
            )
    if which.shape not in ((), first.shape):
        raise TypeError(
            f"select_n predicate of shape {which.shape} does not fit "
            f"cases of shape {first.shape}{where()}"
        )
    if which.dtype == dtypes.bool_:
        if len(cases) > 2:
            raise TypeError("a boolean select_n takes at most two cases")
    elif which.dtype != dtypes.int32:
        raise TypeError(f"select_n predicate must be bool or int32, got {which.dtype}")
    return first.update(weak_type=all(c.weak_type for c in cases))


clamp_p = Primitive("clamp")


@clamp_p.def_abstract_eval
def _clamp_abstract_eval(lo, x, hi):
    for b in (lo, hi):
        if b.dtype != x.dtype or b.shape not in ((), x.shape):
            raise TypeError(f"clamp bounds {b.str_short()} do not fit {x.str_short()}{where()}")
    return x


convert_element_type_p = Primitive("convert_element_type")


@convert_element_type_p.def_abstract_eval
def _convert_abstract_eval(x, *, new_dtype, weak_type=False):
    return ShapedArray(x.shape, new_dtype, weak_type)


# copy is the identity; transformations use it to materialize a fresh value.
copy_p = unary("copy", (FLOAT, INT, BOOL, COMPLEX))


# --- user-facing binders (funcnet.lax) ---------------------------------------


class RoundingMethod(_enum.IntEnum):
    """How `round` breaks ties between two integers, as jax.lax.RoundingMethod:
    AWAY_FROM_ZERO (0) rounds 0.5 to 1 and -2.5 to -3; TO_NEAREST_EVEN (1) rounds to the
    even neighbour, 0.5 to 0 and 1.5 to 2 (NumPy's rule).

    Args:
      value: 0 or 1: `RoundingMethod(value)` is the member AWAY_FROM_ZERO or
        TO_NEAREST_EVEN (an IntEnum, so `round` also takes the plain ints).

    Returns:
      The enum member.
    """

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def convert_element_type(operand, new_dtype, *, weak_type=False):
    """`operand` converted elementwise to `new_dtype`, as jax.lax.convert_element_type:
    floats to integers round toward zero, numbers to bool are True when nonzero, and bools
    to numbers are 0 or 1.

    Args:
      operand: an array, or a Python or NumPy scalar.
      new_dtype: the target dtype, anything NumPy understands (`np.int32`, `'float16'`,
        `float`, ...), canonicalized as funcnet does: 64-bit types become 32-bit unless x64
        is enabled.
      weak_type: make the result weakly typed, as a Python scalar's dtype is (so that it
        gives way in type promotion); False by default. (A funcnet keyword; jax's public
        function has none.)

    Returns:
      An array of `operand`'s shape and the canonical `new_dtype`.

    Raises:
      TypeError: for a dtype funcnet does not support.

    Example:
      >>> lax.convert_element_type(fnp.array([1.7, -1.7, 0.0]), np.int32).tolist()
      [1, -1, 0]
      >>> lax.convert_element_type(fnp.array([2.0, 0.0]), bool).tolist()
      [True, False]
    """
    new_dtype = dtypes.canonicalize(new_dtype)
    return convert_element_type_p.bind(operand, new_dtype=new_dtype, weak_type=bool(weak_type))


def integer_pow(x, y: int):
    """Elementwise `x ** y` for a static integer exponent, as jax.lax.integer_pow
    (computed by repeated squaring, so exact for integers).

    Args:
      x: a floating-point or integer array.
      y: a Python int; `x ** 0` is 1, and a negative `y` takes the reciprocal, which needs
        a floating-point `x`.

    Returns:
      An array of `x`'s shape and dtype.

    Raises:
      TypeError: for a negative `y` with an integer `x`, or an `x` of another dtype.

    Example:
      >>> lax.integer_pow(fnp.array([2, 3]), 3).tolist()
      [8, 27]
    """
    return integer_pow_p.bind(x, y=int(y))


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):
    """Elementwise `x` rounded to the nearest integer (still a float), as jax.lax.round.

    Args:
      x: a floating-point array.
      rounding_method: how ties break: `RoundingMethod.AWAY_FROM_ZERO` (the default, as in
        jax) or `RoundingMethod.TO_NEAREST_EVEN`, or the ints 0 and 1.

    Returns:
      An array of `x`'s shape and dtype.

    Example:
      >>> lax.round(fnp.array([0.5, 1.5, 2.5, -0.5])).tolist()
      [1.0, 2.0, 3.0, -1.0]
      >>> lax.round(fnp.array([0.5, 1.5, 2.5]), lax.RoundingMethod.TO_NEAREST_EVEN).tolist()
      [0.0, 2.0, 2.0]
    """
    return round_p.bind(x, rounding_method=int(rounding_method))


def select_n(which, *cases):
    """Elementwise `cases[which]`, as jax.lax.select_n.

    Args:
      which: the selector: a bool array (then at most two cases: False picks `cases[0]`,
        True `cases[1]`) or an int32 array of values in `[0, len(cases))`, of the cases'
        shape, or a scalar that picks one case for every element.
      *cases: one or more arrays of one shape and dtype.

    Returns:
      An array of the cases' shape and dtype.

    Raises:
      TypeError: for no cases, cases of different shapes or dtypes, a selector that does not
        fit them, or a selector that is neither bool nor int32.

    Example:
      >>> which = fnp.array([True, False])
      >>> lax.select_n(which, fnp.array([1.0, 2.0]), fnp.array([3.0, 4.0])).tolist()
      [3.0, 2.0]
      >>> which = fnp.array([0, 2, 1], dtype=np.int32)
      >>> lax.select_n(which, fnp.zeros(3), fnp.ones(3), fnp.full(3, 2.0)).tolist()
      [0.0, 2.0, 1.0]
    """
    return select_n_p.bind(which, *cases)


def select(pred, on_true, on_false):
    """Elementwise `on_true` where `pred` else `on_false`, as jax.lax.select (a `select_n`
    with the cases swapped).

    Args:
      pred: a bool array of the cases' shape, or a bool scalar.
      on_true: an array.
      on_false: an array of `on_true`'s shape and dtype.

    Returns:
      An array of `on_true`'s shape and dtype.

    Raises:
      TypeError: when the shapes or dtypes do not fit.
    """
    return select_n_p.bind(pred, on_false, on_true)


def clamp(min, x, max):
    """Elementwise `x` clipped to `[min, max]`, as jax.lax.clamp.

    Args:
      min: the lower bound: a scalar, or an array of `x`'s shape; of `x`'s dtype.
      x: an array.
      max: the upper bound, likewise.

    Returns:
      An array of `x`'s shape and dtype.

    Raises:
      TypeError: for a bound of another dtype or shape.

    Example:
      >>> lax.clamp(0.0, fnp.array([-1.0, 0.5, 2.0]), 1.0).tolist()
      [0.0, 0.5, 1.0]
    """
    return clamp_p.bind(min, x, max)


def reciprocal(x):
    """Elementwise `1 / x`, as jax.lax.reciprocal.

    Args:
      x: a floating-point array.

    Returns:
      An array of `x`'s shape and dtype.

    Raises:
      TypeError: for an integer `x`.
    """
    return integer_pow(x, -1)


def nextafter(x1, x2):
    """Elementwise the next representable value after `x1` in the direction of `x2`
    (`x1` itself where they are equal), as jax.lax.nextafter.

    Args:
      x1: a floating-point array.
      x2: an array of `x1`'s dtype; either may be a scalar (rank 0), and arrays of one rank
        broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and `x1`'s dtype.

    Example:
      >>> lax.nextafter(fnp.array([1.0, 1.0]), fnp.array([2.0, 0.0])).tolist() == [
      ...     1 + 2**-23, 1 - 2**-24]
      True
    """
    return nextafter_p.bind(*broadcast_operands("nextafter", (x1, x2)))


def broadcast_operands(name, args):
    """The operands of an n-ary elementwise op at one shape, as jax.lax takes them: a
    rank-0 operand goes with arrays of any shape, and arrays of equal rank broadcast
    their size-1 axes. (The primitives themselves take equal shapes only.)"""
    shapes = [get_aval(a).shape for a in args]
    if all(s == shapes[0] for s in shapes):
        return args
    ranked = [s for s in shapes if s]
    if len({len(s) for s in ranked}) > 1:
        raise TypeError(
            f"{name}: arrays must have the same number of dimensions (or be "
            f"scalars), got shapes {', '.join(map(str, shapes))}{where()}"
        )
    shape = []
    for sizes in zip(*ranked):
        big = {d for d in sizes if d != 1}
        if len(big) > 1:
            raise TypeError(
                f"{name} got incompatible shapes for broadcasting: "
                f"{' and '.join(map(str, shapes))}{where()}"
            )
        shape.append(big.pop() if big else 1)
    shape = tuple(shape)
    return [
        a if s == shape else broadcast_in_dim(a, shape, range(len(s))) for a, s in zip(args, shapes)
    ]


def _bind_broadcasting(p, x, y):
    try:  # the common case, arrays of one shape: nothing to broadcast
        if x.shape == y.shape:
            return p.bind(x, y)
    except AttributeError:  # a Python scalar
        pass
    return p.bind(*broadcast_operands(p.name, (x, y)))


UNARY = [
    neg_p,
    sign_p,
    floor_p,
    ceil_p,
    is_finite_p,
    exp_p,
    exp2_p,
    log_p,
    log1p_p,
    expm1_p,
    tanh_p,
    logistic_p,
    sin_p,
    cos_p,
    tan_p,
    asin_p,
    acos_p,
    atan_p,
    sinh_p,
    cosh_p,
    asinh_p,
    acosh_p,
    atanh_p,
    sqrt_p,
    rsqrt_p,
    cbrt_p,
    abs_p,
    not_p,
    erf_p,
    erf_inv_p,
    lgamma_p,
    digamma_p,
    square_p,
    copy_p,
    erfc_p,
    population_count_p,
    clz_p,
]
BINARY = [
    add_p,
    sub_p,
    mul_p,
    div_p,
    rem_p,
    pow_p,
    max_p,
    min_p,
    atan2_p,
    nextafter_p,
    and_p,
    or_p,
    xor_p,
    shift_left_p,
    shift_right_arithmetic_p,
    shift_right_logical_p,
    eq_p,
    ne_p,
    lt_p,
    le_p,
    gt_p,
    ge_p,
]

# --- elementwise binders: jax.lax's names; binary ones broadcast scalars, as jax.lax ---


def neg(x):
    """Elementwise -x, as jax.lax.neg.

    Args:
      x: a floating-point or integer array.

    Returns:
      An array of x's shape and dtype.
    """
    return neg_p.bind(x)


def sign(x):
    """Elementwise the sign of x (-1, 0 or 1; NaN for NaN), as jax.lax.sign.

    Args:
      x: a floating-point or integer array.

    Returns:
      An array of x's shape and dtype.
    """
    return sign_p.bind(x)


def floor(x):
    """Elementwise x rounded toward -inf, as jax.lax.floor.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return floor_p.bind(x)


def ceil(x):
    """Elementwise x rounded toward +inf, as jax.lax.ceil.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return ceil_p.bind(x)


def is_finite(x):
    """Elementwise whether x is neither infinite nor NaN (a bool array), as jax.lax.is_finite.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape (bool).
    """
    return is_finite_p.bind(x)


def exp(x):
    """Elementwise e ** x, as jax.lax.exp.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return exp_p.bind(x)


def exp2(x):
    """Elementwise 2 ** x, as jax.lax.exp2.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return exp2_p.bind(x)


def log(x):
    """Elementwise the natural logarithm of x, as jax.lax.log.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return log_p.bind(x)


def log1p(x):
    """Elementwise log(1 + x), accurate for small x, as jax.lax.log1p.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return log1p_p.bind(x)


def expm1(x):
    """Elementwise e ** x - 1, accurate for small x, as jax.lax.expm1.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return expm1_p.bind(x)


def tanh(x):
    """Elementwise the hyperbolic tangent of x, as jax.lax.tanh.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return tanh_p.bind(x)


def logistic(x):
    """Elementwise the logistic sigmoid 1 / (1 + e ** -x), as jax.lax.logistic.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return logistic_p.bind(x)


def sin(x):
    """Elementwise the sine of x, as jax.lax.sin.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return sin_p.bind(x)


def cos(x):
    """Elementwise the cosine of x, as jax.lax.cos.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return cos_p.bind(x)


def tan(x):
    """Elementwise the tangent of x, as jax.lax.tan.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return tan_p.bind(x)


def asin(x):
    """Elementwise the arcsine of x, as jax.lax.asin.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return asin_p.bind(x)


def acos(x):
    """Elementwise the arccosine of x, as jax.lax.acos.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return acos_p.bind(x)


def atan(x):
    """Elementwise the arctangent of x, as jax.lax.atan.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return atan_p.bind(x)


def sinh(x):
    """Elementwise the hyperbolic sine of x, as jax.lax.sinh.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return sinh_p.bind(x)


def cosh(x):
    """Elementwise the hyperbolic cosine of x, as jax.lax.cosh.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return cosh_p.bind(x)


def asinh(x):
    """Elementwise the inverse hyperbolic sine of x, as jax.lax.asinh.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return asinh_p.bind(x)


def acosh(x):
    """Elementwise the inverse hyperbolic cosine of x, as jax.lax.acosh.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return acosh_p.bind(x)


def atanh(x):
    """Elementwise the inverse hyperbolic tangent of x, as jax.lax.atanh.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return atanh_p.bind(x)


def sqrt(x):
    """Elementwise the square root of x, as jax.lax.sqrt.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return sqrt_p.bind(x)


def rsqrt(x):
    """Elementwise 1 / sqrt(x), as jax.lax.rsqrt.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return rsqrt_p.bind(x)


def cbrt(x):
    """Elementwise the cube root of x, as jax.lax.cbrt.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return cbrt_p.bind(x)


def abs(x):
    """Elementwise |x|, as jax.lax.abs.

    Args:
      x: a floating-point or signed integer array.

    Returns:
      An array of x's shape and dtype.
    """
    return abs_p.bind(x)


def bitwise_not(x):
    """Elementwise the bitwise (for booleans: logical) negation of x, as jax.lax.bitwise_not.

    Args:
      x: an integer or boolean array.

    Returns:
      An array of x's shape and dtype.
    """
    return not_p.bind(x)


def erf(x):
    """Elementwise the error function of x, as jax.lax.erf.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return erf_p.bind(x)


def erfc(x):
    """Elementwise 1 - erf(x), accurate for large x, as jax.lax.erfc.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return erfc_p.bind(x)


def erf_inv(x):
    """Elementwise the inverse error function of x, as jax.lax.erf_inv.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return erf_inv_p.bind(x)


def lgamma(x):
    """Elementwise the logarithm of |Gamma(x)|, as jax.lax.lgamma.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return lgamma_p.bind(x)


def digamma(x):
    """Elementwise the digamma function (the derivative of lgamma) of x, as jax.lax.digamma.

    Args:
      x: a floating-point array.

    Returns:
      An array of x's shape and dtype.
    """
    return digamma_p.bind(x)


def square(x):
    """Elementwise x * x, as jax.lax.square.

    Args:
      x: a floating-point or integer array.

    Returns:
      An array of x's shape and dtype.
    """
    return square_p.bind(x)


def copy(x):
    """x itself, as a new value (the identity primitive transformations stage to make a
    value fresh; funcnet's, jax.lax has it as copy_p only).

    Args:
      x: an array.

    Returns:
      An array equal to x.
    """
    return copy_p.bind(x)


def population_count(x):
    """Elementwise the number of set bits of x, as jax.lax.population_count.

    Args:
      x: an integer array.

    Returns:
      An array of x's shape and dtype.
    """
    return population_count_p.bind(x)


def clz(x):
    """Elementwise the number of leading zero bits of x, as jax.lax.clz.

    Args:
      x: an integer array.

    Returns:
      An array of x's shape and dtype.
    """
    return clz_p.bind(x)


def add(x, y):
    """Elementwise x + y, as jax.lax.add.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(add_p, x, y)


def sub(x, y):
    """Elementwise x - y, as jax.lax.sub.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(sub_p, x, y)


def mul(x, y):
    """Elementwise x * y (for booleans: and), as jax.lax.mul.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(mul_p, x, y)


def div(x, y):
    """Elementwise x / y (integers round toward zero), as jax.lax.div.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(div_p, x, y)


def rem(x, y):
    """Elementwise the remainder of x / y, with the sign of x (C's fmod), as jax.lax.rem.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(rem_p, x, y)


def pow(x, y):
    """Elementwise x ** y (floating point), as jax.lax.pow.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(pow_p, x, y)


def max(x, y):
    """Elementwise the larger of x and y (NaN if either is), as jax.lax.max.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(max_p, x, y)


def min(x, y):
    """Elementwise the smaller of x and y (NaN if either is), as jax.lax.min.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(min_p, x, y)


def atan2(x, y):
    """Elementwise the arctangent of x / y, in the quadrant of (y, x), as jax.lax.atan2.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(atan2_p, x, y)


def bitwise_and(x, y):
    """Elementwise x & y (for booleans: logical and), as jax.lax.bitwise_and.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(and_p, x, y)


def bitwise_or(x, y):
    """Elementwise x | y (for booleans: logical or), as jax.lax.bitwise_or.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(or_p, x, y)


def bitwise_xor(x, y):
    """Elementwise x ^ y (for booleans: logical xor), as jax.lax.bitwise_xor.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(xor_p, x, y)


def shift_left(x, y):
    """Elementwise x << y, as jax.lax.shift_left.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(shift_left_p, x, y)


def shift_right_arithmetic(x, y):
    """Elementwise x >> y, filling with the sign bit, as jax.lax.shift_right_arithmetic.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(shift_right_arithmetic_p, x, y)


def shift_right_logical(x, y):
    """Elementwise x >> y, filling with zeros, as jax.lax.shift_right_logical.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      An array of the broadcast shape and the operands' dtype.
    """
    return _bind_broadcasting(shift_right_logical_p, x, y)


def eq(x, y):
    """Elementwise x == y (a bool array), as jax.lax.eq.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      A bool array of the broadcast shape.
    """
    return _bind_broadcasting(eq_p, x, y)


def ne(x, y):
    """Elementwise x != y (a bool array), as jax.lax.ne.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      A bool array of the broadcast shape.
    """
    return _bind_broadcasting(ne_p, x, y)


def lt(x, y):
    """Elementwise x < y (a bool array), as jax.lax.lt.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      A bool array of the broadcast shape.
    """
    return _bind_broadcasting(lt_p, x, y)


def le(x, y):
    """Elementwise x <= y (a bool array), as jax.lax.le.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      A bool array of the broadcast shape.
    """
    return _bind_broadcasting(le_p, x, y)


def gt(x, y):
    """Elementwise x > y (a bool array), as jax.lax.gt.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      A bool array of the broadcast shape.
    """
    return _bind_broadcasting(gt_p, x, y)


def ge(x, y):
    """Elementwise x >= y (a bool array), as jax.lax.ge.

    Args:
      x, y: arrays of one dtype and shape; either may be a scalar (rank 0), and arrays of
        one rank broadcast their size-1 axes.

    Returns:
      A bool array of the broadcast shape.
    """
    return _bind_broadcasting(ge_p, x, y)


# --- complex numbers --------------------------------------------------------------


def _complex_part_abstract_eval(prim):
    def rule(x):
        _check_kinds(prim, x, (COMPLEX,))
        return x.update(dtype=dtypes.real_dtype(x.dtype))

    return rule


real_p = Primitive("real")
real_p.def_abstract_eval(_complex_part_abstract_eval(real_p))
imag_p = Primitive("imag")
imag_p.def_abstract_eval(_complex_part_abstract_eval(imag_p))

# conj takes a real or complex array and always returns a complex one, as jax's conj_p;
# `input_dtype` remembers which, for the transpose (a real input takes the real part).
conj_p = Primitive("conj")


@conj_p.def_abstract_eval
def _conj_abstract_eval(x, *, input_dtype):
    _check_kinds(conj_p, x, (FLOAT, COMPLEX))
    return x.update(dtype=dtypes.complex_dtype(x.dtype))


complex_p = Primitive("complex")


@complex_p.def_abstract_eval
def _complex_abstract_eval(x, y):
    if x.shape != y.shape:
        raise TypeError(f"complex got incompatible shapes {x.shape} and {y.shape}{where()}")
    if x.dtype != y.dtype:
        raise TypeError(f"complex got different dtypes {x.dtype} and {y.dtype}{where()}")
    if x.dtype not in (dtypes.float32, dtypes.float64):
        raise TypeError(
            f"complex takes float32 or float64 arrays (the real and imaginary parts), "
            f"got {x.dtype} of shape {x.shape}{where()}"
        )
    return ShapedArray(x.shape, dtypes.complex_dtype(x.dtype), x.weak_type and y.weak_type)


COMPLEX_PARTS = [real_p, imag_p, conj_p, complex_p]  # elementwise, batched as UNARY


def real(x):
    """Elementwise the real part of a complex array, as jax.lax.real.

    Args:
      x: a complex array.

    Returns:
      An array of `x`'s shape and the matching real dtype (complex64 -> float32).

    Raises:
      TypeError: for a real `x` (use it as it is, or `funcnet.numpy.real`).

    Example:
      >>> lax.real(fnp.array([1 + 2j, 3 - 4j])).tolist()
      [1.0, 3.0]
    """
    return real_p.bind(x)


def imag(x):
    """Elementwise the imaginary part of a complex array, as jax.lax.imag.

    Args:
      x: a complex array.

    Returns:
      An array of `x`'s shape and the matching real dtype (complex64 -> float32).

    Raises:
      TypeError: for a real `x`.

    Example:
      >>> lax.imag(fnp.array([1 + 2j, 3 - 4j])).tolist()
      [2.0, -4.0]
    """
    return imag_p.bind(x)


def conj(x):
    """Elementwise the complex conjugate, as jax.lax.conj.

    Args:
      x: a complex or floating-point array.

    Returns:
      A complex array of `x`'s shape (a real `x` becomes complex with zero imaginary
      part, as in jax).

    Raises:
      TypeError: for an integer or bool `x`.

    Example:
      >>> lax.conj(fnp.array([1 + 2j])).tolist()
      [(1-2j)]
    """
    return conj_p.bind(x, input_dtype=get_aval(x).dtype)


def complex(x, y):
    """Elementwise `x + 1j * y`, as jax.lax.complex.

    Args:
      x: the real parts: a float32 or float64 array.
      y: the imaginary parts, of `x`'s dtype; either may be a scalar (rank 0), and arrays
        of one rank broadcast their size-1 axes.

    Returns:
      A complex64 (from float32) or complex128 (from float64) array of the broadcast shape.

    Raises:
      TypeError: for different dtypes or shapes, or parts that are not float32/float64.

    Example:
      >>> lax.complex(fnp.array([1.0, 2.0]), fnp.array([3.0, -1.0])).tolist()
      [(1+3j), (2-1j)]
    """
    return _bind_broadcasting(complex_p, x, y)
