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

__all__ = []
