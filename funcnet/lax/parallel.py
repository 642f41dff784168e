"""Collectives over named axes, as primitives: psum, pmax, pmin, all_gather,
psum_scatter, ppermute, all_to_all, axis_index, and pvary.

A named axis is bound by `fn.shard_map` (a mesh axis: the body runs once per device and
the collective lowers to a StableHLO collective between devices) or by
`fn.vmap(..., axis_name=)` (the batch axis: the batching rule turns the collective into
array operations on the batch). Every primitive carries `axis_name`, a tuple of names.

Replication follows jax's current convention (check_vma): inside a shard_map a value is
*varying* or *invariant* over each mesh axis. `psum_invariant` (what shard_map makes of a
psum of a varying value) makes it invariant; `pvary` (the identity) makes an invariant
value varying, and shard_map inserts it wherever an invariant value meets a varying one.
Their transposes are each other. The plain `psum` (under vmap, or with check_vma=False)
transposes to psum, as jax's.

The primitives that change a dimension (all_gather, reduce_scatter, all_to_all) are the
*tiled* forms; the binders build the untiled ones from them with a reshape.
"""

import math

import numpy as np

from funcnet import tree
from funcnet.core import axis_env, dtypes, trace
from funcnet.core.aval import ShapedArray
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, find_top_trace, full_lower, full_raise, get_aval
from funcnet.lax.convenience import expand_dims
from funcnet.lax.elementwise import convert_element_type
from funcnet.lax.structural import squeeze


class CollectivePrimitive(Primitive):
    """A primitive over named axes. Binding it lets the batch trace of a vmap binding one
    of its axes process it even when no operand comes from that vmap (axis_index has no
    operand; psum of a constant under vmap is a multiple of it)."""

    def bind(self, *args, **params):
        if trace.bind_hook is not None:
            return trace.bind_hook(self, args, params)
        return self.bind_traced(args, params)

    def bind_traced(self, args, params):
        top = find_top_trace(args)
        for name in params["axis_name"]:
            frame = axis_env.lookup(name)
            main = None if frame is None else frame.main
            if main is not None and main.active and main.level > top.main.level:
                top = main.trace_type(main)
        tracers = [full_raise(top, a) for a in args]
        outs = [full_lower(o) for o in top.process_primitive(self, tracers, params)]
        return outs if self.multiple_results else outs[0]


psum_p = CollectivePrimitive("psum")
psum_invariant_p = CollectivePrimitive("psum_invariant")
pmax_p = CollectivePrimitive("pmax")
pmin_p = CollectivePrimitive("pmin")
pvary_p = CollectivePrimitive("pvary")
all_gather_p = CollectivePrimitive("all_gather")
reduce_scatter_p = CollectivePrimitive("reduce_scatter")
ppermute_p = CollectivePrimitive("ppermute")
all_to_all_p = CollectivePrimitive("all_to_all")
axis_index_p = CollectivePrimitive("axis_index")

# The all-reduce family: same type out as in.
REDUCTIONS = (psum_p, psum_invariant_p, pmax_p, pmin_p)
COLLECTIVES = (
    *REDUCTIONS,
    pvary_p,
    all_gather_p,
    reduce_scatter_p,
    ppermute_p,
    all_to_all_p,
    axis_index_p,
)


# --- axis names -------------------------------------------------------------------------


def _axis_names(axis_name) -> tuple:
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    for n in names:
        if isinstance(n, int) and not isinstance(n, bool):
            raise TypeError(
                f"collectives take axis names, got the positional axis {n!r}; reduce a "
                "positional axis with fnp.sum / lax.reduce_sum"
            )
    return names


def axis_size(axis_name, what: str = "collective") -> int:
    """The number of positions of a named axis (the product over a tuple of names).

    Args:
      axis_name: a name, or a tuple of names, bound by an enclosing shard_map or vmap.
      what: the operation asking, for the error message.

    Returns:
      The product of the axes' sizes.

    Raises:
      NameError: a name is not bound by any enclosing shard_map or vmap.
    """
    size = 1
    for name in _axis_names(axis_name):
        frame = axis_env.lookup(name)
        if frame is None:
            bound = axis_env.bound_names()
            raise NameError(
                f"{what}: unbound axis name {name!r}{where()}. An axis name must be bound "
                "by an enclosing fn.shard_map (a mesh axis) or fn.vmap(..., axis_name=); "
                + (f"the bound axis names here are {bound}." if bound else "none is bound here.")
            )
        size *= frame.size
    return size


# --- abstract evaluation ------------------------------------------------------------------


def _same(x, **params):
    return x


for _p in (psum_p, psum_invariant_p, pmax_p, pmin_p, pvary_p, ppermute_p):
    _p.def_abstract_eval(_same)


def _check_dim(x, dim, what):
    if not 0 <= dim < x.ndim:
        raise TypeError(f"{what}: dimension {dim} is out of range for {x.str_short()}")


@all_gather_p.def_abstract_eval
def _all_gather_abstract_eval(x, *, axis_name, all_gather_dimension, axis_size):
    _check_dim(x, all_gather_dimension, "all_gather")
    shape = list(x.shape)
    shape[all_gather_dimension] *= axis_size
    return x.update(shape=tuple(shape))


@reduce_scatter_p.def_abstract_eval
def _reduce_scatter_abstract_eval(x, *, axis_name, scatter_dimension, axis_size):
    _check_dim(x, scatter_dimension, "psum_scatter")
    shape = list(x.shape)
    if shape[scatter_dimension] % axis_size:
        raise TypeError(
            f"psum_scatter: dimension {scatter_dimension} of {x.str_short()} "
            f"({shape[scatter_dimension]}) is not divisible by the size of axis "
            f"{axis_name} ({axis_size})"
        )
    shape[scatter_dimension] //= axis_size
    return x.update(shape=tuple(shape))


@all_to_all_p.def_abstract_eval
def _all_to_all_abstract_eval(x, *, axis_name, split_axis, concat_axis, axis_size):
    _check_dim(x, split_axis, "all_to_all")
    _check_dim(x, concat_axis, "all_to_all")
    shape = list(x.shape)
    if shape[split_axis] % axis_size:
        raise TypeError(
            f"all_to_all: split_axis {split_axis} of {x.str_short()} ({shape[split_axis]}) "
            f"is not divisible by the size of axis {axis_name} ({axis_size})"
        )
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return x.update(shape=tuple(shape))


@axis_index_p.def_abstract_eval
def _axis_index_abstract_eval(*, axis_name):
    return ShapedArray((), np.dtype(np.int32))


# --- binders ------------------------------------------------------------------------------


def _leaves_map(f, x):
    return tree.tree_map(f, x)


def psum(x, axis_name, *, axis_index_groups=None):
    """Sums `x` over every position of the named axis (or axes), as `jax.lax.psum`.

    Args:
      x: an array or a pytree of arrays (booleans are summed as int32).
      axis_name: a name, or a tuple of names, bound by an enclosing `fn.shard_map` or
        `fn.vmap(..., axis_name=)`.
      axis_index_groups: only None (all positions form one group).

    Returns:
      The sum, with `x`'s structure and shapes: the same value at every position.

    Raises:
      NameError: an axis name is not bound.
      NotImplementedError: `axis_index_groups` is given.

    Example:
      >>> fn.vmap(lambda v: fn.lax.psum(v, "i"), axis_name="i")(fnp.arange(3.0))
      Array([3., 3., 3.], dtype=float32)
    """
    names = _axis_names(axis_name)
    _no_groups(axis_index_groups)
    axis_size(names, "psum")

    def leaf(v):
        if get_aval(v).dtype == dtypes.bool_:
            v = convert_element_type(v, np.int32)
        return psum_p.bind(v, axis_name=names)

    return _leaves_map(leaf, x)


def pmean(x, axis_name, *, axis_index_groups=None):
    """The mean of `x` over the named axis (or axes), as `jax.lax.pmean`.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      axis_index_groups: only None.

    Returns:
      `psum(x, axis_name)` divided by the number of positions.

    Example:
      >>> fn.vmap(lambda v: fn.lax.pmean(v, "i"), axis_name="i")(fnp.arange(3.0))
      Array([1., 1., 1.], dtype=float32)
    """
    n = axis_size(axis_name, "pmean")
    return _leaves_map(lambda s: s / n, psum(x, axis_name, axis_index_groups=axis_index_groups))


def _reduce(prim, what):
    def binder(x, axis_name, *, axis_index_groups=None):
        names = _axis_names(axis_name)
        _no_groups(axis_index_groups)
        axis_size(names, what)
        return _leaves_map(lambda v: prim.bind(v, axis_name=names), x)

    return binder


_pmax = _reduce(pmax_p, "pmax")
_pmin = _reduce(pmin_p, "pmin")


def pmax(x, axis_name, *, axis_index_groups=None):
    """The maximum of `x` over the named axis (or axes), as `jax.lax.pmax`.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      axis_index_groups: only None.

    Returns:
      The elementwise maximum over all positions, the same at every position.
      Its derivative splits the tangent evenly between tied positions (as
      `reduce_max`'s).
    """
    return _pmax(x, axis_name, axis_index_groups=axis_index_groups)


def pmin(x, axis_name, *, axis_index_groups=None):
    """The minimum of `x` over the named axis (or axes), as `jax.lax.pmin`.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      axis_index_groups: only None.

    Returns:
      The elementwise minimum over all positions, the same at every position.
    """
    return _pmin(x, axis_name, axis_index_groups=axis_index_groups)


def pvary(x, axis_name):
    """Marks `x` as varying over the named axes (the identity on values), as
    `jax.lax.pvary`. shard_map inserts it by itself where an invariant value meets a
    varying one; its transpose sums the cotangents over the axes.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.

    Returns:
      `x`.
    """
    names = _axis_names(axis_name)
    axis_size(names, "pvary")
    return _leaves_map(lambda v: pvary_p.bind(v, axis_name=names), x)


def pcast(x, axis_name, *, to):
    """Changes how a value is replicated over named axes, as `jax.lax.pcast` (jax 0.10's
    spelling of `pvary`); funcnet supports `to="varying"` only.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      to: "varying" (mark `x` as differing between positions: `pvary`).

    Returns:
      `x`.

    Raises:
      NotImplementedError: `to` is not "varying".
    """
    if to != "varying":
        raise NotImplementedError(f'pcast: only to="varying" is supported, got to={to!r}')
    return pvary(x, axis_name)


def all_gather(x, axis_name, *, axis_index_groups=None, axis=0, tiled=False, to="varying"):
    """Gathers `x` from every position of the named axis, as `jax.lax.all_gather`.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      axis_index_groups: only None.
      axis: where the gathered positions go (a new axis, or with `tiled` an existing one).
      tiled: concatenate along `axis` instead of stacking along a new one.
      to: the result's type over the axis inside shard_map: only "varying" (jax's
        default: the result counts as varying, so its transpose is `psum_scatter`).

    Returns:
      The gathered values, in the order of the positions, the same at every position.

    Raises:
      NotImplementedError: `to` is "invariant"/"reduced" (jax's all_gather_invariant).

    Example:
      >>> fn.vmap(lambda v: fn.lax.all_gather(v, "i"), axis_name="i")(fnp.arange(2.0))
      Array([[0., 1.],
             [0., 1.]], dtype=float32)
    """
    names = _axis_names(axis_name)
    _no_groups(axis_index_groups)
    if to != "varying":
        raise NotImplementedError(
            f"all_gather(to={to!r}): funcnet gathers to a varying result only (jax's "
            "default); gather and use the value as varying"
        )
    n = axis_size(names, "all_gather")

    def leaf(v):
        ndim = get_aval(v).ndim
        ax = axis % (ndim + (not tiled)) if ndim + (not tiled) else 0
        if not tiled:
            v = expand_dims(v, (ax,))
        return all_gather_p.bind(v, axis_name=names, all_gather_dimension=ax, axis_size=n)

    return _leaves_map(leaf, x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, axis_index_groups=None, tiled=False):
    """Sums `x` over the named axis and leaves each position one block of the sum, as
    `jax.lax.psum_scatter` (XLA's reduce-scatter).

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      scatter_dimension: the dimension split between the positions.
      axis_index_groups: only None.
      tiled: keep `scatter_dimension` (of size divided by the axis size); without it
        that dimension must have the axis size and is removed.

    Returns:
      Position i's block of the sum.

    Raises:
      ValueError: the dimension does not fit the axis size.
    """
    names = _axis_names(axis_name)
    _no_groups(axis_index_groups)
    n = axis_size(names, "psum_scatter")

    def leaf(v):
        aval = get_aval(v)
        d = scatter_dimension % aval.ndim if aval.ndim else 0
        if not tiled and (aval.ndim == 0 or aval.shape[d] != n):
            raise ValueError(
                f"psum_scatter: dimension {scatter_dimension} of {aval.str_short()} must "
                f"have the size of axis {axis_name} ({n}) when tiled=False"
            )
        out = reduce_scatter_p.bind(v, axis_name=names, scatter_dimension=d, axis_size=n)
        return out if tiled else squeeze(out, (d,))

    return _leaves_map(leaf, x)


def ppermute(x, axis_name, perm):
    """Sends `x` from position `src` to position `dst` for each pair of `perm`, as
    `jax.lax.ppermute`; a position no pair sends to receives zeros.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      perm: pairs (src, dst) of positions along the axis; no two with the same src or
        the same dst.

    Returns:
      The received values.

    Raises:
      ValueError: `perm` repeats a source or a destination, or names a position out of
        range.
    """
    names = _axis_names(axis_name)
    n = axis_size(names, "ppermute")
    perm = tuple((int(s), int(d)) for s, d in perm)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute: perm {perm} repeats a source or a destination")
    if any(not 0 <= i < n for i in srcs + dsts):
        raise ValueError(f"ppermute: perm {perm} names a position outside 0..{n - 1}")
    return _leaves_map(lambda v: ppermute_p.bind(v, axis_name=names, perm=perm), x)


def all_to_all(x, axis_name, split_axis, concat_axis, *, axis_index_groups=None, tiled=False):
    """Splits `x` along `split_axis`, sends block j to position j and concatenates what
    it receives along `concat_axis`, as `jax.lax.all_to_all`.

    Args:
      x: an array or a pytree of arrays.
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.
      split_axis: the dimension split into one block per position.
      concat_axis: where the received blocks go.
      axis_index_groups: only None.
      tiled: keep the dimensions (split divided, concat multiplied by the axis size);
        without it the split dimension must have the axis size and is removed, and a
        new dimension of that size is inserted at `concat_axis`.

    Returns:
      The exchanged array.

    Raises:
      ValueError: the split dimension does not fit the axis size.
    """
    names = _axis_names(axis_name)
    _no_groups(axis_index_groups)
    n = axis_size(names, "all_to_all")

    def leaf(v):
        aval = get_aval(v)
        s, c = split_axis % aval.ndim, concat_axis % aval.ndim
        if tiled:
            if aval.shape[s] % n:
                raise ValueError(
                    f"all_to_all: split_axis {split_axis} of {aval.str_short()} is not "
                    f"divisible by the size of axis {axis_name} ({n})"
                )
        else:
            if aval.shape[s] != n:
                raise ValueError(
                    f"all_to_all: split_axis {split_axis} of {aval.str_short()} must have "
                    f"the size of axis {axis_name} ({n}) when tiled=False"
                )
            if s < c:
                c += 1
                v = expand_dims(v, (c,))
            elif c < s:
                v = expand_dims(v, (c,))
                s += 1
        out = all_to_all_p.bind(v, axis_name=names, split_axis=s, concat_axis=c, axis_size=n)
        return out if tiled or s == c else squeeze(out, (s,))

    return _leaves_map(leaf, x)


def axis_index(axis_name):
    """This position's index along the named axis (or along a tuple of axes, counted
    row-major), as `jax.lax.axis_index`.

    Args:
      axis_name: a name, or a tuple of names, bound by shard_map or vmap.

    Returns:
      An int32 scalar.

    Example:
      >>> fn.vmap(lambda v: v * fn.lax.axis_index("i"), axis_name="i")(fnp.ones(3))
      Array([0., 1., 2.], dtype=float32)
    """
    names = _axis_names(axis_name)
    axis_size(names, "axis_index")
    return axis_index_p.bind(axis_name=names)


def _no_groups(axis_index_groups):
    if axis_index_groups is not None:
        raise NotImplementedError("axis_index_groups is not supported by funcnet's collectives")


# --- programs holding meshes ------------------------------------------------------------------


def program_meshes(jaxpr) -> list:
    """The distinct meshes that equations of `jaxpr` (and its sub-programs) name in a
    `mesh` parameter (shard_map's), in order of appearance. A program holding one must run
    on that mesh's devices.

    Args:
      jaxpr: a Jaxpr or ClosedJaxpr.

    Returns:
      A list of mesh objects (each once).
    """
    found = []

    def walk(j):
        j = j.jaxpr if isinstance(j, ClosedJaxpr) else j
        for eqn in j.eqns:
            mesh = eqn.params.get("mesh")
            if mesh is not None and mesh not in found:
                found.append(mesh)
            for v in eqn.params.values():
                for sub in v if isinstance(v, (tuple, list)) else (v,):
                    if isinstance(sub, (Jaxpr, ClosedJaxpr)):
                        walk(sub)

    walk(jaxpr)
    return found


def replica_groups(axis_names, mesh_shape: dict) -> np.ndarray:
    """Groups of device positions (in the mesh's iota order) that a collective over
    `axis_names` runs within: one row per combination of the other axes, positions
    ordered row-major over `axis_names` in the order given.

    Args:
      axis_names: tuple of mesh axis names.
      mesh_shape: dict name -> size, in the mesh's axis order.

    Returns:
      An int array of shape (number of groups, group size).
    """
    names = list(mesh_shape)
    ids = np.arange(math.prod(mesh_shape.values())).reshape(tuple(mesh_shape.values()))
    others = [i for i, n in enumerate(names) if n not in axis_names]
    order = others + [names.index(n) for n in axis_names]
    size = math.prod(mesh_shape[n] for n in axis_names)
    return ids.transpose(order).reshape(-1, size)


__all__ = [
    "all_gather",
    "all_to_all",
    "axis_index",
    "pcast",
    "pmax",
    "pmean",
    "pmin",
    "ppermute",
    "psum",
    "psum_scatter",
    "pvary",
]
