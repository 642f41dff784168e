"""Contractions: dot_general and conv_general_dilated."""

from typing import NamedTuple

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive
from funcnet.lax.reductions import padtype_to_pads

dot_general_p = Primitive("dot_general")


def _out_dtype(lhs, rhs, preferred_element_type, name):
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"{name} needs operands of one dtype, got {lhs.dtype} and "
                        f"{rhs.dtype}{where()}")
    return lhs.dtype if preferred_element_type is None else preferred_element_type


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers, precision=None,
                               preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    ok = (len(lc) == len(rc) and len(lb) == len(rb)
          and all(0 <= d < lhs.ndim for d in (*lc, *lb))
          and all(0 <= d < rhs.ndim for d in (*rc, *rb))
          and all(lhs.shape[a] == rhs.shape[b] for a, b in zip(lc, rc))
          and all(lhs.shape[a] == rhs.shape[b] for a, b in zip(lb, rb)))
    if not ok:
        raise TypeError(
            f"dot_general: shapes {lhs.shape} and {rhs.shape} do not fit contracting "
            f"dimensions {tuple(lc)}/{tuple(rc)} and batch dimensions {tuple(lb)}/{tuple(rb)}"
            f"{where()}")
    dtype = _out_dtype(lhs, rhs, preferred_element_type, "dot_general")
    batch = tuple(lhs.shape[d] for d in lb)
    lhs_free = tuple(s for i, s in enumerate(lhs.shape) if i not in lc and i not in lb)
    rhs_free = tuple(s for i, s in enumerate(rhs.shape) if i not in rc and i not in rb)
    return ShapedArray(batch + lhs_free + rhs_free, dtype,
                       lhs.weak_type and rhs.weak_type and preferred_element_type is None)


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
        if (len(layout) != ndim or first not in layout or second not in layout
                or rest != sorted(spatial)):
            raise ValueError(f"convolution layouts {(lhs, rhs, out)} do not fit an input of "
                             f"rank {ndim}: each needs {first}/{second} (or O/I for the "
                             "kernel) and the same spatial letters")
        return (layout.index(first), layout.index(second), *(layout.index(c) for c in spatial))

    return ConvDimensionNumbers(spec(lhs, "N", "C"), spec(rhs, "O", "I"), spec(out, "N", "C"))


conv_general_dilated_p = Primitive("conv_general_dilated")


def conv_output_shape(lhs_shape, rhs_shape, dn, window_strides, padding, lhs_dilation,
                      rhs_dilation, feature_group_count, batch_group_count):
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
def _conv_abstract_eval(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count,
                        precision=None, preferred_element_type=None):
    dn = dimension_numbers
    if lhs.ndim != rhs.ndim or lhs.ndim < 3:
        raise TypeError(f"conv: input {lhs.shape} and kernel {rhs.shape} must have the same "
                        f"rank, at least 3{where()}")
    for what, v in (("window_strides", window_strides), ("padding", padding),
                    ("lhs_dilation", lhs_dilation), ("rhs_dilation", rhs_dilation)):
        if len(v) != lhs.ndim - 2:
            raise TypeError(f"conv: {what} {v} needs one entry per spatial axis of input "
                            f"{lhs.shape} ({lhs.ndim - 2}){where()}")
    in_features = lhs.shape[dn.lhs_spec[1]]
    k_in, k_out = rhs.shape[dn.rhs_spec[1]], rhs.shape[dn.rhs_spec[0]]
    if in_features != k_in * feature_group_count:
        raise TypeError(
            f"conv: input {lhs.shape} has {in_features} feature channels, but kernel "
            f"{rhs.shape} expects {k_in} per group x {feature_group_count} groups{where()}")
    if k_out % feature_group_count or k_out % batch_group_count:
        raise TypeError(f"conv: kernel output features {k_out} must be divisible by the "
                        f"group counts{where()}")
    if lhs.shape[dn.lhs_spec[0]] % batch_group_count:
        raise TypeError("conv: batch size must be divisible by batch_group_count")
    dtype = _out_dtype(lhs, rhs, preferred_element_type, "conv_general_dilated")
    shape = conv_output_shape(lhs.shape, rhs.shape, dn, window_strides, padding, lhs_dilation,
                              rhs_dilation, feature_group_count, batch_group_count)
    return ShapedArray(shape, dtype)


# --- binders --------------------------------------------------------------------

def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(map(int, lc)), tuple(map(int, rc))), (tuple(map(int, lb)), tuple(map(int, rb))))
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, precision=precision,
                              preferred_element_type=pet)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """N-d convolution, as `jax.lax.conv_general_dilated`.

    padding is 'SAME', 'VALID' or a sequence of (lo, hi) pairs per spatial axis.
    """
    ndim = len(lhs.shape)
    dn = conv_dimension_numbers(ndim, dimension_numbers)
    n = ndim - 2
    lhs_dilation = tuple(map(int, lhs_dilation or (1,) * n))
    rhs_dilation = tuple(map(int, rhs_dilation or (1,) * n))
    window_strides = tuple(map(int, window_strides))
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation) and padding.upper() == "SAME":
            raise ValueError("'SAME' padding with lhs_dilation: give explicit padding")
        in_spatial = [lhs.shape[d] for d in dn.lhs_spec[2:]]
        k_spatial = [(rhs.shape[d] - 1) * r + 1 for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = padtype_to_pads(in_spatial, k_spatial, window_strides, padding)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dn,
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
        precision=precision, preferred_element_type=pet)
