"""Exact cases with analytic answers, checked on the expected engine and the analytics.

The cases are those of ``model.md`` ("Exact cases for tests") and ``anchors.md`` §5.4, §5.7
and §5.9. The expected engine applies the annual step to expected values, so in rate mode and
in ``replace`` recruitment these answers hold to float round-off: the tolerance is 1e-9
relative (or 1e-12 absolute on shares), never a rounding of the published figure. The
published figures (333.3, 13.18 years, 87.1 %, ...) are checked separately by rounding the
exact value to the digits they were published with.

Verified:

* push model, one sex, 2 grades: steady state (333.3, 666.7) by the fundamental matrix and
  the closed-form path ``n1(t) = 333.3 (1 - 0.7^t)``, ``n2(t) = 666.7 - 1000 · 0.9^t + 333.3 ·
  0.7^t`` every year of a 100-year run, hence a long run converges at rate 0.9^t;
* the fundamental matrix summed by grade, [[3.333, 6.667], [0, 10]];
* two sexes with a women's retention gap in grade 1: women (85.7, 171.4), men (233.3, 466.7),
  26.87 % women in both grades; the recruits' share for 20 % women in grade 2 is 22.58 %;
* one grade of fixed size (``replace``): share(t) = h + (0.15 - h) · 0.92^t every year; the
  hire share for 25 % in 10 years is 32.68 %; first years reached for h = 30/35/40/50 % and
  ``years_to_target``'s interpolated years within the derived linear-interpolation error;
* MIT turnover example: 87.1 % of the gap closed after 40 years at 5 % turnover;
* GMSE 5.4(a) expected leavers 100, 90, 81, 72.9, 65.6, ... (total 928.2 in 25 years) and
  5.4(c) an attrition profile that drops to 0 after 10 years in grade gives exactly zero
  leavers afterwards, in both engines.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import compile_scenario, parse_scenario, run, run_and_summarize
from simulator.analytics import expected_path, fundamental_matrix, steady_state, years_to_target
from simulator.engine import FLOWS
from tests.factories import ladder

WOMEN, MEN = 0, 1
LEAVERS = FLOWS.index("leavers")
RTOL = 1e-9
START = 2000


# ---------------------------------------------------------------------------------------------
# Scenario builders
# ---------------------------------------------------------------------------------------------
def push_model(
    women_share: float,
    *,
    leave_g1: tuple[float, float] = (0.10, 0.10),
    years: int = 100,
    initial: list[tuple[int, int]] | None = None,
) -> dict:
    """Two grades: grade 1 leave ``leave_g1`` (women, men), promote 0.20; grade 2 leave 0.10.

    100 recruits a year into grade 1; empty at the start unless ``initial`` is given.
    """
    return ladder(
        2,
        start_year=START,
        end_year=START + years,
        initial=initial or [(0, 0), (0, 0)],
        attrition=[leave_g1, (0.10, 0.10)],
        promotion=[{"mode": "rate", "probability": {"women": 0.20, "men": 0.20}}],
        recruitment={"mode": "fixed", "intake": 100, "women_share": women_share},
    )


def fixed_size_grade(
    hire_share: float,
    *,
    turnover: float = 0.08,
    women: int = 150,
    size: int = 1000,
    years: int = 30,
    targets: list[dict] | None = None,
) -> dict:
    """One grade of fixed size ``size`` refilled each year (``replace``) at ``hire_share``."""
    return ladder(
        1,
        start_year=START,
        end_year=START + years,
        initial=[(women, size - women)],
        attrition=[(turnover, turnover)],
        establishment=[size],
        recruitment={"mode": "replace", "women_share": hire_share},
        targets=targets,
    )


def share_path(h: float, p0: float, d: float, t: np.ndarray) -> np.ndarray:
    """Closed form of the fixed-size renewal model: ``h + (p0 - h)(1 - d)^t``."""
    return h + (p0 - h) * (1.0 - d) ** t


def continuous_years(h: float, p0: float, d: float, goal: float) -> float:
    """Continuous t at which ``share_path`` reaches ``goal``."""
    return math.log((h - goal) / (h - p0)) / math.log(1.0 - d)


# ---------------------------------------------------------------------------------------------
# Push model, one sex (anchors §5.9 a)
# ---------------------------------------------------------------------------------------------
def test_push_model_steady_state_by_fundamental_matrix():
    """100 recruits/yr, P = [[0.7, 0.2], [0, 0.9]] ⇒ n* = 100 · (1/0.3, 0.2/(0.3 · 0.1))."""
    scenario = parse_scenario(push_model(women_share=0.0))
    ss = steady_state(scenario)
    assert ss["method"] == "fundamental matrix"
    assert ss["converged"] is True
    stock = ss["stock"]
    np.testing.assert_array_equal(stock[:, WOMEN], 0.0)
    np.testing.assert_allclose(stock[:, MEN], [100 / 0.3, 100 * 0.2 / (0.3 * 0.1)], rtol=RTOL)
    assert [round(x, 1) for x in stock[:, MEN]] == [333.3, 666.7]


def test_push_model_expected_path_is_the_closed_form_every_year():
    """The expected engine from an empty organisation follows the exact solution each year.

    ``n1(t) = (100/0.3)(1 - 0.7^t)`` and ``n2(t) = 666.67 - 1000 · 0.9^t + 333.33 · 0.7^t``
    (solve ``e2(t+1) = 0.9 e2(t) + 0.2 e1(t)`` with ``e1(t) = -333.33 · 0.7^t``,
    ``e2(0) = -666.67``). So the distance to the steady state after t years is at most
    ``1000 · 0.9^t`` (the 0.7^t terms are smaller): 0.027 persons after the 100-year horizon,
    and below float resolution (1e-18 relative) after 400 years.
    """
    scenario = parse_scenario(push_model(women_share=0.0, years=100))
    stock = run(scenario, engine="expected").raw.stock[0, :, :, MEN]
    t = np.arange(101)
    n1 = (100 / 0.3) * (1 - 0.7**t)
    n2 = 200 / 0.3 - 1000 * 0.9**t + (100 / 0.3) * 0.7**t
    np.testing.assert_allclose(stock[:, 0], n1, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(stock[:, 1], n2, rtol=RTOL, atol=1e-9)

    star = steady_state(scenario)["stock"][:, MEN]
    gap = np.abs(stock[-1] - star)
    assert (gap <= 1000 * 0.9**100 + 1e-9).all()
    assert gap[1] > 0.5 * 1000 * 0.9**100  # not there yet after 100 years: the bound is tight

    long_run = expected_path(scenario, years=400).raw.stock[0, -1, :, MEN]
    np.testing.assert_allclose(long_run, star, rtol=RTOL)


def test_fundamental_matrix_summed_by_grade():
    """(I - P)^-1 = [[1/0.3, 0.2/(0.3·0.1)], [0, 1/0.1]] = [[3.333, 6.667], [0, 10]].

    The model's fundamental matrix is over (grade, years in grade) states; summing an entry
    state's row over the years-in-grade buckets of each grade gives the grade-level matrix.
    """
    c = compile_scenario(parse_scenario(push_model(women_share=0.0)))
    nk = c.K + 1
    for sex in (WOMEN, MEN):
        N = fundamental_matrix(c, sex)
        by_grade = np.array([N[g * nk].reshape(2, nk).sum(axis=1) for g in range(2)])
        np.testing.assert_allclose(
            by_grade, [[1 / 0.3, 0.2 / 0.03], [0.0, 10.0]], rtol=RTOL, atol=1e-12
        )
    years_in_grade = steady_state(c)["years_in_grade"]
    np.testing.assert_allclose(years_in_grade[:, MEN], [1 / 0.3, 0.2 / 0.03], rtol=RTOL)
    assert [round(x, 3) for x in years_in_grade[:, MEN]] == [3.333, 6.667]


# ---------------------------------------------------------------------------------------------
# Two sexes with a retention gap in grade 1 (anchors §5.9 b, c)
# ---------------------------------------------------------------------------------------------
def test_two_sexes_retention_gap_propagates_unchanged():
    """30 % women recruits, women's grade-1 leave 0.15 ⇒ 26.87 % women in both grades.

    Women: 30/0.35 = 85.71 and 0.2 · 85.71/0.1 = 171.43; men: 70/0.3 = 233.33, 466.67.
    """
    scenario = parse_scenario(push_model(women_share=0.30, leave_g1=(0.15, 0.10)))
    ss = steady_state(scenario)
    women = [30 / 0.35, 30 / 0.35 * 0.2 / 0.1]
    men = [70 / 0.3, 70 / 0.3 * 0.2 / 0.1]
    np.testing.assert_allclose(ss["stock"][:, WOMEN], women, rtol=RTOL)
    np.testing.assert_allclose(ss["stock"][:, MEN], men, rtol=RTOL)
    assert [round(x, 1) for x in ss["stock"][:, WOMEN]] == [85.7, 171.4]
    assert [round(x, 1) for x in ss["stock"][:, MEN]] == [233.3, 466.7]
    exact_share = women[0] / (women[0] + men[0])
    assert ss["share"]["g0"] == pytest.approx(exact_share, rel=RTOL)
    assert ss["share"]["g1"] == pytest.approx(exact_share, rel=RTOL)
    assert round(100 * exact_share, 2) == 26.87

    # The expected engine converges to it (rate 0.9^t: 400 years reach float resolution).
    long_run = expected_path(scenario, years=400).raw.stock[0, -1]
    np.testing.assert_allclose(long_run, ss["stock"], rtol=RTOL)


def test_recruits_share_needed_for_20_percent_women_in_grade_2():
    """Goal seek in closed form: h = 0.2 · 6.667 / (5.714 · 0.8 + 0.2 · 6.667) = 22.58 %.

    Years in grade 2 per recruit are 0.2/0.35/0.1 = 5.714 for women, 6.667 for men; at that h
    the steady state has exactly 20 % women in grade 2.
    """
    base = steady_state(parse_scenario(push_model(0.30, leave_g1=(0.15, 0.10))))
    yw, ym = base["years_in_grade"][1]
    np.testing.assert_allclose([yw, ym], [0.2 / 0.35 / 0.1, 0.2 / 0.3 / 0.1], rtol=RTOL)
    h = 0.2 * ym / (yw * 0.8 + 0.2 * ym)
    assert round(100 * h, 2) == 22.58
    ss = steady_state(parse_scenario(push_model(h, leave_g1=(0.15, 0.10))))
    assert ss["share"]["g1"] == pytest.approx(0.20, abs=1e-12)
    # And no other h gives 20 %: a slightly lower share misses it.
    lower = steady_state(parse_scenario(push_model(h - 1e-4, leave_g1=(0.15, 0.10))))
    assert lower["share"]["g1"] < 0.20 - 1e-6


# ---------------------------------------------------------------------------------------------
# One grade of fixed size (anchors §5.9 d, model.md)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hire_share", [0.0, 0.3, 0.3268, 0.5, 1.0])
def test_fixed_size_grade_share_follows_closed_form_every_year(hire_share):
    """share(t) = h + (0.15 - h) · 0.92^t exactly (1e-12) for t = 0 … 30."""
    scenario = parse_scenario(fixed_size_grade(hire_share))
    result = run(scenario, engine="expected")
    t = np.arange(31)
    np.testing.assert_allclose(
        result.share("g0")[0], share_path(hire_share, 0.15, 0.08, t), rtol=0, atol=1e-12
    )
    # The grade stays at its establishment, and the intake replaces exactly the leavers.
    np.testing.assert_allclose(result.raw.stock[0].sum(-1)[:, 0], 1000.0, rtol=RTOL)
    recruits = result.raw.flows[0, :, 0, :, FLOWS.index("recruits")].sum(-1)
    np.testing.assert_allclose(recruits, 80.0, rtol=RTOL)


def test_hire_share_for_25_percent_in_10_years():
    """h* = (0.25 - 0.15 · 0.92^10) / (1 - 0.92^10) = 32.68 %.

    The published h = 0.3268 is h* rounded to 4 decimals, so share(10) with it is within
    ``(1 - 0.92^10) · 0.00005`` of 25 %. In expectation the target is met at h* + 1e-4 and
    missed at h* - 1e-4 (share(10) moves by (1 - 0.92^10) · 1e-4 = 5.7e-5, far above the
    1e-12 comparison tolerance of the targets).
    """
    decay = 0.92**10
    h_star = (0.25 - 0.15 * decay) / (1 - decay)
    assert round(h_star, 4) == 0.3268

    def share_at_10(h: float) -> float:
        res = run(parse_scenario(fixed_size_grade(h)), engine="expected")
        return float(res.share("g0")[0, 10])

    assert abs(share_at_10(0.3268) - 0.25) <= (1 - decay) * 0.5e-4
    assert share_at_10(h_star) == pytest.approx(0.25, abs=1e-12)

    target = {
        "id": "quarter",
        "population": "g0",
        "comparator": "at_least",
        "value": 0.25,
        "deadline": START + 10,
    }
    for h, met in ((h_star + 1e-4, True), (h_star - 1e-4, False)):
        scenario = parse_scenario(fixed_size_grade(h, targets=[target]))
        _, _, summary = run_and_summarize(scenario, engine="expected")
        assert summary["targets"][0]["expected_met"] is met


@pytest.mark.parametrize(
    ("hire_share", "published"), [(0.30, 13.18), (0.35, 8.31), (0.40, 6.13), (0.50, 4.04)]
)
def test_first_year_target_reached(hire_share, published):
    """First year-end with ≥ 25 % is start + ceil(t*); interpolated years are within bound.

    t* = ln((h - 0.25)/(h - 0.15)) / ln 0.92 (continuous). ``years_to_target`` interpolates
    the share linearly between the year-ends i-1 and i around the crossing. The share
    ``s(t) = h + (0.15 - h) e^{-λt}`` (λ = -ln 0.92) is increasing and concave for h > 0.15,
    so the chord lies below the curve and the interpolated time t_lin is not before t*; the
    chord is at most ``M/8`` below the curve, ``M = (h - 0.15) λ² 0.92^(i-1)`` the largest
    |s''| on the interval, and with chord slope ``m = s(i) - s(i-1)``:
    ``0 ≤ t_lin - t* ≤ M / (8 m)``. Here ``m = (h - 0.15) 0.92^(i-1) · 0.08``, so the bound is
    ``λ² / (8 · 0.08) = 0.0109`` years whatever h (observed: 0.001-0.009).
    """
    t_star = continuous_years(hire_share, 0.15, 0.08, 0.25)
    assert round(t_star, 2) == published
    target_block = {
        "id": "quarter",
        "population": "g0",
        "comparator": "at_least",
        "value": 0.25,
        "deadline": START + 20,
    }
    scenario = parse_scenario(fixed_size_grade(hire_share, targets=[target_block]))
    out = years_to_target(scenario, scenario.targets[0])
    i = math.ceil(t_star)
    assert out["first_year"] == START + i

    lam = -math.log(0.92)
    s_prev, s_next = share_path(hire_share, 0.15, 0.08, np.array([i - 1, i]))
    curvature = (hire_share - 0.15) * lam**2 * 0.92 ** (i - 1)
    bound = curvature / (8 * (s_next - s_prev))
    assert 0.0 <= out["years"] - t_star <= bound + 1e-12
    # The exact chord crossing, computed independently.
    chord = (i - 1) + (0.25 - s_prev) / (s_next - s_prev)
    assert out["years"] == pytest.approx(chord, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# MIT turnover example (anchors §5.7)
# ---------------------------------------------------------------------------------------------
def test_mit_turnover_closes_87_percent_of_the_gap_in_40_years():
    """d = 0.05, 40 years: 1 - 0.95^40 = 87.1 % of the gap to the hiring share is closed.

    Also: 90 % of the gap is closed at t = ln 0.1 / ln 0.95 = 44.9, i.e. in year-end 45.
    """
    p0, h = 0.0, 0.5
    scenario = parse_scenario(
        fixed_size_grade(
            h,
            turnover=0.05,
            women=0,
            size=2000,
            years=60,
            targets=[
                {
                    "id": "ninety",
                    "population": "g0",
                    "comparator": "at_least",
                    "value": p0 + 0.9 * (h - p0),
                    "deadline": START + 60,
                }
            ],
        )
    )
    share = run(scenario, engine="expected").share("g0")[0]
    closed = (share[40] - p0) / (h - p0)
    assert closed == pytest.approx(1 - 0.95**40, abs=1e-12)
    assert round(0.95**40, 4) == 0.1285
    assert round(100 * closed, 1) == 87.1
    out = years_to_target(scenario, scenario.targets[0])
    assert round(math.log(0.1) / math.log(0.95), 1) == 44.9
    assert out["first_year"] == START + 45


# ---------------------------------------------------------------------------------------------
# GMSE statistical unit tests, exact parts (anchors §5.4 a, c)
# ---------------------------------------------------------------------------------------------
def cohort(attrition, years: int = 25, years_in_grade: str = "entry") -> dict:
    """1,000 persons at the start, no recruitment, one grade."""
    data = ladder(
        1,
        start_year=START,
        end_year=START + years,
        initial=[(0, 1000)],
        attrition=[(attrition, attrition)],
        recruitment={"mode": "fixed", "intake": 0, "women_share": 0.5},
    )
    data["initial"][0]["years_in_grade"] = years_in_grade
    return data


def test_gmse_cohort_leavers_decay_geometrically():
    """10 %/yr attrition: expected leavers 100 · 0.9^(t-1); 25-year total 1000(1 - 0.9^25)."""
    result = run(parse_scenario(cohort(0.10)), engine="expected")
    leavers = result.raw.flows[0, :, 0, MEN, LEAVERS]
    t = np.arange(1, 26)
    np.testing.assert_allclose(leavers, 100 * 0.9 ** (t - 1), rtol=RTOL)
    assert [round(x, 1) for x in leavers[:5]] == [100.0, 90.0, 81.0, 72.9, 65.6]
    assert leavers.sum() == pytest.approx(1000 * (1 - 0.9**25), rel=RTOL)
    assert round(leavers.sum(), 1) == 928.2
    assert (result.raw.flows[0, :, 0, WOMEN] == 0).all()


@pytest.mark.parametrize("engine", ["expected", "stochastic"])
def test_gmse_attrition_profile_dropping_to_zero_after_ten_years(engine):
    """Attrition 10 % for 0 … 9 completed years in grade, 0 from 10 years on.

    The cohort enters with 0 years in grade, so in step t it has t-1 completed years: leavers
    are 100 · 0.9^(t-1) in years 1 … 10 (expected) and exactly zero from year 11 on — in the
    stochastic engine too, in every replication.
    """
    profile = [0.10] * 10 + [0.0]
    scenario = parse_scenario(cohort(profile))
    kwargs = {"replications": 200, "seed": 54} if engine == "stochastic" else {}
    result = run(scenario, engine=engine, **kwargs)
    leavers = result.raw.flows[:, :, 0, MEN, LEAVERS]
    assert (leavers[:, 10:] == 0).all()
    stock = result.raw.stock[:, :, 0, MEN]
    assert (stock[:, 11:] == stock[:, 10:11]).all()
    if engine == "expected":
        np.testing.assert_allclose(leavers[0, :10], 100 * 0.9 ** np.arange(10), rtol=RTOL)
        assert stock[0, 10] == pytest.approx(1000 * 0.9**10, rel=RTOL)
    else:
        # Attrition does happen before the profile drops (every year, in aggregate).
        assert (leavers[:, :10].sum(axis=0) > 0).all()


def test_posts_are_whole_in_both_engines() -> None:
    """A fractional establishment (e.g. after a scale policy) is rounded to whole posts by both
    engines, so in replace mode the expected engine fills to the same count as every
    stochastic replication."""
    data = ladder(
        1,
        initial=[(150, 850)],
        attrition=[(0.08, 0.08)],
        establishment=[1000.4],
        promotion=[],
        recruitment={"mode": "replace", "women_share": 0.3},
    )
    s = parse_scenario(data)
    expected = run(s, engine="expected").raw.stock.sum(-1)[0, 1:, 0]
    stochastic = run(s, engine="stochastic", replications=20, seed=5).raw.stock.sum(-1)[:, 1:, 0]
    np.testing.assert_allclose(expected, 1000.0, rtol=1e-12)
    assert np.all(stochastic == 1000)
