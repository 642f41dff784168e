"""Multi-head dot-product attention, and the masks it takes."""

import math

import numpy as np

import funcnet.numpy as fnp
from funcnet import random
from funcnet.nn.activations import softmax
from funcnet.nn.core import Layer, LayerError, Param, resolve_init, shape_of
from funcnet.nn.linear import _features

__all__ = ["MultiHeadAttention", "causal_mask", "dot_product_attention", "padding_mask"]


def causal_mask(q_len, kv_len=None):
    """A causal attention mask: query i sees keys j <= i (as flax's make_causal_mask).

    Args:
      q_len: the number of queries, an int.
      kv_len: the number of keys (default ``q_len``).

    Returns:
      A boolean array of shape ``(1, 1, q_len, kv_len)``, True = attend, ready to
      broadcast against ``(batch, heads, q_len, kv_len)``.

    Example:
      >>> from funcnet import nn
      >>> nn.causal_mask(3)[0, 0].tolist()
      [[True, False, False], [True, True, False], [True, True, True]]
    """
    kv_len = q_len if kv_len is None else kv_len
    return fnp.asarray(np.tril(np.ones((q_len, kv_len), bool))[None, None])


def padding_mask(kv_valid, q_valid=None):
    """An attention mask that hides padding positions.

    Args:
      kv_valid: booleans (or 0/1 numbers) of shape ``(batch, kv_len)``, True for real
        (not padding) keys.
      q_valid: optional booleans of shape ``(batch, q_len)``, True for real queries.

    Returns:
      A boolean mask of shape ``(batch, 1, 1, kv_len)``; with ``q_valid``, of shape
      ``(batch, 1, q_len, kv_len)``, True where both the query and the key are real.
      Combine masks with ``fnp.logical_and``.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> nn.padding_mask(fnp.array([[True, True, False]])).tolist()
      [[[[True, True, False]]]]
    """
    kv_valid = fnp.asarray(kv_valid).astype(bool)
    if q_valid is None:
        return kv_valid[:, None, None, :]
    q_valid = fnp.asarray(q_valid).astype(bool)
    return fnp.logical_and(q_valid[:, None, :, None], kv_valid[:, None, None, :])


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    *,
    scale=None,
    is_causal=False,
    dropout_rate=0.0,
    dropout_key=None,
):
    """Scaled dot-product attention, ``softmax(scale * q k^T + bias) v`` per head, as
    jax.nn.dot_product_attention (its XLA implementation).

    Layout ``(batch, length, heads, head_dim)``, or without the batch axis. Keys and
    values may have fewer heads than the queries (grouped-query attention: the number
    of query heads a multiple of theirs). The logits and the softmax are computed in
    float32. A query whose keys are all masked gets uniform weights (no NaN).

    Args:
      query: queries, shape ``(B, T, N, H)`` or ``(T, N, H)``.
      key: keys, shape ``(B, S, K, H)`` or ``(S, K, H)``, with ``N % K == 0``.
      value: values, the shape of ``key``.
      bias: optional numbers added to the logits, broadcastable to ``(B, N, T, S)``.
      mask: optional booleans broadcastable to ``(B, N, T, S)``, True = attend (see
        ``causal_mask``, ``padding_mask``).
      scale: the logits' scale (default ``1 / sqrt(H)``).
      is_causal: also mask out keys after each query (query i sees keys j <= i).
      dropout_rate: probability to drop an attention weight (default 0, as jax's,
        which has no dropout); above 0 it needs ``dropout_key``.
      dropout_key: a ``funcnet.random`` key for the dropout.

    Returns:
      The attended values, of the query's shape and dtype.

    Raises:
      ValueError: ranks or head counts that do not fit, or dropout without a key.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> q = fnp.ones((2, 5, 4, 8))
      >>> nn.dot_product_attention(q, q, q, mask=nn.causal_mask(5)).shape
      (2, 5, 4, 8)
    """
    query, key, value = fnp.asarray(query), fnp.asarray(key), fnp.asarray(value)
    if query.ndim == 3:
        out = dot_product_attention(
            query[None],
            key[None],
            value[None],
            None if bias is None else fnp.asarray(bias)[None],
            None if mask is None else fnp.asarray(mask)[None],
            scale=scale,
            is_causal=is_causal,
            dropout_rate=dropout_rate,
            dropout_key=dropout_key,
        )
        return out[0]
    if query.ndim != 4 or key.ndim != 4 or value.shape != key.shape:
        raise ValueError(
            "dot_product_attention: query, key and value must be (B, T, N, H) or (T, N, H) "
            f"with value shaped like key; got {tuple(query.shape)}, {tuple(key.shape)}, "
            f"{tuple(value.shape)}"
        )
    heads, kv_heads = query.shape[2], key.shape[2]
    if heads % kv_heads or query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"dot_product_attention: {heads} query heads of size {query.shape[-1]} do not "
            f"fit {kv_heads} key heads of size {key.shape[-1]}"
        )
    if heads != kv_heads:  # grouped-query attention: each key head serves a group
        key = fnp.repeat(key, heads // kv_heads, axis=2)
        value = fnp.repeat(value, heads // kv_heads, axis=2)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    logits = fnp.einsum("bqhd,bkhd->bhqk", query, key, preferred_element_type=np.float32)
    logits = logits * np.float32(scale)
    if bias is not None:
        logits = logits + fnp.asarray(bias).astype(np.float32)
    if is_causal:
        causal = causal_mask(query.shape[1], key.shape[1])
        mask = causal if mask is None else fnp.logical_and(mask, causal)
    if mask is not None:
        big_negative = np.float32(np.finfo(np.float32).min / 2)
        logits = fnp.where(mask, logits, big_negative)
    weights = softmax(logits, axis=-1).astype(query.dtype)
    if dropout_rate > 0:
        if dropout_key is None:
            raise ValueError("dot_product_attention: dropout_rate > 0 needs a dropout_key")
        keep = random.bernoulli(dropout_key, 1.0 - dropout_rate, weights.shape)
        weights = fnp.where(keep, weights / (1.0 - dropout_rate), fnp.zeros((), weights.dtype))
    return fnp.einsum("bhqk,bkhd->bqhd", weights, value)


class MultiHeadAttention(Layer):
    """Multi-head dot-product attention (as flax's MultiHeadDotProductAttention).

    Input ``(batch, length, features)``, rank exactly 3: the leading batch axis is
    required (for one sequence use ``x[None]``). ``apply(params, x)`` is
    self-attention; ``apply(params, x, context=c)`` is cross-attention (queries from
    ``x``, keys and values from ``c`` of shape ``(batch, kv_length, context_features)``).
    Masks: ``mask=`` (booleans broadcastable to ``(batch, heads, q_len, kv_len)``, True
    = attend; see ``padding_mask``) and ``causal=True`` (in the constructor or per
    call; combined with ``mask`` by logical and). The projections are plain matrices
    (unlike flax's per-head kernels).

    Args:
      num_heads: the number of heads, a positive int dividing ``qkv_features``.
      qkv_features: the size of the query/key/value projections (default: x's
        features); each head gets ``qkv_features // num_heads``.
      out_features: the output size (default: x's features).
      causal: mask out keys after each query (self-attention in a decoder; default
        False).
      dropout_rate: dropout on the attention weights in training, in [0, 1) (default
        0).
      use_bias: add biases to the projections (default True).
      kernel_init: initializer of the projection matrices (default ``"lecun_normal"``).
      bias_init: initializer of the biases (default ``"zeros"``).
      dtype: dtype of the parameters (default float32).
      name: the layer's key in a container (default ``multi_head_attention_<i>``).

    Returns:
      A layer. ``init(key, input_shape)`` returns ``(params, (batch, length,
      out_features))`` with params ``{"query": {"w": (F, qkv), "b": (qkv,)}, "key":
      ..., "value": ..., "out": {"w": (qkv, out_features), "b": ...}}``; for a context
      whose feature size differs from x's, pass ``context_shape=`` to ``init``.
      ``apply(params, x, *, context=None, mask=None, causal=None, key=None,
      train=False)`` returns ``(batch, length, out_features)``; ``key`` is needed only
      for dropout in training. It uses no state.

    Raises:
      ValueError: bad sizes or ``dropout_rate``.
      LayerError: inputs not of rank 3, ``qkv_features`` not divisible by
        ``num_heads``, different batch sizes of x and context, or training with
        dropout and no key.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn, random
      >>> attention = nn.MultiHeadAttention(num_heads=4)
      >>> params, out_shape = attention.init(random.key(0), (-1, 5, 16))
      >>> out_shape, params["query"]["w"].shape
      ((-1, 5, 16), (16, 16))
      >>> x = fnp.ones((2, 5, 16))
      >>> attention.apply(params, x, causal=True).shape
      (2, 5, 16)
      >>> attention.apply(params, x, context=fnp.ones((2, 7, 16))).shape
      (2, 5, 16)
    """

    def __init__(
        self,
        num_heads,
        qkv_features=None,
        out_features=None,
        *,
        causal=False,
        dropout_rate=0.0,
        use_bias=True,
        kernel_init="lecun_normal",
        bias_init="zeros",
        dtype=np.float32,
        name=None,
    ):
        super().__init__(name=name)
        kind = "MultiHeadAttention"
        self.num_heads = _features(num_heads, kind, "num_heads")
        self.qkv_features = (
            None if qkv_features is None else _features(qkv_features, kind, "qkv_features")
        )
        self.out_features = (
            None if out_features is None else _features(out_features, kind, "out_features")
        )
        if not 0 <= dropout_rate < 1:
            raise ValueError(f"{kind}: dropout_rate must be in [0, 1), got {dropout_rate!r}")
        self.causal, self.dropout_rate, self.use_bias = (
            bool(causal),
            float(dropout_rate),
            bool(use_bias),
        )
        self.kernel_init = resolve_init(kernel_init, kind, "kernel_init")
        self.bias_init = resolve_init(bias_init, kind, "bias_init")
        self.dtype = dtype

    def _sizes(self, input_shape, context_shape):
        for what, s in (("input", input_shape), ("context", context_shape)):
            if s is not None and (len(s) != 3 or s[-1] == -1):
                raise LayerError(
                    f"expects {what} of rank 3 (batch, length, features) with "
                    f"the features known, got shape {s}"
                )
        f = input_shape[-1]
        fc = f if context_shape is None else context_shape[-1]
        d = self.qkv_features or f
        if d % self.num_heads:
            raise LayerError(f"qkv_features {d} is not divisible by num_heads {self.num_heads}")
        return f, fc, d, self.out_features or f

    def _dense(self, fan_in, fan_out):
        spec = {"w": Param((fan_in, fan_out), self.kernel_init, self.dtype)}
        if self.use_bias:
            spec["b"] = Param((fan_out,), self.bias_init, self.dtype)
        return spec

    def param_specs(self, input_shape, context_shape=None):
        f, fc, d, fo = self._sizes(input_shape, context_shape)
        return {
            "query": self._dense(f, d),
            "key": self._dense(fc, d),
            "value": self._dense(fc, d),
            "out": self._dense(d, fo),
        }

    def output_shape(self, input_shape, context_shape=None):
        return tuple(input_shape[:-1]) + (self._sizes(input_shape, context_shape)[3],)

    def shape_kwargs(self, kw):
        ctx = kw.get("context")
        return {} if ctx is None else {"context_shape": shape_of(ctx)}

    def expected_input_shape(self, params, input_shape):
        return tuple(input_shape[:-1]) + (params["query"]["w"].shape[0],)

    def _project(self, p, x):
        y = fnp.matmul(x, p["w"])
        y = y + p["b"] if self.use_bias else y
        return fnp.reshape(y, tuple(y.shape[:-1]) + (self.num_heads, -1))

    def forward(self, params, x, *, context=None, mask=None, causal=None, key=None, train=False):
        x = fnp.asarray(x)
        ctx = x if context is None else fnp.asarray(context)
        if ctx.shape[0] != x.shape[0]:
            raise LayerError(
                f"input {tuple(x.shape)} and context {tuple(ctx.shape)} have different batch sizes"
            )
        q = self._project(params["query"], x)
        k = self._project(params["key"], ctx)
        v = self._project(params["value"], ctx)
        if self.causal if causal is None else causal:
            cm = causal_mask(x.shape[1], ctx.shape[1])
            mask = cm if mask is None else fnp.logical_and(mask, cm)
        rate = self.dropout_rate if train else 0.0
        if rate > 0 and key is None:
            raise LayerError(
                "needs a PRNG key in training mode for attention dropout "
                "(apply(..., key=..., train=True))"
            )
        out = dot_product_attention(q, k, v, mask=mask, dropout_rate=rate, dropout_key=key)
        out = fnp.reshape(out, tuple(out.shape[:2]) + (-1,))
        y = fnp.matmul(out, params["out"]["w"])
        return y + params["out"]["b"] if self.use_bias else y
