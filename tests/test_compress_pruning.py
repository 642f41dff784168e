"""funcnet.compress pruning: masks against NumPy re-implementations and
torch.nn.utils.prune, the polynomial schedule against its formula, and the optimizer
transformation in a jitted adam chain."""

import math

import numpy as np
import pytest
import torch
from torch.nn.utils import prune as tprune

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import compress, optim, train

RNG = np.random.default_rng(0)


def _params(rng=RNG):
    """Continuous random weights (no ties): two Dense layers, one HWIO conv, biases."""
    return {
        "conv": {"w": rng.normal(size=(3, 3, 4, 6)).astype(np.float32), "b": np.ones(6, "f4")},
        "dense_0": {"w": rng.normal(size=(12, 8)).astype(np.float32), "b": np.ones(8, "f4")},
        "dense_1": {"w": 3 * rng.normal(size=(8, 4)).astype(np.float32), "b": np.ones(4, "f4")},
    }


KERNELS = [("conv", "w"), ("dense_0", "w"), ("dense_1", "w")]


def _np_masks(params, fn_masks):
    return {k: {n: np.asarray(v) for n, v in d.items()} for k, d in fn_masks.items()}


def _np_global(params, s):
    """NumPy: remove the floor(s * n) smallest |w| over all kernels together."""
    flat = np.concatenate([np.abs(params[k][n]).ravel() for k, n in KERNELS])
    k = math.floor(s * flat.size)
    keep = np.ones(flat.size, bool)
    keep[np.argsort(flat, kind="stable")[:k]] = False
    out, at = {}, 0
    for k_, n in KERNELS:
        size = params[k_][n].size
        out[k_] = keep[at : at + size].reshape(params[k_][n].shape)
        at += size
    return out


def _np_layer(w, s):
    flat = np.abs(w).ravel()
    keep = np.ones(flat.size, bool)
    keep[np.argsort(flat, kind="stable")[: math.floor(s * flat.size)]] = False
    return keep.reshape(w.shape)


def _np_channel_norms(w):
    return np.sqrt((w.reshape(-1, w.shape[-1]).astype(np.float64) ** 2).sum(0))


def _torch_module(w):
    module = torch.nn.Module()
    module.register_parameter("weight", torch.nn.Parameter(torch.from_numpy(w.copy())))
    return module


@pytest.mark.parametrize("s", [0.3, 0.75, 0.9])
def test_global_unstructured_matches_numpy_and_torch(s):
    params = _params()
    masks = _np_masks(params, compress.magnitude_prune(params, s, scope="global"))
    ref = _np_global(params, s)
    modules = {k: _torch_module(params[k][n]) for k, n in KERNELS}
    total = sum(params[k][n].size for k, n in KERNELS)
    tprune.global_unstructured(
        [(modules[k], "weight") for k, _ in KERNELS],
        pruning_method=tprune.L1Unstructured,
        amount=math.floor(s * total),  # an int: exactly that many (torch rounds a float)
    )
    for k, n in KERNELS:
        np.testing.assert_array_equal(masks[k][n], ref[k])
        np.testing.assert_array_equal(masks[k][n], modules[k].weight_mask.numpy().astype(bool))
        assert masks[k]["b"].all()  # biases are not prunable by default
    pruned = sum((~masks[k][n]).sum() for k, n in KERNELS)
    assert pruned == math.floor(s * total)


@pytest.mark.parametrize("s", [0.25, 0.5, 0.9])
def test_layer_unstructured_matches_numpy_and_torch(s):
    params = _params()
    masks = _np_masks(params, compress.magnitude_prune(params, s, scope="layer"))
    for k, n in KERNELS:
        w = params[k][n]
        module = _torch_module(w)
        tprune.l1_unstructured(module, "weight", amount=math.floor(s * w.size))
        np.testing.assert_array_equal(masks[k][n], _np_layer(w, s))
        np.testing.assert_array_equal(masks[k][n], module.weight_mask.numpy().astype(bool))
        assert (~masks[k][n]).sum() == math.floor(s * w.size)


@pytest.mark.parametrize("s", [0.25, 0.5])
def test_channel_layer_matches_torch_ln_structured(s):
    params = _params()
    masks = _np_masks(
        params, compress.magnitude_prune(params, s, scope="layer", structure="channel")
    )
    for k, n in KERNELS:
        w = params[k][n]
        out = w.shape[-1]
        module = _torch_module(np.moveaxis(w, -1, 0))  # torch keeps output channels first
        tprune.ln_structured(module, "weight", amount=math.floor(s * out), n=2, dim=0)
        torch_mask = np.moveaxis(module.weight_mask.numpy().astype(bool), 0, -1)
        np.testing.assert_array_equal(masks[k][n], torch_mask)
        kept = masks[k][n].reshape(-1, out).all(0)
        assert (masks[k][n].reshape(-1, out).any(0) == kept).all()  # whole channels
        assert (~kept).sum() == math.floor(s * out)
        norms = _np_channel_norms(w)
        assert norms[~kept].max() < norms[kept].min()


def test_channel_global_matches_numpy():
    params = _params()
    s = 0.4
    masks = _np_masks(params, compress.magnitude_prune(params, s, structure="channel"))
    norms = np.concatenate([_np_channel_norms(params[k][n]) for k, n in KERNELS])
    keep = np.ones(norms.size, bool)
    keep[np.argsort(norms, kind="stable")[: math.floor(s * norms.size)]] = False
    at = 0
    for k, n in KERNELS:
        out = params[k][n].shape[-1]
        np.testing.assert_array_equal(
            masks[k][n], np.broadcast_to(keep[at : at + out], params[k][n].shape)
        )
        at += out


@pytest.mark.parametrize("nm", [(2, 4), (1, 4), (3, 8)])
def test_n_m_every_group(nm):
    n, m = nm
    params = {"dense": {"w": RNG.normal(size=(16, 5)).astype(np.float32)},
              "conv": {"w": RNG.normal(size=(3, 3, 8, 2)).astype(np.float32)}}  # fmt: skip
    masks = compress.magnitude_prune(params, 1 - n / m if n == 2 else None, structure=nm)
    for name in ("dense", "conv"):
        w, mask = params[name]["w"], np.asarray(masks[name]["w"])
        # groups of m consecutive weights along axis -2 (the reduction axis)
        wg = np.moveaxis(w, -2, -1).reshape(-1, w.shape[-2] // m, m)
        mg = np.moveaxis(mask, -2, -1).reshape(-1, w.shape[-2] // m, m)
        assert (mg.sum(-1) == n).all()
        for wi, mi in zip(np.abs(wg).reshape(-1, m), mg.reshape(-1, m)):
            assert set(np.argsort(-wi)[:n]) == set(np.flatnonzero(mi))


def test_traced_sparsity_under_jit():
    params = _params()
    prune_g = fn.jit(lambda p, s: compress.magnitude_prune(p, s))
    prune_c = fn.jit(
        lambda p, s: compress.magnitude_prune(p, s, scope="layer", structure="channel")
    )
    for s in (0.0, 0.5, 0.9):
        got = _np_masks(params, prune_g(params, fnp.float32(s)))
        for k, n in KERNELS:
            np.testing.assert_array_equal(got[k][n], _np_global(params, s)[k])
    got = _np_masks(params, prune_c(params, fnp.float32(0.5)))
    eager = _np_masks(
        params, compress.magnitude_prune(params, 0.5, scope="layer", structure="channel")
    )
    for k, n in KERNELS:
        np.testing.assert_array_equal(got[k][n], eager[k][n])


def test_exact_counts_and_deterministic_ties():
    w = fnp.ones((10, 10))  # all tied: the first in row-major order go first
    mask = np.asarray(compress.magnitude_prune({"w": w}, 0.29)["w"]).ravel()
    assert (~mask).sum() == 29  # 0.29 * 100 = 28.999999999999996 in float64
    np.testing.assert_array_equal(mask, np.arange(100) >= 29)
    jitted = fn.jit(lambda s: compress.magnitude_prune({"w": w}, s)["w"])
    np.testing.assert_array_equal(np.asarray(jitted(fnp.float32(0.29))).ravel(), mask)
    for s in (0.0, 0.01, 0.333, 0.5, 0.999):
        m = np.asarray(compress.magnitude_prune({"w": RNG.normal(size=(7, 13))}, s)["w"])
        assert (~m).sum() == math.floor(s * 91)
    # N:M ties: within a group the earlier weights go first
    nm = np.asarray(compress.magnitude_prune({"w": fnp.ones((4, 1))}, 0.5, structure=(2, 4))["w"])
    np.testing.assert_array_equal(nm[:, 0], [False, False, True, True])


def test_prunable_forms():
    params = {
        "a": {"w": RNG.normal(size=(4, 4)).astype("f4"), "b": RNG.normal(size=4)},
        "e": RNG.normal(size=(4, 4)).astype("f4"),
        "i": np.arange(16).reshape(4, 4),
    }
    default = compress.magnitude_prune(params, 0.5, scope="layer")
    assert bool(default["a"]["b"].all()) and bool(default["i"].all())  # bias, integer leaf
    assert int((~np.asarray(default["e"])).sum()) == 8
    by_fn = compress.magnitude_prune(
        params, 0.5, scope="layer", prunable=lambda path, leaf: path[0] == "a"
    )
    assert bool(by_fn["e"].all()) and int((~np.asarray(by_fn["a"]["b"])).sum()) == 2
    by_tree = compress.magnitude_prune(params, 0.5, prunable={"a": False, "e": True, "i": False})
    assert bool(by_tree["a"]["w"].all()) and int((~np.asarray(by_tree["e"])).sum()) == 8
    with pytest.raises(ValueError, match="prunable tree does not fit"):
        compress.magnitude_prune(params, 0.5, prunable={"a": True})


def test_apply_masks_and_sparsity_against_numpy():
    params = _params()
    masks = compress.magnitude_prune(params, 0.6)
    pruned = compress.apply_masks(params, masks)
    for k in params:
        for n in params[k]:
            expect = np.where(np.asarray(masks[k][n]), params[k][n], 0)
            np.testing.assert_array_equal(np.asarray(pruned[k][n]), expect)
            assert pruned[k][n].dtype == params[k][n].dtype
    leaves = [np.asarray(x) for x in fn.tree.leaves(pruned)]
    np_sparsity = sum((x == 0).sum() for x in leaves) / sum(x.size for x in leaves)
    assert float(compress.sparsity(pruned)) == pytest.approx(np_sparsity, rel=1e-6)
    mask_leaves = [np.asarray(x) for x in fn.tree.leaves(masks)]
    np_mask_sparsity = sum((~x).sum() for x in mask_leaves) / sum(x.size for x in mask_leaves)
    assert float(compress.sparsity(masks)) == pytest.approx(np_mask_sparsity, rel=1e-6)
    assert float(fn.jit(compress.sparsity)(pruned)) == pytest.approx(np_sparsity, rel=1e-6)

    report = compress.sparsity_report(params, masks)
    assert report.zeros == sum((x == 0).sum() for x in leaves)
    assert report.sparsity == pytest.approx(np_sparsity)
    row = {r.path: r for r in report.rows}["['dense_0']['w']"]
    assert row.shape == (12, 8) and row.count == 96
    assert row.zeros == int((~np.asarray(masks["dense_0"]["w"])).sum())
    text = str(report)
    assert "['dense_0']['w']" in text and "total" in text and f"{100 * np_sparsity:.2f}%" in text
    assert compress.sparsity_report(pruned).zeros == report.zeros


def test_apply_masks_mismatch_names_path():
    params = {"a": {"w": fnp.ones((2, 3))}, "b": fnp.ones(2)}
    with pytest.raises(
        ValueError, match=r"apply_masks: .*\['a'\]\['w'\]: shape \(3, 2\) where \(2, 3\)"
    ):
        compress.apply_masks(params, {"a": {"w": fnp.ones((3, 2), bool)}, "b": fnp.ones(2, bool)})
    with pytest.raises(ValueError, match=r"lacks path \['b'\]"):
        compress.apply_masks(params, {"a": {"w": fnp.ones((2, 3), bool)}})
    with pytest.raises(ValueError, match=r"sparsity_report: .*\['a'\]\['w'\]"):
        compress.sparsity_report(params, {"a": {"w": fnp.ones((1,), bool)}, "b": fnp.ones(2, bool)})


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_bad_sparsity(bad):
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\), got " + str(bad)):
        compress.magnitude_prune({"w": fnp.ones((2, 2))}, bad)
    with pytest.raises(ValueError, match=r"final_sparsity must be in \[0, 1\)"):
        compress.polynomial_decay(0.0, bad, 0, 10)
    with pytest.raises(ValueError, match=r"pruning: sparsity must be in \[0, 1\)"):
        compress.pruning(bad)


def test_bad_scope_structure_and_n_m():
    p = {"w": fnp.ones((6, 4))}
    with pytest.raises(ValueError, match="unknown scope 'model'"):
        compress.magnitude_prune(p, 0.5, scope="model")
    with pytest.raises(ValueError, match="unknown structure 'rows'"):
        compress.magnitude_prune(p, 0.5, structure="rows")
    with pytest.raises(ValueError, match=r"needs 1 <= n <= m, got \(5, 4\)"):
        compress.magnitude_prune(p, None, structure=(5, 4))
    with pytest.raises(ValueError, match=r"length 6 at path \['w'\] .* not a multiple of 4"):
        compress.magnitude_prune(p, None, structure=(2, 4))
    with pytest.raises(ValueError, match=r"fixed at 1 - n/m = 0.5.*got 0.3"):
        compress.magnitude_prune({"w": fnp.ones((8, 4))}, 0.3, structure=(2, 4))
    with pytest.raises(ValueError, match=r"needs kernels of 2 or more axes.*\['b'\]"):
        compress.magnitude_prune(
            {"b": fnp.ones(4)}, 0.5, structure="channel", prunable=lambda *_: True
        )
    with pytest.raises(ValueError, match="unknown scope"):
        compress.pruning(0.5, scope="everything")
    with pytest.raises(ValueError, match=r"a schedule .* is required"):
        compress.pruning(None)


def test_bad_schedule():
    with pytest.raises(ValueError, match=r"end_step \(10\) must be greater than begin_step \(10\)"):
        compress.polynomial_decay(0.0, 0.9, 10, 10)
    with pytest.raises(ValueError, match=r"end_step \(5\) must be greater than begin_step \(10\)"):
        compress.polynomial_decay(0.0, 0.9, 10, 5)
    with pytest.raises(ValueError, match="frequency must be positive"):
        compress.polynomial_decay(0.0, 0.9, 0, 10, frequency=0)
    with pytest.raises(ValueError, match="power must be a positive number"):
        compress.polynomial_decay(0.0, 0.9, 0, 10, power=0)


def _formula(t, s_i, s_f, t0, t1, power, freq):
    if t >= t1:
        return s_f
    t = max(t, t0)
    t = t0 + (t - t0) // freq * freq
    return s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0)) ** power


@pytest.mark.parametrize("power,freq", [(3, 1), (1, 7), (2, 10)])
def test_polynomial_decay_formula(power, freq):
    args = (0.1, 0.85, 20, 95)
    sched = compress.polynomial_decay(*args, power=power, frequency=freq)
    steps = np.arange(0, 130)
    got = np.asarray(fn.jit(fn.vmap(sched))(fnp.asarray(steps, fnp.int32)))
    expect = [_formula(int(t), *args, power, freq) for t in steps]
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6)
    for t in (0, 20, 57, 95, 200):
        assert float(sched(t)) == pytest.approx(_formula(t, *args, power, freq), abs=1e-6)


def _mlp_params(rng):
    return {
        "dense_0": {"w": rng.normal(size=(8, 32)).astype("f4") * 0.5, "b": np.zeros(32, "f4")},
        "dense_1": {"w": rng.normal(size=(32, 3)).astype("f4") * 0.5, "b": np.zeros(3, "f4")},
    }


def _mlp_loss(params, x, y):
    h = fnp.tanh(x @ params["dense_0"]["w"] + params["dense_0"]["b"])
    out = h @ params["dense_1"]["w"] + params["dense_1"]["b"]
    return fnp.mean((out - y) ** 2)


def test_pruning_transformation_in_adam_chain_under_jit():
    rng = np.random.default_rng(1)
    params = _mlp_params(rng)
    x = rng.normal(size=(64, 8)).astype("f4")
    y = np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2], np.cos(x[:, 3])], 1).astype("f4")
    sched = compress.polynomial_decay(0.0, 0.8, begin_step=3, end_step=15, frequency=2)
    tx = optim.chain(optim.adam(1e-2), compress.pruning(sched))
    state = tx.init(params)

    @fn.jit
    def step(params, state):
        loss, grads = fn.value_and_grad(_mlp_loss)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss

    n_kernel = 8 * 32 + 32 * 3
    prev_mask = None
    losses = []
    for t in range(20):
        params, state, loss = step(params, state)
        losses.append(float(loss))
        masks = compress.masks_of(state)
        kernel_masks = [np.asarray(masks[k]["w"]) for k in ("dense_0", "dense_1")]
        pruned = sum((~m).sum() for m in kernel_masks)
        target = np.float32(_formula(t, 0.0, 0.8, 3, 15, 3, 2))
        assert pruned == math.floor(target * np.float32(n_kernel)), t
        for k, m in zip(("dense_0", "dense_1"), kernel_masks):
            w = np.asarray(params[k]["w"])
            assert (w[~m] == 0).all()  # exactly zero (p + (-p))
            assert (w[m] != 0).all()
            assert np.asarray(masks[k]["b"]).all()
        if prev_mask is not None:  # a pruned weight never comes back
            for old, new in zip(prev_mask, kernel_masks):
                assert not (new & ~old).any()
        prev_mask = kernel_masks
    assert int(state[1].count) == 20
    assert float(compress.sparsity({k: params[k]["w"] for k in params})) == pytest.approx(
        math.floor(np.float32(0.8) * n_kernel) / n_kernel
    )
    assert losses[-1] < losses[0]


def test_pruning_n_m_and_channel_transformations():
    rng = np.random.default_rng(2)
    params = _mlp_params(rng)
    grads = fn.tree.map(lambda p: np.ones_like(p) * 0.01, params)
    # N:M switched on at step 3 by the schedule
    tx = optim.chain(optim.sgd(0.1), compress.pruning(lambda c: fnp.where(c >= 3, 0.5, 0.0),
                                                      structure=(2, 4)))  # fmt: skip
    state, update = tx.init(params), fn.jit(tx.update)
    for t in range(5):
        updates, state = update(grads, state, params)
        params = optim.apply_updates(params, updates)
        w = np.asarray(params["dense_0"]["w"])
        zeros_per_group = (np.moveaxis(w, -2, -1).reshape(32, -1, 4) == 0).sum(-1)
        assert (zeros_per_group == (2 if t >= 3 else 0)).all(), t
    # channels, per layer, constant sparsity
    tx = optim.chain(optim.sgd(0.1), compress.pruning(0.25, scope="layer", structure="channel"))
    params = _mlp_params(rng)
    updates, state = fn.jit(tx.update)(grads, tx.init(params), params)
    new = optim.apply_updates(params, updates)
    w = np.asarray(new["dense_0"]["w"])
    assert ((w == 0).all(0)).sum() == 8 and ((w == 0).any(0) == (w == 0).all(0)).all()


def test_pruning_with_train_make_step_and_errors():
    rng = np.random.default_rng(3)
    params = _mlp_params(rng)
    tx = optim.chain(optim.adam(1e-2), compress.pruning(compress.polynomial_decay(0.0, 0.5, 0, 4)))
    state = train.TrainState.create(params=params, tx=tx)
    x = rng.normal(size=(16, 8)).astype("f4")
    batch = {"x": x, "y": x[:, :3]}
    step = train.make_step(lambda p, b: _mlp_loss(p, b["x"], b["y"]), input_key="x")
    for _ in range(6):
        state, _ = step(state, batch)
    masks = compress.masks_of(state.opt_state)
    w = np.asarray(state.params["dense_1"]["w"])
    assert (w[~np.asarray(masks["dense_1"]["w"])] == 0).all()
    assert float(compress.sparsity(masks)) == pytest.approx(
        math.floor(0.5 * (8 * 32 + 32 * 3)) / sum(p.size for p in fn.tree.leaves(params))
    )
    # errors: no params, a mismatching updates tree, no PruningState
    t = compress.pruning(0.5)
    s = t.init({"w": fnp.ones((2, 2))})
    with pytest.raises(ValueError, match="update needs params"):
        t.update({"w": fnp.ones((2, 2))}, s)
    with pytest.raises(
        ValueError, match=r"pruning: the updates tree does not match the params: .*\['w'\]"
    ):
        t.update({"w": fnp.ones((2, 3))}, s, {"w": fnp.ones((2, 2))})
    with pytest.raises(ValueError, match=r"mask tree in the state does not match .*\['v'\]"):
        t.update({"v": fnp.ones((2, 2))}, s, {"v": fnp.ones((2, 2))})
    with pytest.raises(ValueError, match="holds no PruningState"):
        compress.masks_of(optim.adam(1e-3).init(params))
