"""funcnet.Array and placement: devices, device_put, asarray, block_until_ready,
.device, NumPy conversion, dlpack, and the Python protocols of a concrete array."""

import copy
import pickle

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp


def test_devices():
    devs = fn.devices()
    assert len(devs) >= 1
    assert all(hasattr(d, "platform") for d in devs)
    assert fn.devices("cpu")[0].platform == "cpu"


def test_device_put_numpy_and_pytrees():
    dev = fn.devices()[0]
    x = fn.device_put(np.arange(6.0).reshape(2, 3), dev)
    assert isinstance(x, fn.Array)
    assert x.device == dev
    assert x.dtype == np.float32  # 64-bit narrows to 32 bits unless x64 is on
    np.testing.assert_array_equal(np.asarray(x), np.arange(6.0).reshape(2, 3))

    tree = fn.device_put({"w": np.ones((2, 2), np.float32), "b": [np.zeros(2), 3]})
    assert isinstance(tree["w"], fn.Array) and isinstance(tree["b"][0], fn.Array)
    assert tree["b"][1].dtype == np.int32 and tree["b"][1].weak_type
    same = fn.device_put(x)  # an Array on its device already
    np.testing.assert_array_equal(np.asarray(same), np.asarray(x))


@pytest.mark.parametrize(
    "value, dtype, weak",
    [
        ([1, 2, 3], np.int32, False),
        ([1.0, 2.5], np.float32, False),
        ([[True, False]], np.bool_, False),
        (np.arange(3, dtype=np.int64), np.int32, False),
        (np.arange(3, dtype=np.uint8), np.uint8, False),
        (np.ones(2, np.float16), np.float16, False),
        (3.0, np.float32, True),
        (3, np.int32, True),
        (True, np.bool_, False),  # a Python bool is not weak (as jax)
        (np.float32(3.0), np.float32, False),
    ],
)
def test_asarray(value, dtype, weak):
    x = fn.asarray(value)
    assert isinstance(x, fn.Array)
    assert x.dtype == np.dtype(dtype) and x.weak_type == weak
    np.testing.assert_array_equal(np.asarray(x), np.asarray(value).astype(dtype))


def test_asarray_with_dtype_and_of_arrays():
    x = fn.asarray([1, 2], dtype=np.float16)
    assert x.dtype == np.float16
    assert fn.asarray(x) is x
    y = fn.asarray(fn.asarray([1.0, 2.0]), dtype=fnp.bfloat16)
    assert y.dtype == fnp.bfloat16
    jnp = pytest.importorskip("jax.numpy")
    z = fn.asarray(jnp.arange(3))
    assert isinstance(z, fn.Array) and z.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(z), [0, 1, 2])


def test_asarray_rejects_ragged_and_non_numeric():
    with pytest.raises((TypeError, ValueError)):
        fn.asarray([[1, 2], [3]])
    with pytest.raises(TypeError):
        fn.asarray("abc")
    with pytest.raises(TypeError, match="not supported"):
        fn.asarray(np.ones(2, np.longdouble))


def test_block_until_ready_and_device():
    x = fnp.arange(4.0) * 2
    assert x.block_until_ready() is x
    assert x.device == fn.devices()[0]
    assert (x + 1).device == x.device


def test_array_attributes():
    x = fn.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float32
    assert len(x) == 2
    assert [r.shape for r in x] == [(3,), (3,)]
    assert x.T.shape == (3, 2)
    assert x.aval == fn.ShapedArray((2, 3), np.float32)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert fn.asarray(np.zeros((0, 3))).shape == (0, 3)


def test_numpy_conversion():
    x = fn.asarray(np.arange(4, dtype=np.int32))
    a = np.asarray(x)
    assert isinstance(a, np.ndarray) and a.dtype == np.int32
    np.testing.assert_array_equal(a, [0, 1, 2, 3])
    np.testing.assert_array_equal(np.asarray(x, dtype=np.float64), [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.to_numpy(), a)
    # NumPy functions accept funcnet arrays
    assert np.sum(np.asarray(x)) == 6


def test_scalar_conversions():
    s = fn.asarray(np.float32(2.5))
    assert float(s) == 2.5 and int(s) == 2 and bool(s) and s.item() == 2.5
    i = fn.asarray(np.int32(3))
    assert [10, 11, 12, 13][i] == 13  # __index__
    with pytest.raises(TypeError, match="ambiguous"):
        bool(fnp.ones(3))
    with pytest.raises(TypeError, match="index"):
        [1, 2][fn.asarray(np.float32(1))]
    with pytest.raises(TypeError):
        len(s)
    with pytest.raises(TypeError, match="unhashable"):
        hash(s)


def test_repr_and_str():
    x = fn.asarray([1.0, 2.0])
    assert repr(x) == "Array([1., 2.], dtype=float32)"
    assert str(x) == "[1. 2.]"
    assert repr(fn.asarray(1.0)) == "Array(1., dtype=float32, weak_type=True)"


def test_pickle_and_copy():
    x = fn.asarray(np.arange(3, dtype=np.int32))
    y = pickle.loads(pickle.dumps(x))
    assert isinstance(y, fn.Array) and y.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(y), [0, 1, 2])
    assert copy.copy(x) is x and copy.deepcopy(x) is x


def test_dlpack_to_numpy_and_jax():
    x = fn.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    device_type, device_id = x.__dlpack_device__()
    assert int(device_type) == 1 and device_id == 0  # kDLCPU
    np.testing.assert_array_equal(np.from_dlpack(x), np.asarray(x))
    jnp = pytest.importorskip("jax.numpy")
    np.testing.assert_array_equal(np.asarray(jnp.from_dlpack(x)), np.asarray(x))


def test_dlpack_from_numpy_into_funcnet():
    a = np.arange(4, dtype=np.float32)
    # funcnet builds Arrays from anything NumPy can read; a dlpack producer goes through
    # np.from_dlpack.
    x = fn.asarray(np.from_dlpack(a))
    np.testing.assert_array_equal(np.asarray(x), a)


def test_deleted_array():
    x = fn.asarray([1.0, 2.0])
    x.delete()
    assert x.is_deleted()
    with pytest.raises(RuntimeError, match="deleted"):
        np.asarray(x)
    with pytest.raises(RuntimeError, match="deleted"):
        x.block_until_ready()
    with pytest.raises(RuntimeError, match="deleted"):
        x.__dlpack__()
    assert repr(x) == "Array(<deleted>, f32[2])"


def test_arrays_interoperate_with_numpy_operands():
    x = fn.asarray([1.0, 2.0])
    y = x + np.array([1.0, 1.0], np.float32)
    assert isinstance(y, fn.Array)
    z = np.array([1.0, 1.0], np.float32) + x  # __array_priority__ routes to funcnet
    assert isinstance(z, fn.Array)
    np.testing.assert_array_equal(np.asarray(z), [2.0, 3.0])
