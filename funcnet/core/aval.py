"""Abstract values: what tracing knows about an array (shape, dtype, weak type)."""

import numpy as np

from funcnet.core import dtypes


class ShapedArray:
    """Shape, dtype and weak type. Treated as immutable: its hash is computed once,
    since avals key every cache on the dispatch path (jit signatures, eager ops)."""

    __slots__ = ("_hash", "dtype", "shape", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = None

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def update(self, shape=None, dtype=None, weak_type=None):
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def strip_weak_type(self):
        return self.update(weak_type=False) if self.weak_type else self

    def _key(self):
        return (self.shape, self.dtype, self.weak_type)

    def __eq__(self, other):
        return self is other or (isinstance(other, ShapedArray) and self._key() == other._key())

    def __hash__(self):
        h = self._hash
        if h is None:
            h = self._hash = hash(self._key())
        return h

    def __getstate__(self):  # the cached hash is per process (str hashes are salted)
        return (self.shape, self.dtype, self.weak_type)

    def __setstate__(self, state):
        self.shape, self.dtype, self.weak_type = state
        self._hash = None

    def str_short(self):
        dims = ",".join(map(str, self.shape))
        return f"{dtypes.short_name(self.dtype)}[{dims}]"

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"


def shaped_abstractify(x) -> ShapedArray:
    """The aval of a concrete value: a funcnet Array, a NumPy array, or a Python scalar
    (or of a ShapedArray itself, so that eval_shape takes shapes as jax's takes
    ShapeDtypeStructs)."""
    if isinstance(x, ShapedArray):
        return x
    aval = getattr(x, "aval", None)
    if isinstance(aval, ShapedArray):
        return aval
    if dtypes.is_python_scalar(x):
        return ShapedArray((), dtypes.scalar_dtype(x), weak_type=dtypes.is_weak_scalar(x))
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, dtypes.canonicalize(x.dtype))
    if hasattr(x, "__jax_array__") or type(x).__module__.startswith(("jax", "jaxlib")):
        return ShapedArray(x.shape, dtypes.canonicalize(x.dtype))
    raise TypeError(f"value of type {type(x).__name__} is not an array: {x!r:.80}")
