"""Cross-validation: the individual-level engine against the cohort engines.

The agents engine (simulator/agents.py, annual timing) is an independent implementation of the
model contract: persons and per-person draws, exponential-clock selection for vacancy
promotions, a SimPy clock — against the stochastic engine's multinomial cohorts and Wallenius
draws. If both follow the contract, every output has the same distribution. Verified:

1. On Hypothesis-generated scenarios (tests/strategies.py, every schema feature: rate and
   vacancy steps, floors in both modes, lateral entry, every recruitment mode, policies),
   shrunk to at most ~500 persons per grade so that 200 replications per engine are cheap.
2. On every shipped scenario (scenarios/*.toml), 100 replications per engine.
3. Continuous (sub-annual) timing where it must agree with the annual engines in distribution:
   constant-in-tenure attrition, vacancy steps with no minimum time in grade, boards and intake
   at the year-end, also with a conscription funnel and two deployment pools (docs/agents.md
   explains where and why it differs otherwise).
4. Rate-mode scenarios (a linear model): the agents engine's mean equals the expected engine's
   path (z-tests).
5. The comparison has power: it flags scenarios that differ by a small lever (the women's share
   of the intake 40 % vs 42 %, vacancy-selection odds 1.6 vs 1.3, a pool's odds 0.7 vs 0.85,
   the women's volunteer share 0.15 vs 0.18).

Statistics compared, per grade: women's and men's headcounts and the women's share at the first,
middle and last projection year; every flow (leavers, promoted out, promoted in, recruits,
lateral in) by grade and sex summed over the horizon; vacancy diagnostics summed over the
horizon; with a conscription funnel, every stage by sex and the unfilled places summed over
the horizon (the agents engine draws the funnel's counts with the cohort engines' step on its
own streams; its signers then have careers as persons); with deployment pools, the deployed
women and men of each pool at the start, middle and last year-end, and the unmet demand and
the years the floor binds summed (the agents engine chooses the deployed persons by exponential
clocks, an independent implementation of the Wallenius draw and the floor). Each non-constant
statistic gets two two-sample tests — Kolmogorov–Smirnov
(asymptotic p-value, conservative for discrete data) and Mann–Whitney U (asymptotic, tie
corrected); a statistic that is constant in both samples must be equal.

α: each scenario is one family with family-wise error α = 0.001, Bonferroni over its tests
(α / m per test). Seeds are fixed (and Hypothesis runs derandomized in CI), so the outcome is
deterministic; the chance that a correct pair of engines fails a given family is at most 0.001.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from scipy import stats

from simulator import compile_scenario, load_scenario, parse_scenario, run
from simulator.agents import run_agents
from simulator.agents_options import AgentOptions
from simulator.engine import DIAGNOSTICS, FLOWS
from simulator.paths import set_path
from simulator.pipeline import FUNNEL_STAGES
from simulator.posterior import compile_draws
from tests.factories import ladder
from tests.strategies import check_valid, rate_mode_scenarios, scenarios

ALPHA = 0.001
SEED = 20250701
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SHIPPED = sorted(SCENARIO_DIR.glob("*.toml"))


# ---------------------------------------------------------------------------------------------
# Statistics and the two-sample comparison.
# ---------------------------------------------------------------------------------------------
def statistics(raw) -> dict[str, np.ndarray]:
    """Named per-replication statistics of a run (see module docstring)."""
    _, Y1, G, _ = raw.stock.shape
    Y = Y1 - 1
    out: dict[str, np.ndarray] = {}
    for y in sorted({1, max(1, math.ceil(Y / 2)), Y}):
        for g in range(G):
            w = raw.stock[:, y, g, 0].astype(float)
            m = raw.stock[:, y, g, 1].astype(float)
            out[f"women[y{y},g{g}]"] = w
            out[f"men[y{y},g{g}]"] = m
            total = w + m
            if (total > 0).all():
                out[f"share[y{y},g{g}]"] = w / total
    summed = raw.flows.sum(1)
    for g in range(G):
        for s, sex in enumerate(("women", "men")):
            for f, flow in enumerate(FLOWS):
                out[f"{flow}[g{g},{sex}]"] = summed[:, g, s, f].astype(float)
    diag = raw.diagnostics.sum(1)
    for g in range(G):
        for d, name in enumerate(DIAGNOSTICS):
            if name in ("vacancies", "lateral_hires", "internal_promotions", "unfilled"):
                out[f"{name}[g{g}]"] = diag[:, g, d]
    if raw.funnel is not None:
        stages = raw.funnel.sum(1)  # [R, stage, 2]
        for i, stage in enumerate(FUNNEL_STAGES):
            for s, sex in enumerate(("women", "men")):
                out[f"funnel.{stage}[{sex}]"] = stages[:, i, s].astype(float)
        out["funnel.unfilled_places"] = raw.funnel_places[..., 1].sum(1).astype(float)
    if raw.deployments is not None:
        for j in sorted({0, max(1, math.ceil(Y / 2)), Y}):
            for p in range(raw.deployments.shape[2]):
                for s, sex in enumerate(("women", "men")):
                    out[f"deployed[y{j},p{p},{sex}]"] = raw.deployments[:, j, p, s].astype(float)
        for p in range(raw.deployments.shape[2]):
            out[f"deployment.unmet[p{p}]"] = raw.deployment_diagnostics[:, :, p, 1].sum(1)
            out[f"deployment.floor_binding[p{p}]"] = raw.deployment_diagnostics[:, :, p, 2].sum(1)
    return out


def compare(agents_raw, cohort_raw, alpha: float = ALPHA) -> tuple[list[str], int]:
    """Two-sample tests of every statistic; return (failures, number of tests)."""
    a, b = statistics(agents_raw), statistics(cohort_raw)
    assert a.keys() == b.keys() or set(a) ^ set(b) <= {k for k in a | b if k.startswith("share")}
    failures: list[str] = []
    varying = []
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if np.ptp(x) == 0 and np.ptp(y) == 0:
            if x[0] != y[0]:
                failures.append(f"{name}: constant {x[0]} (agents) vs {y[0]} (cohort)")
        else:
            varying.append(name)
    m = 2 * len(varying)
    for name in varying:
        x, y = a[name], b[name]
        p_ks = stats.ks_2samp(x, y, method="asymp").pvalue
        p_mw = stats.mannwhitneyu(x, y, method="asymptotic").pvalue
        for test, p in (("KS", p_ks), ("Mann-Whitney", p_mw)):
            if p < alpha / m:
                failures.append(
                    f"{name}: {test} p = {p:.2e} < {alpha / m:.2e}; means {x.mean():.4g} "
                    f"(agents) vs {y.mean():.4g} (cohort)"
                )
    return failures, m


def agents_vs_stochastic(c, reps: int, options: AgentOptions | None = None):
    """Both engines on ``c``; with a posterior sample both draw a parameter set per replication
    (``api.run`` does so for the cohort engine)."""
    draws = compile_draws(c.scenario) if c.scenario.posterior is not None else None
    agents, _ = run_agents(c, reps, SEED, options=options, draws=draws)
    cohort = run(c, "stochastic", replications=reps, seed=SEED + 1).raw
    return compare(agents, cohort)


# ---------------------------------------------------------------------------------------------
# 1. Generated scenarios.
# ---------------------------------------------------------------------------------------------
def shrink(data: dict[str, Any], factor: int = 10) -> dict[str, Any]:
    """Divide every headcount-like number (initial counts, establishments, intakes and the
    policies that set them) by ``factor``, keeping the scenario valid."""
    d = copy.deepcopy(data)

    def scale(v: Any) -> Any:
        if isinstance(v, int | float):
            return v / factor
        if "from_year" in v:
            return {**v, "start": v["start"] / factor, "end": v["end"] / factor}
        return {k: x / factor for k, x in v.items()}

    for block in d["initial"]:
        for key in ("women", "men", "total"):
            if key in block:
                block[key] //= factor
    for grade in d["grades"]:
        if "establishment" in grade:
            grade["establishment"] = scale(grade["establishment"])
    if "intake" in d["recruitment"]:
        d["recruitment"]["intake"] = scale(d["recruitment"]["intake"])
    for pol in d.get("policies", []):
        if pol["parameter"] in ("establishment", "recruitment.intake") and "set" in pol:
            pol["set"] = pol["set"] / factor
    return d


@pytest.mark.slow
@pytest.mark.statistical
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_grades=4, max_horizon=8))
def test_agents_and_stochastic_engines_agree_on_generated_scenarios(data):
    c = check_valid(shrink(data))
    note(f"grades={c.grade_ids} years={c.n_years} modes={c.mode.tolist()}")
    failures, m = agents_vs_stochastic(c, 200)
    note(f"{m} tests")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# 2. Shipped scenarios.
# ---------------------------------------------------------------------------------------------
@pytest.mark.statistical
@pytest.mark.skipif(not SHIPPED, reason="no shipped scenarios")
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_agents_and_stochastic_engines_agree_on_shipped_scenarios(path):
    c = compile_scenario(load_scenario(path))
    failures, m = agents_vs_stochastic(c, 100)
    assert m > 0
    assert not failures, "\n".join(failures)


def test_the_shipped_scenarios_exist():
    """Guards the parametrised test above against silently testing nothing."""
    assert {p.stem for p in SHIPPED} >= {"dk_defence", "dk_police"}


# ---------------------------------------------------------------------------------------------
# 3. Continuous timing where it must agree in distribution.
# ---------------------------------------------------------------------------------------------
def _vacancy_ladder() -> dict[str, Any]:
    return ladder(
        3,
        start_year=2010,
        end_year=2018,
        initial=[(120, 280), (40, 110), (8, 32)],
        attrition=[(0.15, 0.1), (0.08, 0.06), (0.12, 0.1)],
        promotion=[
            {"mode": "vacancy", "women_odds": 1.6},
            {
                "mode": "vacancy",
                "women_floor": 0.35,
                "when_floor_short": "leave_vacant",
                "lateral_share": 0.25,
                "lateral_women_share": 0.3,
            },
        ],
        establishment=[None, 160, 42],
        recruitment={"mode": "fixed", "intake": 61.5, "women_share": 0.4},
        policies=[
            {
                "id": "p",
                "parameter": "attrition",
                "from_year": 2013,
                "to_year": 2016,
                "scale": 0.7,
                "sexes": ["women"],
            }
        ],
    )


CONTINUOUS_AGREES = {
    "one grade, ramp policy": ladder(
        1,
        start_year=2000,
        end_year=2010,
        initial=[(150, 350)],
        attrition=[(0.12, 0.07)],
        recruitment={
            "mode": "fixed",
            "intake": 47.3,
            "women_share": {"from_year": 2001, "to_year": 2006, "start": 0.3, "end": 0.5},
        },
        policies=[
            {"id": "p", "parameter": "attrition", "from_year": 2004, "scale": 1.5, "sexes": ["men"]}
        ],
    ),
    "replace recruitment": ladder(
        2,
        start_year=2000,
        end_year=2008,
        initial=[(100, 300), (30, 90)],
        attrition=[(0.1, 0.08), (0.06, 0.06)],
        promotion=[{"mode": "vacancy"}],
        establishment=[420, 125],
        recruitment={"mode": "replace", "women_share": 0.45},
    ),
    "vacancy ladder with floor and lateral entry": _vacancy_ladder(),
    "funnel and pools": lambda: _continuous_funnel_and_pools(),  # defined further down
}


def _continuous_funnel_and_pools() -> dict[str, Any]:
    """The funnel-and-pools scenario where continuous timing must agree: attrition constant in
    tenure, only vacancy steps (no rate promotion: a person promoted within the year would be
    exposed to two grades' attrition in it), no minimum years in grade, pools without one."""
    data = _funnel_and_pools()  # its attrition is constant in tenure already
    data["promotions"][0] = {"to": "g1", "mode": "vacancy", "assumption": "test"}
    data["grades"][1].update({"establishment": 300, "assumption": "test"})
    data["promotions"][1]["min_years_in_grade"] = 0
    for pool in data["deployments"]:
        pool.pop("min_years_in_grade", None)
    return data


@pytest.mark.statistical
@pytest.mark.parametrize("name", list(CONTINUOUS_AGREES))
def test_continuous_timing_agrees_with_the_stochastic_engine_where_it_must(name):
    """Constant-in-tenure attrition, vacancy steps with min_years_in_grade = 0, boards and
    intake at the year-end: each person's yearly exposure is exactly one year in one cell, so
    continuous timing has the annual engines' distribution (α = 0.001 per scenario)."""
    data = CONTINUOUS_AGREES[name]
    data = data() if callable(data) else data
    c = compile_scenario(parse_scenario(data))
    failures, m = agents_vs_stochastic(c, 200, AgentOptions(timing="continuous"))
    assert m > 0
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# 4. Rate mode: the agents engine's mean is the expected engine's path.
# ---------------------------------------------------------------------------------------------
@pytest.mark.statistical
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate_mode_scenarios(max_grades=3, max_horizon=6))
def test_agents_mean_equals_the_expected_engine_in_rate_mode(data):
    """The mean women's and men's headcount per grade at the last year against the expected
    engine (the exact mean of a linear model); α = 0.001 per scenario, Bonferroni over cells.

    Cells that vary: z-test. Cells where all R replications give the same count v: a headcount
    lies in [0, B] (B = initial headcount + every year's maximum intake), so a mean μ with
    |μ − v| = d needs P(X ≠ v) ≥ d / B, and R equal draws have probability ≤ (1 − d/B)^R;
    the test rejects when that bound is below α / m."""
    c = check_valid(shrink(data))
    reps = 200
    agents, _ = run_agents(c, reps, SEED)
    expected = run(c, "expected").raw.stock[0, -1]
    got = agents.stock[:, -1].astype(float)
    mean, sd = got.mean(0), got.std(0, ddof=1)
    varying = sd > 0
    m = got[0].size
    z_crit = stats.norm.isf(ALPHA / (2 * m))
    z = np.abs(mean - expected)[varying] / (sd[varying] / math.sqrt(reps))
    assert (z < z_crit).all(), (mean, expected)
    bound = float(c.initial.sum() + np.ceil(c.intake).sum())
    d = np.abs(mean - expected)[~varying]
    if bound > 0:
        log_p = reps * np.log1p(-np.minimum(d / bound, 1.0))
        assert (log_p >= math.log(ALPHA / m)).all(), (mean, expected)
    else:
        np.testing.assert_array_equal(d, 0.0)


# ---------------------------------------------------------------------------------------------
# 5. The comparison can fail.
# ---------------------------------------------------------------------------------------------
@pytest.mark.statistical
@pytest.mark.parametrize(
    ("path", "value"),
    [(("recruitment", "women_share"), 0.42), (("promotions", 0, "women_odds"), 1.3)],
    ids=["intake share 0.40 vs 0.42", "selection odds 1.6 vs 1.3"],
)
def test_the_comparison_detects_a_small_difference(path, value):
    """Agents on one scenario, the stochastic engine on a variant differing in one lever: the
    same 200-replication comparison as above must reject (with these fixed seeds it does, with
    p-values far below the Bonferroni threshold)."""
    assert against_a_variant(_vacancy_ladder(), path, value)


def against_a_variant(base: dict[str, Any], path: tuple, value: float) -> list[str]:
    """The failures of the 200-replication comparison of the agents engine on ``base`` with
    the stochastic engine on ``base`` with ``value`` at ``path`` (parameter-path steps)."""
    variant = copy.deepcopy(base)
    set_path(variant, list(path), value)
    agents, _ = run_agents(compile_scenario(parse_scenario(base)), 200, SEED)
    cohort = run(
        compile_scenario(parse_scenario(variant)), "stochastic", replications=200, seed=SEED + 1
    ).raw
    return compare(agents, cohort)[0]


def _funnel_and_pools() -> dict[str, Any]:
    """Three grades fed by a conscription funnel (women summoned from mid-2023: 184/365 of the
    2024 cohort, all of it from 2025; the contract signers are the only recruits); a vacancy
    step with odds and a floor into g2; two deployment pools, one with odds below 1 and a floor
    that binds in some years, one over a group with a minimum of one year in grade whose demand
    exceeds its eligible from 2026 (so who is eligible decides how many are deployed)."""
    data = ladder(
        3,
        start_year=2020,
        end_year=2030,
        initial=[(60, 340), (40, 260), (8, 52)],
        attrition=[(0.2, 0.15), (0.08, 0.07), (0.1, 0.1)],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.15, "men": 0.12}, "min_years_in_grade": 1},
            {"mode": "vacancy", "min_years_in_grade": 2, "women_odds": 1.4, "women_floor": 0.2},
        ],
        establishment=[None, None, 60],
        recruitment={"mode": "conscription"},
        groups={"upper": ["g1", "g2"]},
    )
    data["conscription"] = {
        "entry_grade": "g0",
        "cohort": {"women": 900, "men": 950},
        "women_summoned_from": "2023-07-01",
        "assessment_lag_years": 1,
        "fit": {"women": 0.55, "men": 0.6},
        "volunteer_share": {"women": 0.15, "men": 0.2},
        "places": 260,
        "dropout": {
            "volunteers": {"women": 0.2, "men": 0.1},
            "drafted": {"women": 0.15, "men": 0.25},
        },
        "contract_share": {"women": 0.3, "men": 0.35},
        "contract_share_drafted": {"women": 0.15, "men": 0.2},
        "assumption": "test",
    }
    data["deployments"] = [
        {
            "id": "intl",
            "demand": 60,
            "grades": ["g0", "g1"],
            "women_odds": 0.7,
            "women_floor": 0.12,
            "assumption": "test",
        },
        {
            "id": "staff",
            "demand": {"2020": 25, "2026": 400},
            "grades": ["upper"],
            "min_years_in_grade": 1,
            "women_odds": 1.5,
            "assumption": "test",
        },
    ]
    return data


@pytest.mark.statistical
def test_agents_and_stochastic_engines_agree_with_a_funnel_and_pools():
    """The funnel's stages, the signers' careers and the pools' deployed by sex have the same
    distribution in both engines (200 replications each, α = 0.001 for the family)."""
    c = compile_scenario(parse_scenario(_funnel_and_pools()))
    failures, m = agents_vs_stochastic(c, 200)
    assert any(name.startswith("funnel.") for name in statistics(run_agents(c, 2, SEED)[0]))
    assert m > 0
    assert not failures, "\n".join(failures)


@pytest.mark.statistical
@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("deployments", 0, "women_odds"), 0.85),
        (("conscription", "volunteer_share", "women"), 0.18),
    ],
    ids=["pool odds 0.7 vs 0.85", "women's volunteer share 0.15 vs 0.18"],
)
def test_the_comparison_detects_a_small_difference_in_the_funnel_or_a_pool(path, value):
    """As above, for the new statistics: agents on the scenario, the stochastic engine on a
    variant differing in one funnel or pool parameter; the comparison must reject."""
    failures = against_a_variant(_funnel_and_pools(), path, value)
    assert any(f.startswith(("funnel.", "deployed[", "deployment.")) for f in failures), failures
