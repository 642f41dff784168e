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
    """Max over sliding windows, channels last (as flax's max_pool, via reduce_window).

    x: (batch, *spatial, channels); one example: ``x[None]`` or ``fn.vmap``.

    Input ``(batch, *spatial, channels)`` of rank exactly ``len(window_shape) + 2``:
    the leading batch axis is required (for one example use ``x[None]``). Each channel
    is pooled separately.

    Args:
      window_shape: a tuple, one window size per spatial axis (1 to 3 of them); an int
        is refused.
      strides: an int or one per spatial axis (default: the window, non-overlapping).
      padding: ``"VALID"`` (the default), ``"SAME"``, an int or ``(lo, hi)`` pairs;
        padded entries are -inf, so they never win.
      name: the layer's key in a container (default ``max_pool_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({}, (batch,
      *out_spatial, channels))``; ``apply(params, x)`` returns the maxima; it uses no
      key, train or state.

    Raises:
      TypeError: ``window_shape`` is an int.
      ValueError: bad window, strides or padding.
      LayerError: an input of the wrong rank, or smaller than the window.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> pool = nn.MaxPool((2, 2))
      >>> pool.init(random.key(0), (-1, 4, 4, 3))
      ({}, (-1, 2, 2, 3))
      >>> pool.apply({}, fnp.arange(16.0).reshape(1, 4, 4, 1))[..., 0].tolist()
      [[[5.0, 7.0], [13.0, 15.0]]]
    """

    def forward(self, params, x):
        self._check(tuple(x.shape))
        return self._reduce(x, "max", self._pads(x))


class AvgPool(_Pool):
    """Mean over sliding windows, channels last (as flax's avg_pool, via reduce_window).

    x: (batch, *spatial, channels); one example: ``x[None]`` or ``fn.vmap``.

    Input ``(batch, *spatial, channels)`` of rank exactly ``len(window_shape) + 2``:
    the leading batch axis is required (for one example use ``x[None]``).

    Args:
      window_shape: a tuple, one window size per spatial axis (1 to 3 of them).
      strides: an int or one per spatial axis (default: the window, non-overlapping).
      padding: ``"VALID"`` (the default), ``"SAME"``, an int or ``(lo, hi)`` pairs.
      count_include_pad: with padding, True (the default, as flax) divides by the full
        window size; False divides by the number of real entries in the window.
      name: the layer's key in a container (default ``avg_pool_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({}, (batch,
      *out_spatial, channels))``; ``apply(params, x)`` returns the means; it uses no
      key, train or state.

    Raises:
      TypeError: ``window_shape`` is an int.
      ValueError: bad window, strides or padding.
      LayerError: an input of the wrong rank, or smaller than the window.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.AvgPool((2, 2)).apply({}, fnp.arange(16.0).reshape(1, 4, 4, 1))[..., 0].tolist()
      [[[2.5, 4.5], [10.5, 12.5]]]
    """

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
    """Mean over every spatial axis: ``(batch, *spatial, C) -> (batch, C)``.

    x: (batch, *spatial, channels); one example: ``x[None]`` or ``fn.vmap``.

    Input of rank >= 3 with a leading batch axis and channels last; axes 1 to -2 are
    averaged.

    Args:
      keepdims: keep the spatial axes as size 1, ``(batch, 1, ..., 1, C)`` (default
        False).
      name: the layer's key in a container (default ``global_avg_pool_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({}, (batch,
      C))``; ``apply(params, x)`` returns the means; it uses no key, train or state.

    Raises:
      LayerError: an input of rank below 3.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.GlobalAvgPool().apply({}, fnp.ones((2, 4, 4, 3))).shape
      (2, 3)
    """

    def _reduce(self, x, axes):
        return fnp.mean(x, axis=axes, keepdims=self.keepdims)


class GlobalMaxPool(_GlobalPool):
    """Max over every spatial axis: ``(batch, *spatial, C) -> (batch, C)``.

    x: (batch, *spatial, channels); one example: ``x[None]`` or ``fn.vmap``.

    Input of rank >= 3 with a leading batch axis and channels last; the max is over
    axes 1 to -2.

    Args:
      keepdims: keep the spatial axes as size 1, ``(batch, 1, ..., 1, C)`` (default
        False).
      name: the layer's key in a container (default ``global_max_pool_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({}, (batch,
      C))``; ``apply(params, x)`` returns the maxima; it uses no key, train or state.

    Raises:
      LayerError: an input of rank below 3.

    Example:
      >>> from funcnet import nn, random
      >>> nn.GlobalMaxPool(keepdims=True).init(random.key(0), (-1, 4, 4, 3))
      ({}, (-1, 1, 1, 3))
    """

    def _reduce(self, x, axes):
        return fnp.max(x, axis=axes, keepdims=self.keepdims)
