"""Shared pieces of differentiation: symbolic zeros and tangent types.

A tangent that is known to be zero is a `Zero(aval)` rather than an array of
zeros: rules skip work for it, integer inputs get one, and reverse mode never
materializes cotangents of values that do not depend on the inputs.
"""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.array import Array, asarray_from_value
from funcnet.core.aval import ShapedArray
from funcnet.core.trace import Tracer, get_aval


class Zero:
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


def is_differentiable(aval) -> bool:
    return dtypes.is_inexact(aval.dtype)


def tangent_aval(aval) -> ShapedArray:
    return aval.strip_weak_type()


def zeros(aval):
    return lax.broadcast_in_dim(np.zeros((), aval.dtype)[()], aval.shape, ())


def instantiate(t):
    """A real array for a tangent (zeros for a symbolic Zero)."""
    return zeros(t.aval) if isinstance(t, Zero) else t


def zero_like(x) -> Zero:
    return Zero(tangent_aval(get_aval(x)))


def to_array(x):
    """An array (an Array or a tracer) for a value a rule or a user's function returned
    (a NumPy value or a Python scalar becomes an Array)."""
    return x if isinstance(x, (Array, Tracer)) else asarray_from_value(x)


def add_tangents(a, b):
    if isinstance(a, Zero):
        return b
    if isinstance(b, Zero):
        return a
    return lax.add(a, b)


class UndefinedPrimal:
    """Marks a linear input during transposition: its value is what we solve for."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    return isinstance(x, UndefinedPrimal)
