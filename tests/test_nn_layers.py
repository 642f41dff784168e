"""funcnet.nn layers, one case per layer and configuration: the output against an
independent computation with the same weights (NumPy, or jax.lax for convolutions and
pooling), and the stax check that the shape ``init`` declares is the shape ``apply``
returns (with an unknown batch -1 at init). Parameters come from the layer's own
``init`` and are then perturbed in NumPy (so zero biases and unit scales do not hide
mistakes). Each apply runs under ``fn.jit``: one compile per case."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn, random, tree
from funcnet.nn.core import shapes_match
from funcnet.test_util import check_grads

KEY = random.key(0)
RTOL, ATOL = 2e-5, 2e-5


def perturbed(params, seed=0):
    """The params as NumPy arrays, each moved by a random amount."""
    rng = np.random.default_rng(seed)
    return tree.tree_map(
        lambda p: (np.asarray(p) + 0.3 * rng.standard_normal(np.shape(p))).astype(np.float32),
        params,
    )


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --- references -------------------------------------------------------------------------


def ref_dense(p, x):
    return x @ p["w"] + p["b"]


def _conv_padding(padding, ksize, dilation):
    if padding == "CAUSAL":
        return [((ksize[0] - 1) * dilation[0], 0)]
    return padding


def ref_conv(strides, padding, dilation, groups, layouts):
    def ref(p, x):
        k = p["w"].shape[:-2]
        y = jax.lax.conv_general_dilated(
            x,
            p["w"],
            strides,
            _conv_padding(padding, k, dilation),
            rhs_dilation=dilation,
            dimension_numbers=layouts,
            feature_group_count=groups,
        )
        return np.asarray(y) + p["b"]

    return ref


def ref_conv_transpose(strides, padding, dilation, layouts):
    def ref(p, x):
        y = jax.lax.conv_transpose(
            x, p["w"], strides, padding, rhs_dilation=dilation, dimension_numbers=layouts
        )
        return np.asarray(y) + p["b"]

    return ref


def ref_pool(kind, window, strides, padding, count_include_pad=True):
    def ref(p, x):
        dims, st = (1,) + window + (1,), (1,) + strides + (1,)
        if kind == "max":
            return np.asarray(jax.lax.reduce_window(x, -np.inf, jax.lax.max, dims, st, padding))
        total = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, st, padding)
        if count_include_pad:
            return np.asarray(total) / np.prod(window)
        counts = jax.lax.reduce_window(jnp.ones_like(x), 0.0, jax.lax.add, dims, st, padding)
        return np.asarray(total / counts)

    return ref


def ref_layer_norm(p, x, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * p["scale"] + p["bias"]


def ref_rms_norm(p, x, eps=1e-6):
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * p["scale"]


def ref_group_norm(groups, eps=1e-5):
    def ref(p, x):
        n, c = x.shape[0], x.shape[-1]
        g = x.reshape(n, -1, groups, c // groups)
        m = g.mean(axis=(1, 3), keepdims=True)
        v = g.var(axis=(1, 3), keepdims=True)
        return ((g - m) / np.sqrt(v + eps)).reshape(x.shape) * p["scale"] + p["bias"]

    return ref


def ref_batch_norm_eval(p, x, eps=1e-5):
    # Fresh state: running mean 0, variance 1.
    return x / np.sqrt(1 + eps) * p["scale"] + p["bias"]


def ref_embedding(p, ids):
    return p["embedding"][ids]


# Recurrent references, written from the equations (PyTorch's, gates in its order).
def rnn_step(p, h, x):
    h = np.tanh(x @ p["wi"] + p["b"] + h @ p["wh"])
    return h, h


def gru_step(p, h, x):
    hsz = h.shape[-1]
    gi, gh = x @ p["wi"] + p["b"], h @ p["wh"] + p["bh"]
    r = sigmoid(gi[:, :hsz] + gh[:, :hsz])
    z = sigmoid(gi[:, hsz : 2 * hsz] + gh[:, hsz : 2 * hsz])
    n = np.tanh(gi[:, 2 * hsz :] + r * gh[:, 2 * hsz :])
    h = (1 - z) * n + z * h
    return h, h


def lstm_step(p, carry, x):
    c, h = carry
    hsz = h.shape[-1]
    g = x @ p["wi"] + h @ p["wh"] + p["b"]
    i, f, gg, o = (g[:, k * hsz : (k + 1) * hsz] for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
    h = sigmoid(o) * np.tanh(c)
    return (c, h), h


def ref_recurrent(step, hidden, lstm=False, reverse=False):
    def ref(p, x):
        n, t, _ = x.shape
        z = np.zeros((n, hidden), np.float32)
        carry = (z, z) if lstm else z
        ys = [None] * t
        for i in reversed(range(t)) if reverse else range(t):
            carry, ys[i] = step(p, carry, x[:, i])
        return np.stack(ys, 1)

    return ref


def ref_bidirectional(step, hidden, lstm=False):
    fwd, bwd = ref_recurrent(step, hidden, lstm), ref_recurrent(step, hidden, lstm, reverse=True)
    return lambda p, x: np.concatenate([fwd(p["forward"], x), bwd(p["backward"], x)], -1)


def ref_cell(step, lstm=False):
    def ref(p, x):
        hidden = p["wh"].shape[0]
        z = np.zeros((x.shape[0], hidden), np.float32)
        carry, y = step(p, (z, z) if lstm else z, x)
        return carry, y

    return ref


def ref_mha(heads, causal=False, mask=None):
    def ref(p, x, context=None):
        ctx = x if context is None else context
        q = x @ p["query"]["w"] + p["query"]["b"]
        k = ctx @ p["key"]["w"] + p["key"]["b"]
        v = ctx @ p["value"]["w"] + p["value"]["b"]
        n, lq, d = q.shape
        lk, dh = k.shape[1], d // heads
        out = np.zeros((n, lq, d), np.float32)
        allowed = np.ones((n, heads, lq, lk), bool)
        if mask is not None:
            allowed &= np.broadcast_to(mask, allowed.shape)
        if causal:
            allowed &= np.tril(np.ones((lq, lk), bool))
        for b in range(n):
            for hd in range(heads):
                sl = slice(hd * dh, (hd + 1) * dh)
                s = q[b, :, sl] @ k[b, :, sl].T / np.sqrt(dh)
                s = np.where(allowed[b, hd], s, -1e30)
                w = np.exp(s - s.max(-1, keepdims=True))
                w /= w.sum(-1, keepdims=True)
                out[b, :, sl] = w @ v[b, :, sl]
        return out @ p["out"]["w"] + p["out"]["b"]

    return ref


# --- the cases ----------------------------------------------------------------------------
# (id, make layer, input shape, input kind, reference(params, x), apply keywords)

NHWC = ("NHWC", "HWIO", "NHWC")
NWC = ("NWC", "WIO", "NWC")
NDHWC = ("NDHWC", "DHWIO", "NDHWC")
PAD_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)[:, None, None, :]

CASES = [
    ("dense", lambda: nn.Dense(8), (2, 4), "float", ref_dense, {}),
    ("dense_rank3", lambda: nn.Dense(8), (2, 3, 4), "float", ref_dense, {}),
    (
        "conv2d_same_stride2",
        lambda: nn.Conv(8, (3, 3), strides=2),
        (2, 7, 7, 4),
        "float",
        ref_conv((2, 2), "SAME", (1, 1), 1, NHWC),
        {},
    ),
    (
        "conv2d_valid_dilated_grouped",
        lambda: nn.Conv(8, (3, 3), padding="VALID", kernel_dilation=2, feature_group_count=2),
        (2, 7, 7, 4),
        "float",
        ref_conv((1, 1), "VALID", (2, 2), 2, NHWC),
        {},
    ),
    (
        "conv2d_explicit_padding",
        lambda: nn.Conv(8, (3, 2), strides=(1, 2), padding=((1, 0), (2, 1))),
        (2, 5, 6, 4),
        "float",
        ref_conv((1, 2), ((1, 0), (2, 1)), (1, 1), 1, NHWC),
        {},
    ),
    (
        "conv2d_depthwise",
        lambda: nn.Conv(4, (3, 3), feature_group_count=4),
        (2, 5, 5, 4),
        "float",
        ref_conv((1, 1), "SAME", (1, 1), 4, NHWC),
        {},
    ),
    (
        "conv1d_causal",
        lambda: nn.Conv(8, (3,), padding="CAUSAL", kernel_dilation=2),
        (2, 9, 4),
        "float",
        ref_conv((1,), "CAUSAL", (2,), 1, NWC),
        {},
    ),
    (
        "conv1d_stride",
        lambda: nn.Conv(8, (4,), strides=3, padding="VALID"),
        (2, 11, 4),
        "float",
        ref_conv((3,), "VALID", (1,), 1, NWC),
        {},
    ),
    (
        "conv3d",
        lambda: nn.Conv(8, (2, 3, 3), padding=1),
        (2, 4, 5, 5, 4),
        "float",
        ref_conv((1, 1, 1), ((1, 1),) * 3, (1, 1, 1), 1, NDHWC),
        {},
    ),
    (
        "conv_transpose2d_same",
        lambda: nn.ConvTranspose(8, (3, 3), strides=2),
        (2, 4, 5, 4),
        "float",
        ref_conv_transpose((2, 2), "SAME", (1, 1), NHWC),
        {},
    ),
    (
        "conv_transpose2d_valid",
        lambda: nn.ConvTranspose(8, (3, 3), strides=2, padding="VALID"),
        (2, 4, 5, 4),
        "float",
        ref_conv_transpose((2, 2), "VALID", (1, 1), NHWC),
        {},
    ),
    (
        "conv_transpose1d_explicit_dilated",
        lambda: nn.ConvTranspose(8, (3,), strides=2, padding=((2, 1),), kernel_dilation=2),
        (2, 6, 4),
        "float",
        ref_conv_transpose((2,), ((2, 1),), (2,), NWC),
        {},
    ),
    (
        "max_pool",
        lambda: nn.MaxPool((2, 2)),
        (2, 7, 6, 4),
        "float",
        ref_pool("max", (2, 2), (2, 2), "VALID"),
        {},
    ),
    (
        "max_pool_same_overlap",
        lambda: nn.MaxPool((3, 3), strides=2, padding="SAME"),
        (2, 7, 6, 4),
        "float",
        ref_pool("max", (3, 3), (2, 2), "SAME"),
        {},
    ),
    (
        "avg_pool",
        lambda: nn.AvgPool((2, 3), strides=(2, 1)),
        (2, 7, 6, 4),
        "float",
        ref_pool("avg", (2, 3), (2, 1), "VALID"),
        {},
    ),
    (
        "avg_pool_same_exclude_pad",
        lambda: nn.AvgPool((3, 3), strides=2, padding="SAME", count_include_pad=False),
        (2, 7, 6, 4),
        "float",
        ref_pool("avg", (3, 3), (2, 2), "SAME", False),
        {},
    ),
    (
        "avg_pool1d_same",
        lambda: nn.AvgPool((3,), strides=1, padding="SAME"),
        (2, 9, 4),
        "float",
        ref_pool("avg", (3,), (1,), "SAME"),
        {},
    ),
    (
        "global_avg_pool",
        lambda: nn.GlobalAvgPool(),
        (2, 5, 6, 4),
        "float",
        lambda p, x: x.mean(axis=(1, 2)),
        {},
    ),
    (
        "global_max_pool",
        lambda: nn.GlobalMaxPool(),
        (2, 5, 6, 4),
        "float",
        lambda p, x: x.max(axis=(1, 2)),
        {},
    ),
    ("flatten", lambda: nn.Flatten(), (2, 3, 5, 4), "float", lambda p, x: x.reshape(2, -1), {}),
    (
        "reshape",
        lambda: nn.Reshape((5, -1)),
        (2, 3, 5, 4),
        "float",
        lambda p, x: x.reshape(2, 5, 12),
        {},
    ),
    ("dropout_eval", lambda: nn.Dropout(0.5), (2, 3, 4), "float", lambda p, x: x, {}),
    ("batch_norm_eval", lambda: nn.BatchNorm(), (6, 4), "float", ref_batch_norm_eval, {}),
    ("layer_norm", lambda: nn.LayerNorm(), (2, 3, 8), "float", ref_layer_norm, {}),
    ("rms_norm", lambda: nn.RMSNorm(), (2, 3, 8), "float", ref_rms_norm, {}),
    ("group_norm", lambda: nn.GroupNorm(2), (2, 3, 5, 8), "float", ref_group_norm(2), {}),
    (
        "group_norm_size",
        lambda: nn.GroupNorm(group_size=2),
        (2, 7, 8),
        "float",
        ref_group_norm(4),
        {},
    ),
    ("embedding", lambda: nn.Embedding(10, 8), (2, 5), "ids", ref_embedding, {}),
    ("rnn", lambda: nn.RNN(8), (2, 5, 4), "float", ref_recurrent(rnn_step, 8), {}),
    ("gru", lambda: nn.GRU(8), (2, 5, 4), "float", ref_recurrent(gru_step, 8), {}),
    ("lstm", lambda: nn.LSTM(8), (2, 5, 4), "float", ref_recurrent(lstm_step, 8, True), {}),
    (
        "lstm_reverse",
        lambda: nn.LSTM(8, reverse=True),
        (2, 5, 4),
        "float",
        ref_recurrent(lstm_step, 8, True, reverse=True),
        {},
    ),
    (
        "bidirectional_lstm",
        lambda: nn.Bidirectional(nn.LSTM(8)),
        (2, 5, 4),
        "float",
        ref_bidirectional(lstm_step, 8, True),
        {},
    ),
    (
        "bidirectional_gru",
        lambda: nn.Bidirectional(nn.GRU(8), nn.GRU(4, reverse=True)),
        (2, 5, 4),
        "float",
        lambda p, x: np.concatenate(
            [
                ref_recurrent(gru_step, 8)(p["forward"], x),
                ref_recurrent(gru_step, 4, reverse=True)(p["backward"], x),
            ],
            -1,
        ),
        {},
    ),
    ("mha_self", lambda: nn.MultiHeadAttention(num_heads=2), (2, 5, 8), "float", ref_mha(2), {}),
    (
        "mha_causal_padding",
        lambda: nn.MultiHeadAttention(num_heads=4, causal=True),
        (2, 5, 8),
        "float",
        ref_mha(4, causal=True, mask=PAD_MASK),
        {"mask": PAD_MASK},
    ),
    (
        "mha_qkv_out_features",
        lambda: nn.MultiHeadAttention(num_heads=2, qkv_features=4, out_features=6),
        (2, 5, 8),
        "float",
        ref_mha(2),
        {},
    ),
]


def make_input(shape, kind, seed=1):
    rng = np.random.default_rng(seed)
    if kind == "ids":
        return rng.integers(0, 10, shape).astype(np.int32)
    return rng.standard_normal(shape).astype(np.float32)


def run_case(make, shape, kind, kw):
    layer = make()
    unknown_batch = (-1,) + shape[1:]
    if isinstance(layer, nn.BatchNorm):
        params, state, declared = layer.init_with_state(KEY, unknown_batch)
    else:
        params, declared = layer.init(KEY, unknown_batch)
        state = None
    # init with the batch known declares the exact shape.
    exact = layer.init_with_state(KEY, shape)[2]
    p = perturbed(params)
    x = make_input(shape, kind)
    if state is None:
        y = fn.jit(lambda p, x: layer.apply(p, x, **kw))(p, x)
    else:
        y, _ = fn.jit(lambda p, s, x: layer.apply(p, x, state=s, **kw))(p, state, x)
    return layer, p, x, y, declared, exact


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_reference_and_declared_shape(case):
    _, make, shape, kind, ref, kw = case
    _, p, x, y, declared, exact = run_case(make, shape, kind, kw)
    assert declared[0] == -1 and shapes_match(declared, tuple(y.shape)), (declared, y.shape)
    assert exact == tuple(y.shape), (exact, y.shape)
    np.testing.assert_allclose(np.asarray(y), ref(p, x), rtol=RTOL, atol=ATOL)


def test_param_names_and_shapes_are_documented():
    def shapes(layer, s):
        return tree.tree_map(lambda a: tuple(a.shape), layer.init(KEY, s)[0])

    assert shapes(nn.Dense(8), (-1, 4)) == {"w": (4, 8), "b": (8,)}
    assert shapes(nn.Conv(8, (3, 3), feature_group_count=2), (-1, 5, 5, 4)) == {
        "w": (3, 3, 2, 8),
        "b": (8,),
    }
    assert shapes(nn.ConvTranspose(8, (3,)), (-1, 5, 4)) == {"w": (3, 4, 8), "b": (8,)}
    assert shapes(nn.LSTM(8), (-1, 5, 4)) == {"wi": (4, 32), "wh": (8, 32), "b": (32,)}
    assert shapes(nn.GRU(8), (-1, 5, 4)) == {"wi": (4, 24), "wh": (8, 24), "b": (24,), "bh": (24,)}
    assert set(shapes(nn.MultiHeadAttention(2), (-1, 5, 8))) == {"query", "key", "value", "out"}
    assert shapes(nn.Dense(8, use_bias=False), (-1, 4)) == {"w": (4, 8)}
    assert shapes(nn.LayerNorm(use_bias=False), (-1, 8)) == {"scale": (8,)}
    assert shapes(nn.Flatten(), (-1, 3, 4)) == {}


def test_cross_attention_with_other_context_features():
    mha = nn.MultiHeadAttention(num_heads=2)
    params, out = mha.init(KEY, (-1, 5, 8), context_shape=(-1, 3, 4))
    assert params["key"]["w"].shape == (4, 8) and params["query"]["w"].shape == (8, 8)
    p = perturbed(params)
    x, ctx = make_input((2, 5, 8), "float"), make_input((2, 3, 4), "float", seed=2)
    y = fn.jit(lambda p, x, c: mha.apply(p, x, context=c))(p, x, ctx)
    assert shapes_match(out, y.shape)
    np.testing.assert_allclose(np.asarray(y), ref_mha(2)(p, x, ctx), rtol=RTOL, atol=ATOL)
    # A mask that hides every key gives uniform weights, not NaN.
    none = np.zeros((2, 1, 1, 3), bool)
    y = fn.jit(lambda p, x, c, m: mha.apply(p, x, context=c, mask=m))(p, x, ctx, none)
    assert np.isfinite(np.asarray(y)).all()
    # causal per call is the same as causal in the constructor
    mha_c = nn.MultiHeadAttention(num_heads=2, causal=True)
    pself = perturbed(mha.init(KEY, (-1, 5, 8))[0])
    a = fn.jit(lambda p, x: mha.apply(p, x, causal=True))(pself, x)
    b = fn.jit(lambda p, x: mha_c.apply(p, x))(pself, x)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(a), ref_mha(2, causal=True)(pself, x), rtol=RTOL, atol=ATOL
    )


def test_masks():
    np.testing.assert_array_equal(
        np.asarray(nn.causal_mask(3)), np.tril(np.ones((3, 3), bool))[None, None]
    )
    valid = np.array([[True, True, False]])
    np.testing.assert_array_equal(np.asarray(nn.padding_mask(valid)), valid[:, None, None, :])
    qv = np.array([[True, False]])
    m = np.asarray(nn.padding_mask(valid, qv))
    assert m.shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(m[0, 0], qv[0][:, None] & valid[0][None, :])


@pytest.mark.parametrize(
    "cell_type,step,lstm",
    [
        (nn.SimpleRNNCell, rnn_step, False),
        (nn.GRUCell, gru_step, False),
        (nn.LSTMCell, lstm_step, True),
    ],
    ids=["simple_rnn", "gru", "lstm"],
)
def test_cells_one_step(cell_type, step, lstm):
    cell = cell_type(8)
    params, out = cell.init(KEY, (-1, 4))
    p = perturbed(params)
    x = make_input((3, 4), "float")
    carry, y = fn.jit(lambda p, x: cell.apply(p, x))(p, x)
    ref_carry, ref_y = ref_cell(step, lstm)(p, x)
    assert shapes_match(out, y.shape)
    np.testing.assert_allclose(np.asarray(y), ref_y, rtol=RTOL, atol=ATOL)
    for a, b in zip(tree.tree_leaves(carry), tree.tree_leaves(ref_carry)):
        np.testing.assert_allclose(np.asarray(a), b, rtol=RTOL, atol=ATOL)
    # a given carry is used: two steps equal the two-step sequence layer
    _, y2 = fn.jit(lambda p, x, c: cell.apply(p, x, carry=c))(p, x, carry)
    seq = nn.Recurrent(cell)
    ys = fn.jit(lambda p, xs: seq.apply(p, xs))(p, np.stack([x, x], 1))
    np.testing.assert_allclose(np.asarray(ys[:, 1]), np.asarray(y2), rtol=RTOL, atol=ATOL)


def test_recurrent_initial_and_final_carry():
    lstm = nn.LSTM(8)
    params, _ = lstm.init(KEY, (-1, 5, 4))
    p = perturbed(params)
    x = make_input((2, 5, 4), "float")
    f = fn.jit(lambda p, x: lstm.apply(p, x, return_carry=True))
    (_, h), ys = f(p, x)
    np.testing.assert_allclose(np.asarray(h), np.asarray(ys[:, -1]), rtol=1e-6)
    # running the second half from the first half's carry equals the whole
    g = fn.jit(lambda p, x, c0: lstm.apply(p, x, initial_carry=c0, return_carry=True))
    carry1, ys1 = f(p, x[:, :2])
    _, ys2 = g(p, x[:, 2:], carry1)
    np.testing.assert_allclose(np.concatenate([ys1, ys2], 1), np.asarray(ys), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make,step,lstm",
    [
        (lambda: nn.GRU(6), gru_step, False),
        (lambda: nn.LSTM(6), lstm_step, True),
        (lambda: nn.LSTM(6, reverse=True), lstm_step, True),
    ],
    ids=["gru", "lstm", "lstm_reverse"],
)
def test_recurrent_seq_lengths(make, step, lstm):
    # Each example against its own unpadded sequence: the same outputs on the valid steps,
    # zeros after them, and the carry after the last valid step.
    layer = make()
    params, _ = layer.init(KEY, (-1, 6, 3))
    p = perturbed(params)
    x = make_input((3, 6, 3), "float")
    lengths = np.array([6, 2, 4], np.int32)
    carry, ys = fn.jit(lambda p, x, n: layer.apply(p, x, seq_lengths=n, return_carry=True))(
        p, x, lengths
    )
    ref = ref_recurrent(step, 6, lstm, reverse=layer.reverse)
    for b, n in enumerate(lengths):
        want = ref(p, x[b : b + 1, :n])[0]
        np.testing.assert_allclose(np.asarray(ys[b, :n]), want, rtol=RTOL, atol=ATOL)
        assert not np.asarray(ys[b, n:]).any()
        last_h = tree.tree_leaves(carry)[-1][b]
        np.testing.assert_allclose(
            np.asarray(last_h), want[0 if layer.reverse else -1], rtol=RTOL, atol=ATOL
        )


def test_bidirectional_seq_lengths_and_bad_input():
    bi = nn.Bidirectional(nn.LSTM(4))
    params, out = bi.init(KEY, (-1, 5, 3))
    assert out == (-1, 5, 8) and set(params) == {"forward", "backward"}
    x = make_input((2, 5, 3), "float")
    full = bi.apply(params, x, seq_lengths=np.array([5, 5]))
    np.testing.assert_allclose(np.asarray(full), np.asarray(bi.apply(params, x)), rtol=1e-6)
    short = bi.apply(params, x, seq_lengths=np.array([5, 3]))
    # the backward direction of the short example starts at its own last step
    alone = bi.apply(params, x[1:, :3])
    np.testing.assert_allclose(np.asarray(short[1, :3]), np.asarray(alone[0]), rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match=r"seq_lengths must be integers of shape \(2,\)"):
        bi.apply(params, x, seq_lengths=np.array([5.0, 3.0]))
    with pytest.raises(TypeError, match="recurrent layer"):
        nn.Bidirectional(nn.Dense(3))


def test_dropout_training():
    drop = nn.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    f = fn.jit(lambda x, k: drop.apply({}, x, key=k, train=True))
    y = np.asarray(f(x, random.key(3)))
    kept = y != 0
    # rate is the probability to DROP
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    # the mask is bernoulli(key, 1 - rate): reproducible from the key
    np.testing.assert_array_equal(
        kept, np.asarray(random.bernoulli(random.key(3), 0.75, (200, 50)))
    )
    np.testing.assert_array_equal(np.asarray(f(x, random.key(3))), y)
    assert not np.array_equal(np.asarray(f(x, random.key(4))), y)
    # evaluation is the identity and needs no key; rate 0 and rate 1
    np.testing.assert_array_equal(np.asarray(drop.apply({}, x)), x)
    assert np.all(np.asarray(nn.Dropout(1.0).apply({}, x, key=KEY, train=True)) == 0)
    np.testing.assert_array_equal(np.asarray(nn.Dropout(0.0).apply({}, x, train=True)), x)
    # broadcast_dims share one mask along an axis
    yb = np.asarray(nn.Dropout(0.5, broadcast_dims=(0,)).apply({}, x, key=KEY, train=True))
    assert (yb == yb[:1]).all()


def test_batch_norm_train_and_eval_state():
    bn = nn.BatchNorm(momentum=0.9)
    params, state, _ = bn.init_with_state(KEY, (-1, 3, 4))
    assert tree.tree_map(lambda a: tuple(a.shape), state) == {"mean": (4,), "var": (4,)}
    np.testing.assert_array_equal(np.asarray(state["mean"]), 0)
    np.testing.assert_array_equal(np.asarray(state["var"]), 1)
    p = perturbed(params)
    x = 2 + 3 * make_input((6, 3, 4), "float")
    train = fn.jit(lambda p, s, x: bn.apply(p, x, state=s, train=True))
    evaluate = fn.jit(lambda p, s, x: bn.apply(p, x, state=s))
    y, s1 = train(p, state, x)
    mean, var = x.mean((0, 1)), x.var((0, 1))
    ref = (x - mean) / np.sqrt(var + 1e-5) * p["scale"] + p["bias"]
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(s1["mean"]), 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(s1["var"]), 0.9 + 0.1 * var, rtol=1e-5)
    _, s2 = train(p, s1, x)
    np.testing.assert_allclose(np.asarray(s2["mean"]), 0.9 * 0.1 * mean + 0.1 * mean, rtol=1e-5)
    # evaluation normalizes with the running statistics and returns the state unchanged
    y_eval, s_eval = evaluate(p, s2, x)
    ref_eval = (x - np.asarray(s2["mean"])) / np.sqrt(np.asarray(s2["var"]) + 1e-5) * p[
        "scale"
    ] + p["bias"]
    np.testing.assert_allclose(np.asarray(y_eval), ref_eval, rtol=1e-4, atol=1e-5)
    for k in ("mean", "var"):
        np.testing.assert_array_equal(np.asarray(s_eval[k]), np.asarray(s2[k]))

    # a training step: grad sees the params only, the new state comes back as aux (a
    # plain value, eagerly and under jit)
    def loss(p, s, x):
        y, s = bn.apply(p, x, state=s, train=True)
        return fnp.sum(y**2), s

    for step in (
        fn.value_and_grad(loss, has_aux=True),
        fn.jit(fn.value_and_grad(loss, has_aux=True)),
    ):
        (_, s_aux), g = step(p, state, x)
        assert set(g) == {"scale", "bias"}
        np.testing.assert_allclose(
            np.asarray(s_aux["mean"] + 0), np.asarray(s1["mean"]), rtol=1e-5, atol=1e-6
        )


# --- gradients --------------------------------------------------------------------------

GRAD_CASES = [
    ("dense", lambda: nn.Dense(3), (2, 4)),
    ("conv", lambda: nn.Conv(3, (2, 2), strides=2), (1, 4, 4, 2)),
    ("layer_norm", lambda: nn.LayerNorm(), (2, 4)),
    ("lstm", lambda: nn.LSTM(3), (2, 3, 2)),
    ("mha", lambda: nn.MultiHeadAttention(num_heads=2, qkv_features=4), (1, 3, 4)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_check_grads(case):
    _, make, shape = case
    layer = make()
    params, _ = layer.init(KEY, shape)
    p = tree.tree_map(fnp.asarray, perturbed(params, seed=5))
    x = fnp.asarray(make_input(shape, "float", seed=6))
    f = fn.jit(lambda p, x: layer.apply(p, x))
    check_grads(f, (p, x), order=1, modes=("rev",), atol=5e-2, rtol=5e-2)
    # and grad agrees with jax.grad of the same computation written in jax.numpy
    # for the dense case (an independent reverse mode)
    if case[0] == "dense":
        g = fn.grad(lambda p: fnp.sum(fnp.tanh(layer.apply(p, x))))(p)
        jg = jax.grad(lambda p: jnp.sum(jnp.tanh(np.asarray(x) @ p["w"] + p["b"])))(
            tree.tree_map(np.asarray, p)
        )
        for k in ("w", "b"):
            np.testing.assert_allclose(np.asarray(g[k]), np.asarray(jg[k]), rtol=1e-5, atol=1e-6)


# --- jax's attention signature; refusals ------------------------------------------------


def test_dot_product_attention_matches_jax_signature_and_values():
    ours = list(inspect.signature(nn.dot_product_attention).parameters)
    theirs = list(inspect.signature(jax.nn.dot_product_attention).parameters)
    assert ours[: len(theirs)] == theirs  # jax's parameters, in jax's order
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 6, 4, 8)).astype(np.float32)
    k = rng.normal(size=(2, 6, 2, 8)).astype(np.float32)  # grouped-query: 2 key heads
    v = rng.normal(size=(2, 6, 2, 8)).astype(np.float32)
    bias = rng.normal(size=(2, 4, 6, 6)).astype(np.float32)
    mask = rng.random((2, 1, 6, 6)) > 0.3
    for kwargs in ({}, {"bias": bias}, {"mask": mask, "scale": 0.3}, {"is_causal": True}):
        np.testing.assert_allclose(
            nn.dot_product_attention(q, k, v, **kwargs),
            jax.nn.dot_product_attention(q, k, v, **kwargs),
            rtol=1e-5,
            atol=1e-6,
        )
    # the fourth positional argument is a bias, as jax's
    np.testing.assert_allclose(
        nn.dot_product_attention(q, k, v, bias),
        jax.nn.dot_product_attention(q, k, v, bias),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(  # no batch axis
        nn.dot_product_attention(q[0], k[0], v[0]),
        jax.nn.dot_product_attention(q[0], k[0], v[0]),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="do not fit 3 key heads"):
        nn.dot_product_attention(q, q[:, :, :3], q[:, :, :3])
    # sequence lengths, local windows and the logsumexp residual, as jax
    lengths = {
        "query_seq_lengths": np.array([3, 6], np.int32),
        "key_value_seq_lengths": np.array([5, 2], np.int32),
    }
    for kwargs in (
        lengths,
        {"local_window_size": (1, 2)},
        {"local_window_size": 1, "is_causal": True},
    ):
        np.testing.assert_allclose(
            nn.dot_product_attention(q, k, v, **kwargs),
            jax.nn.dot_product_attention(q, k, v, **kwargs),
            rtol=1e-5,
            atol=1e-6,
        )
    out, lse = nn.dot_product_attention(q, k, v, return_residual=True, **lengths)
    jout, jlse = jax.nn.dot_product_attention(q, k, v, return_residual=True, **lengths)
    np.testing.assert_allclose(out, jout, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lse, jlse, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="cudnn"):
        nn.dot_product_attention(q, q, q, implementation="cudnn")


def test_flatten_empty_batch_and_clear_constructor_errors():
    y = nn.Flatten().apply({}, fnp.ones((0, 3, 4)))
    assert y.shape == (0, 12)
    with pytest.raises(TypeError, match="forward_layer must be a recurrent layer"):
        nn.Bidirectional(None)
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(True)
