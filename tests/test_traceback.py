"""Tracebacks that reach the user hold the user's frames and the message, not funcnet's
internals (as jax filters its own); FUNCNET_TRACEBACK_FILTERING=off shows everything."""

import os
import traceback

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import lax, nn, random
from funcnet.core import traceback_util

PACKAGE = os.path.dirname(fn.__file__) + os.sep
MODEL = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(3)])
PARAMS, _ = MODEL.init(random.key(0), (-1, 4))


def loss(params, x):
    return MODEL.apply(params, x).sum()  # x has 5 features: a shape error in Dense


def frames(e):
    return traceback.extract_tb(e.__traceback__)


def funcnet_frames(e):
    return [f for f in frames(e) if f.filename.startswith(PACKAGE)]


def raise_from(f, *args):
    with pytest.raises(Exception) as info:
        f(*args)
    return info.value


def test_layer_error_under_jit_of_grad_shows_only_user_frames(monkeypatch):
    monkeypatch.delenv("FUNCNET_TRACEBACK_FILTERING", raising=False)
    e = raise_from(fn.jit(fn.grad(loss)), PARAMS, fnp.ones((2, 5)))
    assert funcnet_frames(e) == []
    names = [f.name for f in frames(e)]
    assert names[-1] == "loss" and "raise_from" in names  # the user's own frames stay
    assert "dense" in str(e).lower() and "(2, 5)" in str(e)  # the message is untouched
    assert any("FUNCNET_TRACEBACK_FILTERING=off" in n for n in e.__notes__)


def test_off_shows_every_frame(monkeypatch):
    monkeypatch.setenv("FUNCNET_TRACEBACK_FILTERING", "off")
    e = raise_from(fn.jit(fn.grad(loss)), PARAMS, fnp.ones((2, 5)))
    assert len(funcnet_frames(e)) > 10
    assert not getattr(e, "__notes__", None)


def test_remove_frames_keeps_the_original_as_cause(monkeypatch):
    monkeypatch.setenv("FUNCNET_TRACEBACK_FILTERING", "remove_frames")
    e = raise_from(fn.jit(fn.grad(loss)), PARAMS, fnp.ones((2, 5)))
    assert funcnet_frames(e) == []
    cause = e.__cause__
    assert isinstance(cause, traceback_util.UnfilteredStackTrace)
    assert funcnet_frames(cause)


def test_filtered_once_under_nested_boundaries(monkeypatch):
    """vmap(grad(...)) inside jit: one note, no funcnet frame, whichever boundary is
    outermost."""
    monkeypatch.delenv("FUNCNET_TRACEBACK_FILTERING", raising=False)

    def per_example(params, x):
        return fn.grad(loss)(params, x[None])

    f = fn.jit(fn.vmap(per_example, in_axes=(None, 0)))
    e = raise_from(f, PARAMS, fnp.ones((2, 5)))
    assert funcnet_frames(e) == []
    assert len(e.__notes__) == 1


def with_rule(f):
    f = fn.custom_jvp(f)
    f.defjvp(lambda primals, tangents: (f(*primals), tangents[0]))
    return f


@pytest.mark.parametrize("call", ["scan", "cond", "custom_jvp", "make_jaxpr", "eval_shape"])
def test_other_entry_points_filter(call, monkeypatch):
    monkeypatch.delenv("FUNCNET_TRACEBACK_FILTERING", raising=False)

    def bad(x):
        return fnp.ones(3) @ fnp.ones((4, 2)) + x

    entry = {
        "scan": lambda: lax.scan(lambda c, x: (bad(c), x), 0.0, fnp.ones(2)),
        "cond": lambda: lax.cond(True, bad, bad, 1.0),
        "custom_jvp": lambda: fn.jit(with_rule(bad))(1.0),
        "make_jaxpr": lambda: fn.make_jaxpr(bad)(1.0),
        "eval_shape": lambda: fn.eval_shape(bad, 1.0),
    }[call]
    e = raise_from(entry)
    assert funcnet_frames(e) == []
    assert frames(e)[-1].name == "bad"


def test_errors_raised_by_funcnet_itself_point_at_the_call(monkeypatch):
    """An error funcnet raises before any user code runs (a bad argument) points at the
    user's call, and the message names the argument."""
    monkeypatch.delenv("FUNCNET_TRACEBACK_FILTERING", raising=False)
    e = raise_from(fn.jit(lambda x: x), object())
    assert funcnet_frames(e) == []
    assert frames(e)[-1].name == "raise_from"
    assert "argument x" in str(e)


def test_bad_mode_is_named(monkeypatch):
    monkeypatch.setenv("FUNCNET_TRACEBACK_FILTERING", "sometimes")
    with pytest.raises(ValueError, match="FUNCNET_TRACEBACK_FILTERING='sometimes'"):
        fn.jit(lambda x: x @ fnp.ones(4))(np.ones(3))
