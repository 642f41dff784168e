"""The translation machinery: the `onnx_rules` table, the graph being built, and the walk
over a program's equations.

The graph is kept as plain Python data (nodes as tuples, constants as NumPy arrays) and
only turned into an `onnx.ModelProto` at the end (`_export.py`), so that the rules and
`import funcnet.onnx` never need the optional `onnx` package.

A rule has the signature ``rule(ctx, *input_names, **params) -> list of output names``
(as the StableHLO lowering rules): ``ctx.in_avals``/``ctx.out_avals`` give the equation's
types and ``ctx.op`` adds one ONNX node.
"""

from typing import NamedTuple

import numpy as np

from funcnet.core import dtypes
from funcnet.core.jaxpr import Literal
from funcnet.core.rules import RuleTable

onnx_rules = RuleTable("onnx")


class UnsupportedPrimitiveError(NotImplementedError):
    """Raised by `funcnet.onnx.export` for an equation it cannot translate to ONNX: a
    primitive without a translation (a `while_loop`, a Cholesky factorization, ...) or
    one used in a form ONNX cannot express. The message names the primitive and the
    user's source line.

    Example:
      >>> import funcnet.onnx
      >>> issubclass(funcnet.onnx.UnsupportedPrimitiveError, NotImplementedError)
      True
    """


# ONNX's TensorProto.DataType numbers (fixed by the ONNX specification), by NumPy dtype.
_ONNX_TYPES = {
    "float32": 1,
    "uint8": 2,
    "int8": 3,
    "uint16": 4,
    "int16": 5,
    "int32": 6,
    "int64": 7,
    "bool": 9,
    "float16": 10,
    "float64": 11,
    "uint32": 12,
    "uint64": 13,
    "complex64": 14,
    "complex128": 15,
    "bfloat16": 16,
}


def onnx_type(dtype) -> int:
    """The ONNX element type number of a NumPy dtype."""
    name = np.dtype(dtype).name
    if name not in _ONNX_TYPES:
        raise TypeError(f"ONNX has no element type for dtype {name}")
    return _ONNX_TYPES[name]


class Graph:
    """The nodes, constants (initializers) and fresh names of the graph being built."""

    def __init__(self):
        self.nodes = []  # (op_type, inputs, outputs, attrs, doc)
        self.initializers = {}  # name -> NumPy array
        self._small = {}  # (dtype, shape, bytes) -> name: small constants made once
        self._count = 0
        self._taken = set()

    def reserve(self, name: str) -> str:
        """Claim `name` (an input or output name the user sees) so no fresh name clashes."""
        self._taken.add(name)
        return name

    def fresh(self, hint: str = "t") -> str:
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self._taken:
                self._taken.add(name)
                return name

    def constant(self, value, dtype=None) -> str:
        arr = np.asarray(value, dtype)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._small:
                return self._small[key]
        name = self.fresh("const")
        self.initializers[name] = np.array(arr, order="C")  # (ascontiguousarray makes 0-d 1-d)
        if key is not None:
            self._small[key] = name
        return name


class SubGraph(NamedTuple):
    """The body of a Loop node or a branch of an If: its nodes, and its inputs and outputs as
    `(name, dtype, shape)`. Its constants are initializers of the main graph (a sub-graph
    sees the names of the graphs around it)."""

    nodes: list
    inputs: list
    outputs: list


class Context:
    """What a rule sees: the equation's types, and ways to add nodes and constants."""

    def __init__(self, graph: Graph, opset: int):
        self.graph = graph
        self.nodes = graph.nodes  # the block nodes go to: the graph's, or a sub-graph's
        self.opset = opset
        self.in_avals = self.out_avals = ()
        self.eqn = None
        self.doc = ""  # the user's source line, written into each node's doc_string

    def op(self, op_type: str, inputs, **attrs) -> str:
        """Add one node with one output; return the output's name."""
        return self.ops(op_type, inputs, 1, **attrs)[0]

    def ops(self, op_type: str, inputs, n_outputs: int, **attrs) -> list:
        outputs = [self.graph.fresh(op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append((op_type, list(inputs), outputs, attrs, self.doc))
        return outputs

    def subgraph(self, inputs, outputs, body) -> SubGraph:
        """A sub-graph whose inputs are `(hint, dtype, shape)` and whose outputs have
        the `(dtype, shape)` of `outputs`: `body(*input_names)` adds its nodes (with
        `ctx.op` as usual) and returns the names of its results."""
        names = [self.graph.fresh(hint) for hint, _, _ in inputs]
        outer, self.nodes = self.nodes, []
        try:
            results = body(*names)
            # Outputs of their own, made in the sub-graph (a result may be an input or a
            # name of the outer graph).
            out_names = [self.op("Identity", [r]) for r in results]
            nodes = self.nodes
        finally:
            self.nodes = outer
        return SubGraph(
            nodes,
            [(n, dtype, shape) for n, (_, dtype, shape) in zip(names, inputs)],
            [(n, dtype, shape) for n, (dtype, shape) in zip(out_names, outputs)],
        )

    def const(self, value, dtype=None) -> str:
        return self.graph.constant(value, dtype)

    def ints(self, values) -> str:
        """A 1-d int64 constant (shapes, axes, starts...)."""
        return self.graph.constant(np.asarray(list(values), np.int64).reshape(-1))

    def cast(self, x: str, src, dst) -> str:
        """`x` converted from dtype `src` to `dst` (nothing when they agree)."""
        if np.dtype(src) == np.dtype(dst):
            return x
        return self.op("Cast", [x], to=onnx_type(dst))

    def reshape(self, x: str, shape) -> str:
        return self.op("Reshape", [x, self.ints(shape)], allowzero=1)

    def fail(self, why: str):
        """Raise the unsupported-form error for the equation being translated."""
        raise UnsupportedPrimitiveError(_message(self.eqn, why))


def _message(eqn, why: str) -> str:
    info = eqn.source_info
    where = f" (at {info})" if info is not None else ""
    return f"funcnet.onnx.export: primitive '{eqn.primitive.name}'{where} {why}"


def translate(ctx: Context, jaxpr, args) -> list:
    """Add the nodes of `jaxpr`'s equations, its invars bound to the names `args`
    (constvars first when it has any); return the names of its outputs."""
    env = dict(zip(list(jaxpr.constvars) + list(jaxpr.invars), args))

    def read(x):
        if isinstance(x, Literal):
            return ctx.const(np.asarray(x.val, x.aval.dtype))
        return env[x]

    outer = (ctx.eqn, ctx.in_avals, ctx.out_avals, ctx.doc)
    for eqn in jaxpr.eqns:
        ctx.eqn = eqn
        rule = onnx_rules.get(eqn.primitive)
        if rule is None:
            raise UnsupportedPrimitiveError(
                _message(
                    eqn,
                    "has no ONNX translation (funcnet.onnx translates inference "
                    "programs; see docs/onnx.md for the supported primitives)",
                )
            )
        ctx.in_avals = [x.aval for x in eqn.inputs]
        ctx.out_avals = [v.aval for v in eqn.outputs]
        ctx.doc = str(eqn.source_info) if eqn.source_info is not None else ""
        try:
            outs = rule(ctx, *map(read, eqn.inputs), **eqn.params)
        except UnsupportedPrimitiveError:
            raise
        except Exception as e:  # a defect of a rule: say which equation it met
            e.add_note(_message(eqn, "was being translated to ONNX"))
            raise
        if len(outs) != len(eqn.outputs):
            raise RuntimeError(
                f"ONNX rule of {eqn.primitive} gave {len(outs)} results, "
                f"expected {len(eqn.outputs)}"
            )
        env.update(zip(eqn.outputs, outs))
    ctx.eqn, ctx.in_avals, ctx.out_avals, ctx.doc = outer
    return [read(x) for x in jaxpr.outvars]


def is_bool(aval) -> bool:
    return aval.dtype == dtypes.bool_
