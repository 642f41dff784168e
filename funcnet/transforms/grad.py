"""Reverse mode and everything built on it: linearize, vjp, grad, value_and_grad,
jacfwd, jacrev, hessian."""

import functools

import numpy as np

from funcnet import lax, tree
from funcnet.core import dtypes
from funcnet.core.jaxpr import eval_jaxpr
from funcnet.core.trace import get_aval
from funcnet.core.traceback_util import api_boundary
from funcnet.transforms import fused_stage
from funcnet.transforms.ad_util import (
    UndefinedPrimal,
    Zero,
    instantiate,
    is_differentiable,
    tangent_aval,
    to_array,
)
from funcnet.transforms.jvp import _split_aux, jvp, jvp_flat
from funcnet.transforms.partial_eval import partial_eval_flat
from funcnet.transforms.transpose import backward_pass
from funcnet.transforms.vmap import vmap


def linearize_flat(fun, primals):
    """(primals_out, which outputs depend on the inputs, the linear program of the
    differentiable inputs, which inputs are differentiable)."""
    diff = [is_differentiable(get_aval(p)) for p in primals]
    spec = [
        ("unknown", tangent_aval(get_aval(p))) if d else ("known", Zero(tangent_aval(get_aval(p))))
        for p, d in zip(primals, diff)
    ]
    box = {}

    def jvp_fun(*tangents):
        p_out, t_out = jvp_flat(fun, primals, list(tangents), instantiate_zeros=False)
        box["primals_out"] = p_out
        return t_out

    _known_t, out_unknown, linear = partial_eval_flat(jvp_fun, None, spec)
    return box["primals_out"], out_unknown, linear, diff


class _VJP:
    """The function `vjp` returns: cotangents of the outputs -> of the inputs."""

    def __init__(
        self, linear, out_unknown, diff, in_tree, out_tree, in_avals, out_avals, extra_avals=()
    ):
        self.linear, self.out_unknown, self.diff = linear, out_unknown, diff
        self.in_tree, self.out_tree = in_tree, out_tree
        self.in_avals, self.out_avals = in_avals, out_avals
        self.extra_avals = list(extra_avals)

    def __call__(self, cotangents):
        cts, ct_tree = tree.tree_flatten(cotangents)
        if ct_tree != self.out_tree:
            raise TypeError(
                f"vjp: the cotangent has tree structure {ct_tree}, but the "
                f"function's output has {self.out_tree}"
            )
        for i, (ct, aval) in enumerate(zip(cts, self.out_avals)):
            if get_aval(ct).shape != aval.shape:
                raise ValueError(
                    f"vjp: cotangent {i} has shape {get_aval(ct).shape}, the "
                    f"output it pairs with has shape {aval.shape}"
                )
        cts = [_as_dtype(c, a) for c, a in zip(cts, self.out_avals)]
        # Outputs past the function's own (aux values) get no cotangent.
        cts += [Zero(tangent_aval(a)) for a in self.extra_avals]
        cts = [c for c, u in zip(cts, self.out_unknown) if u]
        j = self.linear.jaxpr
        args = [UndefinedPrimal(v.aval) for v in j.invars]
        lin_cts = iter(backward_pass(j, self.linear.consts, args, cts))
        out = []
        for d, aval in zip(self.diff, self.in_avals):
            ct = next(lin_cts) if d else Zero(tangent_aval(aval))
            out.append(to_array(instantiate(ct)))
        return tree.tree_unflatten(self.in_tree, out)


def _as_dtype(ct, aval):
    if not hasattr(ct, "shape"):
        ct = np.asarray(ct, aval.dtype)
    if get_aval(ct).dtype != aval.dtype and dtypes.is_inexact(aval.dtype):
        ct = lax.convert_element_type(ct, aval.dtype)
    return ct


@api_boundary
def vjp(fun, *primals, has_aux=False):
    """Evaluates `fun` and returns its vector-Jacobian product function, as `jax.vjp`.

    `fun` is traced once, here (in forward mode, then partially evaluated); the
    returned `vjp_fn` runs only the backward (transposed) pass, so it can be called
    with many cotangents cheaply.

    Args:
      fun: a function of pytrees of arrays returning a pytree of arrays.
      *primals: the arguments to evaluate and differentiate `fun` at (arrays, NumPy
        arrays, Python scalars or pytrees of them). Leaves that are not floating point
        are not differentiated: their cotangent is zero.
      has_aux: if True, `fun` returns a pair `(out, aux)`; only `out` is
        differentiated and `aux` is returned as a third value.

    Returns:
      `(out, vjp_fn)`, or `(out, vjp_fn, aux)` with `has_aux=True`. `out` is
      `fun(*primals)`; `vjp_fn(cotangent)` takes a cotangent with the structure, shapes
      of `out` (a float cotangent is cast to the output's dtype) and returns a tuple
      with one cotangent per primal, each shaped like that primal.

    Raises:
      TypeError: `vjp_fn` got a cotangent whose tree structure differs from `out`'s,
        or `has_aux=True` and `fun` did not return a pair.
      ValueError: a cotangent leaf's shape differs from its output's.

    Example:
      >>> y, f_vjp = fn.vjp(fnp.sin, 1.0)
      >>> round(float(y), 4)
      0.8415
      >>> (ct,) = f_vjp(1.0)    # cos(1.0)
      >>> round(float(ct), 4)
      0.5403
    """
    p_flat, in_tree = tree.tree_flatten(tuple(primals))
    box = {}

    def flat_fun(*flat):
        out = fun(*tree.tree_unflatten(in_tree, flat))
        aux_leaves = []
        if has_aux:
            out, aux = _split_aux(out)
            # aux leaves travel as extra outputs, so that they leave the traces as
            # primal values rather than as tracers of a finished transformation.
            aux_leaves, box["aux_tree"] = tree.tree_flatten(aux)
        leaves, out_tree = tree.tree_flatten(out)
        box["out_tree"], box["n_out"] = out_tree, len(leaves)
        return leaves + aux_leaves

    p_all, out_unknown, linear, diff = linearize_flat(flat_fun, p_flat)
    p_out, p_aux = p_all[: box["n_out"]], p_all[box["n_out"] :]
    f_vjp = _VJP(
        linear,
        out_unknown,
        diff,
        in_tree,
        box["out_tree"],
        [get_aval(p) for p in p_flat],
        [get_aval(p) for p in p_out],
        [get_aval(p) for p in p_aux],
    )
    out = tree.tree_unflatten(box["out_tree"], p_out)
    if has_aux:
        return out, f_vjp, tree.tree_unflatten(box["aux_tree"], p_aux)
    return out, f_vjp


@api_boundary
def linearize(fun, *primals):
    """Evaluates `fun` and returns its linear approximation (the JVP as a function of
    the tangents alone), as `jax.linearize`.

    The primal computation and the residuals the tangent map needs are computed once,
    here; each call of `f_jvp` then runs only the linear part.

    Args:
      fun: a function of pytrees of arrays returning a pytree of arrays.
      *primals: the point to linearize at (arrays, scalars or pytrees of them).

    Returns:
      `(out, f_jvp)`: `out` is `fun(*primals)`; `f_jvp(*tangents)` takes one tangent
      per primal (same tree structure and shapes) and returns the output tangent, with
      `out`'s structure. Outputs that do not depend on the inputs get zero tangents.

    Raises:
      TypeError: `f_jvp` got tangents whose tree structure differs from the primals'.

    Example:
      >>> y, f_jvp = fn.linearize(fnp.sin, 1.0)
      >>> round(float(f_jvp(2.0)), 4)    # 2 * cos(1.0)
      1.0806
    """
    p_flat, in_tree = tree.tree_flatten(tuple(primals))
    box = {}

    def flat_fun(*flat):
        leaves, box["out_tree"] = tree.tree_flatten(fun(*tree.tree_unflatten(in_tree, flat)))
        return leaves

    p_out, out_unknown, linear, diff = linearize_flat(flat_fun, p_flat)

    def f_jvp(*tangents):
        t_flat, t_tree = tree.tree_flatten(tuple(tangents))
        if t_tree != in_tree:
            raise TypeError(f"linearize: tangents have structure {t_tree}, expected {in_tree}")
        lin_in = [t for t, d in zip(t_flat, diff) if d]
        lin_out = iter(eval_jaxpr(linear.jaxpr, linear.consts, *lin_in))
        outs = [
            next(lin_out) if u else instantiate(Zero(tangent_aval(get_aval(p))))
            for p, u in zip(p_out, out_unknown)
        ]
        return tree.tree_unflatten(box["out_tree"], outs)

    return tree.tree_unflatten(box["out_tree"], p_out), f_jvp


def _check_scalar_output(out, name, holomorphic=False):
    aval = get_aval(out) if not isinstance(out, (tuple, list, dict)) else None
    if aval is not None and aval.shape == () and dtypes.is_complex(aval.dtype):
        if not holomorphic:  # jax's message
            raise TypeError(
                f"{name} requires real-valued outputs (output dtype that is a sub-dtype of "
                "np.floating). For holomorphic differentiation, pass holomorphic=True. For "
                "differentiation of non-holomorphic functions involving complex outputs, use "
                "vjp directly."
            )
        return
    if holomorphic and aval is not None and aval.shape == ():
        raise TypeError(
            f"{name} with holomorphic=True requires outputs with complex dtype, "
            f"but got {aval.dtype}."
        )
    if aval is None or aval.shape != () or not dtypes.is_float(aval.dtype):
        what = (
            f"shape {aval.shape} and dtype {aval.dtype}"
            if aval is not None
            else f"a {type(out).__name__}"
        )
        raise TypeError(
            f"{name} requires a function with a real scalar output (a float of "
            f"shape ()); it returned {what}. Reduce it (e.g. .sum() or .mean()), "
            "or use vjp / jacrev for non-scalar outputs."
        )


def _check_output_dtypes(out, name, holomorphic):
    """jacfwd/jacrev: complex outputs need holomorphic=True in reverse mode, and
    holomorphic=True needs complex outputs (as jax)."""
    for leaf in tree.tree_leaves(out):
        dt = get_aval(leaf).dtype
        if holomorphic and not dtypes.is_complex(dt):
            raise TypeError(
                f"{name} with holomorphic=True requires outputs with complex dtype, but got {dt}."
            )
        if name == "jacrev" and not holomorphic and dtypes.is_complex(dt):
            raise TypeError(
                "jacrev requires real-valued outputs (output dtype that is a sub-dtype of "
                "np.floating). For holomorphic differentiation, pass holomorphic=True. For "
                "differentiation of non-holomorphic functions involving complex outputs, use "
                "vjp directly."
            )


def _check_argnums(argnums, n_args, args, name, holomorphic=False):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n_args <= i < n_args:
            raise ValueError(f"{name}: argnums {argnums} out of range for {n_args} arguments")
    nums = tuple(i % n_args for i in nums)
    for i in nums:
        for path, leaf in tree.tree_flatten_with_path(args[i])[0]:
            aval = get_aval(leaf)
            if holomorphic and not dtypes.is_complex(aval.dtype):
                raise TypeError(
                    f"{name} with holomorphic=True requires inputs with complex dtype, but "
                    f"argument {i}{tree.keystr(path)} has dtype {aval.dtype}."
                )
            if name == "jacfwd" and not holomorphic and dtypes.is_complex(aval.dtype):
                raise TypeError(
                    f"jacfwd requires real-valued inputs (input dtype that is a sub-dtype of "
                    f"np.floating), but argument {i}{tree.keystr(path)} has dtype {aval.dtype}. "
                    "For holomorphic differentiation, pass holomorphic=True. For "
                    "differentiation of non-holomorphic functions involving complex inputs, "
                    "use jvp directly."
                )
            if not dtypes.is_inexact(aval.dtype):
                raise TypeError(
                    f"{name}: argument {i}{tree.keystr(path)} has dtype {aval.dtype}; "
                    "only floating-point inputs can be differentiated. Convert it with "
                    ".astype(float32), or exclude it with argnums."
                )
    return nums


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False, *, _name="value_and_grad"):
    """Makes a function that returns `fun`'s value and its gradient, as
    `jax.value_and_grad`.

    Args:
      fun: a function whose output is a real scalar (a float of shape `()`); its
        arguments are pytrees of arrays or scalars.
      argnums: the positional argument to differentiate with respect to (an int,
        negative counts from the end), or a tuple of them. Default 0.
      has_aux: if True, `fun` returns a pair `(value, aux)`; only `value` is
        differentiated and `aux` is passed through.
      holomorphic: if True, `fun` is a holomorphic function of complex inputs with a
        complex output, and the result is its complex derivative (as jax).

    Returns:
      A function with `fun`'s signature that returns `(value, grad)`, or
      `((value, aux), grad)` with `has_aux=True`. `grad` has the pytree structure,
      shapes and dtypes of argument `argnums`, or is a tuple with one such gradient
      per entry when `argnums` is a tuple. Keyword arguments are passed to `fun` but
      never differentiated.

    Raises:
      TypeError: `fun`'s output is not a real scalar, or a differentiated argument
        holds a leaf that is not floating point (integers cannot be differentiated).
      ValueError: `argnums` is out of range for the call's arguments.

    Example:
      >>> value, g = fn.value_and_grad(lambda x: (x ** 2).sum())(fnp.ones(3))
      >>> float(value), g.tolist()
      (3.0, [2.0, 2.0, 2.0])
    """
    name = _name
    options = (name, argnums, has_aux, holomorphic)  # fused_eager's cache key

    @api_boundary
    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        if fused_stage.active():  # in fused_eager: traced once per signature
            return fused_stage.call(fun, options, run, args, kwargs)
        return run(*args, **kwargs)

    def run(*args, **kwargs):
        nums = _check_argnums(argnums, len(args), args, name, holomorphic)

        def f_of_diff(*diff_args):
            full = list(args)
            for i, a in zip(nums, diff_args):
                full[i] = a
            return fun(*full, **kwargs)

        diff_args = tuple(args[i] for i in nums)
        if has_aux:
            out, f_vjp, aux = vjp(f_of_diff, *diff_args, has_aux=True)
        else:
            out, f_vjp = vjp(f_of_diff, *diff_args)
        _check_scalar_output(out, name, holomorphic)
        one = np.ones((), get_aval(out).dtype)
        grads = f_vjp(one)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((out, aux), g) if has_aux else (out, g)

    return wrapped


def grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """Makes a function that returns the gradient of a scalar-valued `fun`, as
    `jax.grad`.

    It runs `fun` forward once, recording what the backward pass needs, then
    transposes the recorded linear program (reverse mode). Under `jit` the whole
    computation is compiled as one program.

    Args:
      fun: a function whose output is a real scalar (a float of shape `()`); its
        arguments are pytrees of arrays or scalars.
      argnums: the positional argument to differentiate with respect to (an int,
        negative counts from the end), or a tuple of them. Default 0.
      has_aux: if True, `fun` returns a pair `(value, aux)`; only `value` is
        differentiated and `aux` is returned next to the gradient.
      holomorphic: if True, `fun` is a holomorphic function of complex inputs with a
        complex scalar output, and the gradient is its complex derivative (as
        `jax.grad(..., holomorphic=True)`). Without it a real-valued `fun` of a
        complex input `z = x + iy` gets `df/dx - i df/dy`, what jax.grad returns, and
        a complex output is refused.

    Returns:
      A function with `fun`'s signature that returns the gradient, or `(grad, aux)`
      with `has_aux=True`. The gradient has the pytree structure, shapes and dtypes
      of argument `argnums` (e.g. a dict of parameters gives a dict of gradients), or
      is a tuple with one such gradient per entry when `argnums` is a tuple.

    Raises:
      TypeError: `fun`'s output is not a real scalar, or a differentiated argument
        holds a leaf that is not floating point.
      ValueError: `argnums` is out of range for the call's arguments.

    Example:
      >>> round(float(fn.grad(fnp.tanh)(0.5)), 4)    # 1 - tanh(0.5) ** 2
      0.7864
      >>> loss = lambda params, x: ((x @ params["w"] + params["b"]) ** 2).sum()
      >>> params = {"w": fnp.ones((3, 2)), "b": fnp.zeros(2)}
      >>> g = fn.grad(loss)(params, fnp.ones((4, 3)))
      >>> g["w"].shape, g["b"].tolist()
      ((3, 2), [24.0, 24.0])
    """
    vag = value_and_grad(fun, argnums, has_aux, holomorphic, _name="grad")

    @api_boundary
    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        if has_aux:
            (_, aux), g = vag(*args, **kwargs)
            return g, aux
        return vag(*args, **kwargs)[1]

    return wrapped


def _std_basis(flat_avals):
    """Identity rows for every input element: one (n, *shape) array per leaf."""
    sizes = [a.size for a in flat_avals]
    total = sum(sizes)
    out, start = [], 0
    for a, n in zip(flat_avals, sizes):
        # rows k = start .. start + n - 1 of the (total, total) identity, as (total, *shape)
        rows = lax.broadcasted_iota(dtypes.int32, (total, n), 0)
        cols = lax.broadcasted_iota(dtypes.int32, (total, n), 1) + start
        out.append(
            lax.reshape(lax.convert_element_type(lax.eq(rows, cols), a.dtype), (total,) + a.shape)
        )
        start += n
    return out, total


def _vmap(fun, out_axes=0):
    return vmap(fun, out_axes=out_axes)


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False):
    """Makes a function that returns `fun`'s Jacobian, computed in forward mode, as
    `jax.jacfwd`.

    One JVP per input element, all run as one batched JVP (a `vmap` over the standard
    basis). Forward mode suits functions with fewer inputs than outputs.

    Args:
      fun: a function of pytrees of floating-point arrays returning a pytree of arrays.
      argnums: the positional argument (an int) or arguments (a tuple of ints) to
        differentiate with respect to. Default 0.
      has_aux: if True, `fun` returns a pair `(out, aux)`; only `out` is
        differentiated and `aux` is returned next to the Jacobian.
      holomorphic: if True, `fun` is holomorphic: complex inputs and outputs, and the
        Jacobian holds complex derivatives (as jax).

    Returns:
      A function with `fun`'s positional signature returning the Jacobian, or
      `(jacobian, aux)` with `has_aux=True`. The Jacobian has `out`'s pytree structure;
      each output leaf of shape `S` holds, for an input of shape `T`, an array of
      shape `S + T` (a tuple of those, one per input, when `argnums` is a tuple).

    Raises:
      TypeError: a differentiated argument holds a leaf that is not floating point.
      ValueError: `argnums` is out of range for the call's arguments.

    Example:
      >>> fn.jacfwd(lambda x: x ** 2)(fnp.arange(3.0)).tolist()
      [[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0]]
    """

    @api_boundary
    def jac(*args):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        _check_argnums(argnums, len(args), args, "jacfwd", holomorphic)
        diff = [args[i] for i in nums]
        d_flat, d_tree = tree.tree_flatten(diff)
        avals = [get_aval(x) for x in d_flat]
        basis, _total = _std_basis(avals)

        def pushfwd(*t_flat):
            def f_diff(*xs):
                full = list(args)
                for i, x in zip(nums, tree.tree_unflatten(d_tree, list(xs))):
                    full[i] = x
                return fun(*full)

            out = jvp(f_diff, tuple(d_flat), tuple(t_flat), has_aux=has_aux)
            return out

        # The primal output (and aux) is the same for every basis vector: unbatched.
        outs = _vmap(pushfwd, out_axes=(None, 0, None) if has_aux else (None, 0))(*basis)
        primal_out, tangents = outs[0], outs[1]
        _check_output_dtypes(primal_out, "jacfwd", holomorphic)
        jac_tree = _stack_jacobian(tangents, primal_out, avals, d_tree, argnums, in_last=True)
        return (jac_tree, outs[2]) if has_aux else jac_tree

    return jac


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False):
    """Makes a function that returns `fun`'s Jacobian, computed in reverse mode, as
    `jax.jacrev` (`fn.jacobian` is this function).

    One VJP per output element, all run as one batched backward pass (a `vmap` over
    the standard basis of the outputs). Reverse mode suits functions with fewer
    outputs than inputs.

    Args:
      fun: a function of pytrees of floating-point arrays returning a pytree of arrays.
      argnums: the positional argument (an int) or arguments (a tuple of ints) to
        differentiate with respect to. Default 0.
      has_aux: if True, `fun` returns a pair `(out, aux)`; only `out` is
        differentiated and `aux` is returned next to the Jacobian.
      holomorphic: if True, `fun` is holomorphic: complex inputs and outputs, and the
        Jacobian holds complex derivatives (as jax).

    Returns:
      A function with `fun`'s positional signature returning the Jacobian, or
      `(jacobian, aux)` with `has_aux=True`. The Jacobian has `out`'s pytree structure;
      each output leaf of shape `S` holds, for an input of shape `T`, an array of
      shape `S + T` (a tuple of those, one per input, when `argnums` is a tuple).

    Raises:
      TypeError: a differentiated argument holds a leaf that is not floating point.
      ValueError: `argnums` is out of range for the call's arguments.

    Example:
      >>> jac = fn.jacrev(lambda x, y: x * y, argnums=(0, 1))(fnp.arange(2.0), fnp.ones(2))
      >>> jac[0].tolist(), jac[1].tolist()
      ([[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]])
    """

    @api_boundary
    def jac(*args):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        _check_argnums(argnums, len(args), args, "jacrev", holomorphic)

        def f_diff(*xs):
            full = list(args)
            for i, x in zip(nums, xs):
                full[i] = x
            return fun(*full)

        res = vjp(f_diff, *(args[i] for i in nums), has_aux=has_aux)
        out, f_vjp = res[0], res[1]
        _check_output_dtypes(out, "jacrev", holomorphic)
        o_flat, o_tree = tree.tree_flatten(out)
        o_avals = [get_aval(o) for o in o_flat]
        basis, _total = _std_basis(o_avals)
        rows = _vmap(f_vjp)(tree.tree_unflatten(o_tree, basis))
        jac_tree = _stack_rows(rows, o_flat, o_tree, argnums)
        return (jac_tree, res[2]) if has_aux else jac_tree

    return jac


def _stack_jacobian(tangents, primal_out, in_avals, d_tree, argnums, in_last):
    """Forward mode: row k of each leaf of `tangents` is the output's tangent along
    input element k."""
    o_flat, o_tree = tree.tree_flatten(primal_out)
    per_out = []
    for t, o in zip(tree.tree_leaves(tangents), o_flat):
        t_aval = get_aval(t)
        cols = lax.transpose(t, tuple(range(1, t_aval.ndim)) + (0,))  # the rows last
        oshape = get_aval(o).shape
        pieces, start = [], 0
        for a in in_avals:
            piece = lax.slice_in_dim(cols, start, start + a.size, axis=t_aval.ndim - 1)
            pieces.append(lax.reshape(piece, oshape + a.shape))
            start += a.size
        by_input = tree.tree_unflatten(d_tree, pieces)
        per_out.append(by_input[0] if isinstance(argnums, int) else tuple(by_input))
    return tree.tree_unflatten(o_tree, per_out)


def _stack_rows(rows, o_flat, o_tree, argnums):
    """Reverse mode: row k of each leaf of `rows` is the input cotangent for output
    element k."""
    per_out, start = [], 0
    for o in o_flat:
        oshape = get_aval(o).shape
        n = int(np.prod(oshape, dtype=np.int64))

        def block(leaf, start=start, n=n, oshape=oshape):
            return lax.reshape(
                lax.slice_in_dim(leaf, start, start + n, axis=0), oshape + get_aval(leaf).shape[1:]
            )

        start += n
        g = tree.tree_map(block, rows)
        per_out.append(g[0] if isinstance(argnums, int) else g)
    return tree.tree_unflatten(o_tree, per_out)


def hessian(fun, argnums=0, has_aux=False, holomorphic=False):
    """Makes a function that returns `fun`'s Hessian, as `jax.hessian` (computed as
    `jacfwd(jacrev(fun))`; there is no `has_aux`).

    Args:
      fun: a function of pytrees of floating-point arrays, usually scalar-valued.
      argnums: the positional argument (an int) or arguments (a tuple of ints) to
        differentiate with respect to. Default 0.
      has_aux: if True, `fun` returns a pair `(out, aux)`; `aux` is returned next to
        the Hessian.
      holomorphic: if True, `fun` is holomorphic (complex inputs and output).

    Returns:
      A function with `fun`'s positional signature returning the matrix of second
      derivatives: for a scalar output and an input of shape `T`, an array of shape
      `T + T`; in general the Jacobian of the Jacobian (see `jacfwd`, `jacrev`).

    Example:
      >>> fn.hessian(lambda x: (x ** 3).sum())(fnp.arange(3.0)).tolist()
      [[0.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 12.0]]
    """
    return jacfwd(
        jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic),
        argnums,
        has_aux=has_aux,
        holomorphic=holomorphic,
    )
