"""Reductions with jax.numpy's signatures: sum, mean, max, var, argmax, cumsum, logsumexp...

Every reduction takes `axis`, `keepdims`, and (where jax.numpy does) `where=` (a mask of
the elements that take part), `initial=`, `dtype=` and `out=None`. Reducing a size-zero
axis gives the operation's identity (sum 0, prod 1, all True, any False; mean/var nan)
or, where there is none (max, min, argmax), NumPy's ValueError.
"""

import builtins
import math

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy import _core, _fast
from funcnet.numpy._core import (
    _float_args,
    _select,
    _to_bool,
    asarray,
    astype,
    broadcast_to,
    check_arraylike,
    check_arraylike_or_none,
    check_no_out,
    exp,
    isfinite,
    log,
    sign,
    sqrt,
    true_divide,
)
from funcnet.numpy._creation import zeros
from funcnet.numpy._shape import expand_dims, normalize_axes, normalize_axis, ravel, reshape


def _keep(x, out, axes, keepdims):
    if not keepdims:
        return out
    shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
    return reshape(out, shape)


def _sum_dtype(x, promote_integers):
    """jax sums bools and narrow integers in the default (unsigned) int type."""
    if dtypes.is_bool(x.dtype):
        return dtypes.default_int()
    narrow = x.dtype.itemsize < dtypes.default_int().itemsize  # int32 too, with x64
    if promote_integers and dtypes.is_int(x.dtype) and narrow:
        return dtypes.canonicalize(np.uint64 if dtypes.is_unsigned(x.dtype) else np.int64)
    return None


def _identity(name, dtype):
    """The value a masked-out element takes: the reduction's identity in x's dtype."""
    if name in ("sum", "any"):
        return np.zeros((), dtype)[()]
    if name in ("prod", "all"):
        return np.ones((), dtype)[()]
    if dtypes.is_float(dtype):
        value = -np.inf if name == "max" else np.inf
    elif dtypes.is_bool(dtype):
        value = name != "max"
    else:
        value = np.iinfo(dtype).min if name == "max" else np.iinfo(dtype).max
    return np.asarray(value, dtype)[()]


def _apply_where(name, x, where):
    """x with the elements outside the `where` mask replaced by the identity."""
    mask = broadcast_to(_to_bool(where), x.shape)
    return _select(mask, x, broadcast_to(_identity(name, x.dtype), x.shape))


_PRIMS = {
    "sum": lax.reduce_sum,
    "prod": lax.reduce_prod,
    "max": lax.reduce_max,
    "min": lax.reduce_min,
}


def _reduce(
    name, a, axis, dtype, out, keepdims, initial, where, promote_integers=True, upcast=False
):
    check_arraylike(name, a)
    check_arraylike_or_none(name, initial, where)
    check_no_out(name, out)
    x = asarray(a)
    axes = normalize_axes(axis, x.ndim)
    target = dtype if dtype is not None else (_sum_dtype(x, promote_integers) if upcast else None)
    if target is not None:
        x = astype(x, target)
    if name in ("max", "min") and initial is None and builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(
            f"zero-size array to reduction operation {name} which has no "
            f"identity (shape {x.shape}, axis {axis}){_at()}"
        )
    if where is not None:
        if name in ("max", "min") and initial is None:
            raise ValueError(
                f"reduction operation {name} does not have an identity, so to "
                f"use a where mask one has to specify 'initial'{_at()}"
            )
        x = _apply_where(name, x, where)
    result = _PRIMS[name](x, axes) if axes else x
    if initial is not None:
        combine = {
            "sum": _core.add,
            "prod": _core.multiply,
            "max": _core.maximum,
            "min": _core.minimum,
        }[name]
        result = astype(combine(result, initial), result.dtype)
    return _keep(x, result, axes, keepdims)


def sum(
    a,
    axis=None,
    dtype=None,
    out=None,
    keepdims=False,
    initial=None,
    where=None,
    promote_integers=True,
):
    """The sum over `axis` (all axes when None), as jnp.sum.

    Args:
      a: the array.
      axis: an int, a tuple of ints or None (all).
      dtype: the accumulation and result dtype (default: a's; bools and narrow ints
        sum in the default int type unless promote_integers=False).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      initial: a value added to the sum.
      where: a bool mask broadcastable to a: only those elements are summed.
      promote_integers: whether narrow integers are summed in the default int type.

    Returns:
      An array of a's shape without the reduced axes (kept with size 1 when keepdims);
      0 for an empty reduction.

    Example:
      >>> x = fnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
      >>> fnp.sum(x)
      Array(21., dtype=float32)
      >>> fnp.sum(x, axis=1).tolist()
      [6.0, 15.0]
      >>> fnp.sum(x, where=x > 2).tolist()
      18.0
      >>> fnp.sum(fnp.array([True, True]))
      Array(2, dtype=int32)
    """
    return _reduce(
        "sum", a, axis, dtype, out, keepdims, initial, where, promote_integers, upcast=True
    )


sum = _fast.reduction(sum)  # a per-signature fast path for a.sum(), fnp.sum(a, axis)


def prod(
    a,
    axis=None,
    dtype=None,
    out=None,
    keepdims=False,
    initial=None,
    where=None,
    promote_integers=True,
):
    """The product over `axis` (all axes when None), as jnp.prod.

    Args:
      a: the array.
      axis: an int, a tuple of ints or None (all).
      dtype: the accumulation and result dtype (default: a's; bools and narrow ints
        multiply in the default int type unless promote_integers=False).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      initial: a value the product is multiplied by.
      where: a bool mask broadcastable to a: only those elements are multiplied.
      promote_integers: whether narrow integers multiply in the default int type.

    Returns:
      An array of a's shape without the reduced axes (kept with size 1 when keepdims);
      1 for an empty reduction.

    Example:
      >>> fnp.prod(fnp.array([1, 2, 3, 4]))
      Array(24, dtype=int32)
    """
    return _reduce(
        "prod", a, axis, dtype, out, keepdims, initial, where, promote_integers, upcast=True
    )


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """The maximum over `axis` (all axes when None), as jnp.max (fnp.amax is the same
    function). nan propagates.

    Args:
      a: the array.
      axis: an int, a tuple of ints or None (all).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      initial: a lower bound of the result (the value of an empty reduction).
      where: a bool mask broadcastable to a: only those elements take part (needs
        `initial`).

    Returns:
      An array of a's shape and dtype without the reduced axes (kept with size 1 when
      keepdims).

    Raises:
      ValueError: for an empty reduction, or a `where` mask, without `initial`.

    Example:
      >>> x = fnp.array([[1.0, 5.0], [4.0, 2.0]])
      >>> fnp.max(x, axis=0).tolist()
      [4.0, 5.0]
      >>> fnp.max(x, where=x < 3, initial=-1.0)
      Array(2., dtype=float32)
    """
    return _reduce("max", a, axis, None, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """The minimum over `axis` (all axes when None), as jnp.min (fnp.amin is the same
    function). nan propagates.

    Args:
      a: the array.
      axis: an int, a tuple of ints or None (all).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      initial: an upper bound of the result (the value of an empty reduction).
      where: a bool mask broadcastable to a: only those elements take part (needs
        `initial`).

    Returns:
      An array of a's shape and dtype without the reduced axes (kept with size 1 when
      keepdims).

    Raises:
      ValueError: for an empty reduction, or a `where` mask, without `initial`.
    """
    return _reduce("min", a, axis, None, out, keepdims, initial, where)


amax, amin = max, min


def _logical(name, prim, a, axis, out, keepdims, where):
    check_arraylike(name, a)
    check_arraylike_or_none(name, where)
    check_no_out(name, out)
    x = _to_bool(a)
    axes = normalize_axes(axis, x.ndim)
    if where is not None:
        x = _apply_where(name, x, where)
    return _keep(x, prim(x, axes) if axes else x, axes, keepdims)


def all(a, axis=None, out=None, keepdims=False, *, where=None):
    """Whether every element along `axis` is true (nonzero), as jnp.all.

    Args:
      a: an array or a scalar.
      axis: an int, a tuple of ints or None (all).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      where: a bool mask broadcastable to a: only those elements take part.

    Returns:
      A bool array of a's shape without the reduced axes; True for an empty reduction.

    Example:
      >>> fnp.all(fnp.array([1, 0]))
      Array(False, dtype=bool)
    """
    return _logical("all", lax.reduce_and, a, axis, out, keepdims, where)


def any(a, axis=None, out=None, keepdims=False, *, where=None):
    """Whether some element along `axis` is true (nonzero), as jnp.any.

    Args:
      a: an array or a scalar.
      axis: an int, a tuple of ints or None (all).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      where: a bool mask broadcastable to a: only those elements take part.

    Returns:
      A bool array of a's shape without the reduced axes; False for an empty reduction.
    """
    return _logical("any", lax.reduce_or, a, axis, out, keepdims, where)


def _count(x, axes, where, keepdims):
    """How many elements each reduction sees: a Python int, or an array with a mask."""
    if where is None:
        return math.prod(x.shape[a] for a in axes)
    mask = broadcast_to(_to_bool(where), x.shape)
    return sum(mask, axis=axes, dtype=dtypes.default_int(), keepdims=keepdims)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """The arithmetic mean over `axis` (all axes when None), as jnp.mean.

    Args:
      a: the array.
      axis: an int, a tuple of ints or None (all).
      dtype: the accumulation and result dtype (default: a's if floating, else the
        default float dtype).
      out: only None (funcnet arrays are immutable).
      keepdims: keep the reduced axes with size 1.
      where: a bool mask broadcastable to a: the mean of those elements only.

    Returns:
      An array of a's shape without the reduced axes (kept with size 1 when keepdims);
      nan for an empty reduction.

    Example:
      >>> fnp.mean(fnp.array([1, 2]))
      Array(1.5, dtype=float32)
      >>> fnp.mean(fnp.array([[1.0, 2.0], [3.0, 5.0]]), axis=0).tolist()
      [2.0, 3.5]
    """
    check_arraylike("mean", a)
    check_arraylike_or_none("mean", where)
    check_no_out("mean", out)
    x = asarray(a)
    axes = normalize_axes(axis, x.ndim)
    if dtype is None and not dtypes.is_inexact(x.dtype):
        dtype = dtypes.default_float()
    total = sum(x, axis=axes, dtype=dtype, keepdims=keepdims, where=where)
    n = _count(x, axes, where, keepdims)
    if dtype is not None and not dtypes.is_float(dtype):
        return astype(true_divide(total, n), dtype)
    return true_divide(total, astype(n, total.dtype) if not isinstance(n, int) else n)


def var(
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=0,
    keepdims=False,
    *,
    where=None,
    mean=None,
    correction=None,
):
    """The variance over `axis`, as jnp.var.

    Args:
      a: the array (integers are converted to the default float dtype).
      axis: an int, a tuple of ints or None (all).
      dtype: the computation and result dtype (default: a's if floating).
      out: only None (funcnet arrays are immutable).
      ddof: delta degrees of freedom: the divisor is N - ddof.
      keepdims: keep the reduced axes with size 1.
      where: a bool mask broadcastable to a: the variance of those elements only.
      mean: a precomputed mean (broadcastable with keepdims=True's shape), as jnp.var.
      correction: the array API's name for ddof (give one of them).

    Returns:
      The mean of the squared deviations, sum(|a - mean|**2) / (N - ddof): a floating
      array of a's shape without the reduced axes (kept with size 1 when keepdims).

    Raises:
      ValueError: when both ddof and correction are given.

    Example:
      >>> x = fnp.array([1.0, 2.0, 3.0, 4.0])
      >>> fnp.var(x)
      Array(1.25, dtype=float32)
      >>> round(float(fnp.var(x, ddof=1)), 4)
      1.6667
    """
    check_arraylike("var", a)
    check_arraylike_or_none("var", where, mean)
    check_no_out("var", out)
    if correction is not None:
        if ddof:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    x = asarray(a)
    if not dtypes.is_inexact(x.dtype):
        x = astype(
            x, dtype if dtype is not None and dtypes.is_float(dtype) else dtypes.default_float()
        )
    elif dtype is not None:
        x = astype(x, dtype)
    axes = normalize_axes(axis, x.ndim)
    center = _mean(x, axes, where) if mean is None else asarray(mean)
    centered = x - center
    if dtypes.is_complex(centered.dtype):  # mean(|x - mean|^2), real, as NumPy and jax
        sq = lax.real(centered) ** 2 + lax.imag(centered) ** 2
    else:
        sq = centered * centered
    sq = sum(sq, axis=axes, keepdims=keepdims, where=where)
    n = _count(x, axes, where, keepdims)
    out = true_divide(sq, astype(n, sq.dtype) - ddof if not isinstance(n, int) else n - ddof)
    return astype(out, dtype) if dtype is not None else out


_mean_fn = mean


def _mean(x, axes, where):
    return _mean_fn(x, axis=axes, keepdims=True, where=where)


def std(
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=0,
    keepdims=False,
    *,
    where=None,
    mean=None,
    correction=None,
):
    """The standard deviation over `axis`: sqrt(fnp.var(...)), as jnp.std.

    Args:
      a: the array (integers are converted to the default float dtype).
      axis: an int, a tuple of ints or None (all).
      dtype: the computation and result dtype (default: a's if floating).
      out: only None (funcnet arrays are immutable).
      ddof: delta degrees of freedom: the variance's divisor is N - ddof.
      keepdims: keep the reduced axes with size 1.
      where: a bool mask broadcastable to a: the elements that take part.
      mean: a precomputed mean (broadcastable with keepdims=True's shape).
      correction: the array API's name for ddof (give one of them).

    Returns:
      A floating array of a's shape without the reduced axes (kept with size 1 when
      keepdims).

    Example:
      >>> fnp.std(fnp.array([1.0, 3.0]))
      Array(1., dtype=float32)
    """
    return sqrt(
        var(
            a,
            axis=axis,
            dtype=dtype,
            out=out,
            ddof=ddof,
            keepdims=keepdims,
            where=where,
            mean=mean,
            correction=correction,
        )
    )


_ARG_DOC = """The index of the {what} along `axis`, the first one on ties, as jnp.{name}.

Args:
  a: the array.
  axis: an int, or None for the index into the flattened array.
  out: only None (funcnet arrays are immutable).
  keepdims: keep the reduced axis with size 1 (all axes, when axis is None).

Returns:
  An int array (int32; int64 with x64) of a's shape without `axis` (0-d when axis is None).

Raises:
  ValueError: for an empty array with axis None, or an empty axis when the result is
    not empty.
"""


def _arg(prim_fn, name):
    def fn(a, axis=None, out=None, keepdims=None):
        check_arraylike(name, a)
        check_no_out(name, out)
        x = asarray(a)
        if axis is None:
            if x.size == 0:
                raise ValueError(f"attempt to get {name} of an empty sequence{_at()}")
            result = prim_fn(ravel(x), 0, dtypes.default_int())
            return reshape(result, (1,) * x.ndim) if keepdims else result
        axis = normalize_axis(axis, x.ndim)
        if x.shape[axis] == 0 and math.prod(d for i, d in enumerate(x.shape) if i != axis):
            raise ValueError(f"attempt to get {name} of an empty sequence{_at()}")
        result = prim_fn(x, axis, dtypes.default_int()) if x.size else _empty_index(x, axis)
        return expand_dims(result, axis) if keepdims else result

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _ARG_DOC.format(what=f"{name[3:]}imum", name=name)
    return fn


def _empty_index(x, axis):
    return zeros([d for i, d in enumerate(x.shape) if i != axis], dtypes.default_int())


argmax = _arg(lax.argmax, "argmax")
argmin = _arg(lax.argmin, "argmin")


_CUMULATIVE_DOC = """The cumulative {what} along `axis`, as jnp.{name}: element i is the
{what} of elements 0..i.

Args:
  a: the array.
  axis: an int, or None for the flattened array.
  dtype: the accumulation and result dtype (default: a's; bools become the default
    int; small integer types are kept, unlike fnp.sum's).
  out: only None (funcnet arrays are immutable).

Returns:
  An array of a's shape (1-d when axis is None).
"""


def _cumulative(prim_fn, name):
    def fn(a, axis=None, dtype=None, out=None):
        check_arraylike(name, a)
        check_no_out(name, out)
        x = asarray(a)
        if axis is None:
            x, axis = ravel(x), 0
        axis = normalize_axis(axis, x.ndim)
        # Unlike sum, jax keeps small integer types here; only bools become integers.
        if dtype is None and dtypes.is_bool(x.dtype):
            dtype = dtypes.default_int()
        if dtype is not None:
            x = astype(x, dtype)
        return prim_fn(x, axis)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _CUMULATIVE_DOC.format(
        what={"cumsum": "sum", "cumprod": "product"}[name], name=name
    )
    return fn


cumsum = _cumulative(lax.cumsum, "cumsum")
cumprod = _cumulative(lax.cumprod, "cumprod")


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) over `axis`, computed stably, as jax.nn.logsumexp.

    Args:
      a: the array (integers are converted to float).
      axis: the axes to reduce (all when None).
      b: optional weights broadcastable to a (may be negative: see return_sign).
      keepdims: keep the reduced axes with size 1.
      return_sign: also return the sign of the sum; then the result is log|sum|.
        Without it, a negative sum gives nan.
      where: a bool mask of the elements that take part.

    Returns:
      A floating array of a's shape without the reduced axes (kept with size 1 when
      keepdims), or (result, sign) with return_sign. An empty reduction gives -inf.

    Example:
      >>> round(float(fnp.logsumexp(fnp.array([0.0, 0.0]))), 4)
      0.6931
      >>> value, sign = fnp.logsumexp(
      ...     fnp.array([1.0, 2.0]), b=fnp.array([1.0, -1.0]), return_sign=True
      ... )
      >>> round(float(value), 4), float(sign)
      (1.5413, -1.0)
    """
    check_arraylike("logsumexp", a)
    check_arraylike_or_none("logsumexp", b, where)
    (x,) = _float_args(a) if b is None else _float_args(a, b)[:1]
    if where is not None:  # masked-out entries must not reach exp (nan gradients), as jax
        x = _select(where, x, broadcast_to(np.zeros((), x.dtype)[()], x.shape))
    axes = normalize_axes(axis, x.ndim)
    # The max cancels out of the value; stopping its gradient keeps nan out of it.
    m = max(x, axis=axes, keepdims=True, where=where, initial=-np.inf)
    m = lax.stop_gradient(_select(isfinite(m), m, broadcast_to(np.zeros((), m.dtype)[()], m.shape)))
    e = exp(x - m)
    if b is not None:
        e = e * astype(asarray(b), x.dtype)
    total = sum(e, axis=axes, keepdims=True, where=where)
    s = sign(total)
    result = log(total if b is None else abs(total)) + m
    if not keepdims:
        shape = [d for i, d in enumerate(x.shape) if i not in axes]
        result, s = reshape(result, shape), reshape(s, shape)
    if return_sign:
        return result, s
    if b is not None:
        result = _select(
            s < 0, broadcast_to(np.asarray(np.nan, result.dtype)[()], result.shape), result
        )
    return result
