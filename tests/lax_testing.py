"""Shared harness for the funcnet.lax tests: run a primitive eagerly and under fn.jit and
compare both with the same jax.lax op.

Each XLA compile costs ~50 ms on a CI core, so a test gathers its cases and runs them
as one batch: every case eagerly (one program per primitive, as eager mode does), then
all cases in one `fn.jit` program and the references in one `jax.jit` program.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import ml_dtypes
import numpy as np

import funcnet as fn

bf16 = np.dtype(ml_dtypes.bfloat16)
f16, f32 = np.dtype(np.float16), np.dtype(np.float32)
i32, u8, i8 = np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.int8)
bool_ = np.dtype(np.bool_)
FLOATS = (f32, bf16, f16)

# (rtol, atol) per dtype. Both sides compile through the same XLA, so results agree to
# an ulp or two; these leave room for fusion differences between eager and jit.
TOLERANCES = {f32: (2e-6, 1e-6), f16: (1e-3, 1e-3), bf16: (1e-2, 1e-2)}


def is_float(dtype) -> bool:
    return np.dtype(dtype) in FLOATS or np.issubdtype(np.dtype(dtype), np.floating)


def rand(rng, shape, dtype, low=None, high=None):
    """Random data: normal floats (or uniform in [low, high)), small ints, coin-flip bools."""
    dtype = np.dtype(dtype)
    if dtype == bool_:
        return rng.random(shape) < 0.5
    if is_float(dtype):
        if low is None:
            return rng.standard_normal(shape).astype(np.float32).astype(dtype)
        return rng.uniform(low, high, shape).astype(np.float32).astype(dtype)
    info = np.iinfo(dtype)
    lo = max(info.min, -20 if low is None else low)
    hi = min(info.max, 20 if high is None else high)
    return rng.integers(lo, hi, shape, endpoint=True).astype(dtype)


class Case(NamedTuple):
    """One comparison: `fn_op(*args)` against `jax_op(*args)`."""

    name: str
    fn_op: Callable
    jax_op: Callable
    args: tuple
    tol: Any = None  # (rtol, atol) overriding TOLERANCES


def case(name, fn_op, jax_op, *args, tol=None) -> Case:
    return Case(name, fn_op, jax_op, tuple(args), tol)


def _compare(got, want, tol, what):
    got_leaves, want_leaves = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    if len(got_leaves) != len(want_leaves):
        raise AssertionError(f"{what}: {len(got_leaves)} results, expected {len(want_leaves)}")
    for g, w in zip(got_leaves, want_leaves):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            raise AssertionError(
                f"{what}: got {g.dtype}{list(g.shape)}, expected {w.dtype}{list(w.shape)}"
            )
        if is_float(w.dtype):
            rtol, atol = tol or TOLERANCES.get(w.dtype, TOLERANCES[f32])
            np.testing.assert_allclose(
                g.astype(np.float32), w.astype(np.float32), rtol=rtol, atol=atol, err_msg=what
            )
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


def _run_all(op_of, cases, args):
    return [op_of(c)(*a) for c, a in zip(cases, args)]


def _reference(cases, args):
    """All jax results from one program. It needs no fast machine code: LLVM at -O0 more
    than halves its compile time and leaves the numerics alone (no fast-math either way)."""
    lowered = jax.jit(lambda a: _run_all(lambda c: c.jax_op, cases, a)).lower(args)
    return lowered.compile(compiler_options={"xla_backend_optimization_level": 0})(args)


def check(cases):
    """Compare every case in eager mode and under one fn.jit; report all failures."""
    __tracebackhide__ = True
    cases = list(cases)
    assert cases, "no cases"
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), f"duplicate case names in {names}"
    args = [c.args for c in cases]
    want = _reference(cases, args)
    failures = []

    def compare(c, got, w, mode):
        try:
            _compare(got, w, c.tol, f"{c.name} [{mode}]")
        except AssertionError as e:
            failures.append(str(e).strip())

    for c, w in zip(cases, want):
        try:
            got = c.fn_op(*c.args)
        except Exception as e:
            failures.append(f"{c.name} [eager]: {type(e).__name__}: {e}")
            continue
        compare(c, got, w, "eager")
    try:
        outs = fn.jit(lambda a: _run_all(lambda c: c.fn_op, cases, a))(args)
    except Exception:
        outs = [_jit_one(c, failures) for c in cases]
    for c, got, w in zip(cases, outs, want):
        if got is not None:
            compare(c, got, w, "jit")
    if failures:
        raise AssertionError(
            f"{len(failures)} of {len(cases)} cases failed:\n\n" + "\n\n".join(failures)
        )


def _jit_one(c, failures):
    try:
        return fn.jit(c.fn_op)(*c.args)
    except Exception as e:
        failures.append(f"{c.name} [jit]: {type(e).__name__}: {e}")
        return None
