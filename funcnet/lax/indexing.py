"""gather and the scatter family, with XLA's semantics (index vector on the last axis
of `indices`). Out-of-bounds gathers clamp; out-of-bounds scatter updates are dropped,
as in XLA and jax's defaults."""

import enum
from typing import NamedTuple

import numpy as np

from funcnet.core import dtypes
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax import elementwise as ew
from funcnet.lax.broadcast import broadcast_in_dim
from funcnet.lax.reductions import reduce_and


class GatherDimensionNumbers(NamedTuple):
    """How `gather` maps its index vectors to slices of the operand and lays the slices
    out, as jax.lax.GatherDimensionNumbers (XLA's gather dimension numbers; the index
    vector is always the last axis of the indices).

    Args:
      offset_dims: the output axes that hold the slice's kept (not collapsed) axes, in
        increasing order; the other output axes are the batch axes of the indices.
      collapsed_slice_dims: operand axes whose slice size is 1 and that the output drops.
      start_index_map: for each coordinate of an index vector, the operand axis it
        indexes.
      operand_batching_dims: operand axes that are batch axes, paired in order with
        `start_indices_batching_dims`; none by default.
      start_indices_batching_dims: the axes of the indices paired with
        `operand_batching_dims`; none by default.

    Returns:
      A named tuple of the five fields.
    """

    offset_dims: tuple
    collapsed_slice_dims: tuple
    start_index_map: tuple
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the scatter family maps its index vectors and updates onto the operand, as
    jax.lax.ScatterDimensionNumbers (XLA's scatter dimension numbers; the index vector is
    always the last axis of the indices).

    Args:
      update_window_dims: the axes of the updates that form each update window, in
        increasing order; the other axes of the updates match the batch axes of the
        indices.
      inserted_window_dims: operand axes the windows lack (of size 1 in the operand's
        view).
      scatter_dims_to_operand_dims: for each coordinate of an index vector, the operand
        axis it indexes.
      operand_batching_dims: operand axes that are batch axes, paired in order with
        `scatter_indices_batching_dims`; none by default.
      scatter_indices_batching_dims: the axes of the indices paired with
        `operand_batching_dims`; none by default.

    Returns:
      A named tuple of the five fields.
    """

    update_window_dims: tuple
    inserted_window_dims: tuple
    scatter_dims_to_operand_dims: tuple
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


def _check_indices(name, indices, n_index):
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"{name} indices must be integers, got {indices.dtype}{where()}")
    if indices.ndim == 0 or indices.shape[-1] != n_index:
        raise TypeError(
            f"{name}: the last axis of indices {indices.shape} must hold "
            f"{n_index} coordinates{where()}"
        )


gather_p = Primitive("gather")


@gather_p.def_abstract_eval
def _gather_abstract_eval(operand, indices, *, dimension_numbers, slice_sizes):
    dn = dimension_numbers
    _check_indices("gather", indices, len(dn.start_index_map))
    if len(slice_sizes) != operand.ndim or any(
        not 0 <= s <= d for s, d in zip(slice_sizes, operand.shape)
    ):
        raise TypeError(
            f"gather: slice_sizes {slice_sizes} do not fit operand {operand.shape}{where()}"
        )
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    if any(slice_sizes[d] > 1 for d in dropped):
        raise TypeError("gather: collapsed and batching dims must have slice size <= 1")
    offsets = [s for i, s in enumerate(slice_sizes) if i not in dropped]
    if len(offsets) != len(dn.offset_dims):
        raise TypeError(
            f"gather: {len(dn.offset_dims)} offset_dims for {len(offsets)} uncollapsed slice axes"
        )
    batch = list(indices.shape[:-1])
    rank = len(batch) + len(offsets)
    shape, bi, oi = [], iter(batch), iter(offsets)
    for i in range(rank):
        shape.append(next(oi) if i in dn.offset_dims else next(bi))
    return operand.update(shape=tuple(shape))


def _scatter_abstract_eval(name):
    def rule(
        operand,
        indices,
        updates,
        *,
        dimension_numbers,
        indices_are_sorted=False,
        unique_indices=False,
    ):
        dn = dimension_numbers
        _check_indices(name, indices, len(dn.scatter_dims_to_operand_dims))
        if updates.dtype != operand.dtype:
            raise TypeError(
                f"{name}: updates dtype {updates.dtype} differs from operand "
                f"dtype {operand.dtype}{where()}"
            )
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
                    i not in dn.update_window_dims and u != bound
                ):
                    ok = False
        if not ok:
            raise TypeError(
                f"{name}: updates of shape {updates.shape} do not fit operand "
                f"{operand.shape} with indices {indices.shape}{where()}"
            )
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


class GatherScatterMode(enum.Enum):
    """What gather and scatter do with out-of-bounds indices, as jax.lax.GatherScatterMode:
    CLIP clamps them into range; FILL_OR_DROP fills the slices they gather (with
    `fill_value`) and drops the updates they scatter; PROMISE_IN_BOUNDS leaves them to
    XLA (which clamps gathers and drops scatter updates). jax's ONE_HOT mode has no
    funcnet counterpart.

    Args:
      value: 0, 1 or 2: `GatherScatterMode(value)` is the member CLIP, FILL_OR_DROP or
        PROMISE_IN_BOUNDS. (`from_any` converts names.)

    Returns:
      The enum member.
    """

    CLIP = 0
    FILL_OR_DROP = 1
    PROMISE_IN_BOUNDS = 2

    @staticmethod
    def from_any(mode):
        """The mode a `mode=` argument names, as jax's GatherScatterMode.from_any.

        Args:
          mode: a GatherScatterMode; one of 'clip', 'fill', 'drop' (both FILL_OR_DROP) or
            'promise_in_bounds' (any case); a member's name; a member of jax's own enum;
            or None, which means FILL_OR_DROP (as jax).

        Returns:
          The GatherScatterMode member.

        Raises:
          ValueError: for anything else.

        Example:
          >>> lax.GatherScatterMode.from_any('clip')
          <GatherScatterMode.CLIP: 0>
        """
        if isinstance(mode, GatherScatterMode):
            return mode
        if mode is None:
            return GatherScatterMode.FILL_OR_DROP
        names = {
            "clip": GatherScatterMode.CLIP,
            "fill": GatherScatterMode.FILL_OR_DROP,
            "drop": GatherScatterMode.FILL_OR_DROP,
            "promise_in_bounds": GatherScatterMode.PROMISE_IN_BOUNDS,
        }
        name = getattr(mode, "name", mode)  # jax's own enum too
        if isinstance(name, str) and name.lower() in names:
            return names[name.lower()]
        if name in GatherScatterMode.__members__:
            return GatherScatterMode[name]
        raise ValueError(
            f"unknown gather/scatter mode {mode!r}: use 'clip', 'fill', 'drop' "
            f"or 'promise_in_bounds'"
        )


def _tuplify(dn, cls):
    return cls(*(tuple(int(d) for d in f) for f in dn))


def gather(
    operand,
    start_indices,
    dimension_numbers,
    slice_sizes,
    *,
    unique_indices=False,
    indices_are_sorted=False,
    mode=None,
    fill_value=None,
):
    """XLA's gather: the slices of `operand` that start at the index vectors of
    `start_indices`, as jax.lax.gather.

    Args:
      operand: the array to read from.
      start_indices: an integer array whose last axis holds the index vectors (one
        coordinate per entry of `start_index_map`); its other axes are batch axes.
      dimension_numbers: a `GatherDimensionNumbers`, or a tuple of its fields.
      slice_sizes: the size of each slice along every operand axis (at most 1 on collapsed
        and batching axes).
      unique_indices: a hint jax passes to XLA; funcnet's gather does not need it.
      indices_are_sorted: likewise a hint funcnet does not need.
      mode: None (the default), 'clip' or 'promise_in_bounds' (or a `GatherScatterMode`):
        a start that would put the slice out of bounds is clamped so that the slice fits.
        'fill' / 'drop' (FILL_OR_DROP): such a slice is filled with `fill_value` instead.
      fill_value: the fill of mode 'fill'; None gives jax's: NaN for floats, the lowest
        signed or the highest unsigned integer, True for booleans.

    Returns:
      An array of `operand`'s dtype: the batch axes of `start_indices`, with the slices'
      kept axes placed at `offset_dims`.

    Raises:
      TypeError: for non-integer indices, index vectors of the wrong length, or slice sizes
        and dimension numbers that do not fit `operand`.
      ValueError: for an unknown mode.

    Example:
      >>> x = fnp.arange(10.0)
      >>> dn = lax.GatherDimensionNumbers(
      ...     offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,))
      >>> idx = fnp.array([[2], [7], [12]])
      >>> lax.gather(x, idx, dn, slice_sizes=(1,)).tolist()  # 12 is clamped to 9
      [2.0, 7.0, 9.0]
      >>> lax.gather(x, idx, dn, slice_sizes=(1,), mode='fill').tolist()
      [2.0, 7.0, nan]
      >>> rows = lax.GatherDimensionNumbers(
      ...     offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
      >>> lax.gather(x.reshape(5, 2), fnp.array([[4], [0]]), rows, (1, 2)).tolist()
      [[8.0, 9.0], [0.0, 1.0]]
    """
    dn = _tuplify(dimension_numbers, GatherDimensionNumbers)
    slice_sizes = tuple(int(s) for s in slice_sizes)
    out = gather_p.bind(operand, start_indices, dimension_numbers=dn, slice_sizes=slice_sizes)
    if mode is None or GatherScatterMode.from_any(mode) != GatherScatterMode.FILL_OR_DROP:
        return out
    return _fill_out_of_bounds(out, operand, start_indices, dn, slice_sizes, fill_value)


def default_fill_value(dtype):
    """jax's fill for out-of-bounds reads (mode "fill"): NaN, the minimum signed int, the
    maximum unsigned int, True."""
    if dtypes.is_float(dtype):
        return np.nan
    if dtypes.is_bool(dtype):
        return True
    info = np.iinfo(dtype)
    return info.max if dtypes.is_unsigned(dtype) else info.min


def _fill_out_of_bounds(out, operand, indices, dn, slice_sizes, fill_value):
    """The gathered slices whose start is out of range, replaced by `fill_value`."""
    shape, out_aval = get_aval(operand).shape, get_aval(out)
    idx_aval = get_aval(indices)
    # The last start that keeps the whole slice inside, per indexed axis.
    upper = np.array([shape[d] - slice_sizes[d] for d in dn.start_index_map], idx_aval.dtype)
    n_batch = idx_aval.ndim - 1
    upper = broadcast_in_dim(upper, idx_aval.shape, (n_batch,))
    zero = np.zeros((), idx_aval.dtype)[()]
    inside = ew.bitwise_and(ew.ge(indices, zero), ew.le(indices, upper))
    inside = reduce_and(inside, (n_batch,))
    batch_axes = [i for i in range(out_aval.ndim) if i not in dn.offset_dims]
    inside = broadcast_in_dim(inside, out_aval.shape, batch_axes)
    fill = default_fill_value(out_aval.dtype) if fill_value is None else fill_value
    fill = broadcast_in_dim(np.asarray(fill, out_aval.dtype)[()], out_aval.shape, ())
    return ew.select(inside, out, fill)


def _clip_indices(operand, indices, updates, dn):
    """Scatter indices clamped so that every update window lies inside (mode 'clip')."""
    shape, idx_aval = get_aval(operand).shape, get_aval(indices)
    window = iter(get_aval(updates).shape[d] for d in dn.update_window_dims)
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    sizes = [1 if d in dropped else next(window) for d in range(len(shape))]
    upper = np.array([shape[d] - sizes[d] for d in dn.scatter_dims_to_operand_dims], idx_aval.dtype)
    upper = broadcast_in_dim(upper, idx_aval.shape, (idx_aval.ndim - 1,))
    zero = broadcast_in_dim(np.zeros((), idx_aval.dtype)[()], idx_aval.shape, ())
    return ew.clamp(zero, indices, upper)


# The scatter binders share one docstring; each fills in how it combines an update with
# the operand, and its example's last lines.
_SCATTER_DOC = """{summary}, as jax.lax.{name}.

XLA's scatter, which {combine}.

Args:
  operand: the array to update; it is not modified, a new array is returned.
  scatter_indices: an integer array whose last axis holds the index vectors (one
    coordinate per entry of `scatter_dims_to_operand_dims`), each the start of one
    update window; its other axes are batch axes.
  updates: an array of `operand`'s dtype: the batch axes of `scatter_indices`, with
    each window's axes at `update_window_dims`.
  dimension_numbers: a `ScatterDimensionNumbers`, or a tuple of its fields.
  indices_are_sorted: a promise, passed on to XLA, that the indices are sorted.
  unique_indices: a promise, passed on to XLA, that no position is updated twice.{unique}
  mode: None (the default), 'drop', 'fill' or 'promise_in_bounds' (or a
    `GatherScatterMode`): an update whose window would leave `operand` is dropped.
    'clip': its indices are clamped so that the window fits.

Returns:
  An array of `operand`'s shape and dtype, {combined}.

Raises:
  TypeError: for non-integer indices, index vectors of the wrong length, or updates
    whose dtype or shape does not fit.
  ValueError: for an unknown mode.

Example:
  >>> dn = lax.ScatterDimensionNumbers(
  ...     update_window_dims=(), inserted_window_dims=(0,),
  ...     scatter_dims_to_operand_dims=(0,))
  >>> idx = fnp.array([[1], [3], [1], [9]])  # 1 twice; 9 is out of bounds
  >>> updates = fnp.array([1.0, 2.0, 3.0, 4.0])
{example}"""

_SCATTER_DOC_PARTS = {
    "scatter": dict(
        summary="`operand` with the values at the indexed positions overwritten",
        combine="replaces the value at each position by its update",
        unique=(
            "\n    With repeated positions one update wins; which one is unspecified (as in XLA)."
        ),
        combined="each updated position holding its update",
        example="""\
  >>> idx = fnp.array([[1], [3]])
  >>> lax.scatter(fnp.zeros(5), idx, fnp.array([7.0, 8.0]), dn).tolist()
  [0.0, 7.0, 0.0, 8.0, 0.0]""",
    ),
    "scatter_add": dict(
        summary="`operand` with updates added at the indexed positions",
        combine="adds each update to the value at its position (repeated positions add up)",
        unique="",
        combined="the updates added in",
        example="""\
  >>> lax.scatter_add(fnp.zeros(5), idx, updates, dn).tolist()
  [0.0, 4.0, 0.0, 2.0, 0.0]
  >>> lax.scatter_add(fnp.zeros(5), idx, updates, dn, mode='clip').tolist()
  [0.0, 4.0, 0.0, 2.0, 4.0]""",
    ),
    "scatter_sub": dict(
        summary="`operand` with updates subtracted at the indexed positions",
        combine=(
            "subtracts each update from the value at its position (in funcnet, a\n"
            "scatter_add of the negated updates)"
        ),
        unique="",
        combined="the updates subtracted",
        example="""\
  >>> lax.scatter_sub(fnp.zeros(5), idx, updates, dn).tolist()
  [0.0, -4.0, 0.0, -2.0, 0.0]""",
    ),
    "scatter_mul": dict(
        summary="`operand` multiplied by updates at the indexed positions",
        combine="multiplies the value at each position by its updates",
        unique=(
            "\n    Differentiating with respect to `updates` needs True (else NotImplementedError)."
        ),
        combined="the updates multiplied in",
        example="""\
  >>> lax.scatter_mul(fnp.ones(5), idx, updates, dn).tolist()
  [1.0, 3.0, 1.0, 2.0, 1.0]""",
    ),
    "scatter_min": dict(
        summary="`operand` lowered to its updates at the indexed positions",
        combine="keeps the minimum of the value at each position and its updates",
        unique="",
        combined="each position holding the minimum of its value and its updates",
        example="""\
  >>> lax.scatter_min(fnp.zeros(5), idx, updates - 2.0, dn).tolist()
  [0.0, -1.0, 0.0, 0.0, 0.0]""",
    ),
    "scatter_max": dict(
        summary="`operand` raised to its updates at the indexed positions",
        combine="keeps the maximum of the value at each position and its updates",
        unique="",
        combined="each position holding the maximum of its value and its updates",
        example="""\
  >>> lax.scatter_max(fnp.zeros(5), idx, updates, dn).tolist()
  [0.0, 3.0, 0.0, 2.0, 0.0]""",
    ),
}


def _scatter_binder(prim, negate=False):
    def binder(
        operand,
        scatter_indices,
        updates,
        dimension_numbers,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
    ):
        dn = _tuplify(dimension_numbers, ScatterDimensionNumbers)
        if mode is not None and GatherScatterMode.from_any(mode) == GatherScatterMode.CLIP:
            scatter_indices = _clip_indices(operand, scatter_indices, updates, dn)
        if negate:
            updates = ew.neg(updates)
        return prim.bind(
            operand,
            scatter_indices,
            updates,
            dimension_numbers=dn,
            indices_are_sorted=bool(indices_are_sorted),
            unique_indices=bool(unique_indices),
        )

    binder.__name__ = prim.name if not negate else "scatter_sub"
    binder.__doc__ = _SCATTER_DOC.format(
        name=binder.__name__, **_SCATTER_DOC_PARTS[binder.__name__]
    )
    return binder


scatter = _scatter_binder(scatter_p)
scatter_add = _scatter_binder(scatter_add_p)
scatter_sub = _scatter_binder(scatter_add_p, negate=True)
scatter_mul = _scatter_binder(scatter_mul_p)
scatter_min = _scatter_binder(scatter_min_p)
scatter_max = _scatter_binder(scatter_max_p)
