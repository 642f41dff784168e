"""The primitive registry and shape inference: every primitive in funcnet.lax has an
abstract-eval rule and a StableHLO lowering, and bad shapes raise TypeErrors that name
the shapes involved, eagerly and under tracing alike."""

import importlib
import pkgutil

import numpy as np
import pytest

import funcnet as fn
from funcnet import lax
from funcnet.backend.lowering import lowering_rules
from funcnet.core.trace import Primitive


def _all_primitives():
    prims = {}
    for info in pkgutil.iter_modules(lax.__path__, "funcnet.lax."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Primitive):
                prims[f"{info.name}.{name}"] = value
    return prims


PRIMITIVES = _all_primitives()


def test_the_walk_finds_the_primitive_set():
    names = {p.name for p in PRIMITIVES.values()}
    expected = {
        "add",
        "exp",
        "select_n",
        "convert_element_type",
        "broadcast_in_dim",
        "pad",
        "reduce_sum",
        "argmax",
        "cumsum",
        "reduce_window_max",
        "sort",
        "dot_general",
        "conv_general_dilated",
        "gather",
        "scatter_add",
        "iota",
    }
    assert expected <= names, expected - names


@pytest.mark.parametrize("qualname", sorted(PRIMITIVES))
def test_primitive_has_abstract_eval_and_lowering(qualname):
    prim = PRIMITIVES[qualname]
    assert getattr(prim, "_abstract_eval", None) is not None, f"{prim} has no abstract eval"
    assert prim in lowering_rules, f"{prim} has no StableHLO lowering rule"


# --- shape errors ----------------------------------------------------------------------------


def z(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


SCATTER_DN = lax.ScatterDimensionNumbers((1,), (0,), (0,))
GATHER_DN = lax.GatherDimensionNumbers((1,), (0,), (0,))

ERRORS = {  # name: (call, strings the message must contain)
    "add": (lambda: lax.add(z(2, 3), z(3, 2)), ["(2, 3)", "(3, 2)"]),
    "mul dtypes": (lambda: lax.mul(z(2), z(2, dtype=np.int32)), ["float32", "int32"]),
    "lt": (lambda: lax.lt(z(4), z(5)), ["(4,)", "(5,)"]),
    "dot_general": (
        lambda: lax.dot_general(z(2, 3), z(4, 5), (((1,), (0,)), ((), ()))),
        ["(2, 3)", "(4, 5)"],
    ),
    "dot_general batch": (
        lambda: lax.dot_general(z(2, 3, 4), z(3, 4, 5), (((2,), (1,)), ((0,), (0,)))),
        ["(2, 3, 4)", "(3, 4, 5)"],
    ),
    "reshape": (lambda: lax.reshape(z(2, 3), (4, 2)), ["(2, 3)", "(4, 2)"]),
    "concatenate": (lambda: lax.concatenate([z(2, 3), z(3, 2)], 0), ["(2, 3)", "(3, 2)"]),
    "broadcast_in_dim": (lambda: lax.broadcast_in_dim(z(3), (2, 4), (1,)), ["(3,)", "(2, 4)"]),
    "split sizes": (lambda: lax.split(z(2, 5), (2, 2), 1), ["(2, 2)", "(2, 5)", "sum to 5"]),
    "split axis": (lambda: lax.split(z(2, 5), (2,), 2), ["axis 2", "(2, 5)"]),
    "transpose": (lambda: lax.transpose(z(2, 3), (0, 0)), ["(0, 0)", "(2, 3)"]),
    "select_n": (lambda: lax.select_n(z(2, 3, dtype=bool), z(2, 3), z(3, 2)), ["[2,3]", "[3,2]"]),
    "clamp": (lambda: lax.clamp(z(2), z(3), z(2)), ["[2]", "[3]"]),
    "dynamic_update_slice": (
        lambda: lax.dynamic_update_slice(z(2, 3), z(3, 3), (0, 0)),
        ["(3, 3)", "(2, 3)"],
    ),
    "slice": (lambda: lax.slice(z(3, 4), (0, 0), (4, 4)), ["(3, 4)"]),
    "squeeze": (lambda: lax.squeeze(z(3, 4), (0,)), ["(3, 4)"]),
    "reduce_sum": (lambda: lax.reduce_sum(z(3, 4), (2,)), ["(3, 4)"]),
    "sort": (lambda: lax.sort((z(3), z(4))), ["(3,)", "(4,)"]),
    "conv": (
        lambda: lax.conv_general_dilated(z(1, 3, 5, 5), z(4, 2, 3, 3), (1, 1), "VALID"),
        ["(1, 3, 5, 5)", "(4, 2, 3, 3)"],
    ),
    "conv strides": (
        lambda: lax.conv_general_dilated(z(1, 3, 5, 5), z(4, 3, 3, 3), (1,), "VALID"),
        ["window_strides", "(1, 3, 5, 5)"],
    ),
    "gather": (
        lambda: lax.gather(z(5, 3), z(4, 1, dtype=np.int32), GATHER_DN, (1, 4)),
        ["(1, 4)", "(5, 3)"],
    ),
    "scatter": (
        lambda: lax.scatter_add(z(5, 3), z(4, 1, dtype=np.int32), z(3, 3), SCATTER_DN),
        ["(3, 3)", "(5, 3)", "(4, 1)"],
    ),
}


def _check_message(excinfo, expected):
    message = str(excinfo.value)
    for s in expected:
        assert s in message, f"{s!r} missing from: {message}"


@pytest.mark.parametrize("name", list(ERRORS))
def test_shape_errors_are_clear_type_errors(name):
    call, expected = ERRORS[name]
    with pytest.raises(TypeError) as excinfo:
        call()
    _check_message(excinfo, expected)


TRACED = {  # functions of one f32[2, 3] argument that fail shape inference while tracing
    "add": (lambda x: lax.add(x, lax.transpose(x, (1, 0))), ["(2, 3)", "(3, 2)"]),
    "dot_general": (lambda x: lax.dot_general(x, x, (((1,), (0,)), ((), ()))), ["(2, 3)"]),
    "reshape": (lambda x: lax.reshape(x, (4, 2)), ["(2, 3)", "(4, 2)"]),
    "concatenate": (
        lambda x: lax.concatenate([x, lax.transpose(x, (1, 0))], 0),
        ["(2, 3)", "(3, 2)"],
    ),
}


@pytest.mark.parametrize("name", list(TRACED))
@pytest.mark.parametrize("transform", ["jit", "make_jaxpr"])
def test_shape_errors_under_tracing(name, transform):
    f, expected = TRACED[name]
    with pytest.raises(TypeError) as excinfo:
        getattr(fn, transform)(f)(z(2, 3))
    _check_message(excinfo, expected)


def test_concatenate_of_nothing_is_a_clear_error():
    with pytest.raises(TypeError, match="at least one"):
        lax.concatenate([], 0)


def test_abs_of_unsigned_is_rejected_like_jax():
    with pytest.raises(TypeError, match="uint8"):
        lax.abs(z(3, dtype=np.uint8))
