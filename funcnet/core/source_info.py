"""Find the user's line: the innermost stack frame outside funcnet's own code.

Tracing records one `SourceInfo` per equation, so it must be cheap: the frame walk
caches its verdict per file name, and the column is only worked out (from the code
object's position table) when something asks for it, e.g. the StableHLO emitter.
"""

import functools
import os
import sys
import sysconfig
import threading
from typing import NamedTuple

# funcnet's own directory (this file is funcnet/core/source_info.py)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _dir_of(module_name: str) -> str | None:
    spec = sys.modules.get(module_name)
    path = getattr(spec, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


# Frames in these directories are never "the user's line": funcnet itself, the jax
# runtime it calls into (pytrees), and the standard library (functools.partial,
# contextlib...), which only ever sits between the user's code and funcnet's.
_STDLIB_DIR = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep
_SITE_DIRS = tuple(
    os.path.abspath(sysconfig.get_paths()[k]) + os.sep for k in ("purelib", "platlib")
)


class SourceInfo(NamedTuple):
    file: str
    line: int
    function: str
    code: object = None  # the frame's code object and instruction offset, for `column`
    lasti: int = -1

    @property
    def column(self) -> int:
        """1-based column of the expression being evaluated, or 0 when unknown."""
        if self.code is None or self.lasti < 0:
            return 0
        positions = _positions(self.code)
        i = self.lasti // 2
        if i >= len(positions):
            return 0
        col = positions[i][2]
        return 0 if col is None else col + 1

    def __str__(self):
        return f"{self.file}:{self.line} ({self.function})"


@functools.lru_cache(maxsize=4096)
def _positions(code):
    return tuple(code.co_positions())


@functools.lru_cache(maxsize=4096)
def _is_user_file(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return False
    if filename.startswith(_PACKAGE_DIR):
        return os.sep + "tests" + os.sep in filename[len(_PACKAGE_DIR) - 1 :]
    for d in filter(None, (_dir_of("jax"), _dir_of("jaxlib"))):
        if filename.startswith(d):
            return False
    return not filename.startswith(_STDLIB_DIR) or filename.startswith(_SITE_DIRS)


def user_frame() -> SourceInfo | None:
    """The first frame, from the innermost outwards, that belongs to the user."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if _is_user_file(code.co_filename):
            return SourceInfo(code.co_filename, frame.f_lineno, code.co_name, code, frame.f_lasti)
        frame = frame.f_back
    return None


def where() -> str:
    """' (at file:line (fn))' for error messages, or '' when no user frame is found."""
    info = user_frame()
    return f" (at {info})" if info is not None else ""


# --- equations being replayed ---------------------------------------------------------
# An operation run while funcnet replays an equation of another program (the backward
# pass transposing a forward equation; eval_jaxpr interpreting one) comes from that
# equation's line, not from the frame that asked for the replay. The replaying
# functions record their frame and equation here; `op_origin` finds them on its walk.


class _Replays(threading.local):
    def __init__(self):
        self.by_frame = {}  # frame -> (equation, replayer's name)


_replays = _Replays()


def replaying(frame, eqn, who: str) -> None:
    """Record that `frame` (of function `who`) now replays `eqn`."""
    _replays.by_frame[frame] = (eqn, who)


def done_replaying(frame) -> None:
    _replays.by_frame.pop(frame, None)


def op_origin(frame, eager: bool = False):
    """`(source_info, eqn, replayer)` of an operation run now, walking out from `frame`:
    the innermost user frame, unless a replayed equation with a source line is met first
    (then that equation and the replaying function's name). Only the backward pass
    counts unless `eager` (then eval_jaxpr's replays count too)."""
    by_frame = _replays.by_frame
    while frame is not None:
        code = frame.f_code
        if by_frame and frame in by_frame:
            eqn, who = by_frame[frame]
            info = getattr(eqn, "source_info", None)
            if info is not None and (eager or who == "backward_pass"):
                return info, eqn, who
        elif _is_user_file(code.co_filename):
            return (
                SourceInfo(code.co_filename, frame.f_lineno, code.co_name, code, frame.f_lasti),
                None,
                None,
            )
        frame = frame.f_back
    return None, None, None
