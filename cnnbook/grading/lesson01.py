"""Lesson 01's graded exercise: one convolution layer on one image, ``H = max(0, X * F_i + b_i)``.

Oracle: ``scipy.signal.correlate2d`` on each channel plane, summed over the channels, plus the bias,
then ``np.maximum(0, .)`` -- a route that shares no code with :mod:`cnnbook.conv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import correlate2d

from .. import functional
from ..conv import conv2d_naive
from .framework import Case, Exercise, Mistake, labelled, register, sized

__all__ = ["CONV_RELU"]

# (C, K, H, W, fh, fw): several planes and filters, H != W, fh != fw, a 1x1 filter, a filter as tall as X.
_SHAPES = (
    (1, 1, 4, 5, 2, 2),
    (2, 1, 5, 4, 3, 2),
    (3, 2, 6, 5, 2, 3),
    (2, 3, 5, 7, 3, 3),
    (4, 2, 6, 6, 1, 1),
    (3, 4, 7, 9, 4, 2),
    (2, 2, 5, 8, 5, 3),
)


def _cases() -> list[Case]:
    cases = []
    for seed, (C, K, H, W, fh, fw) in enumerate(_SHAPES):
        rng = np.random.default_rng(100 + seed)
        X = rng.standard_normal((C, H, W))
        F = rng.standard_normal((K, C, fh, fw))
        b = rng.standard_normal(K)
        cases.append(Case(labelled(X=X, F=F, b=b), (X, F, b), size=sized((X, F))))
    return cases


def _responses(X: np.ndarray, F: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``S[k] = sum_c correlate2d(X[c], F[k, c], 'valid') + b[k]``, before the ReLU."""
    return np.array(
        [
            sum(correlate2d(X[c], F[k, c], mode="valid") for c in range(X.shape[0])) + b[k]
            for k in range(F.shape[0])
        ]
    )


def _oracle(case: Case) -> Any:
    return np.maximum(0.0, _responses(*case.args))


def _first_plane_only(case: Case) -> np.ndarray:
    X, F, b = case.args
    return np.maximum(0.0, _responses(X[:1], F[:, :1], b))


def conv_relu_reference(X: np.ndarray, F: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The instructor's answer: the package's looped convolution, then its ReLU."""
    return functional.relu(conv2d_naive(X, F, b))


CONV_RELU = register(
    Exercise(
        name="conv_relu",
        lesson="01",
        signature=(
            "conv_relu(X, F, b) -> H\n"
            "    X (C, H, W) one image, F (K, C, fh, fw), b (K,); stride 1, no padding;\n"
            "    H (K, H-fh+1, W-fw+1), H[k,l,m] = max(0, b[k] + sum_{c,i,j} X[c, l+i, m+j] F[k, c, i, j])"
        ),
        reference=conv_relu_reference,
        cases=_cases,
        oracle=_oracle,
        outputs=("H",),
        mistakes=(
            Mistake("S without the ReLU (negative responses kept)", lambda c: _responses(*c.args)),
            Mistake(
                "the filter flipped by 180° (a true convolution; the lessons' * is cross-correlation)",
                lambda c: np.maximum(0.0, _responses(c.args[0], c.args[1][:, :, ::-1, ::-1], c.args[2])),
            ),
            Mistake(
                "max(0, S) without the bias b",
                lambda c: np.maximum(0.0, _responses(c.args[0], c.args[1], 0 * c.args[2])),
            ),
            Mistake(
                "the bias added after the ReLU, max(0, X * F) + b (the bias belongs inside)",
                lambda c: (
                    np.maximum(0.0, _responses(c.args[0], c.args[1], 0 * c.args[2]))
                    + c.args[2][:, None, None]
                ),
            ),
            Mistake(
                "only the first plane of X and F (a filter spans ALL the planes: sum over c)",
                _first_plane_only,
            ),
        ),
    )
)
