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
    """Boolean (1, 1, q_len, kv_len): query i sees keys j <= i."""
    kv_len = q_len if kv_len is None else kv_len
    return fnp.asarray(np.tril(np.ones((q_len, kv_len), bool))[None, None])


def padding_mask(kv_valid, q_valid=None):
    """From (batch, kv_len) booleans marking real (not padding) keys: a mask
    (batch, 1, 1, kv_len); with (batch, q_len) ``q_valid`` also, (batch, 1, q_len,
    kv_len) true where both the query and the key are real."""
    kv_valid = fnp.asarray(kv_valid).astype(bool)
    if q_valid is None:
        return kv_valid[:, None, None, :]
    q_valid = fnp.asarray(q_valid).astype(bool)
    return fnp.logical_and(q_valid[:, None, :, None], kv_valid[:, None, None, :])


def dot_product_attention(q, k, v, mask=None, *, dropout_rate=0.0, key=None):
    """softmax(q k^T / sqrt(d)) v per head. q (B, Lq, H, d), k and v (B, Lk, H, d);
    ``mask`` boolean, broadcastable to (B, H, Lq, Lk), True = attend. A query whose keys
    are all masked gets uniform weights (no NaN). Returns (B, Lq, H, d)."""
    logits = fnp.einsum("bqhd,bkhd->bhqk", q, k).astype(np.float32) / math.sqrt(q.shape[-1])
    if mask is not None:
        big_negative = np.float32(np.finfo(np.float32).min / 2)
        logits = fnp.where(mask, logits, big_negative)
    weights = softmax(logits, axis=-1).astype(q.dtype)
    if dropout_rate > 0:
        keep = random.bernoulli(key, 1.0 - dropout_rate, weights.shape)
        weights = fnp.where(keep, weights / (1.0 - dropout_rate), fnp.zeros((), weights.dtype))
    return fnp.einsum("bhqk,bkhd->bqhd", weights, v)


class MultiHeadAttention(Layer):
    """Multi-head attention over inputs (batch, length, features).

    ``apply(params, x)`` is self-attention; ``apply(params, x, context=c)`` is
    cross-attention (queries from x, keys and values from c). Masks: ``mask=``
    (boolean, broadcastable to (batch, heads, q_len, kv_len), True = attend; see
    ``padding_mask``) and ``causal=True`` (in the constructor or per call).

    Params: ``query``, ``key``, ``value`` ({w: (F, qkv_features), b}), ``out``
    ({w: (qkv_features, out_features), b}). For cross-attention with a context whose
    feature size differs from x's, give it at init:
    ``init(key, x_shape, context_shape=c_shape)``.

    Args:
      num_heads: heads; qkv_features (default: x's features) must divide by it.
      qkv_features, out_features: sizes of the projections (default x's features).
      causal: mask out keys after the query (self-attention in a decoder).
      dropout_rate: dropout on the attention weights in training (needs key=).
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
        out = dot_product_attention(q, k, v, mask, dropout_rate=rate, key=key)
        out = fnp.reshape(out, tuple(out.shape[:2]) + (-1,))
        y = fnp.matmul(out, params["out"]["w"])
        return y + params["out"]["b"] if self.use_bias else y
