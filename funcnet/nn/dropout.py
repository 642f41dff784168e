"""Dropout: ``rate`` is the probability to DROP an entry (as PyTorch, Keras and flax;
never the keep probability)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import random
from funcnet.nn.core import Layer, LayerError

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout: zero entries at random in training (as flax's Dropout).

    x: (batch, ...), any shape.

    In training (``train=True``) each entry is zeroed with probability ``rate`` and the
    kept ones are scaled by ``1 / (1 - rate)``, so the expected output is the input; in
    evaluation (the default) it is the identity. The mask is drawn with
    ``random.bernoulli(key, 1 - rate, ...)``. Any input shape works (no batch axis is
    required); the output has the input's shape.

    Args:
      rate: the probability to DROP an entry, a number in [0, 1] (never the keep
        probability); 1 gives zeros.
      broadcast_dims: axes along which one mask value is shared (default none), e.g.
        ``(1,)`` on ``(batch, time, features)`` drops the same features at every time
        step.
      name: the layer's key in a container (default ``dropout_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({},
      input_shape)``. ``apply(params, x, key=k, train=True)`` drops; ``train=False``
      (the default) returns ``x`` and needs no key. It uses no state.

    Raises:
      ValueError: ``rate`` outside [0, 1].
      LayerError: ``train=True`` without a key (and a rate above 0).

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> dropout = nn.Dropout(0.5)
      >>> params, out_shape = dropout.init(random.key(0), (-1, 4))
      >>> params, out_shape
      ({}, (-1, 4))
      >>> dropout.apply(params, fnp.ones((2, 4)), key=random.key(1), train=True).tolist()
      [[2.0, 0.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0]]
      >>> dropout.apply(params, fnp.ones((1, 4))).tolist()
      [[1.0, 1.0, 1.0, 1.0]]
    """

    def __init__(self, rate, *, broadcast_dims=(), name=None):
        super().__init__(name=name)
        if (
            isinstance(rate, (bool, np.bool_))  # Dropout(True) is a mistake, not rate 1
            or not isinstance(rate, (int, float, np.integer, np.floating))
            or not 0 <= rate <= 1
        ):
            raise ValueError(
                f"Dropout: rate (the probability to drop) must be in [0, 1], got {rate!r}"
            )
        self.rate = float(rate)
        self.broadcast_dims = tuple(int(d) for d in broadcast_dims)

    def output_shape(self, input_shape):
        return input_shape

    def forward(self, params, x, *, key=None, train=False):
        if not train or self.rate == 0:
            return x
        if key is None:
            raise LayerError(
                "needs a PRNG key in training mode: apply(params, x, "
                "key=funcnet.random.key(...), train=True), or train=False to "
                "evaluate without dropout"
            )
        x = fnp.asarray(x)
        if self.rate == 1:
            return fnp.zeros_like(x)
        shape = tuple(
            1 if i in {d % x.ndim for d in self.broadcast_dims} else s
            for i, s in enumerate(x.shape)
        )
        keep = random.bernoulli(key, 1.0 - self.rate, shape)
        return fnp.where(keep, x / (1.0 - self.rate), fnp.zeros((), x.dtype))
