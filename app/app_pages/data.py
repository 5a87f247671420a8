"""Data and calibration page: every published figure with its document, line and quote; the
fit of a calibration against the observed figures; back-test results.

* **Published figures** — ``calibration.data.load_figures()`` (the project's validated CSV
  files), those relevant to the current scenario first (``figures_for_scenario``), or all.
  Where the calibration data module is not available, the scenario's own ``[sources]``.
* **The scenario's sources** — title, publisher, year, locator and quote of each entry.
* **Fit vs observed, back-test** — calibration results written as JSON (``Fit.to_dict()``)
  under ``calibration/out/`` (or ``$PARITY_CALIBRATION_OUT``): observed against fitted with
  the predictive interval; in a back-test the held-out figures show whether the interval
  covered them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from app import charts as H
from app import components as C
from app import state

CAL_OUT_ENV = "PARITY_CALIBRATION_OUT"


@st.cache_data(show_spinner=False)
def figures_table(scenario_text: str | None, only_relevant: bool) -> pd.DataFrame:
    from calibration.data import figures_for_scenario, load_figures

    figures = load_figures()
    if only_relevant and scenario_text is not None:
        return figures_for_scenario(C.scenario_from_json(scenario_text), figures=figures)
    return figures


def cal_out() -> Path:
    env = os.environ.get(CAL_OUT_ENV)
    return Path(env) if env else C.REPO_ROOT / "calibration" / "out"


@st.cache_data(show_spinner=False)
def fit_files(folder: str, stamp: tuple) -> dict[str, dict]:
    """Calibration results (JSON with ``observations``) in a folder; ``stamp`` invalidates."""
    out = {}
    for p in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("observations"), list):
            out[p.name] = data
    return out


def published_figures(view: dict | None) -> None:
    st.subheader("Published figures")
    try:
        import calibration.data  # noqa: F401
    except ImportError:
        st.info(
            "The project's table of published figures (calibration/data.py) is not available; "
            "the scenario's own sources are listed below.",
            icon=":material/info:",
        )
        return
    only = st.toggle("Only figures relevant to the current scenario", value=True, key="data_only")
    text = view["base_json"] if view else None
    try:
        figs = figures_table(text, only)
    except Exception as exc:  # a ScenarioError from the CSV validation, or a broken file
        issues = getattr(exc, "issues", None)
        if issues is None:
            raise
        state.show_issues("The published-figures files have problems", [str(i) for i in issues])
        return
    if view is not None and only:
        if figs.empty:
            st.caption(
                f"{C.md_escape(view['label'])} cites none of the project's table of figures "
                "(calibration/data) by its id, so the whole table is shown. The figures its "
                "charts draw are listed under *The scenario's sources* below."
            )
            figs = figures_table(None, False)
        else:
            st.caption(f"Figures cited by or about: {C.md_escape(view['label'])}")
    shown = figs.copy()
    if "value" in shown and "unit" in shown:
        shown["value"] = [
            C.fmt_pct(v, 1) if u == "share" else f"{v:,.6g}"
            for v, u in zip(shown["value"], shown["unit"], strict=True)
        ]
    cols = [
        c
        for c in (
            "id",
            "organisation",
            "population",
            "quantity",
            "value",
            "date",
            "kind",
            "source_document",
            "source_file",
            "locator",
            "quote",
            "english",
            "note",
        )
        if c in shown
    ]
    st.dataframe(
        shown[cols],
        hide_index=True,
        column_config={
            "source_document": "Document",
            "source_file": "File",
            "locator": "Line / page",
            "quote": st.column_config.TextColumn("Quote (original)", width="large"),
            "english": st.column_config.TextColumn("English", width="large"),
        },
    )
    st.caption(
        f"{len(figs)} figure(s). Every figure names its document, the line or page and the "
        "original-language quote it was transcribed from (calibration/data/*.csv)."
    )


def scenario_sources(view: dict | None) -> None:
    st.subheader("The scenario's sources")
    if view is None:
        st.info("No scenario chosen.", icon=":material/info:")
        return
    scenario = state.scenario_from_json(view["base_json"])
    st.caption(C.md_escape(scenario.name))
    frame = C.sources_frame(scenario)
    if frame.empty:
        st.caption("This scenario cites no sources: every number in it is an assumption.")
    else:
        st.dataframe(frame, hide_index=True)
    table = C.published_figures(scenario)
    if len(table):
        table["share"] = table["share"].map(C.fmt_pct)
        st.markdown(
            "**Published figures on the charts** (the scenario's `[[observed]]` figures and, "
            "for a calibrated scenario, the women's shares it was fitted to)"
        )
        st.dataframe(table, hide_index=True)


def fits(view: dict | None) -> None:
    st.subheader("Fit vs observed and back-tests")
    folder = cal_out()
    stamp = (
        tuple((p.name, p.stat().st_mtime) for p in sorted(folder.glob("*.json")))
        if folder.is_dir()
        else ()
    )
    files = fit_files(str(folder), stamp)
    if not files:
        st.info(
            f"No calibration results in `{C.md_escape(str(folder))}` yet. A calibration "
            "(e.g. of calibration/dk_police.toml) writes its fit there as JSON; its fitted "
            "values are then shown against the published figures, and a back-test's held-out "
            "figures against their predictive intervals.",
            icon=":material/info:",
        )
        return
    names = list(files)
    if view is not None and st.session_state.get("data_fit") not in names:
        mine = [n for n in names if n.startswith(f"{view['sid']}_")]
        if mine:
            st.session_state["data_fit"] = mine[0]
    name = st.selectbox("Calibration result", names, key="data_fit")
    fit = files[name]
    st.caption(f"{C.md_escape(fit.get('problem', name))} · {C.md_escape(fit.get('method', ''))}")
    rows = pd.DataFrame(fit["observations"])
    if rows.empty:
        st.info("This result has no observations.")
        return
    rows["label"] = rows["id"].astype(str) + " (" + rows["year"].astype(str) + ")"
    interval = rows["predictive_interval"].apply(lambda v: v or [None, None])
    rows["low"] = [v[0] for v in interval]
    rows["high"] = [v[1] for v in interval]
    shares = rows[rows["quantity"].astype(str).str.contains("share")]
    if len(shares):
        st.altair_chart(H.fit_chart(shares), width="stretch")
        st.caption(
            "Black squares: the published figures; dark dots: the fitted values; bars: the "
            f"{C.fmt_pct(fit.get('level', 0.9), 0)} predictive interval."
        )
    held = rows[~rows["used_in_fit"].astype(bool)] if "used_in_fit" in rows else rows.iloc[0:0]
    if len(held):
        covered = int(held["covered"].astype(bool).sum())
        st.markdown(
            f"**Back-test:** {covered} of {len(held)} held-out figures fall inside their "
            "predictive interval."
        )
    st.dataframe(
        rows[
            [
                c
                for c in (
                    "id",
                    "population",
                    "year",
                    "quantity",
                    "observed",
                    "fitted",
                    "low",
                    "high",
                    "used_in_fit",
                    "covered",
                    "source",
                )
                if c in rows
            ]
        ],
        hide_index=True,
    )
    for w in fit.get("warnings", []) or []:
        st.warning(C.md_escape(w), icon=":material/warning:")


def page() -> None:
    st.title("Data and calibration")
    state.adopt_url_view()
    view = state.current()
    if view is not None:
        st.query_params.from_dict(view.get("url", {}))
    published_figures(view)
    scenario_sources(view)
    fits(view)


state.guarded(page, "Data")
