"""The expected engine's scalar vacancy step agrees with the array step it shortcuts.

``simulator.engine.simulate`` runs the vacancy step (step 2 of the contract) of a single
expected path in plain Python floats (``_ScalarVacancy``) because numpy's per-call cost on
one-element arrays dominated the expected engine. The array path (used for batches and for
per-replication parameters) is the reference: a subclass of ``ExpectedSampler`` forces it.
Both are compared on every shipped scenario with a vacancy step and on generated scenarios
(tests/strategies.py) covering floors, lateral entry, odds and every recruitment mode.

Not statistical: both paths are deterministic, and they must agree exactly (bit for bit): the
scalar path sums in numpy's pairwise order (``_pairwise_sum``, also checked here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import compile_scenario, load_scenario, parse_scenario
from simulator.compiled import MODE_VACANCY
from simulator.engine import ExpectedSampler, _pairwise_sum, simulate
from tests.strategies import scenarios

ROOT = Path(__file__).resolve().parents[1]


class ArrayPathSampler(ExpectedSampler):
    """The expected sampler, but the engine takes its array path (``type(...) is`` check)."""


def _both(c):
    fast = simulate(c, ExpectedSampler(), 1)
    ref = simulate(c, ArrayPathSampler(), 1)
    return fast, ref


def _assert_same(fast, ref) -> None:
    for name in ("stock", "flows", "diagnostics", "final"):
        a, b = getattr(fast, name), getattr(ref, name)
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)


def _vacancy_scenarios() -> list[Path]:
    out = []
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        c = compile_scenario(load_scenario(path))
        if (c.mode[1:] == MODE_VACANCY).any():
            out.append(path)
    return out


@pytest.mark.parametrize("path", _vacancy_scenarios(), ids=lambda p: p.stem)
def test_scalar_vacancy_step_matches_array_step_on_shipped_scenarios(path: Path):
    fast, ref = _both(compile_scenario(load_scenario(path)))
    _assert_same(fast, ref)


def test_the_shortcut_is_taken_and_the_reference_is_not(monkeypatch):
    """Guard against a test that compares the array path with itself."""
    import simulator.engine as engine

    calls = []
    original = engine._ScalarVacancy.year

    def spy(self, *args):
        calls.append(args[0])
        return original(self, *args)

    monkeypatch.setattr(engine._ScalarVacancy, "year", spy)
    path = _vacancy_scenarios()[0]
    c = compile_scenario(load_scenario(path))
    simulate(c, ArrayPathSampler(), 1)
    assert calls == []
    simulate(c, ExpectedSampler(), 1)
    assert calls == list(range(c.n_years))


@settings(deadline=None, max_examples=150)  # engine runs: timing varies with the drawn size
@given(data=scenarios())
def test_scalar_vacancy_step_matches_array_step_on_generated_scenarios(data):
    c = compile_scenario(parse_scenario(data))
    fast, ref = _both(c)
    _assert_same(fast, ref)


@settings(deadline=None)
@given(values=st.lists(st.floats(0, 1e7, allow_nan=False), max_size=300))
def test_pairwise_sum_is_numpys_summation_order(values):
    assert _pairwise_sum(values) == np.asarray(values, float).sum()
