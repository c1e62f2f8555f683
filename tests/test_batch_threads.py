"""cnnbook.batch_threads: a batch cut into parts on threads (trick 20 of cnnbook.fast).

The fast path's results with parts are held to the core in tests/test_fast_branches.py (every
switch and branch, one to three parts).  Here: the parts really run at once and on threads of
their own, the rule that decides how many, the BLAS thread count set to one and put back, errors,
NumPy's per-context settings, concurrent callers, and a forked child.
"""

import multiprocessing
import os
import threading
from contextlib import contextmanager
from itertools import pairwise

import numpy as np
import pytest

import cnnbook as cb
from cnnbook import batch_threads, fast


def numpy_uses_openblas() -> bool:
    return batch_threads._openblas() is not None


@pytest.mark.parametrize("n", [1, 2, 5, 64, 65])
@pytest.mark.parametrize("parts", [1, 2, 3, 4])
def test_bounds_cover_the_batch_in_nearly_equal_runs(n, parts):
    bounds = batch_threads._bounds(n, parts)
    assert len(bounds) == parts
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(hi == lo for (_, hi), (lo, _) in pairwise(bounds))  # consecutive
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("parts", [2, 3])
def test_parts_run_at_once_each_on_a_thread_of_its_own(parts):
    """A barrier that every part must reach before any may go on: it breaks (times out) unless the
    parts run at the same time."""
    barrier = threading.Barrier(parts, timeout=10)
    seen = []

    def part(lo, hi):
        barrier.wait()
        seen.append(threading.get_ident())
        return lo, hi

    with batch_threads.forced(parts):
        results = batch_threads.run_parts(part, 7, work=1, combine=list)
    assert results == batch_threads._bounds(7, parts)  # in order, whatever order they finished in
    assert len(set(seen)) == parts
    assert threading.get_ident() in seen  # the first part runs in the caller's thread


def test_one_part_without_force_for_small_work_or_small_batches(monkeypatch):
    monkeypatch.setattr(batch_threads, "threads", lambda: 2)
    me = threading.get_ident()

    def where(lo, hi):
        return threading.get_ident(), lo, hi

    assert batch_threads.run_parts(where, 64, work=batch_threads._MIN_WORK - 1, combine=list) == [(me, 0, 64)]
    assert batch_threads.run_parts(where, 3, work=batch_threads._MIN_WORK, combine=list) == [
        (me, 0, 3)
    ]  # 2 images a part
    parts = batch_threads.run_parts(where, 4, work=batch_threads._MIN_WORK, combine=list)
    assert [(lo, hi) for _, lo, hi in parts] == [(0, 2), (2, 4)] and parts[1][0] != me


class FakeBLAS:
    def __init__(self, threads, timeout):
        self.threads, self.timeout, self.history = threads, timeout, []

    def get_threads(self):
        return self.threads

    def set_threads(self, count):
        self.history.append(count)
        self.threads = count


@pytest.mark.parametrize(
    ("blas_threads", "timeout", "expected"),
    [(2, 4, 2), (2, 16, 2), (2, 17, 1), (2, 0, 1), (1, 4, 1), (8, 4, "cores")],
)
def test_threads_needs_openblas_with_several_threads_that_sleep_when_idle(
    blas_threads, timeout, expected, monkeypatch
):
    monkeypatch.setattr(batch_threads, "_cores", lambda: 2)
    monkeypatch.setattr(batch_threads, "_openblas", lambda: FakeBLAS(blas_threads, timeout))
    assert batch_threads.threads() == (2 if expected == "cores" else expected)
    monkeypatch.setattr(batch_threads, "_openblas", lambda: None)  # another BLAS
    assert batch_threads.threads() == 1


def test_the_blas_runs_one_thread_while_parts_run_and_gets_its_count_back(monkeypatch):
    blas = FakeBLAS(2, 4)
    monkeypatch.setattr(batch_threads, "_openblas", lambda: blas)
    inside = []
    with batch_threads.forced(2):
        batch_threads.run_parts(lambda lo, hi: inside.append(blas.get_threads()), 4, work=1, combine=list)
        with pytest.raises(ZeroDivisionError):
            batch_threads.run_parts(lambda lo, hi: 1 / 0 if lo else None, 4, work=1, combine=list)
    assert inside == [1, 1]
    assert blas.history == [1, 2, 1, 2] and blas.threads == 2  # put back, also after an error


@pytest.mark.skipif(not numpy_uses_openblas(), reason="NumPy's BLAS is not OpenBLAS")
def test_numpys_openblas_is_found_and_its_thread_count_set_and_read():
    blas = batch_threads._openblas()
    saved = blas.get_threads()
    assert saved >= 1
    try:
        blas.set_threads(1)
        assert blas.get_threads() == 1
        A = np.random.default_rng(0).standard_normal((200, 200))
        np.testing.assert_allclose(A @ np.eye(200), A)  # GEMMs still right on one thread
    finally:
        blas.set_threads(saved)
    assert blas.get_threads() == saved
    assert blas.timeout == int(os.environ.get("OPENBLAS_THREAD_TIMEOUT", "0"))


def test_an_error_in_a_helper_part_is_raised_after_every_part_finished():
    finished = []

    def part(lo, hi):
        if lo:
            raise KeyError(f"part {lo}")
        threading.Event().wait(0.05)  # the first part outlives the failing one
        finished.append(lo)

    with batch_threads.forced(2), pytest.raises(KeyError, match="part 2"):
        batch_threads.run_parts(part, 4, work=1, combine=list)
    assert finished == [0]
    assert not batch_threads._lock.locked()  # the next call may run parts again


def test_helper_parts_keep_the_callers_numpy_settings():
    """np.errstate and the ufunc buffer size live in the caller's context; the helpers run in copies."""

    def part(lo, hi):
        np.float64(1.0) / np.float64(0.0)
        return np.getbufsize()

    with batch_threads.forced(2), np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        batch_threads.run_parts(part, 4, work=1, combine=list)
    saved = np.setbufsize(1024)
    try:
        with batch_threads.forced(2), np.errstate(divide="ignore"):
            assert batch_threads.run_parts(part, 4, work=1, combine=list) == [1024, 1024]
    finally:
        np.setbufsize(saved)


@contextmanager
def parts_running_in_another_thread():
    """Inside the block, another thread is in the middle of running two parts (forced)."""
    started, release = threading.Event(), threading.Event()

    def slow(lo, hi):
        if lo == 0:
            started.set()
            release.wait(10)

    with batch_threads.forced(2):
        runner = threading.Thread(target=batch_threads.run_parts, args=(slow, 4, 1, list))
        runner.start()
        try:
            assert started.wait(10)
            yield
        finally:
            release.set()
            runner.join(10)


def test_a_call_that_finds_the_parts_busy_runs_as_one_part():
    with parts_running_in_another_thread():
        me = threading.get_ident()
        whole = batch_threads.run_parts(
            lambda lo, hi: (threading.get_ident(), lo, hi), 4, work=1, combine=list
        )
        assert whole == [(me, 0, 4)]


BAD_COUNTS = [
    (0, ValueError),
    (-1, ValueError),
    (1.5, TypeError),
    (True, TypeError),
    ("2", TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize(("count", "error"), BAD_COUNTS)
def test_forced_refuses_a_count_that_is_not_a_positive_int(count, error):
    with pytest.raises(error, match="count"), batch_threads.forced(count):
        pass


def _forked_child(queue):
    rng = np.random.default_rng(0)
    X, F = rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    with batch_threads.forced(2):
        S = fast.conv2d(X, F, padding=1)
    queue.put(float(np.abs(S - cb.conv2d(X, F, padding=1)).max()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_makes_its_own_helper_threads():
    """The parent's helpers do not exist in a forked child; parts there must not wait for them."""
    with batch_threads.forced(2):  # the parent's helper threads exist
        fast.conv2d(np.ones((4, 1, 5, 5)), np.ones((1, 1, 3, 3)))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_forked_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=10) < 1e-12


def test_two_threads_may_call_the_fast_path_at_once():
    """Each thread has its own workspaces: concurrent calls do not write over each other's."""
    rng = np.random.default_rng(3)
    F = rng.standard_normal((4, 3, 3, 3))
    inputs = [rng.standard_normal((6, 3, 11, 9)) for _ in range(2)]
    G = rng.standard_normal((6, 4, 11, 9))
    errors = []
    start = threading.Barrier(2, timeout=10)

    def work(X):
        try:
            start.wait()
            for _ in range(30):
                S, cols = fast.conv2d(X, F, padding=1, return_cols=True)
                grads = fast.conv2d_backward(G, X, F, padding=1, cols=cols)
                np.testing.assert_allclose(S, cb.conv2d(X, F, padding=1), rtol=1e-10, atol=1e-10)
                for ours, theirs in zip(grads, cb.conv2d_backward(G, X, F, padding=1)):
                    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(X,)) for X in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_concurrent_callers_with_parts_get_their_own_filter_gradients():
    """Two threads, each calling the backward in parts: a helper's part leaves its dF in the helper's
    workspace, and the parts are added up before another call may use that helper.  A large dF
    makes the window wide (before the fix, about one call in five came out wrong)."""
    rng = np.random.default_rng(5)
    F = rng.standard_normal((128, 128, 3, 3))
    inputs = [rng.standard_normal((4, 128, 2, 2)) for _ in range(2)]
    G = rng.standard_normal((4, 128, 2, 2))
    expected = [cb.conv2d_backward(G, X, F, padding=1)[1] for X in inputs]
    wrong, errors = [0, 0], []
    start = threading.Barrier(2, timeout=10)

    def work(i):
        try:
            start.wait()
            for _ in range(60):
                dF = fast.conv2d_backward(G, inputs[i], F, padding=1, input_grad=False)[1]
                wrong[i] += not np.allclose(dF, expected[i], rtol=1e-9, atol=1e-9)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    with batch_threads.forced(2):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert errors == [] and wrong == [0, 0]


@pytest.mark.parametrize("n", [5, 7, 8])
def test_three_uneven_parts_agree_with_the_core(n):
    rng = np.random.default_rng(n)
    X, F = rng.standard_normal((n, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3))
    b, G = rng.standard_normal(4), rng.standard_normal((n, 4, 9, 7))
    with batch_threads.forced(3):
        S, cols = fast.conv2d(X, F, b, padding=1, return_cols=True)
        grads = fast.conv2d_backward(G, X, F, padding=1, cols=cols)
    np.testing.assert_allclose(S, cb.conv2d(X, F, b, padding=1), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(grads, cb.conv2d_backward(G, X, F, padding=1)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not numpy_uses_openblas(), reason="NumPy's BLAS is not OpenBLAS")
def test_set_blas_threads_sets_the_count_that_blas_threads_and_threads_read():
    saved = batch_threads.blas_threads()
    try:
        assert batch_threads.set_blas_threads(2) is True
        assert batch_threads.blas_threads() == 2
        assert batch_threads.set_blas_threads(1) is True
        assert batch_threads.blas_threads() == 1
        assert batch_threads.threads() == 1  # one BLAS thread: no parts
    finally:
        batch_threads.set_blas_threads(saved)


def test_set_blas_threads_without_an_openblas_changes_nothing(monkeypatch):
    monkeypatch.setattr(batch_threads, "_openblas", lambda: None)
    assert batch_threads.set_blas_threads(1) is False


@pytest.mark.parametrize(("count", "error"), BAD_COUNTS)
def test_set_blas_threads_refuses_a_bad_count_before_touching_the_blas(count, error, monkeypatch):
    blas = FakeBLAS(2, 4)
    monkeypatch.setattr(batch_threads, "_openblas", lambda: blas)
    with pytest.raises(error, match="count"):
        batch_threads.set_blas_threads(count)
    assert blas.threads == 2 and blas.history == []


def test_set_blas_threads_takes_numpys_integers(monkeypatch):
    blas = FakeBLAS(2, 4)
    monkeypatch.setattr(batch_threads, "_openblas", lambda: blas)
    assert batch_threads.set_blas_threads(np.int64(1)) is True
    assert blas.history == [1] and type(blas.history[0]) is int


@pytest.mark.skipif(not numpy_uses_openblas(), reason="NumPy's BLAS is not OpenBLAS")
def test_the_real_blas_runs_one_thread_in_every_part_and_gets_its_count_back():
    blas = batch_threads._openblas()
    saved = blas.get_threads()
    blas.set_threads(2)
    try:
        with batch_threads.forced(2):
            seen = batch_threads.run_parts(
                lambda lo, hi: batch_threads.blas_threads(), 4, work=1, combine=list
            )
        assert seen == [1, 1]
        assert batch_threads.blas_threads() == 2
    finally:
        blas.set_threads(saved)


def test_an_interrupt_in_the_caller_waits_for_the_helper_parts():
    """Ctrl-C while the helpers run: raised only once they are done (they may be writing scratch
    arrays that the next call would be handed)."""
    finished = threading.Event()

    def part(lo, hi):
        if lo == 0:
            raise KeyboardInterrupt
        threading.Event().wait(0.2)
        finished.set()

    with batch_threads.forced(2), pytest.raises(KeyboardInterrupt):
        batch_threads.run_parts(part, 4, work=1, combine=list)
    assert finished.is_set()
    assert not batch_threads._lock.locked()


def _report_parts_state(queue):
    queue.put((batch_threads._lock.locked(), batch_threads.blas_threads()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
@pytest.mark.skipif(not numpy_uses_openblas(), reason="NumPy's BLAS is not OpenBLAS")
def test_a_child_forked_while_parts_run_gets_a_free_lock_and_the_blas_count_back():
    saved = batch_threads.blas_threads()
    batch_threads.set_blas_threads(2)  # so that the parts' one thread differs from the count
    try:
        with parts_running_in_another_thread():
            assert batch_threads.blas_threads() == 1
            context = multiprocessing.get_context("fork")
            queue = context.Queue()
            child = context.Process(target=_report_parts_state, args=(queue,))
            child.start()
            child.join(60)
            locked, blas_in_child = queue.get(timeout=10)
        assert child.exitcode == 0
        assert not locked
        assert blas_in_child == 2  # not the one thread the parent's parts had set
        assert batch_threads.blas_threads() == 2
    finally:
        batch_threads.set_blas_threads(saved)


def test_one_blas_thread_sets_one_and_gives_the_count_back_also_nested_and_after_an_error(monkeypatch):
    blas = FakeBLAS(2, 4)
    monkeypatch.setattr(batch_threads, "_openblas", lambda: blas)
    with pytest.raises(KeyError), batch_threads.one_blas_thread():
        assert blas.threads == 1
        with batch_threads.one_blas_thread():
            assert blas.threads == 1
        assert blas.threads == 1  # the inner block gave back the outer one's count, not 2
        raise KeyError
    assert blas.threads == 2 and batch_threads._saved_blas_threads is None


def test_one_blas_thread_without_an_openblas_changes_nothing(monkeypatch):
    monkeypatch.setattr(batch_threads, "_openblas", lambda: None)
    with batch_threads.one_blas_thread():
        pass
    assert batch_threads._saved_blas_threads is None
