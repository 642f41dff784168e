"""Every primitive against every rule table.

funcnet's primitives live in funcnet.lax (and a few call primitives beside their
machinery: custom rules, checkpoint, control flow, debug callbacks). Each transformation
owns one `RuleTable`; a new primitive must add a row to each, or be listed below with
the reason it has none. Linear primitives must also be transposable: every equation that
reads a linear input in a linearized program must have a transpose rule.
"""

import ast
import importlib
import pathlib
import pkgutil

import numpy as np
import pytest

import funcnet as fn
from funcnet.backend.lowering import lowering_rules
from funcnet.core.jaxpr import Var
from funcnet.core.rules import RuleTable
from funcnet.core.trace import Primitive, impl_rules
from funcnet.transforms.batching import batching_rules
from funcnet.transforms.jvp import jvp_rules
from funcnet.transforms.partial_eval import partial_eval_rules
from funcnet.transforms.transpose import transpose_rules


def _all_primitives():
    prims = {}
    for info in pkgutil.walk_packages(fn.__path__, "funcnet."):
        if info.name == "funcnet.demo":
            continue
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, Primitive):
                prims[value.name] = value
    return prims


PRIMITIVES = _all_primitives()

# Tables every primitive needs a row in, and the primitives that have none by design.
REQUIRED = {
    "lowering": (lowering_rules, {}),
    "jvp": (jvp_rules, {}),
    "batching": (batching_rules, {}),
}

# Tables with a default for primitives without a row: eager evaluation compiles the
# one-primitive program; partial evaluation stages an equation with an unknown input.
# Rows there are for primitives that carry programs or run on the host.
OPTIONAL = {"impl": impl_rules, "partial_eval": partial_eval_rules}


def test_the_walk_finds_every_kind_of_primitive():
    names = set(PRIMITIVES)
    assert {
        "add",
        "dot_general",
        "gather",
        "scan",
        "cond",
        "while",
        "jit",
        "remat",
        "custom_jvp_call",
        "custom_vjp_call",
        "custom_lin",
        "debug_callback",
        "stop_gradient",
        "optimization_barrier",
    } <= names
    assert len(names) > 100


@pytest.mark.parametrize("table_name", sorted(REQUIRED))
def test_every_primitive_has_a_row(table_name):
    table, by_design = REQUIRED[table_name]
    missing = sorted(
        name for name, p in PRIMITIVES.items() if p not in table and name not in by_design
    )
    assert not missing, f"no {table_name} rule for {missing}"
    stale = sorted(set(by_design) - set(PRIMITIVES))
    assert not stale, f"listed as having no {table_name} rule but gone: {stale}"


def test_tables_hold_only_known_primitives():
    for table in [t for t, _ in REQUIRED.values()] + list(OPTIONAL.values()) + [transpose_rules]:
        assert isinstance(table, RuleTable)
        unknown = [
            p for p in table if not isinstance(p, Primitive) or PRIMITIVES.get(p.name) is not p
        ]
        assert not unknown, f"{table.name} has rows for unknown primitives {unknown}"


def test_registering_a_primitive_twice_is_refused():
    p = Primitive("twice")
    table = RuleTable("test")
    table.register(p)(lambda: 1)
    with pytest.raises(ValueError, match="'twice' is already registered"):
        table.register(p)(lambda: 2)


# --- linear primitives are transposable ----------------------------------------------------


def _linear_programs():
    """The linear program of a differentiable use of every primitive: the size-zero
    suite's cases, with their zero dimensions grown to 2 where the case allows it (an
    empty operand can skip a rule's work), else as they are."""
    import test_zero_size as z

    for name, (_, args, diff) in z.ALL.items():
        if not diff:
            continue
        f = z._bound(z.FN, name)
        grown = [np.ones(tuple(d or 2 for d in np.shape(x)), np.asarray(x).dtype) for x in args]
        for attempt in (grown, args):
            try:
                _, f_lin = fn.linearize(f, *attempt)
            except (TypeError, ValueError):  # the case's shapes must stay as they are
                continue
            yield name, fn.make_jaxpr(f_lin)(*attempt)
            break


def _linear_equations(jaxpr):
    """The equations of a linear program that read a linear value (its inputs, or what
    was computed from them); the others run forwards during transposition."""
    linear = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if any(isinstance(x, Var) and x in linear for x in eqn.inputs):
            linear.update(eqn.outputs)
            yield eqn


def test_every_primitive_a_linear_program_holds_has_a_transpose_rule():
    seen = set()
    for name, program in _linear_programs():
        for eqn in _linear_equations(program.jaxpr):
            seen.add(eqn.primitive.name)
            assert eqn.primitive in transpose_rules, (
                f"{name}: its linear program holds {eqn.primitive.name}, which has no "
                "transpose rule"
            )
    # the walk reaches the linear primitives of every family
    assert {
        "add",
        "mul",
        "dot_general",
        "conv_general_dilated",
        "gather",
        "scatter_add",
        "dynamic_update_slice",
        "reduce_sum",
        "cumsum",
        "pad",
        "concatenate",
        "select_n",
        "jit",
        "scan",
        "cond",
    } <= seen


# --- one registry idiom ----------------------------------------------------------------------

TABLE_NAMES = {
    "impl_rules",
    "lowering_rules",
    "jvp_rules",
    "transpose_rules",
    "batching_rules",
    "partial_eval_rules",
}


def test_tables_are_filled_only_with_register():
    """Rows are added with `table.register(...)`: no item assignment, update or
    __setitem__ on a table anywhere in funcnet."""
    root = pathlib.Path(fn.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            target = None
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                target = next((t for t in targets if isinstance(t, ast.Subscript)), None)
                target = target.value if target is not None else None
            elif isinstance(node, ast.Attribute) and node.attr in (
                "update",
                "__setitem__",
                "setdefault",
            ):
                target = node.value
            if isinstance(target, ast.Name) and target.id in TABLE_NAMES:
                offenders.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert not offenders, f"tables written without register: {offenders}"
