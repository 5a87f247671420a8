"""The Explore page's chart builders give the Vega-Lite specs they gave as Altair charts.

``app.components.fan_chart``, ``headcount_chart`` and ``flows_chart`` build their Vega-Lite
specs as plain dicts, without Altair (importing Altair and converting its objects cost the first
page about half a second of CPU; docs/app.md, Speed). Until commit 886832b they were Altair
charts; ``tests/golden/charts/*.json`` are those charts' ``to_dict(validate=True)`` on the
cases below, written by that code (``git show 886832b:app/components.py``; the fan chart at
the report's width as ``fan_chart(...).properties(width=760)``, since that version took no
``width``; the small script that called it is not kept). Each
builder must give the same spec, key for key and value for value, on every case — data rows,
dataset names (Altair's hash of the rows) and all — and every spec must validate against the
Vega-Lite schema that Altair ships.

Cases: a fan chart with a target and a title; without targets; with a band target; with a
narrow range (one-decimal axis); with a published point; with no published point (empty
frame); with missing quantiles (NaN, years without anyone); at the report's width; the
headcount chart (default and report width); the flows chart of one grade.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app import components as C
from tests.factories import FAN_TARGET as TARGET
from tests.factories import fan_frame

GOLDEN = Path(__file__).resolve().parent / "golden" / "charts"

BAND = {**TARGET, "id": "b", "label": "Between 30 and 50 %", "value": [0.3, 0.5]}


def stocks() -> pd.DataFrame:
    rows = []
    for year in (2024, 2025, 2026):
        for gi, grade in enumerate(["entry", "middle", "top"]):
            for sex, n in (("women", 10.5 * (gi + 1)), ("men", 30.25 * (gi + 1) + year - 2024)):
                rows.append(
                    {"year": year, "grade": grade, "grade_index": gi, "sex": sex, "headcount": n}
                )
    return pd.DataFrame(rows)


def flows() -> pd.DataFrame:
    rows = []
    for year in (2025, 2026):
        for gi, grade in enumerate(["g0", "g1"]):
            for sex in ("women", "men"):
                for j, flow in enumerate(C.FLOW_COLORS):
                    sign = -1.0 if flow in ("left", "promoted out") else 1.0
                    rows.append(
                        {
                            "year": year,
                            "grade": grade,
                            "grade_index": gi,
                            "sex": sex,
                            "flow": flow,
                            "count": sign * (1.5 + j + gi + (year - 2025) / 3),
                        }
                    )
    return pd.DataFrame(rows)


def observed() -> pd.DataFrame:
    return pd.DataFrame(
        [{"year": 2024, "share": 0.095, "source": "pub", "where": "table 1, p. 3"}],
        columns=["year", "share", "source", "where"],
    )


def with_gaps() -> pd.DataFrame:
    frame = fan_frame()
    frame.loc[2, ["p05", "p25", "p50", "p75", "p95"]] = np.nan  # a year with nobody in g1
    frame.loc[4, "expected"] = np.nan
    return frame


#: name -> (builder, keyword arguments)
CASES: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
    "fan_target_title": lambda: (
        "fan",
        {"data": fan_frame(), "targets": [TARGET], "title": "Women in g1"},
    ),
    "fan_no_target": lambda: ("fan", {"data": fan_frame()}),
    "fan_band": lambda: ("fan", {"data": fan_frame(lo=0.3, hi=0.5), "targets": [BAND]}),
    "fan_narrow": lambda: ("fan", {"data": fan_frame(lo=0.2, hi=0.21)}),
    "fan_observed": lambda: (
        "fan",
        {"data": fan_frame(), "targets": [TARGET], "observed": observed()},
    ),
    "fan_no_observed": lambda: (
        "fan",
        {"data": fan_frame(), "targets": [TARGET], "observed": observed().iloc[:0]},
    ),
    "fan_gaps": lambda: ("fan", {"data": with_gaps(), "targets": [TARGET]}),
    "fan_report": lambda: (
        "fan",
        {
            "data": fan_frame(years=range(2010, 2036)),
            "targets": [TARGET],
            "observed": observed(),
            "title": "Women's share: leaders",
            "width": 760,
        },
    ),
    "headcount": lambda: (
        "headcount",
        {"stocks": stocks(), "grade_order": ["entry", "middle", "top"]},
    ),
    "headcount_report": lambda: (
        "headcount",
        {"stocks": stocks(), "grade_order": ["entry", "middle", "top"], "width": 340},
    ),
    "flows": lambda: ("flows", {"flows": flows(), "grade": "g1"}),
}

BUILDERS = {"fan": "fan_chart", "headcount": "headcount_chart", "flows": "flows_chart"}


def build(name: str) -> dict:
    kind, kwargs = CASES[name]()
    return getattr(C, BUILDERS[kind])(**kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_spec_equals_the_altair_chart_it_replaces(name):
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    spec = build(name)
    assert json.loads(json.dumps(spec)) == golden  # JSON-ready, and the same spec


@pytest.mark.parametrize("name", sorted(CASES))
def test_spec_is_valid_vega_lite(name):
    import jsonschema
    from altair.vegalite.v6.schema import core

    jsonschema.validate(build(name), core.load_schema())


def test_the_explore_page_modules_do_not_import_altair():
    """What the rewrite is for: the first page's imports (app/serve.py's warm-up imports
    ``app.state``; Explore imports it and ``app.components``) leave Altair out."""
    import subprocess
    import sys

    code = (
        "import sys; import app.state, app.components, app.report; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('altair', 'scipy')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout
