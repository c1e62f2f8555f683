"""Fixtures for the real-browser tests: JupyterLab on 127.0.0.1 driven by Debian's Chromium.

* ``lab`` (session): a JupyterLab server from this environment on a free port with a random token,
  ``--ServerApp.port_retries=0`` (a busy port fails instead of silently moving), ``--allow-root``
  when running as root, whose root directory is a temporary copy of ``notebooks/`` (Lab autosaves:
  the committed notebooks are never touched).  User settings live in a temporary directory too:
  no autosave, no news/update checks, no extension manager.  The server and its kernels are shut
  down at the end of the session.
* ``browser`` (session): Chromium driven by Python Playwright (``executable_path`` pointing at
  ``/usr/bin/chromium``; never ``playwright install``).
* ``tabs`` (function, over one session-wide :class:`~.jupyterlab.NotebookTabs`): ``tabs.open(name)``
  gives a page on which ``name`` has been opened and run.  Consecutive tests of the same notebook
  share that page and its single Run All (each notebook costs one Lab load, one kernel start and
  one run per session); a test that fails closes it, so the next test starts from a fresh run.

Without Chromium or Playwright the tests skip with the reason; with ``CNNBOOK_REQUIRE_BROWSER=1``
(set by CI) the missing tool is a failure instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from .jupyterlab import CHROMIUM, Lab, NotebookTabs, launched_chromium, start_lab, stop_lab

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def _missing_tools() -> list:
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright is not installed (pip install playwright)")
    return missing


def require_browser_tools() -> None:
    """Skip (or fail, under CNNBOOK_REQUIRE_BROWSER=1) when Chromium or Playwright is missing."""
    missing = _missing_tools()
    if not missing:
        return
    reason = "browser test needs " + "; ".join(missing)
    if os.environ.get("CNNBOOK_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " -- and CNNBOOK_REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    require_browser_tools()
    server = start_lab(NOTEBOOKS, tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="session")
def browser(lab):
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def notebook_tabs(browser, lab):
    tabs = NotebookTabs(browser, lab)
    try:
        yield tabs
    finally:
        tabs.close()


@pytest.fixture
def tabs(notebook_tabs, request):
    failed = request.session.testsfailed
    yield notebook_tabs
    if request.session.testsfailed != failed:  # never hand a half-driven page to the next test
        notebook_tabs.close()
