"""compress.quantize_program: the int8 rewrite of a traced program's dot_generals, checked
against a NumPy implementation of the same integer arithmetic."""

import re

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import compress, demo, lax, nn, random

# --- NumPy reference of the rewritten arithmetic ------------------------------------------


def np_quantize_weight(w, contracting, qmax=127):
    """Per-channel symmetric codes over the non-contracting axes (keepdims scale)."""
    w = np.asarray(w, np.float32)
    amax = np.max(np.abs(w), axis=contracting, keepdims=True)
    scale = np.where(amax > 0, amax / np.float32(qmax), np.float32(1)).astype(np.float32)
    return np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int8), scale


def np_quantize_activation(x):
    x = np.asarray(x, np.float32)
    amax = np.max(np.abs(x))
    scale = np.float32(amax / np.float32(127)) if amax > 0 else np.float32(1)
    return np.clip(np.rint(x / scale), -127, 127).astype(np.int8), scale


def np_int8_matmul(x, w):
    """x (n, k) @ w (k, m) the rewritten way: returns (y, int32 accumulators, combined
    scale per output column)."""
    xq, xs = np_quantize_activation(x)
    wq, ws = np_quantize_weight(w, (0,))
    acc = xq.astype(np.int64) @ wq.astype(np.int64)
    assert np.abs(acc).max() < 2**31
    scale = (ws[0] * xs).astype(np.float32)
    return acc.astype(np.int32).astype(np.float32) * scale, acc, scale


def np_mlp(params, x, quantized):
    h = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    names = sorted(params)
    for i, name in enumerate(names):
        w, b = np.asarray(params[name]["w"]), np.asarray(params[name]["b"])
        h = (np_int8_matmul(h, w)[0] if quantized else h @ w) + b
        if i < len(names) - 1:
            h = np.maximum(h, 0)
    return h


def hlo_dots(text):
    return [line for line in text.splitlines() if "stablehlo.dot_general" in line]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp():
    model = demo.mlp()
    params, _ = model.init(random.key(0), (-1, 8, 8, 1))
    return model, params


@pytest.fixture(scope="module")
def digits():
    (_, _), (xte, yte) = demo.digits_split()
    return xte[:128], yte[:128]


def hand_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0, 0.2, (64, 128)).astype(np.float32),
        "b1": rng.normal(0, 0.1, (128,)).astype(np.float32),
        "w2": rng.normal(0, 0.2, (128, 10)).astype(np.float32),
    }


def hand_mlp(p, x):
    h = nn.relu(fnp.reshape(x, (x.shape[0], -1)) @ p["w1"] + p["b1"])
    return h @ p["w2"]


def np_hand_mlp(p, x, quantized):
    h = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    mm = (lambda a, w: np_int8_matmul(a, w)[0]) if quantized else np.matmul
    return mm(np.maximum(mm(h, p["w1"]) + p["b1"], 0), p["w2"])


def check_argmax(q_logits, f_logits, err):
    """Every disagreement of the argmax is explained by a float margin within the error."""
    q, f = np.argmax(q_logits, -1), np.argmax(f_logits, -1)
    rows = np.nonzero(q != f)[0]
    margins = f_logits[rows, f[rows]] - f_logits[rows, q[rows]]
    assert np.all(margins <= 2 * err), (rows, margins, err)
    assert np.mean(q == f) >= 0.9


# --- the demo MLP and a hand-written closure ------------------------------------------


def test_demo_mlp_matches_numpy_integer_reference(mlp, digits):
    model, params = mlp
    x = digits[0][:64]
    predict = lambda x: model.apply(params, x)  # noqa: E731
    qf = compress.quantize_program(predict)
    got = np.asarray(qf(x))
    ref = np_mlp(params, x, quantized=True)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    flt = np.asarray(predict(x))
    err = np.abs(got - flt).max()
    assert 0 < err < 0.05 * np.abs(flt).max()
    check_argmax(got, flt, err)
    info = qf.inspect(x)
    assert info.rewritten == 3 and info.kept == ()


def test_hand_mlp_closure_close_and_argmax(digits):
    p = hand_params()
    x = digits[0]
    qf = compress.quantize_program(lambda x: hand_mlp(p, x))
    got = np.asarray(qf(x))
    np.testing.assert_allclose(got, np_hand_mlp(p, x, True), rtol=1e-4, atol=1e-4)
    flt = np_hand_mlp(p, x, False)
    check_argmax(got, flt, np.abs(got - flt).max())


def test_single_layer_error_bound_and_exact_int32_accumulators():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 96)).astype(np.float32)
    w = rng.normal(size=(96, 40)).astype(np.float32)
    qf = compress.quantize_program(lambda x: x @ w)
    y = np.asarray(qf(x))
    ref, acc, scale = np_int8_matmul(x, w)
    np.testing.assert_array_equal(np.rint(y / scale).astype(np.int64), acc)  # exact int32
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    # |xq sx wq sw - x w| <= sum_k |x| sw/2 + sx/2 |w| + sx sw/4, per output element
    _, sx = np_quantize_activation(x)
    _, sw = np_quantize_weight(w, (0,))
    bound = (np.abs(x) @ np.ones_like(w)) * sw / 2 + sx / 2 * np.abs(w).sum(0) + 96 * sx * sw / 4
    assert np.all(np.abs(y - x @ w) <= bound * 1.001)


def test_weight_constants_are_the_shared_per_channel_codes():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(64, 48)).astype(np.float32)
    w[:, 3] = 0.0  # an all-zero channel: scale 1, codes 0
    info = compress.quantize_program(lambda x: x @ w).inspect(np.ones((2, 64), np.float32))
    (q,) = [np.asarray(c) for c in info.jaxpr.consts if np.asarray(c).dtype == np.int8]
    hq, hscale = compress.quantize_per_channel(w, axis=-1)
    np.testing.assert_array_equal(q, np.asarray(hq))
    np.testing.assert_array_equal(q, np_quantize_weight(w, (0,))[0])
    assert not np.any(q[:, 3]) and np.asarray(hscale)[3] == 1.0
    # the float32 weight left the program
    assert all(
        np.asarray(c).shape != (64, 48) or np.asarray(c).dtype == np.int8 for c in info.jaxpr.consts
    )


# --- compiled program ------------------------------------------------------------------


def test_stablehlo_has_int8_dots_and_no_float_dot(mlp):
    model, params = mlp
    qf = compress.quantize_program(lambda x: model.apply(params, x))
    x = np.zeros((4, 8, 8, 1), np.float32)
    dots = hlo_dots(fn.jit(qf).lower(x).as_text())
    assert len(dots) == 3
    for line in dots:
        assert re.search(r"\(tensor<[0-9x]+xi8>, tensor<[0-9x]+xi8>\) -> tensor<[0-9x]+xi32>", line)
    assert not any("xf32>" in line.split("->")[0] for line in dots)
    float_dots = hlo_dots(fn.jit(lambda x: model.apply(params, x)).lower(x).as_text())
    assert len(float_dots) == 3 and all("xf32>" in d for d in float_dots)  # the check can fail


def test_jit_of_quantized_matches_eager(mlp, digits):
    model, params = mlp
    qf = compress.quantize_program(lambda x: model.apply(params, x))
    x = digits[0][:16]
    np.testing.assert_allclose(np.asarray(fn.jit(qf)(x)), np.asarray(qf(x)), rtol=1e-5, atol=1e-6)


# --- what is left alone ----------------------------------------------------------------


def test_integer_small_and_activation_dots_stay_float():
    rng = np.random.default_rng(3)
    w_int = rng.integers(-5, 5, (32, 32)).astype(np.int32)
    w_small = rng.normal(size=(8, 4)).astype(np.float32)
    w_proj = rng.normal(size=(32, 32)).astype(np.float32)

    def f(x, xi):
        ints = xi @ w_int  # integer dot_general
        small = x[:, :8] @ w_small  # a weight under min_size
        h = x @ w_proj  # rewritten
        scores = h @ h.T  # activation x activation (attention's q @ k^T)
        return ints, small, scores

    x = rng.normal(size=(6, 32)).astype(np.float32)
    xi = rng.integers(-3, 3, (6, 32)).astype(np.int32)
    qf = compress.quantize_program(f, min_size=100)
    info = qf.inspect(x, xi)
    assert info.rewritten == 1
    kept = "\n".join(info.kept)
    assert "i32[6,32] x i32[32,32]: not float32 operands" in kept
    assert "weight of 32 elements < min_size 100" in kept
    assert "f32[6,32] x f32[32,6]: no weight operand" in kept
    ints, small, scores = (np.asarray(a) for a in qf(x, xi))
    np.testing.assert_array_equal(ints, xi @ w_int)
    np.testing.assert_allclose(small, x[:, :8] @ w_small, rtol=1e-5, atol=1e-5)
    hq = np_int8_matmul(x, w_proj)[0]
    np.testing.assert_allclose(scores, hq @ hq.T, rtol=1e-4, atol=1e-3)
    dots = hlo_dots(fn.jit(qf).lower(x, xi).as_text())
    assert sum("xf32>, tensor<" in d for d in dots) == 2  # small and scores
    assert sum("xi8>" in d for d in dots) == 1


def test_custom_jvp_body_is_left_alone():
    w = np.random.default_rng(4).normal(size=(32, 32)).astype(np.float32)

    @fn.custom_jvp
    def layer(x):
        return x @ w

    layer.defjvp(lambda primals, tangents: (layer(primals[0]), tangents[0] @ w))
    x = np.ones((2, 32), np.float32)
    qf = compress.quantize_program(layer)
    assert qf.inspect(x).rewritten == 0
    np.testing.assert_allclose(np.asarray(qf(x)), x @ w, rtol=1e-5)


# --- where weights come from -------------------------------------------------------------


def test_weight_argnums(mlp, digits):
    model, params = mlp
    x = digits[0][:32]
    apply = lambda p, x: model.apply(p, x)  # noqa: E731
    qa = compress.quantize_program(apply, weight_argnums=0)
    info = qa.inspect(params, x)
    assert info.rewritten == 3
    ref = np_mlp(params, x, quantized=True)
    np.testing.assert_allclose(np.asarray(qa(params, x)), ref, rtol=1e-4, atol=1e-4)
    star = compress.quantize_program(lambda *a: apply(*a), weight_argnums=-2)
    assert star.inspect(params, x).rewritten == 3
    plain = compress.quantize_program(apply).inspect(params, x)  # params are not weights
    assert plain.rewritten == 0 and len(plain.kept) == 3
    assert all("no weight operand" in k for k in plain.kept)


def test_nested_jit_transposed_and_batched_weights():
    rng = np.random.default_rng(5)
    w_t = rng.normal(size=(24, 64)).astype(np.float32)  # used as x @ w_t.T
    w_b = rng.normal(size=(3, 24, 16)).astype(np.float32)  # batched over axis 0
    inner = fn.jit(lambda x: x @ w_t.T)

    def f(x):
        h = inner(x)  # (3 * 5, 24)
        hb = fnp.reshape(h, (3, 5, 24))
        return lax.dot_general(hb, w_b, (((2,), (1,)), ((0,), (0,))))  # (3, 5, 16)

    x = rng.normal(size=(15, 64)).astype(np.float32)
    qf = compress.quantize_program(f, min_size=64)
    info = qf.inspect(x)
    assert info.rewritten == 2
    text = str(info.jaxpr)
    # the transposed view was folded at rewrite time; no float copy of either weight left
    assert "jit[" in text and "i8[64,24]" in text and "i8[3,24,16]" in text
    assert "f32[24,64]" not in text and "f32[64,24]" not in text and "f32[3,24,16]" not in text
    h = np_int8_matmul(x, w_t.T)[0]
    hq, hs = np_quantize_activation(h)
    wq, ws = np_quantize_weight(w_b, (1,))  # channels: (batch, out) = (3, 16)
    acc = np.einsum("bnk,bkm->bnm", hq.reshape(3, 5, 24).astype(np.int64), wq.astype(np.int64))
    ref = acc.astype(np.float32) * (ws * hs)
    np.testing.assert_allclose(np.asarray(qf(x)), ref, rtol=1e-4, atol=1e-4)


def test_weight_argnums_batched_and_transposed_weights():
    rng = np.random.default_rng(14)
    w_t = rng.normal(size=(24, 64)).astype(np.float32)
    w_b = rng.normal(size=(3, 24, 16)).astype(np.float32)

    def f(ws, x):
        hb = fnp.reshape(x @ ws["t"].T, (3, 5, 24))
        return lax.dot_general(hb, ws["b"], (((2,), (1,)), ((0,), (0,))))

    x = rng.normal(size=(15, 64)).astype(np.float32)
    qf = compress.quantize_program(f, weight_argnums=0)
    assert qf.inspect({"t": w_t, "b": w_b}, x).rewritten == 2
    h = np_int8_matmul(x, w_t.T)[0]
    hq, hs = np_quantize_activation(h)
    wq, ws = np_quantize_weight(w_b, (1,))
    acc = np.einsum("bnk,bkm->bnm", hq.reshape(3, 5, 24).astype(np.int64), wq.astype(np.int64))
    ref = acc.astype(np.float32) * (ws * hs)
    got = np.asarray(qf({"t": w_t, "b": w_b}, x))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_scan_body_weights_are_rewritten():
    rng = np.random.default_rng(15)
    wh = rng.normal(0, 0.1, (64, 64)).astype(np.float32)
    wi = rng.normal(0, 0.3, (16, 64)).astype(np.float32)
    xs = rng.normal(size=(4, 3, 16)).astype(np.float32)  # (time, batch, features)

    def rnn(xs):
        def step(h, x):
            h = fnp.tanh(h @ wh + x @ wi)
            return h, h

        return lax.scan(step, fnp.ones((3, 64), np.float32), xs)[1]

    qf = compress.quantize_program(rnn)
    info = qf.inspect(xs)
    assert info.rewritten == 2 and "scan[" in str(info.jaxpr)
    assert "i8[64,64]" in str(info.jaxpr) and "f32[64,64]" not in str(info.jaxpr)
    h, ref = np.ones((3, 64), np.float32), []
    for x in xs:
        h = np.tanh(np_int8_matmul(h, wh)[0] + np_int8_matmul(x, wi)[0])
        ref.append(h)
    np.testing.assert_allclose(np.asarray(qf(xs)), np.stack(ref), rtol=1e-4, atol=1e-4)
    lstm = nn.LSTM(32)  # the library's recurrent layer: its input and recurrent kernels
    params, _ = lstm.init(random.key(0), (-1, 5, 16))
    assert (
        compress.quantize_program(lambda x: lstm.apply(params, x), min_size=256)
        .inspect(np.zeros((2, 5, 16), np.float32))
        .rewritten
        == 2
    )


def test_checkpointed_layer_is_rewritten():
    w = np.random.default_rng(16).normal(size=(64, 32)).astype(np.float32)
    x = np.random.default_rng(17).normal(size=(4, 64)).astype(np.float32)
    qf = compress.quantize_program(fn.checkpoint(lambda x: fnp.tanh(x @ w)))
    info = qf.inspect(x)
    assert info.rewritten == 1 and "remat[" in str(info.jaxpr)
    np.testing.assert_allclose(
        np.asarray(qf(x)), np.tanh(np_int8_matmul(x, w)[0]), rtol=1e-5, atol=1e-5
    )


def test_weight_as_left_operand():
    rng = np.random.default_rng(6)
    w = rng.normal(size=(20, 64)).astype(np.float32)
    x = rng.normal(size=(64, 7)).astype(np.float32)
    qf = compress.quantize_program(lambda x: w @ x)
    wq, ws = np_quantize_weight(w, (1,))  # one scale per row of w: the output's rows
    xq, xs = np_quantize_activation(x)
    ref = (wq.astype(np.int64) @ xq.astype(np.int64)).astype(np.float32) * (ws * xs)
    np.testing.assert_allclose(np.asarray(qf(x)), ref, rtol=1e-5, atol=1e-5)


# --- transformations, caching, bits --------------------------------------------------------


def test_vmap_per_example_scales():
    p = hand_params(7)
    xs = np.random.default_rng(8).normal(size=(5, 1, 64)).astype(np.float32)
    qf = compress.quantize_program(lambda x: hand_mlp(p, x))
    got = np.asarray(fn.vmap(qf)(xs))
    ref = np.stack([np_hand_mlp(p, x, True) for x in xs])
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_grad_flows_only_through_the_activation_scale():
    w = np.random.default_rng(12).normal(size=(64, 32)).astype(np.float32)
    x = np.random.default_rng(13).normal(size=(4, 64)).astype(np.float32)
    qf = compress.quantize_program(lambda x: x @ w)
    g = np.asarray(fn.grad(lambda x: qf(x).sum())(x))
    # rounding has a zero derivative; only max|x| (the dynamic scale) gets a gradient
    assert np.count_nonzero(g) == 1 and g.flat[np.argmax(np.abs(x))] != 0


def test_cached_per_signature():
    calls = []
    w = np.random.default_rng(9).normal(size=(64, 32)).astype(np.float32)

    def f(x):
        calls.append(x.shape)
        return x @ w

    qf = compress.quantize_program(f)
    qf(np.ones((2, 64), np.float32))
    qf(np.zeros((2, 64), np.float32))
    assert len(calls) == 1
    qf(np.ones((3, 64), np.float32))
    assert len(calls) == 2


def test_bits_4_codes():
    w = np.random.default_rng(10).normal(size=(64, 32)).astype(np.float32)
    x = np.random.default_rng(11).normal(size=(4, 64)).astype(np.float32)
    qf = compress.quantize_program(lambda x: x @ w, bits=4)
    (q,) = [np.asarray(c) for c in qf.inspect(x).jaxpr.consts if np.asarray(c).dtype == np.int8]
    wq, ws = np_quantize_weight(w, (0,), qmax=7)
    np.testing.assert_array_equal(q, wq)
    assert np.abs(q).max() == 7
    xq, xs = np_quantize_activation(x)
    ref = (xq.astype(np.int64) @ wq.astype(np.int64)).astype(np.float32) * (ws * xs)
    np.testing.assert_allclose(np.asarray(qf(x)), ref, rtol=1e-5, atol=1e-5)


# --- bad input ------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(TypeError, match="fun must be callable, got a list"):
        compress.quantize_program([1, 2])
    with pytest.raises(ValueError, match=r"weight_argnums 2 is out of range .* takes 2 positional"):
        compress.quantize_program(lambda p, x: x, weight_argnums=2)
    with pytest.raises(
        ValueError, match=r"weight_argnums \(1,\) is out of range for a call with 1"
    ):
        compress.quantize_program(lambda *a: a[0], weight_argnums=1)(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="weight_argnums must be ints"):
        compress.quantize_program(lambda x: x, weight_argnums=("x",))
    for bits in (1, 9):
        with pytest.raises(ValueError, match=rf"bits must be in \[2, 8\].*got {bits}"):
            compress.quantize_program(lambda x: x, bits=bits)
    with pytest.raises(TypeError, match="bits must be an int"):
        compress.quantize_program(lambda x: x, bits=4.0)
    with pytest.raises(ValueError, match="min_size must be >= 0"):
        compress.quantize_program(lambda x: x, min_size=-1)
    with pytest.raises(TypeError, match=r"argument leaf .* is of type str"):
        compress.quantize_program(lambda x: x)("a")
