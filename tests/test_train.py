"""fit on a tiny synthetic task, the SGD rule, augmentation, schedules, determinism and errors."""

import numpy as np
import pytest

from cnnbook.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnbook.models import Sequential
from cnnbook.train import (
    SGD,
    History,
    accuracy,
    batches,
    cosine_factor,
    evaluate,
    fit,
    lr_schedule,
    random_shift,
)


def bars(n=96, seed=0):
    """8x8 images holding one vertical (class 0), horizontal (1) or diagonal (2) bar, plus noise."""
    rng = np.random.default_rng(seed)
    X = 0.1 * rng.random((n, 1, 8, 8)).astype(np.float32)
    y = np.arange(n) % 3
    for i in range(n):
        k = rng.integers(1, 7)
        if y[i] == 0:
            X[i, 0, :, k] = 1
        elif y[i] == 1:
            X[i, 0, k, :] = 1
        else:
            X[i, 0][np.eye(8, k=int(k) - 3, dtype=bool)] = 1
    return X, y


def bar_net(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(
        [Conv2D(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Dense(64, 3, rng=rng)],
        input_shape=(1, 8, 8),
    )


def test_fit_learns_a_tiny_task():
    X, y = bars()
    Xv, yv = bars(30, seed=1)
    model = bar_net()
    history = fit(
        model, X, y, epochs=15, batch_size=16, lr=0.1, weight_decay=1e-4, validation=(Xv, yv), progress=False
    )
    assert isinstance(history, History) and history.epochs == 15
    assert len(history.val_accuracy) == len(history.seconds) == len(history.lr) == 15
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert history.train_accuracy[-1] == 1.0
    assert accuracy(model, Xv, yv) == history.val_accuracy[-1] == 1.0
    loss, acc = evaluate(model, Xv, yv)
    assert loss == pytest.approx(history.val_loss[-1]) and acc == 1.0
    assert history.train_seconds == pytest.approx(sum(history.seconds))
    assert set(history.as_dict()) >= {"loss", "train_accuracy", "val_accuracy", "cpu_seconds"}


def test_fit_is_deterministic_for_a_seed():
    X, y = bars()
    runs = []
    for seed in (0, 0, 1):
        model = bar_net()
        h = fit(
            model,
            X,
            y,
            epochs=2,
            batch_size=10,
            lr=0.05,
            seed=seed,
            shift=1,
            schedule="cosine",
            progress=False,
        )
        runs.append((h.loss, model.parameters()["fc1.W"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_one_sgd_step_by_hand():
    X, y = bars(8)
    model = bar_net()
    before = {k: v.copy() for k, v in model.parameters().items()}
    model.loss_and_gradients(X, y)
    grads = {k: v.copy() for k, v in model.gradients().items()}
    opt = SGD(model, momentum=0.9, weight_decay=0.01)
    opt.step(0.5)
    for name, value in model.parameters().items():
        decay = 0.01 * before[name] if name.endswith((".F", ".W")) else 0.0  # biases: no decay
        np.testing.assert_allclose(value, before[name] - 0.5 * (grads[name] + decay), rtol=1e-6, atol=1e-7)
    # second step: v <- 0.9 v + g (same gradients kept in the layers)
    v1 = {k: (before[k] - model.parameters()[k]) / 0.5 for k in before}
    after1 = {k: v.copy() for k, v in model.parameters().items()}
    opt.step(0.5)
    for name, value in model.parameters().items():
        decay = 0.01 * after1[name] if name.endswith((".F", ".W")) else 0.0
        expected = after1[name] - 0.5 * (0.9 * v1[name] + grads[name] + decay)
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="momentum"):
        SGD(model, momentum=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        SGD(model, weight_decay=-1)


def test_cosine_schedule_and_recorded_lr():
    assert (
        cosine_factor(0) == 1
        and cosine_factor(0.5) == pytest.approx(0.5)
        and cosine_factor(1) == pytest.approx(0)
    )
    X, y = bars(40)
    h = fit(bar_net(), X, y, epochs=4, batch_size=10, lr=0.2, schedule="cosine", progress=False)
    # lr at the last step of epoch e: step 4e - 1 of 16
    np.testing.assert_allclose(h.lr, [0.2 * cosine_factor((4 * e - 1) / 16) for e in (1, 2, 3, 4)])
    h = fit(bar_net(), X, y, epochs=2, batch_size=10, lr=0.2, schedule=lambda t: 1 - t, progress=False)
    np.testing.assert_allclose(h.lr, [0.2 * (1 - 3 / 8), 0.2 * (1 - 7 / 8)])
    with pytest.raises(ValueError, match="schedule"):
        fit(bar_net(), X, y, epochs=1, lr=0.1, schedule="step", progress=False)


def test_batches_cover_the_data_once_per_epoch():
    X, y = bars(23)
    rng = np.random.default_rng(3)
    got = list(batches(X, y, 5, rng))
    assert [len(yb) for _, yb in got] == [5, 5, 5, 5, 3]
    order = np.random.default_rng(3).permutation(23)
    np.testing.assert_array_equal(np.concatenate([Xb for Xb, _ in got]), X[order])
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), y[order])
    # with shifts: the permutation first, then one random_shift per batch, from the same generator
    shifted = list(batches(X, y, 10, np.random.default_rng(4), shift=1))
    replay = np.random.default_rng(4)
    order = replay.permutation(23)
    for k, (Xb, yb) in enumerate(shifted):
        idx = order[10 * k : 10 * k + 10]
        np.testing.assert_array_equal(Xb, random_shift(X[idx], 1, replay))
        np.testing.assert_array_equal(yb, y[idx])


def test_fit_trains_on_the_batches_generator():
    """fit draws its batches from train.batches (the generator TorchTrainer shares), epoch after epoch."""
    X, y = bars(30)
    model = bar_net()
    seen = []
    step = model.loss_and_gradients

    def spy(Xb, yb):
        seen.append((Xb.copy(), yb.copy()))
        return step(Xb, yb)

    model.loss_and_gradients = spy
    fit(model, X, y, epochs=2, batch_size=8, lr=0.05, seed=11, shift=2, progress=False)
    rng = np.random.default_rng(11)
    expected = [b for _ in range(2) for b in batches(X, y, 8, rng, shift=2)]
    assert len(seen) == len(expected) == 8
    for (Xb, yb), (Xe, ye) in zip(seen, expected):
        np.testing.assert_array_equal(Xb, Xe)
        np.testing.assert_array_equal(yb, ye)


def test_lr_schedule():
    assert lr_schedule("constant")(0.7) == 1.0
    assert lr_schedule("cosine") is cosine_factor

    def half(t):
        return 0.5

    assert lr_schedule(half) is half
    with pytest.raises(ValueError, match="schedule must be 'constant', 'cosine' or a function"):
        lr_schedule("step")


def test_random_shift():
    rng = np.random.default_rng(0)
    X = rng.random((50, 2, 6, 7)).astype(np.float32)
    out = random_shift(X, 2, np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == X.dtype
    a, b = np.random.default_rng(1).integers(0, 5, size=(2, 50))
    for n in range(50):
        dy, dx = 2 - a[n], 2 - b[n]  # content moves down by dy, right by dx
        padded = np.pad(X[n], ((0, 0), (2, 2), (2, 2)))
        np.testing.assert_array_equal(out[n], padded[:, 2 - dy : 2 - dy + 6, 2 - dx : 2 - dx + 7])
    assert random_shift(X, 0, rng) is X
    shifts = set(zip(a.tolist(), b.tolist()))
    assert len(shifts) > 15  # all 25 offsets are possible


def test_fit_errors():
    X, y = bars(20)
    model = bar_net()
    with pytest.raises(ValueError, match="20 examples but its labels have 19"):
        fit(model, X, y[:-1], epochs=1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\).*\(20, 8, 8\)"):
        fit(model, X[:, 0], y, epochs=1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="1-D integer"):
        fit(model, X, y.astype(float), epochs=1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="validation X has 20 examples but its labels have 3"):
        fit(model, X, y, epochs=1, lr=0.1, validation=(X, y[:3]), progress=False)
    for bad in [dict(epochs=0, lr=0.1), dict(epochs=1, lr=-1.0), dict(epochs=1, lr=0.1, batch_size=0)]:
        with pytest.raises(ValueError):
            fit(model, X, y, progress=False, **bad)


def test_fit_stops_on_a_non_finite_loss():
    X, y = bars(40)
    X[7] = np.nan  # one broken image: refused before the first step, naming X
    model = bar_net()
    before = {k: v.copy() for k, v in model.parameters().items()}
    with pytest.raises(ValueError, match="X holds NaN"):
        fit(model, X, y, epochs=3, batch_size=10, lr=0.1, progress=False)
    for k, v in before.items():
        np.testing.assert_array_equal(model.parameters()[k], v)
    # lr * weight_decay > 2: every step multiplies the weights by about -(lr * wd - 1) until overflow
    X, y = bars(40)
    with pytest.raises(
        FloatingPointError,
        match=r"diverged at epoch \d+, batch \d+ of 4.*(overflow|invalid|loss became).*smaller learning rate",
    ):
        fit(
            bar_net(),
            X,
            y,
            epochs=20,
            batch_size=10,
            lr=100.0,
            weight_decay=1.0,
            momentum=0.0,
            progress=False,
        )


def test_progress_bar_goes_to_stderr(capsys):
    X, y = bars(20)
    fit(bar_net(), X, y, epochs=2, batch_size=10, lr=0.1, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "4/4" in captured.err and "epoch=2" in captured.err


def test_confusion_matrix():
    from cnnbook.train import confusion_matrix

    M = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), classes=3)
    np.testing.assert_array_equal(M, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert M.trace() / M.sum() == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="must lie in"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), classes=3)
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), classes=3)


def test_fit_hyper_parameters_get_type_and_value_errors():
    from cnnbook.models import small_convnet
    from cnnbook.train import fit

    X = np.zeros((4, 1, 28, 28), np.float32)
    y = np.zeros(4, np.int64)
    with pytest.raises(TypeError, match=r"epochs must be an int, got 1\.5"):
        fit(small_convnet(), X, y, epochs=1.5, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        fit(small_convnet(), X, y, epochs=1, batch_size=0, lr=0.1, progress=False)
    with pytest.raises(ValueError, match=r"y must lie in \[0, 10\)"):
        fit(small_convnet(), X, y + 10, epochs=1, lr=0.1, progress=False)
    with pytest.raises(TypeError, match="lr must be a real number"):
        fit(small_convnet(), X, y, epochs=1, lr=True, progress=False)


def test_accuracy_refuses_out_of_range_labels_as_evaluate_does():
    X, y = bars(12)
    model = bar_net()
    for f in (accuracy, evaluate):
        with pytest.raises(ValueError, match=r"y must lie in \[0, 3\)"):
            f(model, X, y + 10)


def test_evaluate_leaves_the_training_state_of_the_loss_alone():
    from cnnbook.data import load_mnist_subset
    from cnnbook.models import small_convnet
    from cnnbook.train import evaluate

    (X, y), _ = load_mnist_subset()
    model = small_convnet()
    model.loss_and_gradients(X[:8], y[:8])
    before = model.loss.backward().copy()
    evaluate(model, X[8:40], y[8:40])
    np.testing.assert_array_equal(model.loss.backward(), before)


def test_learning_rates_is_fits_per_step_rate():
    from cnnbook.train import learning_rates

    rates = learning_rates(0.2, "cosine", 8)
    assert rates == [0.2 * cosine_factor(i / 8) for i in range(8)]  # the same float expression
    assert learning_rates(0.1, "constant", 3) == [0.1, 0.1, 0.1]
    X, y = bars(40)
    h = fit(bar_net(), X, y, epochs=2, batch_size=10, lr=0.2, schedule="cosine", progress=False)
    assert h.lr == [rates[3], rates[7]]  # each epoch records its last step's rate
    with pytest.raises(TypeError, match="schedule must return a real number"):
        learning_rates(0.1, lambda t: "1", 2)
