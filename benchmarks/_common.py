"""What the benchmarks share: a worker subprocess with its thread count fixed before import, medians.

A benchmark script re-runs itself as a worker (``python script.py --worker KIND ...``) once per
library and round, so that each library has the process -- and the thread pool -- to itself, and
the thread count is in the environment before NumPy or PyTorch is imported (their pools read it
then).  The worker prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# OpenBLAS's idle threads sleep after 2^4 cycles instead of spinning ~0.1 s (cnnbook.batch_threads);
# for every NumPy entrant alike (PyTorch does not use OpenBLAS).  Set it yourself to override.
BLAS_THREAD_TIMEOUT = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "4")


def thread_environment(threads: int) -> dict[str, str]:
    """This process's environment with every thread-count variable set to ``threads`` and
    ``OPENBLAS_THREAD_TIMEOUT`` to :data:`BLAS_THREAD_TIMEOUT`."""
    return {
        **os.environ,
        **dict.fromkeys(THREAD_VARIABLES, str(threads)),
        "OPENBLAS_THREAD_TIMEOUT": BLAS_THREAD_TIMEOUT,
    }


def run_worker(script: str, arguments: list[str], threads: int) -> dict[str, Any] | None:
    """Run ``python script arguments`` with ``threads`` threads; its JSON, or None if torch is missing."""
    env = thread_environment(threads)
    done = subprocess.run([sys.executable, script, *arguments], env=env, capture_output=True, text=True)
    if done.returncode:
        if "No module named 'torch'" in done.stderr:
            return None
        raise RuntimeError(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def median(values: list[float]) -> float:
    """The median (mean of the two middle values for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle] + ordered[~middle]) / 2
