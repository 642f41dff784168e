"""fn.save / fn.load of a parameter tree vs safetensors.numpy and orbax.checkpoint.

The tree: `--mb` megabytes (default 100) of float32 matrices, a few dozen of them, in a
dict of layers (`{"layer07": {"w": (n, n), "b": (n,)}, ...}`), as a model's parameters.
Cases, interleaved round by round (one call per block; see _timing.py):

  save  funcnet      fn.save(path, tree) of funcnet Arrays: device-to-host copies,
                     safetensors' serialize_file into a temporary file, fsync, rename
        safetensors  safetensors.numpy.save_file(flat dict of NumPy arrays, path): the
                     raw library, from host arrays, no fsync, no rename
        orbax        orbax.checkpoint.PyTreeCheckpointer().save(dir, tree of jax arrays,
                     force=True) (only where orbax is importable)
  load  funcnet      fn.load(path, like=tree): read, check against the template, place
                     each leaf on the device as a funcnet Array
        safetensors  safetensors.numpy.load_file(path): NumPy arrays on the host
        orbax        PyTreeCheckpointer().restore(dir, ...) into jax arrays

Target: fn.save and fn.load each at most 1.2x the raw safetensors time (ratio of the
minima). The files go to a temporary directory (`--dir` to choose one on the disk to
measure; its page cache is warm after the first round, as for a checkpoint re-saved
during training).

Run: python benchmarks/bench_io.py [--mb 100] [--rounds 7] [--dir DIR] [--quick]
"""

import argparse
import os
import shutil
import tempfile
import warnings

import _timing

_timing.in_repo_path()

import numpy as np
import safetensors.numpy

import funcnet as fn
import funcnet.numpy as fnp

TARGET = 1.2


def make_tree(megabytes):
    """About `megabytes` MB of float32 in 24 layers of (n, n) weights and (n,) biases."""
    layers = 24
    n = max(8, int((megabytes * 2**20 / 4 / layers) ** 0.5))
    rng = np.random.default_rng(0)
    return {
        f"layer{i:02d}": {
            "w": rng.standard_normal((n, n), dtype=np.float32),
            "b": rng.standard_normal((n,), dtype=np.float32),
        }
        for i in range(layers)
    }


def _orbax():
    try:
        import orbax.checkpoint as ocp  # optional: compared only where installed
    except ImportError:
        return None
    return ocp


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0, help="tree size in megabytes")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dir", help="where to write the files (default: a temporary dir)")
    ap.add_argument("--quick", action="store_true", help="a 4 MB tree, 2 rounds (smoke run)")
    args = ap.parse_args(argv)
    megabytes, rounds = (4.0, 2) if args.quick else (args.mb, args.rounds)

    host_tree = make_tree(megabytes)
    nbytes = sum(a.nbytes for a in fn.tree.leaves(host_tree))
    _timing.print_header(
        f"fn.save / fn.load of a {nbytes / 2**20:.0f} MB tree "
        f"({len(fn.tree.leaves(host_tree))} float32 leaves) vs safetensors and orbax"
    )
    tree = fn.tree.map(fnp.asarray, host_tree)
    flat = {f"{layer}.{name}": arr for layer, sub in host_tree.items() for name, arr in sub.items()}
    workdir = tempfile.mkdtemp(prefix="funcnet_bench_io_", dir=args.dir)
    ours, raw = os.path.join(workdir, "ours.safetensors"), os.path.join(workdir, "raw.safetensors")
    save_cases = {
        "funcnet": lambda: fn.save(ours, tree),
        "safetensors": lambda: safetensors.numpy.save_file(flat, raw),
    }
    load_cases = {
        "funcnet": lambda: fn.load(ours, like=tree),
        "safetensors": lambda: safetensors.numpy.load_file(raw),
    }
    ocp = _orbax()
    if ocp is not None:
        import jax.numpy as jnp  # the reference side only (orbax saves jax arrays)

        jax_tree = {k: {n: jnp.asarray(a) for n, a in sub.items()} for k, sub in host_tree.items()}
        ckptr = ocp.PyTreeCheckpointer()
        ckpt_dir = os.path.join(workdir, "orbax")
        restore_args = ocp.checkpoint_utils.construct_restore_args(jax_tree)
        save_cases["orbax"] = lambda: ckptr.save(ckpt_dir, jax_tree, force=True)
        load_cases["orbax"] = lambda: ckptr.restore(ckpt_dir, restore_args=restore_args)
    else:
        print("  orbax.checkpoint is not installed: compared with safetensors only")

    results = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # orbax's notes about sharding files
            for label, cases in (("save", save_cases), ("load", load_cases)):
                results[label] = _timing.compare(cases, repeat=rounds, number=1, warmup=1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    _timing.print_rows([(f"{label} {nbytes / 2**20:.0f} MB", r) for label, r in results.items()])
    verdicts = []
    for label, res in results.items():
        r = _timing.ratio(res, "safetensors", "min")
        mb_s = nbytes / 2**20 / res["funcnet"]["min"]
        print(f"  {label}: funcnet {mb_s:8.0f} MB/s, funcnet/safetensors = {r:.2f}x (min)")
        if "orbax" in res:
            print(f"  {label}: funcnet/orbax = {_timing.ratio(res, 'orbax', 'min'):.2f}x (min)")
        verdicts.append(r <= TARGET)
    print(f"  target fn.save/fn.load <= {TARGET}x raw safetensors: "
          + ("met" if all(verdicts) else "NOT met"))  # fmt: skip
    _timing.maybe_dump("bench_io", results)
    return results


if __name__ == "__main__":
    main()
