"""Turning examples into batches, and checking that every batch has one layout.

Two halves, run in two places. `BatchFetcher` runs where grain runs the pipeline (a
worker thread or a worker process): it reads the examples of one batch, applies the
per-example maps and stacks them, and raises a clear error on ragged examples.
`BatchSpec` runs in the loader's own process, on every batch before it is copied to the
device: the first batch fixes each field's dtype and per-example shape, and later
batches must match (a worker process cannot hold that record for the whole loader).
"""

import inspect

import numpy as np

from funcnet import tree
from funcnet.config import config
from funcnet.core import dtypes

__all__ = ["BatchFetcher", "BatchSpec", "field_name", "takes_rng"]


def field_name(path) -> str:
    """A readable name for a tree path: ``image``, ``inputs/0``; "" for the root."""
    parts = []
    for key in path:
        for attr in ("key", "idx", "name"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def _describe(name: str) -> str:
    return f"field {name!r}" if name else "the examples (array elements)"


def _as_array(value):
    """One example's leaf as an array; Python scalars take funcnet's default dtypes
    (bool, int32, float32) as weakly typed values do, rather than NumPy's 64-bit ones."""
    if isinstance(value, bool):
        return np.asarray(value, np.bool_)
    if isinstance(value, int):
        return np.asarray(value, np.int32)
    if isinstance(value, float):
        return np.asarray(value, np.float32)
    return np.asarray(value)


def stack_examples(examples, source_indices):
    """Stacks a list of example pytrees leaf by leaf along a new first axis.

    Args:
      examples: a non-empty list of pytrees with the same structure.
      source_indices: the source index of each example, for error messages.

    Returns:
      One pytree of the same structure with stacked NumPy arrays at its leaves.

    Raises:
      ValueError: examples with different structures, or a field whose examples have
        different shapes or dtypes (the message names the field and what was seen).
    """
    first = examples[0]
    if type(first) is dict and all(isinstance(v, _LEAF_TYPES) for v in first.values()):
        keys = first.keys()
        if all(type(ex) is dict and ex.keys() == keys for ex in examples):
            # The common case, a flat dict of arrays: column by column, no tree walk.
            return {
                k: _stack_column(k, [_as_array(ex[k]) for ex in examples], source_indices)
                for k in keys
            }
    flat0, treedef = tree.flatten_with_path(first)
    columns = [[_as_array(leaf)] for _, leaf in flat0]
    for j in range(1, len(examples)):
        leaves, other = tree.flatten(examples[j])
        if other != treedef:
            raise ValueError(
                f"examples {source_indices[0]} and {source_indices[j]} of the source have "
                f"different structures and cannot be batched: {treedef} vs {other}"
            )
        for column, leaf in zip(columns, leaves, strict=True):
            column.append(_as_array(leaf))
    stacked = [
        _stack_column(field_name(path), column, source_indices)
        for (path, _), column in zip(flat0, columns, strict=True)
    ]
    return tree.unflatten(treedef, stacked)


_LEAF_TYPES = (np.ndarray, np.generic, bool, int, float)


def _stack_column(name, column, source_indices):
    shape, dtype = column[0].shape, column[0].dtype
    if any(a.shape != shape or a.dtype != dtype for a in column):
        _raise_mismatch(name, column, source_indices)
    return np.stack(column)


def _raise_mismatch(name, column, source_indices):
    shapes = {}
    for a, i in zip(column, source_indices, strict=True):
        shapes.setdefault((a.shape, str(a.dtype)), []).append(int(i))
    seen = "; ".join(
        f"{shape} {dtype} (source index {', '.join(map(str, idx[:3]))}"
        f"{', ...' if len(idx) > 3 else ''})"
        for (shape, dtype), idx in shapes.items()
    )
    kind = "shapes" if len({s for s, _ in shapes}) > 1 else "dtypes"
    raise ValueError(
        f"cannot batch {_describe(name)}: its examples have different {kind}: {seen}. "
        "Make them equal in a map function (crop, pad or cast each example)."
    )


class BatchFetcher:
    """Reads the examples of one batch of source indices and stacks them.

    Picklable when the source and the maps are (grain's worker processes receive it
    through cloudpickle, so lambdas and closures are fine).

    Args:
      source: the random-access source.
      maps: per-example functions applied in order; one whose second parameter is
        named ``rng`` is called ``fn(example, rng)`` with the batch's generator.
    """

    def __init__(self, source, maps):
        self.source = source
        self.maps = tuple((fn, takes_rng(fn)) for fn in maps)
        self.needs_rng = any(random for _, random in self.maps)
        # A source that gathers many examples at once (ArraySource.batch) skips the
        # per-example reads and the stacking; only when there is no per-example map.
        batch = getattr(source, "batch", None)
        self._gather = batch if callable(batch) and not self.maps else None

    def __call__(self, indices, rng=None):
        indices = np.asarray(indices)
        if self._gather is not None:
            return self._gather(indices)
        examples = []
        for i in indices.tolist():
            example = self.source[i]
            for fn, random in self.maps:
                example = fn(example, rng) if random else fn(example)
            examples.append(example)
        return stack_examples(examples, indices)


def takes_rng(fn) -> bool:
    """Whether a map function is random: its second parameter is named ``rng``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return len(params) >= 2 and params[1].name == "rng"


def _dtype_problem(dtype) -> str | None:
    """Why a batch field of this dtype cannot go to the device, or None."""
    if dtype in dtypes.SUPPORTED:
        if dtype in (np.dtype(np.float64), np.dtype(np.complex128)) and not config.enable_x64:
            return (
                f"{dtype}, which funcnet would narrow to 32 bits on the device (x64 is off); "
                "this is usually an accidental promotion (uint8 pixels minus a Python float "
                "give float64): return float32 from the map (x.astype(np.float32)) or "
                "enable x64"
            )
        return None
    return f"{dtype}, which has no device dtype (numeric and bool dtypes only)"


class BatchSpec:
    """The layout the first batch fixed: structure, and each field's dtype and shape.

    ``check(batch, number)`` validates a host batch: dtypes funcnet can place on the
    device, then the same structure, dtypes and per-example shapes as the first batch.
    """

    def __init__(self):
        self.treedef = None
        self.fields = None  # [(name, dtype, shape without the batch axis)]

    def check(self, batch, number: int):
        flat, treedef = tree.flatten_with_path(batch)
        fields = []
        for path, leaf in flat:
            name = field_name(path)
            if not isinstance(leaf, np.ndarray):
                leaf = np.asarray(leaf)
            if leaf.ndim == 0:
                raise ValueError(
                    f"batch {number}: {_describe(name)} is a scalar, not a batch of examples"
                )
            fields.append((name, leaf.dtype, leaf.shape[1:]))
        if self.fields is None:
            for name, dtype, _ in fields:
                problem = _dtype_problem(dtype)
                if problem is not None:
                    raise TypeError(
                        f"{_describe(name)} of the batches has dtype {problem} "
                        "(from the source or a map function)"
                    )
            self.treedef, self.fields = treedef, fields
            return
        if treedef != self.treedef:
            raise ValueError(
                f"batch {number} has structure {treedef}, but the first batch had "
                f"{self.treedef}; every example must have the same fields"
            )
        for (name, dtype, shape), (_, dtype0, shape0) in zip(fields, self.fields, strict=True):
            if dtype != dtype0:
                raise TypeError(
                    f"batch {number}: {_describe(name)} has dtype {dtype}, but the first "
                    f"batch had {dtype0}; a map function must return one dtype per field"
                )
            if shape != shape0:
                raise ValueError(
                    f"batch {number}: {_describe(name)} has per-example shape {shape}, but "
                    f"the first batch had {shape0}; every batch must have the same shapes"
                )
