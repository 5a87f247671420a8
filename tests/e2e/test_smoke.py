"""Browser smoke tests: the real Streamlit server in the system Chromium (fixtures: conftest.py).

Verified, as a person would see it:

* the Explore page loads on the shipped police scenario without an exception and shows the
  target's "Probability met" metric as a percentage;
* switching on the vacancy-odds lever and typing odds of 3 reruns the model and changes the
  probability text (police leaders are filled by vacancy promotion, so the odds must move
  their share), and the URL records the new setting;
* switching on the intake-share lever and moving the slider to 100 % changes the probability
  for the defence scenario's 2035 target on the military ranks (conscripts reach the ranks
  within a year or two, so the intake share must move that share);
* *More levers* draws its sliders only while open: a link with a floor opens it with the
  floor's slider at the link's value; moving another slider keeps it open; closed, it names
  the changed levers and they stay in force (the URL keeps them);
* the About page opens from the navigation, and Explore keeps its settings on the way back;
* the first page without a URL (what app/serve.py warms up) shows, card by card, the
  engine's probabilities for the first shipped scenario at the default replications and seed.

Screenshots go to artifacts/screenshots/ (viewport 1280x2400, see conftest.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import RERUN_TIMEOUT_MS, metric_value, open_app

# Each test drives a real browser for 5-15 s (marked e2e by the conftest as well).
pytestmark = pytest.mark.slow

PERCENT = re.compile(r"^\d{1,3}\.\d %$")


def test_explore_shows_probability_and_vacancy_odds_change_it(app_url, page, wait_idle, screenshot):
    open_app(page, f"{app_url}/?scenario=dk_police&reps=200")
    expect(page.get_by_role("heading", name="Danish police 2024")).to_be_visible()
    probability = metric_value(page, "Probability met")
    before = probability.inner_text().strip()
    assert PERCENT.match(before), before
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    screenshot(page, "explore-police-baseline")

    page.get_by_text("Change women's odds in vacancy promotions").click()
    wait_idle(page)
    odds = page.get_by_role("spinbutton", name="Women's relative odds of selection")
    odds.fill("3")
    odds.press("Enter")
    expect(probability).not_to_have_text(before, timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    after = probability.inner_text().strip()
    assert PERCENT.match(after), after
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "women_odds=3" in page.url
    screenshot(page, "explore-police-odds-3")


def test_intake_share_slider_changes_probability(app_url, page, wait_idle, screenshot):
    open_app(page, f"{app_url}/?scenario=dk_defence&reps=200")
    probability = metric_value(page, "Probability met")
    before = probability.inner_text().strip()
    assert PERCENT.match(before), before

    page.get_by_text("Change the women's share of intake").click()
    slider = page.get_by_test_id("stSlider").get_by_role("slider")
    expect(slider).to_be_visible(timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    slider.focus()
    slider.press("End")
    expect(slider).to_have_value("100", timeout=RERUN_TIMEOUT_MS)
    expect(probability).not_to_have_text(before, timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    after = probability.inner_text().strip()
    assert PERCENT.match(after), after
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "women_intake=100" in page.url
    screenshot(page, "explore-defence-intake-100")


def test_more_levers_open_from_a_link_and_stay_in_force_closed(
    app_url, page, wait_idle, screenshot
):
    open_app(page, f"{app_url}/?scenario=dk_police&reps=200&women_floor=35")
    sidebar = page.get_by_test_id("stSidebar")
    floor = sidebar.get_by_role("slider", name="Floor on women's share of vacancy promotions")
    expect(floor).to_have_value("35", timeout=RERUN_TIMEOUT_MS)
    probability = metric_value(page, "Probability met")
    before = probability.inner_text().strip()
    attrition = sidebar.get_by_role("slider", name="Women's attrition (% of the scenario's)")
    attrition.focus()
    attrition.press("Home")  # the lowest allowed
    expect(probability).not_to_have_text(before, timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    expect(floor).to_be_visible()  # the box stayed open through the rerun
    assert "women_attrition=" in page.url
    shown = probability.inner_text().strip()

    sidebar.get_by_text("More levers: retention, promotion floor, posts").click()
    expect(floor).to_have_count(0, timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    changed = sidebar.get_by_text("Changed in this box: promotion floor, women's attrition")
    expect(changed).to_be_visible()
    assert probability.inner_text().strip() == shown  # closed, the levers stay in force
    assert "women_floor=35" in page.url
    assert "women_attrition=" in page.url
    expect(page.get_by_test_id("stException")).to_have_count(0)
    screenshot(page, "explore-more-levers-closed")


def test_about_page_and_back(app_url, page, wait_idle, screenshot):
    open_app(page, f"{app_url}/?scenario=dk_police&reps=300&seed=7")
    page.get_by_test_id("stSidebarNav").get_by_text("About the model").click()
    expect(page.get_by_role("heading", name="About the model")).to_be_visible(
        timeout=RERUN_TIMEOUT_MS
    )
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    screenshot(page, "about")

    page.get_by_test_id("stSidebarNav").get_by_text("Explore").click()
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=RERUN_TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_role("spinbutton", name="Seed").input_value() == "7"
    assert page.get_by_role("spinbutton", name="Replications").input_value() == "300"
    expect(page).to_have_url(re.compile(r"seed=7"), timeout=RERUN_TIMEOUT_MS)

    expander = page.get_by_test_id("stExpander").filter(has_text="Assumptions and sources")
    expander.get_by_text("Assumptions and sources").click()
    expect(expander.get_by_text("Where each number comes from")).to_be_visible()
    shot = screenshot(page, "explore-police-back")
    expander.screenshot(path=str(shot.parent / "assumptions-police.png"))


def test_first_page_shows_the_default_scenarios_real_numbers(app_url, page, wait_idle, screenshot):
    """The page the warm-up of app/serve.py prepares: every card equals the engine's numbers
    for the first shipped scenario at the default replications and its own seed."""
    from app import components as C
    from app import state
    from simulator import run_and_summarize

    open_app(page, app_url)
    scenario, (_json, reps, seed) = state.default_run()
    assert reps == C.REPS_DEFAULT
    _, _, summary = run_and_summarize(scenario, "stochastic", reps, seed)
    cards = C.target_cards_data(summary)
    expect(page.get_by_role("heading", name=scenario.name)).to_be_visible()
    shown = [
        m.get_by_test_id("stMetricValue").inner_text().strip()
        for m in page.get_by_test_id("stMetric").filter(has_text="Probability met").all()
    ]
    assert shown == [c["probability"] for c in cards]
    caption = page.get_by_text(re.compile(r"replications · seed")).first.inner_text()
    assert f"{reps} replications · seed {seed}" in caption
    assert summary["scenario_sha256"][:12] in caption
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    screenshot(page, "explore-default-first-page")


def test_the_app_makes_no_request_outside_its_own_server(app_url, page, wait_idle):
    """Every request of a full page load (front end, fonts, favicon, charts) goes to the app's
    own server: the app works on an isolated network and leaks nothing to third parties."""
    from urllib.parse import urlsplit

    own = urlsplit(app_url).netloc
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("data:", "blob:")) or urlsplit(r.url).netloc == own
            else outside.append(r.url)
        ),
    )
    open_app(page, f"{app_url}/?scenario=dk_police&reps=200")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    page.get_by_role("link", name="About the model").click()
    wait_idle(page)
    assert outside == [], outside
