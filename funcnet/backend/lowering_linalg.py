"""Lowering rules (rows of `lowering_rules`) for the decompositions of funcnet.lax.linalg.

cholesky, lu, qr, eigh and svd call the LAPACK routines jaxlib's CPU runtime registers
as XLA custom calls (typed FFI: ``lapack_?potrf_ffi``, ``?getrf``, ``?geqrf`` and
``?orgqr``, ``?syevd``, ``?gesdd``), written as jax writes them: column-major layouts
for the matrices, the routine's options as ``mhlo.backend_config`` and LAPACK's `info`
as an extra result, which turns failures into nan. triangular_solve lowers to
StableHLO's own ``triangular_solve``. The bookkeeping around the calls (masks,
padding, the pivots-to-permutation loop) is funcnet code traced and lowered in place
(`_lower_fun`).
"""

import numpy as np

from funcnet.backend.lowering import lower_jaxpr, lowering_rules, tensor_type
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.staging import trace_to_jaxpr
from funcnet.lax import elementwise as ew
from funcnet.lax import linalg as lg
from funcnet.lax import structural as st
from funcnet.runtime import lapack

# LAPACK's option letters, as the FFI attributes take them (ui8 character codes).
_L, _U, _N, _V, _A, _S = (ord(c) for c in "LUNVAS")


def _layout(rank: int, core: int) -> str:
    """Column-major for the trailing `core` (0, 1 or 2) axes, batch axes outermost."""
    nb = rank - core
    order = ([nb, nb + 1] if core == 2 else [nb] if core == 1 else []) + list(range(nb - 1, -1, -1))
    return f"dense<{order}> : tensor<{rank}xindex>" if rank else "dense<> : tensor<0xindex>"


def _custom_call(
    em, target, operands, in_avals, in_cores, out_avals, out_cores, config, alias=True
):
    """One LAPACK FFI call; with `alias`, operand 0's buffer is reused for result 0."""
    res = em.module.fresh()
    n = len(out_avals)
    lhs = f"{res} = " if n == 1 else f"{res}:{n} = "
    tuple_idx = "[]" if n == 1 else "[0]"
    props = {
        "api_version": "1 : i32",
        "backend_config": '""',
        "call_target_name": f'"{target}"',
        "called_computations": "[]",
        "has_side_effect": "false",
        "operand_layouts": "["
        + ", ".join(_layout(len(a.shape), c) for a, c in zip(in_avals, in_cores))
        + "]",
        "output_operand_aliases": "[#stablehlo.output_operand_alias<output_tuple_indices = "
        f"{tuple_idx}, operand_index = 0, operand_tuple_indices = []>]"
        if alias
        else "[]",
        "result_layouts": "["
        + ", ".join(_layout(len(a.shape), c) for a, c in zip(out_avals, out_cores))
        + "]",
    }
    cfg = ", ".join(f"{k} = {v} : ui8" for k, v in config.items())
    in_types = ", ".join(tensor_type(a) for a in in_avals)
    out_types = [tensor_type(a) for a in out_avals]
    outs = out_types[0] if n == 1 else f"({', '.join(out_types)})"
    text = (
        f'{lhs}"stablehlo.custom_call"({", ".join(operands)}) <{{'
        + ", ".join(f"{k} = {v}" for k, v in props.items())
        + f"}}> {{mhlo.backend_config = {{{cfg}}}}} : ({in_types}) -> {outs}"
    )
    if em.loc:
        text += " " + em.loc
    em.lines.append(" " * em.indent + text)
    return [res] if n == 1 else [f"{res}#{i}" for i in range(n)]


def _lower_fun(em, fun, in_avals, names):
    """Trace `fun(*values) -> list` at `in_avals` and emit it here; its result names."""
    closed = trace_to_jaxpr(fun, list(in_avals))
    consts = [
        em.constant(np.asarray(c), v.aval) for c, v in zip(closed.consts, closed.jaxpr.constvars)
    ]
    return lower_jaxpr(em, closed.jaxpr, consts, list(names))


def _nan_unless(ok, x):
    """`x` where the batch entry's `ok` holds, nan elsewhere (ok has x's batch shape)."""
    shape = np.shape(x)
    ok = st.broadcast_in_dim(ok, shape, tuple(range(len(np.shape(ok)))))
    nan = st.broadcast_in_dim(np.array(np.nan, x.dtype), shape, ())
    return ew.select(ok, x, nan)


def _info_ok(info):
    return ew.eq(info, st.broadcast_in_dim(np.int32(0), np.shape(info), ()))


def _info_aval(aval):
    return ShapedArray(aval.shape[:-2], dtypes.int32)


def _zeros(shape, dtype):
    return st.broadcast_in_dim(np.zeros((), dtype), tuple(shape), ())


@lowering_rules.register(lg.cholesky_p)
def _lower_cholesky(em, x):
    (aval,) = em.in_avals
    if aval.size == 0:
        return [x]
    info = _info_aval(aval)
    f, inf = _custom_call(
        em, lapack.target("potrf", aval.dtype), [x], [aval], [2], [aval, info], [2, 0], {"uplo": _L}
    )
    return _lower_fun(
        em, lambda f, i: [lg.tril(_nan_unless(_info_ok(i), f))], [aval, info], [f, inf]
    )


_TRANSPOSE = {
    (False, False): "NO_TRANSPOSE",
    (False, True): "NO_TRANSPOSE",
    (True, False): "TRANSPOSE",
    (True, True): "ADJOINT",
}


@lowering_rules.register(lg.triangular_solve_p)
def _lower_triangular_solve(em, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    a_aval, b_aval = em.in_avals
    out = em.out_avals[0]
    if out.size == 0 or a_aval.size == 0:
        return [em.constant(np.zeros(out.shape, out.dtype), out)]
    mode = _TRANSPOSE[(transpose_a, conjugate_a)]
    if conjugate_a and not transpose_a and dtypes.is_complex(a_aval.dtype):
        (a,) = _lower_fun(em, lambda a: [ew.conj(a)], [a_aval], [a])
    return [
        em.op1(
            "stablehlo.triangular_solve",
            [a, b],
            [a_aval, b_aval],
            out,
            left_side=str(left_side).lower(),
            lower=str(lower).lower(),
            unit_diagonal=str(unit_diagonal).lower(),
            transpose_a=f"#stablehlo<transpose {mode}>",
        )
    ]


@lowering_rules.register(lg.lu_p)
def _lower_lu(em, x):
    (aval,) = em.in_avals
    lu_aval, piv_aval, _ = em.out_avals
    m = aval.shape[-2]
    if aval.size == 0:
        return _lower_fun(
            em,
            lambda x: [
                x,
                _zeros(piv_aval.shape, dtypes.int32),
                lg.lu_pivots_to_permutation(_zeros(piv_aval.shape, dtypes.int32), m),
            ],
            [aval],
            [x],
        )
    info = _info_aval(aval)
    lu, piv, inf = _custom_call(
        em,
        lapack.target("getrf", aval.dtype),
        [x],
        [aval],
        [2],
        [lu_aval, piv_aval, info],
        [2, 1, 0],
        {},
    )

    def finish(lu, piv, i):
        piv = ew.sub(piv, st.broadcast_in_dim(np.int32(1), np.shape(piv), ()))
        ok = ew.ge(i, st.broadcast_in_dim(np.int32(0), np.shape(i), ()))
        return [_nan_unless(ok, lu), piv, lg.lu_pivots_to_permutation(piv, m)]

    return _lower_fun(em, finish, [lu_aval, piv_aval, info], [lu, piv, inf])


@lowering_rules.register(lg.qr_p)
def _lower_qr(em, x, *, full_matrices):
    (aval,) = em.in_avals
    q_aval, r_aval = em.out_avals
    *batch, m, n = aval.shape
    nb = len(batch)
    if aval.size == 0:
        return _lower_fun(
            em,
            lambda x: [lg.eye_like(q_aval.shape, aval.dtype), _zeros(r_aval.shape, aval.dtype)],
            [aval],
            [x],
        )
    k = min(m, n)
    tau_aval = ShapedArray((*batch, k), aval.dtype)
    r, taus = _custom_call(
        em, lapack.target("geqrf", aval.dtype), [x], [aval], [2], [aval, tau_aval], [2, 1], {}
    )
    # the Householder vectors orgqr expands: m x m (wide, or full q), else m x n
    h_shape = (*batch, m, m) if m < n or full_matrices else (*batch, m, n)
    h_aval = ShapedArray(h_shape, aval.dtype)

    def householder_input(r):
        if m < n:
            return [st.slice(r, [0] * (nb + 2), [*batch, m, m])]
        if full_matrices and m > n:
            zero = np.zeros((), aval.dtype)
            return [st.pad(r, zero, [(0, 0, 0)] * (nb + 1) + [(0, m - n, 0)])]
        return [r]

    (h,) = _lower_fun(em, householder_input, [aval], [r])
    (q,) = _custom_call(
        em,
        lapack.target("orgqr", aval.dtype),
        [h, taus],
        [h_aval, tau_aval],
        [2, 1],
        [h_aval],
        [2],
        {},
    )

    def finish_r(r):
        if m >= n and not full_matrices:
            r = st.slice(r, [0] * (nb + 2), [*batch, n, n])
        return [lg.triu(r)]

    (r,) = _lower_fun(em, finish_r, [aval], [r])
    return [q, r]


@lowering_rules.register(lg.eigh_p)
def _lower_eigh(em, x, *, lower, sort_eigenvalues):
    (aval,) = em.in_avals
    v_aval, w_aval = em.out_avals
    if aval.size == 0:
        return _lower_fun(em, lambda x: [x, _zeros(w_aval.shape, w_aval.dtype)], [aval], [x])
    info = _info_aval(aval)
    v, w, inf = _custom_call(
        em,
        lapack.target("syevd", aval.dtype),
        [x],
        [aval],
        [2],
        [v_aval, w_aval, info],
        [2, 1, 0],
        {"mode": _V, "uplo": _L if lower else _U},
    )

    def finish(v, w, i):
        ok = _info_ok(i)
        return [_nan_unless(ok, v), _nan_unless(ok, w)]

    return _lower_fun(em, finish, [v_aval, w_aval, info], [v, w, inf])


@lowering_rules.register(lg.svd_p)
def _lower_svd(em, x, *, full_matrices, compute_uv):
    (aval,) = em.in_avals
    *batch, m, n = aval.shape
    k = min(m, n)
    if aval.size == 0:

        def empty(x):
            s = _zeros((*batch, k), aval.dtype)
            if not compute_uv:
                return [s]
            u = lg.eye_like((*batch, m, m if full_matrices else k), aval.dtype)
            vt = lg.eye_like((*batch, n if full_matrices else k, n), aval.dtype)
            return [s, u, vt]

        return _lower_fun(em, empty, [aval], [x])
    s_aval = ShapedArray((*batch, k), aval.dtype)
    u_aval = ShapedArray((*batch, m, m if full_matrices else k), aval.dtype)
    vt_aval = ShapedArray((*batch, n if full_matrices else k, n), aval.dtype)
    info = _info_aval(aval)
    mode = _N if not compute_uv else _A if full_matrices else _S
    _, s, u, vt, inf = _custom_call(
        em,
        lapack.target("gesdd", aval.dtype),
        [x],
        [aval],
        [2],
        [aval, s_aval, u_aval, vt_aval, info],
        [2, 1, 2, 2, 0],
        {"mode": mode},
    )

    def finish(s, u, vt, i):
        ok = _info_ok(i)
        outs = [_nan_unless(ok, s)]
        return outs + [_nan_unless(ok, u), _nan_unless(ok, vt)] if compute_uv else outs

    return _lower_fun(em, finish, [s_aval, u_aval, vt_aval, info], [s, u, vt, inf])


@lowering_rules.register(lg.eig_p)
def _lower_eig(em, x, *, compute_left_eigenvectors, compute_right_eigenvectors):
    (aval,) = em.in_avals
    w_aval = em.out_avals[0]
    batch = aval.shape[:-2]
    if aval.size == 0:
        outs = list(em.out_avals)
        return _lower_fun(em, lambda x: [_zeros(a.shape, a.dtype) for a in outs], [aval], [x])
    part = ShapedArray(aval.shape[:-1], aval.dtype)
    vec = ShapedArray(aval.shape, w_aval.dtype)
    info = ShapedArray(batch, dtypes.int32)
    wr, wi, vl, vr, inf = _custom_call(
        em,
        lapack.target("geev", aval.dtype),
        [x],
        [aval],
        [2],
        [part, part, vec, vec, info],
        [1, 1, 2, 2, 0],
        {
            "compute_left": _V if compute_left_eigenvectors else _N,
            "compute_right": _V if compute_right_eigenvectors else _N,
        },
        alias=False,
    )

    def finish(wr, wi, vl, vr, i):
        ok = _info_ok(i)
        outs = [_nan_unless(ok, ew.complex(wr, wi))]
        if compute_left_eigenvectors:
            outs.append(_nan_unless(ok, vl))
        if compute_right_eigenvectors:
            outs.append(_nan_unless(ok, vr))
        return outs

    return _lower_fun(em, finish, [part, part, vec, vec, info], [wr, wi, vl, vr, inf])
