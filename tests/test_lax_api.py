"""funcnet.lax takes what jax.lax takes: rank-0 (and size-1) operands of n-ary
elementwise ops, mixed dtypes and preferred_element_type in dot_general, jax.lax's
argument names and defaults, and jax.lax's thin wrappers (full, expand_dims, the
*_in_dim slicers, ...), each checked against jax.lax."""

import inspect

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from grad_testing import assert_close, check_op
from lax_testing import case, check, f32, i32, rand

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.backend.lowering import lower_to_module

R = np.random.default_rng(0)
BF16 = np.dtype(ml_dtypes.bfloat16)


# --- rank-0 operands broadcast in n-ary elementwise ops ----------------------------------

FLOAT_BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "max",
    "min",
    "pow",
    "atan2",
    "rem",
    "nextafter",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
]
INT_BINARY = [
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "shift_left",
    "shift_right_arithmetic",
    "shift_right_logical",
]


def _binary(name):
    return (lambda x, y: getattr(lax, name)(x, y), lambda x, y: getattr(jax.lax, name)(x, y))


def test_binary_ops_take_a_scalar_alongside_an_array():
    """The fuzzer's finding: lax.max(ones((2, 3)), array(0.5)) raised."""
    x, s = rand(R, (2, 3), f32, 0.5, 2.0), np.float32(0.75)
    xi, si = rand(R, (2, 3), i32, 0, 7), np.int32(3)
    cases = [case(f"{n}(x, s)", *_binary(n), x, s) for n in FLOAT_BINARY]
    cases += [case(f"{n}(s, x)", *_binary(n), s, x) for n in FLOAT_BINARY]
    cases += [case(f"{n}(xi, si)", *_binary(n), xi, si) for n in INT_BINARY]
    cases += [case("max(x, 0.5)", lambda x: lax.max(x, 0.5), lambda x: jax.lax.max(x, 0.5), x)]
    # (select_n broadcasts only its predicate, as jax's; clamp its bounds)
    cases += [
        case(
            "select_n(scalar, x, y)",
            lambda x: lax.select_n(np.bool_(True), x, -x),
            lambda x: jax.lax.select_n(np.bool_(True), x, -x),
            x,
        ),
        case(
            "clamp(scalar, x, 1.0)",
            lambda x: lax.clamp(np.float32(0.7), x, 1.0),
            lambda x: jax.lax.clamp(np.float32(0.7), x, 1.0),
            x,
        ),
    ]
    check(cases)


def test_binary_ops_broadcast_size_one_axes_of_equal_rank():
    x, row, col = rand(R, (2, 3), f32), rand(R, (1, 3), f32), rand(R, (2, 1), f32)
    check(
        [case(f"{n}(row, x)", *_binary(n), row, x) for n in ("add", "mul", "max", "lt")]
        + [case("sub(col, row)", *_binary("sub"), col, row)]
    )


def test_scalar_operand_grad_and_vmap():
    x = rand(R, (2, 3), f32)

    def f(L):
        return lambda s: L.max(x, s) * L.mul(s, x) + L.atan2(s, x)

    check_op(f(lax), f(jax.lax), np.float32(0.3), order=1)
    ss = rand(R, (4,), f32)
    assert_close(fn.vmap(f(lax))(ss), jax.vmap(f(jax.lax))(ss))
    text = str(fn.make_jaxpr(lambda x, s: lax.max(x, s))(x, np.float32(0.5)))
    assert "broadcast_in_dim" in text and "max" in text


def test_binary_op_shape_errors_match_jax():
    for a, b in [((3,), (2, 3)), ((2, 2), (2, 3))]:
        with pytest.raises(TypeError):
            jax.lax.add(np.ones(a, np.float32), np.ones(b, np.float32))
        with pytest.raises(TypeError, match=r"add.*\(2, 3\)"):
            lax.add(np.ones(a, np.float32), np.ones(b, np.float32))


# --- dot_general: mixed dtypes, preferred_element_type ------------------------------------

DN = (((1,), (0,)), ((), ()))


def _dot(pet=None):
    return (
        lambda a, b: lax.dot_general(a, b, DN, preferred_element_type=pet),
        lambda a, b: jax.lax.dot_general(a, b, DN, preferred_element_type=pet),
    )


def test_dot_general_mixed_dtypes_promote_as_jax():
    """The fuzzer's finding: int32 x float32 raised "operands of one dtype"."""
    ai, af = rand(R, (2, 3), i32), rand(R, (3, 4), f32)
    ab, a16 = rand(R, (3, 4), BF16), rand(R, (2, 3), np.float16)
    i8, u8 = rand(R, (2, 3), np.int8), rand(R, (3, 4), np.uint8)
    check(
        [
            case("i32 x f32", *_dot(), ai, af),
            case("f32 x i32", *_dot(), af.T, ai.T),
            case("f16 x bf16", *_dot(), a16, ab),
            case("i8 x u8", *_dot(), i8, u8),
        ]
    )


def test_dot_general_preferred_element_type():
    i8a, i8b = rand(R, (2, 3), np.int8, 50, 100), rand(R, (3, 4), np.int8, 50, 100)
    bfa, bfb = rand(R, (2, 3), BF16), rand(R, (3, 4), BF16)
    check(
        [
            case("i8 x i8 -> i32", *_dot(np.int32), i8a, i8b),  # would wrap around in int8
            case("i8 x i8 -> f32", *_dot(np.float32), i8a, i8b),
            case("bf16 x bf16 -> f32", *_dot(np.float32), bfa, bfb),
            case("i32 x f32 -> f32", *_dot(np.float32), i8a.astype(np.int32), bfb.astype(f32)),
        ]
    )


def test_preferred_element_type_narrower_than_the_operands_is_refused_like_jax():
    a = np.ones((2, 2), np.int32)
    with pytest.raises(TypeError):
        jax.lax.dot_general(a, a, DN, preferred_element_type=np.int8)
    with pytest.raises(TypeError, match="narrower"):
        lax.dot_general(a, a, DN, preferred_element_type=np.int8)


def test_dot_general_preferred_element_type_lowers_to_a_wider_result():
    i8 = np.ones((2, 3), np.int8)
    text = lower_to_module(fn.make_jaxpr(_dot(np.int32)[0])(i8, i8.T))
    assert "(tensor<2x3xi8>, tensor<3x2xi8>) -> tensor<2x2xi32>" in text
    mixed = lower_to_module(
        fn.make_jaxpr(_dot()[0])(np.ones((2, 3), np.int32), np.ones((3, 2), np.float32))
    )
    assert "stablehlo.convert" in mixed  # int32 meets float32 as float32


def test_dot_general_mixed_and_widened_derivatives_and_vmap():
    bfa, bfb = rand(R, (2, 3), BF16), rand(R, (3, 4), BF16)
    ai, af = rand(R, (2, 3), i32), rand(R, (3, 4), f32)

    def run(L, D):
        wide = lambda a, b: D(a, b, DN, preferred_element_type=np.float32)  # noqa: E731
        loss = lambda a, b: L.sum(wide(a, b) ** 2)  # noqa: E731
        mixed = lambda b: L.sum(D(ai, b, DN) ** 2)  # noqa: E731
        return {
            "grad_bf16": L.grad(loss, argnums=(0, 1))(bfa, bfb),
            "jvp_bf16": L.jvp(wide, (bfa, bfb), (bfa, bfb)),
            "grad_mixed": L.grad(mixed)(af),
            "vmap_bf16": L.vmap(wide, in_axes=(None, 2))(bfa, np.stack([bfb] * 2, 2)),
        }

    FN = type(
        "L",
        (),
        {
            "sum": staticmethod(fnp.sum),
            "grad": staticmethod(fn.grad),
            "jvp": staticmethod(fn.jvp),
            "vmap": staticmethod(fn.vmap),
        },
    )
    JX = type(
        "L",
        (),
        {
            "sum": staticmethod(jnp.sum),
            "grad": staticmethod(jax.grad),
            "jvp": staticmethod(jax.jvp),
            "vmap": staticmethod(jax.vmap),
        },
    )
    got, want = run(FN, lax.dot_general), run(JX, jax.lax.dot_general)
    for k in want:
        for g, w in zip(jax.tree_util.tree_leaves(got[k]), jax.tree_util.tree_leaves(want[k])):
            assert np.asarray(g).dtype == np.asarray(w).dtype, k
    assert_close(got, want, rtol=2e-2, atol=2e-2)


# --- jax.lax's names, argument order and defaults ---------------------------------------

# jax-only parameters funcnet leaves out (listed, so that a new difference fails): sharding
# and accuracy controls, mul's out_dtype, cond/switch's legacy `operand=`, scan's private
# _split_transpose.
JAX_ONLY = {"out_sharding", "sharding", "accuracy", "out_dtype", "operand", "_split_transpose"}
# funcnet's own keyword-only extras (convert_element_type's weak_type: funcnet.numpy uses it)
FUNCNET_ONLY = {"weak_type"}
SIGNATURE_EXCEPTIONS = {
    # funcnet gives index_dtype a default (int32) where jax requires it
    "argmax",
    "argmin",
}


def _params(f):
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(f).parameters.values()
        if p.name not in JAX_ONLY | FUNCNET_ONLY
    ]


def _public_functions():
    names = []
    for name in sorted(dir(lax)):
        f, j = getattr(lax, name), getattr(jax.lax, name, None)
        if (
            name.startswith("_")
            or isinstance(f, type)
            or not callable(f)
            or j is None
            or isinstance(j, type)
            or name in SIGNATURE_EXCEPTIONS
        ):
            continue
        names.append(name)
    return names


def test_the_signature_walk_sees_the_api():
    names = set(_public_functions())
    assert {
        "pad",
        "reduce_window",
        "sort",
        "conv_general_dilated",
        "dynamic_slice",
        "full",
        "expand_dims",
        "clamp",
        "scan",
        "fori_loop",
        "gather",
        "scatter_add",
    } <= names


@pytest.mark.parametrize("name", _public_functions())
def test_signature_matches_jax(name):
    ours, theirs = _params(getattr(lax, name)), _params(getattr(jax.lax, name))
    assert ours == theirs, f"lax.{name}: {ours} != jax.lax.{name}: {theirs}"


def test_jax_keyword_spellings():
    x = rand(R, (3, 4), f32)
    check(
        [
            case(
                "pad kw",
                lambda x: lax.pad(
                    operand=x, padding_value=np.float32(0), padding_config=[(1, 0, 0), (0, 1, 1)]
                ),
                lambda x: jax.lax.pad(x, np.float32(0), [(1, 0, 0), (0, 1, 1)]),
                x,
            ),
            case(
                "clamp kw",
                lambda x: lax.clamp(min=np.float32(-0.5), x=x, max=np.float32(0.5)),
                lambda x: jax.lax.clamp(np.float32(-0.5), x, np.float32(0.5)),
                x,
            ),
            case(
                "sort kw",
                lambda x: lax.sort(operand=(x, -x), dimension=0, is_stable=True, num_keys=1),
                lambda x: jax.lax.sort((x, -x), dimension=0, is_stable=True, num_keys=1),
                x,
            ),
            case(
                "reduce_window kw",
                lambda x: lax.reduce_window(
                    operand=x,
                    init_value=np.float32(0),
                    computation=lax.add,
                    window_dimensions=(2, 2),
                    window_strides=(1, 2),
                    padding="SAME",
                ),
                lambda x: jax.lax.reduce_window(
                    x, np.float32(0), jax.lax.add, (2, 2), (1, 2), "SAME"
                ),
                x,
            ),
            case(
                "dynamic_slice array starts",
                lambda x: lax.dynamic_slice(x, fnp.asarray(np.array([1, -2], np.int32)), (2, 2)),
                lambda x: jax.lax.dynamic_slice(x, jnp.array([1, -2], np.int32), (2, 2)),
                x,
            ),
            case(
                "reshape dimensions",
                lambda x: lax.reshape(x, (2, 6), dimensions=(1, 0)),
                lambda x: jax.lax.reshape(x, (2, 6), dimensions=(1, 0)),
                x,
            ),
            case(
                "round to even",
                lambda x: lax.round(x * 2, lax.RoundingMethod.TO_NEAREST_EVEN),
                lambda x: jax.lax.round(x * 2, jax.lax.RoundingMethod.TO_NEAREST_EVEN),
                x,
            ),
            case(
                "nextafter kw",
                lambda x: lax.nextafter(x1=x, x2=np.float32(0)),
                lambda x: jax.lax.nextafter(x, np.float32(0)),
                x,
            ),
            case(
                "convert kw",
                lambda x: lax.convert_element_type(operand=x, new_dtype=np.int32),
                lambda x: jax.lax.convert_element_type(x, np.int32),
                x,
            ),
        ]
    )


def test_conv_general_dilated_keywords_and_precision():
    x, w = rand(R, (1, 2, 5, 5), f32), rand(R, (3, 2, 3, 3), f32)
    kw = dict(
        window_strides=(1, 2),
        padding=[(1, 1), (0, 1)],
        lhs_dilation=(1, 1),
        rhs_dilation=(2, 1),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        feature_group_count=1,
        batch_group_count=1,
    )
    check(
        [
            case(
                f"conv precision={p}",
                lambda x, w, p=p: lax.conv_general_dilated(lhs=x, rhs=w, precision=p, **kw),
                lambda x, w: jax.lax.conv_general_dilated(x, w, precision="highest", **kw),
                x,
                w,
                tol=(1e-5, 1e-5),
            )
            for p in (None, lax.Precision.HIGHEST, "float32", ("highest", "high"))
        ]
    )
    text = lower_to_module(
        fn.make_jaxpr(lambda a: lax.dot(a, a, precision=lax.Precision.HIGHEST))(
            np.ones((2, 2), f32)
        )
    )
    assert "#stablehlo<precision HIGHEST>" in text


# --- jax.lax's thin wrappers -------------------------------------------------------------


def _both(spell):
    """A case spelled once: `spell(L)` gets the library (funcnet.lax or jax.lax)."""
    return spell(lax), spell(jax.lax)


def test_thin_wrappers_match_jax():
    x, v = rand(R, (2, 3, 4), f32), rand(R, (5,), f32)
    u = rand(R, (2, 1, 4), f32)
    i = np.int32(-1)
    wrappers = {
        "full": lambda L: lambda x: L.full((2, 3), 1.5) + L.full((3,), x[0, 0, 0], np.float32),
        "full_like": lambda L: lambda x: L.full_like(x, 2, np.int32),
        "full_like shape": lambda L: lambda x: L.full_like(x, 0.5, shape=(4,)),
        "expand_dims": lambda L: lambda x: L.expand_dims(x, (0, -1)),
        "broadcast": lambda L: lambda x: L.broadcast(x, (2,)),
        "broadcast_to_rank": lambda L: lambda v: L.broadcast_to_rank(v, 3),
        "collapse": lambda L: lambda x: L.collapse(x, 1),
        "collapse range": lambda L: lambda x: L.collapse(x, 0, 2),
        "index_in_dim": lambda L: lambda x: L.index_in_dim(x, -1, 1, keepdims=False),
        "dynamic_index_in_dim": lambda L: lambda x: L.dynamic_index_in_dim(x, i, 2),
        "slice_in_dim": lambda L: lambda x: L.slice_in_dim(x, 1, None, 2, axis=2),
        "slice_in_dim negative": lambda L: lambda x: L.slice_in_dim(x, -2, -1, axis=1),
        "dynamic_slice_in_dim": lambda L: lambda x: L.dynamic_slice_in_dim(x, i, 2, 1),
        "dynamic_update_slice_in_dim": lambda L: (
            lambda x, u: L.dynamic_update_slice_in_dim(x, u, np.int32(2), 1)
        ),
        "dynamic_update_index_in_dim": lambda L: (
            lambda x, u: L.dynamic_update_index_in_dim(x, u[:, 0], np.int32(1), 1)
        ),
        "stack": lambda L: lambda x: L.stack([x, x * 2], axis=1),
        "unstack": lambda L: lambda x: L.unstack(x, axis=2),
        "tile": lambda L: lambda x: L.tile(x, (1, 2, 3)),
        "reciprocal": lambda L: lambda v: L.reciprocal(v),
        "erfc": lambda L: lambda v: L.erfc(v * 3),
        "square rsqrt logistic": lambda L: (
            lambda v: L.square(v) + L.rsqrt(L.abs(v) + 1) + L.logistic(v)
        ),
        "sort_key_val": lambda L: lambda v: L.sort_key_val(v, -v),
        "reduce max": lambda L: lambda x: L.reduce(x, -np.inf, L.max, (0, 2)),
        "reduce add": lambda L: lambda x: L.reduce(x, np.float32(0), L.add, (1,)),
        "dot": lambda L: lambda x, v: L.dot(x[0], x[1].T) + L.dot(v[:3], x[0]).sum(),
        "batch_matmul": lambda L: lambda x: L.batch_matmul(x, L.transpose(x, (0, 2, 1))),
        "associative_scan": lambda L: lambda x: L.associative_scan(L.add, x, axis=1),
        "associative_scan tree": lambda L: (
            lambda v: L.associative_scan(
                lambda a, b: (a[0] * b[0], a[1] + b[1]), (v, v * 2), reverse=True
            )
        ),
    }
    args = {
        "dynamic_update_slice_in_dim": (x, u),
        "dynamic_update_index_in_dim": (x, u),
        "broadcast_to_rank": (v,),
        "reciprocal": (v,),
        "erfc": (v,),
        "square rsqrt logistic": (v,),
        "sort_key_val": (v,),
        "dot": (x, v),
        "associative_scan tree": (v,),
    }
    check(
        [
            case(name, *_both(spell), *args.get(name, (x,)), tol=(1e-5, 1e-5))
            for name, spell in wrappers.items()
        ]
    )
    assert lax.broadcast_shapes((2, 1), (3,)) == jax.lax.broadcast_shapes((2, 1), (3,))
    assert lax.dtype(1.0) == jax.lax.dtype(1.0) and lax.dtype(np.int8(1)) == np.int8
    dn = lax.conv_dimension_numbers((1, 5, 5, 2), (3, 3, 2, 4), ("NHWC", "HWIO", "NHWC"))
    assert tuple(map(tuple, dn)) == tuple(
        map(
            tuple,
            jax.lax.conv_dimension_numbers((1, 5, 5, 2), (3, 3, 2, 4), ("NHWC", "HWIO", "NHWC")),
        )
    )


def test_new_elementwise_primitives():
    v = rand(R, (6,), f32) * 3
    n = np.array([0, 1, 7, -1, 1024, 2**30], np.int32)
    check(
        [
            case("erfc", lax.erfc, jax.lax.erfc, v),
            case("population_count", lax.population_count, jax.lax.population_count, n),
            case("clz", lax.clz, jax.lax.clz, n),
            case(
                "population_count u8",
                lax.population_count,
                jax.lax.population_count,
                n.astype(np.uint8),
            ),
        ]
    )
    check_op(lax.erfc, jax.lax.erfc, v)


def test_bitcast_convert_type_as_jax():
    v = np.array([1.0, -0.0, np.nan, -np.inf, 3.5e-40, -2.25], f32)
    as_u8 = np.asarray(jax.lax.bitcast_convert_type(v, np.uint8))
    halves = np.array([[1.0, -2.0], [np.nan, 0.5]], np.float16)

    def bitcast(dtype):
        return _both(lambda L: lambda x: L.bitcast_convert_type(x, dtype))

    check(
        [
            case("f32 -> i32", *bitcast(np.int32), v),
            case("f32 -> u32 scalar", *bitcast(np.uint32), np.float32(-1.0)),
            case("i32 -> f32", *bitcast(f32), np.array([0, 1065353216, -4194304], np.int32)),
            case("f32 -> u8 (a trailing axis of 4)", *bitcast(np.uint8), v),
            case("u8 x4 -> f32", *bitcast(f32), as_u8),
            case("f32 -> f16 (2)", *bitcast(np.float16), v),
            case("f16 x2 -> f32", *bitcast(f32), halves),
            case("f32 -> f32", *bitcast(f32), v),
            case("bf16 -> i16", *bitcast(np.int16), v.astype(jnp.bfloat16)),
        ]
    )
    for L in (lax, jax.lax):  # the same refusals as jax
        with pytest.raises(TypeError, match="bool"):
            L.bitcast_convert_type(np.array([True]), np.int8)
        with pytest.raises(TypeError, match="complex"):
            L.bitcast_convert_type(np.ones(2, np.complex64), np.float32)
        with pytest.raises(ValueError, match=r"\(2, 3\)"):
            L.bitcast_convert_type(np.zeros((2, 3), np.uint8), f32)


def test_bitcast_convert_type_derivative_is_zero_as_jax():
    v = np.array([1.0, -2.0, 0.5], f32)

    def f(L, np_):
        return lambda x: (
            (L.bitcast_convert_type(x * 3.0, np.int32).astype(f32) * 1e-9).sum() + (x * x).sum()
        )

    np.testing.assert_allclose(
        np.asarray(fn.grad(f(lax, fnp))(v)), np.asarray(jax.grad(f(jax.lax, jnp))(v)), rtol=1e-6
    )
    t = np.ones(3, f32)
    _, got = fn.jvp(lambda x: lax.bitcast_convert_type(x, f32), (v,), (t,))
    np.testing.assert_array_equal(np.asarray(got), np.zeros(3, f32))


def test_gather_and_scatter_modes_as_jax():
    x = rand(R, (5, 3), f32)
    idx = np.array([[0], [4], [7], [-1]], np.int32)
    gdn = dict(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    sdn = dict(
        update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    upd = rand(R, (4, 3), f32)

    def gather(mode, fill=None):
        return _both(
            lambda L: (
                lambda x: L.gather(
                    x,
                    idx,
                    L.GatherDimensionNumbers(**gdn),
                    (1, 3),
                    mode=L.GatherScatterMode.FILL_OR_DROP if mode == "enum" else mode,
                    fill_value=fill,
                )
            )
        )

    def scatter(name, mode):
        return _both(
            lambda L: (
                lambda x, u: getattr(L, name)(
                    x, idx, u, L.ScatterDimensionNumbers(**sdn), mode=mode
                )
            )
        )

    check(
        [
            case("gather default", *gather(None), x),
            case("gather clip", *gather("clip"), x),
            case("gather fill nan", *gather("fill"), x),
            case("gather fill -1", *gather("fill", -1.0), x),
            case("gather fill enum", *gather("enum"), x),
            case("gather fill int", *gather("fill"), (x * 10).astype(np.int32)),
            case("scatter_add drop", *scatter("scatter_add", None), x, upd),
            case("scatter_add clip", *scatter("scatter_add", "clip"), x, upd),
            case("scatter clip", *scatter("scatter", "clip"), x, upd[:1].repeat(4, 0)),
            case("scatter_sub", *scatter("scatter_sub", "drop"), x, upd),
        ]
    )

    def f(L):
        return lambda x: L.gather(
            x,
            idx,
            L.GatherDimensionNumbers(**gdn),
            (1, 3),
            mode="fill",
            fill_value=0.0,
        ).sum()

    assert_close(fn.grad(f(lax))(x), jax.grad(f(jax.lax))(x))


def test_map_batch_size_and_loop_unroll_flags():
    xs = rand(R, (7, 2), f32)
    f = lambda r: (r * 2.0, r.sum())  # noqa: E731
    cases = [
        case(
            f"map batch_size={b}",
            lambda x, b=b: lax.map(f, x, batch_size=b),
            lambda x, b=b: jax.lax.map(f, x, batch_size=b),
            xs,
        )
        for b in (None, 3, 7, 10)
    ]
    body = lambda i, c: c * 0.5 + i  # noqa: E731
    cases += [
        case(
            f"fori unroll={u}",
            lambda x, u=u: lax.fori_loop(0, 4, body, x, unroll=u),
            lambda x, u=u: jax.lax.fori_loop(0, 4, body, x, unroll=u),
            xs,
        )
        for u in (True, 2)
    ]
    cases += [
        case(
            "scan unroll=True",
            lambda x: lax.scan(lambda c, r: (c + r, c), x[0], x, unroll=True),
            lambda x: jax.lax.scan(lambda c, r: (c + r, c), x[0], x, unroll=True),
            xs,
        )
    ]
    check(cases)


def test_refusals_and_defaults_as_jax():
    # mode=None is FILL_OR_DROP
    assert lax.GatherScatterMode.from_any(None) is lax.GatherScatterMode.FILL_OR_DROP
    assert jax.lax.GatherScatterMode.from_any(None).name == "FILL_OR_DROP"
    # unroll needs static bounds
    for lib in (jax, fn):
        with pytest.raises(ValueError, match="unroll"):
            lib.jit(lambda n, L=lib.lax: L.fori_loop(0, n, lambda i, c: c + 1, 0.0, unroll=2))(3)
    np.testing.assert_allclose(lax.fori_loop(0, 3, lambda i, c: c + 1, 0.0, unroll=2), 3.0)
    # a static negative start with allow_negative_indices=False
    for lib, np_ in ((jax.lax, jnp), (lax, fnp)):
        with pytest.raises(ValueError, match=r"-2 is out of bounds for dimension 5"):
            lib.dynamic_slice(np_.arange(5.0), (-2,), (2,), allow_negative_indices=False)
    np.testing.assert_allclose(
        lax.dynamic_slice(fnp.arange(5.0), (-2,), (2,)),
        jax.lax.dynamic_slice(jnp.arange(5.0), (-2,), (2,)),
    )
