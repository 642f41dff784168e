"""The jax.numpy functions added for namespace parity (issue 13): values against jax
(and so NumPy), dtypes and weak types, in float32 and float64 (x64), eagerly and under
jit; derivatives with check_grads and against jax.grad; vmap against a loop; errors."""

import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet.test_util import check_grads

RNG = np.random.default_rng(0)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """float32 with x64 off, float64 with x64 on in funcnet and jax alike."""
    old_jax, old_fn = jax.config.jax_enable_x64, fn.config.enable_x64
    x64 = request.param == "float64"
    jax.config.update("jax_enable_x64", x64)
    fn.config.enable_x64 = x64
    try:
        yield np.dtype(request.param)
    finally:
        jax.config.update("jax_enable_x64", old_jax)
        fn.config.enable_x64 = old_fn


def _weak(x):
    return fn.typeof(x).weak_type if hasattr(x, "aval") else None


def assert_like_jax(got, want, rtol=None, atol=None, what=""):
    got_leaves = jax.tree_util.tree_leaves(got)
    want_leaves = jax.tree_util.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves), (what, got, want)
    for g, w in zip(got_leaves, want_leaves):
        if not hasattr(w, "dtype"):
            assert g == w, (what, g, w)
            continue
        w_np = np.asarray(w)
        g_np = np.asarray(g)
        assert g_np.shape == w_np.shape, (what, g_np.shape, w_np.shape)
        assert g_np.dtype == w_np.dtype, (what, g_np.dtype, w_np.dtype)
        if isinstance(w, jax.Array) and hasattr(g, "aval"):
            assert _weak(g) == w.aval.weak_type, (what, "weak type", _weak(g), w.aval.weak_type)
        if w_np.dtype.kind in "fc":
            eps = np.finfo(w_np.dtype).eps
            r = 50 * eps if rtol is None else rtol
            a = 50 * eps if atol is None else atol
            np.testing.assert_allclose(g_np, w_np, rtol=r, atol=a, err_msg=str(what))
        else:
            np.testing.assert_array_equal(g_np, w_np, err_msg=str(what))


def _data(dtype):
    x = RNG.standard_normal(7).astype(dtype)
    m = RNG.standard_normal((3, 4)).astype(dtype)
    sq = RNG.standard_normal((3, 3)).astype(dtype)
    pos = (RNG.random(6) + 0.5).astype(dtype)
    ints = np.array([3, -1, 4, 1, -5, 9, 2], np.int32)
    nans = np.array([1.0, np.nan, -2.0, 3.0, np.nan, 0.5], dtype)
    special = np.array([0.0, -0.0, 1.5, -2.5, np.inf, -np.inf, np.nan, -np.nan], dtype)
    return dict(x=x, m=m, sq=sq, pos=pos, ints=ints, nans=nans, special=special)


# (name, args from the data dict, kwargs). Strings name data entries; others pass as is.
CASES = [
    ("acos", ["unit"], {}),
    ("asinh", ["x"], {}),
    ("atan2", ["x", "x2"], {}),
    ("pow", ["pos", 1.5], {}),
    ("fabs", ["x"], {}),
    ("fabs", ["ints"], {}),
    ("positive", ["ints"], {}),
    ("reciprocal", ["pos"], {}),
    ("rint", ["special"], {}),
    ("rint", ["ints"], {}),
    ("signbit", ["special"], {}),
    ("copysign", ["x", "x2"], {}),
    ("hypot", ["x", "x2"], {}),
    ("hypot", [3.0, 4.0], {}),
    ("hypot", ["special", 1.0], {}),
    ("logaddexp", ["x", "x2"], {}),
    ("logaddexp", ["special", "special"], {}),
    ("logaddexp2", ["x", "x2"], {}),
    ("deg2rad", ["x"], {}),
    ("radians", [90.0], {}),
    ("rad2deg", ["x"], {}),
    ("degrees", ["ints"], {}),
    ("sinc", ["with_zero"], {}),
    ("heaviside", ["with_zero", 0.5], {}),
    ("fmax", ["nans", "nans_rev"], {}),
    ("fmin", ["nans", "nans_rev"], {}),
    ("fmax", ["ints", 0], {}),
    ("float_power", ["pos", "pos"], {}),
    ("divmod", ["ints", 3], {}),
    ("divmod", ["x", 0.7], {}),
    ("modf", ["special"], {}),
    ("frexp", ["special"], {}),
    ("frexp", ["x"], {}),
    ("ldexp", ["x", "small_ints"], {}),
    ("gcd", ["ints", 6], {}),
    ("lcm", ["ints", 6], {}),
    ("left_shift", ["ints", 2], {}),
    ("right_shift", ["ints", 1], {}),
    ("bitwise_left_shift", ["ints", 1], {}),
    ("bitwise_count", ["ints"], {}),
    ("bitwise_invert", ["ints"], {}),
    ("nextafter", ["x", 0.0], {}),
    ("spacing", ["x"], {}),
    ("isposinf", ["special"], {}),
    ("isneginf", ["special"], {}),
    ("nan_to_num", ["special"], {}),
    ("nan_to_num", ["special"], dict(nan=-1.0, posinf=9.0, neginf=-9.0)),
    ("i0", ["x"], {}),
    ("i0", ["big"], {}),
    ("unwrap", ["phase"], {}),
    # calculus
    ("diff", ["x"], {}),
    ("diff", ["m"], dict(n=2, axis=0)),
    ("diff", ["x"], dict(prepend=0.0, append="x")),
    ("ediff1d", ["m"], dict(to_begin=np.array([9.0], np.float32))),
    ("gradient", ["x"], {}),
    ("gradient", ["m"], {}),
    ("gradient", ["m", 0.5], dict(axis=1)),
    ("gradient", ["x", "xs"], {}),
    ("trapezoid", ["m"], {}),
    ("trapezoid", ["x"], dict(x="xs")),
    ("interp", ["xq", "xs", "x"], {}),
    ("interp", ["xq", "xs", "x"], dict(left=-1.0, right=1.0)),
    ("interp", ["xq", "xs", "x"], dict(period=2.0)),
    ("cov", ["m"], {}),
    ("cov", ["m"], dict(rowvar=False, ddof=0)),
    ("cov", ["m"], dict(aweights="pos4", fweights=np.array([1, 2, 1, 3]))),
    ("cov", ["x", "x2"], {}),
    ("corrcoef", ["m"], {}),
    # matrices
    ("diagonal", ["m"], {}),
    ("diagonal", ["m"], dict(offset=1)),
    ("diagonal", ["m"], dict(offset=-2)),
    ("diagonal", ["cube"], dict(axis1=2, axis2=0, offset=1)),
    ("trace", ["m"], {}),
    ("trace", ["cube"], dict(offset=-1, axis1=1, axis2=2)),
    ("trace", ["ints2"], {}),
    ("diag", ["x"], {}),
    ("diag", ["x"], dict(k=2)),
    ("diag", ["x"], dict(k=-1)),
    ("diag", ["m"], dict(k=1)),
    ("diagflat", ["m"], {}),
    ("kron", ["sq", "m"], {}),
    ("kron", ["x", "sq"], {}),
    ("cross", ["v3", "w3"], {}),
    ("cross", ["v3s", "w3s"], {}),
    ("cross", ["v3s", "w2s"], {}),
    ("cross", ["v2s", "w2s"], {}),
    ("cross", ["v3t", "w3t"], dict(axis=0)),
    ("vander", ["x"], dict(N=4)),
    ("vander", ["x"], dict(increasing=True)),
    ("rot90", ["m"], {}),
    ("rot90", ["m"], dict(k=2)),
    ("rot90", ["cube"], dict(k=-1, axes=(1, 2))),
    ("matrix_transpose", ["cube"], {}),
    ("matvec", ["m", "v4"], {}),
    ("vecmat", ["v3", "m"], {}),
    ("vecdot", ["m", "v4"], {}),
    # index tricks
    ("meshgrid", ["x", "v3"], {}),
    ("meshgrid", ["x", "v3", "v4"], dict(indexing="ij")),
    ("meshgrid", ["x", "v3"], dict(sparse=True)),
    ("indices", [(2, 3)], {}),
    ("indices", [(2, 3)], dict(sparse=True)),
    ("ix_", ["small_ints", "ints"], {}),
    ("diag_indices", [3], {}),
    ("diag_indices_from", ["sq"], {}),
    ("tril_indices", [3], {}),
    ("triu_indices", [3, 1, 4], {}),
    ("tril_indices_from", ["m"], dict(k=-1)),
    ("triu_indices_from", ["m"], {}),
    ("unravel_index", ["flat_idx", (3, 4)], {}),
    ("ravel_multi_index", [("rows", "cols"), (3, 4)], {}),
    ("ravel_multi_index", [("rows", "cols"), (3, 4)], dict(order="F")),
    # sorting and sets
    ("searchsorted", ["sorted", "x"], {}),
    ("searchsorted", ["sorted", "x"], dict(side="right")),
    ("searchsorted", ["sorted_dups", "dup_q"], dict(side="right")),
    ("searchsorted", ["sorted_dups", "dup_q"], {}),
    ("digitize", ["x", "bins"], {}),
    ("digitize", ["x", "bins"], dict(right=True)),
    ("digitize", ["x", "bins_desc"], {}),
    ("lexsort", [("dup_keys", "ints")], {}),
    ("partition", ["x", 3], {}),
    ("argpartition", ["x", 2], {}),
    ("unique", ["dup_ints"], {}),
    ("unique", ["dup_ints"], dict(return_index=True, return_inverse=True, return_counts=True)),
    ("unique", ["dup_ints"], dict(size=6, fill_value=-1)),
    ("unique", ["nans_dup"], {}),
    ("unique", ["dup_rows"], dict(axis=0)),
    ("unique_values", ["dup_ints"], {}),
    ("unique_counts", ["dup_ints"], {}),
    ("unique_inverse", ["dup_ints2"], {}),
    ("unique_all", ["dup_ints"], {}),
    ("union1d", ["dup_ints", "ints"], {}),
    ("intersect1d", ["dup_ints", "ints"], {}),
    ("intersect1d", ["dup_ints", "ints"], dict(return_indices=True)),
    ("setdiff1d", ["dup_ints", "ints"], {}),
    ("setdiff1d", ["dup_ints", "ints"], dict(size=5, fill_value=0)),
    ("setxor1d", ["dup_ints", "ints"], {}),
    ("isin", ["dup_ints", "ints"], {}),
    ("isin", ["dup_ints", "ints"], dict(invert=True)),
    ("bincount", ["dup_ints"], {}),
    ("bincount", ["dup_ints"], dict(weights="w_dup", minlength=12)),
    ("bincount", ["dup_ints"], dict(length=4)),
    # statistics
    ("nansum", ["nans"], {}),
    ("nanprod", ["nans"], {}),
    ("nanmax", ["nan_rows"], dict(axis=1)),
    ("nanmin", ["nan_rows"], dict(axis=0, keepdims=True)),
    ("nanargmax", ["nan_rows"], dict(axis=1)),
    ("nanargmin", ["nans"], {}),
    ("nanmean", ["nan_rows"], dict(axis=1)),
    ("nanvar", ["nan_rows"], dict(axis=1, ddof=1)),
    ("nanstd", ["nans"], {}),
    ("nancumsum", ["nans"], {}),
    ("nancumprod", ["nan_rows"], dict(axis=1)),
    ("median", ["m"], {}),
    ("median", ["m"], dict(axis=1, keepdims=True)),
    ("nanmedian", ["nan_rows"], dict(axis=1)),
    ("quantile", ["m", 0.3], {}),
    ("quantile", ["m", "qs"], dict(axis=0)),
    ("quantile", ["m", "qs"], dict(axis=1, method="lower")),
    ("quantile", ["m", 0.3], dict(axis=1, method="higher")),
    ("quantile", ["m", "qs"], dict(method="nearest")),
    ("quantile", ["m", "qs"], dict(method="midpoint", axis=(0, 1), keepdims=True)),
    ("quantile", ["nans", 0.5], {}),
    ("nanquantile", ["nan_rows", "qs"], dict(axis=1)),
    ("percentile", ["x", 40.0], {}),
    ("nanpercentile", ["nans", "pcts"], {}),
    ("average", ["m"], dict(axis=1)),
    ("average", ["m"], dict(axis=1, weights="v4", returned=True)),
    ("average", ["m"], dict(weights="m_pos")),
    ("count_nonzero", ["ints_z"], {}),
    ("count_nonzero", ["m"], dict(axis=0)),
    ("ptp", ["m"], dict(axis=1)),
    ("cumulative_sum", ["x"], {}),
    ("cumulative_sum", ["m"], dict(axis=1, include_initial=True)),
    ("cumulative_prod", ["ints"], dict(include_initial=True)),
    # editing
    ("append", ["x", "v3"], {}),
    ("append", ["m", "m"], dict(axis=0)),
    ("delete", ["x", 2], {}),
    ("delete", ["m", np.array([0, 2])], dict(axis=1)),
    ("delete", ["x", slice(1, 5, 2)], {}),
    ("insert", ["x", 2, 9.0], {}),
    ("insert", ["m", 1, 0.0], dict(axis=1)),
    ("insert", ["x", np.array([0, 3, 3]), "v3"], {}),
    ("insert", ["m", np.array([1]), "v4"], dict(axis=0)),
    ("resize", ["v3", (2, 4)], {}),
    ("select", [["c1", "c2"], ["x", "x2"]], dict(default=-1.0)),
    ("choose", ["choice_idx", ["v3", "w3", 0.0]], {}),
    ("choose", ["choice_big", ["v3", "w3"]], dict(mode="wrap")),
    ("choose", ["choice_big", ["v3", "w3"]], dict(mode="clip")),
    ("compress", ["cond4", "m"], dict(axis=1)),
    ("compress", ["cond4", "m"], dict(axis=1, size=3, fill_value=7.0)),
    ("extract", ["cond12", "m"], {}),
    ("place", ["x", "x_pos_mask", "v3"], dict(inplace=False)),
    ("put", ["m", np.array([0, 5, 11]), "v3"], dict(inplace=False)),
    ("put", ["m", np.array([0, 15]), "v3"], dict(inplace=False, mode="clip")),
    ("put_along_axis", ["m", "col_idx", 0.0], dict(axis=1, inplace=False)),
    ("hsplit", ["m", 2], {}),
    ("vsplit", ["m", [1]], {}),
    ("dsplit", ["cube", 2], {}),
    ("unstack", ["m"], dict(axis=1)),
    ("trim_zeros", ["zeros_pad"], {}),
    ("trim_zeros", ["zeros_pad"], dict(trim="b")),
    ("rollaxis", ["cube", 2], {}),
    ("rollaxis", ["cube", 0, 3], {}),
    ("copy", ["m"], {}),
    ("concat", [["m", "m"]], dict(axis=1)),
    ("permute_dims", ["cube"], dict(axes=(2, 0, 1))),
    ("array_equal", ["m", "m"], {}),
    ("array_equal", ["nans", "nans"], dict(equal_nan=True)),
    ("array_equal", ["m", "x"], {}),
    ("array_equiv", ["v3", "v3_tiled"], {}),
    # polynomials
    ("polyval", ["p3", "x"], {}),
    ("polyadd", ["p3", "v4"], {}),
    ("polysub", ["p3", "v4"], {}),
    ("polymul", ["p3", "v4"], {}),
    ("polydiv", ["v4", "p3"], {}),
    ("polyder", ["v4"], {}),
    ("polyder", ["v4"], dict(m=2)),
    ("polyint", ["p3"], {}),
    ("polyint", ["p3"], dict(m=2, k=1.0)),
    ("poly", ["p3"], {}),
    # windows
    ("bartlett", [6], {}),
    ("blackman", [5], {}),
    ("hamming", [7], {}),
    ("hanning", [1], {}),
    ("kaiser", [6, 3.0], {}),
    # histograms
    ("histogram", ["x"], {}),
    ("histogram", ["x"], dict(bins=4, range=(-1.0, 1.0), density=True)),
    ("histogram", ["x"], dict(bins="bins", weights="x2")),
    ("histogram_bin_edges", ["x"], dict(bins=3)),
    ("histogram2d", ["x", "x2"], dict(bins=3)),
    ("histogramdd", ["pts"], dict(bins=(2, 3))),
    # creation
    ("logspace", [0.0, 2.0, 5], {}),
    ("logspace", [0.0, 3.0, 4], dict(base=2.0, endpoint=False)),
    ("geomspace", [1.0, 1000.0, 4], {}),
    ("geomspace", [-1.0, -16.0, 5], {}),
    ("fromfunction", [lambda i, j: i * 10 + j, (2, 3)], {}),
]


def _named(dtype):
    d = _data(dtype)
    x = d["x"]
    d.update(
        x2=RNG.standard_normal(7).astype(dtype),
        unit=np.clip(x, -0.9, 0.9),
        with_zero=np.concatenate([x, np.zeros(1, dtype)]),
        nans_rev=d["nans"][::-1].copy(),
        small_ints=np.array([0, 1, -2, 3, 5, -7, 100], np.int32),
        big=np.array([0.0, 5.0, 9.5, 30.0, -12.0], dtype),
        phase=np.cumsum(RNG.uniform(0, 3, 9)).astype(dtype),
        xs=np.cumsum(RNG.uniform(0.2, 1.0, 7)).astype(dtype),
        xq=RNG.uniform(-1, 6, 9).astype(dtype),
        pos4=(RNG.random(4) + 0.5).astype(dtype),
        cube=RNG.standard_normal((2, 3, 4)).astype(dtype),
        ints2=np.arange(12, dtype=np.int32).reshape(3, 4),
        v3=RNG.standard_normal(3).astype(dtype),
        w3=RNG.standard_normal(3).astype(dtype),
        v4=RNG.standard_normal(4).astype(dtype),
        v3s=RNG.standard_normal((5, 3)).astype(dtype),
        w3s=RNG.standard_normal((5, 3)).astype(dtype),
        v2s=RNG.standard_normal((5, 2)).astype(dtype),
        w2s=RNG.standard_normal((5, 2)).astype(dtype),
        v3t=RNG.standard_normal((3, 2)).astype(dtype),
        w3t=RNG.standard_normal((3, 2)).astype(dtype),
        flat_idx=np.array([0, 5, 11, -1], np.int32),
        rows=np.array([0, 2, 1], np.int32),
        cols=np.array([3, 0, 1], np.int32),
        sorted=np.sort(RNG.standard_normal(8)).astype(dtype),
        sorted_dups=np.array([1, 2, 2, 2, 5, 7, 7], dtype),
        dup_q=np.array([0, 1, 2, 3, 7, 8, 2], dtype),
        bins=np.array([-1.0, 0.0, 0.5, 2.0], dtype),
        bins_desc=np.array([2.0, 0.5, 0.0, -1.0], dtype),
        dup_keys=np.array([1, 0, 1, 0, 1, 1, 0], np.int32),
        dup_ints=np.array([3, 1, 3, 7, 1, 1, 0, 9], np.int32),
        dup_ints2=np.array([[3, 1, 3], [7, 1, 1]], np.int32),
        w_dup=RNG.random(8).astype(dtype),
        nans_dup=np.array([2.0, np.nan, 1.0, np.nan, 2.0], dtype),
        dup_rows=np.array([[1, 2], [0, 1], [1, 2], [0, 0]], np.int32),
        nan_rows=np.array(
            [[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [4.0, 0.5, np.nan]], dtype
        ),
        qs=np.array([0.0, 0.25, 0.5, 0.9, 1.0], dtype),
        pcts=np.array([10.0, 50.0, 95.0], dtype),
        m_pos=(RNG.random((3, 4)) + 0.1).astype(dtype),
        ints_z=np.array([0, 3, 0, -1, 2], np.int32),
        c1=x > 0.5,
        c2=x < -0.5,
        choice_idx=np.array([0, 2, 1], np.int32),
        choice_big=np.array([0, 3, -1], np.int32),
        cond4=np.array([True, False, True, True]),
        cond12=(np.arange(12) % 3 == 0),
        x_pos_mask=x > 0,
        col_idx=np.array([[0], [3], [1]], np.int32),
        zeros_pad=np.array([0, 0, 1, 2, 0, 3, 0], dtype),
        v3_tiled=None,
        p3=RNG.standard_normal(3).astype(dtype),
        pts=RNG.standard_normal((20, 2)).astype(dtype),
    )
    d["v3_tiled"] = np.tile(d["v3"], (2, 1))
    return d


def _resolve(arg, named):
    if isinstance(arg, str) and arg in named:
        return named[arg]
    if isinstance(arg, (list, tuple)) and any(isinstance(a, str) for a in arg):
        return type(arg)(_resolve(a, named) for a in arg)
    return arg


# With x64, jax turns int32 into float32 for float functions, funcnet (_core._float_args,
# shared by every float ufunc) into float64: a known difference outside this file.
def _case_id(case):
    name, args, kwargs = case
    return f"{name}-{'-'.join(str(a)[:8] for a in args)}-{'-'.join(kwargs)}"


# Every case in float32; in float64 every third one. The x64 path runs the same code with
# the other dtype, and a third of the cases still reaches every promotion rule of the
# file (int, bool, weak scalars, mixed): the whole float64 half cost ~90 s of CPU time.
VALUE_CASES = [pytest.param(c, "float32", id=f"{_case_id(c)}-float32") for c in CASES] + [
    pytest.param(c, "float64", id=f"{_case_id(c)}-float64") for c in CASES[::3]
]


@pytest.mark.parametrize("case,dtype", VALUE_CASES, indirect=["dtype"])
def test_values_dtypes_weak_types_match_jax(case, dtype):
    name, args, kwargs = case
    named = _named(dtype)
    args = [_resolve(a, named) for a in args]
    kwargs = {k: _resolve(v, named) for k, v in kwargs.items()}
    want = getattr(jnp, name)(*args, **kwargs)
    got = getattr(fnp, name)(*args, **kwargs)
    assert_like_jax(got, want, what=name)


# A representative subset under jit: static arguments are closed over.
JIT_CASES = [
    ("hypot", lambda a, b: fnp.hypot(a, b), lambda a, b: jnp.hypot(a, b)),
    ("logaddexp", lambda a, b: fnp.logaddexp(a, b), lambda a, b: jnp.logaddexp(a, b)),
    ("sinc", lambda a, b: fnp.sinc(a), lambda a, b: jnp.sinc(a)),
    ("frexp", lambda a, b: fnp.frexp(a), lambda a, b: jnp.frexp(a)),
    ("diff", lambda a, b: fnp.diff(a, n=2), lambda a, b: jnp.diff(a, n=2)),
    ("gradient", lambda a, b: fnp.gradient(a), lambda a, b: jnp.gradient(a)),
    ("trapezoid", lambda a, b: fnp.trapezoid(a, b), lambda a, b: jnp.trapezoid(a, b)),
    ("cross", lambda a, b: fnp.cross(a[:3], b[:3]), lambda a, b: jnp.cross(a[:3], b[:3])),
    ("kron", lambda a, b: fnp.kron(a[:2], b[:3]), lambda a, b: jnp.kron(a[:2], b[:3])),
    ("diag", lambda a, b: fnp.diag(a, 1), lambda a, b: jnp.diag(a, 1)),
    ("trace", lambda a, b: fnp.trace(fnp.outer(a, b)), lambda a, b: jnp.trace(jnp.outer(a, b))),
    ("median", lambda a, b: fnp.median(a), lambda a, b: jnp.median(a)),
    ("quantile", lambda a, b: fnp.quantile(a, 0.3), lambda a, b: jnp.quantile(a, 0.3)),
    ("nanmean", lambda a, b: fnp.nanmean(a), lambda a, b: jnp.nanmean(a)),
    (
        "searchsorted",
        lambda a, b: fnp.searchsorted(fnp.sort(a), b),
        lambda a, b: jnp.searchsorted(jnp.sort(a), b),
    ),
    (
        "interp",
        lambda a, b: fnp.interp(b, fnp.sort(a), a),
        lambda a, b: jnp.interp(b, jnp.sort(a), a),
    ),
    (
        "unique_size",
        lambda a, b: fnp.unique(fnp.round(a), size=4, fill_value=0.0),
        lambda a, b: jnp.unique(jnp.round(a), size=4, fill_value=0.0),
    ),
    (
        "select",
        lambda a, b: fnp.select([a > 0], [b], 0.0),
        lambda a, b: jnp.select([a > 0], [b], 0.0),
    ),
    ("histogram", lambda a, b: fnp.histogram(a, bins=3), lambda a, b: jnp.histogram(a, bins=3)),
    ("polyval", lambda a, b: fnp.polyval(a[:3], b), lambda a, b: jnp.polyval(a[:3], b)),
    ("cov", lambda a, b: fnp.cov(a, b), lambda a, b: jnp.cov(a, b)),
    ("nan_to_num", lambda a, b: fnp.nan_to_num(a / 0.0), lambda a, b: jnp.nan_to_num(a / 0.0)),
    ("gcd", lambda a, b: fnp.gcd(fnp.int32(a * 10), 6), lambda a, b: jnp.gcd(jnp.int32(a * 10), 6)),
]


@pytest.mark.parametrize("name,ours,theirs", JIT_CASES, ids=[c[0] for c in JIT_CASES])
def test_under_jit_matches_jax(name, ours, theirs, dtype):
    a = RNG.standard_normal(6).astype(dtype)
    b = RNG.standard_normal(6).astype(dtype)
    got = fn.jit(ours)(a, b)
    want = jax.jit(theirs)(a, b)
    # jit may fuse differently from eager: compare with a tolerance scaled to the dtype.
    tol = 1e3 * np.finfo(dtype).eps
    assert_like_jax(got, want, rtol=tol, atol=tol, what=name)


# Differentiable functions: (name, fnp function, jnp function, args builder).
SMOOTH = [
    ("hypot", fnp.hypot, jnp.hypot, lambda r: (r.standard_normal(5), r.standard_normal(5))),
    (
        "logaddexp",
        fnp.logaddexp,
        jnp.logaddexp,
        lambda r: (r.standard_normal(5), r.standard_normal(5)),
    ),
    (
        "logaddexp2",
        fnp.logaddexp2,
        jnp.logaddexp2,
        lambda r: (r.standard_normal(5), r.standard_normal(5)),
    ),
    ("sinc", fnp.sinc, jnp.sinc, lambda r: (r.standard_normal(4),)),
    ("deg2rad", fnp.deg2rad, jnp.deg2rad, lambda r: (r.standard_normal(4),)),
    ("i0", fnp.i0, jnp.i0, lambda r: (np.array([0.3, -2.0, 9.0, 12.0]),)),
    (
        "copysign",
        fnp.copysign,
        jnp.copysign,
        lambda r: (r.standard_normal(4) + 3, r.standard_normal(4)),
    ),
    (
        "diff",
        lambda a: fnp.diff(a, n=2),
        lambda a: jnp.diff(a, n=2),
        lambda r: (r.standard_normal(6),),
    ),
    ("gradient", fnp.gradient, jnp.gradient, lambda r: (r.standard_normal(6),)),
    (
        "gradient_xs",
        fnp.gradient,
        jnp.gradient,
        lambda r: (r.standard_normal(5), np.cumsum(r.uniform(0.5, 1, 5))),
    ),
    (
        "trapezoid",
        fnp.trapezoid,
        jnp.trapezoid,
        lambda r: (r.standard_normal(5), np.cumsum(r.uniform(0.5, 1, 5))),
    ),
    (
        "cross",
        fnp.cross,
        jnp.cross,
        lambda r: (r.standard_normal((2, 3)), r.standard_normal((2, 3))),
    ),
    ("kron", fnp.kron, jnp.kron, lambda r: (r.standard_normal((2, 2)), r.standard_normal((2, 3)))),
    ("trace", fnp.trace, jnp.trace, lambda r: (r.standard_normal((3, 4)),)),
    (
        "diagonal",
        lambda a: fnp.diagonal(a, 1),
        lambda a: jnp.diagonal(a, 1),
        lambda r: (r.standard_normal((3, 4)),),
    ),
    (
        "diag",
        lambda a: fnp.diag(a, -1),
        lambda a: jnp.diag(a, -1),
        lambda r: (r.standard_normal(3),),
    ),
    ("cov", fnp.cov, jnp.cov, lambda r: (r.standard_normal((2, 5)),)),
    ("corrcoef", fnp.corrcoef, jnp.corrcoef, lambda r: (r.standard_normal((2, 5)),)),
    (
        "interp",
        lambda x, f: fnp.interp(x, np.linspace(0, 1, 5), f),
        lambda x, f: jnp.interp(x, np.linspace(0, 1, 5), f),
        lambda r: (r.uniform(0.05, 0.95, 4), r.standard_normal(5)),
    ),
    (
        "quantile",
        lambda a: fnp.quantile(a, 0.3),
        lambda a: jnp.quantile(a, 0.3),
        lambda r: (r.standard_normal(6),),
    ),
    ("median", fnp.median, jnp.median, lambda r: (r.standard_normal(6),)),
    ("nanmean", fnp.nanmean, jnp.nanmean, lambda r: (r.standard_normal(6),)),
    ("nanvar", fnp.nanvar, jnp.nanvar, lambda r: (r.standard_normal(6),)),
    (
        "average",
        lambda a, w: fnp.average(a, weights=w),
        lambda a, w: jnp.average(a, weights=w),
        lambda r: (r.standard_normal(5), r.uniform(0.5, 1, 5)),
    ),
    ("polyval", fnp.polyval, jnp.polyval, lambda r: (r.standard_normal(4), r.standard_normal(3))),
    ("polymul", fnp.polymul, jnp.polymul, lambda r: (r.standard_normal(3), r.standard_normal(2))),
    (
        "polydiv",
        lambda u, v: fnp.polydiv(u, v)[0],
        lambda u, v: jnp.polydiv(u, v)[0],
        lambda r: (r.standard_normal(4), r.standard_normal(2) + 2),
    ),
    (
        "vander",
        lambda x: fnp.vander(x, 3),
        lambda x: jnp.vander(x, 3),
        lambda r: (r.standard_normal(4),),
    ),
    (
        "select",
        lambda a, b: fnp.select([a > 0], [a * b], b),
        lambda a, b: jnp.select([a > 0], [a * b], b),
        lambda r: (r.standard_normal(5), r.standard_normal(5)),
    ),
    (
        "insert",
        lambda a, v: fnp.insert(a, 1, v),
        lambda a, v: jnp.insert(a, 1, v),
        lambda r: (r.standard_normal(4), r.standard_normal(1)),
    ),
    (
        "put_along_axis",
        lambda a, v: fnp.put_along_axis(a, np.array([[1], [0]]), v, 1, inplace=False),
        lambda a, v: jnp.put_along_axis(a, np.array([[1], [0]]), v, 1, inplace=False),
        lambda r: (r.standard_normal((2, 3)), r.standard_normal((2, 1))),
    ),
    ("nan_to_num", fnp.nan_to_num, jnp.nan_to_num, lambda r: (r.standard_normal(4),)),
    (
        "logspace",
        lambda a: fnp.logspace(a, 1.0, 4),
        lambda a: jnp.logspace(a, 1.0, 4),
        lambda r: (np.float64(0.2),),
    ),
]


# Linear in the differentiated arguments (locally so for median): the second derivative is
# zero, and the order-2 rules of the primitives they use (slice, pad, reduce, gather,
# scatter, select) are checked in tests/test_grad_*.py; order 1 here. Every other case,
# quantile standing for the sort-based ones, is checked to order 2.
LINEAR = {
    "deg2rad",
    "diff",
    "gradient",
    "trace",
    "diagonal",
    "diag",
    "nanmean",
    "median",
    "insert",
    "put_along_axis",
    "nan_to_num",
}


@pytest.mark.parametrize("name,ours,theirs,make", SMOOTH, ids=[c[0] for c in SMOOTH])
def test_gradients_match_jax_and_finite_differences(name, ours, theirs, make):
    args = make(np.random.default_rng(1))
    with fn.enable_x64():
        check_grads(ours, args, order=1 if name in LINEAR else 2, modes=("fwd", "rev"))

        def loss(f, mod):
            return lambda *a: mod.sum(mod.sin(mod.asarray(f(*a)) * 1.3))

        got = fn.grad(loss(ours, fnp), argnums=tuple(range(len(args))))(*args)
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        # the reference under jax.jit: one program, where jax's eager mode compiles every op
        want = jax.jit(jax.grad(loss(theirs, jnp), argnums=tuple(range(len(args)))))(*args)
    finally:
        jax.config.update("jax_enable_x64", old)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-12)


def test_sinc_derivatives_at_zero_match_jax():
    """At 0 sin(pi x)/(pi x) is 0/0: the values and the first two derivatives come from
    the Maclaurin series, as in jax."""
    with fn.enable_x64():
        d1 = fn.grad(fnp.sinc)(0.0)
        d2 = fn.grad(fn.grad(fnp.sinc))(0.0)
    assert float(d1) == float(jax.grad(jnp.sinc)(0.0)) == 0.0
    np.testing.assert_allclose(float(d2), -(np.pi**2) / 3, rtol=1e-12)
    np.testing.assert_allclose(float(d2), float(jax.grad(jax.grad(jnp.sinc))(0.0)), rtol=1e-6)


VMAP_CASES = [
    ("hypot", lambda a: fnp.hypot(a, 2.0)),
    ("diff", lambda a: fnp.diff(a)),
    ("trace", lambda a: fnp.trace(fnp.outer(a, a), offset=1)),
    ("median", fnp.median),
    ("quantile", lambda a: fnp.quantile(a, fnp.array([0.1, 0.7]))),
    ("searchsorted", lambda a: fnp.searchsorted(fnp.array([-1.0, 0.0, 1.0]), a)),
    ("cross", lambda a: fnp.cross(a[:3], a[1:4])),
    ("sinc", fnp.sinc),
    ("gradient", fnp.gradient),
    ("polyval", lambda a: fnp.polyval(a, 0.5)),
    ("unique_size", lambda a: fnp.unique(fnp.round(a), size=3, fill_value=0.0)),
    ("bincount", lambda a: fnp.bincount(fnp.int32(fnp.abs(a) * 2), length=5)),
    ("nanmax", fnp.nanmax),
]


@pytest.mark.parametrize("name,f", VMAP_CASES, ids=[c[0] for c in VMAP_CASES])
def test_vmap_matches_a_loop(name, f):
    xs = RNG.standard_normal((3, 5)).astype(np.float32)
    got = fn.vmap(f)(xs)
    want = np.stack([np.asarray(f(x)) for x in xs])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_vectorize_matches_jax():
    def f(a, b):
        return fnp.sum(a * b), fnp.max(a)

    def g(a, b):
        return jnp.sum(a * b), jnp.max(a)

    a = RNG.standard_normal((4, 3)).astype(np.float32)
    b = RNG.standard_normal(3).astype(np.float32)
    got = fnp.vectorize(f, signature="(n),(n)->(),()")(a, b)
    want = jnp.vectorize(g, signature="(n),(n)->(),()")(a, b)
    assert_like_jax(got, want, rtol=1e-5, atol=1e-6)
    scalar = fnp.vectorize(lambda x, p: x**p, excluded={1})(a, 2)
    assert_like_jax(scalar, jnp.vectorize(lambda x, p: x**p, excluded={1})(a, 2))
    grads = fn.grad(lambda x: fnp.sum(fnp.vectorize(fnp.sin)(x)))(a)
    np.testing.assert_allclose(np.asarray(grads), np.cos(a), rtol=1e-6)
    with pytest.raises(ValueError, match="core dimension"):
        fnp.vectorize(f, signature="(n),(n)->(),()")(a, np.ones(2, np.float32))


def test_apply_along_and_over_axes():
    m = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    for axis in (0, 1, 2):
        assert_like_jax(
            fnp.apply_along_axis(lambda v: v[::-1] * 2, axis, m),
            jnp.apply_along_axis(lambda v: v[::-1] * 2, axis, m),
        )
    assert_like_jax(
        fnp.apply_over_axes(fnp.sum, m, [0, 2]), jnp.apply_over_axes(jnp.sum, m, [0, 2])
    )


def test_ufunc_and_frompyfunc():
    add = fnp.frompyfunc(lambda a, b: a + b, nin=2, nout=1, identity=0)
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert add(x, 1).tolist() == (x + 1).tolist()
    assert add.reduce(x, axis=1).tolist() == x.sum(1).tolist()
    assert add.accumulate(x, axis=1).tolist() == np.cumsum(x, 1).tolist()
    assert (
        add.outer(np.arange(2), np.arange(3)).tolist()
        == np.add.outer(np.arange(2), np.arange(3)).tolist()
    )
    assert int(add.reduce(np.zeros(0, np.int32))) == 0


def test_index_tricks_match_jax():
    assert_like_jax(fnp.r_[1:4, 7, np.array([8, 9])], jnp.r_[1:4, 7, np.array([8, 9])])
    assert_like_jax(fnp.r_[0.0:1.0:5j], jnp.r_[0.0:1.0:5j])
    assert_like_jax(fnp.r_["0,2", np.ones(3), np.zeros(3)], jnp.r_["0,2", np.ones(3), np.zeros(3)])
    assert_like_jax(fnp.c_[np.ones(3), np.zeros(3)], jnp.c_[np.ones(3), np.zeros(3)])
    assert_like_jax(
        fnp.c_[np.ones((2, 2)), np.zeros((2, 1))], jnp.c_[np.ones((2, 2)), np.zeros((2, 1))]
    )
    assert_like_jax(fnp.mgrid[0:3, 0:2], jnp.mgrid[0:3, 0:2])
    assert_like_jax(fnp.mgrid[0:1:3j, 0:2], jnp.mgrid[0:1:3j, 0:2])
    assert_like_jax(fnp.ogrid[0:3, 0:2], jnp.ogrid[0:3, 0:2])
    assert fnp.s_[1:2, ::3] == jnp.s_[1:2, ::3] == np.s_[1:2, ::3]
    assert fnp.index_exp[2] == (2,)


def test_block_matches_jax():
    a, b = np.ones((2, 2), np.float32), np.zeros((2, 1), np.float32)
    c = np.full((1, 3), 2.0, np.float32)
    assert_like_jax(fnp.block([[a, b], [c]]), jnp.block([[a, b], [c]]))
    assert_like_jax(fnp.block([np.ones(2), np.zeros(3)]), jnp.block([np.ones(2), np.zeros(3)]))
    with pytest.raises(ValueError, match="depths"):
        fnp.block([[a], b])


def test_piecewise_and_fill_diagonal_match_jax():
    x = np.linspace(-2, 2, 9).astype(np.float32)
    conds = [x < 0, x > 1]
    funcs = [lambda v: -v, lambda v: v**2, 0.5]
    assert_like_jax(fnp.piecewise(x, conds, funcs), jnp.piecewise(x, conds, funcs))
    m = np.zeros((3, 4), np.float32)
    assert_like_jax(
        fnp.fill_diagonal(m, 5.0, inplace=False), jnp.fill_diagonal(m, 5.0, inplace=False)
    )
    tall = np.zeros((7, 3), np.float32)
    want = tall.copy()
    np.fill_diagonal(want, np.arange(3.0), wrap=True)  # jax has no wrap=True: NumPy's
    got = fnp.fill_diagonal(tall, np.arange(3.0), wrap=True, inplace=False)
    np.testing.assert_array_equal(np.asarray(got), want)


def test_save_load_and_savez_roundtrip(tmp_path):
    a = fnp.arange(6.0).reshape(2, 3)
    fnp.save(tmp_path / "a.npy", a)
    back = fnp.load(tmp_path / "a.npy")
    assert isinstance(back, fnp.ndarray) and back.tolist() == a.tolist()
    assert np.load(tmp_path / "a.npy").dtype == np.float32  # NumPy's own format
    fnp.savez(tmp_path / "b.npz", a, w=fnp.ones(2))
    z = np.load(tmp_path / "b.npz")
    assert z["arr_0"].tolist() == a.tolist() and z["w"].tolist() == [1.0, 1.0]
    buf = io.BytesIO()
    fnp.savez_compressed(buf, x=a)
    buf.seek(0)
    assert np.load(buf)["x"].shape == (2, 3)
    assert fnp.frombuffer(np.arange(3, dtype=np.int32).tobytes(), dtype=np.int32).tolist() == [
        0,
        1,
        2,
    ]
    assert fnp.fromstring("1 2 3", dtype=np.int32, sep=" ").tolist() == [1, 2, 3]
    assert fnp.from_dlpack(np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(NotImplementedError):
        fnp.fromiter(iter([1, 2]))


def test_printing_helpers():
    a = fnp.array([1.5, 2.25])
    assert fnp.array_repr(a) == repr(a) == "Array([1.5 , 2.25], dtype=float32)"
    host = np.array([1.5, 2.25])
    assert fnp.array_repr(host) == jnp.array_repr(host)
    assert fnp.array_str(a) == jnp.array_str(jnp.array([1.5, 2.25]))
    with fnp.printoptions(precision=1):
        assert fnp.get_printoptions()["precision"] == 1
    assert fnp.isscalar(1.0) and fnp.isscalar(fnp.float32(1)) and not fnp.isscalar(fnp.ones(2))
    assert fnp.iterable([1]) and not fnp.iterable(1)
    assert fnp.euler_gamma == jnp.euler_gamma
    assert issubclass(fnp.ComplexWarning, Warning)


def test_einsum_path_matches_jax():
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))
    got = fnp.einsum_path("ij,jk,kl->il", a, b, c, optimize="greedy")
    want = jnp.einsum_path("ij,jk,kl->il", a, b, c, optimize="greedy")
    assert got[0] == want[0]


def test_size_dependent_results_need_size_under_jit():
    x = np.array([3, 1, 3], np.int32)
    with pytest.raises(Exception, match="size"):
        fn.jit(fnp.unique)(x)
    with pytest.raises(Exception, match="size"):
        fn.jit(lambda a: fnp.setdiff1d(a, a))(x)
    got = fn.jit(lambda a: fnp.unique(a, size=3, fill_value=-1))(x)
    assert got.tolist() == [1, 3, -1]


@pytest.mark.parametrize("name", ["quantile", "nanquantile", "percentile", "nanpercentile"])
def test_inverted_cdf_and_weights_as_jax(name):
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3, 4, 5)).astype(np.float32)
    a_nan = a.copy()
    a_nan[0, 1, 2] = a_nan[2, 0, 0] = np.nan
    a_nan[1, 3, :] = np.nan  # a whole row of NaN
    w = rng.uniform(0.0, 2.0, size=a.shape).astype(np.float32)
    w_bad = w.copy()
    w_bad[1, 0, 3] = -1.0  # a negative weight makes its row NaN
    scale = 100.0 if "percentile" in name else 1.0
    q1, qs = np.float32(0.3 * scale), np.array([0.0, 0.25, 0.5, 0.9, 1.0], np.float32) * scale
    cases = [
        (a, q1, dict()),
        (a, qs, dict(axis=1)),
        (a_nan, qs, dict(axis=-1, keepdims=True)),
        (a, q1, dict(weights=w)),
        (a, qs, dict(axis=(0, 2), weights=w)),
        (a, qs, dict(axis=(0, 2), weights=w[:, 0, :], keepdims=True)),  # the reduced axes
        (a_nan, q1, dict(axis=2, weights=w_bad)),
    ]
    f, j = getattr(fnp, name), getattr(jnp, name)
    jitted = []
    for x, q, kw in cases:
        want = np.asarray(j(x, q, method="inverted_cdf", **kw))
        got = f(x, q, method="inverted_cdf", **kw)
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=f"{kw}")
        jitted.append((lambda x, q, kw=kw: f(x, q, method="inverted_cdf", **kw), x, q, want))
    # under jit, all cases in one program (one compile)
    outs = fn.jit(lambda *args: [c[0](*a) for c, a in zip(jitted, args)])(
        *[(c[1], c[2]) for c in jitted]
    )
    for (_, _, _, want), out in zip(jitted, outs):
        np.testing.assert_array_equal(np.asarray(out), want)
    for L in (fnp, jnp):  # the same refusals as jax
        with pytest.raises(NotImplementedError, match="inverted_cdf"):
            getattr(L, name)(a, q1, method="linear", weights=w)
        with pytest.raises(ValueError, match=r"[Ww]eights"):
            getattr(L, name)(a, q1, axis=1, method="inverted_cdf", weights=w[0])


def test_inverted_cdf_gradient_as_jax():
    a = np.array([[3.0, 1.0, 2.0, 5.0], [0.5, -1.0, 4.0, 2.5]], np.float32)
    w = np.array([1.0, 2.0, 1.0, 3.0], np.float32)

    def loss(L):
        return lambda x: (L.quantile(x, 0.6, axis=1, method="inverted_cdf", weights=w) ** 2).sum()

    np.testing.assert_allclose(
        np.asarray(fn.grad(loss(fnp))(a)), np.asarray(jax.grad(loss(jnp))(a)), rtol=1e-6
    )


def test_unique_sorted_false_is_accepted_and_sorts_as_jax():
    x = np.array([3, 1, 3, 2], np.int32)
    got = fnp.unique(x, sorted=False, return_counts=True)
    want = jnp.unique(x, sorted=False, return_counts=True)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


BAD_INPUT = [
    (lambda: fnp.diagonal(fnp.ones(3)), ValueError, "at least two"),
    (lambda: fnp.diag(fnp.ones((2, 2, 2))), ValueError, "1d or 2d"),
    (lambda: fnp.cross(fnp.ones(4), fnp.ones(3)), ValueError, "2 or 3"),
    (lambda: fnp.gcd(fnp.ones(2), 2), ValueError, "integer"),
    (lambda: fnp.bitwise_count(fnp.ones(2)), TypeError, "integer"),
    (lambda: fnp.diff(fnp.ones(3), n=-1), ValueError, "non-negative"),
    (lambda: fnp.diff(fnp.float32(1.0)), ValueError, "one dimensional"),
    (lambda: fnp.gradient(fnp.ones((1, 3))), ValueError, "at least 2"),
    (lambda: fnp.gradient(fnp.ones(3), edge_order=2), NotImplementedError, "edge_order"),
    (lambda: fnp.interp(fnp.ones(2), fnp.ones(3), fnp.ones(2)), ValueError, "one length"),
    (lambda: fnp.quantile(fnp.ones(3), 0.5, method="cubic"), ValueError, "method"),
    (lambda: fnp.cov(fnp.ones((2, 2, 2))), ValueError, "more than 2"),
    (lambda: fnp.select([fnp.ones(2)], []), ValueError, "length"),
    (lambda: fnp.select([fnp.ones(2)], [fnp.ones(2)]), ValueError, "boolean"),
    (lambda: fnp.searchsorted(fnp.ones((2, 2)), 1.0), ValueError, "1-dimensional"),
    (lambda: fnp.searchsorted(fnp.ones(2), 1.0, side="middle"), ValueError, "side"),
    (lambda: fnp.bincount(fnp.ones(3)), TypeError, "integer"),
    (lambda: fnp.put(fnp.ones(3), 0, 1.0), ValueError, "immutable"),
    (lambda: fnp.place(fnp.ones(3), fnp.ones(3) > 0, 1.0), ValueError, "immutable"),
    (lambda: fnp.fill_diagonal(fnp.ones((2, 2)), 0.0), NotImplementedError, "immutable"),
    (lambda: fnp.rot90(fnp.ones(3)), ValueError, "at least two"),
    (lambda: fnp.meshgrid(fnp.ones((2, 2))), ValueError, "1D"),
    (lambda: fnp.vander(fnp.ones((2, 2))), ValueError, "one-dimensional"),
    (lambda: fnp.choose(fnp.array([0, 5]), [fnp.ones(2), fnp.zeros(2)]), ValueError, "invalid"),
    (lambda: fnp.unstack(fnp.float32(1.0)), ValueError, "rank > 0"),
    (lambda: fnp.cumulative_sum(fnp.ones((2, 2))), ValueError, "axis"),
    (lambda: fnp.histogram(fnp.ones(3), bins="auto"), NotImplementedError, "string"),
    (lambda: fnp.polyder(fnp.ones(3), -1), ValueError, "positive"),
    (lambda: fnp.ldexp(fnp.ones(2), 1.5), ValueError, "integer"),
    (lambda: fnp.hypot([1.0], 2.0), TypeError, "hypot requires ndarray"),
    (lambda: fnp.trace([[1.0]]), TypeError, "trace requires ndarray"),
    (lambda: fnp.kaiser(fnp.ones(2), 1.0), TypeError, "concrete int"),
]


@pytest.mark.parametrize(
    "thunk,error,match", BAD_INPUT, ids=[str(i) for i in range(len(BAD_INPUT))]
)
def test_bad_input_raises_clearly(thunk, error, match):
    with pytest.raises(error, match=match):
        thunk()


def test_roots_and_polyfit_match_numpy():
    x = np.linspace(-1, 1, 12)
    y = 2 * x**2 - x + 0.5
    with fn.enable_x64():
        np.testing.assert_allclose(np.asarray(fnp.polyfit(x, y, 2)), np.polyfit(x, y, 2), rtol=1e-8)
        r = np.asarray(fnp.roots(np.array([1.0, -3.0, 2.0])))
        np.testing.assert_allclose(np.sort_complex(r), [1.0, 2.0], atol=1e-10)
        r = np.asarray(fnp.roots(np.array([1.0, 0.0, 1.0])))  # complex roots +-i
        np.testing.assert_allclose(
            np.sort_complex(r), np.sort_complex(np.roots([1, 0, 1])), atol=1e-10
        )


@pytest.mark.parametrize(
    "shape, axis, bitorder",
    [((9,), None, "big"), ((3, 10), 1, "little"), ((3, 10), 0, "big"), ((2, 3, 17), -1, "big")],
)
def test_packbits_and_unpackbits_match_jax(shape, axis, bitorder):
    a = RNG.random(shape) > 0.5
    packed = fnp.packbits(a, axis=axis, bitorder=bitorder)
    want = jnp.packbits(a, axis=axis, bitorder=bitorder)
    assert packed.dtype == want.dtype
    np.testing.assert_array_equal(packed, want)
    for count in (None, 3, -2, 100):
        np.testing.assert_array_equal(
            fnp.unpackbits(packed, axis=axis, count=count, bitorder=bitorder),
            jnp.unpackbits(want, axis=axis, count=count, bitorder=bitorder),
        )
    np.testing.assert_array_equal(fnp.packbits(np.arange(10)), jnp.packbits(np.arange(10)))
    roundtrip = fn.jit(lambda x: fnp.unpackbits(fnp.packbits(x, axis=axis), axis=axis))
    n = a.size if axis is None else a.shape[axis]
    kept = np.moveaxis(np.moveaxis(np.asarray(roundtrip(a)), axis or 0, -1)[..., :n], -1, axis or 0)
    np.testing.assert_array_equal(kept, a.reshape(-1) if axis is None else a)


def test_packbits_refusals():
    with pytest.raises(TypeError, match="integer or boolean"):
        fnp.packbits(fnp.ones(3))
    with pytest.raises(TypeError, match="uint8"):
        fnp.unpackbits(fnp.ones(3, fnp.int32))
    with pytest.raises(ValueError, match="bitorder"):
        fnp.packbits(fnp.ones(3, bool), bitorder="middle")


def test_i0_gradient_is_i1_as_jax():
    # jax differentiates i0 by its rule (I0' = I1), not through |x|: 0 at 0
    x = np.linspace(-6, 6, 13).astype(np.float32)
    np.testing.assert_allclose(
        fn.vmap(fn.grad(fnp.i0))(x), jax.vmap(jax.grad(jnp.i0))(x), rtol=2e-6, atol=1e-6
    )
    check_grads(fnp.i0, (fnp.asarray([0.3, -1.2, 5.0]),), order=2)
