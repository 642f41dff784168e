"""JAX-style programs run twice: as written for jax, then with the imports renamed.

Each program below is written the way JAX's tutorials teach (pytrees, custom derivative
rules, higher-order derivatives, the sharp bits, stateful computations, jit and vmap,
debugging). The test runs it under jax, then rewrites only its import lines
(`import jax` -> `import funcnet as jax`, `import jax.numpy as jnp` ->
`import funcnet.numpy as jnp`, `from jax import lax` -> `from funcnet import lax`, ...)
and runs it under funcnet. What the two print must agree: the same words, and numbers
equal to a float32 tolerance. That is funcnet's promise to a JAX user.
"""

import contextlib
import io
import re
import textwrap

import numpy as np
import pytest

PROGRAMS = {}


def program(fun):
    """Register a program: the function's docstring is its source."""
    PROGRAMS[fun.__name__] = textwrap.dedent(fun.__doc__)
    return fun


# --- pytrees ----------------------------------------------------------------------------


@program
def pytree_basics():
    """
    import jax
    import jax.numpy as jnp

    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3), "layers": [1.0, (2.0, 3.0)]}
    print(len(jax.tree.leaves(params)))
    print(jax.tree.structure(params).num_leaves)
    doubled = jax.tree.map(lambda x: x * 2, params)
    print(doubled["layers"][1][1], doubled["w"].sum())
    leaves, treedef = jax.tree.flatten(params)
    rebuilt = jax.tree.unflatten(treedef, [jnp.asarray(l) + 1 for l in leaves])
    print(rebuilt["b"], rebuilt["layers"][0])
    print(jax.tree.reduce(lambda a, b: a + jnp.sum(b), params, 0.0))
    print(jax.tree.all(jax.tree.map(lambda x: jnp.all(jnp.asarray(x) >= 0), params)))
    for path, leaf in jax.tree.leaves_with_path({"a": [1.0, 2.0], "b": 3.0}):
        print(jax.tree_util.keystr(path), leaf)
    print(jax.tree.map(lambda x, y: x + y, [1.0, 2.0], [10.0, 20.0]))
    print(jax.tree.map(lambda x: x is None, [None, 1.0], is_leaf=lambda x: x is None))
    outer = jax.tree.structure([0, 0])
    inner = jax.tree.structure((0, 0, 0))
    print(jax.tree.transpose(outer, inner, [(1, 2, 3), (4, 5, 6)]))
    """


@program
def pytree_custom_class():
    """
    import jax
    import jax.numpy as jnp
    from jax import tree_util

    @tree_util.register_pytree_node_class
    class Point:
        def __init__(self, x, y, name="p"):
            self.x, self.y, self.name = x, y, name
        def tree_flatten(self):
            return (self.x, self.y), self.name
        @classmethod
        def tree_unflatten(cls, name, children):
            return cls(*children, name=name)

    p = Point(jnp.array(1.0), jnp.array(2.0))
    q = jax.tree.map(lambda v: v * 10, p)
    print(q.name, q.x, q.y)
    print(jax.grad(lambda p: p.x ** 2 * p.y)(p).x)

    def norm(p):
        return jnp.sqrt(p.x ** 2 + p.y ** 2)
    print(jax.jit(norm)(Point(jnp.array(3.0), jnp.array(4.0))))
    pts = Point(jnp.arange(3.0), jnp.ones(3))
    print(jax.vmap(norm)(pts))
    add = tree_util.Partial(lambda a, b: a + b, 2.0)
    print(jax.jit(lambda f, x: f(x))(add, 3.0))
    """


# --- custom derivative rules -----------------------------------------------------------


@program
def custom_jvp_stable_log1pexp():
    """
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def log1pexp(x):
        return jnp.log(1.0 + jnp.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        x, = primals
        t, = tangents
        return log1pexp(x), t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))

    print(jax.grad(log1pexp)(100.0))
    print(jax.jit(jax.grad(log1pexp))(3.0))
    print(jax.vmap(jax.grad(log1pexp))(jnp.array([0.0, 1.0, 2.0])))
    print(jax.grad(jax.grad(log1pexp))(0.5))
    """


@program
def custom_jvp_python_control_flow():
    """
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def f(x):
        if x > 0:
            return jnp.sin(x)
        return x

    @f.defjvp
    def f_jvp(primals, tangents):
        x, = primals
        t, = tangents
        if x > 0:
            return f(x), jnp.cos(x) * t
        return f(x), t

    print(f(1.0), f(-1.0))
    print(jax.grad(f)(1.0), jax.grad(f)(-1.0))
    print(jax.jvp(f, (2.0,), (1.0,)))
    """


@program
def custom_jvp_defjvps():
    """
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def f(x, y):
        return jnp.sin(x) * y

    f.defjvps(lambda x_dot, primal_out, x, y: jnp.cos(x) * x_dot * y,
              lambda y_dot, primal_out, x, y: jnp.sin(x) * y_dot)
    print(f(2.0, 3.0))
    print(jax.grad(f)(2.0, 3.0), jax.grad(f, 1)(2.0, 3.0))
    print(jax.jvp(f, (2.0, 3.0), (1.0, 0.5)))
    """


@program
def custom_vjp_clip_gradient():
    """
    from functools import partial
    import jax
    import jax.numpy as jnp

    @partial(jax.custom_vjp, nondiff_argnums=(0, 1))
    def clip_gradient(lo, hi, x):
        return x

    def clip_fwd(lo, hi, x):
        return x, None

    def clip_bwd(lo, hi, res, g):
        return (jnp.clip(g, lo, hi),)

    print(clip_gradient.defvjp(clip_fwd, clip_bwd))
    f = lambda x: clip_gradient(-0.75, 0.75, jnp.sin(x)) * 3.0
    print(jax.grad(f)(0.5))
    print(jax.vmap(jax.grad(f))(jnp.linspace(0.0, 3.0, 4)))
    print(jax.jit(jax.grad(f))(2.0))
    """


@program
def custom_vjp_with_residuals():
    """
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def safe_norm(x):
        return jnp.sqrt(jnp.sum(x ** 2))

    def fwd(x):
        n = safe_norm(x)
        return n, (x, n)

    def bwd(res, g):
        x, n = res
        return (g * x / jnp.maximum(n, 1e-6),)

    safe_norm.defvjp(fwd, bwd)
    print(jax.grad(safe_norm)(jnp.array([3.0, 4.0])))
    print(jax.grad(safe_norm)(jnp.zeros(2)))
    print(jax.value_and_grad(lambda x: safe_norm(x) * 2)(jnp.array([1.0, 1.0])))
    """


# --- higher-order derivatives ---------------------------------------------------------


@program
def higher_order_derivatives():
    """
    import jax
    import jax.numpy as jnp

    f = lambda x: x ** 3 + 2 * x ** 2 - 3 * x + 1
    d1 = jax.grad(f)
    d2 = jax.grad(d1)
    d3 = jax.grad(d2)
    print(d1(1.0), d2(1.0), d3(1.0), jax.grad(d3)(1.0))

    def g(x):
        return jnp.sum(jnp.sin(x) * x[::-1])
    x = jnp.array([0.1, 0.2, 0.3])
    print(jax.hessian(g)(x))
    print(jnp.allclose(jax.jacfwd(jax.jacrev(g))(x), jax.jacrev(jax.jacfwd(g))(x)))
    v = jnp.array([1.0, 0.0, -1.0])
    hvp = jax.jvp(jax.grad(g), (x,), (v,))[1]
    print(hvp)
    print(jax.jacobian(lambda x: jnp.stack([x[0] * x[1], jnp.exp(x[2])]))(x))
    """


@program
def newton_method():
    """
    import jax
    import jax.numpy as jnp

    f = lambda x: jnp.cos(x) - x
    x = 1.0
    for i in range(5):
        x = x - f(x) / jax.grad(f)(x)
        print(i, x)
    """


@program
def per_example_gradients():
    """
    import jax
    import jax.numpy as jnp

    def loss(w, x, y):
        return (jnp.dot(x, w) - y) ** 2

    w = jnp.array([0.5, -1.0, 2.0])
    xs = jnp.arange(12.0).reshape(4, 3) / 10
    ys = jnp.array([1.0, 0.0, -1.0, 2.0])
    per_example = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    print(per_example)
    print(per_example.mean(0))
    print(jax.grad(lambda w: jax.vmap(loss, (None, 0, 0))(w, xs, ys).mean())(w))
    """


# --- the sharp bits -------------------------------------------------------------------


@program
def sharp_bits_pure_functions():
    """
    import jax
    import jax.numpy as jnp

    g = 0.0
    def impure_uses_global(x):
        return x + g
    f = jax.jit(impure_uses_global)
    print(f(4.0))
    g = 10.0
    print(f(4.0))
    print(f(jnp.array([4.0])))

    calls = []
    def side_effect(x):
        calls.append(1)
        return x * 2
    h = jax.jit(side_effect)
    h(1.0); h(2.0); h(3.0)
    print(len(calls))
    """


@program
def sharp_bits_out_of_bounds():
    """
    import jax
    import jax.numpy as jnp

    x = jnp.arange(10)
    print(x[11], x.at[11].get())
    print(x.at[11].get(mode="fill", fill_value=-1))
    print(jnp.arange(10.0).at[11].add(1.0))
    print(jax.grad(lambda x: x[11])(jnp.arange(5.0)))
    print(jnp.zeros((2, 3)).at[..., 3].add(1.0))
    """


@program
def sharp_bits_in_place_updates():
    """
    import jax.numpy as jnp

    x = jnp.zeros((3, 3))
    try:
        x[1, :] = 1.0
    except TypeError as e:
        print(type(e).__name__, "at" in str(e))
    y = x.at[1, :].set(1.0)
    print(y)
    print(x.sum())
    z = y.at[::2, 1].add(5.0).at[2, 2].multiply(3.0)
    print(z)
    print(z.at[0].min(2.0), z.at[1].max(0.5))
    """


@program
def sharp_bits_non_array_inputs():
    """
    import jax.numpy as jnp

    try:
        jnp.sum([1, 2, 3])
    except TypeError as e:
        print("TypeError")
    print(jnp.sum(jnp.array([1, 2, 3])))
    print(jnp.array([1, 2, 3]).dtype, jnp.array([1.0, 2.0]).dtype)
    print(jnp.float32(3), jnp.int32(7.9))
    print((jnp.ones(3, jnp.int8) + 3).dtype, (jnp.ones(3, jnp.bfloat16) * 2.0).dtype)
    print((jnp.ones(3, jnp.int32) / 2).dtype, (jnp.arange(3) + 1.5).dtype)
    """


@program
def sharp_bits_control_flow():
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    def f(x):
        return lax.cond(x > 0, lambda x: x * 2, lambda x: -x, x)
    print(jax.jit(f)(3.0), jax.jit(f)(-3.0), jax.grad(f)(3.0))

    def body(i, c):
        return c + i * 0.5
    print(lax.fori_loop(0, 5, body, 0.0))
    print(lax.fori_loop(0, 3, lambda i, c: c * 1.5, 1))
    print(lax.while_loop(lambda c: c[0] < 10, lambda c: (c[0] + 3, c[1] * 2), (0, 1.0)))
    carry, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, jnp.arange(5.0))
    print(carry, ys)
    print(lax.switch(1, [lambda x: x + 1, lambda x: x * 10, lambda x: x - 1], 2.0))

    @jax.jit
    def g(x, n):
        return x * n
    try:
        jax.jit(lambda x: x if x > 0 else -x)(1.0)
    except Exception as e:
        print(type(e).__name__)
    h = jax.jit(lambda x, n: x ** n, static_argnums=1)
    print(h(2.0, 3), h(2.0, 4))
    """


@program
def sharp_bits_random():
    """
    import jax
    import jax.numpy as jnp
    from jax import random

    key = random.key(0)
    print(random.uniform(key, (3,)))
    print(random.uniform(key, (3,)))
    key, sub = random.split(key)
    print(random.uniform(sub, (3,)))
    keys = random.split(random.key(42), 4)
    print(jax.vmap(lambda k: random.bernoulli(k, 0.5, (3,)))(keys).astype(jnp.int32))
    print(random.randint(random.key(1), (5,), 0, 10))
    print(random.normal(random.fold_in(random.key(2), 7), (2,)))
    """


# --- stateful computations -------------------------------------------------------------


@program
def stateful_counter():
    """
    import jax
    import jax.numpy as jnp

    def count(state):
        return state + 1, state

    state = jnp.array(0)
    step = jax.jit(count)
    for _ in range(3):
        state, value = step(state)
        print(value)
    print(state)
    """


@program
def stateful_linear_regression():
    """
    import jax
    import jax.numpy as jnp
    from jax import random

    xs = jnp.linspace(-1.0, 1.0, 50)
    ys = 3.0 * xs - 1.0 + 0.1 * jnp.sin(7 * xs)

    def init(key):
        kw, kb = random.split(key)
        return {"w": random.normal(kw, ()), "b": random.normal(kb, ())}

    def loss(params, x, y):
        return jnp.mean((params["w"] * x + params["b"] - y) ** 2)

    @jax.jit
    def update(params, x, y, lr=0.1):
        grads = jax.grad(loss)(params, x, y)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads)

    params = init(random.key(123))
    for i in range(300):
        params = update(params, xs, ys)
    print(round(float(params["w"]), 3), round(float(params["b"]), 3))
    print(loss(params, xs, ys))
    """


@program
def stateful_batchnorm_like():
    """
    import jax
    import jax.numpy as jnp

    def apply(params, state, x, train):
        if train:
            mean = x.mean(0)
            state = {"mean": 0.9 * state["mean"] + 0.1 * mean,
                     "count": state["count"] + 1}
        else:
            mean = state["mean"]
        return (x - mean) * params["scale"], state

    params = {"scale": jnp.full(2, 2.0)}
    state = {"mean": jnp.zeros(2), "count": jnp.array(0)}
    train_step = jax.jit(apply, static_argnums=3)
    for i in range(3):
        y, state = train_step(params, state, jnp.arange(6.0).reshape(3, 2) + i, True)
    print(y)
    print(state["mean"], state["count"])
    print(train_step(params, state, jnp.ones((1, 2)), False)[0])
    """


# --- jit, vmap, shapes -------------------------------------------------------------------


@program
def jit_and_vmap_basics():
    """
    import jax
    import jax.numpy as jnp

    def selu(x, alpha=1.67, lmbda=1.05):
        return lmbda * jnp.where(x > 0, x, alpha * jnp.exp(x) - alpha)
    x = jnp.arange(-2.0, 3.0)
    print(selu(x))
    print(jax.jit(selu)(x))
    print(jax.block_until_ready(jax.jit(selu)(x)))
    mat = jnp.arange(6.0).reshape(2, 3)
    batched = jnp.arange(12.0).reshape(4, 3)
    print(jax.vmap(lambda v: mat @ v)(batched))
    print(jax.vmap(lambda v: mat @ v, in_axes=1, out_axes=1)(batched.T))
    print(jax.vmap(lambda d: d["a"] * d["b"])({"a": jnp.ones(3), "b": jnp.arange(3.0)}))
    print(jax.eval_shape(lambda x: x.reshape(-1, 2) @ jnp.ones((2, 5)), jnp.ones((4, 3))).shape)
    """


@program
def loop_of_jit():
    """
    import jax
    import jax.numpy as jnp

    f = lambda x: jnp.tanh(x) * 2
    x = jnp.ones(4)
    for _ in range(20):
        x = jax.jit(f)(x)
    print(x)
    print(jax.device_count(), jax.default_backend())
    print(jax.device_get({"a": jnp.ones(2)})["a"].sum())
    """


@program
def debug_print_in_transformations():
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    @jax.jit
    def f(x):
        jax.debug.print("x = {}", x)
        y = jnp.sin(x)
        jax.debug.print("y = {y:.4f}", y=y)
        return y * 2
    f(1.0)
    jax.effects_barrier()

    def body(c, x):
        jax.debug.print("step {} carry {}", x, c)
        return c + x, None
    lax.scan(body, 0.0, jnp.arange(3.0))
    jax.effects_barrier()
    """


# --- the runner ---------------------------------------------------------------------------

_RENAMES = [
    (r"^(\s*)import jax\.numpy as (\w+)", r"\1import funcnet.numpy as \2"),
    (r"^(\s*)import jax$", r"\1import funcnet as jax"),
    (r"^(\s*)from jax import (.+)$", r"\1from funcnet import \2"),
    (r"^(\s*)from jax\.(\S+) import (.+)$", r"\1from funcnet.\2 import \3"),
]


def rename_imports(source: str) -> str:
    """What a user does to move a program from jax to funcnet: rename the imports."""
    for pattern, repl in _RENAMES:
        source = re.sub(pattern, repl, source, flags=re.M)
    return source


def run(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<program>", "exec"), {"__name__": "__program__"})
    return out.getvalue()


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?|inf|nan)", re.I)


def assert_same_output(got: str, want: str):
    """Equal words, numbers equal to a float32 tolerance, line by line."""
    got_lines, want_lines = got.strip().splitlines(), want.strip().splitlines()
    assert len(got_lines) == len(want_lines), f"funcnet printed\n{got}\njax printed\n{want}"
    for g, w in zip(got_lines, want_lines):
        g_words = _NUMBER.split(g.replace(" ", ""))
        w_words = _NUMBER.split(w.replace(" ", ""))
        assert g_words == w_words, f"funcnet: {g!r}\njax:     {w!r}"
        g_nums = np.array(_NUMBER.findall(g), np.float64)
        w_nums = np.array(_NUMBER.findall(w), np.float64)
        np.testing.assert_allclose(
            g_nums, w_nums, rtol=2e-5, atol=2e-6, err_msg=f"funcnet: {g!r}\njax:     {w!r}"
        )


def test_rename_imports():
    src = (
        "import jax\nimport jax.numpy as jnp\nfrom jax import lax, random\n"
        "from jax.tree_util import Partial\n    import jax\n"
    )
    assert rename_imports(src) == (
        "import funcnet as jax\nimport funcnet.numpy as jnp\nfrom funcnet import lax, "
        "random\nfrom funcnet.tree_util import Partial\n    import funcnet as jax\n"
    )


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_prints_what_jax_prints(name):
    source = PROGRAMS[name]
    want = run(source)
    got = run(rename_imports(source))
    assert_same_output(got, want)
