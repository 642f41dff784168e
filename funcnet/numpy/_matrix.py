"""Matrix helpers with jax.numpy's names: diagonals (diagonal, diag, diagflat, trace,
fill_diagonal), products (kron, cross, matvec, vecmat, vecdot), vander, rot90 and
matrix_transpose. Diagonals are strided slices of the flattened matrix, so they are
linear with every rule (no gather)."""

import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import (
    _like,
    asarray,
    astype,
    broadcast_shapes,
    broadcast_to,
    check_arraylike,
    power,
    promote,
)
from funcnet.numpy._creation import eye, zeros
from funcnet.numpy._indexing import where
from funcnet.numpy._pad import pad
from funcnet.numpy._products import matmul
from funcnet.numpy._reductions import sum
from funcnet.numpy._shape import (
    expand_dims,
    flip,
    moveaxis,
    normalize_axis,
    reshape,
    stack,
    swapaxes,
    transpose,
)


def _conj(x):
    if dtypes.is_complex(x.dtype):
        return lax.conj(x)
    return x


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal (offset above, or below for negative offset) of the matrices in the
    axis1, axis2 plane, as jnp.diagonal.

    Args:
      a: an array of at least 2 dimensions.
      offset: the diagonal's offset from the main diagonal.
      axis1: the first axis of the plane.
      axis2: the second axis of the plane.

    Returns:
      An array with axis1 and axis2 removed and the diagonal as its last axis.

    Raises:
      ValueError: for fewer than 2 dimensions or axis1 == axis2.

    Example:
      >>> fnp.diagonal(fnp.arange(9).reshape(3, 3), offset=1).tolist()
      [1, 5]
    """
    check_arraylike("diagonal", a)
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal requires an array of at least two dimensions, got {a.shape}")
    axis1, axis2 = normalize_axis(axis1, a.ndim), normalize_axis(axis2, a.ndim)
    if axis1 == axis2:
        raise ValueError("axis1 and axis2 must not be equal")
    offset = operator.index(offset)
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    *batch, n, m = a.shape
    start = offset if offset >= 0 else -offset * m
    length = max(0, min(n + min(offset, 0), m - max(offset, 0)))
    flat = reshape(a, (*batch, n * m))
    if length == 0:
        return zeros((*batch, 0), a.dtype)
    end = start + (length - 1) * (m + 1) + 1
    return lax.slice_in_dim(flat, start, end, stride=m + 1, axis=flat.ndim - 1)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """The sum along a diagonal, as jnp.trace.

    Args:
      a: an array of at least 2 dimensions.
      offset: the diagonal's offset from the main diagonal.
      axis1: the first axis of the plane.
      axis2: the second axis of the plane.
      dtype: the accumulation and result dtype (default as jnp.sum).
      out: only None.

    Returns:
      An array with axis1 and axis2 removed.

    Example:
      >>> int(fnp.trace(fnp.arange(9).reshape(3, 3)))
      12
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.trace is not supported.")
    check_arraylike("trace", a)
    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """A diagonal matrix with v on diagonal k (v 1-d), or the k-th diagonal of v (v
    2-d), as jnp.diag.

    Args:
      v: a 1-d or 2-d array.
      k: the diagonal (positive above the main one).

    Returns:
      A 2-d array (from 1-d v) or a 1-d one (from 2-d v).

    Raises:
      ValueError: for v of another rank.

    Example:
      >>> fnp.diag(fnp.array([1, 2])).tolist()
      [[1, 0], [0, 2]]
    """
    check_arraylike("diag", v)
    v = asarray(v)
    k = operator.index(k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag input must be 1d or 2d, got shape {v.shape}")
    n = v.shape[0] + abs(k)
    padded = pad(v, (0, abs(k)))
    full = broadcast_to(padded[:, None] if k >= 0 else padded[None, :], (n, n))
    return where(eye(n, k=k, dtype=bool), full, _like(full, 0))


def diagflat(v, k=0):
    """A 2-d array with the flattened v on diagonal k, as jnp.diagflat.

    Args:
      v: an array (flattened first).
      k: the diagonal (positive above the main one).

    Returns:
      A square 2-d array.
    """
    check_arraylike("diagflat", v)
    return diag(reshape(asarray(v), (-1,)), k)


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """a with its main diagonal set to val, as jnp.fill_diagonal (inplace=False is
    required: arrays are immutable).

    Args:
      a: an array of at least 2 dimensions, all of one size unless 2-d.
      val: a scalar or array of values, repeated along the diagonal.
      wrap: for a tall 2-d matrix, restart the diagonal every ncols + 1 rows.
      inplace: must be False.

    Returns:
      An array of a's shape and dtype.

    Raises:
      ValueError: for inplace=True, fewer than 2 dimensions or unequal sizes.
    """
    check_arraylike("fill_diagonal", a, val)
    if inplace:
        raise NotImplementedError(
            "JAX arrays are immutable, so fill_diagonal cannot be done in place: pass "
            "inplace=False and use the return value"
        )
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError("array must be at least 2-d")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    n = min(a.shape)
    idx = np.arange(n)
    if a.ndim == 2 and wrap:
        rows = np.arange(0, a.shape[0] * a.shape[1], a.shape[1] + 1)
        flat_idx = rows[rows < a.size]
    else:
        flat_idx = np.ravel_multi_index((idx,) * a.ndim, a.shape) if n else idx
    val = reshape(astype(asarray(val), a.dtype), (-1,))
    if val.shape[0] == 0:
        return a
    reps = -(-len(flat_idx) // val.shape[0])
    vals = reshape(broadcast_to(val, (reps, val.shape[0])), (-1,))[: len(flat_idx)]
    flat = reshape(a, (-1,))
    return reshape(flat.at[flat_idx].set(vals), a.shape)


def kron(a, b):
    """The Kronecker product, as jnp.kron.

    Args:
      a: an array.
      b: an array; the lower-rank one gets leading size-1 axes.

    Returns:
      An array whose shape is the elementwise product of the two shapes.

    Example:
      >>> fnp.kron(fnp.eye(2), fnp.array([[1.0, 2.0]])).tolist()
      [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]]
    """
    check_arraylike("kron", a, b)
    a, b = promote(a, b)
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = reshape(b, (1,) * (nd - b.ndim) + b.shape)
    a_wide = reshape(a, tuple(d for s in a.shape for d in (s, 1)))
    b_wide = reshape(b, tuple(d for s in b.shape for d in (1, s)))
    return reshape(a_wide * b_wide, tuple(x * y for x, y in zip(a.shape, b.shape)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 2- or 3-vectors along the given axes, as jnp.cross.

    Args:
      a: an array of vectors (2 or 3 components along axisa).
      b: an array of vectors (2 or 3 components along axisb).
      axisa: the vector axis of a.
      axisb: the vector axis of b.
      axisc: the vector axis of the result.
      axis: overrides axisa, axisb and axisc.

    Returns:
      An array of vectors (or of scalars, for two 2-vectors).

    Raises:
      ValueError: for vectors of another length.

    Example:
      >>> fnp.cross(fnp.array([1.0, 0.0, 0.0]), fnp.array([0.0, 1.0, 0.0])).tolist()
      [0.0, 0.0, 1.0]
    """
    check_arraylike("cross", a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = promote(a, b)
    a = moveaxis(a, axisa, -1)
    b = moveaxis(b, axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(
            "Dimension must be either 2 or 3 for cross product, got shapes "
            f"{a.shape} and {b.shape}{_at()}"
        )
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    a0, a1 = a[..., 0], a[..., 1]
    a2 = a[..., 2] if a.shape[-1] == 3 else zeros(a.shape[:-1], a.dtype)
    b0, b1 = b[..., 0], b[..., 1]
    b2 = b[..., 2] if b.shape[-1] == 3 else zeros(b.shape[:-1], b.dtype)
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, axisc)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of x: columns x**(N-1), ..., x**0 (reversed when
    increasing), as jnp.vander.

    Args:
      x: a 1-d array.
      N: the number of columns (default len(x)).
      increasing: powers increase left to right.

    Returns:
      A 2-d array of shape (len(x), N).

    Raises:
      ValueError: for x not 1-d or a negative N.
    """
    check_arraylike("vander", x)
    x = asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a one-dimensional array, got shape {x.shape}")
    N = x.shape[0] if N is None else operator.index(N)
    if N < 0:
        raise ValueError("N must be nonnegative")
    powers = np.arange(N) if increasing else np.arange(N - 1, -1, -1)
    return power(x[:, None], asarray(powers.astype(np.int32))[None, :])


def rot90(m, k=1, axes=(0, 1)):
    """m rotated by 90 degrees k times in the plane of axes, as jnp.rot90.

    Args:
      m: an array of at least 2 dimensions.
      k: the number of quarter turns (from axes[0] towards axes[1]).
      axes: the two axes of the plane.

    Returns:
      The rotated array.

    Raises:
      ValueError: for fewer than 2 dimensions or axes that are not two distinct axes.

    Example:
      >>> fnp.rot90(fnp.array([[1, 2], [3, 4]])).tolist()
      [[2, 4], [1, 3]]
    """
    check_arraylike("rot90", m)
    m = asarray(m)
    if m.ndim < 2:
        raise ValueError(
            f"rot90 requires its first argument to have ndim at least two, got {m.ndim}"
        )
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    ax0, ax1 = normalize_axis(axes[0], m.ndim), normalize_axis(axes[1], m.ndim)
    if ax0 == ax1:
        raise ValueError("Axes must be different.")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, ax0), ax1)
    perm = list(range(m.ndim))
    perm[ax0], perm[ax1] = perm[ax1], perm[ax0]
    if k == 1:
        return transpose(flip(m, ax1), perm)
    return flip(transpose(m, perm), ax1)


def matrix_transpose(x, /):
    """x with its last two axes swapped, as jnp.matrix_transpose.

    Args:
      x: an array of at least 2 dimensions.

    Returns:
      The transposed array.

    Raises:
      ValueError: for fewer than 2 dimensions.
    """
    check_arraylike("matrix_transpose", x)
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must be at least two-dimensional for matrix_transpose; got {x.ndim=}")
    return swapaxes(x, -1, -2)


def matvec(x1, x2, /):
    """The matrix-vector product of stacks, as jnp.matvec.

    Args:
      x1: matrices of shape (..., m, n).
      x2: vectors of shape (..., n); the batch dimensions broadcast.

    Returns:
      Vectors of shape (..., m).
    """
    check_arraylike("matvec", x1, x2)
    x1, x2 = asarray(x1), asarray(x2)
    return matmul(x1, x2[..., None])[..., 0]


def vecmat(x1, x2, /):
    """The (conjugated) vector-matrix product of stacks, as jnp.vecmat.

    Args:
      x1: vectors of shape (..., m) (conjugated when complex).
      x2: matrices of shape (..., m, n); the batch dimensions broadcast.

    Returns:
      Vectors of shape (..., n).
    """
    check_arraylike("vecmat", x1, x2)
    x1, x2 = asarray(x1), asarray(x2)
    return matmul(_conj(x1)[..., None, :], x2)[..., 0, :]


def vecdot(x1, x2, /, *, axis=-1, precision=None, preferred_element_type=None):
    """The (conjugated) dot product of vectors along axis, broadcasting the rest, as
    jnp.vecdot.

    Args:
      x1: an array of vectors (conjugated when complex).
      x2: an array of vectors; the shapes broadcast.
      axis: the vector axis (in the broadcast shape).
      precision: accepted for compatibility (XLA:CPU computes at full precision).
      preferred_element_type: the accumulation and result dtype.

    Returns:
      An array of the broadcast shape without axis.

    Raises:
      ValueError: for vector axes of different lengths.

    Example:
      >>> float(fnp.vecdot(fnp.array([1.0, 2.0]), fnp.array([3.0, 4.0])))
      11.0
    """
    del precision
    check_arraylike("vecdot", x1, x2)
    x1, x2 = promote(x1, x2)
    shape = broadcast_shapes(x1.shape, x2.shape)
    axis = normalize_axis(axis, len(shape))
    x1 = broadcast_to(x1, shape)
    x2 = broadcast_to(x2, shape)
    out = sum(_conj(x1) * x2, axis=axis, dtype=preferred_element_type)
    return out


def _expand(x, axes):
    return expand_dims(x, axes) if axes else x


def _as_float_dtype(x):
    return astype(x, dtypes.default_float()) if not dtypes.is_inexact(x.dtype) else x
