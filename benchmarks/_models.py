"""The models of the autodiff / control-flow / training benchmarks, each written twice:
with funcnet's layers (funcnet.nn) and as the same computation in plain jax (what a
jax user writes: jnp, jax.lax, jax.nn). The jax functions read funcnet's parameter
tree (same names, same arrays copied to jax), so both sides compute the same numbers
from the same parameters and data; `check_same_loss` asserts it.

  mlp   784-512-512-10, relu, batch 128, softmax cross-entropy (int labels)
  cnn   the demo's digits CNN (funcnet.demo.cnn): conv 3x3x32, relu, conv 3x3x64, relu,
        maxpool 2x2, dense 128, relu, dense 10; 8x8x1 inputs, batch 64
  lstm  character model: embedding 128x64, LSTM hidden 256 over 100 steps (scan),
        dense 128 (next-character logits), batch 32, cross-entropy at every step
  attn  one pre-layernorm transformer block, d 256, 4 heads, causal, sequence 64,
        batch 16: x + attention(layernorm(x)), then + dense 1024 / gelu (tanh form) /
        dense 256 of its layernorm, then dense 128 logits, cross-entropy at every position
"""

import jax
import jax.numpy as jnp
import numpy as np

import funcnet as fn
from funcnet import nn, random
from funcnet.demo import cnn as demo_cnn


def fn_loss(model):
    def loss(params, x, y):
        return nn.losses.softmax_cross_entropy(model.apply(params, x), y)

    return loss


def jax_ce(logits, y):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1)[..., 0])


def jax_dense(p, x):
    return x @ p["w"] + p["b"]


# --- MLP ---------------------------------------------------------------------------
def mlp_model():
    return nn.Sequential([nn.Dense(512), nn.relu, nn.Dense(512), nn.relu, nn.Dense(10)])


def jax_mlp(p, x):
    h = jax.nn.relu(jax_dense(p["dense_0"], x))
    h = jax.nn.relu(jax_dense(p["dense_1"], h))
    return jax_dense(p["dense_2"], h)


# --- CNN (the demo's) ----------------------------------------------------------------
def cnn_model():
    return demo_cnn()


def _jax_conv(p, x):
    y = jax.lax.conv_general_dilated(
        x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return y + p["b"]


def jax_cnn(p, x):
    h = jax.nn.relu(_jax_conv(p["conv_0"], x))
    h = jax.nn.relu(_jax_conv(p["conv_1"], h))
    h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(jax_dense(p["dense_0"], h))
    return jax_dense(p["dense_1"], h)


# --- LSTM character model --------------------------------------------------------------
VOCAB, EMBED, HIDDEN, STEPS = 128, 64, 256, 100


def lstm_model():
    return nn.Sequential([nn.Embedding(VOCAB, EMBED), nn.LSTM(HIDDEN), nn.Dense(VOCAB)])


def jax_lstm(p, ids):
    """funcnet.nn.LSTM's equations: the input projection of every step as one matmul
    before the scan, h @ wh inside it, gates i, f, g, o."""
    cell = p["lstm_0"]
    x = p["embedding_0"]["embedding"][ids]  # (B, T, E)
    xp = jnp.moveaxis(x @ cell["wi"] + cell["b"], 1, 0)  # (T, B, 4H)
    batch, hidden = ids.shape[0], cell["wh"].shape[0]

    def step(carry, xt):
        c, h = carry
        i, f, g, o = jnp.split(xt + h @ cell["wh"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    z = jnp.zeros((batch, hidden), x.dtype)
    _, hs = jax.lax.scan(step, (z, z), xp)
    return jax_dense(p["dense_0"], jnp.moveaxis(hs, 0, 1))


# --- attention block -----------------------------------------------------------------------
D_MODEL, HEADS, SEQ, ATTN_BATCH, MLP_WIDTH, ATTN_CLASSES = 256, 4, 64, 16, 1024, 128


def attn_model():
    return nn.Sequential(
        [
            nn.Residual([nn.LayerNorm(), nn.MultiHeadAttention(HEADS, causal=True)]),
            nn.Residual([nn.LayerNorm(), nn.Dense(MLP_WIDTH), nn.gelu, nn.Dense(D_MODEL)]),
            nn.Dense(ATTN_CLASSES),
        ]
    )


def _jax_layer_norm(p, x, eps=1e-5):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"]


def jax_attn(p, x):
    """funcnet.nn's block: plain projection matrices, heads split from the last axis,
    jax.nn.dot_product_attention (its XLA implementation), tanh-form gelu."""
    a, m = p["residual_0"], p["residual_1"]
    h = _jax_layer_norm(a["layer_norm_0"], x)
    mha = a["multi_head_attention_0"]
    b, t = x.shape[:2]
    q, k, v = (jax_dense(mha[n], h).reshape(b, t, HEADS, -1) for n in ("query", "key", "value"))
    o = jax.nn.dot_product_attention(q, k, v, is_causal=True).reshape(b, t, -1)
    x = x + jax_dense(mha["out"], o)
    h = jax.nn.gelu(jax_dense(m["dense_0"], _jax_layer_norm(m["layer_norm_0"], x)))
    x = x + jax_dense(m["dense_1"], h)
    return jax_dense(p["dense_0"], x)


# --- setup -------------------------------------------------------------------------------
def np_batch(name, seed=0):
    """-> (x, y): model `name`'s batch as NumPy arrays (no funcnet runtime needed)."""
    r = np.random.default_rng(seed)
    if name == "mlp":
        return (
            r.standard_normal((128, 784)).astype(np.float32),
            r.integers(0, 10, 128).astype(np.int32),
        )
    if name == "cnn":
        return r.random((64, 8, 8, 1)).astype(np.float32), r.integers(0, 10, 64).astype(np.int32)
    if name == "lstm":
        text = r.integers(0, VOCAB, (32, STEPS + 1)).astype(np.int32)
        return text[:, :-1], text[:, 1:]
    if name == "attn":
        return (
            r.standard_normal((ATTN_BATCH, SEQ, D_MODEL)).astype(np.float32),
            r.integers(0, ATTN_CLASSES, (ATTN_BATCH, SEQ)).astype(np.int32),
        )
    raise ValueError(name)


def setup(name, seed=0):
    """-> dict(model, fn_params, jax_params, fn_loss, jax_loss, fn_batch, jax_batch, np_batch)
    with the same parameters and data on both sides."""
    models = {
        "mlp": (mlp_model, jax_mlp, (-1, 784)),
        "cnn": (cnn_model, jax_cnn, (-1, 8, 8, 1)),
        "lstm": (lstm_model, jax_lstm, (-1, STEPS)),
        "attn": (attn_model, jax_attn, (-1, SEQ, D_MODEL)),
    }
    if name not in models:
        raise ValueError(name)
    make, jax_apply, in_shape = models[name]
    model = make()
    x, y = np_batch(name, seed)
    params, _ = model.init(random.key(seed), in_shape)
    np_params = jax.tree_util.tree_map(np.asarray, params)

    def jax_loss(p, x, y):
        return jax_ce(jax_apply(p, x), y)

    return {
        "name": name,
        "model": model,
        "fn_params": fn.device_put(np_params),
        "jax_params": jax.device_put(np_params),
        "np_params": np_params,
        "fn_loss": fn_loss(model),
        "jax_loss": jax_loss,
        "jax_apply": jax_apply,
        "fn_batch": (fn.device_put(x), fn.device_put(y)),
        "jax_batch": (jax.device_put(x), jax.device_put(y)),
        "np_batch": (x, y),
    }


def check_same_loss(s, rtol=1e-5):
    """Same loss value and gradients from funcnet and jax (float32 tolerances)."""
    lf, gf = fn.jit(fn.value_and_grad(s["fn_loss"]))(s["fn_params"], *s["fn_batch"])
    lj, gj = jax.jit(jax.value_and_grad(s["jax_loss"]))(s["jax_params"], *s["jax_batch"])
    np.testing.assert_allclose(float(lf), float(lj), rtol=rtol)
    for a, b in zip(jax.tree_util.tree_leaves(gf), jax.tree_util.tree_leaves(gj)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-3, atol=2e-5)
    return float(lf)
