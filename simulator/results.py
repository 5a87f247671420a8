"""Results of a run, as arrays and as tidy pandas tables.

A :class:`Result` holds the raw arrays of one engine run and builds:

* :meth:`Result.stocks_frame` — one row per (replication, year, grade, sex): ``stock`` at the
  year-end and the year's flows ``leavers, promoted_out, promoted_in, recruits, lateral_in``
  (missing for the start year, which has no flows); the stock identity
  ``stock[y] = stock[y-1] - leavers - promoted_out + promoted_in + recruits + lateral_in`` holds
  in every row;
* :meth:`Result.shares_frame` — one row per (replication, year, population): women, men,
  total and the women's share, for every grade, every group, ``workforce`` (the grades counted
  in the workforce) and ``intake`` (the year's recruits);
* :meth:`Result.quantiles_frame` — the same quantities summarised over replications;
* :meth:`Result.diagnostics_frame` — vacancy-mode diagnostics per (replication, year, grade):
  vacancies, lateral hires, internal promotions, unfilled posts and whether a floor bound or
  could not be met.

The expected engine's result has one path, reported as replication 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from simulator import pipeline
from simulator.compiled import Compiled
from simulator.engine import DIAGNOSTICS, FLOWS, SEX_NAMES, Raw

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class Result:
    """One engine run.

    Attributes
    ----------
    compiled
        The compiled scenario that was run.
    engine
        ``"expected"``, ``"stochastic"`` or ``"agents"``.
    raw
        The arrays (see :class:`simulator.engine.Raw`).
    seed
        Root seed of the stochastic engine (``None`` for the expected engine).
    first_replication
        Index of the first replication held (replications are numbered globally).
    """

    compiled: Compiled
    engine: Literal["expected", "stochastic", "agents"]
    raw: Raw
    seed: int | None = None
    first_replication: int = 0
    #: Agents engine only, when asked for: one row per person-event (see simulator.agents).
    career_log: pd.DataFrame | None = None

    # ---- basic views ---------------------------------------------------------------------
    @property
    def replications(self) -> int:
        """Number of replications held."""
        return self.raw.stock.shape[0]

    @property
    def replication_ids(self) -> np.ndarray:
        """Global replication numbers of the rows."""
        return np.arange(self.first_replication, self.first_replication + self.replications)

    @property
    def years(self) -> np.ndarray:
        """Year labels of the stock axis: start_year … end_year."""
        c = self.compiled
        return np.arange(c.start_year, c.start_year + c.n_years + 1)

    def counts(self, population: str) -> tuple[np.ndarray, np.ndarray]:
        """Women and men of a population per replication and year, each ``[R, Y+1]``.

        For ``intake`` these are the year's recruits (NaN for the start year); for the funnel
        and deployment populations see :func:`simulator.pipeline.population_counts`.
        """
        extra = pipeline.population_counts(self.compiled, self.raw, population)
        if extra is not None:
            return extra
        if population == "intake":
            rec = self.raw.flows[:, :, 0, :, FLOWS.index("recruits")].astype(float)
            pad = np.full((self.replications, 1), np.nan)
            return (
                np.concatenate([pad, rec[:, :, 0]], axis=1),
                np.concatenate([pad, rec[:, :, 1]], axis=1),
            )
        mask = self.compiled.populations[population]
        sel = self.raw.stock[:, :, mask, :].sum(2).astype(float)
        return sel[..., 0], sel[..., 1]

    def share(self, population: str) -> np.ndarray:
        """Women's share of a population, ``[R, Y+1]`` (NaN where the population is empty)."""
        w, m = self.counts(population)
        total = w + m
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, w / np.where(total > 0, total, 1.0), np.nan)

    @property
    def population_names(self) -> list[str]:
        """Every population with a share: grades, groups, workforce, intake."""
        return [*self.compiled.populations, "intake", *pipeline.population_names(self.compiled)]

    # ---- tidy tables ---------------------------------------------------------------------
    def stocks_frame(self) -> pd.DataFrame:
        """Tidy stocks and flows: one row per (replication, year, grade, sex)."""
        c = self.compiled
        R, Y1, G = self.replications, c.n_years + 1, c.n_grades
        idx = np.indices((R, Y1, G, 2)).reshape(4, -1)
        frame = pd.DataFrame(
            {
                "replication": self.replication_ids[idx[0]],
                "year": self.years[idx[1]],
                "grade": pd.Categorical.from_codes(idx[2], categories=list(c.grade_ids)),
                "sex": pd.Categorical.from_codes(idx[3], categories=list(SEX_NAMES)),
                "stock": self.raw.stock.reshape(-1),
            }
        )
        flows = self.raw.flows
        missing = np.zeros((R, 1, G, 2), dtype=bool)
        mask = np.concatenate([~missing, np.zeros((R, Y1 - 1, G, 2), dtype=bool)], axis=1).reshape(
            -1
        )
        for i, name in enumerate(FLOWS):
            values = np.concatenate(
                [np.zeros((R, 1, G, 2), flows.dtype), flows[..., i]], axis=1
            ).reshape(-1)
            if self.engine == "stochastic":
                frame[name] = pd.arrays.IntegerArray(values.astype(np.int64), mask)
            else:
                frame[name] = np.where(mask, np.nan, values)
        frame.insert(0, "engine", self.engine)
        return frame

    def shares_frame(self) -> pd.DataFrame:
        """Tidy women's shares: one row per (replication, year, population)."""
        parts = []
        for pop in self.population_names:
            w, m = self.counts(pop)
            R, Y1 = w.shape
            idx = np.indices((R, Y1)).reshape(2, -1)
            total = (w + m).reshape(-1)
            parts.append(
                pd.DataFrame(
                    {
                        "replication": self.replication_ids[idx[0]],
                        "year": self.years[idx[1]],
                        "population": pop,
                        "women": w.reshape(-1),
                        "men": m.reshape(-1),
                        "total": total,
                        "share": self.share(pop).reshape(-1),
                    }
                )
            )
        frame = pd.concat(parts, ignore_index=True)
        frame.insert(0, "engine", self.engine)
        return frame

    def quantiles_frame(self, quantiles: tuple[float, ...] = QUANTILES) -> pd.DataFrame:
        """Quantiles over replications of each population's share and headcount per year.

        Columns: population, year, quantile, share, women, total (and ``mean`` rows as
        quantile = NaN with statistic 'mean').
        """
        names = [f"q{q:g}" for q in quantiles] + ["mean"]
        years = np.tile(self.years, len(names))
        statistic = np.repeat(names, len(self.years))
        rows = []
        for pop in self.population_names:
            w, m = self.counts(pop)
            share = self.share(pop)
            rows.append(
                pd.DataFrame(
                    {
                        "population": pop,
                        "year": years,
                        "statistic": statistic,
                        "share": _statistics(share, quantiles).reshape(-1),
                        "women": _statistics(w, quantiles).reshape(-1),
                        "total": _statistics(w + m, quantiles).reshape(-1),
                    }
                )
            )
        frame = pd.concat(rows, ignore_index=True)
        frame.insert(0, "engine", self.engine)
        return frame

    def funnel_frame(self) -> pd.DataFrame:
        """Conscription funnel per (replication, year, stage, sex): :mod:`simulator.pipeline`."""
        return pipeline.funnel_frame(self)

    def deployment_frame(self) -> pd.DataFrame:
        """Deployed per (replication, year-end, pool, sex); see :mod:`simulator.pipeline`."""
        return pipeline.deployment_frame(self)

    def diagnostics_frame(self) -> pd.DataFrame:
        """Vacancy diagnostics per (replication, year, grade) for vacancy-mode grades."""
        c = self.compiled
        grades = np.flatnonzero(c.mode == 2)
        if grades.size == 0:
            return pd.DataFrame(columns=["engine", "replication", "year", "grade", *DIAGNOSTICS])
        d = self.raw.diagnostics[:, :, grades, :]
        R, Y, Gv, _ = d.shape
        idx = np.indices((R, Y, Gv)).reshape(3, -1)
        frame = pd.DataFrame(
            {
                "engine": self.engine,
                "replication": self.replication_ids[idx[0]],
                "year": c.years[idx[1]],
                "grade": np.array(c.grade_ids)[grades][idx[2]],
            }
        )
        flat = d.reshape(-1, len(DIAGNOSTICS))
        for i, name in enumerate(DIAGNOSTICS):
            frame[name] = (
                flat[:, i].astype(bool)
                if name.startswith("floor_") and name != "floor_required"
                else flat[:, i]
            )
        return frame


def _statistics(a: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """``[len(quantiles) + 1, Y]``: the quantiles over replications (rows of ``a``, ``[R, Y]``)
    of each year, NaNs ignored, then the mean; NaN for a year with no value.

    The same numbers as ``np.nanquantile(a[:, j], q)`` year by year, computed at once: years
    without a NaN go through ``np.quantile`` (vectorised; ``nanquantile`` loops over columns
    in Python), the others through ``np.nanquantile``.
    """
    out = np.full((len(quantiles) + 1, a.shape[1]), np.nan)
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        some_nan = nan.any(axis=0)
        clean, partial = ~some_nan, some_nan & ~nan.all(axis=0)
    else:
        clean, partial = np.ones(a.shape[1], bool), np.zeros(a.shape[1], bool)
    qs = list(quantiles)
    if clean.any():
        out[:-1, clean] = np.quantile(a[:, clean], qs, axis=0)
    if partial.any():
        out[:-1, partial] = np.nanquantile(a[:, partial], qs, axis=0)
    out[-1] = _nanmean(a)
    return out


def _nanmean(a: np.ndarray) -> np.ndarray:
    out = np.full(a.shape[1], np.nan)
    ok = ~np.all(np.isnan(a), axis=0)
    if ok.any():
        out[ok] = np.nanmean(a[:, ok], axis=0)
    return out
