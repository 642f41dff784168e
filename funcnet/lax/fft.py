"""The fast Fourier transform primitive, as jax.lax.fft (lowered to StableHLO `fft`)."""

import enum

from funcnet.core import dtypes
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax.elementwise import convert_element_type


class FftType(enum.IntEnum):
    """Which transform `fft` computes, as jax.lax.FftType: FFT (complex to complex),
    IFFT (its inverse, scaled by 1/n), RFFT (real to the non-negative half of the
    spectrum) and IRFFT (that half spectrum back to real values).

    Args:
      value: 0 to 3 (an IntEnum: `FftType(2)` is `FftType.RFFT`).

    Returns:
      The enum member.
    """

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


_NAMES = {"fft": FftType.FFT, "ifft": FftType.IFFT, "rfft": FftType.RFFT, "irfft": FftType.IRFFT}

fft_p = Primitive("fft")


@fft_p.def_abstract_eval
def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    name = f"fft ({FftType(fft_type).name})"
    if k == 0 or k > 3 or k > x.ndim:
        raise TypeError(
            f"{name}: fft_lengths {fft_lengths} must name 1 to 3 trailing axes of the "
            f"input of shape {x.shape}{where()}"
        )
    lengths = tuple(fft_lengths)
    if fft_type == FftType.RFFT:
        if x.dtype not in (dtypes.float32, dtypes.float64):
            raise TypeError(f"{name} input must be float32 or float64, got {x.dtype}{where()}")
        if x.shape[-k:] != lengths:
            raise TypeError(
                f"{name}: the trailing axes of the input of shape {x.shape} must equal "
                f"fft_lengths {lengths}{where()}"
            )
        shape = x.shape[:-k] + lengths[:-1] + (lengths[-1] // 2 + 1,)
        return x.update(shape=shape, dtype=dtypes.complex_dtype(x.dtype), weak_type=False)
    if not dtypes.is_complex(x.dtype):
        raise TypeError(f"{name} input must be complex64 or complex128, got {x.dtype}{where()}")
    if fft_type == FftType.IRFFT:
        if x.shape[-k:-1] != lengths[:-1] or x.shape[-1] != lengths[-1] // 2 + 1:
            raise TypeError(
                f"{name}: the input of shape {x.shape} does not fit fft_lengths {lengths} "
                f"(its trailing axes must be {lengths[:-1] + (lengths[-1] // 2 + 1,)}){where()}"
            )
        shape = x.shape[:-k] + lengths
        return x.update(shape=shape, dtype=dtypes.real_dtype(x.dtype), weak_type=False)
    if x.shape[-k:] != lengths:
        raise TypeError(
            f"{name}: the trailing axes of the input of shape {x.shape} must equal "
            f"fft_lengths {lengths}{where()}"
        )
    return x.update(weak_type=False)


def fft(x, fft_type, fft_lengths):
    """The fast Fourier transform over the trailing axes of `x`, as jax.lax.fft.

    Args:
      x: an array. For RFFT a real one (integers are converted to the default float
        dtype); for the others it is converted to complex.
      fft_type: an `FftType`, or one of the strings 'fft', 'ifft', 'rfft', 'irfft'
        (upper case too).
      fft_lengths: the lengths of the 1 to 3 trailing axes transformed. For FFT, IFFT
        and RFFT they are the input's trailing axes; for IRFFT the output's (the input's
        last axis then has `fft_lengths[-1] // 2 + 1` entries). An empty sequence
        returns `x` converted.

    Returns:
      FFT, IFFT: a complex array of `x`'s shape. RFFT: a complex array whose last axis
      has `fft_lengths[-1] // 2 + 1` entries. IRFFT: a real array whose trailing axes
      are `fft_lengths`.

    Raises:
      TypeError: for complex input to RFFT, or shapes that do not fit `fft_lengths`.
      ValueError: for an unknown `fft_type`.

    Example:
      >>> lax.fft(fnp.array([1.0, 0.0, 0.0, 0.0]), "fft", (4,)).tolist()
      [(1+0j), (1+0j), (1+0j), (1+0j)]
      >>> lax.fft(fnp.array([1.0, 2.0, 3.0, 4.0]), lax.FftType.RFFT, (4,)).tolist()
      [(10+0j), (-2+2j), (-2+0j)]
    """
    if isinstance(fft_type, str):
        if fft_type.lower() not in _NAMES:
            raise ValueError(f"fft: unknown FFT type {fft_type!r}")
        typ = _NAMES[fft_type.lower()]
    else:
        try:
            typ = FftType(fft_type)
        except ValueError:
            raise ValueError(f"fft: unknown FFT type {fft_type!r}") from None
    dtype = get_aval(x).dtype
    if typ == FftType.RFFT:
        if dtypes.is_complex(dtype):
            raise TypeError(f"fft: RFFT takes real input, got {dtype}{where()}")
        if not dtypes.is_float(dtype) or dtype in (dtypes.float16, dtypes.bfloat16):
            dtype = dtypes.float64 if dtype == dtypes.float64 else dtypes.default_float()
    else:
        dtype = dtypes.complex_dtype(dtype if dtypes.is_inexact(dtype) else dtypes.default_float())
    if get_aval(x).dtype != dtype or not hasattr(x, "shape"):
        x = convert_element_type(x, dtype)
    fft_lengths = tuple(int(n) for n in fft_lengths)
    if not fft_lengths:
        return x
    return fft_p.bind(x, fft_type=typ, fft_lengths=fft_lengths)
