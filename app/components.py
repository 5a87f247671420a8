"""Pure helpers of the app: no Streamlit calls here, so unit tests can check them directly.

Sections
--------
* **Scenario files** — where the shipped scenarios are (``scenarios/*.toml``, or the
  directory named by the environment variable ``PARITY_SCENARIO_DIR``), canonical JSON text
  of a scenario (the cache key of a run) and back.
* **What-if levers** — :func:`apply_what_if` returns a *new*, re-validated scenario with the
  women's share of intake (and optionally the women's odds in vacancy promotions) replaced;
  the scenario passed in is never changed.
* **URL parameters** — :func:`parse_query_params` validates ``scenario``, ``reps``, ``seed``,
  ``women_intake`` and ``women_odds`` (all strings in a URL) and says what was wrong.
* **Run tables** — :func:`run_tables` turns an expected and a stochastic
  :class:`~simulator.Result` into small tidy frames (quantiles of the women's share by
  population and year, the expected path, mean headcount by grade and sex).
* **Charts and cards** — :func:`fan_chart`, :func:`headcount_chart`, :func:`flows_chart`
  (Vega-Lite specs as dicts, written without Altair: its import and conversion cost the first
  page about half a second) and
  :func:`target_cards_data` (display strings of each target's card).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator import Result, Scenario, ScenarioError, compile_scenario, parse_scenario
from simulator.errors import Issue
from simulator.scenario import FUNNEL_POPULATIONS, Series, scenario_to_data

REPO_ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR_ENV = "PARITY_SCENARIO_DIR"

# Run settings offered in the app (the engine allows more; the app keeps first renders fast).
REPS_MIN, REPS_MAX, REPS_DEFAULT, REPS_STEP = 100, 2000, 500, 100
SEED_MAX = 2**53 - 1  # largest integer a browser number field holds exactly
ODDS_MIN, ODDS_MAX = 0.1, 10.0

# Retention and establishment levers are whole percentages of the scenario's own values.
ATTRITION_PCT_MIN, ATTRITION_PCT_MAX = 10, 300
ESTABLISHMENT_PCT_MIN, ESTABLISHMENT_PCT_MAX = 50, 200

QUERY_KEYS = (
    "scenario",
    "reps",
    "seed",
    "women_intake",
    "women_odds",
    "women_floor",
    "women_attrition",
    "men_attrition",
    "establishment",
)

# Fan chart series, in legend order, with their colours.
FAN_SERIES = ("90 % of runs", "50 % of runs", "median (Monte Carlo)", "expected engine", "target")
FAN_COLORS = ("#9ecae1", "#4292c6", "#08306b", "#e6550d", "#31a354")
OBSERVED_SERIES, OBSERVED_COLOR = "published figure", "#111111"


# ---------------------------------------------------------------------------------------------
# Scenario files
# ---------------------------------------------------------------------------------------------
def scenario_dir() -> Path:
    """Directory of the scenarios the app offers (``$PARITY_SCENARIO_DIR`` or ``scenarios/``)."""
    env = os.environ.get(SCENARIO_DIR_ENV)
    return Path(env) if env else REPO_ROOT / "scenarios"


def list_scenario_files(directory: Path) -> dict[str, Path]:
    """Return ``{file stem: path}`` of the ``*.toml`` files in ``directory``, sorted by stem."""
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.toml")) if p.is_file()}


SAFE_PATH = re.compile(r"^[A-Za-z0-9_./\-]+$")


def display_path(path: Path) -> str:
    """``path`` relative to the repository root when inside it (as a user would type it)."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def scenario_json(scenario: Scenario) -> str:
    """Canonical JSON text of a scenario (sorted keys): a hashable key for caching a run."""
    return json.dumps(scenario_to_data(scenario), sort_keys=True, separators=(",", ":"))


def scenario_from_json(text: str) -> Scenario:
    """Validate a scenario from its canonical JSON text (see :func:`scenario_json`)."""
    return parse_scenario(json.loads(text))


# ---------------------------------------------------------------------------------------------
# What-if levers
# ---------------------------------------------------------------------------------------------
def first_simulated_year(scenario: Scenario) -> int:
    """The first year the what-if levers change (``simulation.levers_from_year``, default the
    first projection year, ``start_year + 1``)."""
    return scenario.first_lever_year


def has_intake_share(scenario: Scenario) -> bool:
    """Whether the scenario sets a women's share of intake (not so for a conscription funnel)."""
    return getattr(scenario.recruitment, "women_share", None) is not None


def baseline_intake_share(scenario: Scenario) -> float | None:
    """Women's share of intake in the first simulated year, before policies (None if the
    intake comes from a conscription funnel, which has no single share)."""
    if not has_intake_share(scenario):
        return None
    return scenario.recruitment.women_share.at(first_simulated_year(scenario))


def describe_share_series(series: Series) -> str:
    """Plain-language form of a share over time, e.g. ``34 % from 2025``."""
    if series.kind == "constant":
        return fmt_pct(series.constant, 1)
    if series.kind == "steps":
        return ", ".join(f"{fmt_pct(v, 1)} from {y}" for y, v in series.steps)
    return (
        f"{fmt_pct(series.start, 1)} until {series.from_year}, rising linearly to "
        f"{fmt_pct(series.end, 1)} in {series.to_year}"
    )


def vacancy_steps(scenario: Scenario) -> list[str]:
    """Ids of the grades filled by vacancy-mode promotion."""
    return [p.to for p in scenario.promotions if p.mode == "vacancy"]


def policies_on(scenario: Scenario, parameter: str) -> list[str]:
    """Ids of the scenario's policies that change ``parameter`` (not its what-if levers: a
    lever moved in the app replaces the policy it wrote before)."""
    return [
        p.id
        for p in scenario.policies
        if p.parameter == parameter and not is_what_if_policy(p.id, p.assumption)
    ]


def is_what_if_policy(pid: str, assumption: str | None) -> bool:
    """Whether a policy is one a what-if lever wrote (:func:`apply_what_if`): its id and
    the start of its assumption."""
    return bool(re.fullmatch(_WHAT_IF_ID, pid)) and str(assumption or "").startswith(
        WHAT_IF_ASSUMPTION
    )


#: Id prefix of the policies the what-if levers add (``what-if-women-share`` ...).
WHAT_IF_POLICY = "what-if"
WHAT_IF_ASSUMPTION = "What-if lever set in the app"
#: The lever each what-if policy id stands for (``apply_what_if`` keyword).
WHAT_IF_LEVERS = {
    f"{WHAT_IF_POLICY}-women-share": "women_share",
    f"{WHAT_IF_POLICY}-odds": "vacancy_odds",
    f"{WHAT_IF_POLICY}-floor": "women_floor",
    f"{WHAT_IF_POLICY}-women-attrition": "women_attrition",
    f"{WHAT_IF_POLICY}-men-attrition": "men_attrition",
    f"{WHAT_IF_POLICY}-establishment": "establishment",
}
_WHAT_IF_ID = rf"({'|'.join(map(re.escape, WHAT_IF_LEVERS))})(-x)*"


def apply_what_if(
    scenario: Scenario,
    *,
    women_share: float | None = None,
    vacancy_odds: float | None = None,
    women_floor: float | None = None,
    women_attrition: float | None = None,
    men_attrition: float | None = None,
    establishment: float | None = None,
) -> Scenario:
    """Return a new validated scenario with the what-if levers applied.

    Every lever is in force from the scenario's first lever year
    (:func:`first_simulated_year`: ``simulation.levers_from_year``, else the first projection
    year) to the end: a calibrated scenario that starts in its fitting period keeps its
    history. Each lever is a dated policy (``what-if-…``, ``from_year`` = that year), put
    *before* the scenario's own policies, so those still apply on top of it, as they apply on
    top of the scenario's own values; the scenario's values, and a posterior sample over them,
    are left as they are. A lever that the scenario already carries (a what-if file
    downloaded and uploaded again) is replaced where it stands.

    Parameters
    ----------
    scenario
        The validated scenario; it is not changed (the policies are added to a plain copy of
        its data, which is validated again).
    women_share
        Women's share of intake (0-1) in every year from the first lever year (a policy
        setting ``recruitment.women_share``).
    vacancy_odds
        Relative odds of selecting a woman rather than a man for every vacancy-mode
        promotion step (1 = gender-neutral): sets those steps' ``promotion.women_odds``.
    women_floor
        Floor (0-1) on women's share of the promotions into every vacancy-mode grade: sets
        those steps' ``promotion.women_floor``.
    women_attrition, men_attrition
        Factors on every annual attrition probability of women (men): 0.8 means 20 % fewer
        leavers (a retention lever); scales ``attrition``.
    establishment
        Factor on the establishment (authorised posts) of every grade that has one (the
        engines round posts to whole numbers).

    Raises
    ------
    ScenarioError
        If a lever has nothing to act on in the scenario (:func:`unusable_levers`: callers
        leave those out with :func:`applicable_levers`), or the changed scenario is invalid
        (e.g. a share outside 0-1, attrition above 1).
    """
    given = {
        name: value
        for name, value in (
            ("women_share", women_share),
            ("vacancy_odds", vacancy_odds),
            ("women_floor", women_floor),
            ("women_attrition", women_attrition),
            ("men_attrition", men_attrition),
            ("establishment", establishment),
        )
        if value is not None
    }
    if not given:
        return scenario
    unusable = unusable_levers(scenario, given)
    if unusable:
        raise ScenarioError(
            [
                Issue(name, f"does nothing on this scenario: {why}", given[name])
                for name, why in unusable.items()
            ],
            scenario.name,
        )
    year = first_simulated_year(scenario)
    steps = vacancy_steps(scenario)
    posts = [g.id for g in scenario.grades if g.establishment is not None]
    added: list[dict[str, Any]] = []

    def lever(name: str, parameter: str, what: str, **change: Any) -> None:
        value = change.get("set", change.get("scale"))
        added.append(
            {
                "id": f"{WHAT_IF_POLICY}-{name}",
                "parameter": parameter,
                "from_year": year,
                **change,
                "assumption": f"{WHAT_IF_ASSUMPTION}: {what} = {value:g} from {year}.",
            }
        )

    if women_share is not None:
        lever("women-share", "recruitment.women_share", "women's share of intake", set=women_share)
    if vacancy_odds is not None:
        lever(
            "odds",
            "promotion.women_odds",
            f"women's odds in vacancy promotions into {', '.join(steps)}",
            set=float(vacancy_odds),
            grades=steps,
        )
    if women_floor is not None:
        lever(
            "floor",
            "promotion.women_floor",
            f"floor on women's share of promotions into {', '.join(steps)}",
            set=float(women_floor),
            grades=steps,
        )
    for sex, factor in (("women", women_attrition), ("men", men_attrition)):
        if factor is not None:
            lever(
                f"{sex}-attrition",
                "attrition",
                f"factor on {sex}'s attrition",
                scale=float(factor),
                sexes=[sex],
            )
    if establishment is not None:
        lever(
            "establishment",
            "establishment",
            f"factor on the establishment of {', '.join(posts)}",
            scale=float(establishment),
            grades=posts,
        )
    data = scenario_to_data(scenario)
    policies = list(data.get("policies", []))
    front = []
    for pol in added:
        same = [  # the same lever (renamed "…-x" where the scenario had the id already)
            i
            for i, p in enumerate(policies)
            if re.fullmatch(re.escape(pol["id"]) + r"(-x)*", p["id"])
            and p["parameter"] == pol["parameter"]
            and is_what_if_policy(p["id"], p.get("assumption"))
        ]
        if same:  # set by the same lever before (a what-if file uploaded again): replaced
            policies[same[0]] = {**pol, "id": policies[same[0]]["id"]}
            continue
        taken = {p["id"] for p in policies + front}
        while pol["id"] in taken:
            pol["id"] += "-x"
        front.append(pol)
    data["policies"] = front + policies
    post = data.get("posterior")
    if post and front:  # paths into the scenario's own policies by position move down
        post["parameters"] = [_shift_policy_index(p, len(front)) for p in post["parameters"]]
    changed = parse_scenario(data, source=f"{scenario.name} (what-if)")
    compile_scenario(changed)  # a lever that makes a probability impossible fails here
    return changed


def split_what_if(scenario: Scenario) -> tuple[Scenario, dict[str, float]]:
    """A scenario whose first policies are what-if levers (a file downloaded with levers set)
    as ``(the scenario without them, the levers)``, so that the levers can start at the values
    the file carries; ``apply_what_if(base, **levers)`` gives back exactly the scenario (it is
    checked here, else nothing is split: ``(scenario, {})``)."""
    policies = scenario.policies
    levers: dict[str, float] = {}
    for pol in policies:
        name = WHAT_IF_LEVERS.get(pol.id)
        if name is None or name in levers:
            break
        levers[name] = float(pol.set if pol.set is not None else pol.scale)
    if not levers:
        return scenario, {}
    data = scenario_to_data(scenario)
    data["policies"] = data["policies"][len(levers) :]
    post = data.get("posterior")
    if post:
        post["parameters"] = [_shift_policy_index(p, -len(levers)) for p in post["parameters"]]
    try:
        base = parse_scenario(data, source=scenario.name)
        again = apply_what_if(base, **levers)
    except (ScenarioError, ValueError):
        return scenario, {}
    if scenario_json(again) != scenario_json(scenario):
        return scenario, {}
    return base, levers


_POLICY_INDEX = re.compile(r"^policies\[(\d+)\]")


def _shift_policy_index(path: str, by: int) -> str:
    """``policies[2].set`` -> ``policies[2+by].set`` (other paths as they are)."""
    return _POLICY_INDEX.sub(lambda m: f"policies[{int(m.group(1)) + by}]", path)


# ---------------------------------------------------------------------------------------------
# URL query parameters
# ---------------------------------------------------------------------------------------------
@dataclass
class QuerySettings:
    """Run settings read from the URL: ``None`` where the URL gives no (valid) value."""

    scenario: str | None = None
    reps: int | None = None
    seed: int | None = None
    women_intake: int | None = None  # percent, 0-100
    women_odds: float | None = None
    women_floor: int | None = None  # percent, 0-100
    women_attrition: int | None = None  # percent of the scenario's attrition
    men_attrition: int | None = None
    establishment: int | None = None  # percent of the scenario's establishment
    warnings: list[str] = field(default_factory=list)


_INT_RE = re.compile(r"^\d{1,20}$")
_FLOAT_RE = re.compile(r"^\d{1,6}(\.\d{1,6})?$")


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value).strip()


def parse_query_params(params: Mapping[str, Any], scenario_ids: Sequence[str]) -> QuerySettings:
    """Validate the app's URL parameters; bad values are dropped with a warning each.

    Unknown parameters are ignored. ``women_intake`` and ``women_floor`` are whole percentages
    (``40`` = 40 %); ``women_attrition``, ``men_attrition`` and ``establishment`` are whole
    percentages of the scenario's own values (``80`` = 20 % fewer leavers).
    """
    out = QuerySettings()
    if "scenario" in params:
        raw = _first(params["scenario"])
        if raw in scenario_ids:
            out.scenario = raw
        else:
            known = ", ".join(scenario_ids) or "none"
            out.warnings.append(
                f"URL parameter scenario={raw!r} is not a shipped scenario (known: {known}); "
                "showing the default scenario."
            )

    def integer(key: str, lo: int, hi: int, what: str) -> int | None:
        if key not in params:
            return None
        raw = _first(params[key])
        if _INT_RE.match(raw) and lo <= int(raw) <= hi:
            return int(raw)
        out.warnings.append(
            f"URL parameter {key}={raw!r} is not {what} from {lo} to {hi}; using the default."
        )
        return None

    out.reps = integer("reps", REPS_MIN, REPS_MAX, "a whole number of replications")
    out.seed = integer("seed", 0, SEED_MAX, "a whole-number seed")
    out.women_intake = integer("women_intake", 0, 100, "a whole percentage")
    out.women_floor = integer("women_floor", 0, 100, "a whole percentage")
    out.women_attrition = integer(
        "women_attrition", ATTRITION_PCT_MIN, ATTRITION_PCT_MAX, "a whole percentage"
    )
    out.men_attrition = integer(
        "men_attrition", ATTRITION_PCT_MIN, ATTRITION_PCT_MAX, "a whole percentage"
    )
    out.establishment = integer(
        "establishment", ESTABLISHMENT_PCT_MIN, ESTABLISHMENT_PCT_MAX, "a whole percentage"
    )
    if "women_odds" in params:
        raw = _first(params["women_odds"])
        value = float(raw) if _FLOAT_RE.match(raw) else math.nan
        if math.isfinite(value) and ODDS_MIN <= value <= ODDS_MAX:
            out.women_odds = value
        else:
            out.warnings.append(
                f"URL parameter women_odds={raw!r} is not a number from {ODDS_MIN:g} to "
                f"{ODDS_MAX:g}; using the scenario's odds."
            )
    return out


# ---------------------------------------------------------------------------------------------
# Run tables
# ---------------------------------------------------------------------------------------------
_QUANTILE_COLUMNS = {"q0.05": "p05", "q0.25": "p25", "q0.5": "p50", "q0.75": "p75", "q0.95": "p95"}


def run_tables(expected: Result, stochastic: Result) -> dict[str, pd.DataFrame]:
    """Small tidy tables of a run, for charts and tables (cheap to cache and pickle).

    Returns
    -------
    dict
        ``shares``: one row per (population, year) with the stochastic quantiles of the
        women's share ``p05 p25 p50 p75 p95``, its ``mean`` and the ``expected`` (expected
        engine) share; ``stocks``: one row per (year, grade, sex) with the mean
        ``headcount`` over replications.
    """
    q = stochastic.quantiles_frame()
    wide = (
        q.pivot_table(index=["population", "year"], columns="statistic", values="share")
        .rename(columns={**_QUANTILE_COLUMNS, "mean": "mean"})
        .reset_index()
    )
    wide.columns.name = None
    exp_rows = []
    for pop in expected.population_names:
        share = expected.share(pop)[0]
        exp_rows.append(
            pd.DataFrame({"population": pop, "year": expected.years, "expected": share})
        )
    shares = wide.merge(pd.concat(exp_rows, ignore_index=True), on=["population", "year"])
    shares["year"] = shares["year"].astype(int)
    shares = shares[["population", "year", "p05", "p25", "p50", "p75", "p95", "mean", "expected"]]

    c = stochastic.compiled
    mean_stock = stochastic.raw.stock.mean(axis=0)  # [Y+1, G, 2]
    Y1, G, S = mean_stock.shape
    idx = np.indices((Y1, G, S)).reshape(3, -1)
    stocks = pd.DataFrame(
        {
            "year": stochastic.years[idx[0]].astype(int),
            "grade": np.array(c.grade_ids)[idx[1]],
            "grade_index": idx[1],
            "sex": np.array(["women", "men"])[idx[2]],
            "headcount": mean_stock.reshape(-1),
        }
    )
    return {"shares": shares, "stocks": stocks, "flows": flow_table(stochastic)}


FLOW_LABELS = {
    "recruits": "recruited",
    "promoted_in": "promoted in",
    "lateral_in": "lateral entry",
    "promoted_out": "promoted out",
    "leavers": "left",
}


def flow_table(result: Result) -> pd.DataFrame:
    """Mean flows over replications: one row per (year, grade, sex, flow).

    Columns ``year, grade, grade_index, sex, flow, count`` (``count`` the mean number of
    people). Inflows (recruited, promoted in, lateral entry) are positive; outflows (left,
    promoted out) negative, so a stacked bar shows both on either side of zero.
    """
    from simulator.engine import FLOWS

    c = result.compiled
    mean = result.raw.flows.mean(axis=0)  # [Y, G, 2, F]
    Y, G, S, F = mean.shape
    idx = np.indices((Y, G, S, F)).reshape(4, -1)
    names = np.array(FLOWS)[idx[3]]
    sign = np.where(np.isin(names, ("leavers", "promoted_out")), -1.0, 1.0)
    return pd.DataFrame(
        {
            "year": result.years[1:][idx[0]].astype(int),
            "grade": np.array(c.grade_ids)[idx[1]],
            "grade_index": idx[1],
            "sex": np.array(["women", "men"])[idx[2]],
            "flow": [FLOW_LABELS[n] for n in names],
            "count": sign * mean.reshape(-1),
        }
    )


def flows_wide(flows: pd.DataFrame) -> pd.DataFrame:
    """The flows as a table: one row per (year, grade, sex), one column per flow (positive)."""
    wide = flows.assign(count=flows["count"].abs()).pivot_table(
        index=["year", "grade_index", "grade", "sex"], columns="flow", values="count"
    )
    wide = wide.reset_index().sort_values(["year", "grade_index", "sex"], ascending=[1, 1, 0])
    wide.columns.name = None
    cols = [f for f in FLOW_LABELS.values() if f in wide.columns]
    return wide[["year", "grade", "sex", *cols]].reset_index(drop=True)


def fan_data(shares: pd.DataFrame, population: str) -> pd.DataFrame:
    """Rows of one population from ``run_tables(...)["shares"]``, sorted by year."""
    out = shares[shares["population"] == population].sort_values("year")
    return out.reset_index(drop=True)


def headcount_table(stocks: pd.DataFrame) -> pd.DataFrame:
    """Mean headcount by year and grade: women, men, total and the women's share."""
    wide = stocks.pivot_table(
        index=["year", "grade_index", "grade"], columns="sex", values="headcount"
    ).reset_index()
    wide.columns.name = None
    wide["total"] = wide["women"] + wide["men"]
    with np.errstate(invalid="ignore", divide="ignore"):
        wide["women_share"] = np.where(wide["total"] > 0, wide["women"] / wide["total"], np.nan)
    wide = wide.sort_values(["year", "grade_index"]).drop(columns="grade_index")
    return wide[["year", "grade", "women", "men", "total", "women_share"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------
#: What Altair (6.x) writes at the top of every chart's spec; the builders below write the same.
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.4.1.json"
_TOP_CONFIG = {"view": {"continuousHeight": 300, "continuousWidth": 300}}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as JSON-ready dicts, as Altair writes a DataFrame into a spec:
    integers as ``int``, floats as ``float`` with NaN and infinities as ``None``, text (and
    missing text) as ``str`` (``None``)."""
    columns: dict[str, list[Any]] = {}
    for name in frame.columns:
        col = frame[name]
        kind = col.dtype.kind
        if kind in "iu":
            columns[name] = col.to_numpy().tolist()
        elif kind == "f":
            values = col.to_numpy(dtype=float)
            good = np.isfinite(values)
            columns[name] = [
                v if ok else None for v, ok in zip(values.tolist(), good.tolist(), strict=True)
            ]
        elif kind == "b":
            columns[name] = [bool(v) for v in col.to_numpy()]
        else:
            columns[name] = [None if pd.isna(v) else str(v) for v in col.tolist()]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _dataset(datasets: dict[str, list], rows: list[dict[str, Any]]) -> dict[str, str]:
    """Add ``rows`` to a spec's ``datasets`` under Altair's name for them (``data-`` and the
    first 32 hex digits of the SHA-256 of their sorted-key JSON); return the reference."""
    text = json.dumps(rows, sort_keys=True, default=str)
    name = "data-" + hashlib.sha256(text.encode()).hexdigest()[:32]
    datasets[name] = rows
    return {"name": name}


def _top(**fields: Any) -> dict[str, Any]:
    """A top-level spec: Altair's ``$schema`` and default view config, then ``fields``."""
    return {"$schema": VEGA_LITE_SCHEMA, "config": copy.deepcopy(_TOP_CONFIG), **fields}


def _year_axis(years: Iterable[int]) -> dict[str, Any]:
    ys = [int(y) for y in years]
    return {
        "field": "year",
        "type": "quantitative",
        "title": "Year-end",
        "scale": {"domain": [min(ys), max(ys)], "nice": False},
        # labelFlush=False: the first and last labels are centred on their ticks (flushed
        # labels crowd their neighbours).
        "axis": {
            "format": "d",
            "tickMinStep": 1,
            "labelAngle": 0,
            "labelOverlap": True,
            "labelFlush": False,
        },
    }


def _field(name: str, kind: str = "quantitative", **extra: Any) -> dict[str, Any]:
    """An encoding channel on a field (``kind``: quantitative, nominal or ordinal)."""
    return {"field": name, "type": kind, **extra}


def _tip(name: str, title: str, kind: str = "quantitative", fmt: str | None = None) -> dict:
    return _field(name, kind, title=title, **({"format": fmt} if fmt else {}))


def _target_lines(targets: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for t in targets:
        values = t["value"] if isinstance(t["value"], list | tuple) else [t["value"]]
        for v in values:
            rows.append(
                {
                    "level": float(v),
                    "deadline": int(t["deadline"]),
                    "target": str(t.get("label") or t.get("id") or "target"),
                }
            )
    return pd.DataFrame(rows, columns=["level", "deadline", "target"])


def fan_chart(
    data: pd.DataFrame,
    *,
    targets: Sequence[Mapping[str, Any]] = (),
    observed: pd.DataFrame | None = None,
    title: str | None = None,
    height: int = 340,
    width: int | None = None,
) -> dict[str, Any]:
    """Vega-Lite spec (a dict) of the fan chart of the women's share of one population.

    Parameters
    ----------
    data
        One population's rows (see :func:`fan_data`): ``year``, ``p05 p25 p50 p75 p95`` (share
        quantiles over replications) and ``expected`` (expected-engine share).
    targets
        Targets on this population, as in the run summary (``value`` a number, or
        ``[low, high]`` for a band, ``deadline``, ``label``): a horizontal rule at each level
        and a diamond at the deadline.
    observed
        Published data points on this population (see :func:`observed_points`): ``year``,
        ``share``, ``source``, ``where``; drawn as black squares with their source in the
        tooltip.
    title, height, width
        Chart title and size in pixels (``width`` None: the container's or Vega-Lite's).

    Layers: the 90 % band (5-95 %), the 50 % band (25-75 %), the median line, the expected
    engine line (dashed), target rules, and points carrying a tooltip per year. The year axis
    is formatted as plain integers (``2025``, never ``2,025``). The spec is what Altair wrote
    for the same chart (tests/test_chart_specs.py), built without it.
    """
    df = data[["year", "p05", "p25", "p50", "p75", "p95", "expected"]].copy()
    df["year"] = df["year"].astype(int)
    lines = _target_lines(targets)
    values = pd.concat(
        [df[["p05", "p95", "expected"]].stack(), lines["level"]], ignore_index=True
    ).dropna()
    span = float(values.max() - values.min()) if len(values) else 1.0
    y_format = ".1%" if span < 0.05 else ".0%"
    x = _year_axis(df["year"])
    n_series = len(FAN_SERIES) if len(lines) else len(FAN_SERIES) - 1
    has_obs = observed is not None and len(observed) > 0
    domain = list(FAN_SERIES[:n_series]) + ([OBSERVED_SERIES] if has_obs else [])
    colours = list(FAN_COLORS[:n_series]) + ([OBSERVED_COLOR] if has_obs else [])
    if has_obs:
        values = pd.concat([values, observed["share"]], ignore_index=True).dropna()
        span = float(values.max() - values.min()) if len(values) else 1.0
        y_format = ".1%" if span < 0.05 else ".0%"
    colour = _field(
        "series",
        "nominal",
        title=None,
        scale={"domain": domain, "range": colours},
        legend={"title": None, "orient": "bottom", "direction": "horizontal", "symbolOpacity": 1},
    )
    datasets: dict[str, list] = {}
    main = _dataset(datasets, _records(df))

    def layer(name: str, mark: dict, encoding: dict, source: dict = main) -> dict[str, Any]:
        # A constant "series" field so that every layer shares one colour scale and legend.
        return {
            "data": source,
            "mark": mark,
            "encoding": {"color": colour, **encoding},
            "transform": [{"calculate": json.dumps(name), "as": "series"}],
        }

    tooltip = [
        _tip("year", "Year-end", fmt="d"),
        _tip("p50", "Median", fmt=".1%"),
        _tip("p25", "25 %", fmt=".1%"),
        _tip("p75", "75 %", fmt=".1%"),
        _tip("p05", "5 %", fmt=".1%"),
        _tip("p95", "95 %", fmt=".1%"),
        _tip("expected", "Expected engine", fmt=".1%"),
    ]
    y90 = _field(
        "p05",
        axis={"format": y_format, "title": "Women's share"},
        scale={"zero": False, "nice": True},
    )
    # The expected line is drawn over the median: it is dashed, so both stay visible.
    layers = [
        layer(
            FAN_SERIES[0],
            {"type": "area", "opacity": 0.45},
            {"x": x, "y": y90, "y2": {"field": "p95"}},
        ),
        layer(
            FAN_SERIES[1],
            {"type": "area", "opacity": 0.6},
            {"x": x, "y": _field("p25"), "y2": {"field": "p75"}},
        ),
        layer(FAN_SERIES[2], {"type": "line", "strokeWidth": 2.5}, {"x": x, "y": _field("p50")}),
        layer(
            FAN_SERIES[2],
            {"type": "circle", "size": 36, "opacity": 0.9},
            {"x": x, "y": _field("p50"), "tooltip": tooltip},
        ),
        layer(
            FAN_SERIES[3],
            {"type": "line", "strokeWidth": 2, "strokeDash": [6, 4]},
            {"x": x, "y": _field("expected")},
        ),
    ]
    if len(lines):
        target_rows = _dataset(datasets, _records(lines))
        layers.append(
            layer(
                FAN_SERIES[4],
                {"type": "rule", "strokeDash": [2, 3], "strokeWidth": 1.5},
                {
                    "y": _field("level"),
                    "tooltip": [
                        _tip("target", "Target", "nominal"),
                        _tip("level", "Level", fmt=".0%"),
                    ],
                },
                target_rows,
            )
        )
        layers.append(
            layer(
                FAN_SERIES[4],
                {"type": "point", "shape": "diamond", "size": 140, "filled": True},
                {
                    "x": _field("deadline"),
                    "y": _field("level"),
                    "tooltip": [
                        _tip("target", "Target", "nominal"),
                        _tip("deadline", "Deadline", fmt="d"),
                        _tip("level", "Level", fmt=".0%"),
                    ],
                },
                target_rows,
            )
        )
    if has_obs:
        obs = observed[["year", "share", "source", "where"]].copy()
        obs["year"] = obs["year"].astype(int)
        layers.append(
            layer(
                OBSERVED_SERIES,
                {"type": "point", "shape": "square", "size": 90, "filled": True},
                {
                    "x": _field("year"),
                    "y": _field("share"),
                    "tooltip": [
                        _tip("year", "Year-end", fmt="d"),
                        _tip("share", "Published share", fmt=".1%"),
                        _tip("source", "Source", "nominal"),
                        _tip("where", "Where", "nominal"),
                    ],
                },
                _dataset(datasets, _records(obs)),
            )
        )
    spec = _top(layer=layers, height=height, datasets=datasets)
    if len(datasets) == 1:  # every layer on the same rows: the data sits at the top (Altair)
        spec["data"] = main
        for entry in layers:
            del entry["data"]
    if title:
        spec["title"] = title
    if width is not None:
        spec["width"] = width
    return spec


def _sex_panels(df: pd.DataFrame, inner: dict[str, Any]) -> dict[str, Any]:
    """One panel per sex (women first), each with its own y scale: a faceted spec."""
    datasets: dict[str, list] = {}
    return _top(
        data=_dataset(datasets, _records(df)),
        facet={
            "column": _field(
                "sex", "nominal", sort=["Women", "Men"], header={"title": None, "labelFontSize": 14}
            )
        },
        spec=inner,
        resolve={"scale": {"y": "independent"}},
        datasets=datasets,
    )


def headcount_chart(
    stocks: pd.DataFrame,
    *,
    grade_order: Sequence[str],
    width: int = 300,
    height: int = 260,
) -> dict[str, Any]:
    """Vega-Lite spec (a dict): stacked areas of the mean headcount by grade over the years,
    one panel per sex.

    Parameters
    ----------
    stocks
        ``run_tables(...)["stocks"]``: ``year, grade, grade_index, sex, headcount``.
    grade_order
        Grade ids, entry grade first: the stacking order (entry grade at the bottom) and
        the legend order.

    The panels have independent y scales (women are often a small minority; their grade mix
    would be unreadable on the men's scale); the axis values say how large each is.
    """
    df = stocks.copy()
    df["year"] = df["year"].astype(int)
    df["sex"] = df["sex"].map({"women": "Women", "men": "Men"})
    inner = {
        "mark": {"type": "area", "opacity": 0.85, "line": False},
        "encoding": {
            "x": _year_axis(df["year"]),
            "y": _field(
                "headcount",
                stack="zero",
                title="Headcount (mean over runs)",
                axis={"format": ",.0f"},
            ),
            "color": _field(
                "grade",
                "nominal",
                sort=list(grade_order),
                title="Grade",
                legend={"orient": "bottom", "direction": "horizontal"},
            ),
            "order": _field("grade_index", sort="ascending"),
            "tooltip": [
                _tip("year", "Year-end", fmt="d"),
                _tip("sex", "Sex", "nominal"),
                _tip("grade", "Grade", "nominal"),
                _tip("headcount", "Headcount", fmt=",.0f"),
            ],
        },
        "width": width,
        "height": height,
    }
    return _sex_panels(df, inner)


# ---------------------------------------------------------------------------------------------
# Target cards
# ---------------------------------------------------------------------------------------------
def fmt_pct(x: float | None, digits: int = 1) -> str:
    """``0.2 -> '20.0 %'``; ``None``/NaN -> ``'–'``."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    value = round(100 * float(x), digits)
    if value == 0:
        value = 0.0  # no "-0.0 %"
    return f"{value:.{digits}f} %"


def condition_text(target: Mapping[str, Any]) -> str:
    """``'≥ 20 % by 2030'`` (and ``' (sustained)'``) from a target summary."""
    comp, value = target["comparator"], target["value"]
    if comp == "between":
        cond = f"{fmt_pct(value[0], 0).removesuffix(' %')}–{fmt_pct(value[1], 0)}"
    else:
        cond = ("≥ " if comp == "at_least" else "≤ ") + fmt_pct(value, 0)
    sustained = " (sustained)" if target.get("sustained") else ""
    return f"{cond} by {target['deadline']}{sustained}"


def target_cards_data(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Display strings of one card per target in a run summary.

    Each card has ``id, label, population, deadline, condition`` and the metric texts
    ``probability`` (share of runs meeting the target), ``probability_ci`` (its 95 % Wilson
    interval), ``median`` and ``band`` (median and 5-95 % of the share at the deadline),
    ``median_delta`` (median minus the target level in percentage points, ``None`` for a
    band target) with ``delta_color``, ``expected`` (expected-engine share at the deadline),
    ``first_year`` (median first year-end at which the condition holds) and ``never``.
    """
    end_year = summary.get("end_year")
    cards = []
    for t in summary.get("targets", []):
        q = t.get("quantiles") or {}
        median = q.get("50")
        ci = t.get("probability_ci")
        delta, delta_color = None, "normal"
        if t["comparator"] != "between" and median is not None:
            delta = f"{100 * (median - t['value']):+.1f} pp vs target"
            delta_color = "normal" if t["comparator"] == "at_least" else "inverse"
        first = t.get("first_year_met")
        first_median = first.get("50") if first else None
        never = t.get("never_met")
        cards.append(
            {
                "id": t["id"],
                "label": t.get("label") or t["id"],
                "population": t["population"],
                "deadline": t["deadline"],
                "condition": condition_text(t),
                "probability": fmt_pct(t.get("probability"), 1),
                "probability_ci": (
                    f"95 % CI {fmt_pct(ci[0], 1).removesuffix(' %')}–{fmt_pct(ci[1], 1)}"
                    if ci
                    else "–"
                ),
                "median": fmt_pct(median, 1),
                "band": (
                    f"5–95 %: {fmt_pct(q['5'], 1).removesuffix(' %')}–{fmt_pct(q['95'], 1)}"
                    if q
                    else "–"
                ),
                "median_delta": delta,
                "delta_color": delta_color,
                "expected": fmt_pct(t.get("expected_share"), 1),
                "first_year": str(first_median)
                if first_median is not None
                else f"not by {end_year}",
                "never": (
                    f"{fmt_pct(never, 0)} of runs never meet it by {end_year}"
                    if never is not None
                    else ""
                ),
            }
        )
    return cards


# ---------------------------------------------------------------------------------------------
# Populations, provenance, safe text
# ---------------------------------------------------------------------------------------------
def population_options(scenario: Scenario) -> list[str]:
    """Populations with a share, target populations first, then workforce, groups, grades."""
    order = [t.population for t in scenario.targets]
    order += ["workforce", *scenario.groups, *scenario.grade_ids, "intake"]
    seen: dict[str, None] = {}
    for pop in order:
        seen.setdefault(pop, None)
    return list(seen)


def population_label(scenario: Scenario, population: str) -> str:
    """Readable name of a population (grade label, group members, workforce, intake)."""
    if population == "workforce":
        return "Workforce (grades counted in the workforce)"
    if population == "intake":
        return "Intake (the year's recruits)"
    if population in scenario.groups:
        return f"{population} (group: {', '.join(scenario.groups[population])})"
    for g in scenario.grades:
        if g.id == population:
            return f"{g.id} — {g.label}" if g.label else g.id
    return population


def provenance_rows(scenario: Scenario) -> list[dict[str, str]]:
    """One row per block carrying numbers: where it is, its source id, locator, assumption."""
    rows: list[dict[str, str]] = []

    def add(block: str, item: Any) -> None:
        source = getattr(item, "source", None)
        assumption = getattr(item, "assumption", None)
        if source is None and not assumption:
            return
        rows.append(
            {
                "block": block,
                "source": source or "",
                "locator": getattr(item, "locator", None) or "",
                "assumption": (assumption or "").strip(),
            }
        )

    for g in scenario.grades:
        add(f"Grade {g.id}", g)
    for i in scenario.initial:
        add(f"Initial headcount: {i.grade}", i)
    for a in scenario.attrition:
        add(f"Attrition: {a.grade}", a)
    for p in scenario.promotions:
        add(f"Promotion into {p.to} ({p.mode})", p)
    add(f"Recruitment ({scenario.recruitment.mode})", scenario.recruitment)
    for pol in scenario.policies:
        add(f"Policy {pol.id} ({pol.parameter} from {pol.from_year})", pol)
    for t in scenario.targets:
        add(f"Target {t.id}", t)
    return rows


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Escape Markdown (and Streamlit's ``$`` maths and ``:`` directives) in a user string."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


# ---------------------------------------------------------------------------------------------
# Flows chart, published data points, downloads
# ---------------------------------------------------------------------------------------------
FLOW_COLORS = {
    "recruited": "#31a354",
    "promoted in": "#74c476",
    "lateral entry": "#c7e9c0",
    "promoted out": "#fd8d3c",
    "left": "#d94801",
}


def flows_chart(
    flows: pd.DataFrame, *, grade: str, width: int = 300, height: int = 220
) -> dict[str, Any]:
    """Vega-Lite spec (a dict): stacked bars of one grade's mean yearly flows, one panel per
    sex.

    Inflows stack above zero, outflows (left, promoted out) below, so the net change of the
    grade's headcount is the difference of the two stacks.
    """
    df = flows[flows["grade"] == grade].copy()
    df["sex"] = df["sex"].map({"women": "Women", "men": "Men"})
    order = list(FLOW_COLORS)
    inner = {
        "mark": {"type": "bar"},
        "encoding": {
            "x": _field("year", "ordinal", title="Year", axis={"labelAngle": 0}),
            "y": _field("count", stack="zero", title="People a year (mean over runs)"),
            "color": _field(
                "flow",
                "nominal",
                scale={"domain": order, "range": [FLOW_COLORS[f] for f in order]},
                title="Flow",
                legend={"orient": "bottom", "direction": "horizontal"},
            ),
            "tooltip": [
                _tip("year", "Year", "ordinal"),
                _tip("sex", "Sex", "nominal"),
                _tip("flow", "Flow", "nominal"),
                _tip("count", "People (mean)", fmt=",.1f"),
            ],
        },
        "width": width,
        "height": height,
    }
    return _sex_panels(df, inner)


#: Where a calibrated scenario's calibration problem is looked up (``[posterior].problem``, by
#: its file name only: no path from a scenario file is ever followed).
CALIBRATION_DIR = REPO_ROOT / "calibration"


PUBLISHED_COLUMNS = ["population", "year", "share", "source", "where", "quote", "note"]


def published_figures(scenario: Scenario) -> pd.DataFrame:
    """Every published women's share the charts draw for a scenario (:data:`PUBLISHED_COLUMNS`).

    * The scenario's own ``[[observed]]`` figures (``source``: its ids in ``[sources]``);
    * for a calibrated scenario, the observations of its calibration problem
      (``[posterior].problem``, read from :data:`CALIBRATION_DIR` by file name) that are
      women's shares of a population's stock within the horizon (``source``: the figure's id
      in calibration/data, ``where``: the problem's source and locator; entrants' shares and
      figures mixed with channels are left out); a population and year the scenario itself
      gives is not repeated (with one pool, ``deployed`` and ``deployed.<id>`` are one).

    A start share is not a published figure because its block cites a source: that source
    may give only the headcount (the share then being the modeller's, as the block's
    assumption says), and a calibrated scenario's start shares may be fitted.
    """
    rows: list[dict[str, Any]] = [
        {
            "population": o.population,
            "year": o.year,
            "share": o.women_share,
            "source": ", ".join(_ids(o.source)),
            "where": o.locator,
            "quote": o.quote or "",
            "note": o.note or "",
        }
        for o in scenario.observed
    ]
    # With one pool, 'deployed' and 'deployed.<id>' are one population (as in the validation).
    seen = {(scenario.same_population(r["population"]), r["year"]) for r in rows}
    known = {
        *scenario.grade_ids,
        *scenario.groups,
        "workforce",
        *scenario.pipeline_populations(),
    }  # a problem's channels (entry routes the scenario does not model) are left out
    for obs in problem_observations(scenario):
        key = (scenario.same_population(obs["population"]), obs["year"])
        if obs["population"] in known and key not in seen:
            rows.append(obs)
            seen.add(key)
    frame = pd.DataFrame(rows, columns=PUBLISHED_COLUMNS)
    return frame.sort_values(["population", "year"], kind="stable").reset_index(drop=True)


def observed_points(scenario: Scenario, population: str) -> pd.DataFrame:
    """The published figures of one population (:func:`published_figures`) as the charts
    draw them: ``year, share, source, where`` (``where``: the locator, then the note)."""
    figures = published_figures(scenario)
    rows = figures[figures["population"] == population]
    where = [
        f"{loc} — {note}" if note else loc
        for loc, note in zip(rows["where"], rows["note"], strict=True)
    ]
    out = rows[["year", "share", "source"]].assign(where=where)
    return out.sort_values("year", kind="stable").reset_index(drop=True)


def problem_observations(scenario: Scenario) -> list[dict[str, Any]]:
    """The published stock shares a calibrated scenario was fitted to (see
    :func:`observed_points`): one row of :data:`PUBLISHED_COLUMNS` per observation."""
    post = scenario.posterior
    if post is None or not post.problem:
        return []
    name = Path(str(post.problem).replace("\\", "/")).name
    if not name.endswith(".toml") or len(name) > 200:
        return []
    path = CALIBRATION_DIR / name
    try:
        if not path.is_file():
            return []
        mtime = path.stat().st_mtime_ns
    except OSError:  # e.g. a name the file system refuses
        return []
    rows = []
    for obs in _problem_file_observations(str(path), mtime):
        if not scenario.start_year <= obs["year"] <= scenario.end_year:
            continue
        rows.append(dict(obs))  # a copy: the file's rows are cached and shared
    return rows


@functools.lru_cache(maxsize=16)
def _problem_file_observations(path: str, _mtime: int) -> tuple[dict[str, Any], ...]:
    """A calibration problem's women's-share-of-stock observations without channels (read as
    data with ``tomllib``; an unreadable file gives none)."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return ()
    observations = data.get("observations") if isinstance(data, dict) else None
    out = []
    for obs in observations if isinstance(observations, list) else []:
        if not isinstance(obs, dict):
            continue
        if obs.get("quantity", "women_share") != "women_share" or obs.get("of", "stock") != "stock":
            continue
        if obs.get("channels"):
            continue
        year, value, pop = obs.get("year"), obs.get("value"), obs.get("population")
        if not isinstance(year, int) or not isinstance(value, int | float) or not 0 <= value <= 1:
            continue
        if not isinstance(pop, str) or pop == "intake":  # the intake is a flow, not a stock
            continue
        source = str(obs.get("figure") or obs.get("source") or "")
        where = "; ".join(
            str(x)
            for x in (obs.get("source") if obs.get("figure") else None, obs.get("locator"))
            if x
        )
        out.append(
            {
                "population": pop,
                "year": year,
                "share": float(value),
                "source": source,
                "where": where,
                "quote": str(obs.get("quote") or ""),
                "note": str(obs.get("note") or ""),
            }
        )
    return tuple(out)


def _ids(source: str | list[str] | None) -> list[str]:
    if source is None:
        return []
    return [source] if isinstance(source, str) else list(source)


def targets_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per target of a run summary (numbers, not display strings)."""
    rows = []
    for t in summary.get("targets", []):
        q = t.get("quantiles") or {}
        ci = t.get("probability_ci") or [None, None]
        first = t.get("first_year_met") or {}
        rows.append(
            {
                "target": t["id"],
                "label": t.get("label") or t["id"],
                "population": t["population"],
                "condition": condition_text(t),
                "deadline": t["deadline"],
                "probability": t.get("probability"),
                "probability_low": ci[0],
                "probability_high": ci[1],
                "share_p5": q.get("5"),
                "share_median": q.get("50"),
                "share_p95": q.get("95"),
                "expected_share": t.get("expected_share"),
                "first_year_met_median": first.get("50"),
                "never_met": t.get("never_met"),
            }
        )
    return pd.DataFrame(rows)


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as a TOML file (what ``parity run`` reads)."""
    import tomli_w

    return tomli_w.dumps(scenario_to_data(scenario))


def provenance_frame(scenario: Scenario) -> pd.DataFrame:
    """:func:`provenance_rows` as a frame (columns block, source, locator, assumption)."""
    return pd.DataFrame(
        provenance_rows(scenario), columns=["block", "source", "locator", "assumption"]
    )


def sources_frame(scenario: Scenario) -> pd.DataFrame:
    """The scenario's ``[sources]``: id, title, publisher, year, locator, url, quote, note."""
    cols = ["id", "title", "publisher", "year", "locator", "url", "quote", "note"]
    rows = [{"id": sid, **src.model_dump()} for sid, src in scenario.sources.items()]
    return pd.DataFrame(rows, columns=cols)


def results_excel(
    scenario: Scenario, summary: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]
) -> bytes:
    """An Excel workbook of a run: targets, shares, headcount, flows, assumptions, sources."""
    import io

    sheets = {
        "targets": targets_frame(summary),
        "shares": tables["shares"],
        "headcount": headcount_table(tables["stocks"]),
        "flows": flows_wide(tables["flows"]) if "flows" in tables else pd.DataFrame(),
        "assumptions": provenance_frame(scenario),
        "sources": sources_frame(scenario),
        "run": pd.DataFrame(
            [
                {"field": k, "value": str(summary.get(k))}
                for k in (
                    "scenario",
                    "scenario_sha256",
                    "parity_version",
                    "engine",
                    "replications",
                    "seed",
                    "start_year",
                    "end_year",
                    "uncertainty",
                )
            ]
        ),
    }
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buf.getvalue()


def results_csv(summary: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> str:
    """One tidy CSV of a run: the women's-share quantiles by population and year."""
    return tables["shares"].to_csv(index=False)


def applicable_levers(scenario: Scenario, levers: dict[str, float]) -> dict[str, float]:
    """``levers`` without those that do nothing on ``scenario``, as Explore's widgets leave
    them out: the intake share without an intake share (a conscription funnel), odds and floor
    without a vacancy step, the establishment without one, a floor at the scenario's own (whole
    percent) and a factor of 1."""
    own_floor = floor_default(scenario)
    missing = _missing_for_levers(scenario)
    out = {}
    for name, value in levers.items():
        if missing[name]:
            continue
        if name == "women_floor" and round(100 * value) == own_floor:
            continue
        if name in ("women_attrition", "men_attrition", "establishment") and value == 1.0:
            continue
        out[name] = value
    return out


#: The URL parameter of each lever (``apply_what_if`` keyword), see :func:`levers_from_settings`.
LEVER_PARAMS = {
    "women_share": "women_intake",
    "vacancy_odds": "women_odds",
    "women_floor": "women_floor",
    "women_attrition": "women_attrition",
    "men_attrition": "men_attrition",
    "establishment": "establishment",
}


def unusable_levers(scenario: Scenario, levers: dict[str, float]) -> dict[str, str]:
    """The levers in ``levers`` that ``scenario`` has nothing for, each with the reason (a
    link made on another scenario, or edited): what :func:`applicable_levers` leaves out
    other than a lever at the scenario's own value, which changes nothing as it should."""
    missing = _missing_for_levers(scenario)
    return {name: missing[name] for name in levers if missing.get(name)}


def floor_default(scenario: Scenario) -> int:
    """The scenario's own floor on women's share of vacancy promotions (first step), percent."""
    floors = [p.women_floor for p in scenario.promotions if p.mode == "vacancy"]
    return round(100 * floors[0]) if floors else 0


def has_establishment(scenario: Scenario) -> bool:
    """Whether any grade has an establishment (authorised posts)."""
    return any(g.establishment is not None for g in scenario.grades)


def _missing_for_levers(scenario: Scenario) -> dict[str, str | None]:
    """For each lever, what ``scenario`` lacks for it to act (None: nothing lacks)."""
    no_vacancy = None if vacancy_steps(scenario) else "it has no vacancy-mode promotion"
    no_share = "it has no women's share of intake (its recruits come from the conscription funnel)"
    no_posts = "none of its grades has an establishment"
    return {
        "women_share": None if has_intake_share(scenario) else no_share,
        "vacancy_odds": no_vacancy,
        "women_floor": no_vacancy,
        "women_attrition": None,
        "men_attrition": None,
        "establishment": None if has_establishment(scenario) else no_posts,
    }


def unusable_lever_warnings(
    scenario: Scenario, levers: dict[str, float], raw: Mapping[str, Any]
) -> list[str]:
    """One warning per lever of a link that does nothing on ``scenario`` (``raw``: the URL's
    parameters, for the value as written)."""
    return [
        f"The link's {LEVER_PARAMS[name]}={_first(raw.get(LEVER_PARAMS[name], ''))!r} does "
        f"nothing on {scenario.name}: {why}. It was left out."
        for name, why in unusable_levers(scenario, levers).items()
    ]


def levers_from_settings(qs: QuerySettings) -> dict[str, float]:
    """``apply_what_if`` keyword arguments from URL settings (only the levers given)."""
    out: dict[str, float] = {}
    if qs.women_intake is not None:
        out["women_share"] = qs.women_intake / 100
    if qs.women_odds is not None:
        out["vacancy_odds"] = qs.women_odds
    if qs.women_floor is not None:
        out["women_floor"] = qs.women_floor / 100
    if qs.women_attrition is not None:
        out["women_attrition"] = qs.women_attrition / 100
    if qs.men_attrition is not None:
        out["men_attrition"] = qs.men_attrition / 100
    if qs.establishment is not None:
        out["establishment"] = qs.establishment / 100
    return out


def lever_params(levers: dict[str, float]) -> dict[str, str]:
    """URL parameters that give ``levers`` (``apply_what_if`` keywords): the inverse of
    :func:`levers_from_settings` (odds as written, the others in whole percent)."""
    return {
        LEVER_PARAMS[name]: f"{value:g}" if name == "vacancy_odds" else str(round(100 * value))
        for name, value in levers.items()
    }


# ---------------------------------------------------------------------------------------------
# Goal-seek levers (What it takes, the board report)
# ---------------------------------------------------------------------------------------------
def goal_seek_levers(scenario: Scenario) -> dict[str, str]:
    """Levers a planner controls in this scenario: ``{spec: label}``.

    A rate-mode step's odds are offered only where they can rise above 1: where the grade
    below has no room (everyone leaves or is promoted within the year, as police students do)
    higher odds would make attrition + promotion exceed 1 (``decision.make_lever`` lowers the
    range's top to the largest valid odds)."""
    from simulator.decision import make_lever

    out = {"intake_women_share": "Women's share of intake"} if has_intake_share(scenario) else {}
    for p in scenario.promotions:
        if p.mode == "vacancy":
            out[f"promotion_floor:{p.to}"] = f"Floor on women's share of promotions into {p.to}"
        else:
            try:
                if make_lever(scenario, f"women_odds:{p.to}").hi <= 1.0 + 1e-9:
                    continue
            except ScenarioError:
                continue
        out[f"women_odds:{p.to}"] = f"Women's relative odds of promotion into {p.to}"
    out["women_attrition_multiplier"] = "Women's attrition (multiplier, all grades)"
    if scenario.conscription is not None:
        out["women_volunteer_share"] = "Share of fit women who volunteer for conscription"
        out["women_contract_share"] = "Share of women completers who sign a contract"
    if len(scenario.deployments) == 1:
        out["deployment_women_floor"] = "Floor on women's share of the deployed"
    for d in scenario.deployments if len(scenario.deployments) > 1 else ():
        out[f"deployment_women_floor:{d.id}"] = f"Floor on women's share of the deployed ({d.id})"
    return out


def is_share_lever(spec: str) -> bool:
    """Whether a goal-seek lever's value is a share (shown in percent, to 0.1 %): a named
    lever whose default range is [0, 1] in :data:`simulator.decision.LEVERS`."""
    from simulator.decision import LEVERS

    kind = spec.partition(":")[0]
    return kind in LEVERS and LEVERS[kind][1] == (0.0, 1.0)


def default_goal_seek_lever(scenario: Scenario, target: Any, levers: dict[str, str]) -> str:
    """The lever goal seek starts with, the one most likely to move the target's population
    by its deadline:

    * the deployed: a floor on the women's share of the deployed (its pool's, or all);
    * a funnel stage or the intake: women's share of intake, else women's volunteering;
    * one grade: a promotion lever into it (a floor on a vacancy step, else the odds), since
      recruits may take years to reach it;
    * a group or the workforce that holds the entry grade or the one above it: the intake
      (or, with a funnel, women's volunteering), which feeds every grade; else the top
      grade's promotion lever;
    * else the first lever offered.
    """
    pop = target.population
    if pop == "deployed" or pop.startswith("deployed."):
        pool = pop.partition(".")[2]
        for spec in (f"deployment_women_floor:{pool}", "deployment_women_floor"):
            if spec in levers:
                return spec
    entry = ("intake_women_share", "women_volunteer_share")
    grades = [g for g in scenario.grade_ids if g in set(scenario.population_grades(pop))]
    # A group fed directly by the entry: it holds the entry grade or the grade above it
    # (dk_defence's "military" starts at the privates, right above the conscripts).
    feeds = pop in ("intake", *FUNNEL_POPULATIONS) or (
        len(grades) > 1 and bool(set(scenario.grade_ids[:2]) & set(grades))
    )
    if feeds:
        for spec in entry:
            if spec in levers:
                return spec
    for gid in reversed(grades):
        for spec in (f"promotion_floor:{gid}", f"women_odds:{gid}"):
            if spec in levers:
                return spec
    for spec in entry:
        if spec in levers:
            return spec
    return next(iter(levers))


def shown_lever_answer(
    spec: str,
    value: float,
    direction: str | None,
    value_range: tuple[float, float] | list[float] | None = None,
) -> float:
    """The answer as shown, rounded towards meeting the target: up for "at least" (and the
    lower end of a band), down for "at most". Rounding to the nearest could show a value that
    misses: 2.3719 shown as 2.37 (measured: 78.7 % at 2.37 against the 80 % asked). Within
    the lever's ``value_range``: where rounding would leave it (a range's top such as the
    largest valid odds, 1.8333), the end itself is shown - the target is met there too,
    since the values that meet it run from the answer to that end."""
    places = 3 if is_share_lever(spec) else 2
    scale = 10**places
    if direction == "at_most":
        shown = math.floor(value * scale + 1e-9) / scale
    else:
        shown = math.ceil(value * scale - 1e-9) / scale
    if value_range is not None:
        lo, hi = (float(x) for x in value_range)
        shown = min(max(shown, lo), hi)
    return shown


def lever_answer(spec: str, res: dict[str, Any]) -> tuple[str, float | None]:
    """A solved goal seek (``SolveResult.to_dict()``) as shown: ``("at least 2.38", 2.38)``;
    for a band, ``("between 20.1 % and 68.4 %", 0.201)`` (each end rounded inwards); the
    value is the one a link may set (None where the rounded ends cross)."""
    direction, rng = res.get("direction"), res.get("range")
    if direction in ("at_least", "at_most"):
        shown = shown_lever_answer(spec, res["value"], direction, rng)
        word = "at least" if direction == "at_least" else "at most"
        return f"{word} {fmt_lever_value(spec, shown)}", shown
    low, high = res.get("met_interval") or [res["value"], res["value"]]
    a = shown_lever_answer(spec, low, "at_least", rng)
    b = shown_lever_answer(spec, high, "at_most", rng)
    if a > b:  # the band is narrower than the rounding: the exact ends
        return f"between {fmt_lever_value(spec, low)} and {fmt_lever_value(spec, high)}", None
    return f"between {fmt_lever_value(spec, a)} and {fmt_lever_value(spec, b)}", a


def fmt_lever_value(spec: str, value: float | None) -> str:
    """A goal-seek lever's value as shown: shares in percent to 0.1 %, the others to two
    decimals - or exactly (six significant digits) where the value is off that grid, such as a
    range's end it was kept at (:func:`shown_lever_answer`): rounding it would undo the
    rounding towards the target (1.833333 shown as 1.83, below the answer)."""
    if value is None:
        return "–"
    places = 3 if is_share_lever(spec) else 2
    exact = abs(round(value, places) - value) > 1e-12
    if is_share_lever(spec):
        return f"{100 * value:.6g} %" if exact else fmt_pct(value, 1)
    if spec.startswith("women_attrition_multiplier"):
        return f"{value:.6g} × the scenario's" if exact else f"{value:.2f} × the scenario's"
    return f"{value:.6g}" if exact else f"{value:.2f}"
