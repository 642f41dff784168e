"""Tracebacks that show the user's code, not funcnet's.

An error raised while funcnet traces a user's function (a shape error in a layer under
`jit(grad(loss))`, say) unwinds through many of funcnet's own frames: the jit and grad
machinery, the trace stack, the numpy layer. A user needs their own frames and the
message. Public entry points (jit calls, grad, vmap, the control-flow functions...) are
*API boundaries*: the outermost one an exception passes through removes funcnet's frames
from its traceback and adds a note saying how to see everything.

Modes, from the environment variable `FUNCNET_TRACEBACK_FILTERING`:
  - "auto" (default): "tracebackhide" under IPython (it hides marked frames itself),
    else "quiet_remove_frames";
  - "quiet_remove_frames": funcnet's frames removed, a note says so;
  - "remove_frames": removed, and the unfiltered traceback kept as the `__cause__`;
  - "tracebackhide": frames kept but marked `__tracebackhide__` (IPython, pytest);
  - "off": nothing changes.
"""

import builtins
import functools
import os
import types

# Frames in this directory (the funcnet package) are funcnet's own; tests shipped inside
# the package directory would count as user code (none are, today).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

NOTE = (
    "--------------------\nfuncnet removed its internal frames from the traceback of "
    "this exception. Set FUNCNET_TRACEBACK_FILTERING=off to include them."
)


class UnfilteredStackTrace(Exception):
    """The original, unfiltered traceback (mode "remove_frames")."""


def _is_funcnet_file(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR)


def _mode() -> str:
    mode = os.environ.get("FUNCNET_TRACEBACK_FILTERING", "auto").lower()
    if mode == "auto":
        # IPython defines get_ipython while a shell runs, and hides marked frames itself
        return "tracebackhide" if hasattr(builtins, "get_ipython") else "quiet_remove_frames"
    if mode not in ("off", "quiet_remove_frames", "remove_frames", "tracebackhide"):
        raise ValueError(
            f"FUNCNET_TRACEBACK_FILTERING={mode!r} is not one of auto, off, "
            "quiet_remove_frames, remove_frames, tracebackhide"
        )
    return mode


def filter_traceback(tb):
    """`tb` without the frames of funcnet's own files (a new chain; frames are shared)."""
    kept = [
        (f, tb_.tb_lasti, tb_.tb_lineno)
        for tb_ in _walk(tb)
        if not _is_funcnet_file((f := tb_.tb_frame).f_code.co_filename)
    ]
    out = None
    for frame, lasti, lineno in reversed(kept):
        out = types.TracebackType(out, frame, lasti, lineno)
    return out


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


# Code objects of the boundary wrappers: an exception already below an outer boundary is
# left for that one to filter, so the whole traceback is filtered exactly once.
_boundary_codes: set = set()


def _under_outer_boundary(e) -> bool:
    tb = e.__traceback__
    frame = tb.tb_frame.f_back if tb is not None else None
    while frame is not None:
        if frame.f_code in _boundary_codes:
            return True
        frame = frame.f_back
    return False


def process(e: BaseException) -> None:
    """Filter `e`'s traceback in place, as the current mode says. Call it in an `except`
    block of a boundary, then re-raise with a bare `raise` (which adds no frame)."""
    if not isinstance(e, Exception) or e.__traceback__ is None:
        return
    mode = _mode()
    if mode == "off" or _under_outer_boundary(e):
        return
    tb = e.__traceback__
    if mode == "tracebackhide":
        for t in _walk(tb):
            if _is_funcnet_file(t.tb_frame.f_code.co_filename):
                t.tb_frame.f_locals["__tracebackhide__"] = True
        return
    filtered = filter_traceback(tb)  # None when funcnet raised it itself: the user's
    # frames above the boundary are added as it propagates
    if mode == "remove_frames":
        original = UnfilteredStackTrace(
            f"{type(e).__name__}: {e}\n\nThe traceback below is the original one, with "
            "funcnet's internal frames."
        )
        original.with_traceback(tb)
        original.__cause__, original.__context__ = e.__cause__, e.__context__
        original.__suppress_context__ = e.__suppress_context__
        e.__cause__, e.__context__ = original, None
    elif NOTE not in getattr(e, "__notes__", ()):
        e.add_note(NOTE)
    e.with_traceback(filtered)


def api_boundary(fun):
    """Wrap a public entry point so that exceptions leaving it have funcnet's frames
    filtered out (see the module docstring)."""

    @functools.wraps(fun)
    def funcnet_api_boundary(*args, **kwargs):
        try:
            return fun(*args, **kwargs)
        except Exception as e:
            process(e)
            raise

    register_boundary(funcnet_api_boundary)
    return funcnet_api_boundary


def register_boundary(fun) -> None:
    """Mark a function (whose own `except` calls `process`) as a boundary."""
    _boundary_codes.add(getattr(fun, "__code__", fun))
