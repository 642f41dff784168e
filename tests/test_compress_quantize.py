"""Post-training quantization (funcnet.compress quantize / calibrate / qlayers /
model_quant) against NumPy, jax.lax and torch.ao.quantization references."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
from funcnet import compress, demo, nn, optim

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------
# NumPy references
# ----------------------------------------------------------------------------


def np_quantize_per_channel(w, axis, bits=8):
    qmax = 2 ** (bits - 1) - 1
    w = np.asarray(w, np.float32)
    axis = axis % w.ndim
    others = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=others)
    scale = np.where(amax > 0, amax / np.float32(qmax), np.float32(1)).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -qmax, qmax).astype(np.int8)
    return q, scale


def np_quantize_per_tensor(x, scale, bits=8):
    qmax = 2 ** (bits - 1) - 1
    return np.clip(np.round(np.float32(x) / np.float32(scale)), -qmax, qmax).astype(np.int8)


def np_pack_int4(q):
    flat = np.asarray(q, np.int64).ravel()
    if flat.size % 2:
        flat = np.concatenate([flat, [0]])
    nib = flat & 0xF
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)


def np_init(layer, input_shape):
    """Params drawn in NumPy from the layer's declarations (no program to compile):
    kernels ~ N(0, 1 / fan_in), biases ~ N(0, 0.1)."""

    def draw(spec):
        if isinstance(spec, nn.Param):
            fan_in = int(np.prod(spec.shape[:-1])) if len(spec.shape) > 1 else 100
            return (RNG.normal(size=spec.shape) / np.sqrt(fan_in)).astype(np.float32)
        return {k: draw(v) for k, v in spec.items()}

    return draw(layer.param_specs(input_shape))


def _dense_qparams(params, x_scale):
    q, s = np_quantize_per_channel(params["w"], -1)
    return {"w_q": q, "w_scale": s, "x_scale": np.float32(x_scale), "b": np.asarray(params["b"])}


# ----------------------------------------------------------------------------
# quantize_per_channel / quantize_per_tensor / dequantize
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_quantize_per_channel_matches_numpy(axis):
    w = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    w[(slice(None),) * (axis % 3) + (1,)] = 0.0  # an all-zero channel on `axis`
    q, scale = compress.quantize_per_channel(w, axis=axis)
    q_ref, scale_ref = np_quantize_per_channel(w, axis)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    assert scale.shape == (w.shape[axis],)
    np.testing.assert_array_equal(np.asarray(scale), scale_ref)
    np.testing.assert_array_equal(np.asarray(q), q_ref)
    assert np.asarray(scale)[1] == 1.0 and not np.asarray(q).take(1, axis=axis).any()
    # |w - q * scale| <= scale / 2 (round to nearest; no value is clipped)
    deq = np.asarray(compress.dequantize(q, scale, axis=axis))
    bound = np.expand_dims(scale_ref, [i for i in range(3) if i != axis % 3]) / 2
    assert np.all(np.abs(w - deq) <= bound * (1 + 1e-6))


def test_quantize_per_channel_rounds_half_to_even_and_bits4():
    # channel amax 127 -> scale 1: the codes are round-half-even of the values
    w = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.5, 127.0], np.float32)[:, None]
    q, scale = compress.quantize_per_channel(w, axis=1)
    assert np.asarray(scale).tolist() == [1.0]
    assert np.asarray(q)[:, 0].tolist() == [0, 2, 2, 0, -2, 4, 127]
    # 4 bits: codes in [-7, 7], scale amax / 7
    w = RNG.normal(size=(6, 3)).astype(np.float32)
    q4, s4 = compress.quantize_per_channel(w, bits=4)
    q_ref, s_ref = np_quantize_per_channel(w, -1, bits=4)
    np.testing.assert_array_equal(np.asarray(q4), q_ref)
    np.testing.assert_array_equal(np.asarray(s4), s_ref)
    assert np.abs(np.asarray(q4)).max() == 7 and q4.dtype == np.int8


def test_quantize_per_channel_under_jit():
    w = RNG.normal(size=(8, 4)).astype(np.float32)
    q, s = fn.jit(compress.quantize_per_channel)(w)
    q_ref, s_ref = np_quantize_per_channel(w, -1)
    np.testing.assert_array_equal(np.asarray(q), q_ref)
    np.testing.assert_allclose(np.asarray(s), s_ref, rtol=1e-6)


def test_quantize_per_channel_under_vmap():
    w = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    q, s = fn.vmap(compress.quantize_per_channel)(w)
    for i in range(3):
        q_ref, s_ref = np_quantize_per_channel(w[i], -1)
        np.testing.assert_array_equal(np.asarray(q)[i], q_ref)
        np.testing.assert_allclose(np.asarray(s)[i], s_ref, rtol=1e-6)


def test_quantize_per_tensor_clips_and_rounds():
    x = np.array([0.0, 0.025, 0.075, -0.125, 6.35, 6.4, 100.0, -100.0], np.float32)
    q = compress.quantize_per_tensor(x, 0.05)
    np.testing.assert_array_equal(np.asarray(q), np_quantize_per_tensor(x, 0.05))
    assert np.asarray(q)[-2:].tolist() == [127, -127]  # clipped, never -128
    x = RNG.normal(size=(4, 7)).astype(np.float32) * 3
    np.testing.assert_array_equal(
        np.asarray(compress.quantize_per_tensor(x, 0.01, bits=4)),
        np_quantize_per_tensor(x, 0.01, bits=4),
    )
    jq = fn.jit(compress.quantize_per_tensor)(x, np.float32(0.02))
    np.testing.assert_array_equal(np.asarray(jq), np_quantize_per_tensor(x, 0.02))


def test_dequantize_scalar_and_axis():
    q = RNG.integers(-127, 128, size=(3, 4)).astype(np.int8)
    np.testing.assert_array_equal(
        np.asarray(compress.dequantize(q, np.float32(0.5))), q.astype(np.float32) * 0.5
    )
    s0 = np.array([1.0, 2.0, 0.5], np.float32)
    np.testing.assert_array_equal(
        np.asarray(compress.dequantize(q, s0, axis=0)), q.astype(np.float32) * s0[:, None]
    )
    with pytest.raises(ValueError, match=r"scale has 3 entries but q has 4 channels on axis 1"):
        compress.dequantize(q, s0, axis=1)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.bool_])
def test_quantize_refuses_integer_and_bool(dtype):
    w = np.ones((2, 3), dtype)
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=rf"floating-point array.*got dtype {name}"):
        compress.quantize_per_channel(w)
    with pytest.raises(TypeError, match=rf"got dtype {name}"):
        compress.quantize_per_tensor(w, 0.1)


def test_quantize_bad_arguments():
    w = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"bits must be an int in \[2, 8\].*got 9"):
        compress.quantize_per_channel(w, bits=9)
    with pytest.raises(ValueError, match="axis 2 is out of range for an array of rank 2"):
        compress.quantize_per_channel(w, axis=2)
    with pytest.raises(ValueError, match="rank >= 1, got a scalar"):
        compress.quantize_per_channel(np.float32(1.0))
    with pytest.raises(ValueError, match=r"scale must be positive, got 0\.0"):
        compress.quantize_per_tensor(w, 0.0)


# ----------------------------------------------------------------------------
# int4 packing, param_bytes
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16,), (3, 5), (2, 3, 3)])
def test_pack_unpack_int4_round_trip(shape):
    q = RNG.integers(-8, 8, size=shape).astype(np.int8)
    q.ravel()[:16] = np.arange(-8, 8)[: q.size]  # every code, where it fits
    packed = compress.pack_int4(q)
    assert packed.dtype == np.uint8 and packed.shape == ((q.size + 1) // 2,)
    np.testing.assert_array_equal(np.asarray(packed), np_pack_int4(q))
    back = compress.unpack_int4(packed, shape)
    assert back.dtype == np.int8
    np.testing.assert_array_equal(np.asarray(back), q)
    np.testing.assert_array_equal(
        np.asarray(fn.jit(compress.unpack_int4, static_argnums=1)(np_pack_int4(q), shape)), q
    )


def test_pack_int4_values_and_errors():
    # -1 is nibble 0xF, 7 is 0x7: [1, -1] -> 0xF1, [-8, 7] -> 0x78, odd count padded
    assert np.asarray(compress.pack_int4(np.array([1, -1, -8, 7, 3], np.int8))).tolist() == [
        0xF1,
        0x78,
        0x03,
    ]
    with pytest.raises(ValueError, match=r"codes must lie in \[-8, 7\], got \[-9, 2\]"):
        compress.pack_int4(np.array([-9, 2], np.int8))
    with pytest.raises(TypeError, match="integer codes, got dtype float32"):
        compress.pack_int4(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"5 codes of shape \(5,\) need 3 bytes"):
        compress.unpack_int4(np.zeros(2, np.uint8), (5,))


def test_param_bytes():
    t = {"a": np.zeros((3, 4), np.float32), "b": [np.zeros(7, np.int8), np.zeros(2, np.float16)]}
    assert compress.param_bytes(t) == sum(v.nbytes for v in [t["a"], *t["b"]])
    assert compress.param_bytes({"w": fn.numpy.ones((5,), np.float32)}) == 20


# ----------------------------------------------------------------------------
# QuantizedDense / QuantizedConv
# ----------------------------------------------------------------------------


def test_quantized_dense_int32_accumulators_exact():
    # unit scales and integer inputs: the output *is* the int32 accumulator
    k, n = 512, 6
    x = RNG.integers(-127, 128, size=(3, k)).astype(np.float32)
    wq = RNG.integers(-127, 128, size=(k, n)).astype(np.int8)
    wq[:, 0] = 127
    x[0] = 127  # 127 * 127 * 512 = 8258048: past int16, exact in int32 (and f32)
    qp = {"w_q": wq, "w_scale": np.ones(n, np.float32), "x_scale": np.float32(1)}
    layer = compress.QuantizedDense(n, use_bias=False)
    acc = x.astype(np.int64) @ wq.astype(np.int64)
    assert acc[0, 0] == 127 * 127 * k
    np.testing.assert_array_equal(np.asarray(layer.apply(qp, x)), acc.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(fn.jit(layer.apply)(qp, x)), acc.astype(np.float32))


def test_quantized_dense_matches_numpy_and_float():
    dense = nn.Dense(5)
    params = np_init(dense, (-1, 7))
    x = RNG.normal(size=(2, 3, 7)).astype(np.float32)  # leading axes kept
    xs = np.float32(np.abs(x).max() / 127)
    qp = _dense_qparams(params, xs)
    y = np.asarray(fn.jit(compress.QuantizedDense.from_float(dense).apply)(qp, x))
    xq = np_quantize_per_tensor(x, xs).astype(np.int32)
    acc = xq @ qp["w_q"].astype(np.int32)
    ref = acc.astype(np.float32) * (xs * qp["w_scale"]) + qp["b"]
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    # vs the float layer: |x w - xq wq s| <= sum |x| ws/2 + xs/2 |w| + xs ws / 4
    bound = (
        (np.abs(x) @ np.broadcast_to(qp["w_scale"] / 2, (7, 5)))
        + (xs / 2) * np.abs(params["w"]).sum(0)
        + 7 * xs * qp["w_scale"] / 4
    )
    err = np.abs(y - np.asarray(dense.apply(params, x)))
    assert np.all(err <= bound + 1e-5) and err.max() > 0


def test_quantized_dense_lowers_to_int8_dot_general():
    dense = nn.Dense(4)
    params = np_init(dense, (-1, 6))
    qp = _dense_qparams(params, 0.01)
    text = (
        fn.jit(compress.QuantizedDense.from_float(dense).apply)
        .lower(qp, np.ones((2, 6), np.float32))
        .as_text()
    )
    assert re.search(
        r"stablehlo\.dot_general.*\(tensor<2x6xi8>, tensor<6x4xi8>\) -> tensor<2x4xi32>", text
    ), text


CONV_CASES = [
    dict(features=4, kernel_size=(3, 3)),
    dict(features=6, kernel_size=(3, 2), strides=2, padding="VALID", kernel_dilation=(2, 1)),
    dict(features=4, kernel_size=(2, 2), padding=((1, 0), (0, 2)), feature_group_count=2),
]


def _jax_padding(conv):
    return conv.padding if isinstance(conv.padding, str) else [tuple(p) for p in conv.padding]


@pytest.mark.parametrize("case", CONV_CASES, ids=["same", "strided_dilated", "grouped"])
def test_quantized_conv_matches_jax_integer_conv(case):
    conv = nn.Conv(**case)
    x = RNG.normal(size=(2, 9, 8, 4)).astype(np.float32)
    params = np_init(conv, x.shape)
    xs = np.float32(np.abs(x).max() / 127)
    qp = _dense_qparams(params, xs)
    qconv = compress.QuantizedConv.from_float(conv)
    assert (qconv.strides, qconv.padding, qconv.kernel_dilation, qconv.feature_group_count) == (
        conv.strides,
        conv.padding,
        conv.kernel_dilation,
        conv.feature_group_count,
    )
    # the integer convolution, as jax computes it (int8 x int8 -> int32)
    acc = jax.lax.conv_general_dilated(
        jnp.asarray(np_quantize_per_tensor(x, xs)),
        jnp.asarray(qp["w_q"]),
        conv.strides,
        _jax_padding(conv),
        rhs_dilation=conv.kernel_dilation,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=conv.feature_group_count,
        preferred_element_type=jnp.int32,
    )
    ref = np.asarray(acc).astype(np.float32) * (xs * qp["w_scale"]) + qp["b"]
    y = np.asarray(fn.jit(qconv.apply)(qp, x))
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    y_float = np.asarray(fn.jit(conv.apply)(params, x))
    assert y.shape == y_float.shape
    assert np.abs(y - y_float).max() < 0.05 * np.abs(y_float).max()


def test_quantized_conv_lowers_to_int8_convolution():
    conv = nn.Conv(8, (3, 3), strides=2)
    params = np_init(conv, (-1, 8, 8, 2))
    text = (
        fn.jit(compress.QuantizedConv.from_float(conv).apply)
        .lower(_dense_qparams(params, 0.01), np.ones((2, 8, 8, 2), np.float32))
        .as_text()
    )
    assert re.search(
        r"stablehlo\.convolution.*\(tensor<2x8x8x2xi8>, tensor<3x3x2x8xi8>\) "
        r"-> tensor<2x4x4x8xi32>",
        text,
    ), text


def test_quantized_layers_bad_input():
    with pytest.raises(TypeError, match=r"QuantizedConv\.from_float takes an nn\.Conv"):
        compress.QuantizedConv.from_float(nn.ConvTranspose(4, (3, 3)))
    with pytest.raises(TypeError, match=r"QuantizedDense\.from_float takes an nn\.Dense"):
        compress.QuantizedDense.from_float(nn.Conv(4, (3, 3)))
    dense = nn.Dense(3)
    params = np_init(dense, (-1, 4))
    qp = {**_dense_qparams(params, 0.1), "w_q": np.asarray(params["w"])}
    with pytest.raises(
        nn.LayerError, match=r"params\['w_q'\] must be int8 codes, got dtype float32"
    ):
        compress.QuantizedDense(3).apply(qp, np.ones((2, 4), np.float32))


# ----------------------------------------------------------------------------
# calibrate
# ----------------------------------------------------------------------------


def _mlp_and_inputs():
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(4)])
    params = np_init(model, (-1, 5))
    batches = [RNG.normal(size=(n, 5)).astype(np.float32) * 2 for n in (6, 6, 3)]
    p = params
    hidden = [np.maximum(b @ p["dense_0"]["w"] + p["dense_0"]["b"], 0) for b in batches]
    return model, params, batches, hidden


def test_calibrate_minmax_exact():
    model, params, batches, hidden = _mlp_and_inputs()
    scales = compress.calibrate(model, params, batches)
    assert sorted(scales) == ["dense_0", "dense_1"]
    assert scales["dense_0"] == np.float32(max(np.abs(b).max() for b in batches)) / np.float32(127)
    amax1 = np.float32(max(np.abs(h).max() for h in hidden))
    assert scales["dense_1"] == pytest.approx(float(amax1 / np.float32(127)), rel=1e-6)
    # a generator works; an all-zero input gets scale 1
    zero = compress.calibrate(model, params, (np.zeros((2, 5), np.float32) for _ in range(2)))
    assert zero["dense_0"] == 1.0


def test_calibrate_percentile_matches_numpy():
    model, params, batches, hidden = _mlp_and_inputs()
    scales = compress.calibrate(model, params, batches, method="percentile", percentile=90.0)
    flat = np.concatenate([np.abs(b).ravel() for b in batches])
    assert scales["dense_0"] == pytest.approx(float(np.percentile(flat, 90.0) / 127), rel=1e-6)
    flat_h = np.concatenate([h.ravel() for h in hidden])
    assert scales["dense_1"] == pytest.approx(float(np.percentile(flat_h, 90.0) / 127), rel=1e-5)
    assert scales["dense_0"] < compress.calibrate(model, params, batches)["dense_0"]


def test_calibrate_matches_torch_minmax_observer():
    torch = pytest.importorskip("torch")
    from torch.ao.quantization.observer import MinMaxObserver

    model, params, batches, _ = _mlp_and_inputs()
    obs = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    for b in batches:
        obs(torch.from_numpy(b))
    # torch's scale uses another range ((max - min) / 255 style); compare the amax it tracks
    amax = max(-float(obs.min_val), float(obs.max_val))
    scales = compress.calibrate(model, params, batches)
    assert scales["dense_0"] == pytest.approx(amax / 127, rel=1e-6)


def test_calibrate_nested_containers_paths():
    model = nn.Sequential(
        [
            nn.Conv(3, (3, 3)),
            nn.relu,
            nn.Flatten(),
            nn.Residual(nn.Sequential([nn.Dense(48), nn.relu])),
            nn.Parallel([nn.Dense(4), nn.Sequential([nn.Dense(2), nn.Dense(4)])]),
            nn.Add(),
        ]
    )
    params = np_init(model, (-1, 4, 4, 2))
    x = RNG.normal(size=(3, 4, 4, 2)).astype(np.float32)
    scales = compress.calibrate(model, params, [x])
    assert sorted(scales) == [
        "conv_0",
        "parallel_0/dense_0",
        "parallel_0/sequential_0/dense_0",
        "parallel_0/sequential_0/dense_1",
        "residual_0/dense_0",
    ]
    assert scales["conv_0"] == np.float32(np.abs(x).max()) / np.float32(127)
    # the Parallel branches see the residual block's output
    assert scales["parallel_0/dense_0"] == scales["parallel_0/sequential_0/dense_0"]
    qmodel, qparams = compress.quantize_model(model, params, [x])
    assert sorted(qparams) == sorted(params)
    assert sorted(qparams["parallel_0"]["sequential_0"]["dense_1"]) == [
        "b",
        "w_q",
        "w_scale",
        "x_scale",
    ]
    y = np.asarray(fn.jit(model.apply)(params, x))
    yq = np.asarray(fn.jit(qmodel.apply)(qparams, x))
    assert np.abs(y - yq).max() < 0.05 * np.abs(y).max()


def test_calibrate_bad_input():
    model, params, batches, _ = _mlp_and_inputs()
    with pytest.raises(ValueError, match="calibration needs at least one batch"):
        compress.calibrate(model, params, [])
    with pytest.raises(ValueError, match="calibration needs at least one batch"):
        compress.calibrate(model, params, iter(()))
    with pytest.raises(TypeError, match="got a single array; wrap one batch in a list"):
        compress.calibrate(model, params, batches[0])
    with pytest.raises(ValueError, match=r"method must be one of .*got 'max'"):
        compress.calibrate(model, params, batches, method="max")
    with pytest.raises(ValueError, match=r"percentile must be a number in \(0, 100\], got 0"):
        compress.calibrate(model, params, batches, method="percentile", percentile=0)
    bn = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.Dense(2)])
    p = np_init(bn, (-1, 5))
    with pytest.raises(ValueError, match=r"batch_norm_0 \(BatchNorm\) keeps state.*state=state"):
        compress.calibrate(bn, p, batches)


def test_calibrate_and_quantize_with_state_and_shared_layer():
    shared = nn.Dense(6)
    model = nn.Sequential([shared, nn.BatchNorm(), nn.relu, shared, nn.Dense(3)])
    params = np_init(model, (-1, 6))
    mean = RNG.normal(size=6).astype(np.float32)
    var = RNG.uniform(0.5, 2, size=6).astype(np.float32)
    state = {"batch_norm_0": {"mean": mean, "var": var}}
    x = RNG.normal(size=(5, 6)).astype(np.float32)
    scales = compress.calibrate(model, params, [x], state=state)
    d, bn = params["dense_0"], params["batch_norm_0"]
    h0 = x @ d["w"] + d["b"]
    h1 = np.maximum((h0 - mean) / np.sqrt(var + 1e-5) * bn["scale"] + bn["bias"], 0)
    h2 = h1 @ d["w"] + d["b"]
    # the shared layer's scale covers both of its inputs
    amax = max(np.abs(x).max(), np.abs(h1).max())
    assert scales["dense_0"] == pytest.approx(amax / 127, rel=1e-5)
    assert scales["dense_1"] == pytest.approx(np.abs(h2).max() / 127, rel=1e-5)
    qmodel, qparams = compress.quantize_model(model, params, [x], state=state)
    assert qmodel.layers[0] is qmodel.layers[3] and sorted(qparams) == sorted(params)
    y, _ = model.apply(params, x, state=state)
    yq, _ = qmodel.apply(qparams, x, state=state)
    assert np.abs(np.asarray(yq) - np.asarray(y)).max() < 0.05 * np.abs(np.asarray(y)).max()


# ----------------------------------------------------------------------------
# quantize_model
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [demo.mlp, demo.cnn], ids=["mlp", "cnn"])
def test_quantize_model_demo_models(make):
    model = make()
    params = np_init(model, (-1, 8, 8, 1))
    x = RNG.uniform(size=(16, 8, 8, 1)).astype(np.float32)
    qmodel, qparams = compress.quantize_model(model, params, [x[:8], x[8:]])
    kinds = [type(lyr).__name__ for lyr in qmodel.layers]
    assert "Dense" not in kinds and "Conv" not in kinds and "QuantizedDense" in kinds
    assert qmodel.names == model.names and sorted(qparams) == sorted(params)
    for name, p in qparams.items():
        w = np.asarray(params[name]["w"])
        q_ref, s_ref = np_quantize_per_channel(w, -1)
        np.testing.assert_array_equal(np.asarray(p["w_q"]), q_ref)
        np.testing.assert_array_equal(np.asarray(p["w_scale"]), s_ref)
    assert compress.param_bytes(params) / compress.param_bytes(qparams) > 3.5
    y = np.asarray(fn.jit(model.apply)(params, x))
    yq = np.asarray(fn.jit(qmodel.apply)(qparams, x))
    assert yq.shape == y.shape and yq.dtype == np.float32
    assert np.abs(yq - y).max() < 0.05 * np.abs(y).max()


def test_quantize_model_act_scales():
    model, params, batches, _ = _mlp_and_inputs()
    # every layer given: no calibration needed
    _, qp = compress.quantize_model(model, params, act_scales={"dense_0": 0.1, "dense_1": 0.2})
    assert float(qp["dense_0"]["x_scale"]) == np.float32(0.1)
    assert float(qp["dense_1"]["x_scale"]) == np.float32(0.2)
    # some given: the others calibrated
    _, qp = compress.quantize_model(model, params, batches, act_scales={"dense_1": 0.5})
    calibrated = compress.calibrate(model, params, batches)
    assert float(qp["dense_1"]["x_scale"]) == 0.5
    assert float(qp["dense_0"]["x_scale"]) == np.float32(calibrated["dense_0"])
    with pytest.raises(ValueError, match=r"paths \['dense_9'\] that are no Dense/Conv"):
        compress.quantize_model(model, params, batches, act_scales={"dense_9": 0.1})
    with pytest.raises(ValueError, match=r"act_scales\['dense_0'\] must be a positive"):
        compress.quantize_model(model, params, batches, act_scales={"dense_0": -1.0})
    with pytest.raises(ValueError, match=r"calibration needs at least one batch.*\['dense_0'\]"):
        compress.quantize_model(model, params, act_scales={"dense_1": 0.5})


def test_quantize_model_bad_input():
    model, params, batches, _ = _mlp_and_inputs()
    qmodel, qparams = compress.quantize_model(model, params, batches)
    with pytest.raises(ValueError, match=r"dense_0 \(QuantizedDense\) is already quantized"):
        compress.quantize_model(qmodel, qparams, batches)
    with pytest.raises(ValueError, match=r"the params of dense_0 \(Dense\) are already quantized"):
        compress.quantize_model(model, qparams, batches)
    with pytest.raises(ValueError, match=r"is already quantized"):
        compress.quantize_model(compress.QuantizedDense(3), {}, batches)
    bad = {**params, "dense_1": {**params["dense_1"], "w": np.ones((8, 4), np.int32)}}
    with pytest.raises(TypeError, match="dense_1/w has dtype int32"):
        compress.quantize_model(model, bad, batches)
    with pytest.raises(ValueError, match="weight_bits must be 4 or 8, got 3"):
        compress.quantize_model(model, params, batches, weight_bits=3)
    with pytest.raises(ValueError, match="calibration needs at least one batch"):
        compress.quantize_model(model, params, [])


def test_quantize_model_int4_weight_only():
    model = demo.cnn()
    params = np_init(model, (-1, 8, 8, 1))
    qmodel, qparams = compress.quantize_model(model, params, weight_bits=4)
    assert type(qmodel.layers[0]).__name__ == "Int4Conv"
    assert type(qmodel.layers[-1]).__name__ == "Int4Dense"
    x = RNG.uniform(size=(4, 8, 8, 1)).astype(np.float32)
    # reference: the float model on the NumPy-dequantized 4-bit weights
    deq = {}
    for name, p in params.items():
        q, s = np_quantize_per_channel(np.asarray(p["w"]), -1, bits=4)
        assert np.asarray(qparams[name]["w_packed"]).nbytes * 8 == np.asarray(p["w"]).nbytes
        np.testing.assert_array_equal(np.asarray(qparams[name]["w_packed"]), np_pack_int4(q))
        deq[name] = {"w": q.astype(np.float32) * s, "b": p["b"]}
    y4 = np.asarray(fn.jit(qmodel.apply)(qparams, x))
    np.testing.assert_allclose(y4, np.asarray(fn.jit(model.apply)(deq, x)), rtol=1e-4, atol=1e-5)
    text = fn.jit(qmodel.apply).lower(qparams, x).as_text()
    assert "xui8>" in text and "stablehlo.shift_right" in text


def test_digits_mlp_ptq_loses_at_most_one_point():
    (xtr, ytr), (xte, yte) = demo.digits_split()
    model = demo.mlp()
    params = np_init(model, (-1, 8, 8, 1))
    opt = optim.adam(5e-3)
    opt_state = opt.init(params)
    step = demo.make_train_step(model, opt)
    for _ in range(60):  # full-batch steps: one compiled program, ~98% test accuracy
        params, opt_state, _ = step(params, opt_state, xtr, ytr)
    predict = fn.jit(lambda m, p, x: fn.numpy.argmax(m.apply(p, x), -1), static_argnums=0)
    accuracy = np.mean(np.asarray(predict(model, params, xte)) == yte)
    qmodel, qparams = compress.quantize_model(model, params, [xtr[:512]])
    q_accuracy = np.mean(np.asarray(predict(qmodel, qparams, xte)) == yte)
    assert accuracy > 0.95
    assert q_accuracy >= accuracy - 0.01


def test_pack_int4_under_jit_from_lists_and_range_check_on_device_arrays():
    q = np.array([1, -1, -8, 7, 3], np.int8)
    np.testing.assert_array_equal(
        np.asarray(fn.jit(compress.pack_int4)(fn.asarray(q))), np_pack_int4(q)
    )
    np.testing.assert_array_equal(
        np.asarray(compress.pack_int4([1, -1, -8, 7, 3])), np_pack_int4(q)
    )
    np.testing.assert_array_equal(np.asarray(compress.unpack_int4(list(np_pack_int4(q)), (5,))), q)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        compress.pack_int4(fn.asarray(np.array([9, 0], np.int8)))


def test_empty_kernels_get_scale_one():
    q, scale = compress.quantize_per_channel(np.zeros((0, 3), np.float32))
    assert q.shape == (0, 3) and q.dtype == np.int8
    np.testing.assert_array_equal(np.asarray(scale), np.ones(3, np.float32))
