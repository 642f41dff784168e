"""funcnet's exception types, under jax.errors' names where jax has the same error.

Each takes one argument, the message (what went wrong, where in the user's code, and
how to fix it), as any Python exception; they add no attributes.

- `FuncnetError`: the base class of funcnet's own errors.
- `ConcretizationError` (also `ConcretizationTypeError`, jax's name; a `TypeError`):
  Python needed a concrete value (an `if`, `int()`, a shape) but got a traced one,
  inside jit or another staged transformation. Its subclasses name the case:
  `TracerBoolConversionError` (`bool()`: a Python `if`/`while` on a traced value),
  `TracerIntegerConversionError` (`int()`, or a traced value used as an index or
  shape) and `TracerArrayConversionError` (`np.asarray()` of a traced value).
- `UnexpectedTracerError`: a traced value escaped the transformation that created it
  (stored in a global or a closure, say) and was used after it ended.

Example:
  >>> try:
  ...     fn.jit(lambda x: 1.0 if x > 0 else 0.0)(fnp.ones(()))
  ... except fn.errors.TracerBoolConversionError as e:
  ...     print(isinstance(e, fn.errors.ConcretizationTypeError), isinstance(e, TypeError))
  True True
"""

from funcnet.core.trace import (
    ConcretizationError,
    FuncnetError,
    TracerArrayConversionError,
    TracerBoolConversionError,
    TracerIntegerConversionError,
    UnexpectedTracerError,
)

ConcretizationTypeError = ConcretizationError  # jax's name for the general case

__all__ = [
    "ConcretizationError",
    "ConcretizationTypeError",
    "FuncnetError",
    "TracerArrayConversionError",
    "TracerBoolConversionError",
    "TracerIntegerConversionError",
    "UnexpectedTracerError",
]
