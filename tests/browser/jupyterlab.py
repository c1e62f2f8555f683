"""JupyterLab on 127.0.0.1 driven by Debian's Chromium: the launcher the browser tests and
``benchmarks/explorer_latency.py`` share.

:func:`start_lab` starts a server from this environment on a free port with a random token,
``--ServerApp.port_retries=0`` (a busy port fails instead of silently moving), ``--allow-root``
when running as root, whose root directory is a temporary copy of a notebook folder (Lab autosaves:
the committed notebooks are never touched).  User settings live in a temporary directory too: no
autosave, no news/update checks, no extension manager.  :func:`stop_lab` shuts the server and its
kernels down.  :func:`run_all_cells` and :func:`wait_for_idle_kernel` drive an open notebook.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
IDLE = "Python 3 (ipykernel) | Idle"


@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (``CHROMIUM``, ``CHROMIUM_FLAGS``); closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


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


def start_lab(notebooks: Path, base: Path) -> Lab:
    """Copy ``notebooks`` under ``base`` and serve the copy (settings, workspaces, runtime under ``base``)."""
    root = base / "notebooks"
    shutil.copytree(notebooks, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
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
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, process=process, log=log)
    try:
        _wait_until_up(lab)
    except BaseException:
        stop_lab(lab)
        raise
    return lab


def stop_lab(lab: Lab) -> None:
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


def wait_for_idle_kernel(page) -> None:
    page.locator(".jp-StatusBar-Widget", has_text=IDLE).first.wait_for(state="visible")


# Run All is over when no cell waits or runs ([*]) and the kernel has stayed idle this long.
SETTLE_S = 1.0
_ALL_RUN = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def run_all_cells(page, timeout_ms: int = 240_000, settle_s: float = SETTLE_S) -> None:
    """Run > Run All Cells, then wait until every code cell has an execution count and the kernel
    has stayed idle, with every cell numbered, for ``settle_s`` on end (Run All flashes Idle
    between cells; polled every 0.1 s, so a flash cannot pass for the end of the run)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(_ALL_RUN, timeout=timeout_ms)
    idle = page.locator(".jp-StatusBar-Widget", has_text=IDLE).first
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while True:
        now = time.monotonic()
        if idle.is_visible() and page.evaluate(_ALL_RUN):
            quiet_since = now if quiet_since is None else quiet_since
            if now - quiet_since >= settle_s:
                return
        else:
            quiet_since = None
            if now > deadline:
                raise TimeoutError(f"the notebook did not settle within {timeout_ms / 1000:.0f} s")
        time.sleep(0.1)


def open_and_run(page, lab: Lab, notebook: str) -> dict:
    """Open ``notebook`` in ``page``, wait for its kernel, Run All; returns the seconds each step took."""
    timings = {}
    start = time.perf_counter()
    page.goto(lab.notebook_url(notebook))
    wait_for_idle_kernel(page)
    timings["open"] = time.perf_counter() - start
    run_all_cells(page)
    timings["run all"] = time.perf_counter() - start - timings["open"]
    return timings


class NotebookTabs:
    """One browser tab at a time, on one notebook that has been opened and run once.

    :meth:`open` returns the tab already showing ``notebook`` when the previous caller asked for the
    same one (tests of one notebook, placed next to each other, share its single Run All), otherwise
    closes the tab (its browser context and every kernel) and opens and runs the notebook in a fresh
    context.  :meth:`close` forgets the tab: the next :meth:`open` starts afresh.
    """

    def __init__(self, browser, lab: Lab, viewport: dict | None = None) -> None:
        self.browser = browser
        self.lab = lab
        self.viewport = viewport or {"width": 1400, "height": 1000}
        self.notebook: str | None = None
        self.context: Any = None  # a playwright BrowserContext once open
        self.page: Any = None  # a playwright Page once open

    def open(self, notebook: str, prepare=None) -> tuple:
        """``(page, timings)``; ``timings`` is empty when the tab was reused.  ``prepare(root)``
        (if given) runs before a fresh open, e.g. to write the notebook into the server's root."""
        if self.page is not None and self.notebook == notebook:
            return self.page, {}
        self.close()
        if prepare is not None:
            prepare(self.lab.root)
        self.context = self.browser.new_context(viewport=self.viewport)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.notebook = notebook
        try:
            timings = open_and_run(self.page, self.lab, notebook)
        except BaseException:
            self.close()
            raise
        return self.page, timings

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.lab.stop_kernels()
        self.notebook = self.context = self.page = None
