"""Build the book as an offline static website: ``make book`` -> ``build/book/index.html``.

    .venv/bin/python tools/build_book.py            # stage build/book-src, build build/book
    .venv/bin/python tools/build_book.py --out DIR

Sphinx (sphinx-book-theme, myst-nb, autodoc) renders the **committed** notebooks: nothing is executed,
so the outputs on the site are the outputs strict nbval guards.  The build stages its sources in
``build/book-src`` (``docs/`` is copied, the lessons are prepared as below) and runs ``sphinx-build -W
--keep-going -n``: any warning (a broken cross-reference, a missing image, a docstring Sphinx cannot
parse) fails the build.

What staging does to a lesson (the files in ``notebooks/`` are never touched):

* an exercise cell (a ``### BEGIN SOLUTION`` region) is shown as the student edition has it
  (:func:`make_student.cut_source`), followed by the book's cell folded under "Show the solution";
* an explorer's live widget output is dropped (it needs a kernel) and its static picture is kept, with a
  note that the explorer is live in JupyterLab; other widget outputs (tqdm's bar) are dropped too;
* the ``# NBVAL_...`` directive lines of the test suite are left out of the code shown;
* a line under the title links the lesson's notebook in the student edition (``make_student``) and in
  the book edition, both shipped in the site.

The landing page's lesson list is the README's lesson table (one home for the one-line summaries); the
API reference has a page per public module of :mod:`cnnbook`.
"""

from __future__ import annotations

import argparse
import copy
import os
import pkgutil
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import make_student
import nbformat

ROOT = make_student.ROOT
DOCS = ROOT / "docs"
WIDGET = "application/vnd.jupyter.widget-view+json"
EXPLORER_NOTE = (
    "```{note}\n"
    ":class: explorer-note\n"
    "This is the explorer's starting picture. In JupyterLab (`make lab`) the explorer is live: "
    "move its sliders and the picture and the numbers follow.\n"
    "```"
)
_NBVAL = re.compile(r"^\s*# NBVAL_\w+\s*$")
_LESSON_ROW = re.compile(r"^\| (\d\d) \| \[(.+?)\]\(notebooks/(.+?\.ipynb)\) \| (.+) \|$")
# grading.lessonNN hold each exercise's oracle, not API; their framework is documented instead
_SKIP_MODULES = re.compile(r"(^|\.)_|^cnnbook\.grading\.lesson\d+$")


def lesson_rows(readme: Path) -> list[tuple[str, str, str, str]]:
    """``(number, title, notebook file name, one-line summary)`` for each row of the README's lesson table."""
    rows = [m.groups() for m in map(_LESSON_ROW.match, readme.read_text().splitlines()) if m]
    if not rows:
        raise SystemExit(f"build_book: no lesson table found in {readme}")
    return rows  # type: ignore[return-value]


def _strip_nbval(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if not _NBVAL.match(line))


def _markdown(source: str) -> Any:
    return nbformat.v4.new_markdown_cell(source)


def stage_lesson(nb: Any, name: str) -> Any:
    """The lesson as the website shows it (a new notebook; ``nb`` is not changed)."""
    nb = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            cells.append(cell)
            if index == 0:
                stem = name.removesuffix(".ipynb")
                cells.append(
                    _markdown(
                        f"Download this lesson: {{download}}`student edition <../downloads/student/{name}>` "
                        f"(solutions removed: work in this one) · {{download}}`book edition "
                        f"<../downloads/book/{name}>` (solutions in place, as in `notebooks/{stem}.ipynb`)."
                    )
                )
            continue
        cell.source = _strip_nbval(cell.source)
        explorer = False
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET in data:
                continue
            if str(data.get("text/plain", "")).startswith("cnnbook explorer:"):
                explorer = True
            kept.append(output)
        cell.outputs = kept
        if make_student.BEGIN in cell.source:
            student, _, _ = make_student.cut_source(cell.source, where=f"{name}, cell {index + 1}")
            exercise = nbformat.v4.new_code_cell(student)
            exercise.metadata = {"tags": ["exercise"]}
            cells.append(exercise)
            solution = cell
            tags = [t for t in solution.metadata.get("tags", []) if t != "exercise"]
            solution.metadata["tags"] = [*tags, "hide-input"]
            solution.metadata["mystnb"] = {
                "code_prompt_show": "Show the solution",
                "code_prompt_hide": "Hide the solution",
            }
            cells.append(solution)
        else:
            cells.append(cell)
        if explorer:
            cells.append(_markdown(EXPLORER_NOTE))
    nb.cells = cells
    return nb


def api_pages(src: Path) -> int:
    """Write ``api/index.rst`` (a table of the modules) and an autodoc page per public module; count them."""
    import cnnbook

    names = ["cnnbook"] + [
        m.name
        for m in pkgutil.walk_packages(cnnbook.__path__, "cnnbook.")
        if not _SKIP_MODULES.search(m.name)
    ]
    api = src / "api"
    api.mkdir(parents=True, exist_ok=True)
    index = [
        "API reference",
        "=============",
        "",
        "The package :mod:`cnnbook`, module by module, from its docstrings. The lessons show each",
        "function at work; the README's module table says which lesson uses which module.",
        "",
        ".. autosummary::",
        "",
        *(f"   {name}" for name in names),
        "",
        ".. toctree::",
        "   :hidden:",
        "",
        *(f"   {name}" for name in names),
        "",
    ]
    (api / "index.rst").write_text("\n".join(index))
    for name in names:
        title = f"``{name}``"
        (api / f"{name}.rst").write_text(f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n")
    return len(names)


def stage(src: Path, notebooks: list[Path]) -> None:
    """Write the Sphinx sources of the site into ``src`` (emptied first)."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(DOCS, src)
    rows = lesson_rows(ROOT / "README.md")
    listed = {row[2] for row in rows}
    missing = sorted(p.name for p in notebooks if p.name not in listed)
    if missing:
        raise SystemExit(f"build_book: the README's lesson table does not list {', '.join(missing)}")
    lessons = "\n".join(
        f"- **{number}** · [{title}](lessons/{file}): {summary}"
        for number, title, file, summary in rows
        if (ROOT / "notebooks" / file) in notebooks
    )
    text = (src / "index.md").read_text()
    marker = next(line for line in text.splitlines() if "LESSONS" in line)
    (src / "index.md").write_text(text.replace(marker, lessons))
    (src / "lessons").mkdir()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(stage_lesson(nb, path.name), src / "lessons" / path.name)
    (src / "downloads" / "book").mkdir(parents=True)
    for path in notebooks:
        shutil.copy2(path, src / "downloads" / "book" / path.name)
    make_student.build(notebooks, src / "downloads" / "student", quiet=True)
    api_pages(src)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "build" / "book-src", help="staged sources")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="the website")
    parser.add_argument("-j", "--jobs", default="auto", help="sphinx-build -j (default: auto)")
    args = parser.parse_args(argv)
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    stage(args.src, notebooks)
    if args.out.exists():
        shutil.rmtree(args.out)
    os.environ["CNNBOOK_ROOT"] = str(ROOT)
    doctrees = args.src / ".doctrees"
    options = ["-b", "html", "-W", "--keep-going", "-n", "-q", "-j", str(args.jobs), "-d", str(doctrees)]
    status = build_main([*options, str(args.src), str(args.out)])
    if status:
        print("build_book: the website did not build cleanly (warnings are errors)", file=sys.stderr)
        return status
    pages = len(list(args.out.rglob("*.html")))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(
        f"book: {pages} pages, {size / 2**20:.1f} MiB in {args.out} ({time.perf_counter() - start:.0f} s); "
        f"open {args.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
