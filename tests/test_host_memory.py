"""The CPU runtime keeps freed host memory mapped (funcnet/runtime/host_memory.py): a
program whose temporaries are larger than glibc's mmap threshold (and under the 64 MB a
thread arena holds) does not fault in fresh pages on every run, and
FUNCNET_REUSE_HOST_MEMORY=0 leaves malloc alone."""

import json
import os
import platform
import subprocess
import sys

import pytest

# A program with a 48 MiB temporary (the (8192, 1536) product), run 24 times; prints
# the page faults of each run (the heap settles after a few runs) and whether the C
# library is glibc.
_PROBE = r"""
import json, resource
import numpy as np
import funcnet as fn
import funcnet.numpy as fnp
from funcnet.runtime import host_memory, xla

f = fn.jit(lambda a, b: fnp.sum((a @ b).T @ a))
a = fnp.asarray(np.ones((8192, 16), np.float32))
b = fnp.asarray(np.ones((16, 1536), np.float32))
temp = f.lower(a, b).compile().memory_analysis().temp_size_in_bytes
faults = []
for _ in range(24):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    f(a, b).block_until_ready()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"temp": temp, "faults": faults, "glibc": host_memory._glibc() is not None}))
"""


def _probe(reuse: str) -> dict:
    env = dict(os.environ, FUNCNET_REUSE_HOST_MEMORY=reuse)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc's malloc options (Linux only)")
def test_large_temporaries_are_reused_not_faulted_in_each_run():
    on, off = _probe("1"), _probe("0")
    if not on["glibc"]:
        pytest.skip("not glibc: malloc is left alone")
    pages = on["temp"] / 4096
    assert on["temp"] >= 40 << 20  # over glibc's mmap threshold (32 MB), under 64 MB
    # Without the options every run maps the temporary afresh. With them the heap keeps
    # it: most runs fault in nothing (where glibc places the block can still move, so
    # some runs fault it in again).
    reused = [f for f in on["faults"] if f < pages / 10]
    assert not [f for f in off["faults"] if f < pages / 2], (off, pages)
    assert len(reused) >= len(on["faults"]) // 4, (on, pages)


def test_configure_acts_once_and_respects_the_option(monkeypatch):
    from funcnet.config import config
    from funcnet.runtime import host_memory

    monkeypatch.setattr(host_memory, "_done", False)
    monkeypatch.setattr(config, "reuse_host_memory", False)
    assert host_memory.configure() is False
    assert host_memory._done is False  # off: nothing was decided yet
    monkeypatch.setattr(config, "reuse_host_memory", True)
    monkeypatch.setattr(host_memory, "_done", True)
    assert host_memory.configure() is False  # already done in this process


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc's malloc options (Linux only)")
def test_options_are_set_at_import_and_a_late_import_is_logged():
    # At import, before anything starts the runtime's threads; when jax started them
    # first, their arenas stay, and funcnet says so in its log.
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
        "{first}\n"
        "import funcnet\n"
        "from funcnet.runtime import host_memory\n"
        "print('glibc', host_memory._glibc() is not None, 'done', host_memory._done)\n"
    )
    env = dict(os.environ, FUNCNET_REUSE_HOST_MEMORY="1")
    outs = {}
    for name, first in (("funcnet first", ""), ("jax first", "import jax; jax.devices()")):
        out = subprocess.run(
            [sys.executable, "-c", code.format(first=first)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        outs[name] = out.stdout
    if "glibc True" not in outs["funcnet first"]:
        pytest.skip("not glibc: malloc is left alone")
    assert "done True" in outs["funcnet first"] and "done True" in outs["jax first"]
    assert "started before funcnet was imported" not in outs["funcnet first"]
    assert "started before funcnet was imported" in outs["jax first"]
