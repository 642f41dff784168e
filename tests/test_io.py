"""Arrays and pytrees to files: fnp.save/load/savez (NumPy's formats, against NumPy and
jax.numpy) and fn.save/fn.load (safetensors files, checked with the safetensors library's
own NumPy and PyTorch loaders), bad input included."""

import collections
import dataclasses
import io
import os

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import safetensors
import safetensors.numpy
import safetensors.torch
import torch

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import io as fio
from funcnet.config import enable_x64

# Bit patterns that a value-converting path would lose: -0.0, quiet NaNs with payloads, a
# negative NaN, infinities, the smallest subnormal, the largest finite value.
_BF16_BITS = np.array([0x0000, 0x8000, 0x7FC1, 0xFFC3, 0x7F80, 0xFF80, 0x0001, 0x7F7F, 0x3F80])
_F16_BITS = np.array([0x0000, 0x8000, 0x7E01, 0xFE07, 0x7C00, 0xFC00, 0x0001, 0x7BFF, 0x3C00])


def _bits(dtype, pattern):
    return pattern.astype(np.uint16).view(dtype)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def _listing(directory):
    return sorted(os.listdir(directory))


# --- part 1: NumPy's formats ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_, np.float16])
def test_npy_round_trip_as_numpy(tmp_path, dtype):
    host = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    path = tmp_path / "x.npy"
    fnp.save(path, fnp.asarray(host))
    assert path.read_bytes() == _npy_bytes(host)  # the very file np.save writes
    np.save(tmp_path / "y.npy", host)
    out = fnp.load(tmp_path / "y.npy")
    assert isinstance(out, fn.Array) and out.device == fn.devices()[0]
    _same_bits(out, host)


def _npy_bytes(host):
    buf = io.BytesIO()
    np.save(buf, host)
    return buf.getvalue()


def test_npy_bfloat16_as_jax_numpy(tmp_path):
    # NumPy writes bfloat16 as 2-byte void data; jnp.load (and fnp.load) read it back as
    # bfloat16, bit for bit.
    host = _bits(ml_dtypes.bfloat16, _BF16_BITS)
    fnp.save(tmp_path / "b.npy", fnp.asarray(host))
    jnp.save(tmp_path / "j.npy", jnp.asarray(host))
    assert (tmp_path / "b.npy").read_bytes() == (tmp_path / "j.npy").read_bytes()
    ours, theirs = fnp.load(tmp_path / "j.npy"), jnp.load(tmp_path / "b.npy")
    assert isinstance(ours, fn.Array) and ours.dtype == fnp.bfloat16
    _same_bits(ours, host)
    _same_bits(ours, theirs)


def test_npy_other_dtypes_and_scalars_as_jax_numpy(tmp_path):
    np.save(tmp_path / "s.npy", np.array(["ab", "c"]))
    ours, theirs = fnp.load(tmp_path / "s.npy"), jnp.load(tmp_path / "s.npy")
    assert type(ours) is np.ndarray and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    np.save(tmp_path / "f.npy", np.float64(2.5))  # a 0-d float64: narrowed, as jnp
    ours, theirs = fnp.load(tmp_path / "f.npy"), jnp.load(tmp_path / "f.npy")
    assert isinstance(ours, fn.Array) and (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype)
    assert ours.item() == 2.5
    with enable_x64():
        assert fnp.load(tmp_path / "f.npy").dtype == np.float64


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_as_numpy_and_jax_numpy(tmp_path, compressed):
    a = fnp.arange(6.0).reshape(2, 3)
    b = fnp.asarray(_bits(ml_dtypes.bfloat16, _BF16_BITS))
    saver = fnp.savez_compressed if compressed else fnp.savez
    reference = np.savez_compressed if compressed else np.savez
    saver(tmp_path / "f.npz", a, b=b)
    reference(tmp_path / "r.npz", np.asarray(a), b=np.asarray(b))
    with np.load(tmp_path / "f.npz") as ours, np.load(tmp_path / "r.npz") as ref:
        assert sorted(ours.files) == sorted(ref.files) == ["arr_0", "b"]
        for k in ref.files:
            _same_bits(ours[k], ref[k])
    # Loading an .npz gives NumPy's NpzFile of NumPy arrays (bfloat16 left as void), as jnp.
    ours, theirs = fnp.load(tmp_path / "f.npz"), jnp.load(tmp_path / "f.npz")
    assert type(ours) is type(theirs)
    assert type(ours["arr_0"]) is np.ndarray and ours["b"].dtype == theirs["b"].dtype
    ours.close(), theirs.close()


def test_npy_file_objects(tmp_path):
    buf = io.BytesIO()
    fnp.save(buf, fnp.arange(4))
    buf.seek(0)
    out = fnp.load(buf)
    np.testing.assert_array_equal(out, np.arange(4))
    assert out.dtype == np.int32


# --- part 2: pytrees to safetensors -----------------------------------------------------------


def _params():
    rng = np.random.default_rng(0)
    return {
        "dense_1": {
            "w": fnp.asarray(rng.normal(size=(3, 4)).astype(np.float32)),
            "b": fnp.zeros(4),
        },
        "layers": [fnp.arange(5), (fnp.ones((2,), dtype=fnp.float16), fnp.asarray(True))],
        "empty": {},
        "by_id": {3: fnp.ones(1), 10: [], 11: ()},
        "nothing": None,
        "step": 7,
        "lr": 0.25,
        "nan": float("nan"),
        "flag": False,
        "name": "mlp",
        "z": 1 - 2j,
    }


def test_save_names_tensors_by_path_and_numpy_loader_reads_them(tmp_path):
    params = _params()
    fn.save(tmp_path / "p.safetensors", params)
    ref = safetensors.numpy.load_file(tmp_path / "p.safetensors")
    assert sorted(ref) == [
        "by_id.3", "dense_1.b", "dense_1.w", "layers.0", "layers.1.0", "layers.1.1"
    ]  # fmt: skip
    for name, leaf in [
        ("dense_1.w", params["dense_1"]["w"]),
        ("dense_1.b", params["dense_1"]["b"]),
        ("layers.0", params["layers"][0]),
        ("layers.1.0", params["layers"][1][0]),
        ("layers.1.1", params["layers"][1][1]),
    ]:
        _same_bits(ref[name], leaf)
    assert _listing(tmp_path) == ["p.safetensors"]
    # the permissions a file made by open() gets (safetensors alone makes 0600 files)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "p.safetensors").st_mode & 0o777 == 0o666 & ~umask


def test_round_trip_without_like_rebuilds_containers_and_python_values(tmp_path):
    params = _params()
    fn.save(tmp_path / "p.safetensors", params)
    out = fn.load(tmp_path / "p.safetensors")
    assert jax.tree.structure(out) == jax.tree.structure(params)
    for key in ("step", "lr", "flag", "name", "z"):
        assert out[key] == params[key] and type(out[key]) is type(params[key]), key
    assert type(out["nan"]) is float and np.isnan(out["nan"])
    assert out["nothing"] is None and out["empty"] == {}
    assert list(out["by_id"]) == [3, 10, 11] and out["by_id"][10] == [] and out["by_id"][11] == ()
    assert type(out["layers"]) is list and type(out["layers"][1]) is tuple
    for got, want in zip(jax.tree.leaves(out), jax.tree.leaves(params)):
        if isinstance(want, fn.Array):
            assert isinstance(got, fn.Array) and got.device == fn.devices()[0]
            _same_bits(got, want)


def test_round_trip_with_like(tmp_path):
    params = _params()
    fn.save(tmp_path / "p.safetensors", params)
    template = jax.tree.map(
        lambda x: fn.ShapeDtypeStruct(x.shape, x.dtype) if isinstance(x, fn.Array) else x, params
    )
    out = fn.load(tmp_path / "p.safetensors", like=template)
    assert jax.tree.structure(out) == jax.tree.structure(params)
    _same_bits(out["dense_1"]["w"], params["dense_1"]["w"])
    assert out["step"] == 7 and type(out["step"]) is int


def test_a_single_array_tree(tmp_path):
    fn.save(tmp_path / "x.safetensors", fnp.arange(3.0))
    out = fn.load(tmp_path / "x.safetensors")
    np.testing.assert_array_equal(out, np.arange(3.0, dtype=np.float32))
    np.testing.assert_array_equal(safetensors.numpy.load_file(tmp_path / "x.safetensors")[""], out)


@pytest.mark.parametrize(
    "dtype, pattern", [(ml_dtypes.bfloat16, _BF16_BITS), (np.float16, _F16_BITS)]
)
def test_half_precision_bit_exact_through_funcnet_and_torch(tmp_path, dtype, pattern):
    host = _bits(dtype, pattern).reshape(3, 3)
    tree = {"w": fnp.asarray(host), "h": host}  # a funcnet Array and a NumPy leaf
    path = tmp_path / "h.safetensors"
    fn.save(path, tree)
    out = fn.load(path)
    assert out["w"].dtype == np.dtype(dtype)
    _same_bits(out["w"], host)
    _same_bits(out["h"], host)
    # PyTorch's loader: the same bits, as torch.bfloat16 / torch.float16.
    ref = safetensors.torch.load_file(path)
    assert ref["w"].dtype == (torch.bfloat16 if dtype is ml_dtypes.bfloat16 else torch.float16)
    np.testing.assert_array_equal(
        ref["w"].view(torch.int16).numpy().view(np.uint16), pattern.reshape(3, 3)
    )
    if dtype is np.float16:
        _same_bits(safetensors.numpy.load_file(path)["w"], host)


def test_ints_and_bools_through_numpy_and_torch_loaders(tmp_path):
    tree = {"i8": np.arange(-3, 3, dtype=np.int8), "u8": fnp.arange(4, dtype=fnp.uint8),
            "i32": fnp.arange(5), "b": fnp.asarray([True, False])}  # fmt: skip
    fn.save(tmp_path / "i.safetensors", tree)
    ref = safetensors.numpy.load_file(tmp_path / "i.safetensors")
    pt = safetensors.torch.load_file(tmp_path / "i.safetensors")
    for k, v in tree.items():
        _same_bits(ref[k], v)
        np.testing.assert_array_equal(pt[k].numpy(), np.asarray(v))


def test_jax_array_and_numpy_scalar_leaves(tmp_path):
    tree = {"j": jnp.arange(3.0), "s": np.float32(1.5), "i": np.int32(-2)}
    fn.save(tmp_path / "j.safetensors", tree)
    out = fn.load(tmp_path / "j.safetensors")
    np.testing.assert_array_equal(out["j"], np.arange(3.0))
    assert out["s"].shape == () and out["s"].dtype == np.float32 and out["s"].item() == 1.5
    assert out["i"].item() == -2


def test_torch_written_file_loads_with_like(tmp_path):
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    b = torch.tensor([0.5, -0.0, 2.0], dtype=torch.bfloat16)
    safetensors.torch.save_file(
        {"dense_1.w": w, "dense_1.b": b, "layers.0": w[0].clone()}, tmp_path / "t.st"
    )
    like = {
        "dense_1": {"w": fnp.zeros((2, 3)), "b": fnp.zeros(3, dtype=fnp.bfloat16)},
        "layers": [fnp.zeros(3)],
    }
    out = fn.load(tmp_path / "t.st", like=like)
    np.testing.assert_array_equal(out["dense_1"]["w"], w.numpy())
    np.testing.assert_array_equal(np.asarray(out["dense_1"]["b"]).view(np.uint16),
                                  b.view(torch.int16).numpy().view(np.uint16))  # fmt: skip
    np.testing.assert_array_equal(out["layers"][0], w[0].numpy())


def test_numpy_written_flat_file_loads_with_and_without_like(tmp_path):
    safetensors.numpy.save_file({"a": np.ones(2, np.float32), "b": np.arange(3, dtype=np.int32)},
                                tmp_path / "n.st")  # fmt: skip
    out = fn.load(tmp_path / "n.st")  # no funcnet metadata: a flat dict
    assert sorted(out) == ["a", "b"] and isinstance(out["a"], fn.Array)
    np.testing.assert_array_equal(out["b"], np.arange(3))
    out = fn.load(
        tmp_path / "n.st", like={"a": np.zeros(2, np.float32), "b": np.zeros(3, np.int32)}
    )
    np.testing.assert_array_equal(out["a"], np.ones(2))


Pair = collections.namedtuple("Pair", "first second")


@dataclasses.dataclass
class Layer:
    w: object
    b: object


jax.tree_util.register_dataclass(Layer, data_fields=["w", "b"], meta_fields=[])


def test_namedtuples_and_registered_nodes_need_like(tmp_path):
    tree = {"pair": Pair(fnp.ones(2), 3), "layer": Layer(fnp.zeros((2, 2)), fnp.ones(2))}
    fn.save(tmp_path / "n.safetensors", tree)
    names = safetensors.numpy.load_file(tmp_path / "n.safetensors")
    assert sorted(names) == ["layer.b", "layer.w", "pair.first"]
    with pytest.raises(ValueError, match=r"like=") as e:
        fn.load(tmp_path / "n.safetensors")
    assert "n.safetensors" in str(e.value) and "Layer" in str(e.value)
    out = fn.load(tmp_path / "n.safetensors", like=tree)
    assert type(out["pair"]) is Pair and out["pair"].second == 3
    assert type(out["layer"]) is Layer
    np.testing.assert_array_equal(out["layer"].b, np.ones(2))


def test_to_host_copies_so_donation_and_mutation_do_not_reach_the_saved_data(tmp_path):
    x = fnp.ones(4)
    h = np.ones(3, np.float32)
    host = fio.to_host({"x": x, "h": h})
    h[:] = 5  # the NumPy leaf changes after to_host
    fn.jit(lambda a: a * 3, donate_argnums=0)(x)  # the Array's buffer is donated
    assert x.is_deleted()  # donated indeed: the HostTree holds no reference to its buffer
    fio.write(tmp_path / "c.safetensors", host)
    ref = safetensors.numpy.load_file(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(ref["x"], np.ones(4))
    np.testing.assert_array_equal(ref["h"], np.ones(3))


def test_float64_narrows_with_a_warning_when_x64_is_off(tmp_path):
    tree = {"f": np.array([0.1, 1e-50]), "i": np.array([2**40], np.int64)}
    fn.save(tmp_path / "d.safetensors", tree)
    ref = safetensors.numpy.load_file(tmp_path / "d.safetensors")
    assert ref["f"].dtype == np.float64 and ref["i"][0] == 2**40  # stored at full width
    with pytest.warns(UserWarning, match=r"2 64-bit leaves .*x64 is off"):
        out = fn.load(tmp_path / "d.safetensors")
    want = jnp.asarray(tree["f"])  # jax's narrowing: float64 -> float32 (1e-50 -> 0)
    assert out["f"].dtype == want.dtype == np.float32
    np.testing.assert_array_equal(out["f"], want)
    host = fn.load(tmp_path / "d.safetensors", host=True)
    _same_bits(host["f"], tree["f"])
    _same_bits(host["i"], tree["i"])
    # A template made while x64 is off (float32) accepts the float64 leaf, narrowed.
    with pytest.warns(UserWarning, match="narrowed"):
        fn.load(tmp_path / "d.safetensors", like={"f": fnp.zeros(2), "i": fnp.zeros(1, int)})
    f32 = tmp_path / "f32.safetensors"
    fn.save(f32, {"f": fnp.ones(2)})
    assert fn.load(f32, like={"f": np.zeros(2)})["f"].dtype == np.float32  # a NumPy template
    with enable_x64():
        with pytest.raises(ValueError, match=r"expected float64\[2\], got float32\[2\]"):
            fn.load(f32, like={"f": np.zeros(2)})  # with x64 on, the dtypes differ
        out = fn.load(tmp_path / "d.safetensors")
        assert out["f"].dtype == np.float64 and out["i"].dtype == np.int64
        _same_bits(out["f"], tree["f"])


def test_complex128_stored_as_float64_pairs(tmp_path):
    z = np.array([1 + 2j, -0.5j])
    fn.save(tmp_path / "z.safetensors", {"z": z, "c": fnp.asarray(z.astype(np.complex64))})
    ref = safetensors.numpy.load_file(tmp_path / "z.safetensors")
    np.testing.assert_array_equal(ref["z"], np.stack([z.real, z.imag], -1))
    _same_bits(fn.load(tmp_path / "z.safetensors", host=True)["z"], z)
    with enable_x64():
        _same_bits(fn.load(tmp_path / "z.safetensors")["z"], z)
        _same_bits(
            fn.load(tmp_path / "z.safetensors", like={"z": z, "c": z.astype(np.complex64)})["z"], z
        )


# --- bad input --------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    tree = {"dense": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3)}, "step": 1}
    path = tmp_path / "m.safetensors"
    fn.save(path, tree)
    return path, tree


def test_like_with_a_different_shape_names_path_expected_and_got(saved):
    path, _ = saved
    like = {"dense": {"w": fnp.ones((3, 2)), "b": fnp.zeros(3)}, "step": 0}
    with pytest.raises(ValueError) as e:
        fn.load(path, like=like)
    msg = str(e.value)
    assert str(path) in msg and "['dense']['w']" in msg
    assert "expected float32[3, 2]" in msg and "got float32[2, 3]" in msg


def test_like_with_a_different_dtype(saved):
    path, _ = saved
    like = {"dense": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3, dtype=fnp.int32)}, "step": 0}
    with pytest.raises(
        ValueError, match=r"\['dense'\]\['b'\].*expected int32\[3\], got float32\[3\]"
    ):
        fn.load(path, like=like)


def test_like_with_a_different_structure(saved):
    path, _ = saved
    missing = {"dense": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3), "c": fnp.zeros(3)}, "step": 0}
    with pytest.raises(ValueError, match=r"\['dense'\]\['c'\].*no tensor of that name"):
        fn.load(path, like=missing)
    extra = {"dense": {"w": fnp.ones((2, 3))}, "step": 0}
    with pytest.raises(ValueError, match=r"no place for: 'dense.b'"):
        fn.load(path, like=extra)
    wrong_kind = {"dense": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3)}, "step": fnp.zeros(())}
    with pytest.raises(ValueError, match=r"\['step'\].*a Python value"):
        fn.load(path, like=wrong_kind)
    wrong_type = {"dense": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3)}, "step": 0.0}
    with pytest.raises(
        ValueError, match=r"\['step'\] like= has a Python float, the file has 1 \(int\)"
    ):
        fn.load(path, like=wrong_type)


def test_a_newer_format_is_refused_by_name(saved, tmp_path):
    path, _ = saved
    tensors = safetensors.numpy.load_file(path)
    with safetensors.safe_open(path, "np") as f:
        metadata = {**f.metadata(), "funcnet.format": "99"}
    safetensors.numpy.save_file(tensors, tmp_path / "new.safetensors", metadata=metadata)
    with pytest.raises(
        ValueError, match=r"new.safetensors was written in funcnet's tree format 99"
    ):
        fn.load(tmp_path / "new.safetensors")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "bad header"])
def test_truncated_or_corrupt_file(saved, damage):
    path, _ = saved
    data = path.read_bytes()
    damaged = {
        "truncated": data[: len(data) - 7],
        "garbage": os.urandom(64),
        "empty": b"",
        "bad header": data[:9] + b"!" + data[10:],
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(ValueError, match="not a readable safetensors file") as e:
        fn.load(path)
    assert str(path) in str(e.value)
    assert path.read_bytes() == damaged  # loading never writes


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no-such\.safetensors"):
        fn.load(tmp_path / "no-such.safetensors")


@pytest.mark.parametrize("transform", ["jit", "grad", "vmap"])
def test_saving_a_tracer_says_save_outside_jit(tmp_path, transform):
    path = tmp_path / "t.safetensors"

    def f(x):
        fn.save(path, {"params": [x]})
        return x.sum()

    wrapped = {"jit": fn.jit, "grad": fn.grad, "vmap": fn.vmap}[transform](f)
    with pytest.raises(TypeError, match=r"\['params'\]\[0\].*tracer.*save outside jit"):
        wrapped(fnp.ones(3))
    assert _listing(tmp_path) == []


def test_an_unstorable_leaf_names_its_path_and_type_and_damages_nothing(saved):
    path, _ = saved
    before = path.read_bytes()
    bad = {"a": fnp.ones(2), "m": {"opt": object()}, "z": fnp.ones(2)}
    with pytest.raises(TypeError, match=r"\['m'\]\['opt'\]: a builtins.object is not an array"):
        fn.save(path, bad)
    assert path.read_bytes() == before and _listing(path.parent) == [path.name]


def test_clashing_names(tmp_path):
    with pytest.raises(ValueError, match=r"same tensor name 'a.b'"):
        fn.save(tmp_path / "c.safetensors", {"a.b": fnp.ones(1), "a": {"b": fnp.ones(1)}})


@pytest.mark.parametrize("stage", ["serialize", "fsync", "replace"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(saved, monkeypatch, stage):
    path, tree = saved
    before = path.read_bytes()
    import safetensors as st

    real_serialize = st.serialize_file

    def failing_serialize(specs, filename, metadata=None):
        real_serialize(specs, filename, metadata=metadata)  # a partial file exists...
        with open(filename, "r+b") as f:
            f.truncate(10)
        raise OSError(28, "No space left on device")  # ...and then the disk is full

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error")

    if stage == "serialize":
        monkeypatch.setattr(st, "serialize_file", failing_serialize)
    else:
        monkeypatch.setattr(os, {"fsync": "fsync", "replace": "replace"}[stage], fail)
    new = {"dense": {"w": fnp.full((2, 3), 9.0), "b": fnp.zeros(3)}, "step": 2}
    with pytest.raises(OSError):
        fn.save(path, new)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _listing(path.parent) == [path.name]
    np.testing.assert_array_equal(fn.load(path, like=tree)["dense"]["w"], np.ones((2, 3)))


def test_like_leaf_of_an_unsupported_kind(saved):
    path, _ = saved
    with pytest.raises(TypeError, match="like= leaves must be arrays"):
        fn.load(path, like={"dense": {"w": object(), "b": fnp.zeros(3)}, "step": 0})


def test_from_host_arrays_do_not_alias_the_host_tree():
    # On the CPU the runtime may adopt aligned host memory as a device buffer: from_host
    # must copy the caller's arrays, or changing them would change the loaded Arrays.
    host = fio.to_host({"w": fnp.ones((64, 64)), "b": np.arange(4, dtype=np.float32)})
    out = fio.from_host(host)
    for arr in host.tensors.values():
        arr[...] = 7
    np.testing.assert_array_equal(out["w"], np.ones((64, 64)))
    np.testing.assert_array_equal(out["b"], np.arange(4))


def test_saving_to_a_directory_or_into_a_missing_one(tmp_path):
    with pytest.raises(IsADirectoryError):
        fn.save(tmp_path, {"a": fnp.ones(2)})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fn.save(tmp_path / "missing" / "x.safetensors", {"a": fnp.ones(2)})
    assert _listing(tmp_path) == []


def test_write_accepts_strided_and_big_endian_arrays(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    host = fio.HostTree({"t": x.T, "b": x.astype(">f4")}, {})
    fio.write(tmp_path / "s.safetensors", host)
    ref = safetensors.numpy.load_file(tmp_path / "s.safetensors")
    np.testing.assert_array_equal(ref["t"], x.T)
    np.testing.assert_array_equal(ref["b"], x)


def test_saving_a_donated_array_names_its_path(saved):
    path, _ = saved
    before = path.read_bytes()
    x = fnp.ones(3)
    x.delete()
    with pytest.raises(RuntimeError, match=r"\['p'\]\[1\]: its Array was donated"):
        fn.save(path, {"p": [fnp.ones(1), x]})
    assert path.read_bytes() == before


def test_metadata_that_contradicts_a_tensor(saved, tmp_path):
    path, _ = saved
    tensors = safetensors.numpy.load_file(path)
    with safetensors.safe_open(path, "np") as f:
        metadata = f.metadata()
    metadata["funcnet.tree"] = metadata["funcnet.tree"].replace('"float32"', '"int32"', 1)
    safetensors.numpy.save_file(tensors, tmp_path / "bad.safetensors", metadata=metadata)
    with pytest.raises(ValueError, match=r"is float32\[3\] but the file's metadata says int32"):
        fn.load(tmp_path / "bad.safetensors")
    metadata["funcnet.tree"] = '{"dict": [["a", {"list": 3}]]}'
    safetensors.numpy.save_file(tensors, tmp_path / "bad.safetensors", metadata=metadata)
    with pytest.raises(
        ValueError, match=r"bad.safetensors: the 'funcnet.tree' metadata is malformed"
    ):
        fn.load(tmp_path / "bad.safetensors")
