"""Target evaluation: the Wilson interval, comparators, first year met, sustained targets, and
the JSON summary a run reports for each target.

Verified:

* ``wilson_interval`` equals the Wilson score formula computed here independently, scipy's
  ``binomtest(...).proportion_ci(method="wilson")`` and published 4-decimal values, for 0/10,
  5/10, 10/10 and 81/100;
* ``condition_met`` for at_least / at_most / between, inclusive at the bounds, False on NaN
  (an empty population never meets a target);
* on a hand-made stochastic result with known share paths: probability at the deadline and
  sustained, its Wilson interval, the share quantiles, the quantiles of the first year met
  (``None`` where that quantile never meets it) and ``never_met``;
* the summary of ``run_and_summarize`` carries the keys the contract requires, with the
  required shapes, is strict JSON, and agrees with the results it summarises.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from simulator import compile_scenario, parse_scenario, run_and_summarize
from simulator.engine import DIAGNOSTICS, FLOWS, Raw
from simulator.results import Result
from simulator.scenario import Target
from simulator.targets import Z95, condition_met, evaluate_target, wilson_interval
from tests.factories import ladder

START = 2000
QUANTILE_KEYS = ["5", "25", "50", "75", "95"]


def make_target(**fields) -> Target:
    """A validated target on grade g0 (deadline START + 3 unless given)."""
    base = {"id": "t", "population": "g0", "deadline": START + 3, "assumption": "test"}
    return Target.model_validate({**base, **fields})


# ---------------------------------------------------------------------------------------------
# Wilson interval
# ---------------------------------------------------------------------------------------------
def wilson_by_formula(k: int, n: int, z: float) -> tuple[float, float]:
    """(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), written out independently."""
    p = k / n
    centre = p + z**2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return ((centre - spread) / (1 + z**2 / n), (centre + spread) / (1 + z**2 / n))


@pytest.mark.parametrize(
    ("k", "n", "published"),
    [
        (0, 10, (0.0, 0.2775)),
        (5, 10, (0.2366, 0.7634)),
        (10, 10, (0.7225, 1.0)),
        (81, 100, (0.7222, 0.8749)),
    ],
)
def test_wilson_interval_against_formula_scipy_and_published_values(k, n, published):
    """95 % Wilson score interval (no continuity correction)."""
    lo, hi = wilson_interval(k, n)
    assert abs(Z95 - stats.norm.ppf(0.975)) <= 1e-15
    f_lo, f_hi = wilson_by_formula(k, n, stats.norm.ppf(0.975))
    assert lo == pytest.approx(max(0.0, f_lo), abs=1e-12)
    assert hi == pytest.approx(min(1.0, f_hi), abs=1e-12)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert (round(lo, 4), round(hi, 4)) == published
    assert 0.0 <= lo <= k / n <= hi <= 1.0


# ---------------------------------------------------------------------------------------------
# Comparators
# ---------------------------------------------------------------------------------------------
SHARES = np.array([np.nan, 0.0, 0.2999999, 0.3, 0.3000001, 0.45, 0.6, 0.6000001, 1.0])


@pytest.mark.parametrize(
    ("fields", "met"),
    [
        (
            {"comparator": "at_least", "value": 0.3},
            [False, False, False, True, True, True, True, True, True],
        ),
        (
            {"comparator": "at_most", "value": 0.3},
            [False, True, True, True, False, False, False, False, False],
        ),
        (
            {"comparator": "between", "low": 0.3, "high": 0.6},
            [False, False, False, True, True, True, True, False, False],
        ),
    ],
)
def test_condition_met_is_inclusive_and_false_on_nan(fields, met):
    """Bounds count as met; NaN (an empty population) never meets a target."""
    out = condition_met(make_target(**fields), SHARES)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, met)
    # Shapes are kept (replications x years).
    grid = condition_met(make_target(**fields), np.tile(SHARES, (3, 1)))
    np.testing.assert_array_equal(grid, np.tile(met, (3, 1)))


# ---------------------------------------------------------------------------------------------
# A hand-made result with known share paths (one grade of 100 persons, 2000-2005)
# ---------------------------------------------------------------------------------------------
#: Women (out of 100) at year-ends 2000 … 2005, and how many replications follow each path.
PATHS = {
    # first met 2001, met at the 2003 deadline and after
    "early": ([10, 30, 35, 40, 40, 40], 4),
    # first met 2002, met at the deadline, falls below in 2004
    "dip": ([10, 20, 30, 30, 20, 30], 6),
    # first met 2003, met from the deadline on
    "on_time": ([10, 20, 25, 31, 32, 33], 5),
    # first met 2005, after the deadline
    "late": ([10, 10, 10, 20, 20, 30], 3),
    # never met
    "never": ([10, 10, 10, 10, 10, 10], 2),
}


def hand_made_results() -> tuple[Result, Result]:
    """(expected, stochastic) results whose women's shares are the PATHS above."""
    compiled = compile_scenario(
        parse_scenario(ladder(1, start_year=START, end_year=START + 5, initial=[(10, 90)]))
    )
    women = np.array([path for path, reps in PATHS.values() for _ in range(reps)])
    Y1 = women.shape[1]

    def raw(w: np.ndarray, dtype) -> Raw:
        r = w.shape[0]
        stock = np.stack([w, 100 - w], axis=-1)[:, :, None, :].astype(dtype)
        return Raw(
            stock=stock,
            flows=np.zeros((r, Y1 - 1, 1, 2, len(FLOWS)), dtype),
            diagnostics=np.zeros((r, Y1 - 1, 1, len(DIAGNOSTICS))),
            final=np.zeros((r, 1, 2, compiled.K + 1), dtype),
        )

    expected = Result(compiled, "expected", raw(women[[10]], float))  # the "on_time" path
    stochastic = Result(compiled, "stochastic", raw(women, np.int64), seed=1)
    assert stochastic.replications == 20
    return expected, stochastic


def inverted_cdf_quantile(values: list[float], q: float) -> float:
    """The smallest value whose empirical CDF is ≥ q (order statistic ceil(q n))."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.parametrize("sustained", [False, True])
def test_hand_made_result_probability_quantiles_and_first_year(sustained):
    """Known paths: 15/20 meet ≥ 30 % at 2003; 9/20 keep it to 2005 (sustained)."""
    expected, stochastic = hand_made_results()
    target = make_target(comparator="at_least", value=0.30, sustained=sustained)
    out = evaluate_target(target, expected, stochastic)

    k = 9 if sustained else 15
    assert out["replications"] == 20
    assert out["probability"] == pytest.approx(k / 20)
    assert out["probability_ci"] == pytest.approx(list(wilson_interval(k, 20)))
    assert out["probability_at_deadline"] == pytest.approx(15 / 20)
    assert out["probability_sustained"] == pytest.approx(9 / 20)

    # Shares at the deadline: 0.4 x4, 0.3 x6, 0.31 x5, 0.2 x3, 0.1 x2. The 5/50/75/95 %
    # quantiles fall between equal order statistics, so any interpolation rule gives these.
    q = out["quantiles"]
    assert list(q) == QUANTILE_KEYS
    assert q["5"] == pytest.approx(0.10)
    assert q["50"] == pytest.approx(0.30)
    assert q["75"] == pytest.approx(0.31)
    assert q["95"] == pytest.approx(0.40)
    assert 0.20 <= q["25"] <= 0.30

    # First year met: 2001 x4, 2002 x6, 2003 x5, 2005 x3, never x2 (never = +inf).
    firsts = [2001] * 4 + [2002] * 6 + [2003] * 5 + [2005] * 3 + [math.inf] * 2
    fy = out["first_year_met"]
    assert list(fy) == QUANTILE_KEYS
    for key in QUANTILE_KEYS:
        want = inverted_cdf_quantile(firsts, int(key) / 100)
        assert fy[key] == (None if want == math.inf else want), key
    assert fy == {"5": 2001, "25": 2002, "50": 2002, "75": 2003, "95": None}
    assert out["never_met"] == pytest.approx(2 / 20)

    # Expected engine: the "on_time" path (31 % at the deadline, first met 2003, sustained).
    assert out["expected_share"] == pytest.approx(0.31)
    assert out["expected_met"] is True
    assert out["expected_first_year_met"] == 2003
    assert out["expected_headcount"] == pytest.approx(100.0)
    assert out["women_needed"] == 30


def test_hand_made_result_at_most_and_between():
    """The same paths under at_most 20 % and between 30-35 % at the 2003 deadline."""
    expected, stochastic = hand_made_results()
    at_most = evaluate_target(make_target(comparator="at_most", value=0.20), expected, stochastic)
    # ≤ 20 % at 2003: "late" (20) and "never" (10); first met 2000 for every path (10 %).
    assert at_most["probability"] == pytest.approx(5 / 20)
    assert at_most["first_year_met"] == dict.fromkeys(QUANTILE_KEYS, 2000)
    assert at_most["never_met"] == 0.0
    assert at_most["expected_met"] is False

    between = evaluate_target(
        make_target(comparator="between", low=0.30, high=0.35), expected, stochastic
    )
    # 30-35 % at 2003: "dip" (30) and "on_time" (31); "early" is at 40.
    assert between["probability"] == pytest.approx(11 / 20)
    assert between["value"] == [0.30, 0.35]
    # First met: early 2001 (30), dip 2002, on_time 2003, late 2005, never: never.
    assert between["first_year_met"] == {
        "5": 2001,
        "25": 2002,
        "50": 2002,
        "75": 2003,
        "95": None,
    }


def test_target_never_met_anywhere_has_null_first_year():
    """≥ 50 % is met by no path: probability 0, first_year_met null, never_met 1."""
    expected, stochastic = hand_made_results()
    out = evaluate_target(make_target(comparator="at_least", value=0.5), expected, stochastic)
    assert out["probability"] == 0.0
    assert out["probability_ci"] == pytest.approx(list(wilson_interval(0, 20)))
    assert out["first_year_met"] is None
    assert out["never_met"] == 1.0
    assert out["expected_first_year_met"] is None


# ---------------------------------------------------------------------------------------------
# The summary of a real run
# ---------------------------------------------------------------------------------------------
REQUIRED_KEYS = {
    "id",
    "population",
    "comparator",
    "value",
    "deadline",
    "expected_share",
    "probability",
    "probability_ci",
    "quantiles",
    "first_year_met",
}


def summary_scenario() -> dict:
    """Two grades with three targets: at_least, between (sustained) and an unreachable one."""
    return ladder(
        2,
        start_year=START,
        end_year=START + 10,
        initial=[(100, 400), (50, 450)],
        recruitment={"mode": "fixed", "intake": 100, "women_share": 0.4},
        groups={"all": ["g0", "g1"]},
        targets=[
            {
                "id": "entry",
                "population": "g0",
                "comparator": "at_least",
                "value": 0.25,
                "deadline": START + 5,
            },
            {
                "id": "band",
                "population": "all",
                "comparator": "between",
                "low": 0.15,
                "high": 0.45,
                "deadline": START + 8,
                "sustained": True,
            },
            {
                "id": "top",
                "population": "g1",
                "comparator": "at_least",
                "value": 0.9,
                "deadline": START + 10,
            },
        ],
    )


def test_summary_has_the_required_keys_and_is_strict_json():
    """Every target entry has the contract's keys and shapes; the summary dumps as JSON."""
    scenario = parse_scenario(summary_scenario())
    expected, result, summary = run_and_summarize(
        scenario, engine="stochastic", replications=200, seed=5
    )
    text = json.dumps(summary, allow_nan=False)
    targets = json.loads(text)["targets"]
    assert [t["id"] for t in targets] == ["entry", "band", "top"]
    for t, spec in zip(targets, scenario.targets, strict=True):
        assert set(t) >= REQUIRED_KEYS, REQUIRED_KEYS - set(t)
        assert t["population"] == spec.population
        assert t["comparator"] == spec.comparator
        assert t["deadline"] == spec.deadline
        assert t["value"] == ([spec.low, spec.high] if spec.comparator == "between" else spec.value)
        lo, hi = t["probability_ci"]
        assert 0.0 <= lo <= t["probability"] <= hi <= 1.0
        assert list(t["quantiles"]) == QUANTILE_KEYS
        qs = [t["quantiles"][k] for k in QUANTILE_KEYS]
        assert qs == sorted(qs)
        assert t["first_year_met"] is None or list(t["first_year_met"]) == QUANTILE_KEYS

        # Agreement with the results summarised.
        di = spec.deadline - START
        assert t["expected_share"] == pytest.approx(expected.share(spec.population)[0, di])
        met = condition_met(spec, result.share(spec.population))
        hit = met[:, di:].all(axis=1) if spec.sustained else met[:, di]
        assert t["probability"] == pytest.approx(hit.mean())
        assert t["probability_ci"] == pytest.approx(list(wilson_interval(int(hit.sum()), 200)))
        share_at_deadline = result.share(spec.population)[:, di]
        assert t["quantiles"]["50"] == pytest.approx(np.median(share_at_deadline))

    top = targets[2]
    assert top["probability"] == 0.0
    assert top["first_year_met"] is None
    assert top["never_met"] == 1.0


def test_expected_only_summary_has_no_monte_carlo_fields():
    """With the expected engine only, probability, interval and quantiles are null."""
    scenario = parse_scenario(summary_scenario())
    _, _, summary = run_and_summarize(scenario, engine="expected")
    json.dumps(summary, allow_nan=False)
    for t in summary["targets"]:
        assert set(t) >= REQUIRED_KEYS
        assert t["probability"] is None
        assert t["probability_ci"] is None
        assert t["quantiles"] is None
        assert t["first_year_met"] is None
        assert isinstance(t["expected_share"], float)
