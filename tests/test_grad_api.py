"""The differentiation API and its compositions against jax: jit(grad), grad(jit),
grad(grad), jit(grad(grad)), jacfwd(jacrev), hessian, value_and_grad with argnums
tuples and has_aux, vjp with pytree outputs, linearize, vmap; and the error messages
for bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grad_testing import assert_close, randn, rng

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax
from funcnet.core.aval import ShapedArray
from funcnet.core.trace import Primitive
from funcnet.test_util import check_grads

TOL = dict(rtol=1e-5, atol=1e-6)


def f_fn(x):
    return fnp.sum(fnp.tanh(x) * fnp.sin(2.0 * x) + x**3 / 3.0)


def f_jax(x):
    return jnp.sum(jnp.tanh(x) * jnp.sin(2.0 * x) + x**3 / 3.0)


X = randn(rng(0), 4)


# --- compositions ----------------------------------------------------------------------------


def test_jit_of_grad_and_grad_of_jit():
    want = jax.jit(jax.grad(f_jax))(X)
    assert_close(fn.jit(fn.grad(f_fn))(X), want, **TOL)
    assert_close(fn.grad(fn.jit(f_fn))(X), want, **TOL)
    assert_close(fn.jit(fn.grad(fn.jit(f_fn)))(X), want, **TOL)


def test_higher_order_scalar():
    # grad(grad(grad(tanh))) at a few points, eager and jitted, against jax.
    for x0 in (0.3, -1.2):
        g = fn.grad(fn.grad(fn.grad(fnp.tanh)))
        want = jax.jit(jax.grad(jax.grad(jax.grad(jnp.tanh))))(x0)
        assert_close(g(x0), want, rtol=1e-5, atol=1e-5)
        assert_close(
            fn.jit(fn.grad(fn.grad(fnp.tanh)))(x0), jax.jit(jax.grad(jax.grad(jnp.tanh)))(x0), **TOL
        )


def test_grad_of_grad_through_jit_both_ways():
    def h(x):
        return fnp.sum(fnp.exp(-x * x) * fnp.cos(x))

    def jh(x):
        return jnp.sum(jnp.exp(-x * x) * jnp.cos(x))

    x = randn(rng(1), 3)
    vec = randn(rng(2), 3)
    # Hessian-vector products: forward-over-reverse, reverse-over-reverse, with jit inside
    # and outside.
    want = jax.jit(lambda x, v: jax.jvp(jax.grad(jh), (x,), (v,))[1])(x, vec)
    assert_close(fn.jvp(fn.grad(h), (x,), (vec,))[1], want, **TOL)
    assert_close(fn.jvp(fn.grad(fn.jit(h)), (x,), (vec,))[1], want, **TOL)
    assert_close(fn.grad(lambda x: fnp.vdot(fn.grad(h)(x), vec))(x), want, **TOL)
    assert_close(fn.jit(fn.grad(lambda x: fnp.vdot(fn.jit(fn.grad(h))(x), vec)))(x), want, **TOL)


def test_jacfwd_jacrev_hessian():
    def g(x):
        return fnp.stack([fnp.sum(x**2), fnp.prod(fnp.sin(x)), x[0] * x[1] - x[2]])

    def jg(x):
        return jnp.stack([jnp.sum(x**2), jnp.prod(jnp.sin(x)), x[0] * x[1] - x[2]])

    x = randn(rng(3), 3)
    assert_close(fn.jacfwd(g)(x), jax.jit(jax.jacfwd(jg))(x), **TOL)
    assert_close(fn.jacrev(g)(x), jax.jit(jax.jacrev(jg))(x), **TOL)
    assert_close(
        fn.jacfwd(fn.jacrev(g))(x), jax.jit(jax.jacfwd(jax.jacrev(jg)))(x), rtol=1e-5, atol=1e-5
    )
    assert_close(
        fn.jacrev(fn.jacfwd(g))(x), jax.jit(jax.jacrev(jax.jacfwd(jg)))(x), rtol=1e-5, atol=1e-5
    )
    assert_close(fn.hessian(f_fn)(X), jax.jit(jax.hessian(f_jax))(X), rtol=1e-5, atol=1e-5)


def test_jacobians_with_pytrees_and_argnums():
    def g(a, b):
        return {"s": fnp.sum(a * b[0]), "v": a * fnp.exp(b[1])}

    def jg(a, b):
        return {"s": jnp.sum(a * b[0]), "v": a * jnp.exp(b[1])}

    r = rng(4)
    a, b = randn(r, 3), (randn(r, 3), randn(r, 3))
    for argnums in (0, 1, (0, 1)):
        assert_close(fn.jacrev(g, argnums)(a, b), jax.jit(jax.jacrev(jg, argnums))(a, b), **TOL)
        assert_close(fn.jacfwd(g, argnums)(a, b), jax.jit(jax.jacfwd(jg, argnums))(a, b), **TOL)


def test_value_and_grad_argnums_and_has_aux():
    def loss(w, b, x):
        pred = x @ w["k"] + b
        return fnp.mean(pred**2), {"pred": pred, "n": 3}

    def jloss(w, b, x):
        pred = x @ w["k"] + b
        return jnp.mean(pred**2), {"pred": pred, "n": 3}

    r = rng(5)
    w, b, x = {"k": randn(r, 4, 2)}, randn(r, 2), randn(r, 5, 4)
    (v, aux), g = fn.value_and_grad(loss, argnums=(0, 1), has_aux=True)(w, b, x)
    (jv, _jaux), jgr = jax.value_and_grad(jloss, argnums=(0, 1), has_aux=True)(w, b, x)
    assert_close(v, jv, **TOL)
    assert aux["n"] == 3 and set(aux) == {"pred", "n"}
    assert isinstance(g, tuple) and set(g[0]) == {"k"}
    assert_close(g, jgr, **TOL)
    # grad with has_aux returns (grad, aux); argnums as an int gives the bare gradient
    g2, _aux2 = fn.grad(loss, argnums=2, has_aux=True)(w, b, x)
    assert_close(g2, jax.grad(jloss, argnums=2, has_aux=True)(w, b, x)[0], **TOL)
    # negative argnums, and keyword arguments passed through
    assert_close(fn.grad(lambda a, c: fnp.sum(a * c), argnums=-1)(X, X), X, **TOL)
    assert_close(fn.grad(lambda a, s=1.0: fnp.sum(a) * s)(X, s=3.0), np.full(4, 3.0), **TOL)


def test_integer_and_constant_arguments_left_alone():
    # A non-differentiated integer argument, and an output that ignores the input.
    def f(x, n):
        return fnp.sum(x * n.astype(np.float32))

    n = np.arange(4, dtype=np.int32)
    assert_close(fn.grad(f)(X, n), n.astype(np.float32), **TOL)
    g = fn.grad(lambda x: fnp.asarray(2.0))(X)
    assert_close(g, np.zeros(4, np.float32))
    assert g.dtype == np.float32


def test_vjp_with_pytree_outputs_and_has_aux():
    def g(x, y):
        return {"a": fnp.sin(x) * y, "b": (fnp.sum(x * x), y[:2] * 3.0)}

    def jg(x, y):
        return {"a": jnp.sin(x) * y, "b": (jnp.sum(x * x), y[:2] * 3.0)}

    r = rng(6)
    x, y = randn(r, 4), randn(r, 4)
    out, f_vjp = fn.vjp(g, x, y)
    jout, jf_vjp = jax.vjp(jg, x, y)
    assert_close(out, jout, **TOL)
    ct = {"a": randn(r, 4), "b": (np.float32(0.7), randn(r, 2))}
    got = f_vjp(ct)
    assert isinstance(got, tuple) and len(got) == 2
    assert_close(got, jf_vjp(ct), **TOL)
    # the vjp function can be called again, with another cotangent
    ct2 = jax.tree_util.tree_map(lambda c: np.asarray(c) * -2.0, ct)
    assert_close(f_vjp(ct2), jf_vjp(ct2), **TOL)
    # has_aux
    out, f_vjp, aux = fn.vjp(lambda x: (fnp.cos(x), {"m": 1}), x, has_aux=True)
    assert aux == {"m": 1}
    assert_close(f_vjp(fnp.ones(4))[0], -np.sin(x), **TOL)
    # a cotangent of the wrong structure is refused
    with pytest.raises(TypeError, match="tree structure"):
        fn.vjp(g, x, y)[1]({"a": ct["a"]})


@pytest.mark.parametrize("api", ["value_and_grad", "grad", "vjp", "jvp"])
def test_aux_arrays_are_returned_as_arrays(api):
    def f(x):
        return (fnp.sum(x * x), {"double": x * 2.0})

    x = fnp.asarray(X)
    if api == "value_and_grad":
        aux = fn.value_and_grad(f, has_aux=True)(x)[0][1]
    elif api == "grad":
        aux = fn.grad(f, has_aux=True)(x)[1]
    elif api == "vjp":
        aux = fn.vjp(f, x, has_aux=True)[2]
    else:
        aux = fn.jvp(f, (x,), (x,), has_aux=True)[2]
    assert_close(aux["double"], 2 * X)


def test_linearize():
    def g(x, y):
        return fnp.tanh(x) * y, fnp.sum(x**3)

    def jg(x, y):
        return jnp.tanh(x) * y, jnp.sum(x**3)

    r = rng(7)
    x, y = randn(r, 4), randn(r, 4)
    out, f_jvp = fn.linearize(g, x, y)
    jout, jf_jvp = jax.linearize(jg, x, y)
    assert_close(out, jout, **TOL)
    for _ in range(2):  # the linear function is reusable
        tx, ty = randn(r, 4), randn(r, 4)
        assert_close(f_jvp(tx, ty), jf_jvp(tx, ty), **TOL)
        assert_close(f_jvp(tx, ty), fn.jvp(g, (x, y), (tx, ty))[1], **TOL)


def test_jvp_pytrees_and_integer_inputs():
    def g(p, n):
        return {"y": p["w"] * fnp.exp(p["b"]) * n, "n2": n * 2}

    def jg(p, n):
        return {"y": p["w"] * jnp.exp(p["b"]) * n, "n2": n * 2}

    r = rng(8)
    p = {"w": randn(r, 3), "b": randn(r, 3)}
    t = {"w": randn(r, 3), "b": randn(r, 3)}
    n = np.int32(3)
    out, tout = fn.jvp(g, (p, n), (t, np.int32(0)))
    jout, jtout = jax.jvp(jg, (p, n), (t, np.zeros((), jax.dtypes.float0)))
    assert_close(out, jout, **TOL)
    assert_close(tout["y"], jtout["y"], **TOL)
    assert np.all(np.asarray(tout["n2"]) == 0)


def test_vmap_composes_with_grad():
    r = rng(9)
    xs = randn(r, 5, 4)

    def per_example(w, x):
        return fnp.sum(fnp.tanh(x @ w) ** 2)

    def jper_example(w, x):
        return jnp.sum(jnp.tanh(x @ w) ** 2)

    w = randn(r, 4, 3)
    # per-example gradients: vmap(grad); and grad of a vmapped loss
    got = fn.vmap(fn.grad(per_example), in_axes=(None, 0))(w, xs)
    want = jax.jit(jax.vmap(jax.grad(jper_example), in_axes=(None, 0)))(w, xs)
    assert_close(got, want, **TOL)
    got = fn.grad(lambda w: fnp.sum(fn.vmap(per_example, in_axes=(None, 0))(w, xs)))(w)
    want = jax.jit(jax.grad(lambda w: jnp.sum(jax.vmap(jper_example, in_axes=(None, 0))(w, xs))))(w)
    assert_close(got, want, **TOL)
    # per-example gathers (batched indices) under grad
    idx = np.array([0, 3, 1, 1, 2], np.int32)
    got = fn.grad(lambda xs: fnp.sum(fn.vmap(lambda x, i: x[i] * x[0])(xs, idx)))(xs)
    want = jax.jit(jax.grad(lambda xs: jnp.sum(jax.vmap(lambda x, i: x[i] * x[0])(xs, idx))))(xs)
    assert_close(got, want, **TOL)


def test_nested_grad_closure_no_perturbation_confusion():
    # d/dx [d/dy (x * y)] = 1 (the inner derivative must not see x's perturbation).
    got = fn.grad(lambda x: fn.grad(lambda y: x * y)(1.0))(2.0)
    assert_close(got, jax.grad(lambda x: jax.grad(lambda y: x * y)(1.0))(2.0))
    got = fn.grad(lambda x: x * fn.grad(lambda y: x * y * y)(3.0))(2.0)
    assert_close(got, jax.grad(lambda x: x * jax.grad(lambda y: x * y * y)(3.0))(2.0))


def test_check_grads_on_a_composite():
    r = rng(10)
    w, x = randn(r, 3, 2), randn(r, 4, 3)

    def f(w, x):
        return fnp.sum(fnp.logsumexp(x @ w, axis=1) * fnp.mean(x, axis=1))

    check_grads(f, (w, x), order=2, modes=("fwd", "rev"))
    # and it notices a wrong derivative
    from funcnet.transforms.jvp import jvp_rules

    rule = jvp_rules[lax.exp_p]
    try:
        jvp_rules[lax.exp_p] = lambda p, t: (lax.exp(p[0]), lax.mul(t[0], _c2(p[0])))
        with pytest.raises(AssertionError):
            check_grads(lambda x: fnp.exp(x), (X,), order=1)
    finally:
        jvp_rules[lax.exp_p] = rule


def _c2(x):
    return fnp.full_like(x, 2.0)


# --- bad input ---------------------------------------------------------------------------------


def test_grad_of_non_scalar_output_names_shape_and_dtype():
    with pytest.raises(TypeError, match=r"scalar.*shape \(4,\) and dtype float32"):
        fn.grad(lambda x: x * 2.0)(X)
    with pytest.raises(TypeError, match=r"scalar.*shape \(2, 3\) and dtype float32"):
        fn.jit(fn.grad(lambda x: fnp.ones((2, 3)) * fnp.sum(x)))(X)
    with pytest.raises(TypeError, match=r"scalar.*shape \(\) and dtype int32"):
        fn.grad(lambda x: fnp.sum(x).astype(np.int32))(X)
    with pytest.raises(TypeError, match=r"scalar.*tuple"):
        fn.value_and_grad(lambda x: (fnp.sum(x), fnp.sum(x)))(X)


def test_grad_with_respect_to_integer_argument_names_it():
    with pytest.raises(TypeError, match=r"argument 1 has dtype int32"):
        fn.grad(lambda x, n: fnp.sum(x) * n, argnums=(0, 1))(X, 3)
    with pytest.raises(TypeError, match=r"argument 0\['steps'\] has dtype int32"):
        fn.grad(lambda p: fnp.sum(p["w"]))({"w": X, "steps": np.arange(2, dtype=np.int32)})
    with pytest.raises(TypeError, match=r"jacrev: argument 0 has dtype int32"):
        fn.jacrev(lambda x: x)(np.arange(3, dtype=np.int32))
    with pytest.raises(ValueError, match="argnums"):
        fn.grad(lambda x: fnp.sum(x), argnums=2)(X)


def test_has_aux_requires_a_pair():
    for bad in (lambda x: fnp.sum(x), lambda x: (fnp.sum(x), 1, 2), lambda x: [fnp.sum(x)]):
        with pytest.raises(TypeError, match=r"has_aux=True.*pair"):
            fn.grad(bad, has_aux=True)(X)
        with pytest.raises(TypeError, match=r"has_aux=True.*pair"):
            fn.value_and_grad(bad, has_aux=True)(X)
    with pytest.raises(TypeError, match=r"has_aux=True.*pair"):
        fn.vjp(lambda x: x, X, has_aux=True)
    with pytest.raises(TypeError, match=r"has_aux=True.*pair"):
        fn.jvp(lambda x: x, (X,), (X,), has_aux=True)


def test_every_primitive_has_a_jvp_rule():
    import importlib
    import pkgutil

    from funcnet.transforms.jvp import jvp_rules

    prims = set()
    for info in pkgutil.iter_modules(lax.__path__, "funcnet.lax."):
        module = importlib.import_module(info.name)
        prims |= {v for v in vars(module).values() if isinstance(v, Primitive)}
    assert len(prims) > 80
    missing = sorted(p.name for p in prims if p not in jvp_rules)
    assert not missing, f"primitives without a JVP rule: {missing}"


# A user's primitive with no JVP rule (every funcnet primitive has one).
_no_jvp_p = Primitive("op_without_jvp")
_no_jvp_p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))


def test_non_differentiable_primitive_is_named():
    def f(x):
        return fnp.sum(_no_jvp_p.bind(x))

    x = fnp.asarray(np.array([1.5, 2.0], np.float32))
    for mode in (
        fn.grad(f),
        fn.jit(fn.grad(f)),
        lambda x: fn.jvp(f, (x,), (x,)),
        lambda x: fn.vjp(f, x),
    ):
        with pytest.raises(NotImplementedError, match="'op_without_jvp'"):
            mode(x)


_linear_only_p = Primitive("linear_without_transpose")
_linear_only_p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))


def test_primitive_without_transpose_rule_is_named_in_reverse_mode():
    # A primitive with a JVP rule whose tangent is linear but has no transpose rule:
    # forward mode works, reverse mode stops at it and names it.
    from funcnet.transforms.jvp import jvp_rules

    def user_op(x):
        return _linear_only_p.bind(x)

    jvp_rules[_linear_only_p] = lambda p, t: (lax.sin(p[0]), _linear_only_p.bind(t[0]))
    try:
        with pytest.raises(
            NotImplementedError, match=r"primitive 'linear_without_transpose'.*no transpose rule"
        ):
            fn.grad(lambda x: fnp.sum(user_op(x)))(X)
    finally:
        del jvp_rules[_linear_only_p]


def test_window_dilated_max_pool_reverse_mode_says_so():
    x = randn(rng(11), 1, 1, 6)

    def f(x):
        return fnp.sum(
            lax.reduce_window(
                x, -np.inf, "max", (1, 1, 2), (1, 1, 1), "VALID", window_dilation=(1, 1, 2)
            )
        )

    with pytest.raises(NotImplementedError, match="window dilation"):
        fn.grad(f)(x)
