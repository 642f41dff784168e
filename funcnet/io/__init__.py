"""Saving and loading: pytrees of arrays to safetensors files (`save`, `load`, re-exported
as `fn.save` and `fn.load`) and the steps they are made of, which checkpoints reuse
(`to_host` copies a tree to the host, `write` writes it atomically, `read` and
`from_host` do the reverse)."""

from funcnet.io.checkpoint import CheckpointManager, StepAlreadyExistsError
from funcnet.io.tensors import HostTree, from_host, leaf_name, load, read, save, to_host, write

__all__ = [
    "CheckpointManager",
    "HostTree",
    "StepAlreadyExistsError",
    "from_host",
    "leaf_name",
    "load",
    "read",
    "save",
    "to_host",
    "write",
]
