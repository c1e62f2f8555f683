"""Write the student edition of the book: every lesson with its solutions cut out.

    .venv/bin/python tools/make_student.py            # notebooks/*.ipynb -> build/student/
    .venv/bin/python tools/make_student.py --out DIR notebooks/02_*.ipynb

The book (``notebooks/``) keeps the instructor's solutions in place, marked as nbgrader marks them:

* a code exercise is a function whose body is a region ``### BEGIN SOLUTION`` ... ``### END SOLUTION``;
  the student edition replaces the region by ``raise NotImplementedError("Your turn: ...")`` at the
  region's indentation, so the check cell after it reports "not attempted yet";
* a number exercise is a top-level region below ``exN_answer = None``; the student edition drops the
  region (a ``# YOUR ANSWER HERE`` comment stays in its place), so the answer stays ``None`` and the
  check cell reports "not attempted yet".

The outputs of exercise and check cells (tags ``exercise``/``check``, or nbgrader ``solution``/``grade``
metadata) are cleared; every other cell, its outputs and all metadata are kept as in the book, so the
edition stays a valid nbgrader source too.  Cells of the older convention (tag ``solution``, a whole
cell holding ``exN_solution``) are removed, and the build says which notebooks still have them.

Solutions are removed, not hidden: nothing of a region survives in the written file.  The build
refuses, naming the notebook, the cell and the line, a marker without its partner, a nested
region, a region in a cell without nbgrader solution metadata (nbgrader would refuse it too), an
indented region outside a function body, and a top-level region that binds a name a later cell reads
without the cell binding it before the region (the student edition would lose that name).
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
ANSWER_STUB = "# YOUR ANSWER HERE"
TEXT_STUB = "YOUR ANSWER HERE"
LEGACY_TAG = "solution"

# nbgrader recognises a marker anywhere in a line; so do we, to cut whatever nbgrader would cut.
_MARKER = re.compile(r"(BEGIN|END) SOLUTION")
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)")


class MarkerError(ValueError):
    """A solution region the edition cannot cut safely (the message names notebook, cell and line)."""


@dataclass
class Report:
    """What cutting one notebook did."""

    regions: int = 0
    stubs: list[str] = field(default_factory=list)  # functions whose body became a stub
    cleared: int = 0  # exercise and check cells whose outputs were cleared
    legacy: int = 0  # old-convention `solution` cells removed


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _nbgrader(cell: Any) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_exercise_cell(cell: Any) -> bool:
    """A cell the student writes in: tag ``exercise`` or nbgrader ``solution: true``."""
    return "exercise" in _tags(cell) or bool(_nbgrader(cell).get("solution"))


def is_check_cell(cell: Any) -> bool:
    """A cell that grades the student: tag ``check`` or nbgrader ``grade: true``."""
    return "check" in _tags(cell) or bool(_nbgrader(cell).get("grade"))


def _enclosing_function(lines: list[str], at: int, indent: str) -> str | None:
    """The name of the innermost ``def`` above line ``at`` whose body holds an ``indent`` line."""
    for line in reversed(lines[:at]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < len(indent):
            return match.group(2)
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and len(line) - len(line.lstrip()) == 0:
            return None  # reached top-level code first
    return None


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _bound_names(source: str) -> set[str] | None:
    """Names a piece of top-level code binds in the notebook's namespace (``None`` if it does not parse).

    Names bound inside a function, class, lambda or comprehension stay in that scope and are not counted.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return names


def _read_names(source: str) -> set[str] | None:
    """Names a cell reads (``None`` if it does not parse, e.g. an IPython magic)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def cut_source(source: str, *, code: bool = True, where: str = "cell") -> tuple[str, list[str], int]:
    """Cut the solution regions out of one cell's source.

    Returns ``(new source, functions stubbed, number of regions)``.  In a code cell an indented region
    (a function body) becomes ``raise NotImplementedError("Your turn: ...")`` at its indentation and a
    top-level region becomes :data:`ANSWER_STUB`; in a markdown cell a region becomes
    :data:`TEXT_STUB`.  Raises :class:`MarkerError` naming ``where`` and the line on a marker without
    its partner, a nested region, or an indented region outside a function.
    """
    lines = source.split("\n")
    out: list[str] = []
    stubs: list[str] = []
    regions = 0
    begin_at: int | None = None
    for number, line in enumerate(lines, start=1):
        match = _MARKER.search(line)
        if match is None:
            if begin_at is None:
                out.append(line)
            continue
        if line.strip() not in (BEGIN, END):
            raise MarkerError(
                f"{where}, line {number}: a solution marker must stand alone on its line as "
                f"{BEGIN!r} or {END!r}, got {line.strip()!r}"
            )
        if match.group(1) == "BEGIN":
            if begin_at is not None:
                raise MarkerError(
                    f"{where}, line {number}: {BEGIN!r} inside the region opened at line {begin_at} "
                    f"(regions do not nest; is an {END!r} missing?)"
                )
            begin_at = number
            regions += 1
            indent = line[: len(line) - len(line.lstrip())]
            if not code:
                out.append(indent + TEXT_STUB)
            elif not indent:
                out.append(ANSWER_STUB)
            else:
                name = _enclosing_function(lines, number - 1, indent)
                if name is None:
                    raise MarkerError(
                        f"{where}, line {number}: an indented solution region must be a function body "
                        "(a stub that raises anywhere else would stop the student notebook)"
                    )
                stubs.append(name)
                out.append(f'{indent}raise NotImplementedError("Your turn: write the body of {name}")')
        else:
            if begin_at is None:
                raise MarkerError(f"{where}, line {number}: {END!r} without a {BEGIN!r} before it")
            begin_at = None
    if begin_at is not None:
        raise MarkerError(f"{where}, line {begin_at}: {BEGIN!r} without an {END!r} after it")
    return "\n".join(out), stubs, regions


def _lost_names(source: str, later: Iterable[str]) -> set[str]:
    """Names bound only inside top-level regions of ``source`` that a later cell mentions."""
    lines = source.split("\n")
    inside: list[str] = []
    outside: list[str] = []
    region = False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN and line == stripped:
            region = True
        elif stripped == END and line == stripped:
            region = False
        else:
            (inside if region else outside).append(line)
    if not inside:
        return set()
    bound_inside = _bound_names("\n".join(inside))
    bound_outside = _bound_names("\n".join(outside))
    if bound_inside is None or bound_outside is None:
        return set()
    lost = set()
    for name in bound_inside - bound_outside:
        for source in later:
            read = _read_names(source)
            if (name in read) if read is not None else re.search(rf"\b{re.escape(name)}\b", source):
                lost.add(name)
                break
    return lost


def _clear(cell: Any) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def cut_notebook(nb: Any, name: str = "notebook") -> tuple[Any, Report]:
    """Return the student edition of ``nb`` (a new notebook; ``nb`` is not changed) and a report."""
    nb = copy.deepcopy(nb)
    report = Report()
    kept = []
    grade_ids: dict[str, int] = {}
    for index, cell in enumerate(nb.cells, start=1):
        where = f"{name}, cell {index}"
        if LEGACY_TAG in _tags(cell) and cell.cell_type == "code":
            report.legacy += 1
            continue
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id is not None:
            if grade_id in grade_ids:
                raise MarkerError(
                    f"{where}: nbgrader grade_id {grade_id!r} is already used by cell {grade_ids[grade_id]}"
                )
            grade_ids[grade_id] = index
        if cell.cell_type in ("code", "markdown") and _MARKER.search(cell.source):
            if not _nbgrader(cell).get("solution"):
                raise MarkerError(
                    f"{where}: a solution region in a cell without nbgrader solution metadata "
                    '("nbgrader": {"solution": true, "grade_id": ...}); nbgrader would refuse it too'
                )
            if cell.cell_type == "code":
                later = [c.source for c in nb.cells[index:] if c.cell_type == "code"]
                lost = _lost_names(cell.source, later)
                if lost:
                    names = ", ".join(sorted(lost))
                    raise MarkerError(
                        f"{where}: the solution region binds {names}, which a later cell uses, but the cell "
                        "does not bind it before the region (e.g. `exN_answer = None`): the student edition "
                        "would lose it"
                    )
            cell.source, stubs, regions = cut_source(cell.source, code=cell.cell_type == "code", where=where)
            report.stubs += stubs
            report.regions += regions
        legacy_check = cell.cell_type == "code" and "answer_or_solution(" in cell.source
        if cell.cell_type == "code" and (is_exercise_cell(cell) or is_check_cell(cell) or legacy_check):
            if cell.outputs or cell.execution_count is not None:
                report.cleared += 1
            _clear(cell)
        kept.append(cell)
    nb.cells = kept
    return nb, report


def build(
    paths: Iterable[Path], out: Path, *, prune: bool = False, quiet: bool = False
) -> dict[Path, Report]:
    """Write the student edition of every notebook in ``paths`` into ``out``; return the reports.

    Every notebook is cut before anything is written, so a marker error leaves ``out`` as it was.
    ``prune=True`` also deletes the notebooks in ``out`` that ``paths`` did not produce (a lesson
    renamed or removed from the book).
    """
    editions = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        edition, report = cut_notebook(nb, name=str(path))
        editions.append((path, edition, report))
    out.mkdir(parents=True, exist_ok=True)
    written = {out / path.name for path, _, _ in editions}
    for stale in out.glob("*.ipynb") if prune else ():
        if stale not in written:
            stale.unlink()
    reports = {}
    for path, edition, report in editions:
        target = out / path.name
        nbformat.write(edition, target)
        reports[target] = report
        if not quiet:
            stubs = f" ({', '.join(report.stubs)})" if report.stubs else ""
            print(
                f"{target}: {report.regions} solution regions cut, {len(report.stubs)} function "
                f"stubs{stubs}, {report.cleared} exercise/check outputs cleared"
            )
            if report.legacy:
                print(
                    f"  warning: {report.legacy} legacy `solution` cells removed; this lesson still uses "
                    "the old convention and its checks cannot run in the student edition"
                )
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    start = time.perf_counter()
    try:
        reports = build(paths, args.out, prune=not args.notebooks)
    except MarkerError as error:
        print(f"make_student: {error}", file=sys.stderr)
        return 1
    print(f"student edition: {len(reports)} notebooks in {args.out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
