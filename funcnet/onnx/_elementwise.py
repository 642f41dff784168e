"""ONNX translations of the elementwise primitives: arithmetic, comparisons, selects,
conversions and the unary functions of activations and normalizations.

Operands of an elementwise equation already have the result's shape (funcnet broadcasts
explicitly), so ONNX's implicit broadcasting is never relied on except for scalars."""

import numpy as np

from funcnet.core import dtypes
from funcnet.lax import elementwise as ew
from funcnet.lax import windowed as wd
from funcnet.onnx._graph import is_bool, onnx_rules


def _same(op_type):
    def rule(ctx, *args):
        return [ctx.op(op_type, list(args))]

    return rule


_DIRECT = {
    ew.neg_p: "Neg",
    ew.exp_p: "Exp",
    ew.log_p: "Log",
    ew.tanh_p: "Tanh",
    ew.logistic_p: "Sigmoid",
    ew.sqrt_p: "Sqrt",
    ew.abs_p: "Abs",
    ew.sign_p: "Sign",
    ew.erf_p: "Erf",
    ew.floor_p: "Floor",
    ew.ceil_p: "Ceil",
    ew.sin_p: "Sin",
    ew.cos_p: "Cos",
    ew.tan_p: "Tan",
    ew.asin_p: "Asin",
    ew.acos_p: "Acos",
    ew.atan_p: "Atan",
    ew.sinh_p: "Sinh",
    ew.cosh_p: "Cosh",
    ew.asinh_p: "Asinh",
    ew.acosh_p: "Acosh",
    ew.atanh_p: "Atanh",
    ew.add_p: "Add",
    ew.sub_p: "Sub",
    ew.div_p: "Div",
    ew.pow_p: "Pow",
}
for _p, _op in _DIRECT.items():
    onnx_rules.register(_p)(_same(_op))


def _bool_or_number(op_type, bool_op, int_op=None):
    # On booleans mul/min are `and`, max is `or` (as the StableHLO lowering); and/or/xor
    # are logical on booleans and bitwise on integers.
    def rule(ctx, x, y):
        aval = ctx.in_avals[0]
        if is_bool(aval):
            return [ctx.op(bool_op, [x, y])]
        if int_op is not None:
            return [ctx.op(int_op, [x, y])]
        return [ctx.op(op_type, [x, y])]

    return rule


onnx_rules.register(ew.mul_p)(_bool_or_number("Mul", "And"))
onnx_rules.register(ew.max_p)(_bool_or_number("Max", "Or"))
onnx_rules.register(ew.min_p)(_bool_or_number("Min", "And"))
onnx_rules.register(ew.and_p)(_bool_or_number(None, "And", "BitwiseAnd"))
onnx_rules.register(ew.or_p)(_bool_or_number(None, "Or", "BitwiseOr"))
onnx_rules.register(ew.xor_p)(_bool_or_number(None, "Xor", "BitwiseXor"))


@onnx_rules.register(ew.not_p)
def _not(ctx, x):
    return [ctx.op("Not" if is_bool(ctx.in_avals[0]) else "BitwiseNot", [x])]


def _comparison(op_type):
    def rule(ctx, x, y):
        aval = ctx.in_avals[0]
        if is_bool(aval) and op_type != "Equal":  # ONNX orders numbers only
            x, y = (ctx.cast(v, aval.dtype, np.int32) for v in (x, y))
        return [ctx.op(op_type, [x, y])]

    return rule


for _p, _op in {
    ew.eq_p: "Equal",
    ew.lt_p: "Less",
    ew.le_p: "LessOrEqual",
    ew.gt_p: "Greater",
    ew.ge_p: "GreaterOrEqual",
}.items():
    onnx_rules.register(_p)(_comparison(_op))


@onnx_rules.register(ew.ne_p)
def _ne(ctx, x, y):
    return [ctx.op("Not", [ctx.op("Equal", [x, y])])]


@onnx_rules.register(ew.rem_p)
def _rem(ctx, x, y):
    # XLA's remainder takes the dividend's sign, as C's fmod (ONNX Mod with fmod=1).
    return [ctx.op("Mod", [x, y], fmod=1)]


def _one(ctx):
    return ctx.const(np.ones((), ctx.in_avals[0].dtype))


@onnx_rules.register(ew.rsqrt_p)
def _rsqrt(ctx, x):
    return [ctx.op("Div", [_one(ctx), ctx.op("Sqrt", [x])])]


@onnx_rules.register(ew.square_p)
def _square(ctx, x):
    return [ctx.op("Mul", [x, x])]


@onnx_rules.register(ew.exp2_p)
def _exp2(ctx, x):
    return [ctx.op("Pow", [ctx.const(np.asarray(2, ctx.in_avals[0].dtype)), x])]


@onnx_rules.register(ew.log1p_p)
def _log1p(ctx, x):  # ONNX has no log1p: less accurate than funcnet's for |x| << 1
    return [ctx.op("Log", [ctx.op("Add", [x, _one(ctx)])])]


@onnx_rules.register(ew.expm1_p)
def _expm1(ctx, x):  # ONNX has no expm1: less accurate than funcnet's for |x| << 1
    return [ctx.op("Sub", [ctx.op("Exp", [x]), _one(ctx)])]


@onnx_rules.register(ew.is_finite_p)
def _is_finite(ctx, x):
    bad = ctx.op("Or", [ctx.op("IsInf", [x]), ctx.op("IsNaN", [x])])
    return [ctx.op("Not", [bad])]


@onnx_rules.register(ew.round_p)
def _round(ctx, x, *, rounding_method=0):
    if rounding_method != 0:  # to nearest even: ONNX Round
        return [ctx.op("Round", [x])]
    # Half away from zero: sign(x) * floor(|x| + 0.5).
    half = ctx.const(np.asarray(0.5, ctx.in_avals[0].dtype))
    mag = ctx.op("Floor", [ctx.op("Add", [ctx.op("Abs", [x]), half])])
    return [ctx.op("Mul", [ctx.op("Sign", [x]), mag])]


@onnx_rules.register(ew.integer_pow_p)
def _integer_pow(ctx, x, *, y):
    if y == 0:
        shape = ctx.out_avals[0].shape
        return [ctx.op("Expand", [_one(ctx), ctx.ints(shape)])]
    acc, base, n = None, x, abs(y)
    while n:  # exponentiation by squaring, as the StableHLO lowering
        if n & 1:
            acc = base if acc is None else ctx.op("Mul", [acc, base])
        n >>= 1
        if n:
            base = ctx.op("Mul", [base, base])
    if y < 0:
        acc = ctx.op("Div", [_one(ctx), acc])
    return [acc]


@onnx_rules.register(ew.select_n_p)
def _select_n(ctx, which, *cases):
    if len(cases) == 1:
        return [cases[0]]
    which_aval = ctx.in_avals[0]
    if is_bool(which_aval):
        return [ctx.op("Where", [which, cases[1], cases[0]])]
    result = cases[0]
    for i in range(1, len(cases)):
        k = ctx.const(np.asarray(i, which_aval.dtype))
        result = ctx.op("Where", [ctx.op("Equal", [which, k]), cases[i], result])
    return [result]


@onnx_rules.register(ew.clamp_p)
def _clamp(ctx, lo, x, hi):
    return [ctx.op("Max", [ctx.op("Min", [x, hi]), lo])]


@onnx_rules.register(ew.convert_element_type_p)
def _convert(ctx, x, *, new_dtype, weak_type=False):
    src, out = ctx.in_avals[0].dtype, ctx.out_avals[0].dtype
    if src == out:  # a weak type made strong: nothing to do
        return [x]
    if dtypes.is_complex(src) or dtypes.is_complex(out):
        ctx.fail(f"converts {src} to {out}: ONNX runtimes lack complex arithmetic")
    if out == dtypes.bool_:  # nonzero -> True, as NumPy (Cast agrees except for NaN)
        zero = ctx.const(np.zeros((), src))
        return [ctx.op("Not", [ctx.op("Equal", [x, zero])])]
    return [ctx.cast(x, src, out)]


# Identities for inference: the rule hands on its operands' names and adds no node (the
# graph's outputs each get an Identity node of their own name in any case).
@onnx_rules.register(ew.copy_p, wd.stop_gradient_p, wd.optimization_barrier_p)
def _identity(ctx, *xs):
    return list(xs)
