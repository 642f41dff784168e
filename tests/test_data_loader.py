"""funcnet.data.Loader against grain used directly and NumPy: order, epochs, state, errors."""

import itertools
import json
import threading
import traceback

import grain
import numpy as np
import pytest

import funcnet as fn
from funcnet import data

N = 22  # examples: batch 4 leaves a last batch of 2


def _source(n=N):
    rng = np.random.default_rng(0)
    return {
        "image": rng.standard_normal((n, 3, 2)).astype(np.float32),
        "label": np.arange(n, dtype=np.int32),
    }


def _host(batch):
    return {k: np.asarray(v) for k, v in batch.items()}


def _flat(lists):
    return list(itertools.chain.from_iterable(lists))


def _labels(loader, epochs=1):
    return [[np.asarray(b["label"]).tolist() for b in loader] for _ in range(epochs)]


def _grain_order(n, batch_size, *, seed, shuffle=True, drop_last=False, epochs=2):
    """The reference: the same pipeline written in plain grain over example indices."""
    ds = grain.MapDataset.range(n)
    if shuffle:
        ds = ds.shuffle(seed=seed)
    ds = ds.batch(batch_size, drop_remainder=drop_last).repeat()
    per_epoch = (n // batch_size) if drop_last else -(-n // batch_size)
    return [[ds[e * per_epoch + i].tolist() for i in range(per_epoch)] for e in range(epochs)]


def _with_timeout(fn_, seconds=60):
    """Runs fn_ on a thread; fails the test instead of hanging."""
    out = {}

    def run():
        try:
            out["value"] = fn_()
        except BaseException as e:  # re-raised below, on the test's thread
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"the loader hung for more than {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


# -- order, epochs, batches ---------------------------------------------------------------


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_epochs_match_grain(drop_last):
    src = _source()
    with data.Loader(src, 4, shuffle=True, seed=7, drop_last=drop_last) as loader:
        got = _labels(loader, epochs=2)
        assert len(loader) == (5 if drop_last else 6)
    assert got == _grain_order(N, 4, seed=7, drop_last=drop_last)
    assert got[0] != got[1]  # a new order each epoch
    for epoch in got:  # each epoch is a permutation (minus the dropped tail)
        flat = sorted(_flat(epoch))
        assert len(flat) == (20 if drop_last else N) and len(set(flat)) == len(flat)


def test_batches_hold_the_source_rows_on_the_device():
    src = _source()
    with data.Loader(src, 4, shuffle=True, seed=1) as loader:
        for batch in loader:
            assert isinstance(batch["image"], fn.Array)
            host = _host(batch)
            np.testing.assert_array_equal(host["image"], src["image"][host["label"]])
            assert host["image"].dtype == np.float32 and host["label"].dtype == np.int32


def test_same_seed_same_batches_other_seed_other_order():
    a = data.Loader(_source(), 4, shuffle=True, seed=3)
    b = data.Loader(_source(), 4, shuffle=True, seed=3)
    c = data.Loader(_source(), 4, shuffle=True, seed=4)
    with a, b, c:
        assert _labels(a, 2) == _labels(b, 2)
        assert _labels(c) != _labels(data.Loader(_source(), 4, shuffle=True, seed=3))


def test_without_shuffle_the_source_order():
    with data.Loader(_source(), 4, prefetch=0) as loader:
        got = _labels(loader, 2)
    expect = [list(range(i, min(i + 4, N))) for i in range(0, N, 4)]
    assert got == [expect, expect]


def test_array_source_gives_array_batches_and_to_device_false_numpy():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    with data.Loader(x, 4, to_device=False) as loader:
        batches = list(loader)
    assert all(type(b) is np.ndarray for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), x)
    with data.Loader(x, 4) as loader:
        first = next(iter(loader))
    assert isinstance(first, fn.Array)
    np.testing.assert_array_equal(np.asarray(first), x[:4])


def test_file_list_source_with_maps_in_order(tmp_path):
    paths = []
    for i in range(7):
        path = tmp_path / f"{i}.npy"
        np.save(path, np.full((2, 2), i, np.uint8))
        paths.append(str(path))

    def load(path):
        return {"image": np.load(path), "label": int(path.rsplit("/", 1)[1][:-4])}

    def scale(example):
        return {**example, "image": example["image"].astype(np.float32) / 2}

    with data.Loader(paths, 3, map=[load, scale], num_workers=2) as loader:
        batches = [_host(b) for b in loader]
    assert [b["label"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[1]["label"].dtype == np.int32  # a Python int label: funcnet's int32
    np.testing.assert_array_equal(batches[2]["image"], np.full((1, 2, 2), 3.0, np.float32))


def test_normalize_matches_numpy():
    img = np.random.default_rng(0).integers(0, 255, (5, 4, 4, 3)).astype(np.uint8)
    mean, std = np.array([10.0, 20.0, 30.0]), np.array([2.0, 4.0, 8.0])
    with data.Loader({"image": img}, 5, map=data.normalize(mean, std)) as loader:
        got = np.asarray(next(iter(loader))["image"])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (img - mean) / std, rtol=1e-6)
    with pytest.raises(KeyError, match="'pixels'"):
        data.normalize(0.0, 1.0, key="pixels")({"image": img[0]})
    with pytest.raises(ValueError, match="zero"):
        data.normalize(0.0, [1.0, 0.0])


@pytest.mark.parametrize("workers", [0, 2])
def test_thread_workers_and_no_prefetch_give_the_same_batches(workers):
    def square(example):
        return {**example, "image": example["image"] ** 2}

    reference = [
        [(src_image**2).tolist() for src_image in _source()["image"][idx]]
        for idx in _grain_order(N, 4, seed=5, epochs=1)[0]
    ]
    with data.Loader(
        _source(), 4, shuffle=True, seed=5, num_workers=workers, map=square, prefetch=workers
    ) as loader:
        got = [np.asarray(b["image"]).tolist() for b in loader]
    assert got == reference


def test_shards_are_disjoint_equal_parts_of_the_epoch_order():
    order = _flat(_grain_order(N, 1, seed=2, epochs=1)[0])
    parts = []
    for index in range(3):
        with data.Loader(_source(), 2, shuffle=True, seed=2, shard=(index, 3)) as loader:
            assert len(loader) == 4  # 22 // 3 = 7 examples per shard, batches 2,2,2,1
            parts.append(_flat(_labels(loader)[0]))
    assert [len(p) for p in parts] == [7, 7, 7]
    assert parts == [order[:21][i::3] for i in range(3)]
    assert data.Loader(_source(), 2).get_state()["shard_count"] == fn.process_count()


# -- epochs and state -----------------------------------------------------------------


def test_abandoned_epoch_and_iterator_rules():
    reference = _grain_order(N, 4, seed=9, epochs=4)
    with data.Loader(_source(), 4, shuffle=True, seed=9) as loader:
        first = next(iter(loader))  # peek, then iterate: the next epoch starts
        assert np.asarray(first["label"]).tolist() == reference[0][0]
        assert _labels(loader) == [reference[1]]
        it = iter(loader)
        next(it)
        newer = iter(loader)
        with pytest.raises(RuntimeError, match="replaced by a later iter"):
            next(it)
        # `it` stopped part way into epoch 2, so `newer` is epoch 3
        assert [np.asarray(b["label"]).tolist() for b in newer] == reference[3]
        assert loader.get_state()["epoch"] == 4 and loader.get_state()["position"] == 0


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("taken", [2, 8])  # mid-epoch 0, and mid-epoch 1 (6 per epoch)
def test_resume_sees_the_uninterrupted_batches(workers, taken):
    def make():
        return data.Loader(_source(), 4, shuffle=True, seed=11, num_workers=workers)

    with make() as full:
        uninterrupted = _flat(_labels(full, 3))
    with make() as first:
        seen, state = [], None
        while len(seen) < taken:
            for batch in first:
                seen.append(np.asarray(batch["label"]).tolist())
                if len(seen) == taken:
                    state = json.loads(json.dumps(first.get_state()))
                    break
    assert state["epoch"] == taken // 6 and state["position"] == taken % 6
    with make() as resumed:
        resumed.set_state(state)
        rest = _flat(_labels(resumed, 3 - taken // 6))
    assert seen + rest == uninterrupted


def test_state_at_an_epoch_boundary_is_the_next_epoch():
    with data.Loader(_source(), 4) as loader:
        it = iter(loader)
        for _ in range(len(loader)):
            next(it)
        assert (loader.get_state()["epoch"], loader.get_state()["position"]) == (1, 0)


def test_set_state_refuses_other_source_or_settings():
    state = data.Loader(_source(), 4, shuffle=True, seed=1).get_state()
    with pytest.raises(ValueError, match="seed: 1 in the state, 2 in this loader"):
        data.Loader(_source(), 4, shuffle=True, seed=2).set_state(state)
    other = _source()
    other["image"] = other["image"] + 1
    with pytest.raises(ValueError, match="source_fingerprint"):
        data.Loader(other, 4, shuffle=True, seed=1).set_state(state)
    with pytest.raises(ValueError, match="source_length: 22 in the state, 21"):
        data.Loader(_source(21), 4, shuffle=True, seed=1).set_state(state)
    with pytest.raises(ValueError, match="batch_size"):
        data.Loader(_source(), 5, shuffle=True, seed=1).set_state(state)
    with pytest.raises(ValueError, match="not a Loader state"):
        data.Loader(_source(), 4).set_state({"epoch": 0})
    with pytest.raises(ValueError, match="out of range"):
        data.Loader(_source(), 4, shuffle=True, seed=1).set_state({**state, "position": 6})


# -- bad input ------------------------------------------------------------------------


def test_empty_source_and_no_batch_errors():
    with pytest.raises(ValueError, match="empty"):
        data.Loader({"x": np.zeros((0, 2), np.float32)}, 4)
    with pytest.raises(ValueError, match="empty"):
        data.Loader([], 4)
    with pytest.raises(
        ValueError, match=r"batch_size=8 is larger than the 5 examples.*no batch would be produced"
    ):
        data.Loader(np.zeros((5, 2), np.float32), 8, drop_last=True)
    assert len(data.Loader(np.zeros((5, 2), np.float32), 8)) == 1  # one short batch
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        data.Loader(iter(range(3)), 2)
    with pytest.raises(TypeError, match="map must be a function"):
        data.Loader([1, 2], 2, map=[abs, 3])
    with pytest.raises(ValueError, match="worker_type"):
        data.Loader([1, 2], 2, worker_type="fiber")


def test_ragged_examples_name_the_field_and_shapes():
    def crop(example):
        n = 3 if example["label"] % 2 else 2
        return {**example, "image": example["image"][:n]}

    with (
        data.Loader(_source(), 4, map=crop) as loader,
        pytest.raises(ValueError, match=r"field 'image'.*different shapes.*\(2, 2\).*\(3, 2\)"),
    ):
        next(iter(loader))


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda x: x.astype(np.float64), "field 'image' .*float64.*float32"),
        (lambda x: np.array([str(v) for v in x.ravel()]), "field 'image' .*<U"),
    ],
)
def test_wrong_dtype_from_a_map_names_the_field(bad, message):
    def to_bad(example):
        return {**example, "image": bad(example["image"])}

    with data.Loader(_source(), 4, map=to_bad) as loader, pytest.raises(TypeError, match=message):
        next(iter(loader))


def test_a_dtype_change_after_the_first_batch_is_an_error():
    def flip(example):
        dtype = np.float16 if example["label"] >= 8 else np.float32
        return {**example, "image": example["image"].astype(dtype)}

    with data.Loader(_source(), 4, map=flip) as loader:
        it = iter(loader)
        next(it), next(it)
        with pytest.raises(TypeError, match=r"batch 2: field 'image' has dtype float16.*float32"):
            next(it)


def test_a_thread_worker_error_reaches_the_user():
    def fail(example):
        if example["label"] == 13:
            raise KeyError("no label 13")
        return example

    def run():
        with data.Loader(_source(), 4, map=fail, num_workers=2) as loader:
            return [b for b in loader]

    with pytest.raises(KeyError, match="no label 13") as info:
        _with_timeout(run)
    assert "in fail" in "".join(traceback.format_exception(info.value))


# -- worker processes (spawned: a few seconds each) ----------------------------------------


def test_process_workers_batches_and_resume():
    def double(example):
        return {**example, "image": example["image"] * 2}

    def run():
        with data.Loader(
            _source(), 4, shuffle=True, seed=3, map=double, num_workers=2, worker_type="process"
        ) as loader:
            got = _labels(loader, 2)
            it = iter(loader)
            first = np.asarray(next(it)["image"])
            state = loader.get_state()
        with data.Loader(  # a resumed run may use another worker count
            _source(), 4, shuffle=True, seed=3, map=double, num_workers=1, worker_type="process"
        ) as resumed:
            resumed.set_state(state)
            rest = _labels(resumed)[0]
        return got, first, rest

    got, first, rest = _with_timeout(run, 120)
    reference = _grain_order(N, 4, seed=3, epochs=3)
    assert got == reference[:2]
    np.testing.assert_array_equal(first, _source()["image"][reference[2][0]] * 2)
    assert rest == reference[2][1:]


def test_a_process_worker_error_reaches_the_user():
    def fail(example):
        if example["label"] == 13:
            raise KeyError("no label 13")
        return example

    def run():
        with data.Loader(_source(), 4, map=fail, num_workers=1, worker_type="process") as loader:
            return [b for b in loader]

    with pytest.raises(KeyError, match="no label 13") as info:
        _with_timeout(run, 120)
    assert "in fail" in "".join(traceback.format_exception(info.value))


# -- grain's shuffle order, vectorized ----------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 22, 257, 1438, 65536, 65537, 2**20 + 3])
def test_epoch_order_is_grains_index_shuffle(n):
    from funcnet.data._permutation import _walk_table, shuffled_positions

    rng = np.random.default_rng(n)
    indices = np.arange(n) if n <= 2000 else rng.integers(0, n, 200)
    for seed in (0, 12345, 2**32 - 1):
        expected = [grain.experimental.index_shuffle(int(i), n - 1, seed, 4) for i in indices]
        np.testing.assert_array_equal(shuffled_positions(indices, n - 1, seed), expected)
        if 22 <= n <= 2**20:  # the vectorized walk, also where small sizes go to grain's C++
            walked = _walk_table(indices.astype(np.uint64), n - 1, seed, 4)
            np.testing.assert_array_equal(walked, expected)


def test_random_maps_draw_the_same_after_a_resume_and_with_workers():
    def jitter(example, rng):
        return {**example, "image": example["image"] + rng.standard_normal(2).astype(np.float32)}

    def images(loader, epochs):
        return [np.asarray(b["image"]) for _ in range(epochs) for b in loader]

    kwargs = dict(shuffle=True, seed=4, map=[jitter])
    with data.Loader(_source(), 4, **kwargs) as plain:
        reference = images(plain, 2)
    with data.Loader(_source(), 4, num_workers=2, **kwargs) as threaded:
        np.testing.assert_array_equal(
            np.concatenate(images(threaded, 2)), np.concatenate(reference)
        )
    with data.Loader(_source(), 4, **kwargs) as resumed:
        resumed.set_state({**plain.get_state(), "epoch": 1, "position": 2})
        np.testing.assert_array_equal(
            np.concatenate(images(resumed, 1)), np.concatenate(reference[8:])
        )
    # each example gets noise, and other noise in the next epoch
    with data.Loader(_source(), 4, **kwargs) as loader:
        noise = []
        for _ in range(2):
            by_label = {}
            for b in loader:
                for label, image in zip(np.asarray(b["label"]), np.asarray(b["image"])):
                    by_label[int(label)] = image - _source()["image"][label]
            noise.append(np.stack([by_label[i] for i in range(N)]))
    assert np.all(np.abs(noise[0]) > 0) and not np.allclose(noise[0], noise[1])


def test_batches_go_to_the_given_device():
    device = fn.devices()[-1]
    with data.Loader(_source(), 4, device=device) as loader:
        batch = next(iter(loader))
    assert batch["image"].device == device and batch["label"].device == device
    assert "6 batches per epoch" in repr(loader)
