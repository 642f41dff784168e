"""Smaller and faster models: pruning, quantization, distillation, mixed precision.

Each part is a pure transformation of parameter trees, of a model's apply function, of
an optimizer, or of a traced program, so it composes with ``jit``, ``grad``, ``vmap``
and ``funcnet.optim``:

- pruning: magnitude masks (global or per layer; unstructured, N:M, channel-wise), a
  gradual sparsity schedule applied as an optimizer transformation, a sparsity report;
- post-training int8 quantization: per-channel weights, per-tensor activations
  calibrated on sample batches, layers whose matmul/convolution runs on integers with
  int32 accumulation; int4 weight-only;
- quantization-aware training: fake quantization with a straight-through gradient,
  converted afterwards to the int8 model;
- knowledge distillation: a loss on hard labels and temperature-softened teacher outputs;
- mixed precision: a dtype policy for a model's apply function and dynamic loss scaling
  for float16 as an optimizer transformation;
- ``quantize_program``: a rewrite of a traced program's float32 ``dot_general``s into
  their int8 form, without touching the model's code.
"""

from funcnet.compress.calibration import calibrate
from funcnet.compress.distill import distillation_loss
from funcnet.compress.loss_scaling import (
    DynamicLossScaleState,
    all_finite,
    dynamic_loss_scale,
    loss_scale,
    scale_loss,
)
from funcnet.compress.masks import apply_masks, magnitude_prune
from funcnet.compress.model_quant import quantize_model
from funcnet.compress.precision import Policy, cast_floating, mixed_precision
from funcnet.compress.program import ProgramQuantization, QuantizedFunction, quantize_program
from funcnet.compress.qat import (
    QATLayer,
    activation_scales,
    convert_qat,
    fake_quant,
    float_model,
    qat_init,
    qat_model,
)
from funcnet.compress.qlayers import Int4Conv, Int4Dense, QuantizedConv, QuantizedDense
from funcnet.compress.quantize import (
    dequantize,
    pack_int4,
    param_bytes,
    quantize_per_channel,
    quantize_per_tensor,
    unpack_int4,
)
from funcnet.compress.schedules import PruningState, masks_of, polynomial_decay, pruning
from funcnet.compress.sparsity_stats import (
    LayerSparsity,
    SparsityReport,
    sparsity,
    sparsity_report,
)

__all__ = [
    "DynamicLossScaleState",
    "Int4Conv",
    "Int4Dense",
    "LayerSparsity",
    "Policy",
    "ProgramQuantization",
    "PruningState",
    "QATLayer",
    "QuantizedConv",
    "QuantizedDense",
    "QuantizedFunction",
    "SparsityReport",
    "activation_scales",
    "all_finite",
    "apply_masks",
    "calibrate",
    "cast_floating",
    "convert_qat",
    "dequantize",
    "distillation_loss",
    "dynamic_loss_scale",
    "fake_quant",
    "float_model",
    "loss_scale",
    "magnitude_prune",
    "masks_of",
    "mixed_precision",
    "pack_int4",
    "param_bytes",
    "polynomial_decay",
    "pruning",
    "qat_init",
    "qat_model",
    "quantize_model",
    "quantize_per_channel",
    "quantize_per_tensor",
    "quantize_program",
    "scale_loss",
    "sparsity",
    "sparsity_report",
    "unpack_int4",
]
