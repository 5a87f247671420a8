"""The Python API: load a scenario, run an engine, summarise its targets.

>>> from simulator import load_scenario, run, summarize          # doctest: +SKIP
>>> s = load_scenario("scenarios/dk_police.toml")                 # doctest: +SKIP
>>> res = run(s, engine="stochastic", replications=1000, seed=1)  # doctest: +SKIP
>>> summarize(s, res)["targets"][0]["probability"]                # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from simulator import __version__
from simulator.compiled import Compiled, compile_scenario
from simulator.engine import run_expected_raw, run_stochastic_raw
from simulator.errors import Issue, ScenarioError
from simulator.results import Result
from simulator.rng import SEED_LIMIT, SEED_RANGE
from simulator.scenario import MAX_REPLICATIONS, Scenario, scenario_fingerprint
from simulator.targets import evaluate_targets

Engine = Literal["expected", "stochastic", "agents"]
ENGINES: tuple[str, ...] = ("expected", "stochastic", "agents")
#: Engines that draw replications (everything but the expected-value path).
RANDOM_ENGINES: tuple[str, ...] = ("stochastic", "agents")


def run(
    scenario: Scenario | Compiled,
    engine: Engine = "stochastic",
    replications: int | None = None,
    seed: int | None = None,
    first_replication: int = 0,
    progress: Callable[[int], None] | None = None,
    career_log: bool = False,
    parameter_uncertainty: bool = True,
) -> Result:
    """Run one engine on a scenario.

    Parameters
    ----------
    scenario
        A validated scenario (or one already compiled).
    engine
        ``"expected"`` (deterministic expected-value path), ``"stochastic"`` (Monte Carlo on
        cohorts) or ``"agents"`` (Monte Carlo on persons, SimPy; options from the scenario's
        ``[agents]`` table, see ``docs/agents.md``).
    replications
        Number of stochastic replications (default: the scenario's ``simulation.replications``).
    seed
        Root seed (default: the scenario's ``simulation.seed``).
    first_replication
        Global index of the first replication (to run a chunk of a larger run; results do not
        depend on how replications are chunked).
    progress
        Called with the number of replications finished, after each block.
    career_log
        Agents engine only: also keep the career log (``Result.career_log``).
    parameter_uncertainty
        Stochastic and agents engines, scenario with a ``[posterior]`` sample: each
        replication runs a parameter set drawn from it (``False``: the scenario's own
        values, the point estimate, for every replication: Monte Carlo noise alone). The
        expected engine always runs the point estimate.
    """
    c = scenario if isinstance(scenario, Compiled) else compile_scenario(scenario)
    s = c.scenario
    if engine == "expected":
        return Result(c, "expected", run_expected_raw(c))
    if engine not in RANDOM_ENGINES:
        raise ScenarioError([Issue("engine", f"unknown engine; use one of {ENGINES}", engine)])
    reps = s.simulation.replications if replications is None else replications
    if not 1 <= reps <= MAX_REPLICATIONS:
        raise ScenarioError(
            [Issue("replications", f"must be between 1 and {MAX_REPLICATIONS}", reps)]
        )
    if first_replication < 0:
        raise ScenarioError([Issue("first_replication", "must be ≥ 0", first_replication)])
    root = s.simulation.seed if seed is None else seed
    if not 0 <= root < SEED_LIMIT:
        raise ScenarioError([Issue("seed", f"must be {SEED_RANGE}", root)])
    draws = None
    if parameter_uncertainty and s.posterior is not None:
        from simulator.posterior import compile_draws

        draws = compile_draws(s, c)
    if engine == "agents":
        from simulator.agents import run_agents

        raw, log = run_agents(
            c,
            reps,
            root,
            first_replication,
            options=s.agents,
            career_log=career_log,
            progress=progress,
            draws=draws,
        )
        return Result(
            c, "agents", raw, seed=root, first_replication=first_replication, career_log=log
        )
    raw = run_stochastic_raw(c, reps, root, first_replication, progress, draws=draws)
    return Result(c, "stochastic", raw, seed=root, first_replication=first_replication)


def summarize(
    scenario: Scenario,
    stochastic: Result | None,
    expected: Result | None = None,
    *,
    elapsed_seconds: float | None = None,
) -> dict[str, Any]:
    """Return the JSON-ready summary of a run: provenance and one entry per target."""
    if expected is None:
        base = stochastic.compiled if stochastic is not None else scenario
        expected = run(base, engine="expected")
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario_fingerprint(scenario),
        "parity_version": __version__,
        "engine": stochastic.engine if stochastic is not None else "expected",
        "replications": stochastic.replications if stochastic is not None else 0,
        "seed": stochastic.seed if stochastic is not None else None,
        "start_year": scenario.start_year,
        "end_year": scenario.end_year,
        "uncertainty": _uncertainty(scenario, stochastic),
        "parameter_uncertainty": bool(stochastic is not None and stochastic.raw.draw is not None),
        "elapsed_seconds": elapsed_seconds,
        "targets": evaluate_targets(scenario, expected, stochastic),
    }


def _uncertainty(scenario: Scenario, result: Result | None) -> str:
    """Say which uncertainty a run's probabilities and quantiles carry."""
    if result is None:
        return "none (expected-value path)"
    if result.raw.draw is not None:
        post = scenario.posterior
        n = len(post.draws) if post is not None else 0
        return (
            f"Monte Carlo and parameter uncertainty (one of {n} posterior parameter sets "
            f"drawn per replication; {post.method if post else ''}); expected-engine values "
            "are the point estimate's path"
        )
    if scenario.posterior is not None:
        return (
            "Monte Carlo only (parameters fixed at the calibrated point estimate: "
            "parameter uncertainty switched off)"
        )
    return "Monte Carlo only (parameters fixed at the scenario's values)"


def run_and_summarize(
    scenario: Scenario,
    engine: Engine = "stochastic",
    replications: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    career_log: bool = False,
    parameter_uncertainty: bool = True,
) -> tuple[Result, Result, dict[str, Any]]:
    """Run the expected engine (always) and the requested engine; return both and the summary."""
    t0 = time.perf_counter()
    c = compile_scenario(scenario)
    expected = run(c, engine="expected")
    stochastic = (
        run(
            c,
            engine,
            replications,
            seed,
            progress=progress,
            career_log=career_log,
            parameter_uncertainty=parameter_uncertainty,
        )
        if engine in RANDOM_ENGINES
        else None
    )
    summary = summarize(scenario, stochastic, expected, elapsed_seconds=time.perf_counter() - t0)
    return expected, stochastic or expected, summary
