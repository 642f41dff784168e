"""The API reference site (mkdocs.yml, docs/) builds from the docstrings in strict mode:
a broken cross-reference, a documented parameter the signature does not have, a page
missing from the nav or a docstring griffe cannot parse is a warning, and a warning
fails the build. The built pages must hold every public name and run no remote asset.

One test builds once (a second build per xdist worker would double the cost); it takes
about 10 s on one core.
"""

import importlib
import os
import re
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 300

# Every public name of these modules must have an entry (an anchor `module.name`).
DOCUMENTED_MODULES = [
    "funcnet",
    "funcnet.numpy",
    "funcnet.numpy.fft",
    "funcnet.numpy.linalg",
    "funcnet.scipy.linalg",
    "funcnet.lax.linalg",
    "funcnet.lax",
    "funcnet.nn",
    "funcnet.nn.initializers",
    "funcnet.nn.losses",
    "funcnet.optim",
    "funcnet.compress",
    "funcnet.random",
    "funcnet.scipy.special",
    "funcnet.scipy.stats.norm",
    "funcnet.scipy.stats.multivariate_normal",
    "funcnet.scipy.stats.bernoulli",
    "funcnet.scipy.stats.beta",
    "funcnet.scipy.stats.gamma",
    "funcnet.scipy.stats.t",
    "funcnet.scipy.stats.uniform",
    "funcnet.scipy.stats.laplace",
    "funcnet.scipy.stats.poisson",
    "funcnet.scipy.stats.logistic",
    "funcnet.scipy.stats.cauchy",
    "funcnet.scipy.stats.expon",
    "funcnet.scipy.stats.chi2",
    "funcnet.scipy.stats.dirichlet",
    "funcnet.tree",
    "funcnet.tree_util",
    "funcnet.debug",
    "funcnet.sharding",
    "funcnet.distributed",
    "funcnet.io",
    "funcnet.export",
    "funcnet.onnx",
    "funcnet.errors",
    "funcnet.data",
    "funcnet.data.augment",
    "funcnet.data.augment.host",
    "funcnet.train",
]

_ANCHOR = re.compile(r'\bid="(funcnet[\w.]*)"')
_REMOTE_ASSET = re.compile(r'<(?:link|script|img)\b[^>]*\b(?:href|src)="(?:https?:)?//[^"]*"')


def public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(module, n), types.ModuleType)]


def build_site(site_dir) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        NO_MKDOCS_2_WARNING="1",  # mkdocs-material's banner about MkDocs 2.0
        JAX_PLATFORMS="cpu",  # the build imports funcnet; it needs no accelerator
    )
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )


def test_api_reference_builds_strict_and_documents_every_public_name(tmp_path):
    site = tmp_path / "site"
    result = build_site(site)
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert result.returncode == 0 and not warnings, (
        f"mkdocs build --strict failed (exit {result.returncode}), "
        f"{len(warnings)} warnings:\n" + "\n".join(warnings or log.splitlines()[-30:])
    )

    pages = {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")}
    anchors = {a for html in pages.values() for a in _ANCHOR.findall(html)}
    missing = [
        f"{name}.{member}"
        for name in DOCUMENTED_MODULES
        for member in public_names(importlib.import_module(name))
        if f"{name}.{member}" not in anchors
    ]
    assert not missing, (
        f"{len(missing)} public names have no entry in the reference (add them to a "
        "page in docs/):\n  " + "\n  ".join(missing)
    )

    # Spot checks that an entry carries its docstring: signature, sections, examples.
    def page(name):  # numpy.html (the offline plugin's file URLs) or numpy/index.html
        return pages.get(f"{name}.html") or pages[f"{name}/index.html"]

    numpy_page = page("numpy")
    assert 'id="funcnet.numpy.pad"' in numpy_page and "constant_values" in numpy_page
    funcnet_page = page("funcnet")
    for name in ("funcnet.jit", "funcnet.grad", "funcnet.vmap", "funcnet.Array"):
        assert f'id="{name}"' in funcnet_page, name
    assert "static_argnums" in funcnet_page and "Returns:" in funcnet_page
    # Examples render as code, not as Markdown quotes (">>>" is a nested blockquote).
    assert '<span class="gp">&gt;&gt;&gt; </span>' in page("nn")
    quoted = [page for page, html in pages.items() if re.search(r"<blockquote>\s*<", html)]
    assert not quoted, f"doctest sessions rendered as quotes in {quoted}"

    remote = sorted({m for html in pages.values() for m in _REMOTE_ASSET.findall(html)})
    assert not remote, "the site loads remote assets (it must work offline):\n" + "\n".join(remote)
