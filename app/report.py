"""The board report: one self-contained HTML file that opens offline.

:func:`build_report` runs a scenario (or takes a run the app already has) and returns the text
of an HTML page with the scenario's targets (probability met with its interval, median share
at the deadline, first year met), fan charts of the women's share with the target lines and
the published data points, the headcount by grade, every assumption and every source.

Nothing in the page is fetched: the charts are inline SVG rendered by ``vl-convert-python``
(no JavaScript at all), the styles are inline, and a Content-Security-Policy of
``default-src 'none'`` stops a browser from loading anything even if a link slipped in.
Every user-supplied string (scenario name, labels, quotes, …) is HTML-escaped.

No Streamlit here: the app and ``parity report`` (``app/report_cli.py``) both call this.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from app import components as C
from simulator import Scenario, __version__, run_and_summarize

#: The page may load nothing: no scripts, no fonts, no images except inline data, no frames.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #1a1a1a; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-bottom: .3rem; }
.muted { color: #555; font-size: .9rem; }
.note { background: #eef5fb; border-left: 4px solid #4292c6; padding: .4rem .8rem;
        margin: .5rem 0; }
.assumption { background: #fff6e5; border-left: 4px solid #e6a100; padding: .4rem .8rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: .6rem .9rem; flex: 1 1 300px; }
.card .big { font-size: 1.6rem; font-weight: 600; }
figure { margin: 1rem 0; }
figcaption { color: #555; font-size: .85rem; }
svg { max-width: 100%; height: auto; }
@media print { h2 { page-break-after: avoid; } figure { page-break-inside: avoid; } }
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def chart_svg(spec: dict[str, Any]) -> str:
    """Render a Vega-Lite spec to inline SVG (no script, no network)."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(spec)
    # Drop the XML prolog if any, so the SVG can sit inside HTML.
    start = svg.find("<svg")
    return svg[start:] if start > 0 else svg


def _run(scenario: Scenario, replications: int | None, seed: int | None) -> dict[str, Any]:
    expected, stochastic, summary = run_and_summarize(scenario, "stochastic", replications, seed)
    return {"summary": summary, **C.run_tables(expected, stochastic)}


def _target_cards(scenario: Scenario, summary: Mapping[str, Any]) -> str:
    cards = C.target_cards_data(summary)
    if not cards:
        return "<p>This scenario has no targets.</p>"
    by_id = {t.id: t for t in scenario.targets}
    out = ['<div class="cards">']
    for card in cards:
        target = by_id.get(card["id"])
        origin = ""
        if target is not None:
            if target.source:
                where = f" ({_e(target.locator)})" if target.locator else ""
                origin = f"Source: {_e(', '.join(C._ids(target.source)))}{where}"
            if target.assumption:
                origin += f" Assumption: {_e(target.assumption)}"
        out.append(
            f"""<div class="card">
<h3>{_e(card["label"])}</h3>
<div class="muted">{_e(C.population_label(scenario, card["population"]))} · women
{_e(card["condition"])}</div>
<p><span class="big">{_e(card["probability"])}</span> probability met
<span class="muted">({_e(card["probability_ci"])})</span></p>
<p>Median share at {_e(card["deadline"])}: <b>{_e(card["median"])}</b>
<span class="muted">({_e(card["band"])}; {_e(card["median_delta"] or "")})</span><br>
Expected-engine share: {_e(card["expected"])}<br>
First year met (median): <b>{_e(card["first_year"])}</b>
<span class="muted">({_e(card["never"])})</span></p>
<p class="muted">{origin}</p>
</div>"""
        )
    out.append("</div>")
    return "\n".join(out)


def _table(frame: pd.DataFrame, pct: Iterable[str] = (), num: Iterable[str] = ()) -> str:
    pct, num = set(pct), set(num)
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for col in frame.columns:
            v = row[col]
            if col in pct:
                cells.append(f'<td class="num">{_e(C.fmt_pct(v, 1))}</td>')
            elif col in num:
                text = "–" if pd.isna(v) else f"{float(v):,.1f}"
                cells.append(f'<td class="num">{_e(text)}</td>')
            else:
                cells.append(f"<td>{_e('' if pd.isna(v) else v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _assumptions(scenario: Scenario) -> str:
    rows = C.provenance_rows(scenario)
    if not rows:
        return "<p>No block of this scenario states a source or an assumption.</p>"
    out = ["<table><thead><tr><th>Block</th><th>Source</th><th>Assumption</th></tr></thead>"]
    out.append("<tbody>")
    for r in rows:
        src = _e(r["source"]) + (
            f" <span class='muted'>({_e(r['locator'])})</span>" if r["locator"] else ""
        )
        assumption = (
            f'<div class="assumption"><b>Assumption:</b> {_e(r["assumption"])}</div>'
            if r["assumption"]
            else ""
        )
        out.append(f"<tr><td>{_e(r['block'])}</td><td>{src}</td><td>{assumption}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _published(scenario: Scenario) -> str:
    """The scenario's published figures, each with its source, locator, quote and note (those
    of the charted populations are the black squares of the charts above)."""
    table = C.published_figures(scenario)
    if table.empty:
        return "<p>No published women's share of this scenario's populations is given.</p>"
    out = [
        "<p>Women's shares as published, each with its source; those of the populations charted "
        "above are their black squares.</p>",
        "<table><thead><tr><th>Population</th><th>Year-end</th><th>Women</th><th>Source</th>"
        "<th>Quote and note</th></tr></thead><tbody>",
    ]
    for r in table.itertuples():
        src = _e(r.source) + (f" <span class='muted'>({_e(r.where)})</span>" if r.where else "")
        words = " ".join(
            x
            for x in (
                f"<i>“{_e(r.quote)}”</i>" if r.quote else "",
                _e(r.note) if r.note else "",
            )
            if x
        )
        out.append(
            f"<tr><td>{_e(C.population_label(scenario, r.population))}</td>"
            f'<td class="num">{_e(r.year)}</td><td class="num">{_e(C.fmt_pct(r.share, 1))}</td>'
            f"<td>{src}</td><td>{words}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _sources(scenario: Scenario) -> str:
    if not scenario.sources:
        return "<p>This scenario cites no sources: every number in it is an assumption.</p>"
    items = []
    for sid, src in scenario.sources.items():
        meta = ", ".join(_e(x) for x in (src.publisher, src.year) if x)
        parts = [f"<b>{_e(sid)}</b> — {_e(src.title)}"]
        if meta:
            parts.append(meta)
        if src.locator:
            parts.append(f"at {_e(src.locator)}")
        if src.url:
            # Plain text, not a link: the report requests nothing, even on a click.
            parts.append(f"<span class='muted'>{_e(src.url)}</span>")
        line = "; ".join(parts)
        if src.quote:
            line += f"<br><q>{_e(src.quote)}</q>"
        if src.note:
            line += f"<br><span class='muted'>Note: {_e(src.note)}</span>"
        items.append(f"<li>{line}</li>")
    return "<ul>" + "\n".join(items) + "</ul>"


WHAT_IT_TAKES_NOTE = (
    "Expected engine. Best case: intake and lateral hires all women, the best allocation of "
    "every vacancy step and women deployed first, from the first lever year (an assumption "
    "made for the bound); if it misses a target, no policy on those flows meets it by the "
    "deadline. The lever is the one the app's What it takes page starts with for the target "
    "(a promotion lever into a single grade, the intake or the funnel for a group it feeds, a "
    'deployment floor for the deployed). "In expectation" means the average path meets the '
    "target: single runs fall either side, so the probability of meeting it there is often "
    "near one half; the app's goal seek with a probability gives a margin."
)


def _what_it_takes(scenario: Scenario) -> str:
    """Per target, on the expected engine: the best case by the deadline (every controllable
    flow to women, :func:`simulator.decision.reachability`) and goal seek in expectation on
    the lever What it takes starts with (:func:`app.components.default_goal_seek_lever`)."""
    from simulator import ScenarioError
    from simulator.decision import reachability, solve

    if not scenario.targets:
        return "<p>This scenario has no targets.</p>"
    levers = C.goal_seek_levers(scenario)
    rows = []
    for target in scenario.targets:
        label = _e(target.label or target.describe())
        try:
            r = reachability(scenario, target.id)
            best = (
                f"{_e(C.fmt_pct(r.value))} in {_e(r.deadline)} (scenario "
                f"{_e(C.fmt_pct(r.baseline_value))}): "
                + ("within reach" if r.reachable else "<b>out of reach</b> of these flows")
            )
        except ScenarioError as exc:
            best = f"not computed: {_e('; '.join(str(i) for i in exc.issues))}"
        # goal_seek_levers always offers the attrition multiplier: there is a lever
        lever = C.default_goal_seek_lever(scenario, target, levers)
        try:
            res = solve(scenario, target.id, lever)
            name = _e(levers[lever])
            if res.status == "solved":
                answer, _ = C.lever_answer(lever, res.to_dict())
                seek = f"{name}: <b>{_e(answer)}</b> from {_e(res.from_year)}"
            elif res.status == "met_throughout":
                seek = f"{name}: met across its whole range"
            else:
                seek = f"{name}: not reachable with this lever alone"
        except ScenarioError as exc:
            seek = f"not computed: {_e('; '.join(str(i) for i in exc.issues))}"
        rows.append(f"<tr><td>{label}</td><td>{best}</td><td>{seek}</td></tr>")
    return (
        "<table><thead><tr><th>Target</th><th>Best case by the deadline</th>"
        "<th>One lever: the value that meets it in expectation</th></tr></thead><tbody>"
        + "".join(rows)
        + '</tbody></table><p class="muted">'
        + _e(WHAT_IT_TAKES_NOTE)
        + "</p>"
    )


def report_populations(scenario: Scenario) -> list[str]:
    """Populations charted in the report: those with a target, else the workforce."""
    pops = list(dict.fromkeys(t.population for t in scenario.targets))
    return pops or ["workforce"]


def build_report(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    run: Mapping[str, Any] | None = None,
    notes: Iterable[str] = (),
    reproduce: str | None = None,
    generated_utc: str | None = None,
) -> str:
    """Return the HTML text of the board report of ``scenario``.

    Parameters
    ----------
    scenario
        The validated scenario (with any what-if levers already applied).
    replications, seed
        Run settings (default: the scenario's ``[simulation]``); ignored when ``run`` is given.
    run
        A run the caller already has: ``{"summary", "shares", "stocks"}`` as the app caches
        it (``summary`` from :func:`simulator.summarize`, the tables from
        :func:`app.components.run_tables`).
    notes
        Plain-text notes shown at the top (e.g. the what-if levers in force).
    reproduce
        A command line that reproduces the numbers, if there is one.
    generated_utc
        The time stamp printed in the report (default: now, UTC).
    """
    data = dict(run) if run is not None else _run(scenario, replications, seed)
    summary = data["summary"]
    stamp = generated_utc or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    figures = []
    present = set(data["shares"]["population"])
    for pop in [p for p in report_populations(scenario) if p in present] or ["workforce"]:
        targets = [t for t in summary["targets"] if t["population"] == pop]
        chart = C.fan_chart(
            C.fan_data(data["shares"], pop),
            targets=targets,
            observed=C.observed_points(scenario, pop),
            title=f"Women's share: {C.population_label(scenario, pop)}",
            width=760,
        )
        figures.append(
            f"<figure>{chart_svg(chart)}<figcaption>Bands: the middle 50 % and 90 % of "
            f"{_e(summary['replications'])} Monte Carlo runs; solid line: their median; dashed: "
            "the expected engine; green: target level with a diamond at its deadline; black "
            "squares: published figures (listed with their sources below). Years are "
            "year-ends.</figcaption></figure>"
        )
    head_chart = C.headcount_chart(data["stocks"], grade_order=scenario.grade_ids, width=340)
    figures.append(
        f"<figure>{chart_svg(head_chart)}<figcaption>Mean headcount by grade over the runs "
        "(stacked, entry grade at the bottom); separate scales for women and men."
        "</figcaption></figure>"
    )
    last = C.headcount_table(data["stocks"])
    last = last[last["year"].isin([scenario.start_year, scenario.end_year])]

    notes_html = "".join(f'<div class="note">{_e(n)}</div>' for n in notes)
    repro = f"<p>Reproduce: <code>{_e(reproduce)}</code></p>" if reproduce else ""
    description = (
        f"<p>{_e(scenario.description.strip())}</p>" if scenario.description.strip() else ""
    )
    org = f'<div class="muted">{_e(scenario.organisation)}</div>' if scenario.organisation else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Parity {_e(__version__)}">
<title>{_e(scenario.name)} — Parity report</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{_e(scenario.name)}</h1>
{org}
<div class="muted">Parity {_e(__version__)} report · generated {_e(stamp)} ·
{_e(summary["replications"])} replications · seed {_e(summary["seed"])} · scenario sha256
{_e(str(summary["scenario_sha256"])[:12])} · years {_e(scenario.start_year)}–{_e(scenario.end_year)}
</div>
</header>
{description}
{notes_html}
<div class="note">Uncertainty shown: {_e(summary["uncertainty"])}. Many rates are
<b>assumptions</b>, labelled as such below: read the results as what these assumptions
imply, not as a forecast.</div>

<h2>Targets</h2>
{_target_cards(scenario, summary)}

<h2>What it would take</h2>
{_what_it_takes(scenario)}

<h2>Women's share over time</h2>
{"".join(figures[:-1])}

<h2>Headcount</h2>
{figures[-1]}
{_table(last, pct=["women_share"], num=["women", "men", "total"])}

<h2>Published figures</h2>
{_published(scenario)}

<h2>Assumptions and where each number comes from</h2>
{_assumptions(scenario)}

<h2>Sources</h2>
{_sources(scenario)}

<h2>How this was computed</h2>
<p>The expected engine runs the year on average values; the stochastic engine draws whole
people {_e(summary["replications"])} times with seeded random streams (seed
{_e(summary["seed"])}), so the same scenario, replications and seed give identical results.
The probability of a target is the share of runs in which it holds at its deadline (or from
the deadline on, for a sustained target); its interval is the 95 % Wilson interval of that
Monte Carlo estimate.</p>
{repro}
</body>
</html>
"""
