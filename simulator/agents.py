"""The individual-level engine: persons with careers, on a SimPy clock.

Every person is a row of a column store (numpy arrays): id, sex, grade, completed years in
grade ``k``, the time they entered the grade, their hire time (years of service), birth time
(age), and deployment history (end of the current tour, when they may deploy again, tours).
Times are in years from the end of ``start_year`` (τ = 0); the calendar time of an event is
``start_year + τ``, and year index t (0 … Y-1) is the step from τ = t to τ = t + 1, run with
the compiled parameters of projection year ``start_year + t + 1``.

Why a column store and not one SimPy process per person: a process per person costs several
microseconds per event and Python objects per person cost memory and cache; the contract's
annual step is one categorical draw per person, which numpy does for a whole grade at once.
So SimPy runs the *organisation's* processes — a calendar process per replication (year-ends,
promotion boards, intake dates), deployment rotation processes, and in continuous timing one
event per person-event (leaving, rate promotion, training completion, retirement) — while the
persons themselves are rows, indexed by grade when a decision needs them.

**Annual timing** (default) follows the model contract (``../shared/guides/model.md``) at each
year-end, in this order:

1. each person leaves with ``a[g,s,k]``, is promoted by rate with ``p[g,s,k]``, or stays — one
   uniform draw per person compared with ``a`` and ``a + p`` (a retiree, see below, leaves
   whatever the draw);
2. vacancy promotions, top grade first: ``V = max(0, round(E) − stayers of h)``; every vacancy
   is filled from outside with probability ℓ (so lateral hires ~ Binomial(V, ℓ)) and every
   lateral entrant is a woman with probability ℓ_w; ``N = min(V − L, eligible)`` internal
   promotions are made by sequential weighted draws without replacement — each eligible
   person gets an exponential clock with rate ω (women) or 1 (men) and the N earliest win,
   which is exactly sequential drawing with weights (the women's count is Wallenius). A floor
   f raises the women to ``min(eligible women, ceil(f N))`` (the earliest women's clocks win),
   and ``leave_vacant`` caps the men at ``floor(W (1 − f) / f)`` when eligible women are short;
3. recruitment into grade 0 (``fixed``: floor(I) plus a Bernoulli(frac I) extra recruit;
   ``replace``: up to round(E₀); ``growth``: the total of all grades up to round(T_y)), each
   recruit a woman with probability h_y;
4. ageing: stayers k → min(k + 1, K); entrants and promoted persons k = 0.

``round`` is numpy's ``rint`` (half to even) and ceil/floor forgive 1e-9 of float noise,
as in the cohort engines, so the two implementations count posts identically.

**Conscription funnel and deployment pools** (the contract's ``[conscription]`` and
``[[deployments]]``, :mod:`simulator.pipeline`), in both timings:

* the funnel's stages are counts of a cohort, not careers: each year they are drawn by the
  cohort engines' own step (:func:`simulator.pipeline.conscription_step`) from this
  replication's streams (``conscription/<stage>``); its contract signers then become persons of
  the entry grade at the year-end with the other recruits (continuous timing: at the intake
  dates, split over them like a fixed intake). With recruitment mode ``conscription`` they are
  the only recruits;
* each pool deploys at every year-end j = 0 … Y (the start year included) from the persons
  present in its grades with at least its minimum completed years in grade: ``N = min(Q,
  eligible)`` of them by exponential clocks (rate ω_d for a woman, 1 for a man: Wallenius, the
  same selection as vacancy promotions, stream ``pool/<id>``), the women raised to
  ``min(eligible women, ceil(f N))`` by a floor f. Nobody moves and no tour starts (the engine's
  own tours are ``[agents.deployment]``): the deployed by sex and the diagnostics fill the same
  ``Raw.deployments`` arrays as the cohort engines.

**Continuous timing** (``AgentOptions(timing="continuous")``) replaces the year-end flows by
events in continuous time (see ``docs/agents.md`` for the differences by design):

* leaving and rate promotion are competing risks with a constant total hazard
  ``Λ = −ln(1 − a − p)`` in each (year, years-in-grade) cell, split ``λ = Λ a/(a+p)`` (leave)
  and ``μ = Λ p/(a+p)`` (promotion); one year in a cell then gives exactly the annual
  probabilities (with p = 0, λ = −ln(1 − a)). The hazard changes at each calendar year and at
  each anniversary of entry into the grade (so eligibility k ≥ m starts at the exact time).
  A cell with ``a + p = 1`` ends at the person's next grade anniversary (one full year in it);
* training stages end by elapsed time; retirement happens at the exact age;
* vacancy boards sit at ``board_times`` (or fill each vacancy as it arises); recruits arrive at
  ``intake_times``.

Random streams: one numpy Generator per (replication, decision),
``SeedSequence(seed, spawn_key=(stable_id("agents"), replication, stable_id(decision)))`` with
decision names such as ``transition/<grade>`` or ``select/<grade>`` (:func:`agent_generator`).
The three-part key cannot coincide with the cohort engines' (block, decision) keys. Results do
not depend on how replications are split into chunks, and a decision's draws do not depend on
other decisions (common random numbers as far as the person lists they act on agree).
Within a replication persons are processed in a fixed order (table order, grade by grade), and
SimPy processes events at equal times in a documented order (person events before the
calendar's boards, intakes and year-end record; the calendar before deployment rotations).

This module does not use :mod:`simulator.engine`'s step; it uses the compiled per-year arrays
(:class:`simulator.compiled.Compiled`) and returns the same :class:`~simulator.engine.Raw`
arrays (as :class:`AgentRaw`, with extras) so that :class:`simulator.results.Result` and the
target summary work unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import simpy
from scipy import special
from simpy.events import URGENT

from simulator.agents_options import AgeDistribution, AgentOptions, validate_agent_options
from simulator.compiled import (
    MODE_VACANCY,
    RECRUIT_CONSCRIPTION,
    RECRUIT_FIXED,
    RECRUIT_REPLACE,
    Compiled,
)
from simulator.engine import (
    DIAGNOSTICS,
    FLOWS,
    SEX_NAMES,
    Raw,
    StochasticSampler,
    posterior_index,
)
from simulator.errors import Issue, ScenarioError
from simulator.pipeline import DEPLOYMENT_DIAGNOSTICS, FUNNEL_STAGES, conscription_step
from simulator.rng import BLOCK_SIZE, stable_id

__all__ = [
    "EVENTS",
    "AgentOptions",
    "AgentRaw",
    "agent_generator",
    "career_log_stocks",
    "check_options",
    "deployments_frame",
    "run_agents",
    "write_career_log",
]

#: Career-log event names (``event`` column), in code order.
EVENTS = (
    "initial",
    "recruit",
    "lateral_entry",
    "promotion",
    "training_complete",
    "leave",
    "retire",
    "deploy",
)
_EV = {name: i for i, name in enumerate(EVENTS)}

# Outcomes of a person in one annual step (and kinds of continuous-time person events).
STAY, LEAVE, PROMOTE, PROMOTE_VACANCY, RETIRE, COMPLETE = 0, 1, 2, 3, 4, 5
EPS = 1e-9
_LEAVERS, _PROMOTED_OUT, _PROMOTED_IN, _RECRUITS, _LATERAL_IN = range(5)
assert FLOWS == ("leavers", "promoted_out", "promoted_in", "recruits", "lateral_in")  # noqa: S101


_DOMAIN = stable_id("agents")


@functools.lru_cache(maxsize=4096)
def _decision_id(name: str) -> int:
    return stable_id(name)


def agent_generator(seed: int, replication: int, decision: str) -> np.random.Generator:
    """Return the Generator of one decision in one replication of the agents engine."""
    ss = np.random.SeedSequence(seed, spawn_key=(_DOMAIN, replication, _decision_id(decision)))
    return np.random.Generator(np.random.PCG64(ss))


def _ceil(x: float) -> int:
    """Smallest integer ≥ x, forgiving float noise (as the cohort engines)."""
    return math.ceil(x - EPS)


def _floor(x: float) -> int:
    """Largest integer ≤ x, forgiving float noise (as the cohort engines)."""
    return math.floor(x + EPS)


def _round(x: float) -> int:
    """A target count: nearest integer, half to even (numpy ``rint``, as the cohort engines)."""
    return int(np.rint(x))


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------
@dataclass
class AgentRaw(Raw):
    """:class:`~simulator.engine.Raw` plus what only the agents engine produces.

    Attributes
    ----------
    retirements
        ``[R, Y, G, 2]`` leavers who left at the retirement age (included in ``leavers``).
    deployed
        ``[R, Y, 2]`` distinct persons who started at least one tour in the year, by sex.
    tours
        ``[R, Y, 2]`` tours started in the year, by sex.
    deployment_unfilled
        ``[R, Y]`` deployment posts left open at the year's rotations (summed over rotations).
    person_years
        ``[R]`` persons at the start of each step, summed over the steps (the work done).
    """

    retirements: np.ndarray | None = None
    deployed: np.ndarray | None = None
    tours: np.ndarray | None = None
    deployment_unfilled: np.ndarray | None = None
    person_years: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------
# The plan: everything derived from (compiled, options) once, shared by all replications.
# ---------------------------------------------------------------------------------------------
@dataclass
class _Stage:
    grade: int
    duration: float
    dropout: np.ndarray | None  # [2] over the whole stage, or None (grade attrition as hazard)
    completion: np.ndarray  # [2] share of completers who move on


class _Plan:
    """Per-run constants: parameters by year, hazards, ages, deployment, stages."""

    def __init__(self, c: Compiled, o: AgentOptions, career_log: bool = False) -> None:
        s = c.scenario
        self.c = c
        self.o = o
        # Ages are drawn only where something uses them (retirement, the career log).
        self.needs_age = o.retirement_age is not None or career_log
        self.columns = ["pid", "sex", "grade", "k", "since", "alive"]
        if o.timing == "continuous":
            self.columns += ["ver"]
        if self.needs_age:
            self.columns += ["birth"]
        if o.deployment is not None:
            self.columns += ["hire", "dep_until", "dep_free", "dep_year"]
        self.Y, self.G, self.K = c.n_years, c.n_grades, c.K
        self.ids = c.grade_ids
        self.continuous = o.timing == "continuous"
        self.vacancy_grades = [h for h in range(self.G - 1, 0, -1) if c.mode[h] == MODE_VACANCY]
        self.is_vacancy = np.array([c.mode[h] == MODE_VACANCY for h in range(self.G)])
        with np.errstate(invalid="ignore"):
            self.posts = np.where(np.isnan(c.establishment), 0, np.rint(c.establishment))
        self.posts = self.posts.astype(np.int64)
        index = {g: i for i, g in enumerate(self.ids)}

        self.stages: dict[int, _Stage] = {}
        for st in o.training:
            g = index[st.grade]
            self.stages[g] = _Stage(
                grade=g,
                duration=st.duration_years,
                dropout=None
                if st.dropout is None
                else np.array([st.dropout.women, st.dropout.men]),
                completion=np.array(
                    [1.0, 1.0]
                    if st.completion_share is None
                    else [st.completion_share.women, st.completion_share.men]
                ),
            )
        self.stage_duration = np.full(self.G, np.nan)
        for g, st in self.stages.items():
            self.stage_duration[g] = st.duration

        # Continuous-time hazards per (year, grade, sex, k): total Λ and leaving fraction φ.
        a, p = c.attrition, c.promote_out
        ap = a + p
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(ap >= 1.0 - 1e-12, np.inf, -np.log1p(-np.minimum(ap, 1.0)))
            phi = np.where(ap > 0, a / np.where(ap > 0, ap, 1.0), 1.0)
            for g, st in self.stages.items():
                if st.dropout is not None:
                    lam[:, g] = (-np.log1p(-st.dropout) / st.duration)[None, :, None]
                else:
                    lam[:, g] = np.where(a[:, g] >= 1.0, np.inf, -np.log1p(-a[:, g]))
                phi[:, g] = 1.0
        self.hazard = lam
        self.leave_fraction = phi

        # Ages.
        self.retirement_age = o.retirement_age
        by_grade = {ga.grade: ga for ga in o.initial_ages}
        self.initial_age = [by_grade.get(g, o.default_initial_age) for g in self.ids]
        self.entry_age = o.entry_age
        # Years of service at entry to grade g along the fastest path (initial persons).
        self.service_offset = np.concatenate([[0.0], np.cumsum(c.min_years_out[:-1])]).astype(float)
        # (grade, sex) whose initial persons all entered the grade at the start ("entry").
        self.entry_spread = {
            (index[b.grade], sx)
            for b in s.initial
            for sx, name in enumerate(("women", "men"))
            if _spread(b, name) == "entry"
        }

        # Deployment.
        self.deployment = o.deployment
        if o.deployment is not None:
            d = o.deployment
            self.demand = np.array([_round(d.demand.at(int(y))) for y in c.years], dtype=np.int64)
            mask = np.zeros(self.G, dtype=bool)
            if d.grades is None:
                mask[:] = c.workforce
            else:
                for gid in d.grades:
                    for member in s.groups.get(gid, [gid]):
                        mask[index[member]] = True
            self.deploy_grades = mask
            n_rot = math.ceil(self.Y / d.tour_years - EPS)
            times = [j * d.tour_years for j in range(n_rot)]
            self.rotations: list[list[float]] = [[] for _ in range(self.Y)]
            for tau in times:
                t = math.floor(tau + EPS)
                if t < self.Y:
                    self.rotations[t].append(tau)

        # Fixed intake.
        self.intake = c.intake
        self.women_share = c.women_share


def _spread(block, sex: str):
    """The initial years-in-grade spread of one sex of an [[initial]] block."""
    spec = block.years_in_grade
    return spec.get(sex) if isinstance(spec, dict) else spec


def _smallest(keys: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` smallest keys, in increasing key order (the earliest clocks)."""
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    if n >= keys.size:
        return np.argsort(keys, kind="stable")
    part = np.argpartition(keys, n - 1)[:n]
    return part[np.argsort(keys[part], kind="stable")]


def _truncated_normal(gen: np.random.Generator, n: int, d: AgeDistribution) -> np.ndarray:
    """``n`` draws of a normal(mean, sd) truncated to [min, max] (inverse-CDF method)."""
    u = gen.random(n)
    if d.sd <= 0:
        return np.full(n, min(max(d.mean, d.min), d.max))
    lo = special.ndtr((d.min - d.mean) / d.sd)
    hi = special.ndtr((d.max - d.mean) / d.sd)
    x = d.mean + d.sd * special.ndtri(lo + u * (hi - lo))
    return np.clip(np.nan_to_num(x, nan=d.mean), d.min, d.max)


# ---------------------------------------------------------------------------------------------
# Persons: a column store with room to grow.
# ---------------------------------------------------------------------------------------------
_COLUMNS = {
    "pid": np.int64,
    "sex": np.int64,
    "grade": np.int64,
    "k": np.int64,
    "since": np.float64,
    "hire": np.float64,
    "birth": np.float64,
    "alive": np.bool_,
    "ver": np.int64,
    "dep_until": np.float64,
    "dep_free": np.float64,
    "dep_year": np.int64,
}
_DEFAULTS = {"alive": True, "ver": 0, "dep_until": -np.inf, "dep_free": -np.inf, "dep_year": -1}


class _People:
    """Columns of the person table (attributes named as in ``_COLUMNS``); rows ``[0, n)``.

    Only the columns a run uses exist (ages only with retirement or a career log, deployment
    history only with deployments, versions only in continuous timing).
    """

    pid: np.ndarray
    sex: np.ndarray
    grade: np.ndarray
    k: np.ndarray
    since: np.ndarray
    hire: np.ndarray
    birth: np.ndarray
    alive: np.ndarray
    ver: np.ndarray
    dep_until: np.ndarray
    dep_free: np.ndarray
    dep_year: np.ndarray

    def __init__(self, columns: list[str], capacity: int = 1024) -> None:
        self.n = 0
        self.next_pid = 0
        self.columns = list(columns)
        for name in self.columns:
            setattr(self, name, np.empty(max(capacity, 16), _COLUMNS[name]))

    def add(self, count: int, **values) -> np.ndarray:
        """Append ``count`` new persons (fresh ids); return their row indices."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        need = self.n + count
        cap = len(self.pid)
        if need > cap:
            new_cap = max(need, 2 * cap)
            for name in self.columns:
                arr = getattr(self, name)
                grown = np.empty(new_cap, arr.dtype)
                grown[: self.n] = arr[: self.n]
                setattr(self, name, grown)
        rows = np.arange(self.n, need)
        self.pid[rows] = np.arange(self.next_pid, self.next_pid + count)
        self.next_pid += count
        for name in self.columns:
            if name == "pid":
                continue
            value = values.get(name, _DEFAULTS.get(name))
            if value is None:
                raise KeyError(name)
            getattr(self, name)[rows] = value
        self.n = need
        return rows

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` (length n) is True, in order."""
        m = int(mask.sum())
        for name in self.columns:
            arr = getattr(self, name)
            arr[:m] = arr[: self.n][mask]
        self.n = m


class _Log:
    """Career-log rows of one replication (kept only when asked for)."""

    def __init__(self) -> None:
        self.chunks: list[tuple] = []
        self.rows: list[tuple] = []

    def add(self, pid, time, year: int, event: int, grade, sex, age) -> None:
        self.chunks.append((pid, time, year, event, grade, sex, age))

    def add_one(
        self, pid: int, time: float, year: int, event: int, grade: int, sex: int, age: float
    ) -> None:
        self.rows.append((pid, time, year, event, grade, sex, age))

    def arrays(self) -> dict[str, np.ndarray]:
        cols: list[list[np.ndarray]] = [[] for _ in range(7)]
        for chunk in self.chunks:
            n = np.size(chunk[0])
            for j, v in enumerate(chunk):
                cols[j].append(np.broadcast_to(np.asarray(v), (n,)))
        if self.rows:
            tr = list(zip(*self.rows, strict=True))
            for j in range(7):
                cols[j].append(np.asarray(tr[j]))
        names = ("person", "time", "year", "event", "grade", "sex", "age")
        dtypes = (np.int64, float, np.int64, np.int64, np.int64, np.int64, float)
        return {
            name: (np.concatenate(c).astype(dt) if c else np.empty(0, dt))
            for name, c, dt in zip(names, cols, dtypes, strict=True)
        }


class _PersonEvent(simpy.Event):
    """A person's event at a known delay, processed before same-time calendar events.

    Built like :class:`simpy.events.Timeout` (triggered at creation) but with URGENT
    priority, so that a person's event at a year-end precedes the boards and the record.
    """

    def __init__(self, env: simpy.Environment, delay: float, callback) -> None:
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        env.schedule(self, URGENT, delay)


# ---------------------------------------------------------------------------------------------
# One replication.
# ---------------------------------------------------------------------------------------------
class _StreamSampler(StochasticSampler):
    """The stochastic engine's sampler drawing from one replication's own streams.

    For the conscription funnel, whose stages are counts of a cohort: the same draws as the
    cohort engines (:func:`simulator.pipeline.conscription_step`), from the generators
    :func:`agent_generator` gives the replication (``gen(name)``), so they never coincide with
    the cohort engines' and do not depend on how replications are split.
    """

    def __init__(self, gen: Callable[[str], np.random.Generator]) -> None:
        super().__init__(seed=0, block=0)
        self._stream = gen

    def gen(self, name: str) -> np.random.Generator:
        return self._stream(name)


class _Replication:
    def __init__(self, plan: _Plan, seed: int, replication: int, log: bool) -> None:
        self.plan = plan
        self.seed = seed
        self.rep = replication
        self._gens: dict[str, np.random.Generator] = {}
        Y, G, K = plan.Y, plan.G, plan.K
        self.stock = np.zeros((Y + 1, G, 2), np.int64)
        self.flows = np.zeros((Y, G, 2, len(FLOWS)), np.int64)
        self.diag = np.zeros((Y, G, len(DIAGNOSTICS)), float)
        self.retire = np.zeros((Y, G, 2), np.int64)
        self.deployed = np.zeros((Y, 2), np.int64)
        self.tours = np.zeros((Y, 2), np.int64)
        self.dep_unfilled = np.zeros(Y, np.int64)
        self.person_years = 0
        self.final = np.zeros((G, 2, K + 1), np.int64)
        self.log = _Log() if log else None
        self.P = _People(plan.columns, int(plan.c.initial.sum() * 1.5) + 64)
        self.env = simpy.Environment()
        self.t = 0
        self.growth_target = float(plan.c.initial.sum())
        self.count = np.zeros((G, 2), np.int64)  # continuous timing: live headcount
        self.epoch = 0
        self.floor_ytd = np.zeros((G, 2), np.int64)  # continuous: women, men promoted this year
        # The contract's conscription funnel and deployment pools (Raw.funnel, .deployments).
        c = plan.c
        self.sampler = _StreamSampler(self.gen)
        self.funnel = self.places = self.pools = self.pool_diag = None
        if c.conscription is not None:
            self.funnel = np.zeros((Y, len(FUNNEL_STAGES), 2), np.int64)
            self.places = np.zeros((Y, 2), np.int64)
        if c.deployments:
            n_pools = len(c.deployments)
            self.pools = np.zeros((Y + 1, n_pools, 2), np.int64)
            self.pool_diag = np.zeros((Y + 1, n_pools, len(DEPLOYMENT_DIAGNOSTICS)))
        self.signer_split: dict[float, np.ndarray] = {}  # continuous: signers per intake date

    # ---- random streams -----------------------------------------------------------------
    def gen(self, name: str) -> np.random.Generator:
        g = self._gens.get(name)
        if g is None:
            g = self._gens[name] = agent_generator(self.seed, self.rep, name)
        return g

    # ---- helpers --------------------------------------------------------------------------
    def _ages(self, name: str, n: int, dist: AgeDistribution) -> np.ndarray:
        if not self.plan.needs_age:
            return np.zeros(n)
        return _truncated_normal(self.gen(name), n, dist)

    def _log_rows(
        self, rows: np.ndarray, time: float, event: str, grade=None, year: int | None = None
    ) -> None:
        """Log an event of persons ``rows``; ``year`` is the year index (default: current)."""
        if self.log is None or rows.size == 0:
            return
        P = self.P
        self.log.add(
            P.pid[rows].copy(),
            self.plan.c.start_year + time,
            self.plan.c.start_year + 1 + (self.t if year is None else year),
            _EV[event],
            P.grade[rows].copy() if grade is None else grade,
            P.sex[rows].copy(),
            time - P.birth[rows],
        )

    def _log_one(self, i: int, time: float, event: str) -> None:
        if self.log is None:
            return
        P = self.P
        self.log.add_one(
            int(P.pid[i]),
            self.plan.c.start_year + time,
            self.plan.c.start_year + 1 + self.t,
            _EV[event],
            int(P.grade[i]),
            int(P.sex[i]),
            time - float(P.birth[i]),
        )

    def _select(
        self,
        name: str,
        pool: np.ndarray,
        n_draw: int,
        odds: float,
        floor: float,
        leave_vacant: bool,
        done_w: int = 0,
        done_m: int = 0,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Weighted selection without replacement of ``n_draw`` persons from ``pool``.

        Each person gets an exponential clock, rate ``odds`` for a woman and 1 for a man; the
        ``n_draw`` earliest are chosen (sequential weighted draws). A floor raises the women
        (the earliest women's clocks) to ``ceil(floor × all promotions)`` as far as eligible
        women exist; ``done_w``/``done_m`` are promotions already made in the same period.
        Returns the chosen women's and men's rows and the floor diagnostics.
        """
        women, men, info, keys, is_w = self._select_counts(
            name, pool, n_draw, odds, floor, leave_vacant, done_w, done_m
        )
        w_rows, m_rows = pool[is_w], pool[~is_w]
        chosen_w = w_rows[_smallest(keys[is_w], women)]
        chosen_m = m_rows[_smallest(keys[~is_w], men)]
        return chosen_w, chosen_m, info

    def _select_counts(
        self,
        name: str,
        pool: np.ndarray,
        n_draw: int,
        odds: float,
        floor: float,
        leave_vacant: bool,
        done_w: int = 0,
        done_m: int = 0,
    ) -> tuple[int, int, dict[str, float], np.ndarray, np.ndarray]:
        """:meth:`_select`'s numbers of women and men and floor diagnostics, with the clocks
        (``keys``) and the women's mask of ``pool`` from which it picks the persons."""
        P = self.P
        is_w = P.sex[pool] == 0
        e_w = int(is_w.sum())
        if pool.size:
            keys = self.gen(name).standard_exponential(pool.size)
            keys /= np.where(is_w, odds, 1.0)
        else:
            keys = np.empty(0)
        women = int(is_w[_smallest(keys, n_draw)].sum())
        men = n_draw - women
        info = {"required": 0.0, "binding": 0.0, "short": 0.0}
        if floor > 0:
            # Women this selection must add so that the period's total meets the floor (never
            # more than its own size: a shortfall of earlier selections is not made up by
            # promoting beyond the vacancies).
            required = min(n_draw, max(0, _ceil(floor * (done_w + done_m + n_draw)) - done_w))
            raised = max(women, min(e_w, required))
            info = {
                "required": float(required),
                "binding": float(raised > women),
                "short": float(e_w < required),
            }
            women = raised
            men = n_draw - women
            if leave_vacant and e_w < required:
                ratio = (done_w + women) * (1 - floor) / floor if done_w + women else 0.0
                if ratio < 2.0**62:  # a tiny floor caps nothing
                    men = max(0, min(men, _floor(ratio) - done_m))
        return women, men, info, keys, is_w

    # ---- the conscription funnel and the deployment pools ----------------------------------
    def _funnel(self, t: int) -> np.ndarray:
        """Run the funnel of projection year t; return its contract signers ``[2]`` by sex.

        The funnel's stages are counts of a cohort (no careers before signing), drawn by the
        cohort engines' own step (:func:`simulator.pipeline.conscription_step`) on this
        replication's streams; the signers become persons of the entry grade.
        """
        signers, stages, places = conscription_step(self.plan.c.conscription, self.sampler, t, 1)
        self.funnel[t] = stages[0]
        self.places[t] = places[0]
        return np.asarray(signers[0], np.int64)

    def _deploy_pools(self, j: int, tau: float) -> None:
        """Draw the deployed of every ``[[deployments]]`` pool at year-end j (τ = ``tau``).

        The eligible are the persons alive in the pool's grades with at least its minimum
        completed years in grade; ``min(demand, eligible)`` of them are chosen by exponential
        clocks (rate ω_d for a woman, 1 for a man: Wallenius), and a floor raises the women to
        ``min(eligible women, ceil(f N))``. Nobody moves: only the counts are recorded.
        """
        c, P = self.plan.c, self.P
        if not c.deployments:
            return
        n = P.n
        alive = P.alive[:n]
        # completed years in grade at the year-end
        k = np.floor(tau - P.since[:n] + EPS).astype(np.int64) if self.plan.continuous else P.k[:n]
        for i, d in enumerate(c.deployments):
            pool = np.flatnonzero(alive & d.grades[P.grade[:n]] & (k >= d.min_years))
            demand = _round(float(d.demand[j]))
            total = min(demand, pool.size)
            women, men, info, _, _ = self._select_counts(  # nobody moves: counts suffice
                f"pool/{d.id}",
                pool,
                total,
                float(d.women_odds[j]),
                float(d.women_floor[j]),
                leave_vacant=False,
            )
            self.pools[j, i] = [women, men]
            self.pool_diag[j, i] = [demand, demand - total, info["binding"], info["short"]]

    def _add_signers(self, sex: np.ndarray, tau: float, t: int) -> np.ndarray:
        """Add contract signers (``sex`` per person) to the entry grade at τ; their rows."""
        e = self.plan.c.conscription.entry
        age = self._ages("age/entry", sex.size, self.plan.entry_age)
        rows = self.P.add(sex.size, sex=sex, grade=e, k=0, since=tau, hire=tau, birth=tau - age)
        women = int((sex == 0).sum())
        self.flows[t, e, 0, _RECRUITS] += women
        self.flows[t, e, 1, _RECRUITS] += sex.size - women
        self._log_rows(rows, tau, "recruit")
        return rows

    # ---- initial population ---------------------------------------------------------------
    def _populate(self) -> None:
        plan, c = self.plan, self.plan.c
        init = c.initial
        spread = self.gen("initial/tenure") if plan.continuous else None
        for g in range(plan.G):
            start = self.P.n
            for s in range(2):
                for k in range(plan.K + 1):
                    n = int(init[g, s, k])
                    if n == 0:
                        continue
                    since = np.full(n, -float(k))
                    if spread is not None and (g, s) not in plan.entry_spread:
                        since -= spread.random(n)
                    self.P.add(
                        n,
                        sex=s,
                        grade=g,
                        k=k,
                        since=since,
                        hire=since - plan.service_offset[g],
                        birth=0.0,
                    )
            rows = np.arange(start, self.P.n)
            if plan.needs_age:
                self.P.birth[rows] = -self._ages(
                    f"age/initial/{c.grade_ids[g]}", rows.size, plan.initial_age[g]
                )
        n = self.P.n
        self.stock[0] = np.bincount(
            self.P.grade[:n] * 2 + self.P.sex[:n], minlength=2 * plan.G
        ).reshape(plan.G, 2)
        self.count[:] = self.stock[0]
        self._log_rows(np.arange(n), 0.0, "initial", year=-1)
        self._deploy_pools(0, 0.0)

    # ---- run ------------------------------------------------------------------------------
    def run(self) -> None:
        self._populate()
        if self.plan.continuous:
            self.env.process(self._calendar_continuous())
        else:
            self.env.process(self._calendar_annual())
        self.env.run()
        self._finalise()

    def _finalise(self) -> None:
        plan, P = self.plan, self.P
        n = P.n
        alive = P.alive[:n]
        g, s = P.grade[:n][alive], P.sex[:n][alive]
        if plan.continuous:
            k = np.minimum(np.floor(plan.Y - P.since[:n][alive] + EPS).astype(np.int64), plan.K)
        else:
            k = P.k[:n][alive]
        cells = (g * 2 + s) * (plan.K + 1) + k
        self.final = np.bincount(cells, minlength=plan.G * 2 * (plan.K + 1)).reshape(
            plan.G, 2, plan.K + 1
        )

    # ---- deployments (both timings) ---------------------------------------------------------
    def _rotations(self, t: int):
        for tau in self.plan.rotations[t]:
            if tau > self.env.now:
                yield self.env.timeout(tau - self.env.now)
            self._rotate(tau, t)

    def _rotate(self, tau: float, t: int) -> None:
        plan, P = self.plan, self.P
        d = plan.deployment
        n = P.n
        alive = P.alive[:n]
        on_tour = alive & (P.dep_until[:n] > tau + EPS)
        open_posts = max(0, int(plan.demand[t]) - int(on_tour.sum()))
        if open_posts == 0:
            return
        elig = (
            alive
            & plan.deploy_grades[P.grade[:n]]
            & (tau - P.hire[:n] >= d.min_service_years - EPS)
            & ~on_tour
            & (P.dep_free[:n] <= tau + EPS)
        )
        pool = np.flatnonzero(elig)
        n_draw = min(open_posts, pool.size)
        chosen_w, chosen_m, _ = self._select(
            "deploy", pool, n_draw, d.women_odds, d.women_floor, leave_vacant=False
        )
        for sex, rows in ((0, chosen_w), (1, chosen_m)):
            P.dep_until[rows] = tau + d.tour_years
            P.dep_free[rows] = tau + d.tour_years + d.rest_years
            self.tours[t, sex] += rows.size
            self.deployed[t, sex] += int((P.dep_year[rows] != t).sum())
            P.dep_year[rows] = t
            self._log_rows(rows, tau, "deploy", year=t)
        self.dep_unfilled[t] += open_posts - chosen_w.size - chosen_m.size

    # =========================================================================================
    # Annual timing: the contract's step at every year-end.
    # =========================================================================================
    def _calendar_annual(self):
        plan = self.plan
        for t in range(plan.Y):
            self.t = t
            if plan.deployment is not None and plan.rotations[t]:
                self.env.process(self._rotations(t))
            yield self.env.timeout(t + 1 - self.env.now)
            self._annual_step(t)

    def _annual_step(self, t: int) -> None:
        plan, c, P = self.plan, self.plan.c, self.P
        G, K = plan.G, plan.K
        n = P.n
        self.person_years += n
        tau_end = t + 1.0
        g, s, k = P.grade[:n], P.sex[:n], P.k[:n]
        cell = g * 2 + s
        by_grade = [np.flatnonzero(g == h) for h in range(G)]

        # (1) leave / promote by rate / stay: one uniform per person.
        flat = cell * (K + 1) + k
        a = c.attrition[t].reshape(-1).take(flat)
        p = c.promote_out[t].reshape(-1).take(flat)
        for h, st in plan.stages.items():
            rows = by_grade[h]
            if rows.size == 0:
                continue
            since = P.since[rows]
            exposure = np.clip(st.duration - (t - since), 0.0, 1.0)
            if st.dropout is not None:
                drop = 1.0 - (1.0 - st.dropout[s[rows]]) ** (exposure / st.duration)
            else:
                drop = 1.0 - (1.0 - a[rows]) ** exposure
            completes = tau_end - since >= st.duration - EPS
            share = st.completion[s[rows]]
            p[rows] = np.where(completes, (1.0 - drop) * share, 0.0)
            a[rows] = np.where(completes, drop + (1.0 - drop) * (1.0 - share), drop)
        u = np.empty(n)
        for h in range(G):
            u[by_grade[h]] = self.gen(f"transition/{plan.ids[h]}").random(by_grade[h].size)
        out = np.where(u < a, LEAVE, np.where(u < a + p, PROMOTE, STAY)).astype(np.int8)
        if plan.retirement_age is not None:
            out[tau_end - P.birth[:n] >= plan.retirement_age - EPS] = RETIRE

        flows = self.flows[t]
        G2 = 2 * G
        gone = (out == LEAVE) | (out == RETIRE)
        counts = np.bincount(cell * 6 + out, minlength=G2 * 6).reshape(G, 2, 6)
        flows[..., _LEAVERS] = counts[..., LEAVE] + counts[..., RETIRE]
        self.retire[t] = counts[..., RETIRE]
        rate_up = counts[..., PROMOTE]
        flows[..., _PROMOTED_OUT] = rate_up
        flows[1:, :, _PROMOTED_IN] = rate_up[:-1]
        stay_count = counts[..., STAY].copy()

        # (2) vacancy promotions, top grade first.
        laterals: list[tuple[int, np.ndarray]] = []
        for h in plan.vacancy_grades:
            gid = plan.ids[h]
            vac = max(0, int(plan.posts[t, h]) - int(stay_count[h].sum()))
            lat_sex = np.empty(0, np.int64)
            if vac > 0:
                n_lat = int((self.gen(f"lateral/{gid}").random(vac) < c.lateral_share[t, h]).sum())
                women_lat = (
                    self.gen(f"lateral_women/{gid}").random(n_lat) < c.lateral_women_share[t, h]
                )
                lat_sex = np.where(women_lat, 0, 1)
            n_lat = lat_sex.size
            rows = by_grade[h - 1]
            pool = rows[(out[rows] == STAY) & (k[rows] >= c.min_years_out[h - 1])]
            n_int = min(vac - n_lat, pool.size)
            chosen_w, chosen_m, info = (
                self._select(
                    f"select/{gid}",
                    pool,
                    n_int,
                    float(c.women_odds[t, h]),
                    float(c.women_floor[t, h]),
                    bool(c.leave_vacant[h]),
                )
                if vac > 0
                else (pool[:0], pool[:0], {"required": 0.0, "binding": 0.0, "short": 0.0})
            )
            out[chosen_w] = PROMOTE_VACANCY
            out[chosen_m] = PROMOTE_VACANCY
            promoted = np.array([chosen_w.size, chosen_m.size])
            stay_count[h - 1] -= promoted
            flows[h - 1, :, _PROMOTED_OUT] += promoted
            flows[h, :, _PROMOTED_IN] += promoted
            flows[h, 0, _LATERAL_IN] = int((lat_sex == 0).sum())
            flows[h, 1, _LATERAL_IN] = int((lat_sex == 1).sum())
            filled = int(promoted.sum())
            self.diag[t, h] = [
                vac,
                n_lat,
                filled,
                vac - n_lat - filled,
                info["required"],
                info["binding"],
                info["short"],
            ]
            if n_lat:
                laterals.append((h, lat_sex))

        # (3) recruitment into grade 0.
        n_lat_total = sum(x.size for _, x in laterals)
        if c.recruitment_mode == RECRUIT_FIXED:
            x = float(plan.intake[t])
            base = math.floor(x)
            intake = base + int(self.gen("intake").random() < x - base)
        elif c.recruitment_mode == RECRUIT_REPLACE:
            intake = max(0, int(plan.posts[t, 0]) - int(stay_count[0].sum()))
        elif c.recruitment_mode == RECRUIT_CONSCRIPTION:  # the funnel's signers only, below
            intake = 0
        else:
            self.growth_target *= 1.0 + float(c.growth_rate[t])
            present = int((~gone).sum()) + n_lat_total
            intake = max(0, _round(self.growth_target) - present)
        rec_sex = np.where(self.gen("intake_women").random(intake) < plan.women_share[t], 0, 1)
        flows[0, 0, _RECRUITS] = int((rec_sex == 0).sum())
        flows[0, 1, _RECRUITS] = int((rec_sex == 1).sum())
        # The funnel's contract signers join the entry grade as well (after the intake above).
        signer_sex = (
            np.repeat(np.array([0, 1]), self._funnel(t)) if c.conscription is not None else None
        )

        # Career log of the step (before the table changes).
        if self.log is not None:
            leave_rows = np.flatnonzero(out == LEAVE)
            self._log_rows(leave_rows, tau_end, "leave")
            self._log_rows(np.flatnonzero(out == RETIRE), tau_end, "retire")
            up = np.flatnonzero((out == PROMOTE) | (out == PROMOTE_VACANCY))
            trained = np.isin(g[up], list(plan.stages)) & (out[up] == PROMOTE)
            self._log_rows(up[~trained], tau_end, "promotion", grade=g[up[~trained]] + 1)
            self._log_rows(up[trained], tau_end, "training_complete", grade=g[up[trained]] + 1)

        # (4) ageing; entrants at k = 0.
        up = (out == PROMOTE) | (out == PROMOTE_VACANCY)
        stay = out == STAY
        P.grade[:n][up] += 1
        P.k[:n][up] = 0
        P.since[:n][up] = tau_end
        P.k[:n][stay] = np.minimum(k[stay] + 1, K)
        P.keep(~gone)
        for h, lat_sex in laterals:
            age = self._ages(f"age/lateral/{plan.ids[h]}", lat_sex.size, plan.initial_age[h])
            rows = P.add(
                lat_sex.size,
                sex=lat_sex,
                grade=h,
                k=0,
                since=tau_end,
                hire=tau_end,
                birth=tau_end - age,
            )
            self._log_rows(rows, tau_end, "lateral_entry")
        age = self._ages("age/entry", rec_sex.size, plan.entry_age)
        rows = P.add(
            rec_sex.size,
            sex=rec_sex,
            grade=0,
            k=0,
            since=tau_end,
            hire=tau_end,
            birth=tau_end - age,
        )
        self._log_rows(rows, tau_end, "recruit")
        if signer_sex is not None:
            self._add_signers(signer_sex, tau_end, t)
        m = P.n
        self.stock[t + 1] = np.bincount(P.grade[:m] * 2 + P.sex[:m], minlength=G2).reshape(G, 2)
        self._deploy_pools(t + 1, tau_end)

    # =========================================================================================
    # Continuous timing.
    # =========================================================================================
    def _calendar_continuous(self):
        plan, c, o = self.plan, self.plan.c, self.plan.o
        env = self.env
        boards = set(o.board_times) if o.vacancy_filling == "boards" else set()
        intakes = sorted(o.intake_times)
        agenda = sorted(boards | set(intakes))
        for t in range(plan.Y):
            self.t = t
            self.now = float(t)
            self.floor_ytd[:] = 0
            self.person_years += int(self.P.alive[: self.P.n].sum())
            # The year's recruitment plan.
            if c.recruitment_mode == RECRUIT_FIXED:
                x = float(plan.intake[t])
                base = math.floor(x)
                total = base + int(self.gen("intake").random() < x - base)
                J = len(intakes)
                self.intake_split = {
                    off: total // J + (1 if j < total % J else 0) for j, off in enumerate(intakes)
                }
            elif c.recruitment_mode not in (RECRUIT_REPLACE, RECRUIT_CONSCRIPTION):
                self.growth_target *= 1.0 + float(c.growth_rate[t])
            if c.conscription is not None:
                # The year's contract signers, spread over the intake dates like a fixed intake
                # (by sex: the first dates take one more where they do not divide evenly).
                signers = self._funnel(t)
                J = len(intakes)
                self.signer_split = {
                    off: signers // J + (j < signers % J) for j, off in enumerate(intakes)
                }
            self._draw_rows(np.flatnonzero(self.P.alive[: self.P.n]), float(t))
            if o.vacancy_filling == "immediate":
                for h in plan.vacancy_grades:
                    self._board(h, float(t))
            if plan.deployment is not None and plan.rotations[t]:
                env.process(self._rotations(t))
            for off in agenda:
                target = t + off
                if target > env.now:
                    yield env.timeout(target - env.now)
                self.now = target
                if off in boards:
                    for h in plan.vacancy_grades:
                        self._board(h, target)
                if off in o.intake_times:
                    self._recruit(off, target)
            if env.now < t + 1:
                yield env.timeout(t + 1 - env.now)
            self.now = float(t + 1)
            # Year-end record; rows of persons who left are dropped.
            self.stock[t + 1] = self.count
            self._deploy_pools(t + 1, float(t + 1))
            self.epoch += 1
            self.P.keep(self.P.alive[: self.P.n].copy())

    def _recruit(self, off: float, tau: float) -> None:
        plan, c = self.plan, self.plan.c
        t = self.t
        if c.recruitment_mode == RECRUIT_FIXED:
            intake = self.intake_split[off]
        elif c.recruitment_mode == RECRUIT_REPLACE:
            intake = max(0, int(plan.posts[t, 0]) - int(self.count[0].sum()))
        elif c.recruitment_mode == RECRUIT_CONSCRIPTION:
            intake = 0
        else:
            intake = max(0, _round(self.growth_target) - int(self.count.sum()))
        sex = np.where(self.gen("intake_women").random(intake) < plan.women_share[t], 0, 1)
        age = self._ages("age/entry", intake, plan.entry_age)
        rows = self.P.add(intake, sex=sex, grade=0, k=0, since=tau, hire=tau, birth=tau - age)
        self.flows[t, 0, 0, _RECRUITS] += int((sex == 0).sum())
        self.flows[t, 0, 1, _RECRUITS] += int((sex == 1).sum())
        self.count[0] += [int((sex == 0).sum()), int((sex == 1).sum())]
        self._log_rows(rows, tau, "recruit")
        self._draw_rows(rows, tau)
        if c.conscription is not None:
            signer_sex = np.repeat(np.array([0, 1]), self.signer_split[off])
            rows = self._add_signers(signer_sex, tau, t)
            self.count[c.conscription.entry] += self.signer_split[off]
            self._draw_rows(rows, tau)

    def _board(self, h: int, tau: float) -> None:
        """Fill vacancies of grade h at time τ (continuous timing)."""
        plan, c, P = self.plan, self.plan.c, self.P
        t = self.t
        gid = plan.ids[h]
        vac = max(0, int(plan.posts[t, h]) - int(self.count[h].sum()))
        if vac == 0:
            return
        n_lat = int((self.gen(f"lateral/{gid}").random(vac) < c.lateral_share[t, h]).sum())
        lat_sex = np.where(
            self.gen(f"lateral_women/{gid}").random(n_lat) < c.lateral_women_share[t, h], 0, 1
        )
        n = P.n
        m = c.min_years_out[h - 1]
        elig = P.alive[:n] & (P.grade[:n] == h - 1) & (np.floor(tau - P.since[:n] + EPS) >= m)
        pool = np.flatnonzero(elig)
        n_int = min(vac - n_lat, pool.size)
        done_w, done_m = (int(x) for x in self.floor_ytd[h])
        chosen_w, chosen_m, info = self._select(
            f"select/{gid}",
            pool,
            n_int,
            float(c.women_odds[t, h]),
            float(c.women_floor[t, h]),
            bool(c.leave_vacant[h]),
            done_w,
            done_m,
        )
        self.floor_ytd[h] += [chosen_w.size, chosen_m.size]
        filled = chosen_w.size + chosen_m.size
        d = self.diag[t, h]
        d[0] += vac
        d[1] += n_lat
        d[2] += filled
        d[3] += vac - n_lat - filled
        d[4] += info["required"]
        d[5] = max(d[5], info["binding"])
        d[6] = max(d[6], info["short"])
        chosen = np.concatenate([chosen_w, chosen_m])
        if chosen.size:
            self._promote_rows(chosen, tau, "promotion")
        if n_lat:
            age = self._ages(f"age/lateral/{gid}", n_lat, plan.initial_age[h])
            rows = P.add(n_lat, sex=lat_sex, grade=h, k=0, since=tau, hire=tau, birth=tau - age)
            w = int((lat_sex == 0).sum())
            self.flows[t, h, 0, _LATERAL_IN] += w
            self.flows[t, h, 1, _LATERAL_IN] += n_lat - w
            self.count[h] += [w, n_lat - w]
            self._log_rows(rows, tau, "lateral_entry")
            self._draw_rows(rows, tau)
        if chosen.size and plan.o.vacancy_filling == "immediate" and plan.is_vacancy[h - 1]:
            self._board(h - 1, tau)

    def _promote_rows(self, rows: np.ndarray, tau: float, event: str) -> None:
        """Move persons ``rows`` one grade up at τ (continuous timing) and draw their next event."""
        if rows.size == 0:
            return
        P, t = self.P, self.t
        g = P.grade[rows]
        s = P.sex[rows]
        np.subtract.at(self.count, (g, s), 1)
        np.add.at(self.count, (g + 1, s), 1)
        np.add.at(self.flows[t, :, :, _PROMOTED_OUT], (g, s), 1)
        np.add.at(self.flows[t, :, :, _PROMOTED_IN], (g + 1, s), 1)
        P.grade[rows] = g + 1
        P.since[rows] = tau
        P.k[rows] = 0
        P.ver[rows] += 1
        self._log_rows(rows, tau, event)
        self._draw_rows(rows, tau)

    def _promote_one(self, i: int, tau: float, event: str) -> None:
        """Scalar version of :meth:`_promote_rows` (the common case of one person)."""
        P, t = self.P, self.t
        g = int(P.grade[i])
        s = int(P.sex[i])
        self.count[g, s] -= 1
        self.count[g + 1, s] += 1
        self.flows[t, g, s, _PROMOTED_OUT] += 1
        self.flows[t, g + 1, s, _PROMOTED_IN] += 1
        P.grade[i] = g + 1
        P.since[i] = tau
        P.k[i] = 0
        P.ver[i] += 1
        self._log_one(i, tau, event)
        time, kind = self._next_event_one(i, tau)
        if time < math.inf:
            self._schedule_one(i, time, kind)

    # ---- continuous timing: each person's next event within the current year ---------------
    def _draw_rows(self, rows: np.ndarray, tau0: float) -> None:
        """Draw and schedule the next event of each person in ``rows``.

        Persons whose events fall at the same instant (a cohort that entered together and
        leaves at its anniversary, a stage completed together) share one SimPy event.
        """
        times, kinds = self._next_events(rows, tau0)
        has = np.flatnonzero(np.isfinite(times))
        if has.size == 0:
            return
        order = has[np.argsort(times[has], kind="stable")]
        r, tm, kd = rows[order], times[order], kinds[order]
        cuts = np.flatnonzero(np.diff(tm) != 0) + 1
        if cuts.size == r.size - 1:
            for i, time, kind in zip(r.tolist(), tm.tolist(), kd.tolist(), strict=True):
                self._schedule_one(i, time, kind)
            return
        for a, b in zip(np.r_[0, cuts].tolist(), np.r_[cuts, r.size].tolist(), strict=True):
            if b - a == 1:
                self._schedule_one(int(r[a]), float(tm[a]), int(kd[a]))
            else:
                self._schedule_group(r[a:b], float(tm[a]), kd[a:b])

    def _schedule_one(self, i: int, time: float, kind: int) -> None:
        ver, epoch, P = int(self.P.ver[i]), self.epoch, self.P

        def on_event(_event) -> None:
            if self.epoch == epoch and P.alive[i] and P.ver[i] == ver:
                self._person_event(i, kind, time)

        _PersonEvent(self.env, max(0.0, time - self.env.now), on_event)

    def _schedule_group(self, rows: np.ndarray, time: float, kinds: np.ndarray) -> None:
        vers, epoch = self.P.ver[rows].copy(), self.epoch

        def on_event(_event) -> None:
            if self.epoch == epoch:
                self._group_event(rows, vers, kinds, time)

        _PersonEvent(self.env, max(0.0, time - self.env.now), on_event)

    def _next_events(self, rows: np.ndarray, tau0: float) -> tuple[np.ndarray, np.ndarray]:
        """Time and kind of each person's next event in [τ0, end of year], or inf.

        The total hazard is constant between calendar year boundaries and the person's grade
        anniversaries, so within the rest of the year there are at most two pieces: before and
        after the next anniversary. A unit-exponential draw E is compared with the cumulative
        hazard (inverse-transform sampling of a piecewise-constant hazard). A piece with an
        infinite hazard (a + p = 1) ends in an event at its end when that end is an
        anniversary. Training completions and retirements are deterministic times; the
        earliest event wins (retirement, then completion, then the hazard at equal times).
        :meth:`_next_event_one` is the same computation for one person.
        """
        plan, P, t = self.plan, self.P, self.t
        end = t + 1.0
        n = rows.size
        times = np.full(n, np.inf)
        kinds = np.full(n, LEAVE, np.int64)
        if n == 0 or tau0 >= end - EPS:
            return times, kinds
        g, s, since = P.grade[rows], P.sex[rows], P.since[rows]
        E = np.empty(n)
        for h in np.unique(g).tolist():
            sel = g == h
            E[sel] = self.gen(f"hazard/{plan.ids[h]}").standard_exponential(int(sel.sum()))
        k0 = np.maximum(np.floor(tau0 - since + EPS), 0).astype(np.int64)
        anniv = since + k0 + 1.0
        kc0 = np.minimum(k0, plan.K)
        kc1 = np.minimum(k0 + 1, plan.K)
        lam_t = plan.hazard[t]
        lam0 = lam_t[g, s, kc0]
        lam1 = lam_t[g, s, kc1]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            b1 = np.minimum(anniv, end)
            fin0 = np.isfinite(lam0)
            H1 = np.where(fin0, lam0 * (b1 - tau0), np.inf)
            ev1 = fin0 & (E < H1)
            times = np.where(ev1, tau0 + E / np.where(lam0 > 0, lam0, 1.0), times)
            times = np.where(~fin0 & (anniv <= end + EPS), anniv, times)
            second = fin0 & ~ev1 & (anniv < end - EPS)
            E2 = E - H1
            ev2 = second & np.isfinite(lam1) & (E2 < lam1 * (end - anniv))
            times = np.where(ev2, anniv + E2 / np.where(lam1 > 0, lam1, 1.0), times)
        cellk = np.where(ev2, kc1, kc0)
        hazard_ev = np.isfinite(times)
        if plan.stages:
            dur = plan.stage_duration[g]
            ct = since + dur
            comp = ~np.isnan(dur) & (ct <= times) & (ct <= end + EPS)
            times = np.where(comp, np.maximum(ct, tau0), times)
            kinds = np.where(comp, COMPLETE, kinds)
            hazard_ev &= ~comp
        if plan.retirement_age is not None:
            rt = P.birth[rows] + plan.retirement_age
            ret = (rt <= times) & (rt <= end + EPS)
            times = np.where(ret, np.maximum(rt, tau0), times)
            kinds = np.where(ret, RETIRE, kinds)
            hazard_ev &= ~ret
        # Leave or promotion, by the cell's split λ : μ.
        idx = np.flatnonzero(hazard_ev)
        if idx.size:
            phi = plan.leave_fraction[t][g[idx], s[idx], cellk[idx]]
            U = np.empty(idx.size)
            gi = g[idx]
            for h in np.unique(gi).tolist():
                sel = gi == h
                U[sel] = self.gen(f"outcome/{plan.ids[h]}").random(int(sel.sum()))
            kinds[idx] = np.where(U < phi, LEAVE, PROMOTE)
        return times, kinds

    def _next_event_one(self, i: int, tau0: float) -> tuple[float, int]:
        """:meth:`_next_events` for one person, in plain Python (same draws, same result)."""
        plan, P, t = self.plan, self.P, self.t
        end = t + 1.0
        if tau0 >= end - EPS:
            return math.inf, LEAVE
        g = int(P.grade[i])
        s = int(P.sex[i])
        since = float(P.since[i])
        E = self.gen(f"hazard/{plan.ids[g]}").standard_exponential()
        k0 = max(math.floor(tau0 - since + EPS), 0)
        anniv = since + k0 + 1.0
        kc0, kc1 = min(k0, plan.K), min(k0 + 1, plan.K)
        lam_t = plan.hazard[t]
        lam0, lam1 = float(lam_t[g, s, kc0]), float(lam_t[g, s, kc1])
        time, cellk = math.inf, kc0
        if math.isfinite(lam0):
            H1 = lam0 * (min(anniv, end) - tau0)
            if E < H1:
                time = tau0 + E / lam0
            elif anniv < end - EPS and math.isfinite(lam1) and E - H1 < lam1 * (end - anniv):
                time, cellk = anniv + (E - H1) / lam1, kc1
        elif anniv <= end + EPS:
            time = anniv
        kind, hazard = LEAVE, math.isfinite(time)
        if plan.stages:
            dur = float(plan.stage_duration[g])
            ct = since + dur
            if not math.isnan(dur) and ct <= time and ct <= end + EPS:
                time, kind, hazard = max(ct, tau0), COMPLETE, False
        if plan.retirement_age is not None:
            rt = float(P.birth[i]) + plan.retirement_age
            if rt <= time and rt <= end + EPS:
                time, kind, hazard = max(rt, tau0), RETIRE, False
        if hazard:
            phi = float(plan.leave_fraction[t][g, s, cellk])
            kind = LEAVE if self.gen(f"outcome/{plan.ids[g]}").random() < phi else PROMOTE
        return time, kind

    def _person_event(self, i: int, kind: int, time: float) -> None:
        """One person's event (continuous timing)."""
        plan, P, t = self.plan, self.P, self.t
        g = int(P.grade[i])
        s = int(P.sex[i])
        event = "promotion"
        if kind == COMPLETE:
            u = self.gen(f"complete/{plan.ids[g]}").random()
            kind = PROMOTE if u < plan.stages[g].completion[s] else LEAVE
            event = "training_complete"
        if kind == PROMOTE:
            self._promote_one(i, time, event)
        else:
            P.alive[i] = False
            P.ver[i] += 1
            self.count[g, s] -= 1
            self.flows[t, g, s, _LEAVERS] += 1
            if kind == RETIRE:
                self.retire[t, g, s] += 1
            self._log_one(i, time, "retire" if kind == RETIRE else "leave")
        if plan.o.vacancy_filling == "immediate" and plan.is_vacancy[g]:
            self._board(g, time)

    def _group_event(
        self, rows: np.ndarray, vers: np.ndarray, kinds: np.ndarray, time: float
    ) -> None:
        """Events of several persons at one instant (vectorised :meth:`_person_event`)."""
        plan, P, t = self.plan, self.P, self.t
        ok = P.alive[rows] & (P.ver[rows] == vers)
        rows, kinds = rows[ok], kinds[ok].copy()
        if rows.size == 0:
            return
        g, s = P.grade[rows], P.sex[rows]
        trained = kinds == COMPLETE
        idx = np.flatnonzero(trained)
        if idx.size:
            U = np.empty(idx.size)
            gi = g[idx]
            for h in np.unique(gi).tolist():
                sel = gi == h
                U[sel] = self.gen(f"complete/{plan.ids[h]}").random(int(sel.sum()))
            share = np.array(
                [
                    plan.stages[h].completion[x]
                    for h, x in zip(gi.tolist(), s[idx].tolist(), strict=True)
                ]
            )
            kinds[idx] = np.where(U < share, PROMOTE, LEAVE)
        gone = (kinds == LEAVE) | (kinds == RETIRE)
        if gone.any():
            gr, sx = g[gone], s[gone]
            P.alive[rows[gone]] = False
            P.ver[rows[gone]] += 1
            np.subtract.at(self.count, (gr, sx), 1)
            np.add.at(self.flows[t, :, :, _LEAVERS], (gr, sx), 1)
            ret = kinds == RETIRE
            np.add.at(self.retire[t], (g[ret], s[ret]), 1)
            self._log_rows(rows[kinds == LEAVE], time, "leave")
            self._log_rows(rows[ret], time, "retire")
        up = kinds == PROMOTE
        self._promote_rows(rows[up & ~trained], time, "promotion")
        self._promote_rows(rows[up & trained], time, "training_complete")
        if plan.o.vacancy_filling == "immediate":
            left = set(g.tolist())
            for h in plan.vacancy_grades:
                if h in left:
                    self._board(h, time)


# ---------------------------------------------------------------------------------------------
# Public entry points.
# ---------------------------------------------------------------------------------------------
def check_options(c: Compiled, options: AgentOptions) -> None:
    """Raise :class:`ScenarioError` if ``options`` do not fit the compiled scenario."""
    issues = validate_agent_options(options, c.scenario)
    if issues:
        raise ScenarioError(issues, c.scenario.name)


def run_agents(
    compiled: Compiled,
    replications: int,
    seed: int,
    first_replication: int = 0,
    options: AgentOptions | None = None,
    career_log: bool = False,
    progress: Callable[[int], None] | None = None,
    draws: list[Compiled] | None = None,
) -> tuple[AgentRaw, pd.DataFrame | None]:
    """Run replications ``first_replication … first_replication + replications − 1``.

    Parameters
    ----------
    compiled
        The compiled scenario.
    replications, seed, first_replication
        As for the stochastic engine; replication r uses only streams keyed by r, so any split
        of replications into chunks gives identical numbers.
    options
        :class:`AgentOptions` (default: annual timing, the model contract exactly).
    career_log
        Also return the career log: one row per person-event (see :data:`EVENTS`).
    progress
        Called with 1 after each replication.
    draws
        Parameter sets compiled from a posterior sample (:func:`simulator.posterior.
        compile_draws`): replication r runs the draw the cohort engine's stream assigns it
        (:func:`simulator.engine.posterior_index`), so both engines integrate over the same
        parameter uncertainty. ``None``: ``compiled``'s own parameters.

    Returns
    -------
    (AgentRaw, DataFrame or None)
        The arrays (usable as ``Result(compiled, "agents", raw, seed=seed)``) and the career
        log with columns replication, person, time, event, grade, sex, age.
    """
    options = options or AgentOptions()
    if replications < 1:
        raise ScenarioError([Issue("replications", "must be at least 1", replications)])
    if first_replication < 0:
        raise ScenarioError([Issue("first_replication", "must be ≥ 0", first_replication)])
    check_options(compiled, options)
    plan = _Plan(compiled, options, career_log)
    plans: dict[int, _Plan] = {}
    chosen: list[int] = []
    reps = []
    logs = []
    block_index: dict[int, np.ndarray] = {}  # posterior indices of a block, drawn once
    for r in range(first_replication, first_replication + replications):
        if draws:
            block = r // BLOCK_SIZE
            if block not in block_index:
                block_index[block] = posterior_index(seed, block, len(draws))
            i = int(block_index[block][r % BLOCK_SIZE])
            chosen.append(i)
            if i not in plans:
                plans[i] = _Plan(draws[i], options, career_log)
            rep = _Replication(plans[i], seed, r, career_log)
        else:
            rep = _Replication(plan, seed, r, career_log)
        rep.run()
        reps.append(rep)
        if career_log:
            logs.append((r, rep.log.arrays()))
            rep.log = None
        if progress is not None:
            progress(1)
    raw = AgentRaw(
        stock=np.stack([x.stock for x in reps]),
        flows=np.stack([x.flows for x in reps]),
        diagnostics=np.stack([x.diag for x in reps]),
        final=np.stack([x.final for x in reps]),
        retirements=np.stack([x.retire for x in reps]),
        deployed=np.stack([x.deployed for x in reps]),
        tours=np.stack([x.tours for x in reps]),
        deployment_unfilled=np.stack([x.dep_unfilled for x in reps]),
        person_years=np.array([x.person_years for x in reps], dtype=np.int64),
        draw=np.array(chosen, dtype=np.int64) if draws else None,
        **_pipeline_arrays(reps),
    )
    return raw, (_log_frame(compiled, logs) if career_log else None)


def _pipeline_arrays(reps: list[_Replication]) -> dict[str, np.ndarray | None]:
    """The ``Raw`` fields of the funnel and the pools, stacked over replications (None where
    the scenario has none; every replication, whichever posterior draw, has the same)."""

    def stack(name: str) -> np.ndarray | None:
        first = getattr(reps[0], name)
        return None if first is None else np.stack([getattr(x, name) for x in reps])

    return {
        "funnel": stack("funnel"),
        "funnel_places": stack("places"),
        "deployments": stack("pools"),
        "deployment_diagnostics": stack("pool_diag"),
    }


def _log_frame(c: Compiled, logs: list[tuple[int, dict[str, np.ndarray]]]) -> pd.DataFrame:
    parts = []
    for r, cols in logs:
        n = cols["person"].size
        order = np.lexsort((cols["event"], cols["time"], cols["person"]))
        parts.append(
            {"replication": np.full(n, r, np.int64), **{k: v[order] for k, v in cols.items()}}
        )
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    frame = pd.DataFrame(
        {
            "replication": cat["replication"],
            "person": cat["person"],
            "time": cat["time"],
            "year": cat["year"],
            "event": pd.Categorical.from_codes(cat["event"], categories=list(EVENTS)),
            "grade": pd.Categorical.from_codes(cat["grade"], categories=list(c.grade_ids)),
            "sex": pd.Categorical.from_codes(cat["sex"], categories=list(SEX_NAMES)),
            "age": cat["age"],
        }
    )
    return frame


def write_career_log(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a career log to ``.csv`` or ``.parquet`` (chosen by the file suffix)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(p, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(p, index=False)
    else:
        raise ValueError(f"career log must be written to .csv or .parquet (got {p.name!r})")
    return p


def career_log_stocks(
    frame: pd.DataFrame, c: Compiled, replications: np.ndarray | list[int] | None = None
) -> np.ndarray:
    """Rebuild the year-end stock ``[R, Y+1, G, 2]`` from a career log.

    A person is in grade g at year-end y if the last grade-setting event (initial, recruit,
    lateral_entry, promotion, training_complete) among the flows of years ≤ y (the ``year``
    column; ``start_year`` for the initial state) put them in g and they have no leave/retire
    event among them. Used to check the log against the stock table. ``replications``: the
    replication numbers (rows of the result; default: those in the log — a replication with
    nobody in it has no rows).
    """
    reps = np.unique(
        frame["replication"].to_numpy() if replications is None else np.asarray(replications)
    )
    Y, G = c.n_years, c.n_grades
    out = np.zeros((reps.size, Y + 1, G, 2), np.int64)
    if len(frame) == 0:
        return out
    ev = frame["event"].cat.codes.to_numpy()
    grade = frame["grade"].cat.codes.to_numpy()
    sex = frame["sex"].cat.codes.to_numpy()
    time = frame["time"].to_numpy()
    flow_year = frame["year"].to_numpy() - c.start_year
    rep = np.searchsorted(reps, frame["replication"].to_numpy())
    person = frame["person"].to_numpy()
    setting = np.isin(
        ev,
        [_EV[e] for e in ("initial", "recruit", "lateral_entry", "promotion", "training_complete")],
    )
    exit_ = np.isin(ev, [_EV["leave"], _EV["retire"]])
    for y in range(Y + 1):
        upto = flow_year <= y
        # Last grade-setting event per (replication, person) up to y.
        sel = np.flatnonzero(setting & upto)
        if sel.size == 0:
            continue
        order = np.lexsort((time[sel], person[sel], rep[sel]))
        sel = sel[order]
        key = rep[sel] * (person.max() + 1) + person[sel]
        last = np.r_[key[1:] != key[:-1], True]
        sel = sel[last]
        gone_keys = rep[exit_ & upto] * (person.max() + 1) + person[exit_ & upto]
        present = ~np.isin(key[last], gone_keys)
        sel = sel[present]
        np.add.at(out, (rep[sel], y, grade[sel], sex[sel]), 1)
    return out


def deployments_frame(raw: AgentRaw, c: Compiled, first_replication: int = 0) -> pd.DataFrame:
    """Tidy deployments: one row per (replication, year, sex) with persons deployed and tours.

    ``deployed`` counts distinct persons who started a tour in the year; ``share`` is the
    women's share among them (NaN where nobody deployed).
    """
    R, Y, _ = raw.deployed.shape
    idx = np.indices((R, Y)).reshape(2, -1)
    w = raw.deployed[..., 0].reshape(-1)
    m = raw.deployed[..., 1].reshape(-1)
    total = w + m
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, w / np.where(total > 0, total, 1), np.nan)
    return pd.DataFrame(
        {
            "replication": idx[0] + first_replication,
            "year": c.years[idx[1]],
            "deployed_women": w,
            "deployed_men": m,
            "tours_women": raw.tours[..., 0].reshape(-1),
            "tours_men": raw.tours[..., 1].reshape(-1),
            "unfilled": raw.deployment_unfilled.reshape(-1),
            "share": share,
        }
    )
