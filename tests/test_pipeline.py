"""The conscription funnel and the deployment pools (simulator/pipeline.py).

What this module verifies:

* the expected engine's funnel equals a hand-computed worked example, stage by stage (before
  and after women are summoned, and with more volunteers than places), and the signers are
  the entry grade's recruits;
* the women's summoned share under the date rule (``women_summoned_from``), and that no woman
  is drafted before the rule's first step in any replication (exact);
* the lottery gives every fit non-volunteer of the summoned population the same chance:
  drafted women are hypergeometric given the pool (chi-square, and a randomised-PIT
  Kolmogorov–Smirnov test where the pool is itself random);
* deployment: women deployed never exceed eligible women, the total never exceeds the demand
  or the pool, a floor is met as far as eligible women exist, ω_d = 1 deploys in proportion
  to the pool, and the stochastic mean agrees with the expected engine;
* the new populations work in targets, shares and quantiles; the new policies and the
  years-in-grade selector of attrition policies act as documented; validation rejects the
  inconsistent combinations; and a scenario without a funnel or pools draws exactly what it
  drew before (common random numbers: adding a pool leaves every stock unchanged).
* the shipped Danish scenarios: no woman drafted before 2026 (none ever without the reform),
  and the 2024 intake and the 2023 deployed share reproduce their calibration points.

Statistical tests: each uses a fixed seed and α = 0.001 (stated per test), so the outcome is
deterministic and a correct engine fails a given test with probability at most 0.001.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulator import ScenarioError, compile_scenario, load_scenario, parse_scenario, run
from simulator.pipeline import FUNNEL_STAGES, summoned_share_from_date
from simulator.targets import evaluate_target
from tests.factories import A, ladder

ALPHA = 0.001
SEED = 20250701


def funnel_scenario(**conscription) -> dict:
    """Two grades fed by a funnel: the worked example of the module docstring.

    Cohort 1000 women, 1000 men; all men summoned; fit 0.5 / 0.6; volunteers 0.2 / 0.1 of
    the fit; 300 places; dropout volunteers 0.2 / 0.1, drafted 0.1 / 0.25; contract 0.5 for
    volunteers, 0.2 for drafted persons (both sexes).
    """
    data = ladder(2, start_year=2020, end_year=2026, recruitment={"mode": "conscription"})
    block = {
        "entry_grade": "g0",
        "cohort": {"women": 1000, "men": 1000},
        "women_summoned": 0.0,
        "fit": {"women": 0.5, "men": 0.6},
        "volunteer_share": {"women": 0.2, "men": 0.1},
        "places": 300,
        "dropout": {
            "volunteers": {"women": 0.2, "men": 0.1},
            "drafted": {"women": 0.1, "men": 0.25},
        },
        "contract_share": {"women": 0.5, "men": 0.5},
        "contract_share_drafted": {"women": 0.2, "men": 0.2},
        "assumption": A,
    }
    block.update(conscription)
    block = {k: v for k, v in block.items() if v is not None}
    data["conscription"] = block
    return data


def stages(result, t: int = 0, rep: int = 0) -> dict[str, tuple[float, float]]:
    f = result.raw.funnel[rep, t]
    return {name: (float(f[i, 0]), float(f[i, 1])) for i, name in enumerate(FUNNEL_STAGES)}


# ---------------------------------------------------------------------------------------------
# Expected engine: the worked example.
# ---------------------------------------------------------------------------------------------
def test_funnel_worked_example_before_women_are_summoned():
    res = run(parse_scenario(funnel_scenario()), engine="expected")
    got = stages(res)
    # Men: 1000 summoned, 600 fit, 60 volunteers, 540 in the lottery. Women (not summoned):
    # 1000 x 0.5 x 0.2 = 100 fit volunteers under værneret, nobody in the lottery.
    want = {
        "cohort": (1000, 1000),
        "summoned": (0, 1000),
        "fit": (100, 600),
        "volunteers": (100, 60),
        "lottery_pool": (0, 540),
        "volunteer_conscripts": (100, 60),  # 160 volunteers < 300 places: all taken
        "drafted": (0, 140),  # the other 140 places from the lottery: men only
        "conscripts": (100, 200),
        # volunteers complete 80 / 54, drafted 0 / 105
        "completers": (80, 159),
        # 0.5 of completing volunteers (40 / 27), 0.2 of completing drafted (0 / 21)
        "contract_signers": (40, 48),
    }
    for name, (w, m) in want.items():
        assert got[name] == pytest.approx((w, m), abs=1e-9), name
    assert res.raw.funnel_places[0, 0].tolist() == [300, 0]
    # The signers are the entry grade's recruits; nobody else is recruited.
    recruits = res.raw.flows[0, 0, :, :, 3]
    assert recruits[0].tolist() == pytest.approx([40, 48])
    assert recruits[1].tolist() == [0, 0]


def test_funnel_worked_example_with_women_summoned():
    res = run(parse_scenario(funnel_scenario(women_summoned=1.0)), engine="expected")
    got = stages(res)
    pool_w, pool_m = 400, 540  # 500 fit women - 100 volunteers; 600 fit men - 60
    dw = 140 * pool_w / (pool_w + pool_m)
    want = {
        "summoned": (1000, 1000),
        "fit": (500, 600),
        "volunteers": (100, 60),
        "lottery_pool": (pool_w, pool_m),
        "volunteer_conscripts": (100, 60),
        "drafted": (dw, 140 - dw),
        "completers": (80 + 0.9 * dw, 54 + 0.75 * (140 - dw)),
        "contract_signers": (40 + 0.2 * 0.9 * dw, 27 + 0.2 * 0.75 * (140 - dw)),
    }
    for name, (w, m) in want.items():
        assert got[name] == pytest.approx((w, m), abs=1e-9), name


def test_volunteers_beyond_the_places_are_taken_with_equal_odds():
    res = run(parse_scenario(funnel_scenario(places=120)), engine="expected")
    got = stages(res)
    # 160 volunteers (100 women, 60 men) for 120 places: 3 in 4 of each sex are taken.
    assert got["volunteer_conscripts"] == pytest.approx((75, 45))
    assert got["drafted"] == (0, 0)


def test_unfilled_places_when_the_pool_runs_dry():
    data = funnel_scenario(places=1200, women_summoned=1.0)
    res = run(parse_scenario(data), engine="expected")
    got = stages(res)
    assert got["drafted"] == pytest.approx((400, 540))  # the whole pool
    assert res.raw.funnel_places[0, 0].tolist() == pytest.approx([1200, 1200 - 160 - 940])


def test_stage_identities_hold_in_every_stochastic_replication():
    data = funnel_scenario(women_summoned={"2020": 0.0, "2023": 1.0})
    res = run(parse_scenario(data), engine="stochastic", replications=200, seed=SEED)
    f = res.raw.funnel
    i = {name: k for k, name in enumerate(FUNNEL_STAGES)}
    assert (f[:, :, i["summoned"]] <= f[:, :, i["cohort"]]).all()
    assert (f[:, :, i["volunteer_conscripts"]] <= f[:, :, i["volunteers"]]).all()
    assert (f[:, :, i["drafted"]] <= f[:, :, i["lottery_pool"]]).all()
    assert (
        f[:, :, i["conscripts"]] == f[:, :, [i["volunteer_conscripts"], i["drafted"]]].sum(2)
    ).all()
    assert (f[:, :, i["completers"]] <= f[:, :, i["conscripts"]]).all()
    assert (f[:, :, i["contract_signers"]] <= f[:, :, i["completers"]]).all()
    places, unfilled = res.raw.funnel_places[..., 0], res.raw.funnel_places[..., 1]
    assert (f[:, :, i["conscripts"]].sum(-1) + unfilled == places).all()
    assert (res.raw.flows[:, :, 0, :, 3] == f[:, :, i["contract_signers"]]).all()
    stock = res.raw.stock
    flows = res.raw.flows
    change = flows[..., 2] + flows[..., 3] + flows[..., 4] - flows[..., 0] - flows[..., 1]
    assert (stock[:, 1:] - stock[:, :-1] == change).all()


# ---------------------------------------------------------------------------------------------
# The date rule.
# ---------------------------------------------------------------------------------------------
def test_date_rule_is_pro_rata_in_the_first_year_and_lagged():
    years = np.arange(2024, 2029)
    share = summoned_share_from_date("2025-07-01", 1, years)
    # Cohort of the 2026 step turned 18 in 2025: 1 July - 31 December is 184 of 365 days.
    assert share.tolist() == pytest.approx([0, 0, 184 / 365, 1, 1])
    assert summoned_share_from_date("2025-07-01", 0, years).tolist() == pytest.approx(
        [0, 184 / 365, 1, 1, 1]
    )
    assert summoned_share_from_date("2024-01-01", 0, years)[0] == 1.0  # a full leap year


def test_no_woman_is_drafted_before_the_rule_in_any_replication():
    data = funnel_scenario(women_summoned=None, women_summoned_from="2022-07-01")
    c = compile_scenario(parse_scenario(data))
    assert c.conscription.summoned[:, 0].tolist() == pytest.approx(
        [0, 0, 184 / 365, 1, 1, 1]  # steps 2021 ... 2026, lag 1: first women in 2023
    )
    res = run(c, engine="stochastic", replications=300, seed=SEED)
    drafted_w = res.raw.funnel[:, :, FUNNEL_STAGES.index("drafted"), 0]
    summoned_w = res.raw.funnel[:, :, FUNNEL_STAGES.index("summoned"), 0]
    assert (drafted_w[:, :2] == 0).all()
    assert (summoned_w[:, :2] == 0).all()
    assert (drafted_w[:, 2:] > 0).all()  # the lottery then reaches women (≈ 60 a year)


def test_a_toml_date_is_accepted_and_kept_as_text():
    import tomllib

    text = "d = 2025-07-01"
    data = funnel_scenario(women_summoned=None, women_summoned_from=tomllib.loads(text)["d"])
    s = parse_scenario(data)
    assert s.conscription.women_summoned_from == "2025-07-01"
    from simulator.scenario import scenario_fingerprint

    assert len(scenario_fingerprint(s)) == 64  # JSON-serialisable


# ---------------------------------------------------------------------------------------------
# The lottery: equal odds for everyone in the pool.
# ---------------------------------------------------------------------------------------------
@pytest.mark.statistical
def test_drafted_women_are_hypergeometric_given_a_fixed_pool():
    """Chi-square goodness of fit to Hypergeom(pool_w = 400, pool_m = 600, D = 100), α = 0.001.

    With everybody fit, nobody volunteering and everyone summoned, the pool is the cohort and
    every place is drafted, so equal odds for every person means exactly this distribution.
    """
    data = funnel_scenario(
        women_summoned=1.0,
        cohort={"women": 400, "men": 600},
        fit={"women": 1.0, "men": 1.0},
        volunteer_share={"women": 0.0, "men": 0.0},
        places=100,
    )
    res = run(parse_scenario(data), engine="stochastic", replications=1000, seed=SEED)
    x = res.raw.funnel[:, :, FUNNEL_STAGES.index("drafted"), 0].reshape(-1)  # 6000 draws
    assert (res.raw.funnel[:, :, FUNNEL_STAGES.index("drafted")].sum(-1) == 100).all()
    dist = stats.hypergeom(1000, 400, 100)
    edges = np.arange(dist.ppf(0.005), dist.ppf(0.995) + 1)  # inner support, tails pooled
    observed = [(x < edges[0]).sum()] + [(x == k).sum() for k in edges] + [(x > edges[-1]).sum()]
    probs = [dist.cdf(edges[0] - 1)] + [dist.pmf(k) for k in edges] + [dist.sf(edges[-1])]
    chi2 = stats.chisquare(observed, np.array(probs) * x.size / np.sum(probs))
    assert chi2.pvalue > ALPHA, chi2


@pytest.mark.statistical
def test_drafted_women_are_hypergeometric_given_a_random_pool():
    """Randomised PIT of drafted women under Hypergeom(pool_w, pool_m; D) is U(0, 1): KS, α = 0.001.

    Here fitness, volunteering and the summoning are random (the pool differs between
    replications); conditional on each replication's pool and draws, equal odds means the
    hypergeometric law, so the randomised probability integral transform is U(0, 1).
    """
    data = funnel_scenario(women_summoned=0.7, places=400)
    res = run(parse_scenario(data), engine="stochastic", replications=1000, seed=SEED)
    f = res.raw.funnel
    pool = f[:, :, FUNNEL_STAGES.index("lottery_pool")].reshape(-1, 2)
    drafted = f[:, :, FUNNEL_STAGES.index("drafted")].reshape(-1, 2)
    d = drafted.sum(-1)
    assert (d > 0).all()
    dist = stats.hypergeom(pool.sum(-1), pool[:, 0], d)
    u = np.random.default_rng(7).random(d.size)
    pit = dist.cdf(drafted[:, 0] - 1) + u * dist.pmf(drafted[:, 0])
    ks = stats.kstest(pit, "uniform")
    assert ks.pvalue > ALPHA, ks


@pytest.mark.statistical
def test_stochastic_funnel_mean_matches_the_expected_engine():
    """z-test per sex on the mean contract signers of the first step (α = 0.001, Bonferroni).

    Before the lottery binds in both directions (places exceed volunteers in every
    replication here), every stage is linear in the draws, so the expected engine is the mean.
    """
    data = funnel_scenario(women_summoned=1.0)
    exp = run(parse_scenario(data), engine="expected").raw.funnel[0, 0]
    res = run(parse_scenario(data), engine="stochastic", replications=2000, seed=SEED)
    f = res.raw.funnel[:, 0]
    vol = f[:, FUNNEL_STAGES.index("volunteers")].sum(-1)
    assert (vol < 300).all()
    tests = []
    for stage in ("volunteer_conscripts", "completers", "contract_signers"):
        for s in (0, 1):
            x = f[:, FUNNEL_STAGES.index(stage), s].astype(float)
            z = (x.mean() - exp[FUNNEL_STAGES.index(stage), s]) / (
                x.std(ddof=1) / math.sqrt(x.size)
            )
            tests.append((stage, s, z))
    crit = stats.norm.isf(ALPHA / (2 * len(tests)))
    assert all(abs(z) < crit for _, _, z in tests), tests


# ---------------------------------------------------------------------------------------------
# Deployment.
# ---------------------------------------------------------------------------------------------
def deploy_scenario(pool: dict | None = None, **kw) -> dict:
    """Three grades; a pool over g0 and g1 (women 100 + 100, men 400 + 400 at the start)."""
    data = ladder(3, start_year=2020, end_year=2030, **kw)
    block = {"id": "intl", "demand": 200, "grades": ["g0", "g1"], "assumption": A}
    block.update(pool or {})
    data["deployments"] = [block]
    return data


def test_omega_one_deploys_in_proportion_to_the_pool_in_expectation():
    res = run(parse_scenario(deploy_scenario()), engine="expected")
    dep = res.raw.deployments[0, :, 0]  # [Y+1, 2]
    pool = res.raw.stock[0, :, :2].sum(1)  # g0 + g1 by sex, every year-end
    assert dep.sum(-1) == pytest.approx(np.full(len(dep), 200))
    assert dep[:, 0] == pytest.approx(200 * pool[:, 0] / pool.sum(-1))
    assert res.share("deployed")[0] == pytest.approx(pool[:, 0] / pool.sum(-1))
    assert res.share("deployed.intl")[0, 0] == pytest.approx(0.2)  # the start year


def test_deployed_never_exceed_demand_and_the_floor_holds_as_far_as_it_can():
    # Pool "intl": g1 with at least 3 years in grade, odds 0.5 and a 30 % floor that binds.
    # Pool "scarce": g2 with 10 eligible women, a 50 % floor that cannot be met.
    data = deploy_scenario(
        {
            "grades": ["g1"],
            "min_years_in_grade": 3,
            "women_odds": 0.5,
            "women_floor": 0.3,
            "demand": 100,
        },
        initial=[(100, 400), (150, 600), (10, 100)],
    )
    data["deployments"].append(
        {"id": "scarce", "demand": 60, "grades": ["g2"], "women_floor": 0.5, "assumption": A}
    )
    res = run(parse_scenario(data), engine="stochastic", replications=200, seed=SEED)
    c = res.compiled
    for p, demand_p in enumerate((100, 60)):
        dep = res.raw.deployments[:, :, p]
        diag = res.raw.deployment_diagnostics[:, :, p]
        demand, unmet, binding, short = diag[..., 0], diag[..., 1], diag[..., 2], diag[..., 3]
        assert (demand == demand_p).all()
        assert (dep.sum(-1) + unmet == demand).all()
        required = np.ceil(c.deployments[p].women_floor[0] * dep.sum(-1) - 1e-9)
        # Where the floor can be met it is; where it cannot, 'short' says so.
        assert ((dep[..., 0] >= required) | short.astype(bool)).all()
        if p == 0:
            assert binding.any()  # odds 0.5 alone deploys fewer women than the floor
            e0 = c.initial[1, :, 3:].sum(-1)  # eligible at the start year
            assert (dep[:, 0, 0] <= e0[0]).all()
            assert (dep[:, 0].sum(-1) == min(100, e0.sum())).all()
        else:
            assert short[:, 0].all()
            assert (dep[:, 0, 0] == 10).all()  # every eligible woman, and no more


def test_women_deployed_never_exceed_eligible_women_in_any_year():
    """Against the eligible pool recomputed by a second, instrumented simulation."""
    from simulator.engine import StochasticSampler, simulate
    from simulator.pipeline import PipelineRun

    data = deploy_scenario({"women_floor": 0.5, "min_years_in_grade": 1})
    c = compile_scenario(parse_scenario(data))
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = PipelineRun.deploy

    def spy(self, j, n):
        original(self, j, n)
        eligible = n[:, c.deployments[0].grades, :, 1:].sum((1, 3))
        seen.append((eligible, self.deployed[:, j, 0].copy()))

    PipelineRun.deploy = spy
    try:
        simulate(c, StochasticSampler(SEED, 0), 100)
    finally:
        PipelineRun.deploy = original
    assert len(seen) == c.n_years + 1
    for eligible, dep in seen:
        assert (dep <= eligible).all()
        need = np.minimum(eligible[:, 0], np.ceil(0.5 * dep.sum(-1) - 1e-9))
        assert (dep[:, 0] >= need).all()


@pytest.mark.statistical
@pytest.mark.parametrize("odds", [1.0, 0.6])
def test_stochastic_deployed_mean_matches_the_expected_engine(odds: float):
    """z-test on the mean women deployed at 4 year-ends (α = 0.001, Bonferroni over them).

    Nobody leaves, moves or is recruited, so the eligible pool is the same in every year and
    replication; the expected engine gives the Wallenius mean (Fog's approximation, exact for
    ω = 1), the stochastic engine draws Wallenius variates.
    """
    data = deploy_scenario(
        {"women_odds": odds},
        attrition=[(0.0, 0.0)] * 3,
        promotion=[{"mode": "rate", "probability": {"women": 0.0, "men": 0.0}}] * 2,
        recruitment={"mode": "fixed", "intake": 0, "women_share": 0.3},
    )
    exp = run(parse_scenario(data), engine="expected").raw.deployments[0, :, 0, 0]
    res = run(parse_scenario(data), engine="stochastic", replications=2000, seed=SEED)
    x = res.raw.deployments[:, :, 0, 0].astype(float)
    cols = [0, 3, 6, 10]
    z = (x[:, cols].mean(0) - exp[cols]) / (x[:, cols].std(0, ddof=1) / math.sqrt(len(x)))
    assert (np.abs(z) < stats.norm.isf(ALPHA / (2 * len(cols)))).all(), z
    if odds == 1.0:
        assert exp == pytest.approx(np.full(11, 40.0))
    else:
        exact = stats.nchypergeom_wallenius(1000, 200, 200, odds).mean()
        assert exp[0] == pytest.approx(exact, rel=2e-3)  # Fog's approximation of the mean


def test_adding_a_pool_leaves_every_stock_draw_unchanged():
    base = ladder(3, start_year=2020, end_year=2030)
    with_pool = deploy_scenario()
    a = run(parse_scenario(base), engine="stochastic", replications=100, seed=SEED)
    b = run(parse_scenario(with_pool), engine="stochastic", replications=100, seed=SEED)
    assert (a.raw.stock == b.raw.stock).all()
    assert (a.raw.flows == b.raw.flows).all()
    assert a.raw.deployments is None
    assert a.raw.funnel is None


def test_results_do_not_depend_on_how_replications_are_split():
    data = funnel_scenario(women_summoned=1.0)
    data["deployments"] = [{"id": "x", "demand": 50, "grades": ["g0"], "assumption": A}]
    s = parse_scenario(data)
    whole = run(s, engine="stochastic", replications=250, seed=SEED)
    part = run(s, engine="stochastic", replications=100, seed=SEED, first_replication=130)
    assert (whole.raw.funnel[130:230] == part.raw.funnel).all()
    assert (whole.raw.deployments[130:230] == part.raw.deployments).all()
    assert (whole.raw.funnel_places[130:230] == part.raw.funnel_places).all()


# ---------------------------------------------------------------------------------------------
# Populations, targets, frames.
# ---------------------------------------------------------------------------------------------
def test_new_populations_work_in_targets_shares_and_frames():
    data = funnel_scenario(women_summoned=1.0)
    data["deployments"] = [{"id": "x", "demand": 50, "grades": ["g0", "g1"], "assumption": A}]
    data["targets"] = [
        {
            "id": "t1",
            "population": "conscripts",
            "comparator": "at_least",
            "value": 0.3,
            "deadline": 2025,
            "assumption": A,
        },
        {
            "id": "t2",
            "population": "deployed",
            "comparator": "at_least",
            "value": 0.15,
            "deadline": 2022,
            "assumption": A,
        },
        {
            "id": "t3",
            "population": "deployed.x",
            "comparator": "at_least",
            "value": 0.15,
            "deadline": 2020,
            "assumption": A,
        },
    ]
    s = parse_scenario(data)
    exp = run(s, engine="expected")
    sto = run(s, engine="stochastic", replications=100, seed=SEED)
    for t in s.targets:
        summary = evaluate_target(t, exp, sto)
        assert summary["expected_share"] is not None
        assert summary["probability"] is not None
    w, _m = exp.counts("conscripts")
    assert math.isnan(w[0, 0])
    assert w[0, 1] == pytest.approx(100 + 140 * 400 / 940)
    assert {
        "conscripts",
        "conscription_completers",
        "contract_signers",
        "deployed",
        "deployed.x",
    } <= set(sto.population_names)
    shares = sto.shares_frame()
    assert set(shares.population) >= {"contract_signers", "deployed.x"}
    q = sto.quantiles_frame()
    assert (q[q.population == "deployed"].share.notna()).all()
    ff = sto.funnel_frame()
    assert len(ff) == 100 * 6 * len(FUNNEL_STAGES) * 2
    row = ff[(ff.replication == 0) & (ff.year == 2021) & (ff.stage == "conscripts")]
    assert row["count"].sum() + row.unfilled.iloc[0] == 300
    df = sto.deployment_frame()
    assert len(df) == 100 * 7 * 1 * 2
    assert (df.groupby(["replication", "year"]).deployed.sum() == 50).all()


def test_frames_are_empty_without_a_funnel_or_pools():
    res = run(parse_scenario(ladder(2)), engine="expected")
    assert res.funnel_frame().empty
    assert res.deployment_frame().empty
    assert "deployed" not in res.population_names


# ---------------------------------------------------------------------------------------------
# Policies (levers).
# ---------------------------------------------------------------------------------------------
def test_conscription_policies_change_the_compiled_arrays():
    data = funnel_scenario()
    data["policies"] = [
        {"id": "p1", "parameter": "conscription.places", "from_year": 2023, "scale": 2.0},
        {"id": "p2", "parameter": "conscription.women_summoned", "from_year": 2024, "set": 1.0},
        {
            "id": "p3",
            "parameter": "conscription.volunteer_share",
            "from_year": 2022,
            "to_year": 2023,
            "set": 0.4,
            "sexes": ["women"],
        },
        {
            "id": "p4",
            "parameter": "conscription.contract_share",
            "from_year": 2021,
            "scale": 0.5,
            "sexes": ["men"],
        },
    ]
    data["policies"] = [{"assumption": A, **p} for p in data["policies"]]
    cs = compile_scenario(parse_scenario(data)).conscription  # steps 2021 … 2026
    assert cs.places.tolist() == [300, 300, 600, 600, 600, 600]
    assert cs.summoned[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert cs.volunteer[:, 0].tolist() == pytest.approx([0.2, 0.3, 0.4, 0.4, 0.4, 0.4])
    assert cs.volunteer[:, 1].tolist() == pytest.approx([0.1] * 6)
    assert cs.contract[:, :, 1] == pytest.approx(np.tile([0.25, 0.1], (6, 1)))
    assert cs.contract[:, :, 0] == pytest.approx(np.tile([0.5, 0.2], (6, 1)))


def test_deployment_policies_change_demand_odds_and_floor_per_pool():
    data = deploy_scenario()
    data["deployments"].append({"id": "obs", "demand": 10, "grades": ["g2"], "assumption": A})
    data["policies"] = [
        {
            "id": "d1",
            "parameter": "deployment.demand",
            "from_year": 2025,
            "set": 300,
            "deployments": ["intl"],
        },
        {"id": "d2", "parameter": "deployment.women_odds", "from_year": 2021, "scale": 1.5},
        {"id": "d3", "parameter": "deployment.women_floor", "from_year": 2030, "set": 0.25},
    ]
    data["policies"] = [{"assumption": A, **p} for p in data["policies"]]
    intl, obs = compile_scenario(parse_scenario(data)).deployments  # year-ends 2020 … 2030
    assert intl.demand.tolist() == [200] * 5 + [300] * 6
    assert obs.demand.tolist() == [10] * 11
    assert intl.women_odds.tolist() == [1.0] + [1.5] * 10
    assert obs.women_floor.tolist() == [0] * 10 + [0.25]


def test_attrition_policy_can_scale_one_year_in_grade():
    data = ladder(2, attrition=[([0.3, 0.2, 0.1], 0.1), (0.1, 0.1)])
    data["policies"] = [
        {
            "id": "r",
            "parameter": "attrition",
            "from_year": 2001,
            "scale": 0.5,
            "grades": ["g0"],
            "sexes": ["women"],
            "years_in_grade": [1],
            "assumption": A,
        }
    ]
    c = compile_scenario(parse_scenario(data))
    a = c.attrition[0, 0, 0]
    assert c.K >= 2
    assert a[:3].tolist() == pytest.approx([0.3, 0.1, 0.1])
    assert a[3:].tolist() == pytest.approx([0.1] * (len(a) - 3))
    assert c.attrition[0, 0, 1].tolist() == pytest.approx([0.1] * len(a))  # men unchanged


# ---------------------------------------------------------------------------------------------
# Validation.
# ---------------------------------------------------------------------------------------------
def _issues(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    return [f"{i.path}: {i.message}" for i in err.value.issues]


def test_validation_of_the_funnel():
    d = funnel_scenario()
    d["recruitment"] = {"mode": "fixed", "intake": 10, "women_share": 0.3, "assumption": A}
    assert any("recruitment mode 'conscription'" in m for m in _issues(d))
    d = funnel_scenario()
    del d["conscription"]
    assert any("needs [conscription]" in m for m in _issues(d))
    d = funnel_scenario(entry_grade="g1")
    assert any(m.startswith("conscription.entry_grade") for m in _issues(d))
    d = funnel_scenario(women_summoned_from="2025-07-01")
    assert any("exactly one of women_summoned" in m for m in _issues(d))
    d = funnel_scenario(women_summoned=None, women_summoned_from="2025-02-30")
    assert any("calendar date" in m for m in _issues(d))
    d = funnel_scenario()
    d["recruitment"]["women_share"] = 0.3
    assert any("remove women_share" in m for m in _issues(d))
    d = funnel_scenario()
    d["grades"][1]["id"] = "conscripts"
    for block in ("initial", "attrition"):
        d[block][1]["grade"] = "conscripts"
    d["promotions"][0]["to"] = "conscripts"
    assert any("'conscripts' is a population" in m for m in _issues(d))
    d = funnel_scenario()
    del d["conscription"]["assumption"]
    assert any("needs a source" in m for m in _issues(d))


def test_validation_of_policies_and_pools():
    d = ladder(2)
    d["policies"] = [
        {
            "id": "p",
            "parameter": "conscription.places",
            "from_year": 2001,
            "scale": 2.0,
            "assumption": A,
        }
    ]
    assert any("needs [conscription]" in m for m in _issues(d))
    d = deploy_scenario({"grades": ["g0", "nope"]})
    assert any("unknown grade or group" in m for m in _issues(d))
    d = ladder(
        2,
        targets=[
            {
                "id": "t",
                "population": "deployed",
                "comparator": "at_least",
                "value": 0.1,
                "deadline": 2010,
            }
        ],
    )
    assert any("unknown population" in m for m in _issues(d))
    d = deploy_scenario()
    d["policies"] = [
        {
            "id": "p",
            "parameter": "deployment.women_floor",
            "from_year": 2021,
            "set": 0.3,
            "deployments": ["zzz"],
            "assumption": A,
        }
    ]
    assert any("unknown deployment id" in m for m in _issues(d))
    d = ladder(2)
    d["policies"] = [
        {
            "id": "p",
            "parameter": "recruitment.intake",
            "from_year": 2001,
            "scale": 2.0,
            "years_in_grade": [0],
            "assumption": A,
        }
    ]
    assert any("years_in_grade narrows only" in m for m in _issues(d))
    d = funnel_scenario()
    d["policies"] = [
        {
            "id": "p",
            "parameter": "recruitment.women_share",
            "from_year": 2021,
            "set": 0.3,
            "assumption": A,
        }
    ]
    assert any("women come from the funnel" in m for m in _issues(d))
    d = funnel_scenario()
    d["policies"] = [
        {
            "id": "p",
            "parameter": "conscription.volunteer_share",
            "from_year": 2021,
            "scale": 10.0,
            "assumption": A,
        }
    ]
    with pytest.raises(ScenarioError) as err:
        compile_scenario(parse_scenario(d))
    assert "share outside [0, 1]" in str(err.value)


def test_scenarios_without_the_new_blocks_compile_as_before():
    c = compile_scenario(parse_scenario(ladder(2)))
    assert c.conscription is None
    assert c.deployments == ()
    d = copy.deepcopy(ladder(2))
    d["recruitment"].pop("women_share")
    assert any("needs women_share" in m for m in _issues(d))


# ---------------------------------------------------------------------------------------------
# The shipped Danish scenarios.
# ---------------------------------------------------------------------------------------------
def _shipped(name: str):
    from pathlib import Path

    from simulator import load_scenario

    return load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / f"{name}.toml")


def test_danish_reform_drafts_the_first_women_in_2026_and_none_before():
    s = _shipped("dk_defence_reform")
    c = compile_scenario(s)
    years = c.years.tolist()
    assert c.conscription.summoned[years.index(2026), 0] == pytest.approx(184 / 365)
    res = run(c, engine="stochastic", replications=200, seed=SEED)
    drafted_w = res.raw.funnel[:, :, FUNNEL_STAGES.index("drafted"), 0]
    assert (drafted_w[:, years.index(2024)] == 0).all()
    assert (drafted_w[:, years.index(2025)] == 0).all()
    assert (drafted_w[:, years.index(2026)] > 0).all()
    none = run(_shipped("dk_defence_no_reform"), engine="stochastic", replications=200, seed=SEED)
    assert (none.raw.funnel[:, :, FUNNEL_STAGES.index("drafted"), 0] == 0).all()


def test_danish_reform_reproduces_its_calibration_points():
    res = run(_shipped("dk_defence_reform"), engine="expected")
    # 2024: volunteers fill the 4,700 places with 25 % women, and the signers are the intake
    # of privates of dk_defence.toml (about 1,624 with 17.5 % women).
    f = res.raw.funnel[0, 0]
    conscripts = f[FUNNEL_STAGES.index("conscripts")]
    assert conscripts.sum() == pytest.approx(4700, abs=1)
    assert conscripts[0] / conscripts.sum() == pytest.approx(0.25, abs=5e-4)
    signers = f[FUNNEL_STAGES.index("contract_signers")]
    assert signers.sum() == pytest.approx(1624, abs=1)
    assert signers[0] / signers.sum() == pytest.approx(0.175, abs=5e-4)
    # 2023: 9.3 % women among about 3,400 deployed (action plan lines 1129-1130).
    w, m = res.counts("deployed")
    assert w[0, 0] + m[0, 0] == 3400
    assert res.share("deployed")[0, 0] == pytest.approx(0.093, abs=5e-4)


@pytest.mark.parametrize("name", ["dk_defence_reform", "dk_police_deployment", "dk_police"])
def test_the_per_year_field_lists_are_the_fields_that_grow_with_the_horizon(name):
    """``YEARLY_FIELDS`` (Compiled) and each pipeline class's ``YEARLY`` are kept by hand:
    check them against the arrays whose length changes when the horizon grows by one year."""
    import dataclasses

    from simulator.compiled import YEARLY_FIELDS, compile_scenario
    from simulator.pipeline import ConscriptionArrays, DeploymentArrays
    from simulator.scenario import scenario_to_data

    path = Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.toml"
    data = scenario_to_data(load_scenario(path))
    short = compile_scenario(parse_scenario(data))
    data["end_year"] += 1
    long = compile_scenario(parse_scenario(data))

    def growing(a, b) -> set[str]:
        return {
            f.name
            for f in dataclasses.fields(a)
            if isinstance(getattr(a, f.name), np.ndarray)
            and getattr(a, f.name).shape != getattr(b, f.name).shape
        }

    assert growing(short, long) == {*YEARLY_FIELDS, "years"}
    if short.conscription is not None:
        assert isinstance(short.conscription, ConscriptionArrays)
        assert growing(short.conscription, long.conscription) == set(ConscriptionArrays.YEARLY)
    for a, b in zip(short.deployments, long.deployments, strict=True):
        assert isinstance(a, DeploymentArrays)
        assert growing(a, b) == set(DeploymentArrays.YEARLY)
    assert short.conscription is not None or short.deployments or name == "dk_police"


@pytest.mark.parametrize(("scale", "shown"), [(0.0, "it is 0"), (1000.0, "it is 2000")])
def test_a_policy_driving_deployment_odds_out_of_bounds_is_refused(scale, shown):
    data = deploy_scenario({"women_odds": 2.0})
    data["policies"] = [
        {
            "id": "p",
            "parameter": "deployment.women_odds",
            "from_year": 2022,
            "scale": scale,
            "assumption": A,
        }
    ]
    with pytest.raises(ScenarioError) as err:
        compile_scenario(parse_scenario(data))
    (issue,) = err.value.issues
    assert issue.path == "deployments[0].women_odds"
    assert "above 0 and at most 1000" in issue.message
    assert f"at year-end 2022 {shown}" in issue.message
