"""funcnet.data's sources: arrays, the shipped digits, the text corpora with their
vocabularies and windows, and image folders, each checked against an independent
reference (the demo's split, NumPy slicing, Python's own str/bytes codecs, Pillow's and
NumPy's view of the files written)."""

import ast
import hashlib
import lzma
import pickle
import re
import time

import numpy as np
import pytest
from PIL import Image

import funcnet.numpy as fnp
from funcnet import data
from funcnet.datasets import load_digits
from funcnet.demo import digits_split


# ----------------------------------------------------------------------------------------
# ArraySource
# ----------------------------------------------------------------------------------------
def test_array_source_examples_and_batches_match_numpy_indexing():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3, 2)).astype(np.float32)
    y = rng.integers(0, 5, size=7).astype(np.int32)
    src = data.from_arrays(x=x, y=y)
    assert len(src) == 7 and set(src.arrays) == {"x", "y"}
    for i in [0, 3, 6, -1, -7, np.int64(2)]:
        example = src[i]
        np.testing.assert_array_equal(example["x"], x[i])
        assert example["y"] == y[i] and example["y"].dtype == np.int32
    idx = [5, 0, 5, -2]
    batch = src.batch(idx)
    np.testing.assert_array_equal(batch["x"], x[idx])
    np.testing.assert_array_equal(batch["y"], y[idx])
    # the iteration protocol ends with IndexError
    assert len(list(src)) == 7
    # a mapping and keywords build the same source; lists become arrays
    same = data.ArraySource({"x": x, "y": list(y)})
    np.testing.assert_array_equal(same[4]["y"], y[4])
    assert "7 examples" in repr(src)


def test_array_source_bad_input():
    with pytest.raises(ValueError, match=r"equal lengths.*'image': 4.*'label': 3"):
        data.from_arrays(image=np.zeros((4, 2)), label=np.zeros(3))
    with pytest.raises(ValueError, match="at least one field"):
        data.ArraySource({})
    with pytest.raises(ValueError, match="'y' is a scalar"):
        data.from_arrays(x=np.zeros(3), y=np.float32(1))
    with pytest.raises(TypeError, match="a single array is already a source"):
        data.ArraySource(np.zeros(3))
    with pytest.raises(TypeError, match="not both"):
        data.from_arrays({"x": np.zeros(2)}, y=np.zeros(2))
    src = data.from_arrays(x=np.zeros(3))
    with pytest.raises(IndexError, match="index 3 is out of range for a source of 3"):
        src[3]
    with pytest.raises(IndexError, match="out of range"):
        src.batch([0, 3])
    with pytest.raises(TypeError):
        src[0:2]  # slices are not examples; batch() takes many indices
    with pytest.raises(TypeError, match="integers"):
        src.batch([0.5])


# ----------------------------------------------------------------------------------------
# digits
# ----------------------------------------------------------------------------------------
def test_digits_is_the_demos_split():
    (x_train, y_train), (x_test, y_test) = digits_split()
    for split, (x, y) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
        src = data.digits(split)
        assert len(src) == len(y)
        np.testing.assert_array_equal(src.arrays["image"], x)
        np.testing.assert_array_equal(src.arrays["label"], y)
        example = src[len(src) // 2]
        assert example["image"].shape == (8, 8, 1) and example["image"].dtype == np.float32
        assert example["label"].dtype == np.int32
    assert (len(data.digits("train")), len(data.digits("test"))) == (1438, 359)
    images, labels = load_digits()
    everything = data.digits("all")
    np.testing.assert_array_equal(everything.arrays["image"][..., 0] * 16, images)
    np.testing.assert_array_equal(everything.arrays["label"], labels)
    other = data.digits("test", test_fraction=0.5, seed=1)
    (_, _), (x_other, _) = digits_split(test_fraction=0.5, seed=1)
    np.testing.assert_array_equal(other.arrays["image"], x_other)


def test_digits_normalisation_statistics_come_from_the_training_split():
    (x_train, _), _ = digits_split()
    for split in ("train", "test"):
        src = data.digits(split)
        np.testing.assert_allclose(src.mean, [x_train.mean()], rtol=1e-6)
        np.testing.assert_allclose(src.std, [x_train.std()], rtol=1e-6)
        assert src.mean.dtype == src.std.dtype == np.float32
        assert src.classes == tuple("0123456789")
    assert x_train.min() >= 0 and x_train.max() <= 1
    # the cached arrays cannot be changed through a source
    with pytest.raises(ValueError, match="read-only"):
        data.digits("train").arrays["image"][0, 0, 0, 0] = 5.0
    with pytest.raises(ValueError, match="unknown digits split 'valid'"):
        data.digits("valid")


# ----------------------------------------------------------------------------------------
# text corpora
# ----------------------------------------------------------------------------------------
def test_corpus_is_large_deterministic_and_python_source():
    text = data.text_corpus("python")
    assert len(text.encode("utf-8")) >= 2**20 and text.isascii()
    # the digest of the file's own bytes, read without funcnet
    file, digest, _ = data.text.CORPORA["python"]
    raw = lzma.decompress(
        (data.text.Path(data.text.__file__).parent / "corpora" / file).read_bytes()
    )
    assert hashlib.sha256(raw).hexdigest() == digest == hashlib.sha256(text.encode()).hexdigest()
    # each section is one whole standard-library module: Python parses it
    sections = re.split(r"^# ===== (Lib/\S+) =====\n", text, flags=re.MULTILINE)[1:]
    names, bodies = sections[0::2], sections[1::2]
    assert len(names) == 41 and names[0] == "Lib/abc.py" and names == sorted(names)
    for name, body in zip(names, bodies):
        ast.parse(body, filename=name)
    assert data.text_corpus("python") is text  # cached


def test_corpus_loads_fast_and_docs_corpus_is_prose():
    start = time.perf_counter()
    text = data.text_corpus.__wrapped__("python")  # uncached: the real cost
    assert time.perf_counter() - start < 0.5
    assert len(text) == 1_128_765
    docs = data.text_corpus("python_docs")
    assert hashlib.sha256(docs.encode()).hexdigest() == data.text.CORPORA["python_docs"][1]
    assert len(docs) > 400_000 and docs.startswith('The "assert" statement')
    with pytest.raises(ValueError, match=r"unknown text corpus 'shakespeare'.*'python'"):
        data.text_corpus("shakespeare")


# ----------------------------------------------------------------------------------------
# vocabularies
# ----------------------------------------------------------------------------------------
def test_char_vocab_round_trips_and_matches_a_dict_reference():
    text = data.text_corpus("python")
    vocab = data.CharVocab(text)
    reference = {c: i for i, c in enumerate(sorted(set(text)))}
    assert vocab.size == len(vocab) == len(reference) == 96
    sample = text[:5000]
    ids = vocab.encode(sample)
    assert ids.dtype == np.int32 and ids.shape == (5000,)
    np.testing.assert_array_equal(ids, [reference[c] for c in sample])
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.decode(list(ids[:10])) == sample[:10]
    assert vocab.decode(fnp.asarray(ids[:10])) == sample[:10]
    rebuilt = data.CharVocab(vocab.chars)
    np.testing.assert_array_equal(rebuilt.encode(sample), ids)
    # characters outside the Basic Multilingual Plane and combining marks round trip
    odd = "π ≈ 3.14 \U0001f600 e\u0301\n"
    assert data.CharVocab(odd).decode(data.CharVocab(odd).encode(odd)) == odd
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""


def test_char_vocab_unknown_characters():
    vocab = data.CharVocab("abc")
    with pytest.raises(ValueError, match=r"character 'z' at position 2 is not in the vocab"):
        vocab.encode("abzz")
    lenient = data.CharVocab("abc", unknown="?")
    assert lenient.chars == "?abc" and lenient.unknown_id == 0
    assert lenient.decode(lenient.encode("abzc\u00e9")) == "ab?c?"
    # an unknown character already in the text is not added twice
    assert data.CharVocab("ab?", unknown="?").size == 3
    with pytest.raises(ValueError, match="single character"):
        data.CharVocab("abc", unknown="<unk>")
    with pytest.raises(ValueError, match="non-empty"):
        data.CharVocab("")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        vocab.decode([0, 3])
    with pytest.raises(TypeError, match="integers"):
        vocab.decode(np.array([0.0]))
    with pytest.raises(TypeError, match="takes a str"):
        vocab.encode(b"abc")


def test_byte_vocab_is_utf8():
    vocab = data.ByteVocab()
    text = "naïve café — \U0001f600"
    ids = vocab.encode(text)
    assert vocab.size == len(vocab) == 256 and ids.dtype == np.int32
    assert ids.tolist() == list(text.encode("utf-8"))
    assert vocab.decode(ids) == text
    assert vocab.encode(b"\x00\xff").tolist() == [0, 255]
    # a sample cut inside a character decodes with a replacement character
    assert vocab.decode(ids[:-1]) == text[:-1] + "\ufffd"
    with pytest.raises(ValueError, match=r"\[0, 256\)"):
        vocab.decode([256])


# ----------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, seq_len, stride", [(10, 4, None), (11, 4, None), (50, 8, 3), (9, 8, 1)]
)
def test_text_windows_match_numpy_slicing(n, seq_len, stride):
    tokens = np.random.default_rng(n).integers(0, 1000, size=n)
    windows = data.TextWindows(tokens, seq_len, stride)
    step = stride or seq_len
    starts = [s for s in range(0, n, step) if s + seq_len + 1 <= n]  # every window that fits
    assert len(windows) == len(starts)
    for i, s in enumerate(starts):
        example = windows[i]
        np.testing.assert_array_equal(example["inputs"], tokens[s : s + seq_len])
        np.testing.assert_array_equal(example["targets"], tokens[s + 1 : s + seq_len + 1])
        assert example["inputs"].dtype == example["targets"].dtype == np.int32
    order = np.random.default_rng(1).permutation(len(windows))
    batch = windows.batch(order)
    np.testing.assert_array_equal(batch["inputs"], np.stack([windows[i]["inputs"] for i in order]))
    np.testing.assert_array_equal(
        batch["targets"], np.stack([windows[i]["targets"] for i in order])
    )
    with pytest.raises(IndexError):
        windows[len(windows)]


def test_text_windows_on_the_corpus_cover_every_token_once():
    vocab = data.CharVocab(data.text_corpus())
    ids = vocab.encode(data.text_corpus())
    windows = data.TextWindows(ids, seq_len=128)
    assert len(windows) == (len(ids) - 1) // 128
    batch = windows.batch(np.arange(len(windows)))
    np.testing.assert_array_equal(batch["inputs"].reshape(-1), ids[: len(windows) * 128])
    assert vocab.decode(windows[0]["inputs"]) == data.text_corpus()[:128]


def test_text_streams_continue_across_batches():
    tokens = np.arange(103)
    streams = data.TextStreams(tokens, seq_len=5, num_streams=4)
    stream_len = 102 // 4  # 25 tokens per stream: 5 windows each
    assert len(streams) == 4 * 5
    batches = [streams.batch(range(k * 4, (k + 1) * 4)) for k in range(5)]
    inputs = np.concatenate([b["inputs"] for b in batches], axis=1)
    targets = np.concatenate([b["targets"] for b in batches], axis=1)
    for s in range(4):
        begin = s * stream_len
        np.testing.assert_array_equal(inputs[s], tokens[begin : begin + 25])
        np.testing.assert_array_equal(targets[s], tokens[begin + 1 : begin + 26])
    np.testing.assert_array_equal(streams[5]["inputs"], batches[1]["inputs"][1])
    with pytest.raises(ValueError, match=r"needs at least 21 tokens"):
        data.TextStreams(np.arange(20), seq_len=5, num_streams=4)


def test_windows_bad_input():
    with pytest.raises(ValueError, match=r"5 tokens make no window of seq_len=5"):
        data.TextWindows(np.arange(5), 5)
    with pytest.raises(TypeError, match="1-D array of integer ids"):
        data.TextWindows(np.zeros(10), 4)
    with pytest.raises(TypeError, match=r"shape \(2, 5\)"):
        data.TextWindows(np.zeros((2, 5), np.int32), 4)
    with pytest.raises(TypeError, match="1-D array of integer ids"):
        data.TextWindows("some text", 4)
    with pytest.raises(ValueError, match="seq_len must be at least 1"):
        data.TextWindows(np.arange(10), 0)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        data.TextWindows(np.arange(10), 2, stride=0)
    with pytest.raises(ValueError, match="fit in int32"):
        data.TextWindows(np.array([0, 2**40, 1], np.int64), 1)


def test_train_val_split():
    text = "abcdefghij"
    assert data.train_val_split(text, 0.3) == ("abcdefg", "hij")
    train, val = data.train_val_split(np.arange(100), val_fraction=0.1)
    np.testing.assert_array_equal(np.concatenate([train, val]), np.arange(100))
    assert len(val) == 10
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        data.train_val_split(text, 1.0)
    with pytest.raises(ValueError, match="0 for validation"):
        data.train_val_split("abc", 0.1)


# ----------------------------------------------------------------------------------------
# image folders
# ----------------------------------------------------------------------------------------
def _smooth_image(rng, height, width, channels=3):
    """A smooth gradient (JPEG keeps it within a few levels) with some noise-free detail."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.uniform(40, 200, size=channels)
    slope = rng.uniform(-2, 2, size=(2, channels))
    img = base + yy[..., None] * slope[0] + xx[..., None] * slope[1]
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _write(path, pixels, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "cat/b.png": rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8),
        "cat/a.PNG": rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8),
        "dog/deep/c.jpg": _smooth_image(rng, 6, 5),
        "ant/x.jpeg": _smooth_image(rng, 6, 5),
        "ant/y.png": rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8),  # RGBA
    }
    for name, pixels in arrays.items():
        _write(tmp_path / name, pixels, **({"quality": 95} if "jp" in name else {}))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "cat" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / ".cache").mkdir()
    return tmp_path, arrays


def test_image_folder_reads_classes_labels_and_pixels(folder):
    root, arrays = folder
    src = data.ImageFolder(root)
    assert src.classes == ["ant", "cat", "dog"]
    expected_order = ["ant/x.jpeg", "ant/y.png", "cat/a.PNG", "cat/b.png", "dog/deep/c.jpg"]
    assert [p.relative_to(root).as_posix() for p in src.files] == expected_order
    np.testing.assert_array_equal(src.labels, [0, 0, 1, 1, 2])
    assert src.size == (6, 5) and len(src) == 5
    for i, name in enumerate(expected_order):
        example = src[i]
        image, label = example["image"], example["label"]
        assert image.shape == (6, 5, 3) and image.dtype == np.float32
        assert label.dtype == np.int32 and label == src.labels[i]
        want = arrays[name][..., :3] / 255.0  # RGBA loses its alpha channel
        if name.endswith((".jpg", ".jpeg")):  # lossy: within a few levels
            np.testing.assert_allclose(image, want, atol=6 / 255)
        else:
            np.testing.assert_allclose(image, want, rtol=0, atol=1e-7)
    assert "5 images of 6x5x3, 3 classes" in repr(src)
    with pytest.raises(IndexError):
        src[5]


def test_image_folder_grayscale_and_resize(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(4, 7, 3), dtype=np.uint8)
    _write(tmp_path / "a" / "rgb.png", rgb)
    _write(tmp_path / "b" / "flat.png", np.full((9, 3, 3), (10, 200, 90), np.uint8))
    with pytest.raises(ValueError, match=r"different sizes.*rgb\.png' is 4x7.*flat\.png' is 9x3"):
        data.ImageFolder(tmp_path)
    gray = data.ImageFolder(tmp_path, size=(4, 7), grayscale=True)
    luma = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]  # ITU-R 601-2, Pillow's "L"
    np.testing.assert_allclose(gray[0]["image"][..., 0], luma / 255, atol=1 / 255)
    assert gray[1]["image"].shape == (4, 7, 1)
    # a flat colour stays that colour whatever the resampling
    square = data.ImageFolder(tmp_path, size=5)
    np.testing.assert_allclose(
        square[1]["image"], np.full((5, 5, 3), (10, 200, 90)) / 255, atol=1e-7
    )


def test_image_folder_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        data.ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="has no class subfolders"):
        data.ImageFolder(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"class folder '.*empty' holds no image"):
        data.ImageFolder(tmp_path)
    (tmp_path / "empty" / "bad.png").write_bytes(b"this is not a PNG file")
    with pytest.raises(ValueError, match=r"cannot read image '.*bad\.png'"):
        data.ImageFolder(tmp_path)
    # with size= the headers are not read up front: the error comes with the example
    lazy = data.ImageFolder(tmp_path, size=(2, 2))
    with pytest.raises(ValueError, match=r"cannot read image '.*bad\.png'"):
        lazy[0]
    # a truncated JPEG: the header reads, the pixels do not
    buffer = tmp_path / "good.jpg"
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, quality=95)
    (tmp_path / "empty" / "bad.png").unlink()
    (tmp_path / "empty" / "cut.jpg").write_bytes(buffer.read_bytes()[:2000])
    cut = data.ImageFolder(tmp_path)
    with pytest.raises(ValueError, match=r"cannot read image '.*cut\.jpg'"):
        cut[0]
    with pytest.raises(ValueError, match=r"size must be \(height, width\)"):
        data.ImageFolder(tmp_path, size=(1, 2, 3))


def test_read_image_makes_a_list_of_files_a_source(folder):
    root, arrays = folder
    paths = [root / "cat" / "b.png", root / "cat" / "a.PNG"]  # a list is a source as it is
    examples = [{"image": data.read_image(p)} for p in paths]
    np.testing.assert_allclose(examples[0]["image"], arrays["cat/b.png"] / 255.0, atol=1e-7)
    np.testing.assert_allclose(examples[1]["image"], arrays["cat/a.PNG"] / 255.0, atol=1e-7)
    rgba = data.read_image(root / "ant" / "y.png", size=(3, 2), grayscale=True)
    assert rgba.shape == (3, 2, 1) and rgba.dtype == np.float32
    with pytest.raises(ValueError, match=r"cannot read image '.*\.hidden\.png'"):
        data.read_image(root / "cat" / ".hidden.png")


def test_sources_pickle_for_worker_processes(folder):
    """The loader's worker processes receive the source pickled."""
    root, _ = folder
    sources = [
        data.digits("test"),
        data.TextWindows(np.arange(40), 6, stride=5),
        data.TextStreams(np.arange(40), 3, num_streams=2),
        data.ImageFolder(root, size=(4, 4), grayscale=True),
    ]
    for src in sources:
        copy = pickle.loads(pickle.dumps(src))
        assert len(copy) == len(src)
        for name, value in src[len(src) - 1].items():
            np.testing.assert_array_equal(copy[len(src) - 1][name], value)
    assert pickle.loads(pickle.dumps(sources[0])).classes == sources[0].classes
