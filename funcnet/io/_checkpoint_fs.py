"""The file-system side of checkpoints: crash-safe commit and removal of step directories.

A step lives in `<directory>/<step>/`. It is written into a temporary directory inside
`<directory>` (same file system, so the rename is atomic), its files and the temporary
directory are fsynced, and one `os.rename` publishes it; the parent directory is then
fsynced so that the rename itself survives a power cut. A step is removed the other way
round: renamed away first (atomically unlisted), then deleted. Whatever a killed process
leaves behind is a hidden `.funcnet-tmp-*` entry, never a partial `<step>` directory, and
the next manager deletes those entries when it starts.
"""

import json
import os
import shutil
import uuid

# The file in every committed step directory holding step, metrics, time and version;
# a step directory without it is not listed (it was not made by a manager).
METADATA_FILE = "checkpoint.json"
# Temporary save directories and renamed-away steps share this prefix: the dot hides them
# from `ls`, and a name that is not all digits is never taken for a step.
LEFTOVER_PREFIX = ".funcnet-tmp-"


def step_path(directory: str, step: int) -> str:
    """The directory of `step` inside `directory` (the step's decimal digits)."""
    return os.path.join(directory, str(step))


def list_steps(directory: str) -> list[int]:
    """The committed steps in `directory`, ascending.

    A step is a sub-directory named by a non-negative integer in canonical form ("7", not
    "007") that holds the metadata file; temporary entries are hidden names and never match.
    """
    steps = []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if not (name.isdigit() and name.isascii() and str(int(name)) == name):
                continue
            if entry.is_dir() and os.path.isfile(os.path.join(entry.path, METADATA_FILE)):
                steps.append(int(name))
    return sorted(steps)


def remove_leftovers(directory: str) -> list[str]:
    """Deletes the temporary entries a killed or failed save or removal left behind.

    Returns:
      The names deleted.
    """
    removed = []
    with os.scandir(directory) as entries:
        names = [e.name for e in entries if e.name.startswith(LEFTOVER_PREFIX)]
    for name in names:
        delete_tree(os.path.join(directory, name))
        removed.append(name)
    return removed


def new_temporary_dir(directory: str, step: int) -> str:
    """Creates an empty, uniquely named temporary directory for writing `step`."""
    path = os.path.join(directory, f"{LEFTOVER_PREFIX}save-{step}-{uuid.uuid4().hex}")
    os.mkdir(path)
    return path


def fsync_path(path: str):
    """Flushes a file's or a directory's contents (a directory: its entries) to disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (IsADirectoryError, PermissionError):
        if os.path.isdir(path):  # a platform without directory handles (Windows)
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str, value):
    """Writes `value` as JSON to `path` and fsyncs it."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def read_json(path: str):
    """The JSON value stored at `path`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def commit(temporary: str, final: str):
    """Publishes the fully written directory `temporary` as `final`, atomically.

    Every file in `temporary` and the directory itself are fsynced before the rename (a
    rename can reach the disk before the data it names), the parent after it.

    Raises:
      FileExistsError: `final` exists already (nothing is replaced).
    """
    if os.path.lexists(final):
        raise FileExistsError(f"checkpoint directory {final} exists already")
    for name in os.listdir(temporary):
        fsync_path(os.path.join(temporary, name))
    fsync_path(temporary)
    os.rename(temporary, final)
    fsync_path(os.path.dirname(final))


def remove_step(directory: str, step: int):
    """Deletes a committed step: first unlisted by an atomic rename, then deleted."""
    hidden = os.path.join(directory, f"{LEFTOVER_PREFIX}delete-{step}-{uuid.uuid4().hex}")
    try:
        os.rename(step_path(directory, step), hidden)
    except FileNotFoundError:  # deleted by hand already: nothing to do
        return
    fsync_path(directory)
    delete_tree(hidden)


def delete_tree(path: str):
    """Deletes a directory tree (or a file) that is no longer listed as a step."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)
