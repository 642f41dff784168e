"""Host callbacks: compiled programs that call back into Python, through jaxlib's runtime.

This is the runtime side of `funcnet.debug` (print, callback, breakpoint); the
primitive and its lowering live in funcnet/debug. funcnet writes the StableHLO
itself: a callback is a side-effecting `stablehlo.custom_call` to the runtime's FFI
handler (`xla_ffi_python_cpu_callback`, `xla_ffi_python_gpu_callback` on CUDA/ROCm)
whose attribute `mhlo.backend_config = {index = k : ui64}` selects the k-th Python
callable the executable was compiled with. Every program with callbacks is compiled
with the same two dispatchers (index 0: unordered; index 1: ordered, which threads a
`!stablehlo.token` through); the first operand of each call is the id of its *site*,
a `tensor<ui64>` constant, looked up in a process-wide table that holds sites weakly:
the program's IR and every executable compiled from it hold them strongly. The handler
passes the other operands as read-only NumPy arrays.

The runtime takes Python callables only with an MLIR module object, so a program
with callbacks is parsed here into one (jaxlib's MLIR parser; no jax lowering code).
Executions of such programs block until their callbacks have run, so that prints
appear when the call returns and programs' callbacks never interleave; an exception
raised by a callback is raised again, unchanged, by the call that ran it.
"""

import itertools
import re
import threading
import weakref

from funcnet.runtime import portable

UNORDERED_INDEX = 0  # dispatcher: (site id, *operands) -> ()
ORDERED_INDEX = 1  # dispatcher: (token, site id, *operands) -> (token,)

_FFI_TARGETS = {
    "cpu": "xla_ffi_python_cpu_callback",
    "cuda": "xla_ffi_python_gpu_callback",
    "rocm": "xla_ffi_python_gpu_callback",
    "gpu": "xla_ffi_python_gpu_callback",
}


def call_target(platform: str) -> str:
    """The custom-call target of a host callback on `platform`."""
    target = _FFI_TARGETS.get(platform)
    if target is None:
        raise NotImplementedError(
            f"host callbacks (funcnet.debug.print / callback / breakpoint) are not "
            f"supported on the '{platform}' platform; supported: cpu, cuda, rocm"
        )
    return target


def needs_host_callbacks(mlir_text: str) -> bool:
    """Whether a program calls back into Python (it must be compiled by `compile_and_load`)."""
    return "xla_ffi_python_" in mlir_text


# --- sites ------------------------------------------------------------------------------

_sites = weakref.WeakValueDictionary()  # site id -> callable site
_site_ids = weakref.WeakKeyDictionary()  # callable site -> site id
_next_id = itertools.count(1)
_sites_lock = threading.Lock()


def site_id(site) -> int:
    """The id under which compiled programs reach `site` (a weak-referenceable callable
    taking NumPy arrays)."""
    with _sites_lock:
        sid = _site_ids.get(site)
        if sid is None:
            sid = next(_next_id)
            _site_ids[site] = sid
            _sites[sid] = site
        return sid


_SITE_CONSTANT = re.compile(r"dense<(\d+)> : tensor<ui64>")


def _sites_of(mlir_text: str) -> list:
    """The sites a program calls (a superset: any ui64 constant naming a live site)."""
    ids = {int(m) for m in _SITE_CONSTANT.findall(mlir_text)}
    return [site for site in map(_sites.get, ids) if site is not None]


# Exceptions raised by callbacks, re-raised by the execution that ran them (the
# runtime itself only reports a generic error with the traceback as text).
_errors = []
_errors_lock = threading.Lock()
_in_callback = threading.local()  # .depth: callbacks running in this thread


def _run_site(sid, args):
    _in_callback.depth = getattr(_in_callback, "depth", 0) + 1
    try:
        site = _sites.get(int(sid))
        if site is None:  # cannot happen: the executable holds its sites
            raise RuntimeError(f"funcnet host callback site {int(sid)} no longer exists")
        site(*args)
    except BaseException as e:
        with _errors_lock:
            _errors.append(e)
        raise
    finally:
        _in_callback.depth -= 1


def _dispatch_unordered(sid, *args):
    _run_site(sid, args)
    return ()


def _dispatch_ordered(token, sid, *args):
    _run_site(sid, args)
    return (token,)


_DISPATCHERS = [_dispatch_unordered, _dispatch_ordered]  # in index order


def _take_callback_error():
    with _errors_lock:
        err = _errors[0] if _errors else None
        _errors.clear()
    return err


# --- compiling and running ------------------------------------------------------------------


def compile_and_load(client, mlir_text: str, device_list, options):
    """Compile StableHLO text with the runtime `client`; a program with host callbacks
    gets the dispatchers and an executable whose runs wait for their callbacks.

    Returns the runtime's loaded executable (or a stand-in with the same methods)."""
    if not needs_host_callbacks(mlir_text):
        return client.compile_and_load(mlir_text, device_list, options)
    module = portable.parse(mlir_text)
    exe = client.compile_and_load(module, device_list, options, _DISPATCHERS)
    return _CallbackExecutable(exe, _sites_of(mlir_text))


_running = 0  # executions with callbacks under way, in any thread
_running_changed = threading.Condition()


def wait_for_callbacks():
    """Return once every execution with host callbacks, started by any thread, finished.

    An execution's own caller already waits for it; this is for other threads."""
    if getattr(_in_callback, "depth", 0):
        raise RuntimeError(
            "effects_barrier() was called from inside a host callback: it "
            "would wait for the very program that runs the callback"
        )
    with _running_changed:
        _running_changed.wait_for(lambda: _running == 0)


class _CallbackExecutable:
    """A loaded executable whose `execute_sharded` returns once the program, and so all
    its callbacks, finished; other attributes are the runtime executable's."""

    def __init__(self, exe, sites):
        self._exe = exe
        self._sites = sites  # the executable keeps what it calls alive, whatever drops the IR

    def execute_sharded(self, buffers):
        global _running
        with _running_changed:
            _running += 1
        try:
            results = self._exe.execute_sharded(buffers, with_tokens=True)
            results.consume_token().block_until_ready()
        except Exception as runtime_error:
            err = _take_callback_error()
            if err is None:
                raise
            raise err.with_traceback(err.__traceback__) from runtime_error
        finally:
            with _running_changed:
                _running -= 1
                _running_changed.notify_all()
        return results

    def __getattr__(self, name):
        return getattr(self._exe, name)
