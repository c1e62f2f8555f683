"""Lesson 04's grader rejects plausible wrong backward passes of max subtraction."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook.gradcheck import numerical_gradient
from cnnbook.grading import EXERCISES, check
from cnnbook.grading.lesson04 import max_subtract

GRADER = EXERCISES["max_subtract_backward"]


def loops(G, x):
    """A student's plain-loop solution."""
    dx = G.copy()
    for n in range(x.shape[0]):
        dx[n, np.argmax(x[n])] -= G[n].sum()
    return dx


def test_a_plain_loop_solution_passes_quickly(capsys):
    start = time.perf_counter()
    assert EXERCISES["max_subtract_backward"].check(loops, draw=False) is True
    assert time.perf_counter() - start < 1.0
    assert "correct on all 7 cases" in capsys.readouterr().out


def test_the_oracle_agrees_with_finite_differences_where_the_maximum_is_unique():
    untied = [case for case in GRADER.cases() if "tied" not in case.label]
    assert len(untied) >= 4
    for case in untied:
        G, x = case.args
        numeric = numerical_gradient(lambda z, G=G: float(np.sum(G * max_subtract(z))), x.copy())
        assert np.allclose(numeric, GRADER.oracle(case), atol=1e-7)


def test_the_tied_cases_have_ties():
    tied = [case for case in GRADER.cases() if "tied" in case.label]
    assert len(tied) >= 2
    for case in tied:
        x = case.args[1]
        assert np.all((x == x.max(axis=1, keepdims=True)).sum(axis=1) >= 2)


def last_tie(G, x):
    dx = G.copy()
    for n in range(x.shape[0]):
        dx[n, x.shape[1] - 1 - np.argmax(x[n, ::-1])] -= G[n].sum()
    return dx


WRONG = {
    "backward = forward": (
        lambda G, x: G - G.max(axis=1, keepdims=True),
        r"case: G \(1, 3\).*\n(?s:.*)symmetric",
    ),
    "forgets the winner": (lambda G, x: G.copy(), r"case: G \(1, 3\).*\n(?s:.*)passed through unchanged"),
    "wrong sign": (
        lambda G, x: 2 * G - loops(G, x),
        r"case: G \(1, 3\).*\n(?s:.*)wrong sign",
    ),
    "sums G over the batch": (
        lambda G, x: G - np.eye(x.shape[1])[x.argmax(axis=1)] * G.sum(),
        r"case: G \(2, 4\).*\n(?s:.*)whole batch",
    ),
    "all tied winners receive the gradient": (
        lambda G, x: G - (x == x.max(axis=1, keepdims=True)) * G.sum(axis=1, keepdims=True),
        r"case: G \(2, 6\), x \(2, 6\), tied maxima\n(?s:.*)every tied maximum",
    ),
    "the last tied winner": (last_tie, r"case: G \(2, 6\), x \(2, 6\), tied maxima\n.*entries are off"),
    "the maximum over the wrong axis": (
        lambda G, x: (loops(G.T, x.T)).T,
        r"case: G \(1, 3\)",
    ),
}


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_max_subtract_backward_rejects(mistake):
    fn, message = WRONG[mistake]
    with pytest.raises(AssertionError, match=message):
        check("max_subtract_backward", fn, draw=False)
