"""Calibration: per-tensor activation scales for the inputs of a model's Dense/Conv
layers, observed on sample batches (min/max or a percentile of ``|x|``)."""

import functools

import numpy as np

import funcnet.numpy as fnp
from funcnet.compress._walk import child_tree, quantizable
from funcnet.nn.combinators import Parallel, Residual, Sequential
from funcnet.nn.core import Layer, join
from funcnet.transforms.jit import jit

__all__ = ["calibrate"]

_METHODS = ("minmax", "percentile")


def _child_state(state, name):
    return None if state is None else child_tree(state, name)


def _run(layer, params, state, x, path, record):
    """Runs ``layer`` on ``x`` child by child (evaluation mode), appending the input of
    every Dense/Conv to ``record[path]`` (a layer used twice gets two entries)."""
    if quantizable(layer):
        record.setdefault(path, []).append(x)
    elif isinstance(layer, Sequential):
        for name, child in zip(layer.names, layer.layers):
            p, s = child_tree(params, name), _child_state(state, name)
            x = _run(child, p, s, x, join(path, name), record)
        return x
    elif isinstance(layer, Parallel):
        xs = list(x) if isinstance(x, (tuple, list)) else [x] * len(layer.layers)
        return tuple(
            _run(
                child,
                child_tree(params, name),
                _child_state(state, name),
                xi,
                join(path, name),
                record,
            )
            for name, child, xi in zip(layer.names, layer.layers, xs)
        )
    elif isinstance(layer, Residual):
        return x + _run(layer.layer, params, state, x, path, record)
    if layer.stateful and state is None:
        raise ValueError(
            f"calibrate: {path or 'the model'} ({type(layer).__name__}) keeps state "
            "(running statistics): pass the model's state, calibrate(..., state=state)"
        )
    y, _ = layer._apply(
        params, state if layer.stateful else None, x, key=None, train=False, path=path
    )
    return y


# The model is a static argument (layers hash by identity): calibrating the same model
# again reuses the compiled program.
@functools.partial(jit, static_argnums=(0, 1))
def _observe(model, keep_values, params, state, x):
    """``{path: [|x| of each use]}`` (percentile) or ``{path: [max |x|]}`` (minmax)."""
    record = {}
    _run(model, params, state, x, "", record)
    if keep_values:
        return {p: [fnp.abs(v) for v in xs] for p, xs in record.items()}
    return {p: [fnp.max(fnp.abs(v)) for v in xs] for p, xs in record.items()}


def _check_batches(calibration_batches):
    if calibration_batches is None or hasattr(calibration_batches, "shape"):
        what = "None" if calibration_batches is None else "a single array"
        raise TypeError(
            f"calibration_batches must be an iterable of input batches (e.g. a list of "
            f"arrays), got {what}; wrap one batch in a list"
        )
    try:
        return iter(calibration_batches)
    except TypeError:
        raise TypeError(
            "calibration_batches must be an iterable of input batches, got "
            f"{type(calibration_batches).__name__}"
        ) from None


def calibrate(model, params, calibration_batches, *, method="minmax", percentile=99.99, state=None):
    """Per-tensor activation scales for the input of every Dense/Conv of ``model``.

    Runs the model on each batch child by child (through nested ``Sequential``,
    ``Parallel`` and ``Residual`` containers) under ``jit`` and observes the input of
    each float ``nn.Dense`` / ``nn.Conv``. The scale is symmetric, for int8 codes:
    ``scale = amax / 127``, where ``amax`` is

    - ``"minmax"``: the largest ``|x|`` over all batches;
    - ``"percentile"``: ``np.percentile`` of all ``|x|`` values over all batches (linear
      interpolation), which ignores rare outliers. The values are gathered on the host,
      so keep the calibration set modest (a few thousand examples).

    An input that is zero everywhere gets scale 1.

    Args:
      model: an ``nn`` layer (usually a ``Sequential``) whose Dense/Conv children are
        float.
      params: its parameter tree.
      calibration_batches: an iterable (list, generator, loader) of input batches, each
        what ``model.apply`` takes.
      method: ``"minmax"`` (default) or ``"percentile"``.
      percentile: the percentile of ``|x|`` for ``method="percentile"``, in (0, 100]
        (default 99.99).
      state: the model's state (from ``init_with_state``) when it has stateful layers
        such as BatchNorm; they run in evaluation mode (``train=False``).

    Returns:
      ``{layer path: scale}``: the path of each Dense/Conv in the params tree
      (``"dense_0"``, ``"sequential_0/conv_1"``; ``""`` when ``model`` itself is one),
      the scale a positive Python float (a float32 value).

    Raises:
      ValueError: no batches, an unknown method, a percentile outside (0, 100], or a
        stateful layer (BatchNorm) in the model and no ``state``.
      TypeError: ``calibration_batches`` is not an iterable of batches.

    Example:
      >>> from funcnet import compress, nn, random
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 3))
      >>> scales = compress.calibrate(model, params, [np.full((2, 3), 2.54, np.float32)])
      >>> sorted(scales), round(scales["dense_0"], 6)
      (['dense_0', 'dense_1'], 0.02)
    """
    if method not in _METHODS:
        raise ValueError(f"calibrate: method must be one of {_METHODS}, got {method!r}")
    if isinstance(percentile, bool) or not (
        isinstance(percentile, (int, float, np.number)) and 0 < percentile <= 100
    ):
        raise ValueError(f"calibrate: percentile must be a number in (0, 100], got {percentile!r}")
    batches = _check_batches(calibration_batches)
    if not isinstance(model, Layer):
        raise TypeError(f"calibrate takes an nn layer, got {type(model).__name__}")
    keep_values = method == "percentile"
    seen, n_batches = {}, 0
    for batch in batches:
        n_batches += 1
        for path, values in _observe(model, keep_values, params, state, batch).items():
            seen.setdefault(path, []).extend(np.asarray(v, np.float32) for v in values)
    if not n_batches:
        raise ValueError(
            "calibration needs at least one batch: calibration_batches was empty "
            "(pass a list of sample inputs)"
        )
    scales = {}
    for path, values in seen.items():
        if keep_values:
            flat = np.concatenate([v.ravel() for v in values])
            amax = np.float32(np.percentile(flat, percentile))
        else:
            amax = np.float32(max(float(v) for v in values))
        scales[path] = float(amax / np.float32(127)) if amax > 0 else 1.0
    return scales
