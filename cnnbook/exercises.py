"""The check of a number exercise, the same in every lesson.

An exercise has two cells:

1. the answer cell (tag ``exercise``): ``ex2_answer = None  # your answer here`` and, between the
   solution markers, the instructor's ``ex2_answer = ...`` (the student edition cuts that region);
2. the check cell (tag ``check``): ``if answered(ex2_answer, "Exercise 2"):`` then ``assert``s and
   ``print("Exercise 2: correct")``.

Code exercises are graded by :mod:`cnnbook.grading` instead.
"""

from __future__ import annotations

__all__ = ["answered"]


def answered(answer: object, label: str = "Exercise") -> bool:
    """``True`` if the student gave an answer (not ``None``); else print "not attempted yet".

    In the book the solution region of the answer cell fills ``ex2_answer``; in the student edition
    that region is cut, the answer stays ``None`` and the notebook still runs top to bottom.
    """
    if answer is None:
        print(f"{label}: not attempted yet")
        return False
    return True
