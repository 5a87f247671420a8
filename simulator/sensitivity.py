"""Sensitivity of a target to a sweep's parameters: Sobol indices and a one-at-a-time tornado.

The output studied is, for one target of the base scenario, either

* ``share`` — the women's share of the target's population at the deadline on the
  **expected** engine (deterministic, fast), or
* ``probability`` — the probability that the target is met (its comparator, at the deadline
  or sustained), estimated by the **stochastic** engine with the sweep's replications and its
  root seed at every point (common random numbers: points differ only by their parameters).

as a function of the sweep file's parameters, each uniform within its bounds: ``low``/``high``
of a ``[[sample.parameters]]`` entry, or the smallest and largest value of a numeric
``[[grid]]`` entry. ``integer = true`` parameters are uniform over their whole numbers.

**Sobol indices** (variance-based, global): the first-order index S_i is the share of the
output's variance explained by parameter i alone, the total index ST_i the share it takes
part in, interactions included (ST_i ≥ S_i; ΣS_i = 1 for an additive function). They are
estimated with the Saltelli (2010) estimators — the ones of
:func:`scipy.stats.sobol_indices` (first order: Saltelli 2010; total: Jansen 1999) — on a
scrambled Sobol design of two ``n x d`` matrices A, B and the d matrices A_B^(i) (A with
column i from B): ``n (d + 2)`` runs. Intervals are percentile bootstrap 95 % intervals over the
n rows (seeded, so reproducible); they treat the rows as independent and so are conservative
for the quasi-random design (wider than the estimator's actual error).

A probability has Monte Carlo noise (binomial, variance p (1 - p) / R at R replications):
noise adds to the output's variance and is attributed to no parameter, so the indices then
sum to less than 1. The report states an upper bound of the share of the variance that noise
can explain; raise ``replications`` in the sweep file if it is not small.

**Tornado** (local, one at a time): every parameter is set to its low and to its high bound
while the others stay at their baseline (the base scenario's value when it is a number within
the bounds, else the middle of the bounds); the swing is ``|y(high) - y(low)|``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from simulator.errors import Issue, ScenarioError
from simulator.sweep_spec import Lever, Sweep, resolve_slot

Quantity = Literal["probability", "share"]
BOOTSTRAP_RESAMPLES = 1000


# --------------------------------------------------------------------------------------------
# The estimator (generic: any vectorised function of the unit cube)
# --------------------------------------------------------------------------------------------
@dataclass
class SobolEstimate:
    """First-order and total Sobol indices with bootstrap intervals, one entry per input."""

    first: np.ndarray
    total: np.ndarray
    first_ci: np.ndarray  # [d, 2]
    total_ci: np.ndarray  # [d, 2]
    mean: float
    variance: float
    outputs: np.ndarray = field(repr=False)  # f_A and f_B, for diagnostics


def saltelli_design(d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return A ``[n, d]``, B ``[n, d]`` (scrambled Sobol, unit cube) and A_B ``[d, n, d]``.

    ``n`` must be a power of 2 (the balance properties of Sobol points).
    """
    from scipy.stats import qmc

    if n < 2 or n & (n - 1):
        raise ValueError(f"n must be a power of 2 and at least 2 (got {n})")
    rng = np.random.default_rng(seed)
    try:
        engine = qmc.Sobol(2 * d, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15
        engine = qmc.Sobol(2 * d, scramble=True, seed=rng)
    sample = engine.random(n)
    a, b = sample[:, :d], sample[:, d:]
    ab = np.repeat(a[None, :, :], d, axis=0)
    for i in range(d):
        ab[i, :, i] = b[:, i]
    return a, b, ab


def sobol_from_outputs(
    f_a: np.ndarray,
    f_b: np.ndarray,
    f_ab: np.ndarray,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> SobolEstimate:
    """Estimate the indices from the outputs on A ``[n]``, B ``[n]`` and A_B ``[d, n]``.

    Estimators of Saltelli et al. (2010), as in :func:`scipy.stats.sobol_indices` (outputs
    centred on their mean first): ``S_i = mean(f_B (f_AB_i - f_A)) / V`` and
    ``ST_i = mean((f_A - f_AB_i)^2) / (2 V)`` with V the variance of f_A and f_B together.
    A constant output gives indices 0. The intervals are percentile bootstrap 95 % intervals
    over the n rows (``resamples`` resamples; 0 gives NaN intervals). Resampling rows treats
    them as independent, which ignores the variance reduction of the quasi-random design, so
    the intervals are conservative (wider than the estimator's actual error).
    """
    f_a = np.asarray(f_a, float)
    f_b = np.asarray(f_b, float)
    f_ab = np.asarray(f_ab, float)
    mean = float(np.mean([f_a, f_b]))
    a_c, b_c, ab_c = f_a - mean, f_b - mean, f_ab - mean

    def indices(a: np.ndarray, b: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # a, b: [..., n]; ab: [d, ..., n] -> first, total: [d, ...]
        var = np.var(np.concatenate([a, b], axis=-1), axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            first = np.mean(b * (ab - a), axis=-1) / var
            total = 0.5 * np.mean((a - ab) ** 2, axis=-1) / var
        bad = ~(var > 0)
        return np.where(bad, 0.0, first), np.where(bad, 0.0, total)

    n = f_a.shape[0]
    first, total = indices(a_c, b_c, ab_c)
    d = first.shape[0]
    first_ci = np.full((d, 2), np.nan)
    total_ci = np.full((d, 2), np.nan)
    if resamples > 0:
        rng = np.random.default_rng(seed)
        boot_first, boot_total = [], []
        batch = max(1, min(resamples, 2_000_000 // max(n * (d + 2), 1)))
        for start in range(0, resamples, batch):
            idx = rng.integers(0, n, (min(batch, resamples - start), n))
            bf, bt = indices(a_c[idx], b_c[idx], ab_c[:, idx])
            boot_first.append(bf)
            boot_total.append(bt)
        q = [2.5, 97.5]
        first_ci = np.percentile(np.concatenate(boot_first, axis=1), q, axis=1).T
        total_ci = np.percentile(np.concatenate(boot_total, axis=1), q, axis=1).T
    return SobolEstimate(
        first=first,
        total=total,
        first_ci=first_ci,
        total_ci=total_ci,
        mean=mean,
        variance=float(np.var(np.concatenate([f_a, f_b]))),
        outputs=np.concatenate([f_a, f_b]),
    )


def sobol_indices(
    func: Callable[[np.ndarray], np.ndarray],
    d: int,
    n: int,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> SobolEstimate:
    """Sobol indices of ``func`` (``[m, d]`` points of the unit cube → ``[m]`` outputs)."""
    a, b, ab = saltelli_design(d, n, seed)
    y = np.asarray(func(np.concatenate([a, b, ab.reshape(d * n, d)])), float)
    f_a, f_b, f_ab = y[:n], y[n : 2 * n], y[2 * n :].reshape(d, n)
    return sobol_from_outputs(f_a, f_b, f_ab, seed=seed, resamples=resamples)


# --------------------------------------------------------------------------------------------
# Factors of a sweep
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """A swept parameter as an input of the sensitivity analysis."""

    column: str
    path: str
    low: float
    high: float
    integer: bool
    baseline: float
    steps: tuple[Any, ...]

    def scale(self, u: np.ndarray) -> np.ndarray:
        """Map unit-cube coordinates to parameter values (integers uniform over low … high)."""
        if self.integer:
            return np.minimum(np.floor(self.low + u * (self.high - self.low + 1)), self.high)
        return self.low + u * (self.high - self.low)


def factors_of(sweep: Sweep) -> list[Factor]:
    """The sweep's parameters with bounds; raises for parameters that have no numeric range."""
    issues: list[Issue] = []
    out: list[Factor] = []
    for lv in sweep.levers:
        low, high = _bounds(sweep, lv)
        if low is None or high is None:
            issues.append(
                Issue(
                    f"{lv.origin}.values",
                    "sensitivity needs numbers with a range (at least two different values)",
                    lv.path,
                )
            )
            continue
        integer = lv.integer or lv.dtype == "int64"
        out.append(
            Factor(
                lv.column,
                lv.path,
                low,
                high,
                integer,
                _baseline(sweep, lv, low, high, integer),
                lv.steps,
            )
        )
    if issues:
        raise ScenarioError(issues, str(sweep.path) if sweep.path else None)
    return out


def _bounds(sweep: Sweep, lv: Lever) -> tuple[float | None, float | None]:
    if lv.low is not None and lv.high is not None:
        return lv.low, lv.high
    if lv.dtype not in ("float64", "int64"):
        return None, None
    values = [p.values[lv.column] for p in sweep.points]
    low, high = float(min(values)), float(max(values))
    return (low, high) if low < high else (None, None)


def _baseline(sweep: Sweep, lv: Lever, low: float, high: float, integer: bool) -> float:
    try:
        container, key = resolve_slot(sweep.base_data, list(lv.steps))
        value = container[key]
    except (ValueError, KeyError, IndexError, TypeError):
        value = None
    if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    mid = (low + high) / 2
    return float(math.floor(mid)) if integer else mid


# --------------------------------------------------------------------------------------------
# Evaluating points (picklable, runs in workers)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalBatch:
    """Points to evaluate: parameter values per row, and what to compute."""

    base_data: dict[str, Any]
    steps: tuple[tuple[Any, ...], ...]
    rows: tuple[tuple[float, ...], ...]
    integer: tuple[bool, ...]
    quantity: str
    target: str
    replications: int
    seed: int


def evaluate_batch(batch: EvalBatch) -> list[float | str]:
    """Return the quantity at each row, or the error text of a row whose scenario is invalid."""
    from simulator.api import run
    from simulator.compiled import compile_scenario
    from simulator.scenario import parse_scenario
    from simulator.sweep_spec import set_path
    from simulator.targets import condition_met

    out: list[float | str] = []
    for row in batch.rows:
        data = copy.deepcopy(batch.base_data)
        for steps, value, integer in zip(batch.steps, row, batch.integer, strict=True):
            set_path(data, list(steps), int(value) if integer else float(value))
        try:
            scenario = parse_scenario(data)
            compiled = compile_scenario(scenario)
            target = next(t for t in scenario.targets if t.id == batch.target)
            if batch.quantity == "share":
                result = run(compiled, "expected")
            else:
                result = run(compiled, "stochastic", batch.replications, batch.seed)
            share = result.share(target.population)
            di = int(target.deadline - result.years[0])
            if batch.quantity == "share":
                out.append(float(share[0, di]))
            else:
                met = condition_met(target, share)
                hit = met[:, di:].all(axis=1) if target.sustained else met[:, di]
                out.append(float(hit.mean()))
        except ScenarioError as exc:
            out.append("; ".join(str(i) for i in exc.issues))
    return out


def make_evaluator(
    sweep: Sweep,
    factors: list[Factor],
    target: str,
    quantity: Quantity,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``f(values [m, d]) -> [m]`` that runs the points on the chosen executor.

    Raises :class:`ScenarioError` naming the first point whose values make an invalid scenario.
    """
    from concurrent.futures import as_completed

    from simulator.sweep import open_executor

    def evaluate(values: np.ndarray) -> np.ndarray:
        m = values.shape[0]
        with open_executor(executor, workers, scheduler) as (pool, slots):
            size = max(1, min(64, math.ceil(m / (4 * slots))))
            futures = {}
            for start in range(0, m, size):
                batch = EvalBatch(
                    base_data=sweep.base_data,
                    steps=tuple(f.steps for f in factors),
                    rows=tuple(tuple(float(x) for x in r) for r in values[start : start + size]),
                    integer=tuple(f.integer for f in factors),
                    quantity=quantity,
                    target=target,
                    replications=sweep.replications,
                    seed=sweep.seed,
                )
                futures[pool.submit(evaluate_batch, batch)] = start
            y = np.empty(m)
            done = 0
            if progress is not None:
                progress(0, m)
            for fut in as_completed(futures):
                start = futures[fut]
                for j, v in enumerate(fut.result()):
                    if isinstance(v, str):
                        label = ", ".join(
                            f"{f.column}={values[start + j, i]:.6g}" for i, f in enumerate(factors)
                        )
                        raise ScenarioError([Issue("", v)], f"sensitivity point ({label})")
                    y[start + j] = v
                done += len(fut.result())
                if progress is not None:
                    progress(done, m)
        return y

    return evaluate


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------
@dataclass
class SensitivityReport:
    """Sobol indices and tornado of one target's quantity."""

    sweep: str
    target: str
    target_label: str
    quantity: Quantity
    engine: str
    n: int
    runs: int
    replications: int | None
    seed: int
    sample_seed: int
    factors: list[Factor]
    sobol: SobolEstimate
    baseline_output: float
    tornado_low: np.ndarray
    tornado_high: np.ndarray
    noise_share_bound: float | None

    def table(self):
        """The result as a pandas DataFrame, one row per parameter, largest total index first."""
        import pandas as pd

        s = self.sobol
        frame = pd.DataFrame(
            {
                "parameter": [f.column for f in self.factors],
                "path": [f.path for f in self.factors],
                "low": [f.low for f in self.factors],
                "high": [f.high for f in self.factors],
                "baseline": [f.baseline for f in self.factors],
                "first_order": s.first,
                "first_order_low": s.first_ci[:, 0],
                "first_order_high": s.first_ci[:, 1],
                "total_order": s.total,
                "total_order_low": s.total_ci[:, 0],
                "total_order_high": s.total_ci[:, 1],
                "output_at_low": self.tornado_low,
                "output_at_high": self.tornado_high,
                "swing": np.abs(self.tornado_high - self.tornado_low),
            }
        )
        return frame.sort_values("total_order", ascending=False, kind="stable").reset_index(
            drop=True
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        rows = self.table().to_dict(orient="records")
        return {
            "sweep": self.sweep,
            "target": self.target,
            "target_label": self.target_label,
            "quantity": self.quantity,
            "engine": self.engine,
            "sobol_base_n": self.n,
            "runs": self.runs,
            "replications": self.replications,
            "seed": self.seed,
            "sample_seed": self.sample_seed,
            "output_mean": _finite(self.sobol.mean),
            "output_variance": _finite(self.sobol.variance),
            "baseline_output": _finite(self.baseline_output),
            "noise_share_bound": _finite(self.noise_share_bound),
            "estimator": "Saltelli 2010 (first order), Jansen (total); percentile bootstrap 95 %",
            "parameters": [{k: _finite(v) for k, v in r.items()} for r in rows],
        }


def _finite(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        v = float(v)
        return v if math.isfinite(v) else None
    return v


def analyse(
    sweep: Sweep,
    target: str | None = None,
    quantity: Quantity = "share",
    n: int = 256,
    seed: int = 0,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SensitivityReport:
    """Sobol indices and a tornado of a target's quantity over the sweep's parameters.

    Parameters
    ----------
    sweep
        A loaded sweep (its parameters and bounds, replications and seed are used).
    target
        Target id of the base scenario (default: its first target).
    quantity
        ``share`` (expected engine) or ``probability`` (stochastic engine, CRN).
    n
        Sobol base sample size, a power of 2; the analysis costs ``n (d + 2) + 2 d + 1`` runs.
    seed
        Seed of the Sobol design and the bootstrap (not of the simulation, which uses the
        sweep's seed).
    """
    issues: list[Issue] = []
    if quantity not in ("probability", "share"):
        issues.append(Issue("--quantity", "use 'probability' or 'share'", quantity))
    if n < 2 or n & (n - 1):
        issues.append(Issue("--n", "must be a power of 2 (e.g. 128, 256, 512)", n))
    ids = [t.id for t in sweep.base.targets]
    if not ids:
        issues.append(Issue("scenario", "the base scenario has no targets", sweep.spec.scenario))
    elif target is not None and target not in ids:
        issues.append(Issue("--target", f"unknown target; the scenario has {ids}", target))
    if issues:
        raise ScenarioError(issues)
    tid = target or ids[0]
    tgt = next(t for t in sweep.base.targets if t.id == tid)
    factors = factors_of(sweep)
    d = len(factors)

    a, b, ab = saltelli_design(d, n, seed)
    unit = np.concatenate([a, b, ab.reshape(d * n, d)])
    design = np.column_stack([f.scale(unit[:, i]) for i, f in enumerate(factors)])
    base_row = np.array([f.baseline for f in factors])
    oat = [base_row]
    for i, f in enumerate(factors):
        for bound in (f.low, f.high):
            row = base_row.copy()
            row[i] = bound
            oat.append(row)
    values = np.concatenate([design, np.array(oat)])
    evaluate = make_evaluator(
        sweep, factors, tid, quantity, executor, workers, scheduler, progress=progress
    )
    y = evaluate(values)
    m = design.shape[0]
    f_a, f_b, f_ab = y[:n], y[n : 2 * n], y[2 * n : m].reshape(d, n)
    estimate = sobol_from_outputs(f_a, f_b, f_ab, seed=seed)
    tail = y[m:]
    noise = None
    if quantity == "probability":
        p = estimate.outputs
        noise_var = float(np.mean(p * (1 - p)) / sweep.replications)
        noise = min(1.0, noise_var / estimate.variance) if estimate.variance > 0 else None
    return SensitivityReport(
        sweep=sweep.name,
        target=tid,
        target_label=tgt.label or tgt.describe(),
        quantity=quantity,
        engine="expected" if quantity == "share" else "stochastic",
        n=n,
        runs=int(values.shape[0]),
        replications=sweep.replications if quantity == "probability" else None,
        seed=sweep.seed,
        sample_seed=seed,
        factors=factors,
        sobol=estimate,
        baseline_output=float(tail[0]),
        tornado_low=tail[1::2].copy(),
        tornado_high=tail[2::2].copy(),
        noise_share_bound=noise,
    )


def format_report(report: SensitivityReport, width: int = 30) -> str:
    """A readable report: indices with intervals, then a text tornado."""
    what = (
        f"P(target met), stochastic engine, {report.replications} replications, seed "
        f"{report.seed} at every point"
        if report.quantity == "probability"
        else "expected share at the deadline (expected engine)"
    )
    t = report.table()
    lines = [
        f"{report.sweep} — sensitivity of {report.target} ({report.target_label})",
        f"output: {what}",
        f"Sobol: base n = {report.n}, {report.runs} runs; output mean "
        f"{report.sobol.mean:.4f}, variance {report.sobol.variance:.3g}",
    ]
    if report.noise_share_bound is not None:
        lines.append(
            f"Monte Carlo noise explains at most {100 * report.noise_share_bound:.1f} % of the "
            "output variance (attributed to no parameter)"
        )
    name_w = max(9, *(len(p) for p in t["parameter"]))
    lines += [
        "",
        f"{'parameter':<{name_w}}  {'first order [95% CI]':>24}  {'total [95% CI]':>24}",
    ]
    for _, r in t.iterrows():
        first = f"{r.first_order:.3f} [{r.first_order_low:.3f}, {r.first_order_high:.3f}]"
        total = f"{r.total_order:.3f} [{r.total_order_low:.3f}, {r.total_order_high:.3f}]"
        lines.append(f"{r.parameter:<{name_w}}  {first:>24}  {total:>24}")
    lines += [
        "",
        "tornado (one at a time, others at baseline; "
        f"baseline output {report.baseline_output:.4f}):",
    ]
    order = t.sort_values("swing", ascending=False, kind="stable")
    scale = max(float(order["swing"].max()), 1e-12)
    for _, r in order.iterrows():
        bar = "#" * max(0, round(width * r.swing / scale))
        lines.append(
            f"{r.parameter:<{name_w}}  {r.low:>8.4g} → {r.output_at_low:.4f}   "
            f"{r.high:>8.4g} → {r.output_at_high:.4f}   {bar}"
        )
    return "\n".join(lines)
