"""Operators and methods shared by funcnet.Array and every Tracer."""

from funcnet.core.array import Array
from funcnet.core.trace import Tracer
from funcnet.numpy import _core, _indexing, _linalg, _reductions, _shape


def _swap(fn):
    return lambda self, other: fn(other, self)


def _reshape_method(self, *shape, order="C"):
    return _shape.reshape(self, *shape, order=order)


def _transpose_method(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return _shape.transpose(self, axes or None)


_METHODS = {
    "__add__": _core.add, "__radd__": _swap(_core.add),
    "__sub__": _core.subtract, "__rsub__": _swap(_core.subtract),
    "__mul__": _core.multiply, "__rmul__": _swap(_core.multiply),
    "__truediv__": _core.true_divide, "__rtruediv__": _swap(_core.true_divide),
    "__floordiv__": _core.floor_divide, "__rfloordiv__": _swap(_core.floor_divide),
    "__mod__": _core.remainder, "__rmod__": _swap(_core.remainder),
    "__pow__": _core.power, "__rpow__": _swap(_core.power),
    "__matmul__": _linalg.matmul, "__rmatmul__": _swap(_linalg.matmul),
    "__and__": _core.bitwise_and, "__rand__": _swap(_core.bitwise_and),
    "__or__": _core.bitwise_or, "__ror__": _swap(_core.bitwise_or),
    "__xor__": _core.bitwise_xor, "__rxor__": _swap(_core.bitwise_xor),
    "__lt__": _core.less, "__le__": _core.less_equal,
    "__gt__": _core.greater, "__ge__": _core.greater_equal,
    "__eq__": _core.equal, "__ne__": _core.not_equal,
    "__neg__": _core.negative, "__pos__": lambda self: self,
    "__abs__": _core.absolute, "__invert__": _core.invert,
    "__getitem__": _indexing.getitem,
    "at": property(_indexing._IndexUpdateHelper),
    "T": property(lambda self: _shape.transpose(self)),
    "mT": property(lambda self: _shape.swapaxes(self, -1, -2)),
    "astype": _core.astype,
    "reshape": _reshape_method,
    "transpose": _transpose_method,
    "ravel": _shape.ravel, "flatten": _shape.ravel,
    "squeeze": _shape.squeeze, "swapaxes": _shape.swapaxes,
    "sum": _reductions.sum, "mean": _reductions.mean, "prod": _reductions.prod,
    "max": _reductions.max, "min": _reductions.min, "var": _reductions.var,
    "std": _reductions.std, "argmax": _reductions.argmax, "argmin": _reductions.argmin,
    "any": _reductions.any, "all": _reductions.all, "cumsum": _reductions.cumsum,
    "cumprod": _reductions.cumprod,
    "clip": _core.clip, "round": _core.round, "dot": _linalg.dot,
    "take": _indexing.take, "repeat": _shape.repeat,
}


def install():
    for cls in (Array, Tracer):
        for name, fn in _METHODS.items():
            setattr(cls, name, fn)
    # Comparisons return arrays, so these classes are unhashable, like NumPy arrays.
    Array.__hash__ = None
