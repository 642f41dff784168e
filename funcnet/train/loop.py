"""`fit`: the training loop, built from the pieces a custom loop uses too."""

import contextlib
import itertools

import numpy as np

from funcnet import tree as tree_lib
from funcnet.train import _checkpointing
from funcnet.train._metrics import MetricSums
from funcnet.train.callbacks import Context, StopTraining
from funcnet.train.history import VAL_PREFIX, History
from funcnet.train.step import make_eval_step

__all__ = ["fit"]


def batch_size(batch) -> int:
    """The size of a batch's leading axis (its first array leaf's), 1 if it has none."""
    for leaf in tree_lib.tree_leaves(batch):
        shape = getattr(leaf, "shape", None)
        if shape is None:
            shape = np.shape(leaf)
        if len(shape):
            return int(shape[0])
    return 1


def _length(loader):
    try:
        return len(loader)
    except TypeError:  # an iterable without a length
        return None


def _check_count(value, name):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"fit: {name} must be a non-negative int or None, got {value!r}")


def _callback_key(index, callback):
    return f"{index}:{type(callback).__name__}"


class _FitRun:
    """The state of one `fit` call; `Context` reads it through `flush` and `position`."""

    def __init__(self, loader, eval_pair, log_every, eval_every, callbacks, check):
        self.log_every = log_every
        self.eval_every = eval_every
        self.callbacks = list(callbacks)
        self.check_finite = check
        self.window = MetricSums()
        self.window_start = 0  # the step before the window's first step
        self.epoch_sums, self.epoch_weight = {}, 0.0  # host sums of the epoch's windows
        self.last_val = {}  # the latest evaluation's metrics, for the epoch's row
        self.last_val_epoch = None
        self.next_epoch = False  # set once an epoch's end was recorded
        self.partial_row = None  # the row of an epoch cut short, if any
        self.eval_fn = self.eval_loader = None
        if eval_pair is not None:
            if not (isinstance(eval_pair, (tuple, list)) and len(eval_pair) == 2):
                raise TypeError(
                    "fit: eval must be a pair (metric_fn, eval_loader), got "
                    f"{type(eval_pair).__name__}"
                )
            fn, self.eval_loader = eval_pair
            self.eval_fn = fn if getattr(fn, "is_eval_step", False) else make_eval_step(fn)
        self.ctx = Context(self, loader=loader, steps_per_epoch=_length(loader))

    # -- callbacks --

    def add_logs(self, event):
        """Merges the entries callbacks add (`add_logs`) into ctx.logs."""
        ctx = self.ctx
        ctx.event = event
        for cb in self.callbacks:
            add = getattr(cb, "add_logs", None)
            if add is not None:
                ctx.logs.update(add(ctx) or {})

    def call(self, hook):
        ctx = self.ctx
        ctx.event = hook
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is None:
                continue
            try:
                method(ctx)
            except StopTraining as stop:
                ctx.stop(str(stop) or f"StopTraining raised by {type(cb).__name__}.{hook}")

    # -- metrics --

    def flush(self):
        """Pulls the window's metrics, checks them, runs on_log; returns the logs."""
        pulled = self.window.pull()
        if pulled is None:
            return dict(self.ctx.logs)
        if self.check_finite and pulled.bad is not None:
            position, name, value = pulled.bad
            step = self.window_start + position + 1
            error = FloatingPointError(
                f"fit: the metric {name!r} was {value} at step {step} (the update that took "
                f"state.step from {step - 1} to {step}); training stopped. Metrics are "
                f"checked when pulled (every log_every={self.log_every} steps); pass "
                "check_finite=False to keep going"
            )
            error.step, error.metric, error.value = step, name, value
            raise error
        self.window_start = self.ctx.step
        for name, s in pulled.sums.items():
            self.epoch_sums[name] = self.epoch_sums.get(name, 0.0) + s
        self.epoch_weight += pulled.weight
        self.ctx.logs = pulled.means()
        self.add_logs("log")
        self.call("on_log")
        return dict(self.ctx.logs)

    def epoch_means(self):
        if self.epoch_weight <= 0:
            return {}
        return {name: s / self.epoch_weight for name, s in self.epoch_sums.items()}

    def position(self):
        self.flush()
        ctx = self.ctx
        history = ctx.history.to_dict()
        # A partial epoch's row is recorded again, whole, when the resumed run ends it.
        history["rows"] = [r for r in history["rows"] if r is not self.partial_row]
        epoch, batch = (ctx.epoch + 1, 0) if self.next_epoch else (ctx.epoch, ctx.batch)
        return {
            "epoch": epoch,
            "batch": batch,
            "run_start_step": self.run_start_step,
            "epoch_sums": self.epoch_sums,
            "epoch_weight": self.epoch_weight,
            "history": history,
            "callbacks": {
                _callback_key(i, cb): cb.state_dict()
                for i, cb in enumerate(self.callbacks)
                if callable(getattr(cb, "state_dict", None))
            },
        }

    def load_callback_states(self, states):
        for i, cb in enumerate(self.callbacks):
            load = getattr(cb, "load_state_dict", None)
            key = _callback_key(i, cb)
            if callable(load) and key in states:
                load(states[key])

    # -- evaluation --

    def evaluate(self):
        ctx = self.ctx
        sums = MetricSums()
        for batch in self.eval_loader:
            sums.add(self.eval_fn(ctx.state, batch), batch_size(batch))
        pulled = sums.pull()
        if pulled is None:
            raise ValueError("fit: the evaluation loader yielded no batches")
        ctx.logs = {VAL_PREFIX + k: v for k, v in pulled.means().items()}
        self.add_logs("eval")
        self.call("on_eval_end")
        self.last_val, self.last_val_epoch = dict(ctx.logs), ctx.epoch
        ctx.history.evals.append({"epoch": ctx.epoch, "step": ctx.step, **self.last_val})

    # -- the epoch's row --

    def end_epoch(self, complete):
        """Records the epoch's row; with `complete`, evaluates (per epoch) and runs the
        on_epoch_end hooks."""
        ctx = self.ctx
        self.flush()
        if complete and self.eval_fn is not None and self.eval_every == "epoch":
            self.evaluate()
        row = {"epoch": ctx.epoch, "step": ctx.step, **self.epoch_means()}
        if self.last_val_epoch == ctx.epoch:
            row.update(self.last_val)
        if len(row) == 2:  # nothing ran in this epoch
            return
        ctx.logs = {k: v for k, v in row.items() if k not in ("epoch", "step")}
        if not complete:
            self.partial_row = row
            ctx.history.rows.append(row)
            return
        # The position moves to the next epoch before the hooks run: a checkpoint saved in
        # on_epoch_end resumes at the next epoch's start, with this row in its history.
        self.epoch_sums, self.epoch_weight = {}, 0.0
        self.next_epoch = True
        self.add_logs("epoch")
        row.update(ctx.logs)
        ctx.history.rows.append(row)
        self.call("on_epoch_end")


def fit(
    state,
    step,
    loader,
    *,
    epochs=None,
    steps=None,
    eval=None,
    eval_every="epoch",
    log_every=50,
    callbacks=(),
    resume=None,
    check_finite=True,
):
    """Trains: runs `step` over the loader's batches for some epochs or steps, evaluating,
    logging and calling callbacks along the way.

    **Loop.** One `iter(loader)` is one epoch; `state, metrics = step(state, batch)` for
    each batch (`step` from `make_step`, or any function of that signature). The state is
    donated to the step: use the state `fit` returns, not the one passed in.

    **Metrics without host synchronisation.** Each step's metrics stay on the device,
    added (weighted by batch size) into one small device vector; every `log_every` steps
    (and at each epoch's end) that vector is copied to the host at once: the `on_log`
    hooks then see the means since the previous pull. So the host never waits for a step
    it does not need to, and dispatches the next step while the device runs. The epoch's
    row in the `History` holds the epoch means.

    **Non-finite metrics.** When a pulled window holds a NaN or infinite training metric,
    fit raises `FloatingPointError` naming the metric and the exact step that produced it
    (tracked on the device), with `.step`, `.metric`, `.value` and `.history` attributes
    (`check_finite=False` turns this off).

    **Evaluation.** `eval=(metric_fn, eval_loader)`: `metric_fn(params, batch)` returns a
    dict of scalar metrics (see `make_eval_step`; a step made by `make_eval_step` is used
    as it is). They are averaged over the whole eval loader, weighted by batch size, and
    reported prefixed `val_`: after every epoch (`eval_every="epoch"`) or every N steps.

    **Resuming.** With `resume=manager` (a `CheckpointManager` the `checkpoint` callback
    saves to), a run that has a checkpoint continues from its latest step: the state, the
    loader's state (`set_state`, when the loader has it; a loader without it is re-iterated
    and the epoch's first batches skipped), the epoch, the epoch's running sums and the
    history. `epochs` and `steps` count from the run's start, so the same `fit` call
    restarted after a crash finishes the same run, with bit-identical parameters. Without
    a checkpoint, fit starts from `state`.

    Args:
      state: the `TrainState` to start from (also the template for `resume`).
      step: the step function, `step(state, batch) -> (state, metrics)`.
      loader: an iterable of batches, re-iterated every epoch (a `funcnet.data.Loader`, a
        list of dicts, ...).
      epochs: the number of epochs of the run (None: until `steps`).
      steps: the number of steps of the run (None: until `epochs`); at least one of the
        two must be given, and fit stops at whichever comes first.
      eval: None, or `(metric_fn, eval_loader)`.
      eval_every: "epoch", or a number of steps.
      log_every: pull the metrics every this many steps (and at each epoch's end).
      callbacks: a list of callbacks (see `funcnet.train.Callback`).
      resume: None, or a `CheckpointManager` to continue the run from.
      check_finite: raise on non-finite training metrics (above).

    Returns:
      `(state, history)`: the final `TrainState` and the `History`.

    Raises:
      ValueError: neither `epochs` nor `steps`, a bad `log_every` or `eval_every`, or a
        loader that yields no batches in an epoch.
      FloatingPointError: a non-finite training metric (above).

    Example:
      >>> from funcnet import train
      >>> batches = [{"x": fnp.full((4, 1), float(i)), "y": fnp.full((4,), 2.0 * i)}
      ...            for i in range(1, 4)]
      >>> loss = lambda p, b: fnp.mean((b["x"][:, 0] * p["w"] - b["y"]) ** 2)
      >>> state = train.TrainState.create(params={"w": fnp.zeros(())}, tx=optim.sgd(0.05))
      >>> state, history = train.fit(state, train.make_step(loss), batches, epochs=5,
      ...                            eval=(lambda p, b: {"loss": loss(p, b)}, batches))
      >>> round(float(state.params["w"]), 3), len(history["loss"]), int(state.step)
      (2.0, 5, 15)
      >>> history["val_loss"][-1] < history["val_loss"][0]
      True
    """
    if epochs is None and steps is None:
        raise ValueError("fit: give epochs=, steps= or both (where to stop)")
    _check_count(epochs, "epochs")
    _check_count(steps, "steps")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"fit: log_every must be a positive int, got {log_every!r}")
    if eval_every != "epoch" and (
        isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1
    ):
        raise ValueError(f"fit: eval_every must be 'epoch' or a positive int, got {eval_every!r}")
    run = _FitRun(loader, eval, log_every, eval_every, callbacks, check_finite)
    ctx = run.ctx
    ctx.epochs = epochs

    position = None
    if resume is not None and resume.latest_step() is not None:
        state, position = _checkpointing.restore_all(resume, state, loader)
        ctx.resumed = True
    ctx.state = state
    ctx.step = int(state.step)  # the one read of a device value before training
    run.window_start = ctx.step
    skip = 0
    if position:
        ctx.epoch, ctx.batch = position["epoch"], position["batch"]
        run.run_start_step = position["run_start_step"]
        run.epoch_sums = dict(position["epoch_sums"])
        run.epoch_weight = position["epoch_weight"]
        ctx.history = History.from_dict(position["history"])
        if not _checkpointing.loader_state(loader):
            skip = ctx.batch  # a stateless loader: replay the epoch up to the position
    else:
        run.run_start_step = ctx.step
        ctx.history = History()
    target = None if steps is None else run.run_start_step + steps
    if target is not None:
        ctx.total_steps = target
    elif epochs is not None and ctx.steps_per_epoch is not None:
        ctx.total_steps = run.run_start_step + epochs * ctx.steps_per_epoch

    def done():
        return ctx.stop_requested or (target is not None and ctx.step >= target)

    try:
        run.call("on_fit_start")
        if position:
            run.load_callback_states(position.get("callbacks", {}))
        while not done() and (epochs is None or ctx.epoch < epochs):
            mid_epoch = ctx.batch > 0
            if not mid_epoch:
                run.call("on_epoch_start")
            epoch_over = (
                mid_epoch and ctx.steps_per_epoch is not None and ctx.batch >= ctx.steps_per_epoch
            )
            ran = 0
            if not epoch_over:  # (a checkpoint at an epoch's last step resumes here)
                batches = iter(loader)
                if skip:
                    batches = itertools.islice(batches, skip, None)
                    skip = 0
                for batch in batches:
                    size = batch_size(batch)
                    state, metrics = step(state, batch)
                    ran += 1
                    ctx.state, ctx.metrics, ctx.batch_size = state, metrics, size
                    ctx.step += 1
                    ctx.batch += 1
                    ctx.examples += size
                    run.window.add(metrics, size)
                    if ctx.step % log_every == 0:
                        run.flush()
                    run.call("on_step_end")
                    periodic_eval = run.eval_fn is not None and eval_every != "epoch"
                    if periodic_eval and ctx.step % eval_every == 0:
                        run.evaluate()
                    state = ctx.state  # a callback may have replaced it
                    if done():
                        break
                else:
                    epoch_over = True
                if ran == 0 and not mid_epoch:
                    raise ValueError(
                        f"fit: the loader yielded no batches in epoch {ctx.epoch} (an empty "
                        "loader, or an iterator that was used up: give an iterable that "
                        "can be iterated again, such as a list or a funcnet.data.Loader)"
                    )
            if not epoch_over and ctx.steps_per_epoch is not None:
                epoch_over = ctx.batch >= ctx.steps_per_epoch
            run.end_epoch(complete=epoch_over)
            state = ctx.state
            if not epoch_over:
                break
            ctx.epoch += 1
            ctx.batch = 0
            run.next_epoch = False
        ctx.history.stop_reason = ctx.stop_reason
    except BaseException as e:
        ctx.error = e
        # What was measured before the error (unless the exception type takes no attributes).
        with contextlib.suppress(AttributeError):
            e.history = ctx.history
        raise
    finally:
        run.call("on_fit_end")
    return ctx.state, ctx.history
