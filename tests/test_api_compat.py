"""Top-level names a JAX user reaches for (devices, placement, jacobian, ShapeDtypeStruct)
and Array's device/sharding attributes, against jax."""

import inspect

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
import funcnet.test_util
from funcnet.sharding import SingleDeviceSharding


def test_jacobian_is_jacrev_as_in_jax():
    assert fn.jacobian is fn.jacrev
    f = lambda x: fnp.sin(x) * x[0]  # noqa: E731
    jf = lambda x: jnp.sin(x) * x[0]  # noqa: E731
    x = np.array([0.3, 1.2, -0.7], np.float32)
    np.testing.assert_allclose(
        np.asarray(fn.jacobian(f)(fnp.asarray(x))),
        np.asarray(jax.jacobian(jf)(x)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_device_queries_match_jax():
    assert fn.default_backend() == jax.default_backend()
    assert fn.device_count() == jax.device_count()
    assert fn.local_device_count() == jax.local_device_count()
    assert fn.local_devices() == jax.local_devices()
    assert fn.process_index() == jax.process_index() == 0
    assert fn.process_count() == jax.process_count() == 1
    with pytest.raises(ValueError, match="single process"):
        fn.local_devices(process_index=3)


def test_device_get_and_block_until_ready_match_jax():
    tree = {"a": fnp.arange(3.0), "b": 1.5, "c": "tag", "d": np.ones(2)}
    jtree = {"a": jnp.arange(3.0), "b": 1.5, "c": "tag", "d": np.ones(2)}
    got, want = fn.device_get(tree), jax.device_get(jtree)
    assert type(got["a"]) is type(want["a"]) is np.ndarray
    np.testing.assert_array_equal(got["a"], want["a"])
    assert got["b"] == want["b"] and got["c"] == want["c"] and got["d"] is tree["d"]
    assert fn.block_until_ready(tree) is tree
    assert fn.block_until_ready(tree["a"]) is tree["a"]


def test_typeof_matches_jax():
    for v in (1.0, np.ones((2, 3), np.int32), True):
        ours, theirs = fn.typeof(v), jax.typeof(v)
        assert (ours.shape, ours.dtype, ours.weak_type) == (
            theirs.shape,
            theirs.dtype,
            theirs.weak_type,
        )


def test_array_devices_and_sharding_match_jax():
    x, jx = fnp.ones((2, 3)), jnp.ones((2, 3))
    assert x.devices() == jx.devices()
    s, js = x.sharding, jx.sharding
    assert isinstance(s, SingleDeviceSharding)
    assert s.device_set == js.device_set
    assert s.is_fully_replicated == js.is_fully_replicated
    assert s.is_fully_addressable == js.is_fully_addressable
    assert s.memory_kind == js.memory_kind
    assert s.num_devices == js.num_devices and s.shard_shape((4, 5)) == js.shard_shape((4, 5))
    assert repr(s) == repr(js)
    assert s == fnp.zeros(4).sharding and hash(s) == hash(fnp.zeros(4).sharding)
    assert s != s.with_memory_kind("pinned_host")
    assert x.is_fully_addressable == jx.is_fully_addressable
    assert x.is_fully_replicated == jx.is_fully_replicated
    assert x.copy_to_host_async() is None
    assert x.addressable_data(0) is x
    with pytest.raises(IndexError):
        x.addressable_data(1)


def test_device_put_accepts_a_device_or_a_sharding():
    dev = fn.devices()[0]
    y = fn.device_put(np.arange(3.0, dtype=np.float32), fnp.ones(1).sharding)
    assert isinstance(y, fn.Array) and y.devices() == {dev}
    tree = fn.device_put({"a": 1.0, "b": [np.ones(2)]}, dev)
    assert all(isinstance(v, fn.Array) for v in fn.tree.leaves(tree))
    # inside a traced function, values pass through (jax: device_put is an identity there)
    out = fn.jit(lambda v: fn.device_put(v, dev) * 2)(fnp.ones(2))
    np.testing.assert_array_equal(np.asarray(out), [2.0, 2.0])
    with pytest.raises(TypeError, match="device_put: expected a device"):
        fn.device_put(1.0, "cpu:0")


def test_asarray_takes_device():
    dev = fn.devices()[0]
    for where in (dev, SingleDeviceSharding(dev)):
        a = fn.asarray([1.0, 2.0], device=where)
        assert a.devices() == {dev}
        np.testing.assert_array_equal(np.asarray(a), [1.0, 2.0])


def test_shape_dtype_struct_as_jax():
    s, js = fn.ShapeDtypeStruct((2, 3), np.float32), jax.ShapeDtypeStruct((2, 3), np.float32)
    assert repr(s) == repr(js)
    assert (s.shape, s.dtype, s.ndim, s.size) == (js.shape, js.dtype, js.ndim, js.size)
    assert s == fn.ShapeDtypeStruct((2, 3), np.float32) and s != fn.ShapeDtypeStruct((3,), "f4")
    assert hash(s) == hash(fn.ShapeDtypeStruct((2, 3), np.float32))
    out = fn.eval_shape(lambda a, b: (a @ b).sum(0), s, fn.ShapeDtypeStruct((3, 4), np.float32))
    want = jax.eval_shape(lambda a, b: (a @ b).sum(0), js, jax.ShapeDtypeStruct((3, 4), np.float32))
    assert (out.shape, out.dtype) == (want.shape, want.dtype)
    text = fn.jit(lambda a: a * 2).lower(s).as_text()
    assert "tensor<2x3xf32>" in text


def test_check_grads_and_checkpoint_take_jaxs_parameters_in_jaxs_order():
    ours = list(inspect.signature(funcnet.test_util.check_grads).parameters)
    theirs = list(inspect.signature(jax.test_util.check_grads).parameters)
    assert ours == theirs
    # checkpoint: keyword-only options, as jax (concrete and static_argnames aside)
    params = inspect.signature(fn.checkpoint).parameters
    for name in ("prevent_cse", "policy", "static_argnums"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
