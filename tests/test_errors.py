"""Bad input gives clear Python exceptions: shape mismatches name both shapes and the
user's line; bad jit arguments name their path and type; Python control flow on traced
values explains the fixes; leaked tracers are caught; nothing crashes the interpreter."""

import os
import sys

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.runtime import xla

THIS_FILE = os.path.basename(__file__)


def _here():
    """The caller's line number."""
    return sys._getframe(1).f_lineno


def _names_line(err, line):
    return f"{THIS_FILE}:{line}" in str(err)


A = fnp.ones((2, 3))
B = fnp.ones((4, 5))


# --- shape mismatches ----------------------------------------------------------------------

SHAPE_ERRORS = {
    "add": lambda a, b: fnp.add(a, b),
    "operator": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b,
    "dot": lambda a, b: fnp.dot(a, b),
    "concatenate": lambda a, b: fnp.concatenate([a, b]),
    "concatenate_axis1": lambda a, b: fnp.concatenate([a, b], axis=1),
}


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("name", sorted(SHAPE_ERRORS))
def test_shape_mismatch_names_both_shapes_and_the_line(name, mode):
    op = SHAPE_ERRORS[name]
    line = op.__code__.co_firstlineno
    run = op if mode == "eager" else fn.jit(op)
    with pytest.raises((TypeError, ValueError)) as info:
        run(A, B)
    msg = str(info.value)
    assert "(2, 3)" in msg and "(4, 5)" in msg, msg
    assert _names_line(info.value, line), msg


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_reshape_mismatch_names_both_shapes_and_the_line(mode):
    def f(x):
        return x.reshape(7, 1)

    run = f if mode == "eager" else fn.jit(f)
    with pytest.raises((TypeError, ValueError)) as info:
        run(A)
    msg = str(info.value)
    assert "(2, 3)" in msg and "(7, 1)" in msg, msg
    assert _names_line(info.value, f.__code__.co_firstlineno + 1), msg


def test_shape_error_in_a_nested_function_names_the_innermost_user_line():
    def helper(x, y):
        return x + y

    def model(x, y):
        return helper(x, y) * 2.0

    with pytest.raises(ValueError) as info:
        fn.jit(model)(A, B)
    assert _names_line(info.value, helper.__code__.co_firstlineno + 1)
    assert "(at " in str(info.value) and "(helper)" in str(info.value)


# --- bad arguments to jit --------------------------------------------------------------------


def test_non_array_argument_names_its_position_and_type():
    f = fn.jit(lambda x, y: x + y)
    with pytest.raises(TypeError, match=r"argument y \(argument 1\) is of type str \('hello'\)"):
        f(A, "hello")
    with pytest.raises(TypeError, match=r"argument x \(argument 0\) is of type object"):
        f(object(), A)


def test_non_array_leaf_names_its_path():
    def loss(params, batch):
        return params["w"][0] * batch

    f = fn.jit(loss)
    bad = {"w": [A, object()]}
    with pytest.raises(
        TypeError,
        match=r"argument params\['w'\]\[1\] \(argument 0\) is of "
        r"type object",
    ):
        f(bad, A)
    with pytest.raises(
        TypeError,
        match=r"argument batch \(keyword argument\) is of type "
        r"str",
    ):
        f({"w": [A]}, batch="x")


def test_argument_paths_skip_static_arguments():
    f = fn.jit(lambda n, x, y: x * n + y, static_argnums=0)
    with pytest.raises(TypeError, match=r"argument y \(argument 2\) is of type str"):
        f(2, A, "s")
    g = fn.jit(lambda *xs: xs[0])
    with pytest.raises(TypeError, match=r"argument args\[1\] is of type"):
        g(A, object)


@pytest.mark.parametrize(
    "value, dtype",
    [
        (np.ones(3, np.longdouble), np.dtype(np.longdouble).name),
        (np.array(["a", "b"]), "<U1"),
        (np.array([object()]), "object"),
    ],
)
def test_unsupported_dtype_argument_names_position_and_dtype(value, dtype):
    f = fn.jit(lambda p, x: p * 2)
    with pytest.raises(TypeError) as info:
        f(A, value)
    msg = str(info.value)
    assert "jit(<lambda>): argument x (argument 1)" in msg, msg
    assert f"dtype {dtype}" in msg and "not support" in msg, msg


def test_unsupported_dtype_in_eager_asarray():
    with pytest.raises(TypeError, match=f"{np.dtype(np.longdouble).name} is not supported"):
        fn.asarray(np.ones(2, np.longdouble))
    with pytest.raises(TypeError, match="str"):
        fn.asarray("abc")


def test_complex_python_scalar_is_a_weak_complex():  # complex numbers are supported now
    out = fn.jit(lambda x: x)(1j)
    assert out.dtype == np.complex64 and out.weak_type and complex(out) == 1j


def test_non_array_output_is_named():
    with pytest.raises(
        TypeError,
        match=r"returned a value of type str \('s'\) as "
        r"output\['msg'\]",
    ):
        fn.jit(lambda x: {"y": x, "msg": "s"})(A)


def test_wrong_number_of_arguments_is_pythons_own_error():
    with pytest.raises(TypeError, match="positional argument"):
        fn.jit(lambda x, y: x)(A)


# --- Python control flow on traced values -------------------------------------------------------


def _check_concretization_message(err, line):
    msg = str(err)
    assert "fnp.where" in msg and "fn.lax.cond" in msg and "static_argnums" in msg, msg
    assert "f32[]" in msg or "bool[]" in msg, msg
    assert _names_line(err, line), msg


def test_if_on_a_traced_value():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(fn.ConcretizationError) as info:
        fn.jit(f)(1.0)
    _check_concretization_message(info.value, f.__code__.co_firstlineno + 1)
    assert isinstance(info.value, TypeError)  # as jax: catchable as a TypeError too


def test_while_int_float_on_traced_values():
    def loop(x):
        while x < 10:
            x = x * 2
        return x

    with pytest.raises(fn.ConcretizationError):
        fn.jit(loop)(1.0)
    for conv in (int, float, bool):
        with pytest.raises(fn.ConcretizationError, match=rf"{conv.__name__}\(\)"):
            fn.jit(lambda x, conv=conv: conv(x))(1.0)
    with pytest.raises(fn.ConcretizationError, match=r"np\.asarray"):
        fn.jit(lambda x: np.asarray(x))(A)


def test_the_suggested_fixes_work():
    # fnp.where instead of `if`
    f = fn.jit(lambda x: fnp.where(x > 0, x, -x))
    np.testing.assert_array_equal(np.asarray(f(fn.asarray(np.array([-1.0, 2.0])))), [1, 2])

    # static_argnums for a Python-level decision
    def g(x, flag):
        return x + 1 if flag > 0 else x - 1

    g_jit = fn.jit(g, static_argnums=1)
    assert float(g_jit(1.0, 1)) == 2.0 and float(g_jit(1.0, -1)) == 0.0


def test_shape_based_control_flow_is_fine():
    def f(x):
        if x.shape[0] > 2:  # shapes are static under jit
            return x.sum()
        return x.max()

    assert float(fn.jit(f)(fnp.ones(3))) == 3.0


# --- leaked tracers ---------------------------------------------------------------------------


def test_tracer_escaping_jit_raises_when_used():
    leaked = []

    def f(x):
        leaked.append(x * 2.0)
        return x + 1

    fn.jit(f)(1.0)
    tracer = leaked[0]
    line, use = _here(), (lambda: tracer + 1)
    with pytest.raises(fn.UnexpectedTracerError) as info:
        use()
    msg = str(info.value)
    assert "escaped" in msg and "f32[]" in msg, msg
    assert _names_line(info.value, line), msg  # where it was used
    assert _names_line(info.value, f.__code__.co_firstlineno + 1), msg  # where it was made

    with pytest.raises(fn.UnexpectedTracerError):
        fnp.sin(tracer)
    with pytest.raises(fn.UnexpectedTracerError):
        fn.jit(lambda y: y * tracer)(2.0)


def test_leaked_argument_tracer_names_the_jit_call():
    leaked = []

    def f(x):
        leaked.append(x)
        return x

    line, _ = _here(), fn.jit(f)(1.0)
    with pytest.raises(fn.UnexpectedTracerError) as info:
        leaked[0] * 2
    assert _names_line(info.value, line), str(info.value)


def test_tracer_escaping_through_a_global_in_make_jaxpr():
    box = {}

    def f(x):
        box["y"] = x * 2.0
        return x

    fn.make_jaxpr(f)(fnp.ones(2))
    with pytest.raises(fn.UnexpectedTracerError):
        box["y"] + fnp.ones(2)


def test_leaked_tracer_is_a_funcnet_error():
    assert issubclass(fn.UnexpectedTracerError, fn.FuncnetError)
    assert issubclass(fn.ConcretizationError, fn.FuncnetError)


# --- nothing crashes the interpreter --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "this is not MLIR",
        # type mismatch between the returned value and the function type
        (
            "module @m {\n  func.func public @main(%arg0: tensor<3xf32>) -> (tensor<4xf32>) {\n"
            '    "func.return"(%arg0) : (tensor<3xf32>) -> ()\n  }\n}\n'
        ),
        # an op whose result type contradicts its operands
        (
            "module @m {\n  func.func public @main(%arg0: tensor<3xf32>) -> (tensor<4xf32>) {\n"
            '    %0 = "stablehlo.add"(%arg0, %arg0) : (tensor<3xf32>, tensor<3xf32>) '
            "-> tensor<4xf32>\n"
            '    "func.return"(%0) : (tensor<4xf32>) -> ()\n  }\n}\n'
        ),
    ],
)
def test_bad_stablehlo_is_a_python_exception(text):
    with pytest.raises(Exception) as info:
        xla.Executable(text, xla.default_device(), 1)
    assert "error" in str(info.value).lower()
    # ... and the runtime still works afterwards.
    assert float(fn.jit(lambda x: x * 3)(2.0)) == 6.0


def test_errors_during_tracing_leave_no_trace_state_behind():
    def bad(x):
        return x + fnp.ones(5)

    for _ in range(2):
        with pytest.raises(ValueError):
            fn.jit(bad)(fnp.ones(3))
    # eager mode is back: operations run at once and return concrete Arrays
    y = fnp.ones(3) + 1
    assert isinstance(y, fn.Array)
    assert fn.jit(lambda x: x + 1)(fnp.ones(3)).shape == (3,)


def test_failed_trace_is_not_cached():
    calls = []

    def f(x, fail):
        calls.append(1)
        if fail:
            raise RuntimeError("boom")
        return x

    g = fn.jit(f, static_argnums=1)
    with pytest.raises(RuntimeError, match="boom"):
        g(A, True)
    with pytest.raises(RuntimeError, match="boom"):
        g(A, True)
    assert len(calls) == 2
    g(A, False)
