"""Lesson 08's grader: a plain-loop im2col passes; wrong layouts and geometries fail, named and explained."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import correlate2d

from cnnbook.grading import EXERCISES, check


def loops(X, kernel_size, stride, padding, *, row="book", col="book", use_stride=True, use_padding=True):
    """A student's loop solution; the keywords turn it into the typical mistakes."""
    N, C, H, W = X.shape
    (fh, fw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    if not use_stride:
        sh, sw = 1, 1
    if not use_padding:
        ph, pw = 0, 0
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho, Wo = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    cols = np.zeros((C * fh * fw, N * Ho * Wo))
    for n in range(N):
        for y in range(Ho):
            for x in range(Wo):
                q = (n * Ho + y) * Wo + x if col == "book" else (y * Wo + x) * N + n
                field = Xp[n, :, y * sh : y * sh + fh, x * sw : x * sw + fw]  # (C, fh, fw)
                cols[:, q] = field.reshape(-1) if row == "book" else field.transpose(1, 2, 0).reshape(-1)
    return cols


def test_a_plain_loop_solution_passes_in_well_under_a_second(capsys):
    start = time.perf_counter()
    assert EXERCISES["im2col"].check(loops, draw=False) is True
    assert time.perf_counter() - start < 2.0
    assert capsys.readouterr().out.startswith("im2col: correct on all 10 cases")


def test_the_oracle_times_the_filters_is_correlate2d():
    """The identity of the lesson: F.reshape(K, -1) @ cols is the convolution (scipy's, per channel)."""
    rng = np.random.default_rng(0)
    for case in EXERCISES["im2col"].cases():
        X, (fh, fw), (sh, sw), (ph, pw) = case.args
        N, C = X.shape[:2]
        F = rng.standard_normal((3, C, fh, fw))
        cols = EXERCISES["im2col"].oracle(case)
        Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        S = np.array(
            [
                [sum(correlate2d(Xp[n, c], F[k, c], "valid") for c in range(C))[::sh, ::sw] for k in range(3)]
                for n in range(N)
            ]
        )
        Ho, Wo = S.shape[2:]
        gemm = (F.reshape(3, -1) @ cols).reshape(3, N, Ho, Wo).transpose(1, 0, 2, 3)
        assert np.allclose(gemm, S, rtol=1e-12, atol=1e-12), case.label


MISTAKES = {
    "transposed layout": (
        lambda X, k, s, p: loops(X, k, s, p).T,
        r"case: X \(1, 1, 4, 4\).*\n.*expected shape \(4, 9\), got shape \(9, 4\)\n.*transposed layout",
    ),
    "channel last inside a column": (
        lambda X, k, s, p: loops(X, k, s, p, row="channel_last"),
        r"case: X \(1, 2, 5, 7\).*\n.*entries are off.*\n.*\n.*channel innermost",
    ),
    "images innermost along the columns": (
        lambda X, k, s, p: loops(X, k, s, p, col="position_major"),
        r"case: X \(2, 1, 6, 5\).*\n.*entries are off.*\n.*\n.*images innermost",
    ),
    "ignoring the stride": (
        lambda X, k, s, p: loops(X, k, s, p, use_stride=False),
        r"stride \(2, 2\).*\n.*expected shape.*\n.*the stride is ignored",
    ),
    "ignoring the padding": (
        lambda X, k, s, p: loops(X, k, s, p, use_padding=False),
        r"padding \(1, 1\)\n.*expected shape.*\n.*without the zero padding",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_im2col_rejects(mistake):
    fn, message = MISTAKES[mistake]
    with pytest.raises(AssertionError, match=message):
        check("im2col", fn, draw=False)
