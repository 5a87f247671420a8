"""Compiling a posterior's draws together (:func:`simulator.compiled.compile_batch`).

The batch must give exactly the arrays of compiling each scenario alone (no tolerance: the
engines must run the same numbers either way), for every shipped calibrated scenario's draws
and for random scenarios whose values (not structure) vary; it must decline (return None, so
that the caller compiles one by one and names the invalid draw) when the structures differ
or a member breaks a constraint.
"""

from __future__ import annotations

import copy
import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import simulator.posterior as posterior
from simulator import loads_scenario, parse_scenario
from simulator.compiled import Compiled, compile_batch, compile_scenario, structure_key
from simulator.errors import ScenarioError
from simulator.scenario import scenario_to_data
from tests.factories import ladder
from tests.strategies import scenarios

ROOT = Path(__file__).resolve().parents[1]
CALIBRATED = sorted((ROOT / "scenarios").glob("*_calibrated.toml"))

ARRAYS = (
    "years", "workforce", "attrition", "promote_out", "mode", "min_years_out", "women_odds",
    "women_floor", "lateral_share", "lateral_women_share", "leave_vacant", "establishment",
    "intake", "women_share", "growth_rate", "initial", "K_grade",
)  # fmt: skip


def assert_same(got: Compiled, want: Compiled) -> None:
    """Every array of ``got`` equals ``want``'s exactly: values, dtype and shape."""
    assert got.K == want.K
    assert got.recruitment_mode == want.recruitment_mode
    assert got.grade_ids == want.grade_ids
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name, strict=True)
    assert got.populations.keys() == want.populations.keys()
    for name, mask in want.populations.items():
        np.testing.assert_array_equal(got.populations[name], mask, strict=True)
    assert (got.conscription is None) == (want.conscription is None)
    assert len(got.deployments) == len(want.deployments)


def draw_scenarios(path: Path) -> list:
    """A calibrated scenario's draws as scenarios, built as compile_draws builds them."""
    scenario = loads_scenario(path.read_bytes(), "toml", path.name)
    post = scenario.posterior
    base = scenario_to_data(scenario)
    base.pop("posterior")
    steps = [posterior.parse_path(p) for p in post.parameters]
    chains = [posterior._key_chain(base, s) for s in steps]
    return [parse_scenario(posterior._with_values(base, chains, list(row))) for row in post.draws]


@pytest.mark.parametrize("path", CALIBRATED, ids=lambda p: p.stem)
def test_a_calibrated_scenarios_draws_compile_together_as_alone(path):
    group = draw_scenarios(path)
    together = compile_batch(group)
    assert together is not None
    assert len(together) == len(group)
    for got, scenario in zip(together, group, strict=True):
        assert got.scenario is scenario
        assert_same(got, compile_scenario(scenario))


@pytest.mark.parametrize("path", CALIBRATED, ids=lambda p: p.stem)
def test_compile_draws_uses_the_batch_with_the_same_arrays(path, monkeypatch):
    scenario = loads_scenario(path.read_bytes(), "toml", path.name)
    posterior.clear_cache()
    batched = posterior.compile_draws(scenario)
    posterior.clear_cache()
    monkeypatch.setattr(posterior, "compile_batch", lambda group, **_: None)  # one by one
    alone = posterior.compile_draws(scenario)
    posterior.clear_cache()
    assert len(batched) == len(alone) == len(scenario.posterior.draws)
    for got, want in zip(batched, alone, strict=True):
        assert_same(got, want)


def _vary(value: Any, rng: np.random.Generator, key: str | None = None) -> Any:
    """``value`` with its numbers moved, its structure kept: floats scaled by 0.8-1.0 (so
    probabilities stay probabilities), headcounts moved within ±20 %; initial spreads (which
    must sum to 1), years and other integers are left alone."""
    if isinstance(value, dict):
        return {k: _vary(v, rng, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "years_in_grade":
            return value
        return [_vary(v, rng, key) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value * float(rng.uniform(0.8, 1.0))
    if isinstance(value, int) and key in ("total", "women", "men"):
        return int(rng.integers(int(value * 0.8), int(value * 1.2) + 1))
    return value


@settings(max_examples=60, deadline=None)
@given(data=scenarios(), seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6))
def test_random_scenarios_compile_together_as_alone(data, seed, n):
    rng = np.random.default_rng(seed)
    group, alone = [], []
    for i in range(n):
        variant = data if i == 0 else _vary(copy.deepcopy(data), rng)
        try:
            scenario = parse_scenario(variant)
        except ScenarioError:
            continue  # a moved value the schema refuses (say a floor above a cap): not a draw
        group.append(scenario)
        try:
            alone.append(compile_scenario(scenario))
        except ScenarioError:
            alone.append(None)
    assume(len(group) >= 2)  # a batch of one is compile_scenario itself
    together = compile_batch(group)
    if any(c is None for c in alone):
        assert together is None  # the caller compiles one by one and names the invalid one
        event("a member is invalid: the batch declines")
        return
    assert together is not None
    event(f"{len(group)} compared, {len(data.get('policies', []))} policies")
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)


def _two_grades() -> dict:
    return ladder(2, end_year=2012, initial=[(100, 300), (40, 160)])


def test_a_member_that_breaks_a_constraint_makes_the_batch_decline():
    fine = parse_scenario(_two_grades())
    data = _two_grades()
    data["attrition"][0]["women"] = 0.99  # + the promotion probability > 1
    broken = parse_scenario(data)
    with pytest.raises(ScenarioError):
        compile_scenario(broken)
    assert compile_batch([fine, broken]) is None
    assert compile_batch([fine, fine]) is not None


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["promotions"][0].update(min_years_in_grade=2),
        lambda d: d["attrition"][0].update(women=[0.1, 0.05]),
        lambda d: d.update(end_year=2013),
        lambda d: d["recruitment"].update(women_share={"2001": 0.3, "2008": 0.4}),
        lambda d: d["initial"][0].update(years_in_grade="entry"),
        lambda d: d.setdefault("policies", []).append(
            {"id": "p", "parameter": "attrition", "from_year": 2011, "scale": 0.9,
             "assumption": "test"}
        ),
    ],
    ids=["min years", "profile", "horizon", "step years", "spread", "policy"],
)  # fmt: skip
def test_a_different_structure_makes_the_batch_decline(edit):
    data = _two_grades()
    edit(data)
    other = parse_scenario(data)
    fine = parse_scenario(_two_grades())
    assert structure_key(other) != structure_key(fine)
    assert compile_batch([fine, other]) is None
    moved = _two_grades()
    moved["attrition"][0]["women"] = 0.07  # a value only
    assert structure_key(parse_scenario(moved)) == structure_key(fine)


def test_an_invalid_draw_is_still_named_by_row():
    data = _two_grades()
    data["posterior"] = {
        "method": "test sample",
        "parameters": ["attrition[grade=g0].women"],
        "draws": [[0.1], [0.2], [0.99], [0.98]],
    }
    with pytest.raises(ScenarioError) as info:
        posterior.compile_draws(parse_scenario(data))
    assert [i.path for i in info.value.issues] == ["posterior.draws[2]", "posterior.draws[3]"]
    assert all("attrition + promotion" in i.message for i in info.value.issues)


def test_the_cached_draws_hold_few_objects_the_garbage_collector_scans():
    """compile_draws keeps each draw's arrays, not its parsed scenario (about 58 tracked
    objects per draw, which a long-running server's full collections scanned again at every
    lever change): one tracked object (the Compiled) per draw."""
    path = ROOT / "scenarios" / "dk_police_calibrated.toml"
    scenario = loads_scenario(path.read_bytes(), "toml", path.name)
    posterior.clear_cache()
    gc.collect()
    before = len(gc.get_objects())
    draws = posterior.compile_draws(scenario)
    gc.collect()
    grown = len(gc.get_objects()) - before
    posterior.clear_cache()
    assert len(draws) == 400
    assert grown < 2 * len(draws)
    assert all(d.scenario is scenario for d in draws)


def test_a_member_whose_funnel_is_invalid_makes_the_batch_decline():
    """The funnel's arrays are checked per member too: an invalid one declines the batch
    (the caller then names it) rather than raising from the batch."""
    path = ROOT / "scenarios" / "dk_defence_reform.toml"
    data = scenario_to_data(loads_scenario(path.read_bytes(), "toml", path.name))
    fine = parse_scenario(data)
    data.setdefault("policies", []).append(
        {
            "id": "too-many-volunteers",
            "parameter": "conscription.volunteer_share",
            "from_year": fine.start_year + 1,
            "scale": 50.0,
            "assumption": "test",
        }
    )
    broken = parse_scenario(data)
    with pytest.raises(ScenarioError):
        compile_scenario(broken)
    twin = copy.deepcopy(data)
    twin["policies"][-1]["scale"] = 1.0
    fine_twin = parse_scenario(twin)  # the same structure as broken, a valid funnel
    assert structure_key(fine_twin) == structure_key(broken)
    assert compile_batch([fine_twin, broken]) is None
    together = compile_batch([fine_twin, fine_twin])
    assert together is not None
    assert_same(together[1], compile_scenario(fine_twin))


def test_a_posterior_of_one_invalid_draw_names_the_draw():
    data = _two_grades()
    data["posterior"] = {
        "method": "test sample",
        "parameters": ["attrition[grade=g0].women"],
        "draws": [[0.99]],
    }
    with pytest.raises(ScenarioError) as info:
        posterior.compile_draws(parse_scenario(data))
    assert [i.path for i in info.value.issues] == ["posterior.draws[0]"]


def _policy(**fields) -> dict:
    return {"id": "p", "from_year": 2003, "assumption": "test", **fields}


@pytest.mark.parametrize(
    ("policy", "path", "text"),
    [
        (
            _policy(parameter="attrition", grades=["g1"], set=1.2),
            "attrition[1].women",
            "annual probability outside [0, 1]",
        ),
        (
            _policy(parameter="promotion.women_odds", scale=1000.0),
            "promotions[0].women_odds",
            "at most 1000",
        ),
        (
            _policy(parameter="promotion.women_floor", scale=3.0),  # 0.4 x 3
            "promotions[0].women_floor",
            "share outside [0, 1] for the step into 'g1'",
        ),
    ],
    ids=["top-grade attrition", "odds above the bound", "floor above 1"],
)
def test_a_policy_that_breaks_a_bound_is_named_by_its_field(policy, path, text):
    """One issue per broken bound, at the field it breaks: attrition above 1 in the top grade
    (which has no promotion out) is not also blamed on a promotion step."""
    data = _two_grades()
    data["promotions"] = [
        {"to": "g1", "mode": "vacancy", "women_odds": 2.0, "women_floor": 0.4, "assumption": "t"}
    ]
    data["grades"][1].update(establishment=200, assumption="test")
    data["policies"] = [policy]
    with pytest.raises(ScenarioError) as info:
        compile_scenario(parse_scenario(data))
    (issue,) = info.value.issues
    assert issue.path == path
    assert text in issue.message
    assert "policies in force: p" in issue.message
