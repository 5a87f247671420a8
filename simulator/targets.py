"""Targets: is the women's share of a population where it should be, when it should be?

For a target on population P with comparator c, value v and deadline d:

* ``met_r(y)`` — replication r meets the condition at the end of year y
  (``share ≥ v``, ``share ≤ v`` or ``low ≤ share ≤ high``; an empty population never meets it);
* the target is **met** in replication r if ``met_r(d)``, or, when the target is
  ``sustained``, if ``met_r(y)`` for every y from d to the end of the horizon;
* **probability** = share of replications where it is met, with a Wilson score 95 % interval
  for the Monte Carlo error (``probability_ci``);
* **quantiles** of the share at the deadline (5, 25, 50, 75, 95 %);
* **first_year_met** — quantiles over replications of the first year-end (from the start year
  on) at which the condition holds; ``null`` where that quantile never meets it within the
  horizon; ``never`` is the share of replications that never meet it;
* **expected_share** — the expected-engine share at the deadline.

Small numbers are reported honestly: ``expected_headcount`` is the expected size of the
population at the deadline and ``women_needed`` the number of women that a lower bound needs
at that size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.results import Result
from simulator.scenario import Scenario, Target

Z95 = 1.959963984540054
QUANTILE_KEYS = ("5", "25", "50", "75", "95")
_EPS = 1e-12


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, n
        Number of successes and trials (n ≥ 1).
    z
        Normal quantile (1.96 for 95 %).
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def condition_met(target: Target, share: np.ndarray) -> np.ndarray:
    """Boolean array: where ``share`` satisfies the target's comparator (NaN → False)."""
    with np.errstate(invalid="ignore"):
        if target.comparator == "at_least":
            out = share >= target.value - _EPS
        elif target.comparator == "at_most":
            out = share <= target.value + _EPS
        else:
            out = (share >= target.low - _EPS) & (share <= target.high + _EPS)
    return out & ~np.isnan(share)


def _first_true(met: np.ndarray) -> np.ndarray:
    """Index of the first True along axis 1, or -1."""
    any_ = met.any(axis=1)
    return np.where(any_, met.argmax(axis=1), -1)


def _year_quantiles(first_idx: np.ndarray, years: np.ndarray) -> dict[str, int | None]:
    vals = np.where(first_idx >= 0, first_idx, np.iinfo(np.int64).max).astype(np.int64)
    out: dict[str, int | None] = {}
    for key in QUANTILE_KEYS:
        q = np.quantile(vals, int(key) / 100, method="inverted_cdf")
        out[key] = None if q == np.iinfo(np.int64).max else int(years[int(q)])
    return out


def evaluate_target(target: Target, expected: Result, stochastic: Result | None) -> dict[str, Any]:
    """Summarise one target (see module docstring); JSON-ready."""
    years = expected.years
    di = int(target.deadline - years[0])
    e_share = expected.share(target.population)[0]
    e_w, e_m = expected.counts(target.population)
    e_total = float(e_w[0, di] + e_m[0, di])
    e_met = condition_met(target, e_share)
    value: Any = [target.low, target.high] if target.comparator == "between" else target.value
    women_needed = None
    if target.comparator in ("at_least", "between") and math.isfinite(e_total):
        lower = target.value if target.comparator == "at_least" else target.low
        women_needed = math.ceil(lower * e_total - 1e-9)
    e_first = int(_first_true(e_met[None, :])[0])
    summary: dict[str, Any] = {
        "id": target.id,
        "label": target.label or target.describe(),
        "population": target.population,
        "comparator": target.comparator,
        "value": value,
        "deadline": target.deadline,
        "sustained": target.sustained,
        "expected_share": _num(e_share[di]),
        "expected_met": bool(e_met[di:].all() if target.sustained else e_met[di]),
        "expected_first_year_met": int(years[e_first]) if e_first >= 0 else None,
        "expected_headcount": _num(e_total),
        "women_needed": women_needed,
        "replications": 0,
        "probability": None,
        "probability_ci": None,
        "probability_at_deadline": None,
        "probability_sustained": None,
        "quantiles": None,
        "first_year_met": None,
        "never_met": None,
    }
    if stochastic is None:
        return summary
    share = stochastic.share(target.population)
    met = condition_met(target, share)
    at_deadline = met[:, di]
    sustained = met[:, di:].all(axis=1)
    hit = sustained if target.sustained else at_deadline
    R = share.shape[0]
    k = int(hit.sum())
    lo, hi = wilson_interval(k, R)
    first_idx = _first_true(met)
    col = share[:, di]
    finite = col[~np.isnan(col)]
    summary.update(
        {
            "replications": R,
            "probability": k / R,
            "probability_ci": [lo, hi],
            "probability_at_deadline": float(at_deadline.mean()),
            "probability_sustained": float(sustained.mean()),
            "quantiles": (
                {key: float(np.quantile(finite, int(key) / 100)) for key in QUANTILE_KEYS}
                if finite.size
                else None
            ),
            "first_year_met": None if (first_idx < 0).all() else _year_quantiles(first_idx, years),
            "never_met": float((first_idx < 0).mean()),
        }
    )
    return summary


def evaluate_targets(
    scenario: Scenario, expected: Result, stochastic: Result | None
) -> list[dict[str, Any]]:
    """Summarise every target of the scenario."""
    return [evaluate_target(t, expected, stochastic) for t in scenario.targets]


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None
