"""Tile layouts: which block of an array each device of a device list holds.

A layout splits dimension `d` of an array into `tile_dims[d]` equal blocks, and gives each
of the `prod(tile_dims)` tiles to `replication` devices (positions in the device list).
This is the data of an XLA HloSharding (`{devices=[...] ... last_tile_dim_replicate}`):
funcnet computes it, the index maps and the gathering itself; the runtime only turns the
text into its buffer-layout descriptor.
"""

import math

import numpy as np


class TileLayout:
    """A tile layout over `len(device_list)` devices (hashable, immutable).

    Args:
      device_list: the devices, in partition order (a tuple).
      tile_dims: blocks per array dimension (a tuple of ints).
      replication: devices holding each tile.
      assignment: device positions, row-major over `tile_dims + (replication,)`.
      text: the HloSharding text, when already known (an iota form, shorter).
    """

    __slots__ = ("_hash", "assignment", "device_list", "replication", "text", "tile_dims")

    def __init__(self, device_list, tile_dims, replication, assignment, text=None):
        self.device_list = tuple(device_list)
        self.tile_dims = tuple(int(t) for t in tile_dims)
        self.replication = int(replication)
        self.assignment = tuple(int(p) for p in assignment)
        if len(self.assignment) != math.prod(self.tile_dims) * self.replication:
            raise ValueError(
                f"a tile layout of {self.tile_dims} x {self.replication} needs "
                f"{math.prod(self.tile_dims) * self.replication} device positions, got "
                f"{len(self.assignment)}"
            )
        self.text = text
        self._hash = hash((self.device_list, self.tile_dims, self.replication, self.assignment))

    @property
    def is_replicated(self) -> bool:
        return all(t == 1 for t in self.tile_dims)

    def key(self):
        return (self.device_list, self.tile_dims, self.replication, self.assignment)

    def __eq__(self, other):
        if not isinstance(other, TileLayout):
            return NotImplemented
        if self.is_replicated and other.is_replicated:
            return self.device_list == other.device_list and len(self.tile_dims) == len(
                other.tile_dims
            )
        return self.key() == other.key()

    def __hash__(self):
        if self.is_replicated:
            return hash((self.device_list, len(self.tile_dims)))
        return self._hash

    def hlo_text(self) -> str:
        """The HloSharding text (`{replicated}`, or `{devices=[...]...}`)."""
        if self.is_replicated:
            return "{replicated}"
        if self.text is not None:
            return self.text
        dims = list(self.tile_dims) + ([self.replication] if self.replication > 1 else [])
        rep = " last_tile_dim_replicate" if self.replication > 1 else ""
        return f"{{devices=[{','.join(map(str, dims))}]{','.join(map(str, self.assignment))}{rep}}}"

    def shard_shape(self, global_shape) -> tuple:
        """The per-device block shape (dimensions must divide: checked by the caller)."""
        return tuple(int(s) // t for s, t in zip(global_shape, self.tile_dims))

    def indices(self, global_shape) -> list:
        """The block each device holds, as a tuple of slices per device position (slice(None)
        for a dimension not split, as jax's index maps)."""
        per_dim = []
        for size, tiles in zip(global_shape, self.tile_dims):
            if tiles == 1:
                per_dim.append([slice(None)])
            else:
                step = int(size) // tiles
                per_dim.append([slice(i * step, (i + 1) * step) for i in range(tiles)])
        out = [None] * len(self.device_list)
        positions = iter(self.assignment)
        for index in _product(per_dim):
            for _ in range(self.replication):
                out[next(positions)] = index
        return out

    def replica_ids(self) -> list:
        """Per device position: how many earlier positions (in device-list order) hold the
        same block (0 for the first holder), as jax's replica ids."""
        tile_of = [0] * len(self.device_list)
        for k, pos in enumerate(self.assignment):
            tile_of[pos] = k // self.replication
        seen: dict = {}
        out = []
        for tile in tile_of:
            out.append(seen.get(tile, 0))
            seen[tile] = out[-1] + 1
        return out


def _product(lists):
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for rest in _product(lists[1:]):
            yield (head, *rest)


def iota_text(dims, reshape_dims, perm, replicate: bool) -> str:
    """The iota-form HloSharding text `{devices=[dims]<=[reshape]T(perm)}`, with runs of
    consecutive axes merged (XLA's canonical form)."""
    runs = []
    for p in perm:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    order = sorted(range(len(runs)), key=lambda r: runs[r][0])
    merged = [math.prod(reshape_dims[a] for a in runs[r]) for r in order]
    new_perm = [order.index(r) for r in range(len(runs))]
    rep = " last_tile_dim_replicate" if replicate else ""
    dims_text = ",".join(map(str, dims))
    if new_perm == sorted(new_perm):
        return f"{{devices=[{dims_text}]<=[{math.prod(merged)}]{rep}}}"
    body = f"<=[{','.join(map(str, merged))}]T({','.join(map(str, new_perm))})"
    return f"{{devices=[{dims_text}]{body}{rep}}}"


def named_layout(axis_names, axis_sizes, device_list, dim_axes) -> TileLayout:
    """The layout of a named sharding: `dim_axes[d]` the mesh axes splitting dimension d.

    Mesh axes of size 1 split nothing and are left out (as jax does); axes named by no
    dimension replicate (the last tile dimension)."""
    pos = {n: i for i, n in enumerate(axis_names)}
    big = [i for i, s in enumerate(axis_sizes) if s > 1]
    used = [pos[a] for axes in dim_axes for a in axes if axis_sizes[pos[a]] > 1]
    unused = [i for i in big if i not in used]
    tile_dims = [math.prod(axis_sizes[pos[a]] for a in axes) for axes in dim_axes]
    replication = math.prod(axis_sizes[i] for i in unused)
    small = [i for i, s in enumerate(axis_sizes) if s == 1]
    grid = np.arange(math.prod(axis_sizes)).reshape(axis_sizes)
    assignment = grid.transpose(used + unused + small).ravel()
    text = None
    if used:
        reshape = [axis_sizes[i] for i in big]
        rank = {i: k for k, i in enumerate(big)}
        dims = tile_dims + ([replication] if unused else [])
        text = iota_text(dims, reshape, [rank[i] for i in used + unused], bool(unused))
    return TileLayout(device_list, tile_dims, replication, assignment, text)
