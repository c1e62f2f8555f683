"""Graded implementation exercises: the student writes the machinery, a property check grades it.

>>> from cnnbook.grading import check
>>> check("conv2d_loops", my_conv2d_loops)   # doctest: +SKIP
conv2d_loops: correct on all 10 cases (|obtained - expected| <= 1e-09 + 1e-06·|expected|)

:data:`EXERCISES` maps each exercise's name to its :class:`Exercise` (``lesson``, ``signature``,
``reference``, ``check``).  How a check grades, and what it says when code is wrong, is in
:mod:`cnnbook.grading.framework`; the exercises of each lesson live in ``lessonNN`` modules.
"""

from . import lesson02, lesson07, lesson08, lesson09
from .framework import EXERCISES, Case, Exercise, Mistake, check, register

__all__ = [
    "EXERCISES",
    "Case",
    "Exercise",
    "Mistake",
    "check",
    "lesson02",
    "lesson07",
    "lesson08",
    "lesson09",
    "register",
]
