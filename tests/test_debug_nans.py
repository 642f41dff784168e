"""`funcnet.config.debug_nans` / `debug_infs`: FloatingPointError at the first primitive
that produces a nan (inf), as jax ("invalid value (nan) encountered in log"), naming the
user's line; for jit by re-running the program op by op, entering scan/while/cond
bodies, and in backward passes. Every test restores the flags."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.backend import eager, nan_check
from funcnet.config import debug_infs, debug_nans
from funcnet.core.trace import default_impl


@pytest.fixture(autouse=True)
def flags_off_around_each_test():
    yield
    assert not fn.config.debug_nans and not fn.config.debug_infs, "a test left a flag on"


def _jax_message(f, flag="jax_debug_nans"):
    """jax's FloatingPointError message for the same program. jax's caches are cleared
    first: a backward program jax compiled earlier in the process (another test's) runs
    as one fused program, whose intermediate nan jax's check never sees."""
    jax.clear_caches()
    jax.config.update(flag, True)
    try:
        f()
    except FloatingPointError as e:
        return str(e).splitlines()[0]
    finally:
        jax.config.update(flag, False)
    raise AssertionError("jax raised nothing")


def _line_of(fragment):
    """The line number in this file holding `fragment`."""
    with open(__file__) as fh:
        for i, line in enumerate(fh, 1):
            if fragment in line and "_line_of" not in line:
                return i
    raise AssertionError(fragment)


def _raises(f, flag=debug_nans):
    with flag(), pytest.raises(FloatingPointError) as info:
        f()
    return str(info.value)


def test_eager_op_names_primitive_and_line_as_jax():
    msg = _raises(lambda: fnp.log(-fnp.ones(2)))  # the eager op
    want = _jax_message(lambda: jnp.log(-jnp.ones(2)))
    assert msg.startswith(want) and want == "invalid value (nan) encountered in log"
    assert f"test_debug_nans.py:{_line_of('# the eager op')}" in msg


def test_no_checks_when_off_and_no_inf_error_under_debug_nans():
    assert np.isnan(np.asarray(fnp.log(-fnp.ones(2)))).all()
    with debug_nans():
        assert np.isinf(np.asarray(1.0 / fnp.zeros(2))).all()  # an inf is no nan
        np.testing.assert_allclose(np.asarray(fn.jit(fnp.log)(fnp.ones(2))), [0, 0])


def _log_twice(x):
    y = fnp.log(x)  # makes the nan
    return y * 2


def test_jit_reruns_op_by_op_and_names_the_primitive():
    msg = _raises(lambda: fn.jit(_log_twice)(-fnp.ones(3)))
    want = _jax_message(lambda: jax.jit(lambda x: jnp.log(x) * 2)(-jnp.ones(3)))
    assert msg.startswith(want)
    assert f":{_line_of('# makes the nan')} (_log_twice)" in msg and "jit(_log_twice)" in msg


def test_nan_argument_is_caught_at_the_first_op_using_it():
    msg = _raises(lambda: fn.jit(lambda x: x * 1.0 + 2.0)(fnp.asarray(np.nan)))
    assert msg.startswith("invalid value (nan) encountered in mul")


def _sqrt_where(x):
    return fnp.where(x > 0, fnp.sqrt(x), 0.0)  # the forward op


def test_backward_pass_names_primitive_and_forward_line():
    msg = _raises(lambda: fn.grad(_sqrt_where)(0.0))
    want = _jax_message(lambda: jax.grad(lambda x: jnp.where(x > 0, jnp.sqrt(x), 0.0))(0.0))
    assert msg.startswith(want) and "encountered in mul" in want
    assert "backward pass" in msg and f":{_line_of('# the forward op')}" in msg


def test_backward_pass_under_jit():
    msg = _raises(lambda: fn.jit(fn.grad(_sqrt_where))(0.0))
    assert msg.startswith("invalid value (nan) encountered in mul")
    assert f":{_line_of('# the forward op')}" in msg


def _log_body(c, x):
    return fnp.log(c - x), c  # nan at the 3rd step


def test_scan_body_is_entered_iteration_by_iteration():
    xs = fnp.arange(5.0)
    for run in (
        lambda: lax.scan(_log_body, 3.0, xs),
        lambda: fn.jit(lambda c: lax.scan(_log_body, c, xs)[0])(3.0),
    ):
        msg = _raises(run)
        assert msg.startswith("invalid value (nan) encountered in log")
        assert "scan, iteration 2" in msg and f":{_line_of('# nan at the 3rd step')}" in msg
    # jax stops at the scan as a whole; funcnet names the op inside it
    assert "encountered in scan" in _jax_message(
        lambda: jax.lax.scan(lambda c, x: (jnp.log(c - x), c), 3.0, jnp.arange(5.0))
    )


def test_scan_in_reverse_and_without_nan_gives_the_right_values():
    def body(c, x):
        return c * 0.5 + x, c

    xs = fnp.arange(4.0)
    want_c, want_ys = lax.scan(body, 1.0, xs, reverse=True)
    with debug_nans():
        c, ys = fn.jit(lambda c: lax.scan(body, c, xs, reverse=True))(1.0)
    np.testing.assert_allclose(np.asarray(c), np.asarray(want_c), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ys), np.asarray(want_ys), rtol=1e-6)


def test_while_and_cond_bodies_are_entered():
    msg = _raises(
        lambda: lax.while_loop(
            lambda s: s[0] < 5, lambda s: (s[0] + 1, fnp.log(s[1] - 1.0)), (0, 3.0)
        )
    )
    assert msg.startswith("invalid value (nan) encountered in log")
    assert "while_loop, iteration 1" in msg
    msg = _raises(
        lambda: fn.jit(lambda x: lax.cond(x > 0, lambda x: fnp.log(-x), lambda x: x, x))(1.0)
    )
    assert msg.startswith("invalid value (nan) encountered in log") and "cond branch 1" in msg


def test_checkpointed_and_nested_jit_bodies_are_entered():
    inner = fn.jit(lambda x: fnp.sqrt(x - 2.0))
    outer = fn.jit(lambda x: fn.checkpoint(lambda y: inner(y) * 2)(x) + 1)
    msg = _raises(lambda: outer(fnp.ones(2)))
    assert msg.startswith("invalid value (nan) encountered in sqrt")
    assert re.search(r"jit\(<lambda>\) > .*jit\(<lambda>\)", msg)


def test_debug_infs():
    msg = _raises(lambda: 1.0 / fnp.zeros(2), flag=debug_infs)
    assert msg.startswith(_jax_message(lambda: 1.0 / jnp.zeros(2), "jax_debug_infs"))
    msg = _raises(lambda: fn.jit(lambda x: fnp.exp(x * 1000.0))(fnp.ones(2)), flag=debug_infs)
    want = _jax_message(
        lambda: jax.jit(lambda x: jnp.exp(x * 1000.0))(jnp.ones(2)), "jax_debug_infs"
    )
    assert msg.startswith(want) and want == "invalid value (inf) encountered in exp"


def test_fast_paths_are_off_while_checking_and_back_afterwards():
    x = fnp.ones(3)
    f = fn.jit(lambda x: x + 1)
    fnp.sin(x), fnp.sin(x), f(x), f(x)
    assert default_impl() is eager.apply_primitive and f._fcache.fast
    with debug_nans():  # eager ops run through the checking implementation
        assert default_impl() is nan_check.checked_apply and not f._fcache.fast
        fnp.sin(x), f(x), f(x)
        assert default_impl() is nan_check.checked_apply and not f._fcache.fast
        with pytest.raises(FloatingPointError):
            f(fnp.asarray(np.full(3, np.nan)))
    f(x), fnp.sin(x)
    assert default_impl() is eager.apply_primitive and f._fcache.fast


def test_nan_that_no_primitive_produced_is_reported_as_such():
    nan = np.full(2, np.nan, np.float32)
    msg = _raises(lambda: fn.jit(lambda x: x)(fnp.asarray(nan)))
    assert "output of jit(<lambda>)" in msg and "produced none" in msg
    jax.config.update("jax_debug_nans", True)
    try:
        with pytest.raises(FloatingPointError):  # jax refuses the same program
            jax.jit(lambda x: x)(jnp.asarray(nan))
    finally:
        jax.config.update("jax_debug_nans", False)


def test_donated_arguments_cannot_be_rerun_and_say_so():
    f = fn.jit(lambda x: fnp.log(x), donate_argnums=0)
    msg = _raises(lambda: f(-fnp.ones(4)))
    assert "donate_argnums" in msg and msg.startswith("invalid value (nan)")
