"""PartitionSpec: which mesh axes split each dimension of an array."""


def _canonical_entry(entry, position):
    """None, a mesh axis name, or a tuple of names (a one-name tuple becomes the name)."""
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, (tuple, list)):
        names = tuple(entry)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(
                    f"PartitionSpec entry {position}: a tuple of mesh axis names must hold "
                    f"strings, got {type(name).__name__}: {name!r:.60}"
                )
        if not names:
            return None  # () splits over no axis
        return names[0] if len(names) == 1 else names
    raise TypeError(
        f"PartitionSpec entry {position}: expected None, a mesh axis name (str) or a tuple "
        f"of names, got {type(entry).__name__}: {entry!r:.60}"
    )


class PartitionSpec(tuple):
    """How an array's dimensions are split over a mesh's axes, as
    `jax.sharding.PartitionSpec`.

    Entry `i` says how dimension `i` is split: None (not split: every device along the
    mesh holds the whole dimension), a mesh axis name (split in as many equal blocks as
    the axis has devices), or a tuple of names (split over their product, the first
    name major). Dimensions past the last entry are not split. A mesh axis named by no
    entry replicates the array along it.

    Args:
      *entries: one per leading dimension: None, a str, or a tuple of str.

    Raises:
      TypeError: an entry is none of those.

    Example:
      >>> from funcnet.sharding import PartitionSpec as P
      >>> P("data", None)
      PartitionSpec('data', None)
      >>> P(("data", "model"),)[0], len(P())
      (('data', 'model'), 0)
    """

    __slots__ = ()

    def __new__(cls, *entries):
        return super().__new__(cls, (_canonical_entry(e, i) for i, e in enumerate(entries)))

    def axes_of(self, dim: int) -> tuple:
        """The mesh axes splitting dimension `dim`, major first.

        Args:
          dim: a dimension index (past the last entry: not split).

        Returns:
          A tuple of axis names, empty when the dimension is not split.
        """
        entry = self[dim] if dim < len(self) else None
        if entry is None:
            return ()
        return (entry,) if isinstance(entry, str) else entry

    def mesh_axes(self) -> tuple:
        """Every mesh axis the spec names, in order of appearance (with repeats).

        Returns:
          A tuple of axis names.
        """
        return tuple(name for dim in range(len(self)) for name in self.axes_of(dim))

    def __repr__(self):
        return f"PartitionSpec({', '.join(map(repr, self))})"

    def __reduce__(self):
        return (PartitionSpec, tuple(self))

    def __add__(self, other):
        return PartitionSpec(*self, *other)

    def __radd__(self, other):
        return PartitionSpec(*other, *self)


__all__ = ["PartitionSpec"]
