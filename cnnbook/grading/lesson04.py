"""Lesson 04's graded exercise: the backward pass of max subtraction, ``h = x - max_k x_k`` per row.

Oracle: the explicit Jacobian of each row, built entry by entry from its definition
``dh_i/dx_j = [i == j] - [j == m]`` with ``m`` the first position of the row's maximum, multiplied
from the left by the row of ``G`` (the lesson's ``[gradient to the left] = [gradient from the right] ·
[local Jacobian]``).  ``tests/test_grading_lesson04.py`` checks that this agrees with finite
differences of the forward pass wherever the maximum is unique.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["MAX_SUBTRACT_BACKWARD", "max_subtract"]

# (N, D, ties): rows of D entries; with ties, integer values so that several entries share the maximum.
_SHAPES = (
    (1, 3, False),
    (2, 4, False),
    (3, 5, False),
    (4, 2, False),
    (2, 6, True),
    (5, 4, True),
    (3, 7, True),
)


def max_subtract(x: np.ndarray) -> np.ndarray:
    """The forward pass the exercise differentiates: ``h[n] = x[n] - max(x[n])`` for every row ``n``."""
    return x - x.max(axis=1, keepdims=True)


def _cases() -> list[Case]:
    cases = []
    for seed, (N, D, ties) in enumerate(_SHAPES):
        rng = np.random.default_rng(40 + seed)
        if ties:
            x = rng.integers(0, 3, size=(N, D)).astype(np.float64)
            top = x.max(axis=1)  # every row's maximum is reached at least twice: somewhere, and at the end
            x[np.arange(N), rng.integers(0, D - 1, size=N)] = top
            x[:, -1] = top
        else:
            x = rng.standard_normal((N, D))
        G = rng.standard_normal((N, D))
        label = labelled(G=G, x=x) + (", tied maxima" if ties else "")
        cases.append(Case(label, (G, x), size=sized((G, x))))
    return cases


def _jacobian(row: np.ndarray) -> np.ndarray:
    """``J[i, j] = dh_i/dx_j = [i == j] - [j == m]``, ``m`` the first position of the maximum."""
    D = row.size
    m = next(j for j in range(D) if row[j] == row.max())
    return np.array([[float(i == j) - float(j == m) for j in range(D)] for i in range(D)])


def _oracle(case: Case) -> Any:
    G, x = case.args
    return np.stack([G[n] @ _jacobian(x[n]) for n in range(x.shape[0])])


def _mistaken(case: Case, slip: str) -> np.ndarray:
    G, x = case.args
    if slip == "forward":
        return max_subtract(G)
    if slip == "no winner":
        return G.copy()
    if slip == "sign":
        return np.stack([G[n] @ (2 * np.eye(x.shape[1]) - _jacobian(x[n])) for n in range(x.shape[0])])
    if slip == "batch sum":
        dx = G.copy()
        dx[np.arange(x.shape[0]), x.argmax(axis=1)] -= G.sum()
        return dx
    # "all ties": every entry equal to the maximum gets the minus sum
    return G - (x == x.max(axis=1, keepdims=True)) * G.sum(axis=1, keepdims=True)


def max_subtract_backward_reference(G: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The instructor's answer: ``dx = G``, then the row's first maximum loses the row's sum of ``G``."""
    dx = G.copy()
    winners = x.argmax(axis=1)
    dx[np.arange(x.shape[0]), winners] -= G.sum(axis=1)
    return dx


MAX_SUBTRACT_BACKWARD = register(
    Exercise(
        name="max_subtract_backward",
        lesson="04",
        signature=(
            "max_subtract_backward(G, x) -> dx\n"
            "    G = dL/dh (N, D), x (N, D), h[n] = x[n] - max_k x[n, k]; dx (N, D):\n"
            "    dx[n, j] = G[n, j] - [j == m_n] * sum_i G[n, i],  m_n = the first position of max x[n]"
        ),
        reference=max_subtract_backward_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("dx",),
        mistakes=(
            Mistake(
                "the forward pass applied to G: that coincidence held for mean subtraction, whose Jacobian "
                "I - 11^T/D is symmetric; I - 1 e_m^T is not",
                lambda c: _mistaken(c, "forward"),
            ),
            Mistake(
                "G passed through unchanged: the maximum x_m also moves every h_i, so x_m collects "
                "-sum_i G_i on top of its own G_m",
                lambda c: _mistaken(c, "no winner"),
            ),
            Mistake(
                "the winner's term with the wrong sign (h_i = x_i - x_m: minus)",
                lambda c: _mistaken(c, "sign"),
            ),
            Mistake(
                "the sum of G over the whole batch: each example (row) has its own maximum and its own sum",
                lambda c: _mistaken(c, "batch sum"),
            ),
            Mistake(
                "every tied maximum receiving the gradient: max picks one entry, the first (np.argmax)",
                lambda c: _mistaken(c, "all ties"),
            ),
        ),
    )
)
