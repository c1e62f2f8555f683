"""The machinery every graded exercise shares: cases, comparison, messages that teach.

An :class:`Exercise` holds the text of the signature a student implements, a ``reference`` with that
signature (the instructor's solution, for tests and for instructors), a seeded list of
:class:`Case` s, and an ``oracle`` that computes the expected result of a case by an *independent*
route (a looped formula, ``scipy.signal.correlate2d``, finite differences, the explicit matrices)
rather than by the function being taught.

``exercise.check(fn)`` runs ``fn`` on every case, smallest first, and

* prints one line with the number of cases when all pass, and returns ``True``;
* prints ``"<name>: not attempted yet"`` and returns ``False`` when ``fn`` still raises
  ``NotImplementedError`` (a student notebook runs top to bottom before any work is done);
* raises ``AssertionError`` otherwise, naming the smallest failing case (shapes and
  hyper-parameters), what went wrong (an exception, a wrong shape, an input changed in place, or
  the largest error, where it is, and how many entries are off), a diagnosis when the result
  matches a known mistake, and, inside a notebook, a drawing of the error map.

Values pass when ``|obtained - expected| <= atol + rtol * |expected|`` entry by entry (NumPy's
``isclose``), with the tolerances stated on every line the grader prints.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EXERCISES", "Case", "Exercise", "Mistake", "check", "register"]


@dataclass(frozen=True)
class Case:
    """One graded call ``fn(*args, **kwargs)``.

    ``label`` names the case for a human (shapes and hyper-parameters), ``size`` orders the cases
    so that the smallest failing one is reported.
    """

    label: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    size: int = 0


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation, used only to explain a failure.

    ``compute(case)`` returns what the mistaken code would return; when a student's result matches
    it (within the exercise's tolerance), the failure message adds ``explanation``.
    """

    explanation: str
    compute: Callable[[Case], Any]


@dataclass(frozen=True)
class Exercise:
    """A graded implementation exercise.

    ``outputs`` names the returned arrays in order (one name: the function returns one array;
    several: it returns a tuple of that length).
    """

    name: str
    lesson: str
    signature: str
    reference: Callable[..., Any]
    cases: Callable[[], Sequence[Case]]
    oracle: Callable[[Case], Any]
    outputs: tuple[str, ...] = ("result",)
    rtol: float = 1e-6
    atol: float = 1e-9
    mistakes: tuple[Mistake, ...] = ()

    @property
    def tolerance(self) -> str:
        """The stated tolerance, as every message prints it."""
        return f"|obtained - expected| <= {self.atol:g} + {self.rtol:g}·|expected|"

    def check(self, fn: Callable[..., Any], *, draw: bool = True) -> bool:
        """Grade ``fn`` (see the module docstring); ``draw=False`` never draws the error map."""
        if not callable(fn):
            raise TypeError(f"fn must be a function, got {type(fn).__name__}")
        cases = sorted(self.cases(), key=lambda case: case.size)
        for number, case in enumerate(cases, start=1):
            problem = self._grade(fn, case)
            if problem is _NOT_ATTEMPTED:
                print(f"{self.name}: not attempted yet (the function still raises NotImplementedError)")
                return False
            if problem is not None:
                text, error_map = problem
                header = (
                    f"{self.name} is wrong on case {number} of {len(cases)}, the smallest that fails:\n"
                    f"  case: {case.label}\n"
                )
                if draw and error_map is not None:
                    _show_error_map(self.name, case.label, *error_map)
                raise AssertionError(header + text)
        print(f"{self.name}: correct on all {len(cases)} cases ({self.tolerance})")
        return True

    def _grade(self, fn: Callable[..., Any], case: Case) -> Any:
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(dict(case.kwargs))
        try:
            obtained = fn(*args, **kwargs)
        except NotImplementedError:
            return _NOT_ATTEMPTED
        except Exception as error:  # a student's bug: report it with the case, do not crash the check
            return f"  it raised {type(error).__name__}: {error}\n", None
        changed = _changed_inputs(case, args, kwargs)
        if changed:
            return f"  it changed its input {changed} in place (exercise functions return new arrays)\n", None
        expected = self.oracle(case)
        problem = compare(expected, obtained, self.outputs, rtol=self.rtol, atol=self.atol)
        if problem is None:
            return None
        text, error_map = problem
        for mistake in self.mistakes:
            if compare(mistake.compute(case), obtained, self.outputs, rtol=self.rtol, atol=self.atol) is None:
                text += f"  diagnosis: the result matches {mistake.explanation}\n"
                break
        return text + f"  tolerance: {self.tolerance}\n", error_map


_NOT_ATTEMPTED = object()


def _changed_inputs(case: Case, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    for position, (before, after) in enumerate(zip(case.args, args)):
        if isinstance(before, np.ndarray) and not np.array_equal(before, after, equal_nan=True):
            return f"argument {position + 1}"
    for key, before in case.kwargs.items():
        if isinstance(before, np.ndarray) and not np.array_equal(before, kwargs[key], equal_nan=True):
            return key
    return ""


def compare(
    expected: Any, obtained: Any, outputs: Sequence[str], *, rtol: float, atol: float
) -> tuple[str, tuple[str, np.ndarray, np.ndarray] | None] | None:
    """``None`` if ``obtained`` matches ``expected``; else ``(message, error map or None)``.

    ``expected`` is one array (``len(outputs) == 1``) or a tuple of ``len(outputs)`` arrays. The
    error map is ``(name, |error| plane, mask of entries off)`` for the 2-D plane holding the largest
    error of the first output that is off.
    """
    if len(outputs) == 1:
        expected, obtained = (expected,), (obtained,)
    elif not isinstance(obtained, tuple | list) or len(obtained) != len(outputs):
        many = isinstance(obtained, tuple | list)
        count = f"{len(obtained)}" if many else f"a {type(obtained).__name__}"
        return f"  it should return {len(outputs)} arrays ({', '.join(outputs)}), got {count}\n", None
    for name, wanted, returned in zip(outputs, expected, obtained):
        want = np.asarray(wanted)
        if returned is None:
            return f"  {name}: it returned None (did the function forget to `return`?)\n", None
        try:
            got = np.asarray(returned, dtype=np.float64)
        except (TypeError, ValueError):
            return f"  {name}: expected an array of numbers, got {type(returned).__name__}\n", None
        if got.shape != want.shape:
            return f"  {name}: expected shape {want.shape}, got shape {got.shape}\n", None
        error = np.abs(got - want)
        off = ~np.isclose(got, want, rtol=rtol, atol=atol)
        if not off.any():
            continue
        excess = np.where(off, np.nan_to_num(error, nan=np.inf) - (atol + rtol * np.abs(want)), -np.inf)
        where = np.unravel_index(int(np.argmax(excess)), want.shape)
        at = ", ".join(str(int(i)) for i in where)
        text = (
            f"  {name}: shape {want.shape} is right, but {int(off.sum())} of {off.size} entries are off;\n"
            f"  largest error {float(error[where]):.3g} at {name}[{at}]: "
            f"expected {float(want[where]):.6g}, got {float(got[where]):.6g}\n"
        )
        error_map = None
        if want.ndim >= 2:
            plane = where[:-2]
            label = f"{name}[{', '.join(str(int(i)) for i in plane)}{', ' if plane else ''}:, :]"
            error_map = (label, error[plane], off[plane])
        return text, error_map
    return None


def _show_error_map(name: str, label: str, plane: str, error: np.ndarray, off: np.ndarray) -> None:
    """Draw ``|obtained - expected|`` over one 2-D plane, entries off the tolerance outlined."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebooks
        return
    if get_ipython() is None:
        return
    import matplotlib.pyplot as plt
    from IPython.display import display

    from ..plot import outline_cells

    h, w = error.shape
    fig, ax = plt.subplots(figsize=(min(2.0 + 0.45 * w, 9.0), min(1.2 + 0.45 * h, 7.0)))
    shown = np.nan_to_num(error, nan=np.nanmax(error[np.isfinite(error)], initial=1.0))
    image = ax.imshow(shown, cmap="Reds", vmin=0.0, vmax=max(float(shown.max()), 1e-12))
    outline_cells(ax, np.argwhere(off), color="black")
    fig.colorbar(image, ax=ax, label="|obtained − expected|")
    ax.set_title(f"{name}: error in {plane}\n{label}", fontsize=9)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    display(fig)
    plt.close(fig)


EXERCISES: dict[str, Exercise] = {}
"""Every graded exercise of the book, by name (filled by the lesson modules of this package)."""


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to :data:`EXERCISES` under its name (names are unique)."""
    if exercise.name in EXERCISES:
        raise ValueError(f"an exercise named {exercise.name!r} is already registered")
    EXERCISES[exercise.name] = exercise
    return exercise


def check(name: str, fn: Callable[..., Any], *, draw: bool = True) -> None:
    """Grade ``fn`` as the exercise ``name`` (see :meth:`Exercise.check`, which also returns the verdict).

    Returns ``None`` so that a notebook's check cell shows the grader's one line and nothing else.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be an exercise name (str), got {type(name).__name__}")
    if name not in EXERCISES:
        raise ValueError(f"name: no exercise {name!r}; the exercises are {', '.join(sorted(EXERCISES))}")
    EXERCISES[name].check(fn, draw=draw)


def labelled(**values: Any) -> str:
    """A case label: ``X (2, 3, 5, 7), stride 2``: arrays by shape, everything else by value."""
    parts = []
    for key, value in values.items():
        shown = tuple(value.shape) if isinstance(value, np.ndarray) else value
        parts.append(f"{key} {shown}")
    return ", ".join(parts)


def sized(arrays: Iterable[Any]) -> int:
    """The total number of entries of the arrays among ``arrays`` (a case's ``size``)."""
    return sum(int(np.size(a)) for a in arrays if isinstance(a, np.ndarray))
