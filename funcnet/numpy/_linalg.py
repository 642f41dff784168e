"""Products: matmul, dot, tensordot, einsum, outer, inner — all on dot_general."""

import string

from funcnet import lax
from funcnet.core.source_info import where as _at
from funcnet.numpy._core import asarray, promote
from funcnet.numpy._reductions import sum as _sum
from funcnet.numpy._shape import broadcast_to, expand_dims, normalize_axis, reshape, transpose


def matmul(a, b):
    """NumPy's matmul: vectors are promoted, leading dimensions broadcast."""
    a, b = promote(asarray(a), asarray(b))
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: scalar operands are not allowed (shapes {a.shape}, "
                         f"{b.shape}); use *{_at()}")
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = reshape(a, (1, a.shape[0]))
    if b_vec:
        b = reshape(b, (b.shape[0], 1))
    if a.shape[-1] != b.shape[-2]:
        raise TypeError(f"matmul: shapes {a.shape if not a_vec else a.shape[1:]} and "
                        f"{b.shape if not b_vec else b.shape[:1]} are not aligned: "
                        f"{a.shape[-1]} (dim {a.ndim - 1}) != {b.shape[-2]} (dim "
                        f"{b.ndim - 2}){_at()}")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    if batch_a and not batch_b and not b_vec:
        # (..., m, k) @ (k, n): one contraction, no broadcast copy of the matrix (which
        # would also make reverse mode sum per-example weight gradients).
        out = lax.dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())))
        return reshape(out, out.shape[:-2] + out.shape[-1:]) if a_vec else out
    if batch_a or batch_b:
        from funcnet.numpy._core import broadcast_shapes
        batch = broadcast_shapes(batch_a, batch_b)
        a = broadcast_to(a, batch + a.shape[-2:]) if batch_a != batch else a
        b = broadcast_to(b, batch + b.shape[-2:]) if batch_b != batch else b
        nb = len(batch)
        out = lax.dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))))
    else:
        out = lax.dot_general(a, b, (((1,), (0,)), ((), ())))
    if a_vec:
        out = reshape(out, out.shape[:-2] + out.shape[-1:])
    if b_vec:
        out = reshape(out, out.shape[:-1])
    return out


def dot(a, b):
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return matmul(a, b) if a.ndim <= 2 else tensordot(a, b, ((a.ndim - 1,), (0,)))
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 2,)))


def vdot(a, b):
    return dot(reshape(asarray(a), (-1,)), reshape(asarray(b), (-1,)))


def inner(a, b):
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 1,)))


def outer(a, b):
    a, b = reshape(asarray(a), (-1,)), reshape(asarray(b), (-1,))
    return expand_dims(a, 1) * expand_dims(b, 0)


def tensordot(a, b, axes=2):
    a, b = promote(asarray(a), asarray(b))
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
            raise TypeError(f"tensordot: shape mismatch for sum: {a.shape} axis {x} vs "
                            f"{b.shape} axis {y}{_at()}")
    return lax.dot_general(a, b, ((ca, cb), ((), ())))


def einsum(subscripts, *operands):
    """Einstein summation, contracted pairwise left to right with dot_general."""
    operands = [asarray(o) for o in operands]
    operands = promote(*operands) if len(operands) > 1 else operands
    inputs, output = _parse_einsum(subscripts, operands)
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: {len(inputs)} operand subscripts for {len(operands)} operands")
    sizes = _label_sizes(inputs, operands)
    # A label of size 1 in one operand broadcasts against the others (as NumPy and jax).
    operands = [broadcast_to(op, tuple(sizes[c] for c in sub))
                for sub, op in zip(inputs, operands)]
    ops = list(zip(inputs, operands))
    cur_sub, cur = _sum_unique(*ops[0], keep=set(output) | set("".join(inputs[1:])))
    for i in range(1, len(ops)):
        keep = set(output) | set("".join(inputs[i + 1:]))
        sub_b, b = _sum_unique(*ops[i], keep=keep | set(cur_sub))
        cur_sub, cur = _sum_unique(cur_sub, cur, keep=keep | set(sub_b))
        cur_sub, cur = _contract(cur_sub, cur, sub_b, b, keep)
    cur_sub, cur = _sum_unique(cur_sub, cur, keep=set(output))
    if cur_sub != output:
        cur = transpose(cur, [cur_sub.index(c) for c in output])
    return cur


def _label_sizes(inputs, operands):
    """Each label's size; a size of 1 gives way to any other size."""
    sizes = {}
    for sub, op in zip(inputs, operands):
        if len(sub) != op.ndim:
            raise ValueError(f"einsum: subscripts '{sub}' do not fit operand of shape {op.shape}")
        for c, d in zip(sub, op.shape):
            known = sizes.setdefault(c, d)
            if known == 1:
                sizes[c] = d
            elif d not in (1, known):
                raise ValueError(f"einsum: size of label '{c}' is {known} in one operand "
                                 f"and {d} in another{_at()}")
    return sizes


def _parse_einsum(subscripts, operands):
    subscripts = subscripts.replace(" ", "")
    if "." in subscripts:
        subscripts = _expand_ellipsis(subscripts, operands)
    if "->" in subscripts:
        lhs, output = subscripts.split("->")
    else:
        lhs = subscripts
        counts = {c: lhs.count(c) for c in lhs if c.isalpha()}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    inputs = lhs.split(",")
    for sub in inputs:
        if len(set(sub)) != len(sub):
            raise NotImplementedError(f"einsum: repeated labels within one operand ('{sub}', "
                                      "a diagonal) are not supported")
    return inputs, output


def _expand_ellipsis(subscripts, operands):
    lhs, _, rhs = subscripts.partition("->")
    used = set(subscripts)
    free = [c for c in string.ascii_letters if c not in used]
    parts = lhs.split(",")
    max_ell = 0
    out_parts = []
    for sub, op in zip(parts, operands):
        if "..." in sub:
            n = op.ndim - (len(sub) - 3)
            max_ell = max(max_ell, n)
            sub = sub.replace("...", "".join(free[max_ell - n:max_ell][:n]) if n else "")
        out_parts.append(sub)
    ell = "".join(free[:max_ell])
    new = ",".join(out_parts)
    if "->" in subscripts:
        return new + "->" + rhs.replace("...", ell)
    counts = {c: new.count(c) for c in new if c.isalpha() and c not in ell}
    return new + "->" + ell + "".join(sorted(c for c, k in counts.items() if k == 1))


def _sum_unique(sub, x, keep):
    """Sum away labels nobody else needs."""
    axes = [i for i, c in enumerate(sub) if c not in keep]
    if not axes:
        return sub, x
    return "".join(c for c in sub if c in keep), _sum(x, axis=tuple(axes))


def _contract(sa, a, sb, b, keep):
    batch = [c for c in sa if c in sb and c in keep]
    contract = [c for c in sa if c in sb and c not in keep]
    dn = ((tuple(sa.index(c) for c in contract), tuple(sb.index(c) for c in contract)),
          (tuple(sa.index(c) for c in batch), tuple(sb.index(c) for c in batch)))
    out = lax.dot_general(a, b, dn)
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]
    return "".join(batch + free_a + free_b), out
