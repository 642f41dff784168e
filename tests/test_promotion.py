"""Type promotion: result dtypes and weak types of funcnet.numpy's binary ops equal
jax.numpy's (x64 off) for every pair of dtypes and Python scalars.

The pairs are checked abstractly (fn.eval_shape against jax.eval_shape: tracing only,
nothing compiles), and a sample of them eagerly on concrete arrays.
"""

import itertools
import operator

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.core import dtypes

assert not jax.config.jax_enable_x64, "the reference must run with jax's x64 mode off"

BF16 = np.dtype(ml_dtypes.bfloat16)
# 64-bit arrays narrow to 32 bits (x64 is off); uint32 with int32 needs int64, so narrows.
ARRAY_DTYPES = [
    np.bool_,
    np.int8,
    np.uint8,
    np.int32,
    np.uint32,
    np.float16,
    BF16,
    np.float32,
    np.float64,
]
# Python scalars are weakly typed: they take the other operand's dtype within a kind.
SCALARS = {"True": True, "int": 2, "float": 1.5}


def _array(dtype):
    return np.ones((2,), dtype)


OPERANDS = {np.dtype(d).name: _array(d) for d in ARRAY_DTYPES} | SCALARS
PAIRS = list(itertools.product(OPERANDS, repeat=2))


def _binary(name):
    return lambda m: getattr(m, name)


# One op per promotion path in funcnet.numpy (add, subtract, multiply, maximum, ... share
# one; the operators share their functions' paths, reflected when a scalar comes first).
OPS = {
    "add": _binary("add"),
    "true_divide": _binary("true_divide"),
    "floor_divide": _binary("floor_divide"),
    "remainder": _binary("remainder"),
    "power": _binary("power"),
    "equal": _binary("equal"),
    "arctan2": _binary("arctan2"),
    "bitwise_and": _binary("bitwise_and"),
    "logical_or": _binary("logical_or"),
    "where": lambda m: lambda x, y: m.where(True, x, y),
    "operator-": lambda m: operator.sub,
    "operator//": lambda m: operator.floordiv,
}


def _abstract(f, args, eval_shape):
    """(dtype, weak_type) of f(*args) traced abstractly, or "raises".

    A bool result's weak flag is left out: jax marks comparisons of weak operands
    weak and funcnet does not, but a weak bool promotes exactly like a bool in both
    (bool is the bottom of the lattice), so the flag has no effect."""
    try:
        out = eval_shape(f, *args)
    except (TypeError, ValueError):  # both must reject a pair, not necessarily alike
        return "raises"
    return np.dtype(out.dtype), bool(out.weak_type) and out.dtype != np.bool_


def _check_pairs(op_name, pairs):
    op = OPS[op_name]
    mismatches = []
    for a, b in pairs:
        args = (OPERANDS[a], OPERANDS[b])
        if op_name.startswith("operator") and all(a in SCALARS for a in (a, b)):
            continue  # Python's own operators on two Python scalars
        got = _abstract(op(fnp), args, fn.eval_shape)
        want = _abstract(op(jnp), args, jax.eval_shape)
        if got != want:
            mismatches.append(f"{op_name}({a}, {b}): funcnet {got}, jax {want}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("op_name", list(OPS))
def test_binary_result_types_match_jax(op_name):
    """Every ordered pair of array dtypes and Python scalars, abstractly."""
    _check_pairs(op_name, PAIRS)


@pytest.mark.parametrize("scalar", [2, 1.5, True])
@pytest.mark.parametrize("op_name", ["add", "true_divide", "floor_divide", "power", "where"])
def test_python_scalar_literals(op_name, scalar):
    """A Python scalar written into the program (not a traced argument) is weak too."""
    op = OPS[op_name]
    for name, x in OPERANDS.items():
        for f in (lambda m, x: op(m)(x, scalar), lambda m, x: op(m)(scalar, x)):
            got = _abstract(lambda x, f=f: f(fnp, x), (x,), fn.eval_shape)
            assert got == _abstract(lambda x, f=f: f(jnp, x), (x,), jax.eval_shape), name


def test_result_type_function():
    for a, b in PAIRS:
        x, y = OPERANDS[a], OPERANDS[b]
        assert fnp.result_type(x, y) == jnp.result_type(x, y), (a, b)


def test_python_scalar_results_are_weak():
    """Two Python scalars give a weak result, as in jax; a bool result is never weak."""
    for a, b in itertools.product(SCALARS.values(), repeat=2):
        got = _abstract(fnp.multiply, (a, b), fn.eval_shape)
        assert got == _abstract(jnp.multiply, (a, b), jax.eval_shape), (a, b)
        assert got[1] == (got[0] != np.bool_), (a, b)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.float16, np.float32])
def test_eager_promotion(dtype):
    """Concrete arrays, weak Arrays and Python scalars: the dtypes and values of eager ops."""
    x = fnp.asarray(_array(dtype))
    partners = {
        "int": 3,
        "float": 0.5,
        "weak float Array": fnp.asarray(0.5),
        "weak int Array": fnp.asarray(3),
        "bfloat16": fnp.ones(2, fnp.bfloat16),
    }
    for name, y in partners.items():
        jy = jnp.asarray(np.asarray(y)) if isinstance(y, fn.Array) else y
        if isinstance(y, fn.Array) and y.weak_type:  # jnp.asarray of a Python scalar is weak
            jy = jnp.asarray(y.item())
        got, want = x + y, jnp.asarray(np.asarray(x)) + jy
        assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type), name
        np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32))


def test_weak_arrays_stay_weak():
    """A weak Array (from a Python scalar) keeps its weakness through unary ops and
    arithmetic with other weak values, and loses it against a strongly typed array."""
    w = fnp.asarray(2.0)
    assert w.weak_type and w.dtype == np.float32
    assert (-w).weak_type and (w * 3).weak_type and fnp.exp(w).weak_type
    assert not (w + np.float32(1)).weak_type
    assert (w + fnp.ones((), fnp.float16)).dtype == np.float16
    assert not fnp.asarray(2.0, dtype=fnp.float32).weak_type
    assert not fnp.asarray(np.float32(2)).weak_type


def test_jit_arguments_keep_python_scalar_weakness():
    f = fn.jit(lambda x, s: x * s)
    assert f(fnp.ones(2, fnp.bfloat16), 2.0).dtype == BF16
    assert f(fnp.ones(2, fnp.int8), 2).dtype == np.int8
    assert f(fnp.ones(2, fnp.int8), 2.0).dtype == np.float32
    assert f(fnp.ones(2, fnp.uint8), True).dtype == np.uint8


def test_x64_narrowing():
    """float64/int64 inputs and requests become 32-bit, as in jax with x64 off."""
    assert fnp.asarray(np.ones(2)).dtype == np.float32
    assert fnp.asarray(np.ones(2, np.int64)).dtype == np.int32
    assert fnp.asarray(np.ones(2, np.uint64)).dtype == np.uint32
    assert (fnp.ones(2, fnp.int8) + np.ones(2, np.int64)).dtype == np.int32
    assert dtypes.result_type((np.uint32, False), (np.int32, False)) == (np.dtype(np.int32), False)
    assert fnp.result_type(np.uint64, np.int8) == jnp.result_type(np.uint64, np.int8)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "full_like"])
def test_like_constructors_keep_a_weak_input_weak_as_jax(name):
    args = (2,) if name == "full_like" else ()
    for x, jx in ((fnp.asarray(0.5), jnp.asarray(0.5)), (fnp.ones(2), jnp.ones(2))):
        got, want = getattr(fnp, name)(x, *args), getattr(jnp, name)(jx, *args)
        assert (got.dtype, got.aval.weak_type) == (want.dtype, want.weak_type)
    # an explicit dtype is strong; lax.full_like follows the same rule
    assert not fnp.zeros_like(fnp.asarray(0.5), dtype=fnp.float32).aval.weak_type
    assert fn.lax.full_like(fnp.asarray(0.5), 2).aval.weak_type
    assert fn.jit(lambda v: getattr(fnp, name)(v, *args))(0.5).aval.weak_type
