"""Differential property tests: random small programs run through funcnet's
transformations and through jax's, and the results compared.

A program is a chain of 2-6 steps drawn from a menu of ops spelled the same in both
libraries: elementwise (unary, binary, where, maximum, stop_gradient, custom_jvp),
structural (transpose, reshape, slicing, flip, roll, concatenate, stack, broadcast,
lax.pad, take, dynamic_slice with a traced start, dynamic_update_slice, lax.split),
reductions, cumulative ops, sort, einsum, matmul with a fixed operand, and sub-chains
under checkpoint, jit, cond, switch, scan, map and fori_loop (nested up to two deep).
Each op is written once as a function of a library bundle (`Lib`), so the same program
runs on funcnet and on jax.

Checks: grad of a scalar loss and jvp on every program, plus one of vmap (in_axes 0, 1,
and an unbatched x with out_axes=-1), linearize, vmap of grad, grad of grad, jvp of
grad, and jacfwd(jacrev). Each example is one jitted program per library (XLA compile
time dominates the cost); a few examples run funcnet eagerly instead.

Data avoids kinks: inputs come from a seeded normal rng (no exact zeros), and ops that
copy values (gather, pad, broadcast, cummax) rescale each entry so that no later max,
sort or where sees ties.

Cases the generator turned up are pinned as plain tests at the end.
"""

import dataclasses
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funcnet as fn
import funcnet.numpy as fnp

TOL = 1e-4
B = 2  # batch size for the vmap checks
MAX_SIZE = 160  # elements in any intermediate array


class Lib(NamedTuple):
    np: Any
    lax: Any
    checkpoint: Any
    grad: Any
    jvp: Any
    vmap: Any
    linearize: Any
    stop_gradient: Any
    custom_jvp: Any
    jit: Any
    jacfwd: Any
    jacrev: Any
    custom_vjp: Any


FN = Lib(
    fnp,
    fn.lax,
    fn.checkpoint,
    fn.grad,
    fn.jvp,
    fn.vmap,
    fn.linearize,
    fn.stop_gradient,
    fn.custom_jvp,
    fn.jit,
    fn.jacfwd,
    fn.jacrev,
    fn.custom_vjp,
)
JX = Lib(
    jnp,
    jax.lax,
    jax.checkpoint,
    jax.grad,
    jax.jvp,
    jax.vmap,
    jax.linearize,
    jax.lax.stop_gradient,
    jax.custom_jvp,
    jax.jit,
    jax.jacfwd,
    jax.jacrev,
    jax.custom_vjp,
)


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    kw: tuple = ()  # sorted (key, value) pairs; values are ints, tuples or Steps

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.kw)
        return f"Step({self.name!r}{args})"


def step(name, **kw):
    return Step(name, tuple(sorted(kw.items())))


def const(seed, shape, scale=1.0):
    """A fixed operand (numpy, float32), the same on both sides."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def other(lib, x, y):
    """The second operand of a binary op: the program's second input while the shapes
    agree, else a smooth function of x."""
    return y if x.shape == y.shape else lib.np.cos(x)


def _sl(axis, s):
    return (slice(None),) * axis + (s,)


# --- the menu: op(lib, x, y, **params) -> new x ------------------------------------------

ELEMENTWISE = {
    "sin": lambda lib, x, y: lib.np.sin(x),
    "tanh": lambda lib, x, y: lib.np.tanh(x),
    "logistic": lambda lib, x, y: lib.lax.logistic(x),
    "exp_clip": lambda lib, x, y: lib.np.exp(lib.np.clip(x, -3.0, 3.0)),
    "expm1_clip": lambda lib, x, y: lib.np.expm1(lib.np.clip(x, -3.0, 3.0)),
    "log_abs": lambda lib, x, y: lib.np.log(lib.np.abs(x) + 1.0),
    "log1p_sq": lambda lib, x, y: lib.np.log1p(x * x),
    "sqrt": lambda lib, x, y: lib.np.sqrt(x * x + 1.0),
    "square": lambda lib, x, y: x * x * 0.5,
    "cube": lambda lib, x, y: x**3 * 0.1,
    "mul": lambda lib, x, y: x * other(lib, x, y),
    "add": lambda lib, x, y: x + other(lib, x, y),
    "div": lambda lib, x, y: x / (1.0 + other(lib, x, y) ** 2),
    "maximum": lambda lib, x, y: lib.np.maximum(x, other(lib, x, y)),
    "where": lambda lib, x, y: lib.np.where(x > 0, x, other(lib, x, y)),
    "stop_gradient": lambda lib, x, y: x * 0.5 + lib.stop_gradient(lib.np.sin(x)),
    "custom_jvp": lambda lib, x, y: custom_sin(lib)(x),
}

_CUSTOM = {}


def custom_sin(lib):
    """sin with a deliberately wrong (but smooth) custom derivative, 2 cos(x) t, so that a
    rule that is ignored shows up as a mismatch."""
    if lib.np not in _CUSTOM:
        f = lib.custom_jvp(lambda x: lib.np.sin(x))
        f.defjvp(lambda p, t: (f(p[0]), 2.0 * lib.np.cos(p[0]) * t[0]))
        _CUSTOM[lib.np] = f
    return _CUSTOM[lib.np]


def custom_sin_mul(lib):
    """(a, b) -> sin(a) b as a custom_vjp function whose backward rule is deliberately
    wrong in a (2 cos(a) b g) and right in b: fwd and bwd are written once."""
    key = ("vjp", lib.np)
    if key not in _CUSTOM:
        f = lib.custom_vjp(lambda a, b: lib.np.sin(a) * b)

        def fwd(a, b):
            return (lib.np.sin(a) * b, (lib.np.cos(a), lib.np.sin(a), b))

        def bwd(res, g):
            return (2.0 * res[0] * res[2] * g, res[1] * g)

        f.defvjp(fwd, bwd)
        _CUSTOM[key] = f
    return _CUSTOM[key]


def const_like(x, seed, shape, scale=1.0):
    """A fixed operand in x's dtype (so that a bfloat16 program stays bfloat16)."""
    return const(seed, shape, scale).astype(x.dtype)


def distinct(x, seed):
    """Scale every entry by its own factor, so that copies made by an op (gather, pad,
    broadcast) are no longer ties for a later max, sort or where."""
    return x * (1.0 + const(seed, x.shape, 0.1)).astype(x.dtype)


def _transpose(lib, x, y, perm):
    return lib.np.transpose(x, perm)


def _reshape(lib, x, y, shape):
    return lib.np.reshape(x, shape)


def _slice(lib, x, y, axis, start, stride):
    return x[_sl(axis, slice(start, None, stride))]


def _flip(lib, x, y, axis):
    return lib.np.flip(x, axis)


def _roll(lib, x, y, axis, shift):
    return lib.np.roll(x, shift, axis)


def _concat(lib, x, y, axis):
    return lib.np.concatenate([x, lib.np.sin(x) * 0.5 + 1.0], axis=axis)


def _stack(lib, x, y, axis):
    return lib.np.stack([x, lib.np.cos(x)], axis=axis)


def _broadcast(lib, x, y, seed):
    return distinct(lib.np.broadcast_to(x, (2,) + x.shape), seed)


def _pad(lib, x, y, config, seed):
    return distinct(lib.lax.pad(x, np.asarray(0.5, x.dtype), config), seed)


def _take(lib, x, y, axis, idx, seed):
    return distinct(lib.np.take(x, np.asarray(idx, np.int32), axis=axis), seed)


def _dynamic_slice(lib, x, y, starts, sizes):
    # the first start depends on the data: a traced index
    first = lib.np.where(lib.np.sum(x) > 0, starts[0], starts[0] + 1)
    return lib.lax.dynamic_slice(x, (first,) + starts[1:], sizes)


def _dynamic_update_slice(lib, x, y, starts, sizes):
    update = lib.np.sin(x[tuple(slice(0, s) for s in sizes)]) * 2.0
    return lib.lax.dynamic_update_slice(x, update, starts)


def _bcast_const(lib, x, y, k, seed):
    return x * const_like(x, seed, x.shape[k:]) + 0.25


def _center(lib, x, y, axis):
    return x - lib.np.mean(x, axis=axis, keepdims=True)


def _reduce(lib, x, y, kind, axis):
    return getattr(lib.np, kind)(x, axis=axis)


def _einsum(lib, x, y):
    return lib.np.einsum("...i,...i->...", x, other(lib, x, y))


def _cumsum(lib, x, y, axis):
    return lib.np.cumsum(x, axis=axis) * 0.5


def _cumulative(lib, x, y, kind, axis, reverse, seed):
    out = getattr(lib.lax, kind)(x, axis=axis, reverse=reverse)
    return distinct(out, seed) if kind == "cummax" else out  # cummax repeats values


def _sort(lib, x, y, axis):
    return lib.np.sort(x, axis=axis)


def _matmul(lib, x, y, k, seed):
    return x @ const_like(x, seed, (x.shape[-1], k), 1 / np.sqrt(max(x.shape[-1], 1)))


def _split(lib, x, y, sizes, axis):
    parts = lib.lax.split(x, sizes, axis)
    return lib.np.concatenate([p * (i + 1.0) for i, p in enumerate(parts[::-1])], axis=axis)


def _checkpoint(lib, x, y, body):
    return lib.checkpoint(lambda a, b: run_steps(lib, body, a, b))(x, y)


def _jit(lib, x, y, body):
    return lib.jit(lambda a, b: run_steps(lib, body, a, b))(x, y)


def _cond(lib, x, y, true, false):
    return lib.lax.cond(
        lib.np.sum(x) > 0,
        lambda a, b: run_steps(lib, true, a, b),
        lambda a, b: run_steps(lib, false, a, b),
        x,
        y,
    )


def _switch(lib, x, y, branches):
    index = lib.np.sum(x > 0) % 3  # data-dependent, clamped to the branches
    return lib.lax.switch(
        index, [lambda a, b, s=s: run_steps(lib, s, a, b) for s in branches], x, y
    )


def _scan(lib, x, y, body, reverse):
    def cell(c, xs):
        xt, yt = xs
        h = lib.np.tanh(c * 0.5 + run_steps(lib, body, xt, yt))
        return h, h * xt + c

    init = lib.np.zeros(x.shape[1:], x.dtype)  # (x[0] does not exist when x is empty)
    _, ys = lib.lax.scan(cell, init, (x, other(lib, x, y)), reverse=reverse)
    return ys


def _map(lib, x, y, body):
    return lib.lax.map(lambda r: run_steps(lib, body, r[0], r[1]), (x, other(lib, x, y)))


def _fori(lib, x, y, body, n):
    # the body closes over y: a captured constant inside the loop
    return lib.lax.fori_loop(0, n, lambda i, c: c * 0.5 + run_steps(lib, body, c, y) * 0.5, x)


CONV_LAYOUTS = {
    (1, True): ("NWC", "WIO", "NWC"),
    (1, False): ("NCW", "OIW", "NCW"),
    (2, True): ("NHWC", "HWIO", "NHWC"),
    (2, False): ("NCHW", "OIHW", "NCHW"),
}


def _conv_geometry(shape, spatial, last):
    """(lhs shape, feature axis of lhs, spatial axes of lhs) for x read as a convolution's
    input with batch (N, W, C) / (N, C, W), or without: (W, C), (H, W, C) / (C, H, W),
    to which a batch of one is added."""
    lhs = shape if len(shape) == spatial + 2 else (1,) + shape
    feat = len(lhs) - 1 if last else 1
    return lhs, feat, [a for a in range(1, len(lhs)) if a != feat]


def _conv(
    lib, x, y, spatial, last, strides, padding, lhs_dil, rhs_dil, groups, out_ch, ksize, seed
):
    lhs_shape, feat, _ = _conv_geometry(x.shape, spatial, last)
    c = lhs_shape[feat]
    kshape = ksize + (c // groups, out_ch) if last else (out_ch, c // groups) + ksize
    # a fixed kernel, scaled by a smooth function of y: grad w.r.t. y goes through the
    # kernel's cotangent, and vmap over y batches the kernel
    kernel = const_like(x, seed, kshape, 1 / np.sqrt(np.prod(kshape[:-1] if last else kshape[1:])))
    kernel = kernel * (1.0 + 0.25 * lib.np.tanh(lib.np.mean(y)))
    batched = x.ndim == spatial + 2
    out = lib.lax.conv_general_dilated(
        x if batched else x[None],
        kernel,
        strides,
        padding,
        lhs_dilation=lhs_dil,
        rhs_dilation=rhs_dil,
        dimension_numbers=CONV_LAYOUTS[spatial, last],
        feature_group_count=groups,
    )
    return out if batched else out[0]


def _window_out(d, w, s, lo, hi, base=1, wdil=1):
    return ((d - 1) * base + 1 + lo + hi - ((w - 1) * wdil + 1)) // s + 1


def conv_out_shape(shape, kw):
    lhs, feat, sp = _conv_geometry(shape, kw["spatial"], kw["last"])
    pads = kw["padding"]
    if isinstance(pads, str):
        pads = [(0, 0)] * len(sp) if pads == "VALID" else None
    out = list(lhs)
    out[feat] = kw["out_ch"]
    for i, a in enumerate(sp):
        if pads is None:  # SAME (no lhs dilation)
            out[a] = -(-lhs[a] // kw["strides"][i])
        else:
            out[a] = _window_out(
                lhs[a] * 1,
                kw["ksize"][i],
                kw["strides"][i],
                *pads[i],
                base=kw["lhs_dil"][i],
                wdil=kw["rhs_dil"][i],
            )
    return tuple(out) if len(shape) == kw["spatial"] + 2 else tuple(out[1:])


def _pool(lib, x, y, kind, window, strides, padding, wdil):
    # the init value a numpy constant: jax differentiates only a concrete monoid identity
    if kind == "max":
        return lib.lax.reduce_window(
            x,
            np.asarray(-np.inf, x.dtype),
            lib.lax.max,
            window,
            strides,
            padding,
            window_dilation=wdil,
        )
    total = lib.lax.reduce_window(
        x, np.asarray(0.0, x.dtype), lib.lax.add, window, strides, padding, window_dilation=wdil
    )
    return total / float(np.prod(window))


def _index(axis, idx, idx2):
    """An integer-array index: idx on `axis`, and idx2 (if any) on the axis after it or,
    for a rank-3 operand, two axes after it (advanced indices split by a slice)."""
    first = np.asarray(idx, np.int32)
    if idx2 is None:
        return _sl(axis, first)
    gap, second = idx2
    return _sl(axis, first) + (slice(None),) * gap + (np.asarray(second, np.int32),)


def _gather(lib, x, y, axis, idx, idx2, seed):
    return distinct(x[_index(axis, idx, idx2)], seed)


def _scatter(lib, x, y, kind, axis, idx, idx2, seed):
    at = x.at[_index(axis, idx, idx2)]
    src = other(lib, x, y)[_index(axis, idx, idx2)]
    if kind == "add":  # repeated indices accumulate
        return at.add(lib.np.sin(src) * 0.5)
    if kind == "set":  # unique indices (which of repeated ones wins is unspecified)
        return at.set(lib.np.tanh(src))
    # repeated indices multiply twice; the factors are constants, so no derivative
    # w.r.t. them is asked (jax has none for repeated indices)
    return at.multiply((1.0 + const(seed, src.shape, 0.3)).astype(x.dtype))


def _custom_vjp(lib, x, y):
    return custom_sin_mul(lib)(x, other(lib, x, y))


def _while(lib, x, y, body, n, dyn):
    # a counted loop (forward mode only: jax and funcnet refuse reverse mode through
    # while_loop). With dyn the trip count depends on the data, so under vmap each
    # example stops at its own step: a batched predicate
    limit = lib.np.where(lib.np.sum(x) > 0, n, n + 1) if dyn else n
    return lib.lax.while_loop(
        lambda c: c[0] < limit,
        lambda c: (c[0] + 1, c[1] * 0.5 + run_steps(lib, body, c[1], y) * 0.5),
        (0, x),
    )[1]


OPS = dict(
    ELEMENTWISE,
    transpose=_transpose,
    reshape=_reshape,
    slice=_slice,
    flip=_flip,
    roll=_roll,
    concat=_concat,
    stack=_stack,
    broadcast=_broadcast,
    pad=_pad,
    take=_take,
    dynamic_slice=_dynamic_slice,
    dynamic_update_slice=_dynamic_update_slice,
    bcast_const=_bcast_const,
    center=_center,
    reduce=_reduce,
    einsum=_einsum,
    cumsum=_cumsum,
    cumulative=_cumulative,
    sort=_sort,
    matmul=_matmul,
    split=_split,
    checkpoint=_checkpoint,
    jit=_jit,
    cond=_cond,
    switch=_switch,
    scan=_scan,
    map=_map,
    fori=_fori,
    conv=_conv,
    pool=_pool,
    gather=_gather,
    scatter=_scatter,
    custom_vjp=_custom_vjp,
    while_loop=_while,
)
# ops left out of the default menu: custom_vjp has no forward mode, while_loop no reverse
# mode; test_random_programs_reverse and _forward add them.
# The ops added last are drawn more often: conv applies to rank 2 and 3 only.
MENU = (
    tuple(sorted(set(OPS) - {"custom_vjp", "while_loop"}))
    + ("conv",) * 3
    + ("pool", "gather", "scatter")
)
NESTED = ("checkpoint", "jit", "cond", "switch")  # ops that apply to any shape, scalars too


def run_steps(lib, steps, x, y):
    for s in steps:
        x = OPS[s.name](lib, x, y, **dict(s.kw))
    return x


# --- the generator ----------------------------------------------------------------------


def out_shape(s, shape):
    """The shape after step `s` (kept by hand: jax.eval_shape per step would cost more
    than the generation is worth)."""
    kw = dict(s.kw)
    a = kw.get("axis")
    if s.name == "transpose":
        return tuple(shape[p] for p in kw["perm"])
    if s.name == "reshape":
        return kw["shape"]
    if s.name == "slice":
        return shape[:a] + (len(range(kw["start"], shape[a], kw["stride"])),) + shape[a + 1 :]
    if s.name == "concat":
        return shape[:a] + (2 * shape[a],) + shape[a + 1 :]
    if s.name == "stack":
        return shape[:a] + (2,) + shape[a:]
    if s.name == "broadcast":
        return (2,) + shape
    if s.name == "pad":
        return tuple(_padded(d, *c) for d, c in zip(shape, kw["config"]))
    if s.name == "take":
        return shape[:a] + (len(kw["idx"]),) + shape[a + 1 :]
    if s.name == "dynamic_slice":
        return kw["sizes"]
    if s.name == "reduce":
        return shape[:a] + shape[a + 1 :]
    if s.name == "einsum":
        return shape[:-1]
    if s.name == "matmul":
        return shape[:-1] + (kw["k"],)
    if s.name == "conv":
        return conv_out_shape(shape, kw)
    if s.name == "pool":
        return tuple(
            _window_out(d, w, st_, lo, hi, wdil=wd)
            for d, w, st_, (lo, hi), wd in zip(
                shape, kw["window"], kw["strides"], kw["padding"], kw["wdil"]
            )
        )
    if s.name == "gather":
        return np.empty(shape, np.int8)[_index(a, kw["idx"], kw["idx2"])].shape
    if s.name in ("checkpoint", "jit"):
        for t in kw["body"]:
            shape = out_shape(t, shape)
    return shape  # elementwise and the other shape-preserving ops


def _padded(d, lo, hi, interior):
    return lo + hi + d + max(d - 1, 0) * interior


MAX_DEPTH = 2  # a control-flow body may hold one more level of control flow


def _body(draw, shape, depth, loop, menu, n=2):
    """A shape-preserving sub-chain for a cond/switch/scan/map/fori/while body."""
    return draw(chains(shape, 1, n, depth + 1, loop, preserve=True, menu=menu))


def _index_params(draw, shape, unique=False):
    """(axis, idx, idx2) for `_index`: 1-d or 2-d integer arrays, repeated and negative
    entries allowed unless `unique`."""
    nd = len(shape)
    a = draw(st.integers(0, nd - 1))
    d = shape[a]
    ints = st.integers(-d, d - 1)
    if unique:
        n = draw(st.integers(2, d))
        idx = tuple(int(i) - d * draw(st.booleans()) for i in draw(st.permutations(range(d)))[:n])
        return a, idx, None
    pair_gaps = [g for g in (0, 1) if a + 1 + g < nd]
    if pair_gaps and draw(st.booleans()):  # two advanced indices, broadcast together
        n = draw(st.integers(2, 4))
        gap = draw(st.sampled_from(pair_gaps))
        e = shape[a + 1 + gap]
        return (
            a,
            tuple(draw(st.lists(ints, min_size=n, max_size=n))),
            (gap, tuple(draw(st.lists(st.integers(-e, e - 1), min_size=n, max_size=n)))),
        )
    if draw(st.booleans()):  # a 2-d index array
        rows = draw(st.integers(2, 3))
        return (
            a,
            tuple(tuple(draw(st.lists(ints, min_size=2, max_size=2))) for _ in range(rows)),
            None,
        )
    return a, tuple(draw(st.lists(ints, min_size=2, max_size=5))), None


def _conv_params(draw, shape):
    if len(shape) not in (2, 3) or 0 in shape:  # (test_zero_size covers empty convs)
        return None
    spatial, last = draw(st.integers(1, len(shape) - 1)), draw(st.booleans())
    lhs, feat, sp = _conv_geometry(shape, spatial, last)
    c = lhs[feat]
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    out_ch = groups * draw(st.integers(1, 2)) if groups > 1 else draw(st.integers(2, 3))
    n = len(sp)
    ksize = tuple(draw(st.integers(1, 3)) for _ in range(n))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(n))
    lhs_dil = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(n))
    rhs_dil = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(n))
    if all(d == 1 for d in lhs_dil) and draw(st.booleans()):
        padding = draw(st.sampled_from(["SAME", "VALID"]))
    else:
        padding = tuple(draw(st.tuples(st.integers(-1, 2), st.integers(-1, 2))) for _ in range(n))
    return step(
        "conv",
        spatial=spatial,
        last=last,
        strides=strides,
        padding=padding,
        lhs_dil=lhs_dil,
        rhs_dil=rhs_dil,
        groups=groups,
        out_ch=out_ch,
        ksize=ksize,
        seed=draw(st.integers(0, 2**16)),
    )


def _pool_params(draw, shape):
    if 0 in shape:  # (test_zero_size covers empty pooling)
        return None
    kind = draw(st.sampled_from(["max", "avg"]))
    window, strides, padding, wdil = [], [], [], []
    for d in shape:
        w = draw(st.integers(1, min(3, d)))
        # (jax has no derivative of max pooling with window dilation)
        dilate = kind == "avg" and (w - 1) * 2 + 1 <= d
        wd = draw(st.sampled_from([1, 1, 2])) if dilate else 1
        # padding below the window size: every window holds a real entry (no -inf)
        lo, hi = draw(st.tuples(st.integers(0, w - 1), st.integers(0, w - 1)))
        window.append(w), strides.append(draw(st.integers(1, 2)))
        padding.append((lo, hi)), wdil.append(wd)
    return step(
        "pool",
        kind=kind,
        window=tuple(window),
        strides=tuple(strides),
        padding=tuple(padding),
        wdil=tuple(wdil),
    )


def _draw_params(draw, name, shape, depth, loop, menu):
    """Parameters for op `name` on an input of `shape`, or None if it does not apply."""
    nd = len(shape)

    def seed():
        return draw(st.integers(0, 2**16))

    def axis(ok=lambda d: True):
        axes = [a for a in range(nd) if ok(shape[a])]
        return draw(st.sampled_from(axes)) if axes else None

    if name == "custom_vjp":
        return step(name)
    if name == "custom_jvp" and loop:
        # Inside a loop body jax drops a custom_jvp rule once it has linearized the body
        # (partial evaluation inlines the function), so its second derivatives there
        # differ from funcnet's, which keeps the rule: see
        # test_custom_jvp_rule_kept_at_second_order_in_scan.
        return None
    if name in ELEMENTWISE:
        return step(name)
    if nd == 0 and name not in NESTED:
        return None  # a scan/map body sees scalars when the input is a vector
    if name == "transpose" and nd >= 2:
        return step(name, perm=tuple(draw(st.permutations(range(nd)))))
    if name == "reshape":
        cands = [shape[::-1]] if nd >= 2 else []
        cands += [shape[:i] + (shape[i] * shape[i + 1],) + shape[i + 2 :] for i in range(nd - 1)]
        cands += [
            shape[:i] + (2, d // 2) + shape[i + 1 :]
            for i, d in enumerate(shape)
            if d % 2 == 0 and d >= 4 and nd < 3
        ]
        cands = [c for c in cands if c != shape]
        return step(name, shape=draw(st.sampled_from(cands))) if cands else None
    if name == "slice":
        a = axis(lambda d: d >= 3)
        if a is None:
            return None
        start, stride = draw(st.sampled_from([(1, 1), (0, 2), (1, 2)]))
        if len(range(start, shape[a], stride)) < 2:
            start, stride = 1, 1
        return step(name, axis=a, start=start, stride=stride)
    if name in ("flip", "cumsum", "sort"):
        return step(name, axis=axis())
    if name == "roll":
        return step(name, axis=axis(), shift=draw(st.sampled_from([-1, 1, 2])))
    if name == "concat":
        a = axis(lambda d: d <= 5)
        return None if a is None else step(name, axis=a)
    if name == "stack" and nd < 3:
        return step(name, axis=draw(st.integers(0, nd)))
    if name == "broadcast" and nd < 3:
        return step(name, seed=seed())
    if name == "pad":
        # an empty axis stays empty or gets two padding values
        config = tuple(
            draw(
                st.tuples(st.integers(-1, 1), st.integers(-1, 1), st.integers(0, 1)).filter(
                    lambda c, d=d: 2 <= _padded(d, *c) <= 8 or (d == 0 and _padded(d, *c) == 0)
                )
            )
            for d in shape
        )
        return step(name, config=config, seed=seed())
    if name == "take":
        a = axis(lambda d: d > 0)
        if a is None:
            return None
        idx = tuple(draw(st.lists(st.integers(0, shape[a] - 1), min_size=2, max_size=5)))
        return step(name, axis=a, idx=idx, seed=seed())
    if name in ("dynamic_slice", "dynamic_update_slice"):
        sizes = tuple(draw(st.integers(1 if d > 2 else min(d, 2), d)) for d in shape)
        # starts past either end are clamped, negative ones count from the end
        starts = tuple(draw(st.integers(-d, d - s + 1)) for d, s in zip(shape, sizes))
        if name == "dynamic_slice":  # (no new axis below 2; an empty one stays empty)
            sizes = tuple(max(s, 2) if d else 0 for s, d in zip(sizes, shape))
        return step(name, starts=starts, sizes=sizes)
    if name == "bcast_const" and nd >= 2:
        return step(name, k=draw(st.integers(1, nd - 1)), seed=seed())
    if name == "center" and nd >= 2:
        return step(name, axis=axis())
    if name == "reduce" and nd >= 2:
        kind = draw(st.sampled_from(["sum", "mean", "max", "min", "prod", "var"]))
        # jnp refuses max/min over an empty axis; mean and var of one are nan
        a = axis() if kind in ("sum", "prod") else axis(lambda d: d > 0)
        return None if a is None else step(name, kind=kind, axis=a)
    if name == "einsum" and nd >= 2:
        return step(name)
    if name == "cumulative":
        kind = draw(st.sampled_from(["cumsum", "cumprod", "cummax"]))
        return step(name, kind=kind, axis=axis(), reverse=draw(st.booleans()), seed=seed())
    if name == "matmul":
        return step(name, k=draw(st.integers(2, 4)), seed=seed())
    if name == "split":
        a = axis(lambda d: d >= 2)
        if a is None:
            return None
        n = shape[a]
        # a cut at either end makes an empty piece
        cuts = sorted(draw(st.sets(st.integers(0, n), min_size=1, max_size=2)))
        sizes = tuple(np.diff([0, *cuts, n]).tolist())
        return step(name, sizes=sizes, axis=a)
    if name == "conv":
        return _conv_params(draw, shape)
    if name == "pool":
        return _pool_params(draw, shape)
    if name in ("gather", "scatter") and 0 in shape:
        return None  # no index fits an empty axis (test_zero_size covers empty indices)
    if name == "gather":
        a, idx, idx2 = _index_params(draw, shape)
        return step(name, axis=a, idx=idx, idx2=idx2, seed=seed())
    if name == "scatter":
        kind = draw(st.sampled_from(["add", "set", "multiply"]))
        a, idx, idx2 = _index_params(draw, shape, unique=kind == "set")
        return step(name, kind=kind, axis=a, idx=idx, idx2=idx2, seed=seed())
    if depth >= MAX_DEPTH:
        return None
    if name in ("checkpoint", "jit"):
        return step(name, body=draw(chains(shape, 1, 3, depth + 1, loop, menu=menu)))
    if name == "cond":
        return step(
            name,
            true=_body(draw, shape, depth, loop, menu),
            false=_body(draw, shape, depth, loop, menu),
        )
    if name == "switch":
        return step(
            name, branches=tuple(_body(draw, shape, depth, loop, menu, 1) for _ in range(3))
        )
    if name == "while_loop":
        return step(
            name,
            body=_body(draw, shape, depth, True, menu),
            n=draw(st.integers(1, 3)),
            dyn=draw(st.booleans()),
        )
    if nd == 0:
        return None
    if name == "scan":
        return step(
            name, body=_body(draw, shape[1:], depth, True, menu), reverse=draw(st.booleans())
        )
    if name == "map":
        return step(name, body=_body(draw, shape[1:], depth, True, menu))
    if name == "fori":
        return step(name, body=_body(draw, shape, depth, True, menu), n=draw(st.integers(1, 3)))
    return None


@st.composite
def chains(draw, shape, min_steps, max_steps, depth=0, loop=False, preserve=False, menu=MENU):
    steps = []
    n = draw(st.integers(min_steps, max_steps))
    while len(steps) < n:
        s = _draw_params(draw, draw(st.sampled_from(menu)), shape, depth, loop, menu)
        if s is None:
            continue
        # never down to a scalar (the ops take axes), no axis of 1 (empty ones are
        # fine), never past MAX_SIZE
        new = out_shape(s, shape)
        if (
            (not new and shape)
            or min(new, default=0) < 0
            or 1 in new
            or int(np.prod(new)) > MAX_SIZE
            or (preserve and new != shape)
        ):
            continue
        steps.append(s)
        shape = new
    return tuple(steps)


# Sizes of the input's axes: sometimes zero, so that every rule meets empty arrays.
DIMS = st.sampled_from((2, 3, 4, 5) * 2 + (0,))  # (hypothesis starts from the first)


class Program(NamedTuple):
    shape: tuple
    steps: tuple
    seed: int


@st.composite
def programs(draw, menu=MENU, force=None, max_steps=6):
    """A program; with `force`, one step of that op is put somewhere in the chain."""
    shape = tuple(draw(st.lists(DIMS, min_size=1, max_size=3)))
    steps = draw(chains(shape, 2 - bool(force), max_steps - bool(force), menu=menu))
    if force:
        at = draw(st.integers(0, len(steps)))
        here = shape
        for t in steps[:at]:
            here = out_shape(t, here)
        steps = steps[:at] + (_draw_params(draw, force, here, 0, False, menu),) + steps[at:]
    return Program(shape, steps, draw(st.integers(0, 2**16)))


# --- the checks -------------------------------------------------------------------------


def inputs(prog, dtype=np.float32):
    r = np.random.default_rng(prog.seed)
    s = prog.shape

    def n(*shape):
        return r.standard_normal(shape).astype(np.float32).astype(dtype)

    out = s
    for t in prog.steps:
        out = out_shape(t, out)
    return {
        "x": n(*s),
        "y": n(*s),
        "tx": n(*s),
        "ty": n(*s),
        "v": n(*s),
        "w": n(*out),
        "xb": n(B, *s),
        "xb1": n(s[0], B, *s[1:]),
        "yb1": n(s[0], B, *s[1:]),
        "s": n(),
        "ts": n(),
        "sb": n(B),
    }


def checks(lib, steps, w, v):
    """Every transformation of one program, each a function of the arrays of `inputs`."""

    def f(x, y):
        return run_steps(lib, steps, x, y)

    def loss(x, y):
        return lib.np.sum(f(x, y) * w)

    def gx(x, y):
        return lib.grad(loss)(x, y)

    def tree_f(p):
        return {
            "out": f(p["a"] * p["bc"][1], p["bc"][0]),
            "aux": (p["bc"][0] * p["bc"][1], lib.np.sum(p["a"] ** 2)),
        }

    def tree_loss(p):
        return (
            lib.np.sum(tree_f(p)["out"] * w)
            + lib.np.sum(tree_f(p)["aux"][0] * v)
            + tree_f(p)["aux"][1]
        )

    def tree_in(d, a, b, c):
        return {"a": d[a], "bc": (d[b], d[c])}

    return {
        "grad": lambda d: lib.grad(loss, argnums=(0, 1))(d["x"], d["y"]),
        "jvp": lambda d: lib.jvp(f, (d["x"], d["y"]), (d["tx"], d["ty"])),
        "vmap0": lambda d: lib.vmap(f, in_axes=(0, None))(d["xb"], d["y"]),
        "vmap1": lambda d: lib.vmap(f, in_axes=(1, 1))(d["xb1"], d["yb1"]),
        "vmap_y": lambda d: lib.vmap(f, in_axes=(None, 1), out_axes=-1)(d["x"], d["yb1"]),
        "linearize": lambda d: lib.linearize(f, d["x"], d["y"])[1](d["tx"], d["ty"]),
        "vmap_grad": lambda d: lib.vmap(gx, in_axes=(0, None))(d["xb"], d["y"]),
        "grad_grad": lambda d: lib.grad(lambda x, y: lib.np.sum(gx(x, y) * v), argnums=(0, 1))(
            d["x"], d["y"]
        ),
        "jvp_grad": lambda d: lib.jvp(gx, (d["x"], d["y"]), (d["tx"], d["ty"])),
        "hessian": lambda d: lib.jacfwd(lib.jacrev(loss))(d["x"], d["y"]),
        "jacfwd": lambda d: lib.jacfwd(f, argnums=(0, 1))(d["x"], d["y"]),
        # pytrees in and out: p = {"a": x, "bc": (y, s)} with s a scalar
        "tree_grad": lambda d: lib.grad(tree_loss)(tree_in(d, "x", "y", "s")),
        "tree_jvp": lambda d: lib.jvp(
            tree_f, (tree_in(d, "x", "y", "s"),), (tree_in(d, "tx", "ty", "ts"),)
        ),
        "tree_vmap": lambda d: lib.vmap(
            tree_f, in_axes=({"a": 0, "bc": (None, 0)},), out_axes={"out": -1, "aux": 0}
        )(tree_in(d, "xb", "y", "sb")),
        "tree_vmap_grad": lambda d: lib.vmap(
            lib.grad(tree_loss), in_axes=({"a": None, "bc": (1, 0)},)
        )(tree_in(d, "x", "yb1", "sb")),
    }


CHECKS = (
    "vmap0",
    "vmap1",
    "vmap_y",
    "linearize",
    "vmap_grad",
    "grad_grad",
    "jvp_grad",
    "hessian",
)  # the extra transforms of test_random_programs_jit
VMAPS = ("vmap0", "vmap1", "vmap_y")


def compare(got, want, what="", tol=TOL):
    flat_w, tree_w = jax.tree_util.tree_flatten_with_path(want)
    flat_g, tree_g = jax.tree_util.tree_flatten(got)
    assert tree_g == jax.tree_util.tree_structure(want), f"{what}: {tree_g} != {tree_w}"
    for (path, w), g in zip(flat_w, flat_g):
        w, g = np.asarray(w), np.asarray(g)
        where = f"{what}{jax.tree_util.keystr(path)}"
        assert (g.shape, g.dtype) == (w.shape, w.dtype), (
            f"{where}: {g.dtype}{list(g.shape)} != {w.dtype}{list(w.shape)}"
        )
        w, g = w.astype(np.float64), g.astype(np.float64)
        scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=where)


def run_checks(prog, names, eager=False, dtype=np.float32, tol=TOL):
    """The checks `names` of `prog`, jitted as one program on each side (XLA compile time
    dominates, so an example runs a few checks rather than all)."""
    d = inputs(prog, dtype)

    def pick(cs):
        return lambda d: {k: cs[k](d) for k in names}

    want = jax.jit(pick(checks(JX, prog.steps, d["w"], d["v"])))(d)
    got = (pick if eager else lambda g: fn.jit(pick(g)))(checks(FN, prog.steps, d["w"], d["v"]))(d)
    compare(got, want, f"{prog} {'eager' if eager else 'jit'}: ", tol)


# CI's budget; set FUNCNET_PROPERTY_EXAMPLES=500 (say) locally to search harder.
EXAMPLES = int(os.environ.get("FUNCNET_PROPERTY_EXAMPLES", "18"))
COMMON = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=EXAMPLES, **COMMON)
@given(programs(), st.sampled_from(CHECKS))
def test_random_programs_jit(prog, check):
    """grad and jvp (which carries the value) of every program, and one more transform."""
    run_checks(prog, ("grad", "jvp", check))


@settings(max_examples=max(2, EXAMPLES // 10), **COMMON)
@given(programs())
def test_random_programs_eager(prog):
    run_checks(prog, ("grad", "jvp"), eager=True)


FEW = max(2, EXAMPLES // 5)


@settings(max_examples=FEW, **COMMON)
@given(programs(max_steps=4))
def test_random_programs_pytrees(prog):
    """Dicts and tuples in and out, through grad, jvp, vmap (in_axes and out_axes as
    pytrees) and vmap of grad."""
    run_checks(prog, ("tree_grad", "tree_jvp", "tree_vmap", "tree_vmap_grad"))


@settings(max_examples=FEW, **COMMON)
@given(programs(MENU + ("custom_vjp",), force="custom_vjp"), st.sampled_from(VMAPS))
def test_random_programs_reverse(prog, check):
    """Programs holding a custom_vjp function (no forward mode): grad and vmap of grad."""
    run_checks(prog, ("grad", "vmap_grad", check))


@settings(max_examples=FEW, **COMMON)
@given(programs(MENU + ("while_loop",), force="while_loop"), st.sampled_from(VMAPS + ("jacfwd",)))
def test_random_programs_forward(prog, check):
    """Programs holding a while_loop (no reverse mode): jvp, and vmap or jacfwd."""
    run_checks(prog, ("jvp", check))


LOW = {"bfloat16": (jnp.bfloat16, 5e-2), "float16": (np.float16, 1e-2)}


@settings(max_examples=FEW, **COMMON)
@given(programs(max_steps=4), st.sampled_from(sorted(LOW)), st.sampled_from(VMAPS))
def test_random_programs_low_precision(prog, dtype, check):
    """bfloat16 and float16 programs against jax's at the same precision."""
    dt, tol = LOW[dtype]
    run_checks(prog, ("grad", "jvp", check), dtype=dt, tol=tol)


# --- cases the generator turned up, pinned - ---------------------------------------------


def test_custom_jvp_rule_kept_at_second_order_in_scan():
    """The custom rule of a custom_jvp function is used at every order, inside a scan as
    outside it. (jax drops the rule inside a scan once the body is linearized, and gives
    the true function's second derivative there; the generator keeps custom_jvp out of
    loop bodies for that reason.)"""
    x = np.array([0.3, 0.7, -1.1], np.float32)
    f = custom_sin(FN)  # sin with the rule d f = 2 cos(x) dx

    def plain(x):
        return fnp.sum(f(x) ** 2)

    def looped(x):
        return fnp.sum(fn.lax.scan(lambda c, xt: (c, f(xt)), 0.0, x)[1] ** 2)

    want = 8 * np.cos(x) ** 2 - 4 * np.sin(x) ** 2  # d/dx (2 f(x) * 2 cos(x))
    for g in (plain, looped):
        second = fn.grad(lambda x, g=g: fnp.sum(fn.grad(g)(x)))
        np.testing.assert_allclose(second(x), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fn.jit(second)(x), want, rtol=1e-5, atol=1e-5)


def _remat_over_control_flow(lib, kind):
    """checkpoint around a cond or scan whose primal output a later op multiplies a
    tangent by (sin's derivative reads it)."""

    def body(a, b):
        if kind == "cond":
            h = lib.lax.cond(lib.np.sum(a) > 0, lambda a, b: a + b, lambda a, b: a - b, a, b)
        else:
            h = lib.lax.scan(lambda c, ab: (c + ab[0], c * ab[1]), 0.0, (a, b))[1]
        return lib.np.sin(h)

    return lambda x, y: lib.np.sum(lib.checkpoint(body)(x, y) ** 2)


@pytest.mark.parametrize("kind", ["cond", "scan"])
def test_checkpoint_of_control_flow_grad(kind):
    """Found by the generator: grad through checkpoint(cond) raised "mul is not linear in
    both operands at once". The remat transpose handed the whole jvp program to
    backward_pass, which counts every output of the jvp'd cond (primal ones too) as
    linear and so never recomputed the primal value sin's derivative needs."""
    x = np.array([0.5, -1.0, 0.25], np.float32)
    y = np.array([0.3, 0.2, -0.7], np.float32)
    f, jf = _remat_over_control_flow(FN, kind), _remat_over_control_flow(JX, kind)
    want = jax.grad(jf, argnums=(0, 1))(x, y)
    compare(fn.grad(f, argnums=(0, 1))(x, y), want, "eager")
    compare(fn.jit(fn.grad(f, argnums=(0, 1)))(x, y), want, "jit")

    def hvp(lib, g):
        return lib.grad(lambda x: lib.np.sum(lib.grad(g)(x, y) * x))(x)

    compare(fn.jit(lambda x: hvp(FN, f))(x), jax.jit(lambda x: hvp(JX, jf))(x), "grad of grad")


@pytest.mark.parametrize(
    "prog,names",
    [
        (
            Program((0,), (step("scan", body=(step("add"),), reverse=False), step("add")), 0),
            ("grad", "jvp", "vmap0"),
        ),
        (
            Program(
                (0,),
                (
                    step("while_loop", body=(step("map", body=(step("add"),)),), dyn=False, n=1),
                    step("add"),
                ),
                0,
            ),
            ("jvp", "vmap0"),
        ),
    ],
)
def test_loops_over_an_empty_axis(prog, names):
    """Found by the generator once shapes could be empty: a scan (or map) over a
    length-0 axis lowered a loop whose body slices a row out of nothing."""
    run_checks(prog, names)
