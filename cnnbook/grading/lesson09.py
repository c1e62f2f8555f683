"""Lesson 09's graded exercise: the backward pass of the mean softmax-cross-entropy loss.

``softmax_cross_entropy_backward(s, y)`` returns ``dL/ds`` for

    L(s) = (1/N) sum_n ( log sum_j exp(s[n, j]) - s[n, y[n]] ),   i.e.  dL/ds = (P - T) / N,

with ``P`` the row-wise softmax of the scores ``s (N, classes)`` and ``T`` the one-hot rows of the
labels ``y (N,)``.

Oracle: central finite differences of ``L`` itself (written here with a stable log-sum-exp), one
score at a time -- the formula being taught is never used.  Step ``h = 1e-5``: the differences
agree with the exact gradient to about ``1e-10``, far inside the stated tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..functional import softmax_cross_entropy
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["SOFTMAX_CROSS_ENTROPY_BACKWARD"]

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
