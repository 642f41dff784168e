"""Exporting jitted functions as self-contained artifacts, as `jax.export`.

`export(fn.jit(f))(*args)` traces and lowers `f` for the arguments' shapes and dtypes
and returns an `Exported`; `Exported.serialize()` writes it as bytes (StableHLO
portable bytecode plus metadata) and `deserialize(data).call(*args)` runs it, in this
process or another one that never imports `f`'s code. See docs/export.md.
"""

from funcnet.export._exported import (
    CALLING_CONVENTION_VERSION,
    MAXIMUM_CALLING_CONVENTION_VERSION,
    MINIMUM_CALLING_CONVENTION_VERSION,
    Exported,
    default_stablehlo_version,
    deserialize,
    export,
)
from funcnet.export._format import FORMAT_VERSION, ArtifactError

__all__ = [
    "CALLING_CONVENTION_VERSION",
    "FORMAT_VERSION",
    "MAXIMUM_CALLING_CONVENTION_VERSION",
    "MINIMUM_CALLING_CONVENTION_VERSION",
    "ArtifactError",
    "Exported",
    "default_stablehlo_version",
    "deserialize",
    "export",
]
