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
from dataclasses import dataclass
from pathlib import Path

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


def run_all_cells(page, timeout_ms: int = 240_000, settle_s: float = 2.0) -> None:
    """Run > Run All Cells, then wait until every code cell has an execution count and the kernel
    has stayed idle for ``settle_s`` (Run All flashes Idle between cells)."""
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
    time.sleep(settle_s)
    wait_for_idle_kernel(page)
