"""Helpers the browser tests share: wait for the app, open a page, read a metric."""

from __future__ import annotations

from playwright.sync_api import Page, expect

RERUN_TIMEOUT_MS = 30_000


def wait_idle(page: Page, timeout: float = 30_000) -> None:
    """Wait until the app is connected and no script run is in progress (timeout in ms)."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)


def open_app(page: Page, url: str) -> None:
    """Open ``url`` and wait until its first metric shows, with no exception on the page."""
    page.goto(url)
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def metric_value(page: Page, label: str, index: int = 0):
    """The value element of the ``index``-th metric whose label contains ``label``."""
    metric = page.get_by_test_id("stMetric").filter(has_text=label).nth(index)
    return metric.get_by_test_id("stMetricValue")
