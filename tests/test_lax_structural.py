"""Structural primitives against jax.lax: broadcast_in_dim, reshape, transpose, squeeze,
rev, slice, dynamic_slice, dynamic_update_slice, concatenate, pad, iota."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from lax_testing import bf16, bool_, case, check, f16, f32, i8, i32, rand, u8

import funcnet as fn
from funcnet import lax

DTYPES = (f32, i32, bool_, bf16)


def _variants(configs, extra_dtypes):
    """Every config in float32, the first two also in `extra_dtypes`: the dtype only
    changes the element type in these lowerings, and each variant is one more compile."""
    for i, config in enumerate(configs):
        for dtype in (f32, *extra_dtypes) if i < 2 else (f32,):
            yield config, dtype


def _op(name, **params):
    """The same op with the same params, from funcnet.lax and from jax.lax."""
    return (
        lambda *a: getattr(lax, name)(*a, **params),
        lambda *a: getattr(jax.lax, name)(*a, **params),
    )


def test_broadcast_in_dim():
    rng = np.random.default_rng(0)
    configs = [
        ((), (2, 3), ()),
        ((3,), (2, 3), (1,)),
        ((3, 1), (3, 4), (0, 1)),
        ((1, 3), (2, 4, 3), (0, 2)),
        ((2, 3), (2, 3), (0, 1)),
        ((1,), (0, 2), (1,)),
        ((2, 1, 3), (2, 5, 4, 3), (0, 2, 3)),
    ]
    check(
        [
            case(
                f"{shape}->{out} dims={dims}:{dtype}",
                *_op("broadcast_in_dim", shape=out, broadcast_dimensions=dims),
                rand(rng, shape, dtype),
            )
            for (shape, out, dims), dtype in _variants(configs, DTYPES[1:])
        ]
    )


@settings(max_examples=6, deadline=None)
@given(data=hst.data())
def test_broadcast_in_dim_random(data):
    out = tuple(data.draw(hst.lists(hst.integers(1, 4), max_size=4), label="out"))
    dims = tuple(
        sorted(
            data.draw(
                hst.sets(hst.sampled_from(range(len(out)))) if out else hst.just(set()),
                label="dims",
            )
        )
    )
    shape = tuple(data.draw(hst.sampled_from([1, out[d]]), label=f"size{d}") for d in dims)
    x = rand(np.random.default_rng(len(shape)), shape, f32)
    check([case("random", *_op("broadcast_in_dim", shape=out, broadcast_dimensions=dims), x)])


def test_reshape():
    rng = np.random.default_rng(1)
    configs = [
        ((2, 3, 4), (6, 4)),
        ((2, 3, 4), (24,)),
        ((2, 3, 4), (4, 1, 6)),
        ((), (1, 1)),
        ((1, 1), ()),
        ((0, 3), (3, 0)),
        ((6,), (2, 3)),
    ]
    check(
        [
            case(f"{s}->{n}:{d}", *_op("reshape", new_sizes=n), rand(rng, s, d))
            for (s, n), d in _variants(configs, (bool_,))
        ]
    )


def test_transpose():
    rng = np.random.default_rng(2)
    configs = [
        ((3, 4), (1, 0)),
        ((2, 3, 4), (2, 0, 1)),
        ((2, 3, 4), (0, 1, 2)),
        ((2, 1, 3, 4), (3, 1, 0, 2)),
        ((), ()),
        ((0, 2), (1, 0)),
    ]
    check(
        [
            case(f"{s} perm={p}:{d}", *_op("transpose", permutation=p), rand(rng, s, d))
            for (s, p), d in _variants(configs, (u8,))
        ]
    )


def test_squeeze():
    rng = np.random.default_rng(3)
    configs = [
        ((1, 3, 1), (0, 2)),
        ((1, 3, 1), (2,)),
        ((1,), (0,)),
        ((2, 3), ()),
        ((1, 1, 1), (0, 1, 2)),
    ]
    check(
        [
            case(f"{s} dims={dims}:{d}", *_op("squeeze", dimensions=dims), rand(rng, s, d))
            for (s, dims), d in _variants(configs, (bool_,))
        ]
    )


def test_rev():
    rng = np.random.default_rng(4)
    configs = [((5,), (0,)), ((3, 4), (1,)), ((2, 3, 4), (0, 2)), ((2, 3), ()), ((2, 3), (0, 1))]
    check(
        [
            case(f"{s} dims={dims}:{d}", *_op("rev", dimensions=dims), rand(rng, s, d))
            for (s, dims), d in _variants(configs, (i32, bf16))
        ]
    )


def test_slice():
    rng = np.random.default_rng(5)
    configs = [
        ((7,), (1,), (6,), (2,)),
        ((7,), (0,), (7,), (3,)),
        ((5, 6), (1, 0), (4, 6), None),
        ((5, 6), (0, 1), (5, 6), (2, 4)),
        ((4, 5, 6), (1, 2, 3), (3, 5, 6), (1, 2, 2)),
        ((5,), (2,), (2,), (1,)),
        ((3, 3), (3, 0), (3, 3), (1, 1)),
        ((), (), (), ()),
    ]
    check(
        [
            case(
                f"{s}[{lo}:{hi}:{st}]:{d}",
                *_op("slice", start_indices=lo, limit_indices=hi, strides=st),
                rand(rng, s, d),
            )
            for (s, lo, hi, st), d in _variants(configs, (bool_,))
        ]
    )


# Start indices, in range and out of range. jax.lax (and funcnet.lax) first wrap negative
# starts once (unless allow_negative_indices=False); XLA then clamps so the slice fits.
STARTS = [(0, 0), (1, 2), (-1, 0), (-2, -7), (3, 9), (100, -100)]
WRAP = [True, False, (False, True)]


# The starts reach both libraries as arrays (a negative NumPy integer with
# allow_negative_indices=False is refused up front by both: see test_lax_api).
def _dynamic_slice(sizes, wrap):
    return (
        lambda x, *i: lax.dynamic_slice(
            x, [fn.asarray(s) for s in i], sizes, allow_negative_indices=wrap
        ),
        lambda x, *i: jax.lax.dynamic_slice(x, i, sizes, allow_negative_indices=wrap),
    )


def _dynamic_update_slice(wrap):
    return (
        lambda x, u, *i: lax.dynamic_update_slice(
            x, u, [fn.asarray(s) for s in i], allow_negative_indices=wrap
        ),
        lambda x, u, *i: jax.lax.dynamic_update_slice(x, u, i, allow_negative_indices=wrap),
    )


def test_dynamic_slice_out_of_bounds_starts():
    rng = np.random.default_rng(6)
    x = rand(rng, (5, 6), f32)
    cases = []
    for sizes in [(2, 3), (5, 6), (0, 1)]:
        for starts in STARTS:
            for wrap in WRAP if sizes == (2, 3) else WRAP[:1]:
                cases.append(
                    case(
                        f"sizes={sizes} starts={starts} wrap={wrap}",
                        *_dynamic_slice(sizes, wrap),
                        x,
                        *map(np.int32, starts),
                    )
                )
    for dtype in (i8, u8):
        cases.append(
            case(
                f"{dtype} indices",
                *_dynamic_slice((2, 2), True),
                x,
                np.array(-3).astype(dtype),
                np.array(200).astype(dtype),
            )
        )
    b = rand(rng, (4, 3, 2), bool_)
    cases.append(case("bool 3d", *_dynamic_slice((2, 3, 1), True), b, *map(np.int32, (3, 1, -1))))
    check(cases)


def test_dynamic_slice_with_python_int_starts():
    x = np.arange(10, dtype=np.float32)
    for start in (-3, 2, 9, -20):
        np.testing.assert_array_equal(
            np.asarray(lax.dynamic_slice(x, [start], [4])),
            np.asarray(jax.lax.dynamic_slice(x, [start], [4])),
        )


def test_dynamic_update_slice_out_of_bounds_starts():
    rng = np.random.default_rng(7)
    x = rand(rng, (5, 6), f32)
    cases = []
    for shape in [(2, 3), (5, 6), (0, 2)]:
        u = rand(rng, shape, f32)
        for starts in STARTS:
            for wrap in WRAP if shape == (2, 3) else WRAP[:1]:
                cases.append(
                    case(
                        f"update={shape} starts={starts} wrap={wrap}",
                        *_dynamic_update_slice(wrap),
                        x,
                        u,
                        *map(np.int32, starts),
                    )
                )
    xi, ui = rand(rng, (7,), i32), rand(rng, (3,), i32)
    for index in (np.uint8(250), np.int8(-2)):
        cases.append(
            case(f"int32 1d, {index.dtype} index", *_dynamic_update_slice(True), xi, ui, index)
        )
    check(cases)


def test_concatenate():
    rng = np.random.default_rng(8)
    configs = [
        ([(2, 3), (4, 3)], 0),
        ([(2, 3), (2, 1), (2, 5)], 1),
        ([(3,), (0,), (2,)], 0),
        ([(2, 0, 4), (2, 3, 4)], 1),
        ([(1, 2, 3)], 2),
        ([(2, 2, 1), (2, 2, 2)], 2),
    ]
    check(
        [
            case(
                f"{shapes} dim={dim}:{d}",
                lambda *xs, dim=dim: lax.concatenate(xs, dim),
                lambda *xs, dim=dim: jax.lax.concatenate(xs, dim),
                *(rand(rng, s, d) for s in shapes),
            )
            for (shapes, dim), d in _variants(configs, (bool_, bf16))
        ]
    )


def test_split():
    rng = np.random.default_rng(10)
    configs = [
        ((5,), (2, 3), 0),
        ((2, 6), (1, 0, 5), 1),
        ((3, 4, 2), (3,), 0),
        ((2, 3, 4), (1, 1, 2), 2),
        ((0, 3), (0, 0), 0),
    ]
    check(
        [
            case(
                f"{shape} {sizes} axis={axis}:{d}",
                lambda x, sizes=sizes, axis=axis: lax.split(x, sizes, axis),
                lambda x, sizes=sizes, axis=axis: jax.lax.split(x, sizes, axis),
                rand(rng, shape, d),
            )
            for (shape, sizes, axis), d in _variants(configs, (i32, bool_, bf16))
        ]
    )


def test_pad_negative_and_interior():
    rng = np.random.default_rng(9)
    configs = [
        ((5,), [(1, 2, 0)]),
        ((5,), [(-1, -2, 0)]),
        ((5,), [(0, 0, 2)]),
        ((5,), [(-2, 3, 1)]),
        ((3, 4), [(1, -1, 1), (-3, 2, 2)]),
        ((0,), [(2, 1, 3)]),
        ((2, 3), [(0, 0, 0), (0, 0, 0)]),
        ((1, 2), [(-1, 1, 0), (2, -4, 3)]),
    ]
    check(
        [
            case(
                f"{shape} {config}:{d}",
                lambda x, v, c=config: lax.pad(x, v, c),
                lambda x, v, c=config: jax.lax.pad(x, v, c),
                rand(rng, shape, d),
                rand(rng, (), d),
            )
            for (shape, config), d in _variants(configs, (i32, bool_, bf16))
        ]
    )


def test_iota():
    cases = [
        case(
            f"iota({d}, {n})", lambda d=d, n=n: lax.iota(d, n), lambda d=d, n=n: jax.lax.iota(d, n)
        )
        for d, n in [(f32, 5), (i32, 7), (u8, 3), (bf16, 300), (f16, 4), (i8, 0)]
    ]
    cases += [
        case(
            f"broadcasted_iota({d}, {s}, {dim})",
            lambda d=d, s=s, dim=dim: lax.broadcasted_iota(d, s, dim),
            lambda d=d, s=s, dim=dim: jax.lax.broadcasted_iota(d, s, dim),
        )
        for d, s, dim in [(i32, (2, 3), 0), (i32, (2, 3), 1), (f32, (2, 3, 4), 2), (u8, (4, 1), 0)]
    ]
    check(cases)


@pytest.mark.parametrize(
    "name,params,shape",
    [
        ("reshape", {"new_sizes": (3, 2)}, (2, 3)),
        ("transpose", {"permutation": (1, 0)}, (2, 3)),
    ],
)
def test_structural_ops_keep_values_exactly(name, params, shape):
    """NaN payloads and signed zeros survive data movement bit for bit."""
    x = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-45], f32).reshape(shape)
    got = np.asarray(getattr(lax, name)(x, **params))
    want = np.asarray(getattr(jax.lax, name)(x, **params))
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
