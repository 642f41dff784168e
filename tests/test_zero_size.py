"""Size-zero dimensions through every primitive and every rule: values (eager and jit),
jvp, vjp, vmap (over a batch of two and over a batch of none) against jax.lax on the same
programs. Where jax refuses an op on an empty input, funcnet refuses it too.

A case is a function of a library bundle (`FN` or `JX`), so that one spelling runs on
both sides. Each check of a case runs as one jitted program per library (XLA compile
time dominates); values are also compared eagerly.
"""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grad_testing import assert_close
from lax_testing import case, check

import funcnet as fn
import funcnet.numpy as fnp

FN = SimpleNamespace(
    lax=fn.lax,
    np=fnp,
    jvp=fn.jvp,
    vjp=fn.vjp,
    vmap=fn.vmap,
    jit=fn.jit,
    grad=fn.grad,
    checkpoint=fn.checkpoint,
)
JX = SimpleNamespace(
    lax=jax.lax,
    np=jnp,
    jvp=jax.jvp,
    vjp=jax.vjp,
    vmap=jax.vmap,
    jit=jax.jit,
    grad=jax.grad,
    checkpoint=jax.checkpoint,
)

R = np.random.default_rng(0)


def _one_device_sharding(L):
    """A NamedSharding splitting dimension 0 over a 1-device mesh, funcnet's or jax's."""
    if L is FN:
        from funcnet.sharding import Mesh, NamedSharding, PartitionSpec

        return NamedSharding(Mesh(fn.devices()[:1], ("d",)), PartitionSpec("d"))
    mesh = jax.sharding.Mesh(jax.devices()[:1], ("d",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("d"))


def _one_device_shard_map(L, body, in_specs, out_specs, **kw):
    """shard_map of `body(lax)` over a 1-device mesh with axis "d", funcnet's or jax's."""
    if L is FN:
        from funcnet.sharding import Mesh, PartitionSpec

        mesh, spec, run = Mesh(fn.devices()[:1], ("d",)), PartitionSpec, fn.shard_map
    else:
        mesh = jax.sharding.Mesh(jax.devices()[:1], ("d",))
        spec, run = jax.sharding.PartitionSpec, jax.shard_map
    specs = tuple(spec(*s) for s in in_specs)
    return run(body(L.lax), mesh=mesh, in_specs=specs, out_specs=spec(*out_specs), **kw)


def _collectives(lax):
    def body(x, w):
        y = x * w  # w is replicated: shard_map marks it varying (pvary)
        y = lax.psum(y, "d") + lax.all_gather(y, "d", axis=1, tiled=True)
        y = lax.psum_scatter(y, "d", scatter_dimension=1, tiled=True)
        y = lax.ppermute(y, "d", [(0, 0)]) + lax.axis_index("d").astype(y.dtype)
        return lax.all_to_all(y, "d", 1, 0, tiled=True)

    return body


def a(*shape, dtype=np.float32):
    """Random data of a shape (most of these have a zero in it)."""
    if np.dtype(dtype) == np.bool_:
        return R.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return R.integers(0, 3, shape).astype(dtype)
    return R.standard_normal(shape).astype(dtype)


def idx(*rows):
    return np.asarray(rows, np.int32).reshape(-1, 1) if rows else np.zeros((0, 1), np.int32)


GDN = dict(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
SDN = dict(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
DOT = (((1,), (0,)), ((), ()))


def _gather(L, x, i):
    return L.lax.gather(x, i, L.lax.GatherDimensionNumbers(**GDN), (1, x.shape[1]))


def _scatter(name):
    def f(L, x, i, u):
        return getattr(L.lax, name)(x, i, u, L.lax.ScatterDimensionNumbers(**SDN))

    return f


def _pool(kind, padding="VALID"):
    def f(L, x):
        init = np.asarray(-np.inf if kind == "max" else 0.0, np.float32)
        op = L.lax.max if kind == "max" else L.lax.add
        return L.lax.reduce_window(x, init, op, (1, 2), (1, 1), padding)

    return f


def _conv(L, x, w):
    return L.lax.conv_general_dilated(x, w, (1, 1), "VALID")


def _scan_with_empty_leaf(L, c, xs):
    def body(carry, x):
        h, e = carry
        return (L.np.sin(h) + x, e * 2.0), (h * x, e)

    return L.lax.scan(body, (c, L.np.zeros((0,), c.dtype)), xs)


def _while_with_empty_leaf(L, c):
    return L.lax.while_loop(
        lambda s: s[0] < 3,
        lambda s: (s[0] + 1, s[1] * 1.5, s[2] + 1.0),
        (0, c, L.np.zeros((2, 0), c.dtype)),
    )[1:]


def _cond_empty(L, x, p):
    return L.lax.cond(p.sum() > 0, lambda x: L.np.sin(x), lambda x: x * 2.0, x)


# name: (f(L, *args), args, differentiable?)  -- every case has a size-zero dimension in
# an input, an output or an intermediate.
CASES = {
    # elementwise
    "sin": (lambda L, x: L.lax.sin(x), (a(0, 3),), True),
    "exp": (lambda L, x: L.lax.exp(x), (a(3, 0),), True),
    "integer_pow": (lambda L, x: L.lax.integer_pow(x, 3), (a(0, 2),), True),
    "add": (lambda L, x, y: L.lax.add(x, y), (a(0, 3), a(0, 3)), True),
    "mul_scalar": (lambda L, x, y: L.lax.mul(x, y), (a(0, 3), a()), True),
    "max": (lambda L, x, y: L.lax.max(x, y), (a(2, 0), a(2, 0)), True),
    "pow": (lambda L, x, y: L.lax.pow(x, y), (np.abs(a(0, 2)), a(0, 2)), True),
    "atan2": (
        lambda L, x, y: L.lax.atan2(x, y),
        (
            a(
                0,
            ),
            a(
                0,
            ),
        ),
        True,
    ),
    "lt": (lambda L, x, y: L.lax.lt(x, y), (a(0, 3), a(0, 3)), False),
    "select_n": (
        lambda L, p, x, y: L.lax.select_n(p, x, y),
        (a(0, 2, dtype=np.bool_), a(0, 2), a(0, 2)),
        True,
    ),
    "clamp": (lambda L, x: L.lax.clamp(np.float32(-0.5), x, np.float32(0.5)), (a(0, 3),), True),
    "convert": (lambda L, x: L.lax.convert_element_type(x, np.int32), (a(0, 3),), False),
    "bitcast": (  # f32 -> u8 -> f32: a trailing axis of 4 appears and goes
        lambda L, x: L.lax.bitcast_convert_type(
            L.lax.bitcast_convert_type(x, np.uint8), np.float32
        ),
        (a(0, 3),),
        False,
    ),
    "fft_empty_batch": (  # rfft then irfft over a length-4 axis of an empty batch
        lambda L, x: L.lax.fft(L.lax.fft(x, "rfft", (4,)), "irfft", (4,)),
        (a(0, 4),),
        True,
    ),
    "complex_parts": (  # complex, conj, real, imag; real in and out
        lambda L, x, y: L.lax.add(
            L.lax.real(L.lax.conj(L.lax.complex(x, y))), L.lax.imag(L.lax.complex(x, y))
        ),
        (a(0, 3), a(0, 3)),
        True,
    ),
    # special functions (funcnet/lax/special.py); jax has no derivative in the
    # parameters that are constants here (polygamma's m, betainc's a and b)
    "special_igamma": (lambda L, a, x: L.lax.igamma(a, x), (a(0, 3), a(0, 3)), True),
    "special_igammac": (lambda L, a, x: L.lax.igammac(a, x), (a(0, 3), a(0, 3)), True),
    "special_gamma_grads": (
        lambda L, a, x: L.lax.add(L.lax.igamma_grad_a(a, x), L.lax.random_gamma_grad(a, x)),
        (a(0, 3), a(0, 3)),
        False,
    ),
    "special_zeta": (lambda L, s, q: L.lax.zeta(s, q), (a(0, 3), a(0, 3)), False),
    "special_polygamma": (
        lambda L, x: L.lax.polygamma(L.lax.full_like(x, 1.0), x),
        (a(0, 3),),
        True,
    ),
    "special_betainc": (
        lambda L, x: L.lax.betainc(L.lax.full_like(x, 2.0), L.lax.full_like(x, 3.0), x),
        (a(0, 3),),
        True,
    ),
    "special_bessel": (
        lambda L, x: L.lax.add(L.lax.bessel_i0e(x), L.lax.bessel_i1e(x)),
        (a(0, 3),),
        True,
    ),
    # data movement
    "broadcast_from_empty": (
        lambda L, x: L.lax.broadcast_in_dim(x, (2, 0, 3), (1, 2)),
        (a(0, 3),),
        True,
    ),
    "broadcast_to_empty": (lambda L, x: L.lax.broadcast_in_dim(x, (0, 3), (1,)), (a(3),), True),
    "reshape": (lambda L, x: L.lax.reshape(x, (3, 0, 2)), (a(0, 6),), True),
    "transpose": (lambda L, x: L.lax.transpose(x, (2, 0, 1)), (a(2, 0, 3),), True),
    "squeeze": (lambda L, x: L.lax.squeeze(x, (1,)), (a(0, 1, 3),), True),
    "rev": (lambda L, x: L.lax.rev(x, (0, 1)), (a(0, 3),), True),
    "slice_to_empty": (lambda L, x: L.lax.slice(x, (1, 0), (1, 3)), (a(2, 3),), True),
    "slice_of_empty": (lambda L, x: L.lax.slice(x, (0, 1), (0, 3), (1, 2)), (a(0, 3),), True),
    "dynamic_slice_empty": (lambda L, x: L.lax.dynamic_slice(x, (1, 0), (0, 2)), (a(3, 3),), True),
    "dynamic_slice_of_empty": (
        lambda L, x: L.lax.dynamic_slice(x, (0, 1), (0, 2)),
        (a(0, 3),),
        True,
    ),
    "dynamic_update_slice_empty_update": (
        lambda L, x, u: L.lax.dynamic_update_slice(x, u, (1, 1)),
        (a(3, 3), a(0, 2)),
        True,
    ),
    "dynamic_update_slice_of_empty": (
        lambda L, x, u: L.lax.dynamic_update_slice(x, u, (0, 1)),
        (a(0, 3), a(0, 2)),
        True,
    ),
    "concatenate_with_empty": (
        lambda L, x, y, z: L.lax.concatenate([x, y, z], 0),
        (a(0, 3), a(2, 3), a(0, 3)),
        True,
    ),
    "concatenate_all_empty": (
        lambda L, x, y: L.lax.concatenate([x, y], 1),
        (a(0, 3), a(0, 2)),
        True,
    ),
    "split_zero_piece": (lambda L, x: L.lax.split(x, (0, 3, 0), 1), (a(2, 3),), True),
    "pad_empty": (lambda L, x, v: L.lax.pad(x, v, [(1, 2, 0), (0, 0, 1)]), (a(0, 3), a()), True),
    "pad_to_empty": (
        lambda L, x, v: L.lax.pad(x, v, [(-1, 0, 0), (0, 0, 0)]),
        (a(1, 3), a()),
        True,
    ),
    "iota": (lambda L, x: x + L.lax.broadcasted_iota(np.float32, (0, 3), 1), (a(0, 3),), True),
    # reductions
    "reduce_sum_empty_axis": (lambda L, x: L.lax.reduce_sum(x, (0,)), (a(0, 3),), True),
    "reduce_sum_other_axis": (lambda L, x: L.lax.reduce_sum(x, (1,)), (a(0, 3),), True),
    "reduce_max_empty_axis": (lambda L, x: L.lax.reduce_max(x, (1,)), (a(2, 0),), True),
    "reduce_min_other_axis": (lambda L, x: L.lax.reduce_min(x, (1,)), (a(0, 2),), True),
    "reduce_prod_empty_axis": (lambda L, x: L.lax.reduce_prod(x, (0,)), (a(0, 3),), True),
    "reduce_and": (lambda L, x: L.lax.reduce_and(x, (0,)), (a(0, 2, dtype=np.bool_),), False),
    "reduce_or": (lambda L, x: L.lax.reduce_or(x, (1,)), (a(2, 0, dtype=np.bool_),), False),
    "argmax_other_axis": (lambda L, x: L.lax.argmax(x, 1, np.int32), (a(0, 3),), False),
    "cumsum": (lambda L, x: L.lax.cumsum(x, 0), (a(0, 3),), True),
    "cumprod": (lambda L, x: L.lax.cumprod(x, 1, reverse=True), (a(2, 0),), True),
    "cummax": (lambda L, x: L.lax.cummax(x, 0), (a(0, 3),), True),
    "cummin_other_axis": (lambda L, x: L.lax.cummin(x, 1), (a(0, 3),), True),
    "sort": (lambda L, x: L.lax.sort(x, dimension=0), (a(0, 3),), True),
    "stop_gradient": (lambda L, x: L.lax.stop_gradient(x) * x, (a(0, 3),), True),
    "sharding_constraint": (
        lambda L, x: L.lax.with_sharding_constraint(x * 2.0, _one_device_sharding(L)),
        (a(0, 3),),
        True,
    ),
    # Forward and vmap only: jax's own jvp of shard_map fails on empty arrays
    # ("non-canonical constant"), so there is no reference for the derivatives.
    "shard_map_collectives": (
        lambda L, x, w: _one_device_shard_map(L, _collectives, [("d",), ()], ("d",))(x, w),
        (a(0, 3), a()),
        False,
    ),
    "shard_map_psum_unchecked": (
        lambda L, x: _one_device_shard_map(
            L, lambda lax: lambda y: lax.psum(y, "d"), [("d",)], ("d",), check_vma=False
        )(x),
        (a(0, 3),),
        False,
    ),
    "jit": (lambda L, x: L.jit(lambda y: L.np.sin(y) * 2.0)(x), (a(0, 3),), True),
    "sort_other_axis": (lambda L, x: L.lax.sort(x, dimension=1), (a(0, 3),), True),
    "sort_two_operands": (
        lambda L, k, v: L.lax.sort((k, v), num_keys=1),
        (
            a(
                0,
            ),
            a(
                0,
            ),
        ),
        True,
    ),
    "reduce_window_sum": (_pool("sum"), (a(0, 3),), True),
    "reduce_window_max": (_pool("max"), (a(0, 3),), True),
    "reduce_window_to_empty": (_pool("sum"), (a(2, 1),), True),
    "reduce_window_max_to_empty": (_pool("max"), (a(2, 1),), True),
    # contractions
    "dot_zero_contraction": (
        lambda L, x, y: L.lax.dot_general(x, y, DOT),
        (a(2, 0), a(0, 3)),
        True,
    ),
    "dot_zero_free": (lambda L, x, y: L.lax.dot_general(x, y, DOT), (a(0, 2), a(2, 3)), True),
    "dot_batch_empty": (
        lambda L, x, y: L.lax.dot_general(x, y, (((2,), (1,)), ((0,), (0,)))),
        (a(0, 2, 3), a(0, 3, 2)),
        True,
    ),
    "conv_empty_batch": (_conv, (a(0, 2, 4, 4), a(3, 2, 2, 2)), True),
    "conv_empty_output": (_conv, (a(1, 2, 1, 4), a(3, 2, 2, 2)), True),
    "conv_zero_in_channels": (_conv, (a(1, 0, 3, 3), a(2, 0, 2, 2)), True),
    # indexing
    "gather_no_indices": (_gather, (a(3, 2), idx()), True),
    "gather_empty_window": (_gather, (a(3, 0), idx(0, 2)), True),
    "scatter_add_no_updates": (_scatter("scatter_add"), (a(3, 2), idx(), a(0, 2)), True),
    "scatter_no_updates": (_scatter("scatter"), (a(3, 2), idx(), a(0, 2)), True),
    "scatter_mul_no_updates": (_scatter("scatter_mul"), (a(3, 2), idx(), a(0, 2)), False),
    "scatter_max_no_updates": (_scatter("scatter_max"), (a(3, 2), idx(), a(0, 2)), True),
    "scatter_add_empty_window": (_scatter("scatter_add"), (a(3, 0), idx(1), a(1, 0)), True),
    # control flow
    "scan_no_steps": (
        lambda L, c, xs: L.lax.scan(lambda c, x: (c + x, c * x), c, xs),
        (a(2), a(0, 2)),
        True,
    ),
    "scan_length_zero": (
        lambda L, c: L.lax.scan(lambda c, _: (L.np.sin(c), c), c, None, length=0),
        (a(3),),
        True,
    ),
    "scan_empty_carry_leaf": (_scan_with_empty_leaf, (a(2), a(3, 2)), True),
    "fori_no_trips": (lambda L, x: L.lax.fori_loop(0, 0, lambda i, c: c * 2.0, x), (a(3),), True),
    "fori_empty_carry": (
        lambda L, x: L.lax.fori_loop(0, 3, lambda i, c: L.np.sin(c), x),
        (a(0, 2),),
        True,
    ),
    "cond_empty": (_cond_empty, (a(0, 3), a(2)), True),
    "map_empty": (lambda L, x: L.lax.map(L.np.sin, x), (a(0, 3),), True),
}
CASES.update(
    {
        "argmin_other_axis": (lambda L, x: L.lax.argmin(x, 0, np.int32), (a(3, 0),), False),
        "reduce_window_min": (
            lambda L, x: L.lax.reduce_window(
                x, np.float32(np.inf), L.lax.min, (2, 1), (1, 1), "VALID"
            ),
            (a(1, 3),),
            True,
        ),
        "scatter_min_no_updates": (_scatter("scatter_min"), (a(3, 2), idx(), a(0, 2)), True),
        "checkpoint": (
            lambda L, x: L.checkpoint(lambda v: L.np.sin(L.np.sin(v)))(x),
            (a(0, 2),),
            True,
        ),
    }
)

# The decompositions (funcnet.lax.linalg) on 0 x 0 and 0 x n matrices.
CASES.update(
    {
        "cholesky_empty": (lambda L, x: L.lax.linalg.cholesky(x), (a(0, 0),), True),
        "triangular_solve_empty": (
            lambda L, x, y: L.lax.linalg.triangular_solve(x, y, left_side=True, lower=True),
            (a(0, 0), a(0, 3)),
            True,
        ),
        # (jax's own lu derivative fails on an empty matrix: values and vmap only)
        "lu_empty": (lambda L, x: L.lax.linalg.lu(x), (a(0, 3),), False),
        "qr_empty": (lambda L, x: L.lax.linalg.qr(x, full_matrices=False), (a(3, 0),), True),
        "eigh_empty": (lambda L, x: L.lax.linalg.eigh(x), (a(0, 0),), True),
        "svd_empty": (lambda L, x: L.lax.linalg.svd(x, full_matrices=False), (a(0, 2),), True),
        "eig_empty": (lambda L, x: L.lax.linalg.eig(x), (a(0, 0),), False),
    }
)

# Every elementwise op on empty operands (values do not matter: there are none).
UNARY = [
    "neg",
    "sign",
    "floor",
    "ceil",
    "round",
    "is_finite",
    "exp",
    "exp2",
    "log",
    "log1p",
    "expm1",
    "tanh",
    "logistic",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "sqrt",
    "rsqrt",
    "cbrt",
    "abs",
    "bitwise_not",
    "erf",
    "erf_inv",
    "lgamma",
    "digamma",
    "square",
    "erfc",
    "population_count",
    "clz",
]
BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "rem",
    "pow",
    "max",
    "min",
    "atan2",
    "nextafter",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "shift_left",
    "shift_right_arithmetic",
    "shift_right_logical",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
]
INTEGER_ONLY = {
    "bitwise_not",
    "population_count",
    "clz",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "shift_left",
    "shift_right_arithmetic",
    "shift_right_logical",
}
BOOL_OUT = {"is_finite", "eq", "ne", "lt", "le", "gt", "ge"}
NO_JAX_DERIVATIVE = {"nextafter"}  # funcnet's is zero; jax has none to compare with


def _elementwise(name, n):
    dtype = np.int32 if name in INTEGER_ONLY else np.float32
    f = lambda L, *xs: getattr(L.lax, name)(*xs)  # noqa: E731
    return (
        f,
        tuple(a(0, 2, dtype=dtype) for _ in range(n)),
        dtype == np.float32 and (name not in BOOL_OUT | NO_JAX_DERIVATIVE),
    )


for _names, _n in ((UNARY, 1), (BINARY, 2)):
    CASES.update(
        {f"ew_{name}": _elementwise(name, _n) for name in _names if f"ew_{name}" not in CASES}
    )

# while_loop has no reverse mode: its forward mode, values and vmap are checked.
FORWARD_ONLY = {"while_empty_carry_leaf": (_while_with_empty_leaf, (a(2),), True)}
FORWARD_ONLY["shard_map_pmax_pmin"] = (  # jax has no derivative of pmax/pmin
    lambda L, x: _one_device_shard_map(
        L, lambda lax: lambda y: lax.pmax(y, "d") - lax.pmin(y, "d"), [("d",)], ("d",)
    )(x),
    (a(0, 3),),
    False,
)
ALL = {**CASES, **FORWARD_ONLY}


def _bound(L, name):
    f, _, _ = ALL[name]
    return lambda *args: f(L, *args)


def _float_positions(args):
    return [i for i, x in enumerate(args) if np.issubdtype(np.dtype(x.dtype), np.floating)]


def test_values_eager_and_jit():
    check(
        [
            case(name, _bound(FN, name), _bound(JX, name), *args)
            for name, (_, args, _) in ALL.items()
        ]
    )


def _derivatives(L, name, args, tangents, cts, reverse=True):
    """jvp and (if `reverse`) vjp of case `name` w.r.t. its float arguments."""
    f = _bound(L, name)
    pos = _float_positions(args)

    def of_floats(*fl):
        full = list(args)
        for i, v in zip(pos, fl):
            full[i] = v
        return f(*full)

    primals = tuple(args[i] for i in pos)
    out = {"jvp": L.jvp(of_floats, primals, tuple(tangents))}
    if reverse:
        out["vjp"] = L.vjp(of_floats, *primals)[1](cts)
    return out


def _tangents_and_cotangents(name, args):
    pos = _float_positions(args)
    tangents = [a(*np.shape(args[i])) for i in pos]
    out = jax.eval_shape(_bound(JX, name), *args)
    cts = jax.tree_util.tree_map(
        lambda o: (
            a(*o.shape)
            if jnp.issubdtype(o.dtype, jnp.floating)
            else np.zeros(o.shape, jax.dtypes.float0)
        ),
        out,
    )
    return tangents, cts


@pytest.mark.parametrize("name", [n for n, c in ALL.items() if c[2]])
def test_jvp_and_vjp_match_jax(name):
    _, args, _ = ALL[name]
    tangents, cts = _tangents_and_cotangents(name, args)
    reverse = name in CASES
    want = jax.jit(lambda *a: _derivatives(JX, name, a, tangents, cts, reverse))(*args)
    got = fn.jit(lambda *a: _derivatives(FN, name, a, tangents, cts, reverse))(*args)
    assert_close(got, want, what=f"{name} jit")


EAGER = [
    "fori_no_trips",
    "scan_no_steps",
    "sort",
    "conv_empty_output",
    "dot_zero_contraction",
    "pad_empty",
    "reduce_max_empty_axis",
    "gather_no_indices",
]


@pytest.mark.parametrize("name", EAGER)
def test_jvp_and_vjp_eagerly(name):
    _, args, _ = ALL[name]
    tangents, cts = _tangents_and_cotangents(name, args)
    want = jax.jit(lambda *a: _derivatives(JX, name, a, tangents, cts))(*args)
    assert_close(_derivatives(FN, name, args, tangents, cts), want, what=f"{name} eager")


@pytest.mark.parametrize("batch", [2, 0])
@pytest.mark.parametrize("name", list(ALL))
def test_vmap_matches_jax(name, batch):
    """Every argument batched along a new leading axis of `batch` examples (none: the
    rules see a batch of size zero)."""
    _, args, _ = ALL[name]
    batched = [
        np.stack([np.asarray(x)] * batch)
        if batch
        else np.zeros((0,) + np.shape(x), np.asarray(x).dtype)
        for x in args
    ]
    if batch:
        batched = [
            b + a(*b.shape).astype(b.dtype) if np.issubdtype(b.dtype, np.floating) else b
            for b in batched
        ]
    want = jax.jit(jax.vmap(_bound(JX, name)))(*batched)
    got = fn.jit(fn.vmap(_bound(FN, name)))(*batched)
    assert_close(got, want, what=f"{name} vmap({batch})")


def test_grad_of_sort_of_empty():
    """The fuzzer's finding: a gather slice error."""
    got = fn.grad(lambda x: fnp.sort(x).sum())(fnp.ones((0,)))
    assert got.shape == (0,) and got.dtype == np.float32
    _, t = fn.jvp(fnp.sort, (fnp.ones((0, 2)),), (fnp.ones((0, 2)),))
    assert t.shape == (0, 2)


@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("wrap", ["eager", "jit"])
def test_grad_through_a_loop_of_no_trips(shape, wrap):
    """The fuzzer's finding: fori_loop(0, 0, ...) under grad lowered an invalid program."""

    def run(L):
        g = L.grad(lambda x: L.np.sum(L.lax.fori_loop(0, 0, lambda i, c: c * 2.0, x) * x))
        return g if wrap == "eager" else L.jit(g)

    x = a(*shape) + 2.0
    assert_close(run(FN)(x), run(JX)(x))


def test_scan_over_empty_xs_forward_grad_and_vmap():
    """The fuzzer's finding: a scan over xs of length zero lowered an invalid program."""

    def f(L, c, xs):
        return L.lax.scan(lambda c, x: (c + x, x), c, xs)

    c, xs = a(2), np.zeros((0, 2), np.float32)
    carry, ys = f(FN, c, xs)
    assert_close((carry, ys), f(JX, c, xs))
    assert ys.shape == (0, 2)

    def loss(L):
        return lambda c: L.np.sum(f(L, c, xs)[0] ** 2)

    assert_close(fn.grad(loss(FN))(c), jax.grad(loss(JX))(c))

    def length0(L):
        return lambda c: L.lax.scan(lambda c, _: (c + 1.0, c), c, None, length=0)

    cs = a(3, 2)
    assert_close(fn.vmap(length0(FN))(cs), jax.vmap(length0(JX))(cs))


def test_jacrev_of_a_conv_with_empty_output():
    """The fuzzer's finding (ZeroDivisionError): jacrev maps over the output's elements,
    here none. jax's default layout is NCHW / OIHW."""
    w = a(2, 3, 3, 2)

    def f(L):
        return lambda x: L.lax.conv_general_dilated(
            x, w, (2, 2), [(1, 0), (0, 0)], rhs_dilation=(1, 2)
        )

    x = a(1, 3, 5, 2)
    want = jax.jacrev(f(JX))(x)
    assert want.shape == (1, 2, 2, 0, 1, 3, 5, 2)
    assert_close(fn.jacrev(f(FN))(x), want)
    assert_close(fn.jit(fn.jacrev(f(FN)))(x), want)


def test_vmap_over_a_batch_of_none():
    assert_close(fn.vmap(fnp.sin)(np.zeros((0, 3), np.float32)), np.zeros((0, 3), np.float32))
    x = np.zeros((0, 3), np.float32)

    def f(L):
        return lambda v: L.np.sum(L.np.sin(v) * 2.0)

    assert_close(fn.vmap(fn.grad(f(FN)))(x), jax.vmap(jax.grad(f(JX)))(x))


# --- where jax refuses an empty input, so does funcnet ------------------------------------


def test_argmax_over_an_empty_axis_is_refused_like_jax():
    x = np.zeros((0, 3), np.float32)
    with pytest.raises(ValueError):
        jax.lax.argmax(x, 0, np.int32)
    with pytest.raises(ValueError, match="empty"):
        fn.lax.argmax(x, 0, np.int32)


def test_gather_slice_larger_than_an_empty_operand_is_refused_like_jax():
    x, i = np.zeros((0, 2), np.float32), idx(0)
    with pytest.raises(TypeError):
        _gather(JX, x, i)
    with pytest.raises(TypeError, match="slice_sizes"):
        _gather(FN, x, i)


# --- the walk covers every primitive -------------------------------------------------------

# Not reachable from a jax.lax spelling: copy is the identity transformations stage to
# make a value fresh (partial evaluation), with no jax.lax function of its own.
NOT_WALKED = {"copy"}


def _primitives_in(jaxpr, found):
    for eqn in jaxpr.eqns:
        found.add(eqn.primitive.name)
        for v in eqn.params.values():
            for sub in v if isinstance(v, (tuple, list)) else (v,):
                if hasattr(sub, "jaxpr"):
                    _primitives_in(sub.jaxpr, found)
    return found


def test_the_cases_reach_every_primitive():
    """Every primitive of funcnet.lax appears (in the value, derivative or batched
    program) of some case above, so a size-zero path exists for each of its rules."""
    from test_lax_abstract_eval import PRIMITIVES

    found = set()
    for name, (_, args, diff) in ALL.items():
        _primitives_in(fn.make_jaxpr(_bound(FN, name))(*args).jaxpr, found)
        _primitives_in(
            fn.make_jaxpr(fn.vmap(_bound(FN, name)))(*[np.stack([x, x]) for x in args]).jaxpr, found
        )
        if diff:
            tangents, cts = _tangents_and_cotangents(name, args)
            program = fn.make_jaxpr(
                lambda *a, n=name, t=tangents, c=cts: _derivatives(FN, n, a, t, c, n in CASES)
            )
            _primitives_in(program(*args).jaxpr, found)
    missing = {p.name for p in PRIMITIVES.values()} - found - NOT_WALKED
    assert not missing, f"no size-zero case reaches {sorted(missing)}"
