"""Explorer latency in a real browser: key press -> updated readout and picture, per slider move.

    .venv/bin/python benchmarks/explorer_latency.py [--moves 8] [--lessons 02 03 07] [--notebooks DIR]

Starts JupyterLab on a temporary copy of ``notebooks/`` (or ``--notebooks DIR``) in headless
Debian Chromium (Python Playwright, as ``tests/browser`` does), opens each lesson, runs all cells,
and then moves the lesson's explorer sliders with the keyboard, alternating ArrowRight/ArrowLeft.
For each press the page itself records the time from the ``keydown`` event to the first animation
frame in which the readout's text (except for the seed, which changes only the map) *and* the
picture (the explorer's ``<img>`` source or its drawn SVG) have both changed; the script prints the
median and the maximum per explorer.

Works on both kinds of explorer: the matplotlib-PNG ones (ipywidgets sliders, found by their label)
and the browser-drawn ones (``<input type=range>``, found by accessible name).  This is a benchmark,
not a test: it prints figures and asserts nothing.  Figures from a loaded machine are inflated.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.jupyterlab import (  # noqa: E402
    launched_chromium,
    run_all_cells,
    start_lab,
    stop_lab,
    wait_for_idle_kernel,
)

LESSONS = {
    "02": ("02_stride_and_padding.ipynb", ["stride s", "padding p", "filter size f", "input rows H"]),
    "03": ("03_convolution_as_matrix_multiplication.ipynb", ["stride s", "padding p", "dilation d"]),
    "07": ("07_pooling.ipynb", ["stride s", "window r", "input rows H", "seed"]),
}
# Sliders whose move changes the picture but not the readout's text (a new random map, same sizes).
SAME_READOUT = {"seed"}

# The picture's signature: an <img>'s source or the <svg>'s markup (whichever the explorer shows).
SIGNATURE = """(root) => {
    const readout = root.querySelector('.cnnbook-readout');
    const drawn = root.querySelector('.cnnbook-picture');
    const img = root.querySelector('img');
    const picture = drawn ? drawn.innerHTML : (img ? img.src : '');
    return [readout ? readout.textContent : '', picture];
}"""

ARM = """(root) => {
    window.__cnnbookPress = null;
    document.addEventListener('keydown', () => { window.__cnnbookPress = performance.now(); },
                              {capture: true, once: true});
}"""

DONE = """([root, before, sameReadout]) => {
    if (window.__cnnbookPress === null) return false;
    const readout = root.querySelector('.cnnbook-readout');
    const drawn = root.querySelector('.cnnbook-picture');
    const img = root.querySelector('img');
    const picture = drawn ? drawn.innerHTML : (img ? img.src : '');
    const text = readout ? readout.textContent : '';
    if ((text === before[0] && !sameReadout) || picture === before[1]) return false;
    if (!drawn && img && !(img.complete && img.naturalWidth > 0)) return false;
    return performance.now() - window.__cnnbookPress;
}"""


def handle_for(explorer, label: str):
    """The slider's keyboard handle: an accessible ``slider`` role, else the ipywidgets noUi handle."""
    by_role = explorer.get_by_role("slider", name=re.compile(f"^{re.escape(label)}"))
    if by_role.count() and by_role.first.evaluate("e => e.tagName") == "INPUT":
        return by_role.first
    return explorer.locator(
        ".widget-slider", has=explorer.page.locator("label", has_text=re.compile(f"^{label}$"))
    ).locator(".noUi-handle")


def slider_value(handle) -> tuple[float, float, float]:
    get = handle.get_attribute
    if handle.evaluate("e => e.tagName") == "INPUT":
        return tuple(float(handle.evaluate(f"e => e.{k}")) for k in ("value", "min", "max"))  # type: ignore[return-value]
    return tuple(float(get(f"aria-value{k}") or 0) for k in ("now", "min", "max"))  # type: ignore[return-value]


def measure_lesson(page, lab, notebook: str, labels: list, moves: int) -> dict:
    page.goto(lab.notebook_url(notebook))
    wait_for_idle_kernel(page)
    run_all_cells(page)
    explorer = page.locator(".cnnbook-explorer").first
    explorer.scroll_into_view_if_needed()
    explorer.locator(".cnnbook-readout").first.wait_for()
    root = explorer.element_handle()
    results: dict = {}
    for label in labels:
        handle = handle_for(explorer, label)
        times: list[float] = []
        for _ in range(moves):
            value, low, high = slider_value(handle)
            key = "ArrowRight" if value < high else "ArrowLeft"
            if value > low and len(times) % 2:
                key = "ArrowLeft"
            handle.focus()
            before = page.evaluate(SIGNATURE, root)
            page.evaluate(ARM, root)
            page.keyboard.press(key)
            try:
                done = page.wait_for_function(
                    DONE, arg=[root, before, label in SAME_READOUT], polling="raf", timeout=30_000
                )
            except Exception as exc:
                after = page.evaluate(SIGNATURE, root)
                raise RuntimeError(
                    f"{notebook}: {label} {key} from {value}: readout changed {after[0] != before[0]}, "
                    f"picture changed {after[1] != before[1]}; readout now {after[0][:200]!r}"
                ) from exc
            times.append(float(done.json_value()))
            wait_for_idle_kernel(page)
            page.wait_for_timeout(150)
        results[label] = times
    return results


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=8, help="key presses per slider")
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS), choices=list(LESSONS))
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, launched_chromium() as browser:
        lab = start_lab(args.notebooks, Path(tmp))
        try:
            for key in args.lessons:
                notebook, labels = LESSONS[key]
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(60_000)
                try:
                    results = measure_lesson(page, lab, notebook, labels, args.moves)
                finally:
                    context.close()
                    lab.stop_kernels()
                every = [t for times in results.values() for t in times]
                print(
                    f"lesson {key} ({notebook}): median {statistics.median(every):.0f} ms, "
                    f"max {max(every):.0f} ms over {len(every)} presses",
                    flush=True,
                )
                for label, times in results.items():
                    print(f"    {label:12s}: " + " ".join(f"{t:.0f}" for t in times), flush=True)
        finally:
            stop_lab(lab)


if __name__ == "__main__":
    main()
