"""Parameter uncertainty: a scenario's ``[posterior]`` sample, one parameter set per replication.

Checks: each replication runs the draw the block's stream assigns it (its outcome matches a run
of that draw's scenario alone in distribution); splitting replications does not change results;
``parameter_uncertainty=False`` is the point estimate; the draw indices are uniform; a bad path
or a draw that makes an invalid scenario is reported by field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulator import parse_scenario
from simulator.api import run, run_and_summarize
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.posterior import compile_draws
from tests.factories import ladder

LOW, HIGH = 0.05, 0.40


def calibrated(draws: list[list[float]] | None = None) -> dict:
    """Two grades; the posterior moves women's attrition in the entry grade."""
    data = ladder(2, end_year=2010, initial=[(100, 300), (40, 160)])
    data["targets"] = [
        {
            "id": "top",
            "population": "g1",
            "comparator": "at_least",
            "value": 0.2,
            "deadline": 2010,
            "assumption": "test",
        }
    ]
    data["posterior"] = {
        "method": "test sample",
        "parameters": ["attrition[grade=g0].women"],
        "draws": draws if draws is not None else [[LOW], [HIGH]],
    }
    return data


def test_each_replication_runs_its_draw():
    """Replications assigned the high-attrition draw keep fewer women in g0: their mean equals
    the expected engine of that draw (z-test per draw, α = 0.001 two-sided)."""
    s = parse_scenario(calibrated())
    res = run(s, "stochastic", replications=400, seed=3)
    idx = res.raw.draw
    assert idx is not None
    assert set(np.unique(idx)) == {0, 1}
    draws = compile_draws(s)
    women_g0 = res.raw.stock[:, -1, 0, 0]
    z_crit = stats.norm.ppf(1 - 0.001 / 2)
    for j, c in enumerate(draws):
        exp = run(c, "expected").raw.stock[0, -1, 0, 0]
        sample = women_g0[idx == j]
        z = (sample.mean() - exp) / (sample.std(ddof=1) / np.sqrt(sample.size))
        assert abs(z) < z_crit, (j, sample.mean(), exp)
    assert women_g0[idx == 0].mean() > women_g0[idx == 1].mean() + 10


def test_draw_indices_are_uniform():
    """Chi-square test of the assigned draws over 5 equally weighted rows (α = 0.001)."""
    s = parse_scenario(calibrated([[0.05 + 0.05 * j] for j in range(5)]))
    res = run(s, "stochastic", replications=1000, seed=9)
    counts = np.bincount(res.raw.draw, minlength=5)
    assert stats.chisquare(counts).pvalue > 0.001, counts


def test_chunking_does_not_change_results():
    s = parse_scenario(calibrated())
    whole = run(s, "stochastic", replications=300, seed=5)
    tail = run(s, "stochastic", replications=150, seed=5, first_replication=150)
    np.testing.assert_array_equal(whole.raw.stock[150:], tail.raw.stock)
    np.testing.assert_array_equal(whole.raw.draw[150:], tail.raw.draw)


def test_without_parameter_uncertainty_is_the_point_estimate():
    data = calibrated()
    s = parse_scenario(data)
    plain = copy.deepcopy(data)
    del plain["posterior"]
    a = run(s, "stochastic", replications=200, seed=7, parameter_uncertainty=False)
    b = run(parse_scenario(plain), "stochastic", replications=200, seed=7)
    assert a.raw.draw is None
    np.testing.assert_array_equal(a.raw.stock, b.raw.stock)


def test_summary_says_which_uncertainty():
    s = parse_scenario(calibrated())
    _, _, with_params = run_and_summarize(s, replications=100, seed=1)
    _, _, without = run_and_summarize(s, replications=100, seed=1, parameter_uncertainty=False)
    assert with_params["parameter_uncertainty"] is True
    assert "parameter uncertainty" in with_params["uncertainty"]
    assert without["parameter_uncertainty"] is False
    assert "Monte Carlo only" in without["uncertainty"]


def test_parameter_uncertainty_widens_the_spread():
    """The share at the deadline varies more across replications with two very different
    draws than with the point estimate alone (F-test on variances, α = 0.001)."""
    s = parse_scenario(calibrated())
    wide = run(s, "stochastic", replications=400, seed=2).share("g0")[:, -1]
    narrow = run(s, "stochastic", replications=400, seed=2, parameter_uncertainty=False)
    narrow_share = narrow.share("g0")[:, -1]
    f = wide.var(ddof=1) / narrow_share.var(ddof=1)
    assert f > stats.f.ppf(1 - 0.001, wide.size - 1, narrow_share.size - 1)


def test_cli_flag(tmp_path, capsys):
    import tomli_w

    path = tmp_path / "cal.toml"
    path.write_text(tomli_w.dumps(calibrated()), encoding="utf-8")
    assert main(["run", str(path), "--reps", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameter_uncertainty"] is True
    assert main(["run", str(path), "--reps", "100", "--json", "--no-parameter-uncertainty"]) == 0
    assert json.loads(capsys.readouterr().out)["parameter_uncertainty"] is False


def test_bad_path_is_reported_by_field():
    data = calibrated()
    data["posterior"]["parameters"] = ["attrition[grade=nowhere].women"]
    with pytest.raises(ScenarioError) as info:
        run(parse_scenario(data), "stochastic", replications=10, seed=1)
    assert info.value.issues[0].path == "posterior.parameters[0]"
    assert "nowhere" in info.value.issues[0].message


def test_draw_making_an_invalid_scenario_is_reported_by_row():
    with pytest.raises(ScenarioError) as info:
        run(parse_scenario(calibrated([[0.1], [1.5]])), "stochastic", replications=10, seed=1)
    assert [i.path for i in info.value.issues] == ["posterior.draws[1]"]


def test_ragged_draws_are_a_schema_error():
    with pytest.raises(ScenarioError) as info:
        parse_scenario(calibrated([[0.1], [0.2, 0.3]]))
    assert any(i.path.startswith("posterior") for i in info.value.issues)


def test_an_edit_to_a_calibrated_value_moves_the_whole_posterior():
    """With ``point`` recorded, changing the scenario's value at a posterior path shifts every
    draw by the difference (the edit takes effect instead of being overwritten)."""
    data = calibrated([[0.05], [0.15]])
    data["attrition"][0]["women"] = 0.1
    data["posterior"]["point"] = [0.1]
    base = compile_draws(parse_scenario(data))
    data["attrition"][0]["women"] = 0.3
    moved = compile_draws(parse_scenario(data))
    for a, b in zip(base, moved, strict=True):
        np.testing.assert_allclose(b.attrition[:, 0, 0] - a.attrition[:, 0, 0], 0.2)


def test_without_point_the_draws_are_used_as_written():
    data = calibrated([[0.05], [0.15]])
    data["attrition"][0]["women"] = 0.3
    draws = compile_draws(parse_scenario(data))
    assert [float(c.attrition[0, 0, 0, 0]) for c in draws] == [0.05, 0.15]


def test_a_path_the_engines_do_not_draw_is_rejected():
    data = calibrated()
    data["posterior"]["parameters"] = ["targets[id=top].value"]
    data["posterior"]["draws"] = [[0.2], [0.3]]
    with pytest.raises(ScenarioError) as info:
        compile_draws(parse_scenario(data))
    assert info.value.issues[0].path == "posterior.parameters[0]"
    assert "attrition" in info.value.issues[0].message


# ---------------------------------------------------------------------------------------------
# Building each draw's data: only the containers on a path are copied (compile_draws' speed).
# ---------------------------------------------------------------------------------------------
SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_parsing_leaves_its_input_unchanged(path):
    """What lets a draw share the containers it does not change with the base data."""
    from simulator import load_scenario
    from simulator.scenario import scenario_to_data

    data = scenario_to_data(load_scenario(path))
    before = copy.deepcopy(data)
    parse_scenario(data)
    assert data == before


def test_with_values_replaces_values_and_copies_only_their_containers():
    from simulator.paths import parse_path
    from simulator.posterior import _key_chain, _with_values

    base = {
        "attrition": [{"grade": "a", "women": 0.1}, {"grade": "b", "women": 0.2}],
        "recruitment": {"women_share": {"2010": 0.3, "2011": 0.4}},
        "grades": [{"id": "a"}],
    }
    before = copy.deepcopy(base)
    paths = [
        "attrition[grade=b].women",
        "recruitment.women_share.2011",
        "recruitment.women_share.2010",
    ]
    chains = [_key_chain(base, parse_path(p)) for p in paths]
    assert chains[0] == ["attrition", 1, "women"]
    out = _with_values(base, chains, [0.5, 0.6, 0.7])
    assert base == before  # the base is unchanged
    assert out["attrition"] == [{"grade": "a", "women": 0.1}, {"grade": "b", "women": 0.5}]
    assert out["recruitment"] == {"women_share": {"2010": 0.7, "2011": 0.6}}
    assert out["grades"] is base["grades"]  # untouched: shared
    assert out["attrition"][0] is base["attrition"][0]
    assert out["attrition"][1] is not base["attrition"][1]


# ---------------------------------------------------------------------------------------------
# A deployment pool's odds drawn per replication.
# ---------------------------------------------------------------------------------------------
ODDS_LOW, ODDS_HIGH = 0.5, 2.0


def with_pool_posterior(parameters: list[str], draws: list[list[float]]) -> dict:
    """Two grades; a pool of 60 deployed from g1 (40 women, 160 men at the start)."""
    data = ladder(2, end_year=2010, initial=[(100, 300), (40, 160)])
    data["deployments"] = [{"id": "ops", "demand": 60, "grades": ["g1"], "assumption": "test"}]
    data["posterior"] = {"method": "test sample", "parameters": parameters, "draws": draws}
    return data


@pytest.mark.parametrize("engine", ["stochastic", "agents"])
def test_each_replication_deploys_with_its_draws_odds(engine):
    """A posterior on a pool's odds: the replications assigned each draw deploy, on average,
    the women that draw's expected engine deploys (z-test per draw and year-end 2005, α =
    0.001 two-sided), and the high-odds draw deploys more women."""
    data = with_pool_posterior(["deployments[id=ops].women_odds"], [[ODDS_LOW], [ODDS_HIGH]])
    s = parse_scenario(data)
    reps = 400 if engine == "stochastic" else 200
    res = run(s, engine, replications=reps, seed=4)
    idx = res.raw.draw
    assert set(np.unique(idx)) == {0, 1}
    draws = compile_draws(s)
    assert [float(c.deployments[0].women_odds[0]) for c in draws] == [ODDS_LOW, ODDS_HIGH]
    t = 5  # year-end 2005
    women = res.raw.deployments[:, t, 0, 0].astype(float)
    z_crit = stats.norm.ppf(1 - 0.001 / 2)
    for j, c in enumerate(draws):
        exp = run(c, "expected").raw.deployments[0, t, 0, 0]
        sample = women[idx == j]
        z = (sample.mean() - exp) / (sample.std(ddof=1) / np.sqrt(sample.size))
        assert abs(z) < z_crit, (j, sample.mean(), exp)
    assert women[idx == 1].mean() > women[idx == 0].mean() + 5


def test_pool_odds_draws_do_not_depend_on_the_split_and_leave_the_rest_alone():
    data = with_pool_posterior(["deployments[id=ops].women_odds"], [[ODDS_LOW], [ODDS_HIGH]])
    s = parse_scenario(data)
    whole = run(s, "stochastic", replications=300, seed=5)
    tail = run(s, "stochastic", replications=150, seed=5, first_replication=150)
    np.testing.assert_array_equal(whole.raw.deployments[150:], tail.raw.deployments)
    np.testing.assert_array_equal(whole.raw.draw[150:], tail.raw.draw)
    # Only the deployed depend on the odds: the stocks are those of the scenario without the
    # posterior (common random numbers), and with one draw equal to the pool's own odds the
    # deployed are the plain scenario's too.
    plain = copy.deepcopy(data)
    del plain["posterior"]
    base = run(parse_scenario(plain), "stochastic", replications=300, seed=5)
    np.testing.assert_array_equal(whole.raw.stock, base.raw.stock)
    one = parse_scenario(with_pool_posterior(["deployments[id=ops].women_odds"], [[1.0], [1.0]]))
    same = run(one, "stochastic", replications=300, seed=5)
    np.testing.assert_array_equal(same.raw.deployments, base.raw.deployments)


def test_a_policy_on_the_pools_odds_may_be_drawn_but_not_the_other_pool_parameters():
    data = with_pool_posterior(["policies[id=more].set"], [[ODDS_LOW], [ODDS_HIGH]])
    data["policies"] = [
        {
            "id": "more",
            "parameter": "deployment.women_odds",
            "from_year": 2003,
            "set": 1.5,
            "assumption": "test",
        }
    ]
    draws = compile_draws(parse_scenario(data))
    odds = [c.deployments[0].women_odds for c in draws]
    assert [float(o[0]) for o in odds] == [1.0, 1.0]  # before the policy: the pool's own
    assert [float(o[-1]) for o in odds] == [ODDS_LOW, ODDS_HIGH]
    for path, policy in (
        ("deployments[id=ops].demand", None),
        ("policies[id=more].set", "deployment.demand"),
    ):
        bad = copy.deepcopy(data)
        bad["posterior"]["parameters"] = [path]
        bad["posterior"]["draws"] = [[50.0], [70.0]]
        if policy:
            bad["policies"][0]["parameter"] = policy
        with pytest.raises(ScenarioError) as info:
            compile_draws(parse_scenario(bad))
        (issue,) = info.value.issues
        assert issue.path == "posterior.parameters[0]"
        assert "women_odds" in issue.message
