"""Dense (an affine map of the last axis) and Embedding (a lookup table)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet.core import dtypes
from funcnet.nn import initializers
from funcnet.nn.core import Layer, LayerError, Param, resolve_init

__all__ = ["Dense", "Embedding"]


def _features(value, kind, what="features"):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{kind}: {what} must be a positive int, got {value!r}")
    return int(value)


class Dense(Layer):
    """``y = x @ w + b`` on the last axis of ``x`` (any leading axes).

    Params: ``w`` (in_features, features), ``b`` (features,). ``in_features`` is taken
    from the input shape at init.

    Args:
      features: output size.
      use_bias: add ``b``.
      kernel_init, bias_init: initializer, factory or name (default lecun_normal, zeros).
      dtype: of the parameters.
    """

    def __init__(
        self,
        features,
        *,
        use_bias=True,
        kernel_init="lecun_normal",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(name=name)
        self.features = _features(features, "Dense")
        self.use_bias = bool(use_bias)
        self.kernel_init = resolve_init(kernel_init, "Dense", "kernel_init")
        self.bias_init = resolve_init(bias_init, "Dense", "bias_init")
        self.dtype = dtype

    def _in(self, input_shape):
        if len(input_shape) < 1:
            raise LayerError(
                f"expects an input of rank >= 1 (..., in_features), got shape {input_shape}"
            )
        if input_shape[-1] == -1:
            raise LayerError(f"needs the last axis (in_features) known, got shape {input_shape}")
        return input_shape[-1]

    def param_specs(self, input_shape):
        specs = {"w": Param((self._in(input_shape), self.features), self.kernel_init, self.dtype)}
        if self.use_bias:
            specs["b"] = Param((self.features,), self.bias_init, self.dtype)
        return specs

    def output_shape(self, input_shape):
        self._in(input_shape)
        return tuple(input_shape[:-1]) + (self.features,)

    def expected_input_shape(self, params, input_shape):
        return tuple(input_shape[:-1]) + (params["w"].shape[0],)

    def forward(self, params, x):
        y = fnp.matmul(x, params["w"])
        return y + params["b"] if self.use_bias else y


class Embedding(Layer):
    """A table of ``num_embeddings`` vectors of size ``features``, indexed by integer ids
    of any shape: output shape ``ids.shape + (features,)``.

    Params: ``embedding`` (num_embeddings, features), drawn N(0, 1) by default.
    ``attend(params, x)`` is ``x @ embedding.T``: the output projection of a language
    model whose input and output embeddings are tied.
    """

    def __init__(
        self, num_embeddings, features, *, embedding_init=None, dtype=np.float32, name=None
    ):
        super().__init__(name=name)
        self.num_embeddings = _features(num_embeddings, "Embedding", "num_embeddings")
        self.features = _features(features, "Embedding")
        self.embedding_init = resolve_init(
            initializers.normal(1.0) if embedding_init is None else embedding_init,
            "Embedding",
            "embedding_init",
        )
        self.dtype = dtype

    def param_specs(self, input_shape):
        return {
            "embedding": Param(
                (self.num_embeddings, self.features), self.embedding_init, self.dtype
            )
        }

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.features,)

    def forward(self, params, ids):
        dt = getattr(ids, "dtype", None)
        if dt is None or not (dtypes.is_int(dt) or dtypes.is_unsigned(dt)):
            raise LayerError(f"expects integer ids, got an input of dtype {dt}")
        return fnp.take(params["embedding"], ids, axis=0)

    def attend(self, params, x):
        """Scores of ``x`` (..., features) against every embedding: (..., num_embeddings)."""
        return fnp.matmul(x, params["embedding"].T)
