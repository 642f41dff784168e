"""Dtype names as callable scalar types (`fnp.float32(3.0)`), and the dtype helpers a
NumPy/jax user reaches for: dtype, issubdtype, finfo, iinfo, promote_types, can_cast.

As in jax, `fnp.float32` is a class whose instances are never made: calling it builds a
0-d (or n-d) funcnet Array of that dtype. It compares and hashes like NumPy's scalar type
(`np.float32`), so it works wherever a dtype is accepted (`np.dtype(fnp.float32)`,
`x.dtype == fnp.float32`, `fnp.zeros(3, fnp.float32)`, `x.astype(fnp.int8)`).
"""

import builtins

import ml_dtypes
import numpy as np

from funcnet.core import dtypes as _dtypes
from funcnet.numpy._core import asarray

# NumPy's abstract scalar classes, for issubdtype (jax re-exports NumPy's, too).
dtype = np.dtype
generic = np.generic
number = np.number
inexact = np.inexact
floating = np.floating
complexfloating = np.complexfloating
integer = np.integer
signedinteger = np.signedinteger
unsignedinteger = np.unsignedinteger


class _ScalarMeta(type):
    """The metaclass of fnp.float32 & co.: a dtype that can be called like a type."""

    dtype: np.dtype

    @property
    def __numpy_dtype__(cls) -> np.dtype:  # NumPy >= 2.4 reads dtype-likes through this
        return cls.dtype

    def __hash__(cls) -> int:
        return hash(cls.dtype.type)

    def __eq__(cls, other) -> bool:
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other) -> bool:
        return not cls == other

    def __call__(cls, x):
        return asarray(x, dtype=cls.dtype)

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, cls.dtype.type)

    def __repr__(cls) -> str:
        return f"<class 'funcnet.numpy.{cls.__name__}'>"


_SCALAR_TYPE_DOC = """The {fnp_name} scalar type, as jnp.{fnp_name}: calling it makes a funcnet
array of dtype {name} (funcnet has no scalar objects: a scalar is a 0-d array).

It compares and hashes like {mirror}, so it works wherever a dtype is accepted
(`fnp.zeros(3, fnp.{fnp_name})`, `x.astype(fnp.{fnp_name})`,
`x.dtype == fnp.{fnp_name}`), and isinstance(v, fnp.{fnp_name}) is true for NumPy
scalars of that type.

Args:
  x: a scalar, an array, or a (nested) list of them.

Returns:
  fnp.asarray(x, dtype={name}): an array of x's shape and dtype {name}{narrowed}.

Example:
  >>> fnp.{fnp_name}([0, 1]).tolist()
  {example}
"""
# 64-bit types narrow to these unless x64 is enabled (funcnet.core.dtypes.canonicalize).
_NARROWED = {
    "int64": "int32",
    "uint64": "uint32",
    "float64": "float32",
    "complex128": "complex64",
}


def _scalar_type_doc(dtype: np.dtype, fnp_name: str) -> str:
    kind_example = {"b": "[False, True]", "i": "[0, 1]", "u": "[0, 1]", "c": "[0j, (1+0j)]"}
    narrowed = _NARROWED.get(dtype.name)
    return _SCALAR_TYPE_DOC.format(
        fnp_name=fnp_name,
        name=dtype.name,
        mirror="ml_dtypes.bfloat16" if dtype.name == "bfloat16" else f"np.{fnp_name}",
        narrowed=f" ({narrowed} unless x64 is enabled)" if narrowed else "",
        example=kind_example.get(dtype.kind, "[0.0, 1.0]"),
    )


def _scalar_type(np_type) -> _ScalarMeta:
    name = np.dtype(np_type).name
    cls = _ScalarMeta(name if name != "bool" else "bool_", (object,), {"dtype": np.dtype(np_type)})
    cls.__module__ = "funcnet.numpy"
    cls.__doc__ = _scalar_type_doc(np.dtype(np_type), cls.__name__)
    return cls


bool_ = _scalar_type(np.bool_)
int8 = _scalar_type(np.int8)
int16 = _scalar_type(np.int16)
int32 = _scalar_type(np.int32)
int64 = _scalar_type(np.int64)
uint8 = _scalar_type(np.uint8)
uint16 = _scalar_type(np.uint16)
uint32 = _scalar_type(np.uint32)
uint64 = _scalar_type(np.uint64)
bfloat16 = _scalar_type(ml_dtypes.bfloat16)
float16 = _scalar_type(np.float16)
float32 = _scalar_type(np.float32)
float64 = _scalar_type(np.float64)
complex64 = _scalar_type(np.complex64)
complex128 = _scalar_type(np.complex128)
# NumPy's and jax's aliases.
bool = bool_  # fnp.bool, as jnp.bool
single, double, half = float32, float64, float16
int_, uint, float_ = int64, uint64, float64
complex_, csingle, cdouble = complex128, complex64, complex128

SCALAR_TYPES = (
    bool_,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    bfloat16,
    float16,
    float32,
    float64,
    complex64,
    complex128,
)


def _as_np_dtype(x) -> np.dtype:
    """A NumPy dtype for a dtype-like or for an array-like's dtype (not canonicalized)."""
    if isinstance(x, np.dtype):
        return x
    if hasattr(x, "dtype") and not isinstance(x, type):
        return np.dtype(x.dtype)
    if isinstance(x, (builtins.bool, int, float, complex)):  # a Python value: its type
        return np.dtype(type(x))
    return np.dtype(x)


# ml_dtypes' floats (bfloat16) are not subclasses of np.floating; place them by hand.
_ML_FLOATS = frozenset({np.dtype(ml_dtypes.bfloat16)})
_FLOAT_PARENTS = (np.floating, np.inexact, np.number, np.generic)


def _is_abstract(x) -> builtins.bool:
    return (
        isinstance(x, type)
        and not isinstance(x, _ScalarMeta)
        and issubclass(x, np.generic)
        and x
        in (
            np.generic,
            np.number,
            np.inexact,
            np.floating,
            np.integer,
            np.signedinteger,
            np.unsignedinteger,
            np.complexfloating,
            np.bool_,
        )
    )


def issubdtype(arg1, arg2) -> builtins.bool:
    """Whether `arg1` is `arg2` or below it in NumPy's type hierarchy, as
    jnp.issubdtype (which, unlike NumPy's, counts bfloat16 as a floating type).

    Args:
      arg1: a dtype, a scalar type, a dtype name or an array (its dtype).
      arg2: the same, or an abstract type such as fnp.floating, fnp.integer,
        fnp.signedinteger, fnp.number.

    Returns:
      A Python bool.

    Example:
      >>> fnp.issubdtype(fnp.bfloat16, fnp.floating)
      True
      >>> fnp.issubdtype(fnp.ones(2).dtype, fnp.integer)
      False
    """
    a = arg1 if _is_abstract(arg1) else _as_np_dtype(arg1)
    b = arg2 if _is_abstract(arg2) else _as_np_dtype(arg2)
    if isinstance(a, np.dtype) and a in _ML_FLOATS:
        return b in _FLOAT_PARENTS if isinstance(b, type) else a == b
    if isinstance(b, np.dtype) and b in _ML_FLOATS:
        return a == b
    return np.issubdtype(a, b)


def isdtype(dtype, kind) -> builtins.bool:
    """Whether `dtype` is of the kind `kind`, the array API's test, as jnp.isdtype.

    Args:
      dtype: a dtype, a scalar type or an array (its dtype).
      kind: a dtype (an exact match), a kind name ('bool', 'signed integer',
        'unsigned integer', 'integral', 'real floating', 'complex floating',
        'numeric') or a tuple of those (any matches).

    Returns:
      A Python bool.

    Raises:
      ValueError: for an unknown kind name.

    Example:
      >>> fnp.isdtype(fnp.float32, "real floating")
      True
      >>> fnp.isdtype(fnp.int8, ("bool", "unsigned integer"))
      False
    """
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    d = _as_np_dtype(dtype)
    names = {
        "bool": lambda: d == np.bool_,
        "signed integer": lambda: issubdtype(d, np.signedinteger),
        "unsigned integer": lambda: issubdtype(d, np.unsignedinteger),
        "integral": lambda: issubdtype(d, np.integer),
        "real floating": lambda: issubdtype(d, np.floating),
        "complex floating": lambda: issubdtype(d, np.complexfloating),
        "numeric": lambda: issubdtype(d, np.number),
    }
    if isinstance(kind, str):
        if kind not in names:
            raise ValueError(
                f"isdtype: unknown kind {kind!r}; expected one of {', '.join(map(repr, names))}"
            )
        return names[kind]()
    return d == _as_np_dtype(kind)


def finfo(dtype):
    """The machine limits of a floating dtype (bfloat16 included), as jnp.finfo; for a
    complex dtype, those of its real parts (complex64: float32's).

    Args:
      dtype: a floating or complex dtype, scalar type or array.

    Returns:
      An ml_dtypes.finfo (NumPy's finfo fields: eps, max, min, tiny, bits, ...).

    Example:
      >>> float(fnp.finfo(fnp.bfloat16).eps)
      0.0078125
    """
    return ml_dtypes.finfo(_as_np_dtype(dtype))


def iinfo(int_type):
    """The machine limits of an integer dtype, as jnp.iinfo.

    Args:
      int_type: an integer dtype, scalar type or array.

    Returns:
      An ml_dtypes.iinfo (NumPy's iinfo fields: min, max, bits).

    Example:
      >>> fnp.iinfo(fnp.int8).min
      -128
    """
    return ml_dtypes.iinfo(_as_np_dtype(int_type))


def promote_types(a, b) -> np.dtype:
    """The dtype a and b promote to, both strongly typed, on jax's type lattice, as
    jnp.promote_types.

    Args:
      a: a dtype, a scalar type, a dtype name or an array (its dtype).
      b: the same.

    Returns:
      A NumPy dtype (64-bit ones narrow to 32 bits unless x64 is enabled).

    Example:
      >>> fnp.promote_types(fnp.int8, fnp.uint8)
      dtype('int16')
      >>> fnp.promote_types(fnp.bfloat16, fnp.float16)
      dtype('float32')
    """
    return _dtypes.result_type((_as_np_dtype(a), False), (_as_np_dtype(b), False))[0]


def can_cast(from_, to, casting="safe") -> builtins.bool:
    """Whether a cast from `from_` to `to` is allowed under the `casting` rule, as
    np.can_cast (NumPy's rules, not jax's lattice).

    Args:
      from_: a dtype, a scalar type, a dtype name, an array (its dtype) or a Python
        scalar (its type).
      to: the target dtype.
      casting: 'no', 'equiv', 'safe', 'same_kind' or 'unsafe'.

    Returns:
      A Python bool.

    Example:
      >>> fnp.can_cast(fnp.int8, fnp.int32), fnp.can_cast(fnp.float32, fnp.int32)
      (True, False)
    """
    return np.can_cast(_as_np_dtype(from_), _as_np_dtype(to), casting)
