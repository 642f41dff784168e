"""Argument handling shared by the distributions: parameters, shapes and dtypes."""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.trace import get_aval
from funcnet.random._prng import canonical_shape, to_array
from funcnet.random._samplers import _broadcast_shapes


def const(x, value):
    """A constant of x's shape and dtype."""
    aval = get_aval(x)
    return lax.broadcast_in_dim(np.asarray(value, aval.dtype)[()], aval.shape, ())


def float_param(name, what, x):
    """A parameter as an Array or tracer; integers and bools become the default float."""
    x = to_array(x)
    if not dtypes.is_float(get_aval(x).dtype):
        if not (dtypes.is_int(get_aval(x).dtype) or dtypes.is_bool(get_aval(x).dtype)):
            raise TypeError(
                f"funcnet.random.{name}: {what} must be a real number or array, "
                f"got {get_aval(x).str_short()}"
            )
        x = lax.convert_element_type(x, dtypes.default_float())
    return x


def sample_shape(name, shape, *params):
    """`shape` (canonical) checked against the parameters' shapes, or their broadcast
    shape when `shape` is None (as jax.random's `_check_shape`)."""
    return shape_for(name, shape, *(tuple(get_aval(p).shape) for p in params))


def shape_for(name, shape, *shapes):
    """`sample_shape` for parameter shapes given as tuples."""
    if shape is None:
        return _broadcast_shapes(name, *shapes)
    shape = canonical_shape(name, shape)
    if _broadcast_shapes(name, shape, *shapes) != shape:
        raise ValueError(
            f"funcnet.random.{name}: parameter shapes {', '.join(map(str, shapes))} do not "
            f"broadcast to the sample shape {shape}"
        )
    return shape


def as_dtype(x, dtype, shape=None):
    """Convert to `dtype` and (if given) broadcast to `shape` (shape already checked)."""
    if get_aval(x).dtype != dtype:
        x = lax.convert_element_type(x, dtype)
    s = get_aval(x).shape
    if shape is not None and s != tuple(shape):
        x = lax.broadcast_in_dim(x, shape, tuple(range(len(shape) - len(s), len(shape))))
    return x
