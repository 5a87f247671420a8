"""Browser tests of uploads, the offline report and shared links (fixtures: conftest.py).

Verified, as a person would see it:

* uploading a scenario file with mistakes shows every problem with its field
  (``attrition[0].women``) in the page, no traceback, and the page keeps its scenario;
* the report downloaded from Explore opens from disk with every network request blocked and
  recorded: none is attempted, and the page shows the scenario's title, its target with the
  probability the app shows, and inline SVG charts;
* a link copied from the address bar after changing a lever and the seed opens, in a fresh
  browser context, the same view: same seed, same lever and the same probability.

Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomli_w
from playwright.sync_api import expect

from tests.e2e.conftest import VIEWPORT
from tests.e2e.helpers import RERUN_TIMEOUT_MS, metric_value, open_app

pytestmark = pytest.mark.slow

PERCENT = re.compile(r"^\d{1,3}\.\d %$")


def test_bad_upload_shows_field_level_errors(app_url, page, wait_idle, screenshot, tmp_path):
    open_app(page, f"{app_url}/?scenario=dk_police&reps=100")
    before = metric_value(page, "Probability met").inner_text().strip()
    bad = {
        "name": "Broken upload",
        "start_year": 2000,
        "end_year": 2010,
        "grades": [{"id": "g0", "colour": "red"}],
        "initial": [{"grade": "g0", "women": 10, "men": 40, "assumption": "x"}],
        "attrition": [{"grade": "g0", "women": 1.5, "men": 0.1, "assumption": "x"}],
        "recruitment": {"mode": "fixed", "intake": 10, "women_share": 0.3, "assumption": "x"},
    }
    path = tmp_path / "broken.toml"
    path.write_text(tomli_w.dumps(bad), encoding="utf-8")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    alert = page.get_by_test_id("stAlert").filter(has_text="is not a valid scenario")
    expect(alert).to_be_visible(timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    text = alert.inner_text()
    assert "The uploaded file broken.toml is not a valid scenario" in text
    assert "attrition[0].women" in text
    assert "grades[0].colour" in text
    expect(page.get_by_test_id("stException")).to_have_count(0)
    # The page still shows the police scenario and its numbers.
    expect(page.get_by_role("heading", name=re.compile("Danish police 2024"))).to_be_visible()
    assert metric_value(page, "Probability met").inner_text().strip() == before
    screenshot(page, "upload-bad-file")


def test_report_download_opens_offline(app_url, page, wait_idle, screenshot, browser, tmp_path):
    open_app(page, f"{app_url}/?scenario=dk_police&reps=200&women_floor=35")
    shown = metric_value(page, "Probability met").inner_text().strip()
    assert PERCENT.match(shown), shown
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Report (HTML)").click()
    download = info.value
    assert download.suggested_filename == "dk_police-whatif-report.html"
    target = tmp_path / "report.html"
    download.save_as(str(target))

    context = browser.new_context(viewport=VIEWPORT)
    attempted: list[str] = []

    def block(route) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(url)
            route.abort()

    try:
        offline = context.new_page()
        offline.route("**/*", block)
        offline.on(
            "request", lambda r: None if r.url.startswith("file://") else attempted.append(r.url)
        )
        offline.goto(Path(target).as_uri())
        offline.wait_for_load_state("load")
        expect(offline.get_by_role("heading", level=1)).to_have_text(
            "Danish police 2024: women among police leaders"
        )
        expect(
            offline.get_by_text("At least 20 % women among police leaders").first
        ).to_be_visible()
        assert shown in offline.inner_text("body")  # the probability the app showed
        assert offline.locator("svg").count() >= 2
        assert "35 %" in offline.inner_text("body")  # the floor lever is stated
        offline.screenshot(
            path=str(screenshot(page, "report-source-page").parent / "report-offline.png")
        )
        assert attempted == [], attempted
    finally:
        context.close()


def test_shared_link_reproduces_the_view(app_url, page, wait_idle, screenshot, browser):
    open_app(page, f"{app_url}/?scenario=dk_police&reps=200&women_floor=30")
    seed = page.get_by_role("spinbutton", name="Seed")
    before = metric_value(page, "Probability met").inner_text().strip()
    seed.fill("7")
    seed.press("Enter")
    expect(page).to_have_url(re.compile(r"seed=7"), timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    shown = metric_value(page, "Probability met").inner_text().strip()
    median = (
        page.get_by_test_id("stMetric")
        .filter(has_text="Median share at")
        .first.get_by_test_id("stMetricValue")
        .inner_text()
        .strip()
    )
    link = page.url
    assert "women_floor=30" in link
    assert PERCENT.match(before)
    screenshot(page, "shared-link-origin")

    context = browser.new_context(viewport=VIEWPORT)
    try:
        other = context.new_page()
        open_app(other, link)
        # expect(...) retries until the first script run has applied the URL (a loaded
        # machine can show the widgets before that run finishes).
        expect(other.get_by_role("spinbutton", name="Seed")).to_have_value(
            "7", timeout=RERUN_TIMEOUT_MS
        )
        expect(other.get_by_role("spinbutton", name="Replications")).to_have_value(
            "200", timeout=RERUN_TIMEOUT_MS
        )
        wait_idle(other)
        assert metric_value(other, "Probability met").inner_text().strip() == shown
        other_median = (
            other.get_by_test_id("stMetric")
            .filter(has_text="Median share at")
            .first.get_by_test_id("stMetricValue")
            .inner_text()
            .strip()
        )
        assert other_median == median
        expect(
            other.get_by_text("at least 30 % of the promotions into police_leaders")
        ).to_be_visible()
        screenshot(other, "shared-link-opened")
    finally:
        context.close()
