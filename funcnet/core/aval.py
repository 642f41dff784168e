"""Abstract values: what tracing knows about an array (shape, dtype, weak type)."""

import numpy as np

from funcnet.core import dtypes


class ShapedArray:
    """An abstract array: shape, dtype and weak type, without values, as
    `jax.core.ShapedArray`.

    It is what tracing knows about a value (`Array.aval`, `fn.typeof(x)`, a tracer's
    type inside jit/grad/vmap) and what `make_jaxpr(..., return_shape=True)` returns.
    `eval_shape` accepts it in place of an array. Treated as immutable: its hash is
    computed once, since avals key every cache on the dispatch path (jit signatures,
    eager ops).

    Args:
      shape: a sequence of ints.
      dtype: anything `np.dtype` accepts (used as given, not canonicalized).
      weak_type: whether it is weakly typed (a Python scalar's type).

    Attributes:
      shape: a tuple of ints.
      dtype: a NumPy dtype.
      weak_type: a bool.
      ndim, size: the number of dimensions and of elements.

    Example:
      >>> a = fn.ShapedArray((2, 3), np.float32)
      >>> a, a.size, a.str_short()
      (ShapedArray(f32[2,3]), 6, 'f32[2,3]')
      >>> fn.eval_shape(lambda x: x.T, a)
      ShapeDtypeStruct(shape=(3, 2), dtype=float32)
    """

    __slots__ = ("_hash", "dtype", "shape", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = None

    ndim = property(lambda self: len(self.shape), doc="The number of dimensions.")
    size = property(
        lambda self: int(np.prod(self.shape, dtype=np.int64)), doc="The number of elements."
    )

    def update(self, shape=None, dtype=None, weak_type=None):
        """A copy with some fields replaced.

        Args:
          shape: the new shape, or None to keep this one's.
          dtype: the new dtype, or None to keep this one's.
          weak_type: the new weak type, or None to keep this one's.

        Returns:
          A new `ShapedArray`.
        """
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def strip_weak_type(self):
        """This aval with `weak_type=False`.

        Returns:
          A `ShapedArray` (`self` when it is not weakly typed).
        """
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
        """The short form used in printed programs and messages.

        Returns:
          A str such as `'f32[2,3]'`.
        """
        dims = ",".join(map(str, self.shape))
        return f"{dtypes.short_name(self.dtype)}[{dims}]"

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"


def shaped_abstractify(x) -> ShapedArray:
    """The aval of a concrete value (funcnet internal; `fn.typeof` is the public form).

    Args:
      x: a funcnet Array (or anything with a `ShapedArray` `.aval`, such as a
        `ShapeDtypeStruct`), a NumPy array or scalar, a Python scalar, a jax array, or a
        `ShapedArray` itself (so that eval_shape takes shapes as jax's takes
        ShapeDtypeStructs).

    Returns:
      A `ShapedArray`; NumPy dtypes are canonicalized (64-bit narrowed unless x64 is
      on) and Python scalars are weakly typed.

    Raises:
      TypeError: `x` is not an array or scalar.
    """
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
