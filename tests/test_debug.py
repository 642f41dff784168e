"""funcnet.debug (print, callback, breakpoint) against jax.debug: the lines printed by
the same programs eagerly and under jit, vmap, grad, loops and branches; ordering;
dead-code elimination; callbacks' arguments; errors."""

import gc
import io
import threading
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.debug
import funcnet.numpy as fnp
from funcnet.core import passes
from funcnet.runtime import xla

FN = types.SimpleNamespace(api=fn, np=fnp, lax=fn.lax, debug=funcnet.debug)
JAX = types.SimpleNamespace(api=jax, np=jnp, lax=jax.lax, debug=jax.debug)


def _lines(capsys, run, lib):
    capsys.readouterr()
    run(lib)
    if lib is JAX:
        jax.effects_barrier()  # jax's callbacks may still be running; funcnet's calls wait
    return capsys.readouterr().out.splitlines()


def _same_as_jax(capsys, run, ordered=True):
    """The lines funcnet prints for `run(lib)` are jax's; unordered prints of one compiled
    program may come out in any order (in both), so then only the multiset is compared."""
    got, want = _lines(capsys, run, FN), _lines(capsys, run, JAX)
    assert want, "the reference printed nothing: the program is not testing anything"
    if ordered:
        assert got == want
    else:
        assert sorted(got) == sorted(want)
    return got


X3 = np.array([0.5, -1.0, 2.0], np.float32)


# --- the programs -----------------------------------------------------------------------


def _two_prints(lib):
    def f(x):
        lib.debug.print("x = {x}, total = {}", x.sum(), x=x)
        y = lib.np.sin(x)
        lib.debug.print("y = {}", y)
        return (y * x).sum()

    return f


def _scan_body(lib):
    def f(xs):
        def body(c, x):
            lib.debug.print("carry {} x {}", c, x)
            return c * x + 1.0, c

        return lib.lax.scan(body, 1.0, xs)[0]

    return f


def _fori(lib):
    def f(x):
        def body(i, c):
            lib.debug.print("i={} c={c:.3f}", i, c=c)
            return c * 1.5

        return lib.lax.fori_loop(0, 3, body, x)

    return f


def _while(lib):
    def f(x):
        def body(c):
            lib.debug.print("while {}", c)
            return c + 1.0

        return lib.lax.while_loop(lambda c: c < 3.0, body, x)

    return f


def _cond(lib):
    def f(x):
        def pos(x):
            lib.debug.print("positive {}", x)
            return x

        def neg(x):
            lib.debug.print("negative {}", x)
            return -x

        return lib.lax.cond(x > 0, pos, neg, x)

    return f


PROGRAMS = {
    "eager": lambda lib: _two_prints(lib)(X3),
    "jit": lambda lib: lib.api.jit(_two_prints(lib))(X3),
    "vmap": lambda lib: lib.api.vmap(_two_prints(lib))(X3.reshape(3, 1)),
    "jit_vmap": lambda lib: lib.api.jit(lib.api.vmap(_two_prints(lib)))(X3.reshape(3, 1)),
    "grad": lambda lib: lib.api.grad(_two_prints(lib))(X3),
    "jit_grad": lambda lib: lib.api.jit(lib.api.grad(_two_prints(lib)))(X3),
    "jit_vmap_grad": lambda lib: lib.api.jit(lib.api.vmap(lib.api.grad(_two_prints(lib))))(
        X3.reshape(3, 1)
    ),
    "vmap_vmap": lambda lib: lib.api.vmap(lib.api.vmap(_two_prints(lib)))(X3.reshape(3, 1, 1)),
    "scan": lambda lib: lib.api.jit(_scan_body(lib))(X3),
    "scan_eager": lambda lib: _scan_body(lib)(X3),
    "grad_scan": lambda lib: lib.api.grad(_scan_body(lib))(X3),
    "jit_grad_scan": lambda lib: lib.api.jit(lib.api.grad(_scan_body(lib)))(X3),
    "vmap_scan": lambda lib: lib.api.jit(lib.api.vmap(_scan_body(lib)))(X3.reshape(1, 3)),
    "fori": lambda lib: lib.api.jit(_fori(lib))(np.float32(1.0)),
    "fori_eager": lambda lib: _fori(lib)(np.float32(1.0)),
    "jvp_fori": lambda lib: lib.api.jvp(_fori(lib), (np.float32(1.0),), (np.float32(1.0),)),
    "while": lambda lib: lib.api.jit(_while(lib))(np.float32(0.5)),
    "cond_true": lambda lib: lib.api.jit(_cond(lib))(np.float32(2.0)),
    "cond_false": lambda lib: lib.api.jit(_cond(lib))(np.float32(-2.0)),
    "vmap_cond": lambda lib: lib.api.jit(lib.api.vmap(_cond(lib)))(X3),
    "grad_cond": lambda lib: lib.api.grad(_cond(lib))(np.float32(2.0)),
    "jvp": lambda lib: lib.api.jvp(_two_prints(lib), (X3,), (np.ones(3, np.float32),)),
    "checkpoint_grad": lambda lib: lib.api.grad(lib.api.checkpoint(_two_prints(lib)))(X3),
    "grad_jit": lambda lib: lib.api.grad(lib.api.jit(_two_prints(lib)))(X3),
    "vmap_jit": lambda lib: lib.api.vmap(lib.api.jit(_two_prints(lib)))(X3.reshape(3, 1)),
    "jit_jit": lambda lib: lib.api.jit(lambda x: lib.api.jit(_two_prints(lib))(x) * 2)(X3),
    "vjp_scan": lambda lib: lib.api.vjp(_scan_body(lib), X3)[1](np.float32(1.0)),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_prints_what_jax_prints(capsys, name):
    _same_as_jax(capsys, PROGRAMS[name], ordered=False)


@pytest.mark.parametrize(
    "name", ["eager", "vmap", "grad", "scan_eager", "fori_eager", "vmap_vmap", "jvp_fori"]
)
def test_eager_prints_in_program_order(capsys, name):
    """Without a compiled program, each print runs when it is reached: jax's order."""
    _same_as_jax(capsys, PROGRAMS[name], ordered=True)


def test_loop_bodies_print_once_per_iteration_in_order(capsys):
    lines = _same_as_jax(capsys, PROGRAMS["fori"], ordered=True)
    assert lines == ["i=0 c=1.000", "i=1 c=1.500", "i=2 c=2.250"]


def test_vmap_prints_once_per_example(capsys):
    def run(lib):
        def f(x, y):
            lib.debug.print("x={} y={}", x, y)
            lib.debug.print("only the unbatched y={}", y)  # no batched value: printed once
            return x

        lib.api.vmap(f, in_axes=(1, None))(
            np.arange(6.0, dtype=np.float32).reshape(2, 3), np.float32(7.0)
        )

    lines = _same_as_jax(capsys, run, ordered=True)
    assert len(lines) == 4


# --- formatting ----------------------------------------------------------------------------


def test_format_syntax_matches_jax(capsys):
    def run(lib):
        @lib.api.jit
        def f(x, tree):
            lib.debug.print("{x:.3f} | {0} | {1!r} | {t} | {x:>8}", x.sum(), x[:2], t=tree, x=x[0])
            lib.debug.print("{} {} {} {}", "text", 2, 2.5, True)  # static and Python values
            lib.debug.print("shape {a.shape} first {a[0]}", a=x)
            lib.debug.print("{}", (x > 0, x.astype(lib.np.int32), x.astype(lib.np.bfloat16)))
            return x

        f(X3, {"b": (np.int32(3),), "a": np.ones(2, np.float32)})

    _same_as_jax(capsys, run, ordered=False)


def test_numpy_printoptions_of_the_call_apply(capsys):
    def run(lib):
        f = lib.api.jit(lambda x: (lib.debug.print("{}", x), x)[1])
        with np.printoptions(precision=2):
            f(np.array([1 / 3, 2 / 3], np.float32))

    assert _same_as_jax(capsys, run) == ["[0.33 0.67]"]


def test_two_call_form(capsys):
    def run(lib):
        lib.api.jit(lambda x: (lib.debug.print(ordered=True)("two-call {}", x), x)[1])(X3)
        lib.debug.callback(ordered=True)(lambda v: print("cb", v), X3[0])

    _same_as_jax(capsys, run)


def test_format_errors_are_jaxs():
    x = fnp.ones(2)
    with pytest.raises(ValueError, match="Unused positional arguments"):
        funcnet.debug.print("{}", x, x)
    with pytest.raises(ValueError, match="f-string"):
        funcnet.debug.print("x", x=x)
    with pytest.raises(KeyError):
        funcnet.debug.print("{y}", x=x)
    with pytest.raises(TypeError, match="must be callable"):
        funcnet.debug.callback(3, x)
    with pytest.raises(TypeError, match="format must be a str"):
        funcnet.debug.print(x)


# --- callbacks -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eager", "jit", "vmap"])
def test_callback_gets_numpy_values_and_static_leaves(mode):
    seen = []

    def record(a, tree, tag, scale=None):
        seen.append((a, tree, tag, scale))

    def f(x):
        funcnet.debug.callback(record, x * 2, {"y": x + 1, "n": 3}, "tag", scale=0.5)
        return x

    x = np.arange(3.0, dtype=np.float32)
    if mode == "vmap":
        fn.vmap(f)(x.reshape(3, 1))
        assert len(seen) == 3
        np.testing.assert_array_equal(seen[2][0], [4.0])
    else:
        (fn.jit(f) if mode == "jit" else f)(x)
        assert len(seen) == 1
        a, tree, tag, scale = seen[0]
        assert type(a) is np.ndarray and a.dtype == np.float32
        np.testing.assert_array_equal(a, x * 2)
        np.testing.assert_array_equal(tree["y"], x + 1)
        assert tree["n"].dtype == np.int32 and int(tree["n"]) == 3  # a number is a value
        assert tag == "tag"  # a string is static: passed as given
        assert float(scale) == 0.5


def test_callback_may_run_array_code(capsys):
    def run(lib):
        def show(v):
            print("sum of doubles", lib.np.sum(v * 2))  # eager ops inside a running program

        lib.api.jit(lambda x: (lib.debug.callback(show, x), x)[1])(X3)

    assert _same_as_jax(capsys, run) == ["sum of doubles 3.0"]


def test_executable_keeps_its_callbacks_alive():
    """A compiled program still reaches its callback after the program's IR is gone."""
    seen = []
    jitted = fn.jit(lambda x: (funcnet.debug.callback(seen.append, x), x)[1])
    lowered = jitted.lower(fnp.ones(3))
    exe = xla.Executable(lowered.as_text(), xla.default_device(), 1)
    del jitted, lowered
    gc.collect()
    exe.execute([xla.device_put(np.arange(3.0, dtype=np.float32))])
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [0.0, 1.0, 2.0])


def test_callback_exception_reaches_the_caller():
    def fail(v):
        raise ValueError(f"bad value {v}")

    f = fn.jit(lambda x: (funcnet.debug.callback(fail, x), x + 1)[1])
    with pytest.raises(ValueError, match="bad value"):
        f(fnp.ones(()))
    with pytest.raises(ValueError, match="bad value"):
        funcnet.debug.callback(fail, fnp.ones(()))  # eagerly too
    seen = []  # the failure left nothing behind: the next program's callback runs
    fn.jit(lambda x: (funcnet.debug.callback(seen.append, x), x)[1])(fnp.ones(()))
    assert len(seen) == 1


def test_jitted_call_waits_for_its_callbacks():
    """When a jitted call returns, its callbacks have run (no barrier needed)."""
    seen = []
    f = fn.jit(lambda x: (funcnet.debug.callback(seen.append, x), x @ x)[1])
    big = fnp.ones((256, 256))
    for i in range(3):
        f(big * i)
        assert len(seen) == i + 1 and float(seen[-1][0, 0]) == i


def test_effects_barrier_waits_for_other_threads_callbacks():
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def hold(v):
        entered.set()
        release.wait()

    f = fn.jit(lambda x: (funcnet.debug.callback(hold, x), x + 1)[1])
    runner = threading.Thread(target=lambda: f(fnp.ones(())))
    runner.start()
    assert entered.wait(60)
    waiter = threading.Thread(target=lambda: (funcnet.debug.effects_barrier(), finished.set()))
    waiter.start()
    waiter.join(0.2)
    held = not finished.is_set()  # still waiting while the callback runs
    release.set()
    waiter.join(60)
    runner.join(60)
    assert held and finished.is_set()
    funcnet.debug.effects_barrier()  # nothing in flight: returns at once


def test_effects_barrier_inside_a_callback_is_an_error():
    errors = []

    def barrier_inside(v):
        try:
            funcnet.debug.effects_barrier()
        except RuntimeError as e:
            errors.append(str(e))

    fn.jit(lambda x: (funcnet.debug.callback(barrier_inside, x), x)[1])(fnp.ones(()))
    assert errors and "inside a host callback" in errors[0]


# --- side effects survive the program passes ------------------------------------------------


def test_print_survives_dce_and_cse(capsys):
    def run(lib):
        def f(x):
            lib.debug.print("unused {}", x)  # nothing reads it: still printed
            lib.debug.print("unused {}", x)  # the same again: printed twice, not merged
            lib.lax.fori_loop(0, 2, lambda i, c: (lib.debug.print("dead loop {}", i), c)[1], x)
            return x * 2

        lib.api.jit(f)(np.float32(1.0))

    assert len(_same_as_jax(capsys, run, ordered=False)) == 4


def test_dce_keeps_effectful_equations_and_programs_holding_them():
    def f(x):
        funcnet.debug.print("{}", x)
        fn.lax.fori_loop(0, 2, lambda i, c: (funcnet.debug.print("{}", i), c + 1.0)[1], x)
        return x * 2

    closed = fn.make_jaxpr(f)(np.float32(1.0))
    kept = passes.optimize(closed)
    names = [e.primitive.name for e in kept.eqns]
    assert names.count("debug_callback") == 1 and names.count("scan") == 1  # the fori_loop
    loop = next(e for e in kept.eqns if e.primitive.name == "scan")
    assert passes.is_effectful(loop) and not loop.primitive.effectful
    assert passes.has_effects(kept) and not passes.has_effects(fn.make_jaxpr(fnp.sin)(1.0))
    pure = fn.make_jaxpr(lambda x: (fnp.sin(x), x * 2)[1])(np.float32(1.0))
    assert [e.primitive.name for e in passes.optimize(pure).eqns] == ["mul"]


# --- ordering ---------------------------------------------------------------------------


def _ordered_block(lib):
    def f(x):
        for k in range(6):
            lib.debug.print("step {}", x + k, ordered=True)
        y = (x * lib.np.ones((64, 64))) @ lib.np.ones((64, 64))
        lib.debug.print("after matmul {}", y[0, 0], ordered=True)
        return y

    return f


def test_ordered_prints_keep_program_order_in_a_block(capsys):
    def run(lib):
        f = lib.api.jit(_ordered_block(lib))
        for _ in range(3):
            f(np.float32(1.0))

    lines = _same_as_jax(capsys, run, ordered=True)
    assert lines[:7] == [f"step {k + 1.0}" for k in range(6)] + ["after matmul 64.0"]


def test_ordered_prints_in_loop_bodies_keep_their_order(capsys):
    def run(lib):
        def f(xs):
            def body(c, x):
                lib.debug.print("a {}", x, ordered=True)
                lib.debug.print("b {}", c, ordered=True)
                return c + x, x

            return lib.lax.scan(body, 0.0, xs)

        lib.api.jit(lib.api.vmap(f))(X3.reshape(1, 3))

    _same_as_jax(capsys, run, ordered=True)


def test_ordered_prints_across_loops_and_branches(capsys):
    def run(lib):
        def f(x):
            for k in range(3):
                lib.debug.print("before {}", x + k, ordered=True)
            c = lib.lax.fori_loop(
                0, 3, lambda i, c: (lib.debug.print("loop {}", i, ordered=True), c + i)[1], x
            )
            lib.lax.cond(x > 0, lambda: lib.debug.print("branch", ordered=True), lambda: None)
            for k in range(3):
                lib.debug.print("after {}", x + k, ordered=True)
            return c

        f = lib.api.jit(f)
        for _ in range(3):
            f(np.float32(1.0))

    _same_as_jax(capsys, run, ordered=True)


# --- breakpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eager", "jit", "vmap"])
def test_breakpoint_opens_pdb_on_the_values(capsys, monkeypatch, mode):
    def f(x):
        y = x * 2
        funcnet.debug.breakpoint()
        return y

    lanes = 2 if mode == "vmap" else 1
    monkeypatch.setattr("sys.stdin", io.StringIO("p y\nc\n" * lanes))
    x = np.array([1.0, 2.0], np.float32)
    if mode == "vmap":
        fn.vmap(f)(x)
    else:
        (fn.jit(f) if mode == "jit" else f)(x)
    out = capsys.readouterr().out
    assert out.count("Entering funcnet.debug.breakpoint at") == lanes
    assert "test_debug.py" in out
    if mode == "vmap":
        assert "array(2., dtype=float32)" in out and "array(4., dtype=float32)" in out
    else:
        assert "array([2., 4.], dtype=float32)" in out
