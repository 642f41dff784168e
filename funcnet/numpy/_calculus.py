"""Finite differences, integration, interpolation and covariance: diff, ediff1d,
gradient, trapezoid, interp, cov, corrcoef (compositions of slices and arithmetic, so
every transformation applies)."""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import (
    _float_args,
    _like,
    asarray,
    astype,
    broadcast_to,
    check_arraylike,
    check_arraylike_or_none,
    clip,
    promote,
    sqrt,
)
from funcnet.numpy._indexing import take, where
from funcnet.numpy._matrix import diagonal
from funcnet.numpy._reductions import sum
from funcnet.numpy._set_ops import searchsorted
from funcnet.numpy._shape import concatenate, moveaxis, normalize_axis, ravel, reshape


def _sliced(a, start, stop, axis):
    n = a.shape[axis]
    start = 0 if start is None else (start + n if start < 0 else start)
    stop = n if stop is None else (stop + n if stop < 0 else stop)
    return lax.slice_in_dim(a, start, stop, axis=axis)


def _with_ends(name, a, value, axis):
    value = asarray(value)
    if value.ndim == 0:
        shape = list(a.shape)
        shape[axis] = 1
        value = broadcast_to(value, tuple(shape))
    return value


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The n-th discrete difference along axis, as jnp.diff.

    Args:
      a: an array of at least one dimension.
      n: how many times to difference (0 returns a).
      axis: the axis to difference along.
      prepend: values put before a along axis first (a scalar is broadcast).
      append: values put after a along axis first.

    Returns:
      An array whose size along axis is n smaller; bools give bools (a != neighbour).

    Raises:
      ValueError: for a 0-d array or a negative n.

    Example:
      >>> fnp.diff(fnp.array([1, 4, 9, 16])).tolist()
      [3, 5, 7]
    """
    check_arraylike("diff", a)
    check_arraylike_or_none("diff", prepend, append)
    a = asarray(a)
    n = int(n)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative, got n={n}{_at()}")
    if a.ndim == 0:
        raise ValueError(f"diff requires input that is at least one dimensional; got {a}")
    if n == 0:
        return a
    axis = normalize_axis(axis, a.ndim)
    parts = []
    if prepend is not None:
        parts.append(_with_ends("diff", a, prepend, axis))
    parts.append(a)
    if append is not None:
        parts.append(_with_ends("diff", a, append, axis))
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    for _ in range(n):
        upper, lower = _sliced(a, 1, None, axis), _sliced(a, None, -1, axis)
        a = upper != lower if a.dtype == dtypes.bool_ else upper - lower
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """The differences of consecutive elements of the flattened array, as jnp.ediff1d.

    Args:
      ary: an array (flattened first).
      to_end: values appended after the differences.
      to_begin: values put before the differences.

    Returns:
      A 1-d array.
    """
    check_arraylike("ediff1d", ary)
    arr = ravel(ary)
    result = diff(arr) if arr.shape[0] else arr
    parts = []
    if to_begin is not None:
        parts.append(ravel(astype(asarray(to_begin), result.dtype)))
    parts.append(result)
    if to_end is not None:
        parts.append(ravel(astype(asarray(to_end), result.dtype)))
    return concatenate(parts) if len(parts) > 1 else result


def gradient(f, *varargs, axis=None, edge_order=None):
    """The gradient of sampled values by central differences (one-sided at the edges),
    as jnp.gradient.

    Args:
      f: an array of samples.
      *varargs: the spacing: none (1), one scalar for every axis, or one scalar or 1-d
        coordinate array per axis.
      axis: an axis or a tuple of axes (default: all).
      edge_order: only None (first-order edges), as in jax.

    Returns:
      An array of f's shape for one axis, else a list of arrays (one per axis).

    Raises:
      NotImplementedError: for an edge_order.
      ValueError: for an axis of fewer than 2 samples, or spacing of the wrong length.

    Example:
      >>> fnp.gradient(fnp.array([1.0, 2.0, 4.0, 7.0])).tolist()
      [1.0, 1.5, 2.5, 3.0]
    """
    if edge_order is not None:
        raise NotImplementedError("The 'edge_order' argument to jnp.gradient is not supported.")
    check_arraylike("gradient", f, *varargs)
    a, *spacing = _float_args(f, *varargs)
    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        axes = tuple(normalize_axis(i, a.ndim) for i in np.atleast_1d(np.asarray(axis)).tolist())
    if not axes:
        return []
    if not spacing:
        spacing = [1.0] * len(axes)
    elif len(spacing) == 1 and spacing[0].ndim == 0:
        spacing = spacing * len(axes)
    elif len(spacing) != len(axes):
        raise ValueError(
            f"gradient: expected 0, 1 or {len(axes)} spacing arguments, got {len(spacing)}"
        )
    out = []
    for ax, h in zip(axes, spacing):
        if a.shape[ax] < 2:
            raise ValueError(
                f"gradient: shape {a.shape} needs at least 2 samples along axis {ax}{_at()}"
            )
        out.append(_gradient_along(a, h, ax))
    return out[0] if len(axes) == 1 else out


def _gradient_along(a, h, axis):
    def sl(start, stop):
        return _sliced(a, start, stop, axis)

    upper = sl(1, 2) - sl(0, 1)
    lower = sl(-1, None) - sl(-2, -1)
    if np.ndim(h) == 0:
        inner = (sl(2, None) - sl(None, -2)) * 0.5 / h
        upper, lower = upper / h, lower / h
    elif np.ndim(h) == 1:
        if h.shape[0] != a.shape[axis]:
            raise ValueError(
                "Spacing arrays must have the same length as the dimension along which "
                "the gradient is calculated."
            )
        shape = [1] * a.ndim
        shape[axis] = h.shape[0]
        h = reshape(h, shape)

        def sx(start, stop):
            return _sliced(h, start, stop, axis)

        upper = upper / (sx(1, 2) - sx(0, 1))
        lower = lower / (sx(-1, None) - sx(-2, -1))
        dx1 = sx(1, -1) - sx(0, -2)
        dx2 = sx(2, None) - sx(1, -1)
        c0 = -dx2 / (dx1 * (dx1 + dx2))
        c1 = (dx2 - dx1) / (dx1 * dx2)
        c2 = dx1 / (dx2 * (dx1 + dx2))
        inner = c0 * sl(0, -2) + c1 * sl(1, -1) + c2 * sl(2, None)
    else:
        raise ValueError("Spacing arrays must be 1D arrays or scalars.")
    return concatenate([upper, inner, lower], axis=axis)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of y by the trapezoidal rule along axis, as jnp.trapezoid.

    Args:
      y: an array of samples.
      x: the sample points (1-d along axis, or of y's shape); default: spacing dx.
      dx: the spacing when x is None.
      axis: the axis to integrate along.

    Returns:
      An array of y's shape without axis.

    Example:
      >>> float(fnp.trapezoid(fnp.array([1.0, 2.0, 3.0])))
      4.0
    """
    check_arraylike("trapezoid", y)
    if x is None:
        (y,) = _float_args(y)
        axis = normalize_axis(axis, y.ndim)
        y = moveaxis(y, axis, -1)
        return 0.5 * dx * sum(y[..., 1:] + y[..., :-1], axis=-1)
    check_arraylike("trapezoid", x)
    y, x = _float_args(y, x)
    axis = normalize_axis(axis, y.ndim)
    y = moveaxis(y, axis, -1)
    dx_ = diff(x) if x.ndim == 1 else moveaxis(diff(x, axis=axis), axis, -1)
    return 0.5 * sum(dx_ * (y[..., 1:] + y[..., :-1]), axis=-1)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (xp, fp) at x, as jnp.interp.

    Args:
      x: the points to evaluate at.
      xp: increasing 1-d sample points (not checked, as in jax).
      fp: 1-d sample values, as long as xp.
      left: the value for x < xp[0] (default fp[0]); 'extrapolate' extends the line.
      right: the value for x > xp[-1] (default fp[-1]); 'extrapolate' extends the line.
      period: a period for x and xp (then left and right are ignored).

    Returns:
      A floating array of x's shape.

    Raises:
      ValueError: for xp, fp not 1-d of one length, or a period with left/right.

    Example:
      >>> fnp.interp(fnp.array([0.5, 1.5]), fnp.array([0.0, 1.0, 2.0]),
      ...            fnp.array([0.0, 10.0, 0.0])).tolist()
      [5.0, 5.0]
    """
    check_arraylike("interp", x, xp, fp)
    x, xp, fp = _float_args(x, xp, fp)
    if xp.ndim != 1 or fp.ndim != 1 or xp.shape[0] != fp.shape[0]:
        raise ValueError(
            f"interp: xp and fp must be 1-d of one length, got shapes {xp.shape}, {fp.shape}"
        )
    if xp.shape[0] == 0:
        raise ValueError("interp: xp and fp must be non-empty")
    if period is not None:
        if left is not None or right is not None:
            raise ValueError("interp: left and right have no meaning with a period")
        period = lax.abs(asarray(period))
        x = x % period
        xp = xp % period
        order = lax.sort_key_val(xp, lax.iota(np.int32, xp.shape[0]))[1]
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = concatenate([fp[-1:], fp, fp[:1]])
    i = clip(searchsorted(xp, x, side="right"), 1, xp.shape[0] - 1)
    x_lo, x_hi, f_lo, f_hi = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
    dx = x_hi - x_lo
    delta = where(dx == 0, _like(dx, 0), (x - x_lo) / where(dx == 0, _like(dx, 1), dx))
    df = f_hi - f_lo
    # A zero-width interval (repeated xp) takes its right value, as NumPy and jax do.
    f = where(dx == 0, f_hi, f_lo + delta * df)
    if period is None:
        if isinstance(left, str):
            if left != "extrapolate":
                raise ValueError(f"interp: unknown string for left: {left!r}")
        else:
            f = where(x < xp[0], fp[0] if left is None else _like(f, left), f)
        if isinstance(right, str):
            if right != "extrapolate":
                raise ValueError(f"interp: unknown string for right: {right!r}")
        else:
            f = where(x > xp[-1], fp[-1] if right is None else _like(f, right), f)
    return f


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, dtype=None):
    """The covariance matrix of the variables in m (and y), as jnp.cov.

    Args:
      m: a 1-d or 2-d array: each row a variable, each column an observation (the
        transpose when rowvar is False).
      y: more variables, laid out as m.
      rowvar: whether rows (True) or columns are the variables.
      bias: normalise by N (True) instead of N - 1.
      ddof: overrides bias: normalise by N - ddof.
      fweights: integer frequency weights, one per observation.
      aweights: observation weights, one per observation.
      dtype: the computation's dtype (default: at least the default float).

    Returns:
      A 2-d array (a 0-d one for a single variable).

    Raises:
      ValueError: for m of more than 2 dimensions or weights of the wrong shape.

    Example:
      >>> fnp.cov(fnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
      [[1.0, -1.0], [-1.0, 1.0]]
    """
    check_arraylike("cov", m)
    check_arraylike_or_none("cov", y, fweights, aweights)
    m = asarray(m)
    if m.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {m.shape}){_at()}")
    if y is not None:
        y = asarray(y)
        if y.ndim > 2:
            raise ValueError(f"cov: y has more than 2 dimensions (shape {y.shape}){_at()}")
    (x,) = _float_args(m if m.ndim == 2 else reshape(m, (1, -1)))
    if dtype is not None:
        x = astype(x, dtype)
    if not rowvar and x.shape[0] != 1:
        x = x.T
    if x.shape[0] == 0:
        return asarray([], dtype=x.dtype).reshape(0, 0)
    if y is not None:
        (yy,) = _float_args(y if y.ndim == 2 else reshape(y, (1, -1)))
        if not rowvar and yy.shape[0] != 1:
            yy = yy.T
        x = concatenate(promote(x, yy), axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    w = None
    if fweights is not None:
        fw = asarray(fweights)
        if fw.ndim > 1 or fw.shape[0] != n:
            raise ValueError(f"cov: fweights must be 1-d of length {n}, got {fw.shape}")
        w = astype(fw, x.dtype)
    if aweights is not None:
        aw = asarray(aweights)
        if aw.ndim > 1 or aw.shape[0] != n:
            raise ValueError(f"cov: aweights must be 1-d of length {n}, got {aw.shape}")
        aw = astype(aw, x.dtype)
        w = aw if w is None else w * aw
    if w is None:
        avg = sum(x, axis=1) / n
        w_sum = _like(avg, n)
        fact = w_sum - ddof
    else:
        w_sum = sum(w)
        avg = sum(x * w, axis=1) / w_sum
        if aweights is None or ddof == 0:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * sum(w * astype(asarray(aweights), x.dtype)) / w_sum
    xc = x - avg[:, None]
    xw = xc if w is None else xc * w
    c = (xw @ xc.T) / fact
    return c[0, 0] if c.shape == (1, 1) else c


def corrcoef(x, y=None, rowvar=True, dtype=None):
    """The Pearson correlation coefficients of the variables in x (and y), as
    jnp.corrcoef.

    Args:
      x: a 1-d or 2-d array laid out as for cov.
      y: more variables, laid out as x.
      rowvar: whether rows (True) or columns are the variables.
      dtype: the computation's dtype.

    Returns:
      A 2-d array of coefficients in [-1, 1] (a 0-d one for a single variable: 1, or nan
      for a constant).

    Example:
      >>> fnp.corrcoef(fnp.array([[0.0, 1.0, 2.0], [0.0, 2.0, 4.1]]))[0, 1] > 0.99
      Array(True, dtype=bool)
    """
    check_arraylike("corrcoef", x)
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = sqrt(lax.reshape(_diag(c), (c.shape[0],)))
    c = c / d[:, None] / d[None, :]
    return clip(c, -1, 1)


def _diag(c):
    return diagonal(c)
