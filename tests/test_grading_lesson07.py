"""Lesson 07's grader: a plain-loop max-pool backward passes; wrong ones fail, named and explained."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook.grading import EXERCISES, check
from cnnbook.matrices import maxpool_matrix, unvec, vec


def loops(G, X, kernel_size, stride, *, tie="first", add=True, use_stride=True):
    """A student's loop solution; the keywords turn it into the typical mistakes."""
    (rh, rw), (sh, sw) = kernel_size, (stride if use_stride else (1, 1))
    dX = np.zeros_like(X)
    N, C, Ho, Wo = G.shape
    for n in range(N):
        for c in range(C):
            for y in range(Ho):
                for x in range(Wo):
                    window = X[n, c, y * sh : y * sh + rh, x * sw : x * sw + rw]
                    if tie == "first":
                        winners = [np.unravel_index(np.argmax(window), window.shape)]
                    elif tie == "last":
                        flat = window.ravel()[::-1]
                        winners = [np.unravel_index(flat.size - 1 - np.argmax(flat), window.shape)]
                    else:  # "all" or "split": every entry equal to the maximum
                        winners = list(zip(*np.nonzero(window == window.max())))
                    share = G[n, c, y, x] / (len(winners) if tie == "split" else 1)
                    for i, j in winners:
                        if add:
                            dX[n, c, y * sh + i, x * sw + j] += share
                        else:
                            dX[n, c, y * sh + i, x * sw + j] = share
    return dX


def test_a_plain_loop_solution_passes_in_well_under_a_second(capsys):
    start = time.perf_counter()
    assert EXERCISES["maxpool_backward"].check(loops, draw=False) is True
    assert time.perf_counter() - start < 2.0
    assert capsys.readouterr().out.startswith("maxpool_backward: correct on all 8 cases")


def test_the_oracle_is_A_MaxPool_transposed_times_vec_G():
    for case in EXERCISES["maxpool_backward"].cases():
        G, X, k, s = case.args
        expected = np.stack(
            [unvec(maxpool_matrix(X[n], k, s).T @ vec(G[n]), X.shape[1:]) for n in range(X.shape[0])]
        )
        assert np.array_equal(EXERCISES["maxpool_backward"].oracle(case), expected), case.label


def test_the_cases_have_ties_overlap_and_gaps():
    cases = EXERCISES["maxpool_backward"].cases()
    kinds = {(k[0] > s[0]) - (k[0] < s[0]) for _, _, k, s in (c.args for c in cases)}
    assert kinds == {-1, 0, 1}  # windows overlapping, tiling and leaving gaps
    tied = 0
    for case in cases:
        G, X, (rh, rw), (sh, _) = case.args
        for y in range(G.shape[2]):
            window = X[0, 0, y * sh : y * sh + rh, :rw]
            tied += int(np.count_nonzero(window == window.max()) > 1)
    assert tied >= 5


MISTAKES = {
    "all tied winners get the gradient": (
        lambda G, X, k, s: loops(G, X, k, s, tie="all"),
        r"case: G \(1, 1, 2, 3\).*\n.*entries are off.*\n.*\n.*every tied maximum receiving",
    ),
    "the last maximum instead of the first": (
        lambda G, X, k, s: loops(G, X, k, s, tie="last"),
        r"case: G \(1, 1, 2, 3\).*\n.*entries are off.*\n.*\n.*last maximum in row-major order",
    ),
    "overwriting instead of accumulating": (
        lambda G, X, k, s: loops(G, X, k, s, add=False),
        r"case: .*stride \(1, 1\)\n.*entries are off.*\n.*\n.*overwriting each other",
    ),
    "ignoring the stride": (
        lambda G, X, k, s: loops(G, X, k, s, use_stride=False),
        r"case: G \(1, 1, 2, 2\).*stride \(2, 2\)\n.*entries are off.*\n.*\n.*the stride is ignored",
    ),
    "splitting a tie evenly": (
        lambda G, X, k, s: loops(G, X, k, s, tie="split"),
        r"case: G \(1, 1, 2, 3\).*\n.*entries are off.*\n.*\n.*split evenly among tied maxima",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_maxpool_backward_rejects(mistake):
    fn, message = MISTAKES[mistake]
    with pytest.raises(AssertionError, match=message):
        check("maxpool_backward", fn, draw=False)
