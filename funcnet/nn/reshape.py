"""Flatten and Reshape: change the shape of each example, keeping the batch axis."""

import math

import funcnet.numpy as fnp
from funcnet.nn.core import Layer, LayerError

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """Flattens each example: ``(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)``.

    x: (batch, ...); one example: ``x[None]`` or ``fn.vmap``.

    Needs a leading batch axis: axis 0 is kept and every other axis is merged (to
    flatten one example, give it a batch axis: ``x[None]``).

    Args:
      name: the layer's key in a container (default ``flatten_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({},
      (batch, prod(rest)))`` (-1 if a merged size is unknown); ``apply(params, x)``
      returns the reshaped array; it uses no key, train or state.

    Raises:
      LayerError: at init, a scalar input shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> flatten = nn.Flatten()
      >>> flatten.init(random.key(0), (-1, 2, 3))
      ({}, (-1, 6))
      >>> flatten.apply({}, fnp.ones((4, 2, 3))).shape
      (4, 6)
    """

    def output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise LayerError("expects an input with a batch axis, got a scalar shape ()")
        rest = input_shape[1:]
        return (input_shape[0], -1 if -1 in rest else math.prod(rest))

    def forward(self, params, x):
        if not x.ndim:
            return fnp.reshape(x, (1, 1))
        # explicit sizes: -1 cannot be inferred when the batch is empty
        return fnp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))


class Reshape(Layer):
    """Reshapes each example: ``(batch, ...) -> (batch, *shape)`` (as jnp.reshape).

    x: (batch, ...); one example: ``x[None]`` or ``fn.vmap``.

    Needs a leading batch axis: axis 0 is kept and the rest of each example is reshaped
    (to reshape one example, give it a batch axis: ``x[None]``).

    Args:
      shape: the new per-example shape, a tuple of ints; one entry may be -1 (inferred
        from the example's size).
      name: the layer's key in a container (default ``reshape_<i>``).

    Returns:
      A layer without parameters. ``init(key, input_shape)`` returns ``({},
      (batch, *shape))`` with the -1 resolved; ``apply(params, x)`` returns the
      reshaped array; it uses no key, train or state.

    Raises:
      ValueError: ``shape`` holds more than one -1 or a size below -1.
      LayerError: the example's size does not fit ``shape``, or a -1 cannot be
        inferred because an input size is unknown.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> reshape = nn.Reshape((3, -1))
      >>> reshape.init(random.key(0), (-1, 6))
      ({}, (-1, 3, 2))
      >>> reshape.apply({}, fnp.ones((4, 6))).shape
      (4, 3, 2)
    """

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
