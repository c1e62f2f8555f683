"""The graders are graded: each reference passes, plausible wrong code fails with a message that teaches.

Every exercise in ``cnnbook.grading.EXERCISES`` must pass its own reference; the framework's own
behaviour (not attempted, exceptions, shapes, in-place changes, error location, diagnosis) is tested
on the lesson-02 exercise, and each lesson's exercises have their wrong implementations below.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnbook.grading import EXERCISES, check
from cnnbook.grading.framework import compare

CONV = EXERCISES["conv2d_loops"].reference


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_reference_passes_its_own_check(name, capsys):
    assert EXERCISES[name].check(EXERCISES[name].reference, draw=False) is True
    assert capsys.readouterr().out.startswith(f"{name}: correct on all ")


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_exercise_states_lesson_signature_and_cases(name):
    exercise = EXERCISES[name]
    assert exercise.lesson.isdigit() and len(exercise.lesson) == 2
    assert exercise.signature.startswith(name + "(")
    assert len(exercise.cases()) >= 5


def test_a_stub_is_not_attempted_yet_not_a_traceback(capsys):
    def stub(X, F, b, stride, padding):
        raise NotImplementedError

    assert EXERCISES["conv2d_loops"].check(stub) is False
    assert capsys.readouterr().out == (
        "conv2d_loops: not attempted yet (the function still raises NotImplementedError)\n"
    )


def test_an_exception_names_the_case():
    def broken(X, F, b, stride, padding):
        return X[5]

    with pytest.raises(AssertionError, match=r"(?s)case: X \(1, 1, 4, 4\).*raised IndexError"):
        check("conv2d_loops", broken, draw=False)


def test_a_wrong_shape_is_reported_as_a_shape():
    def one_column_short(X, F, b, stride, padding):
        return CONV(X, F, b, stride, padding)[..., :-1]

    with pytest.raises(AssertionError, match=r"expected shape \(1, 1, 3, 3\), got shape \(1, 1, 3, 2\)"):
        check("conv2d_loops", one_column_short, draw=False)


def test_one_wrong_entry_is_enough_and_is_located():
    def one_off(X, F, b, stride, padding):
        S = CONV(X, F, b, stride, padding).copy()
        S[0, 0, -1, -1] += 1e-3
        return S

    with pytest.raises(AssertionError, match=r"1 of 9 entries are off;\n.*at S\[0, 0, 2, 2\]"):
        check("conv2d_loops", one_off, draw=False)


def test_changing_an_input_in_place_fails():
    def in_place(X, F, b, stride, padding):
        S = CONV(X, F, b, stride, padding)
        X += 1
        return S

    with pytest.raises(AssertionError, match="changed its input argument 1 in place"):
        check("conv2d_loops", in_place, draw=False)


def test_returning_nothing_says_so():
    with pytest.raises(AssertionError, match="returned None"):
        check("conv2d_loops", lambda X, F, b, stride, padding: None, draw=False)


def test_unknown_names_and_non_functions_are_refused():
    with pytest.raises(ValueError, match="name: no exercise 'conv'"):
        check("conv", CONV)
    with pytest.raises(TypeError, match="fn must be a function"):
        check("conv2d_loops", 3)


def test_compare_accepts_within_tolerance_and_counts_tuples():
    a = np.arange(6.0).reshape(2, 3)
    assert compare(a, a + 1e-12, ("A",), rtol=1e-6, atol=1e-9) is None
    text, _ = compare((a, a), (a,), ("A", "B"), rtol=1e-6, atol=1e-9)
    assert "should return 2 arrays (A, B), got 1" in text


# Wrong implementations of lesson 02's forward pass and what the message must say about each.
CONV_MISTAKES = {
    "ignores the stride": (
        lambda X, F, b, stride, padding: CONV(X, F, b, (1, 1), padding),
        r"stride \(2, 2\).*\n.*expected shape.*\n.*stride is ignored",
    ),
    "ignores the padding": (
        lambda X, F, b, stride, padding: CONV(X, F, b, stride, (0, 0)),
        r"padding \(1, 1\).*\n.*expected shape.*\n.*without the zero padding",
    ),
    "flips the filter": (
        lambda X, F, b, stride, padding: CONV(X, F[:, :, ::-1, ::-1], b, stride, padding),
        r"largest error.*\n.*filter flipped by 180°",
    ),
    "forgets the bias": (
        lambda X, F, b, stride, padding: CONV(X, F, 0 * b, stride, padding),
        r"without the bias",
    ),
    "swaps the filter's axes": (
        lambda X, F, b, stride, padding: CONV(X, F.transpose(0, 1, 3, 2), b, stride, padding),
        r"case: X \(1, 1, 4, 4\).*\n.*9 of 9 entries are off",
    ),
}


@pytest.mark.parametrize("mistake", sorted(CONV_MISTAKES))
def test_conv2d_loops_rejects(mistake):
    fn, message = CONV_MISTAKES[mistake]
    with pytest.raises(AssertionError, match=message):
        check("conv2d_loops", fn, draw=False)
