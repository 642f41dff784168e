"""Initializers: functions ``init(key, shape, dtype=float32) -> array``.

The names, arguments and algorithms follow ``jax.nn.initializers``, so with the same
key (funcnet.random is bit-compatible with jax.random) they draw the same numbers:
``zeros``, ``ones`` are initializers themselves; the others are factories that return
one (``normal(0.02)``, ``glorot_uniform()``). Layers take ``kernel_init=`` /
``bias_init=`` as an initializer, a factory (called with its defaults) or a name::

    nn.Dense(10, kernel_init="he_normal")
    nn.Dense(10, kernel_init=nn.initializers.normal(0.02))
    nn.Dense(10, kernel_init=lambda key, shape, dtype: fnp.full(shape, 0.1, dtype))

Fans (for the variance-scaling family: glorot/xavier, he/kaiming, lecun) are computed
as jax does: ``in_axis=-2``, ``out_axis=-1`` and every other axis is receptive field,
so a Dense kernel ``(in, out)`` and a Conv kernel ``(*window, in, out)`` both work.
"""

import difflib
import functools
import math

import numpy as np

import funcnet.numpy as fnp
from funcnet import lax, random
from funcnet.transforms.jit import jit

__all__ = [
    "constant",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "names",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


def _dtype(dtype):
    return fnp.float32 if dtype is None else dtype


def _sample(key, shape, dtype, distribution, scale, lower=-2.0, upper=2.0):
    return _sample_jit(
        key, tuple(shape), np.dtype(dtype), distribution, scale, float(lower), float(upper)
    )


@functools.partial(jit, static_argnums=(1, 2, 3, 5, 6))
def _sample_jit(key, shape, dtype, distribution, scale, lower, upper):
    """``scale`` times a draw from ``distribution``, compiled as one program per
    (shape, dtype, distribution): eager init compiles once per parameter shape, not once
    per operation, and ``scale`` (traced) does not recompile (under an outer jit this is
    simply inlined)."""
    if distribution == "truncated_normal":
        x = random.truncated_normal(key, lower, upper, shape, dtype)
    elif distribution == "normal":
        x = random.normal(key, shape, dtype)
    elif distribution == "uniform":  # U[lower, upper)
        x = random.uniform(key, shape, dtype, lower, upper)
    else:  # orthogonal
        x = _orthogonal(key, shape, dtype, int(lower))
    return x * scale


def _factory(f):
    f._is_factory = True  # get() calls a factory passed where an initializer is expected
    return f


def zeros(key, shape, dtype=None):
    """All zeros (the key is ignored)."""
    return fnp.zeros(tuple(shape), _dtype(dtype))


def ones(key, shape, dtype=None):
    """All ones (the key is ignored)."""
    return fnp.ones(tuple(shape), _dtype(dtype))


@_factory
def constant(value, dtype=None):
    """An initializer filling every entry with ``value``."""

    def init(key, shape, dtype=dtype):
        return fnp.full(tuple(shape), value, _dtype(dtype))

    return init


@_factory
def normal(stddev=1e-2, dtype=None):
    """N(0, stddev^2) entries."""

    def init(key, shape, dtype=dtype):
        return _sample(key, tuple(shape), _dtype(dtype), "normal", float(stddev))

    return init


@_factory
def uniform(scale=1e-2, dtype=None):
    """U[0, scale) entries (as jax.nn.initializers.uniform)."""

    def init(key, shape, dtype=dtype):
        return _sample(key, tuple(shape), _dtype(dtype), "uniform", float(scale), 0.0, 1.0)

    return init


@_factory
def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """N(0, 1) truncated to [lower, upper], times stddev."""

    def init(key, shape, dtype=dtype):
        return _sample(
            key,
            tuple(shape),
            _dtype(dtype),
            "truncated_normal",
            float(stddev),
            float(lower),
            float(upper),
        )

    return init


def _fans(shape, in_axis, out_axis, batch_axis):
    if len(shape) <= 1:
        raise ValueError(
            f"variance-scaling initializers need a weight of rank >= 2 to "
            f"tell fan-in from fan-out, got shape {tuple(shape)}; use zeros, "
            "normal(...) or constant(...) for vectors"
        )

    def size(axes):
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        return math.prod(shape[a] for a in axes)

    in_size, out_size, batch_size = size(in_axis), size(out_axis), size(batch_axis)
    receptive = math.prod(shape) // max(in_size * out_size * batch_size, 1)
    return in_size * receptive, out_size * receptive


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


@_factory
def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Entries with variance ``scale / fan`` (fan = fan_in, fan_out or their mean), drawn
    from a truncated normal, a normal or a uniform distribution (as jax)."""
    if mode not in _MODES:
        raise ValueError(f"variance_scaling mode must be one of {_MODES}, got {mode!r}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(
            f"variance_scaling distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}"
        )

    def init(key, shape, dtype=dtype):
        shape, dtype = tuple(shape), _dtype(dtype)
        fan_in, fan_out = _fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[
            mode
        ]
        variance = scale / max(denominator, 1)
        if distribution == "truncated_normal":
            # The std of N(0, 1) truncated to (-2, 2), so the result has the variance asked.
            return _sample(
                key, shape, dtype, distribution, math.sqrt(variance) / 0.87962566103423978
            )
        if distribution == "normal":
            return _sample(key, shape, dtype, distribution, math.sqrt(variance))
        return _sample(key, shape, dtype, distribution, math.sqrt(3 * variance), -1.0, 1.0)

    return init


def _family(scale, mode, distribution, doc):
    @_factory
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    factory.__doc__ = doc
    return factory


glorot_uniform = _family(1.0, "fan_avg", "uniform", "Glorot/Xavier uniform: var 2/(in+out).")
glorot_normal = _family(
    1.0, "fan_avg", "truncated_normal", "Glorot/Xavier (truncated) normal: var 2/(in+out)."
)
he_uniform = _family(2.0, "fan_in", "uniform", "He/Kaiming uniform: var 2/in.")
he_normal = _family(2.0, "fan_in", "truncated_normal", "He/Kaiming (truncated) normal: var 2/in.")
lecun_uniform = _family(1.0, "fan_in", "uniform", "LeCun uniform: var 1/in.")
lecun_normal = _family(1.0, "fan_in", "truncated_normal", "LeCun (truncated) normal: var 1/in.")
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal
for _name in (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
):
    globals()[_name].__name__ = _name


def _orthonormal_columns(a):
    """Q of the QR decomposition of a tall matrix ``a`` (n >= m), with R's diagonal
    positive: classical Gram-Schmidt applied twice per column ("CGS2"), which keeps
    float32 columns orthogonal to rounding. Built from funcnet primitives (a fori_loop
    over columns), so it runs eagerly and under jit."""
    n, m = a.shape

    def body(j, q):
        v = lax.dynamic_slice(a, (0, j), (n, 1))
        for _ in range(2):  # the columns of q not yet filled are zero: they project nothing
            v = v - q @ (q.T @ v)
        v = v * lax.rsqrt(fnp.sum(v * v))
        return lax.dynamic_update_slice(q, v, (0, j))

    return lax.fori_loop(0, m, body, fnp.zeros((n, m), a.dtype))


@_factory
def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """A (scaled) random orthogonal matrix, reshaped: the columns (``column_axis``) are
    orthonormal when there are no more of them than rows, else the rows are. Same
    algorithm as jax (QR of a normal matrix with R's diagonal made positive)."""

    def init(key, shape, dtype=dtype):
        shape, dtype = tuple(shape), _dtype(dtype)
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer needs a shape of rank >= 2, got {shape}")
        return _sample(key, shape, dtype, "orthogonal", float(scale), float(column_axis))

    return init


def _orthogonal(key, shape, dtype, column_axis):
    n_cols = shape[column_axis]
    n_rows = math.prod(shape) // max(n_cols, 1)
    tall = (n_cols, n_rows) if n_rows < n_cols else (n_rows, n_cols)
    q = _orthonormal_columns(random.normal(key, tall, dtype))
    if n_rows < n_cols:
        q = q.T
    rest = tuple(np.delete(np.array(shape), column_axis % len(shape)))
    return fnp.moveaxis(fnp.reshape(q, rest + (n_cols,)), -1, column_axis)


_BY_NAME = {
    "zeros": zeros,
    "ones": ones,
    "normal": normal,
    "uniform": uniform,
    "truncated_normal": truncated_normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "orthogonal": orthogonal,
}


def names() -> list[str]:
    """The initializer names ``get`` (and every ``*_init=`` argument) accepts."""
    return sorted(_BY_NAME)


def get(spec, what="initializer"):
    """An initializer from a name (``"he_normal"``), a factory (called with its
    defaults) or any callable ``init(key, shape, dtype)``; ``what`` names the argument
    in error messages."""
    if isinstance(spec, str):
        try:
            spec = _BY_NAME[spec]
        except KeyError:
            close = difflib.get_close_matches(spec, _BY_NAME, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{what}: unknown initializer {spec!r}{hint}; known names: "
                f"{', '.join(names())}, or pass a callable "
                "init(key, shape, dtype)"
            ) from None
    if not callable(spec):
        raise TypeError(
            f"{what} must be an initializer name or a callable "
            f"init(key, shape, dtype), got {spec!r} of type {type(spec).__name__}"
        )
    if getattr(spec, "_is_factory", False):
        spec = spec()
    return spec
