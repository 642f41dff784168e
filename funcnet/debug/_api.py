"""`funcnet.debug.print`, `callback` and `breakpoint`, on the `debug_callback` primitive."""

import builtins
import functools
import pdb
import string
import sys

import numpy as np

from funcnet import tree
from funcnet.debug._primitive import bind_callback
from funcnet.runtime import callback as _runtime


class _FormatChecker(string.Formatter):
    """Checks a format string against its arguments without formatting anything."""

    def format_field(self, value, format_spec):
        return ""

    def check_unused_args(self, used_args, args, kwargs):
        unused = [a for i, a in enumerate(args) if i not in used_args]
        if unused:
            raise ValueError(f"Unused positional arguments to `funcnet.debug.print`: {unused}")
        unused_kw = [k for k in kwargs if k not in used_args]
        if unused_kw:
            raise ValueError(
                f"Unused keyword arguments to `funcnet.debug.print`: {unused_kw}. You may "
                'be passing an f-string (f"{x}") into `funcnet.debug.print`; pass a '
                'plain string and the values as arguments ("{x}", x=x) instead.'
            )


def _has_placeholders(fmt: str) -> bool:
    if not fmt:
        return False
    _, field_name, *_ = next(iter(string.Formatter().parse(fmt)))
    return field_name is not None


class _Shown:
    """An array as `print` shows it, as jax shows its arrays: `str` is NumPy's, `repr`
    (inside containers) reads `Array([...], dtype=...)`, format specs apply to the
    element of a 0-d array; attributes and indexing ("{x.shape}", "{x[0]}") are NumPy's."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __str__(self):
        return str(self.value)

    def __repr__(self):
        body = np.array2string(self.value, separator=", ", prefix="Array(")
        return f"Array({body}, dtype={self.value.dtype})"

    def __format__(self, spec):
        return format(self.value, spec)

    def __getattr__(self, name):
        return getattr(self.value, name)

    def __getitem__(self, index):
        return self.value[index]


def _shown(tree_of_values):
    return tree.tree_map(lambda v: _Shown(v) if isinstance(v, np.ndarray) else v, tree_of_values)


def _write_formatted(fmt, printoptions, has_placeholders, *args, **kwargs):
    args, kwargs = _shown((args, kwargs))
    if has_placeholders:
        with np.printoptions(**printoptions):
            msg = fmt.format(*args, **kwargs)
    else:  # as jax: the values follow the text, separated by spaces
        msg = " ".join((fmt, *(str(a) for a in args)))
    sys.stdout.write(msg + "\n")


def print(fmt=None, *args, ordered=False, skip_format_check=False, **kwargs):
    """Prints values from inside transformed code, with `str.format` syntax, as
    `jax.debug.print`.

    Works eagerly and under jit, vmap (once per example), grad (the forward pass's
    primal values; tangents are not printed), scan / fori_loop / while_loop (once per
    iteration) and cond. Values arrive as NumPy arrays (formatted with the NumPy print
    options in effect at the call), so format specs such as `{x:.3f}` work on scalars.
    Unordered prints of one compiled program may come out in any order (as in jax);
    `ordered=True` keeps program order. Pass values as arguments, not in an f-string.

    Args:
      fmt: the format string, e.g. "x = {x}, y = {}". With no placeholders, the values
        are printed after it, separated by spaces.
      *args, **kwargs: the values (pytrees of arrays; other leaves are used as given).
      ordered: print in program order relative to other ordered prints and callbacks.
      skip_format_check: do not check that the placeholders and arguments match.

    Returns:
      None; with no `fmt` (`print(ordered=True)`) a function taking `(fmt, *args,
      **kwargs)`, jax's two-call form.

    Raises:
      TypeError: `fmt` is not a str.
      ValueError: an argument is not used by the format string (e.g. an f-string was
        passed), unless `skip_format_check`.

    Example:
      >>> @fn.jit
      ... def f(x):
      ...     fn.debug.print("x = {x}, sum = {}", x.sum(), x=x)
      ...     return x * 2
      >>> y = f(fnp.arange(3.0))
      x = [0. 1. 2.], sum = 3.0
      >>> _ = fn.vmap(lambda x: fn.debug.print("example {}", x))(fnp.arange(2))
      example 0
      example 1
    """

    def print_now(fmt, *args, **kwargs):
        if not isinstance(fmt, str):
            raise TypeError(
                f"funcnet.debug.print: the format must be a str, got "
                f"{type(fmt).__name__} ({fmt!r:.60})"
            )
        if not skip_format_check:
            _FormatChecker().format(fmt, *args, **kwargs)
        printoptions = np.get_printoptions()
        write = functools.partial(_write_formatted, fmt, printoptions, _has_placeholders(fmt))
        bind_callback(write, args, kwargs, ordered=ordered, name=f"print({fmt!r})")

    if fmt is not None:
        return print_now(fmt, *args, **kwargs)
    if args or kwargs:
        raise TypeError(
            "funcnet.debug.print(ordered=...) takes no values in its first "
            f"call (the two-call form); got args={args}, kwargs={kwargs}"
        )
    return print_now


def callback(callback=None, *args, ordered=False, **kwargs):
    """Calls `callback(*args, **kwargs)` from inside transformed code, for its side
    effects, as `jax.debug.callback`.

    The arrays among the arguments (leaves of pytrees) arrive as NumPy arrays with
    their values; other leaves are passed as given. It runs when print would: eagerly,
    once per example under vmap, in the forward pass under grad, once per iteration in
    loops. Its return value is ignored.

    Args:
      callback: a Python callable.
      *args, **kwargs: its arguments.
      ordered: run in program order relative to other ordered callbacks and prints.

    Returns:
      None; with no `callback` (`callback(ordered=True)`), a function taking
      `(callback, *args, **kwargs)`, jax's two-call form.

    Raises:
      TypeError: `callback` is not callable.

    Example:
      >>> seen = []
      >>> @fn.jit
      ... def f(x):
      ...     fn.debug.callback(seen.append, x)
      ...     return x * 2
      >>> _ = f(fnp.ones(2))
      >>> seen
      [array([1., 1.], dtype=float32)]
    """

    def call_now(fn, *args, **kwargs):
        if not callable(fn):
            raise TypeError(
                "first argument to funcnet.debug.callback must be callable, "
                f"but got an object of type {type(fn).__name__}"
            )
        name = getattr(fn, "__name__", type(fn).__name__)
        bind_callback(fn, args, kwargs, ordered=ordered, name=name)

    if callback is not None:
        return call_now(callback, *args, **kwargs)
    if args or kwargs:
        raise TypeError(
            "funcnet.debug.callback(ordered=...) takes no arguments in its "
            f"first call (the two-call form); got args={args}, kwargs={kwargs}"
        )
    return call_now


def breakpoint(*, ordered=False):
    """Stops in Python's debugger (pdb) when execution reaches this point, with the
    caller's local variables bound to their values (arrays as NumPy arrays), as
    `jax.debug.breakpoint`.

    Works where `print` does (eagerly, jit, vmap: once per example, grad, loops). The
    debugger runs on a copy of the caller's locals: `p x`, `pp params`, `c` to go on.
    Stepping through the rest of a compiled program is not possible.

    Args:
      ordered: stop in program order relative to other ordered callbacks and prints.

    Returns:
      None.
    """
    frame = sys._getframe(1)
    where = f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"
    enter = functools.partial(_enter_debugger, where, frame.f_globals)
    bind_callback(enter, (dict(frame.f_locals),), {}, ordered=ordered, name="breakpoint")


def _enter_debugger(where, user_globals, local_values):
    sys.stdout.write(f"Entering funcnet.debug.breakpoint at {where}\n")
    debugger = pdb.Pdb(stdin=sys.stdin, stdout=sys.stdout, nosigint=True, readrc=False)
    namespace = dict(user_globals)
    namespace["__funcnet_debugger__"] = debugger
    # The debugger stops at the `pass` line of this code, whose locals are the values.
    code = builtins.compile(
        "__funcnet_debugger__.set_trace()\npass\n", "<funcnet.debug.breakpoint>", "exec"
    )
    exec(code, namespace, local_values)


def effects_barrier():
    """Waits until the host callbacks (prints, callbacks, breakpoints) of every compiled
    call in flight, in any thread, have run, as `jax.effects_barrier`.

    A funcnet call already returns only after its own callbacks ran, so a single thread
    never needs this; it is here for code written against jax. It takes no arguments.

    Returns:
      None.
    """
    _runtime.wait_for_callbacks()
