"""Derivatives of reductions (ties shared as jax shares them), cumulative ops, sort,
structural primitives (pad with negative and interior padding, slices, dynamic
slices), gather/scatter through fnp indexing and x.at[...], and jit_p."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grad_testing import assert_close, check_grad_of_sum, check_op, randn, rng, uniform

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax

SHAPE = (3, 4)


def _x(seed=0):
    return randn(rng(seed), *SHAPE)


# --- reductions ---------------------------------------------------------------------------


@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1)])
def test_reduce_sum(axes):
    check_op(lambda x: lax.reduce_sum(x, axes), lambda x: jnp.sum(x, axis=axes), _x(1))


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("axes", [(1,), (0, 1)])
def test_reduce_max_min(op, axes):
    f = getattr(lax, f"reduce_{op}")
    jf = getattr(jnp, op)
    check_op(lambda x: f(x, axes), lambda x: jf(x, axis=axes), _x(2))


@pytest.mark.parametrize("op", ["max", "min"])
def test_reduce_max_min_ties_share_like_jax(op):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -5.0, 4.0, -5.0]], np.float32)
    f, jf = getattr(fnp, op), getattr(jnp, op)
    for axis in (None, 0, 1):
        check_grad_of_sum(
            lambda x, axis=axis: f(x, axis=axis), lambda x, axis=axis: jf(x, axis=axis), x
        )
        t = randn(rng(3), *SHAPE)

        def jax_tangent_out(x, t, axis=axis):
            return jax.jvp(lambda x: jf(x, axis=axis), (x,), (t,))[1]

        assert_close(
            fn.jvp(lambda x, axis=axis: f(x, axis=axis), (x,), (t,))[1],
            jax.jit(jax_tangent_out)(x, t),
            what=f"jvp {axis}",
        )
    # shared equally: the all-equal row splits its gradient four ways
    g = np.asarray(fn.grad(lambda x: fnp.sum(f(x, axis=1)))(x))
    np.testing.assert_allclose(g[1], [0.25] * 4)


def test_reduce_prod():
    x = uniform(rng(4), 0.5, 1.5, *SHAPE) * np.sign(randn(rng(5), *SHAPE))
    check_op(
        lambda x: lax.reduce_prod(x, (1,)), lambda x: jnp.prod(x, axis=1), x.astype(np.float32)
    )
    check_op(
        lambda x: lax.reduce_prod(x, (0, 1)), lambda x: jnp.prod(x), x.astype(np.float32), order=1
    )


def test_reduce_prod_with_zeros():
    # One zero in a row: its gradient is the product of the others; two zeros: all zero.
    x = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [1.0, 2.0, 0.5, 3.0]], np.float32)
    check_grad_of_sum(lambda x: fnp.prod(x, axis=1), lambda x: jnp.prod(x, axis=1), x)
    check_grad_of_sum(lambda x: fnp.prod(x), lambda x: jnp.prod(x), x)


# --- cumulative ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "cummax", "cummin"])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative(op, reverse):
    x = uniform(rng(6), 0.5, 1.5, *SHAPE) if op == "cumprod" else _x(7)
    f, jf = getattr(lax, op), getattr(jax.lax, op)
    # (second order: cumprod's through the hessian below; cumsum's is trivially linear)
    check_op(
        lambda x: f(x, axis=1, reverse=reverse),
        lambda x: jf(x, axis=1, reverse=reverse),
        x,
        order=2 if (op, reverse) == ("cummax", False) else 1,
    )


def test_cumprod_with_zeros_like_jax():
    # The derivative takes no quotient: zeros give the exact (finite) gradient.
    x = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0], [2.0, 0.5, 0.0, 1.0]], np.float32)
    for reverse in (False, True):
        check_grad_of_sum(
            lambda x, reverse=reverse: lax.cumprod(x, axis=1, reverse=reverse),
            lambda x, reverse=reverse: jax.lax.cumprod(x, axis=1, reverse=reverse),
            x,
        )
    # and second order (reduce_prod's derivative is built from cumprod)
    h = fn.hessian(lambda x: fnp.prod(x))(fn.asarray(x[0]))
    assert_close(h, jax.jit(jax.hessian(jnp.prod))(x[0]))


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_ties_like_jax(op):
    # jax differentiates cumulative ops through an associative scan whose max/min
    # split ties in halves; the shares that result are matched exactly.
    x = np.array([[1.0, 3.0, 3.0, 3.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.0, -1.0, 0.0]], np.float32)
    x = x if op == "cummax" else -x
    f, jf = getattr(lax, op), getattr(jax.lax, op)
    for reverse in (False, True):
        check_grad_of_sum(
            lambda x, reverse=reverse: f(x, axis=1, reverse=reverse),
            lambda x, reverse=reverse: jf(x, axis=1, reverse=reverse),
            x,
        )


def test_cumsum_cumprod_fnp():
    x = uniform(rng(8), 0.5, 1.5, *SHAPE)
    check_op(
        lambda x: [fnp.cumsum(x, axis=1), fnp.cumprod(x, axis=-1)],
        lambda x: [jnp.cumsum(x, axis=1), jnp.cumprod(x, axis=-1)],
        x,
        cg=False,
    )


# --- sort ---------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1])
def test_sort(axis):
    check_op(lambda x: fnp.sort(x, axis=axis), lambda x: jnp.sort(x, axis=axis), _x(9))


def test_sort_multiple_operands():
    # Keys sorted along with a float payload: both outputs differentiated.
    r = rng(10)
    k, v = randn(r, *SHAPE), randn(r, *SHAPE)
    check_op(
        lambda k, v: lax.sort((k, v), dimension=1, num_keys=1),
        lambda k, v: jax.lax.sort((k, v), dimension=1, num_keys=1),
        k,
        v,
    )
    # integer keys, float payload
    ki = r.integers(0, 100, SHAPE).astype(np.int32)
    check_op(
        lambda k, v: lax.sort((k, v), dimension=0, num_keys=1)[1],
        lambda k, v: jax.lax.sort((k, v), dimension=0, num_keys=1)[1],
        ki,
        v,
    )


def test_argsort_gather():
    x = _x(11)
    check_op(
        lambda x: fnp.take_along_axis(x, fnp.argsort(x, axis=1), 1),
        lambda x: jnp.take_along_axis(x, jnp.argsort(x, axis=1), 1),
        x,
    )


# --- structural ---------------------------------------------------------------------------

STRUCTURAL = {
    "broadcast_in_dim": (
        lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (1, 2)),
        lambda x: jax.lax.broadcast_in_dim(x, (2, 3, 4), (1, 2)),
    ),
    "broadcast_grow": (
        lambda x: lax.broadcast_in_dim(x[:1], (2, 3, 4), (1, 2)),
        lambda x: jax.lax.broadcast_in_dim(x[:1], (2, 3, 4), (1, 2)),
    ),
    "reshape": (lambda x: lax.reshape(x, (2, 6)), lambda x: jax.lax.reshape(x, (2, 6))),
    "transpose": (lambda x: lax.transpose(x, (1, 0)), lambda x: jax.lax.transpose(x, (1, 0))),
    "squeeze": (
        lambda x: lax.squeeze(lax.reshape(x, (3, 1, 4)), (1,)),
        lambda x: jax.lax.squeeze(jax.lax.reshape(x, (3, 1, 4)), (1,)),
    ),
    "rev": (lambda x: lax.rev(x, (0, 1)), lambda x: jax.lax.rev(x, (0, 1))),
    "slice": (
        lambda x: lax.slice(x, (0, 1), (3, 4), (2, 2)),
        lambda x: jax.lax.slice(x, (0, 1), (3, 4), (2, 2)),
    ),
    "concatenate": (
        lambda x: lax.concatenate([x, x * 2.0, x[:, :1]], 1),
        lambda x: jax.lax.concatenate([x, x * 2.0, x[:, :1]], 1),
    ),
    "split": (lambda x: lax.split(x, (1, 0, 3), 1), lambda x: jax.lax.split(x, (1, 0, 3), 1)),
    # Unused pieces have symbolic zero cotangents: the transpose fills them with zeros.
    "split_one_piece_used": (
        lambda x: lax.split(x, (2, 1), 0)[1] * 2.0,
        lambda x: jax.lax.split(x, (2, 1), 0)[1] * 2.0,
    ),
    "pad": (
        lambda x: lax.pad(x, np.float32(0), [(1, 2, 0), (0, 1, 0)]),
        lambda x: jax.lax.pad(x, np.float32(0), [(1, 2, 0), (0, 1, 0)]),
    ),
    "pad_negative": (
        lambda x: lax.pad(x, np.float32(0), [(-1, 1, 0), (2, -2, 0)]),
        lambda x: jax.lax.pad(x, np.float32(0), [(-1, 1, 0), (2, -2, 0)]),
    ),
    "pad_interior": (
        lambda x: lax.pad(x, np.float32(0), [(1, 0, 2), (0, 0, 1)]),
        lambda x: jax.lax.pad(x, np.float32(0), [(1, 0, 2), (0, 0, 1)]),
    ),
    "pad_interior_negative": (
        lambda x: lax.pad(x, np.float32(0), [(-2, -1, 1), (-1, 2, 3)]),
        lambda x: jax.lax.pad(x, np.float32(0), [(-2, -1, 1), (-1, 2, 3)]),
    ),
    "dynamic_slice": (
        lambda x: lax.dynamic_slice(x, (np.int32(1), np.int32(2)), (2, 2)),
        lambda x: jax.lax.dynamic_slice(x, (np.int32(1), np.int32(2)), (2, 2)),
    ),
    "dynamic_slice_clamped": (
        lambda x: lax.dynamic_slice(x, (np.int32(2), np.int32(-1)), (2, 3)),
        lambda x: jax.lax.dynamic_slice(x, (np.int32(2), np.int32(-1)), (2, 3)),
    ),
}


@pytest.mark.parametrize("name", list(STRUCTURAL))
def test_structural(name):
    f, jf = STRUCTURAL[name]
    check_op(f, jf, _x(12))


def test_pad_value_is_differentiated():
    r = rng(13)
    cfg = [(1, -1, 1), (-1, 2, 0)]
    check_op(
        lambda x, v: lax.pad(x, v, cfg),
        lambda x, v: jax.lax.pad(x, v, cfg),
        randn(r, *SHAPE),
        np.float32(0.7),
    )
    check_op(
        lambda x: fnp.pad(x, ((1, 2), (0, 1))),
        lambda x: jnp.pad(x, ((1, 2), (0, 1))),
        randn(r, *SHAPE),
        order=1,
    )


def test_dynamic_update_slice():
    r = rng(14)
    x, u = randn(r, *SHAPE), randn(r, 2, 2)
    for idx in [(1, 1), (2, 3)]:  # the second start is clamped to fit
        i = tuple(np.int32(v) for v in idx)
        check_op(
            lambda x, u, i=i: lax.dynamic_update_slice(x, u, i),
            lambda x, u, i=i: jax.lax.dynamic_update_slice(x, u, i),
            x,
            u,
        )
    # traced start indices (from the data), differentiated only in x and u
    check_op(
        lambda x, u, k: lax.dynamic_update_slice(x, u, (k, k)),
        lambda x, u, k: jax.lax.dynamic_update_slice(x, u, (k, k)),
        x,
        u,
        np.int32(1),
    )


def test_fnp_shape_functions():
    r = rng(15)
    x = randn(r, *SHAPE)
    pairs = [
        (lambda x: fnp.stack([x, 2 * x], axis=1), lambda x: jnp.stack([x, 2 * x], axis=1)),
        (
            lambda x: fnp.concatenate(fnp.split(x, 2, axis=1)[::-1], 1),
            lambda x: jnp.concatenate(jnp.split(x, 2, axis=1)[::-1], 1),
        ),
        (lambda x: fnp.tile(x, (2, 1)), lambda x: jnp.tile(x, (2, 1))),
        (lambda x: fnp.repeat(x, 2, axis=0), lambda x: jnp.repeat(x, 2, axis=0)),
        (lambda x: fnp.roll(x, 1, axis=1), lambda x: jnp.roll(x, 1, axis=1)),
        (
            lambda x: fnp.moveaxis(fnp.expand_dims(x, 0), 0, 2),
            lambda x: jnp.moveaxis(jnp.expand_dims(x, 0), 0, 2),
        ),
        (lambda x: fnp.flip(x, 0).T.ravel(), lambda x: jnp.flip(x, 0).T.ravel()),
        (lambda x: fnp.triu(x) - fnp.tril(x, -1), lambda x: jnp.triu(x) - jnp.tril(x, -1)),
        (
            lambda x: fnp.broadcast_to(x[:, :1], SHAPE) * x,
            lambda x: jnp.broadcast_to(x[:, :1], SHAPE) * x,
        ),
    ]

    def f(x):
        return [p[0](x) for p in pairs]

    def jf(x):
        return [p[1](x) for p in pairs]

    check_op(f, jf, x, order=1)


# --- gather / scatter through indexing ------------------------------------------------------

INDEXING = {
    "int": (lambda x: x[1], lambda x: x[1]),
    "slice_step": (lambda x: x[::2, 1::2], lambda x: x[::2, 1::2]),
    "negative": (lambda x: x[-1, -2:], lambda x: x[-1, -2:]),
    "int_array": (lambda x: x[np.array([2, 0, 2])], lambda x: x[np.array([2, 0, 2])]),
    "int_array_axis1": (
        lambda x: x[:, np.array([[3, 0], [1, 1]])],
        lambda x: x[:, np.array([[3, 0], [1, 1]])],
    ),
    "two_arrays": (
        lambda x: x[np.array([0, 2, 2]), np.array([1, 3, 3])],
        lambda x: x[np.array([0, 2, 2]), np.array([1, 3, 3])],
    ),
    "bool_mask": (
        lambda x: x[np.array([True, False, True])],
        lambda x: x[np.array([True, False, True])],
    ),
    "newaxis": (lambda x: x[None, :, 1], lambda x: x[None, :, 1]),
    "take": (
        lambda x: fnp.take(x, np.array([3, 3, 0]), axis=1),
        lambda x: jnp.take(x, np.array([3, 3, 0]), axis=1),
    ),
    "take_along_axis": (
        lambda x: fnp.take_along_axis(x, np.array([[0], [3], [1]]), 1),
        lambda x: jnp.take_along_axis(x, np.array([[0], [3], [1]]), 1),
    ),
}


@pytest.mark.parametrize("name", list(INDEXING))
def test_gather_indexing(name):
    f, jf = INDEXING[name]
    check_op(f, jf, _x(16))


def test_gather_with_traced_indices():
    r = rng(17)
    x = randn(r, *SHAPE)
    idx = np.array([2, 0, 1, 2], np.int32)
    check_op(lambda x, i: x[i], lambda x, i: x[i], x, idx)
    check_op(lambda x, i: x[:, i[:2]] * 2.0, lambda x, i: x[:, i[:2]] * 2.0, x, idx)


SCATTERS = {
    "add_dup": (
        lambda x, u: x.at[np.array([0, 2, 0])].add(u[:3]),
        lambda x, u: x.at[np.array([0, 2, 0])].add(u[:3]),
    ),
    "add_slice": (
        lambda x, u: x.at[1:, 1:3].add(u[:2, :2]),
        lambda x, u: x.at[1:, 1:3].add(u[:2, :2]),
    ),
    "add_scalar_idx": (lambda x, u: x.at[1, 2].add(u[0, 0]), lambda x, u: x.at[1, 2].add(u[0, 0])),
    "set": (
        lambda x, u: x.at[np.array([2, 0])].set(u[:2]),
        lambda x, u: x.at[np.array([2, 0])].set(u[:2]),
    ),
    "set_2d": (
        lambda x, u: x.at[np.array([0, 2]), np.array([1, 3])].set(u[0, :2]),
        lambda x, u: x.at[np.array([0, 2]), np.array([1, 3])].set(u[0, :2]),
    ),
    "set_broadcast": (lambda x, u: x.at[:, 1].set(u[0, 0]), lambda x, u: x.at[:, 1].set(u[0, 0])),
    "mul": (
        lambda x, u: x.at[np.array([1, 2])].multiply(3.0) * u[:3],
        lambda x, u: x.at[np.array([1, 2])].multiply(3.0) * u[:3],
    ),
    "mul_updates": (
        lambda x, u: x.at[np.array([2, 0])].multiply(u[:2], unique_indices=True),
        lambda x, u: x.at[np.array([2, 0])].multiply(u[:2], unique_indices=True),
    ),
    "max": (
        lambda x, u: x.at[np.array([1, 2])].max(u[:2]),
        lambda x, u: x.at[np.array([1, 2])].max(u[:2]),
    ),
    "min": (
        lambda x, u: x.at[np.array([0, 1])].min(u[:2]),
        lambda x, u: x.at[np.array([0, 1])].min(u[:2]),
    ),
}


@pytest.mark.parametrize("name", list(SCATTERS))
def test_scatter_indexing(name):
    f, jf = SCATTERS[name]
    r = rng(18)
    check_op(
        f, jf, randn(r, *SHAPE), randn(r, 4, 4), order=2 if name in ("add_dup", "set", "max") else 1
    )


def test_scatter_mul_updates_with_repeated_indices_is_refused():
    x, u = np.ones((3, 2), np.float32), np.ones((2, 2), np.float32)
    with pytest.raises(NotImplementedError, match="unique_indices=True"):
        fn.grad(lambda u: fnp.sum(fnp.asarray(x).at[np.array([0, 0])].multiply(u)))(u)


def test_scatter_set_duplicate_indices_like_jax():
    # Only the update that landed gets a gradient; the overwritten operand gets none.
    r = rng(21)
    x, u = randn(r, 4, 3), randn(r, 5, 3)
    idx = np.array([1, 3, 1, 1, 0])

    def f(x, u):
        return x.at[idx].set(u)

    check_grad_of_sum(f, f, x, u, argnums=(0, 1))

    def f2(x, u):
        return x.at[idx, np.array([0, 2, 0, 0, 1])].set(u[:, 0])

    check_grad_of_sum(f2, f2, x, u, argnums=(0, 1))
    # forward mode agrees too
    t = randn(r, 5, 3)
    assert_close(
        fn.jvp(lambda u: f(fn.asarray(x), u), (u,), (t,))[1],
        jax.jvp(lambda u: f(jnp.asarray(x), u), (u,), (t,))[1],
    )


def test_scatter_max_ties_like_jax():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    u = np.array([[1.0, 5.0], [3.0, 0.0]], np.float32)

    def f(x, u):
        return x.at[np.array([0, 1])].max(u)

    for argnum in (0, 1):
        check_grad_of_sum(f, f, x, u, argnums=argnum)


def test_scatter_add_traced_indices():
    r = rng(19)
    x, u = randn(r, *SHAPE), randn(r, 5, 4)
    idx = np.array([2, 0, 2, 1, 2], np.int32)
    check_op(lambda x, u, i: x.at[i].add(u), lambda x, u, i: x.at[i].add(u), x, u, idx)


# --- jit_p and the optimization barrier ----------------------------------------------------


def test_jit_inside_differentiated_function():
    r = rng(20)
    x, y = randn(r, *SHAPE), randn(r, *SHAPE)
    inner = fn.jit(lambda a, b: (a * fnp.sin(b), fnp.sum(a * a)))

    def f(a, b):
        return inner(a, b)

    def jf(a, b):
        return (a * jnp.sin(b), jnp.sum(a * a))

    check_op(f, jf, x, y, order=1)
    check_op(f, jf, x, y, diff=(1,), cg=False)  # one input constant: Zero tangents into jit


def test_optimization_barrier():
    from funcnet.lax.windowed import optimization_barrier

    x = _x(21)
    check_op(
        lambda x: optimization_barrier((fnp.sin(x), x * 2))[0] * x, lambda x: jnp.sin(x) * x, x
    )


def test_scatter_with_unique_indices():
    # The promise of unique indices takes the plain linear rule (transposed as a scatter).
    r = rng(22)
    x, u = randn(r, 4, 3), randn(r, 2, 3)
    idx = np.array([[3], [0]], np.int32)
    dn = lax.ScatterDimensionNumbers(
        update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    jdn = jax.lax.ScatterDimensionNumbers(
        update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    check_op(
        lambda x, u: lax.scatter(x, idx, u, dn, unique_indices=True),
        lambda x, u: jax.lax.scatter(x, idx, u, jdn, unique_indices=True),
        x,
        u,
    )
