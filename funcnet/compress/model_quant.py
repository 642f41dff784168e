"""``quantize_model``: a float model and its params to the int8 (or int4 weight-only)
model, every Dense/Conv replaced by its quantized form."""

import math
from collections.abc import Mapping

import numpy as np

import funcnet.numpy as fnp
from funcnet.compress._walk import copy_dicts, leaves, map_leaves, quantizable, set_at, subtree
from funcnet.compress.calibration import calibrate
from funcnet.compress.qlayers import Int4Conv, Int4Dense, QuantizedConv, QuantizedDense
from funcnet.compress.quantize import host_pack_int4, host_quantize_per_channel
from funcnet.core import dtypes
from funcnet.nn.core import join
from funcnet.nn.linear import Dense

__all__ = ["quantize_model"]

_INT8 = {True: QuantizedDense, False: QuantizedConv}  # keyed by "is a Dense"
_INT4 = {True: Int4Dense, False: Int4Conv}


def _where(path):
    return path or "the model"


def _find(model, params):
    """``[(path, layer, params)]`` of every float Dense/Conv; refuses quantized layers or
    params and non-float weights, naming the path."""
    found = []
    for path, layer in leaves(model):
        if getattr(layer, "quantized", False):
            raise ValueError(
                f"quantize_model: {_where(path)} ({type(layer).__name__}) is already quantized"
            )
        if not quantizable(layer):
            continue
        params_here = subtree(params, path)
        if isinstance(params_here, Mapping) and ("w_q" in params_here or "w_packed" in params_here):
            raise ValueError(
                f"quantize_model: the params of {_where(path)} ({type(layer).__name__}) are "
                f"already quantized (keys {sorted(params_here)})"
            )
        w = params_here.get("w") if isinstance(params_here, Mapping) else None
        if w is None:
            raise ValueError(
                f"quantize_model: {_where(path)} ({type(layer).__name__}) has no 'w' "
                f"in its params (got {type(params_here).__name__})"
            )
        if not dtypes.is_float(w.dtype):
            raise TypeError(
                f"quantize_model: {join(path, 'w')} has dtype {np.dtype(w.dtype)}; only "
                "floating-point weights can be quantized (integer weights are already "
                "quantized or not weights)"
            )
        found.append((path, layer, params_here))
    return found


def _check_scales(act_scales, paths):
    if act_scales is None:
        return {}
    if not isinstance(act_scales, Mapping):
        raise TypeError(
            f"quantize_model: act_scales must be a dict {{layer path: scale}}, got "
            f"{type(act_scales).__name__}"
        )
    unknown = sorted(set(act_scales) - set(paths))
    if unknown:
        raise ValueError(
            f"quantize_model: act_scales has paths {unknown} that are no Dense/Conv of "
            f"the model (its layers: {sorted(paths)})"
        )
    out = {}
    for path, scale in act_scales.items():
        value = float(np.asarray(scale))
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"quantize_model: act_scales[{path!r}] must be a positive finite scale, got {value}"
            )
        out[path] = value
    return out


def _quantize_params(layer, params, x_scale, weight_bits):
    # On the host: the weights are concrete, and a program per weight shape would cost
    # more than the conversion itself.
    q, w_scale = host_quantize_per_channel(params["w"], bits=weight_bits)
    if weight_bits == 8:
        out = {"w_q": q, "w_scale": w_scale, "x_scale": np.float32(x_scale)}
    else:
        out = {"w_packed": host_pack_int4(q), "w_scale": w_scale}
    if layer.use_bias:
        out["b"] = np.asarray(params["b"], np.float32)
    return {k: fnp.asarray(v) for k, v in out.items()}


def _convert(model, params, found, scales, weight_bits):
    """The quantized model and params: every Dense/Conv (``found``) replaced by its
    quantized layer and params, containers copied with the same children's names, other
    layers kept with their params."""
    kinds = _INT8 if weight_bits == 8 else _INT4

    def convert(layer, path):
        return kinds[isinstance(layer, Dense)].from_float(layer) if quantizable(layer) else layer

    qparams = copy_dicts(params)
    for path, layer, params_here in found:
        new = _quantize_params(layer, params_here, scales.get(path), weight_bits)
        qparams = set_at(qparams, path, new)
    return map_leaves(model, convert), qparams


def quantize_model(
    model,
    params,
    calibration_batches=None,
    *,
    method="minmax",
    percentile=99.99,
    act_scales=None,
    weight_bits=8,
    state=None,
):
    """Post-training quantization: every Dense/Conv becomes an int8 (or int4
    weight-only) layer.

    With ``weight_bits=8`` each float ``nn.Dense`` / ``nn.Conv`` (also inside nested
    ``Sequential``, ``Parallel`` and ``Residual`` containers) becomes a
    ``QuantizedDense`` / ``QuantizedConv``: weights quantized per output channel
    (``quantize_per_channel(w, axis=-1)``), the input per tensor with a scale from
    ``calibrate`` on ``calibration_batches`` (or from ``act_scales``); the
    matmul/convolution then runs on int8 with int32 accumulation. With
    ``weight_bits=4`` they become ``Int4Dense`` / ``Int4Conv``: 4-bit weights packed two
    per byte, float activations and matmul (no calibration needed). Other layers are
    kept with their params; the quantized params keep the float params' keys. Dense/Conv
    inside a custom ``Layer`` subclass (not a container) stay float.

    Args:
      model: an ``nn`` layer, usually a ``Sequential``, with float Dense/Conv layers.
      params: its parameter tree.
      calibration_batches: an iterable of sample input batches for ``calibrate``; may
        be None when ``act_scales`` covers every layer, or with ``weight_bits=4``.
      method: calibration method, ``"minmax"`` (default) or ``"percentile"``.
      percentile: the percentile of ``|x|`` for ``method="percentile"`` (default 99.99).
      act_scales: ``{layer path: scale}`` for layers whose input scale is known (QAT's
        tracked scales); those are not calibrated. Paths as in the params tree
        (``"dense_0"``, ``"sequential_0/conv_1"``).
      weight_bits: 8 (int8 weights and activations, the default) or 4 (int4 weights
        only).
      state: the model's state, for calibrating a model with stateful layers
        (BatchNorm); the quantized model takes the same state.

    Returns:
      ``(qmodel, qparams)``: ``qmodel.apply(qparams, x)`` approximates
      ``model.apply(params, x)``.

    Raises:
      ValueError: ``weight_bits`` not 4 or 8; a layer or params already quantized (names
        the path); no calibration batches when some layer has no scale; act_scales with
        unknown paths or non-positive scales.
      TypeError: integer or bool weights (names the path and dtype).

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import compress, nn, random
      >>> model = nn.Sequential([nn.Dense(16), nn.relu, nn.Dense(4)])
      >>> params, _ = model.init(random.key(0), (-1, 8))
      >>> x = random.normal(random.key(1), (32, 8))
      >>> qmodel, qparams = compress.quantize_model(model, params, [x])
      >>> qmodel
      Sequential([QuantizedDense(16), relu, QuantizedDense(4)])
      >>> qparams["dense_0"]["w_q"].dtype
      dtype('int8')
      >>> compress.param_bytes(params), compress.param_bytes(qparams)
      (848, 360)
      >>> bool(fnp.max(fnp.abs(qmodel.apply(qparams, x) - model.apply(params, x))) < 0.1)
      True
    """
    if isinstance(weight_bits, bool) or weight_bits not in (4, 8):
        raise ValueError(f"quantize_model: weight_bits must be 4 or 8, got {weight_bits!r}")
    found = _find(model, params)
    paths = [path for path, _, _ in found]
    scales = _check_scales(act_scales, paths)
    missing = [p for p in dict.fromkeys(paths) if p not in scales]
    if weight_bits == 8 and missing:
        if calibration_batches is None:
            raise ValueError(
                "quantize_model: calibration needs at least one batch: pass "
                f"calibration_batches (or act_scales for the layers {missing})"
            )
        observed = calibrate(
            model,
            params,
            calibration_batches,
            method=method,
            percentile=percentile,
            state=state,
        )
        scales = {**observed, **scales}
    return _convert(model, params, found, scales, weight_bits)
