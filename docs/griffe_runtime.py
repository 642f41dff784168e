"""A griffe extension: document each public name as the object a user gets at runtime.

mkdocstrings reads funcnet by importing it (``force_inspection``), but griffe drops or
misplaces some public names, silently:

- functions made by a factory and wrapped by a decorator (``fnp.sin``, ``lax.scatter_add``):
  griffe unwraps them and looks for ``_factory.<locals>.fn``, which it cannot find;
- names whose home module has no ``__init__.py`` (``funcnet/core`` is a namespace
  package, so ``fn.Array`` cannot be followed there);
- names shadowed by a submodule of the same name (``fn.lax.broadcast`` the function vs
  ``funcnet/lax/broadcast.py``; ``fn.devices`` vs ``funcnet/devices.py``);
- callable objects that are not functions (``nn.relu`` is a ``custom_jvp``);
- objects that are NumPy's or jax.tree_util's own (``fnp.dtype is np.dtype``).

It also rewrites three Google-style (napoleon) forms that griffe's parser misreads:

- an ``Example:`` heading becomes ``Examples:`` (griffe knows only the plural; without
  this the ``>>>`` lines render as prose);
- an ``Args:`` (or ``Attributes:``) item naming several parameters (``b1, b2: decays``)
  becomes one item per name, so that griffe checks each name against the signature (a
  documented parameter the function does not have fails the strict build);
- a ``>>>`` session written in prose, outside an ``Examples:`` section (a module's
  overview), becomes a fenced code block.

For every public name of the configured modules this extension checks what griffe holds
and, where it is missing, unresolvable or of the wrong kind, puts in its place an object
built from the runtime value: its ``inspect.signature`` and its ``inspect.getdoc`` (what
``help()`` shows, and what tests/test_docstrings.py checks). Re-exports of NumPy or jax
objects get a one-line note naming the original instead of that library's docstring.
The check runs once, when mkdocstrings loads the package.
"""

import enum
import importlib
import inspect
import re
import types

import griffe

# Where a re-exported object comes from, by identity, for the note that replaces its
# (NumPy- or Sphinx-formatted) docstring.
_FOREIGN_HOMES = ("numpy", "jax.tree", "jax.tree_util", "ml_dtypes")


def public_names(module) -> list[str]:
    """The module's public names: its ``__all__``, else the names without a leading
    underscore, in both cases without submodules (they get their own page)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(module, n), types.ModuleType)]


def _is_funcnet(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "funcnet"


def _is_foreign(obj) -> bool:
    """Another library's function, class or object (``np.dtype``, ``jax.tree_util``'s
    registry); plain constants (``fnp.pi``, ``fnp.newaxis``) are shown by value."""
    return not _is_funcnet(obj) and not isinstance(
        obj, (int, float, complex, str, bytes, type(None))
    )


def _foreign_path(obj, name) -> str:
    for home in _FOREIGN_HOMES:
        try:
            mod = importlib.import_module(home)
        except ImportError:
            continue
        for candidate in (name, getattr(obj, "__name__", name)):
            if getattr(mod, candidate, None) is obj:
                return f"{home}.{candidate}"
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', name)}"


_EXAMPLE_HEADING = re.compile(r"^Example:[ \t]*$", re.MULTILINE)
_NAMED_ITEM_HEADINGS = (
    "Args:",
    "Arguments:",
    "Parameters:",
    "Params:",
    "Keyword Args:",
    "Attributes:",
)
_GROUPED_NAMES = re.compile(
    r"^(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)+)(?P<rest>\s*(?:\(.*?\))?:.*)$"
)


def _fence_doctests(text) -> str:
    """Fence ``>>>`` blocks written in prose (a module's overview): Markdown would read
    ``>>>`` as nested quotes and an output line ``[1, 2]`` as a link. Blocks inside an
    ``Examples:`` section are left to griffe, which renders them as code already."""
    lines, out, section, i = text.split("\n"), [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.strip() and not _indent(line) and line.rstrip().endswith(":"):
            section = line.strip()
        if section == "Examples:" or not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        end = i
        while end < len(lines) and lines[end].strip():
            end += 1
        margin = " " * _indent(line)
        out.extend([margin + "```pycon", *lines[i:end], margin + "```"])
        i = end
    return "\n".join(out)


def _indent(line) -> int:
    return len(line) - len(line.lstrip())


def _expand_grouped_names(text) -> str:
    """``a, b: text`` items of an Args (or Attributes) section become ``a: text`` and
    ``b: text``."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].strip() not in _NAMED_ITEM_HEADINGS or _indent(lines[i]):
            i += 1
            continue
        i += 1
        # The section: lines up to the next non-blank line back at column 0.
        end = i
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end])):
            end += 1
        out.extend(_expand_items(lines[i:end]))
        i = end
    return "\n".join(out)


def _expand_items(section) -> list[str]:
    item_indent = next((_indent(line) for line in section if line.strip()), 0)
    items, out = [], []
    for line in section:
        if line.strip() and _indent(line) == item_indent:
            items.append([line])
        elif items:
            items[-1].append(line)
        else:
            out.append(line)
    for first, *rest in items:
        match = _GROUPED_NAMES.match(first.strip())
        if match is None:
            out.extend([first, *rest])
            continue
        for name in re.split(r"\s*,\s*", match["names"]):
            out.extend([" " * item_indent + name + match["rest"], *rest])
    return out


def _runtime_object(path):
    """The object at dotted ``path`` (the longest importable prefix, then attributes)."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(path)


def _add_constructor(cls, builder) -> None:
    """Give a class without ``__init__`` (a NamedTuple: its constructor is ``__new__``;
    an Enum) its runtime signature, which griffe checks ``Args:`` against."""
    if "__init__" in cls.all_members:
        return
    try:
        runtime = _runtime_object(cls.path)
    except (ImportError, AttributeError):
        return
    if isinstance(runtime, enum.EnumType):
        parameters = [griffe.Parameter("value")]  # not EnumType.__call__'s functional API
    else:
        try:
            inspect.signature(runtime)
        except (TypeError, ValueError):
            return  # an exception class: its constructor is Python's (*args)
        parameters = builder.function("__init__", runtime, doc="").parameters
    init = griffe.Function("__init__", docstring=builder.docstring(""))
    init.parameters = griffe.Parameters(griffe.Parameter("self"), *parameters)
    cls.set_member("__init__", init)


def _drop_type_docstring(attribute) -> None:
    """Inspection gives an attribute its value's class docstring (``kind = "custom_jvp"``
    gets str's, ``lax.add_p`` Primitive's, an enum member its enum's): that describes
    the type, not the attribute, so it goes."""
    if attribute.docstring is None:
        return
    try:
        value = _runtime_object(attribute.path)
    except (ImportError, AttributeError):
        return
    if attribute.docstring.value == (inspect.getdoc(type(value)) or ""):
        attribute.docstring = None


def _normalize(obj, builder, seen) -> None:
    """Rewrite the docstrings of ``obj`` and of everything under it (not following
    aliases: their targets are visited where they are defined)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if obj.is_class:
        _add_constructor(obj, builder)
    if obj.is_attribute:
        _drop_type_docstring(obj)
    if obj.docstring is not None:
        text = _EXAMPLE_HEADING.sub("Examples:", obj.docstring.value)
        obj.docstring.value = _fence_doctests(_expand_grouped_names(text))
    for member in list(obj.members.values()):
        if not member.is_alias:
            _normalize(member, builder, seen)


class RuntimeMembers(griffe.Extension):
    """Replace griffe's view of public names that it got wrong by the runtime objects.

    Args:
      modules: dotted names of the modules whose public names are checked.
      keep: dotted paths griffe holds as a module that stay modules even though the
        package attribute of that name is something else (``funcnet.config``: the page
        documents the module that explains the ``fn.config`` object).
    """

    def __init__(self, modules=(), keep=()):
        super().__init__()
        self.modules = list(modules)
        self.keep = set(keep)

    def on_package(self, *, pkg, loader, **kwargs):
        targets = [m for m in self.modules if m.split(".")[0] == pkg.name]
        # Resolve every alias before replacing anything: a replaced module would otherwise
        # strand the aliases that point into it (fn.asarray -> funcnet.devices.asarray).
        plans = [self._plan(pkg, name) for name in targets]
        # Rewrite docstrings while every module is still in the tree (a replaced module
        # keeps the objects its re-exports point to: fn.typeof is funcnet.devices.typeof).
        builder, seen = _Builder(loader), set()
        _normalize(pkg, builder, seen)
        for gmod, runtime, replacements in plans:
            for name in replacements:
                built = builder.build(name, getattr(runtime, name))
                gmod.set_member(name, built)
                _normalize(built, builder, seen)

    def _plan(self, pkg, module_name):
        runtime = importlib.import_module(module_name)
        gmod = pkg if module_name == pkg.name else pkg.get_member(module_name.split(".", 1)[1])
        replacements = [
            n for n in public_names(runtime) if self._needs_runtime(gmod, n, getattr(runtime, n))
        ]
        return gmod, runtime, replacements

    def _needs_runtime(self, gmod, name, obj) -> bool:
        member = gmod.members.get(name)
        if member is None:
            return True
        if _is_foreign(obj):
            return True  # a NumPy / jax object: a note, not its library's docstring
        try:
            target = member.final_target if member.is_alias else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return True
        if target.is_module:
            return f"{gmod.path}.{name}" not in self.keep
        # A callable instance (nn.relu is a custom_jvp): document it as a function.
        return callable(obj) and not inspect.isclass(obj) and target.is_attribute


def _annotation_text(annotation):
    """An annotation as written (a string one, from ``from __future__ import
    annotations``, as is, not quoted again)."""
    if annotation is inspect.Parameter.empty:
        return None
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


class _Builder:
    """Makes griffe objects from runtime objects, with the loader's docstring parser."""

    def __init__(self, loader):
        self.parser = loader.docstring_parser
        self.options = loader.docstring_options

    def docstring(self, text):
        return griffe.Docstring(text or "", parser=self.parser, parser_options=self.options)

    def build(self, name, obj):
        if _is_foreign(obj):
            note = f"`{_foreign_path(obj, name)}`, re-exported (the same object)."
            if inspect.isclass(obj):
                return griffe.Class(name, docstring=self.docstring(note))
            if callable(obj):
                return self.function(name, obj, doc=note)
            return griffe.Attribute(name, docstring=self.docstring(note))
        if inspect.isclass(obj):
            return self.klass(name, obj)
        if callable(obj):
            return self.function(name, obj)
        return griffe.Attribute(name, value=repr(obj), docstring=None)

    def function(self, name, obj, doc=None):
        return griffe.Function(
            name,
            parameters=self.parameters(obj),
            docstring=self.docstring(inspect.getdoc(obj) if doc is None else doc),
        )

    def parameters(self, obj):
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            return griffe.Parameters()
        return griffe.Parameters(
            *(
                griffe.Parameter(
                    p.name,
                    kind=griffe.ParameterKind(p.kind.description),
                    annotation=_annotation_text(p.annotation),
                    default=None if p.default is p.empty else repr(p.default),
                )
                for p in signature.parameters.values()
            )
        )

    def klass(self, name, cls):
        built = griffe.Class(name, docstring=self.docstring(inspect.getdoc(cls)))
        for member_name, raw in vars(cls).items():
            if member_name.startswith("_") and member_name != "__init__":
                continue
            if isinstance(raw, property):
                attr = griffe.Attribute(member_name, docstring=self.docstring(raw.__doc__))
                attr.labels.add("property")
                built.set_member(member_name, attr)
            elif isinstance(raw, (staticmethod, classmethod)):
                built.set_member(member_name, self.function(member_name, raw.__func__))
            elif member_name == "__init__":
                # Its own docstring only: inspect.getdoc would inherit object.__init__'s
                # "Initialize self..." into the class's description.
                built.set_member(
                    member_name, self.function(member_name, raw, doc=raw.__doc__ or "")
                )
            elif inspect.isfunction(raw):
                built.set_member(member_name, self.function(member_name, raw))
        return built
