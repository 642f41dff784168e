"""Named axes: which axis names the code being traced may run collectives over.

Two things bind a name: `shard_map` (each mesh axis, while its body is traced) and
`vmap(..., axis_name=)` (the batch axis, while the function runs under the batch trace).
A collective (`fn.lax.psum(x, "data")`) looks its axes up here: an unbound name is an
error naming the axis and the bound ones, and a name bound by a vmap tells the collective
which batch trace must process it (even when its operands do not depend on the batch).
"""

import threading
from contextlib import contextmanager
from typing import NamedTuple


class AxisFrame(NamedTuple):
    """One bound axis name.

    name: the axis name; size: how many positions it has; kind: "vmap" or "shard_map";
    main: the batch trace's MainTrace for a vmap axis (None for a mesh axis)."""

    name: object
    size: int
    kind: str
    main: object = None


class _AxisEnv(threading.local):
    def __init__(self):
        self.frames = []


_env = _AxisEnv()


@contextmanager
def extend_axis_env(frames):
    """Bind the axis names of `frames` (AxisFrame) while the block runs."""
    frames = list(frames)
    _env.frames.extend(frames)
    try:
        yield
    finally:
        del _env.frames[len(_env.frames) - len(frames) :]


def lookup(name) -> AxisFrame | None:
    """The innermost frame binding `name`, or None."""
    for frame in reversed(_env.frames):
        if frame.name == name:
            return frame
    return None


def frames() -> tuple:
    """The bound frames, outermost first."""
    return tuple(_env.frames)


def bound_names() -> tuple:
    """Every bound axis name, outermost first (duplicates once)."""
    seen = []
    for frame in _env.frames:
        if frame.name not in seen:
            seen.append(frame.name)
    return tuple(seen)
