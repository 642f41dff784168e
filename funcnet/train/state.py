"""`TrainState`: everything a training step reads and writes, as one pytree."""

import dataclasses
from typing import Any

import numpy as np

from funcnet import numpy as fnp
from funcnet import tree as tree_lib
from funcnet.optim import apply_updates
from funcnet.random import key as random_key

__all__ = ["TrainState"]

# The array fields, in flattening order (checkpoint tensors are named after them:
# "params.dense_0.w", "opt_state.0.mu.dense_0.w", "key", ...).
_FIELDS = ("step", "params", "opt_state", "model_state", "key")


@dataclasses.dataclass(frozen=True, eq=False)
class TrainState:
    """The state of a training run, one pytree: what a step reads and returns.

    The leaves are the arrays (`step`, `params`, `opt_state`, `model_state`, `key`); the
    optimizer `tx` is static (the pytree's auxiliary data, not a leaf), so the state
    passes through `fn.jit` (and is donated to the step), `fn.tree.map`, `fn.save` and
    `CheckpointManager` like any tree. Load it back with a template:
    `fn.load(path, like=state)` (the template gives the containers and `tx`).

    Build one with `TrainState.create`; change it with `apply_gradients` and `replace`,
    which return a new state (a `TrainState` is immutable).

    Attributes:
      step: the number of updates made, an int32 scalar Array.
      params: the parameters, a pytree of arrays (what the gradient is taken of).
      opt_state: the optimizer's state, `tx.init(params)`.
      model_state: state the model carries between steps that is not trained by
        gradient: BatchNorm's running statistics (`model.init_with_state`), an RNN's
        carry. Any pytree; `{}` when there is none.
      key: a `funcnet.random` key, split by `make_step`'s step for dropout and
        augmentation; None when the model needs no randomness.
      tx: the optimizer, a `funcnet.optim.GradientTransformation` (static).

    Example:
      >>> from funcnet import train
      >>> state = train.TrainState.create(params={"w": fnp.ones(2)}, tx=optim.sgd(0.5))
      >>> state = state.apply_gradients({"w": fnp.array([1.0, -1.0])})
      >>> state.params["w"].tolist(), int(state.step)
      ([0.5, 1.5], 1)
    """

    step: Any
    params: Any
    opt_state: Any
    model_state: Any
    key: Any
    tx: Any

    @classmethod
    def create(cls, *, params, tx, key=None, model_state=None, step=0):
        """A fresh state: the optimizer state made by `tx.init(params)`, `step` 0.

        The state's arrays are donated to the step `make_step` builds, so the `params`
        given here are consumed by the first step (keep a host copy,
        `fn.device_get(params)`, to use them afterwards).

        Args:
          params: the initial parameters, a pytree of arrays.
          tx: the optimizer, a `funcnet.optim.GradientTransformation` (anything with
            `init(params)` and `update(grads, state, params)`).
          key: a `funcnet.random` key (or an int seed, made into `random.key(seed)`), or
            None for a model without randomness.
          model_state: the model's non-trained state (`model.init_with_state`'s second
            result), or None for `{}`.
          step: the starting step count (0).

        Returns:
          A `TrainState`.

        Raises:
          TypeError: `tx` has no `init`/`update`.
        """
        if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
            raise TypeError(
                f"TrainState.create: tx must be an optimizer with init and update (such as "
                f"optim.adam(1e-3)), got {type(tx).__name__}"
            )
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            key = random_key(int(key))
        return cls(
            step=fnp.asarray(step, fnp.int32),
            params=params,
            opt_state=tx.init(params),
            model_state={} if model_state is None else model_state,
            key=key,
            tx=tx,
        )

    def apply_gradients(self, grads, **changes):
        """One optimizer update: `tx.update` on `grads`, the updates added to the
        parameters, `step` advanced by one.

        Args:
          grads: the gradient, a pytree like `params`.
          **changes: other fields to replace at the same time (`model_state=`, `key=`).

        Returns:
          The new `TrainState`.

        Raises:
          ValueError: `grads` does not match `params` (the optimizer names the path).
        """
        updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
        return self.replace(
            step=self.step + 1,
            params=apply_updates(self.params, updates),
            opt_state=opt_state,
            **changes,
        )

    def replace(self, **changes):
        """A copy with some fields replaced (`dataclasses.replace`).

        Args:
          **changes: field names and their new values.

        Returns:
          The new `TrainState`.

        Raises:
          TypeError: a name that is not a field.
        """
        unknown = sorted(set(changes) - {*_FIELDS, "tx"})
        if unknown:
            raise TypeError(
                f"TrainState.replace: no field {unknown[0]!r}; the fields are "
                f"{', '.join((*_FIELDS, 'tx'))}"
            )
        return dataclasses.replace(self, **changes)

    def __repr__(self):
        leaves = tree_lib.tree_leaves(self.params)
        n = sum(int(np.prod(getattr(leaf, "shape", ()))) for leaf in leaves)
        return (
            f"TrainState(step={self.step!r}, params=<{len(leaves)} arrays, {n} values>, "
            f"model_state={'{}' if _is_empty(self.model_state) else '<...>'}, "
            f"key={'None' if self.key is None else '<key>'}, tx={type(self.tx).__name__})"
        )


def _is_empty(tree) -> bool:
    return not tree_lib.tree_leaves(tree)


def _flatten_with_keys(state):
    children = [(tree_lib.GetAttrKey(name), getattr(state, name)) for name in _FIELDS]
    return children, state.tx


def _flatten(state):
    return [getattr(state, name) for name in _FIELDS], state.tx


def _unflatten(tx, children):
    return TrainState(**dict(zip(_FIELDS, children)), tx=tx)


tree_lib.register_pytree_with_keys(TrainState, _flatten_with_keys, _unflatten, _flatten)
