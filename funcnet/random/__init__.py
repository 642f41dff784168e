"""funcnet.random: splittable, counter-based pseudo-random numbers (threefry2x32).

Keys are plain arrays
---------------------
A key is a ``uint32`` array of shape ``(2,)``: raw key data, the same bits as
``jax.random.PRNGKey(seed)`` (or ``jax.random.key_data(jax.random.key(seed))``).
Keys are therefore ordinary arrays: they go through pytrees, ``jit``, ``vmap``
(a batch of keys has shape ``(n, 2)``; map over it with ``funcnet.vmap``) and
``grad`` (integers carry no tangent). There is no hidden state: the same key
always gives the same numbers, and a key should be used once and then split::

    from funcnet import random
    key = random.key(0)
    key, sub = random.split(key)
    x = random.normal(sub, (3, 4))
    keys = random.split(key, 8)                       # shape (8, 2)
    xs = fn.vmap(lambda k: random.uniform(k, (4,)))(keys)

Compatibility with jax.random
-----------------------------
The generator is jax's default threefry2x32 in its partitionable mode
(``jax_threefry_partitionable=True``, jax's default), built only from funcnet
primitives. ``key``, ``split``, ``fold_in``, ``bits`` and ``uniform`` return
bit-identical values to jax.random for the same seed, shapes and dtypes;
``normal``, ``truncated_normal``, ``gumbel``, ``bernoulli``, ``categorical``,
``randint``, ``permutation`` and ``choice`` use jax's algorithms on those bits
(equal to jax up to the last ulp of erf_inv/log as XLA evaluates them).
The distributions (gamma, beta, dirichlet, poisson, binomial, multinomial, t, chisquare,
f, exponential, laplace, logistic, cauchy, pareto, lognormal, rayleigh, wald, weibull_min,
maxwell, double_sided_maxwell, triangular, geometric, rademacher, generalized_normal,
ball, multivariate_normal, orthogonal) use jax's algorithms too, so they match jax for
the same key; gamma-based samples are differentiable in their parameters (implicit
reparameterization through ``funcnet.lax.random_gamma_grad``), as in jax.
Without ``funcnet.config.enable_x64`` a seed is a 32-bit integer: a Python int
seed is taken modulo 2**32 (``key(-1)`` is ``[0, 4294967295]``), as in jax.
"""

from funcnet.random._continuous import (
    cauchy,
    double_sided_maxwell,
    exponential,
    laplace,
    logistic,
    lognormal,
    maxwell,
    pareto,
    rayleigh,
    triangular,
    wald,
    weibull_min,
)
from funcnet.random._discrete import binomial, geometric, multinomial, poisson, rademacher
from funcnet.random._gamma import (
    ball,
    beta,
    chisquare,
    dirichlet,
    f,
    gamma,
    generalized_normal,
    loggamma,
    t,
)
from funcnet.random._multivariate import multivariate_normal, orthogonal
from funcnet.random._prng import (
    PRNGKey,
    bits,
    clone,
    fold_in,
    key,
    key_data,
    key_dtype,
    key_impl,
    split,
    wrap_key_data,
)
from funcnet.random._samplers import (
    bernoulli,
    categorical,
    choice,
    gumbel,
    normal,
    permutation,
    randint,
    truncated_normal,
    uniform,
)

__all__ = [
    "PRNGKey",
    "ball",
    "bernoulli",
    "beta",
    "binomial",
    "bits",
    "categorical",
    "cauchy",
    "chisquare",
    "choice",
    "clone",
    "dirichlet",
    "double_sided_maxwell",
    "exponential",
    "f",
    "fold_in",
    "gamma",
    "generalized_normal",
    "geometric",
    "gumbel",
    "key",
    "key_data",
    "key_dtype",
    "key_impl",
    "laplace",
    "loggamma",
    "logistic",
    "lognormal",
    "maxwell",
    "multinomial",
    "multivariate_normal",
    "normal",
    "orthogonal",
    "pareto",
    "permutation",
    "poisson",
    "rademacher",
    "randint",
    "rayleigh",
    "split",
    "t",
    "triangular",
    "truncated_normal",
    "uniform",
    "wald",
    "weibull_min",
    "wrap_key_data",
]
