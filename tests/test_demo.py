"""The demo (python -m funcnet.demo): it trains with funcnet.data + funcnet.train, reaches
its accuracy, stops on NaN naming the step, and prints its summary."""

import re

import numpy as np
import pytest

from funcnet import demo
from funcnet.datasets import load_digits


@pytest.fixture(scope="module")
def splits():
    return demo.digits_split()


def test_split_is_fixed_and_disjoint(splits):
    (x_train, y_train), (x_test, y_test) = splits
    assert x_train.shape[1:] == (8, 8, 1) and x_train.dtype == np.float32
    assert len(y_train) + len(y_test) == 1797
    assert x_train.min() >= 0.0 and x_train.max() <= 1.0
    again = demo.digits_split()
    np.testing.assert_array_equal(again[1][1], y_test)
    # Together the two splits are the shipped images (scaled by 1/16), each exactly once.
    images, labels = load_digits()
    ref = sorted(map(bytes, (images.reshape(len(images), -1) / 16.0).astype(np.float32)))
    got = np.concatenate([x_train, x_test]).reshape(1797, -1)
    assert sorted(map(bytes, got)) == ref
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([y_train, y_test])), np.bincount(labels)
    )


def test_cnn_reaches_97_percent():
    res = demo.train_model("cnn", demo.cnn(), epochs=12, progress=False)
    assert res["test_accuracy"] >= 0.97
    assert res["steps_per_s"] > 0 and res["compile_s"] > 0
    assert res["history"]["val_accuracy"][-1] >= 0.95
    assert res["history"]["loss"][-1] < res["history"]["loss"][0]


def test_nan_loss_stops_with_the_step(splits):
    (x_train, y_train), test = splits
    bad = (np.full_like(x_train, np.nan), y_train), test
    with pytest.raises(demo.NaNLossError, match=r"mlp: the loss became nan at step 1;"):
        demo.train_model("mlp", demo.mlp(), bad, epochs=1, progress=False)


def test_main_quick_prints_a_summary(capsys):
    results = demo.main(["--quick", "--no-progress"])
    out = capsys.readouterr().out
    assert "digits: 1438 train, 359 test images" in out
    for name in ("mlp", "cnn"):
        assert re.search(rf"^{name}: test accuracy \d+\.\d\d%, \d+ steps/s", out, re.M)
    assert [r["model"] for r in results] == ["mlp", "cnn"]
    assert all(r["epochs"] == 1 and r["test_accuracy"] > 0.5 for r in results)
