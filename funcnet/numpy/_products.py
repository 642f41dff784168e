"""Products: matmul, dot, tensordot, einsum, outer, inner — all on dot_general."""

import itertools
import math
import operator
import string

import numpy as np

from funcnet import lax
from funcnet.core import dtypes
from funcnet.core import trace as _trace
from funcnet.core.source_info import where as _at
from funcnet.numpy import _fast
from funcnet.numpy._core import (
    asarray,
    astype,
    broadcast_shapes,
    check_arraylike,
    check_no_out,
    promote,
)
from funcnet.numpy._shape import broadcast_to, expand_dims, normalize_axis, reshape, transpose


def _dot_general(a, b, dn, precision, preferred_element_type):
    return lax.dot_general(
        a, b, dn, precision=precision, preferred_element_type=preferred_element_type
    )


def _operands(name, a, b, preferred_element_type):
    """a and b promoted to one dtype; preferred_element_type (if given) is the result's
    dtype, as jnp's."""
    check_arraylike(name, a, b)
    a, b = promote(asarray(a), asarray(b))
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return a, b, pet


def _as(x, pet):
    return x if pet is None or x.dtype == pet else astype(x, pet)


def matmul(a, b, *, precision=None, preferred_element_type=None):
    """The matrix product a @ b, as jnp.matmul.

    A 1-d a is a row vector and a 1-d b a column vector (their axis is dropped from the
    result); leading (batch) dimensions broadcast.

    Args:
      a: an array of at least one dimension.
      b: an array of at least one dimension; a.shape[-1] must equal b.shape[-2] (or
        b.shape[0] for a vector); a and b promote to one dtype.
      precision: passed to dot_general (XLA's precision config; None: the default).
      preferred_element_type: the accumulation and result dtype (default: the
        operands' promoted dtype).

    Returns:
      An array of shape broadcast(a.shape[:-2], b.shape[:-2]) + (a.shape[-2],
      b.shape[-1]), less the vectors' axes.

    Raises:
      ValueError: for a 0-d operand.
      TypeError: when the contracted sizes differ.

    Example:
      >>> a = fnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> fnp.matmul(a, a).tolist()
      [[7.0, 10.0], [15.0, 22.0]]
      >>> fnp.matmul(a, fnp.array([1.0, 1.0])).tolist()
      [3.0, 7.0]
      >>> fnp.matmul(fnp.ones((5, 2, 3)), fnp.ones((3, 4))).shape
      (5, 2, 4)
    """
    if precision is None and preferred_element_type is None and _trace.eager_fast:
        out = _matmul_kernel(a, b)  # the per-signature fast path (numpy/_fast.py)
        if out is not None:
            return out
    return _matmul(a, b, precision, preferred_element_type)


def _matmul(a, b, precision=None, preferred_element_type=None):
    a, b, pet = _operands("matmul", a, b, preferred_element_type)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: scalar operands are not allowed (shapes {a.shape}, {b.shape}); use *{_at()}"
        )
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    b_k = b.shape[0] if b_vec else b.shape[-2]  # b's contracted axis
    if a.shape[-1] != b_k:
        raise TypeError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
            f"{a.shape[-1]} (dim {a.ndim - 1 + a_vec}) != {b_k} (dim "
            f"{b.ndim - 2 + b_vec}){_at()}"
        )
    if a_vec or b_vec:
        # A vector operand contracts directly, one dot_general (as jax): the result's
        # axes are the other operand's free axes, in order.
        dims = (((a.ndim - 1,), (b.ndim - 2 + b_vec,)), ((), ()))
        return _dot_general(a, b, dims, precision, pet)
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    if batch_a and not batch_b:
        # (..., m, k) @ (k, n): one contraction, no broadcast copy of the matrix (which
        # would also make reverse mode sum per-example weight gradients).
        return _dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())), precision, pet)
    if batch_a or batch_b:
        batch = broadcast_shapes(batch_a, batch_b)
        a = broadcast_to(a, batch + a.shape[-2:]) if batch_a != batch else a
        b = broadcast_to(b, batch + b.shape[-2:]) if batch_b != batch else b
        nb = len(batch)
        return _dot_general(
            a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))), precision, pet
        )
    return _dot_general(a, b, (((1,), (0,)), ((), ())), precision, pet)


# The fast path of matmul and of `@` (numpy/_methods.py installs its operator).
matmul_fast = _fast.binary(_matmul)
_matmul_kernel = matmul_fast.kernel


def dot(a, b, *, precision=None, preferred_element_type=None):
    """NumPy's dot product, as jnp.dot: a * b if either is 0-d, fnp.matmul for 1-d and
    2-d operands, else a sum over a's last axis and b's second-to-last one (its only one
    if b is 1-d).

    Args:
      a: an array or a scalar.
      b: an array or a scalar; a and b promote to one dtype.
      precision: passed to dot_general (XLA's precision config; None: the default).
      preferred_element_type: the accumulation and result dtype (default: the
        operands' promoted dtype).

    Returns:
      An array of shape a.shape[:-1] + b.shape[:-2] + b.shape[-1:] (a.shape[:-1] for a
      1-d b), or of the broadcast shape when either is 0-d.

    Raises:
      TypeError: when the contracted sizes differ.

    Example:
      >>> fnp.dot(fnp.array([1.0, 2.0]), fnp.array([3.0, 4.0]))
      Array(11., dtype=float32)
    """
    a, b, pet = _operands("dot", a, b, preferred_element_type)
    kw = {"precision": precision, "preferred_element_type": pet}
    if a.ndim == 0 or b.ndim == 0:
        return _as(a * b, pet)
    if b.ndim <= 2:
        return matmul(a, b, **kw) if a.ndim <= 2 else tensordot(a, b, ((a.ndim - 1,), (0,)), **kw)
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 2,)), **kw)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    """The dot product of the flattened arrays, as jnp.vdot (no conjugation: funcnet has
    no complex dtypes).

    Args:
      a: an array or a scalar.
      b: an array or a scalar of a's size.
      precision: passed to dot_general (XLA's precision config; None: the default).
      preferred_element_type: the accumulation and result dtype (default: the
        operands' promoted dtype).

    Returns:
      A 0-d array.
    """
    check_arraylike("vdot", a, b)
    a = asarray(a)
    if dtypes.is_complex(a.dtype):  # vdot conjugates its first argument (NumPy, jax)
        a = lax.conj(a)
    return dot(
        reshape(a, (-1,)),
        reshape(asarray(b), (-1,)),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def inner(a, b, *, precision=None, preferred_element_type=None):
    """The sum of products over the last axes of a and b, as jnp.inner (a * b if either
    is 0-d).

    Args:
      a: an array or a scalar.
      b: an array or a scalar whose last axis has a's last axis' size.
      precision: passed to dot_general (XLA's precision config; None: the default).
      preferred_element_type: the accumulation and result dtype (default: the
        operands' promoted dtype).

    Returns:
      An array of shape a.shape[:-1] + b.shape[:-1].

    Example:
      >>> fnp.inner(fnp.array([1.0, 1.0]), fnp.array([2.0, 3.0]))
      Array(5., dtype=float32)
    """
    a, b, pet = _operands("inner", a, b, preferred_element_type)
    if a.ndim == 0 or b.ndim == 0:
        return _as(a * b, pet)
    return tensordot(
        a, b, ((a.ndim - 1,), (b.ndim - 1,)), precision=precision, preferred_element_type=pet
    )


def outer(a, b, out=None):
    """The outer product of the flattened a and b, as jnp.outer.

    Args:
      a: an array or a scalar (flattened).
      b: an array or a scalar (flattened).
      out: only None (funcnet arrays are immutable).

    Returns:
      An array of shape (a.size, b.size): element (i, j) is a[i] * b[j].

    Example:
      >>> fnp.outer(fnp.array([1, 2]), fnp.array([1, 10])).tolist()
      [[1, 10], [2, 20]]
    """
    check_arraylike("outer", a, b)
    check_no_out("outer", out)
    a, b = reshape(asarray(a), (-1,)), reshape(asarray(b), (-1,))
    return expand_dims(a, 1) * expand_dims(b, 0)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """The sum of products of a and b over the given axes, as jnp.tensordot.

    Args:
      a: an array.
      b: an array; a and b promote to one dtype.
      axes: an int n (a's last n axes with b's first n), or a pair (a_axes, b_axes) of
        ints or sequences of ints, contracted pairwise.
      precision: passed to dot_general (XLA's precision config; None: the default).
      preferred_element_type: the accumulation and result dtype (default: the
        operands' promoted dtype).

    Returns:
      An array of a's free axes followed by b's.

    Raises:
      TypeError: when paired axes differ in size.

    Example:
      >>> fnp.tensordot(fnp.ones((2, 3, 4)), fnp.ones((3, 4, 5))).shape
      (2, 5)
      >>> fnp.tensordot(fnp.ones((2, 3)), fnp.ones((5, 3)), axes=(1, 1)).shape
      (2, 5)
    """
    a, b, pet = _operands("tensordot", a, b, preferred_element_type)
    if isinstance(axes, int):
        ca, cb = tuple(range(a.ndim - axes, a.ndim)), tuple(range(axes))
    else:
        ca, cb = axes
        ca = (ca,) if isinstance(ca, int) else tuple(ca)
        cb = (cb,) if isinstance(cb, int) else tuple(cb)
    ca = tuple(normalize_axis(x, a.ndim) for x in ca)
    cb = tuple(normalize_axis(x, b.ndim) for x in cb)
    for x, y in zip(ca, cb):
        if a.shape[x] != b.shape[y]:
            raise TypeError(
                f"tensordot: shape mismatch for sum: {a.shape} axis {x} vs "
                f"{b.shape} axis {y}{_at()}"
            )
    return _dot_general(a, b, ((ca, cb), ((), ())), precision, pet)


# --- einsum -------------------------------------------------------------------------------

_LETTERS = string.ascii_letters  # the 52 labels, in NumPy's sublist numbering


def einsum(
    subscripts, /, *operands, out=None, optimize="auto", precision=None, preferred_element_type=None
):
    """Einstein summation, as np.einsum / jnp.einsum.

    Accepts the string form (``"ij,jk->ik"``, implicit output ``"ij,jk"``, ``...`` for
    broadcast dimensions, repeated labels in one operand for diagonals such as
    ``"ii->i"``) and NumPy's sublist form (``einsum(a, [0, 1], b, [1, 2], [0, 2])``, with
    ``Ellipsis`` in the sublists). Operands are contracted pairwise with dot_general,
    the pair with the smallest result first (``optimize=False``: left to right).

    Args:
      subscripts: the subscripts string, or the first operand of the sublist form.
      *operands: the arrays (sublist form: alternating arrays and sublists).
      out: only None.
      optimize: False contracts left to right; anything else picks the cheapest pair.
      precision: passed to dot_general.
      preferred_element_type: the result's (and accumulation's) dtype.

    Returns:
      An array with one axis per output label, of the operands' promoted dtype (or
      preferred_element_type).

    Raises:
      ValueError: for malformed subscripts, or label sizes that do not match.

    Example:
      >>> a = fnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> fnp.einsum("ij,jk->ik", a, a).tolist()
      [[7.0, 10.0], [15.0, 22.0]]
      >>> fnp.einsum("ii->i", a).tolist()
      [1.0, 4.0]
      >>> fnp.einsum("ij->", a)
      Array(10., dtype=float32)
      >>> fnp.einsum(a, [0, 1], [1, 0]).tolist()
      [[1.0, 3.0], [2.0, 4.0]]
    """
    check_no_out("einsum", out)
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists(subscripts, operands)
    check_arraylike("einsum", *operands)
    operands = [asarray(o) for o in operands]
    if len(operands) > 1:
        operands = promote(*operands)
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    inputs, output = _parse_einsum(subscripts, operands)
    sizes = _label_sizes(inputs, operands)
    # A label of size 1 in one operand broadcasts against the others (as NumPy and jax).
    operands = [broadcast_to(op, tuple(sizes[c] for c in sub)) for sub, op in zip(inputs, operands)]
    terms = [_take_diagonals(sub, op) for sub, op in zip(inputs, operands)]
    out_sub, result = _contract_all(terms, output, sizes, optimize, precision, pet)
    if out_sub != output:
        result = transpose(result, [out_sub.index(c) for c in output])
    return _as(result, pet)


def _from_sublists(first, rest):
    """NumPy's sublist form -> a subscripts string and the operands."""
    args = (first, *rest)
    operands, subs = list(args[0::2]), list(args[1::2])
    output = None
    if len(args) % 2:  # an odd count: the last sublist is the output
        output = operands.pop()

    def letters(sublist):
        out = []
        for s in sublist:
            if s is Ellipsis:
                out.append("...")
                continue
            s = operator.index(s)
            if not 0 <= s < len(_LETTERS):
                raise ValueError(f"einsum: sublist labels must be in [0, {len(_LETTERS)}), got {s}")
            out.append(_LETTERS[s])
        return "".join(out)

    spec = ",".join(letters(s) for s in subs)
    if output is not None:
        spec += "->" + letters(output)
    return spec, operands


def _parse_einsum(subscripts, operands):
    subscripts = subscripts.replace(" ", "")
    lhs, arrow, rhs = subscripts.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(
            f"einsum: {len(inputs)} operand subscripts ({subscripts!r}) for "
            f"{len(operands)} operands"
        )
    for sub in inputs + [rhs]:
        if sub.replace("...", "").strip(_LETTERS) or sub.count("...") > 1:
            raise ValueError(
                f"einsum: invalid subscripts {sub!r} in {subscripts!r} (letters "
                "and at most one '...' per term)"
            )
    inputs, ell = _expand_ellipsis(inputs, operands)
    if arrow:
        output = rhs.replace("...", ell)  # without '...', its dims are summed away
        if len(set(output)) != len(output):
            raise ValueError(f"einsum: output subscripts {output!r} repeat a label")
        missing = set(output) - set("".join(inputs))
        if missing:
            raise ValueError(f"einsum: output labels {sorted(missing)} appear in no input")
    else:  # implicit: '...' first, then the labels seen once, sorted (ASCII, as NumPy)
        counts = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return inputs, output


def _expand_ellipsis(inputs, operands):
    """Replace '...' with fresh labels; operands with fewer '...' dims take the rightmost
    ones (NumPy's broadcasting). Returns the new subscripts and the '...' labels."""
    used = set("".join(inputs))
    free = [c for c in _LETTERS if c not in used]
    counts = []
    for sub, op in zip(inputs, operands):
        n = op.ndim - len(sub.replace("...", "")) if "..." in sub else 0
        if n < 0:
            raise ValueError(
                f"einsum: subscripts {sub!r} have more labels than operand of "
                f"shape {op.shape} has dimensions{_at()}"
            )
        counts.append(n)
    max_ell = max(counts, default=0)
    if max_ell > len(free):
        raise ValueError("einsum: too many dimensions for '...'")
    ell = "".join(free[:max_ell])
    out = [sub.replace("...", ell[max_ell - n :]) for sub, n in zip(inputs, counts)]
    return out, ell


def _label_sizes(inputs, operands):
    """Each label's size; a size of 1 gives way to any other size."""
    sizes = {}
    for sub, op in zip(inputs, operands):
        if len(sub) != op.ndim:
            raise ValueError(
                f"einsum: subscripts '{sub}' do not fit operand of shape {op.shape}{_at()}"
            )
        for c, d in zip(sub, op.shape):
            known = sizes.setdefault(c, d)
            if known == 1:
                sizes[c] = d
            elif d not in (1, known):
                raise ValueError(
                    f"einsum: size of label '{c}' is {known} in one operand "
                    f"and {d} in another{_at()}"
                )
    return sizes


def _take_diagonals(sub, x):
    """A label repeated within one operand ('ii', 'lli') takes the diagonal: mask the
    off-diagonal elements and sum the repeated axes away (elementwise ops and a
    reduction, so it differentiates and batches like any other)."""
    for c in dict.fromkeys(sub):
        positions = [i for i, s in enumerate(sub) if s == c]
        if len(positions) == 1:
            continue
        iotas = [lax.broadcasted_iota(dtypes.int32, x.shape, p) for p in positions]
        on_diagonal = lax.eq(iotas[0], iotas[1])
        for other in iotas[2:]:
            on_diagonal = lax.bitwise_and(on_diagonal, lax.eq(iotas[0], other))
        zero = lax.broadcast_in_dim(np.zeros((), x.dtype)[()], x.shape, ())
        x = lax.select(on_diagonal, x, zero)
        drop = tuple(positions[1:])
        x = (lax.reduce_or if x.dtype == dtypes.bool_ else lax.reduce_sum)(x, drop)
        sub = "".join(s for i, s in enumerate(sub) if i not in drop)
    return sub, x


def _contract_all(terms, output, sizes, optimize, precision, pet):
    """Contract the (subscripts, array) terms down to one, summing each label away as
    soon as no other term and not the output needs it."""
    terms = list(terms)
    terms = [_sum_unique(sub, x, _needed(terms, i, output)) for i, (sub, x) in enumerate(terms)]
    while len(terms) > 1:
        i, j = (0, 1) if optimize is False else _cheapest_pair(terms, output, sizes)
        (sa, a), (sb, b) = terms[i], terms[j]
        rest = [t for k, t in enumerate(terms) if k not in (i, j)]
        keep = set(output).union(*(set(s) for s, _ in rest))
        terms = [_contract(sa, a, sb, b, keep, precision, pet)] + rest
    sub, x = terms[0]
    return _sum_unique(sub, x, set(output))


def _needed(terms, i, output):
    return set(output).union(*(set(s) for k, (s, _) in enumerate(terms) if k != i))


def _cheapest_pair(terms, output, sizes):
    """The pair whose contraction gives the smallest result (greedy, as opt_einsum's
    'greedy' roughly): keeps intermediates small for chains of three or more."""
    best, best_cost = (0, 1), None
    for i, j in itertools.combinations(range(len(terms)), 2):
        rest = set(output).union(*(set(s) for k, (s, _) in enumerate(terms) if k not in (i, j)))
        result = (set(terms[i][0]) | set(terms[j][0])) & rest
        cost = math.prod(sizes[c] for c in result)
        if best_cost is None or cost < best_cost:
            best, best_cost = (i, j), cost
    return best


def _sum_unique(sub, x, keep):
    """Sum away labels nobody else needs."""
    axes = [i for i, c in enumerate(sub) if c not in keep]
    if not axes:
        return sub, x
    x = (lax.reduce_or if x.dtype == dtypes.bool_ else lax.reduce_sum)(x, tuple(axes))
    return "".join(c for c in sub if c in keep), x


def _contract(sa, a, sb, b, keep, precision=None, pet=None):
    batch = [c for c in sa if c in sb and c in keep]
    contract = [c for c in sa if c in sb and c not in keep]
    dn = (
        (tuple(sa.index(c) for c in contract), tuple(sb.index(c) for c in contract)),
        (tuple(sa.index(c) for c in batch), tuple(sb.index(c) for c in batch)),
    )
    if a.dtype == dtypes.bool_:  # dot_general has no bool form: and, then or
        return _bool_contract(sa, a, sb, b, batch, contract)
    out = _dot_general(a, b, dn, precision, pet)
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]
    return "".join(batch + free_a + free_b), out


def _bool_contract(sa, a, sb, b, batch, contract):
    """A bool 'contraction': broadcast and, then any over the contracted labels."""
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]
    labels = batch + free_a + free_b + contract
    full_shape = []
    for c in labels:
        full_shape.append(a.shape[sa.index(c)] if c in sa else b.shape[sb.index(c)])
    ea = lax.broadcast_in_dim(a, tuple(full_shape), tuple(labels.index(c) for c in sa))
    eb = lax.broadcast_in_dim(b, tuple(full_shape), tuple(labels.index(c) for c in sb))
    both = lax.bitwise_and(ea, eb)
    n = len(labels) - len(contract)
    if contract:
        both = lax.reduce_or(both, tuple(range(n, len(labels))))
    return "".join(batch + free_a + free_b), both


# --- convolve / correlate -----------------------------------------------------------------


def _conv1d(name, a, v, mode, precision, preferred_element_type):
    """jnp's convolve/correlate: a 1-d conv_general_dilated of a with v (v flipped for
    convolve), the longer operand first."""
    check_arraylike(name, a, v)
    a, v = asarray(a), asarray(v)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(
            f"{name}() only support 1-dimensional inputs, got shapes {a.shape} and {v.shape}{_at()}"
        )
    if preferred_element_type is None:
        a, v = promote(a, v)
        if not dtypes.is_float(a.dtype):  # NumPy's convolutions promote to inexact
            a, v = astype(a, dtypes.default_float()), astype(v, dtypes.default_float())
        pet = None
    else:
        a, v = promote(a, v)
        pet = dtypes.canonicalize(preferred_element_type)
    if a.shape[0] == 0 or v.shape[0] == 0:
        raise ValueError(f"{name}: inputs cannot be empty, got shapes {a.shape} and {v.shape}.")
    reverse_out = False
    if a.shape[0] < v.shape[0]:
        a, v = v, a
        reverse_out = name == "correlate"
    if name == "convolve":
        v = lax.rev(v, (0,))
    n = v.shape[0]
    pads = {"valid": (0, 0), "same": (n // 2, n - n // 2 - 1), "full": (n - 1, n - 1)}
    if mode not in pads:
        raise ValueError(f"{name}: mode must be one of ['full', 'same', 'valid'], got {mode!r}")
    out = lax.conv_general_dilated(
        reshape(a, (1, 1, -1)),
        reshape(v, (1, 1, -1)),
        (1,),
        [pads[mode]],
        precision=precision,
        preferred_element_type=pet,
    )
    out = reshape(out, (-1,))
    return lax.rev(out, (0,)) if reverse_out else out


def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """The discrete linear convolution of two 1-d arrays, as np.convolve / jnp.convolve.

    Args:
      a: a non-empty 1-d array.
      v: a non-empty 1-d array; a and v promote to one dtype (integers and bools are
        converted to the default float dtype, as jax does, unless
        preferred_element_type is given).
      mode: 'full' (every overlap, length len(a) + len(v) - 1), 'same' (length
        max(len(a), len(v)), centred) or 'valid' (full overlaps only, length
        max(len(a), len(v)) - min(len(a), len(v)) + 1).
      precision: passed to the convolution (XLA's precision config).
      preferred_element_type: the accumulation and result dtype.

    Returns:
      A 1-d array of the mode's length.

    Raises:
      ValueError: for inputs that are not 1-d or are empty, or an unknown mode.

    Example:
      >>> fnp.convolve(fnp.array([1.0, 2.0, 3.0]), fnp.array([0.0, 1.0])).tolist()
      [0.0, 1.0, 2.0, 3.0]
      >>> fnp.convolve(fnp.array([1, 2, 3]), fnp.array([1, 1]), mode="valid").tolist()
      [3.0, 5.0]
    """
    return _conv1d("convolve", a, v, mode, precision, preferred_element_type)


def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """The cross-correlation of two 1-d arrays, c[k] = sum_n a[n + k] * v[n], as
    np.correlate / jnp.correlate.

    Args:
      a: a non-empty 1-d array.
      v: a non-empty 1-d array (converted as in fnp.convolve).
      mode: 'valid' (full overlaps only; the default), 'same' or 'full', as in
        fnp.convolve.
      precision: passed to the convolution (XLA's precision config).
      preferred_element_type: the accumulation and result dtype.

    Returns:
      A 1-d array of the mode's length.

    Raises:
      ValueError: for inputs that are not 1-d or are empty, or an unknown mode.

    Example:
      >>> fnp.correlate(fnp.array([1.0, 2.0, 3.0]), fnp.array([0.0, 1.0])).tolist()
      [2.0, 3.0]
    """
    return _conv1d("correlate", a, v, mode, precision, preferred_element_type)


def einsum_path(subscripts, /, *operands, optimize="auto"):
    """The contraction order einsum would use, with opt_einsum's report, as
    jnp.einsum_path.

    Args:
      subscripts: the einsum specification.
      *operands: the arrays (only their shapes are used).
      optimize: 'auto', 'greedy', 'optimal', True/False or an explicit path.

    Returns:
      A pair (path as a list of tuples, opt_einsum's PathInfo report).
    """
    import opt_einsum  # deferred: only einsum_path needs it (a dependency; see pyproject)

    if optimize is True:
        optimize = "greedy"
    elif optimize is False:
        optimize = "auto" if len(operands) < 3 else "greedy"
    shapes = [np.shape(op) if not hasattr(op, "shape") else tuple(op.shape) for op in operands]
    return opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=optimize)
