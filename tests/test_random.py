"""funcnet.random against jax.random (the reference) and against the distributions.

key/split/fold_in/bits/uniform must be bit-identical to jax.random's default
threefry2x32 (partitionable mode); normal within 1e-6; the other samplers use
jax's algorithms and are compared with jax too, then checked statistically
(fixed seeds and generous bounds, so no test is flaky). Eager, jit, vmap and
grad are all exercised. Each new (shape, dtype) costs a compile, so the cases
reuse shapes on purpose.
"""

import math

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import random

SEEDS = [0, 42, -1, 2**32 + 7]
BF16 = np.dtype(ml_dtypes.bfloat16)


def _bits_view(x):
    x = np.asarray(x)
    if x.dtype.kind == "f" or x.dtype == BF16:
        return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])
    return x


def assert_bit_identical(got, want):
    """For what integer arithmetic and exact float steps compute (keys, bits, uniform on
    [0, 1)): the same bits on every machine."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(_bits_view(got), _bits_view(want))


def assert_within_ulps(got, want, ulps=2):
    """For floats that two different programs compute with rounding steps (a scaled
    uniform, a normal): XLA may contract a multiply-add or vectorize differently in a
    fused program than op by op, so only a few units in the last place are promised."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.kind not in "fV" and got.dtype != BF16:
        np.testing.assert_array_equal(got, want)
        return
    eps = float(ml_dtypes.finfo(got.dtype).eps)
    g, w = got.astype(np.float64), want.astype(np.float64)
    np.testing.assert_allclose(g, w, rtol=ulps * eps, atol=ulps * eps * np.abs(w).max(initial=1))


@pytest.fixture
def x64():
    """Turn 64-bit types on in both funcnet and jax for one test."""
    old_jax, old_fn = jax.config.jax_enable_x64, fn.config.enable_x64
    jax.config.update("jax_enable_x64", True)
    fn.config.enable_x64 = True
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old_jax)
        fn.config.enable_x64 = old_fn


def test_reference_is_partitionable_threefry():
    # The bit-identity below is against this configuration of jax (its default).
    assert jax.config.jax_default_prng_impl == "threefry2x32"
    assert jax.config.jax_threefry_partitionable


# --- keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed",
    [0, 1, 42, -1, -7, True, 2**31, 2**32 - 1, 2**32, 2**32 + 7, 2**40 + 3, 2**63 - 1, -(2**63)],
)
def test_key_from_python_int(seed):
    k = random.key(seed)
    assert isinstance(k, fn.Array) and k.shape == (2,) and k.dtype == np.uint32
    assert_bit_identical(k, jax.random.PRNGKey(seed))
    assert_bit_identical(k, jax.random.key_data(jax.random.key(seed)))
    assert random.PRNGKey is random.key


def test_key_from_numpy_and_traced_seeds():
    for seed in [
        np.int8(-1),
        np.uint8(255),
        np.int16(-300),
        np.int32(-5),
        np.uint32(2**32 - 1),
        np.int64(2**40 + 3),
        np.uint64(2**63 + 5),
    ]:
        assert_bit_identical(random.key(seed), jax.random.PRNGKey(seed))
    seeds = np.array([0, -1, 7, 2**31 - 1], np.int32)
    assert_bit_identical(
        fn.vmap(random.key)(fnp.asarray(seeds)), jax.vmap(jax.random.PRNGKey)(seeds)
    )
    assert_bit_identical(fn.jit(random.key)(fnp.asarray(np.int32(-5))), jax.random.PRNGKey(-5))


def test_x64_seeds_bits_uniform(x64):
    for seed in [-1, 2**40 + 3, 2**63 - 1, np.int64(-(2**40)), np.uint64(2**63 + 5)]:
        assert_bit_identical(random.key(seed), jax.random.PRNGKey(seed))
    k, jk = random.key(2**40 + 3), jax.random.PRNGKey(2**40 + 3)
    assert_bit_identical(random.bits(k, (7,)), jax.random.bits(jk, (7,)))  # uint64
    assert_bit_identical(random.uniform(k, (7,)), jax.random.uniform(jk, (7,)))  # float64


# --- split, fold_in, bits, uniform, normal: bit identity ----------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_split(seed):
    k, jk = random.key(seed), jax.random.PRNGKey(seed)
    for num in [2, 3, (2, 3)]:
        assert_bit_identical(random.split(k, num), jax.random.split(jk, num))
    assert random.split(k).shape == (2, 2)
    # chained splits stay identical (keys derived from keys)
    _a, b = random.split(random.split(k)[1])
    _ja, jb = jax.random.split(jax.random.split(jk)[1])
    assert_bit_identical(b, jb)


@pytest.mark.parametrize("seed", SEEDS)
def test_fold_in(seed):
    k, jk = random.key(seed), jax.random.PRNGKey(seed)
    for data in [0, 1, 2**32 - 1, np.int32(-1), np.uint8(7), np.int64(2**40 + 3)]:
        assert_bit_identical(random.fold_in(k, data), jax.random.fold_in(jk, data))
    # fold_in(k, i) is element i of split(k, n) in this (partitionable) scheme
    assert_bit_identical(random.fold_in(k, 2), random.split(k, 3)[2])
    data = np.arange(4, dtype=np.int32)
    assert_bit_identical(
        fn.vmap(random.fold_in, in_axes=(None, 0))(k, fnp.asarray(data)),
        jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jk, data),
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_bits(seed):
    k, jk = random.key(seed), jax.random.PRNGKey(seed)
    for shape in [(), (7,), (2, 3, 2)]:
        out = random.bits(k, shape)
        assert out.dtype == np.uint32
        assert_bit_identical(out, jax.random.bits(jk, shape))
    for dtype in [np.uint8, np.uint16]:
        assert_bit_identical(random.bits(k, (7,), dtype), jax.random.bits(jk, (7,), dtype))
    assert_bit_identical(random.bits(k, (0,)), jax.random.bits(jk, (0,)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16], ids=str)
def test_uniform(seed, dtype):
    k, jk = random.key(seed), jax.random.PRNGKey(seed)
    out = random.uniform(k, (1000,), dtype)
    assert out.dtype == dtype
    assert_bit_identical(out, jax.random.uniform(jk, (1000,), dtype))
    assert_within_ulps(
        random.uniform(k, (1000,), dtype, -2.5, 3.0),
        jax.random.uniform(jk, (1000,), dtype, -2.5, 3.0),
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_uniform_shapes_and_array_bounds(seed):
    k, jk = random.key(seed), jax.random.PRNGKey(seed)
    assert_bit_identical(random.uniform(k), jax.random.uniform(jk))
    lo = np.array([0.0, -1.0, 10.0, 0.5, -3.0], np.float32)
    hi = np.array([[1.0], [2.0], [100.0]], np.float32)
    assert_within_ulps(
        random.uniform(k, (3, 5), minval=lo, maxval=hi),
        jax.random.uniform(jk, (3, 5), minval=lo, maxval=hi),
    )
    assert random.uniform(k, (2, 0)).shape == (2, 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_normal(seed):
    k, jk = random.key(seed), jax.random.PRNGKey(seed)
    out = random.normal(k, (1000,))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, jax.random.normal(jk, (1000,)), atol=1e-6, rtol=0)
    for dtype in [np.float16, BF16]:  # within one ulp of the narrow type
        got = np.asarray(random.normal(k, (1000,), dtype)).astype(np.float32)
        want = np.asarray(jax.random.normal(jk, (1000,), dtype)).astype(np.float32)
        np.testing.assert_allclose(got, want, atol=0, rtol=float(ml_dtypes.finfo(dtype).eps))


# --- other samplers: same algorithm as jax ----------------------------------------------

_LOGITS = np.array(
    [
        [0.0, 1.0, 2.0, -1.0, 0.5, 0.0],
        [3.0, -2.0, 0.0, 0.0, 1.0, 1.0],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [-5.0, 5.0, 0.0, 0.0, 0.0, 0.0],
    ],
    np.float32,
)
_X = np.arange(24, dtype=np.float32).reshape(4, 6)
_P = np.array([0.25, 0.5, 0.125, 0.125], np.float32)  # exact cumulative sums


def _samplers(r, k, bern_p):
    """The same calls on funcnet.random or jax.random (r), as a dict."""
    return {
        "truncated_normal": r.truncated_normal(k, -1.5, 0.7, (500,)),
        "truncated_normal_bcast": r.truncated_normal(
            k, np.array([-1.0, 0.0]), np.array([[1.0], [2.0], [3.0]])
        ),
        "bernoulli": r.bernoulli(k, 0.3, (500,)),
        "bernoulli_p": r.bernoulli(k, bern_p),
        "gumbel": r.gumbel(k, (500,)),
        "categorical": r.categorical(k, _LOGITS),
        "categorical_axis0_shape": r.categorical(k, _LOGITS, axis=0, shape=(3, 6)),
        "randint": r.randint(k, (500,), -1000, 7),
        "randint_uint8_full": r.randint(k, (100,), 0, 256, np.uint8),
        "randint_bcast": r.randint(k, (3, 4), np.array([0, 10, 20, 30]), 40),
        "randint_empty_range": r.randint(k, (5,), 5, 5),
        "permutation_2rounds": r.permutation(k, 3000),
        "permutation_x_axis1": r.permutation(k, _X, 1),
        "permutation_independent": r.permutation(k, _X, 1, True),
        "choice": r.choice(k, 10, (5,)),
        "choice_arr_axis1": r.choice(k, _X, (2, 3), axis=1),
        "choice_arr_norep": r.choice(k, _X, (3,), replace=False, axis=1),
        "choice_p": r.choice(k, 4, (200,), p=_P),
        "choice_p_norep": r.choice(k, 4, (3,), replace=False, p=_P),
        "choice_scalar": r.choice(k, _X),
    }


_CLOSE = {"truncated_normal", "truncated_normal_bcast", "gumbel"}  # special functions


def test_samplers_match_jax():
    bern_p = np.linspace(0, 1, 20).astype(np.float32)
    got = _samplers(random, random.key(1234), bern_p)
    want = jax.jit(lambda k: _samplers(jax.random, k, bern_p))(jax.random.PRNGKey(1234))
    for name in got:
        g, w = np.asarray(got[name]), np.asarray(want[name])
        assert g.dtype == w.dtype and g.shape == w.shape, name
        if name in _CLOSE:
            np.testing.assert_allclose(g, w, atol=2e-6, rtol=2e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


# --- transformations -------------------------------------------------------------------


def test_jit_equals_eager():
    k = random.key(7)

    def draw(k):
        k1, k2 = random.split(k)
        return (
            random.split(k, 3),
            random.fold_in(k, 5),
            random.bits(k1, (7,)),
            random.uniform(k2, (1000,)),
            random.normal(k2, (1000,)),
            random.randint(k1, (500,), -1000, 7),
        )

    for a, b in zip(fn.jit(draw)(k), draw(k)):
        assert_within_ulps(a, b)  # exact for the integer outputs


def test_vmap_over_keys_equals_loop():
    keys = random.split(random.key(3), 4)

    def f(k):
        return (random.normal(k, (1000,)), random.split(k, 3), random.bits(k, (7,)))

    batched = fn.vmap(f)(keys)
    loop = [f(keys[i]) for i in range(4)]
    for j, out in enumerate(batched):
        assert_within_ulps(out, np.stack([np.asarray(o[j]) for o in loop]))
    jbatched = jax.vmap(lambda k: jax.random.normal(k, (1000,)))(
        jax.random.split(jax.random.PRNGKey(3), 4)
    )
    np.testing.assert_allclose(batched[0], jbatched, atol=1e-6, rtol=0)
    # a batched parameter with an unbatched key
    lo = fnp.asarray(np.array([0.0, 10.0], np.float32))
    out = fn.vmap(lambda m: random.uniform(keys[0], (1000,), minval=m, maxval=m + 1.0))(lo)
    assert_within_ulps(out[1], random.uniform(keys[0], (1000,), minval=10.0, maxval=11.0))


def test_grad_through_sampling():
    k, jk = random.key(11), jax.random.PRNGKey(11)

    def loss(mu, sigma, key):  # reparameterized normal
        return fnp.sum((mu + sigma * random.normal(key, (1000,))) ** 2)

    def jloss(mu, sigma, key):
        return jnp.sum((mu + sigma * jax.random.normal(key, (1000,))) ** 2)

    g = fn.grad(loss, argnums=(0, 1))(1.5, 0.5, k)
    eps = np.asarray(random.normal(k, (1000,)), np.float64)
    want = (np.sum(2 * (1.5 + 0.5 * eps)), np.sum(2 * (1.5 + 0.5 * eps) * eps))
    np.testing.assert_allclose(g, want, rtol=1e-4)
    np.testing.assert_allclose(g, jax.grad(jloss, argnums=(0, 1))(1.5, 0.5, jk), rtol=1e-5)
    np.testing.assert_allclose(fn.jit(fn.grad(loss))(1.5, 0.5, k), g[0], rtol=1e-6)
    # through uniform's bounds and truncated_normal's bounds, as jax
    for sampler in ("uniform", "truncated_normal"):

        def f(a, b, r=random, key=k, name=sampler):
            if name == "uniform":
                return r.uniform(key, (1000,), minval=a, maxval=b).sum()
            return r.truncated_normal(key, a, b, (1000,)).sum()

        got = fn.grad(f, argnums=(0, 1))(-1.0, 2.0)
        want = jax.grad(lambda a, b: f(a, b, jax.random, jk), argnums=(0, 1))(-1.0, 2.0)
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=sampler)


def test_keys_are_pytree_leaves():
    keys = {"a": random.key(0), "b": random.split(random.key(1))}
    leaves, _treedef = fn.tree.tree_flatten(keys)
    assert [leaf.shape for leaf in leaves] == [(2,), (2, 2)]
    # raw uint32 key data from elsewhere (NumPy, jax) is accepted as a key
    assert_bit_identical(
        random.split(np.asarray(jax.random.PRNGKey(5))), jax.random.split(jax.random.PRNGKey(5))
    )


# --- distributions (fixed seeds; bounds are >= 5 standard errors) ------------------------

N = 200_000


def _chi2(counts, probs):
    expected = np.asarray(probs) * np.sum(counts)
    return float(np.sum((np.asarray(counts) - expected) ** 2 / expected))


def _normal_cdf(x):
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def test_uniform_and_normal_moments():
    k1, k2 = random.split(random.key(2024))
    u = np.asarray(random.uniform(k1, (N,)), np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.004 and abs(u.var() - 1 / 12) < 0.001
    z = np.asarray(random.normal(k2, (N,)), np.float64)
    assert abs(z.mean()) < 0.015 and abs(z.var() - 1) < 0.02
    assert abs(np.mean(np.abs(z) < 1) - 0.682689) < 0.006
    grid = np.linspace(-3, 3, 61)  # Kolmogorov-Smirnov distance on a grid
    ks = np.max(np.abs(np.searchsorted(np.sort(z), grid) / N - _normal_cdf(grid)))
    assert ks < 1.95 / math.sqrt(N) * 2


def test_truncated_normal_distribution():
    a, b = -1.0, 2.0
    x = np.asarray(random.truncated_normal(random.key(5), a, b, (N,)), np.float64)
    assert x.min() > a and x.max() < b

    def pdf(t):
        return math.exp(-t * t / 2) / math.sqrt(2 * math.pi)

    def cdf(t):
        return 0.5 * (1 + math.erf(t / math.sqrt(2)))

    mean = (pdf(a) - pdf(b)) / (cdf(b) - cdf(a))
    assert abs(x.mean() - mean) < 0.01


def test_bernoulli_gumbel():
    x = np.asarray(random.bernoulli(random.key(6), 0.3, (N,)))
    assert x.dtype == np.bool_ and abs(x.mean() - 0.3) < 0.0062
    g = np.asarray(random.gumbel(random.key(7), (N,)), np.float64)
    assert abs(g.mean() - 0.5772157) < 0.02 and abs(g.var() - math.pi**2 / 6) < 0.06


def test_categorical_randint_choice_frequencies():
    logits = np.array([0.0, 1.0, 2.0, -1.0], np.float32)
    s = np.asarray(random.categorical(random.key(8), logits, shape=(N // 2,)))
    probs = np.exp(logits) / np.exp(logits).sum()
    assert _chi2(np.bincount(s, minlength=4), probs) < 30  # df 3; p ~ 1e-6
    r = np.asarray(random.randint(random.key(9), (N // 2,), 3, 10))
    assert r.min() == 3 and r.max() == 9
    assert _chi2(np.bincount(r - 3, minlength=7), np.full(7, 1 / 7)) < 40  # df 6
    c = np.asarray(random.choice(random.key(10), 4, (N // 2,), p=_P))
    assert _chi2(np.bincount(c, minlength=4), _P) < 30
    c = np.asarray(random.choice(random.key(11), 4, (N // 2,), p=_P * 3))  # unnormalized p
    assert _chi2(np.bincount(c, minlength=4), _P) < 30


def test_permutation_is_uniform():
    keys = random.split(random.key(12), 4000)
    perms = np.asarray(fn.vmap(lambda k: random.permutation(k, 5))(keys))
    assert (np.sort(perms, axis=1) == np.arange(5)).all()
    # where element 0 lands: uniform over the 5 positions
    assert _chi2(np.bincount(np.argmax(perms == 0, axis=1), minlength=5), np.full(5, 0.2)) < 35
    x = np.asarray(random.permutation(random.key(13), _X))  # rows move together
    assert sorted(map(tuple, x)) == sorted(map(tuple, _X))
    w = np.asarray(random.choice(random.key(14), 50, (20,), replace=False))
    assert len(set(w.tolist())) == 20


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, got",
    [
        (0, "got int 0"),
        (np.zeros(3, np.float32), "got f32[3]"),
        (np.zeros(2, np.int32), "got i32[2]"),
        (np.zeros(2, np.uint64), "got u64[2]"),
        (np.zeros(3, np.uint32), "got u32[3]"),
        (np.zeros((3, 2), np.uint32), "got u32[3,2]"),
    ],
)
def test_bad_key_names_what_it_got(bad, got):
    for f in (
        lambda k: random.normal(k, (3,)),
        random.split,
        lambda k: random.fold_in(k, 1),
        random.bits,
        random.uniform,
    ):
        with pytest.raises(TypeError, match="uint32 array of shape \\(2,\\)") as e:
            f(bad)  # raw NumPy (checked before any dtype canonicalization)
        assert got in str(e.value)
        if bad.__class__ is np.ndarray and bad.dtype != np.uint64:
            with pytest.raises(TypeError, match=got.replace("[", "\\[")):
                f(fnp.asarray(bad))  # a funcnet Array
    if np.ndim(bad) == 2:
        assert "funcnet.vmap" in str(e.value)


def test_bad_key_under_jit_and_jax_typed_key():
    with pytest.raises(TypeError, match="got u32\\[3\\]"):
        fn.jit(lambda k: random.normal(k))(fnp.zeros(3, np.uint32))
    with pytest.raises(TypeError, match=r"jax typed key.*key_data"):
        random.split(jax.random.key(0))


def test_bad_arguments():
    k = random.key(0)
    cases = [
        (lambda: random.key(1.5), TypeError, "seed must be an integer, got float"),
        (lambda: random.key(np.zeros(3, np.int32)), TypeError, "must be a scalar, got i32\\[3\\]"),
        (lambda: random.key(fnp.ones(())), TypeError, "must be an integer, got f32\\[\\]"),
        (lambda: random.key(2**64), OverflowError, "64-bit"),
        (lambda: random.fold_in(k, -1), OverflowError, "out of bounds for uint32"),
        (lambda: random.fold_in(k, 1.5), TypeError, "must be an integer"),
        (lambda: random.split(k, -1), ValueError, "negative"),
        (lambda: random.bits(k, (2,), np.float32), TypeError, "unsigned"),
        (lambda: random.uniform(k, (2,), np.int32), TypeError, "float dtype, got int32"),
        (
            lambda: random.uniform(k, (3,), minval=np.zeros(4)),
            ValueError,
            "minval of shape \\(4,\\) does not broadcast to the sample shape \\(3,\\)",
        ),
        (lambda: random.bernoulli(k, 1), TypeError, "p must be a float"),
        (lambda: random.categorical(k, np.zeros(3, np.int32)), TypeError, "logits must be"),
        (lambda: random.randint(k, (3,), 0, 5, np.float32), TypeError, "integer dtype"),
        (lambda: random.choice(k, 3, (5,), replace=False), ValueError, "cannot take 5"),
        (lambda: random.choice(k, 3, (2,), p=np.ones(4) / 4), ValueError, "length 3"),
        (lambda: random.permutation(k, 2.5), TypeError, "int or an array"),
        (lambda: random.truncated_normal(k, np.zeros(3), np.ones(4)), ValueError, "broadcast"),
    ]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f()
