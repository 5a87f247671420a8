"""Interpolated tables of a calibration problem (``[[interpolate]]``): piecewise-linear paths.

* ``interpolate_table`` writes one entry per year from the first to the last knot, linear
  between the knots' values (exact), keeps entries outside the knots and orders the keys.
* Free parameters write the knots (``recruitment.women_share.2005``); the model fills the
  years in between, the engine sees the linear path, and the posterior block lists every
  yearly entry instead of the knots (so each draw of a calibrated scenario is a linear path).
* Validation names the field of every problem at once: not a table of years, a knot with no
  entry, a parameter writing a year between the knots that is not a knot (a year outside
  them keeps its value, and is allowed), knots out of order, no provenance, a table listed
  twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tomli_w

from calibration.fit import Model, calibrated_scenario_data, check_posterior_draws, fit_problem
from calibration.problem import interpolate_table, problem_from_data
from simulator.compiled import compile_scenario
from simulator.errors import ScenarioError
from simulator.scenario import parse_scenario
from tests.factories import ladder


def test_interpolate_table_is_linear_between_knots_and_keeps_other_entries():
    table = {"2012": 9.0, "2000": 1.0, "2004": 3.0, "2010": 0.0, "2003": 7.0}
    interpolate_table(table, [2000, 2004, 2010])
    assert list(table) == [str(y) for y in range(2000, 2011)] + ["2012"]
    assert [table[str(y)] for y in range(2000, 2005)] == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0])
    assert [table[str(y)] for y in range(2004, 2011)] == pytest.approx(
        [3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0]
    )
    assert table["2012"] == 9.0  # outside the knots: kept


def _problem(tmp_path: Path, **interp) -> dict:
    scenario = ladder(2, start_year=2000, end_year=2010, initial=[(100, 400), (50, 450)])
    scenario["recruitment"]["women_share"] = {"2000": 0.2, "2005": 0.2, "2010": 0.2}
    (tmp_path / "tiny.toml").write_text(tomli_w.dumps(scenario))
    return {
        "name": "knots",
        "scenario": "tiny.toml",
        "design": {"points": 256, "draws": 100, "starts": 1, "refinements": 2, "min_ess": 50},
        "parameters": [
            {
                "name": f"h_{y}",
                "paths": [f"recruitment.women_share.{y}"],
                "low": 0.05,
                "high": 0.6,
                "assumption": "test",
            }
            for y in (2000, 2005, 2010)
        ],
        "interpolate": [
            {"path": "recruitment.women_share", "knots": [2000, 2005, 2010], "assumption": "t"}
            | interp
        ],
        "observations": [
            {
                "id": f"intake-{y}",
                "population": "intake",
                "year": y,
                "value": v,
                "measurement": "binomial",
                "n_eff": 400,
                "source": "synthetic",
            }
            for y, v in ((2002, 0.26), (2005, 0.35), (2008, 0.29), (2010, 0.25))
        ],
    }


def test_parameters_write_knots_and_the_engine_sees_the_linear_path(tmp_path: Path):
    problem = problem_from_data(_problem(tmp_path), tmp_path)
    years = list(range(2000, 2011))
    assert problem.written_paths == [f"recruitment.women_share.{y}" for y in years]
    model = Model(problem)
    theta = np.array([0.1, 0.4, 0.2])
    data, concrete = model.data(theta)
    expected = np.interp(years, [2000, 2005, 2010], theta)
    assert concrete == pytest.approx(expected)
    assert [data["recruitment"]["women_share"][str(y)] for y in years] == pytest.approx(expected)
    fitted, _ = model.evaluate(theta)
    # intake observations are the share of the year's recruits: the path itself
    assert fitted == pytest.approx(np.interp([2002, 2005, 2008, 2010], [2000, 2005, 2010], theta))


def test_a_fit_with_knots_writes_a_calibrated_scenario_with_linear_draws(tmp_path: Path):
    problem = problem_from_data(_problem(tmp_path), tmp_path)
    fit = fit_problem(problem)
    # the published points are nearly linear between knots: the MAP is close to them
    assert fit.estimate[1] == pytest.approx(0.35, abs=0.03)
    data = calibrated_scenario_data(fit)
    post = data["posterior"]
    assert post["parameters"] == problem.written_paths
    assert not check_posterior_draws(data)
    draws = np.array(post["draws"])
    years = list(range(2000, 2011))
    for row in draws:
        assert row == pytest.approx(np.interp(years, [2000, 2005, 2010], row[[0, 5, 10]]), abs=1e-6)
    compile_scenario(parse_scenario(data))


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"path": "recruitment.mode"}, "interpolate[0].path", "table of years"),
        ({"path": "recruitment.nope"}, "interpolate[0].path", "table of years"),
        ({"knots": [2000, 2004, 2010]}, "interpolate[0].knots", "lies between the knots"),
        ({"knots": [2000, 2010, 2005]}, "interpolate[0]", "strictly increasing"),
        ({"assumption": None}, "interpolate[0]", "source or an assumption"),
    ],
)
def test_invalid_interpolation_names_its_field(tmp_path: Path, change, field, text):
    data = _problem(tmp_path)
    data["interpolate"][0] = {k: v for k, v in (data["interpolate"][0] | change).items() if v}
    with pytest.raises(ScenarioError) as err:
        problem_from_data(data, tmp_path)
    hits = [i for i in err.value.issues if i.path.startswith(field) and text in i.message]
    assert hits, [str(i) for i in err.value.issues]


def test_a_parameter_may_write_a_year_outside_the_knots(tmp_path: Path):
    """Only the years from the first to the last knot are filled in: a year after the last
    knot keeps the value its parameter writes."""
    data = _problem(tmp_path)
    data["interpolate"][0]["knots"] = [2000, 2005]
    problem = problem_from_data(data, tmp_path)
    model = Model(problem)
    theta = np.array([0.1, 0.4, 0.2])
    data, _ = model.data(theta)
    table = data["recruitment"]["women_share"]
    years = list(range(2000, 2006))
    linear = np.interp(years, [2000, 2005], theta[:2])
    assert [table[str(y)] for y in years] == pytest.approx(linear)
    assert table["2010"] == pytest.approx(0.2)
    # ... and the posterior varies it: its path is among those written, once
    written = problem.written_paths
    assert written == ["recruitment.women_share.2010"] + [
        f"recruitment.women_share.{y}" for y in years
    ]
    fit = fit_problem(problem)
    post = calibrated_scenario_data(fit)["posterior"]
    assert post["parameters"] == written
    draws = np.array(post["draws"])
    assert np.ptp(draws[:, 0]) > 0  # the 2010 entry differs between draws


def test_a_knot_without_an_entry_and_a_table_listed_twice_are_reported_together(tmp_path):
    data = _problem(tmp_path)
    data["interpolate"][0]["knots"] = [2000, 2005, 2007, 2010]
    data["interpolate"].append(dict(data["interpolate"][0]))
    with pytest.raises(ScenarioError) as err:
        problem_from_data(data, tmp_path)
    text = [str(i) for i in err.value.issues]
    assert any("interpolate[0].knots" in t and "no entry for [2007]" in t for t in text), text
    assert any("interpolate[1].path" in t and "listed twice" in t for t in text), text
