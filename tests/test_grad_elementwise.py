"""Derivatives of the elementwise primitives (unary math, binary arithmetic, select,
clamp, convert, integer-valued ops) against jax.jvp / jax.vjp, and check_grads to
order 2 in both modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grad_testing import assert_close, away_from, check_grad_of_sum, check_op, randn, rng, uniform

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.test_util import check_grads

SHAPE = (3, 4)


def _normal(r):
    return randn(r, *SHAPE)


def _positive(r):
    return uniform(r, 0.5, 2.0, *SHAPE)


def _unit(r):
    return uniform(r, -0.8, 0.8, *SHAPE)


def _no_zero(r):
    return away_from(r, SHAPE, [0.0], gap=0.3)


# name -> (funcnet op, jax op, sampler, extra options for check_op)
UNARY = {
    "neg": (lax.neg, jax.lax.neg, _normal, {}),
    "exp": (lax.exp, jax.lax.exp, _normal, {}),
    "exp2": (lax.exp2, jax.lax.exp2, _normal, {}),
    "log": (lax.log, jax.lax.log, _positive, {}),
    "log1p": (lax.log1p, jax.lax.log1p, _positive, {}),
    "expm1": (lax.expm1, jax.lax.expm1, _normal, {}),
    "tanh": (lax.tanh, jax.lax.tanh, _normal, {}),
    "logistic": (lax.logistic, jax.lax.logistic, _normal, {}),
    "sin": (lax.sin, jax.lax.sin, _normal, {}),
    "cos": (lax.cos, jax.lax.cos, _normal, {}),
    "tan": (lax.tan, jax.lax.tan, _unit, {}),
    "asin": (lax.asin, jax.lax.asin, _unit, {}),
    "acos": (lax.acos, jax.lax.acos, _unit, {}),
    "atan": (lax.atan, jax.lax.atan, _normal, {}),
    "sinh": (lax.sinh, jax.lax.sinh, _normal, {}),
    "cosh": (lax.cosh, jax.lax.cosh, _normal, {}),
    "asinh": (lax.asinh, jax.lax.asinh, _normal, {}),
    "acosh": (lax.acosh, jax.lax.acosh, lambda r: uniform(r, 1.3, 3.0, *SHAPE), {}),
    "atanh": (lax.atanh, jax.lax.atanh, _unit, {}),
    "sqrt": (lax.sqrt, jax.lax.sqrt, _positive, {}),
    "rsqrt": (lax.rsqrt, jax.lax.rsqrt, _positive, {}),
    "cbrt": (lax.cbrt, jax.lax.cbrt, _no_zero, {}),
    "abs": (lax.abs, jax.lax.abs, _no_zero, {}),
    "erf": (lax.erf, jax.lax.erf, _normal, {}),
    "erf_inv": (
        lax.erf_inv,
        jax.lax.erf_inv,
        lambda r: uniform(r, -0.7, 0.7, *SHAPE),
        dict(rtol=1e-4, atol=1e-5),
    ),
    "lgamma": (lax.lgamma, jax.lax.lgamma, _positive, dict(rtol=1e-4, atol=1e-5)),
    "digamma": (lax.digamma, jax.lax.digamma, _positive, dict(rtol=1e-4, atol=1e-5)),
    # x < 1/2 takes the reflection formula
    "digamma_negative": (
        lax.digamma,
        jax.lax.digamma,
        lambda r: uniform(r, -2.8, -2.2, *SHAPE),
        dict(rtol=1e-4, atol=1e-4),
    ),
    "square": (lax.square, jax.lax.square, _normal, {}),
    "copy": (lax.copy, lambda x: x, _normal, {}),
    "integer_pow_3": (
        lambda x: lax.integer_pow(x, 3),
        lambda x: jax.lax.integer_pow(x, 3),
        _normal,
        {},
    ),
    "integer_pow_-2": (
        lambda x: lax.integer_pow(x, -2),
        lambda x: jax.lax.integer_pow(x, -2),
        lambda r: uniform(r, 0.7, 2.0, *SHAPE),
        {},
    ),
    "integer_pow_1": (
        lambda x: lax.integer_pow(x, 1),
        lambda x: jax.lax.integer_pow(x, 1),
        _normal,
        {},
    ),
    "integer_pow_0": (
        lambda x: lax.integer_pow(x, 0),
        lambda x: jax.lax.integer_pow(x, 0),
        _normal,
        {},
    ),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name):
    f, jf, sample, opts = UNARY[name]
    check_op(f, jf, sample(rng(hash(name) % 1000)), **opts)


def test_digamma_derivative_matches_jax_polygamma():
    x = np.array([-2.7, -0.3, 0.1, 0.5, 1.0, 2.5, 7.0, 30.0, 1e3], np.float32)
    got = fn.vmap(fn.grad(lax.digamma))(x)
    want = jax.vmap(jax.grad(jax.lax.digamma))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-6)
    third = fn.grad(fn.grad(fn.grad(lax.lgamma)))(np.float32(1.5))
    np.testing.assert_allclose(
        float(third),
        float(jax.grad(jax.grad(jax.grad(jax.lax.lgamma)))(np.float32(1.5))),
        rtol=1e-5,
    )


def _pair(a_sampler, b_sampler):
    def sample(r):
        return a_sampler(r), b_sampler(r)

    return sample


def _distinct(r):
    a = _normal(r)
    return a, a + np.where(r.random(SHAPE) < 0.5, 1, -1).astype(np.float32) * uniform(
        r, 0.2, 1.0, *SHAPE
    )


BINARY = {
    "add": (lax.add, jax.lax.add, _pair(_normal, _normal), {}),
    "sub": (lax.sub, jax.lax.sub, _pair(_normal, _normal), {}),
    "mul": (lax.mul, jax.lax.mul, _pair(_normal, _normal), {}),
    "div": (lax.div, jax.lax.div, _pair(_normal, _no_zero), {}),
    # rem has kinks where x/y is an integer; keep |x| < |y| away from them.
    "rem": (
        lax.rem,
        jax.lax.rem,
        _pair(lambda r: uniform(r, -0.8, 0.8, *SHAPE), lambda r: uniform(r, 1.0, 2.0, *SHAPE)),
        {},
    ),
    "pow": (lax.pow, jax.lax.pow, _pair(_positive, _normal), {}),
    "max": (lax.max, jax.lax.max, _distinct, {}),
    "min": (lax.min, jax.lax.min, _distinct, {}),
    "atan2": (lax.atan2, jax.lax.atan2, _pair(_no_zero, _no_zero), {}),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name):
    f, jf, sample, opts = BINARY[name]
    check_op(f, jf, *sample(rng(hash(name) % 1000)), **opts)


@pytest.mark.parametrize("argnum", [0, 1])
def test_binary_one_side_only(argnum):
    # One operand a constant: the rules' symbolic-zero paths.
    r = rng(3)
    x, y = _positive(r), _normal(r)
    for f, jf in [
        (lax.mul, jax.lax.mul),
        (lax.div, jax.lax.div),
        (lax.pow, jax.lax.pow),
        (lax.atan2, jax.lax.atan2),
        (lax.sub, jax.lax.sub),
    ]:
        check_op(f, jf, x, y, diff=(argnum,), order=1)


def test_pow_at_zero_base_and_zero_exponent():
    # d/dy 0^y = 0 (the one-sided limit jax uses); d/dx x^0 = 0 everywhere, also at
    # x = 0, where jax 0.10 returns nan from 0 * 0^-1: there we insist on the limit.
    x = np.array([0.0, 0.0, 2.0, 1.5], np.float32)
    y = np.array([0.0, 2.0, 0.0, 1.0], np.float32)
    for argnum in (0, 1):
        want = np.asarray(jax.jit(jax.grad(lambda a, b: jnp.sum(jax.lax.pow(a, b)), argnum))(x, y))
        got = fn.grad(lambda a, b: fnp.sum(lax.pow(a, b)), argnum)(x, y)
        want = np.where(np.isnan(want) & (x == 0) & (y == 0), 0.0, want)
        assert_close(got, want, what=f"d pow / d arg{argnum}")


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_ties_share_like_jax(op):
    x = np.array([1.0, 2.0, 3.0, -1.0], np.float32)
    y = np.array([1.0, 1.0, 4.0, -1.0], np.float32)
    f, jf = getattr(lax, op), getattr(jax.lax, op)
    for argnum in (0, 1):
        want = jax.jit(jax.grad(lambda a, b: jnp.sum(jf(a, b)), argnum))(x, y)
        got = fn.grad(lambda a, b: fnp.sum(f(a, b)), argnum)(x, y)
        assert_close(got, want, what=f"{op} ties, arg {argnum}")
    # the fnp spellings too (ties with a broadcast scalar, as in relu)
    fm, jm = getattr(fnp, op + "imum"), getattr(jnp, op + "imum")
    z = np.array([-1.0, 0.0, 0.0, 2.0], np.float32)
    assert_close(
        fn.grad(lambda a: fnp.sum(fm(a, 0.0)))(z),
        jax.jit(jax.grad(lambda a: jnp.sum(jm(a, 0.0))))(z),
        what="relu-style tie",
    )


def test_abs_at_zero_like_jax():
    x = np.array([0.0, -0.0, 1.0, -2.0], np.float32)
    assert_close(
        fn.grad(lambda x: fnp.sum(fnp.abs(x)))(x),
        jax.jit(jax.grad(lambda x: jnp.sum(jnp.abs(x))))(x),
    )


# --- select, clamp, convert --------------------------------------------------------------


def test_select_via_where():
    r = rng(4)
    c = r.random(SHAPE) < 0.5
    check_op(
        lambda p, a, b: fnp.where(p, a, b),
        lambda p, a, b: jnp.where(p, a, b),
        c,
        _normal(r),
        _normal(r),
    )
    # scalar branches broadcast
    check_op(lambda p, a: fnp.where(p, a, 0.0), lambda p, a: jnp.where(p, a, 0.0), c, _normal(r))


def test_select_n_int_predicate_three_cases():
    r = rng(5)
    which = r.integers(0, 3, SHAPE).astype(np.int32)
    check_op(
        lambda w, a, b, c: lax.select_n(w, a, b, c),
        lambda w, a, b, c: jax.lax.select_n(w, a, b, c),
        which,
        _normal(r),
        _normal(r),
        _normal(r),
    )


def test_clamp():
    r = rng(6)
    x = away_from(r, SHAPE, [-0.5, 0.5], gap=0.1)
    check_op(
        lambda x: lax.clamp(np.float32(-0.5), x, np.float32(0.5)),
        lambda x: jax.lax.clamp(np.float32(-0.5), x, np.float32(0.5)),
        x,
    )
    # array bounds, differentiated too
    lo, hi = x - 1.0 + 0.3 * _positive(r), x + 1.0 - 0.3 * _positive(r)
    lo = np.where(r.random(SHAPE) < 0.3, x + 0.2, lo).astype(np.float32)
    check_op(lax.clamp, jax.lax.clamp, lo, x, hi)
    check_op(lambda x: fnp.clip(x, -0.5, 0.5), lambda x: jnp.clip(x, -0.5, 0.5), x)


def test_clamp_and_clip_ties_like_jax():
    # lax.clamp passes no tangent at a tie; clip (max then min) shares it in halves.
    x = np.array([0.0, 0.5, 2.0, 1.0, 3.0], np.float32)
    lo = np.array([0.0, 1.0, 2.0, -1.0, 3.0], np.float32)
    hi = np.array([2.0, 2.0, 2.5, 1.0, 3.0], np.float32)
    check_grad_of_sum(lax.clamp, jax.lax.clamp, lo, x, hi, argnums=(0, 1, 2))
    check_grad_of_sum(
        lambda x: lax.clamp(np.float32(0), x, np.float32(2)),
        lambda x: jax.lax.clamp(np.float32(0), x, np.float32(2)),
        x,
    )
    check_grad_of_sum(lambda x: fnp.clip(x, 0.0, 2.0), lambda x: jnp.clip(x, 0.0, 2.0), x)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_convert_between_floats(dtype):
    r = rng(7)
    x = _normal(r)
    tol = dict(rtol=1e-2, atol=1e-2)
    check_op(
        lambda x: lax.convert_element_type(lax.convert_element_type(x, dtype), "float32") * x,
        lambda x: (
            jax.lax.convert_element_type(jax.lax.convert_element_type(x, dtype), "float32") * x
        ),
        x,
        cg=False,
        **tol,
    )
    # the cotangent of a low-precision output comes back as float32
    g = fn.grad(lambda x: fnp.sum(x.astype(dtype)).astype(np.float32))(fn.asarray(x))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(g), np.ones(SHAPE, np.float32))


def test_convert_to_integer_has_zero_tangent():
    x = fn.asarray(np.array([0.3, 1.7, -2.2], np.float32))

    def f(x):
        return fnp.sum(lax.convert_element_type(x, "int32").astype(np.float32) * x)

    def jf(x):
        return jnp.sum(jax.lax.convert_element_type(x, "int32").astype(np.float32) * x)

    assert_close(fn.grad(f)(x), jax.jit(jax.grad(jf))(np.asarray(x)))
    _, t = fn.jvp(lambda x: lax.convert_element_type(x, "int32"), (x,), (fnp.ones(3),))
    assert t.dtype == np.int32 or np.all(np.asarray(t) == 0)


# --- integer-valued ops: zero tangents ---------------------------------------------------

ZERO_TANGENT = {
    "sign": lambda x: lax.sign(x),
    "floor": lambda x: lax.floor(x),
    "ceil": lambda x: lax.ceil(x),
    "round": lambda x: lax.round(x),
    "round_even": lambda x: lax.round(x, 1),
    "is_finite": lambda x: lax.is_finite(x).astype(np.float32),
    "nextafter": lambda x: lax.nextafter(x, fnp.zeros_like(x)),
    "compare": lambda x: (x > 0.1).astype(np.float32) + (x <= 0.3) + (x == x) + (x != 0.5),
    "argmax": lambda x: lax.argmax(x, 1).astype(np.float32),
    "argmin": lambda x: lax.argmin(x, 0).astype(np.float32),
    "reduce_or": lambda x: lax.reduce_or(x > 0, (0,)).astype(np.float32),
    "reduce_and": lambda x: lax.reduce_and(x > 0, (1,)).astype(np.float32),
    "trunc": lambda x: fnp.trunc(x),
    "floor_divide": lambda x: fnp.floor_divide(x, 0.7),
    "iota": lambda x: lax.broadcasted_iota(np.float32, x.shape, 1) + 0 * x,
}


@pytest.mark.parametrize("name", list(ZERO_TANGENT))
def test_integer_valued_ops_have_zero_tangents(name):
    f = ZERO_TANGENT[name]
    x = fn.asarray(away_from(rng(8), SHAPE, [-2, -1, 0, 1, 2, -0.5, 0.5, 1.5, -1.5], 0.1))
    out, t = fn.jvp(f, (x,), (fnp.ones(SHAPE),))
    assert_close(t, np.zeros(np.shape(out), np.float32))
    g = fn.grad(lambda x: fnp.sum(f(x) * 3.0))(x)
    assert_close(g, np.zeros(SHAPE, np.float32))


def test_integer_bitwise_ops_in_a_float_function():
    # bitwise and shift ops on integers derived from the input contribute nothing.
    def f(x):
        i = lax.convert_element_type(x * 4.0, "int32")
        j = (
            ((i & 3) | (i ^ 5))
            + lax.shift_left(i, fnp.ones_like(i))
            + lax.shift_right_arithmetic(i, fnp.ones_like(i))
            + lax.shift_right_logical(i, fnp.ones_like(i))
            + ~i
        )
        return fnp.sum(j.astype(np.float32) * x)

    def jf(x):
        i = jax.lax.convert_element_type(x * 4.0, "int32")
        j = (
            ((i & 3) | (i ^ 5))
            + jax.lax.shift_left(i, jnp.ones_like(i))
            + jax.lax.shift_right_arithmetic(i, jnp.ones_like(i))
            + jax.lax.shift_right_logical(i, jnp.ones_like(i))
            + ~i
        )
        return jnp.sum(j.astype(np.float32) * x)

    x = away_from(rng(9), SHAPE, [k / 4 for k in range(-12, 13)], 0.02)
    assert_close(fn.grad(f)(x), jax.jit(jax.grad(jf))(x))


def test_bool_mul_and_logical_ops():
    def f(x):
        b = (x > 0) * (x < 1)  # bool mul
        return fnp.sum(fnp.where(b, x * x, -x))

    def jf(x):
        b = (x > 0) * (x < 1)
        return jnp.sum(jnp.where(b, x * x, -x))

    x = away_from(rng(10), SHAPE, [0, 1], 0.1)
    assert_close(fn.grad(f)(x), jax.jit(jax.grad(jf))(x))
    check_grads(f, (fn.asarray(x),), order=2)


def test_second_order_elementwise_chain_matches_jax():
    x = _unit(rng(11))

    def f(x):
        return fnp.sum(fnp.tanh(fnp.sin(x) * fnp.exp(x)) / (1 + x * x))

    def jf(x):
        return jnp.sum(jnp.tanh(jnp.sin(x) * jnp.exp(x)) / (1 + x * x))

    v = randn(rng(12), *SHAPE)
    want = jax.jit(lambda x, v: jax.jvp(jax.grad(jf), (x,), (v,))[1])(x, v)
    got = fn.jvp(fn.grad(f), (fn.asarray(x),), (fn.asarray(v),))[1]
    assert_close(got, want, rtol=1e-4, atol=1e-5)
    got_rr = fn.vjp(fn.grad(f), fn.asarray(x))[1](fn.asarray(v))[0]
    assert_close(got_rr, want, rtol=1e-4, atol=1e-5)


def test_weak_typed_scalar_operands():
    # Python scalars mixed in (weakly typed) keep float32 tangents.
    def f(x):
        return fnp.sum(2.0 * x**2 + 1.0 / (x + 3.0) - fnp.maximum(x, 0.5) * 0.25)

    def jf(x):
        return jnp.sum(2.0 * x**2 + 1.0 / (x + 3.0) - jnp.maximum(x, 0.5) * 0.25)

    x = away_from(rng(13), SHAPE, [0.5], 0.1)
    g = fn.grad(f)(x)
    assert g.dtype == np.float32
    assert_close(g, jax.jit(jax.grad(jf))(x))
    # a Python float argument
    assert_close(fn.grad(lambda s: s * s * 3.0)(2.0), 12.0)
