"""`make_step` and `make_eval_step`: a loss (or metric) function made into the jitted step.

The loss function's contract, shared with `make_eval_step`:

- `loss_fn(params, batch)` returns the scalar loss, or `(loss, aux)` with
  `has_aux=True`, where `aux` is a dict of scalar metrics (`{"accuracy": acc}`).
- Two optional parameters, recognised by their names in `loss_fn`'s signature:
  `key` receives a fresh PRNG key each step (split from `state.key`; for dropout), and
  `model_state` receives `state.model_state` (BatchNorm statistics, an RNN carry). A
  loss taking `model_state` returns `(loss, aux)` with the new model state in
  `aux["model_state"]`; it is stored in the returned state and is not a metric.
"""

import inspect
from collections.abc import Mapping

import numpy as np

from funcnet import lax, random
from funcnet import numpy as fnp
from funcnet import tree as tree_lib
from funcnet.core.array import Array
from funcnet.lax.sharding import is_sharding_leaf
from funcnet.sharding import NamedSharding, PartitionSpec
from funcnet.transforms.grad import value_and_grad
from funcnet.transforms.jit import jit as _jit

__all__ = ["make_eval_step", "make_step"]

# The names `make_step` looks for in the loss function's signature.
KEY_PARAM = "key"
MODEL_STATE_PARAM = "model_state"


def wanted_keywords(fun, names):
    """Which of `names` are parameters of `fun` that can be passed by keyword."""
    try:
        params = inspect.signature(fun).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no keywords to offer
        return set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {n for n in names if n in params and params[n].kind in kinds}


def _fun_name(fun) -> str:
    return getattr(fun, "__qualname__", None) or getattr(fun, "__name__", None) or repr(fun)


def _describe(x) -> str:
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"an array of shape {tuple(x.shape)} ({np.dtype(x.dtype).name})"
    return f"a {type(x).__name__}"


def _split_output(out, has_aux, where):
    """`(loss, aux)` from what the loss function returned, or a clear has_aux error."""
    is_pair = isinstance(out, (tuple, list))
    if has_aux:
        if not is_pair or len(out) != 2:
            got = f"a {type(out).__name__} of length {len(out)}" if is_pair else _describe(out)
            raise TypeError(
                f"{where}: with has_aux=True the loss function must return a pair "
                f"(loss, aux), but it returned {got}; return (loss, {{'metric': ...}}), or "
                "pass has_aux=False if it returns the loss alone"
            )
        return out[0], out[1]
    if is_pair:
        raise TypeError(
            f"{where}: the loss function returned a {type(out).__name__} of length "
            f"{len(out)}, not a scalar loss; if it returns (loss, aux), pass has_aux=True"
        )
    return out, None


def _check_loss(loss, where):
    shape = tuple(getattr(loss, "shape", np.shape(loss)))
    if shape != ():
        raise ValueError(
            f"{where}: the loss must be a scalar, but the loss function returned "
            f"{_describe(loss)}; reduce it over the batch (e.g. fnp.mean(losses))"
        )
    dtype = np.dtype(getattr(loss, "dtype", np.result_type(loss)))
    if dtype.kind != "f" and dtype.name != "bfloat16":
        raise TypeError(
            f"{where}: the loss must be a floating-point scalar to be differentiated, got "
            f"dtype {dtype.name}"
        )


def check_metrics(metrics, where, what="aux"):
    """A dict of scalar metrics, or a clear error naming the entry that is not one."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"{where}: {what} must be a dict of metric name to scalar, got {type(metrics).__name__}"
        )
    out = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: metric names must be strs, got {name!r} in {what}")
        shape = tuple(getattr(value, "shape", np.shape(value)))
        if shape != ():
            raise ValueError(
                f"{where}: {what}[{name!r}] is {_describe(value)}, but metrics must be "
                "scalars (reduce it over the batch; keep other outputs out of the metrics)"
            )
        out[name] = value
    return out


def _augmented(batch, augment, key, input_key, where):
    if input_key is None:  # augment sees and returns the whole batch (mixup, cutmix)
        out = augment(key, batch)
        if not isinstance(out, Mapping):
            raise TypeError(
                f"{where}: with input_key=None, augment(key, batch) must return the batch "
                f"(a dict), got {type(out).__name__}"
            )
        return dict(out)
    if not isinstance(batch, Mapping):
        raise TypeError(
            f"{where}: augment needs the batch to be a dict holding {input_key!r}, got a "
            f"{type(batch).__name__}"
        )
    if input_key not in batch:
        raise ValueError(
            f"{where}: augment applies to batch[{input_key!r}], but the batch has no such "
            f"entry (its keys: {sorted(map(str, batch))}); pass input_key= naming the entry "
            "to augment"
        )
    return {**batch, input_key: augment(key, batch[input_key])}


def _microbatches(batch, k, where):
    """Every leaf `(B, ...)` reshaped to `(k, B // k, ...)`, or an error naming the leaf."""

    def split(path, x):
        shape = tuple(getattr(x, "shape", np.shape(x)))
        if not shape or shape[0] % k:
            got = f"shape {shape}" if shape else "a scalar (no batch axis)"
            raise ValueError(
                f"{where}: accumulate={k} splits the batch along its leading axis into {k} "
                f"equal micro-batches, but batch{tree_lib.keystr(path)} has {got}; use a "
                f"batch size divisible by {k}"
            )
        return fnp.reshape(x, (k, shape[0] // k, *shape[1:]))

    return tree_lib.tree_map_with_path(split, batch)


def _float_zeros(params):
    """The gradient accumulator: float32 for float leaves narrower than it."""

    def zeros(p):
        dtype = np.dtype(p.dtype)
        return fnp.zeros(p.shape, fnp.float32 if dtype.itemsize < 4 else dtype)

    return tree_lib.tree_map(zeros, params)


# A copy in a new buffer (an identity program's output never aliases its input).
_copy = _jit(lambda x: x)


def _unaliased(state):
    """`state`, with every repeated array leaf after its first occurrence replaced by a
    copy: XLA refuses to donate one buffer twice, and such sharing is easy to make
    (`(z, z)` as an LSTM's initial carry). Runs every step, so the common case (no
    repeats) costs one flatten and one set."""
    leaves, treedef = tree_lib.tree_flatten(state)
    ids = [id(leaf) for leaf in leaves]
    if len(set(ids)) == len(ids):
        return state
    seen = set()
    for i, leaf in enumerate(leaves):
        if id(leaf) in seen and isinstance(leaf, Array) and not leaf.is_deleted():
            leaves[i] = _copy(leaf)  # (a deleted leaf is left for jit to report by path)
        seen.add(id(leaf))
    return tree_lib.tree_unflatten(treedef, leaves)


def make_step(
    loss_fn,
    *,
    has_aux=False,
    augment=None,
    input_key="image",
    accumulate=1,
    donate=True,
    jit=True,
    state_sharding=None,
    batch_sharding=None,
):
    """Builds the training step `step(state, batch) -> (state, metrics)` from a loss.

    The step computes the loss and its gradient with respect to `state.params`, applies
    the optimizer (`state.apply_gradients`), advances `state.key` and stores the new
    model state. Clipping, weight decay, schedules and mixed-precision casts belong to the
    optimizer chain (`optim.chain(optim.clip_by_global_norm(1.0), optim.adam(lr))`).

    **The loss function.** `loss_fn(params, batch)` returns the scalar loss, or with
    `has_aux=True` a pair `(loss, aux)` where `aux` is a dict of scalar metrics. Two
    optional parameters are recognised by name: `key` (a fresh PRNG key every step, for
    dropout) and `model_state` (`state.model_state`; such a loss returns the new model
    state as `aux["model_state"]`, which requires `has_aux=True`):

        def loss_fn(params, batch, model_state, key):
            logits, new = model.apply(params, batch["image"], state=model_state,
                                      train=True, key=key)
            loss = nn.losses.softmax_cross_entropy(logits, batch["label"])
            return loss, {"model_state": new}

    **Randomness.** Each step splits `state.key` in three: the next state's key, the key
    for `augment` and the key for `loss_fn` (with accumulation, `fold_in(key, i)` for
    micro-batch `i`). A step that needs a key while `state.key` is None is an error.

    **Accumulation.** With `accumulate=k` the batch's leading axis is split into `k`
    equal micro-batches, the gradient of each is computed in turn inside the compiled
    step (an XLA loop: `lax.scan`) and their mean is applied once. For a loss that is a
    mean over the batch this is the gradient of the whole batch (up to float rounding),
    in the memory of one micro-batch. The metrics are the micro-batches' means; the model
    state is threaded through the micro-batches in order. Augmentation is applied to the
    whole batch before the split, as without accumulation.

    **No host synchronisation.** The metrics come back as device scalars; reading one
    (`float(m["loss"])`) waits for the step. `fit` pulls them only every `log_every`
    steps.

    **Sharded training.** `state_sharding` and `batch_sharding` become the jitted step's
    `in_shardings=(state_sharding, batch_sharding)` and `out_shardings=(state_sharding,
    replicated)`, as a flax user writes `jax.jit(train_step, in_shardings=...,
    out_shardings=...)`: XLA's SPMD partitioner splits the step over the mesh and the new
    state comes back laid out as the old one (the metrics replicated). Data parallel:
    `batch_sharding=NamedSharding(mesh, P("data"))` (the gradients' mean over the batch
    becomes an all-reduce); fully sharded: also `state_sharding=state_sharding(state,
    NamedSharding(mesh, P("data", None)))` (parameters and optimizer moments split
    over "data"). Lay the state out once with `fn.device_put(state, state_sharding)`, and
    the batches with the loader (`data.Loader(..., device=batch_sharding)`) so that the
    copy happens ahead, on the loader's thread; arrays on one device are laid out by the
    step itself.

    Args:
      loss_fn: the loss function (see above).
      has_aux: whether `loss_fn` returns `(loss, aux)`.
      augment: None, or a pure function `augment(key, images) -> images` (for example
        from `funcnet.data.augment`) applied to `batch[input_key]` inside the step.
      input_key: the batch entry `augment` transforms ("image"); None passes the whole
        batch to `augment(key, batch)`, which returns the new batch (mixup needs the
        labels too).
      accumulate: the number of micro-batches the batch is split into (1: none).
      donate: donate the state's buffers to the step (the state passed in may not be
        used afterwards; the update happens in place, halving the memory). Leaves of the
        state that share one buffer (`(z, z)`) are copied first, as XLA donates a buffer
        once.
      jit: compile the step with `fn.jit` (False runs it eagerly, to debug).
      state_sharding: None, or the `TrainState`'s shardings (a `NamedSharding` for all
        of it, or a tree like the state: `state_sharding(state, params_sharding)` builds
        one); needs `jit=True`.
      batch_sharding: None, or the batch's shardings (a `NamedSharding`, e.g.
        `NamedSharding(mesh, P("data"))`, or a pytree prefix of the batch); needs
        `jit=True`.

    Returns:
      The step function `step(state, batch) -> (new_state, metrics)`, where `metrics` is
      `{"loss": loss, **aux}` of device scalars.

    Raises:
      TypeError: `loss_fn` takes `model_state` but `has_aux` is False, or `accumulate` is
        not a positive int. When the step first runs (it traces then): the loss is not a
        scalar (the error names its shape) or not floating point, the output does not fit
        `has_aux` (the error says which to pass), an aux entry is not a scalar, the batch
        lacks `input_key`, or its leading axis does not divide by `accumulate`.

    Example:
      >>> from funcnet import train
      >>> def loss_fn(params, batch):
      ...     pred = batch["x"] @ params["w"]
      ...     error = pred - batch["y"]
      ...     return fnp.mean(error**2), {"mae": fnp.mean(fnp.abs(error))}
      >>> state = train.TrainState.create(params={"w": fnp.zeros(2)}, tx=optim.sgd(0.1))
      >>> step = train.make_step(loss_fn, has_aux=True)
      >>> batch = {"x": fnp.array([[1.0, 0.0], [0.0, 1.0]]), "y": fnp.array([1.0, 2.0])}
      >>> state, metrics = step(state, batch)
      >>> sorted(metrics), float(metrics["loss"]), state.params["w"].tolist()
      (['loss', 'mae'], 2.5, [0.10000000149011612, 0.20000000298023224])
    """
    name = f"make_step({_fun_name(loss_fn)})"
    wants = wanted_keywords(loss_fn, (KEY_PARAM, MODEL_STATE_PARAM))
    if MODEL_STATE_PARAM in wants and not has_aux:
        raise TypeError(
            f"{name}: the loss function takes `model_state`, so it must return "
            "(loss, aux) with the new model state in aux['model_state']; pass has_aux=True"
        )
    if isinstance(accumulate, bool) or not isinstance(accumulate, (int, np.integer)):
        raise TypeError(f"{name}: accumulate must be a positive int, got {accumulate!r}")
    if accumulate < 1:
        raise ValueError(f"{name}: accumulate must be a positive int, got {accumulate}")
    accumulate = int(accumulate)
    if augment is not None and not callable(augment):
        raise TypeError(f"{name}: augment must be a function (key, images) -> images")
    sharded = state_sharding is not None or batch_sharding is not None
    if sharded and not jit:
        raise ValueError(
            f"{name}: state_sharding/batch_sharding lay out a compiled step; they need jit=True"
        )

    def loss_and_aux(params, batch, model_state, key):
        kwargs = {}
        if KEY_PARAM in wants:
            kwargs[KEY_PARAM] = key
        if MODEL_STATE_PARAM in wants:
            kwargs[MODEL_STATE_PARAM] = model_state
        loss, aux = _split_output(loss_fn(params, batch, **kwargs), has_aux, name)
        _check_loss(loss, name)
        if MODEL_STATE_PARAM in wants:
            if not isinstance(aux, Mapping) or MODEL_STATE_PARAM not in aux:
                raise TypeError(
                    f"{name}: the loss function takes `model_state`, so its aux must be a "
                    f"dict holding the new state under 'model_state'; got "
                    f"{sorted(aux) if isinstance(aux, Mapping) else type(aux).__name__}"
                )
            aux = dict(aux)
            model_state = aux.pop(MODEL_STATE_PARAM)
        aux = check_metrics(aux, name)
        if "loss" in aux:
            raise ValueError(
                f"{name}: aux has an entry 'loss', but the metrics report the loss under that "
                "name already; rename the aux entry"
            )
        return loss, (aux, model_state)

    grad_fn = value_and_grad(loss_and_aux, has_aux=True)

    def step(state, batch):
        needs_key = augment is not None or KEY_PARAM in wants
        if state.key is None:
            if needs_key:
                why = "augment is set" if augment is not None else "the loss function takes `key`"
                raise ValueError(
                    f"{name}: {why}, but the TrainState has no PRNG key; create it with "
                    "TrainState.create(..., key=random.key(0))"
                )
            new_key = aug_key = loss_key = None
        else:
            new_key, aug_key, loss_key = random.split(state.key, 3)
        if augment is not None:
            batch = _augmented(batch, augment, aug_key, input_key, name)
        if accumulate == 1:
            (loss, (aux, model_state)), grads = grad_fn(
                state.params, batch, state.model_state, loss_key
            )
        else:
            grads, loss, aux, model_state = _accumulated(state, batch, loss_key)
        new_state = state.apply_gradients(grads, model_state=model_state, key=new_key)
        return new_state, {"loss": loss, **aux}

    def _accumulated(state, batch, loss_key):
        micro = _microbatches(batch, accumulate, name)

        def body(carry, xs):
            total, model_state = carry
            mb, i = xs
            key = None if loss_key is None else random.fold_in(loss_key, i)
            (loss, (aux, model_state)), grads = grad_fn(state.params, mb, model_state, key)
            total = tree_lib.tree_map(lambda t, g: t + g.astype(t.dtype), total, grads)
            return (total, model_state), (loss, aux)

        init = (_float_zeros(state.params), state.model_state)
        xs = (micro, fnp.arange(accumulate, dtype=fnp.uint32))
        (total, model_state), (losses, auxs) = lax.scan(body, init, xs)
        grads = tree_lib.tree_map(
            lambda t, p: (t / accumulate).astype(p.dtype), total, state.params
        )
        aux = {k: fnp.mean(v, axis=0) for k, v in auxs.items()}
        return grads, fnp.mean(losses), aux, model_state

    step.__name__ = step.__qualname__ = f"train_step_{getattr(loss_fn, '__name__', 'loss')}"
    if not jit:
        return step
    shardings = _step_shardings(state_sharding, batch_sharding) if sharded else {}
    if not donate:
        return _jit(step, **shardings)
    jitted = _jit(step, donate_argnums=(0,), **shardings)

    def train_step(state, batch):
        return jitted(_unaliased(state), batch)

    train_step.__name__ = train_step.__qualname__ = step.__name__
    train_step.__doc__ = f"The training step of {_fun_name(loss_fn)} (made by make_step)."
    train_step.jitted = jitted  # the compiled function (lower, trace_count, ...)
    return train_step


def _mesh_of(shardings):
    """The mesh of the first NamedSharding in a tree of shardings, or None."""
    for s in tree_lib.tree_leaves(shardings, is_leaf=is_sharding_leaf):
        if isinstance(s, NamedSharding):
            return s.mesh
    return None


def _step_shardings(state_sharding, batch_sharding):
    """jit's in/out_shardings for `step(state, batch) -> (state, metrics)`."""
    mesh = _mesh_of(state_sharding)
    if mesh is None:
        mesh = _mesh_of(batch_sharding)
    metrics = None if mesh is None else NamedSharding(mesh, PartitionSpec())
    return {
        "in_shardings": (state_sharding, batch_sharding),
        "out_shardings": (state_sharding, metrics),
    }


def make_eval_step(metric_fn, *, jit=True):
    """Builds the evaluation step `eval_step(state, batch) -> metrics` from a metric
    function.

    `metric_fn(params, batch)` returns a dict of scalar metrics (or a scalar, reported as
    `{"loss": value}`); a `metric_fn` with a `model_state` parameter also receives
    `state.model_state` (BatchNorm statistics, read only). `fit` averages the metrics over
    the evaluation loader, weighted by batch size, and reports them prefixed with `val_`.
    Giving `fit` a plain metric function wraps it with `make_eval_step` itself.

    Args:
      metric_fn: the metric function.
      jit: compile the step with `fn.jit` (False runs it eagerly).

    Returns:
      `eval_step(state, batch) -> dict` of device scalars.

    Raises:
      TypeError, ValueError: when the step first runs, `metric_fn` returned something
        other than a dict of scalars or a scalar (the error names the entry and its shape).

    Example:
      >>> from funcnet import train
      >>> state = train.TrainState.create(params={"w": fnp.ones(2)}, tx=optim.sgd(0.1))
      >>> eval_step = train.make_eval_step(lambda p, b: {"mse": fnp.mean((b["x"] @ p["w"]) ** 2)})
      >>> float(eval_step(state, {"x": fnp.ones((4, 2))})["mse"])
      4.0
    """
    name = f"make_eval_step({_fun_name(metric_fn)})"
    wants_state = MODEL_STATE_PARAM in wanted_keywords(metric_fn, (MODEL_STATE_PARAM,))

    def eval_step(state, batch):
        kwargs = {MODEL_STATE_PARAM: state.model_state} if wants_state else {}
        out = metric_fn(state.params, batch, **kwargs)
        if isinstance(out, (tuple, list)):
            raise TypeError(
                f"{name}: the metric function must return a dict of scalar metrics (or one "
                f"scalar), got a {type(out).__name__} of length {len(out)}"
            )
        if not isinstance(out, Mapping):
            out = {"loss": out}
        return check_metrics(out, name, what="the metrics")

    eval_step.__name__ = eval_step.__qualname__ = (
        f"eval_step_{getattr(metric_fn, '__name__', 'metrics')}"
    )
    out = _jit(eval_step) if jit else eval_step
    out.is_eval_step = True  # fit() wraps a plain metric function, not one of these
    return out
