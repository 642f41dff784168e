"""Dense (an affine map of the last axis) and Embedding (a lookup table)."""

import numpy as np

import funcnet.numpy as fnp
from funcnet.core import dtypes
from funcnet.nn import initializers
from funcnet.nn.core import Layer, LayerError, Param, resolve_init
from funcnet.nn.lookup import Lookup

__all__ = ["Dense", "Embedding"]


def _features(value, kind, what="features"):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{kind}: {what} must be a positive int, got {value!r}")
    return int(value)


class Dense(Layer):
    """A fully connected layer, ``y = x @ w + b`` on the last axis (as flax's Dense).

    x: (batch, ..., in_features); it acts on the last axis, so any leading axes work.

    Input ``(..., in_features)``, usually ``(batch, in_features)``: the matrix product
    maps the last axis and keeps any leading axes, so a batch axis is not required (a
    single ``(in_features,)`` example works). ``in_features`` is read from the input
    shape at init and must be known (not -1).

    Args:
      features: the output size, a positive int.
      use_bias: add the bias ``b`` (default True).
      kernel_init: initializer of ``w``: a function ``init(key, shape, dtype)``, a
        factory from ``nn.initializers`` (called with its defaults) or its name
        (default ``"lecun_normal"``).
      bias_init: initializer of ``b`` (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``dense_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, input_shape[:-1] +
      (features,))`` with params ``{"w": (in_features, features), "b": (features,)}``.
      ``apply(params, x)`` returns ``x @ w + b``, shape ``x.shape[:-1] + (features,)``;
      it uses no key, train or state.

    Raises:
      ValueError: ``features`` is not a positive int.
      LayerError: a scalar input or an unknown last axis at init; params of other
        shapes at apply.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> layer = nn.Dense(4)
      >>> params, out_shape = layer.init(random.key(0), (-1, 3))
      >>> out_shape, params["w"].shape, params["b"].shape
      ((-1, 4), (3, 4), (4,))
      >>> layer.apply(params, fnp.ones((2, 3))).shape
      (2, 4)
    """

    # After an Embedding in a Sequential: the table goes through the layer once and the
    # ids pick rows of the result, (table @ w + b)[ids] (funcnet.nn.lookup).
    takes_lookup = True

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
        if isinstance(x, Lookup):
            if x.worth_folding():
                return x.map_table(lambda table: self._affine(params, table)).gather()
            x = x.gather()
        return self._affine(params, x)

    def _affine(self, params, x):
        y = fnp.matmul(x, params["w"])
        return y + params["b"] if self.use_bias else y


class Embedding(Layer):
    """A lookup table of ``num_embeddings`` vectors of size ``features`` (as flax's Embed).

    x: (batch, ...) integer ids; the output adds a last axis of size ``features``.

    Input: integer ids of any shape, usually ``(batch, length)``; no batch axis is
    required. The output has shape ``ids.shape + (features,)``. Ids are not range-checked:
    as ``fnp.take`` (and jax), an id past the end gives a vector of NaN and a negative id
    counts from the end. ``attend(params, x)`` is ``x @ embedding.T``: the output
    projection of a language model whose input and output embeddings are tied.
    ``apply(params, ids, as_lookup=True)`` returns an ``nn.Lookup`` (the rows, not
    gathered yet): ``Sequential`` asks for it when the next layer folds the lookup into
    its input projection (the recurrent layers do; see ``funcnet.nn.lookup``).

    Args:
      num_embeddings: the number of vectors (the vocabulary size), a positive int.
      features: the size of each vector, a positive int.
      embedding_init: initializer of the table (default ``normal(1.0)``: N(0, 1)).
      dtype: dtype of the table (default float32).
      name: the layer's key in a container (default ``embedding_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, input_shape +
      (features,))`` with params ``{"embedding": (num_embeddings, features)}``.
      ``apply(params, ids)`` returns the vectors; it uses no key, train or state.

    Raises:
      ValueError: a size is not a positive int.
      LayerError: ids that are not integers, or a table of another shape.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> embed = nn.Embedding(10, 4)
      >>> params, out_shape = embed.init(random.key(0), (-1, 5))
      >>> out_shape
      (-1, 5, 4)
      >>> vectors = embed.apply(params, fnp.zeros((2, 5), "int32"))
      >>> vectors.shape, embed.attend(params, vectors).shape
      ((2, 5, 4), (2, 5, 10))
    """

    gives_lookup = True  # apply(..., as_lookup=True): see funcnet.nn.lookup

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

    def forward(self, params, ids, *, as_lookup=False):
        dt = getattr(ids, "dtype", None)
        if dt is None or not (dtypes.is_int(dt) or dtypes.is_unsigned(dt)):
            raise LayerError(f"expects integer ids, got an input of dtype {dt}")
        rows = Lookup(params["embedding"], ids)
        return rows if as_lookup else rows.gather()

    def attend(self, params, x):
        """Scores ``x`` against every embedding: ``x @ embedding.T`` (tied output logits).

        Args:
          params: the Embedding's params (``{"embedding": ...}``).
          x: an array ``(..., features)``.

        Returns:
          The scores, shape ``(..., num_embeddings)``.
        """
        return fnp.matmul(x, params["embedding"].T)
