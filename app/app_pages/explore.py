"""Explore page: run a shipped scenario and see how likely its targets are to be met.

Widgets (sidebar, all keyed and kept for the session): scenario, replications, seed, and two
what-if levers — a constant women's share of intake, and women's relative odds in
vacancy-mode promotions. ``scenario``, ``reps``, ``seed``, ``women_intake`` (percent) and
``women_odds`` are read from the URL on the first run of a session (bad values: a warning and
the default) and written back whenever they change, so a URL reproduces a view.

Runs are cached on hashable inputs only: the canonical JSON text of the (possibly
overridden) scenario, the number of replications and the seed.
"""

from __future__ import annotations

import logging

import streamlit as st

from app import components as C
from simulator import Scenario, ScenarioError, loads_scenario, run_and_summarize

log = logging.getLogger("parity.app")

K_SCENARIO = "scenario"
K_REPS = "reps"
K_SEED = "seed"
K_SHARE_ON = "whatif_share_on"
K_SHARE = "women_intake"
K_ODDS_ON = "whatif_odds_on"
K_ODDS = "women_odds"
K_POP = "population"
K_URL_READ = "_explore_url_read"
K_URL_WARNINGS = "_explore_url_warnings"
SCENARIO_DEPENDENT = (K_SEED, K_SHARE_ON, K_SHARE, K_ODDS_ON, K_ODDS, K_POP)
FALLBACK_SEED = 20250701


# ---------------------------------------------------------------------------------------------
# Cached work (hashable arguments only)
# ---------------------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def check_scenario_file(raw: bytes, source: str) -> tuple[str | None, list[str]]:
    """Validate a scenario file: (canonical JSON, []) or (None, one line per problem)."""
    try:
        scenario = loads_scenario(raw, "toml", source=source)
    except ScenarioError as exc:
        return None, [str(issue) for issue in exc.issues]
    return C.scenario_json(scenario), []


@st.cache_resource(max_entries=64, show_spinner=False)
def scenario_from_json(text: str) -> Scenario:
    """The validated (immutable) scenario of a canonical JSON text; shared, never mutated."""
    return C.scenario_from_json(text)


@st.cache_data(max_entries=32, show_spinner=False)
def simulate(scenario_text: str, replications: int, seed: int) -> dict:
    """Run the expected and the stochastic engine; return the summary and small tables."""
    scenario = C.scenario_from_json(scenario_text)
    expected, stochastic, summary = run_and_summarize(scenario, "stochastic", replications, seed)
    return {"summary": summary, **C.run_tables(expected, stochastic)}


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
    qs = C.parse_query_params(st.query_params.to_dict(), ids)
    ss[K_URL_WARNINGS] = qs.warnings
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


def _defaults_for(scenario: Scenario) -> None:
    """Fill every widget value not yet set with the scenario's own values."""
    ss = st.session_state
    ss.setdefault(K_REPS, C.REPS_DEFAULT)
    seed = scenario.simulation.seed
    ss.setdefault(K_SEED, seed if seed <= C.SEED_MAX else FALLBACK_SEED)
    ss.setdefault(K_SHARE_ON, False)
    ss.setdefault(K_SHARE, round(100 * C.baseline_intake_share(scenario)))
    ss.setdefault(K_ODDS_ON, False)
    odds = [p.women_odds for p in scenario.promotions if p.mode == "vacancy"]
    # The widget's bounds: a scenario's own odds outside them start at the nearest bound.
    ss.setdefault(K_ODDS, min(max(float(odds[0]), C.ODDS_MIN), C.ODDS_MAX) if odds else 1.0)


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
def show_issues(title: str, issues: list[str]) -> None:
    """One st.error listing every problem (never a traceback)."""
    lines = "\n".join(f"- {C.md_escape(issue)}" for issue in issues)
    st.error(f"**{C.md_escape(title)}**\n\n{lines}", icon=":material/error:")


def sidebar(ids: list[str], labels: dict[str, str], checked: dict) -> Scenario | None:
    """Render the run settings; return the selected (validated) scenario or None."""
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
        sid = st.session_state[K_SCENARIO]
        text, _ = checked[sid]
        if text is None:
            return None
        scenario = scenario_from_json(text)
        _defaults_for(scenario)
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
        st.toggle(
            "Change the women's share of intake",
            key=K_SHARE_ON,
            persist_state="session",
            help="Replace the scenario's women's share of intake by one constant value for "
            "every projection year.",
        )
        if st.session_state[K_SHARE_ON]:
            st.slider(
                "Women's share of intake",
                min_value=0,
                max_value=100,
                step=1,
                format="%d %%",
                key=K_SHARE,
                persist_state="session",
                help="Recruits reach the upper grades only after their years in the grades "
                "below, so a change in intake may not show in a top grade before a deadline.",
            )
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
    return scenario


def what_if_notes(scenario: Scenario, share: float | None, odds: float | None) -> list[str]:
    """Plain-language notes on the active what-if levers."""
    notes = []
    if share is not None:
        note = (
            f"What-if: women are {C.fmt_pct(share, 0)} of the intake in every projection year "
            f"(the scenario has {C.describe_share_series(scenario.recruitment.women_share)})."
        )
        pols = C.policies_on(scenario, "recruitment.women_share")
        if pols:
            note += f" The scenario's policies on the intake share still apply: {', '.join(pols)}."
        notes.append(note)
    if odds is not None:
        note = (
            f"What-if: women's relative odds of selection for vacancies in "
            f"{', '.join(C.vacancy_steps(scenario))} are {odds:g} (1 = gender-neutral)."
        )
        pols = C.policies_on(scenario, "promotion.women_odds")
        if pols:
            note += f" The scenario's policies on promotion odds still apply: {', '.join(pols)}."
        notes.append(note)
    return notes


def target_cards(scenario: Scenario, summary: dict) -> None:
    """One bordered card per target with four metrics."""
    cards = C.target_cards_data(summary)
    if not cards:
        st.info("This scenario has no targets; the charts below still show the projections.")
        return
    for card in cards:
        with st.container(border=True):
            st.markdown(f"**{C.md_escape(card['label'])}**")
            st.caption(
                f"{C.md_escape(C.population_label(scenario, card['population']))} · "
                f"women {C.md_escape(card['condition'])}"
            )
            c1, c2, c3, c4 = st.columns(4)
            c1.metric(
                "Probability met",
                card["probability"],
                help="Share of Monte Carlo runs in which the target is met "
                "(with the 95 % interval for the Monte Carlo error).",
            )
            c1.caption(card["probability_ci"])
            c2.metric(
                f"Median share at {card['deadline']}",
                card["median"],
                delta=card["median_delta"],
                delta_color=card["delta_color"],
                help="Median over runs of the women's share at the deadline (year-end).",
            )
            c2.caption(card["band"])
            c3.metric(
                "Expected-engine share",
                card["expected"],
                help="The deterministic expected-value path at the deadline.",
            )
            c4.metric(
                "First year met (median)",
                card["first_year"],
                help="Median over runs of the first year-end at which the condition holds.",
            )
            c4.caption(card["never"])


def charts(scenario: Scenario, result: dict) -> None:
    """Fan chart of a chosen population, headcount chart and table."""
    summary = result["summary"]
    options = C.population_options(scenario)
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
    targets = [t for t in summary["targets"] if t["population"] == population]
    chart = C.fan_chart(C.fan_data(result["shares"], population), targets=targets)
    st.altair_chart(chart, width="stretch")
    st.caption(
        "Bands: the middle 50 % and 90 % of Monte Carlo runs; solid line: their median; "
        "dashed: the expected engine. Green: target level, diamond at its deadline. "
        "Years are year-ends."
    )

    st.subheader("Headcount by grade")
    st.altair_chart(C.headcount_chart(result["stocks"], grade_order=scenario.grade_ids))
    table = C.headcount_table(result["stocks"])
    table["women_share"] = 100 * table["women_share"]  # shown as "12.1 %"
    with st.expander("Headcount table (mean over runs)"):
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
        st.download_button(
            "Download women's-share quantiles (CSV)",
            data=result["shares"].to_csv(index=False),
            file_name="shares_quantiles.csv",
            mime="text/csv",
        )


def assumptions(scenario: Scenario) -> None:
    """Expander with the scenario's sources and each block's source/assumption."""
    with st.expander("Assumptions and sources"):
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


def explore() -> None:
    """The page."""
    directory = C.scenario_dir()
    files = C.list_scenario_files(directory)
    if not files:
        st.title("Explore a scenario")
        st.info(
            f"No scenario files found in `{directory}`. Add a scenario (`*.toml`, see "
            "docs/scenario-format.md) to that folder and reload the page.",
            icon=":material/folder_open:",
        )
        return
    checked = {
        sid: check_scenario_file(path.read_bytes(), path.name) for sid, path in files.items()
    }
    ids = list(files)
    labels = {
        sid: (scenario_from_json(text).name if text else f"{files[sid].name} (invalid)")
        for sid, (text, _) in checked.items()
    }
    _read_url_once(ids)
    if st.session_state.get(K_SCENARIO) not in ids:
        valid = [sid for sid in ids if checked[sid][0] is not None]
        st.session_state[K_SCENARIO] = (valid or ids)[0]

    scenario = sidebar(ids, labels, checked)
    for warning in st.session_state.pop(K_URL_WARNINGS, []):
        st.warning(warning, icon=":material/link_off:")
    sid = st.session_state[K_SCENARIO]
    if scenario is None:
        st.title("Explore a scenario")
        show_issues(f"{files[sid].name} is not a valid scenario", checked[sid][1])
        _write_url({"scenario": sid})
        return

    ss = st.session_state
    reps, seed = int(ss[K_REPS]), int(ss[K_SEED])
    share = ss[K_SHARE] / 100 if ss[K_SHARE_ON] else None
    odds = float(ss[K_ODDS]) if ss[K_ODDS_ON] and C.vacancy_steps(scenario) else None
    url = {"scenario": sid, "reps": str(reps), "seed": str(seed)}
    if share is not None:
        url["women_intake"] = str(ss[K_SHARE])
    if odds is not None:
        url["women_odds"] = f"{odds:g}"
    _write_url(url)

    st.title(C.md_escape(scenario.name))
    if scenario.organisation:
        st.caption(C.md_escape(scenario.organisation))
    if scenario.description.strip():
        st.markdown(C.md_escape(scenario.description.strip()))
    for note in what_if_notes(scenario, share, odds):
        st.info(C.md_escape(note), icon=":material/tune:")

    try:
        run_scenario = C.apply_what_if(scenario, women_share=share, vacancy_odds=odds)
    except ScenarioError as exc:
        show_issues("The what-if settings make the scenario invalid", [str(i) for i in exc.issues])
        return
    with st.spinner("Simulating …"):
        try:
            result = simulate(C.scenario_json(run_scenario), reps, seed)
        except ScenarioError as exc:
            show_issues("The scenario cannot be run", [str(i) for i in exc.issues])
            return
    summary = result["summary"]
    path = C.display_path(files[sid])
    reproduce = (
        f" · reproduce with `parity run {path} --reps {reps} --seed {seed}`"
        if share is None and odds is None and C.SAFE_PATH.match(path)
        else ""
    )
    st.caption(
        f"{summary['replications']} replications · seed {seed} · scenario sha256 "
        f"{summary['scenario_sha256'][:12]} · uncertainty: "
        f"{C.md_escape(summary['uncertainty'])}{reproduce}"
    )
    st.subheader("Targets")
    target_cards(run_scenario, summary)
    charts(run_scenario, result)
    assumptions(scenario)


try:
    explore()
except ScenarioError as exc:  # a problem in the input: say what and where
    show_issues("Invalid input", [str(i) for i in exc.issues])
except Exception:  # never show a user a traceback; log it for the operator
    log.exception("Explore page failed")
    st.error(
        "Something went wrong while building this page. The details are in the server log; "
        "try other settings or reload the page.",
        icon=":material/error:",
    )
