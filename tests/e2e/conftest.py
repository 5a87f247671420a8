"""End-to-end harness: a real Streamlit server driven by Playwright with the system Chromium.

Fixtures
--------
app_url     (session)  URL of a Streamlit server started on a free 127.0.0.1 port, as
                       ``make run`` starts it (``python -m app.serve``, with its warm-up).
browser     (session)  Playwright Chromium launched from /usr/bin/chromium.
page        (function) A fresh page (1280x2400 viewport) in its own browser context.
wait_idle   (function) The ``wait_idle(page)`` helper, as a fixture for test modules.
screenshot  (function) ``screenshot(page, name)`` -> Path under artifacts/screenshots/.

The app path defaults to ``app/main.py`` and can be overridden with the env var
PARITY_E2E_APP (absolute, or relative to the repo root; started with plain ``streamlit run``).
If /usr/bin/chromium is missing the tests are skipped, or fail when PARITY_REQUIRE_E2E=1 (as in
CI).
Never run ``playwright install``: browser downloads are not possible here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.local_server import CHROMIUM as CHROMIUM_PATH
from app.local_server import CHROMIUM_ARGS, free_port, kill_group, start_server, wait_healthy
from tests.e2e.helpers import wait_idle

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS = REPO_ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = Path(CHROMIUM_PATH)
DEFAULT_APP = (REPO_ROOT / "app" / "main.py").resolve()
VIEWPORT = {"width": 1280, "height": 2400}
SERVER_START_TIMEOUT_S = 60.0
E2E_TEST_TIMEOUT_S = 180  # hard per-test cap (pytest-timeout), includes server start-up


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e with ``e2e`` and a hard timeout."""
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(E2E_TEST_TIMEOUT_S))


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Path of the system Chromium; skip (or fail when PARITY_REQUIRE_E2E=1) if missing."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        msg = (
            f"{CHROMIUM} not found: e2e tests need the system Chromium "
            "(`apt-get install -y chromium`; never `playwright install`)"
        )
        if os.environ.get("PARITY_REQUIRE_E2E") == "1":
            pytest.fail(msg + " and PARITY_REQUIRE_E2E=1 is set", pytrace=False)
        pytest.skip(msg)
    return CHROMIUM


def _app_path() -> Path:
    app = Path(os.environ.get("PARITY_E2E_APP", "app/main.py"))
    return (app if app.is_absolute() else REPO_ROOT / app).resolve()


@pytest.fixture(scope="session")
def app_url(chromium_path: Path) -> Iterator[str]:
    """Start ``streamlit run <app>`` on a free port and yield its base URL."""
    app = _app_path()
    if not app.is_file():
        pytest.fail(f"e2e app not found: {app}", pytrace=False)
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "e2e-streamlit.log"
    # The default app starts as `make run` starts it (app/serve.py: `streamlit run
    # app/main.py` plus the warm-up thread); an app given by PARITY_E2E_APP with plain
    # `streamlit run`.
    launcher = ["-m", "app.serve"] if app == DEFAULT_APP else ["-m", "streamlit", "run", str(app)]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = start_server([sys.executable, *launcher], port, REPO_ROOT, log)
        try:
            try:
                wait_healthy(proc, url, SERVER_START_TIMEOUT_S, poll=0.25)
            except RuntimeError as exc:
                pytest.fail(
                    f"streamlit: {exc}; log:\n{log_path.read_text(errors='replace')[-4000:]}",
                    pytrace=False,
                )
            yield url
        finally:
            kill_group(proc)


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[object]:
    """Playwright Chromium from the system binary (plain playwright.sync_api, no plugin)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page in its own context; tall viewport because Streamlit scrolls an inner div."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def save_screenshot(page, name: str) -> Path:
    """Save a viewport screenshot to artifacts/screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture(name="wait_idle")
def _wait_idle_fixture() -> Callable[..., None]:
    return wait_idle


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    return save_screenshot
