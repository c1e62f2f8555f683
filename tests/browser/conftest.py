"""Fixtures for the real-browser tests: JupyterLab on 127.0.0.1 driven by Debian's Chromium.

* ``lab`` (session): a JupyterLab server from this environment on a free port with a random token,
  ``--ServerApp.port_retries=0`` (a busy port fails instead of silently moving), ``--allow-root``
  when running as root, whose root directory is a temporary copy of ``notebooks/`` (Lab autosaves:
  the committed notebooks are never touched).  User settings live in a temporary directory too:
  no autosave, no news/update checks, no extension manager.  The server and its kernels are shut
  down at the end of the session.
* ``page`` (function): a fresh Chromium page (Python Playwright, ``executable_path`` pointing at
  ``/usr/bin/chromium``; never ``playwright install``).

Without Chromium or Playwright the tests skip with the reason; with ``CNNBOOK_REQUIRE_BROWSER=1``
(set by CI) the missing tool is a failure instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = Path(os.environ.get("CNNBOOK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# JSON written as user settings (JUPYTERLAB_SETTINGS_DIR): quiet, no autosave, nothing fetched,
# all cells rendered.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
    # every cell in the DOM, so locators find widgets below the fold
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
STARTUP_TIMEOUT = 90.0


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def notebook_url(self, name: str) -> str:
        # reset: start from an empty workspace, not with the tabs an earlier test left open
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def stop_kernels(self) -> None:
        """Shut down every running kernel (each test starts its notebook's own)."""
        for kernel in json.loads(self.api("/api/kernels")):
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")


def _wait_until_up(lab: Lab) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {lab.process.returncode}:\n{lab.log.read_text()[-3000:]}"
            )
        try:
            json.loads(lab.api("/api/status"))
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError(
        f"JupyterLab did not answer within {STARTUP_TIMEOUT:.0f} s:\n{lab.log.read_text()[-3000:]}"
    )


def _shutdown(lab: Lab) -> None:
    with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
        lab.api("/api/shutdown", method="POST")  # stops the kernels and the server
    try:
        lab.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        lab.process.terminate()
        try:
            lab.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lab.process.kill()
            lab.process.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    require_browser_tools()
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
    )
    token = secrets.token_hex(16)
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = base / "lab.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, process=process, log=log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        _shutdown(server)


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    try:
        yield tab
    finally:
        context.close()
        lab.stop_kernels()
