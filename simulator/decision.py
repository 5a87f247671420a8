"""Decision support: goal seek, reachability bound, gap decomposition, scenario comparison.

Everything here builds *variants* of a validated scenario (new scenario data, re-validated by
:func:`simulator.scenario.parse_scenario`) and runs the ordinary engines on them; the scenario
passed in is never changed.

Levers
------
A lever is one number that a decision maker controls. Named levers add a dated policy (appended
after the scenario's own policies, so it overrides them from ``from_year`` on and leaves the
history before that year intact):

* ``intake_women_share`` — ``recruitment.women_share`` set to x, range [0, 1];
* ``promotion_floor:<grade>`` — ``promotion.women_floor`` of the vacancy step into <grade>,
  [0, 1] (rate-mode steps have no floor: an error);
* ``women_odds:<grade>`` — ``promotion.women_odds`` of the step into <grade>, [0.1, 10]; for a
  rate-mode step, without an explicit range the upper end is lowered to the largest odds that
  keep ``attrition + promotion ≤ 1`` in the grade below (the odds raise women's promotion
  probability: ``p_w = ω p / (1 − p + ω p)``);
* ``women_attrition_multiplier[:<grade>]`` — ``attrition`` scaled by x for women (all grades,
  or one grade or group), [0.2, 1.5]; without an explicit range the upper end is lowered to
  the largest factor that keeps ``attrition + promotion ≤ 1`` (a pipeline grade that everyone
  leaves within the year has no room above 1);
* ``lateral_share:<grade>[:<women share>]`` — ``promotion.lateral_share`` of a vacancy step,
  [0, 1]; the lateral hires' women's share is the step's own ``lateral_women_share`` or the
  value given after the second colon;
* ``lateral_women_share:<grade>`` — ``promotion.lateral_women_share`` of a vacancy step, [0, 1].

``path=<parameter path>`` (syntax of :mod:`simulator.paths`) sets any number in the scenario
data for the whole horizon; it needs an explicit range.

Goal seek (:func:`solve`)
-------------------------
For a one-sided target condition (``at_least`` / ``at_most``) the set of lever values that
meet it is, for a monotone response, an interval touching one end of the range (the
*favourable* end, found by evaluating both ends). The answer is its inner boundary, the
*threshold*: "intake share ≥ 32.68 %" or "attrition multiplier ≤ 0.71".

* **In expectation** (``probability=None``): the margin ``m(x) = share(x) - v`` (at_least) or
  ``v - share(x)`` (at_most) of the expected-engine share at the deadline (for ``sustained``
  targets the minimum margin from the deadline to the end) is continuous in the lever; its
  root is found by Brent's method (:func:`scipy.optimize.brentq`, ``xtol``). ``horizon =
  "steady"`` uses the steady state (:func:`simulator.analytics.steady_state`) instead of the
  deadline. For ``between`` each bound is solved on its own and the met sets intersected; the
  answer is the smallest value inside the band.
* **With a probability** p: ``P(x)`` = share of R stochastic replications that meet the target,
  all with the same root seed (common random numbers: each replication sees the same random
  streams at every x, so ``P`` is a step function of x, monotone in practice). Bisection
  between an end where ``P < p`` and one where ``P ≥ p`` until the bracket is narrower than
  ``tol``; the answer is the bracket's met end, reported with ``P`` and its Wilson 95 %
  interval there and ``P`` at the other end. ``between``: an 11-point grid from the low end
  finds the first met point, then bisection. **Monte Carlo uncertainty of the answer**: the
  search is repeated with ``uncertainty_seeds`` independent root seeds (derived from the seed
  by ``SeedSequence``); their answers' standard deviation and range are reported.
* "Not reachable" is an answer: the value at the favourable end is reported, with the reason
  (no effect by the deadline, or the best-case bound of :func:`reachability`).

Reachability (:func:`reachability`)
-----------------------------------
The scenario with every *controllable flow* given to women from the scenario's first lever
year (``simulation.levers_from_year``, default ``start_year + 1``): intake
women's share 1 (with a conscription funnel: every fit woman volunteers, every woman completer
signs a contract and no man does) and lateral hires' women's share 1; and for each vacancy
step the best of
four allocation rules — **women first** (every promotion to a woman as far as eligible women
exist: ``women_floor = 1``, ``when_floor_short = "fill_with_men"``), **from outside** (every
vacancy filled by lateral entry, all women; only for steps that recruit laterally in some year
— a closed career grade stays closed), **as in the scenario**, or **men first** (floor
0, women's odds 10⁻⁴) — judged by the expected share at the deadline (all 4^V combinations
for V ≤ 4 vacancy steps, else the four uniform ones). What the bound does *not* move:
attrition and rate-mode promotion probabilities (retention and rate levers such as
``women_attrition_multiplier`` can beat it; "not reachable" means not by allocating flows).
Women first is not always best: promoting women into a grade where they leave faster can
lower a population's share (e.g. the whole workforce). Establishments, minimum years in grade,
attrition and rate-mode promotions (probabilities, not allocations) are unchanged.
For ``at_most`` targets the mirror bound (all to men, lowest share) is used; for ``between``
both. Run on the expected engine (optionally also stochastic). The bound is the best of these
policies, not a proof of optimality over every conceivable allocation; the tests check it
against every lever variant they try.

Gap decomposition (:func:`decompose`)
-------------------------------------
Three lever groups are switched between the scenario and a **gender-neutral counterpart**:

* ``recruitment``: intake women's share = the women's share of the entry grade at the start;
  each vacancy step's lateral women's share = that grade's women's share at the start;
* ``attrition``: women's attrition = men's (profiles and policies: women-only attrition
  policies are dropped, men-only ones apply to both sexes);
* ``promotion``: women's rate-mode probability = men's (capped at 1 minus the women's largest
  attrition in that grade in the same variant, so that attrition + promotion ≤ 1 still holds,
  e.g. where everyone leaves a pipeline grade within the year), women's odds 1, no floors (and
  the same for promotion policies).

With ``v(S)`` the expected-engine share at the year when the groups in S are as in the scenario
and the others neutral, **inertia** = ``v(∅) - share(start)`` (what the starting structure alone
produces) and each group's term is its Shapley value in the game ``v(S) - v(∅)``
(2³ = 8 expected runs). The terms add up exactly to ``v(all) - share(start)``, the projected
change. :func:`waterfall_data` turns the table into the steps of a waterfall chart (data only).

Comparison (:func:`compare`)
----------------------------
Each scenario is run with the same replications and root seed (common random numbers). Per
target: expected share, P(met) with its Wilson interval, median share at the deadline. For each
scenario B against the first, A: the **paired** mean difference of the share at the deadline
with a normal interval ``d̄ ± 1.96 s_d / √R`` over the per-replication differences, and the
difference of P(met) with **Newcombe's hybrid score interval for paired proportions**
(Newcombe 1998, method 10: Wilson limits of each margin combined with the correlation φ of
the paired outcomes). :func:`diff_assumptions` lists every field that differs in
:func:`~simulator.scenario.scenario_to_data` as ``path: A value → B value`` in parameter-path
syntax (list items by ``id`` / ``grade`` / ``to`` where they have one).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize

from simulator.analytics import steady_state
from simulator.api import run
from simulator.compiled import MODE_VACANCY, Compiled, compile_scenario, without_rate_odds
from simulator.errors import Issue, ScenarioError
from simulator.paths import parse_path, resolve_slot, set_path
from simulator.results import Result
from simulator.rng import SEED_LIMIT, SEED_RANGE
from simulator.scenario import MAX_REPLICATIONS, Scenario, Target, parse_scenario, scenario_to_data
from simulator.targets import Z95, condition_met, wilson_interval

LEVER_POLICY_ID = "decision-lever"
_ASSUMPTION = "added by parity decision support"

#: Named levers: (policy parameter, default range, needs a grade, description).
LEVERS: dict[str, tuple[str, tuple[float, float], str, str]] = {
    "intake_women_share": (
        "recruitment.women_share",
        (0.0, 1.0),
        "none",
        "women's share of intake",
    ),
    "promotion_floor": (
        "promotion.women_floor",
        (0.0, 1.0),
        "required",
        "floor on women's share of promotions",
    ),
    "women_odds": ("promotion.women_odds", (0.1, 10.0), "required", "women's promotion odds"),
    "women_attrition_multiplier": (
        "attrition",
        (0.2, 1.5),
        "optional",
        "multiplier of women's attrition",
    ),
    "lateral_share": (
        "promotion.lateral_share",
        (0.0, 1.0),
        "required",
        "share of vacancies filled laterally",
    ),
    "lateral_women_share": (
        "promotion.lateral_women_share",
        (0.0, 1.0),
        "required",
        "women's share of lateral hires",
    ),
    # Conscription funnel and deployment pools (scenarios with [conscription] / [[deployments]]).
    "women_volunteer_share": (
        "conscription.volunteer_share",
        (0.0, 1.0),
        "none",
        "share of fit women who volunteer",
    ),
    "women_contract_share": (
        "conscription.contract_share",
        (0.0, 1.0),
        "none",
        "share of women completers who sign a contract",
    ),
    "conscription_places_multiplier": (
        "conscription.places",
        (0.5, 3.0),
        "none",
        "multiplier of conscription places",
    ),
    "deployment_women_floor": (
        "deployment.women_floor",
        (0.0, 1.0),
        "pool",
        "floor on women's share of the deployed",
    ),
}
#: Levers that change women's value only (a policy with ``sexes = ["women"]``).
WOMEN_ONLY = {"women_attrition_multiplier", "women_volunteer_share", "women_contract_share"}
#: Levers that scale the parameter instead of setting it.
SCALING = {"women_attrition_multiplier", "conscription_places_multiplier"}
#: Levers that need a conscription funnel or deployment pools in the scenario.
NEEDS = {
    "women_volunteer_share": "conscription",
    "women_contract_share": "conscription",
    "conscription_places_multiplier": "conscription",
    "deployment_women_floor": "deployments",
}
ALLOWED_LEVERS = (
    "intake_women_share, promotion_floor:<grade>, women_odds:<grade>, "
    "women_attrition_multiplier[:<grade>], lateral_share:<grade>[:<women share>], "
    "lateral_women_share:<grade>, women_volunteer_share, women_contract_share, "
    "conscription_places_multiplier, deployment_women_floor[:<pool>], "
    "path=<parameter path> (with a range)"
)


def _err(path: str, message: str, value: Any = None) -> ScenarioError:
    return ScenarioError([Issue(path, message, value)])


# ============================================================================================
# Levers
# ============================================================================================
@dataclass(frozen=True)
class Lever:
    """A lever resolved against a scenario (see module docstring).

    Attributes
    ----------
    spec
        As given, e.g. ``promotion_floor:police_leaders``.
    kind
        The named lever (``intake_women_share`` …) or ``path``.
    lo, hi
        The search range.
    from_year
        First year the lever's value is in force (named levers).
    grade, path, lateral_women_share
        The grade (or group) it applies to, the parameter path (``path`` levers), and for
        ``lateral_share`` the lateral hires' women's share.
    """

    spec: str
    kind: str
    lo: float
    hi: float
    from_year: int
    grade: str | None = None
    path: str | None = None
    lateral_women_share: float | None = None

    @property
    def label(self) -> str:
        """Readable name, e.g. 'floor on women's share of promotions into police_leaders'."""
        if self.kind == "path":
            return str(self.path)
        what = LEVERS[self.kind][3]
        if self.grade is None:
            return what
        prep = "in" if self.kind == "women_attrition_multiplier" else "into"
        return f"{what} {prep} {self.grade}"

    def apply(self, scenario: Scenario, value: float) -> Scenario:
        """Return the scenario with the lever at ``value`` (re-validated)."""
        return parse_scenario(self.apply_data(scenario_to_data(scenario), value), scenario.name)

    def apply_data(self, data: dict[str, Any], value: float) -> dict[str, Any]:
        """Return a copy of scenario data with the lever at ``value``."""
        data = copy.deepcopy(data)
        value = float(value)
        if self.kind == "path":
            set_path(data, parse_path(str(self.path)), value)
            return data
        parameter = LEVERS[self.kind][0]
        policies = list(data.get("policies", []))
        ids = {p.get("id") for p in policies}
        pid = LEVER_POLICY_ID
        while pid in ids:
            pid += "-x"
        pol: dict[str, Any] = {
            "id": pid,
            "parameter": parameter,
            "from_year": self.from_year,
            "assumption": f"{_ASSUMPTION}: {self.label} = {value:g} from {self.from_year}",
        }
        pol["scale" if self.kind in SCALING else "set"] = value
        if self.kind in WOMEN_ONLY:
            pol["sexes"] = ["women"]
        if self.grade is not None:
            pol["deployments" if LEVERS[self.kind][2] == "pool" else "grades"] = [self.grade]
        policies.append(pol)
        if self.kind == "lateral_share" and self.lateral_women_share is not None:
            policies.append(
                {
                    "id": pid + "-women",
                    "parameter": "promotion.lateral_women_share",
                    "from_year": self.from_year,
                    "set": self.lateral_women_share,
                    "grades": [self.grade],
                    "assumption": f"{_ASSUMPTION}: women's share of lateral hires",
                }
            )
        data["policies"] = policies
        return data


def make_lever(
    scenario: Scenario,
    spec: str,
    value_range: tuple[float, float] | None = None,
    from_year: int | None = None,
) -> Lever:
    """Resolve a lever spec against a scenario.

    Raises
    ------
    ScenarioError
        Naming the field (``lever``, ``lever.range``, ``lever.from_year``) and the allowed values.
    """
    s = scenario
    steps = {p.to: p for p in s.promotions}
    if not isinstance(spec, str) or not spec.strip():
        raise _err("lever", f"give a lever: one of {ALLOWED_LEVERS}", spec)
    spec = spec.strip()
    if spec.startswith("path="):
        path = spec[len("path=") :]
        try:
            _container, _key = resolve_slot(scenario_to_data(s), parse_path(path))
        except ValueError as exc:
            raise _err("lever", f"bad parameter path: {exc}", path) from None
        if value_range is None:
            raise _err("lever.range", "a path lever needs an explicit range LO HI", None)
        if from_year is not None:
            raise _err(
                "lever.from_year",
                "a path lever sets the value for the whole horizon; use a named lever "
                f"({ALLOWED_LEVERS}) to change a value from a year",
                from_year,
            )
        lo, hi = _check_range(value_range, (-math.inf, math.inf))
        return Lever(spec, "path", lo, hi, s.first_lever_year, path=path)
    parts = spec.split(":")
    kind, args = parts[0], parts[1:]
    if kind not in LEVERS:
        raise _err("lever", f"unknown lever; use one of {ALLOWED_LEVERS}", spec)
    _, default_range, needs_grade, _ = LEVERS[kind]
    if kind in NEEDS and not getattr(s, NEEDS[kind], None):
        raise _err("lever", f"{kind} needs a [{NEEDS[kind]}] block in the scenario", spec)
    max_args = 2 if kind == "lateral_share" else (0 if needs_grade == "none" else 1)
    if len(args) > max_args or (needs_grade == "required" and not args):
        form = {
            "none": kind,
            "required": f"{kind}:<grade>",
            "optional": f"{kind} or {kind}:<grade>",
        }[needs_grade]
        if kind == "lateral_share":
            form = "lateral_share:<grade> or lateral_share:<grade>:<women share>"
        raise _err("lever", f"write it as {form}", spec)
    grade = args[0] if args else None
    lateral_w = None
    if needs_grade == "pool":
        pools = [d.id for d in s.deployments]
        if grade is not None and grade not in pools:
            raise _err("lever", f"unknown deployment pool {grade!r}; use one of {pools}", spec)
    elif grade is not None:
        allowed = s.grade_ids + (sorted(s.groups) if kind == "women_attrition_multiplier" else [])
        if grade not in allowed:
            raise _err("lever", f"unknown grade {grade!r}; use one of {allowed}", spec)
    if kind in ("promotion_floor", "women_odds", "lateral_share", "lateral_women_share"):
        step = steps.get(grade)
        if step is None:
            raise _err(
                "lever",
                f"{grade!r} has no promotion step (the entry grade is filled by recruitment); "
                f"steps go into {sorted(steps)}",
                spec,
            )
        if kind != "women_odds" and step.mode != "vacancy":
            raise _err(
                "lever",
                f"{kind} applies to vacancy-mode steps; the step into {grade!r} is rate mode "
                f"(use women_odds:{grade}); vacancy steps: "
                f"{sorted(t for t, p in steps.items() if p.mode == 'vacancy')}",
                spec,
            )
        if kind == "lateral_share":
            if len(args) == 2:
                try:
                    lateral_w = float(args[1])
                except ValueError:
                    lateral_w = math.nan
                if not 0.0 <= lateral_w <= 1.0:
                    raise _err("lever", "the lateral women's share must be from 0 to 1", args[1])
            elif step.lateral_women_share is None:
                raise _err(
                    "lever",
                    f"the step into {grade!r} has no lateral_women_share; give it as "
                    f"lateral_share:{grade}:<women share>",
                    spec,
                )
    lo, hi = _check_range(value_range or default_range, default_range)
    fy = s.first_lever_year if from_year is None else int(from_year)
    if not s.start_year + 1 <= fy <= s.end_year:
        raise _err(
            "lever.from_year", f"must be a year from {s.start_year + 1} to {s.end_year}", from_year
        )
    top = None
    if kind == "women_attrition_multiplier" and value_range is None:
        top = _max_attrition_multiplier(s, grade, fy)
    if kind == "women_odds" and value_range is None and steps[grade].mode != "vacancy":
        top = _max_rate_odds(s, grade, fy)
    if top is not None:
        if top <= lo:
            where = f"the grade below {grade}" if kind == "women_odds" else (grade or "a grade")
            raise _err(
                "lever",
                f"no room for {spec}: attrition + promotion already reach 1 in {where} at the "
                f"lowest value of its range, {lo:g} (the largest valid value is {top:g})",
                spec,
            )
        hi = min(hi, top)
    return Lever(spec, kind, lo, hi, fy, grade=grade, lateral_women_share=lateral_w)


def _parameter_sets(s: Scenario) -> list[Compiled]:
    """The compiled point and, with a posterior, every draw: a lever's bound must hold for
    each parameter set a run may use."""
    from simulator.posterior import compile_draws

    point = compile_scenario(s)
    return [point, *(compile_draws(s, point) if s.posterior is not None else [])]


def _bound(room: float) -> float:
    """A lever's largest valid value, floored to 10⁻⁶ (a value within 10⁻¹² of the grid point
    above is that point: 1 − 10⁻¹⁶ is 1, so a scenario's own odds of 1 stay in range)."""
    return float(math.floor(room * 1e6 + 1e-6) / 1e6) if math.isfinite(room) else math.inf


def _max_rate_odds(s: Scenario, grade: str, from_year: int) -> float:
    """Largest women's odds for the rate-mode step into ``grade`` that keep the grade below's
    ``a + p_w ≤ 1`` from ``from_year`` on, where ``p_w = ω p / (1 − p + ω p)``
    (:func:`~simulator.compiled.with_rate_odds`): ``ω ≤ r (1 − p) / (p (1 − r))`` with
    ``r = 1 − a`` (no bound where a = 0 or p = 0). The scenario's own odds are taken out of
    its compiled p first; the bound holds for the point and every posterior draw."""
    g = s.grade_ids.index(grade)
    room = math.inf
    for c in _parameter_sets(s):
        t = c.years >= from_year
        p = without_rate_odds(c.promote_out[t, g - 1, 0, :], c.women_odds[t, g][:, None])
        r = 1.0 - c.attrition[t, g - 1, 0, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = np.where((p > 0) & (r < 1), r * (1 - p) / (p * (1 - r)), np.inf)
        room = min(room, float(ok.min()))
    return _bound(room)


def _max_attrition_multiplier(s: Scenario, grade: str | None, from_year: int) -> float:
    """Largest factor on women's attrition that keeps ``a ≤ 1`` and ``a + p ≤ 1`` everywhere,
    for the point and every posterior draw."""
    room = math.inf
    for c in _parameter_sets(s):
        t = c.years >= from_year
        mask = c.populations[grade] if grade is not None else np.ones(c.n_grades, bool)
        a = c.attrition[t][:, mask, 0, :]
        p = c.promote_out[t][:, mask, 0, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = np.where(a > 0, (1.0 - p) / np.where(a > 0, a, 1.0), np.inf)
        room = min(room, float(ok.min()))
    return _bound(room)


def _check_range(
    value_range: tuple[float, float], allowed: tuple[float, float]
) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise _err("lever.range", "give two numbers LO HI", value_range) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise _err("lever.range", "needs finite LO < HI", [lo, hi])
    if lo < allowed[0] or hi > allowed[1]:
        raise _err(
            "lever.range",
            f"must lie within [{allowed[0]:g}, {allowed[1]:g}] for this lever",
            [lo, hi],
        )
    return lo, hi


# ============================================================================================
# Targets
# ============================================================================================
def get_target(scenario: Scenario, target_id: str | None) -> Target:
    """The target with this id (the first target when ``None``)."""
    ids = [t.id for t in scenario.targets]
    if not ids:
        raise _err("targets", "the scenario has no targets", None)
    if target_id is None:
        return scenario.targets[0]
    for t in scenario.targets:
        if t.id == target_id:
            return t
    raise _err("target", f"unknown target; the scenario has {ids}", target_id)


Bound = tuple[Literal["ge", "le"], float]


def _bounds(target: Target) -> list[Bound]:
    if target.comparator == "at_least":
        return [("ge", float(target.value))]
    if target.comparator == "at_most":
        return [("le", float(target.value))]
    return [("ge", float(target.low)), ("le", float(target.high))]


def _margin(share: np.ndarray, bound: Bound, di: int, sustained: bool) -> float:
    """Margin of an expected path against one bound (≥ 0: met)."""
    window = share[di:] if sustained else share[di : di + 1]
    kind, v = bound
    m = window - v if kind == "ge" else v - window
    if np.isnan(m).any():
        return -math.inf
    return float(m.min())


# ============================================================================================
# Goal seek
# ============================================================================================
@dataclass
class SolveResult:
    """Answer of :func:`solve` (``to_dict`` is JSON-ready)."""

    target: str
    lever: str
    lever_label: str
    method: str
    status: Literal["solved", "met_throughout", "not_reachable"]
    value: float | None
    direction: Literal["at_least", "at_most", "between"] | None
    bracket: list[float] | None
    range: list[float]
    from_year: int | None
    why: str
    probability: float | None = None
    probability_ci: list[float] | None = None
    probability_not_met: float | None = None
    replications: int | None = None
    seed: int | None = None
    expected_share: float | None = None
    evaluations: list[dict[str, float]] = field(default_factory=list)
    monotone_violations: int | None = None
    uncertainty: dict[str, Any] | None = None
    met_interval: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


class _Evaluator:
    """Evaluate a lever value on the expected or the stochastic engine (cached)."""

    def __init__(self, scenario: Scenario, target: Target, lever: Lever) -> None:
        self.scenario, self.target, self.lever = scenario, target, lever
        self.data = scenario_to_data(scenario)
        self.di = target.deadline - scenario.start_year
        self._cache: dict[float, Any] = {}

    def compiled(self, x: float):
        try:
            s = parse_scenario(self.lever.apply_data(self.data, x), self.scenario.name)
            return compile_scenario(s)
        except ScenarioError as exc:
            raise ScenarioError(
                [
                    Issue("lever", f"{self.lever.spec} = {x:g} makes the scenario invalid: {i}")
                    for i in exc.issues
                ]
            ) from None

    def expected_share(self, x: float, horizon: str = "deadline") -> np.ndarray:
        key = ("e", horizon, x)
        if key not in self._cache:
            c = self.compiled(x)
            if horizon == "steady":
                ss = steady_state(c)
                stock = ss["stock"]
                mask = c.populations[self.target.population]
                w, t = stock[mask, 0].sum(), stock[mask].sum()
                path = np.array([w / t if t > 0 else np.nan])
            else:
                path = run(c, "expected").share(self.target.population)[0]
            self._cache[key] = path
        return self._cache[key]

    def met(self, x: float, reps: int, seed: int) -> np.ndarray:
        key = ("s", reps, seed, x)
        if key not in self._cache:
            res = run(self.compiled(x), "stochastic", reps, seed)
            ok = condition_met(self.target, res.share(self.target.population))
            self._cache[key] = ok[:, self.di :].all(1) if self.target.sustained else ok[:, self.di]
        return self._cache[key]


def solve(
    scenario: Scenario,
    target_id: str | None,
    lever: str | Lever,
    probability: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    lo: float | None = None,
    hi: float | None = None,
    tol: float | None = None,
    from_year: int | None = None,
    horizon: Literal["deadline", "steady"] = "deadline",
    uncertainty_seeds: int = 4,
) -> SolveResult:
    """Goal seek: the lever value at which the target is met (see module docstring).

    Parameters
    ----------
    scenario, target_id
        The scenario and the id of one of its targets (``None``: the first).
    lever
        A lever spec (``intake_women_share``, ``promotion_floor:<grade>``, ``path=...``) or a
        :class:`Lever`.
    probability
        ``None``: in expectation (expected engine, Brent's method). A number in (0, 1): the
        target must be met with at least this probability (stochastic engine, CRN bisection).
    replications, seed
        Stochastic engine (defaults: the scenario's ``[simulation]``).
    lo, hi
        The search range (default: the lever's range).
    tol
        Width of the final bracket (default 1e-6 of the range in expectation, 1e-3 of it with
        a probability).
    from_year
        First year of the lever's value (named levers; default ``start_year + 1``).
    horizon
        ``"steady"``: in expectation, the steady state under the last year's parameters
        replaces the deadline.
    uncertainty_seeds
        With a probability: the search is repeated with this many independent seeds to
        measure the Monte Carlo uncertainty of the answer (0: skip).
    """
    target = get_target(scenario, target_id)
    rng = None if lo is None and hi is None else (lo, hi)
    if rng is not None and (lo is None or hi is None):
        raise _err("lever.range", "give both LO and HI", [lo, hi])
    lv = lever if isinstance(lever, Lever) else make_lever(scenario, lever, rng, from_year)
    if isinstance(lever, Lever) and rng is not None:
        lv = Lever(
            lv.spec,
            lv.kind,
            *_check_range(rng, (-math.inf, math.inf)),
            lv.from_year,
            lv.grade,
            lv.path,
            lv.lateral_women_share,
        )
    if horizon not in ("deadline", "steady"):
        raise _err("horizon", "use 'deadline' or 'steady'", horizon)
    if horizon == "steady" and target.population == "intake":
        raise _err(
            "horizon", "the steady state has no intake population; use the deadline", horizon
        )
    if tol is not None and not 0.0 < float(tol) < (lv.hi - lv.lo) / 2:
        raise _err(
            "tol",
            f"must be above 0 and below half the lever's range ({(lv.hi - lv.lo) / 2:g})",
            tol,
        )
    ev = _Evaluator(scenario, target, lv)
    if probability is None:
        return _solve_expected(ev, tol, horizon)
    if horizon != "deadline":
        raise _err(
            "horizon", "a probability applies at the deadline; use horizon 'deadline'", horizon
        )
    if not 0.0 < float(probability) < 1.0:
        raise _err("probability", "must be between 0 and 1 (exclusive)", probability)
    reps = scenario.simulation.replications if replications is None else int(replications)
    if not 1 <= reps <= MAX_REPLICATIONS:
        raise _err("replications", f"must be between 1 and {MAX_REPLICATIONS}", reps)
    root = scenario.simulation.seed if seed is None else int(seed)
    if not 0 <= root < SEED_LIMIT:
        raise _err("seed", f"must be {SEED_RANGE}", root)
    if uncertainty_seeds < 0 or uncertainty_seeds > 50:
        raise _err("uncertainty_seeds", "must be from 0 to 50", uncertainty_seeds)
    out = _solve_probability(ev, float(probability), reps, root, tol)
    if uncertainty_seeds and out.status == "solved":
        values = []
        for extra in _independent_seeds(root, uncertainty_seeds):
            r = _solve_probability(ev, float(probability), reps, extra, tol)
            values.append(r.value if r.status == "solved" else math.nan)
        arr = np.array([out.value, *values], dtype=float)
        fin = arr[np.isfinite(arr)]
        out.uncertainty = {
            "method": f"re-solved with {uncertainty_seeds} independent seeds "
            f"({reps} replications each)",
            "seeds": [root, *_independent_seeds(root, uncertainty_seeds)],
            "values": [None if not math.isfinite(v) else float(v) for v in arr],
            "sd": float(np.std(fin, ddof=1)) if fin.size > 1 else None,
            "min": float(fin.min()),
            "max": float(fin.max()),
        }
    return out


def _independent_seeds(root: int, n: int) -> list[int]:
    ss = np.random.SeedSequence(root, spawn_key=(0x5EED,))
    state = ss.generate_state(2 * n, dtype=np.uint64)
    return [int(state[2 * i]) << 64 | int(state[2 * i + 1]) for i in range(n)]


def _fmt(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.2f} %"


def _lever_value_text(lv: Lever, x: float) -> str:
    if lv.kind in ("women_odds", "women_attrition_multiplier", "path"):
        return f"{x:.4g}"
    return f"{100 * x:.4g} %"


def _no_effect_or_bound(
    ev: _Evaluator, x_best: float, share_best: float, share_other: float, when: str
) -> str:
    tgt, lv = ev.target, ev.lever
    text = (
        f"with {lv.label} = {_lever_value_text(lv, x_best)} the expected {tgt.population} share "
        f"{when} is {_fmt(share_best)} (target: {tgt.describe()})"
    )
    if abs(share_best - share_other) < 1e-9:
        text += (
            f"; the lever does not change it at all by then: those its change affects from "
            f"{lv.from_year} cannot reach {tgt.population} in time (minimum years in grade, "
            "length of the pipeline)"
        )
    if when != "at steady state":
        try:
            rb = reachability(ev.scenario, tgt.id)
            text += (
                f"; even with every controllable flow to "
                f"{'men' if tgt.comparator == 'at_most' else 'women'} it would be "
                f"{_fmt(rb.value)} ({'reachable' if rb.reachable else 'not reachable'} "
                "by allocating intake, lateral entry and vacancy promotions; retention and "
                "rate-mode promotion levers are outside this bound)"
            )
        except ScenarioError:
            pass
    return text


def _solve_expected(ev: _Evaluator, tol: float | None, horizon: str) -> SolveResult:
    lv, tgt = ev.lever, ev.target
    di = 0 if horizon == "steady" else ev.di
    sustained = tgt.sustained and horizon != "steady"
    xtol = (lv.hi - lv.lo) * 1e-6 if tol is None else float(tol)
    when = "at steady state" if horizon == "steady" else f"in {tgt.deadline}"
    evaluations: list[dict[str, float]] = []

    def share_at(x: float) -> float:
        s = float(ev.expected_share(x, horizon)[di])
        evaluations.append({"value": float(x), "expected_share": s})
        return s

    def margin(x: float, b: Bound) -> float:
        return _margin(ev.expected_share(x, horizon), b, di, sustained)

    s_lo, s_hi = share_at(lv.lo), share_at(lv.hi)
    intervals = []
    for b in _bounds(tgt):
        m_lo, m_hi = margin(lv.lo, b), margin(lv.hi, b)
        if m_lo < 0 and m_hi < 0:
            intervals.append(None)
        elif m_lo >= 0 and m_hi >= 0:
            intervals.append((lv.lo, lv.hi))
        else:
            root = optimize.brentq(
                lambda x, b=b: margin(x, b), lv.lo, lv.hi, xtol=xtol, rtol=4 * np.finfo(float).eps
            )
            # the met side of the root, within xtol
            met_side = (
                root
                if margin(root, b) >= 0
                else (min(root + xtol, lv.hi) if m_hi >= 0 else max(root - xtol, lv.lo))
            )
            intervals.append((met_side, lv.hi) if m_hi >= 0 else (lv.lo, met_side))
    common = dict(
        target=tgt.id,
        lever=lv.spec,
        lever_label=lv.label,
        method="expected engine, Brent root of the margin"
        + (" at steady state" if horizon == "steady" else f" at {tgt.deadline}"),
        range=[lv.lo, lv.hi],
        from_year=None if lv.kind == "path" else lv.from_year,
    )
    if any(iv is None for iv in intervals) or (
        len(intervals) == 2
        and max(intervals[0][0], intervals[1][0]) > min(intervals[0][1], intervals[1][1])
    ):
        best_x = lv.hi if abs(s_hi - _goal(tgt)) <= abs(s_lo - _goal(tgt)) else lv.lo
        best_s, other_s = (s_hi, s_lo) if best_x == lv.hi else (s_lo, s_hi)
        return SolveResult(
            status="not_reachable",
            value=None,
            direction=None,
            bracket=None,
            why="not reachable within the lever's range: "
            + _no_effect_or_bound(ev, best_x, best_s, other_s, when),
            expected_share=best_s,
            evaluations=_sorted(evaluations),
            **common,
        )
    a = max(iv[0] for iv in intervals)
    b_ = min(iv[1] for iv in intervals)
    full = a == lv.lo and b_ == lv.hi
    if tgt.comparator == "between":
        value, direction = a, "between"
    elif b_ == lv.hi and a > lv.lo:
        value, direction = a, "at_least"
    elif a == lv.lo and b_ < lv.hi:
        value, direction = b_, "at_most"
    elif tgt.comparator == "at_most":  # met over the whole range: least favourable end
        value, direction = (lv.hi, "at_most") if s_hi >= s_lo else (lv.lo, "at_least")
    else:
        value, direction = (lv.lo, "at_least") if s_hi >= s_lo else (lv.hi, "at_most")
    s_val = float(ev.expected_share(value, horizon)[di])
    status = "met_throughout" if full else "solved"
    why = (
        f"met over the whole range [{lv.lo:g}, {lv.hi:g}]"
        if full
        else f"{lv.label} {_WORD[direction]} "
        f"{_lever_value_text(lv, value)} gives an expected {tgt.population} share of "
        f"{_fmt(s_val)} {when}"
    )
    if tgt.comparator == "between" and not full:
        why += f"; values in [{a:.6g}, {b_:.6g}] meet the band"
    return SolveResult(
        status=status,
        value=float(value),
        direction=direction,
        bracket=None if full else _bracket(intervals, value, xtol, lv),
        why=why,
        expected_share=s_val,
        evaluations=_sorted(evaluations),
        met_interval=[float(a), float(b_)],
        **common,
    )


_WORD = {"at_least": "≥", "at_most": "≤", "between": "="}


def _goal(t: Target) -> float:
    return float(t.value) if t.value is not None else 0.5 * (float(t.low) + float(t.high))


def _bracket(intervals, value: float, xtol: float, lv: Lever) -> list[float]:
    a = max(iv[0] for iv in intervals)
    if value == a:
        return [max(lv.lo, a - xtol), a]
    return [min(lv.hi, value + xtol), value]


def _sorted(evaluations: list[dict[str, float]]) -> list[dict[str, float]]:
    seen: dict[float, dict[str, float]] = {}
    for e in evaluations:
        seen[e["value"]] = e
    return [seen[k] for k in sorted(seen)]


def _solve_probability(
    ev: _Evaluator, p: float, reps: int, seed: int, tol: float | None
) -> SolveResult:
    lv, tgt = ev.lever, ev.target
    xtol = (lv.hi - lv.lo) * 1e-3 if tol is None else float(tol)
    pts: dict[float, float] = {}

    def prob(x: float) -> float:
        if x not in pts:
            pts[x] = float(ev.met(x, reps, seed).mean())
        return pts[x]

    common = dict(
        target=tgt.id,
        lever=lv.spec,
        lever_label=lv.label,
        method=f"stochastic engine, {reps} replications, common random numbers (seed {seed}), "
        "bisection on P(met)",
        range=[lv.lo, lv.hi],
        from_year=None if lv.kind == "path" else lv.from_year,
        replications=reps,
        seed=seed,
    )
    if tgt.comparator == "between":
        grid = np.linspace(lv.lo, lv.hi, 11)
        hits = [x for x in grid if prob(float(x)) >= p]
        if not hits:
            best = float(max(grid, key=lambda x: prob(float(x))))
            return _not_reached(ev, p, best, prob(best), pts, common, " (on an 11-point grid)")
        met_x = float(hits[0])
        if met_x == lv.lo:
            return _answer(ev, p, met_x, None, "between", pts, reps, common, full=True)
        not_x = float(grid[list(grid).index(hits[0]) - 1])
        direction = "between"
    else:
        p_lo, p_hi = prob(lv.lo), prob(lv.hi)
        fav, unf = (lv.hi, lv.lo) if p_hi >= p_lo else (lv.lo, lv.hi)
        if prob(fav) < p:
            return _not_reached(ev, p, fav, prob(fav), pts, common, "")
        if prob(unf) >= p:
            return _answer(
                ev,
                p,
                unf,
                None,
                "at_least" if unf == lv.lo else "at_most",
                pts,
                reps,
                common,
                full=True,
            )
        met_x, not_x = fav, unf
        direction = "at_least" if fav == lv.hi else "at_most"
    while abs(met_x - not_x) > xtol:
        mid = 0.5 * (met_x + not_x)
        if prob(mid) >= p:
            met_x = mid
        else:
            not_x = mid
    return _answer(ev, p, met_x, not_x, direction, pts, reps, common, full=False)


def _violations(pts: dict[float, float]) -> int:
    xs = sorted(pts)
    vals = [pts[x] for x in xs]
    if len(vals) < 3:
        return 0
    up = sum(1 for a, b in itertools.pairwise(vals) if b < a)
    down = sum(1 for a, b in itertools.pairwise(vals) if b > a)
    return min(up, down)


def _answer(ev, p, met_x, not_x, direction, pts, reps, common, full) -> SolveResult:
    lv, _tgt = ev.lever, ev.target
    k = round(pts[met_x] * reps)
    lo_ci, hi_ci = wilson_interval(k, reps)
    s_exp = float(ev.expected_share(met_x)[ev.di])
    word = _WORD[direction]
    why = (
        f"met with probability ≥ {p:.0%} over the whole range [{lv.lo:g}, {lv.hi:g}]"
        if full
        else f"{lv.label} {word} {_lever_value_text(lv, met_x)}: P(met) = {pts[met_x]:.3f} "
        f"[{lo_ci:.3f}, {hi_ci:.3f}] vs {pts[not_x]:.3f} at {_lever_value_text(lv, not_x)}"
    )
    return SolveResult(
        status="met_throughout" if full else "solved",
        value=float(met_x),
        direction=direction,
        bracket=None if not_x is None else [float(not_x), float(met_x)],
        why=why,
        probability=pts[met_x],
        probability_ci=[lo_ci, hi_ci],
        probability_not_met=None if not_x is None else pts[not_x],
        expected_share=s_exp,
        evaluations=[{"value": x, "probability": pts[x]} for x in sorted(pts)],
        monotone_violations=_violations(pts),
        **common,
    )


def _not_reached(ev, p, best, p_best, pts, common, note) -> SolveResult:
    lv = ev.lever
    s_best = float(ev.expected_share(best)[ev.di])
    other = lv.lo if best == lv.hi else lv.hi
    s_other = float(ev.expected_share(other)[ev.di])
    reps = common["replications"]
    k = round(p_best * reps)
    return SolveResult(
        status="not_reachable",
        value=None,
        direction=None,
        bracket=None,
        why=f"not reachable with probability {p:.0%} within the lever's range{note}: "
        f"P(met) = {p_best:.3f} at best; "
        + _no_effect_or_bound(ev, best, s_best, s_other, f"in {ev.target.deadline}"),
        probability=p_best,
        probability_ci=list(wilson_interval(k, reps)),
        expected_share=s_best,
        evaluations=[{"value": x, "probability": pts[x]} for x in sorted(pts)],
        **common,
    )


# ============================================================================================
# Reachability
# ============================================================================================
@dataclass
class Reach:
    """Answer of :func:`reachability` (``to_dict`` is JSON-ready)."""

    target: str
    population: str
    deadline: int
    bound: Literal["max", "min"]
    value: float
    reachable: bool
    years: list[int]
    path: list[float]
    baseline_path: list[float]
    baseline_value: float
    note: str
    rules: dict[str, str] = field(default_factory=dict)
    other_bound: float | None = None
    floor_short_years: dict[str, list[int]] = field(default_factory=dict)
    stochastic: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


RULES = ("women_first", "outside", "scenario", "men_first")


def best_case_data(
    scenario: Scenario,
    to: Literal["women", "men"] = "women",
    rules: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Scenario data with every controllable flow given to ``to`` from ``start_year + 1``.

    Deployment pools, if any, deploy ``to`` first (as far as their eligible persons allow).
    ``rules`` maps vacancy-step grades to an allocation rule: ``women_first`` (floor 1, posts
    filled with men when eligible women run out), ``outside`` (every vacancy filled by lateral
    entry, all of it ``to``), ``scenario`` (the step as it is) or ``men_first`` (floor 0,
    women's odds 10⁻⁴). Default: ``women_first`` everywhere when ``to``
    is women, ``men_first`` when it is men.
    """
    s = scenario
    data = scenario_to_data(s)
    fy = s.first_lever_year
    w = 1.0 if to == "women" else 0.0
    vac = [p.to for p in s.promotions if p.mode == "vacancy"]
    default = "women_first" if to == "women" else "men_first"
    rules = {g: (rules or {}).get(g, default) for g in vac}
    bad = {g: r for g, r in rules.items() if r not in RULES}
    if bad:
        raise _err("rules", f"allocation rules are {list(RULES)}", bad)

    def policy(pid: str, parameter: str, value: float, grades: list[str] | None = None):
        out = {
            "id": f"best-case-{pid}",
            "parameter": parameter,
            "from_year": fy,
            "set": value,
            "assumption": f"{_ASSUMPTION}: best case for {to}",
        }
        if grades is not None:
            out["grades"] = grades
        return out

    pol = list(data.get("policies", []))
    if s.conscription is None:
        pol.append(policy("intake", "recruitment.women_share", w))
    else:
        # The funnel supplies the intake: every fit person of the favoured sex volunteers and
        # every completer of that sex signs; no completer of the other sex does.
        other = "men" if to == "women" else "women"
        for pid, parameter, value, sex in (
            ("volunteer", "conscription.volunteer_share", 1.0, to),
            ("contract", "conscription.contract_share", 1.0, to),
            ("contract-other", "conscription.contract_share", 0.0, other),
        ):
            pol.append({**policy(pid, parameter, value), "sexes": [sex]})
    if vac:
        pol.append(policy("lateral", "promotion.lateral_women_share", w, vac))
    women_first = [g for g in vac if rules[g] == "women_first"]
    men_first = [g for g in vac if rules[g] == "men_first"]
    if women_first:
        pol.append(policy("floor-women", "promotion.women_floor", 1.0, women_first))
    outside = [g for g in vac if rules[g] == "outside"]
    if outside:
        pol.append(policy("outside", "promotion.lateral_share", 1.0, outside))
    if men_first:
        pol.append(policy("floor-men", "promotion.women_floor", 0.0, men_first))
        pol.append(policy("odds-men", "promotion.women_odds", 1e-4, men_first))
    for block in data["promotions"]:
        if block["to"] in women_first:
            block["when_floor_short"] = "fill_with_men"
    if s.deployments:
        # Deployment selection is a controllable flow too: every pool deploys the favoured
        # sex first, as far as its eligible persons allow (a floor of 1 on women's share,
        # raised only to the eligible women; for men, a floor of 0 and odds of 10^-4).
        if to == "women":
            pol.append(policy("deploy-women", "deployment.women_floor", 1.0))
        else:
            pol.append(policy("deploy-floor-men", "deployment.women_floor", 0.0))
            pol.append(policy("deploy-odds-men", "deployment.women_odds", 1e-4))
    data["policies"] = pol
    return data


def _lateral_steps(scenario: Scenario) -> set[str]:
    """Vacancy steps that recruit laterally in some year (lateral share > 0 after policies).

    Only there is filling every vacancy from outside an allocation the organisation has; a
    closed career grade stays closed in the bound.
    """
    c = compile_scenario(scenario)
    return {
        gid
        for g, gid in enumerate(c.grade_ids)
        if c.mode[g] == MODE_VACANCY and bool((c.lateral_share[:, g] > 0).any())
    }


def _best_rules(
    scenario: Scenario, tgt: Target, to: Literal["women", "men"]
) -> tuple[dict[str, str], Result]:
    """The combination of allocation rules whose expected share at the deadline is best."""
    vac = [p.to for p in scenario.promotions if p.mode == "vacancy"]
    open_steps = _lateral_steps(scenario)
    options = [tuple(r for r in RULES if r != "outside" or g in open_steps) for g in vac]
    combos = (
        [dict(zip(vac, c, strict=True)) for c in itertools.product(*options)]
        if len(vac) <= 4
        else [{g: r for g in vac if r != "outside" or g in open_steps} for r in RULES]
    )
    di = tgt.deadline - scenario.start_year
    best: Any = None
    sign = 1.0 if to == "women" else -1.0
    for rules in combos:
        res = run(parse_scenario(best_case_data(scenario, to, rules), scenario.name), "expected")
        share = res.share(tgt.population)[0]
        window = share[di:] if tgt.sustained else share[di : di + 1]
        score = sign * float(window.min() if to == "women" else window.max())
        if best is None or score > best[0] + 1e-12:
            best = (score, rules, res)
    return best[1], best[2]


def reachability(
    scenario: Scenario,
    target_id: str | None = None,
    replications: int | None = None,
    seed: int | None = None,
) -> Reach:
    """Best-case bound on a target's population share by its deadline (module docstring).

    With ``replications`` the best-case scenario is also run on the stochastic engine and the
    probability of meeting the target in the best case is reported.
    """
    tgt = get_target(scenario, target_id)
    to: Literal["women", "men"] = "men" if tgt.comparator == "at_most" else "women"
    rules, res = _best_rules(scenario, tgt, to)
    cb = res.compiled
    path = res.share(tgt.population)[0]
    base = run(scenario, "expected").share(tgt.population)[0]
    di = tgt.deadline - scenario.start_year
    other = None
    if tgt.comparator == "between":
        _, worst = _best_rules(scenario, tgt, "men")
        other = float(worst.share(tgt.population)[0][di])
        hi_v, lo_v = float(path[di]), other
        reachable = hi_v >= tgt.low - 1e-12 and lo_v <= tgt.high + 1e-12
    else:
        met = condition_met(tgt, path)
        reachable = bool(met[di:].all() if tgt.sustained else met[di])
    note = (
        f"intake and lateral hires all women from {scenario.first_lever_year}; each vacancy "
        "step's allocation is the best of: women first as far as eligible women exist (floor 1, "
        "posts filled with men when they run out), every vacancy filled from outside by women "
        "(only where the grade recruits laterally), as in the scenario, men first; "
        "establishments, minimum years in grade, attrition and rate-mode promotions unchanged"
        if to == "women"
        else "intake and lateral hires all men; each vacancy step's allocation the lowest of: "
        "men first, as in the scenario, women first (mirror of the best case, for an at_most "
        "target)"
    )
    if scenario.deployments:
        note += f"; every deployment pool deploys {to} first, as far as eligible {to} exist"
    note += (
        "; allocation rules are held constant over the horizon (a rule that changes over time "
        "could do better where eligible women run short)"
    )
    diag = res.diagnostics_frame()
    short: dict[str, list[int]] = {}
    if len(diag):
        for gid, grp in diag.groupby("grade", observed=True):
            yrs = [int(y) for y in grp.loc[grp["floor_short"], "year"]]
            if yrs:
                short[str(gid)] = yrs
    out = Reach(
        target=tgt.id,
        population=tgt.population,
        deadline=tgt.deadline,
        bound="min" if to == "men" else "max",
        value=float(path[di]),
        reachable=reachable,
        years=[int(y) for y in res.years],
        path=[float(x) for x in path],
        baseline_path=[float(x) for x in base],
        baseline_value=float(base[di]),
        note=note,
        rules=rules,
        other_bound=other,
        floor_short_years=short,
    )
    if replications is not None:
        root = scenario.simulation.seed if seed is None else int(seed)
        sres = run(cb, "stochastic", replications, root)
        share = sres.share(tgt.population)
        ok = condition_met(tgt, share)
        hit = ok[:, di:].all(1) if tgt.sustained else ok[:, di]
        k = int(hit.sum())
        col = share[:, di]
        out.stochastic = {
            "replications": replications,
            "seed": root,
            "probability": k / replications,
            "probability_ci": list(wilson_interval(k, replications)),
            "max": float(np.nanmax(col)),
            "min": float(np.nanmin(col)),
            "median": float(np.nanmedian(col)),
        }
    return out


# ============================================================================================
# Gap decomposition
# ============================================================================================
GROUPS = ("recruitment", "attrition", "promotion")


def _neutral_sex_policies(policies: list[dict], parameters: set[str]) -> list[dict]:
    out = []
    for p in policies:
        if p["parameter"] in parameters:
            sexes = p.get("sexes")
            if sexes == ["women"]:
                continue
            if sexes == ["men"]:
                p = {k: v for k, v in p.items() if k != "sexes"}
        out.append(p)
    return out


def neutral_data(scenario: Scenario, groups: tuple[str, ...] = GROUPS) -> dict[str, Any]:
    """Scenario data with the given lever groups gender-neutral (module docstring)."""
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        raise _err("groups", f"unknown lever group; use {list(GROUPS)}", bad)
    s = scenario
    data = scenario_to_data(s)
    pol = [copy.deepcopy(p) for p in data.get("policies", [])]
    init = {b.grade: b.counts() for b in s.initial}

    def start_share(gid: str) -> float:
        w, m = init[gid]
        return w / (w + m) if w + m > 0 else 0.5

    if "attrition" in groups:
        for block in data["attrition"]:
            block["women"] = copy.deepcopy(block["men"])
        pol = _neutral_sex_policies(pol, {"attrition"})
    if "promotion" in groups:
        for block in data["promotions"]:
            if block.get("probability") is not None:
                # men's probability, capped so that the women's attrition of this variant
                # still leaves room (attrition + promotion <= 1 in the grade below)
                below = s.grade_ids[s.grade_ids.index(block["to"]) - 1]
                a_w = next(b["women"] for b in data["attrition"] if b["grade"] == below)
                room = 1.0 - max(a_w if isinstance(a_w, list) else [a_w])
                block["probability"]["women"] = min(block["probability"]["men"], room)
            block["women_odds"] = 1.0
            block["women_floor"] = 0.0
        pol = [
            p
            for p in pol
            if p["parameter"] not in ("promotion.women_odds", "promotion.women_floor")
        ]
        pol = _neutral_sex_policies(pol, {"promotion.probability"})
    if "recruitment" in groups:
        pol = [
            p
            for p in pol
            if p["parameter"] not in ("recruitment.women_share", "promotion.lateral_women_share")
        ]
        if s.conscription is None:
            pol.append(
                {
                    "id": "neutral-intake",
                    "parameter": "recruitment.women_share",
                    "from_year": s.start_year + 1,
                    "set": start_share(s.grade_ids[0]),
                    "assumption": f"{_ASSUMPTION}: neutral intake = entry grade's start share",
                }
            )
        else:
            # A funnel's neutral counterpart: women volunteer and sign contracts at men's rates
            # (who is summoned follows the scenario's dated rules; the lottery is neutral).
            pol = [
                p
                for p in pol
                if p["parameter"]
                not in ("conscription.volunteer_share", "conscription.contract_share")
            ]
            block = data["conscription"]
            for key in ("volunteer_share", "contract_share", "contract_share_drafted"):
                if isinstance(block.get(key), dict) and "men" in block[key]:
                    block[key] = {**block[key], "women": block[key]["men"]}
        for block in data["promotions"]:
            if block["mode"] == "vacancy":
                block["lateral_women_share"] = start_share(block["to"])
    data["policies"] = pol
    return data


@dataclass
class Decomposition:
    """Answer of :func:`decompose`: ``table`` has one row per term and a total row."""

    population: str
    start_year: int
    year: int
    start_share: float
    end_share: float
    neutral_share: float
    table: pd.DataFrame
    runs: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "population": self.population,
            "start_year": self.start_year,
            "year": self.year,
            "start_share": self.start_share,
            "end_share": self.end_share,
            "neutral_share": self.neutral_share,
            "terms": self.table.to_dict(orient="records"),
            "runs": self.runs,
        }


def decompose(
    scenario: Scenario,
    target_id: str | None = None,
    population: str | None = None,
    year: int | None = None,
) -> Decomposition:
    """Shapley decomposition of the change in women's share from the start to ``year``.

    ``population``/``year`` default to the target's (the first target when neither a target nor
    a population is given).
    """
    s = scenario
    if population is None:
        tgt = get_target(s, target_id)
        population = tgt.population
        year = tgt.deadline if year is None else year
    if year is None:
        year = s.end_year
    pops = [*s.grade_ids, *s.groups, "workforce"]
    if population not in pops:
        raise _err("population", f"unknown population; use one of {pops}", population)
    if not s.start_year < year <= s.end_year:
        raise _err("year", f"must be a year from {s.start_year + 1} to {s.end_year}", year)
    di = year - s.start_year
    v: dict[frozenset, float] = {}
    start = math.nan
    for k in range(len(GROUPS) + 1):
        for kept in itertools.combinations(GROUPS, k):
            neutral = tuple(g for g in GROUPS if g not in kept)
            sc = parse_scenario(neutral_data(s, neutral), s.name) if neutral else s
            share = run(sc, "expected").share(population)[0]
            v[frozenset(kept)] = float(share[di])
            start = float(share[0])
    n = len(GROUPS)
    base = v[frozenset()]
    rows = [{"term": "inertia (starting structure)", "change": base - start}]
    for g in GROUPS:
        phi = 0.0
        others = [x for x in GROUPS if x != g]
        for k in range(n):
            for S in itertools.combinations(others, k):
                wgt = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                phi += wgt * (v[frozenset(S) | {g}] - v[frozenset(S)])
        rows.append({"term": g, "change": phi})
    end = v[frozenset(GROUPS)]
    rows.append({"term": "total", "change": end - start})
    table = pd.DataFrame(rows)
    runs = {("+".join(sorted(k)) or "all neutral"): val for k, val in v.items()}
    return Decomposition(population, s.start_year, year, start, end, base, table, runs)


def waterfall_data(d: Decomposition) -> list[dict[str, Any]]:
    """Steps of a waterfall chart: start level, one bar per term, end level (data only)."""
    steps = [
        {"label": f"{d.start_year} share", "kind": "level", "start": 0.0, "end": d.start_share}
    ]
    level = d.start_share
    for row in d.table.itertuples():
        if row.term == "total":
            continue
        steps.append(
            {"label": row.term, "kind": "change", "start": level, "end": level + row.change}
        )
        level += row.change
    steps.append({"label": f"{d.year} share", "kind": "level", "start": 0.0, "end": d.end_share})
    return steps


# ============================================================================================
# Comparison
# ============================================================================================
def newcombe_paired(
    a_met: np.ndarray, b_met: np.ndarray, z: float = Z95
) -> tuple[float, float, float]:
    """Difference P(B) - P(A) of paired proportions with Newcombe's method-10 interval."""
    a_met, b_met = np.asarray(a_met, bool), np.asarray(b_met, bool)
    n = a_met.size
    both = int((a_met & b_met).sum())
    a_only = int((a_met & ~b_met).sum())
    b_only = int((~a_met & b_met).sum())
    neither = n - both - a_only - b_only
    p1, p2 = (both + a_only) / n, (both + b_only) / n
    l1, u1 = wilson_interval(both + a_only, n, z)
    l2, u2 = wilson_interval(both + b_only, n, z)
    denom = (both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither)
    # Newcombe's φ with his continuity correction: (AD - BC - N/2) when AD > BC + N/2, zero
    # when BC ≤ AD ≤ BC + N/2, AD - BC when AD < BC (Newcombe 1998, Stat Med 17:2635, method 10).
    cross = both * neither - a_only * b_only
    if cross > 0:
        cross = max(0.0, cross - n / 2)
    phi = cross / math.sqrt(denom) if denom > 0 else 0.0
    d = p2 - p1
    lower = d - math.sqrt(
        max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    )
    upper = d + math.sqrt(
        max(0.0, (u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2)
    )
    return d, max(-1.0, lower), min(1.0, upper)


_ABSENT = "(absent)"
_ITEM_KEYS = ("id", "grade", "to")


def _items(node: list[Any], prefix: str) -> dict[str, Any]:
    """Items of a list keyed by their path: ``[id=x]`` where a unique key exists, else ``[i]``."""
    out: dict[str, Any] = {}
    for i, item in enumerate(node):
        sel = None
        if isinstance(item, dict):
            sel = next(
                (
                    k
                    for k in _ITEM_KEYS
                    if k in item
                    and sum(1 for x in node if isinstance(x, dict) and x.get(k) == item[k]) == 1
                ),
                None,
            )
        out[f"{prefix}[{sel}={item[sel]}]" if sel else f"{prefix}[{i}]"] = item
    return out


def _diff(a: Any, b: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.append({"path": sub, "a": a.get(k, _ABSENT), "b": b.get(k, _ABSENT)})
            else:
                _diff(a[k], b[k], sub, out)
        return
    is_items = (
        isinstance(a, list)
        and isinstance(b, list)
        and all(isinstance(x, dict) for x in [*a, *b])
        and (a or b)
    )
    if is_items:
        ia, ib = _items(a, path), _items(b, path)
        for k in [*ia, *(k for k in ib if k not in ia)]:
            if k not in ia or k not in ib:
                out.append({"path": k, "a": ia.get(k, _ABSENT), "b": ib.get(k, _ABSENT)})
            else:
                _diff(ia[k], ib[k], k, out)
        return
    if a != b:
        out.append({"path": path, "a": a, "b": b})


def diff_assumptions(a: Scenario, b: Scenario) -> list[dict[str, Any]]:
    """Every value that differs between two scenarios' data, as ``{path, a, b}``.

    Paths use the parameter-path syntax (list items by ``id``, ``grade`` or ``to`` where that
    is unique, else by position); a table or list item present on one side only is one entry
    whose other side is ``"(absent)"``. Published figures (``[[observed]]``) are left out: they
    are drawn beside a projection, not assumed by it; so is a ``[sources]`` entry that only
    they cite.
    """
    out: list[dict[str, Any]] = []
    _diff(_assumed(a), _assumed(b), "", out)
    return out


def _assumed(scenario: Scenario) -> dict[str, Any]:
    """The scenario's plain data without its published figures and the sources only they cite
    (a source cited nowhere stays: it is part of what the scenario's file says)."""
    data = scenario_to_data(scenario)
    figures = data.pop("observed", [])
    by_figures = {ref for o in figures for ref in _source_refs(o)}
    sources = data.get("sources", {})
    rest = {k: v for k, v in data.items() if k != "sources"}
    for ref in by_figures - _source_refs(rest):
        sources.pop(ref, None)
    return data


def _source_refs(node: Any) -> set[str]:
    """Every source id a block of plain data cites (its ``source`` values), at any depth."""
    refs: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source" and isinstance(value, str):
                refs.add(value)
            elif key == "source" and isinstance(value, list):
                refs |= {v for v in value if isinstance(v, str)}
            else:
                refs |= _source_refs(value)
    elif isinstance(node, list):
        for item in node:
            refs |= _source_refs(item)
    return refs


def format_diff(diff: list[dict[str, Any]]) -> list[str]:
    """``path: A value → B value`` lines; an added or removed table is listed field by field."""
    lines = []
    for d in diff:
        a, b = d["a"], d["b"]
        if a == _ABSENT and isinstance(b, dict):
            lines += [f"{d['path']}.{k}: {_ABSENT} → {_short(v)}" for k, v in b.items()]
        elif b == _ABSENT and isinstance(a, dict):
            lines += [f"{d['path']}.{k}: {_short(v)} → {_ABSENT}" for k, v in a.items()]
        else:
            lines.append(f"{d['path']}: {_short(a)} → {_short(b)}")
    return lines


def _short(v: Any, limit: int = 120) -> str:
    text = v if v == _ABSENT else json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Comparison:
    """Answer of :func:`compare`."""

    names: list[str]
    replications: int
    seed: int
    targets: pd.DataFrame
    differences: pd.DataFrame
    assumptions: dict[str, list[dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "names": self.names,
            "replications": self.replications,
            "seed": self.seed,
            "targets": self.targets.to_dict(orient="records"),
            "differences": self.differences.to_dict(orient="records"),
            "assumptions": self.assumptions,
            "methods": {
                "share_difference": "paired mean over replications, normal 95 % interval",
                "probability_difference": "Newcombe (1998) method 10 for paired proportions",
            },
        }


def compare(
    scenarios: list[Scenario],
    replications: int | None = None,
    seed: int | None = None,
    labels: list[str] | None = None,
) -> Comparison:
    """Targets of several scenarios side by side, with paired differences against the first."""
    if len(scenarios) < 2:
        raise _err("scenarios", "compare needs at least two scenarios", len(scenarios))
    a = scenarios[0]
    reps = a.simulation.replications if replications is None else int(replications)
    if not 1 <= reps <= MAX_REPLICATIONS:
        raise _err("replications", f"must be between 1 and {MAX_REPLICATIONS}", reps)
    root = a.simulation.seed if seed is None else int(seed)
    names = labels or [
        f"{chr(65 + i)}: {s.name}" if i < 26 else s.name for i, s in enumerate(scenarios)
    ]
    rows, diffs = [], []
    per: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
    for i, s in enumerate(scenarios):
        exp = run(s, "expected")
        sto = run(s, "stochastic", reps, root)
        hold: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for t in a.targets:
            if t.population not in sto.population_names or not (
                s.start_year <= t.deadline <= s.end_year
            ):
                rows.append({"scenario": names[i], "target": t.id, "status": "not applicable"})
                continue
            di = t.deadline - s.start_year
            share = sto.share(t.population)
            ok = condition_met(t, share)
            hit = ok[:, di:].all(1) if t.sustained else ok[:, di]
            k = int(hit.sum())
            lo, hi = wilson_interval(k, reps)
            hold[t.id] = (share[:, di], hit)
            rows.append(
                {
                    "scenario": names[i],
                    "target": t.id,
                    "status": "ok",
                    "expected_share": float(exp.share(t.population)[0][di]),
                    "probability": k / reps,
                    "probability_low": lo,
                    "probability_high": hi,
                    "median_share": float(np.nanmedian(share[:, di])),
                }
            )
        per.append(hold)
    for i in range(1, len(scenarios)):
        for t in a.targets:
            if t.id not in per[0] or t.id not in per[i]:
                continue
            sa, ma = per[0][t.id]
            sb, mb = per[i][t.id]
            d = sb - sa
            d = d[~np.isnan(d)]
            mean = float(d.mean()) if d.size else math.nan
            se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
            pd_, plo, phi = newcombe_paired(ma, mb)
            diffs.append(
                {
                    "a": names[0],
                    "b": names[i],
                    "target": t.id,
                    "share_difference": mean,
                    "share_low": mean - Z95 * se,
                    "share_high": mean + Z95 * se,
                    "probability_difference": pd_,
                    "probability_low": plo,
                    "probability_high": phi,
                }
            )
    assumptions = {names[i]: diff_assumptions(a, scenarios[i]) for i in range(1, len(scenarios))}
    return Comparison(names, reps, root, pd.DataFrame(rows), pd.DataFrame(diffs), assumptions)
