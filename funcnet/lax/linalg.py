"""Contractions: dot_general and conv_general_dilated."""

import enum
from typing import NamedTuple

import ml_dtypes
import numpy as np

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax.reductions import padtype_to_pads

dot_general_p = Primitive("dot_general")


def _type_rank(dtype):
    """How XLA orders element types when a dot mixes two (its HigherPrecisionType, as
    jax's dot_general): floats by exponent range, then mantissa; then bit width; then
    signed above unsigned."""
    if dtypes.is_float(dtype):
        info = ml_dtypes.finfo(dtype)
        return (info.maxexp, info.nmant, info.bits, True)
    bits = 1 if dtypes.is_bool(dtype) else 8 * np.dtype(dtype).itemsize
    return (-1, -1, bits, not dtypes.is_unsigned(dtype))


def _bit_width(dtype):
    return 1 if dtypes.is_bool(dtype) else 8 * np.dtype(dtype).itemsize


def _dot_out_dtype(lhs, rhs, preferred_element_type):
    """dot_general's result dtype, as jax's: operands of two dtypes give the wider one
    (int32 x float32 -> float32), and `preferred_element_type` may widen it (int8 x int8
    -> int32, bfloat16 x bfloat16 -> float32 accumulation)."""
    a, b = _type_rank(lhs.dtype), _type_rank(rhs.dtype)
    if a == b and lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general cannot mix {lhs.dtype} and {rhs.dtype}{where()}")
    dtype = lhs.dtype if a >= b else rhs.dtype
    pet = preferred_element_type
    if pet is None or pet == dtype:
        return dtype
    if not dtypes.is_float(dtype) and _bit_width(pet) < _bit_width(dtype):
        raise TypeError(
            f"dot_general: preferred_element_type {pet} must not be narrower "
            f"than the operands' type {dtype}{where()}"
        )
    return pet


def _conv_out_dtype(lhs, rhs, preferred_element_type):
    """The convolution takes one dtype (as jax's); `preferred_element_type` may widen its
    result: integers to floats or to wider integers (a signed one stays signed), floats
    to wider floats."""
    if lhs.dtype != rhs.dtype:
        raise TypeError(
            f"conv_general_dilated needs operands of one dtype, got {lhs.dtype} "
            f"and {rhs.dtype}{where()}"
        )
    dtype, pet = lhs.dtype, preferred_element_type
    if pet is None:
        return dtype
    if dtypes.is_float(dtype):
        fits = dtypes.is_float(pet)
    elif dtypes.is_int(dtype):  # a signed input keeps its sign (or becomes a float)
        fits = dtypes.is_float(pet) or (
            dtypes.is_int(pet) and (dtypes.is_unsigned(dtype) or not dtypes.is_unsigned(pet))
        )
    else:
        fits = pet == dtype
    if not fits or pet.itemsize < dtype.itemsize:
        raise TypeError(
            f"conv_general_dilated: preferred_element_type {pet} does not fit "
            f"operands of dtype {dtype} (it may only widen: integers to floats or "
            f"to wider integers, a signed one staying signed; floats to wider "
            f"floats){where()}"
        )
    return pet


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(
    lhs, rhs, *, dimension_numbers, precision=None, preferred_element_type=None
):
    (lc, rc), (lb, rb) = dimension_numbers
    ok = (
        len(lc) == len(rc)
        and len(lb) == len(rb)
        and all(0 <= d < lhs.ndim for d in (*lc, *lb))
        and all(0 <= d < rhs.ndim for d in (*rc, *rb))
        and all(lhs.shape[a] == rhs.shape[b] for a, b in zip(lc, rc))
        and all(lhs.shape[a] == rhs.shape[b] for a, b in zip(lb, rb))
    )
    if not ok:
        raise TypeError(
            f"dot_general: shapes {lhs.shape} and {rhs.shape} do not fit contracting "
            f"dimensions {tuple(lc)}/{tuple(rc)} and batch dimensions {tuple(lb)}/{tuple(rb)}"
            f"{where()}"
        )
    dtype = _dot_out_dtype(lhs, rhs, preferred_element_type)
    batch = tuple(lhs.shape[d] for d in lb)
    lhs_free = tuple(s for i, s in enumerate(lhs.shape) if i not in lc and i not in lb)
    rhs_free = tuple(s for i, s in enumerate(rhs.shape) if i not in rc and i not in rb)
    return ShapedArray(
        batch + lhs_free + rhs_free,
        dtype,
        lhs.weak_type and rhs.weak_type and preferred_element_type is None,
    )


class ConvDimensionNumbers(NamedTuple):
    """Axis indices: lhs (batch, feature, *spatial), rhs (out feature, in feature,
    *spatial), out (batch, feature, *spatial)."""

    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def conv_dimension_numbers(lhs_ndim, dimension_numbers) -> ConvDimensionNumbers:
    """Accept None (NCHW, OIHW, NCHW), layout strings ('NHWC', 'HWIO', 'NHWC') or specs."""
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return dimension_numbers
    n_spatial = lhs_ndim - 2
    if dimension_numbers is None:
        iota = tuple(range(lhs_ndim))
        return ConvDimensionNumbers(iota, iota, iota)
    lhs, rhs, out = dimension_numbers
    if isinstance(lhs, str):
        return _specs_from_layouts(lhs_ndim, lhs, rhs, out)
    specs = tuple(tuple(int(a) for a in s) for s in (lhs, rhs, out))
    if any(len(s) != n_spatial + 2 for s in specs):
        raise ValueError("convolution dimension specs must each name every axis")
    return ConvDimensionNumbers(*specs)


def _specs_from_layouts(ndim, lhs, rhs, out) -> ConvDimensionNumbers:
    """Spatial axes pair up by letter, listed in the kernel layout's order (as jax does:
    window_strides, padding and dilations follow that order too)."""
    spatial = [c for c in rhs if c not in "OI"]

    def spec(layout, first, second):
        rest = sorted(c for c in layout if c not in (first, second))
        if (
            len(layout) != ndim
            or first not in layout
            or second not in layout
            or rest != sorted(spatial)
        ):
            raise ValueError(
                f"convolution layouts {(lhs, rhs, out)} do not fit an input of "
                f"rank {ndim}: each needs {first}/{second} (or O/I for the "
                "kernel) and the same spatial letters"
            )
        return (layout.index(first), layout.index(second), *(layout.index(c) for c in spatial))

    return ConvDimensionNumbers(spec(lhs, "N", "C"), spec(rhs, "O", "I"), spec(out, "N", "C"))


conv_general_dilated_p = Primitive("conv_general_dilated")


def conv_output_shape(
    lhs_shape,
    rhs_shape,
    dn,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    feature_group_count,
    batch_group_count,
):
    spatial = []
    for i, (ld, rd) in enumerate(zip(dn.lhs_spec[2:], dn.rhs_spec[2:])):
        d = lhs_shape[ld]
        dilated_in = ((d - 1) * lhs_dilation[i] + 1 if d else 0) + padding[i][0] + padding[i][1]
        dilated_k = (rhs_shape[rd] - 1) * rhs_dilation[i] + 1
        spatial.append(max(0, (dilated_in - dilated_k) // window_strides[i] + 1))
    out = [0] * len(lhs_shape)
    out[dn.out_spec[0]] = lhs_shape[dn.lhs_spec[0]] // batch_group_count
    out[dn.out_spec[1]] = rhs_shape[dn.rhs_spec[0]]
    for i, d in enumerate(dn.out_spec[2:]):
        out[d] = spatial[i]
    return tuple(out)


@conv_general_dilated_p.def_abstract_eval
def _conv_abstract_eval(
    lhs,
    rhs,
    *,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision=None,
    preferred_element_type=None,
):
    dn = dimension_numbers
    if lhs.ndim != rhs.ndim or lhs.ndim < 3:
        raise TypeError(
            f"conv: input {lhs.shape} and kernel {rhs.shape} must have the same "
            f"rank, at least 3{where()}"
        )
    for what, v in (
        ("window_strides", window_strides),
        ("padding", padding),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
    ):
        if len(v) != lhs.ndim - 2:
            raise TypeError(
                f"conv: {what} {v} needs one entry per spatial axis of input "
                f"{lhs.shape} ({lhs.ndim - 2}){where()}"
            )
    in_features = lhs.shape[dn.lhs_spec[1]]
    k_in, k_out = rhs.shape[dn.rhs_spec[1]], rhs.shape[dn.rhs_spec[0]]
    if in_features != k_in * feature_group_count:
        raise TypeError(
            f"conv: input {lhs.shape} has {in_features} feature channels, but kernel "
            f"{rhs.shape} expects {k_in} per group x {feature_group_count} groups{where()}"
        )
    if k_out % feature_group_count or k_out % batch_group_count:
        raise TypeError(
            f"conv: kernel output features {k_out} must be divisible by the group counts{where()}"
        )
    if lhs.shape[dn.lhs_spec[0]] % batch_group_count:
        raise TypeError("conv: batch size must be divisible by batch_group_count")
    dtype = _conv_out_dtype(lhs, rhs, preferred_element_type)
    shape = conv_output_shape(
        lhs.shape,
        rhs.shape,
        dn,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        feature_group_count,
        batch_group_count,
    )
    return ShapedArray(shape, dtype)


# --- precision --------------------------------------------------------------------


class Precision(enum.Enum):
    """How exactly XLA computes a float32 contraction (as jax.lax.Precision): DEFAULT
    lets an accelerator use a fast, lower-precision mode; HIGHEST asks for full float32.
    Strings work too: 'default' / 'bfloat16', 'high' / 'tensorfloat32', 'highest' /
    'float32'."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2


_PRECISION_NAMES = {
    "default": Precision.DEFAULT,
    "fastest": Precision.DEFAULT,
    "bfloat16": Precision.DEFAULT,
    "high": Precision.HIGH,
    "tensorfloat32": Precision.HIGH,
    "bfloat16_3x": Precision.HIGH,
    "highest": Precision.HIGHEST,
    "float32": Precision.HIGHEST,
}


def _one_precision(p):
    if isinstance(p, Precision):
        return p
    if p is None:  # one operand of a pair left to the default
        return Precision.DEFAULT
    name = p if isinstance(p, str) else getattr(p, "name", None)  # jax's own enum too
    if isinstance(name, str) and name.lower() in _PRECISION_NAMES:
        return _PRECISION_NAMES[name.lower()]
    raise ValueError(
        f"precision must be None, a lax.Precision, one of "
        f"{sorted(_PRECISION_NAMES)} or a pair of them, got {p!r}"
    )


def canonicalize_precision(precision):
    """None, or a (lhs, rhs) pair of Precision values: the form the primitives carry."""
    if precision is None:
        return None
    if isinstance(precision, (tuple, list)):
        if len(precision) != 2:
            raise ValueError(f"precision pairs name one precision per operand, got {precision!r}")
        return tuple(_one_precision(p) for p in precision)
    p = _one_precision(precision)
    return (p, p)


def _canonical_pet(preferred_element_type):
    if preferred_element_type is None:
        return None
    return dtypes.canonicalize(preferred_element_type)


# --- binders --------------------------------------------------------------------


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """The general tensor contraction, as jax.lax.dot_general: `dimension_numbers` is
    ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch)). Operands of two dtypes
    meet in the wider one; `preferred_element_type` may widen the result (int8 x int8 ->
    int32, bfloat16 x bfloat16 -> float32)."""
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(map(int, lc)), tuple(map(int, rc))), (tuple(map(int, lb)), tuple(map(int, rb))))
    return dot_general_p.bind(
        lhs,
        rhs,
        dimension_numbers=dn,
        precision=canonicalize_precision(precision),
        preferred_element_type=_canonical_pet(preferred_element_type),
    )


def dot(lhs, rhs, *, dimension_numbers=None, precision=None, preferred_element_type=None):
    """Vector-vector, matrix-vector or matrix-matrix product (the last axis of `lhs` with
    the first of `rhs`), as jax.lax.dot; other contractions name `dimension_numbers`."""
    ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
    if dimension_numbers is None:
        if not (1 <= len(ls) <= 2 and 1 <= len(rs) <= 2 and ls[-1] == rs[0]):
            raise ValueError(
                f"dot: dimension_numbers must be given for anything but a "
                f"vector/matrix product; got shapes {ls} and {rs}{where()}"
            )
        dimension_numbers = (((len(ls) - 1,), (0,)), ((), ()))
    return dot_general(
        lhs,
        rhs,
        dimension_numbers,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def batch_matmul(lhs, rhs, precision=None):
    """Matrix products over matching leading (batch) axes: (..., m, k) x (..., k, n)."""
    ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
    if min(len(ls), len(rs)) < 2 or len(ls) != len(rs):
        raise ValueError(
            f"batch_matmul needs operands of one rank, at least 2; got shapes "
            f"{ls} and {rs}{where()}"
        )
    batch = tuple(range(len(ls) - 2))
    return dot_general(
        lhs, rhs, (((len(ls) - 1,), (len(rs) - 2,)), (batch, batch)), precision=precision
    )


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
):
    """N-d convolution, as `jax.lax.conv_general_dilated`.

    padding is 'SAME', 'VALID' or a sequence of (lo, hi) pairs per spatial axis.
    """
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    ndim = len(lhs_shape)
    dn = conv_dimension_numbers(ndim, dimension_numbers)
    n = ndim - 2
    lhs_dilation = tuple(map(int, lhs_dilation or (1,) * n))
    rhs_dilation = tuple(map(int, rhs_dilation or (1,) * n))
    window_strides = tuple(map(int, window_strides))
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation) and padding.upper() == "SAME":
            raise ValueError("'SAME' padding with lhs_dilation: give explicit padding")
        in_spatial = [lhs_shape[d] for d in dn.lhs_spec[2:]]
        k_spatial = [(rhs_shape[d] - 1) * r + 1 for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = padtype_to_pads(in_spatial, k_spatial, window_strides, padding)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    return conv_general_dilated_p.bind(
        lhs,
        rhs,
        window_strides=window_strides,
        padding=padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dn,
        feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count),
        precision=canonicalize_precision(precision),
        preferred_element_type=_canonical_pet(preferred_element_type),
    )


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """conv_general_dilated without dilation, NCHW / OIHW layouts (as jax.lax.conv)."""
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def conv_with_general_padding(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    precision=None,
    preferred_element_type=None,
):
    """conv_general_dilated in NCHW / OIHW layouts (as jax.lax.conv_with_general_padding)."""
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
