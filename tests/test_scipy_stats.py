"""funcnet.scipy.stats against jax.scipy.stats (values, dtype, weak type) and
scipy.stats (values), float32 and float64, eager and under jit; derivatives; vmap; the
support's edges; errors."""

import jax
import jax.scipy.stats as jst
import numpy as np
import pytest
import scipy.stats as sst
from scipy_testing import RTOL, assert_like_jax, dtype_fixture, weak  # noqa: F401

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.scipy import stats
from funcnet.test_util import check_grads

rng = np.random.default_rng(1)
X = np.array([-3.0, -1.0, -0.2, 0.0, 0.3, 0.9, 1.0, 2.5, 7.0])
Q = np.array([0.0, 1e-3, 0.1, 0.5, 0.8, 0.999, 1.0])

# family -> (its parameters after x, the SciPy frozen-parameter order, the functions).
CONTINUOUS = {
    "norm": ((0.5, 2.0), ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]),
    "uniform": ((-1.0, 2.5), ["logpdf", "pdf", "cdf", "ppf"]),
    "laplace": ((0.5, 2.0), ["logpdf", "pdf", "cdf"]),
    "logistic": ((0.5, 2.0), ["logpdf", "pdf", "cdf", "sf", "ppf", "isf"]),
    "cauchy": ((0.5, 2.0), ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]),
    "expon": ((-1.0, 2.0), ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]),
    "gamma": ((2.5, -1.0, 2.0), ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]),
    "chi2": ((3.0, -2.5, 2.0), ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]),
    "beta": ((2.0, 3.0, -2.5, 6.0), ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]),
    "t": ((3.0, 0.5, 2.0), ["logpdf", "pdf"]),
}
CASES = [(fam, f) for fam, (_, fs) in CONTINUOUS.items() for f in fs]


def _finite_like(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    ok = np.isfinite(want)
    return got[ok], want[ok]


@pytest.mark.parametrize("family, name", CASES, ids=[f"{a}.{b}" for a, b in CASES])
def test_continuous_matches_jax_and_scipy(family, name, dtype):
    params, _ = CONTINUOUS[family]
    x = (Q if name in ("ppf", "isf") else X).astype(dtype)
    got = getattr(getattr(stats, family), name)(x, *params)
    want = getattr(getattr(jst, family), name)(x, *params)
    assert np.dtype(got.dtype) == np.asarray(want).dtype
    g, w = _finite_like(got, want)
    np.testing.assert_allclose(g, w, rtol=10 * RTOL[dtype], atol=1e-30)
    ref = getattr(getattr(sst, family), name)(x.astype(np.float64), *params)
    if family == "cauchy" and name in ("ppf", "isf"):
        # tan(+-pi/2) is finite in floating point; SciPy returns +-inf at q = 0, 1.
        got, ref = np.asarray(got)[1:-1], ref[1:-1]
    g, r = _finite_like(got, ref)
    np.testing.assert_allclose(g, r, rtol=1e-4 if dtype == np.float32 else 1e-7, atol=1e-12)


DISCRETE = [
    ("poisson", "logpmf", (3.0,)),
    ("poisson", "pmf", (3.0,)),
    ("poisson", "cdf", (3.0,)),
    ("bernoulli", "logpmf", (0.3,)),
    ("bernoulli", "pmf", (0.3,)),
    ("bernoulli", "cdf", (0.3,)),
]


@pytest.mark.parametrize("family, name, params", DISCRETE, ids=[f"{a}.{b}" for a, b, _ in DISCRETE])
def test_discrete_matches_jax_and_scipy(family, name, params, dtype):
    k = np.array([-1.0, 0.0, 1.0, 2.0, 2.5, 5.0, 12.0], dtype)
    got = getattr(getattr(stats, family), name)(k, *params)
    want = getattr(getattr(jst, family), name)(k, *params)
    assert np.dtype(got.dtype) == np.asarray(want).dtype
    g, w = _finite_like(got, want)
    np.testing.assert_allclose(g, w, rtol=10 * RTOL[dtype])
    ref = getattr(getattr(sst, family), name)(k.astype(np.float64), *params)
    if family == "bernoulli" or name != "cdf":  # SciPy floors k, jax gives -inf at 2.5
        ok = k == np.round(k)
        g, r = _finite_like(np.asarray(got)[ok], ref[ok])
        np.testing.assert_allclose(g, r, rtol=1e-4 if dtype == np.float32 else 1e-7)


def test_bernoulli_ppf_and_invalid_p():
    q = np.array([0.0, 0.5, 0.7, 0.71, 1.0, 1.5], np.float32)
    np.testing.assert_array_equal(stats.bernoulli.ppf(q, 0.3), jst.bernoulli.ppf(q, 0.3))
    k = np.array([0.0, 1.0], np.float32)
    np.testing.assert_array_equal(stats.bernoulli.cdf(k, 1.5), jst.bernoulli.cdf(k, 1.5))


def test_python_scalars_weak_type_as_jax():
    cases = [
        ("norm", "logpdf", (0.5,)),
        ("norm", "cdf", (0.5,)),
        ("gamma", "logpdf", (0.5, 2.0)),
        ("uniform", "cdf", (0.5,)),
        ("expon", "sf", (0.5,)),
        ("poisson", "logpmf", (2.0, 3.0)),
        ("t", "logpdf", (0.5, 3.0)),
        ("beta", "cdf", (0.5, 2.0, 3.0)),
    ]
    for family, name, args in cases:
        got = getattr(getattr(stats, family), name)(*args)
        want = getattr(getattr(jst, family), name)(*args)
        assert weak(got) == jax.typeof(want).weak_type, (family, name)


def test_broadcasting_and_integer_inputs_as_jax():
    x = np.arange(6).reshape(2, 3)
    loc = np.array([[0.0], [1.0]], np.float32)
    assert_like_jax(stats.norm.logpdf(x, loc, 2), jst.norm.logpdf(x, loc, 2))
    assert_like_jax(stats.poisson.logpmf(x, 2), jst.poisson.logpmf(x, 2))


def test_multivariate_normal(dtype):
    n = 3
    a = rng.standard_normal((2, n, n)).astype(dtype)
    cov = a @ np.swapaxes(a, -1, -2) + np.eye(n, dtype=dtype)
    x = rng.standard_normal((4, 2, n)).astype(dtype)
    mean = rng.standard_normal(n).astype(dtype)
    got = stats.multivariate_normal.logpdf(x, mean, cov)
    mvn_logpdf = jax.jit(jst.multivariate_normal.logpdf)
    assert_like_jax(got, mvn_logpdf(x, mean, cov), rtol=50 * RTOL[dtype])
    ref = [sst.multivariate_normal.logpdf(x[:, b], mean, cov[b]) for b in range(2)]
    np.testing.assert_allclose(
        got, np.stack(ref, axis=1), rtol=1e-4 if dtype == np.float32 else 1e-10
    )
    # A scalar covariance (cov * I) and a scalar mean.
    for args in ((x, mean, 2.0), (x[..., 0], 0.5, 2.0)):
        assert_like_jax(
            stats.multivariate_normal.logpdf(*args),
            mvn_logpdf(*args),
            rtol=10 * RTOL[dtype],
        )
    assert_like_jax(
        stats.multivariate_normal.pdf(x[0, 0], mean, cov[0]),
        jax.jit(jst.multivariate_normal.pdf)(x[0, 0], mean, cov[0]),
        rtol=50 * RTOL[dtype],
    )


def test_multivariate_normal_under_jit_grad_and_vmap():
    n = 3
    a = rng.standard_normal((n, n))
    cov = (a @ a.T + np.eye(n)).astype(np.float32)
    x = rng.standard_normal((5, n)).astype(np.float32)
    mean = np.zeros(n, np.float32)
    f = fn.jit(stats.multivariate_normal.logpdf)
    np.testing.assert_allclose(
        f(x, mean, cov), jax.jit(jst.multivariate_normal.logpdf)(x, mean, cov), rtol=1e-5
    )
    per_row = fn.vmap(stats.multivariate_normal.logpdf, in_axes=(0, None, None))(x, mean, cov)
    loop = [float(stats.multivariate_normal.logpdf(x[i], mean, cov)) for i in range(5)]
    np.testing.assert_allclose(per_row, loop, rtol=1e-5)
    loss = lambda m, c: stats.multivariate_normal.logpdf(x, m, c).sum()  # noqa: E731
    jloss = lambda m, c: jst.multivariate_normal.logpdf(x, m, c).sum()  # noqa: E731
    got = fn.grad(loss, argnums=(0, 1))(mean, cov)
    want = jax.jit(jax.grad(jloss, argnums=(0, 1)))(mean, cov)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_dirichlet(dtype):
    alpha = np.array([1.5, 2.0, 3.0], dtype)
    x = np.array([[0.2, 0.3, 0.1], [0.5, 0.1, 0.6], [0.3, 0.6, 0.3]], dtype)
    assert_like_jax(stats.dirichlet.logpdf(x, alpha), jax.jit(jst.dirichlet.logpdf)(x, alpha))
    x64 = x.astype(np.float64)
    x64 = x64 / x64.sum(0)  # SciPy wants the sum to be 1 to float64 rounding
    np.testing.assert_allclose(
        stats.dirichlet.logpdf(x, alpha), sst.dirichlet.logpdf(x64, alpha), rtol=1e-4
    )
    # K - 1 components: the last is 1 - sum; a point off the simplex gives -inf.
    assert_like_jax(stats.dirichlet.pdf(x[:2], alpha), jax.jit(jst.dirichlet.pdf)(x[:2], alpha))
    off = np.array([0.5, 0.6, 0.2], dtype)
    assert float(stats.dirichlet.logpdf(off, alpha)) == -np.inf


JIT_CASES = [("norm", "logcdf"), ("gamma", "logpdf"), ("beta", "cdf"), ("t", "logpdf")]


@pytest.mark.parametrize("family, name", JIT_CASES, ids=[f"{a}.{b}" for a, b in JIT_CASES])
def test_jit_matches_eager(family, name, dtype):
    params, _ = CONTINUOUS[family]
    f = getattr(getattr(stats, family), name)
    x = X.astype(dtype)
    g, w = _finite_like(fn.jit(f)(x, *params), f(x, *params))
    np.testing.assert_allclose(g, w, rtol=10 * RTOL[dtype])


# ---- derivatives -------------------------------------------------------------------------
GRAD_CASES = [
    ("norm", "logpdf", [0.3, -1.2], [0.5, 2.0], 2),
    ("norm", "logcdf", [-25.0, 0.3, 4.0], [0.0, 1.0], 2),  # off the -20 branch edge
    ("t", "logpdf", [0.3, -1.2], [3.0, 0.5, 2.0], 2),
    ("gamma", "logpdf", [0.3, 2.2], [2.5, 0.0, 1.5], 2),
    ("beta", "logpdf", [0.3, 0.8], [2.0, 3.0], 2),
    ("laplace", "logpdf", [0.3, -1.2], [0.0, 2.0], 2),
    ("logistic", "logpdf", [0.3, -1.2], [0.5, 2.0], 2),
    ("cauchy", "cdf", [0.3, -1.2], [0.5, 2.0], 2),
    ("expon", "logpdf", [0.3, 2.2], [0.0, 2.0], 2),
    ("chi2", "logpdf", [0.3, 2.2], [3.0], 2),
    ("gamma", "cdf", [0.3, 2.2], [2.5], 1),
]


@pytest.mark.parametrize(
    "family, name, x, params, order", GRAD_CASES, ids=[f"{c[0]}.{c[1]}" for c in GRAD_CASES]
)
def test_grads(family, name, x, params, order, dtype):
    x = np.array(x, dtype)
    params = [np.asarray(p, dtype) for p in params]
    f = getattr(getattr(stats, family), name)
    g = getattr(getattr(jst, family), name)
    if dtype == np.float64:
        check_grads(f, (x, *params), order=order, modes=("fwd", "rev"))
    argnums = tuple(range(1 + len(params)))
    got = fn.grad(lambda *a: f(*a).sum(), argnums=argnums)(x, *params)
    # the reference under jax.jit: one program, where jax's eager mode compiles every op
    want = jax.jit(jax.grad(lambda *a: g(*a).sum(), argnums=argnums))(x, *params)
    for u, v in zip(got, want):
        np.testing.assert_allclose(u, v, rtol=50 * RTOL[dtype], atol=1e-6)


def test_poisson_logpmf_grad_in_mu_and_vmap():
    k = np.array([0.0, 2.0, 5.0], np.float32)
    mu = np.array([1.0, 3.0, 0.5], np.float32)
    got = fn.vmap(fn.grad(stats.poisson.logpmf, argnums=1))(k, mu)
    want = jax.jit(jax.vmap(jax.grad(jst.poisson.logpmf, argnums=1)))(k, mu)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got = fn.vmap(stats.norm.logpdf, in_axes=(0, 0, None))(k, mu, 2.0)
    loop = [float(stats.norm.logpdf(k[i], mu[i], 2.0)) for i in range(3)]
    np.testing.assert_allclose(got, loop, rtol=1e-6)


# ---- edges and errors ---------------------------------------------------------------------
def test_support_edges_as_jax():
    inf = np.inf
    x = np.array([-inf, -1.0, 0.0, 1.0, inf], np.float32)
    for family, name, params in [
        ("norm", "logcdf", ()),
        ("norm", "logsf", ()),
        ("uniform", "logpdf", ()),
        ("expon", "logpdf", ()),
        ("gamma", "logpdf", (2.0,)),
        ("beta", "logpdf", (2.0, 3.0)),
        ("beta", "logpdf", (-1.0, 3.0)),  # invalid a: nan
        ("chi2", "logpdf", (3.0,)),
        ("laplace", "cdf", ()),
        ("logistic", "logpdf", ()),
    ]:
        got = np.asarray(getattr(getattr(stats, family), name)(x, *params))
        want = np.asarray(getattr(getattr(jst, family), name)(x, *params))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{family}.{name}")
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"{family}.{name}")


def test_errors():
    with pytest.raises(TypeError, match=r"norm\.logpdf requires ndarray or scalar"):
        stats.norm.logpdf([0.0, 1.0])
    with pytest.raises(ValueError, match="incompatible shapes"):
        stats.multivariate_normal.logpdf(np.zeros(3), np.zeros(3), np.eye(2))
    with pytest.raises(NotImplementedError, match="allow_singular"):
        stats.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(2), allow_singular=True)
    with pytest.raises(ValueError, match="`alpha` must be one-dimensional"):
        stats.dirichlet.logpdf(np.full(2, 0.5), np.ones((2, 2)))
    with pytest.raises(ValueError, match="same number of entries as `alpha`"):
        stats.dirichlet.logpdf(np.full(4, 0.25), np.ones(2))
    # A covariance that is not positive definite gives nan, as in jax (no error).
    bad = fnp.asarray(np.array([[1.0, 2.0], [2.0, 1.0]], np.float32))
    assert np.isnan(float(stats.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), bad)))
