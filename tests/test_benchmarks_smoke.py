"""Smoke tests of the benchmark harness (``make bench``); no timing is asserted here.

Verifies that

* ``benchmarks/scenarios.py`` builds valid scenarios (both promotion modes, 20,000 and
  20 million persons, and the tiny variant) with the structure the benchmark report describes;
* the naive per-person SimPy peer (``benchmarks/simpy_naive.py``) runs one replication of a
  tiny scenario and keeps the invariants of the annual step (start stock = compiled initial
  stock, entry grade refilled to its establishment by ``replace`` recruitment, headcounts
  non-negative, reproducible for a fixed seed);
* the numpy floor of ``benchmarks/run.py`` still matches the engine: the recorded random calls
  are those ``simulator/engine.py`` implies for the scenario, and replaying them reproduces the
  engine's variates bit for bit (if the engine changes its draws, this fails and the benchmark's
  floor must be revisited).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import Scenario, compile_scenario, parse_scenario, run

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str, file: str):
    """Import a benchmark module from its file under a name that cannot collide."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench_scenarios = _load("bench_scenarios", "scenarios.py")
simpy_naive = _load("bench_simpy_naive", "simpy_naive.py")


@pytest.mark.parametrize("mode", ["rate", "vacancy"])
@pytest.mark.parametrize("scale", [1, 1000])
def test_benchmark_workforce_is_a_valid_six_grade_thirty_year_scenario(mode, scale):
    scn = bench_scenarios.workforce(mode, scale)
    assert isinstance(scn, Scenario)
    c = compile_scenario(scn)
    assert c.n_grades == 6
    assert c.n_years == 30
    assert int(c.initial.sum()) == 20_000 * scale
    assert c.recruitment_mode == 1  # replace
    open_bucket = c.K  # K: the open-ended years-in-grade bucket
    assert open_bucket >= max(bench_scenarios.MIN_YEARS)
    # Attrition varies with years in grade (the profile is not flat).
    assert np.ptp(c.attrition[0, 0, 0]) > 0
    expected_mode = 1 if mode == "rate" else 2
    assert list(c.mode[1:]) == [expected_mode] * 5
    if mode == "vacancy":
        np.testing.assert_array_equal(
            c.establishment[0], np.array(bench_scenarios.HEADCOUNT) * scale
        )
        assert np.all(c.women_odds[:, 1:] == 1.0)


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        bench_scenarios.workforce_dict("lottery")


@pytest.mark.parametrize("mode", ["rate", "vacancy"])
def test_naive_simpy_peer_runs_one_replication_of_a_tiny_scenario(mode):
    c = compile_scenario(bench_scenarios.tiny(mode))
    result = simpy_naive.run_naive(c, replications=1, seed=123)
    stock = result.stock
    assert stock.shape == (1, c.n_years + 1, c.n_grades, 2)
    np.testing.assert_array_equal(stock[0, 0], c.initial.sum(-1))
    assert (stock >= 0).all()
    # Replace recruitment refills the entry grade to its establishment every year.
    np.testing.assert_array_equal(stock[0, 1:, 0].sum(-1), np.rint(c.establishment[:, 0]))
    if mode == "vacancy":
        # Vacancies are filled only up to the establishment, never beyond it.
        assert (stock[0, 1:, 1:].sum(-1) <= np.rint(c.establishment[:, 1:])).all()
    share = result.share(c.workforce)
    assert share.shape == (1, c.n_years + 1)
    assert ((share >= 0) & (share <= 1)).all()
    assert result.cpu_seconds.shape == result.wall_seconds.shape == (1,)
    again = simpy_naive.run_naive(c, replications=1, seed=123)
    np.testing.assert_array_equal(again.stock, stock)


def test_naive_simpy_peer_refuses_promotion_floors():
    data = bench_scenarios.tiny_dict("vacancy")
    data["promotions"][0]["women_floor"] = 0.3
    c = compile_scenario(parse_scenario(data))
    with pytest.raises(NotImplementedError, match="floor"):
        simpy_naive.run_naive(c, replications=1, seed=1)


@pytest.mark.parametrize("mode", ["rate", "vacancy"])
def test_numpy_floor_replays_exactly_the_engines_random_calls(mode):
    bench_run = _load("bench_run", "run.py")
    c = compile_scenario(bench_scenarios.tiny(mode))
    seed = 7
    rec = bench_run.record_calls(c, replications=100, seed=seed)
    info = bench_run.check_recording(c, rec)  # raises if the calls differ from the plan
    assert info["calls"] == sum(bench_run.expected_call_plan(c).values()) * c.n_years
    bench_run.replay(c, rec, seed, check=True)  # raises unless bit-for-bit identical
    np.testing.assert_array_equal(
        rec.stock, run(c, "stochastic", replications=100, seed=seed).raw.stock
    )
