"""nn.summary(model, input): per-layer paths, shapes, parameter counts and FLOPs, checked
against hand formulas and XLA's own cost analysis; nn.summary(params) keeps its table."""

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax, nn, random
from funcnet.demo import cnn, mlp
from funcnet.nn.conv_patches import convolution_primitives
from funcnet.nn.model_summary import jaxpr_flops

B = 4


def _xla_flops(model, shape):
    params, _ = model.init(random.key(0), shape)
    lowered = fn.jit(lambda p, x: model.apply(p, x)).lower(params, fnp.ones(shape))
    return lowered.compile().cost_analysis()["flops"]


def _dense(b, n_in, n_out):
    """(parameters, FLOPs) of a Dense layer: the matmul 2*B*in*out, the bias add B*out."""
    return n_in * n_out + n_out, 2 * b * n_in * n_out + b * n_out


def _by_path(s):
    return {r["path"]: r for r in s.rows}


def test_params_only_keeps_the_parameter_table():
    params, _ = nn.Sequential([nn.Dense(3), nn.relu, nn.Dense(2)]).init(random.key(0), (-1, 4))
    text = nn.summary(params)
    assert isinstance(text, str)
    assert text.splitlines()[0].split() == ["path", "shape", "dtype", "count"]
    assert "total: 23 parameters in 4 arrays" in text.splitlines()[-1]


def test_mlp_rows_match_hand_formulas_and_xla():
    s = nn.summary(mlp(), (B, 8, 8, 1))
    rows = _by_path(s)
    expected = {"dense_0": _dense(B, 64, 256), "dense_1": _dense(B, 256, 128)}
    expected["dense_2"] = _dense(B, 128, 10)
    for path, (n_params, flops) in expected.items():
        assert (rows[path]["params"], rows[path]["flops"]) == (n_params, flops), path
    assert rows["dense_0"]["bytes"] == 4 * expected["dense_0"][0]
    assert rows["relu_0"]["flops"] == B * 256 and rows["relu_1"]["flops"] == B * 128
    assert (rows["flatten_0"]["flops"], rows["flatten_0"]["output_shape"]) == (0, (B, 64))
    assert rows["dense_2"]["output_shape"] == (B, 10) and rows["dense_0"]["kind"] == "Dense"
    assert s.total_params == sum(p for p, _ in expected.values()) == 50826
    assert s.total_flops == sum(r["flops"] for r in s.rows)
    assert s.total_flops == sum(f for _, f in expected.values()) + B * (256 + 128)
    # XLA counts the same things for a matmul, an add and a max: equal up to rounding
    assert s.total_flops == pytest.approx(_xla_flops(mlp(), (B, 8, 8, 1)), rel=1e-6)


def _valid_taps(size, k):
    """Kernel taps that land inside the image for SAME padding, stride 1, along one axis."""
    lo = (k - 1) // 2
    return sum(sum(0 <= i + t - lo < size for t in range(k)) for i in range(size))


def test_cnn_rows_match_hand_formulas_and_xla():
    s = nn.summary(cnn(), (-1, 8, 8, 1), batch_size=B)
    rows = _by_path(s)
    h = w = 8
    # Conv SAME: 2*B*H*W*C_out*kh*kw*C_in, plus B*H*W*C_out for the bias
    conv0 = 2 * B * h * w * 32 * 3 * 3 * 1 + B * h * w * 32
    conv1 = 2 * B * h * w * 64 * 3 * 3 * 32 + B * h * w * 64
    assert (rows["conv_0"]["params"], rows["conv_0"]["flops"]) == (3 * 3 * 1 * 32 + 32, conv0)
    assert (rows["conv_1"]["params"], rows["conv_1"]["flops"]) == (3 * 3 * 32 * 64 + 64, conv1)
    pooled = B * 4 * 4 * 64
    assert rows["max_pool_0"]["flops"] == pooled * 3  # a max of 4 values is 3 comparisons
    assert rows["max_pool_0"]["output_shape"] == (B, 4, 4, 64)
    dense0, dense1 = _dense(B, 1024, 128), _dense(B, 128, 10)
    assert (rows["dense_0"]["params"], rows["dense_0"]["flops"]) == dense0
    relus = B * h * w * (32 + 64) + B * 128
    hand = conv0 + conv1 + pooled * 3 + dense0[1] + dense1[1] + relus
    assert s.total_flops == hand == sum(r["flops"] for r in s.rows)
    assert s.total_params == 320 + 18496 + dense0[0] + dense1[0]
    assert s.input_shape == (B, 8, 8, 1) and s.output_shape == (B, 10)
    # XLA's convolution skips the taps on the SAME padding: take exactly those off to
    # match it (on CPU nn.Conv is a matmul over patches unless asked for the primitive)
    skipped = h * w * 9 - _valid_taps(h, 3) * _valid_taps(w, 3)
    padding = 2 * B * skipped * (32 * 1 + 64 * 32)
    with convolution_primitives():
        xla_flops = _xla_flops(cnn(), (B, 8, 8, 1))
    assert s.total_flops - padding == pytest.approx(xla_flops, rel=1e-6)


def test_valid_conv_matches_xla_exactly():
    model = nn.Sequential([nn.Conv(8, (3, 3), padding="VALID")])
    s = nn.summary(model, (2, 8, 8, 3))
    assert s.total_flops == 2 * 2 * 6 * 6 * 8 * 3 * 3 * 3 + 2 * 6 * 6 * 8
    assert s.total_flops == pytest.approx(_xla_flops(model, (2, 8, 8, 3)), rel=1e-6)


def test_nested_containers_name_their_paths():
    inner = nn.Sequential([nn.Dense(4), nn.relu])
    model = nn.Sequential([inner, nn.Residual([nn.Dense(4), nn.tanh]), nn.Dense(2)])
    s = nn.summary(model, (-1, 5))
    rows = _by_path(s)
    assert list(rows) == [
        "sequential_0/dense_0",
        "sequential_0/relu_0",
        "residual_0/dense_0",
        "residual_0/tanh_0",
        "residual_0",
        "dense_0",
    ]
    assert rows["sequential_0/dense_0"]["flops"] == _dense(1, 5, 4)[1]
    # the residual's own row is its x + f(x); the tanh is 1 FLOP per element
    assert (rows["residual_0"]["flops"], rows["residual_0"]["params"]) == (4, 0)
    assert rows["residual_0/tanh_0"]["flops"] == 4
    assert s.total_params == _dense(1, 5, 4)[0] + _dense(1, 4, 4)[0] + _dense(1, 4, 2)[0]
    assert s.total_flops == sum(r["flops"] for r in s.rows)
    text = str(s)
    assert "residual_0/dense_0" in text and "sequential_0/relu_0" in text


class _Block(nn.Layer):
    """A custom layer holding a Sequential and a Dense it applies twice (tied)."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.body = nn.Sequential([nn.Dense(6), nn.relu])
        self.head = nn.Dense(6)

    def param_specs(self, s):
        return {"body": self.body.param_specs(s), "head": self.head.param_specs((-1, 6))}

    def output_shape(self, s):
        return s[:-1] + (6,)

    def forward(self, params, x):
        y = self.body.apply(params["body"], x)
        return self.head.apply(params["head"], self.head.apply(params["head"], y))


def test_custom_layer_holding_layers_and_a_tied_layer():
    s = nn.summary(nn.Sequential([_Block(), nn.Dense(2)]), (-1, 3))
    rows = s.rows
    assert [r["path"] for r in rows] == [
        "_block_0/body/dense_0",
        "_block_0/body/relu_0",
        "_block_0/head",
        "_block_0/head",
        "dense_0",
    ]
    # the tied Dense owns its parameters once and computes twice
    assert [r["params"] for r in rows] == [_dense(1, 3, 6)[0], 0, _dense(1, 6, 6)[0], 0, 14]
    assert rows[3]["kind"] == "Dense (shared)"
    assert rows[2]["flops"] == rows[3]["flops"] == _dense(1, 6, 6)[1]
    assert s.total_params == sum(r["params"] for r in rows) == 24 + 42 + 14


def test_batchnorm_state_is_reported():
    model = nn.Sequential([nn.Dense(6), nn.BatchNorm(), nn.relu])
    s = nn.summary(model, (-1, 3))
    rows = _by_path(s)
    assert rows["batch_norm_0"]["params"] == 12 and s.state_count == 12
    assert rows["batch_norm_0"]["kind"] == "BatchNorm" and rows["batch_norm_0"]["flops"] > 0
    assert "state: 12 entries" in str(s)
    trained = nn.summary(model, (-1, 3), train=True)
    assert trained.total_flops > s.total_flops  # batch statistics cost reductions


def test_sample_array_and_several_inputs():
    s = nn.summary(nn.Sequential([nn.Dense(4)]), fnp.ones((3, 5)))
    assert s.input_shape == (3, 5) and s.rows[0]["flops"] == _dense(3, 5, 4)[1]
    model = nn.Sequential([nn.Parallel([nn.Dense(3), nn.Dense(2)]), nn.Concatenate()])
    s = nn.summary(model, (np.ones((2, 4), np.float32), np.ones((2, 6), np.float32)))
    rows = _by_path(s)
    assert rows["parallel_0/dense_0"]["flops"] == _dense(2, 4, 3)[1]
    assert rows["parallel_0/dense_1"]["flops"] == _dense(2, 6, 2)[1]
    assert s.output_shape == (2, 5)


def test_recurrent_model_integer_input_and_dead_code():
    model = nn.Sequential([nn.Embedding(20, 8), nn.LSTM(16), nn.Dense(20)])
    s = nn.summary(model, np.zeros((2, 5), np.int32))
    rows = _by_path(s)
    assert rows["dense_0"]["flops"] == _dense(2 * 5, 16, 20)[1]
    assert rows["lstm_0"]["params"] == 4 * 16 * (8 + 16) + 4 * 16
    # the input projection alone is a (10, 8) @ (8, 64) matmul; the scan adds 5 steps
    assert rows["lstm_0"]["flops"] > 2 * 10 * 8 * 64 + 5 * 2 * 2 * 16 * 64
    # rows count only the equations left after make_jaxpr's dead-code elimination
    assert s.total_flops == sum(r["flops"] for r in s.rows)


def test_notebook_views():
    s = nn.summary(nn.Sequential([nn.Dense(4), nn.relu]), (-1, 3))
    d = s.to_dict()
    assert [r["path"] for r in d["rows"]] == ["dense_0", "relu_0"]
    assert d["total_params"] == 16 and d["total_flops"] == 28 + 4
    html = s._repr_html_()
    assert html.startswith("<table>") and "<td>dense_0</td>" in html
    lines = str(s).splitlines()
    assert lines[0].split()[:2] == ["path", "kind"] and lines[-1].startswith("total: 16 param")


def test_scan_counts_its_body_per_step():
    def loop(c, w, xs):
        return lax.scan(lambda c, x: (c @ w + x, c), c, xs)[0]

    program = fn.make_jaxpr(loop)(fnp.ones((2, 3)), fnp.ones((3, 3)), fnp.ones((5, 2, 3)))
    # per step: a (2,3)@(3,3) matmul and an add of 2*3 elements
    assert jaxpr_flops(program) == 5 * (2 * 2 * 3 * 3 + 2 * 3)


def test_bad_input_names_the_layer():
    with pytest.raises(nn.LayerError, match="conv_0"):
        nn.summary(cnn(), (-1, 8))
    nested = nn.Sequential([nn.Sequential([nn.Dense(3), nn.Conv(2, (3, 3))])])
    with pytest.raises(nn.LayerError, match="sequential_0/conv_0"):
        nn.summary(nested, (-1, 4))


class _FailsWhenApplied(nn.Layer):
    def output_shape(self, input_shape):
        return input_shape

    def forward(self, params, x):
        raise ValueError("broken forward")


def test_layers_are_restored_after_a_failing_trace():
    bad = _FailsWhenApplied()
    dense = nn.Dense(2)
    model = nn.Sequential([nn.Sequential([dense, bad])])
    with pytest.raises(ValueError, match="broken forward"):
        nn.summary(model, (-1, 3))
    # the per-instance recording wrappers are gone: the layers work as before
    assert not any("_apply" in vars(layer) for layer in (model, model.layers[0], dense, bad))
    params, _ = dense.init(random.key(0), (-1, 3))
    assert dense.apply(params, fnp.ones((1, 3))).shape == (1, 2)
    with pytest.raises(TypeError, match="needs the input"):
        nn.summary(mlp())
    with pytest.raises(TypeError, match="shape tuple"):
        nn.summary(mlp(), "64")
    with pytest.raises(TypeError, match="takes a layer"):
        nn.summary({"w": fnp.ones(2)}, (2,))
