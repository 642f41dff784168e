"""Flatten and Reshape: change the shape of each example, keeping the batch axis."""

import math

import funcnet.numpy as fnp
from funcnet.nn.core import Layer, LayerError

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise LayerError("expects an input with a batch axis, got a scalar shape ()")
        rest = input_shape[1:]
        return (input_shape[0], -1 if -1 in rest else math.prod(rest))

    def forward(self, params, x):
        return fnp.reshape(x, (x.shape[0], -1)) if x.ndim else fnp.reshape(x, (1, 1))


class Reshape(Layer):
    """(batch, ...) -> (batch, *shape); ``shape`` (per example) may hold one -1."""

    def __init__(self, shape, *, name=None):
        super().__init__(name=name)
        shape = tuple(int(d) for d in shape)
        if shape.count(-1) > 1 or any(d < -1 for d in shape):
            raise ValueError(
                f"Reshape: shape may hold one -1 and otherwise sizes >= 0, got {shape}"
            )
        self.shape = shape

    def output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise LayerError("expects an input with a batch axis, got a scalar shape ()")
        rest = input_shape[1:]
        if -1 in rest:
            if -1 in self.shape:
                raise LayerError(
                    f"cannot infer the -1 of {self.shape} from an input of "
                    f"shape {input_shape} with unknown sizes"
                )
            return (input_shape[0],) + self.shape
        size, known = math.prod(rest), math.prod(d for d in self.shape if d != -1)
        if -1 in self.shape:
            if known == 0 or size % known:
                raise LayerError(
                    f"cannot reshape an input of shape {input_shape} (size "
                    f"{size} per example) to {self.shape}"
                )
            shape = tuple(size // known if d == -1 else d for d in self.shape)
        else:
            shape = self.shape
            if known != size:
                raise LayerError(
                    f"cannot reshape an input of shape {input_shape} (size "
                    f"{size} per example) to {self.shape} (size {known})"
                )
        return (input_shape[0],) + shape

    def forward(self, params, x):
        out = self.output_shape(tuple(x.shape))
        return fnp.reshape(x, out)
