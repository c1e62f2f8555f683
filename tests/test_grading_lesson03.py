"""Lesson 03's graded exercises reject plausible wrong matrices, naming the case and the mistake."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from cnnbook import conv_output_size
from cnnbook.grading import EXERCISES, check

MX = EXERCISES["build_MX"].reference
MF = EXERCISES["build_MF"].reference


def build_MX_loops(X, kernel_size, stride, padding):
    """A student's plain-loop solution, as in the notebook."""
    C, H, W = X.shape
    (fh, fw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    Ho, Wo = conv_output_size(H, fh, stride=sh, padding=ph), conv_output_size(W, fw, stride=sw, padding=pw)
    Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw)))
    M = np.zeros((Ho * Wo, C * fh * fw))
    for y in range(Ho):
        for x in range(Wo):
            M[y * Wo + x] = Xp[:, y * sh : y * sh + fh, x * sw : x * sw + fw].reshape(-1)
    return M


def build_MF_loops(F, input_shape, stride, padding):
    """A student's plain-loop solution, as in the notebook."""
    C, fh, fw = F.shape
    (H, W), (sh, sw), (ph, pw) = input_shape, stride, padding
    Ho, Wo = conv_output_size(H, fh, stride=sh, padding=ph), conv_output_size(W, fw, stride=sw, padding=pw)
    M = np.zeros((Ho * Wo, C * H * W))
    for y in range(Ho):
        for x in range(Wo):
            placed = np.zeros((C, H + 2 * ph, W + 2 * pw))
            placed[:, y * sh : y * sh + fh, x * sw : x * sw + fw] = F
            M[y * Wo + x] = placed[:, ph : ph + H, pw : pw + W].reshape(-1)
    return M


@pytest.mark.parametrize(("name", "fn"), [("build_MX", build_MX_loops), ("build_MF", build_MF_loops)])
def test_a_plain_loop_solution_passes_quickly(name, fn, capsys):
    start = time.perf_counter()
    assert EXERCISES[name].check(fn, draw=False) is True
    assert time.perf_counter() - start < 2.0
    assert "correct on all 8 cases" in capsys.readouterr().out


def rows_column_major(M, Ho, Wo):
    return M.reshape(Ho, Wo, -1).transpose(1, 0, 2).reshape(Ho * Wo, -1)


def mx_rows_cm(X, k, s, p):
    M = MX(X, k, s, p)
    return rows_column_major(
        M, *(conv_output_size(n, f, stride=t, padding=q) for n, f, t, q in zip(X.shape[1:], k, s, p))
    )


def mf_rows_cm(F, shape, s, p):
    M = MF(F, shape, s, p)
    return rows_column_major(
        M, *(conv_output_size(n, f, stride=t, padding=q) for n, f, t, q in zip(shape, F.shape[1:], s, p))
    )


FIRST_MX = r"case: X \(1, 4, 4\), kernel_size \(2, 2\), stride \(1, 1\), padding \(0, 0\)"
FIRST_MF = r"case: F \(1, 2, 2\), input_shape \(4, 4\), stride \(1, 1\), padding \(0, 0\)"
MX_MISTAKES = {
    "transposed layout": (
        lambda X, k, s, p: MX(X, k, s, p).T,
        FIRST_MX + r".*expected shape \(9, 4\).*transpose",
    ),
    "rows column-major": (mx_rows_cm, FIRST_MX + r".*rows \(outputs\) in column-major"),
    "taps column-major": (
        lambda X, k, s, p: (
            MX(X, k, s, p)
            .reshape(-1, X.shape[0], *k)
            .transpose(0, 1, 3, 2)
            .reshape(-1, X.shape[0] * k[0] * k[1])
        ),
        FIRST_MX + r".*taps in column-major",
    ),
    "channel fastest": (
        lambda X, k, s, p: (
            MX(X, k, s, p)
            .reshape(-1, X.shape[0], *k)
            .transpose(0, 2, 3, 1)
            .reshape(-1, X.shape[0] * k[0] * k[1])
        ),
        r"case: X \(2, 6, 5\).*channel as the fastest",
    ),
    "padding ignored": (
        lambda X, k, s, p: MX(X, k, s, (0, 0)),
        r"case: X \(1, 4, 5\), kernel_size \(3, 2\), stride \(1, 1\), padding \(1, 1\)"
        r".*without the zero padding",
    ),
    "stride ignored": (
        lambda X, k, s, p: MX(X, k, (1, 1), p),
        r"case: X \(1, 5, 6\), kernel_size \(2, 3\), stride \(2, 2\).*stride is ignored",
    ),
}
MF_MISTAKES = {
    "transposed layout": (
        lambda F, n, s, p: MF(F, n, s, p).T,
        FIRST_MF + r".*expected shape \(9, 16\).*transpose",
    ),
    "rows column-major": (mf_rows_cm, FIRST_MF + r".*rows \(outputs\) in column-major"),
    "pixels column-major": (
        lambda F, n, s, p: (
            MF(F, n, s, p)
            .reshape(-1, F.shape[0], *n)
            .transpose(0, 1, 3, 2)
            .reshape(-1, F.shape[0] * n[0] * n[1])
        ),
        FIRST_MF + r".*pixels in column-major",
    ),
    "padding columns kept": (
        lambda F, n, s, p: MF(F, (n[0] + 2 * p[0], n[1] + 2 * p[1]), s, (0, 0)),
        r"case: F \(1, 3, 2\), input_shape \(4, 5\).*padding \(1, 1\)"
        r".*expected shape \(24, 20\), got shape \(24, 42\).*padding's columns",
    ),
    "padding ignored": (
        lambda F, n, s, p: MF(F, n, s, (0, 0)),
        r"input_shape \(4, 5\).*padding \(1, 1\).*without the zero padding",
    ),
    "filter rotated": (
        lambda F, n, s, p: MF(F[:, ::-1, ::-1], n, s, p),
        FIRST_MF + r".*rotated by 180°",
    ),
    "stride ignored": (
        lambda F, n, s, p: MF(F, n, (1, 1), p),
        r"input_shape \(5, 6\), stride \(2, 2\).*stride is ignored",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MX_MISTAKES))
def test_build_MX_rejects(mistake):
    fn, message = MX_MISTAKES[mistake]
    with pytest.raises(AssertionError, match=re.compile(message, re.DOTALL)):
        check("build_MX", fn, draw=False)


@pytest.mark.parametrize("mistake", sorted(MF_MISTAKES))
def test_build_MF_rejects(mistake):
    fn, message = MF_MISTAKES[mistake]
    with pytest.raises(AssertionError, match=re.compile(message, re.DOTALL)):
        check("build_MF", fn, draw=False)
