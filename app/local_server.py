"""A local app server and the system Chromium, for the browser tests and scripts/measure_app.py.

Not used by the app itself: the shared pieces of ``tests/e2e/conftest.py`` and
``scripts/measure_app.py`` (a free port, the Streamlit flags both start the server with, the
health check, stopping the server's process group, Chromium's flags).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

CHROMIUM = "/usr/bin/chromium"
#: Headless Chromium in a container: no sandbox, no GPU, nothing fetched in the background.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Streamlit options of a test or measurement server (add ``--server.port``).
SERVER_FLAGS = [
    "--server.headless=true",
    "--server.address=127.0.0.1",
    "--server.fileWatcherType=none",
    "--browser.gatherUsageStats=false",
]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_ok(url: str, timeout: float = 2.0) -> bool:
    """True when Streamlit's health endpoint at ``url`` answers ``ok``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (local http URL)
            return resp.status == 200 and resp.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it spawned."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def start_server(
    args: list[str], port: int, cwd: Path | str, log: BinaryIO
) -> subprocess.Popen[bytes]:
    """Start ``args`` (a Streamlit launcher) with :data:`SERVER_FLAGS` on ``port``, in its own
    session (stop it with :func:`kill_group`), its output going to ``log``."""
    return subprocess.Popen(  # noqa: S603 (the caller's fixed command, a local port)
        [*args, *SERVER_FLAGS, f"--server.port={port}"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(
    proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0, poll: float = 0.02
) -> None:
    """Wait until the server at ``url`` answers its health check; RuntimeError if it exits
    first or is not healthy within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not health_ok(f"{url}/_stcore/health"):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was healthy")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server was not healthy after {timeout:.0f} s")
        time.sleep(poll)


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until the app in a Playwright ``page`` is connected and no script run is in
    progress (``timeout`` in ms)."""
    from playwright.sync_api import expect  # (Playwright is a test and measuring tool only)

    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
