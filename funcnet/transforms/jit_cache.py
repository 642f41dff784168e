"""jit's caches belong to the function, not to the `jit(f)` wrapper.

`jit(f)` in a loop makes a new wrapper each time; every wrapper of the same function
with the same options (static_argnums/argnames, donate_argnums, in/out_shardings)
shares one `FunctionCache`: its traced programs and executables (a bounded LRU,
`funcnet.config.jit_cache_size` entries) and the dispatch fast path's dicts.

The registry holds functions weakly: when `f` is gone, so are its programs. A bound
method is keyed by (its object, its function), so `jit(obj.method)` made twice shares
too; a `functools.partial` of plain constants (numbers, strings, None, dtypes, tuples
of them) by (its function, its arguments). A callable that cannot be weakly referenced
(a builtin, an object without `__weakref__`) is kept by a small strong LRU instead.
"""

import functools
import inspect
import weakref

import numpy as np

from funcnet import tree
from funcnet.backend.dispatch import DispatchCache
from funcnet.config import config
from funcnet.runtime.cache import LRUCache, register_clearer

_all_function_caches = weakref.WeakSet()


class FunctionCache(DispatchCache):
    """What jit keeps for one function with one set of options: a `DispatchCache`
    (backend/dispatch.py, shared with eager ops) bounded by `funcnet.config.jit_cache_size`,
    whose programs are jit's `_Entry`s (traced program, out tree, executables per device)
    keyed by (in_tree, static args, avals, device / the arguments' shardings (a tuple) or
    None, x64); its fast path is keyed by the avals of positional Array arguments, or by
    (tree structure, avals, device, has keywords) for other calls, for calls with static
    arguments (all passed by position) by (tag, static values, tree structure, avals,
    device), and for partitioned programs by (tag, tree structure, the arguments'
    shardings, has keywords, avals).
    `last_keys` holds the newest keys, to explain a miss."""

    __slots__ = ("last_keys",)

    def __init__(self):
        super().__init__("jit_cache_size")
        self.last_keys: list = []
        _all_function_caches.add(self)

    def clear(self):
        super().clear()
        self.last_keys.clear()


class _FunctionSlot:
    """Per function: its signature (inspected once) and one FunctionCache per options."""

    __slots__ = ("__weakref__", "by_options", "sig")

    def __init__(self, fun):
        self.sig = _signature(fun)
        self.by_options: dict = {}

    def options(self, raw, infer_static):
        """(static_argnums, static_argnames, FunctionCache) for the raw jit options
        `(static_argnums, static_argnames, donate_argnums)`; `infer_static(sig, nums,
        names)` normalizes them (and raises on bad ones, before anything is cached)."""
        try:
            hit = self.by_options.get(raw)
        except TypeError:  # unhashable options are invalid: infer_static says why
            return (*infer_static(self.sig, raw[0], raw[1]), FunctionCache())
        if hit is None:
            nums, names = infer_static(self.sig, raw[0], raw[1])
            hit = (nums, names, FunctionCache())
            self.by_options[raw] = hit
        return hit


def _signature(fun):
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


# --- the registry --------------------------------------------------------------------------

_slots: dict = {}  # (ids of the key objects, extra) -> (weak refs to them, _FunctionSlot)
_strong_slots = LRUCache(256)  # callables that cannot be weakly referenced


def _plain_constant(v) -> bool:
    if isinstance(v, (tuple, frozenset)):
        return all(map(_plain_constant, v))
    return v is None or isinstance(v, (bool, int, float, complex, str, bytes, np.generic, np.dtype))


def _identity(fun):
    """(objects to hold weakly, a hashable extra) that identify `fun` for sharing."""
    if inspect.ismethod(fun):
        return (fun.__self__, fun.__func__), "method"
    if (
        isinstance(fun, functools.partial)
        and _plain_constant(fun.args)
        and all(_plain_constant(v) for v in fun.keywords.values())
    ):
        extra = ("partial", fun.args, tuple(sorted(fun.keywords.items())))
        try:
            hash(extra)
        except TypeError:
            return (fun,), None
        return (fun.func,), extra
    return (fun,), None


def function_slot(fun) -> _FunctionSlot:
    """The shared slot of `fun` (made on first use)."""
    objs, extra = _identity(fun)
    key = (tuple(map(id, objs)), extra)
    hit = _slots.get(key)
    if hit is not None:
        refs, slot = hit
        if all(r() is o for r, o in zip(refs, objs)):
            return slot
    try:
        refs = tuple(weakref.ref(o, functools.partial(_forget, key)) for o in objs)
    except TypeError:  # not weakly referenceable
        return _strong_slot(fun)
    slot = _FunctionSlot(fun)
    _slots[key] = (refs, slot)
    return slot


def _forget(key, dead_ref):
    """A key object died: drop its slot (unless the key was taken by a newer object)."""
    hit = _slots.get(key)
    if hit is not None and any(r is dead_ref for r in hit[0]):
        del _slots[key]


def _strong_slot(fun):
    try:
        slot = _strong_slots.get(fun)
    except TypeError:  # unhashable too: this wrapper gets its own cache
        return _FunctionSlot(fun)
    if slot is None:
        slot = _FunctionSlot(fun)
        _strong_slots.put(fun, slot)
    return slot


def registered_functions() -> int:
    """How many functions have a shared jit cache now (for tests and diagnostics)."""
    return len(_slots) + len(_strong_slots)


@register_clearer
def _clear_all():
    for fc in list(_all_function_caches):
        fc.clear()


def _clear_all_fast(_value=None):
    for fc in list(_all_function_caches):
        fc.clear_fast()


# Switches that change what a signature compiles to (x64) or how a call must run (eagerly,
# or with nan checks): the fast path must not answer from before the switch.
config.on_change(("enable_x64", "debug_nans", "debug_infs", "disable_jit"), _clear_all_fast)


# --- explaining a miss (config.explain_cache_misses) --------------------------------------------


def explain_miss(name, key, last_keys, arg_paths) -> str:
    """Why `key` (in_tree, static, avals, device, x64) missed the cache of `name`,
    compared with the closest signature seen before: the newest one with the same tree
    structure and static values, else the same tree structure, else simply the newest.
    `arg_paths(dyn_tree, static)` names the flat arguments."""
    in_tree, static, avals, device, x64 = key
    if not last_keys:
        return f"{name}: tracing for the first time"
    prev = (
        next((k for k in reversed(last_keys) if k[:2] == key[:2]), None)
        or next((k for k in reversed(last_keys) if k[0] == in_tree), None)
        or last_keys[-1]
    )

    def aval_str(a):
        return a.str_short() + (" (weak-typed Python scalar)" if a.weak_type else "")

    reasons = []
    if prev[0] != in_tree:
        reasons.append(f"the argument tree structure changed from {prev[0]} to {in_tree}")
    if prev[1] != static:
        old = dict(prev[1][0]) | dict(prev[1][1])
        new = dict(static[0]) | dict(static[1])
        for k in sorted(set(old) | set(new), key=str):
            if k not in old or k not in new or old[k] != new[k]:
                what = f"argument {k}" if isinstance(k, int) else f"argument {k!r}"
                reasons.append(
                    f"static {what} changed from {old.get(k, '<absent>')!r:.60}"
                    f" to {new.get(k, '<absent>')!r:.60}"
                )
    if prev[0] == in_tree and prev[2] != avals:
        paths = arg_paths(tree.tree_unflatten(in_tree, list(range(len(avals)))), static)
        for p, a, b in zip(paths, prev[2], avals):
            if a != b:
                reasons.append(f"argument {p} changed from {aval_str(a)} to {aval_str(b)}")
    if prev[3] != device and (isinstance(prev[3], tuple) or isinstance(device, tuple)):
        # a placement: one sharding (or None) per argument, as jit resolved them
        reasons.append(f"the arguments' shardings changed from {prev[3]} to {device}")
    elif prev[3] != device:
        reasons.append(f"the device changed from {prev[3]} to {device}")
    if prev[4] != x64:
        reasons.append(f"funcnet.config.enable_x64 changed from {prev[4]} to {x64}")
    return f"{name}: recompiling because " + "; ".join(reasons or ["of a new signature"])
