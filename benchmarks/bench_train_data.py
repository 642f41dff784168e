"""Training fed by funcnet.data, and the char-LSTM step vs jax + optax (issue 15).

Sections (both by default; pick one with --only loader or --only lstm):

  loader  the demo's digits CNN (funcnet.demo.cnn), batch 64, Adam, one jitted
          training step (train.make_step). Time per step when the batches come from
          data.Loader(data.digits("train"), batch_size=64, shuffle=True, prefetch=2)
          (host gather, host-to-device copy on the loader's background thread) vs the
          same step on batches already on the device (a list of device batches made
          beforehand: one epoch's worth). Target: loader-fed / on-device at most
          1.05x on the wall-clock minimum (the loader is never the bottleneck). Timed
          as whole epochs (one iter(loader) is one epoch, its start included),
          interleaved with the same number of on-device steps.
  lstm    the character LSTM of notebooks/04_char_lstm.ipynb trained with truncated
          backpropagation through time on the shipped "python_docs" corpus
          (data.TextStreams): embedding vocab x EMBED, LSTM HIDDEN (scan), dense vocab,
          BATCH streams, SEQ characters per window; the carry (c, h) comes out of each
          step and goes into the next (stop_gradient); Adam after clipping by global
          norm 1. funcnet as the notebook writes it (nn layers, optim, a TrainState
          whose model_state is the carry, train.make_step: jitted, donating) vs the
          same model and step in jax + optax (written below, donating), from the same
          parameters and data; the same loss is checked first. Also, marked *, the
          same funcnet update as one plain fn.jit (the cost of make_step's wrapper).
          Reported in tokens/s (BATCH * SEQ / step time) and as ratios of step times.

Timing: _cpu_timing.compare (interleaved blocks, wall and process CPU time; the CPU
time is the robust figure on a loaded machine). --quick: tiny sizes, few rounds, a
smoke run only (numbers meaningless).

Run: python benchmarks/bench_train_data.py [--only loader|lstm] [--quick]
"""

import argparse
import itertools

import _timing

_timing.in_repo_path()

import _cpu_timing
import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import data, demo, lax, nn, optim, random, train

TARGET_LOADER = 1.05
EMBED, HIDDEN, BATCH, SEQ = 32, 128, 32, 64  # notebooks/04_char_lstm.ipynb's sizes
LR = 3e-3


def _per_step(result, steps):
    """A compare() result for whole epochs, divided into per-step figures."""
    out = dict(result)
    for k in ("median", "min", "cpu_median", "cpu_min"):
        out[k] = result[k] / steps
    out["samples"] = [v / steps for v in result["samples"]]
    return out


# --- digits CNN fed by the Loader ---------------------------------------------------------
def bench_loader(args):
    batch_size = 64
    _timing.print_header(
        f"digits CNN training step, batch {batch_size}: fed by data.Loader (shuffle, "
        "prefetch 2) vs batches already on the device"
    )
    model = demo.cnn()
    metrics = demo.classifier_metrics(model)

    def loss_fn(params, batch):
        m = metrics(params, batch)
        return m["loss"], {"accuracy": m["accuracy"]}

    step = train.make_step(loss_fn, has_aux=True)
    params, _ = model.init(random.key(0), (-1, 8, 8, 1))
    np_params = jax.tree_util.tree_map(np.asarray, params)
    loader = data.Loader(
        data.digits("train"), batch_size, shuffle=True, seed=0, drop_last=True, prefetch=2
    )
    on_device = list(loader)  # one epoch's batches, already on the device
    steps = len(loader)
    states = {
        impl: train.TrainState.create(params=fn.device_put(np_params), tx=optim.adam(1e-3))
        for impl in ("loader", "device")
    }

    def epoch(impl, batches):
        def call():
            for batch in batches():
                states[impl], m = step(states[impl], batch)
            return m["loss"]

        return call

    res = _cpu_timing.compare(
        {
            "funcnet": epoch("loader", lambda: loader),  # one iter(loader) = one epoch
            "on_device": epoch("device", lambda: on_device),
        },
        repeat=3 if args.quick else args.repeat,
        warmup=1 if args.quick else 2,
    )
    per_step = {impl: _per_step(r, steps) for impl, r in res.items()}
    print(f"  per step ({steps} steps per epoch; 'funcnet' = fed by the Loader):")
    _cpu_timing.print_rows([("CNN step", per_step)])
    q = _cpu_timing.ratios(per_step, other="on_device")
    print(
        f"\n  loader-fed / on-device: wall {q['wall_min']:.3f}x min, {q['wall_median']:.3f}x "
        f"median; cpu {q['cpu_median']:.3f}x; target <= {TARGET_LOADER} (wall, min): "
        f"{'met' if q['wall_min'] <= TARGET_LOADER else 'NOT met'}"
    )
    loader.close()
    return {"loader": per_step}


# --- char LSTM, funcnet -----------------------------------------------------------------
def fn_char_lstm(vocab, embed, hidden, seq):
    """funcnet's side, as notebooks/04 writes it: nn layers, optim, and a TrainState whose
    model_state is the LSTM carry. Returns (params, tx, make_state, step, hand_step):
    make_state(params, carry) -> TrainState; step = train.make_step(...) (jitted,
    donating); hand_step(params, opt_state, carry, x, y) -> (params, opt_state, carry,
    loss), the same update as a plain fn.jit (a diagnostic of make_step's own cost)."""
    emb, lstm, head = nn.Embedding(vocab, embed), nn.LSTM(hidden), nn.Dense(vocab)
    k = random.split(random.key(0), 3)
    params = {
        "embed": emb.init(k[0], (-1, seq))[0],
        "lstm": lstm.init(k[1], (-1, seq, embed))[0],
        "head": head.init(k[2], (-1, seq, hidden))[0],
    }
    tx = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(LR))

    def forward_loss(p, carry, x, y):
        rows = emb.apply(p["embed"], x, as_lookup=True)  # as the notebook: the fold
        carry, hs = lstm.apply(p["lstm"], rows, initial_carry=carry, return_carry=True)
        logits = head.apply(p["head"], hs)
        return nn.losses.softmax_cross_entropy(logits, y).mean(), carry

    def loss_fn(params, batch, model_state):
        carry = lax.stop_gradient(model_state)
        loss, carry = forward_loss(params, carry, batch["inputs"], batch["targets"])
        return loss, {"model_state": carry}

    def make_state(params, carry):
        return train.TrainState.create(params=params, tx=tx, model_state=carry)

    def hand_step(p, s, carry, x, y):
        carry = lax.stop_gradient(carry)
        (loss, carry), g = fn.value_and_grad(forward_loss, has_aux=True)(p, carry, x, y)
        u, s = tx.update(g, s, p)
        return optim.apply_updates(p, u), s, carry, loss

    step = train.make_step(loss_fn, has_aux=True)
    return params, tx, make_state, step, fn.jit(hand_step, donate_argnums=(0, 1, 2))


# --- char LSTM, jax + optax (the same equations as funcnet.nn.LSTM) ---------------------
def jax_char_lstm():
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(LR))

    def loss_fn(p, carry, x, y):
        cell = p["lstm"]
        e = p["embed"]["embedding"][x]  # (B, T, E)
        xp = jnp.moveaxis(e @ cell["wi"] + cell["b"], 1, 0)  # (T, B, 4H)

        def cell_step(carry, xt):
            c, h = carry
            i, f, g, o = jnp.split(xt + h @ cell["wh"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, h), h

        carry, hs = jax.lax.scan(cell_step, carry, xp)
        logits = jnp.moveaxis(hs, 0, 1) @ p["head"]["w"] + p["head"]["b"]
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1)), carry

    def step(p, s, carry, x, y):
        carry = jax.lax.stop_gradient(carry)
        (loss, carry), g = jax.value_and_grad(loss_fn, has_aux=True)(p, carry, x, y)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, carry, loss

    return tx, jax.jit(step, donate_argnums=(0, 1, 2))


def char_windows(batch, seq, n_windows):
    """(vocab size, inputs, targets): the first n_windows batches of the notebook's
    TextStreams over the shipped "python_docs" corpus, as NumPy (batch, seq) arrays."""
    text = data.text_corpus("python_docs")
    vocab = data.CharVocab(text)
    streams = data.TextStreams(vocab.encode(text), seq_len=seq, num_streams=batch)
    batches = [streams.batch(range(k * batch, (k + 1) * batch)) for k in range(n_windows)]
    return len(vocab), [b["inputs"] for b in batches], [b["targets"] for b in batches]


def _zeros(zeros, batch, hidden):
    # Two buffers: the steps donate the carry, and one buffer cannot be donated twice.
    return tuple(zeros((batch, hidden), np.float32) for _ in range(2))


def bench_lstm(args):
    embed, hidden, batch, seq = (8, 16, 4, 8) if args.quick else (EMBED, HIDDEN, BATCH, SEQ)
    vocab, xs, ys = char_windows(batch, seq, 16)
    _timing.print_header(
        f"char LSTM TBPTT step: vocab {vocab}, embed {embed}, hidden {hidden}, "
        f"batch {batch}, {seq} characters per window; funcnet vs jax + optax"
    )
    params, tx, make_state, f_step, f_hand = fn_char_lstm(vocab, embed, hidden, seq)
    np_params = jax.tree_util.tree_map(np.asarray, params)
    j_tx, j_step = jax_char_lstm()

    # The same loss from the same parameters and data (one step each, fresh copies).
    fp = fn.device_put(np_params)
    f_state, f_metrics = f_step(
        make_state(fp, _zeros(fnp.zeros, batch, hidden)), {"inputs": xs[0], "targets": ys[0]}
    )
    hp = fn.device_put(np_params)
    h_out = f_hand(hp, tx.init(hp), _zeros(fnp.zeros, batch, hidden), xs[0], ys[0])
    jp = jax.device_put(np_params)
    j_out = j_step(jp, j_tx.init(jp), _zeros(jnp.zeros, batch, hidden), xs[0], ys[0])
    np.testing.assert_allclose(float(f_metrics["loss"]), float(j_out[3]), rtol=1e-5)
    np.testing.assert_allclose(float(h_out[3]), float(j_out[3]), rtol=1e-5)

    # Stateful closures: each call is one training step on the next window.
    states = {"funcnet": f_state, "funcnet_jit": list(h_out[:3]), "jax": list(j_out[:3])}
    f_windows = [{"inputs": x, "targets": y} for x, y in zip(fn.device_put(xs), fn.device_put(ys))]
    windows = {
        "funcnet": itertools.cycle(f_windows),
        "funcnet_jit": itertools.cycle(list(zip(fn.device_put(xs), fn.device_put(ys)))),
        "jax": itertools.cycle(list(zip(jax.device_put(xs), jax.device_put(ys)))),
    }

    def f_call():
        states["funcnet"], metrics = f_step(states["funcnet"], next(windows["funcnet"]))
        return metrics["loss"]

    def tuple_call(impl, step):
        def call():
            out = step(*states[impl], *next(windows[impl]))
            states[impl] = out[:3]
            return out[3]

        return call

    res = _cpu_timing.compare(
        {
            "funcnet": f_call,
            "jax": tuple_call("jax", j_step),
            "funcnet_jit": tuple_call("funcnet_jit", f_hand),
        },
        repeat=3 if args.quick else args.repeat,
        warmup=1 if args.quick else 3,
    )
    hand = {"funcnet": res.pop("funcnet_jit"), "jax": res["jax"]}
    _cpu_timing.print_rows([("TBPTT step (make_step)", res), ("TBPTT step (fn.jit) *", hand)])
    tokens = batch * seq
    for impl, r in (*res.items(), ("fn.jit *", hand["funcnet"])):
        print(
            f"  {impl:>8}: {tokens / r['cpu_median']:>10,.0f} tokens/s (cpu), "
            f"{tokens / r['min']:>10,.0f} tokens/s (wall, best block)"
        )
    q = _cpu_timing.ratios(res)
    print(
        f"\n  step funcnet/jax: cpu {q['cpu_median']:.3f}x, wall {q['wall_median']:.3f}x "
        f"median, {q['wall_min']:.3f}x min (tokens/s: the inverse)\n"
        "  * the same update as one fn.jit with the carry as an argument, without\n"
        "    train.make_step (its wrapper: aliasing check, metrics dict)"
    )
    return {"lstm": res, "lstm_fn_jit": hand}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("loader", "lstm"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    results = {}
    if args.only in (None, "loader"):
        results.update(bench_loader(args))
    if args.only in (None, "lstm"):
        results.update(bench_lstm(args))
    _timing.maybe_dump("bench_train_data", results)
    return results


if __name__ == "__main__":
    main()
