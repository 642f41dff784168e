"""jit: pytrees, static and donated arguments, the compilation cache, cache-miss
explanations, nested jit, closures, lowering/compiling, and eager == jit numerics."""

import logging

import jax
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp


def arr(x, dtype=np.float32):
    return fn.asarray(np.asarray(x, dtype))


def assert_tree_equal(got, expected):
    got_leaves, got_tree = fn.tree.tree_flatten(got)
    exp_leaves, exp_tree = fn.tree.tree_flatten(expected)
    assert got_tree == exp_tree
    for g, e in zip(got_leaves, exp_leaves):
        assert isinstance(g, fn.Array)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(e))


# --- pytrees in and out ------------------------------------------------------------------


def test_pytrees_in_and_out():
    def f(d, pair, seq):
        return {
            "sum": d["a"] + pair[0],
            "nested": ((d["b"]["c"] * 2.0, [seq[0] - seq[1]]), None),
            "none": None,
        }

    args = (
        {"a": arr([1, 2]), "b": {"c": arr(3)}, "skip": None},
        (arr([10, 20]), None),
        [arr([5, 6]), arr([1, 1])],
    )
    out = fn.jit(f)(*args)
    expected = {
        "sum": np.array([11, 22]),
        "nested": ((6.0, [np.array([4, 5])]), None),
        "none": None,
    }
    assert_tree_equal(out, expected)


def test_keyword_arguments_and_defaults():
    def f(x, *, scale=2.0, shift=None):
        y = x * scale
        return y if shift is None else y + shift

    g = fn.jit(f)
    np.testing.assert_array_equal(np.asarray(g(arr([1, 2]))), [2, 4])
    np.testing.assert_array_equal(np.asarray(g(arr([1, 2]), scale=arr(3))), [3, 6])
    np.testing.assert_array_equal(np.asarray(g(arr([1, 2]), shift=arr(1), scale=1.0)), [2, 3])


def test_numpy_and_python_scalar_inputs():
    f = fn.jit(lambda x, y, z: x * y + z)
    out = f(np.arange(3, dtype=np.float32), 2.0, 1)
    assert out.dtype == np.float32 and not out.weak_type
    np.testing.assert_array_equal(np.asarray(out), [1, 3, 5])
    assert fn.jit(lambda x: x * 2)(3).dtype == np.int32


def test_outputs_that_are_inputs_or_literals():
    x = arr([1, 2])
    same, lit, none = fn.jit(lambda x: (x, 1.5, None))(x)
    np.testing.assert_array_equal(np.asarray(same), [1, 2])
    assert lit.weak_type and float(lit) == 1.5 and none is None
    assert fn.jit(lambda: fnp.ones(2))().shape == (2,)


def test_dtypes_round_trip():
    for dt in (np.int8, np.uint8, np.int32, np.bool_, np.float16, fnp.bfloat16):
        x = np.array([1, 0, 1]).astype(dt)
        out = fn.jit(lambda v: v)(x)
        assert out.dtype == np.dtype(dt)
        np.testing.assert_array_equal(np.asarray(out), x)


def test_decorator_forms_and_methods():
    @fn.jit
    def double(x):
        return x * 2

    @fn.jit(static_argnums=1)
    def power(x, n):
        return x**n

    class Scaler:
        @fn.jit
        def __call__(x):  # a staticmethod-like function stored on a class
            return x + 1

    np.testing.assert_array_equal(np.asarray(double(arr([1]))), [2])
    np.testing.assert_array_equal(np.asarray(power(arr([2]), 3)), [8])
    assert double.__name__ == "double" and double.__wrapped__ is not None
    assert Scaler.__call__(arr(1)) == 2


# --- static arguments ----------------------------------------------------------------------


def test_static_argnums_retrace_per_value():
    f = fn.jit(lambda x, n: x * n, static_argnums=1)
    x = arr([1, 2])
    np.testing.assert_array_equal(np.asarray(f(x, 3)), [3, 6])
    f(x, 3)
    assert f.trace_count == 1
    np.testing.assert_array_equal(np.asarray(f(x, 4)), [4, 8])
    assert f.trace_count == 2
    f(x, 3)  # the first compilation is still cached
    assert f.trace_count == 2


def test_static_argnums_negative():
    def f(x, y, mode):
        return x + y if mode == "add" else x - y

    g = fn.jit(f, static_argnums=-1)
    x, y = arr([5]), arr([2])
    assert float(g(x, y, "add")[0]) == 7 and float(g(x, y, "sub")[0]) == 3
    assert g.trace_count == 2
    # The negative index counts from the end of the signature, so passing the static
    # argument by keyword is the same argument.
    assert float(g(x, y, mode="sub")[0]) == 3


def test_static_argnames_by_name_and_by_position():
    def f(x, n=2):
        return x**n

    g = fn.jit(f, static_argnames="n")
    x = arr([2])
    assert float(g(x, n=3)[0]) == 8
    assert float(g(x, 3)[0]) == 8  # given by position, still static (a Python int)
    assert float(g(x)[0]) == 4  # the default
    jaxpr = fn.make_jaxpr(lambda x: g(x, 3))(x)
    # n was a compile-time constant: the inner program takes only x.
    assert len(jaxpr.eqns[0].params["jaxpr"].in_avals) == 1


def test_static_argument_may_be_any_hashable_value():
    f = fn.jit(lambda x, cfg: x * cfg[1]["k"] if False else x * dict(cfg)["k"], static_argnums=1)
    assert float(f(arr(2), (("k", 5),))) == 10


def test_unhashable_static_argument_is_a_clear_error():
    f = fn.jit(lambda x, shape: x.reshape(shape), static_argnums=1)
    with pytest.raises(TypeError, match=r"static argument 1 \(shape\) must be hashable.*list"):
        f(arr(np.ones(6)), [2, 3])
    g = fn.jit(lambda x, opts: x, static_argnames="opts")
    with pytest.raises(TypeError, match=r"static argument 'opts' must be hashable.*dict"):
        g(arr(1), opts={"a": 1})


def test_bad_static_argnames_is_reported_at_jit_time():
    with pytest.raises(ValueError, match="'m' is not a parameter"):
        fn.jit(lambda x, n: x, static_argnames="m")


# --- donation ---------------------------------------------------------------------------------


def test_donated_buffer_is_deleted_and_result_is_correct():
    update = fn.jit(lambda p, g: p - 0.5 * g, donate_argnums=0)
    p, g = arr([1, 2, 3, 4]), arr([2, 2, 2, 2])
    new = update(p, g)
    np.testing.assert_array_equal(np.asarray(new), [0, 1, 2, 3])
    assert p.is_deleted() and not g.is_deleted() and not new.is_deleted()
    with pytest.raises(RuntimeError, match="donated"):
        np.asarray(p)
    with pytest.raises(RuntimeError, match="donated"):
        p.block_until_ready()
    assert "deleted" in repr(p)
    # Using it in another computation also fails with a Python exception.
    with pytest.raises(RuntimeError, match=r"deleted|donated"):
        p + 1
    with pytest.raises(RuntimeError, match=r"deleted|donated"):
        update(p, g)
    # The output lives on: feed it back in a loop.
    for _ in range(3):
        new = update(new, g)
    np.testing.assert_array_equal(np.asarray(new), [-3, -2, -1, 0])


def test_donated_buffer_error_mentions_donation_on_the_general_paths():
    p = arr(np.ones((1, 13)))
    fn.jit(lambda p: p * 2, donate_argnums=0)(p)
    with pytest.raises(RuntimeError, match="donated"):
        fn.jit(lambda a: a + 1)(p)  # a fresh function: not the cached fast path
    with pytest.raises(RuntimeError, match="donated"):
        fnp.cos(p)


def test_donated_pytree_and_static_arguments():
    def sgd(lr, params, grads):
        return fn.tree.tree_map(lambda p, g: p - lr * g, params, grads)

    step = fn.jit(sgd, static_argnums=0, donate_argnums=1)
    params = {"w": arr(np.ones((2, 2))), "b": arr([0, 0])}
    grads = {"w": arr(np.ones((2, 2))), "b": arr([1, 1])}
    new = step(0.5, params, grads)
    assert params["w"].is_deleted() and params["b"].is_deleted()
    assert not grads["w"].is_deleted()
    assert_tree_equal(new, {"w": np.full((2, 2), 0.5), "b": np.array([-0.5, -0.5])})


def test_donation_without_a_matching_output_keeps_the_buffer():
    x = arr([1, 2, 3])
    total = fn.jit(lambda x: x.sum(), donate_argnums=0)(x)
    assert float(total) == 6 and not x.is_deleted()


# --- caching ---------------------------------------------------------------------------------


def test_one_trace_per_signature():
    f = fn.jit(lambda x: x * 2)
    for _ in range(3):
        f(arr([1, 2, 3]))
    assert f.trace_count == 1
    f(arr([1, 2]))  # new shape
    f(arr([1, 2], np.int32))  # new dtype
    f(arr([1, 2]))  # seen
    assert f.trace_count == 3
    f(np.ones(2, np.float32))  # a NumPy array has the same signature as an Array
    assert f.trace_count == 3


def test_weak_python_scalar_and_float32_array_are_different_signatures():
    f = fn.jit(lambda x: x + 1)
    f(1.0)
    f(2.0)
    assert f.trace_count == 1
    f(arr(1.0))  # f32[] is not the weakly typed Python float
    assert f.trace_count == 2
    f(np.float32(1.0))  # a NumPy scalar is a strongly typed f32[]
    assert f.trace_count == 2
    ident = fn.jit(lambda x: x)
    assert ident(1.0).weak_type and not ident(arr(1.0)).weak_type


def test_tree_structure_is_part_of_the_signature():
    f = fn.jit(lambda t: fn.tree.tree_leaves(t)[0] * 1)
    f((arr(1), arr(2)))
    f([arr(1), arr(2)])
    f({"a": arr(1), "b": arr(2)})
    f((arr(1), arr(2)))
    assert f.trace_count == 3


def test_clear_cache_retraces():
    f = fn.jit(lambda x: x)
    f(arr(1))
    f.clear_cache()
    f(arr(1))
    assert f.trace_count == 2


def test_explain_cache_misses(caplog, monkeypatch):
    monkeypatch.setattr(fn.config, "explain_cache_misses", True)

    def loss(params, x, n):
        return params["w"] * x * n

    f = fn.jit(loss, static_argnums=2)
    with caplog.at_level(logging.WARNING, logger="funcnet.jit"):
        f({"w": arr(np.ones(3))}, arr(np.ones(3)), 2)
        f({"w": arr(np.ones(3))}, arr(np.ones(3)), 2)  # hit: no message
        f({"w": arr(np.ones(3))}, arr(np.ones(1)), 2)
        f({"w": arr(np.ones(4))}, 1.0, 2)
        f({"w": arr(np.ones(4))}, 1.0, 5)
        f({"w": arr(1), "extra": arr(2)}, 1.0, 5)
    messages = [r.getMessage() for r in caplog.records if r.name == "funcnet.jit"]
    assert len(messages) == 5
    assert "jit(loss): tracing for the first time" in messages[0]
    assert "argument x (argument 1) changed from f32[3] to f32[1]" in messages[1]
    assert (
        "argument params['w'] (argument 0) changed from f32[3] to f32[4]; argument x "
        "(argument 1) changed from f32[1] to f32[] (weak-typed" in messages[2]
    )
    assert "static argument 2 changed from 2 to 5" in messages[3]
    assert "tree structure changed" in messages[4]


def test_no_cache_miss_logging_by_default(caplog):
    f = fn.jit(lambda x: x)
    with caplog.at_level(logging.DEBUG, logger="funcnet.jit"):
        f(arr(1))
        f(arr([1]))
    assert not [r for r in caplog.records if r.name == "funcnet.jit"]


# --- nested jit and closures --------------------------------------------------------------------


def test_nested_jit():
    inner = fn.jit(lambda x: fnp.sin(x) * 2.0)
    outer = fn.jit(lambda x: inner(x) + inner(x * 2.0))
    x = arr([0.1, 0.2, 0.3])
    expected = np.sin(np.asarray(x)) * 2 + np.sin(np.asarray(x) * 2) * 2
    np.testing.assert_allclose(np.asarray(outer(x)), expected, rtol=1e-6)
    assert inner.trace_count == 1  # traced once, for f32[3]
    jaxpr = fn.make_jaxpr(lambda x: inner(x) + 1.0)(x)
    assert jaxpr.eqns[0].primitive.name == "jit"
    assert jaxpr.eqns[0].params["name"] == "<lambda>"


def test_jit_of_a_closure_over_an_array_makes_a_constvar():
    c = arr([1, 2, 3])

    def f(x):
        return x * c

    jaxpr = fn.make_jaxpr(f)(arr([1, 1, 1]))
    assert len(jaxpr.jaxpr.constvars) == 1 and jaxpr.consts[0] is c
    g = fn.jit(f)
    np.testing.assert_array_equal(np.asarray(g(arr([2, 2, 2]))), [2, 4, 6])
    text = g.lower(arr([2, 2, 2])).as_text()
    assert "@main(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>)" in text


def test_nested_jit_closing_over_an_outer_tracer():
    def outer(x):
        inner = fn.jit(lambda y: y * x)  # closes over the outer tracer
        return inner(arr([1, 2]))

    out = fn.jit(outer)(arr(3))
    np.testing.assert_array_equal(np.asarray(out), [3, 6])


# --- lower, compile, eval_shape ------------------------------------------------------------------


def test_lower_and_compile():
    f = fn.jit(lambda x, y: fnp.tanh(x @ y).sum())
    x, y = arr(np.ones((2, 3))), arr(np.ones((3, 4)))
    lowered = f.lower(x, y)
    text = lowered.as_text()
    assert text.startswith("module @_lambda_") and "stablehlo.dot_general" in text
    assert "{ lambda ; a:f32[2,3] b:f32[3,4]. let" in str(lowered.jaxpr)
    compiled = lowered.compile()
    hlo = compiled.as_text()
    assert "HloModule" in hlo and "ENTRY" in hlo
    assert compiled.memory_analysis() is not None
    np.testing.assert_allclose(float(compiled(x, y)), 8 * np.tanh(3.0), rtol=1e-6)
    assert f.trace_count == 1  # lower, compile and the call share one trace


def test_eval_shape():
    out = fn.eval_shape(
        lambda x, w: {"y": x @ w, "n": x.sum()}, fnp.ones((2, 3)), np.ones((3, 5), np.float32)
    )
    assert out["y"].shape == (2, 5) and out["y"].dtype == np.float32
    assert out["n"].shape == ()
    j = fn.jit(lambda x: x.astype(fnp.int32))
    assert j.eval_shape(fnp.ones(4)).dtype == np.int32


# --- eager and jit agree -------------------------------------------------------------------------
# XLA does not promise the same bits for a fused program as for its ops run one at a
# time (a reduction's order depends on the CPU's vector width, a multiply-add may be
# contracted): floating-point results agree to a few ulps; integer arithmetic and pure
# data movement agree exactly.

_rng = np.random.default_rng(0)
_X = _rng.standard_normal((8, 16)).astype(np.float32)
_W = _rng.standard_normal((16, 4)).astype(np.float32)

_SAME_NUMERICS = {
    "mlp": lambda x, w: fnp.tanh(x @ w) * 2.0 + 1.0,
    "unary_chain": lambda x, w: fnp.log1p(fnp.abs(x)) - fnp.sqrt(fnp.abs(x)),
    "exp_of_neg": lambda x, w: fnp.exp(-x) / (1.0 + fnp.exp(x)),
    "sum_of_squares": lambda x, w: (x * x).sum(),
    "integer_ops": lambda x, w: (x * 10).astype(fnp.int32) // 3 % 5,
    "shape_ops": lambda x, w: fnp.concatenate([x.T[:4], w.T], axis=1).reshape(-1)[::3],
}
_EXACT = {"integer_ops", "shape_ops"}  # no floating-point rounding involved


@pytest.mark.parametrize("name", sorted(_SAME_NUMERICS))
def test_eager_and_jit_agree(name):
    f = _SAME_NUMERICS[name]
    x, w = fn.asarray(_X), fn.asarray(_W)
    eager = np.asarray(f(x, w))
    jitted = np.asarray(fn.jit(f)(x, w))
    assert eager.dtype == jitted.dtype and eager.shape == jitted.shape
    if name in _EXACT:
        np.testing.assert_array_equal(jitted, eager)
    else:  # a few ulps of float32, relative to the values' scale
        eps = float(np.finfo(eager.dtype).eps)
        np.testing.assert_allclose(
            jitted, eager, rtol=16 * eps, atol=16 * eps * float(np.abs(eager).max())
        )


def test_fused_multiply_add_matches_jax():
    # Inside one program XLA may contract `x * y - z` into a fused multiply-add, which
    # rounds once instead of twice: jit can then differ from eager (one op at a time)
    # in the last bit, as in jax. Single IEEE operations (eager mul, then sub) are
    # correctly rounded, so funcnet's eager ops match jax's eager ops exactly; the jitted
    # programs match to an ulp (whether XLA contracts is its choice per program).
    jax = pytest.importorskip("jax")
    x, y, z = (_rng.standard_normal((4, 16)).astype(np.float32) for _ in range(3))

    def f(x, y, z):
        return x * y - z

    ours_jit = np.asarray(fn.jit(f)(*map(fn.asarray, (x, y, z))))
    ours_eager = np.asarray(f(*map(fn.asarray, (x, y, z))))
    eps = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(
        ours_jit, np.asarray(jax.jit(f)(x, y, z)), rtol=2 * eps, atol=8 * eps
    )
    jx = [jax.numpy.asarray(v) for v in (x, y, z)]
    np.testing.assert_array_equal(ours_eager, np.asarray(f(*jx)))
    np.testing.assert_allclose(ours_jit, ours_eager, rtol=1e-6, atol=1e-6)


# --- disable_jit ----------------------------------------------------------------------------------


def test_disable_jit_runs_the_python_function_eagerly():
    from funcnet.config import disable_jit

    seen = []

    @fn.jit
    def f(x):
        seen.append(type(x).__name__)
        if float(x.sum()) > 0:  # Python control flow on a value: needs concrete arrays
            return x * 2
        return x

    x = arr([1, 2])
    with disable_jit():
        np.testing.assert_array_equal(np.asarray(f(x)), [2, 4])
        np.testing.assert_array_equal(np.asarray(f(-x)), [-1, -2])
        assert seen == ["Array", "Array"]
        g = fn.grad(lambda x: f(x).sum())(x)  # under grad: no jit equation either
        np.testing.assert_array_equal(np.asarray(g), [2, 2])
        assert f.trace_count == 0
    assert not fn.config.disable_jit
    with pytest.raises(fn.ConcretizationError):
        f(x)  # traced again: the Python `if` on a traced value


def test_disable_jit_option_and_static_arguments():
    f = fn.jit(lambda x, n: x * n, static_argnums=1)
    x = arr([1, 2])
    f(x, 3), f(x, 3)  # fill the fast path and the cache
    fn.config.disable_jit = True
    try:
        out = f(x, 4)
        assert isinstance(out, fn.Array)
        np.testing.assert_array_equal(np.asarray(out), [4, 8])
        assert f.trace_count == 1
    finally:
        fn.config.disable_jit = False
    np.testing.assert_array_equal(np.asarray(f(x, 4)), [4, 8])
    assert f.trace_count == 2


def test_disable_jit_evaluates_staged_jit_equations_op_by_op():
    from funcnet.config import disable_jit

    inner = fn.jit(lambda x: fnp.sin(x) * 2)
    x = arr([0.1, 0.2])
    want_out, want_t = fn.jvp(inner, (x,), (fnp.ones(2),))
    with disable_jit():
        out, t = fn.jvp(inner, (x,), (fnp.ones(2),))
    np.testing.assert_allclose(np.asarray(out), np.asarray(want_out), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(t), np.asarray(want_t), rtol=1e-6)


# --- list arguments ------------------------------------------------------------------------------


def test_list_argument_is_a_pytree_of_leaves():
    f = fn.jit(lambda xs: xs[0] + xs[1] * 2)
    np.testing.assert_array_equal(np.asarray(f([arr([1, 2]), 3.0])), [7, 8])
    with pytest.raises(TypeError) as info:
        fn.jit(lambda xs: xs[0])([arr([1]), "a"])
    msg = str(info.value)
    assert "xs[1] (argument 0)" in msg and "str" in msg and "asarray" not in msg


def test_compiled_refuses_other_signatures_as_jax():
    f = fn.jit(lambda x, n: x * n, static_argnums=1)
    compiled = f.lower(fnp.ones(3), 2).compile()
    np.testing.assert_allclose(compiled(fnp.arange(3.0), 2), [0.0, 2.0, 4.0])
    with pytest.raises(TypeError, match=r"f32\[4\].*compiled for \(f32\[3\]\)"):
        compiled(fnp.ones(4), 2)
    with pytest.raises(TypeError, match="Argument types differ"):
        compiled(fnp.ones(3, fnp.int32), 2)
    with pytest.raises(TypeError, match="static values"):
        compiled(fnp.ones(3), 3)
    with pytest.raises(TypeError, match="structure"):
        compiled((fnp.ones(3),), 2)
    # jax refuses the same calls
    jc = jax.jit(lambda x, n: x * n, static_argnums=1).lower(np.ones(3, np.float32), 2).compile()
    with pytest.raises(TypeError):
        jc(np.ones(4, np.float32), 2)
