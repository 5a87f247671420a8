"""Channels of a calibration problem: entry routes counted by published figures but not modelled.

* A channel's women's share follows its ramp exactly (held constant outside its years).
* The mixture of an observation that lists channels is (W + Σ n_c s_c) / (N + Σ n_c) for a
  women's share and N + Σ n_c for a headcount, checked exactly on hand-made engine cells and
  on a real run of a 2-grade scenario; an observation of a channel is the channel's own value.
* Free parameters write to channel paths (``channels[id=...]...``): the written value reaches
  the mixture, and channel paths are not scenario paths (not in ``written_paths``, so not in
  the calibrated scenario's posterior block).
* Validation names the field of every problem at once (channel fields, unknown channels,
  missing counts, ``of`` on a channel, ids that clash, channel paths that do not exist).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tomli_w

from calibration.cli import main
from calibration.fit import Model, combine, engine_cells, fit_problem, observe
from calibration.problem import Channel, Observation, ShareRamp, problem_from_data
from simulator import load_scenario
from simulator.compiled import compile_scenario
from simulator.engine import run_expected_raw
from simulator.scenario import parse_scenario
from tests.factories import problem_report, tiny_problem


def _channel(**kw) -> dict:
    return {
        "id": "cadets",
        "counts": {"2005": 50, "2006": 40},
        "women_share": {"from_year": 2004, "to_year": 2008, "start": 0.1, "end": 0.5},
        "assumption": "test",
    } | kw


def _with_channel(tmp_path: Path) -> dict:
    """The tiny problem, with a channel 'cadets', an entrants observation of g1 in 2005 that
    counts the cadets, an observation of the cadets' share and a parameter for its 2008 end."""
    data = tiny_problem(tmp_path, {})
    data["channels"] = [_channel()]
    data["observations"] += [
        {
            "id": "g1-entrants-2005",
            "population": "g1",
            "of": "entrants",
            "year": 2005,
            "value": 0.25,
            "measurement": "binomial",
            "n_eff": 200,
            "channels": ["cadets"],
            "source": "synthetic",
        },
        {
            "id": "cadets-2006",
            "population": "cadets",
            "year": 2006,
            "value": 0.3,
            "measurement": "binomial",
            "n_eff": 40,
            "source": "synthetic",
        },
    ]
    data["parameters"].append(
        {
            "name": "cadet_share_2008",
            "paths": ["channels[id=cadets].women_share.end"],
            "low": 0.2,
            "high": 0.8,
            "assumption": "test",
        }
    )
    return data


def _ob(**kw) -> Observation:
    base = {"id": "x", "population": "g1", "year": 2005, "source": "t", "measurement": "binomial"}
    return Observation.model_validate(base | {"n_eff": 10, "value": 0.3} | kw)


# ---------------------------------------------------------------------------------------------
# The channel's share and the mixture (exact)
# ---------------------------------------------------------------------------------------------
def test_share_ramp_is_linear_between_its_years_and_constant_outside():
    ramp = ShareRamp(from_year=2004, to_year=2008, start=0.1, end=0.5)
    assert [ramp.at(y) for y in (2000, 2004, 2005, 2006, 2008, 2030)] == pytest.approx(
        [0.1, 0.1, 0.2, 0.3, 0.5, 0.5]
    )
    constant = Channel.model_validate(_channel(women_share=0.25))
    assert constant.share(2005) == 0.25
    assert constant.count(2006) == 40.0


def test_mixture_of_engine_population_and_channels_is_exact():
    cadets = Channel.model_validate(_channel())  # 2005: 50 persons, share 0.2
    other = Channel.model_validate(_channel(id="other", counts={"2005": 25}, women_share=0.6))
    obs = [
        _ob(channels=["cadets"]),
        _ob(channels=["cadets", "other"]),
        _ob(
            quantity="headcount",
            value=100,
            measurement="tolerance",
            n_eff=None,
            tolerance=5,
            channels=["cadets", "other"],
        ),
        _ob(),
        _ob(population="cadets", year=2006),
        _ob(
            population="cadets",
            quantity="headcount",
            value=40,
            measurement="tolerance",
            n_eff=None,
            tolerance=5,
            year=2006,
        ),
    ]
    cells = np.array([[30.0, 100.0]] * 4 + [[np.nan, np.nan]] * 2)  # 30 women of 100
    f = combine(cells, obs, {"cadets": cadets, "other": other})
    assert f[0] == pytest.approx((30 + 50 * 0.2) / (100 + 50))  # 0.26667
    assert f[1] == pytest.approx((30 + 50 * 0.2 + 25 * 0.6) / (100 + 50 + 25))
    assert f[2] == pytest.approx(175.0)
    assert f[3] == pytest.approx(0.3)  # no channel: the engine's share
    assert f[4] == pytest.approx(0.3)  # the channel's own share in 2006
    assert f[5] == pytest.approx(40.0)
    with pytest.raises(ValueError, match="needs channel 'cadets'"):
        combine(cells[:1], obs[:1], {})


def test_mixture_on_a_real_run_and_parameters_written_to_the_channel(tmp_path: Path):
    problem = problem_from_data(_with_channel(tmp_path), tmp_path)
    assert problem.channel_paths == ["channels[id=cadets].women_share.end"]
    assert problem.written_paths == ["recruitment.women_share", "attrition[grade=g0].women"]
    model = Model(problem)
    theta = np.array([0.3, 0.12, 0.7])  # cadets' share 0.1 (2004) -> 0.7 (2008)
    data, chans, concrete = model.apply(theta)
    assert concrete.tolist() == pytest.approx([0.3, 0.12])
    assert chans["channels"][0]["women_share"]["end"] == pytest.approx(0.7)
    assert "channels" not in data
    fitted, _ = model.evaluate(theta)
    compiled = compile_scenario(parse_scenario(data))
    cells = engine_cells(run_expected_raw(compiled), compiled, problem.observations)
    i = [o.id for o in problem.observations].index("g1-entrants-2005")
    women, total = cells[i]
    share_2005 = 0.1 + (0.7 - 0.1) / 4
    assert fitted[i] == pytest.approx((women + 50 * share_2005) / (total + 50), rel=1e-12)
    assert fitted[-1] == pytest.approx(0.1 + 2 * (0.7 - 0.1) / 4)  # cadets-2006
    no_channel = observe(run_expected_raw(compiled), compiled, problem.observations[:3])
    assert fitted[:3] == pytest.approx(no_channel)


def test_a_channel_parameter_is_fitted_and_kept_out_of_the_posterior_block(tmp_path: Path):
    data = _with_channel(tmp_path)
    data["observations"][-1]["value"] = 0.4  # cadets' share 2006 = 0.1 + 2 (end - 0.1) / 4
    data["observations"][-1]["n_eff"] = 4000
    data["projection"] = {"out": "out/tiny_calibrated.toml"}
    fit = fit_problem(problem_from_data(data, tmp_path))
    assert fit.estimate[2] == pytest.approx(0.7, abs=0.02)
    path = tmp_path / "problem.toml"
    data["design"]["draws"] = 50
    path.write_text(tomli_w.dumps(data))
    assert main(["calibrate", str(path)]) == 0
    scenario = load_scenario(tmp_path / "out" / "tiny_calibrated.toml")
    assert scenario.posterior.parameters == ["recruitment.women_share", "attrition[grade=g0].women"]
    assert "cadet_share_2008 = " in scenario.posterior.note


# ---------------------------------------------------------------------------------------------
# Validation: every problem at once, with its field
# ---------------------------------------------------------------------------------------------


def test_channel_fields_are_validated_with_their_paths(tmp_path: Path):
    data = _with_channel(tmp_path)
    data["channels"] = [
        _channel(women_share=1.2, colour="red"),
        _channel(id="late", women_share={"from_year": 2006, "to_year": 2005, "start": 0, "end": 1}),
        _channel(id="negative", counts={"2005": -3}),
        _channel(id="anon", assumption=None),
    ]
    data["channels"][3].pop("assumption")
    report = problem_report(data, tmp_path)
    for where in (
        "channels[0].women_share.number: Input should be less than or equal to 1",
        "channels[0].colour: unknown field",
        "channels[1].women_share.ramp: from_year (2006) must be before to_year (2005)",
        "channels[2].counts.2005: Input should be greater than or equal to 0",
        "channels[3]: needs a source or an assumption",
    ):
        assert where in report, (where, report)


def test_channel_references_are_cross_checked_with_their_paths(tmp_path: Path):
    data = _with_channel(tmp_path)
    data["channels"].append(_channel(id="g0"))  # clashes with a grade
    obs = data["observations"]
    obs[3]["channels"] = ["cadets", "nope", "cadets"]
    obs[2]["channels"] = ["cadets"]  # g1 2010: the cadets have no count for 2010
    obs[4]["of"] = "entrants"  # 'of' does not apply to a channel
    obs.append(
        dict(
            obs[4],
            id="cadets-count-2007",
            quantity="headcount",
            year=2007,
            measurement="tolerance",
            tolerance=3,
            value=40,
        )
    )
    obs[-1].pop("n_eff")
    obs[-1].pop("of")
    data["parameters"][2]["paths"] = ["channels[id=cadets].share"]
    data["parameters"][1]["paths"] = ["channels[id=nobody].women_share"]
    report = problem_report(data, tmp_path)
    for where in (
        "channels[1].id: is already a grade, a group or a reserved population",
        "observations[3].channels[1]: unknown channel",
        "observations[3].channels[2]: channel listed twice",
        "observations[2].channels[0]: channel 'cadets' has no count for 2010",
        "observations[4].of: does not apply to a channel",
        "observations[5].year: channel 'cadets' has no count for this year",
        "parameters[1].paths[0]: not found in the channels",
    ):
        assert where in report, (where, report)


def test_an_unknown_population_names_the_channels_too(tmp_path: Path):
    data = _with_channel(tmp_path)
    data["observations"][0]["population"] = "cadet"
    report = problem_report(data, tmp_path)
    assert "observations[0].population: unknown population" in report
    assert "or a channel ['cadets']" in report


def test_a_parameter_may_write_a_channel_count(tmp_path: Path):
    data = _with_channel(tmp_path)
    data["parameters"].append(
        {
            "name": "cadets_2005",
            "paths": ["channels[id=cadets].counts.2005"],
            "low": 10,
            "high": 100,
            "assumption": "test",
        }
    )
    problem = problem_from_data(data, tmp_path)
    model = Model(problem)
    i = [o.id for o in problem.observations].index("g1-entrants-2005")
    theta = np.array([0.3, 0.12, 0.7, 80.0])
    fitted, _ = model.evaluate(theta)
    data_at, _, _ = model.apply(theta)
    compiled = compile_scenario(parse_scenario(data_at))
    women, total = engine_cells(run_expected_raw(compiled), compiled, problem.observations)[i]
    assert fitted[i] == pytest.approx((women + 80 * 0.25) / (total + 80), rel=1e-12)
