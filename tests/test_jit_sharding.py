"""jit with in_shardings/out_shardings and with_sharding_constraint.

Multi-device facts come from ONE subprocess with 8 forced host devices
(tests/jit_sharding_worker.py) that runs funcnet and jax's jit with the same shardings
side by side; lowering text and bad input are checked here on a 1-device mesh."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.sharding import Mesh, NamedSharding
from funcnet.sharding import PartitionSpec as P
from funcnet.sharding._sdy import mesh_decl, sharding_attr, tensor_sharding

WORKER = Path(__file__).with_name("jit_sharding_worker.py")


@pytest.fixture(scope="module")
def facts():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    proc = subprocess.run(
        [sys.executable, str(WORKER)], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- 8 devices, against jax's jit in the same process --------------------------------


def test_megatron_mlp_values_and_layout_match_jax(facts):
    assert facts["mlp_values"] and facts["mlp_indices"]
    assert facts["mlp_out_is_named"] == "NamedSharding"
    assert facts["mlp_out_spec"] == "PartitionSpec('data')"


def test_megatron_mlp_collectives_match_jax(facts):
    assert facts["mlp_collectives"] == facts["mlp_collectives_jax"]
    assert facts["mlp_collectives"]["all-reduce"] >= 1  # the row split's partial sums
    assert facts["mlp_partitioned_shapes"]


def test_row_split_matmul_with_split_output_matches_jax(facts):
    assert facts["rowsplit_values"] and facts["rowsplit_indices"]
    assert facts["rowsplit_collectives"] == facts["rowsplit_collectives_jax"]
    assert sum(facts["rowsplit_collectives"].values()) >= 1


def test_lowered_text_has_shardy_attributes(facts):
    assert all(facts["mlp_text_attrs"])


def test_out_shardings_and_argument_shardings(facts):
    assert facts["out_shardings_values"] and facts["out_shardings_indices"]
    assert facts["from_arg_values"] and facts["from_arg_indices"]
    assert facts["from_arg_text"]  # the argument's own sharding became its attribute


def test_cache_keys_on_shardings(facts):
    assert facts["cache_texts_differ"] and facts["cache_grows"]


@pytest.mark.parametrize("case", ["wsc_jit", "wsc_grad", "wsc_vmap", "wsc_scan"])
def test_with_sharding_constraint_matches_jax(facts, case):
    assert facts[f"{case}_values"] and facts[f"{case}_indices"]


def test_with_sharding_constraint_details(facts):
    assert facts["wsc_grad_constraints"] == facts["wsc_grad_constraints_jax"]
    assert facts["wsc_vmap_text"] and facts["wsc_scan_ys"]
    assert facts["wsc_eager"] == [True, True]
    assert facts["nested_grad"]


def test_second_mesh_in_another_device_order(facts):
    assert facts["two_meshes"] == [True, True, True]


def test_donation_of_sharded_argument(facts):
    assert facts["donate"] == [True, True]
    kind, msg = facts["err_donated_again"]
    assert kind == "RuntimeError" and "donated" in msg


def test_lower_with_sharded_shape_dtype_struct(facts):
    assert facts["lower_shape_dtype_struct"]


def test_bad_axis(facts):
    kind, msg = facts["err_axis"]
    assert kind == "ValueError" and "'nope'" in msg and "lacks" in msg


def test_bad_not_divisible_refused_as_jax(facts):
    assert facts["err_divisible_jax"] is not None  # jax's jit refuses too
    kind, msg = facts["err_divisible"]
    assert kind == "ValueError"
    assert "a (argument 0)" in msg and "not divisible by 4" in msg and "jax's jit" in msg
    kind, msg = facts["err_wsc_divisible"]
    assert kind == "ValueError" and "not divisible" in msg


@pytest.mark.parametrize("case", ["err_devices", "err_devices_args"])
def test_bad_mismatched_device_sets(facts, case):
    kind, msg = facts[case]
    assert kind == "ValueError"
    assert "a (argument 0)" in msg and "b (argument 1)" in msg
    assert "[1, 0, 2, 3, 4, 5, 6, 7]" in msg and "[0, 1, 2, 3]" in msg


def test_bad_in_shardings_tree(facts):
    kind, msg = facts["err_tree"]
    assert kind == "ValueError" and "args[1]" in msg and "['v']" in msg and "['w']" in msg


def test_bad_sharded_argument_differs_from_in_shardings(facts):
    kind, msg = facts["err_mismatch"]
    assert kind == "ValueError" and "a (argument 0)" in msg and "does not match" in msg


# --- one process, a 1-device mesh ----------------------------------------------------


@pytest.fixture
def mesh1():
    return Mesh(fn.devices()[:1], ("data",))


def test_sdy_text_helpers(mesh1):
    assert mesh_decl(mesh1) == 'sdy.mesh @mesh = <["data"=1]>'
    assert mesh_decl(mesh1, "m", device_ids=[0]) == 'sdy.mesh @m = <["data"=1], device_ids=[0]>'
    assert tensor_sharding(P("a", ("b", "c")), 3) == '<@mesh, [{"a"}, {"b", "c"}, {}]>'
    assert sharding_attr(P(), 0, "m") == "#sdy.sharding<@m, []>"
    with pytest.raises(ValueError, match="more than the array's 1"):
        tensor_sharding(P("a", "b"), 1)


def test_single_device_lowering_has_no_sharding_text():
    text = fn.jit(lambda x: x + 1).lower(fnp.ones(3)).as_text()
    assert text.startswith("module @_lambda_ {") and "sdy" not in text
    assert "num_partitions" not in text


def test_one_device_mesh_lowering_and_values(mesh1):
    s = NamedSharding(mesh1, P("data"))
    f = fn.jit(lambda x, y: (x * y, x.sum()), in_shardings=(s, None), out_shardings=(s, None))
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    text = f.lower(x, x).as_text()
    assert "mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32" in text
    assert 'sdy.mesh @mesh = <["data"=1]>' in text
    assert text.count('{sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>}') == 2  # x, out 0
    a, b = f(x, x)
    np.testing.assert_allclose(np.asarray(a), x * x)
    np.testing.assert_allclose(np.asarray(b), x.sum())
    assert a.sharding == s


def test_with_sharding_constraint_lowers_to_sdy(mesh1):
    s = NamedSharding(mesh1, P(None, "data"))
    f = fn.jit(lambda x: lax.with_sharding_constraint(fnp.sin(x), s) * 2)
    x = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    text = f.lower(x).as_text()
    assert '"sdy.sharding_constraint"' in text
    assert 'sharding = #sdy.sharding<@mesh, [{}, {"data"}]>' in text
    ref = jax.jit(lambda v: jnp.sin(v) * 2)(x)
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(ref), rtol=1e-6)


def test_with_sharding_constraint_rules_in_programs(mesh1):
    s = NamedSharding(mesh1, P("data"))
    g = fn.make_jaxpr(fn.grad(lambda x: (lax.with_sharding_constraint(x, s) ** 2).sum()))
    assert "sharding_constraint" in str(g(fnp.ones(4)))  # the cotangent is constrained
    v = fn.make_jaxpr(fn.vmap(lambda x: lax.with_sharding_constraint(x, s), in_axes=1))
    assert "PartitionSpec('data', None)" in str(v(fnp.ones((4, 3))))  # batch dim unsplit
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    got = fn.grad(lambda x: (lax.with_sharding_constraint(fnp.sin(x), s) ** 2).sum())(x)
    np.testing.assert_allclose(np.asarray(got), 2 * np.sin(x) * np.cos(x), rtol=1e-5)
    t = fn.jvp(lambda x: lax.with_sharding_constraint(x * 3, s), (x,), (np.ones_like(x),))[1]
    np.testing.assert_allclose(np.asarray(t), 3 * np.ones_like(x))


def test_with_sharding_constraint_bad_input(mesh1):
    s = NamedSharding(mesh1, P("data"))
    with pytest.raises(TypeError, match="NamedSharding"):
        lax.with_sharding_constraint(fnp.ones(2), P("data"))
    with pytest.raises(ValueError, match=r"keys \['b'\] but x has a dict with keys \['a'\]"):
        lax.with_sharding_constraint({"a": fnp.ones(2)}, {"b": s})
    with pytest.raises(ValueError, match="rank"):
        fn.jit(lambda x: lax.with_sharding_constraint(x, NamedSharding(mesh1, P("data"))))(1.0)


def test_jit_bad_sharding_options(mesh1):
    with pytest.raises(TypeError, match="needs a mesh"):
        fn.jit(lambda x: x, in_shardings=P("data"))
    s = NamedSharding(mesh1, P("data"))
    f = fn.jit(lambda x, y: x + y, in_shardings=(s, s, s))
    with pytest.raises(ValueError, match=r"in_shardings .*args"):
        f(fnp.ones(2), fnp.ones(2))
    g = fn.jit(lambda x: (x, x), out_shardings=[s])
    with pytest.raises(ValueError, match="out_shardings"):
        g(fnp.ones(2))
