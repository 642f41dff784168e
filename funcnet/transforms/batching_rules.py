"""Batching rules: elementwise ops, data movement, reductions, windows, sort.

Each rule receives (axis_size, vals, dims, **params); see batching.py.
"""

import functools

import numpy as np

from funcnet import lax
from funcnet.lax import elementwise as ew
from funcnet.lax import reductions as red
from funcnet.lax import structural as st
from funcnet.lax import windowed as wd
from funcnet.lax.fft import fft_p
from funcnet.transforms.batching import (
    batching_rules,
    bdim_to,
    dtype,
    first_batched,
    full_axes,
    full_axis,
    moveaxis,
    ndim,
    shape,
)

# --- elementwise ---------------------------------------------------------------------


def _elementwise(prim, size, vals, dims, **params):
    """Operands share one per-example shape, except that some may be scalars
    (select_n's predicate, clamp's bounds). Batched full-rank operands keep the
    batch axis of the first of them; the others are moved or broadcast to it."""
    ranks = [ndim(v) - (d is not None) for v, d in zip(vals, dims)]
    rank = max(ranks)
    ref = next(
        (i for i, (d, r) in enumerate(zip(dims, ranks)) if d is not None and r == rank), None
    )
    if ref is None:  # only per-example scalars are batched: batch axis first
        ref_i = ranks.index(rank)
        d = 0
        per_example = shape(vals[ref_i])
    else:
        d = dims[ref]
        s = shape(vals[ref])
        per_example = s[:d] + s[d + 1 :]
    full_shape = per_example[:d] + (size,) + per_example[d:]
    args = []
    for v, vd, r in zip(vals, dims, ranks):
        if r == rank:
            args.append(bdim_to(v, vd, size, d))
        elif vd is None:
            args.append(v)  # an unbatched scalar operand stays a scalar
        else:
            args.append(lax.broadcast_in_dim(v, full_shape, (d,)))
    return prim.bind(*args, **params), d


for _p in (
    ew.UNARY
    + ew.BINARY
    + ew.COMPLEX_PARTS
    + [ew.integer_pow_p, ew.round_p, ew.select_n_p, ew.clamp_p, ew.convert_element_type_p]
):
    batching_rules.register(_p)(functools.partial(_elementwise, _p))


@batching_rules.register(fft_p)
def _fft(size, vals, dims, *, fft_type, fft_lengths):
    # The transform acts on trailing axes: a leading batch axis is just one more.
    (x,), (d,) = vals, dims
    return fft_p.bind(moveaxis(x, d, 0), fft_type=fft_type, fft_lengths=fft_lengths), 0


# --- data movement -------------------------------------------------------------------


@batching_rules.register(st.broadcast_in_dim_p)
def _broadcast_in_dim(size, vals, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = vals, dims
    # Put the batch axis right after the output axis of operand axis d-1, so the
    # broadcast dimensions stay increasing and no transpose is needed.
    out_d = broadcast_dimensions[d - 1] + 1 if d > 0 else 0
    bd = [b if b < out_d else b + 1 for b in broadcast_dimensions]
    bd.insert(d, out_d)
    out_shape = shape[:out_d] + (size,) + shape[out_d:]
    return lax.broadcast_in_dim(x, out_shape, bd), out_d


@batching_rules.register(st.reshape_p)
def _reshape(size, vals, dims, *, new_sizes):
    (x,), (d,) = vals, dims
    s = shape(x)
    # The batch axis can stay between two blocks of axes when the axes before it
    # hold as many elements as a prefix of the new shape (row-major order is kept).
    before = int(np.prod(s[:d], dtype=np.int64))
    for k in range(len(new_sizes) + 1):
        if int(np.prod(new_sizes[:k], dtype=np.int64)) == before:
            return lax.reshape(x, tuple(new_sizes[:k]) + (size,) + tuple(new_sizes[k:])), k
    return lax.reshape(moveaxis(x, d, 0), (size,) + tuple(new_sizes)), 0


@batching_rules.register(st.transpose_p)
def _transpose(size, vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    perm = (d,) + full_axes(permutation, d)
    if perm == tuple(sorted(perm)):
        return x, 0  # the identity once batched
    return lax.transpose(x, perm), 0


@batching_rules.register(st.squeeze_p)
def _squeeze(size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    axes = full_axes(dimensions, d)
    return lax.squeeze(x, axes), d - sum(a < d for a in axes)


@batching_rules.register(st.rev_p)
def _rev(size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    return lax.rev(x, full_axes(dimensions, d)), d


@batching_rules.register(st.slice_p)
def _slice(size, vals, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    ins = lambda t, v: tuple(t[:d]) + (v,) + tuple(t[d:])  # noqa: E731
    return lax.slice(x, ins(start_indices, 0), ins(limit_indices, size), ins(strides, 1)), d


@batching_rules.register(st.concatenate_p)
def _concatenate(size, vals, dims, *, dimension):
    d = first_batched(dims)
    xs = [bdim_to(x, xd, size, d) for x, xd in zip(vals, dims)]
    return lax.concatenate(xs, full_axis(dimension, d)), d


@batching_rules.register(st.split_p)
def _split(size, vals, dims, *, sizes, axis):
    (x,), (d,) = vals, dims
    return lax.split(x, sizes, full_axis(axis, d)), [d] * len(sizes)


@batching_rules.register(st.pad_p)
def _pad(size, vals, dims, *, padding_config):
    (x, value), (xd, vd) = vals, dims
    if vd is None:
        cfg = list(padding_config)
        cfg.insert(xd, (0, 0, 0))
        return lax.pad(x, value, cfg), xd
    # A padding value per example: pad with anything, then select the padded cells.
    x = bdim_to(x, xd, size, 0)
    cfg = [(0, 0, 0)] + list(padding_config)
    zero = np.zeros((), dtype(x))[()]
    padded = lax.pad(x, zero, cfg)
    ones = lax.broadcast_in_dim(np.bool_(True), shape(x), ())
    mask = lax.pad(ones, np.bool_(False), cfg)
    fill = lax.broadcast_in_dim(moveaxis(value, vd, 0), shape(padded), (0,))
    return lax.select(mask, padded, fill), 0


@batching_rules.register(st.bitcast_convert_type_p)
def _bitcast(size, vals, dims, *, new_dtype):
    # The conversion acts on each element (and a trailing axis): a leading batch axis is
    # one more axis it leaves alone.
    (x,), (d,) = vals, dims
    return st.bitcast_convert_type_p.bind(moveaxis(x, d, 0), new_dtype=new_dtype), 0


@batching_rules.register(st.iota_p)
def _iota(size, vals, dims, **params):  # iota has no operands: never batched
    return st.iota_p.bind(**params), None


# --- reductions, cumulative ops, windows, sort ---------------------------------------


def _reduce(prim, size, vals, dims, *, axes, **params):
    (x,), (d,) = vals, dims
    axes = full_axes(axes, d)
    return prim.bind(x, axes=axes, **params), d - sum(a < d for a in axes)


for _p in red.REDUCTIONS + [red.argmax_p, red.argmin_p]:
    batching_rules.register(_p)(functools.partial(_reduce, _p))


def _cumulative(prim, size, vals, dims, *, axis, reverse):
    (x,), (d,) = vals, dims
    return prim.bind(x, axis=full_axis(axis, d), reverse=reverse), d


for _p in red.CUMULATIVE:
    batching_rules.register(_p)(functools.partial(_cumulative, _p))


def _reduce_window(
    prim,
    size,
    vals,
    dims,
    *,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    (x,), (d,) = vals, dims
    ins = lambda t, v: tuple(t[:d]) + (v,) + tuple(t[d:])  # noqa: E731
    return prim.bind(
        x,
        window_dimensions=ins(window_dimensions, 1),
        window_strides=ins(window_strides, 1),
        padding=ins(padding, (0, 0)),
        base_dilation=ins(base_dilation, 1),
        window_dilation=ins(window_dilation, 1),
    ), d


for _p in red.REDUCE_WINDOWS:
    batching_rules.register(_p)(functools.partial(_reduce_window, _p))


@batching_rules.register(red.sort_p)
def _sort(size, vals, dims, *, dimension, is_stable, num_keys):
    d = first_batched(dims)
    xs = [bdim_to(x, xd, size, d) for x, xd in zip(vals, dims)]
    outs = red.sort_p.bind(
        *xs, dimension=full_axis(dimension, d), is_stable=is_stable, num_keys=num_keys
    )
    return outs, [d] * len(outs)


# --- the derivatives of max/min pooling (funcnet.lax.windowed) ----------------------------


@batching_rules.register(wd.select_and_gather_add_p)
def _select_and_gather_add(
    size,
    vals,
    dims,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    d = first_batched(dims)
    t, x = (bdim_to(v, vd, size, d) for v, vd in zip(vals, dims))
    ins = lambda t_, v: tuple(t_[:d]) + (v,) + tuple(t_[d:])  # noqa: E731
    out = wd.select_and_gather_add_p.bind(
        t,
        x,
        select_prim=select_prim,
        window_dimensions=ins(window_dimensions, 1),
        window_strides=ins(window_strides, 1),
        padding=ins(padding, (0, 0)),
        base_dilation=ins(base_dilation, 1),
        window_dilation=ins(window_dilation, 1),
    )
    return out, d


@batching_rules.register(wd.select_and_scatter_add_p)
def _select_and_scatter_add(
    size, vals, dims, *, select_prim, window_dimensions, window_strides, padding
):
    d = first_batched(dims)
    source, x = (bdim_to(v, vd, size, d) for v, vd in zip(vals, dims))
    ins = lambda t_, v: tuple(t_[:d]) + (v,) + tuple(t_[d:])  # noqa: E731
    out = wd.select_and_scatter_add_p.bind(
        source,
        x,
        select_prim=select_prim,
        window_dimensions=ins(window_dimensions, 1),
        window_strides=ins(window_strides, 1),
        padding=ins(padding, (0, 0)),
    )
    return out, d
