"""data.Loader throughput vs grain used directly and PyTorch's DataLoader (issue 15).

Pipelines (shuffled, batch 64, drop_last, endless over epochs), each written three
ways, the same per-example host function where there is one:

  digits + normalize  data.digits("train") (1,438 examples of 8x8x1 float32 and an
                      int32 label), map=data.normalize(mean, std) per example
  digits              the same without a map (a whole batch gathered at once)
  text windows        data.TextWindows over the 1.1 MB text corpus, 64 characters per
                      window (inputs and targets, int32), no map

  funcnet            data.Loader(..., to_device=False, prefetch=0): NumPy batches on
                     the host, made when asked for, as the references make them (the
                     same workers, no extra thread)
  funcnet (defaults) data.Loader(...) as a training loop uses it: prefetch=2 (a
                     background thread) and to_device=True (the host-to-device copy).
                     Reported, not judged: in this loop, which does nothing with a
                     batch, the thread's hand-off of each batch (~30 us of waking the
                     other thread on a 2-core machine) is pure cost; in training it
                     overlaps the step (bench_train_data.py measures that)
  grain              grain.MapDataset.source(src).shuffle(seed).map(f).batch(64)
                     .repeat(), iterated with ReadOptions / mp_prefetch
  grain (gather)     without a map: MapDataset.range(n).shuffle(seed).batch(64)
                     .map(src.batch): one vectorized gather per batch, as funcnet does
  torch              torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True,
                     drop_last=True, num_workers=w, persistent_workers=w > 0); batches
                     turned into NumPy (no copy)
  torch (gather)     without a map: a BatchSampler and a dataset that takes a list of
                     indices (one gather per batch)

Workers: "0" (everything in the main process; funcnet's one prefetch thread included)
and "2 procs" (two worker processes each: grain's spawned workers, torch's forked ones,
all kept across epochs). A call takes BATCHES batches from the running iterator;
calls are interleaved round by round (_timing.compare). Reported as examples/s and the
ratio of times funcnet / each reference. Target: funcnet's throughput at least 0.9x the
best reference, i.e. a time ratio funcnet / best <= 1.11 (minima).

Run: python benchmarks/bench_loader.py [--rounds 9] [--workers 0 2] [--quick]
(--quick: few rounds, in-process only, a smoke run; the numbers mean little.)
"""

import argparse
import itertools

import _timing

_timing.in_repo_path()

import grain
import numpy as np

from funcnet import data

TARGET = 0.9  # funcnet examples/s over the best reference's
BATCH = 64
SEED = 0


# --- the three pipelines --------------------------------------------------------------
def funcnet_batches(src, fn_map, workers, *, to_device=False, prefetch=0):
    loader = data.Loader(
        src,
        BATCH,
        shuffle=True,
        seed=SEED,
        drop_last=True,
        map=fn_map,
        num_workers=workers,
        worker_type="process" if workers else "thread",
        to_device=to_device,
        prefetch=prefetch,
    )

    def endless():
        while True:
            yield from loader

    return endless(), loader.close


def _grain_iter(ds, workers):
    if workers:
        options = grain.multiprocessing.MultiprocessingOptions(num_workers=workers)
        read = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
        it = iter(ds.to_iter_dataset(read).mp_prefetch(options))
    else:
        it = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)))
    return it, it.close


def grain_batches(src, fn_map, workers):
    ds = grain.MapDataset.source(src).shuffle(seed=SEED)
    if fn_map is not None:
        ds = ds.map(fn_map)
    return _grain_iter(ds.batch(BATCH, drop_remainder=True).repeat(), workers)


def grain_gather_batches(src, workers):
    ds = grain.MapDataset.range(len(src)).shuffle(seed=SEED)
    ds = ds.batch(BATCH, drop_remainder=True).map(src.batch).repeat()
    return _grain_iter(ds, workers)


class _TorchExamples:
    """A map-style torch dataset over a funcnet source (and its per-example map)."""

    def __init__(self, src, fn_map):
        self.src, self.fn_map = src, fn_map

    def __len__(self):
        return len(self.src)

    def __getitem__(self, i):
        example = self.src[i]
        return self.fn_map(example) if self.fn_map is not None else example


class _TorchBatches(_TorchExamples):
    def __getitem__(self, indices):  # a list of indices from the BatchSampler
        return self.src.batch(np.asarray(indices))


def _numpy(batch):
    return {k: v.numpy() for k, v in batch.items()}


def torch_batches(src, fn_map, workers, gather=False):
    import torch  # the reference side only
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler

    generator = torch.Generator().manual_seed(SEED)
    common = dict(num_workers=workers, persistent_workers=workers > 0)
    if gather:
        sampler = BatchSampler(
            RandomSampler(range(len(src)), generator=generator), BATCH, drop_last=True
        )
        loader = DataLoader(_TorchBatches(src, None), batch_size=None, sampler=sampler, **common)
    else:
        loader = DataLoader(
            _TorchExamples(src, fn_map),
            batch_size=BATCH,
            shuffle=True,
            drop_last=True,
            generator=generator,
            **common,
        )

    def endless():
        while True:
            for batch in loader:
                yield _numpy(batch)

    return endless(), lambda: None


# --- timing ---------------------------------------------------------------------------
def take(iterator, n):
    """A zero-argument callable consuming n batches; returns the last one."""

    def run():
        last = None
        for last in itertools.islice(iterator, n):  # noqa: B007 (the last one is returned)
            pass
        return last

    return run


def bench_pipeline(label, src, fn_map, workers, rounds, batches):
    makers = {
        "funcnet": lambda: funcnet_batches(src, fn_map, workers),
        "funcnet (defaults)": lambda: funcnet_batches(
            src, fn_map, workers, to_device=True, prefetch=2
        ),
        "grain": lambda: grain_batches(src, fn_map, workers),
        "torch": lambda: torch_batches(src, fn_map, workers),
    }
    if fn_map is None:
        makers["grain (gather)"] = lambda: grain_gather_batches(src, workers)
        makers["torch (gather)"] = lambda: torch_batches(src, None, workers, gather=True)
    iterators, closers = {}, []
    try:
        for name, make in makers.items():
            iterator, close = make()
            iterators[name] = iterator
            closers.append(close)
        cases = {name: take(it, batches) for name, it in iterators.items()}
        res = _timing.compare(cases, repeat=rounds, number=1, warmup=1)
    finally:
        for close in closers:
            close()
    examples = batches * BATCH
    print(f"  {label}, workers {workers}: examples/s (min time per {batches} batches)")
    for name, r in res.items():
        print(f"    {name:<18} {examples / r['min']:>12,.0f}/s   ({_timing.fmt_time(r['min'])})")
    references = [n for n in res if not n.startswith("funcnet")]
    best = min(references, key=lambda n: res[n]["min"])
    speed = res[best]["min"] / res["funcnet"]["min"]
    verdict = "met" if speed >= TARGET else "NOT met"
    print(f"    funcnet / best ({best}) throughput = {speed:.2f}x  (target >= {TARGET}: {verdict})")
    return {"results": res, "best": best, "throughput_ratio": speed}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--batches", type=int, default=60, help="batches per timed call")
    ap.add_argument("--quick", action="store_true", help="2 rounds, 0 workers (smoke run)")
    args = ap.parse_args(argv)
    rounds, workers_list, batches = args.rounds, args.workers, args.batches
    if args.quick:
        rounds, workers_list, batches = 2, [0], 5

    _timing.print_header(f"data.Loader throughput vs grain and torch (batch {BATCH})")
    digits = data.digits("train")
    text = data.text_corpus()
    windows = data.TextWindows(data.CharVocab(text).encode(text), 64)
    pipelines = [
        ("digits + normalize", digits, data.normalize(digits.mean, digits.std)),
        ("digits", digits, None),
        ("text windows", windows, None),
    ]
    out = {}
    for workers in workers_list:
        for label, src, fn_map in pipelines:
            out[f"{label} / {workers}"] = bench_pipeline(
                label, src, fn_map, workers, rounds, batches
            )
    _timing.maybe_dump("bench_loader", out)
    return out


if __name__ == "__main__":
    main()
