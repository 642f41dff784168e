"""Quantized layers: int8 Dense/Conv with integer matmul/convolution, and int4
weight-only Dense/Conv.

``QuantizedDense`` and ``QuantizedConv`` hold int8 weights (one scale per output
channel) and a per-tensor input scale. ``apply`` quantizes the input to int8, runs
``lax.dot_general`` / ``lax.conv_general_dilated`` on int8 x int8 operands with
``preferred_element_type=int32`` (a ``stablehlo.dot_general`` / ``stablehlo.convolution``
on ``xi8`` tensors producing ``xi32``), converts the int32 accumulators to float32 and
multiplies by ``x_scale * w_scale``, then adds the float bias.

``Int4Dense`` and ``Int4Conv`` keep only the weights small: 4-bit codes packed two per
byte, unpacked with shifts and masks in the program, dequantized to float32, and a
float matmul/convolution.
"""

import numpy as np

from funcnet import lax
from funcnet.compress.quantize import dequantize, quantize_per_tensor, unpack_int4
from funcnet.nn import initializers
from funcnet.nn.conv import _LAYOUTS, Conv, ConvTranspose, _conv_pads  # the float Conv's rules
from funcnet.nn.core import Layer, LayerError, Param
from funcnet.nn.linear import Dense

__all__ = ["Int4Conv", "Int4Dense", "QuantizedConv", "QuantizedDense"]


def _check_int8(params, key):
    dtype = np.dtype(params[key].dtype)
    if dtype != np.int8:
        raise LayerError(f"params['{key}'] must be int8 codes, got dtype {dtype}")


def _bias_spec(specs, use_bias, w_shape):
    if use_bias:
        specs["b"] = Param(w_shape[-1:], initializers.zeros, np.float32)
    return specs


class _QuantizedBase(Layer):
    """What the quantized layers share: their float twin (for shapes and checks). A
    subclass names the product (``_product(x, w, **kw)``: Dense's matmul or Conv's
    convolution); the int8 and int4 mixins say what it is applied to."""

    quantized = True  # quantize_model refuses to quantize these again

    def _float_specs(self, input_shape):
        return self._float.param_specs(input_shape)

    def output_shape(self, input_shape):
        return self._float.output_shape(input_shape)

    def expected_input_shape(self, params, input_shape):
        return None


class _Int8Mixin:
    """int8 weights and input, the product accumulated in int32, then rescaled."""

    def param_specs(self, input_shape):
        w = self._float_specs(input_shape)["w"]
        specs = {
            "w_q": Param(w.shape, initializers.zeros, np.int8),
            "w_scale": Param(w.shape[-1:], initializers.ones, np.float32),
            "x_scale": Param((), initializers.ones, np.float32),
        }
        return _bias_spec(specs, self.use_bias, w.shape)

    def forward(self, params, x):
        _check_int8(params, "w_q")
        xq = quantize_per_tensor(x, params["x_scale"])
        acc = self._product(xq, params["w_q"], preferred_element_type=np.int32)
        # int32 accumulators -> float32: times x_scale * w_scale (per output channel,
        # the last axis), plus the bias.
        scale = params["x_scale"].astype(np.float32) * params["w_scale"].astype(np.float32)
        y = acc.astype(np.float32) * scale
        return y + params["b"] if self.use_bias else y


class _Int4Mixin:
    """Packed 4-bit weights, unpacked and dequantized in the program; a float product."""

    def param_specs(self, input_shape):
        w = self._float_specs(input_shape)["w"]
        n = int(np.prod(w.shape))
        specs = {
            "w_packed": Param(((n + 1) // 2,), initializers.zeros, np.uint8),
            "w_scale": Param(w.shape[-1:], initializers.ones, np.float32),
        }
        return _bias_spec(specs, self.use_bias, w.shape)

    def forward(self, params, x):
        # The float32 kernel: the 4-bit codes unpacked, times the per-channel scales.
        codes = unpack_int4(params["w_packed"], self._float_specs(x.shape)["w"].shape)
        w = dequantize(codes, params["w_scale"], axis=-1)
        y = self._product(x, w.astype(x.dtype))
        return y + params["b"] if self.use_bias else y


class _DenseBase(_QuantizedBase):
    def __init__(self, features, *, use_bias=True, name=None):
        super().__init__(name=name)
        self._float = Dense(features, use_bias=use_bias)
        self.features = self._float.features
        self.use_bias = self._float.use_bias

    @classmethod
    def from_float(cls, dense):
        """The quantized form of a float ``nn.Dense`` (same features, bias and name).

        Args:
          dense: an ``nn.Dense``.

        Returns:
          The quantized layer (its params come from ``quantize_model``).

        Raises:
          TypeError: ``dense`` is not an ``nn.Dense``.
        """
        if not isinstance(dense, Dense):
            raise TypeError(f"{cls.__name__}.from_float takes an nn.Dense, got {dense!r}")
        return cls(dense.features, use_bias=dense.use_bias, name=dense.name)

    def default_name(self):
        return "dense"

    def _product(self, x, w, **kw):
        return lax.dot_general(x, w, (((x.ndim - 1,), (0,)), ((), ())), **kw)


class QuantizedDense(_Int8Mixin, _DenseBase):
    """An int8 Dense: ``(quantize(x) @ w_q) * (x_scale * w_scale) + b``, integer matmul.

    x: (batch, ..., in_features), float; quantized per tensor with ``x_scale``.

    Params ``{"w_q": int8 (in, out), "w_scale": float32 (out,), "x_scale": float32 (),
    "b": float32 (out,)}`` (no ``b`` without bias). The product runs as
    ``lax.dot_general`` of int8 x int8 with ``preferred_element_type=int32`` (int32
    accumulation), then is rescaled to float32. ``quantize_model`` builds these from a
    float model; ``from_float`` from one Dense.

    Args:
      features: the output size.
      use_bias: whether the params hold a float bias ``b`` (default True).
      name: the layer's key in a container (default ``dense_<i>``, as the float Dense,
        so a quantized model's params keep the float model's keys).

    Returns:
      A layer; ``apply(params, x)`` returns float32 of shape ``x.shape[:-1] +
      (features,)``.

    Raises:
      LayerError: params of other shapes, or ``w_q`` that is not int8.

    Example:
      >>> from funcnet import compress, nn, random
      >>> dense = nn.Dense(3)
      >>> params, _ = dense.init(random.key(0), (-1, 4))
      >>> q, w_scale = compress.quantize_per_channel(params["w"])
      >>> qparams = {"w_q": q, "w_scale": w_scale, "x_scale": np.float32(1 / 127),
      ...            "b": params["b"]}
      >>> x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
      >>> y = compress.QuantizedDense.from_float(dense).apply(qparams, x)
      >>> bool(np.allclose(y, dense.apply(params, x), atol=0.05))
      True
    """

    # Written out (not inherited) so that the reference and help() show the signature.
    def __init__(self, features, *, use_bias=True, name=None):
        super().__init__(features, use_bias=use_bias, name=name)


# The float Conv's configuration: what a quantized conv takes, keeps and copies.
_CONV_CONFIG = (
    "features",
    "kernel_size",
    "strides",
    "padding",
    "kernel_dilation",
    "feature_group_count",
    "use_bias",
)


class _ConvBase(_QuantizedBase):
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
        name=None,
    ):
        super().__init__(name=name)
        # nn.Conv checks and normalizes the configuration (and gives the shapes).
        self._float = Conv(
            features,
            kernel_size,
            strides,
            padding,
            kernel_dilation,
            feature_group_count,
            use_bias=use_bias,
        )
        for attr in _CONV_CONFIG:
            setattr(self, attr, getattr(self._float, attr))

    @classmethod
    def from_float(cls, conv):
        """The quantized form of a float ``nn.Conv``: same features, kernel size,
        strides, padding, dilation, feature groups, bias and name.

        Args:
          conv: an ``nn.Conv`` (not a ``ConvTranspose``).

        Returns:
          The quantized layer (its params come from ``quantize_model``).

        Raises:
          TypeError: ``conv`` is not an ``nn.Conv``.
        """
        if not isinstance(conv, Conv) or isinstance(conv, ConvTranspose):
            raise TypeError(f"{cls.__name__}.from_float takes an nn.Conv, got {conv!r}")
        return cls(**{attr: getattr(conv, attr) for attr in _CONV_CONFIG}, name=conv.name)

    def default_name(self):
        return "conv"

    def _product(self, x, w, **kw):
        pads = _conv_pads(self.padding, x.shape[1:-1], self._float._dilated_kernel(), self.strides)
        return lax.conv_general_dilated(
            x,
            w,
            self.strides,
            pads,
            rhs_dilation=self.kernel_dilation,
            dimension_numbers=_LAYOUTS[len(self.kernel_size)],
            feature_group_count=self.feature_group_count,
            **kw,
        )


class QuantizedConv(_Int8Mixin, _ConvBase):
    """An int8 Conv: the convolution of int8 input and kernel with int32 accumulation,
    rescaled by ``x_scale * w_scale``, plus the float bias.

    x: (batch, *spatial, in_channels), float; quantized per tensor with ``x_scale``.

    Params ``{"w_q": int8 HWIO, "w_scale": float32 (features,), "x_scale": float32 (),
    "b": float32 (features,)}``. The convolution is ``lax.conv_general_dilated`` on int8
    operands with ``preferred_element_type=int32`` and the float Conv's strides, padding,
    dilation and feature groups.

    Args:
      features: the output channels.
      kernel_size: one size per spatial axis.
      strides: an int or one per spatial axis (default 1).
      padding: as ``nn.Conv`` (default ``"SAME"``).
      kernel_dilation: an int or one per spatial axis (default 1).
      feature_group_count: groups of a grouped convolution (default 1).
      use_bias: whether the params hold a float bias (default True).
      name: the layer's key in a container (default ``conv_<i>``, as the float Conv).

    Returns:
      A layer; ``apply(params, x)`` returns float32 of the float Conv's output shape.

    Raises:
      LayerError: params of other shapes, or ``w_q`` that is not int8.

    Example:
      >>> from funcnet import compress, nn
      >>> conv = nn.Conv(8, (3, 3), strides=2)
      >>> qconv = compress.QuantizedConv.from_float(conv)
      >>> qconv.strides, qconv.output_shape((-1, 8, 8, 1))
      ((2, 2), (-1, 4, 4, 8))
    """

    # Written out (not inherited) so that the reference and help() show the signature.
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
        name=None,
    ):
        super().__init__(
            features,
            kernel_size,
            strides,
            padding,
            kernel_dilation,
            feature_group_count,
            use_bias=use_bias,
            name=name,
        )


class Int4Dense(_Int4Mixin, _DenseBase):
    """A Dense with int4 weights (weight-only): packed 4-bit codes, float matmul.

    x: (batch, ..., in_features), float32.

    Params ``{"w_packed": uint8 (ceil(in * out / 2),), "w_scale": float32 (out,), "b":
    float32 (out,)}``: the codes of ``quantize_per_channel(w, bits=4)`` (in [-7, 7])
    packed by ``pack_int4`` (1/8 of the float32 kernel's bytes). ``apply`` unpacks them
    with shifts and masks, dequantizes to float32 and runs a float matmul.

    Args:
      features: the output size.
      use_bias: whether the params hold a float bias (default True).
      name: the layer's key in a container (default ``dense_<i>``).

    Returns:
      A layer; ``apply(params, x)`` returns ``x @ dequantized_w + b``.

    Raises:
      LayerError: params of other shapes.

    Example:
      >>> from funcnet import compress, nn
      >>> compress.Int4Dense.from_float(nn.Dense(16)).param_specs((-1, 4))["w_packed"].shape
      (32,)
    """

    # Written out (not inherited) so that the reference and help() show the signature.
    def __init__(self, features, *, use_bias=True, name=None):
        super().__init__(features, use_bias=use_bias, name=name)


class Int4Conv(_Int4Mixin, _ConvBase):
    """A Conv with int4 weights (weight-only): packed 4-bit codes, float convolution.

    x: (batch, *spatial, in_channels), float32.

    Params ``{"w_packed": uint8 (ceil(kernel size / 2),), "w_scale": float32
    (features,), "b": float32 (features,)}``; ``apply`` unpacks the codes in the
    program, dequantizes them and convolves in float32 with the float Conv's strides,
    padding, dilation and feature groups.

    Args:
      features: the output channels.
      kernel_size: one size per spatial axis.
      strides: an int or one per spatial axis (default 1).
      padding: as ``nn.Conv`` (default ``"SAME"``).
      kernel_dilation: an int or one per spatial axis (default 1).
      feature_group_count: groups of a grouped convolution (default 1).
      use_bias: whether the params hold a float bias (default True).
      name: the layer's key in a container (default ``conv_<i>``).

    Returns:
      A layer; ``apply(params, x)`` returns the convolution with the dequantized kernel.

    Raises:
      LayerError: params of other shapes.

    Example:
      >>> from funcnet import compress, nn
      >>> conv = compress.Int4Conv.from_float(nn.Conv(8, (3, 3)))
      >>> conv.param_specs((-1, 8, 8, 2))["w_packed"].shape
      (72,)
    """

    # Written out (not inherited) so that the reference and help() show the signature.
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
        name=None,
    ):
        super().__init__(
            features,
            kernel_size,
            strides,
            padding,
            kernel_dilation,
            feature_group_count,
            use_bias=use_bias,
            name=name,
        )
