"""Sorted-order and set operations with jax.numpy's names: searchsorted, digitize,
lexsort, partition, unique and its array-API variants, the 1-d set operations, isin
and bincount. As in jax, results whose size depends on the values (unique, setdiff1d,
...) need concrete values, or a static `size=` (with `fill_value=`) under jit."""

import builtins
import operator
from typing import NamedTuple

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import (
    _like,
    asarray,
    astype,
    check_arraylike,
    isnan,
    promote,
)
from funcnet.numpy._creation import arange, full, zeros
from funcnet.numpy._indexing import nonzero, take, where
from funcnet.numpy._reductions import any as _any
from funcnet.numpy._reductions import cumsum
from funcnet.numpy._reductions import sum as _sum
from funcnet.numpy._shape import concatenate, moveaxis, normalize_axis, ravel, reshape
from funcnet.numpy._sorting import argsort, sort

_SIZE_HINT = (
    "When jit-compiling, pass a static size= (and optionally fill_value=) to {name}, "
    "as in jax: the number of results depends on the values."
)


def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
    """Where v's elements would be inserted into the sorted a to keep it sorted, as
    jnp.searchsorted.

    Args:
      a: a sorted 1-d array (NaNs last, as sort leaves them).
      v: the values to look up.
      side: 'left' (the first suitable index) or 'right' (the last).
      sorter: indices that sort a (a is then take(a, sorter)).
      method: accepted for compatibility ('scan', 'scan_unrolled', 'sort',
        'compare_all'); every method here is a vectorised binary search.

    Returns:
      An int32 array of v's shape.

    Raises:
      ValueError: for a not 1-d, an unknown side or method.

    Example:
      >>> fnp.searchsorted(fnp.array([1, 3, 5]), fnp.array([0, 3, 6])).tolist()
      [0, 1, 3]
    """
    check_arraylike("searchsorted", a, v)
    if side not in ("left", "right"):
        raise ValueError(f"{side!r} is an invalid value for keyword 'side'")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise ValueError(f"{method!r} is an invalid value for keyword 'method'")
    a, v = asarray(a), asarray(v)
    if a.ndim != 1:
        raise ValueError(f"a should be 1-dimensional, got shape {a.shape}")
    if sorter is not None:
        a = take(a, asarray(sorter))
    a, v = promote(a, v)
    n = a.shape[0]
    lo = lax.full_like(v, 0, np.int32)
    if n == 0:
        return lo
    hi = lax.full_like(v, n, np.int32)
    # ceil(log2(n + 1)) halvings find the index exactly; NaNs compare as the largest.
    for _ in range(int(n).bit_length()):
        mid = lax.div(lo + hi, _like(lo, 2))
        pivot = take(a, lax.min(mid, _like(mid, n - 1)))
        go_right = _less(pivot, v) if side == "left" else ~_less(v, pivot)
        active = lo < hi
        lo = where(active & go_right, mid + 1, lo)
        hi = where(active & ~go_right, mid, hi)
    return lo


def _less(x, y):
    """x < y in sort order (NaN the largest), elementwise."""
    if not dtypes.is_inexact(x.dtype):
        return x < y
    return (x < y) | (isnan(y) & ~isnan(x))


def digitize(x, bins, right=False, *, method=None):
    """The index of the bin each x falls in, as jnp.digitize.

    Args:
      x: the values.
      bins: a 1-d monotonic (increasing or decreasing) array of bin edges.
      right: whether a bin includes its right edge instead of its left.
      method: passed on to searchsorted.

    Returns:
      An integer array of x's shape.

    Raises:
      ValueError: for bins not 1-d.

    Example:
      >>> fnp.digitize(fnp.array([0.5, 1.5, 2.5]), fnp.array([1.0, 2.0])).tolist()
      [0, 1, 2]
    """
    check_arraylike("digitize", x, bins)
    bins = asarray(bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be a 1-dimensional array, got shape {bins.shape}")
    if bins.shape[0] == 0:
        return lax.full_like(asarray(x), 0, np.int32)
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    increasing = searchsorted(bins, x, side=side, **kw)
    decreasing = bins.shape[0] - searchsorted(
        bins[::-1], x, side="left" if side == "right" else "right", **kw
    )
    return where(bins[-1] >= bins[0], increasing, decreasing)


def lexsort(keys, axis=-1):
    """The indices that sort by several keys, the last key primary, as jnp.lexsort.

    Args:
      keys: a sequence of arrays of one shape, or a 2-d array whose rows are the keys.
      axis: the axis to sort along.

    Returns:
      An int32 array of the keys' shape.

    Raises:
      TypeError: for no keys.
      ValueError: for keys of different shapes.

    Example:
      >>> fnp.lexsort((fnp.array([1, 0, 1]), fnp.array([0, 1, 0]))).tolist()
      [0, 2, 1]
    """
    if hasattr(keys, "shape"):
        check_arraylike("lexsort", keys)
        key_list = list(asarray(keys))
    else:
        check_arraylike("lexsort", *keys)
        key_list = [asarray(k) for k in keys]
    if not key_list:
        raise TypeError("need sequence of keys with len > 0 in lexsort")
    if len({k.shape for k in key_list}) > 1:
        raise ValueError("all keys need to be the same shape")
    shape = key_list[0].shape
    if len(shape) == 0:
        return asarray(np.int32(0))
    axis = normalize_axis(axis, len(shape))
    iota = lax.broadcasted_iota(dtypes.default_int(), shape, axis)
    return lax.sort((*key_list[::-1], iota), dimension=axis, num_keys=len(key_list))[-1]


def partition(a, kth, axis=-1):
    """a with its kth element in sorted position, smaller ones before it and larger
    ones after, as jnp.partition (here: fully sorted, which satisfies the contract).

    Args:
      a: an array.
      kth: the index of the element put in place (a Python int).
      axis: the axis to partition along.

    Returns:
      An array of a's shape and dtype.

    Raises:
      ValueError: for kth out of range.
    """
    check_arraylike("partition", a)
    a = asarray(a)
    axis = normalize_axis(axis, a.ndim)
    kth = operator.index(kth)
    n = a.shape[axis]
    if not -n <= kth < n:
        raise ValueError(f"partition: kth={kth} out of range for axis of length {n}")
    # jax's layout (two top_k calls): the kth + 1 smallest ascending, then the rest
    # in descending order.
    s = sort(a, axis=axis)
    kth = kth % n
    lower = lax.slice_in_dim(s, 0, kth + 1, axis=axis)
    upper = lax.rev(lax.slice_in_dim(s, kth + 1, n, axis=axis), (axis,))
    return concatenate([lower, upper], axis=axis)


def argpartition(a, kth, axis=-1):
    """The indices that partition a (see partition), as jnp.argpartition.

    Args:
      a: an array.
      kth: the index of the element put in place (a Python int).
      axis: the axis to partition along.

    Returns:
      An int32 array of a's shape.

    Raises:
      ValueError: for kth out of range.
    """
    check_arraylike("argpartition", a)
    a = asarray(a)
    axis = normalize_axis(axis, a.ndim)
    kth = operator.index(kth)
    n = a.shape[axis]
    if not -n <= kth < n:
        raise ValueError(f"argpartition: kth={kth} out of range for axis of length {n}")
    # jax's layout: the kth + 1 smallest by value, then the others by index.
    order = argsort(a, axis=axis, dtype=np.int32)  # int32 as jax's top_k
    kth = kth % n
    lower = lax.slice_in_dim(order, 0, kth + 1, axis=axis)
    upper = sort(lax.slice_in_dim(order, kth + 1, n, axis=axis), axis=axis)
    return concatenate([lower, upper], axis=axis)


def _concrete_mask(mask, name):
    try:
        return nonzero(mask)[0]
    except Exception as e:
        raise type(e)(f"{e}\n{_SIZE_HINT.format(name=name)}") from None


def _unique(ar, axis, return_index, return_inverse, return_counts, equal_nan, size,
            fill_value, name="unique"):  # fmt: skip
    if ar.shape[axis] == 0 and size and fill_value is None:  # jax's message
        raise ValueError(
            f"jnp.{name}: for zero-sized input with nonzero size argument, fill_value must "
            "be specified"
        )
    aux = moveaxis(ar, axis, 0)
    n, *rest = aux.shape
    flat = reshape(aux, (n, int(np.prod(rest, dtype=np.int64))))
    if flat.shape[1] == 0:
        n_sort = 1
        perm = zeros(1, dtype=dtypes.default_int())
    else:
        n_sort = n
        perm = lexsort(flat.T[::-1])
    aux = take(aux, perm, axis=0) if aux.size else aux
    if aux.size:
        x, y = aux[1:], aux[:-1]
        neq = x != y
        if dtypes.is_inexact(aux.dtype) and equal_nan:
            neq = neq & ~(isnan(x) & isnan(y))
        if aux.ndim > 1:
            neq = _any(neq, axis=tuple(range(1, aux.ndim)))
        mask = concatenate([asarray(np.ones(1, bool)), neq])
    else:
        mask = zeros(n_sort, dtype=bool)
    ind = _concrete_mask(mask, name) if size is None else nonzero(mask, size=size)[0]
    result = take(aux, ind, axis=0) if aux.size else aux
    if size is not None and fill_value is not None:
        fill = astype(asarray(fill_value), result.dtype)
        if result.shape[0]:
            valid = arange(size) < _sum(mask)
            valid = reshape(valid, (size,) + (1,) * (result.ndim - 1))
            result = where(valid, result, fill)
        else:
            result = full((size, *result.shape[1:]), fill, result.dtype)
    result = moveaxis(result, 0, axis)
    ret = (result,)
    if return_index:
        ret += (take(perm, ind) if aux.size else perm,)
    if return_inverse:
        if aux.size:
            imask = cumsum(mask) - 1
            inv = (
                zeros(mask.shape, dtype=dtypes.default_int())
                .at[perm]
                .set(astype(imask, dtypes.default_int()))
            )
        else:
            inv = zeros(ar.shape[axis], dtype=dtypes.default_int())
        ret += (inv,)
    if return_counts:
        if aux.size:
            if size is None:
                idx = concatenate(
                    [astype(ind, np.int32), asarray(np.array([mask.shape[0]], np.int32))]
                )
            else:
                idx = astype(nonzero(mask, size=size + 1)[0], np.int32)
                tail = where(idx[1:] != 0, idx[1:], _like(idx[1:], mask.shape[0]))
                idx = concatenate([idx[:1], tail])
            ret += (astype(idx[1:] - idx[:-1], dtypes.default_int()),)
        elif ar.shape[axis]:
            ret += (full((1,), ar.shape[axis], dtype=dtypes.default_int()),)
        else:
            ret += (zeros(0, dtype=dtypes.default_int()),)
    return ret[0] if len(ret) == 1 else ret


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):  # fmt: skip
    """The sorted unique values of an array, as jnp.unique.

    Args:
      ar: an array (flattened unless axis is given).
      return_index: also return the index of each value's first occurrence.
      return_inverse: also return, per element of ar, the index of its value.
      return_counts: also return how often each value occurs.
      axis: the axis whose slices are compared (None flattens).
      equal_nan: NaNs compare equal (one NaN in the result).
      size: a static number of results: needed under jit (fewer results are padded
        with fill_value, more are cut).
      fill_value: the padding (default: the smallest unique value).
      sorted: accepted for NumPy 2's signature and unused, as in jax: the results are
        always sorted.

    Returns:
      The unique values, or a tuple (values, [index], [inverse], [counts]).

    Raises:
      ConcretizationError: under jit without size.

    Example:
      >>> fnp.unique(fnp.array([3, 1, 3, 2])).tolist()
      [1, 2, 3]
    """
    check_arraylike("unique", ar)
    del sorted  # as jax: the results are sorted either way
    ar = asarray(ar)
    if axis is None:
        axis = 0
        ar = ravel(ar)
    else:
        axis = normalize_axis(axis, ar.ndim)
    out = _unique(ar, axis, return_index, return_inverse, return_counts, equal_nan, size,
                  fill_value)  # fmt: skip
    return out


class _UniqueAllResult(NamedTuple):
    values: object
    indices: object
    inverse_indices: object
    counts: object


class _UniqueCountsResult(NamedTuple):
    values: object
    counts: object


class _UniqueInverseResult(NamedTuple):
    values: object
    inverse_indices: object


def _unique_array_api(x, name, size, fill_value, **flags):
    check_arraylike(name, x)
    x = asarray(x)
    out = _unique(ravel(x), 0, equal_nan=False, size=size, fill_value=fill_value,
                  name=name, **flags)  # fmt: skip
    return out


def unique_values(x, /, *, size=None, fill_value=None):
    """The sorted unique values of the flattened x (NaNs distinct), as
    jnp.unique_values.

    Args:
      x: an array.
      size: a static number of results, as for unique.
      fill_value: the padding, as for unique.

    Returns:
      A 1-d array.
    """
    return _unique_array_api(x, "unique_values", size, fill_value, return_index=False,
                             return_inverse=False, return_counts=False)  # fmt: skip


def unique_counts(x, /, *, size=None, fill_value=None):
    """The unique values and their counts, as jnp.unique_counts.

    Args:
      x: an array.
      size: a static number of results, as for unique.
      fill_value: the padding, as for unique.

    Returns:
      A named tuple (values, counts).
    """
    values, counts = _unique_array_api(x, "unique_counts", size, fill_value,
                                       return_index=False, return_inverse=False,
                                       return_counts=True)  # fmt: skip
    return _UniqueCountsResult(values, counts)


def unique_inverse(x, /, *, size=None, fill_value=None):
    """The unique values and each element's index into them (of x's shape), as
    jnp.unique_inverse.

    Args:
      x: an array.
      size: a static number of results, as for unique.
      fill_value: the padding, as for unique.

    Returns:
      A named tuple (values, inverse_indices).
    """
    check_arraylike("unique_inverse", x)
    x = asarray(x)
    values, inv = _unique_array_api(x, "unique_inverse", size, fill_value,
                                    return_index=False, return_inverse=True,
                                    return_counts=False)  # fmt: skip
    return _UniqueInverseResult(values, reshape(inv, x.shape))


def unique_all(x, /, *, size=None, fill_value=None):
    """The unique values, first indices, inverse indices and counts, as jnp.unique_all.

    Args:
      x: an array.
      size: a static number of results, as for unique.
      fill_value: the padding, as for unique.

    Returns:
      A named tuple (values, indices, inverse_indices, counts).
    """
    check_arraylike("unique_all", x)
    x = asarray(x)
    values, idx, inv, counts = _unique_array_api(x, "unique_all", size, fill_value,
                                                 return_index=True, return_inverse=True,
                                                 return_counts=True)  # fmt: skip
    return _UniqueAllResult(values, idx, reshape(inv, x.shape), counts)


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
    """Whether each element occurs in test_elements, as jnp.isin.

    Args:
      element: an array.
      test_elements: the values to look for (flattened).
      assume_unique: accepted for NumPy compatibility.
      invert: return the negation.
      method: 'auto', 'compare_all', 'binary_search' or 'sort' (results agree).

    Returns:
      A bool array of element's shape.

    Example:
      >>> fnp.isin(fnp.array([1, 2, 3]), fnp.array([2, 5])).tolist()
      [False, True, False]
    """
    del assume_unique
    check_arraylike("isin", element, test_elements)
    if method not in ("auto", "compare_all", "binary_search", "sort"):
        raise ValueError(f"isin: unknown method {method!r}")
    element, test = promote(element, test_elements)
    test = ravel(test)
    if test.shape[0] == 0:
        out = lax.full_like(element, False, dtypes.bool_)
    elif method == "binary_search" or (method == "auto" and test.shape[0] * element.size > 1 << 20):
        st = sort(test)
        i = lax.min(searchsorted(st, element), _like(searchsorted(st, element), st.shape[0] - 1))
        out = take(st, i) == element
    else:
        out = _any(element[..., None] == test, axis=-1)
    return ~out if invert else out


def _setop_result(values, mask, size, fill_value, name):
    if size is None:
        return take(values, _concrete_mask(mask, name))
    idx = nonzero(mask, size=size)[0]
    out = take(values, idx) if values.shape[0] else zeros(size, values.dtype)
    if fill_value is None:
        fill_value = take(values, idx[:1])[0] if values.shape[0] else 0
    valid = arange(size) < _sum(mask)
    return where(valid, out, astype(asarray(fill_value), out.dtype))


def union1d(ar1, ar2, *, size=None, fill_value=None):
    """The sorted unique values in either array, as jnp.union1d.

    Args:
      ar1: an array (flattened).
      ar2: an array (flattened).
      size: a static number of results, as for unique.
      fill_value: the padding, as for unique.

    Returns:
      A 1-d array.
    """
    check_arraylike("union1d", ar1, ar2)
    ar1, ar2 = promote(ravel(ar1), ravel(ar2))
    return unique(concatenate([ar1, ar2]), size=size, fill_value=fill_value)


def _sorted_unique_mask(values):
    s = sort(values)
    if s.shape[0] == 0:
        return s, zeros(0, dtype=bool)
    first = concatenate([asarray(np.ones(1, bool)), s[1:] != s[:-1]])
    return s, first


def setdiff1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    """The sorted unique values of ar1 not in ar2, as jnp.setdiff1d.

    Args:
      ar1: an array (flattened).
      ar2: an array (flattened).
      assume_unique: accepted for NumPy compatibility.
      size: a static number of results, as for unique.
      fill_value: the padding (default: the first result).

    Returns:
      A 1-d array.

    Example:
      >>> fnp.setdiff1d(fnp.array([1, 2, 3, 2]), fnp.array([2])).tolist()
      [1, 3]
    """
    del assume_unique
    check_arraylike("setdiff1d", ar1, ar2)
    ar1, ar2 = promote(ravel(ar1), ravel(ar2))
    s, first = _sorted_unique_mask(ar1)
    mask = first & ~isin(s, ar2)
    return _setop_result(s, mask, size, fill_value, "setdiff1d")


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):  # fmt: skip
    """The sorted unique values in both arrays, as jnp.intersect1d.

    Args:
      ar1: an array (flattened).
      ar2: an array (flattened).
      assume_unique: accepted for NumPy compatibility.
      return_indices: also return the first index of each value in ar1 and in ar2.
      size: a static number of results, as for unique.
      fill_value: the padding (default: the first result).

    Returns:
      A 1-d array, or (values, indices in ar1, indices in ar2).
    """
    del assume_unique
    check_arraylike("intersect1d", ar1, ar2)
    ar1, ar2 = promote(ravel(ar1), ravel(ar2))
    s, first = _sorted_unique_mask(ar1)
    mask = first & isin(s, ar2)
    values = _setop_result(s, mask, size, fill_value, "intersect1d")
    if not return_indices:
        return values
    i1 = _first_index(ar1, values)
    i2 = _first_index(ar2, values)
    return values, i1, i2


def _first_index(ar, values):
    order = argsort(ar)
    st = take(ar, order)
    pos = lax.min(
        searchsorted(st, values), _like(searchsorted(st, values), max(st.shape[0] - 1, 0))
    )
    return take(order, pos)


def setxor1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    """The sorted unique values in exactly one of the arrays, as jnp.setxor1d.

    Args:
      ar1: an array (flattened).
      ar2: an array (flattened).
      assume_unique: accepted for NumPy compatibility.
      size: a static number of results, as for unique.
      fill_value: the padding (default: the first result).

    Returns:
      A 1-d array.
    """
    del assume_unique
    check_arraylike("setxor1d", ar1, ar2)
    ar1, ar2 = promote(ravel(ar1), ravel(ar2))
    s1, f1 = _sorted_unique_mask(ar1)
    s2, f2 = _sorted_unique_mask(ar2)
    both = concatenate([s1, s2])
    mask = concatenate([f1 & ~isin(s1, ar2), f2 & ~isin(s2, ar1)])
    order = argsort(both)
    return _setop_result(take(both, order), take(mask, order), size, fill_value, "setxor1d")


def bincount(x, weights=None, minlength=0, *, length=None):
    """How often each non-negative integer occurs in x (or its summed weights), as
    jnp.bincount.

    Args:
      x: a 1-d array of non-negative integers (negative ones are not counted).
      weights: an array of x's shape of weights.
      minlength: the least length of the result.
      length: the static length of the result (needed under jit); larger values are
        dropped.

    Returns:
      A 1-d array: int for counts, the weights' dtype otherwise.

    Raises:
      TypeError: for non-integer x.
      ValueError: for x not 1-d or a negative minlength.

    Example:
      >>> fnp.bincount(fnp.array([0, 1, 1, 3])).tolist()
      [1, 2, 0, 1]
    """
    check_arraylike("bincount", x)
    x = asarray(x)
    if not (dtypes.is_int(x.dtype) or dtypes.is_bool(x.dtype)):
        raise TypeError(f"bincount: x argument must have an integer type; got {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"bincount only accepts 1D arrays, got shape {x.shape}")
    minlength = operator.index(minlength)
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    if length is None:
        try:
            top = int(np.max(np.asarray(x))) + 1 if x.shape[0] else 0
        except Exception:
            raise TypeError(
                "bincount: pass a static length= under jit (the output size depends on the values)"
            ) from None
        length = builtins.max(minlength, top)
    else:
        length = operator.index(length)
    if weights is None:
        w = lax.full_like(x, 1, dtypes.default_int())
    else:
        check_arraylike("bincount", weights)
        w = asarray(weights)
        if w.shape != x.shape:
            raise ValueError(f"bincount: weights shape {w.shape} differs from x's {x.shape}")
    w = where(x >= 0, w, _like(w, 0))
    idx = where(x >= 0, x, _like(x, 0))
    return zeros(length, w.dtype).at[idx].add(w, mode="drop")


def sort_complex(a):
    """a sorted along its last axis, as a complex array, as jnp.sort_complex.

    Args:
      a: an array.

    Returns:
      A complex array of a's shape.
    """
    check_arraylike("sort_complex", a)
    a = sort(asarray(a), axis=-1)
    return astype(a, dtypes.complex_dtype(a.dtype) if not dtypes.is_complex(a.dtype) else a.dtype)
