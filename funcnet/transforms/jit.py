"""jit: trace -> IR -> StableHLO -> XLA executable, cached per abstract signature.

A call with concrete arguments outside any transformation takes the fast path:
flatten, look the signature up, execute. Under a transformation (grad, vmap, an
outer jit) the call binds the `jit` primitive, whose rules in each
transformation's table handle the traced program as a whole.

The caches belong to the function, not to the `jit(f)` wrapper: see jit_cache.py.
Python scalars and NumPy arrays on the fast path: jit_host_values.py; the
ahead-of-time stages (`lower`, `compile`): jit_stages.py.
"""

import functools
import inspect
import logging

import numpy as np

from funcnet import tree
from funcnet.backend import dispatch, nan_check
from funcnet.backend.lowering import lower_module
from funcnet.config import config
from funcnet.core import dtypes, passes
from funcnet.core import trace as core_trace
from funcnet.core.array import (
    Array,
    ShapeDtypeStruct,
    ShardedArray,
    to_buffer,
    wrap_buffer,
)
from funcnet.core.aval import shaped_abstractify
from funcnet.core.jaxpr import ClosedJaxpr, closed_without_consts, eval_jaxpr
from funcnet.core.staging import trace_to_jaxpr
from funcnet.core.trace import Tracer, impl_rules, is_tracing
from funcnet.core.trace import _state as _trace_state  # its `stack`: this thread's traces
from funcnet.core.traceback_util import api_boundary, register_boundary
from funcnet.core.traceback_util import process as process_traceback
from funcnet.lax.calls import jit_p
from funcnet.runtime import xla
from funcnet.runtime.cache import WeakKeyLRU
from funcnet.transforms import jit_spmd
from funcnet.transforms.jit_cache import _FunctionSlot, explain_miss, function_slot
from funcnet.transforms.jit_host_values import as_arrays as _as_arrays
from funcnet.transforms.jit_host_values import first_device as _first_device
from funcnet.transforms.jit_host_values import host_avals as _host_avals
from funcnet.transforms.jit_host_values import host_bufs as _host_bufs
from funcnet.transforms.jit_host_values import host_key_and_bufs as _host_key_and_bufs
from funcnet.transforms.jit_host_values import is_host_leaf as _is_host_leaf
from funcnet.transforms.jit_stages import Lowered

log = logging.getLogger("funcnet.jit")

# (ClosedJaxpr, device) -> Executable, for staged `jit` equations run eagerly (after jvp
# or vmap rewrote them); the program is held weakly, the number of entries is bounded.
_executables = WeakKeyLRU("jit_cache_size")


@impl_rules.register(jit_p)
def _jit_impl(prim, *args, jaxpr: ClosedJaxpr, name: str):
    """Eager evaluation of a staged `jit` equation (e.g. after jvp or vmap rewrote it)."""
    if config.disable_jit:
        return eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)
    outs = call_closed(jaxpr, args, name)
    if config.debug_nans or config.debug_infs:
        nan_check.check_program_outputs(f"jit({name})", jaxpr, args, outs)
    return outs


def call_closed(closed: ClosedJaxpr, args, name="jit") -> list:
    """Compiles (once, cached per program and placement) and runs a staged program on
    concrete arguments; a program whose equations name a mesh (with_sharding_constraint,
    shard_map) or whose arguments are sharded runs partitioned over the mesh's devices.

    Args:
      closed: the program (its constants are passed by the caller, as `jit_p`'s).
      args: Arrays, NumPy arrays or scalars, one per program input.
      name: the program's name (in the module and locations).

    Returns:
      The outputs, a list of Arrays.
    """
    placement = tuple(jit_spmd.array_sharding(a) for a in args)
    if not any(placement):
        device = next((a.device for a in args if isinstance(a, Array)), xla.default_device())
        exe = _executables.get(closed, device)
        if exe is None:
            lowered = lower_module(closed, name=name, platform=device.platform)
            if lowered.devices is None:
                exe = xla.Executable(lowered.text, device, len(closed.out_avals))
            else:
                exe = jit_spmd.SpmdRun(lowered, closed)
            _executables.put(closed, device, exe)
    else:
        jit_spmd.check_devices(
            [(f"input {i}", "its sharding", s) for i, s in enumerate(placement) if s]
        )
        exe = _executables.get(closed, placement)
        if exe is None:
            devices = next(s for s in placement if s)._device_list
            lowered = lower_module(
                closed,
                name=name,
                arg_shardings=placement,
                devices=devices,
                platform=devices[0].platform,
            )
            exe = jit_spmd.SpmdRun(lowered, closed, placement)
            _executables.put(closed, placement, exe)
    if isinstance(exe, jit_spmd.SpmdRun):
        return exe.run(args)
    bufs = [to_buffer(a, device)[0] for a in args]
    return [Array(b, a.weak_type) for b, a in zip(exe.execute(bufs), closed.out_avals)]


# --- argument handling --------------------------------------------------------------


def _arg_paths(dyn_tree, jitted=None, static=None) -> list[str]:
    """Readable names of the flat leaves of `(dyn_args, dyn_kwargs)`, e.g.
    "params['w'] (argument 0)", "args[2][1]", "scale (keyword argument)".

    Dynamic positions are mapped back to the caller's positions (static arguments
    removed them) and, where the signature allows, to parameter names."""
    static_pos = sorted(i for i, _ in static[0]) if static else []
    params = []
    if jitted is not None and jitted._sig is not None:
        params = [
            p.name
            for p in jitted._sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    out = []
    for path, _ in tree.tree_flatten_with_path(dyn_tree)[0]:
        if len(path) < 2:  # not of the (args, kwargs) form: plain paths
            out.append(tree.keystr(path))
            continue
        head, key, rest = path[0], path[1], tree.keystr(path[2:])
        if getattr(head, "idx", None) == 0:  # a positional argument
            pos = key.idx
            for s in static_pos:  # static arguments were taken out before this one
                if s <= pos:
                    pos += 1
            if pos < len(params):
                out.append(f"{params[pos]}{rest} (argument {pos})")
            else:
                out.append(f"args[{pos}]{rest}")
        else:
            name = getattr(key, "key", key)
            out.append(f"{name}{rest} (keyword argument)")
    return out


def _describe_leaf_error(in_tree_obj, index, leaf, jitted=None, static=None):
    paths = _arg_paths(in_tree_obj, jitted, static)
    path = paths[index] if index < len(paths) else f"leaf {index}"
    fname = f"jit({jitted.__name__})" if jitted is not None else "jit"
    dtype = getattr(leaf, "dtype", None)
    if isinstance(dtype, np.dtype):
        try:
            dtypes.canonicalize(dtype)
        except TypeError:
            return TypeError(
                f"{fname}: argument {path} has dtype {dtype} (a {type(leaf).__name__}), "
                "which funcnet does not support; supported dtypes are "
                + ", ".join(str(d) for d in dtypes.SUPPORTED)
                + "."
            )
    return TypeError(
        f"{fname}: argument {path} is of type {type(leaf).__name__} ({leaf!r:.60}), which "
        "is not an array. Pass funcnet Arrays, NumPy arrays or Python scalars, or mark "
        "the argument static with static_argnums / static_argnames."
    )


def _unhashable_static_error(static, jitted=None):
    static_args, static_kwargs = static
    fname = f"jit({jitted.__name__})" if jitted is not None else "jit"
    params = list(jitted._sig.parameters) if jitted is not None and jitted._sig else []
    for where, value in [
        (f"argument {i}" + (f" ({params[i]})" if i < len(params) else ""), v)
        for i, v in static_args
    ] + [(f"argument {k!r}", v) for k, v in static_kwargs]:
        try:
            hash(value)
        except TypeError:
            return TypeError(
                f"{fname}: static {where} must be hashable (it is part of the compilation "
                f"cache key), but it is of type {type(value).__name__}: {value!r:.80}. Pass a "
                "tuple instead of a list, a frozen/hashable object, or make the argument "
                "dynamic (an array) instead of static."
            )
    return TypeError(f"{fname}: static arguments must be hashable, got {static!r:.120}")


def _leaf_aval(leaf):
    if isinstance(leaf, (Array, Tracer)):
        return leaf.aval
    return shaped_abstractify(leaf)


class _Entry(dispatch.Program):
    """What one signature compiles to."""

    __slots__ = ("cacheable", "call_jaxpr", "closed", "executables", "out_tree", "texts")

    def __init__(self, closed: ClosedJaxpr, out_tree, cacheable: bool):
        super().__init__()
        self.closed = closed
        self.out_tree = out_tree
        self.cacheable = cacheable
        self.call_jaxpr = closed_without_consts(closed)
        self.executables = {}
        self.texts = {}


class Jitted:
    """The compiled function `jit(f)` returns (jax's `PjitFunction`); call it as `f`.

    Its caches belong to `f` (see jit_cache.py): every `jit(f)` with the same options
    shares them, so `jit(f)(x)` in a loop traces and compiles once. Made by `jit`, not
    constructed directly.

    Args:
      fun: the Python function to compile.
      static_argnums: positions of the arguments that are compile-time constants.
      static_argnames: names of the arguments that are compile-time constants.
      donate_argnums: positions of the arguments whose buffers may be reused.

    Attributes:
      fun: the wrapped Python function (also `__wrapped__`; `__name__` and `__doc__`
        are `fun`'s).
      static_argnums, static_argnames: the static arguments, as tuples, each completed
        from the other through `fun`'s signature (as jax).
      donate_argnums: the donated positions, a tuple.
      trace_count: how many times this wrapper traced `fun` (new signatures).
    """

    def __init__(
        self,
        fun,
        static_argnums=(),
        static_argnames=(),
        donate_argnums=(),
        _shared=True,
        in_shardings=None,
        out_shardings=None,
    ):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.donate_argnums = _as_tuple(donate_argnums)
        # A list is taken as a tuple (as jax), matching the arguments' / outputs' tuple.
        in_shardings = tuple(in_shardings) if isinstance(in_shardings, list) else in_shardings
        out_shardings = tuple(out_shardings) if isinstance(out_shardings, list) else out_shardings
        self.in_shardings = in_shardings
        self.out_shardings = out_shardings
        self._has_shardings = in_shardings is not None or out_shardings is not None
        raw = (
            _as_tuple(static_argnums),
            _as_tuple(static_argnames),
            self.donate_argnums,
            jit_spmd.sharding_tree_key(in_shardings, "in_shardings"),
            jit_spmd.sharding_tree_key(out_shardings, "out_shardings"),
        )
        slot = function_slot(fun) if _shared else _FunctionSlot(fun)
        self.static_argnums, self.static_argnames, fc = slot.options(raw, _infer_static)
        self._sig = slot.sig
        self._fcache = fc
        self._fast_ok = not self.static_argnums and not self.static_argnames
        self._static_positions = {}  # number of arguments -> static positions (normalized)
        self.trace_count = 0  # how many times this wrapper traced the Python function
        self.__name__ = getattr(fun, "__name__", "fun")

    def __get__(self, obj, objtype=None):  # jit on methods
        return self if obj is None else functools.partial(self, obj)

    # -- splitting static from dynamic arguments --
    def _split(self, args, kwargs):
        n = len(args)
        static_nums = tuple(i % n if i < 0 else i for i in self.static_argnums if -n <= i < n)
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_nums)
        static_args = tuple((i, args[i]) for i in static_nums)
        names = set(self.static_argnames)
        if self._sig is not None:  # a static argument may be given by name or position
            params = list(self._sig.parameters)
            for i in static_nums:
                if i < len(params):
                    names.discard(params[i])
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in names}
        static_kwargs = tuple(sorted((k, v) for k, v in kwargs.items() if k in names))
        static = (static_args, static_kwargs)
        try:
            hash(static)
        except TypeError as e:
            raise _unhashable_static_error(static, self) from e
        return dyn_args, dyn_kwargs, static

    def _call_fun(self, dyn_args, dyn_kwargs, static):
        static_args, static_kwargs = static
        args = list(dyn_args)
        for i, v in static_args:
            args.insert(i, v)
        return self.fun(*args, **dyn_kwargs, **dict(static_kwargs))

    def _trace(self, in_tree, static, avals, constrain=False) -> _Entry:
        self.trace_count += 1
        out_tree_box = []
        has_tracer_consts = [False]

        def flat_fun(*flat):
            if constrain:  # staged inside another transformation: keep the shardings
                flat = jit_spmd.constrain(flat, self._in_specs(in_tree, static, avals))
            dyn_args, dyn_kwargs = tree.tree_unflatten(in_tree, flat)
            out = self._call_fun(dyn_args, dyn_kwargs, static)
            leaves, out_tree = tree.tree_flatten(out)
            if constrain and self.out_shardings is not None:
                leaves = jit_spmd.constrain(leaves, self._out_specs(out_tree, leaves))
            for i, leaf in enumerate(leaves):
                if not isinstance(leaf, (Tracer, Array, np.ndarray, np.generic, int, float, bool)):
                    paths = tree.leaf_paths(out)
                    at = f"output{paths[i]}" if paths[i] else "its output"
                    raise TypeError(
                        f"jit({self.__name__}): the function returned a value of type "
                        f"{type(leaf).__name__} ({leaf!r:.60}) as {at}, which is not an "
                        "array; a jitted function must return a pytree of arrays (Python "
                        "scalars and None are fine)."
                    )
            out_tree_box.append(out_tree)
            return leaves

        closed = trace_to_jaxpr(flat_fun, avals)
        has_tracer_consts[0] = any(isinstance(c, Tracer) for c in closed.consts)
        if config.optimize_jaxprs:
            closed = passes.optimize(closed)
        return _Entry(closed, out_tree_box[0], cacheable=not has_tracer_consts[0])

    def _entry(self, in_tree, static, avals, device):
        """The traced program of a signature; `device` is the device (single-device
        arguments), the placement (a tuple of per-argument shardings), or None (staged
        inside another transformation)."""
        key = (in_tree, static, avals, device, config.enable_x64)
        fc = self._fcache
        entry = fc.programs.get(key)
        if entry is None:
            if config.explain_cache_misses:
                log.warning(self._explain_miss(key))
            entry = self._trace(
                in_tree, static, avals, constrain=device is None and self._has_shardings
            )
            if entry.cacheable:
                fc.programs.put(key, entry)
                fc.last_keys[:] = (fc.last_keys + [key])[-8:]
        return entry

    def _explain_miss(self, key) -> str:
        return explain_miss(
            f"jit({self.__name__})",
            key,
            self._fcache.last_keys,
            lambda dyn_tree, static: _arg_paths(dyn_tree, self, static),
        )

    def _flatten(self, args, kwargs):
        dyn_args, dyn_kwargs, static = self._split(args, kwargs)
        leaves, in_tree = tree.tree_flatten((dyn_args, dyn_kwargs))
        try:
            avals = tuple(map(_leaf_aval, leaves))
        except TypeError:
            for i, leaf in enumerate(leaves):
                try:
                    _leaf_aval(leaf)
                except TypeError:
                    raise _describe_leaf_error(
                        (dyn_args, dyn_kwargs), i, leaf, self, static
                    ) from None
            raise
        return leaves, in_tree, static, avals

    def _arg_attrs(self, in_tree, static, n_consts, avals, out_avals):
        """Donated leaves alias an output of the same type (tf.aliasing_output)."""
        if not self.donate_argnums:
            return None
        dyn_positions = [i for i in range(len(avals))]
        donated = _donated_leaf_mask(
            in_tree, self.donate_argnums, self.static_argnums, len(dyn_positions)
        )
        attrs = [None] * n_consts
        free = list(range(len(out_avals)))
        for aval, don in zip(avals, donated):
            match = (
                next(
                    (o for o in free if out_avals[o].strip_weak_type() == aval.strip_weak_type()),
                    None,
                )
                if don
                else None
            )
            if match is not None:
                free.remove(match)
                attrs.append(f"tf.aliasing_output = {match} : i32")
            else:
                attrs.append(None)
        return attrs

    def __call__(self, *args, **kwargs):
        # Fast path: outside any transformation, every leaf a funcnet Array, and a
        # signature seen before (recorded by `_call_general` in the function's
        # DispatchCache, shared with every wrapper of it). Positional Array arguments are
        # keyed by their avals alone (no flattening); other calls by (tree structure,
        # avals); calls with static arguments, when all are passed by position, by (the
        # static values, tree structure, avals) (`_static_key`); on a multi-device
        # process the key holds the first leaf's device too. The fast path is empty while
        # disable_jit or nan checks are on, so those modes cost nothing here. The whole
        # call is an API boundary (errors from tracing the user's function show the
        # user's frames): an inline try costs nothing on the fast path.
        #
        # This is the hottest path of a training loop, so `DispatchCache.call` (probe the
        # memo, then the dict; run; wrap) is inlined here: one Python frame less per call.
        # A first argument that is no Array (a parameter dict) goes straight to the
        # flattening, without raising and catching an AttributeError. Reading `x._buf`
        # runs a fused_eager LazyArray's pending chain; a ShardedArray has none (its
        # `_sbuf` is for the partitioned path below).
        try:
            # Not inside a transformation: no trace in any thread (one global), else
            # none in this thread.
            if self._fast_ok and (core_trace.eager_fast or len(_trace_state.stack) == 1):
                in_tree = None
                bufs = None
                if not kwargs and args and isinstance(args[0], Array):
                    try:
                        if len(args) == 1:
                            key = (args[0].aval,)
                            bufs = [args[0]._buf]
                        else:
                            key = tuple([a.aval for a in args])
                            bufs = [a._buf for a in args]
                        if _multi_device:
                            key = (key, _first_device(args))
                    except AttributeError:  # a host value (Python scalar, NumPy array),
                        # or an argument that is no Array (a container), or sharded
                        key, bufs = _host_key_and_bufs(args, not self.donate_argnums, _multi_device)
                    leaves = args
                else:
                    leaves, in_tree = _tree_flatten(args if not kwargs else (args, kwargs))
                    key = _tree_key(in_tree, leaves, kwargs)
                if key is not None:
                    fc = self._fcache
                    memo = fc.memo[0]
                    if memo[0] == key:
                        hit = memo[1]
                    else:
                        hit = fc.fast.get(key)
                        if hit is not None:
                            fc.memo[0] = (key, hit)
                            hit.program.used = True  # the LRU's second chance
                    if hit is not None and bufs is None:
                        try:
                            bufs = [x._buf for x in leaves]
                        except AttributeError:  # a Python scalar or NumPy leaf (put on
                            # the device here), or e.g. a leaked tracer (general path)
                            bufs = _host_bufs(leaves, not self.donate_argnums, _multi_device)
                            if bufs is None:
                                hit = None
                    if hit is not None:
                        run, handlers, const_bufs, out_avals, out_tree, _ = hit
                        try:
                            outs = run(const_bufs + bufs if const_bufs else bufs)
                            outs = outs.consume_with_handlers(handlers)
                        except Exception:
                            for x in leaves:
                                x._check_alive()  # a clear error for a donated argument
                            raise
                        if out_tree is None:  # one Array (core.array.wrap_buffer, inlined)
                            out = _new_object(Array)
                            out._buf = outs[0]
                            out.aval = out_avals[0]
                            return out
                        arrays = []
                        for buf, aval in zip(outs, out_avals):
                            out = _new_object(Array)
                            out._buf = buf
                            out.aval = aval
                            arrays.append(out)
                        return out_tree.unflatten(arrays)
                return self._call_missed(args, kwargs, leaves, in_tree, key is None)
            if (
                not kwargs
                and not self._fast_ok
                and (core_trace.eager_fast or len(_trace_state.stack) == 1)
            ):
                got = self._static_key(args)  # static arguments, all passed by position
                if got is not None:
                    out = self._fcache.call(*got)
                    if out is not _MISS:
                        return out
            return self._call_general(args, kwargs)
        except Exception as e:
            process_traceback(e)
            raise

    def _static_key(self, args):
        """(fast-path key, flat dynamic leaves) of a call with static arguments passed by
        position (no keyword arguments), or None when a static value is unhashable (the
        general path explains) or a leaf is no funcnet Array. The key holds the static
        values themselves, compared and hashed as the program cache compares them."""
        n = len(args)
        pos = self._static_positions.get(n)
        if pos is None:  # as _split normalizes them, once per number of arguments
            pos = tuple(sorted({i % n if i < 0 else i for i in self.static_argnums if -n <= i < n}))
            self._static_positions[n] = pos
        statics = tuple([args[i] for i in pos])
        leaves, in_tree = _tree_flatten(tuple([a for i, a in enumerate(args) if i not in pos]))
        try:
            hash(statics)
            return (
                _STATIC,
                statics,
                in_tree,
                tuple([x.aval for x in leaves]),
                _first_device(leaves) if _multi_device else None,
            ), leaves
        except (TypeError, AttributeError):
            return None

    def _call_missed(self, args, kwargs, leaves, in_tree, no_key):
        """The rest of the fast path after `__call__`'s probe missed, or found no key
        (`no_key`): the pytree key when a positional argument was no Array (e.g.
        `f(x, params)`), then the partitioned programs' key; else the general path."""
        if in_tree is None:  # __call__ tried (or could not build) the positional key
            leaves, in_tree = _tree_flatten(args if not kwargs else (args, kwargs))
            key = _tree_key(in_tree, leaves, kwargs) if no_key else None
            if key is not None:
                out = self._fcache.call(key, _as_arrays(leaves, _multi_device))
                if out is not _MISS:
                    return out
        # Every leaf a sharded Array: the partitioned program's fast path.
        try:
            key = (jit_spmd.SPMD, in_tree, tuple([x._sharding for x in leaves]), bool(kwargs))
            hit = self._fcache.fast.get((*key, tuple([x.aval for x in leaves])))
        except (AttributeError, TypeError):  # a plain Array or a non-Array leaf
            hit = None
        if hit is not None:
            return hit.call(leaves)
        return self._call_general(args, kwargs)

    def _call_general(self, args, kwargs):
        if config.disable_jit:  # run the Python function as written, op by op
            return self.fun(*args, **kwargs)
        leaves, in_tree, static, avals = self._flatten(args, kwargs)
        if is_tracing() or any(isinstance(x, Tracer) for x in leaves):
            entry = self._entry(in_tree, static, avals, None)
            outs = jit_p.bind(
                *entry.closed.consts, *leaves, jaxpr=entry.call_jaxpr, name=self.__name__
            )
            return tree.tree_unflatten(entry.out_tree, outs)
        placement = self._placement(leaves, in_tree, static, avals)
        device = _device_of(leaves) if placement is None else placement
        entry = self._entry(in_tree, static, avals, device)
        exe = self._executable(entry, in_tree, static, avals, device)
        if isinstance(exe, jit_spmd.SpmdRun):
            outs = exe.run(leaves)
            if config.debug_nans or config.debug_infs:
                nan_check.check_program_outputs(f"jit({self.__name__})", entry.closed, leaves, outs)
            elif self._fast_ok and entry.cacheable:
                self._fill_spmd_fast(args, kwargs, leaves, avals, exe, entry)
            return tree.tree_unflatten(entry.out_tree, outs)
        const_bufs = [to_buffer(c, device)[0] for c in entry.closed.consts]
        bufs = const_bufs + [
            x._buf if isinstance(x, Array) else to_buffer(x, device)[0] for x in leaves
        ]
        out_avals = entry.closed.out_avals
        outs = list(map(wrap_buffer, exe.execute(bufs), out_avals))
        if config.debug_nans or config.debug_infs:
            nan_check.check_program_outputs(f"jit({self.__name__})", entry.closed, leaves, outs)
        elif self._fast_ok and entry.cacheable:
            self._fill_fast(args, kwargs, leaves, avals, device, exe, const_bufs, entry)
        elif not self._fast_ok and not kwargs and entry.cacheable:  # static, by position
            self._fill_static_fast(args, exe, const_bufs, entry)
        return tree.tree_unflatten(entry.out_tree, outs)

    def _executable(self, entry, in_tree, static, avals, where, text=None):
        """The compiled program of an entry for `where` (a device, or a placement):
        single-device, or partitioned when shardings are given or the program names a
        mesh."""
        exe = entry.executables.get(where)
        if exe is not None:
            return exe
        n_consts = len(entry.closed.consts)
        attrs = self._arg_attrs(in_tree, static, n_consts, avals, entry.closed.out_avals)
        lowered = self._lower(entry, where, attrs) if text is None else text
        if lowered.devices is None:
            exe = xla.Executable(lowered.text, where, len(entry.closed.out_avals))
        else:
            placement = where if isinstance(where, tuple) else ()
            outs = self._out_specs(entry.out_tree, entry.closed.out_avals) or ()
            exe = jit_spmd.SpmdRun(lowered, entry.closed, tuple(placement) + tuple(outs))
        entry.executables[where] = exe
        entry.texts[where] = lowered.text
        return exe

    def _lower(self, entry, where, attrs):
        placement = where if isinstance(where, tuple) else None
        n_consts = len(entry.closed.consts)
        arg_shardings = None if placement is None else [None] * n_consts + list(placement)
        out_shardings = self._out_specs(entry.out_tree, entry.closed.out_avals)
        devices = None
        for s in (*(placement or ()), *(out_shardings or ())):
            if s is not None:
                devices = s._device_list
                break
        platform = devices[0].platform if devices else where.platform  # where: a device
        try:
            return lower_module(
                entry.closed,
                name=self.__name__,
                arg_attrs=attrs,
                platform=platform,
                arg_shardings=arg_shardings,
                out_shardings=out_shardings,
                devices=devices,
            )
        except ValueError as e:  # meshes on other devices (with_sharding_constraint)
            raise ValueError(f"jit({self.__name__}): {e}") from None

    # -- shardings (jit_spmd.py) --
    def _in_specs(self, in_tree, static, avals):
        return jit_spmd.in_specs(
            self.in_shardings, in_tree, avals, self.__name__, self._paths_of(static)
        )

    def _out_specs(self, out_tree, out_vals):
        return jit_spmd.out_specs(self.out_shardings, out_tree, out_vals, self.__name__)

    def _placement(self, leaves, in_tree, static, avals):
        given = self._in_specs(in_tree, static, avals)
        return jit_spmd.placement(
            given, self.out_shardings, leaves, in_tree, avals, self.__name__, self._paths_of(static)
        )

    def _paths_of(self, static):
        """Readable argument names of `(dyn_args, dyn_kwargs)`, for error messages."""
        return lambda dyn: _arg_paths(dyn, self, static)

    def _fill_spmd_fast(self, args, kwargs, leaves, avals, run, entry):
        """Record a partitioned signature for `__call__`'s fast path: every leaf a sharded
        Array already laid out as the program wants (nothing to move per call)."""
        global _multi_device
        _multi_device = not _single_device()
        n = len(run.const_bufs)
        for x, want in zip(leaves, run.in_shardings[n:]):
            if type(x) is not ShardedArray or not x._sharding.is_equivalent_to(want, x.ndim):
                return
        in_tree = tree.tree_structure(args if not kwargs else (args, kwargs))
        shardings = tuple(x._sharding for x in leaves)
        key = (jit_spmd.SPMD, in_tree, shardings, bool(kwargs), avals)
        self._fcache.add_fast(key, jit_spmd.SpmdFast(run, entry.out_tree, entry))

    def _fill_fast(self, args, kwargs, leaves, avals, device, exe, const_bufs, entry):
        """Record a signature for `__call__`'s fast path (funcnet Array leaves only)."""
        global _multi_device
        _multi_device = not _single_device()
        hit = _fast_call_of(exe, const_bufs, entry)
        if hit is None or not all(type(x) is Array or _is_host_leaf(x) for x in leaves):
            return
        dev = None if _single_device() else device
        if (
            not kwargs
            and args
            and type(args[0]) is Array
            and all(type(a) is Array or _is_host_leaf(a) for a in args)
        ):  # positional Arrays (and host values after the first), as __call__ keys them
            key = avals if dev is None else (avals, dev)
        else:
            in_tree = tree.tree_structure(args if not kwargs else (args, kwargs))
            key = (in_tree, avals, dev, bool(kwargs))
        self._fcache.add_fast(key, hit)

    def _fill_static_fast(self, args, exe, const_bufs, entry):
        """Record a call with static arguments (by position) for `__call__`'s fast path,
        keyed as `_static_key` keys it (funcnet Array leaves only)."""
        global _multi_device
        _multi_device = not _single_device()
        got = self._static_key(args)
        hit = _fast_call_of(exe, const_bufs, entry)
        if got is None or hit is None or not all(type(x) is Array for x in got[1]):
            return
        self._fcache.add_fast(got[0], hit)

    @api_boundary
    def lower(self, *args, **kwargs) -> "Lowered":
        """Traces and lowers the function for these arguments, without compiling or
        running it (ahead-of-time use, as `jax.jit(f).lower`).

        Args:
          *args, **kwargs: the call's arguments: arrays (or `ShapeDtypeStruct`s standing
            for them) and the values of the static arguments.

        Returns:
          A `Lowered`: the traced program (`.jaxpr`), its StableHLO text (`.as_text()`)
          and `.compile()`.

        Example:
          >>> lowered = fn.jit(lambda x: x * 2).lower(fn.ShapeDtypeStruct((3,), fnp.float32))
          >>> "stablehlo.multiply" in lowered.as_text()
          True
          >>> lowered.compile()(fnp.arange(3.0)).tolist()
          [0.0, 2.0, 4.0]
        """
        leaves, in_tree, static, avals = self._flatten(args, kwargs)
        placement = self._placement(leaves, in_tree, static, avals)
        device = _device_of(leaves) if placement is None else placement
        entry = self._entry(in_tree, static, avals, device)
        attrs = self._arg_attrs(
            in_tree, static, len(entry.closed.consts), avals, entry.closed.out_avals
        )
        lowered = self._lower(entry, device, attrs)
        return Lowered(self, entry, lowered, device, attrs, (in_tree, static, avals))

    @api_boundary
    def eval_shape(self, *args, **kwargs):
        """The shapes and dtypes of the outputs for these arguments, without compiling
        or running anything (as `jax.jit(f).eval_shape`); the trace is cached.

        Args:
          *args, **kwargs: the call's arguments: arrays or `ShapeDtypeStruct`s, and the
            values of the static arguments.

        Returns:
          A pytree of `ShapeDtypeStruct`s with the structure of the function's output.

        Example:
          >>> fn.jit(lambda x: x.sum(0)).eval_shape(fnp.ones((2, 3)))
          ShapeDtypeStruct(shape=(3,), dtype=float32)
        """
        _, in_tree, static, avals = self._flatten(args, kwargs)
        entry = self._entry(in_tree, static, avals, None)
        return tree.tree_unflatten(
            entry.out_tree,
            [
                ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                for a in entry.closed.out_avals
            ],
        )

    def cache_info(self):
        """Statistics of this function's cache of traced programs (shared by every
        `jit(f)` with the same options).

        Hits count lookups on the general dispatch path; calls answered by the fast
        path (a signature seen before, funcnet Array arguments) are not counted.

        Returns:
          A `CacheInfo(hits, misses, maxsize, currsize)` named tuple, as
          `functools.lru_cache`'s; `maxsize` is `funcnet.config.jit_cache_size`.

        Example:
          >>> f = fn.jit(lambda x: x + 1)
          >>> _ = f(fnp.ones(2)); _ = f(fnp.ones(3))
          >>> f.cache_info().currsize
          2
        """
        return self._fcache.programs.info()

    def clear_cache(self):
        """Drops this function's traced programs and executables (for every wrapper of
        it with the same options) and resets its `cache_info()` counts; the next call
        traces and compiles again.

        Returns:
          None.
        """
        self._fcache.clear()


register_boundary(Jitted.__call__)


_tree_flatten = tree.tree_flatten
_single_device = xla.single_device
_MISS = dispatch.MISS
_new_object = object.__new__
# Whether the process sees several devices (then fast keys hold the first leaf's device);
# set by the first fast-path record, before which no fast key exists to be probed.
_multi_device = False


_STATIC = object()  # tags the fast-path keys of calls with static arguments


def _fast_call_of(exe, const_bufs, entry):
    """The fast path's record of a single-device program, or None where the runtime
    gives no result handlers."""
    parts = exe.dispatch_parts()
    if parts is None:
        return None
    out_tree = entry.out_tree
    single = out_tree.num_leaves == 1 and out_tree.num_nodes == 1
    out_avals = tuple(entry.closed.out_avals)
    return dispatch.FastCall(*parts, const_bufs, out_avals, None if single else out_tree, entry)


def _tree_key(in_tree, leaves, kwargs):
    """The fast-path key of a flattened call, or None when a leaf is neither a funcnet
    Array nor a host value the fast path puts on the device itself (`_is_host_leaf`)."""
    try:
        avals = tuple([x.aval for x in leaves])
    except AttributeError:
        avals = _host_avals(leaves)
        if avals is None:
            return None
    return (in_tree, avals, _first_device(leaves) if _multi_device else None, bool(kwargs))


def _device_of(leaves):
    for x in leaves:
        if isinstance(x, Array):
            return x.device
    return xla.default_device()


def _donated_leaf_mask(in_tree, donate_argnums, static_argnums, n_leaves):
    """Which flat leaves belong to donated positional arguments."""
    # in_tree is ((dyn_args...), {kwargs}); count leaves per dynamic positional arg.
    (args_tree, _kw_tree) = in_tree.children()
    mask = []
    for dyn_index, child in enumerate(args_tree.children()):
        # Map the dynamic position back to the original argument number.
        orig = dyn_index
        for s in sorted(i for i in static_argnums if i >= 0):
            if s <= orig:
                orig += 1
        mask += [orig in donate_argnums] * child.num_leaves
    mask += [False] * (n_leaves - len(mask))
    return mask


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _infer_static(sig, argnums, argnames):
    """Make static_argnums and static_argnames name the same parameters, as jax does:
    a parameter marked static by name is static when passed by position too, and the
    other way round. Negative argnums count from the end of the positional parameters
    (when the function has no *args)."""
    if sig is None:
        return argnums, argnames
    params = list(sig.parameters.values())
    kinds = inspect.Parameter
    positional = [
        p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    has_varargs = any(p.kind == kinds.VAR_POSITIONAL for p in params)
    has_varkw = any(p.kind == kinds.VAR_KEYWORD for p in params)
    nums, names = [], list(argnames)
    for i in argnums:
        if not isinstance(i, int):
            raise TypeError(f"static_argnums must be integers, got {i!r}")
        if i < 0 and not has_varargs:
            if -i > len(positional):
                raise ValueError(
                    f"static_argnums {i} is out of range for a function with "
                    f"{len(positional)} positional parameters"
                )
            i += len(positional)
        nums.append(i)
        if 0 <= i < len(positional):
            names.append(positional[i])
    for name in argnames:
        if name in positional:
            nums.append(positional.index(name))
        elif name not in sig.parameters and not has_varkw:
            raise ValueError(
                f"static_argnames {name!r} is not a parameter of the function "
                f"(parameters: {', '.join(sig.parameters)})"
            )
    keyword_only = {p.name for p in params if p.kind != kinds.POSITIONAL_ONLY}
    names = [n for n in names if n in keyword_only or n not in sig.parameters]
    return tuple(dict.fromkeys(nums)), tuple(dict.fromkeys(names))


def jit(
    fun=None,
    *,
    static_argnums=(),
    static_argnames=(),
    donate_argnums=(),
    in_shardings=None,
    out_shardings=None,
):
    """Compiles `fun` with XLA, as `jax.jit`. Usable as `@jit`, `jit(f, ...)` or
    `@functools.partial(jit, static_argnums=...)` (with `fun` omitted it returns a
    decorator).

    The first call with a new signature (the arguments' tree structure, shapes, dtypes
    and weak types, the static arguments' values, the device, the x64 mode) traces
    `fun` into a program, lowers it to StableHLO and compiles it; later calls with
    that signature run the executable directly. Inside another transformation (grad,
    vmap, an outer jit) the traced program is staged as one `jit` equation.

    Args:
      fun: a function of arrays (pytrees of them) returning a pytree of arrays
        (Python scalars and None are fine).
      static_argnums: an int or tuple of ints: positional arguments treated as
        compile-time constants (hashable, e.g. a shape or a flag); a new value
        triggers a new compilation. Negative numbers count from the end.
      static_argnames: a str or tuple of strs: the same by parameter name. An
        argument marked static by position is static when passed by name too, and
        the other way round (as jax).
      donate_argnums: an int or tuple of ints: positional arguments whose buffers
        the computation may reuse for outputs of the same shape and dtype; the
        caller's donated Arrays are invalid afterwards.
      in_shardings: how the arguments are laid out over a mesh: a `NamedSharding`
        (for every argument), or a pytree prefix of the positional (non-static)
        arguments with a NamedSharding or None per leaf. None (the default, or a
        leaf) is unspecified: a sharded argument keeps its own sharding, a
        single-device one is placed where XLA's partitioner wants it. Keyword
        arguments are unspecified. A sharded argument whose sharding differs from
        its in_shardings entry is refused (as jax).
      out_shardings: the same for the outputs (a sharding or a prefix of the output
        pytree); None leaves the layout to the partitioner. With any sharding
        (given, or an argument's, or a `with_sharding_constraint` inside) the
        function is compiled once for the mesh's devices (`mesh.devices.flat`, in
        order) with XLA's SPMD partitioner (the emitted StableHLO carries Shardy
        `sdy.sharding` annotations), and the results report the compiled layouts as
        their `.sharding` (a NamedSharding on the mesh when one expresses it).

    Returns:
      A `Jitted` callable with `fun`'s signature, name and docstring, plus
      `.lower(...)`, `.eval_shape(...)`, `.cache_info()` and `.clear_cache()`. Traced
      programs and executables are cached per function (held weakly) and options,
      shared by every `jit(fun)`, bounded by `funcnet.config.jit_cache_size` (least
      recently used dropped first). With `funcnet.config.disable_jit` the call runs
      `fun` as written, op by op.

    Raises:
      TypeError: (at call time) an argument is not an array and not static, a static
        argument is unhashable, or `fun` returns something that is not an array.
      ValueError: (when `jit` is called) `static_argnums`/`static_argnames` name a
        parameter `fun` does not have; (at call time) in/out_shardings do not match
        the arguments'/outputs' structure (naming the path), name a mesh axis the mesh
        lacks, split a dimension its axes' size does not divide (refused, as jax's jit
        does for in_shardings), or the shardings of one call use different devices.

    Example:
      >>> @fn.jit
      ... def f(x, y):
      ...     return fnp.sin(x) * y + 1.0
      >>> f(fnp.zeros(3), 2.0).tolist()
      [1.0, 1.0, 1.0]
      >>> from functools import partial
      >>> @partial(fn.jit, static_argnums=1)
      ... def power(x, n):            # n is a Python int at trace time
      ...     return x ** n
      >>> power(fnp.arange(3.0), 2).tolist()
      [0.0, 1.0, 4.0]
    """
    if fun is None:
        return functools.partial(
            jit,
            static_argnums=static_argnums,
            static_argnames=static_argnames,
            donate_argnums=donate_argnums,
            in_shardings=in_shardings,
            out_shardings=out_shardings,
        )
    return Jitted(
        fun,
        static_argnums,
        static_argnames,
        donate_argnums,
        in_shardings=in_shardings,
        out_shardings=out_shardings,
    )


# --- make_jaxpr -------------------------------------------------------------------------


def make_jaxpr(fun, static_argnums=(), return_shape=False):
    """Makes a function that returns the program funcnet traces for `fun`, as
    `jax.make_jaxpr`: `make_jaxpr(f)(*args)` traces `f` at these arguments' shapes and
    dtypes (always anew; nothing is compiled or cached).

    Args:
      fun: a function of arrays (pytrees of them) returning arrays.
      static_argnums: an int or tuple of ints: positional arguments passed to `fun` as
        Python values rather than traced.
      return_shape: if True, also return the output's shapes and dtypes.

    Returns:
      A function taking `fun`'s arguments (arrays or `ShapeDtypeStruct`s) and returning
      the traced program, a `ClosedJaxpr` that prints readably; with
      `return_shape=True` a pair `(program, shapes)`, `shapes` a pytree of
      `ShapeDtypeStruct`s with the structure of `fun`'s output, as jax.

    Example:
      >>> print(fn.make_jaxpr(lambda x, y: fnp.sin(x) * y)(fnp.ones(3), fnp.ones(3)))
      { lambda ; a:f32[3] b:f32[3]. let
          c:f32[3] = sin a
          d:f32[3] = mul c b
        in (d,) }
    """
    static_argnums = _as_tuple(static_argnums)

    @api_boundary
    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        j = Jitted(fun, static_argnums=static_argnums, _shared=False)  # always traces
        _, in_tree, static, avals = j._flatten(args, kwargs)
        entry = j._trace(in_tree, static, avals)
        closed = entry.closed
        if return_shape:
            shapes = [
                ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in closed.out_avals
            ]
            return closed, tree.tree_unflatten(entry.out_tree, shapes)
        return closed

    return wrapped


@api_boundary
def eval_shape(fun, *args, **kwargs):
    """The output shapes and dtypes of `fun(*args, **kwargs)`, found by tracing it,
    without compiling or running anything, as `jax.eval_shape`.

    Args:
      fun: a function of arrays (pytrees of them).
      *args, **kwargs: arrays, or `ShapeDtypeStruct`s (or `ShapedArray`s) standing
        for them.

    Returns:
      A pytree of `ShapeDtypeStruct`s with the structure of `fun`'s output.

    Example:
      >>> fn.eval_shape(lambda x: x.reshape(-1, 2), fnp.ones((4, 3))).shape
      (6, 2)
    """
    return Jitted(fun).eval_shape(*args, **kwargs)
