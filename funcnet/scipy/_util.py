"""Argument handling shared by funcnet.scipy: jax's ``promote_args_inexact``."""

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.core import dtypes
from funcnet.numpy._core import _dtype_of, _inexact_of, check_arraylike


def promote_args_inexact(name, *args):
    """Arrays of one inexact dtype, weak when every argument is a Python scalar or weak,
    as jax's promote_args_inexact: integers and bools become the float type
    funcnet.numpy's float functions use (float32; float64 for 64-bit integers under
    x64; the default float for Python ints)."""
    check_arraylike(name, *args)
    dtype, weak = dtypes.result_type(*map(_dtype_of, args))
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float() if weak else _inexact_of(dtype)
    out = []
    for a in args:
        a = fnp.asarray(a)
        if a.dtype != dtype or a.aval.weak_type != weak:
            a = lax.convert_element_type(a, dtype, weak_type=weak)
        out.append(a)
    return out


def strong(x):
    """x without its weak type: for the functions jax returns strongly typed even for
    Python scalars (those built on NumPy-typed constants: ndtr, ndtri, log_ndtr)."""
    return lax.convert_element_type(x, x.dtype, weak_type=False) if x.aval.weak_type else x


def refuse_complex(name, x):
    if dtypes.is_complex(x.dtype):
        raise ValueError(
            f"{name} does not support complex-valued inputs (got {x.dtype}, shape {x.shape})."
        )


def const(x, value):
    """``value`` for arithmetic with x: a Python float, so that it takes x's dtype and
    keeps x's weak type (a NumPy scalar would make the result strongly typed)."""
    del x
    return float(value)


def polyval(coeffs, x):
    """Horner's rule with NumPy coefficients, highest power first (as jnp.polyval)."""
    coeffs = [float(c) for c in coeffs]
    out = coeffs[0] * x + coeffs[1]
    for c in coeffs[2:]:
        out = out * x + c
    return out
