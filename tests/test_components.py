"""Unit tests of the app's pure helpers (app/components.py), without Streamlit.

Verified:

* the fan chart's Vega-Lite spec: a 90 % band (p05-p95) and a 50 % band (p25-p75) as areas,
  the median and the dashed expected-engine line, target rules and deadline marks when the
  population has targets (and no "target" legend entry when it has none), every year axis an
  integer format (``2025``, never ``2,025``), the share axis in percent (one decimal when the
  range is narrow), and the data rows passed through unchanged;
* the headcount chart: stacked areas by grade (entry grade first in the legend, at the bottom
  of the stack), one panel per sex (women first), integer year axis;
* the target cards' display strings for at-least, at-most and band targets, never-met targets
  and missing values;
* URL parameter validation: good values parsed, every bad value reported and dropped;
* what-if overrides: a new validated scenario, the original untouched, odds changed only on
  vacancy steps, invalid values rejected as ScenarioError;
* run tables: quantiles ordered, the expected column equal to the expected engine, mean
  headcounts equal to the replication mean of the raw stocks;
* scenario discovery, canonical JSON round trip, population order, provenance rows and
  Markdown escaping.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app import components as C
from simulator import ScenarioError, compile_scenario, parse_scenario, run
from simulator.scenario import scenario_fingerprint, scenario_to_data
from tests.factories import FAN_TARGET as TARGET
from tests.factories import app_alpha, fan_frame, ladder

# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


def _layers(spec: dict) -> list[dict]:
    return spec["layer"]


def _by_mark(spec: dict, mark: str) -> list[dict]:
    return [
        layer
        for layer in _layers(spec)
        if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == mark
    ]


def _rows(spec: dict, layer: dict) -> list[dict]:
    """Data rows of a layer (Altair hoists data shared by every layer to the top level)."""
    data = layer.get("data", spec.get("data"))
    return spec["datasets"][data["name"]]


def _series_name(layer: dict) -> str:
    (calc,) = [t for t in layer["transform"] if t.get("as") == "series"]
    return json.loads(calc["calculate"])


def _two_grade_vacancy() -> dict:
    return ladder(
        2,
        start_year=2000,
        end_year=2010,
        establishment=[None, 500],
        promotion=[{"mode": "vacancy", "min_years_in_grade": 1}],
        targets=[
            {
                "id": "top",
                "population": "g1",
                "comparator": "at_least",
                "value": 0.25,
                "deadline": 2008,
            },
            {
                "id": "entry",
                "population": "g0",
                "comparator": "at_most",
                "value": 0.5,
                "deadline": 2005,
            },
        ],
        groups={"all_grades": ["g0", "g1"]},
    )


# ---------------------------------------------------------------------------------------------
# Fan chart
# ---------------------------------------------------------------------------------------------
def test_fan_chart_has_two_bands_median_expected_and_target():
    spec = C.fan_chart(fan_frame(), targets=[TARGET], title="Women in g1")
    areas = _by_mark(spec, "area")
    assert {
        _series_name(a): (a["encoding"]["y"]["field"], a["encoding"]["y2"]["field"]) for a in areas
    } == {"90 % of runs": ("p05", "p95"), "50 % of runs": ("p25", "p75")}
    lines = {_series_name(layer): layer for layer in _by_mark(spec, "line")}
    assert lines["median (Monte Carlo)"]["encoding"]["y"]["field"] == "p50"
    assert lines["expected engine"]["encoding"]["y"]["field"] == "expected"
    assert lines["expected engine"]["mark"]["strokeDash"]  # dashed
    assert "strokeDash" not in lines["median (Monte Carlo)"]["mark"]
    (rule,) = _by_mark(spec, "rule")
    (diamond,) = [p for p in _by_mark(spec, "point") if p["mark"].get("shape") == "diamond"]
    rule_rows = _rows(spec, rule)
    assert rule_rows == [{"level": 0.2, "deadline": 2030, "target": TARGET["label"]}]
    assert diamond["encoding"]["x"]["field"] == "deadline"
    assert spec["title"] == "Women in g1"
    # One shared colour scale: all five series in the legend, in order.
    domains = {tuple(layer["encoding"]["color"]["scale"]["domain"]) for layer in _layers(spec)}
    assert domains == {C.FAN_SERIES}


def test_fan_chart_without_targets_has_no_target_layer_or_legend_entry():
    spec = C.fan_chart(fan_frame())
    assert _by_mark(spec, "rule") == []
    domains = {tuple(layer["encoding"]["color"]["scale"]["domain"]) for layer in _layers(spec)}
    assert domains == {C.FAN_SERIES[:-1]}


def test_fan_chart_band_target_draws_both_levels():
    band = {**TARGET, "comparator": "between", "value": [0.4, 0.6]}
    spec = C.fan_chart(fan_frame(lo=0.3, hi=0.5), targets=[band])
    (rule,) = _by_mark(spec, "rule")
    levels = [row["level"] for row in _rows(spec, rule)]
    assert levels == [0.4, 0.6]


def test_fan_chart_year_axes_are_plain_integers():
    """Every x encoding of a year is quantitative with format 'd' (so 2025, not 2,025)."""
    frame = fan_frame()
    spec = C.fan_chart(frame, targets=[TARGET])
    year_layers = [
        layer for layer in _layers(spec) if layer["encoding"].get("x", {}).get("field") == "year"
    ]
    assert len(year_layers) == 5  # two bands, two lines, the median points
    for layer in year_layers:
        x = layer["encoding"]["x"]
        if x["field"] == "year":
            assert x["type"] == "quantitative"
            assert x["axis"]["format"] == "d"
            assert x["axis"]["labelFlush"] is False
            assert x["scale"]["domain"] == [2024, 2030]
    tooltips = [t for layer in _layers(spec) for t in layer["encoding"].get("tooltip", [])]
    year_tips = [t for t in tooltips if t["field"] in ("year", "deadline")]
    assert year_tips
    assert all(t["format"] == "d" for t in year_tips)


def test_fan_chart_passes_data_rows_through():
    frame = fan_frame()
    spec = C.fan_chart(frame)
    (band90,) = [a for a in _by_mark(spec, "area") if _series_name(a) == "90 % of runs"]
    rows = _rows(spec, band90)
    assert [r["year"] for r in rows] == list(range(2024, 2031))
    assert [r["p50"] for r in rows] == pytest.approx(frame["p50"].tolist())
    assert [r["expected"] for r in rows] == pytest.approx(frame["expected"].tolist())


@pytest.mark.parametrize(("lo", "hi", "fmt"), [(0.10, 0.30, ".0%"), (0.10, 0.105, ".1%")])
def test_fan_chart_share_axis_is_percent(lo, hi, fmt):
    spec = C.fan_chart(fan_frame(lo=lo, hi=hi))
    (band90,) = [a for a in _by_mark(spec, "area") if _series_name(a) == "90 % of runs"]
    assert band90["encoding"]["y"]["axis"]["format"] == fmt
    assert band90["encoding"]["y"]["scale"]["zero"] is False


def test_fan_chart_tolerates_missing_start_year_share():
    """The intake has no share in the start year (NaN): it becomes null, not a crash."""
    frame = fan_frame()
    frame.loc[0, ["p05", "p25", "p50", "p75", "p95", "expected"]] = np.nan
    spec = C.fan_chart(frame)
    (band90,) = [a for a in _by_mark(spec, "area") if _series_name(a) == "90 % of runs"]
    assert _rows(spec, band90)[0]["p50"] is None


# ---------------------------------------------------------------------------------------------
# Headcount chart and table
# ---------------------------------------------------------------------------------------------
def _stocks() -> pd.DataFrame:
    rows = []
    for year in (2024, 2025):
        for gi, grade in enumerate(["entry", "middle", "top"]):
            for sex, n in (("women", 10.0 * (gi + 1)), ("men", 30.0 * (gi + 1) + year - 2024)):
                rows.append(
                    {"year": year, "grade": grade, "grade_index": gi, "sex": sex, "headcount": n}
                )
    return pd.DataFrame(rows)


def test_headcount_chart_stacks_grades_per_sex_panel():
    spec = C.headcount_chart(_stocks(), grade_order=["entry", "middle", "top"])
    assert spec["facet"]["column"]["field"] == "sex"
    assert spec["facet"]["column"]["sort"] == ["Women", "Men"]
    inner = spec["spec"]
    assert inner["mark"]["type"] == "area"
    enc = inner["encoding"]
    assert enc["y"]["field"] == "headcount"
    assert enc["y"]["stack"] == "zero"
    assert enc["color"]["field"] == "grade"
    assert enc["color"]["sort"] == ["entry", "middle", "top"]
    assert enc["order"] == {"field": "grade_index", "sort": "ascending", "type": "quantitative"}
    assert enc["x"]["field"] == "year"
    assert enc["x"]["axis"]["format"] == "d"
    assert spec["resolve"]["scale"]["y"] == "independent"
    rows = spec["datasets"][spec["data"]["name"]]
    assert {r["sex"] for r in rows} == {"Women", "Men"}
    assert len(rows) == 12


def test_headcount_table_shares_and_order():
    table = C.headcount_table(_stocks())
    assert list(table.columns) == ["year", "grade", "women", "men", "total", "women_share"]
    assert table["grade"].tolist() == ["entry", "middle", "top"] * 2
    assert table["total"].tolist() == pytest.approx((table["women"] + table["men"]).tolist())
    assert table["women_share"].tolist() == pytest.approx(
        (table["women"] / table["total"]).tolist()
    )
    assert table.loc[0, "women_share"] == pytest.approx(10 / 40)


# ---------------------------------------------------------------------------------------------
# Target cards
# ---------------------------------------------------------------------------------------------
def _target_summary(**over) -> dict:
    t = {
        "id": "leaders",
        "label": "At least 20 % women among leaders by 2030",
        "population": "leaders",
        "comparator": "at_least",
        "value": 0.2,
        "deadline": 2030,
        "sustained": False,
        "expected_share": 0.1418,
        "probability": 0.375,
        "probability_ci": [0.3331, 0.4189],
        "quantiles": {"5": 0.1242, "25": 0.13, "50": 0.1407, "75": 0.15, "95": 0.156},
        "first_year_met": {"5": 2027, "25": 2029, "50": 2031, "75": None, "95": None},
        "never_met": 0.4,
    }
    t.update(over)
    return t


def test_target_cards_at_least():
    (card,) = C.target_cards_data({"end_year": 2035, "targets": [_target_summary()]})
    assert card["label"] == "At least 20 % women among leaders by 2030"
    assert card["condition"] == "≥ 20 % by 2030"
    assert card["probability"] == "37.5 %"
    assert card["probability_ci"] == "95 % CI 33.3–41.9 %"
    assert card["median"] == "14.1 %"
    assert card["band"] == "5–95 %: 12.4–15.6 %"
    assert card["median_delta"] == "-5.9 pp vs target"
    assert card["delta_color"] == "normal"
    assert card["expected"] == "14.2 %"
    assert card["first_year"] == "2031"
    assert card["never"] == "40 % of runs never meet it by 2035"


def test_target_cards_at_most_band_and_never_met():
    summary = {
        "end_year": 2035,
        "targets": [
            _target_summary(id="a", comparator="at_most", value=0.1, sustained=True),
            _target_summary(id="b", comparator="between", value=[0.4, 0.6], label=None),
            _target_summary(
                id="c",
                first_year_met=None,
                probability=0.0,
                probability_ci=[4e-19, 0.0076],
                never_met=1.0,
            ),
            _target_summary(
                id="d", first_year_met={"5": 2030, "25": None, "50": None, "75": None, "95": None}
            ),
        ],
    }
    a, b, c, d = C.target_cards_data(summary)
    assert a["condition"] == "≤ 10 % by 2030 (sustained)"
    assert a["median_delta"] == "+4.1 pp vs target"
    assert a["delta_color"] == "inverse"
    assert b["condition"] == "40–60 % by 2030"
    assert b["median_delta"] is None
    assert b["label"] == "b"
    assert c["probability"] == "0.0 %"
    assert c["probability_ci"] == "95 % CI 0.0–0.8 %"
    assert c["first_year"] == "not by 2035"
    assert c["never"] == "100 % of runs never meet it by 2035"
    assert d["first_year"] == "not by 2035"


def test_target_cards_without_stochastic_values():
    t = _target_summary(
        probability=None,
        probability_ci=None,
        quantiles=None,
        first_year_met=None,
        never_met=None,
        expected_share=None,
    )
    (card,) = C.target_cards_data({"end_year": 2035, "targets": [t]})
    assert card["probability"] == "–"
    assert card["probability_ci"] == "–"
    assert card["median"] == "–"
    assert card["band"] == "–"
    assert card["median_delta"] is None
    assert card["expected"] == "–"
    assert card["never"] == ""


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.2, 1, "20.0 %"),
        (0.12345, 1, "12.3 %"),
        (-1e-9, 1, "0.0 %"),
        (None, 1, "–"),
        (float("nan"), 0, "–"),
        (1.0, 0, "100 %"),
    ],
)
def test_fmt_pct(value, digits, text):
    assert C.fmt_pct(value, digits) == text


# ---------------------------------------------------------------------------------------------
# URL parameters
# ---------------------------------------------------------------------------------------------
IDS = ["dk_defence", "dk_police"]


def test_query_params_good_values():
    qs = C.parse_query_params(
        {
            "scenario": "dk_police",
            "reps": "300",
            "seed": "7",
            "women_intake": "45",
            "women_odds": "1.5",
            "utm_source": "mail",
        },
        IDS,
    )
    assert (qs.scenario, qs.reps, qs.seed, qs.women_intake, qs.women_odds) == (
        "dk_police",
        300,
        7,
        45,
        1.5,
    )
    assert qs.warnings == []


def test_query_params_absent_gives_none_and_no_warning():
    qs = C.parse_query_params({}, IDS)
    assert (qs.scenario, qs.reps, qs.seed, qs.women_intake, qs.women_odds) == (None,) * 5
    assert qs.warnings == []


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("scenario", "nope"),
        ("scenario", "../etc/passwd"),
        ("reps", "abc"),
        ("reps", "99"),
        ("reps", "2001"),
        ("reps", "5e2"),
        ("reps", "-100"),
        ("seed", "-1"),
        ("seed", "1.5"),
        ("seed", str(2**53)),
        ("women_intake", "101"),
        ("women_intake", "0.4"),
        ("women_odds", "0"),
        ("women_odds", "nan"),
        ("women_odds", "inf"),
        ("women_odds", "11"),
    ],
)
def test_query_params_bad_value_warns_and_is_dropped(key, raw):
    qs = C.parse_query_params({key: raw}, IDS)
    assert getattr(qs, key) is None
    (warning,) = qs.warnings
    assert f"{key}={raw!r}" in warning


def test_query_params_edge_values_and_lists():
    qs = C.parse_query_params(
        {"reps": [" 100 "], "seed": ["1", str(2**53 - 1)], "women_intake": "0", "women_odds": "10"},
        IDS,
    )
    assert (qs.reps, qs.seed, qs.women_intake, qs.women_odds) == (100, 2**53 - 1, 0, 10.0)
    assert qs.warnings == []


# ---------------------------------------------------------------------------------------------
# What-if overrides
# ---------------------------------------------------------------------------------------------
def test_apply_what_if_returns_new_validated_scenario_and_keeps_original():
    scenario = parse_scenario(_two_grade_vacancy())
    before = scenario_fingerprint(scenario)
    changed = C.apply_what_if(scenario, women_share=0.45, vacancy_odds=2.5)
    assert scenario_fingerprint(scenario) == before
    assert changed is not scenario
    # The levers are dated policies, first in the list; the scenario's values stay.
    assert [(p.id, p.parameter, p.from_year, p.set) for p in changed.policies] == [
        ("what-if-women-share", "recruitment.women_share", 2001, 0.45),
        ("what-if-odds", "promotion.women_odds", 2001, 2.5),
    ]
    assert changed.policies[1].grades == ["g1"]
    assert changed.recruitment.women_share.at(2001) == pytest.approx(0.3)
    c = compile_scenario(changed)
    assert np.all(c.women_share == 0.45)
    assert np.all(c.women_odds[:, 1] == 2.5)
    assert np.all(c.women_odds[:, 0] == 1.0)
    # Setting them back to the original values gives the original's arrays.
    restored = compile_scenario(C.apply_what_if(changed, women_share=0.3, vacancy_odds=1.0))
    original = compile_scenario(scenario)
    for name in ("women_share", "women_odds", "attrition", "initial"):
        assert np.array_equal(getattr(restored, name), getattr(original, name)), name


def test_what_if_levers_start_in_the_first_lever_year():
    """A calibrated scenario keeps its history: levers change nothing before
    ``simulation.levers_from_year``, and apply from it under the scenario's own policies."""
    data = _two_grade_vacancy()
    data["attrition"][0]["women"] = [0.2, 0.1]  # a years-in-grade profile
    data["simulation"] = {**data.get("simulation", {}), "levers_from_year": 2006}
    data["policies"] = [
        {
            "id": "own",
            "parameter": "attrition",
            "from_year": 2008,
            "scale": 0.5,
            "sexes": ["women"],
            "assumption": "test",
        }
    ]
    scenario = parse_scenario(data)
    levers = {
        "women_share": 0.45,
        "vacancy_odds": 2.0,
        "women_floor": 0.4,
        "women_attrition": 0.8,
        "men_attrition": 1.5,
        "establishment": 1.25,
    }
    changed = C.apply_what_if(scenario, **levers)
    assert changed.policies[-1].id == "own"  # the scenario's own policy stays last
    a, b = compile_scenario(scenario), compile_scenario(changed)
    before = b.years < 2006
    assert before.sum() == 5  # 2001-2005
    for name in ("women_share", "women_odds", "women_floor", "attrition", "establishment"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x[before], y[before], equal_nan=True), name  # history untouched
        assert not np.array_equal(x[~before], y[~before], equal_nan=True), name
    after = ~before
    assert np.all(b.women_share[after] == 0.45)
    assert np.all(b.women_floor[after, 1] == 0.4)
    assert b.attrition[after][:, :, 1] == pytest.approx(1.5 * a.attrition[after][:, :, 1])
    t06, t08 = list(b.years).index(2006), list(b.years).index(2008)
    assert b.attrition[t06, 0, 0] == pytest.approx(0.8 * a.attrition[t06, 0, 0])
    # The scenario's own policy (women's attrition halved from 2008) applies on top.
    assert b.attrition[t08, 0, 0, :2] == pytest.approx(0.8 * 0.5 * np.array([0.2, 0.1]))
    assert b.establishment[after, 1] == pytest.approx(625.0)  # 500 posts x 1.25
    assert scenario.grades[1].establishment.at(2005) == 500  # the original is untouched


def test_what_if_keeps_a_posterior_over_policies_by_position():
    """Lever policies go first: a posterior path into the scenario's own policies by index
    moves with them (``policies[0]`` becomes ``policies[n]``)."""
    data = _two_grade_vacancy()
    data["policies"] = [
        {
            "id": "own",
            "parameter": "attrition",
            "from_year": 2003,
            "scale": 0.9,
            "assumption": "test",
        }
    ]
    data["posterior"] = {
        "method": "test",
        "parameters": ["policies[0].scale", "attrition[grade=g0].women"],
        "draws": [[0.8, 0.1], [1.0, 0.12]],
    }
    scenario = parse_scenario(data)
    changed = C.apply_what_if(scenario, women_share=0.4, women_floor=0.2)
    assert changed.posterior.parameters == ["policies[2].scale", "attrition[grade=g0].women"]
    from simulator.posterior import compile_draws

    draws = compile_draws(changed)  # resolves, and the draws vary the scenario's own policy
    men = scenario.attrition[1].men
    assert draws[0].attrition[-1, 1, 1, 0] == pytest.approx(0.8 * men)
    assert draws[1].attrition[-1, 1, 1, 0] == pytest.approx(1.0 * men)


def test_apply_what_if_changes_odds_only_on_vacancy_steps():
    data = ladder(
        3,
        establishment=[None, None, 200],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.1, "men": 0.1}},
            {"mode": "vacancy"},
        ],
    )
    scenario = parse_scenario(data)
    assert C.vacancy_steps(scenario) == ["g2"]
    odds = compile_scenario(C.apply_what_if(scenario, vacancy_odds=3.0)).women_odds
    assert np.all(odds[:, 2] == 3.0)
    assert np.all(odds[:, :2] == 1.0)


def test_apply_what_if_without_levers_is_identity():
    scenario = parse_scenario(ladder(2))
    assert C.apply_what_if(scenario) is scenario


def test_apply_what_if_rejects_invalid_values():
    scenario = parse_scenario(ladder(2))
    with pytest.raises(ScenarioError) as info:
        C.apply_what_if(scenario, women_share=1.5)
    # The lever is the scenario's first policy: the message names it, the value and the range.
    (issue,) = info.value.issues
    assert issue.path == "policies[0].set"
    assert issue.value == 1.5
    assert "0 to 1" in issue.message


def test_describe_share_series_forms():
    constant = parse_scenario(ladder(1)).recruitment.women_share
    steps = parse_scenario(
        ladder(
            1,
            recruitment={"mode": "fixed", "intake": 10, "women_share": {"2001": 0.3, "2010": 0.4}},
        )
    ).recruitment.women_share
    ramp = parse_scenario(
        ladder(
            1,
            recruitment={
                "mode": "fixed",
                "intake": 10,
                "women_share": {"from_year": 2005, "to_year": 2010, "start": 0.25, "end": 0.4},
            },
        )
    ).recruitment.women_share
    assert C.describe_share_series(constant) == "30.0 %"
    assert C.describe_share_series(steps) == "30.0 % from 2001, 40.0 % from 2010"
    assert C.describe_share_series(ramp) == ("25.0 % until 2005, rising linearly to 40.0 % in 2010")


# ---------------------------------------------------------------------------------------------
# Run tables
# ---------------------------------------------------------------------------------------------
def test_run_tables_match_the_engines():
    scenario = parse_scenario(_two_grade_vacancy())
    expected = run(scenario, engine="expected")
    stochastic = run(scenario, engine="stochastic", replications=60, seed=5)
    tables = C.run_tables(expected, stochastic)
    shares, stocks = tables["shares"], tables["stocks"]
    assert set(shares["population"]) == {"g0", "g1", "all_grades", "workforce", "intake"}
    q = shares[["p05", "p25", "p50", "p75", "p95"]].dropna().to_numpy()
    assert (np.diff(q, axis=1) >= -1e-12).all()
    for pop in ("g1", "workforce"):
        rows = C.fan_data(shares, pop)
        assert rows["year"].tolist() == list(range(2000, 2011))
        assert rows["expected"].to_numpy() == pytest.approx(expected.share(pop)[0])
        assert rows["p50"].to_numpy() == pytest.approx(
            np.quantile(stochastic.share(pop), 0.5, axis=0)
        )
    mean = stochastic.raw.stock.mean(axis=0)
    g1_women = stocks[(stocks.grade == "g1") & (stocks.sex == "women")].sort_values("year")
    assert g1_women["headcount"].to_numpy() == pytest.approx(mean[:, 1, 0])
    assert len(stocks) == 11 * 2 * 2


# ---------------------------------------------------------------------------------------------
# Scenario files, JSON, populations, provenance, escaping
# ---------------------------------------------------------------------------------------------
def test_list_scenario_files(tmp_path):
    for name in ("b.toml", "a.toml", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "dir.toml").mkdir()
    assert list(C.list_scenario_files(tmp_path)) == ["a", "b"]
    assert C.list_scenario_files(tmp_path / "missing") == {}


def test_scenario_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(C.SCENARIO_DIR_ENV, str(tmp_path))
    assert C.scenario_dir() == tmp_path
    monkeypatch.delenv(C.SCENARIO_DIR_ENV)
    assert C.scenario_dir() == C.REPO_ROOT / "scenarios"


def test_scenario_json_round_trip():
    scenario = parse_scenario(_two_grade_vacancy())
    text = C.scenario_json(scenario)
    assert json.loads(text)["name"] == "test ladder"
    assert scenario_fingerprint(C.scenario_from_json(text)) == scenario_fingerprint(scenario)
    assert C.scenario_json(C.scenario_from_json(text)) == text


def test_population_options_targets_first_without_duplicates():
    scenario = parse_scenario(_two_grade_vacancy())
    assert C.population_options(scenario) == ["g1", "g0", "workforce", "all_grades", "intake"]
    assert C.population_label(scenario, "all_grades") == "all_grades (group: g0, g1)"
    assert C.population_label(scenario, "g0") == "g0"


def test_provenance_rows_cover_every_block():
    scenario = parse_scenario(_two_grade_vacancy())
    blocks = [r["block"] for r in C.provenance_rows(scenario)]
    assert blocks == [
        "Grade g1",
        "Initial headcount: g0",
        "Initial headcount: g1",
        "Attrition: g0",
        "Attrition: g1",
        "Promotion into g1 (vacancy)",
        "Recruitment (fixed)",
        "Target top",
        "Target entry",
    ]
    assert all(r["assumption"] == "test fixture" for r in C.provenance_rows(scenario))


def test_md_escape_neutralises_markdown():
    raw = "A *b* _c_ $x$ :red[y] [link](http://x) <b>#1</b> `code` 1.5 - 2"
    escaped = C.md_escape(raw)
    # Removing the escapes gives the original text back ...
    assert escaped.replace("\\", "") == raw.replace("\\", "")
    # ... and every special character is preceded by a backslash.
    for i, ch in enumerate(escaped):
        if ch in "*_$:[]()<>#`.-" and (i == 0 or escaped[i - 1] != "\\"):
            raise AssertionError(f"unescaped {ch!r} at {i} in {escaped!r}")
    assert C.md_escape("two\nlines") == "two lines"


# ---------------------------------------------------------------------------------------------
# Levers added for the planners: floor, retention, establishment (and their URL keys)
# ---------------------------------------------------------------------------------------------
def test_apply_what_if_scales_attrition_floor_and_establishment():
    data = _two_grade_vacancy()
    data["attrition"][0]["women"] = [0.2, 0.1]  # a years-in-grade profile
    scenario = parse_scenario(data)
    changed = C.apply_what_if(
        scenario, women_floor=0.4, women_attrition=0.5, men_attrition=2.0, establishment=1.25
    )
    a, b = compile_scenario(scenario), compile_scenario(changed)
    assert np.all(b.women_floor[:, 1] == 0.4)
    assert b.attrition[:, 0, 0, :2] == pytest.approx(np.broadcast_to([0.1, 0.05], (10, 2)))
    assert b.attrition[:, :, 1] == pytest.approx(2 * a.attrition[:, :, 1])
    assert b.attrition[:, 1, 0] == pytest.approx(0.5 * a.attrition[:, 1, 0])
    assert np.all(b.establishment[:, 1] == 625)  # 500 posts x 1.25
    assert scenario.grades[1].establishment.at(2005) == 500  # the original is untouched
    with pytest.raises(ScenarioError) as info:
        C.apply_what_if(scenario, men_attrition=20.0)  # attrition above 1: invalid
    assert "what-if-men-attrition" in str(info.value)


def test_query_params_of_the_new_levers():
    qs = C.parse_query_params(
        {
            "women_floor": "30",
            "women_attrition": "80",
            "men_attrition": "300",
            "establishment": "50",
        },
        IDS,
    )
    assert (qs.women_floor, qs.women_attrition, qs.men_attrition, qs.establishment) == (
        30,
        80,
        300,
        50,
    )
    assert not qs.warnings
    assert C.levers_from_settings(qs) == {
        "women_floor": 0.3,
        "women_attrition": 0.8,
        "men_attrition": 3.0,
        "establishment": 0.5,
    }
    bad = C.parse_query_params(
        {"women_floor": "101", "women_attrition": "5", "men_attrition": "1e3", "establishment": ""},
        IDS,
    )
    assert (bad.women_floor, bad.women_attrition, bad.men_attrition, bad.establishment) == (
        None,
        None,
        None,
        None,
    )
    assert len(bad.warnings) == 4


# ---------------------------------------------------------------------------------------------
# Flows, published points, exports
# ---------------------------------------------------------------------------------------------
def test_flow_table_and_chart():
    scenario = parse_scenario(_two_grade_vacancy())
    stochastic = run(scenario, engine="stochastic", replications=40, seed=2)
    flows = C.flow_table(stochastic)
    mean = stochastic.raw.flows.mean(axis=0)  # [Y, G, 2, F]
    left = flows[(flows.grade == "g1") & (flows.sex == "women") & (flows.flow == "left")]
    assert left.sort_values("year")["count"].to_numpy() == pytest.approx(-mean[:, 1, 0, 0])
    recruited = flows[(flows.grade == "g0") & (flows.flow == "recruited")]
    assert (recruited["count"] >= 0).all()
    wide = C.flows_wide(flows)
    assert (wide[["left", "recruited"]] >= 0).all().all()
    spec = C.flows_chart(flows, grade="g1")
    enc = spec["spec"]["encoding"]
    assert spec["spec"]["mark"]["type"] == "bar"
    assert enc["y"]["stack"] == "zero"
    assert enc["x"]["type"] == "ordinal"  # years as labels, never "2,025"
    assert enc["color"]["scale"]["domain"] == list(C.FLOW_COLORS)
    assert spec["facet"]["column"]["field"] == "sex"
    rows = next(iter(spec["datasets"].values()))
    assert {r["grade"] for r in rows} == {"g1"}


def test_observed_points_are_the_scenarios_published_figures():
    data = _two_grade_vacancy()
    data["sources"] = {"pub": {"title": "Report"}}
    data["initial"][1].update({"source": "pub", "locator": "table 1"})
    # A start block citing a source is not a published share: the source may give only the
    # headcount, the share being the modeller's.
    assert C.observed_points(parse_scenario(data), "g1").empty
    data["observed"] = [
        {"population": "g1", "year": 2004, "women_share": 0.25, "source": "pub", "locator": "t2"},
        {"population": "g1", "year": 2000, "women_share": 0.2, "source": "pub", "locator": "t1"},
    ]
    scenario = parse_scenario(data)
    pts = C.observed_points(scenario, "g1")
    assert pts.to_dict("records") == [
        {"year": 2000, "share": 0.2, "source": "pub", "where": "t1"},
        {"year": 2004, "share": 0.25, "source": "pub", "where": "t2"},
    ]
    assert C.observed_points(scenario, "g0").empty
    assert C.observed_points(scenario, "all_grades").empty
    spec = C.fan_chart(fan_frame(), targets=[TARGET], observed=pts)
    (square,) = [p for p in _by_mark(spec, "point") if p["mark"].get("shape") == "square"]
    assert _series_name(square) == C.OBSERVED_SERIES
    assert _rows(spec, square)[0]["source"] == "pub"
    domains = {tuple(layer["encoding"]["color"]["scale"]["domain"]) for layer in _layers(spec)}
    assert domains == {(*C.FAN_SERIES, C.OBSERVED_SERIES)}


def test_a_problem_figure_of_the_one_pool_is_not_repeated_under_its_other_name(monkeypatch):
    """With one pool, 'deployed' and 'deployed.<id>' are one population (as the validation
    says): a calibration problem's figure for one of them in a year the scenario gives for
    the other is left out; with two pools both are drawn."""
    data = _two_grade_vacancy()
    data["sources"] = {"pub": {"title": "Report"}}
    data["deployments"] = [{"id": "intl", "demand": 5, "grades": ["g1"], "assumption": "test"}]
    year = data["start_year"] + 2
    data["observed"] = [
        {
            "population": "deployed",
            "year": year,
            "women_share": 0.1,
            "source": "pub",
            "locator": "t1",
        }
    ]
    problem = [
        {
            "population": "deployed.intl",
            "year": year,
            "share": 0.3,
            "source": "fig-a",
            "where": "p",
            "quote": "",
            "note": "",
        },
        {
            "population": "deployed.intl",
            "year": year + 1,
            "share": 0.3,
            "source": "fig-b",
            "where": "p",
            "quote": "",
            "note": "",
        },
    ]
    monkeypatch.setattr(C, "problem_observations", lambda scenario: [dict(r) for r in problem])
    figures = C.published_figures(parse_scenario(data))
    assert list(zip(figures.population, figures.year, figures.source, strict=True)) == [
        ("deployed", year, "pub"),
        ("deployed.intl", year + 1, "fig-b"),
    ]
    data["deployments"].append({"id": "home", "demand": 5, "grades": ["g0"], "assumption": "t"})
    figures = C.published_figures(parse_scenario(data))
    assert len(figures) == 3  # two pools: 'deployed' is both, not 'intl'


def test_a_calibrated_scenario_draws_the_figures_it_was_fitted_to_not_its_fitted_start():
    """dk_police_calibrated: its 2010 start shares of officers and leaders are free parameters
    (they were drawn as published before); the stock shares of calibration/dk_police.toml are
    drawn with their figure ids; a problem path is followed only by file name in calibration/."""
    import tomllib

    from simulator import load_scenario
    from simulator.scenario import scenario_to_data

    path = C.REPO_ROOT / "scenarios" / "dk_police_calibrated.toml"
    scenario = load_scenario(path)
    problem = tomllib.loads((C.CALIBRATION_DIR / "dk_police.toml").read_text(encoding="utf-8"))
    stock_shares = {
        (o["population"], o["year"]): (o["value"], o["figure"])
        for o in problem["observations"]
        if o.get("quantity", "women_share") == "women_share"
        and o.get("of", "stock") == "stock"
        and not o.get("channels")
    }
    drawn = {}
    for pop in [*scenario.grade_ids, *scenario.groups]:
        for row in C.observed_points(scenario, pop).itertuples():
            drawn[(pop, row.year)] = (row.share, row.source)
    populations = {*scenario.grade_ids, *scenario.groups}  # the problem's channels are not
    own = {(o.population, o.year): (o.women_share, o.source) for o in scenario.observed}
    assert own == {("police_students", 2010): (0.167, "dk-nap")}  # published (line 1247)
    assert drawn == own | {k: v for k, v in stock_shares.items() if k[0] in populations}
    assert ("police_leaders", 2024) in drawn
    fitted = {"police_officers", "police_leaders", "sworn_officers"}  # their 2010 shares are
    assert not any(year == 2010 and pop in fitted for pop, year in drawn)  # free parameters
    assert "police_cadets" not in set(C.published_figures(scenario).population)  # a channel
    # The scenario's own figure of a population and year wins over the problem's.
    data = scenario_to_data(scenario)
    data["observed"] = [
        {
            "population": "police_leaders",
            "year": 2024,
            "women_share": 0.091,
            "source": "dk-nap",
            "locator": "elsewhere",
        }
    ]
    pts = C.observed_points(parse_scenario(data), "police_leaders")
    assert pts[["year", "share", "source"]].to_dict("records") == [
        {"year": 2024, "share": 0.091, "source": "dk-nap"}
    ]
    data = scenario_to_data(scenario)
    for elsewhere in ("../../etc/passwd", "../calibration/dk_police.txt", "nonexistent.toml"):
        data["posterior"]["problem"] = elsewhere
        assert C.observed_points(parse_scenario(data), "police_leaders").empty, elsewhere
    data["posterior"]["problem"] = "/somewhere/else/dk_police.toml"  # the name, in calibration/
    assert len(C.observed_points(parse_scenario(data), "police_leaders")) == 1


def test_results_excel_has_one_sheet_per_table():
    from simulator import run_and_summarize

    scenario = parse_scenario(_two_grade_vacancy())
    expected, stochastic, summary = run_and_summarize(scenario, "stochastic", 30, 1)
    tables = C.run_tables(expected, stochastic)
    import io

    book = pd.read_excel(io.BytesIO(C.results_excel(scenario, summary, tables)), sheet_name=None)
    assert list(book) == [
        "targets",
        "shares",
        "headcount",
        "flows",
        "assumptions",
        "sources",
        "run",
    ]
    assert book["targets"]["target"].tolist() == ["top", "entry"]
    assert book["targets"]["probability"].tolist() == pytest.approx(
        [t["probability"] for t in summary["targets"]]
    )
    assert len(book["shares"]) == len(tables["shares"])


# ---------------------------------------------------------------------------------------------
# Charts of the Compare, Sweeps, What-it-takes and Data pages (app/charts.py)
# ---------------------------------------------------------------------------------------------
def test_compare_and_difference_charts():
    from app import charts as H

    targets = pd.DataFrame(
        [
            {
                "scenario": "A: base",
                "target": "t",
                "status": "ok",
                "probability": 0.2,
                "probability_low": 0.1,
                "probability_high": 0.3,
            },
            {
                "scenario": "B: floor",
                "target": "t",
                "status": "ok",
                "probability": 0.7,
                "probability_low": 0.6,
                "probability_high": 0.8,
            },
            {"scenario": "B: floor", "target": "u", "status": "not applicable"},
        ]
    )
    spec = H.compare_chart(targets).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [(r["key"], r["probability"]) for r in rows] == [("A", 0.2), ("B", 0.7)]
    bar, rule = spec["spec"]["layer"]
    assert bar["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert (rule["encoding"]["x"]["field"], rule["encoding"]["x2"]["field"]) == (
        "probability_low",
        "probability_high",
    )
    diffs = pd.DataFrame(
        [
            {
                "a": "A: base",
                "b": "B: floor",
                "target": "t",
                "probability_difference": 0.5,
                "probability_low": 0.4,
                "probability_high": 0.6,
                "share_difference": 0.05,
                "share_low": 0.04,
                "share_high": 0.06,
            }
        ]
    )
    dspec = H.difference_chart(diffs, field="share").to_dict()
    fields = {json.dumps(layer["encoding"].get("x", {}).get("field")) for layer in dspec["layer"]}
    assert {'"share_difference"', '"share_low"', '"zero"'} <= fields


def test_sweep_helpers_and_heatmap(tmp_path):
    from app import charts as H

    summary = pd.DataFrame(
        {
            "point": range(4),
            "label": ["p"] * 4,
            "a": [0.1, 0.1, 0.2, 0.2],
            "b": [1, 2, 1, 2],
            "status": ["ok", "ok", "ok", "failed"],
            "t.probability": [0.1, 0.5, 0.9, np.nan],
            "t.share_median": [0.1, 0.2, 0.3, np.nan],
        }
    )
    assert H.sweep_levers({}, summary) == ["a", "b"]
    assert H.sweep_targets(summary) == ["t"]
    grid = H.sweep_grid(summary, "t", "a", "b")
    assert len(grid) == 3  # the failed point is left out
    spec = H.sweep_heatmap(grid, x="a", y="b", goal=0.5).to_dict()
    rect, outline, text = spec["layer"]
    assert rect["encoding"]["color"]["field"] == "probability"
    assert rect["encoding"]["color"]["scale"]["domain"] == [0, 1]
    assert outline["transform"] == [{"filter": "datum.goal_met"}]
    assert text["encoding"]["text"]["field"] == "text"
    rows = spec["datasets"][spec["data"]["name"]]
    assert [r["text"] for r in rows] == ["10 %", "50 %", "90 %"]
    assert [r["goal_met"] for r in rows] == [False, True, True]
    with pytest.raises(ValueError, match="fix the other levers"):
        H.sweep_grid(summary.assign(b=1), "t", "a", "b")
    # Directory discovery: only folders with a manifest and a summary.
    good = tmp_path / "x" / "run1"
    good.mkdir(parents=True)
    (good / "manifest.json").write_text("{}")
    summary.to_parquet(good / "summary.parquet")
    (tmp_path / "empty").mkdir()
    assert list(H.sweep_dirs(tmp_path)) == ["x/run1"]
    manifest, loaded = H.load_sweep(good)
    assert manifest == {}
    assert len(loaded) == 4


def test_waterfall_reach_goal_seek_and_fit_charts():
    from app import charts as H

    steps = [
        {"label": "2024 share", "kind": "level", "start": 0.0, "end": 0.09},
        {"label": "inertia", "kind": "change", "start": 0.09, "end": 0.14},
        {"label": "promotion", "kind": "change", "start": 0.14, "end": 0.12},
        {"label": "2030 share", "kind": "level", "start": 0.0, "end": 0.12},
    ]
    spec = H.waterfall_chart(steps).to_dict()
    rows = spec["layer"][0].get("data") or spec["datasets"][spec["data"]["name"]]
    rows = spec["datasets"][spec["data"]["name"]] if isinstance(rows, dict) else rows
    assert [r["kind_colour"] for r in rows] == ["level", "up", "down", "level"]
    assert [r["text"] for r in rows] == ["9.0 %", "+5.0 pp", "-2.0 pp", "12.0 %"]
    reach = H.reach_chart([2024, 2025], [0.1, 0.3], [0.1, 0.12], level=0.2, deadline=2025)
    rspec = reach.to_dict()
    assert rspec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["best case", "scenario"]
    gs = H.goal_seek_chart(
        [{"value": 0.0, "probability": 0.0}, {"value": 1.0, "probability": 1.0}],
        y="probability",
        goal=0.8,
        answer=0.4,
        x_title="floor",
    ).to_dict()
    assert len(gs["layer"]) == 3  # points, goal rule, answer rule
    fit = H.fit_chart(
        pd.DataFrame(
            {"label": ["a"], "observed": [0.2], "fitted": [0.21], "low": [0.18], "high": [0.24]}
        )
    ).to_dict()
    assert [layer["encoding"]["x"]["field"] for layer in fit["layer"]] == [
        "low",
        "fitted",
        "observed",
    ]


SHIPPED = sorted((C.REPO_ROOT / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_what_if_file_splits_back_into_its_scenario_and_levers(path):
    """Download (TOML) and upload again: the file is its scenario plus the levers, exactly."""
    from simulator import load_scenario, loads_scenario

    scenario = load_scenario(path)
    levers: dict[str, float] = {"women_attrition": 0.9, "men_attrition": 0.95}
    if C.has_intake_share(scenario):
        levers["women_share"] = 0.45
    if C.vacancy_steps(scenario):
        levers |= {"vacancy_odds": 1.5, "women_floor": 0.3}
    if any(g.establishment is not None for g in scenario.grades):
        levers["establishment"] = 1.1
    file = loads_scenario(C.scenario_toml(C.apply_what_if(scenario, **levers)), "toml")
    base, found = C.split_what_if(file)
    assert found == levers
    assert C.scenario_json(base) == C.scenario_json(scenario)
    assert C.split_what_if(scenario) == (scenario, {})  # nothing to split


def test_split_what_if_leaves_a_file_it_cannot_reproduce():
    scenario = parse_scenario(_two_grade_vacancy())
    file = C.apply_what_if(scenario, women_floor=0.4)
    data = scenario_to_data(file)
    data["policies"][0]["from_year"] = 2005  # edited by hand: no longer what the lever writes
    edited = parse_scenario(data)
    assert C.split_what_if(edited) == (edited, {})


def test_a_lever_renamed_beside_a_policy_of_the_same_id_is_replaced_not_stacked():
    data = _two_grade_vacancy()
    data["policies"] = [
        {
            "id": "what-if-women-share",  # the scenario's own policy, on another parameter
            "parameter": "recruitment.intake",
            "from_year": 2003,
            "scale": 1.1,
            "assumption": "test",
        }
    ]
    scenario = parse_scenario(data)
    once = C.apply_what_if(scenario, women_share=0.4)
    twice = C.apply_what_if(once, women_share=0.5)
    ids = [p.id for p in twice.policies]
    assert ids == ["what-if-women-share-x", "what-if-women-share"]
    assert twice.policies[0].set == 0.5
    # The notes' list of the scenario's own policies leaves the levers out.
    assert C.policies_on(twice, "recruitment.women_share") == []
    assert C.policies_on(twice, "recruitment.intake") == ["what-if-women-share"]


def test_unusable_levers_say_what_the_scenario_lacks():
    from pathlib import Path

    from simulator import load_scenario

    shipped = Path(__file__).resolve().parents[1] / "scenarios"
    funnel = load_scenario(shipped / "dk_defence_reform.toml")
    assert C.unusable_levers(funnel, {"women_share": 0.5, "women_attrition": 0.9}) == {
        "women_share": "it has no women's share of intake (its recruits come from the "
        "conscription funnel)"
    }
    (warning,) = C.unusable_lever_warnings(funnel, {"women_share": 0.5}, {"women_intake": "50"})
    assert warning.startswith("The link's women_intake='50' does nothing on ")
    assert warning.endswith("It was left out.")


@pytest.mark.parametrize(
    "params",
    [
        {"women_intake": "40", "women_odds": "1.5", "women_floor": "30"},
        {"women_attrition": "80", "men_attrition": "125", "establishment": "110"},
        {"women_intake": "0", "women_odds": "2.75", "women_floor": "100"},
    ],
)
def test_lever_params_are_the_inverse_of_reading_them(params):
    qs = C.parse_query_params(params, [])
    assert not qs.warnings
    assert C.lever_params(C.levers_from_settings(qs)) == params


def test_a_lever_with_nothing_to_act_on_is_an_error_not_skipped():
    from pathlib import Path

    from simulator import load_scenario

    funnel = load_scenario(
        Path(__file__).resolve().parents[1] / "scenarios" / "dk_defence_reform.toml"
    )
    with pytest.raises(ScenarioError) as info:
        C.apply_what_if(funnel, women_share=0.5, women_attrition=0.9)
    (issue,) = info.value.issues
    assert issue.path == "women_share"
    assert "conscription funnel" in issue.message
    one_grade = parse_scenario(app_alpha())  # no promotion step, no establishment
    with pytest.raises(ScenarioError) as info:
        C.apply_what_if(one_grade, vacancy_odds=2.0, establishment=1.1)
    assert [i.path for i in info.value.issues] == ["vacancy_odds", "establishment"]


def test_compare_lists_descriptions_and_sources_apart_from_model_values():
    from app.charts import is_text_change
    from simulator import load_scenario
    from simulator.decision import diff_assumptions

    cases = {
        "name": True,
        "description": True,
        "sources.pub": True,
        "sources": True,
        "attrition[grade=g1].assumption": True,
        "initial[grade=g0].locator": True,
        "targets[id=t].label": True,
        "attrition[grade=g1].women": False,
        "recruitment.intake": False,
        "targets[id=t].value": False,
        "policies[id=x]": False,  # a whole policy: it acts on the model
    }
    assert {p: is_text_change(p) for p in cases} == cases
    # Two shipped scenarios: both kinds differ, and every text path ends in a text field.
    a = load_scenario(C.REPO_ROOT / "scenarios" / "dk_police.toml")
    b = load_scenario(C.REPO_ROOT / "scenarios" / "dk_police_deployment.toml")
    diff = diff_assumptions(a, b)
    model = [d["path"] for d in diff if not is_text_change(d["path"])]
    text = [d["path"] for d in diff if is_text_change(d["path"])]
    assert model
    assert text
    assert "name" in text


def test_goal_seek_answers_are_rounded_towards_meeting_the_target_within_the_range():
    # "at least": up; "at most": down; odds to 2 decimals, shares to 0.1 %.
    assert C.shown_lever_answer("women_odds:g1", 2.3719, "at_least") == 2.38
    assert C.shown_lever_answer("women_odds:g1", 2.3719, "at_most") == 2.37
    assert C.shown_lever_answer("promotion_floor:g1", 0.35, "at_least") == 0.35  # exact stays
    assert C.shown_lever_answer("promotion_floor:g1", 0.35012, "at_least") == 0.351
    assert C.shown_lever_answer("intake_women_share", 0.4536, "at_most") == 0.453
    # A range's top that is not round (the largest valid odds): the top itself, not beyond.
    assert C.shown_lever_answer("women_odds:g1", 1.8301, "at_least", (0.1, 1.833333)) == 1.833333
    assert C.shown_lever_answer("women_odds:g1", 0.1004, "at_most", (0.1004, 5.0)) == 0.1004
    # Texts, and a band's ends rounded inwards.
    res = {"direction": "at_least", "value": 2.3719, "range": [0.1, 10.0]}
    assert C.lever_answer("women_odds:g1", res) == ("at least 2.38", 2.38)
    band = {
        "direction": "between",
        "value": 0.20004,
        "met_interval": [0.20004, 0.68449],
        "range": [0.0, 1.0],
    }
    assert C.lever_answer("intake_women_share", band) == ("between 20.1 % and 68.4 %", 0.201)
    narrow = {**band, "met_interval": [0.20004, 0.20049]}
    assert C.lever_answer("intake_women_share", narrow) == ("between 20.004 % and 20.049 %", None)
    # Kept at a range's end off the display grid: the end is shown exactly, not rounded back.
    top = {"direction": "at_least", "value": 1.8301, "range": [0.1, 1.833333]}
    assert C.lever_answer("women_odds:g1", top) == ("at least 1.83333", 1.833333)
    bottom = {"direction": "at_most", "value": 0.1004, "range": [0.1004, 5.0]}
    assert C.lever_answer("women_odds:g1", bottom) == ("at most 0.1004", 0.1004)
    share_top = {"direction": "at_least", "value": 0.99952, "range": [0.0, 0.9996]}
    assert C.lever_answer("intake_women_share", share_top) == ("at least 99.96 %", 0.9996)
    assert [C.is_share_lever(x) for x in ("lateral_share:g1", "women_odds:g1")] == [True, False]


def test_the_default_goal_seek_lever_acts_on_the_targets_population():
    from simulator import load_scenario

    def default(stem: str) -> dict[str, str]:
        s = load_scenario(C.REPO_ROOT / "scenarios" / f"{stem}.toml")
        levers = C.goal_seek_levers(s)
        return {t.id: C.default_goal_seek_lever(s, t, levers) for t in s.targets}

    police = default("dk_police_deployment")
    assert police["police-leaders-2030"] == "promotion_floor:police_leaders"  # one grade
    assert police["deployed-un-2028"] == "deployment_women_floor"  # the deployed
    reform = default("dk_defence_reform")
    assert reform["deployed-2028"] == "deployment_women_floor"
    assert reform["military-2030"] == "women_volunteer_share"  # a group fed by the funnel
    assert default("dk_defence")["military-2035"] == "intake_women_share"  # fed by the intake
