"""Scenario builders for the benchmarks (plain dicts validated by :func:`simulator.parse_scenario`).

The benchmark workforce is a realistic six-grade ladder (entry grade first) with 30 projection
years (end-2024 stock, projected to end-2054):

* attrition by completed years in grade (k = 0 … 5, the last value holding from k = 5 on),
  higher for women than for men, with a retirement hump in the top grade;
* a minimum time in grade before promotion out of each grade (2, 3, 3, 4, 5 years);
* ``replace`` recruitment: the entry grade is refilled to its establishment every year, the
  women's share of the intake ramping from 30 % (2025) to 40 % (2030);
* promotion either by **rate** (an annual probability per eligible person, the same for both
  sexes) or by **vacancy** (each grade's establishment is its initial headcount; vacancies are
  filled top-down from the eligible persons of the grade below, gender-neutral:
  ``women_odds = 1``, no floor, no lateral entry).

``scale`` multiplies every headcount and establishment: ``scale = 1`` is a force of 20,000,
``scale = 1000`` a force of 20 million with the same structure.
"""

from __future__ import annotations

from typing import Any, Literal

from simulator import Scenario, parse_scenario

Mode = Literal["rate", "vacancy"]

ASSUMPTION = "benchmark workload (synthetic, plausible orders of magnitude; not calibrated)"

GRADES = (
    "constable",
    "senior_constable",
    "sergeant",
    "inspector",
    "superintendent",
    "chief",
)
#: Initial headcount per grade of the 20,000 force (sums to 20,000).
HEADCOUNT = (7000, 5000, 3800, 2400, 1300, 500)
#: Initial women's share per grade.
WOMEN_SHARE = (0.32, 0.25, 0.19, 0.14, 0.10, 0.07)
#: Annual probability of leaving by completed years in grade 0 … 5 (women, men).
ATTRITION = (
    ([0.14, 0.11, 0.09, 0.08, 0.07, 0.07], [0.12, 0.09, 0.07, 0.06, 0.06, 0.06]),
    ([0.07, 0.06, 0.06, 0.05, 0.05, 0.06], [0.06, 0.05, 0.05, 0.04, 0.04, 0.05]),
    ([0.05, 0.05, 0.04, 0.04, 0.05, 0.06], [0.04, 0.04, 0.04, 0.04, 0.05, 0.06]),
    ([0.04, 0.04, 0.04, 0.05, 0.06, 0.07], [0.04, 0.04, 0.04, 0.05, 0.05, 0.07]),
    ([0.04, 0.04, 0.05, 0.06, 0.07, 0.09], [0.04, 0.04, 0.05, 0.05, 0.07, 0.09]),
    ([0.05, 0.06, 0.07, 0.09, 0.12, 0.18], [0.05, 0.06, 0.07, 0.09, 0.12, 0.18]),
)
#: Minimum completed years in grade g before promotion to g+1.
MIN_YEARS = (2, 3, 3, 4, 5)
#: Rate mode: annual probability of promotion to g+1 for an eligible person (both sexes).
PROMOTION_PROBABILITY = (0.20, 0.12, 0.10, 0.08, 0.07)

START_YEAR = 2024
YEARS = 30


def workforce_dict(mode: Mode, scale: int = 1, *, seed: int = 20250701) -> dict[str, Any]:
    """Return the six-grade benchmark scenario as a dict (see the module docstring).

    Parameters
    ----------
    mode
        ``"rate"`` or ``"vacancy"`` promotion for every step of the ladder.
    scale
        Multiplier of every headcount and establishment (1: 20,000 persons).
    seed
        The scenario's default root seed.
    """
    if mode not in ("rate", "vacancy"):
        raise ValueError(f"mode must be 'rate' or 'vacancy', got {mode!r}")
    if scale < 1:
        raise ValueError(f"scale must be ≥ 1, got {scale!r}")
    grades = []
    for g, gid in enumerate(GRADES):
        block: dict[str, Any] = {"id": gid}
        if g == 0 or mode == "vacancy":
            block["establishment"] = HEADCOUNT[g] * scale
            block["assumption"] = ASSUMPTION
        grades.append(block)
    promotions = []
    for g, gid in enumerate(GRADES[1:], start=1):
        step: dict[str, Any] = {
            "to": gid,
            "mode": mode,
            "min_years_in_grade": MIN_YEARS[g - 1],
            "women_odds": 1.0,
            "assumption": ASSUMPTION,
        }
        if mode == "rate":
            prob = PROMOTION_PROBABILITY[g - 1]
            step["probability"] = {"women": prob, "men": prob}
        promotions.append(step)
    return {
        "name": f"benchmark: six grades, {mode} promotion, {20_000 * scale:,} persons",
        "organisation": "synthetic benchmark force",
        "start_year": START_YEAR,
        "end_year": START_YEAR + YEARS,
        "grades": grades,
        "groups": {"senior_ranks": list(GRADES[3:])},
        "initial": [
            {
                "grade": gid,
                "total": HEADCOUNT[g] * scale,
                "women_share": WOMEN_SHARE[g],
                "years_in_grade": "steady",
                "assumption": ASSUMPTION,
            }
            for g, gid in enumerate(GRADES)
        ],
        "attrition": [
            {"grade": gid, "women": w, "men": m, "assumption": ASSUMPTION}
            for gid, (w, m) in zip(GRADES, ATTRITION, strict=True)
        ],
        "promotions": promotions,
        "recruitment": {
            "mode": "replace",
            "women_share": {"from_year": 2025, "to_year": 2030, "start": 0.30, "end": 0.40},
            "assumption": ASSUMPTION,
        },
        "targets": [
            {
                "id": "senior_ranks_25",
                "population": "senior_ranks",
                "comparator": "at_least",
                "value": 0.25,
                "deadline": START_YEAR + YEARS,
                "assumption": ASSUMPTION,
            }
        ],
        "simulation": {"replications": 1000, "seed": seed},
    }


def workforce(mode: Mode, scale: int = 1) -> Scenario:
    """Return the validated six-grade benchmark scenario (see :func:`workforce_dict`)."""
    return parse_scenario(workforce_dict(mode, scale), source=f"benchmarks:{mode}x{scale}")


def tiny_dict(mode: Mode) -> dict[str, Any]:
    """Return a three-grade, 60-person, five-year scenario with the same features (smoke tests)."""
    data = workforce_dict(mode)
    keep = 3
    data["name"] = f"tiny benchmark: three grades, {mode} promotion"
    data["end_year"] = START_YEAR + 5
    data["grades"] = data["grades"][:keep]
    data["groups"] = {"senior_ranks": list(GRADES[1:keep])}
    data["initial"] = data["initial"][:keep]
    data["attrition"] = data["attrition"][:keep]
    data["promotions"] = data["promotions"][: keep - 1]
    for block, count in zip(data["initial"], (30, 20, 10), strict=True):
        block["total"] = count
    for block, count in zip(data["grades"], (30, 20, 10), strict=True):
        if "establishment" in block:
            block["establishment"] = count
    data["targets"][0]["deadline"] = START_YEAR + 5
    return data


def tiny(mode: Mode) -> Scenario:
    """Return the validated tiny scenario (see :func:`tiny_dict`)."""
    return parse_scenario(tiny_dict(mode), source=f"benchmarks:tiny-{mode}")
