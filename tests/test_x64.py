"""64-bit mode: `funcnet.config.enable_x64` (or FUNCNET_ENABLE_X64=1, or the
`enable_x64()` context manager) alone gives float64/int64 end to end: transfers,
eager ops, jit, grad, control flow. Every test restores the 32-bit default (the suite
runs tests of other files in the same process)."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.config import enable_x64

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def x64_off_around_each_test():
    assert not fn.config.enable_x64 and not jax.config.jax_enable_x64
    yield
    assert not fn.config.enable_x64, "a test left funcnet's x64 on"
    assert not jax.config.jax_enable_x64, "a test left jax's x64 on"


def test_transfers_keep_float64_and_int64():
    with enable_x64():
        a = fnp.asarray(np.ones(3))
        assert a.dtype == np.float64 and np.asarray(a).dtype == np.float64
        assert fnp.asarray(np.arange(3)).dtype == np.int64
        third = np.float64(1) / 3
        assert fnp.asarray(third).item() == third  # no trip through float32
        assert fnp.asarray(1.0).dtype == np.float64  # Python floats default to float64
    assert fnp.asarray(np.ones(3)).dtype == np.float32


def test_float64_arithmetic_eager_matches_jax():
    x = np.linspace(0.1, 2.0, 7)
    with enable_x64():
        got = fnp.ones(3, fnp.float64) + 1.0
        assert got.dtype == np.float64
        np.testing.assert_array_equal(np.asarray(got), [2.0, 2.0, 2.0])
        ours = fnp.exp(fnp.asarray(x)) / 3.0 + fnp.sin(fnp.asarray(x)) ** 2
        want = jnp.exp(jnp.asarray(x)) / 3.0 + jnp.sin(jnp.asarray(x)) ** 2
        assert ours.dtype == want.dtype == np.float64
        np.testing.assert_allclose(np.asarray(ours), np.asarray(want), rtol=1e-14)


def test_float64_under_jit_and_grad():
    def loss(w, x):
        return fnp.sum(fnp.tanh(x @ w) ** 2)

    w, x = np.full((3, 2), 0.3), np.linspace(-1, 1, 12).reshape(4, 3)
    with enable_x64():
        out = fn.jit(loss)(fnp.asarray(w), fnp.asarray(x))
        g = fn.jit(fn.grad(loss))(fnp.asarray(w), fnp.asarray(x))
        g_eager = fn.grad(loss)(fnp.asarray(w), fnp.asarray(x))

        def jloss(w, x):
            return jnp.sum(jnp.tanh(x @ w) ** 2)

        assert out.dtype == g.dtype == g_eager.dtype == np.float64
        np.testing.assert_allclose(float(out), float(jloss(w, x)), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(g), np.asarray(jax.grad(jloss)(w, x)), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g_eager), np.asarray(g), rtol=1e-12)


def test_jit_cache_and_fast_path_key_on_x64():
    # One input signature (f32[]), two programs: the float64 constant narrows without x64.
    f = fn.jit(lambda x: x + np.float64(1) / 3)
    x = fnp.asarray(np.float32(1.0))
    assert f(x).dtype == np.float32 and f(x).dtype == np.float32  # fills the fast path
    with enable_x64():
        assert f(x).dtype == np.float64 and f(x).dtype == np.float64
        assert fnp.sin(x).dtype == np.float32  # eager: the input decides
    assert f(x).dtype == np.float32


def _as_f64(i):
    return fnp.asarray(i, fnp.float64)


def test_control_flow_bodies_are_traced_again_after_a_switch():
    one = np.int32(1)  # the same input type in both modes
    assert lax.cond(True, _as_f64, _as_f64, one).dtype == np.float32
    with enable_x64():
        assert lax.cond(True, _as_f64, _as_f64, one).dtype == np.float64
    assert lax.cond(True, _as_f64, _as_f64, one).dtype == np.float32


def test_config_update_and_reading_after_switching_off():
    fn.config.update("enable_x64", True)
    try:
        a = fnp.asarray(np.float64(1) / 3)
    finally:
        fn.config.update("enable_x64", False)
    assert a.dtype == np.float64
    assert np.asarray(a).dtype == np.float64 and np.asarray(a) == np.float64(1) / 3


def test_jax_flag_set_by_the_user_is_left_alone():
    # The order tests/test_random.py's fixture uses: jax on, funcnet on, jax off,
    # funcnet off; and the other way: jax on by the user outlives funcnet's switch.
    jax.config.update("jax_enable_x64", True)
    fn.config.enable_x64 = True
    jax.config.update("jax_enable_x64", False)
    fn.config.enable_x64 = False
    assert not jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        with enable_x64():
            assert fnp.asarray(np.ones(2)).dtype == np.float64
        assert jax.config.jax_enable_x64  # still the user's setting
        assert fnp.asarray(np.ones(2)).dtype == np.float32  # funcnet's switch decides
    finally:
        jax.config.update("jax_enable_x64", False)


def test_funcnet_switch_wins_when_jax_flag_is_turned_off_meanwhile():
    with enable_x64():
        jax.config.update("jax_enable_x64", False)
        a = fnp.asarray(np.float64(1) / 3)
        assert a.dtype == np.float64 and np.asarray(a) == np.float64(1) / 3


def test_environment_variable_turns_x64_on_at_import():
    script = textwrap.dedent("""
        import numpy as np
        import jax
        import funcnet as fn, funcnet.numpy as fnp
        assert fn.config.enable_x64 and jax.config.jax_enable_x64
        assert fn.config.jit_cache_size == 16  # any option: FUNCNET_<NAME>
        a = fnp.asarray(np.ones(3))
        b = fnp.ones(3, fnp.float64) + 1.0
        c = fn.jit(lambda x: x * 2)(a)
        g = fn.grad(lambda x: (x ** 2).sum())(a)
        print(a.dtype, b.dtype, c.dtype, g.dtype, fnp.arange(2).dtype)
    """)
    env = dict(
        os.environ,
        FUNCNET_ENABLE_X64="1",
        FUNCNET_JIT_CACHE_SIZE="16",
        PYTHONPATH=ROOT,
        JAX_PLATFORMS="cpu",
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["float64"] * 4 + ["int64"]


def test_bad_environment_value_is_named():
    env = dict(os.environ, FUNCNET_ENABLE_X64="maybe", PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-c", "import funcnet.config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0 and "FUNCNET_ENABLE_X64='maybe'" in out.stderr


def test_cache_miss_explanation_names_the_x64_switch(caplog):
    import logging

    f = fn.jit(lambda x: x * 2)
    x = fnp.ones(2)
    with (
        fn.config.override(explain_cache_misses=True),
        caplog.at_level(logging.WARNING, logger="funcnet.jit"),
    ):
        f(x)
        with enable_x64():
            f(x)
    messages = [r.getMessage() for r in caplog.records if r.name == "funcnet.jit"]
    assert len(messages) == 2
    assert "enable_x64 changed from False to True" in messages[1]
