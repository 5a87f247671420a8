"""Compile a validated :class:`~simulator.scenario.Scenario` into arrays for the engines.

Axes (always in this order): ``year`` (t = 0 … Y-1 for the projection years
``start_year + 1 … end_year``), ``grade`` (g = 0 … G-1, entry first), ``sex``
(s = 0 women, 1 men), ``k`` (completed years in grade, 0 … K, K open-ended).

Every parameter is resolved per projection year with the policies applied in file order:
a policy with weight w(y) (0 before ``from_year``, 1 from ``to_year`` or ``from_year`` on,
linear in between) changes a value x to ``(1 - w) x + w · set`` or ``x · (1 + w (scale - 1))``.

After the policies, the contract's constraints are checked for every year, grade, sex and
year in grade: probabilities lie in [0, 1] and ``attrition + promotion ≤ 1``. A violation is
an error naming the block, the year and the policy that caused it — values are never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import Issue, ScenarioError
from simulator.scenario import SEXES, Scenario, Series

if TYPE_CHECKING:
    from simulator.pipeline import ConscriptionArrays, DeploymentArrays

WOMEN, MEN = 0, 1
MODE_NONE, MODE_RATE, MODE_VACANCY = 0, 1, 2
RECRUIT_FIXED, RECRUIT_REPLACE, RECRUIT_GROWTH = 0, 1, 2
#: Recruitment mode ``conscription``: no intake of its own; the funnel's contract signers
#: (``Compiled.conscription``, :mod:`simulator.pipeline`) are the entry grade's recruits.
RECRUIT_CONSCRIPTION = 3


#: The arrays of :class:`Compiled` indexed by projection year first (``[Y, ...]``).
YEARLY_FIELDS = (
    "attrition",
    "promote_out",
    "women_odds",
    "women_floor",
    "lateral_share",
    "lateral_women_share",
    "establishment",
    "intake",
    "women_share",
    "growth_rate",
)


@dataclass(frozen=True, eq=False)
class Compiled:
    """A scenario as arrays. Shapes use Y years, G grades, 2 sexes, K+1 tenure buckets.

    Attributes
    ----------
    attrition
        ``[Y, G, 2, K+1]`` annual probability of leaving.
    promote_out
        ``[Y, G, 2, K+1]`` annual probability of rate-mode promotion from g to g+1 (0 where
        the step into g+1 is vacancy mode, where k < min years, and for the top grade).
    mode
        ``[G]`` promotion mode of the step *into* g (0 none for the entry grade, 1 rate,
        2 vacancy).
    min_years_out
        ``[G]`` minimum completed years in grade g to be promoted out of g.
    women_odds, women_floor, lateral_share, lateral_women_share
        ``[Y, G]`` for the step into g.
    leave_vacant
        ``[G]`` True where a floor that cannot be met leaves posts vacant.
    establishment
        ``[Y, G]`` authorised posts (NaN where not given).
    intake, women_share, growth_rate
        ``[Y]`` recruitment parameters.
    initial
        ``[G, 2, K+1]`` integer initial headcount (end of start year).
    K_grade
        ``[G]`` the open-ended bucket of each grade (≤ K): the grade's rates do not depend on
        k from there on, so its persons with k ≥ ``K_grade[g]`` share one bucket. Keeping a
        grade's state no finer than it needs makes its random draws independent of other
        grades' tenure profiles (common random numbers).
    """

    scenario: Scenario
    years: np.ndarray
    grade_ids: tuple[str, ...]
    workforce: np.ndarray
    K: int
    attrition: np.ndarray
    promote_out: np.ndarray
    mode: np.ndarray
    min_years_out: np.ndarray
    women_odds: np.ndarray
    women_floor: np.ndarray
    lateral_share: np.ndarray
    lateral_women_share: np.ndarray
    leave_vacant: np.ndarray
    establishment: np.ndarray
    recruitment_mode: int
    intake: np.ndarray
    women_share: np.ndarray
    growth_rate: np.ndarray
    initial: np.ndarray
    populations: dict[str, np.ndarray] = field(default_factory=dict)
    K_grade: np.ndarray | None = None
    #: The conscription funnel's arrays (``[conscription]``), see :mod:`simulator.pipeline`.
    conscription: ConscriptionArrays | None = None
    #: One entry per ``[[deployments]]`` pool, see :mod:`simulator.pipeline`.
    deployments: tuple[DeploymentArrays, ...] = ()

    @property
    def start_year(self) -> int:
        """Year whose end-of-year stock is the initial state."""
        return self.scenario.start_year

    @property
    def n_years(self) -> int:
        """Number of projection steps Y."""
        return len(self.years)

    @property
    def n_grades(self) -> int:
        """Number of grades G."""
        return len(self.grade_ids)


def _series(series: Series | None, years: np.ndarray, default: float = np.nan) -> np.ndarray:
    """The value of ``series`` in force in each of ``years`` (``default`` without a series).

    :meth:`Series.at <simulator.scenario.Series.at>` for every year, vectorised with the
    same arithmetic, so equal to ``[series.at(y) for y in years]`` (tested).
    """
    if series is None:
        return np.full(len(years), default)
    years = np.asarray(years, dtype=np.int64)
    if series.kind == "constant":
        return np.full(len(years), float(series.constant))
    if series.kind == "steps":
        step_years = np.array([y for y, _ in series.steps], dtype=np.int64)
        if np.any(np.diff(step_years) <= 0):  # not sorted (built by hand): at()'s own loop
            return np.array([series.at(int(y)) for y in years], dtype=float)
        step_values = np.array([v for _, v in series.steps], dtype=float)
        # at(): the last step at or before the year, else the first step.
        return step_values[np.maximum(np.searchsorted(step_years, years, side="right") - 1, 0)]
    if series.to_year <= series.from_year:  # built by hand (the parser refuses it): at()
        return np.array([series.at(int(y)) for y in years], dtype=float)
    frac = (years - series.from_year) / (series.to_year - series.from_year)
    ramp = series.start + frac * (series.end - series.start)
    inside = np.where(years >= series.to_year, series.end, ramp)
    return np.where(years <= series.from_year, series.start, inside).astype(float)


def _profile(value: float | list[float], n: int) -> np.ndarray:
    if isinstance(value, list):
        out = np.empty(n)
        m = min(len(value), n)
        out[:m] = value[:m]
        out[m:] = value[-1]
        return out
    return np.full(n, float(value))


def _weights(from_year: int, to_year: int | None, years: np.ndarray) -> np.ndarray:
    if to_year is None:
        return (years >= from_year).astype(float)
    start = from_year - 1
    return np.clip((years - start) / (to_year - start), 0.0, 1.0)


def tenure_buckets(s: Scenario) -> int:
    """Return K, the open-ended top bucket of completed years in grade.

    K is at least 1, at least every minimum time in grade (promotion steps and deployment
    pools), and long enough that every tenure-dependent attrition profile and explicit initial
    spread is represented; a ``years_in_grade`` selector of an attrition policy makes each
    listed year an exact (not open-ended) bucket.
    """
    k = 1
    for p in s.promotions:
        k = max(k, p.min_years_in_grade)
    for a in s.attrition:
        for v in (a.women, a.men):
            if isinstance(v, list):
                k = max(k, len(v) - 1)
    for d in s.deployments:  # deployment pools' minimum years in grade, as for promotions
        k = max(k, d.min_years_in_grade)
    for pol in s.policies:  # a years-in-grade selector needs its buckets exact (not open-ended)
        if pol.years_in_grade:
            k = max(k, max(pol.years_in_grade) + 1)
    for i in s.initial:
        for sex in SEXES:
            spread = i.spread(sex)
            if isinstance(spread, list):
                k = max(k, len(spread) - 1)
    return k


def grade_buckets(
    s: Scenario,
    attrition: np.ndarray,
    promote_out: np.ndarray,
    min_years_out: np.ndarray,
    K: int,
) -> np.ndarray:
    """Return ``K_grade[g]``: from which completed years in grade g's rates stop changing.

    The largest of 1, the minimum years in grade to be promoted out of g (or to be eligible for
    a deployment pool), the length minus one of g's attrition profiles and explicit initial
    spreads, and the last k at which g's
    compiled annual probabilities (after policies) still differ from their value at K.
    """
    out = np.ones(len(s.grades), dtype=np.int64)
    index = {g.id: i for i, g in enumerate(s.grades)}
    for g in range(len(s.grades)):
        out[g] = max(1, int(min_years_out[g]))
    for d in s.deployments:  # a deployment pool's minimum years in grade must stay exact
        for gid in d.grades:
            for member in s.groups.get(gid, [gid]):
                out[index[member]] = max(out[index[member]], d.min_years_in_grade)
    for a in s.attrition:
        g = index[a.grade]
        for v in (a.women, a.men):
            if isinstance(v, list):
                out[g] = max(out[g], len(v) - 1)
    for block in s.initial:
        g = index[block.grade]
        for sex in SEXES:
            spread = block.spread(sex)
            if isinstance(spread, list):
                out[g] = max(out[g], len(spread) - 1)
    rates = np.concatenate([attrition, promote_out], axis=2)  # [Y, G, 4, K+1]
    differs = (rates != rates[..., K : K + 1]).any(axis=(0, 2))  # [G, K+1]
    for g in range(len(s.grades)):
        ks = np.flatnonzero(differs[g])
        if ks.size:
            out[g] = max(out[g], int(ks[-1]) + 1)
    return np.minimum(out, K)


def compile_scenario(s: Scenario) -> Compiled:
    """Compile a scenario to arrays, applying policies and checking the contract's constraints.

    Raises
    ------
    ScenarioError
        If a policy drives a probability outside [0, 1], makes attrition + promotion exceed 1,
        or sets an impossible value.
    """
    years = np.arange(s.start_year + 1, s.end_year + 1)
    Y, G, K = len(years), len(s.grades), tenure_buckets(s)
    nk = K + 1
    gindex = {g.id: i for i, g in enumerate(s.grades)}
    issues: list[Issue] = []

    attrition = np.zeros((Y, G, 2, nk))
    for a in s.attrition:
        g = gindex[a.grade]
        attrition[:, g, WOMEN, :] = _profile(a.women, nk)
        attrition[:, g, MEN, :] = _profile(a.men, nk)

    mode = np.zeros(G, dtype=np.int64)
    min_years_out = np.zeros(G, dtype=np.int64)
    prob_out = np.zeros((Y, G, 2))  # rate-mode probability of promotion out of g
    odds = np.ones((Y, G))
    floor = np.zeros((Y, G))
    lateral = np.zeros((Y, G))
    lateral_w = np.zeros((Y, G))
    leave_vacant = np.zeros(G, dtype=bool)
    step_block: dict[int, int] = {}
    for i, p in enumerate(s.promotions):
        g = gindex[p.to]
        step_block[g] = i
        mode[g] = 2 if p.mode == "vacancy" else 1
        min_years_out[g - 1] = p.min_years_in_grade
        if p.probability is not None:
            prob_out[:, g - 1, WOMEN] = p.probability.women
            prob_out[:, g - 1, MEN] = p.probability.men
        odds[:, g] = p.women_odds
        floor[:, g] = p.women_floor
        lateral[:, g] = p.lateral_share
        lateral_w[:, g] = p.lateral_women_share or 0.0
        leave_vacant[g] = p.when_floor_short == "leave_vacant"

    establishment = np.full((Y, G), np.nan)
    for g, grade in enumerate(s.grades):
        if grade.establishment is not None:
            establishment[:, g] = _series(grade.establishment, years)

    rec = s.recruitment
    intake = _series(rec.intake, years, default=0.0)
    women_share = _series(rec.women_share, years, default=0.0)  # none in mode conscription
    growth_rate = _series(rec.growth_rate, years, default=0.0)

    # ---- policies ---------------------------------------------------------------------
    def grade_mask(i: int, grades: list[str] | None) -> np.ndarray:
        mask = np.zeros(G, dtype=bool)
        if grades is None:
            mask[:] = True
            return mask
        for gid in grades:
            for member in s.groups.get(gid, [gid]):
                mask[gindex[member]] = True
        return mask

    def apply(
        arr: np.ndarray, w: np.ndarray, p_set: float | None, p_scale: float | None
    ) -> np.ndarray:
        shape = (-1,) + (1,) * (arr.ndim - 1)
        ww = w.reshape(shape)
        if p_set is not None:
            return (1 - ww) * arr + ww * p_set
        factor = 1.0 if p_scale is None else p_scale
        return arr * (1 + ww * (factor - 1))

    for i, pol in enumerate(s.policies):
        w = _weights(pol.from_year, pol.to_year, years)
        gm = grade_mask(i, pol.grades)
        sexes = [SEXES.index(x) for x in (pol.sexes or list(SEXES))]
        par = pol.parameter
        if par == "attrition":
            for sx in sexes:
                if pol.years_in_grade is not None:  # only the listed completed years in grade
                    ks = np.array(sorted(set(pol.years_in_grade)))
                    sub = attrition[:, gm, sx][..., ks]
                    attrition[:, np.flatnonzero(gm)[:, None], sx, ks] = apply(
                        sub, w, pol.set, pol.scale
                    )
                    continue
                attrition[:, gm, sx, :] = apply(attrition[:, gm, sx, :], w, pol.set, pol.scale)
        elif par == "promotion.probability":
            src = np.zeros(G, dtype=bool)
            for g in np.flatnonzero(gm):
                if g > 0 and mode[g] == 1:
                    src[g - 1] = True
            if gm.any() and not src.any():
                issues.append(
                    Issue(
                        f"policies[{i}].grades",
                        "none of these grades has a rate-mode promotion step",
                        pol.grades,
                    )
                )
            for sx in sexes:
                prob_out[:, src, sx] = apply(prob_out[:, src, sx], w, pol.set, pol.scale)
        elif par == "establishment":
            missing = [s.grades[g].id for g in np.flatnonzero(gm) if np.isnan(establishment[0, g])]
            if pol.grades is not None and missing:
                issues.append(
                    Issue(
                        f"policies[{i}].grades",
                        f"grades without an establishment: {missing}",
                        pol.grades,
                    )
                )
            gm = gm & ~np.isnan(establishment[0])
            establishment[:, gm] = apply(establishment[:, gm], w, pol.set, pol.scale)
        elif par.startswith("promotion."):
            target = {
                "promotion.women_odds": odds,
                "promotion.women_floor": floor,
                "promotion.lateral_share": lateral,
                "promotion.lateral_women_share": lateral_w,
            }[par]
            vac_only = par != "promotion.women_odds"
            gm = gm & (mode == 2 if vac_only else mode > 0)
            if not gm.any():
                issues.append(
                    Issue(
                        f"policies[{i}].parameter",
                        f"{par} applies to {'vacancy-mode ' if vac_only else ''}promotion steps; "
                        "none of the selected grades has one",
                        par,
                    )
                )
            target[:, gm] = apply(target[:, gm], w, pol.set, pol.scale)
        elif par == "recruitment.intake":
            intake = apply(intake, w, pol.set, pol.scale)
        elif par == "recruitment.women_share":
            women_share = apply(women_share, w, pol.set, pol.scale)
        elif par == "recruitment.growth_rate":
            growth_rate = apply(growth_rate, w, pol.set, pol.scale)

    # ---- constraints after policies -------------------------------------------------------
    tenure = np.arange(nk)
    eligible = tenure[None, :] >= min_years_out[:, None]  # [G, nk]
    promote_out = prob_out[:, :, :, None] * eligible[None, :, None, :]
    # Rate-mode odds multiplier for women: odds ratio applied to the women's probability.
    rate_odds = np.ones((Y, G))
    for g in range(1, G):
        if mode[g] == 1:
            rate_odds[:, g - 1] = odds[:, g]
    pw = promote_out[:, :, WOMEN, :]
    ow = rate_odds[:, :, None]
    promote_out[:, :, WOMEN, :] = np.where(pw > 0, ow * pw / (1 - pw + ow * pw), 0.0)
    promote_out[:, G - 1] = 0.0

    def first_bad(mask: np.ndarray) -> tuple[int, ...]:
        return tuple(int(x) for x in np.argwhere(mask)[0])

    def blame(year: int) -> str:
        active = [p.id for p in s.policies if p.from_year <= year]
        return f" (policies in force: {', '.join(active)})" if active else ""

    bad = (attrition < 0) | (attrition > 1)
    if bad.any():
        t, g, sx, k = first_bad(bad)
        issues.append(
            Issue(
                f"attrition[{_block_index(s.attrition, 'grade', s.grades[g].id)}].{SEXES[sx]}",
                f"annual probability outside [0, 1] in {years[t]} at {k} years in grade"
                f"{blame(int(years[t]))}",
                float(attrition[t, g, sx, k]),
            )
        )
    bad = (promote_out < 0) | (promote_out > 1)
    total = attrition + promote_out
    over = total > 1 + 1e-12
    if bad.any() or over.any():
        t, g, sx, k = first_bad(bad | over)
        block = step_block.get(g + 1, 0)
        issues.append(
            Issue(
                f"promotions[{block}].probability.{SEXES[sx]}",
                f"attrition + promotion must be ≤ 1 (annual probabilities of grade "
                f"{s.grades[g].id!r}); in {years[t]} at {k} years in grade they are "
                f"{attrition[t, g, sx, k]:.4g} + {promote_out[t, g, sx, k]:.4g}"
                f"{blame(int(years[t]))}",
                float(total[t, g, sx, k]),
            )
        )
    for name, arr in (
        ("promotion.women_floor", floor),
        ("promotion.lateral_share", lateral),
        ("promotion.lateral_women_share", lateral_w),
        ("recruitment.women_share", women_share[:, None]),
    ):
        if ((arr < 0) | (arr > 1)).any():
            t = int(np.argwhere((arr < 0) | (arr > 1))[0][0])
            issues.append(
                Issue(
                    name,
                    f"share outside [0, 1] in {years[t]}{blame(int(years[t]))}",
                    float(arr.flat[np.argmax((arr < 0) | (arr > 1))]),
                )
            )
    stepped = mode > 0  # grades with a promotion step into them
    if (odds[:, stepped] <= 0).any():  # a policy set or scaled the odds to 0
        t, j = (int(x) for x in np.argwhere(odds[:, stepped] <= 0)[0])
        g = int(np.flatnonzero(stepped)[j])
        issues.append(
            Issue(
                f"promotions[{step_block[g]}].women_odds",
                f"women's relative odds must stay above 0; in {years[t]} they are "
                f"{odds[t, g]:g}{blame(int(years[t]))}",
                float(odds[t, g]),
            )
        )
    if (intake < 0).any():
        issues.append(
            Issue("recruitment.intake", "intake must not be negative", float(intake.min()))
        )
    if np.any(establishment[~np.isnan(establishment)] < 0):
        issues.append(Issue("grades", "establishment must not be negative", None))
    if issues:
        raise ScenarioError(issues, s.name)

    # ---- initial state ----------------------------------------------------------------------
    initial = np.zeros((G, 2, nk), dtype=np.int64)
    for block in s.initial:
        g = gindex[block.grade]
        for sx, count in enumerate(block.counts()):
            shares = _initial_spread(
                block.spread(SEXES[sx]), attrition[0, g, sx], promote_out[0, g, sx], nk
            )
            initial[g, sx] = _largest_remainder(count, shares)
    k_grade = grade_buckets(s, attrition, promote_out, min_years_out, K)
    for g in range(G):
        kg = k_grade[g]
        initial[g, :, kg] += initial[g, :, kg + 1 :].sum(-1)
        initial[g, :, kg + 1 :] = 0

    populations: dict[str, np.ndarray] = {}
    for g, gid in enumerate(s.grade_ids):
        m = np.zeros(G, dtype=bool)
        m[g] = True
        populations[gid] = m
    for name, members in s.groups.items():
        populations[name] = np.isin(np.array(s.grade_ids), members)
    populations["workforce"] = np.array([g.workforce for g in s.grades])

    # Imported here: simulator.pipeline builds on this module.
    from simulator.pipeline import compile_conscription, compile_deployments

    return Compiled(
        scenario=s,
        years=years,
        grade_ids=tuple(s.grade_ids),
        workforce=populations["workforce"],
        K=K,
        attrition=attrition,
        promote_out=np.clip(
            promote_out, 0.0, 1.0 - attrition
        ),  # float-rounding only (checked above)
        mode=mode,
        min_years_out=min_years_out,
        women_odds=odds,
        women_floor=floor,
        lateral_share=lateral,
        lateral_women_share=lateral_w,
        leave_vacant=leave_vacant,
        establishment=establishment,
        recruitment_mode={"fixed": 0, "replace": 1, "growth": 2, "conscription": 3}[rec.mode],
        intake=intake,
        women_share=women_share,
        growth_rate=growth_rate,
        initial=initial,
        populations=populations,
        K_grade=k_grade,
        conscription=compile_conscription(s, years),
        deployments=compile_deployments(s, populations),
    )


def _block_index(blocks: list, key: str, value: str) -> int:
    for i, b in enumerate(blocks):
        if getattr(b, key) == value:
            return i
    return 0


def _initial_spread(spec: str | list[float], a: np.ndarray, p: np.ndarray, nk: int) -> np.ndarray:
    """Shares of a grade's initial headcount by completed years in grade.

    'steady': the profile of a cohort recruited at a constant rate under the first
    projection year's rates: share_k ∝ Π_{j<k} (1 - a_j - p_j) for k < K, and the open
    bucket K holds the tail Π_{j<K}(1 - a_j - p_j) / (1 - stay_K); where nobody leaves the
    open bucket (stay_K = 1) it holds one year's survivors.
    """
    out = np.zeros(nk)
    if spec == "entry":
        out[0] = 1.0
        return out
    if spec == "open":
        out[-1] = 1.0
        return out
    if isinstance(spec, list):
        out[: len(spec)] = spec
        return out / out.sum()
    stay = 1.0 - a - p
    surv = np.concatenate([[1.0], np.cumprod(stay[:-1])])
    out[:] = surv
    leave_open = 1.0 - stay[-1]
    if leave_open > 1e-12:
        out[-1] = surv[-1] / leave_open
    total = out.sum()
    if total <= 0:
        out[:] = 0.0
        out[0] = 1.0
        return out
    return out / total


def _largest_remainder(count: int, shares: np.ndarray) -> np.ndarray:
    """Split an integer count by shares, rounding by largest remainder (deterministic)."""
    raw = count * shares
    base = np.floor(raw).astype(np.int64)
    rest = int(count - base.sum())
    if rest > 0:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rest]] += 1
    return base
