"""Vectorizing Python functions, as jax.numpy does: vectorize (NumPy's generalized
ufunc signatures, on funcnet's vmap), apply_along_axis, apply_over_axes, frompyfunc and
the ufunc class (a Python function with NumPy's ufunc methods)."""

import functools
import re

import numpy as np

from funcnet import lax
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import asarray, broadcast_shapes, broadcast_to, check_arraylike
from funcnet.numpy._shape import concatenate, expand_dims, moveaxis, normalize_axis, stack
from funcnet.transforms.vmap import vmap

_DIMENSION_NAME = r"\w+"
_CORE_DIMENSION_LIST = f"(?:{_DIMENSION_NAME}(?:,{_DIMENSION_NAME})*)?"
_ARGUMENT = rf"\({_CORE_DIMENSION_LIST}\)"
_ARGUMENT_LIST = f"{_ARGUMENT}(?:,{_ARGUMENT})*"
_SIGNATURE = f"^{_ARGUMENT_LIST}->{_ARGUMENT_LIST}$"


def _parse_signature(signature):
    signature = signature.replace(" ", "")
    if not re.match(_SIGNATURE, signature):
        raise ValueError(f"not a valid gufunc signature: {signature}")
    args, retvals = signature.split("->")

    def parse(part):
        return [tuple(re.findall(_DIMENSION_NAME, arg)) for arg in re.findall(_ARGUMENT, part)]

    return parse(args), parse(retvals)


def _core_sizes(args, input_core_dims):
    sizes = {}
    for arg, core in zip(args, input_core_dims):
        if len(core) > arg.ndim:
            raise ValueError(
                f"input with shape {arg.shape} does not have enough dimensions for all "
                f"core dimensions {core}"
            )
        for dim, size in zip(core, arg.shape[arg.ndim - len(core) :] if core else ()):
            if sizes.setdefault(dim, size) != size:
                raise ValueError(
                    f"inconsistent size for core dimension {dim!r}: {size} vs {sizes[dim]}"
                )
    return sizes


def vectorize(pyfunc, *, excluded=frozenset(), signature=None):
    """pyfunc, written for scalars (or for the core shapes of `signature`), mapped over
    any leading axes of its arguments with vmap, as jnp.vectorize.

    Args:
      pyfunc: a function of arrays.
      excluded: positions (ints) or names (strs) of arguments passed through as they
        are.
      signature: a generalized-ufunc signature such as '(n),(n)->()' giving the core
        dimensions each argument and result keeps (default: all scalars).

    Returns:
      The vectorized function: its array arguments broadcast over their leading
      (loop) dimensions.

    Example:
      >>> f = fnp.vectorize(lambda a, b: fnp.sum(a * b), signature="(n),(n)->()")
      >>> f(fnp.ones((3, 2)), fnp.ones(2)).tolist()
      [2.0, 2.0, 2.0]
    """
    if any(not isinstance(e, (int, str)) for e in excluded):
        raise TypeError(
            f"jax.numpy.vectorize can only exclude integer or string arguments, got {excluded}"
        )
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f"excluded={excluded!r} contains negative numbers")

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        excluded_kw = {k: v for k, v in kwargs.items() if k in excluded}
        mapped_kw = {k: v for k, v in kwargs.items() if k not in excluded}
        kw_names = list(mapped_kw)
        positions = [i for i in range(len(args)) if i not in excluded]
        fixed = {i: args[i] for i in range(len(args)) if i in excluded}
        arrays = [asarray(args[i]) for i in positions] + [asarray(mapped_kw[k]) for k in kw_names]

        def call(*arrs):
            full = dict(fixed)
            for i, a in zip(positions, arrs[: len(positions)]):
                full[i] = a
            kw = dict(zip(kw_names, arrs[len(positions) :]))
            return pyfunc(*(full[i] for i in range(len(args))), **kw, **excluded_kw)

        if signature is None:
            input_core = [()] * len(arrays)
            output_core = None
        else:
            input_core, output_core = _parse_signature(signature)
            if len(input_core) != len(arrays):
                raise TypeError(
                    f"wrong number of positional arguments: expected {len(input_core)}, got "
                    f"{len(arrays)}"
                )
        sizes = _core_sizes(arrays, input_core)
        loop_shapes = [a.shape[: a.ndim - len(c)] for a, c in zip(arrays, input_core)]
        loop = broadcast_shapes(*loop_shapes) if loop_shapes else ()
        arrays = [
            broadcast_to(a, loop + a.shape[a.ndim - len(c) :]) for a, c in zip(arrays, input_core)
        ]
        fn = call
        if output_core is not None:
            fn = _checked(call, output_core, sizes)
        for _ in range(len(loop)):
            fn = vmap(fn)
        return fn(*arrays)

    return wrapped


def _checked(fn, output_core, sizes):
    def inner(*arrs):
        out = fn(*arrs)
        outs = out if isinstance(out, tuple) else (out,)
        if len(outs) != len(output_core):
            raise ValueError(
                f"wrong number of outputs from the vectorized function: expected "
                f"{len(output_core)}, got {len(outs)}"
            )
        for o, core in zip(outs, output_core):
            shape = tuple(asarray(o).shape)
            if len(shape) != len(core):
                raise ValueError(
                    f"output shape {shape} does not match core dimensions {core}{_at()}"
                )
            for dim, size in zip(core, shape):
                if sizes.setdefault(dim, size) != size:
                    raise ValueError(
                        f"inconsistent size for core dimension {dim!r}: {size} vs {sizes[dim]}"
                    )
        return out

    return inner


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d applied to the 1-d slices of arr along axis (with vmap), as
    jnp.apply_along_axis.

    Args:
      func1d: a function of a 1-d array (plus args and kwargs).
      axis: the axis of the slices.
      arr: an array.
      *args: passed on to func1d.
      **kwargs: passed on to func1d.

    Returns:
      An array: arr's other axes around func1d's result axes (at axis).

    Example:
      >>> fnp.apply_along_axis(fnp.sum, 1, fnp.ones((2, 3))).tolist()
      [3.0, 3.0]
    """
    check_arraylike("apply_along_axis", arr)
    arr = asarray(arr)
    num_dims = arr.ndim
    axis = normalize_axis(axis, num_dims)

    def func(a):
        return func1d(a, *args, **kwargs)

    for i in range(1, num_dims - axis):
        func = vmap(func, in_axes=i, out_axes=-1)
    for _ in range(axis):
        func = vmap(func, in_axes=0, out_axes=0)
    return func(arr)


def apply_over_axes(func, a, axes):
    """func(a, axis) applied for each axis in turn (keeping the reduced axis), as
    jnp.apply_over_axes.

    Args:
      func: a function (array, axis) -> array of the same rank or one less.
      a: an array.
      axes: a sequence of axes.

    Returns:
      An array of a's rank.

    Raises:
      ValueError: when func's result has a rank that does not fit.
    """
    check_arraylike("apply_over_axes", a)
    a = asarray(a)
    for axis in np.atleast_1d(axes).tolist():
        b = func(a, axis)
        b = asarray(b)
        if b.ndim == a.ndim - 1:
            b = expand_dims(b, axis)
        elif b.ndim != a.ndim:
            raise ValueError("function is not returning an array of the correct shape")
        a = b
    return a


class ufunc:
    """A Python function with NumPy's ufunc interface (__call__, reduce,
    accumulate, outer, at), as jnp.ufunc.

    Args:
      func: the elementwise function, of nin arrays.
      nin: the number of inputs.
      nout: the number of outputs.
      name: the name (default func's).
      nargs: accepted for compatibility.
      identity: the identity of reduce (for empty reductions).
      call: an implementation of __call__ (default: vectorize(func)).
      reduce: an implementation of reduce.
      accumulate: an implementation of accumulate.
      at: an implementation of at.
      reduceat: an implementation of reduceat.

    Example:
      >>> add = fnp.frompyfunc(lambda a, b: a + b, nin=2, nout=1, identity=0)
      >>> int(add.reduce(fnp.arange(5)))
      10
    """

    def __init__(self, func, /, nin, nout, *, name=None, nargs=None, identity=None, call=None,
                 reduce=None, accumulate=None, at=None, reduceat=None):  # fmt: skip
        self.__name__ = name or getattr(func, "__name__", "ufunc")
        self._func = func
        self.nin, self.nout = int(nin), int(nout)
        self.nargs = nargs if nargs is not None else self.nin
        self.identity = identity
        self._call, self._reduce, self._accumulate = call, reduce, accumulate
        self._at, self._reduceat = at, reduceat

    def __repr__(self):
        return f"<funcnet.numpy.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        if out is not None or where is not None:
            raise NotImplementedError(f"{self.__name__}: out and where are not supported")
        if len(args) != self.nin:
            raise TypeError(
                f"{self.__name__}() takes {self.nin} positional arguments, got {len(args)}"
            )
        if self._call is not None:
            return self._call(*args)
        return vectorize(self._func)(*args)

    def _binary(self, what):
        if self.nin != 2 or self.nout != 1:
            raise ValueError(f"{what} only supported for binary ufuncs with one output")

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False, initial=None, where=None):
        """Reduce a along axis by repeated application, as np.ufunc.reduce.

        Args:
          a: an array.
          axis: an int or None (flattened).
          dtype: the result dtype.
          out: only None.
          keepdims: keep the reduced axis with size 1.
          initial: the starting value (default the first element, or identity).
          where: not supported.

        Returns:
          The reduced array.
        """
        if self._reduce is not None:
            return self._reduce(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                                initial=initial, where=where)  # fmt: skip
        self._binary("reduce")
        if out is not None or where is not None:
            raise NotImplementedError("reduce: out and where are not supported")
        a = asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        if axis is None:
            a, axis = a.reshape(-1), 0
        axis = normalize_axis(axis, a.ndim)
        x = moveaxis(a, axis, 0)
        if initial is None and x.shape[0] == 0:
            if self.identity is None:
                raise ValueError(f"zero-size reduction of {self.__name__} with no identity")
            initial = self.identity
        if initial is None:
            init, xs = x[0], x[1:]
        else:
            init, xs = broadcast_to(asarray(initial).astype(x.dtype), x.shape[1:]), x
        result, _ = lax.scan(lambda c, v: (asarray(self(c, v)).astype(c.dtype), None), init, xs)
        return expand_dims(result, axis) if keepdims else result

    def accumulate(self, a, axis=0, dtype=None, out=None):
        """The running reduction along axis, as np.ufunc.accumulate.

        Args:
          a: an array.
          axis: the axis.
          dtype: the result dtype.
          out: only None.

        Returns:
          An array of a's shape.
        """
        if self._accumulate is not None:
            return self._accumulate(a, axis=axis, dtype=dtype, out=out)
        self._binary("accumulate")
        a = asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        axis = normalize_axis(axis, a.ndim)
        x = moveaxis(a, axis, 0)
        if x.shape[0] == 0:
            return a

        def step(c, v):
            c = asarray(self(c, v)).astype(c.dtype)
            return c, c

        _, rest = lax.scan(step, x[0], x[1:])
        return moveaxis(concatenate([x[:1], rest]), 0, axis)

    def outer(self, A, B, /):
        """self applied to every pair (A[i...], B[j...]), as np.ufunc.outer.

        Args:
          A: an array.
          B: an array.

        Returns:
          An array of shape A.shape + B.shape.
        """
        self._binary("outer")
        A, B = asarray(A), asarray(B)
        return self(A.reshape(A.shape + (1,) * B.ndim), B)

    def at(self, a, indices, b=None, /, *, inplace=True):
        """a with self applied at indices (unbuffered), as np.ufunc.at (inplace=False
        required).

        Args:
          a: an array.
          indices: an index expression.
          b: the second operand (for binary ufuncs).
          inplace: must be False.

        Returns:
          The updated array.
        """
        if inplace:
            raise NotImplementedError("ufunc.at: arrays are immutable; pass inplace=False")
        if self._at is not None:
            return self._at(a, indices, b)
        a = asarray(a)
        current = a[indices]
        new = self(current) if b is None else self(current, b)
        return a.at[indices].set(new)

    def reduceat(self, a, indices, axis=0, dtype=None, out=None):
        """Reductions over the slices between consecutive indices, as
        np.ufunc.reduceat.

        Args:
          a: an array.
          indices: a sequence of concrete start indices.
          axis: the axis.
          dtype: the result dtype.
          out: only None.

        Returns:
          An array with len(indices) entries along axis.
        """
        if self._reduceat is not None:
            return self._reduceat(a, indices, axis=axis, dtype=dtype, out=out)
        a = asarray(a)
        axis = normalize_axis(axis, a.ndim)
        idx = np.asarray(indices).tolist()
        x = moveaxis(a, axis, 0)
        parts = []
        for i, start in enumerate(idx):
            stop = idx[i + 1] if i + 1 < len(idx) else x.shape[0]
            if stop <= start:
                parts.append(x[start])
            else:
                parts.append(self.reduce(x[start:stop], axis=0, dtype=dtype))
        return moveaxis(stack(parts), 0, axis)


def frompyfunc(func, /, nin, nout, *, identity=None):
    """A ufunc from a Python function, as jnp.frompyfunc.

    Args:
      func: a function of nin arrays (traced: it must use funcnet operations).
      nin: the number of inputs.
      nout: the number of outputs.
      identity: the identity of its reduce.

    Returns:
      A fnp.ufunc.
    """
    return ufunc(func, nin, nout, identity=identity)
