"""cond, switch, while_loop, fori_loop and scan against jax.lax: values, gradients,
check_grads, vmap, nesting, and the errors for mismatched types."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.test_util import check_grads

RNG = np.random.RandomState(0)


def _close(a, b, tol=1e-5):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def _randn(*shape):
    return RNG.randn(*shape).astype(np.float32)


# --- cond / switch ---------------------------------------------------------------------------


def _cond_prog(lib, lax):
    def f(x, y):
        return lax.cond(
            x.sum() > 0, lambda a, b: lib.sin(a) * b, lambda a, b: lib.cos(a) + b, x, y
        ).sum()

    return f


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("wrap", ["eager", "jit"])
def test_cond_values_and_grads(sign, wrap):
    x, y = sign * np.abs(_randn(3)), _randn(3)
    f, jf = _cond_prog(fnp, fn.lax), _cond_prog(jnp, jax.lax)
    w = fn.jit if wrap == "jit" else (lambda g: g)
    _close(w(f)(x, y), jf(x, y))
    _close(w(fn.grad(f, argnums=(0, 1)))(x, y), jax.jit(jax.grad(jf, argnums=(0, 1)))(x, y))


def test_cond_check_grads_both_branches():
    f = _cond_prog(fnp, fn.lax)
    for sign in (1.0, -1.0):
        check_grads(f, (fnp.asarray(sign * np.abs(_randn(3))), fnp.asarray(_randn(3))), order=2)


def test_switch_three_branches():
    branches = [lambda x: x * 2.0, lambda x: fnp.sin(x), lambda x: x**3]
    jbranches = [lambda x: x * 2.0, lambda x: jnp.sin(x), lambda x: x**3]
    x = _randn(4)
    for i in (-1, 0, 1, 2, 5):  # the index is clamped, as in jax
        _close(fn.lax.switch(i, branches, x), jax.lax.switch(i, jbranches, x))
        g = fn.grad(lambda v, i=i: fn.lax.switch(i, branches, v).sum())(x)
        _close(g, jax.grad(lambda v, i=i: jax.lax.switch(i, jbranches, v).sum())(x))
    jitted = fn.jit(lambda i, v: fn.lax.switch(i, branches, v))
    _close(jitted(2, x), x**3)


def test_cond_with_pytree_operands_and_closure():
    w = fnp.asarray(_randn(3))

    def f(d):
        return fn.lax.cond(d["n"] > 0, lambda d: d["a"] * w, lambda d: d["a"] - w, d)

    out = fn.jit(f)({"n": 1, "a": fnp.ones(3)})
    _close(out, np.asarray(w))


def test_cond_prints_its_branches_indented():
    text = str(fn.make_jaxpr(_cond_prog(fnp, fn.lax))(fnp.ones(3), fnp.ones(3)))
    assert "cond[branches=" in text
    assert "\n        { lambda" in text  # sub-programs indented under the equation


# --- while / fori -----------------------------------------------------------------------------


def test_while_data_dependent_trip_count():
    def collatz_steps(n):
        return fn.lax.while_loop(
            lambda c: c[0] != 1,
            lambda c: (fnp.where(c[0] % 2 == 0, c[0] // 2, 3 * c[0] + 1), c[1] + 1),
            (n, 0),
        )[1]

    assert int(collatz_steps(fnp.asarray(27))) == 111
    assert int(fn.jit(collatz_steps)(fnp.asarray(6))) == 8


def test_while_forward_mode_and_reverse_error():
    def f(x):
        return fn.lax.while_loop(
            lambda c: c[1].sum() < 10.0, lambda c: (c[0] + 1, c[1] * 1.5), (0, x)
        )[1]

    def jf(x):
        return jax.lax.while_loop(
            lambda c: c[1].sum() < 10.0, lambda c: (c[0] + 1, c[1] * 1.5), (0, x)
        )[1]

    x, t = np.abs(_randn(3)) + 0.5, _randn(3)
    _close(fn.jvp(f, (x,), (t,)), jax.jvp(jf, (x,), (t,)))
    with pytest.raises(
        ValueError, match=r"Reverse-mode differentiation does not work for lax\.while_loop"
    ):
        fn.grad(lambda x: f(x).sum())(x)


def test_fori_loop_static_bounds_is_differentiable():
    def f(x):
        return fn.lax.fori_loop(0, 4, lambda i, v: fnp.sin(v) + i, x).sum()

    def jf(x):
        return jax.lax.fori_loop(0, 4, lambda i, v: jnp.sin(v) + i, x).sum()

    x = _randn(3)
    _close(f(x), jf(x))
    want = jax.jit(jax.grad(jf))(x)  # one program, where jax's eager mode compiles every op
    _close(fn.grad(f)(x), want)
    _close(fn.jit(fn.grad(f))(x), want)


def test_fori_loop_traced_bounds_uses_while():
    f = fn.jit(lambda n, x: fn.lax.fori_loop(0, n, lambda i, v: v * 2.0, x))
    _close(f(3, 1.0), 8.0)
    assert "while[" in str(fn.make_jaxpr(lambda n: fn.lax.fori_loop(0, n, lambda i, v: v, 1.0))(3))


# --- scan ---------------------------------------------------------------------------------------


def _rnn(lib, lax, reverse=False, unroll=1):
    def f(w, xs, h0):
        def step(h, x):
            h = lib.tanh(h @ w + x)
            return h, (h * h).sum()

        h, ys = lax.scan(step, h0, xs, reverse=reverse, unroll=unroll)
        return h.sum() + ys.sum()

    return f


@pytest.mark.parametrize("reverse,unroll", [(False, 1), (True, 1), (False, 2), (True, 3)])
def test_scan_values_and_grads_match_jax(reverse, unroll):
    w, xs, h0 = _randn(4, 4) * 0.5, _randn(6, 4), _randn(4)
    f, jf = _rnn(fnp, fn.lax, reverse, unroll), _rnn(jnp, jax.lax, reverse, unroll)
    _close(f(w, xs, h0), jf(w, xs, h0))
    want = jax.jit(jax.grad(jf, argnums=(0, 1, 2)))(w, xs, h0)
    _close(fn.grad(f, argnums=(0, 1, 2))(w, xs, h0), want)
    _close(fn.jit(fn.grad(f, argnums=(0, 1, 2)))(w, xs, h0), want)


def test_scan_check_grads_order_2():
    f = _rnn(fnp, fn.lax)
    args = tuple(fnp.asarray(a) for a in (_randn(3, 3) * 0.5, _randn(4, 3), _randn(3)))
    check_grads(f, args, order=2)


def test_scan_keeps_loop_constants_out_of_the_stacked_residuals():
    w, xs, h0 = fnp.ones((4, 4)), fnp.ones((6, 4)), fnp.ones(4)
    text = str(fn.make_jaxpr(fn.grad(_rnn(fnp, fn.lax)))(w, xs, h0))
    assert "f32[6,4,4]" not in text  # the weight is not stacked once per step


def test_scan_without_xs_and_with_pytree_carry():
    def f(c):
        return fn.lax.scan(
            lambda c, _: ({"a": c["a"] * 2.0, "b": c["b"] + 1}, c["a"]), c, None, length=3
        )

    carry, ys = f({"a": fnp.asarray(1.0), "b": fnp.asarray(0)})
    _close(carry["a"], 8.0)
    assert int(carry["b"]) == 3
    _close(ys, np.array([1.0, 2.0, 4.0]))


def test_lstm_language_model_step_matches_jax():
    vocab, hidden, steps = 11, 8, 7
    params = {
        "emb": _randn(vocab, hidden) * 0.3,
        "w": _randn(2 * hidden, 4 * hidden) * 0.3,
        "b": _randn(4 * hidden) * 0.1,
        "out": _randn(hidden, vocab) * 0.3,
    }
    tokens = RNG.randint(0, vocab, size=(steps + 1,)).astype(np.int32)

    def make(lib, lax, nn_sigmoid, logsumexp):
        def loss(p, tokens):
            def cell(carry, tok):
                h, c = carry
                z = lib.concatenate([p["emb"][tok], h]) @ p["w"] + p["b"]
                i, f, g, o = lib.split(z, 4)
                c = nn_sigmoid(f) * c + nn_sigmoid(i) * lib.tanh(g)
                h = nn_sigmoid(o) * lib.tanh(c)
                return (h, c), h @ p["out"]

            zeros = lib.zeros(hidden)
            _, logits = lax.scan(cell, (zeros, zeros), tokens[:-1])
            logp = logits - logsumexp(logits, axis=1, keepdims=True)
            return -lib.mean(lib.take_along_axis(logp, tokens[1:, None], axis=1))

        return loss

    f = make(fnp, fn.lax, lambda v: 1 / (1 + fnp.exp(-v)), fnp.logsumexp)
    jf = make(jnp, jax.lax, jax.nn.sigmoid, jax.scipy.special.logsumexp)
    jparams = jax.tree_util.tree_map(jnp.asarray, params)
    _close(fn.jit(f)(params, tokens), jf(jparams, tokens))
    _close(fn.jit(fn.grad(f))(params, tokens), jax.jit(jax.grad(jf))(jparams, tokens), tol=2e-5)


# --- nesting and vmap ----------------------------------------------------------------------------


def test_scan_inside_cond_inside_jit():
    def f(x):
        def inner(v):
            return fn.lax.scan(lambda c, a: (c + a, c * a), 0.0, v)[1].sum()

        return fn.lax.cond(x[0] > 0, inner, lambda v: v.sum(), x)

    def jf(x):
        def inner(v):
            return jax.lax.scan(lambda c, a: (c + a, c * a), 0.0, v)[1].sum()

        return jax.lax.cond(x[0] > 0, inner, lambda v: v.sum(), x)

    x = np.abs(_randn(5))
    _close(fn.jit(f)(x), jf(x))
    _close(fn.jit(fn.grad(f))(x), jax.jit(jax.grad(jf))(x))


_has_cf_batching = hasattr(fn, "vmap")


@pytest.mark.skipif(not _has_cf_batching, reason="vmap not available")
def test_vmap_of_control_flow_matches_jax():
    from funcnet.lax.control_flow import cond_p, scan_p, while_p
    from funcnet.transforms.batching import batching_rules

    if not all(p in batching_rules for p in (cond_p, scan_p, while_p)):
        pytest.skip("control-flow batching rules not registered yet")
    xs = _randn(4, 3)
    f = _cond_prog(fnp, fn.lax)
    jf = _cond_prog(jnp, jax.lax)
    _close(fn.vmap(f)(xs, xs), jax.vmap(jf)(xs, xs))  # batched predicate -> select
    w, seq, h0 = _randn(3, 3), _randn(4, 5, 3), _randn(4, 3)
    r, jr = _rnn(fnp, fn.lax), _rnn(jnp, jax.lax)
    _close(
        fn.vmap(r, in_axes=(None, 0, 0))(w, seq, h0), jax.vmap(jr, in_axes=(None, 0, 0))(w, seq, h0)
    )

    def wl(x):
        return fn.lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)

    def jwl(x):
        return jax.lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)

    v = np.asarray([0.5, 3.0, 20.0], np.float32)
    _close(fn.vmap(wl)(v), jax.vmap(jwl)(v))  # each example runs until it is done


# --- errors --------------------------------------------------------------------------------------


def test_branch_type_mismatch_shows_both_sides_by_path():
    with pytest.raises(TypeError) as e:
        fn.lax.cond(True, lambda x: {"a": x, "b": x}, lambda x: {"a": x, "b": x[:2]}, fnp.ones(3))
    msg = str(e.value)
    assert "['b']: f32[3]" in msg and "['b']: f32[2]" in msg


def test_while_body_type_mismatch():
    with pytest.raises(TypeError, match="body_fun's output"):
        fn.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1].astype(np.int32)), (0, 1.0))


def test_scan_carry_mismatch():
    with pytest.raises(TypeError, match="new carry"):
        fn.lax.scan(lambda c, x: (fnp.stack([c, c]), x), 0.0, fnp.ones(3))


def test_bad_predicate_and_index():
    with pytest.raises(TypeError, match="boolean scalar"):
        fn.lax.cond(fnp.ones(2) > 0, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="integer scalar"):
        fn.lax.switch(1.0, [lambda: 1.0, lambda: 2.0])
    with pytest.raises(TypeError, match="boolean scalar"):
        fn.lax.while_loop(lambda c: c, lambda c: c, 1.0)


def test_scan_inputs_of_different_lengths():
    with pytest.raises(ValueError) as e:
        fn.lax.scan(lambda c, x: (c, x), 0.0, {"a": fnp.ones(3), "b": fnp.ones(4)})
    assert "['a']: 3" in str(e.value) and "['b']: 4" in str(e.value)


# --- the fuzzer's findings: while under vjp, weakly typed carries, names in errors ----------


def _while_sin(lib, lax):
    return lambda x: lax.while_loop(
        lambda s: s[0] < 1, lambda s: (s[0] + 1, lib.sin(s[1])), (0, x)
    )[1]


def test_vjp_of_while_gives_the_value_and_refuses_only_the_backward_pass():
    """jax's behaviour: vjp returns the primal output (not a leaked tracer); asking for
    the backward pass raises jax's ValueError; linearize's forward pass works."""
    f, jf = _while_sin(fnp, fn.lax), _while_sin(jnp, jax.lax)
    y, f_vjp = fn.vjp(f, 1.0)
    assert isinstance(y, fn.Array)
    _close(y, jax.vjp(jf, 1.0)[0])
    with pytest.raises(ValueError) as jax_error:
        jax.vjp(jf, 1.0)[1](1.0)
    with pytest.raises(ValueError) as error:
        f_vjp(1.0)
    assert str(error.value) == str(jax_error.value)
    y_lin, f_lin = fn.linearize(f, 1.0)
    want_y, want_lin = jax.linearize(jf, 1.0)
    _close((y_lin, f_lin(2.0)), (want_y, want_lin(2.0)))
    _close(fn.jit(lambda x: fn.linearize(f, x)[1](2.0))(1.5), jax.linearize(jf, 1.5)[1](2.0))


@pytest.mark.parametrize("name", ["fori", "scan", "while", "fori_traced"])
def test_weakly_typed_initial_carry_takes_the_bodys_dtype(name):
    """As jax: fori_loop(0, 3, lambda i, c: c * 1.5, 1) is 3.375 (the Python int carry
    becomes float32), not an error."""

    def run(lax):
        if name == "fori":
            return lax.fori_loop(0, 3, lambda i, c: c * 1.5, 1)
        if name == "scan":
            return lax.scan(lambda c, x: (c * 1.5, c), 1, None, length=3)
        if name == "while":
            return lax.while_loop(lambda c: c < 3, lambda c: c * 1.5, 1)
        return (
            fn.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c * 1.5, 1))(3)
            if lax is fn.lax
            else jax.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c * 1.5, 1))(3)
        )

    got, want = run(fn.lax), run(jax.lax)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        assert np.asarray(g).dtype == np.asarray(w).dtype
    _close(got, want)


def test_weak_carry_promotion_follows_the_body_dtype_and_the_index_is_weak():
    bf = np.ones((), jnp.bfloat16) * 1.5
    got = fn.lax.fori_loop(0, 3, lambda i, c: c * bf, 1.0)  # weak float meets bfloat16
    want = jax.lax.fori_loop(0, 3, lambda i, c: c * bf, 1.0)
    assert got.dtype == want.dtype == jnp.bfloat16
    got = fn.lax.fori_loop(0, 3, lambda i, c: c + i, np.int8(1))  # the index is weak int32
    want = jax.lax.fori_loop(0, 3, lambda i, c: c + i, np.int8(1))
    assert got.dtype == want.dtype == np.int8 and int(got) == int(want)


@pytest.mark.parametrize(
    "name,call",
    [
        ("fori_loop", lambda: fn.lax.fori_loop(0, 3, lambda i, c: c.astype(np.int32), 1.0)),
        (
            "fori_loop",
            lambda: fn.jit(lambda n: fn.lax.fori_loop(0, n, lambda i, c: c.astype(np.int32), 1.0))(
                3
            ),
        ),
        (
            "while_loop",
            lambda: fn.lax.while_loop(lambda c: c < 3, lambda c: c.astype(np.int32), 1.0),
        ),
        ("scan", lambda: fn.lax.scan(lambda c, x: (c.astype(np.int32), x), 1.0, None, length=2)),
    ],
)
def test_carry_type_errors_name_the_loop_the_user_wrote(name, call):
    with pytest.raises(TypeError) as e:
        call()
    msg = str(e.value)
    assert msg.startswith(f"{name}:"), msg
    assert "f32[]" in msg and "i32[]" in msg
