"""Pure chart builders and table helpers of the Compare, Sweeps and Data pages (no Streamlit).

* :func:`compare_chart` — probability met per scenario and target with its 95 % interval;
* :func:`difference_chart` — paired differences against the first scenario, with intervals;
* :func:`sweep_dirs`, :func:`load_sweep`, :func:`sweep_levers`, :func:`sweep_targets`,
  :func:`sweep_grid` and :func:`sweep_heatmap` — open a ``parity sweep`` result directory and
  draw a target's probability over two levers (other levers held at chosen values);
* :func:`fit_chart` — fitted vs observed figures of a calibration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

SWEEP_STATS = (
    "probability",
    "probability_low",
    "probability_high",
    "share_p5",
    "share_median",
    "share_p95",
    "expected_share",
)
RUNS_DIR_ENV = "PARITY_RUNS_DIR"


# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------
def compare_chart(targets: pd.DataFrame, *, row_height: int = 22) -> alt.FacetChart:
    """Horizontal bars: probability met per (target, scenario), with Wilson 95 % intervals.

    ``targets``: rows of ``decision.compare(...).targets``; only ``status == "ok"`` rows are
    drawn (columns ``scenario, target, probability, probability_low, probability_high``).
    Scenario names ``"A: …"`` are drawn by their letter, the full names in the legend.
    """
    df = targets[targets["status"] == "ok"][
        ["scenario", "target", "probability", "probability_low", "probability_high"]
    ].copy()
    df["key"] = df["scenario"].astype(str).str.split(":").str[0]
    order = list(dict.fromkeys(df["scenario"]))
    keys = list(dict.fromkeys(df["key"]))
    y = alt.Y("key:N", sort=keys, title=None)
    x_scale = alt.Scale(domain=[0, 1])
    bars = (
        alt.Chart()
        .mark_bar(opacity=0.85)
        .encode(
            x=alt.X(
                "probability:Q", scale=x_scale, axis=alt.Axis(format=".0%"), title="Probability met"
            ),
            y=y,
            color=alt.Color(
                "scenario:N",
                sort=order,
                title=None,
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=600),
            ),
            tooltip=[
                alt.Tooltip("scenario:N", title="Scenario"),
                alt.Tooltip("target:N", title="Target"),
                alt.Tooltip("probability:Q", title="Probability", format=".1%"),
                alt.Tooltip("probability_low:Q", title="95 % low", format=".1%"),
                alt.Tooltip("probability_high:Q", title="95 % high", format=".1%"),
            ],
        )
    )
    rules = (
        alt.Chart()
        .mark_rule(color="black", strokeWidth=1.5)
        .encode(x=alt.X("probability_low:Q", scale=x_scale), x2="probability_high:Q", y=y)
    )
    return (
        alt.layer(bars, rules, data=df)
        .properties(height=row_height * max(1, len(keys)), width=520)
        .facet(
            row=alt.Row(
                "target:N",
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=260),
            ),
            spacing=6,
        )
    )


def difference_chart(differences: pd.DataFrame, *, field: str = "probability") -> alt.Chart:
    """Paired differences B − A with their 95 % intervals, one row per (target, scenario B).

    ``field`` is ``"probability"`` (percentage points of the probability met) or ``"share"``
    (percentage points of the women's share at the deadline).
    """
    df = differences.copy()
    value, lo, hi = f"{field}_difference", f"{field}_low", f"{field}_high"
    df["row"] = df["target"].astype(str) + " · " + df["b"].astype(str).str.split(":").str[0]
    title = (
        "Difference in probability met (B − A)"
        if field == "probability"
        else "Difference in women's share at the deadline (B − A)"
    )
    base = alt.Chart(df)
    y = alt.Y("row:N", title=None, axis=alt.Axis(labelLimit=360))
    points = base.mark_point(filled=True, size=90, color="#08306b").encode(
        # "+.1~%": small differences get distinct ticks (+0.5 %, not "+1 %, +1 %, +0 %").
        x=alt.X(f"{value}:Q", axis=alt.Axis(format="+.1~%"), title=title),
        y=y,
        tooltip=[
            alt.Tooltip("target:N", title="Target"),
            alt.Tooltip("b:N", title="B"),
            alt.Tooltip(f"{value}:Q", title="Difference", format="+.1%"),
            alt.Tooltip(f"{lo}:Q", title="95 % low", format="+.1%"),
            alt.Tooltip(f"{hi}:Q", title="95 % high", format="+.1%"),
        ],
    )
    bars = base.mark_rule(strokeWidth=2, color="#4292c6").encode(
        x=alt.X(f"{lo}:Q"), x2=f"{hi}:Q", y=y
    )
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(strokeDash=[4, 3], color="grey")
    zero = zero.encode(x="zero:Q")
    return alt.layer(zero, bars, points).properties(height=70 + 32 * len(df), width=520)


#: Fields of a scenario that describe or cite rather than set the model: a diff lists them
#: apart from the values the engines use.
TEXT_FIELDS = frozenset(
    {
        "name",
        "description",
        "organisation",
        "assumption",
        "source",
        "locator",
        "quote",
        "note",
        "method",
        "created_utc",
        "problem",
        "label",
    }
)


def is_text_change(path: str) -> bool:
    """Whether a diff path (``decision.diff_assumptions``) is text: a source entry, or a field
    of :data:`TEXT_FIELDS` (the last step of the path)."""
    last = path.rsplit(".", 1)[-1]
    return path == "sources" or path.startswith("sources.") or last in TEXT_FIELDS


def diff_rows(diff: Sequence[Mapping[str, Any]], limit: int = 160) -> pd.DataFrame:
    """``decision.diff_assumptions`` output as a two-sided table of short texts."""

    def short(v: Any) -> str:
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return pd.DataFrame(
        [{"path": d["path"], "A": short(d["a"]), "B": short(d["b"])} for d in diff],
        columns=["path", "A", "B"],
    )


# ---------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------
def sweep_dirs(root: Path, depth: int = 3) -> dict[str, Path]:
    """Sweep result directories under ``root`` (those with manifest.json and summary.parquet).

    Returns ``{path relative to root: path}``, sorted; symbolic links are not followed out of
    ``root``.
    """
    out: dict[str, Path] = {}
    if not root.is_dir():
        return out
    base = root.resolve()
    frontier = [base]
    for _ in range(depth + 1):
        nxt = []
        for d in frontier:
            if (d / "manifest.json").is_file() and (d / "summary.parquet").is_file():
                out[d.relative_to(base).as_posix() or "."] = d
                continue
            try:
                children = sorted(
                    p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")
                )
            except OSError:
                continue
            nxt += [c for c in children if c.resolve().is_relative_to(base)]
        frontier = nxt
    return dict(sorted(out.items()))


def load_sweep(path: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The manifest and the summary table of a sweep directory."""
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    summary = pd.read_parquet(path / "summary.parquet")
    return manifest, summary


def sweep_levers(manifest: Mapping[str, Any], summary: pd.DataFrame) -> list[str]:
    """The lever columns of a sweep (from the manifest, else the columns before ``status``)."""
    levers = [p["column"] for p in manifest.get("parameters", []) if p.get("column") in summary]
    if levers:
        return levers
    cols = list(summary.columns)
    end = cols.index("status") if "status" in cols else len(cols)
    return [c for c in cols[:end] if c not in ("point", "label")]


def sweep_targets(summary: pd.DataFrame) -> list[str]:
    """Target ids with a ``<id>.probability`` column in a sweep summary."""
    return [c.removesuffix(".probability") for c in summary.columns if c.endswith(".probability")]


def sweep_grid(
    summary: pd.DataFrame,
    target: str,
    x: str,
    y: str,
    fixed: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Rows of the finished points at the ``fixed`` values of the other levers.

    Columns: ``x``, ``y`` and the target's statistics without the ``<id>.`` prefix
    (``probability``, ``probability_low``, …). Raises ``ValueError`` when two points share the
    same (x, y) — the other levers must be fixed.
    """
    df = summary[summary["status"] == "ok"] if "status" in summary else summary
    for col, value in (fixed or {}).items():
        df = df[df[col] == value]
    stats = {f"{target}.{s}": s for s in SWEEP_STATS if f"{target}.{s}" in df}
    out = df[[x, y, *stats]].rename(columns=stats).reset_index(drop=True)
    if out.duplicated([x, y]).any():
        raise ValueError(f"several points per ({x}, {y}): fix the other levers")
    return out


def sweep_heatmap(
    grid: pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str = "probability",
    title: str | None = None,
    goal: float | None = None,
) -> alt.LayerChart:
    """Heatmap of ``value`` over two levers, with the value printed in every cell.

    ``goal``: cells at or above it get a bold outline (e.g. the probability a board asks for).
    """
    df = grid.copy()
    df["text"] = df[value].map(lambda v: "–" if pd.isna(v) else f"{100 * v:.0f} %")
    df["goal_met"] = df[value] >= goal if goal is not None else False
    has_ci = {"probability_low", "probability_high"} <= set(df.columns)
    tooltip = [
        alt.Tooltip(f"{x}:O", title=x),
        alt.Tooltip(f"{y}:O", title=y),
        alt.Tooltip(f"{value}:Q", title=value, format=".1%"),
    ]
    if has_ci and value == "probability":
        tooltip += [
            alt.Tooltip("probability_low:Q", title="95 % low", format=".1%"),
            alt.Tooltip("probability_high:Q", title="95 % high", format=".1%"),
        ]
    base = alt.Chart(df).encode(
        x=alt.X(f"{x}:O", title=x, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{y}:O", title=y, sort="descending"),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(format=".0%", title=value),
        ),
        tooltip=tooltip,
    )
    outline = (
        base.transform_filter("datum.goal_met")
        .mark_rect(fill=None, stroke="#e6550d", strokeWidth=3)
        .encode()
    )
    text = base.mark_text(fontSize=13).encode(
        text="text:N",
        color=alt.condition(f"datum['{value}'] > 0.55", alt.value("white"), alt.value("black")),
    )
    chart = alt.layer(rect, outline, text).properties(
        width=max(240, 90 * df[x].nunique()), height=50 * max(2, df[y].nunique())
    )
    if title:
        chart = chart.properties(title=title)
    return chart


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------
def fit_chart(rows: pd.DataFrame) -> alt.LayerChart:
    """Observed figures (squares) against the fitted values with their interval (bars).

    ``rows``: one row per observation with ``label``, ``observed``, ``fitted``, ``low``,
    ``high`` (shares).
    """
    df = rows[["label", "observed", "fitted", "low", "high"]].reset_index(drop=True)
    base = alt.Chart(df).encode(y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=360)))
    rng = base.mark_rule(strokeWidth=3, color="#9ecae1").encode(
        x=alt.X("low:Q", axis=alt.Axis(format=".0%"), title="Women's share"), x2="high:Q"
    )
    fitted = base.mark_point(filled=True, size=80, color="#08306b").encode(
        x="fitted:Q",
        tooltip=[
            alt.Tooltip("label:N", title="Figure"),
            alt.Tooltip("fitted:Q", title="Fitted", format=".1%"),
            alt.Tooltip("observed:Q", title="Published", format=".1%"),
        ],
    )
    observed = base.mark_point(shape="square", filled=True, size=80, color="#111111").encode(
        x="observed:Q"
    )
    # Streamlit sizes charts with autosize "fit": the axis is inside the height.
    return alt.layer(rng, fitted, observed).properties(height=70 + 32 * len(df))


# ---------------------------------------------------------------------------------------------
# What it takes
# ---------------------------------------------------------------------------------------------
def goal_seek_chart(
    evaluations: Sequence[Mapping[str, float]],
    *,
    y: str,
    goal: float,
    answer: float | None,
    x_title: str,
) -> alt.LayerChart:
    """The points a goal seek evaluated (lever value vs probability or expected share), the
    goal as a horizontal rule and the answer as a vertical one."""
    df = pd.DataFrame(evaluations).sort_values("value")
    y_title = "Probability met" if y == "probability" else "Expected share at the deadline"
    line = (
        alt.Chart(df)
        .mark_line(point=True, color="#08306b")
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=".0%")),
            tooltip=[
                alt.Tooltip("value:Q", title="Lever", format=".4g"),
                alt.Tooltip(f"{y}:Q", title=y_title, format=".1%"),
            ],
        )
    )
    layers: list[alt.Chart] = [line]
    layers.append(
        alt.Chart(pd.DataFrame({"goal": [goal]}))
        .mark_rule(color="#31a354", strokeDash=[4, 3])
        .encode(y="goal:Q")
    )
    if answer is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"answer": [answer]}))
            .mark_rule(color="#e6550d")
            .encode(x="answer:Q")
        )
    return alt.layer(*layers).properties(height=260)


def reach_chart(
    years: Sequence[int],
    best: Sequence[float],
    baseline: Sequence[float],
    *,
    level: float | None,
    deadline: int,
) -> alt.LayerChart:
    """Best-case path (every controllable flow to women) against the scenario's expected path."""
    df = pd.concat(
        [
            pd.DataFrame({"year": list(years), "share": list(best), "path": "best case"}),
            pd.DataFrame({"year": list(years), "share": list(baseline), "path": "scenario"}),
        ],
        ignore_index=True,
    )
    lines = (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title="Year-end", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "share:Q", title="Women's share", axis=alt.Axis(format=".0%")
            ),
            color=alt.Color(
                "path:N",
                scale=alt.Scale(domain=["best case", "scenario"], range=["#e6550d", "#08306b"]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("year:O", title="Year-end"),
                alt.Tooltip("path:N", title="Path"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
    )
    layers: list[alt.Chart] = [lines]
    if level is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"level": [level], "year": [deadline]}))
            .mark_point(shape="diamond", size=140, filled=True, color="#31a354")
            .encode(x="year:O", y="level:Q")
        )
    return alt.layer(*layers).properties(height=280)


def waterfall_chart(steps: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """A waterfall of ``decision.waterfall_data`` steps: levels as full bars, changes floating."""
    df = pd.DataFrame(steps)
    df["order"] = range(len(df))
    df["delta"] = df["end"] - df["start"]
    df["kind_colour"] = [
        "level" if k == "level" else ("up" if d >= 0 else "down")
        for k, d in zip(df["kind"], df["delta"], strict=True)
    ]
    df["text"] = [
        f"{100 * e:.1f} %" if k == "level" else f"{100 * d:+.1f} pp"
        for k, e, d in zip(df["kind"], df["end"], df["delta"], strict=True)
    ]
    x = alt.X(
        "label:N", sort=list(df["label"]), title=None, axis=alt.Axis(labelAngle=0, labelLimit=160)
    )
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("start:Q", title="Women's share", axis=alt.Axis(format=".0%")),
            y2="end:Q",
            color=alt.Color(
                "kind_colour:N",
                scale=alt.Scale(
                    domain=["level", "up", "down"], range=["#4292c6", "#31a354", "#d94801"]
                ),
                legend=None,
            ),
            tooltip=[alt.Tooltip("label:N", title="Step"), alt.Tooltip("text:N", title="Value")],
        )
    )
    text = alt.Chart(df).mark_text(dy=-8).encode(x=x, y=alt.Y("end:Q"), text="text:N")
    return alt.layer(bars, text).properties(height=300)
