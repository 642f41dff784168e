"""Complex numbers in funcnet.numpy: real and imaginary parts, conjugates, angles, and the
tests of complexness (as jax.numpy)."""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import _weak_result, asarray, check_arraylike, full_like_bool


def _zeros_like(x):
    return lax.broadcast_in_dim(np.zeros((), x.dtype)[()], x.shape, ())


@_weak_result
def real(val, /):
    """The real part of `val`, elementwise, as jnp.real.

    Args:
      val: an array or a scalar.

    Returns:
      For complex `val` an array of the matching real dtype (complex64 -> float32);
      otherwise `val` itself as an array.

    Example:
      >>> fnp.real(fnp.array([1 + 2j, 3 - 4j])).tolist()
      [1.0, 3.0]
    """
    check_arraylike("real", val)
    val = asarray(val)
    return lax.real(val) if dtypes.is_complex(val.dtype) else val


@_weak_result
def imag(val, /):
    """The imaginary part of `val`, elementwise, as jnp.imag.

    Args:
      val: an array or a scalar.

    Returns:
      For complex `val` an array of the matching real dtype; otherwise zeros of `val`'s
      shape and dtype.

    Example:
      >>> fnp.imag(fnp.array([1 + 2j, 3 - 4j])).tolist()
      [2.0, -4.0]
    """
    check_arraylike("imag", val)
    val = asarray(val)
    return lax.imag(val) if dtypes.is_complex(val.dtype) else _zeros_like(val)


@_weak_result
def conjugate(x, /):
    """The complex conjugate, elementwise, as jnp.conjugate (fnp.conj is the same
    function).

    Args:
      x: an array or a scalar.

    Returns:
      An array of `x`'s shape and dtype: conjugated if complex, `x` itself otherwise.

    Example:
      >>> fnp.conjugate(fnp.array([1 + 2j])).tolist()
      [(1-2j)]
    """
    check_arraylike("conjugate", x)
    x = asarray(x)
    return lax.conj(x) if dtypes.is_complex(x.dtype) else x


conj = conjugate


def angle(z, deg=False):
    """The argument (phase angle) of `z`, elementwise, as jnp.angle: `atan2(imag, real)`,
    in (-pi, pi].

    Args:
      z: an array or a scalar; integers and bools are converted to the default float
        dtype first.
      deg: return degrees instead of radians.

    Returns:
      A real floating array of `z`'s shape (float32 for complex64 or float32 input).

    Example:
      >>> fnp.angle(fnp.array([1j, -1.0]), deg=True).tolist()
      [90.0, 180.0]
    """
    check_arraylike("angle", z)
    z = asarray(z)
    if dtypes.is_complex(z.dtype):
        re, im = lax.real(z), lax.imag(z)
    else:
        if not dtypes.is_float(z.dtype):
            z = lax.convert_element_type(z, dtypes.default_float())
        re, im = z, _zeros_like(z)
    out = lax.atan2(im, re)
    if deg:
        out = lax.mul(out, lax.broadcast_in_dim(np.asarray(180 / np.pi, out.dtype), out.shape, ()))
    return out


def iscomplexobj(x):
    """Whether `x` has a complex dtype (whatever its values), as jnp.iscomplexobj.

    Args:
      x: an array, a scalar, a dtype-carrying object, or None.

    Returns:
      A Python bool.

    Example:
      >>> fnp.iscomplexobj(fnp.array([1.0 + 0j])), fnp.iscomplexobj(1.0)
      (True, False)
    """
    if x is None:
        return False
    try:
        dtype = np.dtype(x.dtype)
    except AttributeError:
        dtype = asarray(x).dtype
    return dtypes.is_complex(dtype)


def isrealobj(x):
    """Whether `x` does not have a complex dtype, as jnp.isrealobj.

    Args:
      x: an array, a scalar, or a dtype-carrying object.

    Returns:
      A Python bool: `not iscomplexobj(x)`.
    """
    return not iscomplexobj(x)


def iscomplex(x):
    """Whether each element has a nonzero imaginary part, as jnp.iscomplex.

    Args:
      x: an array or a scalar.

    Returns:
      A bool array of `x`'s shape (all False for a real dtype).

    Example:
      >>> fnp.iscomplex(fnp.array([1 + 1j, 2 + 0j])).tolist()
      [True, False]
    """
    check_arraylike("iscomplex", x)
    x = asarray(x)
    if not dtypes.is_complex(x.dtype):
        return full_like_bool(x, False)
    return lax.ne(lax.imag(x), _zeros_like(lax.imag(x)))


def isreal(x):
    """Whether each element has a zero imaginary part, as jnp.isreal.

    Args:
      x: an array or a scalar.

    Returns:
      A bool array of `x`'s shape (all True for a real dtype).

    Example:
      >>> fnp.isreal(fnp.array([1 + 1j, 2 + 0j])).tolist()
      [False, True]
    """
    check_arraylike("isreal", x)
    x = asarray(x)
    if not dtypes.is_complex(x.dtype):
        return full_like_bool(x, True)
    return lax.eq(lax.imag(x), _zeros_like(lax.imag(x)))
