"""Bounded caches for traced and compiled programs, and `clear_caches`.

Every cache that holds programs is a least-recently-used map with a settable bound
(`funcnet.config.jit_cache_size`, `eager_cache_size`), so a long-running process (a
server, a notebook, a sweep over shapes) keeps a bounded number of executables.

The dispatch fast paths (jit's `__call__`, eager `apply_primitive`) do not read through
these classes: they keep plain dicts derived from an LRU's entries, which the LRU
empties through `on_evict` when it drops an entry. A fast-path hit costs one dict
lookup and one store into a "used" mark; the LRU reorders on the general path only,
and gives a marked entry a second chance (the CLOCK approximation of LRU) before
dropping it, so that a signature served by the fast path is not evicted as if idle.
"""

import weakref
from collections import OrderedDict, namedtuple

from funcnet.config import config

CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "maxsize", "currsize"])
CacheInfo.__doc__ = "Cache statistics, as functools' CacheInfo: hits, misses, maxsize, currsize."

_all_lrus = weakref.WeakSet()  # every LRU, for clear_caches and new bounds
_clearers = []  # functions that empty the other caches (fast-path dicts, registries)


class LRUCache:
    """A map bounded to `maxsize` entries; the least recently used one goes first.

    Args:
      maxsize: an int, or the name of an int option of `funcnet.config` (read on every
        insertion, so a new bound applies at once).
      on_evict: `on_evict(key, value)`, called for each entry dropped by the bound (not
        by `clear`), so that derived fast-path entries can be dropped with it.
      in_use: `in_use(value) -> bool`, asked before dropping an entry: True (a use the
        LRU did not see, e.g. a fast-path hit) keeps it as the newest entry. It should
        clear its mark, so that an entry unused since gets dropped next time.
    """

    __slots__ = ("__weakref__", "_data", "_maxsize", "hits", "in_use", "misses", "on_evict")

    def __init__(self, maxsize, on_evict=None, in_use=None):
        self._data = OrderedDict()
        self._maxsize = maxsize
        self.on_evict = on_evict
        self.in_use = in_use
        self.hits = self.misses = 0
        _all_lrus.add(self)

    @property
    def maxsize(self) -> int:
        m = self._maxsize
        return getattr(config, m) if isinstance(m, str) else m

    def get(self, key, default=None):
        """The value for `key` (now the most recently used), or `default`."""
        data = self._data
        try:
            value = data[key]
        except KeyError:
            self.misses += 1
            return default
        data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key, value):
        """Stores `value` under `key` as the most recently used entry, dropping the
        least recently used ones beyond the bound."""
        data = self._data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self.maxsize:
            self.trim(keep=key)

    def trim(self, keep=None):
        """Drop least recently used entries down to the bound (never `keep`, the entry
        just inserted)."""
        data, limit = self._data, self.maxsize
        spared = 0  # each entry gets at most one second chance per trim
        while len(data) > limit:
            key, value = data.popitem(last=False)
            if (key == keep and len(data) >= 1) or (
                self.in_use is not None and spared <= len(data) and self.in_use(value)
            ):
                data[key] = value
                spared += 1
                continue
            if self.on_evict is not None:
                self.on_evict(key, value)

    def pop(self, key, default=None):
        """Removes `key`'s entry (without calling `on_evict`); returns its value or
        `default`."""
        return self._data.pop(key, default)

    def clear(self):
        """Removes every entry and resets the hit and miss counts."""
        self._data.clear()
        self.hits = self.misses = 0

    def keys(self):
        return list(self._data)

    def values(self):
        return list(self._data.values())

    def items(self):
        return list(self._data.items())

    def __len__(self):
        return len(self._data)

    def __contains__(self, key):
        return key in self._data

    def info(self) -> CacheInfo:
        """The cache's statistics: `CacheInfo(hits, misses, maxsize, currsize)`."""
        return CacheInfo(self.hits, self.misses, self.maxsize, len(self._data))


class WeakKeyLRU:
    """An LRU keyed by `(obj, extra)` that holds `obj` weakly: the entry goes when `obj`
    dies, or when the bound drops it. `obj` is hashed by identity or its own hash (a
    ClosedJaxpr hashes by identity)."""

    __slots__ = ("__weakref__", "_lru")

    def __init__(self, maxsize):
        self._lru = LRUCache(maxsize)

    def get(self, obj, extra):
        return self._lru.get((weakref.ref(obj), extra))

    def put(self, obj, extra, value):
        lru_ref = weakref.ref(self._lru)

        def forget(ref, extra=extra):  # obj died: drop its entry (if still there)
            lru = lru_ref()
            if lru is not None:
                lru.pop((ref, extra))

        self._lru.put((weakref.ref(obj, forget), extra), value)

    def clear(self):
        self._lru.clear()

    def __len__(self):
        return len(self._lru)

    def info(self) -> CacheInfo:
        return self._lru.info()


def register_clearer(fun):
    """Have `clear_caches` call `fun()` (funcnet internal)."""
    _clearers.append(fun)
    return fun


def _trim_all(_value):
    for lru in list(_all_lrus):
        lru.trim()


config.on_change(("jit_cache_size", "eager_cache_size"), _trim_all)


def clear_caches():
    """Drops every cached trace and compiled program, as `jax.clear_caches`: jit's
    per-function caches, eager one-primitive programs, the traced bodies of control flow,
    the derived programs of jvp/vmap/transpose, and the transfer signatures.

    Later calls trace and compile again; arrays stay valid. It takes no arguments.

    Returns:
      None.

    Example:
      >>> f = fn.jit(lambda x: x + 1)
      >>> _ = f(fnp.ones(2))
      >>> fn.clear_caches()
      >>> f.cache_info().currsize
      0
    """
    for fun in _clearers:
        fun()
    for lru in list(_all_lrus):
        lru.clear()
    _clear_program_caches()


_program_caches = []  # caches of programs derived from functions or other programs


def register_program_cache(cache):
    """Have `clear_caches`, and a switch of x64, empty `cache` (a dict-like keyed by a
    function or a program: traced control-flow bodies, jvp/vmap/transposed programs).
    Programs traced under one x64 setting may hold 64-bit (or narrowed) constants, so
    they are traced again after a switch. Returns `cache`."""
    _program_caches.append(cache)
    return cache


def _clear_program_caches(_value=None):
    for cache in _program_caches:
        cache.clear()


config.on_change("enable_x64", _clear_program_caches)
