"""Data parallelism (cnnbook.parallel, fit(processes=P)): the whole batch's gradients, split over processes.

The oracle is the model's own single-process ``loss_and_gradients`` on the whole batch (itself held
to finite differences and PyTorch elsewhere): in float64 the weighted sum of the parts' gradients
must equal it to rounding, for any split -- uneven parts, more processes than examples, frozen
layers -- and a training run with ``processes=2`` must follow the single-process run.
"""

import mmap
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cnnbook import batch_threads
from cnnbook.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnbook.models import Sequential, small_convnet
from cnnbook.parallel import BatchWorkers
from cnnbook.residual import Residual
from cnnbook.train import fit

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="processes > 1 needs the fork start method"
)


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 12, 12)), rng.integers(0, 10, n)


def model64(seed: int = 0):
    return small_convnet(seed, input_shape=(1, 12, 12)).astype(np.float64)


def no_workers_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name.startswith("cnnbook-")]


@pytest.mark.parametrize(("processes", "n"), [(2, 16), (3, 7), (2, 1), (4, 9)])
def test_the_parts_add_up_to_the_whole_batch(processes, n):
    X, y = digits(n)
    serial = model64()
    loss, scores = serial.loss_and_gradients(X, y)
    model = model64()
    with BatchWorkers(model, processes, n, X.shape[1:], X.dtype) as workers:
        for _ in range(2):  # the second call reuses the workers
            ours_loss, ours_scores = workers.loss_and_gradients(X, y)
            assert ours_loss == pytest.approx(loss, rel=1e-12)
            np.testing.assert_allclose(ours_scores, scores, rtol=1e-12, atol=1e-12)
            for ours, theirs in zip(model.layers, serial.layers):
                assert ours.grads.keys() == theirs.grads.keys()
                for key in theirs.grads:
                    np.testing.assert_allclose(ours.grads[key], theirs.grads[key], rtol=1e-10, atol=1e-12)
    assert no_workers_left()


class FlattenThatKnowsItsProcess(Flatten):
    """A Flatten that knows whether it runs in the process that made it (``at_home``) or in a worker."""

    def __init__(self):
        super().__init__()
        self.home = os.getpid()

    @property
    def at_home(self) -> bool:
        return os.getpid() == self.home


class FlattenThatNotesTheBlasThreads(FlattenThatKnowsItsProcess):
    """Writes, in every forward, the BLAS thread count of the process it runs in: ``seen[0]`` in a
    worker, ``seen[1]`` in the process that made the layer."""

    seen = np.frombuffer(mmap.mmap(-1, 16), dtype=np.int64)  # two numbers shared with the forked workers

    def forward(self, X, training=True):
        self.seen[int(self.at_home)] = batch_threads.blas_threads()
        return super().forward(X, training)


@pytest.mark.skipif(batch_threads.blas_threads() is None, reason="NumPy's BLAS is not OpenBLAS")
def test_every_part_runs_on_one_blas_thread_and_the_parent_gets_its_count_back():
    """Two BLAS threads in each of two processes would put four threads on two cores (fit with
    processes=2 once ran 3x slower than one process when started with two BLAS threads)."""
    X, y = digits(8)
    model = model64()
    model.layers[6] = FlattenThatNotesTheBlasThreads()
    saved = batch_threads.blas_threads()
    batch_threads.set_blas_threads(2)
    try:
        with BatchWorkers(model, 2, 8, X.shape[1:], X.dtype) as workers:
            FlattenThatNotesTheBlasThreads.seen[:] = 0
            workers.loss_and_gradients(X, y)
            assert list(FlattenThatNotesTheBlasThreads.seen) == [1, 1]  # the worker's part, this process's
            assert batch_threads.blas_threads() == 2  # this process has its own count back
    finally:
        batch_threads.set_blas_threads(saved)


@pytest.mark.parametrize(("processes", "n", "last"), [(2, 9, (4, 9)), (3, 9, (6, 9)), (3, 2, (1, 2))])
def test_this_process_computes_the_last_part_beside_processes_minus_one_workers(processes, n, last):
    X, y = digits(n)
    serial, model = model64(), model64()
    with BatchWorkers(model, processes, n, X.shape[1:], X.dtype) as workers:
        assert len(workers.workers) == processes - 1
        own_parts = []
        own_part = workers._own_part
        workers._own_part = lambda lo, hi: (own_parts.append((lo, hi)), own_part(lo, hi))[1]
        loss, _ = workers.loss_and_gradients(X, y)
    assert own_parts == [last]
    assert loss == pytest.approx(serial.loss_and_gradients(X, y)[0], rel=1e-12)


def test_an_error_in_this_processs_part_comes_after_the_workers_answered_and_the_next_step_works():
    X, y = digits(8)
    bad = X.copy()
    bad[4:] = 1e308  # the last part, this process's: the forward overflows
    serial, model = model64(), model64()
    with BatchWorkers(model, 2, 8, X.shape[1:], X.dtype) as workers:
        with pytest.raises(FloatingPointError):
            workers.loss_and_gradients(bad, y)
        assert workers.owed == [] and not workers.pipes[0].poll(0.5)  # its reply was read: in step
        loss, scores = workers.loss_and_gradients(X, y)
    serial_loss, serial_scores = serial.loss_and_gradients(X, y)
    assert loss == pytest.approx(serial_loss, rel=1e-12)
    np.testing.assert_allclose(scores, serial_scores, rtol=1e-12, atol=1e-12)


class FlattenThatIsInterruptedOnce(FlattenThatKnowsItsProcess):
    """In the process that made it, Ctrl-C once; in a worker, a slow forward (0.3 s)."""

    def __init__(self):
        super().__init__()
        self.interrupt = True

    def forward(self, X, training=True):
        if not self.at_home:
            time.sleep(0.3)
        elif self.interrupt:
            self.interrupt = False
            raise KeyboardInterrupt
        return super().forward(X, training)


def test_a_step_interrupted_in_this_processs_part_leaves_the_next_step_right():
    """The worker still computes the interrupted step; the next step waits for it before it
    overwrites the shared batch or reads the shared gradients."""
    X, y = digits(8)
    X2, y2 = digits(8, seed=1)
    serial, model = model64(), model64()
    serial.layers[6] = FlattenThatIsInterruptedOnce()
    serial.layers[6].interrupt = False
    model.layers[6] = FlattenThatIsInterruptedOnce()
    with BatchWorkers(model, 2, 8, X.shape[1:], X.dtype) as workers:
        with pytest.raises(KeyboardInterrupt):
            workers.loss_and_gradients(X, y)
        assert workers.owed == [0]
        loss, scores = workers.loss_and_gradients(X2, y2)
        assert workers.owed == []
    serial_loss, serial_scores = serial.loss_and_gradients(X2, y2)
    assert loss == pytest.approx(serial_loss, rel=1e-12)
    np.testing.assert_allclose(scores, serial_scores, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(model.layers, serial.layers):
        for key in theirs.grads:
            np.testing.assert_allclose(ours.grads[key], theirs.grads[key], rtol=1e-10, atol=1e-12)


def test_workers_follow_the_parents_weights_and_frozen_layers():
    X, y = digits(10)
    serial, model = model64(), model64()
    with BatchWorkers(model, 2, 10, X.shape[1:], X.dtype) as workers:
        for m in (serial, model):  # changed after the workers were forked
            m.layers[0].params["F"] *= 0.5
            m.freeze("conv1")
        serial.loss_and_gradients(X, y)
        workers.loss_and_gradients(X, y)
    assert model.layers[0].grads == {} == serial.layers[0].grads  # frozen: no gradient, as in one process
    for ours, theirs in zip(model.layers, serial.layers):
        for key in theirs.grads:
            np.testing.assert_allclose(ours.grads[key], theirs.grads[key], rtol=1e-10, atol=1e-12)


def residual_model(seed: int = 3) -> Sequential:
    """A Residual block, whose params are its branch's own arrays (the workers must update those)."""
    rng = np.random.default_rng(seed)
    layers = [Conv2D(1, 4, 3, padding=1, rng=rng, dtype=np.float64), ReLU(), MaxPool2D(2)]
    layers += [Residual([Conv2D(4, 4, 3, padding=1, rng=rng, dtype=np.float64), ReLU()])]
    layers += [Flatten(), Dense(4 * 6 * 6, 10, rng=rng, dtype=np.float64)]
    return Sequential(layers, input_shape=(1, 12, 12))


# 100 examples end each epoch on a batch of 4, which the two processes share as 2 + 2; with the
# settings of lesson 09's recipe that the plain runs leave at their defaults (shifts, weight decay,
# a cosine schedule; they act in this process, on the combined gradient)
RECIPE = {"n": 100, "shift": 2, "weight_decay": 5e-4, "schedule": "cosine"}
assert RECIPE["n"] % 32 == 4  # the fit below uses batches of 32


@pytest.mark.parametrize(("build", "settings"), [(model64, {}), (residual_model, {}), (model64, RECIPE)])
def test_fit_with_two_processes_follows_fit_with_one(build, settings):
    settings = dict(settings)
    X, y = digits(settings.pop("n", 96))
    runs = []
    for processes in (1, 2):
        model = build(3)
        history = fit(
            model, X, y, epochs=2, batch_size=32, lr=0.05, progress=False, processes=processes, **settings
        )
        runs.append((history, model))
    (h1, m1), (h2, m2) = runs
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-9)
    assert h2.train_accuracy == h1.train_accuracy
    for a, b in zip(m1.layers, m2.layers):
        for key in a.params:
            np.testing.assert_allclose(b.params[key], a.params[key], rtol=1e-9, atol=1e-12)
    assert no_workers_left()


def test_a_diverging_worker_stops_fit_with_the_step_named_and_the_model_unchanged():
    X, y = digits(64)
    X[5] = 1e308  # the first conv layer overflows on it, in whichever process gets it
    model = model64()
    before = {k: v.copy() for k, v in model.parameters().items()}
    with pytest.raises(FloatingPointError, match="training diverged at epoch 1, batch 1"):
        fit(model, X, y, epochs=1, batch_size=64, lr=0.1, progress=False, processes=2, shift=0, seed=None)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[key])
    assert no_workers_left()


@pytest.mark.parametrize(("processes", "error"), [(0, ValueError), (True, TypeError), (1.5, TypeError)])
def test_fit_refuses_a_bad_process_count(processes, error):
    X, y = digits(8)
    with pytest.raises(error, match="processes"):
        fit(model64(), X, y, epochs=1, lr=0.1, progress=False, processes=processes)


def test_changing_the_dtype_during_fit_is_refused_not_ignored():
    X, y = digits(32)

    def to_float32(epoch, history):
        model.astype(np.float32)

    model = model64()
    with pytest.raises(TypeError, match="change the model's dtype before or after fit"):
        fit(model, X, y, epochs=2, batch_size=16, lr=0.05, progress=False, processes=2, callback=to_float32)
    assert no_workers_left()


WORKERS_THEN_SLEEP = """
import sys, time
import numpy as np
from cnnbook.models import small_convnet
from cnnbook.parallel import BatchWorkers
model = small_convnet(0, input_shape=(1, 12, 12))
workers = BatchWorkers(model, 3, 8, (1, 12, 12), np.float32)  # two workers, and this process
print(" ".join(str(w.pid) for w in workers.workers), flush=True)
time.sleep(60)
"""


def test_workers_end_when_the_parent_is_killed():
    """No close(), no atexit: the workers see their pipes close and return (no orphans)."""
    parent = subprocess.Popen([sys.executable, "-c", WORKERS_THEN_SLEEP], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    alive = pids
    try:
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and not zombie(pid)]
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        for pid in alive:  # leave no orphan behind, even when the test fails
            os.kill(pid, signal.SIGKILL)


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return False
