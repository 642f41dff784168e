"""Training checkpoints: `CheckpointManager`, modelled on orbax.checkpoint's.

One directory per saved step, `<directory>/<step>/`, holding the tree as one safetensors
file (`funcnet.io`'s pytree format) and `checkpoint.json` (step, metrics, time, funcnet
version). `_checkpoint_fs` makes each step appear atomically; this module decides which
steps to save and keep, and runs the writes in a background thread.
"""

import atexit
import importlib.metadata
import math
import operator
import os
import sys
import threading
import time
import weakref

import numpy as np

from funcnet.io import _checkpoint_fs as _fs
from funcnet.io.tensors import load, to_host, write

__all__ = ["CheckpointManager", "StepAlreadyExistsError"]

# The tree's file inside a step directory.
STATE_FILE = "state.safetensors"
# Written into checkpoint.json, so that a later funcnet can tell which layout it reads.
FORMAT = "funcnet.checkpoint/1"


# Managers whose background error may still be unraised when the program ends.
_live_managers = weakref.WeakSet()


@atexit.register  # runs after Python has joined the (non-daemon) writer threads
def _report_unraised_errors():
    for mgr in list(_live_managers):
        if mgr._error is not None:
            step, error = mgr._error
            print(
                f"funcnet.io.CheckpointManager: saving checkpoint step {step} in "
                f"{mgr.directory} failed, and no later call raised it (call close() or "
                f"wait_until_finished() before exiting): {type(error).__name__}: {error}",
                file=sys.stderr,
            )


class StepAlreadyExistsError(ValueError):
    """Raised by `CheckpointManager.save(step, ..., force=True)` when `step` is saved already."""


def _funcnet_version() -> str:
    try:
        return importlib.metadata.version("funcnet")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


def _as_step(step, what="step") -> int:
    """`step` as a Python int, or a clear error: steps are non-negative integers."""
    if isinstance(step, bool) or not hasattr(type(step), "__index__"):
        raise TypeError(f"{what} must be a non-negative int, got {step!r} ({type(step).__name__})")
    step = operator.index(step)
    if step < 0:
        raise ValueError(f"{what} must be a non-negative int, got {step}")
    return step


def _metric_value(name, value):
    """A metric as a JSON number (scalars of any array library, Python numbers)."""
    array = np.asarray(value)
    if array.shape != () or array.dtype.kind not in "biuf":
        raise TypeError(
            f"metric {name!r} must be a real scalar, got {type(value).__name__} with "
            f"shape {array.shape} and dtype {array.dtype}"
        )
    return array.item()


class CheckpointManager:
    """Saves training state every few steps, keeps the latest (and the best) ones, restores.

    Modelled on `orbax.checkpoint.CheckpointManager`, with its names and save decisions. Each
    saved step is the directory `<directory>/<step>/` with the tree in one safetensors file
    (read it with `funcnet.io.load` or `safetensors` itself) and `checkpoint.json` (step,
    metrics, time, funcnet version).

    **Atomic.** A step is written into a temporary directory inside `directory`, its files
    fsynced, renamed to `<step>` in one `os.rename`, and the directory fsynced. A process
    killed at any moment of a save leaves the previous steps intact and never a partial step:
    leftovers are hidden `.funcnet-tmp-*` entries, deleted when the next manager starts. One
    manager (one process) writes to a directory at a time.

    **Asynchronous.** With `async_save=True`, `save` copies the tree to host memory before it
    returns (so the training loop may overwrite or donate its buffers at once) and writes the
    files in a background thread. At most one write is in flight: the next `save` first waits
    for the previous one. An error in a background write is raised by the next `save`,
    `restore`, `wait_until_finished` or `close` (a `RuntimeError` naming the step, from the
    original error); the failed step is not listed. `restore` waits for the write in flight.

    **Retention.** After a new step is committed, steps older than the latest `max_to_keep`
    are deleted, except the best step by `keep_best`. Steps saved without that metric are
    never the best: they are kept only while among the latest `max_to_keep`. Ties keep the
    earlier step as the best (a later step must improve on it); a NaN metric is never best.

    Args:
      directory: where the steps live; created if missing.
      max_to_keep: how many of the latest steps to keep (at least 1); None keeps all.
      save_interval_steps: `save` writes only steps that are a multiple of this (and the first
        step when the directory has none), as orbax; `force=True` overrides it.
      keep_best: None, or `(metric, mode)`: the step with the lowest (`"min"`) or highest
        (`"max"`) value of `metrics[metric]` is kept in addition to the latest `max_to_keep`.
      async_save: write in a background thread (True) or before `save` returns (False).

    Raises:
      ValueError: a bad `max_to_keep`, `save_interval_steps` or `keep_best`.
      TypeError: `max_to_keep` or `save_interval_steps` is not an int.
      NotADirectoryError: `directory` exists and is not a directory.

    Example:
      >>> import tempfile
      >>> import funcnet.numpy as fnp
      >>> from funcnet.io import CheckpointManager
      >>> with CheckpointManager(tempfile.mkdtemp(), max_to_keep=2) as mgr:
      ...     for step in range(4):
      ...         _ = mgr.save(step, {"w": fnp.full(3, float(step)), "data": {"epoch": step}})
      ...     print(mgr.all_steps())
      ...     state = mgr.restore(like={"w": fnp.zeros(3), "data": {"epoch": 0}})
      [2, 3]
      >>> state["w"].tolist(), state["data"]["epoch"]
      ([3.0, 3.0, 3.0], 3)
    """

    def __init__(
        self,
        directory,
        max_to_keep=None,
        save_interval_steps=1,
        keep_best=None,
        async_save=True,
    ):
        if max_to_keep is not None:
            if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int):
                raise TypeError(f"max_to_keep must be None or an int >= 1, got {max_to_keep!r}")
            if max_to_keep < 1:
                raise ValueError(f"max_to_keep must be None or an int >= 1, got {max_to_keep}")
        if isinstance(save_interval_steps, bool) or not isinstance(save_interval_steps, int):
            raise TypeError(f"save_interval_steps must be an int >= 1, got {save_interval_steps!r}")
        if save_interval_steps < 1:
            raise ValueError(f"save_interval_steps must be an int >= 1, got {save_interval_steps}")
        if keep_best is not None:
            if (
                not isinstance(keep_best, (tuple, list))
                or len(keep_best) != 2
                or not isinstance(keep_best[0], str)
            ):
                raise ValueError(
                    f"keep_best must be None or (metric_name, mode) with mode 'min' or 'max', "
                    f"got {keep_best!r}"
                )
            if keep_best[1] not in ("min", "max"):
                raise ValueError(
                    f"keep_best mode must be 'min' or 'max', got {keep_best[1]!r} "
                    f"(keep_best={tuple(keep_best)!r})"
                )
            keep_best = tuple(keep_best)
        self._directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        if os.path.exists(self._directory) and not os.path.isdir(self._directory):
            raise NotADirectoryError(f"checkpoint directory {self._directory} is not a directory")
        os.makedirs(self._directory, exist_ok=True)
        self._max_to_keep = max_to_keep
        self._save_interval_steps = save_interval_steps
        self._keep_best = keep_best
        self._async = bool(async_save)
        self._thread = None  # the background write in flight, if any
        self._error = None  # (step, exception) of a failed background write, not yet raised
        self._closed = False
        _fs.remove_leftovers(self._directory)
        self.reload()
        _live_managers.add(self)

    # -- what is saved --------------------------------------------------------------------

    @property
    def directory(self) -> str:
        """The absolute path of the directory holding the steps."""
        return self._directory

    def reload(self) -> None:
        """Re-reads the steps and their metrics from the directory.

        Needed only when another process changed the directory since this manager started.
        """
        self._steps = _fs.list_steps(self._directory)
        self._metrics = {}
        for step in self._steps:
            try:
                meta = _fs.read_json(
                    os.path.join(_fs.step_path(self._directory, step), _fs.METADATA_FILE)
                )
                self._metrics[step] = meta.get("metrics")
            except (OSError, ValueError):  # damaged metadata: the step just has no metrics
                self._metrics[step] = None

    def all_steps(self) -> list[int]:
        """The saved steps, ascending (a step being written in the background included).

        Returns:
          A list of ints.
        """
        return list(self._steps)

    def latest_step(self):
        """The highest saved step.

        Returns:
          An int, or None when no step is saved.
        """
        return self._steps[-1] if self._steps else None

    def best_step(self):
        """The best saved step by `keep_best`'s metric (the latest step without `keep_best`).

        Returns:
          An int, or None when no saved step has the metric.
        """
        if self._keep_best is None:
            return self.latest_step()
        name, mode = self._keep_best
        best, best_value = None, None
        for step in self._steps:  # ascending: a tie keeps the earlier step
            value = (self._metrics.get(step) or {}).get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if best is None or (value < best_value if mode == "min" else value > best_value):
                best, best_value = step, value
        return best

    def metrics(self, step):
        """The metrics saved with `step`.

        Args:
          step: a saved step.

        Returns:
          The dict of metrics given to `save`, or None if it had none.

        Raises:
          FileNotFoundError: `step` is not saved.
        """
        step = self._check_saved(_as_step(step))
        return self._metrics.get(step)

    def should_save(self, step) -> bool:
        """Whether `save(step, ...)` would write (orbax's rule).

        A step is written when it is later than the latest saved step and a multiple of
        `save_interval_steps`, or when no step is saved yet.

        Args:
          step: the training step.

        Returns:
          A bool.
        """
        step = _as_step(step)
        latest = self.latest_step()
        if latest is None:
            return True
        return step > latest and step % self._save_interval_steps == 0

    # -- saving ---------------------------------------------------------------------------

    def save(self, step, tree, metrics=None, force=False) -> bool:
        """Saves `tree` as `step`, if `should_save(step)` or `force`.

        The tree's arrays are copied to host memory before `save` returns; with `async_save`
        the files are written in the background (`wait_until_finished` waits for them).

        Args:
          step: the training step, a non-negative int.
          tree: a pytree of arrays (funcnet, NumPy) and Python scalars or strings, for
            example `{"params": params, "opt": opt_state, "data": {"epoch": 3, "index": 0}}`.
            Sharded arrays are gathered (they must be fully addressable: multi-process
            checkpointing is not supported) and stored whole.
          metrics: None or a dict of metric name to a real scalar, stored with the step (and
            ranked by `keep_best`).
          force: save even when `should_save(step)` is False (a step saved already still
            raises).

        Returns:
          True if a save was started, False if the step was skipped.

        Raises:
          StepAlreadyExistsError: `force=True` and `step` is saved already (without `force`
            such a step is skipped, as in orbax).
          TypeError: a non-int step, a tracer or an unstorable leaf in `tree` (save outside
            `jit`), or a metric that is not a real scalar.
          ValueError: a negative step, `metrics` lacking the `keep_best` metric, or a
            sharded array spanning devices of other processes.
          RuntimeError: the previous background save failed (its error is the cause).
        """
        self._check_open()
        step = _as_step(step)
        if metrics is not None and not isinstance(metrics, dict):
            raise TypeError(f"metrics must be None or a dict, got {type(metrics).__name__}")
        if not force and not self.should_save(step):
            return False
        self.wait_until_finished()
        if step in self._steps:
            raise StepAlreadyExistsError(
                f"checkpoint step {step} exists already in {self._directory}; steps are never "
                f"overwritten (delete its directory to save it again)"
            )
        if os.path.lexists(_fs.step_path(self._directory, step)):
            raise StepAlreadyExistsError(
                f"cannot save step {step}: {_fs.step_path(self._directory, step)} exists and is "
                f"not a checkpoint of this manager (no {_fs.METADATA_FILE}); move it away"
            )
        if metrics is not None:
            metrics = {str(k): _metric_value(k, v) for k, v in metrics.items()}
            if self._keep_best is not None and self._keep_best[0] not in metrics:
                raise ValueError(
                    f"metrics has no {self._keep_best[0]!r} (the keep_best metric) for step "
                    f"{step}; got {sorted(metrics)}"
                )
        host_tree = to_host(tree)  # synchronous: the caller may reuse its buffers on return
        meta = {
            "format": FORMAT,
            "step": step,
            "metrics": metrics,
            "time": time.time(),
            "funcnet_version": _funcnet_version(),
        }
        # The step is listed from now on (as orbax); a failed write unlists it again.
        self._steps = sorted([*self._steps, step])
        self._metrics[step] = metrics
        doomed = self._steps_to_remove()
        self._steps = [s for s in self._steps if s not in doomed]
        for s in doomed:
            self._metrics.pop(s, None)

        def job():
            self._write_step(step, host_tree, meta, doomed)

        if not self._async:
            try:
                job()
            except BaseException:
                self.reload()
                raise
            return True

        def background():
            try:
                job()
            except BaseException as e:  # kept for the caller's next call: never lost
                self._error = (step, e)

        self._thread = threading.Thread(
            target=background, name=f"funcnet-checkpoint-save-{step}", daemon=False
        )
        self._thread.start()
        return True

    def _steps_to_remove(self):
        """The listed steps that retention drops: not among the latest, not the best."""
        if self._max_to_keep is None:
            return []
        keep = set(self._steps[-self._max_to_keep :])
        if self._keep_best is not None:
            keep.add(self.best_step())
        return [s for s in self._steps if s not in keep]

    def _write_step(self, step, host_tree, meta, doomed):
        temporary = _fs.new_temporary_dir(self._directory, step)
        try:
            write(os.path.join(temporary, STATE_FILE), host_tree)
            _fs.write_json(os.path.join(temporary, _fs.METADATA_FILE), meta)
            _fs.commit(temporary, _fs.step_path(self._directory, step))
        except BaseException:
            if os.path.lexists(temporary):  # the next manager would, but do not wait for it
                _fs.delete_tree(temporary)
            raise
        # Old steps go only once the new one is safely on disk.
        for old in doomed:
            _fs.remove_step(self._directory, old)

    def wait_until_finished(self) -> None:
        """Blocks until the background save (if any) has finished.

        Raises:
          RuntimeError: the background save failed; the original error is its cause.
        """
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            step, error = self._error
            self._error = None
            self.reload()  # the failed step is not listed; undeleted old steps are again
            raise RuntimeError(
                f"saving checkpoint step {step} in {self._directory} failed: "
                f"{type(error).__name__}: {error}"
            ) from error

    def close(self) -> None:
        """Waits for the background save and closes the manager (`save` then raises).

        Raises:
          RuntimeError: the background save failed; the original error is its cause.
        """
        if not self._closed:
            self._closed = True
            self.wait_until_finished()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except Exception as failed_save:  # the block's own error stays the one raised
            exc.add_note(f"(and on leaving the `with` block: {failed_save})")

    def _check_open(self):
        if self._closed:
            raise ValueError(f"this CheckpointManager ({self._directory}) is closed")

    # -- restoring ------------------------------------------------------------------------

    def _check_saved(self, step):
        if step not in self._steps:
            saved = self._steps if self._steps else "none"
            raise FileNotFoundError(
                f"checkpoint step {step} not found in {self._directory}; saved steps: {saved}"
            )
        return step

    def restore(self, step=None, like=None):
        """Loads a saved step (the latest by default).

        Args:
          step: the step to load; None loads `latest_step()`.
          like: a pytree with the structure, shapes and dtypes to load into (arrays or
            `ShapeDtypeStruct`s): checks the file against it, and gives back its containers.
            Needed for containers other than dicts, lists and Python scalars, such as the
            NamedTuple states of `funcnet.optim`. Each array is placed as its `like` leaf
            is (see `funcnet.io.load`): laid out by a sharded Array's sharding or a
            `ShapeDtypeStruct`'s `sharding=`, so a state saved from 8 devices restores onto
            a mesh of any size.

        Returns:
          The saved tree, with funcnet Arrays placed as the `like` leaves say (else on the
          default device) and Python scalars as they were saved.

        Raises:
          FileNotFoundError: no step is saved, or `step` is not saved (the error lists the
            saved steps).
          ValueError: the file does not match `like` (naming the path in the tree, expected
            and got, and the step's file).
          RuntimeError: the background save failed; the original error is its cause.
        """
        self.wait_until_finished()
        if step is None:
            step = self.latest_step()
            if step is None:
                raise FileNotFoundError(f"no checkpoint saved in {self._directory}")
        step = self._check_saved(_as_step(step))
        path = os.path.join(_fs.step_path(self._directory, step), STATE_FILE)
        try:
            return load(path, like=like)
        except Exception as e:
            if path not in str(e):
                e.add_note(f"while restoring checkpoint step {step} from {path}")
            raise
