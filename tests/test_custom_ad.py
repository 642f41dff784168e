"""stop_gradient, custom_jvp, custom_vjp and checkpoint, against jax's same constructs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.test_util import check_grads
from funcnet.tree import tree_leaves


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# --- stop_gradient ---------------------------------------------------------------------------


def test_stop_gradient_blocks_only_its_path():
    def f(x):
        return fn.stop_gradient(x) * x + x**2

    def jf(x):
        return jax.lax.stop_gradient(x) * x + x**2

    _close(fn.grad(f)(3.0), jax.grad(jf)(3.0))
    _close(fn.jit(fn.grad(f))(3.0), jax.grad(jf)(3.0))


def test_stop_gradient_on_pytree_and_integers():
    tree = {"a": fnp.ones(2), "n": fnp.arange(3)}
    out = fn.stop_gradient(tree)
    np.testing.assert_array_equal(np.asarray(out["n"]), np.arange(3))
    g = fn.grad(lambda t: (fn.stop_gradient(t)["a"] * t["a"]).sum())({"a": fnp.ones(2) * 2})
    _close(g["a"], [2.0, 2.0])


# --- custom_jvp --------------------------------------------------------------------------------


@fn.custom_jvp
def _safe_log1pexp(x):
    return fnp.log1p(fnp.exp(x))


@_safe_log1pexp.defjvp
def _safe_log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _safe_log1pexp(x), t * (1 - 1 / (1 + fnp.exp(x)))


@jax.custom_jvp
def _j_log1pexp(x):
    return jnp.log1p(jnp.exp(x))


@_j_log1pexp.defjvp
def _j_log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _j_log1pexp(x), t * (1 - 1 / (1 + jnp.exp(x)))


@pytest.mark.parametrize("wrap", ["eager", "jit_outside", "jit_inside"])
def test_custom_jvp_matches_jax(wrap):
    x = np.linspace(-3, 3, 7).astype(np.float32)

    def f(v):
        return _safe_log1pexp(v).sum()

    if wrap == "jit_outside":
        g = fn.jit(fn.grad(f))
    elif wrap == "jit_inside":
        g = fn.grad(fn.jit(f))
    else:
        g = fn.grad(f)
    _close(g(fnp.asarray(x)), jax.grad(lambda v: _j_log1pexp(v).sum())(x))


def test_custom_jvp_rule_is_used_not_the_function():
    @fn.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), 10.0 * t[0]))
    _close(fn.grad(f)(0.3), 10.0)
    _close(fn.jvp(f, (0.3,), (1.0,))[1], 10.0)
    # second order differentiates the rule itself: d/dx (10) = 0
    _close(fn.grad(fn.grad(f))(0.3), 0.0)


def test_custom_jvp_second_order_through_rule():
    x = fnp.asarray(0.7)
    check_grads(_safe_log1pexp, (x,), order=2)


def test_custom_jvp_with_pytrees_and_nondiff_argnums():
    @functools.partial(fn.custom_jvp, nondiff_argnums=(0,))
    def scale(s, d):
        return {"y": d["a"] * s}

    @scale.defjvp
    def scale_jvp(s, primals, tangents):
        (d,), (td,) = primals, tangents
        return scale(s, d), {"y": td["a"] * s * 2}

    g = fn.grad(lambda a: scale(3.0, {"a": a})["y"])(1.0)
    _close(g, 6.0)


def test_custom_jvp_bad_rule_output_is_explained():
    @fn.custom_jvp
    def f(x):
        return x

    f.defjvp(lambda p, t: (f(p[0]), (t[0], t[0])))
    with pytest.raises(TypeError, match="output structure"):
        fn.grad(f)(1.0)


# --- custom_vjp --------------------------------------------------------------------------------


@fn.custom_vjp
def _clip_gradient(x):
    return x


_clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1.0, 1.0),))


def test_custom_vjp_clips_gradient_eager_and_jit():
    def f(x):
        return (_clip_gradient(x) * 5.0).sum()

    x = fnp.asarray([1.0, -2.0])
    _close(fn.grad(f)(x), [1.0, 1.0])
    _close(fn.jit(fn.grad(f))(x), [1.0, 1.0])
    _close(fn.grad(fn.jit(f))(x), [1.0, 1.0])


def test_custom_vjp_residuals_and_multiple_args_match_jax():
    @fn.custom_vjp
    def f(x, y):
        return fnp.sin(x) * y

    f.defvjp(
        lambda x, y: (fnp.sin(x) * y, (fnp.cos(x), fnp.sin(x), y)),
        lambda r, g: (g * r[0] * r[2], g * r[1]),
    )

    @jax.custom_vjp
    def jf(x, y):
        return jnp.sin(x) * y

    jf.defvjp(
        lambda x, y: (jnp.sin(x) * y, (jnp.cos(x), jnp.sin(x), y)),
        lambda r, g: (g * r[0] * r[2], g * r[1]),
    )
    x, y = np.float32(0.4), np.float32(1.5)
    got = fn.grad(lambda a, b: f(a, b) ** 2, argnums=(0, 1))(x, y)
    want = jax.grad(lambda a, b: jf(a, b) ** 2, argnums=(0, 1))(x, y)
    _close(got[0], want[0])
    _close(got[1], want[1])


def test_custom_vjp_forward_mode_is_refused_clearly():
    with pytest.raises(TypeError, match="forward-mode"):
        fn.jvp(_clip_gradient, (1.0,), (1.0,))


def test_custom_vjp_none_cotangent_means_zero():
    @fn.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, x), lambda x, g: (None, g * x))
    gx, gy = fn.grad(f, argnums=(0, 1))(2.0, 3.0)
    _close(gx, 0.0)
    _close(gy, 2.0)


def test_custom_vjp_wrong_number_of_cotangents():
    @fn.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, None), lambda r, g: (g,))
    with pytest.raises(TypeError, match="1 cotangents for 2 arguments"):
        fn.grad(f)(1.0, 2.0)


# --- checkpoint ----------------------------------------------------------------------------------


def _mlp(layer, w, x):
    for i in range(w.shape[0]):
        x = layer(w[i], x)
    return (x**2).sum()


def _dense(w, x):
    return fnp.tanh(x @ w)


def test_checkpoint_gives_the_same_gradients():
    rng = np.random.RandomState(0)
    w = fnp.asarray(rng.randn(3, 8, 8).astype(np.float32) * 0.4)
    x = fnp.asarray(rng.randn(4, 8).astype(np.float32))
    plain = fn.grad(lambda w: _mlp(_dense, w, x))(w)
    ck = fn.checkpoint(_dense)
    for g in (fn.grad(lambda w: _mlp(ck, w, x)), fn.jit(fn.grad(lambda w: _mlp(ck, w, x)))):
        _close(g(w), plain, tol=1e-5)
    jw = np.asarray(w)
    want = jax.grad(lambda w: _jmlp(w, np.asarray(x)))(jw)
    _close(plain, want, tol=1e-5)


def _jmlp(w, x):
    for i in range(w.shape[0]):
        x = jnp.tanh(x @ w[i])
    return (x**2).sum()


def test_checkpoint_recomputes_in_the_backward_program():
    ck = fn.checkpoint(_dense)
    w = fnp.ones((2, 4, 4)) * 0.1
    x = fnp.ones((3, 4))
    text = str(fn.make_jaxpr(fn.grad(lambda w: _mlp(ck, w, x)))(w))
    # The recomputation sits in a cond on a predicate XLA cannot fold, out of CSE's reach.
    assert "opaque_true" in text and text.count("cond[") == 2  # one cond per layer
    assert text.count("tanh") >= 4  # each layer's tanh: once forward, once recomputed


def test_opaque_true_is_true_and_unfoldable():
    from funcnet.lax.windowed import opaque_true

    assert bool(opaque_true()) and bool(fn.jit(opaque_true)())
    text = fn.jit(opaque_true).lower().as_text()
    assert "stablehlo.rng" in text  # XLA cannot resolve it at compile time
    hlo = fn.jit(opaque_true).lower().compile().as_text()
    assert "constant(true)" not in hlo.replace(" ", "")


def test_checkpoint_lowering_per_platform():
    # CPU: the recomputation sits in a conditional on an rng predicate XLA cannot fold.
    # Elsewhere (XLA:GPU keeps optimization barriers): a constant predicate, so XLA
    # inlines the branch and no predicate is read back; the barrier keeps it apart.
    from funcnet.backend.lowering import lower_to_module

    ck = fn.checkpoint(_dense)
    w, x = fnp.ones((2, 4, 4)) * 0.1, fnp.ones((3, 4))
    closed = fn.make_jaxpr(fn.grad(lambda w: _mlp(ck, w, x)))(w)
    cpu, gpu = (lower_to_module(closed, platform=p) for p in ("cpu", "cuda"))
    assert "stablehlo.rng" in cpu and "stablehlo.case" in cpu
    assert "stablehlo.rng" not in gpu and "dense<true>" in gpu
    assert "stablehlo.optimization_barrier" in gpu


def test_checkpoint_lowers_memory_of_a_deep_mlp():
    # XLA:CPU keeps the recomputation (CSE cannot reach into the conditional), so the
    # compiled program holds fewer live activations than without checkpoint.
    layer = lambda w, x: fnp.maximum(x @ w, 0.0)  # noqa: E731

    def loss(ws, x, ck):
        for i in range(0, len(ws), 4):

            def block(ws, x):
                for w in ws:
                    x = layer(w, x)
                return x

            x = (fn.checkpoint(block) if ck else block)(ws[i : i + 4], x)
        return (x * x).mean()

    r = np.random.default_rng(0)
    ws = [fnp.asarray(r.standard_normal((64, 64)).astype(np.float32) / 8) for _ in range(16)]
    x = fnp.asarray(r.standard_normal((512, 64)).astype(np.float32))

    def memory(ck):
        m = fn.jit(fn.value_and_grad(lambda ws: loss(ws, x, ck))).lower(ws).compile()
        m = m.memory_analysis()
        return m.temp_size_in_bytes + m.output_size_in_bytes + m.argument_size_in_bytes

    assert memory(True) < memory(False)
    _close(
        fn.grad(lambda ws: loss(ws, x, True))(ws),
        fn.grad(lambda ws: loss(ws, x, False))(ws),
        tol=1e-5,
    )


def test_checkpoint_second_order_and_check_grads():
    ck = fn.checkpoint(lambda x: fnp.sin(x) * fnp.cos(x))
    check_grads(lambda x: ck(x), (fnp.asarray([0.3, 1.1]),), order=2)


def test_checkpoint_static_argnums():
    ck = fn.checkpoint(lambda x, n: x**n, static_argnums=(1,))
    _close(fn.grad(lambda x: ck(x, 3))(2.0), 12.0)
    # an int and a negative position, as jax
    for nums in (1, -1):
        ck = fn.checkpoint(lambda x, n: x**n, static_argnums=nums)
        _close(fn.grad(lambda x, ck=ck: ck(x, 3))(2.0), 12.0)
    with pytest.raises(TypeError, match="static_argnums must be ints"):
        fn.checkpoint(lambda x: x, static_argnums=("n",))


def test_checkpoint_keyword_arguments_and_policy():
    ck = fn.checkpoint(lambda x, *, scale: fnp.sin(x) * scale)
    _close(fn.grad(lambda x: ck(x, scale=3.0))(0.0), 3.0)
    _close(fn.grad(lambda s: ck(1.0, scale=s))(2.0), np.sin(1.0))
    with pytest.raises(NotImplementedError, match="policy"):
        fn.checkpoint(lambda x: x, policy=lambda *a, **k: True)


# --- rules on concrete values (Python control flow), as jax -----------------------------------


def _relu_like(lib):
    """The custom derivative rules page's style: Python `if` on the input in the function
    and in its rule."""

    @lib.custom_jvp
    def f(x):
        return x if x > 0 else 0.0 * x

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), (3.0 * t if x > 0 else 0.0 * t)

    return f


@pytest.mark.parametrize("x", [2.0, -1.0])
def test_custom_jvp_python_if_runs_on_concrete_values(x):
    f, jf = _relu_like(fn), _relu_like(jax)
    _close(fn.grad(f)(x), jax.grad(jf)(x))
    _close(fn.jvp(f, (x,), (1.5,)), jax.jvp(jf, (x,), (1.5,)))
    _close(fn.grad(lambda v: f(v) * v)(x), jax.grad(lambda v: jf(v) * v)(x))
    _close(fn.grad(fn.grad(f))(x), jax.grad(jax.grad(jf))(x))
    _out, f_jvp = fn.linearize(f, x)
    _close(f_jvp(2.0), jax.linearize(jf, x)[1](2.0))
    _close(fn.jacfwd(f)(x), jax.jacfwd(jf)(x))


def test_custom_jvp_python_if_under_vmap_and_jit_fails_as_in_jax():
    f, jf = _relu_like(fn), _relu_like(jax)
    xs = np.array([1.0, -1.0], np.float32)
    # vmap and jit make x abstract: jax refuses the `if` too.
    for transform, jtransform in [
        (fn.vmap, jax.vmap),
        (lambda g: fn.vmap(fn.grad(g)), lambda g: jax.vmap(jax.grad(g))),
    ]:
        with pytest.raises(jax.errors.ConcretizationTypeError):
            jtransform(jf)(xs)
        with pytest.raises(fn.ConcretizationError, match="Python `if`"):
            transform(f)(fnp.asarray(xs))
    with pytest.raises(jax.errors.ConcretizationTypeError):
        jax.jit(jax.grad(jf))(2.0)
    with pytest.raises(fn.ConcretizationError, match=r"Python `if`.*fn.lax.cond"):
        fn.jit(fn.grad(f))(2.0)


def test_custom_vjp_fwd_with_python_if_runs_on_concrete_values():
    def make(lib):
        @lib.custom_vjp
        def f(x):
            return x if x > 0 else 0.0 * x

        def fwd(x):
            return f(x), x > 0

        def bwd(positive, g):
            return (2.0 * g if positive else 0.0 * g,)

        f.defvjp(fwd, bwd)
        return f

    f, jf = make(fn), make(jax)
    for x in (2.0, -1.0):
        _close(fn.grad(f)(x), jax.grad(jf)(x))
        _close(fn.vjp(f, x)[1](1.5), jax.vjp(jf, x)[1](1.5))
    with pytest.raises(fn.ConcretizationError):
        fn.jit(fn.grad(f))(2.0)


def test_custom_jvp_closing_over_the_differentiated_value_is_refused_as_jax():
    def outer(lib, y):
        @lib.custom_jvp
        def f(x):
            return x * y

        f.defjvp(lambda p, t: (f(p[0]), t[0] * y))
        return f(y)

    with pytest.raises(jax.errors.UnexpectedTracerError):
        jax.grad(lambda y: outer(jax, y))(3.0)
    with pytest.raises(fn.UnexpectedTracerError, match="closure"):
        fn.grad(lambda y: outer(fn, y))(3.0)


# --- the API's details, as jax ---------------------------------------------------------------


def test_defjvp_returns_the_rule_and_defvjp_returns_none():
    for lib in (fn, jax):
        f = lib.custom_jvp(lambda x: x)
        rule = lambda p, t: (p[0], t[0])  # noqa: E731
        assert f.defjvp(rule) is rule
        g = lib.custom_vjp(lambda x: x)
        assert g.defvjp(lambda x: (x, None), lambda r, ct: (ct,)) is None


def test_defjvps_matches_jax():
    def make(lib, np_):
        @lib.custom_jvp
        def f(x, y):
            return np_.sin(x) * y

        f.defjvps(
            lambda x_dot, out, x, y: np_.cos(x) * x_dot * y,
            lambda y_dot, out, x, y: np_.sin(x) * y_dot,
        )

        @lib.custom_jvp
        def g(x, y):
            return x * y

        g.defjvps(None, lambda y_dot, out, x, y: 5.0 * x * y_dot)  # no dependence on x
        return f, g

    (f, g), (jf, jg) = make(fn, fnp), make(jax, jnp)
    args = (np.float32(1.0), np.float32(2.0))
    for a, b in [(f, jf), (g, jg)]:
        got = fn.value_and_grad(a, argnums=(0, 1))(*args)
        want = jax.value_and_grad(b, argnums=(0, 1))(*args)
        _close(got[0], want[0])
        _close(got[1], want[1])
        _close(fn.jvp(a, args, args)[1], jax.jvp(b, args, args)[1])
    with pytest.raises(TypeError, match="nondiff_argnums"):
        fn.custom_jvp(lambda s, x: x, nondiff_argnums=(0,)).defjvps(None)


def test_custom_jvp_and_vjp_take_keyword_arguments_as_jax():
    def make(lib):
        @lib.custom_jvp
        def f(x, scale=2.0):
            return x * scale

        f.defjvp(lambda p, t: (f(*p), t[0] * p[1] * 10 + t[1]))  # defaults arrive as primals

        @lib.custom_vjp
        def g(x, y=1.0):
            return x * y

        g.defvjp(lambda x, y: (g(x, y), (x, y)), lambda r, ct: (ct * r[1], ct * r[0]))
        return f, g

    (f, g), (jf, jg) = make(fn), make(jax)
    for ours, theirs in [
        (lambda x: f(x, scale=3.0), lambda x: jf(x, scale=3.0)),
        (lambda x: f(x=x), lambda x: jf(x=x)),
        (lambda x: f(x), lambda x: jf(x)),
        (lambda x: g(x, y=4.0), lambda x: jg(x, y=4.0)),
        (lambda y: g(2.0, y=y), lambda y: jg(2.0, y=y)),
    ]:
        _close(fn.grad(ours)(1.5), jax.grad(theirs)(1.5))
        _close(fn.jit(fn.grad(ours))(1.5), jax.grad(theirs)(1.5))
    with pytest.raises(TypeError, match="could not be resolved to positional"):
        fn.grad(lambda x: f(x, bogus=1.0))(1.0)


def test_custom_vjp_nondiff_argnums_fwd_and_bwd_signatures_match_jax():
    def make(lib):
        @functools.partial(lib.custom_vjp, nondiff_argnums=(1,))
        def apply(x, fun, y):
            return fun(x) * y

        def fwd(x, fun, y):  # the function's own signature
            return fun(x) * y, (x, y)

        def bwd(fun, res, ct):  # nondiff arguments first
            x, y = res
            return 2.0 * ct * y, ct * fun(x)

        apply.defvjp(fwd, bwd)
        return apply

    f, jf = make(fn), make(jax)
    sq = lambda v: v * v  # noqa: E731
    want = jax.grad(lambda x, y: jf(x, sq, y), argnums=(0, 1))(3.0, 2.0)
    for g in (
        fn.grad(lambda x, y: f(x, sq, y), argnums=(0, 1)),
        fn.jit(fn.grad(lambda x, y: f(x, sq, y), argnums=(0, 1))),
    ):
        got = g(3.0, 2.0)
        _close(got[0], want[0])
        _close(got[1], want[1])


def test_custom_vjp_refuses_traced_nondiff_arguments_as_jax():
    for lib in (fn, jax):
        f = lib.custom_vjp(lambda x, s: x * s, nondiff_argnums=(1,))
        f.defvjp(lambda x, s: (x * s, None), lambda s, r, ct: (ct * s,))
        with pytest.raises(
            lib.errors.UnexpectedTracerError if lib is jax else fn.UnexpectedTracerError
        ):
            lib.jit(lambda x, s, f=f: f(x, s))(1.0, 2.0)


def test_custom_jvp_nondiff_argnames_and_traced_nondiff_arguments():
    def make(lib):
        @functools.partial(lib.custom_jvp, nondiff_argnames=("n",))
        def power(x, n):
            return x**n

        @power.defjvp
        def power_jvp(n, primals, tangents):
            (x,), (t,) = primals, tangents
            return power(x, n), n * x ** (n - 1) * t

        return power

    f, jf = make(fn), make(jax)
    assert f.nondiff_argnums == jf.nondiff_argnums == (1,)
    _close(fn.grad(f)(2.0, 3), jax.grad(jf)(2.0, 3))
    # a traced nondiff argument of a custom_jvp function is allowed (stop_gradient'ed)
    _close(fn.grad(lambda x: f(x, x))(2.0), jax.grad(lambda x: jf(x, x))(2.0))


def test_custom_vjp_bwd_none_subtrees_and_list_output_as_jax():
    def make(lib):
        @lib.custom_vjp
        def f(d, z):
            return d["a"] * d["b"] + z

        f.defvjp(
            lambda d, z: (f(d, z), d), lambda d, ct: [{"a": ct * d["b"], "b": None}, ct]
        )  # a list is accepted
        return f

    f, jf = make(fn), make(jax)
    d = {"a": 2.0, "b": 3.0}
    got, want = fn.grad(f, argnums=(0, 1))(d, 1.0), jax.grad(jf, argnums=(0, 1))(d, 1.0)
    for g, w in zip(tree_leaves(got), tree_leaves(want)):
        _close(g, w)


def test_custom_rules_with_wrong_shapes_fail_like_jax():
    def make(lib, np_):
        h = lib.custom_jvp(lambda x: x)
        h.defjvp(lambda p, t: (h(p[0]), t[0][None]))
        w = lib.custom_vjp(lambda x: x.sum())
        w.defvjp(lambda x: (w(x), None), lambda r, ct: (np_.ones(2),))
        return h, w

    (h, w), (jh, jw) = make(fn, fnp), make(jax, jnp)
    one = np.float32(1.0)
    with pytest.raises(TypeError, match="corresponding shapes and dtypes"):
        jax.jvp(jh, (one,), (one,))
    with pytest.raises(TypeError, match="corresponding shapes and dtypes"):
        fn.jvp(h, (one,), (one,))
    with pytest.raises(ValueError, match="output\\[0\\]"):
        jax.grad(jw)(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"output\[0\].*f32\[2\].*f32\[3\]"):
        fn.grad(w)(fnp.ones(3))


def test_symbolic_zeros_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="symbolic_zeros"):
        fn.custom_jvp(lambda x: x).defjvp(lambda p, t: (p[0], t[0]), symbolic_zeros=True)
    with pytest.raises(NotImplementedError, match="symbolic_zeros"):
        fn.custom_vjp(lambda x: x).defvjp(
            lambda x: (x, None), lambda r, g: (g,), symbolic_zeros=True
        )
