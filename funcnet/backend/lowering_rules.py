"""One StableHLO lowering rule per primitive (the `lowering_rules` table).

Rules receive the emitter and operand names; `em.in_avals` / `em.out_avals` hold
the equation's types.
"""

import numpy as np

from funcnet.backend.lowering import (
    Emitter,
    compare,
    i64_array,
    int_list,
    lower_jaxpr,
    lowering_rules,
    tensor_type,
)
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.lax import contractions as la
from funcnet.lax import elementwise as ew
from funcnet.lax import indexing as ix
from funcnet.lax import reductions as rd
from funcnet.lax import structural as st
from funcnet.lax.calls import jit_p
from funcnet.lax.fft import FftType, fft_p


def _scalar(aval):
    return ShapedArray((), aval.dtype)


# --- elementwise ----------------------------------------------------------------


def _simple(op_name):
    def rule(em: Emitter, *args, **params):
        return [em.op1(op_name, list(args), em.in_avals, em.out_avals[0])]

    return rule


_UNARY_OPS = {
    ew.neg_p: "stablehlo.negate",
    ew.floor_p: "stablehlo.floor",
    ew.ceil_p: "stablehlo.ceil",
    ew.is_finite_p: "stablehlo.is_finite",
    ew.exp_p: "stablehlo.exponential",
    ew.log_p: "stablehlo.log",
    ew.log1p_p: "stablehlo.log_plus_one",
    ew.expm1_p: "stablehlo.exponential_minus_one",
    ew.tanh_p: "stablehlo.tanh",
    ew.logistic_p: "stablehlo.logistic",
    ew.sin_p: "stablehlo.sine",
    ew.cos_p: "stablehlo.cosine",
    ew.tan_p: "stablehlo.tan",
    ew.asin_p: "chlo.asin",
    ew.acos_p: "chlo.acos",
    ew.atan_p: "chlo.atan",
    ew.sinh_p: "chlo.sinh",
    ew.cosh_p: "chlo.cosh",
    ew.asinh_p: "chlo.asinh",
    ew.acosh_p: "chlo.acosh",
    ew.atanh_p: "chlo.atanh",
    ew.sqrt_p: "stablehlo.sqrt",
    ew.rsqrt_p: "stablehlo.rsqrt",
    ew.cbrt_p: "stablehlo.cbrt",
    ew.abs_p: "stablehlo.abs",
    ew.not_p: "stablehlo.not",
    ew.erf_p: "chlo.erf",
    ew.erf_inv_p: "chlo.erf_inv",
    ew.lgamma_p: "chlo.lgamma",
    ew.digamma_p: "chlo.digamma",
    ew.erfc_p: "chlo.erfc",
    ew.population_count_p: "stablehlo.popcnt",
    ew.clz_p: "stablehlo.count_leading_zeros",
    ew.real_p: "stablehlo.real",
    ew.imag_p: "stablehlo.imag",
}
_BINARY_OPS = {
    ew.add_p: "stablehlo.add",
    ew.sub_p: "stablehlo.subtract",
    ew.div_p: "stablehlo.divide",
    ew.rem_p: "stablehlo.remainder",
    ew.pow_p: "stablehlo.power",
    ew.atan2_p: "stablehlo.atan2",
    ew.nextafter_p: "chlo.next_after",
    ew.and_p: "stablehlo.and",
    ew.or_p: "stablehlo.or",
    ew.xor_p: "stablehlo.xor",
    ew.shift_left_p: "stablehlo.shift_left",
    ew.shift_right_arithmetic_p: "stablehlo.shift_right_arithmetic",
    ew.shift_right_logical_p: "stablehlo.shift_right_logical",
    ew.complex_p: "stablehlo.complex",
}
for _p, _name in {**_UNARY_OPS, **_BINARY_OPS}.items():
    lowering_rules.register(_p)(_simple(_name))


def _bool_aware(op, bool_op):
    # On booleans, mul/min are `and`, max is `or`.
    def rule(em, x, y):
        name = bool_op if em.in_avals[0].dtype == dtypes.bool_ else op
        return [em.op1(name, [x, y], em.in_avals, em.out_avals[0])]

    return rule


lowering_rules.register(ew.mul_p)(_bool_aware("stablehlo.multiply", "stablehlo.and"))
lowering_rules.register(ew.max_p)(_bool_aware("stablehlo.maximum", "stablehlo.or"))
lowering_rules.register(ew.min_p)(_bool_aware("stablehlo.minimum", "stablehlo.and"))


@lowering_rules.register(ew.exp2_p)
def _lower_exp2(em, x):
    aval = em.in_avals[0]
    ln2 = em.constant(np.log(2.0), _scalar(aval))
    ln2 = _broadcast_scalar(em, ln2, aval)
    scaled = em.op1("stablehlo.multiply", [x, ln2], [aval, aval], aval)
    return [em.op1("stablehlo.exponential", [scaled], [aval], aval)]


@lowering_rules.register(ew.sign_p)
def _lower_sign(em, x):
    aval = em.in_avals[0]
    if not dtypes.is_unsigned(aval.dtype):
        return [em.op1("stablehlo.sign", [x], [aval], aval)]
    # stablehlo.sign takes no unsigned types; sign(x) is then just x != 0.
    zero = _broadcast_scalar(em, em.constant(0, _scalar(aval)), aval)
    nonzero = compare(em, x, zero, "NE", aval)
    return [em.op1("stablehlo.convert", [nonzero], [aval.update(dtype=dtypes.bool_)], aval)]


@lowering_rules.register(ew.conj_p)
def _lower_conj(em, x, *, input_dtype):
    # As jax: complex(real(x), -imag(x)); a real x becomes complex(x, 0).
    aval, out = em.in_avals[0], em.out_avals[0]
    part = out.update(dtype=dtypes.real_dtype(out.dtype))
    if dtypes.is_complex(aval.dtype):
        re = em.op1("stablehlo.real", [x], [aval], part)
        im = em.op1("stablehlo.imag", [x], [aval], part)
        im = em.op1("stablehlo.negate", [im], [part], part)
    else:
        re = x if aval.dtype == part.dtype else em.op1("stablehlo.convert", [x], [aval], part)
        im = _broadcast_scalar(em, em.constant(0, _scalar(part)), part)
    return [em.op1("stablehlo.complex", [re, im], [part, part], out)]


@lowering_rules.register(fft_p)
def _lower_fft(em, x, *, fft_type, fft_lengths):
    kind = FftType(fft_type).name
    return [
        em.op1(
            "stablehlo.fft",
            [x],
            em.in_avals,
            em.out_avals[0],
            fft_type=f"#stablehlo<fft_type {kind}>",
            fft_length=i64_array(fft_lengths),
        )
    ]


@lowering_rules.register(ew.square_p)
def _lower_square(em, x):
    aval = em.in_avals[0]
    return [em.op1("stablehlo.multiply", [x, x], [aval, aval], aval)]


@lowering_rules.register(ew.copy_p)
def _lower_copy(em, x):
    return [x]


@lowering_rules.register(ew.round_p)
def _lower_round(em, x, *, rounding_method=0):
    op = "stablehlo.round_nearest_afz" if rounding_method == 0 else "stablehlo.round_nearest_even"
    return [em.op1(op, [x], em.in_avals, em.out_avals[0])]


@lowering_rules.register(ew.integer_pow_p)
def _lower_integer_pow(em, x, *, y):
    aval = em.in_avals[0]
    if y == 0:
        one = em.constant(1, _scalar(aval))
        return [_broadcast_scalar(em, one, aval)]
    acc, base, n = None, x, abs(y)
    while n:  # exponentiation by squaring
        if n & 1:
            acc = (
                base
                if acc is None
                else em.op1("stablehlo.multiply", [acc, base], [aval, aval], aval)
            )
        n >>= 1
        if n:
            base = em.op1("stablehlo.multiply", [base, base], [aval, aval], aval)
    if y < 0:
        one = _broadcast_scalar(em, em.constant(1, _scalar(aval)), aval)
        acc = em.op1("stablehlo.divide", [one, acc], [aval, aval], aval)
    return [acc]


for _p, _dir in ew.COMPARISONS.items():
    lowering_rules.register(_p)(
        lambda em, x, y, _dir=_dir: [compare(em, x, y, _dir, em.in_avals[0])]
    )


@lowering_rules.register(ew.select_n_p)
def _lower_select_n(em, which, *cases):
    which_aval, case_aval = em.in_avals[0], em.in_avals[1]
    out = em.out_avals[0]
    if len(cases) == 1:
        return [cases[0]]
    if which_aval.dtype == dtypes.bool_:
        return [
            em.op1(
                "stablehlo.select",
                [which, cases[1], cases[0]],
                [which_aval, case_aval, case_aval],
                out,
            )
        ]
    result = cases[0]
    for i in range(1, len(cases)):
        k = _broadcast_scalar(em, em.constant(i, _scalar(which_aval)), which_aval)
        pred = compare(em, which, k, "EQ", which_aval)
        result = em.op1(
            "stablehlo.select",
            [pred, cases[i], result],
            [which_aval.update(dtype=dtypes.bool_), case_aval, case_aval],
            out,
        )
    return [result]


@lowering_rules.register(ew.clamp_p)
def _lower_clamp(em, lo, x, hi):
    return [em.op1("stablehlo.clamp", [lo, x, hi], em.in_avals, em.out_avals[0])]


@lowering_rules.register(ew.convert_element_type_p)
def _lower_convert(em, x, *, new_dtype, weak_type=False):
    src, out = em.in_avals[0], em.out_avals[0]
    if src.dtype == out.dtype:
        return [x]
    if out.dtype == dtypes.bool_:  # nonzero -> True, as NumPy
        zero = _broadcast_scalar(em, em.constant(0, _scalar(src)), src)
        return [compare(em, x, zero, "NE", src)]
    if dtypes.is_complex(src.dtype) and not dtypes.is_complex(out.dtype):
        # complex -> real keeps the real part (as jax and NumPy's astype).
        part = src.update(dtype=dtypes.real_dtype(src.dtype))
        x = em.op1("stablehlo.real", [x], [src], part)
        if part.dtype == out.dtype:
            return [x]
        src = part
    return [em.op1("stablehlo.convert", [x], [src], out)]


# --- structural -------------------------------------------------------------------


def _broadcast_scalar(em, x, aval):
    """Broadcast a scalar value to `aval`'s shape."""
    if aval.shape == ():
        return x
    return em.op1(
        "stablehlo.broadcast_in_dim", [x], [_scalar(aval)], aval, broadcast_dimensions=i64_array([])
    )


@lowering_rules.register(st.broadcast_in_dim_p)
def _lower_broadcast_in_dim(em, x, *, shape, broadcast_dimensions):
    return [
        em.op1(
            "stablehlo.broadcast_in_dim",
            [x],
            em.in_avals,
            em.out_avals[0],
            broadcast_dimensions=i64_array(broadcast_dimensions),
        )
    ]


@lowering_rules.register(st.reshape_p, st.squeeze_p)
def _lower_reshape(em, x, **_):
    return [em.op1("stablehlo.reshape", [x], em.in_avals, em.out_avals[0])]


@lowering_rules.register(st.transpose_p)
def _lower_transpose(em, x, *, permutation):
    return [
        em.op1(
            "stablehlo.transpose",
            [x],
            em.in_avals,
            em.out_avals[0],
            permutation=i64_array(permutation),
        )
    ]


@lowering_rules.register(st.rev_p)
def _lower_rev(em, x, *, dimensions):
    return [
        em.op1(
            "stablehlo.reverse", [x], em.in_avals, em.out_avals[0], dimensions=i64_array(dimensions)
        )
    ]


@lowering_rules.register(st.slice_p)
def _lower_slice(em, x, *, start_indices, limit_indices, strides):
    return [
        em.op1(
            "stablehlo.slice",
            [x],
            em.in_avals,
            em.out_avals[0],
            start_indices=i64_array(start_indices),
            limit_indices=i64_array(limit_indices),
            strides=i64_array(strides),
        )
    ]


def _indices_as_i32(em, indices, avals):
    """StableHLO wants all start indices of one type; use i32."""
    out = []
    for name, aval in zip(indices, avals):
        if aval.dtype != dtypes.int32:
            name = em.op1("stablehlo.convert", [name], [aval], ShapedArray((), dtypes.int32))
        out.append(name)
    return out, [ShapedArray((), dtypes.int32)] * len(indices)


@lowering_rules.register(st.dynamic_slice_p)
def _lower_dynamic_slice(em, x, *indices, slice_sizes):
    idx, idx_avals = _indices_as_i32(em, indices, em.in_avals[1:])
    return [
        em.op1(
            "stablehlo.dynamic_slice",
            [x, *idx],
            [em.in_avals[0], *idx_avals],
            em.out_avals[0],
            slice_sizes=i64_array(slice_sizes),
        )
    ]


@lowering_rules.register(st.dynamic_update_slice_p)
def _lower_dynamic_update_slice(em, x, update, *indices):
    idx, idx_avals = _indices_as_i32(em, indices, em.in_avals[2:])
    return [
        em.op1(
            "stablehlo.dynamic_update_slice",
            [x, update, *idx],
            [*em.in_avals[:2], *idx_avals],
            em.out_avals[0],
        )
    ]


@lowering_rules.register(st.concatenate_p)
def _lower_concatenate(em, *xs, dimension):
    return [
        em.op1(
            "stablehlo.concatenate",
            list(xs),
            em.in_avals,
            em.out_avals[0],
            dimension=f"{dimension} : i64",
        )
    ]


@lowering_rules.register(st.split_p)
def _lower_split(em, x, *, sizes, axis):
    out, start = [], 0
    shape = em.in_avals[0].shape
    for size, aval in zip(sizes, em.out_avals):
        lo, hi = [0] * len(shape), list(shape)
        lo[axis], hi[axis] = start, start + size
        out.append(
            em.op1(
                "stablehlo.slice",
                [x],
                em.in_avals,
                aval,
                start_indices=i64_array(lo),
                limit_indices=i64_array(hi),
                strides=i64_array([1] * len(shape)),
            )
        )
        start += size
    return out


@lowering_rules.register(st.pad_p)
def _lower_pad(em, x, value, *, padding_config):
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    return [
        em.op1(
            "stablehlo.pad",
            [x, value],
            em.in_avals,
            em.out_avals[0],
            edge_padding_low=i64_array(lo),
            edge_padding_high=i64_array(hi),
            interior_padding=i64_array(interior),
        )
    ]


@lowering_rules.register(st.bitcast_convert_type_p)
def _lower_bitcast(em, x, *, new_dtype):
    return [em.op1("stablehlo.bitcast_convert", [x], em.in_avals, em.out_avals[0])]


@lowering_rules.register(st.iota_p)
def _lower_iota(em, *, dtype, shape, dimension):
    return [
        em.op(
            "stablehlo.iota",
            [],
            [],
            [tensor_type(em.out_avals[0])],
            {"iota_dimension": f"{dimension} : i64"},
        )[0]
    ]


# --- reductions ---------------------------------------------------------------------


def _identity(kind, dtype):
    """The identity element of a monoid, as a Python value of `dtype`."""
    dtype = np.dtype(dtype)
    if kind in ("add", "or"):
        return 0 if kind == "add" else False
    if kind == "mul":
        return 1
    if kind == "and":  # all bits set (not 1: reduce_and is bitwise on integers)
        if dtype == dtypes.bool_:
            return True
        return np.iinfo(dtype).max if dtypes.is_unsigned(dtype) else -1
    if dtype == dtypes.bool_:
        return kind == "min"
    if dtypes.is_float(dtype):
        return -np.inf if kind == "max" else np.inf
    info = np.iinfo(dtype)
    return info.min if kind == "max" else info.max


_MONOID_OPS = {
    "add": "stablehlo.add",
    "mul": "stablehlo.multiply",
    "max": "stablehlo.maximum",
    "min": "stablehlo.minimum",
    "and": "stablehlo.and",
    "or": "stablehlo.or",
}


def _monoid_op(kind, dtype):
    if np.dtype(dtype) == dtypes.bool_:
        kind = {"add": "or", "mul": "and", "max": "or", "min": "and"}.get(kind, kind)
    return _MONOID_OPS[kind]


def _monoid_region(em, kind, dtype):
    s = ShapedArray((), dtype)
    op = _monoid_op(kind, dtype)
    return em.region([s, s], [s], lambda sub, a, b: [sub.op1(op, [a, b], [s, s], s)])


def _lower_reduce(kind):
    def rule(em, x, *, axes):
        aval, out = em.in_avals[0], em.out_avals[0]
        init = em.constant(_identity(kind, aval.dtype), _scalar(aval))
        region = _monoid_region(em, kind, aval.dtype)
        return em.op(
            "stablehlo.reduce",
            [x, init],
            [tensor_type(aval), tensor_type(_scalar(aval))],
            [tensor_type(out)],
            {"dimensions": i64_array(axes)},
            [region],
        )

    return rule


for _p, _kind in (
    (rd.reduce_sum_p, "add"),
    (rd.reduce_max_p, "max"),
    (rd.reduce_min_p, "min"),
    (rd.reduce_prod_p, "mul"),
    (rd.reduce_and_p, "and"),
    (rd.reduce_or_p, "or"),
):
    lowering_rules.register(_p)(_lower_reduce(_kind))


def _lower_argreduce(direction):
    def rule(em, x, *, axes, index_dtype):
        aval, out = em.in_avals[0], em.out_avals[0]
        axis = axes[0]
        idx_aval = aval.update(dtype=index_dtype, weak_type=False)
        iota = em.op(
            "stablehlo.iota", [], [], [tensor_type(idx_aval)], {"iota_dimension": f"{axis} : i64"}
        )[0]
        kind = "max" if direction == "GT" else "min"
        init_v = em.constant(_identity(kind, aval.dtype), _scalar(aval))
        init_i = em.constant(0, _scalar(idx_aval))
        sv, si = _scalar(aval), _scalar(idx_aval)
        is_float = dtypes.is_float(aval.dtype)

        def body(sub, a, ia, b, ib):
            better = compare(sub, a, b, direction, sv)
            if is_float:  # NaN wins, as in NumPy
                nan = compare(sub, a, a, "NE", sv)
                better = sub.op1("stablehlo.or", [better, nan], [_b(), _b()], _b())
            tie = compare(sub, a, b, "EQ", sv)
            first = compare(sub, ia, ib, "LT", si)
            tie = sub.op1("stablehlo.and", [tie, first], [_b(), _b()], _b())
            take_idx = sub.op1("stablehlo.or", [better, tie], [_b(), _b()], _b())
            v = sub.op1("stablehlo.select", [better, a, b], [_b(), sv, sv], sv)
            i = sub.op1("stablehlo.select", [take_idx, ia, ib], [_b(), si, si], si)
            return [v, i]

        # The variadic reducer's block args are (acc values..., then inputs...): here
        # (a, ia) and (b, ib) interleaved as XLA orders them: all lhs, then all rhs.
        region = em.region(
            [sv, si, sv, si], [sv, si], lambda sub, a, ia, b, ib: body(sub, a, ia, b, ib)
        )
        outs = em.op(
            "stablehlo.reduce",
            [x, iota, init_v, init_i],
            [tensor_type(aval), tensor_type(idx_aval), tensor_type(sv), tensor_type(si)],
            [tensor_type(out.update(dtype=aval.dtype)), tensor_type(out)],
            {"dimensions": i64_array(axes)},
            [region],
        )
        return [outs[1]]

    return rule


def _b():
    return ShapedArray((), dtypes.bool_)


lowering_rules.register(rd.argmax_p)(_lower_argreduce("GT"))
lowering_rules.register(rd.argmin_p)(_lower_argreduce("LT"))


def _reduce_window(
    em,
    x,
    kind,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
    in_aval,
    out_aval,
):
    init = em.constant(_identity(kind, in_aval.dtype), _scalar(in_aval))
    region = _monoid_region(em, kind, in_aval.dtype)
    pad = (
        f"dense<{[list(p) for p in padding]}> : tensor<{len(padding)}x2xi64>"
        if padding
        else "dense<> : tensor<0x2xi64>"
    )
    return em.op(
        "stablehlo.reduce_window",
        [x, init],
        [tensor_type(in_aval), tensor_type(_scalar(in_aval))],
        [tensor_type(out_aval)],
        {
            "window_dimensions": i64_array(window_dimensions),
            "window_strides": i64_array(window_strides),
            "base_dilations": i64_array(base_dilation),
            "window_dilations": i64_array(window_dilation),
            "padding": pad,
        },
        [region],
    )[0]


def _lower_reduce_window(kind):
    def rule(em, x, **params):
        return [
            _reduce_window(em, x, kind, in_aval=em.in_avals[0], out_aval=em.out_avals[0], **params)
        ]

    return rule


lowering_rules.register(rd.reduce_window_sum_p)(_lower_reduce_window("add"))
lowering_rules.register(rd.reduce_window_max_p)(_lower_reduce_window("max"))
lowering_rules.register(rd.reduce_window_min_p)(_lower_reduce_window("min"))


def _lower_cumulative(kind):
    def rule(em, x, *, axis, reverse):
        aval = em.in_avals[0]
        n, nd = aval.shape[axis], aval.ndim
        window = [1] * nd
        window[axis] = max(n, 1)
        pads = [(0, 0)] * nd
        pads[axis] = (0, n - 1) if reverse else (n - 1, 0)
        return [_reduce_window(em, x, kind, window, [1] * nd, pads, [1] * nd, [1] * nd, aval, aval)]

    return rule


lowering_rules.register(rd.cumsum_p)(_lower_cumulative("add"))
lowering_rules.register(rd.cumprod_p)(_lower_cumulative("mul"))
lowering_rules.register(rd.cummax_p)(_lower_cumulative("max"))
lowering_rules.register(rd.cummin_p)(_lower_cumulative("min"))


def _sort_key(sub, x, s):
    """Floats compare in total order after -0.0 -> 0.0 and any NaN -> +NaN, so that zeros
    tie (a stable sort keeps their order) and every NaN sorts last, as in jax and NumPy."""
    if not dtypes.is_float(s.dtype):
        return x
    zero, nan = sub.constant(0, s), sub.constant(np.nan, s)
    x = sub.op1("stablehlo.select", [compare(sub, x, zero, "EQ", s), zero, x], [_b(), s, s], s)
    return sub.op1("stablehlo.select", [compare(sub, x, x, "NE", s), nan, x], [_b(), s, s], s)


@lowering_rules.register(rd.sort_p)
def _lower_sort(em, *operands, dimension, is_stable, num_keys):
    avals = em.in_avals
    scalars = [_scalar(a) for a in avals]

    def key_parts(sub, x, s):
        # Complex keys sort lexicographically by (real, imag), as jax and NumPy.
        if not dtypes.is_complex(s.dtype):
            return [(x, s)]
        part = s.update(dtype=dtypes.real_dtype(s.dtype))
        return [(sub.op1(op, [x], [s], part), part) for op in ("stablehlo.real", "stablehlo.imag")]

    def comparator(sub, *args):
        lhs, rhs = args[0::2], args[1::2]
        parts = []  # (lhs key, rhs key, scalar aval), most significant first
        for k in range(num_keys):
            for (a, s), (b, _) in zip(
                key_parts(sub, lhs[k], scalars[k]), key_parts(sub, rhs[k], scalars[k])
            ):
                parts.append((a, b, s))
        result = None
        for a, b, s in reversed(parts):
            ctype = (
                "TOTALORDER"
                if dtypes.is_float(s.dtype)
                else (
                    "UNSIGNED"
                    if dtypes.is_unsigned(s.dtype) or dtypes.is_bool(s.dtype)
                    else "SIGNED"
                )
            )
            a, b = _sort_key(sub, a, s), _sort_key(sub, b, s)
            lt = sub.op1(
                "stablehlo.compare",
                [a, b],
                [s, s],
                _b(),
                comparison_direction="#stablehlo<comparison_direction LT>",
                compare_type=f"#stablehlo<comparison_type {ctype}>",
            )
            if result is None:
                result = lt
            else:
                eq = sub.op1(
                    "stablehlo.compare",
                    [a, b],
                    [s, s],
                    _b(),
                    comparison_direction="#stablehlo<comparison_direction EQ>",
                    compare_type=f"#stablehlo<comparison_type {ctype}>",
                )
                tie = sub.op1("stablehlo.and", [eq, result], [_b(), _b()], _b())
                result = sub.op1("stablehlo.or", [lt, tie], [_b(), _b()], _b())
        return [result]

    region_args = [s for s in scalars for _ in (0, 1)]
    region = em.region(region_args, [_b()], comparator)
    return em.op(
        "stablehlo.sort",
        list(operands),
        [tensor_type(a) for a in avals],
        [tensor_type(a) for a in em.out_avals],
        {"dimension": f"{dimension} : i64", "is_stable": "true" if is_stable else "false"},
        [region],
    )


# --- contractions ---------------------------------------------------------------------


@lowering_rules.register(la.dot_general_p)
def _lower_dot_general(
    em, lhs, rhs, *, dimension_numbers, precision=None, preferred_element_type=None
):
    (lc, rc), (lb, rb) = dimension_numbers
    in_avals = list(em.in_avals)
    k = len(lc)
    if not lb and k >= 2 and tuple(lc) == tuple(rc) == tuple(range(k)):
        # Both operands contract their k leading axes (a weight gradient, x^T @ dy over
        # batch and time): merge them first, as one row axis. XLA:CPU otherwise copies
        # the larger operand into a transposed layout before the product.
        merged = []
        for v, a in zip((lhs, rhs), in_avals):
            rows = int(np.prod(a.shape[:k], dtype=np.int64))
            m = a.update(shape=(rows, *a.shape[k:]))
            merged.append((em.op1("stablehlo.reshape", [v], [a], m), m))
        (lhs, a0), (rhs, a1) = merged
        in_avals, lc, rc = [a0, a1], (0,), (0,)
    fields = [
        ("lhs_batching_dimensions", lb),
        ("rhs_batching_dimensions", rb),
        ("lhs_contracting_dimensions", lc),
        ("rhs_contracting_dimensions", rc),
    ]
    dn = ", ".join(f"{name} = {int_list(v)}" for name, v in fields if v)
    out = em.out_avals[0]
    if in_avals[0].dtype != in_avals[1].dtype:
        # Mixed operands (int32 x float32) meet in the result's type first, as jax
        # lowers them; one dtype (with a wider result: int8 x int8 -> int32) goes as is.
        lhs, rhs = (_convert_to(em, v, a, out.dtype) for v, a in zip((lhs, rhs), in_avals))
        in_avals = [a.update(dtype=out.dtype) for a in in_avals]
    return [
        em.op1(
            "stablehlo.dot_general",
            [lhs, rhs],
            in_avals,
            out,
            dot_dimension_numbers=f"#stablehlo.dot<{dn}>",
            **_precision_attr(precision),
        )
    ]


def _precision_attr(precision):
    """precision_config, when the program asks for one (lax.Precision.HIGHEST keeps a GPU
    from computing a float32 contraction in a faster, lower-precision mode)."""
    pair = la.canonicalize_precision(precision)
    if pair is None:
        return {}
    return {
        "precision_config": "[" + ", ".join(f"#stablehlo<precision {p.name}>" for p in pair) + "]"
    }


def _convert_to(em, x, aval, dtype):
    if aval.dtype == dtype:
        return x
    return em.op1("stablehlo.convert", [x], [aval], aval.update(dtype=dtype))


def _conv_spec(spec, first, second):
    letters = [""] * len(spec)
    letters[spec[0]], letters[spec[1]] = first, second
    for i, d in enumerate(spec[2:]):
        letters[d] = str(i)
    return "[" + ", ".join(letters) + "]"


@lowering_rules.register(la.conv_general_dilated_p)
def _lower_conv(
    em,
    lhs,
    rhs,
    *,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision=None,
    preferred_element_type=None,
):
    dn = dimension_numbers
    spec = (
        f"{_conv_spec(dn.lhs_spec, 'b', 'f')}x{_conv_spec(dn.rhs_spec, 'o', 'i')}"
        f"->{_conv_spec(dn.out_spec, 'b', 'f')}"
    )
    n = len(padding)
    pad = f"dense<{[list(p) for p in padding]}> : tensor<{n}x2xi64>"
    return [
        em.op1(
            "stablehlo.convolution",
            [lhs, rhs],
            em.in_avals,
            em.out_avals[0],
            window_strides=i64_array(window_strides),
            padding=pad,
            lhs_dilation=i64_array(lhs_dilation),
            rhs_dilation=i64_array(rhs_dilation),
            dimension_numbers=f"#stablehlo.conv<{spec}>",
            feature_group_count=f"{feature_group_count} : i64",
            batch_group_count=f"{batch_group_count} : i64",
            **_precision_attr(precision),
        )
    ]


# --- indexing ---------------------------------------------------------------------------


def _dims_attr(name, fields):
    body = ", ".join(
        f"{k} = {int_list(v)}"
        for k, v in fields
        if v or k.endswith("map") or k == "scatter_dims_to_operand_dims"
    )
    return f"#stablehlo.{name}<{body}>"


@lowering_rules.register(ix.gather_p)
def _lower_gather(em, operand, indices, *, dimension_numbers, slice_sizes):
    dn = dimension_numbers
    idx_aval = em.in_avals[1]
    attr = _dims_attr(
        "gather",
        [
            ("offset_dims", dn.offset_dims),
            ("collapsed_slice_dims", dn.collapsed_slice_dims),
            ("operand_batching_dims", dn.operand_batching_dims),
            ("start_indices_batching_dims", dn.start_indices_batching_dims),
            ("start_index_map", dn.start_index_map),
        ],
    )
    attr = attr[:-1] + f", index_vector_dim = {idx_aval.ndim - 1}>"
    return [
        em.op1(
            "stablehlo.gather",
            [operand, indices],
            em.in_avals,
            em.out_avals[0],
            dimension_numbers=attr,
            indices_are_sorted="false",
            slice_sizes=i64_array(slice_sizes),
        )
    ]


def _lower_scatter(kind):
    def rule(
        em,
        operand,
        indices,
        updates,
        *,
        dimension_numbers,
        indices_are_sorted=False,
        unique_indices=False,
    ):
        dn = dimension_numbers
        aval, idx_aval = em.in_avals[0], em.in_avals[1]
        s = _scalar(aval)
        if kind == "set":
            region = em.region([s, s], [s], lambda sub, a, b: [b])
        else:
            region = _monoid_region(em, kind, aval.dtype)
        attr = _dims_attr(
            "scatter",
            [
                ("update_window_dims", dn.update_window_dims),
                ("inserted_window_dims", dn.inserted_window_dims),
                ("input_batching_dims", dn.operand_batching_dims),
                ("scatter_indices_batching_dims", dn.scatter_indices_batching_dims),
                ("scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims),
            ],
        )
        attr = attr[:-1] + f", index_vector_dim = {idx_aval.ndim - 1}>"
        return em.op(
            "stablehlo.scatter",
            [operand, indices, updates],
            [tensor_type(a) for a in em.in_avals],
            [tensor_type(em.out_avals[0])],
            {
                "scatter_dimension_numbers": attr,
                "indices_are_sorted": "true" if indices_are_sorted else "false",
                "unique_indices": "true" if unique_indices else "false",
            },
            [region],
        )

    return rule


lowering_rules.register(ix.scatter_p)(_lower_scatter("set"))
lowering_rules.register(ix.scatter_add_p)(_lower_scatter("add"))
lowering_rules.register(ix.scatter_mul_p)(_lower_scatter("mul"))
lowering_rules.register(ix.scatter_min_p)(_lower_scatter("min"))
lowering_rules.register(ix.scatter_max_p)(_lower_scatter("max"))


# --- calls ------------------------------------------------------------------------------


@lowering_rules.register(jit_p)
def _lower_jit(em, *args, jaxpr, name):
    # Inlined: XLA sees one program either way, and inlining keeps the text simple.
    return lower_jaxpr(em, jaxpr.jaxpr, [], list(args))
