"""The JVP rule of every primitive (rows of `jvp_rules`).

Tangents may be symbolic `Zero`s; every tangent expression is linear in the
tangents, so that partial evaluation can transpose it for reverse mode.
"""

import functools
import weakref

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.jaxpr import closed_without_consts
from funcnet.core.trace import Tracer, get_aval
from funcnet.lax import contractions as la
from funcnet.lax import elementwise as ew
from funcnet.lax import indexing as ix
from funcnet.lax import reductions as rd
from funcnet.lax import structural as st
from funcnet.lax import windowed as wd
from funcnet.lax.calls import jit_p
from funcnet.lax.convenience import scan_lists
from funcnet.lax.fft import fft_p
from funcnet.runtime.cache import register_program_cache
from funcnet.transforms.ad_util import Zero, add_tangents, instantiate, zero_like, zeros
from funcnet.transforms.jvp import jvp_jaxpr, jvp_rules


def _c(x, value):
    """A constant with x's dtype and shape."""
    aval = get_aval(x)
    return lax.broadcast_in_dim(np.asarray(value, aval.dtype)[()], aval.shape, ())


def _mul_t(t, factor):
    return Zero(t.aval) if isinstance(t, Zero) else lax.mul(t, factor)


# --- linear primitives: the tangent is the primitive applied to the tangents ---------


def _linear_jvp(prim, primals, tangents, **params):
    out = prim.bind(*primals, **params)
    t_out = prim.bind(*map(instantiate, tangents), **params)
    return out, t_out


def deflinear(*prims):
    for p in prims:
        jvp_rules.register(p)(functools.partial(_linear_jvp, p))


deflinear(
    fft_p,
    ew.real_p,
    ew.imag_p,
    ew.conj_p,
    ew.complex_p,
    ew.neg_p,
    ew.add_p,
    ew.sub_p,
    ew.copy_p,
    st.broadcast_in_dim_p,
    st.reshape_p,
    st.transpose_p,
    st.squeeze_p,
    st.rev_p,
    st.slice_p,
    st.concatenate_p,
    st.split_p,
    st.pad_p,
    rd.reduce_sum_p,
    rd.cumsum_p,
    rd.reduce_window_sum_p,
)


def _first_arg_linear(prim):
    """Linear in the first operand; the others (indices, selectors) are not differentiated."""

    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        return out, _mul_free(prim, tangents[0], primals[1:], params)

    return rule


def _mul_free(prim, t, rest, params):
    if isinstance(t, Zero):
        out_aval = prim.abstract_eval(t.aval, *map(get_aval, rest), **params)[0]
        return Zero(out_aval.strip_weak_type())
    return prim.bind(t, *rest, **params)


for _p in (st.dynamic_slice_p, ix.gather_p):
    jvp_rules.register(_p)(_first_arg_linear(_p))


# Linear in the first operand; the second only selects positions.
for _p in (wd.select_and_gather_add_p, wd.select_and_scatter_add_p):
    jvp_rules.register(_p)(_first_arg_linear(_p))


def _zero_tangent_jvp(prim, primals, tangents, **params):
    out = prim.bind(*primals, **params)
    outs = out if prim.multiple_results else [out]
    zeros = [zero_like(o) for o in outs]
    return out, zeros if prim.multiple_results else zeros[0]


for _p in (
    ew.sign_p,
    ew.floor_p,
    ew.ceil_p,
    ew.round_p,
    ew.is_finite_p,
    ew.not_p,
    ew.nextafter_p,
    ew.and_p,
    ew.or_p,
    ew.xor_p,
    ew.shift_left_p,
    ew.shift_right_arithmetic_p,
    ew.shift_right_logical_p,
    *ew.COMPARISONS,
    rd.argmax_p,
    rd.argmin_p,
    rd.reduce_and_p,
    rd.reduce_or_p,
    st.iota_p,
    wd.opaque_true_p,
    ew.population_count_p,
    ew.clz_p,
    st.bitcast_convert_type_p,  # as jax: the bits read as another type have no derivative
):
    jvp_rules.register(_p)(functools.partial(_zero_tangent_jvp, _p))


# --- elementwise unary: tangent = t * f'(x) -------------------------------------------


def defjvp_unary(prim, deriv):
    """deriv(x, y) -> f'(x), given the input x and output y."""

    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        y = prim.bind(x, **params)
        return y, _mul_t(t, deriv(x, y))

    jvp_rules.register(prim)(rule)


_SQRT_PI = np.sqrt(np.pi)
defjvp_unary(ew.exp_p, lambda x, y: y)
defjvp_unary(ew.exp2_p, lambda x, y: lax.mul(y, _c(x, np.log(2.0))))


def defjvp_unary_div(prim, denominator):
    """tangent = t / denominator(x, y): a division by the residual, not a multiplication
    by its reciprocal, which the forward pass would compute and keep (as jax's rules)."""

    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        y = prim.bind(x, **params)
        return y, t if isinstance(t, Zero) else lax.div(t, denominator(x, y))

    jvp_rules.register(prim)(rule)


defjvp_unary_div(ew.log_p, lambda x, y: x)
defjvp_unary_div(ew.log1p_p, lambda x, y: lax.add(x, _c(x, 1)))
defjvp_unary(ew.expm1_p, lambda x, y: lax.add(y, _c(x, 1)))
defjvp_unary(ew.tanh_p, lambda x, y: lax.sub(_c(x, 1), lax.mul(y, y)))
defjvp_unary(ew.logistic_p, lambda x, y: lax.mul(y, lax.sub(_c(x, 1), y)))
defjvp_unary(ew.sin_p, lambda x, y: lax.cos(x))
defjvp_unary(ew.cos_p, lambda x, y: lax.neg(lax.sin(x)))
defjvp_unary(ew.tan_p, lambda x, y: lax.add(_c(x, 1), lax.mul(y, y)))
defjvp_unary(ew.asin_p, lambda x, y: lax.rsqrt(lax.sub(_c(x, 1), lax.mul(x, x))))
defjvp_unary(ew.acos_p, lambda x, y: lax.neg(lax.rsqrt(lax.sub(_c(x, 1), lax.mul(x, x)))))
defjvp_unary(ew.atan_p, lambda x, y: lax.div(_c(x, 1), lax.add(_c(x, 1), lax.mul(x, x))))
defjvp_unary(ew.sinh_p, lambda x, y: lax.cosh(x))
defjvp_unary(ew.cosh_p, lambda x, y: lax.sinh(x))
defjvp_unary(ew.asinh_p, lambda x, y: lax.rsqrt(lax.add(lax.mul(x, x), _c(x, 1))))
defjvp_unary(
    ew.acosh_p, lambda x, y: lax.rsqrt(lax.mul(lax.sub(x, _c(x, 1)), lax.add(x, _c(x, 1))))
)
defjvp_unary(ew.atanh_p, lambda x, y: lax.div(_c(x, 1), lax.sub(_c(x, 1), lax.mul(x, x))))
defjvp_unary(ew.sqrt_p, lambda x, y: lax.div(_c(x, 0.5), y))
defjvp_unary(ew.rsqrt_p, lambda x, y: lax.mul(_c(x, -0.5), lax.div(y, x)))
defjvp_unary(ew.cbrt_p, lambda x, y: lax.div(y, lax.mul(_c(x, 3), x)))


@jvp_rules.register(ew.abs_p)
def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    y = lax.abs(x)
    if isinstance(t, Zero):
        return y, zero_like(y)
    if dtypes.is_complex(get_aval(x).dtype):
        # As jax: real(t * conj(x) / |x|), with |x| replaced by 1 where x == 0 (slope 0).
        mag = lax.convert_element_type(y, get_aval(x).dtype)
        mag = lax.select(lax.eq(mag, _c(mag, 0)), _c(mag, 1), mag)
        return y, lax.real(lax.mul(t, lax.div(lax.conj(x), mag)))
    # At 0 the derivative is +1, as jax defines it (select(x >= 0, 1, -1), not sign(x)).
    return y, lax.mul(t, lax.select(lax.ge(x, _c(x, 0)), _c(x, 1), _c(x, -1)))


defjvp_unary(ew.erf_p, lambda x, y: lax.mul(_c(x, 2 / _SQRT_PI), lax.exp(lax.neg(lax.mul(x, x)))))
defjvp_unary(ew.erfc_p, lambda x, y: lax.mul(_c(x, -2 / _SQRT_PI), lax.exp(lax.neg(lax.mul(x, x)))))
defjvp_unary(ew.erf_inv_p, lambda x, y: lax.mul(_c(x, _SQRT_PI / 2), lax.exp(lax.mul(y, y))))
defjvp_unary(ew.lgamma_p, lambda x, y: lax.digamma(x))
defjvp_unary(ew.square_p, lambda x, y: lax.mul(_c(x, 2), x))


def _trigamma(x):
    """psi'(x), from funcnet primitives (so that it has derivatives of its own).

    Reflection psi'(x) = pi^2 / sin^2(pi x) - psi'(1 - x) brings x < 1/2 to y >= 1/2;
    the recurrence psi'(y) = 1/y^2 + psi'(y + 1) moves y six steps up, where the
    asymptotic series 1/z + 1/(2z^2) + 1/(6z^3) - 1/(30z^5) + 1/(42z^7) - 1/(30z^9)
    is accurate to float32 (z >= 6.5: the next term is below 1e-10)."""
    reflect = lax.lt(x, _c(x, 0.5))
    y = lax.select(reflect, lax.sub(_c(x, 1), x), x)
    total = _c(x, 0)
    for k in range(6):
        total = lax.add(total, lax.integer_pow(lax.add(y, _c(x, k)), -2))
    z = lax.add(y, _c(x, 6))
    w = lax.integer_pow(z, -2)
    series = _c(x, -1 / 30)
    for coef in (1 / 42, -1 / 30, 1 / 6):
        series = lax.add(_c(x, coef), lax.mul(w, series))
    # 1/z + 1/(2z^2) + (1/z^3)(1/6 - w/30 + w^2/42 - w^3/30)
    tail = lax.add(
        lax.add(lax.div(_c(x, 1), z), lax.mul(_c(x, 0.5), w)),
        lax.mul(lax.mul(w, lax.div(_c(x, 1), z)), series),
    )
    psi1 = lax.add(total, tail)
    s = lax.sin(lax.mul(_c(x, np.pi), x))
    reflected = lax.sub(lax.div(_c(x, np.pi**2), lax.mul(s, s)), psi1)
    return lax.select(reflect, reflected, psi1)


defjvp_unary(ew.digamma_p, lambda x, y: _trigamma(x))


@jvp_rules.register(ew.integer_pow_p)
def _integer_pow_jvp(primals, tangents, *, y):
    (x,), (t,) = primals, tangents
    out = lax.integer_pow(x, y)
    if y == 0:
        return out, zero_like(out)
    deriv = _c(x, y) if y == 1 else lax.mul(_c(x, y), lax.integer_pow(x, y - 1))
    return out, _mul_t(t, deriv)


# --- elementwise binary ---------------------------------------------------------------


def _binary_jvp(prim, dx, dy):
    """dx(x, y, out), dy(x, y, out): partial derivatives."""

    def rule(primals, tangents, **params):
        (x, y), (tx, ty) = primals, tangents
        out = prim.bind(x, y, **params)
        t = Zero(get_aval(out).strip_weak_type())
        if not isinstance(tx, Zero):
            t = add_tangents(t, lax.mul(tx, dx(x, y, out)))
        if not isinstance(ty, Zero):
            t = add_tangents(t, lax.mul(ty, dy(x, y, out)))
        return out, t

    jvp_rules.register(prim)(rule)


@jvp_rules.register(ew.mul_p)
def _mul_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = lax.mul(x, y)
    t = Zero(get_aval(out).strip_weak_type())
    if not isinstance(tx, Zero):
        t = add_tangents(t, lax.mul(tx, y))
    if not isinstance(ty, Zero):
        t = add_tangents(t, lax.mul(x, ty))
    return out, t


@jvp_rules.register(ew.div_p)
def _div_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = lax.div(x, y)
    t = Zero(get_aval(out).strip_weak_type())
    if not isinstance(tx, Zero):
        t = add_tangents(t, lax.div(tx, y))
    if not isinstance(ty, Zero):
        t = add_tangents(t, lax.mul(ty, lax.neg(lax.div(out, y))))
    return out, t


def _trunc(z):
    return lax.select(lax.lt(z, _c(z, 0)), lax.ceil(z), lax.floor(z))


_binary_jvp(ew.rem_p, lambda x, y, o: _c(x, 1), lambda x, y, o: lax.neg(_trunc(lax.div(x, y))))


def _pow_dx(x, y, out):
    # y * x^(y-1), written to be 0 (not nan) where y == 0.
    safe = lax.select(lax.eq(y, _c(y, 0)), _c(y, 1), y)
    return lax.select(
        lax.eq(y, _c(y, 0)), _c(x, 0), lax.mul(safe, lax.pow(x, lax.sub(safe, _c(y, 1))))
    )


def _pow_dy(x, y, out):
    # log(x) * x^y, defined as 0 where x == 0 (the one-sided limit jax uses).
    is_zero = lax.eq(x, _c(x, 0))
    safe_x = lax.select(is_zero, _c(x, 1), x)
    return lax.select(is_zero, _c(x, 0), lax.mul(lax.log(safe_x), out))


_binary_jvp(ew.pow_p, _pow_dx, _pow_dy)


def _minmax_share(pick_x):
    """max/min: the winner takes the tangent; ties share it half and half, as jax."""

    def dx(x, y, out):
        return lax.add(
            lax.convert_element_type(pick_x(x, y), get_aval(x).dtype),
            lax.mul(_c(x, 0.5), lax.convert_element_type(lax.eq(x, y), get_aval(x).dtype)),
        )

    return dx


_binary_jvp(ew.max_p, _minmax_share(lax.gt), lambda x, y, o: _minmax_share(lax.gt)(y, x, o))
_binary_jvp(ew.min_p, _minmax_share(lax.lt), lambda x, y, o: _minmax_share(lax.lt)(y, x, o))


def _atan2_denominator(x, y):
    return lax.add(lax.mul(x, x), lax.mul(y, y))


_binary_jvp(
    ew.atan2_p,
    lambda x, y, o: lax.div(y, _atan2_denominator(x, y)),
    lambda x, y, o: lax.neg(lax.div(x, _atan2_denominator(x, y))),
)


@jvp_rules.register(ew.select_n_p)
def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = lax.select_n(which, *cases)
    case_tangents = tangents[1:]
    if all(isinstance(t, Zero) for t in case_tangents):
        return out, zero_like(out)
    return out, lax.select_n(which, *map(instantiate, case_tangents))


@jvp_rules.register(ew.clamp_p)
def _clamp_jvp(primals, tangents):
    # As jax.lax.clamp: x's tangent passes strictly inside (lo, hi); lo's where lo > x
    # (and lo < hi); hi's where hi < x. At a tie nobody's tangent passes.
    lo, x, hi = primals
    out = lax.clamp(lo, x, hi)
    shape = get_aval(x).shape

    def full(v):  # scalar bounds (and their tangents) take x's shape
        v = instantiate(v)
        return v if get_aval(v).shape == shape else lax.broadcast_in_dim(v, shape, ())

    t_lo, t_x, t_hi = tangents
    zero = _c(x, 0)
    t = Zero(get_aval(out).strip_weak_type())
    if not isinstance(t_lo, Zero):
        picks = lax.bitwise_and(lax.gt(full(lo), x), lax.lt(full(lo), full(hi)))
        t = add_tangents(t, lax.select(picks, full(t_lo), zero))
    if not isinstance(t_x, Zero):
        picks = lax.bitwise_and(lax.gt(x, full(lo)), lax.lt(x, full(hi)))
        t = add_tangents(t, lax.select(picks, t_x, zero))
    if not isinstance(t_hi, Zero):
        t = add_tangents(t, lax.select(lax.lt(full(hi), x), full(t_hi), zero))
    return out, t


@jvp_rules.register(ew.convert_element_type_p)
def _convert_jvp(primals, tangents, *, new_dtype, weak_type=False):
    (x,), (t,) = primals, tangents
    out = lax.convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if isinstance(t, Zero) or not (
        dtypes.is_inexact(new_dtype) and dtypes.is_inexact(get_aval(x).dtype)
    ):
        return out, zero_like(out)
    return out, lax.convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=False)


# --- structural with non-differentiable operands --------------------------------------


@jvp_rules.register(st.dynamic_update_slice_p)
def _dus_jvp(primals, tangents):
    x, update, *idx = primals
    tx, tu = tangents[:2]
    out = lax.dynamic_update_slice(x, update, idx)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return out, zero_like(out)
    return out, lax.dynamic_update_slice(instantiate(tx), instantiate(tu), idx)


# --- reductions -------------------------------------------------------------------------


def _reduce_chooser_jvp(prim):
    """max/min: the tangent of the chosen elements, shared equally among ties."""

    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        aval = get_aval(x)
        kept = [i for i in range(aval.ndim) if i not in axes]
        out_b = lax.broadcast_in_dim(out, aval.shape, kept)
        mask = lax.convert_element_type(lax.eq(x, out_b), aval.dtype)
        counts = lax.reduce_sum(mask, axes)
        return out, lax.div(lax.reduce_sum(lax.mul(t, mask), axes), counts)

    return rule


jvp_rules.register(rd.reduce_max_p)(_reduce_chooser_jvp(rd.reduce_max_p))
jvp_rules.register(rd.reduce_min_p)(_reduce_chooser_jvp(rd.reduce_min_p))


@jvp_rules.register(rd.reduce_prod_p)
def _reduce_prod_jvp(primals, tangents, *, axes):
    # d prod = sum_i t_i * prod_{j != i} x_j; the "all but one" products come from
    # exclusive cumulative products from both sides, so zeros are handled exactly.
    (x,), (t,) = primals, tangents
    out = lax.reduce_prod(x, axes)
    aval = get_aval(x)
    kept = [i for i in range(aval.ndim) if i not in axes]
    perm = kept + list(axes)
    n = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    flat_shape = [aval.shape[i] for i in kept] + [n]
    xf = lax.reshape(lax.transpose(x, perm), flat_shape)
    tf = lax.reshape(lax.transpose(t, perm), flat_shape)
    last = len(flat_shape) - 1
    others = _exclusive_products(xf, last)
    return out, lax.reduce_sum(lax.mul(tf, others), (last,))


def _exclusive_products(x, axis):
    aval = get_aval(x)
    n = aval.shape[axis]
    pad_lo = [(0, 0, 0)] * aval.ndim
    pad_lo[axis] = (1, -1, 0)
    pad_hi = [(0, 0, 0)] * aval.ndim
    pad_hi[axis] = (-1, 1, 0)
    one = np.asarray(1, aval.dtype)[()]
    if n == 0:
        return x
    left = lax.pad(lax.cumprod(x, axis), one, pad_lo)  # prod_{j<i}
    right = lax.pad(lax.cumprod(x, axis, reverse=True), one, pad_hi)  # prod_{j>i}
    return lax.mul(left, right)


def _associative_scan(combine, elems, axis, reverse):
    """Derivatives of cumulative ops are taken through jax.lax.associative_scan's
    algorithm, as jax takes them, so that products need no division (zeros are fine)
    and max/min ties split the tangent exactly as in jax."""
    return scan_lists(combine, elems, axis, reverse)


def _combine_mul(a, b):
    (x, tx), (y, ty) = a, b
    return [lax.mul(x, y), lax.add(lax.mul(tx, y), lax.mul(x, ty))]


def _combine_chooser(pick):
    def combine(a, b):
        (x, tx), (y, ty) = a, b
        wx = _minmax_share(pick)(x, y, None)
        wy = _minmax_share(pick)(y, x, None)
        out = lax.max(x, y) if pick is lax.gt else lax.min(x, y)
        return [out, lax.add(lax.mul(tx, wx), lax.mul(ty, wy))]

    return combine


def _cumulative_scan_jvp(prim, combine):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis=axis, reverse=reverse)
        _, t_out = _associative_scan(combine, [x, instantiate(t)], axis, reverse)
        return out, t_out

    return rule


def _take_along(t, idx, axis):
    """t[..., idx, ...] along `axis`, idx of t's shape: a gather whose other axes are
    batch axes (each row takes from its own row)."""
    batch = tuple(d for d in range(t.ndim) if d != axis)
    dn = lax.GatherDimensionNumbers(
        offset_dims=(),
        collapsed_slice_dims=(axis,),
        start_index_map=(axis,),
        operand_batching_dims=batch,
        start_indices_batching_dims=batch,
    )
    return lax.gather(
        t,
        lax.expand_dims(idx, (t.ndim,)),
        dn,
        (1,) * t.ndim,
        mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS,
    )


jvp_rules.register(rd.cumprod_p)(_cumulative_scan_jvp(rd.cumprod_p, _combine_mul))
jvp_rules.register(rd.cummax_p)(_cumulative_scan_jvp(rd.cummax_p, _combine_chooser(lax.gt)))
jvp_rules.register(rd.cummin_p)(_cumulative_scan_jvp(rd.cummin_p, _combine_chooser(lax.lt)))


def _reduce_window_chooser_jvp(prim, select_prim):
    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, **params)
        return out, wd.select_and_gather_add_p.bind(t, x, select_prim=select_prim, **params)

    return rule


jvp_rules.register(rd.reduce_window_max_p)(_reduce_window_chooser_jvp(rd.reduce_window_max_p, "ge"))
jvp_rules.register(rd.reduce_window_min_p)(_reduce_window_chooser_jvp(rd.reduce_window_min_p, "le"))


@jvp_rules.register(rd.sort_p)
def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    # Sort an iota along, then gather every tangent with the permutation.
    aval = get_aval(primals[0])
    if aval.size == 0:  # nothing to permute (and no gather slice fits an empty axis)
        outs = rd.sort_p.bind(*primals, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
        return outs, [zero_like(o) if isinstance(t, Zero) else t for o, t in zip(outs, tangents)]
    iota = lax.broadcasted_iota(dtypes.int32, aval.shape, dimension)
    *outs, perm = rd.sort_p.bind(
        *primals, iota, dimension=dimension, is_stable=is_stable, num_keys=num_keys
    )
    t_out = [
        zero_like(o) if isinstance(t, Zero) else _take_along(t, perm, dimension)
        for o, t in zip(outs, tangents)
    ]
    return outs, t_out


# --- contractions -----------------------------------------------------------------------


def _bilinear_jvp(prim):
    def rule(primals, tangents, **params):
        (a, b), (ta, tb) = primals, tangents
        out = prim.bind(a, b, **params)
        t = Zero(get_aval(out).strip_weak_type())
        if not isinstance(ta, Zero):
            t = add_tangents(t, prim.bind(ta, b, **params))
        if not isinstance(tb, Zero):
            t = add_tangents(t, prim.bind(a, tb, **params))
        return out, t

    return rule


jvp_rules.register(la.dot_general_p)(_bilinear_jvp(la.dot_general_p))
jvp_rules.register(la.conv_general_dilated_p)(_bilinear_jvp(la.conv_general_dilated_p))


# --- scatters ---------------------------------------------------------------------------


@jvp_rules.register(ix.scatter_add_p)
def _scatter_add_jvp(primals, tangents, **params):
    (x, idx, u), (tx, _, tu) = primals, tangents
    out = ix.scatter_add_p.bind(x, idx, u, **params)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return out, zero_like(out)
    return out, ix.scatter_add_p.bind(instantiate(tx), idx, instantiate(tu), **params)


@jvp_rules.register(ix.scatter_p)
def _scatter_jvp(
    primals, tangents, *, dimension_numbers, indices_are_sorted=False, unique_indices=False
):
    (x, idx, u), (tx, _, tu) = primals, tangents
    params = dict(
        dimension_numbers=dimension_numbers,
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
    )
    out = ix.scatter_p.bind(x, idx, u, **params)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return out, zero_like(out)
    tx, tu = instantiate(tx), instantiate(tu)
    if unique_indices:  # overwriting is linear in (operand, updates) jointly
        return out, ix.scatter_p.bind(tx, idx, tu, **params)
    # Duplicate indices: only the update that won may receive a tangent (as in jax).
    # Scatter a distinct id per update, gather the ids back, and keep the tangents of
    # the updates whose id survived; then a scatter-add (whose transpose is a plain
    # gather) combines them with the operand tangents at positions nobody wrote.
    dn = dimension_numbers
    u_aval, x_aval = get_aval(u), get_aval(x)
    ids_shape = list(u_aval.shape)
    for d in dn.update_window_dims:
        ids_shape[d] = 1
    n_ids = int(np.prod(ids_shape, dtype=np.int64))
    ids = lax.reshape(lax.iota(dtypes.int32, n_ids), ids_shape)
    ids = lax.add(ids, _c(ids, 1))  # 0 marks "no update landed here"
    ids = lax.broadcast_in_dim(ids, u_aval.shape, tuple(range(u_aval.ndim)))
    zero_ids = lax.broadcast_in_dim(np.zeros((), np.int32)[()], x_aval.shape, ())
    scattered = ix.scatter_p.bind(zero_ids, idx, ids, **params)
    gdn = ix.GatherDimensionNumbers(
        dn.update_window_dims,
        dn.inserted_window_dims,
        dn.scatter_dims_to_operand_dims,
        dn.operand_batching_dims,
        dn.scatter_indices_batching_dims,
    )
    gathered = ix.gather_p.bind(
        scattered, idx, dimension_numbers=gdn, slice_sizes=_scatter_slice_sizes(x_aval, u_aval, dn)
    )
    untouched = lax.eq(scattered, zero_ids)
    won = lax.eq(ids, gathered)
    t = ix.scatter_add_p.bind(
        lax.select(untouched, tx, _c(tx, 0)), idx, lax.select(won, tu, _c(tu, 0)), **params
    )
    return out, t


@jvp_rules.register(ix.scatter_mul_p)
def _scatter_mul_jvp(primals, tangents, **params):
    (x, idx, u), (tx, _, tu) = primals, tangents
    out = ix.scatter_mul_p.bind(x, idx, u, **params)
    t_out = zero_like(out) if isinstance(tx, Zero) else ix.scatter_mul_p.bind(tx, idx, u, **params)
    if isinstance(tu, Zero):
        return out, t_out
    if not params.get("unique_indices"):
        # With repeated indices each update's derivative is the product of the others
        # at its position: not computed here (jax neither). Dividing out by u fails at 0.
        raise NotImplementedError(
            "differentiating scatter_mul (x.at[...].multiply) with respect to the updates "
            "needs unique_indices=True (each position multiplied by one update)"
        )
    # One update per position: d(x[p] * u[k]) = ... + x[p] * tu[k].
    spread = ix.scatter_add_p.bind(zeros(get_aval(x).strip_weak_type()), idx, tu, **params)
    return out, add_tangents(t_out, lax.mul(x, spread))


def _scatter_chooser_jvp(prim):
    """scatter_min/max: each output takes the tangent of whichever value won (operand
    or an update); ties share it equally."""

    def rule(
        primals, tangents, *, dimension_numbers, indices_are_sorted=False, unique_indices=False
    ):
        (x, idx, u), (tx, _, tu) = primals, tangents
        params = dict(
            dimension_numbers=dimension_numbers,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
        )
        out = prim.bind(x, idx, u, **params)
        dn = dimension_numbers
        gdn = ix.GatherDimensionNumbers(
            dn.update_window_dims,
            dn.inserted_window_dims,
            dn.scatter_dims_to_operand_dims,
            dn.operand_batching_dims,
            dn.scatter_indices_batching_dims,
        )
        u_aval = get_aval(u)
        slice_sizes = _scatter_slice_sizes(get_aval(x), u_aval, dn)
        out_at_u = ix.gather_p.bind(out, idx, dimension_numbers=gdn, slice_sizes=slice_sizes)
        dt = get_aval(x).dtype
        x_won = lax.convert_element_type(lax.eq(x, out), dt)
        u_won = lax.convert_element_type(lax.eq(u, out_at_u), dt)
        counts = lax.add(
            x_won, ix.scatter_add_p.bind(lax.mul(x_won, _c(x, 0)), idx, u_won, **params)
        )
        t = lax.mul(instantiate(tx), x_won)
        t = ix.scatter_add_p.bind(t, idx, lax.mul(instantiate(tu), u_won), **params)
        return out, lax.div(t, counts)

    return rule


def _scatter_slice_sizes(x_aval, u_aval, dn):
    window = iter(u_aval.shape[d] for d in dn.update_window_dims)
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    return tuple(1 if d in dropped else next(window) for d in range(x_aval.ndim))


jvp_rules.register(ix.scatter_min_p)(_scatter_chooser_jvp(ix.scatter_min_p))
jvp_rules.register(ix.scatter_max_p)(_scatter_chooser_jvp(ix.scatter_max_p))


jvp_rules.register(wd.stop_gradient_p)(
    lambda primals, tangents: (wd.stop_gradient_p.bind(primals[0]), zero_like(primals[0]))
)


@jvp_rules.register(wd.optimization_barrier_p)
def _barrier_jvp(primals, tangents):
    outs = wd.optimization_barrier_p.bind(*primals)
    return outs, list(tangents)


# --- programs ---------------------------------------------------------------------------

# jaxpr -> {nonzero pattern: (jvp program, its consts, nonzero outputs)}. Reusing the
# derived program lets its executable (cached per program) be reused: grad(jit(f)) in a
# loop compiles once, not once per call.
_jvp_programs = register_program_cache(weakref.WeakKeyDictionary())


def _cached_jvp_jaxpr(jaxpr, nonzeros):
    per_jaxpr = _jvp_programs.setdefault(jaxpr, {})
    hit = per_jaxpr.get(nonzeros)
    if hit is None:
        new, out_nz = jvp_jaxpr(jaxpr, list(nonzeros))
        hit = (closed_without_consts(new), list(new.consts), out_nz)
        if not any(isinstance(c, Tracer) for c in new.consts):
            per_jaxpr[nonzeros] = hit
    return hit


@jvp_rules.register(jit_p)
def _jit_jvp(primals, tangents, *, jaxpr, name):
    nonzeros = tuple(not isinstance(t, Zero) for t in tangents)
    program, consts, out_nz = _cached_jvp_jaxpr(jaxpr, nonzeros)
    n_out = len(jaxpr.out_avals)
    outs = jit_p.bind(
        *consts,
        *primals,
        *(t for t in tangents if not isinstance(t, Zero)),
        jaxpr=program,
        name=f"jvp({name})",
    )
    primals_out, t_iter = outs[:n_out], iter(outs[n_out:])
    tangents_out = [next(t_iter) if nz else zero_like(p) for p, nz in zip(primals_out, out_nz)]
    return primals_out, tangents_out
