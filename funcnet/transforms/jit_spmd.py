"""jit's partitioned (SPMD) programs: where each argument goes (in_shardings, or the
argument's own sharding), the compiled program over a device list (`SpmdRun`) and its
fast call (`SpmdFast`), and the checks of the sharding options against the arguments.

A call whose arguments are single-device arrays and that names no sharding stays on
jit.py's one-device path; the helpers here run only once a sharding is involved.
"""

import numpy as np

from funcnet import tree
from funcnet.backend import sharded
from funcnet.core.array import ShapeDtypeStruct, ShardedArray, wrap_sharded
from funcnet.core.jaxpr import ClosedJaxpr
from funcnet.lax.sharding import broadcast_prefix, check_sharding, is_sharding_leaf
from funcnet.lax.sharding import sharding_constraint_p as _wsc_p
from funcnet.runtime import spmd
from funcnet.sharding.named import sharding_for_layout


def array_sharding(x):
    """The sharding of a multi-device Array (what jax calls a committed sharded array),
    else None: single-device arrays, NumPy values and scalars are placed where the
    compiled program wants them (jax's uncommitted arguments)."""
    if type(x) is ShardedArray:
        return x._sharding
    if type(x) is ShapeDtypeStruct and hasattr(x.sharding, "_layout"):  # jit(f).lower
        return x.sharding if x.sharding.num_devices > 1 else None
    return None


def check_devices(items, name="jit"):
    """items: (path, where the sharding came from, sharding); all must use one ordered
    device list (one program runs on one device list)."""
    items = [it for it in items if it[2] is not None]
    if not items:
        return
    first = items[0][2]._device_list
    if all(it[2]._device_list == first for it in items):
        return
    lines = "".join(
        f"\n  {path} ({where}): devices {[d.id for d in s._device_list]}"
        for path, where, s in items
    )
    raise ValueError(
        f"{name}: the shardings of one call must use the same devices in the same order "
        f"(a program runs on one device list), got:{lines}\nPut the arguments on one mesh "
        "with fn.device_put(x, NamedSharding(mesh, spec)) or give in_shardings on it."
    )


def put_on(x, sharding):
    """A runtime buffer of `x` laid out by `sharding` (moving data when needed)."""
    if type(x) is ShardedArray and x._sharding.is_equivalent_to(sharding, x.ndim):
        x._check_alive()
        return x._sbuf
    return sharded.put(x, sharding)._sbuf


class SpmdRun:
    """A program partitioned over a device list: its executable, the compiled layouts of
    its inputs (as shardings, to place arguments) and outputs (as shardings, reported on
    the results), and its constants placed once."""

    __slots__ = (
        "const_bufs",
        "devices",
        "exe",
        "in_shardings",
        "out_avals",
        "out_shardings",
        "text",
    )

    def __init__(self, lowered, closed: ClosedJaxpr, candidates=()):
        self.text = lowered.text
        self.devices = lowered.devices
        self.out_avals = tuple(closed.out_avals)
        in_avals = [v.aval for v in closed.jaxpr.constvars] + [v.aval for v in closed.jaxpr.invars]
        self.exe = spmd.SpmdExecutable(lowered.text, self.devices, self.out_avals, in_avals)
        meshes = lowered.meshes
        candidates = tuple(s for s in candidates if s is not None)
        self.in_shardings = [
            sharding_for_layout(layout, meshes, candidates) for layout in self.exe.input_layouts()
        ]
        self.out_shardings = [
            sharding_for_layout(layout, meshes, candidates) for layout in self.exe.output_layouts()
        ]
        n = len(closed.jaxpr.constvars)
        self.const_bufs = [put_on(c, s) for c, s in zip(closed.consts, self.in_shardings[:n])]

    def run(self, args) -> list:
        n = len(self.const_bufs)
        bufs = self.const_bufs + [put_on(x, s) for x, s in zip(args, self.in_shardings[n:])]
        outs = self.exe.execute(bufs)
        return [wrap_sharded(b, a, s) for b, a, s in zip(outs, self.out_avals, self.out_shardings)]

    def hlo_text(self) -> str:
        return self.exe.hlo_text()

    def memory_stats(self):
        return self.exe.memory_stats()

    def cost_analysis(self):
        return self.exe.cost_analysis()


SPMD = object()  # tags the fast-path keys of partitioned programs


class SpmdFast:
    """A partitioned program's fast call: the arguments' buffers as they are, the
    results wrapped with the compiled layouts' shardings."""

    __slots__ = ("out_tree", "program", "run")

    def __init__(self, run, out_tree, program):
        self.run, self.out_tree, self.program = run, out_tree, program

    def call(self, leaves):
        self.program.used = True
        run = self.run
        for x in leaves:  # before executing: the runtime may crash on a deleted buffer
            if x._sbuf.is_deleted():
                x._check_alive()  # a clear error for a donated/deleted argument
        outs = run.exe.execute(run.const_bufs + [x._sbuf for x in leaves])
        arrays = [wrap_sharded(b, a, s) for b, a, s in zip(outs, run.out_avals, run.out_shardings)]
        return self.out_tree.unflatten(arrays)


def sharding_tree_key(shardings, what):
    """A hashable key of a sharding option (a pytree of shardings/None), checking that
    its leaves are NamedShardings or None."""
    if shardings is None:
        return None
    leaves, treedef = tree.tree_flatten(shardings, is_leaf=is_sharding_leaf)
    for s in leaves:
        if s is not None:
            check_sharding(s, None, f"jit: {what}")
    return treedef, tuple(leaves)


def flat_shardings(shardings):
    return [s for s in tree.tree_leaves(shardings, is_leaf=is_sharding_leaf) if s is not None]


def constrain(values, shardings):
    """`values` with a with_shardingconstraint per given sharding (a staged jit keeps
    its in/out shardings as constraints inside the enclosing program)."""
    if shardings is None:
        return list(values)
    return [v if s is None else _wsc_p.bind(v, sharding=s) for v, s in zip(values, shardings)]


# --- the sharding options against the arguments -------------------------------------


def in_specs(in_shardings, in_tree, avals, name, paths_of):
    """One NamedSharding or None per flat argument, from in_shardings (a prefix of the
    dynamic positional arguments; keyword arguments are unspecified), checked against
    the arguments' shapes; None without in_shardings.

    Args:
      in_shardings: jit's option (a pytree prefix of the positional arguments) or None.
      in_tree: the tree of `(dyn_args, dyn_kwargs)`.
      avals: the flat arguments' avals.
      name: the jitted function's name, for messages.
      paths_of: `(dyn_args, dyn_kwargs) -> readable names of the flat leaves`.

    Returns:
      A list with one entry per flat argument, or None.
    """
    if in_shardings is None:
        return None
    dyn_args, dyn_kwargs = tree.tree_unflatten(in_tree, list(range(len(avals))))
    try:
        specs = broadcast_prefix(in_shardings, dyn_args, "in_shardings", "args")
    except ValueError as e:
        raise ValueError(f"jit({name}): {e}") from None
    specs += [None] * (len(avals) - len(specs))
    paths = None
    for i, (s, aval) in enumerate(zip(specs, avals)):
        if s is not None:
            paths = paths or paths_of((dyn_args, dyn_kwargs))
            try:
                check_sharding(s, aval.shape, f"jit({name}): in_shardings for {paths[i]}")
            except ValueError as e:  # as jax's jit, which refuses these too
                raise ValueError(f"{e} (jax's jit refuses such in_shardings too)") from None
    return specs


def out_specs(out_shardings, out_tree, out_vals, name):
    """One NamedSharding or None per flat output, from out_shardings; None without.

    Args:
      out_shardings: jit's option or None.
      out_tree: the outputs' tree.
      out_vals: the flat outputs (or their avals).
      name: the jitted function's name, for messages.

    Returns:
      A list with one entry per flat output, or None.
    """
    if out_shardings is None:
        return None
    full = tree.tree_unflatten(out_tree, list(range(out_tree.num_leaves)))
    try:
        specs = broadcast_prefix(out_shardings, full, "out_shardings", "output")
    except ValueError as e:
        raise ValueError(f"jit({name}): {e}") from None
    paths = tree.leaf_paths(full)
    for s, v, path in zip(specs, out_vals, paths):
        if s is not None:
            shape = v.shape if hasattr(v, "shape") else np.shape(v)
            check_sharding(s, shape, f"jit({name}): out_shardings for output{path}")
    return specs


def placement(given, out_shardings, leaves, in_tree, avals, name, paths_of):
    """Per flat argument: its sharding (from in_shardings, else the argument's own if it
    is sharded over several devices), or None (placed where the program wants it).

    Args:
      given: `in_specs`'s result.
      out_shardings: jit's option or None.
      leaves: the flat arguments.
      in_tree: their tree.
      avals: their avals.
      name: the jitted function's name, for messages.
      paths_of: as for `in_specs`.

    Returns:
      A tuple, or None when no argument has a sharding and out_shardings is not given
      (the single-device path).

    Raises:
      ValueError: a sharded argument whose sharding differs from in_shardings, or
        shardings on different device lists.
    """
    if given is None and out_shardings is None:
        have = [array_sharding(x) for x in leaves]
        if not any(have):
            return None
    else:
        have = [array_sharding(x) for x in leaves]
    given = given or [None] * len(leaves)
    out, items, paths = [], [], None
    for i, (want, got) in enumerate(zip(given, have)):
        if want is not None or got is not None:
            paths = paths or paths_of(tree.tree_unflatten(in_tree, leaves))
        if (
            want is not None
            and got is not None
            and not got.is_equivalent_to(want, len(avals[i].shape))
        ):
            raise ValueError(
                f"jit({name}): the sharding of argument {paths[i]} does not "
                f"match in_shardings (as jax, funcnet does not silently move a sharded "
                f"argument): in_shardings has {want}, the argument has {got}; "
                "fn.device_put it first"
            )
        s = want if want is not None else got
        out.append(s)
        if s is not None:
            items.append((paths[i], "in_shardings" if want is not None else "its sharding", s))
    if out_shardings is not None:
        items += [("output", "out_shardings", s) for s in flat_shardings(out_shardings)]
    check_devices(items, f"jit({name})")
    if not any(s is not None for s in out) and not flat_shardings(out_shardings):
        return None
    return tuple(out)
