"""Training: mini-batch SGD with momentum and L2 weight decay, as in the lectures.

For each mini-batch ``B`` of ``n`` examples the network's parameters ``theta`` follow the gradient of

    J(B, theta) = (1/n) sum_{(x, y) in B} l_cross(x, y; theta)  +  (lambda/2) sum_W ||W||^2

(``lambda`` = ``weight_decay``; the penalty covers the filters ``F`` and weight matrices ``W``, not
the biases).  The update with momentum ``mu`` (0.9 in the lectures) and learning rate ``eta_t`` is

    v <- mu v + grad J,    theta <- theta - eta_t v

which, for a constant ``eta``, is the lectures' ``v <- mu v + eta grad J, theta <- theta - v`` (the
two ``v`` differ by the factor ``eta``).  It is also PyTorch's ``SGD(momentum, weight_decay)`` rule,
so the benchmark can train the same network both ways.

Options beyond plain SGD: ``schedule="cosine"`` lowers ``eta_t`` from ``lr`` to 0 along half a
cosine over all steps, and ``shift=s`` moves every training image by a random whole number of pixels
in ``[-s, s]`` along each axis (zero fill) each time it is used -- a cheap data augmentation for
digits.  Everything random (batch order, shifts) comes from ``np.random.default_rng(seed)``, so a
run is reproducible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import functional as fn
from ._checks import as_flag, as_int, as_labels, as_real, as_rng, positive_int
from .models import Sequential

__all__ = [
    "SGD",
    "History",
    "Schedule",
    "accuracy",
    "batches",
    "check_sgd_options",
    "confusion_matrix",
    "cosine_factor",
    "evaluate",
    "fit",
    "learning_rates",
    "lr_schedule",
    "random_shift",
]

Schedule = str | Callable[[float], float]


@dataclass
class History:
    """Per-epoch record of :func:`fit` (lists, one entry per epoch).

    ``loss``: mean training cross-entropy over the epoch's batches (without the L2 term);
    ``train_accuracy``: fraction of the epoch's (augmented) training batches classified correctly,
    counted on the fly with the weights of the moment; ``val_loss``/``val_accuracy``: on the
    validation set after the epoch (empty without one); ``lr``: learning rate at the epoch's last
    step; ``seconds``/``cpu_seconds``: wall-clock and process CPU time of the epoch (CPU time is
    about threads x wall when the machine is idle; much less wall means other work was competing;
    with ``fit(..., processes=P > 1)`` it counts this process's part of every step, not its workers').
    """

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    @property
    def train_seconds(self) -> float:
        """Total wall-clock seconds of training (validation passes included)."""
        return float(sum(self.seconds))

    def as_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.__dict__.items()}


class SGD:
    """Momentum SGD with L2 weight decay on the parameters a layer lists in ``decay``.

    ``step(lr)`` applies ``v <- mu v + (g + lambda W)``, ``theta <- theta - lr v`` to every
    trainable parameter of ``model`` (its layer's ``trainable`` flag is True, checked at each step)
    using the gradients of its last backward pass.  Velocities start at 0.  A frozen parameter is
    left alone -- no step, no weight decay -- and so is its velocity, which resumes where it was if
    the layer is unfrozen (``torch.optim.SGD`` treats a parameter without a gradient the same way).

    A step applies to every parameter or to none: the new velocities and parameters are computed
    aside first (about 9,000 numbers for the lesson's network: a negligible copy), and written only
    if all are finite.  Otherwise :class:`FloatingPointError` names the first offending parameter
    and the model and the velocities are left exactly as they were.
    """

    def __init__(self, model: Sequential, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"model must be a cnnbook.models.Sequential, got {type(model).__name__}")
        momentum = as_real(momentum, "momentum", 0.0, 1.0, high_open=True)
        weight_decay = as_real(weight_decay, "weight_decay", 0.0)
        self.model, self.momentum, self.weight_decay = model, momentum, weight_decay
        self.velocity = {name: np.zeros_like(p) for name, p in model.parameters().items()}

    def step(self, lr: float) -> None:
        """One update with learning rate ``lr >= 0`` from the gradients of the model's last backward pass.

        :class:`RuntimeError` (nothing changed) when a parameter has no gradient yet: run a backward
        pass first, e.g. ``model.loss_and_gradients(X, y)``.
        """
        lr = as_real(lr, "lr", 0.0)
        trained = [
            (name, layer, key) for name, layer, key in self.model.named_parameters() if layer.trainable
        ]
        missing = [name for name, layer, key in trained if key not in layer.grads]
        if missing:
            raise RuntimeError(
                f"SGD.step needs gradients, but {missing[0]} has none: run a backward pass "
                "(e.g. model.loss_and_gradients(X, y)) before each step"
            )
        proposed = []
        for name, layer, key in trained:
            theta, g = layer.params[key], layer.grads[key]
            v = self.velocity[name] * self.momentum  # the same operations as in place, on copies
            v += g
            if self.weight_decay and key in layer.decay:
                v += self.weight_decay * theta
            new = theta - lr * v
            if not (np.isfinite(v).all() and np.isfinite(new).all()):
                raise FloatingPointError(f"the update of {name} is not finite (nothing was changed)")
            proposed.append((self.velocity[name], v, theta, new))
        for velocity, v, theta, new in proposed:
            velocity[...] = v
            theta[...] = new


def cosine_factor(progress: float) -> float:
    """``(1 + cos(pi t)) / 2`` for ``t`` in ``[0, 1]``: from 1 down to 0 along half a cosine."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def lr_schedule(schedule: Schedule) -> Callable[[float], float]:
    """The factor of the learning rate as a function of training progress ``t`` in ``[0, 1]``.

    ``"constant"``: 1; ``"cosine"``: :func:`cosine_factor`; a function of ``t`` is returned as is.
    Step ``i`` of ``T`` uses ``lr * factor(i / T)``: :func:`learning_rates`, which :func:`fit` and
    :class:`cnnbook.torch_bridge.TorchTrainer` both use.
    """
    if callable(schedule):
        return schedule
    if not isinstance(schedule, str):
        raise TypeError(f"schedule must be 'constant', 'cosine' or a function of progress, got {schedule!r}")
    if schedule == "constant":
        return lambda t: 1.0
    if schedule == "cosine":
        return cosine_factor
    raise ValueError(
        f"schedule must be 'constant', 'cosine' or a function of progress in [0, 1], got {schedule!r}"
    )


def random_shift(X: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image of ``X (N, C, H, W)`` moved by its own random ``(dy, dx)`` in ``[-s, s]^2``, zero fill.

    ``out[n, :, i, j] = X[n, :, i - dy_n, j - dx_n]`` where that pixel exists, else 0.
    ``max_shift`` must be an int ``>= 0`` (:class:`TypeError` for floats and bools, which are
    not truncated); ``rng`` a :class:`numpy.random.Generator`.
    """
    s = as_int(max_shift, "max_shift")
    if s < 0:
        raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
    _check_generator(rng)
    if s == 0:
        return X
    N = X.shape[0]
    padded = np.pad(X, ((0, 0), (0, 0), (s, s), (s, s)))
    # windows[n, c, a, b] is the H x W crop starting at (a, b) of the padded image: shift (s-a, s-b).
    windows = sliding_window_view(padded, X.shape[2:], axis=(2, 3))
    a, b = rng.integers(0, 2 * s + 1, size=(2, N))
    return windows[np.arange(N), :, a, b]


def batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator, shift: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of mini-batches ``(X_batch, y_batch)``: a fresh random order, ``batch_size`` at a time.

    The order is ``rng.permutation(len(X))``; the last batch may be smaller.  With ``shift = s > 0``
    every image is moved by :func:`random_shift` as its batch is drawn (from the same ``rng``, after
    the permutation).  :func:`fit` and :class:`cnnbook.torch_bridge.TorchTrainer` both train on
    these batches, so one generator ``np.random.default_rng(seed)`` gives both the same data.

    Checked before anything is drawn: ``batch_size`` an int ``>= 1``, ``shift`` an int ``>= 0``
    (:class:`TypeError` for floats and bools), ``rng`` a :class:`numpy.random.Generator`
    (:class:`TypeError` otherwise: a seed would restart the same order every epoch), and ``X``
    and ``y`` of equal length (:class:`ValueError`).
    """
    batch_size = positive_int(batch_size, "batch_size")
    shift = as_int(shift, "shift")
    if shift < 0:
        raise ValueError(f"shift must be an int >= 0, got {shift}")
    _check_generator(rng)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)} labels")
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        yield (random_shift(X[idx], shift, rng) if shift else X[idx]), y[idx]


def _check_generator(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")


def evaluate(model: Sequential, X: np.ndarray, y: np.ndarray, batch_size: int = 500) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``(X, y)`` in inference mode.

    Labels must lie in ``[0, classes)`` for the model's ``classes`` scores (:class:`ValueError`).
    """
    batch_size = positive_int(batch_size, "batch_size")
    X, y = _check_data(model, X, y)
    scores = model.scores(X, batch_size)
    loss = fn.cross_entropy(scores, y, from_logits=True)  # not model.loss: leave its training state alone
    return loss, float(np.mean(scores.argmax(axis=1) == y))


def accuracy(model: Sequential, X: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Fraction of examples whose predicted class (``argmax`` of the scores) equals the label.

    Labels outside ``[0, classes)`` are refused (:class:`ValueError`), as :func:`evaluate` does.
    """
    batch_size = positive_int(batch_size, "batch_size")
    X, y = _check_data(model, X, y)
    return float(np.mean(model.predict(X, batch_size) == y))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """``M[i, j]`` = number of examples of true class ``i`` predicted as ``j``; int64 ``(classes, classes)``.

    The diagonal counts the correct answers; ``M.trace() / M.sum()`` is the accuracy.
    ``classes`` must be an int ``>= 1``; the labels 1-D integer arrays of equal length with entries
    in ``[0, classes)`` (:class:`TypeError` for float or bool labels).
    """
    classes = positive_int(classes, "classes")
    y_true, y_pred = as_labels(y_true, classes, "y_true"), as_labels(y_pred, classes, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be 1-D of equal length")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)  # no uint8 overflow below
    return np.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(classes, classes)


def _check_data(
    model: Sequential, X: np.ndarray, y: np.ndarray, name: str = "X", *, finite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(X in the model's dtype, y)`` after checking shapes, dtypes and that ``y`` is in range.

    ``finite``: refuse NaN/inf in ``X`` too (training; inference lets them propagate).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a cnnbook.models.Sequential, got {type(model).__name__}")
    X = model.check_input(X)
    labels = "y" if name == "X" else name.replace("X", "y")
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        raise ValueError(f"labels for {name} ({labels}) must be a 1-D integer array, got {y.dtype} {y.shape}")
    if X.ndim < 2:
        raise ValueError(f"{name} must be a batch (N, ...) of examples, got shape {X.shape}")
    if len(X) != len(y):
        raise ValueError(
            f"{name} has {len(X)} examples but its labels have {len(y)} ({labels} has shape {y.shape})"
        )
    if len(X) == 0:
        raise ValueError(f"{name} is empty")
    out = model.shapes(X.shape[1:])[-1]
    if len(out) != 1:
        raise ValueError(f"the model's output must be (classes,) scores per example, got {out}")
    y = as_labels(y, out[0], labels)
    X = X.astype(model.dtype, copy=False)
    if finite and not np.isfinite(X).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return X, y


def check_sgd_options(
    epochs: object,
    batch_size: object,
    momentum: object,
    weight_decay: object,
    shift: object,
    seed: object,
    *,
    model: object = None,
) -> tuple[int, int, float, float, int, int | np.random.Generator | None]:
    """The training options :func:`fit` and :class:`cnnbook.torch_bridge.TorchTrainer` share, checked.

    Returns ``(epochs, batch_size, momentum, weight_decay, shift, seed)``: ``epochs, batch_size >= 1``
    ints, ``0 <= momentum < 1``, ``weight_decay >= 0``, ``shift >= 0`` an int, ``seed`` an int ``>= 0``,
    a :class:`numpy.random.Generator` or ``None``.  Bools, wrong types and non-finite values are refused
    naming the argument.  ``model``, if given, must be a :class:`~cnnbook.models.Sequential` with at
    least one trainable parameter (:class:`ValueError` when every layer is frozen: nothing would train).
    """
    if model is not None:
        if not isinstance(model, Sequential):
            raise TypeError(f"model must be a cnnbook.models.Sequential, got {type(model).__name__}")
        if not model.trainable_parameters():
            raise ValueError(
                "model has no trainable parameters: every layer with parameters is frozen "
                "(model.unfreeze(name) makes a layer trainable again)"
            )
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    momentum = as_real(momentum, "momentum", 0.0, 1.0, high_open=True)
    weight_decay = as_real(weight_decay, "weight_decay", 0.0)
    shift = as_int(shift, "shift")
    if shift < 0:
        raise ValueError(f"shift must be an int >= 0, got {shift}")
    return epochs, batch_size, momentum, weight_decay, shift, as_rng(seed, "seed")


def fit(
    model: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int | np.random.Generator | None = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = True,
    schedule: Schedule = "constant",
    shift: int = 0,
    callback: Callable[[int, History], None] | None = None,
    processes: int = 1,
) -> History:
    """Train ``model`` in place on ``(X, y)`` with mini-batch SGD + momentum + L2; return a :class:`History`.

    ``X``: ``(N,) + model.input_shape`` (cast to the model's dtype), ``y``: int labels ``(N,)``.
    Each epoch visits the examples once in a fresh random order, ``batch_size`` at a time (the last
    batch may be smaller).  ``validation=(X_val, y_val)`` is evaluated after every epoch.
    ``seed``: an int ``>= 0``, a :class:`numpy.random.Generator` (drawn from, so it advances) or None
    (fresh entropy: a different run every time); it drives the batch order and the shifts.
    ``progress`` (True or False) shows a tqdm bar over all batches (on stderr / a notebook widget).
    ``callback(epoch, history)``, if given, runs after each epoch (outside the timed part).
    ``processes`` (an int ``>= 1``): with more than one, each batch is shared out among that many
    processes, this one and ``processes - 1`` forked workers (:class:`cnnbook.parallel.BatchWorkers`:
    data parallelism on several cores, Linux only; every part runs NumPy's OpenBLAS on one thread).
    The result is the same training up to the order of float additions; a worker's error other than
    :class:`FloatingPointError` comes as :class:`RuntimeError` naming its type, and changing the
    model's dtype during such a run (in a callback) is refused with :class:`TypeError`.

    Everything is checked before the first step, so a refused call leaves the model as it was:
    :class:`TypeError`/:class:`ValueError` naming the argument for wrongly shaped or typed data,
    labels outside ``[0, classes)`` (the model's output size; ``validation`` too), NaN/inf in the
    images, and hyper-parameters that are bools, of the wrong type, non-finite or out of range
    (``lr > 0``, ``0 <= momentum < 1``, ``weight_decay >= 0``, ``shift >= 0``, ``epochs`` and
    ``batch_size >= 1``, ``seed`` an int ``>= 0``, a Generator or None, ``progress`` a bool), and a
    model whose every layer is frozen.

    Frozen layers (``layer.trainable`` False, :meth:`cnnbook.models.Sequential.freeze`) keep their
    parameters exactly; the backward pass stops before the first trainable layer, so training only
    a network's last layer costs little more than its forward pass.
    A ``schedule`` function is evaluated at every step's progress ``i / T`` up front
    (:func:`learning_rates`); each factor must be a finite real number ``>= 0``.

    A step applies to every parameter or to none (:meth:`SGD.step`): :class:`FloatingPointError`
    as soon as the loss or an update is not finite or a computation overflows (``np.errstate``
    raises inside each step), naming the epoch and batch -- usually a learning rate that is too
    large -- with the model and the optimizer's velocities as they were before that step.
    """
    X, y = _check_data(model, X, y, finite=True)
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise TypeError(
                f"validation must be a pair (X_val, y_val) or None, got {type(validation).__name__}"
            )
        X_val, y_val = _check_data(model, *validation, name="validation X", finite=True)
    lr = as_real(lr, "lr", 0.0, low_open=True)
    epochs, batch_size, momentum, weight_decay, shift, source = check_sgd_options(
        epochs, batch_size, momentum, weight_decay, shift, seed, model=model
    )
    progress = as_flag(progress, "progress")
    processes = positive_int(processes, "processes")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function (epoch, history) or None, got {callback!r}")
    n_batches = math.ceil(len(X) / batch_size)
    total = epochs * n_batches
    rates = learning_rates(lr, schedule, total)
    rng = np.random.default_rng(source)
    optimizer = SGD(model, momentum, weight_decay)
    history = History()
    workers = None
    if processes > 1:
        from .parallel import BatchWorkers

        workers = BatchWorkers(model, processes, min(batch_size, len(X)), X.shape[1:], X.dtype)
    gradients = model.loss_and_gradients if workers is None else workers.loss_and_gradients
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="batch", desc="training", leave=True)
    step = 0
    try:
        for epoch in range(1, epochs + 1):
            wall, cpu = time.perf_counter(), time.process_time()
            loss_sum, correct = 0.0, 0
            for b, (Xb, yb) in enumerate(batches(X, y, batch_size, rng, shift), start=1):
                rate = rates[step]
                where = f"at epoch {epoch}, batch {b} of {n_batches} (lr={rate:.3g})"
                try:
                    with np.errstate(over="raise", invalid="raise", divide="raise"):
                        loss, scores = gradients(Xb, yb)
                        if not math.isfinite(loss):
                            raise FloatingPointError(f"the loss became {loss}")
                        optimizer.step(rate)
                except FloatingPointError as err:
                    raise FloatingPointError(
                        f"training diverged {where}: {err}; try a smaller learning rate "
                        "(or check the data for NaN/inf)"
                    ) from None
                step += 1
                loss_sum += loss * len(yb)
                correct += int(np.sum(scores.argmax(axis=1) == yb))
                if bar is not None:
                    bar.update(1)
            history.loss.append(loss_sum / len(X))
            history.train_accuracy.append(correct / len(X))
            history.lr.append(rate)
            if validation is not None:
                val_loss, val_acc = evaluate(model, X_val, y_val)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
            history.seconds.append(time.perf_counter() - wall)
            history.cpu_seconds.append(time.process_time() - cpu)
            if bar is not None:
                shown = {"epoch": epoch, "loss": f"{history.loss[-1]:.3f}", "acc": f"{correct / len(X):.3f}"}
                if validation is not None:
                    shown["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
                bar.set_postfix(shown)
            if callback is not None:
                callback(epoch, history)
    finally:
        if bar is not None:
            bar.close()
        if workers is not None:
            workers.close()
    return history


def learning_rates(lr: float, schedule: Schedule, total_steps: int) -> list[float]:
    """The rate ``lr * factor(i / total_steps)`` of every step ``i`` (``factor``: :func:`lr_schedule`).

    The one place the per-step rates are computed: :func:`fit` and
    :class:`cnnbook.torch_bridge.TorchTrainer` both use it.  ``lr`` must be finite and ``> 0``,
    ``total_steps`` an int ``>= 1``; every factor must be a finite real number ``>= 0``
    (:class:`TypeError` / :class:`ValueError` naming the progress ``i/total_steps`` otherwise).
    """
    lr = as_real(lr, "lr", 0.0, low_open=True)
    total = positive_int(total_steps, "total_steps")
    factor = lr_schedule(schedule)
    rates = []
    for i in range(total):
        value = factor(i / total)
        if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            raise TypeError(
                f"schedule must return a real number, got {value!r} of type {type(value).__name__} "
                f"at progress {i}/{total}"
            )
        rate = lr * value
        if not (math.isfinite(value) and value >= 0 and math.isfinite(rate)):
            raise ValueError(
                f"schedule must return finite factors >= 0 (lr * factor finite), got {value!r} "
                f"at progress {i}/{total}"
            )
        rates.append(rate)
    return rates
