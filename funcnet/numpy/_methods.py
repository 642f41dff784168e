"""Operators and methods shared by funcnet.Array and every Tracer.

The binary operators take arrays and scalars; like jax's, they refuse Python lists and
tuples for `+`, `*`, `==` and `!=` (where a sequence would mean concatenation or
repetition to Python) and leave other unknown operands to the other type
(NotImplemented). The methods take NumPy's keywords, so NumPy's own functions on a
funcnet array (`np.sum(x)`, which calls `x.sum(axis=None, dtype=None, out=None)`) work.
"""

import numpy as np

from funcnet.core.array import Array
from funcnet.core.trace import Tracer
from funcnet.numpy import _complex, _core, _fast, _indexing, _products, _reductions, _shape
from funcnet.numpy._sorting import argsort, sort

_OPERAND_TYPES = (int, float, complex, np.generic, np.ndarray, Array, Tracer)
_SEQUENCES = (list, tuple)
_UNCOMPARABLE = (list, tuple, dict, set)


def _accepted(other) -> bool:
    if isinstance(other, _OPERAND_TYPES):
        return True
    # Other array types (a jax array, say) convert through __array__ / __jax_array__.
    cls = type(other)
    return (hasattr(cls, "__array__") or hasattr(cls, "__jax_array__")) and not issubclass(
        cls, (list, tuple, dict, set, str)
    )


def _unsupported(opchar, a, b):
    return TypeError(
        f"unsupported operand type(s) for {opchar}: {type(a).__name__!r} and {type(b).__name__!r}"
    )


_OPERATOR_DOC = """{expr}: fnp.{name}({args}).

Args:
  other: an array or a scalar.{refused}

Returns:
  fnp.{name}'s result; NotImplemented for an operand type funcnet does not know (so
  that Python asks the other operand).
"""


def _operator_doc(fn, opchar, refuse, reflected):
    refused = (
        f" A {' or '.join(t.__name__ for t in refuse)} raises TypeError, as in jax"
        "\n    (Python would otherwise concatenate, repeat or compare it)."
        if refuse
        else ""
    )
    return _OPERATOR_DOC.format(
        expr=f"other {opchar} self" if reflected else f"self {opchar} other",
        name=fn.__name__,
        args="other, self" if reflected else "self, other",
        refused=refused,
    )


def _binary(fn, opchar, refuse=()):
    """self (op) other: fn(self, other) for arrays and scalars; a TypeError for the types
    in `refuse` (as jax); NotImplemented for anything else."""

    def op(self, other):
        if _accepted(other):
            return fn(self, other)
        if type(other) in refuse:
            raise _unsupported(opchar, self, other)
        return NotImplemented

    op.__name__ = fn.__name__
    op.__doc__ = _operator_doc(fn, opchar, refuse, reflected=False)
    return op


def _reflected(fn, opchar, refuse=()):
    """other (op) self, for the __r*__ methods."""

    def op(self, other):
        if _accepted(other):
            return fn(other, self)
        if type(other) in refuse:
            raise _unsupported(opchar, other, self)
        return NotImplemented

    op.__name__ = "r" + fn.__name__
    op.__doc__ = _operator_doc(fn, opchar, refuse, reflected=True)
    return op


def _setitem(self, idx, value):
    """`x[idx] = value`, refused: funcnet arrays are immutable (as jax's).

    Args:
      idx: the index.
      value: the value.

    Returns:
      Never returns.

    Raises:
      TypeError: always, pointing to `x = x.at[idx].set(value)`.
    """
    raise TypeError(
        "funcnet arrays are immutable and do not support in-place item "
        "assignment (as JAX arrays). Instead of x[idx] = y, use "
        "x = x.at[idx].set(y) or another .at[] method (add, multiply, min, "
        "max)."
    )


def _reshape_method(self, *args, order="C", copy=None):
    """x with a new shape, as NumPy's method: x.reshape(2, 3) or x.reshape((2, 3)).

    Args:
      *args: the new shape, as ints or as one tuple (one entry may be -1).
      order: only "C" (others raise NotImplementedError).
      copy: accepted for NumPy compatibility (arrays are immutable).

    Returns:
      fnp.reshape(x, shape).
    """
    shape = args[0] if len(args) == 1 else args
    return _shape.reshape(self, shape, order=order)


def _transpose_method(self, *axes):
    """x with its axes permuted, as NumPy's method: x.transpose(1, 0),
    x.transpose((1, 0)) or x.transpose() (np.transpose passes None).

    Args:
      *axes: the permutation, as ints or as one tuple; none (or None) reverses the axes.

    Returns:
      fnp.transpose(x, axes).
    """
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return _shape.transpose(self, axes or None)


def _clip_method(self, min=None, max=None, out=None, **kwargs):
    """x limited to [min, max], as NumPy's method (np.clip(x, lo, hi) calls it).

    Args:
      min: the lower bound, or None.
      max: the upper bound, or None.
      out: only None (arrays are immutable); others raise NotImplementedError.
      **kwargs: fnp.clip's keywords (a_min, a_max).

    Returns:
      fnp.clip(x, min, max).
    """
    _core.check_no_out("clip", out)
    return _core.clip(self, min, max, **kwargs)


def _sort_method(self, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """x sorted along `axis`, as NumPy's method (a new array: x is unchanged).

    Args:
      axis: the axis to sort along; None sorts the flattened array.
      kind: as in fnp.sort.
      order: as in fnp.sort.
      stable: as in fnp.sort.
      descending: sort from largest to smallest.

    Returns:
      fnp.sort(x, axis, ...).
    """
    return sort(self, axis, kind=kind, order=order, stable=stable, descending=descending)


def _argsort_method(self, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """The indices that sort x along `axis`, as NumPy's method.

    Args:
      axis: the axis to sort along; None sorts the flattened array.
      kind: as in fnp.argsort.
      order: as in fnp.argsort.
      stable: as in fnp.argsort.
      descending: sort from largest to smallest.

    Returns:
      fnp.argsort(x, axis, ...).
    """
    return argsort(self, axis, kind=kind, order=order, stable=stable, descending=descending)


def _nonzero_method(self, *, size=None, fill_value=None):
    """The indices of x's nonzero elements, as NumPy's method.

    Args:
      size: the fixed number of indices (needed under jit), as in fnp.nonzero.
      fill_value: the padding index with `size`.

    Returns:
      fnp.nonzero(x, size=size, fill_value=fill_value): one int32 array per axis.
    """
    return _indexing.nonzero(self, size=size, fill_value=fill_value)


def _copy_method(self, order=None):
    """x itself: funcnet arrays are immutable, so a copy could never be told apart.

    Args:
      order: accepted for NumPy compatibility.

    Returns:
      x.
    """
    return self  # immutable: a copy could never be told apart


def _real(self):
    """x's real part, as fnp.real (x itself for a real dtype).

    Returns:
      fnp.real(x).
    """
    return _complex.real(self)


def _imag(self):
    """x's imaginary part, as fnp.imag (zeros for a real dtype).

    Returns:
      fnp.imag(x).
    """
    return _complex.imag(self)


def _conj(self):
    """x's complex conjugate, as fnp.conj (x itself for a real dtype).

    Returns:
      fnp.conj(x).
    """
    return _complex.conjugate(self)


_METHODS = {
    "__add__": _binary(_core.add, "+", _SEQUENCES),
    "__radd__": _reflected(_core.add, "+", _SEQUENCES),
    "__sub__": _binary(_core.subtract, "-"),
    "__rsub__": _reflected(_core.subtract, "-"),
    "__mul__": _binary(_core.multiply, "*", _SEQUENCES),
    "__rmul__": _reflected(_core.multiply, "*", _SEQUENCES),
    "__truediv__": _binary(_core.true_divide, "/"),
    "__rtruediv__": _reflected(_core.true_divide, "/"),
    "__floordiv__": _binary(_core.floor_divide, "//"),
    "__rfloordiv__": _reflected(_core.floor_divide, "//"),
    "__mod__": _binary(_core.remainder, "%"),
    "__rmod__": _reflected(_core.remainder, "%"),
    "__pow__": _binary(_core.power, "**"),
    "__rpow__": _reflected(_core.power, "**"),
    "__matmul__": _binary(_products.matmul, "@"),
    "__rmatmul__": _reflected(_products.matmul, "@"),
    "__and__": _binary(_core.bitwise_and, "&"),
    "__rand__": _reflected(_core.bitwise_and, "&"),
    "__or__": _binary(_core.bitwise_or, "|"),
    "__ror__": _reflected(_core.bitwise_or, "|"),
    "__xor__": _binary(_core.bitwise_xor, "^"),
    "__rxor__": _reflected(_core.bitwise_xor, "^"),
    "__lt__": _binary(_core.less, "<"),
    "__le__": _binary(_core.less_equal, "<="),
    "__gt__": _binary(_core.greater, ">"),
    "__ge__": _binary(_core.greater_equal, ">="),
    # jax refuses containers here: Python would otherwise answer a plain False/True.
    "__eq__": _binary(_core.equal, "==", _UNCOMPARABLE),
    "__ne__": _binary(_core.not_equal, "!=", _UNCOMPARABLE),
    "__neg__": _core.negative,
    "__pos__": lambda self: self,
    "__abs__": _core.absolute,
    "__invert__": _core.invert,
    "__getitem__": _indexing.getitem,
    "__setitem__": _setitem,
    "at": property(_indexing._IndexUpdateHelper),
    "T": property(lambda self: _shape.transpose(self)),
    "mT": property(lambda self: _shape.swapaxes(self, -1, -2)),
    "real": property(_real),
    "imag": property(_imag),
    "nbytes": property(lambda self: self.size * self.dtype.itemsize),
    "itemsize": property(lambda self: self.dtype.itemsize),
    "astype": _core.astype,
    "reshape": _reshape_method,
    "transpose": _transpose_method,
    "ravel": _shape.ravel,
    "flatten": _shape.ravel,
    "squeeze": _shape.squeeze,
    "swapaxes": _shape.swapaxes,
    "sum": _reductions.sum,
    "mean": _reductions.mean,
    "prod": _reductions.prod,
    "max": _reductions.max,
    "min": _reductions.min,
    "var": _reductions.var,
    "std": _reductions.std,
    "argmax": _reductions.argmax,
    "argmin": _reductions.argmin,
    "any": _reductions.any,
    "all": _reductions.all,
    "cumsum": _reductions.cumsum,
    "cumprod": _reductions.cumprod,
    "clip": _clip_method,
    "round": _core.round,
    "dot": _products.dot,
    "take": _indexing.take,
    "repeat": _indexing.repeat,
    "sort": _sort_method,
    "argsort": _argsort_method,
    "nonzero": _nonzero_method,
    "copy": _copy_method,
    "conj": _conj,
    "conjugate": _conj,
}


# On Array only (a tracer never takes them): the operators with funcnet.numpy's
# per-signature fast path in front of the general method (numpy/_fast.py).
_FAST_BINARY = {
    "add": _core.add,
    "sub": _core.subtract,
    "mul": _core.multiply,
    "truediv": _core.true_divide,
    "matmul": _products.matmul_fast,
}
_ARRAY_METHODS = {
    **{f"__{name}__": fn.operator(_METHODS[f"__{name}__"]) for name, fn in _FAST_BINARY.items()},
    **{f"__r{name}__": fn.reflected(_METHODS[f"__r{name}__"]) for name, fn in _FAST_BINARY.items()},
    "__getitem__": _fast.getitem(_indexing.getitem),
}


def install():
    for cls in (Array, Tracer):
        for name, fn in _METHODS.items():
            setattr(cls, name, fn)
    for name, fn in _ARRAY_METHODS.items():
        setattr(Array, name, fn)
    # Comparisons return arrays, so these classes are unhashable, like NumPy arrays.
    Array.__hash__ = None
