"""vmap: map a function over an axis of its arguments, as one batched program.

`vmap` matches `in_axes` against the arguments, wraps every mapped leaf in a
BatchTracer, runs the function once (each primitive batched by its rule in
batching.py), and moves every output's batch axis to its `out_axes`.
"""

import functools
import inspect

from funcnet import tree
from funcnet.core.trace import get_aval, new_main
from funcnet.core.traceback_util import api_boundary
from funcnet.lax import control_flow
from funcnet.transforms import fused_stage
from funcnet.transforms.batching import (
    AxisSize,
    BatchInfo,
    BatchTrace,
    BatchTracer,
    bdim_to,
    named_axis,
    unbatch,
)


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None):
    """Vectorizes `fun` over an axis of its inputs, as `jax.vmap`; the batch runs as one
    program (each primitive batched by its rule), not as a Python loop.

    Args:
      fun: a function of arrays (pytrees of them) returning arrays.
      in_axes: which axis of each positional argument holds the examples: an int
        (negative counts from the end), None (not mapped: every example sees the
        same value), or a pytree prefix of the arguments with ints/None at its
        leaves; a tuple/list gives one entry per positional argument. Keyword
        arguments are always mapped over axis 0.
      out_axes: where the batch axis goes in each output: int, None (the output
        must be the same for every example), or a pytree prefix of the outputs.
      axis_name: a name (any hashable, usually a str) for the mapped axis, so that
        collectives inside (`fn.lax.psum(x, axis_name)`, `pmean`, `all_gather`,
        `axis_index`, `ppermute`, ...) run across the examples, as in jax.
      axis_size: the number of examples, needed only when no argument is mapped.

    Returns:
      The batched function, with `fun`'s signature: it takes the arguments with their
      batch axes and returns `fun`'s outputs stacked along `out_axes` (by default a
      new leading axis whose size is the number of examples).

    Raises:
      TypeError: `in_axes`/`out_axes` hold something other than ints and None, or
        `axis_size` is not a non-negative int (when `vmap` is called); a mapped
        argument is not an array (when the batched function is called).
      ValueError: at call time, `in_axes` does not match the arguments' structure, an
        axis is out of range, the mapped axes have different sizes, nothing is mapped
        and `axis_size` is not given, or an output with `out_axes=None` is batched.

    Example:
      >>> xs = fnp.ones((8, 3)); w = fnp.ones((3, 2))
      >>> fn.vmap(lambda x, w: x @ w, in_axes=(0, None))(xs, w).shape
      (8, 2)
    """
    _check_spec(in_axes, "in_axes")
    _check_spec(out_axes, "out_axes")
    if axis_size is not None and (not isinstance(axis_size, int) or axis_size < 0):
        raise TypeError(f"vmap: axis_size must be a non-negative int, got {axis_size!r}")
    sig = _signature(fun)
    # fused_eager's cache key
    options = ("vmap", _spec_key(in_axes), _spec_key(out_axes), axis_name, axis_size)

    @api_boundary
    @functools.wraps(fun)
    def batched(*args, **kwargs):
        if fused_stage.active():  # in fused_eager: traced once per signature
            return fused_stage.call(fun, options, run, args, kwargs)
        return run(*args, **kwargs)

    def run(*args, **kwargs):
        flat, in_tree = tree.tree_flatten((args, kwargs))
        names = _arg_names(sig, len(args))
        paths = _arg_paths(names, args, kwargs)
        axes = _in_axes_per_leaf(in_axes, args, kwargs, names)
        flat_dims, size = _mapped_dims(flat, axes, paths, axis_size)
        if axis_name is not None:
            size = AxisSize(size, axis_name)
        with new_main(BatchTrace, BatchInfo(size)) as main, named_axis(main):
            trace = BatchTrace(main)
            in_vals = [
                x if d is None else BatchTracer(trace, x, d) for x, d in zip(flat, flat_dims)
            ]
            a, k = tree.tree_unflatten(in_tree, in_vals)
            out = fun(*a, **k)
            out_flat, out_tree = tree.tree_flatten(out)
            pairs = [unbatch(main, o) for o in out_flat]
        out_paths = [
            "the output" + tree.keystr(p) if p else "the output"
            for p, _ in tree.tree_flatten_with_path(out)[0]
        ]
        o_axes = _broadcast_prefix(out_axes, out, "out_axes", "the output", "output")
        results = [
            _place_output(v, d, ax, size, path)
            for (v, d), ax, path in zip(pairs, o_axes, out_paths)
        ]
        return tree.tree_unflatten(out_tree, results)

    return batched


# --- in_axes -------------------------------------------------------------------------


def _spec_key(spec):
    """in_axes/out_axes as a hashable value (lists and dicts are pytrees of ints)."""
    leaves, treedef = tree.tree_flatten(spec)
    return tuple(leaves), treedef


def _check_spec(spec, what):
    for path, leaf in tree.tree_flatten_with_path(spec, is_leaf=lambda x: x is None)[0]:
        if leaf is not None and (not isinstance(leaf, int) or isinstance(leaf, bool)):
            at = f" at {what}{tree.keystr(path)}" if path else ""
            raise TypeError(f"vmap: {what} must hold only ints and None, got {leaf!r}{at}")


def _signature(fun):
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


def _arg_names(sig, n):
    names = [f"args[{i}]" for i in range(n)]
    if sig is None:
        return names
    positional = [
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    for i, p in enumerate(positional[:n]):
        names[i] = p.name
    return names


def _arg_paths(names, args, kwargs):
    """A readable path for every flat leaf of (args, kwargs): `x['w']`, `y[0]`."""
    paths = []
    for name, a in zip(names, args):
        paths += [name + tree.keystr(p) for p, _ in tree.tree_flatten_with_path(a)[0]]
    for k in sorted(kwargs):  # dicts flatten in sorted key order
        paths += [k + tree.keystr(p) for p, _ in tree.tree_flatten_with_path(kwargs[k])[0]]
    return paths


def _in_axes_per_leaf(in_axes, args, kwargs, names):
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ValueError(
                f"vmap: in_axes has {len(in_axes)} entries ({in_axes!r}), but the function "
                f"was called with {len(args)} positional argument(s); give one entry per "
                "positional argument (None for arguments that are not mapped)"
            )
        per_arg = in_axes
    elif in_axes is None or isinstance(in_axes, int):
        per_arg = [in_axes] * len(args)
    elif len(args) == 1:
        per_arg = [in_axes]  # a pytree prefix of the single argument
    else:
        raise ValueError(
            f"vmap: in_axes of type {type(in_axes).__name__} can only describe a single "
            f"positional argument; with {len(args)} arguments use a tuple with one entry "
            "per argument"
        )
    axes = []
    for i, (spec, a) in enumerate(zip(per_arg, args)):
        axes += _broadcast_prefix(spec, a, "in_axes", names[i], f"in_axes[{i}]")
    for k in sorted(kwargs):
        axes += [0] * len(tree.tree_leaves(kwargs[k]))
    return axes


def _describe(treedef):
    data = treedef.node_data()
    if data is None:
        return "a leaf (an array or None)"
    kind, aux = data
    if kind is dict:
        return f"a dict with keys {list(aux)}"
    n = len(treedef.children())
    return f"a {kind.__name__} of {n} entr{'y' if n == 1 else 'ies'}"


def _mismatch(pdef, fdef, path):
    """The first place where prefix treedef `pdef` does not match `fdef`, or None."""
    if pdef.node_data() is None:
        return None
    if pdef.node_data() != fdef.node_data() or len(pdef.children()) != len(fdef.children()):
        return path, pdef, fdef
    kind, aux = pdef.node_data()
    keys = (
        [f"[{k!r}]" for k in aux]
        if kind is dict
        else [f"[{i}]" for i in range(len(pdef.children()))]
    )
    for key, pc, fc in zip(keys, pdef.children(), fdef.children()):
        found = _mismatch(pc, fc, path + key)
        if found:
            return found
    return None


def _broadcast_prefix(spec, full, what, root, spec_root):
    """One axis per leaf of `full`, from `spec`, a pytree prefix of it."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree.tree_leaves(full))
    pdef = tree.tree_structure(spec, is_leaf=lambda x: x is None)
    try:
        subtrees = pdef.flatten_up_to(full)
    except (ValueError, TypeError) as e:
        found = _mismatch(pdef, tree.tree_structure(full), "")
        if found is None:
            raise ValueError(f"vmap: {what} does not match {root}: {e}") from None
        path, p, f = found
        raise ValueError(
            f"vmap: {what} does not match the structure of {root}: at {root}{path}, "
            f"{spec_root}{path} is {_describe(p)} but {root}{path} is {_describe(f)}. "
            f"{what} must be a pytree prefix of {root} (ints/None at its leaves)."
        ) from None
    axes = []
    for ax, sub in zip(tree.tree_leaves(spec, is_leaf=lambda x: x is None), subtrees):
        axes += [ax] * len(tree.tree_leaves(sub))
    return axes


def _mapped_dims(flat, axes, paths, axis_size):
    """Normalize each mapped leaf's axis and check that all sizes agree."""
    dims, mapped = [], []
    for x, ax, path in zip(flat, axes, paths):
        if ax is None:
            dims.append(None)
            continue
        try:
            aval = get_aval(x)
        except TypeError:
            raise TypeError(
                f"vmap: argument {path} is mapped over axis {ax}, but it is a "
                f"{type(x).__name__}, not an array; use in_axes=None for it"
            ) from None
        if not -aval.ndim <= ax < aval.ndim:
            what = (
                "a scalar has no axis to map over"
                if aval.ndim == 0
                else f"valid axes are {-aval.ndim}..{aval.ndim - 1}"
            )
            raise ValueError(
                f"vmap: in_axes={ax} for argument {path} of shape {aval.shape} "
                f"is out of range ({what})"
            )
        ax %= aval.ndim
        dims.append(ax)
        mapped.append((path, ax, aval.shape[ax]))
    sizes = {s for _, _, s in mapped}
    if axis_size is not None:
        sizes.add(axis_size)
    if len(sizes) > 1:
        lines = "".join(f"\n  {p}: axis {a} has size {s}" for p, a, s in mapped)
        extra = f"\n  axis_size={axis_size}" if axis_size is not None else ""
        raise ValueError(
            "vmap: the mapped arguments have different sizes along their "
            f"mapped axes:{lines}{extra}\nAll mapped axes must have one size "
            "(the number of examples)."
        )
    if not sizes:
        raise ValueError(
            "vmap: no argument is mapped (all in_axes are None) and "
            "axis_size is not given, so the number of examples is unknown"
        )
    return dims, sizes.pop()


# --- out_axes -------------------------------------------------------------------------


def _place_output(val, d, ax, size, path):
    try:
        aval = get_aval(val)
    except TypeError:
        raise TypeError(f"vmap: {path} is a {type(val).__name__}, not an array") from None
    rank = aval.ndim - (d is not None)
    if ax is None:
        if d is not None:
            raise ValueError(
                f"vmap: out_axes is None for {path}, but that output is batched (it "
                "depends on a mapped input); give it an out axis, or compute it from "
                "unmapped inputs only"
            )
        return val
    if not -(rank + 1) <= ax <= rank:
        raise ValueError(
            f"vmap: out_axes={ax} for {path} is out of range: its per-example shape is "
            f"{aval.shape[:d] + aval.shape[d + 1 :] if d is not None else aval.shape}, so "
            f"the batch axis can go at {-(rank + 1)}..{rank}"
        )
    ax %= rank + 1
    return bdim_to(val, d, size, ax)


control_flow.set_vmap(vmap)  # lax.map(batch_size=...) vectorizes with it
