"""Quantization-aware training (funcnet.compress.qat): fake_quant's values and its
straight-through / LSQ derivatives against NumPy formulas and a jax.custom_vjp written
here, QAT models against a NumPy forward and a jax model, and the int8 conversion
against the QAT model's evaluation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
from funcnet import compress, nn, optim, random

# ----------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------


def np_fake_quant(x, s, qmax):
    """NumPy: np.round breaks ties to even; float32 throughout."""
    x, s = np.float32(x), np.float32(s)
    return (np.clip(np.round(x / s), -qmax, qmax) * s).astype(np.float32)


def np_fake_quant_grads(x, s, qmax, g):
    """The clipped STE for x and LSQ's d/ds, before summing over shared elements."""
    x, s, g = np.float32(x), np.float32(s), np.float32(g)
    v = x / s
    inside = (np.abs(np.round(v)) <= qmax).astype(np.float32)  # judged after rounding
    dy_ds = np.clip(np.round(v), -qmax, qmax) - v * inside
    return g * inside, g * dy_ds


def _sum_to(g, shape):
    axes = tuple(i for i, d in enumerate(shape) if d == 1) if shape else None
    return jnp.sum(g, axis=axes).reshape(shape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def jax_fake_quant(x, s, qmax):
    """The same estimator in jax; ``s`` broadcasts against ``x`` (shape () or with
    ones off the channel axis)."""
    return jnp.clip(jnp.round(x / s), -qmax, qmax) * s


def _jax_fq_fwd(x, s, qmax):
    return jax_fake_quant(x, s, qmax), (x, s)


def _jax_fq_bwd(qmax, res, g):
    x, s = res
    v = x / s
    inside = (jnp.abs(jnp.round(v)) <= qmax).astype(x.dtype)
    dy_ds = jnp.clip(jnp.round(v), -qmax, qmax) - v * inside
    return g * inside, _sum_to(g * dy_ds, s.shape)


jax_fake_quant.defvjp(_jax_fq_fwd, _jax_fq_bwd)


def _bshape(ndim, axis, n):
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


def _data(shape, seed=0, spread=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * spread).astype(np.float32)


# ----------------------------------------------------------------------------
# fake_quant: values
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_fake_quant_values_match_numpy(bits, axis):
    qmax = 2 ** (bits - 1) - 1
    x = _data((5, 6), seed=bits)
    if axis is None:
        s = np.float32(0.25 if bits < 8 else 0.03125)
        # exact ties (k + 1/2) * s: they round to even, as np.round
        x[0] = (np.arange(6) - 3 + 0.5) * s
        ref = np_fake_quant(x, s, qmax)
    else:
        n = x.shape[axis]
        s = np.float32(2.0 ** -np.arange(1, n + 1))
        ref = np_fake_quant(x, s.reshape(_bshape(2, axis, n)), qmax)
    y = compress.fake_quant(x, s, bits=bits, axis=axis)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(np.asarray(y), ref)
    y_jit = fn.jit(functools.partial(compress.fake_quant, bits=bits, axis=axis))(x, s)
    np.testing.assert_allclose(np.asarray(y_jit), ref, rtol=1e-6, atol=0)


def test_fake_quant_equals_the_int8_quantizers():
    x = _data((4, 7), seed=3)
    s = np.float32(0.037)
    got = compress.fake_quant(x, s)
    want = compress.dequantize(compress.quantize_per_tensor(x, s), s)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # per channel: the weights quantize_per_channel made, with its scales
    q, w_scale = compress.quantize_per_channel(x, axis=-1)
    got = compress.fake_quant(x, w_scale, axis=-1)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(compress.dequantize(q, w_scale)))


def test_fake_quant_keeps_a_low_precision_dtype():
    x = _data((3, 4)).astype(np.float16)
    y = compress.fake_quant(x, 0.125)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(np.asarray(y), np_fake_quant(x, 0.125, 127).astype(np.float16))


# ----------------------------------------------------------------------------
# fake_quant: derivatives
# ----------------------------------------------------------------------------


def _case(bits, axis, shape=(6, 5)):
    x = _data(shape, seed=7, spread=1.0)
    if axis is None:
        s = np.float32(0.09 if bits == 4 else 0.004)  # 4 bits: many values clip
    else:
        n = shape[axis]
        qmax = 2 ** (bits - 1) - 1
        s = (np.linspace(0.05, 0.3, n) * 7 / qmax).astype(np.float32)  # some values clip
    return x, s, 2 ** (bits - 1) - 1


@pytest.mark.parametrize(
    "bits,axis,jit", [(8, None, False), (4, None, True), (4, 0, False), (8, 1, True)]
)
def test_fake_quant_vjp_matches_jax_and_numpy(bits, axis, jit):
    x, s, qmax = _case(bits, axis)
    g = _data(x.shape, seed=11, spread=1.0)

    def f(x, s):
        return compress.fake_quant(x, s, bits=bits, axis=axis)

    f = fn.jit(f) if jit else f
    y, pullback = fn.vjp(f, x, s)
    gx, gs = pullback(g)
    s_b = s if axis is None else s.reshape(_bshape(2, axis, s.shape[0]))
    y_j, pull_j = jax.vjp(lambda x, s: jax_fake_quant(x, s, qmax), x, s_b)
    gx_j, gs_j = pull_j(g)
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_j), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gx), np.asarray(gx_j), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gs), np.asarray(gs_j).reshape(s.shape), rtol=1e-4)
    # the formula in NumPy, summed over the elements that share a scale
    gx_n, gs_n = np_fake_quant_grads(x, s_b, qmax, g)
    keep = () if axis is None else (axis,)
    gs_n = gs_n.sum(axis=tuple(i for i in range(2) if i not in keep))
    np.testing.assert_array_equal(np.asarray(gx), gx_n)
    np.testing.assert_allclose(np.asarray(gs), gs_n, rtol=1e-4, atol=1e-5)
    assert 0 < gx_n.astype(bool).mean() < 1  # some values clip, some pass


@pytest.mark.parametrize("bits,axis", [(4, None), (8, 1)])
def test_fake_quant_grads_match_torch_learnable_fake_quantize(bits, axis):
    """PyTorch's LSQ fake quantizer (zero point 0, range [-qmax, qmax], grad_factor 1)."""
    torch = pytest.importorskip("torch")
    x, s, qmax = _case(bits, axis)
    g = _data(x.shape, seed=13, spread=1.0)
    xt = torch.tensor(x, requires_grad=True)
    st = torch.tensor(np.atleast_1d(s), requires_grad=True)
    zero = torch.zeros_like(st)
    if axis is None:
        yt = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zero, -qmax, qmax, 1.0)
    else:
        yt = torch._fake_quantize_learnable_per_channel_affine(xt, st, zero, axis, -qmax, qmax, 1.0)
    yt.backward(torch.tensor(g))
    y, pullback = fn.vjp(lambda x, s: compress.fake_quant(x, s, bits=bits, axis=axis), x, s)
    gx, gs = pullback(g)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(gx), xt.grad.numpy())
    np.testing.assert_allclose(np.atleast_1d(np.asarray(gs)), st.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bits,axis,jit", [(4, None, False), (4, 0, True)])
def test_fake_quant_jvp_matches_numpy(bits, axis, jit):
    x, s, qmax = _case(bits, axis)
    tx = _data(x.shape, seed=12, spread=1.0)
    ts = np.float32(0.5) if axis is None else np.linspace(-1, 1, s.shape[0]).astype(np.float32)

    def jvp(x, s, tx, ts):
        return fn.jvp(
            lambda x, s: compress.fake_quant(x, s, bits=bits, axis=axis), (x, s), (tx, ts)
        )

    y, ty = (fn.jit(jvp) if jit else jvp)(x, s, tx, ts)
    b = () if axis is None else _bshape(2, axis, s.shape[0])
    s_b, ts_b = (s, ts) if axis is None else (s.reshape(b), ts.reshape(b))
    inside, dy_ds = np_fake_quant_grads(x, s_b, qmax, np.ones_like(x))
    np.testing.assert_allclose(np.asarray(y), np_fake_quant(x, s_b, qmax), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ty), tx * inside + dy_ds * ts_b, rtol=1e-5, atol=1e-6)


def test_fake_quant_grad_under_vmap():
    """Per-example scales and inputs: vmap of grad equals the NumPy formula row by row."""
    x, _, qmax = _case(4, None, shape=(4, 6))
    s = np.array([0.05, 0.1, 0.2, 0.4], np.float32)

    def loss(x, s):
        return (compress.fake_quant(x, s, bits=4) ** 2).sum()

    gx, gs = fn.jit(fn.vmap(fn.grad(loss, argnums=(0, 1))))(x, s)
    g = 2 * np_fake_quant(x, s[:, None], qmax)
    gx_n, gs_n = np_fake_quant_grads(x, s[:, None], qmax, g)
    np.testing.assert_allclose(np.asarray(gx), gx_n, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gs), gs_n.sum(1), rtol=1e-4, atol=1e-6)
    # and jit(vmap(...)) of the values
    y = fn.jit(fn.vmap(lambda x, s: compress.fake_quant(x, s, bits=4)))(x, s)
    np.testing.assert_allclose(np.asarray(y), np_fake_quant(x, s[:, None], qmax), rtol=1e-6)


# ----------------------------------------------------------------------------
# fake_quant: bad input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.0, -0.5, np.nan, np.inf])
def test_fake_quant_refuses_a_bad_scale(scale):
    with pytest.raises(ValueError, match=r"scale must be finite and > 0, got scale = "):
        compress.fake_quant(np.ones(3, np.float32), scale)


def test_fake_quant_names_the_bad_channel():
    s = np.array([0.1, 0.2, 0.0, 0.3], np.float32)
    with pytest.raises(ValueError, match=r"got scale\[2\] = 0\.0"):
        compress.fake_quant(np.ones((2, 4), np.float32), s, axis=-1)
    # also under eager grad, where the scale is known
    with pytest.raises(ValueError, match=r"scale\[2\]"):
        fn.grad(lambda s: compress.fake_quant(np.ones((2, 4), np.float32), s, axis=1).sum())(s)


@pytest.mark.parametrize("bits", [1, 9, 0, 16])
def test_fake_quant_refuses_bits_out_of_range(bits):
    with pytest.raises(ValueError, match=rf"bits must be in \[2, 8\] \(int8 storage\), got {bits}"):
        compress.fake_quant(np.ones(3, np.float32), 0.1, bits=bits)


@pytest.mark.parametrize("bits", [8.0, True, "8"])
def test_fake_quant_refuses_bits_that_are_not_ints(bits):
    with pytest.raises(TypeError, match=r"bits must be an int in \[2, 8\]"):
        compress.fake_quant(np.ones(3, np.float32), 0.1, bits=bits)


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.bool_])
def test_fake_quant_refuses_integer_input(dtype):
    with pytest.raises(
        TypeError, match=rf"x must be a floating-point array, got dtype {np.dtype(dtype)}"
    ):
        compress.fake_quant(np.ones(3, dtype), 0.1)


def test_fake_quant_refuses_scales_of_the_wrong_shape():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(
        ValueError, match=r"with axis=None the scale must be a scalar, got shape \(3,\)"
    ):
        compress.fake_quant(x, np.ones(3, np.float32))
    with pytest.raises(
        ValueError, match=r"must have shape \(2,\) for x of shape \(2, 3\), got \(3,\)"
    ):
        compress.fake_quant(x, np.ones(3, np.float32), axis=0)
    with pytest.raises(ValueError, match=r"axis 2 is out of range for x of shape \(2, 3\)"):
        compress.fake_quant(x, np.ones(3, np.float32), axis=2)


# ----------------------------------------------------------------------------
# QAT models
# ----------------------------------------------------------------------------


def _mlp():
    return nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(3)])


def _np_weight_fq(w, qmax=127):
    w = np.asarray(w, np.float32)
    s = np.abs(w).max(axis=tuple(range(w.ndim - 1))) / np.float32(qmax)
    return np_fake_quant(w, np.where(s > 0, s, np.float32(1)), qmax)


def np_qat_mlp(params, x, absmax, *, train, momentum, qmax=127):
    """The QAT MLP in NumPy: per-channel weights, per-tensor inputs with a tracked range."""
    h, new = np.asarray(x, np.float32), []
    for i, name in enumerate(["dense_0", "dense_1"]):
        old = np.float32(absmax[i])
        if train:
            batch = np.abs(h).max()
            m = np.float32(momentum)
            old = batch if old == 0 else m * old + (np.float32(1) - m) * batch
        new.append(old)
        hq = np_fake_quant(h, old / np.float32(qmax), qmax) if old > 0 else h
        p = params[name]
        h = hq @ _np_weight_fq(p["w"], qmax) + np.asarray(p["b"])
        if i == 0:
            h = np.maximum(h, 0)
    return h, new


def _absmax(state):
    return [float(state[k]["x_absmax"]) for k in ("dense_0", "dense_1")]


def test_qat_model_keeps_structure_names_and_params_tree():
    model = nn.Sequential(
        [
            nn.Conv(3, (3, 3)),
            nn.relu,
            nn.Sequential([nn.Flatten(), nn.Dense(5)]),
            nn.Residual(nn.Dense(5)),
        ]
    )
    shape = (-1, 4, 4, 2)
    params, _ = model.init(random.key(0), shape)
    qmodel = compress.qat_model(model)
    qparams, state, out = qmodel.init_with_state(random.key(0), shape)
    assert out == (-1, 5)
    shapes = functools.partial(fn.tree.map, lambda a: a.shape)
    assert shapes(qparams) == shapes(params)  # the float params fit as they are
    assert sorted(fn.tree.leaf_paths(state)) == sorted(
        [
            "['conv_0']['x_absmax']",
            "['residual_0']['x_absmax']",
            "['sequential_0']['dense_0']['x_absmax']",
        ]
    )
    assert isinstance(model.layers[0], nn.Conv)  # the float model is not changed
    assert isinstance(qmodel.layers[0], compress.QATLayer)
    assert isinstance(qmodel.layers[1], nn.Fn) and qmodel.names == model.names
    assert isinstance(qmodel.layers[3].layer, compress.QATLayer)  # inside the Residual
    back = compress.float_model(qmodel)
    assert repr(back) == repr(model) and back.layers[0] is model.layers[0]


def test_qat_model_keeps_shared_layers_shared_and_other_layers():
    d = nn.Dense(4)
    qmodel = compress.qat_model(nn.Sequential([d, nn.relu, d]))
    assert qmodel.layers[0] is qmodel.layers[2] and isinstance(qmodel.layers[0], compress.QATLayer)
    mixed = compress.qat_model(nn.Sequential([nn.ConvTranspose(2, (2, 2)), nn.Conv(2, (1, 1))]))
    assert type(mixed.layers[0]) is nn.ConvTranspose  # int8 has no transposed conv
    assert isinstance(mixed.layers[1], compress.QATLayer)


def test_qat_model_refuses_a_model_without_dense_or_conv():
    with pytest.raises(ValueError, match=r"has no nn.Dense or nn.Conv to quantize"):
        compress.qat_model(nn.Sequential([nn.relu, nn.Flatten()]))
    with pytest.raises(ValueError, match=r"bits must be in \[2, 8\]"):
        compress.qat_model(_mlp(), bits=9)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        compress.qat_model(_mlp(), momentum=1.0)


def test_qat_forward_train_and_eval_and_ema_match_numpy():
    m = 0.9
    model = _mlp()
    params, _ = model.init(random.key(0), (-1, 4))
    qmodel = compress.qat_model(model, momentum=m)
    _, state, _ = qmodel.init_with_state(random.key(0), (-1, 4))
    assert _absmax(state) == [0.0, 0.0]  # never observed
    x1, x2, x3 = _data((16, 4), 1, 1.0), _data((16, 4), 2, 3.0), _data((16, 4), 3, 2.0)
    train = fn.jit(lambda p, s, x: qmodel.apply(p, x, state=s, train=True))
    evaluate = fn.jit(lambda p, s, x: qmodel.apply(p, x, state=s))
    # eval before any observation: the inputs pass unquantized, the weights are quantized
    y, _ = evaluate(params, state, x3)
    np.testing.assert_allclose(
        np.asarray(y), np_qat_mlp(params, x3, [0, 0], train=False, momentum=m)[0], atol=1e-5
    )
    absmax = [0.0, 0.0]
    for x in (x1, x2):  # first step: the batch's range; second: the moving average
        y, state = train(params, state, x)
        y_ref, absmax = np_qat_mlp(params, x, absmax, train=True, momentum=m)
        np.testing.assert_allclose(_absmax(state), absmax, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-5, atol=1e-5)
    assert absmax[0] == pytest.approx(m * np.abs(x1).max() + (1 - m) * np.abs(x2).max(), 1e-6)
    # eval: the tracked ranges as they are, and the state comes back unchanged
    y, state2 = evaluate(params, state, x3)
    assert _absmax(state2) == _absmax(state)
    y_ref, _ = np_qat_mlp(params, x3, absmax, train=False, momentum=m)
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-5, atol=1e-5)
    # inputs outside the tracked range clip: the eval output differs from the float one
    assert not np.allclose(np.asarray(y), np.asarray(model.apply(params, x3)), atol=1e-3)


def _jax_qat_mlp(params, x, scales, qmax=127):
    h = x
    for i, name in enumerate(["dense_0", "dense_1"]):
        w = params[name]["w"]
        ws = jax.lax.stop_gradient(jnp.max(jnp.abs(w), axis=0) / qmax)
        ws = jnp.where(ws > 0, ws, 1.0)
        h = jax_fake_quant(h, scales[i], qmax) @ jax_fake_quant(w, ws[None], qmax)
        h = h + params[name]["b"]
        h = jax.nn.relu(h) if i == 0 else h
    return h


def _xent(logits, labels):
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1).mean()


def test_qat_trains_and_its_grads_match_jax():
    model = _mlp()
    params, _ = model.init(random.key(0), (-1, 4))
    x, labels = _data((32, 4), 5, 2.0), np.arange(32) % 3
    qmodel = compress.qat_model(model)
    params, state = compress.qat_init(qmodel, params, x[:8])  # x[8:] goes out of range
    opt = optim.adam(1e-2)

    @fn.jit
    def step(p, s, o, x, y):
        def loss(p):
            logits, new_state = qmodel.apply(p, x, state=s, train=True)
            return nn.losses.softmax_cross_entropy(logits, y).mean(), new_state

        (value, s), g = fn.value_and_grad(loss, has_aux=True)(p)
        updates, o = opt.update(g, o, p)
        return optim.apply_updates(p, updates), s, o, value, g

    o = opt.init(params)
    new_params, new_state, o, first, g = step(params, state, o, x, labels)
    # the reference: the same computation in jax, with the scales the step used
    scales = [np.float32(a) / np.float32(127) for a in _absmax(new_state)]
    jparams = jax.tree.map(jnp.asarray, fn.tree.map(np.asarray, params))
    jax_grad = jax.jit(jax.grad(lambda p, s: _xent(_jax_qat_mlp(p, x, s), labels)))
    g_ref = jax_grad(jparams, scales)
    for name in ("dense_0", "dense_1"):
        for k in ("w", "b"):
            np.testing.assert_allclose(
                np.asarray(g[name][k]), np.asarray(g_ref[name][k]), rtol=2e-4, atol=1e-6
            )
    # the clipped inputs get no gradient through the quantizer: the STE is not the identity
    g_wide = jax_grad(jparams, [np.float32(1e3)] * 2)
    assert not np.allclose(np.asarray(g_ref["dense_0"]["w"]), np.asarray(g_wide["dense_0"]["w"]))
    for _ in range(5):
        new_params, new_state, o, value, _ = step(new_params, new_state, o, x, labels)
    assert float(value) < float(first)


def test_learned_scales_get_the_lsq_gradient():
    model = _mlp()
    params, _ = model.init(random.key(0), (-1, 4))
    x, labels = _data((32, 4), 6, 2.0), np.arange(32) % 3
    qmodel = compress.qat_model(model, learn_scales=True)
    qparams, state = compress.qat_init(qmodel, params, x[:8])
    assert state == {} and sorted(qparams["dense_0"]) == ["b", "w", "x_scale"]
    assert float(qparams["dense_0"]["x_scale"]) == pytest.approx(np.abs(x[:8]).max() / 127, 1e-6)

    def loss(p):
        return nn.losses.softmax_cross_entropy(qmodel.apply(p, x), labels).mean()

    g = fn.jit(fn.grad(loss))(qparams)

    def jax_loss(p):
        # LSQ's gradient scale 1 / sqrt(features * qmax), features per example
        scales = [
            p[n]["x_scale"] / jnp.sqrt(f * 127.0) for n, f in (("dense_0", 4), ("dense_1", 8))
        ]
        scales = [
            s + jax.lax.stop_gradient(p[n]["x_scale"] - s)
            for s, n in zip(scales, ("dense_0", "dense_1"))
        ]
        return _xent(_jax_qat_mlp(p, x, scales), labels)

    jparams = jax.tree.map(jnp.asarray, fn.tree.map(np.asarray, qparams))
    g_ref = jax.jit(jax.grad(jax_loss))(jparams)
    for name in ("dense_0", "dense_1"):
        for k in ("w", "b", "x_scale"):
            np.testing.assert_allclose(
                np.asarray(g[name][k]), np.asarray(g_ref[name][k]), rtol=5e-4, atol=1e-7
            )
    assert float(g["dense_0"]["x_scale"]) != 0


def test_qat_conv_matches_jax():
    model = nn.Sequential([nn.Conv(4, (3, 3)), nn.relu, nn.Flatten(), nn.Dense(3)])
    params, _ = model.init(random.key(1), (-1, 5, 5, 2))
    x = _data((6, 5, 5, 2), 8, 1.0)
    qmodel = compress.qat_model(model)
    qparams, state = compress.qat_init(qmodel, params, x)

    def loss(p):
        return (qmodel.apply(p, x, state=state)[0] ** 2).sum()

    val, g = fn.jit(fn.value_and_grad(loss))(qparams)
    sx = [np.float32(state[k]["x_absmax"]) / np.float32(127) for k in ("conv_0", "dense_0")]

    def jax_loss(p):
        w = p["conv_0"]["w"]
        ws = jax.lax.stop_gradient(jnp.max(jnp.abs(w), axis=(0, 1, 2)) / 127)
        h = jax.lax.conv_general_dilated(
            jax_fake_quant(x, sx[0], 127),
            jax_fake_quant(w, ws[None, None, None], 127),
            (1, 1),
            "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        h = jax.nn.relu(h + p["conv_0"]["b"]).reshape(6, -1)
        w = p["dense_0"]["w"]
        ws = jax.lax.stop_gradient(jnp.max(jnp.abs(w), axis=0) / 127)
        y = jax_fake_quant(h, sx[1], 127) @ jax_fake_quant(w, ws[None], 127) + p["dense_0"]["b"]
        return (y**2).sum()

    jparams = jax.tree.map(jnp.asarray, fn.tree.map(np.asarray, qparams))
    val_ref, g_ref = jax.jit(jax.value_and_grad(jax_loss))(jparams)
    np.testing.assert_allclose(float(val), float(val_ref), rtol=1e-5)
    for name in ("conv_0", "dense_0"):
        for k in ("w", "b"):
            np.testing.assert_allclose(
                np.asarray(g[name][k]), np.asarray(g_ref[name][k]), rtol=2e-4, atol=1e-5
            )


# ----------------------------------------------------------------------------
# Conversion to the int8 model
# ----------------------------------------------------------------------------


def _cnn():
    return nn.Sequential(
        [
            nn.Conv(4, (3, 3)),
            nn.relu,
            nn.Flatten(),
            nn.Dense(16),
            nn.relu,
            nn.Residual(nn.Dense(16)),
            nn.Dense(5),
        ]
    )


def _agree(y_int8, y_qat):
    y_int8, y_qat = np.asarray(y_int8), np.asarray(y_qat)
    # the same integers: only float rounding (or a rare one-step rounding flip) differs
    assert np.abs(y_int8 - y_qat).max() <= 1e-3 * np.abs(y_qat).max()
    assert (y_int8.argmax(-1) == y_qat.argmax(-1)).mean() >= 0.99


def test_convert_qat_matches_the_qat_model():
    model = _cnn()
    params, _ = model.init(random.key(2), (-1, 6, 6, 1))
    x = _data((128, 6, 6, 1), 9, 1.0)
    qmodel = compress.qat_model(model)
    qparams, state = compress.qat_init(qmodel, params, x[:32])  # x[32:] partly clips
    # as if trained: weights moved off their initial values
    leaves, treedef = fn.tree.flatten(qparams)
    noise = [_data(np.shape(v), i, 0.05) for i, v in enumerate(leaves)]
    qparams = fn.tree.unflatten(treedef, [v + n for v, n in zip(leaves, noise)])
    qm, qp = compress.convert_qat(qmodel, qparams, state)
    assert [type(lyr).__name__ for lyr in qm.layers] == [
        "QuantizedConv",
        "Fn",
        "Flatten",
        "QuantizedDense",
        "Fn",
        "Residual",
        "QuantizedDense",
    ]
    scales = compress.activation_scales(qmodel, qparams, state)
    assert sorted(scales) == ["conv_0", "dense_0", "dense_1", "residual_0"]
    assert float(qp["residual_0"]["x_scale"]) == np.float32(scales["residual_0"])
    y_qat = fn.jit(lambda p, s, x: qmodel.apply(p, x, state=s)[0])(qparams, state, x)
    _agree(fn.jit(qm.apply)(qp, x), y_qat)


def test_convert_qat_uses_learned_scales():
    model = _mlp()
    params, _ = model.init(random.key(3), (-1, 4))
    x = _data((128, 4), 10, 1.0)
    qmodel = compress.qat_model(model, learn_scales=True)
    qparams, _ = compress.qat_init(qmodel, params, x)
    # as if training had moved them: smaller steps, so some inputs clip
    qparams["dense_0"]["x_scale"] = qparams["dense_0"]["x_scale"] * 0.5
    qm, qp = compress.convert_qat(qmodel, qparams)
    assert float(qp["dense_0"]["x_scale"]) == float(qparams["dense_0"]["x_scale"])
    assert "x_scale" not in compress.float_model(qmodel).param_specs((-1, 4))["dense_0"]
    _agree(fn.jit(qm.apply)(qp, x), fn.jit(qmodel.apply)(qparams, x))


def test_convert_qat_refuses_what_it_cannot_convert():
    model = _mlp()
    params, _ = model.init(random.key(0), (-1, 4))
    with pytest.raises(TypeError, match=r"has no QAT layers; make it with compress.qat_model"):
        compress.convert_qat(model, params)
    qmodel = compress.qat_model(model)
    _, state, _ = qmodel.init_with_state(random.key(0), (-1, 4))
    with pytest.raises(ValueError, match=r"layer dense_0: its activation range was never observed"):
        compress.convert_qat(qmodel, params, state)
    with pytest.raises(ValueError, match=r"layer dense_0 tracks its activation range in the state"):
        compress.convert_qat(qmodel, params)
    four = compress.qat_model(model, bits=4)
    with pytest.raises(ValueError, match=r"layer dense_0 fake-quantizes to 4 bits; the integer"):
        compress.convert_qat(four, params, state)
    learned = compress.qat_model(model, learn_scales=True)
    bad = {k: {**v, "x_scale": np.float32(-1.0)} for k, v in params.items()}
    with pytest.raises(ValueError, match=r"layer dense_0: the learned x_scale is -1.0"):
        compress.convert_qat(learned, bad)


def test_qat_init_keeps_other_layers_state():
    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.relu, nn.Dense(2)])
    params, state, _ = model.init_with_state(random.key(0), (-1, 3))
    state = {
        "batch_norm_0": {"mean": np.full(4, 0.5, np.float32), "var": np.full(4, 2.0, np.float32)}
    }
    x = _data((8, 3), 4, 1.0)
    qmodel = compress.qat_model(model)
    qparams, qstate = compress.qat_init(qmodel, params, x, state=state)
    assert qparams is params
    np.testing.assert_array_equal(np.asarray(qstate["batch_norm_0"]["mean"]), 0.5)
    assert float(qstate["dense_0"]["x_absmax"]) == np.abs(x).max()
    assert float(qstate["dense_1"]["x_absmax"]) > 0


def test_a_layer_shared_by_two_paths_gets_a_scale_for_each():
    shared = nn.Dense(4)
    model = nn.Sequential([nn.Sequential([shared]), nn.Sequential([shared])])
    params, _ = model.init(random.key(0), (-1, 4))
    x = _data((16, 4), 1, 1.0)
    qmodel = compress.qat_model(model)
    qparams, state = compress.qat_init(qmodel, params, x)
    scales = compress.activation_scales(qmodel, qparams, state)
    assert sorted(scales) == ["sequential_0/dense_0", "sequential_1/dense_0"]
    qm, qp = compress.convert_qat(qmodel, qparams, state)
    y_qat = qmodel.apply(qparams, x, state=state)[0]
    _agree(qm.apply(qp, x), y_qat)
