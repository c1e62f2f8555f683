"""Lesson 06's grader rejects plausible wrong input gradients, naming the case and the slip."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnbook import conv2d, unused_size
from cnnbook.gradcheck import numerical_gradient
from cnnbook.grading import EXERCISES, check

GRADER = EXERCISES["conv2d_input_grad"]


def rule(
    G, F, input_size, stride, padding, *, dilate=True, unused=True, flip=True, flip_G=False, crop="both"
):
    """A student's solution by the lesson's rule, with switches for the usual slips."""
    (H, W), (sh, sw), (ph, pw) = input_size, stride, padding
    if not dilate:
        sh = sw = 1
    N, K, Ho, Wo = G.shape
    fh, fw = F.shape[2:]
    eh, ew = (unused_size(H, fh, sh, ph), unused_size(W, fw, sw, pw)) if unused else (0, 0)
    Gd = np.zeros((N, K, (Ho - 1) * sh + 1 + eh, (Wo - 1) * sw + 1 + ew))
    Gd[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw] = G[:, :, ::-1, ::-1] if flip_G else G
    Gp = np.pad(Gd, ((0, 0), (0, 0), (fh - 1, fh - 1), (fw - 1, fw - 1)))
    bank = F.transpose(1, 0, 2, 3)
    dXp = conv2d(Gp, bank[:, :, ::-1, ::-1] if flip else bank)
    if crop == "none":
        return dXp
    if crop == "start":
        return dXp[:, :, :H, :W]
    return dXp[:, :, ph : ph + H, pw : pw + W]


def test_a_solution_by_the_rule_passes_quickly(capsys):
    start = time.perf_counter()
    assert EXERCISES["conv2d_input_grad"].check(rule, draw=False) is True
    assert time.perf_counter() - start < 3.0
    assert "correct on all 10 cases" in capsys.readouterr().out


def test_the_oracle_agrees_with_finite_differences_of_the_forward_pass():
    for case in GRADER.cases()[:6]:
        G, F, (H, W), stride, padding = case.args
        X = np.random.default_rng(1).standard_normal((G.shape[0], F.shape[1], H, W))
        numeric = numerical_gradient(
            lambda X_, G=G, F=F, s=stride, p=padding: float(np.sum(G * conv2d(X_, F, stride=s, padding=p))), X
        )
        assert np.allclose(numeric, GRADER.oracle(case), atol=1e-6)


WRONG = {
    "misses the 180-degree flip": (
        lambda *a: rule(*a, flip=False),
        r"case: G \(1, 1, 2, 2\).*\n.*entries are off(?s:.*)diagnosis: .*without the 180° rotation",
    ),
    "one flip too many": (
        lambda *a: rule(*a, flip_G=True),
        r"case: G \(1, 1, 2, 2\).*\n.*entries are off(?s:.*)diagnosis: .*one flip too many",
    ),
    "ignores the stride (no dilation of G)": (
        lambda *a: rule(*a, dilate=False),
        r"case: G \(1, 1, 2, 2\).*stride \(2, 2\).*\n.*dX: expected shape \(1, 1, 5, 6\), got shape",
    ),
    "forgets the unused rows": (
        lambda *a: rule(*a, unused=False),
        r"case: G \(1, 1, 2, 2\).*stride \(2, 2\).*\n"
        r".*dX: expected shape \(1, 1, 5, 6\), got shape \(1, 1, 4, 5\)",
    ),
    "does not crop the padding": (
        lambda *a: rule(*a, crop="none"),
        r"case: G \(1, 1, 4, 6\).*padding \(1, 1\)\n"
        r".*dX: expected shape \(1, 1, 4, 5\), got shape \(1, 1, 6, 7\)",
    ),
    "crops at one side only": (
        lambda *a: rule(*a, crop="start"),
        r"case: G \(1, 1, 4, 6\).*padding \(1, 1\)\n"
        r".*entries are off(?s:.*)diagnosis: .*cropped at the wrong place",
    ),
    "forgets to transpose the bank": (
        lambda G, F, *a: rule(G, F.transpose(1, 0, 2, 3), *a),
        r"case: G \(2, 2, 3, 3\), F \(2, 1, 2, 3\)",
    ),
}


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_conv2d_input_grad_rejects(mistake):
    fn, message = WRONG[mistake]
    with pytest.raises(AssertionError, match=message):
        check("conv2d_input_grad", fn, draw=False)
