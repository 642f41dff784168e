"""ONNX translations of the contractions and windows: dot_general (MatMul or Einsum),
conv_general_dilated (Conv between Transposes to and from ONNX's channels-first layout)
and the reduce_window family (MaxPool, AveragePool)."""

import string

import numpy as np

from funcnet.lax import contractions as la
from funcnet.lax import reductions as rd
from funcnet.onnx._graph import onnx_rules
from funcnet.onnx._structural import pad


def _to_result_dtype(ctx, names):
    out = ctx.out_avals[0].dtype
    return [ctx.cast(n, a.dtype, out) for n, a in zip(names, ctx.in_avals)]


@onnx_rules.register(la.dot_general_p)
def _dot_general(ctx, lhs, rhs, *, dimension_numbers, **_):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs, rhs = _to_result_dtype(ctx, (lhs, rhs))
    ln, rn = ctx.in_avals[0].ndim, ctx.in_avals[1].ndim
    lc, rc, lb, rb = map(list, (lc, rc, lb, rb))
    # A matrix product of the trailing axes (after leading batch axes in order): MatMul.
    nb = len(lb)
    batch = list(range(nb))
    if lb == batch and rb == batch and lc == [ln - 1]:
        vector_or_matrix = nb == 0 and rc == [0] and rn in (1, 2)
        batched = nb > 0 and ln == rn == nb + 2 and rc == [nb]
        if vector_or_matrix or batched:
            return [ctx.op("MatMul", [lhs, rhs])]
    # Anything else: Einsum, with the result's axes ordered as XLA's (batch, lhs free,
    # rhs free).
    letters = iter(string.ascii_letters)
    lhs_sub = [next(letters) for _ in range(ln)]
    rhs_sub = [None] * rn
    for a, b in zip(lc + lb, rc + rb):
        rhs_sub[b] = lhs_sub[a]
    rhs_sub = [s if s is not None else next(letters) for s in rhs_sub]
    out = (
        [lhs_sub[d] for d in lb]
        + [lhs_sub[d] for d in range(ln) if d not in lc and d not in lb]
        + [rhs_sub[d] for d in range(rn) if d not in rc and d not in rb]
    )
    equation = f"{''.join(lhs_sub)},{''.join(rhs_sub)}->{''.join(out)}"
    return [ctx.op("Einsum", [lhs, rhs], equation=equation)]


def _transpose(ctx, x, perm):
    perm = [int(p) for p in perm]
    return x if perm == list(range(len(perm))) else ctx.op("Transpose", [x], perm=perm)


def _check_padding(ctx, padding):
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        ctx.fail(f"has negative padding {tuple(padding)}, which ONNX cannot express")


@onnx_rules.register(la.conv_general_dilated_p)
def _conv(
    ctx,
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
    **_,
):
    if batch_group_count != 1:
        ctx.fail(f"has batch_group_count={batch_group_count}")
    if not window_strides:
        ctx.fail("has no spatial axes; ONNX Conv needs at least one")
    lhs, rhs = _to_result_dtype(ctx, (lhs, rhs))
    dn = dimension_numbers
    # ONNX's Conv wants (N, C, spatial...) and (O, I, spatial...): the specs list
    # exactly these axes of funcnet's layouts (NHWC and HWIO for funcnet.nn).
    x = _transpose(ctx, lhs, dn.lhs_spec)
    w = _transpose(ctx, rhs, dn.rhs_spec)
    pads = [int(p[0]) for p in padding] + [int(p[1]) for p in padding]
    if any(d != 1 for d in lhs_dilation) or any(p < 0 for p in pads):
        # A transposed convolution (lhs_dilation: zeros between the input's elements)
        # or negative padding (cropping): pad the input explicitly, then a plain Conv.
        in_shape = [ctx.in_avals[0].shape[d] for d in dn.lhs_spec]
        config = [(0, 0, 0)] * 2 + [
            (int(lo), int(hi), int(d) - 1) for (lo, hi), d in zip(padding, lhs_dilation)
        ]
        zero = ctx.const(np.zeros((), ctx.out_avals[0].dtype))
        x = pad(ctx, x, in_shape, config, zero)
        pads = [0] * len(pads)
    y = ctx.op(
        "Conv",
        [x, w],
        strides=[int(s) for s in window_strides],
        pads=pads,
        dilations=[int(d) for d in rhs_dilation],
        group=int(feature_group_count),
    )
    # Axis i of ONNX's result is axis out_spec[i] of funcnet's.
    return [_transpose(ctx, y, np.argsort(dn.out_spec))]


def _reduce_window(kind):
    def rule(ctx, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        if any(d != 1 for d in base_dilation):
            ctx.fail(f"has base_dilation {tuple(base_dilation)}")
        _check_padding(ctx, padding)
        shape = ctx.in_avals[0].shape
        out_shape = ctx.out_avals[0].shape
        # Pooling axes: those with a real window; the others become ONNX channels.
        pooled = [
            d
            for d in range(len(shape))
            if window_dimensions[d] != 1
            or window_strides[d] != 1
            or tuple(padding[d]) != (0, 0)
            or window_dilation[d] != 1
        ]
        if not pooled:
            return [x]
        if kind == "add" and ctx.opset < 19 and any(window_dilation[d] != 1 for d in pooled):
            ctx.fail("sums a dilated window; ONNX AveragePool takes dilations from opset 19")
        other = [d for d in range(len(shape)) if d not in pooled]
        perm = other + pooled
        y = _transpose(ctx, x, perm)
        channels = int(np.prod([shape[d] for d in other]))
        y = ctx.reshape(y, [1, channels] + [shape[d] for d in pooled])
        attrs = dict(
            kernel_shape=[int(window_dimensions[d]) for d in pooled],
            strides=[int(window_strides[d]) for d in pooled],
            pads=[int(padding[d][0]) for d in pooled] + [int(padding[d][1]) for d in pooled],
            dilations=[int(window_dilation[d]) for d in pooled],
        )
        if kind == "max":
            y = ctx.op("MaxPool", [y], **attrs)
        elif kind == "min":  # min = -max(-x)
            y = ctx.op("Neg", [ctx.op("MaxPool", [ctx.op("Neg", [y])], **attrs)])
        else:  # the window's mean with the zero padding counted, times its size
            y = ctx.op("AveragePool", [y], count_include_pad=1, **attrs)
            size = int(np.prod(attrs["kernel_shape"]))
            y = ctx.op("Mul", [y, ctx.const(np.asarray(size, ctx.in_avals[0].dtype))])
        y = ctx.reshape(y, [shape[d] for d in other] + [out_shape[d] for d in pooled])
        return [_transpose(ctx, y, np.argsort(perm))]

    return rule


onnx_rules.register(rd.reduce_window_max_p)(_reduce_window("max"))
onnx_rules.register(rd.reduce_window_min_p)(_reduce_window("min"))
onnx_rules.register(rd.reduce_window_sum_p)(_reduce_window("add"))
