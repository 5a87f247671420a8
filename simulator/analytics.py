"""Analytic results for time-invariant scenarios: steady state and years to target.

Both use the parameters of the scenario's **last projection year**, held constant.

**Steady state by the fundamental matrix** (Markov manpower theory, push model). For one sex,
the transient states are (grade g, completed years in grade k). One year moves a person from
(g, k) to (g, min(k+1, K)) with probability ``1 - a - p`` and to (g+1, 0) with probability
``p``; the rest leave. With ``Q`` that transient matrix and ``r`` the yearly intake vector
(``I · h`` women, ``I · (1 - h)`` men at (0, 0)), the year-end stock obeys
``n_{t+1} = n_t Q + r``, so the steady state is

    n* = r (I - Q)^{-1} = r N,

where ``N = (I - Q)^{-1}`` is the **fundamental matrix**: ``N[i, j]`` is the expected number of
year-ends an entrant in state i spends in state j. Summing N's entry row over k gives the
expected years an entrant spends in each grade (completed length of service by grade). This
applies when every promotion step is in rate mode and recruitment is ``fixed``.

Otherwise (vacancy promotions, ``replace`` or ``growth`` recruitment) the steady state is
found by iterating the expected engine to a fixed point (``method = "iteration"``).

**Years to target**: the first year-end at which the expected share meets a target's
condition, on the expected path extended with the last year's parameters, and the fractional
time found by linear interpolation of the share between the two year-ends around the crossing
(t counted in years from the start year).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from simulator.compiled import (
    MODE_VACANCY,
    RECRUIT_FIXED,
    YEARLY_FIELDS,
    Compiled,
    compile_scenario,
)
from simulator.engine import run_expected_raw
from simulator.results import Result
from simulator.scenario import Scenario, Target
from simulator.targets import condition_met


def _per_year(c: Compiled, fn) -> dict:
    """``fn(array, n)`` applied to every per-year array of ``c``, as ``replace`` keywords.

    Per-year arrays: :data:`YEARLY_FIELDS` (``[Y, ...]``), the conscription funnel's (``[Y,
    ...]``) and each deployment pool's (``[Y+1, ...]``, year-ends including the start year).
    ``n`` is the array's current number of years.
    """
    Y = c.n_years
    out = {name: fn(getattr(c, name), Y) for name in YEARLY_FIELDS}

    def each(obj, n):  # the fields the class declares per year (not e.g. a grade mask)
        return dataclasses.replace(obj, **{name: fn(getattr(obj, name), n) for name in obj.YEARLY})

    if c.conscription is not None:
        out["conscription"] = each(c.conscription, Y)
    if c.deployments:
        out["deployments"] = tuple(each(d, Y + 1) for d in c.deployments)
    return out


def _frozen(c: Compiled, years: int) -> Compiled:
    """A copy of ``c`` whose horizon is ``years`` steps of the last year's parameters."""
    reps = _per_year(c, lambda a, n: np.repeat(a[-1:], years + (len(a) - c.n_years), axis=0))
    new_years = np.arange(c.start_year + 1, c.start_year + 1 + years)
    return dataclasses.replace(c, years=new_years, **reps)


def fundamental_matrix(c: Compiled, sex: int) -> np.ndarray:
    """Return ``N = (I - Q)^{-1}`` over states (grade, k) for one sex (0 women, 1 men).

    States are ordered grade-major: index ``g * (K + 1) + k``.
    """
    G, nk = c.n_grades, c.K + 1
    a = c.attrition[-1, :, sex, :]
    p = c.promote_out[-1, :, sex, :]
    n_states = G * nk
    Q = np.zeros((n_states, n_states))
    for g in range(G):
        for k in range(nk):
            i = g * nk + k
            Q[i, g * nk + min(k + 1, nk - 1)] += 1.0 - a[g, k] - p[g, k]
            if g + 1 < G:
                Q[i, (g + 1) * nk] += p[g, k]
    return np.linalg.inv(np.eye(n_states) - Q)


def steady_state(
    scenario: Scenario | Compiled, max_years: int = 5000, tol: float = 1e-9
) -> dict[str, Any]:
    """Steady state of the scenario under its last-year parameters.

    Returns
    -------
    dict
        ``method`` ("fundamental matrix" or "iteration"), ``stock`` (array ``[G, 2]``),
        ``share`` by grade id, ``years_in_grade`` (``[G, 2]`` expected years an entrant
        spends in each grade, fundamental-matrix method only), ``converged``.
    """
    c = scenario if isinstance(scenario, Compiled) else compile_scenario(scenario)
    G, nk = c.n_grades, c.K + 1
    if c.recruitment_mode == RECRUIT_FIXED and not (c.mode == MODE_VACANCY).any():
        stock = np.zeros((G, 2))
        years_in_grade = np.zeros((G, 2))
        intake = float(c.intake[-1])
        h = float(c.women_share[-1])
        for sx, frac in ((0, h), (1, 1.0 - h)):
            N = fundamental_matrix(c, sx)
            entry = N[0]  # an entrant starts at (grade 0, k 0)
            per_grade = entry.reshape(G, nk).sum(axis=1)
            years_in_grade[:, sx] = per_grade
            stock[:, sx] = intake * frac * per_grade
        method, converged = "fundamental matrix", True
    else:
        step = 200
        path = _frozen(c, step)
        prev = None
        converged = False
        for _ in range(max(1, max_years // step)):
            raw = run_expected_raw(path)
            last = raw.stock[0, -1]
            if prev is not None and np.max(np.abs(last - prev)) <= tol * max(
                1.0, np.abs(last).max()
            ):
                converged = True
                break
            prev = last
            path = dataclasses.replace(path, initial=raw.final[0])
        stock = raw.stock[0, -1]
        years_in_grade = None
        method = "iteration"
    with np.errstate(invalid="ignore", divide="ignore"):
        share = stock[:, 0] / stock.sum(axis=1)
    return {
        "method": method,
        "converged": converged,
        "stock": stock,
        "share": {gid: float(share[g]) for g, gid in enumerate(c.grade_ids)},
        "years_in_grade": years_in_grade,
    }


def expected_path(scenario: Scenario | Compiled, years: int | None = None) -> Result:
    """Expected-engine path; with ``years`` the last year's parameters are held that long."""
    c = scenario if isinstance(scenario, Compiled) else compile_scenario(scenario)
    if years is not None:
        c = _frozen(c, years)
    return Result(c, "expected", run_expected_raw(c))


def years_to_target(
    scenario: Scenario | Compiled, target: Target, horizon: int = 500
) -> dict[str, Any]:
    """First year the expected share meets ``target`` (parameters frozen after the horizon).

    Returns ``first_year`` (int or None), ``years`` (fractional years from the start year by
    linear interpolation of the share between year-ends, or None) and the share path used.
    """
    c = scenario if isinstance(scenario, Compiled) else compile_scenario(scenario)
    extended = _extend(c, horizon)
    res = Result(extended, "expected", run_expected_raw(extended))
    share = res.share(target.population)[0]
    met = condition_met(target, share)
    if not met.any():
        return {"first_year": None, "years": None}
    i = int(np.argmax(met))
    if i == 0:
        return {"first_year": int(res.years[0]), "years": 0.0}
    s0, s1 = share[i - 1], share[i]
    if np.isnan(s0):  # a flow population has no value at the start year: met in step i
        return {"first_year": int(res.years[i]), "years": float(i)}
    bound = _crossed_bound(target, s0, s1)
    frac = 1.0 if s1 == s0 or bound is None else float(np.clip((bound - s0) / (s1 - s0), 0, 1))
    return {"first_year": int(res.years[i]), "years": (i - 1) + frac}


def _crossed_bound(target: Target, before: float, after: float) -> float | None:
    if target.comparator == "at_least":
        return target.value
    if target.comparator == "at_most":
        return target.value
    low = target.low if target.low is not None else 0.0
    return low if before < low else target.high


def _extend(c: Compiled, horizon: int) -> Compiled:
    """The scenario's own years, then its last year's parameters up to ``horizon`` steps."""
    if horizon <= c.n_years:
        return c
    extra = horizon - c.n_years
    merged = _per_year(c, lambda a, n: np.concatenate([a, np.repeat(a[-1:], extra, axis=0)]))
    years = np.arange(c.start_year + 1, c.start_year + 1 + horizon)
    return dataclasses.replace(c, years=years, **merged)
