"""A batch cut into parts, one part per core, for :mod:`cnnbook.fast` (its trick 20).

A convolution over a batch is the same computation on every image, so ``N`` images can be cut
into parts of consecutive images and the parts run at once on different cores: every copy and
addition of the fast path then has a core per part, where before only the GEMMs had (NumPy runs
a copy on one core; OpenBLAS runs a GEMM on all of them).  NumPy releases the interpreter lock
inside its copies, additions and GEMMs, so the parts can be Python threads.  While the parts
run, OpenBLAS is set to one thread -- each part's GEMMs run on that part's core -- and set back
afterwards.

**When.**  :func:`run_parts` uses ``threads()`` parts, and :func:`threads` is more than one only
when all of these hold:

* NumPy's BLAS is OpenBLAS (found through NumPy's own extension module) and set to ``T >= 2``
  threads (``OPENBLAS_NUM_THREADS``; by default, the number of cores).  The parts are
  ``min(T, cores, N // 2)``: one BLAS thread (the setting of :mod:`cnnbook.parallel`'s worker
  processes, or of a machine shared with other work) means no threads here either.
* OpenBLAS's idle threads go to sleep at once: ``OPENBLAS_THREAD_TIMEOUT`` is set, to at most
  16, in the environment before NumPy is first imported (OpenBLAS reads it then).  By default
  an OpenBLAS thread that finished its share of a GEMM keeps spinning on its core for about 2^28
  cycles (~0.1 s) waiting for more work, and a part that runs on that core then shares it with a
  busy loop: on two cores a
  convolution's forward+backward in parts came out 1.2-1.6x *slower* than in one piece with a
  two-thread BLAS.  With the timeout at 4 (2^4 cycles) it came out 1.10-1.48x faster
  (``benchmarks/conv_speed.py --ablation``).  So start Python as ``OPENBLAS_THREAD_TIMEOUT=4
  python ...`` (``make lab`` does, for JupyterLab).  What the timeout costs: a GEMM must wake its
  threads (microseconds), and in one measurement GEMMs writing into freshly mapped memory, just
  after large arrays were freed, took up to twice as long (13 -> 27 ms on ``benchmarks/
  conv_speed.py``'s largest shape), which is why that benchmark's GEMM floor writes into arrays
  made once.
* The call is big enough: at least ``_MIN_WORK`` multiply-adds, two images per part.
* No other call is running parts already (one lock; the loser runs as one part).  The BLAS
  thread count is process-wide, so another thread's GEMMs run single-threaded while parts run.

A part's results may be scratch arrays of its helper thread; :func:`run_parts` combines them
before it lets another call use the helpers.  :func:`forced` runs parts whatever the rule says,
for the tests.  A forked child makes its own helper threads, and one forked while parts ran gets
a free lock and the BLAS thread count back.
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from functools import lru_cache, partial
from importlib.util import find_spec
from itertools import pairwise
from typing import NamedTuple, TypeVar

from ._checks import positive_int

__all__ = ["blas_threads", "forced", "one_blas_thread", "run_parts", "set_blas_threads", "threads"]

_Part = TypeVar("_Part")
_Result = TypeVar("_Result")

_MAX_TIMEOUT = 16  # OPENBLAS_THREAD_TIMEOUT at most this: idle BLAS threads sleep after 2^16 cycles
_MIN_WORK = 1 << 23  # multiply-adds (8.4 M) below which parts did not pay (measured: fast.py, trick 20)
_MIN_IMAGES = 2  # images per part, at least

_SYMBOLS = (  # (get, set) thread-count functions: SciPy's OpenBLAS (NumPy's wheels), plain OpenBLAS
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


class _OpenBLAS(NamedTuple):
    get_threads: Callable[[], int]
    set_threads: Callable[[int], None]
    timeout: int  # OPENBLAS_THREAD_TIMEOUT as OpenBLAS read it at start-up; 0 when unset


@lru_cache(maxsize=1)
def _openblas() -> _OpenBLAS | None:
    """NumPy's OpenBLAS, or None (another BLAS, or no way to reach it).

    NumPy does not say which BLAS library it loaded, but its extension module does: opened again
    with ``ctypes``, its handle also finds the symbols of the libraries it loaded (OpenBLAS).
    """
    import numpy  # noqa: F401  (loads the extension module and its BLAS)

    spec = find_spec("numpy._core._multiarray_umath") or find_spec("numpy.core._multiarray_umath")
    if spec is None or spec.origin is None:
        return None
    try:
        library = ctypes.CDLL(spec.origin)
    except OSError:
        return None
    for get_name, set_name in _SYMBOLS:
        get_threads = getattr(library, get_name, None)
        set_threads = getattr(library, set_name, None)
        timeout = getattr(library, "openblas_thread_timeout", None)
        if get_threads is not None and set_threads is not None and timeout is not None:
            get_threads.restype = timeout.restype = ctypes.c_int
            set_threads.argtypes = [ctypes.c_int]
            set_threads.restype = None
            return _OpenBLAS(get_threads, set_threads, int(timeout()))
    return None


_forced: int | None = None
_lock = threading.Lock()
_helpers: list[_Helper] = []  # this process's helper threads (a forked child starts without any)
_saved_blas_threads: int | None = None  # the BLAS thread count while parts run (restored afterwards)


def threads() -> int:
    """How many parts a big enough call runs as (see the module's docstring for the rule)."""
    blas = _openblas()
    if blas is None or not 0 < blas.timeout <= _MAX_TIMEOUT:
        return 1
    return max(1, min(blas.get_threads(), _cores()))


def blas_threads() -> int | None:
    """The threads OpenBLAS runs a GEMM on now (1 inside the parts of :func:`run_parts`), or None
    when NumPy's BLAS is not an OpenBLAS this module can reach."""
    blas = _openblas()
    return None if blas is None else blas.get_threads()


def set_blas_threads(count: int) -> bool:
    """Set NumPy's OpenBLAS to ``count >= 1`` threads for this process, from now on; False (nothing
    changed) when NumPy's BLAS is not an OpenBLAS this module can reach.  :class:`TypeError` for a
    ``count`` that is not an int (bools too), :class:`ValueError` below 1, before anything changes.

    What ``OPENBLAS_NUM_THREADS`` sets at start-up, changed later: :mod:`cnnbook.parallel`'s worker
    processes take one thread each this way, whatever the parent has.  Not while :func:`run_parts`
    runs parts in this process (it restores the count it found when they end).
    """
    count = positive_int(count, "count")
    blas = _openblas()
    if blas is None:
        return False
    blas.set_threads(count)
    return True


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def forced(count: int) -> Iterator[None]:
    """Within the block, every call of ``n`` images runs as ``min(count, n)`` parts, whatever its
    size and whatever :func:`threads` says, unless another call holds the parts (the tests reach
    the parts this way).  Process-wide, like the parts themselves: not for one thread only."""
    global _forced
    count = positive_int(count, "count")
    saved, _forced = _forced, count
    try:
        yield
    finally:
        _forced = saved


class _Helper:
    """A thread that runs the calls it is given, one after another.  Part ``p`` always goes to
    helper ``p - 1``, so no two parts of a call share a thread (nor the fast path's per-thread
    workspaces, which a part's results may be)."""

    def __init__(self, name: str) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future[object], Callable[[], object]]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while True:
            future, call = self._tasks.get()
            try:
                future.set_result(call())
            except BaseException as error:  # handed to the caller, who raises it
                future.set_exception(error)

    def submit(self, call: Callable[[], _Part]) -> Future[_Part]:
        future: Future[_Part] = Future()
        self._tasks.put((future, call))  # type: ignore[arg-type]
        return future


def _helper_threads(count: int) -> list[_Helper]:
    """``count`` helper threads of this process, made on first need."""
    _helpers.extend(_Helper(f"cnnbook-part-{i + 1}") for i in range(len(_helpers), count))
    return _helpers[:count]


def _bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` ranges of consecutive images covering ``range(n)``, sizes differing by at most one."""
    return list(pairwise(n * p // parts for p in range(parts + 1)))


def run_parts(
    function: Callable[[int, int], _Part], n: int, work: int, combine: Callable[[list[_Part]], _Result]
) -> _Result:
    """``combine([function(lo, hi) for each part])``: images ``lo:hi`` of ``n``, the parts run at once.

    ``work``: the call's multiply-adds.  One part (``function(0, n)`` in this thread) unless
    :func:`threads` allows more, the work is at least ``_MIN_WORK`` and no other call holds the
    parts (or :func:`forced` says otherwise).  The first part runs in the calling thread, the
    others on helper threads in copies of its context (NumPy's ``errstate`` and buffer size hold
    in every part).  A part's result may live in its thread's scratch arrays: ``combine`` runs
    before the next call may use the helpers, and must return nothing that refers to them.  An
    exception in any part (a ``KeyboardInterrupt`` in the caller too) is raised after all parts
    have finished.
    """
    if _forced is not None:
        parts = min(_forced, n)
    else:
        parts = min(threads(), n // _MIN_IMAGES) if work >= _MIN_WORK else 1
    if parts < 2 or not _lock.acquire(blocking=False):
        return combine([function(0, n)])
    try:
        return combine(_run_at_once(function, _bounds(n, parts)))
    finally:
        _lock.release()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block NumPy's OpenBLAS runs on one thread, and afterwards on the count it had
    (nothing changes without an OpenBLAS this module can reach).  Process-wide, like the count.
    The outermost block's count is also what a child forked meanwhile gets back."""
    global _saved_blas_threads
    blas = _openblas()
    if blas is None:
        yield
        return
    saved = blas.get_threads()
    outermost = _saved_blas_threads is None
    if outermost:
        _saved_blas_threads = saved
    blas.set_threads(1)
    try:
        yield
    finally:
        blas.set_threads(saved)
        if outermost:
            _saved_blas_threads = None


def _run_at_once(function: Callable[[int, int], _Part], bounds: list[tuple[int, int]]) -> list[_Part]:
    """The parts of :func:`run_parts`, on this thread and its helpers, with a one-thread BLAS."""
    with one_blas_thread():
        # each helper runs in a copy of the caller's context: NumPy's errstate and buffer size
        helpers = [
            helper.submit(partial(contextvars.copy_context().run, function, lo, hi))
            for helper, (lo, hi) in zip(_helper_threads(len(bounds) - 1), bounds[1:])
        ]
        try:
            first = function(*bounds[0])
        finally:
            _wait_for(helpers)
        failed = next((error for error in (helper.exception() for helper in helpers) if error), None)
        if failed is not None:
            raise failed
        return [first, *(helper.result() for helper in helpers)]


def _wait_for(futures: list[Future[_Part]]) -> None:
    """Wait until every future is done, a ``KeyboardInterrupt`` meanwhile raised only afterwards
    (parts take milliseconds; leaving early would hand the helpers' scratch arrays to the next call
    while a part still writes them)."""
    interrupted: KeyboardInterrupt | None = None
    for future in futures:
        while True:
            try:
                future.exception()  # waits
                break
            except KeyboardInterrupt as error:
                interrupted = error
    if interrupted is not None:
        raise interrupted


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads: no helpers, and -- if another thread ran
    parts at the fork -- a held lock and a one-thread BLAS that nobody will release or restore.
    Start afresh."""
    global _lock, _saved_blas_threads
    _helpers.clear()
    _lock = threading.Lock()
    if _saved_blas_threads is not None:
        blas = _openblas()
        if blas is not None:
            blas.set_threads(_saved_blas_threads)
        _saved_blas_threads = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
