"""StableHLO lowering of the collectives (funcnet.lax.parallel), inside a shard_map.

The shard_map lowering (transforms/shard_map.py) emits `sdy.manual_computation` and sets
`module.manual_mesh` while it lowers the body; a collective over mesh axes becomes the
StableHLO collective between the devices of each group: `all_reduce` (psum, pmax, pmin),
`all_gather`, `reduce_scatter` (psum_scatter), `collective_permute` (ppermute),
`all_to_all`, and `partition_id` arithmetic (axis_index). Replica groups are partition
ids: positions in the program's device list, which is the mesh's devices in order.
"""

import math

import numpy as np

from funcnet.backend.lowering import lowering_rules, tensor_type
from funcnet.core.aval import ShapedArray
from funcnet.lax import parallel as par


def manual_mesh(em, prim):
    mesh = getattr(em.module, "manual_mesh", None)
    if mesh is None:
        raise NotImplementedError(
            f"{prim} over named axes can only be compiled inside fn.shard_map (under "
            "fn.vmap(..., axis_name=) it becomes array operations on the batch)"
        )
    return mesh


def _dense_i64(rows) -> str:
    rows = np.asarray(rows, dtype=np.int64)
    body = "[" + ", ".join("[" + ", ".join(str(int(v)) for v in r) + "]" for r in rows) + "]"
    return f"dense<{body}> : tensor<{rows.shape[0]}x{rows.shape[1]}xi64>"


def _channel(em) -> str:
    em.module.channel_count = getattr(em.module, "channel_count", 0) + 1
    return f"#stablehlo.channel_handle<handle = {em.module.channel_count}, type = 1>"


def _groups(em, prim, axis_name):
    return par.replica_groups(axis_name, dict(manual_mesh(em, prim).shape))


_REDUCERS = {
    par.psum_p: "stablehlo.add",
    par.psum_invariant_p: "stablehlo.add",
    par.pmax_p: "stablehlo.maximum",
    par.pmin_p: "stablehlo.minimum",
}


def _reducer_region(em, dtype, op_name):
    scalar = ShapedArray((), dtype)
    return em.region(
        [scalar, scalar],
        [scalar],
        lambda sub, a, b: [sub.op1(op_name, [a, b], [scalar] * 2, scalar)],
    )


def _all_reduce(prim):
    def rule(em, x, *, axis_name):
        (aval,) = em.in_avals
        attrs = {
            "channel_handle": _channel(em),
            "replica_groups": _dense_i64(_groups(em, prim, axis_name)),
            "use_global_device_ids": "unit",
        }
        region = _reducer_region(em, aval.dtype, _REDUCERS[prim])
        return em.op(
            "stablehlo.all_reduce", [x], [tensor_type(aval)], [tensor_type(aval)], attrs, [region]
        )

    return rule


for _p in _REDUCERS:
    lowering_rules.register(_p)(_all_reduce(_p))

# pvary only changes what shard_map knows about a value: the identity on devices.
lowering_rules.register(par.pvary_p)(lambda em, x, *, axis_name: [x])


@lowering_rules.register(par.all_gather_p)
def _all_gather(em, x, *, axis_name, all_gather_dimension, axis_size):
    (aval,), (out,) = em.in_avals, em.out_avals
    attrs = {
        "all_gather_dim": f"{all_gather_dimension} : i64",
        "channel_handle": _channel(em),
        "replica_groups": _dense_i64(_groups(em, "all_gather", axis_name)),
        "use_global_device_ids": "unit",
    }
    return em.op("stablehlo.all_gather", [x], [tensor_type(aval)], [tensor_type(out)], attrs)


@lowering_rules.register(par.reduce_scatter_p)
def _reduce_scatter(em, x, *, axis_name, scatter_dimension, axis_size):
    (aval,), (out,) = em.in_avals, em.out_avals
    attrs = {
        "channel_handle": _channel(em),
        "replica_groups": _dense_i64(_groups(em, "psum_scatter", axis_name)),
        "scatter_dimension": f"{scatter_dimension} : i64",
        "use_global_device_ids": "unit",
    }
    region = _reducer_region(em, aval.dtype, "stablehlo.add")
    return em.op(
        "stablehlo.reduce_scatter", [x], [tensor_type(aval)], [tensor_type(out)], attrs, [region]
    )


@lowering_rules.register(par.ppermute_p)
def _ppermute(em, x, *, axis_name, perm):
    (aval,) = em.in_avals
    pairs = [(g[s], g[d]) for g in _groups(em, "ppermute", axis_name) for s, d in perm]
    attrs = {
        "channel_handle": _channel(em),
        "source_target_pairs": _dense_i64(pairs if pairs else np.zeros((0, 2))),
    }
    return em.op(
        "stablehlo.collective_permute", [x], [tensor_type(aval)], [tensor_type(aval)], attrs
    )


@lowering_rules.register(par.all_to_all_p)
def _all_to_all(em, x, *, axis_name, split_axis, concat_axis, axis_size):
    (aval,), (out,) = em.in_avals, em.out_avals
    attrs = {
        "channel_handle": _channel(em),
        "concat_dimension": f"{concat_axis} : i64",
        "replica_groups": _dense_i64(_groups(em, "all_to_all", axis_name)),
        "split_count": f"{axis_size} : i64",
        "split_dimension": f"{split_axis} : i64",
    }
    return em.op("stablehlo.all_to_all", [x], [tensor_type(aval)], [tensor_type(out)], attrs)


@lowering_rules.register(par.axis_index_p)
def _axis_index(em, *, axis_name):
    shape = dict(manual_mesh(em, "axis_index").shape)
    names = list(shape)
    u32 = ShapedArray((), np.dtype(np.uint32))
    pid = em.op("stablehlo.partition_id", [], [], [tensor_type(u32)])[0]
    index = None
    for name in axis_name:
        # the position along `name`: (pid / product of later mesh axes) % size
        stride = math.prod(shape[n] for n in names[names.index(name) + 1 :])
        q = em.op1("stablehlo.divide", [pid, em.constant(stride, u32)], [u32, u32], u32)
        i = em.op1("stablehlo.remainder", [q, em.constant(shape[name], u32)], [u32, u32], u32)
        if index is None:
            index = i
        else:
            scaled = em.op1(
                "stablehlo.multiply", [index, em.constant(shape[name], u32)], [u32] * 2, u32
            )
            index = em.op1("stablehlo.add", [scaled, i], [u32, u32], u32)
    i32 = ShapedArray((), np.dtype(np.int32))
    return [em.op1("stablehlo.convert", [index], [u32], i32)]
