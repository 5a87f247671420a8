"""Builders of small scenarios (as plain dicts) for tests.

``ladder(...)`` builds a valid scenario dict from compact arguments; tests tweak the dict and
pass it to :func:`simulator.parse_scenario`. Every block carries ``assumption = "test"``.
"""

from __future__ import annotations

import copy
from typing import Any

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
