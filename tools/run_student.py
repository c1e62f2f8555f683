"""Build the student edition and run every student notebook top to bottom (CI's `make student-test`).

    .venv/bin/python tools/run_student.py              # all lessons, 2 at a time
    .venv/bin/python tools/run_student.py --jobs 1 notebooks/02_*.ipynb

A student notebook passes when every cell runs without an error and every check cell (tag ``check``
or nbgrader ``grade`` metadata) reports "not attempted yet": with the solutions cut, a check that
passes or fails would mean a solution survived or a check depends on one.  A failure names the
notebook, the cell (its number and first line) and the error.  The notebooks are executed in memory
with nbclient in ``build/student/`` (their own folder); nothing is written back.  Exits non-zero if
any notebook fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_student

NOT_ATTEMPTED = "not attempted yet"


def _first_line(cell: Any) -> str:
    lines = [line for line in cell.source.split("\n") if line.strip()]
    return lines[0].strip()[:80] if lines else "(empty)"


def _text(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def run_one(path: Path, timeout: int = 600) -> tuple[str, float, str | None]:
    """Execute one student notebook; return ``(name, seconds, None or what went wrong)``."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    problem = None
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    except Exception as error:  # a cell error, a timeout or a dead kernel: report it, go on with the rest
        problem = f"{type(error).__name__}"
        for index, cell in enumerate(nb.cells, start=1):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                problem = f"cell {index} ({_first_line(cell)}): {errors[0]['ename']}: {errors[0]['evalue']}"
                break
        else:
            problem += f": {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
    if problem is None:
        for index, cell in enumerate(nb.cells, start=1):
            if (
                cell.cell_type == "code"
                and make_student.is_check_cell(cell)
                and NOT_ATTEMPTED not in _text(cell)
            ):
                shown = _text(cell).strip().replace("\n", " | ")[:120] or "nothing"
                problem = (
                    f"check cell {index} ({_first_line(cell)}) printed {shown!r}, not {NOT_ATTEMPTED!r}: "
                    "a solution survived the cut or the check does not depend on the exercise"
                )
                break
    return path.name, time.perf_counter() - start, problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="book notebooks; default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=make_student.ROOT / "build" / "student")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at a time (default 2)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((make_student.ROOT / "notebooks").glob("[0-9]*.ipynb"))

    start = time.perf_counter()
    try:
        reports = make_student.build(paths, args.out, prune=not args.notebooks, quiet=True)
    except make_student.MarkerError as error:
        print(f"student edition: cannot build: {error}", file=sys.stderr)
        return 1
    print(f"student edition: built {len(reports)} notebooks in {time.perf_counter() - start:.1f} s")

    failed = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, seconds, problem in pool.map(run_one, sorted(reports)):
            print(f"  {name}: {'ok' if problem is None else 'FAILED'} ({seconds:.1f} s)", flush=True)
            if problem is not None:
                print(f"    {problem}", flush=True)
                if reports[args.out / name].legacy:
                    print(
                        "    (this lesson still has legacy `solution` cells: convert it to solution regions)"
                    )
                failed.append(name)
    total = time.perf_counter() - start
    ran = len(reports) - len(failed)
    print(f"student edition: {ran} notebooks ran, {len(failed)} failed ({total:.0f} s wall)")
    for name in failed:
        print(f"student edition: FAILED {args.out / name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
