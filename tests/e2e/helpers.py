"""Helpers the browser tests share: wait for the app, open a page, read a metric."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.local_server import wait_idle

RERUN_TIMEOUT_MS = 30_000


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
