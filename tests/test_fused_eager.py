"""Fused eager mode (`fn.fused_eager`): results equal plain eager (and NumPy), chains
compile once per structure, sync points materialize, errors raise at the user's line."""

import threading
import traceback

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax, nn, optim, random
from funcnet.core.array import Array
from funcnet.transforms import fused_eager as fe

RTOL = {np.float32: 2e-6, np.int32: 0}


def _runs():
    return fe.cache_info()["runs"]


def _compiles():
    return fe.cache_info()["compiles"]


def test_elementwise_chain_matches_numpy_and_is_one_run():
    xs = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    x = fnp.asarray(xs)
    runs = _runs()
    with fn.fused_eager():
        y = fnp.tanh(x) * 2.5 + fnp.exp(-x) - 1
        z = fnp.maximum(y, 0.0) / (1 + x * x)
        assert type(z) is fe.LazyArray and z.shape == (3, 4) and z.dtype == np.float32
    assert type(z) is Array  # computed when the block was left, now a plain Array
    assert _runs() == runs + 1  # the whole chain ran as one program
    want = np.maximum(np.tanh(xs) * 2.5 + np.exp(-xs) - 1, 0) / (1 + xs * xs)
    np.testing.assert_allclose(np.asarray(z), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a @ b.T,
        lambda a, b: (a * b).sum(axis=0) + a.max(),
        lambda a, b: fnp.mean(a, axis=1, keepdims=True) - b,
        lambda a, b: a[1:, ::2] + b[0, 1],
        lambda a, b: a.at[1, 2].set(7.0).at[0].add(b[0]),
        lambda a, b: fnp.concatenate([a, b], axis=0).reshape(-1)[::3],
        lambda a, b: fnp.where(a > b, a, -b).astype(np.int32) * 3,
        lambda a, b: lax.cumsum(a, axis=1) + fnp.argmax(b, axis=1)[:, None],
    ],
    ids=["matmul", "reduce", "mean", "index", "scatter", "concat", "where_int", "cumsum_argmax"],
)
def test_ops_equal_plain_eager(op):
    rng = np.random.default_rng(0)
    a = fnp.asarray(rng.normal(size=(3, 4)).astype(np.float32))
    b = fnp.asarray(rng.normal(size=(3, 4)).astype(np.float32))
    want = np.asarray(op(a, b))
    with fn.fused_eager():
        got = op(a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL[want.dtype.type], atol=1e-6)


def test_random_keys_equal_plain_eager():
    def sample(seed):
        k1, k2 = random.split(random.key(seed))
        return random.normal(k1, (5,)) + random.uniform(k2, (5,))

    want = np.asarray(sample(3))
    with fn.fused_eager():
        got = sample(3)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def _loss(params, x, y):
    h = fnp.tanh(x @ params["w"] + params["b"])
    return fnp.mean((h.sum(axis=1) - y) ** 2)


def _problem():
    rng = np.random.default_rng(1)
    params = {
        "w": fnp.asarray(rng.normal(size=(4, 3)).astype(np.float32)),
        "b": fnp.asarray(rng.normal(size=(3,)).astype(np.float32)),
    }
    x = fnp.asarray(rng.normal(size=(8, 4)).astype(np.float32))
    y = fnp.asarray(rng.normal(size=(8,)).astype(np.float32))
    return params, x, y


def _close(a, b, rtol=2e-5):
    for u, v in zip(fn.tree.tree_leaves(a), fn.tree.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=1e-6)


def test_grad_and_value_and_grad_inside():
    params, x, y = _problem()
    want_g = fn.grad(_loss)(params, x, y)
    want_l, want_vg = fn.value_and_grad(_loss)(params, x, y)
    with fn.fused_eager():
        g = fn.grad(_loss)(params, x, y)
        loss, vg = fn.value_and_grad(_loss)(params, x, y)
    _close(g, want_g)
    _close(vg, want_vg)
    np.testing.assert_allclose(float(loss), float(want_l), rtol=2e-6)


def _adam_steps(n, fused):
    params, x, y = _problem()
    opt = optim.adam(0.05)
    state = opt.init(params)
    losses = []
    for _ in range(n):
        with fn.fused_eager() if fused else _nothing():
            loss, grads = fn.value_and_grad(_loss)(params, x, y)
            updates, state = opt.update(grads, state, params)
            params = optim.apply_updates(params, updates)
            losses.append(float(loss))  # a sync point inside the block
    return params, losses


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_adam_loop_equals_eager_step_by_step_and_compiles_once():
    want_params, want_losses = _adam_steps(4, fused=False)
    compiles = _compiles()
    params, losses = _adam_steps(4, fused=True)
    np.testing.assert_allclose(losses, want_losses, rtol=2e-5)
    _close(params, want_params, rtol=5e-5)
    assert losses[-1] < losses[0]  # it trained
    # Step 1 compiles; steps 2-4 have the same structure and reuse it. (One recompile is
    # allowed: which residuals are still referenced depends on when Python's cycle
    # collector last ran, and a chain is recompiled once to output the union.)
    assert _compiles() - compiles <= 2
    hits = fe.cache_info()["hits"]
    _adam_steps(4, fused=True)
    assert _compiles() - compiles <= 2  # the same loop again compiles nothing new
    assert fe.cache_info()["hits"] >= hits + 3


def test_identical_steps_compile_once():
    x = fnp.asarray(np.arange(6, dtype=np.float32))
    compiles = _compiles()
    for _ in range(6):
        with fn.fused_eager():
            x = fnp.sin(x) * 0.5 + 1.0
    assert _compiles() == compiles + 1
    want = np.arange(6, dtype=np.float32)
    for _ in range(6):
        want = np.sin(want) * 0.5 + 1.0
    np.testing.assert_allclose(np.asarray(x), want, rtol=1e-6)


@pytest.mark.parametrize(
    "sync",
    [
        lambda v: repr(v),
        lambda v: str(v),
        lambda v: np.asarray(v),
        lambda v: float(v),
        lambda v: 1 if v > 0 else 0,  # bool() in an if
        lambda v: v.block_until_ready(),
        lambda v: fn.device_get(v),
        lambda v: v.item(),
    ],
    ids=["repr", "str", "asarray", "float", "if", "block_until_ready", "device_get", "item"],
)
def test_sync_points_materialize(sync):
    x = fnp.asarray(np.float32(0.25))
    with fn.fused_eager():
        v = fnp.cos(x) * 3
        assert type(v) is fe.LazyArray
        runs = _runs()
        sync(v)
        assert _runs() == runs + 1
        assert type(v) is Array  # a materialized value is a plain Array from then on
        w = v + 1  # later uses take it as an input of the next chain
    np.testing.assert_allclose(float(w), np.cos(np.float32(0.25)) * 3 + 1, rtol=1e-6)


def test_shape_error_raises_at_the_users_line():
    a = fnp.ones((2, 3))
    b = fnp.ones((4, 5))
    with fn.fused_eager():
        c = a * 2
        with pytest.raises((TypeError, ValueError)) as info:
            c @ b  # THE-BAD-LINE
        d = c + 1  # the block stays usable after the error
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.filename == __file__ and "THE-BAD-LINE" in (f.line or "") for f in frames)
    assert "(2, 3)" in str(info.value) or "2,3" in str(info.value).replace(" ", "")
    np.testing.assert_allclose(np.asarray(d), np.full((2, 3), 3.0))


def test_values_stay_valid_after_exit_and_after_an_exception():
    x = fnp.arange(4.0)
    with fn.fused_eager():
        kept = x * 10
    np.testing.assert_allclose(np.asarray(kept + 1), [1, 11, 21, 31])
    with pytest.raises(RuntimeError, match="user error"), fn.fused_eager():
        pending = fnp.exp(x)
        raise RuntimeError("user error")
    assert type(pending) is fe.LazyArray  # not run on the way out of a failing block
    np.testing.assert_allclose(np.asarray(pending), np.exp(np.arange(4.0)), rtol=1e-6)
    assert type(pending) is Array
    # A pending value from the failed block used by plain eager code and by jit.
    with pytest.raises(RuntimeError), fn.fused_eager():
        p2 = fnp.sqrt(x)
        raise RuntimeError
    np.testing.assert_allclose(np.asarray(fn.jit(lambda v: v * 2)(p2)), 2 * np.sqrt(np.arange(4.0)))


def test_jit_inside_is_recorded_as_one_step():
    @fn.jit
    def f(v):
        return fnp.sin(v) ** 2 + fnp.cos(v) ** 2

    x = fnp.asarray(np.linspace(0, 3, 5, dtype=np.float32))
    runs = _runs()
    with fn.fused_eager():
        y = f(x * 2) - 1
        assert type(y) is fe.LazyArray
    assert _runs() == runs + 1
    np.testing.assert_allclose(np.asarray(y), np.zeros(5), atol=1e-6)


def test_vmap_inside():
    x = fnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    want = np.asarray(fn.vmap(lambda r: r @ r)(x))
    with fn.fused_eager():
        got = fn.vmap(lambda r: r @ r)(x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_nested_block_is_part_of_the_outer_one():
    x = fnp.ones(3)
    runs = _runs()
    with fn.fused_eager():
        a = x + 1
        with fn.fused_eager():
            b = a * 3
        assert type(b) is fe.LazyArray  # the inner block does not flush
        c = b - a
    assert _runs() == runs + 1
    np.testing.assert_allclose(np.asarray(c), [4.0, 4.0, 4.0])


def test_entering_inside_a_transformation_is_an_error():
    def f(v):
        with fn.fused_eager():
            return v + 1

    with pytest.raises(ValueError, match="outside jit, grad, vmap"):
        fn.jit(f)(fnp.ones(2))
    with pytest.raises(ValueError, match="outside jit, grad, vmap"):
        fn.grad(lambda v: f(v).sum())(fnp.ones(2))


def test_a_pending_value_read_from_another_thread():
    x = fnp.arange(5.0)
    seen = {}
    with fn.fused_eager():
        y = fnp.exp(x / 5)
        t = threading.Thread(target=lambda: seen.setdefault("y", np.asarray(y)))
        t.start()
        t.join(timeout=30)
        z = y * 2
    np.testing.assert_allclose(seen["y"], np.exp(np.arange(5.0) / 5), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(z), 2 * np.exp(np.arange(5.0) / 5), rtol=1e-6)


def test_long_chains_are_cut(monkeypatch):
    monkeypatch.setattr(fe, "MAX_PENDING", 7)
    x = fnp.zeros(3)
    runs = _runs()
    with fn.fused_eager():
        for _ in range(20):
            x = x + 1
    assert _runs() - runs >= 3  # 20 operations in chains of at most 7
    np.testing.assert_allclose(np.asarray(x), [20.0, 20.0, 20.0])


def test_numpy_operands_of_a_primitive_are_copied_when_recorded():
    from funcnet.lax.elementwise import add_p

    x = fnp.ones(16)
    hosts = [np.full(16, 1.0 + i, np.float32) for i in range(8)]  # various alignments
    with fn.fused_eager():
        ys = [add_p.bind(x, h) for h in hosts]  # NumPy values reach the recorder as they are
        for h in hosts:
            h[:] = 100  # eager semantics: the value at the call counts
    for i, y in enumerate(ys):
        np.testing.assert_allclose(np.asarray(y), np.full(16, 2.0 + i))


def test_negative_zero_and_nan_scalars_are_distinct_constants():
    x = fnp.asarray(np.float32(1.0))
    with fn.fused_eager():
        a = fnp.copysign(x, 0.0)
    with fn.fused_eager():
        b = fnp.copysign(x, -0.0)  # same structure, different constant: not the same chain
    assert float(a) == 1.0 and float(b) == -1.0


def test_debug_callbacks_run_in_order_with_values():
    x = fnp.arange(3.0)
    got = []
    with fn.fused_eager():
        y = x * 2
        fn.debug.callback(lambda v: got.append(np.asarray(v).tolist()), y)
        z = y + 1
    assert got == [[0.0, 2.0, 4.0]]
    np.testing.assert_allclose(np.asarray(z), [1.0, 3.0, 5.0])


def test_nn_model_forward_equals_eager():
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(3)])
    params, _ = model.init(random.key(0), (-1, 5))
    x = fnp.asarray(np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32))
    want = np.asarray(model.apply(params, x))
    with fn.fused_eager():
        got = model.apply(params, x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def _control_flow(x, w):
    y = lax.fori_loop(0, 2, lambda j, c: c * w + 1, x)
    z = lax.cond(x.sum() > 0, lambda v: v + w, lambda v: v - 1, y)
    s = lax.scan(lambda c, e: (c + e * w, c), x, fnp.ones((3, 4)))[0]
    return z, s


def test_control_flow_with_fresh_lambdas_compiles_once_and_sees_new_closures():
    x = fnp.ones(4)
    compiles = _compiles()
    for i in range(3):
        w = fnp.full(4, float(i))  # closed over by the bodies: a new value every step
        with fn.fused_eager():
            z, s = _control_flow(x, w)
        want_y = np.ones(4)
        for _ in range(2):
            want_y = want_y * i + 1
        np.testing.assert_allclose(np.asarray(z), want_y + i)
        np.testing.assert_allclose(np.asarray(s), np.full(4, 1.0 + 3 * i))
    # The bodies are traced anew each step (fresh lambdas), but their programs are the
    # same text: one chain.
    assert _compiles() == compiles + 1


def test_chains_that_differ_in_params_wiring_or_avals_are_not_confused():
    a = fnp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = fnp.asarray(np.full((2, 3), 10, np.float32))
    a_np, b_np = np.asarray(a), np.asarray(b)
    cases = [
        (lambda: a - b, a_np - b_np),
        (lambda: b - a, b_np - a_np),  # same structure, inputs in the other order
        (lambda: a - a, a_np - a_np),  # one input used twice
        (lambda: a.sum(axis=0), a_np.sum(axis=0)),
        (lambda: a.sum(axis=1), a_np.sum(axis=1)),  # another param
        (lambda: a[0] - 1.0, a_np[0] - 1),
        (lambda: a[0] - 2.0, a_np[0] - 2),  # another literal
        (lambda: a.astype(np.int32) - 1, a_np.astype(np.int32) - 1),  # another aval
    ]
    for make, want in cases:
        with fn.fused_eager():
            got = make()
        np.testing.assert_array_equal(np.asarray(got), want)


def _cond_with_callback(x, callback):
    def yes(v):
        fn.debug.callback(callback, v)
        return v * 2

    return lax.cond(x.sum() > 0, yes, lambda v: v, x)


def test_programs_with_different_callbacks_are_different_chains():
    # Sub-programs are keyed by structure, but functions in their params by identity:
    # a chain compiled for one callback must never run another's.
    x = fnp.ones(3)
    got = []
    for i in range(3):
        with fn.fused_eager():
            y = _cond_with_callback(x, lambda a, i=i: got.append((i, float(a[0]))))
        np.testing.assert_allclose(np.asarray(y), [2.0, 2.0, 2.0])
    fn.effects_barrier()
    assert got == [(0, 1.0), (1, 1.0), (2, 1.0)]


def test_config_flag_records_until_turned_off():
    x = fnp.arange(3.0)
    runs = _runs()
    try:
        fn.config.fused_eager = True
        y = fnp.exp(x) + 1
        assert type(y) is fe.LazyArray and fe.is_active()
    finally:
        fn.config.fused_eager = False
    assert not fe.is_active() and type(y) is Array  # turning it off ran the chain
    assert _runs() == runs + 1
    np.testing.assert_allclose(np.asarray(y), np.exp(np.arange(3.0)) + 1, rtol=1e-6)
    with fn.config.override(fused_eager=True):
        z = y * 2
        assert type(z) is fe.LazyArray
    np.testing.assert_allclose(np.asarray(z), 2 * np.asarray(y))


def test_config_flag_from_the_environment_in_a_fresh_process():
    import os
    import subprocess
    import sys

    code = (
        "import funcnet as fn, funcnet.numpy as fnp, numpy as np\n"
        "from funcnet.transforms import fused_eager as fe\n"
        "x = fnp.arange(4.0) * 3\n"
        "assert type(x) is fe.LazyArray, type(x)\n"
        "print(np.asarray(x + 1).tolist())\n"
    )
    env = {**os.environ, "FUNCNET_FUSED_EAGER": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[1.0, 4.0, 7.0, 10.0]"


def test_config_flag_cannot_be_turned_off_inside_jit():
    def f(v):
        fn.config.fused_eager = False
        return v

    fn.config.fused_eager = True
    try:
        with pytest.raises(ValueError, match="outside transformations"):
            fn.jit(f)(fnp.ones(2))
    finally:
        fn.config.fused_eager = False
    assert not fe.is_active()
