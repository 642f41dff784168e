"""Transpose rules (rows of `transpose_rules`) for funcnet.lax.linalg: triangular_solve is
linear in its right-hand side `b` (as `div` is in its numerator)."""

from funcnet.lax import linalg as lg
from funcnet.transforms.ad_util import Zero, is_undefined
from funcnet.transforms.transpose import transpose_rules


@transpose_rules.register(lg.triangular_solve_p)
def _triangular_solve_t(ct, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    assert not is_undefined(a) and is_undefined(b)
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    # (the binder: it conjugates `a` itself when asked to without a transpose)
    ct_b = lg.triangular_solve(
        a,
        ct,
        left_side=left_side,
        lower=lower,
        transpose_a=not transpose_a,
        conjugate_a=conjugate_a,
        unit_diagonal=unit_diagonal,
    )
    return [None, ct_b]
