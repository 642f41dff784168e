"""Reductions against jax.lax: reduce_{sum,max,min,prod,and,or}, argmax/argmin,
cumulative ops, reduce_window and sort."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from lax_testing import bf16, bool_, case, check, f32, i32, rand, u8

from funcnet import lax

AXES = [(), (0,), (2, 0), (0, 1, 2)]
SOME_AXES = [(1,), (0, 2)]


def _reduce(name, axes):
    return (lambda x: getattr(lax, name)(x, axes), lambda x: getattr(jax.lax, name)(x, axes))


# (dtype, ops): sums of many bf16 terms are order-sensitive, so bf16 sums are loose.
REDUCE_DTYPES = {
    f32: ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"],
    bf16: ["reduce_sum", "reduce_max", "reduce_min"],
    i32: ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or"],
    u8: ["reduce_max", "reduce_min", "reduce_and", "reduce_or"],
    bool_: ["reduce_max", "reduce_min", "reduce_and", "reduce_or"],
}


@pytest.mark.parametrize("dtype", list(REDUCE_DTYPES), ids=str)
def test_reductions(dtype):
    rng = np.random.default_rng(0)
    x = rand(rng, (2, 3, 4), dtype, *((0, 255) if dtype == u8 else ()))
    if dtype == f32:
        x[1, 2, 3] = np.nan  # NaN propagates through max/min/sum
        x = x * np.float32(0.5)
    tol = (2e-2, 2e-2) if dtype == bf16 else (1e-5, 1e-6)
    check(
        [
            case(f"{name}{axes}", *_reduce(name, axes), x, tol=tol)
            for name in REDUCE_DTYPES[dtype]
            for axes in (AXES if dtype == f32 else SOME_AXES)
        ]
    )


def test_reductions_of_empty_axes_give_the_identity():
    cases = []
    for dtype, names in [
        (f32, ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]),
        (i32, ["reduce_max", "reduce_min", "reduce_and", "reduce_or"]),
        (u8, ["reduce_max", "reduce_min", "reduce_and"]),
        (bool_, ["reduce_and", "reduce_or"]),
    ]:
        x = np.zeros((2, 0), dtype)
        cases += [case(f"{name}:{dtype}", *_reduce(name, (1,)), x) for name in names]
    check(cases)


def test_reductions_of_scalars():
    x = np.float32(2.5)
    check(
        [
            case(name, *_reduce(name, ()), x)
            for name in ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]
        ]
    )


@settings(max_examples=6, deadline=None)
@given(data=hst.data())
def test_reductions_random_shapes(data):
    shape = tuple(data.draw(hst.lists(hst.integers(0, 5), max_size=4), label="shape"))
    axes = tuple(
        data.draw(
            hst.sets(hst.sampled_from(range(len(shape)))) if shape else hst.just(set()),
            label="axes",
        )
    )
    name = data.draw(hst.sampled_from(["reduce_sum", "reduce_max", "reduce_prod"]))
    x = rand(np.random.default_rng(len(shape)), shape, f32)
    check([case(f"{name}{axes}", *_reduce(name, axes), x, tol=(1e-5, 1e-6))])


# --- argmax / argmin --------------------------------------------------------------------


def _arg(name, axis, index_dtype=np.int32):
    return (
        lambda x: getattr(lax, name)(x, axis, index_dtype),
        lambda x: getattr(jax.lax, name)(x, axis, index_dtype),
    )


def test_argmax_argmin_ties_and_nans():
    nan, inf = np.nan, np.inf
    rows = np.array(
        [
            [1, 3, 3, 0, 3],
            [nan, 1, nan, 5, 0],
            [2, 2, 2, 2, 2],
            [-inf, -inf, -inf, -inf, -inf],
            [inf, inf, 0, inf, -inf],
            [0, -0.0, 0, 1, 1],
            [4, nan, 9, nan, 9],
        ],
        f32,
    )
    ints = np.array([[5, 1, 5, 1, 0], [-3, -3, -7, -7, 2], [7, 7, 7, 7, 7]], i32)
    cases = []
    for name in ("argmax", "argmin"):
        for axis in (0, 1):
            cases.append(case(f"{name} f32 axis={axis}", *_arg(name, axis), rows))
            cases.append(case(f"{name} i32 axis={axis}", *_arg(name, axis), ints))
        cases.append(case(f"{name} u8", *_arg(name, 1), np.array([[0, 255, 255, 7]], u8)))
        cases.append(
            case(
                f"{name} bool",
                *_arg(name, 1),
                np.array([[False, True, True], [False, False, False]]),
            )
        )
        cases.append(case(f"{name} bf16", *_arg(name, 0), rows.astype(bf16)))
        cases.append(
            case(
                f"{name} 3d -> uint8 index",
                *_arg(name, 2, np.uint8),
                rand(np.random.default_rng(1), (2, 3, 4), i32),
            )
        )
    check(cases)


# --- cumulative ----------------------------------------------------------------------------

CUMULATIVE = ["cumsum", "cumprod", "cummax", "cummin"]


def _cumulative(name, axis, reverse):
    return (
        lambda x: getattr(lax, name)(x, axis, reverse),
        lambda x: getattr(jax.lax, name)(x, axis=axis, reverse=reverse),
    )


# (axis, reverse) combinations per dtype.
CUMULATIVE_CONFIGS = {
    f32: [(0, False), (1, True)],
    i32: [(0, False), (1, True)],
    bf16: [(1, False)],
}


@pytest.mark.parametrize("dtype", list(CUMULATIVE_CONFIGS), ids=str)
def test_cumulative(dtype):
    rng = np.random.default_rng(2)
    x = rand(rng, (3, 5), dtype, *((-3, 3) if dtype == i32 else ()))
    # jax scans associatively, funcnet with one reduce_window: summation orders differ.
    tol = {f32: (1e-5, 1e-5), bf16: (3e-2, 3e-2)}.get(dtype)
    cases = [
        case(f"{name} axis={axis} reverse={rev}", *_cumulative(name, axis, rev), x, tol=tol)
        for name in CUMULATIVE
        for axis, rev in CUMULATIVE_CONFIGS[dtype]
    ]
    check(cases)


def test_cumulative_edge_shapes():
    cases = []
    for shape, axis, names in [
        ((0, 3), 0, ["cumsum", "cummax"]),
        ((1, 2), 0, ["cumsum"]),
        ((2, 3, 4), 1, ["cumprod", "cummin"]),
    ]:
        x = rand(np.random.default_rng(3), shape, f32)
        cases += [
            case(
                f"{name}{shape} axis={axis} reverse={rev}",
                *_cumulative(name, axis, rev),
                x,
                tol=(1e-5, 1e-5),
            )
            for name in names
            for rev in (False, True)
        ]
    nan = np.array([1.0, np.nan, 3.0, -1.0], f32)
    cases += [case(f"{name} NaN", *_cumulative(name, 0, False), nan) for name in CUMULATIVE]
    check(cases)


# --- reduce_window ---------------------------------------------------------------------------


def _window(kind, dtype, dims, strides, padding, base=None, window_dil=None):
    inits = {"add": 0, "max": -np.inf, "min": np.inf}
    init = inits[kind]
    if not np.issubdtype(dtype, np.floating) and dtype != bf16:
        info = np.iinfo(dtype)
        init = {"add": 0, "max": info.min, "min": info.max}[kind]
    init = np.array(init, dtype)
    jax_op = {"add": jax.lax.add, "max": jax.lax.max, "min": jax.lax.min}[kind]
    return (
        lambda x: lax.reduce_window(x, init, kind, dims, strides, padding, base, window_dil),
        lambda x: jax.lax.reduce_window(x, init, jax_op, dims, strides, padding, base, window_dil),
    )


WINDOWS = [  # window, strides, padding, base dilation, window dilation
    ((2, 2), (1, 1), "VALID", None, None),
    ((3, 3), (2, 2), "SAME", None, None),
    ((2, 3), (2, 1), ((1, 0), (2, 1)), None, None),
    ((2, 2), (1, 1), ((0, 0), (0, 0)), (2, 1), None),
    ((2, 2), (1, 2), "VALID", None, (2, 2)),
    ((3, 2), (3, 2), ((1, 2), (0, 3)), (2, 2), (1, 2)),
    ((1, 1), (1, 1), "SAME", None, None),
    ((2, 3), (2, 1), "SAME", (2, 1), (1, 2)),  # SAME is defined on the dilated shapes
]


def test_reduce_window():
    x = rand(np.random.default_rng(4), (5, 6), f32)
    xi = rand(np.random.default_rng(4), (5, 6), i32)
    cases = [case(f"add {w}", *_window("add", f32, *w), x, tol=(1e-5, 1e-6)) for w in WINDOWS]
    cases += [case(f"max {w}", *_window("max", f32, *w), x) for w in WINDOWS[1::2]]
    cases += [case(f"min {w}", *_window("min", f32, *w), x) for w in WINDOWS[4:6]]
    cases += [
        case(f"{kind} {w} i32", *_window(kind, i32, *w), xi)
        for kind, w in (("min", WINDOWS[2]), ("max", WINDOWS[3]), ("add", WINDOWS[4]))
    ]
    check(cases)


def test_reduce_window_4d_pooling_layouts():
    x = rand(np.random.default_rng(5), (2, 7, 6, 3), f32)
    check(
        [
            case(
                f"{kind} NHWC",
                *_window(kind, f32, (1, 3, 3, 1), (1, 2, 2, 1), "SAME"),
                x,
                tol=(1e-5, 1e-6),
            )
            for kind in ("add", "max")
        ]
        + [
            case(
                "max bf16 1d",
                *_window("max", bf16, (3,), (2,), "VALID"),
                rand(np.random.default_rng(6), (9,), bf16),
            )
        ]
    )


def test_reduce_window_rejects_a_non_identity_init_value():
    with pytest.raises(ValueError, match="init_value"):
        lax.reduce_window(np.ones((4,), f32), np.float32(1), "add", (2,), (1,), "VALID")
    with pytest.raises(ValueError, match="init_value"):
        lax.reduce_window(np.ones((4,), f32), 0.0, lax.max, (2,), (1,), "VALID")
    # -inf is the identity of max on integers too (as pooling layers pass it).
    out = lax.reduce_window(np.arange(4, dtype=i32), -np.inf, lax.max, (2,), (1,), "VALID")
    np.testing.assert_array_equal(np.asarray(out), [1, 2, 3])


# --- sort ---------------------------------------------------------------------------------------


def _sort(dimension=-1, is_stable=True, num_keys=1):
    return (
        lambda *xs: lax.sort(xs, dimension, is_stable, num_keys),
        lambda *xs: jax.lax.sort(xs, dimension=dimension, is_stable=is_stable, num_keys=num_keys),
    )


def test_sort():
    rng = np.random.default_rng(7)
    x = rand(rng, (4, 6), f32)
    # Zeros of both signs tie; NaNs of both signs sort last.
    x[0, :5] = [np.nan, 0.0, -0.0, -np.nan, 0.0]
    x[1, :4] = [np.inf, -np.nan, -np.inf, np.nan]
    keys = rng.integers(0, 3, (4, 6)).astype(i32)  # many ties
    vals = np.arange(24, dtype=i32).reshape(4, 6)
    cases = [
        case("single f32 last axis", lambda x: lax.sort(x), lambda x: jax.lax.sort(x), x),
        case("single f32 axis 0", lambda x: lax.sort(x, 0), lambda x: jax.lax.sort(x, 0), x),
        case("stable key/value", *_sort(), keys, vals),
        case("stable f32 key/value", *_sort(), x, vals),
        case("stable key/value axis 0", *_sort(0), keys, vals),
        case("two keys", *_sort(num_keys=2), keys, rng.integers(0, 2, (4, 6)).astype(i32), vals),
        case("three operands, one key", *_sort(num_keys=1), keys, x, vals),
        case("u8", lambda x: lax.sort(x), lambda x: jax.lax.sort(x), rand(rng, (9,), u8, 0, 255)),
        case("bool keys", *_sort(), rand(rng, (7,), bool_), np.arange(7, dtype=i32)),
        case("bf16", lambda x: lax.sort(x), lambda x: jax.lax.sort(x), x.astype(bf16)),
        case("3d dimension 1", *_sort(1), rand(rng, (2, 5, 3), i32), rand(rng, (2, 5, 3), f32)),
    ]
    check(cases)
