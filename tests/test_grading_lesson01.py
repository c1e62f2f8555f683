"""Lesson 01's graded exercise rejects plausible wrong layers, naming the case and the mistake."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from cnnbook import conv2d
from cnnbook.grading import EXERCISES, check


def conv_relu_loops(X, F, b):
    """A student's plain-loop solution, as in the notebook."""
    _, H, W = X.shape
    K, _, fh, fw = F.shape
    out = np.zeros((K, H - fh + 1, W - fw + 1))
    for k in range(K):
        for l in range(H - fh + 1):
            for m in range(W - fw + 1):
                out[k, l, m] = max(0.0, np.sum(X[:, l : l + fh, m : m + fw] * F[k]) + b[k])
    return out


def test_a_plain_loop_solution_passes_quickly(capsys):
    start = time.perf_counter()
    assert EXERCISES["conv_relu"].check(conv_relu_loops, draw=False) is True
    assert time.perf_counter() - start < 2.0
    assert "correct on all 7 cases" in capsys.readouterr().out


FIRST = r"case: X \(1, 4, 5\), F \(1, 1, 2, 2\), b \(1,\)"
# Wrong layers and what the message must say about each (the smallest failing case, then the diagnosis).
MISTAKES = {
    "forgets the ReLU": (lambda X, F, b: conv2d(X, F, b), FIRST + r".*without the ReLU"),
    "flips the filter": (
        lambda X, F, b: np.maximum(0, conv2d(X, F[:, :, ::-1, ::-1], b)),
        FIRST + r".*flipped by 180°",
    ),
    "forgets the bias": (lambda X, F, b: np.maximum(0, conv2d(X, F)), FIRST + r".*without the bias"),
    "adds the bias after the ReLU": (
        lambda X, F, b: np.maximum(0, conv2d(X, F)) + b[:, None, None],
        FIRST + r".*bias added after the ReLU",
    ),
    "uses only the first plane": (
        lambda X, F, b: np.maximum(0, conv2d(X[:1], F[:, :1], b)),
        r"case: X \(2, 5, 4\), F \(1, 2, 3, 2\).*only the first plane",
    ),
    "swaps the filter's axes": (
        lambda X, F, b: np.maximum(0, conv2d(X, F.transpose(0, 1, 3, 2), b)),
        FIRST + r".*\n.*entries are off",
    ),
    "returns (H', W', K)": (
        lambda X, F, b: np.maximum(0, conv2d(X, F, b)).transpose(1, 2, 0),
        FIRST + r".*\n.*expected shape \(1, 3, 4\), got shape \(3, 4, 1\)",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_conv_relu_rejects(mistake):
    fn, message = MISTAKES[mistake]
    with pytest.raises(AssertionError, match=re.compile(message, re.DOTALL)):
        check("conv_relu", fn, draw=False)
