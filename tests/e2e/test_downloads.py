"""Browser test of the Excel download (fixtures: conftest.py).

Verified, as a person would see it: on Explore (police scenario, a promotion-floor lever,
200 replications, seed 7) the "Results (Excel)" button downloads
``dk_police-whatif-results.xlsx`` in the real browser; the file is a workbook that openpyxl
and pandas open, with the sheets targets, shares, headcount, flows, assumptions, sources and
run; its target row shows, formatted as the page formats them, the probability, median
share and expected-engine share the page shows, and equals the engine's own summary of the
same scenario, levers, replications and seed; the run sheet records those settings and the
scenario hash the page shows.

Screenshots go to artifacts/screenshots/ (the page with its Downloads, and the button row).
"""

from __future__ import annotations

import math
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import metric_value, open_app

pytestmark = pytest.mark.slow

PERCENT = re.compile(r"^\d{1,3}\.\d %$")
SHEETS = ["targets", "shares", "headcount", "flows", "assumptions", "sources", "run"]
REPS, SEED, FLOOR = 200, 7, 35


def _engine_summary() -> dict:
    """The engine's summary of the same view: dk_police, floor 35 %, 200 runs, seed 7."""
    from app import components as C
    from simulator import load_scenario, run_and_summarize

    scenario = load_scenario(C.scenario_dir() / "dk_police.toml")
    run = C.apply_what_if(scenario, women_floor=FLOOR / 100)
    return run_and_summarize(run, "stochastic", REPS, SEED)[2]


def test_excel_download_matches_the_page(app_url, page, wait_idle, screenshot, tmp_path):
    import openpyxl
    import pandas as pd

    from app import components as C

    open_app(page, f"{app_url}/?scenario=dk_police&reps={REPS}&seed={SEED}&women_floor={FLOOR}")
    shown = {
        "probability": metric_value(page, "Probability met").inner_text().strip(),
        "median": metric_value(page, "Median share at").inner_text().strip(),
        "expected": metric_value(page, "Expected-engine share").inner_text().strip(),
    }
    for text in shown.values():
        assert PERCENT.match(text), shown
    caption = page.get_by_text(re.compile(r"replications · seed")).first.inner_text()
    sha_prefix = re.search(r"sha256 ([0-9a-f]{12})", caption).group(1)
    assert f"{REPS} replications · seed {SEED}" in caption

    button = page.get_by_role("button", name="Results (Excel)")
    button.scroll_into_view_if_needed()
    shot = screenshot(page, "excel-download-page")
    buttons = page.get_by_test_id("stHorizontalBlock").filter(has=button).last
    buttons.screenshot(path=str(shot.parent / "excel-download-buttons.png"))
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == "dk_police-whatif-results.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(str(path))
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)

    assert path.read_bytes()[:2] == b"PK"  # an .xlsx is a zip archive
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        assert workbook.sheetnames == SHEETS
    finally:
        workbook.close()
    sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl")

    targets = sheets["targets"]
    assert len(targets) == 1, targets
    row = targets.iloc[0]
    # The workbook's numbers, formatted as the page formats them, are the page's numbers.
    assert C.fmt_pct(row["probability"], 1) == shown["probability"]
    assert C.fmt_pct(row["share_median"], 1) == shown["median"]
    assert C.fmt_pct(row["expected_share"], 1) == shown["expected"]
    assert row["probability_low"] <= row["probability"] <= row["probability_high"]
    assert row["share_p5"] <= row["share_median"] <= row["share_p95"]

    # ... and the engine's own summary of the same scenario, levers, replications and seed.
    summary = _engine_summary()
    (target,) = summary["targets"]
    assert row["target"] == target["id"]
    assert row["deadline"] == target["deadline"]
    assert math.isclose(row["probability"], target["probability"], rel_tol=0, abs_tol=1e-12)
    assert math.isclose(row["share_median"], target["quantiles"]["50"], abs_tol=1e-12)
    assert math.isclose(row["expected_share"], target["expected_share"], abs_tol=1e-12)

    run = dict(zip(sheets["run"]["field"], sheets["run"]["value"].astype(str), strict=True))
    assert run["replications"] == str(REPS)
    assert run["seed"] == str(SEED)
    assert run["scenario_sha256"].startswith(sha_prefix)
    assert run["scenario_sha256"] == summary["scenario_sha256"]

    shares = sheets["shares"]
    assert target["population"] in set(shares["population"])
    assert not sheets["headcount"].empty
    assert not sheets["flows"].empty
    assert "police_leaders" in set(sheets["headcount"]["grade"])
    assert len(sheets["assumptions"]) > 0
    assert len(sheets["sources"]) > 0
