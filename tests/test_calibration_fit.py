"""Calibration fits: likelihood equations, recovery of known parameters, shipped calibrations.

* The measurement models and the Kish ESS follow the equations of calibration/problem.py and
  calibration/fit.py (exact checks).
* Coverage (statistical, slow): parameters drawn from the prior of a tiny 2-grade problem,
  synthetic binomial observations generated from the expected engine at those parameters
  (numpy Generator, fixed seed), fitted; the true value must lie in the 90 % posterior
  interval at close to the nominal rate. When θ is drawn from the prior and y from the
  likelihood, exact posterior intervals cover θ with probability exactly 0.90 (the argument of
  simulation-based calibration), so a binomial test of the hits with α = 0.01 per parameter
  checks the SIR approximation.
* Every shipped calibrated scenario reproduces the published points of its problem within each
  observation's 99 % measurement interval at the point estimate (parameters of the problem's
  channels, which the scenario does not hold, at their MAP given the scenario), and its
  posterior block has the problem's scenario paths and draws (an interpolated table's draws
  linear between its knots).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from calibration.fit import (
    Model,
    _kish,
    combine,
    engine_cells,
    fit_problem,
    log_likelihood_terms,
    measurement_interval,
    standardised_residuals,
)
from calibration.problem import Observation, load_problem, problem_from_data
from simulator import load_scenario
from simulator.compiled import compile_scenario
from simulator.engine import run_expected_raw
from simulator.paths import parse_path, resolve_slot
from tests.factories import tiny_problem

ROOT = Path(__file__).resolve().parent.parent

CALIBRATED = sorted((ROOT / "scenarios").glob("*_calibrated.toml"))


# ---------------------------------------------------------------------------------------------
# Equations
# ---------------------------------------------------------------------------------------------
def _ob(**kw) -> Observation:
    base = {"id": "x", "population": "g0", "year": 2001, "source": "t"}
    return Observation.model_validate(base | kw)


def test_binomial_log_likelihood_is_the_shifted_binomial_kernel():
    ob = _ob(value=0.2, measurement="binomial", n_eff=50)
    f = 0.3
    # 10 women of 50: log Bin(10; 50, f) - log Bin(10; 50, 0.2)
    expected = stats.binom.logpmf(10, 50, f) - stats.binom.logpmf(10, 50, 0.2)
    assert log_likelihood_terms([ob], np.array([f]))[0] == pytest.approx(expected, rel=1e-12)
    assert log_likelihood_terms([ob], np.array([0.2]))[0] == pytest.approx(0.0, abs=1e-12)
    r = standardised_residuals([ob], np.array([f]))[0]
    assert r == pytest.approx((0.2 - 0.3) / np.sqrt(0.3 * 0.7 / 50))


def test_tolerance_log_likelihood_is_normal_with_sd_tolerance():
    ob = _ob(value=100.0, quantity="headcount", measurement="tolerance", tolerance=20)
    assert log_likelihood_terms([ob], np.array([130.0]))[0] == pytest.approx(-0.5 * 1.5**2)
    lo, hi = measurement_interval(ob, 130.0, 0.99)
    assert (lo, hi) == pytest.approx((130 - 2.5758293 * 20, 130 + 2.5758293 * 20), rel=1e-6)


def test_kish_ess_of_equal_and_degenerate_weights():
    assert _kish(np.zeros(64)) == pytest.approx(64)
    assert _kish(np.array([0.0, -np.inf, -np.inf])) == pytest.approx(1.0)
    w = np.array([1.0, 2.0, 3.0])
    assert _kish(np.log(w)) == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_model_writes_multipliers_relative_to_other_paths(tmp_path: Path):
    data = tiny_problem(tmp_path, {})
    data["parameters"].append(
        {
            "name": "ratio",
            "paths": ["attrition[grade=g1].women"],
            "relative_to": ["attrition[grade=g1].men"],
            "low": 0.5,
            "high": 2.0,
            "assumption": "test",
        }
    )
    model = Model(problem_from_data(data, tmp_path))
    scenario_data, concrete = model.data(np.array([0.3, 0.12, 1.5]))
    assert concrete.tolist() == pytest.approx([0.3, 0.12, 0.15])
    container, slot = resolve_slot(scenario_data, parse_path("attrition[grade=g1].women"))
    assert container[slot] == pytest.approx(0.15)


# ---------------------------------------------------------------------------------------------
# Recovery of known parameters (coverage)
# ---------------------------------------------------------------------------------------------
COVERAGE_FITS = 40
COVERAGE_LEVEL = 0.90
COVERAGE_ALPHA = 0.01


@pytest.mark.slow
@pytest.mark.statistical
def test_posterior_intervals_cover_true_parameters_at_the_nominal_rate(tmp_path: Path):
    rng = np.random.default_rng(20251201)
    template = problem_from_data(tiny_problem(tmp_path, {}), tmp_path)
    model = Model(template)
    pars = template.parameters
    hits = np.zeros(len(pars), dtype=int)
    for rep in range(COVERAGE_FITS):
        theta = np.array([rng.uniform(p.low, p.high) for p in pars])
        fitted, _ = model.evaluate(theta)
        assert fitted is not None
        values = {}
        for ob, f in zip(template.observations, fitted, strict=True):
            n = int(ob.n_eff)
            values[ob.id] = rng.binomial(n, f) / n
        data = tiny_problem(tmp_path, values, seed=rep)
        fit = fit_problem(problem_from_data(data, tmp_path))
        for j, summary in enumerate(fit.parameters):
            lo, hi = summary.interval
            hits[j] += lo <= theta[j] <= hi
    for j, p in enumerate(pars):
        test = stats.binomtest(int(hits[j]), COVERAGE_FITS, COVERAGE_LEVEL)
        assert test.pvalue > COVERAGE_ALPHA, (p.name, hits[j], COVERAGE_FITS, test.pvalue)


def test_fit_recovers_parameters_from_noise_free_observations(tmp_path: Path):
    template = problem_from_data(tiny_problem(tmp_path, {}), tmp_path)
    truth = np.array([0.33, 0.17])
    fitted, _ = Model(template).evaluate(truth)
    values = {ob.id: float(f) for ob, f in zip(template.observations, fitted, strict=True)}
    fit = fit_problem(problem_from_data(tiny_problem(tmp_path, values, starts=2), tmp_path))
    assert fit.estimate == pytest.approx(truth, abs=2e-3)
    for j, s in enumerate(fit.parameters):
        assert s.interval[0] <= truth[j] <= s.interval[1]
    assert fit.ess >= 100
    assert all(abs(o.residual) < 0.05 for o in fit.observations)


def test_an_unidentified_parameter_is_reported(tmp_path: Path):
    data = tiny_problem(tmp_path, {"intake-2002": 0.3})
    data["observations"] = data["observations"][:1]  # only the intake share: a_w is free
    fit = fit_problem(problem_from_data(data, tmp_path))
    by_name = {s.name: s for s in fit.parameters}
    assert by_name["h"].pinned
    assert not by_name["a_w"].pinned
    assert any(w.startswith("a_w: the data do not pin it down") for w in fit.warnings)


def test_fit_is_reproducible_with_its_seed(tmp_path: Path):
    data = tiny_problem(tmp_path, {"intake-2002": 0.31, "g0-2005": 0.28, "g1-2010": 0.2})
    a = fit_problem(problem_from_data(data, tmp_path))
    b = fit_problem(problem_from_data(data, tmp_path))
    assert np.array_equal(a.draws, b.draws)
    assert np.array_equal(a.estimate, b.estimate)


# ---------------------------------------------------------------------------------------------
# Shipped calibrated scenarios
# ---------------------------------------------------------------------------------------------
def _problem_of(path: Path):
    scenario = load_scenario(path)
    assert scenario.posterior is not None, f"{path.name} has no posterior block"
    return scenario, load_problem((path.parent / scenario.posterior.problem).resolve())


def test_the_calibrated_scenarios_are_shipped():
    assert {"dk_police_calibrated", "dk_defence_calibrated"} <= {p.stem for p in CALIBRATED}


def _channels_at_conditional_map(problem, cells: np.ndarray) -> dict:
    """The problem's channels with their free parameters at their MAP given the engine cells
    (the calibrated scenario holds only scenario paths; at the joint MAP the channel parameters
    maximise the posterior given the scenario's values)."""
    import copy

    from scipy import optimize

    from calibration.fit import prior_distribution
    from calibration.problem import Channel, is_channel_path
    from simulator.paths import set_path

    own = [
        par
        for par in problem.parameters
        if all(is_channel_path(parse_path(x)) for x in par.paths) and not par.relative_to
    ]
    if not own:
        return problem.channels
    lows = np.array([p.low for p in own])
    highs = np.array([p.high for p in own])

    def channels(z: np.ndarray) -> dict:
        data = copy.deepcopy(problem.channels_data)
        for par, v in zip(own, lows + np.clip(z, 0, 1) * (highs - lows), strict=True):
            for x in par.paths:
                set_path(data, parse_path(x), float(v))
        return {c["id"]: Channel.model_validate(c) for c in data["channels"]}

    def objective(z: np.ndarray) -> float:
        f = combine(cells, problem.observations, channels(z))
        theta = lows + np.clip(z, 0, 1) * (highs - lows)
        lp = sum(prior_distribution(p).logpdf(t) for p, t in zip(own, theta, strict=True))
        return -(log_likelihood_terms(problem.observations, f).sum() + lp)

    res = optimize.minimize(objective, np.full(len(own), 0.5), method="Nelder-Mead")
    return channels(res.x)


@pytest.mark.parametrize("path", CALIBRATED, ids=[p.stem for p in CALIBRATED])
def test_calibrated_scenario_reproduces_its_published_points(path: Path):
    scenario, problem = _problem_of(path)
    compiled = compile_scenario(scenario)
    cells = engine_cells(run_expected_raw(compiled), compiled, problem.observations)
    fitted = combine(cells, problem.observations, _channels_at_conditional_map(problem, cells))
    outside = []
    for ob, f in zip(problem.observations, fitted, strict=True):
        lo, hi = measurement_interval(ob, float(f), 0.99)
        if not lo <= ob.value <= hi:
            outside.append((ob.id, ob.value, float(f), lo, hi))
    assert not outside, outside


@pytest.mark.parametrize("path", CALIBRATED, ids=[p.stem for p in CALIBRATED])
def test_calibrated_scenario_posterior_block_has_the_problem_shape(path: Path):
    scenario, problem = _problem_of(path)
    post = scenario.posterior
    from simulator.posterior import drawn_per_replication
    from simulator.scenario import scenario_to_data

    # Paths the engines draw per replication (a deployment pool's odds included) are in the
    # block; others (the funnel's, a policy on it) stay at the point estimate, named in the note.
    base = scenario_to_data(scenario)
    engine_paths = [p for p in problem.written_paths if drawn_per_replication(base, p)]
    held = [p for p in problem.written_paths if p not in engine_paths]
    assert post.parameters == engine_paths
    for p in held:
        assert p in post.note
    assert len(post.draws) == problem.spec.design.draws
    assert all(len(row) == len(post.parameters) for row in post.draws)
    draws = np.array(post.draws)
    assert np.all(np.isfinite(draws))
    # Each parameter's draws lie within its bounds (multipliers: their ratio to the base path).
    from calibration.problem import is_channel_path
    from simulator.scenario import scenario_to_data

    data = scenario_to_data(scenario)
    tables = [parse_path(t.path) for t in problem.spec.interpolate]

    def knot(text: str) -> bool:
        steps = parse_path(text)
        return any(len(steps) == len(t) + 1 and steps[: len(t)] == t for t in tables)

    col = 0
    for par in problem.parameters:
        if all(is_channel_path(parse_path(x)) for x in [*par.paths, *(par.complement or [])]):
            continue  # a parameter of the problem's channels: not in the scenario's block
        if all(x in held for x in par.paths):
            continue  # held at the point estimate: not in the block
        if all(knot(x) for x in par.paths):
            # a knot of an interpolated table: its column is the table's entry for that year
            # (the yearly entries come after the other parameters' paths)
            for x in par.paths:
                values = draws[:, engine_paths.index(x)]
                assert np.all((values >= par.low - 1e-6) & (values <= par.high + 1e-6)), par.name
            continue
        first = col
        for i, _ in enumerate(par.paths):
            values = draws[:, col]
            if par.relative_to is not None:
                base = par.relative_to[i]
                if base in engine_paths:
                    values = values / draws[:, engine_paths.index(base)]
                else:
                    container, slot = resolve_slot(data, parse_path(base))
                    values = values / container[slot]
            assert np.all((values >= par.low - 1e-6) & (values <= par.high + 1e-6)), par.name
            col += 1
        for i, _ in enumerate(par.complement or []):
            assert draws[:, col] == pytest.approx(1.0 - draws[:, first + i], abs=1e-7)
            col += 1
    # Interpolated tables: every draw is linear between its knots (the yearly entries).
    for t in problem.spec.interpolate:
        cols = [engine_paths.index(x) for x in t.yearly_paths()]
        years = np.array(t.years())
        for row in draws[:, cols]:
            knots = [row[t.years().index(k)] for k in t.knots]
            assert row == pytest.approx(np.interp(years, t.knots, knots), abs=1e-6)
    assert scenario.targets, "a calibrated scenario states the targets it projects against"
