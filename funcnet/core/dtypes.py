"""dtypes: canonicalization (x64 flag), NumPy-style promotion with weak Python scalars.

Promotion follows jax's type lattice, so that ``int8 + uint8 -> int16`` and a
Python float with a bfloat16 array stays bfloat16. A *weak* type comes from a
Python scalar: it takes the other operand's dtype whenever that is of the
same kind or a higher one.
"""

import functools

import ml_dtypes
import numpy as np

from funcnet.config import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

SUPPORTED = (
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

_SUPPORTED_SET = frozenset(SUPPORTED)
_NARROW = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}


_FLOATS = frozenset((bfloat16, float16, float32, float64))


def is_float(dtype) -> bool:
    if dtype in _FLOATS:  # the common case, without np.issubdtype's cost
        return True
    dtype = np.dtype(dtype)
    return dtype == bfloat16 or np.issubdtype(dtype, np.floating)


_COMPLEX = frozenset((complex64, complex128))


def is_complex(dtype) -> bool:
    return np.dtype(dtype) in _COMPLEX


def is_inexact(dtype) -> bool:
    """Floating point or complex: the dtypes that can be differentiated."""
    return dtype in _FLOATS or dtype in _COMPLEX or is_float(dtype) or is_complex(dtype)


def real_dtype(dtype) -> np.dtype:
    """The real dtype of a complex one (complex64 -> float32); other dtypes as they are."""
    dtype = np.dtype(dtype)
    return {complex64: float32, complex128: float64}.get(dtype, dtype)


def complex_dtype(dtype) -> np.dtype:
    """The complex dtype with `dtype`'s precision (float64 -> complex128, others
    complex64); complex dtypes as they are."""
    dtype = np.dtype(dtype)
    if is_complex(dtype):
        return dtype
    return complex128 if dtype == float64 else complex64


def is_int(dtype) -> bool:
    return np.issubdtype(np.dtype(dtype), np.integer)


def is_unsigned(dtype) -> bool:
    return np.issubdtype(np.dtype(dtype), np.unsignedinteger)


def is_bool(dtype) -> bool:
    return np.dtype(dtype) == bool_


def canonicalize(dtype) -> np.dtype:
    """The dtype funcnet really uses for a request: 64-bit ones narrow unless x64 is on."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{dtype!r} is not a dtype funcnet understands") from e
    if dtype not in _SUPPORTED_SET:
        raise TypeError(
            f"dtype {dtype} is not supported by funcnet; use one of "
            + ", ".join(str(d) for d in SUPPORTED)
        )
    if not config.enable_x64:
        dtype = _NARROW.get(dtype, dtype)
    return dtype


def default_float() -> np.dtype:
    return canonicalize(float64)


def default_complex() -> np.dtype:
    return canonicalize(complex128)


def default_int() -> np.dtype:
    return canonicalize(int64)


def scalar_dtype(x) -> np.dtype:
    """The (weak) dtype of a Python scalar."""
    if isinstance(x, (bool, np.bool_)):
        return bool_
    if isinstance(x, int):
        return default_int()
    if isinstance(x, float):
        return default_float()
    if isinstance(x, complex):
        return default_complex()
    raise TypeError(f"{type(x).__name__} is not a scalar")


def is_python_scalar(x) -> bool:
    return isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)


def is_weak_scalar(x) -> bool:
    """Python ints, floats and complex numbers are weakly typed; a Python bool is a plain
    bool (as jax)."""
    return not isinstance(x, (bool, np.bool_))


# --- the promotion lattice -----------------------------------------------------
# Nodes are dtypes plus the three weak kinds "i*" (Python int), "f*" (Python float)
# and "c*" (Python complex), as jax's lattice.
_I, _F, _C = "i*", "f*", "c*"
_EDGES = {
    bool_: [_I],
    _I: [uint8, int8],
    uint8: [int16, uint16],
    uint16: [int32, uint32],
    uint32: [int64, uint64],
    uint64: [_F],
    int8: [int16],
    int16: [int32],
    int32: [int64],
    int64: [_F],
    _F: [bfloat16, float16, _C],
    bfloat16: [float32],
    float16: [float32],
    float32: [float64, complex64],
    float64: [complex128],
    _C: [complex64],
    complex64: [complex128],
    complex128: [],
}


@functools.cache
def _upper_set(node):
    ups = {node}
    for nxt in _EDGES[node]:
        ups |= _upper_set(nxt)
    return frozenset(ups)


def _node(dtype, weak):
    if weak and dtype != bool_:
        return _I if is_int(dtype) else _C if is_complex(dtype) else _F
    return dtype


@functools.cache
def _join(a, b):
    common = _upper_set(a) & _upper_set(b)
    # The least upper bound is the common node whose upper set holds all the others.
    for n in common:
        if _upper_set(n) >= common:
            return n
    raise TypeError(f"no common dtype for {a} and {b}")  # unreachable for this lattice


def result_type(*typed) -> tuple[np.dtype, bool]:
    """Promote ``(dtype, weak_type)`` pairs; returns the result's ``(dtype, weak_type)``."""
    try:  # every eager op promotes: remember the answers (few distinct questions)
        return _result_type_cached(typed, config.enable_x64)
    except TypeError:  # an unhashable dtype-like: answer without the cache
        return _result_type(typed)


@functools.lru_cache(maxsize=4096)
def _result_type_cached(typed, x64):
    return _result_type(typed)


def _result_type(typed):
    nodes = [_node(np.dtype(d), w) for d, w in typed]
    out = functools.reduce(_join, nodes)
    if out == _I:
        return default_int(), True
    if out == _F:
        return default_float(), True
    if out == _C:
        return default_complex(), True
    # A 64-bit result of mixing (say uint32 with int32) narrows in 32-bit mode.
    return canonicalize(out), False


def short_name(dtype) -> str:
    """'f32', 'bf16', 'i32', 'u8', 'bool' for printing programs."""
    dtype = np.dtype(dtype)
    if dtype == bool_:
        return "bool"
    if dtype == bfloat16:
        return "bf16"
    return {"f": "f", "i": "i", "u": "u", "c": "c"}[dtype.kind] + str(8 * dtype.itemsize)
