"""Indexing and `x.at[idx]` updates against NumPy (jax matches it for in-bounds indices),
eagerly and under jit.

Eager indexing compiles one small program per index shape, so each test checks many
indices eagerly but puts all of them into one jitted program.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import funcnet as fn
import funcnet.numpy as fnp

X = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
V = np.arange(7, dtype=np.int32) * 10
FAST = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def assert_same(out, expected, what):
    assert isinstance(out, fn.Array), (what, type(out))
    assert (out.shape, out.dtype) == (expected.shape, expected.dtype), (
        what,
        out.shape,
        out.dtype,
        expected.shape,
        expected.dtype,
    )
    np.testing.assert_array_equal(np.asarray(out), expected, err_msg=str(what))


def check_getitem(x, indices, eager=True):
    """x[idx] for each index against NumPy: eagerly, and all at once in one jitted program."""
    expected = [x[idx] for idx in indices]
    if eager:
        fx = fnp.asarray(x)
        for idx, e in zip(indices, expected):
            assert_same(fx[idx], e, idx)
    outs = fn.jit(lambda a: [a[idx] for idx in indices])(x)
    for idx, o, e in zip(indices, outs, expected):
        assert_same(o, e, ("jit", idx))


# --- basic indexing -------------------------------------------------------------------

BASIC = [
    0,
    -1,
    1,
    (1, 2),
    (-1, -2, 3),
    (0, 1, 2, 3),
    (-2, -3, -4, -5),
    slice(None),
    slice(1, None),
    slice(None, -1),
    slice(None, None, -1),
    (slice(None), slice(1, 3)),
    (slice(None), slice(None, None, 2)),
    (slice(None), slice(None), slice(3, 0, -1)),
    (slice(None), slice(None), slice(None, None, -2)),
    (slice(None), slice(-1, -4, -1)),
    (1, slice(None, None, 3)),
    (slice(10, 20),),
    (slice(-10, 2),),
    (slice(None), slice(2, 1)),
    (slice(None), slice(5, None, -2)),
    (slice(None), slice(None), slice(-1, None, -3)),
    None,
    (None, 0),
    (0, None),
    (None, slice(None), None, 1),
    (None, None),
    Ellipsis,
    (Ellipsis, 0),
    (0, Ellipsis),
    (Ellipsis, None),
    (1, Ellipsis, 2),
    (slice(None), Ellipsis, slice(None, None, -1)),
    (Ellipsis, 1, None, 2),
    (0, 1, 2, 3, None),
    (),
]


def test_basic_indexing():
    check_getitem(X, BASIC)


def test_basic_indexing_on_small_ranks():
    check_getitem(
        V,
        [
            3,
            -7,
            slice(2, -2),
            slice(None, None, -3),
            None,
            Ellipsis,
            (Ellipsis, None),
            (slice(6, 0, -2),),
        ],
    )
    check_getitem(np.float32(3.5), [(), None, Ellipsis, (None, None)])


def test_python_and_numpy_integer_types():
    check_getitem(X, [np.int32(1), (np.int64(-1), np.uint8(2)), (True + 0, slice(None))])


def test_out_of_bounds_integers_clamp_like_jax():
    """jax (unlike NumPy) clamps out-of-bounds integer reads: x[2] on a size-2 axis is
    x[1]; negative indices wrap once, then clamp (x[-3] is x[0])."""
    import jax.numpy as jnp

    x = fnp.asarray(X)
    for idx in [2, -3, (0, 3), (0, 0, -5), (0, 0, 0, 5), (7, slice(None), -9)]:
        assert_same(x[idx], np.asarray(jnp.asarray(X)[idx]), idx)
    assert_same(fn.jit(lambda a: a[0, 4])(X), np.asarray(jnp.asarray(X)[0, 4]), "jit")


def test_index_errors():
    x = fnp.asarray(X)
    with pytest.raises(IndexError):
        x[0, 0, 0, 0, 0]  # too many indices
    with pytest.raises(IndexError):
        x[..., 0, ...]
    with pytest.raises((IndexError, TypeError)):
        x[1.5]
    with pytest.raises((IndexError, TypeError)):
        x[np.array([0.5])]
    with pytest.raises(TypeError, match="non-tuple sequence"):
        x[[1, 0]]  # jax refuses a list as the whole index


# --- advanced indexing ----------------------------------------------------------------

I2 = np.array([1, 0, 1])
J3 = np.array([[0, 2], [-1, 1]])
K4 = np.array([3, -4, 0])

ADVANCED = [
    I2,
    (I2,),
    ([1, 0],),
    J3 % 2,
    (slice(None), J3),
    (slice(None), slice(None), K4),
    (I2[:, None], J3[:1] % 3),  # a broadcast pair: (3, 1) with (1, 2)
    (I2, slice(None), K4),  # separated by a slice: batch dims first
    (slice(None), J3, K4[:2]),  # adjacent: batch dims stay in place
    (slice(None), I2, K4),
    (0, slice(None), K4),  # an int with an array: both advanced
    (slice(None), 0, K4),  # adjacent int and array
    (I2[:, None], np.array([0, 2])),  # broadcast to (3, 2)
    (np.array([[0], [1]]), slice(None), np.array([[0, 1, 2]])),
    (Ellipsis, K4),
    (I2, Ellipsis, K4),
    (None, I2),
    (I2, None),
    (slice(None), None, J3),
    (I2, None, np.array([0, 2, 1])),  # None between arrays: not adjacent
    (slice(None, None, -1), I2),
    (I2, slice(None, None, 2)),
    (slice(1, None), J3, 1),
    (np.array(1), slice(None)),
    (np.array([], np.int32),),
]


def test_advanced_indexing():
    check_getitem(X, ADVANCED)


def test_index_arrays_as_funcnet_arrays():
    """Concrete funcnet index arrays go through the traced normalization path."""
    x = fnp.asarray(X)
    i, k = fnp.asarray(I2), fnp.asarray(K4)
    assert_same(x[i], X[I2], "i")
    assert_same(x[:, :, k], X[:, :, K4], "k")
    assert_same(x[i, 0, k], X[I2, 0, K4], "i0k")
    assert_same(x[fnp.asarray(-1)], X[-1], "scalar array")


def test_narrow_integer_index_arrays_into_a_longer_axis():
    """int8 indices into an axis longer than int8 holds: NumPy and funcnet index arrays
    give NumPy's rows (a negative index wraps with the axis' length, not int8's)."""
    x = np.arange(200 * 3, dtype=np.float32).reshape(200, 3)
    ids = np.array([0, -3, 127, 100], np.int8)
    want = x[ids.astype(np.int64)]
    assert_same(fnp.asarray(x)[ids], want, "numpy int8")
    assert_same(fnp.asarray(x)[fnp.asarray(ids)], want, "funcnet int8")
    assert_same(fnp.take(fnp.asarray(x), ids, axis=0), want, "take")


def test_traced_integer_indices_under_jit():
    f = fn.jit(lambda a, i, j: (a[i], a[:, i], a[i, j], a[..., j], a[i, :, j, None]))
    for i, j in [(1, 2), (-1, -3), (np.int32(0), np.int32(1))]:
        expected = (X[i], X[:, i], X[i, j], X[..., j], X[i, :, j, None])
        for o, e in zip(f(X, i, j), expected):
            assert_same(o, e, (i, j))
    g = fn.jit(lambda a, idx: (a[idx], a[:, idx], a[idx, idx]))
    assert_same(g(X, I2)[1], X[:, I2], "traced array")
    assert_same(g(X, I2)[2], X[I2, I2], "traced array pair")
    assert_same(fn.jit(lambda v, i: v[i])(V, J3), V[J3], "traced 2-D array")


def test_out_of_bounds_index_arrays_clamp_like_jax():
    import jax.numpy as jnp

    idx = np.array([-10, 9, 2])
    assert_same(fnp.asarray(V)[idx], np.asarray(jnp.asarray(V)[idx]), "clamped")


# --- boolean masks -----------------------------------------------------------------------

M0 = np.array([True, False])
M1 = np.array([True, False, True])
M23 = np.array([[True, False, True], [False, False, True]])
M34 = np.arange(12).reshape(3, 4) % 5 < 2
M45 = np.arange(20).reshape(4, 5) % 3 == 0


def test_boolean_masks():
    check_getitem(
        X,
        [
            M0,
            (slice(None), M1),
            M23,
            (M23, slice(1, 3)),
            (0, slice(None), M45),
            (Ellipsis, M45[0]),
            (M0, 1, slice(None), 2),
            (M0, None),
            (slice(None), M1, K4[:2]),
            np.zeros(2, bool),
            (X[:, 0, 0, 0] > 30,),
        ],
    )


def test_mask_from_comparison():
    x = fnp.asarray(X[0, 0])
    assert_same(x[x > 7], X[0, 0][X[0, 0] > 7], "mask")


def test_traced_boolean_mask_raises():
    with pytest.raises(IndexError, match="concrete"):
        fn.jit(lambda a: a[a > 2])(V)


# --- random indices (hypothesis) ------------------------------------------------------------


@st.composite
def index_tuples(draw, shape):
    """A random NumPy index for an array of `shape`: ints, slices, None, one Ellipsis,
    and integer arrays that broadcast together (or one boolean mask)."""
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    use_mask = draw(st.booleans()) and draw(st.booleans())
    entries, dim = [], 0
    n_dims = draw(st.integers(0, len(shape)))
    while dim < n_dims:
        size = shape[dim]
        kind = draw(st.sampled_from(["int", "slice", "slice", "array", "none", "mask"]))
        if kind == "int":
            entries.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-size - 2, size + 2)
            step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2]))
            entries.append(slice(draw(bound), draw(bound), step))
        elif kind == "array" and not use_mask:
            sub = batch[draw(st.integers(0, len(batch))) :]
            sub = tuple(1 if draw(st.booleans()) else b for b in sub)
            entries.append(
                np.asarray(
                    draw(
                        st.lists(
                            st.integers(-size, size - 1),
                            min_size=int(np.prod(sub)),
                            max_size=int(np.prod(sub)),
                        )
                    )
                ).reshape(sub)
            )
        elif kind == "mask" and use_mask and not any(isinstance(e, np.ndarray) for e in entries):
            entries.append(np.asarray(draw(st.lists(st.booleans(), min_size=size, max_size=size))))
        elif kind == "none":
            entries.append(None)
            continue
        else:
            entries.append(slice(None))
        dim += 1
    if draw(st.booleans()):
        at = draw(st.integers(0, len(entries)))
        entries.insert(at, Ellipsis)
    return tuple(entries)


@given(idx=index_tuples((3, 4, 5)))
@FAST
def test_random_getitem_matches_numpy(idx):
    x = X[0, :3]
    try:
        expected = x[idx]
    except IndexError:
        assume(False)
    assert_same(fnp.asarray(x)[idx], expected, idx)


@given(idx=index_tuples((3, 4, 5)), op=st.sampled_from(["set", "add"]))
@FAST
def test_random_updates_match_numpy(idx, op):
    x = X[0, :3]
    try:
        shape = x[idx].shape
    except IndexError:
        assume(False)
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1000
    expected = x.copy()
    if op == "set":
        expected[idx] = values
        assume(np.array_equal(expected[idx], values))  # repeated indices: last write wins
    else:
        _ufunc_at(np.add, expected, idx, values)
    out = getattr(fnp.asarray(x).at[idx], op)(values)
    assert_same(out, expected, idx)


def _ufunc_at(ufunc, x, idx, values):
    """ufunc.at(x, idx, values), which wants an index without None (the values' None
    axes have size 1, so they reshape away)."""
    values = np.broadcast_to(values, x[idx].shape)
    if isinstance(idx, tuple):
        idx = tuple(i for i in idx if i is not None)
    elif idx is None:
        idx = ()
    ufunc.at(x, idx, values.reshape(x[idx].shape))


# --- x.at[idx] updates ------------------------------------------------------------------

UPDATE_INDICES = [
    1,
    -1,
    (0, 2),
    (slice(None), 1),
    (slice(1, None), slice(None, 2)),
    Ellipsis,
    (Ellipsis, 0),
    (None, 0),
    (0, None, slice(None), 3),
    I2,
    (slice(None), J3),
    (I2, slice(None), K4),
    (slice(None), I2, K4),
    (0, slice(None), K4),
    M34,
    (1, M45),
    (slice(None), slice(None), slice(None, None, 2)),
    (slice(None, None, -1), 0),
    (slice(None), slice(3, 0, -2), K4[:1]),
]


def _numpy_update(x, idx, values, op):
    out = x.copy()
    ufunc = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}
    if op == "set":
        out[idx] = values
    else:
        _ufunc_at(ufunc[op], out, idx, values)
    return out


# The kind of update is independent of the kind of index: a few indices suffice for the
# others (add has its own tests for repeated indices, and a random one).
FEW = [(slice(None), 1), (slice(None), I2, K4), M34, (slice(None, None, -1), 0)]


@pytest.mark.parametrize(
    "op, indices",
    [("set", UPDATE_INDICES), ("add", FEW), ("multiply", FEW), ("min", FEW), ("max", FEW)],
)
def test_at_updates(op, indices):
    x = X[0] - 30
    values = [
        np.float32(7)
        if i % 2
        else (np.arange(x[idx].size, dtype=np.float32).reshape(x[idx].shape) - 10)
        for i, idx in enumerate(indices)
    ]
    expected = [_numpy_update(x, idx, v, op) for idx, v in zip(indices, values)]
    if op == "set":  # the eager path is the same for every kind of update
        fx = fnp.asarray(x)
        for idx, v, e in zip(indices, values, expected):
            assert_same(fx.at[idx].set(v), e, idx)
    outs = fn.jit(lambda a, *vs: [getattr(a.at[idx], op)(v) for idx, v in zip(indices, vs)])(
        x, *values
    )
    for idx, o, e in zip(indices, outs, expected):
        assert_same(o, e, ("jit", idx))


def test_at_get_matches_getitem():
    fx = fnp.asarray(X)
    for idx in [(0, slice(None), K4), (slice(None, None, -1), I2), M0, (Ellipsis, 1)]:
        assert_same(fx.at[idx].get(), X[idx], idx)


def test_repeated_indices_accumulate():
    idx = np.array([0, 2, 2, 0, 2, 5])
    vals = np.arange(6, dtype=np.int32) + 1
    expected = V.copy()
    np.add.at(expected, idx, vals)
    assert_same(fnp.asarray(V).at[idx].add(vals), expected, "add")
    assert_same(fn.jit(lambda v, i, u: v.at[i].add(u))(V, idx, vals), expected, "jit add")
    for op, ufunc in [("multiply", np.multiply), ("min", np.minimum), ("max", np.maximum)]:
        e = V.copy()
        ufunc.at(e, idx, vals * 3 - 8)
        assert_same(getattr(fnp.asarray(V).at[idx], op)(vals * 3 - 8), e, op)


def test_update_with_traced_index_and_values():
    f = fn.jit(lambda v, i, u: (v.at[i].set(u), v.at[i].add(1), v.at[-1].mul(u)))
    set_, add, mul = f(V, 3, 5)
    e = V.copy()
    e[3] = 5
    assert_same(set_, e, "set")
    e = V.copy()
    e[3] += 1
    assert_same(add, e, "add")
    e = V.copy()
    e[-1] *= 5
    assert_same(mul, e, "mul")


def test_update_dtype_and_broadcast():
    x = fnp.asarray(V)
    assert_same(x.at[1:3].set(2.7), np.array([0, 2, 2, 30, 40, 50, 60], np.int32), "cast")
    y = fnp.zeros((2, 3))
    assert_same(
        y.at[:, 1:].set(np.array([1.0, 2.0])),
        np.array([[0, 1, 2], [0, 1, 2]], np.float32),
        "broadcast",
    )
    with pytest.raises(ValueError):
        y.at[0].set(np.ones(4))


def test_out_of_bounds_updates_are_dropped_like_jax():
    import jax.numpy as jnp

    idx = np.array([-10, 9, 2])
    assert_same(
        fnp.asarray(V).at[idx].set(-1), np.asarray(jnp.asarray(V).at[idx].set(-1)), "dropped"
    )
