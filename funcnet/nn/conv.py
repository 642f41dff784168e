"""Convolutions in channels-last layout: Conv (1-D, 2-D, 3-D, grouped, dilated) and
ConvTranspose. The number of spatial axes is ``len(kernel_size)``; inputs are
``(batch, *spatial, channels)`` (NWC, NHWC, NDHWC) and kernels ``(*kernel_size,
in_channels // groups, features)`` (WIO, HWIO, DHWIO)."""

import numpy as np

from funcnet import lax
from funcnet.nn import conv_patches
from funcnet.nn.core import Layer, LayerError, Param, resolve_init
from funcnet.nn.linear import _features
from funcnet.transforms.jvp import differentiating

__all__ = ["Conv", "ConvTranspose"]

_LAYOUTS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}
_AXES = {
    1: "(batch, width, channels)",
    2: "(batch, height, width, channels)",
    3: "(batch, depth, height, width, channels)",
}


def _tuple(value, n, kind, what):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in value):
        raise ValueError(
            f"{kind}: {what} must be a positive int or {n} of them (one per "
            f"spatial axis of kernel_size), got {value!r}"
        )
    return tuple(int(v) for v in value)


def _kernel_size(kernel_size, kind):
    if isinstance(kernel_size, (int, np.integer)):
        raise TypeError(
            f"{kind}: kernel_size must be a tuple, one size per spatial axis: "
            f"({kernel_size},) for 1-D, ({kernel_size}, {kernel_size}) for 2-D"
        )
    ks = tuple(kernel_size)
    if len(ks) not in _LAYOUTS or not all(isinstance(k, (int, np.integer)) and k >= 1 for k in ks):
        raise ValueError(
            f"{kind}: kernel_size must be 1, 2 or 3 positive ints, got {kernel_size!r}"
        )
    return tuple(int(k) for k in ks)


def _padding(padding, n, kind, allow_causal):
    if isinstance(padding, str):
        p = padding.upper()
        if p in ("SAME", "VALID") or (p == "CAUSAL" and allow_causal and n == 1):
            return p
        raise ValueError(
            f"{kind}: padding must be 'SAME', 'VALID'"
            f"{', CAUSAL (1-D)' if allow_causal else ''}, an int or (lo, hi) "
            f"pairs per spatial axis, got {padding!r}"
        )
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    try:
        pads = tuple(
            (int(p), int(p)) if isinstance(p, (int, np.integer)) else (int(p[0]), int(p[1]))
            for p in padding
        )
    except (TypeError, IndexError, ValueError):
        pads = ()
    if len(pads) != n:
        raise ValueError(
            f"{kind}: explicit padding needs one (lo, hi) pair per spatial axis "
            f"({n}), got {padding!r}"
        )
    return pads


def _check_input(input_shape, n):
    if len(input_shape) != n + 2:
        raise LayerError(
            f"a {n}-D kernel expects an input of rank {n + 2} {_AXES[n]}, got shape {input_shape}"
        )
    if input_shape[-1] == -1:
        raise LayerError(f"needs the channel axis known, got shape {input_shape}")


def _conv_pads(padding, in_spatial, dilated_kernel, strides):
    """Explicit (lo, hi) pairs for a forward convolution."""
    if padding == "VALID":
        return tuple((0, 0) for _ in in_spatial)
    if padding == "CAUSAL":
        return ((dilated_kernel[0] - 1, 0),)
    if padding == "SAME":
        pads = []
        for d, k, s in zip(in_spatial, dilated_kernel, strides):
            out = -(-d // s)
            total = max((out - 1) * s + k - d, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    return padding


class Conv(Layer):
    """An N-d convolution, channels last (as flax's Conv, via lax.conv_general_dilated).

    x: (batch, *spatial, in_channels); one example: ``x[None]`` or ``fn.vmap``.

    N = ``len(kernel_size)`` = 1, 2 or 3. Input ``(batch, *spatial, in_channels)``:
    NWC, NHWC or NDHWC, rank exactly N + 2, so the leading batch axis is required (for
    one example use ``x[None]``, or ``fn.vmap(lambda x: conv.apply(params,
    x[None])[0])`` over a stack of them). ``in_channels`` must be known at init.
    Unlike flax, there is no ``input_dilation`` argument: the fifth positional argument
    is ``kernel_dilation``.

    Args:
      features: the output channels, a positive int divisible by
        ``feature_group_count``.
      kernel_size: a tuple, one size per spatial axis (``(3,)``, ``(3, 3)``, ...); an
        int is refused.
      strides: an int or one per spatial axis (default 1).
      padding: ``"SAME"`` (the default: output size ``ceil(in / stride)``),
        ``"VALID"``, ``"CAUSAL"`` (1-D only: pad on the left), an int, or one
        ``(lo, hi)`` pair per spatial axis.
      kernel_dilation: an int or one per spatial axis (default 1; atrous convolution).
      feature_group_count: the number of groups of a grouped convolution (default 1);
        ``in_channels`` must divide by it, and ``in_channels`` groups is a depthwise
        convolution.
      use_bias: add the bias ``b`` (default True).
      kernel_init: initializer of ``w``, a function, factory or name (default
        ``"lecun_normal"``).
      bias_init: initializer of ``b`` (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``conv_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, *out_spatial,
      features))`` with params ``{"w": (*kernel_size, in_channels //
      feature_group_count, features), "b": (features,)}`` (HWIO kernels). ``apply(params,
      x)`` returns the convolution; it uses no key, train or state.

    Raises:
      TypeError: ``kernel_size`` is an int.
      ValueError: bad sizes, strides, dilation or padding.
      LayerError: an input of the wrong rank, unknown or indivisible channels, or too
        small for the kernel.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> conv = nn.Conv(8, (3, 3), strides=2)
      >>> params, out_shape = conv.init(random.key(0), (-1, 28, 28, 1))
      >>> out_shape, params["w"].shape
      ((-1, 14, 14, 8), (3, 3, 1, 8))
      >>> conv.apply(params, fnp.ones((2, 28, 28, 1))).shape
      (2, 14, 14, 8)
    """

    def __init__(
        self,
        features,
        kernel_size,
        strides=1,
        padding="SAME",
        kernel_dilation=1,
        feature_group_count=1,
        *,
        use_bias=True,
        kernel_init="lecun_normal",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(name=name)
        kind = type(self).__name__
        self.features = _features(features, kind)
        self.kernel_size = _kernel_size(kernel_size, kind)
        n = len(self.kernel_size)
        self.strides = _tuple(strides, n, kind, "strides")
        self.kernel_dilation = _tuple(kernel_dilation, n, kind, "kernel_dilation")
        self.padding = _padding(padding, n, kind, allow_causal=True)
        self.feature_group_count = _features(feature_group_count, kind, "feature_group_count")
        if self.features % self.feature_group_count:
            raise ValueError(
                f"{kind}: features {self.features} is not divisible by "
                f"feature_group_count {self.feature_group_count}"
            )
        self.use_bias = bool(use_bias)
        self.kernel_init = resolve_init(kernel_init, kind, "kernel_init")
        self.bias_init = resolve_init(bias_init, kind, "bias_init")
        self.dtype = dtype

    @property
    def _n(self):
        return len(self.kernel_size)

    def _dilated_kernel(self):
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.kernel_dilation))

    def param_specs(self, input_shape):
        _check_input(input_shape, self._n)
        c, g = input_shape[-1], self.feature_group_count
        if c % g:
            raise LayerError(
                f"input channels {c} (shape {input_shape}) are not divisible by "
                f"feature_group_count {g}"
            )
        specs = {
            "w": Param(self.kernel_size + (c // g, self.features), self.kernel_init, self.dtype)
        }
        if self.use_bias:
            specs["b"] = Param((self.features,), self.bias_init, self.dtype)
        return specs

    def output_shape(self, input_shape):
        _check_input(input_shape, self._n)
        spatial = []
        for i, d in enumerate(input_shape[1:-1]):
            if d == -1:
                spatial.append(-1)
                continue
            k, s = self._dilated_kernel()[i], self.strides[i]
            lo, hi = (
                _conv_pads(self.padding, [d], [k], [s])[0]
                if isinstance(self.padding, str)
                else self.padding[i]
            )
            size = (d + lo + hi - k) // s + 1
            if size <= 0:
                raise LayerError(
                    f"an input of shape {input_shape} is too small for a "
                    f"kernel of {self.kernel_size} (dilation "
                    f"{self.kernel_dilation}) with padding {self.padding!r}"
                )
            spatial.append(size)
        return (input_shape[0],) + tuple(spatial) + (self.features,)

    def expected_input_shape(self, params, input_shape):
        w = params["w"]
        return tuple(input_shape[:-1]) + (w.shape[-2] * self.feature_group_count,)

    def forward(self, params, x):
        pads = _conv_pads(self.padding, x.shape[1:-1], self._dilated_kernel(), self.strides)
        w = params["w"]
        if (
            x.dtype == w.dtype
            and differentiating()
            and conv_patches.takes_patches(
                tuple(x.shape),
                x.dtype,
                self.kernel_size,
                self.strides,
                pads,
                self.kernel_dilation,
                self.feature_group_count,
            )
        ):
            y = conv_patches.conv(x, w, self.strides, pads, self.kernel_dilation)
            return y + params["b"] if self.use_bias else y
        y = lax.conv_general_dilated(
            x,
            params["w"],
            self.strides,
            pads,
            rhs_dilation=self.kernel_dilation,
            dimension_numbers=_LAYOUTS[self._n],
            feature_group_count=self.feature_group_count,
        )
        return y + params["b"] if self.use_bias else y


def _transpose_pads(padding, dilated_kernel, strides):
    """Padding of the stride-dilated input that makes a transposed convolution (jax's
    ``conv_transpose`` with ``transpose_kernel=False``, as flax's ConvTranspose):
    'SAME' gives in * stride outputs, 'VALID' in * stride + max(k - stride, 0)."""
    if not isinstance(padding, str):
        return padding
    pads = []
    for k, s in zip(dilated_kernel, strides):
        if padding == "SAME":
            pad_len = k + s - 2
            lo = k - 1 if s > k - 1 else -(-pad_len // 2)
        else:
            pad_len = k + s - 2 + max(k - s, 0)
            lo = k - 1
        pads.append((lo, pad_len - lo))
    return tuple(pads)


class ConvTranspose(Conv):
    """A transposed ("fractionally strided") convolution, channels last.

    x: (batch, *spatial, in_channels); one example: ``x[None]`` or ``fn.vmap``.

    As flax's ConvTranspose / jax.lax.conv_transpose with ``transpose_kernel=False``:
    the input is dilated by ``strides`` and convolved with a stride-1 kernel. Input
    ``(batch, *spatial, in_channels)`` of rank exactly ``len(kernel_size) + 2``: the
    leading batch axis is required (for one example use ``x[None]``).

    Args:
      features: the output channels, a positive int.
      kernel_size: a tuple, one size per spatial axis.
      strides: an int or one per spatial axis (default 1): the upsampling factor.
      padding: ``"SAME"`` (the default: spatial sizes ``in * stride``), ``"VALID"``
        (``in * stride + max(kernel - stride, 0)``), an int, or ``(lo, hi)`` pairs that
        pad the dilated input.
      kernel_dilation: an int or one per spatial axis (default 1).
      use_bias: add the bias ``b`` (default True).
      kernel_init: initializer of ``w`` (default ``"lecun_normal"``).
      bias_init: initializer of ``b`` (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``conv_transpose_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, *out_spatial,
      features))`` with params ``{"w": (*kernel_size, in_channels, features), "b":
      (features,)}``. ``apply(params, x)`` returns the transposed convolution; it uses
      no key, train or state.

    Raises:
      ValueError: bad arguments, or ``padding="CAUSAL"``.
      LayerError: an input of the wrong rank, or one that gives an empty output.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> up = nn.ConvTranspose(4, (3, 3), strides=2)
      >>> params, out_shape = up.init(random.key(0), (-1, 7, 7, 8))
      >>> out_shape, params["w"].shape
      ((-1, 14, 14, 4), (3, 3, 8, 4))
      >>> up.apply(params, fnp.ones((2, 7, 7, 8))).shape
      (2, 14, 14, 4)
    """

    def __init__(
        self,
        features,
        kernel_size,
        strides=1,
        padding="SAME",
        kernel_dilation=1,
        *,
        use_bias=True,
        kernel_init="lecun_normal",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(
            features,
            kernel_size,
            strides,
            padding,
            kernel_dilation,
            1,
            use_bias=use_bias,
            kernel_init=kernel_init,
            bias_init=bias_init,
            dtype=dtype,
            name=name,
        )
        if self.padding == "CAUSAL":
            raise ValueError("ConvTranspose: padding must be 'SAME', 'VALID' or explicit")

    def output_shape(self, input_shape):
        _check_input(input_shape, self._n)
        pads = _transpose_pads(self.padding, self._dilated_kernel(), self.strides)
        spatial = []
        for d, k, s, (lo, hi) in zip(input_shape[1:-1], self._dilated_kernel(), self.strides, pads):
            spatial.append(-1 if d == -1 else (d - 1) * s + 1 + lo + hi - k + 1)
        if any(d != -1 and d <= 0 for d in spatial):
            raise LayerError(
                f"an input of shape {input_shape} gives an empty output with "
                f"padding {self.padding!r}"
            )
        return (input_shape[0],) + tuple(spatial) + (self.features,)

    def forward(self, params, x):
        pads = _transpose_pads(self.padding, self._dilated_kernel(), self.strides)
        y = lax.conv_general_dilated(
            x,
            params["w"],
            (1,) * self._n,
            pads,
            lhs_dilation=self.strides,
            rhs_dilation=self.kernel_dilation,
            dimension_numbers=_LAYOUTS[self._n],
        )
        return y + params["b"] if self.use_bias else y
