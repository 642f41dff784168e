"""Multi-head dot-product attention, and the masks it takes."""

import math

import numpy as np

import funcnet.numpy as fnp
from funcnet import random
from funcnet.lax import stop_gradient
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
    query_seq_lengths=None,
    key_value_seq_lengths=None,
    local_window_size=None,
    implementation=None,
    return_residual=False,
    dropout_rate=0.0,
    dropout_key=None,
):
    """Scaled dot-product attention, ``softmax(scale * q k^T + bias) v`` per head, as
    jax.nn.dot_product_attention (its XLA implementation).

    Layout ``(batch, length, heads, head_dim)``, or without the batch axis. Keys and
    values may have fewer heads than the queries (grouped-query attention: the number
    of query heads a multiple of theirs). The logits and the softmax are computed in
    float32 (or wider). A query whose keys are all masked gets uniform weights (no NaN).

    Args:
      query: queries, shape ``(B, T, N, H)`` or ``(T, N, H)``.
      key: keys, shape ``(B, S, K, H)`` or ``(S, K, H)``, with ``N % K == 0``.
      value: values, the shape of ``key``.
      bias: optional numbers added to the logits, broadcastable to ``(B, N, T, S)``.
      mask: optional booleans broadcastable to ``(B, N, T, S)``, True = attend (see
        ``causal_mask``, ``padding_mask``).
      scale: the logits' scale (default ``1 / sqrt(H)``).
      is_causal: also mask out keys after each query (query i sees keys j <= i).
      query_seq_lengths: optional int array ``(B,)``: queries at or past a row's
        length are padding (their outputs are zero).
      key_value_seq_lengths: optional int array ``(B,)``: keys at or past a row's
        length are not attended to.
      local_window_size: optional ``(left, right)`` (or one int for both): query i
        attends to keys i - left ... i + right.
      implementation: None or ``"xla"`` (the one funcnet has; ``"cudnn"`` raises).
      return_residual: also return the softmax's logsumexp, shape ``(B, T, N)``, as
        jax's (without a gradient).
      dropout_rate: probability to drop an attention weight (default 0; jax's has no
        dropout); above 0 it needs ``dropout_key``.
      dropout_key: a ``funcnet.random`` key for the dropout.

    Returns:
      The attended values, of the query's shape and dtype; with `return_residual`, a
      pair ``(values, logsumexp)``.

    Raises:
      ValueError: ranks or head counts that do not fit, an unknown implementation, or
        dropout without a key.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import nn
      >>> q = fnp.ones((2, 5, 4, 8))
      >>> nn.dot_product_attention(q, q, q, mask=nn.causal_mask(5)).shape
      (2, 5, 4, 8)
    """
    if implementation not in (None, "xla"):
        raise ValueError(
            f"dot_product_attention: implementation {implementation!r} is not available "
            "in funcnet (only None or 'xla')"
        )
    query, key, value = fnp.asarray(query), fnp.asarray(key), fnp.asarray(value)
    unbatched = query.ndim == 3
    if unbatched:
        query, key, value = query[None], key[None], value[None]
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
    logits_dtype = fnp.promote_types(query.dtype, np.float32)
    logits = fnp.einsum("bqhd,bkhd->bhqk", query, key, preferred_element_type=logits_dtype)
    logits = logits * fnp.asarray(scale, logits_dtype)
    if bias is not None:
        logits = (logits + fnp.asarray(bias)).astype(logits_dtype)
    mask = _combined_mask(
        mask, is_causal, local_window_size, query_seq_lengths, key_value_seq_lengths, logits
    )
    if mask is not None:
        # jax's large negative: finite in float32, so the softmax of a row with every key
        # masked is uniform rather than NaN
        big_negative = -0.7 * float(np.finfo(np.float32).max)
        logits = fnp.where(mask, logits, fnp.asarray(big_negative, logits_dtype))
    logits = logits.astype(np.float32)  # the softmax in float32, as jax (even for f64)
    weights = softmax(logits, axis=-1).astype(key.dtype)
    if dropout_rate > 0:
        if dropout_key is None:
            raise ValueError("dot_product_attention: dropout_rate > 0 needs a dropout_key")
        keep = random.bernoulli(dropout_key, 1.0 - dropout_rate, weights.shape)
        weights = fnp.where(keep, weights / (1.0 - dropout_rate), fnp.zeros((), weights.dtype))
    out = fnp.einsum("bhqk,bkhd->bqhd", weights, value)
    if query_seq_lengths is not None:  # padding queries give zeros, as jax
        valid = fnp.arange(out.shape[1])[None, :] < fnp.asarray(query_seq_lengths)[:, None]
        out = out * valid[:, :, None, None].astype(out.dtype)
    if return_residual:
        lse = fnp.transpose(_logsumexp_last(logits), (0, 2, 1)).astype(key.dtype)
        residual = stop_gradient(lse)
        return (out[0], residual[0]) if unbatched else (out, residual)
    return out[0] if unbatched else out


def _logsumexp_last(x):
    top = fnp.max(x, axis=-1, keepdims=True)
    return fnp.log(fnp.sum(fnp.exp(x - top), axis=-1)) + top[..., 0]


def _combined_mask(mask, is_causal, window, q_lengths, kv_lengths, logits):
    """One boolean mask (broadcastable to the logits' (B, N, T, S)) from every masking
    option, or None when there is none."""
    t_len, s_len = logits.shape[2], logits.shape[3]
    masks = [] if mask is None else [fnp.asarray(mask)]
    if is_causal:
        masks.append(causal_mask(t_len, s_len))
    if window is not None:
        left, right = (window, window) if isinstance(window, int) else window
        q_pos, k_pos = np.arange(t_len)[:, None], np.arange(s_len)[None, :]
        inside = (q_pos <= k_pos + left) & (q_pos >= k_pos - right)
        masks.append(fnp.asarray(inside[None, None]))
    if q_lengths is not None:
        rows = fnp.arange(t_len)[None, :] < fnp.asarray(q_lengths)[:, None]
        masks.append(rows[:, None, :, None])
    if kv_lengths is not None:
        cols = fnp.arange(s_len)[None, :] < fnp.asarray(kv_lengths)[:, None]
        masks.append(cols[:, None, None, :])
    if not masks:
        return None
    combined = masks[0]
    for m in masks[1:]:
        combined = fnp.logical_and(combined, m)
    return combined


class MultiHeadAttention(Layer):
    """Multi-head dot-product attention (as flax's MultiHeadDotProductAttention).

    x: (batch, length, features), ``context`` likewise; one example: ``x[None]`` or ``fn.vmap``.

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
