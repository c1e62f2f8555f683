"""Two halves of a training step at once: on two threads, in two processes, against one alone.

Why ``fit(..., processes=2)`` and not threads: the same two halves of a step, run at once on two
threads of one process and in two processes, each timed against one half alone.

    .venv/bin/python benchmarks/step_threads.py [--images 32] [--rounds 40] [--steps 10]

One step of lesson 09's network (:meth:`cnnbook.models.Sequential.loss_and_gradients`) on
``--images`` digits, with a one-thread BLAS, timed three ways, the three taking turns round after
round (medians over the rounds, milliseconds per step):

* **alone**: one step at a time, in this process;
* **two threads**: two such steps at once, each on its own thread with its own model
  (:func:`cnnbook.batch_threads.run_parts` with :func:`~cnnbook.batch_threads.forced`, as
  trick 20 runs the parts of a convolution); the time per pair of steps;
* **two processes**: two such steps at once, one in this process and one in a forked child, each
  with its own model, started together through a pipe; the time per pair in this process.

If the second core came free, a pair would take as long as one step alone (ratio 1).  The worker
starts with two BLAS threads and ``OPENBLAS_THREAD_TIMEOUT=4`` in its environment, as ``make lab``
starts Python, and runs every step on a one-thread BLAS (the steps' own convolutions run whole).
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from typing import Any

from _common import median, run_worker


def worker(images: int, rounds: int, steps: int) -> dict[str, Any]:
    """The three timings, in this process (started with two BLAS threads)."""
    import numpy as np

    from cnnbook import batch_threads
    from cnnbook.data import load_mnist_subset
    from cnnbook.models import small_convnet

    (X, y), _ = load_mnist_subset()
    halves = [(X[:images], y[:images]), (X[images : 2 * images], y[images : 2 * images])]
    models = [small_convnet(0), small_convnet(1)]

    def step(part: int) -> None:
        models[part].loss_and_gradients(*halves[part])

    def alone() -> None:
        for _ in range(steps):
            step(0)

    def two_threads() -> None:
        with batch_threads.forced(2):  # parts 0 and 1: this thread and a helper thread
            for _ in range(steps):
                batch_threads.run_parts(lambda lo, hi: step(lo), 2, 0, list)

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()

    def child() -> None:
        ours.close()  # so that the child sees end-of-file if this process dies
        batch_threads.set_blas_threads(1)
        try:
            while theirs.recv():
                for _ in range(steps):
                    step(1)
                theirs.send(True)
        except EOFError:
            return

    twin = context.Process(target=child, daemon=True)
    twin.start()
    theirs.close()  # so that this process sees end-of-file (an error) if the child dies

    def two_processes() -> None:
        ours.send(True)  # the child starts its steps while this process runs its own
        for _ in range(steps):
            step(0)
        ours.recv()  # EOFError if the child died

    routes = {"alone": alone, "two threads": two_threads, "two processes": two_processes}
    times: dict[str, list[float]] = {name: [] for name in routes}
    with batch_threads.one_blas_thread(), np.errstate(all="ignore"):
        for fn in routes.values():
            fn()  # warm-up
        for _ in range(rounds):
            for name, fn in routes.items():
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) / steps)
    ours.send(False)
    twin.join()
    return {name: median(values) for name, values in times.items()}


def main(images: int, rounds: int, steps: int) -> None:
    arguments = ["--worker", "--images", str(images), "--rounds", str(rounds), "--steps", str(steps)]
    result = run_worker(__file__, arguments, threads=2)
    assert result is not None
    alone = result["alone"]
    print(f"one step of lesson 09's network on {images} images, one-thread BLAS; medians of {rounds} rounds")
    print(f"{'':16s} {'ms per step (pair)':>20s} {'/ alone':>8s}")
    for name, seconds in result.items():
        print(f"{name:16s} {seconds * 1e3:20.2f} {seconds / alone:8.2f}")
    print("(1.00: the second core does all the second step's work; 2.00: none of it)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="images per step (half of lesson 09's batch)")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.images, args.rounds, args.steps)))
        sys.stdout.flush()
    else:
        main(args.images, args.rounds, args.steps)
