"""Builders of small scenarios (as plain dicts) for tests.

``ladder(...)`` builds a valid scenario dict from compact arguments; tests tweak the dict and
pass it to :func:`simulator.parse_scenario`. Every block carries ``assumption = "test"``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import tomli_w

A = "test fixture"


def ladder(
    grades: int = 2,
    *,
    start_year: int = 2000,
    end_year: int = 2030,
    initial: list[tuple[int, int]] | None = None,
    attrition: list[tuple[Any, Any]] | None = None,
    promotion: list[dict[str, Any]] | None = None,
    recruitment: dict[str, Any] | None = None,
    establishment: list[float | None] | None = None,
    targets: list[dict[str, Any]] | None = None,
    policies: list[dict[str, Any]] | None = None,
    groups: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Return a valid scenario dict with grades ``g0 … g{n-1}``.

    Defaults: 100 women and 400 men per grade, attrition 0.1 for both sexes, rate-mode
    promotion with probability 0.1 for both sexes, fixed intake of 100 with 30 % women.
    """
    ids = [f"g{i}" for i in range(grades)]
    initial = initial or [(100, 400)] * grades
    attrition = attrition or [(0.1, 0.1)] * grades
    establishment = establishment or [None] * grades
    promotion = promotion or [
        {"mode": "rate", "probability": {"women": 0.1, "men": 0.1}} for _ in ids[1:]
    ]
    grade_blocks = []
    for gid, est in zip(ids, establishment, strict=True):
        block: dict[str, Any] = {"id": gid}
        if est is not None:
            block["establishment"] = est
            block["assumption"] = A
        grade_blocks.append(block)
    data: dict[str, Any] = {
        "name": "test ladder",
        "start_year": start_year,
        "end_year": end_year,
        "grades": grade_blocks,
        "initial": [
            {"grade": gid, "women": w, "men": m, "assumption": A}
            for gid, (w, m) in zip(ids, initial, strict=True)
        ],
        "attrition": [
            {"grade": gid, "women": aw, "men": am, "assumption": A}
            for gid, (aw, am) in zip(ids, attrition, strict=True)
        ],
        "promotions": [
            {"to": gid, **copy.deepcopy(p), "assumption": A}
            for gid, p in zip(ids[1:], promotion, strict=True)
        ],
        "recruitment": {
            **(recruitment or {"mode": "fixed", "intake": 100, "women_share": 0.3}),
            "assumption": A,
        },
    }
    if targets:
        data["targets"] = [{"assumption": A, **t} for t in targets]
    if policies:
        data["policies"] = [{"assumption": A, **p} for p in policies]
    if groups:
        data["groups"] = groups
    return data


def _target(tid: str, label: str, population: str, value: float, deadline: int) -> dict[str, Any]:
    return {
        "id": tid,
        "label": label,
        "population": population,
        "comparator": "at_least",
        "value": value,
        "deadline": deadline,
    }


def app_alpha(*, with_35: bool = True) -> dict[str, Any]:
    """The app tests' one-grade scenario: 500 with 30 % turnover, 150 recruits a year (30 %
    women), 20 % women at the start; targets 28 % (and, ``with_35``, 35 %) by 2005.

    The women's share follows h + (0.2 - h) 0.7^t for an intake share h: at 2005 it is 28.3 %
    for h = 30 % and 53.3 % for h = 60 % (sd about 2 pp), so the 35 % target is (almost)
    never met at 30 % and (almost) always at 60 %, and the 28 % target sits near the median.
    """
    targets = [_target("g0-28", "Alpha: 28 % women by 2005", "g0", 0.28, 2005)]
    if with_35:
        targets.insert(0, _target("g0-35", "Alpha: 35 % women by 2005", "g0", 0.35, 2005))
    data = ladder(
        1,
        start_year=2000,
        end_year=2010,
        initial=[(100, 400)],
        attrition=[(0.3, 0.3)],
        recruitment={"mode": "fixed", "intake": 150, "women_share": 0.3},
        targets=targets,
    )
    data["name"] = "Alpha one-grade test"
    data["simulation"] = {"replications": 1000, "seed": 11}
    return data


def app_beta() -> dict[str, Any]:
    """The app tests' two-grade scenario: the top (500 posts) filled by vacancy promotion; one
    target of 22 % women at the top by 2008."""
    data = ladder(
        2,
        start_year=2000,
        end_year=2012,
        establishment=[None, 500],
        promotion=[{"mode": "vacancy", "min_years_in_grade": 1}],
        targets=[_target("top-22", "Beta: 22 % women at the top by 2008", "g1", 0.22, 2008)],
    )
    data["name"] = "Beta vacancy test"
    data["simulation"] = {"replications": 1000, "seed": 22}
    return data


# ---------------------------------------------------------------------------------------------
# Chart inputs (app.components chart builders)
# ---------------------------------------------------------------------------------------------
FAN_TARGET = {
    "id": "t1",
    "label": "At least 20 % women in g1 by 2030",
    "population": "g1",
    "comparator": "at_least",
    "value": 0.2,
    "deadline": 2030,
}


def fan_frame(years=range(2024, 2031), lo=0.10, hi=0.30):
    """One population's rows for ``fan_chart``: quantiles spread around a line from lo to hi."""
    import numpy as np
    import pandas as pd

    ys = list(years)
    base = np.linspace(lo, hi, len(ys))
    return pd.DataFrame(
        {
            "population": "g1",
            "year": ys,
            "p05": base - 0.02,
            "p25": base - 0.01,
            "p50": base,
            "p75": base + 0.01,
            "p95": base + 0.02,
            "mean": base,
            "expected": base + 0.001,
        }
    )


# ---------------------------------------------------------------------------------------------
# Calibration problems
# ---------------------------------------------------------------------------------------------
def problem_report(data: dict, tmp_path: Path) -> str:
    """The report of the ScenarioError that ``problem_from_data`` must raise on ``data``."""
    import pytest

    from calibration.problem import problem_from_data
    from simulator.errors import ScenarioError

    with pytest.raises(ScenarioError) as exc:
        problem_from_data(data, tmp_path)
    return exc.value.report()


def tiny_problem(tmp_path: Path, values: dict[str, float], **design: int) -> dict:
    """A 2-grade scenario file in tmp_path and a problem dict fitting h and a_w to 3 shares."""
    scenario = ladder(2, start_year=2000, end_year=2010, initial=[(100, 400), (50, 450)])
    (tmp_path / "tiny.toml").write_text(tomli_w.dumps(scenario))
    obs = [
        ("intake-2002", "intake", 2002, 100),
        ("g0-2005", "g0", 2005, 300),
        ("g1-2010", "g1", 2010, 300),
    ]
    return {
        "name": "tiny",
        "scenario": "tiny.toml",
        "design": {"points": 256, "draws": 200, "starts": 1, "refinements": 2, "min_ess": 100}
        | design,
        "parameters": [
            {
                "name": "h",
                "paths": ["recruitment.women_share"],
                "low": 0.15,
                "high": 0.5,
                "assumption": "test",
            },
            {
                "name": "a_w",
                "paths": ["attrition[grade=g0].women"],
                "low": 0.05,
                "high": 0.25,
                "assumption": "test",
            },
        ],
        "observations": [
            {
                "id": i,
                "population": pop,
                "year": y,
                "value": values.get(i, 0.3),
                "measurement": "binomial",
                "n_eff": n,
                "source": "synthetic",
            }
            for i, pop, y, n in obs
        ],
    }


def unescape(text: str) -> str:
    """A page element's text without the backslashes the app's Markdown escaping adds."""
    return text.replace("\\", "")
