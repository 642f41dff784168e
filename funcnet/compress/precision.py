"""Mixed precision: a dtype policy applied to a model's apply function.

A ``Policy`` names three dtypes, as DeepMind's jmp does: the parameters' storage dtype
(what the optimizer updates, usually float32), the compute dtype (bfloat16 or float16:
the matmuls and convolutions run on it) and the output dtype (float32 again, so the loss
and its reduction run in full precision). ``mixed_precision(apply, policy)`` wraps an
apply function: the parameters and the floating inputs are cast to the compute dtype on
the way in, the floating outputs to the output dtype on the way out. The casts are
ordinary ``convert_element_type`` equations, so their transposes bring gradients back in
the parameters' own dtype: a float32 parameter gets a float32 gradient.
"""

import dataclasses
import functools

import numpy as np

import funcnet.numpy as fnp
from funcnet import tree as _tree

__all__ = ["Policy", "cast_floating", "mixed_precision"]

# Short names accepted by Policy.from_string (jmp's spellings).
_DTYPE_ALIASES = {
    "float32": "float32",
    "f32": "float32",
    "full": "float32",
    "single": "float32",
    "float16": "float16",
    "f16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float64": "float64",
    "f64": "float64",
    "double": "float64",
}
_FIELD_ALIASES = {
    "params": "param_dtype",
    "param": "param_dtype",
    "p": "param_dtype",
    "compute": "compute_dtype",
    "c": "compute_dtype",
    "output": "output_dtype",
    "o": "output_dtype",
}


def _floating_dtype(value, what, owner="Policy"):
    """`value` (a dtype, a dtype class such as fnp.bfloat16, or a name) as a NumPy dtype."""
    if isinstance(value, str):
        value = _DTYPE_ALIASES.get(value.strip().lower(), value)
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{owner}: {what} must be a floating dtype, got {value!r}") from None
    if not fnp.issubdtype(dtype, fnp.floating):
        raise TypeError(f"{owner}: {what} must be a floating dtype, got {dtype}")
    return dtype


def _is_floating(leaf):
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and fnp.issubdtype(dtype, fnp.floating)


def cast_floating(tree, dtype):
    """Casts the floating leaves of ``tree`` to ``dtype``; other leaves are kept as they are.

    Integer, boolean and complex arrays (labels, PRNG keys, step counters) and Python
    scalars are left untouched; NumPy floating arrays that are cast become funcnet
    arrays (those already in ``dtype`` are returned as they are).

    Args:
      tree: a pytree.
      dtype: the floating dtype (as ``Policy`` takes it: a dtype, ``fnp.bfloat16``, or a
        name such as ``"bf16"``), or None to return ``tree`` unchanged.

    Returns:
      The tree with its floating array leaves in ``dtype``.

    Raises:
      TypeError: ``dtype`` is not a floating dtype (casting parameters to an integer
        dtype would truncate them).

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import compress
      >>> t = compress.cast_floating({'w': fnp.ones(2), 'n': fnp.ones(2, fnp.int32)},
      ...                            fnp.bfloat16)
      >>> str(t['w'].dtype), str(t['n'].dtype)
      ('bfloat16', 'int32')
    """
    if dtype is None:
        return tree
    dtype = _floating_dtype(dtype, "dtype", owner="cast_floating")
    return _tree.tree_map(
        lambda x: fnp.asarray(x).astype(dtype) if _is_floating(x) and x.dtype != dtype else x,
        tree,
    )


@dataclasses.dataclass(frozen=True)
class Policy:
    """The dtypes of a mixed-precision model: parameters, computation and outputs.

    Frozen (hashable): it can be a static argument of ``jit``. Each dtype is stored as a
    NumPy dtype; the constructor accepts dtype classes (``fnp.bfloat16``), dtypes and
    names (``"bf16"``).

    Attributes:
      param_dtype: the dtype parameters are stored and updated in (default float32).
      compute_dtype: the dtype the model runs in (default float32).
      output_dtype: the dtype of the outputs; None (default) leaves them in the dtype
        the computation gave (the compute dtype).

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import compress
      >>> p = compress.Policy(compute_dtype=fnp.bfloat16, output_dtype=fnp.float32)
      >>> str(p.cast_to_compute({'w': fnp.ones(2)})['w'].dtype)
      'bfloat16'
      >>> p == compress.Policy.from_string("params=float32,compute=bf16,output=f32")
      True
    """

    param_dtype: object = np.dtype(np.float32)
    compute_dtype: object = np.dtype(np.float32)
    output_dtype: object = None

    def __post_init__(self):
        for field in ("param_dtype", "compute_dtype", "output_dtype"):
            value = getattr(self, field)
            if value is None and field == "output_dtype":
                continue
            object.__setattr__(self, field, _floating_dtype(value, field))

    @classmethod
    def from_string(cls, spec):
        """A policy from a string such as ``"params=float32,compute=bfloat16,output=float32"``.

        As jmp's ``get_policy``: keys ``params``/``p``, ``compute``/``c``,
        ``output``/``o``; dtype names or the short forms ``f32``, ``bf16``, ``f16``,
        ``half``, ``full``. A lone dtype (``"float32"``) sets all three. Keys left out keep
        their defaults (float32, float32, None).

        Args:
          spec: the policy as text.

        Returns:
          A ``Policy``.

        Raises:
          ValueError: an unknown key, a key given twice, or a part without ``=``.
          TypeError: a dtype that is not floating.
        """
        if not isinstance(spec, str):
            raise TypeError(f"Policy.from_string: expected a string, got {type(spec).__name__}")
        text = spec.strip()
        if text and "=" not in text:
            dtype = _floating_dtype(text, "the policy's dtype")
            return cls(dtype, dtype, dtype)
        fields = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            field = _FIELD_ALIASES.get(key.strip().lower())
            if not sep or field is None:
                raise ValueError(
                    f"Policy.from_string: cannot read {part!r} in {spec!r}; expected "
                    "'params=<dtype>', 'compute=<dtype>' or 'output=<dtype>' separated by commas"
                )
            if field in fields:
                raise ValueError(f"Policy.from_string: {key.strip()!r} is given twice in {spec!r}")
            fields[field] = value.strip()
        return cls(**fields)

    def cast_to_param(self, tree):
        """The floating leaves of ``tree`` in ``param_dtype`` (others untouched).

        Args:
          tree: a pytree.

        Returns:
          The cast tree.
        """
        return cast_floating(tree, self.param_dtype)

    def cast_to_compute(self, tree):
        """The floating leaves of ``tree`` in ``compute_dtype`` (others untouched).

        Args:
          tree: a pytree.

        Returns:
          The cast tree.
        """
        return cast_floating(tree, self.compute_dtype)

    def cast_to_output(self, tree):
        """The floating leaves of ``tree`` in ``output_dtype``; unchanged when it is None.

        Args:
          tree: a pytree.

        Returns:
          The cast tree.
        """
        return cast_floating(tree, self.output_dtype)


def mixed_precision(apply, policy):
    """Wraps ``apply(params, *args, **kwargs)`` to run in ``policy.compute_dtype``.

    The wrapped function casts ``params`` and the floating leaves of ``args`` and
    ``kwargs`` to the compute dtype, calls ``apply``, and casts the floating leaves of
    its output (a tuple or any pytree: ``(y, new_state)`` included) to the output dtype.
    Integer and boolean leaves (labels, PRNG keys) and Python scalars pass unchanged.
    The parameters keep their own dtype outside: gradients with respect to float32
    parameters come back float32 (the transpose of each cast).

    A stateful model's state (BatchNorm's running statistics) is an input and an output
    like any other: it goes in cast to the compute dtype, its update is computed there,
    and it comes out in the output dtype (float32 under the usual policy; in the compute
    dtype when ``output_dtype`` is None). The running averages are then only as precise
    as one compute-dtype update (bfloat16 keeps ~3 digits); wrap such a model with a
    float32 policy, or keep its normalization layers outside the wrapped part, when the
    statistics matter.

    Args:
      apply: a function ``apply(params, *args, **kwargs)``, e.g. ``model.apply``.
      policy: a ``Policy``.

    Returns:
      The wrapped function, with ``apply``'s signature.

    Raises:
      TypeError: ``policy`` is not a ``Policy`` or ``apply`` is not callable.

    Example:
      >>> import funcnet.numpy as fnp
      >>> from funcnet import compress, nn, random
      >>> model = nn.Dense(3)
      >>> params, _ = model.init(random.key(0), (-1, 4))
      >>> policy = compress.Policy(fnp.float32, fnp.bfloat16, fnp.float32)
      >>> apply = compress.mixed_precision(model.apply, policy)
      >>> y = apply(params, fnp.ones((2, 4)))
      >>> str(y.dtype), y.shape
      ('float32', (2, 3))
    """
    if not isinstance(policy, Policy):
        raise TypeError(
            f"mixed_precision: policy must be a compress.Policy, got {type(policy).__name__}"
        )
    if not callable(apply):
        raise TypeError(f"mixed_precision: apply must be callable, got {type(apply).__name__}")

    @functools.wraps(apply)
    def wrapped(params, *args, **kwargs):
        params, args, kwargs = policy.cast_to_compute((params, args, kwargs))
        return policy.cast_to_output(apply(params, *args, **kwargs))

    return wrapped
