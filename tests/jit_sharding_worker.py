"""Scenario worker for tests/test_jit_sharding.py: run in its own process with 8 forced
host devices (the runtime reads XLA_FLAGS only at start). Runs funcnet's jit with
shardings and jax's jit with the same shardings side by side and prints one JSON object
of facts on stdout's last line."""

import json
import os
import re
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh as JMesh
from jax.sharding import NamedSharding as JNamed
from jax.sharding import PartitionSpec as JP

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.sharding import Mesh, NamedSharding
from funcnet.sharding import PartitionSpec as P

facts = {}
ORDER = [1, 0, 2, 3, 4, 5, 6, 7]  # a permuted device order: partition ids follow it
devs = fn.devices()
mesh = Mesh(np.array([devs[i] for i in ORDER]).reshape(4, 2), ("data", "model"))
jmesh = JMesh(np.array([jax.devices()[i] for i in ORDER]).reshape(4, 2), ("data", "model"))


def fs(*spec):
    return NamedSharding(mesh, P(*spec))


def js(*spec):
    return JNamed(jmesh, JP(*spec))


def indices(sharding, shape):
    """{device id: [[start, stop] per dim]} for funcnet's or jax's sharding."""
    out = {}
    for d, idx in sharding.devices_indices_map(shape).items():
        out[str(d.id)] = [list(s.indices(n)[:2]) for s, n in zip(idx, shape)]
    return out


def collectives(hlo: str) -> dict:
    return {
        k: len(re.findall(rf"\b{k}(?:-start)?\(", hlo))
        for k in ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
    }


def check(name, fn_out, jax_out, atol=1e-5):
    facts[f"{name}_values"] = bool(
        np.allclose(np.asarray(fn_out), np.asarray(jax_out), rtol=1e-5, atol=atol)
    )
    facts[f"{name}_indices"] = indices(fn_out.sharding, fn_out.shape) == indices(
        jax_out.sharding, jax_out.shape
    )


rng = np.random.default_rng(0)
x = rng.standard_normal((8, 16)).astype(np.float32)
w1 = rng.standard_normal((16, 32)).astype(np.float32) / 4
w2 = rng.standard_normal((32, 16)).astype(np.float32) / 4


# 1. Megatron MLP: batch over "data", w1 column split, w2 row split over "model".
def mlp_fn(x, w1, w2):
    return fnp.tanh(x @ w1) @ w2


def mlp_jax(x, w1, w2):
    return jnp.tanh(x @ w1) @ w2


fin = (fs("data"), fs(None, "model"), fs("model", None))
jin = (js("data"), js(None, "model"), js("model", None))
f = fn.jit(mlp_fn, in_shardings=fin)
g = jax.jit(mlp_jax, in_shardings=jin)
check("mlp", f(x, w1, w2), g(x, w1, w2))
facts["mlp_out_is_named"] = type(f(x, w1, w2).sharding).__name__
facts["mlp_out_spec"] = str(f(x, w1, w2).sharding.spec)
lowered = f.lower(x, w1, w2)
text = lowered.as_text()
facts["mlp_text_attrs"] = [
    "mhlo.num_partitions = 8 : i32" in text,
    'sdy.mesh @mesh = <["data"=4, "model"=2]>' in text,
    'sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>' in text,
    'sdy.sharding = #sdy.sharding<@mesh, [{}, {"model"}]>' in text,
    'sdy.sharding = #sdy.sharding<@mesh, [{"model"}, {}]>' in text,
]
compiled = lowered.compile().as_text()
facts["mlp_collectives"] = collectives(compiled)
facts["mlp_collectives_jax"] = collectives(g.lower(x, w1, w2).compile().as_text())
facts["mlp_partitioned_shapes"] = "f32[2,16]" in compiled  # each device's block of x

# 1b. a row-split matmul whose output is split too (partial sums scattered).
w3 = rng.standard_normal((16, 8)).astype(np.float32)
rs = fn.jit(
    lambda a, b: a @ b,
    in_shardings=(fs(None, "model"), fs("model")),
    out_shardings=fs("data", "model"),
)
rsj = jax.jit(
    lambda a, b: a @ b,
    in_shardings=(js(None, "model"), js("model")),
    out_shardings=js("data", "model"),
)
check("rowsplit", rs(x, w3), rsj(x, w3))
facts["rowsplit_collectives"] = collectives(rs.lower(x, w3).compile().as_text())
facts["rowsplit_collectives_jax"] = collectives(rsj.lower(x, w3).compile().as_text())

# 2. out_shardings, and an argument's sharding read from the array.
h = fn.jit(lambda a: a * 2, out_shardings=fs(None, "data"))
hj = jax.jit(lambda a: a * 2, out_shardings=js(None, "data"))
xa = h(x)
check("out_shardings", xa, hj(x))
k = fn.jit(lambda a: fnp.sin(a) + 1)
kj = jax.jit(lambda a: jnp.sin(a) + 1)
check("from_arg", k(xa), kj(hj(x)))
facts["from_arg_text"] = 'sdy.sharding<@mesh, [{}, {"data"}]>' in k.lower(xa).as_text()

# 3. the jit cache keys on the shardings.
f2 = fn.jit(mlp_fn, in_shardings=(fs(), fs(), fs()))
facts["cache_texts_differ"] = f2.lower(x, w1, w2).as_text() != text
before = k.cache_info().currsize
k(x)  # a single-device argument: another signature
facts["cache_grows"] = k.cache_info().currsize == before + 1

# 4. with_sharding_constraint under jit, grad, vmap and scan.
c1 = fs("model", None)


def wsc_fn(a):
    return lax.with_sharding_constraint(a * 2, c1) + 1


check(
    "wsc_jit",
    fn.jit(wsc_fn)(x),
    jax.jit(lambda a: jax.lax.with_sharding_constraint(a * 2, js("model", None)) + 1)(x),
)


def loss_fn(a):
    return (lax.with_sharding_constraint(fnp.sin(a), fs("data", "model")) ** 2).sum()


def loss_jax(a):
    return (jax.lax.with_sharding_constraint(jnp.sin(a), js("data", "model")) ** 2).sum()


check("wsc_grad", fn.jit(fn.grad(loss_fn))(x), jax.jit(jax.grad(loss_jax))(x))
gtext = fn.jit(fn.grad(loss_fn)).lower(x).as_text()
facts["wsc_grad_constraints"] = gtext.count("sdy.sharding_constraint")
facts["wsc_grad_constraints_jax"] = (
    jax.jit(jax.grad(loss_jax)).lower(x).as_text().count("sdy.sharding_constraint")
)
vf = fn.jit(fn.vmap(lambda r: lax.with_sharding_constraint(r * 3, fs("model"))))
vj = jax.jit(jax.vmap(lambda r: jax.lax.with_sharding_constraint(r * 3, js("model"))))
check("wsc_vmap", vf(x), vj(x))
facts["wsc_vmap_text"] = (
    'sdy.sharding_constraint"(%3) <{sharding = #sdy.sharding<@mesh, [{}, {"model"}]>}>'
    in vf.lower(x).as_text()
    or '[{}, {"model"}]' in vf.lower(x).as_text()
)


def scan_fn(c, r):
    c = lax.with_sharding_constraint(c + r, fs("model"))
    return c, c.sum()


def scan_jax(c, r):
    c = jax.lax.with_sharding_constraint(c + r, js("model"))
    return c, c.sum()


sf = fn.jit(lambda a: lax.scan(scan_fn, fnp.zeros(16), a))
sj = jax.jit(lambda a: jax.lax.scan(scan_jax, jnp.zeros(16), a))
(c_f, ys_f), (c_j, ys_j) = sf(x), sj(x)
check("wsc_scan", c_f, c_j)
facts["wsc_scan_ys"] = bool(np.allclose(np.asarray(ys_f), np.asarray(ys_j), atol=1e-5))
eager = lax.with_sharding_constraint(fnp.asarray(x), fs("data"))
facts["wsc_eager"] = [
    indices(eager.sharding, x.shape) == indices(js("data"), x.shape),
    bool(np.array_equal(np.asarray(eager), x)),
]
# a jitted function with in_shardings inside grad keeps them as constraints
inner = fn.jit(lambda a: fnp.sin(a), in_shardings=fs("data"), out_shardings=fs("model"))
facts["nested_grad"] = bool(
    np.allclose(np.asarray(fn.jit(fn.grad(lambda a: inner(a).sum()))(x)), np.cos(x), atol=1e-5)
)

# 4b. a constraint on a second mesh over the same devices in another order (declared with
# device_ids), and its result (a layout no spec on the first mesh gives) passed on.
mesh_rev = Mesh(np.array(devs)[::-1].reshape(2, 4), ("a", "b"))
k2 = fn.jit(lambda a: lax.with_sharding_constraint(a * 2, NamedSharding(mesh_rev, P("a", "b"))))
r = k2(xa)
r2 = fn.jit(lambda a: a + 1)(r)
facts["two_meshes"] = [
    # positions in the program's device list (the first mesh's order, ORDER)
    "device_ids=[7, 6, 5, 4, 3, 2, 0, 1]" in k2.lower(xa).as_text(),
    bool(np.allclose(np.asarray(r), 4 * x)),  # xa is 2 * x
    bool(np.allclose(np.asarray(r2), 4 * x + 1)),
]

# 5. donation of a sharded argument.
d = fn.jit(lambda a: a + 1, donate_argnums=0)
arg = h(x)
out = d(arg)
facts["donate"] = [bool(np.allclose(np.asarray(out), 2 * x + 1)), arg.is_deleted()]


# 6. bad input.
def error(thunk):
    try:
        thunk()
    except Exception as e:  # every error is a fact for the test
        return [type(e).__name__, str(e)]
    return None


facts["err_donated_again"] = error(lambda: d(arg))
lowered_sds = fn.jit(lambda a: a + 1).lower(
    fn.ShapeDtypeStruct(x.shape, x.dtype, sharding=fs("data"))
)
facts["lower_shape_dtype_struct"] = 'sdy.sharding<@mesh, [{"data"}, {}]>' in lowered_sds.as_text()
facts["err_axis"] = error(lambda: fn.jit(lambda a: a, in_shardings=fs("nope"))(x))
facts["err_divisible"] = error(lambda: fn.jit(lambda a: a, in_shardings=fs("data"))(x[:6]))
facts["err_divisible_jax"] = error(lambda: jax.jit(lambda a: a, in_shardings=js("data"))(x[:6]))
mesh4 = Mesh(np.array(devs[:4]), ("data",))
facts["err_devices"] = error(
    lambda: fn.jit(lambda a, b: a + b, in_shardings=(fs("data"), NamedSharding(mesh4, P("data"))))(
        x, x
    )
)
facts["err_devices_args"] = error(
    lambda: fn.jit(lambda a, b: a + b)(
        xa, fn.jit(lambda v: v, out_shardings=NamedSharding(mesh4, P("data")))(x)
    )
)
facts["err_tree"] = error(
    lambda: fn.jit(lambda a, b: a + b["w"], in_shardings=(fs(), {"v": fs()}))(x, {"w": x})
)
facts["err_mismatch"] = error(lambda: fn.jit(lambda a: a, in_shardings=fs("data"))(xa))
facts["err_wsc_divisible"] = error(
    lambda: fn.jit(lambda a: lax.with_sharding_constraint(a, fs("data")))(x[:6])
)

print(json.dumps(facts))
sys.stdout.flush()
