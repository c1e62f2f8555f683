"""Timing several routes to the same result side by side, fairly, on a machine that is not idle.

Used by lesson 08 and by ``benchmarks/``: one home for how the book measures speed.  Timings are
reported, never asserted tightly: tests do not time anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_time", "race"]


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
