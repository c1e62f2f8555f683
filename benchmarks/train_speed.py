"""Training speed: cnnbook's small_convnet vs the same network in PyTorch, in one run.

    .venv/bin/python benchmarks/train_speed.py [--epochs 10] [--seed 0]
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/train_speed.py --torch-threads 1

Both networks start from the same float32 weights (:func:`cnnbook.torch_bridge.to_torch`) and see
the same batches, random shifts and cosine learning rates (:class:`cnnbook.torch_bridge.TorchTrainer`
and :func:`cnnbook.train.fit` share :func:`cnnbook.train.batches` and
:func:`cnnbook.train.lr_schedule`), on the shipped 4,000 training digits.  The epochs
are interleaved -- ours, torch's, ours, ... (torch runs in ``fit``'s per-epoch callback, outside
our timing) -- so that a change in machine load hits both alike.  Printed: wall and CPU seconds
per epoch (median), the ours/torch ratio, both test accuracies on the 1,000 test digits, and the
split of our time between the convolution layers and the rest (a profile of one extra epoch).

This is a benchmark, not a test: it prints figures and asserts nothing.  Target from the issue:
ours <= 1.3x torch's time per epoch at equal accuracy (issue 15).  On a loaded machine compare CPU seconds
too: multi-threaded BLAS spins while waiting for a busy core, so wall time can balloon.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import pstats
import time
from typing import Any

import numpy as np

from cnnbook.data import load_mnist_subset
from cnnbook.models import SMALL_CONVNET_RECIPE, small_convnet
from cnnbook.train import History, accuracy, fit

SETTINGS = {k: v for k, v in SMALL_CONVNET_RECIPE.items() if k != "epochs"}  # lesson 09's recipe


def blas_threads() -> str:
    try:  # threadpoolctl is optional: not a dependency of the book
        threadpool_info = importlib.import_module("threadpoolctl").threadpool_info
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        return str(max(counts)) if counts else "?"
    except ImportError:
        import os

        return os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default"))


def conv_split(X: np.ndarray, y: np.ndarray, seed: int) -> str:
    """Profile one epoch of ours: seconds in conv2d forward/backward, pooling, and everything else."""
    model = small_convnet(seed)
    profile = cProfile.Profile()
    profile.enable()
    fit(model, X, y, epochs=1, seed=seed, progress=False, **SETTINGS)
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


def main(epochs: int, seed: int, torch_threads: int) -> None:
    (X, y), (Xt, yt) = load_mnist_subset()
    torch: Any = None
    with contextlib.suppress(ImportError):  # PyTorch is optional: only the comparison needs it
        torch = importlib.import_module("torch")
    model = small_convnet(seed)
    print(
        f"small_convnet ({model.n_params:,} parameters), float32, {len(X)} training digits, {epochs} epochs, "
        f"lesson 09's recipe {SETTINGS}"
    )
    print(
        f"BLAS threads (ours): {blas_threads()}; PyTorch: "
        f"{torch.__version__ + f' with {torch_threads} threads' if torch else 'not installed'}"
    )
    theirs: dict[str, list[float]] = {"wall": [], "cpu": [], "loss": []}
    trainer = None
    if torch is not None:
        from cnnbook.torch_bridge import TorchTrainer

        torch.set_num_threads(torch_threads)
        trainer = TorchTrainer(model, X, y, epochs=epochs, seed=seed, **SETTINGS)

    def torch_epoch(epoch: int, history: History) -> None:
        if trainer is None:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        theirs["loss"].append(trainer.epoch())
        theirs["wall"].append(time.perf_counter() - wall)
        theirs["cpu"].append(time.process_time() - cpu)

    history = fit(model, X, y, epochs=epochs, seed=seed, progress=False, callback=torch_epoch, **SETTINGS)
    ours_acc = accuracy(model, Xt, yt)
    rows = [
        (
            "cnnbook (NumPy)",
            np.median(history.seconds),
            np.median(history.cpu_seconds),
            sum(history.seconds),
            history.loss[-1],
            ours_acc,
        )
    ]
    if trainer is not None:
        torch_acc = float(np.mean(trainer.predict(Xt) == yt))
        rows.append(
            (
                "PyTorch",
                np.median(theirs["wall"]),
                np.median(theirs["cpu"]),
                sum(theirs["wall"]),
                theirs["loss"][-1],
                torch_acc,
            )
        )
    print()
    print(
        "| network | s/epoch (wall, median) | CPU s/epoch | total wall s | last train loss | test accuracy |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, cpu, total, loss, acc in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {total:.1f} | {loss:.4f} | {100 * acc:.1f}% |")
    if trainer is not None:
        print(
            f"\nours / torch per epoch: wall {rows[0][1] / rows[1][1]:.2f}x, "
            f"CPU {rows[0][2] / rows[1][2]:.2f}x "
            f"(target <= 1.3x)"
        )
    print(conv_split(X, y, seed))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=SMALL_CONVNET_RECIPE["epochs"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (match our BLAS)")
    args = parser.parse_args()
    main(args.epochs, args.seed, args.torch_threads)
