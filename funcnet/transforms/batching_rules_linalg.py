"""Batching rules (rows of `batching_rules`) for funcnet.lax.linalg: every decomposition
maps over leading axes, so the batch axis moves to the front."""

from funcnet.lax import linalg as lg
from funcnet.transforms.batching import batching_rules, bdim_to, moveaxis


def _leading(prim):
    def rule(size, vals, dims, **params):
        (x,), (d,) = vals, dims
        outs = prim.bind(moveaxis(x, d, 0), **params)
        if prim.multiple_results:
            return outs, [0] * len(outs)
        return outs, 0

    return rule


for _p in (lg.cholesky_p, lg.lu_p, lg.qr_p, lg.eigh_p, lg.svd_p, lg.eig_p):
    batching_rules.register(_p)(_leading(_p))


@batching_rules.register(lg.triangular_solve_p)
def _triangular_solve(size, vals, dims, **params):
    a, b = (bdim_to(v, d, size, 0) for v, d in zip(vals, dims))
    return lg.triangular_solve_p.bind(a, b, **params), 0
