"""Collectives over a named vmap axis (`fn.vmap(..., axis_name=)`), in-process on one
device, against `jax.vmap(..., axis_name=)`: values, jit around and inside, nested
named axes, and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp

R = np.random.default_rng(0)
X = R.standard_normal((4, 3)).astype(np.float32)

# name -> body(lax, v) for one example v of shape (3,)
BODIES = {
    "psum": lambda lax, v: lax.psum(v, "i"),
    "pmean": lambda lax, v: lax.pmean(v * v, "i"),
    "pmax": lambda lax, v: lax.pmax(v, "i"),
    "pmin": lambda lax, v: lax.pmin(v, "i"),
    "all_gather": lambda lax, v: lax.all_gather(v, "i"),
    "all_gather_axis1_tiled": lambda lax, v: lax.all_gather(v[None], "i", axis=1, tiled=True),
    "axis_index": lambda lax, v: v * lax.axis_index("i"),
    "ppermute": lambda lax, v: lax.ppermute(v, "i", [(0, 1), (1, 2), (2, 3), (3, 0)]),
    "psum_scatter": lambda lax, v: lax.psum_scatter(lax.broadcast(v, (4,)), "i"),
    "psum_scatter_tiled": lambda lax, v: lax.psum_scatter(lax.broadcast(v, (8,)), "i", tiled=True),
    "all_to_all": lambda lax, v: lax.all_to_all(lax.broadcast(v, (4,)) * 1.0, "i", 0, 0),
    "all_to_all_tiled": lambda lax, v: lax.all_to_all(
        lax.broadcast(v, (8,)), "i", 0, 1, tiled=True
    ),
    "psum_constant": lambda lax, v: v + lax.psum(2.0, "i"),
}
DIFFERENTIABLE = sorted(set(BODIES) - {"pmax", "pmin"})  # jax has no pmax/pmin rule


def run(lib, name, x=X, wrap=None):
    lax = fn.lax if lib is fn else jax.lax
    f = lib.vmap(lambda v: BODIES[name](lax, v), axis_name="i")
    return (wrap or (lambda g: g))(f)(x)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_values_match_jax(name):
    np.testing.assert_allclose(run(fn, name), run(jax, name), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["psum", "all_gather", "ppermute", "all_to_all_tiled"])
def test_jit_around_vmap(name):
    np.testing.assert_allclose(run(fn, name, wrap=fn.jit), run(jax, name), rtol=1e-5, atol=1e-6)


def test_jit_inside_vmap():
    f = fn.vmap(fn.jit(lambda v: fn.lax.pmean(v * v, "i") + fn.lax.axis_index("i")), axis_name="i")
    g = jax.vmap(
        jax.jit(lambda v: jax.lax.pmean(v * v, "i") + jax.lax.axis_index("i")), axis_name="i"
    )
    np.testing.assert_allclose(f(X), g(X), rtol=1e-5)


def _loss(lib, name):
    lax = fn.lax if lib is fn else jax.lax
    f = lib.vmap(lambda v: BODIES[name](lax, v), axis_name="i")
    sin = fnp.sin if lib is fn else jnp.sin
    return lambda x: (sin(f(x)) ** 2).sum()


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_grad_matches_jax(name):
    np.testing.assert_allclose(
        fn.grad(_loss(fn, name))(X), jax.grad(_loss(jax, name))(X), rtol=1e-4, atol=1e-5
    )


def test_grad_inside_vmap_matches_jax():
    def per_example(lib, lax):
        return lib.vmap(lib.grad(lambda v: lax.psum((v**3).sum(), "i")), axis_name="i")

    np.testing.assert_allclose(per_example(fn, fn.lax)(X), per_example(jax, jax.lax)(X), rtol=1e-5)


def test_pmax_jvp_splits_ties():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], np.float32)
    f = fn.vmap(lambda v: fn.lax.pmax(v, "i"), axis_name="i")
    _, t = fn.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_allclose(t, np.ones_like(x))  # max over ties: tangent averaged


def test_nested_named_axes():
    def f(lib, lax):
        inner = lib.vmap(lambda v: lax.psum(v, ("i", "j")) + lax.axis_index("j"), axis_name="j")
        return lib.vmap(inner, axis_name="i")

    x = R.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(f(fn, fn.lax)(x), f(jax, jax.lax)(x), rtol=1e-5)


def test_collective_over_an_outer_axis_under_an_inner_vmap():
    def f(lib, lax):
        return lib.vmap(lib.vmap(lambda v: lax.psum(v, "i")), axis_name="i")

    x = R.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(f(fn, fn.lax)(x), f(jax, jax.lax)(x), rtol=1e-5)


def test_bad_input():
    with pytest.raises(NameError, match="'k'"):
        fn.vmap(lambda v: fn.lax.psum(v, "k"), axis_name="i")(X)
    with pytest.raises(ValueError, match="repeats"):
        fn.vmap(lambda v: fn.lax.ppermute(v, "i", [(0, 1), (1, 1)]), axis_name="i")(X)
    with pytest.raises(ValueError, match="size of axis"):
        fn.vmap(lambda v: fn.lax.psum_scatter(v, "i"), axis_name="i")(X)
    with pytest.raises(NotImplementedError, match="varying"):
        fn.vmap(lambda v: fn.lax.pcast(v, "i", to="reduced"), axis_name="i")(X)
    with pytest.raises(NotImplementedError, match="axis_index_groups"):
        fn.vmap(lambda v: fn.lax.psum(v, "i", axis_index_groups=[[0, 1]]), axis_name="i")(X)
