"""The layout of a training checkpoint: `{"state": TrainState, "loader": str, "fit": str}`.

The loader's state and the fit's position are small JSON documents stored as string
leaves (a CheckpointManager keeps Python strings in the file's metadata), so their
structure may change from one step to the next without breaking `restore(like=...)`.
"""

import json

__all__ = ["restore", "save"]


def loader_state(loader):
    """`loader.get_state()` as JSON text, or "" for a loader without state."""
    get_state = getattr(loader, "get_state", None)
    if loader is None or not callable(get_state):
        return ""
    state = get_state()
    try:
        return json.dumps(state)
    except TypeError as e:
        raise TypeError(
            f"the loader's get_state() returned {type(state).__name__} data that is not "
            f"JSON-able ({e}); a checkpoint stores it as JSON"
        ) from e


def save(manager, state, loader=None, metrics=None, position=None):
    """Saves a training run with a `CheckpointManager`, as step `state.step`: the state,
    the loader's state and (from `fit`) its position. For custom loops; `fit` saves
    through the `checkpoint` callback.

    Args:
      manager: a `funcnet.io.CheckpointManager`.
      state: the `TrainState`.
      loader: the loader, whose `get_state()` is saved when it has one (None: nothing).
      metrics: a dict of scalars stored with the step (for `keep_best`), or None.
      position: JSON-able data about the run's position (what `fit` stores), or None.

    Returns:
      True if the step was saved (False if the manager skipped it).

    Raises:
      TypeError: the loader's state is not JSON-able.
      funcnet.io.StepAlreadyExistsError: the manager has this step already.
    """
    tree = {
        "state": state,
        "loader": loader_state(loader),
        "fit": "" if position is None else json.dumps(position),
    }
    return manager.save(int(state.step), tree, metrics=metrics, force=True)


def restore_all(manager, state, loader=None, step=None):
    """Restores `(state, position)`; sets the loader's state when it has `set_state`."""
    like = {"state": state, "loader": "", "fit": ""}
    tree = manager.restore(step, like=like)
    if loader is not None and tree["loader"]:
        set_state = getattr(loader, "set_state", None)
        if not callable(set_state):
            raise TypeError(
                f"the checkpoint holds a loader state, but the loader "
                f"({type(loader).__name__}) has no set_state()"
            )
        set_state(json.loads(tree["loader"]))
    position = json.loads(tree["fit"]) if tree["fit"] else None
    return tree["state"], position


def restore(manager, state, loader=None, step=None):
    """Restores a training run saved by the `checkpoint` callback (or `save`): the
    `TrainState` and, given the loader, its state (`loader.set_state`), so that the next
    `iter(loader)` yields the batches the run would have seen next.

    `fit(..., resume=manager)` does this itself and also restores its position; use
    `restore` in a custom loop.

    Args:
      manager: the `funcnet.io.CheckpointManager`.
      state: a template `TrainState` (the one the run started from, with the same
        optimizer): gives the structure, shapes, dtypes and `tx`.
      loader: the loader to set the state of, or None.
      step: the step to restore; None restores the latest.

    Returns:
      The restored `TrainState`.

    Raises:
      FileNotFoundError: no checkpoint (or not `step`) in the manager's directory.
      ValueError: the checkpoint does not match the template (the error names the path).
      TypeError: the checkpoint holds a loader state but `loader` has no `set_state`.
    """
    return restore_all(manager, state, loader, step)[0]
