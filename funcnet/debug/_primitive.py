"""The `debug_callback` primitive: call a Python function on the values of its operands.

It has no outputs and is `effectful`, so program passes keep it. Its rules, one row in
each transformation's table, follow jax's debug callbacks:

- eager: the function runs at once, on NumPy copies of the operands;
- jit: a side-effecting custom call into Python (funcnet/runtime/callback.py runs it);
- jvp / grad: it runs on the primal values, in the forward pass; tangents are not shown;
- vmap: it runs once per example, in order, each on that example's slice;
- `ordered=True`: calls are chained by a `!stablehlo.token` that the lowering threads
  through control-flow regions (`Emitter.effect_token`), so they run in program order
  across the whole program. Unordered calls of one program may run in any order.
"""

import numpy as np

from funcnet import lax, tree
from funcnet.backend.lowering import lowering_rules, tensor_type
from funcnet.core import dtypes
from funcnet.core.array import Array
from funcnet.core.aval import ShapedArray
from funcnet.core.trace import Primitive, Tracer, get_aval, impl_rules
from funcnet.runtime import callback as runtime
from funcnet.transforms.batching import batching_rules
from funcnet.transforms.jvp import jvp_rules

debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.effectful = True

_TOKEN = "!stablehlo.token"
_SITE_ID = ShapedArray((), dtypes.uint64)  # see funcnet/runtime/callback.py


class CallbackSite:
    """One staged call: `fn(*args, **kwargs)` rebuilt from the flat dynamic values (NumPy
    arrays at run time) and the static leaves (anything that is not an array)."""

    def __init__(self, fn, in_tree, static, name):
        self.fn = fn
        self.in_tree = in_tree
        self.static = dict(static)  # flat position -> static leaf
        self.__name__ = name  # how a printed program names it

    def __call__(self, *dynamic):
        values = iter(dynamic)
        n = len(self.static) + len(dynamic)
        leaves = [self.static[i] if i in self.static else next(values) for i in range(n)]
        args, kwargs = tree.tree_unflatten(self.in_tree, leaves)
        self.fn(*args, **kwargs)

    def __repr__(self):
        return self.__name__


def _is_dynamic(leaf) -> bool:
    """Arrays, tracers and numbers travel through the program; other leaves stay in Python."""
    if isinstance(leaf, (Tracer, Array)):
        return True
    try:
        get_aval(leaf)
    except TypeError:
        return False
    return not (isinstance(leaf, np.ndarray) and leaf.dtype == object)


def bind_callback(fn, args, kwargs, *, ordered: bool, name: str):
    """Stage `fn(*args, **kwargs)` as one `debug_callback` equation."""
    leaves, in_tree = tree.tree_flatten((tuple(args), dict(kwargs)))
    dynamic = [x for x in leaves if _is_dynamic(x)]
    static = [(i, x) for i, x in enumerate(leaves) if not _is_dynamic(x)]
    site = CallbackSite(fn, in_tree, static, name)
    debug_callback_p.bind(*dynamic, callback=site, ordered=bool(ordered))


@debug_callback_p.def_abstract_eval
def _abstract_eval(*avals, callback, ordered):
    return []


def _to_numpy(x):
    if isinstance(x, Array):
        return np.asarray(x)
    return np.asarray(x, get_aval(x).dtype)  # a Python number: funcnet's default dtype


@impl_rules.register(debug_callback_p)
def _impl(prim, *args, callback, ordered):
    callback(*map(_to_numpy, args))
    return []


@jvp_rules.register(debug_callback_p)
def _jvp(primals, tangents, *, callback, ordered):
    return debug_callback_p.bind(*primals, callback=callback, ordered=ordered), []


def _example(x, d, i):
    """Example `i` of a value batched along axis `d` (None: the same for every example)."""
    if d is None:
        return x
    shape = get_aval(x).shape
    start = [0] * len(shape)
    limit = list(shape)
    start[d], limit[d] = i, i + 1
    return lax.squeeze(lax.slice(x, start, limit), (d,))


@batching_rules.register(debug_callback_p)
def _batch(size, vals, dims, *, callback, ordered):
    for i in range(size):  # as jax: unrolled, one call per example
        debug_callback_p.bind(
            *(_example(x, d, i) for x, d in zip(vals, dims)), callback=callback, ordered=ordered
        )
    return [], []


# --- lowering -----------------------------------------------------------------------------


def _layout(aval) -> str:
    """Row-major (the layout NumPy sees), as minor-to-major dimension numbers."""
    dims = list(range(aval.ndim - 1, -1, -1))
    body = f"[{', '.join(map(str, dims))}]" if len(dims) > 1 else ", ".join(map(str, dims))
    return f"dense<{body}> : tensor<{len(dims)}xindex>"


@lowering_rules.register(debug_callback_p)
def _lower(em, *operands, callback, ordered):
    in_avals = list(em.in_avals)
    site = em.constant(runtime.site_id(callback), _SITE_ID)
    names = [site, *operands]
    types = [tensor_type(a) for a in [_SITE_ID, *in_avals]]
    layouts = [_layout(a) for a in [_SITE_ID, *in_avals]]
    index = runtime.ORDERED_INDEX if ordered else runtime.UNORDERED_INDEX
    if ordered:
        names.insert(0, em.effect_token())  # the program's chain of ordered effects
        types.insert(0, _TOKEN)
        layouts.insert(0, "dense<> : tensor<0xindex>")
    attrs = {
        "api_version": "4 : i32",
        "backend_config": f"{{index = {index} : ui64}}",
        "call_target_name": f'"{runtime.call_target(em.module.platform)}"',
        "has_side_effect": "true",
        "operand_layouts": "[" + ", ".join(layouts) + "]",
        "result_layouts": "[dense<> : tensor<0xindex>]" if ordered else "[]",
    }
    outs = em.op("stablehlo.custom_call", names, types, [_TOKEN] if ordered else [], attrs)
    if ordered:
        em.module.effect_token = outs[0]
    return []
