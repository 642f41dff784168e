"""Batching: the trace behind `vmap`, and the table of batching rules.

A `BatchTracer` stands for a whole batch of per-example values: `val` is the
batched array and `batch_dim` says which of its axes runs over the examples
(None when the value is the same for every example). The tracer's `aval` is the
*per-example* type, so user code sees the shapes it was written for.

Each primitive has one rule in `batching_rules`:

    rule(axis_size, vals, dims, **params) -> (out, out_dim)
                                          or (outs, out_dims) for multiple results

`vals` are the batched arrays (or unbatched values), `dims` their batch axes
(None = unbatched). A rule binds primitives on the underlying values, so it works
over any trace below (eager, jit staging, an outer vmap). Rules keep the batch
axis where it is whenever the primitive allows, so that `make_jaxpr(vmap(f))`
shows no needless transposes. The rules live by family in batching_rules*.py;
this file holds the machinery and the shared helpers.
"""

import contextlib
import weakref

from funcnet import lax
from funcnet.core import axis_env
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, closed_without_consts, eval_jaxpr
from funcnet.core.rules import RuleTable
from funcnet.core.source_info import where
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Trace, Tracer, get_aval, new_main
from funcnet.runtime.cache import register_program_cache
from funcnet.transforms.ad_util import zeros

batching_rules = RuleTable("batching")


class AxisSize(int):
    """The number of examples of a vmap that names its axis (`vmap(..., axis_name=)`).

    Rules receive the batch size as `size`; this int subclass carries the name with it,
    so that a rule batching a sub-program (jit, scan, ...) hands it on unchanged and the
    collectives inside find their axis."""

    def __new__(cls, size: int, axis_name):
        self = super().__new__(cls, size)
        self.axis_name = axis_name
        return self

    def __repr__(self):
        return f"AxisSize({int(self)}, {self.axis_name!r})"


def axis_name_of(size):
    """The axis name a batch of `size` examples is bound to (None when unnamed)."""
    return getattr(size, "axis_name", None)


# Primitives over named axes (funcnet.lax.parallel's): their rule runs even when no
# operand is batched, when the batch trace's axis is named (psum of a constant over the
# vmapped axis is a multiple of it; axis_index has no operand).
named_axis_primitives = set()


class BatchInfo:
    """What a batch trace knows about its batch: the number of examples (an `AxisSize`
    when the axis is named) and the axis name (or None)."""

    def __init__(self, size: int):
        self.size = size
        self.name = axis_name_of(size)


class BatchTracer(Tracer):
    __slots__ = ("batch_dim", "val")

    def __init__(self, trace, val, batch_dim):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self):
        aval = get_aval(self.val)
        d = self.batch_dim
        if d is None:
            return aval
        return aval.update(shape=aval.shape[:d] + aval.shape[d + 1 :])

    def full_lower(self):
        if self.batch_dim is None:
            val = self.val
            return val.full_lower() if isinstance(val, Tracer) else val
        return self

    def to_concrete_value(self):
        if self.batch_dim is not None:
            return None
        val = self.val
        return val.to_concrete_value() if isinstance(val, Tracer) else val

    def _concretization_message(self, what: str) -> str:
        size = self._trace.main.global_data.size
        return (
            f"{what} got a value batched by vmap ({self.aval.str_short()} per example, "
            f"{size} examples){where()}. Python control flow sees a single value, but "
            "each example may need a different branch. Use fnp.where(cond, x, y) to "
            "choose elementwise, or fn.lax.cond / fn.lax.switch for data-dependent "
            "control flow (under vmap they become a select); or keep the value out of "
            "vmap with in_axes=None."
        )


class BatchTrace(Trace):
    def pure(self, val):
        return BatchTracer(self, val, None)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.batch_dim for t in tracers]
        if all(d is None for d in dims) and not (
            primitive in named_axis_primitives and self.main.global_data.name in params["axis_name"]
        ):
            out = primitive.bind(*vals, **params)
            outs = out if primitive.multiple_results else [out]
            return [BatchTracer(self, o, None) for o in outs]
        size = self.main.global_data.size
        if size == 0 and not _holds_program(params):
            return [BatchTracer(self, o, 0) for o in _empty_batch(primitive, tracers, params)]
        rule = batching_rules.get(primitive)
        if rule is None:
            raise NotImplementedError(f"vmap: primitive `{primitive}` has no batching rule")
        out, out_dim = rule(size, vals, dims, **params)
        if primitive.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return [BatchTracer(self, out, out_dim)]


def _holds_program(params) -> bool:
    """Whether a primitive carries a sub-program or a user rule (jit, scan, custom_vjp, ...):
    its batching rule batches what is inside, so it handles a batch of none itself."""

    def is_program(v):
        return isinstance(v, (Jaxpr, ClosedJaxpr)) or (callable(v) and not isinstance(v, type))

    return any(
        is_program(v) or (isinstance(v, (tuple, list)) and any(map(is_program, v)))
        for v in params.values()
    )


def _empty_batch(primitive, tracers, params):
    """A batch of zero examples: every output is empty along its batch axis (0), so the
    per-example types are all there is to compute. Rules need not handle a size of 0
    (a convolution would fold it into a zero feature-group count)."""
    out_avals = primitive.abstract_eval(*(t.aval for t in tracers), **params)
    return [zeros(a.update(shape=(0,) + a.shape, weak_type=False)) for a in out_avals]


def unbatch(main, x):
    """(value, batch_dim) of an output of a function traced under `main`."""
    if isinstance(x, BatchTracer) and x._trace.main is main:
        return x.val, x.batch_dim
    return x, None


def batch_fun(fun, axis_size, in_dims):
    """`fun` on batched values: returns (flat outputs, their batch dims)."""

    def batched(*vals):
        with new_main(BatchTrace, BatchInfo(axis_size)) as main, named_axis(main):
            trace = BatchTrace(main)
            args = [v if d is None else BatchTracer(trace, v, d) for v, d in zip(vals, in_dims)]
            outs = fun(*args)
            pairs = [unbatch(main, o) for o in outs]
        return [v for v, _ in pairs], [d for _, d in pairs]

    return batched


def named_axis(main):
    """Bind the batch trace's axis name (if any) while it runs: a context manager."""
    info = main.global_data
    if info.name is None:
        return contextlib.nullcontext()
    return axis_env.extend_axis_env([axis_env.AxisFrame(info.name, int(info.size), "vmap", main)])


# --- helpers shared by the rules -------------------------------------------------


def ndim(x) -> int:
    return get_aval(x).ndim


def shape(x) -> tuple:
    return get_aval(x).shape


def dtype(x):
    return get_aval(x).dtype


def moveaxis(x, src: int, dst: int):
    """Move axis `src` of `x` to position `dst` (no equation when they agree)."""
    if src == dst:
        return x
    perm = [i for i in range(ndim(x)) if i != src]
    perm.insert(dst, src)
    return lax.transpose(x, perm)


def broadcast_batch(x, size: int, dim: int):
    """Insert a new batch axis of `size` at position `dim` (for unbatched values)."""
    s = list(shape(x))
    s.insert(dim, size)
    return lax.broadcast_in_dim(x, s, [i if i < dim else i + 1 for i in range(len(s) - 1)])


def bdim_to(x, d, size: int, dst: int):
    """`x` with its batch axis at `dst`, broadcasting an unbatched `x`."""
    return broadcast_batch(x, size, dst) if d is None else moveaxis(x, d, dst)


def full_axis(axis: int, d) -> int:
    """The index, in the batched array, of per-example axis `axis` (batch axis at `d`)."""
    return axis if d is None or axis < d else axis + 1


def full_axes(axes, d) -> tuple:
    return tuple(full_axis(a, d) for a in axes)


def first_batched(dims):
    return next(d for d in dims if d is not None)


# --- programs: batch a whole jaxpr (for jit, remat, custom_jvp/vjp) --------------------

# ClosedJaxpr -> {key: (jaxpr, consts, dims)}
_jaxpr_cache = register_program_cache(weakref.WeakKeyDictionary())


def batched_aval(aval, d, size):
    """The type of a batch of values of type `aval`, batch axis at `d` (None: unbatched)."""
    return aval if d is None else aval.update(shape=aval.shape[:d] + (size,) + aval.shape[d:])


def batch_jaxpr(closed, axis_size, dims, in_avals, out_dims=None):
    """Batch a program whose arguments have batch axes `dims` (types `in_avals`).

    Returns (the program with its constants as leading arguments, those constants,
    the outputs' batch axes). `out_dims`, when given, says where outputs must have
    their batch axis: an int moves (or broadcasts) the output there, None leaves it
    as it comes. Cached per program, so a staged call is traced (and compiled) once."""
    per_jaxpr = _jaxpr_cache.setdefault(closed, {})
    key = (
        axis_size,
        axis_name_of(axis_size),
        tuple(dims),
        tuple(in_avals),
        None if out_dims is None else tuple(out_dims),
    )
    hit = per_jaxpr.get(key)
    if hit is not None:
        return hit
    out_dims_box = []

    def fun(*args):
        outs, dims_out = batch_fun(
            lambda *a: eval_jaxpr(closed.jaxpr, closed.consts, *a), axis_size, dims
        )(*args)
        if out_dims is not None:
            outs = [
                o if t is None else bdim_to(o, d, axis_size, t)
                for o, d, t in zip(outs, dims_out, out_dims)
            ]
            dims_out = [d if t is None else t for d, t in zip(dims_out, out_dims)]
        out_dims_box.append(dims_out)
        return outs

    new = trace_to_jaxpr(fun, list(in_avals))
    hit = (closed_without_consts(new), new.consts, out_dims_box[0])
    if not any(isinstance(c, Tracer) for c in new.consts):
        per_jaxpr[key] = hit
    return hit
