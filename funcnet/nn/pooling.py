"""Pooling, channels last: MaxPool, AvgPool over windows of ``len(window_shape)``
spatial axes, and GlobalAvgPool / GlobalMaxPool over every spatial axis."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.nn.conv import _AXES, _conv_pads, _padding, _tuple
from funcnet.nn.core import Layer, LayerError

__all__ = ["AvgPool", "GlobalAvgPool", "GlobalMaxPool", "MaxPool"]


class _Pool(Layer):
    def __init__(self, window_shape, strides=None, padding="VALID", *, name=None):
        super().__init__(name=name)
        kind = type(self).__name__
        if isinstance(window_shape, (int, np.integer)):
            raise TypeError(
                f"{kind}: window_shape must be a tuple, one size per spatial "
                f"axis: ({window_shape},) or ({window_shape}, {window_shape})"
            )
        n = len(tuple(window_shape))
        if n not in _AXES:
            raise ValueError(
                f"{kind}: window_shape must have 1, 2 or 3 sizes, got {window_shape!r}"
            )
        self.window_shape = _tuple(window_shape, n, kind, "window_shape")
        self.strides = self.window_shape if strides is None else _tuple(strides, n, kind, "strides")
        self.padding = _padding(padding, n, kind, allow_causal=False)

    def _check(self, input_shape):
        n = len(self.window_shape)
        if len(input_shape) != n + 2:
            raise LayerError(
                f"a {n}-D window expects an input of rank {n + 2} {_AXES[n]}, "
                f"got shape {input_shape}"
            )

    def output_shape(self, input_shape):
        self._check(input_shape)
        spatial = []
        for i, d in enumerate(input_shape[1:-1]):
            if d == -1:
                spatial.append(-1)
                continue
            w, s = self.window_shape[i], self.strides[i]
            lo, hi = (
                _conv_pads(self.padding, [d], [w], [s])[0]
                if isinstance(self.padding, str)
                else self.padding[i]
            )
            size = (d + lo + hi - w) // s + 1
            if size <= 0:
                raise LayerError(
                    f"an input of shape {input_shape} is smaller than the "
                    f"window {self.window_shape}"
                )
            spatial.append(size)
        return (input_shape[0],) + tuple(spatial) + (input_shape[-1],)

    def _pads(self, x):
        return _conv_pads(self.padding, x.shape[1:-1], self.window_shape, self.strides)

    def _reduce(self, x, kind, pads):
        init = 0 if kind == "add" else -np.inf
        return lax.reduce_window(
            x,
            init,
            kind,
            (1,) + self.window_shape + (1,),
            (1,) + self.strides + (1,),
            ((0, 0),) + pads + ((0, 0),),
        )


class MaxPool(_Pool):
    """Max over windows. ``strides`` default to the window (non-overlapping);
    padding 'VALID' (default), 'SAME' or (lo, hi) pairs (padded entries never win)."""

    def forward(self, params, x):
        self._check(tuple(x.shape))
        return self._reduce(x, "max", self._pads(x))


class AvgPool(_Pool):
    """Mean over windows. With padding, ``count_include_pad=True`` (default, as flax)
    divides by the full window size; False divides by the number of real entries."""

    def __init__(
        self, window_shape, strides=None, padding="VALID", *, count_include_pad=True, name=None
    ):
        super().__init__(window_shape, strides, padding, name=name)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, params, x):
        self._check(tuple(x.shape))
        pads = self._pads(x)
        total = self._reduce(x, "add", pads)
        if self.count_include_pad or all(p == (0, 0) for p in pads):
            return total / float(np.prod(self.window_shape))
        ones = fnp.ones((1,) + tuple(x.shape[1:-1]) + (1,), x.dtype)
        return total / self._reduce(ones, "add", pads)


class _GlobalPool(Layer):
    def __init__(self, *, keepdims=False, name=None):
        super().__init__(name=name)
        self.keepdims = bool(keepdims)

    def output_shape(self, input_shape):
        if len(input_shape) < 3:
            raise LayerError(
                f"expects an input (batch, *spatial, channels) of rank >= 3, "
                f"got shape {input_shape}"
            )
        if self.keepdims:
            return (input_shape[0],) + (1,) * (len(input_shape) - 2) + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def forward(self, params, x):
        self.output_shape(tuple(x.shape))
        axes = tuple(range(1, x.ndim - 1))
        return self._reduce(x, axes)


class GlobalAvgPool(_GlobalPool):
    """Mean over every spatial axis: (batch, *spatial, C) -> (batch, C)."""

    def _reduce(self, x, axes):
        return fnp.mean(x, axis=axes, keepdims=self.keepdims)


class GlobalMaxPool(_GlobalPool):
    """Max over every spatial axis: (batch, *spatial, C) -> (batch, C)."""

    def _reduce(self, x, axes):
        return fnp.max(x, axis=axes, keepdims=self.keepdims)
