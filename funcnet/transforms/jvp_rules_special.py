"""JVP rules of the special-function primitives (funcnet/lax/special.py), as jax
defines them: derivatives where jax has one, a clear error where it has none (the
order of polygamma, the parameters of betainc, zeta, and the two gradient helpers
igamma_grad_a and random_gamma_grad)."""

import ml_dtypes
import numpy as np

from funcnet import lax
from funcnet.core.trace import get_aval
from funcnet.lax import special as sp
from funcnet.transforms.ad_util import Zero, add_tangents
from funcnet.transforms.jvp import jvp_rules


def _c(x, value):
    aval = get_aval(x)
    return lax.broadcast_in_dim(np.asarray(value, aval.dtype)[()], aval.shape, ())


def _no_derivative(prim, what):
    def deriv(*args):
        raise NotImplementedError(
            f"{prim.name}: the derivative with respect to {what} is not implemented "
            "(jax.lax does not define it either)"
        )

    return deriv


def _defjvp(prim, *partials):
    """partials[i](*primals, out) is d out / d primals[i] (or raises)."""

    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        t = Zero(get_aval(out).strip_weak_type())
        for partial, tan in zip(partials, tangents):
            if not isinstance(tan, Zero):
                t = add_tangents(t, lax.mul(tan, partial(*primals, out)))
        return out, t

    jvp_rules.register(prim)(rule)


def _igamma_dx(a, x, out):
    # x^(a-1) e^-x / Gamma(a)
    return lax.exp(
        lax.sub(lax.add(lax.neg(x), lax.mul(lax.sub(a, _c(a, 1)), lax.log(x))), lax.lgamma(a))
    )


_defjvp(sp.igamma_p, lambda a, x, out: lax.igamma_grad_a(a, x), _igamma_dx)
_defjvp(
    sp.igammac_p,
    lambda a, x, out: lax.neg(lax.igamma_grad_a(a, x)),
    lambda a, x, out: lax.neg(_igamma_dx(a, x, out)),
)
for _p in (sp.igamma_grad_a_p, sp.random_gamma_grad_p):
    _defjvp(_p, _no_derivative(_p, "a"), _no_derivative(_p, "x"))
_defjvp(sp.zeta_p, _no_derivative(sp.zeta_p, "x"), _no_derivative(sp.zeta_p, "q"))
_defjvp(
    sp.polygamma_p,
    _no_derivative(sp.polygamma_p, "the order m"),
    lambda m, x, out: lax.polygamma(lax.add(m, _c(m, 1)), x),
)


def _betainc_dx(a, b, x, out):
    lbeta = lax.sub(lax.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(lax.add(a, b)))
    log_density = lax.add(
        lax.mul(lax.sub(b, _c(b, 1)), lax.log1p(lax.neg(x))),
        lax.mul(lax.sub(a, _c(a, 1)), lax.log(x)),
    )
    return lax.exp(lax.sub(log_density, lbeta))


_p = sp.regularized_incomplete_beta_p
_defjvp(_p, _no_derivative(_p, "a"), _no_derivative(_p, "b"), _betainc_dx)
_defjvp(sp.bessel_i0e_p, lambda x, y: lax.sub(lax.bessel_i1e(x), lax.mul(lax.sign(x), y)))


def _bessel_i1e_dx(x, y):
    eps = float(ml_dtypes.finfo(get_aval(x).dtype).eps)
    not_tiny = lax.gt(lax.abs(x), _c(x, eps))
    safe_x = lax.select(not_tiny, x, _c(x, eps))
    dy = lax.sub(
        lax.bessel_i0e(safe_x), lax.mul(y, lax.add(lax.sign(safe_x), lax.div(_c(x, 1), safe_x)))
    )
    return lax.select(not_tiny, dy, _c(x, 0.5))


_defjvp(sp.bessel_i1e_p, _bessel_i1e_dx)
