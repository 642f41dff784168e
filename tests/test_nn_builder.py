"""The builder's natural lines (issue 16): containers inside custom layers, init from a
sample input, reinit with an initializer, an LSTM carry through a Sequential, located
errors from custom layers, the batch-axis advice, and a Sequential's repr.

Every value is checked against NumPy written out by hand."""

import zlib

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import demo, nn, random


def _np(a):
    return np.asarray(a, dtype=np.float64)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ----------------------------------------------------------------------------
# 1. Containers inside custom layers, three levels deep
# ----------------------------------------------------------------------------


class Inner(nn.Layer):
    """x @ w with a learned w (level 3)."""

    def param_specs(self, input_shape):
        return {"w": nn.Param((input_shape[-1], 4), nn.initializers.normal(1.0))}

    def output_shape(self, input_shape):
        return input_shape[:-1] + (4,)

    def forward(self, params, x):
        return x @ params["w"]


class Outer(nn.Layer):
    """scale * body(x), body a Sequential holding an Inner (levels 1 and 2)."""

    def __init__(self, *, name=None):
        super().__init__(name=name)
        self.body = nn.Sequential([Inner(), nn.relu, nn.Dense(3)])

    def param_specs(self, input_shape):
        return {
            "body": self.body.param_specs(input_shape),
            "scale": nn.Param((), nn.initializers.constant(2.0)),
        }

    def output_shape(self, input_shape):
        return self.body.output_shape(input_shape)

    def forward(self, params, x):
        return params["scale"] * self.body.apply(params["body"], x)


def test_container_param_specs_and_output_shape():
    seq = nn.Sequential([nn.Dense(3), nn.relu, nn.Dense(2)])
    specs = seq.param_specs((-1, 5))
    assert {k: {n: p.shape for n, p in v.items()} for k, v in specs.items()} == {
        "dense_0": {"w": (5, 3), "b": (3,)},
        "dense_1": {"w": (3, 2), "b": (2,)},
    }
    assert seq.output_shape((-1, 5)) == (-1, 2)
    par = nn.Parallel([nn.Dense(3), nn.Dense(4)])
    assert par.output_shape((-1, 5)) == ((-1, 3), (-1, 4))
    assert sorted(par.param_specs((-1, 5))) == ["dense_0", "dense_1"]
    res = nn.Residual([nn.Dense(5)])
    assert res.output_shape((-1, 5)) == (-1, 5)
    assert res.param_specs((-1, 5))["dense_0"]["w"].shape == (5, 5)


def test_custom_layer_holding_sequential_holding_custom_layer():
    model = nn.Sequential([Outer(), nn.Dense(2)])
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    params, out_shape = model.init(random.key(0), (-1, 6))
    assert out_shape == (-1, 2)
    assert nn.paths(params) == [
        "dense_0/b",
        "dense_0/w",
        "outer_0/body/dense_0/b",
        "outer_0/body/dense_0/w",
        "outer_0/body/inner_0/w",
        "outer_0/scale",
    ]
    p = {k: _np(v) for k, v in nn.flatten_params(params).items()}
    h = np.maximum(x @ p["outer_0/body/inner_0/w"], 0)
    h = p["outer_0/scale"] * (h @ p["outer_0/body/dense_0/w"] + p["outer_0/body/dense_0/b"])
    want = h @ p["dense_0/w"] + p["dense_0/b"]
    np.testing.assert_allclose(_np(model.apply(params, x)), want, rtol=1e-5, atol=1e-5)
    assert float(p["outer_0/scale"]) == 2.0
    # Every parameter got its own key: the two kernels differ.
    assert not np.allclose(p["outer_0/body/dense_0/w"][:3, :2], p["dense_0/w"][:3, :2])
    # Params of the wrong shape deep inside: an error naming the layer and the path.
    with pytest.raises(nn.LayerError, match=r"outer_0 \(Outer\).*\['inner_0'\]\['w'\]"):
        model.apply(params, x[:, :4])


class Misrouted(Outer):
    """Feeds its body only two of the features: the body's Dense does not fit."""

    def forward(self, params, x):
        return self.body.apply(params["body"], x[:, :2])


def test_error_inside_a_nested_apply_names_both_layers():
    model = nn.Sequential([Misrouted()])
    params, _ = model.init(random.key(0), (-1, 6))
    with pytest.raises(
        nn.LayerError, match=r"^misrouted_0 \(Misrouted\): inner_0 \(Inner\): params\['w'\]"
    ):
        model.apply(params, np.ones((3, 6), np.float32))


# ----------------------------------------------------------------------------
# 2. init with a sample input, and a pytree of them for several inputs
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [np.ones, fnp.ones], ids=["numpy", "funcnet"])
def test_init_with_a_sample_array(make):
    x = make((2, 3), dtype=np.float32)
    params, out_shape = nn.Dense(4).init(random.key(0), x)
    assert out_shape == (2, 4)
    assert params["w"].shape == (3, 4)
    y = nn.Dense(4).apply(params, x)
    np.testing.assert_allclose(
        _np(y), np.ones((2, 3)) @ _np(params["w"]) + _np(params["b"]), rtol=1e-6
    )


class Bilinear(nn.Layer):
    """Two inputs: (a, b) -> (a @ wa) * (b @ wb)."""

    def param_specs(self, input_shape):
        (_, fa), (_, fb) = input_shape
        init = nn.initializers.normal(1.0)
        return {"wa": nn.Param((fa, 3), init), "wb": nn.Param((fb, 3), init)}

    def output_shape(self, input_shape):
        return (input_shape[0][0], 3)

    def forward(self, params, x):
        a, b = x
        return (a @ params["wa"]) * (b @ params["wb"])


def test_init_with_samples_for_a_two_input_layer():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    layer = Bilinear()
    params, out_shape = layer.init(random.key(0), (a, fnp.asarray(b)))
    assert out_shape == (4, 3)
    params2, out2 = layer.init(random.key(0), ((-1, 2), (-1, 5)))  # shapes still work
    assert out2 == (-1, 3)
    np.testing.assert_array_equal(_np(params["wa"]), _np(params2["wa"]))
    want = (a @ _np(params["wa"])) * (b @ _np(params["wb"]))
    np.testing.assert_allclose(_np(layer.apply(params, (a, b))), want, rtol=1e-5, atol=1e-6)


def test_init_with_a_bad_sample():
    with pytest.raises(TypeError, match=r"input_shape must be .* a sample input array.*'abc'"):
        nn.Dense(4).init(random.key(0), "abc")
    with pytest.raises(nn.LayerError, match=r"Conv: .*rank 4.*got shape \(8, 8\)"):
        nn.Conv(2, (3, 3)).init(random.key(0), np.ones((8, 8)))


# ----------------------------------------------------------------------------
# 3. reinit with an initializer and a key per parameter path
# ----------------------------------------------------------------------------


def test_reinit_with_an_initializer_key_per_path():
    model = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(64)])
    params, _ = model.init(random.key(0), (-1, 64))
    key, init = random.key(5), nn.initializers.normal(0.01)
    new = nn.reinit(params, model, key, where="*/w", init=init)
    for path in ("dense_0/b", "dense_1/b"):
        assert nn.get_param(new, path) is nn.get_param(params, path)
    w0, w1 = _np(new["dense_0"]["w"]), _np(new["dense_1"]["w"])
    # Fresh draws from N(0, 0.01^2), one per path: the two kernels differ.
    for w in (w0, w1):
        assert abs(w.std() - 0.01) < 0.001 and abs(w.mean()) < 0.001
    assert not np.allclose(w0, w1)
    # The documented key: fold_in(key, crc32(path)); the same whatever `where` selects.
    want = init(random.fold_in(key, zlib.crc32(b"dense_1/w")), (64, 64), np.float32)
    np.testing.assert_array_equal(w1, _np(want))
    only = nn.reinit(params, model, key, where="dense_1/w", init=init)
    np.testing.assert_array_equal(_np(only["dense_1"]["w"]), w1)


def test_reinit_pattern_that_matches_nothing():
    model = nn.Sequential([nn.Dense(2)])
    params, _ = model.init(random.key(0), (-1, 3))
    with pytest.raises(ValueError, match=r"'conv_\*/w' selects no parameter.*dense_0/b, dense_0/w"):
        nn.reinit(params, model, random.key(1), where="conv_*/w", init=nn.initializers.zeros)


# ----------------------------------------------------------------------------
# 4. An LSTM carry through a Sequential
# ----------------------------------------------------------------------------


def _np_lstm(p, x, c, h):
    ys = []
    for t in range(x.shape[1]):
        z = x[:, t] @ p["wi"] + p["b"] + h @ p["wh"]
        i, f, g, o = np.split(z, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys, 1), c, h


def test_lstm_carry_through_a_sequential():
    model = nn.Sequential([nn.Dense(4), nn.LSTM(5), nn.Dense(3)])
    params, _ = model.init(random.key(0), (-1, 6, 2))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 2)).astype(np.float32)
    c0 = rng.standard_normal((2, 5)).astype(np.float32)
    h0 = rng.standard_normal((2, 5)).astype(np.float32)
    logits, (c, h) = model.apply(params, x, initial_carry=(c0, h0), return_carry=True)
    p = {k: _np(v) for k, v in nn.flatten_params(params).items()}
    lp = {k: p[f"lstm_0/{k}"] for k in ("wi", "wh", "b")}
    ys, c_np, h_np = _np_lstm(lp, x @ p["dense_0/w"] + p["dense_0/b"], c0, h0)
    np.testing.assert_allclose(_np(logits), ys @ p["dense_1/w"] + p["dense_1/b"], atol=1e-5)
    np.testing.assert_allclose(_np(c), c_np, atol=1e-5)
    np.testing.assert_allclose(_np(h), h_np, atol=1e-5)
    # The zero carry, on the layer and on the model.
    zc, zh = model.initial_carry(2)
    assert _np(zc).shape == (2, 5) and not _np(zc).any() and not _np(zh).any()
    c1, h1 = nn.LSTM(5).initial_carry(3)
    assert c1.shape == h1.shape == (3, 5)
    assert nn.GRU(4).initial_carry(3).shape == (3, 4)
    assert nn.RNN(4).initial_carry(3).shape == (3, 4)


def test_two_recurrent_layers_take_a_dict_of_carries():
    model = nn.Sequential([nn.GRU(3), nn.LSTM(4)])
    params, _ = model.init(random.key(0), (-1, 5, 2))
    x = np.ones((2, 5, 2), np.float32)
    carry = model.initial_carry(2)
    assert sorted(carry) == ["gru_0", "lstm_0"]
    y, out = model.apply(params, x, initial_carry=carry, return_carry=True)
    np.testing.assert_allclose(_np(y[:, -1]), _np(out["lstm_0"][1]), atol=1e-6)
    with pytest.raises(nn.LayerError, match=r"dict keyed by their names \['gru_0', 'lstm_0'\]"):
        model.apply(params, x, initial_carry=carry["lstm_0"], return_carry=True)


def test_carry_of_the_wrong_shape():
    model = nn.Sequential([nn.Dense(4), nn.LSTM(5)])
    params, _ = model.init(random.key(0), (-1, 6, 2))
    bad = nn.LSTM(3).initial_carry(2)
    with pytest.raises(
        nn.LayerError,
        match=r"lstm_0 \(LSTM\): initial_carry has shapes \(\(2, 3\), \(2, 3\)\), "
        r"expected \(\(2, 5\), \(2, 5\)\)",
    ):
        model.apply(params, np.ones((2, 6, 2), np.float32), initial_carry=bad)


# ----------------------------------------------------------------------------
# 5, 6. Located errors from custom layers, and the batch-axis advice
# ----------------------------------------------------------------------------


class Fixed(nn.Layer):
    """Declares a (6, 4) kernel whatever the input: a matmul that may not fit."""

    def param_specs(self, input_shape):
        return {"w": nn.Param((6, 4), nn.initializers.ones)}

    def output_shape(self, input_shape):
        return input_shape[:-1] + (4,)

    def forward(self, params, x):
        return fnp.matmul(x, params["w"])


def test_custom_layer_shape_error_is_located():
    model = nn.Sequential([nn.Dense(3), Fixed()])
    params, _ = model.init(random.key(0), (-1, 2))
    with pytest.raises(
        nn.LayerError,
        match=r"fixed_0 \(Fixed\): forward failed on an input "
        r"of shape \(5, 3\)",
    ) as info:
        model.apply(params, np.ones((5, 2), np.float32))
    assert isinstance(info.value.__cause__, TypeError)
    # A fitting input still works, and matches NumPy.
    y = Fixed().apply({"w": fnp.ones((6, 4))}, np.ones((2, 6), np.float32))
    np.testing.assert_allclose(_np(y), np.full((2, 4), 6.0))


class WhileLayer(nn.Layer):
    """Python control flow on a value: fine eagerly, a tracer error under jit."""

    def output_shape(self, input_shape):
        return input_shape

    def forward(self, params, x):
        while fnp.abs(x).sum() > 1:
            x = x / 2
        return x


def test_tracer_errors_are_not_wrapped_and_get_no_batch_advice():
    layer = WhileLayer()
    x = np.full((2, 3), 4.0, np.float32)
    np.testing.assert_allclose(_np(layer.apply({}, x)), np.full((2, 3), 4.0 / 32))
    with pytest.raises(fn.errors.TracerBoolConversionError) as info:
        fn.jit(lambda x: layer.apply({}, x))(x)
    assert "batch axis" not in str(info.value)
    # A custom shape error on an input that fits the declarations: no batch advice.
    with pytest.raises(nn.LayerError) as info:
        Fixed().apply({"w": fnp.ones((6, 4))}, np.ones((2, 3), np.float32))
    assert "batch axis" not in str(info.value)


@pytest.mark.parametrize(
    "layer, shape",
    [(nn.Conv(2, (3, 3)), (4, 4, 1)), (nn.LSTM(3), (5, 2)), (nn.MaxPool((2, 2)), (4, 4, 1))],
    ids=["conv", "lstm", "maxpool"],
)
def test_rank_one_short_says_add_a_batch_axis(layer, shape):
    params, _ = layer.init(random.key(0), (-1,) + shape)
    with pytest.raises(nn.LayerError, match=r"add a batch axis \(x\[None\]\) or use fn\.vmap"):
        layer.apply(params, np.ones(shape, np.float32))


def test_every_layer_docstring_states_the_input_layout():
    classes = [v for v in vars(nn).values() if isinstance(v, type) and issubclass(v, nn.Layer)]
    assert len(classes) > 25
    missing = [c.__name__ for c in classes if "\n    x: " not in (c.__doc__ or "")]
    assert missing == []


# ----------------------------------------------------------------------------
# 7. repr reads like the code that built the model
# ----------------------------------------------------------------------------


def test_sequential_repr_reads_like_code():
    assert repr(demo.mlp()) == (
        "Sequential([Flatten(), Dense(256), relu, Dense(128), relu, Dense(10)])"
    )
    assert repr(demo.cnn()) == (
        "Sequential([Conv(32, (3, 3)), relu, Conv(64, (3, 3)), relu, "
        "MaxPool((2, 2), strides=(2, 2)), Flatten(), Dense(128), relu, Dense(10)])"
    )
    nested = nn.Sequential([nn.Dense(8, use_bias=False), nn.Sequential([nn.LSTM(4), nn.tanh])])
    assert repr(nested) == (
        "Sequential([\n    Dense(8, use_bias=False),\n    Sequential([LSTM(4), tanh]),\n])"
    )
