"""The persistent compilation cache (funcnet/runtime/compilation_cache.py): a second
process loads executables instead of compiling them; keys separate programs, options and
runtimes; LRU eviction under a size bound; corrupt, truncated or foreign entries are
ignored and rewritten; two processes may share a directory; host-callback programs are
never stored. Values are checked against NumPy; cache behaviour against the files on disk
and the runtime's compile being called or not."""

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.config import _Config
from funcnet.runtime import compilation_cache as cc
from funcnet.runtime import xla

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def cache(tmp_path):
    """The cache on, in a fresh directory, storing every program; stats from zero."""
    directory = tmp_path / "cache"
    with fn.config.override(
        compilation_cache_dir=str(directory),
        compilation_cache_max_size=1 << 30,
        compilation_cache_min_compile_time_secs=0.0,
    ):
        cc.reset_stats()
        yield directory


def _program(c: float, n: int = 4) -> str:
    """StableHLO text of x -> x * c + c (a fresh program per constant: no in-memory cache
    of jit or eager answers for it)."""
    return textwrap.dedent(f"""\
        module @cache_test {{
          func.func public @main(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{
            %c = stablehlo.constant dense<{c!r}> : tensor<{n}xf32>
            %0 = stablehlo.multiply %x, %c : tensor<{n}xf32>
            %1 = stablehlo.add %0, %c : tensor<{n}xf32>
            return %1 : tensor<{n}xf32>
          }}
        }}""")


def _run(program: str, c: float, device=None):
    device = device or xla.default_device()
    exe = xla.Executable(program, device, 1)
    x = np.arange(4, dtype=np.float32)
    (out,) = exe.execute([xla.device_put(x, device)])
    np.testing.assert_allclose(xla.to_numpy(out), x * np.float32(c) + np.float32(c), rtol=1e-6)
    return out


def _files(directory):
    return sorted(p.name for p in directory.glob("*.fnxc")) if directory.exists() else []


def _key(program: str, options=None) -> str:
    device = xla.default_device()
    return cc.cache_key(
        xla.client(device.platform),
        program,
        xla._xc.DeviceList((device,)),
        options or xla._compile_options(device.platform),
    )


def _assert_valid_entry(path):
    payload, why = cc._decode(path.name[: -len(".fnxc")], path.read_bytes())
    assert why is None and payload, f"{path.name}: {why}"


def _forbid_compiles(monkeypatch):
    def no_compile(*args):
        raise AssertionError("compiled although the cache holds the program")

    monkeypatch.setattr(xla, "_compile", no_compile)


# --- configuration ----------------------------------------------------------------------------


def test_environment_variables_set_the_options(monkeypatch, tmp_path):
    monkeypatch.setenv("FUNCNET_COMPILATION_CACHE_DIR", str(tmp_path / "c d"))
    monkeypatch.setenv("FUNCNET_COMPILATION_CACHE_MAX_SIZE", "12345")
    monkeypatch.setenv("FUNCNET_COMPILATION_CACHE_MIN_COMPILE_TIME_SECS", "0.25")
    cfg = _Config()
    assert cfg.compilation_cache_dir == str(tmp_path / "c d")
    assert cfg.compilation_cache_max_size == 12345
    assert cfg.compilation_cache_min_compile_time_secs == 0.25
    monkeypatch.setenv("FUNCNET_COMPILATION_CACHE_DIR", "")  # empty: off
    assert _Config().compilation_cache_dir is None
    monkeypatch.setenv("FUNCNET_COMPILATION_CACHE_MIN_COMPILE_TIME_SECS", "soon")
    with pytest.raises(ValueError, match="FUNCNET_COMPILATION_CACHE_MIN_COMPILE_TIME_SECS"):
        _Config()


def test_defaults_and_bad_values():
    assert _Config.compilation_cache_dir is None  # off by default
    assert _Config.compilation_cache_max_size == 1 << 30
    assert _Config.compilation_cache_min_compile_time_secs == 0.0
    with pytest.raises(TypeError, match="compilation_cache_dir"):
        fn.config.compilation_cache_dir = 3
    with pytest.raises(ValueError, match="compilation_cache_max_size"):
        fn.config.compilation_cache_max_size = 0
    with pytest.raises(ValueError, match="min_compile_time_secs"):
        fn.config.compilation_cache_min_compile_time_secs = -1.0
    with fn.config.override(compilation_cache_dir="~/x"):
        assert cc.cache_dir() == os.path.join(os.path.expanduser("~"), "x")


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path anywhere would land here
    with fn.config.override(compilation_cache_dir=None):
        cc.reset_stats()
        _run(_program(1.5), 1.5)
    s = cc.stats()
    assert (s.hits, s.misses, s.writes, s.compiles) == (0, 0, 0, 1)
    assert list(tmp_path.iterdir()) == []


# --- hits, keys --------------------------------------------------------------------------------


def test_a_cached_program_is_loaded_not_compiled(cache, monkeypatch):
    prog = _program(2.5)
    _run(prog, 2.5)
    assert cc.stats().misses == 1 and cc.stats().writes == 1
    (name,) = _files(cache)
    assert name == _key(prog) + ".fnxc"
    _assert_valid_entry(cache / name)
    _forbid_compiles(monkeypatch)
    _run(prog, 2.5)
    s = cc.stats()
    assert (s.hits, s.misses, s.compiles) == (1, 1, 1)


def test_keys_separate_programs_options_and_flags(monkeypatch):
    prog = _program(1.0)
    assert _key(prog) == _key(prog)
    assert _key(prog) != _key(_program(2.0))
    assert _key(prog) != _key(prog.encode() + b" ")
    opts = xla._compile_options("cpu")
    opts.executable_build_options.debug_options.xla_cpu_enable_fast_math = True
    assert _key(prog, opts) != _key(prog)
    opts = xla._compile_options("cpu")  # the vector width funcnet asks for is in the key
    opts.env_option_overrides = [("xla_cpu_prefer_vector_width", 128)]
    assert _key(prog, opts) != _key(prog)
    base = _key(prog)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_min_max=true")
    assert _key(prog) != base
    monkeypatch.setattr(cc, "FORMAT_VERSION", cc.FORMAT_VERSION + 1)
    monkeypatch.delenv("XLA_FLAGS")
    assert _key(prog) != base


def test_the_runtime_identity_holds_versions_and_host():
    ident = cc._runtime_identity(xla.client())
    import jaxlib

    assert jaxlib.__version__.encode() in ident
    assert xla.client().platform_version.encode() in ident


def test_bytecode_programs_are_cached(cache, monkeypatch):
    # MLIR bytecode (what funcnet.export stores) goes through the same path as text.
    import io

    from funcnet.runtime.portable import parse

    buf = io.BytesIO()
    parse(_program(3.25)).operation.write_bytecode(buf)
    bytecode = buf.getvalue()
    assert not bytecode.startswith(b"module")
    xla.Executable(bytecode, xla.default_device(), 1)
    assert cc.stats().writes == 1
    _forbid_compiles(monkeypatch)
    exe = xla.Executable(bytecode, xla.default_device(), 1)
    assert cc.stats().hits == 1
    (out,) = exe.execute([xla.device_put(np.ones(4, np.float32))])
    np.testing.assert_allclose(xla.to_numpy(out), [6.5] * 4)


# --- bounded size -----------------------------------------------------------------------------


def test_lru_eviction_keeps_the_most_recently_used(cache):
    progs = {name: _program(c) for name, c in zip("abcd", (11.0, 12.0, 13.0, 14.0))}
    keys = {name: _key(p) + ".fnxc" for name, p in progs.items()}
    _run(progs["a"], 11.0)
    size = (cache / keys["a"]).stat().st_size
    fn.config.compilation_cache_max_size = 3 * size + size // 2  # room for three
    _run(progs["b"], 12.0)
    _run(progs["c"], 13.0)
    assert _files(cache) == sorted(keys[n] for n in "abc")
    _run(progs["a"], 11.0)  # a hit: now b is the least recently used
    assert cc.stats().hits == 1
    _run(progs["d"], 14.0)
    assert _files(cache) == sorted(keys[n] for n in "acd")
    assert cc.stats().evictions == 1
    count, total = cc.disk_usage()
    assert count == 3 and total <= fn.config.compilation_cache_max_size


def test_an_entry_larger_than_the_cache_is_not_stored(cache):
    fn.config.compilation_cache_max_size = 100
    _run(_program(15.0), 15.0)
    assert _files(cache) == [] and cc.stats().skipped == 1


def test_min_compile_time_skips_fast_programs(cache):
    fn.config.compilation_cache_min_compile_time_secs = 1e6
    _run(_program(16.0), 16.0)
    assert _files(cache) == [] and cc.stats().skipped == 1


def test_clear_and_disk_usage(cache):
    _run(_program(17.0), 17.0)
    _run(_program(18.0), 18.0)
    (cache / "notes.txt").write_text("not an entry")
    count, total = cc.disk_usage()
    assert count == 2 and total == sum(p.stat().st_size for p in cache.glob("*.fnxc"))
    assert cc.clear() == 2
    assert _files(cache) == [] and (cache / "notes.txt").exists()


# --- corrupt and foreign entries ------------------------------------------------------------


def _corrupt(path, how, other_entry):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "flipped_byte":
        i = len(data) - 10
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :])
    elif how == "renamed":  # a valid entry of another program, under this key's name
        path.write_bytes(other_entry.read_bytes())
    elif how == "runtime_rejects":  # a valid header over bytes the runtime cannot load
        path.write_bytes(cc._encode(path.name[:-5], b"not an executable" * 10, 0.1))
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize(
    "how", ["truncated", "garbage", "flipped_byte", "renamed", "runtime_rejects", "empty"]
)
def test_a_bad_entry_is_ignored_and_rewritten(cache, caplog, how):
    c = 20.0 + len(how)
    prog = _program(c)
    _run(prog, c)
    other = _program(c + 0.5)
    _run(other, c + 0.5)
    path = cache / (_key(prog) + ".fnxc")
    _corrupt(path, how, cache / (_key(other) + ".fnxc"))
    with caplog.at_level(logging.WARNING, logger="funcnet.compilation_cache"):
        _run(prog, c)
    assert any(path.name in r.getMessage() for r in caplog.records), caplog.text
    s = cc.stats()
    assert (s.rejected, s.compiles, s.hits) == (1, 3, 0)
    _assert_valid_entry(path)  # rewritten
    _run(prog, c)
    assert cc.stats().hits == 1


def test_rewritten_even_below_the_min_compile_time(cache):
    prog = _program(31.0)
    _run(prog, 31.0)
    path = cache / (_key(prog) + ".fnxc")
    path.write_bytes(b"junk")
    fn.config.compilation_cache_min_compile_time_secs = 1e6
    _run(prog, 31.0)
    _assert_valid_entry(path)


def test_an_unwritable_directory_warns_and_runs(tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with (
        fn.config.override(compilation_cache_dir=str(blocker / "cache")),
        caplog.at_level(logging.WARNING, logger="funcnet.compilation_cache"),
    ):
        _run(_program(32.0), 32.0)
    assert "cannot write" in caplog.text


def test_eviction_racing_loads_never_fails(cache):
    """A reader while another thread deletes and rewrites the entry: it sees the
    executable or a miss, never an error or a rejected entry."""
    prog = _program(33.0)
    exe = xla.Executable(prog, xla.default_device(), 1)
    key = _key(prog)
    path = str(cache / (key + ".fnxc"))
    data = cc._encode(key, exe._exe.serialize(), 0.1)
    device = xla.default_device()
    client, dl, opts = (
        xla.client(),
        xla._xc.DeviceList((device,)),
        xla._compile_options(device.platform),
    )
    results, errors, stop = [], [], threading.Event()

    def churn():
        while not stop.is_set():
            cc._unlink(path)  # as an eviction would
            cc._write_atomically(str(cache), path, data)  # as another process's store
            time.sleep(0.001)  # the entry exists most of the time

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        for _ in range(150):
            try:
                results.append(cc._load(client, key, str(cache), dl, opts))
            except Exception as e:  # pragma: no cover (the failure this test looks for)
                errors.append(e)
    finally:
        stop.set()
        writer.join()
    assert not errors
    assert not any(rejected for _, rejected in results)
    # Under load the churning thread may win every race; once it has stopped, the entry
    # it left must load (whether the racing loads hit depends on scheduling only).
    cc._write_atomically(str(cache), path, data)
    loaded, rejected = cc._load(client, key, str(cache), dl, opts)
    assert loaded is not None and not rejected


# --- programs that must not be cached ---------------------------------------------------------


def test_host_callback_programs_are_never_cached(cache, capsys, monkeypatch):
    keyed = []
    real_key = cc.cache_key

    def recording_key(client, program, *rest):
        keyed.append(program)
        return real_key(client, program, *rest)

    monkeypatch.setattr(cc, "cache_key", recording_key)

    @fn.jit
    def f(x):
        fn.debug.print("x = {}", x)
        return x * 3

    x = fnp.arange(3.0)
    np.testing.assert_allclose(np.asarray(f(x)), [0, 3, 6])
    assert "x = [0. 1. 2.]" in capsys.readouterr().out
    assert "xla_ffi_python_" in f.lower(x).as_text()  # the program does call back
    assert not [p for p in keyed if "xla_ffi_python_" in p]  # never looked up or stored
    s = cc.stats()
    assert s.skipped == 1 and s.compiles == s.misses + 1
    assert len(_files(cache)) == s.writes == s.misses


# --- other processes ---------------------------------------------------------------------------

_CHILD = """
import json, os, sys
import numpy as np
import funcnet as fn, funcnet.numpy as fnp
from funcnet.runtime import compilation_cache as cc
assert fn.config.compilation_cache_dir == os.environ["FUNCNET_COMPILATION_CACHE_DIR"]
step = fn.jit(lambda w, x: fnp.tanh(x @ w).sum(axis=0) * 0.5 + w[0])
w = fnp.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
x = fnp.asarray(np.linspace(0, 2, 20, dtype=np.float32).reshape(5, 4))
y = step(w, x)
z = fnp.exp(x) - 1.0
print(json.dumps({"y": np.asarray(y).tolist(), "z": np.asarray(z).tolist(),
                  "stats": vars(cc.stats())}))
"""


def _reference():
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    x = np.linspace(0, 2, 20, dtype=np.float32).reshape(5, 4)
    return np.tanh(x @ w).sum(axis=0) * 0.5 + w[0], np.exp(x) - 1.0


def _start_child(directory):
    env = dict(os.environ, FUNCNET_COMPILATION_CACHE_DIR=str(directory), PYTHONPATH=REPO)
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish_child(proc):
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        raise
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    y_ref, z_ref = _reference()
    np.testing.assert_allclose(result["y"], y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["z"], z_ref, rtol=1e-5, atol=1e-6)
    return result["stats"]


def test_two_writers_at_once_then_a_third_process_loads_everything(tmp_path):
    directory = tmp_path / "shared cache"
    first = [_start_child(directory) for _ in range(2)]  # concurrent cold runs
    cold = [_finish_child(p) for p in first]
    n_programs = cold[0]["hits"] + cold[0]["misses"]  # the other may have written some
    for s in cold:
        assert s["misses"] == s["compiles"] and s["hits"] + s["misses"] == n_programs
    assert n_programs >= 3 and cold[0]["compiles"] + cold[1]["compiles"] >= n_programs
    entries = list(directory.glob("*.fnxc"))
    assert len(entries) == n_programs
    for path in entries:
        _assert_valid_entry(path)
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]
    warm = _finish_child(_start_child(directory))
    assert warm["compiles"] == 0 and warm["misses"] == 0
    assert warm["hits"] == len(entries)


_OTHER_DEVICE = """
import numpy as np
import funcnet as fn
from funcnet.runtime import compilation_cache as cc, xla
fn.config.compilation_cache_dir = {directory!r}
prog = {program!r}
d0, d1 = xla.devices()[:2]
xla.Executable(prog, d0, 1)
exe = xla.Executable(prog, d1, 1)  # same device kind: loaded from the cache, onto d1
assert cc.stats().hits == 1 and cc.stats().compiles == 1, cc.stats()
(out,) = exe.execute([xla.device_put(np.arange(4, dtype=np.float32), d1)])
assert xla.device_of(out) == d1, xla.device_of(out)
np.testing.assert_allclose(xla.to_numpy(out), np.arange(4) * 2.0 + 2.0)
print("ok")
"""


def test_a_cached_executable_loads_on_the_requested_device(tmp_path):
    code = _OTHER_DEVICE.format(directory=str(tmp_path / "c"), program=_program(2.0))
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=REPO,
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
