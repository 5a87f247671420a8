"""Regression tests for defects found in review (each failed before its fix).

* The posterior cache hits: compiling a calibrated scenario's draws twice gives the same list
  (the cache key was overwritten by a loop variable, so every run recompiled 400 draws).
* Extending a horizon (steady state, years to target) extends a deployment pool's per-year
  arrays only, never its grade mask — also when the number of grades equals the number of
  year-ends (the mask used to be taken for a per-year array).
* Years to target on a funnel population (a flow, NaN at the start year) is a number.
* A target on a flow population (intake, a funnel stage) at the start year is refused with
  its field: such a population has no start-year value, so it could never be met.
* A posterior column on a funnel or deployment policy is refused: the engines take those
  from the point estimate in every replication.
* Calibration problems: a typo in a path's last step is named on its field (it used to fail
  every design point with a generic message), and a normal prior whose mean lies far outside
  its bounds is refused.

Not statistical.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import numpy as np
import pytest

from simulator import compile_scenario, load_scenario, parse_scenario
from simulator.analytics import _extend, _frozen, years_to_target
from simulator.engine import run_expected_raw
from simulator.errors import ScenarioError
from simulator.posterior import compile_draws
from simulator.results import Result
from simulator.scenario import Target
from tests.factories import problem_report

ROOT = Path(__file__).resolve().parents[1]
REFORM = ROOT / "scenarios" / "dk_defence_reform.toml"


def _reform_data() -> dict:
    return tomllib.loads(REFORM.read_text(encoding="utf-8"))


def test_posterior_draws_are_compiled_once_per_scenario():
    scenario = load_scenario(ROOT / "scenarios" / "dk_police_calibrated.toml")
    assert compile_draws(scenario) is compile_draws(scenario)


def test_extending_the_horizon_keeps_a_deployment_pools_grade_mask():
    data = _reform_data()
    n_grades = len(data["grades"])
    data["end_year"] = data["start_year"] + n_grades - 1  # year-ends 0 … Y: as many as grades
    for key in ("targets", "policies"):
        data[key] = [x for x in data.get(key, []) if x.get("deadline", 0) <= data["end_year"]]
        data[key] = [x for x in data[key] if x.get("from_year", 0) <= data["end_year"]]
    c = compile_scenario(parse_scenario(data))
    assert len(c.deployments[0].grades) == c.n_years + 1  # the case that used to break
    mask = c.deployments[0].grades.copy()
    for extended in (_frozen(c, 12), _extend(c, 15)):
        pool = extended.deployments[0]
        assert np.array_equal(pool.grades, mask)
        assert len(pool.demand) == extended.n_years + 1
    target = Target.model_validate(
        {"id": "d", "population": "deployed", "comparator": "at_least", "value": 0.5,
         "deadline": data["end_year"], "assumption": "test"}
    )  # fmt: skip
    # Ran into an IndexError before. The deployed share stays below 50 % over the 40 years;
    # its highest value is first reached at the horizon's end.
    assert years_to_target(c, target, horizon=40) == {"first_year": None, "years": None}
    extended = _extend(c, 40)
    share = Result(extended, "expected", run_expected_raw(extended)).share("deployed")[0]
    assert share.max() < 0.5
    peak = target.model_copy(update={"value": float(share.max())})
    assert years_to_target(c, peak, horizon=40)["first_year"] == c.start_year + 40


def test_years_to_target_of_a_funnel_population_is_a_number():
    c = compile_scenario(load_scenario(REFORM))
    target = Target.model_validate(
        {"id": "c", "population": "conscripts", "comparator": "at_least", "value": 0.0,
         "deadline": c.start_year + 1, "assumption": "test"}
    )  # fmt: skip
    out = years_to_target(c, target)
    assert out == {"first_year": c.start_year + 1, "years": 1.0}


@pytest.mark.parametrize("population", ["intake", "conscripts", "contract_signers"])
def test_a_flow_target_at_the_start_year_is_refused_with_its_field(population):
    data = _reform_data()
    data["targets"].append(
        {
            "id": "flow-at-start",
            "population": population,
            "comparator": "at_least",
            "value": 0.3,
            "deadline": data["start_year"],
            "assumption": "test",
        }
    )
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    i = len(data["targets"]) - 1
    (issue,) = [x for x in exc.value.issues if x.path == f"targets[{i}].deadline"]
    assert f"{data['start_year'] + 1}-{data['end_year']}" in issue.message
    assert "flow" in issue.message
    assert issue.value == data["start_year"]
    data["targets"][-1]["deadline"] = data["start_year"] + 1  # the first step is allowed
    parse_scenario(data)


def _add_deployment_floor_policy(data: dict) -> None:
    """A policy ``deploy-floor`` on the deployment pools' floor (every replication shares it)."""
    data["policies"].append(
        {
            "id": "deploy-floor",
            "parameter": "deployment.women_floor",
            "from_year": data["start_year"] + 2,
            "set": 0.2,
            "assumption": "test",
        }
    )


def test_a_posterior_on_a_deployment_policy_is_refused():
    data = _reform_data()
    _add_deployment_floor_policy(data)
    good = copy.deepcopy(data)
    data["posterior"] = {
        "method": "test",
        "parameters": ["policies[id=deploy-floor].set"],
        "draws": [[0.0], [0.9]],
    }
    with pytest.raises(ScenarioError) as exc:
        compile_draws(parse_scenario(data))
    (issue,) = exc.value.issues
    assert issue.path == "posterior.parameters[0]"
    assert "deployment.women_floor" in issue.message
    # A posterior on an engine parameter of the same scenario is accepted.
    good["posterior"] = {
        "method": "test",
        "parameters": ["attrition[0].men"],
        "draws": [[0.1], [0.2]],
    }
    assert len(compile_draws(parse_scenario(good))) == 2


def test_drawn_per_replication_keeps_exactly_what_compile_draws_accepts():
    """calibration.fit keeps in a posterior the paths ``drawn_per_replication`` keeps (a
    policy on a deployment pool was kept, and compile_draws then refused the calibrated
    scenario after the whole fit). This checks the helper against compile_draws; no test runs
    a whole fit with a pool policy."""
    from simulator.posterior import drawn_per_replication

    data = _reform_data()
    _add_deployment_floor_policy(data)
    cases = {
        "policies[id=deploy-floor].set": False,
        "deployments[0].women_odds": True,  # a pool's odds: drawn per replication
        "deployments[0].demand": False,
        "attrition[0].men": True,
        "policies[id=more-conscripts].set": False,
    }
    for path, drawn in cases.items():
        assert drawn_per_replication(data, path) is drawn, path
        trial = copy.deepcopy(data)
        trial["posterior"] = {"method": "test", "parameters": [path], "draws": [[0.1], [0.2]]}
        if drawn:
            assert len(compile_draws(parse_scenario(trial))) == 2
        else:
            with pytest.raises(ScenarioError) as exc:
                compile_draws(parse_scenario(trial))
            assert [i.path for i in exc.value.issues] == ["posterior.parameters[0]"], path


def test_a_typo_in_a_calibration_paths_last_step_is_named(tmp_path):
    from tests.factories import tiny_problem

    data = tiny_problem(tmp_path, {})
    data["parameters"][1]["paths"] = ["attrition[grade=g0].womenn"]
    report = problem_report(data, tmp_path)
    assert "parameters[1].paths[0]" in report
    assert "womenn" in report
    assert "unknown field" in report


def test_a_normal_prior_far_outside_its_bounds_is_refused(tmp_path):
    from tests.factories import tiny_problem

    data = tiny_problem(tmp_path, {})
    data["parameters"][0]["prior"] = {"distribution": "normal", "mean": 5.0, "sd": 0.02}
    report = problem_report(data, tmp_path)
    assert "parameters[0]" in report
    assert "mean 5" in report
    data["parameters"][0]["prior"] = {"distribution": "normal", "mean": 0.55, "sd": 0.05}
    from calibration.problem import problem_from_data

    problem_from_data(data, tmp_path)  # within 3 sd of the bounds: allowed


def test_a_check_on_a_whole_table_does_not_repeat_the_table(tmp_path):
    from tests.factories import tiny_problem

    data = tiny_problem(tmp_path, {})
    data["observations"][0]["value"] = 29.2  # a percentage where a share is wanted
    report = problem_report(data, tmp_path)
    line = next(x for x in report.splitlines() if "observations[0]" in x)
    assert line.strip().endswith("(got 29.2)")
    assert "{" not in line


def test_a_check_on_a_list_still_shows_the_list():
    """Only a table's own check leaves its (dict) value out; a refused list is shown."""
    from tests.factories import ladder

    data = ladder(2)
    data["attrition"][0]["women"] = [0.1, 1.5]
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    (issue,) = [i for i in exc.value.issues if i.path == "attrition[0].women"]
    assert issue.value == [0.1, 1.5]
    assert "[0.1, 1.5]" in exc.value.report()


def test_a_grade_named_like_a_funnel_stage_is_a_stock_without_a_funnel():
    """Without [conscription], 'conscripts' is just a grade: a start-year target is allowed
    (it was refused as if it were the funnel's flow)."""
    import json

    from tests.factories import ladder

    data = json.loads(json.dumps(ladder(2, targets=[])).replace('"g0"', '"conscripts"'))
    data["targets"] = [
        {
            "id": "t",
            "population": "conscripts",
            "comparator": "at_least",
            "value": 0.1,
            "deadline": data["start_year"],
            "assumption": "test",
        }
    ]
    scenario = parse_scenario(data)  # no error: a stock has a start-year value
    assert scenario.targets[0].deadline == data["start_year"]
