"""Lesson 09's graded exercises: the softmax-cross-entropy backward pass and one momentum-SGD step.

``softmax_cross_entropy_backward(s, y)`` returns ``dL/ds`` for

    L(s) = (1/N) sum_n ( log sum_j exp(s[n, j]) - s[n, y[n]] ),   i.e.  dL/ds = (P - T) / N,

with ``P`` the row-wise softmax of the scores ``s (N, classes)`` and ``T`` the one-hot rows of the
labels ``y (N,)``.

Oracle: central finite differences of ``L`` itself (written here with a stable log-sum-exp), one
score at a time -- the formula being taught is never used.  Step ``h = 1e-5``: the differences
agree with the exact gradient to about ``1e-10``, far inside the stated tolerance.

``sgd_momentum_step(theta, v, grad, lr, momentum, weight_decay)`` returns ``(theta_new, v_new)`` with

    v_new = momentum * v + grad + weight_decay * theta,    theta_new = theta - lr * v_new

(the update of :class:`cnnbook.train.SGD`, on new arrays).  Oracle: the same two lines written out
entry by entry; tolerance ``1e-12`` relative, since only the order of a few roundings may differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..functional import softmax_cross_entropy
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["SGD_MOMENTUM_STEP", "SOFTMAX_CROSS_ENTROPY_BACKWARD"]

# (N, classes, scale of the scores): N = 1 and N > 1 (a dropped 1/N shows up), 2 to 10 classes,
# scores from nearly equal to confidently separated.
_SETTINGS: tuple[tuple[int, int, float], ...] = (
    (1, 3, 1.0),
    (2, 2, 1.0),
    (3, 4, 2.0),
    (4, 3, 0.5),
    (5, 10, 3.0),
    (8, 5, 1.0),
    (6, 7, 5.0),
)


def _cases() -> list[Case]:
    cases = []
    for seed, (N, classes, scale) in enumerate(_SETTINGS):
        rng = np.random.default_rng(900 + seed)
        s = scale * rng.standard_normal((N, classes))
        y = rng.integers(0, classes, size=N)
        cases.append(Case(labelled(s=s, y=y), (s, y), size=sized((s,))))
    return cases


def _loss(s: np.ndarray, y: np.ndarray) -> float:
    top = s.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(s - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(log_sum - s[np.arange(s.shape[0]), y]))


def _oracle(case: Case) -> Any:
    s, y = case.args
    h = 1e-5
    grad = np.zeros_like(s)
    for index in np.ndindex(*s.shape):
        up, down = s.copy(), s.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (_loss(up, y) - _loss(down, y)) / (2 * h)
    return grad


def _softmax(s: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _wrong(case: Case, kind: str) -> np.ndarray:
    s, y = case.args
    N = s.shape[0]
    T = np.eye(s.shape[1])[y]
    P = _softmax(s)
    return {
        "no 1/N": P - T,
        "no one-hot": P / N,
        "sign": (T - P) / N,
        "axis": (_softmax(s, axis=0) - T) / N,
    }[kind]


def softmax_cross_entropy_backward_reference(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The instructor's answer: the gradient the package's loss returns, ``(P - T) / N``."""
    return softmax_cross_entropy(s, y)[1]


SOFTMAX_CROSS_ENTROPY_BACKWARD = register(
    Exercise(
        name="softmax_cross_entropy_backward",
        lesson="09",
        signature=(
            "softmax_cross_entropy_backward(s, y) -> dS\n"
            "    s (N, classes) scores, y (N,) integer labels; L = (1/N) sum_n -log softmax(s[n])[y[n]];\n"
            "    dS (N, classes) = dL/ds = (P - T) / N, P = softmax of each row, T = one-hot rows of y"
        ),
        reference=softmax_cross_entropy_backward_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("dS",),
        rtol=1e-6,
        atol=1e-8,
        mistakes=(
            Mistake(
                "P - T without the factor 1/N: the loss is the MEAN over the batch, so every row carries 1/N",
                lambda c: _wrong(c, "no 1/N"),
            ),
            Mistake(
                "P / N: the one-hot T is not subtracted "
                "(the -s[n, y[n]] term of the loss has a derivative too)",
                lambda c: _wrong(c, "no one-hot"),
            ),
            Mistake(
                "(T - P) / N, the gradient with the wrong sign: dl/ds = -(y - p)^T = p - y",
                lambda c: _wrong(c, "sign"),
            ),
            Mistake(
                "a softmax over the batch axis (columns) instead of over the classes of each row",
                lambda c: _wrong(c, "axis"),
            ),
        ),
    )
)


# --------------------------------------------------------------------------------------------
# One step of momentum SGD with L2 weight decay.
# --------------------------------------------------------------------------------------------

# (shape of the parameter, lr, momentum, weight_decay): a bias vector, a weight matrix and a filter
# bank; momentum and weight decay on and off.
_SGD_SETTINGS: tuple[tuple[tuple[int, ...], float, float, float], ...] = (
    ((3,), 0.1, 0.9, 0.0),
    ((4,), 0.05, 0.0, 0.01),
    ((2, 3), 0.1, 0.9, 5e-4),
    ((3, 5), 0.5, 0.5, 0.1),
    ((2, 1, 3, 3), 0.1, 0.9, 0.02),
    ((4, 2, 3, 2), 0.01, 0.99, 0.5),
)


def _sgd_cases() -> list[Case]:
    cases = []
    for seed, (shape, lr, momentum, weight_decay) in enumerate(_SGD_SETTINGS):
        rng = np.random.default_rng(950 + seed)
        theta, v, grad = rng.standard_normal((3, *shape))
        label = labelled(theta=theta, v=v, grad=grad, lr=lr, momentum=momentum, weight_decay=weight_decay)
        cases.append(Case(label, (theta, v, grad, lr, momentum, weight_decay), size=sized((theta,))))
    return cases


def _sgd(case: Case, kind: str = "right") -> tuple[np.ndarray, np.ndarray]:
    """The update written out entry by entry; ``kind`` names a mistake."""
    theta, v, grad, lr, mu, lam = case.args
    new_theta, new_v = np.empty_like(theta), np.empty_like(v)
    for index in np.ndindex(*theta.shape):
        t, old, g = theta[index], v[index], grad[index]
        decay = {"no decay": 0.0, "2 lambda": 2 * lam * t}.get(kind, lam * t)
        velocity = mu * old + g + decay
        if kind == "lr inside v":  # v <- mu v + lr (g + lambda theta), theta <- theta - v
            velocity = mu * old + lr * (g + decay)
            step = velocity
        elif kind == "old v":  # theta moved with the velocity before its update
            step = lr * old
        elif kind == "minus g":  # v <- mu v - (g + lambda theta), theta <- theta - lr v
            velocity = mu * old - g - decay
            step = lr * velocity
        else:
            step = lr * velocity
        new_theta[index], new_v[index] = t - step, velocity
    return new_theta, new_v


def _sgd_reference(
    theta: np.ndarray, v: np.ndarray, grad: np.ndarray, lr: float, momentum: float, weight_decay: float
) -> tuple[np.ndarray, np.ndarray]:
    """The instructor's answer: the update :class:`cnnbook.train.SGD` applies, on copies."""
    new_v = momentum * v + grad + weight_decay * theta
    return theta - lr * new_v, new_v


SGD_MOMENTUM_STEP = register(
    Exercise(
        name="sgd_momentum_step",
        lesson="09",
        signature=(
            "sgd_momentum_step(theta, v, grad, lr, momentum, weight_decay) -> (theta_new, v_new)\n"
            "    theta, v, grad: arrays of one shape (the parameter, its velocity, dJ/dtheta without the\n"
            "    penalty); v_new = momentum * v + grad + weight_decay * theta; theta_new = theta - lr * v_new"
        ),
        reference=_sgd_reference,
        cases=_sgd_cases,
        oracle=_sgd,
        outputs=("theta_new", "v_new"),
        rtol=1e-12,
        atol=1e-14,
        mistakes=(
            Mistake(
                "the update without weight decay: the L2 penalty adds weight_decay * theta to the gradient",
                lambda c: _sgd(c, "no decay"),
            ),
            Mistake(
                "2 * weight_decay * theta, the gradient of lambda * sum(W^2); the lesson's penalty is "
                "(lambda/2) * sum(W^2), gradient lambda * theta (PyTorch's weight_decay)",
                lambda c: _sgd(c, "2 lambda"),
            ),
            Mistake(
                "theta moved with the OLD velocity: update v first, then step with the new v",
                lambda c: _sgd(c, "old v"),
            ),
            Mistake(
                "the lectures' form v <- mu v + lr * gradient, theta <- theta - v: this lesson's v holds "
                "gradients without lr, and theta <- theta - lr * v",
                lambda c: _sgd(c, "lr inside v"),
            ),
            Mistake(
                "the gradient subtracted from v (v <- mu v - gradient) while theta still moves by -lr * v: "
                "the step goes uphill",
                lambda c: _sgd(c, "minus g"),
            ),
        ),
    )
)
