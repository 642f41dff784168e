"""Lowering the IR to StableHLO text (MLIR generic syntax).

An environment interpreter: walk the equations, look up each primitive's rule in
`lowering_rules`, map IR variables to SSA value names. A rule has the signature
``rule(ctx, *operand_names, **params) -> list of result names`` where
``ctx.in_avals``/``ctx.out_avals`` give the equation's types and ``ctx.op``
emits one operation.
"""

from typing import NamedTuple

import numpy as np

from funcnet.core import dtypes
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Literal
from funcnet.core.rules import RuleTable
from funcnet.sharding import _sdy

lowering_rules = RuleTable("lowering")

TOKEN_TYPE = "!stablehlo.token"


# --- types and attributes -----------------------------------------------------


def element_type(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == dtypes.bool_:
        return "i1"
    if dtype == dtypes.bfloat16:
        return "bf16"
    if dtypes.is_complex(dtype):
        return f"complex<f{4 * dtype.itemsize}>"
    bits = 8 * dtype.itemsize
    return {"f": f"f{bits}", "i": f"i{bits}", "u": f"ui{bits}"}[dtype.kind]


def tensor_type(aval) -> str:
    dims = "".join(f"{d}x" for d in aval.shape)
    return f"tensor<{dims}{element_type(aval.dtype)}>"


def i64_array(values) -> str:
    values = list(values)
    return "array<i64" + (": " + ", ".join(str(int(v)) for v in values) if values else "") + ">"


def int_list(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def scalar_literal(value, dtype) -> str:
    """The text of one element in a dense<...> attribute, exact for every dtype."""
    dtype = np.dtype(dtype)
    if dtype == dtypes.bool_:
        return "true" if bool(value) else "false"
    if dtypes.is_float(dtype):
        bits = np.asarray(value, dtype).view(f"u{dtype.itemsize}")
        return f"0x{int(bits):0{2 * dtype.itemsize}X}"
    if dtypes.is_complex(dtype):  # (re, im), each part exact in hex
        value = complex(np.asarray(value, dtype))
        part = dtypes.real_dtype(dtype)
        return f"({scalar_literal(value.real, part)}, {scalar_literal(value.imag, part)})"
    return str(int(np.asarray(value, dtype)))


def compare(em, x, y, direction, aval):
    """`stablehlo.compare` of two values of type `aval` (direction "EQ", "LT", ...), with
    the comparison type of its dtype; the result is bool of the same shape."""
    if dtypes.is_inexact(aval.dtype):  # complex compares as FLOAT too (eq/ne only), as jax
        ctype = "FLOAT"
    elif dtypes.is_int(aval.dtype) and not dtypes.is_unsigned(aval.dtype):
        ctype = "SIGNED"
    else:
        ctype = "UNSIGNED"
    out = aval.update(dtype=dtypes.bool_, weak_type=False)
    return em.op1(
        "stablehlo.compare",
        [x, y],
        [aval, aval],
        out,
        comparison_direction=f"#stablehlo<comparison_direction {direction}>",
        compare_type=f"#stablehlo<comparison_type {ctype}>",
    )


def dense_attr(value, aval) -> str:
    """A dense<...> attribute for a (small) constant array."""
    arr = np.asarray(value, aval.dtype)
    if arr.size and np.all(arr == arr.reshape(-1)[0]):  # splat
        body = scalar_literal(arr.reshape(-1)[0], aval.dtype)
    elif dtypes.is_inexact(aval.dtype) or aval.dtype == dtypes.bool_ or arr.size == 0:
        # Raw bytes: exact and compact for any shape (and "0x" for an empty array,
        # which a nested list could only spell for one dimension).
        body = '"0x' + np.ascontiguousarray(arr).tobytes().hex().upper() + '"'
    else:
        body = _nested(arr)
    return f"dense<{body}> : {tensor_type(aval)}"


def _nested(arr) -> str:
    if arr.ndim == 0:
        return str(int(arr))
    return "[" + ", ".join(_nested(a) for a in arr) + "]"


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def location(name: str, info) -> str:
    """An MLIR location for one operation: its op name around the user's source line.

    `loc("jit(f)/tanh"("f"("model.py":12:9)))` is a name (the op, prefixed by the
    enclosing jit scopes) wrapping a name (the user's Python function) wrapping a
    file:line:column. XLA turns the inner pair into the stack frame (file, function,
    line) of the HLO instruction's metadata and the outer name into `op_name`, so
    XLA's own dumps and profiles point at the user's line, as they do for jax."""
    if info is None:
        return f'loc("{_escape(name)}")'
    frame = f'"{_escape(info.file)}":{info.line}:{getattr(info, "column", 0)}'
    return f'loc("{_escape(name)}"("{_escape(info.function)}"({frame})))'


# --- the emitter --------------------------------------------------------------


class Module:
    """Names SSA values uniquely across one module, and knows the platform it is lowered
    for ("cpu", "cuda", ...; a few rules choose their form by it)."""

    def __init__(self, platform: str = "cpu"):
        self._count = 0
        self.platform = platform
        # Meshes the module's sharding annotations name (arguments, results,
        # sdy.sharding_constraint, sdy.manual_computation), with their symbols, in
        # order of first use; declared in the module's header (`sdy.mesh`).
        self.meshes: dict = {}
        # The token chaining ordered side effects (funcnet.debug callbacks with
        # ordered=True) in the block being emitted: an SSA name, or None before the
        # first. Control flow threads it through its regions (`Emitter.region`).
        self.effect_token = None

    def fresh(self) -> str:
        self._count += 1
        return f"%{self._count - 1}"

    def mesh_name(self, mesh) -> str:
        """The symbol (`mesh`, `mesh_1`, ...) of `mesh` in this module, declaring it on
        first use; lowering rules that emit Shardy shardings call this."""
        name = self.meshes.get(mesh)
        if name is None:
            name = "mesh" if not self.meshes else f"mesh_{len(self.meshes)}"
            self.meshes[mesh] = name
        return name


class Emitter:
    """Collects the lines of one block (a function body or a region)."""

    def __init__(self, module: Module, indent: int = 4):
        self.module = module
        self.indent = indent
        self.lines = []
        # Set per equation by the interpreter, read by rules.
        self.in_avals = self.out_avals = ()
        self.loc = ""
        # The op-name prefix for locations: "jit(f)", "jit(f)/jit(g)" inside a nested call.
        self.scope = ""

    def op(self, name, operands, operand_types, result_types, attrs=None, regions=()):
        """Emit one operation in generic syntax and return its result names.

        `attrs` are the op's inherent attributes (MLIR properties, `<{...}>`)."""
        n = len(result_types)
        res = self.module.fresh() if n else None
        lhs = "" if n == 0 else (f"{res} = " if n == 1 else f"{res}:{n} = ")
        text = f'{lhs}"{name}"({", ".join(operands)})'
        if attrs:
            text += " <{" + ", ".join(f"{k} = {v}" for k, v in attrs.items()) + "}>"
        if regions:
            text += " (" + ", ".join(regions) + ")"
        outs = result_types[0] if n == 1 else f"({', '.join(result_types)})"
        text += f" : ({', '.join(operand_types)}) -> {outs}"
        if self.loc:
            text += " " + self.loc
        self.lines.append(" " * self.indent + text)
        if n == 0:
            return []
        return [res] if n == 1 else [f"{res}#{i}" for i in range(n)]

    def op1(self, name, operands, operand_avals, result_aval, **attrs):
        """The common case: one result, types from avals."""
        return self.op(
            name,
            operands,
            [tensor_type(a) for a in operand_avals],
            [tensor_type(result_aval)],
            attrs or None,
        )[0]

    def effect_token(self) -> str:
        """The current ordered-effects token (made by stablehlo.after_all if none yet)."""
        if self.module.effect_token is None:
            self.module.effect_token = self.op("stablehlo.after_all", [], [], [TOKEN_TYPE])[0]
        return self.module.effect_token

    def constant(self, value, aval) -> str:
        return self.op(
            "stablehlo.constant", [], [], [tensor_type(aval)], {"value": dense_attr(value, aval)}
        )[0]

    def region(
        self,
        arg_avals,
        out_avals,
        body,
        token_arg=False,
        token_result=False,
        terminator="stablehlo.return",
    ) -> str:
        """A one-block region; `body(emitter, *arg_names)` returns the values to yield.

        For control flow whose sub-programs have side effects, the ordered-effects
        token goes through the region: `token_arg` makes it a leading argument (a loop's
        carry; otherwise the region sees the enclosing block's token), `token_result`
        a leading result (the token after the region's effects)."""
        sub = Emitter(self.module, self.indent + 4)
        sub.loc = self.loc
        sub.scope = self.scope
        outer_token = self.module.effect_token
        args = [self.module.fresh() for _ in arg_avals]
        arg_types = [tensor_type(a) for a in arg_avals]
        if token_arg:
            self.module.effect_token = self.module.fresh()
            args, arg_types = [self.module.effect_token, *args], [TOKEN_TYPE, *arg_types]
        outs = body(sub, *args[1:] if token_arg else args)
        out_types = [tensor_type(a) for a in out_avals]
        if token_result:
            outs, out_types = [sub.effect_token(), *outs], [TOKEN_TYPE, *out_types]
        self.module.effect_token = outer_token  # the region's own token ends with it
        sub.op(terminator, list(outs), out_types, [])
        header = (
            " " * (self.indent + 2)
            + "^bb0("
            + ", ".join(f"{a}: {t}" for a, t in zip(args, arg_types))
            + "):"
        )
        return "{\n" + header + "\n" + "\n".join(sub.lines) + "\n" + " " * self.indent + "}"


# --- lowering programs --------------------------------------------------------


def _call_scope(eqn) -> str | None:
    """The scope name an equation that calls a sub-program adds ("jit(g)"), else None."""
    for v in eqn.params.values():
        if isinstance(v, (Jaxpr, ClosedJaxpr)) or (
            isinstance(v, (tuple, list)) and v and isinstance(v[0], (Jaxpr, ClosedJaxpr))
        ):
            name = eqn.params.get("name")
            return f"{eqn.primitive.name}({name})" if isinstance(name, str) else eqn.primitive.name
    return None


def lower_jaxpr(em: Emitter, jaxpr: Jaxpr, consts_names, args_names):
    """Emit the equations of `jaxpr` into `em`; return the names of its outputs."""
    env = {}
    outer_loc, outer_scope = em.loc, em.scope

    def read(x):
        if isinstance(x, Literal):
            return em.constant(x.val, x.aval)
        return env[x]

    env.update(zip(jaxpr.constvars, consts_names))
    env.update(zip(jaxpr.invars, args_names))
    prefix = outer_scope + "/" if outer_scope else ""
    for eqn in jaxpr.eqns:
        rule = lowering_rules.get(eqn.primitive)
        if rule is None:
            raise NotImplementedError(f"no StableHLO lowering rule for primitive '{eqn.primitive}'")
        em.in_avals = [x.aval for x in eqn.inputs]
        em.out_avals = [v.aval for v in eqn.outputs]
        em.loc = location(prefix + eqn.primitive.name, eqn.source_info)
        call = _call_scope(eqn)
        em.scope = outer_scope if call is None else prefix + call
        outs = rule(em, *map(read, eqn.inputs), **eqn.params)
        em.scope = outer_scope
        if len(outs) != len(eqn.outputs):
            raise RuntimeError(
                f"lowering of {eqn.primitive} gave {len(outs)} results, expected {len(eqn.outputs)}"
            )
        env.update(zip(eqn.outputs, outs))
    em.loc = outer_loc
    return [read(x) for x in jaxpr.outvars]


class LoweredModule(NamedTuple):
    """A lowered module: its text and, for a partitioned (SPMD) program, the ordered
    device list it must be compiled for (`devices`, partition i runs on devices[i]);
    `devices` is None for a single-device program; `meshes` are the meshes its
    annotations name."""

    text: str
    devices: tuple | None
    meshes: tuple = ()


def lower_to_module(
    closed: ClosedJaxpr,
    name: str = "main",
    arg_attrs=None,
    scope: str | None = None,
    platform: str = "cpu",
) -> str:
    """A whole module; the program's constants become leading arguments.

    `scope` prefixes every op name in the locations (default "jit(<name>)"; "" for
    bare primitive names).

    `arg_attrs` optionally gives one attribute string (or None) per argument,
    e.g. "tf.aliasing_output = 0 : i32" for a donated buffer."""
    return lower_module(closed, name, arg_attrs, scope, platform).text


def lower_module(
    closed: ClosedJaxpr,
    name: str = "main",
    arg_attrs=None,
    scope: str | None = None,
    platform: str = "cpu",
    arg_shardings=None,
    out_shardings=None,
    devices=None,
) -> LoweredModule:
    """`lower_to_module` with shardings (see `lower_to_module` for the other arguments).

    `arg_shardings` / `out_shardings` give one `NamedSharding` or None (unspecified:
    the partitioner chooses) per argument (constants included) / result; they become
    `sdy.sharding` attributes (a sharding without a mesh, a `TiledSharding`, is left
    unspecified). `devices` is the program's ordered device list (default:
    the first mesh named by an annotation). A module whose annotations name a mesh is
    partitioned, and so is one given `devices`: its header carries
    `mhlo.num_partitions` and the `sdy.mesh` declarations; any other module is exactly
    the single-device text."""
    jaxpr = closed.jaxpr
    module = Module(platform)
    em = Emitter(module)
    em.scope = scope if scope is not None else f"jit({name})"
    in_avals = [v.aval for v in jaxpr.constvars] + [v.aval for v in jaxpr.invars]
    out_avals = [x.aval for x in jaxpr.outvars]
    arg_names = [f"%arg{i}" for i in range(len(in_avals))]
    attrs = list(arg_attrs or [None] * len(in_avals))
    res_attrs = [None] * len(out_avals)
    # Annotations of arguments and results first: their mesh is the module's "@mesh".
    for shardings, avals, into in (
        (arg_shardings, in_avals, attrs),
        (out_shardings, out_avals, res_attrs),
    ):
        for i, (s, aval) in enumerate(zip(shardings or (), avals)):
            if s is not None and hasattr(s, "spec"):  # a layout without a mesh: unspecified
                sdy = "sdy.sharding = " + _sdy.sharding_attr(
                    s.spec, len(aval.shape), module.mesh_name(s.mesh)
                )
                into[i] = sdy if into[i] is None else f"{into[i]}, {sdy}"
    n_consts = len(jaxpr.constvars)
    outs = lower_jaxpr(em, jaxpr, arg_names[:n_consts], arg_names[n_consts:])
    out_types = [tensor_type(a) for a in out_avals]
    em.op("func.return", outs, out_types, [])
    params = ", ".join(
        f"{a}: {tensor_type(v)}" + (f" {{{t}}}" if t else "")
        for a, v, t in zip(arg_names, in_avals, attrs)
    )
    results = ", ".join(t + (f" {{{a}}}" if a else "") for t, a in zip(out_types, res_attrs))
    header = f"  func.func public @main({params}) -> ({results}) {{"
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "main"
    if not module.meshes and devices is None:
        text = "\n".join([f"module @{safe} {{", header, *em.lines, "  }", "}", ""])
        return LoweredModule(text, None)
    devices, decls = _mesh_decls(module.meshes, devices)
    top = (
        f"module @{safe} attributes {{mhlo.num_partitions = {len(devices)} : i32, "
        "mhlo.num_replicas = 1 : i32} {"
    )
    text = "\n".join([top, *decls, header, *em.lines, "  }", "}", ""])
    return LoweredModule(text, devices, tuple(module.meshes))


def _mesh_decls(meshes: dict, devices):
    """The program's device list and one `sdy.mesh` line per mesh. A mesh is written in
    iota order over the device list when its devices are in that order, else with
    explicit `device_ids` (positions in the list); its devices must be the list's."""
    if devices is None:  # the first mesh's (there is one: see lower_module)
        devices = tuple(next(iter(meshes)).devices.flat)
    position = {d.id: i for i, d in enumerate(devices)}
    decls = []
    for mesh, sym in meshes.items():
        ids = [d.id for d in mesh.devices.flat]
        if set(ids) != set(position) or len(ids) != len(position):
            raise ValueError(
                f"a sharding in the program uses the mesh {mesh.shape} over devices "
                f"{sorted(ids)}, but the program runs on devices {sorted(position)}: every "
                "sharding of one jitted function (in_shardings, out_shardings, the "
                "arguments' and with_sharding_constraint's) must use the same devices"
            )
        order = [position[i] for i in ids]
        explicit = None if order == list(range(len(order))) else order
        decls.append("  " + _sdy.mesh_decl(mesh, sym, explicit))
    return tuple(devices), decls
