"""Shared harness for the autodiff tests: compare funcnet's values, JVPs and VJPs of a
function with jax's (the reference), then run funcnet.test_util.check_grads on it.

Every comparison uses the same random tangents and cotangents on both sides. Shapes
are kept small and shared between tests so that eager programs (one XLA compile per
primitive, shape and dtype) are reused across the suite.
"""

import jax
import numpy as np

import funcnet as fn
from funcnet.test_util import check_grads

# funcnet vs jax: both run XLA on the CPU, but derivative formulas differ in their
# rounding; these bound a few float32 ulps.
RTOL, ATOL = 2e-5, 2e-6


def rng(seed=0):
    return np.random.default_rng(seed)


def randn(r, *shape, scale=1.0):
    return (r.standard_normal(shape) * scale).astype(np.float32)


def uniform(r, lo, hi, *shape):
    return r.uniform(lo, hi, shape).astype(np.float32)


def away_from(r, shape, points, gap=0.2, scale=1.0):
    """Normal samples pushed at least `gap` away from every kink in `points`."""
    x = r.standard_normal(shape) * scale
    for p in points:
        close = np.abs(x - p) < gap
        x = np.where(close, p + np.where(x >= p, gap, -gap) + (x - p), x)
    return x.astype(np.float32)


def is_float(x):
    return jax.numpy.issubdtype(np.asarray(x).dtype, jax.numpy.floating)  # bfloat16 too


def assert_close(got, want, rtol=RTOL, atol=ATOL, what=""):
    got_l, got_t = jax.tree_util.tree_flatten(got)
    want_l, want_t = jax.tree_util.tree_flatten(want)
    assert len(got_l) == len(want_l), f"{what}: {got_t} vs {want_t}"
    for g, w in zip(got_l, want_l):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        if is_float(w) or is_float(g):
            np.testing.assert_allclose(
                g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol, err_msg=what
            )
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


def _split(args, diff):
    """(funcnet function of the differentiated args, jax function of them, those args)."""
    diff = tuple(i for i, a in enumerate(args) if is_float(a)) if diff is None else diff
    return diff, [args[i] for i in diff]


def _closure(f, args, diff):
    def g(*d):
        full = list(args)
        for i, v in zip(diff, d):
            full[i] = v
        return f(*full)

    return g


def check_op(
    fn_f,
    jax_f,
    *args,
    diff=None,
    rtol=RTOL,
    atol=ATOL,
    order=2,
    modes=("fwd", "rev"),
    cg=True,
    cg_eps=None,
    cg_tol=None,
    seed=0,
):
    """Values, jvp and vjp of `fn_f` against `jax_f` (with respect to the float arguments,
    or the positions in `diff`), then check_grads to `order` on the funcnet side."""
    args = tuple(np.asarray(a) for a in args)
    diff, dargs = _split(args, diff)
    f = _closure(fn_f, [fn.asarray(a) for a in args], diff)
    jf = _closure(jax_f, [jax.numpy.asarray(a) for a in args], diff)
    r = rng(seed + 100)
    dargs = [jax.numpy.asarray(a) for a in dargs]
    out_shapes = jax.eval_shape(jf, *dargs)
    tangents = [randn(r, *a.shape) for a in dargs]
    cts = jax.tree_util.tree_map(lambda o: randn(r, *o.shape), out_shapes)

    @jax.jit  # one reference program per check: jax's eager mode compiles every op
    def reference(dargs, tangents, cts):
        want, want_t = jax.jvp(jf, tuple(dargs), tuple(tangents))
        return want, want_t, jax.vjp(jf, *dargs)[1](cts)

    want, want_t, want_ct = reference(dargs, tangents, cts)
    fargs = tuple(map(fn.asarray, dargs))
    assert_close(f(*fargs), want, rtol, atol, "value")
    _, got_t = fn.jvp(f, fargs, tuple(map(fn.asarray, tangents)))
    assert_close(got_t, want_t, rtol, atol, "jvp")
    _, fvjp = fn.vjp(f, *fargs)
    assert_close(fvjp(jax.tree_util.tree_map(fn.asarray, cts)), want_ct, rtol, atol, "vjp")

    if cg:
        kw = {}
        if cg_eps is not None:
            kw["eps"] = cg_eps
        if cg_tol is not None:
            kw["atol"] = kw["rtol"] = cg_tol
        check_grads(f, fargs, order=order, modes=modes, **kw)


def check_grad_of_sum(fn_f, jax_f, *args, argnums=0, rtol=RTOL, atol=ATOL, weights_seed=7):
    """fn.grad of sum(f(x) * w) against jax.grad (a random w makes every cotangent
    entry distinct)."""
    w = None

    def wrap(f, np_mod):
        def loss(*a):
            out = f(*a)
            nonlocal w
            if w is None:
                w = randn(rng(weights_seed), *np.shape(out))
            return np_mod.sum(out * np_mod.asarray(w))

        return loss

    import jax.numpy as jnp

    import funcnet.numpy as fnp

    want = jax.jit(jax.grad(wrap(jax_f, jnp), argnums))(*[jnp.asarray(a) for a in args])
    got = fn.grad(wrap(fn_f, fnp), argnums)(*[fn.asarray(a) for a in args])
    assert_close(got, want, rtol, atol, "grad")
