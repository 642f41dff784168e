"""Namespace parity with jax: every public name of jax.numpy, jax.numpy.linalg,
jax.numpy.fft, jax.random and jax.nn exists in the funcnet counterpart, except the
documented omissions below (docs/numpy.md lists the jax.numpy ones), and where both
sides are Python functions, funcnet's accepts every parameter jax's accepts (same names,
positional ones in the same order)."""

import importlib
import inspect

import jax
import jax.nn
import jax.numpy
import jax.numpy.fft
import jax.numpy.linalg
import jax.random
import pytest

_LOW_BIT = "XLA:CPU cannot compute in this low-bit type (storage-only formats for accelerators)"

# name -> reason, per jax module. Keep each reason short and true.
OMITTED = {
    "jax.numpy": {
        **{
            name: _LOW_BIT
            for name in (
                "float4_e2m1fn",
                "float6_e2m3fn",
                "float6_e3m2fn",
                "float8_e3m4",
                "float8_e4m3",
                "float8_e4m3b11fnuz",
                "float8_e4m3fn",
                "float8_e4m3fnuz",
                "float8_e5m2",
                "float8_e5m2fnuz",
                "float8_e8m0fnu",
                "int1",
                "int2",
                "int4",
                "uint1",
                "uint2",
                "uint4",
            )
        },
    },
    "jax.numpy.linalg": {},
    "jax.numpy.fft": {},
    "jax.random": {
        "random_gamma_p": "jax-internal primitive; funcnet's gamma sampler is a custom_jvp",
    },
    "jax.nn": {
        "get_scaled_dot_general_config": "block-scaled low-precision matmul (accelerators)",
        "scaled_dot_general": "block-scaled low-precision matmul (accelerators)",
        "scaled_matmul": "block-scaled low-precision matmul (accelerators)",
    },
}

PAIRS = [
    ("jax.numpy", "funcnet.numpy"),
    ("jax.numpy.linalg", "funcnet.numpy.linalg"),
    ("jax.numpy.fft", "funcnet.numpy.fft"),
    ("jax.random", "funcnet.random"),
    ("jax.nn", "funcnet.nn"),
]

# Parameters jax added for its own machinery (sharding, internal precision plumbing)
# that have no meaning in funcnet; a funcnet function may leave them out.
_JAX_ONLY_PARAMS = {"out_sharding", "sharding"}


def _public(module):
    return {name for name in dir(module) if not name.startswith("_")}


def _funcnet_module(name):
    try:
        return importlib.import_module(name)
    except ImportError as e:  # a namespace another part of issue 13 has not landed yet
        pytest.fail(f"{name} does not exist yet: {e}")


@pytest.mark.parametrize("jax_name,funcnet_name", PAIRS)
def test_every_public_jax_name_exists(jax_name, funcnet_name):
    theirs = importlib.import_module(jax_name)
    ours = _funcnet_module(funcnet_name)
    omitted = OMITTED[jax_name]
    missing = sorted(_public(theirs) - _public(ours) - set(omitted))
    assert not missing, f"{funcnet_name} lacks {len(missing)} names of {jax_name}: {missing}"


@pytest.mark.parametrize("jax_name", sorted(OMITTED))
def test_omissions_are_still_needed_and_explained(jax_name):
    """An omitted name that jax dropped or funcnet gained must leave the list."""
    theirs = importlib.import_module(jax_name)
    funcnet_name = dict(PAIRS)[jax_name]
    ours = _funcnet_module(funcnet_name)
    for name, reason in OMITTED[jax_name].items():
        assert hasattr(theirs, name), f"{jax_name}.{name} is gone: drop it from OMITTED"
        assert not hasattr(ours, name), f"{funcnet_name}.{name} exists: drop it from OMITTED"
        assert reason and len(reason) < 120


def _python_function(obj):
    return inspect.isfunction(obj) or (
        callable(obj) and inspect.isfunction(getattr(obj, "__wrapped__", None))
    )


def _signature_problems(name, theirs, ours):
    try:
        sig_j, sig_f = inspect.signature(theirs), inspect.signature(ours)
    except (TypeError, ValueError):
        return []
    params_j = [
        p
        for p in sig_j.parameters.values()
        if p.name not in _JAX_ONLY_PARAMS and not p.name.startswith("_")
    ]
    params_f = list(sig_f.parameters.values())
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in params_f)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params_f)
    by_name = {p.name: p for p in params_f}
    positional_f = [
        p.name for p in params_f if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    problems = []
    pos = 0
    for p in params_j:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if pos < len(positional_f):
                if p.kind is p.POSITIONAL_OR_KEYWORD and positional_f[pos] != p.name:
                    problems.append(
                        f"{name}: positional {pos} is {positional_f[pos]!r}, jax {p.name!r}"
                    )
            elif not var_pos:
                problems.append(f"{name}: no positional parameter {pos} ({p.name!r})")
            pos += 1
        elif p.kind is p.KEYWORD_ONLY:
            if p.name not in by_name and not var_kw:
                problems.append(f"{name}: no keyword parameter {p.name!r}")
            elif p.name in by_name and by_name[p.name].kind is by_name[p.name].POSITIONAL_ONLY:
                problems.append(f"{name}: {p.name!r} is positional-only, jax takes it by keyword")
        elif p.kind is p.VAR_POSITIONAL and not var_pos and len(positional_f) <= pos:
            # (jnp.array's *args only exists to refuse a positional `copy`)
            problems.append(f"{name}: no *{p.name}")
        elif p.kind is p.VAR_KEYWORD and not var_kw:
            problems.append(f"{name}: no **{p.name}")
    return problems


@pytest.mark.parametrize("jax_name,funcnet_name", PAIRS)
def test_signatures_accept_what_jax_accepts(jax_name, funcnet_name):
    theirs = importlib.import_module(jax_name)
    ours = _funcnet_module(funcnet_name)
    problems = []
    for name in sorted(_public(theirs) & _public(ours)):
        j, f = getattr(theirs, name), getattr(ours, name)
        if _python_function(j) and _python_function(f):
            problems += _signature_problems(name, j, f)
    assert not problems, "\n".join(problems)


def test_signature_checker_catches_a_mismatch():
    def jax_fn(a, axis=None, *, keepdims=False):
        pass

    def renamed(x, axis=None, *, keepdims=False):
        pass

    def no_keyword(a, axis=None):
        pass

    def fine(a, axis=None, dtype=None, *, keepdims=False, extra=1):
        pass

    assert _signature_problems("f", jax_fn, renamed)
    assert _signature_problems("f", jax_fn, no_keyword)
    assert not _signature_problems("f", jax_fn, fine)


def test_scalar_types_are_callable_as_in_jax():
    import funcnet.numpy as fnp

    assert fnp.float32(3).dtype == jax.numpy.float32(3).dtype
    assert fnp.int32(2.7).tolist() == int(jax.numpy.int32(2.7))
