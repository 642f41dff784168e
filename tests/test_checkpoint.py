"""funcnet.io.CheckpointManager: save decisions and retention (orbax's rules), atomic
commits that survive SIGKILL at any moment, asynchronous saves of donated buffers, errors
of the background write, exact resumption of training, and bad input.

The files are checked with `safetensors.numpy` and `json` directly, the surviving steps
with `os.listdir`; the crash and resume scenarios run in processes of their own
(tests/checkpoint_scenarios.py), killed with SIGKILL.
"""

import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import safetensors.numpy
from checkpoint_scenarios import init_params, tree_for_step

import funcnet as fn
import funcnet.numpy as fnp
from funcnet import optim
from funcnet.io import CheckpointManager, StepAlreadyExistsError
from funcnet.io import checkpoint as checkpoint_module

SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint_scenarios.py")


def step_dirs(directory):
    """The entries of a checkpoint directory, as `ls -a` shows them (no manager involved)."""
    return sorted(os.listdir(directory))


def bits(x):
    """The bytes of an array, for bit-exact comparison (bfloat16 and NaN included)."""
    a = np.ascontiguousarray(np.asarray(x))
    return a.dtype.name, a.shape, a.view(np.uint8).tobytes()


def assert_same_bits(got, expected):
    got_flat, got_def = fn.tree.flatten(got)
    exp_flat, exp_def = fn.tree.flatten(expected)
    assert got_def == exp_def
    for g, e in zip(got_flat, exp_flat):
        if isinstance(e, (int, float, str)):
            assert type(g) is type(e) and g == e
        else:
            assert bits(g) == bits(e)


# --- saving, listing, restoring ----------------------------------------------------------------


def test_save_restore_layout_read_by_safetensors_and_json(tmp_path):
    tree = {"w": fnp.arange(6.0).reshape(2, 3), "layers": [fnp.ones(2, dtype=fnp.bfloat16)]}
    tree["data"] = {"epoch": 2, "index": 7}
    with CheckpointManager(tmp_path, async_save=False) as mgr:
        assert mgr.save(5, tree, metrics={"loss": np.float32(0.25), "acc": fnp.array(0.5)})
        assert mgr.all_steps() == [5] and mgr.latest_step() == 5
        assert mgr.directory == str(tmp_path)
    assert step_dirs(tmp_path) == ["5"]
    assert sorted(os.listdir(tmp_path / "5")) == ["checkpoint.json", "state.safetensors"]
    tensors = safetensors.numpy.load_file(str(tmp_path / "5" / "state.safetensors"))
    np.testing.assert_array_equal(tensors["w"], np.arange(6.0, dtype=np.float32).reshape(2, 3))
    meta = json.loads((tmp_path / "5" / "checkpoint.json").read_text())
    assert meta["step"] == 5 and meta["metrics"] == {"loss": 0.25, "acc": 0.5}
    assert meta["format"] == "funcnet.checkpoint/1" and meta["funcnet_version"] == fn.__version__
    assert abs(meta["time"] - time.time()) < 60

    mgr = CheckpointManager(tmp_path)  # a new manager finds the step and its metrics
    assert mgr.all_steps() == [5] and mgr.metrics(5) == {"loss": 0.25, "acc": 0.5}
    restored = mgr.restore()
    assert_same_bits(restored, tree)
    assert type(restored["data"]["epoch"]) is int
    assert isinstance(restored["w"], fn.Array)


def test_optimizer_state_namedtuples_restore_with_like(tmp_path):
    params = {"w": fnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": fnp.zeros(3, np.float32)}
    opt = optim.adam(1e-3)
    state = opt.init(params)
    _, state = opt.update(fn.tree.map(fnp.ones_like, params), state, params)
    mgr = CheckpointManager(tmp_path)
    mgr.save(1, {"params": params, "opt": state})
    template = {"params": params, "opt": opt.init(params)}
    restored = mgr.restore(1, like=template)
    assert fn.tree.structure(restored) == fn.tree.structure(template)
    assert type(restored["opt"][0]) is type(state[0])  # ScaleByAdamState, a NamedTuple
    assert_same_bits(restored["opt"], state)
    with pytest.raises(ValueError, match="pass like="):  # a NamedTuple needs the template
        mgr.restore(1)


def test_async_save_copies_before_donation(tmp_path, monkeypatch):
    # The background write is held until the jitted update has donated (and overwritten)
    # the saved buffers: the checkpoint must still hold the values at save time.
    release = threading.Event()
    real_write = checkpoint_module.write

    def held_write(path, host_tree):
        assert release.wait(10)
        real_write(path, host_tree)

    monkeypatch.setattr(checkpoint_module, "write", held_write)
    # Built from NumPy: reading the device buffers here would pin them (no donation).
    expected = {
        "w": np.arange(4096.0, dtype=np.float32).reshape(64, 64),
        "b": np.ones(64, np.float32),
    }
    params = {k: fnp.asarray(v) for k, v in expected.items()}
    update = fn.jit(lambda p: fn.tree.map(lambda x: x * 3.0 + 1.0, p), donate_argnums=0)
    mgr = CheckpointManager(tmp_path)
    try:
        assert mgr.save(1, params)
        new = update(params)
        assert params["w"].is_deleted()  # really donated: the old buffers are gone
    finally:
        release.set()
    mgr.wait_until_finished()
    restored = mgr.restore(1)
    assert_same_bits(restored, expected)
    np.testing.assert_array_equal(np.asarray(new["w"]), expected["w"] * 3.0 + 1.0)


def test_at_most_one_write_in_flight(tmp_path, monkeypatch):
    entered, release, active, peak = threading.Event(), threading.Event(), [0], [0]
    real_write = checkpoint_module.write

    def slow_write(path, host_tree):
        entered.set()
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        release.wait(10)
        real_write(path, host_tree)
        active[0] -= 1

    monkeypatch.setattr(checkpoint_module, "write", slow_write)
    mgr = CheckpointManager(tmp_path)
    assert mgr.save(1, {"x": np.ones(3, np.float32)})
    assert entered.wait(10)
    assert mgr.all_steps() == [1] and step_dirs(tmp_path)[0].startswith(".funcnet-tmp-save-1-")
    threading.Timer(0.3, release.set).start()
    assert mgr.save(2, {"x": np.ones(3, np.float32)})  # waits for step 1's write first
    assert release.is_set()
    mgr.close()
    assert peak[0] == 1 and step_dirs(tmp_path) == ["1", "2"]


# --- which steps are saved, which are kept -----------------------------------------------------


def test_save_interval_steps_as_orbax(tmp_path):
    # Expected values are orbax.checkpoint.CheckpointManager's (save_interval_steps=3):
    # the first step is saved when none is, then multiples of 3 after the latest; an older
    # or equal step is skipped; force=True saves any new step, never an existing one.
    mgr = CheckpointManager(tmp_path, save_interval_steps=3)
    tree = {"x": np.zeros(2, np.float32)}
    decisions = [(s, mgr.save(s, tree)) for s in [1, 2, 3, 4, 5, 6, 6, 7, 9]]
    assert decisions == [
        (1, True), (2, False), (3, True), (4, False), (5, False), (6, True), (6, False),
        (7, False), (9, True),
    ]  # fmt: skip
    assert mgr.save(10, tree, force=True) and mgr.save(8, tree, force=True)
    with pytest.raises(StepAlreadyExistsError, match=r"step 9 exists already"):
        mgr.save(9, tree, force=True)
    mgr.wait_until_finished()
    assert mgr.all_steps() == [1, 3, 6, 8, 9, 10] and step_dirs(tmp_path) == sorted(
        ["1", "3", "6", "8", "9", "10"]
    )
    assert mgr.should_save(12) and not mgr.should_save(11)


def test_max_to_keep_deletes_old_steps_after_commit(tmp_path):
    mgr = CheckpointManager(tmp_path, max_to_keep=2)
    for step in range(5):
        mgr.save(step, {"x": np.full(3, step, np.float32)})
    mgr.wait_until_finished()
    assert mgr.all_steps() == [3, 4] and step_dirs(tmp_path) == ["3", "4"]
    assert mgr.best_step() == 4  # without keep_best: the latest, as orbax


@pytest.mark.parametrize(
    "mode, losses, kept, best",
    [
        ("min", [3.0, 1.0, 2.0, 5.0, 4.0], ["1", "3", "4"], 1),
        ("max", [3.0, 1.0, 2.0, 5.0, 4.0], ["3", "4"], 3),
        ("min", [2.0, 1.0, 1.0, 1.0, 3.0], ["1", "3", "4"], 1),  # a tie keeps the earlier
        ("min", [math.nan, 2.0, math.nan, 3.0, 4.0], ["1", "3", "4"], 1),  # NaN is never best
        ("min", [None, None, 7.0, None, None], ["2", "3", "4"], 2),  # no metric, not best
        ("max", [None, None, None, None, None], ["3", "4"], None),
    ],
)
def test_keep_best_in_addition_to_latest(tmp_path, mode, losses, kept, best):
    mgr = CheckpointManager(tmp_path, max_to_keep=2, keep_best=("loss", mode))
    for step, loss in enumerate(losses):
        mgr.save(
            step,
            {"x": np.full(2, step, np.float32)},
            metrics=None if loss is None else {"loss": loss},
        )
    mgr.wait_until_finished()
    assert step_dirs(tmp_path) == kept
    assert mgr.best_step() == best
    assert CheckpointManager(tmp_path, keep_best=("loss", mode)).best_step() == best


# --- errors of the background write ------------------------------------------------------------


def failing_write(path, host_tree):
    raise OSError(28, "No space left on device (simulated)")


@pytest.mark.parametrize("surfaces_in", ["wait_until_finished", "save", "close", "restore"])
def test_background_error_is_raised_by_next_call(tmp_path, monkeypatch, surfaces_in):
    mgr = CheckpointManager(tmp_path, max_to_keep=1)
    mgr.save(1, {"x": np.ones(2, np.float32)})
    mgr.wait_until_finished()
    monkeypatch.setattr(checkpoint_module, "write", failing_write)
    assert mgr.save(2, {"x": np.zeros(2, np.float32)})  # returns at once; the write fails behind it
    calls = {
        "wait_until_finished": mgr.wait_until_finished,
        "save": lambda: mgr.save(3, {"x": np.zeros(2, np.float32)}),
        "close": mgr.close,
        "restore": mgr.restore,
    }
    with pytest.raises(RuntimeError, match=r"saving checkpoint step 2 in .* failed: OSError") as e:
        calls[surfaces_in]()
    assert isinstance(e.value.__cause__, OSError)
    # Raised once, then the manager is usable: step 1 (not deleted) is listed, 2 is not.
    mgr.wait_until_finished()
    assert mgr.all_steps() == [1] and step_dirs(tmp_path) == ["1"]
    np.testing.assert_array_equal(np.asarray(mgr.restore()["x"]), np.ones(2, np.float32))


def test_background_error_never_raised_is_reported_at_exit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint_module, "write", failing_write)
    mgr = CheckpointManager(tmp_path)
    mgr.save(1, {"x": np.ones(2, np.float32)})
    mgr._thread.join()  # the program ends here, without close()
    checkpoint_module._report_unraised_errors()  # what atexit runs
    err = capsys.readouterr().err
    assert f"saving checkpoint step 1 in {tmp_path} failed" in err and "No space left" in err
    with pytest.raises(RuntimeError):
        mgr.close()
    checkpoint_module._report_unraised_errors()
    assert capsys.readouterr().err == ""  # raised now: not reported twice


def test_synchronous_save_error_is_raised_by_save(tmp_path, monkeypatch):
    mgr = CheckpointManager(tmp_path, async_save=False)
    monkeypatch.setattr(checkpoint_module, "write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        mgr.save(1, {"x": np.ones(2, np.float32)})
    assert mgr.all_steps() == [] and step_dirs(tmp_path) == []


def test_leftovers_are_removed_and_never_listed(tmp_path):
    CheckpointManager(tmp_path, async_save=False).save(4, {"x": np.ones(2, np.float32)})
    (tmp_path / ".funcnet-tmp-save-5-abc").mkdir()
    (tmp_path / ".funcnet-tmp-save-5-abc" / "state.safetensors").write_bytes(b"partial")
    (tmp_path / ".funcnet-tmp-delete-3-abc").mkdir()
    (tmp_path / "6").mkdir()  # not a manager's step (no checkpoint.json): never listed
    (tmp_path / "007").mkdir()
    mgr = CheckpointManager(tmp_path)
    assert mgr.all_steps() == [4]
    assert step_dirs(tmp_path) == ["007", "4", "6"]
    with pytest.raises(StepAlreadyExistsError, match="not a checkpoint"):
        mgr.save(6, {"x": np.ones(2, np.float32)})


# --- SIGKILL at any moment of a save -------------------------------------------------------


class Child:
    """A scenario process whose stdout lines are read in a thread (no blocking reads)."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, SCENARIOS, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = queue.Queue()
        self.seen = []  # (time received, words)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.split()))
        self.lines.put(None)

    def wait_for(self, *words, timeout=60):
        """The first line (seen before or arriving now) that starts with `words`."""
        match = lambda item: item[1][: len(words)] == list(words)  # noqa: E731
        found = next(filter(match, self.seen), None)
        deadline = time.monotonic() + timeout
        while found is None:
            try:
                item = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {words} within {timeout}s: {self.seen[-5:]}") from None
            if item is None:
                self.proc.wait(10)
                raise AssertionError(f"{words} never came: {self.proc.stderr.read()}")
            self.seen.append(item)
            found = item if match(item) else None
        return found

    def kill(self):
        kill(self.proc.pid)
        self.proc.wait(10)
        self.wait_for_end()

    def wait_for_end(self, timeout=60):
        """Waits for the process to exit and keeps every line it printed."""
        self.proc.wait(timeout)
        while (item := self.lines.get(timeout=10)) is not None:
            self.seen.append(item)


def kill(pid):
    with contextlib.suppress(ProcessLookupError):  # it died already (the test says why)
        os.kill(pid, signal.SIGKILL)


PHASES = ["mid-write", "before-commit", "after-commit", "mid-delete"]
RANDOM_DELAYS = [0.2, 0.5, 0.8]  # seconds after step 1 is on disk; a save takes ~10-50 ms


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """Every kill scenario at once (one process forks all savers): scenario -> (directory,
    the saver's lines, `ls -a` of its directory right after the kill)."""
    root = tmp_path_factory.mktemp("killed")
    randoms = [f"random-{d}" for d in RANDOM_DELAYS]
    server = Child("kill", root, *PHASES, *randoms)
    pids = {}
    try:
        for scenario in PHASES + randoms:
            pids[scenario] = int(server.wait_for(scenario, "PID")[1][2])
        for scenario in PHASES:
            server.wait_for(scenario, "PHASE")
            kill(pids[scenario])
        for scenario, delay in zip(randoms, RANDOM_DELAYS):
            saving = server.wait_for(scenario, "COMMITTED")[0]  # a step is on disk by then
            time.sleep(max(0.0, saving + delay - time.monotonic()))
            kill(pids[scenario])
        server.wait_for_end()
    finally:  # a failure leaves no process behind
        for pid in pids.values():
            kill(pid)
        server.proc.kill()
    for scenario in pids:
        exit_line = server.wait_for(scenario, "EXIT")[1]
        assert os.WTERMSIG(int(exit_line[2])) == signal.SIGKILL, exit_line
    return {
        s: (root / s, [w[1:] for _, w in server.seen if w[0] == s], step_dirs(root / s))
        for s in pids
    }


def check_complete_steps(directory, steps):
    mgr = CheckpointManager(directory, max_to_keep=2)
    assert mgr.all_steps() == steps
    assert not [n for n in step_dirs(directory) if n.startswith(".")]  # leftovers removed
    for step in steps:
        assert_same_bits(mgr.restore(step), tree_for_step(step))
    assert_same_bits(mgr.restore(), tree_for_step(steps[-1]))
    return mgr


@pytest.mark.parametrize(
    "phase, steps_after, leftover",
    [
        ("mid-write", [1, 2], ".funcnet-tmp-save-3-"),
        ("before-commit", [1, 2], ".funcnet-tmp-save-3-"),
        ("after-commit", [1, 2, 3], None),
        ("mid-delete", [2, 3], ".funcnet-tmp-delete-1-"),
    ],
)
def test_sigkill_during_a_save_phase(killed, phase, steps_after, leftover):
    directory, lines, listed = killed[phase]
    # It stopped in the phase: one PHASE line, then nothing but EXIT, or the main thread's
    # late report of the step committed before the hooked save (step 2: a race between
    # the two threads' prints that a loaded machine can decide either way).
    phases = [w for w in lines if w[0] == "PHASE"]
    assert len(phases) == 1, lines
    after = lines[lines.index(phases[0]) + 1 :]
    assert after[-1][0] == "EXIT" and all(w == ["COMMITTED", "2"] for w in after[:-1]), lines
    assert [n for n in listed if not n.startswith(".")] == [str(s) for s in steps_after]
    if leftover:
        assert any(n.startswith(leftover) for n in listed), listed
    mgr = check_complete_steps(directory, steps_after)
    # Training goes on: the next save commits and retention drops the extra steps.
    mgr.save(steps_after[-1] + 1, {"x": np.ones(2, np.float32)})
    mgr.close()
    assert mgr.all_steps() == [steps_after[-1], steps_after[-1] + 1]
    assert step_dirs(directory) == sorted(str(s) for s in mgr.all_steps())


@pytest.mark.parametrize("delay", RANDOM_DELAYS)
def test_sigkill_at_a_random_moment(killed, delay):
    directory, lines, listed = killed[f"random-{delay}"]
    committed = [int(w[1]) for w in lines if w[0] == "COMMITTED"]
    assert committed and ["DONE"] not in lines, lines  # killed while saving, not at the end
    steps = CheckpointManager(directory).all_steps()
    # Every step directory on disk at the kill was complete: all of them are listed.
    assert sorted(int(n) for n in listed if not n.startswith(".")) == steps
    assert steps and steps[-1] >= committed[-1] and len(steps) <= 3, (steps, committed)
    check_complete_steps(directory, steps)


# --- resuming a killed training run --------------------------------------------------------


def test_resume_after_sigkill_is_bit_exact(tmp_path):
    n = 6  # 5 batches an epoch: the run is killed inside epoch 1 and resumes there
    runs = Child("train", tmp_path, n)
    try:
        assert runs.wait_for("first", "SAVED")[1] == ["first", "SAVED", str(n)]
        kill(int(runs.wait_for("first", "PID")[1][2]))
        runs.proc.stdin.write("resume\n")  # it reaps "first", then starts "resume"
        runs.proc.stdin.flush()
        runs.wait_for_end()
    finally:  # a failure leaves no process behind
        for _, words in runs.seen:
            if words[1:2] == ["PID"]:
                kill(int(words[2]))
        runs.proc.kill()
    assert runs.wait_for("full", "WROTE") and runs.wait_for("resume", "WROTE")
    assert os.WTERMSIG(int(runs.wait_for("first", "EXIT")[1][2])) == signal.SIGKILL
    a, b = np.load(tmp_path / "full.npz"), np.load(tmp_path / "resumed.npz")
    assert len(a.files) == 4 and a.files == b.files
    for name in a.files:
        assert bits(a[name]) == bits(b[name]), name
    # The run did train: the final parameters are not the initial ones.
    initial = fn.tree.leaves(init_params())
    assert not any(bits(x) == bits(a[k]) for x, k in zip(initial, a.files))


# --- bad input ---------------------------------------------------------------------------


def test_restore_a_missing_step_names_the_saved_steps(tmp_path):
    mgr = CheckpointManager(tmp_path, async_save=False)
    mgr.save(2, {"x": np.ones(2, np.float32)})
    mgr.save(3, {"x": np.ones(2, np.float32)})
    with pytest.raises(FileNotFoundError, match=r"step 7 not found in .*saved steps: \[2, 3\]"):
        mgr.restore(7)
    with pytest.raises(FileNotFoundError, match=r"step 7 not found"):
        mgr.metrics(7)


def test_restore_with_no_checkpoints(tmp_path):
    mgr = CheckpointManager(tmp_path)
    assert mgr.latest_step() is None and mgr.all_steps() == [] and mgr.best_step() is None
    with pytest.raises(FileNotFoundError, match=f"no checkpoint saved in {tmp_path}"):
        mgr.restore()
    with pytest.raises(FileNotFoundError, match=r"saved steps: none"):
        mgr.restore(0)


def test_restore_like_mismatch_names_path_expected_got_and_step(tmp_path):
    mgr = CheckpointManager(tmp_path, async_save=False)
    mgr.save(4, {"params": {"w": fnp.ones((2, 3))}})
    step_file = os.path.join(str(tmp_path), "4", "state.safetensors")
    with pytest.raises(ValueError) as e:
        mgr.restore(4, like={"params": {"w": fnp.ones((3, 2))}})
    message = str(e.value)
    assert step_file in message and "['params']['w']" in message
    assert "expected float32[3, 2], got float32[2, 3]" in message
    with pytest.raises(ValueError, match=r"['params']\['b'\]|params.b"):
        mgr.restore(4, like={"params": {"w": fnp.ones((2, 3)), "b": fnp.zeros(3, np.float32)}})


def test_saving_a_tracer_inside_jit_is_a_clear_error(tmp_path):
    mgr = CheckpointManager(tmp_path)

    @fn.jit
    def step(params):
        mgr.save(1, {"params": params})
        return params

    with pytest.raises(TypeError, match=r"\['params'\].*tracer.*save outside jit"):
        step(fnp.ones(3, np.float32))
    mgr.close()
    assert mgr.all_steps() == [] and step_dirs(tmp_path) == []


@pytest.mark.parametrize(
    "step, error, match",
    [
        (-1, ValueError, "step must be a non-negative int, got -1"),
        (1.5, TypeError, r"step must be a non-negative int, got 1.5 \(float\)"),
        ("3", TypeError, r"got '3' \(str\)"),
        (True, TypeError, r"got True \(bool\)"),
        (None, TypeError, r"got None"),
    ],
)
def test_bad_step(tmp_path, step, error, match):
    mgr = CheckpointManager(tmp_path)
    with pytest.raises(error, match=match):
        mgr.save(step, {"x": np.ones(2, np.float32)})
    if step is not None:
        with pytest.raises(error, match=match):
            mgr.restore(step)
    assert mgr.save(np.int64(3), {"x": np.ones(2, np.float32)}) and mgr.all_steps() == [3]
    mgr.close()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"keep_best": ("loss", "minimum")}, ValueError, r"mode must be 'min' or 'max', got 'min"),
        ({"keep_best": "loss"}, ValueError, r"keep_best must be None or \(metric_name, mode\)"),
        ({"keep_best": ("loss",)}, ValueError, r"got \('loss',\)"),
        ({"max_to_keep": 0}, ValueError, "max_to_keep must be None or an int >= 1, got 0"),
        ({"max_to_keep": 2.0}, TypeError, "max_to_keep must be None or an int"),
        ({"save_interval_steps": 0}, ValueError, "save_interval_steps must be an int >= 1"),
    ],
)
def test_bad_options(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        CheckpointManager(tmp_path, **kwargs)


def test_bad_metrics_directory_and_closed_manager(tmp_path):
    mgr = CheckpointManager(tmp_path / "ckpt", keep_best=("loss", "min"))
    with pytest.raises(ValueError, match=r"metrics has no 'loss'.*got \['acc'\]"):
        mgr.save(1, {"x": np.ones(2, np.float32)}, metrics={"acc": 0.5})
    with pytest.raises(TypeError, match=r"metric 'loss' must be a real scalar.*shape \(2,\)"):
        mgr.save(1, {"x": np.ones(2, np.float32)}, metrics={"loss": np.ones(2, np.float32)})
    with pytest.raises(TypeError, match="metrics must be None or a dict"):
        mgr.save(1, {"x": np.ones(2, np.float32)}, metrics=0.5)
    with pytest.raises(TypeError, match=r"cannot save the leaf at \['x'\].*object"):
        mgr.save(1, {"x": object()})
    assert mgr.all_steps() == [] and step_dirs(tmp_path / "ckpt") == []
    mgr.close()
    with pytest.raises(ValueError, match="is closed"):
        mgr.save(2, {"x": np.ones(2, np.float32)})
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        CheckpointManager(tmp_path / "file")
