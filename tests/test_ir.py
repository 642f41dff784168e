"""The IR: printer goldens, passes (DCE, CSE), typecheck, eval_jaxpr, and the StableHLO
emitter (goldens, source locations that survive into XLA's optimized HLO)."""

import os
import re
import textwrap

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.backend.lowering import dense_attr, location, lower_to_module, tensor_type
from funcnet.core import passes
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, JaxprEqn, Var, eval_jaxpr, typecheck
from funcnet.core.source_info import SourceInfo
from funcnet.core.trace import Primitive
from funcnet.lax import elementwise as ew
from funcnet.runtime import xla

THIS_FILE = os.path.basename(__file__)


def golden(text):
    return textwrap.dedent(text).strip("\n")


@pytest.fixture
def unoptimized():
    """Trace without DCE/CSE, to see the program exactly as staged."""
    old = fn.config.optimize_jaxprs
    fn.config.optimize_jaxprs = False
    yield
    fn.config.optimize_jaxprs = old


# --- the printer ------------------------------------------------------------------------


def test_print_mlp_layer():
    def layer(w, b, x):
        return fnp.maximum(x @ w + b, 0.0)

    jaxpr = fn.make_jaxpr(layer)(fnp.ones((3, 4)), fnp.zeros(4), fnp.ones((2, 3)))
    assert str(jaxpr) == golden("""
        { lambda ; a:f32[3,4] b:f32[4] c:f32[2,3]. let
            d:f32[2,4] = dot_general[dimension_numbers=(((1,), (0,)), ((), ()))] c a
            e:f32[2,4] = broadcast_in_dim[broadcast_dimensions=(1,), shape=(2, 4)] b
            f:f32[2,4] = add d e
            g:f32[2,4] = broadcast_in_dim[broadcast_dimensions=(), shape=(2, 4)] 0.0:f32[]
            h:f32[2,4] = max f g
          in (h,) }
    """)


def test_print_reductions_and_tuple_output():
    jaxpr = fn.make_jaxpr(lambda x: (x.sum(axis=1), fnp.exp(x).mean()))(fnp.ones((2, 3)))
    assert str(jaxpr) == golden("""
        { lambda ; a:f32[2,3]. let
            b:f32[2] = reduce_sum[axes=(1,)] a
            c:f32[2,3] = exp a
            d:f32[] = reduce_sum[axes=(0, 1)] c
            e:f32[] = div d 6.0:f32[]
          in (b, e) }
    """)


def test_print_casts_and_shape_ops():
    def f(x):
        return x.astype(fnp.int32).reshape(3, 2).T

    assert str(fn.make_jaxpr(f)(fnp.ones((2, 3)))) == golden("""
        { lambda ; a:f32[2,3]. let
            b:i32[2,3] = convert_element_type[new_dtype=int32, weak_type=False] a
            c:i32[3,2] = reshape[new_sizes=(3, 2)] b
            d:i32[2,3] = transpose[permutation=(1, 0)] c
          in (d,) }
    """)


def test_print_literals_and_constvars():
    c = fn.asarray(np.arange(3.0, dtype=np.float32))
    n = np.arange(3.0, dtype=np.float32)
    # A closed-over Array and a NumPy array become constvars (before the ';');
    # Python and NumPy scalars become literals written into the equations.
    jaxpr = fn.make_jaxpr(lambda x: (x + c) * n - np.float32(2.0))(fnp.ones(3))
    assert str(jaxpr) == golden("""
        { lambda a:f32[3] b:f32[3]; c:f32[3]. let
            d:f32[3] = add c a
            e:f32[3] = mul d b
            f:f32[3] = broadcast_in_dim[broadcast_dimensions=(), shape=(3,)] 2.0:f32[]
            g:f32[3] = sub e f
          in (g,) }
    """)
    assert len(jaxpr.consts) == 2
    np.testing.assert_array_equal(np.asarray(jaxpr.consts[0]), np.arange(3.0))
    # A literal may also be an output.
    assert str(fn.make_jaxpr(lambda x: (x, 1.0))(fnp.ones(2, fnp.int32))) == golden("""
        { lambda ; a:i32[2]. let
          in (a, 1.0:f32[]) }
    """)


def test_print_nested_jit():
    inner = fn.jit(lambda x: fnp.sin(x) * 2.0)
    jaxpr = fn.make_jaxpr(lambda x: inner(x) + 1.0)(fnp.ones(3))
    assert str(jaxpr) == golden("""
        { lambda ; a:f32[3]. let
            b:f32[3] = jit[name=<lambda>, jaxpr=
                { lambda ; c:f32[3]. let
                    d:f32[3] = sin c
                    e:f32[3] = broadcast_in_dim[broadcast_dimensions=(), shape=(3,)] 2.0:f32[]
                    f:f32[3] = mul d e
                  in (f,) }] a
            g:f32[3] = broadcast_in_dim[broadcast_dimensions=(), shape=(3,)] 1.0:f32[]
            h:f32[3] = add b g
          in (h,) }
    """)


def test_printer_omits_none_params():
    text = str(fn.make_jaxpr(lambda a, b: a @ b)(fnp.ones((2, 3)), fnp.ones((3, 4))))
    assert "None" not in text
    assert "precision" not in text


def test_print_many_variables_has_unique_names():
    def f(x):
        for _ in range(30):
            x = fnp.sin(x)
        return x

    text = str(fn.make_jaxpr(f)(fnp.ones(2)))
    binders = re.findall(r"^\s+(\w+):f32\[2\] =", text, re.MULTILINE)
    assert len(binders) == 30 and len(set(binders)) == 30
    assert "aa:f32[2] = sin z" in text  # after z comes aa


def test_make_jaxpr_static_argnums_and_pytrees():
    def f(params, x, n):
        return {"y": params["w"] * x**n, "aux": [x]}

    closed, shapes = fn.make_jaxpr(f, static_argnums=2, return_shape=True)(
        {"w": fnp.ones(2)}, fnp.ones(2), 2
    )
    assert isinstance(closed, ClosedJaxpr)
    assert [str(a.str_short()) for a in closed.in_avals] == ["f32[2]", "f32[2]"]
    assert shapes["y"].shape == (2,) and shapes["aux"][0].shape == (2,)
    # as jax: the shapes are ShapeDtypeStructs
    assert shapes["y"] == fn.ShapeDtypeStruct((2,), np.float32)


# --- source lines -------------------------------------------------------------------------


def test_equations_record_the_users_line():
    def f(x):
        y = fnp.sin(x)
        return y * 2.0

    closed = fn.make_jaxpr(f)(fnp.ones(3))
    first = f.__code__.co_firstlineno
    infos = {e.primitive.name: e.source_info for e in closed.eqns}
    assert infos["sin"].file == __file__
    assert infos["sin"].line == first + 1
    assert infos["sin"].function == "f"
    assert infos["mul"].line == first + 2
    assert infos["sin"].column == 13  # 1-based column of `fnp.sin(x)`


# --- passes ---------------------------------------------------------------------------------


def _duplicated_and_dead(x):
    a = fnp.sin(x)
    b = fnp.sin(x)
    _unused = fnp.cos(x) * 3.0
    return a + b


def test_dce_removes_unused_equations(unoptimized):
    raw = fn.make_jaxpr(_duplicated_and_dead)(fnp.ones(3))
    assert [e.primitive.name for e in raw.eqns] == [
        "sin",
        "sin",
        "cos",
        "broadcast_in_dim",
        "mul",
        "add",
    ]
    assert str(passes.dce(raw)) == golden("""
        { lambda ; a:f32[3]. let
            b:f32[3] = sin a
            c:f32[3] = sin a
            d:f32[3] = add b c
          in (d,) }
    """)


def test_dce_drops_unused_constants(unoptimized):
    c = fn.asarray(np.ones(3, np.float32))
    raw = fn.make_jaxpr(lambda x: (x, x + c)[0])(fnp.ones(3))
    assert len(raw.consts) == 1
    out = passes.dce(raw)
    assert out.consts == [] and out.jaxpr.constvars == [] and out.eqns == []


def test_cse_merges_duplicates(unoptimized):
    raw = fn.make_jaxpr(_duplicated_and_dead)(fnp.ones(3))
    merged = passes.cse(raw)
    assert [e.primitive.name for e in merged.eqns] == [
        "sin",
        "cos",
        "broadcast_in_dim",
        "mul",
        "add",
    ]
    assert str(passes.optimize(raw)) == golden("""
        { lambda ; a:f32[3]. let
            b:f32[3] = sin a
            c:f32[3] = add b b
          in (c,) }
    """)


def test_cse_keeps_different_params_and_literals(unoptimized):
    raw = fn.make_jaxpr(lambda x: (x.sum(axis=0), x.sum(axis=1), x * 2.0, x * 3.0))(
        fnp.ones((2, 2))
    )
    assert len(passes.cse(raw).eqns) == len(raw.eqns)


def test_make_jaxpr_runs_the_passes_by_default():
    closed = fn.make_jaxpr(_duplicated_and_dead)(fnp.ones(3))
    assert [e.primitive.name for e in closed.eqns] == ["sin", "add"]


def test_optimized_program_computes_the_same(unoptimized):
    x = fn.asarray(np.linspace(-1, 1, 5, dtype=np.float32))
    raw = fn.make_jaxpr(_duplicated_and_dead)(x)
    expected = eval_jaxpr(raw.jaxpr, raw.consts, x)[0]
    got = eval_jaxpr(passes.optimize(raw).jaxpr, [], x)[0]
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


# --- typecheck and eval_jaxpr -----------------------------------------------------------------


def test_typecheck_accepts_traced_programs():
    c = fn.asarray(np.ones(3, np.float32))
    inner = fn.jit(lambda x: x * c)
    closed = fn.make_jaxpr(lambda x, y: (inner(x) @ y).sum())(fnp.ones(3), fnp.ones((3, 2)))
    typecheck(closed.jaxpr)
    typecheck(closed)


def _var(shape, dtype=np.float32):
    return Var(fn.ShapedArray(shape, dtype))


def test_typecheck_rejects_a_wrong_declared_type():
    a, b, out = _var((3,)), _var((3,)), _var((4,))
    bad = Jaxpr([], [a, b], [JaxprEqn(ew.add_p, [a, b], {}, [out])], [out])
    with pytest.raises(TypeError, match=r"declared f32\[4\], inferred f32\[3\]"):
        typecheck(bad)


def test_typecheck_rejects_undefined_and_rebound_variables():
    a, b, out = _var((3,)), _var((3,)), _var((3,))
    undefined = Jaxpr([], [a], [JaxprEqn(ew.add_p, [a, b], {}, [out])], [out])
    with pytest.raises(TypeError, match="undefined variable"):
        typecheck(undefined)
    rebound = Jaxpr([], [a, b], [JaxprEqn(ew.add_p, [a, b], {}, [a])], [a])
    with pytest.raises(TypeError, match="second time"):
        typecheck(rebound)
    dangling = Jaxpr([], [a], [], [out])
    with pytest.raises(TypeError, match="output reads an undefined"):
        typecheck(dangling)


def test_typecheck_rejects_mismatched_operands():
    a, b, out = _var((3,)), _var((4,)), _var((3,))
    bad = Jaxpr([], [a, b], [JaxprEqn(ew.add_p, [a, b], {}, [out])], [out])
    with pytest.raises((TypeError, ValueError), match=r"\(3,\).*\(4,\)"):
        typecheck(bad)


def test_eval_jaxpr_matches_direct_evaluation():
    rng = np.random.default_rng(0)
    w = fn.asarray(rng.standard_normal((3, 4)).astype(np.float32))
    x = fn.asarray(rng.standard_normal((2, 3)).astype(np.float32))

    def f(w, x):
        return fnp.tanh(x @ w).sum(axis=0) * 0.5

    closed = fn.make_jaxpr(f)(w, x)
    (out,) = eval_jaxpr(closed.jaxpr, closed.consts, w, x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(f(w, x)))
    with pytest.raises(TypeError, match="takes 2 arguments, got 1"):
        eval_jaxpr(closed.jaxpr, closed.consts, w)


def test_eval_jaxpr_with_consts_under_jit():
    c = fn.asarray(np.arange(3.0, dtype=np.float32))
    closed = fn.make_jaxpr(lambda x: x * c + 1.0)(fnp.ones(3))
    run = fn.jit(lambda x: eval_jaxpr(closed.jaxpr, closed.consts, x)[0])
    np.testing.assert_array_equal(np.asarray(run(fnp.ones(3))), [1.0, 2.0, 3.0])


# --- StableHLO ---------------------------------------------------------------------------------


def _strip_locs(text):
    return re.sub(r" loc\(.*\)$", "", text, flags=re.MULTILINE).strip("\n")


def test_stablehlo_golden_elementwise():
    text = fn.jit(lambda x, y: fnp.exp(x) * y).lower(fnp.ones((2, 3)), fnp.ones((2, 3))).as_text()
    assert _strip_locs(text) == golden("""
        module @_lambda_ {
          func.func public @main(%arg0: tensor<2x3xf32>, %arg1: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
            %0 = "stablehlo.exponential"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>
            %1 = "stablehlo.multiply"(%0, %arg1) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
            "func.return"(%1) : (tensor<2x3xf32>) -> ()
          }
        }
    """)  # noqa: E501 (golden text, compared verbatim)


def test_stablehlo_golden_matmul_reduce_with_constant():
    c = fn.asarray(np.ones(4, np.float32))

    def f(w, x):
        return (fnp.tanh(x @ w) + c).sum()

    text = fn.jit(f).lower(fnp.ones((3, 4)), fnp.ones((2, 3))).as_text()
    assert _strip_locs(text) == golden("""
        module @f {
          func.func public @main(%arg0: tensor<4xf32>, %arg1: tensor<3x4xf32>, %arg2: tensor<2x3xf32>) -> (tensor<f32>) {
            %0 = "stablehlo.dot_general"(%arg2, %arg1) <{dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>}> : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
            %1 = "stablehlo.tanh"(%0) : (tensor<2x4xf32>) -> tensor<2x4xf32>
            %2 = "stablehlo.broadcast_in_dim"(%arg0) <{broadcast_dimensions = array<i64: 1>}> : (tensor<4xf32>) -> tensor<2x4xf32>
            %3 = "stablehlo.add"(%1, %2) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
            %4 = "stablehlo.constant"() <{value = dense<0x00000000> : tensor<f32>}> : () -> tensor<f32>
            %8 = "stablehlo.reduce"(%3, %4) <{dimensions = array<i64: 0, 1>}> ({
              ^bb0(%5: tensor<f32>, %6: tensor<f32>):
                %7 = "stablehlo.add"(%5, %6) : (tensor<f32>, tensor<f32>) -> tensor<f32>
                "stablehlo.return"(%7) : (tensor<f32>) -> ()
            }) : (tensor<2x4xf32>, tensor<f32>) -> tensor<f32>
            "func.return"(%8) : (tensor<f32>) -> ()
          }
        }
    """)  # noqa: E501 (golden text, compared verbatim)


def test_stablehlo_donated_argument_aliases_an_output():
    text = (
        fn.jit(lambda p, g: p - 0.1 * g, donate_argnums=0).lower(fnp.ones(4), fnp.ones(4)).as_text()
    )
    assert "%arg0: tensor<4xf32> {tf.aliasing_output = 0 : i32}, %arg1: tensor<4xf32>)" in text


def test_stablehlo_carries_the_users_file_and_line():
    def f(x):
        return fnp.sin(x) * 2.0

    line = f.__code__.co_firstlineno + 1
    text = fn.jit(f).lower(fnp.ones(3)).as_text()
    sine = next(ln for ln in text.splitlines() if "stablehlo.sine" in ln)
    # loc("jit(f)/sin"("f"("<this file>":<line>:<column>)))
    m = re.search(r'loc\("jit\(f\)/sin"\("f"\("([^"]+)":(\d+):(\d+)\)\)\)$', sine)
    assert m, sine
    assert m.group(1) == __file__ and int(m.group(2)) == line and int(m.group(3)) == 16


def test_stablehlo_nested_jit_scopes_op_names():
    inner = fn.jit(lambda x: fnp.cos(x))

    def outer(x):
        return inner(x) + 1.0

    text = fn.jit(outer).lower(fnp.ones(3)).as_text()
    assert re.search(r'stablehlo.cosine.*loc\("jit\(outer\)/jit\(<lambda>\)/cos"', text)
    assert re.search(r'stablehlo.add.*loc\("jit\(outer\)/add"\("outer"', text)


def test_location_escapes_quotes_and_backslashes():
    info = SourceInfo('dir\\my "file".py', 7, "f")
    assert location("add", info) == 'loc("add"("f"("dir\\\\my \\"file\\".py":7:0)))'
    assert location("add", None) == 'loc("add")'


def test_xla_optimized_hlo_names_the_users_source_line():
    def f(w, x):
        y = fnp.tanh(x @ w)
        return y.sum()

    first = f.__code__.co_firstlineno
    hlo = fn.jit(f).lower(fnp.ones((3, 4)), fnp.ones((2, 3))).compile().as_text()
    assert THIS_FILE in hlo
    # XLA keeps locations as op metadata: older releases write `source_file=...
    # source_line=N` per instruction, newer ones a stack-frame table (FileNames,
    # FunctionNames, FileLocations with line=N) referenced by `stack_frame_id`.
    if "source_line=" in hlo:
        assert f"source_line={first + 1}" in hlo and f"source_line={first + 2}" in hlo
    else:
        assert re.search(rf"^\d+ \"{re.escape(__file__)}\"$", hlo, re.MULTILINE)
        assert re.search(r'^\d+ "f"$', hlo, re.MULTILINE)  # the function, not the primitive
        assert f"line={first + 1} " in hlo and f"line={first + 2} " in hlo
        assert "stack_frame_id=" in hlo
    assert 'op_name="jit(f)/dot_general"' in hlo


def test_lower_to_module_of_a_literal_output():
    closed = fn.make_jaxpr(lambda x: (x, 2.0))(fnp.ones(2))
    text = lower_to_module(closed, name="lit")
    assert "dense<0x40000000> : tensor<f32>" in text
    assert fn.jit(lambda x: (x, 2.0))(fnp.ones(2))[1] == 2.0


def test_cse_tells_apart_params_python_calls_equal():
    tag_p = Primitive("tag")
    tag_p.def_abstract_eval(lambda x, **_: x)
    a = _var((2,))
    outs = [_var((2,)) for _ in range(4)]
    eqns = [JaxprEqn(tag_p, [a], {"v": v}, [o]) for v, o in zip((1, 1.0, True, 1), outs)]
    closed = ClosedJaxpr(Jaxpr([], [a], eqns, outs), [])
    merged = passes.cse(closed)
    assert len(merged.eqns) == 3  # only the two `v=1` equations merge
    assert merged.jaxpr.outvars[3] is merged.jaxpr.outvars[0]
    # params given in another order are the same params
    b, c = _var((2,)), _var((2,))
    eqns = [
        JaxprEqn(tag_p, [a], {"x": 1, "y": 2}, [b]),
        JaxprEqn(tag_p, [a], {"y": 2, "x": 1}, [c]),
    ]
    assert len(passes.cse(ClosedJaxpr(Jaxpr([], [a], eqns, [b, c]), [])).eqns) == 1


@pytest.mark.parametrize(
    "value",
    [
        np.array([[1, -2], [3, 4]], np.int32),
        np.array([1, 2, 3], np.uint8),
        np.array([True, False, True]),
        np.array([1.5, -0.0, np.inf, np.nan], np.float32),
        np.array([0.1, 2.0], np.float16),
        np.array([0.1, 2.0], fnp.bfloat16),
        np.full((2, 2), 7, np.int8),
        np.zeros((0, 3), np.int32),
        np.zeros((2, 0), np.float32),
    ],
)
def test_dense_constants_round_trip_through_xla(value):
    aval = fn.ShapedArray(value.shape, value.dtype)
    t = tensor_type(aval)
    text = (
        f"module @m {{\n  func.func public @main() -> ({t}) {{\n"
        f'    %0 = "stablehlo.constant"() <{{value = {dense_attr(value, aval)}}}> '
        f": () -> {t}\n"
        f'    "func.return"(%0) : ({t}) -> ()\n  }}\n}}\n'
    )
    (out,) = xla.Executable(text, xla.default_device(), 1).execute([])
    out = np.asarray(out)
    assert out.dtype == value.dtype and out.shape == value.shape
    np.testing.assert_array_equal(out, value)
