"""Find the user's line: the innermost stack frame outside funcnet's own code."""

import os
import sys
from typing import NamedTuple

import funcnet

_PACKAGE_DIR = os.path.dirname(os.path.abspath(funcnet.__file__)) + os.sep


class SourceInfo(NamedTuple):
    file: str
    line: int
    function: str

    def __str__(self):
        return f"{self.file}:{self.line} ({self.function})"


def _is_user_file(filename: str) -> bool:
    return not filename.startswith(_PACKAGE_DIR) or os.sep + "tests" + os.sep in filename


def user_frame() -> SourceInfo | None:
    """The first frame, from the innermost outwards, that belongs to the user."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if _is_user_file(code.co_filename) and not code.co_filename.startswith("<frozen"):
            return SourceInfo(code.co_filename, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None


def where() -> str:
    """' (at file:line (fn))' for error messages, or '' when no user frame is found."""
    info = user_frame()
    return f" (at {info})" if info is not None else ""
