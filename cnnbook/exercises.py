"""The one convention for self-checking exercises in every lesson.

An exercise has three cells:

1. the student's cell (tag ``exercise``): ``ex2_answer = None  # your answer here``;
2. the solution (tag ``solution``, source hidden in JupyterLab): ``ex2_solution = ...``;
3. the check: ``ex2 = answer_or_solution(ex2_answer, ex2_solution, "Exercise 2")`` then ``assert``s.

The committed notebook runs top to bottom with the answers left at ``None``: the check then tests
the solution and says so.  Once a student fills in an answer, the same asserts test *their* answer
(the solution is never substituted for a wrong one).
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

__all__ = ["answer_or_solution", "answered"]


def answer_or_solution(answer: T | None, solution: T, label: str = "Exercise") -> T:
    """Return ``answer`` if the student gave one (not ``None``), else ``solution``; print which."""
    if answer is None:
        print(f"{label}: no answer yet, checking the hidden solution")
        return solution
    print(f"{label}: checking your answer")
    return answer


def answered(answer: object, label: str = "Exercise") -> bool:
    """``True`` if the student gave an answer (not ``None``); else print "not attempted yet".

    The check cell of a number exercise reads ``if answered(ex2_answer, "Exercise 2"):`` followed by
    its asserts and ``print("Exercise 2: correct")``.  In the book the solution region of the answer
    cell fills ``ex2_answer``; in the student edition that region is cut, the answer stays ``None``
    and the notebook still runs top to bottom.
    """
    if answer is None:
        print(f"{label}: not attempted yet")
        return False
    return True
