"""Compare page: two to four scenarios side by side, with paired differences.

Every scenario is run with the **same seed and replications** (common random numbers), so the
difference between two scenarios is computed replication by replication: the paired mean
difference of the women's share at the deadline (normal 95 % interval) and the paired
difference of the probability met (Newcombe's interval for paired proportions), both against
the first scenario (A). The assumption diff lists every value that differs from A.

The choices: the current Explore view (with its levers), every shipped scenario and every
uploaded one. URL: ``?scenarios=view,dk_police&reps=…&seed=…`` — ``view`` stands for the
Explore view, whose scenario and levers travel in the same URL (``scenario=…&women_floor=…``).
"""

from __future__ import annotations

import streamlit as st

from app import charts as H
from app import components as C
from app import state

K_ITEMS, K_REPS, K_SEED = "cmp_items", "cmp_reps", "cmp_seed"
K_URL_READ = "_compare_url_read"
VIEW = "view"
MAX_ITEMS = 4


@st.cache_data(max_entries=16, show_spinner=False)
def compare_cached(texts: tuple[str, ...], labels: tuple[str, ...], reps: int, seed: int) -> dict:
    """``decision.compare`` on canonical JSON texts (hashable), as plain data and frames."""
    from simulator.decision import compare

    scenarios = [C.scenario_from_json(t) for t in texts]
    result = compare(scenarios, replications=reps, seed=seed, labels=list(labels))
    return {
        "targets": result.targets,
        "differences": result.differences,
        "assumptions": result.assumptions,
        "names": result.names,
    }


def _read_url_once(options: list[str]) -> None:
    ss = st.session_state
    if ss.get(K_URL_READ):
        return
    ss[K_URL_READ] = True
    params = st.query_params.to_dict()
    if "scenarios" in params:
        wanted = [x for x in str(params["scenarios"]).split(",") if x]
        picked = [x for x in wanted if x in options][:MAX_ITEMS]
        dropped = [x for x in wanted if x not in options]
        if dropped:
            st.warning(
                "URL parameter scenarios: not available here and left out: "
                + ", ".join(C.md_escape(x) for x in dropped),
                icon=":material/link_off:",
            )
        if picked:
            ss[K_ITEMS] = picked
    for key, ss_key in (("reps", K_REPS), ("seed", K_SEED)):
        qs = C.parse_query_params({key: params[key]}, []) if key in params else None
        value = getattr(qs, key) if qs else None
        if value is not None:
            ss[ss_key] = value


def sibling(first: str, options: dict[str, tuple[str, str]]) -> str:
    """A default partner for ``first``: the next scenario sharing a target id with it."""
    ids = {t.id for t in state.scenario_from_json(options[first][1]).targets}
    others = [k for k in options if k != first]
    for k in others:
        if ids & {t.id for t in state.scenario_from_json(options[k][1]).targets}:
            return k
    return others[0]


def page() -> None:
    st.title("Compare scenarios")
    st.caption(
        "Two to four scenarios side by side, run with the same seed and number of replications "
        "(common random numbers): each difference is taken replication by replication, so it "
        "shows the effect of the changed assumptions rather than different luck."
    )
    state.adopt_url_view()
    offer = state.available()
    view = state.current()
    options: dict[str, tuple[str, str]] = {}
    same = {text for _label, text in offer.values()}
    if view is not None and view.get("levers") and view["run_json"] not in same:
        # (An uploaded what-if file shown with its own levers is that upload: not offered twice.)
        options[VIEW] = (f"Explore view: {view['label']} with its levers", view["run_json"])
    options.update(offer)
    _read_url_once(list(options))
    if len(options) < 2:
        st.info(
            "Comparing needs at least two scenarios: change a lever on the Explore page (the "
            "view with its levers becomes a choice here), upload a scenario there, or add a "
            "scenario file to the scenarios folder.",
            icon=":material/info:",
        )
        return

    ss = st.session_state
    if K_ITEMS not in ss or not all(i in options for i in ss[K_ITEMS]):
        first = view["sid"] if view is not None and view["sid"] in options else next(iter(options))
        second = VIEW if VIEW in options else sibling(first, options)
        ss[K_ITEMS] = [first, second] if first != second else list(options)[:2]
    ss.setdefault(K_REPS, view["reps"] if view else C.REPS_DEFAULT)
    ss.setdefault(K_SEED, view["seed"] if view else 20250701)
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.multiselect(
        "Scenarios (the first is A, the reference)",
        list(options),
        key=K_ITEMS,
        max_selections=MAX_ITEMS,
        format_func=lambda k: options[k][0],
        persist_state="session",
    )
    c2.number_input(
        "Replications",
        min_value=C.REPS_MIN,
        max_value=C.REPS_MAX,
        step=C.REPS_STEP,
        key=K_REPS,
        persist_state="session",
    )
    c3.number_input(
        "Seed (shared)",
        min_value=0,
        max_value=C.SEED_MAX,
        step=1,
        format="%d",
        key=K_SEED,
        persist_state="session",
    )
    items = list(ss[K_ITEMS])
    reps, seed = int(ss[K_REPS]), int(ss[K_SEED])
    url = {"scenarios": ",".join(items), "reps": str(reps), "seed": str(seed)}
    if VIEW in items and view is not None:
        url.update({k: v for k, v in view.get("url", {}).items() if k not in ("reps", "seed")})
    st.query_params.from_dict(url)
    if len(items) < 2:
        st.info("Pick at least two scenarios.", icon=":material/info:")
        return

    letters = [chr(65 + i) for i in range(len(items))]
    labels = tuple(f"{letter}: {options[k][0]}" for letter, k in zip(letters, items, strict=True))
    texts = tuple(options[k][1] for k in items)
    try:
        from simulator import decision  # noqa: F401
    except ImportError:
        st.info("The comparison engine (simulator/decision.py) is not available yet.")
        return
    with st.spinner("Simulating every scenario with the same random numbers …"):
        result = compare_cached(texts, labels, reps, seed)

    targets = result["targets"]
    st.subheader("Targets side by side")
    ok = targets[targets["status"] == "ok"]
    if ok.empty:
        st.info("Scenario A has no targets to compare.", icon=":material/info:")
    else:
        table = ok.assign(
            probability=[
                f"{C.fmt_pct(p)} ({C.fmt_pct(lo).removesuffix(' %')}–{C.fmt_pct(hi)})"
                for p, lo, hi in zip(
                    ok["probability"], ok["probability_low"], ok["probability_high"], strict=True
                )
            ],
            median_share=ok["median_share"].map(C.fmt_pct),
            expected_share=ok["expected_share"].map(C.fmt_pct),
        )[["target", "scenario", "probability", "median_share", "expected_share"]]
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "target": "Target",
                "scenario": "Scenario",
                "probability": "Probability met (95 % CI)",
                "median_share": "Median share at deadline",
                "expected_share": "Expected-engine share",
            },
        )
        st.altair_chart(H.compare_chart(targets))
        na = targets[targets["status"] != "ok"]
        for name, group in na.groupby("scenario", sort=False):
            st.caption(
                f"{C.md_escape(name)}: {len(group)} target(s) of A do not apply (their "
                "population or deadline is not in this scenario): "
                + ", ".join(C.md_escape(t) for t in group["target"])
            )

    diffs = result["differences"]
    st.subheader("Paired differences against A")
    if diffs.empty:
        st.info("No target of A applies to the other scenarios.", icon=":material/info:")
    else:
        show = diffs.assign(
            share=[
                f"{100 * d:+.1f} pp ({100 * lo:+.1f} to {100 * hi:+.1f})"
                for d, lo, hi in zip(
                    diffs["share_difference"], diffs["share_low"], diffs["share_high"], strict=True
                )
            ],
            probability=[
                f"{100 * d:+.1f} pp ({100 * lo:+.1f} to {100 * hi:+.1f})"
                for d, lo, hi in zip(
                    diffs["probability_difference"],
                    diffs["probability_low"],
                    diffs["probability_high"],
                    strict=True,
                )
            ],
        )[["target", "b", "share", "probability"]]
        st.dataframe(
            show,
            hide_index=True,
            column_config={
                "target": "Target",
                "b": "Scenario B",
                "share": "Women's share at deadline, B − A (95 % CI)",
                "probability": "Probability met, B − A (95 % CI)",
            },
        )
        st.altair_chart(H.difference_chart(diffs, field="probability"))
        st.altair_chart(H.difference_chart(diffs, field="share"))
        st.caption(
            "Share: paired mean over replications with a normal 95 % interval. Probability: "
            "Newcombe's interval for paired proportions. The same seed gives every scenario the "
            "same random draws for every decision its levers do not change."
        )

    st.subheader("What differs from A")
    for name, diff in result["assumptions"].items():
        model = [d for d in diff if not H.is_text_change(d["path"])]
        text = [d for d in diff if H.is_text_change(d["path"])]
        label = f"{name} — {len(model)} model value(s) differ" + (
            f", and {len(text)} description(s) or source(s)" if text else ""
        )
        with st.expander(label, expanded=len(items) == 2):
            if not diff:
                st.caption("Identical to A.")
            if model:
                st.dataframe(H.diff_rows(model), hide_index=True)
            elif diff:
                st.caption("No value the engines use differs: only descriptions or sources.")
            if text:
                st.markdown("**Descriptions and sources that differ**")
                st.dataframe(H.diff_rows(text), hide_index=True)


state.guarded(page, "Compare")
