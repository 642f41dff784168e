"""Rule tables: one per interpretation of primitives.

Every transformation owns one `RuleTable`, named after it and kept in the module of its
machinery: `impl_rules` (eager evaluation, core/trace.py), `lowering_rules`
(backend/lowering.py), `jvp_rules` (transforms/jvp.py), `transpose_rules`
(transforms/transpose.py), `batching_rules` (transforms/batching.py) and
`partial_eval_rules` (transforms/partial_eval.py); abstract evaluation is a method of
`Primitive`. Rows are added one way only, with `register`, as a decorator or applied to
a rule made for a family of primitives (`deflinear` and `defjvp_unary` in jvp_rules.py,
`deftranspose` in transpose_rules.py, one `_elementwise` batching rule for every
elementwise primitive).
tests/test_rules.py walks every primitive through every table.
"""


class RuleTable(dict):
    """`Primitive -> rule` for one interpretation.

    Args:
      name: the interpretation ("jvp", "lowering", ...), for error messages.
    """

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def register(self, *prims):
        """`@table.register(p, q)` makes the decorated function the rule of `p` and `q`
        (or `table.register(p)(rule)` for a rule a helper built). A primitive gets one
        rule per table: registering it twice is an error (a row that shadows another
        would silently change behaviour)."""

        def add(rule):
            for p in prims:
                if p in self:
                    raise ValueError(
                        f"{self.name} rule for primitive {p.name!r} is already registered"
                    )
                dict.__setitem__(self, p, rule)
            return rule

        return add

    def __repr__(self):
        return f"RuleTable({self.name!r}, {len(self)} primitives)"
