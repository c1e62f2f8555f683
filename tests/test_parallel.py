"""Data parallelism (cnnbook.parallel, fit(processes=P)): the whole batch's gradients, split over processes.

The oracle is the model's own single-process ``loss_and_gradients`` on the whole batch (itself held
to finite differences and PyTorch elsewhere): in float64 the weighted sum of the parts' gradients
must equal it to rounding, for any split -- uneven parts, more processes than examples, frozen
layers -- and a training run with ``processes=2`` must follow the single-process run.
"""

import multiprocessing

import numpy as np
import pytest

from cnnbook.models import small_convnet
from cnnbook.parallel import BatchWorkers
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


def test_fit_with_two_processes_follows_fit_with_one():
    X, y = digits(96)
    runs = []
    for processes in (1, 2):
        model = model64(3)
        history = fit(model, X, y, epochs=2, batch_size=32, lr=0.05, progress=False, processes=processes)
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
