"""Reductions, arg-reductions, cumulative ops, windowed reductions (pooling) and sort."""

import numpy as np

from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.source_info import where
from funcnet.core.trace import Primitive, get_aval
from funcnet.lax import elementwise as ew


def _check_axes(name, x, axes):
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} are invalid for an array of shape {x.shape}{where()}")


def _reduce_abstract_eval(name, bool_only=False):
    def rule(x, *, axes):
        _check_axes(name, x, axes)
        if bool_only and not (dtypes.is_bool(x.dtype) or dtypes.is_int(x.dtype)):
            raise TypeError(f"{name} takes bool or integer arrays, got {x.dtype}{where()}")
        return x.update(shape=tuple(d for i, d in enumerate(x.shape) if i not in axes))

    return rule


def _reduction(name, bool_only=False):
    p = Primitive(name)
    p.def_abstract_eval(_reduce_abstract_eval(name, bool_only))
    return p


reduce_sum_p = _reduction("reduce_sum")
reduce_max_p = _reduction("reduce_max")
reduce_min_p = _reduction("reduce_min")
reduce_prod_p = _reduction("reduce_prod")
reduce_and_p = _reduction("reduce_and", bool_only=True)
reduce_or_p = _reduction("reduce_or", bool_only=True)
REDUCTIONS = [reduce_sum_p, reduce_max_p, reduce_min_p, reduce_prod_p, reduce_and_p, reduce_or_p]


def _argreduce_abstract_eval(name):
    def rule(x, *, axes, index_dtype):
        _check_axes(name, x, axes)
        if len(axes) != 1:
            raise TypeError(f"{name} reduces exactly one axis")
        if x.shape[axes[0]] == 0:
            raise ValueError(f"{name} of an empty axis {axes[0]} (shape {x.shape}){where()}")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return ShapedArray(shape, index_dtype)

    return rule


argmax_p = Primitive("argmax")
argmax_p.def_abstract_eval(_argreduce_abstract_eval("argmax"))
argmin_p = Primitive("argmin")
argmin_p.def_abstract_eval(_argreduce_abstract_eval("argmin"))


def _cumulative_abstract_eval(name):
    def rule(x, *, axis, reverse):
        _check_axes(name, x, (axis,))
        return x

    return rule


cumsum_p = Primitive("cumsum")
cumprod_p = Primitive("cumprod")
cummax_p = Primitive("cummax")
cummin_p = Primitive("cummin")
CUMULATIVE = [cumsum_p, cumprod_p, cummax_p, cummin_p]
for _p in CUMULATIVE:
    _p.def_abstract_eval(_cumulative_abstract_eval(_p.name))


def window_output_shape(
    shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
):
    out = []
    for d, w, s, (lo, hi), bd, wd in zip(
        shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
    ):
        dilated_in = (d - 1) * bd + 1 + lo + hi if d else lo + hi
        dilated_w = (w - 1) * wd + 1
        out.append(max(0, (dilated_in - dilated_w) // s + 1))
    return tuple(out)


def _reduce_window_abstract_eval(name):
    def rule(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        n = x.ndim
        for what, v in (
            ("window_dimensions", window_dimensions),
            ("window_strides", window_strides),
            ("padding", padding),
            ("base_dilation", base_dilation),
            ("window_dilation", window_dilation),
        ):
            if len(v) != n:
                raise TypeError(
                    f"{name}: {what} has {len(v)} entries for an array of "
                    f"rank {n} (shape {x.shape}){where()}"
                )
        return x.update(
            shape=window_output_shape(
                x.shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
            )
        )

    return rule


reduce_window_sum_p = Primitive("reduce_window_sum")
reduce_window_max_p = Primitive("reduce_window_max")
reduce_window_min_p = Primitive("reduce_window_min")
REDUCE_WINDOWS = [reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p]
for _p in REDUCE_WINDOWS:
    _p.def_abstract_eval(_reduce_window_abstract_eval(_p.name))

sort_p = Primitive("sort", multiple_results=True)


@sort_p.def_abstract_eval
def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    first = operands[0]
    _check_axes("sort", first, (dimension,))
    if any(o.shape != first.shape for o in operands):
        raise TypeError(
            f"sort operands must share a shape, got {[o.shape for o in operands]}{where()}"
        )
    if not 1 <= num_keys <= len(operands):
        raise TypeError("sort: num_keys must be between 1 and the number of operands")
    return list(operands)


# --- binders --------------------------------------------------------------------


def _axes(axes):
    return tuple(sorted(int(a) for a in axes))


def reduce_sum(operand, axes):
    """The sum of `operand` over `axes`, as jax.lax.reduce_sum.

    Args:
      operand: an array.
      axes: the axes to reduce: distinct, non-negative ints (any order).

    Returns:
      An array of `operand`'s dtype without the reduced axes; reducing no axes returns
      it unchanged and an empty axis sums to 0.

    Raises:
      TypeError: for an axis out of range or repeated.
    """
    return reduce_sum_p.bind(operand, axes=_axes(axes))


def reduce_max(operand, axes):
    """The maximum (NaN if any element is NaN) of `operand` over `axes`, as jax.lax.reduce_max.

    Args:
      operand: an array.
      axes: the axes to reduce: distinct, non-negative ints (any order).

    Returns:
      An array of `operand`'s dtype without the reduced axes; an empty axis gives
      the dtype's lowest value (-inf for floats).

    Raises:
      TypeError: for an axis out of range or repeated.
    """
    return reduce_max_p.bind(operand, axes=_axes(axes))


def reduce_min(operand, axes):
    """The minimum (NaN if any element is NaN) of `operand` over `axes`, as jax.lax.reduce_min.

    Args:
      operand: an array.
      axes: the axes to reduce: distinct, non-negative ints (any order).

    Returns:
      An array of `operand`'s dtype without the reduced axes; an empty axis gives
      the dtype's highest value (inf for floats).

    Raises:
      TypeError: for an axis out of range or repeated.
    """
    return reduce_min_p.bind(operand, axes=_axes(axes))


def reduce_prod(operand, axes):
    """The product of `operand` over `axes`, as jax.lax.reduce_prod.

    Args:
      operand: an array.
      axes: the axes to reduce: distinct, non-negative ints (any order).

    Returns:
      An array of `operand`'s dtype without the reduced axes; an empty axis gives 1.

    Raises:
      TypeError: for an axis out of range or repeated.
    """
    return reduce_prod_p.bind(operand, axes=_axes(axes))


def reduce_and(operand, axes):
    """The logical (bitwise, for integers) and of `operand` over `axes`, as jax.lax.reduce_and.

    Args:
      operand: a bool or integer array.
      axes: the axes to reduce: distinct, non-negative ints (any order).

    Returns:
      An array of `operand`'s dtype without the reduced axes.

    Raises:
      TypeError: for an axis out of range or repeated, or an operand of another dtype.
    """
    return reduce_and_p.bind(operand, axes=_axes(axes))


def reduce_or(operand, axes):
    """The logical (bitwise, for integers) or of `operand` over `axes`, as jax.lax.reduce_or.

    Args:
      operand: a bool or integer array.
      axes: the axes to reduce: distinct, non-negative ints (any order).

    Returns:
      An array of `operand`'s dtype without the reduced axes.

    Raises:
      TypeError: for an axis out of range or repeated, or an operand of another dtype.
    """
    return reduce_or_p.bind(operand, axes=_axes(axes))


def argmax(operand, axis, index_dtype=dtypes.int32):
    """The index of the largest entry of `operand` along `axis`, as jax.lax.argmax: the
    first one on ties, and the first NaN if there is one.

    Args:
      operand: an array.
      axis: the axis to search (non-negative), of non-zero size.
      index_dtype: the integer dtype of the result; int32 by default (jax requires it).

    Returns:
      An array of `operand`'s shape without `axis`, of dtype `index_dtype`.

    Raises:
      TypeError: when `axis` is out of range.
      ValueError: when the axis is empty.

    Example:
      >>> lax.argmax(fnp.array([[1.0, 3.0, 2.0], [5.0, 0.0, 5.0]]), 1, np.int32).tolist()
      [1, 0]
    """
    return argmax_p.bind(operand, axes=(int(axis),), index_dtype=dtypes.canonicalize(index_dtype))


def argmin(operand, axis, index_dtype=dtypes.int32):
    """The index of the smallest entry of `operand` along `axis`, as jax.lax.argmin: the
    first one on ties, and the first NaN if there is one.

    Args:
      operand: an array.
      axis: the axis to search (non-negative), of non-zero size.
      index_dtype: the integer dtype of the result; int32 by default (jax requires it).

    Returns:
      An array of `operand`'s shape without `axis`, of dtype `index_dtype`.

    Raises:
      TypeError: when `axis` is out of range.
      ValueError: when the axis is empty.
    """
    return argmin_p.bind(operand, axes=(int(axis),), index_dtype=dtypes.canonicalize(index_dtype))


def cumsum(operand, axis=0, reverse=False):
    """The running sum of `operand` along `axis`, as jax.lax.cumsum.

    Args:
      operand: an array.
      axis: the axis to accumulate along (non-negative); 0 by default.
      reverse: accumulate from the last element to the first instead; False by default.

    Returns:
      An array of `operand`'s shape and dtype; element i combines elements 0..i (with
      `reverse`, elements i..n-1).

    Raises:
      TypeError: when `axis` is out of range (negative included).

    Example:
      >>> lax.cumsum(fnp.array([1, 2, 3])).tolist()
      [1, 3, 6]
      >>> lax.cumsum(fnp.array([1, 2, 3]), reverse=True).tolist()
      [6, 5, 3]
    """
    return cumsum_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cumprod(operand, axis=0, reverse=False):
    """The running product of `operand` along `axis`, as jax.lax.cumprod.

    Args:
      operand: an array.
      axis: the axis to accumulate along (non-negative); 0 by default.
      reverse: accumulate from the last element to the first instead; False by default.

    Returns:
      An array of `operand`'s shape and dtype; element i combines elements 0..i (with
      `reverse`, elements i..n-1).

    Raises:
      TypeError: when `axis` is out of range (negative included).
    """
    return cumprod_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cummax(operand, axis=0, reverse=False):
    """The running maximum of `operand` along `axis`, as jax.lax.cummax.

    Args:
      operand: an array.
      axis: the axis to accumulate along (non-negative); 0 by default.
      reverse: accumulate from the last element to the first instead; False by default.

    Returns:
      An array of `operand`'s shape and dtype; element i combines elements 0..i (with
      `reverse`, elements i..n-1).

    Raises:
      TypeError: when `axis` is out of range (negative included).
    """
    return cummax_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cummin(operand, axis=0, reverse=False):
    """The running minimum of `operand` along `axis`, as jax.lax.cummin.

    Args:
      operand: an array.
      axis: the axis to accumulate along (non-negative); 0 by default.
      reverse: accumulate from the last element to the first instead; False by default.

    Returns:
      An array of `operand`'s shape and dtype; element i combines elements 0..i (with
      `reverse`, elements i..n-1).

    Raises:
      TypeError: when `axis` is out of range (negative included).
    """
    return cummin_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def _window_params(
    x, window_dimensions, window_strides, padding, base_dilation=None, window_dilation=None
):
    n = len(window_dimensions)
    window_strides = tuple(map(int, window_strides or (1,) * n))
    base_dilation = tuple(map(int, base_dilation or (1,) * n))
    window_dilation = tuple(map(int, window_dilation or (1,) * n))
    if isinstance(padding, str):
        # 'SAME' is defined on the dilated input and window, as in jax.
        shape = [(d - 1) * b + 1 if d else 0 for d, b in zip(get_aval(x).shape, base_dilation)]
        window = [(w - 1) * r + 1 for w, r in zip(window_dimensions, window_dilation)]
        padding = padtype_to_pads(shape, window, window_strides, padding)
    return {
        "window_dimensions": tuple(map(int, window_dimensions)),
        "window_strides": window_strides,
        "padding": tuple((int(lo), int(hi)) for lo, hi in padding),
        "base_dilation": base_dilation,
        "window_dilation": window_dilation,
    }


def padtype_to_pads(in_shape, window_shape, window_strides, padding: str):
    """'SAME' or 'VALID' as explicit `(lo, hi)` pairs, as jax.lax.padtype_to_pads (XLA's
    and TensorFlow's definitions).

    Args:
      in_shape: the input's size along each windowed axis.
      window_shape: the (dilated) window's size along each axis.
      window_strides: the stride along each axis.
      padding: 'VALID' (no padding) or 'SAME' (enough padding for `ceil(size / stride)`
        outputs, the odd element after); case-insensitive.

    Returns:
      A tuple of one `(lo, hi)` pair of ints per axis (jax returns a list).

    Raises:
      ValueError: for any other padding string.

    Example:
      >>> lax.padtype_to_pads((5,), (3,), (2,), 'SAME')
      ((1, 1),)
    """
    padding = padding.upper()
    if padding == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if padding != "SAME":
        raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}")
    pads = []
    for d, w, s in zip(in_shape, window_shape, window_strides):
        out = -(-d // s)
        total = max((out - 1) * s + w - d, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _monoid_identity(kind, dtype):
    if kind == "add":
        return 0
    if dtypes.is_bool(dtype):
        return kind == "min"
    if dtypes.is_float(dtype):
        return -np.inf if kind == "max" else np.inf
    info = np.iinfo(dtype)
    return info.min if kind == "max" else info.max


def _check_init_value(init_value, kind, dtype):
    """The primitives pool from the monoid's identity; another init would change the
    result (XLA also pads with it), so refuse it rather than ignore it. -inf (+inf) also
    means the identity of max (min) on integers and booleans."""
    identity = _monoid_identity(kind, dtype)
    try:
        value = np.asarray(init_value)
    except TypeError as e:  # a traced value: it cannot be checked
        raise ValueError(
            f"reduce_window needs a concrete init_value ({identity} for "
            f"'{kind}'), got a traced one{where()}"
        ) from e
    accepted = {float(identity), {"add": 0.0, "max": -np.inf, "min": np.inf}[kind]}
    if value.shape != () or float(value) not in accepted:
        raise ValueError(
            f"reduce_window with '{kind}' supports only init_value={identity} "
            f"(the identity) for {dtype}, got {value!r}{where()}"
        )


def _computation_kind(computation):
    kinds = {
        "add": "add",
        "sum": "add",
        "max": "max",
        "min": "min",
        ew.add: "add",
        ew.max: "max",
        ew.min: "min",
    }
    try:
        kind = kinds.get(computation)
    except TypeError:  # unhashable
        kind = None
    if kind is None:
        raise ValueError(
            f"reduce_window computation must be 'add', 'max' or 'min' (or "
            f"lax.add / lax.max / lax.min), got {computation!r}"
        )
    return kind


def reduce_window(
    operand,
    init_value,
    computation,
    window_dimensions,
    window_strides=None,
    padding="VALID",
    base_dilation=None,
    window_dilation=None,
):
    """A reduction over sliding windows of `operand` (pooling), as jax.lax.reduce_window
    for the monoids XLA pools with: a sum, a maximum or a minimum.

    Args:
      operand: an array (one; jax also takes a pytree of them with a general computation).
      init_value: the identity of `computation`, a concrete scalar: 0 for a sum; -inf (or
        the dtype's lowest value) for a maximum; inf (or the highest value) for a minimum.
        It is also the value padding reads as. Any other value raises ValueError (jax would
        start every window from it).
      computation: 'add' (or 'sum'), 'max' or 'min', or lax.add, lax.max or lax.min.
      window_dimensions: the window's size along each axis.
      window_strides: the window's step along each axis; None means 1 everywhere.
      padding: 'VALID' (the default), 'SAME' (computed on the base-dilated input and the
        dilated window, as jax) or one `(lo, hi)` pair per axis.
      base_dilation: the input's dilation along each axis (None: 1s).
      window_dilation: the window's dilation along each axis (None: 1s).

    Returns:
      An array of `operand`'s dtype, of size
      `(padded dilated size - dilated window) // stride + 1` along each axis.

    Raises:
      ValueError: for another computation, or an init value that is not its identity or is
        traced.
      TypeError: when a per-axis parameter does not have one entry per axis.

    Example:
      >>> x = fnp.arange(1.0, 7.0).reshape(2, 3)
      >>> lax.reduce_window(x, -np.inf, lax.max, (1, 2), (1, 1), 'VALID').tolist()
      [[2.0, 3.0], [5.0, 6.0]]
      >>> lax.reduce_window(fnp.arange(1.0, 5.0), 0.0, lax.add, (2,), (2,)).tolist()
      [3.0, 7.0]
    """
    kind = _computation_kind(computation)
    _check_init_value(init_value, kind, get_aval(operand).dtype)
    prim = {"add": reduce_window_sum_p, "max": reduce_window_max_p, "min": reduce_window_min_p}[
        kind
    ]
    params = _window_params(
        operand, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )
    return prim.bind(operand, **params)


_REDUCERS = {
    "add": reduce_sum,
    "mul": reduce_prod,
    "max": reduce_max,
    "min": reduce_min,
    "and": reduce_and,
    "or": reduce_or,
}


def reduce(operands, init_values, computation, dimensions):
    """A reduction of one operand over `dimensions` with a monoid funcnet reduces with, as
    jax.lax.reduce for that case. (jax's variadic form, several operands under one custom
    computation, has no funcnet primitive.)

    Args:
      operands: one array, or a pytree holding exactly one array.
      init_values: the identity of `computation` for the operand's dtype, a concrete scalar
        (or a pytree holding one): 0 for add and or; 1 for mul; -inf or the lowest value
        for max; inf or the highest value for min; True, or -1 (all bits set), for and.
      computation: lax.add, lax.mul, lax.max, lax.min, lax.bitwise_and or lax.bitwise_or,
        or one of the names 'add' ('sum'), 'mul', 'max', 'min', 'and', 'or'. On booleans
        max and min reduce as or and and.
      dimensions: the axes to reduce (distinct, non-negative).

    Returns:
      The reduced array (the operand's dtype, without `dimensions`), in the pytree
      structure of `operands`.

    Raises:
      NotImplementedError: for more than one operand.
      ValueError: for another computation, or an init value that is not its identity.
      TypeError: for bitwise and / or on a floating-point operand.

    Example:
      >>> lax.reduce(fnp.arange(6.0).reshape(2, 3), 0.0, lax.add, (0,)).tolist()
      [3.0, 5.0, 7.0]
    """
    leaves, treedef = tree.tree_flatten(operands)
    inits = tree.tree_leaves(init_values)
    if len(leaves) != 1 or len(inits) != 1:
        raise NotImplementedError(
            f"reduce of {len(leaves)} operands under one computation (jax's variadic "
            f"reduce) is not supported: reduce each operand with its own monoid{where()}"
        )
    (x,), (init,) = leaves, inits
    kind = _reduce_kind(computation)
    dtype = get_aval(x).dtype
    _check_reduce_init(init, kind, dtype)
    if kind in ("and", "or") and not (dtypes.is_bool(dtype) or dtypes.is_int(dtype)):
        raise TypeError(
            f"reduce with bitwise_{kind} takes bool or integer operands, got {dtype}{where()}"
        )
    if dtypes.is_bool(dtype):  # max/min of booleans are or/and
        kind = {"max": "or", "min": "and"}.get(kind, kind)
    return tree.tree_unflatten(treedef, [_REDUCERS[kind](x, dimensions)])


def _reduce_kind(computation):
    kinds = {
        "add": "add",
        "sum": "add",
        "mul": "mul",
        "max": "max",
        "min": "min",
        "and": "and",
        "or": "or",
        ew.add: "add",
        ew.mul: "mul",
        ew.max: "max",
        ew.min: "min",
        ew.bitwise_and: "and",
        ew.bitwise_or: "or",
    }
    try:
        kind = kinds.get(computation)
    except TypeError:  # unhashable
        kind = None
    if kind is None:
        raise ValueError(
            f"reduce computation must be one of lax.add, lax.mul, lax.max, "
            f"lax.min, lax.bitwise_and, lax.bitwise_or, got {computation!r}"
        )
    return kind


def _check_reduce_init(init_value, kind, dtype):
    """The primitives start from the monoid's identity; another init value would change
    the result, so it is refused rather than ignored."""
    try:
        value = np.asarray(init_value)
    except TypeError as e:
        raise ValueError(f"reduce needs concrete init values{where()}") from e
    if kind in ("add", "or"):
        ok = not np.any(value)
    elif kind == "mul":
        ok = value == 1
    elif kind == "and":
        ok = (
            bool(np.all(value))
            if dtypes.is_bool(dtype)
            else int(value) == -1
            or (dtypes.is_unsigned(dtype) and int(value) == np.iinfo(dtype).max)
        )
    else:
        ok = float(value) in {
            float(_monoid_identity(kind, dtype)),
            -np.inf if kind == "max" else np.inf,
        }
    if value.shape != () or not ok:
        raise ValueError(
            f"reduce with '{kind}' supports only its identity as init value "
            f"for {dtype}, got {value!r}{where()}"
        )


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """`operand` sorted in ascending order along `dimension`, as jax.lax.sort. Floats sort
    in a total order: -0.0 ties with 0.0 and NaNs come last.

    Args:
      operand: an array, or a sequence of arrays of one shape sorted together: the first
        `num_keys` are the keys (compared in order, the later ones breaking ties), and
        every array is permuted as the keys are.
      dimension: the axis to sort along; -1 (the last) by default, negative ones counting
        from the end.
      is_stable: keep equal keys in their original order; True by default.
      num_keys: how many leading arrays of `operand` are keys; 1 by default.

    Returns:
      The sorted array, or for a sequence a tuple of the sorted arrays (shapes and dtypes
      unchanged).

    Raises:
      TypeError: when the arrays differ in shape or `num_keys` is out of range.

    Example:
      >>> lax.sort(fnp.array([3.0, np.nan, 1.0, 2.0])).tolist()
      [1.0, 2.0, 3.0, nan]
      >>> keys, vals = lax.sort((fnp.array([2, 1, 2]), fnp.array([3, 5, 1])), num_keys=2)
      >>> keys.tolist(), vals.tolist()
      ([1, 2, 2], [5, 1, 3])
    """
    single = not isinstance(operand, (tuple, list))
    ops = [operand] if single else list(operand)
    ndim = len(ops[0].shape)
    dimension = dimension % ndim if ndim else 0
    out = sort_p.bind(
        *ops, dimension=int(dimension), is_stable=bool(is_stable), num_keys=int(num_keys)
    )
    return out[0] if single else tuple(out)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """`keys` sorted along `dimension`, with `values` permuted alike, as
    jax.lax.sort_key_val.

    Args:
      keys: an array, the sort keys.
      values: an array of `keys`' shape.
      dimension: the axis to sort along; -1 (the last) by default.
      is_stable: keep equal keys in their original order; True by default.

    Returns:
      A tuple `(sorted keys, values in the keys' order)`.

    Example:
      >>> k, v = lax.sort_key_val(fnp.array([3, 1, 2]), fnp.array([10.0, 20.0, 30.0]))
      >>> k.tolist(), v.tolist()
      ([1, 2, 3], [20.0, 30.0, 10.0])
    """
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
