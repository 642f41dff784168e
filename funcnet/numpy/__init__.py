"""funcnet.numpy: the NumPy surface a deep-learning user needs, built on funcnet's
primitives (import it as `fnp`). Works eagerly and under every transformation.

Signatures follow jax.numpy's (parameter names, keyword use, `out=None`), and so do its
refusals (Python lists where jax.numpy wants arrays raise TypeError).
"""

import builtins as _builtins

import numpy as _np

from funcnet.core.array import Array as _Array
from funcnet.core.trace import Tracer as _Tracer
from funcnet.numpy import _methods
from funcnet.numpy._core import (  # noqa: F401
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
    where,
)
from funcnet.numpy._creation import (  # noqa: F401
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
from funcnet.numpy._dtypes import (  # noqa: F401
    bfloat16,
    bool,
    bool_,
    can_cast,
    double,
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
from funcnet.numpy._indexing import (  # noqa: F401
    argwhere,
    flatnonzero,
    nonzero,
    take,
    take_along_axis,
)
from funcnet.numpy._linalg import (  # noqa: F401
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
from funcnet.numpy._reductions import (  # noqa: F401
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
from funcnet.numpy._shape import (  # noqa: F401
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
    pad,
    ravel,
    repeat,
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

_methods.install()


class _ArrayType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, (_Array, _Tracer))


class ndarray(metaclass=_ArrayType):
    """The type of funcnet arrays for isinstance checks: true for a funcnet Array and for
    a traced value under a transformation (as jnp.ndarray)."""



dtype = _np.dtype  # as jnp.dtype (after the functions whose parameter is named dtype)
pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None


def shape(a):
    """The shape of an array (or of a scalar or a nested list)."""
    return _np.shape(a) if not hasattr(a, "shape") else tuple(a.shape)


def ndim(a):
    """The number of dimensions of an array (or of a scalar or a nested list)."""
    return len(shape(a))


def size(a, axis=None):
    """The number of elements (along `axis`, if given)."""
    s = shape(a)
    if axis is None:
        return int(_np.prod(s, dtype=_np.int64))
    return s[_core_normalize_axis(axis, len(s))]


def _core_normalize_axis(axis, n):
    from funcnet.numpy._shape import normalize_axis
    return normalize_axis(axis, n)


def _check_sort_args(name, kind, order):
    if order is not None:
        raise ValueError(f"'order' argument to {name} is not supported.")
    del kind  # every sort here is stable; the algorithm is XLA's


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """a sorted along `axis` (the flattened array when None), as jnp.sort (stable; NaNs
    last; descending=True reverses the order, keeping equal elements stable)."""
    from funcnet import lax
    from funcnet.numpy._core import check_arraylike
    check_arraylike("sort", a)
    _check_sort_args("sort", kind, order)
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = axis % _builtins.max(x.ndim, 1)
    if descending:
        return flip(lax.sort(flip(x, axis), dimension=axis), axis)
    return lax.sort(x, dimension=axis)


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False,
            dtype=None):
    """The indices that sort a along `axis`, as jnp.argsort (stable: equal elements keep
    their order, also with descending=True); `dtype` is the indices' (default int32)."""
    from funcnet import lax
    from funcnet.numpy._core import check_arraylike
    check_arraylike("argsort", a)
    _check_sort_args("argsort", kind, order)
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = axis % _builtins.max(x.ndim, 1)
    if descending:
        n = x.shape[axis] if x.ndim else 1
        flipped = argsort(flip(x, axis), axis)
        out = flip(lax.sub(lax.broadcast_in_dim(_np.int32(n - 1), flipped.shape, ()),
                           flipped), axis)
    else:
        idx = lax.broadcasted_iota(int32.dtype, x.shape, axis)
        out = lax.sort((x, idx), dimension=axis, num_keys=1)[1]
    return out if dtype is None else astype(out, dtype)
