"""Lesson 09's grader: a loop softmax-cross-entropy backward passes; the usual slips fail, explained."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook.grading import EXERCISES, check


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
    assert EXERCISES["softmax_cross_entropy_backward"].check(loops, draw=False) is True
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


def sgd_loops(theta, v, grad, lr, momentum, weight_decay, *, decay=1.0, old_v=False, lr_in_v=False):
    """A student's SGD step; the keywords turn it into the typical mistakes."""
    new_theta, new_v = theta.copy(), v.copy()
    for i in np.ndindex(*theta.shape):
        g = grad[i] + decay * weight_decay * theta[i]
        new_v[i] = momentum * v[i] + (lr * g if lr_in_v else g)
        step = v[i] if old_v else new_v[i]
        new_theta[i] = theta[i] - (step if lr_in_v else lr * step)
    return new_theta, new_v


def test_a_loop_sgd_step_passes(capsys):
    assert EXERCISES["sgd_momentum_step"].check(sgd_loops, draw=False) is True
    assert capsys.readouterr().out.startswith("sgd_momentum_step: correct on all 6 cases")


def in_place(theta, v, grad, lr, momentum, weight_decay):
    v *= momentum
    v += grad + weight_decay * theta
    theta -= lr * v
    return theta, v


SGD_MISTAKES = {
    "missing weight decay": (
        lambda *a: sgd_loops(*a, decay=0.0),
        r"case: theta \(4,\).*0.01\n.*theta_new: .*entries are off.*\n.*\n.*without weight decay",
    ),
    "weight decay doubled": (
        lambda *a: sgd_loops(*a, decay=2.0),
        r"case: theta \(4,\).*\n.*theta_new: .*entries are off.*\n.*\n.*2 \* weight_decay \* theta",
    ),
    "stepping with the old velocity": (
        lambda *a: sgd_loops(*a, old_v=True),
        r"case: theta \(3,\).*\n.*theta_new: .*entries are off.*\n.*\n.*OLD velocity",
    ),
    "the learning rate inside the velocity": (
        lambda *a: sgd_loops(*a, lr_in_v=True),
        r"case: theta \(3,\).*\n.*theta_new: .*entries are off.*\n.*\n.*lectures' form",
    ),
    "updating in place": (in_place, r"case: theta \(3,\).*\n.*changed its input argument 1 in place"),
    "returning only theta": (
        lambda *a: sgd_loops(*a)[0],
        r"should return 2 arrays \(theta_new, v_new\), got a ndarray",
    ),
}


@pytest.mark.parametrize("mistake", sorted(SGD_MISTAKES))
def test_sgd_momentum_step_rejects(mistake):
    fn, message = SGD_MISTAKES[mistake]
    with pytest.raises(AssertionError, match=message):
        check("sgd_momentum_step", fn, draw=False)
