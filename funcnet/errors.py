"""funcnet's exception types, under jax.errors' names where jax has the same error."""

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
