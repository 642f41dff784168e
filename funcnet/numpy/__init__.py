"""funcnet.numpy: the NumPy surface a deep-learning user needs, built on funcnet's
primitives (import it as `fnp`). Works eagerly and under every transformation.

Signatures follow jax.numpy's (parameter names, keyword use, `out=None`), and so do its
refusals (Python lists where jax.numpy wants arrays raise TypeError). The modules build
on each other in one direction: _dtypes, _core (conversion, promotion, elementwise),
_creation and _shape, _reductions, _indexing, _sorting, _pad and _products; _methods
installs the array methods and operators on Array and on tracers.
"""

import numpy as _np

from funcnet.core.array import Array as _Array
from funcnet.core.trace import Tracer as _Tracer
from funcnet.numpy import _methods
from funcnet.numpy._core import (
    abs,
    absolute,
    add,
    allclose,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    around,
    array,
    asarray,
    astype,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    cbrt,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    equal,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    fmod,
    greater,
    greater_equal,
    invert,
    isclose,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    power,
    remainder,
    result_type,
    round,
    rsqrt,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
)
from funcnet.numpy._creation import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    ones,
    ones_like,
    tri,
    tril,
    triu,
    zeros,
    zeros_like,
)
from funcnet.numpy._dtypes import (
    bfloat16,
    bool,
    bool_,
    can_cast,
    double,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    float_,
    floating,
    generic,
    half,
    iinfo,
    inexact,
    int8,
    int16,
    int32,
    int64,
    int_,
    integer,
    isdtype,
    issubdtype,
    number,
    promote_types,
    signedinteger,
    single,
    uint,
    uint8,
    uint16,
    uint32,
    uint64,
    unsignedinteger,
)
from funcnet.numpy._indexing import (
    argwhere,
    flatnonzero,
    nonzero,
    repeat,
    take,
    take_along_axis,
    where,
)
from funcnet.numpy._pad import (
    pad,
)
from funcnet.numpy._products import (
    convolve,
    correlate,
    dot,
    einsum,
    inner,
    matmul,
    outer,
    tensordot,
    vdot,
)
from funcnet.numpy._reductions import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumprod,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from funcnet.numpy._shape import (
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    column_stack,
    concatenate,
    dstack,
    expand_dims,
    flip,
    fliplr,
    flipud,
    hstack,
    moveaxis,
    ravel,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    swapaxes,
    tile,
    transpose,
    vstack,
)
from funcnet.numpy._shape import normalize_axis as _normalize_axis
from funcnet.numpy._sorting import (
    argsort,
    sort,
)

_methods.install()


class _ArrayType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, (_Array, _Tracer))


class ndarray(metaclass=_ArrayType):
    """The type of funcnet arrays, for isinstance checks, as jnp.ndarray.

    `isinstance(x, fnp.ndarray)` is True for a funcnet Array and for a traced value
    under a transformation, False otherwise (for a NumPy array too). It is never called:
    arrays come from fnp.asarray, fnp.array and the other functions.

    Example:
      >>> isinstance(fnp.ones(2), fnp.ndarray), isinstance(np.ones(2), fnp.ndarray)
      (True, False)
    """


pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None


def shape(a):
    """The shape of an array, a scalar or a nested list, as jnp.shape.

    Args:
      a: an array (anything with a `shape`), a scalar or a nested list.

    Returns:
      A tuple of ints.

    Example:
      >>> fnp.shape(fnp.ones((2, 3))), fnp.shape([[1, 2]]), fnp.shape(3.0)
      ((2, 3), (1, 2), ())
    """
    return _np.shape(a) if not hasattr(a, "shape") else tuple(a.shape)


def ndim(a):
    """The number of dimensions of an array, a scalar or a nested list, as jnp.ndim.

    Args:
      a: an array (anything with a `shape`), a scalar or a nested list.

    Returns:
      A Python int (0 for a scalar).
    """
    return len(shape(a))


def size(a, axis=None):
    """The number of elements of an array (along one axis, if given), as jnp.size.

    Args:
      a: an array (anything with a `shape`), a scalar or a nested list.
      axis: an axis (negative counts from the end), or None for all elements.

    Returns:
      A Python int.

    Raises:
      ValueError: for an axis out of bounds.

    Example:
      >>> fnp.size(fnp.ones((2, 3))), fnp.size(fnp.ones((2, 3)), axis=1)
      (6, 3)
    """
    s = shape(a)
    if axis is None:
        return int(_np.prod(s, dtype=_np.int64))
    return s[_normalize_axis(axis, len(s))]


__all__ = [
    "abs",
    "absolute",
    "add",
    "all",
    "allclose",
    "amax",
    "amin",
    "any",
    "arange",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argsort",
    "argwhere",
    "around",
    "array",
    "array_split",
    "asarray",
    "astype",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "bfloat16",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "bool",
    "bool_",
    "broadcast_arrays",
    "broadcast_shapes",
    "broadcast_to",
    "can_cast",
    "cbrt",
    "ceil",
    "clip",
    "column_stack",
    "concatenate",
    "convolve",
    "correlate",
    "cos",
    "cosh",
    "cumprod",
    "cumsum",
    "divide",
    "dot",
    "double",
    "dstack",
    "dtype",
    "e",
    "einsum",
    "empty",
    "empty_like",
    "equal",
    "exp",
    "exp2",
    "expand_dims",
    "expm1",
    "eye",
    "finfo",
    "flatnonzero",
    "flip",
    "fliplr",
    "flipud",
    "float16",
    "float32",
    "float64",
    "float_",
    "floating",
    "floor",
    "floor_divide",
    "fmod",
    "full",
    "full_like",
    "generic",
    "greater",
    "greater_equal",
    "half",
    "hstack",
    "identity",
    "iinfo",
    "inexact",
    "inf",
    "inner",
    "int8",
    "int16",
    "int32",
    "int64",
    "int_",
    "integer",
    "invert",
    "isclose",
    "isdtype",
    "isfinite",
    "isinf",
    "isnan",
    "issubdtype",
    "less",
    "less_equal",
    "linspace",
    "log",
    "log1p",
    "log2",
    "log10",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mod",
    "moveaxis",
    "multiply",
    "nan",
    "ndarray",
    "ndim",
    "negative",
    "newaxis",
    "nonzero",
    "not_equal",
    "number",
    "ones",
    "ones_like",
    "outer",
    "pad",
    "pi",
    "power",
    "prod",
    "promote_types",
    "ravel",
    "remainder",
    "repeat",
    "reshape",
    "result_type",
    "roll",
    "round",
    "rsqrt",
    "shape",
    "sign",
    "signedinteger",
    "sin",
    "single",
    "sinh",
    "size",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "subtract",
    "sum",
    "swapaxes",
    "take",
    "take_along_axis",
    "tan",
    "tanh",
    "tensordot",
    "tile",
    "transpose",
    "tri",
    "tril",
    "triu",
    "true_divide",
    "trunc",
    "uint",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "unsignedinteger",
    "var",
    "vdot",
    "vstack",
    "where",
    "zeros",
    "zeros_like",
]
