"""Shardy (the `sdy` MLIR dialect) text for sharding annotations in emitted StableHLO.

funcnet writes shardings in Shardy's form because it is the runtime's default SPMD
partitioner (the older GSPMD `mhlo.sharding` strings are deprecated there):

- a mesh declaration at module level: `sdy.mesh @mesh = <["data"=4, "model"=2]>`, the
  axes in the mesh's order over the program's device list (iota order; `device_ids=`
  only when a mesh orders the program's devices differently);
- a tensor sharding, one `{axes}` per dimension (`{}`: not split, closed):
  `<@mesh, [{"data"}, {}]>`, used by `sdy.sharding_constraint` and
  `sdy.manual_computation`;
- the attribute form on function arguments and results:
  `#sdy.sharding<@mesh, [{"data"}, {}]>`.

A spec entry naming several axes (`P(("data", "model"))`) splits that dimension over
their product, the first axis major: `{"data", "model"}`.
"""

from funcnet.sharding.partition_spec import PartitionSpec


def mesh_decl(mesh, name: str = "mesh", device_ids=None) -> str:
    """The module-level declaration of `mesh` as `@name`.

    Args:
      mesh: a `Mesh` (its `.shape` maps axis names to sizes, in order).
      name: the symbol the shardings refer to.
      device_ids: None for the iota order over the program's device list, else the
        positions in that list of the mesh's devices, in mesh order.

    Returns:
      A line such as `sdy.mesh @mesh = <["data"=4, "model"=2]>`.

    Example:
      >>> from funcnet.sharding import Mesh
      >>> from funcnet.sharding._sdy import mesh_decl
      >>> mesh_decl(Mesh(fn.devices()[:1], ("x",)))
      'sdy.mesh @mesh = <["x"=1]>'
    """
    axes = ", ".join(f'"{axis}"={int(size)}' for axis, size in mesh.shape.items())
    ids = ""
    if device_ids is not None:
        ids = ", device_ids=[" + ", ".join(str(int(i)) for i in device_ids) + "]"
    return f"sdy.mesh @{name} = <[{axes}]{ids}>"


def _dims(spec, ndim: int) -> list[str]:
    spec = spec if isinstance(spec, PartitionSpec) else PartitionSpec(*spec)
    if len(spec) > ndim:
        raise ValueError(
            f"the sharding's spec {spec} has {len(spec)} entries, more than the array's "
            f"{ndim} dimensions"
        )
    return ["{" + ", ".join(f'"{axis}"' for axis in spec.axes_of(d)) + "}" for d in range(ndim)]


def tensor_sharding(spec, ndim: int, mesh_name: str = "mesh") -> str:
    """The `<@mesh, [...]>` form of a spec for an array of rank `ndim` (as
    `sdy.sharding_constraint` and `sdy.manual_computation` take it).

    Args:
      spec: a `PartitionSpec` (or a tuple of its entries).
      ndim: the array's rank; dimensions past the spec's entries are not split.
      mesh_name: the mesh symbol declared by `mesh_decl`.

    Returns:
      The tensor sharding text.

    Raises:
      ValueError: the spec has more entries than the array has dimensions.

    Example:
      >>> from funcnet.sharding import PartitionSpec as P
      >>> from funcnet.sharding._sdy import tensor_sharding
      >>> tensor_sharding(P("data", ("x", "y")), 3)
      '<@mesh, [{"data"}, {"x", "y"}, {}]>'
    """
    return f"<@{mesh_name}, [{', '.join(_dims(spec, ndim))}]>"


def sharding_attr(spec, ndim: int, mesh_name: str = "mesh") -> str:
    """The `#sdy.sharding<...>` attribute of an argument or result.

    Args:
      spec: a `PartitionSpec` (or a tuple of its entries).
      ndim: the array's rank.
      mesh_name: the mesh symbol declared by `mesh_decl`.

    Returns:
      The attribute text, e.g. `#sdy.sharding<@mesh, [{"data"}, {}]>`.

    Raises:
      ValueError: the spec has more entries than the array has dimensions.

    Example:
      >>> from funcnet.sharding import PartitionSpec as P
      >>> from funcnet.sharding._sdy import sharding_attr
      >>> sharding_attr(P(None, "model"), 2)
      '#sdy.sharding<@mesh, [{}, {"model"}]>'
    """
    return "#sdy.sharding" + tensor_sharding(spec, ndim, mesh_name)
