"""The documentation stays honest: every public callable of funcnet, funcnet.numpy,
funcnet.lax, funcnet.nn and funcnet.random has a Google-style docstring with Args and
Returns, and every `>>>` example in every funcnet module runs and prints what it shows.

"Public" is the module's `__all__`, else its names without a leading underscore
(funcnet.nn), less submodules. The rules (what each kind of object must have) are in
`_problems_of_function` and `_problems_of_class`; objects that are another library's,
re-exported unchanged, are listed in EXEMPT with the object they must be.
"""

import doctest
import enum
import functools
import importlib
import inspect
import re
import types
from pathlib import Path

import numpy as np
import pytest

import funcnet
import funcnet.lax
import funcnet.nn
import funcnet.numpy as fnp
import funcnet.optim
import funcnet.random
import funcnet.scipy

COVERED_MODULES = [
    "funcnet",
    "funcnet.numpy",
    "funcnet.lax",
    "funcnet.nn",
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
]

# Re-exports of NumPy's own objects: their docstrings are NumPy's (numpydoc style), not
# funcnet's to write. Each entry names the object it must be (checked below), so the set
# cannot hide a funcnet function. fnp.finfo/iinfo are funcnet's (they know bfloat16).
EXEMPT = {
    "funcnet.numpy.dtype": np.dtype,
    "funcnet.numpy.generic": np.generic,
    "funcnet.numpy.number": np.number,
    "funcnet.numpy.integer": np.integer,
    "funcnet.numpy.signedinteger": np.signedinteger,
    "funcnet.numpy.unsignedinteger": np.unsignedinteger,
    "funcnet.numpy.inexact": np.inexact,
    "funcnet.numpy.floating": np.floating,
    "funcnet.numpy.object_": np.object_,
}

# Classes whose constructor is not for users: an Array comes from funcnet.numpy
# (fnp.asarray, fnp.zeros, ...) or from a computation, never from Array(buffer).
INTERNAL_CONSTRUCTORS = {"funcnet.Array"}

# The methods of the layer protocol, checked on every public nn layer class (inherited
# ones included: nn.Layer documents them once for all).
LAYER_METHODS = ("init", "init_with_state", "apply")

_ARGS = re.compile(r"^\s*Args:\s*$", re.MULTILINE)
_RETURNS = re.compile(r"^\s*Returns:\s*$", re.MULTILINE)
_FIELDS = re.compile(r"^\s*(Args|Attributes):\s*$", re.MULTILINE)


def public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(module, n), types.ModuleType)]


# ----------------------------------------------------------------------------------------
# What each kind of object must have
# ----------------------------------------------------------------------------------------
def _parameters(fn, *, bound):
    """The parameters a caller passes (``self`` dropped for a method looked up on its
    class); None when Python cannot tell (some builtins)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[1:] if bound and params else params


def _returns_none(fn) -> bool:
    try:
        annotation = inspect.signature(fn).return_annotation
    except (TypeError, ValueError):
        return False
    return annotation is None or annotation == "None"


def _problems_of_function(fn, *, bound=False) -> list[str]:
    """A function needs Args when it takes arguments and Returns unless it is annotated
    `-> None` (Google style documents neither an empty argument list nor None)."""
    doc = inspect.getdoc(fn) or ""
    if not doc.strip():
        return ["no docstring"]
    problems = []
    params = _parameters(fn, bound=bound)
    if (params is None or params) and not _ARGS.search(doc):
        problems.append("no Args:")
    if not _returns_none(fn) and not _RETURNS.search(doc):
        problems.append("no Returns:")
    return problems


def _problems_of_class(path, cls) -> list[str]:
    """A class needs a docstring; when its constructor takes named arguments, the class
    or its own __init__ documents them (Args:, or Attributes: for a NamedTuple's
    fields). An Enum's constructor looks members up by value: its members are its API."""
    doc = inspect.getdoc(cls) or ""
    if not doc.strip():
        return ["no docstring"]
    if path in INTERNAL_CONSTRUCTORS or issubclass(cls, enum.Enum):
        return []
    params = _parameters(cls, bound=False) or []
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    init_doc = inspect.getdoc(vars(cls)["__init__"]) if "__init__" in vars(cls) else ""
    if named and not (_FIELDS.search(doc) or _FIELDS.search(init_doc or "")):
        return ["constructor arguments not documented (no Args:)"]
    return []


# ----------------------------------------------------------------------------------------
# The public callables, by module
# ----------------------------------------------------------------------------------------
def _public_methods(cls) -> dict:
    """The public functions of a funcnet class (its own and inherited from funcnet
    classes; not object's or a builtin base's)."""
    methods = {}
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_") and (member.__module__ or "").startswith("funcnet"):
            methods[name] = member
    return methods


@functools.cache
def _jit_classes():
    """Jitted, Lowered and Compiled, as users meet them (one small compile)."""
    jitted = funcnet.jit(lambda x: x + 1)
    lowered = jitted.lower(fnp.float32(1))
    return type(jitted), type(lowered), type(lowered.compile())


def _classes_with_methods(module_name, module):
    """(path, class, method names or None for every public one) checked in `module`."""
    if module_name == "funcnet":
        classes = [funcnet.Array, funcnet.custom_jvp, funcnet.custom_vjp, *_jit_classes()]
        return [(f"funcnet.{c.__name__}", c, None) for c in classes]
    if module_name == "funcnet.nn":
        layers = [
            n
            for n in public_names(module)
            if inspect.isclass(getattr(module, n)) and issubclass(getattr(module, n), module.Layer)
        ]
        return [(f"funcnet.nn.{n}", getattr(module, n), LAYER_METHODS) for n in layers]
    return []


@functools.cache
def docstring_report(module_name) -> tuple[int, tuple[str, ...]]:
    """(number of public callables, "path: problem" for each incomplete one)."""
    module = importlib.import_module(module_name)
    total, problems = 0, []
    for name in public_names(module):
        path, obj = f"{module_name}.{name}", getattr(module, name)
        if path in EXEMPT or not callable(obj):
            continue  # a re-export, or a constant / primitive object / the config object
        total += 1
        found = (
            _problems_of_class(path, obj) if inspect.isclass(obj) else _problems_of_function(obj)
        )
        problems += [f"{path}: {', '.join(found)}"] if found else []
    for class_path, cls, wanted in _classes_with_methods(module_name, module):
        methods = _public_methods(cls)
        for method_name in wanted or sorted(methods):
            total += 1
            found = _problems_of_function(methods[method_name], bound=True)
            problems += [f"{class_path}.{method_name}: {', '.join(found)}"] if found else []
    return total, tuple(problems)


def coverage_table() -> str:
    lines = ["docstring coverage (complete / public callables, methods included):"]
    for name in COVERED_MODULES:
        total, problems = docstring_report(name)
        lines.append(f"  {name:16s} {total - len(problems):4d} / {total}")
    return "\n".join(lines)


@pytest.mark.parametrize("module_name", COVERED_MODULES)
def test_public_callables_have_args_and_returns(module_name):
    _, problems = docstring_report(module_name)
    assert not problems, (
        f"{coverage_table()}\n\n{len(problems)} incomplete in {module_name}:\n  "
        + "\n  ".join(problems)
    )


def test_exempt_names_are_public_reexports_of_the_stated_objects():
    for path, expected in EXEMPT.items():
        module_name, name = path.rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert name in public_names(module), f"{path} is no longer public: drop it from EXEMPT"
        assert getattr(module, name) is expected, f"{path} is not {expected!r}: document it"


def test_the_rules_catch_missing_sections():
    # The checker itself: a function without Returns and a class with undocumented
    # constructor arguments are reported; Args is not asked of a function without any.
    def no_returns(x):
        """Doubles.

        Args:
          x: a number.
        """

    def no_arguments() -> int:
        """The answer.

        Returns:
          42.
        """

    class Undocumented:
        """A thing."""

        def __init__(self, size):
            self.size = size

    assert _problems_of_function(no_returns) == ["no Returns:"]
    assert _problems_of_function(no_arguments) == []
    assert _problems_of_class("x.Undocumented", Undocumented) == [
        "constructor arguments not documented (no Args:)"
    ]


# ----------------------------------------------------------------------------------------
# Every example runs: doctest over every funcnet module
# ----------------------------------------------------------------------------------------
# funcnet.demo trains two models when run (it is exercised by tests/test_demo.py).
# funcnet.optim's examples also run in tests/test_optim.py (without these globals);
# they are cheap, so they run here too, under the same rules as everything else.
SKIP_DOCTESTS = {"funcnet.demo"}

DOCTEST_GLOBALS = {
    "fn": funcnet,
    "fnp": funcnet.numpy,
    "np": np,
    "lax": funcnet.lax,
    "nn": funcnet.nn,
    "random": funcnet.random,
    "optim": funcnet.optim,
}
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def funcnet_modules() -> list[str]:
    """Every module under funcnet/, found from the files: pkgutil.walk_packages would
    skip funcnet/core, a directory without __init__.py (a namespace package)."""
    root = Path(funcnet.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return [n for n in names if n not in SKIP_DOCTESTS]


@pytest.fixture
def config_restored():
    """An example may flip a switch (fn.config.enable_x64 = True); the next test in this
    worker must not inherit it, even when the example fails before switching back."""
    options = list(type(funcnet.config).__annotations__)
    saved = {name: getattr(funcnet.config, name) for name in options}
    yield
    for name, value in saved.items():
        setattr(funcnet.config, name, value)


@pytest.mark.parametrize("module_name", funcnet_modules())
def test_docstring_examples_run(module_name, config_restored):
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    report = []
    for test in doctest.DocTestFinder().find(module, module_name, extraglobs=DOCTEST_GLOBALS):
        runner.run(test, out=report.append)
    assert runner.failures == 0, (
        f"{runner.failures} of {runner.tries} examples in {module_name} failed:\n" + "".join(report)
    )
