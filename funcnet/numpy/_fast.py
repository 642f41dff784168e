"""Per-signature fast paths of funcnet.numpy's most common eager calls.

An eager `fnp.add(a, b)` goes through argument checks, dtype promotion, weak-type
bookkeeping, broadcasting, `lax.add`, `bind` and the eager program cache before the
runtime runs one compiled program: ~5 us of Python around ~3 us of runtime. Here a
function's first call at a signature (the avals of its Array arguments, the types of its
Python scalar arguments, its static arguments) runs the general path under
`backend.eager.record`; when that ran exactly one primitive program on the call's own
arguments (or on one constant made from its Python scalar) and returned that program's
output, the signature's next calls replay the program directly: one dict probe, the
runtime's execute, and an Array around the result, with the general path's output aval
(dtype, weak type). Anything else (tracers, sharded or lazy arrays, NumPy values, a
signature whose general path ran several primitives, a transformation active in any
thread, debug_nans) takes the general path, which is always right.

Python scalars: where the general path broadcast the scalar on the host into a constant
(`x * 2.0`), the fast path keeps that constant's device buffer per scalar value (the same
NumPy conversion, checked bit for bit on the first call), so the replayed program sees
exactly the general path's operands. Only functions whose general path does not depend on
the scalar's value (`scalars=True`: add, subtract, multiply, divide, maximum, minimum)
take it; float zeros and nans are converted anew each call (-0.0 == 0.0 as dict keys).

`x[i]` and `x[a:b:c]` with static ints (`getitem`) replay a short chain instead (a[1] is
a slice and a reshape): every step reads x or an earlier step's output.

Where they are: fnp.add, subtract, multiply, true_divide, maximum, minimum and the Array
operators + - * / @ (numpy/_methods.py), the one-argument float functions (tanh, exp,
...), matmul, sum, Array.__getitem__. A call whose two operands are one array has a key of
its own (a program recorded on `x * x` cannot tell which operand it read).

Fast paths answer on one-device processes only (the programs are compiled for one
device); `size()` counts the signatures they answer, for tests. Why Python and not a C
extension: a hit costs ~0.3 us over the runtime's own execute (~3 us on CPU), which is
at or under jax's C++ dispatch for the same op; what remains is the runtime call.
"""

import functools

import numpy as np

from funcnet.backend import eager
from funcnet.config import config
from funcnet.core import trace as _trace
from funcnet.core.array import Array
from funcnet.runtime import xla
from funcnet.runtime.cache import register_clearer

_new = object.__new__

# Signatures per function past which its table is emptied (a shape-polymorphic loop
# must not grow it without bound; the programs themselves live in the eager cache).
MAX_SIGNATURES = 512
# Device constants kept per signature (distinct Python scalar values).
MAX_CONSTANTS = 64

_tables: list = []  # every fast table, for size() and clear()
_memos: list = []  # every memo and its empty value, for clear()

# How a replayed program's operands are made from the call's (x, y): order codes.
_XY, _YX, _XX, _YY, _XC, _CX, _CY, _YC = range(8)
_ORDERS = {
    (0, 1): _XY,
    (1, 0): _YX,
    (0, 0): _XX,
    (1, 1): _YY,
    (0, 2): _XC,
    (2, 0): _CX,
    (2, 1): _CY,
    (1, 2): _YC,
}
_SCALAR_TYPES = (float, int, bool)
_SAME = object()  # the second half of the key of a call whose two operands are one array


def size() -> int:
    """How many signatures the fast paths answer now (for tests and diagnostics)."""
    return sum(1 for table in _tables for hit in table.values() if hit)


@register_clearer
def clear(_value=None) -> None:
    """Forget every recorded signature (the next call records anew)."""
    for table in _tables:
        table.clear()
    for memo, empty in _memos:
        memo[0] = empty


# What a signature means can change with x64 (promotion) and the nan checks.
config.on_change(("enable_x64", "debug_nans", "debug_infs"), clear)


class _Constants:
    """Device buffers of one signature's constant operand, by Python scalar value."""

    __slots__ = ("buffers", "dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype = dtype
        self.shape = shape
        self.buffers = {}

    def host_value(self, value) -> np.ndarray:
        # What the general path makes of the scalar (promote's np.asarray, then the
        # host broadcast of _broadcast_to).
        return np.ascontiguousarray(np.broadcast_to(np.asarray(value, self.dtype), self.shape))

    def get(self, value):
        buf = self.buffers.get(value)
        if buf is None:
            buf = xla.device_put(self.host_value(value))
            if value == value and (value != 0 or type(value) is not float):
                if len(self.buffers) >= MAX_CONSTANTS:
                    self.buffers.clear()
                self.buffers[value] = buf
        return buf


def _operand_bufs(order, x, y, consts):
    if order == _YX:
        return [y._buf, x._buf]
    if order == _XX:
        return [x._buf, x._buf]
    if order == _YY:
        return [y._buf, y._buf]
    if order == _XC:
        return [x._buf, consts.get(y)]
    if order == _CX:
        return [consts.get(y), x._buf]
    if order == _CY:
        return [consts.get(x), y._buf]
    return [y._buf, consts.get(x)]  # _YC


def _entry(records, out, inputs, scalars):
    """The fast entry `(run, handlers, out_aval, order, constants)` a recorded first call
    allows, or False."""
    if records is None or len(records) != 1 or records[0] is None:
        return False
    if not scalars and any(type(x) is not Array for x in inputs):
        return False  # the general path may depend on the scalar's value
    rec = records[0]
    if (
        rec.prim.multiple_results
        or len(rec.outs) != 1
        or rec.outs[0] is not out
        or type(out) is not Array
        or not 1 <= len(rec.args) <= 2
    ):
        return False
    parts = rec.program.executable.dispatch_parts()
    if parts is None:
        return False
    positions, consts = [], None
    for a in rec.args:
        for i, x in enumerate(inputs):
            if a is x and type(x) is Array:
                positions.append(i)
                break
        else:
            consts = _constant_of(a, inputs) if scalars and consts is None else None
            if consts is None:
                return False
            positions.append(2)
    if len(inputs) == 1:
        order = _XY if positions == [0] else None
    else:
        order = _ORDERS.get(tuple(positions))
    if order is None:
        return False
    run, handlers = parts
    return (run, handlers, out.aval, order, consts)


def _constant_of(const, inputs):
    """`_Constants` for an operand the general path made from the call's one Python
    scalar, when rebuilding it from the scalar gives the very same bits; else None."""
    scalars = [x for x in inputs if type(x) in _SCALAR_TYPES]
    if len(scalars) != 1 or not isinstance(const, (Array, np.ndarray, np.generic)):
        return None
    actual = np.asarray(const)
    consts = _Constants(actual.dtype, actual.shape)
    try:
        expected = consts.host_value(scalars[0])
    except (TypeError, ValueError, OverflowError):
        return None
    if expected.dtype != actual.dtype or expected.tobytes() != actual.tobytes():
        return None
    return consts


def _record(table, key, general, inputs, scalars=False, **kwargs):
    """A signature's first call, `general(*inputs, **kwargs)`: run the general path,
    recording, and keep what it allows (False when it allows nothing, so that later
    calls go straight to the general path)."""
    if len(table) >= MAX_SIGNATURES:
        table.clear()
    if not xla.single_device():
        table[key] = False  # programs are per device: several devices, no fast path
        return general(*inputs, **kwargs)
    out, records = eager.record(lambda: general(*inputs, **kwargs), ())
    if records is not None:
        table[key] = _entry(records, out, inputs, scalars)
    return out


def _wrap(buf, aval):
    out = _new(Array)
    out._buf = buf
    out.aval = aval
    return out


def unary(general):
    """`general(x)` (a one-argument funcnet.numpy function) with a fast path by x's aval.

    Args:
      general: the function.

    Returns:
      A function of the same signature (its `__wrapped__` is `general`).
    """
    table = {}
    _tables.append(table)

    # The last hit (aval, run, handlers, out aval): compared by identity, before hashing.
    memo = [(None, None, None, None)]
    _memos.append((memo, memo[0]))

    @functools.wraps(general)
    def fast(x, /):
        if _trace.eager_fast and type(x) is Array:
            aval = x.aval
            m_aval, run, handlers, out_aval = memo[0]
            if m_aval is not aval:
                hit = table.get(aval)
                if not hit:
                    if hit is None:
                        return _record(table, aval, general, (x,))
                    return general(x)
                run, handlers, out_aval = hit[0], hit[1], hit[2]
                memo[0] = (aval, run, handlers, out_aval)
            try:
                buf = run([x._buf]).consume_with_handlers(handlers)[0]
            except Exception:  # a deleted buffer, say: the general path explains
                return general(x)
            out = _new(Array)
            out._buf = buf
            out.aval = out_aval
            return out
        return general(x)

    fast.fast_table = table
    fast.fast_memo = memo
    return fast


def _call2(table, general, x, y, key, hit, scalars):
    # A hit whose operands are not simply (x, y), or a first call.
    if hit:
        run, handlers, aval, order, consts = hit
        try:
            bufs = _operand_bufs(order, x, y, consts)
            return _wrap(run(bufs).consume_with_handlers(handlers)[0], aval)
        except Exception:
            return general(x, y)
    if hit is None:
        return _record(table, key, general, (x, y), scalars)
    return general(x, y)


def binary(general, scalars=False):
    """`general(x, y, /, *, out=None, where=None)` (a two-argument funcnet.numpy
    function) with a fast path by (aval or Python scalar type) of x and y.

    Args:
      general: the function (it may or may not take `out=`/`where=`: they are passed on
        when given).
      scalars: whether a Python scalar operand may be replayed as a constant (only for
        functions whose general path does not depend on the scalar's value).

    Returns:
      A function (its `__wrapped__` is `general`; `.operator(op)` and
      `.reflected(op)` make the `__add__`/`__radd__`-style methods with the same fast
      path, `op` being the general method).
    """
    table = {}
    _tables.append(table)
    memo = [(None, None, None)]  # the last Array-Array (aval, aval, hit) of order _XY
    _memos.append((memo, memo[0]))

    def kernel(x, y):
        # Any operands (the Array-Array case again, missed by the memo); returns the
        # result, or None for "not for the fast path".
        tx, ty = type(x), type(y)
        if tx is Array:
            if ty is Array:
                # x is y: a key of its own (a program recorded on one operand twice
                # cannot tell which of x and y it read).
                key = (x.aval, y.aval) if x is not y else (x.aval, _SAME)
            elif ty is float or ty is int or ty is bool:
                key = (x.aval, ty)
            else:
                return None
        elif ty is Array and (tx is float or tx is int or tx is bool):
            key = (tx, y.aval)
        else:
            return None
        hit = table.get(key)
        if hit and hit[3] == _XY:
            if tx is Array and ty is Array:
                memo[0] = (key[0], key[1], hit)
            try:
                buf = hit[0]([x._buf, y._buf]).consume_with_handlers(hit[1])[0]
            except Exception:
                return general(x, y)
            out = _new(Array)
            out._buf = buf
            out.aval = hit[2]
            return out
        return _call2(table, general, x, y, key, hit, scalars)

    # The memo hit is written out in `fast` and `op` (no call in between: this is
    # every `a + b`).
    @functools.wraps(general)
    def fast(x, y, /, *, out=None, where=None):
        if out is None and where is None:
            if _trace.eager_fast:
                if type(x) is Array and type(y) is Array:
                    m = memo[0]
                    if m[0] is x.aval and m[1] is y.aval:
                        hit = m[2]
                        try:
                            buf = hit[0]([x._buf, y._buf]).consume_with_handlers(hit[1])[0]
                        except Exception:
                            return general(x, y)
                        result = _new(Array)
                        result._buf = buf
                        result.aval = hit[2]
                        return result
                result = kernel(x, y)
                if result is not None:
                    return result
            return general(x, y)
        return general(x, y, out=out, where=where)

    def operator(general_op):
        """`self (op) other` with the fast path first (general_op otherwise)."""

        def op(self, other):
            if _trace.eager_fast and type(self) is Array:
                if type(other) is Array:
                    m = memo[0]
                    if m[0] is self.aval and m[1] is other.aval:
                        hit = m[2]
                        try:
                            buf = hit[0]([self._buf, other._buf]).consume_with_handlers(hit[1])[0]
                        except Exception:
                            return general_op(self, other)
                        result = _new(Array)
                        result._buf = buf
                        result.aval = hit[2]
                        return result
                result = kernel(self, other)
                if result is not None:
                    return result
            return general_op(self, other)

        functools.update_wrapper(op, general_op)
        return op

    def reflected(general_op):
        """`other (op) self` with the fast path first (general_op otherwise)."""

        def rop(self, other):
            if _trace.eager_fast and type(self) is Array:
                result = kernel(other, self)
                if result is not None:
                    return result
            return general_op(self, other)

        functools.update_wrapper(rop, general_op)
        return rop

    fast.fast_table = table
    fast.fast_memo = memo
    fast.kernel = kernel
    fast.operator = operator
    fast.reflected = reflected
    return fast


def reduction(general):
    """`general(a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
    where=None, promote_integers=True)` (fnp.sum and its kind) with a fast path by (a's
    aval, axis, keepdims) when axis is None or an int and the other arguments are left
    at their defaults.

    Args:
      general: the function.

    Returns:
      A function of the same signature (its `__wrapped__` is `general`).
    """
    table = {}
    _tables.append(table)

    @functools.wraps(general)
    def fast(
        a,
        axis=None,
        dtype=None,
        out=None,
        keepdims=False,
        initial=None,
        where=None,
        promote_integers=True,
    ):
        if (
            _trace.eager_fast
            and type(a) is Array
            and dtype is None
            and out is None
            and initial is None
            and where is None
            and promote_integers is True
            and (axis is None or type(axis) is int)
            and (keepdims is False or keepdims is True)
        ):
            key = (a.aval, axis, keepdims)
            hit = table.get(key)
            if hit:
                try:
                    buf = hit[0]([a._buf]).consume_with_handlers(hit[1])[0]
                except Exception:
                    return general(a, axis, keepdims=keepdims)
                result = _new(Array)
                result._buf = buf
                result.aval = hit[2]
                return result
            if hit is None:
                if axis is None:
                    return _record(table, key, general, (a,), keepdims=keepdims)
                return _record(table, key, general, (a,), axis=axis, keepdims=keepdims)
        return general(a, axis, dtype, out, keepdims, initial, where, promote_integers)

    fast.fast_table = table
    return fast


_SLICE = object()  # marks a slice's (start, stop, step) in a getitem key


def _chain(records, out, x):
    """The steps `((run, handlers, sources), ...)` replaying a recorded `x[idx]` (a few
    one-primitive programs, each reading x or earlier steps' outputs), or False."""
    if records is None or not records or type(out) is not Array:
        return False
    steps, made = [], [x]
    for rec in records:
        if rec is None or rec.prim.multiple_results or len(rec.outs) != 1:
            return False
        parts = rec.program.executable.dispatch_parts()
        if parts is None:
            return False
        sources = []
        for a in rec.args:
            for i, m in enumerate(made):
                if a is m:
                    sources.append(i)
                    break
            else:
                # A constant (or the output of a primitive with its own eager rule,
                # which recording does not see): not replayed.
                return False
        steps.append((parts[0], parts[1], tuple(sources)))
        made.append(rec.outs[0])
    if made[-1] is not out:
        return False
    return (tuple(steps), out.aval)


def getitem(general):
    """`x[idx]` (`general(x, idx)`) with a fast path for a static int or slice index
    (ints or None in the slice), by (x's aval, the index): the recorded programs are
    replayed in order (a[1] is a slice and a reshape).

    Args:
      general: the general `__getitem__`.

    Returns:
      The `__getitem__` method for Array.
    """
    table = {}
    _tables.append(table)

    def fast_getitem(self, idx):
        if _trace.eager_fast and type(self) is Array:
            t = type(idx)
            if t is int:
                key = (self.aval, idx)
            elif t is slice:
                start, stop, step = idx.start, idx.stop, idx.step
                if not (
                    (start is None or type(start) is int)
                    and (stop is None or type(stop) is int)
                    and (step is None or type(step) is int)
                ):
                    return general(self, idx)
                key = (self.aval, _SLICE, start, stop, step)
            else:
                return general(self, idx)
            hit = table.get(key)
            if hit:
                steps, aval = hit
                vals = [self._buf]
                try:
                    for run, handlers, sources in steps:
                        bufs = [vals[s] for s in sources]
                        vals.append(run(bufs).consume_with_handlers(handlers)[0])
                except Exception:
                    return general(self, idx)
                out = _new(Array)
                out._buf = vals[-1]
                out.aval = aval
                return out
            if hit is None:
                if len(table) >= MAX_SIGNATURES:
                    table.clear()
                if not xla.single_device():
                    table[key] = False
                    return general(self, idx)
                out, records = eager.record(lambda: general(self, idx), ())
                if records is not None:
                    table[key] = _chain(records, out, self)
                return out
        return general(self, idx)

    functools.update_wrapper(fast_getitem, general)
    fast_getitem.fast_table = table
    return fast_getitem
