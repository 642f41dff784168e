"""jit's caches belong to the function; every cache of programs is bounded (LRU);
cache_info / clear_cache / clear_caches. No timing here: benchmarks/ measures speed."""

import functools
import gc
import weakref

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.backend import eager
from funcnet.runtime import xla
from funcnet.runtime.cache import CacheInfo, LRUCache, clear_caches
from funcnet.transforms import jit_cache


@pytest.fixture
def small_caches():
    """Bound the jit and eager caches to 8 entries for one test."""
    with fn.config.override(jit_cache_size=8, eager_cache_size=8):
        yield


def _counting(f):
    """f, plus a list that grows by one each time Python runs f (i.e. traces it)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return f(*args, **kwargs)

    return counted, calls


# --- the cache belongs to the function ----------------------------------------------------------


def test_jit_in_a_loop_traces_and_compiles_once():
    f, calls = _counting(lambda x: x * 2 + 1)
    x = fnp.arange(3.0)
    for _ in range(50):
        out = fn.jit(f)(x)
    np.testing.assert_allclose(np.asarray(out), [1, 3, 5])
    assert len(calls) == 1
    info = fn.jit(f).cache_info()
    assert isinstance(info, CacheInfo) and info.misses == 1 and info.currsize == 1


def test_jit_in_a_loop_with_pytrees_kwargs_and_python_scalars():
    f, calls = _counting(lambda p, s=1.0: {k: v * s for k, v in p.items()})
    p = {"a": fnp.ones(2), "b": fnp.zeros(3)}
    for _ in range(5):
        fn.jit(f)(p, s=2.0)
        fn.jit(f)(p)
    assert len(calls) == 2  # with and without the keyword


def test_wrappers_with_other_options_have_their_own_cache():
    f, calls = _counting(lambda x, n: x * n)
    x = fnp.ones(2)
    fn.jit(f, static_argnums=1)(x, 3)
    fn.jit(f, static_argnums=1)(x, 3)
    assert len(calls) == 1
    fn.jit(f, static_argnums=1, donate_argnums=0)(fnp.ones(2), 3)
    assert len(calls) == 2
    np.testing.assert_allclose(np.asarray(fn.jit(f)(x, fnp.asarray(4.0))), [4, 4])
    assert len(calls) == 3


def test_wrapper_trace_count_counts_its_own_traces():
    def f(x):
        return x + 1

    a, b = fn.jit(f), fn.jit(f)
    a(fnp.ones(2))
    b(fnp.ones(2))  # served by a's trace
    assert (a.trace_count, b.trace_count) == (1, 0)
    assert a.cache_info() == b.cache_info()


def test_bound_methods_share_by_object_and_function():
    class Model:
        def __init__(self, scale):
            self.scale = scale

        def apply(self, x):
            calls.append(1)
            return x * self.scale

    calls = []
    m, other = Model(2.0), Model(3.0)
    x = fnp.ones(2)
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(fn.jit(m.apply)(x)), [2, 2])
    assert len(calls) == 1
    np.testing.assert_allclose(np.asarray(fn.jit(other.apply)(x)), [3, 3])  # not shared
    assert len(calls) == 2


def test_partial_of_constants_shares_and_partial_of_arrays_does_not():
    f, calls = _counting(lambda a, x: x * a)
    x = fnp.ones(2)
    for _ in range(3):
        fn.jit(functools.partial(f, 2.0))(x)
    assert len(calls) == 1
    np.testing.assert_allclose(np.asarray(fn.jit(functools.partial(f, 5.0))(x)), [5, 5])
    assert len(calls) == 2
    for v in (1.0, 7.0):  # an array argument: keyed by the partial object itself
        np.testing.assert_allclose(
            np.asarray(fn.jit(functools.partial(f, fnp.asarray(v)))(x)), [v, v]
        )
    assert len(calls) == 4


def test_callable_that_cannot_be_weakly_referenced():
    class Scale:
        __slots__ = ("k",)  # no __weakref__

        def __init__(self, k):
            self.k = k

        def __call__(self, x):
            calls.append(1)
            return x * self.k

    calls = []
    s = Scale(3.0)
    with pytest.raises(TypeError):
        weakref.ref(s)
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(fn.jit(s)(fnp.ones(2))), [3, 3])
    assert len(calls) == 1


def test_dropping_the_function_frees_its_programs():
    def make():
        def f(x):
            return fnp.sin(x) * 3

        return f

    f = make()
    fn.jit(f)(fnp.ones(4))
    (entry,) = fn.jit(f)._fcache.programs.values()
    entry_ref, fun_ref = weakref.ref(entry), weakref.ref(f)
    before = jit_cache.registered_functions()
    del f, entry
    gc.collect()
    assert fun_ref() is None and entry_ref() is None
    assert jit_cache.registered_functions() == before - 1


def test_closure_over_a_tracer_is_not_cached_and_stays_correct():
    def outer(y):
        inner = fn.jit(lambda x: x * y)
        return inner(fnp.ones(2))

    for v in (2.0, 3.0):
        np.testing.assert_allclose(np.asarray(fn.jit(outer)(fnp.asarray(v))), [v, v])


# --- bounds ---------------------------------------------------------------------------------------


def test_jit_cache_is_bounded_and_evicted_signatures_recompile(small_caches):
    f, calls = _counting(lambda x: x.sum() * 2)
    j = fn.jit(f)
    for n in range(1, 21):
        np.testing.assert_allclose(float(j(fnp.ones(n))), 2 * n)
        j(fnp.ones(n))  # a fast-path hit too
        fc = j._fcache
        assert len(fc.programs) <= 8
        assert len(fc.fast) <= 8
    assert len(calls) == 20
    info = j.cache_info()
    assert info.currsize == 8 and info.maxsize == 8 and info.misses == 20
    np.testing.assert_allclose(float(j(fnp.ones(1))), 2)  # evicted: traced again, correct
    assert len(calls) == 21
    np.testing.assert_allclose(float(j(fnp.ones(20))), 40)  # recent: still cached
    assert len(calls) == 21


def test_signature_served_by_the_fast_path_is_not_evicted_as_idle(small_caches):
    f, calls = _counting(lambda x: x * 2)
    j = fn.jit(f)
    hot, other = fnp.ones(1), fnp.ones(2)
    for n in range(3, 30):
        j(hot), j(other)  # alternate: both hit the fast path's dict (not only its memo)
        j(fnp.ones(n))  # one new signature each round
    traced = len(calls)
    j(hot), j(other)
    assert len(calls) == traced == 29  # hot and other were traced once each


def test_lowering_the_bound_trims_at_once():
    f = fn.jit(lambda x: x + 1)
    for n in range(1, 7):
        f(fnp.ones(n))
    assert f.cache_info().currsize == 6
    with fn.config.override(jit_cache_size=2):
        assert f.cache_info().currsize == 2
        assert len(f._fcache.fast) <= 2


def test_eager_cache_is_bounded_and_evicted_programs_recompile(small_caches):
    for n in range(1, 21):
        x = fnp.arange(float(n))
        np.testing.assert_allclose(np.asarray(fnp.sin(x) * 2), np.sin(np.arange(n)) * 2, rtol=1e-6)
        assert eager.cache_size() <= 8 and eager.fast_path_size() <= 8
    assert eager.cache_info().maxsize == 8
    np.testing.assert_allclose(np.asarray(fnp.cos(fnp.arange(1.0))), [1.0])


def test_transfer_signatures_are_bounded(small_caches):
    for n in range(1, 21):
        fnp.asarray(np.ones(n, np.float32))
        assert len(xla._put_signatures) <= 8


def test_staged_jit_executables_are_bounded_and_weak(small_caches):
    from funcnet.transforms import jit as jit_module

    g = fn.jit(lambda x: fnp.sin(x))
    for n in range(1, 21):  # jvp rewrites the jit equation; its program runs eagerly
        out, _ = fn.jvp(g, (fnp.ones(n),), (fnp.ones(n),))
        np.testing.assert_allclose(np.asarray(out), np.sin(np.ones(n)), rtol=1e-6)
        assert len(jit_module._executables) <= 8


def test_lru_cache_order_and_info():
    evicted = []
    c = LRUCache(2, on_evict=lambda k, v: evicted.append(k))
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3)
    assert evicted == ["b"] and "a" in c and c.get("b") is None
    assert c.info() == CacheInfo(hits=1, misses=1, maxsize=2, currsize=2)


def test_cache_size_options_are_checked():
    with pytest.raises(ValueError, match="positive integer"):
        fn.config.jit_cache_size = 0
    with pytest.raises(AttributeError, match="no option"):
        fn.config.update("jit_cache_sizes", 3)


# --- clearing -------------------------------------------------------------------------------------


def test_clear_cache_is_shared_by_wrappers():
    f, calls = _counting(lambda x: x - 1)
    fn.jit(f)(fnp.ones(2))
    fn.jit(f).clear_cache()
    assert fn.jit(f).cache_info().currsize == 0
    np.testing.assert_allclose(np.asarray(fn.jit(f)(fnp.ones(2))), [0, 0])
    assert len(calls) == 2


def _double(x):
    return x * 2


def _halve(x):
    return x / 2


def test_clear_caches_drops_everything_and_work_goes_on():
    f, calls = _counting(lambda c: lax.scan(lambda c, x: (c + x, c), c, fnp.arange(3.0))[0])
    j = fn.jit(f)
    fnp.sin(fnp.ones(3))
    assert float(j(fnp.asarray(1.0))) == 4.0
    assert float(lax.cond(True, _double, _halve, fnp.asarray(3.0))) == 6.0
    from funcnet.lax import control_flow

    assert eager.cache_size() > 0 and len(control_flow._trace_cache) > 0
    clear_caches()
    assert eager.cache_size() == 0 and not eager.fast_path_size()
    assert j.cache_info().currsize == 0 and not j._fcache.fast
    assert len(control_flow._trace_cache) == 0 and len(xla._put_signatures) == 0
    assert float(j(fnp.asarray(1.0))) == 4.0
    assert float(lax.cond(False, _double, _halve, fnp.asarray(3.0))) == 1.5
    assert len(calls) == 2
