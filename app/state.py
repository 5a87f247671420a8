"""Shared Streamlit-level helpers of the pages: cached engine calls and the current view.

* Cached work takes **hashable inputs only**: the canonical JSON text of a scenario (see
  :func:`app.components.scenario_json`), the number of replications and an int seed — never a
  Generator or a mutable model.
* The *current view* — the scenario chosen on Explore with its levers, replications and seed —
  is kept under the non-widget key ``_current`` (widget keys vanish when their page is not
  shown), so Compare, What it takes, Data and About work on the same scenario.
* Uploaded scenarios live under ``_uploads`` (``{id: canonical JSON}``) for the session.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from app import components as C
from simulator import Scenario, ScenarioError, loads_scenario, run_and_summarize
from simulator.scenario import MAX_FILE_BYTES

K_CURRENT = "_current"
K_UPLOADS = "_uploads"
K_UPLOAD_LEVERS = "_upload_levers"
#: The engine's own limit on a scenario file (simulator.scenario.MAX_FILE_BYTES, 1 MB): any file
#: the engine accepts - the app's own download of a calibrated scenario (up to about 380 KB) -
#: can be uploaded back. Enforced in code as well as by the widget and the server config.
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
UPLOAD_TYPES = ["toml", "json"]
FALLBACK_SEED = 20250701  # Explore's seed for a scenario whose own seed is beyond SEED_MAX


# ---------------------------------------------------------------------------------------------
# Cached work (hashable arguments only)
# ---------------------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def check_scenario_file(raw: bytes, source: str) -> tuple[str | None, list[str]]:
    """Validate a scenario file: (canonical JSON, []) or (None, one line per problem).

    A name ending in ``.json`` is read as JSON, anything else as TOML; both as data only. The
    engine's loader limits the size (:data:`MAX_UPLOAD_BYTES` = its ``MAX_FILE_BYTES``), for
    uploads and the scenario folder alike, and says how large the file is.
    """
    fmt = "json" if source.lower().endswith(".json") else "toml"
    try:
        scenario = loads_scenario(raw, fmt, source=source)
    except ScenarioError as exc:
        return None, [str(issue) for issue in exc.issues]
    return C.scenario_json(scenario), []


@st.cache_resource(max_entries=64, show_spinner=False)
def scenario_from_json(text: str) -> Scenario:
    """The validated (immutable) scenario of a canonical JSON text; shared, never mutated."""
    return C.scenario_from_json(text)


@st.cache_data(max_entries=64, show_spinner=False)
def what_if_json(base_json: str, levers: tuple[tuple[str, float], ...]) -> str:
    """The canonical JSON of the scenario ``base_json`` with the what-if ``levers`` applied
    (``apply_what_if`` keywords and values). Cached: Explore asks for it on every rerun, and
    building it takes 4 ms (no lever) to 7 ms (one lever) on the calibrated police.

    Raises
    ------
    ScenarioError
        If the levers make the scenario invalid (not cached: asked again, it raises again).
    """
    return C.scenario_json(C.apply_what_if(scenario_from_json(base_json), **dict(levers)))


@st.cache_data(max_entries=32, show_spinner=False)
def simulate(scenario_text: str, replications: int, seed: int) -> dict:
    """Run the expected and the stochastic engine; return the summary and small tables."""
    scenario = C.scenario_from_json(scenario_text)
    expected, stochastic, summary = run_and_summarize(scenario, "stochastic", replications, seed)
    return {"summary": summary, **C.run_tables(expected, stochastic)}


@st.cache_data(max_entries=128, show_spinner=False)
def fan_spec(scenario_text: str, replications: int, seed: int, population: str) -> dict:
    """Vega-Lite spec of a run's fan chart (cached: building a spec costs a tenth of a second)."""
    data = simulate(scenario_text, replications, seed)
    scenario = scenario_from_json(scenario_text)
    targets = [t for t in data["summary"]["targets"] if t["population"] == population]
    return C.fan_chart(
        C.fan_data(data["shares"], population),
        targets=targets,
        observed=C.observed_points(scenario, population),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def headcount_spec(scenario_text: str, replications: int, seed: int) -> dict:
    """Vega-Lite spec of a run's headcount chart."""
    data = simulate(scenario_text, replications, seed)
    grades = scenario_from_json(scenario_text).grade_ids
    return C.headcount_chart(data["stocks"], grade_order=grades)


@st.cache_data(max_entries=128, show_spinner=False)
def flows_spec(scenario_text: str, replications: int, seed: int, grade: str) -> dict:
    """Vega-Lite spec of a run's flows chart for one grade."""
    data = simulate(scenario_text, replications, seed)
    return C.flows_chart(data["flows"], grade=grade)


@st.cache_data(max_entries=16, show_spinner=False)
def report_html(
    scenario_text: str, replications: int, seed: int, notes: tuple[str, ...], reproduce: str
) -> str:
    """The board report (``app/report.py``) of a run; cached like the run itself."""
    from app.report import build_report

    scenario = C.scenario_from_json(scenario_text)
    return build_report(
        scenario,
        run=simulate(scenario_text, replications, seed),
        notes=notes,
        reproduce=reproduce or None,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def results_excel(scenario_text: str, replications: int, seed: int) -> bytes:
    """The run as an Excel workbook (``components.results_excel``)."""
    scenario = C.scenario_from_json(scenario_text)
    data = simulate(scenario_text, replications, seed)
    return C.results_excel(scenario, data["summary"], data)


# ---------------------------------------------------------------------------------------------
# Scenarios on offer
# ---------------------------------------------------------------------------------------------
#: The scenario a new visitor sees first (listed first when shipped): the Danish police, whose
#: 2030 leader target is the headline question (README). Otherwise the files sort by name.
DEFAULT_SCENARIO = "dk_police"


def shipped() -> tuple[dict[str, Path], dict[str, tuple[str | None, list[str]]]]:
    """``({id: path}, {id: (json or None, issues)})`` of the scenario folder, the
    :data:`DEFAULT_SCENARIO` first."""
    files = C.list_scenario_files(C.scenario_dir())
    if DEFAULT_SCENARIO in files:
        files = {DEFAULT_SCENARIO: files[DEFAULT_SCENARIO]} | files
    checked = {sid: check_scenario_file(p.read_bytes(), p.name) for sid, p in files.items()}
    return files, checked


def uploads() -> dict[str, str]:
    """The session's uploaded scenarios, ``{id: canonical JSON}`` (ids start ``upload-``)."""
    return st.session_state.setdefault(K_UPLOADS, {})


def add_upload(raw: bytes, name: str) -> tuple[str | None, list[str]]:
    """Validate an uploaded file; on success keep it and return ``(id, [])``.

    A file downloaded with what-if levers set carries them as its first policies; they are
    split off for Explore (:func:`upload_levers`), whose levers then start at those values.
    """
    text, issues = check_scenario_file(raw, name)
    if text is None:
        return None, issues
    uid = "upload-" + hashlib.sha256(raw).hexdigest()[:10]
    uploads()[uid] = text
    base, levers = C.split_what_if(scenario_from_json(text))
    st.session_state.setdefault(K_UPLOAD_LEVERS, {})[uid] = (
        (C.scenario_json(base), levers) if levers else (text, {})
    )
    return uid, []


def upload_levers(uid: str) -> tuple[str, dict[str, float]]:
    """``(canonical JSON without its what-if policies, the levers they set)`` of an upload
    (the file's own text and no levers when it carries none)."""
    return st.session_state.get(K_UPLOAD_LEVERS, {}).get(uid, (uploads()[uid], {}))


def available() -> dict[str, tuple[str, str]]:
    """Every valid scenario on offer: ``{id: (label, canonical JSON)}`` (shipped, uploads)."""
    _files, checked = shipped()
    out: dict[str, tuple[str, str]] = {}
    for sid, (text, _) in checked.items():
        if text is not None:
            out[sid] = (scenario_from_json(text).name, text)
    for uid, text in uploads().items():
        out[uid] = (f"{scenario_from_json(text).name} (uploaded)", text)
    return out


def seed_of(scenario: Scenario) -> int:
    """The seed Explore starts a scenario with: its own, or a fallback if out of range."""
    seed = scenario.simulation.seed
    return seed if seed <= C.SEED_MAX else FALLBACK_SEED


def chart_populations(scenario: Scenario, shares: Any) -> list[str]:
    """The populations the fan chart offers (those present in a run's share table)."""
    present = set(shares["population"])
    return [p for p in C.population_options(scenario) if p in present]


def default_flow_grade(scenario: Scenario) -> str:
    """The grade Explore's flows chart shows first (and the warm-up draws): the top grade."""
    return scenario.grade_ids[-1]


def default_run() -> tuple[Scenario, tuple[str, int, int]] | None:
    """The scenario and run key ``(run JSON, replications, seed)`` of Explore opened without a
    URL: the first valid shipped scenario, no lever, :data:`components.REPS_DEFAULT`."""
    _files, checked = shipped()
    for text, _issues in checked.values():
        if text is not None:
            scenario = scenario_from_json(text)
            run_json = C.scenario_json(C.apply_what_if(scenario))
            return scenario, (run_json, C.REPS_DEFAULT, seed_of(scenario))
    return None


def warm_up() -> tuple[str, int, int] | None:
    """Compute what the first Explore page of a new server shows, into the shared caches.

    Called by ``app/serve.py`` in a background thread while the browser loads Streamlit's
    front end: the engine run of :func:`default_run` at its real replications and seed, its
    tables and the chart specs the page draws first. A page that asks for the same thing
    meanwhile waits for it (Streamlit holds one compute lock per cache key) instead of
    computing it twice. Returns the run key, or None when no scenario is valid.
    """
    default = default_run()
    if default is None:
        return None
    scenario, key = default
    data = simulate(*key)
    populations = chart_populations(scenario, data["shares"])
    if populations:
        fan_spec(*key, populations[0])  # Explore's default population: the first offered
    headcount_spec(*key)
    flows_spec(*key, default_flow_grade(scenario))
    return key


_PRELOAD = threading.Lock()
_PRELOAD_NOW = threading.Event()
_preloaded = False
_preload_thread: threading.Thread | None = None
#: Seconds after the end of a session's first page run before SciPy is imported: the browser
#: is drawing that page meanwhile (measured 0.3-1.0 s after the script ends), and the import
#: would compete with serving its front-end code.
PRELOAD_DELAY_S = 2.0
#: Called (no arguments) in the preload thread once SciPy is imported: ``app.serve`` adds
#: ``gc.freeze`` (SciPy's modules then stay out of every later full garbage collection).
AFTER_PRELOAD: list[Callable[[], None]] = []


def preload_scipy(delay: float = 0.0) -> None:
    """Import, in a background thread, what a first lever change needs and a first page does
    not: SciPy, which the engines import when they first draw or average a weighted selection
    (odds != 1) - about a second, which would otherwise fall on a visitor's first lever change.

    Explore calls it at the end of a session's first run with ``delay`` =
    :data:`PRELOAD_DELAY_S` (the import then waits until the page has been drawn), and with no
    delay from the second run on (a click: the import starts at once, or the pending one stops
    waiting). Once per process; in the warm-up thread the import delayed the first page.
    """
    global _preloaded, _preload_thread
    if delay <= 0:
        _PRELOAD_NOW.set()
    with _PRELOAD:
        if _preloaded:
            return
        _preloaded = True

    def work() -> None:
        _PRELOAD_NOW.wait(timeout=delay)  # returns at once when a run asked for it now
        import scipy.optimize
        import scipy.stats  # noqa: F401

        for hook in AFTER_PRELOAD:
            hook()

    _preload_thread = threading.Thread(target=work, name="parity-preload", daemon=True)
    _preload_thread.start()


# ---------------------------------------------------------------------------------------------
# The current view (set by Explore)
# ---------------------------------------------------------------------------------------------
def set_current(view: dict[str, Any]) -> None:
    """Record the view Explore shows (keys: sid, label, base_json, run_json, reps, seed, notes)."""
    st.session_state[K_CURRENT] = view


def current() -> dict[str, Any] | None:
    """The view Explore last showed, or the first valid shipped scenario at its defaults."""
    view = st.session_state.get(K_CURRENT)
    if view is not None:
        return view
    offer = available()
    if not offer:
        return None
    sid, (label, text) = next(iter(offer.items()))
    scenario = scenario_from_json(text)
    return {
        "sid": sid,
        "label": label,
        "base_json": text,
        "run_json": text,
        "reps": C.REPS_DEFAULT,
        "seed": seed_of(scenario),
        "notes": [],
    }


def view_from_params(params: dict) -> dict[str, Any] | None:
    """Rebuild an Explore view from URL parameters (``scenario`` and the levers), or None.

    The levers are those Explore would apply (:func:`components.applicable_levers`).

    Raises
    ------
    ScenarioError
        If the levers make the scenario invalid (e.g. attrition above 1).
    """
    files, checked = shipped()
    qs = C.parse_query_params(params, list(files))
    if qs.scenario is None or checked[qs.scenario][0] is None:
        return None
    base = checked[qs.scenario][0]
    scenario = scenario_from_json(base)
    given = C.levers_from_settings(qs)
    levers = C.applicable_levers(scenario, given)
    run_json = what_if_json(base, tuple(sorted(levers.items())))
    reps = qs.reps or C.REPS_DEFAULT
    seed = qs.seed if qs.seed is not None else seed_of(scenario)
    applied = C.lever_params(levers)
    # What the page writes back: what the view is (no lever or value it left out).
    url = {"scenario": qs.scenario, "reps": str(reps), "seed": str(seed), **applied}
    return {
        "sid": qs.scenario,
        "label": scenario.name,
        "base_json": base,
        "run_json": run_json,
        "reps": reps,
        "seed": seed,
        "notes": [f"{k}={v}" for k, v in applied.items()],
        "warnings": qs.warnings + C.unusable_lever_warnings(scenario, given, params),
        "levers": levers,
        "url": url,
        "reproduce": "",
    }


def adopt_url_view() -> None:
    """On a page other than Explore: if the URL names a scenario and no view exists yet
    (a shared link opened directly), make that scenario with its levers the current view."""
    if st.session_state.get(K_CURRENT) is None and "scenario" in st.query_params:
        params = st.query_params.to_dict()
        files, _checked = shipped()
        qs = C.parse_query_params(params, list(files))
        try:
            view = view_from_params(params)
        except ScenarioError as exc:
            levers = C.lever_params(C.levers_from_settings(qs))  # the valid ones, as applied
            given = ", ".join(f"{k}={v}" for k, v in levers.items())
            show_issues(
                f"The link's levers ({given}) make the scenario invalid; open it on Explore "
                "to change them",
                [str(i) for i in exc.issues],
            )
            return
        # Said once: the view then is the current one (or, without one, the page's default).
        for warning in qs.warnings if view is None else view["warnings"]:
            st.warning(C.md_escape(warning), icon=":material/link_off:")
        if view is not None:
            set_current(view)


def show_issues(title: str, issues: list[str]) -> None:
    """One st.error listing every problem (never a traceback)."""
    lines = "\n".join(f"- {C.md_escape(issue)}" for issue in issues)
    st.error(f"**{C.md_escape(title)}**\n\n{lines}", icon=":material/error:")


def guarded(page: Any, name: str) -> None:
    """Run a page function: input problems as an error list, anything else as a plain message."""
    import logging

    try:
        page()
    except ScenarioError as exc:
        show_issues("Invalid input", [str(i) for i in exc.issues])
    except Exception:  # never show a user a traceback; log it for the operator
        logging.getLogger("parity.app").exception("%s page failed", name)
        st.error(
            "Something went wrong while building this page. The details are in the server "
            "log; try other settings or reload the page.",
            icon=":material/error:",
        )


def chart(spec: dict, *, stretch: bool = False) -> None:
    """Show a Vega-Lite spec built (and cached) from one of the pure chart builders.

    The builders are unit-tested on their specs, so the JSON-schema validation and data
    sanitising that ``st.altair_chart`` repeats on every rerun (about 0.3 s of a cached
    Explore rerun) are skipped: the cached spec is shown as is.
    """
    st.vega_lite_chart(spec, width="stretch" if stretch else "content")
