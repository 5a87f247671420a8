"""Sweeps page: open a ``parity sweep`` result directory and explore it.

The directories on offer are the sweep results (``manifest.json`` + ``summary.parquet``) under
the runs folder: ``$PARITY_RUNS_DIR``, else ``runs/`` in the repository (where
``parity sweep … --out runs/NAME`` writes). Only directories found there can be opened — a
path typed into the page is never read. Pick a target and two levers: the heatmap shows the
probability of meeting the target (or another statistic) at every point, the other levers
held at chosen values. URL: ``?sweep=NAME&target=…&x=…&y=…&stat=…``.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app import charts as H
from app import components as C
from app import state

K_DIR, K_TARGET, K_X, K_Y, K_STAT, K_GOAL = (
    "sw_dir",
    "sw_target",
    "sw_x",
    "sw_y",
    "sw_stat",
    "sw_goal",
)
K_URL_READ = "_sweeps_url_read"
STAT_LABELS = {
    "probability": "Probability met",
    "share_median": "Median share at the deadline",
    "expected_share": "Expected-engine share at the deadline",
    "share_p5": "5 % quantile of the share",
    "share_p95": "95 % quantile of the share",
}


def runs_root() -> Path:
    env = os.environ.get(H.RUNS_DIR_ENV)
    return Path(env) if env else C.REPO_ROOT / "runs"


@st.cache_data(max_entries=16, show_spinner=False)
def load(path: str, mtime: float) -> tuple[dict, object]:
    """Manifest and summary of a sweep directory (``mtime`` invalidates a re-run sweep)."""
    return H.load_sweep(Path(path))


def _read_url_once(dirs: list[str]) -> None:
    ss = st.session_state
    if ss.get(K_URL_READ):
        return
    ss[K_URL_READ] = True
    params = st.query_params.to_dict()
    if params.get("sweep") in dirs:
        ss[K_DIR] = params["sweep"]
    elif "sweep" in params:
        st.warning(
            f"URL parameter sweep={C.md_escape(params['sweep'])} is not a sweep result under "
            "the runs folder; showing the first one.",
            icon=":material/link_off:",
        )
    for key, ss_key in (("target", K_TARGET), ("x", K_X), ("y", K_Y), ("stat", K_STAT)):
        if key in params:
            ss[f"_url_{ss_key}"] = str(params[key])


def _pick(key: str, options: list[str], fallback: str) -> None:
    """Keep a widget's value valid: the URL's value, else the current one, else fallback."""
    ss = st.session_state
    wanted = ss.pop(f"_url_{key}", None)
    if wanted in options:
        ss[key] = wanted
    elif ss.get(key) not in options:
        ss[key] = fallback


#: The shipped example: intake share x a floor on leader promotions for the Danish police
#: (25 points, 1,000 replications each: about 4 s on two cores, measured with `parity sweep`).
EXAMPLE_SWEEP = C.REPO_ROOT / "sweeps" / "police_leaders.toml"


def example_sweep(root: Path) -> None:
    """Offer to run the shipped example sweep into the runs folder (its own subfolder), in
    this process: the same results as ``parity sweep`` (they do not depend on the executor)."""
    if not EXAMPLE_SWEEP.is_file():
        return
    out = root / EXAMPLE_SWEEP.stem
    if not st.button(
        f"Run the example sweep ({EXAMPLE_SWEEP.name}: the Danish police's intake share x a "
        "floor on leader promotions, 25 points)",
        key="sw_example",
        icon=":material/play_arrow:",
    ):
        return
    from simulator import ScenarioError
    from simulator.sweep import run_sweep

    try:
        with st.spinner("Running the example sweep …"):
            outcome = run_sweep(EXAMPLE_SWEEP, out, executor="serial")
    except (OSError, ScenarioError) as exc:
        state.show_issues(
            f"The example sweep could not be written to {out}",
            [str(i) for i in getattr(exc, "issues", [exc])],
        )
        return
    if outcome.failures:
        st.warning(f"{len(outcome.failures)} point(s) failed; see {out}.")
    st.rerun()


def page() -> None:
    st.title("Sweeps")
    root = runs_root()
    dirs = H.sweep_dirs(root)
    if not dirs:
        st.info(
            "No sweep results yet. A sweep runs a scenario over a grid of lever values (see "
            "docs/sweeps.md); its results are read from the runs folder "
            f"(`{C.md_escape(str(root))}`, or the environment variable `{H.RUNS_DIR_ENV}`). "
            "From the command line: `parity sweep sweeps/police_leaders.toml --out "
            "runs/police_leaders`.",
            icon=":material/folder_open:",
        )
        example_sweep(root)
        return
    names = list(dirs)
    _read_url_once(names)
    ss = st.session_state
    if ss.get(K_DIR) not in names:
        ss[K_DIR] = names[0]
    st.selectbox("Sweep result", names, key=K_DIR, help=f"Folders under {root}")
    path = dirs[ss[K_DIR]]
    manifest, summary = load(str(path), (path / "summary.parquet").stat().st_mtime)
    levers = H.sweep_levers(manifest, summary)
    targets = H.sweep_targets(summary)
    st.caption(
        f"{C.md_escape(manifest.get('sweep', ss[K_DIR]))} · {len(summary)} points · "
        f"{manifest.get('replications_per_point', '?')} replications each · seed "
        f"{manifest.get('seed', '?')} at every point (common random numbers) · status "
        f"{manifest.get('status', '?')} · base scenario sha256 "
        f"{str(manifest.get('base_scenario_sha256', ''))[:12]}"
    )
    if not targets or not levers:
        st.info("This sweep has no target or no lever to chart.", icon=":material/info:")
        st.dataframe(summary, hide_index=True)
        return

    _pick(K_TARGET, targets, targets[0])
    _pick(K_X, levers, levers[0])
    other = next((lv for lv in levers if lv != ss[K_X]), levers[0])
    if ss.get(K_Y) == ss[K_X] and f"_url_{K_Y}" not in ss:
        ss[K_Y] = other
    _pick(K_Y, levers, other)
    stats = [s for s in STAT_LABELS if f"{ss[K_TARGET]}.{s}" in summary]
    _pick(K_STAT, stats, stats[0])
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox("Target", targets, key=K_TARGET)
    c2.selectbox("Lever across", levers, key=K_X)
    c3.selectbox("Lever down", levers, key=K_Y)
    c4.selectbox("Show", stats, key=K_STAT, format_func=lambda s: STAT_LABELS[s])
    target, x, y, stat = ss[K_TARGET], ss[K_X], ss[K_Y], ss[K_STAT]
    st.query_params.from_dict({"sweep": ss[K_DIR], "target": target, "x": x, "y": y, "stat": stat})

    fixed = {}
    others = [lv for lv in levers if lv not in (x, y)]
    if others:
        cols = st.columns(len(others))
        for col, lv in zip(cols, others, strict=True):
            values = sorted(summary[lv].dropna().unique().tolist())
            fixed[lv] = col.select_slider(f"{lv} (held at)", values, key=f"sw_fix_{lv}")
    if x == y:
        st.info("Pick two different levers.", icon=":material/info:")
        return
    goal = None
    if stat == "probability":
        goal = (
            st.slider(
                "Outline points with a probability of at least",
                0,
                100,
                80,
                5,
                format="%d %%",
                key=K_GOAL,
            )
            / 100
        )
    try:
        grid = H.sweep_grid(summary, target, x, y, fixed)
    except ValueError as exc:
        st.info(
            f"{exc}. This sweep has several points per pair of values (a sampled sweep); "
            "the table below lists every point.",
            icon=":material/info:",
        )
        st.dataframe(summary, hide_index=True)
        return
    if grid.empty:
        st.info("No finished points at these values.", icon=":material/info:")
        return
    chart = H.sweep_heatmap(
        grid, x=x, y=y, value=stat, goal=goal, title=f"{target}: {STAT_LABELS[stat].lower()}"
    )
    st.altair_chart(chart)
    st.caption(
        "Each cell is one point of the sweep: "
        + (
            "the share of its replications that meet the target (hover for the 95 % interval)."
            if stat == "probability"
            else "a statistic of the women's share at the target's deadline."
        )
        + " Points share one seed, so neighbouring cells differ by the levers, not by luck; "
        "their Monte Carlo errors are correlated."
    )
    failed = summary[summary["status"] != "ok"] if "status" in summary else summary.iloc[0:0]
    if len(failed):
        st.warning(
            f"{len(failed)} point(s) did not finish; see the table.", icon=":material/warning:"
        )
    with st.expander("All points"):
        st.dataframe(summary, hide_index=True)


state.guarded(page, "Sweeps")
