"""`export`: trace a function, translate its program with `onnx_rules`, assemble the
`onnx.ModelProto`, and write it to a file when asked."""

import inspect
import os
import tempfile

import numpy as np

from funcnet import tree
from funcnet.core.traceback_util import api_boundary
from funcnet.io import leaf_name
from funcnet.nn.conv_patches import convolution_primitives
from funcnet.onnx import (  # noqa: F401 (importing them registers the rules)
    _calls,
    _contractions,
    _elementwise,
    _indexing,
    _structural,
)
from funcnet.onnx._graph import Context, Graph, SubGraph, onnx_type, translate
from funcnet.transforms.jit import make_jaxpr

DEFAULT_OPSET = 19
MIN_OPSET = 18  # the rules pass reduction axes as inputs, as opset 18 does for all of them


def _import_onnx():
    try:
        import onnx  # optional (the `onnx` extra): imported only when exporting
    except ImportError as e:
        raise ImportError(
            "funcnet.onnx.export needs the `onnx` package: pip install funcnet[onnx]"
        ) from e
    return onnx


def _arg_names(f, n: int) -> list:
    """The names of `f`'s first `n` positional parameters (`arg<i>` where unknown)."""
    names = []
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            names += [f"{p.name}.{i}" for i in range(n - len(names))]
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        if len(names) >= n:
            break
    return (names + [f"arg{i}" for i in range(len(names), n)])[:n]


def _joined(head: str, rest: str) -> str:
    return f"{head}.{rest}" if rest else head


def _leaf_names(f, args) -> list:
    """`params.dense_1.w`, `x`: each leaf's tree path, as funcnet.io names tensors, after
    the name of f's parameter."""
    top = _arg_names(f, len(args))
    paths, _ = tree.tree_flatten_with_path(tuple(args))
    return [_joined(top[path[0].idx], leaf_name(path[1:])) for path, _ in paths]


def _out_names(out_shapes) -> list:
    paths, _ = tree.tree_flatten_with_path(out_shapes)
    return [_joined("output", leaf_name(path)) for path, _ in paths]


def _unique(names, taken) -> list:
    out = []
    for name in names:
        base, k = name, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        out.append(name)
    return out


def _split_path(example_args, path):
    """A trailing str or PathLike positional argument is the path (an array argument
    can be neither)."""
    if example_args and isinstance(example_args[-1], (str, os.PathLike)):
        if path is not None:
            raise TypeError(
                "funcnet.onnx.export got the path twice: as the last positional argument "
                f"({example_args[-1]!r}) and as path={path!r}"
            )
        return example_args[:-1], example_args[-1]
    return example_args, path


def _tensor(onnx, name, arr):
    arr = np.array(arr, order="C")
    return onnx.helper.make_tensor(
        name, onnx_type(arr.dtype), list(arr.shape), arr.tobytes(), raw=True
    )


def _value_info(onnx, name, dtype, shape):
    return onnx.helper.make_tensor_value_info(name, onnx_type(dtype), list(shape))


def _nodes(onnx, nodes) -> list:
    """NodeProtos of the graph's nodes; a SubGraph attribute (a Loop's body, an If's
    branch) becomes a GraphProto."""
    out = []
    for op_type, inputs, outputs, attrs, doc in nodes:
        attrs = {k: _subgraph(onnx, v) if isinstance(v, SubGraph) else v for k, v in attrs.items()}
        out.append(onnx.helper.make_node(op_type, inputs, outputs, doc_string=doc or None, **attrs))
    return out


def _subgraph(onnx, sub):
    return onnx.helper.make_graph(
        _nodes(onnx, sub.nodes),
        "body",
        [_value_info(onnx, *io) for io in sub.inputs],
        [_value_info(onnx, *io) for io in sub.outputs],
    )


def _save(onnx, model, path):
    """Write atomically: a failed save leaves an existing file at `path` as it was."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".funcnet-onnx-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(model.SerializeToString())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@api_boundary
def export(f, *example_args, path=None, opset=None):
    """Translates the inference program of `f` at `example_args` to an ONNX model, which
    onnxruntime (or any ONNX runtime) can run without funcnet.

    `f` is traced as `fn.make_jaxpr` traces it and each equation of its program becomes
    a few ONNX nodes (`funcnet.onnx` keeps one translation per primitive; see
    docs/onnx.md for the list). Sub-programs of `jit`, `checkpoint` and custom
    derivative rules are inlined (the primal program; derivative rules are dropped);
    `scan` and `while` become ONNX `Loop`s, `cond` an `If`.

    The graph's inputs are the leaves of `example_args`, named by their tree path after
    `f`'s parameter names (`params.dense_1.w`, `x`; list and tuple items by index); its
    outputs are the leaves of `f`'s result, named `output` (a single array) or by their
    path under it (`output.0`, `output.logits`). Shapes are static: the model takes
    exactly the example's shapes and dtypes. The program's constants become
    initializers.

    Args:
      f: a function of arrays (pytrees of them); a jitted function works too.
      *example_args: the arguments to trace `f` with: arrays, or `fn.ShapeDtypeStruct`s
        standing for them. A last positional `str` or `os.PathLike` is the output path
        (an array argument can be neither), so `export(f, params, x, "model.onnx")`
        writes the file.
      path: where to write the model (the `.onnx` file), or None to only return it.
        Written atomically: a failed write leaves an existing file as it was.
      opset: the ONNX opset (default 19, the lowest allowed 18); onnxruntime 1.16 and
        later run opset 19.

    Returns:
      The `onnx.ModelProto`, checked with `onnx.checker.check_model`.

    Raises:
      ImportError: when the `onnx` package is missing (`pip install funcnet[onnx]`).
      UnsupportedPrimitiveError: for a primitive without an ONNX translation (linear
        algebra, sorting, scatters, host callbacks...) or used in a form ONNX cannot
        express; the message names the primitive and the line of `f`'s code that made
        it.
      TypeError: when the path is given twice, or `opset` is not an int.
      ValueError: when `opset` is below 18 or above the installed onnx's newest.

    Example:
      >>> import funcnet.onnx, onnxruntime
      >>> def predict(w, x):
      ...     return fnp.tanh(x @ w)
      >>> w, x = fnp.ones((3, 2)), fnp.ones((4, 3))
      >>> model = funcnet.onnx.export(predict, w, x)
      >>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]
      (['w', 'x'], ['output'])
      >>> sess = onnxruntime.InferenceSession(
      ...     model.SerializeToString(), providers=["CPUExecutionProvider"])
      >>> np.allclose(sess.run(None, {"w": np.ones((3, 2), np.float32),
      ...                             "x": np.ones((4, 3), np.float32)})[0], np.tanh(3.0))
      True
    """
    example_args, path = _split_path(example_args, path)
    opset = DEFAULT_OPSET if opset is None else opset
    onnx = _import_onnx()
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool):
        raise TypeError(f"funcnet.onnx.export: opset must be an int, got {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"funcnet.onnx.export: opset must be from {MIN_OPSET} to {newest} (the "
            f"installed onnx's newest), got {opset}"
        )
    with convolution_primitives():  # ONNX's Conv, not the CPU patches form
        closed, out_shapes = make_jaxpr(f, return_shape=True)(*example_args)
    in_names = _leaf_names(f, example_args)
    if len(in_names) != len(closed.jaxpr.invars):
        raise TypeError(
            f"funcnet.onnx.export: {len(in_names)} leaves in the example arguments but the "
            f"traced program takes {len(closed.jaxpr.invars)} inputs"
        )
    taken = set()
    in_names = _unique(in_names, taken)
    out_names = _unique(_out_names(out_shapes), taken)

    graph = Graph()
    for name in taken:
        graph.reserve(name)
    ctx = Context(graph, opset)
    consts = [ctx.const(np.asarray(c)) for c in closed.consts]
    outs = translate(ctx, closed.jaxpr, consts + in_names)
    for internal, name in zip(outs, out_names):
        graph.nodes.append(("Identity", [internal], [name], {}, ""))

    helper = onnx.helper
    model_graph = helper.make_graph(
        _nodes(onnx, graph.nodes),
        getattr(f, "__name__", "funcnet_function"),
        [
            _value_info(onnx, n, v.aval.dtype, v.aval.shape)
            for n, v in zip(in_names, closed.jaxpr.invars)
        ],
        [_value_info(onnx, n, a.dtype, a.shape) for n, a in zip(out_names, closed.out_avals)],
        [_tensor(onnx, name, arr) for name, arr in graph.initializers.items()],
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        model_graph,
        opset_imports=opsets,
        producer_name="funcnet",
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(model)
    if path is not None:
        _save(onnx, model, path)
    return model
