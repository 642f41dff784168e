"""The persistent compilation cache: compiled XLA executables kept on disk, so that a new
process running the same programs loads them (~1 ms) instead of compiling (10 ms to
seconds each).

Turn it on with `funcnet.config.compilation_cache_dir = "~/.cache/funcnet"` (or the
environment variable `FUNCNET_COMPILATION_CACHE_DIR`); it is off by default, as jax's:
an entry is machine code the process runs without re-checking it, so the directory
should be one the user chose and only the user can write. Every compile goes through
`compile_or_load` (called by `funcnet.runtime.xla.Executable`).

One file per program, `<key>.fnxc`, the key a SHA-256 of everything the executable
depends on: the program (StableHLO text or bytecode), the serialized compile options,
the platform and its version (the GPU driver and CUDA runtime), the host CPU (XLA:CPU
compiles for the host's instruction set), the device kind and number of devices, the
jaxlib version, `XLA_FLAGS`, and this module's `FORMAT_VERSION`. A file starts with a
header holding the key itself, the payload's length and CRC-32, checked on every load:
a truncated, corrupt or foreign file (another key's entry, another format) is ignored
with a logged warning, compiled afresh and rewritten, never trusted.

Writes are atomic (a temporary file in the directory, fsync, `os.replace`), so readers
see a whole entry or none, and two processes may share a directory: writers of one key
both write a valid file and the last one stays. The directory is bounded by
`config.compilation_cache_max_size` bytes: after each write the least recently used
entries (by modification time, which each load refreshes) are deleted. Programs with
host callbacks (`funcnet.debug`) are never stored: their executables call Python
objects of the process that compiled them. Programs that compiled faster than
`config.compilation_cache_min_compile_time_secs` (default 0: every program) are not
stored either.
"""

import contextlib
import copy
import dataclasses
import hashlib
import logging
import os
import platform
import struct
import tempfile
import threading
import time
import zlib

import numpy as np

from funcnet.config import config

try:  # jaxlib's client module moved between releases
    from jax._src.lib import xla_client as _xc
except ImportError:  # pragma: no cover
    from jaxlib import xla_client as _xc

log = logging.getLogger("funcnet.compilation_cache")

# Bump when the entry layout or the key's contents change: old entries then miss.
FORMAT_VERSION = 1
_MAGIC = b"FNXCACHE"
# magic, format version, key (SHA-256 digest), payload length, payload CRC-32, compile s
_HEADER = struct.Struct("<8sI32sQId")
_SUFFIX = ".fnxc"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600.0  # a temporary file this old belongs to a killed writer


@dataclasses.dataclass
class CacheStats:
    """What the compilation cache did in this process (see `stats`).

    Attributes:
      hits: executables loaded from the cache instead of compiled.
      misses: lookups that found no valid entry (the program was compiled).
      writes: entries written.
      rejected: entries ignored as truncated, corrupt or foreign (then rewritten).
      skipped: compiled programs not stored (host callbacks, under the minimum
        compile time, larger than the cache).
      evictions: entries deleted to keep the directory under its size bound.
      compiles: XLA compiles, with the cache on or off.
      compile_seconds: time spent in those compiles.
      load_seconds: time spent reading and loading cached executables.
    """

    hits: int = 0
    misses: int = 0
    writes: int = 0
    rejected: int = 0
    skipped: int = 0
    evictions: int = 0
    compiles: int = 0
    compile_seconds: float = 0.0
    load_seconds: float = 0.0


_stats = CacheStats()
_stats_lock = threading.Lock()


def _count(**increments):
    with _stats_lock:
        for name, amount in increments.items():
            setattr(_stats, name, getattr(_stats, name) + amount)


def stats() -> CacheStats:
    """This process's counts of compilation-cache hits, misses, writes and compile time.

    Returns:
      A `CacheStats` copy (later activity does not change it).

    Example:
      >>> from funcnet.runtime import compilation_cache
      >>> s = compilation_cache.stats()
      >>> s.hits >= 0 and s.compiles >= 0
      True
    """
    with _stats_lock:
        return dataclasses.replace(_stats)


def reset_stats():
    """Sets every count of `stats()` back to zero.

    Returns:
      None.
    """
    global _stats
    with _stats_lock:
        _stats = CacheStats()


def cache_dir() -> str | None:
    """The directory in use (`config.compilation_cache_dir`, with `~` expanded).

    Returns:
      An absolute path, or None while the cache is off.
    """
    path = config.compilation_cache_dir
    return os.path.abspath(os.path.expanduser(path)) if path else None


# --- keys -------------------------------------------------------------------------------------


def _host_cpu() -> bytes:
    """The host CPU's model and instruction-set flags: XLA:CPU generates code for them,
    so a directory shared between different machines must not mix their entries."""
    try:
        with open("/proc/cpuinfo", "rb") as f:
            lines = f.read().splitlines()
        wanted = (b"model name", b"flags", b"Features", b"CPU part")
        first = {}
        for line in lines:
            name = line.split(b":", 1)[0].strip()
            if name in wanted and name not in first:
                first[name] = line
        if first:
            return b"\n".join(first[k] for k in sorted(first))
    except OSError:  # not Linux
        pass
    return f"{platform.machine()} {platform.processor()}".encode()


_runtime_ids = {}


def _runtime_identity(client) -> bytes:
    """What about the runtime, not the program, decides the compiled code."""
    ident = _runtime_ids.get(id(client))
    if ident is None:
        import jaxlib  # only its version: the runtime itself is reached through `client`

        parts = [jaxlib.__version__, client.platform, client.platform_version]
        ident = "\0".join(parts).encode()
        if client.platform == "cpu":
            ident += b"\0" + _host_cpu()
        _runtime_ids[id(client)] = ident  # clients live as long as the process
    return ident


def _field(h, data: bytes):
    h.update(struct.pack("<Q", len(data)))  # length-prefixed: fields cannot run together
    h.update(data)


def cache_key(client, program, device_list, options) -> str:
    """The key of a compiled program: a SHA-256 (hex) of everything its executable
    depends on (see the module docstring).

    Args:
      client: the runtime client that compiles it.
      program: StableHLO text (str) or MLIR bytecode (bytes).
      device_list: the runtime's `DeviceList` the program is compiled for.
      options: the runtime's `CompileOptions`.

    Returns:
      64 hexadecimal digits.
    """
    h = hashlib.sha256()
    _field(h, b"funcnet compilation cache %d" % FORMAT_VERSION)
    _field(h, program.encode() if isinstance(program, str) else bytes(program))
    _field(h, options.SerializeAsString())
    _field(h, _runtime_identity(client))
    devices = list(device_list)
    _field(h, "\0".join([str(len(devices))] + [d.device_kind for d in devices]).encode())
    _field(h, os.environ.get("XLA_FLAGS", "").encode())
    return h.hexdigest()


# --- entries ----------------------------------------------------------------------------------


def _entry_path(directory: str, key: str) -> str:
    return os.path.join(directory, key + _SUFFIX)


def _encode(key: str, payload: bytes, compile_seconds: float) -> bytes:
    header = _HEADER.pack(
        _MAGIC,
        FORMAT_VERSION,
        bytes.fromhex(key),
        len(payload),
        zlib.crc32(payload),
        compile_seconds,
    )
    return header + payload


def _decode(key: str, data: bytes):
    """The payload of an entry, or (None, why it is not valid for `key`)."""
    if len(data) < _HEADER.size:
        return None, f"truncated ({len(data)} bytes, shorter than the header)"
    magic, version, digest, length, crc, _ = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        return None, "not a funcnet compilation-cache entry"
    if version != FORMAT_VERSION:
        return None, f"format version {version}, expected {FORMAT_VERSION}"
    if digest != bytes.fromhex(key):
        return None, "written for another key (renamed or foreign)"
    payload = data[_HEADER.size :]
    if len(payload) != length:
        return None, f"truncated ({len(payload)} of {length} payload bytes)"
    if zlib.crc32(payload) != crc:
        return None, "corrupt (checksum mismatch)"
    return payload, None


def _touch(path: str):
    """Mark an entry as just used (least-recently-used eviction reads the mtime). The
    time comes from the clock, not the file system, whose timestamps may be as coarse
    as a few milliseconds."""
    now = time.time_ns()
    with contextlib.suppress(OSError):  # evicted meanwhile by another process: harmless
        os.utime(path, ns=(now, now))


def _load(client, key, directory, device_list, options):
    """A cached executable for `key`, or (None, rejected?)."""
    path = _entry_path(directory, key)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, False
    except OSError as e:
        log.warning("compilation cache: cannot read %s (%s); compiling", path, e)
        return None, False
    payload, why = _decode(key, data)
    if payload is None:
        log.warning("compilation cache: ignoring %s: %s; compiling and rewriting it", path, why)
        return None, True
    try:
        exe = client.deserialize_executable(payload, device_list, _assigned(options, device_list))
    except Exception as e:  # the runtime rejects it (e.g. an incompatible build)
        log.warning(
            "compilation cache: the runtime cannot load %s (%s); compiling and rewriting it",
            path,
            e,
        )
        return None, True
    _touch(path)
    return exe, False


def _assigned(options, device_list):
    """`options` with an explicit device assignment: a deserialized executable runs on
    the devices of its options' assignment (by default the first device), not on those
    of the device list. The key leaves the assignment out, so that a program compiled
    for one device loads on any device of the same kind."""
    options = copy.deepcopy(options)
    ids = [d.id for d in device_list]  # one replica, one partition per device
    options.device_assignment = _xc.DeviceAssignment.create(np.array([ids]))
    return options


def _write_atomically(directory: str, path: str, data: bytes):
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        now = time.time_ns()
        os.utime(tmp, ns=(now, now))
        os.replace(tmp, path)  # readers see the old entry, or none, or this one: never part
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _store(key, directory, exe, compile_seconds, max_size):
    try:
        payload = exe.serialize()
    except Exception as e:  # a runtime that cannot serialize this executable
        log.debug("compilation cache: cannot serialize %s (%s); not stored", key, e)
        _count(skipped=1)
        return
    data = _encode(key, payload, compile_seconds)
    if len(data) > max_size:
        log.debug("compilation cache: %s (%d bytes) exceeds the cache's size", key, len(data))
        _count(skipped=1)
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _write_atomically(directory, _entry_path(directory, key), data)
    except OSError as e:
        log.warning("compilation cache: cannot write to %s (%s); not stored", directory, e)
        return
    _count(writes=1)
    _evict(directory, max_size)


def _scan(directory: str):
    """[(mtime_ns, size, path)] of the directory's entries; removes stale temp files."""
    entries = []
    now = time.time()
    try:
        items = list(os.scandir(directory))
    except OSError:
        return entries
    for item in items:
        try:
            st = item.stat()
        except OSError:  # deleted meanwhile
            continue
        if item.name.startswith(_TMP_PREFIX):
            if now - st.st_mtime > _STALE_TMP_SECONDS:
                _unlink(item.path)
        elif item.name.endswith(_SUFFIX) and item.is_file():
            entries.append((st.st_mtime_ns, st.st_size, item.path))
    return entries


def _unlink(path) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:  # another process removed it first, or (Windows) it is open
        return False


def _evict(directory: str, max_size: int):
    """Delete least recently used entries until the directory holds at most max_size.
    Two processes evicting at once may delete a little more than needed: harmless."""
    entries = _scan(directory)
    total = sum(size for _, size, _ in entries)
    if total <= max_size:
        return
    for _, size, path in sorted(entries):
        if total <= max_size:
            break
        if _unlink(path):
            _count(evictions=1)
            log.debug("compilation cache: evicted %s", path)
        total -= size


# --- the entry point --------------------------------------------------------------------------


def compile_or_load(client, program, device_list, options, compile, *, cacheable=True):
    """The loaded executable for `program`: from the cache when it holds a valid entry,
    otherwise compiled by `compile(client, program, device_list, options)` (and stored).

    Args:
      client: the runtime client.
      program: StableHLO text (str) or MLIR bytecode (bytes).
      device_list: the runtime's `DeviceList` to load the executable on.
      options: the runtime's `CompileOptions`.
      compile: the function that compiles on a miss.
      cacheable: False for programs whose executables must not outlive the process
        (host callbacks): compiled, never looked up or stored.

    Returns:
      The runtime's loaded executable (or what `compile` returns).
    """
    directory = cache_dir() if cacheable else None
    key = rejected = None
    if directory is not None:
        t0 = time.perf_counter()
        key = cache_key(client, program, device_list, options)
        exe, rejected = _load(client, key, directory, device_list, options)
        if exe is not None:
            _count(hits=1, load_seconds=time.perf_counter() - t0)
            return exe
        _count(misses=1, rejected=int(rejected))
    t0 = time.perf_counter()
    exe = compile(client, program, device_list, options)
    seconds = time.perf_counter() - t0
    _count(compiles=1, compile_seconds=seconds)
    if directory is None:
        if not cacheable and cache_dir() is not None:
            _count(skipped=1)
        return exe
    # A rejected entry is rewritten whatever the compile time, so it warns only once.
    if seconds < config.compilation_cache_min_compile_time_secs and not rejected:
        _count(skipped=1)
    else:
        _store(key, directory, exe, seconds, config.compilation_cache_max_size)
    return exe


# --- inspecting and clearing -----------------------------------------------------------------


def disk_usage(directory=None) -> tuple[int, int]:
    """The number of entries in the cache directory and their total size in bytes.

    Args:
      directory: the cache directory; by default `config.compilation_cache_dir`.

    Returns:
      `(entries, bytes)`; `(0, 0)` when the cache is off or the directory missing.
    """
    directory = directory or cache_dir()
    if directory is None:
        return 0, 0
    entries = _scan(os.path.expanduser(directory))
    return len(entries), sum(size for _, size, _ in entries)


def clear(directory=None) -> int:
    """Deletes every entry of the cache directory (other files are left alone).

    Args:
      directory: the cache directory; by default `config.compilation_cache_dir`.

    Returns:
      The number of entries deleted.
    """
    directory = directory or cache_dir()
    if directory is None:
        return 0
    return sum(_unlink(path) for _, _, path in _scan(os.path.expanduser(directory)))
