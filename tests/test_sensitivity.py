"""Sensitivity analysis (simulator.sensitivity).

What is verified:

* the Sobol estimator equals :func:`scipy.stats.sobol_indices` given the same outputs;
* it is unbiased for functions with known indices: an additive f = a·x1 + b·x2 with uniform
  inputs (S_i = ST_i = a_i² / Σa_j²) and the Ishigami function (interactions: ST_1 > S_1, S_3 = 0
  but ST_3 > 0). The tolerance is not picked: over K independent scrambles the mean estimate is
  t-tested against the analytic value at α = 0.001 per index (two-sided, K − 1 degrees of
  freedom, standard error from the K estimates' own spread);
* on a scenario: a parameter that cannot affect the target's population gets indices and a
  tornado swing of exactly 0; the one the output depends on alone gets S = ST = 1 within the
  estimate's bootstrap interval and moves the output the right way;
  the probability quantity equals the sweep/core probability of the same point (CRN seed);
* bad requests (n not a power of 2, unknown target, non-numeric parameter) are reported by
  field.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tomli_w
from scipy import stats

from simulator import parse_scenario, run_and_summarize
from simulator.errors import ScenarioError
from simulator.sensitivity import (
    analyse,
    factors_of,
    format_report,
    saltelli_design,
    sobol_from_outputs,
    sobol_indices,
)
from simulator.sweep_spec import loads_sweep
from tests.factories import ladder

ALPHA = 0.001  # per index, two-sided


def t_test_mean(estimates: np.ndarray, truth: np.ndarray) -> None:
    """Assert that the mean of K independent estimates is consistent with ``truth``.

    One-sample t-test per column at α = ALPHA (two-sided).
    """
    k = estimates.shape[0]
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / math.sqrt(k)
    crit = stats.t.ppf(1 - ALPHA / 2, df=k - 1)
    assert np.all(np.abs(mean - truth) <= crit * se), (mean, truth, se)


def test_estimator_equals_scipy_sobol_indices():
    d, n = 3, 256
    a, b, ab = saltelli_design(d, n, seed=4)

    def f(x):
        return np.exp(x[:, 0]) + x[:, 1] * x[:, 2] ** 2

    f_a, f_b = f(a), f(b)
    f_ab = np.stack([f(ab[i]) for i in range(d)])
    mine = sobol_from_outputs(f_a, f_b, f_ab)
    theirs = stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab[:, None, :]}, n=n)
    np.testing.assert_allclose(mine.first, theirs.first_order, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine.total, theirs.total_order, rtol=0, atol=1e-12)


def test_additive_function_indices():
    """f = 1·x1 + 2·x2, x ~ U(0, 1)²: S = ST = (1/5, 4/5)."""
    a_coef, b_coef = 1.0, 2.0

    def f(x):
        return a_coef * x[:, 0] + b_coef * x[:, 1]

    truth = np.array([a_coef**2, b_coef**2]) / (a_coef**2 + b_coef**2)
    runs = [sobol_indices(f, d=2, n=256, seed=s, resamples=0) for s in range(30)]
    first = np.array([r.first for r in runs])
    total = np.array([r.total for r in runs])
    t_test_mean(first, truth)
    t_test_mean(total, truth)
    # The bootstrap intervals (conservative for a quasi-random design) cover the truth.
    one = sobol_indices(f, d=2, n=256, seed=0)
    np.testing.assert_array_equal(one.first, runs[0].first)
    for ci in (one.first_ci, one.total_ci):
        assert np.all((ci[:, 0] <= truth) & (truth <= ci[:, 1]))


def test_ishigami_indices_show_interactions():
    """Ishigami (a = 7, b = 0.1) on [-π, π]³ with its analytic first and total indices."""
    a_coef, b_coef = 7.0, 0.1

    def f(u):
        x = -np.pi + 2 * np.pi * u
        return (
            np.sin(x[:, 0])
            + a_coef * np.sin(x[:, 1]) ** 2
            + b_coef * x[:, 2] ** 4 * np.sin(x[:, 0])
        )

    v1 = 0.5 * (1 + b_coef * np.pi**4 / 5) ** 2
    v2 = a_coef**2 / 8
    v13 = b_coef**2 * np.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    first_truth = np.array([v1, v2, 0.0]) / var
    total_truth = np.array([v1 + v13, v2, v13]) / var
    runs = [sobol_indices(f, d=3, n=1024, seed=s, resamples=0) for s in range(20)]
    t_test_mean(np.array([r.first for r in runs]), first_truth)
    t_test_mean(np.array([r.total for r in runs]), total_truth)
    assert runs[0].total[0] > runs[0].first[0] + 0.15  # the x1·x3 interaction is visible


# --------------------------------------------------------------------------------------------
# On a scenario
# --------------------------------------------------------------------------------------------
SWEEP = """
name = "sensitivity test"
scenario = "base.toml"
replications = 200
seed = 3
[sample]
method = "lhs"
n = 4
[[sample.parameters]]
path = "recruitment.women_share"
name = "intake"
low = 0.2
high = 0.6
[[sample.parameters]]
path = "attrition[grade=g1].women"
name = "g1_attrition"
low = 0.05
high = 0.2
"""


def make_sweep(tmp_path, extra: str = ""):
    # Rate-mode ladder with a fixed intake: the entry grade g0 does not depend on anything
    # that happens in g1, so g1's attrition cannot move the share of g0.
    base = ladder(
        2,
        start_year=2000,
        end_year=2010,
        targets=[
            {
                "id": "entry",
                "population": "g0",
                "comparator": "at_least",
                "value": 0.25,
                "deadline": 2008,
            }
        ],
    )
    (tmp_path / "base.toml").write_bytes(tomli_w.dumps(base).encode())
    return loads_sweep(SWEEP + extra, tmp_path)


def test_irrelevant_parameter_gets_zero_and_relevant_one_gets_all(tmp_path):
    sweep = make_sweep(tmp_path)
    report = analyse(sweep, quantity="share", n=64, seed=1)
    table = report.table().set_index("parameter")
    assert table.loc["g1_attrition", "first_order"] == 0.0
    assert table.loc["g1_attrition", "total_order"] == 0.0
    assert table.loc["g1_attrition", "swing"] == 0.0
    # The expected share of g0 is a function of the intake share alone: S = ST = 1 in truth.
    # Checked against the estimate's percentile bootstrap 95 % interval (nominal α = 0.05; the
    # design and bootstrap seeds are fixed, so the test is deterministic).
    for index in ("first_order", "total_order"):
        assert table.loc["intake", f"{index}_low"] <= 1.0 <= table.loc["intake", f"{index}_high"]
    assert table.loc["intake", "output_at_high"] > table.loc["intake", "output_at_low"]
    assert report.runs == 64 * 4 + 5
    text = format_report(report)
    assert "intake" in text
    assert "tornado" in text


def test_probability_uses_the_sweep_seed_at_every_point(tmp_path):
    sweep = make_sweep(tmp_path)
    report = analyse(sweep, quantity="probability", n=4, seed=0)
    intake = next(f for f in report.factors if f.column == "intake")
    # The tornado's "intake at its high bound" point, run alone through the core API.
    data = sweep.base_data | {"recruitment": {**sweep.base_data["recruitment"], "women_share": 0.6}}

    g1 = next(a for a in data["attrition"] if a["grade"] == "g1")
    assert report.factors[1].baseline == g1["women"]  # baseline = the base scenario's value
    _, _, summary = run_and_summarize(
        parse_scenario(data), "stochastic", replications=sweep.replications, seed=sweep.seed
    )
    row = report.table().set_index("parameter").loc["intake"]
    assert intake.high == 0.6
    assert row["output_at_high"] == summary["targets"][0]["probability"]
    assert report.noise_share_bound is not None


def test_bad_requests_are_reported_by_field(tmp_path):
    sweep = make_sweep(tmp_path)
    with pytest.raises(ScenarioError) as info:
        analyse(sweep, target="nope", n=100)
    assert {i.path for i in info.value.issues} == {"--target", "--n"}
    text = """
name = "strings"
scenario = "base.toml"
[[grid]]
path = "promotions[to=g1].mode"
values = ["rate"]
"""
    with pytest.raises(ScenarioError) as info:
        factors_of(loads_sweep(text, tmp_path))
    assert info.value.issues[0].path == "grid[0].values"
    assert "numbers with a range" in info.value.issues[0].message
