"""`config.debug_nans` / `config.debug_infs`: find the primitive that produced a nan/inf.

When a compiled program (a jit call, or an eager op such as a whole `scan`) returns a
nan (inf) in a floating-point output, its program is run again op by op: every
equation as its own eager program, with the bodies of `scan`, `while` and `cond` and
of nested calls (jit, checkpoint, custom rules) interpreted in Python, iteration by
iteration. The first equation whose outputs hold the invalid value raises
FloatingPointError, as jax does ("invalid value (nan) encountered in log"), naming the
primitive, the user's source line recorded with the equation and where in the program
it sits (e.g. "inside jit(step) > scan, iteration 3").

Eager ops are checked one by one as they run: while a flag is on, this module installs
`checked_apply` as core's default eager implementation; their line is the innermost user
frame, or in a backward pass the line of the forward operation being transposed.

Nothing here runs while both flags are off.
"""

import sys

import numpy as np

from funcnet.backend import eager
from funcnet.config import config
from funcnet.core import dtypes
from funcnet.core.array import asarray_from_value
from funcnet.core.jaxpr import ClosedJaxpr, Jaxpr, Literal
from funcnet.core.source_info import op_origin
from funcnet.core.trace import impl_rules, set_default_impl
from funcnet.lax import control_flow as cf


def invalid_kind(values) -> str | None:
    """'nan' or 'inf' when a floating-point value among `values` holds one (per the
    flags that are on), else None."""
    for v in values:
        dtype = getattr(getattr(v, "aval", None), "dtype", None)
        if dtype is None:
            dtype = np.asarray(v).dtype
        if not dtypes.is_float(dtype):
            continue
        host = np.asarray(v)
        if config.debug_nans and np.isnan(host).any():
            return "nan"
        if config.debug_infs and np.isinf(host).any():
            return "inf"
    return None


def _error(kind, prim_name, source, path, backward=False) -> FloatingPointError:
    msg = f"invalid value ({kind}) encountered in {prim_name}"
    if source is not None:
        msg += (
            f" in the backward pass of the operation at {source}" if backward else f" at {source}"
        )
    if path:
        msg += f" (inside {' > '.join(path)})"
    flag = "debug_nans" if kind == "nan" else "debug_infs"
    return FloatingPointError(msg + f". (funcnet.config.{flag} is on.)")


# --- eager ops -------------------------------------------------------------------------------


def checked_apply(prim, *args, **params):
    """Core's default eager implementation while a flag is on: run, then check."""
    outs = eager.apply_general(prim, args, params)
    check_primitive_outputs(prim, params, args, outs if prim.multiple_results else [outs])
    return outs


def _install(_value=None):
    set_default_impl(
        checked_apply if config.debug_nans or config.debug_infs else eager.apply_primitive
    )


config.on_change(("debug_nans", "debug_infs"), _install)
_install()  # the flags may be on already (FUNCNET_DEBUG_NANS=1)


def check_primitive_outputs(prim, params, args, outs):
    """Raise FloatingPointError when an eager op's outputs hold a nan/inf. A primitive
    holding sub-programs (scan, while, cond, a call) is re-run op by op first, so that the
    error names the equation inside it."""
    kind = invalid_kind(outs)
    if kind is None:
        return
    if _subprograms(params):
        _run_equation(prim, params, list(args), [], None)
    source, _, replayer = op_origin(sys._getframe(2), eager=True)
    raise _error(kind, prim.name, source, [], backward=replayer == "backward_pass")


# --- compiled programs ------------------------------------------------------------------------


def check_program_outputs(label, closed: ClosedJaxpr, args, outs):
    """After a compiled program (`label`, e.g. "jit(step)") ran on `args` (its flat
    inputs, constants first when `closed` has none) and returned `outs`: when an output
    holds a nan/inf, re-run the program op by op and raise at the first equation that
    produces one."""
    kind = invalid_kind(outs)
    if kind is None:
        return
    if any(getattr(a, "is_deleted", lambda: False)() for a in args):
        raise FloatingPointError(
            f"invalid value ({kind}) encountered in the output of {label}; its arguments "
            "were donated (donate_argnums), so its program cannot be re-run op by op to "
            "find the primitive: call it without donate_argnums while debugging."
        )
    run_jaxpr(closed.jaxpr, closed.consts, list(args), [label])
    raise FloatingPointError(
        f"invalid value ({kind}) encountered in the output of {label}, but re-running its "
        "program op by op produced none: XLA's optimized program computed it differently "
        f"(a fused or reordered computation), or the {kind} came in as an argument or a "
        "constant, which no primitive produced. Run the function without jit "
        "(funcnet.config.disable_jit) to look at its values."
    )


def run_jaxpr(jaxpr: Jaxpr, consts, args, path):
    """Evaluate `jaxpr` op by op on concrete values, checking every equation's outputs."""
    env = dict(zip(jaxpr.constvars, consts))
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"program takes {len(jaxpr.invars)} arguments, got {len(args)}")
    env.update(zip(jaxpr.invars, args))

    def read(x):
        return x.val if isinstance(x, Literal) else env[x]

    for eqn in jaxpr.eqns:
        outs = _run_equation(
            eqn.primitive, eqn.params, [read(x) for x in eqn.inputs], path, eqn.source_info
        )
        env.update(zip(eqn.outputs, outs))
    return [read(x) for x in jaxpr.outvars]


def _run_equation(prim, params, invals, path, source):
    rule = _structured_rules().get(prim)
    if rule is not None:
        return rule(invals, path, **params)
    sub = _call_program(params, len(invals))
    if sub is not None:  # jit, checkpoint, custom_jvp/vjp calls: the body, inline
        label = (
            f"{prim.name}({params['name']})" if isinstance(params.get("name"), str) else prim.name
        )
        return run_jaxpr(sub.jaxpr, sub.consts, invals, path + [label])
    impl = impl_rules.get(prim)  # an eager rule of its own (a host callback, ...)
    outs = (
        impl(prim, *invals, **params)
        if impl is not None
        else eager.apply_general(prim, invals, params)
    )
    outs = outs if prim.multiple_results else [outs]
    kind = invalid_kind(outs)
    if kind is not None:
        raise _error(kind, prim.name, source, path)
    return outs


def _subprograms(params):
    return [
        v
        for v in params.values()
        if isinstance(v, (ClosedJaxpr, Jaxpr))
        or (isinstance(v, (tuple, list)) and any(isinstance(s, (ClosedJaxpr, Jaxpr)) for s in v))
    ]


def _call_program(params, n_args):
    """The one program of a call-like primitive whose inputs are the equation's inputs."""
    progs = [v for v in params.values() if isinstance(v, ClosedJaxpr)]
    if len(progs) == 1 and len(progs[0].jaxpr.invars) == n_args:
        return progs[0]
    return None


# --- control flow, interpreted in Python -------------------------------------------------------


def _run_cond(invals, path, *, branches, **_):
    index = min(max(int(np.asarray(invals[0])), 0), len(branches) - 1)
    br = branches[index]
    return run_jaxpr(br.jaxpr, br.consts, invals[1:], path + [f"cond branch {index}"])


def _run_while(invals, path, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts, **_):
    c_consts = invals[:cond_nconsts]
    b_consts = invals[cond_nconsts : cond_nconsts + body_nconsts]
    carry = invals[cond_nconsts + body_nconsts :]
    step = 0
    while True:
        where = f"while_loop, iteration {step}"
        (pred,) = run_jaxpr(
            cond_jaxpr.jaxpr, cond_jaxpr.consts, c_consts + carry, path + [where + " (cond_fun)"]
        )
        if not bool(np.asarray(pred)):
            return carry
        carry = run_jaxpr(body_jaxpr.jaxpr, body_jaxpr.consts, b_consts + carry, path + [where])
        step += 1


def _run_scan(invals, path, *, jaxpr, num_consts, num_carry, length, reverse, **_):
    consts = invals[:num_consts]
    carry = invals[num_consts : num_consts + num_carry]
    xs = [np.asarray(x) for x in invals[num_consts + num_carry :]]
    y_avals = jaxpr.out_avals[num_carry:]
    ys = [[None] * length for _ in y_avals]
    for step in range(length):
        i = length - 1 - step if reverse else step
        x_t = [asarray_from_value(x[i], x.dtype) for x in xs]
        outs = run_jaxpr(
            jaxpr.jaxpr, jaxpr.consts, consts + carry + x_t, path + [f"scan, iteration {step}"]
        )
        carry = outs[:num_carry]
        for slot, y in zip(ys, outs[num_carry:]):
            slot[i] = np.asarray(y)
    stacked = [
        asarray_from_value(np.stack(slot) if length else np.zeros((0,) + a.shape, a.dtype), a.dtype)
        for slot, a in zip(ys, y_avals)
    ]
    return list(carry) + stacked


def _structured_rules():
    return {cf.cond_p: _run_cond, cf.while_p: _run_while, cf.scan_p: _run_scan}
