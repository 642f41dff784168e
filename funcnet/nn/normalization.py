"""Normalization: BatchNorm (with running statistics as state), LayerNorm, RMSNorm,
GroupNorm. Features are on the last axis (channels last). Statistics are computed in
float32 (or wider) and the result cast back to the input's dtype."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.lax import stop_gradient
from funcnet.nn import initializers
from funcnet.nn.core import Layer, LayerError, Param, resolve_init
from funcnet.nn.linear import _features

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "RMSNorm"]


def _stat_dtype(x):
    dt = np.dtype(x.dtype)
    return dt if dt.itemsize >= 4 and dt.kind == "f" else np.dtype(np.float32)


def _features_of(input_shape, min_rank=1):
    if len(input_shape) < min_rank:
        raise LayerError(
            f"expects an input of rank >= {min_rank} with features last, got shape {input_shape}"
        )
    if input_shape[-1] == -1:
        raise LayerError(f"needs the feature axis (last) known, got shape {input_shape}")
    return input_shape[-1]


class _Norm(Layer):
    min_rank = 1

    def __init__(self, epsilon, use_scale, use_bias, scale_init, bias_init, dtype, name):
        super().__init__(name=name)
        kind = type(self).__name__
        self.epsilon = float(epsilon)
        self.use_scale, self.use_bias = bool(use_scale), bool(use_bias)
        self.scale_init = resolve_init(scale_init, kind, "scale_init")
        self.bias_init = resolve_init(bias_init, kind, "bias_init")
        self.dtype = dtype

    def param_specs(self, input_shape):
        c = _features_of(input_shape, self.min_rank)
        specs = {}
        if self.use_scale:
            specs["scale"] = Param((c,), self.scale_init, self.dtype)
        if self.use_bias:
            specs["bias"] = Param((c,), self.bias_init, self.dtype)
        return specs

    def output_shape(self, input_shape):
        _features_of(input_shape, self.min_rank)
        return input_shape

    def expected_input_shape(self, params, input_shape):
        p = params.get("scale", params.get("bias"))
        return tuple(input_shape[:-1]) + (p.shape[0],)

    def _affine(self, params, y, dtype):
        if self.use_scale:
            y = y * params["scale"]
        if self.use_bias:
            y = y + params["bias"]
        return y.astype(dtype)


class BatchNorm(_Norm):
    """Batch normalization over every axis but the last (features).

    State: ``{"mean": (C,), "var": (C,)}``, running averages. In training
    (``train=True``) the batch's mean and (biased) variance normalize, and the state
    is updated as ``running = momentum * running + (1 - momentum) * batch`` (flax's
    convention: momentum close to 1, default 0.99; PyTorch's ``momentum=0.1`` is
    ``1 - momentum`` here). In evaluation the running statistics normalize and the
    state comes back unchanged. Params: ``scale`` (ones), ``bias`` (zeros).

    Use::

        params, state, _ = model.init_with_state(key, (-1, 16))
        y, state = model.apply(params, x, state=state, train=True)
        y, _ = model.apply(params, x, state=state)              # evaluation
    """

    stateful = True

    def __init__(
        self,
        momentum=0.99,
        epsilon=1e-5,
        *,
        use_scale=True,
        use_bias=True,
        scale_init="ones",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(epsilon, use_scale, use_bias, scale_init, bias_init, dtype, name)
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)

    def state_specs(self, input_shape):
        c = _features_of(input_shape)
        return {
            "mean": Param((c,), initializers.zeros, np.float32),
            "var": Param((c,), initializers.ones, np.float32),
        }

    def forward(self, params, x, *, state, train=False):
        x = fnp.asarray(x)
        xs = x.astype(_stat_dtype(x))
        if train:
            axes = tuple(range(x.ndim - 1))
            mean = fnp.mean(xs, axis=axes)
            var = fnp.mean(fnp.square(xs - mean), axis=axes)
            # Running statistics are never differentiated: stop_gradient keeps the new
            # state a plain value when it is returned as grad's aux output.
            m = self.momentum
            bmean, bvar = stop_gradient(mean), stop_gradient(var)
            new_state = {
                "mean": m * state["mean"] + (1 - m) * bmean.astype(state["mean"].dtype),
                "var": m * state["var"] + (1 - m) * bvar.astype(state["var"].dtype),
            }
        else:
            mean, var, new_state = state["mean"], state["var"], state
        y = (xs - mean) * lax.rsqrt(var + self.epsilon)
        return self._affine(params, y, x.dtype), new_state


class LayerNorm(_Norm):
    """Normalize each example over its last axis: (x - mean) / sqrt(var + eps), then
    ``scale`` and ``bias`` (features,)."""

    def __init__(
        self,
        epsilon=1e-5,
        *,
        use_scale=True,
        use_bias=True,
        scale_init="ones",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(epsilon, use_scale, use_bias, scale_init, bias_init, dtype, name)

    def forward(self, params, x):
        x = fnp.asarray(x)
        xs = x.astype(_stat_dtype(x))
        mean = fnp.mean(xs, axis=-1, keepdims=True)
        var = fnp.mean(fnp.square(xs - mean), axis=-1, keepdims=True)
        return self._affine(params, (xs - mean) * lax.rsqrt(var + self.epsilon), x.dtype)


class RMSNorm(_Norm):
    """x / sqrt(mean(x^2) + eps) over the last axis, times ``scale`` (no centering,
    no bias)."""

    def __init__(
        self, epsilon=1e-6, *, use_scale=True, scale_init="ones", dtype=np.float32, name=None
    ):
        super().__init__(epsilon, use_scale, False, scale_init, "zeros", dtype, name)

    def forward(self, params, x):
        x = fnp.asarray(x)
        xs = x.astype(_stat_dtype(x))
        ms = fnp.mean(fnp.square(xs), axis=-1, keepdims=True)
        return self._affine(params, xs * lax.rsqrt(ms + self.epsilon), x.dtype)


class GroupNorm(_Norm):
    """Split the channels (last axis) into ``num_groups`` groups and normalize each
    example's group over its spatial axes and channels; then per-channel ``scale`` and
    ``bias``. ``num_groups=1`` is LayerNorm over (spatial, channels); ``num_groups=C``
    is InstanceNorm. Give ``group_size`` instead to fix channels per group."""

    min_rank = 2

    def __init__(
        self,
        num_groups=32,
        epsilon=1e-5,
        *,
        group_size=None,
        use_scale=True,
        use_bias=True,
        scale_init="ones",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(epsilon, use_scale, use_bias, scale_init, bias_init, dtype, name)
        if group_size is not None:
            self.num_groups, self.group_size = (
                None,
                _features(group_size, "GroupNorm", "group_size"),
            )
        else:
            self.num_groups = _features(num_groups, "GroupNorm", "num_groups")
            self.group_size = None

    def _groups(self, input_shape):
        c = _features_of(input_shape, self.min_rank)
        g = self.num_groups if self.num_groups is not None else c // self.group_size
        if g == 0 or c % g or (self.group_size is not None and c % self.group_size):
            raise LayerError(
                f"{c} channels (input shape {input_shape}) do not split into "
                f"{self.num_groups or self.group_size} "
                f"{'groups' if self.num_groups else 'channels per group'}"
            )
        return g

    def param_specs(self, input_shape):
        self._groups(input_shape)
        return super().param_specs(input_shape)

    def output_shape(self, input_shape):
        self._groups(input_shape)
        return input_shape

    def forward(self, params, x):
        x = fnp.asarray(x)
        g = self._groups(tuple(x.shape))
        xs = x.astype(_stat_dtype(x))
        grouped = fnp.reshape(xs, tuple(x.shape[:-1]) + (g, x.shape[-1] // g))
        axes = tuple(range(1, x.ndim - 1)) + (x.ndim,)
        mean = fnp.mean(grouped, axis=axes, keepdims=True)
        var = fnp.mean(fnp.square(grouped - mean), axis=axes, keepdims=True)
        y = fnp.reshape((grouped - mean) * lax.rsqrt(var + self.epsilon), tuple(x.shape))
        return self._affine(params, y, x.dtype)
