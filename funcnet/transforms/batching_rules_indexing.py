"""Batching rules: contractions (dot_general, conv) and indexing (dynamic slices,
gather, scatter).

A batch is never a loop here: dot_general gets the batch as a batch dimension,
a convolution folds it into its batch or feature-group dimension, and gather /
scatter with a batched index use operand/index batching dimensions.
"""

import functools

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.trace import Tracer
from funcnet.lax import contractions
from funcnet.lax import indexing as ix
from funcnet.lax import structural as st
from funcnet.lax.indexing import GatherDimensionNumbers, ScatterDimensionNumbers
from funcnet.transforms.batching import (
    batching_rules,
    bdim_to,
    dtype,
    full_axes,
    moveaxis,
    ndim,
    shape,
)


def _plus1(axes):
    return tuple(a + 1 for a in axes)


# --- dot_general -----------------------------------------------------------------------


@batching_rules.register(contractions.dot_general_p)
def _dot_general(size, vals, dims, *, dimension_numbers, precision, preferred_element_type):
    (lhs, rhs), (ld, rd) = vals, dims
    (lc, rc), (lb, rb) = dimension_numbers
    lc_, lb_, rc_, rb_ = full_axes(lc, ld), full_axes(lb, ld), full_axes(rc, rd), full_axes(rb, rd)
    if ld is not None and rd is not None:
        # Both batched: the vmap axis becomes the leading dot batch dimension.
        dn = ((lc_, rc_), ((ld,) + lb_, (rd,) + rb_))
        out_d = 0
    elif ld is not None:
        # Only lhs batched: the vmap axis is one more free lhs axis.
        dn = ((lc_, rc_), (lb_, rb_))
        free = [i for i in range(ndim(lhs)) if i not in lc_ and i not in lb_]
        out_d = len(lb) + free.index(ld)
    else:
        dn = ((lc_, rc_), (lb_, rb_))
        n_lhs_free = ndim(lhs) - len(lc) - len(lb)
        free = [i for i in range(ndim(rhs)) if i not in rc_ and i not in rb_]
        out_d = len(lb) + n_lhs_free + free.index(rd)
    out = contractions.dot_general_p.bind(
        lhs,
        rhs,
        dimension_numbers=dn,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    return out, out_d


# --- conv_general_dilated ----------------------------------------------------------------


def _reshape_axis_into(src, dst, x):
    """Merge axis `src` into axis `dst` (numbered after removing `src`), src major."""
    perm = [i for i in range(ndim(x)) if i != src]
    perm.insert(dst, src)
    s = shape(x)
    new_shape = [d for i, d in enumerate(s) if i != src]
    new_shape[dst] *= s[src]
    if perm != sorted(perm):
        x = lax.transpose(x, perm)
    return lax.reshape(x, new_shape)


def _reshape_axis_out_of(src, size1, x):
    """Split axis `src` into (size1, rest)."""
    s = list(shape(x))
    s[src : src + 1] = [size1, s[src] // size1]
    return lax.reshape(x, s)


@batching_rules.register(contractions.conv_general_dilated_p)
def _conv(
    size,
    vals,
    dims,
    *,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision,
    preferred_element_type,
):
    """As jax: lhs-only batches fold into N, rhs-only batches into the output features,
    both-batched into feature groups (batch groups for a batch-grouped conv)."""
    (lhs, rhs), (ld, rd) = vals, dims
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    conv = functools.partial(
        contractions.conv_general_dilated_p.bind,
        window_strides=window_strides,
        padding=padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    if ld is not None and rd is not None:
        if batch_group_count > 1:
            new_lhs = _reshape_axis_into(ld, lhs_spec[0], lhs)
            bgc, fgc = batch_group_count * size, feature_group_count
        else:
            new_lhs = _reshape_axis_into(ld, lhs_spec[1], lhs)
            bgc, fgc = batch_group_count, feature_group_count * size
        new_rhs = _reshape_axis_into(rd, rhs_spec[0], rhs)
        out = conv(new_lhs, new_rhs, feature_group_count=fgc, batch_group_count=bgc)
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    if ld is not None:
        if batch_group_count == 1:
            new_lhs = _reshape_axis_into(ld, lhs_spec[0], lhs)
            out = conv(new_lhs, rhs, feature_group_count=feature_group_count, batch_group_count=1)
        else:
            # Batch groups must stay outermost in N: split them out, fold the vmap
            # axis in after them, then merge back.
            new_lhs = _reshape_axis_out_of(
                lhs_spec[0] + int(ld <= lhs_spec[0]), batch_group_count, lhs
            )
            new_lhs = _reshape_axis_into(ld + int(lhs_spec[0] < ld), lhs_spec[0] + 1, new_lhs)
            new_lhs = _reshape_axis_into(lhs_spec[0], lhs_spec[0], new_lhs)
            out = conv(
                new_lhs,
                rhs,
                feature_group_count=feature_group_count,
                batch_group_count=batch_group_count,
            )
        return _reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
    if feature_group_count == 1 and batch_group_count == 1:
        new_rhs = _reshape_axis_into(rd, rhs_spec[0], rhs)
        out = conv(lhs, new_rhs, feature_group_count=1, batch_group_count=1)
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    # Grouped conv with a batched kernel: groups must stay outermost in the kernel's
    # output features, so factor them out, fold the vmap axis in, and undo on the output.
    groups = feature_group_count if feature_group_count > 1 else batch_group_count
    new_rhs = _reshape_axis_out_of(rhs_spec[0] + int(rd <= rhs_spec[0]), groups, rhs)
    new_rhs = _reshape_axis_into(rd + int(rhs_spec[0] < rd), rhs_spec[0] + 1, new_rhs)
    new_rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[0], new_rhs)
    out = conv(
        lhs, new_rhs, feature_group_count=feature_group_count, batch_group_count=batch_group_count
    )
    out = _reshape_axis_out_of(out_spec[1], groups, out)
    out = _reshape_axis_out_of(out_spec[1] + 1, size, out)
    out = _reshape_axis_into(out_spec[1], out_spec[1] + 1, out)
    return out, out_spec[1]


# --- dynamic_slice / dynamic_update_slice ----------------------------------------------


def _index_i32(i):
    if not isinstance(i, Tracer) and not hasattr(i, "aval"):
        return np.int32(i)  # a Python or NumPy integer
    return i if dtype(i) == dtypes.int32 else lax.convert_element_type(i, dtypes.int32)


def _stack_indices(size, indices, dims, bounds=None):
    """Per-example scalar start indices -> one int32 array (size, n).
    `bounds` clamps column k to [0, bounds[k]] first."""
    cols = []
    for k, (i, d) in enumerate(zip(indices, dims)):
        i = _index_i32(i)
        if bounds is not None:
            i = lax.clamp(np.int32(0), i, np.int32(bounds[k]))
        cols.append(lax.broadcast_in_dim(i, (size, 1), () if d is None else (0,)))
    return cols[0] if len(cols) == 1 else lax.concatenate(cols, 1)


def _zero_index_like(indices):
    return np.zeros((), dtype(indices[0]) if indices else dtypes.int32)[()]


@batching_rules.register(st.dynamic_slice_p)
def _dynamic_slice(size, vals, dims, *, slice_sizes):
    (x, *idx), (xd, *idims) = vals, dims
    if all(d is None for d in idims):
        idx.insert(xd, _zero_index_like(idx))
        sizes = slice_sizes[:xd] + (size,) + slice_sizes[xd:]
        return st.dynamic_slice_p.bind(x, *idx, slice_sizes=sizes), xd
    # Batched start indices: a gather (which clamps starts as dynamic_slice does).
    n = len(idx)
    index = _stack_indices(size, idx, idims)
    if xd is None:
        dn = GatherDimensionNumbers(
            offset_dims=tuple(range(1, n + 1)),
            collapsed_slice_dims=(),
            start_index_map=tuple(range(n)),
        )
        return lax.gather(x, index, dn, slice_sizes), 0
    dn = GatherDimensionNumbers(
        offset_dims=tuple(range(1, n + 1)),
        collapsed_slice_dims=(),
        start_index_map=tuple(range(1, n + 1)),
        operand_batching_dims=(0,),
        start_indices_batching_dims=(0,),
    )
    return lax.gather(moveaxis(x, xd, 0), index, dn, (1,) + tuple(slice_sizes)), 0


@batching_rules.register(st.dynamic_update_slice_p)
def _dynamic_update_slice(size, vals, dims):
    (x, upd, *idx), (xd, ud, *idims) = vals, dims
    if all(d is None for d in idims):
        d = xd if xd is not None else ud
        x, upd = bdim_to(x, xd, size, d), bdim_to(upd, ud, size, d)
        idx.insert(d, _zero_index_like(idx))
        return st.dynamic_update_slice_p.bind(x, upd, *idx), d
    # Batched start indices: a scatter. Scatter drops out-of-bounds updates where
    # dynamic_update_slice clamps the start, so clamp first.
    x, upd = bdim_to(x, xd, size, 0), bdim_to(upd, ud, size, 0)
    n = len(idx)
    bounds = [a - b for a, b in zip(shape(x)[1:], shape(upd)[1:])]
    index = _stack_indices(size, idx, idims, bounds)
    dn = ScatterDimensionNumbers(
        update_window_dims=tuple(range(1, n + 1)),
        inserted_window_dims=(),
        scatter_dims_to_operand_dims=tuple(range(1, n + 1)),
        operand_batching_dims=(0,),
        scatter_indices_batching_dims=(0,),
    )
    return lax.scatter(x, index, upd, dn, unique_indices=True), 0


# --- gather / scatter -----------------------------------------------------------------------


@batching_rules.register(ix.gather_p)
def _gather(size, vals, dims, *, dimension_numbers, slice_sizes):
    (x, idx), (xd, id_) = vals, dims
    dn = dimension_numbers
    if id_ is None:
        # The vmap axis is one more sliced (offset) axis of the operand, taken whole.
        x = moveaxis(x, xd, 0)
        new = GatherDimensionNumbers(
            offset_dims=(0,) + _plus1(dn.offset_dims),
            collapsed_slice_dims=_plus1(dn.collapsed_slice_dims),
            start_index_map=_plus1(dn.start_index_map),
            operand_batching_dims=_plus1(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims,
        )
        return ix.gather_p.bind(
            x, idx, dimension_numbers=new, slice_sizes=(size,) + tuple(slice_sizes)
        ), 0
    idx = moveaxis(idx, id_, 0)  # never the index-vector (last) axis
    if xd is None:
        # Batched indices only: one more batch axis of the indices.
        new = dn._replace(
            offset_dims=_plus1(dn.offset_dims),
            start_indices_batching_dims=_plus1(dn.start_indices_batching_dims),
        )
        return ix.gather_p.bind(x, idx, dimension_numbers=new, slice_sizes=slice_sizes), 0
    # Both batched: pair the operand's and the indices' vmap axes as batching dims.
    x = moveaxis(x, xd, 0)
    new = GatherDimensionNumbers(
        offset_dims=_plus1(dn.offset_dims),
        collapsed_slice_dims=_plus1(dn.collapsed_slice_dims),
        start_index_map=_plus1(dn.start_index_map),
        operand_batching_dims=(0,) + _plus1(dn.operand_batching_dims),
        start_indices_batching_dims=(0,) + _plus1(dn.start_indices_batching_dims),
    )
    return ix.gather_p.bind(x, idx, dimension_numbers=new, slice_sizes=(1,) + tuple(slice_sizes)), 0


def _scatter(prim, size, vals, dims, *, dimension_numbers, indices_are_sorted, unique_indices):
    (x, idx, upd), (xd, id_, ud) = vals, dims
    dn = dimension_numbers
    x = bdim_to(x, xd, size, 0)  # the result is batched whatever is
    upd = bdim_to(upd, ud, size, 0)
    if id_ is None:
        # The vmap axis is one more window axis of the updates.
        new = ScatterDimensionNumbers(
            update_window_dims=(0,) + _plus1(dn.update_window_dims),
            inserted_window_dims=_plus1(dn.inserted_window_dims),
            scatter_dims_to_operand_dims=_plus1(dn.scatter_dims_to_operand_dims),
            operand_batching_dims=_plus1(dn.operand_batching_dims),
            scatter_indices_batching_dims=dn.scatter_indices_batching_dims,
        )
    else:
        idx = moveaxis(idx, id_, 0)
        new = ScatterDimensionNumbers(
            update_window_dims=_plus1(dn.update_window_dims),
            inserted_window_dims=_plus1(dn.inserted_window_dims),
            scatter_dims_to_operand_dims=_plus1(dn.scatter_dims_to_operand_dims),
            operand_batching_dims=(0,) + _plus1(dn.operand_batching_dims),
            scatter_indices_batching_dims=(0,) + _plus1(dn.scatter_indices_batching_dims),
        )
        indices_are_sorted = False  # sortedness across examples is not known
    return prim.bind(
        x,
        idx,
        upd,
        dimension_numbers=new,
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
    ), 0


for _p in ix.SCATTERS:
    batching_rules.register(_p)(functools.partial(_scatter, _p))
