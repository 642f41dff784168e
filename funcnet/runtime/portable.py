"""StableHLO portable artifacts, through jaxlib's MLIR and StableHLO bindings.

`funcnet.export` keeps a program as a *portable artifact*: the module converted to
StableHLO's versioned dialect (VHLO) and written as MLIR bytecode for a declared target
version, which any StableHLO consumer within that version's compatibility window reads
back (https://github.com/openxla/stablehlo/blob/main/docs/compatibility.md). This
module is the only place that parses, rewrites and (de)serializes MLIR modules for it;
it knows nothing of funcnet's IR. `runtime/callback.py` parses host-callback programs in
the same context.
"""

import re
import threading

from jaxlib.mlir import ir
from jaxlib.mlir._mlir_libs import _jax_mlir_ext
from jaxlib.mlir.dialects import chlo, stablehlo

_context = None
_lock = threading.RLock()  # MLIR contexts are not thread-safe: one user at a time


def _ctx():
    global _context
    if _context is None:
        registry = ir.DialectRegistry()
        _jax_mlir_ext.register_dialects(registry)
        ctx = ir.Context()
        ctx.append_dialect_registry(registry)
        ctx.load_all_available_dialects()
        stablehlo.register_dialect(ctx)
        chlo.register_dialect(ctx)
        _context = ctx
    return _context


def parse(mlir_text: str):
    """An MLIR module object for StableHLO text (func, stablehlo and chlo dialects), in
    funcnet's one MLIR context (host-callback programs are compiled from such objects)."""
    with _lock, _ctx():
        return ir.Module.parse(mlir_text)


# --- versions ------------------------------------------------------------------------------


def current_version() -> str:
    """The StableHLO version this jaxlib writes and reads natively (e.g. "1.17.0")."""
    return stablehlo.get_current_version()


def minimum_version() -> str:
    """The oldest StableHLO version this jaxlib can read an artifact of."""
    return stablehlo.get_minimum_version()


def default_target_version() -> str:
    """The version artifacts are written for: one at least 4 weeks old (as jax), so that
    consumers updated about monthly read them."""
    return stablehlo.get_version_from_compatibility_requirement(
        stablehlo.StablehloCompatibilityRequirement.WEEK_4
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def check_version(version: str) -> None:
    """Raise ValueError unless this jaxlib can read artifacts of StableHLO `version`."""
    try:
        v = _version_tuple(version)
    except (ValueError, AttributeError):
        raise ValueError(f"{version!r} is not a StableHLO version (e.g. '1.15.0')") from None
    low, high = minimum_version(), current_version()
    if not _version_tuple(low) <= v <= _version_tuple(high):
        raise ValueError(
            f"StableHLO version {version} is outside the range this runtime (jaxlib) "
            f"reads and writes: {low} to {high}"
        )


_PRODUCER = re.compile(rb"StableHLO_v(\d+\.\d+\.\d+)")


def artifact_version(artifact: bytes) -> str | None:
    """The StableHLO version a portable artifact declares in its header, or None."""
    m = _PRODUCER.search(artifact[:64])
    return m.group(1).decode() if m else None


# --- writing -------------------------------------------------------------------------------


def serialize(mlir_text: str, constants: list[str], target_version: str) -> bytes:
    """A portable artifact of a module whose `@main` takes its constants first.

    Args:
      mlir_text: a StableHLO module (text) with one public function `@main`.
      constants: the attribute texts (`dense<...> : tensor<...>`) of `@main`'s leading
        arguments; they become `stablehlo.constant`s in the body, so the artifact's
        `@main` takes only the remaining arguments.
      target_version: the StableHLO version to write (see `check_version`).

    Returns:
      The artifact's bytes (MLIR bytecode of the VHLO module).
    """
    check_version(target_version)
    with _lock, _ctx():
        module = ir.Module.parse(mlir_text)
        _inline_leading_arguments(_main(module), constants)
        if not module.operation.verify():  # pragma: no cover (verify raises on failure)
            raise ValueError("the module does not verify after inlining its constants")
        return stablehlo.serialize_portable_artifact(module, target_version)


def _main(module):
    for op in module.body.operations:
        if op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value == (
            "main"
        ):
            return op
    raise ValueError("the module has no function @main")


def _inline_leading_arguments(main, constants):
    if not constants:
        return
    block = main.regions[0].blocks[0]
    with ir.InsertionPoint.at_block_begin(block), ir.Location.unknown():
        for i, text in enumerate(constants):
            const = stablehlo.ConstantOp(ir.Attribute.parse(text))
            block.arguments[i].replace_all_uses_with(const.result)
    for _ in constants:
        block.erase_argument(0)
    results = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value).results
    inputs = [a.type for a in block.arguments]
    main.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(inputs, results))
    if "arg_attrs" in main.attributes:  # per-argument attributes (donation): dropped
        del main.attributes["arg_attrs"]


# --- reading -------------------------------------------------------------------------------


def deserialize(artifact: bytes, debug_info: bool = False) -> str:
    """The StableHLO module text of a portable artifact (upgraded to this jaxlib's
    StableHLO version).

    Args:
      artifact: bytes written by `serialize` (or any StableHLO portable artifact).
      debug_info: print the operations' locations too.

    Returns:
      The module in MLIR text (custom assembly form).

    Raises:
      ValueError: the bytes are not a readable portable artifact.
    """
    with _lock, _ctx() as ctx:
        try:
            module = stablehlo.deserialize_portable_artifact(ctx, artifact)
        except Exception as e:  # the bindings raise a bare MLIRError/RuntimeError
            detail = " ".join(str(e).split())
            raise ValueError(f"not a readable StableHLO portable artifact ({detail})") from None
        return module.operation.get_asm(enable_debug_info=debug_info)


_NAME_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|%[A-Za-z0-9_$.]+')


class InlinableBody:
    """The body of a module's `@main` in generic syntax, to be pasted into another
    function: its argument names, its operations' lines and its results' names.

    Args:
      mlir_text: a module with a function `@main` whose body is one block.
    """

    def __init__(self, mlir_text: str):
        with _lock, _ctx():
            module = ir.Module.parse(mlir_text)
            main = _main(module)
            if len(main.regions[0].blocks) != 1 or len(module.body.operations) != 1:
                raise ValueError("only a module with one single-block function can be inlined")
            self.arg_names = [a.get_name() for a in main.regions[0].blocks[0].arguments]
            lines = main.operation.get_asm(print_generic_op_form=True).splitlines()
        # lines: '"func.func"() <{...}> ({', ['^bb0(...):'], ops..., '"func.return"(...)', '})'
        body = lines[1:-1]
        if body and body[0].lstrip().startswith("^bb0"):
            body = body[1:]
        ret = body[-1].strip()
        if not ret.startswith('"func.return"('):
            raise ValueError(f"unexpected end of @main: {ret[:80]}")
        inner = ret[len('"func.return"(') : ret.index(")")]
        self.result_names = [x.strip() for x in inner.split(",") if x.strip()]
        self.lines = [line.strip("\n") for line in body[:-1]]
        indent = min((len(x) - len(x.lstrip()) for x in self.lines if x.strip()), default=0)
        self.lines = [x[indent:] for x in self.lines]

    def instantiate(self, operands, fresh, indent: int):
        """The body's lines with every SSA name made unique (`fresh()` gives a new
        name) and the arguments replaced by `operands`; returns (lines, result names).
        """
        names = dict(zip(self.arg_names, operands))

        def rename(m):
            token = m.group(0)
            if token.startswith('"'):  # a string attribute: left alone
                return token
            if token not in names:
                names[token] = fresh()
            return names[token]

        lines = [" " * indent + _NAME_OR_STRING.sub(rename, line) for line in self.lines]
        results = [_NAME_OR_STRING.sub(rename, r) for r in self.result_names]
        return lines, results
