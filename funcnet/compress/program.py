"""``quantize_program``: int8 quantization as a rewrite of a traced program.

An example of a transformation over funcnet's IR, in the style of jax's interpreters:
the function is traced into a ``ClosedJaxpr``, then the program is *re-traced through an
interpreter* that replays every equation by binding its primitive, except the
``dot_general``s it rewrites, for which it emits the int8 form instead::

    y = dot_general(x, w)                       # float32 x float32 -> float32
  becomes
    sx = max|x| / 127                           # per tensor, computed in the program
    xq = clip(round(x / sx), -127, 127) : int8
    acc = dot_general(xq, wq, preferred_element_type=int32)
    y = float32(acc) * (sx * sw)                # sw: one scale per output channel

A *weight* is a value the function closes over (a constant of the traced program, such as
the parameters in ``lambda x: model.apply(params, x)``), a leaf of an argument listed in
``weight_argnums``, or a transpose/reshape of one. Constant weights are quantized once,
with NumPy, when the program is rewritten: the new program holds int8 constants and the
float32 ones drop out of it. The activation's scale is dynamic (computed from ``max|x|`` on
every call) so that no calibration data is needed; the price is one reduction per matmul
(``compress.quantize_model`` calibrates static scales instead).

Nested ``jit`` and ``checkpoint`` (remat) programs and ``scan`` bodies (recurrent
layers) are rewritten recursively: weights passed into them stay weights (for a scan, its
loop-invariant inputs), constant ones are quantized once outside the loop.
``custom_jvp``/``custom_vjp`` functions and ``cond``/``while_loop`` bodies are replayed
unchanged: a custom function's derivative rule must stay in step with its body, and the
branches of a ``cond`` (one program per branch, sharing operands) would need their
constants merged; a ``dot_general`` inside them stays float32 (``inspect`` lists none of
them).
"""

import collections
import functools
import inspect as _inspect
from typing import NamedTuple

import numpy as np

from funcnet import lax, tree
from funcnet.compress.quantize import (
    check_bits,
    host_quantize_per_channel,
    quantize_per_channel,
    quantize_per_tensor,
)
from funcnet.core import passes
from funcnet.core.aval import shaped_abstractify
from funcnet.core.jaxpr import ClosedJaxpr, Literal, Var, closed_without_consts
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Tracer
from funcnet.lax.calls import jit_p
from funcnet.lax.contractions import dot_general_p
from funcnet.lax.control_flow import scan_p
from funcnet.lax.structural import reshape_p, transpose_p
from funcnet.nn.conv_patches import convolution_primitives
from funcnet.transforms.remat import remat_p

__all__ = ["ProgramQuantization", "QuantizedFunction", "quantize_program"]

_ACT_QMAX = 127  # activations are int8 codes whatever the weights' `bits`
_CALLS = (jit_p, remat_p)  # call primitives whose program takes exactly the eqn's inputs
_CACHE_SIZE = 32


class ProgramQuantization(NamedTuple):
    """What ``quantize_program`` made of one input signature (``QuantizedFunction.inspect``).

    Attributes:
      jaxpr: the rewritten program, a ``ClosedJaxpr`` (print it to read it).
      rewritten: how many ``dot_general`` equations became int8 ones (nested programs
        included).
      kept: one line per ``dot_general`` left in float, saying why (its operand types
        and, e.g., "no weight operand" or "weight of 64 elements < min_size 1024").
    """

    jaxpr: ClosedJaxpr
    rewritten: int
    kept: tuple


class _Entry(NamedTuple):
    call_jaxpr: ClosedJaxpr  # the rewritten program, constants as leading inputs
    consts: list
    out_tree: object
    info: ProgramQuantization


def _is_concrete(x) -> bool:
    return not isinstance(x, Tracer)


# --- quantizing one weight ------------------------------------------------------------


def _to_channels(shape, contracting):
    """The permutation putting the contracting axes first, the shape of the kept
    (channel) axes, and the (contracting size, channels) matrix shape."""
    kept = [d for d in range(len(shape)) if d not in contracting]
    perm = list(contracting) + kept
    k = int(np.prod([shape[d] for d in contracting], dtype=np.int64))
    channels = tuple(shape[d] for d in kept)
    return perm, channels, (k, int(np.prod(channels, dtype=np.int64)))


def _quantize_weight_traced(w, contracting, bits):
    """A weight argument quantized in the program, per call, with
    ``compress.quantize_per_channel`` on its (contracting, channels) matrix view."""
    perm, channels, matrix = _to_channels(w.shape, contracting)
    q, scale = quantize_per_channel(lax.reshape(lax.transpose(w, perm), matrix), -1, bits=bits)
    q = lax.transpose(lax.reshape(q, tuple(w.shape[p] for p in perm)), np.argsort(perm))
    return q, lax.reshape(scale, channels)


def _scale_layout(w_ndim, w_contracting, w_batch, w_is_lhs, n_lhs_free, n_batch):
    """Where each of the weight's non-contracting axes lands in the dot's output (batch
    axes first, in dimension_numbers order, then lhs's free axes, then rhs's), and the
    permutation sorting the weight's scale axes by that position."""
    kept = [d for d in range(w_ndim) if d not in w_contracting]
    offset = n_batch + (0 if w_is_lhs else n_lhs_free)
    positions, free = [], 0
    for d in kept:
        if d in w_batch:
            positions.append(list(w_batch).index(d))
        else:
            positions.append(offset + free)
            free += 1
    order = list(np.argsort(positions))
    return order, tuple(sorted(positions))


# --- the rewriting interpreter ------------------------------------------------------------


class _Rewriter:
    def __init__(self, min_size, bits):
        self.min_size = min_size
        self.bits = bits
        self.rewritten = 0
        self.kept = []

    def run(self, jaxpr, consts, args, weights):
        """Replays `jaxpr` on `consts` and `args` (tracers of the program being built, or
        concrete values), rewriting dot_generals; `weights` is the set of its variables
        that hold weights."""
        env = {}

        def read(x):
            return x.val if isinstance(x, Literal) else env[x]

        for v, val in zip(jaxpr.constvars, consts):
            env[v] = val
        for v, val in zip(jaxpr.invars, args):
            env[v] = val
        for eqn in jaxpr.eqns:
            ins = [read(x) for x in eqn.inputs]
            prim = eqn.primitive
            if prim is dot_general_p:
                outs = [self._dot(eqn, ins, weights)]
            elif prim in _CALLS:
                outs = self._call(eqn, ins, weights)
            elif prim is scan_p:
                outs = self._scan(eqn, ins, weights)
            elif prim in (transpose_p, reshape_p) and eqn.inputs[0] in weights:
                weights.add(eqn.outputs[0])  # a view of a weight is a weight
                outs = [self._fold_view(prim, ins[0], eqn.params)]
            else:
                outs = prim.bind(*ins, **eqn.params)
                outs = outs if prim.multiple_results else [outs]
            for v, val in zip(eqn.outputs, outs):
                env[v] = val
        return [read(x) for x in jaxpr.outvars]

    @staticmethod
    def _fold_view(prim, w, params):
        """A transposed/reshaped constant weight stays a NumPy constant, so that it can be
        quantized at rewrite time."""
        if not _is_concrete(w):
            return prim.bind(w, **params)
        w = np.asarray(w)
        if prim is transpose_p:
            return np.transpose(w, params["permutation"])
        return np.reshape(w, params["new_sizes"])

    def _why_kept(self, eqn, weights):
        lhs, rhs = eqn.inputs
        pet = eqn.params.get("preferred_element_type")
        if lhs.aval.dtype != np.float32 or rhs.aval.dtype != np.float32:
            return "not float32 operands"
        if pet is not None and np.dtype(pet) != np.float32:
            return f"preferred_element_type {np.dtype(pet)}"
        is_w = [isinstance(x, Var) and x in weights for x in (lhs, rhs)]
        if not any(is_w):
            return "no weight operand"
        if all(is_w):
            return "both operands are weights"
        w = lhs if is_w[0] else rhs
        if w.aval.size == 0:
            return "empty weight"
        if w.aval.size < self.min_size:
            return f"weight of {w.aval.size} elements < min_size {self.min_size}"
        return None

    def _dot(self, eqn, ins, weights):
        why = self._why_kept(eqn, weights)
        if why is not None:
            lhs, rhs = eqn.inputs
            self.kept.append(f"dot_general {lhs.aval.str_short()} x {rhs.aval.str_short()}: {why}")
            return dot_general_p.bind(*ins, **eqn.params)
        self.rewritten += 1
        w_is_lhs = isinstance(eqn.inputs[0], Var) and eqn.inputs[0] in weights
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        x, w = (ins[1], ins[0]) if w_is_lhs else (ins[0], ins[1])
        wc, wb = (lc, lb) if w_is_lhs else (rc, rb)
        w_ndim = eqn.inputs[0 if w_is_lhs else 1].aval.ndim
        if _is_concrete(w):
            # Once, at rewrite time, in NumPy: an eager funcnet op here would be staged
            # into the program being built.
            wq, w_scale = host_quantize_per_channel(w, self.bits, reduce_axes=wc)
        else:
            wq, w_scale = _quantize_weight_traced(w, wc, self.bits)
        # Dynamic per-tensor activation scale: no calibration data needed.
        amax = lax.reduce_max(lax.abs(x), tuple(range(x.ndim)))
        x_scale = lax.select(
            lax.gt(amax, np.float32(0)),
            lax.div(amax, np.float32(_ACT_QMAX)),
            np.full((), 1.0, np.float32),
        )
        xq = quantize_per_tensor(x, x_scale, bits=8)
        acc = dot_general_p.bind(
            wq if w_is_lhs else xq,
            xq if w_is_lhs else wq,
            dimension_numbers=eqn.params["dimension_numbers"],
            precision=None,
            preferred_element_type=np.dtype(np.int32),
        )
        n_lhs_free = eqn.inputs[0].aval.ndim - len(lc) - len(lb)
        order, positions = _scale_layout(w_ndim, wc, wb, w_is_lhs, n_lhs_free, len(lb))
        if _is_concrete(w_scale):
            w_scale = np.transpose(w_scale, order)
        else:
            w_scale = lax.transpose(w_scale, order)
        scale = lax.mul(w_scale, lax.broadcast_in_dim(x_scale, w_scale.shape, ()))
        scale = lax.broadcast_in_dim(scale, acc.shape, positions)
        return lax.mul(lax.convert_element_type(acc, np.float32), scale)

    def _call(self, eqn, ins, weights):
        """A nested program rewritten on its own: inputs known as constants are closed
        over (so that a constant weight is quantized, and its float32 copy dropped),
        the others stay inputs; the call is bound again with the new program."""
        dynamic = [i for i, val in enumerate(ins) if not _is_concrete(val)]
        new = self._retrace(eqn.params["jaxpr"], ins, dynamic, weights, eqn.inputs)
        params = dict(eqn.params, jaxpr=closed_without_consts(new))
        return eqn.primitive.bind(*new.consts, *(ins[i] for i in dynamic), **params)

    def _scan(self, eqn, ins, weights):
        """A scan body rewritten with its loop-invariant inputs (the leading `num_consts`)
        classified as weights or not; the carry and the scanned slices are activations.
        Constant weights are closed over and quantized once, outside the loop."""
        n = eqn.params["num_consts"]
        dynamic = [i for i, val in enumerate(ins) if i >= n or not _is_concrete(val)]
        candidates = [x if i < n else None for i, x in enumerate(eqn.inputs)]
        new = self._retrace(eqn.params["jaxpr"], ins, dynamic, weights, candidates)
        n_dynamic_consts = sum(i < n for i in dynamic)
        params = dict(
            eqn.params,
            jaxpr=closed_without_consts(new),
            num_consts=len(new.consts) + n_dynamic_consts,
        )
        return scan_p.bind(*new.consts, *(ins[i] for i in dynamic), **params)

    def _retrace(self, closed, ins, dynamic, weights, outer_inputs):
        """`closed` (a sub-program applied to `ins`) rewritten into a program of the
        inputs at positions `dynamic`; the others are concrete and closed over. An invar
        is a weight where its outer input (from `outer_inputs`; None: not a candidate)
        is one."""
        inner = closed.jaxpr
        inner_weights = {
            v for v, x in zip(inner.invars, outer_inputs) if isinstance(x, Var) and x in weights
        }
        inner_weights.update(inner.constvars)

        def body(*dyn):
            vals = list(ins)
            for i, val in zip(dynamic, dyn):
                vals[i] = val
            return self.run(inner, closed.consts, vals, inner_weights)

        return passes.optimize(trace_to_jaxpr(body, [inner.invars[i].aval for i in dynamic]))


# --- the user-facing function ----------------------------------------------------------


def _check_weight_argnums(weight_argnums, fun):
    if isinstance(weight_argnums, (int, np.integer)) and not isinstance(weight_argnums, bool):
        weight_argnums = (weight_argnums,)
    try:
        nums = tuple(weight_argnums)
    except TypeError:
        raise TypeError(
            f"quantize_program: weight_argnums must be an int or a tuple of ints, got "
            f"{weight_argnums!r}"
        ) from None
    for i in nums:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"quantize_program: weight_argnums must be ints, got {i!r}")
    try:
        params = list(_inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return tuple(int(i) for i in nums)
    kinds = _inspect.Parameter
    if any(p.kind == kinds.VAR_POSITIONAL for p in params):
        return tuple(int(i) for i in nums)
    n = sum(p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD) for p in params)
    for i in nums:
        if not -n <= i < n:
            raise ValueError(
                f"quantize_program: weight_argnums {i} is out of range for "
                f"{getattr(fun, '__name__', 'the function')}, which takes {n} positional "
                "argument(s)"
            )
    return tuple(int(i) % n for i in nums)


class QuantizedFunction:
    """The function ``quantize_program`` returns: call it as the original one.

    Each new input signature (the arguments' tree structure, shapes and dtypes) traces
    the original function, rewrites its program (see ``quantize_program``) and caches
    the result; the call binds the rewritten program as one ``jit`` equation, so it is
    compiled once when called eagerly and stays one program under ``jit``, ``vmap`` and
    ``grad``. Made by ``quantize_program``, not constructed directly.

    Args:
      fun: the function to quantize.
      weight_argnums: normalized positions of the weight arguments.
      min_size: the smallest weight (in elements) that is quantized.
      bits: the weights' code width.
    """

    def __init__(self, fun, weight_argnums, min_size, bits):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.weight_argnums = weight_argnums
        self.min_size = min_size
        self.bits = bits
        self._cache = collections.OrderedDict()
        self.__name__ = getattr(fun, "__name__", "fun")

    def __call__(self, *args, **kwargs):
        """Runs the quantized program.

        Args:
          *args, **kwargs: as for the original function (pytrees of arrays).

        Returns:
          The original function's output structure, computed by the rewritten program.
        """
        leaves, entry = self._entry(args, kwargs)
        outs = jit_p.bind(
            *entry.consts, *leaves, jaxpr=entry.call_jaxpr, name=f"quantized_{self.__name__}"
        )
        return tree.tree_unflatten(entry.out_tree, outs)

    def inspect(self, *args, **kwargs) -> ProgramQuantization:
        """The rewritten program for these arguments, and what changed.

        Args:
          *args, **kwargs: arguments as for a call (arrays, or ``ShapeDtypeStruct``s).

        Returns:
          A ``ProgramQuantization(jaxpr, rewritten, kept)``.
        """
        return self._entry(args, kwargs)[1].info

    def _entry(self, args, kwargs):
        if any(not -len(args) <= i < len(args) for i in self.weight_argnums):
            raise ValueError(
                f"quantize_program({self.__name__}): weight_argnums "
                f"{self.weight_argnums} is out of range for a call with {len(args)} "
                "positional argument(s)"
            )
        leaves, in_tree = tree.tree_flatten((args, kwargs))
        avals = []
        for i, leaf in enumerate(leaves):
            try:
                avals.append(leaf.aval if isinstance(leaf, Tracer) else shaped_abstractify(leaf))
            except TypeError:
                paths = tree.leaf_paths((args, kwargs))
                raise TypeError(
                    f"quantize_program({self.__name__}): argument leaf {paths[i]} is of type "
                    f"{type(leaf).__name__}, which is not an array"
                ) from None
        key = (in_tree, tuple(avals))
        entry = self._cache.get(key)
        if entry is None:
            entry, cacheable = self._build(args, in_tree, avals)
            if cacheable:
                self._cache[key] = entry
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return leaves, entry

    def _build(self, args, in_tree, avals):
        out_trees = []

        def flat_fun(*flat):
            a, kw = tree.tree_unflatten(in_tree, flat)
            leaves, out_tree = tree.tree_flatten(self.fun(*a, **kw))
            out_trees.append(out_tree)
            return leaves

        with convolution_primitives():  # convolutions stay convolutions (and float)
            closed = passes.optimize(trace_to_jaxpr(flat_fun, avals))
        jaxpr = closed.jaxpr
        weights = set(jaxpr.constvars)
        weight_args = {k % len(args) for k in self.weight_argnums}
        start = 0
        for i, arg in enumerate(args):
            n = len(tree.tree_leaves(arg))
            if i in weight_args:
                weights.update(jaxpr.invars[start : start + n])
            start += n
        rewriter = _Rewriter(self.min_size, self.bits)
        new = trace_to_jaxpr(lambda *flat: rewriter.run(jaxpr, closed.consts, flat, weights), avals)
        new = passes.optimize(new)
        info = ProgramQuantization(new, rewriter.rewritten, tuple(rewriter.kept))
        entry = _Entry(closed_without_consts(new), new.consts, out_trees[0], info)
        cacheable = not any(isinstance(c, Tracer) for c in closed.consts)
        return entry, cacheable


def quantize_program(fun, *, weight_argnums=(), min_size=1024, bits=8):
    """Rewrites every float32 ``dot_general`` on a weight in ``fun``'s traced program into
    its int8 form, without touching ``fun``'s code.

    On each new input signature ``fun`` is traced and every ``dot_general`` with one
    float32 *weight* operand of at least ``min_size`` elements is replaced by: the weight
    quantized per output channel (symmetric, one scale per index of its non-contracting
    axes), the other operand (the activation) quantized per tensor with a scale
    ``max|x| / 127`` computed in the program at run time (dynamic quantization: no
    calibration batches needed), an int8 x int8 ``dot_general`` accumulating in int32,
    and the result converted to float32 and multiplied by the two scales.

    Weights are the arrays ``fun`` closes over (``lambda x: model.apply(params, x)``),
    quantized once when the program is rewritten into int8 constants of the new program
    (their float32 copies drop out of it), and the leaves of the arguments listed in
    ``weight_argnums``, quantized in the program on every call; a transpose or reshape of
    a weight is a weight. Left in float32: dot_generals on other dtypes or accumulating
    in another type, between two activations (attention's ``q @ k.T``) or two weights,
    with a weight under ``min_size``, and every other equation. Nested ``jit`` and
    ``checkpoint`` programs and ``scan`` bodies (an RNN's kernels) are rewritten too;
    ``custom_jvp``/``custom_vjp`` functions and ``cond``/``while_loop`` bodies are left
    as they are.

    The result works eagerly (one compiled program per signature), under ``jit`` (the
    StableHLO holds ``stablehlo.dot_general`` on ``i8`` operands with an ``i32`` result)
    and under ``vmap`` (then the activation scale is per example). ``grad`` runs but the
    rounding has a zero derivative: train with ``compress.fake_quant`` instead.

    Args:
      fun: a function of arrays (pytrees of them) returning a pytree of arrays.
      weight_argnums: an int or a tuple of ints: positional arguments whose float32
        leaves are weights (e.g. ``params`` in ``f(params, x)``). Default: none.
      min_size: the smallest weight, in elements, worth quantizing (default 1024).
      bits: the weights' code width, 2 to 8 (default 8; codes are int8 in any case,
        activations always use 8 bits).

    Returns:
      A ``QuantizedFunction`` with ``fun``'s signature; its ``inspect(*args)`` returns a
      ``ProgramQuantization(jaxpr, rewritten, kept)`` for those arguments.

    Raises:
      TypeError: ``fun`` is not callable, or ``weight_argnums`` / ``min_size`` / ``bits``
        are not ints.
      ValueError: ``weight_argnums`` out of range for ``fun``'s positional parameters,
        ``bits`` outside [2, 8], or a negative ``min_size``.

    Example:
      >>> from funcnet import compress
      >>> w = random.normal(random.key(0), (64, 32))
      >>> qf = compress.quantize_program(lambda x: x @ w)
      >>> x = random.normal(random.key(1), (4, 64))
      >>> err = fnp.max(fnp.abs(qf(x) - x @ w)) / fnp.max(fnp.abs(x @ w))
      >>> bool(err < 0.02)
      True
      >>> info = qf.inspect(x)
      >>> info.rewritten, "i8" in str(info.jaxpr)
      (1, True)
    """
    if not callable(fun):
        raise TypeError(
            f"quantize_program: fun must be callable, got a {type(fun).__name__} ({fun!r:.60})"
        )
    bits = check_bits(bits, "quantize_program")
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)):
        raise TypeError(f"quantize_program: min_size must be an int, got {min_size!r}")
    if min_size < 0:
        raise ValueError(f"quantize_program: min_size must be >= 0, got {min_size}")
    nums = _check_weight_argnums(weight_argnums, fun)
    return QuantizedFunction(fun, nums, int(min_size), int(bits))
