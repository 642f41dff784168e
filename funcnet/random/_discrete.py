"""Discrete distributions, as jax.random samples them: poisson (Knuth's method below
lam = 10, Hormann's transformed rejection above), binomial (inversion below n * p = 10,
BTRS above), multinomial (a scan of conditional binomials), geometric, rademacher.
"""

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core.trace import get_aval
from funcnet.random._checks import as_dtype, const, float_param, sample_shape
from funcnet.random._prng import canonical_shape, check_key, split_keys
from funcnet.random._samplers import _float_dtype, uniform_body
from funcnet.transforms.jit import jit


def _int_dtype(name, dtype):
    dtype = dtypes.default_int() if dtype is None else dtypes.canonicalize(dtype)
    if not dtypes.is_int(dtype):
        raise TypeError(f"funcnet.random.{name}: dtype must be an integer dtype, got {dtype}")
    return dtype


def _uniform(key, shape, dtype):
    return uniform_body(key, np.asarray(0.0, dtype), np.asarray(1.0, dtype), shape, dtype)


def _full(shape, value, dtype):
    return lax.broadcast_in_dim(np.asarray(value, dtype), shape, ())


def _any(pred):
    return lax.reduce_or(pred, tuple(range(len(get_aval(pred).shape))))


_I32_MAX = np.int32(np.iinfo(np.int32).max)


# --- poisson ----------------------------------------------------------------------------------


def _poisson_knuth(key, lam, shape, dtype):
    """Count uniforms until their product drops below exp(-lam)."""
    f32 = dtypes.float32
    neg_lam = lax.neg(lam)

    def body(carry):
        i, k, key, log_prod = carry
        key, sub = split_keys(key, 2)
        k = lax.select(lax.gt(log_prod, neg_lam), lax.add(k, const(k, 1)), k)
        return (
            lax.add(i, np.int32(1)),
            k,
            key,
            lax.add(log_prod, lax.log(_uniform(sub, shape, f32))),
        )

    def cond(carry):
        i, _, _, log_prod = carry
        return lax.bitwise_and(_any(lax.gt(log_prod, neg_lam)), lax.lt(i, _I32_MAX))

    init = (np.int32(0), _full(shape, 0, dtype), key, _full(shape, 0.0, f32))
    k = lax.while_loop(cond, body, init)[1]
    return lax.sub(k, const(k, 1))


def _poisson_rejection(key, lam, shape, dtype):
    """Hormann's transformed rejection (PTRS) for lam >= 10."""
    c = lambda v: _full(shape, v, get_aval(lam).dtype)  # noqa: E731
    log_lam = lax.log(lam)
    b = lax.add(c(0.931), lax.mul(c(2.53), lax.sqrt(lam)))
    a = lax.add(c(-0.059), lax.mul(c(0.02483), b))
    inv_alpha = lax.add(c(1.1239), lax.div(c(1.1328), lax.sub(b, c(3.4))))
    v_r = lax.sub(c(0.9277), lax.div(c(3.6224), lax.sub(b, c(2.0))))

    def body(carry):
        i, k_out, accepted, key = carry
        key, sub0, sub1 = split_keys(key, 3)
        u = lax.sub(_uniform(sub0, shape, get_aval(lam).dtype), c(0.5))
        v = _uniform(sub1, shape, get_aval(lam).dtype)
        us = lax.sub(c(0.5), lax.abs(u))
        k = lax.floor(
            lax.add(lax.add(lax.mul(lax.add(lax.div(lax.mul(c(2.0), a), us), b), u), lam), c(0.43))
        )
        s = lax.log(lax.div(lax.mul(v, inv_alpha), lax.add(lax.div(a, lax.mul(us, us)), b)))
        t = lax.sub(lax.add(lax.neg(lam), lax.mul(k, log_lam)), lax.lgamma(lax.add(k, c(1.0))))
        accept1 = lax.bitwise_and(lax.ge(us, c(0.07)), lax.le(v, v_r))
        reject = lax.bitwise_or(
            lax.lt(k, c(0.0)), lax.bitwise_and(lax.lt(us, c(0.013)), lax.gt(v, us))
        )
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject), lax.le(s, t)))
        k_out = lax.select(accept, k, k_out)
        return lax.add(i, np.int32(1)), k_out, lax.bitwise_or(accepted, accept), key

    def cond(carry):
        i, _, accepted, _ = carry
        return lax.bitwise_and(_any(lax.bitwise_not(accepted)), lax.lt(i, _I32_MAX))

    init = (np.int32(0), c(-1.0), _full(shape, False, np.bool_), key)
    k = lax.while_loop(cond, body, init)[1]
    return lax.convert_element_type(k, dtype)


def _poisson_body(key, lam, shape, dtype):
    lam = as_dtype(lam, dtypes.float32, shape)  # as jax: lam is float32
    use_knuth = lax.bitwise_or(lax.ne(lam, lam), lax.lt(lam, const(lam, 10.0)))
    lam_knuth = lax.select(use_knuth, lam, const(lam, 0.0))
    lam_rejection = lax.select(use_knuth, const(lam, 1e5), lam)
    out = lax.select(
        use_knuth,
        _poisson_knuth(key, lam_knuth, shape, dtype),
        _poisson_rejection(key, lam_rejection, shape, dtype),
    )
    return lax.select(lax.eq(lam, const(lam, 0.0)), const(out, 0), out)


_poisson_jit = jit(_poisson_body, static_argnums=(2, 3))


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) samples (as jax.random.poisson: Knuth's algorithm for lam < 10,
    Hormann's transformed rejection otherwise; lam is taken as float32).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      lam: the rate (>= 0), a scalar or an array broadcastable to ``shape``.
      shape: the output shape (default: ``lam``'s shape).
      dtype: an integer dtype (default int32; int64 with x64).

    Returns:
      An integer array of ``shape`` and ``dtype``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not an integer dtype.
      ValueError: ``lam`` does not broadcast to ``shape``.

    Example:
      >>> from funcnet import random
      >>> k = random.poisson(random.key(0), 3.0, (2000,))
      >>> k.dtype, bool(abs(float(k.mean()) - 3.0) < 0.2)
      (dtype('int32'), True)
    """
    key = check_key("poisson", key)
    dtype = _int_dtype("poisson", dtype)
    lam = float_param("poisson", "lam", lam)
    return _poisson_jit(key, lam, sample_shape("poisson", shape, lam), dtype)


# --- binomial and multinomial ---------------------------------------------------------------

_STIRLING_TAIL = (
    0.0810614667953272,
    0.0413406959554092,
    0.0276779256849983,
    0.02079067210376509,
    0.0166446911898211,
    0.0138761288230707,
    0.0118967099458917,
    0.0104112652619720,
    0.00925546218271273,
    0.00833056343336287,
)


def _stirling_approx_tail(k):
    """log(k!) - Stirling's approximation: a table below 10, a series above."""
    table = const(k, _STIRLING_TAIL[9])
    kc = lax.clamp(const(k, 0.0), k, const(k, 9.0))
    for i in range(8, -1, -1):  # the table entry at floor(k) for k <= 9
        table = lax.select(lax.eq(lax.floor(kc), const(k, i)), const(k, _STIRLING_TAIL[i]), table)
    kp1 = lax.add(kc, const(k, 1.0))
    kp1sq = lax.mul(kp1, kp1)
    approx = lax.div(
        lax.sub(
            const(k, 1.0 / 12),
            lax.div(lax.sub(const(k, 1.0 / 360), lax.div(const(k, 1.0 / 1260), kp1sq)), kp1sq),
        ),
        kp1,
    )
    return lax.select(lax.le(k, const(k, 9.0)), table, approx)


def _binomial_inversion(key, count, prob, shape):
    log1m_p = lax.log1p(lax.neg(prob))

    def body(carry):
        i, num_geom, geom_sum, key = carry
        sub, key = split_keys(key, 2)
        num_geom = lax.select(
            lax.le(geom_sum, count), lax.add(num_geom, const(num_geom, 1.0)), num_geom
        )
        u = _uniform(sub, shape, get_aval(prob).dtype)
        geom = lax.ceil(lax.div(lax.log(u), log1m_p))
        return lax.add(i, np.int32(1)), num_geom, lax.add(geom_sum, geom), key

    def cond(carry):
        return lax.bitwise_and(_any(lax.le(carry[2], count)), lax.lt(carry[0], _I32_MAX))

    init = (np.int32(0), const(prob, 0.0), const(prob, 0.0), key)
    k = lax.while_loop(cond, body, init)[1]
    return lax.sub(k, const(k, 1.0))


def _btrs(key, count, prob, shape):
    c_ = lambda v: const(prob, v)  # noqa: E731
    one = c_(1.0)
    stddev = lax.sqrt(lax.mul(lax.mul(count, prob), lax.sub(one, prob)))
    b = lax.add(c_(1.15), lax.mul(c_(2.53), stddev))
    a = lax.add(lax.add(c_(-0.0873), lax.mul(c_(0.0248), b)), lax.mul(c_(0.01), prob))
    c = lax.add(lax.mul(count, prob), c_(0.5))
    v_r = lax.sub(c_(0.92), lax.div(c_(4.2), b))
    r = lax.div(prob, lax.sub(one, prob))
    alpha = lax.mul(lax.add(c_(2.83), lax.div(c_(5.1), b)), stddev)
    m = lax.floor(lax.mul(lax.add(count, one), prob))

    def body(carry):
        i, k_out, accepted, key = carry
        key, sub0, sub1 = split_keys(key, 3)
        u = lax.sub(_uniform(sub0, shape, get_aval(prob).dtype), c_(0.5))
        v = _uniform(sub1, shape, get_aval(prob).dtype)
        us = lax.sub(c_(0.5), lax.abs(u))
        accept1 = lax.bitwise_and(lax.ge(us, c_(0.07)), lax.le(v, v_r))
        k = lax.floor(lax.add(lax.mul(lax.add(lax.div(lax.mul(c_(2.0), a), us), b), u), c))
        reject = lax.bitwise_or(lax.lt(k, c_(0.0)), lax.gt(k, count))
        v = lax.log(lax.div(lax.mul(v, alpha), lax.add(lax.div(a, lax.mul(us, us)), b)))
        n_m1 = lax.add(lax.sub(count, m), one)
        n_k1 = lax.add(lax.sub(count, k), one)
        ub = lax.add(
            lax.add(
                lax.mul(lax.add(m, c_(0.5)), lax.log(lax.div(lax.add(m, one), lax.mul(r, n_m1)))),
                lax.mul(lax.add(count, one), lax.log(lax.div(n_m1, n_k1))),
            ),
            lax.mul(lax.add(k, c_(0.5)), lax.log(lax.div(lax.mul(r, n_k1), lax.add(k, one)))),
        )
        ub = lax.add(
            lax.add(ub, _stirling_approx_tail(m)), _stirling_approx_tail(lax.sub(count, m))
        )
        ub = lax.sub(
            lax.sub(ub, _stirling_approx_tail(k)), _stirling_approx_tail(lax.sub(count, k))
        )
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject), lax.le(v, ub)))
        k_out = lax.select(accept, k, k_out)
        return lax.add(i, np.int32(1)), k_out, lax.bitwise_or(accepted, accept), key

    def cond(carry):
        return lax.bitwise_and(_any(lax.bitwise_not(carry[2])), lax.lt(carry[0], _I32_MAX))

    init = (np.int32(0), c_(-1.0), _full(shape, False, np.bool_), key)
    return lax.while_loop(cond, body, init)[1]


def _binomial_body(key, count, prob, shape, dtype):
    prob = as_dtype(prob, get_aval(prob).dtype, shape)
    count = as_dtype(count, get_aval(prob).dtype, shape)
    c = lambda v: const(prob, v)  # noqa: E731
    p_lt_half = lax.lt(prob, c(0.5))
    q = lax.select(p_lt_half, prob, lax.sub(c(1.0), prob))
    count_nan_or_neg = lax.bitwise_or(lax.ne(count, count), lax.lt(count, c(0.0)))
    count_inf = lax.eq(lax.abs(count), c(np.inf))
    q_is_nan, q_lt_0 = lax.ne(q, q), lax.lt(q, c(0.0))
    q = lax.select(lax.bitwise_or(q_is_nan, q_lt_0), c(0.01), q)
    use_inversion = lax.bitwise_or(count_nan_or_neg, lax.le(lax.mul(count, q), c(10.0)))
    count = lax.floor(count)
    count_inv = lax.select(use_inversion, count, c(0.0))
    count_btrs = lax.select(use_inversion, c(1e4), count)
    q_btrs = lax.select(use_inversion, c(0.5), q)
    samples = lax.select(
        use_inversion,
        _binomial_inversion(key, count_inv, q, shape),
        _btrs(key, count_btrs, q_btrs, shape),
    )
    samples = as_dtype(samples, dtype)
    invalid = lax.bitwise_or(lax.bitwise_or(q_lt_0, q_is_nan), count_nan_or_neg)
    samples = lax.select(invalid, const(samples, np.nan), samples)
    samples = lax.select(
        lax.bitwise_and(count_inf, lax.bitwise_not(invalid)), const(samples, np.inf), samples
    )
    keep = lax.bitwise_or(
        lax.bitwise_or(p_lt_half, count_nan_or_neg), lax.bitwise_or(q_is_nan, count_inf)
    )
    return lax.select(keep, samples, lax.sub(as_dtype(count, dtype), samples))


_binomial_jit = jit(_binomial_body, static_argnums=(3, 4))


def _promote_floats(name, *params):
    params = [float_param(name, w, v) for w, v in params]
    dtype = params[0].dtype
    for p in params[1:]:
        dtype = np.promote_types(dtype, p.dtype)
    return [as_dtype(p, dtype) for p in params]


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial(n, p) samples as floats (as jax.random.binomial: inversion for
    n * min(p, 1-p) <= 10, the BTRS rejection method otherwise).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      n: the number of trials (>= 0; floored), a scalar or an array broadcastable to
        ``shape``.
      p: the success probability in [0, 1], likewise.
      shape: the output shape (default: the broadcast shape of ``n`` and ``p``).
      dtype: a float dtype (default float32; float64 with x64).

    Returns:
      A float array of ``shape`` and ``dtype`` holding counts (nan for invalid
      parameters, inf for infinite ``n``).

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: a parameter does not broadcast to ``shape``.
    """
    key = check_key("binomial", key)
    dtype = _float_dtype("binomial", dtype)
    n, p = _promote_floats("binomial", ("n", n), ("p", p))
    return _binomial_jit(key, n, p, sample_shape("binomial", shape, n, p), dtype)


def _multinomial_body(key, n, p, shape, dtype):
    k = shape[-1]
    batch = shape[:-1]
    p = as_dtype(p, get_aval(p).dtype, shape)
    n = as_dtype(n, get_aval(p).dtype, batch)
    p = lax.transpose(p, (len(shape) - 1,) + tuple(range(len(shape) - 1)))  # outcomes first
    remaining = lax.cumsum(p, 0, reverse=True)
    ratios = lax.div(
        p, lax.select(lax.eq(remaining, const(remaining, 0.0)), const(p, 1.0), remaining)
    )
    ratios = lax.clamp(const(ratios, 0.0), ratios, const(ratios, 1.0))
    keys = lax.reshape(
        lax.concatenate([lax.reshape(x, (1, 2)) for x in split_keys(key, k)], 0), (k, 2)
    )

    def step(remainder, xs):
        ratio, sub = xs
        count = _binomial_body(sub, remainder, ratio, batch, get_aval(remainder).dtype)
        return lax.sub(remainder, count), count

    _, counts = lax.scan(step, n, (ratios, keys))
    counts = lax.transpose(counts, tuple(range(1, len(shape))) + (0,))
    return as_dtype(counts, dtype)


_multinomial_jit = jit(_multinomial_body, static_argnums=(3, 4))


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Multinomial(n, p) counts (as jax.random.multinomial: a scan over the outcomes
    drawing each count from a binomial conditioned on the ones before).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      n: the number of trials, broadcastable to ``p.shape[:-1]``.
      p: the outcome probabilities, outcomes along the last axis.
      shape: the output shape including the outcome axis (default ``p.shape``).
      dtype: a float dtype (default float32; float64 with x64).
      unroll: accepted for jax compatibility; funcnet's scan is not unrolled.

    Returns:
      A float array of counts of ``shape`` (``p.shape`` by default) and ``dtype``;
      counts along the last axis sum to ``n``.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not a float dtype.
      ValueError: a scalar ``p``, or parameters that do not broadcast to ``shape``.
    """
    del unroll
    key = check_key("multinomial", key)
    dtype = _float_dtype("multinomial", dtype)
    n, p = _promote_floats("multinomial", ("n", n), ("p", p))
    if p.ndim < 1:
        raise ValueError(
            f"funcnet.random.multinomial: p must have at least one axis, got {p.shape}"
        )
    shape = tuple(p.shape) if shape is None else canonical_shape("multinomial", shape)
    if not shape or shape[-1] != p.shape[-1]:
        raise ValueError(
            f"funcnet.random.multinomial: shape {shape} must end with the number of "
            f"outcomes {p.shape[-1]} (p of shape {p.shape})"
        )
    sample_shape("multinomial", shape, p)
    sample_shape("multinomial", shape[:-1], n)
    return _multinomial_jit(key, n, p, shape, dtype)


# --- geometric, rademacher ------------------------------------------------------------------


def _geometric_body(key, p, shape, dtype):
    fdtype = get_aval(p).dtype
    u = _uniform(key, shape, fdtype)
    u = lax.select(lax.eq(u, const(u, 0.0)), const(u, 1.0), u)  # as jax: no log(0)
    log_1mp = as_dtype(lax.log1p(lax.neg(p)), fdtype, shape)
    g = lax.add(lax.floor(lax.div(lax.log(u), log_1mp)), const(u, 1.0))
    return lax.convert_element_type(g, dtype)


_geometric_jit = jit(_geometric_body, static_argnums=(2, 3))


def geometric(key, p, shape=None, dtype=None):
    """Geometric(p) samples: the number of Bernoulli(p) trials up to the first success
    (as jax.random.geometric: floor(log u / log(1 - p)) + 1).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      p: the success probability in (0, 1], a scalar or an array broadcastable to
        ``shape``.
      shape: the output shape (default: ``p``'s shape).
      dtype: an integer dtype (default int32; int64 with x64).

    Returns:
      An integer array of ``shape`` and ``dtype`` with values >= 1.

    Raises:
      TypeError: ``key`` is not one key, or ``dtype`` is not an integer dtype.
      ValueError: ``p`` does not broadcast to ``shape``.
    """
    key = check_key("geometric", key)
    dtype = _int_dtype("geometric", dtype)
    p = float_param("geometric", "p", p)
    return _geometric_jit(key, p, sample_shape("geometric", shape, p), dtype)


def _rademacher_body(key, shape, dtype):
    u = _uniform(key, shape, dtypes.default_float())
    return lax.select(lax.lt(u, const(u, 0.5)), _full(shape, 1, dtype), _full(shape, -1, dtype))


_rademacher_jit = jit(_rademacher_body, static_argnums=(1, 2))


def rademacher(key, shape=(), dtype=None):
    """Random signs, -1 or +1 with equal probability (as jax.random.rademacher).

    Args:
      key: a PRNG key, a uint32 array of shape (2,).
      shape: the output shape (default ``()``).
      dtype: the output dtype (default int32; int64 with x64; floats allowed).

    Returns:
      An array of ``shape`` and ``dtype`` holding -1 and 1.

    Raises:
      TypeError: ``key`` is not one key.
    """
    key = check_key("rademacher", key)
    dtype = dtypes.default_int() if dtype is None else dtypes.canonicalize(dtype)
    return _rademacher_jit(key, canonical_shape("rademacher", shape), dtype)
