"""What it takes: goal seek, the reachability bound and the gap decomposition.

All three work on the current view (the Explore scenario with its levers) and one of its
targets, through :mod:`simulator.decision`:

* **Goal seek** (``solve``) — the value of one lever at which the target is met, in
  expectation (expected engine, instant) or with a chosen probability (stochastic engine with
  common random numbers; on request, as it runs the model a few dozen times);
* **Reachability** (``reachability``) — the best case: every controllable flow (intake,
  lateral hires, vacancy promotions) given to women from the first projection year; if even
  that misses the target, no policy on those flows can meet it by the deadline;
* **Gap decomposition** (``decompose``) — how much of the change in the share from the start
  to the deadline comes from the starting structure (inertia) and from each lever group
  (recruitment, attrition, promotion) compared with a gender-neutral counterpart (Shapley
  values), as a waterfall.

URL: the view's ``scenario`` and levers, plus ``target``, ``lever`` and ``p`` (percent).
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import streamlit as st

from app import charts as H
from app import components as C
from app import state

K_TARGET, K_LEVER, K_MODE, K_P, K_REPS = "wit_target", "wit_lever", "wit_mode", "wit_p", "wit_reps"
K_URL_READ = "_wit_url_read"
K_LEVER_CHOSEN = "_wit_lever_chosen"  # the user (or a link) chose the lever: keep it
K_LEVER_FOR = "_wit_lever_for"  # the target the default lever was picked for
K_ASKED = "_wit_asked"
MODES = ("In expectation", "With a probability")


@st.cache_data(max_entries=64, show_spinner=False)
def solve_cached(
    text: str, target: str, lever: str, p: float | None, reps: int | None, seed: int | None
) -> dict:
    from simulator.decision import solve

    return solve(
        C.scenario_from_json(text), target, lever, probability=p, replications=reps, seed=seed
    ).to_dict()


@st.cache_data(max_entries=32, show_spinner=False)
def reach_cached(text: str, target: str) -> dict:
    from simulator.decision import reachability

    return reachability(C.scenario_from_json(text), target).to_dict()


@st.cache_data(max_entries=32, show_spinner=False)
def decompose_cached(text: str, target: str) -> tuple[dict, list[dict]]:
    from simulator.decision import decompose, waterfall_data

    d = decompose(C.scenario_from_json(text), target)
    return d.to_dict(), waterfall_data(d)


def own_policies(scenario, lever: str) -> tuple[str, list[str]]:
    """The parameter a goal-seek lever sets and the scenario's own policies on it whose order
    against the lever matters: on the lever's grade (``women_odds:<g>``, ``promotion_floor:<g>``)
    and, for the attrition multiplier (a scale, which commutes with other scales), women's
    attrition policies that set a value."""
    from simulator.decision import LEVERS

    kind, _, grade = lever.partition(":")
    parameter = LEVERS[kind][0]
    on_parameter = set(C.policies_on(scenario, parameter))
    out = []
    for p in scenario.policies:
        if p.id not in on_parameter:
            continue
        if grade and p.grades is not None:
            covered = {g for gid in p.grades for g in scenario.population_grades(gid)}
            if grade not in covered:
                continue
        if kind == "women_attrition_multiplier" and (
            p.set is None or (p.sexes is not None and "women" not in p.sexes)
        ):
            continue
        out.append(p.id)
    return parameter, out


def explore_link(
    view: dict, scenario, lever: str, value: float, res: dict, reps: int | None = None
) -> str | None:
    """A link to Explore with the view and the goal-seek answer as Explore's lever, where
    Explore has the same lever: the intake share (whole percent), or the odds or floor of
    the only vacancy step (Explore's apply to every vacancy step) - and the scenario has no
    own policy on it (Explore sets its levers before the scenario's policies, goal seek after).
    None otherwise."""
    kind, _, grade = lever.partition(":")
    steps = C.vacancy_steps(scenario)
    if own_policies(scenario, lever)[1]:
        return None
    # Explore's intake and floor are whole percents: rounded towards meeting the target (down
    # for "at most"), and for a band only where the whole percent stays inside it.
    down = res.get("direction") == "at_most"
    pct = math.floor(100 * value + 1e-9) if down else math.ceil(100 * value - 1e-9)
    if res.get("direction") == "between":
        low, high = res.get("met_interval") or [value, value]
        if not low - 1e-9 <= pct / 100 <= high + 1e-9:
            pct = None
    if kind == "intake_women_share" and pct is not None:
        explore_lever = {"women_share": pct / 100}
    elif kind == "women_odds" and steps == [grade] and C.ODDS_MIN <= value <= C.ODDS_MAX:
        explore_lever = {"vacancy_odds": value}
    elif kind == "promotion_floor" and steps == [grade] and pct is not None:
        explore_lever = {"women_floor": pct / 100}
    else:
        return None
    params = dict(view.get("url", {}))
    if "scenario" not in params:
        return None  # an uploaded scenario cannot travel in a link
    params |= C.lever_params(explore_lever)  # Explore's URL keys and formats
    if reps is not None:  # the search's replications, so that Explore shows the same runs
        params["reps"] = str(reps)
    return "explore?" + urlencode(params)


@st.cache_data(max_entries=32, show_spinner=False)
def lever_options(text: str) -> dict[str, str]:
    """:func:`app.components.goal_seek_levers` of the view's scenario (canonical JSON), once
    per scenario: it compiles the scenario (and a posterior's draws) for each rate step's
    odds, 37-64 ms for the calibrated defence scenario in two measurements, on every rerun
    otherwise)."""
    return C.goal_seek_levers(C.scenario_from_json(text))


fmt_lever = C.fmt_lever_value
P_MIN, P_MAX = 50, 99  # the probability slider's range, in percent


def _read_url_once(targets: list[str], levers: list[str]) -> None:
    """On a session's first run, take ``target``, ``lever`` and ``p`` from the URL; a value
    the page cannot use is named in a warning (and the page's default used)."""
    ss = st.session_state
    if ss.get(K_URL_READ):
        return
    ss[K_URL_READ] = True
    params = st.query_params.to_dict()
    warnings = []
    for key, allowed, ss_key in (("target", targets, K_TARGET), ("lever", levers, K_LEVER)):
        if key not in params:
            continue
        if params[key] in allowed:
            ss[ss_key] = params[key]
            if key == "lever":
                ss[K_LEVER_CHOSEN] = True
        else:
            warnings.append(
                f"The link's {key}={params[key]!r} is not one of this scenario's: "
                f"{', '.join(allowed)}. Showing the default."
            )
    if "p" in params:
        raw = params["p"]
        if raw.isdigit() and P_MIN <= int(raw) <= P_MAX:
            ss[K_MODE] = MODES[1]
            ss[K_P] = int(raw)
        else:
            warnings.append(
                f"The link's p={raw!r} is not a whole percent from {P_MIN} to {P_MAX}. "
                "Showing goal seek in expectation."
            )
    for text in warnings:
        st.warning(C.md_escape(text), icon=":material/link_off:")


def _lever_chosen() -> None:
    st.session_state[K_LEVER_CHOSEN] = True


def goal_seek(view: dict, scenario, target, levers: dict[str, str]) -> None:
    st.subheader("Goal seek: which lever value meets the target?")
    ss = st.session_state  # the lever: set by page() (the URL's, the user's or the default)
    ss.setdefault(K_MODE, MODES[0])
    ss.setdefault(K_P, 80)
    ss.setdefault(K_REPS, 300)
    c1, c2 = st.columns([2, 1])
    c1.selectbox(
        "Lever",
        list(levers),
        key=K_LEVER,
        format_func=levers.get,
        on_change=_lever_chosen,
    )
    c2.radio("Met", MODES, key=K_MODE, horizontal=True)
    lever = ss[K_LEVER]
    parameter, own = own_policies(scenario, lever)
    if own:
        st.caption(
            C.md_escape(
                f"Goal seek sets this lever after the scenario's own policies on {parameter} "
                f"({', '.join(own)}): the value it finds is the one in force from its year. "
                "Explore's lever of the same name is set before them, so they still act on "
                "top of it there."
            )
        )
    p = reps = seed = None
    if ss[K_MODE] == MODES[1]:
        c1, c2, c3 = st.columns([2, 1, 1])
        c1.slider("With at least this probability", P_MIN, P_MAX, key=K_P, format="%d %%")
        c2.number_input("Replications", 100, 2000, step=100, key=K_REPS)
        p, reps, seed = ss[K_P] / 100, int(ss[K_REPS]), int(view["seed"])
        ask = (view["run_json"], target.id, lever, p, reps, seed)
        if c3.button("Find the value", type="primary", key="wit_go"):
            ss[K_ASKED] = ask
        if ss.get(K_ASKED) != ask:
            st.caption(
                "A search with a probability runs the stochastic engine a few dozen times "
                f"({reps} replications each, seed {seed}, common random numbers): press "
                "*Find the value*."
            )
            return
    with st.spinner("Searching …"):
        res = solve_cached(view["run_json"], target.id, lever, p, reps, seed)
    status = res["status"]
    if status == "solved":
        answer, shown = C.lever_answer(lever, res)
        st.success(
            f"**{C.md_escape(levers[lever])}: {C.md_escape(answer)}** "
            f"(from {res.get('from_year') or '–'})",
            icon=":material/check_circle:",
        )
        st.caption(
            f"The search found {res['value']:.6g} (bracket "
            + " – ".join(f"{x:.6g}" for x in res.get("bracket") or [])
            + "); the value shown is rounded towards meeting the target."
            + (
                ""
                if p
                else " *In expectation* means the expected engine's path meets the target at "
                "this value: single runs fall either side, so the probability of meeting it "
                "there is often near one half. Choose *With a probability* for a margin."
            )
        )
        link = (
            None if shown is None else explore_link(view, scenario, lever, shown, res, reps)
        )
        if link:
            st.markdown(
                f"[Check it on Explore]({link}): the same view with this value as Explore's "
                "lever" + (f", {reps} replications and seed {seed}." if p else ".")
            )
    elif status == "met_throughout":
        st.success("The target is met across the lever's whole range.", icon=":material/check:")
    else:
        best = reach_cached(view["run_json"], target.id)
        st.warning(
            "Not reachable with this lever alone."
            + (
                " Other controllable flows can reach it: see the best case below."
                if best["reachable"]
                else ""
            ),
            icon=":material/block:",
        )
    st.markdown(C.md_escape(res["why"]))
    cols = st.columns(3)
    cols[0].metric("Method", "probability" if p else "expected engine", help=res["method"])
    if res.get("probability") is not None:
        ci = res.get("probability_ci") or [None, None]
        cols[1].metric("Probability met at the answer", C.fmt_pct(res["probability"]))
        cols[1].caption(f"95 % CI {C.fmt_pct(ci[0])}–{C.fmt_pct(ci[1])}")
    if res.get("expected_share") is not None:
        cols[2].metric("Expected share at the deadline", C.fmt_pct(res["expected_share"]))
    unc = res.get("uncertainty")
    if unc:
        st.caption(uncertainty_text(lever, unc))
    evaluations = res.get("evaluations") or []
    y = "probability" if p else "expected_share"
    if evaluations and all(y in e for e in evaluations):
        goal = p if p else (target.value if target.value is not None else target.low)
        st.altair_chart(
            H.goal_seek_chart(
                evaluations, y=y, goal=goal, answer=res.get("value"), x_title=levers[lever]
            ),
            width="stretch",
        )
        st.caption(
            "Points the search evaluated; green: the goal"
            + ("; orange: the answer." if res.get("value") is not None else ".")
        )


def uncertainty_text(lever: str, unc: dict) -> str:
    """One sentence on the answer's Monte Carlo uncertainty (``SolveResult.uncertainty``)."""
    values = [v for v in unc.get("values") or [] if v is not None]
    text = (
        f"Monte Carlo uncertainty of the answer: {C.md_escape(unc['method'])} (the first is "
        f"the seed above), the answers range from {fmt_lever(lever, unc['min'])} to "
        f"{fmt_lever(lever, unc['max'])}"
    )
    if unc.get("sd") is not None:
        percent = C.is_share_lever(lever)
        sd = f"{100 * unc['sd']:.2g} percentage points" if percent else f"{unc['sd']:.3g}"
        text += f" (standard deviation {sd})"
    missing = len(unc.get("values") or []) - len(values)
    if missing:
        text += f"; {missing} of the searches found no answer in the range"
    return text + "."


def reach(view: dict, scenario, target) -> None:
    st.subheader("Reachability: the best case")
    r = reach_cached(view["run_json"], target.id)
    level = target.value if target.value is not None else target.low
    if r["reachable"]:
        st.info(
            f"Best case {C.fmt_pct(r['value'])} in {r['deadline']} (scenario: "
            f"{C.fmt_pct(r['baseline_value'])}): the target is within reach of the "
            "controllable flows.",
            icon=":material/trending_up:",
        )
    else:
        st.warning(
            f"Even the best case reaches only {C.fmt_pct(r['value'])} in {r['deadline']}: no "
            "policy on intake, lateral hires and vacancy promotions meets the target by then.",
            icon=":material/block:",
        )
    st.altair_chart(
        H.reach_chart(
            r["years"], r["path"], r["baseline_path"], level=level, deadline=r["deadline"]
        ),
        width="stretch",
    )
    st.caption(
        "Expected engine. Best case, an assumption made for the bound: " + C.md_escape(r["note"])
    )


def decomposition(view: dict, scenario, target) -> None:
    st.subheader("Gap decomposition")
    d, steps = decompose_cached(view["run_json"], target.id)
    try:
        from app.charts_decision import waterfall_chart  # the decision helper's chart
    except ImportError:
        waterfall_chart = H.waterfall_chart
    st.altair_chart(waterfall_chart(steps), width="stretch")
    st.caption(
        f"Change in the women's share of {C.md_escape(d['population'])} from {d['start_year']} "
        f"to {d['year']} (expected engine): inertia is what the starting structure alone "
        "produces under gender-neutral flows; each lever group's term is its Shapley value "
        "against a gender-neutral counterpart (an assumption: neutral means the starting "
        "share of each entry point, women's attrition equal to men's, and gender-neutral "
        "promotion)."
    )
    table = [{"term": t["term"], "change (pp)": 100 * t["change"]} for t in d["terms"]]
    st.dataframe(
        table,
        hide_index=True,
        column_config={"change (pp)": st.column_config.NumberColumn(format="%+.2f")},
    )


def page() -> None:
    st.title("What it takes")
    state.adopt_url_view()
    view = state.current()
    if view is None:
        st.info("No scenario available: add one on the Explore page.", icon=":material/info:")
        return
    try:
        from simulator import decision  # noqa: F401
    except ImportError:
        st.info(
            "Goal seek, the reachability bound and the gap decomposition are not available "
            "yet (simulator/decision.py is missing).",
            icon=":material/construction:",
        )
        return
    scenario = state.scenario_from_json(view["run_json"])
    st.caption(
        f"Scenario: {C.md_escape(view['label'])}"
        + (
            " with the Explore levers (goal seek sets its lever after them: an Explore lever "
            "on the same parameter is replaced by the value searched)"
            if view.get("levers")
            else ""
        )
        + f" · seed {view['seed']}"
    )
    if not scenario.targets:
        st.info("This scenario has no targets.", icon=":material/info:")
        return
    targets = {t.id: t for t in scenario.targets}
    levers = lever_options(view["run_json"])
    _read_url_once(list(targets), list(levers))  # before the defaults below
    ss = st.session_state
    if ss.get(K_TARGET) not in targets:
        ss[K_TARGET] = next(iter(targets))
    st.selectbox(
        "Target",
        list(targets),
        key=K_TARGET,
        format_func=lambda t: targets[t].label or f"{t} ({targets[t].describe()})",
    )
    target = targets[ss[K_TARGET]]
    st.caption(
        C.md_escape(
            f"Condition: {target.describe()} · {C.population_label(scenario, target.population)}"
        )
    )
    # The default lever follows the target (a floor on the deployed for a deployment target,
    # a promotion floor for leaders) until the user or a link chooses one.
    if ss.get(K_LEVER) not in levers or (
        not ss.get(K_LEVER_CHOSEN) and ss.get(K_LEVER_FOR) != target.id
    ):
        ss[K_LEVER] = C.default_goal_seek_lever(scenario, target, levers)
        ss[K_LEVER_FOR] = target.id
    url = {k: v for k, v in view.get("url", {}).items() if k != "reps"}
    url.update({"target": target.id, "lever": ss[K_LEVER]})
    if ss.get(K_MODE) == MODES[1]:
        url["p"] = str(ss.get(K_P, 80))
    st.query_params.from_dict(url)
    goal_seek(view, scenario, target, levers)
    reach(view, scenario, target)
    decomposition(view, scenario, target)


state.guarded(page, "What it takes")
