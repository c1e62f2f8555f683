"""Fixtures for the website test (``make book-test``; not part of ``make test``).

* ``site`` (session): ``build/book``, built by ``tools/build_book.py`` unless it is newer than every
  source of the site (the notebooks, ``docs/``, the package, the README and the build scripts);
  ``CNNBOOK_BOOK_REBUILD=1`` forces a build.
* ``server`` (session): ``http.server`` serving the site on 127.0.0.1 (a free port), in a thread.
* ``browser`` (session): Debian's Chromium through Playwright, launched as the JupyterLab browser test
  launches it (never ``playwright install``); skips without it unless ``CNNBOOK_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..browser.conftest import require_browser_tools
from ..browser.jupyterlab import launched_chromium

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "book"
ARTIFACTS = ROOT / "build" / "book-test-artifacts"
SOURCES = ["notebooks/*.ipynb", "docs/**/*", "cnnbook/**/*.py", "README.md", "tools/build_book.py",
           "tools/make_student.py"]  # fmt: skip


def _stale() -> bool:
    index = SITE / "index.html"
    if os.environ.get("CNNBOOK_BOOK_REBUILD") == "1" or not index.is_file():
        return True
    built = index.stat().st_mtime
    return any(p.stat().st_mtime > built for pattern in SOURCES for p in ROOT.glob(pattern) if p.is_file())


@pytest.fixture(scope="session")
def site() -> Path:
    if _stale():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py")], cwd=ROOT, check=True)
    return SITE


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    require_browser_tools()
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
