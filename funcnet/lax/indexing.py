"""gather and the scatter family, with XLA's semantics (index vector on the last axis
of `indices`). Out-of-bounds gathers clamp; out-of-bounds scatter updates are dropped,
as in XLA and jax's defaults."""

from typing import NamedTuple

from funcnet.core import dtypes
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive


class GatherDimensionNumbers(NamedTuple):
    offset_dims: tuple
    collapsed_slice_dims: tuple
    start_index_map: tuple
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    update_window_dims: tuple
    inserted_window_dims: tuple
    scatter_dims_to_operand_dims: tuple
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


def _check_indices(name, indices, n_index):
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"{name} indices must be integers, got {indices.dtype}{where()}")
    if indices.ndim == 0 or indices.shape[-1] != n_index:
        raise TypeError(f"{name}: the last axis of indices {indices.shape} must hold "
                        f"{n_index} coordinates{where()}")


gather_p = Primitive("gather")


@gather_p.def_abstract_eval
def _gather_abstract_eval(operand, indices, *, dimension_numbers, slice_sizes):
    dn = dimension_numbers
    _check_indices("gather", indices, len(dn.start_index_map))
    if len(slice_sizes) != operand.ndim or any(
            not 0 <= s <= d for s, d in zip(slice_sizes, operand.shape)):
        raise TypeError(f"gather: slice_sizes {slice_sizes} do not fit operand "
                        f"{operand.shape}{where()}")
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    if any(slice_sizes[d] > 1 for d in dropped):
        raise TypeError("gather: collapsed and batching dims must have slice size <= 1")
    offsets = [s for i, s in enumerate(slice_sizes) if i not in dropped]
    if len(offsets) != len(dn.offset_dims):
        raise TypeError(f"gather: {len(dn.offset_dims)} offset_dims for {len(offsets)} "
                        "uncollapsed slice axes")
    batch = list(indices.shape[:-1])
    rank = len(batch) + len(offsets)
    shape, bi, oi = [], iter(batch), iter(offsets)
    for i in range(rank):
        shape.append(next(oi) if i in dn.offset_dims else next(bi))
    return operand.update(shape=tuple(shape))


def _scatter_abstract_eval(name):
    def rule(operand, indices, updates, *, dimension_numbers, indices_are_sorted=False,
             unique_indices=False):
        dn = dimension_numbers
        _check_indices(name, indices, len(dn.scatter_dims_to_operand_dims))
        if updates.dtype != operand.dtype:
            raise TypeError(f"{name}: updates dtype {updates.dtype} differs from operand "
                            f"dtype {operand.dtype}{where()}")
        dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
        window = [s for i, s in enumerate(operand.shape) if i not in dropped]
        scatter_batch = list(indices.shape[:-1])
        expected_rank = len(scatter_batch) + len(dn.update_window_dims)
        ok = updates.ndim == expected_rank and len(window) == len(dn.update_window_dims)
        if ok:
            wi, bi = iter(window), iter(scatter_batch)
            for i, u in enumerate(updates.shape):
                bound = next(wi) if i in dn.update_window_dims else next(bi)
                if (i in dn.update_window_dims and u > bound) or (
                        i not in dn.update_window_dims and u != bound):
                    ok = False
        if not ok:
            raise TypeError(f"{name}: updates of shape {updates.shape} do not fit operand "
                            f"{operand.shape} with indices {indices.shape}{where()}")
        return operand.update(weak_type=operand.weak_type and updates.weak_type)
    return rule


scatter_p = Primitive("scatter")
scatter_add_p = Primitive("scatter_add")
scatter_mul_p = Primitive("scatter_mul")
scatter_min_p = Primitive("scatter_min")
scatter_max_p = Primitive("scatter_max")
SCATTERS = [scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p]
for _p in SCATTERS:
    _p.def_abstract_eval(_scatter_abstract_eval(_p.name))


def _tuplify(dn, cls):
    return cls(*(tuple(int(d) for d in f) for f in dn))


def gather(operand, indices, dimension_numbers, slice_sizes):
    return gather_p.bind(operand, indices,
                         dimension_numbers=_tuplify(dimension_numbers, GatherDimensionNumbers),
                         slice_sizes=tuple(int(s) for s in slice_sizes))


def _scatter_binder(prim):
    def binder(operand, indices, updates, dimension_numbers, indices_are_sorted=False,
               unique_indices=False):
        return prim.bind(operand, indices, updates,
                         dimension_numbers=_tuplify(dimension_numbers, ScatterDimensionNumbers),
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices))
    binder.__name__ = prim.name
    return binder


scatter = _scatter_binder(scatter_p)
scatter_add = _scatter_binder(scatter_add_p)
scatter_mul = _scatter_binder(scatter_mul_p)
scatter_min = _scatter_binder(scatter_min_p)
scatter_max = _scatter_binder(scatter_max_p)
