"""Histograms with jax.numpy's names: histogram_bin_edges, histogram, histogram2d,
histogramdd (searchsorted into the edges, then a scatter-add of the weights)."""

import builtins
import math
import operator

import numpy as np

from funcnet.numpy._calculus import diff
from funcnet.numpy._core import _float_args, asarray, astype, check_arraylike
from funcnet.numpy._creation import linspace, ones_like, zeros
from funcnet.numpy._index_tricks import ravel_multi_index
from funcnet.numpy._indexing import where
from funcnet.numpy._reductions import max, min
from funcnet.numpy._reductions import sum as _sum
from funcnet.numpy._set_ops import bincount, searchsorted
from funcnet.numpy._shape import ravel, reshape, stack


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The bin edges histogram would use, as jnp.histogram_bin_edges.

    Args:
      a: an array (flattened).
      bins: a number of equal bins (a concrete int) or a 1-d array of edges.
      range: (low, high) of the equal bins (default: a's min and max; widened by 0.5
        each way when they are equal).
      weights: unused (NumPy's signature).

    Returns:
      A 1-d floating array of edges.

    Raises:
      NotImplementedError: for a string bins.
      ValueError: for a range that is not a pair.
    """
    del weights
    if isinstance(bins, str):
        raise NotImplementedError("string values for `bins` not implemented.")
    check_arraylike("histogram_bin_edges", a, bins)
    (a,) = _float_args(ravel(a))
    dtype = a.dtype
    if np.ndim(bins) == 1:
        return astype(asarray(bins), dtype)
    try:
        nbins = operator.index(bins)
    except TypeError:
        raise TypeError("histogram: bins must be a concrete int or a 1-d array of edges") from None
    if range is None:
        lo, hi = min(a), max(a)
    else:
        if np.shape(range) != (2,):
            raise ValueError(f"`range` must be either None or a sequence of scalars, got {range}")
        lo, hi = (astype(asarray(r), dtype) for r in range)
    same = hi - lo == 0
    lo, hi = where(same, lo - 0.5, lo), where(same, hi + 0.5, hi)
    return linspace(lo, hi, nbins + 1, dtype=dtype)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """The histogram of a's values, as jnp.histogram.

    Args:
      a: an array (flattened).
      bins: a number of equal bins (a concrete int) or a 1-d array of edges.
      range: (low, high) of the equal bins (default: a's min and max).
      weights: an array of a's shape of weights.
      density: normalise to a probability density.

    Returns:
      A pair (counts, edges): counts of the weights' dtype (float with density), edges
      as from histogram_bin_edges.

    Raises:
      ValueError: for weights of another shape.

    Example:
      >>> counts, edges = fnp.histogram(fnp.array([0.0, 0.5, 1.0, 1.0]), bins=2)
      >>> counts.tolist(), edges.tolist()
      ([1.0, 3.0], [0.0, 0.5, 1.0])
    """
    check_arraylike("histogram", a)
    if weights is None:
        (a,) = _float_args(ravel(a))
        w = ones_like(a)
    else:
        check_arraylike("histogram", weights)
        if np.shape(a) != np.shape(weights):
            raise ValueError(f"weights should have the same shape as a, got {np.shape(weights)}")
        a, w = _float_args(ravel(a), ravel(weights))
    edges = histogram_bin_edges(a, bins, range, w)
    idx = searchsorted(edges, a, side="right")
    idx = where(a == edges[-1], edges.shape[0] - 1, idx)
    counts = zeros(edges.shape[0], w.dtype).at[idx].add(w, mode="drop")[1:]
    if density:
        counts = counts / diff(edges) / _sum(counts)
    return counts, edges


def histogramdd(sample, bins=10, range=None, weights=None, density=None):
    """The D-dimensional histogram of N points, as jnp.histogramdd.

    Args:
      sample: an (N, D) array of points.
      bins: an int, a sequence of D ints or edge arrays.
      range: D pairs (low, high), or None entries.
      weights: N weights.
      density: normalise to a probability density.

    Returns:
      A pair (hist of shape (nbins_0, ..., nbins_{D-1}), list of D edge arrays).

    Raises:
      ValueError: for weights of the wrong shape or a wrong number of bins.
    """
    check_arraylike("histogramdd", sample)
    sample = asarray(sample)
    if sample.ndim != 2:
        raise ValueError(f"histogramdd: sample must be (N, D), got shape {sample.shape}")
    n, d = sample.shape
    if weights is not None:
        check_arraylike("histogramdd", weights)
        weights = asarray(weights)
        if weights.shape != (n,):
            raise ValueError("should have one weight for each sample.")
    if isinstance(bins, int):
        bins = d * [bins]
    if len(bins) != d:
        raise ValueError(f"histogramdd: expected {d} bins, got {len(bins)}")
    edges = [
        histogram_bin_edges(sample[:, i], bins[i], None if range is None else range[i])
        for i in builtins.range(d)
    ]
    idx = []
    for i in builtins.range(d):
        b = searchsorted(edges[i], sample[:, i], side="right")
        idx.append(where(sample[:, i] == edges[i][-1], b - 1, b))
    nbins = tuple(e.shape[0] + 1 for e in edges)
    flat = ravel_multi_index(tuple(idx), nbins, mode="clip")
    hist = bincount(flat, weights, length=math.prod(nbins))
    hist = reshape(hist, nbins)[(slice(1, -1),) * d]
    if density:
        hist = hist / _sum(hist)
        for axis in builtins.range(d):
            shape = [1] * d
            shape[axis] = edges[axis].shape[0] - 1
            hist = hist / reshape(diff(edges[axis]), shape)
    return hist, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):
    """The 2-d histogram of points (x, y), as jnp.histogram2d.

    Args:
      x: a 1-d array of first coordinates.
      y: a 1-d array of second coordinates.
      bins: an int, a pair of ints or of edge arrays, or one edge array for both.
      range: two pairs (low, high).
      weights: one weight per point.
      density: normalise to a probability density.

    Returns:
      A triple (hist, x edges, y edges).
    """
    check_arraylike("histogram2d", x, y)
    try:
        nb = len(bins)
    except TypeError:
        nb = 1
    if nb not in (1, 2):
        edges = asarray(bins)
        bins = [edges, edges]
    x, y = _float_args(x, y)
    hist, edges = histogramdd(stack([x, y], axis=1), bins, range, weights, density)
    return hist, edges[0], edges[1]
