"""Measuring sparsity: the fraction of zeros of a tree, and a per-layer report."""

from typing import NamedTuple

import numpy as np

from funcnet import numpy as fnp
from funcnet import tree as _tree
from funcnet.compress.masks import check_masks
from funcnet.transforms.jit import jit


def sparsity(tree):
    """The fraction of zeros in a tree of arrays, or of False in a tree of masks.

    Each leaf counts its zeros (a bool leaf: its False entries); the result is the total
    over the total size, so it works inside ``jit``.

    Args:
      tree: a pytree of arrays (parameters, or bool masks).

    Returns:
      A float32 scalar array (0.0 for an empty tree).

    Example:
      >>> from funcnet import compress
      >>> float(compress.sparsity({'w': fnp.array([0.0, 1.0, 0.0, 2.0])}))
      0.5
      >>> float(compress.sparsity({'m': fnp.array([True, False, False, False])}))
      0.75
    """
    return _sparsity_jit(tree)


def _sparsity_program(tree):
    zeros = fnp.zeros([], fnp.int32)
    total = 0
    for leaf in _tree.tree_leaves(tree):
        leaf = fnp.asarray(leaf)
        is_zero = ~leaf if leaf.dtype == bool else leaf == 0
        zeros = zeros + fnp.sum(is_zero.astype(fnp.int32))
        total += int(np.prod(leaf.shape, dtype=np.int64))
    return zeros.astype(fnp.float32) / max(total, 1)


_sparsity_jit = jit(_sparsity_program)


class LayerSparsity(NamedTuple):
    """One row of a `SparsityReport`."""

    path: str
    shape: tuple
    count: int  # number of entries
    zeros: int
    sparsity: float


class SparsityReport(NamedTuple):
    """Per-leaf sparsity and the total; ``str(report)`` is a table."""

    rows: tuple  # of LayerSparsity
    count: int
    zeros: int

    @property
    def sparsity(self) -> float:
        """The fraction of zeros over all the leaves."""
        return self.zeros / self.count if self.count else 0.0

    def __str__(self):
        header = ("path", "shape", "count", "zeros", "sparsity")
        lines = [
            (r.path, str(r.shape), str(r.count), str(r.zeros), f"{r.sparsity:.2%}")
            for r in self.rows
        ]
        lines.append(("total", "", str(self.count), str(self.zeros), f"{self.sparsity:.2%}"))
        widths = [max(len(x[c]) for x in [header, *lines]) for c in range(5)]

        def fmt(cells):
            left = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            right = [cells[c].rjust(widths[c]) for c in range(2, 5)]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(fmt(header))
        return "\n".join([fmt(header), rule, *map(fmt, lines[:-1]), rule, fmt(lines[-1])])


def sparsity_report(params, masks=None):
    """Per-leaf counts of zeros (of the params, or of the params with `masks` applied).

    Args:
      params: a pytree of concrete arrays (not inside ``jit``).
      masks: optional mask tree; when given, an entry counts as zero when it is masked
        out or is zero already (what `apply_masks` would leave).

    Returns:
      A `SparsityReport`: ``rows`` (one `LayerSparsity` per leaf: path, shape, count,
      zeros, sparsity), ``count``, ``zeros`` and ``sparsity`` over all the leaves;
      printing it gives a table.

    Raises:
      ValueError: ``masks`` does not match ``params`` (names the path).

    Example:
      >>> from funcnet import compress
      >>> params = {'w': fnp.array([[0.0, 1.0], [2.0, 0.0]]), 'b': fnp.ones(2)}
      >>> print(compress.sparsity_report(params))
      path   shape   count  zeros  sparsity
      -------------------------------------
      ['b']  (2,)        2      0     0.00%
      ['w']  (2, 2)      4      2    50.00%
      -------------------------------------
      total              6      2    33.33%
    """
    if masks is not None:
        check_masks(params, masks, "sparsity_report")
    path_leaves = _tree.tree_leaves_with_path(params)
    mask_leaves = [None] * len(path_leaves) if masks is None else _tree.tree_leaves(masks)
    rows = []
    for (path, leaf), mask in zip(path_leaves, mask_leaves):
        a = np.asarray(leaf)
        zero = ~a if a.dtype == bool else a == 0
        if mask is not None:
            zero = zero | ~np.asarray(mask, dtype=bool)
        count, zeros = int(a.size), int(np.count_nonzero(zero))
        rows.append(
            LayerSparsity(_tree.keystr(path), tuple(a.shape), count, zeros, zeros / max(count, 1))
        )
    return SparsityReport(tuple(rows), sum(r.count for r in rows), sum(r.zeros for r in rows))


__all__ = ["LayerSparsity", "SparsityReport", "sparsity", "sparsity_report"]
