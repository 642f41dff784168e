"""funcnet.export: jitted functions as StableHLO portable artifacts.

Values are checked against NumPy and against the jitted function; the round trip
through bytes is checked in this process and in a fresh Python process that imports
only funcnet and NumPy (never this file). The container is read back here with the
standard library (struct, json, hashlib), independently of funcnet's reader.
"""

import hashlib
import importlib.metadata
import json
import struct
import subprocess
import sys
import textwrap
from typing import NamedTuple

import ml_dtypes
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.export import ArtifactError, deserialize, export

HEADER = struct.Struct("<8sIQ32s")  # magic, format version, metadata size, SHA-256


def read_container(data):
    """(format version, metadata, modules) read with the standard library."""
    magic, version, n, digest = HEADER.unpack_from(data)
    assert magic == b"\x89FNX\r\n\x1a\n"
    body = data[HEADER.size :]
    assert hashlib.sha256(body).digest() == digest
    meta = json.loads(body[:n])
    modules, at = [], n
    for m in meta["modules"]:
        modules.append(body[at : at + m["size"]])
        at += m["size"]
    assert at == len(body)
    return version, meta, modules


def write_container(meta, modules, version=1):
    body = json.dumps(meta).encode() + b"".join(modules)
    n = len(json.dumps(meta).encode())
    return HEADER.pack(b"\x89FNX\r\n\x1a\n", version, n, hashlib.sha256(body).digest()) + body


def mlp(params, x):
    for name in sorted(params):
        layer = params[name]
        x = fnp.tanh(x @ layer["w"] + layer["b"])
    return x


def mlp_numpy(params, x):
    for name in sorted(params):
        x = np.tanh(x @ np.asarray(params[name]["w"]) + np.asarray(params[name]["b"]))
    return x


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [(5, 8), (8, 3)]
    return {
        f"dense_{i}": {
            "w": fnp.asarray(rng.normal(size=s).astype(np.float32)),
            "b": fnp.asarray(rng.normal(size=s[1]).astype(np.float32)),
        }
        for i, s in enumerate(sizes)
    }


@pytest.fixture(scope="module")
def mlp_export():
    params = make_params()
    spec = fn.ShapeDtypeStruct((4, 5), fnp.float32)
    return params, export(fn.jit(mlp))(params, spec)


# --- round trips -----------------------------------------------------------------------------


def test_mlp_round_trip_matches_numpy_and_jit(mlp_export):
    params, exp = mlp_export
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    text = exp.mlir_module()
    assert "stablehlo.dot_general" in text and "stablehlo.tanh" in text
    assert "func.func public @main" in text
    assert [a.shape for a in exp.in_avals] == [(8,), (5, 8), (3,), (8, 3), (4, 5)]
    assert [a.shape for a in exp.out_avals] == [(4, 3)]
    assert exp.fun_name == "mlp" and exp.platforms == (fn.default_backend(),)
    back = deserialize(exp.serialize())
    assert back.in_tree == exp.in_tree and back.out_tree == exp.out_tree
    assert back.in_avals == exp.in_avals and back.out_avals == exp.out_avals
    for e in (exp, back):
        out = e.call(params, fnp.asarray(x))
        np.testing.assert_allclose(np.asarray(out), mlp_numpy(params, x), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(out), np.asarray(fn.jit(mlp)(params, x)), rtol=1e-6, atol=1e-6
        )
    again = back.call(params, x)  # NumPy arguments; the executable is kept
    np.testing.assert_allclose(np.asarray(again), mlp_numpy(params, x), rtol=1e-5, atol=1e-6)


def test_multiple_outputs_and_a_pytree_output():
    def f(x, y):
        return x + y, {"prod": [x * y, None], "stats": (x.sum(), y.max())}

    x, y = np.arange(6.0, dtype=np.float32).reshape(2, 3), np.full((2, 3), 2.0, np.float32)
    exp = deserialize(export(fn.jit(f))(x, y).serialize())
    out = exp.call(x, y)
    assert fn.tree.structure(out) == fn.tree.structure(f(x, y))
    np.testing.assert_allclose(out[0], x + y)
    np.testing.assert_allclose(out[1]["prod"][0], x * y)
    assert out[1]["prod"][1] is None
    np.testing.assert_allclose(out[1]["stats"][0], x.sum())
    np.testing.assert_allclose(out[1]["stats"][1], 2.0)


def test_scalars_ints_bools_and_bfloat16():
    def f(i, b, h, s, k):
        return i * 2 + k, ~b, h * h, s + 1.0, (i > 1) & b

    i = np.array([1, 2, 3], np.int32)
    b = np.array([True, False, True])
    h = np.array([1.5, -2.0, 0.25], ml_dtypes.bfloat16)
    exp = deserialize(export(fn.jit(f))(i, b, h, np.float32(3.0), 4).serialize())
    assert [a.dtype.name for a in exp.in_avals] == ["int32", "bool", "bfloat16", "float32", "int32"]
    assert exp.in_avals[4].weak_type  # the Python int was weakly typed, and stays so
    out = exp.call(i, b, h, np.float32(5.0), 10)
    assert [o.dtype.name for o in out] == ["int32", "bool", "bfloat16", "float32", "bool"]
    np.testing.assert_array_equal(out[0], i * 2 + 10)
    np.testing.assert_array_equal(out[1], ~b)
    np.testing.assert_array_equal(np.asarray(out[2]), h * h)  # exact in bfloat16
    assert out[3].shape == () and float(out[3]) == 6.0
    np.testing.assert_array_equal(out[4], (i > 1) & b)


def test_loops_while_and_scan():
    def f(xs, n):
        def step(c, x):
            c = c * 0.5 + x
            return c, c.sum()

        c, ys = lax.scan(step, fnp.zeros(xs.shape[1:]), xs)
        _, doubled = lax.while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] * 2.0), (0, c))
        return ys, doubled

    xs = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    c, ys = np.zeros(3, np.float32), []
    for x in xs:
        c = c * 0.5 + x
        ys.append(c.sum())
    exp = deserialize(export(fn.jit(f))(xs, 3).serialize())
    text = exp.mlir_module()
    assert "stablehlo.while" in text
    out_ys, out_c = exp.call(xs, 3)
    np.testing.assert_allclose(out_ys, ys, rtol=1e-6)
    np.testing.assert_allclose(out_c, c * 8, rtol=1e-6)


def test_closed_over_constants_and_static_arguments_are_baked_in():
    table = np.arange(4.0, dtype=np.float32) * 10

    def f(x, n):
        return x * n + table

    exp = deserialize(export(fn.jit(f, static_argnums=1))(np.ones(4, np.float32), 3).serialize())
    assert len(exp.in_avals) == 1  # n is static: fixed at 3
    np.testing.assert_allclose(exp.call(np.full(4, 2.0, np.float32)), 2.0 * 3 + table)


def test_donation_is_dropped():
    exp = export(fn.jit(lambda x: x + 1.0, donate_argnums=0))(np.zeros(3, np.float32))
    assert "aliasing_output" not in exp.mlir_module()
    x = fnp.ones(3)
    np.testing.assert_allclose(exp.call(x), 2.0)
    np.testing.assert_allclose(x, 1.0)  # still alive: the artifact donates nothing


def test_stablehlo_version_is_declared_and_read_back(mlp_export):
    _, exp = mlp_export
    version = fn.export.default_stablehlo_version()
    assert exp.stablehlo_version == version and version.count(".") == 2
    data = exp.serialize()
    fmt, meta, modules = read_container(data)
    assert fmt == fn.export.FORMAT_VERSION == 1
    assert meta["stablehlo_version"] == version
    assert meta["calling_convention_version"] == fn.export.CALLING_CONVENTION_VERSION
    assert meta["funcnet_version"] == importlib.metadata.version("funcnet")
    assert meta["platforms"] == [fn.default_backend()]
    assert meta["in_avals"][0] == {"shape": [8], "dtype": "float32", "weak_type": False}
    # The portable artifact (MLIR bytecode, magic "ML\xefR") names its StableHLO version.
    assert modules[0][:4] == b"ML\xefR"
    assert f"StableHLO_v{version}".encode() in modules[0][:64]
    back = deserialize(data)
    assert back.stablehlo_version == version
    assert back.calling_convention_version == 1
    assert back.mlir_module_serialized() == modules[0]


def test_several_platforms():
    here = fn.default_backend()
    other = "cuda" if here == "cpu" else "cpu"
    exp = deserialize(export(fn.jit(fnp.sin), platforms=[here, other])(np.zeros(2)).serialize())
    assert exp.platforms == (here, other)
    assert "stablehlo.sine" in exp.mlir_module(other)
    np.testing.assert_allclose(exp.call(np.full(2, 0.5, np.float32)), np.sin(0.5), rtol=1e-6)
    only_other = export(fn.jit(fnp.sin), platforms=other)(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=f"exported for \\['{other}'\\].*{here}"):
        only_other.call(np.zeros(2, np.float32))


# --- inside transformations -------------------------------------------------------------------


def test_call_inside_jit_and_vmap(mlp_export):
    params, exp = mlp_export
    exp = deserialize(exp.serialize())
    x = np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32)
    jitted = fn.jit(lambda p, x: exp.call(p, x) * 2.0)
    assert "exported_call" in str(fn.make_jaxpr(jitted)(params, x))
    lowered = jitted.lower(params, x).as_text()
    assert lowered.count("stablehlo.tanh") == 2  # the artifact's body, inlined
    np.testing.assert_allclose(jitted(params, x), 2 * mlp_numpy(params, x), rtol=1e-5, atol=1e-6)
    xs = np.stack([x, x + 1, x - 1])
    out = fn.vmap(lambda x: exp.call(params, x))(xs)
    np.testing.assert_allclose(out, [mlp_numpy(params, v) for v in xs], rtol=1e-5, atol=1e-6)


def test_grad_of_an_exported_function_is_refused():
    exp = export(fn.jit(lambda x: (x * x).sum()))(np.ones(3, np.float32))
    with pytest.raises(NotImplementedError, match="Export the derivative"):
        fn.grad(exp.call)(np.ones(3, np.float32))
    grad_exp = export(fn.jit(fn.grad(lambda x: (x * x).sum())))(np.ones(3, np.float32))
    np.testing.assert_allclose(grad_exp.call(np.arange(3.0, dtype=np.float32)), [0, 2, 4])
    # an integer input carries only a symbolic zero tangent: the call goes through
    doubled = export(fn.jit(lambda i: (i * 2).astype(fnp.float32)))(np.zeros(3, np.int32))

    def g(x):
        return (x * doubled.call(fnp.floor(x).astype(fnp.int32))).sum()

    np.testing.assert_allclose(fn.grad(g)(fnp.array([1.5, 2.5, 3.5])), [2.0, 4.0, 6.0])


# --- a fresh process ---------------------------------------------------------------------------


def test_a_fresh_process_runs_the_artifact(tmp_path):
    def defined_only_here(params, x, scale):
        h = fnp.tanh(x @ params["w"]) * scale
        return {"h": h, "norm": fnp.sqrt((h * h).sum(axis=1))}

    rng = np.random.default_rng(3)
    params = {"w": rng.normal(size=(5, 4)).astype(np.float32)}
    x = rng.normal(size=(2, 5)).astype(np.float32)
    exp = export(fn.jit(defined_only_here))(params, x, np.float32(1.0))
    (tmp_path / "model.fnx").write_bytes(exp.serialize())
    np.savez(tmp_path / "inputs.npz", w=params["w"], x=x)
    here = exp.call(params, x, np.float32(0.5))
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import funcnet.export
        exp = funcnet.export.deserialize(open({str(tmp_path / "model.fnx")!r}, "rb").read())
        data = np.load({str(tmp_path / "inputs.npz")!r})
        out = exp.call({{"w": data["w"]}}, data["x"], np.float32(0.5))
        assert not any("test_export" in m for m in sys.modules), "imported the test"
        print(json.dumps({{k: np.asarray(v).tolist() for k, v in out.items()}}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    there = json.loads(run.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(there["h"], here["h"], rtol=1e-6)
    np.testing.assert_allclose(there["norm"], here["norm"], rtol=1e-6)
    expected = np.tanh(x @ params["w"]) * 0.5
    np.testing.assert_allclose(there["h"], expected, rtol=1e-5, atol=1e-6)


# --- bad input ---------------------------------------------------------------------------------


def test_wrong_shape_dtype_or_tree_names_the_argument(mlp_export):
    params, exp = mlp_export
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(TypeError, match=r"args\[1\] has type f32\[3,5\].*f32\[4,5\]"):
        exp.call(params, np.zeros((3, 5), np.float32))
    bad = fn.tree.map(lambda a: a, params)
    bad["dense_1"]["w"] = np.zeros((8, 3), np.int32)
    with pytest.raises(
        TypeError, match=r"args\[0\]\['dense_1'\]\['w'\] has type i32\[8,3\].*f32\[8,3\]"
    ):
        exp.call(bad, x)
    missing = {"dense_0": params["dense_0"], "dense_1": {"w": params["dense_1"]["w"]}}
    with pytest.raises(
        TypeError, match=r"args\[0\]\['dense_1'\] should be a dict with keys \['b', 'w'\] but is "
    ):
        exp.call(missing, x)
    with pytest.raises(TypeError, match="2 positional arguments, got 3"):
        exp.call(params, x, x)
    with pytest.raises(TypeError, match=r"args\[1\] is of type str"):
        exp.call(params, "x")


def test_a_shape_error_inside_jit_is_the_same():
    exp = export(fn.jit(fnp.cos))(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"args\[0\] has type f32\[4\].*f32\[3\]"):
        fn.jit(exp.call)(np.zeros(4, np.float32))


def test_corrupt_or_truncated_artifacts_are_refused(mlp_export):
    _, exp = mlp_export
    data = exp.serialize()
    with pytest.raises(ArtifactError, match="truncated"):
        deserialize(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="truncated"):
        deserialize(data[:20])
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF
    with pytest.raises(ArtifactError, match="checksum"):
        deserialize(bytes(flipped))
    with pytest.raises(ArtifactError, match="not a funcnet exported artifact"):
        deserialize(b"PK\x03\x04 a zip file")
    with pytest.raises(TypeError, match="expects bytes"):
        deserialize("a string")
    # a consistent container holding garbage instead of StableHLO
    _, meta, _ = read_container(data)
    meta["modules"][0]["size"] = 7
    broken = write_container(meta, [b"garbage"])
    with pytest.raises(ArtifactError, match="declares None"):
        deserialize(broken)
    _, meta, modules = read_container(data)
    header = modules[0][:32]  # the bytecode's magic and version, then garbage
    meta["modules"][0]["size"] = 32 + 8
    with pytest.raises(ArtifactError, match="not a readable StableHLO portable artifact"):
        deserialize(write_container(meta, [header + b"\x00garbage"]))


def test_a_future_calling_convention_is_refused_naming_both_versions(mlp_export):
    _, exp = mlp_export
    _, meta, modules = read_container(exp.serialize())
    meta["calling_convention_version"] = 99
    with pytest.raises(ArtifactError, match=r"calling-convention version 99.*versions 1 to 1"):
        deserialize(write_container(meta, modules))


def test_a_future_container_format_is_refused_naming_both_versions(mlp_export):
    _, exp = mlp_export
    _, meta, modules = read_container(exp.serialize())
    with pytest.raises(
        ArtifactError, match="format version 7; this funcnet reads format version 1"
    ):
        deserialize(write_container(meta, modules, version=7))


def test_an_unreadable_stablehlo_version_is_refused(mlp_export):
    _, exp = mlp_export
    _, meta, modules = read_container(exp.serialize())
    meta["stablehlo_version"] = "99.0.0"
    with pytest.raises(ArtifactError, match=r"StableHLO 99\.0\.0.*cannot read"):
        deserialize(write_container(meta, modules))


def test_a_program_with_host_callbacks_cannot_be_exported():
    def f(x):
        fn.debug.print("x = {}", x)
        return x * 2

    with pytest.raises(ValueError, match=r"debug_callback at .*test_export.py:\d+.*debug.print"):
        export(fn.jit(f))(np.zeros(2, np.float32))

    def in_a_loop(x):  # found inside a sub-program too
        return lax.fori_loop(0, 2, lambda i, v: (fn.debug.print("{}", v), v + 1)[1], x)

    with pytest.raises(ValueError, match="calls back into Python"):
        export(fn.jit(in_a_loop))(np.zeros(2, np.float32))


class Pair(NamedTuple):
    a: object
    b: object


def test_unsupported_tree_nodes_and_functions_are_named():
    with pytest.raises(TypeError, match=r"node of type .*Pair.*_asdict"):
        export(fn.jit(lambda p: p.a + p.b))(Pair(np.ones(2), np.ones(2)))
    with pytest.raises(TypeError, match=r"the output contains a pytree node of type .*Pair"):
        export(fn.jit(lambda x: Pair(x, x)))(np.ones(2))
    with pytest.raises(TypeError, match=r"expects a function made by fn.jit"):
        export(lambda x: x)(np.ones(2))
    with pytest.raises(ValueError, match="unknown platform 'quantum'"):
        export(fn.jit(fnp.sin), platforms=["quantum"])


def test_repeated_calls_and_keyword_arguments():
    def f(x, *, scale):
        return x * scale

    exp = deserialize(export(fn.jit(f))(np.ones(3, np.float32), scale=np.float32(2.0)).serialize())
    x = fnp.arange(3.0)
    for s in (2.0, 3.0, 4.0):  # the second and later calls take the fast path
        np.testing.assert_allclose(exp.call(x, scale=fnp.asarray(s)), np.arange(3.0) * s)
    with pytest.raises(TypeError, match=r"kwargs\['scale'\] has type f32\[2\]"):
        exp.call(x, scale=fnp.ones(2))
    single = export(fn.jit(fnp.exp))(np.zeros(2, np.float32))
    for _ in range(3):
        np.testing.assert_allclose(single.call(fnp.zeros(2)), 1.0)
    gone = fnp.zeros(2)
    gone.delete()
    with pytest.raises(RuntimeError, match="deleted"):
        single.call(gone)


def test_a_64_bit_artifact_asks_for_x64():
    with fn.enable_x64(True):
        exp = deserialize(export(fn.jit(lambda x: x * 2))(np.ones(2, np.float64)).serialize())
        np.testing.assert_array_equal(exp.call(np.array([1.5, 2.0])), [3.0, 4.0])
    assert exp.in_avals[0].dtype == np.float64
    with pytest.raises(TypeError, match=r"f32\[2\].*f64\[2\].*enable_x64"):
        exp.call(np.array([1.5, 2.0]))


def test_a_per_example_artifact_runs_any_batch_size_under_vmap():
    w = np.random.default_rng(4).normal(size=(4, 3)).astype(np.float32)
    one = export(fn.jit(lambda x: fnp.tanh(x @ w)))(np.zeros(4, np.float32))
    batched = fn.jit(fn.vmap(deserialize(one.serialize()).call))
    for n in (1, 5):
        xs = np.random.default_rng(n).normal(size=(n, 4)).astype(np.float32)
        np.testing.assert_allclose(batched(xs), np.tanh(xs @ w), rtol=1e-5, atol=1e-6)
