"""The dispatch cache shared by eager ops and jitted functions.

A call is dispatched by signature. `DispatchCache` keeps, for one cache owner (all eager
ops, or one jitted function with its options):

- `programs`: a bounded LRU (`funcnet.config.eager_cache_size` / `jit_cache_size`) of
  `Program`s, what a signature compiles to;
- `fast`: the fast path, a plain dict from a cheap signature key (avals, and whatever
  else the owner needs) to a `FastCall` holding everything a call needs, derived from a
  program: when the LRU drops a program, its fast keys go with it;
- `memo`: the last fast hit, compared before hashing (outputs fed back in carry the very
  aval objects of the key, so the comparison is by identity).

A fast hit marks its program used, so the LRU (which reorders on the general path only)
gives it a second chance instead of dropping a busy program as idle. `call` probes and
runs a hit: the runtime's execute and result handlers, outputs wrapped with the cached
avals.
"""

import weakref
from typing import Any, NamedTuple

from funcnet.core.array import Array
from funcnet.runtime.cache import LRUCache

_new_object = object.__new__
_NO_MEMO = (None, None)
LIST = "list"  # FastCall.out_tree of a primitive with several outputs: a plain list
MISS = object()  # DispatchCache.call found no fast call


class Program:
    """A cached compilation (subclassed by eager's and jit's records)."""

    __slots__ = ("__weakref__", "evicted", "fast_keys", "used")

    def __init__(self):
        self.fast_keys = []  # keys of the fast calls that point here
        self.used = False  # set by fast hits, for the LRU's second chance
        self.evicted = False  # dropped by the LRU: no fast key may point here again


class FastCall(NamedTuple):
    run: Any  # the runtime executable's execute_sharded
    handlers: Any  # its result handlers
    const_bufs: list  # buffers passed before the arguments (a jitted program's constants)
    out_avals: tuple  # shared by every output Array
    out_tree: Any  # None: one Array; LIST: a list; else a PyTreeDef to unflatten
    program: Program


class DispatchCache:
    """Programs by signature (bounded) and the fast path derived from them.

    Args:
      maxsize: the name of the `funcnet.config` option bounding `programs`.
    """

    __slots__ = ("__weakref__", "fast", "memo", "programs")

    def __init__(self, maxsize: str):
        self_ref = weakref.ref(self)  # no cycle through the LRU's callbacks

        def on_evict(_key, program):
            cache = self_ref()
            if cache is not None:
                cache.drop_fast(program)

        def in_use(program):
            cache = self_ref()
            used, program.used = program.used, False
            return used or (
                cache is not None
                and cache.memo[0][1] is not None
                and cache.memo[0][1].program is program
            )

        self.programs = LRUCache(maxsize, on_evict=on_evict, in_use=in_use)
        self.fast: dict = {}
        self.memo = [_NO_MEMO]  # [(key, FastCall)], replaced in one store (threads)

    def call(self, key, args):
        """Run the fast call of `key` on `args` (funcnet Arrays), or return MISS (then
        the owner's general path runs). One frame for probe, run and wrap: this is every
        eager op's and every jitted call's path."""
        memo = self.memo[0]
        if memo[0] == key:
            hit = memo[1]
        else:
            hit = self.fast.get(key)
            if hit is None:
                return MISS
            self.memo[0] = (key, hit)
            hit.program.used = True
        try:
            bufs = [x._buf for x in args]
        except AttributeError:  # e.g. a leaked tracer: the general path explains
            return MISS
        run, handlers, const_bufs, out_avals, out_tree, _ = hit
        try:
            outs = run(const_bufs + bufs if const_bufs else bufs).consume_with_handlers(handlers)
        except Exception:
            for x in args:
                x._check_alive()  # a clear error for a donated/deleted argument
            raise
        if out_tree is None:  # one array
            out = _new_object(Array)
            out._buf = outs[0]
            out.aval = out_avals[0]
            return out
        arrays = []
        for buf, aval in zip(outs, out_avals):  # wrap_buffer, inlined
            out = _new_object(Array)
            out._buf = buf
            out.aval = aval
            arrays.append(out)
        return arrays if out_tree is LIST else out_tree.unflatten(arrays)

    def add_fast(self, key, hit: FastCall) -> None:
        """Record `key`'s fast call (not for a program the LRU has dropped)."""
        if not hit.program.evicted:
            self.fast[key] = hit
            hit.program.fast_keys.append(key)

    def drop_fast(self, program: Program) -> None:
        program.evicted = True
        for key in program.fast_keys:
            self.fast.pop(key, None)
        program.fast_keys.clear()
        self.memo[0] = _NO_MEMO

    def clear_fast(self) -> None:
        """Empty the fast path (a switch such as x64 changed what signatures mean)."""
        self.fast.clear()
        self.memo[0] = _NO_MEMO
        for program in self.programs.values():
            program.fast_keys.clear()

    def clear(self) -> None:
        self.clear_fast()
        self.programs.clear()
