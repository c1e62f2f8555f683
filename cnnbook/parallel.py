"""Run the memory-bound loops of im2col/col2im on several cores.

NumPy's BLAS spreads a GEMM over every core, but a plain copy or ``+=`` runs on one.  NumPy
releases the GIL while it copies or adds large float arrays, so a small thread pool lets those
loops use the other cores too.  Work is split into contiguous chunks that write disjoint memory,
so the result does not depend on the number of threads (bit for bit).

``set_num_threads(1)`` turns it off; the default is the machine's core count, at most 4.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence, TypeVar

T = TypeVar("T")

__all__ = ["parallel_map", "set_num_threads", "get_num_threads"]

_threads = max(1, min(4, os.cpu_count() or 1))
_pool: Optional[ThreadPoolExecutor] = None
# Below this many work items per call, threads cost more than they save.
_MIN_ITEMS = 2


def set_num_threads(n: int) -> None:
    """Use ``n >= 1`` threads for the copies of im2col/col2im (1: no threads)."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of threads must be an int >= 1, got {n!r}")
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None
    _threads = n


def get_num_threads() -> int:
    """The number of threads :func:`parallel_map` uses."""
    return _threads


def _chunks(items: Sequence[T], parts: int) -> List[Sequence[T]]:
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + size + (p < extra)
        if stop > start:
            out.append(items[start:stop])
        start = stop
    return out


def parallel_map(work: Callable[[Sequence[T]], None], items: Sequence[T]) -> None:
    """Call ``work(chunk)`` on contiguous chunks of ``items``, one chunk per thread.

    ``work`` must only write memory that belongs to its own chunk.
    """
    global _pool
    parts = min(_threads, len(items))
    if parts < 2 or len(items) < _MIN_ITEMS:
        work(items)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="cnnbook")
    for future in [_pool.submit(work, chunk) for chunk in _chunks(items, parts)]:
        future.result()
