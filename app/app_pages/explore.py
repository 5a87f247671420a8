"""Explore page: run a shipped scenario and see how likely its targets are to be met.

Widgets (sidebar, all keyed and kept for the session): scenario (a shipped file or an
uploaded one), replications, seed, and the what-if levers — a constant women's share of
intake, women's relative odds in vacancy-mode promotions, and under "More levers" a floor on
women's share of vacancy promotions, women's and men's attrition (retention) as a percentage
of the scenario's, and the establishment as a percentage of the scenario's posts. The run
settings and every lever are read from the URL on the first run of a session (bad values: a
warning and the default) and written back whenever they change, so a URL reproduces a view
(uploaded files cannot travel in a URL: download their TOML instead).

Uploads are parsed as data only (TOML or JSON), limited to 1 MB (the engine's limit), and
validated like ``parity run``: every problem is listed in the page as ``path: message (got
value)``.

Runs are cached on hashable inputs only: the canonical JSON text of the (possibly
overridden) scenario, the number of replications and the seed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from app import components as C
from app import state
from simulator import Scenario, ScenarioError

K_SCENARIO = "scenario"
K_REPS = "reps"
K_SEED = "seed"
K_SHARE_ON = "whatif_share_on"
K_SHARE = "women_intake"
K_ODDS_ON = "whatif_odds_on"
K_ODDS = "women_odds"
K_FLOOR = "women_floor"
K_WATTR = "women_attrition"
K_MATTR = "men_attrition"
K_EST = "establishment"
#: The percent levers: each widget key is also the lever's name (``apply_what_if`` keyword and
#: URL key); the widget holds a whole percent, the lever the fraction.
PERCENT_LEVERS = (K_FLOOR, K_WATTR, K_MATTR, K_EST)
K_POP = "population"
K_FLOW_GRADE = "flow_grade"
K_HC_TABLE = "headcount_table_open"
K_FLOW_TABLE = "flows_table_open"
K_ASSUMPTIONS = "assumptions_open"
K_MORE = "more_levers_open"
K_MORE_OPENED = "_more_levers_opened"  # opened by itself this session (a link, an upload)
K_UPLOAD = "upload"
K_UPLOAD_SEEN = "_upload_seen"
K_UPLOAD_ERROR = "_upload_error"
K_RAN_ONCE = "_explore_ran_once"
K_URL_READ = "_explore_url_read"
K_URL_WARNINGS = "_explore_url_warnings"
K_URL_LEVERS = "_explore_url_levers"  # the link's levers and parameters, until checked
SCENARIO_DEPENDENT = (
    K_SEED,
    K_SHARE_ON,
    K_SHARE,
    K_ODDS_ON,
    K_ODDS,
    K_FLOOR,
    K_WATTR,
    K_MATTR,
    K_EST,
    K_POP,
    K_FLOW_GRADE,
)


scenario_from_json = state.scenario_from_json
simulate = state.simulate


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------
def _reset_scenario_settings() -> None:
    """On a scenario change: seed and what-ifs return to the new scenario's own values."""
    for key in SCENARIO_DEPENDENT:
        st.session_state.pop(key, None)


def _read_url_once(ids: list[str]) -> None:
    """On the first run of a session, pre-fill the widgets from the URL."""
    ss = st.session_state
    if ss.get(K_URL_READ):
        return
    ss[K_URL_READ] = True
    params = st.query_params.to_dict()
    qs = C.parse_query_params(params, ids)
    ss[K_URL_WARNINGS] = qs.warnings
    ss[K_URL_LEVERS] = (C.levers_from_settings(qs), params)  # checked once the scenario is known
    if qs.scenario is not None:
        ss[K_SCENARIO] = qs.scenario
    if qs.reps is not None:
        ss[K_REPS] = qs.reps
    if qs.seed is not None:
        ss[K_SEED] = qs.seed
    if qs.women_intake is not None:
        ss[K_SHARE_ON] = True
        ss[K_SHARE] = qs.women_intake
    if qs.women_odds is not None:
        ss[K_ODDS_ON] = True
        ss[K_ODDS] = qs.women_odds
    for key in PERCENT_LEVERS:
        value = getattr(qs, key)
        if value is not None:
            ss[key] = value


def _defaults_for(scenario: Scenario, levers: dict[str, float] | None = None) -> None:
    """Fill every widget value not yet set with the scenario's own values, or with the
    ``levers`` an uploaded what-if file carries (``apply_what_if`` keywords)."""
    ss = st.session_state
    for key, value in (own_widget_values(scenario) | lever_widgets(levers or {})).items():
        ss.setdefault(key, value)
    ss.setdefault(K_REPS, C.REPS_DEFAULT)
    ss.setdefault(K_SEED, state.seed_of(scenario))


def own_widget_values(scenario: Scenario) -> dict[str, Any]:
    """The lever widgets at the scenario's own values (every lever off)."""
    share = C.baseline_intake_share(scenario)
    odds = [p.women_odds for p in scenario.promotions if p.mode == "vacancy"]
    return {
        K_SHARE_ON: False,
        K_SHARE: round(100 * share) if share is not None else 50,
        K_ODDS_ON: False,
        # The widget's bounds: a scenario's own odds outside them start at the nearest bound.
        K_ODDS: min(max(float(odds[0]), C.ODDS_MIN), C.ODDS_MAX) if odds else 1.0,
        K_FLOOR: C.floor_default(scenario),
        **{key: 100 for key in (K_WATTR, K_MATTR, K_EST)},
    }


def lever_widgets(levers: dict[str, float]) -> dict[str, Any]:
    """Widget values that set ``levers`` (``apply_what_if`` keywords): the inverse of
    :func:`active_levers`. Percent sliders take whole percents."""
    out: dict[str, Any] = {}
    if "women_share" in levers:
        out[K_SHARE_ON], out[K_SHARE] = True, round(100 * levers["women_share"])
    if "vacancy_odds" in levers:
        out[K_ODDS_ON], out[K_ODDS] = True, levers["vacancy_odds"]
    for key in PERCENT_LEVERS:
        if key in levers:
            out[key] = round(100 * levers[key])
    return out


#: Widget ranges of the percent levers: (lowest, highest, step).
PERCENT_WIDGETS = {
    K_SHARE: (0, 100, 1),
    K_FLOOR: (0, 100, 1),
    K_WATTR: (C.ATTRITION_PCT_MIN, C.ATTRITION_PCT_MAX, 5),
    K_MATTR: (C.ATTRITION_PCT_MIN, C.ATTRITION_PCT_MAX, 5),
    K_EST: (C.ESTABLISHMENT_PCT_MIN, C.ESTABLISHMENT_PCT_MAX, 5),
}


def levers_fit_widgets(scenario: Scenario, levers: dict[str, float]) -> bool:
    """Whether the widgets can hold ``levers`` exactly (whole percents on each slider's
    steps, odds within the number field's range) and give them back (a lever at the
    scenario's own value, which the widgets would drop, does not fit)."""
    widgets = lever_widgets(levers)
    if active_levers(scenario, own_widget_values(scenario) | widgets) != levers:
        return False  # not whole percents, or a lever at the scenario's own value
    for key, (lo, hi, step) in PERCENT_WIDGETS.items():
        if key in widgets and not (lo <= widgets[key] <= hi and (widgets[key] - lo) % step == 0):
            return False
    return not ("vacancy_odds" in levers and not C.ODDS_MIN <= levers["vacancy_odds"] <= C.ODDS_MAX)


def _take_upload() -> None:
    """Validate a newly uploaded file; a valid one becomes the selected scenario."""
    ss = st.session_state
    upload = ss.get(K_UPLOAD)
    if upload is None:
        ss.pop(K_UPLOAD_SEEN, None)
        ss.pop(K_UPLOAD_ERROR, None)
        return
    raw = upload.getvalue()
    digest = hashlib.sha256(raw).hexdigest()
    if ss.get(K_UPLOAD_SEEN) == digest:
        return
    ss[K_UPLOAD_SEEN] = digest
    uid, issues = state.add_upload(raw, upload.name)
    if uid is None:
        ss[K_UPLOAD_ERROR] = (upload.name, issues)
        return
    ss.pop(K_UPLOAD_ERROR, None)
    _reset_scenario_settings()
    ss[K_SCENARIO] = uid


def _write_url(settings: dict[str, str]) -> None:
    """Keep the URL in step with the widgets (only the keys that differ are written)."""
    current = st.query_params.to_dict()
    for key in C.QUERY_KEYS:
        if key in settings:
            if current.get(key) != settings[key]:
                st.query_params[key] = settings[key]
        elif key in current:
            del st.query_params[key]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
show_issues = state.show_issues


def sidebar(
    ids: list[str], labels: dict[str, str], checked: dict, levers: dict[str, float]
) -> Scenario | None:
    """Render the run settings; return the selected (validated) scenario or None.

    ``levers``: what-if levers an uploaded file carries (its first values; :func:`_defaults_for`).
    """
    with st.sidebar:
        st.header("Run settings")
        st.selectbox(
            "Scenario",
            ids,
            key=K_SCENARIO,
            format_func=lambda sid: labels.get(sid, sid),
            on_change=_reset_scenario_settings,
            persist_state="session",
            help="The scenario files shipped in scenarios/*.toml.",
        )
        st.file_uploader(
            "Or upload a scenario file",
            type=state.UPLOAD_TYPES,
            key=K_UPLOAD,
            max_upload_size=1,
            help="A scenario file (TOML or JSON, see docs/scenario-format.md), up to 1 MB. "
            "It is read as data only and validated like `parity run`; it stays for this "
            "browser session and is not stored on the server.",
        )
        sid = st.session_state[K_SCENARIO]
        text, _ = checked[sid]
        if text is None:
            return None
        scenario = scenario_from_json(text)
        _defaults_for(scenario, levers)
        st.number_input(
            "Replications",
            min_value=C.REPS_MIN,
            max_value=C.REPS_MAX,
            step=C.REPS_STEP,
            key=K_REPS,
            persist_state="session",
            help="Monte Carlo runs of the stochastic engine. More runs narrow the interval "
            "around the probability, not the spread of outcomes.",
        )
        st.number_input(
            "Seed",
            min_value=0,
            max_value=C.SEED_MAX,
            step=1,
            format="%d",
            key=K_SEED,
            persist_state="session",
            help="Root seed of the random streams. The same scenario, replications and seed "
            "give identical results. Defaults to the scenario's own seed, as in `parity run`.",
        )
        st.subheader("What if …")
        if C.has_intake_share(scenario):
            intake_lever()
        if C.vacancy_steps(scenario):
            st.toggle(
                "Change women's odds in vacancy promotions",
                key=K_ODDS_ON,
                persist_state="session",
                help="Relative odds of selecting an eligible woman rather than an eligible man "
                "when a post falls vacant (1 = gender-neutral), for every vacancy-filled grade: "
                + ", ".join(C.vacancy_steps(scenario)),
            )
            if st.session_state[K_ODDS_ON]:
                st.number_input(
                    "Women's relative odds of selection",
                    min_value=C.ODDS_MIN,
                    max_value=C.ODDS_MAX,
                    step=0.1,
                    format="%.2f",
                    key=K_ODDS,
                    persist_state="session",
                )
        more_levers(scenario)
    return scenario


#: Short names of the levers under "More levers": the percent levers.
MORE_LEVER_NAMES = dict(
    zip(
        PERCENT_LEVERS,
        ("promotion floor", "women's attrition", "men's attrition", "establishment"),
        strict=True,
    )
)


#: The expander's label. Constant: Streamlit's expander identity includes its label even with a
#: key, so a label that changed with the levers would close the box under a moving slider.
MORE_LEVERS_LABEL = "More levers: retention, promotion floor, posts"


def more_levers(scenario: Scenario) -> None:
    """The expander of the less-used levers; its sliders are built only while it is open
    (``on_change="rerun"``). A closed box draws no slider, so a first page does not make the
    browser load and draw the slider code (the first page's median was 0.24 s lower in one
    paired batch of 8 runs each; docs/app.md, Speed); the sliders' values are kept meanwhile
    (``persist_state="session"``) and stay in force, and a caption under the closed box names
    those changed. It opens by itself when one of its levers is changed on arrival (a shared
    link, an uploaded what-if file), once per session: closed, it stays closed.
    """
    ss = st.session_state
    changed = [key for key in PERCENT_LEVERS if key in active_levers(scenario)]
    # Opened by itself once per session (the expander's own state is not kept across a page
    # switch, so its absence does not say whether it was opened before).
    if changed and not ss.get(K_MORE_OPENED):
        ss[K_MORE] = ss[K_MORE_OPENED] = True
    box = st.expander(MORE_LEVERS_LABEL, key=K_MORE, on_change="rerun")
    if not box.open:
        if changed:  # a closed box must not hide a lever in force
            st.caption(
                "Changed in this box: "
                + ", ".join(MORE_LEVER_NAMES[key] for key in changed)
                + ". The notes on the page say what each does."
            )
        return
    with box:
        if C.vacancy_steps(scenario):
            percent_slider(
                "Floor on women's share of vacancy promotions",
                K_FLOOR,
                "At least this share of the promotions into "
                + ", ".join(C.vacancy_steps(scenario))
                + " go to women, as far as eligible women exist. Starts at the "
                "scenario's own floor.",
            )
        percent_slider(
            "Women's attrition (% of the scenario's)",
            K_WATTR,
            "Every annual leaving probability of women, as a percentage of the "
            "scenario's: 80 % means a fifth fewer women leave (better retention).",
        )
        percent_slider(
            "Men's attrition (% of the scenario's)",
            K_MATTR,
            "Every annual leaving probability of men, as a percentage of the "
            "scenario's: 120 % means a fifth more men leave.",
        )
        if C.has_establishment(scenario):
            percent_slider(
                "Establishment (% of the scenario's posts)",
                K_EST,
                "The authorised posts of every grade with an establishment ("
                + ", ".join(g.id for g in scenario.grades if g.establishment is not None)
                + "), as a percentage of the scenario's, rounded to whole posts.",
            )


def percent_slider(label: str, key: str, help_text: str) -> None:
    """A whole-percent lever slider, kept for the session, with its range and step from
    :data:`PERCENT_WIDGETS` (the ranges :func:`levers_fit_widgets` checks links against)."""
    lo, hi, step = PERCENT_WIDGETS[key]
    st.slider(
        label,
        min_value=lo,
        max_value=hi,
        step=step,
        format="%d %%",
        key=key,
        persist_state="session",
        help=help_text,
    )


def intake_lever() -> None:
    """The women's-share-of-intake toggle and slider."""
    st.toggle(
        "Change the women's share of intake",
        key=K_SHARE_ON,
        persist_state="session",
        help="Replace the scenario's women's share of intake by one constant value from the "
        "scenario's first lever year on (the first projection year; for a calibrated "
        "scenario, the year after its last published figure: history stays as fitted).",
    )
    if st.session_state[K_SHARE_ON]:
        percent_slider(
            "Women's share of intake",
            K_SHARE,
            "Recruits reach the upper grades only after their years in the grades "
            "below, so a change in intake may not show in a top grade before a deadline.",
        )


def active_levers(scenario: Scenario, values: Any = None) -> dict[str, float]:
    """The levers in force as ``apply_what_if`` keyword arguments (only the changed ones),
    from the widgets' values (``values``, default the session's)."""
    ss = st.session_state if values is None else values
    given: dict[str, float] = {}
    if ss[K_SHARE_ON]:
        given["women_share"] = ss[K_SHARE] / 100
    if ss[K_ODDS_ON]:
        given["vacancy_odds"] = float(ss[K_ODDS])
    given |= {key: ss[key] / 100 for key in PERCENT_LEVERS}
    # those the scenario has something for, and not at its own value: as a link's levers
    return C.applicable_levers(scenario, given)


def what_if_notes(scenario: Scenario, share: float | None, odds: float | None) -> list[str]:
    """Plain-language notes on the active what-if levers."""
    notes = []
    if share is not None:
        note = (
            f"What-if: women are {C.fmt_pct(share, 0)} of the intake from "
            f"{C.first_simulated_year(scenario)} "
            f"(the scenario has {C.describe_share_series(scenario.recruitment.women_share)})."
        )
        pols = C.policies_on(scenario, "recruitment.women_share")
        if pols:
            note += f" The scenario's policies on the intake share still apply: {', '.join(pols)}."
        notes.append(note)
    if odds is not None:
        note = (
            f"What-if: women's relative odds of selection for vacancies in "
            f"{', '.join(C.vacancy_steps(scenario))} are {odds:g} (1 = gender-neutral) from "
            f"{C.first_simulated_year(scenario)}."
        )
        pols = C.policies_on(scenario, "promotion.women_odds")
        if pols:
            note += f" The scenario's policies on promotion odds still apply: {', '.join(pols)}."
        notes.append(note)
    return notes


def lever_notes(scenario: Scenario, levers: dict[str, float]) -> list[str]:
    """Plain-language notes on every active lever."""
    notes = what_if_notes(scenario, levers.get("women_share"), levers.get("vacancy_odds"))
    steps = ", ".join(C.vacancy_steps(scenario))
    if "women_floor" in levers:
        note = (
            f"What-if: at least {C.fmt_pct(levers['women_floor'], 0)} of the promotions into "
            f"{steps} go to women from {C.first_simulated_year(scenario)}, as far as eligible "
            f"women exist (the scenario has {C.floor_default(scenario)} %)."
        )
        pols = C.policies_on(scenario, "promotion.women_floor")
        if pols:
            note += f" The scenario's policies on the floor still apply: {', '.join(pols)}."
        notes.append(note)
    for key, who in (("women_attrition", "women"), ("men_attrition", "men")):
        if key in levers:
            note = (
                f"What-if: {who}'s attrition is {C.fmt_pct(levers[key], 0)} of the scenario's "
                f"in every grade from {C.first_simulated_year(scenario)}."
            )
            pols = C.policies_on(scenario, "attrition")
            if pols:
                note += f" The scenario's attrition policies still apply: {', '.join(pols)}."
            notes.append(note)
    if "establishment" in levers:
        grades = ", ".join(g.id for g in scenario.grades if g.establishment is not None)
        notes.append(
            f"What-if: the establishment of {grades} is {C.fmt_pct(levers['establishment'], 0)} "
            f"of the scenario's posts from {C.first_simulated_year(scenario)}."
        )
    return notes


METRIC_HELP = {
    "probability": "Share of Monte Carlo runs in which the target is met "
    "(with the 95 % interval for the Monte Carlo error).",
    "median": "Median over runs of the women's share at the deadline (year-end).",
    "expected": "The deterministic expected-value path at the deadline.",
    "first_year": "Median over runs of the first year-end at which the condition holds.",
}


def target_cards(scenario: Scenario, summary: dict) -> None:
    """One bordered card per target with four metrics.

    The metrics' explanations (``help`` tooltips) are on the first card only: they are the
    same on every card, and each tooltip costs the browser time to draw (with 14 targets,
    56 of them took about 0.4 s of the first page).
    """
    cards = C.target_cards_data(summary)
    if not cards:
        st.info("This scenario has no targets; the charts below still show the projections.")
        return
    if len(cards) > 1:
        st.caption("Hover over the question marks of the first card for what each number means.")
    for i, card in enumerate(cards):
        helps = METRIC_HELP if i == 0 else dict.fromkeys(METRIC_HELP)
        with st.container(border=True):
            st.markdown(f"**{C.md_escape(card['label'])}**")
            st.caption(
                f"{C.md_escape(C.population_label(scenario, card['population']))} · "
                f"women {C.md_escape(card['condition'])}"
            )
            c1, c2, c3, c4 = st.columns(4)
            c1.metric("Probability met", card["probability"], help=helps["probability"])
            c1.caption(card["probability_ci"])
            c2.metric(
                f"Median share at {card['deadline']}",
                card["median"],
                delta=card["median_delta"],
                delta_color=card["delta_color"],
                help=helps["median"],
            )
            c2.caption(card["band"])
            c3.metric("Expected-engine share", card["expected"], help=helps["expected"])
            c4.metric("First year met (median)", card["first_year"], help=helps["first_year"])
            c4.caption(card["never"])


def charts(scenario: Scenario, result: dict, run_key: tuple[str, int, int]) -> None:
    """Fan chart of a chosen population, headcount and flows charts and tables.

    ``run_key`` = (canonical JSON, replications, seed) of the run: the cache key of the specs.
    """
    options = state.chart_populations(scenario, result["shares"])
    if st.session_state.get(K_POP) not in options:
        st.session_state[K_POP] = options[0]
    st.subheader("Women's share over time")
    population = st.selectbox(
        "Population",
        options,
        key=K_POP,
        format_func=lambda p: C.population_label(scenario, p),
        persist_state="session",
    )
    observed = C.observed_points(scenario, population)
    state.chart(state.fan_spec(*run_key, population), stretch=True)
    st.caption(
        "Bands: the middle 50 % and 90 % of Monte Carlo runs; solid line: their median; "
        "dashed: the expected engine"
        + (
            " at the point estimate (the calibration's MAP), one path of many: the runs draw "
            "their parameters from the posterior, so their median need not follow it"
            if result["summary"].get("parameter_uncertainty")
            else ""
        )
        + ". Green: target level, diamond at its deadline. "
        "Black squares: published figures. Years are year-ends."
    )
    for row in observed.itertuples():
        st.caption(
            f"Published: {C.fmt_pct(row.share, 1)} women at the end of {row.year} — source "
            f"`{row.source}`" + (f" ({C.md_escape(row.where)})" if row.where else "")
        )

    st.subheader("Headcount by grade")
    state.chart(state.headcount_spec(*run_key))
    # The tables are built and sent only while their expander is open (on_change="rerun"):
    # a first page without a table does not make the browser load and compile the front
    # end's data-grid code (about 1.3 MB of JavaScript; docs/app.md, Speed).
    box = st.expander("Headcount table (mean over runs)", key=K_HC_TABLE, on_change="rerun")
    with box:
        if box.open:
            table = C.headcount_table(result["stocks"])
            table["women_share"] = 100 * table["women_share"]  # shown as "12.1 %"
            st.dataframe(
                table,
                hide_index=True,
                column_config={
                    "year": st.column_config.NumberColumn("Year-end", format="%d"),
                    "grade": st.column_config.TextColumn("Grade"),
                    "women": st.column_config.NumberColumn("Women", format="%.1f"),
                    "men": st.column_config.NumberColumn("Men", format="%.1f"),
                    "total": st.column_config.NumberColumn("Total", format="%.1f"),
                    "women_share": st.column_config.NumberColumn("Women's share", format="%.1f %%"),
                },
            )

    st.subheader("Flows")
    grades = scenario.grade_ids
    if st.session_state.get(K_FLOW_GRADE) not in grades:
        st.session_state[K_FLOW_GRADE] = state.default_flow_grade(scenario)
    grade = st.selectbox(
        "Grade",
        grades,
        key=K_FLOW_GRADE,
        format_func=lambda g: C.population_label(scenario, g),
        persist_state="session",
    )
    state.chart(state.flows_spec(*run_key, grade))
    st.caption(
        "Mean number of people a year over the runs: inflows above zero (recruited, promoted "
        "in, lateral entry), outflows below (left, promoted out)."
    )
    box = st.expander("Flows table (mean over runs)", key=K_FLOW_TABLE, on_change="rerun")
    with box:
        if box.open:
            flows = C.flows_wide(result["flows"])
            st.dataframe(
                flows[flows["grade"] == grade],
                hide_index=True,
                column_config={"year": st.column_config.NumberColumn("Year", format="%d")},
            )


def assumptions(scenario: Scenario) -> None:
    """Expander with the scenario's sources and each block's source/assumption.

    Built only while open (``on_change="rerun"``): a scenario's sources and provenance run to
    tens of kilobytes of Markdown, which the browser would otherwise lay out on every first
    page even though the expander starts closed.
    """
    box = st.expander("Assumptions and sources", key=K_ASSUMPTIONS, on_change="rerun")
    with box:
        if not box.open:
            return
        st.markdown("**Sources**")
        if not scenario.sources:
            st.caption("This scenario cites no sources: every number is an assumption.")
        items = []
        for sid, src in scenario.sources.items():
            # Ids match [A-Za-z0-9_.-]+ (validated), so they go into code spans unescaped.
            parts = [f"`{sid}` — {C.md_escape(src.title)}"]
            meta = ", ".join(str(x) for x in (src.publisher, src.year) if x)
            if meta:
                parts.append(C.md_escape(meta))
            if src.locator:
                parts.append(f"at {C.md_escape(src.locator)}")
            if src.url:
                parts.append(C.md_escape(src.url))
            if src.quote:
                parts.append(f"quote: “{C.md_escape(src.quote)}”")
            items.append("- " + "; ".join(parts))
        st.markdown("\n".join(items))
        st.markdown("**Where each number comes from**")
        items = []
        for row in C.provenance_rows(scenario):
            bits = []
            if row["source"]:
                where = f" ({C.md_escape(row['locator'])})" if row["locator"] else ""
                bits.append(f"source `{row['source']}`{where}")
            if row["assumption"]:
                bits.append(f"assumption: {C.md_escape(row['assumption'])}")
            items.append(f"- **{C.md_escape(row['block'])}** — " + "; ".join(bits))
        st.markdown("\n".join(items))


def downloads(view: dict, run_scenario: Scenario, result: dict) -> None:
    """Scenario (TOML), results (CSV, Excel) and the board report (offline HTML)."""
    st.subheader("Downloads")
    stem = view["sid"] if C.SAFE_PATH.match(view["sid"]) else "scenario"
    stem += "-whatif" if view["notes"] else ""
    text, reps, seed = view["run_json"], view["reps"], view["seed"]
    notes, reproduce = tuple(view["notes"]), view.get("reproduce", "")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(
        "Scenario (TOML)",
        data=lambda: C.scenario_toml(run_scenario),  # built on click, not on every rerun
        file_name=f"{stem}.toml",
        mime="application/toml",
        on_click="ignore",
        icon=":material/description:",
        help="The scenario with the levers above applied: `parity run` reads it.",
    )
    c2.download_button(
        "Results (CSV)",
        data=lambda: C.results_csv(result["summary"], result),
        file_name=f"{stem}-shares.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        help="Quantiles of the women's share by population and year.",
    )
    c3.download_button(
        "Results (Excel)",
        data=lambda: state.results_excel(text, reps, seed),
        file_name=f"{stem}-results.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        on_click="ignore",
        icon=":material/grid_on:",
        help="Targets, shares, headcount, flows, assumptions and sources, one sheet each.",
    )
    c4.download_button(
        "Report (HTML)",
        data=lambda: state.report_html(text, reps, seed, notes, reproduce),
        file_name=f"{stem}-report.html",
        mime="text/html",
        on_click="ignore",
        type="primary",
        icon=":material/summarize:",
        help="One self-contained file for the board: charts, targets, assumptions and "
        "sources. It opens offline and loads nothing from the network.",
    )


def explore() -> None:
    """The page."""
    _take_upload()
    directory = C.scenario_dir()
    files, checked = state.shipped()
    uploaded = state.uploads()
    if not files and not uploaded:
        st.title("Explore a scenario")
        st.info(
            f"No scenario files found in `{directory}`. Add a scenario (`*.toml`, see "
            "docs/scenario-format.md) to that folder and reload the page.",
            icon=":material/folder_open:",
        )
        with st.sidebar:
            st.file_uploader(
                "Or upload a scenario file",
                type=state.UPLOAD_TYPES,
                key=K_UPLOAD,
                max_upload_size=1,
            )
        upload_error()
        return
    upload_levers: dict[str, dict[str, float]] = {}
    for uid in uploaded:
        text, levers = state.upload_levers(uid)
        if levers and not levers_fit_widgets(scenario_from_json(text), levers):
            # the file's own text: its levers stay policies
            text, levers = uploaded[uid], {}
        checked[uid] = (text, [])  # a what-if file: its scenario, and its levers set below
        upload_levers[uid] = levers
    ids = list(checked)
    labels = {
        sid: (scenario_from_json(text).name if text else f"{files[sid].name} (invalid)")
        for sid, (text, _) in checked.items()
    }
    for uid in uploaded:
        labels[uid] += " (uploaded)"
    _read_url_once(list(files))
    if st.session_state.get(K_SCENARIO) not in ids:
        valid = [sid for sid in ids if checked[sid][0] is not None]
        st.session_state[K_SCENARIO] = (valid or ids)[0]

    scenario = sidebar(ids, labels, checked, upload_levers.get(st.session_state[K_SCENARIO], {}))
    warnings = st.session_state.pop(K_URL_WARNINGS, [])
    url_levers, params = st.session_state.pop(K_URL_LEVERS, ({}, {}))
    if scenario is not None:
        warnings += C.unusable_lever_warnings(scenario, url_levers, params)
    for warning in warnings:
        st.warning(C.md_escape(warning), icon=":material/link_off:")
    upload_error()
    sid = st.session_state[K_SCENARIO]
    is_upload = sid in uploaded
    if scenario is None:
        st.title("Explore a scenario")
        show_issues(f"{files[sid].name} is not a valid scenario", checked[sid][1])
        _write_url({"scenario": sid})
        return

    ss = st.session_state
    reps, seed = int(ss[K_REPS]), int(ss[K_SEED])
    levers = active_levers(scenario)
    url = {"reps": str(reps), "seed": str(seed)}
    if not is_upload:
        url["scenario"] = sid
    url |= C.lever_params(levers)
    _write_url(url)

    st.title(C.md_escape(scenario.name))
    if scenario.organisation:
        st.caption(C.md_escape(scenario.organisation))
    if scenario.description.strip():
        st.markdown(C.md_escape(scenario.description.strip()))
    if is_upload:
        st.info(
            "An uploaded scenario cannot travel in a link: share its TOML file (Downloads, "
            "below) together with the seed and replications shown under the title.",
            icon=":material/upload_file:",
        )
    notes = lever_notes(scenario, levers)
    for note in notes:
        st.info(C.md_escape(note), icon=":material/tune:")
    kept = [p.id for p in scenario.policies if C.is_what_if_policy(p.id, p.assumption)]
    if kept:  # a what-if file the widgets cannot reproduce (edited by hand): say so
        st.info(
            C.md_escape(
                f"This scenario carries what-if policies written by the app that the levers "
                f"do not show: {', '.join(kept)} (their values under Assumptions and "
                "sources). They apply as the scenario's own; moving the same lever replaces "
                "its policy."
            ),
            icon=":material/tune:",
        )

    try:
        run_json = state.what_if_json(checked[sid][0], tuple(sorted(levers.items())))
    except ScenarioError as exc:
        show_issues("The what-if settings make the scenario invalid", [str(i) for i in exc.issues])
        return
    run_scenario = scenario_from_json(run_json)
    with st.spinner("Simulating …"):
        try:
            result = simulate(run_json, reps, seed)
        except ScenarioError as exc:
            show_issues("The scenario cannot be run", [str(i) for i in exc.issues])
            return
    summary = result["summary"]
    reproduce = ""
    if not is_upload:
        path = C.display_path(files[sid])
        if not levers and C.SAFE_PATH.match(path):
            reproduce = f"parity run {path} --reps {reps} --seed {seed}"
    view = {
        "sid": sid,
        "label": labels[sid],
        "base_json": checked[sid][0],
        "run_json": run_json,
        "reps": reps,
        "seed": seed,
        "notes": notes,
        "levers": levers,
        "url": url,
        "reproduce": reproduce,
    }
    state.set_current(view)
    st.caption(
        f"{summary['replications']} replications · seed {seed} · scenario sha256 "
        f"{summary['scenario_sha256'][:12]} · uncertainty: "
        f"{C.md_escape(summary['uncertainty'])}"
        + (f" · reproduce with `{reproduce}`" if reproduce else "")
    )
    st.subheader("Targets")
    target_cards(run_scenario, summary)
    charts(run_scenario, result, (run_json, reps, seed))
    downloads(view, run_scenario, result)
    assumptions(scenario)
    # SciPy for the first lever change: imported once the first page has been drawn, or at
    # once on the session's second run (a click), whichever comes first (state.preload_scipy).
    state.preload_scipy(0.0 if st.session_state.get(K_RAN_ONCE) else state.PRELOAD_DELAY_S)
    st.session_state[K_RAN_ONCE] = True


def upload_error() -> None:
    """The problems of the last uploaded file, if it was invalid (while it is still chosen)."""
    err = st.session_state.get(K_UPLOAD_ERROR)
    if err:
        name, issues = err
        show_issues(f"The uploaded file {name} is not a valid scenario", issues)


state.guarded(explore, "Explore")
