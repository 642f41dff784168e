"""`export`, `Exported` and `deserialize`: a jitted function as a self-contained artifact.

The program is traced and lowered as `jit` does it, with its constants moved into the
module, and kept as a StableHLO portable artifact per platform (funcnet/runtime/
portable.py). The calling convention (version `CALLING_CONVENTION_VERSION`): the
module's public `@main` takes the flattened dynamic arguments in `in_tree` order
(static arguments are baked in, donation is dropped) and returns the flattened outputs
in `out_tree` order; no tokens, no platform index, no dimension variables.
"""

import importlib.metadata

import numpy as np

from funcnet import tree
from funcnet.backend.lowering import dense_attr, lower_to_module
from funcnet.config import config
from funcnet.core import dtypes
from funcnet.core.array import Array, to_buffer, wrap_buffer
from funcnet.core.aval import shaped_abstractify
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr
from funcnet.core.trace import Tracer, is_tracing
from funcnet.export import _format
from funcnet.export._format import ArtifactError
from funcnet.export._primitive import exported_call_p
from funcnet.nn.conv_patches import convolution_primitives
from funcnet.runtime import portable, xla
from funcnet.transforms.jit import Jitted

CALLING_CONVENTION_VERSION = 1
# The calling-convention versions this funcnet can call (artifacts of older versions
# would be read here when a new convention is introduced).
MINIMUM_CALLING_CONVENTION_VERSION = 1
MAXIMUM_CALLING_CONVENTION_VERSION = 1

_PLATFORM_NAMES = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda", "rocm": "rocm", "tpu": "tpu"}


def _funcnet_version() -> str:
    try:
        return importlib.metadata.version("funcnet")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"


def canonical_platform(name: str) -> str:
    """The platform name artifacts use ("cpu", "cuda", "rocm", "tpu") for a device's
    platform or a user's spelling ("gpu" is CUDA)."""
    canonical = _PLATFORM_NAMES.get(str(name).lower())
    if canonical is None:
        raise ValueError(
            f"unknown platform {name!r}; funcnet.export knows {sorted(set(_PLATFORM_NAMES))}"
        )
    return canonical


class Exported:
    """A function exported for given argument shapes and dtypes, as `jax.export.Exported`.

    Made by `export(...)(*args)` or `deserialize(data)`; not constructed directly. It
    holds the program as a StableHLO portable artifact per platform plus what is needed
    to call it: no Python code of the original function is kept, so a deserialized
    `Exported` calls the same program in a process that never imported that code.

    Attributes:
      fun_name: the exported function's name.
      in_tree: the tree structure of the dynamic arguments, as `(args, kwargs)`.
      in_avals: the `ShapedArray` of each flattened argument.
      out_tree: the tree structure of the outputs.
      out_avals: the `ShapedArray` of each flattened output.
      platforms: the platforms the program was lowered for ("cpu", "cuda", ...).
      calling_convention_version: the version of the module's calling convention.
      stablehlo_version: the StableHLO version the artifact was written for.
      funcnet_version: the version of the funcnet that exported it.
    """

    def __init__(
        self,
        *,
        fun_name,
        in_tree,
        in_avals,
        out_tree,
        out_avals,
        platforms,
        artifacts,
        calling_convention_version=CALLING_CONVENTION_VERSION,
        stablehlo_version,
        funcnet_version,
    ):
        self.fun_name = fun_name
        self.in_tree = in_tree
        self.in_avals = tuple(in_avals)
        self.out_tree = out_tree
        self.out_avals = tuple(out_avals)
        self.platforms = tuple(platforms)
        self.calling_convention_version = calling_convention_version
        self.stablehlo_version = stablehlo_version
        self.funcnet_version = funcnet_version
        self._artifacts = dict(zip(self.platforms, artifacts, strict=True))
        self._texts = {}  # (platform, debug_info) -> module text
        self._bodies = {}  # platform -> portable.InlinableBody
        self._executables = {}  # device -> xla.Executable
        # signature -> (execute_sharded, result handlers); see `call`
        self._fast = {}
        self._single_output = out_tree.num_leaves == 1 and out_tree.num_nodes == 1

    def __repr__(self):
        ins = ", ".join(a.str_short() for a in self.in_avals)
        outs = ", ".join(a.str_short() for a in self.out_avals)
        return f"Exported({self.fun_name}: ({ins}) -> ({outs}), platforms={self.platforms})"

    # -- the program -------------------------------------------------------------------

    def _platform(self, platform):
        if platform is None:
            return self.platforms[0]
        canonical = canonical_platform(platform)
        if canonical not in self._artifacts:
            raise ValueError(
                f"{self.fun_name} was exported for {list(self.platforms)}, not for "
                f"{canonical!r}; export it with platforms=[..., {canonical!r}]"
            )
        return canonical

    def mlir_module(self, platform: str | None = None, debug_info: bool = False) -> str:
        """The StableHLO module, as text, read back from the portable artifact.

        Args:
          platform: which platform's module (default: the first of `platforms`).
          debug_info: include the source locations (`loc(...)`) of the operations.

        Returns:
          The module's MLIR text; its public `@main` takes the flattened arguments and
          returns the flattened outputs.

        Example:
          >>> exp = fn.export.export(fn.jit(lambda x: x * 2.0))(fnp.ones(3))
          >>> "stablehlo.multiply" in exp.mlir_module()
          True
        """
        key = (self._platform(platform), bool(debug_info))
        text = self._texts.get(key)
        if text is None:
            text = portable.deserialize(self._artifacts[key[0]], debug_info=key[1])
            self._texts[key] = text
        return text

    def mlir_module_serialized(self, platform: str | None = None) -> bytes:
        """The StableHLO portable artifact (MLIR bytecode) of one platform's module.

        Args:
          platform: which platform's module (default: the first of `platforms`).

        Returns:
          The artifact's bytes, readable by any StableHLO consumer that supports
          `stablehlo_version`.
        """
        return self._artifacts[self._platform(platform)]

    def _inlinable(self, platform):
        platform = self._platform(platform)
        body = self._bodies.get(platform)
        if body is None:
            body = portable.InlinableBody(self.mlir_module(platform))
            self._bodies[platform] = body
        return body

    # -- serialization -----------------------------------------------------------------

    def serialize(self) -> bytes:
        """The artifact as bytes, for `deserialize` (in this or another process).

        The bytes are a small container (see docs/export.md): a magic header, the
        container format version, a SHA-256 checksum, JSON metadata (funcnet version,
        calling-convention version, platforms, StableHLO target version, the trees and
        avals) and the StableHLO portable artifacts.

        Returns:
          The serialized artifact (`bytes`).

        Example:
          >>> exp = fn.export.export(fn.jit(lambda x: x + 1.0))(fnp.zeros(2))
          >>> fn.export.deserialize(exp.serialize()).call(fnp.ones(2)).tolist()
          [2.0, 2.0]
        """
        metadata = {
            "funcnet_version": self.funcnet_version,
            "calling_convention_version": self.calling_convention_version,
            "stablehlo_version": self.stablehlo_version,
            "fun_name": self.fun_name,
            "platforms": list(self.platforms),
            "in_tree": _format.tree_to_json(self.in_tree, "the arguments"),
            "out_tree": _format.tree_to_json(self.out_tree, "the output"),
            "in_avals": [_format.aval_to_json(a) for a in self.in_avals],
            "out_avals": [_format.aval_to_json(a) for a in self.out_avals],
            "modules": [{"platform": p, "size": len(self._artifacts[p])} for p in self.platforms],
        }
        return _format.pack(metadata, [self._artifacts[p] for p in self.platforms])

    # -- calling -----------------------------------------------------------------------

    def call(self, *args, **kwargs):
        """Runs the exported program on arguments of the exported structure, shapes and
        dtypes (Python scalars are accepted where the export saw weakly typed values).

        Outside any transformation it runs the program compiled for the arguments'
        device (compiled on the first call and kept); inside `fn.jit` the program is
        inlined into the enclosing one; under `fn.vmap` it runs once per example in a
        loop. Derivatives are not available (export the derivative instead).

        Args:
          *args, **kwargs: the dynamic arguments, structured as `in_tree` (the static
            arguments of the exported function were fixed at export time).

        Returns:
          The outputs, a pytree of Arrays structured as `out_tree`.

        Raises:
          TypeError: the arguments' tree structure, shapes or dtypes differ from the
            exported ones (the message names the argument path, expected and got).
          ValueError: the arguments live on a platform the program was not exported for.

        Example:
          >>> @fn.jit
          ... def affine(p, x):
          ...     return x @ p["w"] + p["b"]
          >>> p = {"w": fnp.eye(2), "b": fnp.ones(2)}
          >>> exp = fn.export.export(affine)(p, fn.ShapeDtypeStruct((1, 2), fnp.float32))
          >>> exp.call(p, fnp.array([[1.0, 2.0]])).tolist()
          [[2.0, 3.0]]
        """
        # Fast paths (a signature that ran before, funcnet Array leaves, no transformation),
        # as jit's: positional Arrays keyed by their avals alone, else (tree, avals).
        if not is_tracing():
            try:
                if not kwargs:
                    key = tuple([x.aval for x in args])  # AttributeError: not all Arrays
                    if not _single_device():
                        key = (key, _first_device(args))
                    hit = self._fast.get(key)
                    if hit is not None:
                        return self._wrap(hit[0]([x._buf for x in args]), hit[1])
            except Exception:  # a pytree argument, a deleted buffer, ...: the general path
                pass
            leaves, in_tree = _tree_flatten((args, kwargs))
            try:
                key = (in_tree, tuple([x.aval for x in leaves]))
                if not _single_device():
                    key = (*key, _first_device(leaves))
                hit = self._fast.get(key)
                if hit is not None:
                    return self._wrap(hit[0]([x._buf for x in leaves]), hit[1])
            except Exception:  # e.g. a deleted buffer: the general path explains
                pass
        else:
            leaves, in_tree = _tree_flatten((args, kwargs))
        return self._call_general(args, kwargs, leaves, in_tree)

    def _wrap(self, results, handlers):
        outs = results.consume_with_handlers(handlers)
        if self._single_output:
            return wrap_buffer(outs[0], self.out_avals[0])
        return _tree_unflatten(self.out_tree, list(map(wrap_buffer, outs, self.out_avals)))

    def _call_general(self, args, kwargs, leaves, in_tree):
        if in_tree != self.in_tree:
            raise TypeError(_tree_mismatch(self.fun_name, self.in_tree, in_tree))
        leaves = [self._checked_leaf(i, x) for i, x in enumerate(leaves)]
        if is_tracing() or any(isinstance(x, Tracer) for x in leaves):
            outs = exported_call_p.bind(*leaves, exported=self)
            return _tree_unflatten(self.out_tree, list(outs))
        outs = self._run(leaves)
        if all(type(x) is Array for x in leaves):
            self._fill_fast(args, kwargs, leaves, in_tree)
        return _tree_unflatten(self.out_tree, outs)

    def _fill_fast(self, args, kwargs, leaves, in_tree):
        """Record this call's signature for `call`'s fast paths."""
        parts = self._executable(_device_of(leaves)).dispatch_parts()
        if parts is None:  # before the runtime's result handlers are known
            return
        dev = None if _single_device() else _first_device(leaves)
        key = (in_tree, tuple(x.aval for x in leaves))
        self._fast[key if dev is None else (*key, dev)] = parts
        if not kwargs and all(type(a) is Array for a in args):
            key = tuple(a.aval for a in args)
            self._fast[key if dev is None else (key, dev)] = parts

    def _checked_leaf(self, i, x):
        """The leaf, converted if it is a Python scalar for a weakly typed argument;
        TypeError naming its path if its shape or dtype is not the exported one."""
        want = self.in_avals[i]
        if dtypes.is_python_scalar(x) and want.weak_type and want.shape == ():
            return np.asarray(x, want.dtype)
        try:
            got = x.aval if isinstance(x, (Array, Tracer)) else shaped_abstractify(x)
        except TypeError:
            raise TypeError(
                f"{self.fun_name}: argument {_leaf_path(self.in_tree, i)} is of type "
                f"{type(x).__name__} ({x!r:.60}), which is not an array; expected "
                f"{want.str_short()}"
            ) from None
        if got.shape != want.shape or got.dtype != want.dtype:
            hint = "export it again for other shapes or dtypes"
            if want.dtype.itemsize == 8 and not config.enable_x64:
                hint = "it takes a 64-bit type: turn on funcnet.config.enable_x64"
            raise TypeError(
                f"{self.fun_name}: argument {_leaf_path(self.in_tree, i)} has type "
                f"{got.str_short()}, but the function was exported for "
                f"{want.str_short()} ({hint})"
            )
        return x

    def _check_avals(self, avals):
        for i, (got, want) in enumerate(zip(avals, self.in_avals, strict=True)):
            if got.shape != want.shape or got.dtype != want.dtype:
                raise TypeError(
                    f"{self.fun_name}: argument {_leaf_path(self.in_tree, i)} has type "
                    f"{got.str_short()}, exported for {want.str_short()}"
                )

    def _executable(self, device):
        exe = self._executables.get(device)
        if exe is None:
            platform = canonical_platform(device.platform)
            if platform not in self._artifacts:
                raise ValueError(
                    f"{self.fun_name} was exported for {list(self.platforms)}, but its "
                    f"arguments are on a {platform} device ({device}); export it with "
                    f"platforms=[..., {platform!r}]"
                )
            text = self.mlir_module(platform, debug_info=True)
            exe = xla.Executable(text, device, len(self.out_avals))
            self._executables[device] = exe
        return exe

    def _run(self, leaves):
        """Execute on concrete leaves (checked already); a list of output Arrays."""
        device = _device_of(leaves)
        exe = self._executable(device)
        bufs = [to_buffer(x, device)[0] for x in leaves]
        return list(map(wrap_buffer, exe.execute(bufs), self.out_avals))


# --- export ------------------------------------------------------------------------------


def export(jitted, platforms=None):
    """Exports a jitted function for given argument shapes and dtypes, as
    `jax.export.export`: `export(fn.jit(f))(*args)` returns an `Exported`.

    The function is traced and lowered to StableHLO for each platform, its constants
    are folded into the module and the module is kept as a StableHLO portable artifact
    (written for `default_stablehlo_version()`). Static arguments are fixed at their
    given values; donated arguments are not donated by the artifact. The shapes are
    fixed: export once per shape (symbolic dimensions are not supported yet).

    Args:
      jitted: a function made by `fn.jit` (its static_argnums apply).
      platforms: the platforms to lower for ("cpu", "cuda", "rocm"; "gpu" means
        "cuda"); default: the platform of the default device.

    Returns:
      A function taking the arguments (arrays, or `fn.ShapeDtypeStruct`s standing for
      them, in pytrees) and returning an `Exported`.

    Raises:
      TypeError: `jitted` is not a `fn.jit` function, or an argument or output tree
        has a node type an artifact cannot describe (only dict, list, tuple and None
        nodes; the message names the type).
      ValueError: the program calls back into Python (`funcnet.debug.print`,
        `callback`, `breakpoint`): an artifact runs without the Python code.

    Example:
      >>> @fn.jit
      ... def predict(w, x):
      ...     return fnp.tanh(x @ w)
      >>> x_spec = fn.ShapeDtypeStruct((4, 3), fnp.float32)
      >>> exp = fn.export.export(predict)(fnp.ones((3, 2)), x_spec)
      >>> exp.in_avals, exp.out_avals
      ((ShapedArray(f32[3,2]), ShapedArray(f32[4,3])), (ShapedArray(f32[4,2]),))
      >>> exp2 = fn.export.deserialize(exp.serialize())
      >>> exp2.call(fnp.ones((3, 2)), fnp.zeros((4, 3))).shape
      (4, 2)
    """
    if not isinstance(jitted, Jitted):
        raise TypeError(
            f"funcnet.export.export expects a function made by fn.jit, got "
            f"{type(jitted).__name__} ({jitted!r:.60}); use export(fn.jit(f))"
        )
    if platforms is None:
        targets = (canonical_platform(xla.default_device().platform),)
    else:
        names = [platforms] if isinstance(platforms, str) else list(platforms)
        if not names:
            raise ValueError("export: platforms must name at least one platform")
        targets = tuple(dict.fromkeys(canonical_platform(p) for p in names))

    def do_export(*args, **kwargs):
        with convolution_primitives():  # portable: not the CPU patches form of nn.Conv
            lowered = jitted.lower(*args, **kwargs)
        closed = lowered.jaxpr
        in_tree, _static, in_avals = lowered._signature  # the dynamic arguments only
        out_tree = lowered._entry.out_tree
        name = jitted.__name__
        _check_exportable(name, closed)
        # Trees an artifact cannot describe fail here, not at serialize().
        _format.tree_to_json(in_tree, "the arguments")
        _format.tree_to_json(out_tree, "the output")
        consts = [
            dense_attr(np.asarray(c), v.aval) for c, v in zip(closed.consts, closed.jaxpr.constvars)
        ]
        version = portable.default_target_version()
        artifacts = []
        for platform in targets:
            text = lower_to_module(closed, name=name, platform=platform)
            artifacts.append(portable.serialize(text, consts, version))
        return Exported(
            fun_name=name,
            in_tree=in_tree,
            in_avals=in_avals,
            out_tree=out_tree,
            out_avals=closed.out_avals,
            platforms=targets,
            artifacts=artifacts,
            stablehlo_version=version,
            funcnet_version=_funcnet_version(),
        )

    return do_export


def _check_exportable(name, closed: ClosedJaxpr):
    if any(isinstance(c, Tracer) for c in closed.consts):
        raise ValueError(
            f"export: {name} closes over a value traced by an enclosing transformation; "
            "export outside jit/grad/vmap, with the values as arguments"
        )
    eqn = _first_effect(closed.jaxpr)
    if eqn is not None:
        where = f" at {eqn.source_info}" if eqn.source_info is not None else ""
        raise ValueError(
            f"export: {name} calls back into Python ({eqn.primitive.name}{where}, from "
            "funcnet.debug.print / callback / breakpoint). An exported artifact runs "
            "without the Python code: remove the debug calls before exporting."
        )


def _first_effect(jaxpr: Jaxpr):
    for eqn in jaxpr.eqns:
        if getattr(eqn.primitive, "effectful", False):
            return eqn
        for v in eqn.params.values():
            for sub in v if isinstance(v, (tuple, list)) else (v,):
                inner = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
                if isinstance(inner, Jaxpr):
                    found = _first_effect(inner)
                    if found is not None:
                        return found
    return None


def default_stablehlo_version() -> str:
    """The StableHLO version `export` writes artifacts for: one about 4 weeks older
    than this runtime's (as jax), so that consumers updated monthly can read them.

    Returns:
      A version string such as "1.15.0".
    """
    return portable.default_target_version()


# --- deserialize -------------------------------------------------------------------------


def deserialize(data) -> Exported:
    """Reads an artifact written by `Exported.serialize`, as `jax.export.deserialize`.

    Nothing of the original function's code is needed (the trees are rebuilt from
    their JSON description, nothing is unpickled).

    Args:
      data: the bytes (`bytes`, `bytearray` or `memoryview`).

    Returns:
      An `Exported` whose `call` runs the program.

    Raises:
      funcnet.export.ArtifactError: (a ValueError) the bytes are not a funcnet
        artifact, are truncated or corrupt, or were written with a container format,
        calling-convention version or StableHLO version this funcnet cannot read (the
        message names both versions).
      TypeError: `data` is not bytes.

    Example:
      >>> data = fn.export.export(fn.jit(fnp.cos))(fnp.zeros(2)).serialize()
      >>> fn.export.deserialize(data).call(fnp.zeros(2)).tolist()
      [1.0, 1.0]
    """
    metadata, modules = _format.unpack(data)
    version = metadata.get("calling_convention_version")
    if not isinstance(version, int) or not (
        MINIMUM_CALLING_CONVENTION_VERSION <= version <= MAXIMUM_CALLING_CONVENTION_VERSION
    ):
        raise ArtifactError(
            f"this artifact uses calling-convention version {version!r} (written by funcnet "
            f"{metadata.get('funcnet_version', '?')}); this funcnet "
            f"({_funcnet_version()}) calls versions {MINIMUM_CALLING_CONVENTION_VERSION} to "
            f"{MAXIMUM_CALLING_CONVENTION_VERSION}"
        )
    try:
        stablehlo_version = metadata["stablehlo_version"]
        platforms = [m["platform"] for m in metadata["modules"]]
        fields = dict(
            fun_name=str(metadata["fun_name"]),
            in_tree=_format.tree_from_json(metadata["in_tree"]),
            out_tree=_format.tree_from_json(metadata["out_tree"]),
            in_avals=[_format.aval_from_json(a) for a in metadata["in_avals"]],
            out_avals=[_format.aval_from_json(a) for a in metadata["out_avals"]],
            funcnet_version=str(metadata["funcnet_version"]),
        )
    except (KeyError, TypeError) as e:
        raise ArtifactError(f"corrupt funcnet artifact: metadata lacks {e}") from None
    try:
        portable.check_version(stablehlo_version)
    except ValueError as e:
        raise ArtifactError(
            f"this artifact's program is StableHLO {stablehlo_version} (written by funcnet "
            f"{fields['funcnet_version']}), which this runtime cannot read: {e}"
        ) from None
    for module in modules:
        declared = portable.artifact_version(module)
        if declared != stablehlo_version:
            raise ArtifactError(
                f"corrupt funcnet artifact: its metadata says StableHLO {stablehlo_version}, "
                f"its module declares {declared}"
            )
    if fields["in_tree"].num_leaves != len(fields["in_avals"]) or fields[
        "out_tree"
    ].num_leaves != len(fields["out_avals"]):
        raise ArtifactError("corrupt funcnet artifact: its trees and avals disagree")
    exported = Exported(
        platforms=platforms,
        artifacts=modules,
        calling_convention_version=version,
        stablehlo_version=stablehlo_version,
        **fields,
    )
    for platform in exported.platforms:  # read each module now: a bad one fails here
        try:
            exported.mlir_module(platform, debug_info=True)
        except ValueError as e:
            raise ArtifactError(f"corrupt funcnet artifact: its {platform} module is {e}") from None
    return exported


# --- helpers -----------------------------------------------------------------------------

_tree_flatten = tree.tree_flatten
_tree_unflatten = tree.tree_unflatten
_single_device = xla.single_device


def _first_device(leaves):
    return xla.device_of(leaves[0]._buf) if leaves else None


def _device_of(leaves):
    for x in leaves:
        if isinstance(x, Array):
            return x.device
    return xla.default_device()


def _path_str(path) -> str:
    """`args[0]['w']` / `kwargs['scale']` for a path into `(args, kwargs)`."""
    if not path:
        return "the arguments"
    head = "args" if getattr(path[0], "idx", None) == 0 else "kwargs"
    return head + tree.keystr(tuple(path[1:]))


def _leaf_path(in_tree, index: int) -> str:
    template = tree.tree_unflatten(in_tree, [0] * in_tree.num_leaves)
    paths = [p for p, _ in tree.tree_flatten_with_path(template)[0]]
    return _path_str(paths[index]) if index < len(paths) else f"leaf {index}"


def _describe(treedef) -> str:
    data = treedef.node_data()
    if data is None:
        return "an array"
    kind, aux = data
    n = len(treedef.children())
    if kind is type(None):
        return "None"
    if kind is dict:
        return f"a dict with keys {sorted(aux, key=repr)}"
    return f"a {kind.__name__} of {n}"


def _tree_mismatch(name, want, got) -> str:
    def walk(w, g, path):
        wd, gd = w.node_data(), g.node_data()
        same = (wd is None and gd is None) or (
            wd is not None
            and gd is not None
            and wd[0] is gd[0]
            and (wd[0] is not dict or list(wd[1]) == list(gd[1]))
            and len(w.children()) == len(g.children())
        )
        if not same:
            return path, _describe(w), _describe(g)
        for i, (wc, gc) in enumerate(zip(w.children(), g.children())):
            key = f"[{wd[1][i]!r}]" if wd[0] is dict else f"[{i}]"
            found = walk(wc, gc, path + key)
            if found:
                return found
        return None

    found = None
    n_want, n_got = (len(t.children()[0].children()) for t in (want, got))
    if n_want != n_got:
        return f"{name}: expected {n_want} positional arguments, got {n_got}"
    if len(want.children()) == 2 and len(got.children()) == 2:
        for label, wc, gc in zip(("args", "kwargs"), want.children(), got.children()):
            found = walk(wc, gc, label)
            if found:
                break
    if found is None:
        return f"{name}: arguments of structure {got}, but it was exported for {want}"
    path, expected, actual = found
    return (
        f"{name}: argument {path} should be {expected} but is {actual} (the function "
        f"was exported for arguments {want}, got {got})"
    )
