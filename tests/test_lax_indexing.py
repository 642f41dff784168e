"""gather and the scatter family against jax.lax. Out-of-bounds gathers clamp (jax's
mode='clip'); out-of-bounds scatter windows are dropped (jax's default for lax.scatter)."""

import jax
import numpy as np
from lax_testing import bf16, bool_, case, check, f32, i8, i32, rand, u8

from funcnet import lax

GDN, SDN = jax.lax.GatherDimensionNumbers, jax.lax.ScatterDimensionNumbers

GATHERS = [  # name, operand shape, indices, dimension numbers, slice sizes
    (
        "take rows",
        (5, 3),
        [[1], [7], [-1], [4]],
        GDN(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,)),
        (1, 3),
    ),
    (
        "take columns",
        (3, 5),
        [[0], [4], [2], [2]],
        GDN(offset_dims=(0,), collapsed_slice_dims=(1,), start_index_map=(1,)),
        (3, 1),
    ),
    (
        "points, 2-d batch",
        (4, 5, 6),
        [[[0, 1], [3, 4], [9, -2]], [[1, 1], [2, 0], [3, 3]]],
        GDN(offset_dims=(2,), collapsed_slice_dims=(0, 1), start_index_map=(0, 1)),
        (1, 1, 6),
    ),
    (
        "windows, clamped",
        (6, 7),
        [[0, 0], [5, 6], [2, 3]],
        GDN(offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(0, 1)),
        (2, 3),
    ),
    (
        "permuted start_index_map",
        (6, 7),
        [[6, 0], [1, 5]],
        GDN(offset_dims=(1,), collapsed_slice_dims=(1,), start_index_map=(1, 0)),
        (3, 1),
    ),
    (
        "offset dim in the middle",
        (5, 3),
        [[[0], [1], [2], [3]], [[4], [0], [1], [9]]],
        GDN(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,)),
        (1, 3),
    ),
    (
        "batching dims",
        (2, 5, 3),
        [[[0], [4], [2], [1]], [[3], [3], [0], [8]]],
        GDN(
            offset_dims=(2,),
            collapsed_slice_dims=(1,),
            start_index_map=(1,),
            operand_batching_dims=(0,),
            start_indices_batching_dims=(0,),
        ),
        (1, 1, 3),
    ),
    (
        "batching dims, batch last in indices",
        (3, 4, 2),
        [[[1], [0], [3]], [[2], [3], [0]]],
        GDN(
            offset_dims=(),
            collapsed_slice_dims=(1,),
            start_index_map=(1,),
            operand_batching_dims=(0, 2),
            start_indices_batching_dims=(1, 0),
        ),
        (1, 1, 1),
    ),
    (
        "empty slice",
        (4, 3),
        [[1], [2]],
        GDN(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,)),
        (1, 0),
    ),
]


def _gather(dn, slice_sizes):
    return (
        lambda x, i: lax.gather(x, i, dn, slice_sizes),
        lambda x, i: jax.lax.gather(x, i, dn, slice_sizes, mode="clip"),
    )


def test_gather():
    rng = np.random.default_rng(0)
    cases = []
    for name, shape, idx, dn, sizes in GATHERS:
        cases.append(
            case(name, *_gather(dn, sizes), rand(rng, shape, f32), np.array(idx, np.int32))
        )
    _, shape, idx, dn, sizes = GATHERS[0]
    for dtype in (i32, bool_, bf16):
        cases.append(
            case(
                f"take rows:{dtype}",
                *_gather(dn, sizes),
                rand(rng, shape, dtype),
                np.array(idx, np.int32),
            )
        )
    cases.append(
        case("int8 indices", *_gather(dn, sizes), rand(rng, shape, f32), np.array(idx, i8))
    )
    cases.append(
        case(
            "uint8 indices",
            *_gather(dn, sizes),
            rand(rng, shape, f32),
            np.array([[1], [200], [0]], u8),
        )
    )
    check(cases)


SCATTERS = [  # name, operand shape, indices, updates shape, dimension numbers
    (
        "rows, some out of bounds",
        (5, 3),
        [[1], [7], [-1], [4]],
        (4, 3),
        SDN(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)),
    ),
    (
        "points",
        (4, 5),
        [[0, 1], [3, 4], [2, 2]],
        (3,),
        SDN(
            update_window_dims=(), inserted_window_dims=(0, 1), scatter_dims_to_operand_dims=(0, 1)
        ),
    ),
    (
        "windows, partly out of bounds dropped",
        (6, 7),
        [[0, 0], [5, 6], [2, 3]],
        (3, 2, 3),
        SDN(
            update_window_dims=(1, 2), inserted_window_dims=(), scatter_dims_to_operand_dims=(0, 1)
        ),
    ),
    (
        "columns, window dim first",
        (3, 5),
        [[4], [0]],
        (3, 2),
        SDN(update_window_dims=(0,), inserted_window_dims=(1,), scatter_dims_to_operand_dims=(1,)),
    ),
    (
        "batching dims",
        (2, 5, 3),
        [[[0], [4], [2]], [[3], [1], [9]]],
        (2, 3, 3),
        SDN(
            update_window_dims=(2,),
            inserted_window_dims=(1,),
            scatter_dims_to_operand_dims=(1,),
            operand_batching_dims=(0,),
            scatter_indices_batching_dims=(0,),
        ),
    ),
    (
        "update windows smaller than the operand",
        (5, 4),
        [[1], [4]],
        (2, 2),
        SDN(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)),
    ),
    (
        "2-d scatter batch",
        (6,),
        [[[0], [5]], [[3], [1]]],
        (2, 2),
        SDN(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)),
    ),
]
# Duplicate indices: combined by the op (set keeps one, so it gets unique indices only).
DUPLICATES = (
    "duplicates",
    (5, 3),
    [[1], [3], [1], [1]],
    (4, 3),
    SDN(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)),
)

KINDS = ["scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max"]


def _scatter(kind, dn):
    return (
        lambda x, i, u: getattr(lax, kind)(x, i, u, dn),
        lambda x, i, u: getattr(jax.lax, kind)(x, i, u, dn),
    )


def _scatter_case(kind, spec, dtype, rng):
    name, shape, idx, upd, dn = spec
    return case(
        f"{kind} {name}:{dtype}",
        *_scatter(kind, dn),
        rand(rng, shape, dtype),
        np.array(idx, np.int32),
        rand(rng, upd, dtype),
        tol=(1e-5, 1e-6),
    )


def test_scatter():
    rng = np.random.default_rng(1)
    # Every layout with set and add; the other combiners share their lowering but the
    # combining region, so they run on the first two layouts.
    cases = [_scatter_case(kind, spec, f32, rng) for kind in KINDS[:2] for spec in SCATTERS]
    cases += [_scatter_case(kind, spec, f32, rng) for kind in KINDS[2:] for spec in SCATTERS[:2]]
    cases += [_scatter_case(kind, DUPLICATES, f32, rng) for kind in KINDS[1:]]
    check(cases)


def test_scatter_dtypes():
    rng = np.random.default_rng(2)
    cases = [_scatter_case(kind, SCATTERS[0], i32, rng) for kind in KINDS]
    cases += [
        _scatter_case(kind, SCATTERS[0], bf16, rng) for kind in ("scatter_add", "scatter_max")
    ]
    cases += [
        _scatter_case(kind, SCATTERS[0], bool_, rng)
        for kind in ("scatter", "scatter_max", "scatter_min")
    ]
    cases.append(_scatter_case("scatter_add", DUPLICATES, i32, rng))
    check(cases)
