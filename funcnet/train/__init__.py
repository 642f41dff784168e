"""funcnet.train: the training loop, in pieces that are each usable alone.

- `TrainState`: the step count, parameters, optimizer state, model state (BatchNorm
  statistics, an RNN carry) and PRNG key, as one pytree (saved with `fn.save` or a
  `CheckpointManager`, loaded with `like=state`).
- `make_step(loss_fn)`: the jitted, donating update `step(state, batch) -> (state,
  metrics)`, with augmentation on the device and gradient accumulation;
  `make_eval_step(metric_fn)` its evaluation counterpart.
- `state_sharding(state, params_sharding)`: the state's shardings for sharded training
  (`make_step(..., state_sharding=, batch_sharding=)`; see docs/sharding.md).
- `fit(state, step, loader, ...)`: epochs or steps, periodic evaluation, metrics kept on
  the device and pulled every `log_every` steps, callbacks, exact resumption; returns the
  state and a `History` (`history["loss"]`, `history.plot()`).
- Callbacks: `progress`, `checkpoint`, `early_stopping`, `lr_logger`, `csv_logger`,
  `jsonl_logger`, or your own (`Callback`); `save` and `restore` for checkpoints of
  custom loops.

Writing your own loop
---------------------
`fit` is a convenience: the step, the state and the checkpoint helpers make a loop of a
few lines, in which you decide when to read metrics (each read waits for the device).

>>> import tempfile
>>> from funcnet import train
>>> from funcnet.io import CheckpointManager
>>> data = [{"x": fnp.full((8, 1), i / 4), "y": fnp.full((8,), i / 2)} for i in range(4)]
>>> def loss_fn(params, batch):
...     return fnp.mean((batch["x"][:, 0] * params["w"] - batch["y"]) ** 2)
>>> state = train.TrainState.create(params={"w": fnp.zeros(())}, tx=optim.adam(0.1))
>>> step = train.make_step(loss_fn)
>>> mgr = CheckpointManager(tempfile.mkdtemp(), max_to_keep=1)
>>> for epoch in range(20):
...     for batch in data:
...         state, metrics = step(state, batch)          # no host sync: metrics stay on device
...     if epoch % 10 == 9:
...         _ = train.save(mgr, state)                   # the state, as step state.step
>>> round(float(state.params["w"]), 1), float(metrics["loss"]) < 1e-3, mgr.latest_step()
(2.0, True, 80)
>>> state = train.restore(mgr, state)                    # the latest step, like= state
>>> mgr.close()
"""

from funcnet.train._checkpointing import restore, save
from funcnet.train._sharding import state_sharding
from funcnet.train.callbacks import (
    Callback,
    Context,
    StopTraining,
    checkpoint,
    csv_logger,
    early_stopping,
    jsonl_logger,
    lr_logger,
    progress,
)
from funcnet.train.history import History
from funcnet.train.loop import fit
from funcnet.train.state import TrainState
from funcnet.train.step import make_eval_step, make_step

__all__ = [
    "Callback",
    "Context",
    "History",
    "StopTraining",
    "TrainState",
    "checkpoint",
    "csv_logger",
    "early_stopping",
    "fit",
    "jsonl_logger",
    "lr_logger",
    "make_eval_step",
    "make_step",
    "progress",
    "restore",
    "save",
    "state_sharding",
]
