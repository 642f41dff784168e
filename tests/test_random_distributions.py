"""funcnet.random's distributions against jax.random (same algorithms on the same bits,
so the same values up to the last ulp of the special functions XLA evaluates) and
against the distributions themselves (moments and Kolmogorov-Smirnov tests with
scipy.stats); dtypes in float32 and float64; jit and vmap over keys; gradients of
gamma/beta/dirichlet samples in their parameters; errors on bad input.

XLA compiles dominate: each case draws one sample of a few thousand values, used both
for the comparison with jax and for the statistics.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import random

N = 4000
KEY, JKEY = random.key(42), jax.random.key(42)


def _kstest(samples, dist):
    """A loose KS test: p > 1e-4 (fails only on a wrong distribution, not by chance)."""
    p = st.kstest(np.asarray(samples, np.float64).ravel(), dist.cdf).pvalue
    assert p > 1e-4, f"KS p-value {p} against {dist.dist.name}{dist.args}"


def _moments(samples, dist, n_se=5.0):
    """Sample mean and variance within a few standard errors of the distribution's."""
    x = np.asarray(samples, np.float64).ravel()
    mean, var = dist.mean(), dist.var()
    assert abs(x.mean() - mean) < n_se * np.sqrt(var / x.size), (x.mean(), mean)
    kurt = dist.stats(moments="k")  # excess kurtosis: Var(s^2) = var^2 (2/(n-1) + k/n)
    se_var = var * np.sqrt(2 / (x.size - 1) + float(kurt) / x.size)
    assert abs(x.var(ddof=1) - var) < n_se * se_var, (x.var(ddof=1), var)


# name -> (draw(random module, key, n), scipy.stats reference, checks)
# The same callable runs on funcnet.random and jax.random.
CONTINUOUS = {
    "exponential": (lambda r, k: r.exponential(k, (N,)), st.expon(), "ks+moments"),
    "laplace": (lambda r, k: r.laplace(k, (N,)), st.laplace(), "ks+moments"),
    "logistic": (lambda r, k: r.logistic(k, (N,)), st.logistic(), "ks+moments"),
    "cauchy": (lambda r, k: r.cauchy(k, (N,)), st.cauchy(), "ks"),
    "maxwell": (lambda r, k: r.maxwell(k, (N,)), st.maxwell(), "ks+moments"),
    "pareto": (lambda r, k: r.pareto(k, 3.0, (N,)), st.pareto(3.0), "ks"),
    "lognormal": (lambda r, k: r.lognormal(k, 0.5, (N,)), st.lognorm(0.5), "ks+moments"),
    "rayleigh": (lambda r, k: r.rayleigh(k, 2.0, (N,)), st.rayleigh(scale=2.0), "ks+moments"),
    "wald": (lambda r, k: r.wald(k, 1.5, (N,)), st.invgauss(1.5), "ks+moments"),
    "weibull_min": (
        lambda r, k: r.weibull_min(k, 2.0, 1.5, (N,)),
        st.weibull_min(1.5, scale=2.0),
        "ks+moments",
    ),
    "double_sided_maxwell": (
        lambda r, k: r.double_sided_maxwell(k, 1.0, 2.0, (N,)),
        st.dgamma(1.5, loc=1.0, scale=2.0**2 / 2.0),  # moments only: see below
        "mean",
    ),
    "triangular": (
        lambda r, k: r.triangular(k, 0.0, 1.0, 3.0, (N,)),
        st.triang(1 / 3, loc=0.0, scale=3.0),
        "ks+moments",
    ),
    "gamma": (lambda r, k: r.gamma(k, 0.7, (N,)), st.gamma(0.7), "ks+moments"),
    "gamma_large_a": (lambda r, k: r.gamma(k, 9.0, (N,)), st.gamma(9.0), "ks+moments"),
    "loggamma": (
        lambda r, k: r.loggamma(k, 0.2, (N,)),
        st.loggamma(0.2),
        "ks",
    ),
    "beta": (lambda r, k: r.beta(k, 2.0, 0.5, (N,)), st.beta(2.0, 0.5), "ks+moments"),
    "chisquare": (lambda r, k: r.chisquare(k, 3.0, (N,)), st.chi2(3.0), "ks+moments"),
    "f": (lambda r, k: r.f(k, 4.0, 9.0, (N,)), st.f(4.0, 9.0), "ks"),
    "t": (lambda r, k: r.t(k, 5.0, (N,)), st.t(5.0), "ks"),
    "generalized_normal": (
        lambda r, k: r.generalized_normal(k, 3.0, (N,)),
        st.gennorm(3.0),
        "ks+moments",
    ),
}
DISCRETE = {
    "poisson_small": (lambda r, k: r.poisson(k, 3.5, (N,)), st.poisson(3.5)),
    "poisson_large": (lambda r, k: r.poisson(k, 40.0, (N,)), st.poisson(40.0)),
    "binomial_inversion": (lambda r, k: r.binomial(k, 12.0, 0.3, (N,)), st.binom(12, 0.3)),
    "binomial_btrs": (lambda r, k: r.binomial(k, 200.0, 0.7, (N,)), st.binom(200, 0.7)),
    "geometric": (lambda r, k: r.geometric(k, 0.3, (N,)), st.geom(0.3)),
    "rademacher": (
        lambda r, k: r.rademacher(k, (N,)),
        st.rv_discrete(values=([-1, 1], [0.5, 0.5])),
    ),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_matches_jax_and_its_distribution(name):
    draw, dist, checks = CONTINUOUS[name]
    x = draw(random, KEY)
    assert x.shape == (N,) and x.dtype == np.float32
    np.testing.assert_allclose(np.asarray(x), np.asarray(draw(jax.random, JKEY)), rtol=2e-5)
    if name == "double_sided_maxwell":
        # loc + scale * (random sign) * Maxwell: symmetric about loc, E[x^2] = loc^2 + 3 scale^2
        xs = np.asarray(x, np.float64)
        assert abs(xs.mean() - 1.0) < 5 * np.sqrt(12.0 / N)
        assert abs(((xs - 1.0) ** 2).mean() - 12.0) < 5 * 12.0 * np.sqrt(2 / N)
        return
    if "ks" in checks:
        _kstest(x, dist)
    if "moments" in checks:
        _moments(x, dist)


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_discrete_matches_jax_and_its_distribution(name):
    draw, dist = DISCRETE[name]
    x = draw(random, KEY)
    ref = draw(jax.random, JKEY)
    assert x.shape == (N,) and x.dtype == ref.dtype
    np.testing.assert_array_equal(np.asarray(x), np.asarray(ref))
    _moments(x, dist)


def test_dirichlet_and_multinomial():
    alpha = np.array([0.5, 2.0, 3.0], np.float32)
    x = random.dirichlet(KEY, alpha, (N,))
    np.testing.assert_allclose(
        np.asarray(x), np.asarray(jax.random.dirichlet(JKEY, alpha, (N,))), rtol=2e-5
    )
    np.testing.assert_allclose(np.asarray(x).sum(-1), 1.0, rtol=1e-5)
    for i in range(3):  # marginals are Beta(alpha_i, sum - alpha_i)
        _moments(x[:, i], st.beta(alpha[i], alpha.sum() - alpha[i]))
    p = np.array([0.2, 0.3, 0.5], np.float32)
    counts = random.multinomial(KEY, 20.0, p, shape=(N, 3))
    ref = jax.random.multinomial(JKEY, 20.0, p, shape=(N, 3))
    np.testing.assert_array_equal(np.asarray(counts), np.asarray(ref))
    np.testing.assert_array_equal(np.asarray(counts).sum(-1), 20.0)
    _moments(counts[:, 2], st.binom(20, 0.5))


def test_multivariate_normal_methods_and_orthogonal():
    mean = np.array([1.0, -2.0, 0.5], np.float32)
    a = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]], np.float32)
    for method in ("cholesky", "eigh", "svd"):
        x = random.multivariate_normal(KEY, mean, a, (N,), method=method)
        ref = jax.random.multivariate_normal(JKEY, mean, a, (N,), method=method)
        np.testing.assert_allclose(np.asarray(x), np.asarray(ref), rtol=1e-4, atol=1e-5)
        xs = np.asarray(x, np.float64)
        assert np.abs(xs.mean(0) - mean).max() < 5 * np.sqrt(2.0 / N)
        assert np.abs(np.cov(xs.T) - a).max() < 0.15
    q = random.orthogonal(KEY, 4, (2,))
    np.testing.assert_allclose(
        np.asarray(q), np.asarray(jax.random.orthogonal(JKEY, 4, (2,))), atol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(q @ fnp.swapaxes(q, -1, -2)), np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-5
    )
    wide = random.orthogonal(KEY, 2, m=5)
    assert wide.shape == (2, 5)
    np.testing.assert_allclose(np.asarray(wide @ wide.T), np.eye(2), atol=1e-5)


def test_ball_points_are_inside_and_match_jax():
    x = random.ball(KEY, 3, 1.5, (N,))
    np.testing.assert_allclose(
        np.asarray(x), np.asarray(jax.random.ball(JKEY, 3, 1.5, (N,))), rtol=2e-5
    )
    norms = (np.abs(np.asarray(x, np.float64)) ** 1.5).sum(-1) ** (1 / 1.5)
    assert norms.max() < 1
    # uniform in the ball: the radius has CDF r^d
    _kstest(norms, st.beta(3, 1))


# --- dtypes, x64 -------------------------------------------------------------------------


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        with fn.enable_x64():
            yield
    finally:
        jax.config.update("jax_enable_x64", old)


def test_float64_and_int64_under_x64(x64):
    def draw(r, k):
        k1, k2, k3, k4 = (r.fold_in(k, i) for i in range(4))
        return (
            r.gamma(k1, np.float64(1.5), (500,)),
            r.beta(k2, 2.0, 3.0, (500,)),
            r.laplace(k3, (500,)),
            r.t(k4, 4.0, (500,), dtype=np.float32),
            r.poisson(k1, 5.0, (500,)),
        )

    ours = fn.jit(draw, static_argnums=0)(random, random.key(1))
    theirs = jax.jit(draw, static_argnums=0)(jax.random, jax.random.key(1))
    for x, ref in zip(ours, theirs):
        assert x.dtype == ref.dtype
        rtol = 1e-12 if x.dtype == np.float64 else 2e-5
        np.testing.assert_allclose(np.asarray(x), np.asarray(ref), rtol=rtol)
    assert [x.dtype for x in ours] == [np.float64] * 3 + [np.float32, np.int64]
    _moments(ours[0], st.gamma(1.5))
    _moments(ours[1], st.beta(2.0, 3.0))


def test_explicit_dtypes_and_default_shapes():
    assert random.exponential(KEY, (2,), dtype=np.float16).dtype == np.float16
    small = random.poisson(KEY, np.ones((2, 3)) * 2.0, dtype=np.int8)
    assert small.shape == (2, 3) and small.dtype == np.int8
    assert random.beta(KEY, np.ones((2, 1)), np.ones(3)).shape == (2, 3)
    assert random.double_sided_maxwell(KEY, np.zeros(2), 1.0, (3,)).shape == (3, 2)
    assert random.rademacher(KEY, (3,), dtype=np.float32).dtype == np.float32
    assert random.gamma(KEY, 1.0, (0,)).shape == (0,)


# --- transformations -----------------------------------------------------------------------


def test_determinism_jit_and_vmap_over_keys():
    a = np.array([0.5, 3.0], np.float32)
    first, second = random.gamma(KEY, a, (3, 2)), random.gamma(KEY, a, (3, 2))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    assert not np.array_equal(np.asarray(first), np.asarray(random.gamma(random.key(7), a, (3, 2))))
    keys = random.split(KEY, 3)
    jkeys = jax.random.split(JKEY, 3)

    def draw(r):
        return lambda k, a: (r.gamma(k, a, (2,)), r.laplace(k, (2,)))

    ours = fn.jit(fn.vmap(draw(random), in_axes=(0, None)))(keys, a)
    theirs = jax.jit(jax.vmap(draw(jax.random), in_axes=(0, None)))(jkeys, a)
    one = fn.jit(draw(random))  # per key, compiled once (eager draws are checked above)
    loop = [one(keys[i], a) for i in range(3)]
    for o, t, i in zip(ours, theirs, range(2)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=2e-5)
        np.testing.assert_allclose(
            np.asarray(o), np.stack([np.asarray(lp[i]) for lp in loop]), rtol=2e-5
        )


# --- gradients -----------------------------------------------------------------------------


def test_gradients_in_the_parameters_match_jax():
    a = np.array([0.4, 1.0, 3.5], np.float32)

    def loss(r, k):
        # gamma, loggamma (through beta and dirichlet) in one program per library
        k1, k2, k3 = (r.fold_in(k, i) for i in range(3))

        def f(a):
            g = (r.gamma(k1, a, (2, 3)) ** 2).sum()
            b = (r.beta(k2, a, 2.0, (2, 3)) * jnp.arange(3.0)).sum()
            d = (r.dirichlet(k3, a, (2,)) * jnp.arange(3.0)).sum()
            return g + 3 * b + 5 * d

        return f

    ours = fn.grad(fn.jit(loss(random, KEY)))(a)
    theirs = jax.grad(jax.jit(loss(jax.random, JKEY)))(a)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4)


def test_gamma_gradient_is_the_implicit_reparameterization():
    # Holding the uniform quantile fixed: d/da of the a-quantile of Gamma(a) at that u.
    a = np.float64(2.5)
    with fn.enable_x64():
        x = random.gamma(KEY, a, (6,))
        g = fn.jacfwd(lambda a: random.gamma(KEY, a, (6,)))(a)
    u = st.gamma(a).cdf(np.asarray(x))
    h = 1e-6
    fd = (st.gamma(a + h).ppf(u) - st.gamma(a - h).ppf(u)) / (2 * h)
    np.testing.assert_allclose(np.asarray(g), fd, rtol=2e-3)


# --- errors and key data ---------------------------------------------------------------------


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"gamma.*do not broadcast"):
        random.gamma(KEY, np.ones(3), (2,))
    with pytest.raises(TypeError, match="beta: dtype must be a float"):
        random.beta(KEY, 1.0, 1.0, dtype=np.int32)
    with pytest.raises(TypeError, match="poisson: dtype must be an integer"):
        random.poisson(KEY, 1.0, dtype=np.float32)
    with pytest.raises(ValueError, match="dirichlet: alpha must have at least one axis"):
        random.dirichlet(KEY, 1.0)
    with pytest.raises(ValueError, match="multivariate_normal: method"):
        random.multivariate_normal(KEY, np.zeros(2), np.eye(2), method="qr")
    with pytest.raises(ValueError, match=r"cov must have shape \(\.\.\., 2, 2\)"):
        random.multivariate_normal(KEY, np.zeros(2), np.eye(3))
    with pytest.raises(TypeError, match="ball: d must be an int"):
        random.ball(KEY, 2.5)
    with pytest.raises(TypeError, match="laplace: key must be"):
        random.laplace(np.zeros(3, np.uint32))
    with pytest.raises(ValueError, match="multinomial: shape"):
        random.multinomial(KEY, 5.0, np.ones(3) / 3, shape=(4, 2))


def test_key_data_helpers():
    keys = random.split(KEY, 4)
    np.testing.assert_array_equal(np.asarray(random.key_data(keys)), np.asarray(keys))
    np.testing.assert_array_equal(
        np.asarray(random.key_data(KEY)), np.asarray(jax.random.key_data(JKEY))
    )
    wrapped = random.wrap_key_data(np.asarray(keys))
    np.testing.assert_array_equal(np.asarray(wrapped), np.asarray(keys))
    assert random.key_impl(KEY) == "threefry2x32" == str(jax.random.key_impl(JKEY))
    assert random.key_dtype() == np.uint32
    assert random.clone(KEY) is KEY
    with pytest.raises(TypeError, match="key_data: keys must be a uint32"):
        random.key_data(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="wrap_key_data: only the threefry2x32"):
        random.wrap_key_data(np.asarray(keys), impl="rbg")


def test_modes_and_sampling_without_replacement_match_jax():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]], np.float32))
    cases = [
        lambda r, k: r.categorical(k, logits, shape=(3, 2), replace=False),
        lambda r, k: r.categorical(k, logits, axis=0, shape=(2, 4), replace=False),
        lambda r, k: r.gumbel(k, (5,), mode="high"),
        lambda r, k: r.bernoulli(k, 0.3, (8,), mode="high"),
        lambda r, k: r.choice(k, 5, (3,), replace=False, p=np.ones(5) / 5, mode="low"),
    ]
    for draw in cases:
        np.testing.assert_allclose(
            np.asarray(draw(random, KEY)), np.asarray(draw(jax.random, JKEY)), rtol=2e-6
        )
    distinct = np.asarray(random.categorical(KEY, logits, shape=(4, 2), replace=False))
    assert all(len(set(distinct[:, j])) == 4 for j in range(2))
    with pytest.raises(ValueError, match="without replacement exceed"):
        random.categorical(KEY, logits, shape=(5, 2), replace=False)
    with pytest.raises(NotImplementedError, match="mode='highest'"):
        random.gumbel(KEY, (2,), mode="highest")
    with pytest.raises(ValueError, match="impl must be None or 'threefry2x32'"):
        random.key(0, impl="rbg")
    np.testing.assert_array_equal(np.asarray(random.key(3, impl="threefry2x32")), [0, 3])
