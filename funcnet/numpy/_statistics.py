"""Statistics with jax.numpy's names: the NaN-ignoring reductions (nansum, nanmean,
nanmax, ...), order statistics (median, quantile, percentile and their nan versions),
average, count_nonzero, ptp and the array-API cumulative_sum/cumulative_prod. All are
compositions of reductions, sort and gathers, so every transformation applies."""

import math

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import (
    _like,
    asarray,
    astype,
    broadcast_to,
    check_arraylike,
    check_arraylike_or_none,
    check_no_out,
    isnan,
    maximum,
    minimum,
    true_divide,
)
from funcnet.numpy._indexing import take_along_axis, where
from funcnet.numpy._indexing import where as _where
from funcnet.numpy._reductions import (
    all as _all,
)
from funcnet.numpy._reductions import (
    any as _any,
)
from funcnet.numpy._reductions import (
    argmax,
    argmin,
    cumprod,
    cumsum,
    max,
    mean,
    min,
    prod,
    sum,
)
from funcnet.numpy._shape import (
    concatenate,
    normalize_axes,
    normalize_axis,
    reshape,
)
from funcnet.numpy._sorting import argsort, sort


def _replace_nan(x, value):
    if not dtypes.is_inexact(x.dtype):
        return x
    return where(isnan(x), _like(x, value), x)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """The sum ignoring NaNs (0 where all are NaN), as jnp.nansum.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      dtype: the accumulation and result dtype.
      out: only None.
      keepdims: keep the reduced axes with size 1.
      initial: a starting value added to the sum.
      where: a bool mask of the elements to include.

    Returns:
      An array without the reduced axes.

    Example:
      >>> float(fnp.nansum(fnp.array([1.0, float("nan"), 2.0])))
      3.0
    """
    check_arraylike("nansum", a)
    check_no_out("nansum", out)
    x = _replace_nan(asarray(a), 0)
    return sum(x, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """The product ignoring NaNs (1 where all are NaN), as jnp.nanprod.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      dtype: the accumulation and result dtype.
      out: only None.
      keepdims: keep the reduced axes with size 1.
      initial: a starting value multiplied in.
      where: a bool mask of the elements to include.

    Returns:
      An array without the reduced axes.
    """
    check_arraylike("nanprod", a)
    check_no_out("nanprod", out)
    x = _replace_nan(asarray(a), 1)
    return prod(x, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def _nan_extreme(name, reducer, fill):
    def fn(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        check_arraylike(name, a)
        check_no_out(name, out)
        x = asarray(a)
        if not dtypes.is_inexact(x.dtype):
            return reducer(x, axis=axis, keepdims=keepdims, initial=initial, where=where)
        nan_mask = isnan(x)
        out = reducer(
            _where(nan_mask, _like(x, fill), x),
            axis=axis,
            keepdims=keepdims,
            initial=initial,
            where=where,
        )
        all_nan = _all(nan_mask, axis=axis, keepdims=keepdims, where=where)
        return _where(all_nan, _like(out, np.nan), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""The {name[3:]}imum ignoring NaNs (nan where all are NaN), as jnp.{name}.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      out: only None.
      keepdims: keep the reduced axes with size 1.
      initial: a starting value for the reduction.
      where: a bool mask of the elements to include.

    Returns:
      An array without the reduced axes.
    """
    return fn


nanmax = _nan_extreme("nanmax", max, -np.inf)
nanmin = _nan_extreme("nanmin", min, np.inf)


def _nan_arg(name, reducer, fill):
    def fn(a, axis=None, out=None, keepdims=None):
        check_arraylike(name, a)
        check_no_out(name, out)
        x = asarray(a)
        if not dtypes.is_inexact(x.dtype):
            return reducer(x, axis=axis, keepdims=keepdims)
        nan_mask = isnan(x)
        res = reducer(_where(nan_mask, _like(x, fill), x), axis=axis, keepdims=keepdims)
        return _where(_all(nan_mask, axis=axis, keepdims=bool(keepdims)), _like(res, -1), res)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""The index of the {name[6:]}imum ignoring NaNs (-1 where all are NaN),
    as jnp.{name}.

    Args:
      a: an array.
      axis: an int, or None for the flattened array.
      out: only None.
      keepdims: keep the reduced axis with size 1.

    Returns:
      An int32 array without axis.
    """
    return fn


nanargmax = _nan_arg("nanargmax", argmax, -np.inf)
nanargmin = _nan_arg("nanargmin", argmin, np.inf)


def _nan_cumulative(name, reducer, fill):
    def fn(a, axis=None, dtype=None, out=None):
        check_arraylike(name, a)
        check_no_out(name, out)
        return reducer(_replace_nan(asarray(a), fill), axis=axis, dtype=dtype)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""The cumulative {"sum" if fill == 0 else "product"} treating NaNs as
    {fill}, as jnp.{name}.

    Args:
      a: an array.
      axis: an int, or None for the flattened array.
      dtype: the accumulation and result dtype.
      out: only None.

    Returns:
      An array of a's shape (1-d when axis is None).
    """
    return fn


nancumsum = _nan_cumulative("nancumsum", cumsum, 0)
nancumprod = _nan_cumulative("nancumprod", cumprod, 1)


def _not_nan_count(x, axis, keepdims, where):
    return sum(~isnan(x), axis=axis, keepdims=keepdims, where=where, dtype=dtypes.default_int())


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """The mean ignoring NaNs (nan where all are NaN), as jnp.nanmean.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      dtype: the accumulation and result dtype.
      out: only None.
      keepdims: keep the reduced axes with size 1.
      where: a bool mask of the elements to include.

    Returns:
      A floating array without the reduced axes.

    Example:
      >>> float(fnp.nanmean(fnp.array([1.0, float("nan"), 3.0])))
      2.0
    """
    check_arraylike("nanmean", a)
    check_no_out("nanmean", out)
    x = asarray(a)
    if not dtypes.is_inexact(x.dtype):
        return mean(x, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    if dtype is None:
        dtype = x.dtype
    total = nansum(x, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    count = astype(_not_nan_count(x, axis, keepdims, where), total.dtype)
    return true_divide(total, count)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None):
    """The variance ignoring NaNs, as jnp.nanvar (nan where fewer than ddof + 1 values).

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      dtype: the result dtype.
      out: only None.
      ddof: delta degrees of freedom: divide by N - ddof.
      keepdims: keep the reduced axes with size 1.
      where: a bool mask of the elements to include.
      mean: a precomputed mean (with keepdims=True shape); jax refuses it too.

    Returns:
      A floating array without the reduced axes.
    """
    check_arraylike("nanvar", a)
    check_no_out("nanvar", out)
    if mean is not None:
        raise NotImplementedError("The 'mean' argument to jnp.nanvar is not supported.")
    x = asarray(a)
    if not dtypes.is_inexact(x.dtype):
        x = astype(x, dtypes.default_float())
    x = lax.convert_element_type(x, x.dtype, weak_type=False)
    x_mean = nanmean(x, axis=axis, keepdims=True, where=where)
    centered = _where(isnan(x), _like(x, 0), x - x_mean)
    normalizer = _not_nan_count(x, axis, keepdims, where) - ddof
    bad = normalizer <= 0
    result = sum(centered * centered, axis=axis, keepdims=keepdims, where=where)
    result = _where(bad, _like(result, np.nan), result)
    divisor = astype(_where(bad, _like(normalizer, 1), normalizer), result.dtype)
    result = result / divisor
    return astype(result, dtype) if dtype is not None else result


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None):
    """The standard deviation ignoring NaNs, as jnp.nanstd.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      dtype: the result dtype.
      out: only None.
      ddof: delta degrees of freedom: divide by N - ddof.
      keepdims: keep the reduced axes with size 1.
      where: a bool mask of the elements to include.
      mean: not supported (as in jax).

    Returns:
      A floating array without the reduced axes.
    """
    return lax.sqrt(
        nanvar(
            a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where, mean=mean
        )
    )


_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")


def _quantile(name, a, q, axis, method, keepdims, squash_nans, scale=1.0, weights=None):
    if method not in _METHODS:
        raise ValueError(f"{name}: method must be one of {_METHODS}, got {method!r}")
    if weights is not None and method != "inverted_cdf":
        raise NotImplementedError(
            f"{name}: method {method!r} takes no weights; only 'inverted_cdf' does (as jax)"
        )
    a = asarray(a)
    if not dtypes.is_inexact(a.dtype):
        a = astype(a, dtypes.default_float())
    a = lax.convert_element_type(a, a.dtype, weak_type=False)
    q = asarray(q)
    if dtypes.is_complex(q.dtype) or dtypes.is_complex(a.dtype):
        raise ValueError(f"{name} does not support complex input")
    q = astype(q, a.dtype)
    if scale != 1.0:
        q = q / scale
    if q.ndim > 1:
        raise ValueError(f"{name}: q must be a scalar or 1-d, got shape {q.shape}")
    # Move the reduced axes to the end and merge them into one.
    axes = tuple(range(a.ndim)) if axis is None else normalize_axes(axis, a.ndim)
    kept = [i for i in range(a.ndim) if i not in axes]
    keep_shape = [1 if i in axes else d for i, d in enumerate(a.shape)]
    x = lax.transpose(a, (*kept, *axes)) if a.ndim else a
    n = math.prod(a.shape[i] for i in axes)
    x = reshape(x, (*[a.shape[i] for i in kept], n))
    if method == "inverted_cdf":
        w = _weights(name, weights, a, axes)
        if w is not None:
            w = reshape(lax.transpose(w, (*kept, *axes)) if a.ndim else w, x.shape)
        result = _inverted_cdf(x, w, q, squash_nans)
        return reshape(result, q.shape + tuple(keep_shape)) if keepdims else result
    x = sort(x, axis=-1)
    if squash_nans:
        counts = astype(sum(~isnan(x), axis=-1, keepdims=True), a.dtype)
    else:
        counts = _like(x[..., :1], n)
    # q broadcasts in front: shape (*q.shape, *kept, 1).
    qq = reshape(q, q.shape + (1,) * x.ndim)
    pos = qq * (counts - 1)
    low = maximum(lax.floor(pos), 0)
    high = minimum(low + 1, maximum(counts - 1, 0))
    frac = pos - low
    full_shape = q.shape + x.shape[:-1] + (1,)
    xb = broadcast_to(x, q.shape + x.shape)

    def at(i):
        idx = astype(broadcast_to(maximum(i, 0), full_shape), np.int32)
        return take_along_axis(xb, idx, axis=-1)

    lo_v, hi_v = at(low), at(high)
    if method == "linear":
        result = lo_v * (1 - frac) + hi_v * frac
    elif method == "lower":
        result = at(lax.floor(pos))
    elif method == "higher":
        result = at(lax.ceil(pos))
    elif method == "midpoint":
        result = 0.5 * (at(lax.floor(pos)) + at(lax.ceil(pos)))
    else:  # nearest, ties to the lower one (jax's rule)
        result = _where(frac <= 0.5, lo_v, hi_v)
    result = result[..., 0]
    if not squash_nans:
        has_nan = _any(isnan(x), axis=-1)
        result = where(has_nan, _like(result, np.nan), result)
    if keepdims:
        result = reshape(result, q.shape + tuple(keep_shape))
    return result


def _weights(name, weights, a, axes):
    """The weights broadcast to a's shape (given as a's shape, or as the reduced axes'
    shape with an explicit axis), or None."""
    if weights is None:
        return None
    w = asarray(weights)
    if dtypes.is_complex(w.dtype):
        raise ValueError(f"{name}: weights cannot be complex")
    w = astype(w, a.dtype)
    if w.shape == a.shape:
        return w
    reduced = tuple(a.shape[i] for i in axes)
    if len(axes) == a.ndim or w.shape != reduced:
        raise ValueError(
            f"{name}: weights of shape {w.shape} must have a's shape {a.shape}"
            + ("" if len(axes) == a.ndim else f" or the reduced axes' shape {reduced}")
        )
    return lax.broadcast_in_dim(w, a.shape, tuple(axes))


def _inverted_cdf(x, w, q, squash_nans):
    """NumPy's 'inverted_cdf' quantile of x's last axis: the first sorted value whose
    cumulative weight reaches q times the total (weights 1 when w is None); NaN where a
    weight is negative or NaN, and where the data has NaNs (all NaN for the nan* forms).
    Shape ``q.shape + x.shape[:-1]``."""
    if w is None:
        w = broadcast_to(_like(x, 1.0), x.shape)
    order = argsort(x, axis=-1)  # NaNs sort last
    x = take_along_axis(x, order, axis=-1)
    w = take_along_axis(w, order, axis=-1)
    nan_data = isnan(x)
    bad_weight = (w < 0) | isnan(w)
    cum = cumsum(where(nan_data | bad_weight, _like(w, 0.0), w), axis=-1)
    qq = reshape(q, q.shape + (1,) * x.ndim)
    target = qq * cum[..., -1:]  # (*q.shape, *kept, 1)
    idx = sum(astype(cum < target, np.int32), axis=-1, keepdims=True)
    n = x.shape[-1]
    valid = sum(astype(~nan_data, np.int32), axis=-1, keepdims=True) if squash_nans else n
    idx = maximum(minimum(idx, valid - 1), 0)
    xb = broadcast_to(x, q.shape + x.shape)
    result = take_along_axis(xb, broadcast_to(idx, q.shape + x.shape[:-1] + (1,)), axis=-1)
    result = result[..., 0]
    if squash_nans:
        force_nan = _any(bad_weight, axis=-1) | _all(nan_data, axis=-1)
    else:
        force_nan = _any(bad_weight | nan_data, axis=-1)
    return where(force_nan, _like(result, np.nan), result)


def _quantile_api(name, scale, squash_nans, default_doc):
    def fn(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
           weights=None, interpolation=None):  # fmt: skip
        check_arraylike(name, a, q)
        check_no_out(name, out)
        if overwrite_input:
            raise ValueError(f"jnp.{name} does not support overwrite_input=True")
        if interpolation is not None:
            raise TypeError(f"{name}() argument interpolation was removed; use method")
        return _quantile(name, a, q, axis, method, keepdims, squash_nans, scale, weights)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = default_doc
    return fn


_Q_DOC = """The {what} of a along axis{nan}, as jnp.{name}.

Args:
  a: an array.
  q: the {qwhat} (a scalar or 1-d array) in [0, {top}].
  axis: an int, a tuple of ints or None (all).
  out: only None.
  overwrite_input: only False.
  method: 'linear' (default), 'lower', 'higher', 'midpoint', 'nearest' or
    'inverted_cdf' (the first sorted value whose cumulative weight reaches the quantile).
  keepdims: keep the reduced axes with size 1.
  weights: per-element weights, with method 'inverted_cdf' only (as jax): of a's shape,
    or of the reduced axes' shape with an explicit axis; a negative or NaN weight gives
    NaN.
  interpolation: removed (use method).

Returns:
  A floating array of shape q.shape + the reduced shape.
"""
quantile = _quantile_api(
    "quantile", 1.0, False,
    _Q_DOC.format(what="q-th quantiles", nan=" (nan where a has NaNs)", name="quantile",
                  qwhat="quantiles", top=1),
)  # fmt: skip
nanquantile = _quantile_api(
    "nanquantile", 1.0, True,
    _Q_DOC.format(what="q-th quantiles", nan=" ignoring NaNs", name="nanquantile",
                  qwhat="quantiles", top=1),
)  # fmt: skip
percentile = _quantile_api(
    "percentile", 100.0, False,
    _Q_DOC.format(what="q-th percentiles", nan=" (nan where a has NaNs)", name="percentile",
                  qwhat="percentiles", top=100),
)  # fmt: skip
nanpercentile = _quantile_api(
    "nanpercentile", 100.0, True,
    _Q_DOC.format(what="q-th percentiles", nan=" ignoring NaNs", name="nanpercentile",
                  qwhat="percentiles", top=100),
)  # fmt: skip


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median along axis (nan where a has NaNs), as jnp.median.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      out: only None.
      overwrite_input: only False.
      keepdims: keep the reduced axes with size 1.

    Returns:
      A floating array without the reduced axes.

    Example:
      >>> float(fnp.median(fnp.array([3.0, 1.0, 2.0, 10.0])))
      2.5
    """
    check_arraylike("median", a)
    return quantile(a, 0.5, axis=axis, out=out, overwrite_input=overwrite_input,
                    keepdims=keepdims, method="midpoint")  # fmt: skip


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median along axis ignoring NaNs, as jnp.nanmedian.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      out: only None.
      overwrite_input: only False.
      keepdims: keep the reduced axes with size 1.

    Returns:
      A floating array without the reduced axes.
    """
    check_arraylike("nanmedian", a)
    return nanquantile(a, 0.5, axis=axis, out=out, overwrite_input=overwrite_input,
                       keepdims=keepdims, method="midpoint")  # fmt: skip


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """The weighted mean along axis, as jnp.average.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      weights: weights of a's shape, or 1-d along a single axis (default: all 1).
      returned: also return the sum of the weights.
      keepdims: keep the reduced axes with size 1.

    Returns:
      The average, or (average, sum of weights) when returned.

    Raises:
      ValueError: for weights of a shape that does not fit.

    Example:
      >>> float(fnp.average(fnp.array([1.0, 2.0]), weights=fnp.array([3.0, 1.0])))
      1.25
    """
    check_arraylike("average", a)
    check_arraylike_or_none("average", weights)
    a = asarray(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        n = a.size if axis is None else math.prod(a.shape[i] for i in normalize_axes(axis, a.ndim))
        w_sum = lax.full_like(avg, n)
    else:
        w = asarray(weights)
        if not dtypes.is_inexact(a.dtype):
            a = astype(a, dtypes.default_float())
        if w.shape != a.shape:
            if axis is None:
                raise ValueError("Axis must be specified when shapes of a and weights differ.")
            axes = normalize_axes(axis, a.ndim)
            if w.ndim != len(axes):
                raise ValueError(
                    "Shape of weights must be consistent with shape of a along specified axis."
                )
            if w.shape != tuple(a.shape[i] for i in axes):
                raise ValueError("Length of weights not compatible with specified axis.")
            shape = [1] * a.ndim
            for i, ax in enumerate(axes):
                shape[ax] = w.shape[i]
            w = broadcast_to(reshape(w, shape), a.shape)
        w_sum = sum(w, axis=axis, keepdims=keepdims)
        avg = sum(a * w, axis=axis, keepdims=keepdims) / w_sum
    if returned:
        if avg.shape != w_sum.shape:
            w_sum = broadcast_to(w_sum, avg.shape)
        return avg, astype(w_sum, avg.dtype)
    return avg


def count_nonzero(a, axis=None, keepdims=False):
    """How many elements are nonzero along axis, as jnp.count_nonzero.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      keepdims: keep the reduced axes with size 1.

    Returns:
      An integer array (the default int dtype) without the reduced axes.
    """
    check_arraylike("count_nonzero", a)
    a = asarray(a)
    nz = a if a.dtype == dtypes.bool_ else a != _like(a, 0)
    return sum(nz, axis=axis, keepdims=keepdims, dtype=dtypes.default_int())


def ptp(a, axis=None, out=None, keepdims=False):
    """The range max - min along axis, as jnp.ptp.

    Args:
      a: an array.
      axis: an int, a tuple of ints or None (all).
      out: only None.
      keepdims: keep the reduced axes with size 1.

    Returns:
      An array of a's dtype without the reduced axes.
    """
    check_arraylike("ptp", a)
    check_no_out("ptp", out)
    a = asarray(a)
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)


def _cumulative_api(name, reducer, initial):
    def fn(x, /, *, axis=None, dtype=None, include_initial=False):
        check_arraylike(name, x)
        x = asarray(x)
        if x.ndim == 0:
            raise ValueError(f"The input must be non-scalar to take a cumulative {name[11:]}")
        if axis is None:
            if x.ndim > 1:
                raise ValueError(
                    f"The input array has rank {x.ndim}, however axis was not set to an "
                    "explicit value. The axis argument is only optional for "
                    "one-dimensional arrays."
                )
            axis = 0
        axis = normalize_axis(axis, x.ndim)
        out = reducer(x, axis=axis, dtype=dtype)
        if include_initial:
            shape = list(out.shape)
            shape[axis] = 1
            out = concatenate([lax.full(shape, initial, out.dtype), out], axis=axis)
        return out

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""The cumulative {name[11:]} along axis, as jnp.{name}.

    Args:
      x: an array of at least 1 dimension.
      axis: the axis (optional only for 1-d x).
      dtype: the accumulation and result dtype.
      include_initial: start with the identity ({initial}), one element longer.

    Returns:
      An array of x's shape (one longer along axis with include_initial).

    Raises:
      ValueError: for a 0-d x, or no axis for x of more than 1 dimension.
    """
    return fn


cumulative_sum = _cumulative_api("cumulative_sum", cumsum, 0)
cumulative_prod = _cumulative_api("cumulative_prod", cumprod, 1)
