"""grain's shuffle order for a whole epoch at once, vectorized.

grain's ``MapDataset.shuffle`` places example ``i`` of epoch ``e`` at
``index_shuffle(i, max_index=n - 1, seed=seed + e, rounds=4)``, a cycle-walking Simon
block cipher (grain/_src/python/experimental/index_shuffle/index_shuffle.cc). grain
evaluates it one index per call, ~2.5 us each from Python, which alone caps a loader at
~400k examples/s; the same arithmetic on a NumPy vector of all indices costs a few
nanoseconds per index. `epoch_permutation` gives exactly grain's order (tests compare it
with ``grain.experimental.index_shuffle``), so the Loader's batches stay grain's.
"""

import functools
import math

import numpy as np

__all__ = ["epoch_permutation"]

_MASK32 = 0xFFFFFFFF
_MIN_BLOCK_BITS = 16  # grain's kMinBlockSize
_SMALL = 1024  # fewer examples than this: grain's C++ per index
_TABLE_BITS = 20  # domains up to 2**20 values are encrypted whole (8 MB)


@functools.lru_cache(maxsize=64)
def _round_keys(seed: int, rounds: int) -> tuple[int, ...]:
    """``std::seed_seq{seed}.generate(rounds words)``, as C++ specifies it."""
    n, s, seeds = rounds, 1, (seed & _MASK32,)
    b = [0x8B8B8B8B] * n
    t = 11 if n >= 623 else 7 if n >= 68 else 5 if n >= 39 else 3 if n >= 7 else (n - 1) // 2
    p = (n - t) // 2
    q = p + t
    m = max(s + 1, n)

    def mix(x):
        return (x ^ (x >> 27)) & _MASK32

    for k in range(m):
        r1 = (1664525 * mix(b[k % n] ^ b[(k + p) % n] ^ b[(k - 1) % n])) & _MASK32
        if k == 0:
            r2 = (r1 + s) & _MASK32
        elif k <= s:
            r2 = (r1 + k % n + seeds[k - 1]) & _MASK32
        else:
            r2 = (r1 + k % n) & _MASK32
        b[(k + p) % n] = (b[(k + p) % n] + r1) & _MASK32
        b[(k + q) % n] = (b[(k + q) % n] + r2) & _MASK32
        b[k % n] = r2
    for k in range(m, m + n):
        r3 = (1566083941 * mix((b[k % n] + b[(k + p) % n] + b[(k - 1) % n]) & _MASK32)) & _MASK32
        r4 = (r3 - k % n) & _MASK32
        b[(k + p) % n] ^= r3
        b[(k + q) % n] ^= r4
        b[k % n] = r4
    return tuple(b)


def _word_dtype(word_bits):
    # The narrowest type that holds a word shifted left by up to its width.
    return np.uint16 if word_bits <= 8 else np.uint32 if word_bits <= 16 else np.uint64


def _encrypt(values, keys, word_bits):
    """One pass of the Simon cipher on ``2 * word_bits``-bit blocks (uint64 arrays)."""
    dtype = _word_dtype(word_bits)
    w = dtype(word_bits)
    mask = dtype((1 << word_bits) - 1)

    def rotl(x, r):
        r = dtype(r % word_bits)
        return ((x << r) | (x >> (w - r))) & mask if r else x

    def f(x):
        return (rotl(x, 1) & rotl(x, 8)) ^ rotl(x, 2)

    values = np.asarray(values, np.uint64)
    left = ((values >> np.uint64(word_bits)) & np.uint64(mask)).astype(dtype)
    right = (values & np.uint64(mask)).astype(dtype)
    for i in range(0, len(keys), 2):
        left ^= f(right)
        left ^= dtype(keys[i] & int(mask))
        right ^= f(left)
        right ^= dtype(keys[i + 1] & int(mask))
    return (left.astype(np.uint64) << np.uint64(word_bits)) | right.astype(np.uint64)


def _domain_bits(max_index: int) -> int:
    bits = math.ceil(math.log2(max_index))
    return max(bits + bits % 2, _MIN_BLOCK_BITS)


def shuffled_positions(indices, max_index: int, seed: int, rounds: int = 4):
    """``grain.experimental.index_shuffle(i, max_index, seed, rounds)`` for an array."""
    indices = np.asarray(indices, np.uint64)
    if max_index == 0:
        return np.zeros(indices.shape, np.int64)
    if max_index < _SMALL:
        # Few examples in a 2**16 domain make walks of thousands of steps: each is
        # cheaper in grain's own C++ walk, one call per index (~2.5 us).
        from grain.experimental import index_shuffle  # grain is loaded by the Loader

        return np.array(
            [index_shuffle(int(i), max_index, seed % 2**32, rounds) for i in indices.tolist()],
            np.int64,
        ).reshape(indices.shape)
    bits = _domain_bits(max_index)
    if bits <= _TABLE_BITS:
        return _walk_table(indices, max_index, seed, rounds)
    keys = _round_keys(seed % 2**32, rounds)
    out = _encrypt(indices, keys, bits // 2)
    todo = np.flatnonzero(out > max_index)
    while todo.size:  # cycle walking: re-encrypt until the value is in range
        out[todo] = _encrypt(out[todo], keys, bits // 2)
        todo = todo[out[todo] > max_index]
    return out.astype(np.int64)


def _walk_table(indices, max_index, seed, rounds):
    """Small domains (at least 2**16 values, however few examples) make long cycle
    walks: encrypt the whole domain once, then each walk step is one lookup."""
    bits = _domain_bits(max_index)
    domain = np.arange(2**bits, dtype=np.uint64)
    table = _encrypt(domain, _round_keys(seed % 2**32, rounds), bits // 2).astype(np.intp)
    out = table[indices.astype(np.intp)]
    todo = np.flatnonzero(out > max_index)
    while todo.size:
        step = table[out[todo]]
        out[todo] = step
        todo = todo[step > max_index]
    return out.astype(np.int64)


@functools.lru_cache(maxsize=4)
def epoch_permutation(length: int, seed: int, epoch: int) -> np.ndarray:
    """The source index at each position of epoch ``epoch``, as grain's
    ``MapDataset.range(length).shuffle(seed)`` orders it (seed ``seed + epoch``)."""
    order = shuffled_positions(np.arange(length), length - 1, (seed + epoch) % 2**32)
    order.setflags(write=False)  # cached
    return order
