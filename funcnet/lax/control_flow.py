"""Control flow staged into the IR: cond/switch, while_loop, fori_loop, scan.

Each is a primitive holding sub-programs (traced once per signature), lowered
to StableHLO's own `case` and `while`; nothing is unrolled in Python. Sub-program
constants travel as explicit leading operands, so every branch and body is a
closed program of its arguments.
"""

import weakref

import numpy as np

from funcnet import tree
from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Var, closed_without_consts, eval_jaxpr
from funcnet.core.source_info import where
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Primitive, Tracer, get_aval
from funcnet.core.traceback_util import api_boundary
from funcnet.lax import elementwise as ew
from funcnet.lax import structural as st
from funcnet.lax.convenience import slice_in_dim
from funcnet.runtime.cache import register_program_cache

cond_p = Primitive("cond", multiple_results=True)
while_p = Primitive("while", multiple_results=True)
scan_p = Primitive("scan", multiple_results=True)


# --- tracing sub-programs ---------------------------------------------------------------

# fun -> {(in_tree, avals): (closed, out_tree)}
_trace_cache = register_program_cache(weakref.WeakKeyDictionary())


def trace_fun(fun, in_tree, in_avals, what):
    """Trace fun(*pytree args) at these avals; cached per function while it lives."""
    key = (in_tree, tuple(in_avals))
    try:
        per_fun = _trace_cache.setdefault(fun, {})
    except TypeError:  # not weak-referenceable
        per_fun = {}
    hit = per_fun.get(key)
    if hit is not None:
        return hit
    box = {}

    def flat_fun(*leaves):
        out = fun(*tree.tree_unflatten(in_tree, list(leaves)))
        flat, box["out_tree"] = tree.tree_flatten(out)
        for leaf in flat:
            get_aval(leaf)  # raises a clear error for non-arrays
        return flat

    try:
        closed = trace_to_jaxpr(flat_fun, list(in_avals))
    except TypeError as e:
        if "not an array" in str(e):
            raise TypeError(f"{what} returned a non-array value: {e}") from None
        raise
    hit = (closed, box["out_tree"])
    if not any(isinstance(c, Tracer) for c in closed.consts):
        per_fun[key] = hit
    return hit


def join_consts(closeds):
    """Give every program the same argument list: all programs' constants, then its own
    arguments. Returns (programs without constants, the joined constants)."""
    all_consts = [c for cl in closeds for c in cl.consts]
    out = []
    for k, cl in enumerate(closeds):
        j = cl.jaxpr
        before = sum(len(c.consts) for c in closeds[:k])
        pad_before = [Var(get_aval(c)) for c in all_consts[:before]]
        pad_after = [Var(get_aval(c)) for c in all_consts[before + len(cl.consts) :]]
        invars = pad_before + j.constvars + pad_after + j.invars
        out.append(ClosedJaxpr(Jaxpr([], invars, j.eqns, j.outvars), []))
    return out, all_consts


def _describe_types(out_tree, avals):
    paths = tree.leaf_paths(tree.tree_unflatten(out_tree, list(range(len(avals)))))
    return ", ".join(f"{p or 'value'}: {a.str_short()}" for p, a in zip(paths, avals)) or "()"


def _check_same_types(what, tree_a, avals_a, tree_b, avals_b, name_a, name_b):
    same = tree_a == tree_b and all(
        a.shape == b.shape and a.dtype == b.dtype for a, b in zip(avals_a, avals_b)
    )
    if not same:
        raise TypeError(
            f"{what}: {name_a} and {name_b} must have the same types (tree structure, shapes "
            f"and dtypes).\n  {name_a}: {_describe_types(tree_a, avals_a)}\n  {name_b}: "
            f"{_describe_types(tree_b, avals_b)}{where()}"
        )


def _avals(leaves):
    return [
        get_aval(x).strip_weak_type() if not dtypes.is_python_scalar(x) else get_aval(x)
        for x in leaves
    ]


# --- cond and switch ----------------------------------------------------------------------


@cond_p.def_abstract_eval
def _cond_abstract_eval(index, *operands, branches):
    if index.shape != () or index.dtype != dtypes.int32:
        raise TypeError(f"cond: the branch index must be an int32 scalar, got {index.str_short()}")
    return branches[0].out_avals


@api_boundary
def switch(index, branches, *operands):
    """`branches[index](*operands)`, as jax.lax.switch: every branch is traced (once per
    argument signature) and staged into one conditional that runs only the chosen one.

    Args:
      index: an integer scalar, Python int or traced; out-of-range values are clamped to
        `[0, len(branches) - 1]`, as in jax.
      branches: a non-empty sequence of callables that take `*operands` and return pytrees
        of arrays of one structure, shapes and dtypes.
      *operands: the branches' arguments: pytrees of arrays or scalars.

    Returns:
      The chosen branch's output.

    Raises:
      ValueError: for no branches.
      TypeError: for an index that is not an integer scalar, branch outputs whose
        structure, shapes or dtypes differ, or a branch that returns a non-array.

    Example:
      >>> branches = [lambda x: x, lambda x: -x, lambda x: 2 * x]
      >>> lax.switch(1, branches, 3.0).tolist()
      -3.0
      >>> lax.switch(7, branches, 3.0).tolist()  # clamped to the last branch
      6.0
    """
    branches = list(branches)
    if not branches:
        raise ValueError("switch needs at least one branch")
    idx_aval = get_aval(index)
    if idx_aval.shape != () or not dtypes.is_int(idx_aval.dtype):
        raise TypeError(
            f"switch: the index must be an integer scalar, got {idx_aval.str_short()}{where()}"
        )
    if idx_aval.dtype != dtypes.int32 or idx_aval.weak_type:
        index = ew.convert_element_type(index, dtypes.int32)
    if len(branches) > 1:
        index = ew.clamp(np.int32(0), index, np.int32(len(branches) - 1))
    flat, in_tree = tree.tree_flatten(tuple(operands))
    avals = _avals(flat)
    traced = [trace_fun(b, in_tree, avals, f"switch branch {i}") for i, b in enumerate(branches)]
    (first, first_tree) = traced[0]
    for i, (cl, t) in enumerate(traced[1:], 1):
        _check_same_types(
            "cond/switch",
            first_tree,
            first.out_avals,
            t,
            cl.out_avals,
            "branch 0 output",
            f"branch {i} output",
        )
    if len(branches) == 1:
        return tree.tree_unflatten(first_tree, eval_jaxpr(first.jaxpr, first.consts, *flat))
    jaxprs, consts = join_consts([cl for cl, _ in traced])
    outs = cond_p.bind(index, *consts, *flat, branches=tuple(jaxprs))
    return tree.tree_unflatten(first_tree, outs)


@api_boundary
def cond(pred, true_fun, false_fun, *operands):
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`, as jax.lax.cond: both
    functions are traced and staged into one conditional that runs only the chosen one.

    Args:
      pred: a boolean scalar, Python bool or traced (an integer scalar works too: nonzero
        is true).
      true_fun: a callable of `*operands`, returning a pytree of arrays.
      false_fun: a callable of `*operands` returning the same structure, shapes and dtypes.
      *operands: the functions' arguments: pytrees of arrays or scalars.

    Returns:
      The chosen function's output.

    Raises:
      TypeError: for a predicate that is not a boolean or integer scalar, or outputs whose
        structure, shapes or dtypes differ.

    Example:
      >>> x = fnp.array([1.0, -2.0])
      >>> lax.cond(fnp.sum(x) > 0, lambda v: v, lambda v: -v, x).tolist()
      [-1.0, 2.0]
      >>> step = fn.jit(lambda p, v: lax.cond(p, lambda v: v + 1, lambda v: v - 1, v))
      >>> step(True, 1.0).tolist(), step(False, 1.0).tolist()
      (2.0, 0.0)
    """
    pred_aval = get_aval(pred)
    if pred_aval.shape != () or not (
        dtypes.is_bool(pred_aval.dtype) or dtypes.is_int(pred_aval.dtype)
    ):
        raise TypeError(
            f"cond: the predicate must be a boolean scalar, got {pred_aval.str_short()}{where()}"
        )
    if dtypes.is_bool(pred_aval.dtype):
        index = ew.convert_element_type(pred, dtypes.int32)
    else:
        index = ew.convert_element_type(
            ew.ne(pred, np.asarray(0, pred_aval.dtype)[()]), dtypes.int32
        )
    return switch(index, [false_fun, true_fun], *operands)


# --- carries: weak types, promotion, type checks -------------------------------------------


def _carry_avals(leaves):
    """A loop carry's types as given: a weak type (a Python scalar's) is kept, so that the
    body's result can decide the carry's dtype (`_promote_weak_carry`)."""
    return [get_aval(x) for x in leaves]


def _promote_weak_carry(flat, in_avals, out_avals):
    """As jax: an initial carry of a weak type (`fori_loop(0, 3, lambda i, c: c * 1.5, 1)`)
    takes the dtype the body returns for it (int -> float32 here). Returns the new
    leaves and whether any changed (the body must then be traced again)."""
    if len(flat) != len(out_avals):
        return flat, False  # the structure check reports this
    new, changed = [], False
    for x, a, o in zip(flat, in_avals, out_avals):
        if a.weak_type and a.dtype != o.dtype:
            dtype, _ = dtypes.result_type((a.dtype, True), (o.dtype, o.weak_type))
            x = _as_strong(x, dtype)
            changed = True
        new.append(x)
    return new, changed


def _as_strong(x, dtype):
    if dtypes.is_python_scalar(x):
        return np.asarray(x, dtype)[()]
    return ew.convert_element_type(x, dtype)


def _match(flat, avals):
    """Convert weak Python scalars in a carry to the carry's (strong) types."""
    out = []
    for x, a in zip(flat, avals):
        if dtypes.is_python_scalar(x) or get_aval(x).weak_type:
            x = ew.convert_element_type(x, a.dtype)
        out.append(x)
    return out


def _trace_loop_body(trace_body, flat, name, init_label, out_label, in_tree, out_tree_of):
    """Trace a loop body at the carry's types, promoting weakly typed initial values to
    the dtype the body returns for them (then tracing again), and check that the new
    carry has the carry's types. `trace_body(avals) -> (closed, out_tree)`;
    `out_tree_of(out_tree)` picks the carry's part. Returns (closed, out_tree, leaves,
    carry avals)."""
    avals = _carry_avals(flat)
    closed, out_tree = trace_body(avals)
    n = len(avals)
    flat, changed = _promote_weak_carry(flat, avals, closed.out_avals[:n])
    if changed:
        avals = _carry_avals(flat)
        closed, out_tree = trace_body(avals)
    _check_same_types(
        name, in_tree, avals, out_tree_of(out_tree), closed.out_avals[:n], init_label, out_label
    )
    return closed, out_tree, flat, avals


# --- while ---------------------------------------------------------------------------------


@while_p.def_abstract_eval
def _while_abstract_eval(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    return list(body_jaxpr.out_avals)


@api_boundary
def while_loop(cond_fun, body_fun, init_val):
    """`val = body_fun(val)` repeated while `cond_fun(val)`, as jax.lax.while_loop: a loop
    with a data-dependent trip count, staged as one XLA while loop (nothing is unrolled).

    Args:
      cond_fun: a function of the loop value that returns a boolean scalar.
      body_fun: a function of the loop value that returns a new one of the same structure,
        shapes and dtypes (a weakly typed initial leaf, such as a Python scalar, takes the
        dtype `body_fun` returns for it, as in jax).
      init_val: the initial loop value, a pytree of arrays or scalars.

    Returns:
      The loop value once `cond_fun` is false.

    Raises:
      TypeError: when `cond_fun` does not return a boolean scalar or `body_fun` changes the
        loop value's structure, shapes or dtypes.
      ValueError: under reverse-mode differentiation (a trip count unknown when tracing
        cannot be reversed); use `scan`, or `fori_loop` with static bounds. Forward mode
        (jvp) works.

    Example:
      >>> lax.while_loop(lambda c: c < 10, lambda c: c * 2, 1).tolist()
      16
    """
    return _while_loop(cond_fun, body_fun, init_val, "while_loop")


def _while_loop(cond_fun, body_fun, init_val, name):
    flat, in_tree = tree.tree_flatten(init_val)
    args_tree = tree.tree_structure((tree.tree_unflatten(in_tree, flat),))

    def trace_body(avals):
        return trace_fun(body_fun, args_tree, avals, f"{name} body_fun")

    body_closed, _, flat, avals = _trace_loop_body(
        trace_body, flat, name, "the carry (init_val)", "body_fun's output", in_tree, lambda t: t
    )
    cond_closed, cond_tree = trace_fun(cond_fun, args_tree, avals, f"{name} cond_fun")
    c_out = cond_closed.out_avals
    if len(c_out) != 1 or c_out[0].shape != () or c_out[0].dtype != dtypes.bool_:
        raise TypeError(
            f"{name}: cond_fun must return a boolean scalar, got "
            f"{_describe_types(cond_tree, c_out)}{where()}"
        )
    outs = while_p.bind(
        *cond_closed.consts,
        *body_closed.consts,
        *_match(flat, avals),
        cond_jaxpr=closed_without_consts(cond_closed),
        body_jaxpr=closed_without_consts(body_closed),
        cond_nconsts=len(cond_closed.consts),
        body_nconsts=len(body_closed.consts),
    )
    return tree.tree_unflatten(in_tree, outs)


@api_boundary
def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """`for i in range(lower, upper): val = body_fun(i, val)`, as jax.lax.fori_loop.

    With concrete bounds this is a `scan` (so reverse-mode differentiation works); with
    traced bounds, a `while_loop`.

    Args:
      lower: the first `i`: a Python int or an integer scalar (possibly traced).
      upper: the end of the range (exclusive), likewise.
      body_fun: a function `(i, val) -> val` that keeps `val`'s structure, shapes and dtypes;
        `i` is a weakly typed int32 scalar, as in jax, and a weakly typed `init_val` leaf
        (a Python scalar) takes the dtype `body_fun` returns for it.
      init_val: the initial loop value, a pytree of arrays or scalars.
      unroll: with concrete bounds, how many iterations each step of the compiled loop runs
        (an int, or True for all of them); None (the default) means 1. Only with
        concrete bounds, as jax.

    Returns:
      The final loop value (`init_val` itself, promoted as above, if the range is empty).

    Raises:
      TypeError: when `body_fun` changes the loop value's structure, shapes or dtypes.
      ValueError: `unroll` with traced bounds.

    Example:
      >>> lax.fori_loop(0, 5, lambda i, total: total + i, 0).tolist()
      10
      >>> fn.grad(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x, 1.0))(2.0).tolist()
      12.0
    """
    concrete = all(
        not isinstance(b, Tracer) or b.to_concrete_value() is not None for b in (lower, upper)
    )
    if not concrete and unroll is not None:
        raise ValueError(
            "fori_loop: `unroll` needs statically known loop bounds (Python ints or "
            f"concrete values); these are traced{where()}"
        )
    init_val = _fori_promote(body_fun, init_val)
    if concrete:
        lo, hi = int(lower), int(upper)

        def step(carry, _):
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        # A Python int start keeps the index weakly typed, as jax's.
        (_, val), _ = scan(
            step,
            (lo, init_val),
            None,
            length=max(hi - lo, 0),
            unroll=1 if unroll is None else unroll,
        )
        return val
    lo = ew.convert_element_type(lower, dtypes.int32)
    hi = ew.convert_element_type(upper, dtypes.int32)
    _, _, val = _while_loop(
        lambda c: c[0] < c[1],
        lambda c: (c[0] + np.int32(1), c[1], body_fun(c[0], c[2])),
        (lo, hi, init_val),
        "fori_loop",
    )
    return val


_WEAK_INDEX = ShapedArray((), dtypes.int32, weak_type=True)


def _fori_promote(body_fun, init_val):
    """Type-check `body_fun` once against `init_val` (promoting a weakly typed one), so
    that an error names fori_loop and the user's own carry, not the loop it becomes."""
    flat, in_tree = tree.tree_flatten(init_val)
    args_tree = tree.tree_structure((0, tree.tree_unflatten(in_tree, flat)))

    def trace_body(avals):
        return trace_fun(body_fun, args_tree, [_WEAK_INDEX] + avals, "fori_loop body_fun")

    _, _, flat, _ = _trace_loop_body(
        trace_body,
        flat,
        "fori_loop",
        "the carry (init_val)",
        "body_fun's output",
        in_tree,
        lambda t: t,
    )
    return tree.tree_unflatten(in_tree, flat)


# --- scan -------------------------------------------------------------------------------------


@scan_p.def_abstract_eval
def _scan_abstract_eval(*args, jaxpr, num_consts, num_carry, length, reverse, unroll):
    outs = jaxpr.out_avals
    carry, ys = outs[:num_carry], outs[num_carry:]
    return list(carry) + [y.update(shape=(length,) + y.shape) for y in ys]


@api_boundary
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`f` looped over the leading axis of `xs`, carrying a value, as jax.lax.scan: in
    Python terms `for x in xs: carry, y = f(carry, x)`, with the `y`s stacked. Staged as
    one XLA loop; `f` is traced once.

    Args:
      f: a function `(carry, x) -> (new_carry, y)`: `new_carry` keeps `carry`'s structure,
        shapes and dtypes (a weakly typed initial leaf, such as a Python scalar, takes the
        dtype `f` returns for it, as in jax); `y` is any pytree of arrays, or None.
      init: the initial carry, a pytree of arrays or scalars.
      xs: a pytree of arrays scanned along their leading axis (all of one length), or None
        (the default) to loop `length` times with `x = None`.
      length: the number of iterations; needed when `xs` is None, else it must match.
      reverse: run from the last element of `xs` to the first; the `y`s stay aligned with
        the `x`s they came from. False by default.
      unroll: how many iterations each step of the compiled loop runs: an int (1, the
        default), True for all of them, False for 1.

    Returns:
      A pair `(final carry, ys)`: `ys` has the structure of `y`, each leaf stacked along a
      new leading axis of size `length`.

    Raises:
      ValueError: for leaves of `xs` without a leading axis or of different lengths, a
        `length` that does not match, or neither `xs` nor `length`.
      TypeError: when `f` does not return a pair, or its new carry differs from the carry in
        structure, shapes or dtypes.

    Example:
      >>> carry, ys = lax.scan(lambda c, x: (c + x, c), 0, fnp.arange(4))
      >>> carry.tolist(), ys.tolist()  # the total, and the running total before each step
      (6, [0, 0, 1, 3])
      >>> lax.scan(lambda c, _: (2 * c, c), 1, length=4)[1].tolist()
      [1, 2, 4, 8]
    """
    xs_flat, xs_tree = tree.tree_flatten(xs)
    length = _scan_length(xs, xs_flat, length)
    carry_flat, carry_tree = tree.tree_flatten(init)
    x_avals = [ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype) for x in xs_flat]

    def trace_body(carry_avals):
        in_tree = tree.tree_structure(
            (tree.tree_unflatten(carry_tree, carry_flat), tree.tree_unflatten(xs_tree, xs_flat))
        )
        return trace_fun(lambda c, x: _pair(f(c, x)), in_tree, carry_avals + x_avals, "scan body")

    closed, out_tree, carry_flat, carry_avals = _trace_loop_body(
        trace_body,
        carry_flat,
        "scan",
        "the carry (init)",
        "the body's new carry",
        carry_tree,
        lambda t: t.children()[0],
    )
    carry_out_tree, ys_tree = out_tree.children()
    n_carry = len(carry_avals)
    outs = scan_p.bind(
        *closed.consts,
        *_match(carry_flat, carry_avals),
        *xs_flat,
        jaxpr=closed_without_consts(closed),
        num_consts=len(closed.consts),
        num_carry=n_carry,
        length=length,
        reverse=bool(reverse),
        unroll=_unroll_steps(unroll, length),
    )
    return (
        tree.tree_unflatten(carry_out_tree, outs[:n_carry]),
        tree.tree_unflatten(ys_tree, outs[n_carry:]),
    )


def _unroll_steps(unroll, length):
    """Steps per iteration of the compiled loop: jax's unroll is an int, or True (all of
    them) / False (one)."""
    if isinstance(unroll, (bool, np.bool_)):
        return max(length, 1) if unroll else 1
    return max(int(unroll), 1)


def _scan_length(xs, xs_flat, length):
    lengths = {get_aval(x).shape[0] if get_aval(x).ndim else None for x in xs_flat}
    if None in lengths:
        raise ValueError(f"scan: every leaf of xs needs a leading axis to scan over{where()}")
    if len(lengths) > 1:
        paths = tree.leaf_paths(xs)
        sizes = ", ".join(f"xs{p}: {get_aval(x).shape[0]}" for p, x in zip(paths, xs_flat))
        raise ValueError(f"scan: the inputs have different lengths along axis 0: {sizes}{where()}")
    if length is None:
        if not lengths:
            raise ValueError("scan: give `length` when there are no xs to scan over")
        return lengths.pop()
    if lengths and lengths != {length}:
        raise ValueError(f"scan: length={length} but xs have length {lengths.pop()}{where()}")
    return int(length)


def _pair(out):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"scan: the body must return a pair (new_carry, y), got {type(out).__name__}{where()}"
        )
    return tuple(out)


# lax.map's batch_size form runs `f` under vmap, a transformation a layer above lax:
# funcnet/transforms/vmap.py installs it here when it is imported (lax never imports up).
_vmap = None


def set_vmap(vmap) -> None:
    global _vmap
    _vmap = vmap


@api_boundary
def map(f, xs, *, batch_size=None):
    """`f` applied to every slice of `xs` along its leading axis, as jax.lax.map: a `scan`,
    so `f` is traced once rather than unrolled.

    Args:
      f: a function of one slice (a pytree like `xs` without the leading axis) that returns
        a pytree of arrays.
      xs: a pytree of arrays with one leading length.
      batch_size: None (the default) runs `f` on one slice per step; an int runs it under
        `vmap` on `batch_size` slices per step, the remainder in one last vmapped call.

    Returns:
      `f`'s outputs, each leaf stacked along a new leading axis of the length of `xs`.

    Raises:
      ValueError: for a `batch_size` below 1, or leaves of `xs` of different lengths.

    Example:
      >>> lax.map(lambda x: x * x, fnp.arange(5)).tolist()
      [0, 1, 4, 9, 16]
      >>> lax.map(lambda x: x * x, fnp.arange(5), batch_size=2).tolist()
      [0, 1, 4, 9, 16]
    """
    if batch_size is None:
        return scan(lambda c, x: (c, f(x)), None, xs)[1]
    if _vmap is None:
        raise RuntimeError("map(batch_size=...) needs funcnet.transforms.vmap: import funcnet")
    vmap = _vmap
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"map: batch_size must be positive, got {batch_size}{where()}")
    leaves = tree.tree_leaves(xs)
    n = _scan_length(xs, leaves, None)
    full, rest = divmod(n, batch_size)

    def chunks(x):  # the first full * batch_size slices as (full, batch_size, ...)
        shape = get_aval(x).shape
        head = slice_in_dim(x, 0, full * batch_size)
        return st.reshape(head, (full, batch_size) + shape[1:])

    ys = scan(lambda c, x: (c, vmap(f)(x)), None, tree.tree_map(chunks, xs))[1]
    ys = tree.tree_map(lambda y: _merge_leading(y), ys)
    if not rest:
        return ys
    tail = vmap(f)(tree.tree_map(lambda x: slice_in_dim(x, full * batch_size, n), xs))
    return tree.tree_map(lambda a, b: st.concatenate([a, b], 0), ys, tail)


def _merge_leading(y):
    shape = get_aval(y).shape
    return st.reshape(y, (shape[0] * shape[1],) + shape[2:])
