"""Lesson 09's grader: a loop softmax-cross-entropy backward passes; the usual slips fail, explained."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook.grading import check


def loops(s, y, *, mean=True, one_hot=True, sign=1.0):
    """A student's solution, one example at a time; the keywords turn it into the typical mistakes."""
    N, classes = s.shape
    dS = np.zeros_like(s)
    for n in range(N):
        e = np.exp(s[n] - s[n].max())
        p = e / e.sum()
        t = np.zeros(classes)
        t[y[n]] = 1.0 if one_hot else 0.0
        dS[n] = sign * (p - t) / (N if mean else 1)
    return dS


def test_a_loop_solution_passes_in_well_under_a_second(capsys):
    start = time.perf_counter()
    assert check("softmax_cross_entropy_backward", loops, draw=False) is True
    assert time.perf_counter() - start < 2.0
    assert capsys.readouterr().out.startswith("softmax_cross_entropy_backward: correct on all 7 cases")


def column_softmax(s, y):
    e = np.exp(s - s.max(axis=0))
    return (e / e.sum(axis=0) - np.eye(s.shape[1])[y]) / s.shape[0]


MISTAKES = {
    "dropped 1/N": (
        lambda s, y: loops(s, y, mean=False),
        r"case: s \(2, 2\), y \(2,\)\n.*entries are off.*\n.*\n.*without the factor 1/N",
    ),
    "not subtracting the one-hot": (
        lambda s, y: loops(s, y, one_hot=False),
        r"case: s \(1, 3\), y \(1,\)\n.*entries are off.*\n.*\n.*one-hot T is not subtracted",
    ),
    "wrong sign": (
        lambda s, y: loops(s, y, sign=-1.0),
        r"case: s \(1, 3\), y \(1,\)\n.*entries are off.*\n.*\n.*wrong sign",
    ),
    "softmax over the batch axis": (
        column_softmax,
        r"case: s \(1, 3\), y \(1,\)\n.*entries are off.*\n.*\n.*over the batch axis",
    ),
    "divided by the number of classes instead of N": (
        lambda s, y: loops(s, y, mean=False) / s.shape[1],
        r"case: s \(1, 3\), y \(1,\)\n.*3 of 3 entries are off",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_softmax_cross_entropy_backward_rejects(mistake):
    fn, message = MISTAKES[mistake]
    with pytest.raises(AssertionError, match=message):
        check("softmax_cross_entropy_backward", fn, draw=False)
