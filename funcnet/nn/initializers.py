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
    """An initializer of zeros (as jax.nn.initializers.zeros).

    Args:
      key: a ``funcnet.random`` key (ignored).
      shape: the shape of the array, a tuple of ints.
      dtype: its dtype (default float32).

    Returns:
      An array of zeros of ``shape`` and ``dtype``.

    Example:
      >>> from funcnet import nn, random
      >>> nn.initializers.zeros(random.key(0), (2,)).tolist()
      [0.0, 0.0]
    """
    return fnp.zeros(tuple(shape), _dtype(dtype))


def ones(key, shape, dtype=None):
    """An initializer of ones (as jax.nn.initializers.ones).

    Args:
      key: a ``funcnet.random`` key (ignored).
      shape: the shape of the array, a tuple of ints.
      dtype: its dtype (default float32).

    Returns:
      An array of ones of ``shape`` and ``dtype``.
    """
    return fnp.ones(tuple(shape), _dtype(dtype))


@_factory
def constant(value, dtype=None):
    """Makes an initializer that fills every entry with ``value`` (as jax's constant).

    Args:
      value: the fill value, a scalar.
      dtype: the default dtype of the initializer (float32 if None).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array`` (the key is ignored).

    Example:
      >>> from funcnet import nn, random
      >>> nn.initializers.constant(0.5)(random.key(0), (2,)).tolist()
      [0.5, 0.5]
    """

    def init(key, shape, dtype=dtype):
        return fnp.full(tuple(shape), value, _dtype(dtype))

    return init


@_factory
def normal(stddev=1e-2, dtype=None):
    """Makes an initializer drawing N(0, stddev^2) entries (as jax.nn.initializers.normal).

    Args:
      stddev: the standard deviation (default 0.01).
      dtype: the default dtype of the initializer (float32 if None).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array``: ``stddev *
      random.normal(key, shape, dtype)``.

    Example:
      >>> from funcnet import nn, random
      >>> w = nn.initializers.normal(0.02)(random.key(0), (3, 4))
      >>> w.shape, w.dtype
      ((3, 4), dtype('float32'))
    """

    def init(key, shape, dtype=dtype):
        return _sample(key, tuple(shape), _dtype(dtype), "normal", float(stddev))

    return init


@_factory
def uniform(scale=1e-2, dtype=None):
    """Makes an initializer drawing U[0, scale) entries (as jax.nn.initializers.uniform).

    Args:
      scale: the upper bound (default 0.01).
      dtype: the default dtype of the initializer (float32 if None).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array``: ``scale *
      random.uniform(key, shape, dtype)``.
    """

    def init(key, shape, dtype=dtype):
        return _sample(key, tuple(shape), _dtype(dtype), "uniform", float(scale), 0.0, 1.0)

    return init


@_factory
def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """Makes an initializer drawing a truncated normal (as jax's truncated_normal).

    The entries are ``stddev * random.truncated_normal(key, lower, upper, shape,
    dtype)``: a standard normal truncated to (lower, upper), then scaled (so their
    standard deviation is below ``stddev``).

    Args:
      stddev: the scale (default 0.01).
      dtype: the default dtype of the initializer (float32 if None).
      lower: the lower bound, in standard deviations (default -2).
      upper: the upper bound, in standard deviations (default 2).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array``.
    """

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
    """Makes an initializer with variance ``scale / fan`` (as jax's variance_scaling).

    The fans come from the weight's shape: ``fan_in = shape[in_axis] * receptive``,
    ``fan_out = shape[out_axis] * receptive``, where ``receptive`` is the product of
    every other axis but ``batch_axis`` (a Conv kernel's window). The glorot, he and
    lecun initializers are instances.

    Args:
      scale: the variance's numerator, a positive float.
      mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"`` (their mean).
      distribution: ``"truncated_normal"`` (a normal truncated to 2 standard deviations
        and rescaled to the variance), ``"normal"`` or ``"uniform"`` (on ``[-a, a)``,
        ``a = sqrt(3 * variance)``).
      in_axis: the axis (or axes) of the input dimension (default -2).
      out_axis: the axis (or axes) of the output dimension (default -1).
      batch_axis: axes left out of the fans (default none).
      dtype: the default dtype of the initializer (float32 if None).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array`` for weights of two or
      more axes (fewer raise ValueError when it is called).

    Raises:
      ValueError: an unknown ``mode`` or ``distribution``.

    Example:
      >>> from funcnet import nn, random
      >>> init = nn.initializers.variance_scaling(2.0, "fan_in", "normal")
      >>> init(random.key(0), (3, 3, 16, 32)).shape
      (3, 3, 16, 32)
    """
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


_FAMILY_DOC = """{summary}

    ``variance_scaling({scale}, "{mode}", "{distribution}", in_axis, out_axis,
    batch_axis, dtype)``, as jax.nn.initializers.{name}{alias}.

    Args:
      in_axis: the axis (or axes) of the input dimension (default -2).
      out_axis: the axis (or axes) of the output dimension (default -1).
      batch_axis: axes left out of the fans (default none).
      dtype: the default dtype of the initializer (float32 if None).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array`` for weights of two or
      more axes, e.g. a Dense kernel ``(in, out)`` or a Conv kernel ``(*window, in,
      out)``.

    Example:
      >>> from funcnet import nn, random
      >>> nn.initializers.{name}()(random.key(0), (3, 4)).shape
      (3, 4)
    """


def _family(scale, mode, distribution, summary, name, alias=""):
    @_factory
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    factory.__doc__ = _FAMILY_DOC.format(
        summary=summary,
        scale=scale,
        mode=mode,
        distribution=distribution,
        name=name,
        alias=f" (also ``{alias}``)" if alias else "",
    )
    return factory


glorot_uniform = _family(
    1.0,
    "fan_avg",
    "uniform",
    "Glorot/Xavier uniform: variance 2 / (fan_in + fan_out).",
    "glorot_uniform",
    "xavier_uniform",
)
glorot_normal = _family(
    1.0,
    "fan_avg",
    "truncated_normal",
    "Glorot/Xavier (truncated) normal: variance 2 / (fan_in + fan_out).",
    "glorot_normal",
    "xavier_normal",
)
he_uniform = _family(
    2.0,
    "fan_in",
    "uniform",
    "He/Kaiming uniform: variance 2 / fan_in.",
    "he_uniform",
    "kaiming_uniform",
)
he_normal = _family(
    2.0,
    "fan_in",
    "truncated_normal",
    "He/Kaiming (truncated) normal: variance 2 / fan_in.",
    "he_normal",
    "kaiming_normal",
)
lecun_uniform = _family(
    1.0, "fan_in", "uniform", "LeCun uniform: variance 1 / fan_in.", "lecun_uniform"
)
lecun_normal = _family(
    1.0,
    "fan_in",
    "truncated_normal",
    "LeCun (truncated) normal: variance 1 / fan_in (the default kernel_init).",
    "lecun_normal",
)
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
    """Makes an initializer of (scaled) random orthogonal matrices (as jax's orthogonal).

    The weight is seen as a matrix whose columns lie along ``column_axis`` and whose
    rows are every other axis: the columns are orthonormal when there are no more of
    them than rows, else the rows are. Same algorithm as jax (QR of a normal matrix
    with R's diagonal made positive), computed with funcnet's own Gram-Schmidt, so
    values agree with jax's to rounding, not bit for bit. The default
    ``recurrent_init`` of the recurrent cells.

    Args:
      scale: a factor on the matrix (default 1.0).
      column_axis: the axis of the columns (default -1).
      dtype: the default dtype of the initializer (float32 if None).

    Returns:
      An initializer ``init(key, shape, dtype=dtype) -> array`` for shapes of two or
      more axes (fewer raise ValueError when it is called).

    Example:
      >>> from funcnet import nn, random
      >>> q = nn.initializers.orthogonal()(random.key(0), (4, 3))
      >>> [[round(abs(v), 4) for v in row] for row in (q.T @ q).tolist()]
      [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

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
    """The initializer names ``get`` (and every ``*_init=`` argument) accepts.

    Returns:
      A sorted list of names (``"glorot_normal"``, ..., ``"zeros"``); a factory named
      here is called with its defaults.

    Example:
      >>> from funcnet import nn
      >>> "he_normal" in nn.initializers.names()
      True
    """
    return sorted(_BY_NAME)


def get(spec, what="initializer"):
    """Resolves an initializer from a name, a factory or a function (as layers do).

    Args:
      spec: a name from ``names()`` (``"he_normal"``), a factory of this module
        (called with its defaults, e.g. ``glorot_uniform``), or any callable
        ``init(key, shape, dtype)`` (returned as is).
      what: the argument's name in error messages (e.g. ``"Dense(kernel_init=...)"``).

    Returns:
      An initializer ``init(key, shape, dtype) -> array``.

    Raises:
      ValueError: an unknown name (the message suggests the closest one).
      TypeError: ``spec`` is neither a name nor callable.

    Example:
      >>> from funcnet import nn, random
      >>> init = nn.initializers.get("he_normal")
      >>> init(random.key(0), (3, 4)).shape
      (3, 4)
    """
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
