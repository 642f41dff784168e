"""Contractions against jax.lax: dot_general and conv_general_dilated."""

import jax
import numpy as np
from lax_testing import bf16, case, check, f16, f32, i8, i32, rand

from funcnet import lax

MATMUL_TOL = (1e-5, 1e-5)


def _dot(dn, preferred_element_type=None):
    return (
        lambda a, b: lax.dot_general(a, b, dn, preferred_element_type=preferred_element_type),
        lambda a, b: jax.lax.dot_general(a, b, dn, preferred_element_type=preferred_element_type),
    )


DOTS = [  # lhs shape, rhs shape, ((lhs contracting, rhs contracting), (lhs batch, rhs batch))
    ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    ((4, 3), (4, 5), (((0,), (0,)), ((), ()))),
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    ((2, 3, 4), (3, 4, 5), (((1, 2), (0, 1)), ((), ()))),
    ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),  # batch axes not leading
    ((2, 3, 4, 5), (3, 2, 5, 6), (((3,), (2,)), ((0, 1), (1, 0)))),
    ((4,), (4,), (((0,), (0,)), ((), ()))),
    ((3,), (4,), (((), ()), ((), ()))),  # outer product
    ((3, 0), (0, 2), (((1,), (0,)), ((), ()))),  # empty contraction: zeros
    ((2, 3, 4), (4, 3, 2), (((1, 2), (1, 0)), ((), ()))),
]


def test_dot_general_f32():
    rng = np.random.default_rng(0)
    check(
        [
            case(f"{a} x {b} {dn}", *_dot(dn), rand(rng, a, f32), rand(rng, b, f32), tol=MATMUL_TOL)
            for a, b, dn in DOTS
        ]
    )


def test_dot_general_dtypes_and_preferred_element_type():
    rng = np.random.default_rng(1)
    cases = []
    for i, (a, b, dn) in enumerate(DOTS[2:4]):
        cases += [
            case(f"i32 {i}", *_dot(dn), rand(rng, a, i32), rand(rng, b, i32)),
            case(f"bf16 {i}", *_dot(dn), rand(rng, a, bf16), rand(rng, b, bf16)),
            case(
                f"bf16->f32 {i}",
                *_dot(dn, f32),
                rand(rng, a, bf16),
                rand(rng, b, bf16),
                tol=MATMUL_TOL,
            ),
            case(
                f"i8->i32 {i}",
                *_dot(dn, i32),
                rand(rng, a, i8, -100, 100),
                rand(rng, b, i8, -100, 100),
            ),
        ]
    a, b, dn = DOTS[2]
    cases.append(case("f16", *_dot(dn), rand(rng, a, f16), rand(rng, b, f16)))
    cases.append(
        case("f16->f32", *_dot(dn, f32), rand(rng, a, f16), rand(rng, b, f16), tol=MATMUL_TOL)
    )
    check(cases)


# --- convolutions ----------------------------------------------------------------------------


def _conv(**params):
    return (
        lambda x, w: lax.conv_general_dilated(x, w, **params),
        lambda x, w: jax.lax.conv_general_dilated(x, w, **params),
    )


def _conv_case(name, lhs_shape, rhs_shape, dtype=f32, tol=MATMUL_TOL, **params):
    rng = np.random.default_rng(len(name))
    return case(
        name, *_conv(**params), rand(rng, lhs_shape, dtype), rand(rng, rhs_shape, dtype), tol=tol
    )


def test_conv_1d_and_3d():
    check(
        [
            _conv_case(
                "1d same stride 2", (2, 3, 9), (4, 3, 4), window_strides=(2,), padding="SAME"
            ),
            _conv_case(
                "1d NWC/WIO i8->i32",
                (2, 9, 3),
                (3, 3, 4),
                i8,
                window_strides=(1,),
                padding="SAME",
                dimension_numbers=("NWC", "WIO", "NWC"),
                preferred_element_type=i32,
            ),
            _conv_case(
                "1d empty input, padded",
                (1, 2, 0),
                (3, 2, 3),
                window_strides=(1,),
                padding=((2, 2),),
            ),
            _conv_case(
                "3d NCDHW",
                (1, 2, 5, 4, 3),
                (3, 2, 2, 2, 2),
                window_strides=(1, 2, 1),
                padding="SAME",
            ),
            _conv_case(
                "3d NDHWC/DHWIO dilated",
                (1, 5, 6, 4, 2),
                (2, 3, 2, 2, 3),
                window_strides=(1, 1, 2),
                padding=((1, 0), (0, 2), (1, 1)),
                rhs_dilation=(2, 1, 1),
                dimension_numbers=("NDHWC", "DHWIO", "NDHWC"),
            ),
        ]
    )


def test_conv_2d_padding_strides_dilation():
    lhs, rhs = (2, 3, 7, 6), (4, 3, 3, 2)
    check(
        [
            _conv_case("same strided", lhs, rhs, window_strides=(2, 3), padding="SAME"),
            _conv_case(
                "explicit strided", lhs, rhs, window_strides=(2, 1), padding=((1, 2), (0, 1))
            ),
            _conv_case(
                "negative padding, rhs dilation",
                lhs,
                rhs,
                window_strides=(1, 1),
                padding=((-1, 1), (2, -1)),
                rhs_dilation=(2, 2),
            ),
            _conv_case(
                "lhs dilation (transposed conv)",
                lhs,
                rhs,
                window_strides=(1, 1),
                padding=((2, 2), (1, 1)),
                lhs_dilation=(2, 3),
            ),
            _conv_case(
                "both dilations strided, NCHW/OIHW/NHWC",
                lhs,
                rhs,
                window_strides=(2, 2),
                padding=((1, 0), (0, 1)),
                lhs_dilation=(2, 1),
                rhs_dilation=(1, 2),
                dimension_numbers=("NCHW", "OIHW", "NHWC"),
            ),
            _conv_case("bf16", lhs, rhs, bf16, tol=None, window_strides=(1, 1), padding="SAME"),
            _conv_case(
                "bf16->f32 valid, CHWN/IOHW/HWCN",
                (3, 7, 6, 2),
                (3, 4, 3, 2),
                bf16,
                window_strides=(1, 1),
                padding="VALID",
                preferred_element_type=f32,
                dimension_numbers=("CHWN", "IOHW", "HWCN"),
            ),
        ]
    )


def test_conv_layouts():
    specs = {"window_strides": (1, 2), "padding": "SAME"}
    check(
        [
            _conv_case(
                "NHWC/HWIO/NHWC",
                (2, 7, 6, 3),
                (3, 2, 3, 4),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
                **specs,
            ),
            # Spatial axes pair by letter, in the kernel layout's order.
            _conv_case(
                "NCHW/OIWH/NCWH",
                (2, 3, 7, 6),
                (4, 3, 2, 3),
                dimension_numbers=("NCHW", "OIWH", "NCWH"),
                **specs,
            ),
            _conv_case(
                "ConvDimensionNumbers specs",
                (2, 7, 6, 3),
                (3, 2, 3, 4),
                dimension_numbers=jax.lax.ConvDimensionNumbers(
                    (0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2)
                ),
                **specs,
            ),
        ]
    )


def test_conv_groups():
    check(
        [
            _conv_case(
                "feature groups 3",
                (2, 6, 5, 5),
                (6, 2, 3, 3),
                window_strides=(1, 1),
                padding="SAME",
                feature_group_count=3,
            ),
            _conv_case(
                "depthwise NHWC",
                (2, 5, 5, 4),
                (3, 3, 1, 8),
                window_strides=(1, 1),
                padding="VALID",
                feature_group_count=4,
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            ),
            _conv_case(
                "batch groups 2",
                (4, 3, 5, 5),
                (6, 3, 2, 2),
                window_strides=(1, 1),
                padding="VALID",
                batch_group_count=2,
            ),
            _conv_case(
                "batch groups 3 strided",
                (6, 2, 6, 4),
                (3, 2, 3, 2),
                window_strides=(2, 1),
                padding=((1, 1), (0, 0)),
                batch_group_count=3,
            ),
        ]
    )
