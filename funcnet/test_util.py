"""check_grads: compare funcnet's derivatives with finite differences, as jax users know it."""

import numpy as np

import funcnet.numpy as fnp
from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.trace import get_aval
from funcnet.transforms.grad import vjp
from funcnet.transforms.jvp import jvp

_DEFAULT_EPS = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-6}
_DEFAULT_TOL = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 2e-2, np.dtype(np.float64): 1e-5}


def _host(v):
    """float64 (complex128 for complex values) on the host."""
    return np.asarray(v, np.complex128 if dtypes.is_complex(get_aval(v).dtype) else np.float64)


def _flat(x):
    return [_host(v) for v in tree.tree_leaves(x)]


def _vdot(a, b):
    # The real inner product Re(sum conj(x) y), as jax.test_util.inner_prod.
    return sum(float(np.real(np.vdot(x, y))) for x, y in zip(_flat(a), _flat(b)))


def _conj(x):
    return tree.tree_map(lambda v: fnp.conj(v) if dtypes.is_complex(get_aval(v).dtype) else v, x)


def _add_scaled(args, tangents, scale):
    return tree.tree_map(
        lambda a, t: (fnp.asarray(a) + scale * fnp.asarray(t)).astype(get_aval(a).dtype),
        args,
        tangents,
    )


def _random_like(x, rng):
    aval = get_aval(x)
    values = rng.standard_normal(aval.shape)
    if dtypes.is_complex(aval.dtype):  # a random complex direction, as jax's rand_like
        values = values + 1j * rng.standard_normal(aval.shape)
    return fnp.asarray(values.astype(aval.dtype))


def _numerical_jvp(f, args, tangents, eps):
    plus = f(*_add_scaled(args, tangents, eps))
    minus = f(*_add_scaled(args, tangents, -eps))
    return tree.tree_map(
        lambda p, m: (_host(p) - _host(m)) / (2 * eps),
        plus,
        minus,
    )


def _assert_close(actual, expected, atol, rtol, what):
    for a, e in zip(_flat(actual), _flat(expected)):
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=what)


def _defaults(args, eps, atol, rtol):
    leaves = tree.tree_leaves(args)
    dt = max(
        (
            dtypes.real_dtype(get_aval(x).dtype)
            for x in leaves
            if dtypes.is_inexact(get_aval(x).dtype)
        ),
        key=lambda d: d.itemsize,
        default=np.dtype(np.float32),
    )
    dt = np.dtype(np.float32) if dt == dtypes.bfloat16 else dt
    return (
        eps or _DEFAULT_EPS.get(dt, 1e-3),
        atol or _DEFAULT_TOL.get(dt, 2e-2),
        rtol or _DEFAULT_TOL.get(dt, 2e-2),
    )


def check_jvp(f, args, eps=None, atol=None, rtol=None, rng=None):
    """Checks `funcnet.jvp` of `f` against central differences along a random direction.

    Unlike `jax.test_util.check_jvp`, it takes `f` itself (not a jvp function) and
    draws the direction.

    Args:
      f: a function of arrays returning a pytree of arrays.
      args: a tuple of its (floating-point) arguments.
      eps: the finite-difference step; None picks one by the widest float dtype among
        `args` (1e-3 for float32, 1e-6 for float64).
      atol, rtol: tolerances of the comparison; None picks them by dtype (2e-2 for
        float32, 1e-5 for float64).
      rng: a `np.random.Generator` for the direction (default: seeded with 0).

    Returns:
      None.

    Raises:
      AssertionError: the JVP and the finite difference differ beyond the tolerances.
    """
    eps, atol, rtol = _defaults(args, eps, atol, rtol)
    rng = rng or np.random.default_rng(0)
    tangents = tree.tree_map(lambda a: _random_like(a, rng), tuple(args))
    _, t_out = jvp(f, tuple(args), tangents)
    expected = _numerical_jvp(f, tuple(args), tangents, eps)
    _assert_close(t_out, expected, atol, rtol, "JVP does not match finite differences")


def check_vjp(f, args, eps=None, atol=None, rtol=None, rng=None):
    """Checks `funcnet.vjp` of `f` against finite differences: `<vjp(ct), t>` against
    `<ct, (f(x + eps t) - f(x - eps t)) / (2 eps)>` for a random cotangent `ct` and
    direction `t`.

    Args:
      f: a function of arrays returning a pytree of arrays.
      args: a tuple of its (floating-point) arguments.
      eps, atol, rtol: as for `check_jvp`.
      rng: a `np.random.Generator` for `ct` and `t` (default: seeded with 1).

    Returns:
      None.

    Raises:
      AssertionError: the two inner products differ beyond the tolerances.
    """
    eps, atol, rtol = _defaults(args, eps, atol, rtol)
    rng = rng or np.random.default_rng(1)
    out, f_vjp = vjp(f, *args)
    ct = tree.tree_map(lambda o: _random_like(o, rng), out)
    tangents = tree.tree_map(lambda a: _random_like(a, rng), tuple(args))
    # As jax.test_util.check_vjp: with complex values the cotangent goes in and comes out
    # conjugated (jax's convention), which is the plain transpose for real ones.
    lhs = _vdot(tangents, _conj(f_vjp(_conj(ct))))
    rhs = _vdot(ct, _numerical_jvp(f, tuple(args), tangents, eps))
    np.testing.assert_allclose(
        lhs, rhs, atol=atol, rtol=rtol, err_msg="VJP does not match finite differences"
    )


def check_grads(f, args, order=2, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Checks the derivatives of `f` at `args` up to `order`, in forward and/or reverse
    mode, against finite differences, as `jax.test_util.check_grads`.

    Higher orders differentiate the derivative along a random direction (forward) or
    cotangent (reverse), the same mode at every order. The parameters are jax's, in
    jax's order; `order` defaults to 2.

    Args:
      f: a function of arrays returning a pytree of arrays.
      args: a tuple (or sequence) of its floating-point arguments.
      order: the highest order to check; below 1 nothing is checked. Default 2.
      modes: a sequence of "fwd" (or "forward") and/or "rev" (or "reverse").
      atol, rtol: tolerances; None picks them by dtype (2e-2 for float32, 1e-5 for
        float64: use float64 inputs under `fn.enable_x64()` for tight checks).
      eps: the finite-difference step; None picks one by dtype (see `check_jvp`).

    Returns:
      None.

    Raises:
      AssertionError: a derivative differs from its finite-difference estimate.
      ValueError: an unknown mode.

    Example:
      >>> from funcnet.test_util import check_grads
      >>> check_grads(fnp.tanh, (fnp.asarray(0.3),), order=2)
      >>> check_grads(lambda x: x ** 2, (fnp.ones(3),), order=1, modes=("rev",))
    """
    args = tuple(args)
    if order < 1:
        return
    for mode in modes:
        if mode in ("fwd", "forward"):
            check_jvp(f, args, eps, atol, rtol)
            if order > 1:
                rng = np.random.default_rng(2)
                tangents = tree.tree_map(lambda a, rng=rng: _random_like(a, rng), args)
                check_grads(
                    lambda *a, t=tangents: jvp(f, a, t)[1],
                    args,
                    order - 1,
                    ("fwd",),
                    atol=atol,
                    rtol=rtol,
                    eps=eps,
                )
        elif mode in ("rev", "reverse"):
            check_vjp(f, args, eps, atol, rtol)
            if order > 1:
                rng = np.random.default_rng(3)
                ct = tree.tree_map(lambda o, rng=rng: _random_like(o, rng), f(*args))
                check_grads(
                    lambda *a, ct=ct: vjp(f, *a)[1](ct),
                    args,
                    order - 1,
                    ("rev",),
                    atol=atol,
                    rtol=rtol,
                    eps=eps,
                )
        else:
            raise ValueError(f"unknown mode {mode!r}; use 'fwd' and/or 'rev'")
