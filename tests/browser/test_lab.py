"""The lessons' explorers in a real JupyterLab, driven like a student would.

Opens a temporary copy of a lesson in headless Chromium, runs all cells from the Run menu, finds
each slider by its accessible name (``get_by_role("slider", name="stride s")``), moves it one step
with the keyboard and checks that the readout shows the output size the core gives
(:func:`cnnbook.conv_output_size`, or the transposed rule) and that the picture was redrawn.
Lessons 02 (conv explorer), 03 (matrix) and 07 (pool) are used as committed; the three new
explorers run in a notebook written here.  Each notebook is opened and run once per session:
the tests of one notebook share that page (fixture ``tabs``).  One test drags a slider with the
mouse and checks the picture follows before the button is released.  Screenshots go to pytest's
tmp dir, and copies to ``/tmp/cnnbook_lab*.png`` for a human to look at.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnnbook import conv_output_size

from .jupyterlab import wait_for_idle_kernel

pytestmark = pytest.mark.browser

SIZE = re.compile(r"output: H' x W' = (\d+) x (\d+)")
# setting (the explorer's `controls` key) -> the slider's accessible name (the lectures' letters)
CONV_SLIDERS = {
    "H": "input rows H",
    "W": "input columns W",
    "kernel_size": "filter size f",
    "stride": "stride s",
    "padding": "padding p",
    "dilation": "dilation d",
}
POOL_SLIDERS = {"H": "input rows H", "W": "input columns W", "kernel_size": "window r", "stride": "stride s"}
STACK_SLIDERS = {"n": "input size n"} | {
    f"{name}{k}": f"{label}{k}"
    for k in (1, 2, 3)
    for name, label in (
        ("kernel_size", "filter size f"),
        ("stride", "stride s"),
        ("padding", "padding p"),
        ("dilation", "dilation d"),
    )
}
ROUTING_SLIDERS = CONV_SLIDERS
TRANSPOSE_SLIDERS = {
    "m": "input size m",
    "kernel_size": "filter size f",
    "stride": "stride s",
    "padding": "padding p",
    "output_padding": "output_padding op",
    "dilation": "dilation d",
}


def conv_size(s: dict) -> tuple[int, int]:
    geometry = (s["kernel_size"], s["stride"], s["padding"], s["dilation"])
    return conv_output_size(s["H"], *geometry), conv_output_size(s["W"], *geometry)


def pool_size(s: dict) -> tuple[int, int]:
    r, stride = s["kernel_size"], s["stride"]
    return conv_output_size(s["H"], r, stride), conv_output_size(s["W"], r, stride)


def stack_size(s: dict) -> tuple[int, int]:
    n = s["n"]
    for k in (1, 2, 3):
        n = conv_output_size(
            n, *(s[f"{name}{k}"] for name in ("kernel_size", "stride", "padding", "dilation"))
        )
    return n, n


def transpose_size(s: dict) -> tuple[int, int]:
    """The transposed convolution's output size, written out (the inverse of the forward rule)."""
    f, st, p, op, d = (s[k] for k in ("kernel_size", "stride", "padding", "output_padding", "dilation"))
    if op >= max(st, d):
        raise ValueError("output_padding too large")
    n = (s["m"] - 1) * st - 2 * p + d * (f - 1) + op + 1
    if n < 1:
        raise ValueError("empty output")
    return n, n


@dataclass(frozen=True)
class Case:
    """A notebook with an explorer: its slider names, the size rule, the sliders to move."""

    notebook: str
    sliders: dict[str, str]
    size: Callable[[dict], tuple[int, int]]
    moves: tuple[str, ...]
    shot: Path
    index: int = 0  # which explorer of the notebook
    prepare: Callable[[Path], None] | None = None  # writes the notebook into the server's root first


LESSON_02 = Case(
    "02_stride_and_padding.ipynb", CONV_SLIDERS, conv_size, tuple(CONV_SLIDERS), Path("/tmp/cnnbook_lab.png")
)
OTHER_LESSONS = [
    Case(
        "03_convolution_as_matrix_multiplication.ipynb",
        CONV_SLIDERS,
        conv_size,
        ("stride", "padding"),
        Path("/tmp/cnnbook_lab_03.png"),
    ),
    Case("07_pooling.ipynb", POOL_SLIDERS, pool_size, tuple(POOL_SLIDERS), Path("/tmp/cnnbook_lab_07.png")),
]
NEW = "explorers_new.ipynb"


def write_new_explorers_notebook(root: Path) -> None:
    import nbformat

    cells = [
        "from cnnbook.widgets import routing_explorer, stack_explorer, transpose_explorer",
        "stack_explorer()",
        "routing_explorer(stride=2, padding=1)",
        "transpose_explorer()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, root / NEW)


NEW_EXPLORERS = [
    Case(
        NEW,
        STACK_SLIDERS,
        stack_size,
        ("n", "stride1", "dilation3"),
        Path("/tmp/cnnbook_lab_stack.png"),
        0,
        write_new_explorers_notebook,
    ),
    Case(
        NEW,
        ROUTING_SLIDERS,
        conv_size,
        ("stride", "padding"),
        Path("/tmp/cnnbook_lab_routing.png"),
        1,
        write_new_explorers_notebook,
    ),
    Case(
        NEW,
        TRANSPOSE_SLIDERS,
        transpose_size,
        ("stride", "output_padding", "padding"),
        Path("/tmp/cnnbook_lab_transpose.png"),
        2,
        write_new_explorers_notebook,
    ),
]


def slider(explorer, label: str):
    return explorer.get_by_role("slider", name=label, exact=True)


def read_settings(explorer, case: Case) -> dict:
    return {name: int(slider(explorer, label).input_value()) for name, label in case.sliders.items()}


def shown_size(explorer) -> tuple:
    match = SIZE.search(explorer.locator(".cnnbook-output-size").text_content())
    assert match, "the readout does not show output: H' x W'"
    return int(match[1]), int(match[2])


def pick_key(explorer, case: Case, name: str, settings: dict) -> tuple:
    """ArrowRight or ArrowLeft: the first in-range move that gives a valid setting (a changed size
    if there is one)."""
    handle = slider(explorer, case.sliders[name])
    low, high = (int(handle.get_attribute(b)) for b in ("min", "max"))
    before = case.size(settings)
    options = []
    for key, step in (("ArrowRight", 1), ("ArrowLeft", -1)):
        if not low <= settings[name] + step <= high:
            continue
        moved = dict(settings, **{name: settings[name] + step})
        try:
            after = case.size(moved)
        except ValueError:
            continue
        options.append((after == before, key, moved, after))
    assert options, f"no keyboard move of {name} is valid from {settings}"
    _, key, moved, after = sorted(options, key=lambda o: o[0])[0]
    return key, moved, after


def picture(explorer) -> str:
    return explorer.locator(".cnnbook-picture").inner_html()


def press_and_check(page, explorer, case: Case, name: str) -> tuple:
    settings = read_settings(explorer, case)
    assert shown_size(explorer) == case.size(settings)
    key, moved, after = pick_key(explorer, case, name, settings)
    before = picture(explorer)
    handle = slider(explorer, case.sliders[name])
    handle.focus()
    page.keyboard.press(key)
    text = f"output: H' x W' = {after[0]} x {after[1]}"
    explorer.locator(".cnnbook-output-size", has_text=text).wait_for(timeout=10_000)
    assert int(handle.input_value()) == moved[name]
    assert read_settings(explorer, case) == moved
    assert shown_size(explorer) == after
    assert picture(explorer) != before, "the picture was not redrawn"
    return key, moved, after


def open_run_and_check(tabs, notebook: str, prepare=None) -> tuple:
    """The page showing ``notebook`` after Run All (shared with the previous test of the same
    notebook), and the seconds opening and running took (empty when shared); no cell failed."""
    page, timings = tabs.open(notebook, prepare)
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, errors.first.inner_text()
    return page, timings


def explore(tabs, case: Case, shots: Path) -> dict:
    """Open the notebook, run it, move its sliders; returns what happened (for the report)."""
    page, timings = open_run_and_check(tabs, case.notebook, case.prepare)
    explorer = page.locator(".cnnbook-explorer").nth(case.index)
    explorer.scroll_into_view_if_needed()
    explorer.locator(".cnnbook-picture svg").first.wait_for()
    # the static picture shown before the live widget is hidden once the widget renders
    static = page.locator('img[alt^="cnnbook explorer"]')
    assert static.count() >= 1 and not static.nth(case.index).is_visible()
    page.screenshot(path=str(shots / "lab_before.png"))
    start = time.perf_counter()
    moves = [press_and_check(page, explorer, case, name) for name in case.moves]
    timings["keyboard moves"] = time.perf_counter() - start
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "lab_after.png"))
    explorer.screenshot(path=str(shots / "explorer_after.png"))
    shutil.copyfile(shots / "explorer_after.png", case.shot)
    return {"moves": moves, "timings": timings}


def run_case(case: Case, tabs, tmp_path, capsys) -> None:
    start = time.perf_counter()
    result = explore(tabs, case, tmp_path)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        timings = result["timings"]
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        shared = "" if "run all" in timings else "the run shared with the previous test, "
        print(
            f"\n[browser] {case.notebook}[{case.index}]: {seconds:.1f} s ({shared}{steps}); "
            f"screenshots in {tmp_path}"
        )


# Tests of one notebook stay next to each other: they share its page and its Run All (``tabs``).
# The drag runs first on lesson 02: its fixed expectations (three sizes seen, a cell other than
# S1,1 chosen) hold for the state Run All leaves; the keyboard test reads whatever state it finds.


def test_picture_follows_a_drag_and_a_hover(tabs):
    """Drag lesson 02's stride slider: the readout and picture change before the mouse is released;
    hovering an output cell outlines its receptive field; clicking it chooses it."""
    page, _ = open_run_and_check(tabs, LESSON_02.notebook)
    explorer = page.locator(".cnnbook-explorer").first
    explorer.scroll_into_view_if_needed()
    handle = slider(explorer, "stride s")
    box = handle.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    seen = []
    for k in range(1, 9):
        page.mouse.move(box["x"] + box["width"] * k / 8, y, steps=2)
        page.wait_for_timeout(60)
        seen.append((handle.input_value(), shown_size(explorer)))
    page.mouse.up()
    sizes = {size for value, size in seen}
    assert len(sizes) >= 3, f"the readout did not follow the drag: {seen}"
    for value, size in seen:  # each frame shown during the drag matches the slider under the mouse
        s = read_settings(explorer, LESSON_02) | {"stride": int(value)}
        assert size == conv_size(s)
    # hover: the chosen output moves to the hovered cell, its field is outlined on the input
    cells = explorer.locator(".cnnbook-picture .cnnbook-cell")
    cells.last.hover()
    readout = explorer.locator(".cnnbook-readout").text_content()
    assert re.search(r"outlined: output S(\d+),(\d+)", readout)
    cells.last.click()
    wait_for_idle_kernel(page)
    i = int(slider(explorer, "output row i").input_value())
    j = int(slider(explorer, "output column j").input_value())
    assert f"outlined: output S{i},{j} " in explorer.locator(".cnnbook-readout").text_content()
    assert (i, j) != (1, 1)


def test_lesson02_every_slider(tabs, tmp_path, capsys):
    run_case(LESSON_02, tabs, tmp_path, capsys)


@pytest.mark.parametrize("case", OTHER_LESSONS, ids=lambda c: c.notebook[:2])
def test_matrix_and_pool_explorers(case, tabs, tmp_path, capsys):
    run_case(case, tabs, tmp_path, capsys)


@pytest.mark.parametrize("case", NEW_EXPLORERS, ids=["stack", "routing", "transpose"])
def test_new_explorers(case, tabs, tmp_path, capsys):
    run_case(case, tabs, tmp_path, capsys)
