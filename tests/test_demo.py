"""The demo (python -m funcnet.demo): it trains, reaches its accuracy, stops on NaN."""

import numpy as np
import pytest

from funcnet import demo


@pytest.fixture(scope="module")
def data():
    return demo.digits_split()


def test_split_is_fixed_and_disjoint(data):
    (x_train, y_train), (_x_test, y_test) = data
    assert x_train.shape[1:] == (8, 8, 1) and x_train.dtype == np.float32
    assert len(y_train) + len(y_test) == 1797
    assert x_train.min() >= 0.0 and x_train.max() <= 1.0
    again = demo.digits_split()
    np.testing.assert_array_equal(again[1][1], y_test)


def test_cnn_reaches_97_percent(data):
    res = demo.train("cnn", demo.cnn(), data, epochs=12, progress=False)
    assert res["test_accuracy"] >= 0.97
    assert res["steps_per_s"] > 0 and res["compile_s"] > 0


def test_nan_loss_stops_with_the_step(data):
    (x_train, y_train), test = data
    bad = (np.full_like(x_train, np.nan), y_train), test
    with pytest.raises(demo.NaNLossError, match="at step 10"):
        demo.train("mlp", demo.mlp(), bad, epochs=1, progress=False)
