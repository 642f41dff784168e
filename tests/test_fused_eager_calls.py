"""Fused eager's call cache (transforms/fused_stage.py): grad, value_and_grad, vmap,
optimizer updates and apply_updates inside `fn.fused_eager()` are traced once per
function and signature and recorded as one operation; results equal plain eager, a
rebound closure traces again, what cannot be staged runs op by op, and errors still
name the user's line."""

import traceback

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import demo, nn, optim, random
from funcnet.transforms import fused_eager as fe
from funcnet.transforms import fused_stage


def _info():
    return fe.cache_info()


def _delta(before):
    after = _info()
    return {k: after[k] - before[k] for k in ("call_traces", "call_hits", "call_unstageable")}


def _loss(p, x):
    return fnp.sum(fnp.tanh(x @ p["w"] + p["b"]) ** 2)


def _params():
    rng = np.random.default_rng(0)
    return {
        "w": fnp.asarray(rng.normal(size=(4, 3)).astype(np.float32)),
        "b": fnp.asarray(rng.normal(size=(3,)).astype(np.float32)),
    }


X = fnp.asarray(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))


def test_grad_is_traced_once_and_then_recorded_as_one_operation():
    p = _params()
    want = fn.value_and_grad(_loss)(p, X)
    before = _info()
    for _ in range(3):
        with fn.fused_eager():
            graph = fe._active_graph()
            got = fn.value_and_grad(_loss)(p, X)
            assert len(graph.eqns) == 1  # one `jit` equation, not the whole backward pass
            assert type(got[0]) is fe.LazyArray
    assert _delta(before) == {"call_traces": 1, "call_hits": 2, "call_unstageable": 0}
    np.testing.assert_allclose(float(got[0]), float(want[0]), rtol=1e-6)
    for k in p:
        np.testing.assert_allclose(np.asarray(got[1][k]), np.asarray(want[1][k]), rtol=1e-5)


def test_a_training_loop_equals_plain_eager_and_traces_each_call_once():
    model = demo.mlp()
    params, _ = model.init(random.key(0), (-1, 8, 8, 1))
    rng = np.random.default_rng(1)
    x = fnp.asarray(rng.normal(size=(16, 8, 8, 1)).astype(np.float32))
    y = fnp.asarray(rng.integers(0, 10, 16).astype(np.int32))
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-2))

    def loss_fn(p):
        return nn.losses.softmax_cross_entropy(model.apply(p, x), y).mean()

    def step(p, s):
        loss, g = fn.value_and_grad(loss_fn)(p)
        updates, s = opt.update(g, s, p)
        return optim.apply_updates(p, updates), s, loss

    plain = (params, opt.init(params))
    fused = plain
    before = _info()
    for _ in range(4):
        *plain, loss_plain = step(*plain)
        with fn.fused_eager():
            *fused, loss_fused = step(*fused)
            float(loss_fused)
        np.testing.assert_allclose(float(loss_fused), float(loss_plain), rtol=2e-5)
    # value_and_grad, update, apply_updates: traced once each, then three hits per step
    assert _delta(before) == {"call_traces": 3, "call_hits": 9, "call_unstageable": 0}
    for a, b in zip(fn.tree.tree_leaves(fused), fn.tree.tree_leaves(plain)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_a_rebound_closure_traces_again():
    scale = fnp.asarray(2.0)

    def loss(w):
        return fnp.sum(w * w) * scale

    w = fnp.ones(3)
    with fn.fused_eager():
        first = fn.grad(loss)(w)
    scale = fnp.asarray(5.0)  # the closure cell now holds another array
    before = _info()
    with fn.fused_eager():
        second = fn.grad(loss)(w)
    assert _delta(before)["call_traces"] == 1
    np.testing.assert_allclose(np.asarray(first), [4.0] * 3)
    np.testing.assert_allclose(np.asarray(second), [10.0] * 3)


def test_fresh_lambdas_over_new_batches_are_correct():
    p = _params()
    batches = [X, X * 2, X - 1]
    for xb in batches:
        want = fn.grad(lambda q: _loss(q, xb))(p)  # noqa: B023  (the idiom under test)
        with fn.fused_eager():
            got = fn.grad(lambda q: _loss(q, xb))(p)  # noqa: B023
        np.testing.assert_allclose(np.asarray(got["w"]), np.asarray(want["w"]), rtol=1e-5)


def test_python_arguments_are_part_of_the_signature_with_their_type():
    def f(w, k):
        return fnp.sum(w**2) * k

    w = fnp.ones(2)
    with fn.fused_eager():
        g2 = fn.grad(f)(w, 2)
        g3 = fn.grad(f)(w, 3)
        g2f = fn.grad(f)(w, 2.0)
        again = fn.grad(f)(w, 2)
    assert np.asarray(g2).tolist() == [4.0, 4.0] and np.asarray(g3).tolist() == [6.0, 6.0]
    assert np.asarray(g2f).tolist() == [4.0, 4.0] and np.asarray(again).tolist() == [4.0, 4.0]


def test_control_flow_on_a_value_runs_op_by_op():
    def f(w):
        if float(w.sum()) > 0:  # needs the value: cannot be traced
            return fnp.sum(w * 3)
        return fnp.sum(w * w)

    before = _info()
    with fn.fused_eager():
        up = fn.grad(f)(fnp.ones(2))
        down = fn.grad(f)(-fnp.ones(2))
    assert np.asarray(up).tolist() == [3.0, 3.0]
    assert np.asarray(down).tolist() == [-2.0, -2.0]
    assert _delta(before)["call_unstageable"] == 1  # one signature, then plain
    before = _info()
    with fn.fused_eager():
        fn.grad(f)(fnp.ones(2))
    assert _delta(before) == {"call_traces": 0, "call_hits": 0, "call_unstageable": 0}


def test_a_shape_error_names_the_users_line():
    def bad(w):
        return fnp.sum(w @ fnp.ones((5, 2)))  # the line the error names

    with pytest.raises(TypeError) as plain:
        fn.grad(bad)(fnp.ones((2, 3)))
    with fn.fused_eager(), pytest.raises(TypeError) as fused:
        fn.grad(bad)(fnp.ones((2, 3)))
    assert str(fused.value) == str(plain.value)
    lines = "".join(traceback.format_tb(fused.value.__traceback__))
    assert "return fnp.sum(w @ fnp.ones((5, 2)))" in lines


def test_apply_updates_with_mismatched_trees_gives_the_plain_error():
    with pytest.raises(ValueError) as plain:
        optim.apply_updates({"w": fnp.ones(2)}, {"v": fnp.ones(2)})
    with fn.fused_eager(), pytest.raises(ValueError) as fused:
        optim.apply_updates({"w": fnp.ones(2)}, {"v": fnp.ones(2)})
    assert str(fused.value) == str(plain.value)


def test_vmap_with_list_axes():
    def f(a, b):
        return {"sum": a @ b, "max": fnp.max(a)}

    a = fnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    b = fnp.ones(4)
    want = fn.vmap(f, in_axes=[0, None])(a, b)
    before = _info()
    with fn.fused_eager():
        got = fn.vmap(f, in_axes=[0, None])(a, b)
        again = fn.vmap(f, in_axes=[0, None])(a, b)
    assert _delta(before)["call_traces"] == 1 and _delta(before)["call_hits"] == 1
    for k in want:
        np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(want[k]))
        np.testing.assert_array_equal(np.asarray(again[k]), np.asarray(want[k]))


def test_has_aux_with_non_array_aux():
    def f(w):
        return fnp.sum(w * w), {"steps": 7, "mean": fnp.mean(w)}

    with fn.fused_eager():
        (value, aux), g = fn.value_and_grad(f, has_aux=True)(fnp.arange(3.0))
    assert aux["steps"] == 7 and float(aux["mean"]) == 1.0 and float(value) == 5.0
    assert np.asarray(g).tolist() == [0.0, 2.0, 4.0]


def test_side_effects_run_once_per_signature_as_under_jit():
    calls = []

    def f(w):
        calls.append(1)
        return fnp.sum(w)

    for _ in range(3):
        with fn.fused_eager():
            fn.grad(f)(fnp.ones(2))
    assert len(calls) == 1
    with fn.fused_eager(cache_calls=False):
        fn.grad(f)(fnp.ones(2))
    assert len(calls) == 2


def test_cache_calls_false_records_every_operation():
    p = _params()
    before = _info()
    with fn.fused_eager(cache_calls=False):
        graph = fe._active_graph()
        fn.value_and_grad(_loss)(p, X)
        assert len(graph.eqns) > 5
    assert _delta(before) == {"call_traces": 0, "call_hits": 0, "call_unstageable": 0}


def test_only_the_outermost_call_is_staged_and_nothing_outside_a_block():
    assert not fused_stage.active()

    def inner(w):
        return fnp.sum(fnp.sin(w))

    def outer(ws):
        return fnp.sum(fn.vmap(fn.grad(inner))(ws))

    ws = fnp.asarray(np.linspace(0, 1, 6, dtype=np.float32).reshape(3, 2))
    want = fn.grad(outer)(ws)
    before = _info()
    with fn.fused_eager():
        assert fused_stage.active()
        got = fn.grad(outer)(ws)
        with fn.disable_jit():
            assert not fused_stage.active()  # jit off: the calls run as written
    assert _delta(before)["call_traces"] == 1
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_numpy_arguments_run_op_by_op():
    w = np.ones(3, np.float32)
    before = _info()
    with fn.fused_eager():
        g = fn.grad(lambda v: fnp.sum(v * v))(w)
    assert np.asarray(g).tolist() == [2.0, 2.0, 2.0]
    assert _delta(before)["call_traces"] == 0


def test_a_lazy_value_of_the_block_captured_by_the_function():
    x = fnp.arange(4.0)
    with fn.fused_eager():
        shift = fnp.sin(x)  # pending when the function closes over it
        g = fn.grad(lambda w: fnp.sum((w - shift) ** 2))(x)
    np.testing.assert_allclose(
        np.asarray(g), 2 * (np.arange(4.0) - np.sin(np.arange(4.0))), rtol=1e-6
    )
