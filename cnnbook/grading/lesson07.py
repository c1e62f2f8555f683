"""Lesson 07's graded exercise: the max-pool backward pass, winners found by the student.

``maxpool_backward(G, X, kernel_size, stride)`` routes every upstream entry ``G[n, c, y, x]`` to the
winner of its window -- the first maximum in row-major order inside the window -- and *adds* it
there, so that an input winning several overlapping windows collects all their gradients.

Oracle: a looped formula written here (window by window, the first entry strictly larger than
every entry before it), sharing no code with :mod:`cnnbook.pool`.  The tests also hold it equal to
``A_MaxPool^T vec(G)`` built by :func:`cnnbook.matrices.maxpool_matrix`.  The inputs are small
integers, so that most windows have ties; strides below, equal to and above the window size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..pool import maxpool2d_backward
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["MAXPOOL_BACKWARD"]


@dataclass(frozen=True)
class _Setting:
    N: int
    C: int
    H: int
    W: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    high: int  # entries of X drawn from 0 .. high - 1: small `high`, many ties


# Small; together they vary N, C, H != W, rh != rw, overlap (s < r), tiling (s = r), gaps (s > r),
# sizes the stride does not divide, and ties (integer entries from a handful of values).
_SETTINGS: tuple[_Setting, ...] = (
    _Setting(1, 1, 4, 4, (2, 2), (2, 2), 3),
    _Setting(1, 1, 3, 4, (2, 2), (1, 1), 3),
    _Setting(1, 1, 5, 6, (2, 3), (2, 3), 4),
    _Setting(1, 2, 5, 5, (3, 3), (2, 2), 3),
    _Setting(2, 1, 6, 5, (3, 2), (1, 2), 2),
    _Setting(2, 2, 7, 6, (2, 2), (3, 2), 4),
    _Setting(1, 3, 6, 7, (3, 3), (1, 1), 3),
    _Setting(3, 2, 9, 8, (3, 2), (2, 1), 5),
)


def _out_size(n: int, r: int, s: int) -> int:
    return (n - r) // s + 1


def _cases() -> list[Case]:
    cases = []
    for seed, s in enumerate(_SETTINGS):
        rng = np.random.default_rng(700 + seed)
        X = rng.integers(0, s.high, size=(s.N, s.C, s.H, s.W)).astype(np.float64)
        Ho = _out_size(s.H, s.kernel_size[0], s.stride[0])
        Wo = _out_size(s.W, s.kernel_size[1], s.stride[1])
        G = rng.integers(1, 10, size=(s.N, s.C, Ho, Wo)) * rng.choice([-1.0, 1.0], size=(s.N, s.C, Ho, Wo))
        label = labelled(G=G, X=X, kernel_size=s.kernel_size, stride=s.stride)
        cases.append(Case(label, (G, X, s.kernel_size, s.stride), size=sized((G, X))))
    return cases


def _route(case: Case, *, pick: str = "first", add: bool = True, ignore_stride: bool = False) -> np.ndarray:
    """``dX`` by loops; ``pick`` chooses the winners: "first", "last", "all" or "split" (1/k each)."""
    G, X, (rh, rw), (sh, sw) = case.args
    if ignore_stride:
        sh, sw = 1, 1
    dX = np.zeros_like(X, dtype=np.float64)
    N, C, Ho, Wo = G.shape
    for n in range(N):
        for c in range(C):
            for y in range(Ho):
                for x in range(Wo):
                    top, left = y * sh, x * sw
                    cells = [(top + i, left + j) for i in range(rh) for j in range(rw)]  # row-major
                    best = max(X[n, c, r, q] for r, q in cells)
                    tied = [(r, q) for r, q in cells if X[n, c, r, q] == best]
                    chosen = {"first": tied[:1], "last": tied[-1:], "all": tied, "split": tied}[pick]
                    share = G[n, c, y, x] / (len(tied) if pick == "split" else 1)
                    for r, q in chosen:
                        if add:
                            dX[n, c, r, q] += share
                        else:
                            dX[n, c, r, q] = share
    return dX


def _oracle(case: Case) -> Any:
    return _route(case)


def maxpool_backward_reference(
    G: np.ndarray, X: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """The instructor's answer: the package's backward pass (winners found again, ties to the first)."""
    return maxpool2d_backward(G, X, kernel_size, stride)


MAXPOOL_BACKWARD = register(
    Exercise(
        name="maxpool_backward",
        lesson="07",
        signature=(
            "maxpool_backward(G, X, kernel_size, stride) -> dX\n"
            "    G (N, C, H', W') = dL/d(out), X (N, C, H, W), kernel_size (rh, rw), stride (sh, sw),\n"
            "    no padding; dX (N, C, H, W): the winner of window (y, x) -- the first maximum in\n"
            "    row-major order of X[n, c, y*sh : y*sh + rh, x*sw : x*sw + rw] -- receives G[n, c, y, x];\n"
            "    overlapping windows add up"
        ),
        reference=maxpool_backward_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("dX",),
        mistakes=(
            Mistake(
                "every tied maximum receiving the whole gradient (the gradient must go to one winner)",
                lambda c: _route(c, pick="all"),
            ),
            Mistake(
                "the gradient split evenly among tied maxima (what central differences see at a tie; "
                "the lesson's rule sends it all to the first)",
                lambda c: _route(c, pick="split"),
            ),
            Mistake(
                "ties sent to the last maximum in row-major order instead of the first "
                "(`>=` where `>` is meant, or a search from the end)",
                lambda c: _route(c, pick="last"),
            ),
            Mistake(
                "overlapping windows overwriting each other (`=` where `+=` is meant): an input that wins "
                "several windows must collect the sum of their gradients",
                lambda c: _route(c, add=False),
            ),
            Mistake(
                "windows placed at (y, x) instead of (y*sh, x*sw) (the stride is ignored)",
                lambda c: _route(c, ignore_stride=True),
            ),
        ),
    )
)
