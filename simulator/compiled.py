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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import Issue, ScenarioError
from simulator.scenario import MAX_WOMEN_ODDS, SEXES, Scenario, Series

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

    @property
    def deployment_odds(self) -> np.ndarray:
        """``[P, Y+1]`` each deployment pool's women's odds at the year-ends 0 … Y (relative
        deployability, 1 = in proportion to the pool); P = 0 without pools."""
        if not self.deployments:
            return np.ones((0, self.n_years + 1))
        return np.stack([np.asarray(d.women_odds, dtype=float) for d in self.deployments])


def _series(series: Series | None, years: np.ndarray, default: float = np.nan) -> np.ndarray:
    """The value of ``series`` in force in each of ``years`` (``default`` without a series).

    :meth:`Series.at <simulator.scenario.Series.at>` for every year, vectorised with the
    same arithmetic, so equal to ``[series.at(y) for y in years]`` (tested).
    """
    return _series_batch([series], years, default)[0]


def _series_batch(
    series: Sequence[Series | None], years: np.ndarray, default: float = np.nan
) -> np.ndarray:
    """``[N, Y]``: :func:`_series` of each of N series of the same shape (:func:`structure_key`:
    all None or all of one kind, with the same step years or ramp years), values apart."""
    first, n = series[0], len(series)
    if first is None:
        return np.full((n, len(years)), default)
    years = np.asarray(years, dtype=np.int64)
    if first.kind == "constant":
        return np.repeat(np.array([[float(x.constant)] for x in series]), len(years), axis=1)
    if first.kind == "steps":
        step_years = np.array([y for y, _ in first.steps], dtype=np.int64)
        if np.any(np.diff(step_years) <= 0):  # not sorted (built by hand): at()'s own loop
            return np.array([[x.at(int(y)) for y in years] for x in series], dtype=float)
        step_values = np.array([[v for _, v in x.steps] for x in series], dtype=float)
        # at(): the last step at or before the year, else the first step.
        return step_values[:, np.maximum(np.searchsorted(step_years, years, side="right") - 1, 0)]
    if first.to_year <= first.from_year:  # built by hand (the parser refuses it): at()
        return np.array([[x.at(int(y)) for y in years] for x in series], dtype=float)
    frac = (years - first.from_year) / (first.to_year - first.from_year)
    start = np.array([[x.start] for x in series], dtype=float)
    end = np.array([[x.end] for x in series], dtype=float)
    ramp = start + frac * (end - start)
    inside = np.where(years >= first.to_year, end, ramp)
    return np.where(years <= first.from_year, start, inside).astype(float)


def _profiles(values: Sequence[float | list[float]], n: int) -> np.ndarray:
    """``[N, n]``: each attrition value by completed years in grade 0 … n-1 (a number at
    every k; a list's last entry holding from its end on). All lists of one length, or all
    numbers (:func:`structure_key`)."""
    if isinstance(values[0], list):
        given = np.array(values, dtype=float)
        out = np.empty((len(values), n))
        m = min(given.shape[1], n)
        out[:, :m] = given[:, :m]
        out[:, m:] = given[:, -1:]
        return out
    return np.repeat(np.array([[float(v)] for v in values]), n, axis=1)


def _weights(from_year: int, to_year: int | None, years: np.ndarray) -> np.ndarray:
    if to_year is None:
        return (years >= from_year).astype(float)
    start = from_year - 1
    return np.clip((years - start) / (to_year - start), 0.0, 1.0)


def apply_policy(
    arr: np.ndarray,
    w: np.ndarray,
    p_set: float | np.ndarray | None,
    p_scale: float | np.ndarray | None,
    lead: int = 0,
) -> np.ndarray:
    """The policy rule: ``(1 - w) x + w · set``, or ``x · (1 + w (scale - 1))``.

    ``w`` has one weight per projection year; ``arr``'s year axis is axis ``lead``. With
    ``lead = 1``, axis 0 is a batch of scenarios and ``set``/``scale`` are one value per
    scenario (``[N]``).
    """
    tail = (1,) * (arr.ndim - lead - 1)
    ww = w.reshape((1,) * lead + (-1,) + tail)

    def each(v: float | np.ndarray) -> float | np.ndarray:
        return np.reshape(v, (-1,) + (1,) * (arr.ndim - 1)) if np.ndim(v) else v

    if p_set is not None:
        return (1 - ww) * arr + ww * each(p_set)
    factor = 1.0 if p_scale is None else each(p_scale)
    return arr * (1 + ww * (factor - 1))


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


def structure_key(s: Scenario) -> tuple:
    """What :func:`compile_scenario` reads from a scenario other than its values.

    Two scenarios with equal keys compile through the same steps to arrays of the same
    shapes (years, grades and their groups, promotion modes and minimum years, whether each
    series is a number, steps on which years or a ramp over which years, the lengths of
    attrition profiles and initial spreads, every policy but its ``set``/``scale`` value,
    deployment pools' grades and minimum years): :func:`compile_batch` compiles such
    scenarios together.
    """

    def series(x: Series | None) -> tuple | None:
        if x is None:
            return None
        if x.kind == "steps":
            return ("steps", tuple(y for y, _ in x.steps))
        if x.kind == "ramp":
            return ("ramp", x.from_year, x.to_year)
        return ("constant",)

    def shape(v: object) -> object:
        return len(v) if isinstance(v, list) else None if isinstance(v, int | float) else v

    rec = s.recruitment
    return (
        s.start_year,
        s.end_year,
        tuple((g.id, g.workforce, series(g.establishment)) for g in s.grades),
        tuple((name, tuple(members)) for name, members in s.groups.items()),
        tuple((a.grade, shape(a.women), shape(a.men)) for a in s.attrition),
        tuple(
            (
                p.to,
                p.mode,
                p.min_years_in_grade,
                p.probability is None,
                p.when_floor_short,
            )
            for p in s.promotions
        ),
        (rec.mode, series(rec.intake), series(rec.women_share), series(rec.growth_rate)),
        tuple(
            (
                p.id,
                p.parameter,
                p.from_year,
                p.to_year,
                p.set is None,
                p.scale is None,
                None if p.grades is None else tuple(p.grades),
                None if p.sexes is None else tuple(p.sexes),
                None if p.years_in_grade is None else tuple(p.years_in_grade),
                None if p.deployments is None else tuple(p.deployments),
            )
            for p in s.policies
        ),
        tuple((i.grade, *(shape(i.spread(sex)) for sex in SEXES)) for i in s.initial),
        tuple((tuple(d.grades), d.min_years_in_grade) for d in s.deployments),
    )


def grade_buckets(
    s: Scenario,
    attrition: np.ndarray,
    promote_out: np.ndarray,
    min_years_out: np.ndarray,
    K: int,
) -> np.ndarray:
    """Return ``K_grade[..., g]``: from which completed years in grade g's rates stop changing.

    The largest of 1, the minimum years in grade to be promoted out of g (or to be eligible for
    a deployment pool), the length minus one of g's attrition profiles and explicit initial
    spreads, and the last k at which g's
    compiled annual probabilities (after policies) still differ from their value at K.
    ``attrition`` and ``promote_out`` are ``[..., Y, G, 2, K+1]`` (leading axes: a batch of
    scenarios of one structure); the result has the leading axes and G.
    """
    base = np.ones(len(s.grades), dtype=np.int64)
    index = {g.id: i for i, g in enumerate(s.grades)}
    for g in range(len(s.grades)):
        base[g] = max(1, int(min_years_out[g]))
    for d in s.deployments:  # a deployment pool's minimum years in grade must stay exact
        for gid in d.grades:
            for member in s.groups.get(gid, [gid]):
                base[index[member]] = max(base[index[member]], d.min_years_in_grade)
    for a in s.attrition:
        g = index[a.grade]
        for v in (a.women, a.men):
            if isinstance(v, list):
                base[g] = max(base[g], len(v) - 1)
    for block in s.initial:
        g = index[block.grade]
        for sex in SEXES:
            spread = block.spread(sex)
            if isinstance(spread, list):
                base[g] = max(base[g], len(spread) - 1)
    rates = np.concatenate([attrition, promote_out], axis=-2)  # [..., Y, G, 4, K+1]
    lead = rates.ndim - 4
    differs = (rates != rates[..., K : K + 1]).any(axis=(lead, lead + 2))  # [..., G, K+1]
    last = differs.shape[-1] - np.argmax(differs[..., ::-1], axis=-1)  # last differing k + 1
    out = np.where(differs.any(axis=-1), np.maximum(base, last), base)
    return np.minimum(out, K)


class _BatchInvalid(Exception):
    """A scenario of a batch breaks a constraint: compile them one by one for its error."""


def compile_scenario(s: Scenario) -> Compiled:
    """Compile a scenario to arrays, applying policies and checking the contract's constraints.

    Raises
    ------
    ScenarioError
        If a policy drives a probability outside [0, 1], makes attrition + promotion exceed 1,
        or sets an impossible value.
    """
    return _compile([s])[0]


def with_rate_odds(p: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """Women's rate-mode promotion probability with relative odds ω applied to the step's
    probability p (annual probability): ``ω p / (1 − p + ω p)``, 0 where p = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, odds * p / (1 - p + odds * p), 0.0)


def without_rate_odds(p_w: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """The inverse of :func:`with_rate_odds`: the probability before odds ω,
    ``p_w / (ω + p_w − ω p_w)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p_w > 0, p_w / (odds + p_w - odds * p_w), 0.0)


def compile_batch(
    scenarios: Sequence[Scenario], pipeline_of: Compiled | None = None
) -> list[Compiled] | None:
    """Compile scenarios that differ in values only (a posterior's draws) in one pass.

    The same arrays as ``[compile_scenario(s) for s in scenarios]`` (tested, exactly): the
    same arithmetic, run once on arrays with a leading scenario axis instead of once per
    scenario. Returns None, to compile them one by one, when their structure differs
    (:func:`structure_key`) or one of them breaks a constraint (so that its error is its own).

    ``pipeline_of``: a compiled scenario whose funnel and pools every member shares (a
    posterior's point, when its draws do not vary a pool's odds), instead of compiling them
    per member.
    """
    if not scenarios:
        return []
    key = structure_key(scenarios[0])
    if any(structure_key(x) != key for x in scenarios[1:]):
        return None
    try:
        return _compile(list(scenarios), pipeline_of)
    except (_BatchInvalid, ScenarioError):  # ScenarioError: a batch of one
        return None


def _column(values: list[float]) -> np.ndarray:
    """``[N, 1]``: one value per scenario, to broadcast over the years."""
    return np.array(values, dtype=float)[:, None]


def _compile(group: list[Scenario], pipeline_of: Compiled | None = None) -> list[Compiled]:
    """Compile ``group`` (scenarios of one :func:`structure_key`; the structure is read from
    the first) on arrays with a leading scenario axis n = 0 … N-1.

    Raises ScenarioError for a single scenario, :class:`_BatchInvalid` for a batch.
    """
    s = group[0]
    N = len(group)
    years = np.arange(s.start_year + 1, s.end_year + 1)
    Y, G, K = len(years), len(s.grades), tenure_buckets(s)
    nk = K + 1
    gindex = {g.id: i for i, g in enumerate(s.grades)}
    issues: list[Issue] = []

    attrition = np.zeros((N, Y, G, 2, nk))
    for j, a in enumerate(s.attrition):
        g = gindex[a.grade]
        women = _profiles([x.attrition[j].women for x in group], nk)
        men = _profiles([x.attrition[j].men for x in group], nk)
        attrition[:, :, g, WOMEN, :] = women[:, None, :]
        attrition[:, :, g, MEN, :] = men[:, None, :]

    mode = np.zeros(G, dtype=np.int64)
    min_years_out = np.zeros(G, dtype=np.int64)
    prob_out = np.zeros((N, Y, G, 2))  # rate-mode probability of promotion out of g
    odds = np.ones((N, Y, G))
    floor = np.zeros((N, Y, G))
    lateral = np.zeros((N, Y, G))
    lateral_w = np.zeros((N, Y, G))
    leave_vacant = np.zeros(G, dtype=bool)
    step_block: dict[int, int] = {}
    for i, p in enumerate(s.promotions):
        g = gindex[p.to]
        step_block[g] = i
        mode[g] = 2 if p.mode == "vacancy" else 1
        min_years_out[g - 1] = p.min_years_in_grade
        steps = [x.promotions[i] for x in group]
        if p.probability is not None:
            prob_out[:, :, g - 1, WOMEN] = _column([q.probability.women for q in steps])
            prob_out[:, :, g - 1, MEN] = _column([q.probability.men for q in steps])
        odds[:, :, g] = _column([q.women_odds for q in steps])
        floor[:, :, g] = _column([q.women_floor for q in steps])
        lateral[:, :, g] = _column([q.lateral_share for q in steps])
        lateral_w[:, :, g] = _column([q.lateral_women_share or 0.0 for q in steps])
        leave_vacant[g] = p.when_floor_short == "leave_vacant"

    establishment = np.full((N, Y, G), np.nan)
    for g, grade in enumerate(s.grades):
        if grade.establishment is not None:
            establishment[:, :, g] = _series_batch(
                [x.grades[g].establishment for x in group], years
            )

    rec = s.recruitment
    intake = _series_batch([x.recruitment.intake for x in group], years, default=0.0)
    # none in mode conscription
    women_share = _series_batch([x.recruitment.women_share for x in group], years, default=0.0)
    growth_rate = _series_batch([x.recruitment.growth_rate for x in group], years, default=0.0)

    # ---- policies ---------------------------------------------------------------------
    def grade_mask(grades: list[str] | None) -> np.ndarray:
        mask = np.zeros(G, dtype=bool)
        if grades is None:
            mask[:] = True
            return mask
        for gid in grades:
            for member in s.groups.get(gid, [gid]):
                mask[gindex[member]] = True
        return mask

    def apply(arr: np.ndarray, w: np.ndarray, p_set, p_scale) -> np.ndarray:
        return apply_policy(arr, w, p_set, p_scale, lead=1)  # arr [N, Y, ...]

    for i, pol in enumerate(s.policies):
        w = _weights(pol.from_year, pol.to_year, years)
        gm = grade_mask(pol.grades)
        sexes = [SEXES.index(x) for x in (pol.sexes or list(SEXES))]
        par = pol.parameter
        p_set = None if pol.set is None else np.array([x.policies[i].set for x in group])
        p_scale = None if pol.scale is None else np.array([x.policies[i].scale for x in group])
        if par == "attrition":
            for sx in sexes:
                if pol.years_in_grade is not None:  # only the listed completed years in grade
                    ks = np.array(sorted(set(pol.years_in_grade)))
                    sub = attrition[:, :, gm, sx][..., ks]
                    attrition[:, :, np.flatnonzero(gm)[:, None], sx, ks] = apply(
                        sub, w, p_set, p_scale
                    )
                    continue
                attrition[:, :, gm, sx, :] = apply(attrition[:, :, gm, sx, :], w, p_set, p_scale)
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
                prob_out[:, :, src, sx] = apply(prob_out[:, :, src, sx], w, p_set, p_scale)
        elif par == "establishment":
            has = ~np.isnan(establishment[0, 0])
            missing = [s.grades[g].id for g in np.flatnonzero(gm & ~has)]
            if pol.grades is not None and missing:
                issues.append(
                    Issue(
                        f"policies[{i}].grades",
                        f"grades without an establishment: {missing}",
                        pol.grades,
                    )
                )
            gm = gm & has
            establishment[:, :, gm] = apply(establishment[:, :, gm], w, p_set, p_scale)
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
            target[:, :, gm] = apply(target[:, :, gm], w, p_set, p_scale)
        elif par == "recruitment.intake":
            intake = apply(intake, w, p_set, p_scale)
        elif par == "recruitment.women_share":
            women_share = apply(women_share, w, p_set, p_scale)
        elif par == "recruitment.growth_rate":
            growth_rate = apply(growth_rate, w, p_set, p_scale)

    # ---- constraints after policies -------------------------------------------------------
    tenure = np.arange(nk)
    eligible = tenure[None, :] >= min_years_out[:, None]  # [G, nk]
    promote_out = prob_out[..., None] * eligible[None, None, :, None, :]
    # Rate-mode odds multiplier for women: odds ratio applied to the women's probability.
    rate_odds = np.ones((N, Y, G))
    for g in range(1, G):
        if mode[g] == 1:
            rate_odds[:, :, g - 1] = odds[:, :, g]
    promote_out[:, :, :, WOMEN, :] = with_rate_odds(
        promote_out[:, :, :, WOMEN, :], rate_odds[..., None]
    )
    promote_out[:, :, G - 1] = 0.0

    # Messages name the first scenario that breaks a constraint (n = 0 for one scenario; a
    # batch with any violation is compiled again one by one, see compile_batch).
    def first_bad(mask: np.ndarray) -> tuple[int, ...]:
        return tuple(int(x) for x in np.argwhere(mask)[0])

    def blame(year: int) -> str:
        active = [p.id for p in s.policies if p.from_year <= year]
        return f" (policies in force: {', '.join(active)})" if active else ""

    bad_attrition = bad = (attrition < 0) | (attrition > 1)
    if bad.any():
        n, t, g, sx, k = first_bad(bad)
        issues.append(
            Issue(
                f"attrition[{_block_index(s.attrition, 'grade', s.grades[g].id)}].{SEXES[sx]}",
                f"annual probability outside [0, 1] in {years[t]} at {k} years in grade"
                f"{blame(int(years[t]))}",
                float(attrition[n, t, g, sx, k]),
            )
        )
    bad = (promote_out < 0) | (promote_out > 1)
    total = attrition + promote_out
    over = (total > 1 + 1e-12) & ~bad_attrition  # an attrition outside [0, 1] is named above
    if bad.any() or over.any():
        n, t, g, sx, k = first_bad(bad | over)
        block = step_block.get(g + 1, 0)
        issues.append(
            Issue(
                f"promotions[{block}].probability.{SEXES[sx]}",
                f"attrition + promotion must be ≤ 1 (annual probabilities of grade "
                f"{s.grades[g].id!r}); in {years[t]} at {k} years in grade they are "
                f"{attrition[n, t, g, sx, k]:.4g} + {promote_out[n, t, g, sx, k]:.4g}"
                f"{blame(int(years[t]))}",
                float(total[n, t, g, sx, k]),
            )
        )
    for field_name, arr in (
        ("women_floor", floor),
        ("lateral_share", lateral),
        ("lateral_women_share", lateral_w),
        (None, women_share[:, :, None]),  # recruitment
    ):
        outside = (arr < 0) | (arr > 1)
        if outside.any():
            n, t, g = first_bad(outside)
            if field_name is None:
                path, where = "recruitment.women_share", ""
            else:
                path = f"promotions[{step_block.get(g, 0)}].{field_name}"
                where = f" for the step into {s.grades[g].id!r}"
            issues.append(
                Issue(
                    path,
                    f"share outside [0, 1]{where} in {years[t]}{blame(int(years[t]))}",
                    float(arr[n, t, g]),
                )
            )
    stepped = mode > 0  # grades with a promotion step into them
    # A policy that sets or scales the odds to 0 (or beyond the schema's bound); intake and
    # establishment cannot go negative (set and scale are ≥ 0), nor growth push intake below 0.
    wrong_odds = (odds[:, :, stepped] <= 0) | (odds[:, :, stepped] > MAX_WOMEN_ODDS)
    if wrong_odds.any():
        n, t, j = first_bad(wrong_odds)
        g = int(np.flatnonzero(stepped)[j])
        issues.append(
            Issue(
                f"promotions[{step_block[g]}].women_odds",
                f"women's relative odds must stay above 0 and at most {MAX_WOMEN_ODDS:g}; in "
                f"{years[t]} they are {odds[n, t, g]:g}{blame(int(years[t]))}",
                float(odds[n, t, g]),
            )
        )
    if issues:
        if N > 1:
            raise _BatchInvalid
        raise ScenarioError(issues, s.name)

    # ---- initial state ----------------------------------------------------------------------
    initial = np.zeros((N, G, 2, nk), dtype=np.int64)
    if s.initial:
        block_grade = np.array([gindex[b.grade] for b in s.initial], dtype=np.int64)
        shares = _initial_spread(
            group, attrition[:, 0, block_grade], promote_out[:, 0, block_grade]
        )  # [N, blocks, 2, nk]
        counts = np.array([[b.counts() for b in x.initial] for x in group], dtype=np.int64)
        split = _largest_remainder(counts, shares)
        for j, g in enumerate(block_grade):
            initial[:, g] = split[:, j]
    k_grade = grade_buckets(s, attrition, promote_out, min_years_out, K)  # [N, G]
    # Fold the years in grade from K_grade on into bucket K_grade.
    k_of = k_grade[:, :, None, None]
    above = tenure > k_of
    folded = np.where(above, initial, 0).sum(axis=-1)  # [N, G, 2]
    initial = np.where(above, 0, initial) + (tenure == k_of) * folded[..., None]

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

    promote_out = np.clip(promote_out, 0.0, 1.0 - attrition)  # float-rounding only (checked)
    recruitment_mode = {"fixed": 0, "replace": 1, "growth": 2, "conscription": 3}[rec.mode]
    try:
        pipeline = (
            [(pipeline_of.conscription, pipeline_of.deployments)] * N
            if pipeline_of is not None
            else [
                (compile_conscription(x, years), compile_deployments(x, populations)) for x in group
            ]
        )
    except ScenarioError:
        if N > 1:  # a member's funnel or pool is invalid: one by one, for its own error
            raise _BatchInvalid from None
        raise
    shared = {  # the structure: one object for every scenario of the batch
        "years": years,
        "grade_ids": tuple(s.grade_ids),
        "workforce": populations["workforce"],
        "K": K,
        "mode": mode,
        "min_years_out": min_years_out,
        "leave_vacant": leave_vacant,
        "recruitment_mode": recruitment_mode,
        "populations": populations,
    }
    own = {  # each scenario's row of the batch arrays
        "attrition": attrition,
        "promote_out": promote_out,
        "women_odds": odds,
        "women_floor": floor,
        "lateral_share": lateral,
        "lateral_women_share": lateral_w,
        "establishment": establishment,
        "intake": intake,
        "women_share": women_share,
        "growth_rate": growth_rate,
        "initial": initial,
        "K_grade": k_grade,
    }
    return [
        Compiled(
            scenario=x,
            **shared,
            **{name: arr[n] for name, arr in own.items()},
            conscription=pipeline[n][0],
            deployments=pipeline[n][1],
        )
        for n, x in enumerate(group)
    ]


def _block_index(blocks: list, key: str, value: str) -> int:
    for i, b in enumerate(blocks):
        if getattr(b, key) == value:
            return i
    return 0


def _initial_spread(group: Sequence[Scenario], a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``[N, blocks, 2, K+1]``: the shares of each initial block's headcount (of each sex) by
    completed years in grade, for N scenarios of one structure; ``a``, ``p`` are the first
    projection year's attrition and promotion probabilities of each block's grade, same shape.

    'steady': the profile of a cohort recruited at a constant rate under the first
    projection year's rates: share_k ∝ Π_{j<k} (1 - a_j - p_j) for k < K, and the open
    bucket K holds the tail Π_{j<K}(1 - a_j - p_j) / (1 - stay_K); where nobody leaves the
    open bucket (stay_K = 1) it holds one year's survivors. 'entry': all at 0 years, 'open':
    all in the open bucket; a list: those shares (normalised).
    """
    stay = 1.0 - a - p
    ones = np.ones((*stay.shape[:-1], 1))
    surv = np.concatenate([ones, np.cumprod(stay[..., :-1], axis=-1)], axis=-1)
    out = surv.copy()
    leave_open = 1.0 - stay[..., -1]
    tail = leave_open > 1e-12
    out[..., -1] = np.divide(surv[..., -1], leave_open, out=surv[..., -1].copy(), where=tail)
    total = out.sum(axis=-1)
    empty = total <= 0
    out = out / np.where(empty, 1.0, total)[..., None]
    out[empty] = 0.0
    out[empty, 0] = 1.0
    for j, block in enumerate(group[0].initial):
        for sx, sex in enumerate(SEXES):
            spec = block.spread(sex)
            if spec == "steady":
                continue
            out[:, j, sx] = 0.0
            if spec == "entry":
                out[:, j, sx, 0] = 1.0
            elif spec == "open":
                out[:, j, sx, -1] = 1.0
            else:  # a list of shares (values may differ between the scenarios)
                given = np.zeros((len(group), out.shape[-1]))
                given[:, : len(spec)] = [x.initial[j].spread(sex) for x in group]
                out[:, j, sx] = given / given.sum(axis=1, keepdims=True)
    return out


def _largest_remainder(count: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split integer counts ``[...]`` by shares ``[..., n]``, rounding by largest remainder
    (deterministic: of equal remainders, the lower index gets the extra person)."""
    raw = count[..., None] * shares
    base = np.floor(raw).astype(np.int64)
    rest = count - base.sum(axis=-1)
    order = np.argsort(-(raw - base), axis=-1, kind="stable")
    rank = np.argsort(order, axis=-1, kind="stable")  # where each index stands in that order
    return base + (rank < rest[..., None])
