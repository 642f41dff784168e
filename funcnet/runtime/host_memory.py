"""Keep the CPU runtime's freed buffers mapped, so that each run does not fault in
fresh pages.

XLA:CPU allocates a program's temporaries as one block per run (81 MB for the char-LSTM
training step) from its worker threads. glibc serves a block that large from a fresh
`mmap` and unmaps it when freed, so every run touches new zero pages: ~20,000 page
faults, a quarter of that step's time. PyTorch's tensors are smaller than glibc's
dynamic mmap threshold (32 MB) and are recycled from the heap instead.

`configure()` (called once, when funcnet is imported) asks glibc to serve large blocks
from the heap and to keep freed memory (`mallopt`): at most two malloc arenas (the main
thread's and one that every other thread shares), no `mmap` for large blocks, and no
trimming of the heap's top below 1 GiB. With glibc's default of up to 8 arenas per core,
the runtime's threads allocate in arenas of their own, and a run's block lands in
whichever arena its thread holds: most runs still faulted it in. The costs: memory
freed by the process stays mapped (the resident size stays at its peak, up to 1 GiB of
free heap), and the runtime's threads share one arena.

One arena for every thread would also keep blocks of 64 MB and more, which a thread
arena cannot hold (glibc maps those afresh), but then the caller and the runtime's pool
threads wait on one lock: 1-4 us more per call on a small program that uses the pool
(an (8, 8) matmul 3.8 -> 4.6 us, the digits MLP's batch-1 predict 6.1 -> 10 us). Two
arenas keep those calls at their cost, and a runtime thread's block of 64 MB or more is
still mapped afresh on each run.

Turn it off with `FUNCNET_REUSE_HOST_MEMORY=0` (it acts at import; later changes have
no effect). Other C libraries (musl, macOS) are left alone.

Threads that started before the call keep the arenas they made: when something started
the runtime's threads first (`jax.devices()` before `import funcnet`), their large
blocks are still mapped afresh on every run (the char-LSTM step then takes 54 ms, not
39). Import funcnet first; `configure` logs it when it comes too late.
"""

import ctypes
import ctypes.util
import logging

from funcnet.config import config

log = logging.getLogger("funcnet.runtime")

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_KEEP_FREE_BYTES = 1 << 30

_done = False


def configure() -> bool:
    """Sets glibc's malloc options once (see the module); True if they were set.

    Returns:
      Whether glibc's options were changed by this call.
    """
    global _done
    if _done or not config.reuse_host_memory:
        return False
    _done = True
    libc = _glibc()
    if libc is None:
        return False
    ok = (
        libc.mallopt(_M_ARENA_MAX, 2)
        and libc.mallopt(_M_MMAP_MAX, 0)
        and libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREE_BYTES)
    )
    if not ok:
        log.debug("mallopt refused a host-memory option")
    elif _runtime_started():
        log.info(
            "the XLA runtime started before funcnet was imported: its threads keep their "
            "own malloc arenas, and large per-run temporaries are mapped afresh on each "
            "run (import funcnet first)"
        )
    return bool(ok)


def _runtime_started() -> bool:
    try:  # jax's own record of its clients; a private name, so only for a log line
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # pragma: no cover
        return False


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _ = libc.gnu_get_libc_version  # glibc only: mallopt's parameters differ elsewhere
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None
