"""scripts/measure_app.py times the app by a clock in the page: check that clock on the app.

The page clock (``PAGE_CLOCK_JS``) must record the first page (connected <= metric <= ready) no
later than Playwright's waits saw it, and a lever change (Enter on new odds) as a positive
time no longer than the wait that saw it. Deterministic checks of order, not of speed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import measure_app as m
import pytest

pytestmark = pytest.mark.slow  # a real browser, like the other e2e files


def test_page_clock_times_the_first_page_and_a_lever_change(browser, app_url):
    context = m.new_context(browser)
    try:
        page = context.new_page()
        t0, t0_wall = time.monotonic(), time.time()
        page.goto(f"{app_url}/?scenario=dk_police&reps=500", wait_until="commit")
        out: dict[str, float] = {}
        m.wait_ready(page, t0, t0_wall, out)
        assert 0 < out["connected"] <= out["metric"] <= out["ready"]
        # the clock is in the page: never later than Playwright noticed (50 ms clock slack)
        assert out["ready"] <= out["ready_poll"] + 0.05
        assert out["metric"] <= out["metric_poll"] + 0.05
    finally:
        context.close()
    times, polled = m.measure_levers(browser, app_url, 2)
    assert len(times) == len(polled) == 2
    for t, p in zip(times, polled, strict=True):
        assert 0 < t <= p + 0.05
