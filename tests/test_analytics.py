"""Steady state and years to target (``simulator.analytics``).

Verified:

* rate-mode promotion with fixed intake: the fundamental-matrix steady state equals the state
  a long expected-engine run reaches under the last year's parameters (tenure-dependent
  attrition, minimum time in grade, rate odds and a policy that changes the last year's
  parameters included), and is a fixed point of the annual step;
* ``replace`` recruitment (iteration): with the same rates for both sexes every grade's
  women's share tends to the recruits' share h; the iterated state equals a long run;
* vacancy promotion (iteration) converges to the long-run state and fills the establishment;
* ``years_to_target`` returns ``None`` when the target is unreachable (the share's limit is
  on the wrong side of the target, for at_least and at_most), the start year when the target
  is already met, and the crossing year for a band entered from below or above.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator import compile_scenario, parse_scenario, run
from simulator.analytics import expected_path, steady_state, years_to_target
from simulator.scenario import Target
from tests.factories import ladder

START = 2000
RTOL = 1e-9


def rate_ladder() -> dict:
    """Three rate-mode grades with tenure-dependent attrition, a minimum time in grade, rate
    odds and a policy that takes effect during the horizon (so the last year's parameters
    differ from the first year's). The slowest mode decays like the largest stay probability
    in an open bucket (0.93), so 800 years reach float resolution (0.93^800 ≈ 6e-26)."""
    return ladder(
        3,
        start_year=START,
        end_year=START + 20,
        initial=[(50, 200), (30, 170), (10, 90)],
        attrition=[([0.25, 0.12, 0.07], [0.2, 0.1, 0.06]), (0.07, 0.06), (0.09, 0.08)],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.12, "men": 0.12}, "min_years_in_grade": 2},
            {"mode": "rate", "probability": {"women": 0.05, "men": 0.06}, "women_odds": 1.4},
        ],
        recruitment={"mode": "fixed", "intake": 120, "women_share": 0.35},
        policies=[
            {
                "id": "retain",
                "parameter": "attrition",
                "from_year": 2010,
                "scale": 0.75,
                "sexes": ["women"],
            }
        ],
    )


def test_fundamental_matrix_steady_state_equals_a_long_expected_run():
    """n* = r (I - Q)^-1 matches 800 years of the expected engine at the last year's rates."""
    scenario = parse_scenario(rate_ladder())
    ss = steady_state(scenario)
    assert ss["method"] == "fundamental matrix"
    long_run = expected_path(scenario, years=800).raw.stock[0, -1]
    np.testing.assert_allclose(ss["stock"], long_run, rtol=RTOL)
    for g, gid in enumerate(("g0", "g1", "g2")):
        assert ss["share"][gid] == pytest.approx(long_run[g, 0] / long_run[g].sum(), rel=RTOL)
    # The policy matters: the steady state under the first year's rates is different.
    before = parse_scenario({**rate_ladder(), "policies": []})
    assert steady_state(before)["share"]["g2"] < ss["share"]["g2"] - 1e-3


def test_fundamental_matrix_steady_state_is_a_fixed_point():
    """Started at n* (with its years-in-grade profile), one more step stays at n*."""
    scenario = parse_scenario(rate_ladder())
    c = compile_scenario(scenario)
    # The long run's final state carries the steady years-in-grade profile; one step of the
    # frozen last-year parameters from it must not move the stock.
    path = expected_path(c, years=800)
    frozen = expected_path(c, years=1).compiled
    again = run(dataclasses.replace(frozen, initial=path.raw.final[0]), engine="expected")
    np.testing.assert_allclose(again.raw.stock[0, -1], steady_state(c)["stock"], rtol=RTOL)


@pytest.mark.parametrize("hire_share", [0.0, 0.37, 1.0])
def test_replace_mode_steady_state_is_the_recruits_share(hire_share):
    """Same rates for both sexes, entry grade refilled to 400: every grade tends to h."""
    scenario = parse_scenario(
        ladder(
            2,
            start_year=START,
            end_year=START + 10,
            initial=[(40, 360), (10, 190)],
            attrition=[(0.1, 0.1), (0.08, 0.08)],
            promotion=[{"mode": "rate", "probability": {"women": 0.05, "men": 0.05}}],
            establishment=[400, None],
            recruitment={"mode": "replace", "women_share": hire_share},
        )
    )
    ss = steady_state(scenario)
    assert ss["method"] == "iteration"
    assert ss["converged"] is True
    assert ss["share"]["g0"] == pytest.approx(hire_share, abs=1e-8)
    assert ss["share"]["g1"] == pytest.approx(hire_share, abs=1e-8)
    # Size: the entry grade at its establishment, grade 2 at 400 · 0.05 / 0.08.
    np.testing.assert_allclose(ss["stock"].sum(-1), [400, 400 * 0.05 / 0.08], rtol=1e-8)
    long_run = expected_path(scenario, years=1000).raw.stock[0, -1]
    np.testing.assert_allclose(ss["stock"], long_run, rtol=1e-8, atol=1e-9)


def test_vacancy_mode_steady_state_by_iteration_equals_a_long_run():
    """A vacancy-mode top grade: the iterated steady state is the long-run state, full posts."""
    scenario = parse_scenario(
        ladder(
            2,
            start_year=START,
            end_year=START + 10,
            initial=[(100, 400), (10, 90)],
            attrition=[(0.12, 0.1), (0.1, 0.08)],
            promotion=[{"mode": "vacancy", "women_odds": 1.5, "min_years_in_grade": 1}],
            establishment=[None, 100],
            recruitment={"mode": "fixed", "intake": 80, "women_share": 0.3},
        )
    )
    ss = steady_state(scenario)
    assert ss["method"] == "iteration"
    assert ss["converged"] is True
    assert ss["stock"][1].sum() == pytest.approx(100, rel=1e-9)
    long_run = expected_path(scenario, years=1000).raw.stock[0, -1]
    np.testing.assert_allclose(ss["stock"], long_run, rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# Years to target
# ---------------------------------------------------------------------------------------------
def renewal(hire_share: float, women: int = 150, size: int = 1000) -> object:
    """One grade of fixed size, 8 % turnover, refilled at ``hire_share`` women."""
    return parse_scenario(
        ladder(
            1,
            start_year=START,
            end_year=START + 30,
            initial=[(women, size - women)],
            attrition=[(0.08, 0.08)],
            establishment=[size],
            recruitment={"mode": "replace", "women_share": hire_share},
        )
    )


def target(**fields) -> Target:
    """A target on g0 with a deadline inside the horizon."""
    base = {"id": "t", "population": "g0", "deadline": START + 20, "assumption": "test"}
    return Target.model_validate({**base, **fields})


def test_unreachable_at_least_target_returns_none():
    """Recruits at 20 % women: the share tends to 20 % and never reaches 25 %."""
    out = years_to_target(renewal(0.20), target(comparator="at_least", value=0.25))
    assert out["first_year"] is None
    assert out["years"] is None
    # A target just below the limit is reached (so None is about reachability, not a bug).
    reached = years_to_target(renewal(0.20), target(comparator="at_least", value=0.199))
    assert reached["first_year"] is not None


def test_unreachable_at_most_target_returns_none():
    """From 40 % women with recruits at 30 %: the share never falls to 20 %."""
    out = years_to_target(renewal(0.30, women=400), target(comparator="at_most", value=0.20))
    assert out == {"first_year": None, "years": None}


def test_target_met_at_the_start():
    """Already at 15 % ≥ 10 %: met at the start year, 0 years."""
    out = years_to_target(renewal(0.30), target(comparator="at_least", value=0.10))
    assert out == {"first_year": START, "years": 0.0}


@pytest.mark.parametrize(
    ("hire_share", "women", "low", "high"), [(0.5, 150, 0.3, 0.4), (0.1, 600, 0.3, 0.4)]
)
def test_band_entered_from_below_or_above(hire_share, women, low, high):
    """share(t) = h + (p0 - h) 0.92^t enters [low, high] through the bound it approaches."""
    p0 = women / 1000
    out = years_to_target(
        renewal(hire_share, women=women), target(comparator="between", low=low, high=high)
    )
    bound = low if p0 < low else high
    t = np.arange(200)
    share = hire_share + (p0 - hire_share) * 0.92**t
    first = int(np.argmax((share >= low) & (share <= high)))
    assert out["first_year"] == START + first
    chord = (first - 1) + (bound - share[first - 1]) / (share[first] - share[first - 1])
    assert out["years"] == pytest.approx(chord, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Horizons beyond the scenario with a conscription funnel and deployment pools
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dk_defence_reform", "dk_police_deployment"])
def test_extended_horizons_carry_funnel_and_pool_arrays(name):
    """Extending the horizon (years to target, steady state) extends the funnel's and the
    deployment pools' per-year arrays too: the extended path equals the scenario's own over
    its years, funnel and deployed included, and the steady state exists."""
    from pathlib import Path

    from simulator import load_scenario
    from simulator.analytics import _extend

    c = compile_scenario(
        load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.toml")
    )
    own = run(c, "expected").raw
    ext = run(_extend(c, c.n_years + 25), "expected").raw
    Y = c.n_years
    np.testing.assert_allclose(ext.stock[:, : Y + 1], own.stock, rtol=0, atol=1e-9)
    for field in ("funnel", "deployments"):
        a, b = getattr(own, field), getattr(ext, field)
        if a is not None:
            np.testing.assert_allclose(b[:, : a.shape[1]], a, rtol=0, atol=1e-9)
            assert b.shape[1] == a.shape[1] + 25
    ss = steady_state(c)
    assert all(0 <= v <= 1 for v in ss["share"].values() if v == v)
    for t in c.scenario.targets:
        years_to_target(c, t)  # runs past the scenario's own horizon
