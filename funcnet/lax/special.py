"""Special-function primitives: incomplete gamma and beta, polygamma, Hurwitz zeta,
scaled Bessel functions, and the derivative of gamma samples (as jax.lax defines them).

Like the other elementwise primitives they take float operands of one shape and dtype;
the binders broadcast scalars (and size-1 axes of equal-rank arrays) as jax.lax does.
polygamma, zeta and bessel_i1e lower to CHLO ops; the others to series and continued
fractions written in funcnet.lax (funcnet/backend/lowering_special.py).
"""

from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive
from funcnet.lax.elementwise import FLOAT, _check_kinds, broadcast_operands, unary


def _nary_abstract_eval(prim):
    def rule(*avals):
        shapes, dts = [a.shape for a in avals], [a.dtype for a in avals]
        if any(s != shapes[0] for s in shapes):
            raise TypeError(
                f"{prim} got incompatible shapes {', '.join(map(str, shapes))}{where()}"
            )
        if any(d != dts[0] for d in dts):
            raise TypeError(f"{prim} got different dtypes {', '.join(map(str, dts))}{where()}")
        for a in avals:
            _check_kinds(prim, a, (FLOAT,))
        return ShapedArray(shapes[0], dts[0], all(a.weak_type for a in avals))

    return rule


def nary(name) -> Primitive:
    p = Primitive(name)
    p.def_abstract_eval(_nary_abstract_eval(p))
    return p


igamma_p = nary("igamma")
igammac_p = nary("igammac")
igamma_grad_a_p = nary("igamma_grad_a")
random_gamma_grad_p = nary("random_gamma_grad")
polygamma_p = nary("polygamma")
zeta_p = nary("zeta")
regularized_incomplete_beta_p = nary("regularized_incomplete_beta")
bessel_i0e_p = unary("bessel_i0e")
bessel_i1e_p = unary("bessel_i1e")

BINARY_SPECIAL = [igamma_p, igammac_p, igamma_grad_a_p, random_gamma_grad_p, polygamma_p, zeta_p]
UNARY_SPECIAL = [bessel_i0e_p, bessel_i1e_p]
SPECIAL = BINARY_SPECIAL + UNARY_SPECIAL + [regularized_incomplete_beta_p]


def _bind(p, *args):
    return p.bind(*broadcast_operands(p.name, args))


def igamma(a, x):
    """The regularized lower incomplete gamma function P(a, x), as jax.lax.igamma.

    Out of the domain (a < 0, x < 0, a == x == 0, nan) the result is nan.

    Args:
      a: the shape parameter, a float array.
      x: the upper limit of the integral, a float array of ``a``'s dtype; either may
        be a scalar, and arrays of one rank broadcast their size-1 axes.

    Returns:
      P(a, x) = gamma(a, x) / Gamma(a), an array of the broadcast shape and the dtype.

    Example:
      >>> round(float(lax.igamma(np.float32(2.0), np.float32(1.5))), 5)
      0.44217
    """
    return _bind(igamma_p, a, x)


def igammac(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), as
    jax.lax.igammac.

    Args:
      a: the shape parameter, a float array.
      x: the lower limit of the integral, a float array of ``a``'s dtype (broadcast as
        in ``igamma``).

    Returns:
      Q(a, x), an array of the broadcast shape and the dtype (nan out of the domain).
    """
    return _bind(igammac_p, a, x)


def igamma_grad_a(a, x):
    """The derivative of ``igamma(a, x)`` with respect to ``a``, as jax.lax.igamma_grad_a.

    Args:
      a: the shape parameter, a float array (a > 0).
      x: a float array of ``a``'s dtype (broadcast as in ``igamma``).

    Returns:
      dP(a, x)/da, an array of the broadcast shape and the dtype. Not differentiable
      itself (as in jax).
    """
    return _bind(igamma_grad_a_p, a, x)


def random_gamma_grad(*args):
    """The derivative of a Gamma(a, 1) sample ``x`` with respect to ``a``, holding its
    uniform quantile P(a, x) fixed (implicit reparameterization), as
    jax.lax.random_gamma_grad(a, x): -(dP/da) / (dP/dx).

    Args:
      *args: ``(a, x)``: the shape parameters (a > 0), a float array, and the samples,
        a float array of ``a``'s dtype (broadcast as in ``igamma``); positional, as
        jax's signature ``random_gamma_grad(*args)``.

    Returns:
      dx/da, an array of the broadcast shape and the dtype. Not differentiable itself.

    Raises:
      TypeError: not exactly two operands.
    """
    if len(args) != 2:
        raise TypeError(f"random_gamma_grad takes two operands (a, x), got {len(args)}")
    return _bind(random_gamma_grad_p, *args)


def polygamma(m, x):
    """The polygamma function psi^(m)(x), the m-th derivative of digamma, as
    jax.lax.polygamma.

    Args:
      m: the order, a float array holding non-negative integers (others give nan).
      x: a float array of ``m``'s dtype (broadcast as in ``igamma``).

    Returns:
      psi^(m)(x), an array of the broadcast shape and the dtype. Differentiable in
      ``x`` only (as in jax).

    Example:
      >>> round(float(lax.polygamma(np.float32(1.0), np.float32(1.0))), 5)
      1.64493
    """
    return _bind(polygamma_p, m, x)


def zeta(x, q):
    """The Hurwitz zeta function sum_k (k + q)^-x, as jax.lax.zeta.

    Args:
      x: the exponent, a float array (x > 1 for a finite value).
      q: the shift, a float array of ``x``'s dtype (broadcast as in ``igamma``).

    Returns:
      zeta(x, q), an array of the broadcast shape and the dtype. Not differentiable
      (jax defines no derivative either).
    """
    return _bind(zeta_p, x, q)


def bessel_i0e(x):
    """The exponentially scaled modified Bessel function exp(-|x|) I0(x), as
    jax.lax.bessel_i0e.

    Args:
      x: a float array.

    Returns:
      An array of ``x``'s shape and dtype.

    Example:
      >>> round(float(lax.bessel_i0e(np.float32(1.0))), 5)
      0.46576
    """
    return bessel_i0e_p.bind(x)


def bessel_i1e(x):
    """The exponentially scaled modified Bessel function exp(-|x|) I1(x), as
    jax.lax.bessel_i1e.

    Args:
      x: a float array.

    Returns:
      An array of ``x``'s shape and dtype.
    """
    return bessel_i1e_p.bind(x)


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b), as jax.lax.betainc.

    Out of the domain (a < 0, b < 0, x outside [0, 1], nan) the result is nan.

    Args:
      a: a float array.
      b: a float array of ``a``'s dtype.
      x: a float array of ``a``'s dtype; any may be a scalar, and arrays of one rank
        broadcast their size-1 axes.

    Returns:
      I_x(a, b), an array of the broadcast shape and the dtype. Differentiable in ``x``
      only (as in jax).

    Example:
      >>> round(float(lax.betainc(np.float32(2.0), np.float32(3.0), np.float32(0.5))), 5)
      0.6875
    """
    return _bind(regularized_incomplete_beta_p, a, b, x)
