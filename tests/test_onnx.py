"""funcnet.onnx.export: models translated to ONNX and run by onnxruntime (CPU) give
funcnet's outputs; every model passes onnx.checker; unsupported primitives are named
with the user's line."""

import ast
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import funcnet as fn
import funcnet.numpy as fnp
import funcnet.onnx
from funcnet import lax, nn, random
from funcnet.demo import cnn, mlp
from funcnet.lax.indexing import GatherDimensionNumbers
from funcnet.onnx._graph import onnx_rules

RNG = np.random.RandomState(0)


def _session(model_or_path):
    source = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def _run(model, *args):
    leaves = fn.tree.leaves(args)
    assert len(model.graph.input) == len(leaves)
    feeds = {i.name: np.asarray(v) for i, v in zip(model.graph.input, leaves)}
    return _session(model).run(None, feeds)


def _check(f, *args, tol=1e-5, opsets=(None,)):
    """Export `f` (at each opset), check the model, run it with onnxruntime and compare
    with funcnet."""
    want = [np.asarray(w) for w in fn.tree.leaves(fn.jit(f)(*args))]
    for opset in opsets:
        model = funcnet.onnx.export(f, *args, opset=opset)
        onnx.checker.check_model(model, full_check=True)
        got = _run(model, *args)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
            if w.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
            else:
                np.testing.assert_array_equal(g, w)
    return model


# --- models ------------------------------------------------------------------------------


def test_demo_mlp():
    model = mlp()
    params, _ = model.init(random.PRNGKey(0), (4, 8, 8, 1))
    x = RNG.rand(4, 8, 8, 1).astype(np.float32)
    exported = _check(model.apply, params, x)
    names = [i.name for i in exported.graph.input]
    assert names[0] == "params.dense_0.b" and names[-1] == "x"
    assert [o.name for o in exported.graph.output] == ["output"]
    assert "MatMul" in {n.op_type for n in exported.graph.node}


def test_digits_cnn():
    model = cnn()
    params, _ = model.init(random.PRNGKey(1), (3, 8, 8, 1))
    x = RNG.rand(3, 8, 8, 1).astype(np.float32)
    exported = _check(model.apply, params, x, opsets=(18, 21, None))
    ops = {n.op_type for n in exported.graph.node}
    assert {"Conv", "MaxPool", "MatMul"} <= ops


def test_attention_block():
    block = nn.Sequential(
        [
            nn.LayerNorm(),
            nn.MultiHeadAttention(2),
            nn.Dense(32),
            nn.gelu,
            nn.Dense(16),
            lambda h: nn.softmax(h, axis=-1),
        ]
    )
    params, _ = block.init(random.PRNGKey(2), (2, 5, 16))
    x = RNG.randn(2, 5, 16).astype(np.float32)
    exported = _check(block.apply, params, x, opsets=(18, 21, None))
    assert "Einsum" in {n.op_type for n in exported.graph.node}


def test_causal_attention_and_batchnorm_in_eval_mode():
    attn = nn.MultiHeadAttention(2)
    pa, _ = attn.init(random.PRNGKey(3), (1, 4, 8))
    bn = nn.BatchNorm()
    pb, state = bn.init_with_state(random.PRNGKey(4), (1, 4, 8))[:2]
    state = fn.tree.map(lambda s: s + 0.5, state)

    def f(pa, pb, state, x):
        h = attn.apply(pa, x, causal=True)
        return bn.apply(pb, h, state=state)[0]

    _check(f, pa, pb, state, RNG.randn(1, 4, 8).astype(np.float32))


def test_lstm_language_model():
    model = nn.Sequential([nn.Embedding(12, 4), nn.LSTM(6), nn.Dense(12)])
    params, _ = model.init(random.PRNGKey(5), (2, 7))
    ids = RNG.randint(0, 12, (2, 7)).astype(np.int32)
    exported = _check(model.apply, params, ids)
    assert "Loop" in {n.op_type for n in exported.graph.node}


def test_jitted_function_outputs_tree_and_constants():
    table = fnp.asarray(RNG.randn(3).astype(np.float32))  # a captured constant

    @fn.jit
    def f(x):
        return {"sum": (x * table).sum(), "parts": (x + 1.0, fnp.argmax(x, axis=1))}

    model = _check(f, RNG.randn(4, 3).astype(np.float32))
    assert [o.name for o in model.graph.output] == [
        "output.parts.0",
        "output.parts.1",
        "output.sum",
    ]
    assert model.graph.initializer  # the captured array


# --- one small function per rule -----------------------------------------------------------


@fn.custom_vjp
def _triple(a):
    return a * 3.0


_triple.defvjp(lambda a: (a * 3.0, None), lambda r, g: (3.0 * g,))

X = RNG.randn(3, 4).astype(np.float32)
Y = RNG.randn(3, 4).astype(np.float32)
POS = (np.abs(X) + 0.1).astype(np.float32)
INTS = RNG.randint(-5, 6, (3, 4)).astype(np.int32)
J = RNG.randint(1, 6, (3, 4)).astype(np.int32)
B = X > 0
C = Y > 0
IMG = RNG.randn(2, 7, 6, 4).astype(np.float32)

CASES = {
    # elementwise, unary
    "neg": (lambda x: -x, X),
    "exp_log": (lambda x: fnp.log(fnp.exp(x) + 1.0), X),
    "tanh_logistic": (lambda x: fnp.tanh(x) + nn.sigmoid(x), X),
    "sqrt_rsqrt": (lambda p: fnp.sqrt(p) + lax.rsqrt(p), POS),
    "abs_sign": (lambda x: fnp.abs(x) * fnp.sign(x), X),
    "erf": (lambda x: lax.erf(x), X),
    "floor_ceil": (lambda x: fnp.floor(3 * x) + fnp.ceil(3 * x), X),
    "round_both": (
        lambda x: fnp.round(x * 4) + lax.round(x * 4 + 0.5, lax.RoundingMethod.AWAY_FROM_ZERO),
        np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3], np.float32) / 4,
    ),
    "trig": (lambda x: fnp.sin(x) + fnp.cos(x) + fnp.tan(x / 4), X),
    "inverse_trig": (
        lambda x: fnp.arcsin(x / 4) + fnp.arccos(x / 4) + fnp.arctan(x) + fnp.arcsinh(x),
        X,
    ),
    "arccosh_relu": (lambda x: fnp.arccosh(fnp.abs(x) + 1.5) + nn.relu(x), X),
    "hyperbolic": (lambda x: fnp.sinh(x) + fnp.cosh(x) + fnp.arctanh(x / 4), X),
    "integer_pow": (lambda x: x**3 + x**2 - (x + 3.0) ** -2 + x**1, X),
    "square": (lambda x: lax.square(x), X),
    "exp2_log1p_expm1": (lambda x: fnp.exp2(x) + fnp.log1p(fnp.abs(x)) + fnp.expm1(x), X),
    "is_finite": (lambda x: fnp.isfinite(x / x), np.array([0.0, 1.0, np.inf, -2.0], np.float32)),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False), X),
    # elementwise, binary
    "arith": (lambda x, y: (x + y) * (x - y) / (y + 3.0), X, Y),
    "max_min": (lambda x, y: fnp.maximum(x, y) - fnp.minimum(x, y), X, Y),
    "pow": (lambda p, y: p**y, POS, Y),
    "rem": (lambda x, y: x % y + lax.rem(x, y + 5.0), X, Y + 2.0),
    "int_arith": (lambda i, j: (i * j + i // j - i % j, lax.rem(i, j), -i, abs(i)), INTS, J),
    "comparisons": (
        lambda x, y: (x < y, x <= y, x > y, x >= y, x == y, x != y),
        X,
        np.where(RNG.rand(3, 4) > 0.5, X, Y),
    ),
    "bool_logic": (lambda b, c: (b & c, b | c, b ^ c, ~b, b < c, b * c), B, C),
    "bitwise": (lambda i, j: (i & j, i | j, i ^ j, ~i), INTS, J),
    "where": (lambda b, x, y: fnp.where(b, x, y), B, X, Y),
    "select_n_int": (lambda i, x, y: lax.select_n(fnp.clip(i, 0, 2), x, y, x * y), INTS, X, Y),
    "clip": (lambda x: fnp.clip(x, -0.5, 0.5), X),
    "convert": (lambda x, i: (x.astype(np.int32), i.astype(np.float32), x.astype(bool)), X, INTS),
    "bool_reductions": (lambda b: (b.all(axis=0), b.any(axis=1), b.sum(axis=1)), B),
    # reductions
    "reduce": (
        lambda x: (x.sum(axis=0), x.max(axis=1), x.min(), fnp.prod(x, axis=1), x.sum(axis=())),
        X,
    ),
    "argmax_argmin": (lambda x: (fnp.argmax(x, axis=0), fnp.argmin(x, axis=1)), X),
    "mean_var": (lambda x: (x.mean(axis=1), x.var(axis=0), fnp.std(x)), X),
    "cumsum": (lambda x: (fnp.cumsum(x, axis=1), lax.cumsum(x, axis=0, reverse=True)), X),
    "sort_argsort": (
        lambda x, t: (fnp.sort(x, axis=0), fnp.argsort(x, axis=1), fnp.argsort(t), fnp.sort(t)),
        X,
        np.array([[3, 1, 3, 1, 2, 3], [0, 0, 0, 0, -1, 0]], np.int32),  # ties: a stable sort
    ),
    "softmax": (lambda x: (nn.softmax(x), nn.log_softmax(x, axis=0)), X),
    "logsumexp": (lambda x: fn.scipy.special.logsumexp(x, axis=1), X),
    # structural
    "broadcast": (lambda x: fnp.broadcast_to(x[:, None, :], (3, 2, 4)) + x[0], X),
    "reshape_transpose": (lambda x: x.reshape(2, 6).T.reshape(12), X),
    "squeeze_expand": (lambda x: fnp.squeeze(fnp.expand_dims(x, (0, 2)), 0), X),
    "concatenate": (lambda x, y: fnp.concatenate([x, y, x[:1]], axis=0), X, Y),
    "slice": (lambda x: (x[1:, ::2], x[::-1, 1:3], x[:, ::-2]), X),
    "split": (lambda x: tuple(fnp.split(x, [1, 3], axis=1)), X),
    "pad": (
        lambda x: (
            fnp.pad(x, ((1, 2), (0, 1))),
            lax.pad(x, 0.5, [(1, -1, 2), (-1, 2, 1)]),
            fnp.pad(x, 1, constant_values=-1.0),
        ),
        X,
    ),
    "iota": (lambda x: x + fnp.arange(4.0) + lax.broadcasted_iota(np.float32, (3, 4), 0), X),
    "dynamic_slice": (
        lambda x, i: (
            lax.dynamic_slice(x, (i[0, 0], i[0, 1]), (2, 2)),
            lax.dynamic_index_in_dim(x, i[1, 1], 1),
        ),
        X,
        INTS,
    ),
    "scatter": (
        lambda x, y, k: (
            x.at[1].set(5.0),
            x.at[:, k].add(y[:, :3]),
            x.at[k, 1:3].max(y[:3, :2]),
            x.at[k[:2], k[1:]].min(-1.0),
            x.at[2, k[0]].multiply(3.0),
        ),
        X,
        Y,
        np.array([2, 0, 3], np.int32),  # 3 is out of bounds along axis 0: dropped
    ),
    "dynamic_update_slice": (
        lambda x, y, i: (
            lax.dynamic_update_slice(x, y[:2, :3] * 10, (i[0, 0], i[0, 1])),
            lax.dynamic_update_index_in_dim(x, y[0], i[2, 2], 0),
        ),
        X,
        Y,
        INTS,
    ),
    "identities": (
        lambda x: (lax.stop_gradient(x) + lax.copy(x), lax.optimization_barrier((x, x + 1.0)), x),
        X,
    ),
    # gather
    "index_scalar": (lambda x: (x[1], x[-1, 2], x[:, 3]), X),
    "index_traced": (lambda x, i: (x[i[0, 0]], x[:, i[1, 2]]), X, INTS),
    "index_array": (
        lambda x, k: (x[k], x[:, k], x[k, k], x[k[:2], 1:3]),
        X,
        np.array([2, 0, -1], np.int32),
    ),
    "take_along_axis": (
        lambda x, k: (fnp.take_along_axis(x, k, axis=1), fnp.take(x, k[0], axis=1)),
        X,
        RNG.randint(0, 4, (3, 5)).astype(np.int32),
    ),
    "gather_batching_dims": (
        lambda x, k: lax.gather(
            x,
            k[..., None],
            GatherDimensionNumbers(
                offset_dims=(),
                collapsed_slice_dims=(1,),
                start_index_map=(1,),
                operand_batching_dims=(0,),
                start_indices_batching_dims=(0,),
            ),
            (1, 1),
        ),
        X,
        RNG.randint(0, 4, (3, 2)).astype(np.int32),
    ),
    "gather_kept_index_axis": (
        lambda x, k: lax.gather(
            x,
            k[:, None],
            GatherDimensionNumbers(
                offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(0,)
            ),
            (1, 4),
        ),
        X,
        np.array([2, 7, 0], np.int32),  # 7 is out of bounds: clamped, as XLA
    ),
    "gather_window": (
        lambda x, k: lax.gather(
            x,
            k[:, None],
            GatherDimensionNumbers(
                offset_dims=(1, 2), collapsed_slice_dims=(), start_index_map=(0,)
            ),
            (2, 3),
        ),
        X,
        np.array([0, 2, 5], np.int32),
    ),
    # loops
    "while_fori": (
        lambda x: (
            lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0), (0, x)),
            lax.fori_loop(0, 5, lambda i, c: c * 1.5 + i, x),
        ),
        X[0],
    ),
    "scan": (
        lambda c, xs: (
            lax.scan(lambda c, a: (c + a, c * a), c, xs),
            lax.scan(lambda c, a: (c * 0.5 + a, (c - a, a.sum())), c, xs, reverse=True),
        ),
        X[0],
        Y,
    ),
    "nested_loops_traced_bounds": (
        lambda c, xs: (
            lax.scan(lambda c, a: (lax.fori_loop(0, 3, lambda i, d: d + a * i, c), c), c, xs),
            lax.fori_loop(0, fnp.int32(c[0] > 0) + 2, lambda i, d: d * 1.5 + i, c),
        ),
        X[0],
        Y,
    ),
    # contractions
    "matmul": (lambda a, b: (a @ b.T, a[0] @ b.T, a @ b[0], a[0] @ b[0]), X, Y),
    "batched_matmul": (
        lambda a, b: fnp.matmul(a, b),
        RNG.randn(2, 3, 4).astype(np.float32),
        RNG.randn(2, 4, 5).astype(np.float32),
    ),
    "einsum": (
        lambda a, b: (fnp.einsum("bij,bkj->bki", a, b), fnp.einsum("ij,kj->", a[0], b[0])),
        RNG.randn(2, 3, 4).astype(np.float32),
        RNG.randn(2, 5, 4).astype(np.float32),
    ),
    "int_matmul": (lambda i, j: i @ j.T, INTS, J),
    "conv_strided_dilated_grouped": (
        lambda x, w: lax.conv_general_dilated(
            x,
            w,
            window_strides=(2, 1),
            padding=((1, 2), (0, 1)),
            rhs_dilation=(1, 2),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=2,
        ),
        IMG,
        RNG.randn(3, 2, 2, 6).astype(np.float32),
    ),
    "conv_nchw_1d": (
        lambda x, w: lax.conv_general_dilated(x, w, (1,), "SAME"),
        RNG.randn(2, 3, 9).astype(np.float32),
        RNG.randn(4, 3, 3).astype(np.float32),
    ),
    "conv_transpose_negative_padding": (
        lambda x, w: lax.conv_general_dilated(
            x,
            w,
            (1, 1),
            ((-1, 2), (1, 1)),
            lhs_dilation=(2, 2),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ),
        IMG,
        RNG.randn(3, 3, 4, 5).astype(np.float32),
    ),
    "max_pool": (lambda x: nn.MaxPool((3, 2), strides=(2, 2), padding="SAME").apply({}, x), IMG),
    "avg_pool": (lambda x: nn.AvgPool((2, 3), strides=(1, 2), padding="SAME").apply({}, x), IMG),
    "global_pools": (
        lambda x: (nn.GlobalAvgPool().apply({}, x), nn.GlobalMaxPool().apply({}, x)),
        IMG,
    ),
    "reduce_window_min_dilated_sum": (
        lambda x: (
            lax.reduce_window(x, np.inf, lax.min, (1, 2, 2, 1), (1, 1, 2, 1), "VALID"),
            lax.reduce_window(
                x, 0.0, lax.add, (1, 3, 2, 2), (1, 1, 1, 1), "SAME", None, (1, 2, 1, 1)
            ),
        ),
        IMG,
    ),
    # sub-programs
    "nested_jit_remat": (lambda x: fn.jit(lambda a: fn.checkpoint(fnp.sin)(a) * 2)(x), X),
    "custom_vjp": (lambda x: _triple(x), X),
    "cond_switch": (
        lambda x: (
            lax.cond(x.sum() > 0, lambda a: a * 2, lambda a: a - 1, x),
            lax.switch(fnp.int32(x[0, 0] > 0) + 1, [lambda a: a, lambda a: -a, fnp.exp], x),
        ),
        X,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule(name):
    f, *args = CASES[name]
    _check(f, *args)


def test_every_rule_is_exercised():
    """Each row of the translation table is reached by a case above (or a model test)."""
    reached = set()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            reached.add(eqn.primitive)
            for v in eqn.params.values():
                for sub in v if isinstance(v, (tuple, list)) else (v,):
                    if hasattr(sub, "jaxpr") and hasattr(sub, "consts"):
                        walk(sub.jaxpr)

    for f, *args in CASES.values():
        walk(fn.make_jaxpr(f)(*args).jaxpr)
    untested = {p.name for p in onnx_rules} - {p.name for p in reached}
    assert not untested, untested


# --- the file, the arguments, the errors --------------------------------------------------


def _predict(params, x):
    return fnp.tanh(x @ params["w"] + params["b"])


PARAMS = {"w": RNG.randn(3, 2).astype(np.float32), "b": RNG.randn(2).astype(np.float32)}
XS = RNG.randn(5, 3).astype(np.float32)


def test_positional_path_writes_a_file_onnxruntime_loads(tmp_path):
    path = tmp_path / "predict.onnx"
    model = funcnet.onnx.export(_predict, PARAMS, XS, path)
    assert path.exists()
    assert onnx.load(str(path)) == model
    out = _session(str(path)).run(None, {"params.b": PARAMS["b"], "params.w": PARAMS["w"], "x": XS})
    np.testing.assert_allclose(out[0], np.tanh(XS @ PARAMS["w"] + PARAMS["b"]), rtol=1e-5)


def test_path_keyword_str_and_opset(tmp_path):
    path = str(tmp_path / "p.onnx")
    model = funcnet.onnx.export(_predict, PARAMS, XS, path=path, opset=21)
    assert model.opset_import[0].version == 21
    assert _session(path).get_inputs()[2].shape == [5, 3]
    assert funcnet.onnx.export(_predict, PARAMS, XS).opset_import[0].version == 19


def test_shape_dtype_structs_as_examples():
    spec = fn.ShapeDtypeStruct((5, 3), np.float32)
    model = funcnet.onnx.export(_predict, PARAMS, spec)
    np.testing.assert_allclose(
        _run(model, PARAMS, XS)[0], np.tanh(XS @ PARAMS["w"] + PARAMS["b"]), rtol=1e-5
    )


def test_path_given_twice_and_bad_opset():
    with pytest.raises(TypeError, match="path twice"):
        funcnet.onnx.export(_predict, PARAMS, XS, "a.onnx", path="b.onnx")
    with pytest.raises(ValueError, match="opset must be from 18 to"):
        funcnet.onnx.export(_predict, PARAMS, XS, opset=12)
    with pytest.raises(TypeError, match="opset must be an int, got '19'"):
        funcnet.onnx.export(_predict, PARAMS, XS, opset="19")


def _uses_cholesky(x):
    y = x @ x.T + 3.0 * fnp.eye(3)
    return fnp.linalg.cholesky(y)  # the line the error names


def _uses_lgamma(x):
    return lax.lgamma(x * x + 1.0)


def _line_of(fun, text):
    lines, start = __import__("inspect").getsourcelines(fun)
    return start + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize(
    "fun, prim, text",
    [(_uses_cholesky, "cholesky", "cholesky(y)"), (_uses_lgamma, "lgamma", "lax.lgamma")],
)
def test_unsupported_primitive_names_it_and_the_users_line(fun, prim, text, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    with pytest.raises(funcnet.onnx.UnsupportedPrimitiveError) as info:
        funcnet.onnx.export(fun, RNG.randn(3, 3).astype(np.float32), path)
    msg = str(info.value)
    assert f"primitive '{prim}'" in msg
    assert f"{__file__}:{_line_of(fun, text)}" in msg
    assert path.read_bytes() == b"previous"  # a failed export leaves the file alone


def test_an_untranslatable_form_names_the_primitive_and_the_line():
    def dilated(x):  # base dilation: no ONNX pooling does it
        return lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 1), "VALID", (2, 1))

    with pytest.raises(
        funcnet.onnx.UnsupportedPrimitiveError,
        match=r"'reduce_window_max' \(at .*test_onnx.py:\d+ \(dilated\)\) has base_dilation",
    ):
        funcnet.onnx.export(dilated, X)


def test_missing_onnx_gives_an_import_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install funcnet\[onnx\]"):
        funcnet.onnx.export(_predict, PARAMS, XS)


def test_importing_funcnet_onnx_does_not_import_onnx():
    """onnx stays optional: funcnet/onnx/*.py import it only inside functions."""
    for path in pathlib.Path(funcnet.onnx.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] in ("onnx", "onnxruntime") for n in names), path


def test_a_leaf_that_is_not_an_array_is_named_by_its_path():
    with pytest.raises(TypeError, match=r"argument params\['name'\].*not an array"):
        funcnet.onnx.export(_predict, {**PARAMS, "name": object()}, XS)
