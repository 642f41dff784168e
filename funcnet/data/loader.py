"""`Loader`: shuffled, batched, device-prefetched epochs over a random-access source.

The pipeline is one endless grain ``MapDataset`` of batches over all epochs:
``MapDataset.range(start, ...)`` of global batch numbers, mapped by `_BatchAt` to the
examples of that batch, and run by grain's iterator in worker threads
(``ReadOptions``) or processes (``mp_prefetch``). Global batch ``g`` is batch
``g % len(loader)`` of epoch ``g // len(loader)``, whose order is grain's shuffle order
for seed ``seed + epoch`` (computed a whole epoch at a time, `_permutation.py`). The
loader adds what a training loop needs on top: one ``iter(loader)`` per epoch, batches
copied to the device on a background thread ahead of use (`_feeder.py`), checks that
every batch has one layout (`_batching.py`), and a small JSON-able state, the global
batch number, that resumes a run on exactly the batches it would have seen. grain's
iterator (with its worker processes) keeps running across epochs; it is rebuilt at a
new position only after a ``set_state`` or an abandoned epoch.
"""

import math
import operator
import sys
import weakref
import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from funcnet.data._batching import BatchFetcher, BatchSpec
from funcnet.data._feeder import Feeder
from funcnet.data._permutation import epoch_permutation
from funcnet.data.sources import ArraySource
from funcnet.devices import device_put, process_count, process_index

__all__ = ["Loader"]

_STATE_VERSION = 1
_WORKER_TYPES = ("thread", "process")


class _ArrayBatches:
    """A bare NumPy array as a source: example ``i`` is ``x[i]``, a batch is ``x[idx]``."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        return self.array[index]

    def batch(self, indices):
        return self.array[indices]


def _as_source(source):
    if isinstance(source, np.ndarray):
        if source.ndim == 0:
            raise ValueError("a NumPy array source needs a leading example axis, got a scalar")
        return _ArrayBatches(source)
    if isinstance(source, Mapping):
        return ArraySource(source)
    if isinstance(source, (str, bytes)) or not (
        hasattr(source, "__len__") and hasattr(source, "__getitem__")
    ):
        raise TypeError(
            "a source needs __len__ and __getitem__ (a NumPy array, a dict of equal-length "
            f"arrays, a list, or a funcnet.data source), got {type(source).__name__}"
        )
    return source


def _as_maps(map_) -> tuple:
    if map_ is None:
        return ()
    maps = tuple(map_) if isinstance(map_, (list, tuple)) else (map_,)
    for fn in maps:
        if not callable(fn):
            raise TypeError(f"map must be a function or a list of functions, got {fn!r}")
    return maps


def _resolve_shard(shard) -> tuple[int, int]:
    if shard is None:  # one shard per host of a multi-host run
        return process_index(), process_count()
    try:
        index, count = (operator.index(v) for v in shard)
    except (TypeError, ValueError):
        raise TypeError(f"shard must be (index, count) or None, got {shard!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"shard index must be in [0, count), got shard=({index}, {count})")
    return index, count


def _fingerprint(source) -> str:
    """A cheap identity for a source, to reject a state saved for other data: its type,
    length, fields, and for in-memory arrays the bytes of a few evenly spaced examples."""
    crc = zlib.crc32(f"{type(source).__qualname__}:{len(source)}".encode())
    arrays = None
    if isinstance(source, _ArrayBatches):
        arrays = {"": source.array}
    elif isinstance(source, ArraySource):
        arrays = source.arrays
    if arrays is not None:
        for name, value in sorted(arrays.items()):
            crc = zlib.crc32(f"{name}:{value.dtype}:{value.shape}".encode(), crc)
            picks = np.unique(np.linspace(0, len(value) - 1, num=16).astype(np.int64))
            crc = zlib.crc32(np.ascontiguousarray(value[picks]).tobytes(), crc)
    elif isinstance(source, (list, tuple)) and all(isinstance(v, str) for v in source):
        crc = zlib.crc32("\n".join(source).encode(), crc)  # file lists: the paths
    return f"{crc:08x}"


def _import_grain():
    # Imported here, not at module level: grain pulls in orbax and adds ~0.2 s to
    # `import funcnet`, which most programs that never build a Loader should not pay.
    import grain
    from absl import flags

    # grain reads absl flags (worker profiling, traceback filtering) when it starts
    # worker processes; outside an absl app nothing parsed them, so take the defaults.
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    return grain


class _BatchAt:
    """Global batch number -> host batch; what grain's workers run (picklable).

    Batch ``g`` is batch ``g % batches_per_epoch`` of epoch ``g // batches_per_epoch``:
    the examples at those positions of the epoch's order (grain's shuffle order for
    ``seed + epoch``, or the source's order), restricted to this loader's shard (the
    order cut to a multiple of ``count``, then every ``count``-th position from
    ``index``), read and stacked by the fetcher.
    """

    def __init__(self, fetcher, *, length, batch_size, num_batches, shuffle, seed, shard):
        self.fetcher = fetcher
        self.length = length
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.shuffle = shuffle
        self.seed = seed
        self.shard = shard
        self.shard_length = length // shard[1]

    def __call__(self, number):
        epoch, k = divmod(int(number), self.num_batches)
        start = k * self.batch_size
        positions = np.arange(start, min(start + self.batch_size, self.shard_length))
        index, count = self.shard
        positions = positions * count + index
        if self.shuffle:
            positions = epoch_permutation(self.length, self.seed, epoch)[positions]
        if self.fetcher.needs_rng:
            # Random maps draw from one generator per batch, seeded by the batch's global
            # number: the same draws after a resume, with any number of workers.
            return self.fetcher(positions, np.random.default_rng([self.seed, int(number)]))
        return self.fetcher(positions)


def _build_iterator(batch_at, *, start, num_workers, worker_type, buffer):
    """grain's endless iterator of host batches, from global batch ``start`` on."""
    grain = _import_grain()
    ds = grain.MapDataset.range(start, sys.maxsize).map(batch_at)
    if worker_type == "process" and num_workers > 0:
        options = grain.multiprocessing.MultiprocessingOptions(
            num_workers=num_workers, per_worker_buffer_size=buffer
        )
        read = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
        return iter(ds.to_iter_dataset(read).mp_prefetch(options))
    read = grain.ReadOptions(
        num_threads=num_workers, prefetch_buffer_size=buffer * num_workers if num_workers else 0
    )
    return iter(ds.to_iter_dataset(read))


class _FeederSlot:
    """Holds the running feeder, so that a finalizer can close it without the Loader."""

    def __init__(self):
        self.feeder = None

    def close(self):
        if self.feeder is not None:
            self.feeder.close()
            self.feeder = None


class Loader:
    """Batches of a random-access source, shuffled per epoch and prefetched to the device.

    One ``iter(loader)`` is one epoch of ``len(loader)`` batches. With ``shuffle=True``
    each epoch has a new order, a function of ``(seed, epoch)`` only (grain's global
    shuffle with seed ``seed + epoch``), so two loaders with one seed give the same
    batches. A batch has the structure of one example with a new leading batch axis: a
    dict of arrays for dict examples, an array for a NumPy array source. Batches are
    funcnet Arrays on the device (copied on a background thread ``prefetch`` batches
    ahead, so the next copy overlaps the current step), or NumPy arrays with
    ``to_device=False``.

    The first batch fixes each field's dtype and per-example shape; later batches must
    match it. Dtypes must be ones funcnet places on a device; float64 (and complex128)
    are refused unless x64 is enabled, since they almost always come from an accidental
    promotion in a map function. 64-bit integers are narrowed to 32 bits on the device.

    ``get_state()`` is a small JSON-able dict (epoch, position in it, and what the
    loader was built with); ``set_state`` on a loader over the same source continues
    with exactly the batches the saved loader would have produced next, mid-epoch too.
    An ``iter(loader)`` begun while an earlier iterator stopped mid-epoch starts the
    next epoch (as PyTorch's DataLoader), unless ``set_state`` came in between.

    Args:
      source: any object with ``__len__`` and ``__getitem__``: a NumPy array (example
        ``i`` is ``x[i]``), a dict of equal-length arrays (example ``i`` is
        ``{name: array[i]}``), a list (of file paths, say, that ``map`` turns into
        examples), or a ``funcnet.data`` source. A source with a ``batch(indices)``
        method (``data.ArraySource``) is read a whole batch at a time when there is no
        ``map``.
      batch_size: examples per batch.
      shuffle: keyword only; a new seeded order each epoch (else the source's order).
      seed: keyword only; the shuffle seed, an int in [0, 2**32).
      drop_last: keyword only; drop the last, smaller batch of each epoch.
      num_workers: keyword only; worker threads or processes reading and mapping
        batches in parallel (0: read on the prefetch thread).
      worker_type: keyword only; ``"thread"`` or ``"process"`` (grain's spawned worker
        processes, started once and kept across epochs; the source and maps are sent
        to them with cloudpickle).
      map: keyword only; a per-example function run on the host (or a list of them,
        applied in order), e.g. ``data.normalize(mean, std)``. A random one names its
        second parameter ``rng``, ``fn(example, rng)``, and gets a
        ``np.random.Generator``: one per batch, seeded by ``(seed, global batch
        number)`` and drawn from example by example, so a resumed run makes the same
        draws whatever the number of workers.
      prefetch: keyword only; batches prepared ahead on a background thread (0: none,
        each batch is read when asked for).
      shard: keyword only; ``(index, count)``: this loader reads shard ``index`` of
        ``count`` equal shards of each epoch's order (the last ``len(source) % count``
        examples of the order are dropped). Default: one shard per process of a
        multi-host run (``process_index()``, ``process_count()``).
      device: keyword only; the device (or single-device sharding) batches go to, or
        a ``NamedSharding`` (``NamedSharding(mesh, P("data"))``: each device of the mesh
        receives its block of every batch, for data-parallel training; the batch size
        must divide by the axis, so use ``drop_last=True``; one process only);
        None: the default device.
      to_device: keyword only; False gives NumPy batches on the host.

    Raises:
      ValueError: an empty source, no batch at all (``batch_size`` larger than the
        source, or than its shard, with ``drop_last``), or a bad setting.
      TypeError: a source without ``__len__``/``__getitem__``, or a map that is not
        callable.

    Example:
      >>> from funcnet import data
      >>> src = {"x": np.arange(10, dtype=np.float32), "y": np.arange(10) % 2}
      >>> loader = data.Loader(src, batch_size=4, shuffle=True, seed=0, drop_last=True)
      >>> len(loader)
      2
      >>> batch = next(iter(loader))
      >>> sorted(batch), batch["x"].shape, type(batch["x"]).__name__
      (['x', 'y'], (4,), 'Array')
      >>> state = loader.get_state()                  # JSON-able: save it with a checkpoint
      >>> state["epoch"], state["position"]
      (0, 1)
      >>> resumed = data.Loader(src, batch_size=4, shuffle=True, seed=0, drop_last=True)
      >>> resumed.set_state(state)
      >>> [b["x"].shape for b in resumed]             # the rest of epoch 0
      [(4,)]
      >>> loader.close(); resumed.close()
    """

    def __init__(
        self,
        source,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        num_workers: int = 0,
        worker_type: str = "thread",
        map: Callable | Sequence[Callable] | None = None,
        prefetch: int = 2,
        shard: tuple[int, int] | None = None,
        device=None,
        to_device: bool = True,
    ):
        self._source = _as_source(source)
        length = len(self._source)
        if length == 0:
            raise ValueError("the source is empty: a Loader needs at least one example")
        self._batch_size = _positive_int("batch_size", batch_size)
        self._seed = operator.index(seed)
        if not 0 <= self._seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {seed}")
        self._num_workers = _non_negative_int("num_workers", num_workers)
        if worker_type not in _WORKER_TYPES:
            raise ValueError(f"worker_type must be 'thread' or 'process', got {worker_type!r}")
        self._prefetch = _non_negative_int("prefetch", prefetch)
        self._shuffle = bool(shuffle)
        self._drop_last = bool(drop_last)
        self._worker_type = worker_type
        self._shard = _resolve_shard(shard)
        self._length = length
        shard_length = length // self._shard[1]
        if shard_length == 0:
            raise ValueError(
                f"the source has {length} examples, fewer than the {self._shard[1]} shards"
            )
        self._num_batches = (
            shard_length // self._batch_size
            if self._drop_last
            else math.ceil(shard_length / self._batch_size)
        )
        if self._num_batches == 0:
            of_shard = f" (this shard of {self._shard[1]})" if self._shard[1] > 1 else ""
            raise ValueError(
                f"batch_size={self._batch_size} is larger than the {shard_length} examples "
                f"of the source{of_shard} and drop_last=True: no batch would be produced"
            )
        self._batches = _BatchAt(
            BatchFetcher(self._source, _as_maps(map)),
            length=length,
            batch_size=self._batch_size,
            num_batches=self._num_batches,
            shuffle=self._shuffle,
            seed=self._seed,
            shard=self._shard,
        )
        self._device = device
        self._to_device = bool(to_device)
        self._spec = BatchSpec()
        self._fingerprint = _fingerprint(self._source)
        self._epoch = 0
        self._position = 0  # batches of the current epoch handed out
        self._in_epoch = False  # an iterator handed out batches of the current epoch
        self._token = 0  # identifies the newest iterator; older ones stop working
        self._slot = _FeederSlot()
        self._finalizer = weakref.finalize(self, self._slot.close)

    def __len__(self) -> int:
        """Batches per epoch (of this loader's shard)."""
        return self._num_batches

    def __iter__(self):
        """One epoch: the batches from the current position to the end of the epoch."""
        if self._position >= self._num_batches or (self._in_epoch and self._position > 0):
            self._epoch += 1  # the last epoch was finished, or abandoned part way
            self._position = 0
        self._in_epoch = True
        self._token += 1
        return _EpochIterator(self, self._token)

    @property
    def batch_size(self) -> int:
        """Examples per batch."""
        return self._batch_size

    @property
    def epoch(self) -> int:
        """The epoch the next batch belongs to (counted from 0)."""
        return self.get_state()["epoch"]

    def get_state(self) -> dict:
        """Where the loader is, as a small JSON-able dict.

        Returns:
          ``{"epoch", "position", ...}``: ``position`` counts the batches of ``epoch``
          the consumer received (prefetched ones not counted); after the last batch of
          an epoch it reads the next epoch, position 0. The other entries (seed, batch
          size, source length and fingerprint, ...) let ``set_state`` refuse a state
          saved for different data.
        """
        epoch, position = self._epoch, self._position
        if position >= self._num_batches:
            epoch, position = epoch + 1, 0
        return {
            "version": _STATE_VERSION,
            "epoch": epoch,
            "position": position,
            "seed": self._seed,
            "shuffle": self._shuffle,
            "batch_size": self._batch_size,
            "drop_last": self._drop_last,
            "shard_count": self._shard[1],
            "source_length": self._length,
            "source_fingerprint": self._fingerprint,
        }

    def set_state(self, state: dict) -> None:
        """Continues from a state returned by ``get_state`` (of this or another loader).

        The next ``iter(loader)`` yields the rest of the saved epoch: exactly the
        batches the saved loader would have produced next.

        Args:
          state: a dict from ``get_state()`` (after a JSON round trip too).

        Raises:
          ValueError: a state saved for another source, seed, batch size, shuffle,
            drop_last or shard count (the message names each difference), or one that
            is not a loader state.
        """
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise ValueError(f"not a Loader state (from Loader.get_state()): {state!r:.200}")
        mine = self.get_state()
        missing = sorted(set(mine) - set(state))
        if missing:
            raise ValueError(f"the loader state lacks {missing}: {state!r:.200}")
        differ = [
            f"{key}: {state[key]!r} in the state, {mine[key]!r} in this loader"
            for key in mine
            if key not in ("epoch", "position") and state[key] != mine[key]
        ]
        if differ:
            raise ValueError(
                "the loader state was saved for a different source or settings; "
                + "; ".join(differ)
            )
        epoch, position = operator.index(state["epoch"]), operator.index(state["position"])
        if epoch < 0 or not 0 <= position < self._num_batches:
            raise ValueError(
                f"the loader state's epoch {epoch}, position {position} is out of range "
                f"for {self._num_batches} batches per epoch"
            )
        self._epoch, self._position = epoch, position
        self._in_epoch = False
        self._token += 1  # iterators of before the restore stop

    def close(self) -> None:
        """Stops the prefetch thread and grain's workers (also done when collected)."""
        self._slot.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (
            f"Loader({self._length} examples, batch_size={self._batch_size}, "
            f"{self._num_batches} batches per epoch, shuffle={self._shuffle}, "
            f"num_workers={self._num_workers} {self._worker_type}s)"
        )

    # -- producing batches -------------------------------------------------------------

    def _convert(self, host_batch):
        self._spec.check(host_batch, self._spec_count)
        self._spec_count += 1
        if self._to_device:
            return device_put(host_batch, self._device)
        return host_batch

    def _batch_at(self, index: int):
        """Global batch ``index``, from the running feeder when it is there."""
        feeder = self._slot.feeder
        if feeder is None or feeder.failed or feeder.next_index != index:
            self._slot.close()
            self._spec_count = 0
            make = _IteratorFactory(
                self._batches,
                start=index,
                num_workers=self._num_workers,
                worker_type=self._worker_type,
                buffer=max(2, self._prefetch),
            )
            feeder = Feeder(make, self._convert, start=index, depth=self._prefetch)
            self._slot.feeder = feeder
        return feeder.get()


class _IteratorFactory:
    """Builds grain's iterator (called on the feeder's thread)."""

    def __init__(self, batch_at, **options):
        self.batch_at = batch_at
        self.options = options

    def __call__(self):
        return _build_iterator(self.batch_at, **self.options)


class _EpochIterator:
    """The batches of one epoch; ``iter(loader)`` returns one."""

    def __init__(self, loader: Loader, token: int):
        self._loader = loader
        self._token = token
        self._done = False

    def __iter__(self):
        return self

    def __len__(self):
        return max(0, self._loader._num_batches - self._loader._position)

    def __next__(self):
        loader = self._loader
        if self._done:
            raise StopIteration
        if loader._token != self._token:
            raise RuntimeError(
                "this epoch iterator was replaced by a later iter(loader) or set_state; "
                "use one iterator of a Loader at a time"
            )
        if loader._position >= loader._num_batches:
            loader._epoch += 1
            loader._position = 0
            loader._in_epoch = False
            loader._token += 1
            self._done = True
            raise StopIteration
        batch = loader._batch_at(loader._epoch * loader._num_batches + loader._position)
        loader._position += 1
        return batch


def _positive_int(name, value) -> int:
    value = operator.index(value)
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def _non_negative_int(name, value) -> int:
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value
