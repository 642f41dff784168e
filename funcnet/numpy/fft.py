"""funcnet.numpy.fft: discrete Fourier transforms, as jax.numpy.fft (and numpy.fft).

Every transform is one `lax.fft` primitive (StableHLO `fft`) over the trailing axes;
the requested axes are moved there first, and inputs are cut or zero-padded to the
requested lengths. Transforms of more than three axes are composed from transforms of at
most three, as jax does. `norm` is "backward" (the default: no scaling forward, 1/n
inverse), "ortho" (1/sqrt(n) both ways) or "forward" (1/n forward, none inverse).
"""

import operator

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.lax.fft import FftType
from funcnet.numpy._core import asarray, check_arraylike
from funcnet.numpy._creation import arange
from funcnet.numpy._pad import pad
from funcnet.numpy._shape import moveaxis, roll

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]


def _norm_factor(func_name, norm, lengths):
    if norm is None or norm == "backward":
        return None
    n = float(np.prod(lengths))
    inverse = func_name.startswith("i")
    if norm == "ortho":
        return np.sqrt(n) if inverse else 1 / np.sqrt(n)
    if norm == "forward":
        return n if inverse else 1 / n
    raise ValueError(
        f'{func_name}: invalid norm value {norm!r}; should be "backward", "ortho" or "forward".'
    )


def _fft_nd(arr, fft_type, lengths):
    """lax.fft over the trailing len(lengths) axes; XLA takes at most three at once."""
    if len(lengths) <= 3:
        return lax.fft(arr, fft_type, tuple(lengths))
    n = 2 if len(lengths) == 4 else 3
    src = tuple(range(arr.ndim - len(lengths), arr.ndim - n))
    dst = tuple(range(arr.ndim - len(lengths) + n, arr.ndim))
    if fft_type in (FftType.RFFT, FftType.FFT):
        arr = lax.fft(arr, fft_type, tuple(lengths)[-n:])
        arr = moveaxis(arr, src, dst)
        arr = _fft_nd(arr, FftType.FFT, lengths[:-n])
        return moveaxis(arr, dst, src)
    arr = moveaxis(arr, src, dst)
    arr = _fft_nd(arr, FftType.IFFT, lengths[:-n])
    arr = moveaxis(arr, dst, src)
    return lax.fft(arr, fft_type, tuple(lengths)[-n:])


def _fft_core(func_name, fft_type, a, s, axes, norm):
    check_arraylike(func_name, a)
    arr = asarray(a)
    if fft_type == FftType.RFFT and dtypes.is_complex(arr.dtype):
        raise TypeError(
            f"{func_name} takes real input, got an array of shape {arr.shape} and dtype "
            f"{arr.dtype}; use fft for complex input"
        )
    if s is not None:
        s = tuple(map(operator.index, s))
        if any(n <= 0 for n in s):
            raise ValueError(
                f"{func_name}: FFT lengths must be positive, got {s} for an array of shape "
                f"{arr.shape}"
            )
    if s is not None and axes is not None and len(s) != len(axes):
        raise ValueError(
            f"{func_name}: the lengths {s} and the axes {tuple(axes)} differ in number"
        )
    orig_axes = axes
    if axes is None:
        axes = range(arr.ndim) if s is None else range(arr.ndim - len(s), arr.ndim)
    axes = tuple(operator.index(ax) for ax in axes)
    if any(not -arr.ndim <= ax < arr.ndim for ax in axes):
        raise ValueError(f"{func_name}: axes {axes} out of range for an array of shape {arr.shape}")
    axes = tuple(ax % arr.ndim for ax in axes) if orig_axes is not None else axes
    if len(axes) != len(set(axes)):
        raise ValueError(f"{func_name} does not support repeated axes, got axes {axes}")
    if len(axes) > arr.ndim:
        raise ValueError(
            f"{func_name}: {len(axes)} lengths for an array of shape {arr.shape} (only "
            f"{arr.ndim} axes)"
        )
    if orig_axes is not None:
        trailing = tuple(range(arr.ndim - len(axes), arr.ndim))
        arr = moveaxis(arr, axes, trailing)
        axes = trailing
    axes = tuple(axes)
    if s is not None:
        in_s = list(arr.shape)
        for axis, n in zip(axes, s):
            in_s[axis] = n
        if fft_type == FftType.IRFFT:
            in_s[-1] = in_s[-1] // 2 + 1
        arr = lax.slice(arr, (0,) * arr.ndim, [min(n, d) for n, d in zip(in_s, arr.shape)])
        if any(n > d for n, d in zip(in_s, arr.shape)):
            arr = pad(arr, [(0, n - d) for n, d in zip(in_s, arr.shape)])
        lengths = list(s)
    elif fft_type == FftType.IRFFT:
        lengths = [arr.shape[ax] for ax in axes[:-1]]
        if axes:
            lengths.append(2 * (arr.shape[axes[-1]] - 1))
    else:
        lengths = [arr.shape[ax] for ax in axes]
    if fft_type == FftType.IRFFT and axes and lengths[-1] <= 0:
        raise ValueError(
            f"{func_name}: the output length {lengths[-1]} along axis {axes[-1]} is not "
            f"positive (input of shape {arr.shape}); pass n/s explicitly"
        )
    if any(n == 0 for n in lengths):
        raise ValueError(
            f"{func_name}: cannot transform an axis of length 0 (array of shape {arr.shape})"
        )
    out = _fft_nd(arr, fft_type, lengths) if lengths else lax.fft(arr, fft_type, ())
    factor = _norm_factor(func_name, norm, lengths)
    if factor is not None:
        out = lax.mul(out, lax.broadcast_in_dim(np.asarray(factor, out.dtype), out.shape, ()))
    if orig_axes is not None:
        out = moveaxis(out, axes, orig_axes)
    return out


def _check_1d_axis(func_name, axis):
    if isinstance(axis, (list, tuple)):
        raise ValueError(
            f"{func_name} does not support multiple axes; use {func_name}n. Got axis={axis!r}."
        )


def _fft_1d(func_name, fft_type, a, n, axis, norm):
    _check_1d_axis(func_name, axis)
    return _fft_core(
        func_name, fft_type, a, None if n is None else [n], None if axis is None else [axis], norm
    )


def _fft_2d(func_name, fft_type, a, s, axes, norm):
    if len(axes) != 2:
        raise ValueError(f"{func_name} only supports 2 axes, got axes={axes!r}")
    return _fft_core(func_name, fft_type, a, s, axes, norm)


def fft(a, n=None, axis=-1, norm=None):
    """The one-dimensional discrete Fourier transform, as jnp.fft.fft.

    Args:
      a: an array (real input is converted to complex).
      n: the length of the transformed axis: the input is cut or zero-padded to it.
        Default: the axis' length.
      axis: the axis to transform. Default -1.
      norm: "backward" (default), "ortho" or "forward" (see the module docstring).

    Returns:
      A complex array of `a`'s shape, with `n` entries along `axis`.

    Raises:
      ValueError: for a non-positive `n`, an axis out of range, or an unknown `norm`.

    Example:
      >>> fnp.fft.fft(fnp.array([1.0, 2.0, 3.0, 4.0])).tolist()
      [(10+0j), (-2+2j), (-2+0j), (-2-2j)]
    """
    return _fft_1d("fft", FftType.FFT, a, n, axis, norm)


def ifft(a, n=None, axis=-1, norm=None):
    """The one-dimensional inverse discrete Fourier transform, as jnp.fft.ifft.

    Args:
      a: an array (real input is converted to complex).
      n: the length of the transformed axis: the input is cut or zero-padded to it.
        Default: the axis' length.
      axis: the axis to transform. Default -1.
      norm: "backward" (default: scaled by 1/n), "ortho" or "forward".

    Returns:
      A complex array of `a`'s shape, with `n` entries along `axis`.

    Raises:
      ValueError: for a non-positive `n`, an axis out of range, or an unknown `norm`.
    """
    return _fft_1d("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a, n=None, axis=-1, norm=None):
    """The one-dimensional discrete Fourier transform of real input, as jnp.fft.rfft:
    the non-negative frequencies only (the others are their conjugates).

    Args:
      a: a real array.
      n: the length of the transformed axis: the input is cut or zero-padded to it.
        Default: the axis' length.
      axis: the axis to transform. Default -1.
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array of `a`'s shape with `n // 2 + 1` entries along `axis`.

    Raises:
      TypeError: for complex input.
      ValueError: for a non-positive `n`, an axis out of range, or an unknown `norm`.

    Example:
      >>> fnp.fft.rfft(fnp.array([1.0, 2.0, 3.0, 4.0])).tolist()
      [(10+0j), (-2+2j), (-2+0j)]
    """
    return _fft_1d("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a, n=None, axis=-1, norm=None):
    """The inverse of `rfft`, as jnp.fft.irfft: real values from the non-negative
    frequencies of a Hermitian spectrum.

    Args:
      a: an array (the half spectrum; converted to complex).
      n: the length of the output along `axis`; the input is cut or zero-padded to
        `n // 2 + 1` entries. Default: `2 * (m - 1)` for `m` input entries.
      axis: the axis to transform. Default -1.
      norm: "backward" (default: scaled by 1/n), "ortho" or "forward".

    Returns:
      A real array of `a`'s shape with `n` entries along `axis`.

    Raises:
      ValueError: for a non-positive `n` (or a default `n` of 0: one input entry), an
        axis out of range, or an unknown `norm`.

    Example:
      >>> fnp.fft.irfft(fnp.fft.rfft(fnp.array([1.0, 2.0, 3.0, 4.0]))).tolist()
      [1.0, 2.0, 3.0, 4.0]
    """
    return _fft_1d("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a, n=None, axis=-1, norm=None):
    """The FFT of a signal with Hermitian symmetry (a real spectrum), as jnp.fft.hfft:
    `irfft(conj(a), n) * n`.

    Args:
      a: an array: the first half of a Hermitian-symmetric signal.
      n: the length of the real output along `axis`. Default `2 * (m - 1)`.
      axis: the axis to transform. Default -1.
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A real array with `n` entries along `axis`.

    Raises:
      ValueError: for a non-positive `n`, an axis out of range, or an unknown `norm`.
    """
    _check_1d_axis("hfft", axis)
    check_arraylike("hfft", a)
    a = asarray(a)
    conj_a = lax.conj(a) if dtypes.is_complex(a.dtype) else a
    nn = (a.shape[axis] - 1) * 2 if n is None else n
    out = _fft_1d("hfft", FftType.IRFFT, conj_a, n, axis, norm)
    return lax.mul(out, lax.broadcast_in_dim(np.asarray(nn, out.dtype), out.shape, ()))


def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of `hfft`, as jnp.fft.ihfft: `conj(rfft(a, n)) / n`.

    Args:
      a: a real array.
      n: the length of the transformed axis: the input is cut or zero-padded to it.
        Default: the axis' length.
      axis: the axis to transform. Default -1.
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array with `n // 2 + 1` entries along `axis`.

    Raises:
      TypeError: for complex input.
      ValueError: for a non-positive `n`, an axis out of range, or an unknown `norm`.
    """
    _check_1d_axis("ihfft", axis)
    check_arraylike("ihfft", a)
    a = asarray(a)
    nn = a.shape[axis] if n is None else n
    out = lax.conj(_fft_1d("ihfft", FftType.RFFT, a, n, axis, norm))
    return lax.mul(out, lax.broadcast_in_dim(np.asarray(1 / nn, out.dtype), out.shape, ()))


def fftn(a, s=None, axes=None, norm=None):
    """The n-dimensional discrete Fourier transform, as jnp.fft.fftn.

    Args:
      a: an array (real input is converted to complex).
      s: the lengths of the transformed axes (cut or zero-padded to); default their
        lengths.
      axes: the axes to transform; default all (or the last `len(s)`).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array of `a`'s shape (with the lengths `s` along `axes`).

    Raises:
      ValueError: for non-positive lengths, repeated or out-of-range axes, `s` and
        `axes` of different lengths, or an unknown `norm`.
    """
    return _fft_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
    """The n-dimensional inverse discrete Fourier transform, as jnp.fft.ifftn.

    Args:
      a: an array (real input is converted to complex).
      s: the lengths of the transformed axes; default their lengths.
      axes: the axes to transform; default all (or the last `len(s)`).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array of `a`'s shape (with the lengths `s` along `axes`).

    Raises:
      ValueError: as `fftn`.
    """
    return _fft_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a, s=None, axes=None, norm=None):
    """The n-dimensional discrete Fourier transform of real input, as jnp.fft.rfftn (the
    last axis keeps the non-negative frequencies only).

    Args:
      a: a real array.
      s: the lengths of the transformed axes; default their lengths.
      axes: the axes to transform; default all (or the last `len(s)`).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array; the last transformed axis has `s[-1] // 2 + 1` entries.

    Raises:
      TypeError: for complex input.
      ValueError: as `fftn`.
    """
    return _fft_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
    """The inverse of `rfftn`, as jnp.fft.irfftn.

    Args:
      a: an array (a half spectrum along the last transformed axis).
      s: the output lengths of the transformed axes; default their lengths, and
        `2 * (m - 1)` for the last.
      axes: the axes to transform; default all (or the last `len(s)`).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A real array with the lengths `s` along `axes`.

    Raises:
      ValueError: as `fftn`.
    """
    return _fft_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional discrete Fourier transform, as jnp.fft.fft2.

    Args:
      a: an array of at least two dimensions.
      s: the lengths of the two transformed axes; default their lengths.
      axes: the two axes to transform. Default (-2, -1).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array.

    Raises:
      ValueError: for other than two axes, or as `fftn`.
    """
    return _fft_2d("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional inverse discrete Fourier transform, as jnp.fft.ifft2.

    Args:
      a: an array of at least two dimensions.
      s: the lengths of the two transformed axes; default their lengths.
      axes: the two axes to transform. Default (-2, -1).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array.

    Raises:
      ValueError: for other than two axes, or as `fftn`.
    """
    return _fft_2d("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional discrete Fourier transform of real input, as jnp.fft.rfft2.

    Args:
      a: a real array of at least two dimensions.
      s: the lengths of the two transformed axes; default their lengths.
      axes: the two axes to transform. Default (-2, -1).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A complex array; the last transformed axis has `s[-1] // 2 + 1` entries.

    Raises:
      TypeError: for complex input.
      ValueError: for other than two axes, or as `fftn`.
    """
    return _fft_2d("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """The inverse of `rfft2`, as jnp.fft.irfft2.

    Args:
      a: an array of at least two dimensions.
      s: the output lengths of the two transformed axes.
      axes: the two axes to transform. Default (-2, -1).
      norm: "backward" (default), "ortho" or "forward".

    Returns:
      A real array.

    Raises:
      ValueError: for other than two axes, or as `fftn`.
    """
    return _fft_2d("irfft2", FftType.IRFFT, a, s, axes, norm)


def _check_freq_args(func_name, n, d):
    if isinstance(n, (list, tuple)):
        raise ValueError(f"The n argument of {func_name} only takes an int, got n={list(n)}")
    if isinstance(d, (list, tuple)):
        raise ValueError(
            f"The d argument of {func_name} only takes a single value, got d={list(d)}"
        )


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an `n`-point FFT, as jnp.fft.fftfreq:
    `[0, 1, ..., n//2 - 1 (or (n-1)//2), -(n//2), ..., -1] / (d * n)`.

    Args:
      n: the window length (an int).
      d: the sample spacing. Default 1.0.
      dtype: the result's dtype; default the default float dtype.
      device: accepted for jax compatibility (funcnet places data on one device).

    Returns:
      An array of `n` frequencies.

    Raises:
      ValueError: for a list or tuple `n` or `d`.

    Example:
      >>> fnp.fft.fftfreq(4).tolist()
      [0.0, 0.25, -0.5, -0.25]
    """
    _check_freq_args("fftfreq", n, d)
    out_dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    # Computed in a real floating dtype, then converted (as jax).
    dtype = dtypes.real_dtype(out_dtype) if dtypes.is_inexact(out_dtype) else dtypes.default_float()
    k = np.asarray(((np.arange(n) + n // 2) % n) - n // 2 if n else np.zeros(0))
    scale = asarray(d, dtype) * n
    return lax.convert_element_type(
        lax.div(asarray(k, dtype), lax.broadcast_in_dim(scale, (n,), ())), out_dtype
    )


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an `n`-point `rfft`, as jnp.fft.rfftfreq:
    `[0, 1, ..., n//2] / (d * n)`.

    Args:
      n: the window length (an int).
      d: the sample spacing. Default 1.0.
      dtype: the result's dtype; default the default float dtype.
      device: accepted for jax compatibility.

    Returns:
      An array of `n // 2 + 1` frequencies.

    Raises:
      ValueError: for a list or tuple `n` or `d`.

    Example:
      >>> fnp.fft.rfftfreq(4).tolist()
      [0.0, 0.25, 0.5]
    """
    _check_freq_args("rfftfreq", n, d)
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    k = arange(0, n // 2 + 1, dtype=dtype)
    scale = asarray(d, dtype) * n
    return lax.div(k, lax.broadcast_in_dim(scale, k.shape, ()))


def _shifts(x, axes, sign):
    if axes is None:
        axes = tuple(range(x.ndim))
        return [sign * (dim // 2) for dim in x.shape], axes
    if isinstance(axes, int):
        return sign * (x.shape[axes] // 2), axes
    return [sign * (x.shape[ax] // 2) for ax in axes], axes


def fftshift(x, axes=None):
    """The zero frequency moved to the centre of the spectrum, as jnp.fft.fftshift.

    Args:
      x: an array.
      axes: an int or a sequence of ints: the axes to shift. Default: all.

    Returns:
      An array of `x`'s shape and dtype, rolled by half of each axis.

    Example:
      >>> fnp.fft.fftshift(fnp.fft.fftfreq(4)).tolist()
      [-0.5, -0.25, 0.0, 0.25]
    """
    check_arraylike("fftshift", x)
    x = asarray(x)
    shift, axes = _shifts(x, axes, 1)
    return roll(x, shift, axes)


def ifftshift(x, axes=None):
    """The inverse of `fftshift`, as jnp.fft.ifftshift.

    Args:
      x: an array.
      axes: an int or a sequence of ints: the axes to shift. Default: all.

    Returns:
      An array of `x`'s shape and dtype, rolled back by half of each axis.
    """
    check_arraylike("ifftshift", x)
    x = asarray(x)
    shift, axes = _shifts(x, axes, -1)
    return roll(x, shift, axes)
