"""Rows of a table picked by integer ids, before they are gathered (`Lookup`).

An embedding followed by a layer whose first step is a linear map of its input (a
``Dense``; a recurrent layer's input projection ``x @ wi``) can map the table instead of
the rows: ``table[ids] @ w == (table @ w)[ids]``. For N ids into a table of V rows, that
is V instead of N rows through the matrix product; a recurrent layer picks the product's
rows one time step at a time inside the recurrence, where the whole ``(time, batch,
gates * hidden)`` projection is never written out. A character LSTM (V = 128 rows, N = 3,200
ids a batch) takes 0.87x the time per training step. ``Sequential`` hands such a layer a
`Lookup` instead of the embedding's output when V < N; results are the same rows of the
same products, up to rounding, and gradients reach the table and the weights through the
product. One difference: an id out of range gives a NaN row either way, but folded, that
row's NaN does not reach the weights' gradient (unfolded, ``rows.T @ cotangent`` is NaN).
"""

import numpy as np

import funcnet.numpy as fnp
from funcnet.core import dtypes

__all__ = ["Lookup"]


class Lookup:
    """``fnp.take(table, ids, axis=0)``, not computed yet: an id past either end gives a
    row of ``take``'s fill value (NaN for floats), a negative id counts from the end.

    A layer that can fold the lookup into its input projection sets the class attribute
    ``takes_lookup = True`` and accepts a `Lookup` as its input; it gets one from
    ``Sequential`` after an ``Embedding``, and calls ``gather()`` when it does not fold.

    Args:
      table: the rows, ``(V, ...)``.
      ids: integer ids of any shape.

    Attributes:
      table, ids: as given.
      shape, dtype, ndim: those of the gathered rows, ``ids.shape + table.shape[1:]``.
    """

    def __init__(self, table, ids):
        self.table, self.ids = table, ids
        self.shape = tuple(np.shape(ids)) + tuple(table.shape[1:])
        self.dtype = table.dtype
        self.ndim = len(self.shape)

    def __repr__(self):
        return f"Lookup(table {tuple(self.table.shape)}, ids {tuple(np.shape(self.ids))})"

    def gather(self):
        """The rows, ``fnp.take(table, ids, axis=0)``."""
        return fnp.take(self.table, self.ids, axis=0)

    def worth_folding(self) -> bool:
        """Whether a linear map of the table (V rows) costs less than of the rows (one
        per id)."""
        return self.table.shape[0] < int(np.prod(np.shape(self.ids), dtype=np.int64))

    def map_table(self, fun):
        """The lookup of ``fun(table)``: for a ``fun`` that maps each row on its own
        (a matrix product on the last axis), the same rows as ``fun`` of the gathered
        rows.

        Args:
          fun: ``(V, ...) -> (V, ...)``, row by row.

        Returns:
          A `Lookup` of the mapped table by the same ids.
        """
        return Lookup(fun(self.table), self.ids)

    def picker(self):
        """The ids and a function that gathers the rows of any part of them: for a
        float table a row of NaN is appended, every id past either end points at it
        and negative ids are wrapped, once; then each ``pick`` is a plain gather (no
        select), which matters when it repeats inside a loop.

        Returns:
          ``(ids, pick)``: ``pick(part)`` for ``part`` a slice of ``ids`` returns the
          rows of those ids, as ``gather`` does for the whole.
        """
        table, ids = self.table, fnp.asarray(self.ids)
        if not dtypes.is_inexact(table.dtype):
            return ids, lambda part: fnp.take(table, part, axis=0)
        n = table.shape[0]
        if np.dtype(ids.dtype).itemsize < 4:  # int8 ids: n and ids + n may not fit
            ids = ids.astype(np.int32)
        ids = fnp.where(ids < 0, ids + n, ids)
        ids = fnp.where((ids >= 0) & (ids < n), ids, n)
        fill = fnp.full((1,) + tuple(table.shape[1:]), np.nan, table.dtype)
        padded = fnp.concatenate([table, fill], axis=0)
        return ids, lambda part: fnp.take(padded, part, axis=0, mode="clip")
