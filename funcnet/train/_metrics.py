"""Metrics summed on the device, step after step, and pulled to the host on demand.

A training loop that reads its loss every step waits for every step to finish before
dispatching the next one. `MetricSums` instead adds each step's metrics (weighted by the
batch size) into one small float32 vector on the device, in a compiled function that
needs no host value, and copies that vector to the host only when asked (`pull`): one
device-to-host transfer per pull. The vector also records the first step whose metrics
were not finite, so a NaN seen at the pull is traced back to the step that made it.
"""

import numpy as np

from funcnet import numpy as fnp
from funcnet.transforms.jit import jit

__all__ = ["MetricSums", "Pulled"]

# Layout of the vector after the k metric sums.
_WEIGHT, _COUNT, _BAD_AT, _BAD_INDEX, _BAD_VALUE = range(5)
_EXTRA = 5


def _values(metrics):
    return fnp.stack([fnp.asarray(m).astype(fnp.float32) for m in metrics])


def _bad_record(values, position):
    bad = ~fnp.isfinite(values)
    index = fnp.argmax(bad)
    any_bad = fnp.any(bad)
    return any_bad, fnp.stack(
        [
            fnp.where(any_bad, position, -1.0),
            index.astype(fnp.float32),
            fnp.where(any_bad, values[index], 0.0),
        ]
    )


@jit
def _start(metrics, weight):
    values = _values(metrics)
    _, bad = _bad_record(values, 0.0)
    head = fnp.stack([weight, 1.0])
    return fnp.concatenate([values * weight, head, bad])


def _add_impl(acc, metrics, weight):
    k = acc.shape[0] - _EXTRA
    values = _values(metrics)
    count = acc[k + _COUNT]
    any_bad, bad = _bad_record(values, count)
    first_bad = fnp.logical_and(any_bad, acc[k + _BAD_AT] < 0)
    new_bad = fnp.where(first_bad, bad, acc[k + _BAD_AT :])
    head = fnp.stack([acc[k + _WEIGHT] + weight, count + 1.0])
    return fnp.concatenate([acc[:k] + values * weight, head, new_bad])


# The accumulator is donated: each add updates the vector in place.
_add = jit(_add_impl, donate_argnums=0)


class Pulled:
    """The host copy of a window of summed metrics.

    Attributes:
      sums: dict of metric name to the batch-size-weighted sum.
      weight: the total weight (examples).
      count: the number of steps added.
      bad: None, or `(position, name, value)` of the first non-finite metric: the
        position of its step within the window (0-based), its name and value.
    """

    def __init__(self, names, vector):
        k = len(names)
        self.sums = {name: float(v) for name, v in zip(names, vector[:k])}
        self.weight = float(vector[k + _WEIGHT])
        self.count = int(vector[k + _COUNT])
        at = int(vector[k + _BAD_AT])
        self.bad = (
            None
            if at < 0
            else (at, names[int(vector[k + _BAD_INDEX])], float(vector[k + _BAD_VALUE]))
        )

    def means(self):
        """The weighted means, a dict (empty for an empty window)."""
        if self.weight <= 0:
            return {}
        return {name: s / self.weight for name, s in self.sums.items()}


class MetricSums:
    """Weighted sums of dicts of scalar metrics, kept on the device until `pull`."""

    def __init__(self):
        self.names = None  # the metric names, fixed by the first add
        self._acc = None
        self._weights = {}  # batch size -> its device scalar, made once

    def __len__(self):
        """Steps added since the last pull (counted on the host)."""
        return self._count

    _count = 0

    def add(self, metrics, weight):
        """Adds a dict of scalar metrics with weight `weight` (the batch size)."""
        if self.names is None:
            if not isinstance(metrics, dict):
                raise TypeError(
                    f"the step must return (state, metrics) with metrics a dict of scalars, "
                    f"got metrics of type {type(metrics).__name__}"
                )
            for name, value in metrics.items():
                shape = tuple(getattr(value, "shape", np.shape(value)))
                if shape != ():
                    raise ValueError(
                        f"metric {name!r} has shape {shape}; metrics must be scalars (reduce "
                        "it over the batch)"
                    )
            self.names = sorted(metrics, key=lambda n: (n != "loss", n))
        elif len(metrics) != len(self.names) or any(n not in metrics for n in self.names):
            raise ValueError(
                f"the step returned metrics {sorted(metrics)}, but earlier steps returned "
                f"{sorted(self.names)}; a step must return the same metrics every time"
            )
        w = self._weights.get(weight)
        if w is None:
            w = self._weights[weight] = fnp.asarray(float(weight), fnp.float32)
        values = [metrics[n] for n in self.names]
        self._acc = _start(values, w) if self._acc is None else _add(self._acc, values, w)
        self._count += 1

    def pull(self):
        """Copies the sums to the host (one transfer) and starts a new window.

        Returns:
          A `Pulled`, or None when nothing was added since the last pull.
        """
        if self._acc is None:
            return None
        vector = np.asarray(self._acc)
        self._acc = None
        self._count = 0
        return Pulled(self.names, vector)
