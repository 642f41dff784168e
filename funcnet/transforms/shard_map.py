"""shard_map: per-device programming over a mesh, as `jax.shard_map`.

The user's function is traced once on per-device blocks (each argument split by its
in_spec) with the mesh axes bound as named axes, so collectives (`fn.lax.psum(x, "data")`)
run between the devices. The `shard_map` primitive carries that body program; it lowers
to `sdy.manual_computation` (the partitioner leaves the body per device) and each
transformation has its rule: jvp (the body's jvp), partial evaluation and transposition
(the linear part recomputes the forward inside the transposed shard_map, as checkpoint
does), batching (the body batched along a new unsplit leading axis).

Replication is tracked as jax's check_vma does (`funcnet.transforms.vma`): every value in
the body is varying or invariant over each mesh axis, and gradients are exact.
"""

import contextlib
import functools
import math
import weakref

from funcnet import tree
from funcnet.backend.lowering import lower_jaxpr, lowering_rules, tensor_type
from funcnet.core import axis_env
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, closed_without_consts
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Primitive, Tracer, get_aval, impl_rules
from funcnet.core.traceback_util import api_boundary
from funcnet.runtime.cache import register_program_cache
from funcnet.sharding import Mesh, PartitionSpec
from funcnet.sharding._sdy import tensor_sharding
from funcnet.transforms import jit as jit_module
from funcnet.transforms import vma
from funcnet.transforms.ad_util import (
    UndefinedPrimal,
    Zero,
    instantiate,
    is_undefined,
    zero_like,
    zeros,
)
from funcnet.transforms.batching import axis_name_of, batch_jaxpr, batching_rules, bdim_to
from funcnet.transforms.jvp import jvp_jaxpr, jvp_rules
from funcnet.transforms.partial_eval import partial_eval_jaxpr, partial_eval_rules
from funcnet.transforms.remat import _keep_outputs, _recompute_and_backward
from funcnet.transforms.transpose import transpose_rules

shard_map_p = Primitive("shard_map", multiple_results=True)


# --- shapes: global <-> per-device block --------------------------------------------------


def _split_size(mesh, spec, dim) -> int:
    return math.prod(mesh.shape[a] for a in spec.axes_of(dim)) if dim < len(spec) else 1


def block_aval(aval, spec, mesh, what="argument"):
    """The per-device block type of a global value of type `aval` split by `spec`."""
    if len(spec) > aval.ndim:
        raise ValueError(
            f"shard_map: the in_spec {spec} of {what} has {len(spec)} entries but the value "
            f"{aval.str_short()} has rank {aval.ndim}"
        )
    shape = []
    for d, n in enumerate(aval.shape):
        k = _split_size(mesh, spec, d)
        if n % k:
            raise ValueError(
                f"shard_map: dimension {d} of {what} {aval.str_short()} ({n}) is not "
                f"divisible by the mesh axes {spec.axes_of(d)} it is split over (size {k}); "
                "funcnet does not pad (as jax's shard_map)"
            )
        shape.append(n // k)
    return aval.update(shape=tuple(shape))


def global_aval(aval, spec, mesh):
    """The global type of per-device blocks of type `aval` concatenated by `spec`."""
    return aval.update(
        shape=tuple(n * _split_size(mesh, spec, d) for d, n in enumerate(aval.shape))
    )


@shard_map_p.def_abstract_eval
def _shard_map_abstract_eval(*avals, jaxpr, mesh, in_specs, out_specs, check_vma):
    for a, s, b in zip(avals, in_specs, jaxpr.in_avals):
        if block_aval(a, s, mesh).strip_weak_type() != b.strip_weak_type():
            raise TypeError(
                f"shard_map: an argument {a.str_short()} split by {s} gives blocks "
                f"{block_aval(a, s, mesh).str_short()}, but the body takes {b.str_short()}"
            )
    return [global_aval(a, s, mesh) for a, s in zip(jaxpr.out_avals, out_specs)]


# --- the user's function --------------------------------------------------------------------


def _is_spec(x):
    return x is None or isinstance(x, PartitionSpec)


def _specs_for(specs, values, what):
    """One PartitionSpec per leaf of `values`, from `specs`, a pytree prefix of it."""
    if _is_spec(specs):
        return [specs or PartitionSpec()] * len(tree.tree_leaves(values))
    try:
        subtrees = tree.tree_structure(specs, is_leaf=_is_spec).flatten_up_to(values)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"shard_map: {what} must be a PartitionSpec or a pytree prefix of the "
            f"{'arguments' if what == 'in_specs' else 'outputs'} with PartitionSpecs at "
            f"its leaves: {e}"
        ) from None
    out = []
    for s, sub in zip(tree.tree_leaves(specs, is_leaf=_is_spec), subtrees):
        out += [s or PartitionSpec()] * len(tree.tree_leaves(sub))
    return out


def _check_spec_axes(spec, mesh, what):
    names = [a for d in range(len(spec)) for a in spec.axes_of(d)]
    for a in names:
        if a not in mesh.shape:
            raise ValueError(
                f"shard_map: {what} {spec} names axis {a!r}, which the mesh lacks (its axes "
                f"are {tuple(mesh.axis_names)})"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"shard_map: {what} {spec} uses a mesh axis twice")


def shard_map(f=None, /, *, out_specs, in_specs, mesh, axis_names=None, check_vma=True):
    """Maps `f` over the devices of `mesh`: each device runs `f` on its block of every
    argument, and the blocks `f` returns make up the outputs, as `jax.shard_map`.

    Inside `f`, the mesh axes are named axes: `fn.lax.psum(x, "data")`, `pmean`, `pmax`,
    `pmin`, `all_gather`, `psum_scatter`, `ppermute`, `all_to_all` and `axis_index`
    communicate between the devices. Replication follows jax's check_vma convention (see
    docs/sharding.md): a value is *varying* over the axes its inputs are split over,
    collectives such as psum make it *invariant*, and an output whose out_spec does not
    name an axis must be invariant over it. Derivatives through shard_map are exact.

    Args:
      f: the per-device function (omit it to use `shard_map` as a decorator factory).
      out_specs: a PartitionSpec, or a pytree prefix of the outputs with PartitionSpecs
        at its leaves: how the per-device blocks are put together (an axis not named
        means the blocks are equal over it, and one is taken).
      in_specs: a PartitionSpec, or a pytree prefix of the positional arguments (a
        tuple, one entry per argument): how each argument is split (None or P() means
        every device gets the whole value).
      mesh: a `funcnet.sharding.Mesh`.
      axis_names: the mesh axes the function is manual over; only all of them (None) is
        supported.
      check_vma: track replication (default True, as jax); False skips the check and the
        rewriting it does (then psum transposes to psum, as in jax).

    Returns:
      A function taking the global arguments and returning the global outputs.

    Raises:
      ValueError: a spec names an axis the mesh lacks or uses one twice, a dimension is
        not divisible by the mesh axes it is split over, or an out_spec claims
        replication over an axis the output varies over.
      NameError: (when traced) a collective names an axis that is not bound.

    Example:
      >>> from funcnet.sharding import Mesh, PartitionSpec as P
      >>> mesh = Mesh(fn.devices()[:1], ("data",))
      >>> total = fn.shard_map(lambda x: fn.lax.psum(x.sum(), "data"), mesh=mesh,
      ...                      in_specs=P("data"), out_specs=P())
      >>> float(total(fnp.arange(4.0)))
      6.0
    """
    if f is None:
        return functools.partial(
            shard_map,
            out_specs=out_specs,
            in_specs=in_specs,
            mesh=mesh,
            axis_names=axis_names,
            check_vma=check_vma,
        )
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_map: mesh must be a funcnet.sharding.Mesh, got {type(mesh)}")
    if axis_names is not None and set(axis_names) != set(mesh.axis_names):
        raise NotImplementedError(
            "shard_map: axis_names must name every mesh axis (funcnet has no partially "
            "manual shard_map yet)"
        )

    @api_boundary
    @functools.wraps(f)
    def mapped(*args):
        flat, in_tree = tree.tree_flatten(args)
        specs = _specs_for(in_specs, args, "in_specs")
        paths = [f"args{tree.keystr(p)}" for p, _ in tree.tree_flatten_with_path(args)[0]]
        for s, path in zip(specs, paths):
            _check_spec_axes(s, mesh, f"in_spec of {path}")
        blocks = [block_aval(get_aval(x), s, mesh, path) for x, s, path in zip(flat, specs, paths)]
        outer = tuple((fr.name, fr.size) for fr in axis_env.frames())
        key = (in_tree, tuple(blocks), tuple(specs), outer)
        hit = traced.get(key)
        if hit is None:
            hit = _trace_body(f, in_tree, blocks, specs, mesh, out_specs, check_vma)
            # A body closing over arrays is traced again on each call, so that it sees
            # their current values (as a Python call would); others are traced once.
            if not hit[1]:
                traced[key] = hit
        program, consts, all_in, o_specs, out_tree = hit
        outs = shard_map_p.bind(
            *consts,
            *flat,
            jaxpr=program,
            mesh=mesh,
            in_specs=all_in,
            out_specs=o_specs,
            check_vma=bool(check_vma),
        )
        return tree.tree_unflatten(out_tree, outs)

    traced = {}  # (argument structure and block types, ...) -> the traced body
    return mapped


def _trace_body(f, in_tree, blocks, specs, mesh, out_specs, check_vma):
    """Trace `f` on per-device blocks with the mesh axes bound; run the replication pass.

    Returns (body program, its constants, in_specs with the constants', out_specs,
    output tree)."""
    box = {}
    tracker = vma.BindTracker(mesh.axis_names) if check_vma else None

    def body(*leaves):
        if tracker is not None:  # each argument varies over the axes its spec splits by
            for leaf, spec in zip(leaves, specs):
                tracker.record(leaf, _spec_axes(spec))
        out_flat, box["out_tree"] = tree.tree_flatten(f(*tree.tree_unflatten(in_tree, leaves)))
        return out_flat

    hook = vma.tracking(tracker) if tracker is not None else contextlib.nullcontext()
    with axis_env.extend_axis_env(_mesh_frames(mesh)), hook:
        closed = trace_to_jaxpr(body, blocks)
    out_tree = box["out_tree"]
    shape_only = tree.tree_unflatten(out_tree, [0] * out_tree.num_leaves)
    o_specs = tuple(_specs_for(out_specs, shape_only, "out_specs"))
    for s in o_specs:
        _check_spec_axes(s, mesh, "out_spec")
    consts = closed.consts
    all_in = tuple([PartitionSpec()] * len(consts) + list(specs))
    program = _prepare(
        closed_without_consts(closed), mesh, all_in, o_specs, check_vma, name=_name(f)
    )
    return program, consts, all_in, o_specs, out_tree


def _name(f):
    return getattr(f, "__name__", type(f).__name__)


def _spec_axes(spec) -> frozenset:
    return frozenset(a for d in range(len(spec)) for a in spec.axes_of(d))


def _prepare(program, mesh, in_specs, out_specs, check_vma, name="the body"):
    """Run the replication pass (insert pvary, psum -> psum_invariant, check outputs)."""
    if not check_vma:
        return program
    return vma.rewrite(
        program,
        [_spec_axes(s) for s in in_specs],
        [_spec_axes(s) for s in out_specs],
        tuple(mesh.axis_names),
        name,
        dict(mesh.shape),
    )


def _with_consts(closed, in_specs):
    """A program's constants as leading arguments, replicated."""
    return (
        closed_without_consts(closed),
        list(closed.consts),
        [PartitionSpec()] * len(closed.consts) + list(in_specs),
    )


# --- eager: one staged call, compiled by jit ------------------------------------------------------

_eager_calls = weakref.WeakKeyDictionary()


@impl_rules.register(shard_map_p)
def _shard_map_impl(prim, *args, **params):

    key = tuple(sorted((k, v) for k, v in params.items() if k != "jaxpr"))
    per = _eager_calls.setdefault(params["jaxpr"], {})
    call = per.get(key)
    if call is None:
        call = jit_module.jit(lambda *a: shard_map_p.bind(*a, **params))
        per[key] = call
    return call(*args)


# --- lowering: sdy.manual_computation -------------------------------------------------------------


@lowering_rules.register(shard_map_p)
def _shard_map_lowering(em, *args, jaxpr, mesh, in_specs, out_specs, check_vma):
    name = em.module.mesh_name(mesh)
    in_avals, out_avals = em.in_avals, em.out_avals
    ins = ", ".join(tensor_sharding(s, a.ndim, name) for s, a in zip(in_specs, in_avals))
    outs = ", ".join(tensor_sharding(s, a.ndim, name) for s, a in zip(out_specs, out_avals))
    manual = ", ".join(f'"{a}"' for a in mesh.axis_names)
    attrs = {
        "in_shardings": f"#sdy.sharding_per_value<[{ins}]>",
        "manual_axes": f"#sdy<manual_axes{{{manual}}}>",
        "out_shardings": f"#sdy.sharding_per_value<[{outs}]>",
    }
    block_in, block_out = jaxpr.in_avals, jaxpr.out_avals
    region = _region(em, block_in, block_out, jaxpr, mesh)
    return em.op(
        "sdy.manual_computation",
        list(args),
        [tensor_type(a) for a in in_avals],
        [tensor_type(a) for a in out_avals],
        attrs,
        [region],
    )


def _region(em, arg_avals, out_avals, jaxpr, mesh):
    def body(sub, *args):
        outer = getattr(em.module, "manual_mesh", None)
        em.module.manual_mesh = mesh  # collectives inside group devices by this mesh
        try:
            return lower_jaxpr(sub, jaxpr.jaxpr, [], args)
        finally:
            em.module.manual_mesh = outer

    return em.region(arg_avals, out_avals, body, terminator="sdy.return")


# --- derived programs, cached per body so that eager steps reuse their executables ---------------

# body -> {key: derived value}: the jvp, partial-evaluation, transposed and batched
# programs of a body are made (and, eagerly, compiled) once, not on every step.
_derived = register_program_cache(weakref.WeakKeyDictionary())


def _derive(jaxpr, key, build):
    """build() -> (value, the constants it holds); the value is cached unless a constant
    is a tracer of a transformation in progress."""
    per = _derived.setdefault(jaxpr, {})
    hit = per.get(key)
    if hit is None:
        hit, consts = build()
        if not any(isinstance(c, Tracer) for c in consts):
            per[key] = hit
    return hit


def _call(derived, mesh, check_vma, args):
    program, consts, in_specs, out_specs = derived
    return shard_map_p.bind(
        *consts,
        *args,
        jaxpr=program,
        mesh=mesh,
        in_specs=in_specs,
        out_specs=out_specs,
        check_vma=check_vma,
    )


def _program(closed, in_specs, out_specs, mesh, check_vma):
    """(prepared program, its constants, in_specs with the constants', out_specs)."""
    program, consts, specs = _with_consts(closed, in_specs)
    specs, out_specs = tuple(specs), tuple(out_specs)
    return (_prepare(program, mesh, specs, out_specs, check_vma), consts, specs, out_specs)


# --- jvp ------------------------------------------------------------------------------------------


@jvp_rules.register(shard_map_p)
def _shard_map_jvp(primals, tangents, *, jaxpr, mesh, in_specs, out_specs, check_vma):
    nonzeros = tuple(not isinstance(t, Zero) for t in tangents)

    def build():
        new, out_nz = jvp_jaxpr(jaxpr, list(nonzeros))
        t_in = [s for s, nz in zip(in_specs, nonzeros) if nz]
        t_out = [s for s, nz in zip(out_specs, out_nz) if nz]
        derived = _program(new, list(in_specs) + t_in, list(out_specs) + t_out, mesh, check_vma)
        return (derived, out_nz), derived[1]

    derived, out_nz = _derive(jaxpr, ("jvp", nonzeros), build)
    outs = _call(
        derived, mesh, check_vma, [*primals, *(t for t in tangents if not isinstance(t, Zero))]
    )
    n = len(jaxpr.out_avals)
    t_iter = iter(outs[n:])
    return outs[:n], [next(t_iter) if nz else zero_like(p) for p, nz in zip(outs[:n], out_nz)]


# --- partial evaluation: known part now, the whole program recorded for the rest ----------------


@partial_eval_rules.register(shard_map_p)
def _shard_map_partial_eval(trace, tracers, *, jaxpr, mesh, in_specs, out_specs, check_vma):
    unknowns = tuple(not t.is_known for t in tracers)

    def build():
        known, _, out_unknown, num_res = partial_eval_jaxpr(jaxpr, list(unknowns))
        n_known_out = len(known.out_avals) - num_res
        known_only = _keep_outputs(known, [True] * n_known_out + [False] * num_res)
        k_in = [s for s, u in zip(in_specs, unknowns) if not u]
        k_out = [s for s, u in zip(out_specs, out_unknown) if not u]
        k_derived = _program(known_only, k_in, k_out, mesh, check_vma)
        rec = _keep_outputs(jaxpr, out_unknown)
        rec_out = [s for s, u in zip(out_specs, out_unknown) if u]
        r_derived = _program(rec, in_specs, rec_out, mesh, check_vma)
        return (k_derived, r_derived, out_unknown), k_derived[1] + r_derived[1]

    k_derived, r_derived, out_unknown = _derive(jaxpr, ("pe", unknowns), build)
    known_outs = _call(k_derived, mesh, check_vma, [t.val for t in tracers if t.is_known])
    program, rec_consts, rec_specs, rec_out = r_derived
    params = dict(
        jaxpr=program, mesh=mesh, in_specs=rec_specs, out_specs=rec_out, check_vma=check_vma
    )
    out_avals = [global_aval(a, s, mesh) for a, s in zip(program.out_avals, rec_out)]
    unknown_outs = iter(
        trace.record(
            shard_map_p, [trace.pure(c) for c in rec_consts] + list(tracers), params, out_avals
        )
    )
    known_iter = iter(known_outs)
    return [next(unknown_outs) if u else trace.pure(next(known_iter)) for u in out_unknown]


# --- transposition: recompute the forward and transpose, per device -------------------------------


@transpose_rules.register(shard_map_p)
def _shard_map_transpose(cts, *args, jaxpr, mesh, in_specs, out_specs, check_vma):
    linear = tuple(is_undefined(a) for a in args)
    known = [a for a in args if not is_undefined(a)]
    ct_nz = tuple(not isinstance(c, Zero) for c in cts)

    def build():
        lin_avals = [b for b, lin in zip(jaxpr.in_avals, linear) if lin]
        known_avals = [b for b, lin in zip(jaxpr.in_avals, linear) if not lin]
        ct_avals = [b for b, nz in zip(jaxpr.out_avals, ct_nz) if nz]
        n_known = len(known_avals)

        def backward(*vals):
            known_vals, ct_vals = iter(vals[:n_known]), iter(vals[n_known:])
            lin = iter(lin_avals)
            full_args = [
                UndefinedPrimal(next(lin)) if is_lin else next(known_vals) for is_lin in linear
            ]
            full_cts = [next(ct_vals) if nz else Zero(a) for nz, a in zip(ct_nz, jaxpr.out_avals)]
            res = _recompute_and_backward(jaxpr, full_args, full_cts)
            return [instantiate(r) if r is not None else _zeros(a) for r, a in zip(res, lin_avals)]

        with axis_env.extend_axis_env(_mesh_frames(mesh)):
            closed = trace_to_jaxpr(backward, known_avals + ct_avals)
        k_specs = [s for s, lin in zip(in_specs, linear) if not lin]
        c_specs = [s for s, nz in zip(out_specs, ct_nz) if nz]
        lin_specs = [s for s, lin in zip(in_specs, linear) if lin]
        derived = _program(closed, k_specs + c_specs, lin_specs, mesh, check_vma)
        return derived, derived[1]

    derived = _derive(jaxpr, ("transpose", linear, ct_nz), build)
    outs = iter(_call(derived, mesh, check_vma, [*known, *(c for c, nz in zip(cts, ct_nz) if nz)]))
    return [next(outs) if lin else None for lin in linear]


def _zeros(aval):
    return zeros(aval.strip_weak_type())


def _mesh_frames(mesh):
    return [axis_env.AxisFrame(n, s, "shard_map") for n, s in mesh.shape.items()]


# --- batching: a new unsplit leading axis --------------------------------------------------------


@batching_rules.register(shard_map_p)
def _shard_map_batch(size, vals, dims, *, jaxpr, mesh, in_specs, out_specs, check_vma):
    vals = [v if d is None else bdim_to(v, d, size, 0) for v, d in zip(vals, dims)]
    b_dims = tuple(None if d is None else 0 for d in dims)

    def build():
        new_in = [s if d is None else PartitionSpec(None, *s) for s, d in zip(in_specs, b_dims)]
        block_in = [
            b if d is None else b.update(shape=(size,) + b.shape)
            for b, d in zip(jaxpr.in_avals, b_dims)
        ]
        with axis_env.extend_axis_env(_mesh_frames(mesh)):
            program, consts, _ = batch_jaxpr(jaxpr, size, b_dims, block_in, [0] * len(out_specs))
        closed = ClosedJaxpr(
            Jaxpr(
                program.jaxpr.invars[: len(consts)],
                program.jaxpr.invars[len(consts) :],
                program.jaxpr.eqns,
                program.jaxpr.outvars,
            ),
            consts,
        )
        new_out = [PartitionSpec(None, *s) for s in out_specs]
        derived = _program(closed, new_in, new_out, mesh, check_vma)
        return derived, derived[1]

    derived = _derive(jaxpr, ("batch", int(size), axis_name_of(size), b_dims), build)
    outs = _call(derived, mesh, check_vma, vals)
    return outs, [0] * len(outs)


__all__ = ["shard_map", "shard_map_p"]
