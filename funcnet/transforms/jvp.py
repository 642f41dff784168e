"""Forward mode: the JVP trace and `jvp`. Rules live in `jvp_rules`.

A rule has the signature ``rule(primals, tangents, **params) -> (primal_out,
tangent_out)`` (lists for multiple-result primitives); tangents may be symbolic
`Zero`s, and a rule is never called when every tangent is Zero.
"""

from funcnet import lax, tree
from funcnet.core.jaxpr import ClosedJaxpr, eval_jaxpr
from funcnet.core.rules import RuleTable
from funcnet.core.source_info import where
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Trace, Tracer, full_lower, full_raise, get_aval, new_main
from funcnet.core.trace import _state as _trace_state  # its `stack`: this thread's traces
from funcnet.core.traceback_util import api_boundary
from funcnet.transforms.ad_util import Zero, instantiate, is_differentiable, tangent_aval, zero_like
from funcnet.transforms.ad_util import instantiate as instantiate_zero

jvp_rules = RuleTable("jvp")


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self):
        return get_aval(self.primal)

    def full_lower(self):
        if isinstance(self.tangent, Zero):
            return full_lower(self.primal)
        return self

    def to_concrete_value(self):
        p = self.primal
        return p.to_concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(Trace):
    def pure(self, val):
        return JVPTracer(self, val, zero_like(val))

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(isinstance(t, Zero) for t in tangents):
            outs = primitive.bind(*primals, **params)
            outs = outs if primitive.multiple_results else [outs]
            return [JVPTracer(self, o, zero_like(o)) for o in outs]
        rule = jvp_rules.get(primitive)
        if rule is None:
            raise NotImplementedError(
                f"differentiation rule for primitive '{primitive}' is not implemented{where()}"
            )
        primal_out, tangent_out = rule(primals, tangents, **params)
        if primitive.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
        return [JVPTracer(self, primal_out, tangent_out)]


def jvp_flat(fun, primals, tangents, instantiate_zeros=True):
    """Run `fun(*flat) -> flat outs` in forward mode; tangents may be Zero."""
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers_in = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*tracers_in)
        tracers_out = [full_raise(trace, o) for o in outs]
        primals_out = [t.primal for t in tracers_out]
        tangents_out = [t.tangent for t in tracers_out]
    if instantiate_zeros:
        tangents_out = [instantiate(t) for t in tangents_out]
    return primals_out, tangents_out


@api_boundary
def jvp(fun, primals, tangents, has_aux=False):
    """Evaluates `fun` and its Jacobian-vector product at once (forward mode), as
    `jax.jvp`.

    Args:
      fun: a function of pytrees of arrays returning a pytree of arrays.
      primals: a tuple (or list) of the arguments to evaluate `fun` at, one entry per
        positional parameter.
      tangents: a tuple (or list) of tangents with the same tree structure and shapes
        as `primals`. A tangent whose dtype differs from its float primal's is cast to
        it; tangents of non-float primals (integers, bools) are ignored.
      has_aux: if True, `fun` returns a pair `(out, aux)`; only `out` is
        differentiated and `aux` is returned as a third value.

    Returns:
      `(out, tangent_out)`, or `(out, tangent_out, aux)` with `has_aux=True`: `out` is
      `fun(*primals)` and `tangent_out`, with `out`'s structure and shapes, is the
      Jacobian of `fun` at `primals` applied to `tangents`.

    Raises:
      TypeError: `primals` or `tangents` is not a tuple or list, their tree structures
        differ, or `has_aux=True` and `fun` did not return a pair.
      ValueError: a tangent's shape differs from its primal's.

    Example:
      >>> y, t = fn.jvp(fnp.sin, (1.0,), (2.0,))
      >>> round(float(y), 4), round(float(t), 4)    # sin(1), 2 * cos(1)
      (0.8415, 1.0806)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples of arguments")
    p_flat, p_tree = tree.tree_flatten(tuple(primals))
    t_flat, t_tree = tree.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(
            f"jvp: primals and tangents have different tree structures: {p_tree} and {t_tree}"
        )
    for path, p, t in zip(tree.leaf_paths(tuple(primals)), p_flat, t_flat):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise ValueError(f"jvp: tangent{path} has shape {ta.shape}, its primal {pa.shape}")
    box = {}

    def flat_fun(*flat):
        out = fun(*tree.tree_unflatten(p_tree, flat))
        aux_leaves = []
        if has_aux:  # aux leaves leave the trace as extra (primal) outputs
            out, aux = _split_aux(out)
            aux_leaves, box["aux_tree"] = tree.tree_flatten(aux)
        leaves, box["out_tree"] = tree.tree_flatten(out)
        box["n_out"] = len(leaves)
        return leaves + aux_leaves

    tangents_in = [t if not _is_float(p) else _match_dtype(t, p) for p, t in zip(p_flat, t_flat)]
    tangents_in = [t if _is_float(p) else zero_like(p) for p, t in zip(p_flat, tangents_in)]
    primals_out, tangents_out = jvp_flat(flat_fun, p_flat, tangents_in)
    n, out_tree = box["n_out"], box["out_tree"]
    result = (
        tree.tree_unflatten(out_tree, primals_out[:n]),
        tree.tree_unflatten(out_tree, tangents_out[:n]),
    )
    if has_aux:
        return result + (tree.tree_unflatten(box["aux_tree"], primals_out[n:]),)
    return result


def _is_float(x):
    return is_differentiable(get_aval(x))


def _match_dtype(t, p):
    pa = get_aval(p)
    if get_aval(t).dtype != pa.dtype:
        return lax.convert_element_type(t, pa.dtype)
    return t


def _split_aux(out):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            "has_aux=True requires the function to return a pair (output, aux); "
            f"it returned {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        )
    return out


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros, instantiate=False) -> tuple[ClosedJaxpr, list]:
    """A program computing (primals_out, nonzero tangents_out) from (primals, nonzero
    tangents). Returns it and which output tangents are nonzero; `instantiate` (a bool
    or one per output) makes those output tangents present even when zero."""
    in_avals = closed.in_avals
    n_out = len(closed.out_avals)
    inst = [instantiate] * n_out if isinstance(instantiate, bool) else list(instantiate)
    t_avals = [tangent_aval(a) for a, nz in zip(in_avals, nonzeros) if nz]
    n = len(in_avals)
    out_nz_box = []

    def fun(*args):
        primals, t_iter = args[:n], iter(args[n:])
        tangents = [
            next(t_iter) if nz else Zero(tangent_aval(a)) for a, nz in zip(in_avals, nonzeros)
        ]
        p_out, t_out = jvp_flat(
            lambda *xs: eval_jaxpr(closed.jaxpr, closed.consts, *xs),
            primals,
            tangents,
            instantiate_zeros=False,
        )
        t_out = [instantiate_zero(t) if i else t for t, i in zip(t_out, inst)]
        out_nz_box.append([not isinstance(t, Zero) for t in t_out])
        return p_out + [t for t in t_out if not isinstance(t, Zero)]

    new = trace_to_jaxpr(fun, list(in_avals) + t_avals)
    return new, out_nz_box[0]


def differentiating() -> bool:
    """Whether a forward-mode (JVP) trace is active in this thread: the code running now
    is being differentiated (grad, vjp, linearize and jvp all run it). For a layer that
    picks its form by whether it will be differentiated (nn.Conv's patches form, whose
    gradient XLA:CPU runs faster than the convolution's, but whose forward pass alone it
    runs slower).

    Returns:
      A bool.
    """
    return any(issubclass(m.trace_type, JVPTrace) for m in _trace_state.stack)
