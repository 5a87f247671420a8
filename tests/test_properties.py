"""Property-based tests of the engines' invariants on generated scenarios (tests/strategies.py).

Verified, for scenarios covering the whole schema (rate and vacancy steps, floors, lateral
entry, every recruitment mode, policies, groups, targets):

* the stock identity ``stock[y] = stock[y-1] - leavers - promoted_out + promoted_in + recruits
  + lateral_in`` for every year and cell, in both engines (exact for the stochastic engine's
  integers, to 1e-9 relative for the expected engine's floats);
* stochastic headcounts and flows are non-negative integers; expected ones are non-negative;
* vacancy mode never fills a grade beyond its establishment (exact statement in the test);
* every population's women's share lies in [0, 1], and is NaN exactly when it is empty;
* a scenario without attrition, promotion or intake is a fixed point of both engines;
* swapping the sexes swaps the expected engine's outputs;
* the stochastic engine is reproducible: same seed, same arrays, however replications are
  chunked;
* in rate mode (linear model) the stochastic mean equals the expected engine (a z-type test
  per cell with Bernstein critical values, family-wise α = 0.001, Bonferroni);
* common random numbers: a lever that only touches the top grade leaves every lower grade's
  draws, stocks and flows identical;
* the strategy itself: every example parses and compiles, and every schema feature it promises
  is generated.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, given, note, settings
from hypothesis import strategies as st

from simulator import parse_scenario, run
from simulator.engine import FLOWS
from tests.factories import ladder
from tests.strategies import check_valid, rate_mode_scenarios, scenarios

LEAVERS, PROMOTED_OUT, PROMOTED_IN, RECRUITS, LATERAL_IN = range(len(FLOWS))
SEEDS = st.integers(0, 2**63 - 1)
#: Replications of the stochastic engine in the cheap invariant checks.
SMALL_REPS = 20


def has_vacancy_step(data: dict[str, Any]) -> bool:
    """True if the scenario has at least one vacancy-mode promotion step."""
    return any(p["mode"] == "vacancy" for p in data["promotions"])


def identity_rhs(stock: np.ndarray, flows: np.ndarray) -> np.ndarray:
    """Right-hand side of the stock identity for years 1 … Y, shape like ``stock[:, 1:]``."""
    return (
        stock[:, :-1]
        - flows[..., LEAVERS]
        - flows[..., PROMOTED_OUT]
        + flows[..., PROMOTED_IN]
        + flows[..., RECRUITS]
        + flows[..., LATERAL_IN]
    )


def float_atol(*arrays: np.ndarray) -> float:
    """Absolute tolerance for float round-off: 1e-9 of the largest magnitude involved."""
    return 1e-9 * max(1.0, *(float(np.max(np.abs(a), initial=0.0)) for a in arrays))


# ---------------------------------------------------------------------------------------------
# The strategy itself
# ---------------------------------------------------------------------------------------------
@given(data=scenarios())
def test_generated_scenarios_parse_and_compile(data):
    """The strategy is valid by construction: parse and compile succeed on every example."""
    compiled = check_valid(data)
    assert 1 <= compiled.n_grades <= 5
    assert 1 <= compiled.n_years <= 15
    assert compiled.workforce.any()


def _policy_parameters(d: dict[str, Any]) -> set[str]:
    return {p["parameter"] for p in d.get("policies", [])}


FEATURES = {
    "pipeline grade": lambda d: any(g.get("workforce") is False for g in d["grades"]),
    "five grades": lambda d: len(d["grades"]) == 5,
    "vacancy step with floor, leave_vacant": lambda d: any(
        p.get("when_floor_short") == "leave_vacant" and p.get("women_floor", 0) > 0
        for p in d["promotions"]
    ),
    "vacancy step with lateral entry": lambda d: any(
        p.get("lateral_share", 0) > 0 for p in d["promotions"]
    ),
    "min years in grade 4": lambda d: any(
        p.get("min_years_in_grade") == 4 for p in d["promotions"]
    ),
    "tenure attrition list": lambda d: any(isinstance(a["women"], list) for a in d["attrition"]),
    "growth with ramp": lambda d: (
        isinstance(d["recruitment"].get("growth_rate"), dict)
        and "from_year" in d["recruitment"]["growth_rate"]
    ),
    "replace recruitment": lambda d: d["recruitment"]["mode"] == "replace",
    "step-table intake": lambda d: (
        isinstance(d["recruitment"].get("intake"), dict)
        and "from_year" not in d["recruitment"]["intake"]
    ),
    "ramped scale policy": lambda d: any(
        "to_year" in p and "scale" in p for p in d.get("policies", [])
    ),
    "floor and establishment policies": lambda d: (
        {
            "promotion.women_floor",
            "establishment",
        }
        <= _policy_parameters(d)
    ),
    "between target on a group": lambda d: any(
        t["comparator"] == "between" and t["population"].startswith("grp")
        for t in d.get("targets", [])
    ),
    "per-sex years in grade": lambda d: any(
        isinstance(i.get("years_in_grade"), dict) for i in d["initial"]
    ),
    "15-year horizon": lambda d: d["end_year"] - d["start_year"] == 15,
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_strategy_reaches_the_schema_variety(feature):
    """Each schema feature the strategy promises is actually generated."""
    found = find(
        scenarios(),
        FEATURES[feature],
        settings=settings(max_examples=5000, database=None, phases=[Phase.generate]),
    )
    check_valid(found)


# ---------------------------------------------------------------------------------------------
# Stock identity, non-negativity, integrality
# ---------------------------------------------------------------------------------------------
@settings(deadline=None)  # engine runs: timing varies with the drawn size
@given(data=scenarios(), seed=SEEDS)
def test_stock_identity_and_nonnegative_integers_in_both_engines(data, seed):
    """Every cell obeys the stock identity each year; stochastic values are integers ≥ 0."""
    compiled = check_valid(data)
    expected = run(compiled, "expected")
    stochastic = run(compiled, "stochastic", replications=SMALL_REPS, seed=seed)

    # Stochastic engine: exact integer identity.
    s_stock, s_flows = stochastic.raw.stock, stochastic.raw.flows
    assert np.issubdtype(s_stock.dtype, np.integer)
    assert np.issubdtype(s_flows.dtype, np.integer)
    assert s_stock.shape == (SMALL_REPS, compiled.n_years + 1, compiled.n_grades, 2)
    assert s_flows.shape == (SMALL_REPS, compiled.n_years, compiled.n_grades, 2, len(FLOWS))
    assert (s_stock >= 0).all()
    assert (s_flows >= 0).all()
    np.testing.assert_array_equal(s_stock[:, 1:], identity_rhs(s_stock, s_flows))
    np.testing.assert_array_equal(
        s_stock[:, 0], np.broadcast_to(compiled.initial.sum(-1), s_stock[:, 0].shape)
    )

    # Expected engine: identity up to float round-off; no negative (fractional) headcounts.
    e_stock, e_flows = expected.raw.stock, expected.raw.flows
    atol = float_atol(e_stock, e_flows)
    assert (e_stock >= -atol).all()
    assert (e_flows >= -atol).all()
    np.testing.assert_allclose(e_stock[:, 1:], identity_rhs(e_stock, e_flows), rtol=1e-9, atol=atol)
    np.testing.assert_array_equal(e_stock[0, 0], compiled.initial.sum(-1))


# ---------------------------------------------------------------------------------------------
# Vacancy mode and establishment
# ---------------------------------------------------------------------------------------------
@settings(deadline=None)  # engine runs: timing varies with the drawn size
@given(data=scenarios().filter(has_vacancy_step), seed=SEEDS)
def test_vacancy_mode_never_fills_beyond_establishment(data, seed):
    """Vacancy filling is bounded by the vacancies.

    For a vacancy-mode grade h in year y let ``S = stock[y-1] - leavers - promoted_out`` (the
    survivors of h after step 1 and after promotions out of h) and ``P`` the posts (the
    establishment rounded to the nearest integer — posts are whole in both engines). Nobody
    enters h
    except by vacancy promotion or lateral entry, and both together fill at most the vacancies:
    ``promoted_in + lateral_in ≤ max(0, P - S)``. Hence ``stock[y] ≤ max(P, S)``: a grade at or
    below its establishment never goes above it, and a grade above it only shrinks (by leavers
    and promotions out) until it is back under.
    """
    compiled = check_valid(data)
    vacancy = np.flatnonzero(compiled.mode == 2)
    posts = np.rint(compiled.establishment)
    for result in (
        run(compiled, "expected"),
        run(compiled, "stochastic", replications=SMALL_REPS, seed=seed),
    ):
        stock = result.raw.stock[:, :, vacancy].sum(-1)  # [R, Y+1, Gv]
        flows = result.raw.flows[:, :, vacancy].sum(-2)  # [R, Y, Gv, 5]
        P = posts[None, :, vacancy]  # [1, Y, Gv]
        survivors = stock[:, :-1] - flows[..., LEAVERS] - flows[..., PROMOTED_OUT]
        entrants = flows[..., PROMOTED_IN] + flows[..., LATERAL_IN]
        tol = float_atol(stock) if result.engine == "expected" else 0
        note(f"{result.engine}: posts {P.tolist()}, survivors {survivors.tolist()}")
        assert (entrants <= np.maximum(0, P - survivors) + tol).all()
        assert (stock[:, 1:] <= np.maximum(P, survivors) + tol).all()
        # Corollary: at or under establishment at the start of a year ⇒ at or under at its end.
        under = stock[:, :-1] <= P
        assert (stock[:, 1:][under] <= np.broadcast_to(P, under.shape)[under] + tol).all()


# ---------------------------------------------------------------------------------------------
# Shares
# ---------------------------------------------------------------------------------------------
@settings(deadline=None)  # engine runs: timing varies with the drawn size
@given(data=scenarios(), seed=SEEDS)
def test_shares_lie_in_unit_interval_or_are_nan_for_empty_populations(data, seed):
    """Women's share of every population is in [0, 1], NaN exactly where nobody is in it."""
    compiled = check_valid(data)
    for result in (
        run(compiled, "expected"),
        run(compiled, "stochastic", replications=SMALL_REPS, seed=seed),
    ):
        for population in result.population_names:
            share = result.share(population)
            women, men = result.counts(population)
            total = women + men
            empty = ~(total > 0)  # includes the intake's NaN start year
            assert np.isnan(share[empty]).all(), population
            inside = share[~empty]
            assert ((inside >= 0) & (inside <= 1)).all(), population


# ---------------------------------------------------------------------------------------------
# Zero-rate fixed point
# ---------------------------------------------------------------------------------------------
def frozen_organisation(data: dict[str, Any]) -> dict[str, Any]:
    """The same organisation with no attrition, no promotion and no intake.

    Vacancy steps become rate steps with probability 0 (a vacancy step would fill posts);
    policies are dropped except those on the intake's women's share, which with no intake
    must have no effect.
    """
    out = copy.deepcopy(data)
    for block in out["attrition"]:
        block["women"] = block["men"] = 0.0
    for block in out["promotions"]:
        for key in ("women_floor", "when_floor_short", "lateral_share", "lateral_women_share"):
            block.pop(key, None)
        block["mode"] = "rate"
        block["probability"] = {"women": 0.0, "men": 0.0}
    rec = out["recruitment"]
    rec.pop("growth_rate", None)
    rec["mode"] = "fixed"
    rec["intake"] = 0
    kept = [p for p in out.get("policies", []) if p["parameter"] == "recruitment.women_share"]
    if kept:
        out["policies"] = kept
    else:
        out.pop("policies", None)
    return out


@settings(deadline=None)  # engine runs: timing varies with the drawn size
@given(data=scenarios(), seed=SEEDS)
def test_zero_rate_scenario_is_a_fixed_point_of_both_engines(data, seed):
    """No attrition, promotion or intake: every year-end equals the initial state, no flows."""
    compiled = check_valid(frozen_organisation(data))
    initial = compiled.initial.sum(-1)
    for result in (
        run(compiled, "expected"),
        run(compiled, "stochastic", replications=SMALL_REPS, seed=seed),
    ):
        stock = result.raw.stock
        np.testing.assert_array_equal(stock, np.broadcast_to(initial, stock.shape))
        assert (result.raw.flows == 0).all()


# ---------------------------------------------------------------------------------------------
# Sex swap
# ---------------------------------------------------------------------------------------------
def mirrorable(data: dict[str, Any]) -> dict[str, Any]:
    """Remove what has no mirror image when the sexes are swapped.

    The schema has levers on *women* only, so some have no counterpart for men:

    * a floor on the women's share of promotions (there is no men's floor) — the scenarios
      are drawn with ``floors=False``;
    * women's odds on a *rate* step (the odds transform applies to the women's probability
      only) — removed; on a *vacancy* step odds ω for a woman vs a man are odds 1/ω for a man
      vs a woman, so they are kept and mapped;
    * an odds policy that ramps (the reciprocal of a linear ramp is not a linear ramp) or
      reaches rate steps — ramps are dropped and the grades narrowed to vacancy steps;
    * ``scale`` on a share (h·k has no mirror of the form (1-h)·k') — dropped.
    """
    out = copy.deepcopy(data)
    vacancy = {p["to"] for p in out["promotions"] if p["mode"] == "vacancy"}
    for block in out["promotions"]:
        if block["mode"] == "rate":
            block.pop("women_odds", None)
    policies = []
    for pol in out.get("policies", []):
        par = pol["parameter"]
        if par == "promotion.women_odds":
            if "to_year" in pol:
                continue
            grades = [g for g in pol.get("grades", sorted(vacancy)) if g in vacancy]
            if not grades:
                continue
            pol["grades"] = grades
        if par in ("recruitment.women_share", "promotion.lateral_women_share") and "scale" in pol:
            continue
        policies.append(pol)
    if policies:
        out["policies"] = policies
    else:
        out.pop("policies", None)
    return out


def _mirror_share(value: Any) -> Any:
    """1 - share for a share series in any of its three forms."""
    if isinstance(value, dict) and "from_year" in value:
        return {**value, "start": 1.0 - value["start"], "end": 1.0 - value["end"]}
    if isinstance(value, dict):
        return {year: 1.0 - v for year, v in value.items()}
    return 1.0 - value


def swap_sexes(data: dict[str, Any]) -> dict[str, Any]:
    """The mirror scenario: every women's value becomes the men's and vice versa.

    Initial counts are swapped as explicit counts (``total`` and ``women_share`` would round
    ``total × share`` and ``total × (1 - share)`` separately, which need not swap exactly).
    """
    out = copy.deepcopy(data)
    parsed = parse_scenario(data)
    for block, model in zip(out["initial"], parsed.initial, strict=True):
        women, men = model.counts()
        for key in ("women", "men", "total", "women_share"):
            block.pop(key, None)
        block["women"], block["men"] = men, women
        spread = block.get("years_in_grade")
        if isinstance(spread, dict):
            block["years_in_grade"] = {"women": spread["men"], "men": spread["women"]}
    for block in out["attrition"]:
        block["women"], block["men"] = block["men"], block["women"]
    for block in out["promotions"]:
        if block["mode"] == "rate":
            prob = block["probability"]
            prob["women"], prob["men"] = prob["men"], prob["women"]
        else:
            if "women_odds" in block:
                block["women_odds"] = 1.0 / block["women_odds"]
            # Absent lateral_women_share compiles to 0: its mirror is 1.
            block["lateral_women_share"] = 1.0 - block.get("lateral_women_share", 0.0)
    rec = out["recruitment"]
    rec["women_share"] = _mirror_share(rec["women_share"])
    for pol in out.get("policies", []):
        if "sexes" in pol:
            pol["sexes"] = [{"women": "men", "men": "women"}[s] for s in pol["sexes"]]
        par = pol["parameter"]
        if par in ("recruitment.women_share", "promotion.lateral_women_share"):
            pol["set"] = 1.0 - pol["set"]
        elif par == "promotion.women_odds":
            key = "set" if "set" in pol else "scale"
            pol[key] = 1.0 / pol[key]
    return out


@settings(deadline=None)  # engine runs: timing varies with the drawn size
@given(data=scenarios(floors=False))
def test_swapping_the_sexes_swaps_the_expected_engine_outputs(data):
    """Mirror scenario ⇒ mirrored stocks and flows in the expected engine.

    The identity is exact in exact arithmetic; the engine computes ``1 - h`` shares, ``1/ω``
    odds and the Wallenius mean (a root found to 1e-12) in floating point, so the comparison
    allows 1e-9 relative error. The stochastic engine satisfies the swap in distribution only:
    its random streams are keyed by sex (``transition/<grade>/women`` …), so in the mirror the
    women, who now play the original men's part, still draw from the *women's* stream (and the
    binomial split of the intake draws women with probability 1 - h from the same stream), so
    the paths differ replication by replication while their distribution is the mirror image.
    No exact assertion is made there.
    """
    original = mirrorable(data)
    mirror = swap_sexes(original)
    a = run(check_valid(original), "expected").raw
    b = run(check_valid(mirror), "expected").raw
    atol = float_atol(a.stock, a.flows)
    np.testing.assert_allclose(b.stock[..., ::-1], a.stock, rtol=1e-9, atol=atol)
    np.testing.assert_allclose(b.flows[..., ::-1, :], a.flows, rtol=1e-9, atol=atol)


def test_tiny_women_floor_runs_without_numeric_warnings():
    """A vacancy step with a minute floor and ``leave_vacant`` must not overflow.

    Regression found by the properties above: the cap on men ``floor(W (1 - f) / f)`` is
    evaluated (in a discarded ``np.where`` branch) for f = 1e-300 and overflows the int64 cast,
    which pytest turns into an error (``filterwarnings = error``).
    """
    data = ladder(
        2,
        establishment=[None, 600],
        promotion=[{"mode": "vacancy", "women_floor": 1e-300, "when_floor_short": "leave_vacant"}],
    )
    compiled = check_valid(data)
    stochastic = run(compiled, "stochastic", replications=10, seed=1)
    assert (stochastic.raw.flows >= 0).all()
    run(compiled, "expected")


def test_swap_helper_changes_something():
    """Guard for the swap test: the mirror of an asymmetric scenario really is different."""
    data = ladder(2, initial=[(100, 400), (20, 80)], attrition=[(0.15, 0.1), (0.1, 0.05)])
    a = run(check_valid(data), "expected").raw.stock
    b = run(check_valid(swap_sexes(data)), "expected").raw.stock
    assert not np.allclose(a, b)
    np.testing.assert_allclose(b[..., ::-1], a, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Reproducibility: seed and chunking
# ---------------------------------------------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(data=scenarios(max_horizon=8), seed=SEEDS)
def test_same_seed_and_any_chunking_give_identical_arrays(data, seed):
    """One run of 250 replications equals runs of [0, 37), [37, 180), [180, 250) concatenated,
    and a second run with the same seed repeats it exactly."""
    compiled = check_valid(data)
    whole = run(compiled, "stochastic", replications=250, seed=seed, first_replication=0)
    again = run(compiled, "stochastic", replications=250, seed=seed)
    chunks = [
        run(compiled, "stochastic", replications=stop - first, seed=seed, first_replication=first)
        for first, stop in ((0, 37), (37, 180), (180, 250))
    ]
    for name in ("stock", "flows", "diagnostics", "final"):
        joined = np.concatenate([getattr(c.raw, name) for c in chunks])
        np.testing.assert_array_equal(getattr(whole.raw, name), joined, err_msg=name)
        np.testing.assert_array_equal(getattr(whole.raw, name), getattr(again.raw, name))
    np.testing.assert_array_equal(
        np.concatenate([c.replication_ids for c in chunks]), whole.replication_ids
    )


# ---------------------------------------------------------------------------------------------
# Stochastic mean = expected engine (rate mode)
# ---------------------------------------------------------------------------------------------
MEAN_EXAMPLES = 20
MEAN_REPS = 1000
FAMILY_ALPHA = 1e-3


def bernstein_critical(expected_total: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided critical deviation of a sum of independent Bernoulli variables.

    For ``S`` a sum of independent indicators with variance ``v ≤ E[S]``, Bernstein's
    inequality gives ``P(|S - E S| ≥ t) ≤ 2 exp(-t² / (2 (v + t/3)))``; solving for the level
    ``alpha`` with ``v = E[S]`` gives ``t = L/3 + sqrt(L²/9 + 2 E[S] L)``, ``L = ln(2/alpha)``.
    """
    L = np.log(2.0 / alpha)
    return L / 3 + np.sqrt(L * L / 9 + 2.0 * expected_total * L)


def mean_deviations(sims: np.ndarray, expected: np.ndarray, alpha: float) -> np.ndarray:
    """Cells where the replication total deviates from R × expected beyond the critical value."""
    R = sims.shape[0]
    total = sims.sum(0)
    return np.abs(total - R * expected) > bernstein_critical(R * np.maximum(expected, 0), alpha)


@pytest.mark.statistical
@settings(max_examples=MEAN_EXAMPLES, deadline=None)
@given(data=rate_mode_scenarios(), seed=SEEDS)
def test_stochastic_mean_equals_expected_engine_in_rate_mode(data, seed):
    """In rate mode with a fixed intake the model is linear, so E[stochastic] = expected path.

    Test per (year-end after the start, grade, sex) cell, R = 1000 replications: the total
    ``S`` over replications against ``R × expected``. In this setting every person moves
    independently (one categorical draw each; recruits are independent slots, the fractional
    intake an independent Bernoulli slot), so a cell's headcount is a sum of independent
    indicators and ``Var S ≤ E S``. The standardised deviation is compared with a critical
    value from Bernstein's inequality (:func:`bernstein_critical`), which, unlike the normal
    quantile, holds for small and skewed cells too. Family-wise α = 0.001, Bonferroni over all
    cells of all (at most 20) examples: per-cell α = 0.001 / (20 × cells).
    """
    compiled = check_valid(data)
    expected = run(compiled, "expected").raw.stock[0, 1:]  # [Y, G, 2]
    sims = run(compiled, "stochastic", replications=MEAN_REPS, seed=seed).raw.stock[:, 1:]
    alpha = FAMILY_ALPHA / (MEAN_EXAMPLES * expected.size)
    bad = mean_deviations(sims, expected, alpha)
    note(f"cells off: {np.argwhere(bad).tolist()}; mean {sims.mean(0)[bad]}")
    note(f"expected {expected[bad]}")
    assert not bad.any()
    # Zero expected headcount means nobody, in every replication.
    assert (sims[:, expected == 0] == 0).all()


@pytest.mark.statistical
def test_mean_check_has_power_against_a_biased_engine():
    """Guard for the test above: a 10 % error in attrition is flagged at the same α."""
    base = ladder(2, end_year=2010)
    biased = ladder(2, end_year=2010, attrition=[(0.11, 0.11), (0.11, 0.11)])
    expected = run(check_valid(base), "expected").raw.stock[0, 1:]
    sims = run(check_valid(biased), "stochastic", MEAN_REPS, seed=3).raw.stock[:, 1:]
    alpha = FAMILY_ALPHA / (MEAN_EXAMPLES * expected.size)
    assert mean_deviations(sims, expected, alpha).any()
    unbiased = run(check_valid(base), "stochastic", MEAN_REPS, seed=3).raw.stock[:, 1:]
    assert not mean_deviations(unbiased, expected, alpha).any()


# ---------------------------------------------------------------------------------------------
# Common random numbers
# ---------------------------------------------------------------------------------------------
def with_top_attrition(data: dict[str, Any], women: float, men: float) -> dict[str, Any]:
    """A copy of ``data`` whose top grade has the given attrition (both sexes).

    A tenure profile is replaced by a flat profile of the same length, so the tenure buckets
    (K, which is shared by all grades) do not change.
    """
    out = copy.deepcopy(data)
    top = out["grades"][-1]["id"]
    block = next(b for b in out["attrition"] if b["grade"] == top)
    for sex, value in (("women", women), ("men", men)):
        old = block[sex]
        block[sex] = [value] * len(old) if isinstance(old, list) else value
    return out


def test_common_random_numbers_keep_lower_grades_identical():
    """Deliberate case: 3 rate-mode grades, fixed intake; only the top grade's attrition differs.

    The lower grades' dynamics do not depend on the top grade (rate promotions out of g depend
    on g only, the intake is fixed), and each decision has its own stream, so their stocks and
    flows — including the promotions into the top grade — are identical replication by
    replication. The top grade itself must differ (the lever works).
    """
    base = ladder(
        3,
        initial=[(300, 700), (100, 400), (20, 80)],
        attrition=[(0.12, 0.1), (0.08, 0.06), (0.05, 0.05)],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.1, "men": 0.1}, "min_years_in_grade": 2},
            {"mode": "rate", "probability": {"women": 0.06, "men": 0.05}},
        ],
        recruitment={"mode": "fixed", "intake": 150.5, "women_share": 0.35},
        end_year=2015,
    )
    low = run(check_valid(with_top_attrition(base, 0.05, 0.05)), "stochastic", 300, seed=11)
    high = run(check_valid(with_top_attrition(base, 0.30, 0.25)), "stochastic", 300, seed=11)
    np.testing.assert_array_equal(low.raw.stock[:, :, :2], high.raw.stock[:, :, :2])
    np.testing.assert_array_equal(low.raw.flows[:, :, :2], high.raw.flows[:, :, :2])
    np.testing.assert_array_equal(
        low.raw.flows[:, :, 2, :, PROMOTED_IN], high.raw.flows[:, :, 2, :, PROMOTED_IN]
    )
    assert low.raw.stock[:, -1, 2].sum() > high.raw.stock[:, -1, 2].sum()
    # And CRN is not an accident of a degenerate stream: another seed gives other lower grades.
    other = run(check_valid(with_top_attrition(base, 0.05, 0.05)), "stochastic", 300, seed=12)
    assert not np.array_equal(low.raw.stock[:, :, :2], other.raw.stock[:, :, :2])


def test_common_random_numbers_survive_a_top_grade_tenure_profile():
    """A tenure-dependent attrition profile on the top grade is a top-grade-only lever too.

    Giving the top grade a 4-year attrition profile raises the number of tenure buckets K. The
    lower grades' dynamics are unchanged (their rates do not depend on k, everyone starts at
    k = 0), so under common random numbers their draws — and stocks and flows — must not
    change either. (Fails if the lower grades' streams are consumed per bucket of a K shared
    by all grades: then the top grade's profile re-partitions the lower grades' draws.)
    """
    flat = ladder(3, end_year=2010, initial=[(100, 400), (50, 200), (10, 40)])
    profiled = copy.deepcopy(flat)
    profiled["attrition"][2]["women"] = [0.1, 0.1, 0.1, 0.2]
    profiled["attrition"][2]["men"] = [0.1, 0.1, 0.1, 0.2]
    for data in (flat, profiled):
        for block in data["initial"]:
            block["years_in_grade"] = "entry"
    a = run(check_valid(flat), "stochastic", replications=100, seed=1).raw
    b = run(check_valid(profiled), "stochastic", replications=100, seed=1).raw
    np.testing.assert_array_equal(a.stock[:, :, :2], b.stock[:, :, :2])
    np.testing.assert_array_equal(a.flows[:, :, :2], b.flows[:, :, :2])


@settings(max_examples=20, deadline=None)
@given(
    data=rate_mode_scenarios().filter(lambda d: len(d["grades"]) >= 2),
    top_women=st.floats(0.0, 0.3),
    top_men=st.floats(0.0, 0.3),
    seed=SEEDS,
)
def test_common_random_numbers_for_any_rate_mode_scenario(data, top_women, top_men, seed):
    """Generated rate-mode scenarios: changing the top grade's attrition (a lever read by the
    top grade only) leaves every lower grade's stocks and flows identical."""
    a = run(check_valid(data), "stochastic", replications=SMALL_REPS, seed=seed).raw
    changed = with_top_attrition(data, top_women, top_men)
    b = run(check_valid(changed), "stochastic", replications=SMALL_REPS, seed=seed).raw
    np.testing.assert_array_equal(a.stock[:, :, :-1], b.stock[:, :, :-1])
    np.testing.assert_array_equal(a.flows[:, :, :-1], b.flows[:, :, :-1])
