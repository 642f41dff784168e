"""Dropout: ``rate`` is the probability to DROP an entry (as PyTorch, Keras and flax;
never the keep probability)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import random
from funcnet.nn.core import Layer, LayerError

__all__ = ["Dropout"]


class Dropout(Layer):
    """In training (``train=True``) zero each entry with probability ``rate`` and scale
    the kept ones by 1 / (1 - rate), so the expected output is the input; in evaluation
    (the default) the identity. Training needs ``key=``.

    Args:
      rate: probability of dropping, in [0, 1].
      broadcast_dims: axes that share one mask (e.g. ``(1,)`` drops whole time steps'
        features together along axis 1).
    """

    def __init__(self, rate, *, broadcast_dims=(), name=None):
        super().__init__(name=name)
        if not isinstance(rate, (int, float, np.floating)) or not 0 <= rate <= 1:
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
