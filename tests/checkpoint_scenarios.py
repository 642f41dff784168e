"""Checkpoint scenarios that need a process of their own, run by tests/test_checkpoint.py.

    python tests/checkpoint_scenarios.py kill ROOT SCENARIO...   # savers to SIGKILL
    python tests/checkpoint_scenarios.py train ROOT N   # then "resume" on stdin

`kill` imports funcnet once and forks one saver per SCENARIO (a fork costs nothing, an
import of funcnet a second; the savers use no XLA, so forking is safe), printing
`<scenario> PID <pid>` for the test to SIGKILL; it exits when all savers are dead. A saver
saves `tree_for_step(step)` (about 3 MB, values derived from the step so the test can
rebuild what each step must hold) in ROOT/<scenario> for steps 1, 2, ... with
`max_to_keep=2`, printing `<scenario> COMMITTED <step>` once a step is on disk. Scenario
`random-*` just loops (the test kills it after a delay); the others name a phase where
one save of step >= 3 stops, by wrapping the functions `funcnet.io.checkpoint` calls: it
prints `<scenario> PHASE <step>` and sleeps until the test kills the process:

    mid-write      the safetensors file in the temporary directory is half written
    before-commit  every file written and fsynced, the rename not done
    after-commit   the step renamed into place, the old step not yet deleted
    mid-delete     the old step renamed away and partly deleted

`train` forks runs of a small MLP trained with funcnet.optim.adam and a data-loader state
(epoch, index) that picks the batches (XLA starts in each fork, after it): `full` trains
2N steps and writes the parameters to ROOT/full.npz; `first` trains N steps, saving
{"params", "opt", "data"} in ROOT/ckpt at every step, prints `first SAVED <N>` once step
N is on disk and sleeps until killed; when the test then writes `resume` to stdin,
`resume` restores the latest step with like= and trains on to 2N, writing
ROOT/resumed.npz.
"""

import os
import sys
import time

import numpy as np

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import optim
from funcnet.io import CheckpointManager, _checkpoint_fs
from funcnet.io import checkpoint as checkpoint_module

# How long a process waits to be killed before it gives up (a failed test leaves none).
LIFETIME = 30
HOOKED_FROM_STEP = 3  # steps 1 and 2 are committed first: an old step exists to delete


def tree_for_step(step):
    """What step `step` saves: random float32/bfloat16/int32 arrays and Python ints."""
    rng = np.random.default_rng(step)
    return {
        "params": {
            "w": rng.standard_normal((600, 1000), dtype=np.float32),
            "b": rng.standard_normal(1000, dtype=np.float32),
            "layers": [rng.integers(-(2**31), 2**31 - 1, (100, 1000), dtype=np.int32)],
        },
        "half": rng.standard_normal((50, 100), dtype=np.float32).astype(fnp.bfloat16),
        "data": {"epoch": step // 7, "index": step},
    }


SCENARIO = ""  # each saver's name, the first word of what it prints


def say(*words):
    line = " ".join(map(str, [*(SCENARIO and [SCENARIO]), *words])) + "\n"
    os.write(1, line.encode())  # one write(2) each: the savers' lines never interleave


def hang(phase, step):
    say("PHASE", step)
    time.sleep(LIFETIME)  # the test kills the process here
    os._exit(3)


def install_hook(phase):
    """Wraps the step of a save where `phase` stops it (steps >= HOOKED_FROM_STEP only)."""
    real_write, real_commit = checkpoint_module.write, _checkpoint_fs.commit
    real_delete = _checkpoint_fs.delete_tree

    def step_of(path):  # ".funcnet-tmp-save-7-<hex>/..." -> 7
        name = os.path.basename(path.rstrip(os.sep))
        return int(name.split("-")[3])

    def write(path, host_tree):
        real_write(path, host_tree)
        step = step_of(os.path.dirname(path))
        if phase == "mid-write" and step >= HOOKED_FROM_STEP:
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
            hang(phase, step)

    def commit(temporary, final):
        step = int(os.path.basename(final))
        if phase == "before-commit" and step >= HOOKED_FROM_STEP:
            hang(phase, step)
        real_commit(temporary, final)
        if phase == "after-commit" and step >= HOOKED_FROM_STEP:
            hang(phase, step)

    def delete_tree(path):
        name = os.path.basename(path)
        if phase == "mid-delete" and "-delete-" in name:
            os.remove(os.path.join(path, checkpoint_module.STATE_FILE))
            hang(phase, step_of(path))
        real_delete(path)

    checkpoint_module.write = write
    _checkpoint_fs.commit = commit
    _checkpoint_fs.delete_tree = delete_tree


def run_saver(directory, phase):
    if phase != "random":
        install_hook(phase)
    mgr = CheckpointManager(directory, max_to_keep=2)
    say("READY")
    deadline, step = time.monotonic() + LIFETIME, 1
    while time.monotonic() < deadline:
        mgr.save(step, tree_for_step(step))  # returns after step - 1's write finished
        if step > 1:
            say("COMMITTED", step - 1)
        step += 1
    say("DONE")


def fork(pids, name, function, *args):
    """Runs `function(*args)` in a forked process whose lines start with `name`."""
    global SCENARIO
    pid = os.fork()
    if pid == 0:
        SCENARIO = name
        try:
            function(*args)
        finally:
            os._exit(0)  # never back into the parent's code
    pids[pid] = name
    say(name, "PID", pid)


def reap(pids):
    while pids:
        pid, status = os.wait()
        say(pids.pop(pid), "EXIT", status)


def run_kill(root, *scenarios):
    pids = {}
    for scenario in scenarios:
        phase = "random" if scenario.startswith("random") else scenario
        fork(pids, scenario, run_saver, os.path.join(root, scenario), phase)
    reap(pids)


# --- resuming a training run ------------------------------------------------------------------

BATCH, FEATURES, HIDDEN, CLASSES, EXAMPLES = 16, 8, 32, 3, 80


def dataset():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((EXAMPLES, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, EXAMPLES).astype(np.int32)
    return x, y


def init_params():
    rng = np.random.default_rng(1)
    return {
        "dense_0": {
            "w": fnp.asarray(rng.standard_normal((FEATURES, HIDDEN), dtype=np.float32) * 0.3),
            "b": fnp.zeros(HIDDEN),
        },
        "dense_1": {
            "w": fnp.asarray(rng.standard_normal((HIDDEN, CLASSES), dtype=np.float32) * 0.3),
            "b": fnp.zeros(CLASSES),
        },
    }


def next_batch(data, x, y):
    """The batch the loader state points at (an epoch-seeded shuffle), and the next state."""
    order = np.random.default_rng(100 + data["epoch"]).permutation(EXAMPLES)
    idx = order[data["index"] * BATCH : (data["index"] + 1) * BATCH]
    index, epoch = data["index"] + 1, data["epoch"]
    if index * BATCH >= EXAMPLES:
        index, epoch = 0, epoch + 1
    return (x[idx], y[idx]), {"epoch": epoch, "index": index}


def make_step(opt):
    def loss(params, xb, yb):
        h = fnp.tanh(xb @ params["dense_0"]["w"] + params["dense_0"]["b"])
        logits = h @ params["dense_1"]["w"] + params["dense_1"]["b"]
        logp = logits - fn.nn.logsumexp(logits, axis=-1, keepdims=True)
        return -fnp.mean(fnp.take_along_axis(logp, yb[:, None], axis=-1))

    def step(params, opt_state, xb, yb):
        grads = fn.grad(loss)(params, xb, yb)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state

    # Donated: the saved state's buffers are reused right after each (async) save.
    return fn.jit(step, donate_argnums=(0, 1))


def run_train(directory, out, mode, n):
    x, y = dataset()
    opt = optim.adam(1e-2)
    step_fn = make_step(opt)
    params = init_params()
    opt_state = opt.init(params)
    data = {"epoch": 0, "index": 0}
    start, stop = 0, 2 * n
    mgr = CheckpointManager(directory, max_to_keep=2) if mode != "full" else None
    if mode == "first":
        stop = n
    elif mode == "resume":
        like = {"params": params, "opt": opt_state, "data": data}
        state = mgr.restore(like=like)
        params, opt_state, data = state["params"], state["opt"], state["data"]
        start = mgr.latest_step()
        assert type(data["epoch"]) is int and type(data["index"]) is int, data
    for i in range(start, stop):
        (xb, yb), data = next_batch(data, x, y)
        params, opt_state = step_fn(params, opt_state, fnp.asarray(xb), fnp.asarray(yb))
        if mode == "first":
            mgr.save(i + 1, {"params": params, "opt": opt_state, "data": data})
    if mode == "first":
        mgr.wait_until_finished()
        say("SAVED", mgr.latest_step())
        time.sleep(LIFETIME)  # the test kills the process here
        os._exit(3)
    flat = fn.tree.leaves(params)
    np.savez(out, *[np.asarray(leaf) for leaf in flat])
    say("WROTE", out)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "kill":
        run_kill(*args)
    elif command == "train":
        root, n = args[0], int(args[1])
        pids = {}
        fork(pids, "full", run_train, None, os.path.join(root, "full.npz"), "full", n)
        fork(pids, "first", run_train, os.path.join(root, "ckpt"), None, "first", n)
        if sys.stdin.readline().strip() == "resume":  # the test killed "first"
            first = next(pid for pid, name in pids.items() if name == "first")
            say(pids.pop(first), "EXIT", os.waitpid(first, 0)[1])  # dead before resuming
            out = os.path.join(root, "resumed.npz")
            fork(pids, "resume", run_train, os.path.join(root, "ckpt"), out, "resume", n)
        reap(pids)
    else:
        raise SystemExit(f"unknown scenario {command!r}")
