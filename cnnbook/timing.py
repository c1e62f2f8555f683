"""Timing several routes to the same result side by side, fairly, on a machine that is not idle.

Used by lesson 08 and by ``benchmarks/``: one home for how the book measures speed.  Timings are
reported, never asserted tightly: tests do not time anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["batch_parts_race", "best_time", "conv_step", "gemm_floor", "in_fresh_process", "race"]


def race(fns: dict[str, Callable[[], object]], rounds: int = 5, min_time: float = 0.01) -> dict[str, float]:
    """Best seconds per call of each function, measured side by side: ``{name: seconds}``.

    The functions take turns, round after round, so that a burst of load from other programs
    slows all of them rather than one; each reports its fastest round (the least disturbed).
    Within a round a function runs ``number`` times in a row, with ``number`` chosen so that the
    round lasts at least ``min_time`` seconds (one short call would be lost in timer noise).
    The first call of each function is a warm-up and is not counted.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    numbers, best = {}, {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()  # warm-up (allocations, BLAS threads), and a first estimate of the time per call
        once = time.perf_counter() - start
        numbers[name] = 1 if once >= min_time else int(min_time / max(once, 1e-7)) + 1
        best[name] = float("inf")
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(numbers[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / numbers[name])
    return best


def best_time(fn: Callable[[], object], rounds: int = 5, min_time: float = 0.01) -> float:
    """Best seconds per call of one function (:func:`race` with a single entrant)."""
    return race({"fn": fn}, rounds, min_time)["fn"]


def conv_step(
    module: Any,
    X: np.ndarray,
    F: np.ndarray,
    b: np.ndarray | None,
    G: np.ndarray,
    padding: int,
    stride: int = 1,
) -> object:
    """One training step's convolution work with ``module`` (``cnnbook`` or ``cnnbook.fast``): the
    forward, keeping its columns, then the three gradients ``(dX, dF, db)`` for upstream ``G``.
    The forward's output stays alive until the gradients are made, as in a layer (it counts in a
    peak-memory measurement of the step)."""
    S, cols = module.conv2d(X, F, b, stride, padding, return_cols=True)
    grads = module.conv2d_backward(G, X, F, stride, padding, cols=cols)
    del S
    return grads


def gemm_floor(F: np.ndarray, G: np.ndarray, cols: np.ndarray) -> Callable[[], object]:
    """The GEMM floor of :func:`conv_step`: a function that does its three products alone, at the
    exact im2col shapes -- ``F_mat cols``, ``G_mat cols^T`` and ``F_mat^T G_mat`` with ``F_mat (K, C
    fh fw)``, ``G_mat (K, N H' W')`` and ``cols = im2col(X)``, written into arrays made once (a GEMM
    into fresh memory also pays its page faults), ``G_mat cols^T`` computed as ``(cols G_mat^T)^T`` as
    the fast path computes it (its trick 4: the BLAS runs the long inner dimension faster this way).
    No im2col convolution can beat it; ``benchmarks/conv_speed.py`` times each product in whichever
    orientation runs faster on the machine."""
    K = F.shape[0]
    F_mat = F.reshape(K, -1)
    G_mat = np.ascontiguousarray(G.transpose(1, 0, 2, 3).reshape(K, -1))
    dtype = np.result_type(F, G, cols)
    S, dFT, dcols = (np.empty(shape, dtype) for shape in ((K, cols.shape[1]), (cols.shape[0], K), cols.shape))
    return lambda: (
        np.matmul(F_mat, cols, out=S),
        np.matmul(cols, G_mat.T, out=dFT).T,
        np.matmul(F_mat.T, G_mat, out=dcols),
    )


def in_fresh_process(target: str, environment: dict[str, str], **kwargs: Any) -> Any:
    """``target(**kwargs)`` run in a new Python process, its result (JSON) returned.

    ``target``: ``"module:function"``.  The new process has this one's environment updated with
    ``environment``: for thread settings (``OPENBLAS_NUM_THREADS``, ``OPENBLAS_THREAD_TIMEOUT``),
    which NumPy's BLAS reads once, when NumPy is imported.  A failure in the child is raised as
    ``RuntimeError`` with its error output.
    """
    module, _, function = target.partition(":")
    if not module or not function:
        raise ValueError(f"target must be 'module:function', got {target!r}")
    code = (
        "import json, sys; from importlib import import_module; "
        f"print(json.dumps(getattr(import_module({module!r}), {function!r})(**json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{target} failed in a fresh process:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def batch_parts_race(layers: dict[str, list[Any]], rounds: int = 5) -> dict[str, dict[str, float]]:
    """Forward+backward of :mod:`cnnbook.fast` per layer, in parts on threads and in one piece.

    ``layers``: ``{name: [X shape, F shape, padding]}`` (float32, stride 1).  Returns, per layer, the
    best seconds of ``"parts"`` (every trick on: trick 20 where :mod:`cnnbook.batch_threads` allows
    it), ``"one piece"`` (``fast.tricks_off("batch_threads")``) and ``"GEMM floor"`` (the three
    products alone at the exact im2col shapes), raced side by side, and ``"parts allowed"``: what
    :func:`cnnbook.batch_threads.threads` says in this process, the same for every layer (a layer
    below 8.4 M multiply-adds runs in one piece whatever it says).  Meant for
    :func:`in_fresh_process` with two BLAS threads.
    """
    from . import batch_threads

    rng = np.random.default_rng(0)
    return {
        name: {
            **_parts_race(rng, tuple(x_shape), tuple(f_shape), padding, rounds),
            "parts allowed": float(batch_threads.threads()),
        }
        for name, (x_shape, f_shape, padding) in layers.items()
    }


def _parts_race(
    rng: np.random.Generator, x_shape: tuple[int, ...], f_shape: tuple[int, ...], padding: int, rounds: int
) -> dict[str, float]:
    """:func:`batch_parts_race` for one layer."""
    from . import fast
    from .im2col import im2col

    X = rng.standard_normal(x_shape).astype(np.float32)
    F = rng.standard_normal(f_shape).astype(np.float32)
    b = np.zeros(f_shape[0], np.float32)
    G = rng.standard_normal(fast.conv2d(X, F, b, padding=padding).shape).astype(np.float32)

    def in_one_piece() -> object:
        with fast.tricks_off("batch_threads"):
            return conv_step(fast, X, F, b, G, padding)

    return race(
        {
            "parts": lambda: conv_step(fast, X, F, b, G, padding),
            "one piece": in_one_piece,
            "GEMM floor": gemm_floor(F, G, im2col(X, (f_shape[2], f_shape[3]), padding=padding)),
        },
        rounds=rounds,
    )
