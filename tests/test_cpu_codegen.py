"""funcnet asks XLA:CPU for 512-bit loops on AMD CPUs with AVX-512
(funcnet/runtime/cpu_codegen.py); `config.cpu_vector_width` overrides the choice."""

import importlib

import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.runtime import compilation_cache, cpu_codegen, spmd, xla

_AMD = ("AuthenticAMD", {"sse2", "avx2", "avx512f"})


@pytest.fixture
def width():
    old = fn.config.cpu_vector_width
    yield
    fn.config.cpu_vector_width = old
    fn.clear_caches()


@pytest.mark.parametrize(
    "machine, vendor, flags, expected",
    [
        ("x86_64", *_AMD, 512),
        ("x86_64", "AuthenticAMD", {"sse2", "avx2"}, 0),  # Zen 3: no AVX-512
        ("x86_64", "GenuineIntel", {"sse2", "avx2", "avx512f"}, 0),  # may lower clocks
        ("aarch64", *_AMD, 0),
        ("x86_64", "", set(), 0),  # /proc/cpuinfo unreadable
    ],
)
def test_auto_width_by_cpu(monkeypatch, machine, vendor, flags, expected):
    monkeypatch.setattr(cpu_codegen.platform, "machine", lambda: machine)
    monkeypatch.setattr(cpu_codegen, "_cpuinfo", lambda: (vendor, flags))
    assert cpu_codegen._auto_width.__wrapped__() == expected


def test_cpuinfo_reads_this_machine():
    vendor, flags = cpu_codegen._cpuinfo()
    assert isinstance(vendor, str) and isinstance(flags, set)


def test_config_sets_the_width(width):
    for w in (128, 256, 512):
        fn.config.cpu_vector_width = w
        assert cpu_codegen.overrides("cpu") == [("xla_cpu_prefer_vector_width", w)]
        assert cpu_codegen.overrides("cuda") == []
    fn.config.cpu_vector_width = 0
    auto = cpu_codegen._auto_width()
    assert cpu_codegen.overrides("cpu") == ([("xla_cpu_prefer_vector_width", auto)] if auto else [])


@pytest.mark.parametrize("bad", [300, -1, 64.0, True, "512"])
def test_config_refuses_other_widths(width, bad):
    with pytest.raises(ValueError, match=r"cpu_vector_width must be one of \(0, 128, 256, 512\)"):
        fn.config.cpu_vector_width = bad


def test_environment_variable_is_checked():
    parse = importlib.import_module("funcnet.config")._parse
    with pytest.raises(ValueError, match="FUNCNET_CPU_VECTOR_WIDTH='3': expected one of"):
        parse("cpu_vector_width", 0, "3", "FUNCNET_CPU_VECTOR_WIDTH")
    assert parse("cpu_vector_width", 0, "256", "FUNCNET_CPU_VECTOR_WIDTH") == 256


def test_compiles_get_the_override(width, monkeypatch):
    """Both compile paths (one device, and SPMD) hand the flag to XLA, and XLA takes it
    (an unknown flag would fail the compile)."""
    seen = []
    real = compilation_cache.compile_or_load

    def spy(client, program, device_list, options, *a, **k):
        seen.append(list(options.env_option_overrides))
        return real(client, program, device_list, options, *a, **k)

    monkeypatch.setattr(compilation_cache, "compile_or_load", spy)
    x = np.linspace(-4, 4, 1000, dtype=np.float32)
    results = {}
    for w in (256, 512):
        fn.config.cpu_vector_width = w
        fn.clear_caches()
        f = fn.jit(lambda x: fnp.sum(fnp.tanh(x) * fn.nn.sigmoid(2 * x)))
        results[w] = float(f(x))
        assert seen[-1] == [("xla_cpu_prefer_vector_width", w)]
        assert spmd.compile_options(xla.devices()[:1]).env_option_overrides == [
            ("xla_cpu_prefer_vector_width", w)
        ]
    # the same loop at two widths: equal up to the order of the sum's partial sums
    expected = np.sum(np.tanh(x.astype(np.float64)) / (1 + np.exp(-2 * x.astype(np.float64))))
    for r in results.values():
        np.testing.assert_allclose(r, expected, rtol=1e-5)
