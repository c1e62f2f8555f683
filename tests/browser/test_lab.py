"""The lessons' explorers in a real JupyterLab, driven like a student would.

Opens ``02_stride_and_padding.ipynb`` (a temporary copy) in headless Chromium, runs all cells from
the Run menu, moves the stride slider and then the padding slider one step with the keyboard and
checks that the readout shows the output size :func:`cnnbook.conv_output_size` gives.  Lessons 03
(matrix explorer) and 07 (pool explorer) get the same treatment with one slider each.  Screenshots
go to pytest's tmp dir, and copies to ``/tmp/cnnbook_lab*.png`` for a human to look at.
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

pytestmark = pytest.mark.browser

LESSON = "02_stride_and_padding.ipynb"
IDLE = "Python 3 (ipykernel) | Idle"
SIZE = re.compile(r"output: H' x W' = (\d+) x (\d+)")
# setting (the explorer's `controls` key) -> the slider label the student sees (the lectures' letters)
CONV_SLIDERS = {  # cnnbook.widgets.ConvExplorer (and MatrixExplorer)
    "H": "input rows H",
    "W": "input columns W",
    "kernel_size": "filter size f",
    "stride": "stride s",
    "padding": "padding p",
    "dilation": "dilation d",
}
POOL_SLIDERS = {"H": "input rows H", "W": "input columns W", "kernel_size": "window r", "stride": "stride s"}


def conv_size(s: dict) -> tuple[int, int]:
    geometry = (s["kernel_size"], s["stride"], s["padding"], s["dilation"])
    return conv_output_size(s["H"], *geometry), conv_output_size(s["W"], *geometry)


def pool_size(s: dict) -> tuple[int, int]:
    r, stride = s["kernel_size"], s["stride"]
    return conv_output_size(s["H"], r, stride), conv_output_size(s["W"], r, stride)


@dataclass(frozen=True)
class Case:
    """A lesson with an explorer: its slider labels, the core's size rule, the sliders to move."""

    notebook: str
    sliders: dict[str, str]
    size: Callable[[dict], tuple[int, int]]
    moves: tuple[str, ...]
    shot: Path


LESSON_02 = Case(LESSON, CONV_SLIDERS, conv_size, ("stride", "padding"), Path("/tmp/cnnbook_lab.png"))
OTHER_LESSONS = [
    Case("03_convolution_as_matrix_multiplication.ipynb", CONV_SLIDERS, conv_size, ("stride",),
         Path("/tmp/cnnbook_lab_03.png")),
    Case("07_pooling.ipynb", POOL_SLIDERS, pool_size, ("stride",), Path("/tmp/cnnbook_lab_07.png")),
]  # fmt: skip


def wait_for_idle_kernel(page) -> None:
    page.locator(".jp-StatusBar-Widget", has_text=IDLE).first.wait_for(state="visible")


def run_all_cells(page, timeout_ms: int = 240_000) -> None:
    """Run > Run All Cells, then wait until every code cell has an execution count."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout_ms,
    )
    wait_for_idle_kernel(page)


def slider(explorer, label: str):
    return explorer.locator(
        ".widget-slider", has=explorer.page.locator("label", has_text=re.compile(f"^{label}$"))
    )


def read_settings(explorer, case: Case) -> dict:
    return {
        name: int(slider(explorer, label).locator(".widget-readout").inner_text())
        for name, label in case.sliders.items()
    }


def shown_size(explorer) -> tuple:
    match = SIZE.search(explorer.locator(".cnnbook-output-size").inner_text())
    assert match, "the readout does not show output: H' x W'"
    return int(match[1]), int(match[2])


def pick_key(explorer, case: Case, name: str, settings: dict) -> tuple:
    """ArrowRight or ArrowLeft: the first in-range move that gives a valid, different output size."""
    handle = slider(explorer, case.sliders[name]).locator(".noUi-handle")
    low, high = (round(float(handle.get_attribute(f"aria-value{b}"))) for b in ("min", "max"))
    before = case.size(settings)
    for key, step in (("ArrowRight", 1), ("ArrowLeft", -1)):
        if not low <= settings[name] + step <= high:
            continue
        moved = dict(settings, **{name: settings[name] + step})
        try:
            after = case.size(moved)
        except ValueError:
            continue
        if after != before:
            return key, moved, after
    raise AssertionError(f"no keyboard move of {name} changes the output size from {settings}")


def press_and_check(page, explorer, case: Case, name: str) -> tuple:
    settings = read_settings(explorer, case)
    assert shown_size(explorer) == case.size(settings)
    key, moved, after = pick_key(explorer, case, name, settings)
    handle = slider(explorer, case.sliders[name]).locator(".noUi-handle")
    handle.focus()
    page.keyboard.press(key)
    readout = slider(explorer, case.sliders[name]).locator(".widget-readout")
    page.wait_for_function(
        "([el, v]) => el.textContent.trim() === v", arg=[readout.element_handle(), str(moved[name])]
    )
    text = f"output: H' x W' = {after[0]} x {after[1]}"
    explorer.locator(".cnnbook-output-size", has_text=text).wait_for(timeout=30_000)
    assert read_settings(explorer, case) == moved
    assert shown_size(explorer) == after
    return key, moved, after


def picture_loaded(explorer) -> bool:
    return explorer.locator("img").first.evaluate("img => img.complete && img.naturalWidth > 0")


def explore(page, lab, case: Case, shots: Path) -> dict:
    """Open the lesson, run it, move its sliders; returns what happened (for the report)."""
    timings = {}
    start = time.perf_counter()
    page.goto(lab.notebook_url(case.notebook))
    wait_for_idle_kernel(page)
    timings["open"] = time.perf_counter() - start
    run_all_cells(page)
    timings["run all"] = time.perf_counter() - start - timings["open"]
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, errors.first.inner_text()
    explorer = page.locator(".cnnbook-explorer").first
    explorer.scroll_into_view_if_needed()
    explorer.locator(".cnnbook-output-size").wait_for()
    wait_for_idle_kernel(page)
    page.screenshot(path=str(shots / "lab_before.png"))
    assert picture_loaded(explorer)
    moves = [press_and_check(page, explorer, case, name) for name in case.moves]
    wait_for_idle_kernel(page)  # the picture is sent right after the readout
    timings["keyboard moves"] = time.perf_counter() - start - timings["open"] - timings["run all"]
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "lab_after.png"))
    explorer.screenshot(path=str(shots / "explorer_after.png"))
    assert picture_loaded(explorer)
    shutil.copyfile(shots / "lab_after.png", case.shot)
    return {"moves": moves, "timings": timings}


def run_case(case: Case, lab, page, tmp_path, capsys) -> None:
    start = time.perf_counter()
    result = explore(page, lab, case, tmp_path)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in result["timings"].items())
        print(f"\n[browser] {case.notebook}: {seconds:.1f} s ({steps}); screenshots in {tmp_path}")


def test_lesson02_stride_and_padding_sliders(lab, page, tmp_path, capsys):
    run_case(LESSON_02, lab, page, tmp_path, capsys)


@pytest.mark.parametrize("case", OTHER_LESSONS, ids=lambda c: c.notebook[:2])
def test_matrix_and_pool_explorers(case, lab, page, tmp_path, capsys):
    run_case(case, lab, page, tmp_path, capsys)
