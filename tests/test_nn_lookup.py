"""An Embedding's rows folded into the next layer's input projection (funcnet.nn.lookup):
`Lookup` itself, `Embedding.apply(as_lookup=True)`, and every recurrent layer after an
Embedding in a Sequential giving the outputs, carries and gradients of the unfolded
chain (and of a jax implementation), with out-of-range and negative ids, under jit,
eager and vmap; the fold happens only when the table has fewer rows than there are ids."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn, random, tree
from funcnet.core.jaxpr import Var

RNG = np.random.RandomState(0)
F32 = dict(rtol=2e-5, atol=2e-6)


def assert_trees_close(a, b, rtol=2e-5, atol=2e-6):
    assert tree.tree_structure(a) == tree.tree_structure(b)
    for x, y in zip(tree.tree_leaves(a), tree.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def ids_of(shape, vocab, low=0):
    return RNG.randint(low, vocab, shape).astype(np.int32)


# --- Lookup ---------------------------------------------------------------------------


def test_lookup_shape_and_gather():
    table = fnp.asarray(RNG.randn(5, 3).astype(np.float32))
    ids = np.array([[0, 4, 2], [1, 1, 3]], np.int32)
    rows = nn.Lookup(table, ids)
    assert (rows.shape, rows.dtype, rows.ndim) == ((2, 3, 3), table.dtype, 3)
    assert repr(rows) == "Lookup(table (5, 3), ids (2, 3))"
    np.testing.assert_array_equal(np.asarray(rows.gather()), np.asarray(table)[ids])


@pytest.mark.parametrize(
    "ids",
    [[0, 4, 2, 1], [-1, -5, 2, 0], [5, 7, -6, 3], [-100, 100, 0, 4]],
    ids=["valid", "negative", "past-the-ends", "far"],
)
def test_picker_matches_take(ids):
    table = fnp.asarray(RNG.randn(5, 3).astype(np.float32))
    ids = np.array(ids, np.int32)
    want = np.asarray(fnp.take(table, ids, axis=0))
    picked, pick = nn.Lookup(table, ids).picker()
    got = np.asarray(pick(picked))
    np.testing.assert_array_equal(got, want)  # NaN rows where take fills
    # a part of the ids (what one step of a scan reads) picks the same rows
    np.testing.assert_array_equal(np.asarray(pick(picked[1:3])), want[1:3])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_picker_with_narrow_ids(dtype):
    table = fnp.asarray(RNG.randn(200, 3).astype(np.float32))  # 200 rows: past int8's max
    ids = np.array([0, 5, 127, 100], dtype)
    if dtype != np.uint8:
        ids[1] = -3
    picked, pick = nn.Lookup(fnp.asarray(table), fnp.asarray(ids)).picker()
    want = fnp.take(table, ids.astype(np.int32), axis=0)  # the same ids, as int32
    np.testing.assert_array_equal(np.asarray(pick(picked)), np.asarray(want))


def test_picker_of_an_integer_table_uses_take():
    table = fnp.asarray(np.arange(12, dtype=np.int32).reshape(4, 3))
    ids = np.array([0, 3, 9, -1], np.int32)
    picked, pick = nn.Lookup(table, ids).picker()
    np.testing.assert_array_equal(
        np.asarray(pick(picked)), np.asarray(fnp.take(table, ids, axis=0))
    )


def test_worth_folding_and_map_table():
    table = fnp.asarray(RNG.randn(4, 3).astype(np.float32))
    assert nn.Lookup(table, np.zeros((2, 3), np.int32)).worth_folding()  # 4 rows < 6 ids
    assert not nn.Lookup(table, np.zeros((2, 2), np.int32)).worth_folding()  # 4 == 4
    w = fnp.asarray(RNG.randn(3, 2).astype(np.float32))
    ids = np.array([[1, 3], [0, 2]], np.int32)
    mapped = nn.Lookup(table, ids).map_table(lambda t: t @ w)
    np.testing.assert_allclose(
        np.asarray(mapped.gather()), np.asarray(table)[ids] @ np.asarray(w), **F32
    )


def test_embedding_as_lookup():
    emb = nn.Embedding(6, 4)
    params, _ = emb.init(random.key(0), (2, 3))
    ids = ids_of((2, 3), 6)
    rows = emb.apply(params, ids, as_lookup=True)
    assert isinstance(rows, nn.Lookup) and rows.shape == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(rows.gather()), np.asarray(emb.apply(params, ids)))
    with pytest.raises(nn.LayerError, match="integer ids"):
        emb.apply(params, np.zeros((2, 3), np.float32), as_lookup=True)


# --- Sequential: the fold against the unfolded chain ------------------------------------

VOCAB, EMBED, HIDDEN, BATCH, TIME = 9, 5, 7, 3, 6

LAYERS = {
    "lstm": lambda: nn.LSTM(HIDDEN),
    "gru": lambda: nn.GRU(HIDDEN),
    "rnn": lambda: nn.RNN(HIDDEN),
    "lstm-reverse": lambda: nn.LSTM(HIDDEN, reverse=True),
    "bidirectional": lambda: nn.Bidirectional(nn.LSTM(HIDDEN)),
}


def chain(name):
    model = nn.Sequential([nn.Embedding(VOCAB, EMBED), LAYERS[name](), nn.Dense(VOCAB)])
    params, _ = model.init(random.key(1), (-1, TIME))
    return model, params


def unfolded(model, params, ids, **kw):
    """The same chain applied layer by layer (the Embedding's rows gathered)."""
    emb, rec, head = model.layers
    names = model.names
    x = emb.apply(params[names[0]], ids)
    out = rec.apply(params[names[1]], x, **kw)
    carry, x = out if kw.get("return_carry") else (None, out)
    y = head.apply(params[names[2]], x)
    return (y, carry) if kw.get("return_carry") else y


def scanned_dtypes(fun, *args):
    """The dtypes of the scanned inputs of every scan in `fun`'s program."""
    closed = fn.make_jaxpr(fun)(*args)
    found = []
    for eqn in closed.jaxpr.eqns:
        if eqn.primitive.name == "scan":
            n = eqn.params["num_consts"] + eqn.params["num_carry"]
            found += [str(x.aval.dtype) for x in eqn.inputs[n:] if isinstance(x, Var)]
    return found


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fold_matches_unfolded_outputs_and_gradients(name):
    model, params = chain(name)
    ids = ids_of((BATCH, TIME), VOCAB)
    assert "int32" in scanned_dtypes(model.apply, params, ids)  # folded: ids are scanned
    assert_trees_close(fn.jit(model.apply)(params, ids), unfolded(model, params, ids))

    def loss(apply):
        return lambda p: (apply(p, ids) ** 2).mean()

    g_fold = fn.jit(fn.grad(loss(model.apply)))(params)
    g_plain = fn.jit(fn.grad(loss(lambda p, i: unfolded(model, p, i))))(params)
    assert_trees_close(g_fold, g_plain, rtol=1e-4, atol=1e-6)


def test_fold_with_carries_and_seq_lengths():
    model, params = chain("lstm")
    ids = ids_of((BATCH, TIME), VOCAB)
    c0 = tree.tree_map(lambda a: a + 0.3, model.initial_carry(BATCH))
    kw = dict(initial_carry=c0, return_carry=True)
    assert_trees_close(model.apply(params, ids, **kw), unfolded(model, params, ids, **kw))
    lengths = np.array([TIME, 2, 4], np.int32)
    got = fn.jit(lambda p, i: model.apply(p, i, seq_lengths=lengths))(params, ids)
    want = unfolded(model, params, ids, seq_lengths=lengths)
    assert_trees_close(got, want)


def test_fold_eager_and_under_vmap():
    model, params = chain("gru")
    ids = ids_of((2, BATCH, TIME), VOCAB)
    eager = model.apply(params, ids[0])  # no jit
    assert_trees_close(eager, unfolded(model, params, ids[0]))
    mapped = fn.vmap(model.apply, in_axes=(None, 0))(params, ids)
    want = np.stack([np.asarray(unfolded(model, params, i)) for i in ids])
    np.testing.assert_allclose(np.asarray(mapped), want, **F32)


def test_out_of_range_and_negative_ids():
    model, params = chain("lstm")
    ids = ids_of((BATCH, TIME), VOCAB)
    ids[0, 2], ids[1, 0], ids[2, 5] = VOCAB, -2, -VOCAB - 1  # past the end, wraps, before
    got = np.asarray(model.apply(params, ids))
    want = np.asarray(unfolded(model, params, ids))
    np.testing.assert_allclose(got, want, equal_nan=True, **F32)
    assert np.isnan(got[0, 2:]).all() and np.isnan(got[2, 5]).all()  # NaN from there on
    assert not np.isnan(got[1]).any()  # -2 counts from the end


def test_no_fold_when_the_table_is_not_smaller():
    model = nn.Sequential([nn.Embedding(50, EMBED), nn.LSTM(HIDDEN)])
    params, _ = model.init(random.key(2), (-1, TIME))
    ids = ids_of((BATCH, TIME), 50)  # 18 ids, 50 rows: the rows are gathered
    assert "int32" not in scanned_dtypes(model.apply, params, ids)
    emb, rec = model.layers
    want = rec.apply(params["lstm_0"], emb.apply(params["embedding_0"], ids))
    assert_trees_close(model.apply(params, ids), want)


def dot_rows(fun, *args):
    """The row counts of the left operands of fun's dot_generals (outside loops)."""
    closed = fn.make_jaxpr(fun)(*args)
    return [
        int(np.prod(e.inputs[0].aval.shape[:-1]))
        for e in closed.jaxpr.eqns
        if e.primitive.name == "dot_general"
    ]


@pytest.mark.parametrize("use_bias", [True, False])
def test_a_dense_after_an_embedding_maps_the_table(use_bias):
    model = nn.Sequential([nn.Embedding(VOCAB, EMBED), nn.Dense(3, use_bias=use_bias)])
    params, _ = model.init(random.key(3), (-1, TIME))
    ids = ids_of((BATCH, TIME), VOCAB)
    ids[0, 1], ids[2, 3] = VOCAB + 4, -1  # a NaN row, and the last row
    assert dot_rows(model.apply, params, ids) == [VOCAB]  # the table, not 18 rows
    emb, dense = model.layers
    want = dense.apply(params["dense_0"], emb.apply(params["embedding_0"], ids))
    got = model.apply(params, ids)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), equal_nan=True, **F32)

    valid = ids_of((BATCH, TIME), VOCAB)  # (an invalid id's NaN row would poison the
    # unfolded weight gradient, not the folded one: see funcnet.nn.lookup)

    def loss(apply):
        return lambda p: (apply(p, valid) ** 2).sum()

    unfolded_apply = lambda p, i: dense.apply(  # noqa: E731
        p["dense_0"], emb.apply(p["embedding_0"], i)
    )
    assert_trees_close(fn.grad(loss(model.apply))(params), fn.grad(loss(unfolded_apply))(params))
    few = ids_of((1, 3), VOCAB)  # 3 ids, 9 rows: the rows are gathered first
    assert dot_rows(model.apply, params, few) == [3]


def test_not_folded_before_a_layer_without_a_projection():
    model = nn.Sequential([nn.Embedding(VOCAB, EMBED), nn.relu, nn.LSTM(HIDDEN)])
    params, _ = model.init(random.key(3), (-1, TIME))
    ids = ids_of((BATCH, TIME), VOCAB)
    assert "int32" not in scanned_dtypes(model.apply, params, ids)
    assert model.apply(params, ids).shape == (BATCH, TIME, HIDDEN)


# --- against jax -------------------------------------------------------------------------


def jax_lstm_chain(p, ids):
    """The Embedding -> LSTM -> Dense chain in jax, rows gathered before the product."""
    cell = p["lstm_0"]
    x = p["embedding_0"]["embedding"][ids]
    xp = jnp.moveaxis(x @ cell["wi"] + cell["b"], 1, 0)

    def step(carry, xt):
        c, h = carry
        i, f, g, o = jnp.split(xt + h @ cell["wh"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    z = jnp.zeros((ids.shape[0], cell["wh"].shape[0]), x.dtype)
    _, hs = jax.lax.scan(step, (z, z), xp)
    return jnp.moveaxis(hs, 0, 1) @ p["dense_0"]["w"] + p["dense_0"]["b"]


def test_folded_lstm_chain_against_jax():
    model, params = chain("lstm")
    ids = ids_of((BATCH, TIME), VOCAB)
    jp = tree.tree_map(lambda a: jnp.asarray(np.asarray(a)), params)

    def f_loss(p):
        return (model.apply(p, ids) ** 2).mean()

    def j_loss(p):
        return (jax_lstm_chain(p, ids) ** 2).mean()

    v, g = fn.jit(fn.value_and_grad(f_loss))(params)
    jv, jg = jax.jit(jax.value_and_grad(j_loss))(jp)
    np.testing.assert_allclose(float(v), float(jv), **F32)
    assert_trees_close(g, jg, rtol=1e-4, atol=1e-6)
