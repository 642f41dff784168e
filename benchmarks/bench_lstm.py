"""An LSTM over a sequence with scan, funcnet vs jax (issue 5).

Program: an LSTM with hidden size 256 over 100 time steps, batch 32, 128 input
features, written ONCE and run with either library (`m` = funcnet.numpy or
jax.numpy, `lax` = funcnet.lax or jax.lax): the input projection of all steps is
one matmul before the scan, `h @ wh` and the gates run inside
`lax.scan(step, (c0, h0), xs)`; the loss is the mean squared error of the hidden
states against a target. Measured:

  step     jit(value_and_grad(loss))(params, xs, ys): forward + backward through the
           scan (interleaved blocks: wall median / min, and the process's CPU time,
           the robust figure on a loaded machine; see _cpu_timing.py)
  forward  jit(loss) alone
  compile  trace + lower + XLA compile of jit(value_and_grad(loss)), a fresh function
           each repetition: fn.jit(f).lower(...).compile() vs
           jax.jit(f).lower(...).compile(); also split into trace+lower / compile.

  diagnostic  the funcnet step with the input projection written as a 2-D matmul
           (what jnp.matmul emits for the 3-D @ 2-D product): a check that
           funcnet.numpy.matmul's 3-D @ 2-D lowering costs nothing extra. (It once
           broadcast the matrix into a batched dot, 1.82x jax's step.)

Targets (issue 5): step within 5% of jax (ratio <= 1.05); compile at most jax's.
The same numbers come out of both (checked first).

Run: python benchmarks/bench_lstm.py
"""

import sys

import _cpu_timing
import _timing

_timing.in_repo_path()

import jax
import jax.numpy as jnp
import numpy as np

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import nn

HIDDEN, STEPS, BATCH, FEATURES = 256, 100, 32, 128
TARGET = 1.05


def make_loss(m, lax, sigmoid, flat_projection=False):
    """A fresh loss function for numpy module `m`, lax module `lax`. With
    flat_projection the input projection is written as one 2-D matmul,
    (T*B, F) @ (F, 4H), instead of (T, B, F) @ (F, 4H) (a diagnostic: see below)."""

    def loss(p, xs, ys):
        # xs: (T, B, F) time-major; ys: (T, B, H)
        if flat_projection:
            t, b, f = xs.shape
            xp = m.reshape(m.reshape(xs, (t * b, f)) @ p["wi"], (t, b, -1)) + p["b"]
        else:
            xp = xs @ p["wi"] + p["b"]

        def step(carry, xt):
            c, h = carry
            i, f, g, o = m.split(xt + h @ p["wh"], 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * m.tanh(g)
            h = sigmoid(o) * m.tanh(c)
            return (c, h), h

        z = m.zeros((xs.shape[1], HIDDEN), xs.dtype)
        _, hs = lax.scan(step, (z, z), xp)
        return m.mean((hs - ys) ** 2)

    return loss


def fn_loss(flat_projection=False):
    return make_loss(fnp, fn.lax, nn.sigmoid, flat_projection)


def jax_loss():
    return make_loss(jnp, jax.lax, jax.nn.sigmoid)


def data():
    r = np.random.default_rng(0)
    h = HIDDEN
    params = {
        "wi": (r.standard_normal((FEATURES, 4 * h)) / np.sqrt(FEATURES)).astype(np.float32),
        "wh": (r.standard_normal((h, 4 * h)) / np.sqrt(h)).astype(np.float32),
        "b": np.zeros(4 * h, np.float32),
    }
    xs = r.standard_normal((STEPS, BATCH, FEATURES)).astype(np.float32)
    ys = (0.5 * r.standard_normal((STEPS, BATCH, h))).astype(np.float32)
    return params, xs, ys


def main():
    _timing.print_header(
        f"LSTM hidden {HIDDEN}, {STEPS} steps, batch {BATCH}: jit(value_and_grad) through scan"
    )
    params, xs, ys = data()
    fa = (fn.device_put(params), fn.device_put(xs), fn.device_put(ys))
    ja = (jax.device_put(params), jax.device_put(xs), jax.device_put(ys))

    f_step = fn.jit(fn.value_and_grad(fn_loss()))
    j_step = jax.jit(jax.value_and_grad(jax_loss()))
    f_fwd, j_fwd = fn.jit(fn_loss()), jax.jit(jax_loss())

    # Same numbers.
    (lf, gf), (lj, gj) = f_step(*fa), j_step(*ja)
    np.testing.assert_allclose(float(lf), float(lj), rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(np.asarray(gf[k]), np.asarray(gj[k]), rtol=2e-3, atol=1e-6)

    f_flat = fn.jit(fn.value_and_grad(fn_loss(flat_projection=True)))
    np.testing.assert_allclose(float(f_flat(*fa)[0]), float(lj), rtol=1e-5)
    step = _cpu_timing.compare(
        {
            "funcnet": lambda: f_step(*fa),
            "jax": lambda: j_step(*ja),
            "funcnet_flat": lambda: f_flat(*fa),
        },
        repeat=15,
    )
    flat = {"funcnet": step.pop("funcnet_flat"), "jax": step["jax"]}
    fwd = _cpu_timing.compare({"funcnet": lambda: f_fwd(*fa), "jax": lambda: j_fwd(*ja)}, repeat=9)

    comp = _cpu_timing.compile_stages(
        {
            "funcnet": lambda: fn.jit(fn.value_and_grad(fn_loss())).lower(*fa),
            "jax": lambda: jax.jit(jax.value_and_grad(jax_loss())).lower(*ja),
        },
        reps=3,
    )

    _cpu_timing.print_rows(
        [("fwd+bwd step", step), ("forward only", fwd), ("fwd+bwd, 2-D projection *", flat)]
        + [(f"compile: {s}", r) for s, r in comp.items()]
    )
    q = _cpu_timing.ratios(step)
    c = _cpu_timing.ratios(comp["total"])
    print(
        f"\n  step funcnet/jax cpu {q['cpu_median']:.3f}x, wall {q['wall_median']:.3f}x median, "
        f"{q['wall_min']:.3f}x min; target <= {TARGET} (on CPU time): "
        f"{'met' if q['cpu_median'] <= TARGET else 'NOT met'}"
    )
    print(
        f"  compile funcnet/jax cpu {c['cpu_median']:.3f}x, wall {c['wall_median']:.3f}x "
        f"median, {c['wall_min']:.3f}x min; target <= 1.0 (on CPU time): "
        f"{'met' if c['cpu_median'] <= 1.0 else 'NOT met'}"
    )
    print(
        "  * diagnostic: funcnet with the input projection written as one 2-D matmul "
        "(T*B, F) @ (F, 4H); it should match the 3-D (T, B, F) @ (F, 4H) step above, "
        "which fnp.matmul lowers to one dot_general contracting F, as jnp.matmul does"
    )
    _timing.maybe_dump(
        "lstm", {"step": step, "forward": fwd, "compile": comp, "step_2d_projection": flat}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
