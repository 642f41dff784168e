"""The XLA runtime, reached through jaxlib. This module and funcnet/tree.py are the
only places funcnet touches jax: compiling StableHLO text, executing, and device
buffers (the runtime's arrays, used as raw buffers)."""

import copy
import functools

import jax
import numpy as np
from jax.extend import backend as _jex_backend

from funcnet.config import config
from funcnet.runtime import callback, compilation_cache, cpu_codegen, host_memory
from funcnet.runtime.cache import LRUCache

try:  # jaxlib's client module moved between releases
    from jax._src.lib import xla_client as _xc
except ImportError:  # pragma: no cover
    from jaxlib import xla_client as _xc

Buffer = jax.Array  # a device buffer; funcnet.Array wraps one

# At import, not when funcnet first asks for the runtime: the runtime's threads pick
# their malloc arenas when they start, and anything that starts the runtime earlier
# (jax.devices(), a jax array) would start them before the options are set.
host_memory.configure()


# A client built by funcnet.runtime.distributed (a multi-process run): it replaces the
# default one, so it must be installed before the first client() call.
_installed_client = None


@functools.cache
def client(platform: str | None = None):
    if _installed_client is not None and platform in (None, _installed_client.platform):
        return _installed_client
    return _jex_backend.get_backend(platform)


def client_started() -> bool:
    """True once the runtime client was asked for (a device, an array, a compile)."""
    return client.cache_info().currsize > 0


def install_client(c):
    """Make `c` the default runtime client (funcnet.runtime.distributed's multi-process
    client); only before the runtime started."""
    global _installed_client
    if client_started():
        raise RuntimeError("the runtime client already started: install_client comes too late")
    _installed_client = c


def devices(platform: str | None = None):
    """The devices of the default (or named) backend: 'cpu', 'gpu'/'cuda'."""
    return list(client(platform).devices())


def default_device():
    """This process's first device (in a multi-process run, devices()[0] may be another
    process's)."""
    return _default_device(client())


@functools.cache
def _default_device(c):
    return c.local_devices()[0]


@functools.cache
def single_device() -> bool:
    """True when the process sees exactly one device (the CPU): every buffer then lives
    on it, and dispatch caches need not key on the device."""
    c = client()
    return c.platform == "cpu" and len(c.devices()) == 1


def device_of(buf):
    """The one device holding a single-device buffer."""
    return next(iter(buf.devices()))


# --- 64-bit types -------------------------------------------------------------------------
# The runtime narrows 64-bit host values (on the way in) and 64-bit buffers (on the way
# out, in np.asarray) unless jax's own x64 flag is on. funcnet's dtypes are decided by
# funcnet (`funcnet.config.enable_x64`, applied by funcnet.core.dtypes before any value
# reaches this module), so the runtime must never narrow: while funcnet's x64 is on, jax's
# flag is kept on. When funcnet's goes off, jax's is put back only if funcnet turned it
# on (a user who set jax's flag themselves keeps it). Why keep the flag rather than
# bypass jax.device_put: the device-to-host copy (ArrayImpl.__array__, in C++) narrows
# by the same flag, and has no lower-level entry point; one flag keeps both directions
# and every other runtime path (dlpack, jax arrays passed in) consistent.
_x64_turned_on_by_funcnet = False


def _jax_x64() -> bool:
    return bool(jax.config.jax_enable_x64)


def sync_x64(enabled: bool | None = None):
    """Make the runtime's x64 flag agree with funcnet's `config.enable_x64`."""
    global _x64_turned_on_by_funcnet
    enabled = config.enable_x64 if enabled is None else enabled
    if enabled and not _jax_x64():
        jax.config.update("jax_enable_x64", True)
        _x64_turned_on_by_funcnet = True
    elif not enabled and _x64_turned_on_by_funcnet:
        _x64_turned_on_by_funcnet = False
        if _jax_x64():
            jax.config.update("jax_enable_x64", False)


config.on_change("enable_x64", sync_x64)
if config.enable_x64:  # FUNCNET_ENABLE_X64=1 at import
    sync_x64(True)


def _is_64_bit(dtype) -> bool:
    return dtype.itemsize == 8


# --- transfers -----------------------------------------------------------------------------
# (shape, dtype, device) -> (runtime aval, sharding), learned from a first jax.device_put
# of a NumPy value: later puts of that signature call the runtime's C++ transfer
# directly (~12 us instead of ~240 us through jax.device_put's Python layers).
_put_signatures = LRUCache("eager_cache_size")
_batched_device_put = getattr(_xc, "batched_device_put", None)
# The runtime copies the host data before the put returns (never aliases it); NumPy
# scalars are immutable and keep the zero-copy semantics.
_COPY_HOST = _xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL
_ZERO_COPY = _xc.HostBufferSemantics.ZERO_COPY


def device_put(value, device=None) -> Buffer:
    """Copy a host value (NumPy array or scalar) or a buffer to a device.

    A NumPy array is always copied: the CPU runtime would otherwise alias an aligned
    host array (its default "zero copy" semantics), and a later in-place write to the
    NumPy array would change the funcnet Array (jnp.asarray copies too). A buffer
    already on `device` is returned as it is (buffers are immutable)."""
    device = device if device is not None else default_device()
    if _batched_device_put is None or not isinstance(value, (np.ndarray, np.generic)):
        return jax.device_put(value, device)
    key = (value.shape, value.dtype, device)
    sig = _put_signatures.get(key)
    if sig is not None:
        if config.enable_x64 and not _jax_x64():  # turned off behind funcnet's back
            sync_x64(True)
        semantics = _COPY_HOST if isinstance(value, np.ndarray) else _ZERO_COPY  # scalars
        return _batched_device_put(sig[0], sig[1], [value], [device], True, False, semantics)
    if isinstance(value, np.ndarray):  # jax.device_put puts it zero-copy: give it a copy
        value = np.array(value, copy=True)
    buf = jax.device_put(value, device)
    if buf.dtype != value.dtype and _is_64_bit(value.dtype) and config.enable_x64:
        sync_x64(True)  # jax's flag was turned off behind funcnet's back
        buf = jax.device_put(value, device)
    if buf.dtype == value.dtype:  # not narrowed by jax's x64 setting: the fast path is exact
        _put_signatures.put(key, (buf.aval, buf.sharding))
    return buf


def to_numpy(buf: Buffer) -> np.ndarray:
    arr = np.asarray(buf)
    if arr.dtype != buf.dtype:  # a 64-bit buffer read after funcnet's x64 went off
        with _runtime_x64():
            arr = np.asarray(buf)
    return arr


class _runtime_x64:
    """Turn jax's x64 flag on for a block (a rare path: reading a 64-bit buffer made
    while funcnet's x64 was on, after it was switched off)."""

    def __enter__(self):
        self._old = _jax_x64()
        if not self._old:
            jax.config.update("jax_enable_x64", True)

    def __exit__(self, *exc):
        if not self._old:
            jax.config.update("jax_enable_x64", False)


def is_buffer(x) -> bool:
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)


def _compile_options(platform):
    opts = _xc.CompileOptions()
    opts.env_option_overrides = cpu_codegen.overrides(platform)
    build = opts.executable_build_options
    build.num_replicas = 1
    build.num_partitions = 1
    return opts


# Wrapping an executable's results as runtime arrays. `disassemble_into_single_device_
# arrays` rebuilds each output's metadata (aval, sharding) through Python on every
# call (~14 us per call on CPU); a result handler built once per output from the first
# call's results does the same wrapping in C++ (~2 us).
_array_result_handler = getattr(_xc, "array_result_handler", None)


def _result_handlers(arrays):
    if _array_result_handler is None:  # pragma: no cover (older/newer jaxlib)
        return None
    try:
        return [
            _array_result_handler(a.aval, a.sharding, committed=True, _skip_checks=True)
            for a in arrays
        ]
    except (TypeError, ValueError, AttributeError, RuntimeError):  # pragma: no cover
        # API drift: keep the general path
        return None


_CALLBACK_MARK = b"xla_ffi_python_"  # the host-callback targets' common prefix


def _has_host_callbacks(program) -> bool:
    if isinstance(program, str):
        return callback.needs_host_callbacks(program)
    return _CALLBACK_MARK in program  # bytecode keeps custom-call targets as plain strings


def _compile(c, program, device_list, options):
    if isinstance(program, str):
        # A program with host callbacks (funcnet.debug) is compiled with its dispatchers.
        return callback.compile_and_load(c, program, device_list, options)
    if _CALLBACK_MARK in program:
        raise ValueError(
            "a program with host callbacks (funcnet.debug) must be compiled from "
            "StableHLO text, not MLIR bytecode"
        )
    return c.compile_and_load(bytes(program), device_list, options)


def _compile_on_device(c, program, device_list, options):
    """`_compile` for a one-device program, assigned to its device: without an
    assignment the runtime assigns it to device 0 and refuses the buffers of any other
    ("replica is assigned to device cpu:0"). The assignment is added here, not in the
    options the compilation cache keys on, so that a cached program loads on any device
    of its kind (the cache assigns it on loading)."""
    (device,) = device_list
    if device.id != 0:
        options = copy.deepcopy(options)
        options.device_assignment = _xc.DeviceAssignment.create(np.array([[device.id]]))
    return _compile(c, program, device_list, options)


class CompiledProgram:
    """What every compiled program tells about itself (`self._exe` is the runtime's
    loaded executable)."""

    def hlo_text(self) -> str:
        """The optimized HLO XLA produced (partitioned, for a partitioned program)."""
        return "\n".join(m.to_string() for m in self._exe.hlo_modules())

    def memory_stats(self):
        return self._exe.get_compiled_memory_stats()

    def cost_analysis(self):
        return self._exe.cost_analysis()


class Executable(CompiledProgram):
    """A compiled program for one device; `execute` takes and returns buffers.

    `mlir_text` is StableHLO text, or MLIR bytecode (bytes). Compiles go through the
    persistent compilation cache (`compilation_cache`, when configured); programs with
    host callbacks are always compiled."""

    def __init__(self, mlir_text: str | bytes, device, n_outputs: int):
        self.device = device
        self.n_outputs = n_outputs
        self._exe = compilation_cache.compile_or_load(
            client(device.platform),
            mlir_text,
            _xc.DeviceList((device,)),
            _compile_options(device.platform),
            _compile_on_device,
            # Their executables call this process's Python objects: never stored.
            cacheable=not _has_host_callbacks(mlir_text),
        )
        self._handlers = None  # learned from the first call; False: unavailable

    def execute(self, buffers):
        results = self._exe.execute_sharded(buffers)
        handlers = self._handlers
        if handlers:
            return results.consume_with_handlers(handlers)
        outs = [shards[0] for shards in results.disassemble_into_single_device_arrays()]
        if handlers is None and outs:
            self._handlers = _result_handlers(outs) or False
        return outs

    def dispatch_parts(self):
        """`(execute_sharded, handlers)` for callers that inline the call on their own
        fast path (`execute_sharded(bufs).consume_with_handlers(handlers)`), or None
        before the first call or where result handlers are unavailable."""
        if not self._handlers:
            return None
        return self._exe.execute_sharded, self._handlers
