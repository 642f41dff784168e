"""funcnet.numpy: the NumPy surface a deep-learning user needs, built on funcnet's
primitives (import it as `fnp`). Works eagerly and under every transformation."""

import builtins as _builtins

import numpy as _np

from funcnet.core.array import Array as ndarray  # noqa: F401  (for isinstance checks)
from funcnet.core.dtypes import (  # noqa: F401
    bfloat16,
    bool_,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from funcnet.numpy import _methods
from funcnet.numpy._core import (  # noqa: F401
    abs,
    absolute,
    add,
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
from funcnet.numpy._indexing import take, take_along_axis  # noqa: F401
from funcnet.numpy._linalg import dot, einsum, inner, matmul, outer, tensordot, vdot  # noqa: F401
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
    concatenate,
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

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None


def shape(x):
    return asarray(x).shape


def ndim(x):
    return asarray(x).ndim


def size(x):
    return asarray(x).size


def allclose(a, b, rtol=1e-5, atol=1e-8):
    """Concrete comparison on the host (not traceable)."""
    return bool(_np.allclose(_np.asarray(a), _np.asarray(b), rtol=rtol, atol=atol))


def sort(x, axis=-1):
    from funcnet import lax
    x = asarray(x)
    if axis is None:
        x, axis = ravel(x), 0
    return lax.sort(x, dimension=axis % _builtins.max(x.ndim, 1))


def argsort(x, axis=-1):
    from funcnet import lax
    x = asarray(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = axis % _builtins.max(x.ndim, 1)
    idx = lax.broadcasted_iota(int32, x.shape, axis)
    return lax.sort((x, idx), dimension=axis, num_keys=1)[1]
