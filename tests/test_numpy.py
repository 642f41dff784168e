"""funcnet.numpy against jax.numpy (and NumPy where jax agrees with it), eager and under jit.

`check(body, args)` runs `body(fnp, *args)` eagerly and under `fn.jit`. The expected
result types (pytree structure, shapes, dtypes) are jax.numpy's, from
`jax.eval_shape(body(jnp, ...))` with jax's x64 mode off (funcnet's default); the
expected values are NumPy's, `body(np, ...)` on the same inputs, where jax agrees with
NumPy. Neither reference compiles anything. Each new (op, shape, dtype) compiles a
small XLA program for funcnet, so tests bundle many ops into one function (one jit
compile), keep shapes small and shared, and run the eager path on the common dtypes
while jit covers them all (both paths share funcnet.numpy's Python code and the
lowering rules).
"""

import operator
import pickle

import jax
import jax.numpy as jnp
import jax.scipy.special
import ml_dtypes
import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcnet as fn
import funcnet.numpy as fnp

assert not jax.config.jax_enable_x64, "the reference must run with jax's x64 mode off"

MODES = ("eager", "jit")
JIT_ONLY = ("jit",)
BF16 = np.dtype(ml_dtypes.bfloat16)
LOW_FLOATS = (np.dtype(np.float16), BF16)
FAST = settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


# --- the references: jax.numpy for types, NumPy for values ---------------------------


class _Namespace:
    """A module plus a few replacements (functions that live elsewhere or need care)."""

    def __init__(self, module, **overrides):
        self._module, self._overrides = module, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._module, name)


def _via_float64(np_fn):
    """NumPy computes int8/uint8 in float16 here; jax (and funcnet) use float32."""

    def fn(x, *args, **kwargs):
        x = np.asarray(x)
        return np_fn(x.astype(np.float64) if x.dtype.kind in "biu" else x, *args, **kwargs)

    return fn


_FLOAT_UFUNCS = [
    "exp",
    "exp2",
    "log",
    "log1p",
    "expm1",
    "log2",
    "log10",
    "sqrt",
    "tanh",
    "sin",
    "cos",
    "tan",
    "arctan2",
]
NP = _Namespace(
    np,
    **{n: _via_float64(getattr(np, n)) for n in _FLOAT_UFUNCS},
    bfloat16=BF16,
    rsqrt=_via_float64(lambda x: 1 / np.sqrt(x)),
    logsumexp=scipy.special.logsumexp,
    argsort=lambda a, axis=-1: np.argsort(a, axis=axis, kind="stable"),
)
JNP = _Namespace(jnp, rsqrt=lambda x: 1 / jnp.sqrt(x), logsumexp=jax.scipy.special.logsumexp)


def make(shape, dtype, seed=0, low=-5, high=5):
    """A deterministic test array: small integers for int dtypes, normals for floats."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        low = max(low, np.iinfo(dtype).min)
        return rng.integers(low, high + 1, shape).astype(dtype)
    return (rng.standard_normal(shape) * 2).astype(dtype)


def is_float(dtype):
    return np.dtype(dtype).kind == "f" or np.dtype(dtype) == BF16  # bfloat16's kind is "V"


def modes_for(dtype):
    """Eager on the common dtypes, jit on all of them."""
    return MODES if np.dtype(dtype) in (np.float32, np.int32) else JIT_ONLY


def _tol(dtype):
    return {BF16: 2e-2, np.dtype(np.float16): 4e-3, np.dtype(np.float32): 2e-6}.get(
        np.dtype(dtype), 0
    )


def _map_arrays(fn, args):
    return jax.tree_util.tree_map(lambda a: fn(a) if isinstance(a, np.ndarray) else a, list(args))


def _numpy_input(a):
    # NumPy accumulates float16/bfloat16 in their own precision; jax uses float32.
    return a.astype(np.float32) if a.dtype in LOW_FLOATS else a


def expected(body, args):
    """(result types from jax.numpy, flat values from NumPy) for body(m, *args)."""
    types = jax.eval_shape(lambda *a: body(JNP, *a), *args)
    with np.errstate(all="ignore"):
        values = body(NP, *_map_arrays(_numpy_input, args))
    return types, jax.tree_util.tree_leaves(values)


def assert_close(out, value, dtype, rtol=None, atol=None, where=""):
    """out (a funcnet Array) has dtype `dtype` and NumPy's value up to the dtype's tolerance."""
    assert isinstance(out, fn.Array), (where, type(out))
    value = np.asarray(value)
    assert (out.shape, out.dtype) == (value.shape, np.dtype(dtype)), (
        where,
        out.shape,
        out.dtype,
        value.shape,
        dtype,
    )
    out = np.asarray(out)
    if is_float(dtype):
        out, value = out.astype(np.float64), value.astype(np.float64)
    else:  # integers wrap and bools are bools in both
        value = value.astype(dtype)
    tol = _tol(dtype)
    np.testing.assert_allclose(
        out,
        value,
        rtol=tol if rtol is None else rtol,
        atol=tol if atol is None else atol,
        err_msg=where,
    )


def assert_matches(out, types, values, rtol=None, atol=None):
    """out has the structure, shapes and dtypes of `types` and the flat `values`."""
    out_leaves, out_tree = jax.tree_util.tree_flatten(out)
    type_leaves, type_tree = jax.tree_util.tree_flatten_with_path(types)
    assert out_tree == jax.tree_util.tree_structure(types), (out_tree, type_tree)
    assert len(values) == len(out_leaves), (len(values), len(out_leaves))
    for o, (path, t), v in zip(out_leaves, type_leaves, values):
        where = jax.tree_util.keystr(path)
        assert o.shape == t.shape, (where, o.shape, t.shape)
        assert_close(o, np.broadcast_to(v, t.shape), t.dtype, rtol, atol, where)


def run(f, args, mode):
    """f on funcnet arrays, eagerly or under jit. Python scalars pass through as they are."""
    args = _map_arrays(fnp.asarray, args)
    return fn.jit(f)(*args) if mode == "jit" else f(*args)


def check(body, args=(), modes=MODES, rtol=None, atol=None):
    """body(fnp, *args) in each mode against jax.numpy's types and NumPy's values."""
    types, values = expected(body, args)
    for mode in modes:
        try:
            assert_matches(run(lambda *a: body(fnp, *a), args, mode), types, values, rtol, atol)
        except AssertionError as e:
            raise AssertionError(f"[{mode}] {e}") from None


# --- elementwise ufuncs ------------------------------------------------------------

SPECIAL = np.array(
    [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 3.7, -3.7, np.inf, -np.inf, np.nan], np.float32
)
UNARY = [
    "exp",
    "tanh",
    "sin",
    "cos",
    "abs",
    "sign",
    "negative",
    "square",
    "floor",
    "ceil",
    "round",
    "trunc",
    "isnan",
    "isinf",
    "isfinite",
    "logical_not",
]
POSITIVE_DOMAIN = ["log", "log1p", "sqrt", "rsqrt", "expm1", "log2", "log10", "exp2"]
NOT_FOR_BOOL = {"negative", "sign", "square", "abs", "round"}  # jax rejects these on bool


def _unary(names):
    return lambda m, a: {n: getattr(m, n)(a) for n in names}


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int32, np.uint8, np.bool_])
def test_unary(dtype):
    names = [n for n in UNARY if not (dtype == np.bool_ and n in NOT_FOR_BOOL)]
    check(_unary(names), [make((2, 3), dtype)], modes_for(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
def test_unary_positive_domain(dtype):
    x = np.abs(make((2, 3), dtype)) + np.asarray(1, dtype)
    check(
        _unary(POSITIVE_DOMAIN),
        [x],
        modes_for(dtype),
        rtol=1e-5 if dtype in (np.float32, np.int32, np.uint8) else None,
    )


def test_unary_special_values():
    """inf, nan, signed zeros and halfway cases (round is half-to-even)."""
    check(_unary([*UNARY, "sqrt", "log", "log1p", "expm1"]), [SPECIAL], JIT_ONLY)


def test_unary_on_python_values():
    check(
        lambda m: (
            m.exp(1.0),
            m.sqrt(4),
            m.abs(m.asarray([-1, 2])),
            m.floor(2.5),
            m.negative(3),
            m.isnan(1.0),
            m.sign(-2.0),
            m.round(2.5),
        )
    )


def test_round_decimals():
    x = np.array([1.2345, -2.5551, 123.456, 0.125, 2.5], np.float32)
    check(
        lambda m, a: (m.round(a, 2), m.round(a, 1), m.round(a, -1), m.around(a, 3), a.round(1)),
        [x],
        rtol=1e-6,
    )


def test_round_integers_to_tens():
    """NumPy rounds integers half to even at negative decimals (jax refuses)."""
    x = np.array([15, 25, -35, 7, -25, 45, 149, -150], np.int32)
    for out in (fnp.round(x, -1), fn.jit(lambda a: a.round(-2))(x)):
        assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(fnp.round(x, -1)), np.round(x, -1))
    np.testing.assert_array_equal(np.asarray(fn.jit(lambda a: a.round(-2))(x)), np.round(x, -2))


BINARY = [
    "add",
    "subtract",
    "multiply",
    "true_divide",
    "floor_divide",
    "remainder",
    "maximum",
    "minimum",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "fmod",
]
OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _apply_ops(a, b):
    return {name: op(a, b) for name, op in OPERATORS.items()}


def _nonzero(y):
    """No division by zero: jax and NumPy disagree there, and integer division traps."""
    return np.where(y == 0, np.asarray(3, y.dtype), y).astype(y.dtype)


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int32, np.uint8])
def test_binary(dtype):
    x, y = make((2, 3), dtype, seed=1), _nonzero(make((2, 3), dtype, seed=2))
    names = BINARY + (["arctan2"] if is_float(dtype) else [])
    check(
        lambda m, a, b: {n: getattr(m, n)(a, b) for n in names},
        [x, y],
        modes_for(dtype),
        rtol=1e-5 if dtype == np.float32 else None,
    )


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int32, np.uint8])
def test_operators_with_python_scalars(dtype):
    """Each operator and its reflected form, with weakly typed Python scalars."""
    x, y = _nonzero(make((2, 3), dtype, seed=1, low=1)), _nonzero(make((2, 3), dtype, seed=2))
    eager = dtype in (np.float32, np.int32)  # eager programs here are test_binary's
    check(
        lambda m, a, b: (
            (_apply_ops(a, 3), _apply_ops(2.5, a)) + ((_apply_ops(a, b),) if eager else ())
        ),
        [x, y],
        ("eager",) if eager else JIT_ONLY,
    )
    check(
        lambda m, a: (
            (a + True, a * -2, -7 // a, a - 1.5) if dtype != np.uint8 else (a + True, True * a)
        ),
        [x],
        JIT_ONLY,
    )


def test_aliases():
    assert fnp.divide is fnp.true_divide and fnp.mod is fnp.remainder
    assert fnp.abs is fnp.absolute and fnp.around is fnp.round
    assert fnp.amax is fnp.max and fnp.amin is fnp.min and fnp.bitwise_not is fnp.invert


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.float32])
def test_floor_divide_and_mod_signs(dtype):
    """Python semantics: the quotient floors, the remainder takes the divisor's sign."""
    a = np.array([7, -7, 7, -7, 6, -6, 0, 1, -1, -128 if dtype == np.int8 else 9], dtype)
    b = np.array([2, 2, -2, -2, 3, -3, 5, -5, 5, -1 if dtype != np.int32 else 4], dtype)
    check(
        lambda m, x, y: (x // y, x % y, m.floor_divide(x, -3), m.remainder(x, -3), 7 // y, -7 % y),
        [a, b],
        modes_for(dtype),
    )


def test_float_floor_divide_keeps_divmod_identity():
    """x == y * (x // y) + x % y: 1 // 0.1 is 9 (as NumPy and jax), not floor(1 / 0.1)."""
    a = np.array([1.0, -1.0, 0.3, 7.0, -7.5, 7.5, 5.0, 7.0, -7.0], np.float32)
    b = np.array([0.1, 0.1, 0.1, 0.7, 2.0, np.inf, -np.inf, 0.0, 0.0], np.float32)
    check(lambda m, x, y: (x // y, x % y, m.floor_divide(x, 0.1)), [a, b])


def test_unsigned_floor_divide_and_mod():
    a = np.array([7, 200, 0, 255], np.uint8)
    b = np.array([2, 3, 5, 16], np.uint8)
    check(lambda m, x, y: (x // y, x % y, m.fmod(x, y), m.remainder(x, 3)), [a, b])


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int32, np.uint8])
def test_power_integer_exponents(dtype):
    x = make((2, 3), dtype, low=-3, high=3)
    check(lambda m, a: (a**0, a**1, a**2, a**3, a**5, m.power(a, 3)), [x], modes_for(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16])
def test_power_negative_and_float_exponents(dtype):
    x = np.abs(make((2, 3), dtype)) + np.asarray(0.5, dtype)
    y = make((2, 3), dtype, seed=3)
    check(
        lambda m, a, b: (a**-1, a**-2, a**0.5, a**2.5, 2.0**a, 2**a, m.power(a, b), a**b),
        [x, y],
        modes_for(dtype),
        rtol=1e-5 if dtype == np.float32 else None,
    )


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint8])
def test_power_integer_arrays(dtype):
    """Integer base and integer exponent arrays stay integers, as in jax and NumPy (they
    wrap on overflow in both)."""
    x = make((2, 4), dtype, low=-3, high=3)
    y = make((2, 4), dtype, seed=4, low=0, high=9)
    check(lambda m, a, b: (m.power(a, b), a**b, 2**b, m.power(a, 4)), [x, y], modes_for(dtype))


def test_power_integer_negative_exponents():
    """NumPy raises; funcnet (like C truncation of the reciprocal) gives 0, or ±1 for ±1."""
    x = fnp.asarray(np.array([2, 1, -1, -1, 3, 0], np.int32))
    y = fnp.asarray(np.array([-1, -5, -3, -2, 0, 2], np.int32))
    np.testing.assert_array_equal(np.asarray(x**y), [0, 1, -1, 1, 1, 0])
    with pytest.raises(ValueError):
        fnp.power(fnp.arange(3), -1)


def test_power_bool():
    check(lambda m, a: (a**2, m.power(a, 3), m.power(a, a)), [np.array([True, False])])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8])
def test_clip(dtype):
    x = make((2, 3), dtype)
    lo, hi = make((3,), dtype, seed=5, low=0, high=1), make((2, 1), dtype, seed=6, low=2)
    check(
        lambda m, a, b, c: (
            m.clip(a, 1, 3),
            m.clip(a, None, 2),
            a.clip(0),
            m.clip(a, b, c),
            m.clip(a, 0.5, 2.5),
        ),
        [x, lo, hi],
        modes_for(dtype),
    )


def test_where():
    c = make((2, 3), np.bool_)
    x, y, i8 = make((2, 3), np.float32), make((3,), np.int32), make((3,), np.int8)
    check(
        lambda m, c, x, y, i8: (
            m.where(c, x, y),
            m.where(c[0], 1.0, y),
            m.where(y, x, 0),
            m.where(x > 0, x, 0),
            m.where(i8 > 0, i8, 2),
            m.where(c, 1, 2.5),
            m.where(True, i8, y),
        ),
        [c, x, y, i8],
    )
    # One argument: nonzero (concrete), or with size= under jit, as jnp.where.
    v = np.array([[0, 3, 0], [4, 0, 5]], np.int32)
    for got, want in zip(fnp.where(v), jnp.where(v)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    got = fn.jit(lambda a: fnp.where(a, size=4, fill_value=-1))(v)
    for g, w in zip(got, jnp.where(v, size=4, fill_value=-1)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    with pytest.raises(TypeError, match="size"):
        fn.jit(lambda a: fnp.where(a))(v)
    with pytest.raises(ValueError, match="both or neither"):
        fnp.where(v > 0, 1.0)


@pytest.mark.parametrize("dtype", [np.bool_, np.int32, np.uint8])
def test_logical_and_bitwise(dtype):
    x, y = make((2, 3), dtype, seed=1), make((2, 3), dtype, seed=2)
    names = ["logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"]
    check(
        lambda m, a, b: (
            {n: getattr(m, n)(a, b) for n in names},
            m.logical_not(a),
            m.invert(a),
            m.bitwise_not(a),
            a & b,
            a | b,
            a ^ b,
            ~a,
            a & True if dtype == np.bool_ else a & 1,
            3 | b,
        ),
        [x, y],
        MODES if dtype in (np.bool_, np.int32) else JIT_ONLY,
    )


def test_logical_on_floats():
    x, y = np.array([0.0, 1.5, -2.0, np.nan], np.float32), np.array([0, 0, 3, 1], np.int32)
    check(
        lambda m, a, b: (
            m.logical_and(a, b),
            m.logical_or(a, b),
            m.logical_xor(a, b),
            m.logical_not(a),
        ),
        [x, y],
    )
    with pytest.raises(TypeError):
        fnp.bitwise_and(fnp.ones(3), fnp.ones(3))
    with pytest.raises(TypeError):
        ~fnp.ones(3)


def test_bool_arithmetic():
    """bool + bool is logical or in NumPy and jax; bool * bool is and."""
    x, y = make((2, 3), np.bool_, seed=1), make((2, 3), np.bool_, seed=2)
    check(
        lambda m, a, b: (
            a + b,
            a * b,
            m.maximum(a, b),
            m.minimum(a, b),
            a + 1,
            a * 2.5,
            a == b,
            a < b,
        ),
        [x, y],
    )


@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    name=st.sampled_from(["add", "multiply", "maximum", "less", "floor_divide", "where"]),
)
@FAST
def test_broadcasting_binary_ops(shapes, name):
    """Random broadcast-compatible shapes (eager: one small program per shape)."""
    a, b = shapes.input_shapes
    x, y = make(a, np.float32, seed=1), _nonzero(make(b, np.int32, seed=2))
    if name == "where":
        check(lambda m, x, y: m.where(x > 0, x, y), [x, y], ("eager",))
    else:
        check(lambda m, x, y: getattr(m, name)(x, y), [x, y], ("eager",))


def test_incompatible_broadcast_raises():
    with pytest.raises(ValueError, match="broadcast"):
        fnp.ones((2, 3)) + fnp.ones((4,))


# --- reductions ----------------------------------------------------------------------

REDUCTIONS = ["sum", "mean", "max", "min", "prod", "any", "all", "var", "std"]


@pytest.mark.parametrize("axis", [None, -1, (0, 2), 0, 1, (-1, 0), ()], ids=str)
def test_reductions_axes(axis):
    x = make((2, 3, 4), np.float32) / 2
    common = axis in (None, -1, (0, 2))
    names = REDUCTIONS if common else ["sum", "max", "all", "var"]
    check(
        lambda m, a: [
            {n: getattr(m, n)(a, axis=axis, keepdims=k) for n in names} for k in (False, True)
        ],
        [x],
        MODES if axis in (None, (0, 2)) else JIT_ONLY,
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, BF16])
def test_reductions_dtypes(dtype):
    """Result dtypes follow jax: small ints sum in int32/uint32, mean of ints is float, ..."""
    x = make((2, 3), dtype, low=-2, high=2)
    names = [*REDUCTIONS, "cumsum", "cumprod", "argmax", "argmin"]
    check(
        lambda m, a: (
            {n: getattr(m, n)(a, axis=1) for n in names},
            {n: getattr(m, n)(a) for n in ("sum", "mean", "max", "var")},
        ),
        [x],
        modes_for(dtype),
    )


@pytest.mark.parametrize("axis", [None, (1, 2), -1], ids=str)
def test_var_std_ddof(axis):
    x = make((2, 3, 4), np.float32)
    check(
        lambda m, a: [
            (
                m.var(a, axis=axis, ddof=d),
                m.std(a, axis=axis, ddof=d),
                a.var(axis, ddof=d, keepdims=True),
            )
            for d in (0, 1, 2)
        ],
        [x],
        JIT_ONLY,
        rtol=1e-5,
    )


def test_argmax_argmin():
    x = make((3, 4), np.float32)
    x[1, 2] = x[1, 0] = x.max() + 1  # ties: the first index wins
    x[2, 1] = x[2, 3] = x.min() - 1
    nan = np.array([[1.0, np.nan, 3.0], [np.nan, 0.0, -1.0]], np.float32)
    check(
        lambda m, a, n: [
            (
                m.argmax(a, axis=ax, keepdims=k),
                m.argmin(a, ax, keepdims=k),
                m.argmax(n, ax),
                m.argmin(n, ax),
            )
            for ax in (None, 0, -1)
            for k in (False, True)
        ],
        [x, nan],
        JIT_ONLY,
    )
    check(lambda m, a, n: (m.argmax(a, 1), m.argmin(a), m.argmax(n, 0)), [x, nan])


def test_cumulative():
    x, i = make((3, 4), np.float32) / 2, make((3, 4), np.int32, low=-2, high=2)
    check(lambda m, a, b: (m.cumsum(a, 1), m.cumprod(b, axis=0), m.cumsum(a)), [x, i], rtol=1e-5)
    check(
        lambda m, a, b: [
            (
                m.cumsum(a, ax),
                m.cumprod(a, ax),
                m.cumsum(b, ax),
                m.cumprod(b, axis=ax),
                m.cumsum(a > 0, ax),
            )
            for ax in (None, 0, -1)
        ],
        [x, i],
        JIT_ONLY,
        rtol=1e-5,
    )


def test_logsumexp():
    x = make((2, 3, 4), np.float32) * 10
    inf = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, -np.inf]], np.float32)
    check(lambda m, a, b: (m.logsumexp(a, axis=-1), m.logsumexp(b, axis=1)), [x, inf], rtol=1e-5)
    check(
        lambda m, a: [
            m.logsumexp(a, axis=ax, keepdims=k)
            for ax in (None, 0, -1, (0, 2))
            for k in (False, True)
        ],
        [x],
        JIT_ONLY,
        rtol=1e-5,
    )


def test_reduction_methods():
    check(
        lambda m, a: (
            a.sum(),
            a.mean(0),
            a.max(axis=-1),
            a.min(keepdims=True),
            a.prod(1),
            a.var(),
            a.std(ddof=1),
            a.argmax(),
            a.argmin(0),
            a.any(),
            a.all(1),
            a.cumsum(1),
            a.cumprod(),
        ),
        [make((2, 3), np.float32)],
        JIT_ONLY,
        rtol=1e-5,
    )


def test_reduction_dtype_and_initial():
    check(
        lambda m, a: (
            m.sum(a, dtype=m.float32),
            m.max(a, initial=4),
            m.sum(a, axis=0, initial=10),
            m.min(a, 1, initial=-3),
            m.mean(a, dtype=m.float16),
            m.cumsum(a, dtype=m.float32),
            m.prod(a, dtype=m.int8),
        ),
        [make((2, 3), np.int8)],
        JIT_ONLY,
    )


def test_empty_reductions():
    x = np.ones((0, 3), np.float32)
    check(
        lambda m, a: (
            m.sum(a, 0),
            m.prod(a, 0),
            m.any(a, 0),
            m.all(a, 0),
            m.max(a, 1),
            m.cumsum(a, 0),
            m.sum(a),
        ),
        [x],
        JIT_ONLY,
    )


def test_reduction_errors():
    with pytest.raises(ValueError):
        fnp.sum(fnp.ones((2, 3)), axis=2)
    with pytest.raises(ValueError):
        fnp.sum(fnp.ones((2, 3)), axis=(0, 0))
    with pytest.raises(ValueError):
        fnp.max(fnp.ones((0, 3)), axis=0)
    with pytest.raises(ValueError):
        fnp.argmax(fnp.ones((2, 3)), axis=-3)


# --- products --------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
]


def test_matmul():
    ops = [(make(a, np.float32, seed=1), make(b, np.float32, seed=2)) for a, b in MATMUL_SHAPES]
    check(
        lambda m, *ops: [(m.matmul(a, b), a @ b) for a, b in ops],
        ops,
        JIT_ONLY,
        rtol=1e-5,
        atol=1e-5,
    )
    check(lambda m, *ops: [a @ b for a, b in ops], [ops[0], ops[3], ops[6]], rtol=1e-5, atol=1e-5)


def test_matmul_mixed_dtypes():
    a, b, c = make((2, 3), np.int32), make((3, 2), BF16), make((3, 4), np.int8)
    check(
        lambda m, a, b, c: (
            m.matmul(a, b),
            a @ c,
            m.ones((2, 2), m.float32) @ a,
            a.astype(m.float16) @ b,
            np.ones((2, 2), np.float32) @ a,
        ),
        [a, b, c],
        JIT_ONLY,
    )


def test_matmul_errors():
    with pytest.raises(TypeError):
        fnp.ones((2, 3)) @ fnp.ones((4, 2))
    with pytest.raises(ValueError):
        fnp.matmul(fnp.ones(()), fnp.ones((2,)))
    with pytest.raises(ValueError):
        fnp.ones((2, 2, 3)) @ fnp.ones((3, 3, 4))


DOT_SHAPES = [
    ((), (3,)),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((3,), (3, 2)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (4, 3, 5)),
    ((2, 2, 3), (4, 3, 5)),
]


def test_dot_inner_outer_vdot():
    ops = [(make(a, np.float32, seed=1), make(b, np.float32, seed=2)) for a, b in DOT_SHAPES]
    v = [make(s, np.float32, seed=3) for s in [(3,), (2, 3), (4, 3)]]
    check(
        lambda m, v3, v23, v43, *ops: (
            [m.dot(a, b) for a, b in ops],
            [a.dot(b) for a, b in ops[1:3]],
            m.inner(v3, v3),
            m.inner(v23, v43),
            m.inner(2.0, v23),
            m.outer(v3, v3),
            m.outer(v23, v43),
            m.vdot(v3, v3),
            m.vdot(v23, v23),
        ),
        [*v, *ops],
        JIT_ONLY,
        rtol=1e-5,
        atol=1e-5,
    )
    check(
        lambda m, a, b: (m.dot(a, b), m.inner(a, a), m.outer(a, b[0]), m.vdot(a, a)),
        [v[1], ops[3][1]],
        rtol=1e-5,
        atol=1e-5,
    )


TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3), (3, 4), 1),
    ((2, 3), (4, 5), 0),
    ((2, 3, 4), (4, 3, 5), ((1, 2), (1, 0))),
    ((2, 3, 4), (5, 2), ([0], [1])),
    ((2, 3, 4), (4, 5), (-1, 0)),
]


def test_tensordot():
    ops = [
        (make(a, np.float32, seed=1), make(b, np.float32, seed=2)) for a, b, _ in TENSORDOT_CASES
    ]
    axes = [c[2] for c in TENSORDOT_CASES]
    check(
        lambda m, *ops: [m.tensordot(a, b, axes=ax) for (a, b), ax in zip(ops, axes)],
        ops,
        JIT_ONLY,
        rtol=1e-5,
        atol=1e-5,
    )
    check(lambda m, a, b: m.tensordot(a, b), list(ops[0]), rtol=1e-5, atol=1e-5)


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output: sorted free labels
    ("ba,ac", [(3, 2), (2, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ji", [(2, 3)]),  # implicit output transposes
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("bij,jk->bki", [(5, 2, 3), (3, 4)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]),
    ("...ij,jk->...ik", [(6, 5, 2, 3), (3, 4)]),
    ("ij...,j...->i...", [(2, 3, 4), (3, 4)]),
    ("...i,...i", [(2, 3), (2, 3)]),
    ("...,...", [(2, 3), (3,)]),
    ("i...->...", [(2, 3, 4)]),
    ("...ij->...ji", [(2, 3)]),  # an empty ellipsis
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("abc,cd,b->ad", [(2, 3, 4), (4, 5), (3,)]),
    ("ij,ij->i", [(2, 3), (2, 3)]),
    ("ij,kj->ikj", [(2, 3), (4, 3)]),
    ("bi,bi->b", [(1, 3), (4, 3)]),  # a size-1 label broadcasts
    ("ij,j->i", [(2, 3), (1,)]),
]
EAGER_EINSUMS = {"ij,jk", "...ij,jk->...ik", "abc,cd,b->ad", "bi,bi->b", "ji"}


@pytest.mark.parametrize("case", EINSUM_CASES, ids=lambda c: c[0])
def test_einsum(case):
    subscripts, shapes = case
    ops = [make(s, np.float32, seed=i) for i, s in enumerate(shapes)]
    check(
        lambda m, *a: m.einsum(subscripts, *a),
        ops,
        MODES if subscripts in EAGER_EINSUMS else JIT_ONLY,
        rtol=1e-5,
        atol=1e-5,
    )


def test_einsum_mixed_dtypes_and_errors():
    check(
        lambda m, a, b: m.einsum("ij,jk->ik", a, b),
        [make((2, 3), np.int32), make((3, 4), np.float32)],
        JIT_ONLY,
    )
    with pytest.raises(ValueError):
        fnp.einsum("ij,jk->ik", fnp.ones((2, 3)), fnp.ones((4, 5)))
    with pytest.raises(ValueError):
        fnp.einsum("ij->ij", fnp.ones((2, 3)), fnp.ones((2, 3)))


# --- shape manipulation -----------------------------------------------------------


def test_reshape():
    x = make((2, 3, 4), np.float32)
    check(
        lambda m, a: (
            m.reshape(a, (6, 4)),
            a.reshape(-1),
            a.reshape(4, -1),
            a.reshape((2, -1, 2)),
            m.reshape(a, (24, 1)),
            a.reshape(1, 2, 1, 12),
            m.ravel(a),
            a.flatten(),
            a.ravel(),
            a[:1, :1, :1].reshape(()),
            m.reshape(a, [-1, 3]),
            m.reshape(a[0, 0, 0], (1, 1)),
        ),
        [x],
    )
    for bad in [(4, -1), (-1, -1), (7,), (0, -1)]:
        with pytest.raises((ValueError, TypeError)):
            fnp.ones((2, 3)).reshape(bad)


def test_transpose_swapaxes_moveaxis():
    check(
        lambda m, a: (
            m.transpose(a),
            m.transpose(a, (1, 0, 2)),
            m.transpose(a, (-1, 0, 1)),
            a.T,
            a.transpose(2, 0, 1),
            a.transpose((0, 2, 1)),
            a.transpose(),
            m.swapaxes(a, 0, 2),
            a.swapaxes(-1, 1),
            m.moveaxis(a, 0, -1),
            m.moveaxis(a, -1, 0),
            m.moveaxis(a, (0, 1), (2, 0)),
            m.moveaxis(a, (0, 2), (-1, -2)),
            a.mT,
        ),
        [make((2, 3, 4), np.float32)],
    )


def test_expand_dims_squeeze():
    x = make((2, 1, 3, 1), np.float32)
    check(
        lambda m, a: (
            m.expand_dims(a, 0),
            m.expand_dims(a, -1),
            m.expand_dims(a, (0, 3)),
            m.expand_dims(a, (-1, 1)),
            m.expand_dims(a, (0, -1)),
            m.squeeze(a),
            m.squeeze(a, 1),
            m.squeeze(a, -1),
            m.squeeze(a, (1, 3)),
            a.squeeze(),
        ),
        [x],
    )
    with pytest.raises(ValueError):
        fnp.squeeze(fnp.asarray(x), 0)


def test_concatenate_stack():
    a, b, c = make((2, 3), np.float32), make((2, 3), np.int32), make((4, 3), np.float32)
    check(
        lambda m, a, b, c: (
            m.concatenate([a, b]),
            m.concatenate([a, b], axis=1),
            m.concatenate((a, c)),
            m.concatenate([a, b, a], -1),
            m.concatenate([a, b], axis=None),
            m.concatenate([a]),
            m.stack([a, b]),
            m.stack([a, b], axis=1),
            m.stack([a, b, a], -1),
            m.stack((a,)),
            m.hstack([a, b]),
            m.vstack([a, c]),
            m.stack([a[0, 0], b[0, 0]]),
            m.hstack([a[0], b[1]]),
            m.vstack([a[0], b[1]]),
        ),
        [a, b, c],
        JIT_ONLY,
    )
    check(lambda m, a, b: (m.concatenate([a, b], 1), m.stack([a, b], -1)), [a, b])
    for bad in ([fnp.ones((2, 3)), fnp.ones((2, 4))], [fnp.ones((2, 3)), fnp.ones((3,))]):
        with pytest.raises((ValueError, TypeError)):
            fnp.concatenate(bad)
    with pytest.raises(ValueError):
        fnp.stack([fnp.ones((2, 3)), fnp.ones((3, 2))])


def test_split_array_split():
    x = make((6, 4), np.float32)
    check(
        lambda m, a: (
            m.split(a, 3),
            m.split(a, 2, axis=1),
            m.split(a, [1, 4]),
            m.split(a, [3], axis=-1),
            m.split(a, np.array([2, 5])),
            m.array_split(a, 4),
            m.array_split(a, 3, axis=1),
            m.array_split(a, 7),
        ),
        [x],
        JIT_ONLY,
    )
    check(lambda m, a: (m.split(a, 3), m.array_split(a, 4)), [x])
    with pytest.raises(ValueError):
        fnp.split(fnp.asarray(x), 4)


def test_split_out_of_order_indices_like_numpy():
    """jax rejects these; NumPy gives empty and overlapping pieces, and so does funcnet."""
    x = make((6, 2), np.int32)
    for idx in ([2, 2, 9], [4, 2], [-2], [-9, 3]):
        out = run(lambda a, idx=idx: fnp.split(a, idx), [x], "jit")
        expected_pieces = np.split(x, idx)
        assert len(out) == len(expected_pieces)
        for o, e in zip(out, expected_pieces):
            np.testing.assert_array_equal(np.asarray(o), e)


def test_tile_repeat():
    check(
        lambda m, a: (
            m.tile(a, 2),
            m.tile(a, (2, 1)),
            m.tile(a, (2, 1, 3)),
            m.tile(a[0], (3, 2)),
            m.tile(a, 0),
            m.repeat(a, 2),
            m.repeat(a, 3, axis=0),
            m.repeat(a, 2, axis=-1),
            m.repeat(a, np.array([1, 0, 2]), axis=1),
            m.repeat(a, np.array([2, 1]), axis=0),
            a.repeat(2, axis=1),
            m.repeat(a[0, 0], 3),
        ),
        [make((2, 3), np.int32)],
        JIT_ONLY,
    )
    check(
        lambda m, a: (
            m.tile(a, (2, 1)),
            m.repeat(a, 2, axis=-1),
            m.repeat(a, np.array([1, 0, 2]), axis=1),
        ),
        [make((2, 3), np.int32)],
    )


PAD_MODES = ["constant", "edge", "reflect", "symmetric", "wrap"]
PAD_WIDTHS = [1, ((3, 4), (5, 0)), ((0, 0), (9, 10))]


@pytest.mark.parametrize("pad_mode", PAD_MODES)
def test_pad(pad_mode):
    x, v = make((3, 4), np.float32), make((5,), np.int32)
    check(
        lambda m, a, b: (
            [m.pad(a, w, mode=pad_mode) for w in PAD_WIDTHS],
            m.pad(b, (12, 7), pad_mode),
            m.pad(b[:1], 2, mode=pad_mode),
        ),
        [x, v],
        JIT_ONLY,
    )
    check(lambda m, a: m.pad(a, ((1, 2), (0, 3)), mode=pad_mode), [x])


def test_pad_constant_values():
    check(
        lambda m, a, b: (
            m.pad(a, 2, constant_values=7),
            m.pad(b, 1, constant_values=-1.5),
            m.pad(b, ((1, 0), (0, 2)), constant_values=2),
        ),
        [make((5,), np.int32), make((2, 3), np.float32)],
        JIT_ONLY,
    )


def test_flip_roll():
    check(
        lambda m, a: (
            m.flip(a),
            m.flip(a, 0),
            m.flip(a, -1),
            m.flip(a, (0, 1)),
            m.fliplr(a),
            m.flipud(a),
            m.roll(a, 1),
            m.roll(a, -2, axis=1),
            m.roll(a, 5, axis=0),
            m.roll(a, 13),
            m.roll(a, 0, 1),
            m.roll(a, -7),
            m.roll(a, (1, -1), axis=(0, 1)),
            m.roll(a, 2, axis=(1, 0)),
        ),
        [make((3, 4), np.float32)],
        JIT_ONLY,
    )
    check(
        lambda m, a: (m.flip(a, 1), m.roll(a, -2, axis=1), m.roll(a, 5)), [make((3, 4), np.float32)]
    )


def test_broadcast_to_and_arrays():
    x, y = make((3, 1), np.float32), make((4,), np.int32)
    check(
        lambda m, a, b: (
            m.broadcast_to(a, (2, 3, 4)),
            m.broadcast_to(b, (3, 4)),
            tuple(m.broadcast_arrays(a, b)),
            m.broadcast_to(a, (3, 1)),
            m.broadcast_to(2.0, (2,)),
            m.broadcast_to(b[0], (2, 2)),
        ),
        [x, y],
    )
    assert fnp.broadcast_shapes((3, 1), (4,), ()) == (3, 4)
    with pytest.raises(ValueError):
        fnp.broadcast_to(fnp.asarray(x), (2, 5))
    with pytest.raises(ValueError):
        fnp.broadcast_to(fnp.asarray(x), (1,))


def test_atleast():
    check(
        lambda m, a, b: (m.atleast_1d(a), m.atleast_2d(a), m.atleast_1d(b), m.atleast_2d(b)),
        [np.float32(2.0), make((3,), np.int32)],
        JIT_ONLY,
    )


# --- creation ---------------------------------------------------------------------


def test_zeros_ones_full():
    check(
        lambda m: (
            m.zeros((2, 3)),
            m.ones(3),
            m.zeros((2,), m.int32),
            m.ones((), m.bool_),
            m.full((2, 2), 3),
            m.full((2,), 1.5),
            m.full(3, 7, m.uint8),
            m.full((2, 3), True),
            m.zeros((0, 2)),
            m.full((2, 3), m.arange(3)),
            m.ones((2,), m.float64),
            m.identity(3),
            m.identity(2, m.int8),
            m.full((2,), np.int8(3)),
            m.zeros([2, 1], m.bfloat16),
        )
    )
    assert fnp.empty((2, 2)).shape == (2, 2)


def test_like():
    check(
        lambda m, a: (
            m.zeros_like(a),
            m.ones_like(a),
            m.full_like(a, 4),
            m.full_like(a, 2.7),
            m.zeros_like(a, dtype=m.float32),
            m.ones_like(a, shape=(4,)),
            m.full_like(a, 1, dtype=m.bfloat16),
            m.zeros_like(3.0),
            m.ones_like(True),
        ),
        [make((2, 3), np.int8)],
    )
    assert fnp.empty_like(fnp.ones((2, 1), fnp.int8)).shape == (2, 1)


def test_arange():
    check(
        lambda m: (
            m.arange(5),
            m.arange(2, 7),
            m.arange(10, 0, -3),
            m.arange(0, 1, 0.1),
            m.arange(5.0),
            m.arange(-2.5, 2.5, 0.5),
            m.arange(3, dtype=m.float32),
            m.arange(0, -5, -1),
            m.arange(5, 2),
            m.arange(1, 2, 0.3, dtype=m.float32),
            m.arange(np.int32(4)),
            m.arange(1.0, -1.0, -0.25),
            m.arange(0),
            m.arange(3, dtype=m.uint8),
            m.arange(-3, 3, 2),
        )
    )
    with pytest.raises(ValueError):
        fnp.arange(0, 5, 0)


def test_linspace():
    check(
        lambda m: (
            m.linspace(0, 1, 5),
            m.linspace(-2, 3, 7, endpoint=False),
            m.linspace(1, 0, 1),
            m.linspace(0, 10, 4, dtype=m.int32),
            m.linspace(2.0, 3.0, 0),
            m.linspace(0, 1, 3, dtype=m.bfloat16),
        ),
        rtol=1e-6,
        atol=1e-6,
    )
    check(
        lambda m, a, b: (m.linspace(a, b, 5), m.linspace(a, b, 4, endpoint=False)),
        [np.float32(1.0), np.float32(3.0)],
        JIT_ONLY,
        rtol=1e-6,
    )


def test_eye_tri_tril_triu():
    check(
        lambda m, a: (
            m.eye(3),
            m.eye(2, 4),
            m.eye(4, k=1),
            m.eye(3, 5, k=-2, dtype=m.int32),
            m.eye(3, k=5),
            m.tri(3),
            m.tri(3, 4, k=1),
            m.tri(4, 2, k=-1, dtype=m.int32),
            m.tril(a),
            m.triu(a),
            m.tril(a, 1),
            m.triu(a, -1),
            m.tril(a[0], -2),
            m.triu(a[1], 2),
            m.eye(2, dtype=bool),
        ),
        [make((2, 3, 4), np.int32)],
        JIT_ONLY,
    )
    check(
        lambda m, a: (m.eye(3, k=1), m.tri(3, 4), m.tril(a), m.triu(a, -1)),
        [make((2, 3, 4), np.int32)],
    )


@pytest.mark.parametrize("src", [np.float32, BF16, np.int32, np.bool_])
def test_astype(src):
    x = make((2, 3), src)
    if is_float(src):
        x = np.abs(x) * np.asarray(10, src)  # in range of every target (XLA saturates)
    targets = [np.float32, np.float16, BF16, np.int32, np.int8, np.uint8, np.bool_, np.int64]
    check(
        lambda m, a: tuple(m.astype(a, t) for t in targets) + (a.astype(src),), [x], modes_for(src)
    )


def test_64_bit_requests_narrow():
    x = fnp.ones(3)
    assert fnp.astype(x, np.float64).dtype == np.float32
    assert x.astype(np.int64).dtype == np.int32
    assert x.astype(np.uint64).dtype == np.uint32
    assert fnp.asarray(np.arange(3)).dtype == np.int32
    assert fnp.asarray(np.ones(3)).dtype == np.float32
    assert fnp.zeros(2, fnp.float64).dtype == np.float32


# --- sort -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, BF16, np.bool_])
def test_sort_argsort(dtype):
    x = make((4, 5), dtype, low=-2, high=2)  # many ties: argsort must be stable
    check(
        lambda m, a: [(m.sort(a, axis=ax), m.argsort(a, axis=ax)) for ax in (-1, 0, None)],
        [x],
        JIT_ONLY,
    )
    if dtype in (np.float32, np.int32):
        check(lambda m, a: (m.sort(a, 0), m.argsort(a)), [x], ("eager",))


def test_sort_nan_and_inf():
    x = np.array([3.0, np.nan, -np.inf, 1.0, np.inf, -0.0, 0.0, np.nan], np.float32)
    check(lambda m, a: (m.sort(a), m.argsort(a)), [x])


# --- Array basics -------------------------------------------------------------------


def test_array_attributes():
    x = fnp.asarray(make((2, 3), np.float32))
    assert isinstance(x, fn.Array) and isinstance(x, fnp.ndarray)
    assert (x.shape, x.dtype, x.ndim, x.size, len(x)) == ((2, 3), np.float32, 2, 6, 2)
    assert x.T.shape == (3, 2)
    assert fnp.shape(x) == (2, 3) and fnp.ndim(x) == 2 and fnp.size(x) == 6
    np.testing.assert_array_equal(np.asarray(x), make((2, 3), np.float32))
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x.tolist() == make((2, 3), np.float32).tolist()
    assert fnp.asarray(3.0).shape == () and fnp.asarray(3.0).size == 1


def test_scalar_conversions():
    x = fnp.asarray(np.array([[2.5]], np.float32))
    assert x.item() == 2.5 and float(x) == 2.5 and int(x) == 2
    assert bool(x) is True and bool(fnp.zeros((1,))) is False
    assert fnp.asarray(7).item() == 7 and isinstance(fnp.asarray(7).item(), int)
    assert [1, 2, 3][fnp.asarray(1)] == 2  # __index__
    with pytest.raises(TypeError):
        bool(fnp.ones(2))
    with pytest.raises(TypeError):
        [1, 2][fnp.asarray(1.0)]
    with pytest.raises(TypeError):
        len(fnp.asarray(1.0))


def test_iteration():
    x = make((3, 2), np.int32)
    rows = list(fnp.asarray(x))
    assert len(rows) == 3
    for r, e in zip(rows, x):
        assert isinstance(r, fn.Array)
        np.testing.assert_array_equal(np.asarray(r), e)
    with pytest.raises(TypeError):
        iter(fnp.asarray(1))
    out = fn.jit(lambda a: [r * 2 for r in a])(x)
    assert len(out) == 3 and out[0].shape == (2,)


def test_repr_and_str():
    x = fnp.asarray(np.array([1.5, -2.0], np.float32))
    assert repr(x) == "Array([ 1.5, -2. ], dtype=float32)"
    assert str(x) == str(np.array([1.5, -2.0], np.float32))
    assert "weak_type=True" in repr(fnp.asarray(1.0))
    assert "bfloat16" in repr(fnp.ones(2, fnp.bfloat16))


def test_unhashable():
    with pytest.raises(TypeError):
        hash(fnp.ones(2))


def test_dlpack_roundtrip():
    x = fnp.asarray(make((2, 3), np.float32))
    y = np.from_dlpack(x)
    np.testing.assert_array_equal(y, np.asarray(x))
    assert y.dtype == np.float32 and y.shape == (2, 3)


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int8, np.bool_])
def test_pickle(dtype):
    x = fnp.asarray(make((2, 3), dtype))
    y = pickle.loads(pickle.dumps(x))
    assert isinstance(y, fn.Array) and y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
    assert pickle.loads(pickle.dumps(fnp.asarray(2.0))).weak_type


def test_asarray_from_lists_and_nested_arrays():
    check(
        lambda m: (
            m.asarray([[1, 2], [3, 4]]),
            m.asarray([1.0, 2]),
            m.asarray([True, False]),
            m.asarray([m.ones(2), m.zeros(2)]),
            m.array([1, 2], dtype=m.float16),
            m.asarray([[m.ones(())], [2.0]]),
            m.asarray(np.float32(1)),
            m.asarray(np.int64(5)),
            m.asarray(np.arange(3.0)),
        ),
        modes=("eager",),
    )
    with pytest.raises((TypeError, ValueError)):
        fnp.asarray([[1, 2], [3]])


def test_methods_on_tracers():
    """Under jit the same methods and operators work on tracers."""

    def f(a):
        return (
            a.T,
            a.reshape(-1),
            a.sum(1),
            a[0],
            a.at[0].set(1.0),
            -a,
            abs(a),
            a.astype(fnp.int32),
            a.ravel(),
            a.take(np.array([0, 2]), axis=1),
            a.repeat(2, axis=0),
            +a,
            a.mT,
            a.swapaxes(0, 1),
            a.clip(0, 1),
        )

    x = make((2, 3), np.float32)
    for o, e in zip(fn.jit(f)(x), f(fnp.asarray(x))):
        assert_close(o, np.asarray(e), e.dtype)
