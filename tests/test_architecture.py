"""The layers of funcnet import one way only (ARCHITECTURE.md), with no import circle,
no import inside a function unless it says why, and jax touched only by the runtime.

Each module's imports are read from its source (module level and inside functions)."""

import ast
import pathlib

import funcnet

ROOT = pathlib.Path(funcnet.__file__).parent

# Lowest first. A module may import from its own layer or below, never above.
LAYERS = [
    ("tree / config", ["funcnet.config", "funcnet.tree", "funcnet.tree_util"]),
    ("runtime", ["funcnet.runtime", "funcnet.sharding"]),
    ("core and the IR", ["funcnet.core"]),
    ("lax: the primitives", ["funcnet.lax"]),
    ("backend: lowering and execution", ["funcnet.backend"]),
    ("transformations", ["funcnet.transforms"]),
    ("numpy", ["funcnet.numpy"]),
    (
        "libraries",
        [
            "funcnet.random",
            "funcnet.nn",
            "funcnet.scipy",
            "funcnet.optim",
            "funcnet.debug",
            "funcnet.distributed",
            "funcnet.devices",
            "funcnet.errors",
            "funcnet.test_util",
            "funcnet.datasets",
            "funcnet.io",
            "funcnet.export",
            "funcnet.onnx",
            "funcnet.data",
            "funcnet.train",
            "funcnet.compress",
        ],
    ),
    ("the public API", ["funcnet"]),
    ("programs", ["funcnet.demo"]),
]

# Where jax and jaxlib may be imported: the runtime and the pytree library (DESIGN.md).
JAX_ALLOWED = {"funcnet.runtime", "funcnet.tree", "funcnet.tree_util"}


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(name):
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _layer(module):
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def _imports(module):
    """(imported module or None for a non-funcnet one, raw name, line, inside a function,
    the source line) for every import statement of `module`."""
    source = MODULES[module].read_text()
    lines = source.splitlines()
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    out.append((alias.name, child.lineno, nested))
            elif isinstance(child, ast.ImportFrom) and child.module:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    out.append((full if full in MODULES else child.module, child.lineno, nested))
            visit(child, nested)

    def with_comment(line):  # the import, the block of imports it is in, the line above
        first = line
        while first > 1 and lines[first - 2].lstrip().startswith(("import ", "from ")):
            first -= 1
        return "\n".join(lines[max(first - 2, 0) : line])

    visit(ast.parse(source), False)
    return [
        (
            _resolve(name) if name.startswith("funcnet") else None,
            name,
            line,
            nested,
            with_comment(line),
        )
        for name, line, nested in out
    ]


def test_every_import_runs_down_the_layers():
    upward = []
    for module in MODULES:
        for target, _, line, _, _ in _imports(module):
            if target is not None and _layer(target) > _layer(module):
                upward.append(
                    f"{module}:{line} imports {target} "
                    f"({LAYERS[_layer(module)][0]} -> {LAYERS[_layer(target)][0]})"
                )
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_lowering_does_not_import_the_transformations():
    """The backend sits beside the transformations in spirit but below them: a primitive
    both need (jit_p, say) lives in lax."""
    for module in MODULES:
        if module.startswith("funcnet.backend"):
            for target, _, line, _, _ in _imports(module):
                assert target is None or not target.startswith("funcnet.transforms"), (
                    f"{module}:{line} imports {target}"
                )


def test_no_import_circle():
    graph = {
        m: {t for t, _, _, nested, _ in _imports(m) if t and t != m and not nested} for m in MODULES
    }
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def connect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for m in graph:
        if m not in index:
            connect(m)
    assert not circles, f"import circles: {circles}"


def test_imports_inside_functions_say_why():
    """An import inside a function breaks a real cycle or defers a heavy optional
    dependency, and a comment on it or just above says which."""
    silent = [
        f"{m}:{line} ({name})"
        for m in MODULES
        for _, name, line, nested, text in _imports(m)
        if nested and "#" not in text
    ]
    assert not silent, "function-level imports without a reason: " + ", ".join(silent)


def test_jax_is_touched_only_by_the_runtime_and_the_pytrees():
    offenders = []
    for module in MODULES:
        if any(module == a or module.startswith(a + ".") for a in JAX_ALLOWED):
            continue
        for _, name, line, _, _ in _imports(module):
            if name == "jax" or name.startswith(("jax.", "jaxlib")):
                offenders.append(f"{module}:{line} imports {name}")
    assert not offenders, offenders
