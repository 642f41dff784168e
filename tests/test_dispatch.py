"""The dispatch fast paths (jit `__call__`, eager `apply_primitive`, result handlers):
the same answers as the general path for every kind of argument, and clear errors.
No timing here; benchmarks/ measures speed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.backend import eager
from funcnet.core.aval import ShapedArray
from funcnet.runtime import xla


def _np(x):
    return np.asarray(x)


def test_jit_fast_path_positional_repeated_calls():
    f = fn.jit(lambda x, y: x * 2 + y)
    x, y = fnp.asarray(np.float32(1.5)), fnp.asarray(np.float32(3.0))
    for _ in range(4):  # first call: general path; then the fast path
        out = f(x, y)
        assert isinstance(out, fn.Array)
        assert out.shape == () and out.dtype == np.float32 and not out.weak_type
        np.testing.assert_allclose(_np(out), 6.0)
        x = out * 0 + 1.5  # a fresh Array with an equal (not identical) aval
    assert f.trace_count == 1


def test_jit_fast_path_feeds_outputs_back():
    f = fn.jit(lambda x: x + 1)
    x = fnp.zeros((3,), np.float32)
    for _ in range(5):
        x = f(x)
    np.testing.assert_allclose(_np(x), np.full((3,), 5.0))
    assert f.trace_count == 1


def test_jit_fast_path_pytrees_and_kwargs():
    f = fn.jit(lambda p, scale: {k: v * scale for k, v in p.items()})
    p = {f"w{i}": fnp.full((2,), float(i)) for i in range(20)}
    s = fnp.asarray(np.float32(2.0))
    for _ in range(3):
        out = f(p, s)
        assert sorted(out) == sorted(p)
        for k, v in p.items():
            np.testing.assert_allclose(_np(out[k]), 2 * _np(v))
        out = f(p, scale=s)
        np.testing.assert_allclose(_np(out["w3"]), 6.0)
    assert f.trace_count == 2  # positional and keyword calls are different signatures


def test_jit_fast_path_tuple_argument_and_none():
    f = fn.jit(lambda t, n: t[0] + t[1] if n is None else t[0])
    a, b = fnp.ones((2,)), fnp.full((2,), 3.0)
    for _ in range(3):
        np.testing.assert_allclose(_np(f((a, b), None)), 4.0)
    g = fn.jit(lambda t: t[0] * 2)  # a one-element container: not a flat argument
    for _ in range(3):
        np.testing.assert_allclose(_np(g((a,))), 2.0)
        np.testing.assert_allclose(_np(g([b])), 6.0)


def test_jit_fast_path_multiple_outputs_and_weak_types():
    f = fn.jit(lambda x: (x, x * 2, 3.0))
    x = fnp.arange(3.0)
    for _ in range(3):
        _, b, c = f(x)
        np.testing.assert_allclose(_np(b), [0, 2, 4])
        assert c.weak_type and c.shape == ()
        assert _np(c) == 3.0


def test_jit_mixed_argument_kinds_agree():
    f = fn.jit(lambda x, y: x * y)
    x = fnp.arange(4.0)
    ref = np.arange(4.0, dtype=np.float32) * 2
    for y in [fnp.full((4,), 2.0), np.full((4,), 2.0, np.float32), 2.0, jnp.full((4,), 2.0)] * 2:
        np.testing.assert_allclose(_np(f(x, y)), ref)
    np.testing.assert_allclose(_np(f(jnp.arange(4.0), fnp.full((4,), 2.0))), ref)


def test_jit_fast_path_new_shape_retraces():
    f = fn.jit(lambda x: x.sum())
    for n in [2, 3, 2, 3]:
        np.testing.assert_allclose(_np(f(fnp.ones((n,)))), n)
    assert f.trace_count == 2


def test_jit_fast_path_under_transformations_is_not_taken():
    f = fn.jit(lambda x: fnp.sin(x) * 2)
    x = fnp.asarray(np.float32(0.3))
    f(x), f(x)  # fill the fast path
    np.testing.assert_allclose(_np(fn.grad(f)(x)), 2 * np.cos(0.3), rtol=1e-6)
    np.testing.assert_allclose(_np(fn.jit(lambda y: f(y) + 1)(x)), 2 * np.sin(0.3) + 1, rtol=1e-6)


def test_jit_closure_constants():
    c = fnp.arange(3.0)
    k = np.arange(3.0, dtype=np.float32) * 10
    f = fn.jit(lambda x: x + c + k)
    for _ in range(3):
        np.testing.assert_allclose(_np(f(fnp.ones((3,)))), 1 + np.arange(3) * 11)


def test_jit_deleted_argument_error_on_fast_path():
    f = fn.jit(lambda x: x + 1)
    x = fnp.ones((2,))
    f(x), f(x)
    y = fnp.ones((2,))
    y.delete()
    with pytest.raises(RuntimeError, match=r"donated|deleted"):
        f(y)


def test_jit_donation_on_fast_path():
    f = fn.jit(lambda x: x * 2, donate_argnums=0)
    for _ in range(3):
        x = fnp.ones((4,))
        out = f(x)
        np.testing.assert_allclose(_np(out), 2.0)


def test_jit_clear_cache_clears_fast_path():
    f = fn.jit(lambda x: x + 1)
    x = fnp.ones(())
    f(x), f(x)
    f.clear_cache()
    np.testing.assert_allclose(_np(f(x)), 2.0)
    assert f.trace_count == 2


def test_eager_fast_path_matches_and_shares_avals():
    x = fnp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    for _ in range(3):
        y = fnp.tanh(x)
        np.testing.assert_allclose(_np(y), np.tanh(_np(x)), rtol=1e-6)
        z = x @ x.T
        np.testing.assert_allclose(_np(z), _np(x) @ _np(x).T, rtol=1e-6)
    assert fnp.tanh(x).aval is fnp.tanh(x).aval  # out avals are cached, not rebuilt


def test_eager_fast_path_deleted_argument():
    x = fnp.ones((3,))
    fnp.sin(x), fnp.sin(x)
    y = fnp.ones((3,))
    y.delete()
    with pytest.raises(RuntimeError, match=r"donated|deleted"):
        fnp.sin(y)


def test_eager_multiple_results():
    x = fnp.asarray(np.array([3.0, 1.0, 2.0], np.float32))
    for _ in range(3):
        np.testing.assert_allclose(_np(fnp.sort(x)), [1, 2, 3])
    assert eager.cache_size() > 0


def test_executable_result_handlers_match_general_path():
    x = fnp.asarray(np.float32(2.0))
    exe = fn.jit(lambda a: (a + 1, a.astype(np.int32))).lower(x).compile()._exe
    first = exe.execute([x.buffer])  # general path; learns the handlers
    assert exe.dispatch_parts() is not None
    second = exe.execute([x.buffer])  # result handlers
    for a, b in zip(first, second):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert isinstance(b, jax.Array)


def test_shaped_array_hash_is_cached_and_consistent():
    a = ShapedArray((2, 3), np.float32)
    b = ShapedArray([2, 3], "float32")
    assert a == b and hash(a) == hash(b)
    assert a != ShapedArray((2, 3), np.float32, weak_type=True)
    assert {a: 1}[b] == 1
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(a)) == a and hash(copy.deepcopy(a)) == hash(a)


def test_single_device_flag_is_a_bool():
    assert isinstance(xla.single_device(), bool)
