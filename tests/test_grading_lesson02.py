"""Lesson 02's graded exercise: a plain-loop solution passes quickly; one-sided padding is recognised.

The other wrong implementations of ``conv2d_loops`` are in tests/test_grading.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook import conv_output_size
from cnnbook.grading import EXERCISES, check

CONV = EXERCISES["conv2d_loops"].reference


def conv2d_loops(X, F, b, stride, padding):
    """A student's plain-loop solution, as in the notebook."""
    N, _, H, W = X.shape
    K, _, fh, fw = F.shape
    (sh, sw), (ph, pw) = stride, padding
    Ho, Wo = conv_output_size(H, fh, stride=sh, padding=ph), conv_output_size(W, fw, stride=sw, padding=pw)
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    S = np.zeros((N, K, Ho, Wo))
    for n in range(N):
        for k in range(K):
            for y in range(Ho):
                for x in range(Wo):
                    S[n, k, y, x] = np.sum(Xp[n, :, y * sh : y * sh + fh, x * sw : x * sw + fw] * F[k]) + b[k]
    return S


def test_a_plain_loop_solution_passes_quickly(capsys):
    start = time.perf_counter()
    assert EXERCISES["conv2d_loops"].check(conv2d_loops, draw=False) is True
    assert time.perf_counter() - start < 2.0
    assert "correct on all 10 cases" in capsys.readouterr().out


def test_padding_on_one_side_only_is_recognised():
    def padded_at_the_end(X, F, b, stride, padding):
        (ph, pw) = padding
        Xp = np.pad(X, ((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw)))
        return CONV(Xp, F, b, stride, (0, 0))

    with pytest.raises(AssertionError, match=r"padding \(1, 1\)[^\n]*\n.*entries are off(.|\n)*EACH side"):
        check("conv2d_loops", padded_at_the_end, draw=False)
