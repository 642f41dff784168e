"""Batching rules of the collectives (funcnet.lax.parallel).

A collective over the vmapped axis itself (`vmap(f, axis_name="i")` and `psum(x, "i")`
inside) becomes array operations along the batch axis: a reduction, a broadcast, a
permutation of the examples. A collective over other axes is bound again on the batched
value with its dimensions shifted past the batch axis.
"""

import numpy as np

from funcnet import lax
from funcnet.core.trace import get_aval
from funcnet.lax import parallel as par
from funcnet.transforms.batching import (
    axis_name_of,
    batching_rules,
    bdim_to,
    broadcast_batch,
    full_axis,
    named_axis_primitives,
    shape,
)


def _split(axis_name, size, what):
    """(is the vmapped axis named, the other names); several names including the vmapped
    one are only supported by the reductions (as in jax)."""
    name = axis_name_of(size)
    if name not in axis_name:
        return False, axis_name
    rest = tuple(a for a in axis_name if a != name)
    if rest and what is not None:
        raise NotImplementedError(
            f"vmap: {what} over the vmapped axis {name!r} together with other axes "
            f"{rest} is not supported (as in jax)"
        )
    return True, rest


def _reduction(prim, reduce, if_unmapped):
    def rule(size, vals, dims, *, axis_name):
        (x,), (d,) = vals, dims
        mine, rest = _split(axis_name, size, None)
        if not mine:
            return prim.bind(x, axis_name=axis_name), d
        y = if_unmapped(x, size) if d is None else reduce(x, (d,))
        if rest:
            y = prim.bind(y, axis_name=rest)
        return y, None

    return rule


def _times(x, size):
    """`size` copies of `x` summed (`x` may be a Python scalar)."""
    aval = get_aval(x)
    n = lax.broadcast_in_dim(np.asarray(int(size), aval.dtype)[()], aval.shape, ())
    return lax.mul(lax.broadcast_in_dim(x, aval.shape, range(aval.ndim)), n)


batching_rules.register(par.psum_p)(_reduction(par.psum_p, lax.reduce_sum, _times))
batching_rules.register(par.psum_invariant_p)(
    _reduction(par.psum_invariant_p, lax.reduce_sum, _times)
)
batching_rules.register(par.pmax_p)(_reduction(par.pmax_p, lax.reduce_max, lambda x, n: x))
batching_rules.register(par.pmin_p)(_reduction(par.pmin_p, lax.reduce_min, lambda x, n: x))


@batching_rules.register(par.pvary_p)
def _pvary(size, vals, dims, *, axis_name):
    (x,), (d,) = vals, dims
    mine, rest = _split(axis_name, size, None)
    if not mine:
        return par.pvary_p.bind(x, axis_name=axis_name), d
    return (par.pvary_p.bind(x, axis_name=rest) if rest else x), d


def _fold(x, dim):
    """Merge axes `dim` and `dim + 1`."""
    s = list(shape(x))
    return lax.reshape(x, s[:dim] + [s[dim] * s[dim + 1]] + s[dim + 2 :])


@batching_rules.register(par.all_gather_p)
def _all_gather(size, vals, dims, *, axis_name, all_gather_dimension, axis_size):
    (x,), (d,) = vals, dims
    g = all_gather_dimension
    mine, _ = _split(axis_name, size, "all_gather")
    if not mine:  # full_axis leaves the axis as it is when x is unbatched (d None)
        return par.all_gather_p.bind(
            x, axis_name=axis_name, all_gather_dimension=full_axis(g, d), axis_size=axis_size
        ), d
    return _fold(bdim_to(x, d, size, g), g), None


@batching_rules.register(par.reduce_scatter_p)
def _reduce_scatter(size, vals, dims, *, axis_name, scatter_dimension, axis_size):
    (x,), (d,) = vals, dims
    s = scatter_dimension
    mine, _ = _split(axis_name, size, "psum_scatter")
    if not mine:
        return par.reduce_scatter_p.bind(
            x, axis_name=axis_name, scatter_dimension=full_axis(s, d), axis_size=axis_size
        ), d
    y = _times(x, size) if d is None else lax.reduce_sum(x, (d,))
    sh = list(shape(y))
    # Example i keeps block i of the sum: the blocks become the batch axis.
    y = lax.reshape(y, sh[:s] + [size, sh[s] // size] + sh[s + 1 :])
    return y, s


@batching_rules.register(par.ppermute_p)
def _ppermute(size, vals, dims, *, axis_name, perm):
    (x,), (d,) = vals, dims
    mine, _ = _split(axis_name, size, "ppermute")
    if not mine:
        return par.ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
    if d is None:
        x, d = broadcast_batch(x, size, 0), 0
    src_of = {dst: src for src, dst in perm}
    blocks = []
    for j in range(size):
        if j in src_of:
            blocks.append(lax.slice_in_dim(x, src_of[j], src_of[j] + 1, axis=d))
        else:  # nobody sends to example j: it receives zeros, as on devices
            sh = list(shape(x))
            sh[d] = 1
            blocks.append(lax.full(sh, 0, x.dtype))
    return lax.concatenate(blocks, d), d


@batching_rules.register(par.all_to_all_p)
def _all_to_all(size, vals, dims, *, axis_name, split_axis, concat_axis, axis_size):
    (x,), (d,) = vals, dims
    s, c = split_axis, concat_axis
    mine, _ = _split(axis_name, size, "all_to_all")
    if not mine:
        return par.all_to_all_p.bind(
            x,
            axis_name=axis_name,
            split_axis=full_axis(s, d),
            concat_axis=full_axis(c, d),
            axis_size=axis_size,
        ), d
    x = bdim_to(x, d, size, 0)  # (i, *e): example i's value
    e = list(shape(x))[1:]
    r = len(e)
    # Split e[s] into (j, block): block j goes to example j.
    x = lax.reshape(x, [size] + e[:s] + [size, e[s] // size] + e[s + 1 :])

    def pos(k):  # full axis of per-example axis k after the split
        return 1 + k if k < s else 2 + k

    perm = [1 + s]
    for k in range(r):
        perm += [0, pos(k)] if k == c else [pos(k)]
    x = lax.transpose(x, perm)  # (j, ..., i, e'[c], ...): merge i into the concat axis
    return _fold(x, 1 + c), 0


@batching_rules.register(par.axis_index_p)
def _axis_index(size, vals, dims, *, axis_name):
    mine, _ = _split(axis_name, size, "axis_index")
    if not mine:
        return par.axis_index_p.bind(axis_name=axis_name), None
    return lax.iota("int32", size), 0


named_axis_primitives.update(par.COLLECTIVES)
