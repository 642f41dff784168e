"""funcnet.numpy behaves as jax.numpy where a JAX user's code touches it: signatures and
keyword arguments, refused Python lists, NumPy's functions on funcnet arrays, item
assignment, dtype scalar types, out-of-bounds indexing (values and gradients), einsum,
split/pad, empty reductions, logsumexp, convolve and device placement.

The reference is jax (values, dtypes, error types), run with its x64 mode off.
"""

import inspect

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from numpy_extra_samples import EXTRA_SAMPLES, NOT_COMPARED

import funcnet as fn
import funcnet.numpy as fnp

assert not jax.config.jax_enable_x64

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3)).astype(np.float32)
B = RNG.standard_normal((2, 3)).astype(np.float32)
M = RNG.standard_normal((3, 3)).astype(np.float32)
V = RNG.standard_normal(5).astype(np.float32)
W = RNG.standard_normal(3).astype(np.float32)
INTS = np.array([2, 0, 1], np.int32)
INTS2 = np.array([[0, 2, 1], [1, 1, 0]], np.int32)


def assert_same(out, ref, what=""):
    """out (funcnet) equals ref (jax) in structure, shape, dtype and value."""
    out_leaves, out_tree = jax.tree_util.tree_flatten(out)
    ref_leaves, ref_tree = jax.tree_util.tree_flatten(ref)
    assert out_tree == ref_tree, (what, out_tree, ref_tree)
    for o, r in zip(out_leaves, ref_leaves):
        if not hasattr(r, "dtype"):
            assert o == r, (what, o, r)
            continue
        o, r = np.asarray(o), np.asarray(r)
        assert (o.shape, o.dtype) == (r.shape, r.dtype), (what, o.shape, o.dtype, r.shape, r.dtype)
        if o.dtype.kind == "f" or o.dtype == ml_dtypes.bfloat16:
            np.testing.assert_allclose(
                o.astype(np.float64), r.astype(np.float64), rtol=1e-5, atol=1e-6, err_msg=str(what)
            )
        else:
            np.testing.assert_array_equal(o, r, err_msg=str(what))


# --- signatures and keyword arguments ------------------------------------------------------

# Each public function with arguments for a call: jax's parameters that may be passed by
# keyword are passed by keyword (from inspect.signature of the jax.numpy function).
SAMPLES = {
    "abs": (A,),
    "absolute": (A,),
    "add": (A, B),
    "subtract": (A, B),
    "multiply": (A, B),
    "divide": (A, B),
    "true_divide": (A, B),
    "floor_divide": (A, B),
    "remainder": (A, B),
    "mod": (A, B),
    "fmod": (A, B),
    "power": (np.abs(A), B),
    "maximum": (A, B),
    "minimum": (A, B),
    "arctan2": (A, B),
    "equal": (A, B),
    "not_equal": (A, B),
    "less": (A, B),
    "less_equal": (A, B),
    "greater": (A, B),
    "greater_equal": (A, B),
    "bitwise_and": (INTS, INTS),
    "bitwise_or": (INTS, INTS),
    "bitwise_xor": (INTS, INTS),
    "bitwise_not": (INTS,),
    "invert": (INTS,),
    "logical_and": (A, B),
    "logical_or": (A, B),
    "logical_xor": (A, B),
    "logical_not": (A,),
    "negative": (A,),
    "sign": (A,),
    "square": (A,),
    "exp": (A,),
    "exp2": (A,),
    "log": (np.abs(A),),
    "log1p": (np.abs(A),),
    "log2": (np.abs(A),),
    "log10": (np.abs(A),),
    "expm1": (A,),
    "sqrt": (np.abs(A),),
    "cbrt": (A,),
    "tanh": (A,),
    "sin": (A,),
    "cos": (A,),
    "tan": (A,),
    "arcsin": (A / 10,),
    "arccos": (A / 10,),
    "arctan": (A,),
    "sinh": (A,),
    "cosh": (A,),
    "arcsinh": (A,),
    "arccosh": (np.abs(A) + 1,),
    "arctanh": (A / 10,),
    "floor": (A,),
    "ceil": (A,),
    "trunc": (A,),
    "round": (A, 1),
    "around": (A, 1),
    "isfinite": (A,),
    "isnan": (A,),
    "isinf": (A,),
    "clip": (A, -0.5, 0.5),
    "where": (A > 0, A, B),
    "isclose": (A, B),
    "allclose": (A, A),
    "sum": (A, 1),
    "prod": (A, 1),
    "max": (A, 1),
    "min": (A, 1),
    "amax": (A, 1),
    "amin": (A, 1),
    "mean": (A, 1),
    "var": (A, 1),
    "std": (A, 1),
    "all": (A, 1),
    "any": (A, 1),
    "argmax": (A, 1),
    "argmin": (A, 1),
    "cumsum": (A, 1),
    "cumprod": (A, 1),
    "sort": (A, 1),
    "argsort": (A, 1),
    "take": (A, INTS, 1),
    "take_along_axis": (A, INTS2, 1),
    "nonzero": (INTS,),
    "flatnonzero": (INTS,),
    "argwhere": (INTS2,),
    "reshape": (A, (3, 2)),
    "ravel": (A,),
    "transpose": (A, (1, 0)),
    "swapaxes": (A, 0, 1),
    "moveaxis": (A, 0, 1),
    "expand_dims": (A, 1),
    "squeeze": (A[None], 0),
    "flip": (A, 1),
    "fliplr": (A,),
    "flipud": (A,),
    "roll": (A, 1, 1),
    "tile": (A, (2, 1)),
    "repeat": (A, 2, 1),
    "pad": (A, 1),
    "concatenate": ((A, B), 1),
    "stack": ((A, B), 1),
    "hstack": ((A, B),),
    "vstack": ((A, B),),
    "dstack": ((A, B),),
    "column_stack": ((V, V),),
    "split": (A, 3, 1),
    "array_split": (A, 2, 1),
    "atleast_1d": (W,),
    "atleast_2d": (W,),
    "atleast_3d": (W,),
    "broadcast_to": (W, (2, 3)),
    "broadcast_arrays": (A, W),
    "broadcast_shapes": ((2, 1), (3,)),
    "matmul": (A, M),
    "dot": (A, M),
    "tensordot": (A, M, 1),
    "inner": (A, B),
    "outer": (V, W),
    "vdot": (A, B),
    "einsum": ("ij,jk->ik", A, M),
    "convolve": (V, W),
    "correlate": (V, W),
    "zeros": ((2, 3), np.int32),
    "ones": ((2, 3), np.int32),
    "empty": ((2,), np.float32),
    "full": ((2, 3), 1.5),
    "zeros_like": (A,),
    "ones_like": (A,),
    "empty_like": (A,),
    "full_like": (A, 2.0),
    "arange": (1, 7, 2),
    "linspace": (0.0, 1.0, 5),
    "eye": (3, 4, 1),
    "identity": (3,),
    "tri": (3, 4, 1),
    "tril": (M, -1),
    "triu": (M, 1),
    "asarray": (A,),
    "array": (A,),
    "astype": (A, np.int32),
    "shape": (A,),
    "ndim": (A,),
    "size": (A,),
    "result_type": (A, INTS),
    "issubdtype": (np.float32, np.floating),
    "isdtype": (np.float32, "real floating"),
    "promote_types": (np.int8, np.uint8),
    "can_cast": (np.int8, np.int32),
    "finfo": (np.float32,),
    "iinfo": (np.int8,),
}
SAMPLES.update(EXTRA_SAMPLES)  # the functions added for namespace parity (issue 13)
# Names jax.numpy does not have (or has under another module), checked elsewhere; and
# those whose results are not comparable values (NOT_COMPARED in numpy_extra_samples).
NOT_IN_JNP = {"rsqrt", "logsumexp"} | NOT_COMPARED
# jax parameters funcnet does not take: sharding placement.
IGNORED_PARAMS = {"out_sharding", "_dot_general"}
# jnp.array(object, dtype, *args, copy=...): *args takes copy/order/ndmin positionally
# (legacy); funcnet's array has them as ordinary positional parameters.
LEGACY_VARARGS = {"array"}


def _public_functions():
    names = []
    for name in sorted(dir(fnp)):
        obj = getattr(fnp, name)
        if name.startswith("_") or isinstance(obj, type) or not callable(obj):
            continue
        if name in NOT_IN_JNP or not callable(getattr(jnp, name, None)):
            continue
        names.append(name)
    return names


def _signature(f):
    try:
        return inspect.signature(f)
    except (TypeError, ValueError):
        return None


def test_every_public_function_has_a_keyword_sample():
    missing = [n for n in _public_functions() if n not in SAMPLES]
    assert not missing, f"add these to SAMPLES: {missing}"


@pytest.mark.parametrize("name", _public_functions())
def test_signature_matches_jax(name):
    """jax's parameters exist in funcnet's signature with a compatible kind: the same
    positional order, and every name jax lets a caller pass by keyword."""
    jsig, fsig = _signature(getattr(jnp, name)), _signature(getattr(fnp, name))
    if jsig is None or fsig is None:  # a builtin (np.can_cast): nothing to compare
        return
    fparams = fsig.parameters
    P = inspect.Parameter
    jfun = getattr(jnp, name)
    if isinstance(jfun, jnp.ufunc):  # jnp.add & co: (x1, x2, /, *, out, where)
        assert all(p.kind == P.POSITIONAL_ONLY for p in list(fparams.values())[: jfun.nin]), (
            name,
            fsig,
        )
        assert {"out", "where"} <= set(fparams), name
        return
    fpositional = [
        p.name for p in fparams.values() if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
    ]
    jpositional = [
        p.name
        for p in jsig.parameters.values()
        if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
    ]
    for k, p in enumerate(jsig.parameters.values()):
        if p.name in IGNORED_PARAMS:
            continue
        if p.kind == P.VAR_POSITIONAL:
            assert name in LEGACY_VARARGS or any(
                q.kind == P.VAR_POSITIONAL for q in fparams.values()
            ), (name, p.name)
        elif p.kind == P.POSITIONAL_ONLY:
            assert len(fpositional) > k, (name, p.name, fsig)
        elif p.kind == P.POSITIONAL_OR_KEYWORD:
            assert fpositional[: k + 1] == jpositional[: k + 1], (name, fsig, jsig)
            assert fparams[p.name].kind == P.POSITIONAL_OR_KEYWORD, (name, p.name)
        elif p.kind == P.KEYWORD_ONLY:
            assert p.name in fparams and fparams[p.name].kind in (
                P.KEYWORD_ONLY,
                P.POSITIONAL_OR_KEYWORD,
            ), (name, p.name, fsig)


def test_logsumexp_signature_matches_jax_nn():
    """fnp.logsumexp is jax.nn.logsumexp's (jax.numpy has none)."""
    names = list(inspect.signature(jax.nn.logsumexp).parameters)
    assert list(inspect.signature(fnp.logsumexp).parameters) == names


def _by_keyword(f, args):
    """args bound to f's signature: every parameter that may be passed by keyword is."""
    sig = _signature(f)
    if sig is None:
        return args, {}
    bound = sig.bind(*args)
    positional, keywords = [], {}
    for pname, value in bound.arguments.items():
        kind = sig.parameters[pname].kind
        if kind == inspect.Parameter.POSITIONAL_ONLY:
            positional.append(value)
        elif kind == inspect.Parameter.VAR_POSITIONAL:
            positional.extend(value)
        else:
            keywords[pname] = value
    return positional, keywords


def _to_fnp(v):
    if isinstance(v, np.ndarray):
        return fnp.asarray(v)
    if isinstance(v, tuple) and any(isinstance(e, np.ndarray) for e in v):
        return tuple(map(_to_fnp, v))
    return v


def _comparable(out):
    """Machine-limit objects (finfo) compare by their fields; the rest as arrays."""
    if hasattr(out, "eps") or (hasattr(out, "bits") and not hasattr(out, "shape")):
        return (int(out.bits), float(out.max), float(out.min))
    return out


@pytest.mark.parametrize("name", _public_functions())
def test_called_with_keywords_like_jax(name):
    jfun, ffun = getattr(jnp, name), getattr(fnp, name)
    positional, keywords = _by_keyword(jfun, SAMPLES[name])
    ref = jfun(*positional, **keywords)
    out = ffun(*map(_to_fnp, positional), **{k: _to_fnp(v) for k, v in keywords.items()})
    if (
        isinstance(ref, (np.dtype, bool, int, tuple))
        and not hasattr(ref, "shape")
        and not (isinstance(ref, tuple) and ref and hasattr(ref[0], "shape"))
    ):
        assert out == ref or np.dtype(out) == np.dtype(ref), (name, out, ref)
        return
    if hasattr(ref, "bits"):
        assert _comparable(out) == _comparable(ref), name
        return
    assert_same(out, ref, name)


def _listify(v):
    """Every NumPy array argument as a Python list (inside tuples too)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple) and any(isinstance(e, np.ndarray) for e in v):
        return tuple(map(_listify, v))
    return v


LIST_CASES = [n for n in SAMPLES if any(isinstance(a, (np.ndarray, tuple)) for a in SAMPLES[n][:3])]


@pytest.mark.parametrize("name", LIST_CASES)
def test_python_lists_refused_where_jax_refuses_them(name):
    """jax.numpy refuses Python lists for array arguments (TypeError naming the
    argument's position); creation functions and sequence arguments take them."""
    if not hasattr(jnp, name) or name in NOT_IN_JNP:
        return
    args = tuple(map(_listify, SAMPLES[name]))
    try:
        getattr(jnp, name)(*args)
    except TypeError as e:
        with pytest.raises(TypeError) as info:
            getattr(fnp, name)(*args)
        if "requires ndarray or scalar arguments" in str(e):  # jax's check: same position
            assert "requires ndarray or scalar arguments" in str(info.value), info.value
            assert str(e).split(" at ")[-1] == str(info.value).split(" at ")[-1], (
                str(info.value),
                str(e),
            )
        return
    getattr(fnp, name)(*args)  # jax takes them: so does funcnet


def test_sum_of_a_list_raises_jax_type_error():
    with pytest.raises(
        TypeError,
        match=r"sum requires ndarray or scalar arguments, got "
        r"<class 'list'> at position 0\.",
    ):
        fnp.sum([1, 2, 3])
    np.testing.assert_array_equal(fnp.sum(fnp.asarray([1, 2, 3])), 6)  # asarray takes lists


def test_where_keywords_are_positional_only_as_in_jax():
    """jnp.where's condition, x, y are positional-only: keywords raise Python's TypeError
    (not an obscure error from inside), as with jax."""
    c = fnp.ones(3) > 0
    for kwargs in ({"condition": c, "x": c, "y": c}, {"x": c, "y": c}):
        with pytest.raises(TypeError, match="positional-only"):
            fnp.where(**kwargs) if "condition" in kwargs else fnp.where(c, **kwargs)
        with pytest.raises(TypeError, match="positional-only"):
            jnp.where(**kwargs) if "condition" in kwargs else jnp.where(c, **kwargs)
    assert_same(fnp.where(c, fnp.ones(3), 0.0), jnp.where(jnp.ones(3) > 0, jnp.ones(3), 0.0))


def test_ufunc_out_and_where_arguments():
    x = fnp.ones(3)
    assert_same(fnp.add(x, x, out=None, where=None), jnp.add(jnp.ones(3), jnp.ones(3)))
    with pytest.raises(NotImplementedError, match="out"):
        fnp.add(x, x, out=x)
    with pytest.raises(NotImplementedError, match="where"):
        fnp.multiply(x, x, where=x > 0)
    with pytest.raises(NotImplementedError, match="out"):
        fnp.sum(x, out=x)


# --- operators, NumPy's functions, item assignment ---------------------------------------


def test_operators_refuse_lists_like_jax():
    x, jx = fnp.ones(2), jnp.ones(2)
    cases = [
        lambda a: a * [1.0, 2.0],
        lambda a: [1.0, 2.0] * a,
        lambda a: a + (1.0, 2.0),
        lambda a: (1.0, 2.0) + a,
        lambda a: a == [1.0],
        lambda a: a != (1.0,),
        lambda a: a - [1.0, 2.0],
        lambda a: a / [1.0, 2.0],
        lambda a: a @ [1.0, 2.0],
    ]
    for case in cases:
        with pytest.raises(TypeError) as ref:
            case(jx)
        with pytest.raises(TypeError) as out:
            case(x)
        assert "unsupported operand type(s)" in str(ref.value)
        assert "unsupported operand type(s)" in str(out.value), out


def test_list_argument_under_jit_gets_the_operator_error():
    """A list passed to a jitted function is a pytree of scalars; `x * lst` then fails as
    in jax (not with an error about np.asarray, which the user never called)."""
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \*"):
        fn.jit(lambda x, lst: x * lst)(fnp.ones(3), [1.0, 2.0, 3.0])


def test_operators_with_arrays_and_scalars_still_work():
    x = fnp.asarray(A)
    assert_same(
        (x * 2, 2 * x, x + np.float32(1), x - A, A - x, x @ M, x == A, x != 1),
        tuple(
            f(jnp.asarray(A))
            for f in (
                lambda a: a * 2,
                lambda a: 2 * a,
                lambda a: a + np.float32(1),
                lambda a: a - A,
                lambda a: A - a,
                lambda a: a @ M,
                lambda a: a == A,
                lambda a: a != 1,
            )
        ),
    )
    assert (x == "a") is False and (x is not None) is True  # Python's fallback, as with jax


NUMPY_CALLS = {
    "sum": lambda m, a: m.sum(a),
    "sum0": lambda m, a: m.sum(a, axis=0, keepdims=True),
    "mean": lambda m, a: m.mean(a, axis=0),
    "max": lambda m, a: m.max(a),
    "min": lambda m, a: m.min(a, axis=1),
    "prod": lambda m, a: m.prod(a),
    "std": lambda m, a: m.std(a, ddof=1),
    "var": lambda m, a: m.var(a, axis=0),
    "argmax": lambda m, a: m.argmax(a),
    "argmin": lambda m, a: m.argmin(a, axis=0),
    "cumsum": lambda m, a: m.cumsum(a, axis=1),
    "cumprod": lambda m, a: m.cumprod(a),
    "any": lambda m, a: m.any(a > 0),
    "all": lambda m, a: m.all(a > 0, axis=0),
    "round": lambda m, a: m.round(a, 1),
    "clip": lambda m, a: m.clip(a, -0.5, 0.5),
    "transpose": lambda m, a: m.transpose(a),
    "reshape": lambda m, a: m.reshape(a, (3, 2)),
    "squeeze": lambda m, a: m.squeeze(a[None]),
    "swapaxes": lambda m, a: m.swapaxes(a, 0, 1),
    "repeat": lambda m, a: m.repeat(a, 2, axis=0),
    "nonzero": lambda m, a: m.nonzero(a > 0),
}


@pytest.mark.parametrize("name", sorted(NUMPY_CALLS))
def test_numpy_functions_on_funcnet_arrays(name):
    """NumPy's functions call the array's methods with NumPy's keywords (out=None, ...):
    they work on funcnet arrays and return funcnet arrays, as on jax arrays."""
    call = NUMPY_CALLS[name]
    out = call(np, fnp.asarray(A))
    assert isinstance(jax.tree_util.tree_leaves(out)[0], fn.Array), type(out)
    assert_same(out, call(np, jnp.asarray(A)), name)


def test_numpy_out_argument_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="'out' argument to sum"):
        np.sum(fnp.ones(3), out=np.zeros(()))


@pytest.mark.parametrize("where", ["eager", "jit", "grad"])
def test_item_assignment_points_at_at_set(where):
    def f(x):
        x[0] = 1.0
        return x.sum()

    run = {"eager": f, "jit": fn.jit(f), "grad": fn.grad(f)}[where]
    with pytest.raises(TypeError, match=r"immutable.*x = x\.at\[idx\]\.set\(y\)"):
        run(fnp.ones(3))


# --- dtype names as scalar types -----------------------------------------------------------

SCALAR_TYPES = [
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bfloat16",
    "float16",
    "float32",
    "float64",
]


@pytest.mark.parametrize("name", SCALAR_TYPES)
def test_dtype_names_are_callable_scalar_types(name):
    ft, jt = getattr(fnp, name), getattr(jnp, name)
    for value in (3.0, 1, True, np.float64(2.5)):
        if name == "bool_" or not isinstance(value, bool):
            assert_same(ft(value), jt(value), (name, value))
            assert not ft(value).weak_type
    assert_same(ft(fnp.asarray(A)), jt(jnp.asarray(A)), name)  # converts an Array
    assert_same(fn.jit(lambda a: ft(a))(A), jt(A), name)  # and a tracer
    assert np.dtype(ft) == np.dtype(jt)
    assert fnp.dtype(ft) == np.dtype(jt)
    assert ft == np.dtype(jt) and np.dtype(jt) == ft and ft == jt.dtype.type
    assert hash(ft) == hash(jt)
    assert fnp.zeros(2, ft).dtype == jnp.zeros(2, jt).dtype
    assert fnp.ones(2).astype(ft).dtype == jnp.ones(2).astype(jt).dtype
    assert fnp.asarray(A, dtype=ft).dtype == jnp.asarray(A, dtype=jt).dtype
    assert fn.dtypes.canonicalize(ft) == jnp.zeros((), jt).dtype
    assert {np.dtype(jt).type: name}[ft] == name  # a dict key, like NumPy's scalar type


def test_dtype_helpers_match_jax():
    f32, bf16, i8 = fnp.float32, fnp.bfloat16, fnp.int8
    x = fnp.ones(2, bf16)
    assert fnp.ones(3).dtype == fnp.float32 and fnp.float32 == fnp.ones(3).dtype
    assert fnp.bool is fnp.bool_ and fnp.dtype is np.dtype
    for a in (f32, bf16, i8, fnp.uint8, fnp.bool_, x.dtype, "float16"):
        for b in (
            fnp.floating,
            fnp.integer,
            fnp.number,
            fnp.inexact,
            fnp.signedinteger,
            fnp.unsignedinteger,
            fnp.generic,
            f32,
            np.bool_,
        ):
            assert fnp.issubdtype(a, b) == jnp.issubdtype(a, b), (a, b)
    assert fnp.finfo(bf16).eps == jnp.finfo(jnp.bfloat16).eps
    assert fnp.finfo(x).max == jnp.finfo(jnp.bfloat16).max
    assert fnp.iinfo(i8).min == -128 and fnp.iinfo(fnp.uint16).max == 65535
    assert fnp.promote_types(i8, fnp.uint8) == jnp.promote_types(jnp.int8, jnp.uint8)
    assert fnp.promote_types(bf16, fnp.float16) == jnp.promote_types(jnp.bfloat16, jnp.float16)
    assert fnp.can_cast(i8, fnp.int32) and not fnp.can_cast(f32, fnp.int32)
    assert isinstance(np.float32(1), fnp.float32) == isinstance(np.float32(1), jnp.float32)
    assert isinstance(fnp.ones(2), fnp.ndarray)
    assert fnp.result_type(f32, i8) == jnp.result_type(jnp.float32, jnp.int8)
    assert repr(fnp.float32) == "<class 'funcnet.numpy.float32'>"


def test_isinstance_ndarray_holds_for_tracers():
    seen = []
    fn.jit(lambda a: seen.append(isinstance(a, fnp.ndarray)) or a)(fnp.ones(2))
    assert seen == [True]


# --- out-of-bounds indexing, as jax -------------------------------------------------------


def same_as_jax(body, what=""):
    """body(numpy-module, transforms-module) gives the same values (or the same error
    type) with (fnp, fn) as with (jnp, jax)."""
    try:
        ref = body(jnp, jax)
    except Exception as e:
        with pytest.raises(type(e)):
            body(fnp, fn)
        return
    out = body(fnp, fn)
    out_leaves, ref_leaves = jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref)
    assert len(out_leaves) == len(ref_leaves), what
    for o, r in zip(out_leaves, ref_leaves):
        o, r = np.asarray(o), np.asarray(r)
        assert (o.shape, o.dtype) == (r.shape, r.dtype), (what, o.shape, o.dtype, r.shape, r.dtype)
        np.testing.assert_allclose(
            o.astype(np.float64), r.astype(np.float64), rtol=1e-6, equal_nan=True, err_msg=str(what)
        )


X10 = np.arange(10.0, dtype=np.float32)
X34 = np.arange(12.0, dtype=np.float32).reshape(3, 4)
OOB = np.array([11, 2, -11, -12, 9], np.int32)  # past the end, in range, wrapped-then-low
ROWS = np.array([5, -1, -7], np.int32)
GATHER_MODES = [None, "clip", "fill", "drop", "promise_in_bounds"]

READS = {
    "int": lambda m, x, y: x[11],
    "negative int": lambda m, x, y: x[-12],
    "array": lambda m, x, y: x[m.asarray(OOB)],
    "numpy array": lambda m, x, y: x[OOB],
    "0-d array": lambda m, x, y: x[m.asarray(np.int32(13))],
    "int and slice": lambda m, x, y: y[5, 1:3],
    "rows and slice": lambda m, x, y: y[ROWS, 1:],
    "rows and strided": lambda m, x, y: y[ROWS, ::2],
    "int and array": lambda m, x, y: y[7, OOB],
    "empty axis": lambda m, x, y: m.zeros(0)[0],
    "empty index": lambda m, x, y: m.zeros(0)[np.zeros(0, np.int32)],
    "True": lambda m, x, y: y[True, 1],
    "False": lambda m, x, y: y[:, False],
    "list in tuple": lambda m, x, y: y[(0, [1, 2])],
    "list": lambda m, x, y: y[[0, 1]],
    "float": lambda m, x, y: x[1.0],
}


@pytest.mark.parametrize("name", sorted(READS))
def test_out_of_bounds_reads_as_jax(name):
    same_as_jax(lambda m, t: READS[name](m, m.asarray(X10), m.asarray(X34)), name)


@pytest.mark.parametrize("mode", GATHER_MODES)
def test_at_get_modes_as_jax(mode):
    cases = {
        "int": lambda m, x, y: x.at[11].get(mode=mode),
        "array": lambda m, x, y: x.at[m.asarray(OOB)].get(mode=mode),
        "fill value": lambda m, x, y: x.at[m.asarray(OOB)].get(mode=mode, fill_value=-3),
        "rows": lambda m, x, y: y.at[m.asarray(ROWS), 1:3].get(mode=mode),
        "2-d index": lambda m, x, y: y.at[1:, m.asarray(np.array([[5, -1], [0, 3]]))].get(
            mode=mode
        ),
        "int32": lambda m, x, y: m.arange(10).at[m.asarray(OOB)].get(mode=mode),
        "uint8": lambda m, x, y: m.arange(10, dtype=m.uint8).at[m.asarray(OOB)].get(mode=mode),
        "bool": lambda m, x, y: (m.arange(10) > 4).at[m.asarray(OOB)].get(mode=mode),
        "jit": lambda m, t: t.jit(lambda x, i: x.at[i].get(mode=mode))(m.asarray(X10), 11),
    }
    for what, case in cases.items():
        if what == "jit":
            same_as_jax(case, (mode, what))
        else:
            same_as_jax(
                lambda m, t, case=case: case(m, m.asarray(X10), m.asarray(X34)), (mode, what)
            )
    with pytest.raises(ValueError, match="mode"):
        fnp.ones(3).at[1].get(mode="bogus")


UPDATES = {  # (numpy module, 1-d x, 2-d y, update kind, mode) -> the updated array
    "array": lambda m, x, y, kind, mode: getattr(x.at[m.asarray(OOB)], kind)(
        m.asarray(np.arange(5.0, dtype=np.float32) + 20), mode=mode
    ),
    "int": lambda m, x, y, kind, mode: getattr(x.at[11], kind)(5.0, mode=mode),
    "negative int": lambda m, x, y, kind, mode: getattr(x.at[-12], kind)(5.0, mode=mode),
    "ellipsis": lambda m, x, y, kind, mode: getattr(y.at[..., 4], kind)(5.0, mode=mode),
    "rows": lambda m, x, y, kind, mode: getattr(y.at[m.asarray(ROWS), 1:3], kind)(7.0, mode=mode),
    "strided": lambda m, x, y, kind, mode: getattr(y.at[m.asarray(ROWS), ::2], kind)(
        7.0, mode=mode
    ),
}


@pytest.mark.parametrize("kind", ["set", "add", "multiply", "min", "max"])
def test_out_of_bounds_updates_as_jax(kind):
    for mode in [None, "clip", "fill", "drop", "promise_in_bounds"]:
        for what, case in UPDATES.items():
            same_as_jax(
                lambda m, t, case=case, mode=mode: case(
                    m, m.asarray(X10), m.asarray(X34), kind, mode
                ),
                (kind, mode, what),
            )


def test_issue_examples_out_of_bounds():
    assert_same(fnp.arange(10)[11], jnp.arange(10)[11])
    assert_same(fnp.arange(10).at[11].get(), jnp.arange(10).at[11].get())
    assert_same(fnp.zeros((2, 3)).at[..., 3].add(1.0), jnp.zeros((2, 3)).at[..., 3].add(1.0))
    with pytest.raises(ValueError, match="broadcast"):  # shapes are still checked
        fnp.zeros((3, 4)).at[5, 1:3].set(fnp.ones(5))


GRADS = {
    "int": lambda m: lambda x: x[11],
    "negative int": lambda m: lambda x: x[-12],
    "array (dropped)": lambda m: lambda x: x[m.asarray(OOB)].sum(),
    "numpy array": lambda m: lambda x: x[OOB].sum(),
    "0-d array": lambda m: lambda x: x[m.asarray(np.int32(13))],
    "at get": lambda m: lambda x: x.at[11].get(),
    "clip": lambda m: lambda x: x.at[m.asarray(OOB)].get(mode="clip").sum(),
    "fill": lambda m: lambda x: x.at[m.asarray(OOB)].get(mode="fill", fill_value=0.0).sum(),
    "fill int": lambda m: lambda x: x.at[11].get(mode="fill"),
    "take clip": lambda m: lambda x: m.take(x, m.asarray(OOB), mode="clip").sum(),
    "take fill": lambda m: lambda x: m.take(x, m.asarray(OOB), fill_value=0.0).sum(),
    "set": lambda m: lambda x: (x.at[m.asarray(OOB)].set(1.0) * 2).sum(),
    "set clip": lambda m: lambda x: (x.at[m.asarray(OOB)].set(1.0, mode="clip") * 2).sum(),
    "multiply": lambda m: lambda x: x.at[m.asarray(OOB)].multiply(3.0).sum(),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_out_of_bounds_gradients_as_jax(name):
    """A clamped read's gradient lands where jax puts it (on the element read for integer
    indices and clip mode; nowhere for an out-of-bounds entry of an index array)."""
    same_as_jax(lambda m, t: t.grad(GRADS[name](m))(m.asarray(X10)), name)


@pytest.mark.parametrize("kind", ["set", "add", "min", "max"])
def test_gradients_of_dropped_updates_as_jax(kind):
    updates = np.arange(5.0, dtype=np.float32) + 20
    modes = [None, "clip"] if kind != "max" else [None]  # jax's clip+max tie gives nan

    def grad_of_updates(m, t, mode):
        def loss(u):
            x = m.asarray(X10)
            return (getattr(x.at[m.asarray(OOB)], kind)(u, mode=mode) * x).sum()

        return t.grad(loss)(m.asarray(updates))

    for mode in modes:
        same_as_jax(lambda m, t, mode=mode: grad_of_updates(m, t, mode), (kind, mode))
    same_as_jax(
        lambda m, t: t.grad(
            lambda u: (getattr(m.asarray(X10).at[11], kind)(u) * m.asarray(X10)).sum()
        )(1.0),
        kind,
    )


def test_out_of_bounds_under_vmap_as_jax():
    idx = np.array([11, -12, 3], np.int32)
    same_as_jax(
        lambda m, t: t.vmap(t.grad(lambda x, i: x[i]), (None, 0))(m.asarray(X10), m.asarray(idx))
    )
    same_as_jax(
        lambda m, t: t.vmap(lambda x, i: x.at[i].get(mode="fill", fill_value=-1.0), (None, 0))(
            m.asarray(X10), m.asarray(idx)
        )
    )
    same_as_jax(
        lambda m, t: t.vmap(lambda x, i: x.at[i].add(1.0), (None, 0))(
            m.asarray(X10), m.asarray(idx)
        )
    )


@pytest.mark.parametrize("mode", [None, "clip", "fill", "wrap", "raise", "promise_in_bounds"])
def test_take_modes_as_jax(mode):
    same_as_jax(lambda m, t: m.take(m.asarray(X10), m.asarray(OOB), mode=mode), mode)
    same_as_jax(
        lambda m, t: m.take(
            m.asarray(X34), m.asarray(np.array([4, -5, 1])), axis=1, mode=mode, fill_value=7.0
        ),
        mode,
    )
    same_as_jax(
        lambda m, t: m.take_along_axis(
            m.asarray(X34), m.asarray(np.array([[4, -5, 1, 0]])), axis=0, mode=mode
        ),
        mode,
    )


def test_take_along_axis_options_as_jax():
    neg = np.array([[-1, 2, 1, 0]])
    for kw in (
        {"wrap_negative_indices": False},
        {"wrap_negative_indices": False, "mode": "clip"},
        {"mode": "promise_in_bounds"},
        {"mode": "fill", "fill_value": 5.0},
    ):
        same_as_jax(
            lambda m, t, kw=kw: m.take_along_axis(m.asarray(X34), m.asarray(neg), 0, **kw), kw
        )
    same_as_jax(
        lambda m, t: m.take_along_axis(m.asarray(X34), m.asarray(np.array([3, 20])), axis=None)
    )
    same_as_jax(
        lambda m, t: m.take_along_axis(m.asarray(X34), m.asarray(np.array([[1], [2], [0]])), axis=1)
    )


def test_basic_index_updates_are_unique_by_construction():
    """.at[basic index].multiply differentiates w.r.t. the updates (jax marks basic
    indices unique), also through strided slices and under jit."""
    same_as_jax(lambda m, t: t.grad(lambda y: m.ones(3).at[1:].multiply(y).sum())(m.full(2, 2.0)))
    same_as_jax(
        lambda m, t: t.jit(t.grad(lambda y: (m.arange(6.0).at[::2].multiply(y) ** 2).sum()))(
            m.full(3, 2.0)
        )
    )
    same_as_jax(lambda m, t: t.grad(lambda y: m.ones((2, 3)).at[1, 0].multiply(y))(2.0))
    with pytest.raises(NotImplementedError, match="unique_indices"):  # arrays: not unique
        fn.grad(lambda y: fnp.ones(3).at[fnp.asarray([0, 0])].multiply(y).sum())(fnp.ones(2))


def test_nonzero_and_at_divide_power_as_jax():
    same_as_jax(lambda m, t: m.nonzero(m.asarray(X34) > 5, size=4, fill_value=(-1, -2)))
    same_as_jax(lambda m, t: t.jit(lambda a: m.nonzero(a > 5, size=8))(m.asarray(X34)))
    same_as_jax(lambda m, t: m.argwhere(m.asarray(X34) > 5))
    same_as_jax(lambda m, t: m.flatnonzero(m.asarray(X34) > 5))
    same_as_jax(lambda m, t: m.asarray(X10).at[m.asarray(OOB)].divide(2.0))
    same_as_jax(lambda m, t: m.asarray(X10).at[m.asarray(OOB)].power(2.0))
    same_as_jax(lambda m, t: m.arange(10).at[m.asarray(OOB)].divide(2))


# --- einsum --------------------------------------------------------------------------------


def _r(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


EINSUMS = [
    ("...,...->...", [(3,), (2, 3)]),
    ("...,...->...", [(2, 3), (3,)]),
    ("...i,j...->...", [(4, 3), (5, 2, 4)]),
    ("i...,...->...", [(3, 1), (2, 1)]),
    ("i...", [(2, 3)]),
    ("...", [(2, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bA", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("lli->li", [(2, 2, 3)]),
    ("iii->i", [(3, 3, 3)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 4)]),
    ("i...i", [(3, 2, 3)]),
    ("ij,ij,ij->", [(2, 3)] * 3),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("i,j", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->", [(2, 3)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_as_jax(spec, shapes):
    ops = [_r(*s, seed=k) for k, s in enumerate(shapes)]
    same_as_jax(lambda m, t: m.einsum(spec, *map(m.asarray, ops)), spec)


def test_einsum_sublist_form_as_jax():
    a, b = _r(2, 3), _r(3, 4, seed=2)
    for args in (
        [a, [0, 1], [1, 0]],
        [a, [Ellipsis, 1], [1, Ellipsis]],
        [a, [0, 1], b, [1, 2]],
        [a, [0, 1], b, [1, 2], [2, 0]],
        [a, [0, 1], a, [2, 1], [0, 2]],
        [_r(3, 3), [5, 5], [5]],
    ):
        same_as_jax(
            lambda m, t, args=args: m.einsum(
                *[m.asarray(x) if isinstance(x, np.ndarray) else x for x in args]
            ),
            str(args[1:]),
        )


def test_einsum_diagonal_gradients_and_vmap_as_jax():
    x, y = _r(3, 3), _r(2, 2, 3, seed=3)
    for spec, op in [("ii->i", x), ("ii", x), ("lli->li", y), ("ij,jj->i", None)]:
        args = (op,) if op is not None else (x, x)
        for k in range(len(args)):
            same_as_jax(
                lambda m, t, args=args, k=k, spec=spec: t.grad(
                    lambda *a: (m.einsum(spec, *a) ** 2).sum(), argnums=k
                )(*map(m.asarray, args)),
                (spec, k),
            )
    same_as_jax(lambda m, t: t.vmap(lambda a: m.einsum("ii->i", a))(m.asarray(_r(4, 3, 3))))
    same_as_jax(
        lambda m, t: t.jit(t.vmap(t.grad(lambda a: m.einsum("ii", a) ** 2)))(m.asarray(_r(4, 3, 3)))
    )


def test_einsum_options_and_errors_as_jax():
    a, b = _r(2, 3), _r(3, 4, seed=2)
    i8 = np.arange(3, dtype=np.int8)
    same_as_jax(
        lambda m, t: m.einsum(
            "ij,jk->ik", m.asarray(a), m.asarray(b), optimize=False, precision="highest"
        )
    )
    same_as_jax(
        lambda m, t: m.einsum("i,i->", m.asarray(i8), m.asarray(i8), preferred_element_type=m.int32)
    )
    same_as_jax(lambda m, t: m.einsum("i,i", m.asarray(i8 > 0), m.asarray(i8 > 1)))
    for bad in [("ij,jk->ik", a, a), ("ij->ik", a), ("ij,jk", a), ("ijk", a)]:
        with pytest.raises(ValueError):
            fnp.einsum(bad[0], *map(fnp.asarray, bad[1:]))
    with pytest.raises(TypeError, match="requires ndarray"):
        fnp.einsum("i,i", [1.0, 2.0], [3.0, 4.0])


# --- split and pad ------------------------------------------------------------------------


def test_split_forms_as_numpy():
    """Index lists (with out-of-range and out-of-order points: empty pieces, as NumPy;
    jax refuses those), numbers of sections, arrays of points."""
    x = np.arange(24.0, dtype=np.float32).reshape(8, 3)
    fx = fnp.asarray(x)
    for fname, arg, axis in [
        ("array_split", [3, 5], 0),
        ("array_split", 3, 0),
        ("array_split", 10, 0),
        ("array_split", np.array([3, 5]), 0),
        ("array_split", fnp.asarray([1, 2]), 1),
        ("split", [3, 20], 0),
        ("split", [5, 3], 0),
        ("split", [-2], 0),
        ("split", [-20], 0),
        ("split", [], 0),
        ("split", (2,), 0),
        ("split", 4, 0),
        ("array_split", [1, 1], 1),
        ("split", 3, -1),
    ]:
        out = getattr(fnp, fname)(fx, arg, axis=axis)
        ref = getattr(np, fname)(x, np.asarray(arg), axis=axis)
        assert len(out) == len(ref), (fname, arg)
        for o, r in zip(out, ref):
            np.testing.assert_array_equal(np.asarray(o), r, err_msg=str((fname, arg)))
    with pytest.raises(ValueError, match="equal division"):
        fnp.split(fx, 3)
    with pytest.raises(ValueError, match="larger than 0"):
        fnp.array_split(fx, 0)
    pieces = fn.jit(lambda a: fnp.array_split(a, [3, 5]))(x)
    assert [p.shape for p in pieces] == [(3, 3), (2, 3), (3, 3)]


PAD_WIDTHS = [3, (3,), (1, 2), ((1, 2),), [[1, 2]], np.array([1, 2]), np.array(2), [(1, 2)]]
PAD_WIDTHS_2D = [
    1,
    (1,),
    (1, 2),
    ((1, 2),),
    ((1, 2), (0, 1)),
    ((1,), (2,)),
    [[1], [2]],
    np.array([[0, 1], [2, 0]]),
]


def test_pad_width_forms_as_numpy():
    v, m2 = np.arange(1.0, 4.0, dtype=np.float32), np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for x, widths in [(v, PAD_WIDTHS), (m2, PAD_WIDTHS_2D)]:
        for w in widths:
            np.testing.assert_array_equal(
                np.asarray(fnp.pad(fnp.asarray(x), w)), np.pad(x, w), err_msg=str(w)
            )
    for bad in [((1, 2), (3, 4)), -1, ((1,), (2,), (3,))]:
        with pytest.raises(ValueError):
            fnp.pad(fnp.asarray(v), bad)


PAD_MODES = [
    ("constant", {}),
    ("constant", {"constant_values": (7, 9)}),
    ("edge", {}),
    ("reflect", {}),
    ("reflect", {"reflect_type": "odd"}),
    ("symmetric", {}),
    ("symmetric", {"reflect_type": "odd"}),
    ("wrap", {}),
    ("linear_ramp", {}),
    ("linear_ramp", {"end_values": (5, -1)}),
    ("maximum", {}),
    ("minimum", {}),
    ("mean", {}),
    ("median", {}),
    ("mean", {"stat_length": ((1, 2),)}),
    ("maximum", {"stat_length": 2}),
    ("empty", {}),
]


@pytest.mark.parametrize("mode, kwargs", PAD_MODES, ids=[f"{m}-{k}" for m, k in PAD_MODES])
def test_pad_modes_as_jax(mode, kwargs):
    """Every mode jnp.pad has, on short and long pads (longer than the axis: reflections
    repeat) and on a 2-d array, eagerly and under jit."""
    y = np.array([1.0, 4.0, 2.0, 7.0], np.float32)
    z = _r(3, 4)
    for x, width in [(y, (2, 3)), (y, 9), (z, ((1, 2), (5, 0))), (np.arange(5), 2)]:
        if mode == "empty":  # jax leaves the pad unspecified; funcnet writes zeros
            out = fnp.pad(fnp.asarray(x), width, mode)
            assert out.shape == np.pad(x, width).shape
            continue
        same_as_jax(
            lambda m, t, width=width, x=x: m.pad(m.asarray(x), width, mode, **kwargs),
            (x.shape, width),
        )
    same_as_jax(lambda m, t: t.jit(lambda a: m.pad(a, 5, mode, **kwargs))(m.asarray(y)))


def test_pad_errors_and_gradients_as_jax():
    y = np.array([1.0, 4.0, 2.0], np.float32)
    same_as_jax(lambda m, t: m.pad(m.zeros(0), 1, mode="edge"))
    same_as_jax(lambda m, t: m.pad(m.asarray(y), 1, mode="edge", constant_values=3))
    same_as_jax(lambda m, t: m.pad(m.asarray(y), 1, mode="bogus"))
    for mode in ("reflect", "symmetric", "wrap", "edge", "linear_ramp", "mean"):
        same_as_jax(
            lambda m, t, mode=mode: t.grad(lambda a: (m.pad(a, (2, 5), mode) ** 2).sum())(
                m.asarray(y)
            ),
            mode,
        )


# --- reductions over size-zero axes, logsumexp ---------------------------------------------

REDUCTIONS = [
    "sum",
    "prod",
    "max",
    "min",
    "mean",
    "var",
    "std",
    "argmax",
    "argmin",
    "all",
    "any",
    "cumsum",
    "cumprod",
]


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_over_empty_axes_as_jax(name):
    """Identities where they exist (sum 0, prod 1, all True, any False; mean/var nan),
    ValueError where they do not (max, min, argmax without initial)."""
    for shape in [(0,), (0, 3), (3, 0)]:
        for axis in [None, 0, 1][: len(shape) + 1]:
            same_as_jax(
                lambda m, t, axis=axis, shape=shape: getattr(m, name)(m.zeros(shape), axis=axis),
                (name, shape, axis),
            )
    if name in ("max", "min"):
        same_as_jax(lambda m, t: getattr(m, name)(m.zeros((0, 3)), axis=0, initial=2.0))


def test_reduction_where_initial_and_dtype_options_as_jax():
    x, mask = np.arange(6.0, dtype=np.float32).reshape(2, 3), np.array([True, False, True])
    for name, kw in [
        ("sum", {"where": mask}),
        ("prod", {"where": mask, "axis": 1}),
        ("max", {"where": mask, "initial": -1.0}),
        ("max", {"where": mask}),
        ("min", {"where": mask, "initial": 9.0, "keepdims": True}),
        ("mean", {"where": mask}),
        ("mean", {"where": mask, "axis": 1}),
        ("var", {"where": mask, "ddof": 1}),
        ("std", {"where": mask}),
        ("all", {"where": mask}),
        ("any", {"where": ~mask, "axis": 0}),
        ("var", {"correction": 1}),
        ("var", {"mean": np.float32(1.0)}),
        ("sum", {"promote_integers": False}),
        ("argmax", {"keepdims": True, "axis": 1}),
    ]:
        for arr in (x, x.astype(np.int8)):
            same_as_jax(
                lambda m, t, arr=arr, kw=kw, name=name: getattr(m, name)(m.asarray(arr), **kw),
                (name, kw),
            )
    same_as_jax(lambda m, t: m.max(m.arange(3.0), where=m.zeros(3, bool), initial=5.0))
    same_as_jax(lambda m, t: m.mean(m.arange(4, dtype=m.int8), dtype=m.int32))


def test_logsumexp_as_jax():
    x = _r(2, 3)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    cases = [
        ((np.zeros((0, 1), np.float32),), {}),
        ((x,), {}),
        ((x,), {"axis": 1}),
        ((x,), {"axis": 0, "keepdims": True}),
        ((x,), {"b": b}),
        ((x,), {"b": b, "return_sign": True}),
        ((x,), {"b": np.abs(b), "axis": 1}),
        ((x,), {"where": np.array([True, False, True])}),
        ((np.array([-np.inf, -np.inf], np.float32),), {}),
        ((np.array([np.inf, 1.0], np.float32),), {}),
        ((np.arange(3),), {}),
        ((np.zeros((3, 0), np.float32),), {"axis": 1}),
    ]
    for args, kw in cases:
        kw = {k: (fnp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        jkw = {k: (np.asarray(v) if isinstance(v, fn.Array) else v) for k, v in kw.items()}
        assert_same(
            fnp.logsumexp(*map(fnp.asarray, args), **kw),
            jax.nn.logsumexp(*args, **jkw),
            (args[0].shape, kw),
        )
    assert_same(
        fn.grad(lambda a: fnp.logsumexp(a, b=fnp.asarray(np.abs(b))))(fnp.asarray(W)),
        jax.grad(lambda a: jax.nn.logsumexp(a, b=np.abs(b)))(W),
    )


# --- convolve, correlate -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_convolve_correlate_as_jax(name):
    def conv(m, a, v, mode):
        return getattr(m, name)(m.asarray(a), m.asarray(v), mode)

    def conv_grad(m, t, a, v, mode, argnums):
        def loss(p, q):
            return (getattr(m, name)(p, q, mode=mode) ** 2).sum()

        return t.grad(loss, argnums=argnums)(m.asarray(a), m.asarray(v))

    for na, nv in [(5, 3), (3, 5), (4, 4), (1, 3), (6, 1)]:
        a, v = _r(na), _r(nv, seed=4)
        for mode in ("full", "same", "valid"):
            same_as_jax(lambda m, t, a=a, v=v, mode=mode: conv(m, a, v, mode), (na, nv, mode))
            if na in (3, 5):  # gradients on the two orders of lengths
                for k in (0, 1):
                    same_as_jax(
                        lambda m, t, a=a, v=v, mode=mode, k=k: conv_grad(m, t, a, v, mode, k),
                        (na, nv, mode, k),
                    )
    ints = np.arange(4, dtype=np.int32)
    same_as_jax(lambda m, t: getattr(m, name)(m.asarray(ints), m.asarray(ints[:2])))
    same_as_jax(
        lambda m, t: getattr(m, name)(
            m.asarray(ints), m.asarray(ints[:2]), preferred_element_type=m.int32
        )
    )
    same_as_jax(lambda m, t: t.jit(getattr(m, name))(m.asarray(_r(5)), m.asarray(_r(2))))
    for bad in [(np.ones((2, 2)), np.ones(2)), (np.ones(0), np.ones(2))]:
        same_as_jax(lambda m, t, bad=bad: getattr(m, name)(*map(m.asarray, bad)))
    same_as_jax(lambda m, t: getattr(m, name)(m.ones(3), m.ones(2), mode="bogus"))


# --- device= -------------------------------------------------------------------------------

CREATION = {
    "zeros": lambda d: fnp.zeros((2, 3), device=d),
    "ones": lambda d: fnp.ones(2, device=d),
    "full": lambda d: fnp.full((2,), 3.0, device=d),
    "empty": lambda d: fnp.empty(2, device=d),
    "arange": lambda d: fnp.arange(5, device=d),
    "linspace": lambda d: fnp.linspace(0.0, 1.0, 4, device=d),
    "eye": lambda d: fnp.eye(3, device=d),
    "identity": lambda d: fnp.identity(2, device=d),
    "zeros_like": lambda d: fnp.zeros_like(fnp.ones(2), device=d),
    "ones_like": lambda d: fnp.ones_like(fnp.ones(2), device=d),
    "full_like": lambda d: fnp.full_like(fnp.ones(2), 7, device=d),
    "empty_like": lambda d: fnp.empty_like(fnp.ones(2), device=d),
    "array": lambda d: fnp.array([1.0, 2.0], device=d),
    "asarray": lambda d: fnp.asarray(np.ones(3), device=d),
    "asarray of an Array": lambda d: fnp.asarray(fnp.ones(3), device=d),
    "astype": lambda d: fnp.astype(fnp.ones(3), fnp.int32, device=d),
}


@pytest.mark.parametrize("name", sorted(CREATION))
def test_creation_functions_take_device(name):
    for device in fn.devices():
        out = CREATION[name](device)
        assert out.device == device, (name, out.device, device)
    ref = CREATION[name](None)
    np.testing.assert_array_equal(np.asarray(CREATION[name](fn.devices()[0])), np.asarray(ref))
