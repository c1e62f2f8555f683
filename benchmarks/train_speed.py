"""Training speed: cnnbook's small_convnet vs the same network in PyTorch, each in its own process.

    .venv/bin/python benchmarks/train_speed.py [--epochs 10] [--rounds 2] [--threads 2] [--seed 0]
    .venv/bin/python benchmarks/train_speed.py --quick     # 3 epochs, 1 round: a few minutes
    .venv/bin/python benchmarks/train_speed.py --ablation  # ours with each network-level trick off

Both networks start from the same float32 weights (:func:`cnnbook.torch_bridge.to_torch`) and see
the same batches, random shifts and cosine learning rates (:class:`cnnbook.torch_bridge.TorchTrainer`
and :func:`cnnbook.train.fit` share :func:`cnnbook.train.batches` and
:func:`cnnbook.train.lr_schedule`), on the shipped 4,000 training digits, with lesson 09's recipe.

With two or more threads, cnnbook also trains as ``fit(..., processes=threads)`` ("cnnbook,
processes": each mini-batch shared out among that many processes, :mod:`cnnbook.parallel`, this one
and forked workers, each part on a one-thread BLAS), the same number of cores as the other two use,
started in the same environment as they are.

Each library trains in a process of its own (its thread pool cannot spin on the cores the other
needs), with the same thread count set in the environment before NumPy or PyTorch is imported
(``benchmarks/_common.py``, shared with ``conv_speed.py``).  The processes live through a round,
one full training run each from the weights and batches of that round's seed (``--seed`` plus the
round's number, so that ``--rounds 6`` also compares six seeds' accuracies), and take turns
*epoch by epoch*, the order reversed every other epoch (cnnbook, PyTorch; PyTorch, cnnbook; ...),
the idle ones blocked on their input, with a pause of ``PAUSE`` seconds before each turn so that
the others' thread pools have stopped spinning.  A change in machine load, which on a shared
machine comes and goes over seconds, then hits all alike (whole runs one after the other once saw
PyTorch's epochs go from 0.42 to 0.27 s between two runs).  Printed: the wall and CPU seconds of
every epoch side by side, their medians over all rounds, the cnnbook/PyTorch ratio against the 1.3x
target, every loss and test accuracy (1,000 test digits) round by round, and each of our accuracies
minus PyTorch's, seed by seed and on average (equal accuracy is part of the target; float32 runs
that differ only in the order of their additions have ended as much as 0.4 points apart,
:func:`accuracy_gap`), and the split of our time between the convolution layers, pooling and the
rest (a profile of one extra epoch).

``--ablation`` trains only ours, once as it is and once with each of the fast path's switches
that act on the whole network rather than on one convolution (:data:`ABLATION`: trick 24, max
pooling before ReLU, and trick 23, ReLU against an array of zeros) turned off, each in its own
process, taking turns in the same way, and prints each one's time over ours.

This is a benchmark, not a test: it prints figures and asserts nothing.  On a machine shared with
other work, ``--cpu`` uses one thread per library and takes the ratio of CPU seconds: multi-threaded
BLAS spins while waiting for a busy core, so wall time with two threads can balloon.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from typing import Any

from _common import median, thread_environment

PAUSE = 0.3  # seconds between turns: longer than OpenBLAS's and OpenMP's spin before their threads sleep

# "processes": cnnbook with fit(processes=threads), each part on one BLAS thread (only with threads > 1)
LIBRARIES = {"cnnbook": "cnnbook (NumPy)", "processes": "cnnbook, processes", "torch": "PyTorch"}
# --ablation: the fast path's switches that act on the network as a whole (cnnbook.fast.tricks_off)
ABLATION = ("pool_before_relu", "relu_zeros")
OFF = "off:"  # an entrant "off:<switch>" trains ours with that switch off


def label(name: str) -> str:
    """How an entrant is printed."""
    return f"cnnbook, {name[len(OFF) :]} off" if name.startswith(OFF) else LIBRARIES[name]


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


def wait_for_turn() -> None:
    """Block until the parent says ``go`` (an idle process's thread pools fall asleep meanwhile)."""
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"worker: expected 'go' from the parent, got {line!r}")


def say(message: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    print(json.dumps(message), flush=True)


def worker(library: str, epochs: int, seed: int, threads: int, profile: bool) -> None:
    """Train ``epochs`` epochs with one library, one epoch each time the parent says ``go``.

    Says ``{"ready": ...}`` once set up, then ``{"wall": s, "cpu": s}`` after every epoch, then the
    last loss and the test accuracy (and, with ``profile``, the split of one extra epoch of ours).
    """
    import numpy as np

    from cnnbook.data import load_mnist_subset
    from cnnbook.models import SMALL_CONVNET_RECIPE, small_convnet
    from cnnbook.train import accuracy, fit

    settings = {k: v for k, v in SMALL_CONVNET_RECIPE.items() if k != "epochs"}  # lesson 09's recipe
    (X, y), (Xt, yt) = load_mnist_subset()
    model = small_convnet(seed)
    report: dict[str, Any] = {"parameters": model.n_params, "settings": settings, "n_train": len(X)}
    if library in ("cnnbook", "processes") or library.startswith(OFF):
        from contextlib import nullcontext

        from cnnbook import fast

        processes = threads if library == "processes" else 1  # each worker sets one BLAS thread
        switch = fast.tricks_off(library[len(OFF) :]) if library.startswith(OFF) else nullcontext()
        say({"ready": report})
        wait_for_turn()

        def next_epoch(epoch: int, history: Any) -> None:  # runs outside fit's timed part
            say({"wall": history.seconds[-1], "cpu": history.cpu_seconds[-1]})
            if epoch < epochs:
                wait_for_turn()

        with switch:
            history = fit(
                model,
                X,
                y,
                epochs=epochs,
                seed=seed,
                progress=False,
                callback=next_epoch,
                processes=processes,
                **settings,
            )
        final: dict[str, Any] = {"loss": history.loss[-1], "accuracy": accuracy(model, Xt, yt)}
        if profile and library == "cnnbook":
            final["split"] = conv_split(X, y, seed, settings)
        say(final)
        return
    try:
        import torch
    except ModuleNotFoundError:
        say({"missing": "torch"})
        return

    from cnnbook.torch_bridge import TorchTrainer

    torch.set_num_threads(threads)
    trainer = TorchTrainer(model, X, y, epochs=epochs, seed=seed, **settings)
    say({"ready": {**report, "version": torch.__version__}})
    loss = float("nan")
    for _ in range(epochs):
        wait_for_turn()
        wall, cpu = time.perf_counter(), time.process_time()
        loss = trainer.epoch()
        say({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu})
    say({"loss": loss, "accuracy": float(np.mean(trainer.predict(Xt) == yt))})


def start_worker(library: str, epochs: int, seed: int, threads: int, profile: bool) -> subprocess.Popen[str]:
    """One library's worker process, its thread count in the environment before any import."""
    env = thread_environment(threads)
    arguments = ["--worker", library, "--epochs", str(epochs), "--seed", str(seed), "--threads", str(threads)]
    return subprocess.Popen(
        [sys.executable, __file__, *arguments, *["--profile"] * profile],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def hear(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The worker's next JSON line (an error if it died)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"a worker ended early (exit code {process.wait()}); its error is above")
    message: dict[str, Any] = json.loads(line)
    return message


def one_round(
    epochs: int, seed: int, threads: int, profile: bool, ablation: bool
) -> dict[str, dict[str, Any]]:
    """Every library trained side by side, epoch by epoch: per-epoch times, last loss, accuracy
    (``ablation``: ours, and ours with each switch of :data:`ABLATION` off)."""
    if ablation:
        names = ["cnnbook", *(OFF + switch for switch in ABLATION)]
    else:
        names = [name for name in LIBRARIES if name != "processes" or threads > 1]
    processes = {name: start_worker(name, epochs, seed, threads, profile) for name in names}
    try:
        return take_turns(processes, epochs)
    finally:  # after an error, no worker is left waiting for its turn
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()


def take_turns(processes: dict[str, subprocess.Popen[str]], epochs: int) -> dict[str, dict[str, Any]]:
    """Run the workers' epochs in turns; collect their times and final reports."""
    runs: dict[str, dict[str, Any]] = {}
    for name, process in processes.items():
        first = hear(process)
        if "missing" in first:  # PyTorch not installed
            process.wait()
            continue
        runs[name] = {**first["ready"], "wall": [], "cpu": []}
    order = list(runs)
    for epoch in range(epochs):
        for name in order if epoch % 2 == 0 else order[::-1]:  # who goes first alternates
            time.sleep(PAUSE)  # the other process's thread pools stop spinning and sleep
            process = processes[name]
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
            times = hear(process)
            runs[name]["wall"].append(times["wall"])
            runs[name]["cpu"].append(times["cpu"])
    for name in runs:
        runs[name].update(hear(processes[name]))
    for process in processes.values():
        if process.wait():
            raise RuntimeError(f"a worker failed (exit code {process.returncode})")
    return runs


def accuracy_gap(ours: list[float], theirs: list[float], name: str = "PyTorch's") -> str:
    """Test accuracy, ours minus ``name``'s, in points: the mean over the rounds' seeds and each seed's.

    Float32 runs that differ only in the order of their additions have ended as much as four of the
    thousand test digits apart (0.4 points: the rounding moves the trajectory), so "equal" is read
    on the mean over seeds, not on one run."""
    gaps = [100 * (a - b) for a, b in zip(ours, theirs, strict=True)]
    each = ", ".join(f"{gap:+.1f}" for gap in gaps)
    mean = sum(gaps) / len(gaps)
    return f"test accuracy minus {name}: {mean:+.2f} points on average (target: equal), seed by seed {each}"


def main(epochs: int, rounds: int, seed: int, threads: int, cpu: bool, ablation: bool) -> None:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in LIBRARIES}
    for r in range(rounds):  # round r: every library from the weights and batches of seed + r
        for name, run in one_round(epochs, seed + r, threads, r == rounds - 1, ablation).items():
            runs.setdefault(name, []).append(run)
    ours = runs["cnnbook"][0]
    print(
        f"small_convnet ({ours['parameters']:,} parameters), float32, {ours['n_train']} training digits, "
        f"{epochs} epochs, lesson 09's recipe {ours['settings']}"
    )
    print(
        f"{threads} thread(s) per library, each library in its own process, the processes taking "
        f"turns epoch by epoch, {rounds} round(s) (round r trains from seed {seed} + r - 1); "
        f"PyTorch: {runs['torch'][0]['version'] if runs['torch'] else 'not run or not installed'}"
    )
    present = [name for name in runs if runs[name]]
    print("\nseconds per epoch (wall / CPU), round by round:")
    width = max(17, *(len(label(name)) for name in present))
    print(f"{'round':>5s} {'epoch':>5s} " + " ".join(f"{label(name):>{width}s}" for name in present))
    for r in range(rounds):
        for e in range(epochs):
            cells = [f"{runs[name][r]['wall'][e]:7.2f} / {runs[name][r]['cpu'][e]:7.2f}" for name in present]
            print(f"{r + 1:5d} {e + 1:5d} " + " ".join(f"{c:>{width}s}" for c in cells))
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
        loss = ", ".join(f"{v:.4f}" for v in row["loss"])  # round by round: seed by seed
        acc = ", ".join(f"{100 * v:.1f}%" for v in row["accuracy"])
        print(f"| {label(name)} | {row['wall']:.2f} | {row['cpu']:.2f} | {loss} | {acc} |")
    if "processes" in rows:
        name = LIBRARIES["processes"]
        print(f"('{name}': {threads} processes; its CPU column: the parent, which trains one part)")
    for variant in ("cnnbook", "processes"):
        if "torch" not in rows or variant not in rows:
            continue
        wall, cpu_ratio = (rows[variant][k] / rows["torch"][k] for k in ("wall", "cpu"))
        ratios = f"wall {wall:.2f}x" if variant == "processes" else f"wall {wall:.2f}x, CPU {cpu_ratio:.2f}x"
        print(
            f"\n{LIBRARIES[variant]} / PyTorch per epoch: {ratios} "
            f"({'CPU' if cpu else 'wall'} is the figure to read here; target <= 1.3x); "
            + accuracy_gap(rows[variant]["accuracy"], rows["torch"]["accuracy"])
        )
    if "processes" in rows:
        one_process = f"{LIBRARIES['cnnbook']}'s"
        print(
            f"\n{LIBRARIES['processes']}, "
            + accuracy_gap(rows["processes"]["accuracy"], rows["cnnbook"]["accuracy"], one_process)
        )
    for name in rows:
        if name.startswith(OFF):
            wall, cpu_ratio = (rows[name][k] / rows["cnnbook"][k] for k in ("wall", "cpu"))
            base = LIBRARIES["cnnbook"]
            print(f"\n{label(name)} / {base} per epoch: wall {wall:.2f}x, CPU {cpu_ratio:.2f}x")
    print(runs["cnnbook"][-1]["split"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: lesson 09's 10 (--quick: 3)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating runs per library (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="threads of each library (BLAS and torch)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 round (a few minutes)")
    parser.add_argument("--cpu", action="store_true", help="one thread per library; read the CPU ratio")
    parser.add_argument("--ablation", action="store_true", help="ours with each network-level trick off")
    entrants = [*LIBRARIES, *(OFF + switch for switch in ABLATION)]
    parser.add_argument("--worker", choices=entrants, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu:
        args.threads = 1
    if args.worker:
        worker(args.worker, args.epochs, args.seed, args.threads, args.profile)
    else:
        from cnnbook.models import SMALL_CONVNET_RECIPE

        epochs = args.epochs or (3 if args.quick else SMALL_CONVNET_RECIPE["epochs"])
        rounds = args.rounds or (1 if args.quick else 2)
        main(epochs, rounds, args.seed, args.threads, args.cpu, args.ablation)
