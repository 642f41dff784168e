"""Knowledge distillation: a loss on hard labels and temperature-softened teacher outputs.

Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network" (2015): the
student learns from the labels and from the teacher's softened class distribution,
``softmax(teacher_logits / T)``, whose small probabilities say which wrong classes look
alike. The soft term's gradient scales as ``1 / T^2``, so it is multiplied by ``T^2`` to
keep the two terms' balance independent of the temperature.
"""

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax
from funcnet.core import dtypes
from funcnet.nn.activations import log_softmax
from funcnet.nn.losses import softmax_cross_entropy

__all__ = ["distillation_loss"]


def _concrete_float(value):
    """`value` as a Python float, or None when it is traced (nothing to check now)."""
    try:
        return float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return None


def _check_hyper(temperature, alpha):
    t = _concrete_float(temperature)
    if t is not None and not (np.isfinite(t) and t > 0):
        raise ValueError(
            f"distillation_loss: temperature must be a finite positive number, got {temperature!r}"
        )
    a = _concrete_float(alpha)
    if a is not None and not 0.0 <= a <= 1.0:
        raise ValueError(f"distillation_loss: alpha must be in [0, 1], got {alpha!r}")


def _upcast(x):
    """Logits in at least float32: the softmax of bfloat16/float16 logits loses too much."""
    x = fnp.asarray(x)
    if not dtypes.is_float(x.dtype):
        raise TypeError(f"distillation_loss: logits must be floating, got dtype {x.dtype}")
    return x.astype(fnp.promote_types(x.dtype, fnp.float32))


def distillation_loss(student_logits, teacher_logits, labels, *, temperature=4.0, alpha=0.5):
    """``alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(p_teacher || p_student)``.

    With ``T = temperature``, ``p_teacher = softmax(teacher_logits / T)`` and
    ``p_student = softmax(student_logits / T)`` (Hinton et al. 2015), each term averaged
    over the batch (every axis but the last). The teacher's logits are under
    ``stop_gradient``: no gradient reaches the teacher. Computed in at least float32
    (bfloat16/float16 logits are upcast; their gradient comes back in their dtype).

    ``T^2 * KL`` equals PyTorch's ``T**2 * kl_div(log_softmax(s / T), log_softmax(t / T),
    reduction="batchmean", log_target=True)`` for ``(batch, classes)`` logits.

    Args:
      student_logits: the student's logits, ``(..., classes)``.
      teacher_logits: the teacher's logits, the same shape.
      labels: the hard targets: integer class ids of shape ``(...)``, or float one-hot or
        soft labels of shape ``(..., classes)`` (a probability distribution per example).
      temperature: ``T > 0`` (default 4.0); 1 is the plain softmax, larger is softer.
      alpha: the weight of the hard-label cross-entropy, in [0, 1] (default 0.5); 1 is
        plain training on the labels, 0 learns from the teacher alone.

    Returns:
      A scalar (float32, or float64 for float64 logits).

    Raises:
      ValueError: a temperature that is not finite and positive, an alpha outside [0, 1],
        teacher logits of another shape than the student's, or labels of the wrong shape
        (each message names the shapes).
      TypeError: non-floating logits.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import compress
      >>> s = fnp.array([[2.0, 0.0, -1.0]])
      >>> t = fnp.array([[3.0, 1.0, -2.0]])
      >>> round(float(compress.distillation_loss(s, t, fnp.array([0]), temperature=2.0)), 4)
      0.1574
    """
    name = "distillation_loss"
    _check_hyper(temperature, alpha)
    s = _upcast(student_logits)
    t = _upcast(teacher_logits)
    if s.ndim < 1:
        raise ValueError(f"{name}: logits need a class axis, got shape {tuple(s.shape)}")
    if tuple(s.shape) != tuple(t.shape):
        raise ValueError(
            f"{name}: student logits of shape {tuple(s.shape)} and teacher logits of shape "
            f"{tuple(t.shape)} must have the same shape"
        )
    labels = fnp.asarray(labels)
    if dtypes.is_float(labels.dtype):
        if tuple(labels.shape) != tuple(s.shape):
            raise ValueError(
                f"{name}: float (one-hot or soft) labels must have the logits' shape "
                f"{tuple(s.shape)}; got labels of shape {tuple(labels.shape)}"
            )
    elif tuple(labels.shape) != tuple(s.shape[:-1]):
        raise ValueError(
            f"{name}: integer labels must have the logits' shape without the class axis, "
            f"{tuple(s.shape[:-1])}; got labels of shape {tuple(labels.shape)} for logits "
            f"of shape {tuple(s.shape)}"
        )
    t = lax.stop_gradient(t)
    hard = softmax_cross_entropy(s, labels)
    log_p_student = log_softmax(s / temperature, axis=-1)
    log_p_teacher = log_softmax(t / temperature, axis=-1)
    # log_softmax is finite for finite logits, so p * (log p - log q) needs no 0 log 0 care.
    kl = fnp.sum(fnp.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1)
    soft = fnp.mean(kl) * (temperature * temperature)
    return alpha * hard + (1 - alpha) * soft
