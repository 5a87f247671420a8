"""Parameter uncertainty: compile a calibrated scenario's posterior sample into parameter sets.

A calibrated scenario (written by ``parity calibrate``) carries a ``[posterior]`` block: parameter
paths (as in sweep files) and rows of values, equally weighted draws from the posterior. Draw j
is the scenario with every path set to row j's value — shifted by ``current − point`` where the
scenario's value at a path differs from the calibrated point estimate ``point`` (an edit or a
lever moves the whole posterior with it); it is validated and compiled like any scenario,
so a draw that makes an impossible scenario (attrition + promotion > 1, say) is an error
naming the draw. Draws may change values only, never the structure (grades, promotion
modes, minimum years in grade, years-in-grade buckets).

The stochastic engine then runs replication r with draw ``i_r ~ Uniform{0 … D-1}`` drawn from
the replication block's own stream (:func:`simulator.engine.posterior_index`), so a probability
of meeting a target integrates over parameter *and* Monte Carlo uncertainty:
``P(met) = (1/R) Σ_r 1[target met in replication r under θ_{i_r}]``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import numpy as np

from simulator.compiled import Compiled, compile_batch, compile_scenario
from simulator.errors import Issue, ScenarioError
from simulator.paths import parse_path, resolve_slot
from simulator.pipeline import compile_deployments
from simulator.scenario import Scenario, parse_scenario, scenario_fingerprint, scenario_to_data

#: Top-level sections a posterior path may address: what :class:`simulator.engine.Params`
#: carries per replication (other values would be silently the same in every draw).
ENGINE_SECTIONS = ("attrition", "promotions", "recruitment", "grades", "initial", "policies")

#: A deployment pool's parameter the engines also take per replication (``deployments[…].
#: women_odds``, or a policy on ``deployment.women_odds``): its relative deployability odds.
POOL_ODDS = "women_odds"
POOL_ODDS_POLICY = "deployment.women_odds"

#: Policy parameters of the conscription funnel and deployment pools: but for the pools' odds
#: (:data:`POOL_ODDS_POLICY`) the engines take them from the point estimate in every
#: replication, so a posterior must not pretend to vary them.
PIPELINE_PARAMETERS = ("conscription.", "deployment.")


def sets_a_pipeline_policy(container) -> bool:
    """Whether a resolved slot's container is a policy on the funnel or a deployment pool."""
    return isinstance(container, dict) and str(container.get("parameter", "")).startswith(
        PIPELINE_PARAMETERS
    )


def sets_pool_odds(steps: list, container) -> bool:
    """Whether a resolved path sets a deployment pool's odds: ``deployments[…].women_odds``,
    or the value of a policy on ``deployment.women_odds``."""
    if steps[0] == "deployments":
        return len(steps) == 3 and steps[-1] == POOL_ODDS
    return (
        steps[0] == "policies"
        and isinstance(container, dict)
        and container.get("parameter") == POOL_ODDS_POLICY
    )


def refusal(steps: list, container) -> str | None:
    """Why a posterior may not vary the value at a resolved path (``steps``, its container),
    or None where the engines draw it per replication: a number in :data:`ENGINE_SECTIONS`
    but a policy on the funnel or a pool, or a deployment pool's odds (also as a policy)."""
    if sets_pool_odds(steps, container):
        return None
    if steps[0] not in ENGINE_SECTIONS:
        return (
            f"a posterior may set values in {', '.join(ENGINE_SECTIONS)} and a deployment "
            f"pool's {POOL_ODDS} only (the parameters the engines draw per replication)"
        )
    if steps[0] == "policies" and sets_a_pipeline_policy(container):
        return (
            f"a policy on {container['parameter']} sets the funnel or a deployment pool, which "
            "every replication shares: a posterior cannot vary it (of the pools' parameters "
            f"only {POOL_ODDS_POLICY})"
        )
    return None


def drawn_per_replication(data: dict, path: str) -> bool:
    """Whether the engines draw the value at ``path`` (of scenario ``data``) per replication:
    what a posterior may vary (:func:`compile_draws` refuses any other path, with
    :func:`refusal`'s reason)."""
    steps = parse_path(path)
    if steps[0] not in (*ENGINE_SECTIONS, "deployments"):
        return False  # (not resolved: e.g. a calibration problem's channel path)
    container, _slot = resolve_slot(data, steps)
    return refusal(steps, container) is None


#: Structural arrays that every draw must share with the point estimate.
STRUCTURE = ("years", "mode", "min_years_out", "leave_vacant", "workforce", "K_grade")

_CACHE: OrderedDict[str, list[Compiled]] = OrderedDict()
_CACHE_SIZE = 8


def clear_cache() -> None:
    """Forget every compiled posterior (the next :func:`compile_draws` compiles again)."""
    _CACHE.clear()


def compile_draws(scenario: Scenario, point: Compiled | None = None) -> list[Compiled]:
    """Return one compiled scenario per posterior draw (cached by the scenario's sha256).

    The draws are compiled together (:func:`~simulator.compiled.compile_batch`) where they
    can be, else one by one; the numbers are the same. Each draw's arrays are its own; its
    ``scenario``, populations and funnel are the point's, and so are its pools unless the
    posterior varies a pool's odds: then each draw has its own pools, which differ from the
    point's in ``women_odds`` only (checked; see :func:`_as_draw`).

    ``point``: the scenario already compiled, when the caller has it (else it is compiled
    here): the draws' structure is checked against it.

    Raises
    ------
    ScenarioError
        If the scenario has no posterior, a path does not resolve, or a draw makes an invalid
        scenario or changes its structure.
    """
    post = scenario.posterior
    if post is None:
        raise ScenarioError([Issue("posterior", "the scenario has no posterior sample", None)])
    key = scenario_fingerprint(scenario)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    base = scenario_to_data(scenario)
    base.pop("posterior", None)
    issues: list[Issue] = []
    steps = []
    varies_pools = False  # a path sets a pool's odds: each draw compiles its own pools
    shift = np.zeros(len(post.parameters))
    for j, text in enumerate(post.parameters):
        try:
            steps.append(parse_path(text))
            container, slot = resolve_slot(base, steps[-1])
        except ValueError as exc:
            issues.append(Issue(f"posterior.parameters[{j}]", str(exc), text))
            continue
        varies_pools = varies_pools or sets_pool_odds(steps[-1], container)
        reason = refusal(steps[-1], container)
        if reason is not None:
            issues.append(Issue(f"posterior.parameters[{j}]", reason, text))
            continue
        current = _get(container, slot)
        if not isinstance(current, int | float) or isinstance(current, bool):
            issues.append(
                Issue(
                    f"posterior.parameters[{j}]",
                    "must address a number in the scenario (not a table, list or series)",
                    text,
                )
            )
            continue
        if post.point is not None:
            shift[j] = float(current) - post.point[j]
    if issues:
        raise ScenarioError(issues, scenario.name)
    if point is None or point.scenario is not scenario:
        point = compile_scenario(scenario)
    chains = [_key_chain(base, path) for path in steps]
    values = [
        [value + float(delta) for value, delta in zip(row, shift, strict=True)]
        for row in post.draws
    ]
    parsed = _parse_all(base, chains, values)
    complete = all(isinstance(x, Scenario) for x in parsed)
    # The batch shares the point's funnel and pools; a posterior on a pool's odds gives each
    # draw its own pools (compile_deployments, the same arrays compile_scenario builds).
    compiled = compile_batch(parsed, pipeline_of=point) if complete else None
    draws: list[Compiled] = []
    for i, row in enumerate(post.draws):
        try:
            if compiled is not None:
                c = compiled[i]
                if varies_pools:
                    c = replace(c, deployments=compile_deployments(parsed[i], point.populations))
            else:  # one by one, so that each invalid draw gets its own error
                if isinstance(parsed[i], ScenarioError):
                    raise parsed[i]
                c = compile_scenario(parsed[i])
        except ScenarioError as exc:
            detail = "; ".join(str(x) for x in exc.issues[:3])
            issues.append(
                Issue(f"posterior.draws[{i}]", f"makes an invalid scenario: {detail}", row)
            )
            if len(issues) >= 10:
                break
            continue
        bad = [
            name for name in STRUCTURE if not np.array_equal(getattr(c, name), getattr(point, name))
        ]
        if varies_pools and not _same_pools_but_odds(c, point):
            bad.append("deployments (a draw may change a pool's women_odds only)")
        if c.K != point.K or c.recruitment_mode != point.recruitment_mode or bad:
            issues.append(
                Issue(
                    f"posterior.draws[{i}]",
                    "a draw may change values only, not the structure "
                    f"({', '.join(bad) or 'years-in-grade buckets or recruitment mode'})",
                    row,
                )
            )
            continue
        draws.append(_as_draw(c, point, own_pools=varies_pools))
    if issues:
        raise ScenarioError(issues, scenario.name)
    _CACHE[key] = draws
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return draws


def _same_pools_but_odds(c: Compiled, point: Compiled) -> bool:
    """Whether a draw's deployment pools are the point's but for their women's odds."""
    if len(c.deployments) != len(point.deployments):
        return False
    for a, b in zip(c.deployments, point.deployments, strict=True):
        if (a.id, a.min_years) != (b.id, b.min_years) or not np.array_equal(a.grades, b.grades):
            return False
        if not (
            np.array_equal(a.demand, b.demand) and np.array_equal(a.women_floor, b.women_floor)
        ):
            return False
    return True


def _as_draw(c: Compiled, point: Compiled, own_pools: bool = False) -> Compiled:
    """A draw as :func:`compile_draws` returns and caches it: its own arrays, with the point's
    ``scenario`` (the calibrated scenario), populations, funnel and pools (the same structure;
    the engines take the funnel and pools from the point in every replication; a batch
    compiled them from it already) - but its own pools when the posterior varies a pool's odds
    (``own_pools``; they differ from the point's in ``women_odds`` only, checked).

    The draw's own parsed scenario is not kept: it would hold about 58 objects that Python's
    garbage collector tracks per draw (23,000 for 400 draws of ``dk_police_calibrated``),
    which every full collection of a long-running process (the app's server) scans again.
    """
    return replace(
        c,
        scenario=point.scenario,
        populations=point.populations,
        conscription=point.conscription,
        deployments=c.deployments if own_pools else point.deployments,
    )


def _parse_all(
    base: dict, chains: list[list[str | int]], values: list[list[float]]
) -> list[Scenario | ScenarioError]:
    """Every draw as a validated scenario, or the error that its values make."""
    out: list[Scenario | ScenarioError] = []
    for row in values:
        try:
            out.append(parse_scenario(_with_values(base, chains, row)))
        except ScenarioError as exc:
            out.append(exc)
    return out


def _get(container, key):
    """The value at a resolved slot (``None`` where a table lacks the key)."""
    if isinstance(container, dict):
        return container.get(key)
    return container[key]


def _key_chain(data: dict, steps: list) -> list[str | int]:
    """The dict keys and list indices a path passes through in ``data`` (selectors such as
    ``[grade=x]`` resolved to their index), ending with the key of the value itself."""
    return [resolve_slot(data, steps[: i + 1])[1] for i in range(len(steps))]


def _with_values(base: dict, chains: list[list[str | int]], values: list[float]) -> dict:
    """``base`` with the value at each key chain replaced, ``base`` itself unchanged.

    Only the tables and lists on the way to a replaced value are copied; everything else is
    shared with ``base`` (parsing does not change its input: tested on every shipped scenario).
    """
    root = dict(base)
    fresh = {id(root)}  # containers of the new tree (copied already)
    for chain, value in zip(chains, values, strict=True):
        node = root
        for key in chain[:-1]:
            child = node[key]
            if id(child) not in fresh:
                child = dict(child) if isinstance(child, dict) else list(child)
                fresh.add(id(child))
                node[key] = child
            node = child
        node[chain[-1]] = value
    return root
