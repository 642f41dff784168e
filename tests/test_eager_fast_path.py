"""funcnet.numpy's per-signature eager fast paths (funcnet/numpy/_fast.py).

A signature's first call records the general path; later calls replay its one program.
These tests check that the replay gives what the general path gives (values bit for bit,
dtypes, weak types) and what NumPy computes, that it is actually taken, and that it steps
aside for tracers, fused eager mode, sharded arrays, x64 changes, debug_nans, deleted
buffers and NumPy/Python inputs.
"""

import threading

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.backend import eager
from funcnet.core import trace as core_trace
from funcnet.core.array import Array, ShardedArray
from funcnet.numpy import _fast

SHAPES = [(8, 8), (100,)]

# name -> (funcnet op, NumPy reference); b is a second array of the same shape.
OPS = {
    "add": (lambda m, a, b: m.add(a, b), None),
    "a+b": (lambda m, a, b: a + b, None),
    "a-b": (lambda m, a, b: a - b, None),
    "a*2.0": (lambda m, a, b: a * 2.0, None),
    "2.0*a": (lambda m, a, b: 2.0 * a, None),
    "a-1": (lambda m, a, b: a - 1, None),
    "1-a": (lambda m, a, b: 1 - a, None),
    "a/3.0": (lambda m, a, b: a / 3.0, None),
    "3.0/b": (lambda m, a, b: 3.0 / b, None),
    "maximum(a,0.0)": (lambda m, a, b: m.maximum(a, 0.0), None),
    "minimum(a,b)": (lambda m, a, b: m.minimum(a, b), None),
    "tanh": (lambda m, a, b: m.tanh(a), None),
    "exp": (lambda m, a, b: m.exp(a), None),
    "a@b": (lambda m, a, b: a @ (b.T if a.ndim == 2 else b), None),
    "matmul": (lambda m, a, b: m.matmul(a, b.T if a.ndim == 2 else b), None),
    "a.sum()": (lambda m, a, b: a.sum(), None),
    "sum(a,0)": (lambda m, a, b: m.sum(a, 0), None),
    "sum(a,-1,keepdims)": (lambda m, a, b: m.sum(a, axis=-1, keepdims=True), None),
    "a[1]": (lambda m, a, b: a[1], None),
    "a[-1]": (lambda m, a, b: a[-1], None),
    "a[2:5]": (lambda m, a, b: a[2:5], None),
    "a[::-2]": (lambda m, a, b: a[::-2], None),
}
# Their general path runs two primitives (a reduction, then a reshape): not replayed.
NOT_REPLAYED = {"sum(a,-1,keepdims)"}


def _inputs(shape, dtype=np.float32, seed=0):
    rng = np.random.RandomState(seed)
    a = rng.randn(*shape).astype(dtype)
    b = (rng.rand(*shape) + 0.5).astype(dtype)  # no zeros (3.0 / b)
    return a, b


def _general(op, a, b):
    """The general path's result: every fast path off."""
    core_trace.block_eager_fast_paths(True)
    try:
        return op(fnp, a, b)
    finally:
        core_trace.block_eager_fast_paths(False)


def _same(x, y):
    assert type(x) is Array and type(y) is Array
    assert x.dtype == y.dtype and x.shape == y.shape
    assert x.aval.weak_type == y.aval.weak_type
    np.testing.assert_array_equal(
        np.asarray(x).reshape(-1).view(np.uint8), np.asarray(y).reshape(-1).view(np.uint8)
    )


@pytest.fixture(autouse=True)
def _fresh():
    _fast.clear()
    yield
    _fast.clear()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(OPS))
def test_fast_path_matches_general_path_and_numpy(name, shape):
    op = OPS[name][0]
    a_np, b_np = _inputs(shape)
    a, b = fnp.asarray(a_np), fnp.asarray(b_np)
    before = _fast.size()
    first = op(fnp, a, b)  # records the signature
    recorded = 0 if name in NOT_REPLAYED else 1
    assert _fast.size() == before + recorded, "the signature was (not) recorded"
    fast = op(fnp, a, b)  # replays it
    _same(fast, _general(op, a, b))
    _same(fast, first)
    expected = op(np, a_np, b_np)
    np.testing.assert_allclose(np.asarray(fast), expected, rtol=2e-6, atol=1e-5)
    assert fast.dtype == np.asarray(expected).dtype


def test_fast_path_is_taken(monkeypatch):
    a, b = fnp.asarray(_inputs((8, 8))[0]), fnp.asarray(_inputs((8, 8))[1])
    ops = [
        lambda: a + b,
        lambda: a * 2.0,
        lambda: fnp.tanh(a),
        lambda: a @ b,
        lambda: a.sum(),
        lambda: a[1],
        lambda: a[2:5],
    ]
    expected = [np.asarray(op()) for op in ops]  # record

    def no_bind(prim, *args, **params):
        raise AssertionError(f"{prim} went through bind")

    monkeypatch.setattr(core_trace, "_default_impl", no_bind)
    for op, want in zip(ops, expected):
        np.testing.assert_array_equal(np.asarray(op()), want)
    # Without the fast paths the same calls reach bind.
    core_trace.block_eager_fast_paths(True)
    try:
        with pytest.raises(AssertionError, match="through bind"):
            fnp.tanh(a)
    finally:
        core_trace.block_eager_fast_paths(False)


def test_weak_types_and_promotion_are_the_general_paths():
    import jax.numpy as jnp

    values = {
        "weak": np.float32(2.0),
        "ints": np.arange(6, dtype=np.int32),
        "halves": np.full(6, 0.5, np.float16),
        "bools": np.array([True, False, True]),
    }
    ops = [
        lambda m, v: v["weak"] * 3.0,
        lambda m, v: v["weak"] + v["weak"],
        lambda m, v: v["ints"] * 2,
        lambda m, v: v["ints"] * 2.5,
        lambda m, v: v["halves"] + 1.0,
        lambda m, v: v["halves"] * v["weak"],
        lambda m, v: v["bools"] + v["bools"],
        lambda m, v: m.tanh(v["ints"]),
        lambda m, v: v["ints"].sum(),
    ]
    ours = {k: fnp.asarray(2.0) if k == "weak" else fnp.asarray(x) for k, x in values.items()}
    theirs = {k: jnp.asarray(2.0) if k == "weak" else jnp.asarray(x) for k, x in values.items()}
    for op in ops:
        results = [op(fnp, ours), op(fnp, ours), op(fnp, ours)]
        general = _general(lambda m, a, b, op=op: op(fnp, ours), None, None)
        reference = op(jnp, theirs)
        for r in results:
            _same(r, general)
            assert r.dtype == reference.dtype and r.aval.weak_type == reference.weak_type
            np.testing.assert_array_equal(np.asarray(r), np.asarray(reference))


def test_python_scalar_constants_per_value():
    a = fnp.asarray(np.array([1.0, -2.0, 3.0], np.float32))
    for v in [2.0, 3.0, 2.0, -0.0, 0.0, -0.0, float("inf"), float("nan"), 1e300, 7, True]:
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 -> inf, as NumPy
            out = np.asarray(a * v)
            want = np.asarray(a) * np.float32(v)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(want))
    # Integers out of the array's range raise as in the general path.
    i8 = fnp.asarray(np.array([1, 2], np.int8))
    np.asarray(i8 + 1)
    with pytest.raises(OverflowError):
        i8 + 1000


def test_steps_aside_for_tracers():
    a_np, b_np = _inputs((8, 8))
    a, b = fnp.asarray(a_np), fnp.asarray(b_np)

    def f(x):
        return (fnp.tanh(x) * 2.0 + x @ b).sum()

    eager_value = f(a)
    f(a)  # fast now
    np.testing.assert_allclose(fn.jit(f)(a), eager_value, rtol=1e-5)
    grad = fn.grad(f)(a)
    want = (1 - np.tanh(a_np) ** 2) * 2.0 + b_np.sum(1)[None, :]
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-4, atol=1e-4)
    rows = fn.vmap(lambda r: fnp.tanh(r) * 2.0)(a)
    np.testing.assert_allclose(np.asarray(rows), np.tanh(a_np) * 2.0, rtol=1e-6)
    # An Array closed over by a traced function is staged, not computed now.
    jaxpr = str(fn.make_jaxpr(lambda x: a * 2.0 + x)(b))
    assert "mul" in jaxpr


def test_flag_follows_the_trace_stack_in_every_thread():
    assert core_trace.eager_fast
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def tracer_thread():
        def f(x):
            inside.set()
            release.wait(10)
            return x * 2.0

        fn.jit(f)(fnp.ones(3))

    t = threading.Thread(target=tracer_thread)
    t.start()
    inside.wait(10)
    seen["while tracing"] = core_trace.eager_fast
    x = fnp.ones(3)
    np.testing.assert_array_equal(np.asarray(x * 2.0), [2.0, 2.0, 2.0])  # general path
    release.set()
    t.join(10)
    assert seen["while tracing"] is False
    assert core_trace.eager_fast


def test_steps_aside_in_fused_eager_mode():
    a = fnp.asarray(_inputs((8, 8))[0])
    a * 2.0
    a * 2.0  # fast now
    with fn.fused_eager():
        y = a * 2.0
        assert type(y) is not Array  # recorded lazily, not run by the fast path
    np.testing.assert_array_equal(np.asarray(y), np.asarray(a) * 2.0)


def test_steps_aside_for_sharded_and_numpy_inputs():
    from funcnet.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(fn.devices()[:1]), ("x",))
    x_np = np.arange(8.0, dtype=np.float32)
    x = fn.device_put(x_np, NamedSharding(mesh, PartitionSpec("x")))
    assert type(x) is ShardedArray
    for _ in range(2):
        y = x * 2.0 + x
        assert type(y) is ShardedArray
        np.testing.assert_array_equal(np.asarray(y), x_np * 3.0)
    assert _fast.size() == 0
    a = fnp.asarray(x_np)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(fnp.add(x_np, a)), x_np * 2)
        np.testing.assert_array_equal(np.asarray(a + np.float32(1)), x_np + 1)
        np.testing.assert_allclose(np.asarray(fnp.tanh(x_np)), np.tanh(x_np), rtol=1e-6)
    with pytest.raises(TypeError, match="add requires ndarray or scalar"):
        fnp.add(a, [1.0] * 8)
    with pytest.raises(TypeError):
        a + [1.0] * 8


def test_x64_change_clears_and_keeps_semantics():
    a = fnp.asarray(np.arange(4, dtype=np.int32))
    a * 2
    a * 2
    assert _fast.size() > 0
    with fn.enable_x64():
        assert _fast.size() == 0
        big = fnp.asarray(np.arange(4, dtype=np.int64))
        for _ in range(2):
            y = big * 2**40
            assert y.dtype == np.int64
            np.testing.assert_array_equal(np.asarray(y), np.arange(4) * 2**40)
            z = fnp.tanh(fnp.asarray(np.ones(2)))
            assert z.dtype == np.float64
    for _ in range(2):
        assert (a * 2).dtype == np.int32


def test_debug_nans_still_checks_eager_results():
    inf = fnp.asarray(np.array([np.inf, 1.0], np.float32))
    np.asarray(inf - inf)
    np.asarray(inf - inf)  # fast now
    nan_error = pytest.raises(FloatingPointError, match=r"invalid value \(nan\) encountered in sub")
    with fn.debug_nans(), nan_error:
        inf - inf
    np.asarray(inf - inf)


def test_deleted_argument_raises_the_general_paths_error():
    a, b = fnp.ones(4), fnp.ones(4)
    a + b
    a + b
    a.delete()
    with pytest.raises(RuntimeError, match=r"donated|deleted"):
        a + b


def test_matmul_vector_operands_one_contraction():
    rng = np.random.RandomState(3)
    cases = [((5,), (5,)), ((5,), (5, 3)), ((4, 5), (5,)), ((2, 4, 5), (5,)), ((5,), (2, 5, 3))]
    for sa, sb in cases:
        a_np, b_np = rng.randn(*sa).astype(np.float32), rng.randn(*sb).astype(np.float32)
        out = fnp.matmul(fnp.asarray(a_np), fnp.asarray(b_np))
        np.testing.assert_allclose(np.asarray(out), a_np @ b_np, rtol=1e-5, atol=1e-5)
        jaxpr = str(fn.make_jaxpr(fnp.matmul)(a_np, b_np))
        assert jaxpr.count("dot_general") == 1 and "reshape" not in jaxpr
    with pytest.raises(TypeError, match=r"shapes \(5,\) and \(4,\) are not aligned"):
        fnp.matmul(fnp.ones(5), fnp.ones(4))


def test_fast_path_size_is_bounded(monkeypatch):
    monkeypatch.setattr(_fast, "MAX_SIGNATURES", 4)
    for n in range(1, 10):
        fnp.tanh(fnp.ones(n))
    assert 0 < len(fnp.tanh.fast_table) <= 4
    assert eager.cache_size() > 0


def test_one_array_as_both_operands_has_its_own_signature():
    x, y = fnp.asarray(np.float32(3.0)), fnp.asarray(np.float32(4.0))
    for _ in range(2):
        assert float(x * x) == 9.0 and float(y * y) == 16.0
        assert float(x * y) == 12.0 and float(y - x) == 1.0 and float(x - x) == 0.0
        assert float(fnp.multiply(y, x)) == 12.0
    assert float(fnp.hypot(3.0, 4.0)) == 5.0


def test_getitem_fast_path_only_for_static_ints_and_slices():
    x_np = np.arange(24, dtype=np.float32).reshape(4, 6)
    x = fnp.asarray(x_np)
    mask = np.array([True, False, True, False])
    for _ in range(2):
        for idx in [0, 3, -4, slice(1, 3), slice(None, None, -1), (1, 2), mask, np.int32(2)]:
            np.testing.assert_array_equal(np.asarray(x[idx]), x_np[idx])
        np.testing.assert_array_equal(np.asarray(x[fnp.asarray(2)]), x_np[2])
        with pytest.raises(TypeError):
            x[1.0]
        with pytest.raises(TypeError):
            x[1.0:3]
    # x[True] is NumPy's new axis, not x[1]
    assert x[True].shape == (1, 4, 6) and x[1].shape == (6,)
