"""Files, buffers and printing with jax.numpy's names: save, savez, load (NumPy's .npy
and .npz formats, written and read with NumPy), frombuffer, fromfile, fromiter,
fromstring, from_dlpack, array_repr, array_str and the print options (NumPy's)."""

import numpy as np

from funcnet.core import dtypes
from funcnet.numpy._core import asarray


class ComplexWarning(RuntimeWarning):
    """Warned when a complex value is cast to a real type, as jnp.ComplexWarning."""


# NumPy's abstract scalar types jax.numpy re-exports (funcnet has no arrays of them).
flexible = np.flexible
character = np.character
object_ = np.object_


def printoptions(*args, **kwargs):
    """A context manager setting NumPy's print options (funcnet arrays print through
    NumPy), as jnp.printoptions.

    Args:
      *args: passed on to np.printoptions.
      **kwargs: passed on to np.printoptions (precision=, suppress=, ...).

    Returns:
      The context manager.
    """
    return np.printoptions(*args, **kwargs)


def get_printoptions():
    """NumPy's current print options, as jnp.get_printoptions.

    Returns:
      A dict of the options.
    """
    return np.get_printoptions()


def set_printoptions(*args, **kwargs):
    """Sets NumPy's print options (funcnet arrays print through NumPy), as
    jnp.set_printoptions.

    Args:
      *args: passed on to np.set_printoptions.
      **kwargs: passed on to np.set_printoptions.

    Returns:
      None.
    """
    np.set_printoptions(*args, **kwargs)


def _host(arr):
    return np.asarray(arr) if hasattr(arr, "shape") else arr


def save(file, arr, allow_pickle=True):
    """arr written to a NumPy .npy file, as jnp.save.

    Args:
      file: a path or a writable binary file.
      arr: an array (copied to the host).
      allow_pickle: passed on to np.save.

    Returns:
      None.
    """
    np.save(file, _host(arr), allow_pickle=allow_pickle)


def savez(file, *args, allow_pickle=True, **kwds):
    """Several arrays written to an uncompressed NumPy .npz file, as jnp.savez.

    Args:
      file: a path or a writable binary file.
      *args: arrays, saved as arr_0, arr_1, ...
      allow_pickle: passed on to np.savez.
      **kwds: arrays saved under their keyword names.

    Returns:
      None.
    """
    np.savez(file, *map(_host, args), allow_pickle=allow_pickle,
             **{k: _host(v) for k, v in kwds.items()})  # fmt: skip


def savez_compressed(file, *args, allow_pickle=True, **kwds):
    """Several arrays written to a compressed NumPy .npz file, as np.savez_compressed.

    Args:
      file: a path or a writable binary file.
      *args: arrays, saved as arr_0, arr_1, ...
      allow_pickle: passed on to np.savez_compressed.
      **kwds: arrays saved under their keyword names.

    Returns:
      None.
    """
    np.savez_compressed(file, *map(_host, args), allow_pickle=allow_pickle,
                        **{k: _host(v) for k, v in kwds.items()})  # fmt: skip


def load(file, *args, **kwargs):
    """An array read from a .npy file (or an NpzFile of NumPy arrays from a .npz
    file), as jnp.load.

    Args:
      file: a path or a readable binary file.
      *args: passed on to np.load.
      **kwargs: passed on to np.load.

    Returns:
      A funcnet Array on the default device for a .npy file of a dtype funcnet has
      (64-bit values narrow unless x64 is on; 2-byte void data, which is how NumPy
      saves bfloat16, read as bfloat16); for a .npz file the NpzFile of NumPy arrays
      np.load returns, and for other dtypes (strings, objects) the NumPy array.

    Example:
      >>> import io
      >>> buf = io.BytesIO(); fnp.save(buf, fnp.arange(3)); _ = buf.seek(0)
      >>> fnp.load(buf).tolist()
      [0, 1, 2]
    """
    out = np.load(file, *args, **kwargs)
    if isinstance(out, np.ndarray):
        # NumPy has no bfloat16: np.save writes it as 2-byte void ('<V2'), read back as
        # bfloat16 (as jnp.load does; only for .npy files, not inside .npz archives).
        if out.dtype == np.dtype("V2"):
            out = out.view(dtypes.bfloat16)
        try:
            return asarray(out)
        except (TypeError, ValueError):  # a dtype funcnet has no arrays of (str, object)
            return out
    return out


def frombuffer(buffer, dtype=float, count=-1, offset=0):
    """A 1-d array interpreting a bytes-like buffer, as jnp.frombuffer.

    Args:
      buffer: a bytes-like object.
      dtype: the element dtype.
      count: how many elements (-1: all).
      offset: the byte offset to start at.

    Returns:
      A 1-d funcnet Array.
    """
    return asarray(np.frombuffer(buffer, dtype=dtype, count=count, offset=offset))


def fromfile(*args, **kwargs):
    """Not supported, as in jax: use np.fromfile and fnp.asarray.

    Args:
      *args: ignored.
      **kwargs: ignored.

    Returns:
      Never returns.

    Raises:
      NotImplementedError: always (jax's behaviour).
    """
    raise NotImplementedError(
        "jnp.fromfile() is not implemented because it may be non-pure and thus unsafe for "
        "use with JIT and other JAX transformations. Consider using "
        "jnp.asarray(np.fromfile(...)) instead, although care should be taken if np.fromfile "
        "is used within jax transformations because of its potential side-effect of consuming "
        "the file object; for more information see `Common Gotchas: Pure Functions "
        "<https://docs.jax.dev/en/latest/notebooks/Common_Gotchas_in_JAX.html#pure-functions>`_."
    )


def fromiter(*args, **kwargs):
    """Not supported, as in jax: use np.fromiter and fnp.asarray.

    Args:
      *args: ignored.
      **kwargs: ignored.

    Returns:
      Never returns.

    Raises:
      NotImplementedError: always (jax's behaviour).
    """
    raise NotImplementedError(
        "jnp.fromiter() is not implemented because it may be non-pure and thus unsafe for "
        "use with JIT and other JAX transformations. Consider using "
        "jnp.asarray(np.fromiter(...)) instead, although care should be taken if np.fromiter "
        "is used within jax transformations because of its potential side-effect of "
        "consuming the iterable object; for more information see `Common Gotchas: Pure "
        "Functions <https://docs.jax.dev/en/latest/notebooks/Common_Gotchas_in_JAX.html"
        "#pure-functions>`_."
    )


def fromstring(string, dtype=float, count=-1, *, sep):
    """A 1-d array parsed from a text string, as jnp.fromstring.

    Args:
      string: the text.
      dtype: the element dtype.
      count: how many elements (-1: all).
      sep: the separator between numbers.

    Returns:
      A 1-d funcnet Array.
    """
    return asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def from_dlpack(x, /, *, device=None, copy=None):
    """An array from an object with the DLPack protocol (through NumPy, on the host),
    as jnp.from_dlpack.

    Args:
      x: an object with __dlpack__ (a NumPy array, a torch CPU tensor, ...).
      device: where to place the result.
      copy: passed on to np.from_dlpack.

    Returns:
      A funcnet Array.
    """
    if not hasattr(x, "__dlpack__"):
        raise TypeError(
            "The array passed to from_dlpack must have __dlpack__ and __dlpack_device__ methods."
        )
    host = np.from_dlpack(x) if copy is None else np.from_dlpack(x, copy=copy)
    return asarray(host, device=device)


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None):
    """The repr of an array, with NumPy's formatting options, as jnp.array_repr.

    Args:
      arr: an array.
      max_line_width: as np.array_repr.
      precision: as np.array_repr.
      suppress_small: as np.array_repr.

    Returns:
      A string: "Array(...)" for a funcnet array, NumPy's repr for anything else.
    """
    host = arr if isinstance(arr, (np.ndarray, np.generic)) else np.asarray(arr)
    text = np.array_repr(host, max_line_width, precision, suppress_small)
    if hasattr(arr, "aval") and text.startswith("array"):  # a funcnet array: its own repr
        text = "Array" + text[len("array") :]
    return text


def array_str(a, max_line_width=None, precision=None, suppress_small=None):
    """The str of an array, with NumPy's formatting options, as jnp.array_str.

    Args:
      a: an array.
      max_line_width: as np.array_str.
      precision: as np.array_str.
      suppress_small: as np.array_str.

    Returns:
      A string.
    """
    return np.array_str(np.asarray(a), max_line_width, precision, suppress_small)
