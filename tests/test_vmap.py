"""vmap: every primitive batched against a Python loop over examples and against
jax.vmap of the same jax.lax op; nesting, jit composition, jaxpr shape, errors.

Each case is one primitive (or a small family) with makers of per-example
arguments and several in_axes. The batched result must equal the stack of the
per-example results (funcnet itself, run example by example) and jax.vmap.
"""

import sys
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.core.trace import Primitive
from funcnet.transforms.batching import batch_rules
from funcnet.transforms.jit import jit_p

B = 3  # examples per batch
_rng = np.random.default_rng(0)


# --- argument makers (one example each) ---------------------------------------------

def f32(*shape, lo=-2.0, hi=2.0):
    return lambda r: r.uniform(lo, hi, shape).astype(np.float32)


def i32(*shape, lo=-5, hi=6):
    return lambda r: r.integers(lo, hi, shape).astype(np.int32)


def boolean(*shape):
    return lambda r: r.random(shape) < 0.5


def perm_rows(n, k, *rest):
    """k distinct row indices into an axis of size n, shaped (k, 1)."""
    return lambda r: r.choice(n, k, replace=False).astype(np.int32).reshape(k, 1)


class Case(NamedTuple):
    name: str
    prims: tuple
    f: Callable          # funcnet function of per-example arrays
    ref: Callable        # jax function of the same
    makers: tuple
    axes: tuple          # in_axes configurations
    tol: float = 1e-5


def batch_args(makers, in_axes, r):
    """Batched arguments for `in_axes`, and the per-example arguments for the loop."""
    batched, examples = [], []
    for mk, ax in zip(makers, in_axes):
        if ax is None:
            a = mk(r)
            batched.append(a)
            examples.append([a] * B)
        else:
            ex = [mk(r) for _ in range(B)]
            batched.append(np.stack(ex, axis=ax))
            examples.append(ex)
    return batched, [list(e) for e in zip(*examples)]


def loop(f, examples, out_axes=0):
    outs = [f(*ex) for ex in examples]
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs], out_axes),
                                  *outs)


def assert_close(got, want, tol, what):
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    assert g_tree == w_tree, f"{what}: output structure {g_tree} != {w_tree}"
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        if w.dtype == bool or np.issubdtype(w.dtype, np.integer):
            np.testing.assert_array_equal(g, w, err_msg=what)
        else:
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=what)


def check(case: Case, in_axes, use_jit=True, out_axes=0):
    args, examples = batch_args(case.makers, in_axes, np.random.default_rng(hash(case.name) % 997))
    vf = fn.vmap(case.f, in_axes=in_axes, out_axes=out_axes)
    got = (fn.jit(vf) if use_jit else vf)(*args)
    assert_close(got, loop(case.f, examples, out_axes), case.tol, f"{case.name} vs loop")
    want = jax.jit(jax.vmap(case.ref, in_axes=in_axes, out_axes=out_axes))(*args)
    assert_close(got, want, case.tol, f"{case.name} vs jax.vmap")


# --- the cases ---------------------------------------------------------------------------

ew = lax.elementwise
red = lax.reductions
st = lax.structural
lin = lax.linalg
ix = lax.indexing
G = lax.GatherDimensionNumbers
S = lax.ScatterDimensionNumbers
jG = jax.lax.GatherDimensionNumbers
jS = jax.lax.ScatterDimensionNumbers

_UNARY_DOMAIN = {
    "log": f32(2, 3, lo=0.1), "sqrt": f32(2, 3, lo=0.1), "rsqrt": f32(2, 3, lo=0.1),
    "lgamma": f32(2, 3, lo=0.1), "digamma": f32(2, 3, lo=0.1), "log1p": f32(2, 3, lo=-0.5),
    "asin": f32(2, 3, lo=-0.9, hi=0.9), "acos": f32(2, 3, lo=-0.9, hi=0.9),
    "atanh": f32(2, 3, lo=-0.9, hi=0.9), "erf_inv": f32(2, 3, lo=-0.9, hi=0.9),
    "acosh": f32(2, 3, lo=1.1, hi=3.0), "not": i32(2, 3), "neg": i32(2, 3),
    "abs": i32(2, 3), "tan": f32(2, 3, lo=-1.0, hi=1.0),
}
_JAX_NAME = {"not": "bitwise_not", "and": "bitwise_and", "or": "bitwise_or",
             "xor": "bitwise_xor"}


def _jax_op(name):
    if name == "copy":
        return lambda *a: a[0]
    return getattr(jax.lax, _JAX_NAME.get(name, name))


def _fn_op(prim):
    return lambda *a: prim.bind(*a)


CASES = []
for p in ew.UNARY:
    CASES.append(Case(p.name, (p,), _fn_op(p), _jax_op(p.name),
                      (_UNARY_DOMAIN.get(p.name, f32(2, 3)),), ((1,), (-1,)), 2e-5))

_BINARY_ARGS = {
    "div": (f32(2, 3), f32(2, 3, lo=0.5)), "rem": (f32(2, 3), f32(2, 3, lo=0.5)),
    "pow": (f32(2, 3, lo=0.1), f32(2, 3)),
    "and": (i32(2, 3), i32(2, 3)), "or": (boolean(2, 3), boolean(2, 3)),
    "xor": (i32(2, 3), i32(2, 3)),
    "shift_left": (i32(2, 3), i32(2, 3, lo=0, hi=31)),
    "shift_right_arithmetic": (i32(2, 3), i32(2, 3, lo=0, hi=31)),
    "shift_right_logical": (i32(2, 3), i32(2, 3, lo=0, hi=31)),
    "eq": (i32(2, 3, lo=0, hi=3), i32(2, 3, lo=0, hi=3)),
    "ne": (i32(2, 3, lo=0, hi=3), i32(2, 3, lo=0, hi=3)),
}
for p in ew.BINARY:
    CASES.append(Case(p.name, (p,), _fn_op(p), _jax_op(p.name),
                      _BINARY_ARGS.get(p.name, (f32(2, 3), f32(2, 3))),
                      ((0, 0), (1, None), (None, -1), (-1, 1)), 2e-5))

CASES += [
    Case("integer_pow", (ew.integer_pow_p,), lambda x: lax.integer_pow(x, 3),
         lambda x: jax.lax.integer_pow(x, 3), (f32(2, 3),), ((0,), (2,))),
    Case("round", (ew.round_p,), lambda x: lax.round(x, 1), lambda x: jax.lax.round(x, 1),
         (f32(2, 3, lo=-5, hi=5),), ((1,),)),
    Case("convert_f32_i32", (ew.convert_element_type_p,),
         lambda x: lax.convert_element_type(x, np.int32),
         lambda x: jax.lax.convert_element_type(x, np.int32), (f32(2, 3, lo=-9, hi=9),),
         ((1,),)),
    Case("convert_i32_bool", (ew.convert_element_type_p,),
         lambda x: lax.convert_element_type(x, np.bool_),
         lambda x: jax.lax.convert_element_type(x, np.bool_), (i32(4, lo=-1, hi=2),), ((0,),)),
    Case("select_n_bool", (ew.select_n_p,), lambda c, a, b: lax.select_n(c, a, b),
         jax.lax.select_n, (boolean(2, 3), f32(2, 3), f32(2, 3)),
         ((0, 0, 0), (1, None, None), (None, -1, 0), (0, None, 1))),
    Case("select_n_int", (ew.select_n_p,), lambda c, a, b, d: lax.select_n(c, a, b, d),
         jax.lax.select_n, (i32(4, lo=0, hi=3), f32(4), f32(4), f32(4)),
         ((0, None, 0, None), (None, 0, 0, 0))),
    Case("select_n_scalar_pred", (ew.select_n_p,), lambda c, a, b: lax.select_n(c, a, b),
         jax.lax.select_n, (boolean(), f32(2, 3), f32(2, 3)),
         ((0, None, None), (0, 1, None), (None, 0, -1))),
    Case("clamp_scalar_bounds", (ew.clamp_p,), lax.clamp, jax.lax.clamp,
         (f32(lo=-1, hi=0), f32(2, 3), f32(lo=0, hi=1)),
         ((None, 1, None), (0, None, None), (0, -1, 0))),
    Case("clamp_full_bounds", (ew.clamp_p,), lax.clamp, jax.lax.clamp,
         (f32(4, lo=-1, hi=0), f32(4), f32(4, lo=0, hi=1)), ((0, None, 1), (None, 0, None))),
    # --- data movement
    Case("broadcast_in_dim", (st.broadcast_in_dim_p,),
         lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (0, 2)),
         lambda x: jax.lax.broadcast_in_dim(x, (2, 3, 4), (0, 2)), (f32(2, 1),),
         ((0,), (1,), (2,))),
    Case("reshape", (st.reshape_p,), lambda x: lax.reshape(x, (3, 4)),
         lambda x: jax.lax.reshape(x, (3, 4)), (f32(2, 6),), ((0,), (1,), (2,))),
    Case("reshape_unit_dims", (st.reshape_p,), lambda x: lax.reshape(x, (2, 1, 3)),
         lambda x: jax.lax.reshape(x, (2, 1, 3)), (f32(2, 3),), ((1,), (2,))),
    Case("transpose", (st.transpose_p,), lambda x: lax.transpose(x, (2, 0, 1)),
         lambda x: jax.lax.transpose(x, (2, 0, 1)), (f32(2, 3, 4),), ((0,), (2,), (3,))),
    Case("squeeze", (st.squeeze_p,), lambda x: lax.squeeze(x, (1,)),
         lambda x: jax.lax.squeeze(x, (1,)), (f32(2, 1, 3),), ((0,), (1,), (2,), (3,))),
    Case("rev", (st.rev_p,), lambda x: lax.rev(x, (0, 2)), lambda x: jax.lax.rev(x, (0, 2)),
         (f32(2, 3, 4),), ((0,), (2,))),
    Case("slice", (st.slice_p,), lambda x: lax.slice(x, (1, 0), (4, 6), (2, 3)),
         lambda x: jax.lax.slice(x, (1, 0), (4, 6), (2, 3)), (f32(5, 6),), ((0,), (1,), (2,))),
    Case("concatenate", (st.concatenate_p,), lambda a, b, c: lax.concatenate([a, b, c], 1),
         lambda a, b, c: jax.lax.concatenate([a, b, c], 1), (f32(2, 3), f32(2, 1), f32(2, 2)),
         ((0, 0, 0), (1, None, 0), (None, 2, None))),
    Case("pad", (st.pad_p,), lambda x, v: lax.pad(x, v, ((1, 2, 0), (-1, 1, 1))),
         lambda x, v: jax.lax.pad(x, v, ((1, 2, 0), (-1, 1, 1))), (f32(3, 4), f32()),
         ((0, None), (1, 0), (None, 0))),
    Case("iota", (st.iota_p,), lambda x: x + lax.broadcasted_iota(np.float32, (2, 3), 1),
         lambda x: x + jax.lax.broadcasted_iota(np.float32, (2, 3), 1), (f32(2, 3),), ((1,),)),
    Case("dynamic_slice", (st.dynamic_slice_p, ix.gather_p),
         lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)),
         lambda x, i, j: jax.lax.dynamic_slice(x, (i, j), (2, 3)),
         (f32(5, 4), i32(lo=0, hi=6), i32(lo=0, hi=4)),
         ((0, None, None), (2, None, None), (None, 0, 0), (1, 0, None), (0, None, 0))),
    Case("dynamic_update_slice", (st.dynamic_update_slice_p, ix.scatter_p),
         lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)),
         lambda x, u, i, j: jax.lax.dynamic_update_slice(x, u, (i, j)),
         (f32(5, 4), f32(2, 3), i32(lo=0, hi=6), i32(lo=0, hi=4)),
         ((0, None, None, None), (None, 1, None, None), (2, 0, None, None), (None, None, 0, 0),
          (1, None, 0, None), (0, 2, 0, 0))),
    # --- reductions and friends
    Case("reduce_sum_two_axes", (red.reduce_sum_p,), lambda x: lax.reduce_sum(x, (0, 2)),
         lambda x: jax.lax.reduce_sum(x, (0, 2)), (f32(2, 3, 4),), ((0,), (1,), (3,))),
    Case("reduce_max", (red.reduce_max_p,), lambda x: lax.reduce_max(x, (1,)),
         lambda x: jax.lax.reduce_max(x, (1,)), (f32(2, 3),), ((0,), (2,))),
    Case("reduce_min", (red.reduce_min_p,), lambda x: lax.reduce_min(x, (0,)),
         lambda x: jax.lax.reduce_min(x, (0,)), (f32(2, 3),), ((1,),)),
    Case("reduce_prod", (red.reduce_prod_p,), lambda x: lax.reduce_prod(x, (1,)),
         lambda x: jax.lax.reduce_prod(x, (1,)), (f32(2, 3),), ((1,),)),
    Case("reduce_and", (red.reduce_and_p,), lambda x: lax.reduce_and(x, (1,)),
         lambda x: jax.lax.reduce_and(x, (1,)), (boolean(2, 3),), ((0,), (2,))),
    Case("reduce_or", (red.reduce_or_p,), lambda x: lax.reduce_or(x, (0,)),
         lambda x: jax.lax.reduce_or(x, (0,)), (boolean(2, 3),), ((1,),)),
    Case("argmax", (red.argmax_p,), lambda x: lax.argmax(x, 1),
         lambda x: jax.lax.argmax(x, 1, np.int32), (f32(2, 4),), ((0,), (1,), (2,))),
    Case("argmin", (red.argmin_p,), lambda x: lax.argmin(x, 0),
         lambda x: jax.lax.argmin(x, 0, np.int32), (f32(4, 2),), ((0,), (2,))),
    Case("cumsum", (red.cumsum_p,), lambda x: lax.cumsum(x, 1),
         lambda x: jax.lax.cumsum(x, 1), (f32(2, 4),), ((0,), (1,), (2,))),
    Case("cumprod_reverse", (red.cumprod_p,), lambda x: lax.cumprod(x, 0, reverse=True),
         lambda x: jax.lax.cumprod(x, 0, reverse=True), (f32(4, 2),), ((0,), (2,))),
    Case("cummax", (red.cummax_p,), lambda x: lax.cummax(x, 0),
         lambda x: jax.lax.cummax(x, 0), (f32(5),), ((0,), (1,))),
    Case("cummin_reverse", (red.cummin_p,), lambda x: lax.cummin(x, 1, reverse=True),
         lambda x: jax.lax.cummin(x, 1, reverse=True), (f32(2, 4),), ((1,),)),
    Case("reduce_window_sum", (red.reduce_window_sum_p,),
         lambda x: lax.reduce_window(x, 0.0, "add", (2, 2), (2, 1), ((0, 1), (1, 0))),
         lambda x: jax.lax.reduce_window(x, 0.0, jax.lax.add, (2, 2), (2, 1), ((0, 1), (1, 0))),
         (f32(5, 4),), ((0,), (1,), (2,))),
    Case("reduce_window_max", (red.reduce_window_max_p,),
         lambda x: lax.reduce_window(x, -np.inf, "max", (1, 2, 2), (1, 2, 2), "VALID"),
         lambda x: jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 2, 2), (1, 2, 2),
                                         "VALID"),
         (f32(2, 4, 4),), ((0,), (3,))),
    Case("reduce_window_min_dilated", (red.reduce_window_min_p,),
         lambda x: lax.reduce_window(x, np.inf, "min", (2,), (1,), ((1, 1),), (2,), (2,)),
         lambda x: jax.lax.reduce_window(x, np.inf, jax.lax.min, (2,), (1,), ((1, 1),),
                                         (2,), (2,)),
         (f32(5),), ((0,), (1,))),
    Case("sort", (red.sort_p,), lambda x: lax.sort(x, 1),
         lambda x: jax.lax.sort(x, dimension=1), (f32(2, 5),), ((0,), (1,), (2,))),
    Case("sort_two_operands", (red.sort_p,), lambda k, v: lax.sort((k, v), 0, num_keys=1),
         lambda k, v: jax.lax.sort((k, v), dimension=0, num_keys=1), (f32(5), i32(5)),
         ((0, 0), (None, 1), (1, None))),
    # --- contractions
    Case("dot_general_matmul", (lin.dot_general_p,),
         lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
         lambda a, b: jax.lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
         (f32(3, 4), f32(4, 2)), ((0, 0), (1, None), (None, -1), (-1, 1), (2, None), (None, 0)),
         1e-4),
    Case("dot_general_batch_dims", (lin.dot_general_p,),
         lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
         lambda a, b: jax.lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
         (f32(2, 3, 4), f32(2, 4, 5)), ((0, 0), (1, None), (None, 2), (3, 1)), 1e-4),
    Case("dot_general_vectors", (lin.dot_general_p,),
         lambda a, b: lax.dot_general(a, b, (((0,), (0,)), ((), ()))),
         lambda a, b: jax.lax.dot_general(a, b, (((0,), (0,)), ((), ()))),
         (f32(4), f32(4)), ((0, 0), (1, None), (None, 0)), 1e-4),
    Case("dot_general_int_pet", (lin.dot_general_p,),
         lambda a, b: lax.dot_general(a, b, (((0,), (1,)), ((), ())),
                                      preferred_element_type=np.float32),
         lambda a, b: jax.lax.dot_general(a, b, (((0,), (1,)), ((), ())),
                                          preferred_element_type=np.float32),
         (i32(3, 2), i32(4, 3)), ((0, 1), (None, 2))),
    Case("conv_nchw", (lin.conv_general_dilated_p,),
         lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME"),
         lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME"),
         (f32(2, 3, 6, 6), f32(4, 3, 3, 3)), ((0, None), (None, 0), (0, 0), (2, 4)), 1e-4),
    Case("conv_feature_groups", (lin.conv_general_dilated_p,),
         lambda x, k: lax.conv_general_dilated(x, k, (2, 1), ((1, 0), (0, 1)),
                                               feature_group_count=2),
         lambda x, k: jax.lax.conv_general_dilated(x, k, (2, 1), ((1, 0), (0, 1)),
                                                   feature_group_count=2),
         (f32(2, 4, 5, 5), f32(6, 2, 3, 2)), ((0, None), (None, 0), (0, 0), (1, 3)), 1e-4),
    Case("conv_batch_groups", (lin.conv_general_dilated_p,),
         lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "VALID", batch_group_count=2),
         lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", batch_group_count=2),
         (f32(4, 3, 5, 5), f32(4, 3, 3, 3)), ((0, None), (None, 0), (0, 0), (2, 1)), 1e-4),
    Case("conv_nhwc_dilated", (lin.conv_general_dilated_p,),
         lambda x, k: lax.conv_general_dilated(x, k, (2, 2), "SAME", rhs_dilation=(2, 1),
                                               dimension_numbers=("NHWC", "HWIO", "NHWC")),
         lambda x, k: jax.lax.conv_general_dilated(x, k, (2, 2), "SAME", rhs_dilation=(2, 1),
                                                   dimension_numbers=("NHWC", "HWIO", "NHWC")),
         (f32(2, 7, 6, 3), f32(3, 2, 3, 4)), ((0, None), (None, -1), (-1, 0)), 1e-4),
    Case("conv_1d_lhs_dilation", (lin.conv_general_dilated_p,),
         lambda x, k: lax.conv_general_dilated(x, k, (1,), ((2, 1),), lhs_dilation=(2,)),
         lambda x, k: jax.lax.conv_general_dilated(x, k, (1,), ((2, 1),), lhs_dilation=(2,)),
         (f32(2, 3, 5), f32(2, 3, 3)), ((0, 0), (1, None), (None, 2)), 1e-4),
    # --- gather / scatter
    Case("gather_rows", (ix.gather_p,),
         lambda x, i: lax.gather(x, i, G((1,), (0,), (0,)), (1, 4)),
         lambda x, i: jax.lax.gather(x, i, jG((1,), (0,), (0,)), (1, 4), mode="clip"),
         (f32(5, 4), perm_rows(5, 2)), ((0, None), (None, 0), (0, 0), (2, 1), (1, 2))),
    Case("gather_window_with_batching_dims", (ix.gather_p,),
         lambda x, i: lax.gather(x, i, G((2,), (1,), (1,), (0,), (0,)), (1, 1, 2)),
         lambda x, i: jax.lax.gather(x, i, jG((2,), (1,), (1,), (0,), (0,)), (1, 1, 2),
                                     mode="clip"),
         (f32(2, 5, 3), i32(2, 4, 1, lo=0, hi=5)), ((0, None), (None, 1), (3, 0))),
] + [
    Case(p.name, (p,),
         (lambda p: lambda x, i, u: p.bind(x, i, u, dimension_numbers=S((1,), (0,), (0,)),
                                           indices_are_sorted=False, unique_indices=False))(p),
         (lambda name: lambda x, i, u: getattr(jax.lax, name)(x, i, u, jS((1,), (0,), (0,)),
                                                              mode="drop"))(p.name),
         (f32(5, 3), perm_rows(5, 2), f32(2, 3)),
         ((0, None, None), (None, 0, None), (None, None, 0), (1, 0, 2), (None, 1, 0)))
    for p in ix.SCATTERS
] + [
    Case("scatter_add_with_batching_dims", (ix.scatter_add_p,),
         lambda x, i, u: lax.scatter_add(x, i, u, S((2,), (1,), (1,), (0,), (0,))),
         lambda x, i, u: jax.lax.scatter_add(x, i, u, jS((2,), (1,), (1,), (0,), (0,)),
                                             mode="drop"),
         (f32(2, 5, 3), i32(2, 4, 1, lo=0, hi=5), f32(2, 4, 3)),
         ((0, None, None), (None, 0, 1), (1, 3, None))),
]


def _case_params():
    for case in CASES:
        for k, axes in enumerate(case.axes):
            yield pytest.param(case, axes, k == 0, id=f"{case.name}-{axes}")


@pytest.mark.parametrize("case,in_axes,eager", list(_case_params()))
def test_primitive_batching(case, in_axes, eager):
    """The first in_axes of each case runs eagerly (op by op), the others under jit."""
    check(case, in_axes, use_jit=not eager)


def _all_primitives():
    found = {jit_p}
    for mod in (lax.elementwise, lax.structural, lax.reductions, lax.linalg, lax.indexing):
        found.update(v for v in vars(mod).values() if isinstance(v, Primitive))
    return found


def test_every_primitive_has_a_batching_rule():
    missing = sorted(p.name for p in _all_primitives() if p not in batch_rules)
    assert not missing, f"primitives without a batching rule: {missing}"


def test_every_loaded_funcnet_primitive_has_a_batching_rule():
    """Primitives defined anywhere in funcnet (autodiff's custom rules included)."""
    found = set()
    for name, mod in list(sys.modules.items()):
        if name.startswith("funcnet") and mod is not None:
            found.update(v for v in vars(mod).values() if isinstance(v, Primitive))
    missing = sorted(p.name for p in found if p not in batch_rules)
    assert not missing, f"primitives without a batching rule: {missing}"


def test_every_primitive_is_tested_here():
    tested = {p for c in CASES for p in c.prims} | {jit_p}
    untested = sorted(p.name for p in _all_primitives() - tested)
    assert not untested, f"primitives without a vmap test case: {untested}"


# --- primitives that hold programs: jit, remat, custom rules, control flow ------------------

def _program_case(name, prims, f, ref, makers, axes, tol=1e-5):
    return Case(name, prims, f, ref, makers, axes, tol)


def _mlp_layer(x, w):
    return fnp.tanh(x @ w) + 1.0


def _jax_mlp_layer(x, w):
    return jnp.tanh(x @ w) + 1.0


def _softplus_jvp_rule(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), t * (1.0 / (1.0 + fnp.exp(-x)))


@fn.custom_jvp
def _softplus(x):
    return fnp.log1p(fnp.exp(x))


_softplus.defjvp(_softplus_jvp_rule)


@fn.custom_vjp
def _clip_grad(x, w):
    return x * w


_clip_grad.defvjp(lambda x, w: (x * w, (x, w)),
                  lambda res, g: (fnp.clip(g * res[1], -0.5, 0.5), (g * res[0]).sum(0)))


def _jax_clip_grad():
    @jax.custom_vjp
    def f(x, w):
        return x * w
    f.defvjp(lambda x, w: (x * w, (x, w)),
             lambda res, g: (jnp.clip(g * res[1], -0.5, 0.5), (g * res[0]).sum(0)))
    return f


CALL_CASES = [
    Case("jit_inside", (jit_p,), fn.jit(_mlp_layer), jax.jit(_jax_mlp_layer),
         (f32(2, 3), f32(3, 4)), ((0, None), (None, 2), (1, 0)), 1e-5),
    Case("remat_inside", (), fn.checkpoint(_mlp_layer), jax.checkpoint(_jax_mlp_layer),
         (f32(2, 3), f32(3, 4)), ((0, None), (1, 0))),
    Case("stop_gradient", (), lambda x: fn.stop_gradient(x) * 2,
         lambda x: jax.lax.stop_gradient(x) * 2, (f32(3),), ((0,),)),
    Case("custom_jvp", (), lambda x: _softplus(x) * 2,
         lambda x: jax.nn.softplus(x) * 2, (f32(3),), ((0,), (1,))),
    Case("custom_vjp", (), _clip_grad, _jax_clip_grad(), (f32(2, 3), f32(3)),
         ((0, None), (None, 0), (1, 0))),
    Case("cond_batched_pred", (), lambda x: lax.cond(x.sum() > 0, fnp.sin, lambda v: v * 2, x),
         lambda x: jax.lax.cond(x.sum() > 0, jnp.sin, lambda v: v * 2, x), (f32(3),),
         ((0,), (1,))),
    Case("cond_unbatched_pred", (),
         lambda p, x: lax.cond(p > 0, fnp.sin, lambda v: v * 2, x),
         lambda p, x: jax.lax.cond(p > 0, jnp.sin, lambda v: v * 2, x), (f32(), f32(3)),
         ((None, 0), (None, 1), (0, None))),
    Case("switch_three_branches", (),
         lambda i, x: lax.switch(i, [fnp.sin, fnp.cos, lambda v: -v], x),
         lambda i, x: jax.lax.switch(i, [jnp.sin, jnp.cos, lambda v: -v], x),
         (i32(lo=0, hi=3), f32(2, 3)), ((0, None), (None, 0), (0, 2))),
    Case("while_batched_pred", (),
         lambda x: lax.while_loop(lambda c: c[0] < 10.0,
                                  lambda c: (c[0] + (c[1] ** 2).sum() + 1.0, c[1] * 1.5),
                                  (0.0, x)),
         lambda x: jax.lax.while_loop(lambda c: c[0] < 10.0,
                                      lambda c: (c[0] + (c[1] ** 2).sum() + 1.0, c[1] * 1.5),
                                      (0.0, x)),
         (f32(3),), ((0,), (1,))),
    Case("while_unbatched_pred", (),
         lambda n, x: lax.while_loop(lambda c: c[0] < n,
                                     lambda c: (c[0] + 1, c[1] * 2.0), (0, x)),
         lambda n, x: jax.lax.while_loop(lambda c: c[0] < n,
                                         lambda c: (c[0] + 1, c[1] * 2.0), (0, x)),
         (i32(lo=0, hi=5), f32(3)), ((None, 0), (0, None), (0, 1))),
    Case("fori_loop", (), lambda x: lax.fori_loop(0, 4, lambda i, v: v * 0.5 + i, x),
         lambda x: jax.lax.fori_loop(0, 4, lambda i, v: v * 0.5 + i, x), (f32(3),), ((0,),)),
    Case("scan", (),
         lambda h, xs, w: lax.scan(lambda h, x: (fnp.tanh(h @ w + x), h.sum()), h, xs),
         lambda h, xs, w: jax.lax.scan(lambda h, x: (jnp.tanh(h @ w + x), h.sum()), h, xs),
         (f32(3), f32(4, 3), f32(3, 3)),
         ((0, None, None), (None, 0, None), (None, 2, None), (None, None, 0), (0, 1, 2)), 1e-5),
    Case("scan_reverse_no_xs", (),
         lambda h: lax.scan(lambda h, _: (h * 0.5, h), h, None, length=3, reverse=True),
         lambda h: jax.lax.scan(lambda h, _: (h * 0.5, h), h, None, length=3, reverse=True),
         (f32(2),), ((0,), (1,))),
]


@pytest.mark.parametrize("case,in_axes,eager", [
    pytest.param(c, a, k == 0, id=f"{c.name}-{a}") for c in CALL_CASES
    for k, a in enumerate(c.axes)])
def test_program_primitives(case, in_axes, eager):
    check(case, in_axes, use_jit=not eager)
