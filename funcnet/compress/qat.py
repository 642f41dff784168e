"""Quantization-aware training: fake quantization with a straight-through gradient, QAT
versions of a model's Dense/Conv layers, and their conversion to the int8 model.

``fake_quant(x, scale)`` rounds ``x`` onto the int grid of ``scale`` and back
(``clip(round(x / scale)) * scale``, symmetric, ties to even), so the forward pass sees
exactly the values the int8 model will compute with. Rounding has a zero derivative
almost everywhere; the straight-through estimator (STE) replaces it by the identity
inside the clipping range, and the scale gets the LSQ derivative (Esser et al. 2019,
"Learned Step Size Quantization") so it can be learned.

``qat_model(model)`` wraps every Dense/Conv (also inside containers) so that it
fake-quantizes its weights per output channel and its input per tensor; the params tree
stays the float model's, so training starts from trained float params as they are.
``convert_qat`` then builds the int8 model of post-training quantization
(``quantize_model``) with the activation scales the QAT model tracked or learned.
"""

import functools

import numpy as np

import funcnet.numpy as fnp
from funcnet.compress._walk import copy_dicts, leaves, map_leaves, quantizable, set_at, subtree
from funcnet.compress.model_quant import quantize_model
from funcnet.compress.quantize import (
    _along,
    _qmax,
    check_bits,
    dequantize,
    quantize_per_tensor,
)
from funcnet.core.trace import Tracer
from funcnet.lax import stop_gradient
from funcnet.nn.core import Layer, Param, create, join
from funcnet.transforms.custom import custom_jvp
from funcnet.transforms.jit import jit

__all__ = [
    "QATLayer",
    "activation_scales",
    "convert_qat",
    "fake_quant",
    "float_model",
    "qat_init",
    "qat_model",
]


# ----------------------------------------------------------------------------
# fake_quant
# ----------------------------------------------------------------------------


def _shaped(scale, ndim, axis):
    """``scale`` shaped to broadcast against an array of rank ``ndim``: along ``axis``
    for per-channel scales, as it is for one scale (``axis`` None)."""
    return scale if axis is None else _along(scale, axis, ndim)


def _quant_dequant(x, scale, bits, axis):
    """``dequantize(quantize_per_tensor(x, scale))``: the int8 layers' own rounding."""
    q = quantize_per_tensor(x, _shaped(scale, x.ndim, axis), bits=bits)
    return dequantize(q, scale, -1 if axis is None else axis).astype(x.dtype)


# The straight-through rule is a custom_jvp rather than a custom_vjp: its tangent map is
# linear (masks and scale terms computed from the primals), so reverse mode gets the same
# rule by transposition, and forward mode (jvp, jacfwd), which a custom_vjp refuses,
# works too. bits and axis are Python values that pick the program, not arrays.
@functools.partial(custom_jvp, nondiff_argnums=(2, 3))
def _fake_quant(x, scale, bits, axis):
    return _quant_dequant(x, scale, bits, axis)


def _fake_quant_jvp(bits, axis, primals, tangents):
    x, scale = primals
    tx, tscale = tangents
    qmax = _qmax(bits)
    s = _shaped(scale, x.ndim, axis)
    v = x / s
    rounded = fnp.round(v)
    # "inside" is judged on the rounded value, as PyTorch's fake_quantize: the largest
    # weight, whose x / scale may land a rounding error above qmax, still passes.
    inside = (fnp.abs(rounded) <= qmax).astype(x.dtype)
    # Clipped STE for x: d y / d x = 1 inside the range, 0 where clipped.
    # LSQ for the scale: d y / d s = round(v) - v inside, -qmax / +qmax where clipped.
    dy_ds = fnp.clip(rounded, -qmax, qmax) - v * inside
    t_out = tx * inside + dy_ds * _shaped(tscale, x.ndim, axis)
    return _quant_dequant(x, scale, bits, axis), t_out


_fake_quant.defjvp(_fake_quant_jvp)


def _concrete(x):
    """``x``'s value as a NumPy array when it is known now (eager code, eager grad), else
    None (inside jit or vmap)."""
    if isinstance(x, Tracer):
        x = x.to_concrete_value()
        if x is None:
            return None
    return np.asarray(x)


def _check_scale_values(scale, where):
    value = _concrete(scale)
    if value is None:  # traced: the values are not known until the program runs
        return
    bad = ~np.isfinite(value) | (value <= 0)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        at = f"scale[{', '.join(map(str, i))}]" if i else "scale"
        raise ValueError(
            f"{where}: the quantization scale must be finite and > 0, got {at} = "
            f"{float(value[i])!r} (a zero scale divides by zero; a negative one flips signs)"
        )


def fake_quant(x, scale, *, bits=8, axis=None):
    """Quantize-dequantize ``x`` with a straight-through gradient (for QAT).

    ``y = clip(round(x / scale), -qmax, qmax) * scale`` with ``qmax = 2**(bits-1) - 1``
    (symmetric; round half to even), which is
    ``dequantize(quantize_per_tensor(x, scale))`` for ``bits=8``. The values are
    what an integer model computes with; the derivatives are those of quantization-aware
    training, defined by a ``custom_jvp`` rule (so forward mode, ``grad``, ``vjp``,
    ``jit`` and ``vmap`` all use them):

    - with respect to ``x``, the clipped straight-through estimator: the incoming
      gradient passes unchanged where ``|round(x / scale)| <= qmax`` and is zero where
      ``x`` was clipped (as PyTorch's ``fake_quantize_per_tensor_affine``);
    - with respect to ``scale``, LSQ (Esser et al. 2019, "Learned Step Size
      Quantization"): ``d y / d scale = round(x / scale) - x / scale`` inside the range
      and ``-qmax`` / ``+qmax`` below / above it, summed over the elements that share
      the scale. (LSQ also scales this gradient by ``1 / sqrt(n * qmax)``; ``qat_model``
      does that for the scales it learns, ``fake_quant`` gives the plain derivative.)

    Args:
      x: a floating-point array.
      scale: the step size, > 0: a scalar (``axis=None``, per tensor) or an array of
        shape ``(x.shape[axis],)`` (per channel along ``axis``).
      bits: the integer width, 2 to 8 (int8 storage).
      axis: None for one scale, or the channel axis of per-channel scales.

    Returns:
      An array of ``x``'s shape and dtype on the quantization grid.

    Raises:
      TypeError: ``x`` is not floating point (integers and bools are already
        quantized), or ``bits`` is not an int.
      ValueError: ``bits`` outside [2, 8], ``scale`` of the wrong shape, or (when its
        value is known, i.e. outside ``jit``/``vmap``) a scale <= 0 or not finite.

    Example:
      >>> from funcnet import compress
      >>> x = fnp.array([0.1, 0.3, -3.0, 2.0])
      >>> compress.fake_quant(x, 0.25, bits=4).tolist()  # qmax = 7: -3.0 clips to -1.75
      [0.0, 0.25, -1.75, 1.75]
      >>> fn.grad(lambda x: compress.fake_quant(x, 0.25, bits=4).sum())(x).tolist()
      [1.0, 1.0, 0.0, 0.0]
    """
    bits = check_bits(bits, "fake_quant")
    x = fnp.asarray(x)
    if not fnp.issubdtype(x.dtype, fnp.floating):
        raise TypeError(
            f"fake_quant: x must be a floating-point array, got dtype {x.dtype} (integer "
            "and bool arrays are not quantized: they already are integers)"
        )
    scale = fnp.asarray(scale)
    if axis is None:
        if scale.ndim != 0:
            raise ValueError(
                f"fake_quant: with axis=None the scale must be a scalar, got shape "
                f"{tuple(scale.shape)} (pass axis= for per-channel scales)"
            )
    else:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"fake_quant: axis must be an int or None, got {axis!r}")
        if not -x.ndim <= axis < max(x.ndim, 1) or x.ndim == 0:
            raise ValueError(f"fake_quant: axis {axis} is out of range for x of shape {x.shape}")
        axis = axis % x.ndim
        if tuple(scale.shape) != (x.shape[axis],):
            raise ValueError(
                f"fake_quant: per-channel scales along axis {axis} must have shape "
                f"({x.shape[axis]},) for x of shape {tuple(x.shape)}, got "
                f"{tuple(scale.shape)}"
            )
    _check_scale_values(scale, "fake_quant")
    # Computed in float32, as the int8 layers quantize their inputs.
    y = _fake_quant(x.astype(np.float32), scale.astype(np.float32), bits, axis)
    return y.astype(x.dtype)


# ----------------------------------------------------------------------------
# QAT layers
# ----------------------------------------------------------------------------


def _weight_scale(w, qmax):
    """Per-output-channel scale from the current weights (last axis: Dense's out,
    Conv's O of HWIO); an all-zero channel gets 1."""
    absmax = fnp.max(fnp.abs(w), axis=tuple(range(w.ndim - 1)), initial=0)
    return stop_gradient(fnp.where(absmax > 0, absmax / qmax, 1.0).astype(w.dtype))


def _grad_scaled(s, factor):
    """``s`` with its gradient multiplied by ``factor`` (LSQ's gradient scaling)."""
    return s * factor + stop_gradient(s - s * factor)


class QATLayer(Layer):
    """A Dense or Conv that trains with fake-quantized weights and input (``qat_model``).

    x: what the wrapped layer takes ((batch, ..., features) for Dense, (batch, *spatial,
    channels) for Conv).

    The weights are fake-quantized per output channel with scales from their current
    ``max |w|`` (``stop_gradient``: the scale follows the weights, it is not learned);
    the input per tensor with one activation scale, then the wrapped layer runs on
    both. The activation scale is

    - tracked (``learn_scales=False``, the default): the state ``{"x_absmax": ()}``
      holds an exponential moving average of ``max |x|``; in training it becomes
      ``momentum * old + (1 - momentum) * max|x|`` (the batch's value at once when it
      is still 0, i.e. never observed) and in evaluation it is used as it is. The scale
      is ``x_absmax / qmax``; an input whose state is still 0 is not quantized;
    - learned (``learn_scales=True``): a parameter ``"x_scale"`` next to ``"w"`` and
      ``"b"``, trained by its LSQ gradient (scaled by ``1 / sqrt(features * qmax)``);
      ``qat_init`` sets its starting value. The layer then has no state.

    Args:
      layer: the float ``nn.Dense`` or ``nn.Conv``.
      bits: the integer width of weights and activations, 2 to 8.
      momentum: the moving average's decay, in [0, 1).
      learn_scales: learn the activation scale instead of tracking it.

    Returns:
      A layer with the wrapped layer's name, params (plus ``"x_scale"`` when learned)
      and output. ``apply(params, x, state=state, train=...)`` returns ``(y,
      new_state)`` when tracking, ``y`` when learning.

    Raises:
      TypeError: ``layer`` is not a Dense or Conv.
      ValueError: ``bits`` or ``momentum`` out of range.
    """

    def __init__(self, layer, *, bits=8, momentum=0.99, learn_scales=False):
        if not quantizable(layer):
            raise TypeError(f"QATLayer wraps an nn.Dense or nn.Conv, got {layer!r}")
        super().__init__(name=layer.name)
        self.layer = layer
        self.bits = check_bits(bits, "QATLayer")
        if not 0 <= momentum < 1:
            raise ValueError(f"QATLayer: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.learn_scales = bool(learn_scales)
        self.stateful = not self.learn_scales

    def __repr__(self):
        return f"QATLayer({self.layer!r}, bits={self.bits})"

    def default_name(self):
        return self.layer.default_name()

    def param_specs(self, input_shape):
        specs = dict(self.layer.param_specs(input_shape))
        if self.learn_scales:
            specs["x_scale"] = Param((), _unit_init, np.float32)
        return specs

    def state_specs(self, input_shape):
        if self.learn_scales:
            return {}
        return {"x_absmax": Param((), _zeros_init, np.float32)}

    def output_shape(self, input_shape):
        return self.layer.output_shape(input_shape)

    def expected_input_shape(self, params, input_shape):
        return self.layer.expected_input_shape(params, input_shape)

    def quantized_params(self, params):
        """The float layer's params with fake-quantized weights (for inspection).

        Args:
          params: this layer's params.

        Returns:
          ``{"w": fake_quant(w, per-channel scale), "b": b}`` (no ``"x_scale"``).
        """
        qmax = _qmax(self.bits)
        w = params["w"]
        out = {k: v for k, v in params.items() if k != "x_scale"}
        out["w"] = fake_quant(w, _weight_scale(w, qmax), bits=self.bits, axis=w.ndim - 1)
        return out

    def forward(self, params, x, *, train=False, state=None):
        qmax = _qmax(self.bits)
        x = fnp.asarray(x)
        if self.learn_scales:
            feats = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
            s = _grad_scaled(params["x_scale"], 1.0 / np.sqrt(feats * qmax))
            # A learned scale that stepped to <= 0 would flip or blow up the input.
            s = fnp.maximum(s, np.float32(1e-8))
            xq = fake_quant(x, s.astype(x.dtype), bits=self.bits)
            return self.layer.forward(self.quantized_params(params), xq)
        old = state["x_absmax"]
        if train:
            batch = stop_gradient(fnp.max(fnp.abs(x)).astype(old.dtype))
            m = self.momentum
            absmax = fnp.where(old > 0, m * old + (1 - m) * batch, batch)
            new_state = {"x_absmax": absmax}
        else:
            absmax, new_state = old, state
        seen = absmax > 0
        s = fnp.where(seen, absmax / qmax, 1.0).astype(x.dtype)
        xq = fnp.where(seen, fake_quant(x, s, bits=self.bits), x)
        return self.layer.forward(self.quantized_params(params), xq), new_state


def _zeros_init(key, shape, dtype):
    return fnp.zeros(shape, dtype)


def _unit_init(key, shape, dtype):
    return fnp.ones(shape, dtype)


# ----------------------------------------------------------------------------
# Whole models
# ----------------------------------------------------------------------------


def _qat_layers(qat):
    """``{path: QATLayer}`` for every QAT layer of a QAT model."""
    return {path: lyr for path, lyr in leaves(qat) if isinstance(lyr, QATLayer)}


def qat_model(model, *, bits=8, momentum=0.99, learn_scales=False):
    """The quantization-aware version of ``model``: every Dense/Conv fake-quantizes.

    Each ``nn.Dense`` and ``nn.Conv`` (also inside ``Sequential``, ``Parallel`` and
    ``Residual``, at any depth) becomes a ``QATLayer``: weights fake-quantized per
    output channel from their current ``max |w|``, the input per tensor with a tracked
    (or learned) activation scale. Other layers are kept. The model has the same
    structure, layer names and params tree as ``model``, so trained float params are
    used as they are: ``qparams, state = qat_init(qmodel, float_params, x_sample)``, then
    train with any optimizer, ``apply(params, x, state=state, train=True)`` returning
    ``(y, new_state)``. ``convert_qat`` makes the int8 model afterwards.

    Args:
      model: a float model (a layer; usually an ``nn.Sequential``).
      bits: the integer width of weights and activations, 2 to 8 (``convert_qat``
        needs 8).
      momentum: decay of the tracked ``max |x|`` moving average, in [0, 1).
      learn_scales: learn each activation scale as a param ``"x_scale"`` (LSQ)
        instead of tracking it as state.

    Returns:
      The QAT model, a new layer; ``model`` is not changed.

    Raises:
      ValueError: ``bits`` or ``momentum`` out of range, or the model has no Dense or
        Conv to quantize.

    Example:
      >>> from funcnet import compress
      >>> model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 4))
      >>> qmodel = compress.qat_model(model)
      >>> x = random.normal(random.key(1), (16, 4))
      >>> qparams, state = compress.qat_init(qmodel, params, x)  # params as they are
      >>> y, state = qmodel.apply(qparams, x, state=state, train=True)
      >>> y.shape, sorted(state), sorted(state["dense_0"])
      ((16, 2), ['dense_0', 'dense_1'], ['x_absmax'])
    """
    check_bits(bits, "qat_model")
    count = [0]

    def visit(layer, path):
        if quantizable(layer):
            count[0] += 1
            return QATLayer(layer, bits=bits, momentum=momentum, learn_scales=learn_scales)
        return layer

    qat = map_leaves(model, visit)
    if not count[0]:
        raise ValueError(f"qat_model: {model!r} has no nn.Dense or nn.Conv to quantize")
    return qat


def _learns(layers):
    return any(lyr.learn_scales for lyr in layers.values())


def _require_qat(qmodel, where):
    layers = _qat_layers(qmodel)
    if not layers:
        raise TypeError(
            f"{where}: {qmodel!r} has no QAT layers; make it with compress.qat_model(model)"
        )
    return layers


def _float_params(layers, params):
    """``params`` without the learned ``"x_scale"`` entries: the float model's tree."""
    if not _learns(layers):
        return params
    out = copy_dicts(params)
    for path in layers:
        subtree(out, path).pop("x_scale", None)
    return out


def _tracking_twin(qmodel):
    """The same model with every QAT layer tracking its activation range (as state)."""

    def visit(layer, path):
        if isinstance(layer, QATLayer):
            return QATLayer(layer.layer, bits=layer.bits, momentum=layer.momentum)
        return layer

    return map_leaves(qmodel, visit)


def _zero_state(model, input_shape):
    """The initial state of ``model`` (drawn without a key: no params are made)."""
    return create(model, "", model.state_specs(input_shape), None, what="state", with_key=False)


def qat_init(qmodel, params, x, state=None):
    """QAT params and state from float params: observe one batch to set the scales.

    Runs ``qmodel`` once in training mode on ``x`` (its output is dropped, nothing is
    trained) so that every tracked activation range is that batch's ``max |x|`` at its
    layer; with ``learn_scales=True`` the learned scales start at ``max |x| / qmax``.
    The float params are used unchanged, and the state of other layers (BatchNorm) is
    ``state`` unchanged. (Without a sample batch, ``state =
    qmodel.init_with_state(key, input_shape)[1]`` works too: the first training step
    records the ranges.)

    Args:
      qmodel: a model from ``qat_model``.
      params: the float model's params (trained, or fresh from ``model.init``).
      x: a sample batch of inputs.
      state: the float model's state, for a model with stateful layers (BatchNorm);
        None for their initial state.

    Returns:
      ``(qat_params, qat_state)``: ``params`` (plus each learned ``"x_scale"``) and the
      state for ``qmodel.apply(..., state=qat_state)``: ``state`` plus each tracked
      ``"x_absmax"`` (``{}`` when the scales are learned and no layer keeps state).

    Raises:
      TypeError: ``qmodel`` is not a QAT model.
      LayerError: ``params`` or ``state`` do not fit the model.
    """
    layers = _require_qat(qmodel, "qat_init")
    learn = _learns(layers)
    observer = _tracking_twin(qmodel) if learn else qmodel
    float_params = _float_params(layers, params)
    x = fnp.asarray(x)
    input_shape = (-1,) + tuple(x.shape[1:])
    start = copy_dicts(_zero_state(observer, input_shape))
    for path, value in _flat_entries(state or {}):
        set_at(start, path, value)
    # One compiled program: run eagerly, the first call of a model compiles each op.
    observe = jit(lambda p, s, x: observer.apply(p, x, state=s, train=True)[1])
    seen = observe(float_params, start, x)
    out_state = copy_dicts(_zero_state(qmodel, input_shape) if state is None else state)
    out_params = copy_dicts(float_params) if learn else params
    for path, lyr in layers.items():
        absmax = subtree(seen, path)["x_absmax"]
        if learn:
            scale = fnp.where(absmax > 0, absmax / np.float32(_qmax(lyr.bits)), 1.0)
            set_at(out_params, join(path, "x_scale"), scale.astype(np.float32))
        else:
            set_at(out_state, join(path, "x_absmax"), absmax)
    return out_params, out_state


def _flat_entries(t, prefix=""):
    """``[(path, leaf)]`` of a nested dict (the path joined by '/')."""
    out = []
    for k, v in t.items():
        if isinstance(v, dict):
            out += _flat_entries(v, join(prefix, k))
        else:
            out.append((join(prefix, k), v))
    return out


def activation_scales(qmodel, params, state=None):
    """The per-tensor activation scale of every QAT layer, tracked or learned.

    Args:
      qmodel: a model from ``qat_model``.
      params: its params (learned scales are read from them).
      state: its state (tracked ranges are read from it); may be None when the scales
        are learned.

    Returns:
      ``{layer path: scale}``, Python floats, keyed by the layer's path in the params
      tree (``"dense_0"``, ``"sequential_0/conv_1"``): what ``quantize_model`` takes
      as ``act_scales``.

    Raises:
      TypeError: ``qmodel`` is not a QAT model.
      ValueError: a tracked range was never observed (still 0: run ``qat_init`` or a
        training step first), a learned scale is <= 0 or not finite, or ``state`` is
        missing.
    """
    layers = _require_qat(qmodel, "activation_scales")
    scales = {}
    for path, lyr in layers.items():
        where = f"activation_scales: layer {path or '(the model)'}"
        if lyr.learn_scales:
            scale = float(np.asarray(subtree(params, path)["x_scale"]))
            if not (np.isfinite(scale) and scale > 0):
                raise ValueError(f"{where}: the learned x_scale is {scale!r}, not finite > 0")
        else:
            if state is None:
                raise ValueError(f"{where} tracks its activation range in the state: pass it")
            absmax = np.float32(np.asarray(subtree(state, path)["x_absmax"]))
            if not absmax > 0:
                raise ValueError(
                    f"{where}: its activation range was never observed (x_absmax is "
                    f"{float(absmax)}); run compress.qat_init or a training step first"
                )
            scale = float(absmax / np.float32(_qmax(lyr.bits)))
        scales[path] = scale
    return scales


def float_model(qmodel):
    """The float model a QAT model was made from (its Dense/Conv layers unwrapped).

    Args:
      qmodel: a model from ``qat_model``.

    Returns:
      A model with ``qmodel``'s structure whose QAT layers are the original float
      layers; the QAT params without ``"x_scale"`` fit it.
    """

    def visit(layer, path):
        return layer.layer if isinstance(layer, QATLayer) else layer

    return map_leaves(qmodel, visit)


def convert_qat(qmodel, params, state=None):
    """The int8 model of a trained QAT model (post-training quantization's layers).

    Builds ``quantize_model(float_model, float_params, act_scales=...)`` with the
    activation scales the QAT model tracked (``state``) or learned (``params``), so no
    calibration is needed. The int8 model computes with the same integers as the QAT
    model's evaluation (``train=False``), so their outputs agree up to float rounding
    (and a rare flip of one rounding step where a weight scale is computed differently).

    Args:
      qmodel: a model from ``qat_model(..., bits=8)``.
      params: its trained params.
      state: its state (needed when the scales are tracked).

    Returns:
      ``(int8_model, int8_params)`` as ``quantize_model`` returns them.

    Raises:
      TypeError: ``qmodel`` is not a QAT model.
      ValueError: a layer quantizes to other than 8 bits, or a scale is unusable (see
        ``activation_scales``).

    Example:
      >>> from funcnet import compress
      >>> model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])
      >>> params, _ = model.init(random.key(0), (-1, 4))
      >>> qmodel = compress.qat_model(model)
      >>> x = random.normal(random.key(1), (16, 4))
      >>> qparams, state = compress.qat_init(qmodel, params, x)
      >>> int8_model, int8_params = compress.convert_qat(qmodel, qparams, state)
      >>> y_qat, _ = qmodel.apply(qparams, x, state=state)
      >>> bool(fnp.allclose(int8_model.apply(int8_params, x), y_qat, atol=1e-5))
      True
    """
    layers = _require_qat(qmodel, "convert_qat")
    for path, lyr in layers.items():
        if lyr.bits != 8:
            raise ValueError(
                f"convert_qat: layer {path or '(the model)'} fake-quantizes to {lyr.bits} "
                "bits; the integer model is int8 (make the QAT model with bits=8)"
            )
    scales = activation_scales(qmodel, params, state)
    return quantize_model(float_model(qmodel), _float_params(layers, params), act_scales=scales)
