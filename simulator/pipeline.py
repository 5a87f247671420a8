"""The conscription funnel and the deployment pools, around the annual step of the engines.

Both engines call these functions from :func:`simulator.engine.simulate` through
:class:`PipelineRun`; as everywhere, the only difference between the engines is the sampler
(the expected engine replaces every draw by its mean). Sex index s = 0 women, 1 men; regime
r = 0 volunteers, 1 drafted. Arrays are vectorised over the batch of replications ``B``.

Conscription funnel (``[conscription]``), step of year y (t = y − start_year − 1)
--------------------------------------------------------------------------------
With ``C_s`` = round(cohort_s(y)) persons assessed in y (they turned 18 ``assessment_lag_years``
earlier), σ_s the summoned share, φ_s the fit share, ν_s the volunteer share of the fit::

    S_s   ~ Bin(C_s, σ_s)              summoned to the assessment day
    F_s   ~ Bin(S_s, φ_s)              fit among the summoned
    V^S_s ~ Bin(F_s, ν_s)              volunteers among the summoned fit
    V^N_s ~ Bin(C_s − S_s, φ_s ν_s)    fit volunteers who were not summoned (women's værneret)
    V_s   = V^S_s + V^N_s              all volunteers;  L_s = F_s − V^S_s  the lottery pool

    P   = round(places(y))
    U   = min(P, V_w + V_m);        U_w ~ Hypergeom(V_w, V_m; U)   volunteers first, equal odds
    D   = min(P − U, L_w + L_m);    D_w ~ Hypergeom(L_w, L_m; D)   lottery, equal odds for all
    unfilled = P − U − D

    completers  K^r_s = n^r_s − Bin(n^r_s, δ^r_s)       n^0 = (U_w, U − U_w), n^1 = (D_w, D − D_w)
    signers     Σ_r Bin(K^r_s, κ^r_s)                   → recruits of the entry grade in step y

δ^r_s is the dropout (share of a service spell not completed, not an annual probability) and
κ^r_s the share of completers who sign a contract. Recorded stages (:data:`FUNNEL_STAGES`):
cohort C, summoned S, fit F + V^N (everyone found fit: the summoned and the volunteers from
outside them), volunteers V, lottery pool L, volunteer conscripts n^0, drafted n^1,
conscripts n^0 + n^1, completers, contract signers. In the expected engine each Bin(n, p) is
n p and each hypergeometric split is proportional (``D_w = D L_w / (L_w + L_m)``): every
person in the lottery pool has the same chance D / (L_w + L_m) of being drafted.

The women's summoned share with ``women_summoned_from = d`` (a date) and lag ℓ: the cohort of
step y turned 18 in year y − ℓ; the share of it that turned 18 on or after d is 0 before
d's year, 1 after it, and ``(days from d to 31 December, inclusive) / days in that year`` in
it (births spread evenly over the year). For d = 2025-07-01 and ℓ = 1: 0 up to 2025,
184/365 = 0.504 in 2026 (the first women at Forsvarets Dag, in service from August 2026), 1
from 2027. Service length (``service_months``) is documented but does not enter the step: a
service spell starts and ends (with its dropout and contract decision) within the step of its
assessment, and the published dropout shares are per spell.

Deployment pools (``[[deployments]]``), at every year-end j = 0 … Y (start year included)
------------------------------------------------------------------------------------------
From the end-of-year state n[b, g, s, k], the eligible pool of pool d is
``E_s = Σ_{g ∈ grades, k ≥ m} n[g, s, k]``; with demand ``Q = round(demand(y))``::

    N   = min(Q, E_w + E_m)
    N_w ~ Wallenius(E_w, E_m, N; ω_d)       (hypergeometric when ω_d = 1)
    N_w ← max(N_w, min(E_w, ceil(f N)))     the floor f, met as far as eligible women exist

Deployment does not move anyone: it is a draw from the stock, recorded per pool and sex.
Random streams: ``conscription/<stage>`` and ``deploy/<id>/select`` (new names, so scenarios
without a funnel or pools draw exactly what they drew before).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from simulator.compiled import WOMEN, Compiled, _series, _weights, apply_policy
from simulator.errors import Issue, ScenarioError
from simulator.scenario import MAX_WOMEN_ODDS, SEXES, Scenario, SexCounts, SexShares

if TYPE_CHECKING:
    import pandas as pd

#: Stages of the funnel recorded per (year, sex), in the order of ``Raw.funnel``'s stage axis.
FUNNEL_STAGES = (
    "cohort",
    "summoned",
    "fit",
    "volunteers",
    "lottery_pool",
    "volunteer_conscripts",
    "drafted",
    "conscripts",
    "completers",
    "contract_signers",
)
#: ``Raw.deployment_diagnostics`` columns per (year-end, pool).
DEPLOYMENT_DIAGNOSTICS = ("demand", "unmet", "floor_binding", "floor_short")
#: Raw fields written by this module (None when the scenario has no funnel / no pools).
RAW_FIELDS = ("funnel", "funnel_places", "deployments", "deployment_diagnostics")
#: Funnel populations (targets, shares) and the stage each one counts.
POPULATION_STAGE = {
    "conscripts": "conscripts",
    "conscription_completers": "completers",
    "contract_signers": "contract_signers",
}


# ---------------------------------------------------------------------------------------------
# Compiled arrays
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ConscriptionArrays:
    """The funnel's parameters per projection year (axis t as in ``Compiled``).

    Attributes
    ----------
    entry
        Grade index fed by the contract signers (the entry grade, 0).
    cohort
        ``[Y, 2]`` persons assessed in the year (turned 18 ``assessment_lag_years`` before).
    summoned
        ``[Y, 2]`` share of the cohort summoned to the assessment day.
    fit
        ``[Y, 2]`` share of the assessed found fit for service.
    volunteer
        ``[Y, 2]`` share of the fit who volunteer.
    places
        ``[Y]`` required intake (conscripts) in the year.
    dropout
        ``[Y, 2 regimes, 2]`` share of a service spell's conscripts who do not complete it
        (regime 0 volunteers, 1 drafted).
    contract
        ``[Y, 2 regimes, 2]`` share of completers who sign a contract.
    service_months
        ``[Y]`` length of service in months (NaN where not given; informative only).
    """

    #: The per-year fields (leading axis: projection years), for code that extends a horizon.
    YEARLY: ClassVar[tuple[str, ...]] = (
        "cohort",
        "summoned",
        "fit",
        "volunteer",
        "places",
        "dropout",
        "contract",
        "service_months",
    )

    entry: int
    cohort: np.ndarray
    summoned: np.ndarray
    fit: np.ndarray
    volunteer: np.ndarray
    places: np.ndarray
    dropout: np.ndarray
    contract: np.ndarray
    service_months: np.ndarray


@dataclass(frozen=True, eq=False)
class DeploymentArrays:
    """One deployment pool's parameters at every year-end j = 0 … Y (start year first).

    Attributes
    ----------
    id
        The pool's id.
    grades
        ``[G]`` True for the eligible grades.
    min_years
        Minimum completed years in grade to be eligible.
    demand
        ``[Y+1]`` persons deployed (rounded to whole persons in both engines).
    women_odds
        ``[Y+1]`` relative deployability ω_d of a woman vs a man (1 = proportional).
    women_floor
        ``[Y+1]`` floor on the women's share of the deployed (0 = none).
    """

    #: The per-year fields (leading axis: year-ends 0 … Y); ``grades`` is per grade.
    YEARLY: ClassVar[tuple[str, ...]] = ("demand", "women_odds", "women_floor")

    id: str
    grades: np.ndarray
    min_years: int
    demand: np.ndarray
    women_odds: np.ndarray
    women_floor: np.ndarray


def summoned_share_from_date(date: str, lag: int, years: np.ndarray) -> np.ndarray:
    """Share of each step's cohort that turned 18 on or after ``date`` (pro rata by days).

    The cohort of step y turned 18 in year y − ``lag``; births are taken as spread evenly
    over the year. Returns ``[len(years)]`` shares.
    """
    d = dt.date.fromisoformat(date)
    out = np.zeros(len(years))
    for i, y in enumerate(years):
        y18 = int(y) - lag
        if y18 > d.year:
            out[i] = 1.0
        elif y18 == d.year:
            days = 366 if calendar.isleap(y18) else 365
            out[i] = ((dt.date(y18, 12, 31) - d).days + 1) / days
    return out


def _by_sex(pair: SexShares | SexCounts, years: np.ndarray) -> np.ndarray:
    return np.stack([_series(pair.women, years), _series(pair.men, years)], axis=-1)


def _check_share(issues: list[Issue], path: str, arr: np.ndarray, years: np.ndarray, s) -> None:
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        active = [p.id for p in s.policies if p.from_year <= years[t]]
        issues.append(
            Issue(
                path,
                f"share outside [0, 1] in {years[t]}"
                + (f" (policies in force: {', '.join(active)})" if active else ""),
                float(arr[bad][0]),
            )
        )


def compile_conscription(s: Scenario, years: np.ndarray) -> ConscriptionArrays | None:
    """Resolve ``[conscription]`` per projection year, with the ``conscription.*`` policies.

    Raises
    ------
    ScenarioError
        If a policy drives a share outside [0, 1] or the places below 0.
    """
    c = s.conscription
    if c is None:
        return None
    cohort = _by_sex(c.cohort, years)
    if c.women_summoned_from is not None:
        women = summoned_share_from_date(c.women_summoned_from, c.assessment_lag_years, years)
    else:
        women = _series(c.women_summoned, years)
    summoned = np.stack([women, _series(c.men_summoned, years)], axis=-1)
    fit = _by_sex(c.fit, years)
    volunteer = _by_sex(c.volunteer_share, years)
    places = _series(c.places, years)
    dropout = np.stack([_by_sex(c.dropout.volunteers, years), _by_sex(c.dropout.drafted, years)], 1)
    drafted_contract = c.contract_share_drafted or c.contract_share
    contract = np.stack([_by_sex(c.contract_share, years), _by_sex(drafted_contract, years)], 1)
    months = _series(c.service_months, years)

    for pol in s.policies:
        if not pol.parameter.startswith("conscription."):
            continue
        w = _weights(pol.from_year, pol.to_year, years)
        sexes = [SEXES.index(x) for x in (pol.sexes or list(SEXES))]
        if pol.parameter == "conscription.places":
            places = apply_policy(places, w, pol.set, pol.scale)
        elif pol.parameter == "conscription.women_summoned":
            summoned[:, WOMEN] = apply_policy(summoned[:, WOMEN], w, pol.set, pol.scale)
        elif pol.parameter == "conscription.volunteer_share":
            for sx in sexes:
                volunteer[:, sx] = apply_policy(volunteer[:, sx], w, pol.set, pol.scale)
        elif pol.parameter == "conscription.contract_share":
            for sx in sexes:
                contract[:, :, sx] = apply_policy(contract[:, :, sx], w, pol.set, pol.scale)

    issues: list[Issue] = []
    _check_share(issues, "conscription.women_summoned", summoned, years, s)
    _check_share(issues, "conscription.volunteer_share", volunteer, years, s)
    _check_share(issues, "conscription.contract_share", contract, years, s)
    if (places < 0).any():
        issues.append(Issue("conscription.places", "places must not be negative", places.min()))
    if issues:
        raise ScenarioError(issues, s.name)
    return ConscriptionArrays(
        entry=s.grade_ids.index(c.entry_grade),
        cohort=cohort,
        summoned=summoned,
        fit=fit,
        volunteer=volunteer,
        places=places,
        dropout=dropout,
        contract=contract,
        service_months=months,
    )


def compile_deployments(
    s: Scenario, populations: dict[str, np.ndarray]
) -> tuple[DeploymentArrays, ...]:
    """Resolve every ``[[deployments]]`` pool at the year-ends start_year … end_year.

    ``populations`` maps grade and group ids to grade masks (as in ``Compiled``).

    Raises
    ------
    ScenarioError
        If a policy drives the odds to 0, a floor outside [0, 1] or the demand below 0.
    """
    if not s.deployments:
        return ()
    years = np.arange(s.start_year, s.end_year + 1)
    out = []
    issues: list[Issue] = []
    for i, d in enumerate(s.deployments):
        mask = np.zeros(len(s.grades), dtype=bool)
        for gid in d.grades:
            mask |= populations[gid]
        demand = _series(d.demand, years)
        odds = np.full(len(years), d.women_odds)
        floor = np.full(len(years), d.women_floor)
        for pol in s.policies:
            if not pol.parameter.startswith("deployment.") or (
                pol.deployments is not None and d.id not in pol.deployments
            ):
                continue
            w = _weights(pol.from_year, pol.to_year, years)
            if pol.parameter == "deployment.demand":
                demand = apply_policy(demand, w, pol.set, pol.scale)
            elif pol.parameter == "deployment.women_odds":
                odds = apply_policy(odds, w, pol.set, pol.scale)
            else:
                floor = apply_policy(floor, w, pol.set, pol.scale)
        _check_share(issues, f"deployments[{i}].women_floor", floor, years, s)
        wrong = (odds <= 0) | (odds > MAX_WOMEN_ODDS)
        if wrong.any():
            j = int(np.argmax(wrong))
            issues.append(
                Issue(
                    f"deployments[{i}].women_odds",
                    f"must stay above 0 and at most {MAX_WOMEN_ODDS:g} (after policies); at "
                    f"year-end {int(years[j])} it is {odds[j]:g}",
                    float(odds[j]),
                )
            )
        if (demand < 0).any():
            issues.append(Issue(f"deployments[{i}].demand", "must not be negative", demand.min()))
        out.append(DeploymentArrays(d.id, mask, d.min_years_in_grade, demand, odds, floor))
    if issues:
        raise ScenarioError(issues, s.name)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------------------------
def conscription_step(
    cs: ConscriptionArrays, sampler, t: int, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the funnel of projection year t for a batch.

    Returns
    -------
    signers
        ``[B, 2]`` contract signers by sex (the entry grade's recruits).
    stages
        ``[B, len(FUNNEL_STAGES), 2]`` persons at each stage by sex.
    places
        ``[B, 2]`` the places and the places left unfilled.
    """
    cohort = np.broadcast_to(sampler.count(cs.cohort[t]), (batch, 2))
    summoned = sampler.binomial("conscription/summoned", cohort, cs.summoned[t])
    fit = sampler.binomial("conscription/fit", summoned, cs.fit[t])
    vol_s = sampler.binomial("conscription/volunteers", fit, cs.volunteer[t])
    vol_n = sampler.binomial(
        "conscription/volunteers_not_summoned", cohort - summoned, cs.fit[t] * cs.volunteer[t]
    )
    vol = vol_s + vol_n
    pool = fit - vol_s
    places = np.broadcast_to(sampler.count(np.asarray(cs.places[t])), (batch,))
    taken = np.minimum(places, vol.sum(-1))
    taken_w = sampler.select("conscription/volunteers_taken", taken, vol[:, 0], vol[:, 1], 1.0)
    need = np.minimum(places - taken, pool.sum(-1))
    drafted_w = sampler.select("conscription/lottery", need, pool[:, 0], pool[:, 1], 1.0)
    by_regime = (
        np.stack([taken_w, taken - taken_w], axis=-1),
        np.stack([drafted_w, need - drafted_w], axis=-1),
    )
    completers = []
    signers = []
    for r, regime in enumerate(("volunteers", "drafted")):
        n_r = by_regime[r]
        done = n_r - sampler.binomial(f"conscription/dropout/{regime}", n_r, cs.dropout[t, r])
        completers.append(done)
        signers.append(sampler.binomial(f"conscription/contract/{regime}", done, cs.contract[t, r]))
    stages = np.stack(
        [
            cohort,
            summoned,
            fit + vol_n,
            vol,
            pool,
            by_regime[0],
            by_regime[1],
            by_regime[0] + by_regime[1],
            completers[0] + completers[1],
            signers[0] + signers[1],
        ],
        axis=1,
    )
    place_diag = np.stack([places, places - taken - need], axis=-1)
    return signers[0] + signers[1], stages, place_diag


def deployment_step(
    pools: tuple[DeploymentArrays, ...],
    sampler,
    n: np.ndarray,
    j: int,
    odds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Deploy from the end-of-year state ``n[B, G, 2, K+1]`` at year-end index j (0 = start).

    ``odds``: ``[b, P, Y+1]`` the pools' women's odds with b = 1 (every replication the same)
    or B (one per replication, e.g. a posterior sample).
    Returns ``deployed[B, P, 2]`` and ``diagnostics[B, P, 4]`` (:data:`DEPLOYMENT_DIAGNOSTICS`).
    """
    batch = n.shape[0]
    deployed = np.zeros((batch, len(pools), 2), dtype=n.dtype)
    diag = np.zeros((batch, len(pools), len(DEPLOYMENT_DIAGNOSTICS)))
    for i, d in enumerate(pools):
        eligible = n[:, d.grades, :, d.min_years :].sum((1, 3))  # [B, 2]
        e_w, e_m = eligible[:, 0], eligible[:, 1]
        demand = sampler.count(np.asarray(d.demand[j]))
        total = np.minimum(demand, e_w + e_m)
        w = odds[:, i, j]  # [1] or [B]
        women = sampler.select(
            f"deploy/{d.id}/select", total, e_w, e_m, float(w[0]) if w.size == 1 else w
        )
        f = float(d.women_floor[j])
        binding = short = np.zeros(batch, dtype=bool)
        if f > 0:
            required = sampler.ceil(f * total)
            raised = np.maximum(women, np.minimum(e_w, required))
            binding = raised > women + 1e-9
            short = e_w < required - 1e-9
            women = raised
        deployed[:, i, 0] = women
        deployed[:, i, 1] = total - women
        diag[:, i] = np.stack(np.broadcast_arrays(demand, demand - total, binding, short), axis=-1)
    return deployed, diag


class PipelineRun:
    """The funnel and deployment arrays of one :func:`simulator.engine.simulate` call.

    Created before the first step with the initial state (the start year is deployed from
    it); ``add_signers`` adds the year's contract signers to the recruits, ``deploy`` draws
    the year-end's deployed, ``arrays`` returns the ``Raw`` fields of :data:`RAW_FIELDS`.
    Without a funnel and without pools it draws nothing and returns no arrays.
    """

    def __init__(self, c: Compiled, sampler, batch: int, n0: np.ndarray, odds: np.ndarray) -> None:
        self.c = c
        self.sampler = sampler
        self.batch = batch
        # [b, P, Y+1] the pools' women's odds (deployment_step), one row when every
        # replication has the same (then drawn as without a posterior on them: the same
        # numbers, common random numbers kept)
        self.odds = odds[:1] if (odds == odds[:1]).all() else odds
        Y, dtype = c.n_years, sampler.dtype
        self.funnel = self.places = self.deployed = self.diag = None
        if c.conscription is not None:
            self.funnel = np.zeros((batch, Y, len(FUNNEL_STAGES), 2), dtype=dtype)
            self.places = np.zeros((batch, Y, 2), dtype=dtype)
        if c.deployments:
            P = len(c.deployments)
            self.deployed = np.zeros((batch, Y + 1, P, 2), dtype=dtype)
            self.diag = np.zeros((batch, Y + 1, P, len(DEPLOYMENT_DIAGNOSTICS)))
            self.deploy(0, n0)

    def add_signers(self, t: int, recruits: np.ndarray) -> None:
        """Run the funnel of projection year t; add its signers to ``recruits[B, G, 2]``."""
        cs = self.c.conscription
        if cs is None:
            return
        signers, self.funnel[:, t], self.places[:, t] = conscription_step(
            cs, self.sampler, t, self.batch
        )
        recruits[:, cs.entry] += signers

    def deploy(self, j: int, n: np.ndarray) -> None:
        """Draw the deployed of year-end j (0 = the start year) from the state ``n``."""
        if self.c.deployments:
            self.deployed[:, j], self.diag[:, j] = deployment_step(
                self.c.deployments, self.sampler, n, j, self.odds
            )

    def arrays(self) -> dict[str, np.ndarray | None]:
        """The ``Raw`` fields (None where the scenario has no funnel / no pools)."""
        return {
            "funnel": self.funnel,
            "funnel_places": self.places,
            "deployments": self.deployed,
            "deployment_diagnostics": self.diag,
        }


def raw_rows(raw: Any, lo: int, hi: int) -> dict[str, np.ndarray | None]:
    """The pipeline fields of a ``Raw`` restricted to replications lo … hi−1."""
    return {f: None if getattr(raw, f) is None else getattr(raw, f)[lo:hi] for f in RAW_FIELDS}


def raw_concat(parts: list[Any]) -> dict[str, np.ndarray | None]:
    """The pipeline fields of several ``Raw`` blocks, concatenated over replications."""
    out: dict[str, np.ndarray | None] = {}
    for f in RAW_FIELDS:
        arrays = [getattr(r, f) for r in parts]
        out[f] = None if not arrays or arrays[0] is None else np.concatenate(arrays)
    return out


# ---------------------------------------------------------------------------------------------
# Results: populations and tidy frames
# ---------------------------------------------------------------------------------------------
def population_names(c: Compiled) -> list[str]:
    """The funnel and deployment populations of a compiled scenario."""
    return c.scenario.pipeline_populations()


def population_counts(
    c: Compiled, raw: Any, population: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Women and men ``[R, Y+1]`` of a funnel or deployment population, or None.

    Funnel populations are the year's flows (NaN for the start year, which has no step);
    the deployed are counted at every year-end, the start year included. A run without the
    arrays gives NaN.
    """
    if population not in population_names(c):
        return None
    R, Y1 = raw.stock.shape[0], raw.stock.shape[1]
    if population in POPULATION_STAGE:
        if getattr(raw, "funnel", None) is None:
            nan = np.full((R, Y1), np.nan)
            return nan, nan.copy()
        stage = raw.funnel[:, :, FUNNEL_STAGES.index(POPULATION_STAGE[population])].astype(float)
        pad = np.full((R, 1), np.nan)
        return (
            np.concatenate([pad, stage[:, :, 0]], axis=1),
            np.concatenate([pad, stage[:, :, 1]], axis=1),
        )
    if getattr(raw, "deployments", None) is None:
        nan = np.full((R, Y1), np.nan)
        return nan, nan.copy()
    dep = raw.deployments.astype(float)
    if population != "deployed":
        ids = [d.id for d in c.deployments]
        dep = dep[:, :, [ids.index(population.split(".", 1)[1])]]
    sel = dep.sum(2)
    return sel[..., 0], sel[..., 1]


def funnel_frame(result: Any) -> pd.DataFrame:
    """One row per (replication, year, stage, sex) of the funnel, with the year's places.

    Columns: engine, replication, year, stage, sex, count, places, unfilled.
    """
    import pandas as pd

    raw, c = result.raw, result.compiled
    cols = ["engine", "replication", "year", "stage", "sex", "count", "places", "unfilled"]
    if getattr(raw, "funnel", None) is None:
        return pd.DataFrame(columns=cols)
    f = raw.funnel
    R, Y, S, _ = f.shape
    idx = np.indices((R, Y, S, 2)).reshape(4, -1)
    places = raw.funnel_places[idx[0], idx[1]]
    return pd.DataFrame(
        {
            "engine": result.engine,
            "replication": result.replication_ids[idx[0]],
            "year": c.years[idx[1]],
            "stage": pd.Categorical.from_codes(idx[2], categories=list(FUNNEL_STAGES)),
            "sex": pd.Categorical.from_codes(idx[3], categories=list(SEXES)),
            "count": f.reshape(-1),
            "places": places[:, 0],
            "unfilled": places[:, 1],
        }
    )


def deployment_frame(result: Any) -> pd.DataFrame:
    """One row per (replication, year-end, pool, sex) of the deployed, start year included.

    Columns: engine, replication, year, pool, sex, deployed, demand, unmet, floor_binding,
    floor_short (the last four per pool and year, repeated for both sexes).
    """
    import pandas as pd

    raw, c = result.raw, result.compiled
    cols = ["engine", "replication", "year", "pool", "sex", "deployed", *DEPLOYMENT_DIAGNOSTICS]
    if getattr(raw, "deployments", None) is None:
        return pd.DataFrame(columns=cols)
    d = raw.deployments
    R, Y1, P, _ = d.shape
    idx = np.indices((R, Y1, P, 2)).reshape(4, -1)
    diag = raw.deployment_diagnostics[idx[0], idx[1], idx[2]]
    frame = pd.DataFrame(
        {
            "engine": result.engine,
            "replication": result.replication_ids[idx[0]],
            "year": result.years[idx[1]],
            "pool": pd.Categorical.from_codes(idx[2], categories=[p.id for p in c.deployments]),
            "sex": pd.Categorical.from_codes(idx[3], categories=list(SEXES)),
            "deployed": d.reshape(-1),
        }
    )
    for k, name in enumerate(DEPLOYMENT_DIAGNOSTICS):
        frame[name] = diag[:, k].astype(bool) if name.startswith("floor_") else diag[:, k]
    return frame
