"""`History`: what `fit` measured, epoch by epoch."""

import math

__all__ = ["History"]

VAL_PREFIX = "val_"
# Row entries that are positions, not metrics.
POSITION_KEYS = ("epoch", "step")


class History:
    """The metrics of a `fit`, one row per epoch.

    `history["loss"]` is the list of a metric's per-epoch values: the training metrics
    averaged over the epoch (weighted by batch size), the evaluation metrics prefixed
    `val_` (from the evaluation at the end of the epoch, or the last one in it with
    `eval_every=N`). An epoch cut short (by `steps=` or a stop) has a row of what it ran.
    Every evaluation, whenever it ran, is also in `evals`.

    Attributes:
      rows: one dict per epoch: `{"epoch": e, "step": s, "loss": ..., "val_loss": ...}`
        (`step` is `state.step` at the end of the epoch).
      evals: one dict per evaluation: `{"epoch": e, "step": s, "val_...": ...}`.
      stop_reason: why training stopped early (a str), or None.

    Example:
      >>> from funcnet import train
      >>> h = train.History([{"epoch": 0, "step": 10, "loss": 0.9, "val_loss": 1.0},
      ...                    {"epoch": 1, "step": 20, "loss": 0.5, "val_loss": 0.7}])
      >>> h["loss"], h.metrics()
      ([0.9, 0.5], ['loss', 'val_loss'])
    """

    def __init__(self, rows=None, evals=None, stop_reason=None):
        self.rows = [dict(r) for r in rows or []]
        self.evals = [dict(e) for e in evals or []]
        self.stop_reason = stop_reason

    def metrics(self):
        """The names of the metrics recorded, in the order first seen.

        Returns:
          A list of strs (training metrics, then `val_` ones as they appear).
        """
        names = []
        for row in self.rows:
            names.extend(k for k in row if k not in POSITION_KEYS and k not in names)
        return names

    def __getitem__(self, name):
        if name not in POSITION_KEYS and name not in self.metrics():
            raise KeyError(f"History has no metric {name!r}; it has {self.metrics() or 'none yet'}")
        return [row[name] for row in self.rows if name in row]

    def __contains__(self, name):
        return name in self.metrics()

    def __len__(self):
        return len(self.rows)

    def keys(self):
        """The metric names (as `metrics()`), so `dict(history)` works.

        Returns:
          A list of strs.
        """
        return self.metrics()

    def to_dict(self):
        """Everything, as JSON-able data (what a checkpoint stores).

        Returns:
          `{"rows": [...], "evals": [...], "stop_reason": ...}`.
        """
        return {"rows": self.rows, "evals": self.evals, "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, data):
        """The inverse of `to_dict`.

        Args:
          data: what `to_dict` returned.

        Returns:
          A `History`.
        """
        return cls(data.get("rows"), data.get("evals"), data.get("stop_reason"))

    def __repr__(self):
        last = {k: v for k, v in (self.rows[-1] if self.rows else {}).items()}
        return f"History({len(self.rows)} epochs, metrics={self.metrics()}, last={last})"

    def plot(self, metrics=None, *, figsize=None):
        """Draws each metric's curve over the epochs with matplotlib: one axis per metric
        name, the training and the `val_` curve of a metric on the same axis.

        Args:
          metrics: the metric names to draw (without `val_`); None draws every one.
          figsize: the figure size in inches; None picks one from the number of axes.

        Returns:
          The `matplotlib.figure.Figure`, made with pyplot: `plt.show()` displays it,
          `fig.savefig(path)` saves it, and a notebook shows it by itself.

        Raises:
          ImportError: matplotlib is not installed.
          KeyError: a name in `metrics` that was not recorded.
        """
        try:
            # Imported here, not at module level: matplotlib is an optional dependency that
            # training never needs, and importing it costs a noticeable fraction of a second.
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from e
        names = []
        for name in self.metrics():
            base = name[len(VAL_PREFIX) :] if name.startswith(VAL_PREFIX) else name
            if base not in names:
                names.append(base)
        if metrics is not None:
            missing = [m for m in metrics if m not in names]
            if missing:
                raise KeyError(f"History has no metric {missing[0]!r}; it has {names}")
            names = list(metrics)
        n = max(len(names), 1)
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        # Made with pyplot, so that plt.show() displays it (and a notebook shows it).
        fig, axes = plt.subplots(
            rows,
            cols,
            figsize=figsize or (4.5 * cols, 3.2 * rows),
            squeeze=False,
            layout="constrained",
        )
        axes = axes.ravel()
        for ax, base in zip(axes, names):
            for name, label in ((base, "train"), (VAL_PREFIX + base, "val")):
                points = [(r["epoch"] + 1, r[name]) for r in self.rows if name in r]
                if points:
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, marker="o", markersize=3, label=label)
            ax.set_title(base)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        for ax in axes[len(names) :]:
            fig.delaxes(ax)
        return fig
