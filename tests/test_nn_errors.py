"""Bad input to funcnet.nn: each error names the layer (its path in the params and its
type), what was expected and what was given. These run eagerly and fail before any
computation, so they are cheap."""

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn, random

KEY = random.key(0)


@pytest.fixture(scope="module")
def model_and_params():
    model = nn.Sequential(
        [
            nn.Sequential([nn.Conv(4, (3, 3)), nn.relu, nn.Dense(4)], name="block"),
            nn.Flatten(),
            nn.Dense(3),
        ]
    )
    # cheap initializers keep this fixture fast; shapes are what matter here
    return model, model.init(KEY, (-1, 5, 5, 2))[0]


X = np.zeros((2, 5, 5, 2), np.float32)


def test_wrong_param_shape_names_path_expected_and_got(model_and_params):
    model, params = model_and_params
    bad = nn.set_param(params, "block/dense_0/w", fnp.zeros((5, 4)), check_shape=False)
    with pytest.raises(
        nn.LayerError,
        match=r"^block/dense_0 \(Dense\): params\['w'\] has shape "
        r"\(5, 4\), but an input of shape \(2, 5, 5, 4\) "
        r"needs \(4, 4\)",
    ):
        model.apply(bad, X)


def test_wrong_param_structure(model_and_params):
    model, params = model_and_params
    missing = {**params, "dense_0": {"w": params["dense_0"]["w"]}}
    with pytest.raises(
        nn.LayerError,
        match=r"^dense_0 \(Dense\): params have keys \['w'\], "
        r"expected \['b', 'w'\] \(missing \['b'\]\)",
    ):
        model.apply(missing, X)
    extra = {**params, "dense_0": {**params["dense_0"], "scale": fnp.ones(3)}}
    with pytest.raises(nn.LayerError, match=r"unexpected \['scale'\]"):
        model.apply(extra, X)
    with pytest.raises(
        nn.LayerError,
        match=r"^Sequential: params have keys .*unexpected "
        r"\['dense_9'\] \(the children are named ",
    ):
        model.apply({**params, "dense_9": {}}, X)
    with pytest.raises(
        nn.LayerError,
        match=r"^block/conv_0 \(Conv\): params must be a dict "
        r"with keys \['b', 'w'\], got tuple",
    ):
        model.apply({**params, "block": {**params["block"], "conv_0": (1, 2)}}, X)
    with pytest.raises(
        nn.LayerError,
        match=r"params\['w'\] must be an array of shape "
        r"\(3, 3, 2, 4\), got str",
    ):
        model.apply(nn.set_param(params, "block/conv_0/w", "oops", check_shape=False), X)
    # a whole subtree missing: the child says what it needs
    no_block = {k: v for k, v in params.items() if k != "block"}
    with pytest.raises(
        nn.LayerError,
        match=r"^block/conv_0 \(Conv\): params have keys \[\], "
        r"expected \['b', 'w'\]",
    ):
        model.apply(no_block, X)
    # params given to a layer that has none
    with pytest.raises(nn.LayerError, match=r"^Flatten: takes no params, got a tree with 1"):
        nn.Flatten().apply({"w": fnp.ones(2)}, X)


def test_wrong_input_rank_and_channels(model_and_params):
    model, params = model_and_params
    with pytest.raises(
        nn.LayerError,
        match=r"^block/conv_0 \(Conv\): a 2-D kernel expects an "
        r"input of rank 4 \(batch, height, width, "
        r"channels\), got shape \(5, 5, 2\)",
    ):
        model.apply(params, X[0])
    with pytest.raises(
        nn.LayerError,
        match=r"^block/conv_0 \(Conv\): params\['w'\] has shape "
        r"\(3, 3, 2, 4\), but an input of shape "
        r"\(2, 5, 5, 3\) needs \(3, 3, 3, 4\); these params "
        r"fit an input of shape \(2, 5, 5, 2\)",
    ):
        model.apply(params, np.zeros((2, 5, 5, 3), np.float32))
    # at init, along a Sequential's inferred shapes
    chain = nn.Sequential([nn.Dense(4), nn.Flatten(), nn.Conv(2, (3, 3))])
    with pytest.raises(
        nn.LayerError,
        match=r"^conv_0 \(Conv\): a 2-D kernel expects an input "
        r"of rank 4 .*got shape \(-1, 24\)",
    ):
        chain.init(KEY, (-1, 2, 3, 5))
    with pytest.raises(
        nn.LayerError,
        match=r"^MaxPool: a 2-D window expects an input of rank "
        r"4 .*got shape \(2, 5, 2\)",
    ):
        nn.MaxPool((2, 2)).apply({}, X[:, 0])
    with pytest.raises(
        nn.LayerError,
        match=r"^LSTM: expects an input of rank 3 \(batch, time, "
        r"features\), got shape \(2, 5, 5, 2\)",
    ):
        nn.LSTM(3).init(KEY, X.shape)
    with pytest.raises(
        nn.LayerError,
        match=r"^Dense: needs the last axis \(in_features\) "
        r"known, got shape \(2, -1\)",
    ):
        nn.Dense(3).init(KEY, (2, -1))
    with pytest.raises(
        nn.LayerError,
        match=r"^MultiHeadAttention: qkv_features 6 is not "
        r"divisible by num_heads 4",
    ):
        nn.MultiHeadAttention(4).init(KEY, (-1, 3, 6))
    with pytest.raises(
        nn.LayerError,
        match=r"^GroupNorm: 6 channels \(input shape "
        r"\(-1, 4, 6\)\) do not split into 4 groups",
    ):
        nn.GroupNorm(4).init(KEY, (-1, 4, 6))
    with pytest.raises(
        nn.LayerError,
        match=r"input channels 3 .* not divisible by "
        r"feature_group_count 2",
    ):
        nn.Conv(4, (3, 3), feature_group_count=2).init(KEY, (-1, 5, 5, 3))
    with pytest.raises(
        nn.LayerError,
        match=r"^Reshape: cannot reshape an input of shape "
        r"\(-1, 5, 5, 2\) \(size 50 per example\) to "
        r"\(7, -1\)",
    ):
        nn.Reshape((7, -1)).init(KEY, (-1, 5, 5, 2))
    with pytest.raises(
        nn.LayerError,
        match=r"^Residual: the inner layer maps an input of "
        r"shape \(-1, 4\) to \(-1, 3\)",
    ):
        nn.Residual(nn.Dense(3)).init(KEY, (-1, 4))
    with pytest.raises(
        nn.LayerError,
        match=r"^concatenate_0 \(Concatenate\): inputs of shapes .* differ "
        r"outside axis -1",
    ):
        nn.Sequential([nn.Parallel([nn.Flatten(), nn.Dense(2)]), nn.Concatenate()]).init(
            KEY, (-1, 3, 4)
        )
    with pytest.raises(
        nn.LayerError,
        match=r"^Embedding: expects integer ids, got an input "
        r"of dtype float32",
    ):
        emb = nn.Embedding(5, 2)
        emb.apply(emb.init(KEY, (-1, 3))[0], np.zeros((2, 3), np.float32))
    with pytest.raises(nn.LayerError, match=r"too small for a kernel of \(3, 3\)"):
        nn.Conv(2, (3, 3), padding="VALID").init(KEY, (-1, 2, 2, 1))


def test_missing_key_in_training():
    model = nn.Sequential([nn.Dense(3), nn.Dropout(0.5)])
    params, _ = model.init(KEY, (-1, 2))
    x = np.ones((4, 2), np.float32)
    with pytest.raises(
        nn.LayerError,
        match=r"^dropout_0 \(Dropout\): needs a PRNG key in "
        r"training mode: apply\(params, x, key=",
    ):
        model.apply(params, x, train=True)
    model.apply(params, x)  # evaluation needs none
    mha = nn.MultiHeadAttention(2, dropout_rate=0.1)
    p, _ = mha.init(KEY, (-1, 3, 4))
    with pytest.raises(
        nn.LayerError, match="needs a PRNG key in training mode for attention dropout"
    ):
        mha.apply(p, np.ones((1, 3, 4), np.float32), train=True)
    with pytest.raises(nn.LayerError, match=r"init needs a PRNG key"):
        model.init(None, (-1, 2))
    with pytest.raises(TypeError, match="train must be a Python bool"):
        fn.jit(lambda t: model.apply(params, x, train=t))(True)


def test_stateful_layer_without_state():
    bn = nn.BatchNorm()
    params, state, _ = bn.init_with_state(KEY, (-1, 3))
    x = np.ones((4, 3), np.float32)
    with pytest.raises(
        nn.LayerError,
        match=r"^BatchNorm: this layer keeps state .* "
        r"init_with_state .* returns \(y, new_state\)",
    ):
        bn.apply(params, x, train=True)
    with pytest.raises(
        nn.LayerError,
        match=r"^BatchNorm: state have keys \['mean'\], "
        r"expected \['mean', 'var'\]",
    ):
        bn.apply(params, x, state={"mean": state["mean"]})


def test_bad_initializers():
    with pytest.raises(
        ValueError,
        match=r"Dense\(kernel_init=...\): unknown initializer "
        r"'glorot_unifrom' \(did you mean 'glorot_uniform'\?\)",
    ):
        nn.Dense(3, kernel_init="glorot_unifrom")
    with pytest.raises(
        TypeError,
        match=r"Conv\(bias_init=...\) must be an initializer name or "
        r"a callable init\(key, shape, dtype\), got 0",
    ):
        nn.Conv(3, (3, 3), bias_init=0)
    with pytest.raises(TypeError, match=r"LSTMCell\(recurrent_init=...\) must be"):
        nn.LSTM(3, recurrent_init=[1])
    wrong = nn.Dense(3, kernel_init=lambda key, shape, dtype: fnp.zeros((2, 2), dtype))
    with pytest.raises(
        nn.LayerError,
        match=r"^Dense: the initializer of params w returned "
        r"shape \(2, 2\), expected \(4, 3\)",
    ):
        wrong.init(KEY, (-1, 4))


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match=r"kernel_size must be a tuple.*\(3,\) for 1-D, \(3, 3\)"):
        nn.Conv(4, 3)
    with pytest.raises(ValueError, match="padding must be 'SAME', 'VALID'"):
        nn.Conv(4, (3, 3), padding="FULL")
    with pytest.raises(ValueError, match="strides must be a positive int or 2 of them"):
        nn.Conv(4, (3, 3), strides=(1, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"Dropout: rate \(the probability to drop\) must be "
        r"in \[0, 1\], got 1.5",
    ):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="Dense: features must be a positive int, got 0"):
        nn.Dense(0)
    with pytest.raises(TypeError, match="expected a layer or a function, got 3"):
        nn.Sequential([nn.Dense(2), 3])
    with pytest.raises(TypeError, match="input_shape must be a tuple of ints"):
        nn.Dense(2).init(KEY, 5)
