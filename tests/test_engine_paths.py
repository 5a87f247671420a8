"""The expected engine's scalar vacancy step agrees with the array step it shortcuts.

``simulator.engine.simulate`` runs the vacancy step (step 2 of the contract) of a single
expected path in plain Python floats (``_ScalarVacancy``) because numpy's per-call cost on
one-element arrays dominated the expected engine. The array path (used for batches and for
per-replication parameters) is the reference: a subclass of ``ExpectedSampler`` forces it.
Both are compared on every shipped scenario with a vacancy step and on generated scenarios
(tests/strategies.py) covering floors, lateral entry, odds and every recruitment mode.

Not statistical: both paths are deterministic. Tolerance: 1e-12 relative to the largest
headcount (the two paths sum the same numbers, possibly in a different order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from simulator import compile_scenario, load_scenario, parse_scenario
from simulator.compiled import MODE_VACANCY
from simulator.engine import ExpectedSampler, simulate
from tests.strategies import scenarios

ROOT = Path(__file__).resolve().parents[1]


class ArrayPathSampler(ExpectedSampler):
    """The expected sampler, but the engine takes its array path (``type(...) is`` check)."""


def _both(c):
    fast = simulate(c, ExpectedSampler(), 1)
    ref = simulate(c, ArrayPathSampler(), 1)
    return fast, ref


def _assert_same(fast, ref) -> None:
    scale = max(1.0, float(np.abs(ref.stock).max()))
    for name in ("stock", "flows", "diagnostics", "final"):
        a, b = getattr(fast, name), getattr(ref, name)
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * scale, err_msg=name)


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
    original = engine._ScalarVacancy.step

    def spy(self, *args):
        calls.append(args[:2])
        return original(self, *args)

    monkeypatch.setattr(engine._ScalarVacancy, "step", spy)
    path = _vacancy_scenarios()[0]
    c = compile_scenario(load_scenario(path))
    simulate(c, ArrayPathSampler(), 1)
    assert calls == []
    simulate(c, ExpectedSampler(), 1)
    assert len(calls) == c.n_years * int((c.mode[1:] == MODE_VACANCY).sum())


@settings(deadline=None, max_examples=150)  # engine runs: timing varies with the drawn size
@given(data=scenarios())
def test_scalar_vacancy_step_matches_array_step_on_generated_scenarios(data):
    c = compile_scenario(parse_scenario(data))
    fast, ref = _both(c)
    _assert_same(fast, ref)
