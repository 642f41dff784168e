"""Elementwise primitives against jax.lax: unary math, binary arithmetic, bitwise ops,
comparisons, select_n, clamp, convert_element_type, integer_pow, round."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from lax_testing import FLOATS, bf16, bool_, case, check, f16, f32, i8, i32, rand, u8

import funcnet as fn
from funcnet import lax

# One shape per dtype: shape variety at no extra compile cost.
SHAPES = {f32: (3, 5), bf16: (7,), f16: (2, 1, 3), i32: (4, 3), u8: (6,), i8: (5,), bool_: (2, 4)}

# Ops whose inputs need a restricted domain: (low, high).
DOMAINS = {
    "log": (0.05, 5),
    "sqrt": (0.0, 5),
    "rsqrt": (0.05, 5),
    "lgamma": (0.05, 6),
    "digamma": (0.05, 6),
    "log1p": (-0.9, 5),
    "acosh": (1.0, 5),
    "asin": (-0.99, 0.99),
    "acos": (-0.99, 0.99),
    "atanh": (-0.95, 0.95),
    "erf_inv": (-0.95, 0.95),
    "exp": (-5, 5),
    "exp2": (-5, 5),
    "expm1": (-5, 5),
    "sinh": (-5, 5),
    "cosh": (-5, 5),
    "tan": (-1.4, 1.4),
}
FLOAT_UNARY = [
    "floor",
    "ceil",
    "is_finite",
    "exp",
    "exp2",
    "log",
    "log1p",
    "expm1",
    "tanh",
    "logistic",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "sqrt",
    "rsqrt",
    "cbrt",
    "erf",
    "erf_inv",
    "lgamma",
    "digamma",
]
NUMERIC_UNARY = ["neg", "sign", "abs", "square"]
SPECIAL = np.array(
    [
        np.nan,
        np.inf,
        -np.inf,
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -3.0,
        1e-30,
        -1e30,
        3.5,
        0.999,
        1e4,
    ],
    np.float32,
)

# Transcendentals that XLA evaluates with different rounding in fused (jit) code.
LOOSE = {
    "lgamma": (1e-5, 1e-5),
    "digamma": (1e-5, 1e-5),
    "erf_inv": (1e-5, 1e-5),
    "acosh": (1e-5, 1e-6),
    "tan": (1e-5, 1e-6),
}


def _unary(name):
    jax_name = {"not": "bitwise_not"}.get(name, name)
    return getattr(lax, jax_name), getattr(jax.lax, jax_name)


def _unary_cases(names, dtype, rng):
    return [
        case(f"{name}:{dtype}", *_unary(name), rand(rng, SHAPES[dtype], dtype)) for name in names
    ]


# Every op runs in float32. The half types share the lowering rules (only the element type
# differs) and XLA's upcasting code paths, so they check a subset: the ops whose lowering
# embeds constants or compares, plus a spread of the rest. Each op is one more compile.
HALF_UNARY = {
    bf16: [
        "floor",
        "is_finite",
        "exp",
        "exp2",
        "log",
        "tanh",
        "logistic",
        "sin",
        "rsqrt",
        "erf",
        "lgamma",
        "sign",
        "abs",
        "square",
    ],
    f16: ["exp2", "log", "logistic", "sign", "is_finite"],
}


def _cast(x, dtype):
    with np.errstate(over="ignore"):  # 1e30 is inf in float16, as intended
        return x.astype(dtype)


def _with_special(x):
    """Random data followed by NaN, infinities, signed zeros and out-of-domain values."""
    return np.concatenate([x.reshape(-1), _cast(SPECIAL, x.dtype)])


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_float_unary(dtype):
    rng = np.random.default_rng(0)
    names = HALF_UNARY.get(dtype, FLOAT_UNARY + NUMERIC_UNARY)
    cases = []
    for name in names:
        x = _with_special(rand(rng, (3, 5), dtype, *DOMAINS.get(name, ())))
        if dtype == bf16:
            x = x.reshape(-1, 1)
        tol = LOOSE.get(name) if dtype == f32 else None
        cases.append(case(f"{name}:{dtype}", *_unary(name), x, tol=tol))
    check(cases)


@pytest.mark.parametrize("dtype", [i32, i8], ids=str)
def test_int_unary(dtype):
    rng = np.random.default_rng(1)
    check(_unary_cases(NUMERIC_UNARY + ["not"], dtype, rng))


def test_unsigned_and_bool_unary():
    rng = np.random.default_rng(2)
    x = rand(rng, (6,), u8, 0, 255)
    b = rand(rng, (2, 4), bool_)
    check(
        [
            case("neg:u8", lax.neg, jax.lax.neg, x),
            case("sign:u8", lax.sign, jax.lax.sign, x),
            case("square:u8", lax.square, jax.lax.square, x),
            case("not:u8", lax.bitwise_not, jax.lax.bitwise_not, x),
            case("not:bool", lax.bitwise_not, jax.lax.bitwise_not, b),
        ]
    )


def test_copy():
    rng = np.random.default_rng(3)
    check(
        [
            case(f"copy:{d}", lax.copy, jax.lax.copy_p.bind, rand(rng, SHAPES[d], d))
            for d in (f32, bf16, i32, u8, bool_)
        ]
    )


def test_round_both_methods():
    halves = np.array(
        [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -0.49999997, 2.4, -3.6, np.nan, np.inf, -0.0],
        np.float32,
    )
    cases = []
    for dtype in (f32, bf16):
        for method in (0, 1):
            cases.append(
                case(
                    f"round{method}:{dtype}",
                    lambda x, m=method: lax.round(x, m),
                    lambda x, m=method: jax.lax.round(x, m),
                    halves.astype(dtype),
                )
            )
    check(cases)


# --- binary ---------------------------------------------------------------------------

ARITH = ["add", "sub", "mul", "div", "rem", "max", "min"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
SHIFTS = ["shift_left", "shift_right_arithmetic", "shift_right_logical"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]


def _binary_cases(names, dtype, x, y, tag=""):
    return [case(f"{n}:{dtype}{tag}", getattr(lax, n), getattr(jax.lax, n), x, y) for n in names]


HALF_BINARY = {
    bf16: ["add", "sub", "mul", "div", "rem", "max", "min", "lt", "eq", "nextafter"],
    f16: ["div", "max", "ge"],
}


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_float_binary(dtype):
    rng = np.random.default_rng(4)
    n = SPECIAL.size
    # Every pair of special values, then random pairs (some equal, for ties).
    x = _cast(np.concatenate([np.repeat(SPECIAL, n), rand(rng, (20,), f32)]), dtype)
    y = _cast(np.concatenate([np.tile(SPECIAL, n), rand(rng, (20,), f32)]), dtype)
    y[-5:] = x[-5:]
    base = np.concatenate([x, rand(rng, (10,), dtype, 0.1, 3)])
    expo = np.concatenate([y, rand(rng, (10,), dtype, -2, 2)])
    names = HALF_BINARY.get(dtype, ARITH + COMPARE + ["atan2", "nextafter"])
    check(
        _binary_cases([n for n in names if n != "pow"], dtype, x, y)
        + _binary_cases(["pow"], dtype, base, expo)
    )


INT_BINARY = {
    i32: ARITH + COMPARE + BITWISE + SHIFTS,
    u8: ["div", "rem", "max", "min", "lt", "ge"] + SHIFTS,  # unsigned order, division, shifts
    i8: ["mul", "div", "rem", "shift_left", "shift_right_arithmetic"],  # narrow wrap-around
}


@pytest.mark.parametrize("dtype", list(INT_BINARY), ids=str)
def test_int_binary(dtype):
    rng = np.random.default_rng(5)
    info = np.iinfo(dtype)
    edges = np.array([info.min, info.max, 0, 1, -1 if info.min else 128], dtype)
    x = np.concatenate([rand(rng, (12,), dtype, info.min, info.max), edges, edges[::-1]])
    y = np.concatenate([rand(rng, (12,), dtype, info.min, info.max), edges[::-1], edges])
    y[:2] = x[:2]
    shift = rand(rng, x.shape, dtype, 0 if dtype == u8 else -3, 40)
    names = INT_BINARY[dtype]
    # Division by zero included: XLA defines x / 0 = -1 and x % 0 = x for integers.
    check(
        _binary_cases([n for n in names if n not in SHIFTS], dtype, x, y)
        + _binary_cases([n for n in names if n in SHIFTS], dtype, x, shift, "/shift")
    )


def test_bool_binary():
    x = np.array([False, False, True, True])
    y = np.array([False, True, False, True])
    # jax.lax.mul takes no booleans; on them funcnet's mul is logical and.
    check(
        _binary_cases(["max", "min"] + BITWISE + COMPARE, bool_, x, y)
        + [case("mul:bool", lax.mul, jax.lax.bitwise_and, x, y)]
    )


# --- select, clamp ------------------------------------------------------------------------


def test_select_n():
    rng = np.random.default_rng(6)
    shape = (3, 4)
    cases = []
    for dtype in (f32, i32, bool_, bf16):
        a, b, c = (rand(rng, shape, dtype) for _ in range(3))
        pred = rand(rng, shape, bool_)
        which = rng.integers(0, 3, shape).astype(np.int32)
        cases.append(case(f"bool-pred:{dtype}", lax.select_n, jax.lax.select_n, pred, a, b))
        if dtype == f32:
            cases += [
                case(f"int-pred-3:{dtype}", lax.select_n, jax.lax.select_n, which, a, b, c),
                case(f"scalar-pred:{dtype}", lax.select_n, jax.lax.select_n, np.True_, a, b),
            ]
    x = rand(rng, shape, f32)
    cases += [
        case("one-case", lax.select_n, jax.lax.select_n, rand(rng, shape, bool_), x),
        case("select", lax.select, jax.lax.select, rand(rng, shape, bool_), x, -x),
        case("scalar-int-pred", lax.select_n, jax.lax.select_n, np.int32(1), x, -x, 2 * x),
    ]
    check(cases)


def test_clamp():
    rng = np.random.default_rng(7)
    x = rand(rng, (4, 5), f32, -3, 3)
    xi = rand(rng, (4, 5), i32)
    lo_arr, hi_arr = rand(rng, (4, 5), f32, -2, 0), rand(rng, (4, 5), f32, 0, 2)
    xn = np.array([np.nan, -np.inf, np.inf, 0.5, -5], f32)
    check(
        [
            case("scalar-bounds", lax.clamp, jax.lax.clamp, np.float32(-1), x, np.float32(1)),
            case("array-bounds", lax.clamp, jax.lax.clamp, lo_arr, x, hi_arr),
            case("int", lax.clamp, jax.lax.clamp, np.int32(-5), xi, np.int32(5)),
            case("special", lax.clamp, jax.lax.clamp, np.float32(-1), xn, np.float32(1)),
            case(
                "bf16",
                lax.clamp,
                jax.lax.clamp,
                np.array(-1, bf16),
                x.astype(bf16),
                np.array(1, bf16),
            ),
        ]
    )


# --- convert_element_type, integer_pow ----------------------------------------------------

CONVERT_DATA = {
    f32: np.array(
        [
            -2.7,
            -0.5,
            0.0,
            -0.0,
            0.5,
            2.7,
            127.9,
            255.5,
            -128.9,
            300.0,
            -1e10,
            1e10,
            np.nan,
            np.inf,
            -np.inf,
            1e-40,
        ],
        f32,
    ),
    bf16: np.array([-2.7, -0.5, 0.0, 0.5, 2.7, 100.0, -100.0, 3e38, np.nan], bf16),
    i32: np.array(
        [-300, -129, -128, -1, 0, 1, 127, 128, 255, 256, 2**31 - 1, -(2**31), 16777217], i32
    ),
    u8: np.array([0, 1, 127, 128, 255], u8),
    bool_: np.array([True, False, True]),
}
TARGETS = (f32, bf16, f16, i32, u8, i8, bool_)


@pytest.mark.parametrize("src", list(CONVERT_DATA), ids=str)
def test_convert_element_type(src):
    """Truncation toward zero, saturation, NaN, and nonzero -> True as XLA defines them."""
    x = CONVERT_DATA[src]
    check(
        [
            case(
                f"{src}->{dst}",
                lambda a, d=dst: lax.convert_element_type(a, d),
                lambda a, d=dst: jax.lax.convert_element_type(a, d),
                x,
            )
            for dst in TARGETS
        ]
    )


def test_integer_pow():
    rng = np.random.default_rng(8)
    x = rand(rng, (3, 4), f32, 0.5, 2) * rng.choice([-1, 1], (3, 4)).astype(f32)
    xi = rand(rng, (5,), i32, -6, 6)
    cases = [
        case(
            f"f32**{y}",
            lambda a, y=y: lax.integer_pow(a, y),
            lambda a, y=y: jax.lax.integer_pow(a, y),
            x,
            tol=(1e-5, 1e-6),
        )
        for y in (-3, -1, 0, 1, 2, 7, 12)
    ]
    cases += [
        case(
            f"i32**{y}",
            lambda a, y=y: lax.integer_pow(a, y),
            lambda a, y=y: jax.lax.integer_pow(a, y),
            xi,
        )
        for y in (0, 2, 5)
    ]
    cases.append(
        case(
            "bf16**3",
            lambda a: lax.integer_pow(a, 3),
            lambda a: jax.lax.integer_pow(a, 3),
            x.astype(bf16),
        )
    )
    check(cases)


def test_integer_pow_negative_int_exponent_is_an_error():
    with pytest.raises(TypeError, match="negative"):
        lax.integer_pow(np.arange(3, dtype=np.int32), -2)


# --- random shapes ------------------------------------------------------------------------

_hyp_shapes = hst.lists(hst.integers(0, 4), min_size=0, max_size=4).map(tuple)


@settings(max_examples=6, deadline=None)
@given(
    shape=_hyp_shapes,
    dtype=hst.sampled_from([f32, i32, bf16]),
    op=hst.sampled_from(["add", "mul", "max", "sub", "lt"]),
    seed=hst.integers(0, 2**16),
)
def test_binary_random_shapes(shape, dtype, op, seed):
    rng = np.random.default_rng(seed)
    x, y = rand(rng, shape, dtype), rand(rng, shape, dtype)
    check(_binary_cases([op], dtype, x, y))


def test_weak_type_propagates_only_when_both_are_weak():
    strong = fn.numpy.asarray(np.float32(1))
    weak = fn.numpy.asarray(1.0)
    assert weak.weak_type and not strong.weak_type
    assert lax.add(weak, weak).weak_type
    assert not lax.add(weak, strong).weak_type
    assert not lax.lt(weak, weak).weak_type
