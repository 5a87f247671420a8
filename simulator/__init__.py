"""Parity: a personnel gender-balance workforce simulator (the engine library, no UI).

The model contract (what one simulated year computes) is stated in :mod:`simulator.engine`;
scenario files are validated by :mod:`simulator.scenario` and compiled to arrays by
:mod:`simulator.compiled`; targets are evaluated by :mod:`simulator.targets`; steady states
and years-to-target by :mod:`simulator.analytics`.
"""

__version__ = "0.1.0"

from simulator.api import run, run_and_summarize, summarize
from simulator.compiled import compile_scenario
from simulator.errors import Issue, ScenarioError
from simulator.results import Result
from simulator.scenario import Scenario, load_scenario, loads_scenario, parse_scenario

__all__ = [
    "Issue",
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "compile_scenario",
    "load_scenario",
    "loads_scenario",
    "parse_scenario",
    "run",
    "run_and_summarize",
    "summarize",
]
