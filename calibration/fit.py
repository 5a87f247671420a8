"""Fit a calibration problem on the expected engine: point estimate, posterior sample, checks.

Notation: θ ∈ Θ = Π_j [low_j, high_j] the free parameters, π(θ) = Π_j π_j(θ_j) their prior,
f_i(θ) the expected-engine value of observation i (a women's share, 0-1, or a headcount, persons)
and log L(θ) = Σ_i log L_i(y_i | f_i(θ)) the log likelihood of the measurement models of
:mod:`calibration.problem`. The log posterior is log p(θ | y) = log L(θ) + log π(θ) + const.
A θ whose scenario is invalid (e.g. attrition + promotion > 1) has L = 0.

**Model evaluation.** For each θ the scenario's data (``scenario_to_data``) is copied, every
parameter is written to its paths in file order (``simulator.paths.set_path``; a multiplier
writes θ × the value at its ``relative_to`` path), and the result is validated
(``parse_scenario``), compiled and run on the expected engine; paths that start with
``channels`` write to the problem's channels instead, and observations that name channels are
the mixture of the engine's value and the channels' (:func:`combine`). One evaluation of the Danish
police problem took 2.7 ms on an idle core (3-7 ms on a loaded 2-core machine; measured), so
a fit of about 12,000 evaluations needs no caching of compiled arrays.

**Posterior sample: sampling-importance-resampling (SIR) over a scrambled Sobol design.**

1. Stage 0: N = ``design.points`` (a power of 2) scrambled Sobol points u_k ∈ [0, 1)^d
   (``scipy.stats.qmc.Sobol``, numpy Generator seeded from ``design.seed``) are mapped through
   the prior quantile functions, θ_k = F_π⁻¹(u_k), so the design is a quasi-random sample of the
   prior and the importance weights are the likelihoods: w_k ∝ L(θ_k).
2. Refinement (when the posterior is much narrower than the prior, as with census-size
   binomial observations): adaptive multiple importance sampling. While the Kish effective
   sample size ESS = (Σ_k w_k)² / Σ_k w_k² of the pooled design is below ``design.min_ess`` (at
   most ``design.refinements`` times), a new design of N points is drawn from a multivariate
   Student-t proposal q_s (ν = :data:`PROPOSAL_DF`), mapped from a scrambled Sobol sequence of
   dimension d + 1, in the unit coordinates z = (θ − low) / (high − low). The first proposal is
   centred on the point estimate with scale matrix :data:`PROPOSAL_INFLATION`² × the inverse
   Hessian of −log p there (Laplace approximation, central differences with step
   :data:`HESSIAN_STEP`); later ones on the weighted mean and :data:`PROPOSAL_INFLATION`² × the
   weighted covariance of the pooled design (once its ESS reaches
   :data:`MIN_ESS_FOR_COVARIANCE`). All points of all stages (prior design included; points
   outside the bounds have prior density 0 and are not run) are pooled with deterministic-
   mixture (balance-heuristic) weights
   w_k ∝ π(z_k) L(z_k) / Σ_s (N_s / Σ N) q_s(z_k), with q_0 = π the prior,
   which are importance weights for the exact posterior (no truncation); the heavy tails of the
   t proposals keep them bounded where the posterior is wider than its Laplace approximation.
3. Resampling: ``design.draws`` rows of the pooled design are drawn with replacement with
   probabilities w_k / Σ w (numpy Generator), giving equally weighted posterior draws. Their
   concrete values at every written path form the ``posterior`` block of the calibrated
   scenario.

**Point estimate (maximum a posteriori).** Nelder-Mead (derivative-free: initial-state
parameters act through rounded headcounts, so log p is piecewise constant on a fine scale) on
the unit cube of the prior bounds, started from the ``design.starts`` best design points of all
stages; the best end point is the estimate.

**Diagnostics.** The ESS of the pooled design after each stage; standardised residuals r_i at
the point estimate (binomial: (y − f)/sqrt(f(1 − f)/n), tolerance: (y − f)/τ); per parameter
the posterior mean, sd and central interval (``design.level``, from the draws) against the
prior sd, and the **identifiability warning** rule: a parameter is reported as not pinned by
the data when its posterior sd exceeds :data:`NOT_PINNED_RATIO` (0.8) times its prior sd. For
each observation the fit table gives the fitted value's posterior interval (the draws' f_i)
and the posterior predictive interval (the draws' f_i plus measurement noise:
Binomial(round(n), f)/round(n), or f + τ·N(0, 1)).

**Back-test.** :func:`backtest` fits on the observations up to a cut-off year only and reports
every later observation against its posterior predictive interval from the earlier ones.

All randomness uses numpy Generators built from ``numpy.random.SeedSequence(design.seed)``;
the same problem and seed give the same result.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from scipy import optimize, stats
from scipy.special import xlogy

from calibration.problem import (
    Channel,
    Observation,
    Parameter,
    Problem,
    interpolate_table,
    is_channel_path,
)
from simulator import pipeline
from simulator.compiled import compile_scenario
from simulator.engine import FLOWS, Raw, run_expected_raw
from simulator.errors import Issue, ScenarioError
from simulator.paths import Step, parse_path, resolve_slot, set_path
from simulator.posterior import ENGINE_SECTIONS, drawn_per_replication
from simulator.scenario import parse_scenario

#: A parameter whose posterior sd exceeds this fraction of its prior sd is "not pinned".
NOT_PINNED_RATIO = 0.8
#: Degrees of freedom of the Student-t importance proposal of the refinement stages.
PROPOSAL_DF = 4
#: Scale factor of the proposal relative to the Laplace (or previous-stage) covariance.
PROPOSAL_INFLATION = 1.5
#: Step (in unit coordinates of the bounds) of the finite-difference Hessian.
HESSIAN_STEP = 0.01
#: Refinement uses the previous stage's weighted covariance once its ESS reaches this.
MIN_ESS_FOR_COVARIANCE = 30.0
#: Floor of a model share inside the binomial log likelihood (avoids log 0).
SHARE_EPS = 1e-9
_ENTRY_FLOWS = [FLOWS.index(n) for n in ("promoted_in", "recruits", "lateral_in")]


# --------------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------------
def prior_distribution(par: Parameter) -> Any:
    """The frozen scipy distribution of a parameter's prior on [low, high]."""
    lo, hi, pr = par.low, par.high, par.prior
    if pr.distribution == "uniform":
        return stats.uniform(loc=lo, scale=hi - lo)
    if pr.distribution == "beta":
        return stats.beta(pr.alpha, pr.beta, loc=lo, scale=hi - lo)
    a, b = (lo - pr.mean) / pr.sd, (hi - pr.mean) / pr.sd
    return stats.truncnorm(a, b, loc=pr.mean, scale=pr.sd)


# --------------------------------------------------------------------------------------------
# The model: θ -> scenario -> expected engine -> fitted values
# --------------------------------------------------------------------------------------------
def engine_cells(raw: Raw, compiled: Any, observations: list[Observation]) -> np.ndarray:
    """Women and persons (columns 0, 1) of each observation's engine population on one run
    (expected engine: replication 0); NaN for an observation of a channel."""
    out = np.full((len(observations), 2), np.nan)
    start = compiled.start_year
    for i, ob in enumerate(observations):
        t = ob.year - start
        extra = pipeline.population_counts(compiled, raw, ob.population)
        if extra is not None:  # a funnel stage (the year's flow) or the deployed (year-end)
            cells = np.array([extra[0][0, t], extra[1][0, t]])
        elif ob.population == "intake":
            cells = raw.flows[0, t - 1, 0, :, FLOWS.index("recruits")]
        elif ob.population in compiled.populations:
            mask = compiled.populations[ob.population]
            if ob.of == "entrants":
                cells = raw.flows[0, t - 1][mask][:, :, _ENTRY_FLOWS].sum(axis=(0, 2))
            else:
                cells = raw.stock[0, t][mask].sum(axis=0)
        else:  # a channel of the problem
            continue
        out[i] = float(cells[0]), float(cells[0] + cells[1])
    return out


def combine(
    cells: np.ndarray,
    observations: list[Observation],
    channels: Mapping[str, Channel] | None = None,
) -> np.ndarray:
    """Model values f_i from the engine's (women, persons) of each observation and the channels.

    For an observation of a channel: the channel's women's share (or count) in the year. For an
    observation listing channels: the mixture (W + Σ n_c s_c) / (N + Σ n_c), or N + Σ n_c for a
    headcount (calibration.problem docstring).
    """
    channels = channels or {}
    out = np.empty(len(observations))
    for i, ob in enumerate(observations):
        if ob.population in channels:
            ch = channels[ob.population]
            if ob.quantity == "headcount":
                out[i] = ch.count(ob.year)
            else:
                out[i] = ch.share(ob.year)
            continue
        women, total = float(cells[i, 0]), float(cells[i, 1])
        for cid in ob.channels:
            try:
                ch = channels[cid]
            except KeyError:
                raise ValueError(f"observation {ob.id!r} needs channel {cid!r}") from None
            n = ch.count(ob.year)
            women += n * ch.share(ob.year)
            total += n
        if ob.quantity == "headcount":
            out[i] = total
        else:
            out[i] = women / total if total > 0 else np.nan
    return out


def observe(
    raw: Raw,
    compiled: Any,
    observations: list[Observation],
    channels: Mapping[str, Channel] | None = None,
) -> np.ndarray:
    """Model values f_i of the observations on one run (expected engine: replication 0), with
    the problem's channels (needed when an observation names one)."""
    return combine(engine_cells(raw, compiled, observations), observations, channels)


class Model:
    """Evaluate a problem's observations at parameter values θ (in the parameters' units)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.parameters = problem.parameters
        self.observations = problem.observations
        self._steps: list[list[list[Step]]] = [
            [parse_path(p) for p in par.paths] for par in self.parameters
        ]
        self._rel: list[list[list[Step]] | None] = [
            [parse_path(p) for p in par.relative_to] if par.relative_to else None
            for par in self.parameters
        ]
        self._comp: list[list[list[Step]] | None] = [
            [parse_path(p) for p in par.complement] if par.complement else None
            for par in self.parameters
        ]
        self.written_paths = problem.written_paths
        self._written_steps = [parse_path(p) for p in self.written_paths]
        self._tables = [(parse_path(t.path), list(t.knots)) for t in problem.spec.interpolate]
        self.has_channels = bool(problem.spec.channels)
        self.evaluations = 0

    def apply(self, theta: np.ndarray) -> tuple[dict[str, Any], dict[str, Any], np.ndarray]:
        """The scenario data and the channels' data at θ, and the concrete value written at
        every scenario path (``written_paths``; channel paths are not in it)."""
        data = copy.deepcopy(self.problem.base_data)
        chans = copy.deepcopy(self.problem.channels_data)

        def root(steps: list[Step]) -> dict[str, Any]:
            return chans if is_channel_path(steps) else data

        for j, value in enumerate(theta):
            written: list[float] = []
            for i, steps in enumerate(self._steps[j]):
                v = float(value)
                rel = self._rel[j]
                if rel is not None:
                    container, slot = resolve_slot(root(rel[i]), rel[i])
                    v *= float(container[slot])
                set_path(root(steps), steps, v)
                written.append(v)
            comp = self._comp[j]
            if comp is not None:
                for steps, v in zip(comp, written, strict=True):
                    set_path(root(steps), steps, 1.0 - v)
        for steps, knots in self._tables:
            container, slot = resolve_slot(data, steps)
            interpolate_table(container[slot], knots)
        concrete = []
        for steps in self._written_steps:
            container, slot = resolve_slot(data, steps)
            concrete.append(float(container[slot]))
        return data, chans, np.array(concrete)

    def data(self, theta: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
        """The scenario data at θ and the concrete value written at every scenario path."""
        data, _, concrete = self.apply(theta)
        return data, concrete

    def channels(self, chans: dict[str, Any]) -> dict[str, Channel] | None:
        """Validated channels from channel data (None if a written value makes one invalid)."""
        try:
            return {c["id"]: Channel.model_validate(c) for c in chans["channels"]}
        except ValidationError:
            return None

    def evaluate(self, theta: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Return (fitted values or None if θ makes an invalid scenario, concrete values)."""
        data, chans, concrete = self.apply(theta)
        self.evaluations += 1
        channels = self.channels(chans) if self.has_channels else {}
        if channels is None:
            return None, concrete
        try:
            c = compile_scenario(parse_scenario(data))
        except ScenarioError:
            return None, concrete
        fitted = observe(run_expected_raw(c), c, self.observations, channels)
        if not np.all(np.isfinite(fitted)):
            return None, concrete
        return fitted, concrete


def log_likelihood_terms(observations: list[Observation], fitted: np.ndarray) -> np.ndarray:
    """log L_i of each observation (module docstring of calibration.problem)."""
    out = np.empty(len(observations))
    for i, (ob, f) in enumerate(zip(observations, fitted, strict=True)):
        y = ob.value
        if ob.measurement == "binomial":
            p = min(max(f, SHARE_EPS), 1 - SHARE_EPS)
            n = ob.n_eff
            out[i] = n * (xlogy(y, p) + xlogy(1 - y, 1 - p) - xlogy(y, y) - xlogy(1 - y, 1 - y))
        else:
            out[i] = -0.5 * ((y - f) / ob.tolerance) ** 2
    return out


def standardised_residuals(observations: list[Observation], fitted: np.ndarray) -> np.ndarray:
    """r_i = (y_i − f_i) / (measurement sd at f_i)."""
    return np.array(
        [(ob.value - f) / measurement_sd(ob, f) for ob, f in zip(observations, fitted, strict=True)]
    )


def measurement_sd(ob: Observation, f: float) -> float:
    """Standard deviation of the measurement model at model value f."""
    if ob.measurement == "binomial":
        p = min(max(f, SHARE_EPS), 1 - SHARE_EPS)
        return math.sqrt(p * (1 - p) / ob.n_eff)
    return float(ob.tolerance)


def measurement_interval(ob: Observation, f: float, level: float) -> tuple[float, float]:
    """Central ``level`` interval of the measurement model at model value f."""
    alpha = (1 - level) / 2
    if ob.measurement == "binomial":
        n = max(1, round(ob.n_eff))
        p = min(max(f, 0.0), 1.0)
        return float(stats.binom.ppf(alpha, n, p) / n), float(stats.binom.ppf(1 - alpha, n, p) / n)
    z = float(stats.norm.ppf(1 - alpha))
    return f - z * ob.tolerance, f + z * ob.tolerance


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class ParameterSummary:
    """Prior and posterior of one free parameter."""

    name: str
    low: float
    high: float
    prior: str
    prior_mean: float
    prior_sd: float
    estimate: float
    posterior_mean: float
    posterior_sd: float
    interval: tuple[float, float]
    sd_ratio: float
    pinned: bool


@dataclass
class ObservationFit:
    """One observation against the fit."""

    id: str
    population: str
    year: int
    quantity: str
    of: str
    observed: float
    fitted: float
    fitted_interval: tuple[float, float]
    predictive_interval: tuple[float, float]
    residual: float
    used: bool
    covered: bool
    citation: str

    @property
    def error(self) -> float:
        """Observed minus fitted (at the point estimate)."""
        return self.observed - self.fitted


@dataclass
class Fit:
    """The result of :func:`fit_problem` (see the module docstring)."""

    problem: Problem
    used: np.ndarray
    estimate: np.ndarray
    estimate_concrete: np.ndarray
    estimate_fitted: np.ndarray
    log_posterior: float
    draws: np.ndarray
    draws_concrete: np.ndarray
    draws_fitted: np.ndarray
    predictive: np.ndarray
    ess: float
    stages: list[dict[str, Any]]
    parameters: list[ParameterSummary]
    observations: list[ObservationFit]
    warnings: list[str]
    level: float
    evaluations: int
    seconds: float
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "problem": self.problem.name,
            "method": method_text(self),
            "level": self.level,
            "seed": self.seed,
            "ess": self.ess,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "log_posterior": self.log_posterior,
            "stages": self.stages,
            "parameters": [
                {
                    "name": p.name,
                    "low": p.low,
                    "high": p.high,
                    "prior": p.prior,
                    "prior_sd": p.prior_sd,
                    "estimate": p.estimate,
                    "posterior_mean": p.posterior_mean,
                    "posterior_sd": p.posterior_sd,
                    "interval": list(p.interval),
                    "sd_ratio": p.sd_ratio,
                    "pinned": p.pinned,
                }
                for p in self.parameters
            ],
            "observations": [
                {
                    "id": o.id,
                    "population": o.population,
                    "year": o.year,
                    "quantity": o.quantity,
                    "of": o.of,
                    "observed": o.observed,
                    "fitted": o.fitted,
                    "fitted_interval": list(o.fitted_interval),
                    "predictive_interval": list(o.predictive_interval),
                    "residual": o.residual,
                    "used_in_fit": o.used,
                    "covered": o.covered,
                    "source": o.citation,
                }
                for o in self.observations
            ],
            "warnings": self.warnings,
        }


def method_text(fit: Fit) -> str:
    """One line describing how the posterior was obtained."""
    n = fit.problem.spec.design.points
    return (
        f"SIR: adaptive multiple importance sampling over scrambled Sobol designs "
        f"({len(fit.stages)} stage(s) of {n} points: the prior, then Student-t proposals; "
        f"pooled Kish ESS {fit.ess:.0f}), {len(fit.draws)} equally weighted draws; point "
        "estimate = MAP by Nelder-Mead; expected engine"
    )


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------
def _sobol(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import qmc

    return qmc.Sobol(d, scramble=True, rng=rng).random(n)


def fit_problem(
    problem: Problem,
    used: np.ndarray | None = None,
    progress: Any = None,
) -> Fit:
    """Fit a problem (optionally to a subset ``used`` of its observations).

    Returns
    -------
    Fit
        Point estimate, posterior draws, diagnostics and the fit table.

    Raises
    ------
    ScenarioError
        When no design point gives a valid scenario.
    """
    import time

    t0 = time.perf_counter()
    spec = problem.spec
    design = spec.design
    model = Model(problem)
    pars = model.parameters
    obs = model.observations
    d = len(pars)
    used = np.ones(len(obs), dtype=bool) if used is None else np.asarray(used, dtype=bool)
    used_obs = [o for o, u in zip(obs, used, strict=True) if u]
    priors = [prior_distribution(p) for p in pars]
    lows = np.array([p.low for p in pars])
    highs = np.array([p.high for p in pars])
    root = np.random.SeedSequence(design.seed)
    rng_design, rng_resample, rng_predict = (np.random.default_rng(s) for s in root.spawn(3))

    def log_prior(theta: np.ndarray) -> float:
        if np.any(theta < lows) or np.any(theta > highs):
            return -np.inf
        return float(sum(pr.logpdf(x) for pr, x in zip(priors, theta, strict=True)))

    def log_lik(fitted: np.ndarray | None) -> float:
        if fitted is None:
            return -np.inf
        return float(log_likelihood_terms(used_obs, fitted[used]).sum())

    def evaluate_design(thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fitted = np.full((len(thetas), len(obs)), np.nan)
        concrete = np.full((len(thetas), len(model.written_paths)), np.nan)
        loglik = np.full(len(thetas), -np.inf)
        for k, theta in enumerate(thetas):
            f, c = model.evaluate(theta)
            concrete[k] = c
            if f is not None:
                fitted[k] = f
                loglik[k] = log_lik(f)
            if progress is not None:
                progress(1)
        return fitted, concrete, loglik

    # ---- stage 0: the prior design ----------------------------------------------------------
    u = _sobol(d, design.points, rng_design)
    thetas = np.column_stack([pr.ppf(u[:, j]) for j, pr in enumerate(priors)])
    thetas = np.clip(thetas, lows, highs)
    fitted, concrete, loglik = evaluate_design(thetas)
    logprior = np.array([log_prior(t) for t in thetas])
    logw = loglik.copy()  # proposal = prior
    stages: list[dict[str, Any]] = []
    all_thetas, all_logpost = [thetas], [loglik + logprior]
    if not np.isfinite(loglik).any():
        raise ScenarioError(
            [Issue("parameters", "no design point gives a valid scenario; check the bounds")],
            problem.name,
        )
    ess = _kish(logw)
    stages.append(
        _stage_info(
            "prior",
            np.array([pr.mean() for pr in priors]),
            np.array([pr.std() for pr in priors]),
            ess,
            loglik,
        )
    )

    # ---- point estimate (needed for the refinement box too) ---------------------------------
    def objective(z: np.ndarray) -> float:
        theta = lows + np.clip(z, 0.0, 1.0) * (highs - lows)
        lp = log_prior(theta)
        if not np.isfinite(lp):
            return 1e12
        f, _ = model.evaluate(theta)
        ll = log_lik(f)
        return 1e12 if not np.isfinite(ll) else -(ll + lp)

    def map_estimate() -> tuple[np.ndarray, float]:
        cand = np.concatenate(all_thetas)
        lp = np.concatenate(all_logpost)
        order = np.argsort(-lp)
        starts: list[np.ndarray] = []
        for k in order:
            if not np.isfinite(lp[k]):
                break
            if all(np.max(np.abs(cand[k] - s) / (highs - lows)) > 1e-3 for s in starts):
                starts.append(cand[k])
            if len(starts) >= design.starts:
                break
        best_z, best_v = None, np.inf
        for s in starts:
            z0 = (s - lows) / (highs - lows)
            res = optimize.minimize(
                objective,
                z0,
                method="Nelder-Mead",
                bounds=[(0.0, 1.0)] * d,
                options={
                    "xatol": 1e-5,
                    "fatol": 1e-4,
                    "maxfev": 150 * d + 100,
                    "initial_simplex": _simplex(z0, 0.03),
                },
            )
            if res.fun < best_v:
                best_z, best_v = np.clip(res.x, 0, 1), float(res.fun)
        return lows + best_z * (highs - lows), -best_v

    estimate, log_post_max = map_estimate()

    # ---- refinements: adaptive multiple importance sampling with Student-t proposals -------
    span = highs - lows
    log_span = float(np.sum(np.log(span)))
    z_map = (estimate - lows) / span
    # Pooled design: every evaluated point inside the bounds, from every stage.
    pool_z = [(thetas - lows) / span]
    pool_theta, pool_fitted, pool_concrete = [thetas], [fitted], [concrete]
    pool_loglik, pool_logprior = [loglik], [logprior]
    proposals: list[Any] = [None]  # None = the prior
    sizes = [design.points]

    def pooled_logw() -> np.ndarray:
        """Deterministic-mixture weights: log π(z) L / Σ_s (N_s / N) q_s(z), unit coordinates."""
        z_all = np.concatenate(pool_z)
        lp_unit = np.concatenate(pool_logprior) + log_span
        total = float(sum(sizes))
        comps = []
        for prop, n_s in zip(proposals, sizes, strict=True):
            logq = lp_unit if prop is None else prop.logpdf(z_all)
            comps.append(np.log(n_s / total) + logq)
        log_mix = np.logaddexp.reduce(np.vstack(comps), axis=0)
        return np.concatenate(pool_loglik) + lp_unit - log_mix

    mean, cov = z_map, None
    for _stage in range(design.refinements):
        if ess >= design.min_ess:
            break
        if cov is None:
            cov = PROPOSAL_INFLATION**2 * _laplace_covariance(objective, z_map)
        proposal = stats.multivariate_t(loc=mean, shape=cov, df=PROPOSAL_DF)
        u = _sobol(d + 1, design.points, rng_design)
        z = _t_from_unit(u, mean, cov, PROPOSAL_DF)
        inside = np.all((z >= 0.0) & (z <= 1.0), axis=1)
        z_in = z[inside]
        th = lows + z_in * span
        f_in, c_in, ll_in = evaluate_design(th)
        lp_in = np.array([log_prior(t) for t in th])
        pool_z.append(z_in)
        pool_theta.append(th)
        pool_fitted.append(f_in)
        pool_concrete.append(c_in)
        pool_loglik.append(ll_in)
        pool_logprior.append(lp_in)
        proposals.append(proposal)
        sizes.append(design.points)
        logw = pooled_logw()
        ess = _kish(logw)
        stages.append(
            _stage_info("student-t", mean * span + lows, np.sqrt(np.diag(cov)) * span, ess, ll_in)
            | {"outside_bounds": int((~inside).sum())}
        )
        all_thetas.append(th)
        all_logpost.append(ll_in + lp_in)
        if len(th) and float(np.max(ll_in + lp_in)) > log_post_max + 1e-6:
            estimate, log_post_max = map_estimate()
            z_map = (estimate - lows) / span
        if ess >= MIN_ESS_FOR_COVARIANCE:
            w_pool = _normalised(logw)
            z_all = np.concatenate(pool_z)
            mean = np.sum(w_pool[:, None] * z_all, axis=0)
            dev = z_all - mean
            cov = PROPOSAL_INFLATION**2 * (dev.T * w_pool) @ dev + 1e-12 * np.eye(d)
        else:
            mean, cov = z_map, cov * PROPOSAL_INFLATION**2
    thetas = np.concatenate(pool_theta)
    fitted = np.concatenate(pool_fitted)
    concrete = np.concatenate(pool_concrete)

    # ---- resample -----------------------------------------------------------------------------
    w = _normalised(logw)
    idx = rng_resample.choice(len(w), size=design.draws, replace=True, p=w)
    draws, draws_concrete, draws_fitted = thetas[idx], concrete[idx], fitted[idx]
    est_fitted, est_concrete = model.evaluate(estimate)
    if est_fitted is None:  # pragma: no cover - the estimate was a valid point
        raise ScenarioError([Issue("parameters", "the point estimate is invalid")], problem.name)

    predictive = np.column_stack(
        [_predict(ob, draws_fitted[:, i], rng_predict) for i, ob in enumerate(obs)]
    )
    level = design.level
    q = [(1 - level) / 2, (1 + level) / 2]
    summaries: list[ParameterSummary] = []
    warnings: list[str] = []
    for j, (par, pr) in enumerate(zip(pars, priors, strict=True)):
        post_sd = float(np.sqrt(np.sum(w * (thetas[:, j] - np.sum(w * thetas[:, j])) ** 2)))
        prior_sd = float(pr.std())
        ratio = post_sd / prior_sd if prior_sd > 0 else float("nan")
        pinned = ratio <= NOT_PINNED_RATIO
        lo_q, hi_q = np.quantile(draws[:, j], q)
        summaries.append(
            ParameterSummary(
                name=par.name,
                low=par.low,
                high=par.high,
                prior=_prior_text(par),
                prior_mean=float(pr.mean()),
                prior_sd=prior_sd,
                estimate=float(estimate[j]),
                posterior_mean=float(np.sum(w * thetas[:, j])),
                posterior_sd=post_sd,
                interval=(float(lo_q), float(hi_q)),
                sd_ratio=ratio,
                pinned=pinned,
            )
        )
        if not pinned:
            warnings.append(
                f"{par.name}: the data do not pin it down (posterior sd {post_sd:.3g} is "
                f"{ratio:.2f} of the prior sd {prior_sd:.3g}; rule: > {NOT_PINNED_RATIO}); its "
                "value mostly reflects the prior"
            )
        span = par.high - par.low
        if min(estimate[j] - par.low, par.high - estimate[j]) < 0.01 * span:
            warnings.append(
                f"{par.name}: the point estimate {estimate[j]:.4g} lies at a bound "
                f"[{par.low:g}, {par.high:g}]; the data may want a value outside the bounds"
            )
    if ess < design.min_ess:
        warnings.append(
            f"the pooled importance sample has a Kish ESS of {ess:.1f} (< {design.min_ess:g}); "
            "posterior intervals are rough (raise design.points)"
        )

    residuals = standardised_residuals(obs, est_fitted)
    table: list[ObservationFit] = []
    for i, ob in enumerate(obs):
        f_lo, f_hi = np.quantile(draws_fitted[:, i], q)
        p_lo, p_hi = np.quantile(predictive[:, i], q)
        table.append(
            ObservationFit(
                id=ob.id,
                population=ob.population,
                year=ob.year,
                quantity=ob.quantity,
                of=ob.of,
                observed=ob.value,
                fitted=float(est_fitted[i]),
                fitted_interval=(float(f_lo), float(f_hi)),
                predictive_interval=(float(p_lo), float(p_hi)),
                residual=float(residuals[i]),
                used=bool(used[i]),
                covered=bool(p_lo <= ob.value <= p_hi),
                citation=citation(ob),
            )
        )
    return Fit(
        problem=problem,
        used=used,
        estimate=estimate,
        estimate_concrete=est_concrete,
        estimate_fitted=est_fitted,
        log_posterior=log_post_max,
        draws=draws,
        draws_concrete=draws_concrete,
        draws_fitted=draws_fitted,
        predictive=predictive,
        ess=ess,
        stages=stages,
        parameters=summaries,
        observations=table,
        warnings=warnings,
        level=level,
        evaluations=model.evaluations,
        seconds=time.perf_counter() - t0,
        seed=design.seed,
    )


def backtest(problem: Problem, cutoff: int, progress: Any = None) -> Fit:
    """Fit on the observations of years ≤ ``cutoff``; the later ones are held out.

    Raises
    ------
    ScenarioError
        When either side of the cut-off has no observation.
    """
    years = np.array([o.year for o in problem.observations])
    used = years <= cutoff
    if not used.any() or used.all():
        side = "up to" if not used.any() else "after"
        raise ScenarioError(
            [
                Issue(
                    "--cutoff",
                    f"no observation {side} {cutoff}; observation years are "
                    f"{sorted(set(years.tolist()))}",
                    cutoff,
                )
            ],
            problem.name,
        )
    return fit_problem(problem, used=used, progress=progress)


def _laplace_covariance(objective: Any, z0: np.ndarray) -> np.ndarray:
    """Inverse of the finite-difference Hessian of ``objective`` (−log p) at z0, made positive
    definite (eigenvalues floored so that no sd exceeds 0.5 in unit coordinates)."""
    d = len(z0)
    h = HESSIAN_STEP
    z = np.clip(z0, h, 1 - h)
    f0 = objective(z)
    H = np.empty((d, d))
    e = np.eye(d) * h
    fp = [objective(z + e[i]) for i in range(d)]
    fm = [objective(z - e[i]) for i in range(d)]
    for i in range(d):
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h**2
        for j in range(i):
            fpp = objective(z + e[i] + e[j])
            fmm = objective(z - e[i] - e[j])
            # H_ij from f(z+ei+ej) + f(z-ei-ej) - f(z+ei) - f(z-ei) - f(z+ej) - f(z-ej) + 2 f(z)
            H[i, j] = H[j, i] = (fpp + fmm - fp[i] - fm[i] - fp[j] - fm[j] + 2 * f0) / (2 * h**2)
    if not np.all(np.isfinite(H)) or np.any(np.abs(H) > 1e11):
        return np.eye(d) * 0.25**2
    vals, vecs = np.linalg.eigh(0.5 * (H + H.T))
    vals = np.maximum(vals, 1.0 / 0.5**2)
    return (vecs / vals) @ vecs.T


def _t_from_unit(u: np.ndarray, mean: np.ndarray, cov: np.ndarray, df: float) -> np.ndarray:
    """Map unit-cube points (d + 1 columns) to a multivariate Student-t sample."""
    d = len(mean)
    eps = 1e-12
    z = stats.norm.ppf(np.clip(u[:, :d], eps, 1 - eps))
    g = stats.chi2.ppf(np.clip(u[:, d], eps, 1 - eps), df)
    chol = np.linalg.cholesky(cov)
    return mean + (z @ chol.T) * np.sqrt(df / g)[:, None]


def _predict(ob: Observation, f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if ob.measurement == "binomial":
        n = max(1, round(ob.n_eff))
        return rng.binomial(n, np.clip(f, 0.0, 1.0)) / n
    return f + ob.tolerance * rng.standard_normal(len(f))


def _simplex(z0: np.ndarray, step: float) -> np.ndarray:
    d = len(z0)
    pts = [z0.copy()]
    for j in range(d):
        z = z0.copy()
        z[j] = z[j] + step if z[j] + step <= 1 else z[j] - step
        pts.append(z)
    return np.array(pts)


def _normalised(logw: np.ndarray) -> np.ndarray:
    m = np.max(logw)
    w = np.where(np.isfinite(logw), np.exp(logw - m), 0.0)
    return w / w.sum()


def _kish(logw: np.ndarray) -> float:
    """Kish effective sample size (Σ w)² / Σ w² of importance weights given as logs."""
    if not np.isfinite(logw).any():
        return 0.0
    w = _normalised(logw)
    return float(1.0 / np.sum(w**2))


def _stage_info(
    kind: str, centre: np.ndarray, scale: np.ndarray, ess: float, loglik: np.ndarray
) -> dict[str, Any]:
    """Summary of one design stage (centre and scale in the parameters' units)."""
    return {
        "kind": kind,
        "centre": [float(x) for x in centre],
        "scale": [float(x) for x in scale],
        "ess": ess,
        "invalid_points": int((~np.isfinite(loglik)).sum()),
    }


def _prior_text(par: Parameter) -> str:
    pr = par.prior
    if pr.distribution == "uniform":
        return f"uniform[{par.low:g}, {par.high:g}]"
    if pr.distribution == "beta":
        return f"beta({pr.alpha:g}, {pr.beta:g}) on [{par.low:g}, {par.high:g}]"
    return f"normal({pr.mean:g}, {pr.sd:g}) truncated to [{par.low:g}, {par.high:g}]"


def citation(ob: Observation) -> str:
    """A short citation of an observation's figure."""
    parts = []
    if ob.figure:
        parts.append(f"figure {ob.figure}")
    if ob.source:
        parts.append(ob.source + (f", {ob.locator}" if ob.locator else ""))
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# The calibrated scenario
# --------------------------------------------------------------------------------------------
def calibrated_scenario_data(fit: Fit, problem_ref: str | None = None) -> dict[str, Any]:
    """The calibrated scenario as data: point estimate applied, projection, posterior block.

    Raises
    ------
    ScenarioError
        If the result is not a valid scenario (it always should be).
    """
    problem = fit.problem
    model = Model(problem)
    data, _ = model.data(fit.estimate)
    proj = problem.spec.projection
    if proj.end_year is not None:
        data["end_year"] = proj.end_year
    if proj.name is not None:
        data["name"] = proj.name
    if proj.description is not None:
        data["description"] = proj.description
    # Levers (app, goal seek, reachability) act after the fitting period, never on history.
    last_observed = max(o.year for o in problem.observations)
    if last_observed < data["end_year"]:
        data.setdefault("simulation", {})["levers_from_year"] = last_observed + 1
    if problem.targets:
        sources = data.setdefault("sources", {})
        for sid, src in problem.target_sources.items():
            sources.setdefault(sid, {k: v for k, v in src if v is not None})
        data["targets"] = [{k: v for k, v in t if v is not None} for t in problem.targets]
    # The posterior block holds the paths the engines draw per replication (a deployment pool's
    # odds included); any other written path (the funnel's parameters, a pool's demand or floor,
    # or a policy on them) stays at the point estimate, said in the note.
    keep = [i for i, path in enumerate(model.written_paths) if drawn_per_replication(data, path)]
    paths = [model.written_paths[i] for i in keep]
    data["posterior"] = {
        "method": method_text(fit),
        "problem": problem_ref or (str(problem.path) if problem.path else problem.name),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": paths,
        "draws": [[_round(row[i]) for i in keep] for row in fit.draws_concrete],
        "point": [_point_value(data, path) for path in paths],
        "note": (
            f"Posterior of {len(problem.parameters)} free parameter(s) "
            f"({', '.join(p.name for p in problem.parameters)}) fitted to "
            f"{int(fit.used.sum())} published figure(s); the scenario's own values at these "
            "paths are the point estimate (MAP). Multipliers are stored as the values they "
            "imply at each path. See docs/calibration.md."
            + _channel_note(problem, fit)
            + _fixed_note(model, keep, data)
        ),
    }
    s = parse_scenario(copy.deepcopy(data), source="calibrated scenario")
    compile_scenario(s)
    return data


def _fixed_note(model: Model, keep: list[int], data: dict[str, Any]) -> str:
    """The note's sentence on written paths the engines cannot draw per replication."""
    kept = set(keep)
    fixed = [p for i, p in enumerate(model.written_paths) if i not in kept]
    if not fixed:
        return ""
    values = ", ".join(f"{p} = {_point_value(data, p):.4g}" for p in fixed)
    where = ", ".join(ENGINE_SECTIONS) + " and a deployment pool's women_odds"
    if any(parse_path(p)[0] in ENGINE_SECTIONS for p in fixed):  # a funnel or pool policy
        where += "; or a policy on the funnel or a pool's demand or floor"
    return (
        " Fitted values the engines take as the same in every replication (outside "
        f"{where}) are held at the point estimate and are not in this "
        f"block, so projections do not carry their uncertainty: {values}."
    )


def _channel_note(problem: Problem, fit: Fit) -> str:
    """The note's sentence on parameters that write only to the problem's channels."""
    names = [
        (j, p.name)
        for j, p in enumerate(problem.parameters)
        if all(is_channel_path(parse_path(x)) for x in [*p.paths, *(p.complement or [])])
    ]
    if not names:
        return ""
    values = ", ".join(f"{n} = {fit.estimate[j]:.4g}" for j, n in names)
    return (
        " Parameters of the problem's channels (entry routes counted by published figures but "
        f"not modelled by the scenario) are not in this block: MAP {values}."
    )


def check_posterior_draws(data: dict[str, Any]) -> list[Issue]:
    """Validate every posterior draw of a calibrated scenario (each must make a valid one)."""
    post = data["posterior"]
    steps = [parse_path(p) for p in post["parameters"]]
    issues: list[Issue] = []
    base = {k: v for k, v in data.items() if k != "posterior"}
    for r, row in enumerate(post["draws"]):
        d = copy.deepcopy(base)
        for st, v in zip(steps, row, strict=True):
            set_path(d, st, v)
        try:
            compile_scenario(parse_scenario(d))
        except ScenarioError as exc:
            issues.append(Issue(f"posterior.draws[{r}]", f"invalid scenario: {exc.issues[0]}"))
    return issues


def _point_value(data: dict[str, Any], path: str) -> float:
    """The point estimate's value at a written path (what ``posterior.point`` records)."""
    container, key = resolve_slot(data, parse_path(path))
    return float(container[key])


def _round(v: float) -> float:
    return float(f"{float(v):.8g}")


def write_scenario(data: dict[str, Any], path: Path, header: str = "") -> None:
    """Write scenario data as TOML (tomli_w), with an optional comment header."""
    import tomli_w

    text = tomli_w.dumps(_toml_ready(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + text, encoding="utf-8")


def _toml_ready(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _toml_ready(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple):
        return [_toml_ready(x) for x in v]
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v
