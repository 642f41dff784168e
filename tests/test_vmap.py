"""vmap: every primitive batched against a Python loop over examples and against
jax.vmap of the same jax.lax op; nesting, jit composition, jaxpr shape, errors.

Each case is one primitive (or a small family) with makers of per-example
arguments and several in_axes. The batched result must equal the stack of the
per-example results (funcnet itself, run example by example) and jax.vmap.
"""

import itertools
import sys
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.core.trace import Primitive
from funcnet.lax.calls import jit_p
from funcnet.transforms import custom, remat
from funcnet.transforms.batching import batching_rules

B = 3  # examples per batch


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
    f: Callable  # funcnet function of per-example arrays
    ref: Callable  # jax function of the same
    makers: tuple
    axes: tuple  # in_axes configurations
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
            batched.append(jax.tree_util.tree_map(lambda *xs, ax=ax: np.stack(xs, axis=ax), *ex))
            examples.append(ex)
    return batched, [list(e) for e in zip(*examples)]


def loop(f, examples, out_axes=0):
    outs = [f(*ex) for ex in examples]
    return jax.tree_util.tree_map(
        lambda *xs: np.stack([np.asarray(x) for x in xs], out_axes), *outs
    )


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


def check_all(case: Case, axes_list, eager=False, out_axes=0):
    """Every in_axes of `axes_list` at once: funcnet and jax each compile one program
    holding all of them (compiling dominates the cost of these small tests); with
    `eager`, the first one also runs op by op."""
    r = np.random.default_rng(sum(map(ord, case.name)))
    batches = [batch_args(case.makers, axes, r) for axes in axes_list]
    all_args = [args for args, _ in batches]

    def run_all(vmap, f):
        return lambda all_args: [
            vmap(f, in_axes=axes, out_axes=out_axes)(*args)
            for axes, args in zip(axes_list, all_args)
        ]

    got = fn.jit(run_all(fn.vmap, case.f))(all_args)
    want = jax.jit(run_all(jax.vmap, case.ref))(all_args)
    one = fn.jit(case.f)  # the loop's per-example program: compiled once
    for axes, (_, examples), g, w in zip(axes_list, batches, got, want):
        what = f"{case.name} with in_axes={axes}"
        assert_close(g, loop(one, examples, out_axes), case.tol, f"{what}: vmap vs loop")
        assert_close(g, w, case.tol, f"{what}: vmap vs jax.vmap")
    if eager:
        axes, args = axes_list[0], all_args[0]
        got = fn.vmap(case.f, in_axes=axes, out_axes=out_axes)(*args)
        assert_close(got, want[0], case.tol, f"{case.name} with in_axes={axes}: eager vmap")


# --- the cases ---------------------------------------------------------------------------

ew = lax.elementwise
red = lax.reductions
st = lax.structural
lin = lax.contractions
ix = lax.indexing
G = lax.GatherDimensionNumbers
S = lax.ScatterDimensionNumbers
jG = jax.lax.GatherDimensionNumbers
jS = jax.lax.ScatterDimensionNumbers

_UNARY_DOMAIN = {
    "log": f32(2, 3, lo=0.1),
    "sqrt": f32(2, 3, lo=0.1),
    "rsqrt": f32(2, 3, lo=0.1),
    "lgamma": f32(2, 3, lo=0.1),
    "digamma": f32(2, 3, lo=0.1),
    "log1p": f32(2, 3, lo=-0.5),
    "asin": f32(2, 3, lo=-0.9, hi=0.9),
    "acos": f32(2, 3, lo=-0.9, hi=0.9),
    "atanh": f32(2, 3, lo=-0.9, hi=0.9),
    "erf_inv": f32(2, 3, lo=-0.9, hi=0.9),
    "acosh": f32(2, 3, lo=1.1, hi=3.0),
    "not": i32(2, 3),
    "neg": i32(2, 3),
    "abs": i32(2, 3),
    "tan": f32(2, 3, lo=-1.0, hi=1.0),
    "population_count": i32(2, 3),
    "clz": i32(2, 3),
}
_JAX_NAME = {"not": "bitwise_not", "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor"}


def _jax_op(name):
    if name == "copy":
        return lambda *a: a[0]
    return getattr(jax.lax, _JAX_NAME.get(name, name))


def _family(prims, args_of, n_args):
    """One case for a family of primitives sharing a rule: each argument is a dict
    {primitive name: that primitive's operand}, so one program (one compile) checks
    the whole family, and a mismatch names the primitive."""
    names = [p.name for p in prims]

    def f(*dicts):
        return {p.name: p.bind(*(d[p.name] for d in dicts)) for p in prims}

    def ref(*dicts):
        return {n: _jax_op(n)(*(d[n] for d in dicts)) for n in names}

    makers = tuple((lambda r, k=k: {n: args_of(n)[k](r) for n in names}) for k in range(n_args))
    return f, ref, makers


# The elementwise rule is one rule: it keeps a batch axis where it is (unary), moves
# a mismatched one, or broadcasts an unbatched operand (binary).
_UNARY_AXES = ((1,),)
_BINARY_AXES = ((1, None), (-1, 1))
_BINARY_ARGS = {
    "div": (f32(2, 3), f32(2, 3, lo=0.5)),
    "rem": (f32(2, 3), f32(2, 3, lo=0.5)),
    "pow": (f32(2, 3, lo=0.1), f32(2, 3)),
    "and": (i32(2, 3), i32(2, 3)),
    "or": (boolean(2, 3), boolean(2, 3)),
    "xor": (i32(2, 3), i32(2, 3)),
    "shift_left": (i32(2, 3), i32(2, 3, lo=0, hi=31)),
    "shift_right_arithmetic": (i32(2, 3), i32(2, 3, lo=0, hi=31)),
    "shift_right_logical": (i32(2, 3), i32(2, 3, lo=0, hi=31)),
    "eq": (i32(2, 3, lo=0, hi=3), i32(2, 3, lo=0, hi=3)),
    "ne": (i32(2, 3, lo=0, hi=3), i32(2, 3, lo=0, hi=3)),
}
CASES = [
    Case(
        "unary_family",
        tuple(ew.UNARY),
        *_family(ew.UNARY, lambda n: (_UNARY_DOMAIN.get(n, f32(2, 3)),), 1),
        _UNARY_AXES,
        2e-5,
    ),
    Case(
        "binary_family",
        tuple(ew.BINARY),
        *_family(ew.BINARY, lambda n: _BINARY_ARGS.get(n, (f32(2, 3), f32(2, 3))), 2),
        _BINARY_AXES,
        2e-5,
    ),
    # Eagerly, with a Python scalar operand (broadcast by the rule, bound on a float).
    Case(
        "add_python_scalar",
        (ew.add_p,),
        lambda x: lax.add(x, 2.0),
        lambda x: jax.lax.add(x, 2.0),
        (f32(),),
        ((0,),),
    ),
    # The complex parts (real in and out; complex values in between), and the FFT.
    Case(
        "complex_parts",
        (ew.complex_p, ew.conj_p, ew.real_p, ew.imag_p),
        lambda x, y: (lax.real(lax.conj(lax.complex(x, y))), lax.imag(lax.complex(x, y) * x)),
        lambda x, y: (
            jax.lax.real(jax.lax.conj(jax.lax.complex(x, y))),
            jax.lax.imag(jax.lax.complex(x, y) * x),
        ),
        (f32(2, 3), f32(2, 3)),
        _BINARY_AXES,
        2e-5,
    ),
    Case(
        "fft",
        (lax.fft_p,),
        lambda x: (lax.fft(x, "rfft", (3,)), lax.fft(lax.fft(x, "fft", (2, 3)), "ifft", (3,))),
        lambda x: (
            jax.lax.fft(x, "rfft", (3,)),
            jax.lax.fft(jax.lax.fft(x, "fft", (2, 3)), "ifft", (3,)),
        ),
        (f32(2, 3),),
        ((1,), (0,)),
        2e-5,
    ),
]


def _scatter_rows(prim):
    def f(x, i, u):
        return prim.bind(
            x,
            i,
            u,
            dimension_numbers=S((1,), (0,), (0,)),
            indices_are_sorted=False,
            unique_indices=False,
        )

    return f


def _jax_scatter_rows(name):
    def f(x, i, u):
        return getattr(jax.lax, name)(x, i, u, jS((1,), (0,), (0,)), mode="drop")

    return f


CASES += (
    [
        Case(
            "integer_pow",
            (ew.integer_pow_p,),
            lambda x: lax.integer_pow(x, 3),
            lambda x: jax.lax.integer_pow(x, 3),
            (f32(2, 3),),
            ((0,), (2,)),
        ),
        Case(
            "round",
            (ew.round_p,),
            lambda x: lax.round(x, 1),
            lambda x: jax.lax.round(x, 1),
            (f32(2, 3, lo=-5, hi=5),),
            ((1,),),
        ),
        Case(
            "convert_f32_i32",
            (ew.convert_element_type_p,),
            lambda x: lax.convert_element_type(x, np.int32),
            lambda x: jax.lax.convert_element_type(x, np.int32),
            (f32(2, 3, lo=-9, hi=9),),
            ((1,),),
        ),
        Case(
            "convert_i32_bool",
            (ew.convert_element_type_p,),
            lambda x: lax.convert_element_type(x, np.bool_),
            lambda x: jax.lax.convert_element_type(x, np.bool_),
            (i32(4, lo=-1, hi=2),),
            ((0,),),
        ),
        Case(
            "select_n_bool",
            (ew.select_n_p,),
            lambda c, a, b: lax.select_n(c, a, b),
            jax.lax.select_n,
            (boolean(2, 3), f32(2, 3), f32(2, 3)),
            ((1, None, None), (None, -1, 0), (0, None, 1)),
        ),
        Case(
            "select_n_int",
            (ew.select_n_p,),
            lambda c, a, b, d: lax.select_n(c, a, b, d),
            jax.lax.select_n,
            (i32(4, lo=0, hi=3), f32(4), f32(4), f32(4)),
            ((0, None, 0, None), (None, 0, 0, 0)),
        ),
        Case(
            "select_n_scalar_pred",
            (ew.select_n_p,),
            lambda c, a, b: lax.select_n(c, a, b),
            jax.lax.select_n,
            (boolean(), f32(2, 3), f32(2, 3)),
            ((0, None, None), (0, 1, None), (None, 0, -1)),
        ),
        Case(
            "clamp_scalar_bounds",
            (ew.clamp_p,),
            lax.clamp,
            jax.lax.clamp,
            (f32(lo=-1, hi=0), f32(2, 3), f32(lo=0, hi=1)),
            ((None, 1, None), (0, None, None), (0, -1, 0)),
        ),
        Case(
            "clamp_full_bounds",
            (ew.clamp_p,),
            lax.clamp,
            jax.lax.clamp,
            (f32(4, lo=-1, hi=0), f32(4), f32(4, lo=0, hi=1)),
            ((0, None, 1), (None, 0, None)),
        ),
        # --- data movement
        Case(
            "broadcast_in_dim",
            (st.broadcast_in_dim_p,),
            lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (0, 2)),
            lambda x: jax.lax.broadcast_in_dim(x, (2, 3, 4), (0, 2)),
            (f32(2, 1),),
            ((0,), (2,)),
        ),
        Case(
            "reshape",
            (st.reshape_p,),
            lambda x: lax.reshape(x, (3, 4)),
            lambda x: jax.lax.reshape(x, (3, 4)),
            (f32(2, 6),),
            ((0,), (1,)),
        ),
        Case(
            "reshape_unit_dims",
            (st.reshape_p,),
            lambda x: lax.reshape(x, (2, 1, 3)),
            lambda x: jax.lax.reshape(x, (2, 1, 3)),
            (f32(2, 3),),
            ((1,), (2,)),
        ),
        Case(
            "transpose",
            (st.transpose_p,),
            lambda x: lax.transpose(x, (2, 0, 1)),
            lambda x: jax.lax.transpose(x, (2, 0, 1)),
            (f32(2, 3, 4),),
            ((0,), (3,)),
        ),
        Case(
            "squeeze",
            (st.squeeze_p,),
            lambda x: lax.squeeze(x, (1,)),
            lambda x: jax.lax.squeeze(x, (1,)),
            (f32(2, 1, 3),),
            ((1,), (3,)),
        ),
        Case(
            "rev",
            (st.rev_p,),
            lambda x: lax.rev(x, (0, 2)),
            lambda x: jax.lax.rev(x, (0, 2)),
            (f32(2, 3, 4),),
            ((0,), (2,)),
        ),
        Case(
            "slice",
            (st.slice_p,),
            lambda x: lax.slice(x, (1, 0), (4, 6), (2, 3)),
            lambda x: jax.lax.slice(x, (1, 0), (4, 6), (2, 3)),
            (f32(5, 6),),
            ((0,), (2,)),
        ),
        Case(
            "concatenate",
            (st.concatenate_p,),
            lambda a, b, c: lax.concatenate([a, b, c], 1),
            lambda a, b, c: jax.lax.concatenate([a, b, c], 1),
            (f32(2, 3), f32(2, 1), f32(2, 2)),
            ((0, 0, 0), (1, None, 0), (None, 2, None)),
        ),
        Case(
            "split",
            (st.split_p,),
            lambda x: lax.split(x, (1, 3, 0), 1),
            lambda x: jax.lax.split(x, (1, 3, 0), 1),
            (f32(2, 4, 3),),
            ((0,), (1,), (2,)),
        ),
        Case(
            "pad",
            (st.pad_p,),
            lambda x, v: lax.pad(x, v, ((1, 2, 0), (-1, 1, 1))),
            lambda x, v: jax.lax.pad(x, v, ((1, 2, 0), (-1, 1, 1))),
            (f32(3, 4), f32()),
            ((0, None), (1, 0), (None, 0)),
        ),
        Case(
            "bitcast_convert_type",
            (st.bitcast_convert_type_p,),
            lambda x, y: (
                lax.bitcast_convert_type(x, np.uint8),  # a trailing axis of 4 appears
                lax.bitcast_convert_type(y, np.float32),  # the trailing 2 become one
            ),
            lambda x, y: (
                jax.lax.bitcast_convert_type(x, np.uint8),
                jax.lax.bitcast_convert_type(y, np.float32),
            ),
            (f32(2, 3), lambda r: r.uniform(-2.0, 2.0, (3, 2)).astype(np.float16)),
            ((0, 0), (1, 0), (0, 1), (None, 1)),
        ),
        Case(
            "iota",
            (st.iota_p,),
            lambda x: x + lax.broadcasted_iota(np.float32, (2, 3), 1),
            lambda x: x + jax.lax.broadcasted_iota(np.float32, (2, 3), 1),
            (f32(2, 3),),
            ((1,),),
        ),
        Case(
            "optimization_barrier",
            (lax.windowed.optimization_barrier_p,),
            lambda x, y: lax.optimization_barrier((x * 2.0, y)),
            lambda x, y: jax.lax.optimization_barrier((x * 2.0, y)),
            (f32(2, 3), f32(3)),
            ((1, None), (0, 0)),
        ),
        Case(
            "dynamic_slice",
            (st.dynamic_slice_p, ix.gather_p),
            lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)),
            lambda x, i, j: jax.lax.dynamic_slice(x, (i, j), (2, 3)),
            (f32(5, 4), i32(lo=0, hi=6), i32(lo=0, hi=4)),
            ((2, None, None), (None, 0, 0), (1, 0, None)),
        ),
        Case(
            "dynamic_update_slice",
            (st.dynamic_update_slice_p, ix.scatter_p),
            lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)),
            lambda x, u, i, j: jax.lax.dynamic_update_slice(x, u, (i, j)),
            (f32(5, 4), f32(2, 3), i32(lo=0, hi=6), i32(lo=0, hi=4)),
            ((None, 1, None, None), (2, 0, None, None), (1, None, 0, None), (0, 2, 0, 0)),
        ),
        # --- reductions and friends
        Case(
            "reduce_sum_two_axes",
            (red.reduce_sum_p,),
            lambda x: lax.reduce_sum(x, (0, 2)),
            lambda x: jax.lax.reduce_sum(x, (0, 2)),
            (f32(2, 3, 4),),
            ((0,), (3,)),
        ),
        Case(
            "reduce_max",
            (red.reduce_max_p,),
            lambda x: lax.reduce_max(x, (1,)),
            lambda x: jax.lax.reduce_max(x, (1,)),
            (f32(2, 3),),
            ((0,), (2,)),
        ),
        Case(
            "reduce_min",
            (red.reduce_min_p,),
            lambda x: lax.reduce_min(x, (0,)),
            lambda x: jax.lax.reduce_min(x, (0,)),
            (f32(2, 3),),
            ((1,),),
        ),
        Case(
            "reduce_prod",
            (red.reduce_prod_p,),
            lambda x: lax.reduce_prod(x, (1,)),
            lambda x: jax.lax.reduce_prod(x, (1,)),
            (f32(2, 3),),
            ((1,),),
        ),
        Case(
            "reduce_and",
            (red.reduce_and_p,),
            lambda x: lax.reduce_and(x, (1,)),
            lambda x: jax.lax.reduce_and(x, (1,)),
            (boolean(2, 3),),
            ((0,), (2,)),
        ),
        Case(
            "reduce_or",
            (red.reduce_or_p,),
            lambda x: lax.reduce_or(x, (0,)),
            lambda x: jax.lax.reduce_or(x, (0,)),
            (boolean(2, 3),),
            ((1,),),
        ),
        Case(
            "argmax",
            (red.argmax_p,),
            lambda x: lax.argmax(x, 1),
            lambda x: jax.lax.argmax(x, 1, np.int32),
            (f32(2, 4),),
            ((0,), (2,)),
        ),
        Case(
            "argmin",
            (red.argmin_p,),
            lambda x: lax.argmin(x, 0),
            lambda x: jax.lax.argmin(x, 0, np.int32),
            (f32(4, 2),),
            ((0,), (2,)),
        ),
        Case(
            "cumsum",
            (red.cumsum_p,),
            lambda x: lax.cumsum(x, 1),
            lambda x: jax.lax.cumsum(x, 1),
            (f32(2, 4),),
            ((1,), (2,)),
        ),
        Case(
            "cumprod_reverse",
            (red.cumprod_p,),
            lambda x: lax.cumprod(x, 0, reverse=True),
            lambda x: jax.lax.cumprod(x, 0, reverse=True),
            (f32(4, 2),),
            ((0,), (2,)),
        ),
        Case(
            "cummax",
            (red.cummax_p,),
            lambda x: lax.cummax(x, 0),
            lambda x: jax.lax.cummax(x, 0),
            (f32(5),),
            ((0,), (1,)),
        ),
        Case(
            "cummin_reverse",
            (red.cummin_p,),
            lambda x: lax.cummin(x, 1, reverse=True),
            lambda x: jax.lax.cummin(x, 1, reverse=True),
            (f32(2, 4),),
            ((1,),),
        ),
        Case(
            "reduce_window_sum",
            (red.reduce_window_sum_p,),
            lambda x: lax.reduce_window(x, 0.0, "add", (2, 2), (2, 1), ((0, 1), (1, 0))),
            lambda x: jax.lax.reduce_window(x, 0.0, jax.lax.add, (2, 2), (2, 1), ((0, 1), (1, 0))),
            (f32(5, 4),),
            ((0,), (2,)),
        ),
        Case(
            "reduce_window_max",
            (red.reduce_window_max_p,),
            lambda x: lax.reduce_window(x, -np.inf, "max", (1, 2, 2), (1, 2, 2), "VALID"),
            lambda x: jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 2, 2), (1, 2, 2), "VALID"),
            (f32(2, 4, 4),),
            ((0,), (3,)),
        ),
        Case(
            "reduce_window_min_dilated",
            (red.reduce_window_min_p,),
            lambda x: lax.reduce_window(x, np.inf, "min", (2,), (1,), ((1, 1),), (2,), (2,)),
            lambda x: jax.lax.reduce_window(
                x, np.inf, jax.lax.min, (2,), (1,), ((1, 1),), (2,), (2,)
            ),
            (f32(5),),
            ((0,), (1,)),
        ),
        Case(
            "sort",
            (red.sort_p,),
            lambda x: lax.sort(x, 1),
            lambda x: jax.lax.sort(x, dimension=1),
            (f32(2, 5),),
            ((0,), (2,)),
        ),
        Case(
            "sort_two_operands",
            (red.sort_p,),
            lambda k, v: lax.sort((k, v), 0, num_keys=1),
            lambda k, v: jax.lax.sort((k, v), dimension=0, num_keys=1),
            (f32(5), i32(5)),
            ((0, 0), (None, 1), (1, None)),
        ),
        # --- contractions
        Case(
            "dot_general_matmul",
            (lin.dot_general_p,),
            lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
            lambda a, b: jax.lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
            (f32(3, 4), f32(4, 2)),
            ((0, 0), (1, None), (None, -1), (-1, 1)),
            1e-4,
        ),
        Case(
            "dot_general_batch_dims",
            (lin.dot_general_p,),
            lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
            lambda a, b: jax.lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
            (f32(2, 3, 4), f32(2, 4, 5)),
            ((1, None), (None, 2), (3, 1)),
            1e-4,
        ),
        Case(
            "dot_general_vectors",
            (lin.dot_general_p,),
            lambda a, b: lax.dot_general(a, b, (((0,), (0,)), ((), ()))),
            lambda a, b: jax.lax.dot_general(a, b, (((0,), (0,)), ((), ()))),
            (f32(4), f32(4)),
            ((0, 0), (1, None), (None, 0)),
            1e-4,
        ),
        Case(
            "dot_general_int_pet",
            (lin.dot_general_p,),
            lambda a, b: lax.dot_general(
                a, b, (((0,), (1,)), ((), ())), preferred_element_type=np.float32
            ),
            lambda a, b: jax.lax.dot_general(
                a, b, (((0,), (1,)), ((), ())), preferred_element_type=np.float32
            ),
            (i32(3, 2), i32(4, 3)),
            ((0, 1), (None, 2)),
        ),
        Case(
            "conv_nchw",
            (lin.conv_general_dilated_p,),
            lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME"),
            lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME"),
            (f32(2, 3, 6, 6), f32(4, 3, 3, 3)),
            ((0, None), (None, 0), (2, 4)),
            1e-4,
        ),
        Case(
            "conv_feature_groups",
            (lin.conv_general_dilated_p,),
            lambda x, k: lax.conv_general_dilated(
                x, k, (2, 1), ((1, 0), (0, 1)), feature_group_count=2
            ),
            lambda x, k: jax.lax.conv_general_dilated(
                x, k, (2, 1), ((1, 0), (0, 1)), feature_group_count=2
            ),
            (f32(2, 4, 5, 5), f32(6, 2, 3, 2)),
            ((0, None), (None, 0), (1, 3)),
            1e-4,
        ),
        Case(
            "conv_batch_groups",
            (lin.conv_general_dilated_p,),
            lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "VALID", batch_group_count=2),
            lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", batch_group_count=2),
            (f32(4, 3, 5, 5), f32(4, 3, 3, 3)),
            ((0, None), (None, 0), (2, 1)),
            1e-4,
        ),
        Case(
            "conv_nhwc_dilated",
            (lin.conv_general_dilated_p,),
            lambda x, k: lax.conv_general_dilated(
                x,
                k,
                (2, 2),
                "SAME",
                rhs_dilation=(2, 1),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            ),
            lambda x, k: jax.lax.conv_general_dilated(
                x,
                k,
                (2, 2),
                "SAME",
                rhs_dilation=(2, 1),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            ),
            (f32(2, 7, 6, 3), f32(3, 2, 3, 4)),
            ((0, None), (None, -1), (-1, 0)),
            1e-4,
        ),
        Case(
            "conv_1d_lhs_dilation",
            (lin.conv_general_dilated_p,),
            lambda x, k: lax.conv_general_dilated(x, k, (1,), ((2, 1),), lhs_dilation=(2,)),
            lambda x, k: jax.lax.conv_general_dilated(x, k, (1,), ((2, 1),), lhs_dilation=(2,)),
            (f32(2, 3, 5), f32(2, 3, 3)),
            ((0, 0), (1, None), (None, 2)),
            1e-4,
        ),
        # --- gather / scatter
        Case(
            "gather_rows",
            (ix.gather_p,),
            lambda x, i: lax.gather(x, i, G((1,), (0,), (0,)), (1, 4)),
            lambda x, i: jax.lax.gather(x, i, jG((1,), (0,), (0,)), (1, 4), mode="clip"),
            (f32(5, 4), perm_rows(5, 2)),
            ((0, None), (None, 0), (2, 1)),
        ),
        Case(
            "gather_window_with_batching_dims",
            (ix.gather_p,),
            lambda x, i: lax.gather(x, i, G((2,), (1,), (1,), (0,), (0,)), (1, 1, 2)),
            lambda x, i: jax.lax.gather(
                x, i, jG((2,), (1,), (1,), (0,), (0,)), (1, 1, 2), mode="clip"
            ),
            (f32(2, 5, 3), i32(2, 4, 1, lo=0, hi=5)),
            ((0, None), (None, 1), (3, 0)),
        ),
    ]
    + [
        Case(
            p.name,
            (p,),
            _scatter_rows(p),
            _jax_scatter_rows(p.name),
            (f32(5, 3), perm_rows(5, 2), f32(2, 3)),
            ((0, None, None), (None, 0, None), (1, 0, 2))
            if p is ix.scatter_add_p
            else ((None, None, 0), (1, 0, 2)),
        )
        for p in ix.SCATTERS
    ]
    + [
        Case(
            "scatter_add_with_batching_dims",
            (ix.scatter_add_p,),
            lambda x, i, u: lax.scatter_add(x, i, u, S((2,), (1,), (1,), (0,), (0,))),
            lambda x, i, u: jax.lax.scatter_add(
                x, i, u, jS((2,), (1,), (1,), (0,), (0,)), mode="drop"
            ),
            (f32(2, 5, 3), i32(2, 4, 1, lo=0, hi=5), f32(2, 4, 3)),
            ((0, None, None), (None, 0, 1), (1, 3, None)),
        ),
    ]
)


# Rules bind the same primitives eagerly and under jit; these also run op by op on
# concrete arrays (Python and NumPy scalars among the operands included).
_EAGER = {
    "add_python_scalar",
    "select_n_scalar_pred",
    "broadcast_in_dim",
    "pad",
    "dynamic_slice",
    "dynamic_update_slice",
    "reduce_sum_two_axes",
    "sort_two_operands",
    "dot_general_matmul",
    "conv_nchw",
    "gather_rows",
    "scatter_add",
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_primitive_batching(case):
    """All in_axes of a case under jit; for some, the first also eagerly, op by op."""
    check_all(case, case.axes, eager=case.name in _EAGER)


def _all_primitives():
    found = {jit_p}
    for mod in (
        lax.elementwise,
        lax.structural,
        lax.reductions,
        lax.contractions,
        lax.indexing,
        lax.windowed,
        lax.control_flow,
        custom,
        remat,
    ):
        found.update(v for v in vars(mod).values() if isinstance(v, Primitive))
    return found


def test_every_primitive_has_a_batching_rule():
    missing = sorted(p.name for p in _all_primitives() if p not in batching_rules)
    assert not missing, f"primitives without a batching rule: {missing}"


def test_every_loaded_funcnet_primitive_has_a_batching_rule():
    """Primitives defined anywhere in funcnet (autodiff's custom rules included)."""
    found = set()
    for name, mod in list(sys.modules.items()):
        if name.startswith("funcnet") and mod is not None:
            found.update(v for v in vars(mod).values() if isinstance(v, Primitive))
    missing = sorted(p.name for p in found if p not in batching_rules)
    assert not missing, f"primitives without a batching rule: {missing}"


def test_every_primitive_is_tested_here():
    tested = {p for c in CASES + CALL_CASES + GRAD_CASES for p in c.prims}
    tested.add(custom.custom_lin_p)  # test_custom_lin_batching_rule_transposes
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


_clip_grad.defvjp(
    lambda x, w: (x * w, (x, w)),
    lambda res, g: (fnp.clip(g * res[1], -0.5, 0.5), (g * res[0]).reshape(-1, 3).sum(0)),
)


def _jax_clip_grad():
    @jax.custom_vjp
    def f(x, w):
        return x * w

    f.defvjp(
        lambda x, w: (x * w, (x, w)),
        lambda res, g: (jnp.clip(g * res[1], -0.5, 0.5), (g * res[0]).reshape(-1, 3).sum(0)),
    )
    return f


CALL_CASES = [
    Case(
        "jit_inside",
        (jit_p,),
        fn.jit(_mlp_layer),
        jax.jit(_jax_mlp_layer),
        (f32(2, 3), f32(3, 4)),
        ((0, None), (None, 2), (1, 0)),
        1e-5,
    ),
    Case(
        "remat_inside",
        (remat.remat_p,),
        fn.checkpoint(_mlp_layer),
        jax.checkpoint(_jax_mlp_layer),
        (f32(2, 3), f32(3, 4)),
        ((0, None), (1, 0)),
    ),
    Case(
        "stop_gradient",
        (fn.lax.windowed.stop_gradient_p,),
        lambda x: fn.stop_gradient(x) * 2,
        lambda x: jax.lax.stop_gradient(x) * 2,
        (f32(3),),
        ((0,),),
    ),
    Case(
        "custom_jvp",
        (custom.custom_jvp_call_p,),
        lambda x: _softplus(x) * 2,
        lambda x: jax.nn.softplus(x) * 2,
        (f32(3),),
        ((0,), (1,)),
    ),
    Case(
        "custom_vjp",
        (custom.custom_vjp_call_p,),
        _clip_grad,
        _jax_clip_grad(),
        (f32(2, 3), f32(3)),
        ((0, None), (None, 0), (1, 0)),
    ),
    Case(
        "cond_batched_pred",
        (lax.control_flow.cond_p,),
        lambda x: lax.cond(x.sum() > 0, fnp.sin, lambda v: v * 2, x),
        lambda x: jax.lax.cond(x.sum() > 0, jnp.sin, lambda v: v * 2, x),
        (f32(3),),
        ((0,), (1,)),
    ),
    Case(
        "cond_unbatched_pred",
        (lax.control_flow.cond_p,),
        lambda p, x: lax.cond(p > 0, fnp.sin, lambda v: v * 2, x),
        lambda p, x: jax.lax.cond(p > 0, jnp.sin, lambda v: v * 2, x),
        (f32(), f32(3)),
        ((None, 0), (None, 1), (0, None)),
    ),
    Case(
        "switch_three_branches",
        (),
        lambda i, x: lax.switch(i, [fnp.sin, fnp.cos, lambda v: -v], x),
        lambda i, x: jax.lax.switch(i, [jnp.sin, jnp.cos, lambda v: -v], x),
        (i32(lo=0, hi=3), f32(2, 3)),
        ((0, None), (None, 0), (0, 2)),
    ),
    Case(
        "while_batched_pred",
        (lax.control_flow.while_p,),
        lambda x: lax.while_loop(
            lambda c: c[0] < 10.0, lambda c: (c[0] + (c[1] ** 2).sum() + 1.0, c[1] * 1.5), (0.0, x)
        ),
        lambda x: jax.lax.while_loop(
            lambda c: c[0] < 10.0, lambda c: (c[0] + (c[1] ** 2).sum() + 1.0, c[1] * 1.5), (0.0, x)
        ),
        (f32(3),),
        ((0,), (1,)),
    ),
    Case(
        "while_unbatched_pred",
        (lax.control_flow.while_p,),
        lambda n, x: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0), (0, x)),
        lambda n, x: jax.lax.while_loop(
            lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0), (0, x)
        ),
        (i32(lo=0, hi=5), f32(3)),
        ((None, 0), (0, None), (0, 1)),
    ),
    Case(
        "fori_loop",
        (),
        lambda x: lax.fori_loop(0, 4, lambda i, v: v * 0.5 + i, x),
        lambda x: jax.lax.fori_loop(0, 4, lambda i, v: v * 0.5 + i, x),
        (f32(3),),
        ((0,),),
    ),
    Case(
        "scan",
        (lax.control_flow.scan_p,),
        lambda h, xs, w: lax.scan(lambda h, x: (fnp.tanh(h @ w + x), h.sum()), h, xs),
        lambda h, xs, w: jax.lax.scan(lambda h, x: (jnp.tanh(h @ w + x), h.sum()), h, xs),
        (f32(3), f32(4, 3), f32(3, 3)),
        ((0, None, None), (None, 0, None), (None, 2, None), (None, None, 0), (0, 1, 2)),
        1e-5,
    ),
    Case(
        "scan_reverse_no_xs",
        (),
        lambda h: lax.scan(lambda h, _: (h * 0.5, h), h, None, length=3, reverse=True),
        lambda h: jax.lax.scan(lambda h, _: (h * 0.5, h), h, None, length=3, reverse=True),
        (f32(2),),
        ((0,), (1,)),
    ),
]


@pytest.mark.parametrize("case", CALL_CASES, ids=[c.name for c in CALL_CASES])
def test_program_primitives(case):
    check_all(case, case.axes, eager=case.name in ("jit_inside", "custom_vjp", "scan"))


# --- composition with autodiff ---------------------------------------------------------------

_has_grad = hasattr(fn, "grad")
needs_grad = pytest.mark.skipif(not _has_grad, reason="funcnet.grad is not there yet")


def _pool(x):
    return lax.reduce_window(x, -np.inf, "max", (2, 2), (1, 1), "VALID")


def _jax_pool(x):
    return jax.lax.reduce_window(x, -np.inf, jax.lax.max, (2, 2), (1, 1), "VALID")


GRAD_CASES = [
    Case(
        "vmap_jvp_maxpool",
        (lax.windowed.select_and_gather_add_p,),
        lambda x, t: fn.jvp(_pool, (x,), (t,))[1],
        lambda x, t: jax.jvp(_jax_pool, (x,), (t,))[1],
        (f32(4, 3), f32(4, 3)),
        ((0, 0), (1, None), (None, 2)),
    ),
    Case(
        "vmap_grad_maxpool",
        (lax.windowed.select_and_scatter_add_p,),
        lambda x: fn.grad(lambda v: (_pool(v) ** 2).sum())(x),
        lambda x: jax.grad(lambda v: (_jax_pool(v) ** 2).sum())(x),
        (f32(4, 3),),
        ((0,), (2,)),
    ),
    Case(
        "vmap_grad_checkpoint",
        (lax.windowed.opaque_true_p,),
        lambda w, x: fn.grad(lambda w: fn.checkpoint(_mlp_layer)(x, w).sum())(w),
        lambda w, x: jax.grad(lambda w: jax.checkpoint(_jax_mlp_layer)(x, w).sum())(w),
        (f32(3, 4), f32(2, 3)),
        ((None, 0), (0, 1)),
    ),
    Case(
        "vmap_grad_custom_vjp",
        (),
        lambda x, w: fn.grad(lambda x: _clip_grad(x, w).sum())(x),
        lambda x, w: jax.grad(lambda x: _jax_clip_grad()(x, w).sum())(x),
        (f32(2, 3), f32(3)),
        ((0, None), (None, 0)),
    ),
    Case(
        "vmap_grad_scan",
        (),
        lambda w, xs: fn.grad(
            lambda w: lax.scan(lambda h, x: (fnp.tanh(h @ w + x), 0.0), fnp.zeros(3), xs)[0].sum()
        )(w),
        lambda w, xs: jax.grad(
            lambda w: jax.lax.scan(lambda h, x: (jnp.tanh(h @ w + x), 0.0), jnp.zeros(3), xs)[
                0
            ].sum()
        )(w),
        (f32(3, 3), f32(4, 3)),
        ((None, 0), (0, 1)),
        1e-4,
    ),
]


@needs_grad
@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_vmap_of_derivatives(case):
    check_all(case, case.axes)


@needs_grad
def test_grad_of_vmap():
    """The batch trace inside reverse mode: every rule's output is differentiated."""
    r = np.random.default_rng(1)
    w, xs = (
        r.standard_normal((3, 4)).astype(np.float32),
        r.standard_normal((5, 3)).astype(np.float32),
    )

    def f(w, xs, mod):
        def per_example(x):
            h = mod.tanh(x @ w)
            return (h * mod.cumsum(h, 0)).sum() + mod.max(h)

        return (
            (f_vmap(per_example)(xs) ** 2).sum()
            if mod is fnp
            else (jax.vmap(per_example)(xs) ** 2).sum()
        )

    f_vmap = fn.vmap
    got = fn.jit(fn.grad(lambda w, xs: f(w, xs, fnp)))(w, xs)
    want = jax.jit(jax.grad(lambda w, xs: f(w, xs, jnp)))(w, xs)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


@needs_grad
def test_grad_of_vmap_with_custom_rules():
    r = np.random.default_rng(2)
    xs, w = r.standard_normal((4, 3)).astype(np.float32), r.standard_normal(3).astype(np.float32)
    got = fn.jit(
        fn.grad(lambda w: fn.vmap(lambda x: _clip_grad(x, w) + _softplus(x * w))(xs).sum())
    )(w)
    jcg = _jax_clip_grad()
    want = jax.jit(
        jax.grad(lambda w: jax.vmap(lambda x: jcg(x, w) + jax.nn.softplus(x * w))(xs).sum())
    )(w)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def _mlp_params(r, sizes):
    return [
        {
            "w": (r.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
            "b": (0.1 * r.standard_normal(n)).astype(np.float32),
        }
        for m, n in itertools.pairwise(sizes)
    ]


def _mlp_loss(params, x, y, mod):
    h = x
    for layer in params[:-1]:
        h = mod.tanh(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    logp = logits - mod.log(mod.sum(mod.exp(logits), -1, keepdims=True))
    return -(logp * y).sum()


@needs_grad
def test_per_example_gradients_of_an_mlp_equal_the_loop():
    r = np.random.default_rng(3)
    params = _mlp_params(r, [5, 8, 3])
    xs = r.standard_normal((6, 5)).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[r.integers(0, 3, 6)]
    loss = lambda p, x, y: _mlp_loss(p, x, y, fnp)  # noqa: E731
    per_ex = fn.jit(fn.vmap(fn.grad(loss), in_axes=(None, 0, 0)))(params, xs, ys)
    one = fn.jit(fn.grad(loss))
    loop_g = [one(params, x, y) for x, y in zip(xs, ys)]
    want = jax.jit(jax.vmap(jax.grad(lambda p, x, y: _mlp_loss(p, x, y, jnp)), (None, 0, 0)))(
        params, xs, ys
    )
    for k, layer in enumerate(per_ex):
        for name in ("w", "b"):
            stacked = np.stack([np.asarray(g[k][name]) for g in loop_g])
            np.testing.assert_allclose(np.asarray(layer[name]), stacked, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(np.asarray(layer[name]), want[k][name], rtol=1e-5, atol=1e-6)


@needs_grad
def test_jacfwd_jacrev_hessian_match_jax():
    r = np.random.default_rng(4)
    x = r.standard_normal(3).astype(np.float32)
    f = lambda x, m: m.sin(x) * x.sum() + x[::-1] ** 2  # noqa: E731
    for fun, ref in ((fn.jacfwd, jax.jacfwd), (fn.jacrev, jax.jacrev)):
        np.testing.assert_allclose(
            np.asarray(fn.jit(fun(lambda x: f(x, fnp)))(x)),
            jax.jit(ref(lambda x: f(x, jnp)))(x),
            rtol=1e-5,
            atol=1e-6,
        )
    g = lambda x, m: (m.tanh(x) ** 2).sum() * x[0]  # noqa: E731
    np.testing.assert_allclose(
        np.asarray(fn.jit(fn.hessian(lambda x: g(x, fnp)))(x)),
        jax.jit(jax.hessian(lambda x: g(x, jnp)))(x),
        rtol=1e-4,
        atol=1e-5,
    )


@needs_grad
def test_vmap_inside_custom_jvp_and_custom_vjp_functions():
    @fn.custom_jvp
    def rowsum_sq(x):
        return fn.vmap(lambda r: (r * r).sum())(x)

    rowsum_sq.defjvp(
        lambda p, t: (rowsum_sq(p[0]), fn.vmap(lambda r, s: 2 * (r * s).sum())(p[0], t[0]))
    )

    @fn.custom_vjp
    def scaled(x):
        return fn.vmap(lambda r: r * 3.0)(x)

    scaled.defvjp(lambda x: (scaled(x), None), lambda _, g: (fn.vmap(lambda r: r * 3.0)(g),))
    x = np.random.default_rng(11).standard_normal((4, 3)).astype(np.float32)
    got = fn.jit(fn.grad(lambda x: rowsum_sq(scaled(x)).sum()))(x)
    np.testing.assert_allclose(np.asarray(got), 18.0 * x, rtol=1e-5)
    got = fn.vmap(fn.grad(lambda x: rowsum_sq(scaled(x)).sum()))(x[:, None, :])
    np.testing.assert_allclose(np.asarray(got), 18.0 * x[:, None, :], rtol=1e-5)


@needs_grad
def test_jacobians_are_one_batched_program():
    """jacfwd/jacrev vmap over the basis: the program does not grow with the size."""
    f = lambda x: fnp.tanh(x) * x.sum()  # noqa: E731
    for jac in (fn.jacfwd, fn.jacrev):
        n_small = len(fn.make_jaxpr(jac(f))(np.ones(3, np.float32)).eqns)
        n_large = len(fn.make_jaxpr(jac(f))(np.ones(7, np.float32)).eqns)
        assert n_small == n_large, jac.__name__


@needs_grad
def test_custom_lin_batching_rule_transposes():
    """custom_lin (a custom_vjp's linear stand-in) batched, staged, then transposed."""
    from funcnet.transforms.ad_util import UndefinedPrimal
    from funcnet.transforms.transpose import backward_pass

    r = np.random.default_rng(5)
    x, w = r.standard_normal(3).astype(np.float32), r.standard_normal(3).astype(np.float32)
    cts = r.standard_normal((B, 3)).astype(np.float32)
    _, f_lin = fn.linearize(lambda x: _clip_grad(x, w), x)
    closed = fn.make_jaxpr(fn.vmap(f_lin))(cts)
    assert "custom_lin" in [e.primitive.name for e in closed.eqns]
    (got,) = backward_pass(
        closed.jaxpr, closed.consts, [UndefinedPrimal(closed.in_avals[0])], [cts]
    )
    _, jax_vjp = jax.vjp(lambda x: _jax_clip_grad()(x, w), x)
    want = np.stack([jax_vjp(c)[0] for c in cts])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


# --- nesting and jit ----------------------------------------------------------------------------


def test_nested_vmap_mixed_axes():
    r = np.random.default_rng(6)
    a = r.standard_normal((4, 3, 5)).astype(np.float32)  # outer axis 2, inner axis 0
    b = r.standard_normal((5, 3)).astype(np.float32)  # outer axis 0, inner unmapped
    f = lambda x, y: (x * y).sum() + x.max()  # noqa: E731
    got = fn.vmap(fn.vmap(f, in_axes=(0, None)), in_axes=(2, 0), out_axes=1)(a, b)
    want = jax.jit(
        jax.vmap(
            jax.vmap(lambda x, y: (x * y).sum() + x.max(), in_axes=(0, None)),
            in_axes=(2, 0),
            out_axes=1,
        )
    )(a, b)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    loop_out = np.stack(
        [np.stack([np.asarray(f(a[i, :, j], b[j])) for i in range(4)]) for j in range(5)], axis=1
    )
    np.testing.assert_allclose(np.asarray(got), loop_out, rtol=1e-5)


def test_nested_vmap_of_dot():
    r = np.random.default_rng(7)
    a = r.standard_normal((2, 3, 4)).astype(np.float32)
    b = r.standard_normal((2, 3, 4)).astype(np.float32)
    got = fn.vmap(fn.vmap(fnp.dot))(a, b)
    np.testing.assert_allclose(
        np.asarray(got), jax.jit(jax.vmap(jax.vmap(jnp.dot)))(a, b), rtol=1e-5
    )
    closed = fn.make_jaxpr(fn.vmap(fn.vmap(fnp.dot)))(a, b)
    assert [e.primitive.name for e in closed.eqns].count("dot_general") == 1


def test_vmap_of_jit_is_traced_once_and_jit_of_vmap():
    r = np.random.default_rng(8)
    x, w = (
        r.standard_normal((B, 2, 3)).astype(np.float32),
        r.standard_normal((3, 4)).astype(np.float32),
    )
    # A function of its own: jit's cache may be shared by every wrapper of one function,
    # and other tests jit _mlp_layer too.
    jitted = fn.jit(lambda x, w: _mlp_layer(x, w))
    vf = fn.vmap(jitted, in_axes=(0, None))
    first, second = vf(x, w), vf(x + 1, w)
    assert jitted.trace_count == 1
    want = jax.jit(jax.vmap(_jax_mlp_layer, in_axes=(0, None)))
    np.testing.assert_allclose(np.asarray(first), want(x, w), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(second), want(x + 1, w), rtol=1e-5)
    jv = fn.jit(fn.vmap(jitted, in_axes=(0, None)))
    np.testing.assert_allclose(np.asarray(jv(x, w)), want(x, w), rtol=1e-5)


def test_pytree_in_axes_out_axes_and_kwargs():
    r = np.random.default_rng(9)
    batch = {
        "x": r.standard_normal((3, 4)).astype(np.float32),
        "y": r.standard_normal(4).astype(np.float32),
    }
    f = lambda b: {"s": b["x"] * b["y"], "t": b["y"].sum()}  # noqa: E731
    got = fn.vmap(f, in_axes={"x": 0, "y": None}, out_axes={"s": 1, "t": None})(batch)
    np.testing.assert_allclose(np.asarray(got["s"]), (batch["x"] * batch["y"]).T, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got["t"]), batch["y"].sum(), rtol=1e-6)
    g = lambda a, scale: a * scale  # noqa: E731
    out = fn.vmap(g, in_axes=(None,))(np.float32(2.0), scale=np.arange(3, dtype=np.float32))
    np.testing.assert_allclose(np.asarray(out), 2.0 * np.arange(3), rtol=1e-6)
    out = fn.vmap(lambda: fnp.ones(2), axis_size=4)()
    assert out.shape == (4, 2)
    out = fn.vmap(lambda x: x, in_axes=-1, out_axes=-1)(batch["x"])
    np.testing.assert_allclose(np.asarray(out), batch["x"])


def test_numpy_level_functions_under_vmap():
    """User code (indexing, .at, where, softmax) on per-example values."""
    r = np.random.default_rng(10)
    x = r.standard_normal((B, 5)).astype(np.float32)
    i = np.array([0, 3, 4], np.int32)

    def f(x, i, m):
        y = x.at[i].set(0.0)
        z = m.where(y > 0, y, -y)
        e = m.exp(z - z.max())
        return e / e.sum() + x[i] + m.take(x, m.array([1, 2])).sum()

    got = fn.jit(fn.vmap(lambda x, i: f(x, i, fnp)))(x, i)
    want = jax.jit(jax.vmap(lambda x, i: f(x, i, jnp)))(x, i)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


# --- the batched program is a batched program -------------------------------------------------


def _names(closed):
    return [e.primitive.name for e in closed.eqns]


def test_jaxpr_of_elementwise_has_no_moves():
    x = np.ones((3, 4, B), np.float32)
    y = np.ones((3, 4, B), np.float32)
    f = lambda x, y: fnp.sin(x) * y + fnp.exp(y) - 1.0  # noqa: E731
    for axes in [(0, 0), (2, 2), (-1, None)]:
        args = (x, y[..., 0] if axes[1] is None else y)
        if axes[0] == 0:
            args = (np.moveaxis(x, 2, 0), np.moveaxis(y, 2, 0))
        closed = fn.make_jaxpr(fn.vmap(f, in_axes=axes, out_axes=axes[0]))(*args)
        assert "transpose" not in _names(closed), closed


def test_jaxpr_of_dot_is_one_dot_without_moves():
    x, w = np.ones((B, 2, 3), np.float32), np.ones((B, 3, 4), np.float32)
    for axes, out_axes, args in [
        ((0, None), 0, (x, w[0])),
        ((None, 0), 1, (x[0], w)),
        ((0, 0), 0, (x, w)),
        ((1, None), 1, (np.moveaxis(x, 0, 1), w[0])),
    ]:
        closed = fn.make_jaxpr(fn.vmap(lambda a, b: a @ b, in_axes=axes, out_axes=out_axes))(*args)
        names = _names(closed)
        assert names.count("dot_general") == 1 and "transpose" not in names, closed


def test_jaxpr_of_conv_is_one_conv_without_moves():
    x, k = np.ones((B, 2, 3, 6, 6), np.float32), np.ones((B, 4, 3, 3, 3), np.float32)
    f = lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME")  # noqa: E731
    for axes, out_axes, args in [((0, None), 0, (x, k[0])), ((None, 0), 1, (x[0], k))]:
        names = _names(fn.make_jaxpr(fn.vmap(f, in_axes=axes, out_axes=out_axes))(*args))
        assert names.count("conv_general_dilated") == 1 and "transpose" not in names, names


def test_jaxpr_of_batched_dynamic_slice_is_a_gather():
    x, i = np.ones((B, 5), np.float32), np.zeros(B, np.int32)
    names = _names(fn.make_jaxpr(fn.vmap(lambda x, i: lax.dynamic_slice(x, (i,), (2,))))(x, i))
    assert "gather" in names and "dynamic_slice" not in names


# --- bad input ------------------------------------------------------------------------------------


def test_error_batched_sizes_differ_names_each_argument():
    def f(x, y):
        return x + y.sum()

    with pytest.raises(ValueError) as e:
        fn.vmap(f, in_axes=(0, 1))(np.ones(3), np.ones((2, 4)))
    msg = str(e.value)
    assert "x: axis 0 has size 3" in msg and "y: axis 1 has size 4" in msg
    with pytest.raises(ValueError) as e:
        fn.vmap(lambda p: p["a"], in_axes=({"a": 0, "b": 1},))(
            {"a": np.ones(3), "b": np.ones((2, 5))}
        )
    assert "p['a']: axis 0 has size 3" in str(e.value)
    assert "p['b']: axis 1 has size 5" in str(e.value)
    with pytest.raises(ValueError, match="axis_size=4"):
        fn.vmap(lambda x: x, axis_size=4)(np.ones(3))


def test_error_in_axes_that_do_not_match_say_where():
    with pytest.raises(ValueError) as e:
        fn.vmap(lambda p: p["a"], in_axes=({"a": 0, "c": None},))(
            {"a": np.ones(3), "b": np.ones(3)}
        )
    msg = str(e.value)
    assert "in_axes" in msg and "keys ['a', 'c']" in msg and "keys ['a', 'b']" in msg
    with pytest.raises(ValueError) as e:
        fn.vmap(lambda p: p, in_axes=({"a": (0, 0)},))({"a": (np.ones(3),)})
    assert "p['a']" in str(e.value)
    with pytest.raises(ValueError, match="in_axes has 1 entries"):
        fn.vmap(lambda x, y: x, in_axes=(0,))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"in_axes=2 for argument x of shape \(3,\)"):
        fn.vmap(lambda x: x, in_axes=2)(np.ones(3))
    with pytest.raises(TypeError, match="must hold only ints and None"):
        fn.vmap(lambda x: x, in_axes="0")
    with pytest.raises(TypeError, match="argument s is mapped over axis 0"):
        fn.vmap(lambda x, s: x)(np.ones(3), "text")


def test_error_out_axis_out_of_range_names_it():
    with pytest.raises(ValueError, match=r"out_axes=2 for the output is out of range"):
        fn.vmap(lambda x: x.sum(), out_axes=2)(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"out_axes=5 for the output\[1\]\['s'\]"):
        fn.vmap(lambda x: (x, {"s": x}), out_axes=(0, {"s": 5}))(np.ones((3, 2)))
    with pytest.raises(ValueError, match="out_axes is None for the output"):
        fn.vmap(lambda x: x, out_axes=None)(np.ones(3))


def test_error_batched_value_in_python_if_explains():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(fn.ConcretizationError) as e:
        fn.vmap(f)(np.ones(3))
    msg = str(e.value)
    assert "batched by vmap" in msg and "fnp.where" in msg and "lax.cond" in msg


def test_error_no_mapped_argument():
    with pytest.raises(ValueError, match="axis_size"):
        fn.vmap(lambda x: x, in_axes=None)(np.ones(3))
