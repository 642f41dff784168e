"""The callback protocol of `fit`, and the callbacks funcnet ships.

A callback is any object with some of these methods (`Callback` has them all, doing
nothing; subclassing it is optional). Each receives the fit's `Context`:

- `on_fit_start(ctx)`, `on_fit_end(ctx)`: once. `on_fit_end` runs even when fit raises
  (then `ctx.error` is the exception), so a callback can close what it opened.
- `on_epoch_start(ctx)`, `on_epoch_end(ctx)`: around each epoch; at the end, `ctx.logs`
  is the epoch's row of the `History` (training means and `val_` metrics).
- `on_step_end(ctx)`: after every step, with `ctx.metrics` the step's metrics as device
  scalars. Reading them waits for the step; the shipped callbacks never do.
- `on_log(ctx)`: every `log_every` steps, once the metrics were pulled to the host:
  `ctx.logs` holds their means over the steps since the previous pull, as floats.
- `on_eval_end(ctx)`: after each evaluation, `ctx.logs` holding the `val_` metrics.
- `add_logs(ctx) -> dict`: extra entries for the logs, asked before the `on_log`,
  `on_eval_end` and `on_epoch_end` hooks run (so every callback sees them whatever the
  order of the list); `ctx.event` says which ("log", "eval", "epoch").
- `state_dict() -> JSON-able data` and `load_state_dict(data)`: a callback's own state
  (early stopping's best value and patience count), saved in checkpoints and given back
  after `on_fit_start` when `fit` resumes a run.

To stop training, call `ctx.stop("why")` or raise `StopTraining("why")` in a hook: the
current step finishes, the epoch's row is recorded, `on_fit_end` runs and `fit` returns
normally, with the reason in `history.stop_reason`.
"""

import csv
import json
import math
import os
import time

from funcnet import tree as tree_lib
from funcnet.train import _checkpointing
from funcnet.train.history import VAL_PREFIX
from funcnet.transforms.jit import jit

__all__ = [
    "Callback",
    "Context",
    "StopTraining",
    "checkpoint",
    "csv_logger",
    "early_stopping",
    "jsonl_logger",
    "lr_logger",
    "progress",
]

HOOKS = (
    "on_fit_start",
    "on_epoch_start",
    "on_step_end",
    "on_log",
    "on_eval_end",
    "on_epoch_end",
    "on_fit_end",
)


class StopTraining(Exception):
    """Raised by a callback hook to end `fit` cleanly; the message is the reason.

    Example:
      >>> from funcnet import train
      >>> class StopAt(train.Callback):
      ...     def on_step_end(self, ctx):
      ...         if ctx.step >= 3:
      ...             raise train.StopTraining("enough")
    """


class Context:
    """What a callback sees of the running `fit` (one object for the whole fit).

    Attributes:
      state: the current `TrainState`. A callback may assign a new one: `fit` continues
        from it and returns it.
      step: `state.step`, as a Python int (counted on the host, no device sync).
      epoch: the current epoch, from 0.
      batch: the batches done in the current epoch.
      steps_per_epoch: `len(loader)`, or None when the loader has no length.
      total_steps: the step `fit` stops at, when known (None otherwise).
      epochs: `fit`'s `epochs` argument.
      batch_size: the last batch's size (its leading axis).
      examples: the examples seen by this `fit` call.
      metrics: the last step's metrics, a dict of device scalars.
      logs: the latest host metrics (floats); see the hooks for what each holds.
      history: the `History` being filled.
      loader: the training loader.
      event: the hook being called ("on_log", ...), or for `add_logs` the event ("log",
        "eval", "epoch").
      resumed: True when `fit` continued a checkpointed run.
      error: in `on_fit_end`, the exception `fit` is raising, or None.
      stop_reason: the reason given to `stop`, or None.
    """

    def __init__(self, fit_run=None, **fields):
        self._run = fit_run
        self.state = None
        self.step = 0
        self.epoch = 0
        self.batch = 0
        self.steps_per_epoch = None
        self.total_steps = None
        self.epochs = None
        self.batch_size = None
        self.examples = 0
        self.metrics = {}
        self.logs = {}
        self.history = None
        self.loader = None
        self.event = None
        self.resumed = False
        self.error = None
        self.stop_reason = None
        for name, value in fields.items():
            setattr(self, name, value)

    def stop(self, reason="stopped by a callback"):
        """Asks `fit` to stop after the current step (or evaluation).

        Args:
          reason: why, a str (kept in `history.stop_reason`).

        Returns:
          None.
        """
        if self.stop_reason is None:
            self.stop_reason = str(reason)

    @property
    def stop_requested(self) -> bool:
        """Whether a callback asked to stop."""
        return self.stop_reason is not None

    def flush(self):
        """Pulls the metrics of the steps since the last log now (one device-to-host
        copy), running the `on_log` hooks; a checkpoint does this to store them.

        Returns:
          The latest training logs (a dict of floats; empty before the first step).
        """
        if self._run is None:
            return dict(self.logs)
        return self._run.flush()

    def position(self):
        """Where the run is, as JSON-able data: what a checkpoint stores so that a resumed
        `fit` continues exactly here (flushes the metrics first).

        Returns:
          A dict.
        """
        return {} if self._run is None else self._run.position()


class Callback:
    """A callback that does nothing: subclass it and override the hooks you need (or
    write any class with some of the same methods; see the module's docstring).

    Example:
      >>> from funcnet import train
      >>> class PrintEpochs(train.Callback):
      ...     def on_epoch_end(self, ctx):
      ...         print(f"epoch {ctx.epoch}: loss {ctx.logs['loss']:.3f}")
    """

    def on_fit_start(self, ctx):
        """Called once, before the first step."""

    def on_epoch_start(self, ctx):
        """Called before each epoch's first step."""

    def on_step_end(self, ctx):
        """Called after every step."""

    def on_log(self, ctx):
        """Called every `log_every` steps, with the pulled metrics in `ctx.logs`."""

    def on_eval_end(self, ctx):
        """Called after each evaluation, with the `val_` metrics in `ctx.logs`."""

    def on_epoch_end(self, ctx):
        """Called after each epoch, with its `History` row in `ctx.logs`."""

    def on_fit_end(self, ctx):
        """Called once at the end, also when `fit` raises (`ctx.error`)."""


# --- progress bar -------------------------------------------------------------------------


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class _Progress(Callback):
    def __init__(self, **tqdm_kwargs):
        self._kwargs = tqdm_kwargs
        self._bar = None

    def on_fit_start(self, ctx):
        from tqdm.auto import tqdm  # a dependency; imported only when a bar is shown

        total = ctx.total_steps
        kwargs = {"unit": "step", "dynamic_ncols": True, **self._kwargs}
        self._bar = tqdm(total=total, initial=ctx.step if total is not None else 0, **kwargs)
        self._since = (time.perf_counter(), ctx.examples)
        self._postfix = {}

    def on_epoch_start(self, ctx):
        if ctx.epochs is not None:
            self._bar.set_description(f"epoch {ctx.epoch + 1}/{ctx.epochs}")

    def on_step_end(self, ctx):
        self._bar.update(1)  # host only: tqdm redraws at most every mininterval

    def on_log(self, ctx):
        now, examples = time.perf_counter(), ctx.examples
        then, before = self._since
        self._since = (now, examples)
        self._postfix.update({k: _fmt(v) for k, v in ctx.logs.items()})
        if now > then:
            self._postfix["ex/s"] = f"{(examples - before) / (now - then):.4g}"
        self._bar.set_postfix(self._postfix, refresh=False)

    def on_eval_end(self, ctx):
        self._postfix.update({k: _fmt(v) for k, v in ctx.logs.items()})
        self._bar.set_postfix(self._postfix, refresh=False)

    def on_fit_end(self, ctx):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress(**tqdm_kwargs):
    """A tqdm progress bar over the steps, showing the logged metrics and the throughput
    (examples per second between two logs) and, after an evaluation, the `val_` metrics.

    The bar advances every step without reading any device value; its numbers change
    when the metrics are pulled (every `log_every` steps).

    Args:
      **tqdm_kwargs: passed to `tqdm.auto.tqdm` (`leave=False`, `file=sys.stdout`,
        `disable=True`, `mininterval=1.0`, ...).

    Returns:
      The callback.
    """
    return _Progress(**tqdm_kwargs)


# --- checkpoints --------------------------------------------------------------------------


class _Checkpoint(Callback):
    def __init__(self, manager, every, save_on_end):
        if every != "epoch" and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise ValueError(f"checkpoint: every must be a positive int or 'epoch', got {every!r}")
        self.manager = manager
        self.every = every
        self.save_on_end = save_on_end
        self._val = {}

    def _save(self, ctx):
        if ctx.step in self.manager.all_steps():
            return
        logs = ctx.flush()
        metrics = {k: v for k, v in {**logs, **self._val}.items() if math.isfinite(v)}
        _checkpointing.save(
            self.manager, ctx.state, loader=ctx.loader, metrics=metrics, position=ctx.position()
        )

    def on_eval_end(self, ctx):
        self._val = dict(ctx.logs)

    def on_step_end(self, ctx):
        if self.every != "epoch" and ctx.step % self.every == 0:
            self._save(ctx)

    def on_epoch_end(self, ctx):
        if self.every == "epoch":
            self._save(ctx)

    def on_fit_end(self, ctx):
        if ctx.error is None and self.save_on_end and ctx.step > 0:
            self._save(ctx)
        if ctx.error is None:
            self.manager.wait_until_finished()


def checkpoint(manager, every=100, *, save_on_end=True):
    """Saves the run with a `funcnet.io.CheckpointManager` every `every` steps (or at the
    end of every epoch), so that `fit(..., resume=manager)` continues it exactly.

    Each checkpoint step is `state.step` and holds the `TrainState`, the loader's state
    (`loader.get_state()`, when the loader has one) and the fit's position (epoch, batch,
    the epoch's running sums, the history so far), with the latest logged metrics (and
    the latest `val_` metrics) as the step's metrics. Saving copies the state to the host
    (the write itself runs in the manager's background thread when it is asynchronous).

    Args:
      manager: the `CheckpointManager` (its `max_to_keep`, `keep_best` apply).
      every: a number of steps, or "epoch".
      save_on_end: also save the last step when `fit` ends normally.

    Returns:
      The callback.

    Raises:
      ValueError: a bad `every`.
    """
    return _Checkpoint(manager, every, save_on_end)


# --- early stopping -----------------------------------------------------------------------

# A copy of the state in new buffers: the training step donates (frees) the state's own.
_copy_tree = jit(lambda tree: tree_lib.tree_map(lambda x: x, tree))


class _EarlyStopping(Callback):
    def __init__(self, monitor, patience, mode, min_delta, restore_best):
        if mode not in ("min", "max"):
            raise ValueError(f"early_stopping: mode must be 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(
                f"early_stopping: patience must be a non-negative int, got {patience!r}"
            )
        self.monitor, self.patience, self.mode = monitor, patience, mode
        self.min_delta, self.restore_best = abs(float(min_delta)), restore_best
        self.on_val = monitor.startswith(VAL_PREFIX)

    def on_fit_start(self, ctx):
        self.best = None
        self.best_step = None
        self.best_state = None
        self.wait = 0

    def _improved(self, value):
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _check(self, ctx, what):
        if self.monitor not in ctx.logs:
            raise ValueError(
                f"early_stopping: no metric {self.monitor!r} after the {what}; it has "
                f"{sorted(ctx.logs)}"
                + (" (val_ metrics need fit(eval=...))" if self.on_val else "")
            )
        value = float(ctx.logs[self.monitor])
        if self._improved(value):
            self.best, self.best_step, self.wait = value, ctx.step, 0
            if self.restore_best:
                self.best_state = _copy_tree(ctx.state)
            return
        self.wait += 1
        if self.wait > self.patience:
            ctx.stop(
                f"early stopping: {self.monitor} did not improve for {self.wait} "
                f"{what}s (best {self.best:.6g} at step {self.best_step})"
            )

    def state_dict(self):
        return {"best": self.best, "best_step": self.best_step, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.best_step, self.wait = state["best"], state["best_step"], state["wait"]

    def on_eval_end(self, ctx):
        if self.on_val:
            self._check(ctx, "evaluation")

    def on_epoch_end(self, ctx):
        if not self.on_val:
            self._check(ctx, "epoch")

    def on_fit_end(self, ctx):
        best_state = getattr(self, "best_state", None)
        if self.restore_best and best_state is not None and ctx.error is None:
            ctx.state = best_state
            self.best_state = None  # (do not hold a copy of the model after the fit)


def early_stopping(monitor="val_loss", patience=3, mode="min", min_delta=0.0, restore_best=False):
    """Stops `fit` when a metric has not improved for `patience` checks in a row.

    A `val_` metric is checked after every evaluation, any other after every epoch (its
    epoch mean). An improvement is a change beyond `min_delta` in the direction of
    `mode`; NaN never improves.

    Args:
      monitor: the metric's name ("val_loss", "val_accuracy", "loss").
      patience: how many checks without improvement are tolerated (3: the 4th stops).
      mode: "min" or "max".
      min_delta: the smallest change that counts as an improvement.
      restore_best: make `fit` return the state of the best check (kept as a device copy
        of the state each time the metric improves). The best value and the count
        without improvement are checkpointed; the best state is not (after a resume, the
        next improvement keeps one).

    Returns:
      The callback.

    Raises:
      ValueError: a bad `mode` or `patience`; during fit, a `monitor` that is not logged
        (the error lists the metrics that are).
    """
    return _EarlyStopping(monitor, patience, mode, min_delta, restore_best)


# --- learning rate ------------------------------------------------------------------------


class _LrLogger(Callback):
    def __init__(self, schedule, name):
        self.schedule, self.name = schedule, name

    def add_logs(self, ctx):
        if ctx.event == "eval":
            return {}
        value = self.schedule(ctx.step) if callable(self.schedule) else self.schedule
        return {self.name: float(value)}


def lr_logger(schedule, name="lr"):
    """Adds the learning rate to the logs (every log and every epoch's row): the value
    `schedule(state.step)`, the rate of the next update (optimizers count updates from
    0, as `schedule` does).

    Evaluated on the host only when the logs are made, not every step.

    Args:
      schedule: the schedule given to the optimizer (a function of the step), or a
        constant learning rate.
      name: the log entry's name.

    Returns:
      The callback.
    """
    return _LrLogger(schedule, name)


# --- files --------------------------------------------------------------------------------


def _resumed_file(ctx, path):
    """Append to an existing log when fit continues a checkpointed run, else start anew."""
    return ctx.resumed and os.path.exists(path)


class _CsvLogger(Callback):
    def __init__(self, path, per):
        if per not in ("epoch", "log"):
            raise ValueError(f"csv_logger: per must be 'epoch' or 'log', got {per!r}")
        self.path, self.per = os.fspath(path), per

    def on_fit_start(self, ctx):
        self.rows, self.columns = [], ["epoch", "step"]
        if _resumed_file(ctx, self.path):
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or self.columns)
                self.rows = list(reader)
        self._rewrite()

    def _rewrite(self):
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)

    def _write(self, ctx):
        row = {"epoch": ctx.epoch, "step": ctx.step, **ctx.logs}
        self.rows.append(row)
        new = [k for k in row if k not in self.columns]
        if new:  # a metric seen for the first time: rewrite with the wider header
            self.columns.extend(new)
            self._rewrite()
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow(row)

    def on_log(self, ctx):
        if self.per == "log":
            self._write(ctx)

    def on_epoch_end(self, ctx):
        if self.per == "epoch":
            self._write(ctx)


def csv_logger(path, per="epoch"):
    """Writes the metrics to a CSV file: a row per epoch (its `History` row) or per log.

    The columns are `epoch`, `step`, then the metrics as they first appear (a metric
    that appears later, such as the first `val_` one, widens the header: the file is
    rewritten). When `fit` resumes a checkpointed run the rows already written are kept;
    otherwise the file is started anew.

    Args:
      path: the file.
      per: "epoch" (the default) or "log" (every `log_every` steps).

    Returns:
      The callback.

    Raises:
      ValueError: a bad `per`.
    """
    return _CsvLogger(path, per)


class _JsonlLogger(Callback):
    def __init__(self, path):
        self.path = os.fspath(path)
        self._file = None

    def on_fit_start(self, ctx):
        # Open for the whole fit (closed in on_fit_end, which runs even when fit raises).
        self._file = open(self.path, "a" if _resumed_file(ctx, self.path) else "w")  # noqa: SIM115

    def _write(self, event, ctx):
        record = {"event": event, "epoch": ctx.epoch, "step": ctx.step, **ctx.logs}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def on_log(self, ctx):
        self._write("log", ctx)

    def on_eval_end(self, ctx):
        self._write("eval", ctx)

    def on_epoch_end(self, ctx):
        self._write("epoch", ctx)

    def on_fit_end(self, ctx):
        if getattr(self, "_file", None) is not None:  # (None if fit failed before the start)
            self._file.close()
            self._file = None


def jsonl_logger(path):
    """Writes every log, evaluation and epoch to a JSON Lines file, one object a line:
    `{"event": "log" | "eval" | "epoch", "epoch": e, "step": s, <metrics>...}`.

    Lines are flushed as they are written. When `fit` resumes a checkpointed run the file
    is appended to; otherwise it is started anew. (Non-finite values are written as
    JSON's `NaN`/`Infinity` extensions, which Python's `json` reads back.)

    Args:
      path: the file.

    Returns:
      The callback.
    """
    return _JsonlLogger(path)
