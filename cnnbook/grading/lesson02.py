"""Lesson 02's graded exercise: the convolution layer's forward pass with plain loops.

Oracle: ``scipy.signal.correlate2d`` on each zero-padded channel plane, summed over channels and
sampled every ``stride`` — a route that shares no code with :mod:`cnnbook.conv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import correlate2d

from ..conv import conv2d_naive
from .cases import CONV_SETTINGS, conv_arrays
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["CONV2D_LOOPS"]


def _cases() -> list[Case]:
    cases = []
    for seed, s in enumerate(CONV_SETTINGS):
        X, F, b = conv_arrays(s, seed)
        label = labelled(X=X, F=F, b=b, stride=s.stride, padding=s.padding)
        cases.append(Case(label, (X, F, b, s.stride, s.padding), size=sized((X, F))))
    return cases


def _correlate(
    X: np.ndarray, F: np.ndarray, b: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """``S[n, k] = sum_c correlate2d(pad(X[n, c]), F[k, c], 'valid')[::sh, ::sw] + b[k]``."""
    (sh, sw), (ph, pw) = stride, padding
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    planes = [
        [
            sum(correlate2d(Xp[n, c], F[k, c], mode="valid") for c in range(X.shape[1]))[::sh, ::sw] + b[k]
            for k in range(F.shape[0])
        ]
        for n in range(X.shape[0])
    ]
    return np.array(planes)


def _oracle(case: Case) -> Any:
    return _correlate(*case.args)


def _ignoring(
    case: Case, *, stride: bool = False, padding: bool = False, flip: bool = False, bias: bool = False
) -> np.ndarray:
    X, F, b, s, p = case.args
    return _correlate(
        X,
        F[:, :, ::-1, ::-1] if flip else F,
        np.zeros_like(b) if bias else b,
        (1, 1) if stride else s,
        (0, 0) if padding else p,
    )


def _padded_at_the_end(case: Case) -> np.ndarray:
    """All ``2 P`` zeros after the input (bottom and right), none before it."""
    X, F, b, s, (ph, pw) = case.args
    Xp = np.pad(X, ((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw)))
    return _correlate(Xp, F, b, s, (0, 0))


def conv2d_loops_reference(
    X: np.ndarray, F: np.ndarray, b: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """The instructor's answer: the package's looped convolution."""
    return conv2d_naive(X, F, b, stride=stride, padding=padding)


CONV2D_LOOPS = register(
    Exercise(
        name="conv2d_loops",
        lesson="02",
        signature=(
            "conv2d_loops(X, F, b, stride, padding) -> S\n"
            "    X (N, C, H, W), F (K, C, fh, fw), b (K,), stride (sh, sw), padding (ph, pw) per side;\n"
            "    S (N, K, H', W'), S[n,k,y,x] = b[k] + sum_{c,i,j} Xp[n, c, y*sh + i, x*sw + j] F[k, c, i, j]"
        ),
        reference=conv2d_loops_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("S",),
        mistakes=(
            Mistake(
                "a convolution with stride 1 (the stride is ignored)", lambda c: _ignoring(c, stride=True)
            ),
            Mistake("a convolution without the zero padding", lambda c: _ignoring(c, padding=True)),
            Mistake(
                "the filter flipped by 180° (a true convolution; the lessons' * is cross-correlation)",
                lambda c: _ignoring(c, flip=True),
            ),
            Mistake("the result without the bias b", lambda c: _ignoring(c, bias=True)),
            Mistake(
                "all 2P zeros added after the input (bottom/right): padding P goes on EACH side",
                _padded_at_the_end,
            ),
        ),
    )
)
