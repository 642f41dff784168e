"""Shared by the funcnet.scipy and nn-function tests: both precisions, and comparisons
with jax (values, dtype, weak type) scaled to the dtype."""

import jax
import numpy as np
import pytest

import funcnet as fn

RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


@pytest.fixture(name="dtype", params=["float32", "float64"])
def dtype_fixture(request):
    """Run the test in float32 (the default) and in float64 with x64 on in funcnet and
    jax alike; restores both afterwards."""
    old_jax, old_fn = jax.config.jax_enable_x64, fn.config.enable_x64
    x64 = request.param == "float64"
    jax.config.update("jax_enable_x64", x64)
    fn.config.enable_x64 = x64
    try:
        yield np.dtype(request.param)
    finally:
        jax.config.update("jax_enable_x64", old_jax)
        fn.config.enable_x64 = old_fn


def weak(x):
    return fn.typeof(x).weak_type


def assert_like_jax(got, want, rtol=None, atol=0.0, check_weak=True):
    """Values close (nan and inf in the same places), same dtype and weak type."""
    want_dtype = np.asarray(want).dtype
    assert np.dtype(got.dtype) == want_dtype, (got.dtype, want_dtype)
    if check_weak:
        assert weak(got) == jax.typeof(want).weak_type, (fn.typeof(got), jax.typeof(want))
    rtol = RTOL.get(want_dtype, 1e-5) if rtol is None else rtol
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


def assert_close(got, want, dtype, rtol=None, atol=0.0):
    rtol = RTOL[np.dtype(dtype)] if rtol is None else rtol
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)
