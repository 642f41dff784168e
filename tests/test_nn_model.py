"""Models built from funcnet.nn layers: a Sequential holding every layer under jit and
vmap (and its declared output shape), names, shared/tied parameters and their
gradients, state threading, custom layers (both styles), the parameter utilities,
initializers set per layer, and re-initializing a subset."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn, random, tree
from funcnet.nn.core import shapes_match

KEY = random.key(0)


def np_tree(t):
    return tree.tree_map(np.asarray, t)


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    assert tree.tree_structure(a) == tree.tree_structure(b)
    for x, y in zip(tree.tree_leaves(a), tree.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


# --- a Sequential of every layer --------------------------------------------------------


def image_model():
    return nn.Sequential(
        [
            nn.Conv(4, (3, 3)),
            nn.BatchNorm(),
            nn.relu,  # (B, 8, 8, 4)
            nn.MaxPool((2, 2)),  # (B, 4, 4, 4)
            nn.ConvTranspose(4, (3, 3), strides=2),
            nn.GroupNorm(2),  # (B, 8, 8, 4)
            functools.partial(nn.gelu, approximate=False),
            nn.AvgPool((2, 2)),  # (B, 4, 4, 4)
            nn.Residual(nn.Conv(4, (3, 3))),
            nn.silu,
            nn.Reshape((16, 4)),  # (B, 16, 4)
            nn.Conv(4, (3,), padding="CAUSAL"),
            nn.tanh,
            nn.LSTM(4),
            nn.GRU(4),
            nn.RNN(4),  # (B, 16, 4)
            nn.MultiHeadAttention(num_heads=2),
            nn.LayerNorm(),
            nn.RMSNorm(),
            nn.Dropout(0.2),
            nn.Dense(8),
            nn.softplus,  # (B, 16, 8)
            nn.Parallel([nn.Dense(4), nn.Dense(4, name="gate")]),
            nn.Concatenate(),
            nn.Parallel([nn.Dense(8), nn.Dense(8)]),
            nn.Add(),  # (B, 16, 8)
            nn.Reshape((2, 2, 4, 8)),  # (B, 2, 2, 4, 8)
            nn.Conv(4, (1, 2, 2), padding="VALID"),
            nn.leaky_relu,  # (B, 2, 1, 3, 4)
            nn.GlobalMaxPool(),  # (B, 4)
            nn.Dense(6),
            nn.sigmoid,
            nn.Flatten(),
            nn.Dense(5),
            nn.log_softmax,
        ]
    )


def token_model():
    return nn.Sequential(
        [
            nn.Embedding(11, 8),
            nn.Dropout(0.1),
            nn.Residual([nn.LayerNorm(), nn.MultiHeadAttention(num_heads=2, causal=True)]),
            nn.Residual([nn.LayerNorm(), nn.Dense(16), nn.relu6, nn.Dense(8)]),
            nn.GlobalAvgPool(),
            nn.elu,
            nn.Dense(11),
            nn.softmax,
        ]
    )


def _apply_fns(model):
    def train(p, s, x, k):
        return model.apply(p, x, state=s, key=k, train=True)

    return fn.jit(train), fn.jit(fn.vmap(train, in_axes=(None, None, 0, 0)))


@pytest.mark.parametrize(
    "make,shape,kind",
    [(image_model, (3, 8, 8, 2), "float"), (token_model, (3, 7), "ids")],
    ids=["image", "tokens"],
)
def test_sequential_of_every_layer_under_jit_and_vmap(make, shape, kind):
    model = make()
    params, state, declared = model.init_with_state(KEY, (-1,) + shape[1:])
    rng = np.random.default_rng(0)
    n = 2
    if kind == "ids":
        xs = rng.integers(0, 11, (n,) + shape).astype(np.int32)
    else:
        xs = rng.standard_normal((n,) + shape).astype(np.float32)
    keys = random.split(random.key(7), n)
    train, batched = _apply_fns(model)
    ys, new_states = batched(params, state, xs, keys)
    assert declared[0] == -1 and shapes_match(declared, tuple(ys.shape[1:]))
    for i in range(n):
        y, s = train(params, state, xs[i], keys[i])
        np.testing.assert_allclose(np.asarray(ys[i]), np.asarray(y), rtol=2e-4, atol=2e-5)
        assert_trees_close(tree.tree_map(lambda a, i=i: a[i], new_states), s, rtol=2e-4, atol=1e-5)
    assert np.isfinite(np.asarray(ys)).all()
    # evaluation: no key needed, deterministic, state unchanged
    y_eval, s_eval = fn.jit(lambda p, s, x: model.apply(p, x, state=s))(params, state, xs[0])
    assert shapes_match(declared, tuple(y_eval.shape))
    assert_trees_close(s_eval, state, rtol=0, atol=0)


def test_every_layer_in_image_model_is_used():
    kinds = set()

    def walk(layer):
        kinds.add(type(layer).__name__)
        for child in getattr(layer, "layers", []):
            walk(child)
        if hasattr(layer, "layer"):
            walk(layer.layer)

    walk(image_model())
    walk(token_model())
    everything = {
        "Dense",
        "Conv",
        "ConvTranspose",
        "MaxPool",
        "AvgPool",
        "GlobalAvgPool",
        "GlobalMaxPool",
        "Flatten",
        "Reshape",
        "Dropout",
        "BatchNorm",
        "LayerNorm",
        "RMSNorm",
        "GroupNorm",
        "Embedding",
        "RNN",
        "GRU",
        "LSTM",
        "MultiHeadAttention",
        "Sequential",
        "Parallel",
        "Residual",
        "Fn",
        "Concatenate",
        "Add",
    }
    assert everything <= kinds, everything - kinds


def test_issue_example_names_and_training_step():
    model = nn.Sequential(
        [
            nn.Conv(8, (3, 3)),
            nn.relu,
            nn.MaxPool((2, 2)),
            nn.Flatten(),
            nn.Dense(16),
            nn.relu,
            nn.Dropout(0.1),
            nn.Dense(10),
        ]
    )
    params, out_shape = model.init(KEY, (1, 8, 8, 1))
    assert out_shape == (1, 10)
    assert sorted(params) == ["conv_0", "dense_0", "dense_1"]
    assert params["dense_1"]["w"].shape == (16, 10)
    assert model.names == [
        "conv_0",
        "relu_0",
        "max_pool_0",
        "flatten_0",
        "dense_0",
        "relu_1",
        "dropout_0",
        "dense_1",
    ]
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype(np.float32)
    labels = np.array([1, 2, 3, 4])

    def loss(p, k):
        logits = model.apply(p, x, key=k, train=True)
        return nn.losses.softmax_cross_entropy(logits, labels)

    @fn.jit
    def step(p, k):
        value, g = fn.value_and_grad(loss)(p, k)
        return value, tree.tree_map(lambda a, b: a - 0.1 * b, p, g)

    first = None
    for i in range(8):
        value, params = step(params, random.fold_in(KEY, i))
        first = float(value) if first is None else first
    assert float(value) < first
    assert "total: " in nn.summary(params)


def test_user_names_nesting_and_duplicates():
    block = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(4, name="proj")], name="block")
    model = nn.Sequential([block, nn.Sequential([nn.Dense(2)]), nn.Dense(3)])
    params, _ = model.init(KEY, (-1, 3))
    assert nn.paths(params) == [
        "block/dense_0/b",
        "block/dense_0/w",
        "block/proj/b",
        "block/proj/w",
        "dense_0/b",
        "dense_0/w",
        "sequential_0/dense_0/b",
        "sequential_0/dense_0/w",
    ]
    with pytest.raises(ValueError, match="both named 'x'"):
        nn.Sequential([nn.Dense(2, name="x"), nn.Dense(3, name="x")])
    with pytest.raises(ValueError, match="layer name"):
        nn.Dense(2, name="a/b")
    # an automatic name never collides with a user's
    m = nn.Sequential([nn.Dense(2, name="dense_0"), nn.Dense(2)])
    assert m.names == ["dense_0", "dense_1"]


def test_shared_layer_gradient_is_the_sum():
    shared = nn.Dense(3)
    model = nn.Sequential([shared, nn.tanh, shared])
    params, _ = model.init(KEY, (-1, 3))
    assert list(params) == ["dense_0"]  # one set of parameters
    untied = nn.Sequential([nn.Dense(3), nn.tanh, nn.Dense(3)])
    two = {"dense_0": params["dense_0"], "dense_1": params["dense_0"]}
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    g_shared = fn.jit(fn.grad(lambda p: fnp.sum(model.apply(p, x) ** 2)))(params)
    g_two = fn.jit(fn.grad(lambda p: fnp.sum(untied.apply(p, x) ** 2)))(two)
    np.testing.assert_allclose(
        np.asarray(model.apply(params, x)), np.asarray(untied.apply(two, x)), rtol=1e-6
    )
    assert_trees_close(
        g_shared["dense_0"], tree.tree_map(lambda a, b: a + b, g_two["dense_0"], g_two["dense_1"])
    )
    with pytest.raises(nn.LayerError, match="used twice"):
        nn.Sequential([shared, nn.Dense(4), shared]).init(KEY, (-1, 3))


def test_tied_embedding_gradient_against_jax():
    emb = nn.Embedding(7, 4)

    def lm_init(key, input_shape):
        params, _ = emb.init(key, input_shape)
        return {"embed": params}, tuple(input_shape) + (7,)

    def lm_apply(params, ids):
        h = fnp.tanh(emb.apply(params["embed"], ids))
        return emb.attend(params["embed"], h)  # the same table, transposed

    lm = nn.layer(lm_init, lm_apply)
    params, out_shape = lm.init(KEY, (-1, 5))
    assert out_shape == (-1, 5, 7)
    ids = np.array([[1, 2, 3, 3, 0], [6, 5, 4, 1, 1]], np.int32)
    targets = np.array([[2, 3, 3, 0, 1], [5, 4, 1, 1, 2]], np.int32)

    def loss(p):
        return nn.losses.softmax_cross_entropy(lm.apply(p, ids), targets)

    g = fn.jit(fn.grad(loss))(params)["embed"]["embedding"]
    table = np.asarray(params["embed"]["embedding"])

    def jloss(e):
        logits = jnp.tanh(e[ids]) @ e.T
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], -1))

    np.testing.assert_allclose(
        np.asarray(g), np.asarray(jax.grad(jloss)(table)), rtol=1e-5, atol=1e-6
    )
    # the sum of the two uses: lookup-only + projection-only gradients
    only_lookup = jax.grad(lambda e: jloss_split(e, table, ids, targets))(table)
    only_proj = jax.grad(lambda e: jloss_split(table, e, ids, targets))(table)
    np.testing.assert_allclose(
        np.asarray(g), np.asarray(only_lookup + only_proj), rtol=1e-5, atol=1e-6
    )


def jloss_split(e_in, e_out, ids, targets):
    logp = jax.nn.log_softmax(jnp.tanh(e_in[ids]) @ e_out.T)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], -1))


def test_custom_layers_two_functions_and_subclass():
    def scale_init(key, input_shape):
        return {"s": fnp.ones(input_shape[-1:])}, input_shape

    def scale_apply(params, x):
        return x * params["s"]

    scale = nn.layer(scale_init, scale_apply)
    double = nn.layer(apply=lambda params, x: 2 * x)

    class Bias(nn.Layer):
        def param_specs(self, input_shape):
            return {"b": nn.Param(input_shape[-1:], nn.initializers.constant(0.5))}

        def output_shape(self, input_shape):
            return input_shape

        def forward(self, params, x):
            return x + params["b"]

    model = nn.Sequential([nn.Dense(3), scale, double, Bias(), nn.relu, lambda x: x[..., :2]])
    params, out = model.init(KEY, (-1, 4))
    assert out == (-1, 2)
    assert sorted(params) == ["bias_0", "dense_0", "scale_0"]
    np.testing.assert_array_equal(np.asarray(params["bias_0"]["b"]), 0.5)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    y = model.apply(params, x)
    d = params["dense_0"]
    ref = np.maximum(2 * (x @ np.asarray(d["w"]) + np.asarray(d["b"])) + 0.5, 0)[:, :2]
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-5, atol=1e-6)
    # the custom layers' params are checked too
    bad = nn.set_param(params, "scale_0/s", fnp.ones(5), check_shape=False)
    with pytest.raises(nn.LayerError, match=r"scale_0 \(FunctionLayer\).*\(5,\).*\(3,\)"):
        model.apply(bad, x)
    # a custom layer may take key / train
    noisy = nn.layer(
        apply=lambda params, x, key=None, train=False: (
            x + random.normal(key, x.shape) if train else x
        )
    )
    out = nn.Sequential([noisy]).apply({}, x, key=KEY, train=True)
    assert not np.allclose(np.asarray(out), x)


def test_init_and_apply_under_vmap_as_an_ensemble():
    model = nn.Sequential([nn.Dense(3), nn.relu, nn.Dense(2)])
    keys = random.split(KEY, 3)
    ens = fn.jit(fn.vmap(lambda k: model.init(k, (-1, 4))[0]))(keys)
    assert ens["dense_0"]["w"].shape == (3, 4, 3)
    for i in range(3):
        single, _ = model.init(keys[i], (-1, 4))
        assert_trees_close(tree.tree_map(lambda a, i=i: a[i], ens), single, rtol=1e-6, atol=1e-7)
    x = np.ones((5, 4), np.float32)
    ys = fn.jit(fn.vmap(lambda p: model.apply(p, x)))(ens)
    assert ys.shape == (3, 5, 2)


def test_state_threading_in_containers():
    model = nn.Sequential(
        [
            nn.Dense(4),
            nn.BatchNorm(),
            nn.Parallel([nn.BatchNorm(momentum=0.5), nn.Dense(4)]),
            nn.Add(),
        ]
    )
    params, state, _ = model.init_with_state(KEY, (-1, 3))
    assert sorted(state) == ["batch_norm_0", "parallel_0"]
    assert sorted(state["parallel_0"]) == ["batch_norm_0"]
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32) + 1
    _, new = model.apply(params, x, state=state, train=True)
    assert tree.tree_structure(new) == tree.tree_structure(state)
    assert not np.allclose(np.asarray(new["batch_norm_0"]["mean"]), 0)
    # without state= a stateful model says how to pass it
    with pytest.raises(nn.LayerError, match=r"batch_norm_0 \(BatchNorm\).*init_with_state"):
        model.apply(params, x)
    # a stateless model's state is {} and apply(..., state={}) returns it
    plain = nn.Sequential([nn.Dense(2)])
    p2, s2, _ = plain.init_with_state(KEY, (-1, 3))
    assert s2 == {}
    y2, s2b = plain.apply(p2, x, state=s2)
    assert s2b == {} and y2.shape == (6, 2)


def test_keywords_reach_only_the_layers_that_take_them():
    model = nn.Sequential([nn.Dense(4), nn.MultiHeadAttention(num_heads=2), nn.Dense(2)])
    params, _ = model.init(KEY, (-1, 3, 4))
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    mask = np.array([True, True, False])[None, None, None, :]
    a = model.apply(params, x, mask=mask)
    b = model.apply(params, x)
    assert not np.allclose(np.asarray(a), np.asarray(b))
    with pytest.raises(TypeError, match="no layer in it takes the keyword argument 'bogus'"):
        model.apply(params, x, bogus=1)


# --- parameters ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp_params():
    model = nn.Sequential([nn.Dense(3), nn.relu, nn.Dense(2)])
    return model, model.init(KEY, (-1, 4))[0]


def test_summary(mlp_params):
    _, params = mlp_params
    text = nn.summary(params)
    lines = text.splitlines()
    assert lines[0].split() == ["path", "shape", "dtype", "count"]
    assert any(
        line.split()[:2] == ["dense_0/w", "(4,"] and line.split()[-1] == "12" for line in lines
    )
    assert "total: 23 parameters in 4 arrays" in lines[-1]
    assert nn.count_params(params) == 23


def test_get_set_select_filter_map_mask(mlp_params):
    _, params = mlp_params
    w = nn.get_param(params, "dense_1/w")
    assert w is params["dense_1"]["w"]
    assert nn.get_param(params, "dense_1") is params["dense_1"]
    with pytest.raises(KeyError, match="did you mean 'dense_1/w'"):
        nn.get_param(params, "dense_1/ww")
    new = nn.set_param(params, "dense_1/w", fnp.zeros((3, 2)))
    np.testing.assert_array_equal(np.asarray(new["dense_1"]["w"]), 0)
    assert new["dense_0"] is params["dense_0"] and params["dense_1"]["w"] is w  # a copy
    with pytest.raises(ValueError, match=r"has shape \(3, 2\), the new value \(2, 2\)"):
        nn.set_param(params, "dense_1/w", fnp.zeros((2, 2)))
    assert sorted(nn.select(params, "*/w")) == ["dense_0/w", "dense_1/w"]
    assert sorted(nn.select(params, "dense_1")) == ["dense_1/b", "dense_1/w"]
    assert sorted(nn.select(params, ["dense_0/b", "dense_1/w"])) == ["dense_0/b", "dense_1/w"]
    assert sorted(nn.select(params, lambda p, v: v.ndim == 1)) == ["dense_0/b", "dense_1/b"]
    assert nn.filter_params(params, "*/b") == {
        "dense_0": {"b": params["dense_0"]["b"]},
        "dense_1": {"b": params["dense_1"]["b"]},
    }
    doubled = nn.map_params(lambda v: v * 2, params, where="dense_0/*")
    np.testing.assert_allclose(
        np.asarray(doubled["dense_0"]["w"]), 2 * np.asarray(params["dense_0"]["w"])
    )
    assert doubled["dense_1"]["w"] is params["dense_1"]["w"]
    assert nn.mask(params, "*/w") == {
        "dense_0": {"b": False, "w": True},
        "dense_1": {"b": False, "w": True},
    }
    flat = nn.flatten_params(params)
    assert nn.unflatten_params(flat) == params
    with pytest.raises(TypeError, match="glob pattern"):
        nn.select(params, 3)


def test_reinit_a_subset(mlp_params):
    model, params = mlp_params
    key2 = random.key(9)
    new = nn.reinit(model, params, key2, (-1, 4), "dense_1/w")
    fresh, _ = model.init(key2, (-1, 4))
    np.testing.assert_array_equal(
        np.asarray(new["dense_1"]["w"]), np.asarray(fresh["dense_1"]["w"])
    )
    for path in ("dense_0/w", "dense_0/b", "dense_1/b"):
        assert nn.get_param(new, path) is nn.get_param(params, path)
    assert not np.allclose(np.asarray(new["dense_1"]["w"]), np.asarray(params["dense_1"]["w"]))
    with pytest.raises(ValueError, match="selects no parameter"):
        nn.reinit(model, params, key2, (-1, 4), "conv_*")


def test_initializers_set_per_layer():
    const = nn.initializers.constant(0.25)
    layer = nn.Dense(3, kernel_init=const, bias_init="ones")
    p, _ = layer.init(KEY, (-1, 2))
    np.testing.assert_array_equal(np.asarray(p["w"]), 0.25)
    np.testing.assert_array_equal(np.asarray(p["b"]), 1)
    # a user callable, and a factory passed uncalled (made with its defaults)
    user = nn.Dense(3, kernel_init=lambda key, shape, dtype: fnp.full(shape, 3.0, dtype))
    np.testing.assert_array_equal(np.asarray(user.init(KEY, (-1, 2))[0]["w"]), 3)
    a = nn.Conv(2, (2, 2), kernel_init=nn.initializers.he_normal).init(KEY, (-1, 4, 4, 1))[0]
    b = nn.Conv(2, (2, 2), kernel_init="he_normal").init(KEY, (-1, 4, 4, 1))[0]
    np.testing.assert_array_equal(np.asarray(a["w"]), np.asarray(b["w"]))
    # the same key gives the same params; another key other params
    c = nn.Conv(2, (2, 2), kernel_init="he_normal").init(random.key(1), (-1, 4, 4, 1))[0]
    assert not np.allclose(np.asarray(a["w"]), np.asarray(c["w"]))
    g = nn.GRU(3, recurrent_init="zeros").init(KEY, (-1, 2, 2))[0]
    np.testing.assert_array_equal(np.asarray(g["wh"]), 0)
