"""Pytrees of arrays to safetensors files and back: `save`, `load`, and the steps they are
made of (`to_host`, `write`, `read`, `from_host`), which checkpoints reuse.

The file is an ordinary safetensors file, written and read by the `safetensors` library:
one tensor per array leaf, named by its tree path (`dense_1.w`; list and tuple items by
index, `layers.0`), and the tree's structure in the file's string metadata, as JSON under
the key `funcnet.tree` (Python scalars and strings among the leaves live there too). Other
tools read the tensors by name; funcnet reads files from other tools with `like=`.
"""

import contextlib
import dataclasses
import json
import os
import uuid
import warnings

import numpy as np
import safetensors

from funcnet import tree as tree_lib
from funcnet.backend import sharded
from funcnet.config import config
from funcnet.core import dtypes
from funcnet.core.array import Array, ShardedArray, asarray_from_value
from funcnet.core.trace import Tracer
from funcnet.runtime import xla
from funcnet.sharding import SingleDeviceSharding

# Metadata keys. The format number changes only when an older funcnet could no longer read
# a newer file correctly.
TREE_KEY = "funcnet.tree"
FORMAT_KEY = "funcnet.format"
FORMAT_VERSION = "1"

# Python values stored in the metadata rather than as tensors (bool before int: a bool is
# an int).
_PY_SCALARS = {bool: "bool", int: "int", float: "float", complex: "complex", str: "str"}
_PY_TYPES = {name: t for t, name in _PY_SCALARS.items()}

# dtypes safetensors has no code for, stored as a view: complex128 as float64 pairs (a
# trailing axis of 2); the metadata records the real dtype.
_VIEW_AS = {np.dtype(np.complex128): np.dtype(np.float64)}


@dataclasses.dataclass
class HostTree:
    """A pytree copied to the host, ready to write: what `to_host` returns and `read`
    builds from a file.

    Attributes:
      tensors: the array leaves as C-contiguous, little-endian NumPy arrays, by name (the
        tree path: `"dense_1.w"`), in the tree's flattening order. They are copies: the
        arrays the tree held may be donated or changed afterwards.
      metadata: the safetensors metadata (str to str); `metadata["funcnet.tree"]` is the
        structure as JSON. Empty for a file that another tool wrote.
      paths: the readable path of each tensor (`"['dense_1']['w']"`), for error messages.
    """

    tensors: dict
    metadata: dict
    paths: dict = dataclasses.field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """The bytes the tensors hold."""
        return sum(a.nbytes for a in self.tensors.values())


# --- names ------------------------------------------------------------------------------------


def _key_name(key) -> str:
    for attr in ("key", "idx", "name"):  # DictKey, SequenceKey/FlattenedIndexKey, GetAttrKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def leaf_name(path) -> str:
    """The tensor name for a key path: its keys joined by dots (`dense_1.w`, `layers.0`).

    Args:
      path: a key path, as `fn.tree.flatten_with_path` gives.

    Returns:
      A str; `""` for the path of a tree that is a single leaf.
    """
    return ".".join(_key_name(k) for k in path)


def _paths_and_names(tree):
    flat, treedef = tree_lib.tree_flatten_with_path(tree)
    names, paths, leaves = [], [], []
    seen = {}
    for path, leaf in flat:
        name, readable = leaf_name(path), tree_lib.keystr(path)
        if name in seen:
            raise ValueError(
                f"two leaves get the same tensor name {name!r}: at {seen[name]} and "
                f"{readable}; rename a key (dots in keys make such clashes)"
            )
        seen[name] = readable
        names.append(name)
        paths.append(readable)
        leaves.append(leaf)
    return names, paths, leaves, treedef


# --- to the host ------------------------------------------------------------------------------


def _host_array(leaf, readable, copy):
    """A C-contiguous little-endian NumPy array of an array leaf's values. With `copy`, one
    that shares no memory with the leaf: on the CPU `np.asarray` of a device buffer is a
    view of memory that a later donation may overwrite, and a NumPy leaf is the caller's
    to change. (On an accelerator `np.asarray` already is a host copy of its own.)"""
    # Anything but a funcnet Array on an accelerator may share memory with the copy we make:
    # the caller's NumPy array, a jax array (on whatever device: be safe), a CPU buffer (a
    # sharded array's gathered values are fresh, but a replicated one's are one block's).
    aliases = not isinstance(leaf, Array) or _platform(leaf) == "cpu"
    view = np.asarray(leaf)  # a sharded array's blocks gathered into one array
    if (copy and aliases) or not view.flags.c_contiguous:
        arr = np.array(view, copy=True, order="C")
    else:
        arr = view
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr


def _platform(leaf) -> str:
    if type(leaf) is ShardedArray:
        return leaf.sharding._device_list[0].platform
    return leaf.device.platform


def _is_array_leaf(leaf) -> bool:
    return isinstance(leaf, (Array, np.ndarray, np.generic)) or xla.is_buffer(leaf)


def _check_storable(leaf, readable):
    where = readable or "the root"
    if isinstance(leaf, Tracer):
        raise TypeError(
            f"cannot save the leaf at {where}: it is a tracer ({leaf.aval.str_short()}) of "
            "a transformation (jit, grad, vmap, ...), which has no value yet; save outside "
            "jit/grad/vmap, e.g. on the values the transformed function returns"
        )
    if type(leaf) in _PY_SCALARS:
        return
    if isinstance(leaf, Array) and leaf.is_deleted():
        raise RuntimeError(
            f"cannot save the leaf at {where}: its Array was donated to a jitted function "
            "(donate_argnums) or deleted"
        )
    if type(leaf) is ShardedArray and not leaf.is_fully_addressable:
        raise ValueError(
            f"cannot save the leaf at {where}: its Array ({leaf.aval.str_short()}, laid out "
            f"by {leaf.sharding!r}) spans devices of other processes, whose blocks this "
            "process cannot read; funcnet saves only fully addressable arrays (multi-process "
            "checkpointing is not supported: gather the array onto this process's devices "
            "first, or save each process's addressable_shards separately)"
        )
    if not _is_array_leaf(leaf):
        raise TypeError(
            f"cannot save the leaf at {where}: a {type(leaf).__module__}."
            f"{type(leaf).__qualname__} is not an array, a NumPy scalar or a Python "
            "int/float/bool/complex/str (make it one, or leave it out of the tree)"
        )
    dtype = np.dtype(leaf.dtype)
    if dtype not in dtypes.SUPPORTED:
        raise TypeError(f"cannot save the leaf at {where}: dtype {dtype} is not supported")


def _encode_structure(tree, leaf_entries):
    """The tree's structure as JSON-able data. Leaves are taken from `leaf_entries` in
    flattening order; containers funcnet can rebuild without `like=` (dict, list, tuple,
    None) are spelled out, any other node records its type name only."""
    it = iter(leaf_entries)

    def encode(x):
        if x is None:
            return {"none": True}
        try:
            children, aux = tree_lib.flatten_one_level(x)
        except ValueError:  # not a pytree node: a leaf
            return next(it)
        encoded = [encode(c) for c in children]
        if type(x) is dict:
            if all(type(k) in (str, int) for k in aux):
                return {"dict": [[k, c] for k, c in zip(aux, encoded)]}
        elif type(x) in (list, tuple):
            return {type(x).__name__: encoded}
        return {"node": f"{type(x).__module__}.{type(x).__qualname__}", "children": encoded}

    return encode(tree)


def _scalar_entry(name, value):
    text = value if isinstance(value, str) else repr(value)
    return {"leaf": name, "py": _PY_SCALARS[type(value)], "value": text}


def to_host(tree) -> HostTree:
    """A pytree's leaves copied to host NumPy arrays, named by their tree paths, with the
    structure in the metadata: the first half of `save`, done before a write in the
    background (the copies are independent of the tree's device buffers, which training
    may donate or overwrite right afterwards).

    Args:
      tree: a pytree whose leaves are funcnet Arrays, NumPy arrays or scalars, jax arrays,
        or Python bool/int/float/complex/str values (kept in the metadata).

    Returns:
      A `HostTree`.

    Raises:
      TypeError: a leaf is a tracer (save outside jit/grad/vmap) or cannot be stored;
        the message names its path and type.
      ValueError: two leaves get the same tensor name, or a sharded leaf spans devices of
        other processes (multi-process saving is not supported).
      RuntimeError: a leaf is an Array that was donated or deleted.

    Example:
      >>> host = fn.io.to_host({"w": fnp.ones((2, 2)), "step": 3})
      >>> list(host.tensors), host.tensors["w"].dtype
      (['w'], dtype('float32'))
    """
    return _to_host(tree, copy=True)


def _to_host(tree, copy):
    names, paths, leaves, _ = _paths_and_names(tree)
    for leaf, readable in zip(leaves, paths):
        _check_storable(leaf, readable)
    for leaf in leaves:  # start every device-to-host copy before waiting on the first
        if isinstance(leaf, Array):
            leaf.copy_to_host_async()
    tensors, tensor_paths, entries = {}, {}, []
    for name, readable, leaf in zip(names, paths, leaves):
        if type(leaf) in _PY_SCALARS:
            entries.append(_scalar_entry(name, leaf))
            continue
        arr = _host_array(leaf, readable, copy)
        entry = {"leaf": name, "dtype": arr.dtype.name}
        if arr.dtype in _VIEW_AS:
            arr = arr.reshape(arr.shape + (1,)).view(_VIEW_AS[arr.dtype])
        tensors[name] = arr
        tensor_paths[name] = readable
        entries.append(entry)
    structure = _encode_structure(tree, entries)
    metadata = {FORMAT_KEY: FORMAT_VERSION, TREE_KEY: json.dumps(structure)}
    return HostTree(tensors, metadata, tensor_paths)


# --- writing ----------------------------------------------------------------------------------


def _read_umask():
    mask = os.umask(0)  # the only way to read it; set back at once (at import: one thread)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform without directory handles (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_path(path) -> str:
    """The name `write` gives its temporary file for `path`: a hidden file in the same
    directory (so that the final rename stays on one file system), unique per call.

    Args:
      path: the final path.

    Returns:
      A str.
    """
    path = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}")


def write(path, host_tree: HostTree) -> None:
    """Writes a `HostTree` to a safetensors file, atomically: the data go to a temporary
    file in the same directory, which is flushed to disk (fsync) and renamed over `path`
    (then the directory is synced), so that a failed or interrupted write leaves any
    existing file at `path` as it was, and no temporary file behind (except after a
    crash of the process itself).

    Args:
      path: the file to write (str or path-like); its directory must exist.
      host_tree: what `to_host` (or `read`) returned.

    Returns:
      None.

    Raises:
      OSError: the file could not be written (the existing one is unchanged).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(21, "cannot save a tree to a directory (give a file name)", path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(2, "the directory to save into does not exist", directory)
    # serialize_file reads raw memory: each array must be one C-ordered little-endian block
    # (kept alive in `arrays` until the write is done).
    arrays = {name: _storable(arr) for name, arr in host_tree.tensors.items()}
    specs = {
        name: safetensors.TensorSpec(
            dtype=arr.dtype.name, shape=arr.shape, data_ptr=arr.ctypes.data, data_len=arr.nbytes
        )
        for name, arr in arrays.items()
    }
    tmp = temporary_path(path)
    try:
        try:
            safetensors.serialize_file(specs, tmp, metadata=dict(host_tree.metadata))
        except safetensors.SafetensorError as e:
            raise OSError(f"could not write {path}: {e}") from e
        os.chmod(tmp, 0o666 & ~_UMASK)  # safetensors creates 0600 files; open() would not
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # serialize_file may have failed before creating it
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _storable(arr):
    arr = arr if arr.flags.c_contiguous else np.array(arr, order="C")  # 0-d stays 0-d
    return arr.astype(arr.dtype.newbyteorder("<")) if arr.dtype.byteorder == ">" else arr


def save(path, tree) -> None:
    """Saves a pytree of arrays to a safetensors file: `write(path, to_host(tree))`.

    Each array leaf becomes a tensor named by its tree path (`dense_1.w`; list and tuple
    items by index, `layers.0`); the structure and any Python bool/int/float/complex/str
    leaves go into the file's metadata (JSON under `"funcnet.tree"`). bfloat16 and
    float16 values are stored bit for bit; complex128 leaves as float64 pairs (a
    trailing axis of 2), as safetensors has no complex128. A sharded array (over the
    devices of this process) is gathered and stored whole, so the file does not depend
    on the mesh: it loads onto any other (see `load`). The file loads with
    `safetensors.numpy.load_file` and PyTorch's `safetensors.torch.load_file`. The write
    is atomic: a failed save leaves an existing file at `path` unchanged.

    Args:
      path: the file to write (str or path-like), by convention `*.safetensors`.
      tree: a pytree of funcnet Arrays, NumPy arrays or scalars, jax arrays and Python
        scalars or strings.

    Returns:
      None.

    Raises:
      TypeError: a leaf is a tracer (save outside jit/grad/vmap) or cannot be stored
        (the message names its path and type).
      ValueError: a sharded leaf spans devices of other processes (funcnet saves fully
        addressable arrays only; multi-process saving is not supported).
      RuntimeError: a leaf is an Array that was donated or deleted.
      OSError: the file could not be written (an existing file is unchanged).

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
      >>> params = {"dense_1": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3)}, "epoch": 4}
      >>> fn.save(path, params)
      >>> from safetensors.numpy import load_file
      >>> sorted(load_file(path))
      ['dense_1.b', 'dense_1.w']
      >>> fn.load(path)["epoch"]
      4
    """
    # No copies: nothing can donate or change the leaves while this call runs.
    write(path, _to_host(tree, copy=False))


# --- reading ----------------------------------------------------------------------------------


def read(path) -> HostTree:
    """Reads a safetensors file (funcnet's or another tool's) into host NumPy arrays.

    Args:
      path: the file (str or path-like).

    Returns:
      A `HostTree` whose tensors are NumPy arrays with the stored dtypes (bfloat16 as
      ml_dtypes.bfloat16) and whose metadata is the file's (empty if it has none).

    Raises:
      FileNotFoundError: there is no file at `path`.
      ValueError: the file is not a readable safetensors file (truncated or corrupt);
        the message names it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such file to load", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "expected a safetensors file, got a directory", path)
    try:
        with safetensors.safe_open(path, framework="np") as f:
            metadata = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.offset_keys()}
    except (safetensors.SafetensorError, OSError, ValueError, TypeError) as e:
        raise ValueError(
            f"{path} is not a readable safetensors file (truncated or corrupt?): {e}"
        ) from e
    return HostTree(tensors, metadata, {})


def _structure(host_tree, source):
    text = host_tree.metadata.get(TREE_KEY)
    if text is None:
        return None
    version = host_tree.metadata.get(FORMAT_KEY, FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{source} was written in funcnet's tree format {version}; this funcnet reads "
            f"format {FORMAT_VERSION} (upgrade funcnet, or load with like= and no metadata)"
        )
    try:
        return json.loads(text)
    except ValueError as e:
        raise ValueError(f"{source}: the {TREE_KEY!r} metadata is not valid JSON: {e}") from e


def _scalar_value(entry):
    kind, text = entry["py"], entry["value"]
    if kind == "str":
        return text
    if kind == "bool":
        return text == "True"
    return _PY_TYPES[kind](text)


def _leaf_entries(structure):
    """name -> leaf entry, for every leaf of a decoded structure."""
    out = {}

    def walk(node):
        if "leaf" in node:
            out[node["leaf"]] = node
        elif "dict" in node:
            for _, c in node["dict"]:
                walk(c)
        else:
            for c in node.get("list", node.get("tuple", node.get("children", []))):
                walk(c)

    walk(structure)
    return out


def _logical(arr, entry, name, source):
    """The dtype and shape a stored tensor stands for: its own, or those its metadata entry
    records for a dtype stored as a view (complex128 as float64 pairs)."""
    recorded = entry.get("dtype") if entry else None
    if recorded is None or recorded == arr.dtype.name:
        return arr.dtype, arr.shape
    try:
        dtype = np.dtype(recorded)
    except TypeError:
        dtype = None
    if dtype in _VIEW_AS and _VIEW_AS[dtype] == arr.dtype and arr.shape[-1:] == (2,):
        return dtype, arr.shape[:-1]
    raise ValueError(
        f"{source}: tensor {name!r} is {arr.dtype.name}{list(arr.shape)} but the file's "
        f"metadata says {recorded} (a corrupt or hand-edited file)"
    )


class _Loader:
    """Turns stored tensors into the leaves `load` returns, and collects 64-bit narrowing."""

    def __init__(self, host_tree, source, host, device, owned):
        self.tensors = host_tree.tensors
        self.source = source
        self.host = host
        self.device = _placement(device, "device")  # None: like='s leaf, else the default
        self.owned = owned  # the arrays are ours alone (fresh from the file): no copy needed
        self.narrowed = []

    def array(self, name, entry, readable, placement=None):
        """The leaf stored as `name`: on the host, or placed by `device=` when given, else
        by `placement` (a device or a multi-device sharding: the like= leaf's), else on the
        default device."""
        arr = self.tensors.get(name)
        if arr is None:
            raise ValueError(
                f"{self.source} has no tensor {name!r} for the leaf at {readable or 'the root'}"
            )
        dtype, shape = _logical(arr, entry, name, self.source)
        if dtype != arr.dtype:  # a dtype stored as a view (complex128 as float64 pairs)
            arr = np.array(arr, order="C").view(dtype).reshape(shape)
        if self.host:
            return arr
        target = dtypes.canonicalize(arr.dtype)
        if target != arr.dtype:
            self.narrowed.append((readable, arr.dtype))
        device = self.device if self.device is not None else placement
        if device is None:
            device = xla.default_device()
        if sharded.is_multi_device(device):  # each device receives its block of the values
            try:
                device.check(shape)
            except ValueError as e:
                by = "device=" if self.device is not None else "like='s sharding"
                raise ValueError(
                    f"{self.source}: the leaf at {readable or 'the root'} (tensor {name!r}, "
                    f"{dtype.name}{list(shape)}) cannot be laid out by {by}: {e}"
                ) from e
            # (a copy unless the array is ours alone: the runtime may adopt host memory)
            return sharded.put(arr.astype(target, copy=not self.owned), device)
        if device.platform != "cpu":
            return asarray_from_value(arr, device=device)
        # On the CPU the runtime adopts a 64-byte-aligned host array as the device buffer
        # without copying; any other array it copies, several times slower than NumPy does.
        if not (self.owned and target == arr.dtype and arr.ctypes.data % _ALIGN == 0):
            arr = _aligned_copy(arr, target)
        return Array(xla.device_put(arr, device))

    def warn(self, stacklevel):
        if self.narrowed:
            where, dtype = self.narrowed[0]
            warnings.warn(
                f"fn.load({self.source!r}): {len(self.narrowed)} 64-bit leaves (the first at "
                f"{where or 'the root'}, {dtype}) narrowed to 32 bits because x64 is off, as "
                "fnp.asarray does; turn on fn.config.enable_x64 before loading, or pass "
                "host=True to get the stored NumPy arrays",
                UserWarning,
                stacklevel=stacklevel + 1,
            )


_ALIGN = 64


def _placement(where, what):
    """A device, a multi-device sharding (NamedSharding, TiledSharding) or None, from a
    device, a sharding or None (`what` names the argument in the error)."""
    if where is None or sharded.is_multi_device(where):
        return where
    if isinstance(where, SingleDeviceSharding):
        return where.device
    if hasattr(where, "platform") and hasattr(where, "id"):  # a runtime device
        return where
    raise TypeError(
        f"{what} must be a device (fn.devices()[i]), a sharding (NamedSharding, "
        f"SingleDeviceSharding) or None, got {type(where).__name__}"
    )


def _like_placement(leaf, readable):
    """Where a loaded leaf goes when its like= leaf says: a sharded Array's sharding, a
    single-device Array's device, a `ShapeDtypeStruct`'s `sharding` (None for anything
    else: the default device)."""
    if type(leaf) is ShardedArray:
        return leaf.sharding
    if isinstance(leaf, Array):
        # A template whose buffers were donated (the state a step consumed) still gives its
        # shape and dtype; its data, and so its device, are gone: use the default.
        return None if leaf.is_deleted() else leaf.device
    if isinstance(leaf, (np.ndarray, np.generic)) or xla.is_buffer(leaf):
        return None
    where = readable or "the root"
    return _placement(getattr(leaf, "sharding", None), f"like= at {where}: .sharding")


def _aligned_copy(arr, dtype):
    """A copy of `arr` as `dtype` (cast as np.asarray does) in 64-byte-aligned memory."""
    nbytes = arr.size * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    out = raw[start : start + nbytes].view(dtype).reshape(arr.shape)
    np.copyto(out, arr, casting="unsafe")
    return out


def _rebuild(structure, loader, source):
    def build(node, readable):
        if "leaf" in node:
            if "py" in node:
                return _scalar_value(node)
            return loader.array(node["leaf"], node, readable)
        if "none" in node:
            return None
        if "dict" in node:
            return {k: build(c, f"{readable}[{k!r}]") for k, c in node["dict"]}
        if "list" in node:
            return [build(c, f"{readable}[{i}]") for i, c in enumerate(node["list"])]
        if "tuple" in node:
            return tuple(build(c, f"{readable}[{i}]") for i, c in enumerate(node["tuple"]))
        raise ValueError(
            f"{source}: the node at {readable or 'the root'} is a {node.get('node')}, which "
            "funcnet rebuilds only from a template: pass like= (a tree of the same structure, "
            "e.g. the initial parameters)"
        )

    return build(structure, "")


def _like_leaf_kind(leaf):
    if type(leaf) in _PY_SCALARS:
        return "scalar"
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return "array"
    raise TypeError(
        f"like= leaves must be arrays (or anything with .shape and .dtype, such as "
        f"fn.ShapeDtypeStruct) or Python scalars, got a {type(leaf).__name__}"
    )


def _dtype_matches(expected, got):
    if expected == got:
        return True
    # While x64 is off, 64-bit and 32-bit dtypes stand for the same funcnet dtype: a float64
    # leaf loads into a float32 template (narrowed, with a warning), and a float32 leaf into
    # a float64 NumPy template (which funcnet itself would narrow).
    return not config.enable_x64 and dtypes.canonicalize(got) == dtypes.canonicalize(expected)


def _load_like(host_tree, like, loader, structure, source):
    names, paths, leaves, treedef = _paths_and_names(like)
    entries = _leaf_entries(structure) if structure is not None else {}
    stored = set(host_tree.tensors) | {n for n, e in entries.items() if "py" in e}
    out = []
    for name, readable, leaf in zip(names, paths, leaves):
        where = readable or "the root"
        kind = _like_leaf_kind(leaf)
        entry = entries.get(name)
        if kind == "scalar":
            if entry is None or "py" not in entry:
                got = "an array" if name in host_tree.tensors else "nothing"
                raise ValueError(
                    f"{source}: at {where} like= has a Python {type(leaf).__name__}, the file "
                    f"has {got} (name {name!r})"
                )
            value = _scalar_value(entry)
            if type(value) is not type(leaf):
                raise ValueError(
                    f"{source}: at {where} like= has a Python {type(leaf).__name__}, the file "
                    f"has {value!r} ({type(value).__name__})"
                )
            out.append(value)
            continue
        if name not in host_tree.tensors:
            got = "a Python value" if entry is not None else "no tensor of that name"
            raise ValueError(
                f"{source}: at {where} like= has an array {_describe(leaf)}, the file has "
                f"{got} (name {name!r}; the file holds: {_some(sorted(stored))})"
            )
        dtype, shape = _logical(host_tree.tensors[name], entry, name, source)
        expected_dtype = np.dtype(leaf.dtype)
        if tuple(leaf.shape) != tuple(shape) or not _dtype_matches(expected_dtype, dtype):
            raise ValueError(
                f"{source}: the leaf at {where} (tensor {name!r}) does not match like=: "
                f"expected {_describe(leaf)}, got {dtype.name}{list(shape)}"
            )
        out.append(loader.array(name, entry, readable, _like_placement(leaf, readable)))
    extra = sorted(stored - set(names))
    if extra:
        raise ValueError(
            f"{source} holds leaves that like= has no place for: {_some(extra)} (a tree of a "
            "different structure; load without like= to see the file's tree)"
        )
    return tree_lib.tree_unflatten(treedef, out)


def _describe(leaf):
    return f"{np.dtype(leaf.dtype).name}{list(leaf.shape)}"


def _some(names, n=8):
    shown = ", ".join(repr(s) for s in names[:n])
    return shown + (f", ... ({len(names)} in all)" if len(names) > n else "") if names else "-"


def from_host(host_tree: HostTree, like=None, *, host=False, device=None, source="<tree>"):
    """Rebuilds a pytree from a `HostTree` (what `read` returns): the second half of
    `load`.

    Args:
      host_tree: the tensors and metadata.
      like: an optional template pytree; see `load`.
      host: keyword only; True returns `host_tree`'s own NumPy arrays (not copies)
        rather than funcnet Arrays.
      device: keyword only; where the Arrays go: a device or a sharding, for every leaf
        (default: each where its `like` leaf is, see `load`, else the default device).
      source: keyword only; how error messages name the data (the file's path).

    Returns:
      The pytree. Its Arrays share no memory with `host_tree`'s arrays.

    Example:
      >>> host = fn.io.to_host({"w": fnp.arange(3.0), "step": 2})
      >>> fn.io.from_host(host)
      {'step': 2, 'w': Array([0., 1., 2.], dtype=float32)}

    Raises:
      ValueError: the data do not match `like`, or the structure cannot be rebuilt
        without `like`.
    """
    return _from_host(host_tree, like, host, device, source, owned=False, stacklevel=2)


def _from_host(host_tree, like, host, device, source, owned, stacklevel):
    loader = _Loader(host_tree, source, host, device, owned)
    structure = _structure(host_tree, source)
    if like is not None:
        out = _load_like(host_tree, like, loader, structure, source)
    elif structure is not None:
        try:
            out = _rebuild(structure, loader, source)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{source}: the {TREE_KEY!r} metadata is malformed ({e!r})") from e
    else:  # another tool's file: its flat names
        out = {name: loader.array(name, None, f"[{name!r}]") for name in host_tree.tensors}
    loader.warn(stacklevel + 1)
    return out


def load(path, like=None, *, host=False, device=None):
    """Loads a pytree saved by `save`, or the tensors of any safetensors file.

    Without `like`, the tree is rebuilt from the file's metadata: dicts (str or int
    keys), lists, tuples and None come back as they were saved, Python scalars and
    strings as the same values (type included); a tree with other nodes (namedtuples,
    dataclasses, registered classes, OrderedDicts) needs `like`. A file without
    funcnet's metadata (written by another tool) loads as a flat dict name -> array.

    With `like` (any pytree of the same structure whose leaves are arrays, e.g. the
    initial parameters, or `fn.ShapeDtypeStruct`s, and Python scalars), each leaf is
    read from the tensor named by its tree path and checked against the template's
    shape and dtype (while x64 is off, a 64-bit dtype and its 32-bit counterpart match);
    the result has `like`'s structure. Tensors the template has no place for are an
    error too.

    **Placement.** Each array leaf is placed as its `like` leaf is: laid out by the
    sharding of a sharded Array or of a `fn.ShapeDtypeStruct(shape, dtype,
    sharding=NamedSharding(mesh, spec))` (each device of the mesh receives its block,
    read from the file: a tree saved from 8 devices loads onto a mesh of 1, 2 or 4, or
    onto one device), on the device of a single-device Array, and on the default
    device for NumPy leaves and structs without a sharding. `device=` overrides this for
    every leaf.

    64-bit values (float64, int64, uint64, complex128) narrow to 32 bits when funcnet's
    x64 is off, as `fnp.asarray` (and `jnp.asarray`) do, with a UserWarning saying how
    many; `host=True` returns the stored NumPy arrays unchanged.

    Args:
      path: the safetensors file (str or path-like).
      like: optional template pytree (see above).
      host: keyword only; True returns NumPy arrays on the host (bfloat16 as
        ml_dtypes.bfloat16) instead of funcnet Arrays.
      device: keyword only; where every array leaf goes: a device, or a sharding
        (`NamedSharding`: each device receives its block). Default: where the `like`
        leaf is (above), else the default device.

    Returns:
      The pytree: array leaves as funcnet Arrays on the device (NumPy arrays with
      `host=True`), Python values as saved.

    Raises:
      FileNotFoundError: there is no file at `path`.
      ValueError: the file is truncated or corrupt, or does not match `like` (the message
        names the path in the tree, expected and got), or needs `like` to be rebuilt, or a
        `like` leaf's sharding does not fit its shape.
      TypeError: `device` or a `like` struct's `sharding` is not a device or sharding.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "params.safetensors")
      >>> params = {"layers": [fnp.ones(2, dtype=fnp.bfloat16), fnp.zeros((2, 2))]}
      >>> fn.save(path, params)
      >>> fn.load(path)["layers"][0]
      Array([1, 1], dtype=bfloat16)
      >>> restored = fn.load(path, like=params)
      >>> fn.tree.structure(restored) == fn.tree.structure(params)
      True
    """
    path = os.fspath(path)
    return _from_host(read(path), like, host, device, path, owned=True, stacklevel=2)
