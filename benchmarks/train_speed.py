"""Training speed: cnnbook's small_convnet vs the same network in PyTorch, each in its own process.

    .venv/bin/python benchmarks/train_speed.py [--epochs 10] [--rounds 2] [--threads 2] [--seed 0]
    .venv/bin/python benchmarks/train_speed.py --quick     # 3 epochs, 1 round: a few minutes

Both networks start from the same float32 weights (:func:`cnnbook.torch_bridge.to_torch`) and see
the same batches, random shifts and cosine learning rates (:class:`cnnbook.torch_bridge.TorchTrainer`
and :func:`cnnbook.train.fit` share :func:`cnnbook.train.batches` and
:func:`cnnbook.train.lr_schedule`), on the shipped 4,000 training digits, with lesson 09's recipe.

Each library trains in a process of its own (its thread pool cannot spin on the cores the other
needs), with the same thread count set in the environment before NumPy or PyTorch is imported
(``benchmarks/_common.py``, shared with ``conv_speed.py``).  The processes alternate -- cnnbook,
PyTorch, cnnbook, ... -- for ``--rounds`` rounds, each a full training run, so that a change in
machine load hits both alike.  Printed: the wall and CPU seconds of every epoch side by side, their
medians over all rounds, the cnnbook/PyTorch ratio against the 1.3x target, both test accuracies on
the 1,000 test digits (equal accuracy is part of the target), and the split of our time between the
convolution layers, pooling and the rest (a profile of one extra epoch).

This is a benchmark, not a test: it prints figures and asserts nothing.  On a machine shared with
other work, ``--cpu`` uses one thread per library and takes the ratio of CPU seconds: multi-threaded
BLAS spins while waiting for a busy core, so wall time with two threads can balloon.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from typing import Any

from _common import median, run_worker

LIBRARIES = {"cnnbook": "cnnbook (NumPy)", "torch": "PyTorch"}


def conv_split(X: Any, y: Any, seed: int, settings: dict[str, Any]) -> str:
    """Profile one epoch of ours: seconds in conv2d forward/backward, pooling, and everything else."""
    from cnnbook.models import small_convnet
    from cnnbook.train import fit

    model = small_convnet(seed)
    profile = cProfile.Profile()
    profile.enable()
    fit(model, X, y, epochs=1, seed=seed, progress=False, **settings)
    profile.disable()
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in stats.values())  # cumulative time of the outermost call

    def cumulative(names: set[str]) -> float:
        # the layers call the fast path, cnnbook/fast.py
        return sum(v[3] for (file, _, name), v in stats.items() if name in names and file.endswith("fast.py"))

    conv = cumulative({"conv2d", "conv2d_backward"})
    pool = cumulative({"maxpool2d", "maxpool2d_backward"})
    return (
        f"one profiled epoch of ours: {total:.2f} s = conv layers {conv:.2f} s ({100 * conv / total:.0f}%)"
        f" + max pooling {pool:.2f} s ({100 * pool / total:.0f}%) + rest {total - conv - pool:.2f} s"
    )


def worker(library: str, epochs: int, seed: int, threads: int, profile: bool) -> dict[str, Any]:
    """Train ``epochs`` epochs with one library; per-epoch wall/CPU seconds, last loss, test accuracy."""
    import numpy as np

    from cnnbook.data import load_mnist_subset
    from cnnbook.models import SMALL_CONVNET_RECIPE, small_convnet
    from cnnbook.train import accuracy, fit

    settings = {k: v for k, v in SMALL_CONVNET_RECIPE.items() if k != "epochs"}  # lesson 09's recipe
    (X, y), (Xt, yt) = load_mnist_subset()
    model = small_convnet(seed)
    report: dict[str, Any] = {"parameters": model.n_params, "settings": settings, "n_train": len(X)}
    if library == "cnnbook":
        history = fit(model, X, y, epochs=epochs, seed=seed, progress=False, **settings)
        report.update(wall=history.seconds, cpu=history.cpu_seconds, loss=history.loss[-1])
        report["accuracy"] = accuracy(model, Xt, yt)
        if profile:
            report["split"] = conv_split(X, y, seed, settings)
        return report
    import torch

    from cnnbook.torch_bridge import TorchTrainer

    torch.set_num_threads(threads)
    trainer = TorchTrainer(model, X, y, epochs=epochs, seed=seed, **settings)
    report.update(wall=[], cpu=[], version=torch.__version__)
    for _ in range(epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        report["loss"] = trainer.epoch()
        report["wall"].append(time.perf_counter() - wall)
        report["cpu"].append(time.process_time() - cpu)
    report["accuracy"] = float(np.mean(trainer.predict(Xt) == yt))
    return report


def main(epochs: int, rounds: int, seed: int, threads: int, cpu: bool) -> None:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in LIBRARIES}
    for r in range(rounds):
        for library in LIBRARIES:
            arguments = ["--worker", library, "--epochs", str(epochs), "--seed", str(seed)]
            arguments += ["--threads", str(threads)] + ["--profile"] * (r == rounds - 1)
            result = run_worker(__file__, arguments, threads)
            if result is not None:  # None: PyTorch not installed
                runs[library].append(result)
    ours = runs["cnnbook"][0]
    print(
        f"small_convnet ({ours['parameters']:,} parameters), float32, {ours['n_train']} training digits, "
        f"{epochs} epochs, lesson 09's recipe {ours['settings']}"
    )
    print(
        f"{threads} thread(s) per library, each library in its own process, {rounds} alternating round(s); "
        f"PyTorch: {runs['torch'][0]['version'] if runs['torch'] else 'not installed'}"
    )
    present = [name for name in LIBRARIES if runs[name]]
    print("\nseconds per epoch (wall / CPU), round by round:")
    print(f"{'round':>5s} {'epoch':>5s} " + " ".join(f"{LIBRARIES[name]:>17s}" for name in present))
    for r in range(rounds):
        for e in range(epochs):
            cells = [f"{runs[name][r]['wall'][e]:7.2f} / {runs[name][r]['cpu'][e]:7.2f}" for name in present]
            print(f"{r + 1:5d} {e + 1:5d} " + " ".join(f"{c:>17s}" for c in cells))
    rows: dict[str, dict[str, Any]] = {}
    for name in present:
        rows[name] = {
            "wall": median([t for run in runs[name] for t in run["wall"]]),
            "cpu": median([t for run in runs[name] for t in run["cpu"]]),
            "loss": [run["loss"] for run in runs[name]],
            "accuracy": [run["accuracy"] for run in runs[name]],
        }
    print("\n| network | s/epoch (wall, median) | CPU s/epoch (median) | last train loss | test accuracy |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        loss = ", ".join(f"{v:.4f}" for v in sorted(set(row["loss"])))
        acc = ", ".join(f"{100 * v:.1f}%" for v in sorted(set(row["accuracy"])))
        print(f"| {LIBRARIES[name]} | {row['wall']:.2f} | {row['cpu']:.2f} | {loss} | {acc} |")
    if "torch" in rows:
        wall, cpu_ratio = (rows["cnnbook"][k] / rows["torch"][k] for k in ("wall", "cpu"))
        gap = 100 * (median(rows["cnnbook"]["accuracy"]) - median(rows["torch"]["accuracy"]))
        print(
            f"\ncnnbook / PyTorch per epoch: wall {wall:.2f}x, CPU {cpu_ratio:.2f}x "
            f"({'CPU' if cpu else 'wall'} is the figure to read here; target <= 1.3x); "
            f"test accuracy cnnbook - PyTorch: {gap:+.1f} points (target: equal)"
        )
    print(runs["cnnbook"][-1]["split"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: lesson 09's 10 (--quick: 3)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating runs per library (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="threads of each library (BLAS and torch)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 round (a few minutes)")
    parser.add_argument("--cpu", action="store_true", help="one thread per library; read the CPU ratio")
    parser.add_argument("--worker", choices=list(LIBRARIES), help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu:
        args.threads = 1
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs, args.seed, args.threads, args.profile)))
    else:
        from cnnbook.models import SMALL_CONVNET_RECIPE

        epochs = args.epochs or (3 if args.quick else SMALL_CONVNET_RECIPE["epochs"])
        rounds = args.rounds or (1 if args.quick else 2)
        main(epochs, rounds, args.seed, args.threads, args.cpu)
