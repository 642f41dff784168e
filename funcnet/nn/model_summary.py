"""``nn.summary(model, input)``: a table of a model's layers with shapes, parameters, FLOPs.

How it works: the model is initialised for the input and ``model.apply`` is traced once
with ``make_jaxpr`` into funcnet's IR. During that trace every layer's ``_apply`` is
wrapped (on the instance, undone afterwards) to note where its equations start and end
in the program being built, its output shape and its parameters; a layer's own FLOPs
are the FLOPs of its equations minus those of the layers it calls. Counting from the
one traced program means the per-layer rows add up to the model's total exactly, and
only equations left after ``make_jaxpr``'s dead-code and common-subexpression passes
count. A custom layer whose ``forward`` calls ``self.net.apply(...)`` gets rows under
its path and the attribute's name (``block_0/net/dense_0``). A layer called inside a
sub-program its parent traces (under ``vmap`` or ``scan`` in a custom ``forward``)
has its FLOPs in the parent's row.

FLOPs per equation (one multiply-add is 2 FLOPs):

- ``dot_general``: 2 * output elements * contracted size (2*M*N*K for a matmul);
- ``conv_general_dilated``: 2 * output elements * kernel spatial size * input
  channels per group, padded taps included (the usual hand formula; XLA's own cost
  analysis skips taps that fall on padding, so it reports less for ``SAME``);
- elementwise arithmetic (``add`` of a bias, ``max`` of a ReLU, ``exp``...): 1 per
  output element (``exp``, ``tanh`` too: XLA's cost analysis puts those under
  "transcendentals" instead); reductions and ``argmax``: n - 1 per n values reduced;
  pooling (``reduce_window_*``): window size - 1 per output element; cumulative ops:
  1 per element;
- data movement (``reshape``, ``broadcast_in_dim``, ``transpose``, slices, gathers,
  ``convert_element_type``...): 0;
- sub-programs (``custom_jvp_call``, ``jit``, ``cond``, ``scan``...): their body's
  count, times ``length`` for ``scan``, the costliest branch for ``cond``, one trip
  for ``while`` (the trip count is unknown when tracing);
- linear algebra (``cholesky``, ``svd``...), ``fft`` and ``sort``: textbook estimates;
- random bits (Dropout when training) count their integer arithmetic, as above.

So a Dense layer counts 2*B*in*out for the matmul plus B*out for the bias add; an
activation is its own row (``Fn``) with 1 FLOP per element.
"""

import html
import math
from collections.abc import Mapping

import numpy as np

from funcnet import random, tree
from funcnet.core.array import ShapeDtypeStruct
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr
from funcnet.nn.core import Fn, Layer, join
from funcnet.nn.params import _bytes, count_params
from funcnet.nn.params import summary as params_summary
from funcnet.transforms.jit import make_jaxpr

__all__ = ["ModelSummary", "summary"]

# Primitives that move or relabel data without arithmetic.
_FREE = frozenset(
    {
        "reshape",
        "transpose",
        "squeeze",
        "rev",
        "slice",
        "dynamic_slice",
        "dynamic_update_slice",
        "concatenate",
        "split",
        "pad",
        "iota",
        "broadcast_in_dim",
        "convert_element_type",
        "stop_gradient",
        "optimization_barrier",
        "opaque_true",
        "gather",
        "scatter",
        "copy",
        "copy_p",
        "real",
        "imag",
        "complex",
        "debug_callback",
        "random_bits",
        "random_seed",
        "random_wrap",
        "random_unwrap",
        "threefry2x32",
        "bitcast_convert_type",
    }
)


def _size(shape) -> int:
    return int(math.prod(shape))


def _out_size(eqn) -> int:
    return sum(_size(v.aval.shape) for v in eqn.outputs)


def _in_size(eqn) -> int:
    return _size(eqn.inputs[0].aval.shape) if eqn.inputs else 0


def _programs(value):
    """The sub-programs held in an equation parameter (a program, or a tuple of them)."""
    if isinstance(value, (Jaxpr, ClosedJaxpr)):
        return [value]
    if isinstance(value, (tuple, list)):
        return [p for v in value for p in _programs(v)]
    return []


def _dot_flops(eqn):
    (contract, _), lhs = eqn.params["dimension_numbers"], eqn.inputs[0].aval.shape
    return 2 * _out_size(eqn) * _size([lhs[d] for d in contract[0]])


def _conv_flops(eqn):
    rhs = eqn.inputs[1].aval.shape
    out_features = rhs[eqn.params["dimension_numbers"].rhs_spec[0]]
    # per output element: kernel spatial size * input channels per group
    return 2 * _out_size(eqn) * (_size(rhs) // max(out_features, 1))


def _linalg_flops(name, eqn):
    shape = eqn.inputs[0].aval.shape
    n = shape[-1] if shape else 1
    batch = _size(shape[:-2])
    per = {
        "cholesky": n**3 / 3,
        "triangular_solve": n * n * (shape[-1] if len(shape) else 1),
        "lu": 2 * n**3 / 3,
        "qr": 4 * n**3 / 3,
        "eigh": 9 * n**3,
        "eig": 25 * n**3,
        "svd": 22 * n**3,
    }[name]
    return int(batch * per)


def jaxpr_flops(program) -> int:
    """The FLOPs of a traced program, counted per equation (see the module docstring).

    Args:
      program: a ``Jaxpr`` or ``ClosedJaxpr`` (what ``fn.make_jaxpr`` returns).

    Returns:
      An int: the floating-point operations one run of the program performs.

    Example:
      >>> import funcnet as fn
      >>> from funcnet.nn.model_summary import jaxpr_flops
      >>> program = fn.make_jaxpr(lambda a, b: a @ b + 1.0)(fnp.ones((2, 3)), fnp.ones((3, 4)))
      >>> jaxpr_flops(program)  # 2*2*3*4 for the matmul, 2*4 for the add
      56
    """
    jaxpr = program.jaxpr if isinstance(program, ClosedJaxpr) else program
    return sum(_eqn_flops(e) for e in jaxpr.eqns)


def _eqn_flops(eqn) -> int:
    name = eqn.primitive.name
    subs = [p for v in eqn.params.values() for p in _programs(v)]
    if name == "cond":
        return max((jaxpr_flops(p) for p in subs), default=0)
    if subs:
        inner = sum(jaxpr_flops(p) for p in subs)
        return inner * int(eqn.params.get("length", 1)) if name == "scan" else inner
    if name in _FREE:
        return 0
    if name == "dot_general":
        return _dot_flops(eqn)
    if name == "conv_general_dilated":
        return _conv_flops(eqn)
    if name.startswith("reduce_window") or name.startswith("select_and_"):
        # combining a window of k values takes k - 1 operations (as XLA counts)
        return _out_size(eqn) * (_size(eqn.params.get("window_dimensions", (1,))) - 1)
    if name.startswith(("reduce_", "arg")):
        return _in_size(eqn) - _out_size(eqn)  # n - 1 operations per n values reduced
    if name.startswith("cum"):
        return _in_size(eqn)
    if name in ("cholesky", "triangular_solve", "lu", "qr", "eigh", "eig", "svd"):
        return _linalg_flops(name, eqn)
    if name == "fft":
        n = _size(eqn.params.get("fft_lengths", (1,)))
        return int(5 * _in_size(eqn) * max(math.log2(max(n, 2)), 1))
    if name == "sort":
        n = eqn.inputs[0].aval.shape[-1] if eqn.inputs[0].aval.shape else 1
        return int(_in_size(eqn) * max(math.log2(max(n, 2)), 1))
    if name.startswith("scatter_"):
        return _size(eqn.inputs[-1].aval.shape)
    return _out_size(eqn)  # elementwise arithmetic


# --- recording the layers while tracing ---------------------------------------------------


def _sublayers(layer, seen):
    """Every Layer reachable from ``layer``'s attributes (containers, cells, wrapped
    layers), each once."""
    if id(layer) in seen:
        return
    seen[id(layer)] = layer
    for value in vars(layer).values():
        for v in value.values() if isinstance(value, Mapping) else _as_list(value):
            if isinstance(v, Layer):
                _sublayers(v, seen)


def _as_list(value):
    return value if isinstance(value, (list, tuple)) else [value]


class _Recorder:
    """Wraps each layer's ``_apply`` to note the calls, nested, in program order."""

    def __init__(self, model):
        found = {}
        _sublayers(model, found)
        self.layers = list(found.values())
        self.finished, self.stack, self.builder = [], [], None

    def __enter__(self):
        for layer in self.layers:
            layer._apply = self._wrap(layer, layer._apply)
        return self

    def __exit__(self, *exc):
        for layer in self.layers:
            vars(layer).pop("_apply", None)

    def _wrap(self, layer, original):
        def recorded(params, state, x, *, path, **kw):
            if self.stack and not path:  # a custom layer's forward called child.apply(...)
                parent = self.stack[-1]
                path = join(parent["path"], _attribute_name(parent["layer"], layer))
            call = {"layer": layer, "path": path, "params": params, "children": []}
            if self.stack:
                self.stack[-1]["children"].append(call)
            self.stack.append(call)
            call["start"] = len(self.builder.eqns)
            try:
                y, new_state = original(params, state, x, path=path, **kw)
            finally:
                self.stack.pop()
            # the equations as staged; make_jaxpr's passes (DCE, CSE) may drop some later
            call["staged"] = self.builder.eqns[call["start"] :]
            call["finished"] = len(self.finished)  # rows in the order calls finish
            self.finished.append(call)
            call["output_shape"] = _shapes(y)
            return y, new_state

        return recorded


def _attribute_name(parent, child) -> str:
    """The name of the attribute of ``parent`` that holds ``child`` (``self.net``)."""
    for attr, value in vars(parent).items():
        if value is child and not attr.startswith("_"):
            return attr
    return child.name or child.default_name()


def _shapes(y):
    if isinstance(y, (tuple, list)):
        return tuple(_shapes(e) for e in y)
    return tuple(y.shape)


# --- the input -------------------------------------------------------------------------


def _is_shape(v) -> bool:
    return isinstance(v, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in v
    )


def _input_spec(value, batch):
    """(init shape, traced stand-in) for a shape tuple or a sample array, or a tuple or
    list of them (several inputs)."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        shape = tuple(int(d) for d in value.shape)
        return shape, ShapeDtypeStruct(shape, value.dtype)
    if _is_shape(value) and value:
        shape = tuple(-1 if d is None else int(d) for d in value)
        concrete = tuple(batch if d == -1 else d for d in shape)
        return shape, ShapeDtypeStruct(concrete, np.float32)
    if isinstance(value, (tuple, list)) and value:
        pairs = [_input_spec(v, batch) for v in value]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    raise TypeError(
        "nn.summary's input must be a shape tuple (use -1 for the batch), a sample "
        f"array, or a tuple of them for several inputs; got {value!r}"
    )


# --- the summary -------------------------------------------------------------------------


def _kind(layer) -> str:
    return repr(layer) if isinstance(layer, Fn) else type(layer).__name__


class ModelSummary:
    """A model's layers with their output shapes, parameters and FLOPs (``nn.summary``).

    ``str()`` (or ``print``) gives the table; in a notebook it shows as an HTML table.

    Attributes:
      rows: a list of dicts, one per layer that owns parameters or computes: ``path``,
        ``kind``, ``output_shape``, ``params``, ``bytes``, ``flops``.
      total_params: the parameter count of the whole model (shared layers once).
      total_bytes: the parameters' size in bytes.
      state_count: the number of entries in the state (BatchNorm statistics).
      total_flops: the FLOPs of one call of ``model.apply`` at this input.
      input_shape: the shape(s) the FLOPs are counted for (an unknown batch is 1).
      output_shape: the model's output shape(s).
    """

    def __init__(self, rows, total_params, total_bytes, state_count, total_flops, ins, outs):
        self.rows = rows
        self.total_params = total_params
        self.total_bytes = total_bytes
        self.state_count = state_count
        self.total_flops = total_flops
        self.input_shape = ins
        self.output_shape = outs

    def to_dict(self) -> dict:
        """The summary as plain data (for a DataFrame or JSON).

        Returns:
          A dict with ``rows`` (a list of dicts) and the totals.
        """
        return {
            "rows": [dict(r) for r in self.rows],
            "total_params": self.total_params,
            "total_bytes": self.total_bytes,
            "state_count": self.state_count,
            "total_flops": self.total_flops,
            "input_shape": self.input_shape,
            "output_shape": self.output_shape,
        }

    _HEAD = ("path", "kind", "output shape", "params", "FLOPs")

    def _cells(self):
        return [
            (r["path"], r["kind"], str(r["output_shape"]), f"{r['params']:,}", f"{r['flops']:,}")
            for r in self.rows
        ]

    def _footer(self):
        lines = [
            f"total: {self.total_params:,} parameters ({_bytes(self.total_bytes)}), "
            f"{self.total_flops:,} FLOPs for an input of shape {self.input_shape}"
        ]
        if self.state_count:
            lines.append(f"state: {self.state_count:,} entries (not trained)")
        return lines

    def __str__(self):
        cells = self._cells()
        widths = [max(len(row[i]) for row in [self._HEAD, *cells]) for i in range(5)]

        def fmt(row):
            left = [f"{c:<{w}}" for c, w in zip(row[:3], widths[:3])]
            right = [f"{c:>{w}}" for c, w in zip(row[3:], widths[3:])]
            return "  ".join(left + right).rstrip()

        head = fmt(self._HEAD)
        rule = "-" * len(head)
        return "\n".join([head, rule, *map(fmt, cells), rule, *self._footer()])

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        def tr(row, tag):
            return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>"

        body = "".join(tr(r, "td") for r in self._cells())
        foot = "<br>".join(html.escape(line) for line in self._footer())
        return f"<table>{tr(self._HEAD, 'th')}{body}</table><p>{foot}</p>"


def summary(model, input=None, *, key=None, train=False, batch_size=1):
    """A model's layers as a table: path, kind, output shape, parameters and FLOPs.

    ``nn.summary(model, input)`` initialises ``model`` for ``input``, traces
    ``model.apply`` once and counts each layer's FLOPs from the traced program (see
    ``funcnet.nn.model_summary``'s module docstring for what counts: a matmul is 2*M*N*K, a
    bias add and an activation 1 per element). Rows are the layers that own parameters
    or compute, in the order their calls finish, by their path (``block_0/dense_1`` inside nested
    containers); a container shows a row only for work of its own (``Residual``'s add).
    The rows add up to the totals: a layer used twice (tied weights) shows twice, its
    second row marked ``(shared)`` with 0 parameters.

    ``nn.summary(params)`` (one parameter tree) still returns the older table of every
    parameter array (path, shape, dtype, count) as a string.

    Args:
      model: a layer (``nn.Sequential``...), or a parameter tree for the older table.
      input: the input's shape (a tuple, -1 or None for the batch), a sample array, or a
        tuple of them for a model with several inputs.
      key: the ``funcnet.random`` key for the initialisation (default ``key(0)``); the
        values do not matter to the table.
      train: trace the training behaviour (Dropout, BatchNorm's batch statistics).
      batch_size: the size an unknown (-1) dimension gets when counting FLOPs.

    Returns:
      A ``ModelSummary``: print it for the table, ``.to_dict()`` for the data,
      ``.total_flops`` / ``.total_params`` for the totals. Given only params: a string.

    Raises:
      TypeError: a layer without ``input``, or an input that is neither a shape nor an
        array.
      LayerError: the input does not fit a layer (the message names the layer's path).

    Example:
      >>> from funcnet import nn
      >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
      >>> print(nn.summary(model, (-1, 3)))
      path     kind      output shape  params  FLOPs
      ----------------------------------------------
      dense_0  Dense     (1, 4)            16     28
      relu_0   Fn(relu)  (1, 4)             0      4
      dense_1  Dense     (1, 2)            10     18
      ----------------------------------------------
      total: 26 parameters (104 B), 50 FLOPs for an input of shape (1, 3)
    """
    if not isinstance(model, Layer):
        if input is not None:
            raise TypeError(
                f"nn.summary(model, input) takes a layer as model, got {type(model).__name__}"
            )
        return params_summary(model)
    if input is None:
        raise TypeError(
            "nn.summary(model, input) needs the input: a shape such as (-1, 28, 28, 1) or a "
            "sample array"
        )
    init_shape, stand_in = _input_spec(input, int(batch_size))
    params, state, _ = model.init_with_state(random.key(0) if key is None else key, init_shape)
    recorder = _Recorder(model)
    apply_key = random.key(0) if train else None

    def run(p, s, x):
        recorder.builder = tree.tree_leaves((p, s, x))[0]._trace.builder
        return model.apply(p, x, state=s, train=train, key=apply_key)[0]

    with recorder:
        program, out = make_jaxpr(run, return_shape=True)(params, state, stand_in)
    # An equation staged during a call counts if it survived the passes: found by its
    # output variables, which CSE and DCE keep (CSE only renames inputs).
    final = {id(v): _eqn_flops(e) for e in program.jaxpr.eqns for v in e.outputs[:1]}

    def flops_of(call):
        return sum(final.get(id(e.outputs[0]), 0) for e in call["staged"] if e.outputs)

    rows, seen = [], set()
    for call in recorder.finished:
        # a layer used twice (tied weights) owns its parameters at its first use only
        distinct = list({id(c["layer"]): c for c in call["children"]}.values())
        own_flops = flops_of(call) - sum(flops_of(c) for c in call["children"])
        own_params = count_params(call["params"]) - sum(count_params(c["params"]) for c in distinct)
        own_bytes = _param_bytes(call["params"]) - sum(_param_bytes(c["params"]) for c in distinct)
        shared = id(call["layer"]) in seen
        seen.add(id(call["layer"]))
        if call["children"] and own_params <= 0 and own_flops <= 0:
            continue
        rows.append(
            {
                "path": call["path"] or type(call["layer"]).__name__.lower(),
                "kind": _kind(call["layer"]) + (" (shared)" if shared else ""),
                "output_shape": call["output_shape"],
                "params": 0 if shared else max(own_params, 0),
                "bytes": 0 if shared else max(own_bytes, 0),
                "flops": own_flops,
            }
        )
    return ModelSummary(
        rows,
        count_params(params),
        _param_bytes(params),
        count_params(state),
        jaxpr_flops(program),
        _shapes_of(stand_in),
        _shapes(out),
    )


def _param_bytes(params) -> int:
    return sum(
        _size(np.shape(v)) * np.dtype(getattr(v, "dtype", np.float32)).itemsize
        for v in tree.tree_leaves(params)
    )


def _shapes_of(stand_in):
    if isinstance(stand_in, tuple):
        return tuple(_shapes_of(s) for s in stand_in)
    return tuple(stand_in.shape)
