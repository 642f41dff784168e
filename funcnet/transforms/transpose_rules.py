"""The transpose rule of every linear primitive (rows of `transpose_rules`)."""

import itertools
import weakref

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.jaxpr import closed_without_consts
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Tracer, get_aval
from funcnet.lax import contractions as la
from funcnet.lax import elementwise as ew
from funcnet.lax import indexing as ix
from funcnet.lax import reductions as rd
from funcnet.lax import structural as st
from funcnet.lax import windowed as wd
from funcnet.lax.calls import jit_p
from funcnet.lax.fft import FftType, fft_p
from funcnet.runtime.cache import register_program_cache
from funcnet.transforms.ad_util import UndefinedPrimal, Zero, instantiate, is_undefined, zeros
from funcnet.transforms.transpose import backward_pass, transpose_rules


def _aval(x):
    return x.aval if is_undefined(x) else get_aval(x)


def _zero_ct(ct_in_like):
    return Zero(_aval(ct_in_like).strip_weak_type())


def deftranspose(prim):
    return transpose_rules.register(prim)


# --- elementwise ------------------------------------------------------------------------


@deftranspose(ew.add_p)
def _add_t(ct, x, y):
    return [ct if is_undefined(x) else None, ct if is_undefined(y) else None]


@deftranspose(ew.sub_p)
def _sub_t(ct, x, y):
    return [
        ct if is_undefined(x) else None,
        (Zero(ct.aval) if isinstance(ct, Zero) else lax.neg(ct)) if is_undefined(y) else None,
    ]


@deftranspose(ew.neg_p)
def _neg_t(ct, x):
    return [Zero(ct.aval) if isinstance(ct, Zero) else lax.neg(ct)]


@deftranspose(ew.copy_p)
def _copy_t(ct, x):
    return [ct]


@deftranspose(ew.mul_p)
def _mul_t(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise NotImplementedError("mul is not linear in both operands at once")
    ct = instantiate(ct)
    if is_undefined(x):
        return [lax.mul(ct, y), None]
    return [None, lax.mul(x, ct)]


@deftranspose(ew.div_p)
def _div_t(ct, x, y):
    if is_undefined(y):
        raise NotImplementedError("div is not linear in its divisor")
    return [lax.div(instantiate(ct), y), None]


@deftranspose(ew.select_n_p)
def _select_n_t(ct, which, *cases):
    if is_undefined(which):
        raise NotImplementedError("select_n is not linear in its predicate")
    ct = instantiate(ct)
    zero = zeros(get_aval(ct).strip_weak_type())
    out = [None]
    for i, c in enumerate(cases):
        if not is_undefined(c):
            out.append(None)
            continue
        picks = [zero] * len(cases)
        picks[i] = ct
        out.append(lax.select_n(which, *picks))
    return out


@deftranspose(ew.convert_element_type_p)
def _convert_t(ct, x, *, new_dtype, weak_type=False):
    if isinstance(ct, Zero):
        return [_zero_ct(x)]
    return [lax.convert_element_type(ct, _aval(x).dtype)]


# Complex parts are linear over the reals; the rules are jax's (lax.py), which pair a
# complex cotangent with its primal by the real inner product Re(<ct, x>).


@deftranspose(ew.real_p)
def _real_t(ct, x):
    if isinstance(ct, Zero):
        return [_zero_ct(x)]
    return [lax.complex(ct, np.zeros((), get_aval(ct).dtype)[()])]


@deftranspose(ew.imag_p)
def _imag_t(ct, x):
    if isinstance(ct, Zero):
        return [_zero_ct(x)]
    return [lax.complex(np.zeros((), get_aval(ct).dtype)[()], lax.neg(ct))]


@deftranspose(ew.complex_p)
def _complex_t(ct, x, y):
    if isinstance(ct, Zero):
        return [_zero_ct(x) if is_undefined(x) else None, _zero_ct(y) if is_undefined(y) else None]
    return [
        lax.real(ct) if is_undefined(x) else None,
        lax.imag(lax.neg(ct)) if is_undefined(y) else None,
    ]


@deftranspose(ew.conj_p)
def _conj_t(ct, x, *, input_dtype):
    if isinstance(ct, Zero):
        return [_zero_ct(x)]
    if dtypes.is_complex(input_dtype):
        return [lax.conj(ct)]
    return [lax.convert_element_type(lax.real(ct), input_dtype)]


def _hermitian_mask(n, m, dtype, ndim):
    """Weights along the last axis of a half spectrum of length m (of an n-point real
    FFT): 1 for the entries that appear once in the full spectrum (DC, and Nyquist for
    an even n), 2 for those that stand for a conjugate pair; shaped to broadcast."""
    mask = np.full(m, 2, dtype)
    mask[0] = 1
    if n % 2 == 0:
        mask[m - 1] = 1
    return mask.reshape((1,) * (ndim - 1) + (m,))


def _times_const(x, const):
    aval = get_aval(x)
    const = np.asarray(const, aval.dtype)
    c = lax.broadcast_in_dim(const, aval.shape, range(aval.ndim) if const.ndim else ())
    return lax.mul(x, c)


@deftranspose(fft_p)
def _fft_t(ct, x, *, fft_type, fft_lengths):
    # jax's _fft_transpose_rule: FFT and IFFT are symmetric matrices (no conjugate under
    # jax's convention); RFFT and IRFFT account for the half spectrum's redundancy.
    if isinstance(ct, Zero):
        return [_zero_ct(x)]
    n, size = fft_lengths[-1], int(np.prod(fft_lengths))
    if fft_type == FftType.RFFT:
        m, nd = get_aval(ct).shape[-1], get_aval(ct).ndim
        scaled = _times_const(lax.conj(ct), 1 / _hermitian_mask(n, m, get_aval(ct).dtype, nd))
        out = fft_p.bind(scaled, fft_type=FftType.IRFFT, fft_lengths=fft_lengths)
        return [_times_const(out, size)]
    if fft_type == FftType.IRFFT:
        spec = fft_p.bind(ct, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
        aval = get_aval(spec)
        mask = _hermitian_mask(n, aval.shape[-1], aval.dtype, aval.ndim) / size
        return [lax.conj(_times_const(spec, mask))]
    return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]


# --- structural ---------------------------------------------------------------------------


@deftranspose(st.broadcast_in_dim_p)
def _broadcast_in_dim_t(ct, x, *, shape, broadcast_dimensions):
    x_shape = _aval(x).shape
    ct = instantiate(ct)
    new_dims = [d for d in range(len(shape)) if d not in broadcast_dimensions]
    grown = [bd for i, bd in enumerate(broadcast_dimensions) if x_shape[i] == 1 and shape[bd] != 1]
    summed = lax.reduce_sum(ct, tuple(sorted(new_dims + grown))) if new_dims or grown else ct
    return [lax.reshape(summed, x_shape) if get_aval(summed).shape != x_shape else summed]


@deftranspose(st.reshape_p)
def _reshape_t(ct, x, *, new_sizes):
    return [lax.reshape(instantiate(ct), _aval(x).shape)]


@deftranspose(st.squeeze_p)
def _squeeze_t(ct, x, *, dimensions):
    return [lax.reshape(instantiate(ct), _aval(x).shape)]


@deftranspose(st.transpose_p)
def _transpose_t(ct, x, *, permutation):
    return [lax.transpose(instantiate(ct), tuple(np.argsort(permutation)))]


@deftranspose(st.rev_p)
def _rev_t(ct, x, *, dimensions):
    return [lax.rev(instantiate(ct), dimensions)]


@deftranspose(st.slice_p)
def _slice_t(ct, x, *, start_indices, limit_indices, strides):
    shape = _aval(x).shape
    ct = instantiate(ct)
    t_shape = get_aval(ct).shape
    real_limits = [
        s + (0 if n == 0 else 1 + (n - 1) * st_)
        for s, n, st_ in zip(start_indices, t_shape, strides)
    ]
    pads = [
        (lo, d - hi, stride - 1)
        for lo, d, hi, stride in zip(start_indices, shape, real_limits, strides)
    ]
    return [lax.pad(ct, np.zeros((), get_aval(ct).dtype)[()], pads)]


@deftranspose(st.pad_p)
def _pad_t(ct, x, padding_value, *, padding_config):
    ct = instantiate(ct)
    dt = get_aval(ct).dtype
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    unpadded = lax.pad(ct, np.zeros((), dt)[()], [(-a, -b, 0) for a, b in zip(lo, hi)])
    t_x = lax.slice(unpadded, [0] * len(lo), get_aval(unpadded).shape, [i + 1 for i in interior])
    all_axes = tuple(range(len(lo)))
    t_pv = None
    if is_undefined(padding_value):
        t_pv = lax.sub(lax.reduce_sum(ct, all_axes), lax.reduce_sum(t_x, all_axes))
    return [t_x if is_undefined(x) else None, t_pv]


@deftranspose(st.concatenate_p)
def _concatenate_t(ct, *xs, dimension):
    ct = instantiate(ct)
    out, start = [], 0
    shape = get_aval(ct).shape
    for x in xs:
        n = _aval(x).shape[dimension]
        if is_undefined(x):
            lo = [0] * len(shape)
            hi = list(shape)
            lo[dimension], hi[dimension] = start, start + n
            out.append(lax.slice(ct, lo, hi))
        else:
            out.append(None)
        start += n
    return out


@deftranspose(st.split_p)
def _split_t(cts, x, *, sizes, axis):
    return [lax.concatenate([instantiate(c) for c in cts], axis)]


@deftranspose(st.dynamic_slice_p)
def _dynamic_slice_t(ct, x, *idx, slice_sizes):
    ct = instantiate(ct)
    return [lax.dynamic_update_slice(zeros(_aval(x).strip_weak_type()), ct, idx)] + [None] * len(
        idx
    )


@deftranspose(st.dynamic_update_slice_p)
def _dynamic_update_slice_t(ct, x, update, *idx):
    ct = instantiate(ct)
    u_aval = _aval(update)
    t_x = (
        lax.dynamic_update_slice(ct, zeros(u_aval.strip_weak_type()), idx)
        if is_undefined(x)
        else None
    )
    t_u = lax.dynamic_slice(ct, idx, u_aval.shape) if is_undefined(update) else None
    return [t_x, t_u] + [None] * len(idx)


# --- reductions and windows -------------------------------------------------------------------


@deftranspose(rd.reduce_sum_p)
def _reduce_sum_t(ct, x, *, axes):
    shape = _aval(x).shape
    kept = [i for i in range(len(shape)) if i not in axes]
    return [lax.broadcast_in_dim(instantiate(ct), shape, kept)]


@deftranspose(rd.cumsum_p)
def _cumsum_t(ct, x, *, axis, reverse):
    return [lax.cumsum(instantiate(ct), axis, not reverse)]


def conv_vjp_lhs_padding(
    in_shape, window_dimensions, window_strides, out_shape, padding, lhs_dilation, rhs_dilation
):
    """The padding that makes a transposed (gradient) convolution line up; as jax."""
    lhs_d = _dilate_shape(in_shape, lhs_dilation)
    rhs_d = _dilate_shape(window_dimensions, rhs_dilation)
    out_d = _dilate_shape(out_shape, window_strides)
    before = [r - lo - 1 for r, (lo, _) in zip(rhs_d, padding)]
    after = [lhs + r - 1 - o - b for lhs, r, o, b in zip(lhs_d, rhs_d, out_d, before)]
    return list(zip(before, after))


def conv_vjp_rhs_padding(
    in_shape, window_dimensions, window_strides, out_shape, padding, lhs_dilation, rhs_dilation
):
    if not in_shape:
        return []
    lhs_d = _dilate_shape(in_shape, lhs_dilation)
    rhs_d = _dilate_shape(window_dimensions, rhs_dilation)
    out_d = _dilate_shape(out_shape, window_strides)
    lo = [p[0] for p in padding]
    from_lhs = [o - lhs for o, lhs in zip(out_d, lhs_d)]
    from_rhs = [r - p - 1 for r, p in zip(rhs_d, lo)]
    return list(zip(lo, [a + b for a, b in zip(from_lhs, from_rhs)]))


def _dilate_shape(shape, dilation):
    return [0 if d == 0 else 1 + r * (d - 1) for d, r in zip(shape, dilation)]


@deftranspose(rd.reduce_window_sum_p)
def _reduce_window_sum_t(
    ct, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation
):
    ct = instantiate(ct)
    in_shape = _aval(x).shape
    pads = conv_vjp_lhs_padding(
        in_shape,
        window_dimensions,
        window_strides,
        get_aval(ct).shape,
        padding,
        base_dilation,
        window_dilation,
    )
    config = [(lo, hi, s - 1) for (lo, hi), s in zip(pads, window_strides)]
    padded = lax.pad(ct, np.zeros((), get_aval(ct).dtype)[()], config)
    ones = [1] * len(in_shape)
    return [
        rd.reduce_window_sum_p.bind(
            padded,
            window_dimensions=window_dimensions,
            window_strides=base_dilation,
            padding=tuple((0, 0) for _ in in_shape),
            base_dilation=tuple(ones),
            window_dilation=window_dilation,
        )
    ]


@deftranspose(wd.select_and_gather_add_p)
def _select_and_gather_add_t(
    ct,
    t,
    x,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    if any(d != 1 for d in window_dilation):
        # (jax has no reverse mode for this either: XLA's select_and_scatter has no
        # window dilation.)
        raise NotImplementedError(
            f"reverse-mode gradient of max/min pooling with window dilation "
            f"(window_dilation={window_dilation}) is not implemented"
        )
    if isinstance(ct, Zero):
        return [Zero(_aval(t).strip_weak_type()), None]
    dilated = any(d != 1 for d in base_dilation)
    if dilated:
        # Spread the operand out with the identity of the selection (never selected),
        # scatter onto that grid, then keep the positions of real elements.
        dt = get_aval(x).dtype
        if dtypes.is_float(dt):
            identity = -np.inf if select_prim == "ge" else np.inf
        else:
            identity = np.iinfo(dt).min if select_prim == "ge" else np.iinfo(dt).max
        x = lax.pad(x, np.asarray(identity, dt)[()], [(0, 0, d - 1) for d in base_dilation])
    out = wd.select_and_scatter_add_p.bind(
        instantiate(ct),
        x,
        select_prim=select_prim,
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
    )
    if dilated:
        shape = get_aval(out).shape
        out = lax.slice(out, [0] * len(shape), shape, base_dilation)
    return [out, None]


@deftranspose(wd.select_and_scatter_add_p)
def _select_and_scatter_add_t(
    ct, source, x, *, select_prim, window_dimensions, window_strides, padding
):
    n = len(window_dimensions)
    return [
        wd.select_and_gather_add_p.bind(
            instantiate(ct),
            x,
            select_prim=select_prim,
            window_dimensions=window_dimensions,
            window_strides=window_strides,
            padding=padding,
            base_dilation=(1,) * n,
            window_dilation=(1,) * n,
        ),
        None,
    ]


@deftranspose(wd.optimization_barrier_p)
def _barrier_t(cts, *xs):
    return list(cts)


# --- contractions --------------------------------------------------------------------------------


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _remaining(n, *removed):
    gone = set(itertools.chain(*removed))
    return [i for i in range(n) if i not in gone]


def _dot_transpose_lhs(ct, x_aval, y, dimension_numbers, precision, pet, swap_ans=False):
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    y_ndim = get_aval(y).ndim
    x_kept = _remaining(x_aval.ndim, x_contract, x_batch)
    y_kept = _remaining(y_ndim, y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((ans_y, tuple(y_kept)), (ans_batch, tuple(y_batch)))
    x_contract_sorted_by_y = [x_contract[i] for i in np.argsort(y_contract)]
    out_axes = np.argsort(list(x_batch) + x_kept + x_contract_sorted_by_y)
    y = _like_cotangent(y, ct)  # preferred_element_type: ct is wider than the operands
    out = lax.dot_general(ct, y, dims, precision=precision)
    out = lax.transpose(out, tuple(int(a) for a in out_axes))
    return (
        lax.convert_element_type(out, x_aval.dtype) if get_aval(out).dtype != x_aval.dtype else out
    )


def _like_cotangent(operand, ct):
    """The other operand in the cotangent's dtype (they differ when the primitive had a
    preferred_element_type); the result is converted back to the input's dtype."""
    dt = get_aval(ct).dtype
    return operand if get_aval(operand).dtype == dt else lax.convert_element_type(operand, dt)


def _to_dtype(x, dtype):
    return x if get_aval(x).dtype == dtype else lax.convert_element_type(x, dtype)


@deftranspose(la.dot_general_p)
def _dot_general_t(ct, x, y, *, dimension_numbers, precision=None, preferred_element_type=None):
    ct = instantiate(ct)
    (xc, yc), (xb, yb) = dimension_numbers
    t_x = t_y = None
    if is_undefined(x):
        t_x = _dot_transpose_lhs(
            ct, x.aval, y, dimension_numbers, precision, preferred_element_type
        )
    if is_undefined(y):
        t_y = _dot_transpose_lhs(
            ct, y.aval, x, ((yc, xc), (yb, xb)), precision, preferred_element_type, swap_ans=True
        )
    return [t_x, t_y]


def _conv_spec_transpose(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


def _reshape_axis_out_of(src, size1, x):
    shape = list(get_aval(x).shape)
    shape[src : src + 1] = [size1, shape[src] // size1]
    return lax.reshape(x, shape)


def _reshape_axis_into(src, dst, x):
    # dst names an axis of x with src removed; src becomes the major part of it.
    shape = get_aval(x).shape
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    new_shape = [shape[i] for i in range(len(shape)) if i != src]
    new_shape[dst] *= shape[src]
    return lax.reshape(lax.transpose(x, perm), new_shape)


@deftranspose(la.conv_general_dilated_p)
def _conv_t(
    ct,
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
    ct = instantiate(ct)
    out = [None, None]
    if is_undefined(lhs):
        out[0] = _conv_transpose_lhs(
            ct,
            lhs.aval,
            rhs,
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dimension_numbers,
            feature_group_count,
            batch_group_count,
            precision,
        )
    if is_undefined(rhs):
        out[1] = _conv_transpose_rhs(
            ct,
            lhs,
            rhs.aval,
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dimension_numbers,
            feature_group_count,
            batch_group_count,
            precision,
        )
    return out


def _conv_transpose_lhs(
    g,
    lhs_aval,
    rhs,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dn,
    feature_group_count,
    batch_group_count,
    precision,
):
    lhs_spec, rhs_spec, out_spec = dn
    t_rhs_spec = _conv_spec_transpose(rhs_spec)
    if feature_group_count > 1:
        rhs = _reshape_axis_out_of(rhs_spec[0], feature_group_count, rhs)
        rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
    elif batch_group_count > 1:
        rhs = _reshape_axis_out_of(rhs_spec[0], batch_group_count, rhs)
        rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
        feature_group_count = batch_group_count
    trans_dn = la.ConvDimensionNumbers(out_spec, t_rhs_spec, lhs_spec)
    rhs_shape = get_aval(rhs).shape
    pads = conv_vjp_lhs_padding(
        [lhs_aval.shape[d] for d in lhs_spec[2:]],
        [rhs_shape[d] for d in rhs_spec[2:]],
        window_strides,
        [get_aval(g).shape[d] for d in out_spec[2:]],
        padding,
        lhs_dilation,
        rhs_dilation,
    )
    revd = _like_cotangent(lax.rev(rhs, tuple(rhs_spec[2:])), g)
    out = la.conv_general_dilated_p.bind(
        g,
        revd,
        window_strides=tuple(lhs_dilation),
        padding=tuple(pads),
        lhs_dilation=tuple(window_strides),
        rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=trans_dn,
        feature_group_count=feature_group_count,
        batch_group_count=1,
        precision=precision,
        preferred_element_type=None,
    )
    if batch_group_count > 1:
        out = _reshape_axis_out_of(lhs_spec[1], batch_group_count, out)
        out = _reshape_axis_into(lhs_spec[1], lhs_spec[0], out)
    return _to_dtype(out, lhs_aval.dtype)


def _conv_transpose_rhs(
    g,
    lhs,
    rhs_aval,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dn,
    feature_group_count,
    batch_group_count,
    precision,
):
    if get_aval(g).size == 0:
        return Zero(rhs_aval)
    lhs_spec, rhs_spec, out_spec = dn
    lhs_t, rhs_t, out_t = map(_conv_spec_transpose, dn)
    if batch_group_count > 1:
        feature_group_count, batch_group_count = batch_group_count, 1
    elif feature_group_count > 1:
        feature_group_count, batch_group_count = 1, feature_group_count
    trans_dn = la.ConvDimensionNumbers(lhs_t, out_t, rhs_t)
    lhs_shape = get_aval(lhs).shape
    pads = conv_vjp_rhs_padding(
        [lhs_shape[d] for d in lhs_spec[2:]],
        [rhs_aval.shape[d] for d in rhs_spec[2:]],
        window_strides,
        [get_aval(g).shape[d] for d in out_spec[2:]],
        padding,
        lhs_dilation,
        rhs_dilation,
    )
    out = la.conv_general_dilated_p.bind(
        _like_cotangent(lhs, g),
        g,
        window_strides=tuple(rhs_dilation),
        padding=tuple(pads),
        lhs_dilation=tuple(lhs_dilation),
        rhs_dilation=tuple(window_strides),
        dimension_numbers=trans_dn,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count,
        precision=precision,
        preferred_element_type=None,
    )
    return _to_dtype(out, rhs_aval.dtype)


# --- gather and scatter ------------------------------------------------------------------------


def _gather_to_scatter_dn(dn):
    return ix.ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims,
        inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims,
    )


def _scatter_to_gather_dn(dn):
    return ix.GatherDimensionNumbers(
        offset_dims=dn.update_window_dims,
        collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims,
    )


@deftranspose(ix.gather_p)
def _gather_t(ct, x, indices, *, dimension_numbers, slice_sizes):
    x_aval = _aval(x).strip_weak_type()
    return [
        ix.scatter_add_p.bind(
            zeros(x_aval),
            indices,
            instantiate(ct),
            dimension_numbers=_gather_to_scatter_dn(dimension_numbers),
            indices_are_sorted=False,
            unique_indices=False,
        ),
        None,
    ]


def _update_slice_sizes(x_aval, u_aval, dn):
    window = iter(u_aval.shape[d] for d in dn.update_window_dims)
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    return tuple(1 if d in dropped else next(window) for d in range(x_aval.ndim))


@deftranspose(ix.scatter_add_p)
def _scatter_add_t(
    ct, x, indices, updates, *, dimension_numbers, indices_are_sorted=False, unique_indices=False
):
    ct = instantiate(ct)
    t_u = None
    if is_undefined(updates):
        u_aval = _aval(updates)
        t_u = ix.gather_p.bind(
            ct,
            indices,
            dimension_numbers=_scatter_to_gather_dn(dimension_numbers),
            slice_sizes=_update_slice_sizes(_aval(x), u_aval, dimension_numbers),
        )
    return [ct if is_undefined(x) else None, None, t_u]


@deftranspose(ix.scatter_p)
def _scatter_t(
    ct, x, indices, updates, *, dimension_numbers, indices_are_sorted=False, unique_indices=False
):
    ct = instantiate(ct)
    u_aval = _aval(updates)
    t_x = t_u = None
    if is_undefined(x):  # overwritten positions get no cotangent
        t_x = ix.scatter_p.bind(
            ct,
            indices,
            zeros(u_aval.strip_weak_type()),
            dimension_numbers=dimension_numbers,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
        )
    if is_undefined(updates):
        t_u = ix.gather_p.bind(
            ct,
            indices,
            dimension_numbers=_scatter_to_gather_dn(dimension_numbers),
            slice_sizes=_update_slice_sizes(_aval(x), u_aval, dimension_numbers),
        )
    return [t_x, None, t_u]


@deftranspose(ix.scatter_mul_p)
def _scatter_mul_t(ct, x, indices, updates, **params):
    if is_undefined(updates):
        raise NotImplementedError("scatter_mul is not linear in its updates")
    return [ix.scatter_mul_p.bind(instantiate(ct), indices, updates, **params), None, None]


# --- programs ------------------------------------------------------------------------------

# jaxpr -> {(linear inputs, nonzero cotangents, input avals): (program, consts)}: the
# transposed program is derived once, so its executable is reused across calls.
_transposed_programs = register_program_cache(weakref.WeakKeyDictionary())


@deftranspose(jit_p)
def _jit_t(cts, *args, jaxpr, name):
    """Transpose the jitted program as a whole, into a new jitted program."""
    linear = tuple(is_undefined(a) for a in args)
    nonlin = [a for a in args if not is_undefined(a)]
    ct_nz = tuple(not isinstance(c, Zero) for c in cts)
    in_avals = tuple(
        [get_aval(a) for a in nonlin]
        + [c.aval if hasattr(c, "aval") else get_aval(c) for c, nz in zip(cts, ct_nz) if nz]
    )
    args_avals = tuple(a.aval for a in args if is_undefined(a))
    key = (linear, ct_nz, in_avals, args_avals)
    per_jaxpr = _transposed_programs.setdefault(jaxpr, {})
    hit = per_jaxpr.get(key)
    if hit is None:

        def backward(*vals):
            nl, ct_vals = iter(vals[: len(nonlin)]), iter(vals[len(nonlin) :])
            lin_avals = iter(args_avals)
            full_args = [UndefinedPrimal(next(lin_avals)) if lin else next(nl) for lin in linear]
            full_cts = [next(ct_vals) if nz else Zero(a) for nz, a in zip(ct_nz, jaxpr.out_avals)]
            res = backward_pass(jaxpr.jaxpr, jaxpr.consts, full_args, full_cts)
            return [instantiate(r) for r, lin in zip(res, linear) if lin]

        t_jaxpr = trace_to_jaxpr(backward, list(in_avals))
        hit = (closed_without_consts(t_jaxpr), list(t_jaxpr.consts))
        if not any(isinstance(c, Tracer) for c in t_jaxpr.consts):
            per_jaxpr[key] = hit
    program, consts = hit
    outs = iter(
        jit_p.bind(
            *consts,
            *nonlin,
            *(c for c, nz in zip(cts, ct_nz) if nz),
            jaxpr=program,
            name=f"transpose({name})",
        )
    )
    return [next(outs) if lin else None for lin in linear]
