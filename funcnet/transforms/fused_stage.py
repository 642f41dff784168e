"""Fused eager's step cache: whole calls traced once and recorded as one operation.

Recording a training step op by op costs Python on every step: `grad` runs the
forward pass through its tracers, partial evaluation and the transpose again, and an
optimizer maps over every leaf. Inside a `fused_eager` block (at its own level, not
under another transformation) the calls that carry most of that Python (`grad`,
`value_and_grad`, `vmap`, a `GradientTransformation`'s `update`, `apply_updates`) are
traced once per function and argument signature, as `jit` traces, and recorded as one
`jit` equation of the pending chain. Later steps with the same signature skip the
Python: one flatten, one dict probe, one recorded equation.

The signature: the function (held weakly, shared by every wrapper of it, as jit's
caches are: jit_cache.py), the transformation's options, the argument tree, the
avals of its Array leaves, the other leaves (Python scalars, strings, ...: compared
by type and value, so they keep their Python meaning inside the function), and the
x64 flag. Before each reuse the function's closure cells and defaults are compared
by identity with the ones it was traced with: a closure over a rebound variable
traces again. What no guard sees, as for `jit`: a global or a mutable object the
function reads, and Python side effects, which run once per trace.

When tracing cannot stage the call (Python control flow on a value, `float()` of an
argument, an argument that is a NumPy array, a sharded Array or a foreign tracer),
the call runs as plain recorded eager code, and that signature is not tried again.
`fused_eager(cache_calls=False)` turns the cache off for a block.
"""

import functools
import types

import numpy as np

from funcnet import tree
from funcnet.config import config
from funcnet.core import passes
from funcnet.core import trace as core_trace
from funcnet.core.array import Array
from funcnet.core.jaxpr import closed_without_consts
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Tracer
from funcnet.lax.calls import jit_p
from funcnet.runtime.cache import LRUCache
from funcnet.transforms.fused_eager import LazyArray, LazyTrace, _stats
from funcnet.transforms.jit_cache import function_slot

__all__ = ["active", "call", "stage_in_fused_eager"]

_DYNAMIC = object()  # an Array leaf's place in a signature's template
_UNSTAGEABLE = object()  # a signature whose trace failed: runs as plain eager code
_PER_FUNCTION = 32  # signatures kept per function and options (least recently used go)


def active() -> bool:
    """Whether a call here is at a `fused_eager` block's own level with its call cache
    on (no transformation above the block, jit not disabled)."""
    if core_trace.eager_fast:  # no trace open in any thread: the common eager case
        return False
    top = core_trace._state.stack[-1]
    return top.trace_type is LazyTrace and top.global_data.cache_calls and not config.disable_jit


def call(fun, options, impl, args, kwargs):
    """`impl(*args, **kwargs)`, traced once per signature and recorded as one `jit`
    equation; `fun` (the user's function) and `options` (hashable) name the cache.
    Call only when `active()`."""
    leaves, treedef = tree.tree_flatten((args, kwargs))
    template, dynamic, avals = [], [], []
    for leaf in leaves:
        kind = type(leaf)
        if kind is Array or kind is LazyArray:
            template.append(_DYNAMIC)
            dynamic.append(leaf)
            avals.append(leaf.aval)
        elif isinstance(leaf, (Array, Tracer, np.ndarray)):  # sharded, foreign, host
            return impl(*args, **kwargs)
        else:
            template.append((kind, leaf))
    try:
        by_options = function_slot(fun).by_options
        cache = by_options.get(("fused_eager", options))
        if cache is None:
            cache = by_options[("fused_eager", options)] = LRUCache(_PER_FUNCTION)
        key = (treedef, tuple(template), tuple(avals), config.enable_x64)
        entry = cache.get(key)
    except TypeError:  # an unhashable option or argument: nothing to key it by
        return impl(*args, **kwargs)
    guard = _closure_of(fun)
    if entry is None or (entry is not _UNSTAGEABLE and not _same(entry.guard, guard)):
        entry = _Staged.trace(impl, treedef, template, avals, guard, options[0])
        cache.put(key, entry)
    elif entry is not _UNSTAGEABLE:
        _stats["call_hits"] += 1
    if entry is _UNSTAGEABLE:
        return impl(*args, **kwargs)
    # At the block's level with Array arguments only, `jit_p.bind` would reach the
    # block's graph anyway: record there directly, with the traced output avals.
    graph = core_trace._state.stack[-1].global_data
    outs = graph.record(jit_p, entry.consts + dynamic, entry.params, entry.out_avals)
    return entry.rebuild(outs)


class _Staged:
    """One traced signature: the program, its constants and the outputs' template."""

    __slots__ = ("consts", "guard", "out_avals", "out_template", "out_tree", "params")

    @classmethod
    def trace(cls, impl, treedef, template, avals, guard, name):
        box = []

        def flat_fun(*values):
            it = iter(values)
            full = [next(it) if t is _DYNAMIC else t[1] for t in template]
            a, k = tree.tree_unflatten(treedef, full)
            out_leaves, out_tree = tree.tree_flatten(impl(*a, **k))
            # Non-array outputs (a Python int in an aux dict) stay Python values.
            out_template = [_DYNAMIC if isinstance(x, (Tracer, Array)) else x for x in out_leaves]
            box.append((out_tree, out_template))
            return [x for x in out_leaves if isinstance(x, (Tracer, Array))]

        try:
            closed = trace_to_jaxpr(flat_fun, avals)
        except Exception:  # the plain run raises it again (or needs no staging)
            _stats["call_unstageable"] += 1
            return _UNSTAGEABLE
        if any(isinstance(c, Tracer) for c in closed.consts):  # a leaked tracer
            _stats["call_unstageable"] += 1
            return _UNSTAGEABLE
        if config.optimize_jaxprs:
            closed = passes.optimize(closed)
        _stats["call_traces"] += 1
        self = cls()
        self.consts = list(closed.consts)
        call_jaxpr = closed_without_consts(closed)
        self.params = {"jaxpr": call_jaxpr, "name": name}
        self.out_avals = call_jaxpr.out_avals
        self.out_tree, self.out_template = box[0]
        self.guard = guard
        return self

    def rebuild(self, outs):
        it = iter(outs)
        return tree.tree_unflatten(
            self.out_tree, [next(it) if t is _DYNAMIC else t for t in self.out_template]
        )


def _closure_of(fun):
    """What a traced function's meaning may hang on besides its code and globals: its
    closure cells' contents and its defaults (compared by identity)."""
    if isinstance(fun, types.MethodType):
        fun = fun.__func__
    if not isinstance(fun, types.FunctionType):
        return ()
    cells = []
    for cell in fun.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # an empty cell (a name assigned later)
            cells.append(_DYNAMIC)
    return (*cells, fun.__defaults__, fun.__kwdefaults__)


def _same(a, b) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def stage_in_fused_eager(fun):
    """Decorates a pure library function so that a call at a `fused_eager` block's
    level is traced once per signature (see the module); elsewhere it is `fun`."""
    if getattr(fun, "_fused_staged", False):
        return fun

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        if active():
            return call(fun, ("call",), fun, args, kwargs)
        return fun(*args, **kwargs)

    wrapper._fused_staged = True
    return wrapper
