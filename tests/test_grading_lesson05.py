"""Lesson 05's grader rejects plausible wrong filter/bias gradients, naming the case and the slip."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook import conv2d
from cnnbook.gradcheck import numerical_gradient
from cnnbook.grading import EXERCISES, check

GRADER = EXERCISES["conv2d_filter_grad"]


def loops(
    G, X, kernel_size, stride, padding, *, strided=True, flip=False, swap=False, first_only=False, db="sum"
):
    """A student's plain-loop solution, with switches for the usual slips."""
    (fh, fw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    if not strided:
        sh = sw = 1
    N, K, Ho, Wo = G.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dF = np.zeros((K, X.shape[1], fh, fw))
    for n in range(1 if first_only else N):
        for k in range(K):
            for y in range(Ho):
                for x in range(Wo):
                    window = Xp[n, :, y * sh : y * sh + fh, x * sw : x * sw + fw]
                    dF[k, :, : window.shape[1], : window.shape[2]] += G[n, k, y, x] * window
    if flip:
        dF = dF[:, :, ::-1, ::-1]
    if swap:
        dF = dF.transpose(1, 0, 2, 3)
    used = G[:1] if first_only else G
    db_value = {
        "sum": lambda: used.sum(axis=(0, 2, 3)),
        "mean": lambda: used.mean(axis=(0, 2, 3)),
        "axis 1": lambda: used.sum(axis=(1, 2, 3)),
    }[db]()
    return dF, db_value


def test_a_plain_loop_solution_passes_quickly(capsys):
    start = time.perf_counter()
    assert EXERCISES["conv2d_filter_grad"].check(loops, draw=False) is True
    assert time.perf_counter() - start < 3.0
    assert "correct on all 10 cases" in capsys.readouterr().out


def test_the_oracle_agrees_with_finite_differences_of_the_forward_pass():
    for case in GRADER.cases()[:6]:
        G, X, _, stride, padding = case.args
        dF, db = GRADER.oracle(case)
        F = np.random.default_rng(0).standard_normal(dF.shape)
        b = np.zeros(G.shape[1])

        def loss(F_, b_, G=G, X=X, stride=stride, padding=padding):
            return float(np.sum(G * conv2d(X, F_, b_, stride=stride, padding=padding)))

        assert np.allclose(numerical_gradient(lambda F_, b=b: loss(F_, b), F.copy()), dF, atol=1e-6)
        assert np.allclose(numerical_gradient(lambda b_, F=F: loss(F, b_), b.copy()), db, atol=1e-6)


WRONG = {
    "ignores the stride": (
        lambda *a: loops(*a, strided=False),
        r"case: G \(1, 1, 2, 2\).*stride \(2, 2\).*\n.*6 of 6 entries are off"
        r"(?s:.*)diagnosis: .*stride is ignored",
    ),
    "a spurious flip": (
        lambda *a: loops(*a, flip=True),
        r"case: G \(1, 1, 3, 3\)(?s:.*)diagnosis: .*spurious flip",
    ),
    "swaps the filter and channel axes": (
        lambda *a: loops(*a, swap=True),
        r"case: G \(2, 2, 3, 3\).*\n.*dF: expected shape \(2, 1, 2, 3\), got shape \(1, 2, 2, 3\)\n"
        r".*diagnosis: .*axes swapped",
    ),
    "swaps the filter and channel axes when K == C": (
        lambda *a: loops(*a, swap=a[0].shape[1] == a[1].shape[1] > 1),
        r"case: G \(3, 2, 4, 5\), X \(3, 2, 9, 7\)(?s:.*)diagnosis: .*axes swapped",
    ),
    "sums only the first image": (
        lambda *a: loops(*a, first_only=True),
        r"case: G \(2, 2, 3, 3\)(?s:.*)diagnosis: .*first image only",
    ),
    "averages db": (lambda *a: loops(*a, db="mean"), r"case: G \(1, 1, 3, 3\)(?s:.*)db: (?s:.*)db averaged"),
    "sums db over the filters": (
        lambda *a: loops(*a, db="axis 1"),
        r"case: G \(2, 2, 3, 3\).*\n  db: shape \(2,\) is right"
        r"(?s:.*)diagnosis: .*db summed over the wrong axis",
    ),
    "ignores the padding": (
        lambda G, X, k, s, p: loops(G, X, k, s, (0, 0)),
        r"case: G \(1, 1, 4, 6\).*padding \(1, 1\)\n.*6 of 6 entries are off",
    ),
}


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_conv2d_filter_grad_rejects(mistake):
    fn, message = WRONG[mistake]
    with pytest.raises(AssertionError, match=message):
        check("conv2d_filter_grad", fn, draw=False)
