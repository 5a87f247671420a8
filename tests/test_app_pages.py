"""AppTest tests of the pages beyond the basics of tests/test_app.py (no browser).

Verified:

* every page (Explore, Compare, What it takes, Data and calibration, Sweeps, About) renders on
  test scenarios without an exception or an error;
* uploads: a valid TOML or JSON file becomes the chosen scenario and its numbers are the
  API's; an invalid file lists its problems field by field (and the page keeps showing the
  previous scenario); an oversized file is refused; nothing raises;
* the new levers (floor on vacancy promotions, women's/men's attrition, establishment) change
  the displayed numbers to the API's for the changed scenario and are written to the URL;
  a query string pre-fills them (a shared link reproduces the view);
* downloads: the four buttons are there; the TOML they offer is the scenario with the levers;
* Compare: the numbers equal ``simulator.decision.compare`` for the same seed; the assumption
  diff names the changed value; the URL holds the choice;
* What it takes: goal seek in expectation shows ``decision.solve``'s answer; with a
  probability it waits for the button;
* Sweeps: a sweep directory under ``$PARITY_RUNS_DIR`` is found and drawn as a heatmap of the
  probability over two levers; URL parameters pick the levers;
* Data: published figures come with document, locator and quote; a calibration result JSON
  gives the fit chart and the back-test line;
* About: one assumption card per block of the current scenario.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import tomli_w
from streamlit.testing.v1 import AppTest

from app import components as C
from simulator import ScenarioError, loads_scenario, parse_scenario, run_and_summarize
from tests.factories import app_alpha, app_beta, unescape

APP = Path(__file__).resolve().parents[1] / "app" / "main.py"
TIMEOUT_S = 30
REPS = 100


def _alpha() -> dict[str, Any]:
    return app_alpha(with_35=False)


def _beta() -> dict[str, Any]:
    return app_beta()


def _gamma() -> dict[str, Any]:
    """Beta with a sourced starting state of the top grade, a published figure of its women's
    share in 2003 (with a note) and a 35 % target that the baseline misses (a floor on vacancy
    promotions can meet it)."""
    data = _beta()
    data["name"] = "Gamma sourced test"
    data["sources"] = {"pub": {"title": "Annual report", "locator": "table 2"}}
    data["initial"][1]["source"] = "pub"
    data["initial"][1]["locator"] = "line 5"
    data["observed"] = [
        {
            "population": "g1",
            "year": 2003,
            "women_share": 0.21,
            "source": "pub",
            "locator": "table 7",
            "quote": "21 per cent",
            "note": "an average over 2003",
        }
    ]
    data["targets"][0].update(
        {"id": "top-35", "label": "Gamma: 35 % at the top by 2008", "value": 0.35}
    )
    return data


SCENARIOS = {"alpha": _alpha(), "beta": _beta(), "gamma": _gamma()}


@pytest.fixture
def scenario_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for stem, data in SCENARIOS.items():
        (folder / f"{stem}.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    monkeypatch.setenv(C.SCENARIO_DIR_ENV, str(folder))
    monkeypatch.setenv("PARITY_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("PARITY_CALIBRATION_OUT", str(tmp_path / "calout"))
    return folder


def new_app(**params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params.update({"reps": str(REPS), **params})
    return at


def metrics(at: AppTest, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label.startswith(label)]


def api_cards(data: dict[str, Any], seed: int, **levers: float) -> list[dict[str, Any]]:
    scenario = C.apply_what_if(parse_scenario(data), **levers)
    _, _, summary = run_and_summarize(scenario, "stochastic", REPS, seed)
    return C.target_cards_data(summary)


def assert_shows(at: AppTest, cards: list[dict[str, Any]]) -> None:
    assert metrics(at, "Probability met") == [c["probability"] for c in cards]
    assert metrics(at, "Median share at") == [c["median"] for c in cards]
    assert metrics(at, "Expected-engine share") == [c["expected"] for c in cards]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> list[tuple[dict[str, Any], list[pd.DataFrame]]]:
    """The page's Altair charts: (Vega-Lite spec, its data sets as frames)."""
    out = []
    for e in at.get("vega_lite_chart"):
        frames = [
            pa.ipc.open_stream(ds.data.data).read_all().to_pandas() for ds in e.proto.datasets
        ]
        out.append((json.loads(e.proto.spec), frames))
    return out


# ---------------------------------------------------------------------------------------------
# Every page
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("app_pages/compare.py", "Compare scenarios"),
        ("app_pages/what_it_takes.py", "What it takes"),
        ("app_pages/data.py", "Data and calibration"),
        ("app_pages/sweeps.py", "Sweeps"),
        ("app_pages/about.py", "About the model"),
    ],
)
def test_every_page_renders_without_errors(scenario_dir, page, title):
    at = new_app(scenario="beta").run()
    assert_clean(at)
    at.switch_page(page).run()
    assert_clean(at)
    assert at.title[0].value == title


# ---------------------------------------------------------------------------------------------
# Uploads
# ---------------------------------------------------------------------------------------------
def _upload(at: AppTest, name: str, raw: bytes, mime: str = "application/toml") -> AppTest:
    return at.file_uploader(key="upload").set_value((name, raw, mime)).run()


def test_valid_toml_upload_becomes_the_scenario(scenario_dir):
    data = _beta()
    data["name"] = "Uploaded beta"
    data["initial"][1]["women"] = 150  # different numbers from the shipped beta
    at = new_app().run()
    assert at.title[0].value.startswith("Alpha")
    _upload(at, "mine.toml", tomli_w.dumps(data).encode())
    assert_clean(at)
    assert unescape(at.title[0].value) == "Uploaded beta"
    assert at.selectbox(key="scenario").value.startswith("upload-")
    assert_shows(at, api_cards(data, 22))
    # An upload cannot travel in a URL: no scenario key, and the page says so.
    assert "scenario" not in at.query_params
    assert any("cannot travel in a link" in i.value for i in at.info)


def test_a_downloaded_what_if_file_uploads_with_its_levers_set(scenario_dir):
    """The Scenario (TOML) download carries the levers as its first policies: uploaded
    again, the levers start at those values (same numbers as the file run as it is), and
    moving one replaces that lever's policy instead of stacking on it."""
    levers = {"women_floor": 0.4, "women_attrition": 0.8, "women_share": 0.45}
    file = C.apply_what_if(parse_scenario(_beta()), **levers)
    raw = C.scenario_toml(file).encode()
    at = new_app().run()
    _upload(at, "whatif.toml", raw)
    assert_clean(at)
    ss = at.session_state
    assert (ss["women_floor"], ss["women_attrition"], ss["women_intake"]) == (40, 80, 45)
    assert ss["whatif_share_on"] is True
    notes = [i.value for i in at.info]
    assert sum(n.startswith("What\\-if") or n.startswith("What-if") for n in notes) == 3, notes
    assert not any("still apply" in n for n in notes), notes  # the levers are not the file's own
    _, _, summary = run_and_summarize(loads_scenario(raw, "toml"), "stochastic", REPS, 22)
    assert_shows(at, C.target_cards_data(summary))  # the file's own numbers
    at.session_state["women_attrition"] = 90
    at.run()
    assert_clean(at)
    assert_shows(at, api_cards(_beta(), 22, women_floor=0.4, women_attrition=0.9, women_share=0.45))


def test_an_uploaded_what_if_file_is_offered_once_in_compare(scenario_dir):
    file = C.apply_what_if(parse_scenario(_beta()), women_floor=0.4)
    at = new_app().run()
    _upload(at, "whatif.toml", C.scenario_toml(file).encode())
    at.switch_page("app_pages/compare.py").run()
    assert_clean(at)
    items = at.multiselect(key="cmp_items").value
    assert "view" not in items  # the Explore view with its levers is the upload itself
    assert items[0].startswith("upload-")
    assert len(items) == 2


def test_a_file_whose_levers_the_widgets_cannot_give_back_is_run_as_it_is(scenario_dir):
    """A lever at the scenario's own value (the widgets would drop it), or off the slider's
    steps, stays a policy of the file: the page runs the file's own text."""
    base = parse_scenario(_beta())
    noop = C.apply_what_if(base, women_floor=0.4, women_attrition=1.0)
    off_step = C.apply_what_if(base, women_attrition=0.83)
    for file in (noop, off_step):
        at = new_app().run()
        _upload(at, "whatif.toml", C.scenario_toml(file).encode())
        assert_clean(at)
        view = at.session_state["_current"]
        assert view["run_json"] == C.scenario_json(file)
        assert view["levers"] == {}


def test_a_hand_edited_what_if_file_says_which_lever_policies_it_carries(scenario_dir):
    file = C.apply_what_if(parse_scenario(_beta()), women_share=0.4)
    raw = C.scenario_toml(file).replace("set = 0.4", "set = 0.333", 1).encode()
    at = new_app().run()
    _upload(at, "edited.toml", raw)
    assert_clean(at)
    assert at.session_state["whatif_share_on"] is False  # not split: the widgets cannot hold it
    assert any("what-if-women-share" in unescape(i.value) for i in at.info)
    _, _, summary = run_and_summarize(loads_scenario(raw, "toml"), "stochastic", REPS, 22)
    assert_shows(at, C.target_cards_data(summary))


def test_a_shared_link_whose_levers_fail_says_so_on_another_page(scenario_dir):
    data = _beta()
    for block in data["attrition"]:
        block["women"] = 0.4  # x 300 % = 1.2: an impossible probability
    (scenario_dir / "gamma.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    at = new_app(scenario="gamma", women_attrition="300")
    at.switch_page("app_pages/about.py").run()
    assert not at.exception
    (error,) = at.error
    assert "women_attrition=300" in unescape(error.value)
    assert "reps" not in unescape(error.value)  # the link's levers only
    assert "what-if" in unescape(error.value)
    # A lever that does nothing on the scenario (a factor of 100 %) makes no view of its own.
    at = new_app(scenario="beta", women_attrition="100")
    at.switch_page("app_pages/compare.py").run()
    assert_clean(at)
    assert "view" not in at.multiselect(key="cmp_items").options


def test_json_upload_is_read_as_json(scenario_dir):
    data = _alpha()
    data["name"] = "Alpha as JSON"
    at = new_app().run()
    _upload(at, "alpha.json", json.dumps(data).encode(), "application/json")
    assert_clean(at)
    assert unescape(at.title[0].value) == "Alpha as JSON"
    assert_shows(at, api_cards(data, 11))


def test_bad_upload_lists_field_level_problems_without_exception(scenario_dir):
    bad = _alpha()
    bad["attrition"][0]["women"] = 1.5
    bad["grades"][0]["colour"] = "red"
    at = new_app().run()
    before = metrics(at, "Probability met")
    _upload(at, "broken.toml", tomli_w.dumps(bad).encode())
    assert not at.exception
    (error,) = at.error
    text = unescape(error.value)
    assert "The uploaded file broken.toml is not a valid scenario" in text
    assert "attrition[0].women" in text
    assert "grades[0].colour" in text
    # The page keeps showing the scenario it had.
    assert at.title[0].value.startswith("Alpha")
    assert metrics(at, "Probability met") == before
    # The same problems are what the CLI reports.
    with pytest.raises(ScenarioError) as info:
        loads_scenario(tomli_w.dumps(bad), "toml")
    for issue in info.value.issues:
        assert str(issue) in text


def test_unparseable_and_oversized_uploads_are_refused(scenario_dir):
    at = new_app().run()
    _upload(at, "x.toml", b"name = [unclosed")
    assert not at.exception
    assert "not valid TOML" in at.error[0].value
    big = b"# " + b"x" * 1_000_001 + b"\n"
    _upload(at, "big.toml", big)
    assert not at.exception
    assert "larger than 1,000,000 bytes" in unescape(at.error[0].value)


# ---------------------------------------------------------------------------------------------
# Levers, URL
# ---------------------------------------------------------------------------------------------
MORE = "more_levers_open"  # the More levers expander's key
MORE_LABEL = "More levers: retention, promotion floor, posts"
MORE_SLIDERS = ("women_floor", "women_attrition", "men_attrition", "establishment")


def opened(at: AppTest) -> AppTest:
    """Open More levers for the next run. AppTest sends no expander state back, so an open
    box stays open only while session state says so: call before every run that needs it."""
    at.session_state[MORE] = True
    return at


def sliders(at: AppTest) -> set[str]:
    return {s.key for s in at.slider}


def more_caption(at: AppTest) -> str | None:
    """The caption under a closed More levers box that names its changed levers."""
    found = [c.value for c in at.caption if c.value.startswith("Changed in this box")]
    assert len(found) <= 1, found
    assert any(e.label == MORE_LABEL for e in at.expander)  # one label, whatever is changed
    return unescape(found[0]) if found else None


def test_more_levers_change_the_numbers_and_the_url(scenario_dir):
    at = new_app(scenario="beta").run()
    base = metrics(at, "Median share at")
    # Closed at first, and then its sliders are not built (the first page's speed).
    assert more_caption(at) is None
    assert not sliders(at) & set(MORE_SLIDERS)
    opened(at).run()  # the user opens it
    assert sliders(at) >= set(MORE_SLIDERS)
    assert metrics(at, "Median share at") == base  # opening it changes nothing
    opened(at).slider(key="women_floor").set_value(60).run()
    assert_clean(at)
    cards = api_cards(_beta(), 22, women_floor=0.6)
    assert_shows(at, cards)
    assert cards[0]["median"] != base[0]
    assert at.query_params["women_floor"] == "60"
    opened(at).slider(key="women_attrition").set_value(50).run()
    assert_clean(at)
    assert_shows(at, api_cards(_beta(), 22, women_floor=0.6, women_attrition=0.5))
    assert at.query_params["women_attrition"] == "50"
    # Back to the scenario's own value: the lever is off and leaves the URL.
    opened(at).slider(key="women_floor").set_value(0).run()
    assert "women_floor" not in at.query_params
    assert_shows(at, api_cards(_beta(), 22, women_attrition=0.5))
    assert more_caption(at) is None  # open: the sliders show it


def test_closing_more_levers_keeps_its_levers_in_force(scenario_dir):
    at = opened(new_app(scenario="beta")).run()
    opened(at).slider(key="women_floor").set_value(60).run()
    opened(at).slider(key="women_attrition").set_value(50).run()
    cards = api_cards(_beta(), 22, women_floor=0.6, women_attrition=0.5)
    assert_shows(at, cards)
    at.session_state[MORE] = False  # the user closes it: no sliders, the same levers
    at.run()
    assert_clean(at)
    assert not sliders(at) & set(MORE_SLIDERS)
    assert more_caption(at) == (
        "Changed in this box: promotion floor, women's attrition. "
        "The notes on the page say what each does."
    )
    assert_shows(at, cards)
    assert (at.query_params["women_floor"], at.query_params["women_attrition"]) == ("60", "50")
    assert sum("What-if:" in unescape(i.value) for i in at.info) == 2  # the notes name both levers
    # Another lever's change (a rerun with the box closed) keeps them too.
    at.number_input(key="reps").set_value(REPS + 100).run()
    assert_clean(at)
    assert "promotion floor, women's attrition" in more_caption(at)
    assert (at.query_params["women_floor"], at.query_params["women_attrition"]) == ("60", "50")
    opened(at).run()
    assert (at.slider(key="women_floor").value, at.slider(key="women_attrition").value) == (60, 50)


def test_a_link_with_a_more_lever_opens_the_box_until_closed(scenario_dir):
    at = new_app(scenario="beta", women_attrition="80").run()
    assert_clean(at)
    assert at.session_state[MORE] is True
    assert at.slider(key="women_attrition").value == 80
    at.session_state[MORE] = False
    at.run()
    assert not sliders(at) & set(MORE_SLIDERS)  # the user's choice stays
    assert more_caption(at).startswith("Changed in this box: women's attrition.")
    # ... across a page switch too (the expander's state is not kept there; it is not
    # opened again by itself).
    at.switch_page("app_pages/data.py").run()
    at.switch_page("app_pages/explore.py").run()
    assert_clean(at)
    assert not sliders(at) & set(MORE_SLIDERS)
    assert at.session_state["women_attrition"] == 80  # the lever is kept
    # Without such a lever it stays closed.
    at = new_app(scenario="beta", women_intake="45").run()
    assert MORE not in at.session_state or at.session_state[MORE] is False
    assert not sliders(at) & set(MORE_SLIDERS)


def test_query_string_prefills_every_lever(scenario_dir):
    at = new_app(
        scenario="beta",
        seed="5",
        women_intake="45",
        women_floor="30",
        women_attrition="80",
        men_attrition="120",
        establishment="120",
    ).run()
    assert_clean(at)
    assert not at.warning
    assert at.number_input(key="seed").value == 5
    assert at.slider(key="women_intake").value == 45
    assert at.slider(key="women_floor").value == 30
    assert at.slider(key="women_attrition").value == 80
    assert at.slider(key="men_attrition").value == 120
    assert at.slider(key="establishment").value == 120
    assert_shows(
        at,
        api_cards(
            _beta(),
            5,
            women_share=0.45,
            women_floor=0.3,
            women_attrition=0.8,
            men_attrition=1.2,
            establishment=1.2,
        ),
    )
    # The URL is written back unchanged: the link reproduces this view.
    assert at.query_params["establishment"] == "120"
    assert at.query_params["men_attrition"] == "120"


def test_bad_lever_values_in_the_url_warn(scenario_dir):
    at = new_app(scenario="beta", women_floor="150", establishment="10", women_attrition="x").run()
    assert not at.exception
    texts = [unescape(w.value) for w in at.warning]
    for key in ("women_floor", "establishment", "women_attrition"):
        assert any(f"{key}=" in t for t in texts), key
    # Each bad value is dropped: the levers stay at the scenario's own values (box closed).
    assert (at.session_state["establishment"], at.session_state["women_floor"]) == (100, 0)
    assert more_caption(at) is None
    assert opened(at).run().slider(key="establishment").value == 100


def test_link_levers_the_scenario_has_nothing_for_are_named(scenario_dir):
    """A link made on another scenario (or edited): each lever the scenario has nothing for
    is named with the reason and left out, on Explore and in another page's view."""
    at = new_app(scenario="alpha", women_odds="2", women_floor="30", establishment="120").run()
    assert not at.exception
    texts = [unescape(w.value) for w in at.warning]
    for param, why in (
        ("women_odds='2'", "it has no vacancy-mode promotion"),
        ("women_floor='30'", "it has no vacancy-mode promotion"),
        ("establishment='120'", "none of its grades has an establishment"),
    ):
        assert any(f"The link's {param} does nothing" in t and why in t for t in texts), param
    assert len(texts) == 3
    assert_shows(at, api_cards(_alpha(), 11))
    for key in ("women_odds", "women_floor", "establishment"):
        assert key not in at.query_params  # the link written back has only what applies
    at.run()
    assert not at.warning  # said once, not on every rerun

    from app import state

    view = state.view_from_params({"scenario": "alpha", "women_attrition": "80", "women_odds": "2"})
    assert view["levers"] == {"women_attrition": 0.8}
    assert view["notes"] == ["women_attrition=80"]
    (warning,) = view["warnings"]
    assert warning.startswith("The link's women_odds='2' does nothing on Alpha")
    assert view["url"] == {
        "scenario": "alpha",
        "reps": "500",
        "seed": "11",
        "women_attrition": "80",
    }


@pytest.mark.parametrize("page", ["about", "data", "compare"])
def test_another_page_opened_from_a_link_warns_of_its_unusable_levers(scenario_dir, page):
    at = new_app(scenario="alpha", women_odds="2", women_attrition="80")
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception
    texts = [unescape(w.value) for w in at.warning]
    assert any("The link's women_odds='2' does nothing" in t for t in texts), texts
    assert "women_odds" not in at.query_params


def test_another_page_opened_on_an_unknown_scenario_says_so(scenario_dir):
    at = new_app(scenario="nope")
    at.switch_page("app_pages/about.py").run()
    assert not at.exception
    texts = [unescape(w.value) for w in at.warning]
    assert any("scenario='nope' is not a shipped scenario" in t for t in texts), texts


def test_a_lever_at_the_scenarios_own_value_is_left_out_without_a_warning(scenario_dir):
    at = new_app(scenario="beta", women_attrition="100").run()
    assert_clean(at)
    assert not at.warning


def test_a_url_value_is_shown_as_text_not_markdown(scenario_dir):
    at = new_app(scenario="beta", seed="**1**").run()
    (warning,) = at.warning
    assert "\\*\\*1\\*\\*" in warning.value  # escaped: the page shows the asterisks


def test_downloads_offer_scenario_results_and_report(scenario_dir):
    at = new_app(scenario="beta", women_floor="40").run()
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Scenario (TOML)", "Results (CSV)", "Results (Excel)", "Report (HTML)"]
    # The TOML offered is the scenario with the lever applied, valid for `parity run`.
    run_scenario = C.apply_what_if(parse_scenario(_beta()), women_floor=0.4)
    again = loads_scenario(C.scenario_toml(run_scenario), "toml")
    # The lever travels as a dated policy, first in the list, with its assumption.
    (pol,) = [p for p in again.policies if p.id == "what-if-floor"]
    assert (pol.parameter, pol.set, pol.grades) == ("promotion.women_floor", 0.4, ["g1"])
    assert pol.from_year == again.first_lever_year
    assert "What-if lever" in pol.assumption
    assert C.scenario_json(again) == C.scenario_json(run_scenario)


def test_flows_and_published_points_are_drawn(scenario_dir):
    at = new_app(scenario="beta").run()
    found = charts(at)
    assert len(found) == 3  # fan chart, headcount, flows
    # Beta cites no source: nothing is drawn as "published".
    assert C.OBSERVED_SERIES not in json.dumps(found[0][0])
    flows_spec, flows_data = found[2]
    assert "flow" in json.dumps(flows_spec)
    (flows,) = flows_data
    assert set(flows["grade"]) == {"g1"}
    assert at.selectbox(key="flow_grade").value == "g1"
    at.selectbox(key="flow_grade").set_value("g0").run()
    (flows,) = charts(at)[2][1]
    assert set(flows["grade"]) == {"g0"}
    assert (flows.loc[flows["flow"] == "recruited", "count"] > 0).all()
    assert (flows.loc[flows["flow"] == "left", "count"] < 0).all()


def test_a_published_figure_is_drawn_with_its_source(scenario_dir):
    """The [[observed]] figure, not the sourced start block (20 % in 2000), is drawn."""
    at = new_app(scenario="gamma").run()
    assert_clean(at)
    fan_spec, fan_data = charts(at)[0]
    assert C.OBSERVED_SERIES in json.dumps(fan_spec)
    observed = [f for f in fan_data if "source" in f.columns]
    assert len(observed) == 1
    assert observed[0][["year", "share", "source"]].to_dict("records") == [
        {"year": 2003, "share": 0.21, "source": "pub"}
    ]
    captions = [unescape(c.value) for c in at.caption]
    assert any(
        "Published: 21.0 % women at the end of 2003" in c and "table 7 — an average over 2003" in c
        for c in captions
    ), captions
    assert not any("at the end of 2000" in c for c in captions)


def test_the_data_page_lists_the_published_figures_the_charts_draw(scenario_dir):
    at = new_app(scenario="gamma").run()
    at.switch_page("app_pages/data.py").run()
    assert_clean(at)
    tables = [t.value for t in at.dataframe if list(t.value.columns) == C.PUBLISHED_COLUMNS]
    assert len(tables) == 1
    assert tables[0][["population", "year", "share", "source", "note"]].to_dict("records") == [
        {
            "population": "g1",
            "year": 2003,
            "share": "21.0 %",
            "source": "pub",
            "note": "an average over 2003",
        }
    ]


# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------
def test_compare_matches_decision_compare_with_common_seed(scenario_dir):
    from simulator.decision import compare

    at = new_app(scenario="beta", women_floor="50").run()
    at.switch_page("app_pages/compare.py").run()
    assert_clean(at)
    assert at.multiselect(key="cmp_items").value == ["beta", "view"]
    assert at.query_params["scenarios"] == "beta,view"
    assert at.query_params["women_floor"] == "50"
    base = parse_scenario(_beta())
    lever = C.apply_what_if(base, women_floor=0.5)
    expected = compare([base, lever], replications=REPS, seed=22)
    table = at.dataframe[0].value
    probs = [float(p) for p in expected.targets["probability"]]
    assert [C.fmt_pct(p) for p in probs] == [s.split(" (")[0] for s in table["probability"]]
    diffs = at.dataframe[1].value
    d = expected.differences.iloc[0]
    assert diffs["probability"][0].startswith(f"{100 * d['probability_difference']:+.1f} pp")
    assert diffs["share"][0].startswith(f"{100 * d['share_difference']:+.1f} pp")
    assert d["share_difference"] > 0  # a floor of 50 % raises the top grade's share
    diff_table = at.dataframe[2].value
    # The lever is a dated policy the base does not have: the diff lists it as added.
    assert diff_table["path"].tolist() == ["policies[id=what-if-floor]"]


def test_compare_reads_its_choice_from_the_url(scenario_dir):
    at = new_app(scenarios="alpha,beta", seed="3")
    at.run()
    at.switch_page("app_pages/compare.py").run()
    assert_clean(at)
    assert at.multiselect(key="cmp_items").value == ["alpha", "beta"]
    assert at.number_input(key="cmp_seed").value == 3
    table = at.dataframe[0].value
    assert [s.split(":")[0] for s in table["scenario"]] == ["A", "B"]
    assert table["target"].tolist() == ["g0-28", "g0-28"]  # A's target, on both


# ---------------------------------------------------------------------------------------------
# What it takes
# ---------------------------------------------------------------------------------------------
def test_goal_seek_in_expectation_shows_the_solver_answer(scenario_dir):
    from simulator.decision import solve

    at = new_app(scenario="gamma").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    assert_clean(at)
    # The default lever acts on the target's own grade (a floor on its vacancy promotions),
    # not the intake, whose recruits take years to reach it; the URL has it from the start.
    assert at.selectbox(key="wit_lever").value == "promotion_floor:g1"
    assert at.query_params["lever"] == "promotion_floor:g1"
    at.selectbox(key="wit_lever").set_value("intake_women_share").run()
    at.selectbox(key="wit_lever").set_value("promotion_floor:g1").run()
    assert_clean(at)
    res = solve(parse_scenario(_gamma()), "top-35", "promotion_floor:g1")
    assert res.status == "solved"
    (ok,) = at.success
    # Shown rounded up to 0.1 % (towards meeting an "at least" target), the exact value below.
    shown = math.ceil(res.value * 1000 - 1e-9) / 1000
    assert shown >= res.value
    assert f"at least {C.fmt_pct(shown, 1)}" in unescape(ok.value)
    assert any(f"The search found {res.value:.6g}" in c.value for c in at.caption)
    assert at.query_params["lever"] == "promotion_floor:g1"
    # With a probability nothing runs until asked.
    at.radio(key="wit_mode").set_value("With a probability").run()
    assert not at.success
    at.button(key="wit_go").click().run()
    assert_clean(at)
    assert metrics(at, "Probability met at the answer")


def test_goal_seek_links_its_answer_to_explore_where_the_value_meets_the_target(scenario_dir):
    """The link carries the view, the answer rounded towards meeting the target (the floor as
    Explore's whole percent) and, with a probability, the search's replications; opened, it
    shows Explore meeting the target in expectation (expected engine at the deadline)."""
    from urllib.parse import parse_qs, urlsplit

    from simulator.decision import solve

    at = new_app(scenario="gamma", seed="9").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    at.selectbox(key="wit_lever").set_value("promotion_floor:g1").run()
    assert_clean(at)
    res = solve(parse_scenario(_gamma()), "top-35", "promotion_floor:g1")
    (link,) = [m.value for m in at.markdown if m.value.startswith("[Check it on Explore](")]
    query = parse_qs(urlsplit(link[len("[Check it on Explore](") : link.index(")")]).query)
    params = {k: v[0] for k, v in query.items()}
    assert params["scenario"] == "gamma"
    assert params["seed"] == "9"
    assert int(params["women_floor"]) == math.ceil(100 * res.value - 1e-9)
    explore = new_app(**{k: v for k, v in params.items() if k != "reps"}).run()
    assert_clean(explore)
    (expected,) = metrics(explore, "Expected-engine share")
    assert float(expected.rstrip(" %")) >= 35.0
    # With a probability: the link has the search's replications.
    at.radio(key="wit_mode").set_value("With a probability").run()
    at.number_input(key="wit_reps").set_value(200).run()
    at.button(key="wit_go").click().run()
    assert_clean(at)
    links = [m.value for m in at.markdown if m.value.startswith("[Check it on Explore](")]
    assert len(links) == 1
    assert "reps=200" in links[0]
    # The answer's Monte Carlo uncertainty is a sentence, not a data structure.
    (unc,) = [unescape(c.value) for c in at.caption if "Monte Carlo uncertainty" in c.value]
    assert "{" not in unc
    assert "independent seeds" in unc
    assert "the answers range from" in unc


def test_goal_seek_offers_no_rate_odds_lever_that_cannot_rise(scenario_dir):
    """A rate step out of a grade that everyone leaves or is promoted from within the year
    (attrition 0.5 + promotion 0.5, as police students): higher odds would make the two exceed
    1, so that step's odds are not offered; the vacancy step's are."""
    from tests.factories import ladder

    data = ladder(
        3,
        start_year=2000,
        end_year=2010,
        attrition=[(0.5, 0.5), (0.1, 0.1), (0.1, 0.1)],
        establishment=[None, None, 100],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.5, "men": 0.5}},
            {"mode": "vacancy", "min_years_in_grade": 1},
        ],
        targets=[
            {
                "id": "top",
                "population": "g2",
                "comparator": "at_least",
                "value": 0.3,
                "deadline": 2010,
                "assumption": "test",
            }
        ],
    )
    data["name"] = "Delta pipeline test"
    (scenario_dir / "delta.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    at = new_app(scenario="delta").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    assert_clean(at)
    assert at.selectbox(key="wit_lever").options == [
        "Women's share of intake",
        "Floor on women's share of promotions into g2",
        "Women's relative odds of promotion into g2",  # and none into g1
        "Women's attrition (multiplier, all grades)",
    ]
    for lever in ("intake_women_share", "promotion_floor:g2", "women_odds:g2"):
        at.selectbox(key="wit_lever").set_value(lever).run()  # each runs without an error
        assert_clean(at)


def test_goal_seek_says_when_the_scenario_has_its_own_policy_on_the_lever(scenario_dir):
    """Goal seek's lever goes after the scenario's own policies, Explore's before them: where
    the scenario has one on the lever's parameter the page says so, naming it."""
    data = _gamma()
    data["policies"] = [
        {
            "id": "own-floor",
            "parameter": "promotion.women_floor",
            "from_year": 2003,
            "set": 0.1,
            "assumption": "test",
        },
        {  # a scale commutes with the multiplier's scale: its order does not matter
            "id": "attrition-scale",
            "parameter": "attrition",
            "from_year": 2003,
            "scale": 0.9,
            "assumption": "test",
        },
    ]
    (scenario_dir / "gamma.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    at = new_app(scenario="gamma").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    assert_clean(at)
    at.selectbox(key="wit_lever").set_value("promotion_floor:g1").run()
    notes = [unescape(c.value) for c in at.caption if "own policies" in unescape(c.value)]
    assert len(notes) == 1
    assert "promotion.women_floor (own-floor)" in notes[0]
    at.selectbox(key="wit_lever").set_value("women_attrition_multiplier").run()
    assert not [c for c in at.caption if "own policies" in unescape(c.value)]


# ---------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------
def _fake_sweep(root: Path) -> Path:
    """A sweep result directory as ``parity sweep`` writes it (manifest + summary)."""
    out = root / "floor_x_intake"
    out.mkdir(parents=True)
    rows = []
    for i, (a, b) in enumerate((a, b) for a in (0.3, 0.4) for b in (0.0, 0.2, 0.4)):
        p = min(1.0, a + b)
        rows.append(
            {
                "point": i,
                "label": f"intake={a}, floor={b}",
                "intake": a,
                "floor": b,
                "status": "ok",
                "error": None,
                "replications": 100,
                "top-22.probability": p,
                "top-22.probability_low": p * 0.9,
                "top-22.probability_high": min(1.0, p * 1.1),
                "top-22.share_median": 0.2 + b / 4,
            }
        )
    pd.DataFrame(rows).to_parquet(out / "summary.parquet")
    manifest = {
        "sweep": "test sweep",
        "seed": 7,
        "replications_per_point": 100,
        "status": "complete",
        "parameters": [{"column": "intake"}, {"column": "floor"}],
    }
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def test_sweep_heatmap_of_probability_over_two_levers(scenario_dir):
    _fake_sweep(scenario_dir.parent / "runs")
    at = new_app(x="floor", y="intake")
    at.run()
    at.switch_page("app_pages/sweeps.py").run()
    assert_clean(at)
    assert at.selectbox(key="sw_dir").value == "floor_x_intake"
    assert at.selectbox(key="sw_x").value == "floor"
    assert at.selectbox(key="sw_y").value == "intake"
    ((_spec, (values,)),) = charts(at)
    assert len(values) == 6
    assert {(v.floor, v.intake, round(v.probability, 6)) for v in values.itertuples()} == {
        (b, a, round(min(1.0, a + b), 6)) for a in (0.3, 0.4) for b in (0.0, 0.2, 0.4)
    }
    assert at.query_params["x"] == "floor"


def test_sweeps_page_without_results_says_how_to_make_them(scenario_dir):
    at = new_app().run()
    at.switch_page("app_pages/sweeps.py").run()
    assert_clean(at)
    assert any("parity sweep" in i.value for i in at.info)


# ---------------------------------------------------------------------------------------------
# Data and calibration
# ---------------------------------------------------------------------------------------------
def test_data_page_lists_figures_with_their_sources(scenario_dir):
    pytest.importorskip("calibration.data")
    at = new_app().run()
    at.switch_page("app_pages/data.py").run()
    assert_clean(at)
    figures = at.dataframe[0].value
    for col in ("source_document", "locator", "quote"):
        assert col in figures.columns
    assert len(figures) > 0
    assert figures["quote"].astype(str).str.len().min() > 0


def test_data_page_shows_fit_and_backtest(scenario_dir):
    out = scenario_dir.parent / "calout"
    out.mkdir()
    obs = [
        {
            "id": f"f{i}",
            "population": "g1",
            "year": 2000 + i,
            "quantity": "share_women",
            "of": "g1",
            "observed": 0.2 + 0.01 * i,
            "fitted": 0.21,
            "fitted_interval": [0.2, 0.22],
            "predictive_interval": [0.18, 0.24],
            "residual": 0.1,
            "used_in_fit": i < 2,
            "covered": i != 3,
            "source": "test",
        }
        for i in range(4)
    ]
    (out / "fit.json").write_text(
        json.dumps({"problem": "test fit", "method": "m", "level": 0.9, "observations": obs}),
        encoding="utf-8",
    )
    at = new_app().run()
    at.switch_page("app_pages/data.py").run()
    assert_clean(at)
    assert any("1 of 2 held-out figures" in m.value for m in at.markdown)
    ((spec, frames),) = charts(at)
    assert "fitted" in json.dumps(spec)
    assert frames[0]["observed"].tolist() == pytest.approx([0.2, 0.21, 0.22, 0.23])


# ---------------------------------------------------------------------------------------------
# About
# ---------------------------------------------------------------------------------------------
def test_about_has_one_assumption_card_per_block(scenario_dir):
    at = new_app(scenario="beta").run()
    at.switch_page("app_pages/about.py").run()
    assert_clean(at)
    rows = C.provenance_rows(parse_scenario(_beta()))
    text = " ".join(m.value for m in at.markdown)
    assert text.count(":orange-badge[Assumption]") == sum(1 for r in rows if r["assumption"])
    assert np.all([unescape(C.md_escape(r["block"])) in unescape(text) for r in rows])


def test_an_empty_sweeps_page_runs_the_shipped_example_on_request(scenario_dir):
    """No results: the page explains what a sweep is and offers the shipped example; pressed,
    it writes the example's results into the runs folder and draws their heatmap - the same
    summary as ``run_sweep`` with another executor (results do not depend on it)."""
    from simulator.sweep import run_sweep

    runs = scenario_dir.parent / "runs"
    at = new_app().run()
    at.switch_page("app_pages/sweeps.py").run()
    assert_clean(at)
    assert "No sweep results yet" in at.info[0].value
    assert not (runs / "police_leaders").exists()
    at.button(key="sw_example").click().run(timeout=120)
    assert_clean(at)
    assert at.selectbox(key="sw_dir").value == "police_leaders"
    assert charts(at)  # the heatmap
    ours = pd.read_parquet(runs / "police_leaders" / "summary.parquet")
    theirs = run_sweep(
        C.REPO_ROOT / "sweeps" / "police_leaders.toml", scenario_dir.parent / "again", "process"
    ).summary
    cols = [c for c in ours.columns if c.endswith(".probability")]
    assert cols
    pd.testing.assert_frame_equal(
        ours[cols].reset_index(drop=True), theirs[cols].reset_index(drop=True)
    )


def test_an_at_most_answer_links_to_explore_rounded_down(scenario_dir):
    """At most 24 % women in g0 by 2008: the intake share must stay at most 24.6 %; the link
    sets Explore's whole-percent intake rounded down (24), where the target is met in
    expectation, not up (25), where it would not be."""
    from urllib.parse import parse_qs, urlsplit

    from simulator.decision import solve

    data = _beta()
    data["name"] = "Epsilon at-most test"
    data["targets"] = [
        {
            "id": "low",
            "label": "At most 24 % women in g0 by 2008",
            "population": "g0",
            "comparator": "at_most",
            "value": 0.24,
            "deadline": 2008,
            "assumption": "test",
        }
    ]
    (scenario_dir / "epsilon.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    res = solve(parse_scenario(data), "low", "intake_women_share")
    assert res.direction == "at_most"
    at = new_app(scenario="epsilon").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    at.selectbox(key="wit_lever").set_value("intake_women_share").run()
    assert_clean(at)
    (ok,) = at.success
    assert f"at most {C.fmt_pct(math.floor(res.value * 1000) / 1000, 1)}" in unescape(ok.value)
    (link,) = [m.value for m in at.markdown if m.value.startswith("[Check it on Explore](")]
    query = parse_qs(urlsplit(link[len("[Check it on Explore](") : link.index(")")]).query)
    assert query["women_intake"] == [str(math.floor(100 * res.value))]
    explore = new_app(**{k: v[0] for k, v in query.items() if k != "reps"}).run()
    (expected,) = metrics(explore, "Expected-engine share")
    assert float(expected.rstrip(" %")) <= 24.0


def test_what_it_takes_names_link_values_it_cannot_use(scenario_dir):
    at = new_app(scenario="gamma", target="nope", lever="bogus", p="45").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    assert_clean(at)
    texts = [unescape(w.value) for w in at.warning]
    assert any("target='nope'" in t and "top-35" in t for t in texts), texts
    assert any("lever='bogus'" in t and "promotion_floor:g1" in t for t in texts), texts
    assert any("p='45'" in t and "50 to 99" in t for t in texts), texts
    assert at.selectbox(key="wit_target").value == "top-35"
    assert at.selectbox(key="wit_lever").value == "promotion_floor:g1"
    assert at.radio(key="wit_mode").value == "In expectation"
    # Good values are taken, without a warning.
    at = new_app(scenario="gamma", target="top-35", lever="intake_women_share", p="90").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    assert not at.warning
    assert at.selectbox(key="wit_lever").value == "intake_women_share"
    assert (at.radio(key="wit_mode").value, at.slider(key="wit_p").value) == (
        "With a probability",
        90,
    )


def test_the_default_lever_follows_the_target_until_the_user_chooses_one(scenario_dir):
    """Two targets: the top (a floor on its vacancy promotions) and the entry grade with g1
    as a group fed by the intake. Switching target re-picks the default; once the user has
    chosen a lever, a target switch keeps it."""
    data = _gamma()
    data["groups"] = {"everyone": ["g0", "g1"]}
    data["targets"].append(
        {
            "id": "all-30",
            "label": "30 % women overall by 2008",
            "population": "everyone",
            "comparator": "at_least",
            "value": 0.3,
            "deadline": 2008,
            "assumption": "test",
        }
    )
    (scenario_dir / "gamma.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    at = new_app(scenario="gamma").run()
    at.switch_page("app_pages/what_it_takes.py").run()
    assert at.selectbox(key="wit_lever").value == "promotion_floor:g1"
    at.selectbox(key="wit_target").set_value("all-30").run()
    assert_clean(at)
    assert at.selectbox(key="wit_lever").value == "intake_women_share"
    at.selectbox(key="wit_lever").set_value("women_attrition_multiplier").run()
    at.selectbox(key="wit_target").set_value("top-35").run()
    assert at.selectbox(key="wit_lever").value == "women_attrition_multiplier"
