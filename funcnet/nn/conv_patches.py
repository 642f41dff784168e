"""`nn.Conv` on CPU as patches times a matrix (im2col), when the patches are small.

XLA:CPU runs a small convolution on one thread, and a training step's three
convolutions (forward, input gradient, filter gradient) one after another: on the
digits CNN (8x8 images, 32 -> 64 channels) they were ~70% of the step. As patches
(one strided slice of the padded input per kernel position, concatenated along the
channels) times the kernel reshaped to a matrix, the forward pass is one GEMM that
XLA runs on every thread, and reverse mode differentiates the GEMM and the slices:
the filter gradient is one more GEMM with the patches already built, the input
gradient a GEMM and the slices' padded sum, which XLA fuses. The step ran 1.4x faster.

The patches hold `prod(kernel)` times the input, so only convolutions whose patches
stay under `MAX_PATCH_BYTES` take this form, only on CPU (GPU libraries have their own
convolution algorithms), and only while differentiated (`nn.Conv` asks
`transforms.jvp.differentiating()`): in a forward pass alone XLA's convolution is the
faster one (the digits CNN's batch-256 predict: 1.74 ms against 1.92 ms as patches).
The result equals `lax.conv_general_dilated`'s up to the summation order. Exporters
(ONNX, StableHLO artifacts) and `quantize_program` want the convolution itself: they
trace under `convolution_primitives()`.
"""

import contextlib
import contextvars
import itertools

import numpy as np

from funcnet import lax
from funcnet import numpy as fnp
from funcnet.runtime import xla

__all__ = ["MAX_PATCH_BYTES", "conv", "convolution_primitives", "takes_patches"]

MAX_PATCH_BYTES = 16 << 20

_primitives_only = contextvars.ContextVar("funcnet_conv_primitives_only", default=False)


@contextlib.contextmanager
def convolution_primitives():
    """Within the block, `nn.Conv` emits `lax.conv_general_dilated` on every platform
    (what exporters and program rewrites expect to find).

    Returns:
      A context manager (entering it gives None).
    """
    token = _primitives_only.set(True)
    try:
        yield
    finally:
        _primitives_only.reset(token)


def takes_patches(x_shape, dtype, kernel, strides, pads, dilation, groups) -> bool:
    """Whether a convolution (channels last, kernel `(*kernel, in, out)`) takes the
    patches form: on CPU, ungrouped, floating point, patches <= MAX_PATCH_BYTES."""
    if groups != 1 or _primitives_only.get() or not np.issubdtype(dtype, np.floating):
        return False
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        return False
    out = _out_spatial(x_shape[1:-1], kernel, strides, pads, dilation)
    if min(out, default=1) <= 0 or x_shape[0] == 0:
        return False
    rows = x_shape[0] * int(np.prod(out))
    size = rows * int(np.prod(kernel)) * x_shape[-1] * np.dtype(dtype).itemsize
    return size <= MAX_PATCH_BYTES and xla.default_device().platform == "cpu"


def conv(x, w, strides, pads, dilation):
    """`lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dilation)` for
    channels-last `x` (batch, *spatial, in) and `w` (*kernel, in, out), as patches @ w.

    Args:
      x: the input.
      w: the kernel.
      strides: one stride per spatial axis.
      pads: one explicit `(lo, hi)` per spatial axis, >= 0 (`takes_patches` refuses
        negative padding).
      dilation: the kernel's dilation per spatial axis.

    Returns:
      The output (batch, *out_spatial, out).
    """
    n_sp = len(strides)
    kernel = tuple(w.shape[:n_sp])
    out = _out_spatial(tuple(x.shape[1:-1]), kernel, strides, pads, dilation)
    xp = fnp.pad(x, ((0, 0), *[tuple(p) for p in pads], (0, 0)))
    pieces = []
    for at in itertools.product(*map(range, kernel)):
        start = [0] + [k * d for k, d in zip(at, dilation)] + [0]
        limit = [x.shape[0]]
        limit += [s + (o - 1) * st + 1 for s, o, st in zip(start[1:], out, strides)]
        limit.append(x.shape[-1])
        pieces.append(lax.slice(xp, start, limit, (1, *strides, 1)))
    cols = pieces[0] if len(pieces) == 1 else lax.concatenate(pieces, n_sp + 1)
    c_in, c_out = w.shape[-2], w.shape[-1]
    rows = x.shape[0] * int(np.prod(out))
    y = fnp.matmul(cols.reshape(rows, len(pieces) * c_in), w.reshape(-1, c_out))
    return y.reshape((x.shape[0], *out, c_out))


def _out_spatial(spatial, kernel, strides, pads, dilation):
    return tuple(
        (d + lo + hi - ((k - 1) * dl + 1)) // s + 1
        for d, k, s, (lo, hi), dl in zip(spatial, kernel, strides, pads, dilation)
    )
