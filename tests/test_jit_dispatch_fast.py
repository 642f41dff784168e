"""jit's dispatch fast path (`Jitted.__call__`, issue 19): for every kind of call it
takes, it returns what the general path returns (the same executable: bit-identical),
both agree with NumPy/jax, the fast path is really taken (a counter of general-path
calls), and changed structures, avals, weak types or devices miss and retrace. No
timing here: benchmarks/bench_dispatch.py measures speed."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.transforms import jit as jit_mod


@pytest.fixture
def general_calls(monkeypatch):
    """Counts the calls that went past the fast path (to `Jitted._call_general`)."""
    count = [0]
    original = jit_mod.Jitted._call_general

    def counting(self, args, kwargs):
        count[0] += 1
        return original(self, args, kwargs)

    monkeypatch.setattr(jit_mod.Jitted, "_call_general", counting)
    return count


def _leaves(x):
    return [np.asarray(v) for v in jax.tree.leaves(x)]


def _same(a, b):
    """Same tree structure, and bit-identical leaves with equal dtypes and weak types."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert x.dtype == y.dtype and x.shape == y.shape and x.weak_type == y.weak_type
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _params(n, shape=(2,)):
    return {f"w{i:04d}": np.full(shape, i * 0.25, np.float32) for i in range(n)}


def _general_then_fast(f, *args, **kwargs):
    """(general path's result, fast path's result) of the same jitted call."""
    general = f(*args, **kwargs)  # first call: traces, compiles, records the fast path
    fast = f(*args, **kwargs)
    return general, fast


CASES = {
    "scalar": (lambda x: x * 2 + 1, lambda: (np.float32(1.5),)),
    "two positional": (lambda x, y: x * y - y, lambda: (np.arange(3.0, dtype=np.float32),) * 2),
    "dict20 -> sum": (lambda p: sum(p.values()), lambda: (_params(20),)),
    "dict20 -> dict20": (lambda p: {k: v * 0.9 for k, v in p.items()}, lambda: (_params(20),)),
    "20 outputs": (lambda x: tuple(x * i for i in range(20)), lambda: (np.ones(3, np.float32),)),
    "tree1000": (lambda p: {k: v * 0.9 for k, v in p.items()}, lambda: (_params(1000),)),
    "array then dict": (
        lambda x, p: {k: v + x for k, v in p.items()},
        lambda: (np.float32(2.0), _params(5)),
    ),
    "nested output": (lambda x: {"a": [x, (x + 1,)], "b": None}, lambda: (np.ones(2, np.float32),)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_equals_general_path_and_jax(case, general_calls):
    f, make = CASES[case]
    args_np = make()
    args = jax.tree.map(fnp.asarray, args_np)
    jf = fn.jit(f)
    general, fast = _general_then_fast(jf, *args)
    assert general_calls[0] == 1  # the second call took the fast path
    _same(general, fast)
    ref = jax.jit(f)(*jax.tree.map(jnp.asarray, args_np))
    assert jax.tree.structure(fast) == jax.tree.structure(ref)
    for x, y in zip(_leaves(fast), _leaves(ref)):
        assert x.dtype == y.dtype
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_keyword_arguments(general_calls):
    jf = fn.jit(lambda x, scale, p: {k: v * scale + x for k, v in p.items()})
    x, s = fnp.asarray(np.float32(1.0)), fnp.asarray(np.float32(3.0))
    p = {k: fnp.asarray(v) for k, v in _params(4).items()}
    general, fast = _general_then_fast(jf, x, scale=s, p=p)
    assert general_calls[0] == 1
    _same(general, fast)
    for k, v in _params(4).items():
        np.testing.assert_allclose(np.asarray(fast[k]), v * 3 + 1, rtol=1e-6)
    # The same values by position: another signature (another key), the same answer.
    _same(jf(x, s, p), fast)
    assert general_calls[0] == 2


def test_weak_types_are_part_of_the_key(general_calls):
    jf = fn.jit(lambda x: x * 2)
    strong = fnp.asarray(np.float32(3.0))
    weak = fn.jit(lambda: 3.0)()  # a weakly typed float32 scalar (a Python float's type)
    assert weak.weak_type and not strong.weak_type
    g_strong, f_strong = _general_then_fast(jf, strong)
    g_weak, f_weak = _general_then_fast(jf, weak)
    _same(g_strong, f_strong)
    _same(g_weak, f_weak)
    assert general_calls[0] == 3  # the first call above, then one per weak type
    ref_weak = jax.jit(lambda x: x * 2)(jnp.asarray(3.0))  # jax: weak in, weak out
    assert f_weak.weak_type == ref_weak.weak_type is True
    assert f_strong.weak_type is False
    assert np.asarray(f_weak) == np.asarray(f_strong) == 6.0


def test_donation_on_the_fast_path(general_calls):
    jf = fn.jit(lambda x, y: x * 2 + y, donate_argnums=0)
    y = fnp.ones((4,))
    outs = []
    for i in range(3):
        x = fnp.full((4,), float(i))
        outs.append(jf(x, y))
        with pytest.raises(RuntimeError, match=r"donated|deleted"):  # donated: now invalid
            np.asarray(x)
    assert general_calls[0] == 1
    for i, out in enumerate(outs):
        np.testing.assert_array_equal(np.asarray(out), np.full((4,), 2.0 * i + 1))
    np.testing.assert_array_equal(np.asarray(y), 1.0)  # not donated
    with pytest.raises(RuntimeError, match=r"donated|deleted"):
        jf(x, y)  # a donated argument passed again: a clear error, from the fast path
    assert general_calls[0] == 1


def test_jit_in_a_loop_traces_and_compiles_once(general_calls):
    traces = []

    def f(x):
        traces.append(1)  # runs only when tracing
        return x * 3

    x = fnp.arange(4.0)
    for _ in range(10):
        out = fn.jit(f)(x)  # a new wrapper per iteration, one cache per function
    np.testing.assert_array_equal(np.asarray(out), np.arange(4.0) * 3)
    assert len(traces) == 1
    assert general_calls[0] == 1  # every later wrapper found the fast path of `f`
    info = fn.jit(f).cache_info()
    assert (info.misses, info.currsize) == (1, 1)


def test_changed_avals_and_structures_miss_and_retrace(general_calls):
    traces = []

    def f(p):
        traces.append(jax.tree.structure(p))
        return jax.tree.map(lambda v: v + 1, p)

    jf = fn.jit(f)
    a3, a4 = fnp.zeros((3,)), fnp.zeros((4,))
    calls = [
        {"a": a3},  # new
        {"a": a3},
        {"a": a4},  # new shape
        {"a": a3},  # back to the first: a hit (the memo swaps)
        {"a": a3, "b": a3},  # new structure
        {"b": a3},  # new key name
        {"a": fnp.zeros((3,), np.int32)},  # new dtype
        {"a": a4},
    ]
    for p in calls:
        out = jf(p)
        assert out.keys() == p.keys()
        for k in p:
            assert out[k].shape == p[k].shape and out[k].dtype == p[k].dtype
            np.testing.assert_array_equal(np.asarray(out[k]), np.ones(p[k].shape))
    assert len(traces) == 5
    assert general_calls[0] == 5  # exactly the new signatures went past the fast path


def test_positional_then_tree_call_forms(general_calls):
    jf = fn.jit(lambda *xs: sum(jax.tree.leaves(xs)))
    a, b = fnp.ones((2,)), fnp.full((2,), 2.0)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(jf(a, b)), 3.0)  # positional Arrays
        np.testing.assert_array_equal(np.asarray(jf(a, (b,))), 3.0)  # a later tuple
        np.testing.assert_array_equal(np.asarray(jf(a, np.float32(2))), 3.0)  # NumPy leaf
    assert general_calls[0] == 3  # each form (NumPy leaves too) filled once


def test_bad_argument_is_named_from_the_fast_path():
    jf = fn.jit(lambda x, y: x + y)
    x = fnp.ones((2,))
    jf(x, x), jf(x, x)
    with pytest.raises(TypeError, match=r"argument y.*str"):
        jf(x, "a string")


def test_disable_jit_and_x64_switches_bypass_recorded_calls(general_calls):
    jf = fn.jit(lambda x: x * 2)
    x = fnp.ones((2,))
    jf(x), jf(x)
    with fn.config.override(disable_jit=True):
        out = jf(x)  # runs the function op by op, not the recorded executable
    np.testing.assert_array_equal(np.asarray(out), 2.0)
    assert general_calls[0] == 2
    with fn.config.override(enable_x64=True):  # x64 changes what signatures mean
        i = fnp.arange(3)
        assert i.dtype == np.int64
        out = jf(i), jf(i)
        assert [o.dtype for o in out] == [np.int64] * 2
    assert general_calls[0] == 3
    jf(x)  # x64 off again: the fast path was emptied by the switch, refilled once
    assert jf(x).dtype == np.float32
    assert general_calls[0] == 4


def test_multi_device_process_keys_on_the_device():
    """With two (virtual CPU) devices, a recorded call for one device must not run an
    argument of the other on the first's executable (the fast key holds the device), and
    a program compiled for the second device runs there (jit and eager)."""
    code = textwrap.dedent(
        """
        import numpy as np
        import funcnet as fn, funcnet.numpy as fnp
        d0, d1 = fn.devices()[:2]
        f = fn.jit(lambda x: x + 1)
        x0 = fn.device_put(np.arange(3.0, dtype=np.float32), d0)
        x1 = fn.device_put(np.arange(3.0, dtype=np.float32), d1)
        for i in range(3):
            for x, d in [(x0, d0), (x1, d1)]:
                out = f(x)
                assert out.device == d, (out.device, d)
                np.testing.assert_array_equal(np.asarray(out), np.arange(3.0) + 1)
            if i == 0:
                traces = f.trace_count
        assert f.trace_count == traces, (f.trace_count, traces)  # later rounds: fast path
        np.testing.assert_allclose(np.asarray(fnp.sin(x1)), np.sin(np.arange(3.0)), rtol=1e-6)
        assert fnp.sin(x1).device == d1
        print("ok")
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    env["JAX_PLATFORMS"] = "cpu"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_static_arguments_by_position(general_calls):
    traces = []

    def f(x, n, p, mode):
        traces.append((n, mode))
        y = x * n + sum(p.values())
        return -y if mode == "neg" else y

    jf = fn.jit(f, static_argnums=(1, -1))
    x = fnp.arange(3.0)
    p = {"a": fnp.ones(3), "b": fnp.full((3,), 2.0)}
    want = {(2, "pos"): np.arange(3.0) * 2 + 3, (3, "neg"): -(np.arange(3.0) * 3 + 3)}
    for _ in range(3):
        for (n, mode), ref in want.items():
            np.testing.assert_array_equal(np.asarray(jf(x, n, p, mode)), ref)
    assert traces == [(2, "pos"), (3, "neg")]
    assert general_calls[0] == 2  # later calls: the fast path, keyed by the static values
    # The fast path's result is the general path's (other options: their own cache).
    _same(jf(x, 2, p, "pos"), fn.jit(f, static_argnums=(1, 3))(x, 2, p, "pos"))
    with pytest.raises(TypeError, match=r"static argument 3 \(mode\) must be hashable"):
        jf(x, 2, p, ["unhashable"])  # refused by the general path, with the usual error
    # By keyword: the general path, another signature (as jax's), the same values.
    np.testing.assert_array_equal(np.asarray(jf(x, 2, p=p, mode="pos")), want[(2, "pos")])
    assert len(traces) == 4 and general_calls[0] == 5


# --- Python scalars and NumPy arrays among the arguments ---------------------------------


def test_python_scalars_take_the_fast_path_with_their_values(general_calls):
    # a learning rate or a count passed as a Python number: keyed by its (weak) type,
    # its value an argument of the program, not a constant of it
    jf = fn.jit(lambda x, s: x * s)
    x = fnp.arange(3.0)
    outs = [jf(x, s) for s in (0.5, 0.5, 0.25, 2.0)]
    assert general_calls[0] == 1
    for s, out in zip((0.5, 0.5, 0.25, 2.0), outs):
        np.testing.assert_array_equal(np.asarray(out), np.arange(3.0, dtype=np.float32) * s)
        assert out.dtype == np.float32 and not out.weak_type  # weak scalar, strong x
    ref = jax.jit(lambda x, s: x * s)(jnp.arange(3.0), 0.25)
    _same(jf(x, 0.25), ref)


@pytest.mark.parametrize(
    "first, second",
    [(2, 3), (True, False), (np.float32(0.5), np.float32(1.5)), (np.ones(3), np.zeros(3))],
    ids=["int", "bool", "numpy scalar", "numpy array"],
)
def test_other_host_values_equal_the_general_path(first, second, general_calls):
    jf = fn.jit(lambda x, s: x + s)
    x = fnp.ones((3,))
    general = jf(x, first)
    fast = jf(x, first)
    other = jf(x, second)
    assert general_calls[0] == 1
    _same(general, fast)
    _same(other, jax.jit(lambda x, s: x + s)(jnp.ones((3,)), second))


def test_host_values_in_other_call_forms(general_calls):
    jf = fn.jit(lambda s, x, *, scale: (x * s) * scale)
    x = fnp.arange(4.0)
    a, b = jf(0.5, x, scale=3), jf(0.5, x, scale=3)
    c = jf(-1.5, x, scale=2)
    assert general_calls[0] == 1  # scalar first, keywords: the pytree key
    _same(a, b)
    np.testing.assert_array_equal(np.asarray(c), np.arange(4.0, dtype=np.float32) * -3.0)


def test_signed_zero_and_nan_are_not_confused(general_calls):
    jf = fn.jit(lambda x, s: x * s)
    x = fnp.ones((2,))
    pos, neg = jf(x, 0.0), jf(x, -0.0)
    assert not np.signbit(np.asarray(pos)).any() and np.signbit(np.asarray(neg)).all()
    assert not np.signbit(np.asarray(jf(x, 0.0))).any()
    assert np.isnan(np.asarray(jf(x, float("nan")))).all()
    assert np.isnan(np.asarray(jf(x, float("nan")))).all()
    assert general_calls[0] == 1


def test_an_int_out_of_range_fails_as_on_the_general_path():
    jf = fn.jit(lambda x, n: x + n)
    x = fnp.ones((2,), dtype=np.int32)
    jf(x, 1)  # records the fast path for a Python int
    with pytest.raises(OverflowError) as fast_err:
        jf(x, 2**40)
    with pytest.raises(OverflowError) as general_err:
        fn.jit(lambda x, n: x + n)(x, 2**40)
    assert str(fast_err.value) == str(general_err.value)


def test_donated_scalar_positions_are_put_on_the_device_each_call(general_calls):
    jf = fn.jit(lambda x, s: x * s, donate_argnums=(0, 1))
    for _ in range(3):
        out = jf(fnp.full((2,), 2.0), 0.5)
        np.testing.assert_array_equal(np.asarray(out), [1.0, 1.0])
    assert general_calls[0] == 1
