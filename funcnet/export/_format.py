"""The serialized form of an `Exported`: a small versioned container of our own.

Layout (integers little-endian)::

    magic            8 bytes   b"\\x89FNX\\r\\n\\x1a\\n"
    format version   uint32    FORMAT_VERSION
    metadata size    uint64    n
    checksum         32 bytes  SHA-256 of everything after it (metadata and modules)
    metadata         n bytes   UTF-8 JSON (see `Exported.serialize`)
    modules          the StableHLO portable artifacts, one per platform, back to back,
                     with the sizes the metadata lists

Trees are JSON descriptions of their nodes (dicts with their keys, lists, tuples,
None, leaves), so that reading an artifact never unpickles anything.
"""

import hashlib
import json
import struct

import numpy as np

from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray

MAGIC = b"\x89FNX\r\n\x1a\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIQ32s")


class ArtifactError(ValueError):
    """An exported artifact that cannot be read: corrupt, truncated, or written by a
    funcnet whose format or calling convention this one does not know."""


# --- container -----------------------------------------------------------------------------


def pack(metadata: dict, modules: list[bytes]) -> bytes:
    meta = json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode()
    body = meta + b"".join(modules)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(meta), hashlib.sha256(body).digest())
    return header + body


def unpack(data) -> tuple[dict, list[bytes]]:
    """The metadata and module bytes of an artifact; ArtifactError when it is not one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"deserialize expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise ArtifactError(
            "not a funcnet exported artifact (it does not start with the .fnx magic bytes)"
        )
    if len(data) < _HEADER.size:
        raise ArtifactError(
            f"truncated funcnet artifact: {len(data)} bytes, shorter than its "
            f"{_HEADER.size}-byte header"
        )
    _, version, meta_size, digest = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"this artifact uses container format version {version}; this funcnet reads "
            f"format version {FORMAT_VERSION} only (export it again with this funcnet, or "
            "load it with the funcnet that wrote it)"
        )
    body = data[_HEADER.size :]
    if len(body) < meta_size:
        raise ArtifactError(
            f"truncated funcnet artifact: its metadata alone needs {meta_size} bytes, "
            f"{len(body)} are left after the header"
        )
    try:
        metadata = json.loads(body[:meta_size])
        sizes = [int(m["size"]) for m in metadata["modules"]]
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"corrupt funcnet artifact: unreadable metadata ({e})") from None
    if len(body) != meta_size + sum(sizes):
        what = "truncated" if len(body) < meta_size + sum(sizes) else "corrupt"
        raise ArtifactError(
            f"{what} funcnet artifact: {len(data)} bytes, expected "
            f"{_HEADER.size + meta_size + sum(sizes)}"
        )
    if hashlib.sha256(body).digest() != digest:
        raise ArtifactError("corrupt funcnet artifact: its SHA-256 checksum does not match")
    modules, at = [], meta_size
    for size in sizes:
        modules.append(body[at : at + size])
        at += size
    return metadata, modules


# --- avals ---------------------------------------------------------------------------------

_DTYPES = {np.dtype(d).name: np.dtype(d) for d in dtypes.SUPPORTED}


def aval_to_json(aval: ShapedArray) -> dict:
    return {"shape": list(aval.shape), "dtype": aval.dtype.name, "weak_type": aval.weak_type}


def aval_from_json(desc: dict) -> ShapedArray:
    try:
        dtype = _DTYPES[desc["dtype"]]
        return ShapedArray(tuple(desc["shape"]), dtype, bool(desc["weak_type"]))
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(f"corrupt funcnet artifact: unreadable aval {desc!r:.80}") from None


# --- trees ---------------------------------------------------------------------------------


def tree_to_json(treedef, what: str) -> dict:
    """A JSON description of a tree structure; TypeError naming the first node type that
    has none (only dict, list, tuple and None nodes can be rebuilt without the code)."""
    data = treedef.node_data()
    if data is None:
        return {"t": "leaf"}
    kind, aux = data
    children = [tree_to_json(c, what) for c in treedef.children()]
    if kind is type(None):
        return {"t": "none"}
    if kind is tuple:
        return {"t": "tuple", "c": children}
    if kind is list:
        return {"t": "list", "c": children}
    if kind is dict:
        keys = list(aux)
        bad = [k for k in keys if type(k) not in (str, int)]
        if bad:
            raise TypeError(
                f"funcnet.export: {what} is a dict with a key of type {type(bad[0]).__name__} "
                f"({bad[0]!r:.40}); exported trees may have str or int dict keys only"
            )
        return {"t": "dict", "k": keys, "c": children}
    raise TypeError(
        f"funcnet.export: {what} contains a pytree node of type {kind.__module__}."
        f"{kind.__qualname__}, which an exported artifact cannot describe without the "
        "code that defines it; use dicts, lists, tuples and None (e.g. convert a "
        "NamedTuple with ._asdict() or a dataclass with dataclasses.asdict)"
    )


_LEAF = object()


def tree_from_json(desc) -> "tree.PyTreeDef":
    return tree.tree_structure(_template(desc))


def _template(desc):
    try:
        kind = desc["t"]
        if kind == "leaf":
            return _LEAF
        if kind == "none":
            return None
        children = [_template(c) for c in desc["c"]]
        if kind == "tuple":
            return tuple(children)
        if kind == "list":
            return children
        if kind == "dict":
            return dict(zip(desc["k"], children, strict=True))
    except (KeyError, TypeError, ValueError):
        pass
    raise ArtifactError(f"corrupt funcnet artifact: unreadable tree node {desc!r:.80}")
