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
    """Batch normalization over every axis but the last (as flax's BatchNorm).

    x: (batch, ..., features); the statistics are over every axis but the last.

    Input ``(batch, ..., C)``, features last: the statistics are taken over every axis
    but the last, so the leading batch axis is what they average over (a single
    example without one normalizes to the bias in training). Statistics are computed in
    float32 (or wider) and the output has the input's dtype.

    State: ``{"mean": (C,), "var": (C,)}``, float32 running averages starting at 0
    and 1. In training (``train=True``) the batch's mean and biased variance
    normalize, and the state is updated as ``running = momentum * running + (1 -
    momentum) * batch`` (flax's convention: momentum close to 1; PyTorch's
    ``momentum=0.1`` is ``momentum=0.9`` here). In evaluation (the default) the running
    statistics normalize and the state comes back unchanged. The new state carries no
    gradient.

    Args:
      momentum: the running averages' decay, in [0, 1] (default 0.99).
      epsilon: added to the variance (default 1e-5).
      use_scale: multiply by the learned ``scale`` (default True).
      use_bias: add the learned ``bias`` (default True).
      scale_init: initializer of ``scale`` (default ``"ones"``).
      bias_init: initializer of ``bias`` (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``batch_norm_<i>``).

    Returns:
      A stateful layer. ``init_with_state(key, input_shape)`` returns ``(params,
      state, input_shape)`` with params ``{"scale": (C,), "bias": (C,)}``.
      ``apply(params, x, state=state, train=...)`` returns ``(y, new_state)``; it needs
      ``state=`` and uses no key.

    Raises:
      ValueError: ``momentum`` outside [0, 1].
      LayerError: ``apply`` without ``state=``, an unknown feature axis, or params or
        state of other shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> bn = nn.BatchNorm(momentum=0.9)
      >>> params, state, out_shape = bn.init_with_state(random.key(0), (-1, 3))
      >>> out_shape, state["mean"].tolist()
      ((-1, 3), [0.0, 0.0, 0.0])
      >>> x = fnp.array([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]])
      >>> y, state = bn.apply(params, x, state=state, train=True)
      >>> y.shape, [round(m, 4) for m in state["mean"].tolist()]
      ((2, 3), [0.1, 0.2, 0.3])
      >>> y, _ = bn.apply(params, x, state=state)  # evaluation: running statistics
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
    """Normalizes each position over its last axis (as flax's LayerNorm).

    x: (batch, ..., features); each position is normalized over the last axis.

    ``(x - mean) / sqrt(var + epsilon) * scale + bias`` with the mean and biased
    variance of the last axis. Input ``(..., features)``: any leading axes, so no batch
    axis is required. Statistics are in float32 (or wider); the output has the input's
    dtype.

    Args:
      epsilon: added to the variance (default 1e-5).
      use_scale: multiply by the learned ``scale`` (default True).
      use_bias: add the learned ``bias`` (default True).
      scale_init: initializer of ``scale`` (default ``"ones"``).
      bias_init: initializer of ``bias`` (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``layer_norm_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, input_shape)`` with params
      ``{"scale": (features,), "bias": (features,)}``. ``apply(params, x)`` returns the
      normalized array; it uses no key, train or state.

    Raises:
      LayerError: a scalar input or an unknown feature axis; params of other shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> norm = nn.LayerNorm()
      >>> params, out_shape = norm.init(random.key(0), (-1, 3))
      >>> y = norm.apply(params, fnp.array([[0.0, 1.0, 2.0]]))
      >>> out_shape, [round(v, 4) for v in y[0].tolist()]
      ((-1, 3), [-1.2247, 0.0, 1.2247])
    """

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
    """Root-mean-square normalization over the last axis (as flax's RMSNorm).

    x: (batch, ..., features); each position is normalized over the last axis.

    ``x / sqrt(mean(x^2) + epsilon) * scale``: no centering and no bias. Input
    ``(..., features)``: any leading axes, no batch axis required. Statistics are in
    float32 (or wider); the output has the input's dtype.

    Args:
      epsilon: added to the mean square (default 1e-6).
      use_scale: multiply by the learned ``scale`` (default True).
      scale_init: initializer of ``scale`` (default ``"ones"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``rms_norm_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, input_shape)`` with params
      ``{"scale": (features,)}``. ``apply(params, x)`` returns the normalized array; it
      uses no key, train or state.

    Raises:
      LayerError: a scalar input or an unknown feature axis; params of other shapes.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> norm = nn.RMSNorm()
      >>> params, out_shape = norm.init(random.key(0), (-1, 2))
      >>> [round(v, 4) for v in norm.apply(params, fnp.array([[3.0, 4.0]]))[0].tolist()]
      [0.8485, 1.1314]
    """

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
    """Group normalization, channels last (as flax's GroupNorm).

    x: (batch, ..., channels), the batch axis first.

    The channels (last axis) are split into ``num_groups`` groups, and each example's
    group is normalized over its spatial axes and its channels; then per-channel
    ``scale`` and ``bias``. ``num_groups=1`` is LayerNorm over (spatial, channels);
    ``num_groups=C`` is InstanceNorm. Input ``(batch, *spatial, C)`` of rank >= 2:
    axis 0 is the batch axis (never averaged over); for one example use ``x[None]``.

    Args:
      num_groups: the number of groups, dividing C (default 32); ignored when
        ``group_size`` is given.
      epsilon: added to the variance (default 1e-5).
      group_size: channels per group instead of a number of groups (C must divide by
        it).
      use_scale: multiply by the learned ``scale`` (default True).
      use_bias: add the learned ``bias`` (default True).
      scale_init: initializer of ``scale`` (default ``"ones"``).
      bias_init: initializer of ``bias`` (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``group_norm_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, input_shape)`` with params
      ``{"scale": (C,), "bias": (C,)}``. ``apply(params, x)`` returns the normalized
      array; it uses no key, train or state.

    Raises:
      ValueError: ``num_groups`` or ``group_size`` is not a positive int.
      LayerError: an input of rank below 2, or channels that do not split into the
        groups.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> norm = nn.GroupNorm(num_groups=2)
      >>> params, out_shape = norm.init(random.key(0), (-1, 4, 4, 6))
      >>> out_shape, params["scale"].shape
      ((-1, 4, 4, 6), (6,))
      >>> norm.apply(params, fnp.ones((2, 4, 4, 6))).shape
      (2, 4, 4, 6)
    """

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
