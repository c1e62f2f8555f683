"""The student edition (tools/make_student.py): solutions absent, stubs that run, outputs kept or cleared.

Small notebooks are built here with nbformat, cut, and their cells executed in-process; the real
lessons are cut without execution (CI's `make student-test` executes every student notebook).
When nbgrader is installed (the `instructor` extra; CI sets CNNBOOK_REQUIRE_NBGRADER=1), its own
preprocessors check that the book's marking is a valid nbgrader source and that nbgrader would cut
exactly the lines the edition cuts.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
BOOK = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_student", module)
    spec.loader.exec_module(module)
    return module


ms = _load_tool()
cut_notebook, MarkerError = ms.cut_notebook, ms.MarkerError


def _solution_meta(grade_id):
    return {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True}


def _grade_meta(grade_id):
    return {
        "grade": True,
        "grade_id": grade_id,
        "locked": True,
        "points": 1,
        "schema_version": 3,
        "solution": False,
    }


def _exercise(source, grade_id, tags=("exercise",), outputs=()):
    cell = new_code_cell(source, metadata={"nbgrader": _solution_meta(grade_id), "tags": list(tags)})
    cell.outputs = list(outputs)
    cell.execution_count = 3
    return cell


def _check(source, grade_id, text, tags=("check",)):
    cell = new_code_cell(source, metadata={"nbgrader": _grade_meta(grade_id), "tags": list(tags)})
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    cell.execution_count = 4
    return cell


CONV_SOLUTION = """\
    N, C, H, W = X.shape
    K, _, fh, fw = F.shape
    (sh, sw), (ph, pw) = stride, padding
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho, Wo = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    S = np.empty((N, K, Ho, Wo))
    for y in range(Ho):
        for x in range(Wo):
            window = Xp[:, None, :, y * sh : y * sh + fh, x * sw : x * sw + fw]
            S[:, :, y, x] = (window * F[None]).sum(axis=(2, 3, 4)) + b
    return S"""


def book() -> nbformat.NotebookNode:
    """A small lesson in the issue-11 convention: one code exercise, one number exercise, plain cells."""
    plain = new_code_cell("print(sum(range(5)))")
    plain.outputs = [new_output("stream", name="stdout", text="10\n")]
    plain.execution_count = 2
    figure = new_code_cell("None", metadata={"tags": ["figure"]})
    figure.outputs = [new_output("execute_result", data={"text/plain": "'a figure'"}, execution_count=5)]
    figure.execution_count = 5
    return new_notebook(
        cells=[
            new_markdown_cell("# A lesson\n\n### Your turn: the convolution with loops"),
            new_code_cell(
                "import numpy as np\n\n"
                "from cnnbook.exercises import answered\n"
                "from cnnbook.grading import check"
            ),
            plain,
            _exercise(
                "def conv2d_loops(X, F, b, stride, padding):\n"
                '    """Shapes: X (N, C, H, W), F (K, C, fh, fw), b (K,) -> S (N, K, H\', W\')."""\n'
                "    ### BEGIN SOLUTION\n" + CONV_SOLUTION + "\n    ### END SOLUTION",
                "conv2d_loops",
            ),
            _check(
                'check("conv2d_loops", conv2d_loops)',
                "conv2d_loops_check",
                "conv2d_loops: correct on all 10 cases\n",
            ),
            figure,
            _exercise(
                "ex1_answer = None  # your answer here\n"
                "### BEGIN SOLUTION\n"
                "ex1_answer = 2 * 3 * 7\n"
                "### END SOLUTION",
                "ex1",
                outputs=[new_output("stream", name="stdout", text="a leak\n")],
            ),
            _check(
                'if answered(ex1_answer, "Exercise 1"):\n'
                '    assert ex1_answer == len([n for n in range(1, 43)]), "count again"\n'
                '    print("Exercise 1: correct")',
                "ex1_check",
                "Exercise 1: correct\n",
            ),
            new_markdown_cell("## Summary"),
        ],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    )


def run_cells(nb, capsys) -> tuple[dict, list[str]]:
    """Run the code cells of ``nb`` in one namespace, as a kernel would; return it and each cell's stdout."""
    namespace: dict = {}
    printed = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, "<cell>", "exec"), namespace)
            printed.append(capsys.readouterr().out)
    return namespace, printed


def test_the_book_itself_runs_and_passes_its_checks(capsys):
    _, printed = run_cells(book(), capsys)
    assert printed[3].startswith("conv2d_loops: correct on all ")
    assert printed[-1] == "Exercise 1: correct\n"


def test_solution_regions_are_absent():
    student, report = cut_notebook(book())
    text = nbformat.writes(student)
    assert "SOLUTION" not in text
    assert "ex1_answer = 2 * 3 * 7" not in text
    assert all(line.strip() not in text for line in CONV_SOLUTION.splitlines())
    assert report.regions == 2 and report.stubs == ["conv2d_loops"]


def test_function_stub_raises_at_the_body_indentation():
    student, _ = cut_notebook(book())
    source = student.cells[3].source
    assert (
        source.splitlines()[-1]
        == '    raise NotImplementedError("Your turn: write the body of conv2d_loops")'
    )
    tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.FunctionDef) and ast.get_docstring(tree.body[0])
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(NotImplementedError, match="Your turn"):
        namespace["conv2d_loops"](None, None, None, (1, 1), (0, 0))


def test_student_notebook_runs_and_checks_report_not_attempted(capsys):
    student, _ = cut_notebook(book())
    namespace, printed = run_cells(student, capsys)
    assert namespace["ex1_answer"] is None
    assert printed[3] == "conv2d_loops: not attempted yet (the function still raises NotImplementedError)\n"
    assert printed[-1] == "Exercise 1: not attempted yet\n"


def test_number_answer_stays_none_with_a_place_to_write():
    student, _ = cut_notebook(book())
    assert student.cells[6].source == "ex1_answer = None  # your answer here\n# YOUR ANSWER HERE"


def test_exercise_and_check_outputs_cleared_others_kept():
    original = book()
    student, report = cut_notebook(original)
    assert len(student.cells) == len(original.cells)
    for before, after in zip(original.cells, student.cells):
        assert after.metadata == before.metadata  # nbgrader metadata and tags stay: a valid nbgrader source
        if ms.is_exercise_cell(before) or ms.is_check_cell(before):
            assert after.outputs == [] and after.execution_count is None
        else:
            assert after == before
    assert report.cleared == 4


def test_cells_marked_by_nbgrader_metadata_or_by_tag_alone_are_cleared():
    nb = book()
    nb.cells[4].metadata.pop("tags")  # a check known by its nbgrader metadata only
    nb.cells[7].metadata.pop("nbgrader")  # a check known by its tag only
    student, _ = cut_notebook(nb)
    assert student.cells[4].outputs == [] and student.cells[7].outputs == []


def test_regions_in_methods_and_nested_functions_get_their_indentation():
    source = (
        "class Layer:\n"
        "    def forward(self, X):\n"
        "        def inner(x):\n"
        "            ### BEGIN SOLUTION\n"
        "            return 2 * x\n"
        "            ### END SOLUTION\n"
        "\n"
        "        return inner(X)"
    )
    cut, stubs, regions = ms.cut_source(source)
    assert stubs == ["inner"] and regions == 1
    assert '            raise NotImplementedError("Your turn: write the body of inner")' in cut.splitlines()
    namespace: dict = {}
    exec(cut, namespace)
    with pytest.raises(NotImplementedError):
        namespace["Layer"]().forward(1)


def test_legacy_solution_cells_are_removed_and_their_checks_cleared():
    nb = book()
    legacy = new_code_cell("ex2_solution = 33", metadata={"tags": ["solution"]})
    check = new_code_cell('ex2 = answer_or_solution(ex2_answer, ex2_solution, "Exercise 2")\nassert ex2 > 0')
    check.outputs = [new_output("stream", name="stdout", text="Exercise 2: correct\n")]
    nb.cells += [new_code_cell("ex2_answer = None", metadata={"tags": ["exercise"]}), legacy, check]
    student, report = cut_notebook(nb)
    assert report.legacy == 1
    assert len(student.cells) == len(nb.cells) - 1
    assert "ex2_solution = 33" not in nbformat.writes(student)
    assert student.cells[-1].outputs == []


UNBALANCED = {
    "begin without end": ("def f():\n    ### BEGIN SOLUTION\n    return 1", r"cell 2, line 2: .*without an"),
    "end without begin": ("def f():\n    return 1\n    ### END SOLUTION", r"cell 2, line 3: .*without a"),
    "nested": (
        "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
        r"cell 2, line 3: .*inside the region opened at line 2",
    ),
    "marker not alone": (
        "x = None\n### BEGIN SOLUTION x = 1\n### END SOLUTION",
        r"cell 2, line 2: a solution marker must stand alone",
    ),
    "indented outside a function": (
        "x = None\nif True:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION",
        r"cell 2, line 3: an indented solution region must be a function body",
    ),
}


@pytest.mark.parametrize("case", sorted(UNBALANCED))
def test_bad_markers_are_refused_naming_notebook_cell_and_line(case):
    source, message = UNBALANCED[case]
    nb = new_notebook(cells=[new_markdown_cell("intro"), _exercise(source, "f")])
    with pytest.raises(MarkerError, match=r"lesson\.ipynb, " + message):
        cut_notebook(nb, name="lesson.ipynb")


def test_a_region_outside_an_nbgrader_solution_cell_is_refused():
    nb = new_notebook(cells=[new_code_cell("x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    with pytest.raises(MarkerError, match="cell 1: a solution region in a cell without nbgrader solution"):
        cut_notebook(nb)


def test_a_top_level_region_may_not_take_a_name_later_cells_need():
    nb = book()
    nb.cells[6].source = "### BEGIN SOLUTION\nex1_answer = 42\n### END SOLUTION"
    with pytest.raises(
        MarkerError, match=r"cell 7: the solution region binds ex1_answer, which a later cell"
    ):
        cut_notebook(nb)


def test_names_local_to_a_comprehension_or_function_in_a_region_are_not_lost():
    nb = book()
    nb.cells[6].source = (
        "ex1_answer = None\n### BEGIN SOLUTION\n"
        "ex1_answer = len({s for s in range(42)})\n"
        "def helper(ex1_check):\n    return ex1_check\n"
        "### END SOLUTION"
    )
    nb.cells[7].source = "s = 3\nex1_check = 1\n" + nb.cells[7].source
    student, _ = cut_notebook(nb)
    assert student.cells[6].source == "ex1_answer = None\n# YOUR ANSWER HERE"


def test_duplicate_grade_ids_are_refused():
    nb = book()
    nb.cells[7].metadata["nbgrader"]["grade_id"] = "conv2d_loops_check"
    with pytest.raises(
        MarkerError, match="cell 8: nbgrader grade_id 'conv2d_loops_check' is already used by cell 5"
    ):
        cut_notebook(nb)


def test_cutting_is_idempotent_and_leaves_the_book_unchanged():
    original = book()
    kept = copy.deepcopy(original)
    once, _ = cut_notebook(original)
    twice, report = cut_notebook(once)
    assert twice == once and original == kept
    assert report.regions == 0 and report.cleared == 0


def test_build_writes_identical_files_twice_and_refuses_before_writing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(book(), src / "01_a.ipynb")
    out = tmp_path / "student"
    ms.build([src / "01_a.ipynb"], out, quiet=True)
    first = (out / "01_a.ipynb").read_bytes()
    ms.build([src / "01_a.ipynb"], out, quiet=True)
    assert (out / "01_a.ipynb").read_bytes() == first
    bad = book()
    bad.cells[3].source = bad.cells[3].source.replace("    ### END SOLUTION", "")
    nbformat.write(bad, src / "02_b.ipynb")
    with pytest.raises(MarkerError, match=r"02_b\.ipynb, cell 4, line 3"):
        ms.build([src / "01_a.ipynb", src / "02_b.ipynb"], out, quiet=True)
    assert sorted(p.name for p in out.iterdir()) == ["01_a.ipynb"]


def test_the_command_line_reports_a_marker_error_and_exits_non_zero(tmp_path, capsys):
    bad = book()
    bad.cells[6].source += "\n### END SOLUTION"
    nbformat.write(bad, tmp_path / "03_c.ipynb")
    assert ms.main([str(tmp_path / "03_c.ipynb"), "--out", str(tmp_path / "out")]) == 1
    assert "03_c.ipynb, cell 7, line 5: '### END SOLUTION' without a" in capsys.readouterr().err


@pytest.fixture(scope="module")
def real_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, ms.build(BOOK, out, quiet=True)


def test_every_real_lesson_is_cut_without_a_solution_left(real_edition):
    out, _ = real_edition
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in BOOK]
    for path in BOOK:
        text = (out / path.name).read_text()
        assert not re.search(r"(BEGIN|END) SOLUTION", text), path.name
        student = nbformat.reads(text, as_version=4)
        assert not any("solution" in c.metadata.get("tags", []) for c in student.cells), path.name


def test_real_lessons_keep_every_other_cell_as_in_the_book(real_edition):
    out, _ = real_edition
    for path in BOOK:
        original = nbformat.read(path, as_version=4)
        student = nbformat.read(out / path.name, as_version=4)
        assert student.metadata == original.metadata
        by_id = {cell.id: cell for cell in original.cells}
        for cell in student.cells:
            before = by_id[cell.id]
            if (
                ms.is_exercise_cell(before)
                or ms.is_check_cell(before)
                or "answer_or_solution(" in before.source
            ):
                assert cell.get("outputs", []) == [], (path.name, cell.id)
            elif not ms._MARKER.search(before.source):
                assert cell == before, (path.name, cell.id)


def test_real_function_stubs_sit_where_their_regions_were(real_edition):
    out, reports = real_edition
    for path in BOOK:
        original = nbformat.read(path, as_version=4)
        indented = sum(
            len(re.findall(r"^[ \t]+### BEGIN SOLUTION$", c.source, flags=re.M))
            for c in original.cells
            if c.cell_type == "code"
        )
        stubs = nbformat.read(out / path.name, as_version=4)
        raised = sum(c.source.count('raise NotImplementedError("Your turn: ') for c in stubs.cells)
        assert len(reports[out / path.name].stubs) == indented == raised, path.name


# --- nbgrader's own preprocessors (the `instructor` extra; skipped when nbgrader is not installed) ---


def _nbgrader():
    """nbgrader's preprocessors; skip without them (fail under CNNBOOK_REQUIRE_NBGRADER=1, as CI sets)."""
    try:
        return importlib.import_module("nbgrader.preprocessors")
    except ImportError:
        reason = "nbgrader (the instructor extra) is not installed"
        if os.environ.get("CNNBOOK_REQUIRE_NBGRADER") == "1":
            pytest.fail(reason + " -- and CNNBOOK_REQUIRE_NBGRADER=1 forbids skipping", pytrace=False)
        pytest.skip(reason)


def _nbgrader_release(nb):
    """nbgrader's generate_assignment steps that need no database, in its order."""
    pre = _nbgrader()
    nb = copy.deepcopy(nb)
    resources: dict = {}
    for step in (
        pre.CheckCellMetadata(),
        pre.LockCells(),
        pre.ClearSolutions(enforce_metadata=True),
        pre.ClearOutput(),
        pre.ComputeChecksums(),
        pre.CheckCellMetadata(),
    ):
        nb, resources = step.preprocess(nb, resources)
    return nb


def _without_stubs(source):
    stubs = (
        "# YOUR CODE HERE",
        "raise NotImplementedError()",
        ms.ANSWER_STUB,
        'raise NotImplementedError("Your turn',
    )
    return [line for line in source.split("\n") if not line.strip().startswith(stubs)]


@pytest.mark.parametrize("path", [None, *BOOK], ids=["synthetic", *(p.stem[:2] for p in BOOK)])
def test_nbgrader_accepts_the_marking_and_cuts_the_same_lines(path):
    nb = book() if path is None else nbformat.read(path, as_version=4)
    released = _nbgrader_release(nb)
    ours, _ = cut_notebook(nb)
    ours_by_id = {cell.id: cell for cell in ours.cells}
    for cell in released.cells:
        if ms.LEGACY_TAG in cell.metadata.get("tags", []):
            continue  # the old convention: nbgrader does not know it, the edition drops the cell
        assert _without_stubs(cell.source) == _without_stubs(ours_by_id[cell.id].source)
