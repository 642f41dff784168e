"""Host NumPy values are copied on their way to the device (issue 19): the CPU runtime
would alias an aligned NumPy buffer ("zero copy"), so that writing into the NumPy array
afterwards changed the funcnet Array. jax copies (jnp.asarray); so must funcnet, for
every way a host array reaches the device."""

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp

# Sizes where the runtime aliased before the fix (about 40% of small sizes), and larger.
SIZES = [1, 3, 4, 5, 12, 13, 16, 32, 100, 4096]


def _host(n, dtype, offset):
    """A host array of n elements; offset 1 makes it start one element into its
    buffer (not aligned the way the runtime could alias)."""
    base = np.arange(n + offset, dtype=dtype) + 1
    return base[offset:]


WAYS = {
    "fnp.asarray": lambda h: fnp.asarray(h),
    "fn.device_put": lambda h: fn.device_put(h),
    "array + host": lambda h: fnp.zeros(h.shape, h.dtype) + h,
    "host * array": lambda h: h * fnp.ones(h.shape, h.dtype),
    "jit argument": lambda h: fn.jit(lambda x: x)(h),
}


@pytest.mark.parametrize(
    "way, dtype",
    [(w, np.float32) for w in WAYS] + [("fnp.asarray", np.int32), ("fn.device_put", np.int32)],
)
def test_writing_the_numpy_array_afterwards_changes_nothing(way, dtype):
    put = WAYS[way]
    changed = []
    for n in SIZES:
        for offset in (0, 1):
            host = _host(n, dtype, offset)
            want = host.copy()
            a = put(host)
            host[:] = 100  # the caller reuses its buffer
            got = np.asarray(a)
            if not np.array_equal(got, want):
                changed.append((n, offset))
    assert not changed, f"{way}: the device value followed the NumPy array for {changed}"


def test_a_numpy_scalar_and_a_read_only_array_still_put():
    s = np.float32(2.5)
    assert float(fnp.asarray(s)) == 2.5 and float(fnp.asarray(s)) == 2.5
    ro = np.arange(6.0, dtype=np.float32)
    ro.flags.writeable = False
    np.testing.assert_array_equal(np.asarray(fn.device_put(ro)), np.arange(6.0))
