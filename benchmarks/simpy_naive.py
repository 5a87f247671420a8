"""The naive peer: a per-person SimPy model of the annual step in the model contract.

One :class:`Person` object per member of staff, and one SimPy process (the annual cycle) that
wakes up at every year-end and loops over the person objects, applying the contract's step
(``docs``: /work/shared/guides/model.md, "One annual step"):

1. **Leave or move.** Each person in grade g, sex s, with k completed years in grade draws one
   uniform number: below ``a[g,s,k]`` they leave, below ``a + p`` they are promoted by rate to
   g+1, otherwise they stay.
2. **Vacancy promotions, top grade first.** For each grade h in vacancy mode:
   ``V = max(0, posts - stayers of h)``; each vacancy is filled from outside with probability
   ``lateral_share`` (a woman with probability ``lateral_women_share``); the rest,
   ``N = min(V - lateral, eligible stayers of h-1)``, are picked one by one without
   replacement from the eligible stayers of h-1 (k ≥ minimum years) with weight ω for a
   woman and 1 for a man (successive weighted sampling: Wallenius' distribution for the
   number of women, uniform within each sex — the same law as the cohort engine).
3. **Recruitment** into the entry grade: ``fixed`` (floor of the intake plus one more with
   probability of its fractional part), ``replace`` (refill the entry grade to its posts) or
   ``growth``; each recruit is a woman with probability ``women_share``.
4. **Ageing.** Stayers add one year in grade; recruits and promoted persons start at k = 0.

Parameters come from :func:`simulator.compile_scenario` (policies already resolved per year),
so this model and the cohort engine simulate the same scenario. Promotion floors are not
implemented (the benchmark scenarios have none): a scenario with one raises
``NotImplementedError`` rather than being simulated wrongly.

Randomness: one ``numpy.random.Generator`` per replication, built from
``SeedSequence(seed, spawn_key=(replication,))``; no global RNG. This model does not share
random streams with the cohort engine: agreement is statistical, not draw-for-draw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import simpy

from simulator.compiled import (
    MODE_VACANCY,
    RECRUIT_FIXED,
    RECRUIT_REPLACE,
    Compiled,
)


class Person:
    """One member of staff."""

    __slots__ = ("grade", "woman", "years_in_grade")

    def __init__(self, grade: int, woman: bool, years_in_grade: int) -> None:
        self.grade = grade
        self.woman = woman
        self.years_in_grade = years_in_grade


class NaiveWorkforce:
    """One replication: a SimPy environment with an annual-cycle process over person objects."""

    def __init__(self, c: Compiled, rng: np.random.Generator) -> None:
        if np.any(c.women_floor > 0):
            raise NotImplementedError("the naive SimPy peer does not model promotion floors")
        self.c = c
        self.rng = rng
        self.n_years = c.n_years
        # Parameters as nested Python lists: per-person lookups on lists are fast.
        self.attrition = c.attrition.tolist()  # [Y][G][2][K+1]
        self.promote_out = c.promote_out.tolist()  # [Y][G][2][K+1]
        self.vacancy_grades = [h for h in range(c.n_grades - 1, 0, -1) if c.mode[h] == MODE_VACANCY]
        self.growth_target = float(c.initial.sum())
        self.staff: list[Person] = []
        for g in range(c.n_grades):
            for s in (0, 1):
                for k in range(c.K + 1):
                    self.staff.extend(Person(g, s == 0, k) for _ in range(int(c.initial[g, s, k])))
        self.stock = np.zeros((c.n_years + 1, c.n_grades, 2), dtype=np.int64)
        self._record(0)
        self.env = simpy.Environment()
        self.env.process(self.annual_cycle())

    def _record(self, t: int) -> None:
        counts = self.stock[t]
        for person in self.staff:
            counts[person.grade, 0 if person.woman else 1] += 1

    def annual_cycle(self):
        """SimPy process: one step of the contract at every year-end."""
        for t in range(self.n_years):
            yield self.env.timeout(1)
            self.step(t)
            self._record(t + 1)

    def run(self) -> np.ndarray:
        """Run all years; return the stock ``[Y+1, G, 2]`` at each year-end."""
        self.env.run()
        return self.stock

    def step(self, t: int) -> None:
        """Apply the annual step of projection year index ``t`` to every person."""
        c, rng, K, G = self.c, self.rng, self.c.K, self.c.n_grades
        attrition, promote = self.attrition[t], self.promote_out[t]

        # 1. Leave, promote by rate, or stay: one uniform number per person.
        stayers: list[list[Person]] = [[] for _ in range(G)]
        entrants: list[Person] = []
        for person, u in zip(self.staff, rng.random(len(self.staff)).tolist(), strict=True):
            g, s, k = person.grade, 0 if person.woman else 1, min(person.years_in_grade, K)
            leave = attrition[g][s][k]
            if u < leave:
                continue
            if u < leave + promote[g][s][k]:
                person.grade = g + 1
                entrants.append(person)
            else:
                stayers[g].append(person)

        # 2. Vacancy promotions, top grade first.
        for h in self.vacancy_grades:
            posts = int(np.rint(c.establishment[t, h]))
            vacancies = max(0, posts - len(stayers[h]))
            lateral = int((rng.random(vacancies) < c.lateral_share[t, h]).sum())
            for u in rng.random(lateral).tolist():
                entrants.append(Person(h, u < c.lateral_women_share[t, h], 0))
            m = int(c.min_years_out[h - 1])
            pool = [p for p in stayers[h - 1] if p.years_in_grade >= m]
            n_internal = min(vacancies - lateral, len(pool))
            if n_internal == 0:
                continue
            odds = float(c.women_odds[t, h])
            if odds == 1.0:
                picked = rng.choice(len(pool), size=n_internal, replace=False)
            else:
                weights = np.array([odds if p.woman else 1.0 for p in pool])
                picked = rng.choice(
                    len(pool), size=n_internal, replace=False, p=weights / weights.sum()
                )
            chosen = set(picked.tolist())
            for i in chosen:
                pool[i].grade = h
                entrants.append(pool[i])
            chosen_ids = {id(pool[i]) for i in chosen}
            stayers[h - 1] = [p for p in stayers[h - 1] if id(p) not in chosen_ids]

        # 3. Recruitment into the entry grade.
        if c.recruitment_mode == RECRUIT_FIXED:
            x = float(c.intake[t])
            intake = int(np.floor(x)) + int(rng.random() < x - np.floor(x))
        elif c.recruitment_mode == RECRUIT_REPLACE:
            intake = max(0, int(np.rint(c.establishment[t, 0])) - len(stayers[0]))
        else:  # growth
            self.growth_target *= 1.0 + float(c.growth_rate[t])
            current = sum(len(x) for x in stayers) + len(entrants)
            intake = max(0, int(np.rint(self.growth_target)) - current)
        share = float(c.women_share[t])
        for u in rng.random(intake).tolist():
            entrants.append(Person(0, u < share, 0))

        # 4. Ageing: stayers gain a year in grade; everyone who entered a grade starts at 0.
        staff: list[Person] = []
        for grade_stayers in stayers:
            for person in grade_stayers:
                person.years_in_grade += 1
            staff.extend(grade_stayers)
        for person in entrants:
            person.years_in_grade = 0
        staff.extend(entrants)
        self.staff = staff


@dataclass
class NaiveResult:
    """Replications of the naive model.

    Attributes
    ----------
    stock
        ``[R, Y+1, G, 2]`` headcount at each year-end (sex 0 = women), as the cohort engine.
    cpu_seconds, wall_seconds
        ``[R]`` CPU time of this process and wall time of each replication (building the
        person objects included).
    """

    stock: np.ndarray
    cpu_seconds: np.ndarray
    wall_seconds: np.ndarray

    def share(self, mask: np.ndarray) -> np.ndarray:
        """Women's share ``[R, Y+1]`` of the grades selected by a boolean ``mask[G]``."""
        sel = self.stock[:, :, mask, :].sum(2).astype(float)
        total = sel.sum(-1)
        return np.divide(sel[..., 0], total, out=np.full_like(total, np.nan), where=total > 0)


def run_naive(c: Compiled, replications: int, seed: int) -> NaiveResult:
    """Run ``replications`` independent replications of the per-person SimPy model."""
    stocks, cpu, wall = [], [], []
    for r in range(replications):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        stocks.append(NaiveWorkforce(c, rng).run())
        cpu.append(time.process_time() - cpu0)
        wall.append(time.perf_counter() - wall0)
    return NaiveResult(
        stock=np.stack(stocks), cpu_seconds=np.array(cpu), wall_seconds=np.array(wall)
    )
