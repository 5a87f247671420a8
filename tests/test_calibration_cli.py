"""``parity calibrate`` and ``parity backtest`` (through ``calibration.cli.main``).

A small 2-grade problem is calibrated and back-tested end to end; bad problem files must give
field-level messages (every problem at once) and exit 2, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from calibration.cli import main
from simulator import load_scenario
from simulator.compiled import compile_scenario
from tests.factories import ladder, tiny_problem


def _write_problem(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "problem.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    data = tiny_problem(tmp_path, {"intake-2002": 0.31, "g0-2005": 0.27, "g1-2010": 0.21}, draws=60)
    data["projection"] = {
        "end_year": 2020,
        "name": "tiny, calibrated",
        "out": "out/tiny_calibrated.toml",
    }
    return _write_problem(tmp_path, data)


def test_calibrate_writes_a_valid_scenario_with_a_posterior(problem_file: Path, capsys):
    assert main(["calibrate", str(problem_file)]) == 0
    out = capsys.readouterr().out
    assert "g1-2010" in out
    assert "synthetic" in out
    assert "90% predictive" in out
    written = problem_file.parent / "out" / "tiny_calibrated.toml"
    scenario = load_scenario(written)
    compile_scenario(scenario)
    assert scenario.end_year == 2020
    assert scenario.name == "tiny, calibrated"
    post = scenario.posterior
    assert post.parameters == ["recruitment.women_share", "attrition[grade=g0].women"]
    assert len(post.draws) == 60
    assert all(len(r) == 2 for r in post.draws)
    assert (written.parent / post.problem).resolve() == problem_file.resolve()
    draws = np.array(post.draws)
    assert np.all((draws[:, 0] >= 0.15) & (draws[:, 0] <= 0.5))
    assert written.with_suffix(".fit.svg").read_text().startswith("<svg")


def test_calibrate_json_and_explicit_outputs(problem_file: Path, tmp_path: Path, capsys):
    out, chart, table = tmp_path / "a.toml", tmp_path / "c.svg", tmp_path / "t.json"
    argv = ["calibrate", str(problem_file), "--out", str(out), "--chart", str(chart)]
    assert main([*argv, "--table", str(table), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(table.read_text())
    assert [o["id"] for o in printed["observations"]] == ["intake-2002", "g0-2005", "g1-2010"]
    assert {p["name"] for p in printed["parameters"]} == {"h", "a_w"}
    assert out.exists()
    assert chart.exists()


def test_backtest_reports_held_out_observations(problem_file: Path, capsys):
    assert main(["backtest", str(problem_file), "--cutoff", "2005", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fitted_on"] == ["intake-2002", "g0-2005"]
    (held,) = result["held_out"]
    assert held["id"] == "g1-2010"
    lo, hi = held["predictive_interval"]
    assert held["covered"] == (lo <= held["published"] <= hi)
    assert held["error"] == pytest.approx(held["published"] - held["predicted"])


def test_backtest_text_report(problem_file: Path, capsys):
    assert main(["backtest", str(problem_file), "--cutoff", "2005"]) == 0
    out = capsys.readouterr().out
    assert "held-out observation" in out
    assert "g1-2010" in out
    assert "of 1 held-out observations inside" in out


def test_backtest_cutoff_without_observations_on_one_side_exits_2(problem_file: Path, capsys):
    assert main(["backtest", str(problem_file), "--cutoff", "2030"]) == 2
    err = capsys.readouterr().err
    assert "--cutoff: no observation after 2030" in err
    assert "Traceback" not in err


def test_bad_problem_file_gives_every_field_level_error(tmp_path: Path, capsys):
    data = tiny_problem(tmp_path, {})
    data["parameters"][0]["low"] = 0.9  # low above high
    del data["parameters"][1]["assumption"]  # no provenance
    data["observations"][0]["measurement"] = "poisson"
    del data["observations"][1]["n_eff"]
    data["observations"][2]["colour"] = "red"
    data["design"]["points"] = 300
    path = _write_problem(tmp_path, data)
    assert main(["calibrate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for where in (
        "parameters[0]: low (0.9) must be below high (0.5)",
        "parameters[1]: needs a source or an assumption",
        "observations[0].measurement:",
        "observations[1]: measurement 'binomial' needs n_eff",
        "observations[2].colour: unknown field",
        "design.points: points must be a power of 2",
    ):
        assert where in err, (where, err)


def test_problem_that_does_not_match_its_scenario_exits_2(tmp_path: Path, capsys):
    data = tiny_problem(tmp_path, {})
    data["parameters"][1]["paths"] = ["attrition[grade=g7].women"]
    data["observations"][1]["population"] = "leaders"
    data["observations"][2]["year"] = 2031
    data["observations"][0]["figure"] = "no-such-figure"
    path = _write_problem(tmp_path, data)
    assert main(["calibrate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "parameters[1].paths[0]: not found in the scenario" in err
    assert "observations[1].population: unknown population" in err
    assert "observations[2].year: must lie within 2000-2010" in err
    assert "observations[0].figure:" in err
    assert "Traceback" not in err


def test_problem_whose_scenario_is_missing_or_invalid_exits_2(tmp_path: Path, capsys):
    data = tiny_problem(tmp_path, {})
    data["scenario"] = "missing.toml"
    assert main(["calibrate", str(_write_problem(tmp_path, data))]) == 2
    assert "scenario: cannot read" in capsys.readouterr().err
    bad = ladder(2)
    bad["end_year"] = 1990
    (tmp_path / "bad.toml").write_text(tomli_w.dumps(bad))
    data["scenario"] = "bad.toml"
    assert main(["calibrate", str(_write_problem(tmp_path, data))]) == 2
    assert "scenario: the scenario is invalid: end_year" in capsys.readouterr().err


def test_unreadable_problem_file_exits_2(tmp_path: Path, capsys):
    path = tmp_path / "p.toml"
    path.write_text("name = [unclosed")
    assert main(["calibrate", str(path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["calibrate", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
