"""The stochastic engine agrees with exact answers within sampling error.

Every test uses a fixed seed and states its family-wise α; where a test makes several
statistical assertions the α is split between them (Bonferroni). Distribution checks are
Pearson chi-square goodness-of-fit tests against the exact pmf (adjacent support points are
merged until every bin expects at least 5 replications, tails included, so the bins' expected
counts sum to the number of replications); mean checks are z-tests with the sample standard
deviation over replications. Replications are independent (one stream per decision and
replication block), so the replications of one cell are an i.i.d. sample.

Verified:

* rate mode (a linear model): the mean stock and every mean flow of every cell and year over R
  replications equals the expected engine; one year's leavers from a known cell are
  Binomial(n, a);
* GMSE 5.4(a): survivors of a 1,000-person cohort after 25 years are Binomial(1000, 0.9^25);
  5.4(b): promotions A→B with probability 0.6 after ≥ 1 year in grade are Binomial(1000, 0.6)
  (and exactly 0 when nobody has served a year);
* women among a fixed intake are Binomial(intake, share);
* vacancy mode, ω = 1: women promoted are Hypergeometric(E_w + E_m, E_w, N);
* vacancy mode, ω ≠ 1: women promoted follow Wallenius' noncentral hypergeometric distribution;
  the expected engine's Fog approximation of its mean is within a stated bound of the exact
  mean;
* a women's floor never promotes more women than are eligible, raises them to
  ``min(eligible women, ceil(f N))``, and its diagnostics ``floor_binding``/``floor_short``
  say when it bound and when it could not be met; the probability that it binds is the exact
  hypergeometric probability;
* vacancy mode never takes a grade above its establishment (and fills it exactly up to the
  reported unfilled posts).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator import parse_scenario, run
from simulator.engine import DIAGNOSTICS, FLOWS, wallenius_mean
from tests.factories import ladder

pytestmark = pytest.mark.statistical

WOMEN, MEN = 0, 1
LEAVERS, PROMOTED_OUT, PROMOTED_IN, RECRUITS, LATERAL_IN = range(len(FLOWS))
START = 2000
#: Family-wise significance level of each test function.
ALPHA = 0.001


# ---------------------------------------------------------------------------------------------
# Statistical helpers
# ---------------------------------------------------------------------------------------------
def chisquare_pvalue(samples: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> float:
    """P-value of Pearson's chi-square test of ``samples`` against a discrete distribution.

    ``support`` lists every value with positive probability (integers, ascending) and ``pmf``
    their probabilities. Adjacent values are merged left to right until a bin expects ≥ 5;
    a short last bin is merged into the one before. A sample outside the support fails.
    """
    samples = np.asarray(samples).ravel()
    assert np.isin(samples, support).all(), "a sample lies outside the distribution's support"
    n = samples.size
    counts = np.array([(samples == v).sum() for v in support], dtype=float)
    pmf = pmf / pmf.sum()
    obs, exp = [], []
    o = e = 0.0
    for c, p in zip(counts, pmf, strict=True):
        o += c
        e += n * p
        if e >= 5:
            obs.append(o)
            exp.append(e)
            o = e = 0.0
    if e > 0 or o > 0:
        obs[-1] += o
        exp[-1] += e
    assert len(obs) >= 2, "too few bins for a chi-square test"
    return float(stats.chisquare(obs, exp).pvalue)


def binomial_pvalue(samples: np.ndarray, n: int, p: float) -> float:
    """Chi-square goodness of fit of samples to Binomial(n, p)."""
    k = np.arange(n + 1)
    return chisquare_pvalue(samples, k, stats.binom.pmf(k, n, p))


def z_scores(samples: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z = (mean - expected) / (sd / sqrt(R)) along axis 0; also the mask where sd > 0."""
    R = samples.shape[0]
    mean = samples.mean(axis=0)
    sd = samples.std(axis=0, ddof=1)
    varies = sd > 0
    z = np.zeros_like(mean, dtype=float)
    z[varies] = (mean[varies] - expected[varies]) / (sd[varies] / math.sqrt(R))
    return z, varies


def z_critical(alpha: float, tests: int) -> float:
    """Two-sided Bonferroni critical value for ``tests`` z-tests at family-wise ``alpha``."""
    return float(stats.norm.isf(alpha / (2 * max(tests, 1))))


# ---------------------------------------------------------------------------------------------
# Rate mode: stochastic mean = expected engine
# ---------------------------------------------------------------------------------------------
def rate_mode_ladder() -> dict:
    """Three grades, both sexes, everything that is linear: tenure-dependent attrition, a
    minimum time in grade, rate-mode odds, an attrition policy, a fractional intake ramp and a
    women's-share ramp."""
    return ladder(
        3,
        start_year=START,
        end_year=START + 10,
        initial=[(120, 380), (60, 240), (20, 130)],
        attrition=[([0.20, 0.12, 0.08], [0.15, 0.10, 0.06]), (0.08, 0.06), (0.10, 0.07)],
        promotion=[
            {
                "mode": "rate",
                "probability": {"women": 0.15, "men": 0.12},
                "min_years_in_grade": 2,
            },
            {"mode": "rate", "probability": {"women": 0.08, "men": 0.10}, "women_odds": 1.3},
        ],
        recruitment={
            "mode": "fixed",
            "intake": {"from_year": 2002, "to_year": 2006, "start": 80, "end": 121},
            "women_share": {"from_year": 2001, "to_year": 2005, "start": 0.25, "end": 0.40},
        },
        policies=[
            {
                "id": "retain",
                "parameter": "attrition",
                "from_year": 2005,
                "scale": 0.8,
                "grades": ["g1"],
                "sexes": ["women"],
            }
        ],
    )


def test_rate_mode_mean_of_every_cell_equals_expected_engine():
    """Mean stock and mean flows per (year, grade, sex) over 1,000 replications = expected.

    α = 0.001 family-wise over every cell that varies (Bonferroni; 360 cells → |z| ≤ 4.6);
    cells without variation across replications must equal the expected engine exactly.
    """
    scenario = parse_scenario(rate_mode_ladder())
    expected = run(scenario, engine="expected").raw
    stochastic = run(scenario, engine="stochastic", replications=1000, seed=20240901).raw

    z_stock, var_stock = z_scores(stochastic.stock.astype(float), expected.stock[0])
    z_flows, var_flows = z_scores(stochastic.flows.astype(float), expected.flows[0])
    crit = z_critical(ALPHA, int(var_stock.sum() + var_flows.sum()))
    assert np.abs(z_stock).max() <= crit
    assert np.abs(z_flows).max() <= crit
    # Deterministic cells agree exactly: the start year, the structurally zero flows.
    np.testing.assert_allclose(
        stochastic.stock.mean(0)[~var_stock], expected.stock[0][~var_stock], atol=1e-9
    )
    np.testing.assert_allclose(
        stochastic.flows.mean(0)[~var_flows], expected.flows[0][~var_flows], atol=1e-9
    )
    # The test has power: every projected stock varies, and a bias of 2.5 % in any one of them
    # would exceed the critical value.
    assert var_stock[1:].all()
    se = stochastic.stock[:, 1:].std(0, ddof=1) / math.sqrt(1000)
    assert (0.025 * expected.stock[0, 1:] / se).min() > crit


def test_exact_cases_hold_for_the_stochastic_mean():
    """model.md's exact cases, on the stochastic engine (α = 0.001, Bonferroni over 5 z-tests).

    * Two sexes, 30 % women recruits, women's grade-1 leave 0.15, from empty: the mean stock of
      each (grade, sex) after 100 years is the expected engine's, i.e. the exact path, which is
      within 1000 · 0.9^100 = 0.03 of the steady state (85.7, 171.4; 233.3, 466.7) — 500
      replications.
    * One grade of 1,000 refilled each year at h* = 32.68 % from 15 % women: the mean share
      after 10 years is h* + (0.15 - h*) 0.92^10 = 25 % exactly (the grade's size is fixed, so
      the share is linear in the women and its mean follows the expected recursion) — 1,000
      replications.
    """
    crit = z_critical(ALPHA, 5)
    push = ladder(
        2,
        start_year=START,
        end_year=START + 100,
        initial=[(0, 0), (0, 0)],
        attrition=[(0.15, 0.10), (0.10, 0.10)],
        promotion=[{"mode": "rate", "probability": {"women": 0.20, "men": 0.20}}],
        recruitment={"mode": "fixed", "intake": 100, "women_share": 0.30},
    )
    scenario = parse_scenario(push)
    exact = run(scenario, "expected").raw.stock[0, -1]
    steady = np.array([[30 / 0.35, 70 / 0.3], [60 / 0.35, 140 / 0.3]])
    assert np.abs(exact - steady).max() <= 1000 * 0.9**100
    final = run(scenario, "stochastic", replications=500, seed=2687).raw.stock[:, -1]
    z, varies = z_scores(final.astype(float), exact)
    assert varies.all()
    assert np.abs(z).max() <= crit

    decay = 0.92**10
    h_star = (0.25 - 0.15 * decay) / (1 - decay)
    renewal = ladder(
        1,
        start_year=START,
        end_year=START + 10,
        initial=[(150, 850)],
        attrition=[(0.08, 0.08)],
        establishment=[1000],
        recruitment={"mode": "replace", "women_share": h_star},
    )
    res = run(parse_scenario(renewal), "stochastic", replications=1000, seed=3268)
    assert (res.raw.stock[:, :, 0].sum(-1) == 1000).all()
    share = res.share("g0")[:, 10]
    z, _ = z_scores(share[:, None], np.array([0.25]))
    assert abs(z[0]) <= crit


def test_one_years_leavers_from_a_known_cell_are_binomial():
    """200 women in a cell with attrition 0.12 ⇒ year-1 leavers ~ Binomial(200, 0.12).

    α = 0.001: chi-square goodness of fit over 2,000 replications (α/2) and an exact binomial
    test of the pooled leavers, Binomial(400,000, 0.12) (α/2).
    """
    data = ladder(
        1,
        start_year=START,
        end_year=START + 1,
        initial=[(200, 300)],
        attrition=[(0.12, 0.05)],
        recruitment={"mode": "fixed", "intake": 0, "women_share": 0.5},
    )
    res = run(parse_scenario(data), engine="stochastic", replications=2000, seed=7)
    leavers = res.raw.flows[:, 0, 0, WOMEN, LEAVERS]
    assert binomial_pvalue(leavers, 200, 0.12) > ALPHA / 2
    pooled = stats.binomtest(int(leavers.sum()), 200 * leavers.size, 0.12)
    assert pooled.pvalue > ALPHA / 2


# ---------------------------------------------------------------------------------------------
# GMSE statistical unit tests (anchors §5.4)
# ---------------------------------------------------------------------------------------------
def test_gmse_cohort_survivors_after_25_years_are_binomial():
    """5.4(a): 1,000 persons, 10 % attrition a year, no recruitment.

    Each person survives 25 years with probability 0.9^25, independently: survivors ~
    Binomial(1000, 0.9^25), so total leavers have mean 928.2. α = 0.001 (chi-square over 1,000
    replications, α/2; z-test of the mean leavers against 928.2, α/2).
    """
    data = ladder(
        1,
        start_year=START,
        end_year=START + 25,
        initial=[(0, 1000)],
        attrition=[(0.10, 0.10)],
        recruitment={"mode": "fixed", "intake": 0, "women_share": 0.5},
    )
    res = run(parse_scenario(data), engine="stochastic", replications=1000, seed=54)
    survivors = res.raw.stock[:, -1, 0, MEN]
    assert binomial_pvalue(survivors, 1000, 0.9**25) > ALPHA / 2
    leavers = res.raw.flows[:, :, 0, MEN, LEAVERS].sum(axis=1)
    np.testing.assert_array_equal(leavers, 1000 - survivors)
    z, _ = z_scores(leavers[:, None].astype(float), np.array([1000 * (1 - 0.9**25)]))
    assert abs(z[0]) <= z_critical(ALPHA / 2, 1)


def gmse_promotion(years_in_grade: str) -> dict:
    """5.4(b): 1,000 persons in A; A→B with probability 0.6 after ≥ 1 year in A; one year."""
    data = ladder(
        2,
        start_year=START,
        end_year=START + 1,
        initial=[(0, 1000), (0, 0)],
        attrition=[(0.0, 0.0), (0.0, 0.0)],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.6, "men": 0.6}, "min_years_in_grade": 1}
        ],
        recruitment={"mode": "fixed", "intake": 0, "women_share": 0.5},
    )
    data["initial"][0]["years_in_grade"] = years_in_grade
    return data


def test_gmse_promotion_after_one_year_is_binomial():
    """5.4(b): promoted ~ Binomial(1000, 0.6) (mean 600, sd 15.5).

    α = 0.001: chi-square goodness of fit over 2,000 replications (α/2) and a z-test of the
    mean against 600 (α/2). Everyone in A has served ≥ 1 year ("open").
    """
    res = run(parse_scenario(gmse_promotion("open")), "stochastic", replications=2000, seed=630)
    promoted = res.raw.flows[:, 0, 0, MEN, PROMOTED_OUT]
    np.testing.assert_array_equal(promoted, res.raw.flows[:, 0, 1, MEN, PROMOTED_IN])
    np.testing.assert_array_equal(promoted, res.raw.stock[:, 1, 1, MEN])
    assert binomial_pvalue(promoted, 1000, 0.6) > ALPHA / 2
    z, _ = z_scores(promoted[:, None].astype(float), np.array([600.0]))
    assert abs(z[0]) <= z_critical(ALPHA / 2, 1)
    assert promoted.std(ddof=1) == pytest.approx(math.sqrt(1000 * 0.6 * 0.4), rel=0.1)


def test_gmse_promotion_needs_a_completed_year_in_grade():
    """Exact: with everyone at 0 completed years in A, nobody is promoted in the first year."""
    res = run(parse_scenario(gmse_promotion("entry")), "stochastic", replications=200, seed=630)
    assert (res.raw.flows[:, 0, 0, :, PROMOTED_OUT] == 0).all()
    assert (res.raw.stock[:, 1, 1] == 0).all()


# ---------------------------------------------------------------------------------------------
# Recruitment
# ---------------------------------------------------------------------------------------------
def test_women_among_a_fixed_intake_are_binomial():
    """Intake 50 a year at 30 % women ⇒ women recruits ~ Binomial(50, 0.3), each year.

    α = 0.001: one chi-square test over 1,000 replications × 5 years (independent draws).
    The intake itself is exactly 50 every year.
    """
    data = ladder(
        1,
        start_year=START,
        end_year=START + 5,
        initial=[(10, 40)],
        attrition=[(0.1, 0.1)],
        recruitment={"mode": "fixed", "intake": 50, "women_share": 0.3},
    )
    res = run(parse_scenario(data), engine="stochastic", replications=1000, seed=3)
    recruits = res.raw.flows[:, :, 0, :, RECRUITS]
    assert (recruits.sum(-1) == 50).all()
    assert binomial_pvalue(recruits[..., WOMEN], 50, 0.3) > ALPHA


# ---------------------------------------------------------------------------------------------
# Vacancy mode: one step with known pools
# ---------------------------------------------------------------------------------------------
def one_step_vacancy(
    eligible_women: int,
    eligible_men: int,
    vacancies: int,
    *,
    posts: int = 60,
    odds: float = 1.0,
    floor: float = 0.0,
    when_short: str = "fill_with_men",
    attrition_below: float = 0.0,
) -> dict:
    """Grade g1 (``posts`` posts) has exactly ``vacancies`` vacancies, filled from g0.

    Nobody leaves g1, everyone in g0 is eligible ('open' years in grade), no recruitment, so
    the pool is (E_w, E_m) = (eligible_women, eligible_men) and N = vacancies, exactly — unless
    ``attrition_below`` > 0 makes the pool random.
    """
    step: dict = {"mode": "vacancy", "women_odds": odds}
    if floor:
        step.update(women_floor=floor, when_floor_short=when_short)
    data = ladder(
        2,
        start_year=START,
        end_year=START + 1,
        initial=[(eligible_women, eligible_men), (0, posts - vacancies)],
        attrition=[(attrition_below, attrition_below), (0.0, 0.0)],
        promotion=[step],
        establishment=[None, posts],
        recruitment={"mode": "fixed", "intake": 0, "women_share": 0.5},
    )
    for block in data["initial"]:
        block["years_in_grade"] = "open"
    return data


def women_promoted(raw) -> np.ndarray:
    """Women promoted into g1 in the first (only) year, per replication."""
    return raw.flows[:, 0, 1, WOMEN, PROMOTED_IN]


def diagnostic(raw, name: str) -> np.ndarray:
    """A vacancy diagnostic of g1 in the first year, per replication."""
    return raw.diagnostics[:, 0, 1, DIAGNOSTICS.index(name)]


def test_gender_neutral_vacancy_promotion_is_hypergeometric():
    """ω = 1, pools (40 women, 60 men), 20 vacancies ⇒ women ~ Hypergeometric(100, 40, 20).

    α = 0.001: one chi-square test over 2,000 replications. Exact: 20 promoted every time.
    """
    raw = run(
        parse_scenario(one_step_vacancy(40, 60, 20)), "stochastic", replications=2000, seed=11
    ).raw
    promoted = raw.flows[:, 0, 1, :, PROMOTED_IN]
    assert (promoted.sum(-1) == 20).all()
    assert (raw.stock[:, 1, 1].sum(-1) == 60).all()
    k = np.arange(21)
    assert chisquare_pvalue(women_promoted(raw), k, stats.hypergeom.pmf(k, 100, 40, 20)) > ALPHA


WALLENIUS_CASES = [
    # (women, men, vacancies, odds)
    (40, 60, 20, 2.0),
    (50, 150, 30, 0.5),
]


@pytest.mark.parametrize(("ew", "em", "n", "odds"), WALLENIUS_CASES)
def test_weighted_vacancy_promotion_is_wallenius(ew, em, n, odds):
    """ω ≠ 1 ⇒ women ~ Wallenius' noncentral hypergeometric(E_w + E_m, E_w, N, ω).

    α = 0.001 per case: chi-square goodness of fit against scipy's exact pmf (α/2) and a
    z-test of the mean against ``nchypergeom_wallenius.mean`` (α/2), 2,000 replications.
    """
    raw = run(
        parse_scenario(one_step_vacancy(ew, em, n, odds=odds)),
        "stochastic",
        replications=2000,
        seed=12,
    ).raw
    women = women_promoted(raw)
    dist = stats.nchypergeom_wallenius(ew + em, ew, n, odds)
    k = np.arange(max(0, n - em), min(n, ew) + 1)
    assert chisquare_pvalue(women, k, dist.pmf(k)) > ALPHA / 2
    z, _ = z_scores(women[:, None].astype(float), np.array([dist.mean()]))
    assert abs(z[0]) <= z_critical(ALPHA / 2, 1)


#: Promotion pools of the Fog-approximation check: ω from 1/4 to 4, pools of 100 and 1,000
#: with 10-70 % women, drawing 5-50 % of the pool.
FOG_GRID = [
    (w, m, max(1, int(frac * (w + m))), odds)
    for odds in (0.25, 0.5, 0.8, 1.25, 2.0, 4.0)
    for (w, m) in ((10, 90), (30, 70), (50, 50), (70, 30), (200, 800))
    for frac in (0.05, 0.2, 0.35, 0.5)
]


def test_expected_engine_wallenius_mean_is_within_the_fog_approximation_bound():
    """The expected engine's women promoted vs the exact Wallenius mean.

    The expected engine uses Fog's approximation of the mean, the root of
    ``(1 - x/E_w) = (1 - (N - x)/E_m)^ω``; scipy's ``nchypergeom_wallenius.mean`` is exact
    (it equals Σ k pmf(k), checked here). Bound asserted: the approximation error is below
    ``σ / sqrt(1000)``, one standard error of the mean of a default 1,000-replication run, so
    the expected engine's bias is smaller than the Monte Carlo noise a user sees next to it.
    Observed on this grid (promotions drawing up to half the pool, ω in [1/4, 4]): at most
    0.016 σ and 0.4 % relative; the bound fails only for draws of nearly the whole pool
    (0.13 σ at 95 %), which is why the grid stops at 50 %.
    """
    # The scenario path (scalar solver) on the statistical test's cases.
    for ew, em, n, odds in WALLENIUS_CASES:
        raw = run(parse_scenario(one_step_vacancy(ew, em, n, odds=odds)), "expected").raw
        dist = stats.nchypergeom_wallenius(ew + em, ew, n, odds)
        k = np.arange(max(0, n - em), min(n, ew) + 1)
        assert dist.mean() == pytest.approx((k * dist.pmf(k)).sum(), rel=1e-9)
        fog = float(women_promoted(raw)[0])
        assert abs(fog - dist.mean()) <= dist.std() / math.sqrt(1000)
        # The men take the rest of the promotions.
        assert raw.flows[0, 0, 1, MEN, PROMOTED_IN] == pytest.approx(n - fog, rel=1e-12)

    # The grid, through the vectorised and the scalar solver alike.
    w, m, n, odds = (np.array(col, float) for col in zip(*FOG_GRID, strict=True))
    errors = []
    for i in range(len(FOG_GRID)):
        dist = stats.nchypergeom_wallenius(int(w[i] + m[i]), int(w[i]), int(n[i]), odds[i])
        scalar = float(wallenius_mean(n[i], w[i], m[i], float(odds[i])))
        vector = wallenius_mean(n[i : i + 1].repeat(2), w[i : i + 1].repeat(2), m[i], odds[i])
        assert vector[0] == pytest.approx(scalar, abs=1e-9)
        errors.append(abs(scalar - dist.mean()) / dist.std())
    assert max(errors) <= 1 / math.sqrt(1000)


# ---------------------------------------------------------------------------------------------
# Floors
# ---------------------------------------------------------------------------------------------
def test_feasible_floor_raises_women_and_binds_with_hypergeometric_probability():
    """Pool (40 women, 160 men), 20 vacancies, floor 40 % ⇒ at least ceil(0.4 · 20) = 8 women.

    Gender-neutral selection gives H ~ Hypergeometric(200, 40, 20) women (mean 4); the floor
    raises them to max(H, 8), so it binds exactly when H < 8. Exact per replication: women ≥ 8,
    floor_required = 8, never short; binding ⇔ women = 8 and women > 8 ⇒ not binding.
    α = 0.001: exact binomial test of the binding frequency against P(H < 8) (α/2) and a z-test
    of the mean women against E[max(H, 8)] (α/2), 2,000 replications. The expected engine
    gives max(E[H], 8) = 8, binding and not short.
    """
    scenario = parse_scenario(one_step_vacancy(40, 160, 20, floor=0.4))
    raw = run(scenario, "stochastic", replications=2000, seed=40).raw
    women = women_promoted(raw)
    binding = diagnostic(raw, "floor_binding").astype(bool)
    assert (diagnostic(raw, "floor_required") == 8).all()
    assert not diagnostic(raw, "floor_short").any()
    assert (women >= 8).all()
    assert (women[binding] == 8).all()
    assert (raw.flows[:, 0, 1, :, PROMOTED_IN].sum(-1) == 20).all()

    h = stats.hypergeom(200, 40, 20)
    p_bind = h.cdf(7)
    assert stats.binomtest(int(binding.sum()), binding.size, p_bind).pvalue > ALPHA / 2
    k = np.arange(21)
    mean_women = float((np.maximum(k, 8) * h.pmf(k)).sum())
    z, _ = z_scores(women[:, None].astype(float), np.array([mean_women]))
    assert abs(z[0]) <= z_critical(ALPHA / 2, 1)

    exp = run(scenario, "expected").raw
    assert women_promoted(exp)[0] == pytest.approx(8.0, rel=1e-12)
    assert diagnostic(exp, "floor_binding")[0] == 1
    assert diagnostic(exp, "floor_short")[0] == 0


@pytest.mark.parametrize("when_short", ["fill_with_men", "leave_vacant"])
def test_floor_short_of_eligible_women_promotes_all_of_them_and_no_more(when_short):
    """Pool (5 women, 195 men), 20 vacancies, floor 40 % needs 8 women: only 5 exist.

    Exact in every replication: all 5 eligible women are promoted (never more), floor_short is
    set, floor_required = 8. With "fill_with_men" the other 15 posts go to men; with
    "leave_vacant" men are capped at floor(5 · 0.6 / 0.4) = 7 so the 40 % floor holds among
    those promoted, and 8 posts stay unfilled. The expected engine: the same, with the cap
    unrounded (7.5 men, 7.5 unfilled). The floor binds unless neutral selection alone took all
    5 women (probability P(H = 5), H ~ Hypergeometric(200, 5, 20)); α = 0.001, exact binomial
    test of the binding frequency.
    """
    scenario = parse_scenario(one_step_vacancy(5, 195, 20, floor=0.4, when_short=when_short))
    raw = run(scenario, "stochastic", replications=1000, seed=41).raw
    men = raw.flows[:, 0, 1, MEN, PROMOTED_IN]
    assert (women_promoted(raw) == 5).all()
    assert (raw.stock[:, 1, 0, WOMEN] == 0).all()
    assert diagnostic(raw, "floor_short").all()
    assert (diagnostic(raw, "floor_required") == 8).all()
    expected_men, unfilled = (15, 0) if when_short == "fill_with_men" else (7, 8)
    assert (men == expected_men).all()
    assert (diagnostic(raw, "unfilled") == unfilled).all()
    assert (raw.stock[:, 1, 1].sum(-1) == 60 - unfilled).all()
    binding = diagnostic(raw, "floor_binding").astype(bool)
    p_bind = 1 - stats.hypergeom(200, 5, 20).pmf(5)
    assert stats.binomtest(int(binding.sum()), binding.size, p_bind).pvalue > ALPHA

    exp = run(scenario, "expected").raw
    assert women_promoted(exp)[0] == pytest.approx(5.0, rel=1e-12)
    assert diagnostic(exp, "floor_short")[0] == 1
    assert diagnostic(exp, "floor_binding")[0] == 1
    exp_men = 15.0 if when_short == "fill_with_men" else 5 * 0.6 / 0.4
    assert exp.flows[0, 0, 1, MEN, PROMOTED_IN] == pytest.approx(exp_men, rel=1e-12)
    assert diagnostic(exp, "unfilled")[0] == pytest.approx(20 - 5 - exp_men, abs=1e-12)


def test_floor_with_a_random_pool_follows_the_documented_rule_in_every_replication():
    """Attrition 30 % below makes the eligible pool random; floor 30 % on 25 vacancies, ω = 6.

    Per replication, with E_w the eligible women (the survivors of g0's 12 women), N the
    internal promotions and r = ceil(0.3 N): women ≤ E_w; women ≥ min(E_w, r);
    floor_required = r; floor_short ⇔ E_w < r; floor_binding ⇒ women = min(E_w, r).
    Exact checks (no α). With E_w ~ Binomial(12, 0.7) against r = 8 the floor is short in
    about a quarter of the replications, and with odds 6 the selection alone often meets it:
    all four combinations of short/binding occur (asserted, so the rule is really exercised).
    """
    scenario = parse_scenario(
        one_step_vacancy(12, 88, 25, floor=0.3, odds=6.0, attrition_below=0.3)
    )
    raw = run(scenario, "stochastic", replications=1000, seed=42).raw
    eligible_w = 12 - raw.flows[:, 0, 0, WOMEN, LEAVERS]
    n_int = diagnostic(raw, "internal_promotions")
    required = np.ceil(0.3 * n_int - 1e-9)
    women = women_promoted(raw)
    short = diagnostic(raw, "floor_short").astype(bool)
    binding = diagnostic(raw, "floor_binding").astype(bool)
    assert (n_int == 25).all()
    assert (women <= eligible_w).all()
    assert (women >= np.minimum(eligible_w, required)).all()
    np.testing.assert_array_equal(diagnostic(raw, "floor_required"), required)
    np.testing.assert_array_equal(short, eligible_w < required)
    np.testing.assert_array_equal(women[binding], np.minimum(eligible_w, required)[binding])
    for s in (True, False):
        for b in (True, False):
            assert ((short == s) & (binding == b)).any(), (s, b)


# ---------------------------------------------------------------------------------------------
# Establishment
# ---------------------------------------------------------------------------------------------
def vacancy_ladder() -> dict:
    """Four grades: a rate step, then two vacancy steps (odds, minimum times in grade, lateral
    entry, floors of both kinds) and g3's establishment growing from 30 to 36 in 2005-2010.

    Few women are eligible for g3 and its floor leaves posts vacant when short, so g3 has
    unfilled posts in most years while g2 is nearly always full.
    """
    return ladder(
        4,
        start_year=START,
        end_year=START + 15,
        initial=[(100, 400), (6, 24), (4, 96), (2, 28)],
        attrition=[(0.15, 0.12), (0.08, 0.07), (0.06, 0.05), (0.25, 0.20)],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.04, "men": 0.04}},
            {"mode": "vacancy", "women_odds": 1.5, "min_years_in_grade": 2, "women_floor": 0.3},
            {
                "mode": "vacancy",
                "min_years_in_grade": 3,
                "lateral_share": 0.2,
                "lateral_women_share": 0.4,
                "women_floor": 0.5,
                "when_floor_short": "leave_vacant",
            },
        ],
        establishment=[None, None, 100, 30],
        recruitment={"mode": "fixed", "intake": 100, "women_share": 0.3},
        policies=[
            {
                "id": "grow",
                "parameter": "establishment",
                "from_year": 2005,
                "to_year": 2010,
                "scale": 1.2,
                "grades": ["g3"],
            }
        ],
    )


@pytest.mark.parametrize("engine", ["expected", "stochastic"])
def test_vacancy_mode_fills_up_to_but_never_beyond_establishment(engine):
    """A vacancy grade that starts at its establishment stays at or below it, every year.

    More exactly, its year-end headcount is ``posts - unfilled`` (posts: the establishment,
    rounded to whole posts by the stochastic engine), unfilled ≥ 0 being the vacancies neither
    lateral hires nor eligible promotees filled. Exact for the stochastic engine's integers,
    to 1e-9 for the expected engine. Both sides occur: g2 is full in most years, g3 often has
    posts left vacant by its floor.
    """
    scenario = parse_scenario(vacancy_ladder())
    kwargs = {"replications": 300, "seed": 99} if engine == "stochastic" else {}
    result = run(scenario, engine=engine, **kwargs)
    c = result.compiled
    posts = c.establishment if engine == "expected" else np.rint(c.establishment)
    np.testing.assert_array_equal(posts[-1, 2:], [100, 36])
    for g in (2, 3):
        stock = result.raw.stock[:, 1:, g].sum(-1)
        unfilled = result.raw.diagnostics[:, :, g, DIAGNOSTICS.index("unfilled")]
        assert (unfilled >= -1e-9).all()
        assert (stock <= posts[:, g] + 1e-9).all()
        np.testing.assert_allclose(stock, posts[:, g] - unfilled, rtol=0, atol=1e-9)
    full_g2 = np.isclose(result.raw.stock[:, 1:, 2].sum(-1), posts[:, 2], rtol=0, atol=1e-9)
    assert full_g2.mean() > 0.9
    assert (result.raw.diagnostics[:, :, 3, DIAGNOSTICS.index("unfilled")] > 0).mean() > 0.5
