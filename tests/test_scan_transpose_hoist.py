"""Reverse mode of scan computes a loop constant's `sum_t dot(a_t, b_t)` cotangent with one
dot_general after the loop (funcnet/transforms/scan_hoist.py): gradients against jax's
(which accumulates inside the loop), the hoisted form in the lowered program, and the
loop form kept for bodies that do not fit. Also: loop-invariant residuals computed once
outside the forward loop (control_flow_ad._scan_partial_eval), not stacked."""

import re
import types

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.transforms import scan_hoist

FN = types.SimpleNamespace(np=fnp, lax=lax, sigmoid=fn.nn.sigmoid, grad=fn.grad, jit=fn.jit)
JAX = types.SimpleNamespace(np=jnp, lax=jax.lax, sigmoid=jax.nn.sigmoid, grad=jax.grad, jit=jax.jit)
T, B, H = 6, 3, 4


def _randn(seed, *shape, scale=0.5):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# --- bodies: each builder takes a library namespace and returns (loss, args) -----------------


def lstm(L, reverse=False, unroll=1):
    def loss(wh, xp, c0):
        def step(carry, xt):
            c, h = carry
            i, f, g, o = L.np.split(xt + h @ wh, 4, axis=-1)
            c = L.sigmoid(f) * c + L.sigmoid(i) * L.np.tanh(g)
            h = L.sigmoid(o) * L.np.tanh(c)
            return (c, h), h

        _, hs = L.lax.scan(step, (c0, c0 * 0.5), xp, reverse=reverse, unroll=unroll)
        return (hs * hs).sum()

    return loss, (_randn(0, H, 4 * H), _randn(1, T, B, 4 * H), _randn(2, B, H))


def rnn(L, reverse=False, unroll=1):
    def loss(wx, wh, b, xs):
        def step(h, x):
            h = L.np.tanh(x @ wx + h @ wh + b)
            return h, h.sum(-1)

        h, ys = L.lax.scan(step, L.np.zeros((B, H)), xs, reverse=reverse, unroll=unroll)
        return (h * h).sum() + (ys * ys).sum()

    return loss, (_randn(3, 5, H), _randn(4, H, H), _randn(5, H), _randn(6, T, B, 5))


def matmul_acc(L, reverse=False, unroll=1):
    """The carry itself accumulates x_t @ W: W's cotangent pairs x_t with the carry's."""

    def loss(w, xs):
        def step(c, x):
            return c + L.np.sin(x) @ w, None

        c, _ = L.lax.scan(step, L.np.zeros((B, H)), xs, reverse=reverse, unroll=unroll)
        return (L.np.cos(c) * c).sum()

    return loss, (_randn(7, 5, H), _randn(8, T, B, 5))


def batched(L, reverse=False, unroll=1):
    """A batch-dim dot_general (heads) with the weight on the left and a transposed
    contraction."""

    def loss(w, xs):
        def step(h, x):
            y = L.lax.dot_general(w, h + x, (((1,), (2,)), ((0,), (0,))))  # (G, H, B)
            h = L.np.tanh(L.np.swapaxes(y, 1, 2))  # (G, B, H)
            return h, None

        h, _ = L.lax.scan(step, L.np.ones((2, B, H)), xs, reverse=reverse, unroll=unroll)
        return (h * L.np.arange(H)).sum()

    return loss, (_randn(9, 2, H, H), _randn(10, T, 2, B, H))


def shared_weight(L, reverse=False, unroll=1):
    """The weight used by two matmuls of a step: two terms, both hoisted."""

    def loss(w, xs):
        def step(h, x):
            h = L.np.tanh(h @ w) + L.np.sin(x @ w)
            return h, None

        h, _ = L.lax.scan(step, L.np.ones((B, H)), xs, reverse=reverse, unroll=unroll)
        return (h * h).sum()

    return loss, (_randn(11, H, H), _randn(12, T, B, H))


def nested(L, reverse=False, unroll=1):
    def loss(w, xs):
        def inner(h, x):
            return L.np.tanh(h @ w + x), None

        def outer(h, xrow):
            h, _ = L.lax.scan(inner, h, xrow, reverse=reverse)
            return h, h.sum()

        h, ys = L.lax.scan(outer, L.np.ones((B, H)), xs, unroll=unroll)
        return (h * h).sum() + ys.sum()

    return loss, (_randn(13, H, H), _randn(14, 3, T, B, H))


def mixed_precision(L, reverse=False, unroll=1):
    """bfloat16 operands accumulated in float32 (preferred_element_type)."""

    def loss(w, xs):
        def step(h, x):
            z = L.lax.dot_general(h, w, (((1,), (0,)), ((), ())), preferred_element_type="float32")
            h = L.np.tanh(z + x).astype(w.dtype)
            return h, None

        h, _ = L.lax.scan(step, L.np.ones((B, H), w.dtype), xs, reverse=reverse, unroll=unroll)
        return (h.astype("float32") ** 2).sum()

    w = _randn(15, H, H).astype(ml_dtypes.bfloat16)
    return loss, (w, _randn(16, T, B, H))


BODIES = [lstm, rnn, matmul_acc, batched, shared_weight, nested, mixed_precision]


def _compare(build, wrap, tol=2e-5, **kw):
    f_fn, args = build(FN, **kw)
    f_jax, _ = build(JAX, **kw)
    argnums = tuple(range(len(args)))
    ours = FN.grad(f_fn, argnums=argnums)
    if wrap == "jit":
        ours = fn.jit(ours)
    got = ours(*(fnp.asarray(a) for a in args))
    want = jax.jit(jax.grad(f_jax, argnums=argnums))(*(jnp.asarray(a) for a in args))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        scale = max(1.0, float(np.abs(np.asarray(w, np.float32)).max()))
        np.testing.assert_allclose(
            np.asarray(g, np.float32), np.asarray(w, np.float32), rtol=tol, atol=tol * scale
        )


@pytest.mark.parametrize("build", BODIES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("wrap", ["eager", "jit"])
def test_grads_match_jax(build, wrap):
    """Forward scans eagerly, reverse ones under jit (the hoisting does not depend on the
    direction: the stacked outputs are indexed by step, not by visit order)."""
    tol = 2e-2 if build is mixed_precision else 2e-5
    _compare(build, wrap, tol=tol, reverse=wrap == "jit")


@pytest.mark.parametrize("build", [lstm, rnn], ids=lambda b: b.__name__)
def test_grads_match_jax_unrolled(build):
    _compare(build, "jit", unroll=2, reverse=build is rnn)


# --- the program's form --------------------------------------------------------------------


def _top_level_dots(f, args):
    """The dot_generals of main outside any loop body, and the number of loops."""
    text = fn.jit(f).lower(*args).as_text()
    top = re.findall(r'^    %\S+ = "stablehlo\.dot_general"', text, re.M)
    return len(top), text.count('"stablehlo.while"')


def _lowered_counts(build):
    f, args = build(FN)
    n_args = tuple(range(len(args)))
    return _top_level_dots(fn.grad(f, argnums=n_args), [fnp.asarray(a) for a in args])


@pytest.mark.parametrize(
    "build, hoisted",
    [(lstm, 1), (rnn, 2), (matmul_acc, 1), (batched, 1), (shared_weight, 2)],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_hoisted_dot_after_the_loop(build, hoisted, monkeypatch):
    dots, loops = _lowered_counts(build)
    monkeypatch.setattr(scan_hoist, "MAX_EXTRA_STACKED_BYTES", -1)  # the old form
    old_dots, old_loops = _lowered_counts(build)
    assert loops == old_loops == 2  # forward and backward
    assert dots - old_dots == hoisted


def test_memory_rule_keeps_the_loop_form_and_values(monkeypatch):
    monkeypatch.setattr(scan_hoist, "MAX_EXTRA_STACKED_BYTES", -1)
    _compare(rnn, "jit")


def test_budget_counts_bytes(monkeypatch):
    """rnn: x_t is a stacked residual already; only the step cotangent is stacked
    (T * B * H float32): a budget one byte short hoists nothing."""
    need = T * B * H * 4
    monkeypatch.setattr(scan_hoist, "MAX_EXTRA_STACKED_BYTES", need - 1)
    assert _lowered_counts(rnn)[0] == 0
    monkeypatch.setattr(scan_hoist, "MAX_EXTRA_STACKED_BYTES", need)
    assert _lowered_counts(rnn)[0] == 2


def _elementwise_weight(L):
    def loss(w, xs):
        def step(h, x):
            return L.np.tanh(h * w + x), None

        h, _ = L.lax.scan(step, L.np.ones((B, H)), xs)
        return (h * h).sum()

    return loss, (_randn(17, H), _randn(18, T, B, H))


def _invariant_operand(L):
    """w's cotangent per step is dot(u, g_t) with u loop-invariant: stacking u would
    copy it `length` times, so the loop form stays."""

    def loss(w, u, xs):
        def step(h, x):
            return L.np.tanh(x + (u @ w).sum() * h), None

        h, _ = L.lax.scan(step, L.np.ones((B, H)), xs)
        return (h * h).sum()

    return loss, (_randn(19, H, H), _randn(20, 2, H), _randn(21, T, B, H))


def _mixed_terms(L):
    """w feeds a matmul and an elementwise product: one accumulator, one term not a
    dot, so it keeps the loop form."""

    def loss(w, xs):
        def step(h, x):
            return L.np.tanh(h @ w + x * w[0]), None

        h, _ = L.lax.scan(step, L.np.ones((B, H)), xs)
        return (h * h).sum()

    return loss, (_randn(22, H, H), _randn(23, T, B, H))


@pytest.mark.parametrize("build", [_elementwise_weight, _invariant_operand, _mixed_terms])
def test_non_matching_bodies_keep_the_loop_form(build, monkeypatch):
    dots, loops = _lowered_counts(build)
    monkeypatch.setattr(scan_hoist, "MAX_EXTRA_STACKED_BYTES", -1)
    assert (dots, loops) == _lowered_counts(build)
    assert loops == 2
    monkeypatch.undo()
    _compare(build, "eager")


def _jax_lstm_dense(p, x):
    """nn.Sequential([nn.LSTM(8), nn.Dense(3)]) written in jax (gates i, f, g, o)."""
    cell = p["lstm_0"]

    def step(carry, xt):
        c, h = carry
        i, f, g, o = jnp.split(xt @ cell["wi"] + h @ cell["wh"] + cell["b"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    z = jnp.zeros((x.shape[0], cell["wh"].shape[0]), x.dtype)
    _, hs = jax.lax.scan(step, (z, z), jnp.moveaxis(x, 1, 0))
    return jnp.moveaxis(hs, 0, 1) @ p["dense_0"]["w"] + p["dense_0"]["b"]


def test_nn_lstm_grads_match_jax_and_hoist(monkeypatch):
    model = fn.nn.Sequential([fn.nn.LSTM(8), fn.nn.Dense(3)])
    x = _randn(24, 2, 7, 5)
    params, _ = model.init(fn.random.key(0), (-1, 7, 5))

    def loss(p):
        return (model.apply(p, fnp.asarray(x)) ** 2).sum()

    got = fn.jit(fn.grad(loss))(params)
    want = jax.jit(jax.grad(lambda p: (_jax_lstm_dense(p, jnp.asarray(x)) ** 2).sum()))(
        jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a)), params)
    )
    got_leaves, tree = jax.tree_util.tree_flatten(got)
    assert tree == jax.tree_util.tree_structure(want)
    for a, b in zip(got_leaves, jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5)
    hoisted = _top_level_dots(fn.grad(loss), [params])[0]
    monkeypatch.setattr(scan_hoist, "MAX_EXTRA_STACKED_BYTES", -1)
    assert hoisted - _top_level_dots(fn.grad(loss), [params])[0] == 1  # wh's cotangent


def test_zero_length_scan_gives_zero_cotangent():
    (f, (wx, wh, b, _)), (f_jax, _) = rnn(FN), rnn(JAX)
    args = (wx, wh, b, np.zeros((0, B, 5), np.float32))
    got = fn.jit(fn.grad(f, argnums=(0, 1, 2)))(*map(fnp.asarray, args))
    want = jax.jit(jax.grad(f_jax, argnums=(0, 1, 2)))(*map(jnp.asarray, args))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-6)


def test_second_order_through_the_hoisted_form():
    """Differentiating the backward pass (a Hessian-vector product) differentiates the
    hoisted dot_general too."""
    f_fn, (wh, xp, c0) = lstm(FN)
    f_jax, _ = lstm(JAX)
    v = _randn(25, *wh.shape)

    def hvp(grad, f):
        return lambda w: (grad(lambda w: f(w, xp, c0))(w) * v).sum()

    got = fn.jit(fn.grad(hvp(fn.grad, f_fn)))(fnp.asarray(wh))
    want = jax.jit(jax.grad(hvp(jax.grad, f_jax)))(jnp.asarray(wh))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


# --- loop-invariant residuals --------------------------------------------------------------


def _forward_scan_outputs(f, args):
    closed = fn.make_jaxpr(f)(*args)
    scans = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]
    return [tuple(v.aval.shape) for v in scans[0].outputs]


def test_invariant_residuals_are_not_stacked():
    """Residuals computed from the loop's constants only (here cos(w) and the zeros that
    add's jvp instantiates for the non-differentiated xt) are computed once, outside
    the loop, not stacked per step."""

    def make(L):
        def loss(w, xs):
            def step(h, x):
                return L.np.tanh(h @ w) * L.np.sin(w[0]) + x, None

            h, _ = L.lax.scan(step, L.np.ones((B, H)), xs)
            return (h * h).sum()

        return loss, (_randn(26, H, H), _randn(27, T, B, H))

    f, (w, xs) = make(FN)
    shapes = _forward_scan_outputs(fn.grad(f), [fnp.asarray(w), fnp.asarray(xs)])
    assert (T, H) not in shapes  # sin(w[0]) (a jvp residual) is not stacked
    _compare(make, "jit")
    f, (wh, xp, c0) = lstm(FN)
    shapes = _forward_scan_outputs(fn.grad(f), [fnp.asarray(a) for a in (wh, xp, c0)])
    assert (T, B, 4 * H) not in shapes  # the zeros tangent of xt


def test_an_operand_already_stacked_as_an_output_is_not_stacked_twice():
    """In the LSTM the gates' cotangent g_t (wh's cotangent's right operand) is also the
    cotangent of the projected input xt: the backward scan outputs it once."""
    f, args = lstm(FN)
    closed = fn.make_jaxpr(fn.grad(f, argnums=(0, 1)))(*map(fnp.asarray, args))
    backward = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"][1]
    assert [tuple(v.aval.shape) for v in backward.outputs].count((T, B, 4 * H)) == 1
