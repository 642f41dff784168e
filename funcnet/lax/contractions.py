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
    """The layout of a convolution's operands, as jax.lax.ConvDimensionNumbers: for each of
    input, kernel and output, the index of each logical axis.

    Build it with `lax.conv_dimension_numbers` from layout strings, or directly.

    Args:
      lhs_spec: the input's axes: (batch, feature, *spatial).
      rhs_spec: the kernel's axes: (output feature, input feature, *spatial).
      out_spec: the output's axes: (batch, feature, *spatial).

    Returns:
      A named tuple of the three specs.
    """

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
    """How exactly XLA computes a float32 contraction, as jax.lax.Precision: DEFAULT lets an
    accelerator use a fast, lower-precision mode (such as bfloat16 passes); HIGH a middle
    one (tensorfloat32, or 3 bfloat16 passes); HIGHEST asks for full float32. On CPU all
    three compute in float32.

    The `precision` argument of the contractions also takes the strings 'default' /
    'fastest' / 'bfloat16', 'high' / 'tensorfloat32' / 'bfloat16_3x' and 'highest' /
    'float32', jax's own enum members, or an `(lhs, rhs)` pair of any of these.

    Args:
      value: 0, 1 or 2: `Precision(value)` is the member DEFAULT, HIGH or HIGHEST.

    Returns:
      The enum member.
    """

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
    """The general tensor contraction, as jax.lax.dot_general: sums products over the
    paired contracting axes, batched over the paired batch axes.

    Args:
      lhs: an array.
      rhs: an array. Operands of two dtypes meet in the wider one (int32 x float32 ->
        float32), as jax.
      dimension_numbers: `((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))`,
        four sequences of axes; paired axes must have equal sizes.
      precision: None (the default), a `Precision`, its name as a string, or an
        `(lhs, rhs)` pair of them: how exactly an accelerator computes float32.
      preferred_element_type: None, or the dtype to accumulate in and return, which may
        widen the result (int8 x int8 -> int32, bfloat16 x bfloat16 -> float32); for
        integer operands it must not be narrower than theirs.

    Returns:
      An array whose axes are the batch axes (in the order given), then `lhs`'s remaining
      axes, then `rhs`'s remaining axes (each in their original order).

    Raises:
      TypeError: when the axes do not fit the shapes, the dtypes cannot be combined, or
        `preferred_element_type` is narrower than integer operands.
      ValueError: for an unknown precision.

    Example:
      >>> x = fnp.arange(6.0).reshape(2, 3)
      >>> lax.dot_general(x, x, (((1,), (1,)), ((), ()))).tolist()  # x @ x.T
      [[5.0, 14.0], [14.0, 50.0]]
      >>> a, b = fnp.ones((4, 2, 3)), fnp.ones((4, 3, 5))
      >>> lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))).shape  # batched matmul
      (4, 2, 5)
      >>> v = fnp.array([100, 100], dtype=np.int8)
      >>> lax.dot_general(v, v, (((0,), (0,)), ((), ())), preferred_element_type=np.int32)
      Array(20000, dtype=int32)
    """
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
    """The vector-vector, matrix-vector or matrix-matrix product (the last axis of `lhs`
    with the first of `rhs`), as jax.lax.dot.

    Args:
      lhs: a 1-d or 2-d array.
      rhs: a 1-d or 2-d array whose first axis has the size of `lhs`'s last.
      dimension_numbers: None (the default) for the products above; otherwise
        `dot_general`'s, and then any ranks.
      precision: as in `dot_general`.
      preferred_element_type: as in `dot_general`.

    Returns:
      (n,) x (n,) -> (), (m, n) x (n,) -> (m,), (n,) x (n, k) -> (k,),
      (m, n) x (n, k) -> (m, k); the dtype as in `dot_general`.

    Raises:
      ValueError: for other shapes without `dimension_numbers`.

    Example:
      >>> lax.dot(fnp.array([[1.0, 2.0], [3.0, 4.0]]), fnp.array([1.0, 1.0])).tolist()
      [3.0, 7.0]
    """
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
    """Matrix products over matching leading (batch) axes, `(..., m, k) x (..., k, n) ->
    (..., m, n)`, as jax.lax.batch_matmul (no broadcasting of the batch axes).

    Args:
      lhs: an array of rank at least 2.
      rhs: an array of `lhs`'s rank, with its batch sizes.
      precision: as in `dot_general`.

    Returns:
      An array of shape `(..., m, n)`.

    Raises:
      ValueError: when the ranks differ or are below 2.
      TypeError: when the batch or contracted sizes differ.
    """
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
    """An N-d convolution (XLA's, a cross-correlation: the kernel is not flipped), as
    jax.lax.conv_general_dilated.

    Args:
      lhs: the input, of rank N + 2: batch, feature and N spatial axes (NCHW order unless
        `dimension_numbers` says otherwise).
      rhs: the kernel, of `lhs`'s rank and dtype: output feature, input feature (per
        group) and N spatial axes (OIHW unless `dimension_numbers` says otherwise).
      window_strides: the stride along each spatial axis.
      padding: 'VALID', 'SAME' (`ceil(size / stride)` outputs, computed with the dilated
        kernel) or one `(lo, hi)` pair per spatial axis. 'SAME' cannot be combined with
        `lhs_dilation`.
      lhs_dilation: the input's dilation along each spatial axis (None: 1s); above 1 gives
        a transposed (fractionally strided) convolution.
      rhs_dilation: the kernel's dilation along each spatial axis (None: 1s): an atrous
        convolution.
      dimension_numbers: None (NCHW, OIHW, NCHW), three layout strings such as
        `('NHWC', 'HWIO', 'NHWC')`, or a `ConvDimensionNumbers`. With strings the spatial
        axes, and so the strides, padding and dilations, follow the order of the spatial
        letters in the kernel layout, as in jax.
      feature_group_count: split the input features into this many groups, each convolved
        with its own share of the kernel's output features (depthwise: as many groups as
        input features); 1 by default.
      batch_group_count: likewise groups of the batch (as the gradient of a grouped
        convolution uses); 1 by default.
      precision: as in `dot_general`.
      preferred_element_type: None, or a dtype to compute and return in, which may only
        widen: integers to floats or to wider integers (a signed one staying signed),
        floats to wider floats.

    Returns:
      An array laid out as the output spec, with the batch size `lhs` batch //
      `batch_group_count`, the kernel's number of output features, and along each spatial
      axis `(dilated padded size - dilated kernel size) // stride + 1` elements.

    Raises:
      TypeError: for operands of different dtypes or ranks, feature counts that do not fit
        the groups, or per-axis parameters without one entry per spatial axis.
      ValueError: for layouts that do not fit, or 'SAME' padding with `lhs_dilation`.

    Example:
      >>> lhs, rhs = fnp.ones((1, 1, 4, 4)), fnp.ones((1, 1, 3, 3))  # NCHW, OIHW
      >>> lax.conv_general_dilated(lhs, rhs, (1, 1), 'VALID').tolist()
      [[[[9.0, 9.0], [9.0, 9.0]]]]
      >>> x, k = fnp.ones((1, 5, 5, 2)), fnp.ones((3, 3, 2, 4))
      >>> dn = ('NHWC', 'HWIO', 'NHWC')
      >>> lax.conv_general_dilated(x, k, (2, 2), 'SAME', dimension_numbers=dn).shape
      (1, 3, 3, 4)
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
    """`conv_general_dilated` without dilation or groups, in NCHW / OIHW / NCHW layouts, as
    jax.lax.conv.

    Args:
      lhs: the input, (batch, features, *spatial).
      rhs: the kernel, (output features, input features, *spatial).
      window_strides: the stride along each spatial axis.
      padding: 'VALID', 'SAME' or one `(lo, hi)` pair per spatial axis.
      precision: as in `dot_general`.
      preferred_element_type: as in `conv_general_dilated`.

    Returns:
      The output, (batch, output features, *spatial).

    Example:
      >>> lax.conv(fnp.ones((2, 3, 8, 8)), fnp.ones((4, 3, 3, 3)), (1, 1), 'SAME').shape
      (2, 4, 8, 8)
    """
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
    """`conv_general_dilated` in NCHW / OIHW / NCHW layouts, without groups, as
    jax.lax.conv_with_general_padding.

    Args:
      lhs: the input, (batch, features, *spatial).
      rhs: the kernel, (output features, input features, *spatial).
      window_strides: the stride along each spatial axis.
      padding: 'VALID', 'SAME' or one `(lo, hi)` pair per spatial axis.
      lhs_dilation: the input's dilation per spatial axis, or None for 1s.
      rhs_dilation: the kernel's dilation per spatial axis, or None for 1s.
      precision: as in `dot_general`.
      preferred_element_type: as in `conv_general_dilated`.

    Returns:
      The output, (batch, output features, *spatial).
    """
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
